//! The same jobs on every runtime: each CLI job's output files (and, where they hold no
//! timings, its stdout) are identical under `--runtime local`, `--runtime timely -w 2`, and
//! 2 processes of 2 workers on 127.0.0.1 started by `spate cluster`; a process killed with
//! SIGKILL under `spate cluster` is recovered from the checkpoint with the output of an
//! uninterrupted run; processes started with different worker counts fail fast, and
//! processes whose input files differ fail with the source named.

use crate::kmeans::{dataset, flights};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn spate() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_spate"));
    cmd.env("RUST_LOG", "warn").env_remove("SPATE_RUNTIME");
    cmd
}

/// How a job is run.
#[derive(Clone, Copy, Debug)]
enum Setup {
    Local,
    TimelyThreads,
    TwoProcesses,
}

const SETUPS: [Setup; 3] = [Setup::Local, Setup::TimelyThreads, Setup::TwoProcesses];

/// The command for `args` under `setup`.
fn command(setup: Setup, args: &[String]) -> Command {
    let mut cmd = spate();
    match setup {
        Setup::Local => {
            cmd.args(args).args(["--threads", "2"]);
        }
        Setup::TimelyThreads => {
            cmd.args(args).args(["--runtime", "timely", "-w", "2"]);
        }
        Setup::TwoProcesses => {
            cmd.args(["cluster", "--processes", "2", "--"])
                .args(args)
                .args(["-w", "2"]);
        }
    }
    cmd
}

fn run(mut cmd: Command) -> Output {
    let out = cmd.stdin(Stdio::null()).output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A run's output files by name, and its stdout.
type Outputs = (BTreeMap<String, Vec<u8>>, Vec<u8>);

/// Every file under `dir` (or the file itself), by name, with its bytes.
fn files(path: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut found = BTreeMap::new();
    if path.is_file() {
        found.insert(String::new(), std::fs::read(path).unwrap());
        return found;
    }
    for entry in std::fs::read_dir(path).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        found.insert(name, std::fs::read(entry.path()).unwrap());
    }
    found
}

/// Runs `job` (its arguments, with `{out}` standing for the output path) under every setup
/// and checks that the outputs (and stdout, if `same_stdout`) are identical.
fn same_everywhere(name: &str, job: &[&str], output_is_dir: bool, same_stdout: bool) {
    let dir = tempfile::tempdir().unwrap();
    let mut reference: Option<Outputs> = None;
    for setup in SETUPS {
        let out: PathBuf = dir.path().join(format!("{name}-{setup:?}"));
        let out = if output_is_dir {
            out
        } else {
            out.with_extension("csv")
        };
        let args: Vec<String> = job
            .iter()
            .map(|a| a.replace("{out}", &out.display().to_string()))
            .collect();
        let result = run(command(setup, &args));
        let got = (files(&out), result.stdout);
        assert!(!got.0.is_empty(), "{name} {setup:?}: no output");
        match &reference {
            None => reference = Some(got),
            Some(want) => {
                assert_eq!(
                    got.0.keys().collect::<Vec<_>>(),
                    want.0.keys().collect::<Vec<_>>(),
                    "{name} {setup:?}: other output files"
                );
                for (file, bytes) in &got.0 {
                    assert!(
                        *bytes == want.0[file],
                        "{name} {setup:?}: {file} differs from --runtime local"
                    );
                }
                if same_stdout {
                    assert_eq!(
                        String::from_utf8_lossy(&got.1),
                        String::from_utf8_lossy(&want.1),
                        "{name} {setup:?}: stdout"
                    );
                }
            }
        }
    }
}

fn path(p: &Path) -> String {
    p.display().to_string()
}

#[test]
fn word_counts_are_identical_on_every_runtime() {
    let book = path(&dataset("moby-dick.txt"));
    same_everywhere(
        "wordcount",
        &[
            "wordcount",
            "-i",
            &book,
            "-n",
            "3000",
            "--top",
            "5",
            "-o",
            "{out}",
        ],
        true,
        true,
    );
    same_everywhere(
        "windowed",
        &[
            "wordcount",
            "-i",
            &book,
            "-n",
            "3000",
            "--top",
            "5",
            "--window",
            "4",
            "--slide",
            "2",
            "-o",
            "{out}",
        ],
        true,
        true,
    );
}

