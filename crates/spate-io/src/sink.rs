//! Sinks: per-batch text and CSV files written atomically, and stdout.
//!
//! Each batch is collected at the driver and written as one file named after the batch
//! time. A file is written under a hidden temporary name in the same directory, fsynced,
//! renamed over the final name and the directory fsynced: readers see the old file or the
//! new one, never a torn one, and a batch recomputed after recovery *replaces* its file.
//! With replayable sources and deterministic batches that makes the output exactly-once.
//!
//! The temporary is created by the `tempfile` crate: a random name opened with `O_EXCL`, so
//! a file or symbolic link planted under a predictable name cannot redirect the write, and
//! the rename replaces a link at the final name instead of writing through it. A write that
//! fails midway (a full disk) leaves the previous file in place.

use crate::error::IoError;
use spate_core::stream::batch_path;
use spate_core::{BatchTime, DStream, Data};
use std::fmt::{Display, Write as _};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// Writes each batch as one text file `DIR/{prefix}-{time}.{suffix}`, one record per line.
///
/// ```
/// use spate_io::TextFileSink;
/// use spate_core::BatchTime;
///
/// let dir = tempfile::tempdir()?;
/// let sink = TextFileSink::new(dir.path(), "counts", "txt")?;
/// let path = sink.write_batch(BatchTime(2000), &["a 1", "b 2"])?;
/// assert_eq!(path, dir.path().join("counts-2000.txt"));
/// assert_eq!(std::fs::read_to_string(&path)?, "a 1\nb 2\n");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct TextFileSink {
    dir: PathBuf,
    prefix: String,
    suffix: String,
}

impl TextFileSink {
    /// A sink writing into `dir` (created if missing). An empty `suffix` gives
    /// `{prefix}-{time}`.
    ///
    /// Temporary files that a killed earlier run of a sink with this prefix left in `dir`
    /// are removed, so two live sinks must not share a directory and prefix (they would
    /// overwrite each other's files anyway).
    pub fn new(
        dir: impl AsRef<Path>,
        prefix: impl Into<String>,
        suffix: impl Into<String>,
    ) -> Result<TextFileSink, IoError> {
        let (prefix, suffix) = (prefix.into(), suffix.into());
        for (name, value) in [("prefix", &prefix), ("suffix", &suffix)] {
            if value.contains(['/', '\\']) || value.starts_with('.') {
                return Err(IoError::invalid(
                    name,
                    value,
                    "must be a plain file-name part: no path separators, no leading dot",
                ));
            }
        }
        if prefix.is_empty() {
            return Err(IoError::invalid("prefix", &prefix, "must not be empty"));
        }
        let dir = dir.as_ref().to_path_buf();
        std::fs::create_dir_all(&dir).map_err(|e| IoError::io(&dir, e))?;
        remove_stale_temporaries(&dir, &prefix)?;
        Ok(TextFileSink {
            dir,
            prefix,
            suffix,
        })
    }

    /// The file a batch goes to.
    pub fn path_for(&self, time: BatchTime) -> PathBuf {
        self.dir.join(batch_path(&self.prefix, &self.suffix, time))
    }

    /// Writes one batch's records, replacing an earlier file of the same batch; returns
    /// its path.
    pub fn write_batch<T: Display>(
        &self,
        time: BatchTime,
        records: &[T],
    ) -> Result<PathBuf, IoError> {
        let path = self.path_for(time);
        write_atomic(&path, |out| {
            for r in records {
                writeln!(out, "{r}")?;
            }
            Ok(())
        })?;
        Ok(path)
    }
}

/// Writes each batch as one CSV file `DIR/{prefix}-{time}.csv` with a header line; fields
/// are quoted per RFC 4180 where needed.
///
/// ```
/// use spate_io::CsvFileSink;
/// use spate_core::BatchTime;
///
/// let dir = tempfile::tempdir()?;
/// let sink = CsvFileSink::new(dir.path(), "counts", &["word", "count"])?;
/// let path = sink.write_batch(BatchTime(1000), &[("whale", 3), ("a, b", 1)])?;
/// assert_eq!(std::fs::read_to_string(path)?, "word,count\nwhale,3\n\"a, b\",1\n");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct CsvFileSink {
    files: TextFileSink,
    header: String,
}

