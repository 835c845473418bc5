//! What every `spate` job shares: the standard options ([`JobArgs`], flattened into each
//! command's arguments), and the checks that run before any data flows — outputs that are
//! writable and do not alias an input, one job per checkpoint directory, and the same
//! result-shaping parameters as the run that wrote the checkpoints.
//!
//! A new command gets the standard options and checks with:
//!
//! ```text
//! #[derive(clap::Args)]
//! pub struct Args {
//!     #[command(flatten)]
//!     job: JobArgs,
//!     /// ... the command's own options
//! }
//!
//! let identity = Identity::of(&args.job).with("--k", args.k);
//! let prepared = args.job.prepare(&identity, &[Output::file("--output", path)])?;
//! ```

use crate::common::parse_duration;
use anyhow::{Context, bail};
use spate::io::CsvRowParser;
use spate::prelude::*;
use std::collections::BTreeMap;
use std::fmt::Display;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

/// Partitions of every stream the CLI builds. Fixed, not the thread count, so that the
/// checkpointed layout of keyed state does not change with `--threads` (which therefore can
/// change between a run and its restart).
pub const PARTITIONS: usize = 8;

/// The most worker threads `--threads` accepts.
pub const MAX_THREADS: usize = 256;

/// The standard options of a `spate` job: input, output, batching, checkpoints, threads,
/// progress and logging. Flatten it into a command's arguments with `#[command(flatten)]`.
#[derive(clap::Args, Clone, Debug)]
pub struct JobArgs {
    /// The input: a file (plain or gzip), or what the command accepts besides (see its
    /// examples).
    #[arg(short = 'i', long, value_name = "INPUT", alias = "edges")]
    pub input: String,
    /// Where the results go (see the command's description).
    #[arg(short = 'o', long, value_name = "PATH")]
    pub output: Option<PathBuf>,
    /// Records per batch when replaying a file: lines of text, CSV rows or edges.
    #[arg(
        short = 'n',
        long,
        value_name = "N",
        default_value_t = 1000,
        value_parser = clap::value_parser!(u64).range(1..),
        alias = "lines-per-batch",
        alias = "batch-rows",
        alias = "batch-edges",
        alias = "rows-per-batch"
    )]
    pub records_per_batch: u64,
    /// Batch interval: the stream time one batch covers; windows are multiples of it.
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = parse_duration)]
    pub batch: Duration,
    /// Replay a file at the pace of the batch interval instead of as fast as possible.
    #[arg(long)]
    pub realtime: bool,
    /// Stop after this many batches (at least 1); with --checkpoint a rerun continues.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub max_batches: Option<u64>,
    /// Checkpoint directory: state and input position are saved there, and the same command
    /// run again continues exactly where the last checkpoint left off.
    #[arg(long, value_name = "DIR")]
    pub checkpoint: Option<PathBuf>,
    /// Write a checkpoint every this many batches (and always after the last one).
    #[arg(
        long,
        value_name = "N",
        default_value_t = 5,
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    pub checkpoint_every: u64,
    /// Write skipped input (invalid UTF-8, over-long lines, unparsable rows) to this file;
    /// with --checkpoint, exactly once across restarts.
    #[arg(long, value_name = "FILE")]
    pub dead_letter: Option<PathBuf>,
    /// Worker threads (default: one per core; at most 256).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=MAX_THREADS as u64))]
    pub threads: Option<u64>,
    /// Print no line per batch.
    #[arg(short, long)]
    pub quiet: bool,
    /// More log output: -v for the libraries' info lines, -vv for debug, -vvv for trace.
    #[arg(short, long, action = clap::ArgAction::Count, conflicts_with = "log_level")]
    pub verbose: u8,
    /// Log level of everything: error, warn, info, debug or trace (default: this command's
    /// lines at info, the libraries' at warn; RUST_LOG overrides both).
    #[arg(long, value_name = "LEVEL")]
    pub log_level: Option<tracing::Level>,
    #[command(flatten)]
    pub ui: crate::ui::UiArgs,
    #[command(flatten)]
    pub runtime: crate::runtime::RuntimeArgs,
}

