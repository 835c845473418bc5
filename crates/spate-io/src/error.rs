//! [`IoError`]: everything that can go wrong building or running a source or sink.
//!
//! Bad *input* (a malformed line, invalid UTF-8, a NaN in a numeric column) is never an
//! error: it is skipped and counted in [`SourceBatch::skipped`](spate_core::stream::SourceBatch)
//! and, where configured, written to a dead-letter file. Errors are reserved for what the
//! user must fix: a wrong parameter, an unknown column, a file that cannot be opened, an
//! offset that does not fit the file it is applied to.

use std::path::PathBuf;

/// Result with [`IoError`].
pub type Result<T, E = IoError> = std::result::Result<T, E>;

/// An error of a `spate-io` source or sink.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IoError {
    /// A builder parameter is out of range; caught by `build()` before any data flows.
    #[error("invalid parameter `{name}` = {value}: {reason}")]
    InvalidParameter {
        /// The builder method, as the user spelt it.
        name: &'static str,
        /// The value given, formatted.
        value: String,
        /// What would be valid.
        reason: &'static str,
    },

    /// A CSV column that was asked for is not in the file's header.
    #[error("unknown column `{name}` in {path}; the header has: {}", available.join(", "))]
    UnknownColumn {
        /// The column asked for.
        name: String,
        /// The file.
        path: PathBuf,
        /// The columns the header does have.
        available: Vec<String>,
    },

    /// A CSV file has no usable header line, or none of its columns is numeric.
    #[error("{path}: {reason}")]
    BadHeader {
        /// The file.
        path: PathBuf,
        /// What is wrong with it, and what to do.
        reason: String,
    },

    /// An I/O error, with the file, directory or address involved.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The file, directory or `host:port`.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// A recorded offset does not fit the input it is applied to (the file was replaced or
    /// truncated since the checkpoint, or the offset belongs to another kind of source).
    #[error("cannot seek {path} to the recorded offset: {reason}")]
    BadOffset {
        /// The file or directory.
        path: PathBuf,
        /// Why the offset does not fit.
        reason: String,
    },
}

impl IoError {
    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> IoError {
        IoError::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn invalid(
        name: &'static str,
        value: impl std::fmt::Debug,
        reason: &'static str,
    ) -> IoError {
        IoError::InvalidParameter {
            name,
            value: format!("{value:?}"),
            reason,
        }
    }

    pub(crate) fn bad_offset(path: impl Into<PathBuf>, reason: impl Into<String>) -> IoError {
        IoError::BadOffset {
            path: path.into(),
            reason: reason.into(),
        }
    }
}

impl From<IoError> for spate_core::Error {
    /// I/O errors keep their path and cause; parameter errors stay parameter errors; the
    /// rest become a source error carrying the full message.
    fn from(e: IoError) -> spate_core::Error {
        match e {
            IoError::Io { path, source } => spate_core::Error::Io { path, source },
            IoError::InvalidParameter {
                name,
                value,
                reason,
            } => spate_core::Error::InvalidParameter {
                name,
                value,
                reason,
            },
            other => spate_core::Error::Source {
                source_name: "input".into(),
                message: other.to_string(),
            },
        }
    }
}
