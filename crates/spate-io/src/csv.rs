//! [`CsvSource`]: numeric columns of a CSV file as `Vec<f64>` records.

use crate::error::IoError;
use crate::lines::{DEFAULT_MAX_LINE_BYTES, RawLine, SkipReason, check_max_line_bytes};
use crate::replay::LineReplay;
use crate::text::{FilePosition, Quota, TextFile};
use csv_core::ReadRecordResult;
use spate_core::BatchTime;
use spate_core::stream::{Source, SourceBatch, SourceOffset};
use std::path::{Path, PathBuf};

mod text;
pub use text::CsvTextSource;

/// Rows per batch when none is given.
pub const DEFAULT_ROWS_PER_BATCH: u64 = 1000;

/// How many data rows decide which columns are numeric when no columns are named.
const INFER_ROWS: usize = 100;

/// Splits one CSV line into fields and parses the selected ones as finite numbers.
///
/// Fields follow RFC 4180: a field may be quoted, a quoted field may hold the delimiter
/// and doubled quotes. Parsing is lenient (it never fails to split), and allocation-free
/// apart from the returned record. A row becomes a record only if it has as many fields
/// as the header and every selected field is a finite number (surrounding spaces
/// allowed); otherwise the [`SkipReason`] says why: a missing value (empty or `NA`) is
/// never turned into 0.
///
/// ```
/// use spate_io::{CsvRowParser, SkipReason};
///
/// let mut parser = CsvRowParser::new("id,name,x,y", Some(&["y", "x"]), b',')?;
/// assert_eq!(parser.parse(b"1,\"Smith, J.\",2.5,-1e3"), Ok(vec![-1000.0, 2.5]));
/// assert_eq!(
///     parser.parse(b"2,Ann,NA,4"),
///     Err(SkipReason::Missing { column: "x".into() })
/// );
/// assert!(matches!(parser.parse(b"3,Bob,inf,1"), Err(SkipReason::NonFinite { .. })));
/// assert!(matches!(parser.parse(b"4,Eve,1"), Err(SkipReason::FieldCount { expected: 4, found: 3 })));
/// # Ok::<(), spate_io::IoError>(())
/// ```
#[derive(Debug)]
pub struct CsvRowParser {
    header: Vec<String>,
    /// Indices into the header of the columns that make a record, in record order.
    selected: Vec<usize>,
    delimiter: u8,
    reader: csv_core::Reader,
    out: Vec<u8>,
    ends: Vec<usize>,
}

/// A fresh reader rather than `csv_core::Reader::clone`, which (in csv-core 0.1.13) copies
/// only part of the reader's state machine: a clone splits nothing.
impl Clone for CsvRowParser {
    fn clone(&self) -> Self {
        CsvRowParser {
            header: self.header.clone(),
            selected: self.selected.clone(),
            delimiter: self.delimiter,
            reader: reader(self.delimiter),
            out: Vec::new(),
            ends: Vec::new(),
        }
    }
}

impl CsvRowParser {
    /// A parser for rows under `header` (a CSV line; a UTF-8 byte-order mark is ignored)
    /// that makes records of `columns`, in that order, or of every column if `None`.
    pub fn new(
        header: &str,
        columns: Option<&[&str]>,
        delimiter: u8,
    ) -> Result<CsvRowParser, IoError> {
        let mut parser = CsvRowParser::from_header(header, delimiter);
        parser.selected = match columns {
            Some(names) => names
                .iter()
                .map(|name| parser.column_index(name, Path::new("<header>")))
                .collect::<Result<_, _>>()?,
            None => (0..parser.header.len()).collect(),
        };
        parser.check_selected(Path::new("<header>"))?;
        Ok(parser)
    }