/// How a path given to a job is used.
pub enum Output<'a> {
    /// A file the job writes (named after its option, for messages).
    File(&'static str, &'a Path),
    /// A directory the job writes files into whose names satisfy `names`.
    Directory(&'static str, &'a Path, fn(&str) -> bool),
}

/// What [`JobArgs::prepare`] holds for the run: the checkpoint directory's lock, released
/// when dropped (at exit).
pub struct Prepared {
    _lock: Option<std::fs::File>,
}

impl JobArgs {
    /// The input as a local path, unless it is a network address (`tcp://…`, `redis://…`).
    pub fn input_path(&self) -> Option<&Path> {
        (!self.input.contains("://")).then(|| Path::new(&self.input))
    }

    /// The input of a CSV command: an existing file, or (where `redis` is true) a bounded
    /// Redis stream of CSV rows, `redis://HOST:PORT/STREAM?bounded=true`, returned as a path
    /// for the readers in `redis_io`.
    pub fn csv_input(&self, command: &str, redis: bool) -> anyhow::Result<PathBuf> {
        if crate::redis_io::is_redis(&self.input) {
            if !redis {
                bail!(
                    "--input {}: spate {command} reads CSV files; Redis inputs are read by \
                     wordcount, stats, kmeans and regress",
                    self.input
                );
            }
            return Ok(PathBuf::from(&self.input));
        }
        let input = self
            .input_path()
            .context("--input must be a CSV file")?
            .to_path_buf();
        if input.is_dir() || !input.exists() {
            bail!("--input {}: no such file", input.display());
        }
        Ok(input)
    }

    /// Refuses `--dead-letter` for a command whose input reader keeps no dead-letter file.
    pub fn refuse_dead_letter(&self, command: &str) -> anyhow::Result<()> {
        if self.dead_letter.is_some() {
            bail!(
                "--dead-letter: spate {command} counts the lines it skips but writes no \
                 dead-letter file"
            );
        }
        Ok(())
    }

    /// `--output`, which this command requires.
    pub fn required_output(&self) -> anyhow::Result<&Path> {
        self.output
            .as_deref()
            .context("--output is required: where should the results go? (e.g. -o out.csv)")
    }

    /// The context this job runs on: the worker's context when the job runs on timely
    /// workers (`--runtime timely`), else the embedded runtime on `--threads` worker threads
    /// (default: one per core).
    pub fn spate_context(&self) -> anyhow::Result<SpateContext> {
        if let Some(sc) = crate::runtime::worker_context() {
            return Ok(sc);
        }
        Ok(crate::common::spate_context(
            self.threads.map(|n| n as usize),
        )?)
    }

    /// A streaming context on `sc` with the job's batch interval and partitions, replaying
    /// as fast as possible unless `--realtime`.
    pub fn streaming_context(&self, sc: &SpateContext) -> spate::Result<StreamingContext> {
        self.context_builder(sc, !self.realtime).build()
    }

    /// The builder [`streaming_context`](Self::streaming_context) uses, for commands that add
    /// to it; `fast_forward` picks the clock.
    pub fn context_builder(
        &self,
        sc: &SpateContext,
        fast_forward: bool,
    ) -> spate::stream::StreamingContextBuilder {
        let builder = StreamingContext::builder(sc)
            .batch_interval(self.batch)
            .partitions(PARTITIONS);
        if fast_forward {
            builder.clock(FastForwardClock::new())
        } else {
            builder.clock(SystemClock::new())
        }
    }

