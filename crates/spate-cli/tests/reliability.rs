//! Reliability cases of the `spate` command, run as a user would: changed parameters on
//! restart, ambiguous headers, inputs that yield nothing, extreme magnitudes, diverging
//! SGD, absurd options, aliased outputs, a shared checkpoint directory, signals, closed
//! pipes, endless input and bounded totals. Each test names the behaviour it replaced.

use crate::kmeans::{dataset, flights, run_ok, spate};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

fn book() -> PathBuf {
    dataset("moby-dick.txt")
}

fn run_err(cmd: &mut Command) -> String {
    let out = cmd.output().expect("spate runs");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "expected a failure: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

fn stderr_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Waits for `child` to exit, killing it after `limit`.
fn wait_with_limit(child: &mut std::process::Child, limit: Duration) -> ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("spate did not exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Before: restarting with another `--k`, `--decay`, `--damping`, `--tolerance`, `--window`,
/// `--target` or `--standardize` silently mixed two jobs (k = 4 printed, 5 centers written).
/// Every result-shaping parameter is now part of the checkpoint: a change is refused, naming
/// the parameter and both values.
#[test]
fn a_restart_with_changed_parameters_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let kmeans = |ckpt: &Path, extra: &[&str]| {
        let mut cmd = spate();
        cmd.args(["kmeans", "-q", "-n", "100", "--max-batches", "2"])
            .args(["--columns", "dep_delay,arr_delay"])
            .arg("-i")
            .arg(flights())
            .arg("-o")
            .arg(dir.path().join("centers.csv"))
            .arg("--checkpoint")
            .arg(ckpt)
            .args(extra);
        cmd
    };
    let ckpt = dir.path().join("kmeans-ckpt");
    run_ok(&mut kmeans(&ckpt, &["-k", "5"]));
    let err = run_err(&mut kmeans(&ckpt, &["-k", "4"]));
    assert!(err.contains("-k was 5, now 4"), "{err}");
    let err = run_err(&mut kmeans(&ckpt, &["-k", "5", "--decay", "0.5"]));
    assert!(err.contains("--decay was (none), now 0.5"), "{err}");
    let err = run_err(&mut kmeans(&ckpt, &["-k", "5", "--half-life", "3"]));
    assert!(err.contains("--half-life was (none), now 3"), "{err}");
    // The recorded parameters lost: the checkpoints' parameters are unknown, so no restart
    // may take them for its own.
    let recorded = ckpt.join("parameters.json");
    let saved = std::fs::read(&recorded).unwrap();
    std::fs::remove_file(&recorded).unwrap();
    let err = run_err(&mut kmeans(&ckpt, &["-k", "4"]));
    assert!(err.contains("no parameters.json"), "{err}");
    assert!(!recorded.exists());
    std::fs::write(&recorded, saved).unwrap();
    // What does not shape results may change: threads, batch limit, quiet, a plot.
    run_ok(&mut kmeans(&ckpt, &["-k", "5", "--threads", "1"]));
    let plot = dir.path().join("clusters.png");
    run_ok(&mut kmeans(
        &ckpt,
        &["-k", "5", "--plot", plot.to_str().unwrap()],
    ));
    assert!(plot.exists());

    let pagerank = |ckpt: &Path, extra: &[&str]| {
        let mut cmd = spate();
        cmd.args(["pagerank", "-q", "-n", "5000", "--max-batches", "2"])
            .arg("-i")
            .arg(dataset("CollegeMsg.txt.gz"))
            .arg("-o")
            .arg(dir.path().join("ranks.csv"))
            .arg("--checkpoint")
            .arg(ckpt)
            .args(extra);
        cmd
    };
    let ckpt = dir.path().join("pagerank-ckpt");
    run_ok(&mut pagerank(&ckpt, &[]));
    for (extra, message) in [
        (&["--damping", "0.5"][..], "--damping was 0.85, now 0.5"),
        (
            &["--tolerance", "0.01"][..],
            "--tolerance was 0.0001, now 0.01",
        ),
        (
            &["--window", "10"][..],
            "--window was (none), now 10 batches",
        ),
        // The old spelling of --window names the same parameter.
        (
            &["--window-batches", "10"][..],
            "--window was (none), now 10 batches",
        ),
        // The layout the file name implied (snap) against the one given.
        (&["--format", "csv"][..], "--format was snap, now csv"),
    ] {
        let err = run_err(&mut pagerank(&ckpt, extra));
        assert!(err.contains(message), "{extra:?}: {err}");
    }

    let regress = |ckpt: &Path, extra: &[&str]| {
        let mut cmd = spate();
        cmd.args(["regress", "-q", "-n", "100", "--max-batches", "2"])
            .arg("-i")
            .arg(flights())
            .arg("-o")
            .arg(dir.path().join("weights.csv"))
            .arg("--checkpoint")
            .arg(ckpt)
            .args(extra);
        cmd
    };
    let ckpt = dir.path().join("regress-ckpt");
    let base = ["--target", "arr_delay", "--columns", "dep_delay,distance"];
    run_ok(&mut regress(&ckpt, &base));
    for (extra, message) in [
        (&["--standardize"][..], "--standardize was false, now true"),
        (&["--forgetting", "0.9"][..], "--forgetting was 1, now 0.9"),
        (
            &["--window", "5"][..],
            "--window was 10 batches, now 5 batches",
        ),
    ] {
        let mut args = base.to_vec();
        args.extend_from_slice(extra);
        let err = run_err(&mut regress(&ckpt, &args));
        assert!(err.contains(message), "{extra:?}: {err}");
    }
    let err = run_err(&mut regress(
        &ckpt,
        &["--target", "air_time", "--columns", "dep_delay,distance"],
    ));
    assert!(
        err.contains("--target was arr_delay, now air_time"),
        "{err}"
    );

    // Before: wordcount refused a changed --threads as "a different stream graph" (the
    // partition count followed the thread count).
    let ckpt = dir.path().join("wordcount-ckpt");
    let wordcount = |threads: &str| {
        let mut cmd = spate();
        cmd.args(["wordcount", "-q", "-n", "2000", "--max-batches", "3"])
            .args(["--threads", threads])
            .arg("-i")
            .arg(book())
            .arg("--checkpoint")
            .arg(&ckpt);
        cmd
    };
    run_ok(&mut wordcount("2"));
    run_ok(&mut wordcount("1"));
}

/// Before: `--max-batches 1` ran 2 batches in most runs and pagerank `--max-batches 0` ran 2.
/// Now N runs exactly N batches, and 0 is refused (there would be nothing to run).
#[test]
fn max_batches_runs_exactly_that_many_batches() {
    let dir = tempfile::tempdir().unwrap();
    for n in ["1", "2"] {
        let out = dir.path().join(format!("wc-{n}"));
        run_ok(
            spate()
                .args(["wordcount", "-q", "-n", "500", "--max-batches", n])
                .arg("-i")
                .arg(book())
                .arg("-o")
                .arg(&out),
        );
        let files = std::fs::read_dir(&out)
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .starts_with("counts-")
            })
            .count();
        assert_eq!(files.to_string(), n);
        let out = spate()
            .args(["pagerank", "-q", "-n", "1000", "--max-batches", n])
            .arg("-i")
            .arg(dataset("CollegeMsg.txt.gz"))
            .arg("-o")
            .arg(dir.path().join("ranks.csv"))
            .output()
            .unwrap();
        assert!(out.status.success());
        assert!(
            stderr_of(&out).contains(&format!("{n} batches ({n} in this run)")),
            "{}",
            stderr_of(&out)
        );
    }
    for command in ["wordcount", "pagerank"] {
        let err = run_err(
            spate()
                .args([command, "--max-batches", "0", "-o"])
                .arg(dir.path().join("x"))
                .arg("-i")
                .arg(book()),
        );
        assert!(err.contains("'0' for '--max-batches <N>'"), "{err}");
    }
}

