//! Every example gives the same results on the embedded runtime, on 2 timely workers in one
//! process, and on 2 timely processes connected over loopback: their result files are
//! compared row by row (one row per batch, window or cluster), leaving out only the columns
//! that time the machine.
//!
//! The examples run as their own binaries, which `cargo test` builds beside this test
//! (`target/<profile>/examples/`), on the bundled dataset slices (`SPATE_DATASETS` points at
//! an empty folder).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The result files of an example and, in each, the columns that are timings.
struct Example {
    name: &'static str,
    files: &'static [(&'static str, &'static [&'static str])],
}

const EXAMPLES: [Example; 5] = [
    Example {
        name: "streaming_stats",
        files: &[
            ("per_batch.csv", &[]),
            ("per_window.csv", &[]),
            (
                "batch_metrics.csv",
                &[
                    "batch_time_ms",
                    "input_rate_per_s",
                    "processing_time_ms",
                    "scheduling_delay_ms",
                    "total_delay_ms",
                ],
            ),
        ],
    },
    Example {
        name: "flight_delays",
        files: &[("delays.csv", &[])],
    },
    Example {
        name: "streaming_regression",
        files: &[("metrics.csv", &[])],
    },
    Example {
        name: "streaming_kmeans",
        files: &[
            ("kdd_metrics.csv", &["update_ms"]),
            ("blobs_metrics.csv", &["update_ms"]),
        ],
    },
    Example {
        name: "pagerank_stream",
        files: &[
            ("bitcoin_batches.csv", &["update_ms", "full_recompute_ms"]),
            ("bitcoin_top20.csv", &[]),
            ("epinions_batches.csv", &["update_ms", "full_recompute_ms"]),
            ("epinions_top20.csv", &[]),
        ],
    },
];

/// How long one run of an example may take before it counts as hung.
const TIMEOUT: Duration = Duration::from_secs(300);

/// The example binaries `cargo test` built: `target/<profile>/examples/NAME`, beside the
/// `deps` folder holding this test.
fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test's own path");
    let profile = exe
        .parent()
        .and_then(Path::parent)
        .expect("tests run from target/<profile>/deps");
    let path = profile.join("examples").join(name);
    assert!(
        path.exists(),
        "{} is missing: `cargo test` builds the examples before running this test",
        path.display()
    );
    path
}

/// Starts `name` writing to `out`; its stdout and stderr go to `log.out` and `log.err`.
fn start(name: &str, out: &Path, datasets: &Path, runtime: &[String], log: &Path) -> Run {
    let file = |ext: &str| {
        let path = log.with_extension(ext);
        let file = std::fs::File::create(&path)
            .unwrap_or_else(|e| panic!("creating {}: {e}", path.display()));
        (path, file)
    };
    let ((stdout, out_file), (stderr, err_file)) = (file("out"), file("err"));
    let child = Command::new(binary(name))
        .arg("--out")
        .arg(out)
        .args(runtime)
        .env("SPATE_DATASETS", datasets)
        .env_remove("SPATE_RUNTIME")
        .env_remove("SPATE_WORKERS")
        .env_remove("SPATE_PROCESSES")
        .env_remove("SPATE_PROCESS")
        .env_remove("SPATE_HOSTFILE")
        .stdin(Stdio::null())
        .stdout(out_file)
        .stderr(err_file)
        .spawn()
        .unwrap_or_else(|e| panic!("starting {name}: {e}"));
    Run {
        child,
        stdout,
        stderr,
    }
}

/// A running example and where its output goes.
struct Run {
    child: Child,
    stdout: PathBuf,
    stderr: PathBuf,
}

