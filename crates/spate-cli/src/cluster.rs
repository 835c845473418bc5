//! `spate cluster --processes N -- COMMAND …`: runs a `spate` command as N local processes
//! of one timely execution, watches them, and when one dies restarts them all, so that a
//! job with `--checkpoint` continues from its last committed checkpoint.
//!
//! Each process is this binary run with the command's own arguments and the runtime
//! options in the environment (`SPATE_RUNTIME=timely`, `SPATE_PROCESSES`, `SPATE_PROCESS`,
//! `SPATE_HOSTFILE`), so options given after `--` (such as `-w 2`) apply to every process.
//! Process 0 reads the input and writes the results; the others print only their errors.

use crate::common::RunEnd;
use anyhow::{Context, bail};
use std::io::Write;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// `--help` examples.
pub const EXAMPLES: &str = "\
Examples:
  Word count on 2 local processes of 2 workers each, restarted from the checkpoint if a
  process dies:
    spate cluster --processes 2 -- wordcount -i book.txt -o out -w 2 --checkpoint ckpt

  The same job on several machines: start on each host, with its own --process index,
    spate wordcount -i book.txt -o out --runtime timely --processes 2 --process 0 \\
        --hostfile hosts.txt --checkpoint /shared/ckpt";

/// The most processes `spate cluster` starts on this machine.
const MAX_PROCESSES: u64 = 64;

/// Runs a spate command as several local processes of one timely execution.
#[derive(clap::Args, Clone, Debug)]
pub struct Args {
    /// Processes to start (each runs the command's workers: -w in the command, default 1).
    #[arg(long, value_name = "N", default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..=MAX_PROCESSES))]
    processes: u64,
    /// HOST:PORT of every process, one per line (default: free ports on 127.0.0.1, chosen
    /// at every start).
    #[arg(long, value_name = "FILE")]
    hostfile: Option<PathBuf>,
    /// Restarts of the whole job after a process died, before giving up. A restart
    /// continues from the command's --checkpoint; without one the job is not restarted.
    #[arg(long, value_name = "N", default_value_t = 3)]
    max_restarts: u32,
    /// The spate command to run and its options, after `--`.
    #[arg(last = true, required = true, value_name = "COMMAND")]
    command: Vec<String>,
}

/// Signals received by the supervisor.
static SIGNALS: AtomicU32 = AtomicU32::new(0);

/// How one start of the processes ended.
enum Outcome {
    /// Every process exited with this status (process 0's).
    Exited(ExitStatus),
    /// Process `index` died with `status`; the others were stopped.
    Died { index: usize, status: ExitStatus },
}

pub fn run(args: Args) -> anyhow::Result<RunEnd> {
    if let Some(first) = args.command.first()
        && (first == "cluster" || first.starts_with('-'))
    {
        bail!("give a spate command after `--`, e.g. `spate cluster -- wordcount -i FILE`");
    }
    let given = |option: &str| {
        args.command
            .iter()
            .any(|a| a == option || a.starts_with(&format!("{option}=")))
    };
    for option in ["--runtime", "--processes", "--process", "--hostfile"] {
        if given(option) {
            bail!("{option}: spate cluster sets it for every process; leave it out of the command");
        }
    }
    let checkpointed = given("--checkpoint");
    let _ = ctrlc::set_handler(|| {
        SIGNALS.fetch_add(1, Ordering::SeqCst);
    });
    let exe = std::env::current_exe().context("finding the spate executable")?;
    let processes = usize::try_from(args.processes).unwrap_or(1);
    let mut restarts = 0;
    loop {
        let hostfile = match &args.hostfile {
            Some(path) => Hostfile::Given(path.clone()),
            None => Hostfile::Local(local_hostfile(processes)?),
        };
        let children = start(&exe, &args.command, processes, hostfile.path())?;
        match watch(children)? {
            Outcome::Exited(status) => {
                return match status.code() {
                    Some(0) => Ok(RunEnd::Finished),
                    Some(130) => Ok(RunEnd::Interrupted),
                    _ => bail!("the job failed ({status})"),
                };
            }
            Outcome::Died { index, status } => {
                if SIGNALS.load(Ordering::SeqCst) > 0 {
                    return Ok(RunEnd::Interrupted);
                }
                if !checkpointed {
                    bail!(
                        "process {index} of {processes} ended ({status}); the others were \
                         stopped. Without --checkpoint the job cannot continue where it was"
                    );
                }
                if restarts >= args.max_restarts {
                    bail!(
                        "process {index} of {processes} ended ({status}) after {restarts} \
                         restarts (--max-restarts); giving up"
                    );
                }
                restarts += 1;
                crate::common::note(&format!(
                    "process {index} of {processes} ended ({status}); restarting all {processes} \
                     from the last checkpoint (restart {restarts} of at most {})",
                    args.max_restarts
                ));
            }
        }
    }
}