/// Before: `x,x` gave k-means centers from the first column twice, stats printed the first
/// column twice and regress gave the second `a` weight 0.
#[test]
fn ambiguous_headers_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("dup.csv");
    std::fs::write(&input, "x,x,y\n1,1,5\n3,3,6\n1,2,7\n5,1,8\n").unwrap();
    let out = dir.path().join("out.csv");
    for args in [
        vec!["kmeans", "-k", "2"],
        vec!["stats"],
        vec!["regress", "--target", "y", "--columns", "x"],
    ] {
        let err = run_err(
            spate()
                .args(&args)
                .arg("-i")
                .arg(&input)
                .arg("-o")
                .arg(&out),
        );
        assert!(
            err.contains("the column name `x` appears 2 times in the header (columns 1, 2)"),
            "{args:?}: {err}"
        );
        assert!(!out.exists());
    }
}

/// Before: `regress --target carrier` exited 0 with "0 rows fitted" and zero weights, and a
/// file without a valid row gave an empty result. Now both fail clearly.
#[test]
fn a_text_target_or_an_input_without_valid_records_fails() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.csv");
    let err = run_err(
        spate()
            .args(["regress", "--target", "carrier", "-i"])
            .arg(flights())
            .arg("-o")
            .arg(&out),
    );
    assert!(err.contains("column `carrier`"), "{err}");
    assert!(err.contains("holds no number"), "{err}");
    // Each column holds a number, but no row has both.
    let empty = dir.path().join("na.csv");
    std::fs::write(&empty, "a,b\n1,NA\nNA,2\n").unwrap();
    for args in [
        vec!["kmeans", "-k", "1", "--columns", "a,b"],
        vec!["regress", "--target", "b", "--columns", "a"],
    ] {
        let err = run_err(
            spate()
                .args(&args)
                .arg("-i")
                .arg(&empty)
                .arg("-o")
                .arg(&out),
        );
        assert!(err.contains("no valid row"), "{args:?}: {err}");
        assert!(!out.exists(), "{args:?}");
    }
    let text_only = dir.path().join("text.csv");
    std::fs::write(&text_only, "a\nNA\nx\n").unwrap();
    let err = run_err(
        spate()
            .args(["stats", "-i"])
            .arg(&text_only)
            .arg("-o")
            .arg(&out),
    );
    assert!(err.contains("no column is numeric"), "{err}");
    assert!(!out.exists());
    let blank = dir.path().join("blank.txt");
    std::fs::write(&blank, b"\xff\xfe\n").unwrap();
    let err = run_err(spate().args(["wordcount", "-q", "-i"]).arg(&blank));
    assert!(err.contains("no valid line"), "{err}");
}