/// Waits for `runs` (killing them all after [`TIMEOUT`]), checks each succeeded and returns
/// what each printed.
fn finish(name: &str, setup: &str, runs: Vec<Run>) -> Vec<String> {
    let started = Instant::now();
    let mut runs = runs;
    let mut statuses = vec![None; runs.len()];
    while statuses.iter().any(Option::is_none) {
        for (run, status) in runs.iter_mut().zip(&mut statuses) {
            if status.is_none() {
                *status = run.child.try_wait().expect("waiting for an example");
            }
        }
        if started.elapsed() > TIMEOUT {
            for run in &mut runs {
                let _ = run.child.kill();
                let _ = run.child.wait();
            }
            panic!("{name} on {setup} did not finish within {TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    runs.iter()
        .zip(statuses)
        .map(|(run, status)| {
            let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
            let stdout = read(&run.stdout);
            assert!(
                status.is_some_and(|s| s.success()),
                "{name} on {setup} failed ({status:?}):\n{stdout}\n{}",
                read(&run.stderr)
            );
            stdout
        })
        .collect()
}

/// Free loopback addresses, one per process.
fn free_hosts(processes: usize) -> Vec<String> {
    let listeners: Vec<_> = (0..processes)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").expect("a free port"))
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().expect("bound").to_string())
        .collect()
}

/// A CSV file's header and rows, without the `skip` columns.
fn table(path: &Path, skip: &[&str]) -> (Vec<String>, Vec<Vec<String>>) {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
    for column in skip {
        assert!(
            header.contains(column),
            "{} has no column {column}",
            path.display()
        );
    }
    let keep: Vec<usize> = (0..header.len())
        .filter(|&i| !skip.contains(&header[i]))
        .collect();
    let pick = |fields: Vec<&str>| -> Vec<String> {
        keep.iter()
            .map(|&i| fields.get(i).copied().unwrap_or_default().to_string())
            .collect()
    };
    let rows = lines.map(|l| pick(l.split(',').collect())).collect();
    (pick(header), rows)
}

/// Compares every result file of `example` in `dir` with the embedded run's, row by row.
fn compare(example: &Example, reference: &Path, dir: &Path, setup: &str) {
    for (file, timings) in example.files {
        let (header, expected) = table(&reference.join(file), timings);
        let (_, found) = table(&dir.join(file), timings);
        assert!(
            !expected.is_empty(),
            "{} {file}: the embedded run wrote no rows",
            example.name
        );
        for (row, (e, f)) in expected.iter().zip(&found).enumerate() {
            let differ: BTreeMap<&str, (&str, &str)> = header
                .iter()
                .zip(e.iter().zip(f))
                .filter(|(_, (a, b))| a != b)
                .map(|(h, (a, b))| (h.as_str(), (a.as_str(), b.as_str())))
                .collect();
            assert!(
                differ.is_empty(),
                "{} {file}, row {} on {setup} differs from the embedded run (column: \
                 (embedded, {setup})): {differ:?}",
                example.name,
                row + 1
            );
        }
        assert_eq!(
            expected.len(),
            found.len(),
            "{} {file}: rows on the embedded runtime and on {setup}",
            example.name
        );
    }
}

fn runs_identically_on_every_runtime(example: &Example) {
    let root = tempfile::tempdir().expect("a temporary folder");
    let at = |name: &str| root.path().join(name);
    let datasets = at("no-shared-datasets");
    std::fs::create_dir_all(&datasets).expect("an empty datasets folder");
    let name = example.name;

    let local = at("local");
    let run = start(name, &local, &datasets, &[], &at("local-log"));
    finish(name, "the embedded runtime", vec![run]);

    let threads = at("timely-threads");
    let args = ["--runtime", "timely", "-w", "2"].map(String::from);
    let setup = "timely -w 2";
    let run = start(name, &threads, &datasets, &args, &at("threads-log"));
    finish(name, setup, vec![run]);
    compare(example, &local, &threads, setup);

    let processes = at("timely-processes");
    let hostfile = at("hosts");
    std::fs::write(&hostfile, free_hosts(2).join("\n")).expect("writing the hostfile");
    let runs = (0..2)
        .map(|p| {
            let args = [
                "--runtime",
                "timely",
                "--processes",
                "2",
                "--process",
                &p.to_string(),
                "--hostfile",
                &hostfile.to_string_lossy(),
            ]
            .map(String::from);
            start(
                name,
                &processes,
                &datasets,
                &args,
                &at(&format!("process-{p}-log")),
            )
        })
        .collect();
    let setup = "2 timely processes";
    let printed = finish(name, setup, runs);
    compare(example, &local, &processes, setup);
    // The leader alone prints the results.
    assert!(!printed[0].is_empty(), "process 0 printed nothing");
    assert!(printed[1].is_empty(), "process 1 printed: {}", printed[1]);
}

#[test]
fn streaming_stats_runs_identically_on_every_runtime() {
    runs_identically_on_every_runtime(&EXAMPLES[0]);
}

#[test]
fn flight_delays_runs_identically_on_every_runtime() {
    runs_identically_on_every_runtime(&EXAMPLES[1]);
}

#[test]
fn streaming_regression_runs_identically_on_every_runtime() {
    runs_identically_on_every_runtime(&EXAMPLES[2]);
}

#[test]
fn streaming_kmeans_runs_identically_on_every_runtime() {
    runs_identically_on_every_runtime(&EXAMPLES[3]);
}

#[test]
fn pagerank_stream_runs_identically_on_every_runtime() {
    runs_identically_on_every_runtime(&EXAMPLES[4]);
}
