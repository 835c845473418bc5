//! Exactly-once model state for real: `spate kmeans --checkpoint` is killed with SIGKILL at
//! seeded random moments, restarted, and must write exactly the centers (and report exactly
//! the costs) of a run that was never interrupted.

use crate::kmeans::{flights, spate};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The job under test: real time, 20 ms batches of 56 CSV rows (61 batches, ~1.2 s), a
/// checkpoint every 2 batches, k-means++ seeding and a standardization prepass.
fn job(out: &Path, checkpoint: &Path) -> Command {
    let mut cmd = spate();
    cmd.args([
        "kmeans",
        "--k",
        "4",
        "--decay",
        "0.8",
        "--standardize",
        "--quiet",
    ])
    .args(["--columns", "dep_delay,arr_delay,distance,air_time"])
    .args(["--realtime", "--batch", "20ms", "--batch-rows", "56"])
    .args(["--checkpoint-every", "2", "--threads", "2"])
    .arg("--input")
    .arg(flights())
    .arg("--output")
    .arg(out.join("centers.csv"))
    .arg("--checkpoint")
    .arg(checkpoint)
    .env("RUST_LOG", "error")
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    cmd
}

/// The centers file and the lines of the report that cover the whole stream (the `this run`
/// line counts only the input of the last process).
fn result(out: &Path, output: &Output) -> (String, Vec<String>) {
    assert!(
        output.status.success(),
        "job failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let centers = std::fs::read_to_string(out.join("centers.csv")).unwrap();
    let report = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|l| !l.starts_with("this run"))
        .map(String::from)
        .collect();
    (centers, report)
}

/// Entries in the checkpoint directory.
fn checkpoints(dir: &Path) -> usize {
    std::fs::read_dir(dir).map_or(0, Iterator::count)
}

/// A small deterministic generator for kill times.
fn next(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

#[test]
fn killed_and_restarted_kmeans_equals_an_uninterrupted_run() {
    let reference = tempfile::tempdir().unwrap();
    let ref_ckpt = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let output = job(reference.path(), ref_ckpt.path()).output().unwrap();
    let duration = started.elapsed();
    let want = result(reference.path(), &output);
    assert_eq!(want.0.lines().count(), 1 + 4);
    assert!(
        want.1[0].starts_with("61 batches, 3274 points clustered"),
        "{:?}",
        want.1
    );

    let mut interrupted_mid_run = 0;
    for seed in [3_u64, 17, 29, 43, 71] {
        let out = tempfile::tempdir().unwrap();
        let ckpt = tempfile::tempdir().unwrap();
        let mut rng = seed;
        // One or two kills per seed.
        let kills = 1 + next(&mut rng) % 2;
        let mut killed_mid_run = false;
        for _ in 0..kills {
            let mut child = job(out.path(), ckpt.path()).spawn().unwrap();
            // Wait for the first checkpoint beyond the initial one (however slow the machine
            // is to start the process), then a random part of half a run.
            let deadline = Instant::now() + duration * 10 + Duration::from_secs(30);
            while checkpoints(ckpt.path()) < 2
                && child.try_wait().unwrap().is_none()
                && Instant::now() < deadline
            {
                std::thread::sleep(Duration::from_millis(1));
            }
            let half = (duration.as_millis() as u64 / 2).max(1);
            std::thread::sleep(Duration::from_millis(next(&mut rng) % half));
            // SIGKILL: no chance to flush or clean up.
            let _ = child.kill();
            let status = child.wait().unwrap();
            // Killed (not finished) after at least one checkpoint beyond the initial one.
            if !status.success() && checkpoints(ckpt.path()) > 1 {
                killed_mid_run = true;
            }
        }
        interrupted_mid_run += usize::from(killed_mid_run);
        let output = job(out.path(), ckpt.path()).output().unwrap();
        let got = result(out.path(), &output);
        assert!(
            got.0 == want.0,
            "seed {seed}: centers differ:\n{}\nvs\n{}",
            got.0,
            want.0
        );
        assert_eq!(got.1, want.1, "seed {seed}: report");
    }
    assert!(
        interrupted_mid_run >= 3,
        "the kills must land mid-run for the test to mean anything ({interrupted_mid_run} of 5 did)"
    );
}
