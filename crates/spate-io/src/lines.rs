//! [`LineReader`]: bounded, resumable line splitting shared by every text source.
//!
//! Lines end at `\n`; a `\r` right before it is stripped (as [`str::lines`] does), and a last
//! line without a terminator is still a line. A line longer than the limit is never held in
//! memory: its first bytes are kept for the dead-letter file, the rest is read and dropped.
//! A line still unterminated [`GIVE_UP_BYTES`] past the limit (an endless stream without a
//! newline, such as `/dev/zero`) is reported as skipped at once, and its remainder is dropped
//! in slices of at most [`GIVE_UP_BYTES`], so a reader that must keep a schedule regains
//! control between slices.
//! Reading resumes where it stopped after an I/O error such as a socket read timeout, so no
//! byte is lost or read twice.

use crate::error::IoError;
use std::fmt;
use std::io::{BufRead, ErrorKind, Write};
use std::path::{Path, PathBuf};

/// The default limit on the length of one line: 1 MiB.
pub const DEFAULT_MAX_LINE_BYTES: usize = 1 << 20;

/// How many bytes of a skipped line a dead-letter entry shows.
const DEAD_LETTER_EXCERPT: usize = 256;

/// How far past the line limit a line is read looking for its end before it is reported as
/// skipped ([`SkipReason::Unterminated`]); also the most of its remainder one
/// [`LineReader`] call drops before handing control back.
pub const GIVE_UP_BYTES: u64 = 64 << 20;

/// Why an input unit (a line, a CSV row) was skipped instead of becoming a record.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SkipReason {
    /// The line is not valid UTF-8; the first bad byte is at `valid_up_to`.
    InvalidUtf8 {
        /// Length of the valid prefix.
        valid_up_to: usize,
    },
    /// The line has more bytes than the configured limit.
    TooLong {
        /// The line's length without its terminator.
        bytes: u64,
        /// The limit.
        limit: usize,
    },
    /// A line was still unterminated `read` bytes in, far past the limit: it was reported
    /// then, and the rest of it (up to the next newline, if one ever comes) is dropped.
    Unterminated {
        /// Bytes of the line read when it was given up on.
        read: u64,
        /// The limit.
        limit: usize,
    },
    /// A CSV row has a different number of fields than the header.
    FieldCount {
        /// Fields in the header.
        expected: usize,
        /// Fields in the row.
        found: usize,
    },
    /// A CSV row has an odd number of quote characters: a quoted field is not closed on
    /// its line (a field with a line break in it, or a broken row).
    UnbalancedQuote,
    /// A selected CSV field is empty or `NA`.
    Missing {
        /// The column's name.
        column: String,
    },
    /// A selected CSV field is not a number.
    NotNumeric {
        /// The column's name.
        column: String,
    },
    /// A selected CSV field is NaN or ±∞.
    NonFinite {
        /// The column's name.
        column: String,
    },
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SkipReason::InvalidUtf8 { valid_up_to } => {
                write!(f, "invalid UTF-8 after byte {valid_up_to}")
            }
            SkipReason::TooLong { bytes, limit } => {
                write!(f, "line of {bytes} bytes exceeds the limit of {limit}")
            }
            SkipReason::Unterminated { read, limit } => write!(
                f,
                "line still unterminated after {read} bytes (limit {limit}); dropped to its end"
            ),
            SkipReason::FieldCount { expected, found } => {
                write!(f, "{found} fields, the header has {expected}")
            }
            SkipReason::UnbalancedQuote => write!(f, "a quoted field is not closed on this line"),
            SkipReason::Missing { column } => write!(f, "missing value in column `{column}`"),
            SkipReason::NotNumeric { column } => {
                write!(f, "non-numeric value in column `{column}`")
            }
            SkipReason::NonFinite { column } => {
                write!(f, "NaN or infinite value in column `{column}`")
            }
        }
    }
}

/// One line read by a [`LineReader`].
#[derive(Debug, PartialEq, Eq)]
pub enum Line<'a> {
    /// A valid line, without its terminator.
    Text(&'a str),
    /// A line that cannot be a record.
    Skipped {
        /// Why.
        reason: SkipReason,
        /// The line's bytes, or its first bytes if it was too long.
        raw: &'a [u8],
    },
}