impl CsvFileSink {
    /// A sink writing into `dir` (created if missing) with these column names.
    pub fn new(
        dir: impl AsRef<Path>,
        prefix: impl Into<String>,
        header: &[&str],
    ) -> Result<CsvFileSink, IoError> {
        Ok(CsvFileSink {
            files: TextFileSink::new(dir, prefix, "csv")?,
            header: header_line(header),
        })
    }

    /// The file a batch goes to.
    pub fn path_for(&self, time: BatchTime) -> PathBuf {
        self.files.path_for(time)
    }

    /// Writes one batch's records under the header, replacing an earlier file of the same
    /// batch; returns its path.
    pub fn write_batch<T: CsvRecord>(
        &self,
        time: BatchTime,
        records: &[T],
    ) -> Result<PathBuf, IoError> {
        let path = self.path_for(time);
        write_csv_lines(&path, &self.header, records)?;
        Ok(path)
    }
}

/// Writes `records` under a `header` line to the CSV file `path` atomically (temporary
/// sibling, fsync, rename, directory fsync), replacing what was there: for one-off
/// outputs such as a job's final totals. Missing parent directories are created.
///
/// ```
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("counts/final.csv"); // missing directories are created
/// spate_io::write_csv_file(&path, &["word", "count"], &[("whale", 3)])?;
/// assert_eq!(std::fs::read_to_string(&path)?, "word,count\nwhale,3\n");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn write_csv_file<T: CsvRecord>(
    path: &Path,
    header: &[&str],
    records: &[T],
) -> Result<(), IoError> {
    write_csv_lines(path, &header_line(header), records)
}

fn header_line(header: &[&str]) -> String {
    let mut line = String::new();
    let mut row = CsvRow::new(&mut line);
    for name in header {
        row.field(name);
    }
    line
}

fn write_csv_lines<T: CsvRecord>(path: &Path, header: &str, records: &[T]) -> Result<(), IoError> {
    let mut line = String::new();
    write_atomic(path, |out| {
        writeln!(out, "{header}")?;
        for r in records {
            line.clear();
            r.write_csv(&mut CsvRow::new(&mut line));
            writeln!(out, "{line}")?;
        }
        Ok(())
    })
}

/// Prints each batch to stdout, one record per line, optionally under a header with the
/// batch time (as Spark's `print`, but every record).
#[derive(Clone, Copy, Debug)]
pub struct StdoutSink {
    header: bool,
}

impl StdoutSink {
    /// A sink that prints a `Time: … ms` header before each batch when `header`.
    pub fn new(header: bool) -> StdoutSink {
        StdoutSink { header }
    }

    /// Writes one batch to `out`.
    pub fn render<T: Display>(
        &self,
        out: &mut impl Write,
        time: BatchTime,
        records: &[T],
    ) -> std::io::Result<()> {
        if self.header {
            writeln!(out, "-------------------------------------------")?;
            writeln!(out, "Time: {time}")?;
            writeln!(out, "-------------------------------------------")?;
        }
        for r in records {
            writeln!(out, "{r}")?;
        }
        Ok(())
    }

    /// Writes one batch to stdout, in one piece even if other threads print too.
    pub fn write_batch<T: Display>(&self, time: BatchTime, records: &[T]) -> Result<(), IoError> {
        let stdout = std::io::stdout();
        let mut out = BufWriter::new(stdout.lock());
        self.render(&mut out, time, records)
            .and_then(|()| out.flush())
            .map_err(|e| IoError::io("<stdout>", e))
    }
}

/// A record that can be written as one CSV row.
///
/// Implemented for tuples of up to six [`Display`] fields, and for `Vec`s, slices and arrays
/// of them (a `Vec<f64>` from [`CsvSource`](crate::CsvSource) round-trips).
pub trait CsvRecord {
    /// Writes the record's fields, in order.
    fn write_csv(&self, row: &mut CsvRow<'_>);
}

/// One CSV row being written: add fields in order with [`field`](CsvRow::field).
pub struct CsvRow<'a> {
    line: &'a mut String,
    first: bool,
    scratch: String,
}

