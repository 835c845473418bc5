//! [`DirectorySource`]: the lines of files that appear in a directory (Spark's `textFileStream`).

use crate::error::IoError;
use crate::lines::{DEFAULT_MAX_LINE_BYTES, DeadLetter, Line, check_max_line_bytes};
use crate::text::{FilePosition, TextFile};
use serde::{Deserialize, Serialize};
use spate_core::BatchTime;
use spate_core::stream::{Source, SourceBatch, SourceOffset};
use std::collections::{BTreeSet, HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

#[derive(Serialize, Deserialize)]
struct DirectoryOffset {
    /// Names of the files read to the end, sorted.
    processed: Vec<String>,
    /// The file being read, and where its next line starts.
    current: Option<(String, FilePosition)>,
    /// The dead-letter file's length after the batch, if there is one: recovery cuts it back
    /// to this, so entries of batches after the checkpoint are not written twice.
    dead_letter_bytes: Option<u64>,
}

/// Counters of a [`DirectorySource`], readable from any thread while the source runs.
#[derive(Clone, Debug, Default)]
pub struct DirectoryStats {
    inner: Arc<DirectoryCounters>,
}

#[derive(Debug, Default)]
struct DirectoryCounters {
    files_read: AtomicU64,
    files_failed: AtomicU64,
    lines: AtomicU64,
    skipped_lines: AtomicU64,
}

impl DirectoryStats {
    /// Files read to the end.
    pub fn files_read(&self) -> u64 {
        self.inner.files_read.load(Ordering::Relaxed)
    }

    /// Files that vanished or could not be read (each also counted as one skipped unit).
    pub fn files_failed(&self) -> u64 {
        self.inner.files_failed.load(Ordering::Relaxed)
    }

    /// Lines delivered as records.
    pub fn lines(&self) -> u64 {
        self.inner.lines.load(Ordering::Relaxed)
    }

    /// Lines skipped (invalid UTF-8, over-long).
    pub fn skipped_lines(&self) -> u64 {
        self.inner.skipped_lines.load(Ordering::Relaxed)
    }
}

/// Streams the lines of files that appear in a directory: every batch lists the directory
/// and reads the files that are new since the last batch (Spark's `textFileStream`).
///
/// - **Which files**: regular files (plain or gzip) whose names do not start with `.` or
///   `_`, so a writer can write `.name.tmp` and rename it to `name` when complete: a file
///   must be complete when it appears, later changes to it are not read. Files present when
///   the source is built are skipped unless [`include_existing`](DirectoryBuilder::include_existing).
///   New files are read in (modification time, name) order.
/// - **Bad input**: bad lines are skipped and counted as in
///   [`FileReplaySource`](crate::FileReplaySource). A file that vanishes before it is read,
///   or cannot be opened or read, is logged, counted as one skipped unit and in
///   [`DirectoryStats::files_failed`], and not retried; the batch goes on.
/// - **Backpressure**: a batch consumes at most `max_records` lines; the rest of the file,
///   and the files after it, wait for later batches.
/// - **Replay**: the offset is the sorted list of files read to the end plus the position
///   in the file being read. [`seek`](Source::seek) lists the directory again, so files
///   that were pending are found again. A replayed batch can hold more files than the
///   original one did (everything that had appeared by then), never fewer or duplicated
///   lines.
/// - **Bounded memory**: the processed list only keeps names still present in the
///   directory (a name removed and created again is a new file), so memory and offset size
///   are O(files in the directory), which each listing costs anyway. A landing directory
///   that is never cleaned grows without bound for every reader, this one included: move
///   or delete consumed files.
/// - **End**: never exhausted, since more files may appear, unless
///   [`finish_when_drained`](DirectoryBuilder::finish_when_drained) is set.
///
/// ```
/// use spate_io::{DirectorySource, Source};
/// use spate_core::BatchTime;
///
/// let dir = tempfile::tempdir()?;
/// std::fs::write(dir.path().join("old.txt"), "before\n")?;
/// let mut source = DirectorySource::options(dir.path()).build()?;
/// // Write under a hidden name, then rename: the source never sees a partial file.
/// std::fs::write(dir.path().join(".new.txt.tmp"), "a\nb\n")?;
/// std::fs::rename(dir.path().join(".new.txt.tmp"), dir.path().join("new.txt"))?;
/// assert_eq!(source.next_batch(BatchTime(1000), None)?.records, ["a", "b"]);
/// assert!(source.next_batch(BatchTime(2000), None)?.records.is_empty());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct DirectorySource {
    dir: PathBuf,
    name: String,
    max_line_bytes: usize,
    dead_letter: Option<DeadLetter>,
    processed: BTreeSet<String>,
    current: Option<(String, TextFile)>,
    pending: VecDeque<String>,
    /// Files failed since the last batch, reported in its `skipped`.
    failed_unreported: u64,
    finish_when_drained: bool,
    stats: DirectoryStats,
}

