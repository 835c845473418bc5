//! What every subcommand shares at run time: duration parsing, logging, the runtime,
//! running a stream to its end (batch limit, signals, final checkpoint), and printing that
//! goes through the progress bar and ends the process quietly on a closed pipe.

use crate::job::JobArgs;
use indicatif::{ProgressBar, ProgressStyle};
use spate::stream::{BatchInfo, StreamingListener};
use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

/// The tracing target of the command's own log lines (batch lines, notes): logged at info
/// by default, while the libraries log at warn.
pub const TARGET: &str = "spate_cli";

/// The longest duration a `--batch`, `--window` or `--slide` may be: with anything longer,
/// batch times (milliseconds in a `u64`) would run out after a few hundred million batches.
const MAX_DURATION: Duration = Duration::from_secs(366 * 24 * 3600);

/// Parses `1s`, `500ms`, `2m` … into a positive duration of at most a year.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(text)
        .map_err(|e| format!("`{text}` is not a duration ({e}); try 1s, 500ms or 2m"))?;
    if d.is_zero() {
        return Err(format!("`{text}`: a duration must be positive"));
    }
    if d > MAX_DURATION {
        return Err(format!(
            "`{text}` is too long: at most 366d, so that batch times stay representable"
        ));
    }
    Ok(d)
}

/// Starts logging to stderr: this command's lines at info and the libraries' at warn, or
/// one level for everything from `-v`/`--log-level`; `RUST_LOG` overrides both. With a
/// progress bar or `--quiet`, this command's lines are at warn too. Colours only on a
/// terminal.
pub fn init_logging(job: &JobArgs, progress: bool) {
    let everything = match (job.log_level, job.verbose) {
        (Some(level), _) => Some(level.to_string()),
        (None, 0) => None,
        (None, 1) => Some("info".into()),
        (None, 2) => Some("debug".into()),
        (None, _) => Some("trace".into()),
    };
    let default = everything.unwrap_or_else(|| {
        let own = if progress || job.quiet {
            "warn"
        } else {
            "info"
        };
        format!("warn,{TARGET}={own}")
    });
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| Stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .try_init();
}

/// The embedded runtime on `threads` worker threads (default: one per core).
pub fn spate_context(threads: Option<usize>) -> spate::Result<spate::SpateContext> {
    match threads {
        Some(n) => spate::local::local_context_with_threads(n),
        None => spate::local_context(),
    }
}

/// A description of the runtime for summaries, e.g. `local (rayon, 2 threads)`.
pub fn runtime_name(sc: &spate::SpateContext) -> String {
    sc.runtime_name()
}

/// Builds the job, or restores it from the newest valid checkpoint in `checkpoint` (saying
/// so on stderr) when one is given and holds one.
pub fn build_or_recover(
    checkpoint: Option<&std::path::Path>,
    every: u64,
    build: impl FnOnce() -> spate::Result<spate::StreamingContext>,
) -> spate::Result<spate::StreamingContext> {
    let ssc = match checkpoint {
        Some(dir) => spate::StreamingContext::get_or_create(
            dir,
            spate::stream::CheckpointConfig::every(every),
            build,
        )?,
        None => build()?,
    };
    if let Some(t) = ssc.recovered_from() {
        note(&format!(
            "continuing from the checkpoint of batch {} ms",
            t.0
        ));
    }
    Ok(ssc)
}

/// How a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunEnd {
    /// The input was consumed, or `--max-batches` were run.
    Finished,
    /// A signal stopped it after a batch; the outputs cover the input up to there.
    Interrupted,
}

