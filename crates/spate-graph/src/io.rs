//! Edge-list files: `src dst [weight] [time]`, whitespace- or comma-separated.

use crate::error::{GraphError, MalformedReason};
use crate::event::{EdgeEvent, NodeId};
use flate2::read::MultiGzDecoder;
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::Path;

/// What the fields after `src dst` mean.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Columns {
    /// By field count: 2 → `src dst`, 3 → `src dst weight`, 4 → `src dst weight time`.
    #[default]
    Auto,
    /// By field count, for temporal edge lists where a third field is a time: 2 → `src dst`,
    /// 3 → `src dst time` (SNAP's temporal networks, e.g. CollegeMsg), 4 → `src dst weight
    /// time`.
    Temporal,
    /// Exactly `src dst`.
    SrcDst,
    /// Exactly `src dst weight`.
    SrcDstWeight,
    /// Exactly `src dst time` (e.g. SNAP temporal networks such as CollegeMsg).
    SrcDstTime,
    /// Exactly `src dst weight time` (e.g. the SNAP bitcoin rating networks).
    SrcDstWeightTime,
}

/// How to read an edge list.
///
/// * Fields are separated by commas (if the line has one) or by whitespace.
/// * `#` starts a comment, to the end of the line; blank lines are skipped.
/// * `\r\n` line endings and a UTF-8 byte-order mark are tolerated; gzip input is detected by
///   its magic bytes.
/// * Node ids are non-negative integers up to `u64::MAX`; time is a finite number; weight is 0
///   or a number whose magnitude is in the usable range ([`EdgeEvent::MIN_WEIGHT`] to
///   [`EdgeEvent::MAX_WEIGHT`]). Any sign: a signed rating is data, and the algorithms reject
///   non-positive weights themselves, counting them; a subnormal or huge weight is a malformed
///   line.
/// * A line longer than [`EdgeListFormat::MAX_LINE_BYTES`] (without its line ending) is
///   malformed: it is skipped to the next newline without being held in memory (binary data,
///   CR-only line endings).
/// * A malformed line is counted and reported with its line number (the first
///   [`max_reported`](Self::max_reported) in full); with [`strict`](Self::strict) it is an
///   error instead.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EdgeListFormat {
    columns: Columns,
    strict: bool,
    max_reported: usize,
}

impl Default for EdgeListFormat {
    fn default() -> Self {
        Self {
            columns: Columns::Auto,
            strict: false,
            max_reported: 100,
        }
    }
}

impl EdgeListFormat {
    /// The longest line read, 64 KiB without its line ending; a longer line is counted as
    /// malformed and skipped.
    pub const MAX_LINE_BYTES: usize = 64 * 1024;

    /// Lenient parsing with automatic columns.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The column layout.
    #[must_use]
    pub fn columns(mut self, columns: Columns) -> Self {
        self.columns = columns;
        self
    }

    /// Fail on the first malformed line instead of counting it.
    #[must_use]
    pub fn strict(mut self, strict: bool) -> Self {
        self.strict = strict;
        self
    }

    /// How many malformed lines to keep in full (all are counted). Default 100.
    #[must_use]
    pub fn max_reported(mut self, n: usize) -> Self {
        self.max_reported = n;
        self
    }

    /// Read a whole file (plain or gzip).
    ///
    /// # Errors
    /// [`GraphError::Open`] if the file cannot be opened or read; [`GraphError::Malformed`]
    /// in strict mode.
    pub fn read_path<P: AsRef<Path>>(&self, path: P) -> Result<EdgeList, GraphError> {
        let path = path.as_ref();
        let file = File::open(path).map_err(|source| GraphError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        self.read(file).map_err(|e| match e {
            GraphError::Io { source } => GraphError::Open {
                path: path.to_path_buf(),
                source,
            },
            other => other,
        })
    }

    /// Read a whole stream (plain or gzip).
    ///
    /// # Errors
    /// [`GraphError::Io`] on a read error; [`GraphError::Malformed`] in strict mode.
    pub fn read<R: Read + Send + 'static>(&self, reader: R) -> Result<EdgeList, GraphError> {
        let mut lines = self.reader(reader)?;
        let mut edges = Vec::new();
        for record in lines.by_ref() {
            edges.push(record?);
        }
        Ok(EdgeList {
            edges,
            stats: lines.stats,
        })
    }

