//! Shared helpers for the examples: dataset paths, where they run, and their output.
//!
//! Every example runs on the embedded runtime by default, or on timely dataflow workers
//! with the same options as the `spate` CLI (or the same `SPATE_*` variables):
//!
//! ```sh
//! cargo run --release --example streaming_stats -- --runtime timely -w 2
//! # Two processes on this machine (one command each, its own --process):
//! cargo run --release --example streaming_stats -- --runtime timely --processes 2 --process 0
//! cargo run --release --example streaming_stats -- --runtime timely --processes 2 --process 1
//! ```
//!
//! [`run`] starts the workers and runs the example's body on each (SPMD: every worker runs
//! the whole program); the body prints and writes through an [`Output`], which does so on
//! the leader only, so the console and the files are those of one run.

use anyhow::Context;
use spate::SpateContext;
use spate_timely::TimelyConfig;
use std::path::{Path, PathBuf};

/// The repository's root folder.
pub fn repo() -> PathBuf {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR"));
    examples.parent().unwrap_or(examples).to_path_buf()
}

/// `$SPATE_DATASETS`, or `../shared/datasets` beside the repository.
pub fn shared_datasets() -> PathBuf {
    std::env::var_os("SPATE_DATASETS")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("../shared/datasets"))
}

/// The value after `--name` on the command line, if given.
fn option(name: &str) -> anyhow::Result<Option<String>> {
    let args: Vec<String> = std::env::args().collect();
    match args.iter().position(|a| a == name) {
        Some(i) => {
            let value = args
                .get(i + 1)
                .with_context(|| format!("{name} needs a value"))?;
            Ok(Some(value.clone()))
        }
        None => Ok(None),
    }
}

/// A runtime option: `--long`, `-short` (if any), or the variable `env`.
fn runtime_option<T: std::str::FromStr>(
    long: &str,
    short: Option<&str>,
    env: &str,
) -> anyhow::Result<Option<T>>
where
    T::Err: std::fmt::Display,
{
    let given = match option(long)? {
        Some(v) => Some(v),
        None => match short {
            Some(short) => option(short)?,
            None => None,
        },
    };
    let Some(text) = given.or_else(|| std::env::var(env).ok()) else {
        return Ok(None);
    };
    text.parse()
        .map(Some)
        .map_err(|e| anyhow::anyhow!("{long} {text}: {e}"))
}

/// The timely configuration given by `--runtime timely` and its options (`-w/--workers`,
/// `--processes`, `--process`, `--hostfile`, or `SPATE_RUNTIME`, `SPATE_WORKERS`, …), or
/// `None` for the embedded runtime.
pub fn timely_config() -> anyhow::Result<Option<TimelyConfig>> {
    let runtime: Option<String> = runtime_option("--runtime", None, "SPATE_RUNTIME")?;
    match runtime.as_deref() {
        None | Some("local") => Ok(None),
        Some("timely") => {
            let hostfile: Option<PathBuf> = runtime_option("--hostfile", None, "SPATE_HOSTFILE")?;
            let config = TimelyConfig::from_options(
                runtime_option("--workers", Some("-w"), "SPATE_WORKERS")?,
                runtime_option("--processes", None, "SPATE_PROCESSES")?,
                runtime_option("--process", None, "SPATE_PROCESS")?,
                hostfile.as_deref(),
            )?;
            Ok(Some(config))
        }
        Some(other) => anyhow::bail!("--runtime {other}: expected local or timely"),
    }
}

/// Runs `body` on the runtime the command line asks for: once on the embedded runtime, or
/// once per timely worker of this process, each with its own context. Returns the first
/// worker's own error if any failed (rather than a peer's report that it did).
pub fn run<F>(body: F) -> anyhow::Result<()>
where
    F: Fn(&SpateContext) -> anyhow::Result<()> + Send + Sync + 'static,
{
    let Some(config) = timely_config()? else {
        return body(&spate::local_context()?);
    };
    let results = spate_timely::execute(&config, move |sc| body(&sc))?;
    let mut errors = results.into_iter().filter_map(Result::err);
    let Some(mut error) = errors.next() else {
        return Ok(());
    };
    for e in errors {
        if peer_failed(&error) && !peer_failed(&e) {
            error = e;
        }
    }
    Err(error)
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

/// Where an example prints and writes: on the leader worker only (every worker computes
/// the same results), into the folder given as `--out DIR`, or `spate-examples/NAME` in the
/// system's temporary directory (never the source tree).
#[derive(Clone, Debug)]
pub struct Output {
    dir: PathBuf,
    leader: bool,
}

impl Output {
    /// The output of the example `name` run by the worker of `sc`; the leader creates the
    /// folder if missing.
    pub fn new(sc: &SpateContext, name: &str) -> anyhow::Result<Output> {
        let dir = match option("--out")? {
            Some(dir) => PathBuf::from(dir),
            None => std::env::temp_dir().join("spate-examples").join(name),
        };
        let leader = sc.is_leader();
        if leader {
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        Ok(Output { dir, leader })
    }

    /// Whether this worker prints and writes (plots are drawn under this too).
    pub fn is_leader(&self) -> bool {
        self.leader
    }

    /// The output folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The path of `file` in the output folder.
    pub fn path(&self, file: &str) -> PathBuf {
        self.dir.join(file)
    }

    /// Prints a line, on the leader.
    pub fn say(&self, line: std::fmt::Arguments<'_>) {
        if self.leader {
            println!("{line}");
        }
    }

    /// Writes `file` in the output folder through a temporary that is then renamed, on the
    /// leader.
    pub fn write(&self, file: &str, contents: impl AsRef<[u8]>) -> anyhow::Result<()> {
        if !self.leader {
            return Ok(());
        }
        let path = self.path(file);
        spate::io::write_atomic(&path, |w| w.write_all(contents.as_ref()))
            .with_context(|| format!("writing {}", path.display()))
    }
}

/// `say!(out, "format", args…)`: prints a line through an [`Output`], on the leader only.
#[macro_export]
macro_rules! say {
    ($out:expr, $($arg:tt)*) => {
        $out.say(format_args!($($arg)*))
    };
}
