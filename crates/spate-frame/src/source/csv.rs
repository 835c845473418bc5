//! CSV files in row chunks: `csv-core` finds record boundaries (quoted fields may hold
//! newlines), polars parses each chunk with the stream's schema.

use super::{Chunk, Position, ReadOptions, RowReader, TextInput};
use crate::error::{FrameError, Result};
use csv_core::ReadRecordResult;
use polars::prelude::*;
use std::io::Cursor;
use std::path::{Path, PathBuf};

/// The longest line ending (`\r\n`), which a row's length limit does not count.
const LINE_END: usize = 2;

/// One record's raw bytes as read, and what the splitter saw in it.
struct RawRecord {
    fields: usize,
    too_long: bool,
}

/// Splits a text input into raw CSV records.
struct Records {
    path: PathBuf,
    input: TextInput,
    parser: csv_core::Reader,
    out: Vec<u8>,
    ends: Vec<usize>,
    max_bytes: usize,
    /// A record read through `csv-core`, before it is appended.
    slow: Vec<u8>,
}

impl Records {
    fn open(path: &Path, at: u64, max_bytes: usize) -> Result<Records> {
        Ok(Records {
            path: path.to_path_buf(),
            input: TextInput::open(path, at)?,
            parser: csv_core::Reader::new(),
            out: vec![0; 1 << 16],
            ends: vec![0; 1024],
            max_bytes,
            slow: Vec::new(),
        })
    }

    /// The next record's bytes into `raw` (blank lines before it skipped, its line ending
    /// removed); `None` at the end of the input.
    fn next(&mut self, raw: &mut Vec<u8>) -> Result<Option<RawRecord>> {
        raw.clear();
        self.append_next(raw)
    }

    /// The next record's bytes appended to `out`, as [`next`](Self::next) gives them.
    ///
    /// A record that is one line without quotes or carriage returns inside it, whole in the
    /// input's buffer (almost every record of most files), is found with `memchr` and copied
    /// once; any other goes through `csv-core`, which follows quoted fields across lines.
    fn append_next(&mut self, out: &mut Vec<u8>) -> Result<Option<RawRecord>> {
        loop {
            let buf = self
                .input
                .fill()
                .map_err(|e| FrameError::io(&self.path, e))?;
            let Some(newline) = memchr::memchr(b'\n', buf) else {
                break;
            };
            let line = &buf[..newline];
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if memchr::memchr2(b'"', b'\r', line).is_some() {
                break;
            }
            if line.is_empty() {
                // A blank line: not a record.
                self.input.consume(newline + 1);
                continue;
            }
            let fields = memchr::memchr_iter(b',', line).count() + 1;
            let too_long = line.len() > self.max_bytes;
            if !too_long {
                out.extend_from_slice(line);
            }
            self.input.consume(newline + 1);
            return Ok(Some(RawRecord { fields, too_long }));
        }
        let mut raw = std::mem::take(&mut self.slow);
        let record = self.read_with_csv_core(&mut raw);
        out.extend_from_slice(&raw);
        self.slow = raw;
        record
    }

    /// The next record through `csv-core` into `raw`.
    ///
    /// A blank line is a record of its own to `csv-core`, so what it reads for a record is
    /// the record and at most its line ending ([`LINE_END`]).
    fn read_with_csv_core(&mut self, raw: &mut Vec<u8>) -> Result<Option<RawRecord>> {
        raw.clear();
        let mut fields = 0;
        let mut too_long = false;
        loop {
            let buf = self
                .input
                .fill()
                .map_err(|e| FrameError::io(&self.path, e))?;
            let at_end = buf.is_empty();
            let (res, nin, _, nend) = self.parser.read_record(buf, &mut self.out, &mut self.ends);
            // The line ending is kept until the record ends, so room is left for it: the
            // limit applies to the record alone, as on the `memchr` path.
            if !too_long && raw.len() + nin <= self.max_bytes.saturating_add(LINE_END) {
                raw.extend_from_slice(&buf[..nin]);
            } else {
                too_long = true;
            }
            self.input.consume(nin);
            fields += nend;
            match res {
                ReadRecordResult::Record => {
                    let start = raw.iter().position(|b| *b != b'\n' && *b != b'\r');
                    let Some(start) = start else {
                        // A blank line: not a record.
                        raw.clear();
                        fields = 0;
                        continue;
                    };
                    raw.drain(..start);
                    while matches!(raw.last(), Some(b'\n' | b'\r')) {
                        raw.pop();
                    }
                    too_long |= raw.len() > self.max_bytes;
                    return Ok(Some(RawRecord { fields, too_long }));
                }
                ReadRecordResult::End => {
                    raw.clear();
                    return Ok(None);
                }
                ReadRecordResult::InputEmpty if at_end && nin == 0 && nend == 0 => {
                    // The parser needs one more empty read to report the end.
                    continue;
                }
                _ => {}
            }
        }
    }
}

