//! Integration tests: render every chart type to real PNG and SVG files and check what is
//! in them (size, colours, element counts, text), plus the error cases.

// A failed unwrap is a failed test, with the location in the panic message.
#![allow(clippy::unwrap_used)]

mod common;
mod errors;
mod line;
mod panels;
mod project;
mod scatter;