    /// An iterator over the records of a stream, for inputs too large to hold or to replay in
    /// batches. Malformed lines are skipped and counted in [`EdgeListReader::stats`].
    ///
    /// # Errors
    /// [`GraphError::Io`] if the first bytes cannot be read.
    pub fn reader<R: Read + Send + 'static>(
        &self,
        reader: R,
    ) -> Result<EdgeListReader, GraphError> {
        let mut buffered = BufReader::new(reader);
        let gz = is_gzip(buffered.fill_buf()?);
        let input: Box<dyn BufRead + Send> = if gz {
            Box::new(BufReader::new(MultiGzDecoder::new(buffered)))
        } else {
            Box::new(buffered)
        };
        Ok(self.reader_over(input, ReadPosition::default()))
    }

    /// A reader of the file at `path` that continues from `position` (taken from an earlier
    /// reader of the same file): a plain file is seeked to the byte, a gzip file is
    /// decompressed up to it. Line numbers and counts continue from the position's.
    ///
    /// # Errors
    /// [`GraphError::Open`] if the file cannot be opened, read or seeked, is shorter than the
    /// position, or the position is not at the start of a line (the byte before it is not a
    /// `\n`, unless the file ends right there after an unterminated last line): the file
    /// changed since the position was taken.
    pub(crate) fn open_at(
        &self,
        path: &Path,
        position: ReadPosition,
    ) -> Result<EdgeListReader, GraphError> {
        let open = |source| GraphError::Open {
            path: path.to_path_buf(),
            source,
        };
        let at = position.bytes;
        let short = |len: u64| {
            open(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!("the file ends at byte {len}, before the position {at} to resume from"),
            ))
        };
        let mut file = BufReader::new(File::open(path).map_err(open)?);
        let gz = is_gzip(file.fill_buf().map_err(open)?);
        // Positioned at the byte before `at` (if any), which is checked to end a line.
        let before = at.saturating_sub(1);
        let mut input: Box<dyn BufRead + Send> = if gz {
            let mut input = BufReader::new(MultiGzDecoder::new(file));
            let skipped = std::io::copy(&mut (&mut input).take(before), &mut std::io::sink())
                .map_err(open)?;
            if skipped < before {
                return Err(short(skipped));
            }
            Box::new(input)
        } else {
            let len = file.get_ref().metadata().map_err(open)?.len();
            if len < at {
                return Err(short(len));
            }
            file.seek(SeekFrom::Start(before)).map_err(open)?;
            Box::new(file)
        };
        if at > 0 {
            let mut last = [0u8];
            input.read_exact(&mut last).map_err(|e| {
                if e.kind() == std::io::ErrorKind::UnexpectedEof {
                    short(before)
                } else {
                    open(e)
                }
            })?;
            if last[0] != b'\n' && !input.fill_buf().map_err(open)?.is_empty() {
                return Err(open(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!(
                        "byte {at} to resume from is not the start of a line: \
                         the file changed since the position was taken"
                    ),
                )));
            }
        }
        Ok(self.reader_over(input, position))
    }

    fn reader_over(
        &self,
        input: Box<dyn BufRead + Send>,
        position: ReadPosition,
    ) -> EdgeListReader {
        EdgeListReader {
            input,
            format: *self,
            buf: Vec::new(),
            stats: ParseStats {
                lines: position.lines,
                edges: position.edges,
                skipped: position.skipped,
                malformed: position.malformed,
                malformed_lines: Vec::new(),
            },
            bytes: position.bytes,
            done: false,
        }
    }

    fn parse_line(&self, text: &str) -> Result<Option<EdgeRecord>, MalformedReason> {
        let content = text.split('#').next().unwrap_or("").trim();
        if content.is_empty() {
            return Ok(None);
        }
        let mut fields = [""; 4];
        let mut n = 0;
        let split: Box<dyn Iterator<Item = &str>> = if content.contains(',') {
            Box::new(content.split(',').map(str::trim))
        } else {
            Box::new(content.split_whitespace())
        };
        for f in split {
            if n < 4 {
                fields[n] = f;
            }
            n += 1;
        }
        let (weight, time) = match (self.columns, n) {
            (Columns::Auto | Columns::Temporal | Columns::SrcDst, 2) => (None, None),
            (Columns::Auto | Columns::SrcDstWeight, 3) => (Some(2), None),
            (Columns::Temporal | Columns::SrcDstTime, 3) => (None, Some(2)),
            (Columns::Auto | Columns::Temporal | Columns::SrcDstWeightTime, 4) => {
                (Some(2), Some(3))
            }
            _ => return Err(MalformedReason::FieldCount { found: n }),
        };
        let node = |i: usize| {
            fields[i]
                .parse::<NodeId>()
                .map_err(|_| MalformedReason::NodeId { field: i })
        };
        let number = |i: usize, reason| {
            fields[i]
                .parse::<f64>()
                .ok()
                .filter(|x| x.is_finite())
                .ok_or(reason)
        };
        // Any sign, but a magnitude the algorithms can use (see the type's docs).
        let usable = |w: f64| w == 0.0 || EdgeEvent::is_valid_weight(w.abs());
        Ok(Some(EdgeRecord {
            src: node(0)?,
            dst: node(1)?,
            weight: weight.map_or(Ok(1.0), |i| {
                number(i, MalformedReason::Weight)
                    .and_then(|w| usable(w).then_some(w).ok_or(MalformedReason::Weight))
            })?,
            time: time.map(|i| number(i, MalformedReason::Time)).transpose()?,
        }))
    }
}