/// Configures a [`DirectorySource`]; see [`DirectorySource::options`].
#[derive(Clone, Debug)]
pub struct DirectoryBuilder {
    dir: PathBuf,
    include_existing: bool,
    finish_when_drained: bool,
    max_line_bytes: usize,
    dead_letter: Option<PathBuf>,
}

impl DirectoryBuilder {
    /// Also read the files already in the directory when the source is built (default
    /// false, as Spark's `newFilesOnly`).
    pub fn include_existing(mut self, include: bool) -> Self {
        self.include_existing = include;
        self
    }

    /// Report the source exhausted after a batch that leaves nothing to read from the files
    /// found by its listing (default false: watch forever). Processes what a directory
    /// holds, then lets the context stop, like Structured Streaming's available-now
    /// trigger.
    pub fn finish_when_drained(mut self, finish: bool) -> Self {
        self.finish_when_drained = finish;
        self
    }

    /// The longest line kept, in bytes (default 1 MiB); longer lines are skipped and counted.
    pub fn max_line_bytes(mut self, bytes: usize) -> Self {
        self.max_line_bytes = bytes;
        self
    }

    /// Appends every skipped line to this file (keep it outside the watched directory). The
    /// file's length is part of the source's offset, and seeking to an offset cuts the file
    /// back to it, so replayed batches do not write their entries twice.
    pub fn dead_letter(mut self, path: impl Into<PathBuf>) -> Self {
        self.dead_letter = Some(path.into());
        self
    }

    /// Checks the parameters and lists the directory once.
    pub fn build(self) -> Result<DirectorySource, IoError> {
        check_max_line_bytes(self.max_line_bytes)?;
        let dead_letter = self
            .dead_letter
            .as_deref()
            .map(DeadLetter::open)
            .transpose()?;
        let mut source = DirectorySource {
            name: format!("directory({})", self.dir.display()),
            dir: self.dir,
            max_line_bytes: self.max_line_bytes,
            dead_letter,
            processed: BTreeSet::new(),
            current: None,
            pending: VecDeque::new(),
            failed_unreported: 0,
            finish_when_drained: self.finish_when_drained,
            stats: DirectoryStats::default(),
        };
        let existing = source.list()?;
        if self.include_existing {
            source.pending = existing.into_iter().map(|(_, name)| name).collect();
        } else {
            source.processed = existing.into_iter().map(|(_, name)| name).collect();
        }
        Ok(source)
    }
}

impl DirectorySource {
    /// Starts configuring a source that watches `dir`.
    pub fn options(dir: impl AsRef<Path>) -> DirectoryBuilder {
        DirectoryBuilder {
            dir: dir.as_ref().to_path_buf(),
            include_existing: false,
            finish_when_drained: false,
            max_line_bytes: DEFAULT_MAX_LINE_BYTES,
            dead_letter: None,
        }
    }

    /// A handle on the source's counters.
    pub fn stats(&self) -> DirectoryStats {
        self.stats.clone()
    }