    /// The columns to read when none are named: those whose values in `rows` (the first
    /// data rows, at most 100 are looked at) are all numbers or missing, with at least one
    /// number — as polars infers a column's type from its first rows. A row with no number
    /// at all (a repeated header) says nothing about the columns and is left out, as is a
    /// row of another number of fields or one that could not be read (`None`, which still
    /// counts in the row numbers). A column left out for a text among its numbers is
    /// logged, naming `source`, the row and the text. Empty when no column qualifies.
    ///
    /// Both the CSV file source and the CLI's Redis input choose their columns by this rule.
    pub fn numeric_columns<'a>(
        &mut self,
        rows: impl IntoIterator<Item = Option<&'a [u8]>>,
        source: &dyn std::fmt::Display,
    ) -> Vec<String> {
        self.numeric_column_indices(rows, source)
            .into_iter()
            .map(|c| self.header[c].clone())
            .collect()
    }

    fn numeric_column_indices<'a>(
        &mut self,
        rows: impl IntoIterator<Item = Option<&'a [u8]>>,
        source: &dyn std::fmt::Display,
    ) -> Vec<usize> {
        let n = self.header.len();
        let (mut seen, mut text_at) = (vec![false; n], vec![None; n]);
        let mut fields: Vec<Option<Result<(), String>>> = Vec::with_capacity(n);
        for (row, line) in (1..=INFER_ROWS).zip(rows) {
            let Some(bytes) = line else {
                continue;
            };
            if self.split(bytes) != n {
                continue;
            }
            // Per column: None missing, Ok a number, Err a text.
            fields.clear();
            fields.extend((0..n).map(|column| {
                match std::str::from_utf8(self.field(column)).map(str::trim) {
                    Ok("" | "NA") => None,
                    Ok(t) if t.parse::<f64>().is_ok() => Some(Ok(())),
                    Ok(t) => Some(Err(t.chars().take(40).collect())),
                    Err(_) => Some(Err("(not UTF-8)".to_string())),
                }
            }));
            if !fields.iter().any(|f| matches!(f, Some(Ok(_)))) {
                continue;
            }
            for (column, field) in fields.drain(..).enumerate() {
                match field {
                    Some(Ok(())) => seen[column] = true,
                    Some(Err(text)) if text_at[column].is_none() => {
                        text_at[column] = Some((row, text));
                    }
                    _ => {}
                }
            }
        }
        for column in 0..n {
            if let (true, Some((row, text))) = (seen[column], &text_at[column]) {
                tracing::warn!(
                    source = %source,
                    "column `{}` is left out of the default columns: data row {row} holds \
                     `{text}`, not a number; name the columns to read it (rows without a \
                     number in it are then skipped and counted)",
                    self.header[column]
                );
            }
        }
        (0..n)
            .filter(|&c| seen[c] && text_at[c].is_none())
            .collect()
    }

    /// Refuses a selected column whose name is empty or appears more than once in the
    /// header: its values could not be told apart from another column's by name.
    fn check_selected(&self, path: &Path) -> Result<(), IoError> {
        for &column in &self.selected {
            let name = &self.header[column];
            if name.is_empty() {
                return Err(bad_header(
                    path,
                    &format!(
                        "column {} has an empty name in the header; name it so it can be told apart",
                        column + 1
                    ),
                ));
            }
            let positions: Vec<String> = (0..self.header.len())
                .filter(|&i| self.header[i] == *name)
                .map(|i| (i + 1).to_string())
                .collect();
            if positions.len() > 1 {
                return Err(bad_header(
                    path,
                    &format!(
                        "the column name `{name}` appears {} times in the header (columns {}); \
                         rename the duplicates so each column has its own name",
                        positions.len(),
                        positions.join(", ")
                    ),
                ));
            }
        }
        Ok(())
    }

    /// A parser of the header line's columns, none selected yet.
    fn from_header(header: &str, delimiter: u8) -> CsvRowParser {
        let mut parser = CsvRowParser::with_header(Vec::new(), delimiter);
        let header = header.strip_prefix('\u{feff}').unwrap_or(header);
        let count = parser.split(header.as_bytes());
        parser.header = (0..count)
            .map(|i| String::from_utf8_lossy(parser.field(i)).trim().to_string())
            .collect();
        parser
    }

    fn with_header(header: Vec<String>, delimiter: u8) -> CsvRowParser {
        CsvRowParser {
            header,
            selected: Vec::new(),
            delimiter,
            reader: reader(delimiter),
            out: Vec::new(),
            ends: Vec::new(),
        }
    }

    fn column_index(&self, name: &str, path: &Path) -> Result<usize, IoError> {
        self.header
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| IoError::UnknownColumn {
                name: name.to_string(),
                path: path.to_path_buf(),
                available: self.header.clone(),
            })
    }

    /// Every column of the header.
    pub fn header(&self) -> &[String] {
        &self.header
    }

    /// The columns that make a record, in record order.
    pub fn column_names(&self) -> Vec<String> {
        self.selected
            .iter()
            .map(|&i| self.header[i].clone())
            .collect()
    }

    /// Parses one line (without its terminator) into a record.
    pub fn parse(&mut self, line: &[u8]) -> Result<Vec<f64>, SkipReason> {
        self.split_checked(line)?;
        (0..self.selected.len())
            .map(|k| self.selected_value(k))
            .collect()
    }

    /// Parses one line into a record in which a selected field that is missing, not a
    /// number, NaN or ±∞ is NaN, for callers that count missing values per column; only a
    /// line that is not a row of the header's shape (wrong field count, unbalanced quote)
    /// is an error.
    ///
    /// ```
    /// use spate_io::CsvRowParser;
    ///
    /// let mut parser = CsvRowParser::new("a,b,c", None, b',')?;
    /// let row = parser.parse_or_nan(b"1,NA,x").expect("a row of three fields");
    /// assert_eq!(row[0], 1.0);
    /// assert!(row[1].is_nan() && row[2].is_nan());
    /// assert!(parser.parse_or_nan(b"1,2").is_err());
    /// # Ok::<(), spate_io::IoError>(())
    /// ```
    pub fn parse_or_nan(&mut self, line: &[u8]) -> Result<Vec<f64>, SkipReason> {
        self.split_checked(line)?;
        Ok((0..self.selected.len())
            .map(|k| self.selected_value(k).unwrap_or(f64::NAN))
            .collect())
    }

    /// Splits `line`, refusing a line that is not a row of the header's shape.
    fn split_checked(&mut self, line: &[u8]) -> Result<(), SkipReason> {
        // Quotes pair up on a well-formed line (open/close, or doubled inside a field), so
        // an odd count means a field runs past the line: both halves of a row split by a
        // quoted line break land here instead of parsing as garbage.
        if memchr::memchr_iter(b'"', line).count() % 2 == 1 {
            return Err(SkipReason::UnbalancedQuote);
        }
        let found = self.split(line);
        if found != self.header.len() {
            return Err(SkipReason::FieldCount {
                expected: self.header.len(),
                found,
            });
        }
        Ok(())
    }

    /// The `k`-th selected field of the line last split, as a finite number.
    fn selected_value(&self, k: usize) -> Result<f64, SkipReason> {
        let column = self.selected[k];
        let named = || self.header[column].clone();
        let text = std::str::from_utf8(self.field(column))
            .map_err(|_| SkipReason::NotNumeric { column: named() })?
            .trim();
        if text.is_empty() || text == "NA" {
            return Err(SkipReason::Missing { column: named() });
        }
        let value: f64 = text
            .parse()
            .map_err(|_| SkipReason::NotNumeric { column: named() })?;
        if !value.is_finite() {
            return Err(SkipReason::NonFinite { column: named() });
        }
        Ok(value)
    }

    /// Splits `line` into `self.out`/`self.ends`; returns the number of fields. An empty
    /// line is one empty field.
    fn split(&mut self, line: &[u8]) -> usize {
        if line.is_empty() {
            self.out.clear();
            self.ends.clear();
            self.ends.push(0);
            return 1;
        }
        self.reader.reset();
        // Unescaping only shrinks, and there are at most len + 1 fields; the loop still
        // grows the buffers rather than trust that.
        self.out.resize(line.len().max(1), 0);
        self.ends.resize(line.len() + 1, 0);
        let (mut input, mut nout, mut nend) = (line, 0, 0);
        loop {
            let (result, read, wrote, ended) =
                self.reader
                    .read_record(input, &mut self.out[nout..], &mut self.ends[nend..]);
            input = &input[read..];
            nout += wrote;
            nend += ended;
            match result {
                ReadRecordResult::OutputFull => {
                    let len = self.out.len();
                    self.out.resize(len * 2, 0);
                }
                ReadRecordResult::OutputEndsFull => {
                    let len = self.ends.len();
                    self.ends.resize(len * 2, 0);
                }
                ReadRecordResult::InputEmpty if !input.is_empty() || read > 0 => {}
                ReadRecordResult::InputEmpty | ReadRecordResult::Record | ReadRecordResult::End => {
                    break;
                }
            }
        }
        self.ends.truncate(nend);
        nend
    }

    fn field(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.out[start..self.ends[i]]
    }
}