/// One edge read from a file.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct EdgeRecord {
    /// Source node.
    pub src: NodeId,
    /// Destination node.
    pub dst: NodeId,
    /// Weight (1 when the file has none).
    pub weight: f64,
    /// Timestamp, if the file has one.
    pub time: Option<f64>,
}

impl EdgeRecord {
    /// The event that inserts this edge.
    #[must_use]
    pub fn to_insert(&self) -> EdgeEvent {
        EdgeEvent::insert_weighted(self.src, self.dst, self.weight)
    }
}

/// A malformed line, kept for the report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MalformedLine {
    /// 1-based line number.
    pub line: u64,
    /// What is wrong.
    pub reason: MalformedReason,
    /// The line's text (at most 200 bytes of it; lossy for invalid UTF-8).
    pub text: String,
}

/// Line counts of a parse: every line is exactly one of edge, comment/blank or malformed.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ParseStats {
    /// Lines read.
    pub lines: u64,
    /// Lines that produced an edge.
    pub edges: u64,
    /// Blank and comment-only lines.
    pub skipped: u64,
    /// Malformed lines (all counted, even beyond the ones kept in `malformed_lines`).
    pub malformed: u64,
    /// The first malformed lines in full.
    pub malformed_lines: Vec<MalformedLine>,
}

/// A parsed edge list with its line accounting.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EdgeList {
    /// The edges in file order.
    pub edges: Vec<EdgeRecord>,
    /// What every line turned out to be.
    pub stats: ParseStats,
}

impl EdgeList {
    /// Insert events for every edge, in order.
    #[must_use]
    pub fn insert_events(&self) -> Vec<EdgeEvent> {
        self.edges.iter().map(EdgeRecord::to_insert).collect()
    }

    /// Stable sort by time; edges without a time keep their order and come first.
    pub fn sort_by_time(&mut self) {
        self.edges.sort_by(|a, b| {
            a.time
                .unwrap_or(f64::NEG_INFINITY)
                .total_cmp(&b.time.unwrap_or(f64::NEG_INFINITY))
        });
    }
}

fn is_gzip(head: &[u8]) -> bool {
    head.starts_with(&[0x1f, 0x8b])
}

/// Where a reader stands in its (decompressed) input, with the line counts so far: enough
/// to reopen the file and continue exactly there ([`EdgeListFormat::open_at`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ReadPosition {
    /// Decompressed bytes consumed.
    pub(crate) bytes: u64,
    pub(crate) lines: u64,
    pub(crate) edges: u64,
    pub(crate) skipped: u64,
    pub(crate) malformed: u64,
}

/// Streaming reader of edge records; see [`EdgeListFormat::reader`].
pub struct EdgeListReader {
    input: Box<dyn BufRead + Send>,
    format: EdgeListFormat,
    buf: Vec<u8>,
    stats: ParseStats,
    /// Decompressed bytes consumed.
    bytes: u64,
    done: bool,
}