/// Starts `ssc` and waits for it to end: when the input is consumed, after `max_batches`
/// batches past the start (or past the checkpoint it recovered from), or after the batch in
/// progress when SIGINT or SIGTERM arrives (a second one exits at once). Then writes the
/// checkpoint of the last batch, if checkpoints are on and it is not written yet, so a
/// restart continues right after it.
pub fn run(ssc: &spate::StreamingContext, job: &JobArgs) -> anyhow::Result<RunEnd> {
    let max_batches = job.max_batches;
    if interrupted() {
        anyhow::bail!("interrupted before the stream started");
    }
    if is_leader() {
        // One page per job: the leader's (every worker runs the same batches).
        job.ui.attach(ssc, &crate::ui::title())?;
    }
    ssc.start()?;
    let base = ssc.recovered_from().unwrap_or(ssc.zero_time()).0;
    let interval = ssc.batch_interval().as_millis() as u64;
    if let Some(stop) = max_batches.and_then(|n| last_batch_time(base, interval, n)) {
        // The zero time is fixed by `start`, so the last batch is known only now; the
        // generator checks the limit before every batch, so none runs past it.
        ssc.stop_after(spate::BatchTime(stop));
    }
    let id = NEXT_RUN.fetch_add(1, Ordering::Relaxed);
    lock(&RUNNING).push((id, ssc.clone()));
    if interrupted() {
        ssc.stop_after(spate::BatchTime(0));
    }
    let result = ssc.await_termination();
    lock(&RUNNING).retain(|(running, _)| *running != id);
    result?;
    if let Some(t) = ssc.write_final_checkpoint()? {
        tracing::info!(target: TARGET, "checkpoint of batch {} ms written", t.0);
    }
    if interrupted() {
        let last = ssc
            .last_completed_batch()
            .map_or_else(|| "no batch".to_string(), |t| format!("batch {} ms", t.0));
        note(&format!(
            "interrupted: stopped after {last}; the outputs cover the input up to there{}",
            if job.checkpoint.is_some() {
                "; run the same command again to continue"
            } else {
                ""
            }
        ));
        return Ok(RunEnd::Interrupted);
    }
    Ok(RunEnd::Finished)
}

/// The time of batch `n` after `base` (ms) with batches every `interval` ms: base + n·interval,
/// or `None` when that overflows (a batch no stream reaches).
fn last_batch_time(base: u64, interval: u64, n: u64) -> Option<u64> {
    n.checked_mul(interval)?.checked_add(base)
}

// ------------------------------------------------------------------------------- signals

/// Signals received so far (SIGINT, SIGTERM, SIGHUP).
static SIGNALS: AtomicU32 = AtomicU32::new(0);
/// The contexts [`run`] is waiting for (one per worker of this process), to stop on a
/// signal.
static RUNNING: Mutex<Vec<(u64, spate::StreamingContext)>> = Mutex::new(Vec::new());
/// Numbers the entries of [`RUNNING`].
static NEXT_RUN: AtomicU64 = AtomicU64::new(0);

/// Handles SIGINT and SIGTERM for the rest of the process: the first stops the running
/// stream after its current batch (outputs and the last checkpoint are then written as at
/// the end of the input), a second exits at once with status 130.
pub fn handle_signals() {
    let installed = ctrlc::set_handler(|| {
        if SIGNALS.fetch_add(1, Ordering::SeqCst) > 0 {
            let _ = writeln!(std::io::stderr(), "interrupted again: exiting now");
            std::process::exit(130);
        }
        let _ = writeln!(
            std::io::stderr(),
            "interrupted: finishing the current batch, then writing the outputs \
             (interrupt again to exit at once)"
        );
        // Every worker of this process asks to stop; with several workers the leader
        // decides the last batch for all of them.
        for (_, ssc) in lock(&RUNNING).iter() {
            ssc.stop_after(spate::BatchTime(0));
        }
    });
    if let Err(e) = installed {
        tracing::warn!(target: TARGET, "cannot handle Ctrl-C gracefully: {e}");
    }
}