    /// The checks before any data flows: the input exists; every output is writable (its
    /// directory is created) and aliases no input; the checkpoint directory is locked for
    /// this job and, if it holds a checkpoint, was written with the same `identity`.
    pub fn prepare(&self, identity: &Identity, outputs: &[Output<'_>]) -> anyhow::Result<Prepared> {
        let input = self.input_path();
        if let Some(input) = input
            && !input.exists()
        {
            bail!("--input {}: no such file or directory", input.display());
        }
        let mut all: Vec<Output<'_>> = Vec::new();
        if let Some(dead) = &self.dead_letter {
            all.push(Output::File("--dead-letter", dead));
        }
        if let Some(dir) = &self.checkpoint {
            all.push(Output::Directory("--checkpoint", dir, |_| true));
        }
        let mut files: Vec<(&str, PathBuf)> = Vec::new();
        for output in outputs.iter().chain(&all) {
            if let Some(input) = input {
                refuse_alias(output, input)?;
            }
            check_writable(output)?;
            if let Output::File(option, path) = output {
                let path = resolved(path);
                if let Some((other, _)) = files.iter().find(|(_, p)| *p == path) {
                    bail!(
                        "{other} and {option} name the same file {}: give each output its own",
                        path.display()
                    );
                }
                files.push((option, path));
            }
        }
        let lock = match &self.checkpoint {
            Some(dir) => Some(lock_checkpoint(dir, self.runtime.process_index())?),
            None => None,
        };
        if let Some(dir) = &self.checkpoint {
            identity.check(dir)?;
        }
        Ok(Prepared { _lock: lock })
    }
}

/// A window or slide: a duration (a multiple of `--batch`) or a number of batches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Span {
    /// This many batches.
    Batches(u64),
    /// This much stream time.
    Time(Duration),
}

impl Span {
    /// Parses `10` (batches) or `10s`, `500ms`, `2m` (a duration).
    pub fn parse(text: &str) -> Result<Span, String> {
        match text.trim().parse::<u64>() {
            Ok(0) => Err("must be at least 1 batch".into()),
            Ok(n) => Ok(Span::Batches(n)),
            Err(_) => parse_duration(text).map(Span::Time),
        }
    }

    /// The number of batches of `batch` this span covers, or an error naming `option` when
    /// a duration is not a positive multiple of the batch interval.
    pub fn batches(self, option: &str, batch: Duration) -> anyhow::Result<u64> {
        match self {
            Span::Batches(n) => Ok(n),
            Span::Time(t) => {
                let (t_ms, b_ms) = (t.as_millis(), batch.as_millis().max(1));
                if t_ms == 0 || t_ms % b_ms != 0 {
                    bail!(
                        "{option} {}: not a positive multiple of the batch interval {}; \
                         give a multiple of --batch or a number of batches",
                        humantime::format_duration(t),
                        humantime::format_duration(batch)
                    );
                }
                Ok((t_ms / b_ms) as u64)
            }
        }
    }

    /// The span as stream time, `batches × batch`.
    pub fn duration(self, option: &str, batch: Duration) -> anyhow::Result<Duration> {
        let n = self.batches(option, batch)?;
        u32::try_from(n)
            .ok()
            .and_then(|n| batch.checked_mul(n))
            .with_context(|| format!("{option}: {n} batches is too long a window"))
    }
}

impl Display for Span {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Span::Batches(n) => write!(f, "{n}"),
            Span::Time(t) => write!(f, "{}", humantime::format_duration(*t)),
        }
    }
}

/// The parameters that shape a job's results: a checkpoint belongs to them. Stored beside
/// the checkpoints (`DIR/parameters.json`) when a job first uses the directory; a restart
/// with any of them changed is refused with the parameter and both values, before the stream
/// is built. Options that do not shape results (`--threads`, `--quiet`, progress, logging,
/// `--max-batches`, `--checkpoint-every`, outputs) are not part of it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Identity {
    command: String,
    parameters: BTreeMap<String, String>,
}

/// The file in a checkpoint directory that holds the job's [`Identity`].
const PARAMETERS_FILE: &str = "parameters.json";
/// The file in a checkpoint directory that the running job holds locked.
const LOCK_FILE: &str = "lock";

impl Identity {
    /// The identity of `command` run with the standard options `job`: its input, records
    /// per batch, batch interval and dead-letter file.
    pub fn of(command: &str, job: &JobArgs) -> Identity {
        let input = match job.input_path() {
            Some(path) => std::fs::canonicalize(path)
                .unwrap_or_else(|_| path.to_path_buf())
                .display()
                .to_string(),
            None => job.input.clone(),
        };
        let dead_letter = job
            .dead_letter
            .as_deref()
            .map(|p| absolute(p).display().to_string());
        Identity {
            command: command.to_string(),
            parameters: BTreeMap::new(),
        }
        .with("--input", input)
        .with("--records-per-batch", job.records_per_batch)
        .with("--batch", humantime::format_duration(job.batch))
        .with_option("--dead-letter", dead_letter)
    }

