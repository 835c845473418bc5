use std::path::PathBuf;

/// Everything that can go wrong while configuring, projecting or rendering a plot.
///
/// Configuration and data errors are reported before anything is drawn or written, so a
/// failed call leaves no partial file behind.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PlotError {
    /// The output path does not end in `.png` or `.svg`.
    #[error("cannot tell the image format of {path:?}: use a file name ending in .png or .svg")]
    UnsupportedExtension {
        /// The path that was given.
        path: PathBuf,
    },

    /// The chart has nothing to draw: no series, groups or panels, or only empty ones.
    #[error("{chart} has no data to draw: add at least one series or group with points")]
    EmptyData {
        /// Which kind of chart (or panel) was empty.
        chart: &'static str,
    },

    /// Every point was unplottable: non-finite, or not positive on a logarithmic axis.
    #[error(
        "none of the points can be drawn: {non_finite} are NaN or infinite and {non_positive} \
         are ≤ 0 on a logarithmic axis"
    )]
    NoFiniteData {
        /// Points with a NaN or infinite coordinate.
        non_finite: usize,
        /// Points with a coordinate ≤ 0 on a logarithmic axis.
        non_positive: usize,
    },

    /// The requested image size is outside the supported range.
    #[error(
        "image size {width}x{height} is out of range: each side must be between {min} and {max} \
         pixels"
    )]
    InvalidSize {
        /// Requested width in pixels.
        width: u32,
        /// Requested height in pixels.
        height: u32,
        /// Smallest side accepted.
        min: u32,
        /// Largest side accepted.
        max: u32,
    },

    /// An explicit axis range is empty, reversed, non-finite, or not positive on a log axis.
    #[error(
        "{axis} axis range {lo}..{hi} is invalid: bounds must be finite with lo < hi \
         (and lo > 0 on a logarithmic axis)"
    )]
    InvalidRange {
        /// `"x"` or `"y"`.
        axis: &'static str,
        /// Lower bound given.
        lo: f64,
        /// Upper bound given.
        hi: f64,
    },

    /// Two inputs that must correspond one to one have different lengths.
    #[error("{what}: expected {expected}, got {got}")]
    LengthMismatch {
        /// Which input was wrong.
        what: &'static str,
        /// The length that was needed.
        expected: usize,
        /// The length that was given.
        got: usize,
    },

    /// A 2-D projection was asked of data with fewer than two columns.
    #[error("a 2-D projection needs at least 2 columns, the data has {columns}")]
    TooFewColumns {
        /// Columns in the data.
        columns: usize,
    },

    /// PCA needs at least two rows whose values are all finite.
    #[error("PCA needs at least 2 rows with only finite values, found {rows}")]
    TooFewRows {
        /// Usable rows found.
        rows: usize,
    },

    /// A column index is past the end of the data.
    #[error("column {column} does not exist: the data has {columns} columns")]
    ColumnOutOfRange {
        /// The index asked for.
        column: usize,
        /// Columns in the data.
        columns: usize,
    },

    /// Writing the image file failed.
    #[error("cannot write {path:?}: {source}")]
    Io {
        /// The file being written.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// The drawing library or PNG encoder failed on valid input: this is a bug in spate-plot.
    #[error("rendering failed (this is a bug in spate-plot, please report it): {message}")]
    Render {
        /// The underlying error's message.
        message: String,
    },
}

impl PlotError {
    pub(crate) fn render(err: impl std::fmt::Display) -> Self {
        PlotError::Render {
            message: err.to_string(),
        }
    }
}