/// Splits a byte stream into UTF-8 lines of bounded length, reusing one buffer.
///
/// Memory is bounded by the limit plus the inner reader's buffer, whatever the input.
///
/// ```
/// use spate_io::{Line, LineReader, SkipReason};
///
/// let input: &[u8] = b"one\r\ntoo long\n\xff\nlast";
/// let mut lines = LineReader::new(input, 5);
/// assert_eq!(lines.next_line()?, Some(Line::Text("one")));
/// assert!(matches!(
///     lines.next_line()?,
///     Some(Line::Skipped { reason: SkipReason::TooLong { bytes: 8, .. }, .. })
/// ));
/// assert!(matches!(
///     lines.next_line()?,
///     Some(Line::Skipped { reason: SkipReason::InvalidUtf8 { valid_up_to: 0 }, .. })
/// ));
/// assert_eq!(lines.next_line()?, Some(Line::Text("last")));
/// assert_eq!(lines.next_line()?, None);
/// assert_eq!((lines.line_number(), lines.position()), (4, 20));
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct LineReader<R> {
    inner: R,
    max_line_bytes: usize,
    /// The current line's first `max_line_bytes + 1` bytes (room for a `\r`).
    buf: Vec<u8>,
    /// Bytes of the current line seen so far, terminator excluded, kept or not.
    line_len: u64,
    /// The current line's last byte, kept even when the line overflowed `buf`.
    last_byte: Option<u8>,
    /// The previous call returned a line that borrows `buf`.
    returned: bool,
    /// Bytes of the inner buffer lent out as the last line, consumed on the next call: a
    /// line that lies whole in the inner buffer is returned without copying.
    lent: usize,
    position: u64,
    line: u64,
    /// The current line was already reported as [`SkipReason::Unterminated`]; the rest of it
    /// is being dropped.
    dropping: bool,
}

impl<R: BufRead> LineReader<R> {
    /// Reads lines of at most `max_line_bytes` bytes from the start of `inner`.
    pub fn new(inner: R, max_line_bytes: usize) -> LineReader<R> {
        LineReader::resume(inner, max_line_bytes, 0, 0)
    }

    /// Reads lines from `inner`, which is already `position` bytes and `line` lines into
    /// its stream (after a seek), so positions and line numbers continue from there.
    pub fn resume(inner: R, max_line_bytes: usize, position: u64, line: u64) -> LineReader<R> {
        LineReader {
            inner,
            max_line_bytes,
            buf: Vec::new(),
            line_len: 0,
            last_byte: None,
            returned: false,
            lent: 0,
            position,
            line,
            dropping: false,
        }
    }

    /// Like [`resume`](Self::resume) inside a line that was already reported as
    /// unterminated: its remainder is dropped first.
    pub(crate) fn resume_dropping(
        inner: R,
        max_line_bytes: usize,
        position: u64,
        line: u64,
    ) -> LineReader<R> {
        let mut reader = LineReader::resume(inner, max_line_bytes, position, line);
        reader.dropping = true;
        reader
    }

    /// Whether the reader is inside a line it gave up on (its position is then mid-line).
    pub(crate) fn is_dropping(&self) -> bool {
        self.dropping
    }

    /// Bytes consumed by complete lines, terminators included: where the next line starts.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// Lines read so far (valid or skipped): the 1-based number of the last line returned.
    pub fn line_number(&self) -> u64 {
        self.line
    }