impl<'a> CsvRow<'a> {
    fn new(line: &'a mut String) -> CsvRow<'a> {
        CsvRow {
            line,
            first: true,
            scratch: String::new(),
        }
    }

    /// Appends a field, quoted if it holds a comma, a quote or a line break.
    pub fn field(&mut self, value: impl Display) {
        if !self.first {
            self.line.push(',');
        }
        self.first = false;
        self.scratch.clear();
        // Writing to a String cannot fail.
        let _ = write!(self.scratch, "{value}");
        if self.scratch.contains([',', '"', '\n', '\r']) {
            self.line.push('"');
            self.line.push_str(&self.scratch.replace('"', "\"\""));
            self.line.push('"');
        } else {
            self.line.push_str(&self.scratch);
        }
    }
}

macro_rules! csv_tuple {
    ($($name:ident),+) => {
        impl<$($name: Display),+> CsvRecord for ($($name,)+) {
            #[allow(non_snake_case)]
            fn write_csv(&self, row: &mut CsvRow<'_>) {
                let ($($name,)+) = self;
                $(row.field($name);)+
            }
        }
    };
}

csv_tuple!(A);
csv_tuple!(A, B);
csv_tuple!(A, B, C);
csv_tuple!(A, B, C, D);
csv_tuple!(A, B, C, D, E);
csv_tuple!(A, B, C, D, E, F);

impl<T: Display> CsvRecord for [T] {
    fn write_csv(&self, row: &mut CsvRow<'_>) {
        for v in self {
            row.field(v);
        }
    }
}

impl<T: Display> CsvRecord for Vec<T> {
    fn write_csv(&self, row: &mut CsvRow<'_>) {
        self.as_slice().write_csv(row);
    }
}

impl<T: Display, const N: usize> CsvRecord for [T; N] {
    fn write_csv(&self, row: &mut CsvRow<'_>) {
        self.as_slice().write_csv(row);
    }
}

/// Whether `name` is a temporary of [`write_atomic`] for a file whose name starts with
/// `start`: `.{start}….tmp`.
fn is_temporary_of(name: &str, start: &str) -> bool {
    name.strip_prefix('.')
        .is_some_and(|rest| rest.starts_with(start) && rest.ends_with(TEMP_SUFFIX))
}

/// The suffix of [`write_atomic`]'s temporaries.
const TEMP_SUFFIX: &str = ".tmp";

/// Removes `.{prefix}-….tmp` files: temporaries of a sink run that was killed mid-write.
fn remove_stale_temporaries(dir: &Path, prefix: &str) -> Result<(), IoError> {
    let start = format!("{prefix}-");
    let entries = std::fs::read_dir(dir).map_err(|e| IoError::io(dir, e))?;
    for entry in entries.flatten() {
        let name = entry.file_name();
        if is_temporary_of(&name.to_string_lossy(), &start) {
            tracing::info!(file = %entry.path().display(), "removing a temporary file left by an interrupted run");
            std::fs::remove_file(entry.path()).map_err(|e| IoError::io(entry.path(), e))?;
        }
    }
    Ok(())
}

/// Removes the temporaries that interrupted [`write_csv_file`] calls for `path` left beside
/// it (`.{name}.….tmp`); call it before writing `path` when earlier runs may have been
/// killed. Nothing else is touched.
pub fn remove_stale_temporaries_of(path: &Path) -> Result<(), IoError> {
    let Some(name) = path
        .file_name()
        .map(|n| format!("{}.", n.to_string_lossy()))
    else {
        return Ok(());
    };
    let dir = match path.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(dir) => dir,
        None => Path::new("."),
    };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        if is_temporary_of(&entry.file_name().to_string_lossy(), &name) {
            std::fs::remove_file(entry.path()).map_err(|e| IoError::io(entry.path(), e))?;
        }
    }
    Ok(())
}