/// The fields of one raw record, unquoted.
fn fields_of(raw: &[u8]) -> Vec<String> {
    let mut parser = csv_core::Reader::new();
    let mut out = vec![0; raw.len() + 1];
    let mut ends = vec![0; raw.len() + 2];
    let mut input = raw;
    let mut n_out = 0;
    let mut n_ends = 0;
    loop {
        let (res, nin, nout, nend) =
            parser.read_record(input, &mut out[n_out..], &mut ends[n_ends..]);
        input = &input[nin..];
        n_out += nout;
        n_ends += nend;
        match res {
            ReadRecordResult::InputEmpty if !input.is_empty() => continue,
            ReadRecordResult::InputEmpty => {
                // Flush the last field.
                let (_, _, _, nend) =
                    parser.read_record(&[], &mut out[n_out..], &mut ends[n_ends..]);
                n_ends += nend;
                break;
            }
            _ => break,
        }
    }
    let mut start = 0;
    ends[..n_ends]
        .iter()
        .map(|&end| {
            let field = String::from_utf8_lossy(&out[start..end]).into_owned();
            start = end;
            field
        })
        .collect()
}

/// Reads the header and checks its names: present, non-empty, unique.
fn read_header(records: &mut Records, path: &Path) -> Result<Vec<String>> {
    let mut raw = Vec::new();
    let Some(header) = records.next(&mut raw)? else {
        return Err(FrameError::BadInput {
            path: path.to_path_buf(),
            reason: "the file is empty; a CSV input needs a header line".into(),
        });
    };
    if header.too_long {
        return Err(FrameError::BadInput {
            path: path.to_path_buf(),
            reason: "the header line is longer than the row limit".into(),
        });
    }
    let names = fields_of(&raw);
    for (i, name) in names.iter().enumerate() {
        if name.trim().is_empty() {
            return Err(FrameError::BadInput {
                path: path.to_path_buf(),
                reason: format!("column {} of the header has no name", i + 1),
            });
        }
        if names[..i].contains(name) {
            return Err(FrameError::BadInput {
                path: path.to_path_buf(),
                reason: format!("the header names column `{name}` twice"),
            });
        }
    }
    Ok(names)
}

fn parse_options(options: &ReadOptions) -> CsvParseOptions {
    let nulls: Vec<PlSmallStr> = options
        .null_values
        .iter()
        .map(|s| s.as_str().into())
        .collect();
    CsvParseOptions::default()
        .with_null_values(Some(NullValues::AllColumns(nulls)))
        .with_try_parse_dates(options.try_parse_dates)
}

/// The schema of a CSV file: its header's names, types inferred by polars from the first
/// `infer_schema_rows` rows.
pub(crate) fn infer_schema(path: &Path, options: &ReadOptions) -> Result<Schema> {
    let mut records = Records::open(path, 0, options.max_row_bytes)?;
    let names = read_header(&mut records, path)?;
    let mut sample = Vec::new();
    let mut raw = Vec::new();
    let mut rows = 0;
    while rows < options.infer_schema_rows {
        match records.next(&mut raw)? {
            None => break,
            Some(r) if r.too_long || r.fields != names.len() => continue,
            Some(_) => {
                sample.extend_from_slice(&raw);
                sample.push(b'\n');
                rows += 1;
            }
        }
    }
    // Parse with the header's names as given (polars would rename nothing here: they are
    // checked unique).
    let frame = CsvReadOptions::default()
        .with_has_header(false)
        .with_infer_schema_length(Some(rows.max(1)))
        .with_parse_options(parse_options(options))
        .into_reader_with_file_handle(Cursor::new(sample))
        .finish();
    let mut schema = Schema::with_capacity(names.len());
    match frame {
        Ok(df) if rows > 0 => {
            for (name, dtype) in names.iter().zip(df.schema().iter_values()) {
                schema.insert(name.as_str().into(), dtype.clone());
            }
        }
        Ok(_) => {
            // A header and no rows: every column is text.
            for name in &names {
                schema.insert(name.as_str().into(), DataType::String);
            }
        }
        Err(e) => {
            return Err(FrameError::BadInput {
                path: path.to_path_buf(),
                reason: format!("cannot infer column types: {e}"),
            });
        }
    }
    Ok(schema)
}