fn reader(delimiter: u8) -> csv_core::Reader {
    // Lines never contain `\n`, and a `\r` inside one is data, not a row break: make `\n`
    // the only terminator so one line is always one row.
    csv_core::ReaderBuilder::new()
        .delimiter(delimiter)
        .terminator(csv_core::Terminator::Any(b'\n'))
        .build()
}

/// Streams the rows of a CSV file with a header (plain or gzip) as `Vec<f64>` records of
/// selected numeric columns, a fixed number of rows per batch.
///
/// - **Columns**: [`columns`](CsvBuilder::columns) names them (an unknown name is an
///   [`IoError::UnknownColumn`] at build); by default every column whose values in the
///   first 100 data rows are all numbers (or missing) is used.
/// - **Bad rows**: a missing value (empty or `NA`), a non-numeric field, NaN or ±∞, a wrong
///   number of fields, invalid UTF-8 in a selected field, or a line over
///   [`max_line_bytes`](CsvBuilder::max_line_bytes) skips the row: counted in
///   [`SourceBatch::skipped`] and, with a [`dead_letter`](CsvBuilder::dead_letter) file,
///   written there with its line number and reason. Never turned into a 0.
/// - **Rows are lines**: quoted fields may hold delimiters and doubled quotes but not line
///   breaks: such a row is split in two lines with an odd number of quotes each, and both
///   are skipped and counted ([`SkipReason::UnbalancedQuote`]). This keeps each row's
///   memory bounded and offsets on line boundaries.
/// - **Replay and backpressure** as for [`FileReplaySource`](crate::FileReplaySource): the
///   offset is the byte offset and line number; a batch consumes at most
///   `min(rows_per_batch, max_records)` lines.
///
/// ```
/// use spate_io::{CsvSource, Source};
/// use spate_core::BatchTime;
///
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("flights.csv");
/// std::fs::write(&path, "carrier,dep_delay,arr_delay\nUA,2,11\nAA,NA,3\nB6,-1,-18\n")?;
/// let mut source = CsvSource::options(&path).rows_per_batch(10).build()?;
/// assert_eq!(source.column_names(), ["dep_delay", "arr_delay"]);
/// let batch = source.next_batch(BatchTime(1000), None)?;
/// assert_eq!(batch.records, [vec![2.0, 11.0], vec![-1.0, -18.0]]);
/// assert_eq!(batch.skipped, 1); // the NA row
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct CsvSource {
    replay: LineReplay,
    parser: CsvRowParser,
}

