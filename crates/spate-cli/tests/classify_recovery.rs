//! `spate classify --checkpoint` killed with SIGKILL mid-stream and restarted writes exactly
//! the model (and the test-then-train metrics) of a run that was never interrupted.

use crate::kmeans::{dataset, spate};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Real time, 20 ms batches of 100 rows (41 batches), a checkpoint every 3 batches.
fn job(model: &Path, checkpoint: Option<&Path>) -> Command {
    let mut cmd = spate();
    cmd.args([
        "classify",
        "--model",
        "hoeffding",
        "--target",
        "class",
        "--quiet",
    ])
    .args(["--grace-period", "100", "--metrics-window", "300"])
    .args(["--realtime", "--batch", "20ms", "--batch-rows", "100"])
    .args(["--checkpoint-every", "3", "--threads", "2"])
    .arg("--input")
    .arg(dataset("elec2-first4032.csv"))
    .arg("--output")
    .arg(model)
    .env("RUST_LOG", "error")
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    if let Some(dir) = checkpoint {
        cmd.arg("--checkpoint").arg(dir);
    }
    cmd
}

#[test]
fn a_killed_and_restarted_job_writes_the_uninterrupted_model() {
    let dir = tempfile::tempdir().unwrap();
    let reference = dir.path().join("reference.json");
    assert!(job(&reference, None).output().unwrap().status.success());

    let model = dir.path().join("model.json");
    let checkpoint = dir.path().join("checkpoint");
    let mut child = job(&model, Some(&checkpoint)).spawn().unwrap();
    // Kill soon after the first checkpoint, however slow the machine.
    let waiting = Instant::now();
    let manifests = || {
        std::fs::read_dir(&checkpoint).map_or(0, |d| {
            d.flatten()
                .filter(|e| e.file_name().to_string_lossy().ends_with(".ckpt"))
                .count()
        })
    };
    // The first manifest is written before the first batch; wait for a periodic one.
    while manifests() < 2 && waiting.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(30));
    let _ = child.kill();
    let _ = child.wait();
    let started = Instant::now();
    let out = job(&model, Some(&checkpoint)).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(started.elapsed() < Duration::from_secs(60));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("continuing from the checkpoint"),
        "the kill came before the first checkpoint or after the end"
    );
    assert_eq!(
        std::fs::read_to_string(&model).unwrap(),
        std::fs::read_to_string(&reference).unwrap(),
        "the restarted job must end with the uninterrupted job's model and metrics"
    );
}