/// Before: stats printed sd 0 for values ≥ 1e150 and regress fitted x = 0, intercept 4e200
/// for y = 2x − 1e200 near 1e200 (the exact values are computed here from the data's
/// closed form).
#[test]
fn extreme_magnitudes_give_correct_statistics_and_fits() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("big.csv");
    // x = 1e200·(1 + i/100), y = 2x − 1e200, for i = 0..200: exactly representable steps
    // are not needed; the reference is the closed form of the generated doubles' formula.
    let mut text = String::from("x,y\n");
    let xs: Vec<f64> = (0..200)
        .map(|i| 1e200 * (1.0 + f64::from(i) / 100.0))
        .collect();
    for &x in &xs {
        text.push_str(&format!("{x:e},{:e}\n", 2.0 * x - 1e200));
    }
    std::fs::write(&input, &text).unwrap();
    let stats = dir.path().join("stats.csv");
    run_ok(
        spate()
            .args(["stats", "-q", "-n", "64", "-i"])
            .arg(&input)
            .arg("-o")
            .arg(&stats),
    );
    let total = std::fs::read_to_string(&stats)
        .unwrap()
        .lines()
        .find(|l| l.starts_with("total,") && l.split(',').nth(3) == Some("x"))
        .unwrap()
        .to_string();
    let f: Vec<&str> = total.split(',').collect();
    let (mean, sd): (f64, f64) = (f[6].parse().unwrap(), f[7].parse().unwrap());
    // Sample sd of 1e198·i for i = 0..200 is 1e198·sqrt(200·201/12); the mean 1e200·1.995.
    let want_sd = 1e198 * (200.0_f64 * 201.0 / 12.0).sqrt();
    assert!(
        (sd - want_sd).abs() <= 1e-9 * want_sd,
        "sd {sd:e} vs {want_sd:e}"
    );
    assert!(
        (mean - 1.995e200).abs() <= 1e-12 * 1.995e200,
        "mean {mean:e}"
    );
    let weights = dir.path().join("weights.csv");
    run_ok(
        spate()
            .args(["regress", "-q", "-n", "64", "--target", "y", "-i"])
            .arg(&input)
            .arg("-o")
            .arg(&weights),
    );
    let text = std::fs::read_to_string(&weights).unwrap();
    let value = |name: &str| -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{name},")))
            .unwrap()
            .parse()
            .unwrap()
    };
    assert!((value("x") - 2.0).abs() < 1e-9, "{text}");
    assert!((value("intercept") + 1e200).abs() < 1e-9 * 1e200, "{text}");
}