/// Configures a [`CsvSource`]; see [`CsvSource::options`].
#[derive(Clone, Debug)]
pub struct CsvBuilder {
    path: PathBuf,
    columns: Option<Vec<String>>,
    rows_per_batch: u64,
    delimiter: u8,
    max_line_bytes: usize,
    dead_letter: Option<PathBuf>,
}

impl CsvBuilder {
    /// The columns that make a record, in record order (default: every numeric column).
    pub fn columns(mut self, names: &[&str]) -> Self {
        self.columns = Some(names.iter().map(|s| s.to_string()).collect());
        self
    }

    /// Rows (lines) per batch (default 1000).
    pub fn rows_per_batch(mut self, rows: u64) -> Self {
        self.rows_per_batch = rows;
        self
    }

    /// The field delimiter (default `,`).
    pub fn delimiter(mut self, delimiter: u8) -> Self {
        self.delimiter = delimiter;
        self
    }

    /// The longest line kept, in bytes (default 1 MiB); longer rows are skipped and counted.
    pub fn max_line_bytes(mut self, bytes: usize) -> Self {
        self.max_line_bytes = bytes;
        self
    }

    /// Appends every skipped row to this file: `PATH:LINE<TAB>REASON<TAB>EXCERPT`. The
    /// file's length is part of the source's offset, and seeking to an offset cuts the file
    /// back to it, so replayed batches do not write their entries twice.
    pub fn dead_letter(mut self, path: impl Into<PathBuf>) -> Self {
        self.dead_letter = Some(path.into());
        self
    }

