//! The replay loop shared by the file sources: a quota of lines per batch, each converted
//! into a record or skipped and counted, with a replayable position.

use crate::error::IoError;
use crate::lines::{DeadLetter, RawLine, SkipReason};
use crate::text::{FilePosition, Quota, TextFile};
use serde::{Deserialize, Serialize};
use spate_core::stream::{PartedBatch, SourceBatch, SourceOffset};
use std::path::{Path, PathBuf};

#[derive(Serialize, Deserialize)]
struct ReplayOffset {
    position: FilePosition,
    /// Batches served: the rate schedule depends on it.
    batches: u64,
    /// The position lies inside an over-long line whose remainder is being dropped.
    dropping: bool,
    /// The dead-letter file's length after the batch, if there is one: recovery cuts it back
    /// to this, so entries of batches after the checkpoint are not written twice.
    dead_letter_bytes: Option<u64>,
}

pub(crate) struct LineReplay {
    pub(crate) path: PathBuf,
    name: String,
    max_line_bytes: usize,
    quota: Quota,
    input: TextFile,
    /// Where records start (after a CSV header); earlier offsets are clamped to it.
    first: FilePosition,
    batches: u64,
    exhausted: bool,
    dead_letter: Option<DeadLetter>,
}

impl LineReplay {
    pub(crate) fn open(
        path: &Path,
        name: String,
        max_line_bytes: usize,
        quota: Quota,
        dead_letter: Option<&Path>,
        first: FilePosition,
    ) -> Result<LineReplay, IoError> {
        let input = TextFile::open(path, max_line_bytes, first)?;
        let dead_letter = dead_letter.map(DeadLetter::open).transpose()?;
        let mut replay = LineReplay {
            path: path.to_path_buf(),
            name,
            max_line_bytes,
            quota,
            input,
            first,
            batches: 0,
            exhausted: false,
            dead_letter,
        };
        replay.exhausted = replay.at_eof()?;
        Ok(replay)
    }

    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn position(&self) -> FilePosition {
        self.input.position()
    }

    pub(crate) fn is_exhausted(&self) -> bool {
        self.exhausted
    }

    fn at_eof(&mut self) -> Result<bool, IoError> {
        self.input
            .lines
            .at_eof()
            .map_err(|e| IoError::io(&self.path, e))
    }

    /// Consumes at most `min(quota, max_records)` lines, turning each into a record with
    /// `convert` or skipping it.
    pub(crate) fn next_batch<T>(
        &mut self,
        max_records: Option<u64>,
        mut convert: impl FnMut(&[u8]) -> Result<T, SkipReason>,
    ) -> Result<SourceBatch<T>, IoError> {
        let quota = self.quota.for_batch(self.batches);
        let budget = max_records.map_or(quota, |m| m.min(quota));
        // Cap the up-front reservation: a huge quota over a short file must not allocate.
        let mut records = Vec::with_capacity(budget.min(1 << 16) as usize);
        let (skipped, bytes) = self.read_batch(max_records, |_, line| {
            records.push(convert(line)?);
            Ok(())
        })?;
        Ok(SourceBatch {
            records,
            skipped,
            bytes,
        })
    }

    /// The lines [`next_batch`](Self::next_batch) would return as `String`s (invalid UTF-8
    /// skipped), split into `partitions` partitions, built only for the partitions `keep`
    /// selects. The batch's lines are gathered into one buffer and checked as UTF-8 at once
    /// (one call, not one per line); only a batch holding invalid UTF-8 is checked line by
    /// line. The digest covers the record lines and where each ends.
    pub(crate) fn next_lines_parts(
        &mut self,
        max_records: Option<u64>,
        partitions: usize,
        keep: &dyn Fn(usize) -> bool,
    ) -> Result<PartedBatch<String>, IoError> {
        // The lines back to back, each followed by `\n` (which no line contains): the digest
        // of the buffer also fixes where the lines end, and each line is a `str` slice.
        let mut text = Vec::new();
        let mut ends = Vec::new();
        let mut numbers = Vec::new();
        let (mut skipped, bytes) = self.read_batch(max_records, |number, line| {
            text.extend_from_slice(line);
            text.push(b'\n');
            ends.push(text.len());
            numbers.push(number);
            Ok(())
        })?;
        let text = match String::from_utf8(text) {
            Ok(text) => text,
            Err(e) => {
                let (text, dropped) =
                    self.drop_invalid_lines(&e.into_bytes(), &mut ends, &numbers)?;
                skipped += dropped;
                text
            }
        };
        let records = ends.len();
        let line = |i: usize| {
            let start = if i == 0 { 0 } else { ends[i - 1] };
            &text[start..ends[i] - 1]
        };
        let parts = (0..partitions.max(1))
            .map(|p| {
                keep(p).then(|| {
                    spate_core::split_range(records, partitions, p)
                        .map(|i| line(i).to_owned())
                        .collect()
                })
            })
            .collect();
        Ok(PartedBatch {
            parts,
            records: records as u64,
            skipped,
            bytes,
            digest: xxhash_rust::xxh3::xxh3_64(text.as_bytes()),
        })
    }