/// Before: `--method sgd --step-size 10` ended with weights ~1e27 and exit 0; with 2
/// iterations per batch the weights grew batch after batch and were written with exit 0.
#[test]
fn diverging_sgd_fails_with_advice() {
    for iterations in ["50", "2"] {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("weights.csv");
        let err = run_err(
            spate()
                .args(["regress", "-q", "--method", "sgd", "--step-size", "10"])
                .args(["--iterations", iterations])
                .args([
                    "--target",
                    "arr_delay",
                    "--columns",
                    "dep_delay,distance,air_time",
                ])
                .arg("-i")
                .arg(flights())
                .arg("-o")
                .arg(&out),
        );
        assert!(err.contains("SGD diverged"), "{iterations}: {err}");
        assert!(err.contains("smaller --step-size (now 10)"), "{err}");
        assert!(!out.exists());
    }
}

/// Before: `--batch 100000000000d` exited 0 with saturated batch times and wrong totals,
/// `--threads 1000` took over a minute, `--k 100000000 --init random` grew memory at
/// 600 MB/s.
#[test]
fn absurd_options_are_refused_up_front() {
    for (args, message) in [
        (vec!["wordcount", "--batch", "100000000000d"], "too long"),
        (vec!["wordcount", "--window", "100000000000d"], "too long"),
        (
            vec!["wordcount", "--threads", "1000"],
            "1000 is not in 1..=256",
        ),
        (
            vec![
                "kmeans",
                "-k",
                "100000000",
                "--init",
                "random",
                "-o",
                "x.csv",
            ],
            "not in 1..=100000",
        ),
    ] {
        let err = run_err(spate().args(&args).arg("-i").arg(book()));
        assert!(err.contains(message), "{args:?}: {err}");
    }
    // A window in batches too long for the model's count.
    let err = run_err(
        spate()
            .args(["regress", "--target", "arr_delay", "-o", "x.csv"])
            .args(["--window", "100000000000", "-i"])
            .arg(flights()),
    );
    assert!(
        err.contains("--window: 100000000000 batches is too long a window"),
        "{err}"
    );
}

