//! Opening text files, plain or gzip, at the start or at a recorded position.

use crate::error::IoError;
use crate::lines::LineReader;
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::Path;

/// Read buffer size: large enough that a line search scans long runs of bytes.
const BUFFER: usize = 64 * 1024;

/// A position in a text file: where the next line starts, in bytes of the *uncompressed*
/// content, and how many lines precede it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FilePosition {
    /// Bytes of uncompressed content before the next line.
    pub byte: u64,
    /// Lines before the next line.
    pub line: u64,
}

pub(crate) type BoxedLines = LineReader<Box<dyn BufRead + Send>>;

/// A text file being read line by line.
pub(crate) struct TextFile {
    pub(crate) lines: BoxedLines,
}

impl TextFile {
    /// Opens `path` at `at`, decompressing if it starts with the gzip magic bytes.
    ///
    /// A gzip stream cannot seek, so reaching `at` in one means decompressing everything
    /// before it: O(at) time, constant memory.
    pub(crate) fn open(
        path: &Path,
        max_line_bytes: usize,
        at: FilePosition,
    ) -> Result<TextFile, IoError> {
        TextFile::open_at(path, max_line_bytes, at, false)
    }

    /// Like [`open`](Self::open); with `dropping`, `at` lies inside a line that was given up
    /// on (an over-long line whose remainder is being dropped), so it need not start a line.
    pub(crate) fn open_at(
        path: &Path,
        max_line_bytes: usize,
        at: FilePosition,
        dropping: bool,
    ) -> Result<TextFile, IoError> {
        let io = |e| IoError::io(path, e);
        let mut file = File::open(path).map_err(io)?;
        let gzip = is_gzip(&mut file).map_err(io)?;
        let mut reader: Box<dyn BufRead + Send> = if gzip {
            let decoder = flate2::read::MultiGzDecoder::new(BufReader::with_capacity(BUFFER, file));
            Box::new(BufReader::with_capacity(BUFFER, decoder))
        } else {
            if at.byte > 0 {
                // Land one byte early to check that the offset is at a line start.
                file.seek(SeekFrom::Start(at.byte - 1)).map_err(io)?;
            }
            Box::new(BufReader::with_capacity(BUFFER, file))
        };
        if at.byte > 0 {
            if gzip {
                let skip = at.byte - 1;
                let skipped = std::io::copy(&mut (&mut reader).take(skip), &mut std::io::sink())
                    .map_err(io)?;
                if skipped < skip {
                    return Err(shorter(path, at));
                }
            }
            let mut last = [0_u8; 1];
            match reader.read_exact(&mut last) {
                Ok(()) if last[0] == b'\n' || dropping => {}
                Ok(()) => {
                    return Err(IoError::bad_offset(
                        path,
                        format!(
                            "byte {} does not start a line; was the file rewritten since the checkpoint?",
                            at.byte
                        ),
                    ));
                }
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                    return Err(shorter(path, at));
                }
                Err(e) => return Err(io(e)),
            }
        }
        let lines = if dropping {
            LineReader::resume_dropping(reader, max_line_bytes, at.byte, at.line)
        } else {
            LineReader::resume(reader, max_line_bytes, at.byte, at.line)
        };
        Ok(TextFile { lines })
    }

    pub(crate) fn position(&self) -> FilePosition {
        FilePosition {
            byte: self.lines.position(),
            line: self.lines.line_number(),
        }
    }
}

fn shorter(path: &Path, at: FilePosition) -> IoError {
    IoError::bad_offset(
        path,
        format!(
            "the file has fewer than {} bytes; was it truncated or replaced since the checkpoint?",
            at.byte
        ),
    )
}

/// Whether the file starts with the gzip magic bytes; leaves it at its start.
fn is_gzip(file: &mut File) -> std::io::Result<bool> {
    let mut magic = [0_u8; 2];
    let mut got = 0;
    while got < 2 {
        match file.read(&mut magic[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    file.seek(SeekFrom::Start(0))?;
    Ok(got == 2 && magic == [0x1f, 0x8b])
}

/// Records per batch: a fixed count, or a rate times the batch interval.
///
/// A rate is kept in millionths of a record per batch and batch `k` gets
/// `⌊(k+1)·q⌋ − ⌊k·q⌋` records, so fractional rates are exact over time and the schedule
/// depends only on the batch count, which replayable sources store in their offset.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Quota {
    PerBatch(u64),
    Micros(u64),
}

impl Quota {
    pub(crate) fn per_second(
        name: &'static str,
        rate: f64,
        interval: std::time::Duration,
    ) -> Result<Quota, IoError> {
        if !(rate.is_finite() && rate > 0.0) {
            return Err(IoError::invalid(
                name,
                rate,
                "must be a positive, finite rate",
            ));
        }
        if interval.is_zero() {
            return Err(IoError::invalid(
                "batch_interval",
                interval,
                "must be positive",
            ));
        }
        let micros = (rate * interval.as_secs_f64() * 1e6).round();
        if micros < 1.0 || micros >= u64::MAX as f64 {
            return Err(IoError::invalid(
                name,
                rate,
                "times the batch interval must be between 1e-6 and 1.8e13 records per batch",
            ));
        }
        Ok(Quota::Micros(micros as u64))
    }

    /// Records for the batch after `batches` earlier ones.
    pub(crate) fn for_batch(self, batches: u64) -> u64 {
        match self {
            Quota::PerBatch(n) => n,
            Quota::Micros(q) => {
                let k = u128::from(batches);
                let q = u128::from(q);
                (((k + 1) * q) / 1_000_000 - (k * q) / 1_000_000) as u64
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn fractional_rates_are_exact_over_time() {
        let q = Quota::per_second("rate", 2.5, Duration::from_millis(100));
        let Ok(q) = q else {
            panic!("valid rate rejected")
        };
        let total: u64 = (0..1000).map(|k| q.for_batch(k)).sum();
        assert_eq!(total, 250);
        assert!((0..1000).all(|k| q.for_batch(k) <= 1));
        assert!(Quota::per_second("rate", f64::NAN, Duration::from_secs(1)).is_err());
        assert!(Quota::per_second("rate", 1e-9, Duration::from_secs(1)).is_err());
    }
}
