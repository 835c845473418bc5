//! `spate wordcount --input redis://…` against a private `redis-server`: a run killed with
//! SIGKILL and restarted from its checkpoint counts every entry exactly once, and its
//! results (per-batch hashes and the final totals, written to Redis) equal an uninterrupted
//! run's and an independent count of the entries.

use spate::redis::testing::LocalRedis;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn book() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../datasets/moby-dick.txt");
    std::fs::read_to_string(path).unwrap()
}

fn connect(server: &LocalRedis) -> redis::Connection {
    redis::Client::open(("127.0.0.1", server.port()))
        .unwrap()
        .get_connection()
        .unwrap()
}

/// The entries: each line of the book with a token of its own (`qz{i}q`), so the totals
/// show whether any entry was counted twice or not at all.
fn entries() -> Vec<String> {
    book()
        .lines()
        .enumerate()
        .map(|(i, line)| format!("{line} qz{i}q"))
        .collect()
}

fn fill(con: &mut redis::Connection, key: &str, values: &[String]) {
    for chunk in values.chunks(1000) {
        let mut pipe = redis::pipe();
        for v in chunk {
            pipe.cmd("XADD")
                .arg(key)
                .arg("*")
                .arg("line")
                .arg(v)
                .ignore();
        }
        pipe.exec(con).unwrap();
    }
}

/// Word counts computed here, independently of Spate: split on what is not alphanumeric,
/// lowercase.
fn reference_counts(values: &[String]) -> HashMap<String, u64> {
    let mut counts = HashMap::new();
    for v in values {
        for w in v
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
        {
            *counts.entry(w.to_lowercase()).or_insert(0) += 1;
        }
    }
    counts
}

/// The job: real time, 25 ms batches of 250 entries (90 batches), a checkpoint every 2
/// batches, results written to Redis under `prefix`.
fn job(server: &LocalRedis, prefix: &str, checkpoint: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_spate"));
    cmd.args(["wordcount", "--quiet", "--top", "0", "--realtime"])
        .args(["--batch", "25ms", "--lines-per-batch", "250"])
        .args(["--checkpoint-every", "2", "--threads", "2"])
        .arg("--input")
        .arg(server.url("book") + "?bounded=true")
        .arg("--output")
        .arg(server.url(prefix))
        .arg("--checkpoint")
        .arg(checkpoint)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    cmd
}

fn run_to_completion(cmd: &mut Command) -> String {
    let output = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "the job failed: {stderr}");
    stderr
}

/// The batches written under `prefix`, in batch order, and the final totals.
fn results(
    con: &mut redis::Connection,
    prefix: &str,
) -> (Vec<HashMap<String, u64>>, HashMap<String, u64>) {
    let times: Vec<u64> = redis::cmd("ZRANGE")
        .arg(format!("{prefix}:batches"))
        .arg(0)
        .arg(-1)
        .query(con)
        .unwrap();
    let batches = times
        .iter()
        .map(|t| {
            redis::cmd("HGETALL")
                .arg(format!("{prefix}:{t}"))
                .query(con)
                .unwrap()
        })
        .collect();
    let totals = redis::cmd("HGETALL")
        .arg(format!("{prefix}:final"))
        .query(con)
        .unwrap();
    (batches, totals)
}

fn batches_written(con: &mut redis::Connection, prefix: &str) -> u64 {
    redis::cmd("ZCARD")
        .arg(format!("{prefix}:batches"))
        .query(con)
        .unwrap()
}