/// Whether a signal asked the job to stop.
pub fn interrupted() -> bool {
    SIGNALS.load(Ordering::SeqCst) > 0
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

// -------------------------------------------------------------------------------- output

/// The progress bar being drawn, if any: lines are printed through it.
static BAR: Mutex<Option<ProgressBar>> = Mutex::new(None);

/// Ends the process quietly when a pipe it writes to was closed (`spate … | head`), as
/// ripgrep does: outputs are written atomically and checkpoints are crash-safe, so stopping
/// at any point loses nothing that a restart would not redo.
fn exit_on_broken_pipe(result: &std::io::Result<()>) {
    if let Err(e) = result
        && e.kind() == std::io::ErrorKind::BrokenPipe
    {
        std::process::exit(0);
    }
}

/// Whether this thread prints and writes the job's results: always with one worker; with
/// several, only the leader's threads (every worker runs the same job on the same data).
pub fn is_leader() -> bool {
    spate::runtime::on_leader()
}

/// Prints a line to stdout, above the progress bar if one is drawn (the leader only).
pub fn print_line(line: &str) {
    if !is_leader() {
        return;
    }
    let write = || {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{line}").and_then(|()| out.flush())
    };
    let bar = lock(&BAR).clone();
    exit_on_broken_pipe(&match bar {
        Some(bar) => bar.suspend(write),
        None => write(),
    });
}

/// Prints a message to stderr, above the progress bar if one is drawn (the leader only).
pub fn note(line: &str) {
    if !is_leader() {
        return;
    }
    let write = || writeln!(std::io::stderr().lock(), "{line}");
    let bar = lock(&BAR).clone();
    exit_on_broken_pipe(&match bar {
        Some(bar) => bar.suspend(write),
        None => write(),
    });
}

/// `println!` through [`print_line`].
macro_rules! outln {
    ($($arg:tt)*) => { $crate::common::print_line(&format!($($arg)*)) };
}
/// `eprintln!` through [`note`].
macro_rules! errln {
    ($($arg:tt)*) => { $crate::common::note(&format!($($arg)*)) };
}
pub(crate) use {errln, outln};

/// The log writer: stderr, through the progress bar, ending the process on a closed pipe.
struct Stderr;

impl Write for Stderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let bar = lock(&BAR).clone();
        let write = || std::io::stderr().lock().write_all(buf);
        let result = match bar {
            Some(bar) => bar.suspend(write),
            None => write(),
        };
        exit_on_broken_pipe(&result);
        result.map(|()| buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// Whether stderr is an interactive terminal (progress bars only make sense there).
pub fn interactive() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("CI").is_none()
}

/// A progress bar on stderr that advances with the input bytes of every batch; lines
/// printed with [`print_line`], [`note`] and the log go above it while it is drawn.
pub struct Progress {
    bar: ProgressBar,
}

impl Progress {
    /// A bar for `total` input bytes (a spinner if unknown).
    pub fn new(total: Option<u64>) -> Progress {
        let bar = match total {
            Some(total) => {
                let bar = ProgressBar::new(total);
                bar.set_style(
                    ProgressStyle::with_template(
                        "{spinner} [{elapsed_precise}] {bar:30} {bytes}/{total_bytes} {msg}",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
                );
                bar
            }
            None => {
                let bar = ProgressBar::new_spinner();
                bar.set_style(
                    ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bytes} {msg}")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                bar
            }
        };
        *lock(&BAR) = Some(bar.clone());
        Progress { bar }
    }

    /// Removes the bar; later lines print as usual.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
        *lock(&BAR) = None;
    }
}

impl StreamingListener for Progress {
    fn on_batch_completed(&self, info: &BatchInfo) {
        self.bar.inc(info.bytes_in);
        self.bar.set_message(format!(
            "batch {} · {} records · {} ms",
            info.batch_time.0, info.records_in, info.processing_time_ms
        ));
    }
}

/// One log line per batch (at info, this command's target), for non-interactive runs.
pub struct BatchLog;

impl StreamingListener for BatchLog {
    fn on_batch_completed(&self, info: &BatchInfo) {
        if !is_leader() {
            return;
        }
        tracing::info!(
            target: TARGET,
            "batch {:>8} ms: {:>7} records in, {:>4} skipped, {:>5} ms processing, {:>5} ms delay",
            info.batch_time.0,
            info.records_in,
            info.records_skipped,
            info.processing_time_ms,
            info.scheduling_delay_ms
        );
    }
}

/// Shows progress: a bar on a terminal (unless `quiet`), else one log line per batch;
/// returns the bar to finish after the run.
pub fn show_progress(
    ssc: &spate::StreamingContext,
    bar: bool,
    total_bytes: Option<u64>,
) -> Option<std::sync::Arc<Progress>> {
    if !is_leader() {
        return None;
    }
    if bar {
        let progress = std::sync::Arc::new(Progress::new(total_bytes));
        ssc.add_listener(std::sync::Arc::clone(&progress));
        Some(progress)
    } else {
        ssc.add_listener(BatchLog);
        None
    }
}

#[cfg(test)]
mod tests {
    use super::{last_batch_time, parse_duration};

    #[test]
    fn the_last_batch_time_does_not_overflow() {
        assert_eq!(last_batch_time(5_000, 1_000, 3), Some(8_000));
        assert_eq!(
            last_batch_time(0, 1_000, u64::MAX / 1_000),
            Some(u64::MAX / 1_000 * 1_000)
        );
        // Past u64::MAX milliseconds: no batch time, not a wrapped or panicking one.
        assert_eq!(last_batch_time(0, 1_000, u64::MAX), None);
        assert_eq!(last_batch_time(0, 1_000, u64::MAX / 1_000 + 1), None);
        assert_eq!(last_batch_time(u64::MAX - 10, 1_000, 1), None);
    }

    #[test]
    fn durations_are_positive_and_bounded() {
        assert_eq!(
            parse_duration("250ms"),
            Ok(std::time::Duration::from_millis(250))
        );
        assert!(parse_duration("0s").is_err());
        let err = parse_duration("100000000000d").unwrap_err();
        assert!(err.contains("too long"), "{err}");
        assert!(parse_duration("366d").is_ok());
    }
}
