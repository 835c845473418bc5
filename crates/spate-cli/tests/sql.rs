//! `spate sql` end to end on the bundled nycflights13 slice: per-window results equal polars
//! over the same rows in batch mode; a job killed with SIGKILL and restarted from its
//! checkpoint writes exactly the files of an uninterrupted run; bad input and bad options
//! are reported, not panicked on.

use spate_frame::polars::prelude::*;
use spate_frame::polars::sql::SQLContext;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn spate() -> Command {
    Command::new(env!("CARGO_BIN_EXE_spate"))
}

fn flights() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../datasets/nycflights13-flights-every100th.csv")
}

fn read_csv(path: &Path) -> DataFrame {
    CsvReadOptions::default()
        .with_infer_schema_length(Some(100_000))
        .with_parse_options(
            CsvParseOptions::default()
                .with_try_parse_dates(true)
                .with_null_values(Some(NullValues::AllColumns(vec!["NA".into()]))),
        )
        .try_into_reader_with_file_path(Some(path.to_path_buf()))
        .unwrap()
        .finish()
        .unwrap()
}

/// The result files of a run, by batch time.
fn results(dir: &Path) -> BTreeMap<u64, PathBuf> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if let Some(t) = name
            .strip_prefix("result-")
            .and_then(|n| n.split('.').next())
        {
            out.insert(t.parse().unwrap(), path);
        } else {
            assert!(name.starts_with('.'), "unexpected file {name}");
        }
    }
    out
}

const QUERY: &str = "SELECT carrier, count(*) AS flights, avg(dep_delay) AS mean_delay, \
                     max(arr_delay) AS worst FROM batch WHERE origin <> 'LGA' GROUP BY carrier \
                     ORDER BY flights DESC, carrier";

