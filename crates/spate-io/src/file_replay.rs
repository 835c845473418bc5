//! [`FileReplaySource`]: a text file replayed as a stream of lines.

use crate::error::IoError;
use crate::lines::{DEFAULT_MAX_LINE_BYTES, SkipReason, check_max_line_bytes};
use crate::replay::LineReplay;
use crate::text::{FilePosition, Quota};
use spate_core::BatchTime;
use spate_core::stream::{PartedBatch, Source, SourceBatch, SourceOffset};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Lines per batch when neither a count nor a rate is given.
pub const DEFAULT_LINES_PER_BATCH: u64 = 1000;

/// Replays a text file (plain or gzip, told apart by its magic bytes) as a stream of
/// `String` lines, a fixed number or a rate per batch: bounded, replayable input for tests,
/// benchmarks and the CLI.
///
/// - **Lines**: split at `\n`, a preceding `\r` stripped; the last line needs no terminator.
/// - **Bad lines**: invalid UTF-8 and lines over [`max_line_bytes`](FileReplayBuilder::max_line_bytes)
///   are skipped, counted in [`SourceBatch::skipped`] and, with a
///   [`dead_letter`](FileReplayBuilder::dead_letter) file, written there with their line
///   number and reason.
/// - **Backpressure**: a batch consumes at most `min(quota, max_records)` lines of the file
///   (skipped lines included); the rest waits for later batches. The quota is not carried
///   over: a throttled source falls behind its schedule rather than bursting later.
/// - **Replay**: the offset is the uncompressed byte offset and line number after the last
///   batch, plus the batch count (for the rate schedule); [`seek`](Source::seek) restores
///   it. For gzip files, seeking decompresses and discards everything before the offset.
/// - **End**: the source is exhausted once the whole file has been delivered, so a context
///   reading only this source stops by itself.
///
/// Memory: one line buffer of at most `max_line_bytes`, reused, plus the batch's records.
///
/// ```
/// use spate_io::{FileReplaySource, Source};
/// use spate_core::BatchTime;
///
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("in.txt");
/// std::fs::write(&path, "a b\nc\r\nd")?;
/// let mut source = FileReplaySource::options(&path).lines_per_batch(2).build()?;
/// let first = source.next_batch(BatchTime(1000), None)?;
/// assert_eq!(first.records, ["a b", "c"]);
/// assert_eq!(source.position().line, 2);
/// assert_eq!(source.next_batch(BatchTime(2000), None)?.records, ["d"]);
/// assert!(source.is_exhausted());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct FileReplaySource {
    replay: LineReplay,
}

/// Configures a [`FileReplaySource`]; see [`FileReplaySource::options`].
#[derive(Clone, Debug)]
pub struct FileReplayBuilder {
    path: PathBuf,
    rate: Rate,
    batch_interval: Option<Duration>,
    max_line_bytes: usize,
    dead_letter: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug)]
enum Rate {
    PerBatch(u64),
    PerSecond(f64),
}

impl FileReplayBuilder {
    /// Lines of the file per batch (default 1000). Replaces a rate set before.
    pub fn lines_per_batch(mut self, lines: u64) -> Self {
        self.rate = Rate::PerBatch(lines);
        self
    }

    /// Lines per second of stream time, relative to the
    /// [`batch_interval`](Self::batch_interval), which must then be set. Fractional rates
    /// are spread exactly over batches. Replaces a count set before.
    pub fn lines_per_second(mut self, rate: f64) -> Self {
        self.rate = Rate::PerSecond(rate);
        self
    }

    /// The batch interval of the context the source will run in; needed by
    /// [`lines_per_second`](Self::lines_per_second).
    pub fn batch_interval(mut self, interval: Duration) -> Self {
        self.batch_interval = Some(interval);
        self
    }

    /// The longest line kept, in bytes without the terminator (default 1 MiB); longer lines
    /// are skipped and counted.
    pub fn max_line_bytes(mut self, bytes: usize) -> Self {
        self.max_line_bytes = bytes;
        self
    }

