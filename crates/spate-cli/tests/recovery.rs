//! Exactly-once recovery for real: `spate wordcount --checkpoint` is killed with SIGKILL at
//! seeded random moments, restarted, and must produce exactly the output of a run that was
//! never interrupted (the final totals, the per-batch files in order, and the dead-letter
//! file of the skipped lines).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn book() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../datasets/moby-dick.txt")
}

/// The book with a line of invalid UTF-8 after every 97th line (230 of them), written to
/// `dir`: the job skips them and writes them to its dead-letter file.
fn book_with_bad_lines(dir: &Path) -> PathBuf {
    let text = std::fs::read(book()).unwrap();
    let mut out = Vec::with_capacity(text.len() + 4096);
    for (i, line) in text.split_inclusive(|&b| b == b'\n').enumerate() {
        out.extend_from_slice(line);
        if i % 97 == 96 {
            out.extend_from_slice(b"broken \xff\xfe line\n");
        }
    }
    let path = dir.join("book.txt");
    std::fs::write(&path, out).unwrap();
    path
}

/// The job under test: real time, 25 ms batches of 250 lines (91 batches, ~2.3 s), a
/// checkpoint every 2 batches, skipped lines to `out/../dead.txt`.
fn job(input: &Path, out: &Path, checkpoint: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_spate"));
    cmd.args([
        "wordcount",
        "--quiet",
        "--realtime",
        "--batch",
        "25ms",
        "--lines-per-batch",
        "250",
        "--checkpoint-every",
        "2",
        "--threads",
        "2",
    ])
    .arg("--input")
    .arg(input)
    .arg("--output")
    .arg(out)
    .arg("--checkpoint")
    .arg(checkpoint)
    .arg("--dead-letter")
    .arg(dead_letter(out))
    .env("RUST_LOG", "warn")
    .stdout(Stdio::null())
    .stderr(Stdio::piped());
    cmd
}

/// The dead-letter file of the job writing into `out`.
fn dead_letter(out: &Path) -> PathBuf {
    out.with_extension("dead.txt")
}

/// Everything the job wrote: final.csv, and the per-batch files in batch order (batch times
/// depend on the wall clock at the first start, so they are compared by position).
fn outputs(dir: &Path) -> (String, Vec<String>) {
    let mut batches = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if let Some(t) = name
            .strip_prefix("counts-")
            .and_then(|n| n.strip_suffix(".csv"))
        {
            let t: u64 = t.parse().unwrap();
            batches.insert(t, std::fs::read_to_string(dir.join(&name)).unwrap());
        } else {
            // Hidden temporary files of writes cut short by SIGKILL are invisible leftovers;
            // anything else is unexpected.
            assert!(
                name == "final.csv" || name.starts_with('.'),
                "unexpected file {name}"
            );
        }
    }
    let final_csv = std::fs::read_to_string(dir.join("final.csv")).unwrap_or_default();
    (final_csv, batches.into_values().collect())
}

/// How many per-batch files the job has written so far.
fn batch_files(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.file_name().to_string_lossy().starts_with("counts-"))
        })
        .count() as u64
}

fn run_to_completion(input: &Path, out: &Path, checkpoint: &Path) {
    let result = job(input, out, checkpoint).output().unwrap();
    assert!(
        result.status.success(),
        "restart failed: {}",
        String::from_utf8_lossy(&result.stderr)
    );
}

/// A small deterministic generator for kill times.
fn next(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

#[test]
fn killed_and_restarted_runs_equal_an_uninterrupted_run() {
    let data = tempfile::tempdir().unwrap();
    let input = book_with_bad_lines(data.path());
    let reference = data.path().join("reference");
    let ref_ckpt = tempfile::tempdir().unwrap();
    let started = Instant::now();
    run_to_completion(&input, &reference, ref_ckpt.path());
    let duration = started.elapsed();
    let want = outputs(&reference);
    assert_eq!(want.1.len(), (22_331_usize + 230).div_ceil(250));
    assert!(want.0.starts_with("word,count\nthe,14715\n"));
    let want_dead = std::fs::read_to_string(dead_letter(&reference)).unwrap();
    assert_eq!(want_dead.lines().count(), 230);

    let total = want.1.len() as u64;
    let mut interrupted_mid_run = 0;
    for seed in [11_u64, 23, 37, 41, 59, 67] {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        std::fs::create_dir(&out).unwrap();
        let ckpt = tempfile::tempdir().unwrap();
        let mut rng = seed;
        // One or two kills per seed. Each waits until the run has written a seeded random
        // number of batch files past the ones already there (so the kill lands mid-run however
        // fast or slow the machine is), then a further random 0-40 ms, which covers the
        // checkpoint writes between batch files.
        let kills = 1 + next(&mut rng) % 2;
        for _ in 0..kills {
            let done = batch_files(&out);
            let target = done + 1 + next(&mut rng) % ((total - done) / 2).max(1);
            let extra = Duration::from_millis(next(&mut rng) % 40);
            let mut child = job(&input, &out, ckpt.path()).spawn().unwrap();
            let deadline = Instant::now() + duration * 10 + Duration::from_secs(30);
            while batch_files(&out) < target
                && child.try_wait().unwrap().is_none()
                && Instant::now() < deadline
            {
                std::thread::sleep(Duration::from_millis(2));
            }
            std::thread::sleep(extra);
            // SIGKILL: no chance to flush or clean up.
            let _ = child.kill();
            let _ = child.wait();
        }
        let before = outputs(&out).1.len();
        if before > 0 && before < want.1.len() {
            interrupted_mid_run += 1;
        }
        run_to_completion(&input, &out, ckpt.path());
        let got = outputs(&out);
        assert_eq!(got.1.len(), want.1.len(), "seed {seed}: batch files");
        assert!(got.0 == want.0, "seed {seed}: final totals differ");
        for (i, (a, b)) in got.1.iter().zip(&want.1).enumerate() {
            assert!(a == b, "seed {seed}: batch file #{i} differs");
        }
        // Before: appended again after each recovery (451-457 lines instead of 447).
        let dead = std::fs::read_to_string(dead_letter(&out)).unwrap();
        assert!(
            dead == want_dead,
            "seed {seed}: dead-letter file differs ({} lines, {} expected)",
            dead.lines().count(),
            want_dead.lines().count()
        );
    }
    assert!(
        interrupted_mid_run >= 3,
        "the kills must land mid-run for the test to mean anything ({interrupted_mid_run} of 6 did)"
    );
}
