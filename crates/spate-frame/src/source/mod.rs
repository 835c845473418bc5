//! Frame sources: CSV, NDJSON and Parquet files replayed in row batches, and a directory
//! watched for new files.
//!
//! Every source knows its schema before the stream starts (inferred from the start of the
//! input, or given), so SQL over the stream is planned and checked when the graph is built,
//! and every frame it produces has exactly that schema: batches never change types.
//!
//! Bad input follows the project's rules: a row that cannot be parsed with the schema (a
//! wrong number of fields, a value of the wrong type, invalid JSON), or that is longer than
//! the row limit, is skipped, logged and counted in the batch's `skipped` (and in
//! [`SourceStats`]); it never stops the stream and never turns into a silent null. Missing
//! values (empty fields, `NA`, `null`) are nulls, never zeros.

mod csv;
mod directory;
mod ndjson;
mod parquet;
mod read_ahead;

pub use directory::{FrameDirectoryBuilder, FrameDirectorySource};

use crate::error::{FrameError, Result};
use crate::frame::Frame;
use polars::prelude::{DataFrame, DataType, Schema, SchemaRef};
use serde::{Deserialize, Serialize};
use spate_core::BatchTime;
use spate_core::stream::{Source, SourceBatch, SourceOffset};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Rows per batch when none is given.
pub const DEFAULT_ROWS_PER_BATCH: usize = 10_000;
/// Rows read to infer a CSV or NDJSON schema when none is given.
pub const DEFAULT_INFER_SCHEMA_ROWS: usize = 10_000;
/// Longest row (bytes) a text source accepts; longer rows are skipped and counted.
pub const DEFAULT_MAX_ROW_BYTES: usize = 1 << 20;

/// A file format frames are read from or written to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum FileFormat {
    /// Comma-separated values with a header line (plain or gzip).
    Csv,
    /// Newline-delimited JSON objects (plain or gzip).
    Ndjson,
    /// Apache Parquet.
    Parquet,
}

impl FileFormat {
    /// The format a file name's extension says (`.csv`, `.csv.gz`, `.ndjson`, `.jsonl`,
    /// `.json`, `.parquet`, `.pq`), if any.
    pub fn from_path(path: &Path) -> Option<FileFormat> {
        let name = path.file_name()?.to_str()?.to_ascii_lowercase();
        let name = name.strip_suffix(".gz").unwrap_or(&name);
        let ext = name.rsplit_once('.')?.1;
        match ext {
            "csv" => Some(FileFormat::Csv),
            "ndjson" | "jsonl" | "json" => Some(FileFormat::Ndjson),
            "parquet" | "pq" => Some(FileFormat::Parquet),
            _ => None,
        }
    }

    /// The format named `csv`, `ndjson` (or `jsonl`, `json`) or `parquet`.
    pub fn from_name(name: &str) -> Option<FileFormat> {
        match name.to_ascii_lowercase().as_str() {
            "csv" => Some(FileFormat::Csv),
            "ndjson" | "jsonl" | "json" => Some(FileFormat::Ndjson),
            "parquet" | "pq" => Some(FileFormat::Parquet),
            _ => None,
        }
    }

    /// The usual file extension.
    pub fn extension(self) -> &'static str {
        match self {
            FileFormat::Csv => "csv",
            FileFormat::Ndjson => "ndjson",
            FileFormat::Parquet => "parquet",
        }
    }
}

/// How text inputs are parsed, shared by file and directory sources.
#[derive(Clone, Debug)]
pub(crate) struct ReadOptions {
    pub infer_schema_rows: usize,
    pub max_row_bytes: usize,
    pub null_values: Vec<String>,
    pub try_parse_dates: bool,
    pub dtypes: Vec<(String, DataType)>,
    pub schema: Option<SchemaRef>,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            infer_schema_rows: DEFAULT_INFER_SCHEMA_ROWS,
            max_row_bytes: DEFAULT_MAX_ROW_BYTES,
            null_values: vec!["NA".into(), "N/A".into(), "null".into(), "NULL".into()],
            try_parse_dates: true,
            dtypes: Vec::new(),
            schema: None,
        }
    }
}