    /// Adds a parameter.
    pub fn with(mut self, name: &str, value: impl Display) -> Identity {
        self.parameters.insert(name.to_string(), value.to_string());
        self
    }

    /// Adds a parameter that may be unset (recorded as `(none)`).
    pub fn with_option(self, name: &str, value: Option<impl Display>) -> Identity {
        match value {
            Some(v) => self.with(name, v),
            None => self.with(name, "(none)"),
        }
    }

    fn to_json(&self) -> String {
        let mut map = BTreeMap::new();
        map.insert("command".to_string(), self.command.clone());
        for (k, v) in &self.parameters {
            map.insert(k.clone(), v.clone());
        }
        serde_json::to_string_pretty(&map).unwrap_or_default() + "\n"
    }

    fn from_json(text: &str) -> Option<Identity> {
        let mut map: BTreeMap<String, String> = serde_json::from_str(text).ok()?;
        let command = map.remove("command")?;
        Some(Identity {
            command,
            parameters: map,
        })
    }

    /// Compares with the identity stored in the checkpoint directory `dir`, or stores this
    /// one there if the directory holds no checkpoint yet.
    fn check(&self, dir: &Path) -> anyhow::Result<()> {
        let path = dir.join(PARAMETERS_FILE);
        // Files other than ours (parameters, lock, temporaries) and, among them, checkpoint
        // files proper (`checkpoint-*`), beside which parameters are always recorded:
        // checkpoints of an older format are refused when restored anyway.
        let (mut has_checkpoints, mut checkpoints_written) = (false, false);
        for entry in std::fs::read_dir(dir)
            .with_context(|| format!("reading {}", dir.display()))?
            .flatten()
        {
            let name = entry.file_name();
            let text = name.to_string_lossy();
            if name != PARAMETERS_FILE && !text.starts_with(LOCK_FILE) && !text.starts_with('.') {
                has_checkpoints = true;
                checkpoints_written |= text.starts_with("checkpoint-");
            }
        }
        let stored = match std::fs::read_to_string(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && checkpoints_written => {
                bail!(
                    "--checkpoint {}: holds checkpoints but no {PARAMETERS_FILE}, so the \
                     parameters they were written with are unknown; use a fresh --checkpoint \
                     directory (or restore the file)",
                    dir.display()
                );
            }
            Ok(text) if has_checkpoints => Identity::from_json(&text).with_context(|| {
                format!(
                    "{} is not a parameters file written by spate; use a fresh --checkpoint directory",
                    path.display()
                )
            })?,
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(e).with_context(|| format!("reading {}", path.display()));
            }
            // No checkpoint yet: this job's parameters are the ones.
            _ => {
                spate::io::write_atomic(&path, |out| out.write_all(self.to_json().as_bytes()))
                    .with_context(|| format!("writing {}", path.display()))?;
                return Ok(());
            }
        };
        if stored.command != self.command {
            bail!(
                "--checkpoint {}: the checkpoint is of `spate {}`, not `spate {}`; use a fresh \
                 --checkpoint directory",
                dir.display(),
                stored.command,
                self.command
            );
        }
        let none = "(not set)".to_string();
        let changed: Vec<String> = stored
            .parameters
            .keys()
            .chain(self.parameters.keys())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .filter_map(|name| {
                let was = stored.parameters.get(name).unwrap_or(&none);
                let now = self.parameters.get(name).unwrap_or(&none);
                (was != now).then(|| format!("{name} was {was}, now {now}"))
            })
            .collect();
        if !changed.is_empty() {
            bail!(
                "--checkpoint {} was written with other parameters: {}. Restart with the \
                 original values to continue, or use a fresh --checkpoint directory",
                dir.display(),
                changed.join("; ")
            );
        }
        Ok(())
    }
}

/// `path` made absolute against the current directory (without resolving links).
fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// The path a write to `path` would land on: links followed as far as they exist.
fn resolved(path: &Path) -> PathBuf {
    if let Ok(p) = std::fs::canonicalize(path) {
        return p;
    }
    match (path.parent(), path.file_name()) {
        (Some(parent), Some(name)) => {
            let parent = if parent.as_os_str().is_empty() {
                Path::new(".")
            } else {
                parent
            };
            resolved(parent).join(name)
        }
        _ => absolute(path),
    }
}

