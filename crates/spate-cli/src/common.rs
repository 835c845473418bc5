//! What every subcommand shares: logging, progress reporting, duration parsing.

use indicatif::{ProgressBar, ProgressStyle};
use spate::stream::{BatchInfo, StreamingListener};
use std::io::IsTerminal;
use std::time::Duration;

/// Parses `1s`, `500ms`, `2m` … into a duration.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text)
        .map_err(|e| format!("`{text}` is not a duration ({e}); try 1s, 500ms or 2m"))
}

/// Starts logging to stderr. The default level is `info`, or `warn` when a progress bar is
/// drawn (so log lines do not tear it); `RUST_LOG` overrides both.
pub fn init_logging(progress: bool) {
    let default = if progress { "warn" } else { "info" };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
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
        eprintln!("recovered from the checkpoint of batch {} ms", t.0);
    }
    Ok(ssc)
}

/// Starts `ssc` and waits for it to end: when the input is consumed, or, with `max_batches`,
/// after that many batches past the start (or past the checkpoint it recovered from). A
/// `max_batches` so large that its batch time does not fit in a `u64` of milliseconds (more
/// than half a billion years of batches) cannot be reached: the job runs to the end of its
/// input.
pub fn run(ssc: &spate::StreamingContext, max_batches: Option<u64>) -> spate::Result<()> {
    ssc.start()?;
    let base = ssc.recovered_from().unwrap_or(ssc.zero_time()).0;
    let interval = ssc.batch_interval().as_millis() as u64;
    if let Some(stop) = max_batches.and_then(|n| last_batch_time(base, interval, n)) {
        // The zero time is fixed by `start`, so the last batch is known only now; the
        // generator checks the limit before every batch, so none runs past it.
        ssc.stop_after(spate::BatchTime(stop));
    }
    ssc.await_termination()
}

/// The time of batch `n` after `base` (ms) with batches every `interval` ms: base + n·interval,
/// or `None` when that overflows (a batch no stream reaches).
fn last_batch_time(base: u64, interval: u64, n: u64) -> Option<u64> {
    n.checked_mul(interval)?.checked_add(base)
}

/// Whether stderr is an interactive terminal (progress bars only make sense there).
pub fn interactive() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("CI").is_none()
}

/// A progress bar on stderr that advances with the input bytes of every batch.
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
        Progress { bar }
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
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

/// A plain log line per batch, for non-interactive runs.
pub struct BatchLog;

impl StreamingListener for BatchLog {
    fn on_batch_completed(&self, info: &BatchInfo) {
        eprintln!(
            "batch {:>8} ms: {:>7} records in, {:>4} skipped, {:>5} ms processing, {:>5} ms delay",
            info.batch_time.0,
            info.records_in,
            info.records_skipped,
            info.processing_time_ms,
            info.scheduling_delay_ms
        );
    }
}

#[cfg(test)]
mod tests {
    use super::last_batch_time;

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
}
