//! `redis://` inputs and outputs, shared by the commands that accept them.
//!
//! An input `redis://HOST:PORT/STREAM[?field=F&start=…&bounded=true]` reads the entries of
//! a Redis stream (one record per entry, the value of field `line` unless `field` says
//! otherwise); an output `redis://HOST:PORT/PREFIX` writes each batch's rows to the hash
//! `PREFIX:TIME` and other results to `PREFIX:NAME`. See the `spate-redis` crate docs.
//!
//! For the CSV commands (`stats`, `kmeans`, `regress`) a stream holds the lines of a CSV
//! file, one row per entry, the header first: [`RedisCsv`] reads the header (and a sample
//! for choosing numeric columns), then the rows after it. They need a bounded stream
//! (`bounded=true`), since they write their results when the input ends.

use spate::BatchTime;
use spate::io::{CsvFileSink, CsvRecord, CsvRowParser, CsvSource, FileReplaySource};
use spate::redis::{EntryId, RedisHashSink, RedisStreamSource, RedisUrl, StartFrom};
use spate::stream::{Source, SourceBatch, SourceOffset};
use std::fmt::Display;
use std::path::Path;

/// Rows read to choose the numeric columns when none are named (as for a file).
const INFER_ROWS: u64 = 100;

const SCHEME: &str = "redis://";

/// Whether an `--input` or `--output` names a Redis stream or key prefix.
pub fn is_redis(text: &str) -> bool {
    text.starts_with(SCHEME)
}

/// Whether the input's URL asks for a bounded read (`bounded=true`): the job then ends at
/// the entry that was last when it started, and its batches follow the input rather than
/// the clock (unless `--realtime`).
pub fn is_bounded(url: &str) -> bool {
    RedisUrl::parse(url).is_ok_and(|u| u.option("bounded") == Some("true"))
}

/// The stream at `url` as text records, at most `per_batch` entries per batch.
pub fn line_source(url: &str, per_batch: u64) -> spate::Result<RedisStreamSource> {
    Ok(RedisStreamSource::options(url)
        .entries_per_batch(per_batch)
        .build()?)
}

/// Where a command writes per-batch results: CSV files in a directory or Redis hashes.
#[derive(Clone)]
pub enum BatchSink {
    /// `DIR/{prefix}-{time}.csv`.
    Files(CsvFileSink),
    /// The hash `PREFIX:TIME` of a Redis server.
    Redis(RedisHashSink),
}

impl BatchSink {
    /// A sink for `output`: a `redis://` URL, else a directory (created if missing) holding
    /// `{prefix}-{time}.csv` files with `header`.
    pub fn open(output: &Path, prefix: &str, header: &[&str]) -> spate::Result<BatchSink> {
        match output.to_str().filter(|o| is_redis(o)) {
            Some(url) => Ok(BatchSink::Redis(RedisHashSink::open(url)?)),
            None => Ok(BatchSink::Files(CsvFileSink::new(output, prefix, header)?)),
        }
    }

    /// Writes (replaces) the results of batch `time`.
    pub fn write_batch<K: Display, V: Display>(
        &self,
        time: BatchTime,
        rows: &[(K, V)],
    ) -> spate::Result<()>
    where
        (K, V): CsvRecord,
    {
        match self {
            BatchSink::Files(sink) => sink.write_batch(time, rows).map(drop).map_err(Into::into),
            BatchSink::Redis(sink) => sink.write_batch(time, rows).map_err(Into::into),
        }
    }
}

/// The `redis://` URL an input path holds, if it holds one.
pub fn redis_url(input: &Path) -> Option<&str> {
    input.to_str().filter(|t| is_redis(t))
}

/// Forwards every [`Source`] method of an enum to its variants' sources.
macro_rules! delegate_source {
    ($type:ty, $item:ty, $($variant:ident),+) => {
        impl Source for $type {
            type Item = $item;

            fn name(&self) -> String {
                match self { $(Self::$variant(s) => s.name()),+ }
            }

            fn start(&mut self) -> spate::Result<()> {
                match self { $(Self::$variant(s) => s.start()),+ }
            }

            fn next_batch(
                &mut self,
                time: BatchTime,
                max_records: Option<u64>,
            ) -> spate::Result<SourceBatch<$item>> {
                match self { $(Self::$variant(s) => s.next_batch(time, max_records)),+ }
            }

            fn is_exhausted(&self) -> bool {
                match self { $(Self::$variant(s) => s.is_exhausted()),+ }
            }

            fn offset(&self) -> Option<SourceOffset> {
                match self { $(Self::$variant(s) => s.offset()),+ }
            }

            fn seek(&mut self, offset: &SourceOffset) -> spate::Result<()> {
                match self { $(Self::$variant(s) => s.seek(offset)),+ }
            }

            fn stop(&mut self) {
                match self { $(Self::$variant(s) => s.stop()),+ }
            }
        }
    };
}

/// Text records: the lines of a file, or the entries of a Redis stream.
#[allow(clippy::large_enum_variant)] // one value per job: its size does not matter
pub enum LineInput {
    /// A file replayed line by line.
    File(FileReplaySource),
    /// A Redis stream, one record per entry.
    Redis(RedisStreamSource),
}

delegate_source!(LineInput, String, File, Redis);

/// Numeric CSV records: the rows of a CSV file, or of a Redis stream.
#[allow(clippy::large_enum_variant)] // one value per job: its size does not matter
pub enum CsvInput {
    /// A CSV file with its header line.
    File(CsvSource),
    /// A Redis stream of rows after its header entry.
    Redis(CsvRows),
}

delegate_source!(CsvInput, Vec<f64>, File, Redis);