    /// Whether the input is at its end, with no partial line pending.
    pub fn at_eof(&mut self) -> std::io::Result<bool> {
        self.clear_returned();
        if self.line_len > 0 || self.dropping {
            return Ok(false);
        }
        loop {
            match self.inner.fill_buf() {
                Ok(b) => return Ok(b.is_empty()),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// The next line, `None` at the end of the input.
    ///
    /// On an error the partial line is kept, and the next call continues it. The remainder
    /// of a line given up on is dropped within this call, however long it is (memory stays
    /// bounded; a socket's reader is unblocked by shutting the socket down).
    pub fn next_line(&mut self) -> std::io::Result<Option<Line<'_>>> {
        let limit = self.max_line_bytes;
        while self.dropping {
            if self.drop_rest()? == Dropped::Eof {
                return Ok(None);
            }
        }
        Ok(self.next_raw()?.map(|raw| match raw {
            RawLine::Bytes(bytes) => match std::str::from_utf8(bytes) {
                Ok(text) => Line::Text(text),
                Err(e) => Line::Skipped {
                    reason: SkipReason::InvalidUtf8 {
                        valid_up_to: e.valid_up_to(),
                    },
                    raw: bytes,
                },
            },
            RawLine::TooLong { bytes, raw } => Line::Skipped {
                reason: SkipReason::TooLong { bytes, limit },
                raw,
            },
            RawLine::Unterminated { read, raw } => Line::Skipped {
                reason: SkipReason::Unterminated { read, limit },
                raw,
            },
            // `dropping` is false after the loop above, and only `drop_rest` returns this.
            RawLine::Dropping => Line::Skipped {
                reason: SkipReason::Unterminated { read: 0, limit },
                raw: &[],
            },
        }))
    }

    /// Drops the remainder of a line given up on: up to its newline (consumed), the end of
    /// the input, or [`GIVE_UP_BYTES`], whichever comes first.
    fn drop_rest(&mut self) -> std::io::Result<Dropped> {
        let mut dropped = 0_u64;
        loop {
            let available = match self.inner.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if available.is_empty() {
                self.dropping = false;
                return Ok(Dropped::Eof);
            }
            match memchr::memchr(b'\n', available) {
                Some(i) => {
                    self.inner.consume(i + 1);
                    self.position += i as u64 + 1;
                    self.dropping = false;
                    return Ok(Dropped::LineEnd);
                }
                None => {
                    let n = available.len();
                    self.inner.consume(n);
                    self.position += n as u64;
                    dropped += n as u64;
                    if dropped >= GIVE_UP_BYTES {
                        return Ok(Dropped::Slice);
                    }
                }
            }
        }
    }

    /// The next line's bytes, not checked for UTF-8 (for parsers that only need some
    /// fields to be text).
    ///
    /// Inside a line given up on, drops a slice of its remainder and returns
    /// [`RawLine::Dropping`] if its end is not in that slice.
    pub(crate) fn next_raw(&mut self) -> std::io::Result<Option<RawLine<'_>>> {
        self.clear_returned();
        if self.dropping {
            match self.drop_rest()? {
                Dropped::Slice => return Ok(Some(RawLine::Dropping)),
                Dropped::Eof => return Ok(None),
                Dropped::LineEnd => {}
            }
        }
        if self.line_len == 0 {
            let newline = loop {
                match self.inner.fill_buf() {
                    Ok([]) => return Ok(None),
                    Ok(b) => break memchr::memchr(b'\n', b),
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            };
            if let Some(i) = newline {
                // The common case: the whole line is in the inner buffer, lend it out
                // instead of copying. Filling again does no I/O: the buffer holds the line.
                let available = self.inner.fill_buf()?;
                self.lent = i + 1;
                self.position += self.lent as u64;
                self.line += 1;
                let len = if i > 0 && available[i - 1] == b'\r' {
                    i - 1
                } else {
                    i
                };
                if len > self.max_line_bytes {
                    return Ok(Some(RawLine::TooLong {
                        bytes: len as u64,
                        raw: &available[..self.max_line_bytes],
                    }));
                }
                return Ok(Some(RawLine::Bytes(&available[..len])));
            }
        }
        let cap = self.max_line_bytes.saturating_add(1);
        loop {
            let available = match self.inner.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if available.is_empty() {
                if self.line_len == 0 {
                    return Ok(None);
                }
                return Ok(Some(self.finish_line(false)));
            }
            let (chunk, newline) = match memchr::memchr(b'\n', available) {
                Some(i) => (&available[..i], true),
                None => (available, false),
            };
            let room = cap.saturating_sub(self.buf.len());
            self.buf.extend_from_slice(&chunk[..chunk.len().min(room)]);
            if let Some(&b) = chunk.last() {
                self.last_byte = Some(b);
            }
            self.line_len += chunk.len() as u64;
            let used = chunk.len() + usize::from(newline);
            self.inner.consume(used);
            self.position += used as u64;
            if newline {
                return Ok(Some(self.finish_line(true)));
            }
            if self.line_len > self.max_line_bytes as u64 + GIVE_UP_BYTES {
                // No end in sight (an endless stream): report it now, drop the rest later.
                self.returned = true;
                self.dropping = true;
                self.line += 1;
                let keep = self.buf.len().min(self.max_line_bytes);
                return Ok(Some(RawLine::Unterminated {
                    read: self.line_len,
                    raw: &self.buf[..keep],
                }));
            }
        }
    }

    fn clear_returned(&mut self) {
        if self.lent > 0 {
            self.inner.consume(self.lent);
            self.lent = 0;
        }
        if self.returned {
            self.buf.clear();
            self.line_len = 0;
            self.last_byte = None;
            self.returned = false;
        }
    }

    fn finish_line(&mut self, newline: bool) -> RawLine<'_> {
        self.returned = true;
        self.line += 1;
        let mut len = self.line_len;
        if newline && self.last_byte == Some(b'\r') {
            len -= 1;
        }
        if len > self.max_line_bytes as u64 {
            let keep = self.buf.len().min(self.max_line_bytes);
            return RawLine::TooLong {
                bytes: len,
                raw: &self.buf[..keep],
            };
        }
        // Not over the limit, so `buf` holds the whole line.
        RawLine::Bytes(&self.buf[..len as usize])
    }
}

impl<R: std::io::Read> LineReader<std::io::BufReader<R>> {
    /// Bytes already read from the underlying reader and not yet returned as lines: zero
    /// means the next line needs another read (which may block, on a socket).
    pub fn buffered(&self) -> usize {
        self.inner.buffer().len() - self.lent
    }
}

/// A line before UTF-8 validation.
pub(crate) enum RawLine<'a> {
    /// The whole line, terminator stripped.
    Bytes(&'a [u8]),
    /// An over-long line: its length and first bytes.
    TooLong { bytes: u64, raw: &'a [u8] },
    /// A line given up on `read` bytes in (see [`GIVE_UP_BYTES`]): its first bytes.
    Unterminated { read: u64, raw: &'a [u8] },
    /// Not a line: a slice of the remainder of a line given up on was dropped, and its end
    /// is still to come. Lets a batch end while an endless line is being dropped.
    Dropping,
}

/// How far [`LineReader::drop_rest`] got.
#[derive(Debug, PartialEq, Eq)]
enum Dropped {
    /// To the line's end: the next line starts.
    LineEnd,
    /// [`GIVE_UP_BYTES`] more, without finding the end.
    Slice,
    /// To the end of the input.
    Eof,
}

/// Splits `bytes` into lines as a [`LineReader`] would: the valid lines, and how many were
/// skipped. Every line of the input is in exactly one of the two.
pub fn split_lines(bytes: &[u8], max_line_bytes: usize) -> (Vec<String>, u64) {
    let mut reader = LineReader::new(bytes, max_line_bytes);
    let mut lines = Vec::new();
    let mut skipped = 0;
    // Reading from a slice cannot fail.
    while let Ok(Some(line)) = reader.next_line() {
        match line {
            Line::Text(s) => lines.push(s.to_owned()),
            Line::Skipped { .. } => skipped += 1,
        }
    }
    (lines, skipped)
}

/// A file that collects skipped input: one entry per line,
/// `ORIGIN:LINE<TAB>REASON<TAB>EXCERPT`, the excerpt escaped and cut to 256 bytes.
///
/// Entries are appended and flushed once per batch. A replayable source records the file's
/// length in its offset after every batch and cuts the file back to that length when it
/// seeks to the offset, so a batch replayed after recovery does not write its entries twice:
/// with checkpoints the dead-letter file is exactly-once like the other outputs.
pub(crate) struct DeadLetter {
    path: PathBuf,
    out: std::io::BufWriter<std::fs::File>,
    /// Bytes in the file once the buffer is flushed.
    len: u64,
    entry: String,
}

impl DeadLetter {
    pub(crate) fn open(path: &Path) -> Result<DeadLetter, IoError> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| IoError::io(path, e))?;
        let len = file.metadata().map_err(|e| IoError::io(path, e))?.len();
        Ok(DeadLetter {
            path: path.to_path_buf(),
            out: std::io::BufWriter::new(file),
            len,
            entry: String::new(),
        })
    }

    pub(crate) fn record(
        &mut self,
        origin: &str,
        line: u64,
        reason: &SkipReason,
        raw: &[u8],
    ) -> Result<(), IoError> {
        use std::fmt::Write as _;
        let excerpt = String::from_utf8_lossy(&raw[..raw.len().min(DEAD_LETTER_EXCERPT)]);
        self.entry.clear();
        // Writing to a String cannot fail.
        let _ = writeln!(
            self.entry,
            "{origin}:{line}\t{reason}\t{}",
            excerpt.escape_debug()
        );
        self.out
            .write_all(self.entry.as_bytes())
            .map_err(|e| IoError::io(&self.path, e))?;
        self.len += self.entry.len() as u64;
        Ok(())
    }

    /// Makes the batch's entries visible; called once per batch.
    pub(crate) fn flush(&mut self) -> Result<(), IoError> {
        self.out.flush().map_err(|e| IoError::io(&self.path, e))
    }

    /// The file's length, entries written so far included.
    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// Cuts the file back to `len` bytes (its length at a checkpoint), dropping the entries
    /// written since. A file shorter than that (edited or replaced since) is left as it is,
    /// with a warning.
    pub(crate) fn truncate_to(&mut self, len: u64) -> Result<(), IoError> {
        self.flush()?;
        let file = self.out.get_ref();
        let current = file
            .metadata()
            .map_err(|e| IoError::io(&self.path, e))?
            .len();
        if current >= len {
            file.set_len(len).map_err(|e| IoError::io(&self.path, e))?;
            self.len = len;
        } else {
            tracing::warn!(
                path = %self.path.display(),
                expected = len,
                found = current,
                "the dead-letter file is shorter than at the checkpoint; keeping it as it is"
            );
            self.len = current;
        }
        Ok(())
    }
}

pub(crate) fn check_max_line_bytes(max: usize) -> Result<(), IoError> {
    if max == 0 {
        return Err(IoError::invalid(
            "max_line_bytes",
            max,
            "must be at least 1",
        ));
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// A reader that hands out one byte per call and fails every other call, like a socket
    /// with a short read timeout.
    struct Stuttering<'a> {
        data: &'a [u8],
        fail: bool,
    }

    impl std::io::Read for Stuttering<'_> {
        fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
            self.fail = !self.fail;
            if self.fail {
                return Err(std::io::Error::new(ErrorKind::TimedOut, "tick"));
            }
            let n = self.data.len().min(1).min(out.len());
            out[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    #[test]
    fn resumes_after_errors_without_losing_bytes() {
        let data = b"ab\r\ncd\nxxxxxxxx\nlast";
        let inner = std::io::BufReader::with_capacity(1, Stuttering { data, fail: false });
        let mut reader = LineReader::new(inner, 4);
        let mut got = Vec::new();
        loop {
            match reader.next_line() {
                Ok(Some(Line::Text(s))) => got.push(s.to_string()),
                Ok(Some(Line::Skipped { reason, .. })) => got.push(format!("skip {reason}")),
                Ok(None) => break,
                Err(e) => assert_eq!(e.kind(), ErrorKind::TimedOut),
            }
        }
        assert_eq!(
            got,
            [
                "ab",
                "cd",
                "skip line of 8 bytes exceeds the limit of 4",
                "last"
            ]
        );
        assert_eq!(reader.position(), data.len() as u64);
    }

    #[test]
    fn carriage_returns_count_toward_nothing_but_the_terminator() {
        // Exactly at the limit, with a CRLF: kept.
        assert_eq!(split_lines(b"abcd\r\n", 4), (vec!["abcd".to_string()], 0));
        // A bare CR at the end is content, as in `str::lines`.
        assert_eq!(split_lines(b"ab\r", 4), (vec!["ab\r".to_string()], 0));
        assert_eq!(split_lines(b"abcd\r", 4), (vec![], 1));
        assert_eq!(
            split_lines(b"\n\n", 4),
            (vec![String::new(), String::new()], 0)
        );
    }
}