/// Refuses an output that is the input, or lies in an input directory (which would read it
/// back), or a directory output that would write over the input.
fn refuse_alias(output: &Output<'_>, input: &Path) -> anyhow::Result<()> {
    let input = resolved(input);
    let (option, path) = match output {
        Output::File(option, path) | Output::Directory(option, path, _) => (*option, *path),
    };
    let out = resolved(path);
    let input_is_dir = input.is_dir();
    let clash = match output {
        Output::File(..) => out == input || (input_is_dir && out.starts_with(&input)),
        Output::Directory(_, _, names) => {
            out == input
                || (input_is_dir && (out.starts_with(&input) || input.starts_with(&out)))
                || (input.parent() == Some(out.as_path())
                    && input
                        .file_name()
                        .is_some_and(|n| names(&n.to_string_lossy())))
        }
    };
    if clash {
        bail!(
            "{option} {} would write into the input {}: choose an output outside the input",
            path.display(),
            input.display()
        );
    }
    Ok(())
}

/// Creates the directory an output goes to and checks that a file can be created in it.
fn check_writable(output: &Output<'_>) -> anyhow::Result<()> {
    let (option, dir) = match output {
        Output::File(option, path) => {
            if path.is_dir() {
                bail!(
                    "{option} {} is a directory; give a file name",
                    path.display()
                );
            }
            let parent = path.parent().filter(|p| !p.as_os_str().is_empty());
            (*option, parent.unwrap_or(Path::new(".")))
        }
        Output::Directory(option, path, _) => {
            if path.is_file() {
                bail!("{option} {} is a file; give a directory", path.display());
            }
            (*option, *path)
        }
    };
    std::fs::create_dir_all(dir)
        .with_context(|| format!("{option}: cannot create the directory {}", dir.display()))?;
    tempfile::tempfile_in(dir)
        .with_context(|| format!("{option}: cannot write in the directory {}", dir.display()))?;
    Ok(())
}

/// Locks files held until the process exits.
static HELD: Mutex<Vec<(PathBuf, std::fs::File)>> = Mutex::new(Vec::new());

/// Takes the exclusive lock on the checkpoint directory `dir` for the rest of the process
/// (an OS file lock on `DIR/lock`, released by the OS however the process ends). The
/// workers of one process share its lock; process `p > 0` of a job on several processes
/// locks `DIR/lock.p`, so the processes of one job (which may share the directory) do not
/// exclude each other while a second job still finds process 0's lock taken.
fn lock_checkpoint(dir: &Path, process: usize) -> anyhow::Result<std::fs::File> {
    let path = match process {
        0 => dir.join(LOCK_FILE),
        p => dir.join(format!("{LOCK_FILE}.{p}")),
    };
    let key = resolved(&path);
    // Held while locking, so that the workers of this process take the lock once.
    let mut held = HELD
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let cannot_lock = || format!("--checkpoint: cannot lock {}", path.display());
    if let Some((_, file)) = held.iter().find(|(p, _)| *p == key) {
        return file.try_clone().with_context(cannot_lock);
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("--checkpoint: cannot open {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => bail!(
            "--checkpoint {} is in use by another running job; wait for it to end or use \
             another directory",
            dir.display()
        ),
        Err(std::fs::TryLockError::Error(e)) => {
            return Err(e).with_context(cannot_lock);
        }
    }
    held.push((key, file.try_clone().with_context(cannot_lock)?));
    Ok(file)
}

/// Rows read to decide whether a named column is numeric.
const SAMPLE_ROWS: u64 = 100;