impl ReadOptions {
    /// `inferred` with the user's type overrides applied.
    fn finish_schema(&self, path: &Path, mut inferred: Schema) -> Result<Schema> {
        if let Some(schema) = &self.schema {
            return Ok(schema.as_ref().clone());
        }
        for (name, dtype) in &self.dtypes {
            match inferred.get_mut(name.as_str()) {
                Some(slot) => *slot = dtype.clone(),
                None => {
                    return Err(FrameError::BadInput {
                        path: path.to_path_buf(),
                        reason: format!(
                            "a type is given for column `{name}`, which the file does not have"
                        ),
                    });
                }
            }
        }
        Ok(inferred)
    }
}

/// Counters of a frame source, readable from any thread while it runs.
#[derive(Clone, Debug, Default)]
pub struct SourceStats {
    inner: Arc<Counters>,
}

#[derive(Debug, Default)]
struct Counters {
    rows: AtomicU64,
    skipped: AtomicU64,
    bytes: AtomicU64,
    files: AtomicU64,
    files_failed: AtomicU64,
}

impl SourceStats {
    /// Rows delivered in frames.
    pub fn rows(&self) -> u64 {
        self.inner.rows.load(Ordering::Relaxed)
    }

    /// Rows skipped as malformed or too long.
    pub fn skipped(&self) -> u64 {
        self.inner.skipped.load(Ordering::Relaxed)
    }

    /// Input bytes consumed (uncompressed, for gzip).
    pub fn bytes(&self) -> u64 {
        self.inner.bytes.load(Ordering::Relaxed)
    }

    /// Files read to the end (directory sources).
    pub fn files(&self) -> u64 {
        self.inner.files.load(Ordering::Relaxed)
    }

    /// Files that could not be read or did not fit the schema, skipped whole (directory
    /// sources).
    pub fn files_failed(&self) -> u64 {
        self.inner.files_failed.load(Ordering::Relaxed)
    }

    fn add(&self, rows: u64, skipped: u64, bytes: u64) {
        self.inner.rows.fetch_add(rows, Ordering::Relaxed);
        self.inner.skipped.fetch_add(skipped, Ordering::Relaxed);
        self.inner.bytes.fetch_add(bytes, Ordering::Relaxed);
    }
}

/// What a reader returns for one request.
pub(crate) struct Chunk {
    pub frame: DataFrame,
    pub skipped: u64,
    pub bytes: u64,
}

/// A reader of one file in row chunks, at a resumable position.
pub(crate) trait RowReader: Send {
    /// Up to `max_rows` rows (fewer only at the end of the file).
    fn next_rows(&mut self, max_rows: usize) -> Result<Chunk>;
    /// Whether the file is consumed.
    fn is_done(&self) -> bool;
    /// The position after the last rows returned.
    fn position(&self) -> Position;
}

/// A position in a file: the offset of the next row in bytes of the uncompressed content
/// (text formats) and the number of rows before it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Position {
    pub byte: u64,
    pub row: u64,
}

/// Opens `path` for reading in `format` at `at`, with the schema `schema`.
fn open_reader(
    path: &Path,
    format: FileFormat,
    schema: &SchemaRef,
    options: &ReadOptions,
    at: Position,
) -> Result<Box<dyn RowReader>> {
    Ok(match format {
        FileFormat::Csv => Box::new(csv::CsvReader::open(path, schema, options, at)?),
        FileFormat::Ndjson => Box::new(ndjson::NdjsonReader::open(path, schema, options, at)?),
        FileFormat::Parquet => Box::new(parquet::ParquetRows::open(path, schema, at)?),
    })
}

/// The schema of `path` in `format`: inferred from its first rows (text formats) or read
/// from its footer (Parquet), with the options' overrides.
pub(crate) fn infer_schema(
    path: &Path,
    format: FileFormat,
    options: &ReadOptions,
) -> Result<Schema> {
    if let Some(schema) = &options.schema {
        return Ok(schema.as_ref().clone());
    }
    let inferred = match format {
        FileFormat::Csv => csv::infer_schema(path, options)?,
        FileFormat::Ndjson => ndjson::infer_schema(path, options)?,
        FileFormat::Parquet => parquet::schema(path)?,
    };
    options.finish_schema(path, inferred)
}