    /// Appends every skipped line to this file: `PATH:LINE<TAB>REASON<TAB>EXCERPT`. The
    /// file's length is part of the source's offset, and seeking to an offset cuts the file
    /// back to it, so replayed batches do not write their entries twice.
    pub fn dead_letter(mut self, path: impl Into<PathBuf>) -> Self {
        self.dead_letter = Some(path.into());
        self
    }

    /// Checks the parameters and opens the file (and the dead-letter file).
    pub fn build(self) -> Result<FileReplaySource, IoError> {
        check_max_line_bytes(self.max_line_bytes)?;
        let quota = match self.rate {
            Rate::PerBatch(0) => {
                return Err(IoError::invalid("lines_per_batch", 0, "must be at least 1"));
            }
            Rate::PerBatch(n) => Quota::PerBatch(n),
            Rate::PerSecond(rate) => {
                let interval = self.batch_interval.ok_or_else(|| {
                    IoError::invalid(
                        "batch_interval",
                        "unset",
                        "lines_per_second needs the context's batch interval",
                    )
                })?;
                Quota::per_second("lines_per_second", rate, interval)?
            }
        };
        let name = format!("file-replay({})", self.path.display());
        let replay = LineReplay::open(
            &self.path,
            name,
            self.max_line_bytes,
            quota,
            self.dead_letter.as_deref(),
            FilePosition::default(),
        )?;
        Ok(FileReplaySource { replay })
    }
}

impl FileReplaySource {
    /// Starts configuring a source that replays `path`.
    pub fn options(path: impl AsRef<Path>) -> FileReplayBuilder {
        FileReplayBuilder {
            path: path.as_ref().to_path_buf(),
            rate: Rate::PerBatch(DEFAULT_LINES_PER_BATCH),
            batch_interval: None,
            max_line_bytes: DEFAULT_MAX_LINE_BYTES,
            dead_letter: None,
        }
    }

    /// Where the next batch starts.
    pub fn position(&self) -> FilePosition {
        self.replay.position()
    }

    /// The file being replayed.
    pub fn path(&self) -> &Path {
        &self.replay.path
    }
}

impl Source for FileReplaySource {
    type Item = String;

    fn name(&self) -> String {
        self.replay.name().to_string()
    }

    fn next_batch(
        &mut self,
        _time: BatchTime,
        max_records: Option<u64>,
    ) -> spate_core::Result<SourceBatch<String>> {
        if self.replay.has_dead_letter() {
            // Line by line, so the dead-letter entries come in file order.
            return Ok(self.replay.next_batch(max_records, |bytes| {
                std::str::from_utf8(bytes)
                    .map(str::to_owned)
                    .map_err(|e| SkipReason::InvalidUtf8 {
                        valid_up_to: e.valid_up_to(),
                    })
            })?);
        }
        let batch = self.replay.next_lines_parts(max_records, 1, &|_| true)?;
        Ok(SourceBatch {
            records: batch.parts.into_iter().next().flatten().unwrap_or_default(),
            skipped: batch.skipped,
            bytes: batch.bytes,
        })
    }

    /// Every worker reads the file itself unless skipped lines go to a dead-letter file
    /// (which one writer must own): each builds the lines of its own partitions only.
    fn read_by_every_worker(&self) -> bool {
        !self.replay.has_dead_letter()
    }

    fn next_batch_parts(
        &mut self,
        time: BatchTime,
        max_records: Option<u64>,
        partitions: usize,
        keep: &dyn Fn(usize) -> bool,
    ) -> spate_core::Result<PartedBatch<String>> {
        if self.replay.has_dead_letter() {
            let batch = self.next_batch(time, max_records)?;
            return Ok(PartedBatch::split(batch, partitions, keep));
        }
        Ok(self
            .replay
            .next_lines_parts(max_records, partitions, keep)?)
    }

    fn is_exhausted(&self) -> bool {
        self.replay.is_exhausted()
    }

    fn offset(&self) -> Option<SourceOffset> {
        self.replay.offset()
    }

    fn seek(&mut self, offset: &SourceOffset) -> spate_core::Result<()> {
        self.replay.seek(offset)
    }
}