/// A small deterministic generator for kill times.
fn next(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

#[test]
fn a_killed_and_restarted_job_counts_every_entry_exactly_once() {
    let Some(server) = LocalRedis::start_or_skip("redis kill -9") else {
        return;
    };
    let mut con = connect(&server);
    let values = entries();
    fill(&mut con, "book", &values);
    let want_totals = reference_counts(&values);

    let ckpt = tempfile::tempdir().unwrap();
    let started = Instant::now();
    run_to_completion(&mut job(&server, "reference", ckpt.path()));
    let duration = started.elapsed();
    let (want_batches, totals) = results(&mut con, "reference");
    assert_eq!(want_batches.len(), values.len().div_ceil(250));
    assert_eq!(
        totals, want_totals,
        "an uninterrupted run counts as the reference does"
    );
    // Each batch holds the counts of its 250 entries, in order.
    for (i, batch) in want_batches.iter().enumerate() {
        let end = ((i + 1) * 250).min(values.len());
        assert_eq!(
            *batch,
            reference_counts(&values[i * 250..end]),
            "batch #{i}"
        );
    }

    let total = want_batches.len() as u64;
    let mut interrupted_mid_run = 0;
    for seed in [13_u64, 29, 47] {
        let prefix = format!("run{seed}");
        let ckpt = tempfile::tempdir().unwrap();
        let mut rng = seed;
        for _ in 0..1 + next(&mut rng) % 2 {
            let done = batches_written(&mut con, &prefix);
            let target = done + 1 + next(&mut rng) % ((total - done) / 2).max(1);
            let extra = Duration::from_millis(next(&mut rng) % 40);
            let mut child = job(&server, &prefix, ckpt.path()).spawn().unwrap();
            let deadline = Instant::now() + duration * 10 + Duration::from_secs(30);
            while batches_written(&mut con, &prefix) < target
                && child.try_wait().unwrap().is_none()
                && Instant::now() < deadline
            {
                std::thread::sleep(Duration::from_millis(2));
            }
            std::thread::sleep(extra);
            let _ = child.kill(); // SIGKILL
            let _ = child.wait();
        }
        let before = batches_written(&mut con, &prefix);
        if before > 0 && before < total {
            interrupted_mid_run += 1;
        }
        let stderr = run_to_completion(&mut job(&server, &prefix, ckpt.path()));
        assert!(
            stderr.contains("continuing from the checkpoint"),
            "seed {seed}: {stderr}"
        );
        let (batches, totals) = results(&mut con, &prefix);
        assert_eq!(batches.len(), want_batches.len(), "seed {seed}: batches");
        assert!(
            batches == want_batches,
            "seed {seed}: a batch's counts differ"
        );
        assert!(totals == want_totals, "seed {seed}: the totals differ");
        for i in 0..values.len() {
            assert_eq!(
                totals.get(&format!("qz{i}q")),
                Some(&1),
                "seed {seed}: entry {i}"
            );
        }
    }
    assert!(
        interrupted_mid_run >= 2,
        "the kills must land mid-run for the test to mean anything ({interrupted_mid_run} of 3 did)"
    );
}

#[test]
fn malformed_entries_are_skipped_and_counted_and_bad_urls_refused() {
    let Some(server) = LocalRedis::start_or_skip("redis malformed entries") else {
        return;
    };
    let mut con = connect(&server);
    fill(&mut con, "s", &["a b".to_string(), "b c".to_string()]);
    redis::cmd("XADD")
        .arg("s")
        .arg("*")
        .arg("text")
        .arg("no line field")
        .exec(&mut con)
        .unwrap();
    redis::cmd("XADD")
        .arg("s")
        .arg("*")
        .arg("line")
        .arg(&b"\xff"[..])
        .exec(&mut con)
        .unwrap();
    let out = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_spate"))
        .args(["wordcount", "--quiet", "--top", "0", "--input"])
        .arg(server.url("s") + "?bounded=true")
        .arg("--output")
        .arg(out.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("2 lines (2 skipped), 4 words"), "{stderr}");
    let totals: BTreeMap<String, String> = std::fs::read_to_string(out.path().join("final.csv"))
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| {
            let (w, n) = l.split_once(',').unwrap();
            (w.to_string(), n.to_string())
        })
        .collect();
    assert_eq!(
        totals,
        BTreeMap::from([
            ("a".into(), "1".into()),
            ("b".into(), "2".into()),
            ("c".into(), "1".into())
        ])
    );

    for (input, says) in [
        ("redis://127.0.0.1:1/s?bounded=true", "unreachable"),
        ("redis://127.0.0.1/", "no key"),
        ("redis://127.0.0.1/s?bounded=maybe", "true or false"),
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_spate"))
            .args(["wordcount", "--quiet", "--input", input])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{input} was accepted");
        assert!(stderr.contains(says), "{input}: {stderr}");
    }
}