/// The columns `wanted` of the CSV file `path`, checked: each must be in the header (with a
/// "did you mean" when it is not) and hold at least one number in the first 100 rows (a
/// text column such as a carrier code is refused; a numeric one with some missing or
/// garbled values is not). With `None`, every column whose values in the first rows are all
/// numbers or missing.
pub fn csv_columns(path: &Path, wanted: Option<&[String]>) -> anyhow::Result<Vec<String>> {
    if let Some(url) = crate::redis_io::redis_url(path) {
        let csv = crate::redis_io::RedisCsv::open(url)?;
        return match wanted {
            None => Ok(csv.numeric_columns()?),
            Some(wanted) => {
                let header = CsvRowParser::new(csv.header(), None, b',')?
                    .header()
                    .to_vec();
                check_header(path, &header, wanted)?;
                Ok(wanted.to_vec())
            }
        };
    }
    let source = csv_header(path)?;
    let Some(wanted) = wanted else {
        return Ok(source.column_names());
    };
    check_header(path, source.header(), wanted)?;
    let names: Vec<&str> = wanted.iter().map(String::as_str).collect();
    // Refuses ambiguous (repeated or empty) names among the selected ones.
    let mut parser = CsvSource::options(path)
        .columns(&names)
        .build()
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .parser();
    let mut first = FileReplaySource::options(path)
        .lines_per_batch(SAMPLE_ROWS + 1)
        .build()?;
    let lines = first.next_batch(BatchTime(0), None)?.records;
    let mut numbers = vec![0_u64; wanted.len()];
    for line in lines.iter().skip(1) {
        if let Ok(row) = parser.parse_or_nan(line.as_bytes()) {
            for (n, v) in numbers.iter_mut().zip(row) {
                *n += u64::from(v.is_finite());
            }
        }
    }
    if !lines.is_empty() {
        for (name, n) in wanted.iter().zip(&numbers) {
            if *n == 0 && lines.len() > 1 {
                bail!(
                    "column `{name}` of {} holds no number in its first {} rows; the numeric \
                     columns are: {}",
                    path.display(),
                    SAMPLE_ROWS,
                    source.column_names().join(", ")
                );
            }
        }
    }
    Ok(wanted.to_vec())
}

/// Checks that every name in `wanted` is a column of the CSV file `path` (any type), with a
/// "did you mean" when one is not.
pub fn csv_header_has(path: &Path, wanted: &[String]) -> anyhow::Result<()> {
    if let Some(url) = crate::redis_io::redis_url(path) {
        let csv = crate::redis_io::RedisCsv::open(url)?;
        let header = CsvRowParser::new(csv.header(), None, b',')?
            .header()
            .to_vec();
        return check_header(path, &header, wanted);
    }
    let source = csv_header(path)?;
    check_header(path, source.header(), wanted)
}

/// The CSV file `path` opened for its header; a bad header is an error naming the file.
fn csv_header(path: &Path) -> anyhow::Result<CsvSource> {
    CsvSource::options(path).build().map_err(|e| match e {
        spate::io::IoError::BadHeader { reason, .. } => {
            anyhow::anyhow!("{}: {reason}", path.display())
        }
        other => anyhow::Error::from(other),
    })
}

fn check_header(path: &Path, header: &[String], wanted: &[String]) -> anyhow::Result<()> {
    for name in wanted {
        if !header.contains(name) {
            let suggestion = closest(name, header)
                .map(|c| format!("did you mean `{c}`? "))
                .unwrap_or_default();
            bail!(
                "{} has no column `{name}`; {suggestion}its columns are: {}",
                path.display(),
                header.join(", ")
            );
        }
    }
    Ok(())
}

/// The candidate closest to `name` by edit distance, if close enough to be a likely typo.
pub fn closest<'a>(name: &str, candidates: &'a [String]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| (strsim::jaro_winkler(name, c), c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_parse_as_batches_or_durations() {
        assert_eq!(Span::parse("4"), Ok(Span::Batches(4)));
        assert_eq!(Span::parse("4s"), Ok(Span::Time(Duration::from_secs(4))));
        assert!(Span::parse("0").is_err());
        let batch = Duration::from_millis(500);
        assert_eq!(
            Span::parse("2s")
                .unwrap()
                .batches("--window", batch)
                .unwrap(),
            4
        );
        let err = Span::parse("1200ms")
            .unwrap()
            .batches("--window", batch)
            .unwrap_err();
        assert!(err.to_string().contains("not a positive multiple"), "{err}");
    }

    #[test]
    fn suggestions_pick_the_closest_column() {
        let header: Vec<String> = ["dep_delay", "arr_delay", "distance"]
            .map(String::from)
            .to_vec();
        assert_eq!(closest("arr_dela", &header), Some("arr_delay"));
        assert_eq!(closest("zzz", &header), None);
    }
}