/// Before: `--output` or `--dead-letter` equal to `--input` overwrote the input (and its
/// dead-letter lines were then counted as words).
#[test]
fn outputs_that_alias_an_input_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("flights.csv");
    std::fs::copy(flights(), &csv).unwrap();
    let text = dir.path().join("book.txt");
    std::fs::write(&text, b"some words\n\xff bad\n").unwrap();
    let cases: Vec<(Vec<std::ffi::OsString>, &str)> = vec![
        (
            vec![
                "kmeans".into(),
                "-k".into(),
                "2".into(),
                "-i".into(),
                csv.clone().into(),
                "-o".into(),
                csv.clone().into(),
            ],
            "--output",
        ),
        (
            vec![
                "regress".into(),
                "--target".into(),
                "arr_delay".into(),
                "-i".into(),
                csv.clone().into(),
                "-o".into(),
                "x.csv".into(),
                "--dead-letter".into(),
                csv.clone().into(),
            ],
            "--dead-letter",
        ),
        (
            vec![
                "wordcount".into(),
                "-i".into(),
                text.clone().into(),
                "--dead-letter".into(),
                text.clone().into(),
            ],
            "--dead-letter",
        ),
        // A directory input containing the output would read it back.
        (
            vec![
                "wordcount".into(),
                "-i".into(),
                dir.path().into(),
                "-o".into(),
                dir.path().join("out").into(),
            ],
            "--output",
        ),
    ];
    for (args, option) in cases {
        let err = run_err(spate().args(&args).current_dir(dir.path()));
        assert!(
            err.contains(option) && err.contains("would write into the input"),
            "{args:?}: {err}"
        );
    }
    assert_eq!(
        std::fs::read(&csv).unwrap(),
        std::fs::read(flights()).unwrap()
    );
    assert_eq!(std::fs::read(&text).unwrap(), b"some words\n\xff bad\n");
    // Two outputs of one job in one file would overwrite each other.
    let err = run_err(
        spate()
            .args(["regress", "--target", "arr_delay", "-i"])
            .arg(&csv)
            .args(["-o", "same.csv", "--dead-letter", "./same.csv"])
            .current_dir(dir.path()),
    );
    assert!(
        err.contains("--output and --dead-letter name the same file"),
        "{err}"
    );
    assert!(!dir.path().join("same.csv").exists());
}

/// A realtime word count that runs long enough to be interrupted.
fn slow_wordcount(out: &Path, ckpt: &Path) -> Command {
    let mut cmd = spate();
    cmd.args([
        "wordcount",
        "-q",
        "--realtime",
        "--batch",
        "20ms",
        "-n",
        "200",
    ])
    .args(["--checkpoint-every", "3"])
    .arg("-i")
    .arg(book())
    .arg("-o")
    .arg(out)
    .arg("--checkpoint")
    .arg(ckpt)
    .stdout(Stdio::null())
    .stderr(Stdio::piped());
    cmd
}

fn batch_files(dir: &Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |entries| {
        entries
            .filter(|e| {
                e.as_ref()
                    .is_ok_and(|e| e.file_name().to_string_lossy().starts_with("counts-"))
            })
            .count()
    })
}

fn wait_for_batches(dir: &Path, n: usize, child: &mut std::process::Child) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while batch_files(dir) < n {
        assert!(child.try_wait().unwrap().is_none(), "the job ended early");
        assert!(Instant::now() < deadline, "no batch files appeared");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Before: two jobs on one checkpoint directory both ran and overwrote each other's
/// checkpoints.
#[test]
fn a_second_job_on_a_checkpoint_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let ckpt = dir.path().join("ckpt");
    let out = dir.path().join("out");
    let mut first = slow_wordcount(&out, &ckpt).spawn().unwrap();
    wait_for_batches(&out, 1, &mut first);
    let err = run_err(&mut slow_wordcount(&dir.path().join("out2"), &ckpt));
    assert!(err.contains("is in use by another running job"), "{err}");
    let _ = first.kill();
    let _ = first.wait();
    // The lock goes with the process, however it ended.
    let mut third = slow_wordcount(&out, &ckpt).spawn().unwrap();
    wait_for_batches(&out, batch_files(&out) + 1, &mut third);
    let _ = third.kill();
    let _ = third.wait();
}