/// Runs `spate ARGS` and returns its stdout; fails the test if the command fails.
fn spate_ok(args: &[&std::ffi::OsStr]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_spate"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn the_csv_commands_read_a_redis_stream_as_they_read_the_file() {
    let Some(server) = LocalRedis::start_or_skip("redis CSV commands") else {
        return;
    };
    let mut con = connect(&server);
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../datasets/elec2-first4032.csv");
    let lines: Vec<String> = std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    fill(&mut con, "elec2", &lines);
    let url = server.url("elec2") + "?bounded=true";
    let dir = tempfile::tempdir().unwrap();
    let out = |name: &str| dir.path().join(name).into_os_string();
    let os = |s: &str| std::ffi::OsString::from(s);
    let jobs: [(&str, Vec<std::ffi::OsString>); 3] = [
        ("stats", vec![os("--window"), os("3")]),
        ("kmeans", vec![os("--k"), os("3"), os("--standardize")]),
        ("regress", vec![os("--target"), os("nswprice")]),
    ];
    for (command, extra) in jobs {
        let mut results = Vec::new();
        for (input, name) in [(path.clone().into_os_string(), "file"), (os(&url), "redis")] {
            let output = out(&format!("{command}-{name}.csv"));
            let mut args = vec![os(command), os("--quiet"), os("--input"), input];
            args.extend([
                os("--batch-rows"),
                os("500"),
                os("--output"),
                output.clone(),
            ]);
            args.extend(extra.iter().cloned());
            let refs: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
            let stdout = spate_ok(&refs);
            results.push((std::fs::read_to_string(&output).unwrap(), stdout));
        }
        assert!(!results[0].0.is_empty(), "{command}");
        assert_eq!(results[0].0, results[1].0, "{command}: output files differ");
    }

    // The default columns are chosen by the file's rule: a repeated header row says nothing,
    // NaN is a number (skipped later, and counted), a text leaves its column out. Before, the
    // Redis input had its own rule, and the repeated header made every column non-numeric.
    let mut quirky = vec!["a,b,c,d".to_string()];
    for i in 0..40 {
        let b = if i == 4 {
            "NaN".to_string()
        } else {
            format!("{}", f64::from(i) * 0.5)
        };
        let c = if i == 6 {
            "n/a".to_string()
        } else {
            (i % 7).to_string()
        };
        quirky.push(format!("{i},{b},{c},{}", (i * 3) % 10));
        if i == 9 {
            quirky.push("a,b,c,d".to_string());
        }
    }
    let quirky_file = dir.path().join("quirky.csv");
    std::fs::write(&quirky_file, quirky.join("\n") + "\n").unwrap();
    fill(&mut con, "quirky", &quirky);
    let mut results = Vec::new();
    for (input, name) in [
        (quirky_file.into_os_string(), "file"),
        (os(&(server.url("quirky") + "?bounded=true")), "redis"),
    ] {
        let output = out(&format!("quirky-{name}.csv"));
        let run = Command::new(env!("CARGO_BIN_EXE_spate"))
            .args(["stats", "--batch-rows", "10", "--input"])
            .arg(input)
            .arg("--output")
            .arg(&output)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert!(run.status.success(), "{name}: {stderr}");
        assert!(
            stderr.contains("column `c` is left out"),
            "{name}: {stderr}"
        );
        results.push(std::fs::read_to_string(&output).unwrap());
    }
    assert_eq!(results[0], results[1], "quirky: output files differ");
    let columns: std::collections::BTreeSet<&str> = results[0]
        .lines()
        .filter(|l| l.starts_with("batch,"))
        .filter_map(|l| l.split(',').nth(3))
        .collect();
    assert_eq!(columns, ["a", "b", "d"].into_iter().collect());

    // The CSV commands end with their input: an unbounded stream is refused up front.
    let output = Command::new(env!("CARGO_BIN_EXE_spate"))
        .args(["stats", "--input", &server.url("elec2"), "--output"])
        .arg(out("never.csv"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("?bounded=true"), "{stderr}");
}
