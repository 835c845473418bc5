//! Plots of streaming results for Spate, rendered with plotters to PNG and SVG.
//!
//! The library crates report per-batch results as plain numbers; this crate turns them into
//! images. It depends on no other Spate crate, so anything that has `(x, y)` values can use
//! it. Three builders cover the charts Spate needs:
//!
//! - [`LineChart`]: named [`Series`] over x, each with optional [`Band`]s, on linear or log
//!   axes: streaming statistics with mean ± sd or quantile bands, error metrics per batch,
//!   rank trajectories of many nodes ([`LegendPosition::Right`]), update time vs batch size
//!   on log-log axes, component counts over time.
//! - [`ScatterChart`]: [`PointGroup`]s coloured by cluster plus [`Trajectory`]s, such as
//!   centroids moving over batches, usually after a [`Pca2`] projection or [`column_pair`].
//! - [`Panels`]: line charts stacked in one image with aligned plot areas, for batch metrics
//!   (processing time, scheduling delay, input rate) that need separate y scales.
//!
//! Every chart renders with `.save(path)` (PNG or SVG chosen by the extension) or
//! `.render(Format)` (bytes in memory), and returns a [`RenderSummary`] of what was drawn.
//!
//! # Data handling
//!
//! Nothing here panics on user data. Points with a NaN or infinite coordinate, or ≤ 0 on
//! a log axis, are skipped and counted in the summary; lines break at them. Ranges that
//! collapse to a single value are widened so the data sit mid-plot. A chart with no
//! drawable point at all is an error ([`PlotError::EmptyData`] or
//! [`PlotError::NoFiniteData`]), as are a bad file extension, image size or axis range —
//! all reported before any file is written.
//!
//! # Text without system libraries
//!
//! Text is rasterized in pure Rust (plotters' `ab_glyph` path) from DejaVu Sans, which is
//! embedded in the crate (license in `fonts/LICENSE-DejaVu.txt`), so rendering needs no
//! fontconfig or freetype, at build or run time. The font is registered with plotters under
//! the family name `sans-serif` on first render. SVG files name that family rather than
//! embedding glyphs, so viewers draw SVG text with their own sans-serif font.
//!
//! # Example
//!
//! ```
//! use spate_plot::{Band, LineChart, Series};
//!
//! // Mean and quantiles of a statistic after each of 50 batches.
//! let batches: Vec<f64> = (0..50).map(f64::from).collect();
//! let mean: Vec<f64> = batches.iter().map(|b| (b / 8.0).sin()).collect();
//! let q = |offset: f64| batches.iter().zip(&mean).map(move |(&b, &m)| (b, m - offset, m + offset));
//!
//! let chart = LineChart::new("Streaming mean with quantile bands")
//!     .x_label("batch")
//!     .y_label("value")
//!     .series(
//!         Series::new("mean", batches.iter().copied().zip(mean.iter().copied()))
//!             .band(Band::new("p05–p95", q(1.6)))
//!             .band(Band::new("p25–p75", q(0.7))),
//!     );
//!
//! let dir = tempfile::tempdir()?;
//! let summary = chart.save(dir.path().join("mean.png"))?;
//! assert_eq!(summary.points_drawn, 150);
//! assert_eq!(summary.skipped(), 0);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Next: [`ScatterChart`] for clusters, [`Panels`] for batch metrics, [`PlotError`] for
//! what can fail.

mod axis;
mod clip;
mod color;
mod error;
mod frame;
mod line;
mod output;
mod panels;
mod project;
mod scatter;
mod text;

pub use color::Rgb;
pub use error::PlotError;
pub use frame::LegendPosition;
pub use line::{Band, Dash, LineChart, Series};
pub use output::{Format, MAX_SIDE, MIN_SIDE, RenderSummary, Rendered};
pub use panels::Panels;
pub use project::{Pca2, column_pair};
pub use scatter::{MAX_RADIUS, PointGroup, ScatterChart, Trajectory};
