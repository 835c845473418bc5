//! Sinks: one Parquet or CSV file per batch or window, written atomically, and an
//! append-only Parquet dataset directory.

use crate::error::{FrameError, Result};
use crate::frame::Frame;
use crate::source::FileFormat;
use crate::stream::FrameStream;
use polars::prelude::{CsvWriter, DataFrame, ParquetWriter, SerWriter};
use spate_core::BatchTime;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Writes each batch (or window) of a frame stream as one file, `DIR/{prefix}-{time}.{ext}`,
/// with the batch time zero-padded to 20 digits so that names sort in time order.
///
/// A file is written to a hidden temporary file in the same directory (a `tempfile`), flushed
/// to disk, renamed over its final name, and the directory synced: readers see a complete
/// file or none, never a torn one. A batch recomputed after a restart (from a checkpoint, after
/// `kill -9`) *replaces* its file, so with a replayable source each batch's file is written
/// exactly once. Temporary files left by a killed run are removed when the sink is created.
///
/// CSV files have a header row; Parquet files carry their schema (zstd-compressed pages).
/// By default an empty batch still gets a file (a header, or a Parquet file with no rows);
/// a [`dataset`](FrameFileSink::dataset) skips them.
///
/// ```
/// use polars::prelude::*;
/// use spate_core::BatchTime;
/// use spate_frame::FrameFileSink;
///
/// let dir = tempfile::tempdir()?;
/// let sink = FrameFileSink::dataset(dir.path())?;
/// let path = sink.write_batch(BatchTime(2000), &df!("a" => [1, 2])?)?.unwrap();
/// assert_eq!(path, dir.path().join("part-00000000000000002000.parquet"));
/// let back = ParquetReader::new(std::fs::File::open(&path)?).finish()?;
/// assert_eq!(back.height(), 2);
/// assert!(sink.write_batch(BatchTime(3000), &df!("a" => Vec::<i32>::new())?)?.is_none());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct FrameFileSink {
    dir: PathBuf,
    prefix: String,
    format: FileFormat,
    skip_empty: bool,
}

impl FrameFileSink {
    /// A sink writing `format` files (CSV or Parquet) named `{prefix}-{time}` into `dir`
    /// (created if missing).
    ///
    /// # Errors
    /// [`FrameError::InvalidParameter`] for a prefix that is empty or not a plain file-name
    /// part, or for NDJSON; [`FrameError::Io`] when `dir` cannot be created.
    pub fn new(
        dir: impl AsRef<Path>,
        prefix: impl Into<String>,
        format: FileFormat,
    ) -> Result<FrameFileSink> {
        let prefix = prefix.into();
        if prefix.is_empty() || prefix.contains(['/', '\\']) || prefix.starts_with('.') {
            return Err(FrameError::invalid(
                "prefix",
                &prefix,
                "must be a plain, non-empty file-name part: no path separators, no leading dot",
            ));
        }
        if format == FileFormat::Ndjson {
            return Err(FrameError::invalid(
                "format",
                "ndjson",
                "sinks write csv or parquet",
            ));
        }
        let dir = dir.as_ref().to_path_buf();
        std::fs::create_dir_all(&dir).map_err(|e| FrameError::io(&dir, e))?;
        remove_stale_temporaries(&dir, &prefix)?;
        Ok(FrameFileSink {
            dir,
            prefix,
            format,
            skip_empty: false,
        })
    }

    /// An append-only Parquet dataset: `DIR/part-{time}.parquet` per non-empty batch, which
    /// `pl.scan_parquet("DIR/*.parquet")` or DuckDB's `read_parquet('DIR/*.parquet')` read as
    /// one table (temporary files never match `*.parquet`).
    ///
    /// # Errors
    /// As [`new`](Self::new).
    pub fn dataset(dir: impl AsRef<Path>) -> Result<FrameFileSink> {
        let mut sink = FrameFileSink::new(dir, "part", FileFormat::Parquet)?;
        sink.skip_empty = true;
        Ok(sink)
    }

    /// Skip empty batches instead of writing a file with no rows.
    pub fn skip_empty(mut self, skip: bool) -> Self {
        self.skip_empty = skip;
        self
    }

    /// The directory written to.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file batch `time` goes to.
    pub fn path_for(&self, time: BatchTime) -> PathBuf {
        self.dir.join(format!(
            "{}-{:020}.{}",
            self.prefix,
            time.0,
            self.format.extension()
        ))
    }

    /// Writes one batch, replacing an earlier file of the same batch; returns its path, or
    /// `None` for an empty batch of a sink that skips them.
    ///
    /// # Errors
    /// [`FrameError::Io`] when the file cannot be written (a full disk: the temporary is
    /// removed and the final name keeps its previous content), [`FrameError::Polars`] when a
    /// column cannot be written in the format.
    pub fn write_batch(&self, time: BatchTime, frame: &DataFrame) -> Result<Option<PathBuf>> {
        if self.skip_empty && frame.height() == 0 {
            return Ok(None);
        }
        let path = self.path_for(time);
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut tmp = spate_core::codec::output_tempfile(&self.dir, &format!(".{name}.tmp-"), "")
            .map_err(|e| FrameError::io(&self.dir, e))?;
        let mut df = frame.clone();
        let tmp_path = tmp.path().to_path_buf();
        {
            let mut out = std::io::BufWriter::new(tmp.as_file_mut());
            match self.format {
                FileFormat::Parquet => {
                    ParquetWriter::new(&mut out).finish(&mut df)?;
                }
                _ => {
                    CsvWriter::new(&mut out)
                        .include_header(true)
                        .finish(&mut df)?;
                }
            }
            out.flush().map_err(|e| FrameError::io(&tmp_path, e))?;
        }
        tmp.as_file()
            .sync_all()
            .map_err(|e| FrameError::io(&tmp_path, e))?;
        tmp.persist(&path)
            .map_err(|e| FrameError::io(&path, e.error))?;
        std::fs::File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| FrameError::io(&self.dir, e))?;
        Ok(Some(path))
    }
}

/// Removes temporary files a killed run of a sink with this prefix left in `dir`.
fn remove_stale_temporaries(dir: &Path, prefix: &str) -> Result<()> {
    let start = format!(".{prefix}-");
    let entries = std::fs::read_dir(dir).map_err(|e| FrameError::io(dir, e))?;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with(&start) && name.contains(".tmp-") {
            tracing::info!(file = %entry.path().display(), "removing a temporary file left by an interrupted run");
            std::fs::remove_file(entry.path()).map_err(|e| FrameError::io(entry.path(), e))?;
        }
    }
    Ok(())
}

impl FrameStream {
    /// Writes every batch to `sink` (an output operation): the batch's frames are collected
    /// at the driver, stacked and written as one file named after the batch time.
    ///
    /// # Errors
    /// The core's lifecycle errors (registering an output after the context started).
    pub fn write_files(&self, sink: FrameFileSink) -> Result<()> {
        let schema = Arc::clone(self.schema());
        self.stream().foreach_rdd(move |rdd, time| {
            let frames = rdd.collect()?;
            let batch = Frame::concat(&frames, &schema)?;
            sink.write_batch(time, batch.df())?;
            Ok(())
        })?;
        Ok(())
    }
}
