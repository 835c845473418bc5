//! `--runtime local|timely`: where a job runs. By default on the embedded runtime (one
//! process); with `--runtime timely`, on timely dataflow workers — `--workers` threads in
//! this process, times `--processes` processes started with the same command and their own
//! `--process` index (addresses from `--hostfile`, or `127.0.0.1:2101…` on one machine).
//!
//! Every worker runs the whole job (SPMD): [`run_job`] starts the workers and runs the
//! command's body on each, with [`worker_context`] giving the body its worker's context.
//! Only the leader (worker 0) prints and writes the results (see `common::is_leader`);
//! every process prints its own errors.

use crate::common::RunEnd;
use spate::SpateContext;
use spate_timely::TimelyConfig;
use std::cell::RefCell;
use std::path::PathBuf;

/// The runtime options of every job. Each can also be given as an environment variable
/// (`SPATE_RUNTIME`, `SPATE_WORKERS`, `SPATE_PROCESSES`, `SPATE_PROCESS`, `SPATE_HOSTFILE`),
/// which is how a cluster launcher usually passes them.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct RuntimeArgs {
    /// Where the job runs: `local`, the embedded runtime (one process, --threads threads),
    /// or `timely`, timely dataflow workers (threads of this process and of other processes).
    /// Results are identical on either.
    #[arg(long, value_enum, default_value_t = RuntimeKind::Local, env = "SPATE_RUNTIME")]
    pub runtime: RuntimeKind,
    /// With --runtime timely: workers in this process (timely's -w).
    #[arg(short = 'w', long, value_name = "N", env = "SPATE_WORKERS")]
    pub workers: Option<usize>,
    /// With --runtime timely: processes in the job, each started with the same command and
    /// its own --process (timely's -n).
    #[arg(long, value_name = "N", env = "SPATE_PROCESSES")]
    pub processes: Option<usize>,
    /// With --runtime timely: this process's index, 0 to --processes - 1; process 0 reads
    /// the input and writes the results (timely's -p).
    #[arg(long, value_name = "I", env = "SPATE_PROCESS")]
    pub process: Option<usize>,
    /// With --runtime timely: a file with every process's HOST:PORT, one per line, in process
    /// order (timely's -h); default 127.0.0.1:2101, :2102, …
    #[arg(long, value_name = "FILE", env = "SPATE_HOSTFILE")]
    pub hostfile: Option<PathBuf>,
}

/// The runtimes a job can run on.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RuntimeKind {
    /// The embedded runtime: one process, tasks on a rayon pool.
    #[default]
    Local,
    /// Timely dataflow workers, in this process and others.
    Timely,
}

impl RuntimeArgs {
    /// This process's index among the job's processes (0 when there is one).
    pub fn process_index(&self) -> usize {
        self.process.unwrap_or(0)
    }

    /// The timely configuration these options describe, or `None` for the embedded
    /// runtime; options that only apply to timely are refused with `local`.
    pub fn timely_config(&self, threads: Option<u64>) -> anyhow::Result<Option<TimelyConfig>> {
        if self.runtime == RuntimeKind::Local {
            let given = [
                (self.workers.is_some(), "--workers"),
                (self.processes.is_some(), "--processes"),
                (self.process.is_some(), "--process"),
                (self.hostfile.is_some(), "--hostfile"),
            ];
            if let Some((_, option)) = given.iter().find(|g| g.0) {
                anyhow::bail!("{option} applies to --runtime timely");
            }
            return Ok(None);
        }
        let mut config = TimelyConfig::from_options(
            self.workers,
            self.processes,
            self.process,
            self.hostfile.as_deref(),
        )
        .map_err(|e| anyhow::anyhow!("--runtime timely: {e}"))?;
        if let Some(threads) = threads {
            config.threads = usize::try_from(threads).unwrap_or(usize::MAX);
        }
        config
            .check()
            .map_err(|e| anyhow::anyhow!("--runtime timely: {e}"))?;
        Ok(Some(config))
    }
}

thread_local! {
    /// The context of the worker whose job this thread runs (timely only).
    static WORKER: RefCell<Option<SpateContext>> = const { RefCell::new(None) };
}

/// The context of the worker this thread runs the job for, under `--runtime timely`.
pub fn worker_context() -> Option<SpateContext> {
    WORKER.with(|w| w.borrow().clone())
}

/// Runs `job` once per worker of this process on timely (`config`), each on its own thread
/// with its worker's context, and returns the job's outcome: the first worker's error, if
/// any worker failed, else the leader's result (or this process's first worker's).
pub fn run_job<F>(config: &TimelyConfig, job: F) -> anyhow::Result<RunEnd>
where
    F: Fn() -> anyhow::Result<RunEnd> + Send + Sync + 'static,
{
    let results = spate_timely::execute(config, move |sc| {
        WORKER.with(|w| *w.borrow_mut() = Some(sc));
        let result = job();
        // The worker stops once its last context is gone.
        WORKER.with(|w| w.borrow_mut().take());
        result
    })?;
    let (mut first, mut error) = (None, None::<anyhow::Error>);
    for result in results {
        match result {
            // A worker that failed because a peer did says less than the peer's own error.
            Err(e)
                if error
                    .as_ref()
                    .is_none_or(|kept| peer_failed(kept) && !peer_failed(&e)) =>
            {
                error = Some(e);
            }
            Err(_) => {}
            Ok(end) => {
                first.get_or_insert(end);
            }
        }
    }
    match error {
        Some(e) => Err(e),
        None => Ok(first.unwrap_or(RunEnd::Finished)),
    }
}

/// Whether `e` only reports that another worker failed.
fn peer_failed(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        matches!(
            cause.downcast_ref::<spate::Error>(),
            Some(spate::Error::PeerFailed { .. })
        )
    })
}