#[test]
fn statistics_are_identical_on_every_runtime() {
    let elec2 = path(&dataset("elec2-first4032.csv"));
    same_everywhere(
        "stats",
        &[
            "stats", "-q", "-i", &elec2, "-n", "250", "--window", "4", "-o", "{out}",
        ],
        false,
        true,
    );
}

#[test]
fn models_are_identical_on_every_runtime() {
    let flights = path(&flights());
    same_everywhere(
        "kmeans",
        &[
            "kmeans",
            "-q",
            "-i",
            &flights,
            "-k",
            "4",
            "--columns",
            "dep_delay,arr_delay,distance,air_time",
            "-n",
            "300",
            "-o",
            "{out}",
        ],
        false,
        true,
    );
    same_everywhere(
        "regress",
        &[
            "regress",
            "-q",
            "-i",
            &flights,
            "--target",
            "arr_delay",
            "--columns",
            "dep_delay,distance,air_time",
            "-n",
            "300",
            "-o",
            "{out}",
        ],
        false,
        true,
    );
    let elec2 = path(&dataset("elec2-first4032.csv"));
    same_everywhere(
        "classify",
        &[
            "classify",
            "-q",
            "-i",
            &elec2,
            "--target",
            "class",
            "--model",
            "hoeffding",
            "-n",
            "500",
            "-o",
            "{out}",
        ],
        false,
        true,
    );
}

#[test]
fn graph_results_are_identical_on_every_runtime() {
    let edges = path(&dataset("soc-sign-bitcoinotc.csv.gz"));
    // PageRank and graph print per-batch timings: only their output files are compared.
    same_everywhere(
        "pagerank",
        &[
            "pagerank", "-q", "-i", &edges, "--order", "time", "-n", "4000", "-o", "{out}",
        ],
        false,
        false,
    );
    same_everywhere(
        "bfs",
        &[
            "graph", "bfs", "-q", "-i", &edges, "--order", "time", "--source", "1", "-n", "4000",
            "--window", "5", "-o", "{out}",
        ],
        false,
        false,
    );
}

#[test]
fn sql_results_are_identical_on_every_runtime() {
    // Per-window results of a grouped query over a sliding window (the incremental plan),
    // one CSV file per slide.
    let flights = path(&flights());
    same_everywhere(
        "sql",
        &[
            "sql",
            "-q",
            "--input",
            &flights,
            "--rows-per-batch",
            "300",
            "--window",
            "4s",
            "--slide",
            "2s",
            "--query",
            "SELECT carrier, count(*) AS flights, avg(dep_delay) AS mean_delay, \
             max(arr_delay) AS worst FROM batch GROUP BY carrier ORDER BY flights DESC, carrier",
            "--output-format",
            "csv",
            "--output",
            "{out}",
        ],
        true,
        true,
    );
}