#[cfg(unix)]
fn signal(child: &std::process::Child, name: &str) {
    use nix::sys::signal::{Signal, kill};
    let signal = match name {
        "INT" => Signal::SIGINT,
        _ => Signal::SIGTERM,
    };
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap());
    kill(pid, signal).unwrap();
}

/// Before: SIGINT and SIGTERM ended the process at once without `final.csv`. Now the job
/// stops after its current batch, writes its outputs and a checkpoint of that batch (exit
/// status 130), and a rerun continues to the same result as an uninterrupted run.
#[cfg(unix)]
#[test]
fn a_signal_stops_gracefully_and_a_rerun_completes_the_job() {
    let dir = tempfile::tempdir().unwrap();
    let reference = dir.path().join("reference");
    run_ok(
        spate()
            .args(["wordcount", "-q", "-n", "200"])
            .arg("-i")
            .arg(book())
            .arg("-o")
            .arg(&reference),
    );
    let want = std::fs::read_to_string(reference.join("final.csv")).unwrap();
    for name in ["INT", "TERM"] {
        let out = dir.path().join(format!("out-{name}"));
        let ckpt = dir.path().join(format!("ckpt-{name}"));
        let mut child = slow_wordcount(&out, &ckpt).spawn().unwrap();
        wait_for_batches(&out, 4, &mut child);
        signal(&child, name);
        let status = wait_with_limit(&mut child, Duration::from_secs(30));
        let mut stderr = String::new();
        std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
        assert_eq!(status.code(), Some(130), "{name}: {stderr}");
        assert!(
            stderr.contains("interrupted: stopped after batch"),
            "{stderr}"
        );
        let partial = std::fs::read_to_string(out.join("final.csv")).expect("final.csv written");
        assert!(partial.len() < want.len());
        let rerun = slow_wordcount(&out, &ckpt).output().unwrap();
        assert!(rerun.status.success(), "{}", stderr_of(&rerun));
        assert!(stderr_of(&rerun).contains("continuing from the checkpoint"));
        assert!(
            std::fs::read_to_string(out.join("final.csv")).unwrap() == want,
            "{name}"
        );
    }
    // A second signal exits at once.
    let out = dir.path().join("out-twice");
    let mut child = slow_wordcount(&out, &dir.path().join("ckpt-twice"))
        .spawn()
        .unwrap();
    wait_for_batches(&out, 1, &mut child);
    signal(&child, "INT");
    signal(&child, "INT");
    let status = wait_with_limit(&mut child, Duration::from_secs(30));
    assert_eq!(status.code(), Some(130));
}

/// Before: `spate kmeans … 2>&1 | head -3` (and the other commands) hung or panicked when the
/// pipe closed. Every command now exits quietly: here stdout and stderr share one real pipe
/// whose reader goes away after three lines.
#[test]
fn every_command_exits_quietly_when_its_pipe_closes() {
    let dir = tempfile::tempdir().unwrap();
    let out = |name: &str| dir.path().join(name);
    let commands: Vec<Vec<std::ffi::OsString>> = vec![
        vec![
            "wordcount".into(),
            "-n".into(),
            "50".into(),
            "-i".into(),
            book().into(),
        ],
        vec![
            "kmeans".into(),
            "-k".into(),
            "3".into(),
            "-n".into(),
            "2".into(),
            "--columns".into(),
            "dep_delay,arr_delay".into(),
            "-i".into(),
            flights().into(),
            "-o".into(),
            out("c.csv").into(),
        ],
        vec![
            "regress".into(),
            "--target".into(),
            "arr_delay".into(),
            "--columns".into(),
            "dep_delay".into(),
            "-n".into(),
            "2".into(),
            "-i".into(),
            flights().into(),
            "-o".into(),
            out("w.csv").into(),
        ],
        vec![
            "stats".into(),
            "-n".into(),
            "2".into(),
            "-i".into(),
            dataset("elec2-first4032.csv").into(),
            "-o".into(),
            out("s.csv").into(),
        ],
        vec![
            "pagerank".into(),
            "-n".into(),
            "20".into(),
            "-i".into(),
            dataset("CollegeMsg.txt.gz").into(),
            "-o".into(),
            out("r.csv").into(),
        ],
    ];
    for args in commands {
        let (reader, writer) = std::io::pipe().unwrap();
        let mut child = spate()
            .args(&args)
            .stdout(writer.try_clone().unwrap())
            .stderr(writer)
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(reader).lines();
        for _ in 0..3 {
            lines.next().unwrap().unwrap();
        }
        drop(lines);
        let status = wait_with_limit(&mut child, Duration::from_secs(60));
        assert!(status.success(), "{args:?}: {status}");
    }
}