/// The hostfile the processes read: the user's, or a temporary one of free local ports.
enum Hostfile {
    Given(PathBuf),
    Local(tempfile::NamedTempFile),
}

impl Hostfile {
    fn path(&self) -> &std::path::Path {
        match self {
            Hostfile::Given(path) => path,
            Hostfile::Local(file) => file.path(),
        }
    }
}

/// A hostfile of `processes` free ports on 127.0.0.1.
fn local_hostfile(processes: usize) -> anyhow::Result<tempfile::NamedTempFile> {
    // Hold every listener until all ports are chosen, so that no port is picked twice.
    let listeners: Vec<TcpListener> = (0..processes)
        .map(|_| TcpListener::bind("127.0.0.1:0"))
        .collect::<Result<_, _>>()
        .context("finding free local ports for the processes")?;
    let mut file = tempfile::NamedTempFile::new().context("writing a hostfile")?;
    for listener in &listeners {
        writeln!(file, "{}", listener.local_addr()?)?;
    }
    file.flush()?;
    Ok(file)
}

/// Starts the processes: this executable with the command's arguments, runtime options in
/// the environment.
fn start(
    exe: &std::path::Path,
    command: &[String],
    processes: usize,
    hostfile: &std::path::Path,
) -> anyhow::Result<Vec<Child>> {
    let mut children = Vec::with_capacity(processes);
    for index in 0..processes {
        let child = Command::new(exe)
            .args(command)
            .env("SPATE_RUNTIME", "timely")
            .env("SPATE_PROCESSES", processes.to_string())
            .env("SPATE_PROCESS", index.to_string())
            .env("SPATE_HOSTFILE", hostfile)
            .stdin(Stdio::null())
            .spawn();
        match child {
            Ok(child) => children.push(child),
            Err(e) => {
                stop_all(&mut children);
                return Err(e).context("starting a spate process");
            }
        }
    }
    Ok(children)
}

/// Waits for the processes: all exit, or one dies (a non-zero status or a signal) and the
/// others are stopped. A first Ctrl-C is passed on to every process (each finishes its
/// batch and writes its outputs); a second stops them at once.
fn watch(mut children: Vec<Child>) -> anyhow::Result<Outcome> {
    let mut exited: Vec<Option<ExitStatus>> = vec![None; children.len()];
    let mut forwarded = 0;
    loop {
        let signals = SIGNALS.load(Ordering::SeqCst);
        if signals > forwarded {
            forwarded = signals;
            for (child, status) in children.iter_mut().zip(&exited) {
                if status.is_none() {
                    if signals == 1 {
                        interrupt(child);
                    } else {
                        let _ = child.kill();
                    }
                }
            }
        }
        for (index, child) in children.iter_mut().enumerate() {
            if exited[index].is_some() {
                continue;
            }
            if let Some(status) = child.try_wait().context("watching a spate process")? {
                exited[index] = Some(status);
                if !status.success() && status.code() != Some(130) {
                    stop_all(&mut children);
                    return Ok(Outcome::Died { index, status });
                }
            }
        }
        if let Some(all) = exited.iter().copied().collect::<Option<Vec<ExitStatus>>>() {
            return Ok(Outcome::Exited(all[0]));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Sends SIGINT to a process (a graceful stop).
fn interrupt(child: &Child) {
    if let Ok(pid) = i32::try_from(child.id()) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGINT,
        );
    }
}

/// Kills every process still running and waits for them.
fn stop_all(children: &mut [Child]) {
    for child in children.iter_mut() {
        let _ = child.kill();
    }
    for child in children.iter_mut() {
        let _ = child.wait();
    }
}