impl std::fmt::Debug for EdgeListReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EdgeListReader")
            .field("format", &self.format)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl EdgeListReader {
    /// Line accounting so far.
    #[must_use]
    pub fn stats(&self) -> &ParseStats {
        &self.stats
    }

    /// The position after the last line read.
    pub(crate) fn read_position(&self) -> ReadPosition {
        ReadPosition {
            bytes: self.bytes,
            lines: self.stats.lines,
            edges: self.stats.edges,
            skipped: self.stats.skipped,
            malformed: self.stats.malformed,
        }
    }

    /// Whether the input has no bytes left (so the next record read will be `None`).
    ///
    /// # Errors
    /// [`GraphError::Io`] if the input cannot be read.
    pub(crate) fn at_end(&mut self) -> Result<bool, GraphError> {
        Ok(self.done || self.input.fill_buf()?.is_empty())
    }

    /// Up to `n` records; an empty vector at the end of input.
    ///
    /// # Errors
    /// As the iterator.
    pub fn next_batch(&mut self, n: usize) -> Result<Vec<EdgeRecord>, GraphError> {
        let mut out = Vec::with_capacity(n.min(1 << 16));
        while out.len() < n {
            match self.next() {
                Some(r) => out.push(r?),
                None => break,
            }
        }
        Ok(out)
    }

    fn malformed(&mut self, reason: MalformedReason) -> Result<(), GraphError> {
        let line = self.stats.lines;
        self.stats.malformed += 1;
        if self.format.strict {
            return Err(GraphError::Malformed { line, reason });
        }
        if self.stats.malformed_lines.len() < self.format.max_reported {
            let end = self.buf.len().min(200);
            let text = String::from_utf8_lossy(&self.buf[..end]).into_owned();
            self.stats
                .malformed_lines
                .push(MalformedLine { line, reason, text });
        }
        Ok(())
    }
}

/// Reads one line, through its `\n` (or to the end of input), keeping at most `keep` bytes of
/// it in `buf` and consuming the rest unstored, so memory stays O(`keep`) however long the
/// line. Returns the bytes consumed (0 at the end of input) and whether the line was cut.
fn read_line_capped(
    input: &mut dyn BufRead,
    buf: &mut Vec<u8>,
    keep: usize,
) -> std::io::Result<(u64, bool)> {
    let (mut consumed, mut cut) = (0u64, false);
    loop {
        let available = match input.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if available.is_empty() {
            return Ok((consumed, cut));
        }
        let (n, end) = match available.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (available.len(), false),
        };
        let room = keep.saturating_sub(buf.len());
        cut |= n > room;
        buf.extend_from_slice(&available[..n.min(room)]);
        input.consume(n);
        consumed += n as u64;
        if end {
            return Ok((consumed, cut));
        }
    }
}