/// The pids of the processes `parent` started.
fn children(parent: u32) -> Vec<u32> {
    std::fs::read_to_string(format!("/proc/{parent}/task/{parent}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

/// The checkpointed word count in real time (25 ms batches of 250 lines, ~2.3 s).
fn checkpointed_job(out: &Path, checkpoint: &Path) -> Vec<String> {
    [
        "wordcount",
        "-q",
        "--realtime",
        "--batch",
        "25ms",
        "-n",
        "250",
        "--checkpoint-every",
        "2",
        "-i",
        &path(&dataset("moby-dick.txt")),
        "-o",
        &path(out),
        "--checkpoint",
        &path(checkpoint),
    ]
    .map(String::from)
    .to_vec()
}

#[test]
fn a_process_killed_under_spate_cluster_is_recovered_with_the_uninterrupted_output() {
    let dir = tempfile::tempdir().unwrap();
    let (want, got) = (dir.path().join("want"), dir.path().join("got"));
    run(command(
        Setup::Local,
        &checkpointed_job(&want, &dir.path().join("ckpt-want")),
    ));

    let checkpoint = dir.path().join("ckpt");
    let mut supervisor = command(Setup::TwoProcesses, &checkpointed_job(&got, &checkpoint))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Once a few checkpoints are committed, kill process 1 (not the leader) with SIGKILL.
    let started = Instant::now();
    let manifests = |dir: &Path| {
        std::fs::read_dir(dir)
            .map(|d| {
                d.flatten()
                    .filter(|e| e.file_name().to_string_lossy().ends_with(".ckpt"))
                    .count()
            })
            .unwrap_or(0)
    };
    while manifests(&checkpoint) < 3 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no checkpoint written"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let processes = children(supervisor.id());
    assert_eq!(processes.len(), 2, "{processes:?}");
    // Children are listed in start order: the second is process 1.
    let victim = processes[1];
    assert!(
        Command::new("kill")
            .args(["-9", &victim.to_string()])
            .status()
            .unwrap()
            .success()
    );
    let status = supervisor.wait().unwrap();
    let mut stderr = String::new();
    std::io::Read::read_to_string(supervisor.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert!(status.success(), "{stderr}");
    assert!(stderr.contains("restarting all 2"), "{stderr}");
    // Real-time batch times differ between runs: compare the per-batch files in order.
    let (want, got) = (files(&want), files(&got));
    assert_eq!(got.len(), want.len(), "as many output files");
    assert!(got["final.csv"] == want["final.csv"], "final.csv differs");
    for (i, (w, g)) in want.values().zip(got.values()).enumerate() {
        assert!(w == g, "batch file {i} differs after the recovery");
    }
}

/// `host:port` of `n` loopback ports free a moment ago.
fn free_loopback_hosts(n: usize) -> Vec<String> {
    let listeners: Vec<std::net::TcpListener> = (0..n)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().unwrap().to_string())
        .collect()
}

#[test]
fn a_text_file_that_differs_between_processes_fails_the_job_with_a_clear_error() {
    // Two "machines": the same relative path `in.txt` holds one different word in the
    // second batch of 100 lines.
    let dir = tempfile::tempdir().unwrap();
    let text: String = (0..300)
        .map(|i| format!("w{} w{} w{}\n", i % 7, i % 11, i % 13))
        .collect();
    // Line 150 (the first batch holds lines 1..=100).
    let at = text.match_indices('\n').nth(148).unwrap().0 + 1;
    let mut changed = text.clone();
    changed.replace_range(at..at + 1, "x");
    let hosts = free_loopback_hosts(2);
    let hostfile = dir.path().join("hosts");
    std::fs::write(&hostfile, hosts.join("\n")).unwrap();
    let processes: Vec<_> = [text, changed]
        .into_iter()
        .enumerate()
        .map(|(process, text)| {
            let machine = dir.path().join(format!("machine-{process}"));
            std::fs::create_dir(&machine).unwrap();
            std::fs::write(machine.join("in.txt"), text).unwrap();
            spate()
                .current_dir(&machine)
                .args(["wordcount", "-i", "in.txt", "-o", "out", "-n", "100"])
                .args(["--runtime", "timely", "--processes", "2"])
                .args(["--process", &process.to_string()])
                .arg("--hostfile")
                .arg(&hostfile)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for (process, child) in processes.into_iter().enumerate() {
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "process {process}: {stderr}");
        assert!(
            stderr.contains("batch at 2000 ms failed")
                && stderr.contains("read different input from source `file-replay(in.txt)`"),
            "process {process}: {stderr}"
        );
    }
    // The workers compared what they read before the batch's outputs ran: the first
    // batch's counts are written, the second's are not.
    let out = dir.path().join("machine-0").join("out");
    assert!(out.join("counts-1000.csv").exists());
    assert!(!out.join("counts-2000.csv").exists());
}
