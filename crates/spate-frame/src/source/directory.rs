//! [`FrameDirectorySource`]: frames of the files that appear in a directory.

use super::{FileFormat, Position, ReadOptions, SourceStats, infer_schema, open_reader};
use crate::error::{FrameError, Result};
use crate::frame::Frame;
use polars::prelude::{DataType, Schema, SchemaRef};
use serde::{Deserialize, Serialize};
use spate_core::BatchTime;
use spate_core::stream::{Source, SourceBatch, SourceOffset};
use std::collections::{BTreeSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

#[derive(Serialize, Deserialize)]
struct DirectoryOffset {
    /// Names of the files read, sorted.
    processed: Vec<String>,
}

/// Streams the files that appear in a directory, one frame per file (Structured Streaming's
/// file source): every batch lists the directory and reads up to
/// [`files_per_batch`](FrameDirectoryBuilder::files_per_batch) new files whole.
///
/// - **Which files**: regular files of the source's format (by extension) whose names do
///   not start with `.` or `_`, so a writer can write `.name.tmp` and rename it when
///   complete. Files present when the source is built are skipped unless
///   [`include_existing`](FrameDirectoryBuilder::include_existing). New files are read in
///   (modification time, name) order.
/// - **Schema**: given, or that of the first file present when the source is built. A file
///   whose columns differ (other names, a type that does not cast) is skipped whole, logged,
///   and counted in the batch's `skipped` and in [`SourceStats::files_failed`]; bad rows
///   inside a good file are skipped and counted as in
///   [`FrameFileSource`](crate::FrameFileSource).
/// - **Replay**: the offset is the sorted list of files read; [`seek`](Source::seek)
///   lists the directory again, so files that were pending are found again.
/// - **End**: never exhausted, unless [`finish_when_drained`](FrameDirectoryBuilder::finish_when_drained).
pub struct FrameDirectorySource {
    dir: PathBuf,
    format: FileFormat,
    schema: SchemaRef,
    options: ReadOptions,
    files_per_batch: usize,
    finish_when_drained: bool,
    processed: BTreeSet<String>,
    pending: VecDeque<String>,
    listed: bool,
    stats: SourceStats,
}

/// Configures a [`FrameDirectorySource`]; see [`FrameDirectorySource::options`].
#[derive(Clone, Debug)]
pub struct FrameDirectoryBuilder {
    dir: PathBuf,
    format: FileFormat,
    files_per_batch: usize,
    include_existing: bool,
    finish_when_drained: bool,
    options: ReadOptions,
}

impl FrameDirectoryBuilder {
    /// Files read per batch at most (default 1).
    pub fn files_per_batch(mut self, files: usize) -> Self {
        self.files_per_batch = files;
        self
    }

    /// Also read the files already there when the source is built (default false).
    pub fn include_existing(mut self, include: bool) -> Self {
        self.include_existing = include;
        self
    }

    /// Report the source exhausted once a batch leaves no listed file unread (default
    /// false: watch forever).
    pub fn finish_when_drained(mut self, finish: bool) -> Self {
        self.finish_when_drained = finish;
        self
    }

    /// Reads every file with this schema.
    pub fn schema(mut self, schema: Schema) -> Self {
        self.options.schema = Some(Arc::new(schema));
        self
    }

    /// Reads column `name` as `dtype` instead of the inferred type.
    pub fn dtype(mut self, name: impl Into<String>, dtype: DataType) -> Self {
        self.options.dtypes.push((name.into(), dtype));
        self
    }

    /// Rows read to infer a CSV or NDJSON schema (default 10 000).
    pub fn infer_schema_rows(mut self, rows: usize) -> Self {
        self.options.infer_schema_rows = rows;
        self
    }

    /// Checks the parameters, lists the directory and settles the schema.
    ///
    /// # Errors
    /// [`FrameError::InvalidParameter`] for zero files per batch, [`FrameError::Io`] when
    /// the directory cannot be listed, [`FrameError::BadInput`] when no schema is given and
    /// no file is there to infer one from.
    pub fn build(self) -> Result<FrameDirectorySource> {
        if self.files_per_batch == 0 {
            return Err(FrameError::invalid(
                "files_per_batch",
                0,
                "a batch needs at least one file",
            ));
        }
        let existing = list(&self.dir, self.format)?;
        let schema = match &self.options.schema {
            Some(s) => Arc::clone(s),
            None => {
                let first = existing.first().ok_or_else(|| FrameError::BadInput {
                    path: self.dir.clone(),
                    reason: format!(
                        "no {} file to infer a schema from; give the schema",
                        self.format.extension()
                    ),
                })?;
                Arc::new(infer_schema(
                    &self.dir.join(first),
                    self.format,
                    &self.options,
                )?)
            }
        };
        let processed = if self.include_existing {
            BTreeSet::new()
        } else {
            existing.into_iter().collect()
        };
        Ok(FrameDirectorySource {
            dir: self.dir,
            format: self.format,
            schema,
            options: self.options,
            files_per_batch: self.files_per_batch,
            finish_when_drained: self.finish_when_drained,
            processed,
            pending: VecDeque::new(),
            listed: false,
            stats: SourceStats::default(),
        })
    }
}

impl FrameDirectorySource {
    /// Options for watching `dir` for files of `format`.
    pub fn options(dir: impl AsRef<Path>, format: FileFormat) -> FrameDirectoryBuilder {
        FrameDirectoryBuilder {
            dir: dir.as_ref().to_path_buf(),
            format,
            files_per_batch: 1,
            include_existing: false,
            finish_when_drained: false,
            options: ReadOptions::default(),
        }
    }

    /// The schema of every frame.
    pub fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    /// Counters that stay readable after the source moves into a stream.
    pub fn stats(&self) -> SourceStats {
        self.stats.clone()
    }

    fn read_file(&self, name: &str) -> Result<(polars::prelude::DataFrame, u64, u64)> {
        let path = self.dir.join(name);
        let mut reader = open_reader(
            &path,
            self.format,
            &self.schema,
            &self.options,
            Position::default(),
        )?;
        let chunk = reader.next_rows(usize::MAX)?;
        Ok((chunk.frame, chunk.skipped, chunk.bytes))
    }
}

/// The directory's files of `format`, in (modification time, name) order.
fn list(dir: &Path, format: FileFormat) -> Result<Vec<String>> {
    let entries = std::fs::read_dir(dir).map_err(|e| FrameError::io(dir, e))?;
    let mut files: Vec<(SystemTime, String)> = Vec::new();
    for entry in entries.flatten() {
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        if name.starts_with('.') || name.starts_with('_') {
            continue;
        }
        if FileFormat::from_path(Path::new(&name)) != Some(format) {
            continue;
        }
        let Ok(meta) = entry.metadata() else { continue };
        if !meta.is_file() {
            continue;
        }
        files.push((meta.modified().unwrap_or(SystemTime::UNIX_EPOCH), name));
    }
    files.sort();
    Ok(files.into_iter().map(|(_, n)| n).collect())
}

impl Source for FrameDirectorySource {
    type Item = Frame;

    fn name(&self) -> String {
        format!(
            "{} directory {}",
            self.format.extension(),
            self.dir.display()
        )
    }

    fn next_batch(
        &mut self,
        _time: BatchTime,
        max_records: Option<u64>,
    ) -> spate_core::Result<SourceBatch<Frame>> {
        let present = list(&self.dir, self.format)?;
        let present_set: BTreeSet<&String> = present.iter().collect();
        // A name removed and created again is a new file.
        self.processed.retain(|n| present_set.contains(n));
        for name in &present {
            if !self.processed.contains(name) && !self.pending.contains(name) {
                self.pending.push_back(name.clone());
            }
        }
        self.listed = true;
        let limit = max_records.map_or(self.files_per_batch, |m| {
            (m as usize).clamp(1, self.files_per_batch)
        });
        let mut batch = SourceBatch::default();
        while batch.records.len() < limit {
            let Some(name) = self.pending.pop_front() else {
                break;
            };
            match self.read_file(&name) {
                Ok((frame, skipped, bytes)) => {
                    self.stats.add(frame.height() as u64, skipped, bytes);
                    self.stats
                        .inner
                        .files
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    batch.skipped += skipped;
                    batch.bytes += bytes;
                    if frame.height() > 0 {
                        batch.records.push(Frame::new(frame));
                    }
                }
                Err(e) => {
                    tracing::warn!(file = %self.dir.join(&name).display(), error = %e, "skipping a file that cannot be read with the stream's schema");
                    self.stats
                        .inner
                        .files_failed
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    batch.skipped += 1;
                }
            }
            self.processed.insert(name);
        }
        Ok(batch)
    }

    fn is_exhausted(&self) -> bool {
        self.finish_when_drained && self.listed && self.pending.is_empty()
    }

    fn offset(&self) -> Option<SourceOffset> {
        SourceOffset::encode(&DirectoryOffset {
            processed: self.processed.iter().cloned().collect(),
        })
        .ok()
    }

    fn seek(&mut self, offset: &SourceOffset) -> spate_core::Result<()> {
        let DirectoryOffset { processed } = offset.decode()?;
        self.processed = processed.into_iter().collect();
        self.pending.clear();
        self.listed = false;
        Ok(())
    }
}