impl Iterator for EdgeListReader {
    type Item = Result<EdgeRecord, GraphError>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            self.buf.clear();
            let cap = EdgeListFormat::MAX_LINE_BYTES;
            let cut = match read_line_capped(&mut self.input, &mut self.buf, cap + 2) {
                Ok((0, _)) => {
                    self.done = true;
                    return None;
                }
                Ok((n, cut)) => {
                    self.bytes += n;
                    cut
                }
                Err(e) => {
                    self.done = true;
                    return Some(Err(e.into()));
                }
            };
            self.stats.lines += 1;
            while matches!(self.buf.last(), Some(b'\n' | b'\r')) {
                self.buf.pop();
            }
            if cut || self.buf.len() > cap {
                let line = self.stats.lines;
                tracing::warn!(
                    line,
                    max_bytes = cap,
                    "skipping an edge-list line longer than the limit (binary data or no \\n line endings?)"
                );
                if let Err(e) = self.malformed(MalformedReason::LineTooLong) {
                    self.done = true;
                    return Some(Err(e));
                }
                continue;
            }
            let mut bytes: &[u8] = &self.buf;
            if self.stats.lines == 1 {
                bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
            }
            let parsed = match std::str::from_utf8(bytes) {
                Ok(text) => self.format.parse_line(text),
                Err(_) => Err(MalformedReason::NotUtf8),
            };
            match parsed {
                Ok(Some(record)) => {
                    self.stats.edges += 1;
                    return Some(Ok(record));
                }
                Ok(None) => self.stats.skipped += 1,
                Err(reason) => {
                    if let Err(e) = self.malformed(reason) {
                        self.done = true;
                        return Some(Err(e));
                    }
                }
            }
        }
        None
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn parse(text: &'static str, format: EdgeListFormat) -> Result<EdgeList, GraphError> {
        format.read(text.as_bytes())
    }

    #[test]
    fn mixed_separators_comments_crlf_and_bom() {
        let list = parse(
            "\u{feff}# header\r\n1 2\r\n3,4,2.5\r\n\r\n5\t6 1 100.5 # trailing\n7, 8\n",
            EdgeListFormat::new(),
        )
        .expect("parses");
        let got: Vec<_> = list
            .edges
            .iter()
            .map(|e| (e.src, e.dst, e.weight, e.time))
            .collect();
        assert_eq!(
            got,
            vec![
                (1, 2, 1.0, None),
                (3, 4, 2.5, None),
                (5, 6, 1.0, Some(100.5)),
                (7, 8, 1.0, None)
            ]
        );
        assert_eq!(
            (list.stats.lines, list.stats.skipped, list.stats.malformed),
            (6, 2, 0)
        );
    }

    #[test]
    fn malformed_lines_are_counted_with_line_numbers() {
        let list = parse(
            "1 2\nx 2\n1 2 3 4 5\n1 2 nan\n-1 2\n3 4\n",
            EdgeListFormat::new(),
        )
        .expect("lenient");
        assert_eq!(list.edges.len(), 2);
        assert_eq!(list.stats.malformed, 4);
        let lines: Vec<_> = list
            .stats
            .malformed_lines
            .iter()
            .map(|m| (m.line, m.reason))
            .collect();
        assert_eq!(
            lines,
            vec![
                (2, MalformedReason::NodeId { field: 0 }),
                (3, MalformedReason::FieldCount { found: 5 }),
                (4, MalformedReason::Weight),
                (5, MalformedReason::NodeId { field: 0 }),
            ]
        );
        let err = parse("1 2\n1 x\n", EdgeListFormat::new().strict(true)).expect_err("strict");
        assert!(matches!(err, GraphError::Malformed { line: 2, .. }));
    }

    #[test]
    fn time_only_columns() {
        let list = parse(
            "1 2 1082040961\n",
            EdgeListFormat::new().columns(Columns::SrcDstTime),
        )
        .expect("parses");
        assert_eq!(list.edges[0].weight, 1.0);
        assert_eq!(list.edges[0].time, Some(1_082_040_961.0));
    }

    #[test]
    fn weights_of_unusable_magnitude_are_malformed_signed_ones_are_data() {
        let list = parse(
            "1 2 1e-310\n1 2 1e308\n1 2 -1e-310\n2 3 -1\n3 1 1e300\n3 4 0\n4 1 2.2250738585072014e-308\n",
            EdgeListFormat::new(),
        )
        .expect("lenient");
        let weights: Vec<_> = list.edges.iter().map(|e| e.weight).collect();
        assert_eq!(weights, vec![-1.0, 1e300, 0.0, f64::MIN_POSITIVE]);
        let lines: Vec<_> = list
            .stats
            .malformed_lines
            .iter()
            .map(|m| (m.line, m.reason))
            .collect();
        assert_eq!(
            lines,
            vec![
                (1, MalformedReason::Weight),
                (2, MalformedReason::Weight),
                (3, MalformedReason::Weight),
            ]
        );
    }

    /// A reader of `len` bytes of `byte` with no newline, then `rest`, produced on the fly so
    /// the test itself holds no long line.
    fn long_line_then(byte: u8, len: usize, rest: &'static [u8]) -> impl Read + Send + 'static {
        std::io::repeat(byte).take(len as u64).chain(rest)
    }

    #[test]
    fn an_over_long_line_is_skipped_without_being_held() {
        let cap = EdgeListFormat::MAX_LINE_BYTES;
        for (byte, len) in [(b'7', cap + 1), (b' ', 10 * cap), (b'\r', 3 * cap + 5)] {
            let mut reader = EdgeListFormat::new()
                .reader(long_line_then(byte, len, b"\n1 2\n"))
                .expect("opens");
            let edges: Vec<_> = reader.by_ref().collect::<Result<_, _>>().expect("lenient");
            assert_eq!(edges.len(), 1, "{byte} x {len}");
            assert_eq!((edges[0].src, edges[0].dst), (1, 2));
            let stats = reader.stats();
            assert_eq!((stats.lines, stats.edges, stats.malformed), (2, 1, 1));
            assert_eq!(stats.malformed_lines[0].line, 1);
            assert_eq!(
                stats.malformed_lines[0].reason,
                MalformedReason::LineTooLong
            );
            assert!(stats.malformed_lines[0].text.len() <= 200);
            // Every byte is accounted for, so positions stay exact.
            assert_eq!(reader.read_position().bytes, len as u64 + 5);
            assert!(
                reader.buf.capacity() <= 2 * cap + 64,
                "{}",
                reader.buf.capacity()
            );
        }
        // A line of exactly the limit (with a CRLF ending) is read.
        let line = format!("1 2{}\r\n", " ".repeat(cap - 3));
        let list = EdgeListFormat::new()
            .read(std::io::Cursor::new(line))
            .expect("reads");
        assert_eq!((list.edges.len(), list.stats.malformed), (1, 0));
        // Strict mode makes it an error with its line number.
        let err = EdgeListFormat::new()
            .strict(true)
            .read(long_line_then(b'1', cap + 1, b"\n"))
            .expect_err("strict");
        assert!(matches!(err, GraphError::Malformed { line: 1, .. }));
    }

    /// Writes `text` to `dir/name`, gzipped if `gz`; also the file sources' tests' helper.
    pub(crate) fn write(dir: &Path, name: &str, text: &str, gz: bool) -> std::path::PathBuf {
        use std::io::Write;
        let path = dir.join(name);
        let bytes = if gz {
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            enc.write_all(text.as_bytes()).expect("writes");
            enc.finish().expect("finishes")
        } else {
            text.as_bytes().to_vec()
        };
        std::fs::write(&path, bytes).expect("writes");
        path
    }

    #[test]
    fn resuming_checks_the_file_still_has_the_position_at_a_line_start() {
        let dir = tempfile::tempdir().expect("tempdir");
        let format = EdgeListFormat::new();
        for gz in [false, true] {
            let path = write(dir.path(), "e", "1 2\n3 4\n5 6\n", gz);
            let mut r = format
                .open_at(&path, ReadPosition::default())
                .expect("opens");
            r.next().expect("one").expect("edge");
            let at = r.read_position();
            assert_eq!(at.bytes, 4);
            let rest: Vec<_> = format
                .open_at(&path, at)
                .expect("resumes")
                .map(|e| e.expect("edge").src)
                .collect();
            assert_eq!(rest, vec![3, 5]);
            // Truncated: the position is past the end.
            write(dir.path(), "e", "1 2\n", gz);
            let far = ReadPosition { bytes: 8, ..at };
            let err = format.open_at(&path, far).expect_err("truncated");
            assert!(matches!(err, GraphError::Open { .. }), "{err}");
            assert!(err.to_string().contains("before the position 8"), "{err}");
            // Modified: the position now falls mid-line.
            write(dir.path(), "e", "10 20\n3 4\n", gz);
            let err = format.open_at(&path, at).expect_err("modified");
            assert!(err.to_string().contains("not the start of a line"), "{err}");
            // At the end of an unterminated last line: nothing left, not an error.
            write(dir.path(), "e", "1 2\n3 4", gz);
            let end = ReadPosition { bytes: 7, ..at };
            let mut r = format.open_at(&path, end).expect("at the end");
            assert!(r.next().is_none());
        }
    }

    #[test]
    fn invalid_utf8_is_malformed_not_fatal() {
        let bytes: &'static [u8] = b"1 2\n\xff\xfe 3\n4 5";
        let list = EdgeListFormat::new().read(bytes).expect("lenient");
        assert_eq!(list.edges.len(), 2);
        assert_eq!(
            list.stats.malformed_lines[0].reason,
            MalformedReason::NotUtf8
        );
    }
}