    /// Checks the parameters, reads the header and resolves the columns.
    pub fn build(self) -> Result<CsvSource, IoError> {
        check_max_line_bytes(self.max_line_bytes)?;
        if self.rows_per_batch == 0 {
            return Err(IoError::invalid("rows_per_batch", 0, "must be at least 1"));
        }
        if matches!(self.delimiter, b'"' | b'\n' | b'\r') {
            return Err(IoError::invalid(
                "delimiter",
                char::from(self.delimiter),
                "cannot be a quote or a line break",
            ));
        }
        let path = self.path.as_path();
        let mut file = TextFile::open(path, self.max_line_bytes, FilePosition::default())?;
        let header = match file.lines.next_raw().map_err(|e| IoError::io(path, e))? {
            Some(RawLine::Bytes(bytes)) => std::str::from_utf8(bytes)
                .map_err(|_| bad_header(path, "the header line is not valid UTF-8"))?
                .to_string(),
            Some(RawLine::TooLong { .. } | RawLine::Unterminated { .. } | RawLine::Dropping) => {
                return Err(bad_header(
                    path,
                    "the header line is longer than the line limit",
                ));
            }
            None => {
                return Err(bad_header(
                    path,
                    "the file is empty; a header line is required",
                ));
            }
        };
        let mut parser = CsvRowParser::from_header(&header, self.delimiter);
        parser.selected = match &self.columns {
            Some(names) => names
                .iter()
                .map(|name| parser.column_index(name, path))
                .collect::<Result<_, _>>()?,
            None => infer_numeric(&mut parser, &mut file, path)?,
        };
        parser.check_selected(path)?;
        let first = FilePosition {
            byte: header_end(path, self.max_line_bytes)?,
            line: 1,
        };
        let replay = LineReplay::open(
            path,
            format!("csv({})", path.display()),
            self.max_line_bytes,
            Quota::PerBatch(self.rows_per_batch),
            self.dead_letter.as_deref(),
            first,
        )?;
        Ok(CsvSource { replay, parser })
    }
}

fn bad_header(path: &Path, reason: &str) -> IoError {
    IoError::BadHeader {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}

/// Where the header line ends, read afresh (the inference pass consumed more).
fn header_end(path: &Path, max_line_bytes: usize) -> Result<u64, IoError> {
    let mut file = TextFile::open(path, max_line_bytes, FilePosition::default())?;
    file.lines.next_raw().map_err(|e| IoError::io(path, e))?;
    Ok(file.lines.position())
}

/// The columns of the first data rows of a file to read by default (see
/// [`CsvRowParser::numeric_columns`]).
fn infer_numeric(
    parser: &mut CsvRowParser,
    file: &mut TextFile,
    path: &Path,
) -> Result<Vec<usize>, IoError> {
    let mut sample: Vec<Option<Vec<u8>>> = Vec::with_capacity(INFER_ROWS);
    while sample.len() < INFER_ROWS {
        match file.lines.next_raw().map_err(|e| IoError::io(path, e))? {
            None => break,
            Some(RawLine::Bytes(bytes)) => sample.push(Some(bytes.to_vec())),
            Some(_) => sample.push(None),
        }
    }
    let columns =
        parser.numeric_column_indices(sample.iter().map(Option::as_deref), &path.display());
    if columns.is_empty() {
        return Err(bad_header(
            path,
            "no column is numeric in the first 100 rows; name the columns to read",
        ));
    }
    Ok(columns)
}

impl CsvSource {
    /// Starts configuring a source that reads `path`.
    pub fn options(path: impl AsRef<Path>) -> CsvBuilder {
        CsvBuilder {
            path: path.as_ref().to_path_buf(),
            columns: None,
            rows_per_batch: DEFAULT_ROWS_PER_BATCH,
            delimiter: b',',
            max_line_bytes: DEFAULT_MAX_LINE_BYTES,
            dead_letter: None,
        }
    }

    /// The columns that make a record, in record order.
    pub fn column_names(&self) -> Vec<String> {
        self.parser.column_names()
    }

    /// Every column of the header.
    pub fn header(&self) -> &[String] {
        self.parser.header()
    }

    /// The parser this source applies to each line, for checking a line by hand.
    pub fn parser(&self) -> CsvRowParser {
        self.parser.clone()
    }

    /// Where the next batch starts.
    pub fn position(&self) -> FilePosition {
        self.replay.position()
    }
}

impl Source for CsvSource {
    type Item = Vec<f64>;

    fn name(&self) -> String {
        self.replay.name().to_string()
    }

    fn next_batch(
        &mut self,
        _time: BatchTime,
        max_records: Option<u64>,
    ) -> spate_core::Result<SourceBatch<Vec<f64>>> {
        let parser = &mut self.parser;
        Ok(self
            .replay
            .next_batch(max_records, |line| parser.parse(line))?)
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