    /// The eligible files in the directory, by (modification time, name).
    fn list(&self) -> Result<Vec<(SystemTime, String)>, IoError> {
        let entries = std::fs::read_dir(&self.dir).map_err(|e| IoError::io(&self.dir, e))?;
        let mut files = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| IoError::io(&self.dir, e))?;
            // Non-UTF-8 names are tracked by their lossy form; opening uses the same form,
            // so such a file is reported as unreadable rather than read under another name.
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') || name.starts_with('_') {
                continue;
            }
            // `metadata` follows symlinks, so a link to a file counts as a file.
            match std::fs::metadata(entry.path()) {
                Ok(meta) if meta.is_file() => {
                    files.push((meta.modified().unwrap_or(SystemTime::UNIX_EPOCH), name));
                }
                Ok(_) => {}
                // Gone between listing and stat: it was never seen, so nothing is lost.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    files.push((SystemTime::UNIX_EPOCH, name));
                    tracing::debug!(source = %self.name, file = %entry.path().display(), "cannot stat: {e}");
                }
            }
        }
        files.sort();
        Ok(files)
    }

    /// Lists the directory: forgets processed names that are gone, queues new files.
    fn discover(&mut self) -> Result<(), IoError> {
        let files = self.list()?;
        let present: HashSet<&str> = files.iter().map(|(_, n)| n.as_str()).collect();
        self.processed.retain(|n| present.contains(n.as_str()));
        let queued: HashSet<&str> = self
            .pending
            .iter()
            .map(String::as_str)
            .chain(self.current.as_ref().map(|(n, _)| n.as_str()))
            .collect();
        let new: Vec<String> = files
            .iter()
            .filter(|(_, n)| !self.processed.contains(n) && !queued.contains(n.as_str()))
            .map(|(_, n)| n.clone())
            .collect();
        if !new.is_empty() {
            tracing::debug!(source = %self.name, files = new.len(), "new files");
        }
        self.pending.extend(new);
        Ok(())
    }

    fn fail_file(&mut self, name: String, error: &IoError) {
        tracing::warn!(source = %self.name, file = %name, "file skipped: {error}");
        self.stats
            .inner
            .files_failed
            .fetch_add(1, Ordering::Relaxed);
        self.failed_unreported += 1;
        self.processed.insert(name);
    }

    /// Marks the current file read to its end, or failed.
    fn close_current(&mut self, outcome: std::io::Result<()>) {
        let Some((name, _)) = self.current.take() else {
            return;
        };
        match outcome {
            Ok(()) => {
                self.stats.inner.files_read.fetch_add(1, Ordering::Relaxed);
                self.processed.insert(name);
            }
            Err(e) => {
                let error = IoError::io(self.dir.join(&name), e);
                self.fail_file(name, &error);
            }
        }
    }

    fn read_batch(&mut self, max_records: Option<u64>) -> Result<SourceBatch<String>, IoError> {
        self.discover()?;
        let budget = max_records.unwrap_or(u64::MAX);
        let mut records = Vec::new();
        let (mut taken, mut skipped_lines, mut bytes) = (0_u64, 0_u64, 0_u64);
        while taken < budget {
            if self.current.is_none() {
                let Some(name) = self.pending.pop_front() else {
                    break;
                };
                match TextFile::open(
                    &self.dir.join(&name),
                    self.max_line_bytes,
                    FilePosition::default(),
                ) {
                    Ok(file) => self.current = Some((name, file)),
                    Err(e) => self.fail_file(name, &e),
                }
                continue;
            }
            let Some((name, file)) = &mut self.current else {
                continue;
            };
            let number = file.lines.line_number() + 1;
            let before = file.lines.position();
            let line = file.lines.next_line();
            match line {
                Ok(Some(Line::Text(text))) => {
                    taken += 1;
                    records.push(text.to_owned());
                    bytes += file.lines.position() - before;
                }
                Ok(Some(Line::Skipped { reason, raw })) => {
                    taken += 1;
                    skipped_lines += 1;
                    if let Some(dead) = &mut self.dead_letter {
                        let origin = self.dir.join(name.as_str());
                        dead.record(&origin.to_string_lossy(), number, &reason, raw)?;
                    }
                    bytes += file.lines.position() - before;
                }
                Ok(None) => self.close_current(Ok(())),
                Err(e) => self.close_current(Err(e)),
            }
        }
        // Close a file that this batch read to its end, so the offset and `is_exhausted`
        // do not wait for the next batch to notice.
        match self.current.as_mut().map(|(_, file)| file.lines.at_eof()) {
            Some(Ok(true)) => self.close_current(Ok(())),
            Some(Err(e)) => self.close_current(Err(e)),
            Some(Ok(false)) | None => {}
        }
        if skipped_lines > 0 {
            tracing::debug!(source = %self.name, skipped = skipped_lines, "skipped malformed lines in this batch");
            if let Some(dead) = &mut self.dead_letter {
                dead.flush()?;
            }
        }
        let counters = &self.stats.inner;
        counters
            .lines
            .fetch_add(records.len() as u64, Ordering::Relaxed);
        counters
            .skipped_lines
            .fetch_add(skipped_lines, Ordering::Relaxed);
        Ok(SourceBatch {
            records,
            skipped: skipped_lines + std::mem::take(&mut self.failed_unreported),
            bytes,
        })
    }
}

impl Source for DirectorySource {
    type Item = String;

    fn name(&self) -> String {
        self.name.clone()
    }

    fn next_batch(
        &mut self,
        _time: BatchTime,
        max_records: Option<u64>,
    ) -> spate_core::Result<SourceBatch<String>> {
        Ok(self.read_batch(max_records)?)
    }

    fn is_exhausted(&self) -> bool {
        self.finish_when_drained && self.current.is_none() && self.pending.is_empty()
    }

    fn offset(&self) -> Option<SourceOffset> {
        SourceOffset::encode(&DirectoryOffset {
            processed: self.processed.iter().cloned().collect(),
            current: self
                .current
                .as_ref()
                .map(|(name, file)| (name.clone(), file.position())),
            dead_letter_bytes: self.dead_letter.as_ref().map(DeadLetter::len),
        })
        .ok()
    }

    fn seek(&mut self, offset: &SourceOffset) -> spate_core::Result<()> {
        let at: DirectoryOffset = offset.decode()?;
        if let (Some(dead), Some(len)) = (&mut self.dead_letter, at.dead_letter_bytes) {
            dead.truncate_to(len)?;
        }
        self.processed = at.processed.into_iter().collect();
        self.pending.clear();
        self.current = None;
        if let Some((name, position)) = at.current {
            match TextFile::open(&self.dir.join(&name), self.max_line_bytes, position) {
                Ok(file) => self.current = Some((name, file)),
                // The file changed or vanished since the checkpoint: report it, go on with
                // the others rather than refuse to recover.
                Err(e) => self.fail_file(name, &e),
            }
        }
        // List now, so that `is_exhausted` is right before the first batch after recovery.
        self.discover()?;
        Ok(())
    }
}
