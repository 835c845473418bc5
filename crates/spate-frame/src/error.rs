//! [`FrameError`]: everything that can go wrong planning or running a frame stream.
//!
//! Errors are split by phase, as in DataFusion: a query that does not parse, names an
//! unknown table or column, or is not a `SELECT` is a *plan* error returned when the stream
//! is built, before any data flows; a failure while a batch runs (an I/O error, a value polars
//! cannot cast) is an *execution* error that fails the batch. Bad *input* rows are neither:
//! sources skip and count them.

use std::path::PathBuf;

/// Result with [`FrameError`].
pub type Result<T, E = FrameError> = std::result::Result<T, E>;

/// An error of `spate-frame`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// A builder or operator parameter is out of range; caught before any data flows.
    #[error("invalid parameter `{name}` = {value}: {reason}")]
    InvalidParameter {
        /// The parameter, as the user spelt it.
        name: &'static str,
        /// The value given, formatted.
        value: String,
        /// What would be valid.
        reason: String,
    },

    /// The SQL text does not parse, or is not a single `SELECT` query.
    #[error("SQL error in `{query}`: {reason}")]
    Sql {
        /// The query as given.
        query: String,
        /// What is wrong, from the parser or from polars' planner.
        reason: String,
    },

    /// A query, time column or feature names a column the stream's schema does not have.
    #[error("unknown column `{name}`; the schema has: {}", available.join(", "))]
    UnknownColumn {
        /// The column asked for.
        name: String,
        /// The columns there are.
        available: Vec<String>,
    },

    /// A column has a type the operation cannot use (a text column as a feature, a string
    /// column as event time).
    #[error("column `{name}` has type {dtype}, but {expected} is needed")]
    ColumnType {
        /// The column.
        name: String,
        /// Its polars type.
        dtype: String,
        /// What would work.
        expected: &'static str,
    },

    /// A table name is taken or reserved (`batch` is the current batch or window).
    #[error("table name `{name}`: {reason}")]
    TableName {
        /// The name.
        name: String,
        /// Why it cannot be used.
        reason: &'static str,
    },

    /// A frame does not have the stream's schema.
    #[error("a frame does not match the stream's schema: {reason}")]
    SchemaMismatch {
        /// Which column differs, and how.
        reason: String,
    },

    /// A file is not usable as input: no header, duplicate column names, an unreadable
    /// Parquet footer.
    #[error("{path}: {reason}")]
    BadInput {
        /// The file.
        path: PathBuf,
        /// What is wrong with it, and what to do.
        reason: String,
    },

    /// A recorded source offset does not fit the input it is applied to.
    #[error("{path}: cannot resume at the checkpointed position: {reason}")]
    BadOffset {
        /// The file or directory.
        path: PathBuf,
        /// Why the offset does not fit.
        reason: String,
    },

    /// Records could not be turned into a frame, or a frame's rows into records.
    #[error("record conversion: {0}")]
    Records(String),

    /// An I/O error, with the file or directory involved.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// An error from polars while running a query or reading or writing a file.
    #[error("polars: {0}")]
    Polars(#[from] polars::error::PolarsError),

    /// An error from the streaming engine.
    #[error(transparent)]
    Core(#[from] spate_core::Error),
}

impl FrameError {
    pub(crate) fn invalid(
        name: &'static str,
        value: impl std::fmt::Display,
        reason: impl Into<String>,
    ) -> FrameError {
        FrameError::InvalidParameter {
            name,
            value: value.to_string(),
            reason: reason.into(),
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> FrameError {
        FrameError::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn sql(query: &str, reason: impl std::fmt::Display) -> FrameError {
        FrameError::Sql {
            query: query.to_string(),
            reason: reason.to_string(),
        }
    }
}

impl From<FrameError> for spate_core::Error {
    /// A frame error inside a running stream fails the batch with the error's message.
    fn from(e: FrameError) -> spate_core::Error {
        match e {
            FrameError::Core(e) => e,
            other => spate_core::Error::Operator {
                operator: "spate-frame".into(),
                message: other.to_string(),
            },
        }
    }
}