/// Reads a text file's bytes, decompressing gzip (detected by its magic bytes), counting the
/// uncompressed bytes consumed.
pub(crate) struct TextInput {
    reader: Box<dyn BufRead + Send>,
    pub offset: u64,
}

impl TextInput {
    /// Opens `path` and positions it at uncompressed byte `at`; `at` must start a row, which
    /// is checked (the byte before it is a newline).
    pub(crate) fn open(path: &Path, at: u64) -> Result<TextInput> {
        let io = |e| FrameError::io(path, e);
        let mut file = std::fs::File::open(path).map_err(io)?;
        let mut magic = [0_u8; 2];
        let gzip = matches!(file.read(&mut magic), Ok(2) if magic == [0x1f, 0x8b]);
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        let mut reader: Box<dyn BufRead + Send> = if gzip {
            let decoder =
                flate2::read::MultiGzDecoder::new(BufReader::with_capacity(1 << 16, file));
            Box::new(BufReader::with_capacity(1 << 16, decoder))
        } else {
            if at > 0 {
                file.seek(SeekFrom::Start(at - 1)).map_err(io)?;
            }
            Box::new(BufReader::with_capacity(1 << 16, file))
        };
        if at > 0 {
            if gzip {
                let skip = at - 1;
                let skipped = std::io::copy(&mut (&mut reader).take(skip), &mut std::io::sink())
                    .map_err(io)?;
                if skipped < skip {
                    return Err(bad_offset(
                        path,
                        at,
                        "the file is shorter than the recorded position",
                    ));
                }
            }
            let mut last = [0_u8; 1];
            match reader.read_exact(&mut last) {
                // A row ends with a newline; after a CRLF row csv-core stops before the '\n'.
                Ok(()) if last[0] == b'\n' || last[0] == b'\r' => {}
                Ok(()) => {
                    return Err(bad_offset(
                        path,
                        at,
                        "the recorded position does not start a row; was the file rewritten?",
                    ));
                }
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                    return Err(bad_offset(
                        path,
                        at,
                        "the file is shorter than the recorded position",
                    ));
                }
                Err(e) => return Err(io(e)),
            }
        }
        Ok(TextInput { reader, offset: at })
    }

    pub(crate) fn fill(&mut self) -> std::io::Result<&[u8]> {
        self.reader.fill_buf()
    }

    pub(crate) fn consume(&mut self, n: usize) {
        self.reader.consume(n);
        self.offset += n as u64;
    }
}

fn bad_offset(path: &Path, at: u64, reason: &str) -> FrameError {
    FrameError::BadOffset {
        path: path.to_path_buf(),
        reason: format!("byte {at}: {reason}"),
    }
}

/// Cuts `frame` into `parts` frames of nearly equal rows (fewer when it has fewer rows).
pub(crate) fn cut(frame: DataFrame, parts: usize) -> Vec<Frame> {
    let n = frame.height();
    let parts = parts.clamp(1, n.max(1));
    if parts == 1 {
        return vec![Frame::new(frame)];
    }
    let per = n.div_ceil(parts);
    (0..n)
        .step_by(per)
        .map(|start| Frame::new(frame.slice(start as i64, per.min(n - start))))
        .collect()
}

