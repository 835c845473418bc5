//! Plots of streaming results for Spate, rendered with plotters to PNG and SVG.