/// Writes `path` through a hidden temporary sibling: write, fsync, rename, fsync the
/// directory. The temporary (`.{name}.XXXXXX.tmp`, random, created exclusively) starts with
/// `.`, so a [`DirectorySource`](crate::DirectorySource) watching the directory never reads
/// a partial file; on any failure it is removed and `path` keeps its previous content.
pub fn write_atomic(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<(), IoError> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| {
            IoError::io(
                path,
                std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    "an output path must name a file",
                ),
            )
        })?;
    let dir = match path.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(dir) => dir,
        None => Path::new("."),
    };
    std::fs::create_dir_all(dir).map_err(|e| IoError::io(dir, e))?;
    let mut tmp = spate_core::codec::output_tempfile(dir, &format!(".{name}."), TEMP_SUFFIX)
        .map_err(|e| IoError::io(dir, e))?;
    let written = (|| {
        let mut out = BufWriter::new(tmp.as_file_mut());
        write(&mut out)?;
        out.flush()?;
        drop(out);
        tmp.as_file().sync_all()
    })();
    // On an error `tmp` is dropped here, which removes the temporary.
    written.map_err(|e| IoError::io(tmp.path(), e))?;
    tmp.persist(path).map_err(|e| IoError::io(path, e.error))?;
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| IoError::io(dir, e))?;
    Ok(())
}

/// Sink output operations on any [`DStream`], built on
/// [`foreach_rdd`](DStream::foreach_rdd): each batch is collected at the driver and
/// written by the sink. An error writing fails the batch and stops the context.
///
/// ```
/// use spate_core::stream::{FastForwardClock, StreamingContext};
/// use spate_core::SpateContext;
/// use spate_io::{DStreamSinkExt, RateSource};
/// use std::time::Duration;
///
/// let out = tempfile::tempdir()?;
/// let ssc = StreamingContext::builder(&SpateContext::sequential(1))
///     .batch_interval(Duration::from_secs(1))
///     .clock(FastForwardClock::new())
///     .build()?;
/// let numbers = ssc.source_stream(RateSource::new(2, |i| i).limit(4))?;
/// numbers.write_text_files(out.path(), "n", "txt")?;
/// numbers.map(|i| (i, i * i)).write_csv_files(out.path(), "squares", &["i", "square"])?;
/// ssc.start()?;
/// ssc.await_termination()?;
/// assert_eq!(std::fs::read_to_string(out.path().join("n-2000.txt"))?, "2\n3\n");
/// assert_eq!(std::fs::read_to_string(out.path().join("squares-1000.csv"))?, "i,square\n0,0\n1,1\n");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait DStreamSinkExt<T> {
    /// Writes every batch to `DIR/{prefix}-{time}.{suffix}` with a [`TextFileSink`].
    fn write_text_files(
        &self,
        dir: impl AsRef<Path>,
        prefix: &str,
        suffix: &str,
    ) -> spate_core::Result<()>
    where
        T: Display;

    /// Writes every batch to `DIR/{prefix}-{time}.csv` with a [`CsvFileSink`].
    fn write_csv_files(
        &self,
        dir: impl AsRef<Path>,
        prefix: &str,
        header: &[&str],
    ) -> spate_core::Result<()>
    where
        T: CsvRecord;

    /// Prints every batch with a [`StdoutSink`].
    fn write_stdout(&self, header: bool) -> spate_core::Result<()>
    where
        T: Display;
}

impl<T: Data> DStreamSinkExt<T> for DStream<T> {
    fn write_text_files(
        &self,
        dir: impl AsRef<Path>,
        prefix: &str,
        suffix: &str,
    ) -> spate_core::Result<()>
    where
        T: Display,
    {
        let sink = TextFileSink::new(dir, prefix, suffix)?;
        self.foreach_rdd(move |rdd, time| {
            sink.write_batch(time, &rdd.collect()?)?;
            Ok(())
        })
    }

    fn write_csv_files(
        &self,
        dir: impl AsRef<Path>,
        prefix: &str,
        header: &[&str],
    ) -> spate_core::Result<()>
    where
        T: CsvRecord,
    {
        let sink = CsvFileSink::new(dir, prefix, header)?;
        self.foreach_rdd(move |rdd, time| {
            sink.write_batch(time, &rdd.collect()?)?;
            Ok(())
        })
    }

    fn write_stdout(&self, header: bool) -> spate_core::Result<()>
    where
        T: Display,
    {
        let sink = StdoutSink::new(header);
        self.foreach_rdd(move |rdd, time| {
            sink.write_batch(time, &rdd.collect()?)?;
            Ok(())
        })
    }
}