/// Before: `wordcount --input /dev/zero --max-batches 1` never returned (the reader looked
/// for a newline forever). The endless line is skipped while it is read.
#[cfg(target_os = "linux")]
#[test]
fn an_endless_line_is_skipped_and_the_batch_limit_holds() {
    let mut child = spate()
        .args(["wordcount", "--max-batches", "2", "-i", "/dev/zero"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let status = wait_with_limit(&mut child, Duration::from_secs(60));
    let mut stderr = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    // Nothing valid came in: a clear error, after exactly two batches.
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("gave no valid line in 2 batches (1 skipped)"),
        "{stderr}"
    );
    let dir = tempfile::tempdir().unwrap();
    let err = run_err(
        spate()
            .args(["kmeans", "-k", "2", "-i", "/dev/zero", "-o"])
            .arg(dir.path().join("c.csv")),
    );
    assert!(
        err.contains("header line is longer than the line limit"),
        "{err}"
    );
}

/// The running totals for `final.csv` are bounded by `--max-distinct`: exact below it, the
/// most frequent words with upper-bound counts above it.
#[test]
fn word_totals_are_bounded_by_max_distinct() {
    let dir = tempfile::tempdir().unwrap();
    let exact = dir.path().join("exact");
    let bounded = dir.path().join("bounded");
    run_ok(
        spate()
            .args(["wordcount", "-q", "-i"])
            .arg(book())
            .arg("-o")
            .arg(&exact),
    );
    run_ok(
        spate()
            .args(["wordcount", "-q", "--max-distinct", "500", "-i"])
            .arg(book())
            .arg("-o")
            .arg(&bounded),
    );
    let truth: std::collections::HashMap<String, u64> =
        std::fs::read_to_string(exact.join("final.csv"))
            .unwrap()
            .lines()
            .skip(1)
            .map(|l| {
                let (w, n) = l.rsplit_once(',').unwrap();
                (w.to_string(), n.parse().unwrap())
            })
            .collect();
    assert!(truth.len() > 10_000);
    let text = std::fs::read_to_string(bounded.join("final.csv")).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("word,count,error"));
    let rows: Vec<(String, u64, u64)> = lines
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (
                f[0].to_string(),
                f[1].parse().unwrap(),
                f[2].parse().unwrap(),
            )
        })
        .collect();
    assert_eq!(rows.len(), 500);
    let total: u64 = truth.values().sum();
    for (word, count, error) in &rows {
        let t = truth.get(word).copied().unwrap_or(0);
        assert!(
            *count >= t && count - error <= t,
            "{word}: {count} ± {error} vs {t}"
        );
    }
    // Every word more frequent than total / 500 is kept.
    for (word, &n) in &truth {
        if n > total / 500 {
            assert!(rows.iter().any(|r| &r.0 == word), "{word} ({n}) missing");
        }
    }
}