/// Replays a CSV, NDJSON or Parquet file as a stream of frames, a fixed number of rows per
/// batch: the frame counterpart of `spate-io`'s `FileReplaySource`.
///
/// - **Schema**: inferred when the source is built (CSV and NDJSON: from the first
///   [`infer_schema_rows`](FrameFileBuilder::infer_schema_rows) rows, with dates and
///   datetimes recognized; Parquet: from the footer), or given. Column names come from the
///   header; string, integer, float, boolean, date and datetime columns keep their types.
/// - **Batches**: each batch takes the next [`rows_per_batch`](FrameFileBuilder::rows_per_batch)
///   rows, cut into [`frames_per_batch`](FrameFileBuilder::frames_per_batch) frames (one per
///   partition). A rate limit (`max_records`) caps the frames of a batch.
/// - **Bad rows** are skipped and counted (see the [module docs](self)).
/// - **Read-ahead**: the next batch's rows are parsed on a thread of their own while the
///   current batch runs ([`read_ahead`](FrameFileBuilder::read_ahead)); the batches are the
///   same as without it.
/// - **Replay**: the offset is the position of the next row (uncompressed byte and row
///   number); [`seek`](Source::seek) reopens the file there, so a restarted job reads
///   exactly the rows after its last checkpoint. A gzip file is decompressed up to the
///   position: O(position) time, constant memory.
/// - **End**: exhausted at the end of the file.
///
/// ```
/// use spate_frame::FrameFileSource;
/// use spate_core::stream::Source;
/// use spate_core::BatchTime;
///
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("flights.csv");
/// std::fs::write(&path, "carrier,delay\nAA,3\nUA,\nDL,7\n")?;
/// let mut source = FrameFileSource::options(&path).rows_per_batch(2).build()?;
/// assert_eq!(source.schema().len(), 2);
/// let first = source.next_batch(BatchTime(1000), None)?;
/// assert_eq!(first.records[0].height(), 2);
/// assert_eq!(first.records[0].column("delay")?.null_count(), 1); // empty field: null
/// let second = source.next_batch(BatchTime(2000), None)?;
/// assert_eq!((second.records[0].height(), second.skipped), (1, 0));
/// assert!(source.is_exhausted());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct FrameFileSource {
    path: PathBuf,
    format: FileFormat,
    schema: SchemaRef,
    options: ReadOptions,
    rows_per_batch: usize,
    frames_per_batch: usize,
    reader: read_ahead::ReadAhead,
    stats: SourceStats,
}

/// Configures a [`FrameFileSource`]; see [`FrameFileSource::options`].
#[derive(Clone, Debug)]
pub struct FrameFileBuilder {
    path: PathBuf,
    format: Option<FileFormat>,
    rows_per_batch: usize,
    frames_per_batch: usize,
    options: ReadOptions,
    read_ahead: bool,
}

impl FrameFileBuilder {
    /// Whether to read the next batch's rows on a thread of its own while the current batch
    /// is processed (default `true`). The batches are the same either way; reading ahead
    /// keeps one more batch in memory and stops once a rate limit changes the batch size.
    pub fn read_ahead(mut self, read_ahead: bool) -> Self {
        self.read_ahead = read_ahead;
        self
    }

    /// The file's format (default: from its extension).
    pub fn format(mut self, format: FileFormat) -> Self {
        self.format = Some(format);
        self
    }

    /// Rows per batch (default 10 000).
    pub fn rows_per_batch(mut self, rows: usize) -> Self {
        self.rows_per_batch = rows;
        self
    }

    /// Frames each batch is cut into, one per partition (default 1).
    pub fn frames_per_batch(mut self, frames: usize) -> Self {
        self.frames_per_batch = frames;
        self
    }

    /// Rows read to infer a CSV or NDJSON schema (default 10 000). Rows further on whose
    /// values do not fit the inferred types are skipped and counted: raise this, or give
    /// the type with [`dtype`](Self::dtype), when a column changes type late in the file.
    pub fn infer_schema_rows(mut self, rows: usize) -> Self {
        self.options.infer_schema_rows = rows;
        self
    }

    /// Reads column `name` as `dtype` instead of the inferred type.
    pub fn dtype(mut self, name: impl Into<String>, dtype: DataType) -> Self {
        self.options.dtypes.push((name.into(), dtype));
        self
    }

    /// Reads the file with this schema instead of inferring one.
    pub fn schema(mut self, schema: Schema) -> Self {
        self.options.schema = Some(Arc::new(schema));
        self
    }

    /// Field values read as null besides the empty field (default `NA`, `N/A`, `null`,
    /// `NULL`).
    pub fn null_values(mut self, values: Vec<String>) -> Self {
        self.options.null_values = values;
        self
    }

    /// Longest row accepted, in bytes (default 1 MiB); longer rows are skipped and counted.
    pub fn max_row_bytes(mut self, bytes: usize) -> Self {
        self.options.max_row_bytes = bytes;
        self
    }