/// A bounded Redis stream of CSV rows whose first entry is the header line.
pub struct RedisCsv {
    url: String,
    header: String,
    header_id: EntryId,
    sample: Vec<String>,
}

impl RedisCsv {
    /// Reads the header entry and the rows after it that choose the numeric columns.
    pub fn open(url: &str) -> spate::Result<RedisCsv> {
        if !is_bounded(url) {
            return Err(input_error(
                url,
                "this command writes its results when the input ends, so a Redis input must \
                 be bounded: add ?bounded=true (it then reads up to the entry that is last \
                 when the job starts)",
            ));
        }
        let mut source = RedisStreamSource::options(url)
            .entries_per_batch(1)
            .build()?;
        source.start()?;
        let header = source.next_batch(BatchTime(0), None)?.records.pop();
        let (Some(header), Some(header_id)) = (header, source.last_delivered()) else {
            return Err(input_error(
                url,
                "the stream is empty; its first entry must be the CSV header",
            ));
        };
        let mut rows = RedisStreamSource::options(url)
            .entries_per_batch(INFER_ROWS)
            .start_from(StartFrom::After(header_id))
            .build()?;
        rows.start()?;
        let sample = rows.next_batch(BatchTime(0), None)?.records;
        Ok(RedisCsv {
            url: url.to_string(),
            header,
            header_id,
            sample,
        })
    }

    /// The columns to read when none are named, by the rule a CSV file's are chosen by
    /// ([`CsvRowParser::numeric_columns`]) over the first 100 rows.
    pub fn numeric_columns(&self) -> spate::Result<Vec<String>> {
        let mut all = CsvRowParser::new(&self.header, None, b',')?;
        let chosen = all.numeric_columns(
            self.sample.iter().map(|row| Some(row.as_bytes())),
            &self.url,
        );
        if chosen.is_empty() {
            return Err(input_error(
                &self.url,
                &format!(
                    "no column is numeric in the first {INFER_ROWS} rows; name them with --columns"
                ),
            ));
        }
        Ok(chosen)
    }

    /// The header line.
    pub fn header(&self) -> &str {
        &self.header
    }

    /// The entries after the header, as text records.
    pub fn lines(&self, per_batch: u64) -> spate::Result<RedisStreamSource> {
        Ok(RedisStreamSource::options(&self.url)
            .entries_per_batch(per_batch)
            .start_from(StartFrom::After(self.header_id))
            .build()?)
    }

    /// The rows after the header as records of `columns`, in that order.
    pub fn rows(&self, columns: &[String], per_batch: u64) -> spate::Result<CsvRows> {
        let names: Vec<&str> = columns.iter().map(String::as_str).collect();
        Ok(CsvRows {
            lines: self.lines(per_batch)?,
            parser: CsvRowParser::new(&self.header, Some(&names), b',')?,
        })
    }
}

/// CSV rows from a Redis stream as records of selected numeric columns; a row with a
/// missing or non-numeric selected value, or the wrong number of fields, is skipped and
/// counted (as [`CsvSource`] does for a file).
pub struct CsvRows {
    lines: RedisStreamSource,
    parser: CsvRowParser,
}

impl Source for CsvRows {
    type Item = Vec<f64>;

    fn name(&self) -> String {
        format!("csv({})", self.lines.name())
    }

    fn start(&mut self) -> spate::Result<()> {
        self.lines.start()
    }

    fn next_batch(
        &mut self,
        time: BatchTime,
        max_records: Option<u64>,
    ) -> spate::Result<SourceBatch<Vec<f64>>> {
        let lines = self.lines.next_batch(time, max_records)?;
        let mut records = Vec::with_capacity(lines.records.len());
        let mut skipped = lines.skipped;
        for line in &lines.records {
            match self.parser.parse(line.as_bytes()) {
                Ok(record) => records.push(record),
                Err(_) => skipped += 1,
            }
        }
        Ok(SourceBatch {
            records,
            skipped,
            bytes: lines.bytes,
        })
    }

    fn is_exhausted(&self) -> bool {
        self.lines.is_exhausted()
    }

    fn offset(&self) -> Option<SourceOffset> {
        self.lines.offset()
    }

    fn seek(&mut self, offset: &SourceOffset) -> spate::Result<()> {
        self.lines.seek(offset)
    }

    fn stop(&mut self) {
        self.lines.stop();
    }
}

fn input_error(url: &str, message: &str) -> spate::Error {
    spate::Error::Source {
        source_name: url.to_string(),
        message: message.to_string(),
    }
}

/// The CSV rows of `input` (a file, or a `redis://` stream whose first entry is the header)
/// as records of `columns`, `rows_per_batch` rows per batch; skipped rows of a file go to
/// `dead_letter` if given (a Redis input has no dead-letter file).
pub fn csv_input(
    input: &Path,
    columns: &[String],
    rows_per_batch: u64,
    dead_letter: Option<&Path>,
) -> spate::Result<CsvInput> {
    if let Some(url) = redis_url(input) {
        if dead_letter.is_some() {
            return Err(input_error(
                url,
                "--dead-letter works with file inputs; a Redis input's skipped entries are counted and logged",
            ));
        }
        let rows = RedisCsv::open(url)?.rows(columns, rows_per_batch)?;
        return Ok(CsvInput::Redis(rows));
    }
    let names: Vec<&str> = columns.iter().map(String::as_str).collect();
    let mut options = CsvSource::options(input)
        .columns(&names)
        .rows_per_batch(rows_per_batch);
    if let Some(d) = dead_letter {
        options = options.dead_letter(d);
    }
    Ok(CsvInput::File(options.build()?))
}