/// A CSV file read in row chunks with a fixed schema.
pub(crate) struct CsvReader {
    path: PathBuf,
    records: Records,
    schema: SchemaRef,
    parse: CsvParseOptions,
    row: u64,
    done: bool,
}

impl CsvReader {
    pub(crate) fn open(
        path: &Path,
        schema: &SchemaRef,
        options: &ReadOptions,
        at: Position,
    ) -> Result<CsvReader> {
        let mut records = Records::open(path, at.byte, options.max_row_bytes)?;
        if at.byte == 0 {
            let names = read_header(&mut records, path)?;
            if !names
                .iter()
                .map(String::as_str)
                .eq(schema.iter_names().map(|n| n.as_str()))
            {
                return Err(FrameError::BadInput {
                    path: path.to_path_buf(),
                    reason: format!(
                        "the header's columns ({}) are not the schema's ({})",
                        names.join(", "),
                        schema
                            .iter_names()
                            .map(|n| n.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                });
            }
        }
        Ok(CsvReader {
            path: path.to_path_buf(),
            records,
            schema: schema.clone(),
            parse: parse_options(options),
            row: at.row,
            done: false,
        })
    }

    fn parse(&self, bytes: &[u8]) -> PolarsResult<DataFrame> {
        CsvReadOptions::default()
            .with_has_header(false)
            .with_schema(Some(self.schema.clone()))
            .with_parse_options(self.parse.clone())
            .into_reader_with_file_handle(Cursor::new(bytes))
            .finish()
    }

    /// Parses rows one at a time (after a chunk failed): good rows are kept, bad ones
    /// skipped and counted. Row `i` of `chunk` ends (after its newline) at `ends[i]`.
    fn parse_each(&self, chunk: &[u8], ends: &[usize]) -> Result<(DataFrame, u64)> {
        let mut good = DataFrame::empty_with_schema(&self.schema);
        let mut skipped = 0;
        let mut start = 0;
        for &end in ends {
            let row = &chunk[start..end];
            start = end;
            match self.parse(row) {
                Ok(df) if df.height() == 1 => {
                    good.vstack_mut_owned(df)?;
                }
                Ok(_) | Err(_) => {
                    skipped += 1;
                    let row = String::from_utf8_lossy(row.strip_suffix(b"\n").unwrap_or(row));
                    tracing::warn!(file = %self.path.display(), row = %row, "skipping a row that does not fit the schema");
                }
            }
        }
        Ok((good, skipped))
    }
}

impl RowReader for CsvReader {
    fn next_rows(&mut self, max_rows: usize) -> Result<Chunk> {
        let start = self.records.input.offset;
        // The rows, each ending in a newline, and where each ends: one buffer for the chunk,
        // not one per row.
        let mut chunk = Vec::new();
        let mut ends: Vec<usize> = Vec::new();
        let mut skipped = 0;
        let columns = self.schema.len();
        while ends.len() < max_rows {
            let row_start = chunk.len();
            match self.records.append_next(&mut chunk)? {
                None => {
                    self.done = true;
                    break;
                }
                Some(r) if r.too_long || r.fields != columns => {
                    chunk.truncate(row_start);
                    skipped += 1;
                    tracing::warn!(
                        file = %self.path.display(),
                        fields = r.fields,
                        expected = columns,
                        too_long = r.too_long,
                        "skipping a malformed CSV row"
                    );
                }
                Some(_) => {
                    chunk.push(b'\n');
                    ends.push(chunk.len());
                }
            }
        }
        if !self.done {
            // Report the end as soon as it is reached, not one empty batch later.
            self.done = self
                .records
                .input
                .fill()
                .map_err(|e| FrameError::io(&self.path, e))?
                .is_empty();
        }
        let bytes = self.records.input.offset - start;
        let frame = if ends.is_empty() {
            DataFrame::empty_with_schema(&self.schema)
        } else {
            match self.parse(&chunk) {
                Ok(df) if df.height() == ends.len() => df,
                _ => {
                    let (df, bad) = self.parse_each(&chunk, &ends)?;
                    skipped += bad;
                    df
                }
            }
        };
        self.row += (frame.height() as u64) + skipped;
        Ok(Chunk {
            frame,
            skipped,
            bytes,
        })
    }

    fn is_done(&self) -> bool {
        self.done
    }

    fn position(&self) -> Position {
        Position {
            byte: self.records.input.offset,
            row: self.row,
        }
    }
}