    /// Keeps the lines of `text` (each ending at its `ends` entry, `\n` included, with its
    /// line number in `numbers`) that are valid UTF-8, skipping (counting, logging,
    /// dead-lettering) the others; returns the kept text and the number skipped, and leaves
    /// the kept lines' ends in `ends`.
    fn drop_invalid_lines(
        &mut self,
        text: &[u8],
        ends: &mut Vec<usize>,
        numbers: &[u64],
    ) -> Result<(String, u64), IoError> {
        let mut kept = String::with_capacity(text.len());
        let mut kept_ends = Vec::with_capacity(ends.len());
        let mut skipped = 0;
        let mut start = 0;
        for (&end, &number) in ends.iter().zip(numbers) {
            let line = &text[start..end - 1];
            start = end;
            match std::str::from_utf8(line) {
                Ok(line) => {
                    kept.push_str(line);
                    kept.push('\n');
                    kept_ends.push(kept.len());
                }
                Err(e) => {
                    skipped += 1;
                    let reason = SkipReason::InvalidUtf8 {
                        valid_up_to: e.valid_up_to(),
                    };
                    tracing::debug!(source = %self.name, line = number, %reason, "line skipped");
                    if let Some(dead) = &mut self.dead_letter {
                        dead.record(&self.path.to_string_lossy(), number, &reason, line)?;
                    }
                }
            }
        }
        *ends = kept_ends;
        Ok((kept, skipped))
    }

    /// Consumes at most `min(quota, max_records)` lines, handing each complete one to
    /// `record` with its line number (which may refuse it) and counting, logging and
    /// dead-lettering the skipped ones; returns (skipped, bytes read).
    fn read_batch(
        &mut self,
        max_records: Option<u64>,
        mut record: impl FnMut(u64, &[u8]) -> Result<(), SkipReason>,
    ) -> Result<(u64, u64), IoError> {
        let quota = self.quota.for_batch(self.batches);
        self.batches += 1;
        let budget = max_records.map_or(quota, |m| m.min(quota));
        let start = self.input.lines.position();
        let mut skipped = 0;
        let mut taken = 0;
        while taken < budget {
            let number = self.input.lines.line_number() + 1;
            let line = self
                .input
                .lines
                .next_raw()
                .map_err(|e| IoError::io(&self.path, e))?;
            let Some(line) = line else { break };
            if matches!(line, RawLine::Dropping) {
                // An endless line: this batch dropped its share of it; the next one goes on.
                break;
            }
            taken += 1;
            let (reason, raw) = match line {
                RawLine::Bytes(bytes) => match record(number, bytes) {
                    Ok(()) => continue,
                    Err(reason) => (reason, bytes),
                },
                RawLine::TooLong { bytes, raw } => (
                    SkipReason::TooLong {
                        bytes,
                        limit: self.max_line_bytes,
                    },
                    raw,
                ),
                RawLine::Unterminated { read, raw } => (
                    SkipReason::Unterminated {
                        read,
                        limit: self.max_line_bytes,
                    },
                    raw,
                ),
                RawLine::Dropping => continue,
            };
            skipped += 1;
            tracing::debug!(source = %self.name, line = number, %reason, "line skipped");
            if let Some(dead) = &mut self.dead_letter {
                dead.record(&self.path.to_string_lossy(), number, &reason, raw)?;
            }
        }
        if skipped > 0 {
            tracing::debug!(source = %self.name, skipped, "skipped malformed lines in this batch");
            if let Some(dead) = &mut self.dead_letter {
                dead.flush()?;
            }
        }
        self.exhausted = self.at_eof()?;
        Ok((skipped, self.input.lines.position() - start))
    }

    /// Whether lines skipped are written to a dead-letter file.
    pub(crate) fn has_dead_letter(&self) -> bool {
        self.dead_letter.is_some()
    }

    pub(crate) fn offset(&self) -> Option<SourceOffset> {
        SourceOffset::encode(&ReplayOffset {
            position: self.position(),
            batches: self.batches,
            dropping: self.input.lines.is_dropping(),
            dead_letter_bytes: self.dead_letter.as_ref().map(DeadLetter::len),
        })
        .ok()
    }

    pub(crate) fn seek(&mut self, offset: &SourceOffset) -> spate_core::Result<()> {
        let at: ReplayOffset = offset.decode()?;
        let (position, dropping) = if at.position.byte < self.first.byte {
            (self.first, false)
        } else {
            (at.position, at.dropping)
        };
        self.input = TextFile::open_at(&self.path, self.max_line_bytes, position, dropping)?;
        self.batches = at.batches;
        if let (Some(dead), Some(len)) = (&mut self.dead_letter, at.dead_letter_bytes) {
            dead.truncate_to(len)?;
        }
        self.exhausted = self.at_eof()?;
        Ok(())
    }
}