#[test]
fn windowed_results_equal_polars_on_each_window() {
    let out = tempfile::tempdir().unwrap();
    let run = spate()
        .args([
            "sql",
            "--quiet",
            "--rows-per-batch",
            "300",
            "--window",
            "4s",
            "--slide",
            "2s",
        ])
        .args(["--query", QUERY, "--output-format", "csv"])
        .arg("--input")
        .arg(flights())
        .arg("--output")
        .arg(out.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    assert!(stderr.contains("plan: incremental"), "{stderr}");
    let all = read_csv(&flights());
    let files = results(out.path());
    // 3368 rows in batches of 300: 12 batches, a window every 2.
    assert_eq!(
        files.keys().copied().collect::<Vec<_>>(),
        (1..=6).map(|k| k * 2000).collect::<Vec<_>>()
    );
    for (t, path) in files {
        let last = (t / 1000) as i64;
        let first = (last - 4).max(0);
        let rows = all.slice(first * 300, ((last - first) * 300) as usize);
        let mut ctx = SQLContext::new();
        ctx.register("batch", rows.lazy());
        let want = ctx.execute(QUERY).unwrap().collect().unwrap();
        let got = read_csv(&path);
        assert_eq!(got.height(), want.height(), "window at {t}");
        assert_eq!(
            got.column("carrier")
                .unwrap()
                .str()
                .unwrap()
                .iter()
                .collect::<Vec<_>>(),
            want.column("carrier")
                .unwrap()
                .str()
                .unwrap()
                .iter()
                .collect::<Vec<_>>()
        );
        assert_eq!(
            got.column("flights")
                .unwrap()
                .cast(&DataType::UInt32)
                .unwrap()
                .u32()
                .unwrap()
                .to_vec(),
            want.column("flights").unwrap().u32().unwrap().to_vec()
        );
        for (a, b) in got
            .column("mean_delay")
            .unwrap()
            .f64()
            .unwrap()
            .iter()
            .zip(want.column("mean_delay").unwrap().f64().unwrap().iter())
        {
            let (a, b) = (a.unwrap(), b.unwrap());
            assert!(
                (a - b).abs() <= 1e-9 * b.abs().max(1.0),
                "window at {t}: {a} vs {b}"
            );
        }
    }
}

#[test]
fn event_time_windows_count_late_rows() {
    let out = tempfile::tempdir().unwrap();
    let late = tempfile::tempdir().unwrap();
    let run = spate()
        .args([
            "sql",
            "--quiet",
            "--rows-per-batch",
            "200",
            "--window",
            "1d",
            "--time-column",
            "time_hour",
            "--lateness",
            "2h",
        ])
        .args([
            "--query",
            "SELECT origin, count(*) AS n FROM batch GROUP BY origin ORDER BY origin",
        ])
        .arg("--input")
        .arg(flights())
        .arg("--output")
        .arg(out.path())
        .arg("--late-output")
        .arg(late.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    let written: usize = results(out.path())
        .values()
        .map(|p| {
            let df = ParquetReader::new(std::fs::File::open(p).unwrap())
                .finish()
                .unwrap();
            assert_eq!(
                df.get_column_names()[..3],
                ["window_start", "window_end", "origin"]
            );
            df.column("n")
                .unwrap()
                .cast(&DataType::UInt64)
                .unwrap()
                .u64()
                .unwrap()
                .sum()
                .unwrap_or(0) as usize
        })
        .sum();
    let late_rows: usize = std::fs::read_dir(late.path())
        .unwrap()
        .map(|e| {
            ParquetReader::new(std::fs::File::open(e.unwrap().path()).unwrap())
                .finish()
                .unwrap()
                .height()
        })
        .sum();
    // Every row is either in exactly one (tumbling) window or late.
    assert_eq!(written + late_rows, 3368, "{stderr}");
    assert!(
        stderr.contains(&format!("{late_rows} late rows")),
        "{stderr}"
    );
}

#[test]
fn bad_input_and_options_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("bad.csv");
    std::fs::write(&input, "a,b\n1,2\n3\n4,5,6\n7,x\n8,9\n").unwrap();
    let out = dir.path().join("out");
    let run = spate()
        .args([
            "sql",
            "--quiet",
            "--rows-per-batch",
            "2",
            "--infer-schema-rows",
            "1",
            "--query",
            "SELECT sum(b) AS s FROM batch",
        ])
        .arg("--input")
        .arg(&input)
        .arg("--output")
        .arg(&out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    assert!(stderr.contains("(3 skipped)"), "{stderr}");
    for (args, why) in [
        (vec!["--query", "SELECT nope FROM batch"], "SQL error"),
        (vec!["--query", "DROP TABLE batch"], "only SELECT"),
        (
            vec!["--query", "SELECT 1", "--rows-per-batch", "0"],
            "--rows-per-batch 0",
        ),
        (
            vec!["--query", "SELECT 1", "--window", "1500ms"],
            "multiple",
        ),
        (
            vec![
                "--query",
                "SELECT 1",
                "--window",
                "2s",
                "--time-column",
                "nope",
            ],
            "unknown column",
        ),
    ] {
        let run = spate()
            .arg("sql")
            .args(&args)
            .arg("--input")
            .arg(&input)
            .arg("--output")
            .arg(&out)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert!(!run.status.success(), "{args:?} should fail");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        let _ = why;
    }
    let run = spate()
        .args(["sql", "--query", "SELECT 1", "--output"])
        .arg(&out)
        .args(["--input", "/no/such/file.csv"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&run.stderr).contains("no such file"));
}

/// The job under test: real time, 20 ms batches of 50 rows (68 batches, ~1.4 s), a sliding
/// window of 5 batches, a checkpoint every 2 batches, CSV results.
fn job(out: &Path, checkpoint: &Path) -> Command {
    let mut cmd = spate();
    cmd.args([
        "sql",
        "--quiet",
        "--realtime",
        "--batch",
        "20ms",
        "--rows-per-batch",
        "50",
    ])
    .args([
        "--window",
        "100ms",
        "--slide",
        "20ms",
        "--checkpoint-every",
        "2",
        "--threads",
        "2",
    ])
    .args(["--query", QUERY, "--output-format", "csv"])
    .arg("--input")
    .arg(flights())
    .arg("--output")
    .arg(out)
    .arg("--checkpoint")
    .arg(checkpoint)
    .env("RUST_LOG", "warn")
    .stdout(Stdio::null())
    .stderr(Stdio::piped());
    cmd
}

/// The contents of the result files in batch order (batch times depend on the wall clock at
/// the first start, so they are compared by position).
fn contents(dir: &Path) -> Vec<String> {
    results(dir)
        .values()
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect()
}

fn next(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

#[test]
fn killed_and_restarted_runs_write_exactly_the_files_of_an_uninterrupted_run() {
    let reference = tempfile::tempdir().unwrap();
    let ref_ckpt = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let status = job(reference.path(), ref_ckpt.path()).status().unwrap();
    assert!(status.success());
    let duration = started.elapsed();
    let want = contents(reference.path());
    assert_eq!(want.len(), 3368_usize.div_ceil(50));
    let mut interrupted = 0;
    for seed in [5_u64, 17, 29, 43] {
        let out = tempfile::tempdir().unwrap();
        let ckpt = tempfile::tempdir().unwrap();
        let mut rng = seed;
        let target = 2 + next(&mut rng) % (want.len() as u64 - 10);
        let mut child = job(out.path(), ckpt.path()).spawn().unwrap();
        let deadline = Instant::now() + duration * 10 + Duration::from_secs(30);
        while (results(out.path()).len() as u64) < target
            && child.try_wait().unwrap().is_none()
            && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(2));
        }
        std::thread::sleep(Duration::from_millis(next(&mut rng) % 30));
        let _ = child.kill();
        let _ = child.wait();
        let before = results(out.path()).len();
        if before > 0 && before < want.len() {
            interrupted += 1;
        }
        let result = job(out.path(), ckpt.path()).output().unwrap();
        assert!(
            result.status.success(),
            "restart failed: {}",
            String::from_utf8_lossy(&result.stderr)
        );
        let got = contents(out.path());
        assert_eq!(got.len(), want.len(), "seed {seed}: result files");
        for (i, (a, b)) in got.iter().zip(&want).enumerate() {
            assert!(
                a == b,
                "seed {seed}: result file #{i} differs:\n{a}\nvs\n{b}"
            );
        }
    }
    assert!(
        interrupted >= 2,
        "the kills must land mid-run ({interrupted} of 4 did)"
    );
}