    /// Checks the parameters, opens the file and infers its schema.
    ///
    /// # Errors
    /// [`FrameError::InvalidParameter`] for zero rows or frames per batch or an unknown
    /// format, [`FrameError::Io`] when the file cannot be opened, [`FrameError::BadInput`]
    /// when it has no header, duplicate or empty column names, or no readable schema.
    pub fn build(self) -> Result<FrameFileSource> {
        if self.rows_per_batch == 0 {
            return Err(FrameError::invalid(
                "rows_per_batch",
                0,
                "a batch needs at least one row",
            ));
        }
        if self.frames_per_batch == 0 {
            return Err(FrameError::invalid(
                "frames_per_batch",
                0,
                "a batch needs at least one frame",
            ));
        }
        if self.options.infer_schema_rows == 0 {
            return Err(FrameError::invalid(
                "infer_schema_rows",
                0,
                "inference needs at least one row",
            ));
        }
        if self.options.max_row_bytes == 0 {
            return Err(FrameError::invalid(
                "max_row_bytes",
                0,
                "rows need at least one byte",
            ));
        }
        let format = match self.format.or_else(|| FileFormat::from_path(&self.path)) {
            Some(f) => f,
            None => {
                return Err(FrameError::invalid(
                    "format",
                    self.path.display(),
                    "cannot tell the format from the file name; give csv, ndjson or parquet",
                ));
            }
        };
        let schema = Arc::new(infer_schema(&self.path, format, &self.options)?);
        let reader = open_reader(
            &self.path,
            format,
            &schema,
            &self.options,
            Position::default(),
        )?;
        Ok(FrameFileSource {
            path: self.path,
            format,
            schema,
            options: self.options,
            rows_per_batch: self.rows_per_batch,
            frames_per_batch: self.frames_per_batch,
            reader: read_ahead::ReadAhead::new(reader, self.read_ahead),
            stats: SourceStats::default(),
        })
    }
}

impl FrameFileSource {
    /// Options for replaying `path`.
    pub fn options(path: impl AsRef<Path>) -> FrameFileBuilder {
        FrameFileBuilder {
            path: path.as_ref().to_path_buf(),
            format: None,
            rows_per_batch: DEFAULT_ROWS_PER_BATCH,
            frames_per_batch: 1,
            options: ReadOptions::default(),
            read_ahead: true,
        }
    }

    /// The schema of every frame.
    pub fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    /// The file's format.
    pub fn format(&self) -> FileFormat {
        self.format
    }

    /// Counters that stay readable after the source moves into a stream.
    pub fn stats(&self) -> SourceStats {
        self.stats.clone()
    }
}

impl Source for FrameFileSource {
    type Item = Frame;

    fn name(&self) -> String {
        format!("{} file {}", self.format.extension(), self.path.display())
    }

    fn next_batch(
        &mut self,
        _time: BatchTime,
        max_records: Option<u64>,
    ) -> spate_core::Result<SourceBatch<Frame>> {
        let frames = max_records.map_or(self.frames_per_batch, |m| {
            (m as usize).clamp(1, self.frames_per_batch)
        });
        let rows = self.rows_per_batch / self.frames_per_batch.max(1) * frames;
        let rows = if frames == self.frames_per_batch {
            self.rows_per_batch
        } else {
            rows.max(1)
        };
        let (path, format, schema, options) =
            (&self.path, self.format, &self.schema, &self.options);
        let chunk = self
            .reader
            .next_rows(rows, |at| open_reader(path, format, schema, options, at))?;
        self.stats
            .add(chunk.frame.height() as u64, chunk.skipped, chunk.bytes);
        let records = if chunk.frame.height() == 0 {
            Vec::new()
        } else {
            cut(chunk.frame, frames)
        };
        Ok(SourceBatch {
            records,
            skipped: chunk.skipped,
            bytes: chunk.bytes,
        })
    }

    fn is_exhausted(&self) -> bool {
        self.reader.is_done()
    }

    fn offset(&self) -> Option<SourceOffset> {
        SourceOffset::encode(&self.reader.position()).ok()
    }

    fn seek(&mut self, offset: &SourceOffset) -> spate_core::Result<()> {
        let at: Position = offset.decode()?;
        let reader = open_reader(&self.path, self.format, &self.schema, &self.options, at)?;
        self.reader.reset(reader);
        Ok(())
    }

    fn stop(&mut self) {
        self.reader.stop();
    }
}
