//! `spate stats` end to end on the bundled elec2 slice, with missing values and a malformed
//! row injected, against statistics computed here independently: split lines on commas,
//! two-pass moments, sorted order statistics.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn spate() -> Command {
    Command::new(env!("CARGO_BIN_EXE_spate"))
}

fn elec2() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../datasets/elec2-first4032.csv")
}

const COLUMNS: [&str; 3] = ["nswprice", "nswdemand", "period"];
const BATCH_ROWS: usize = 500;

/// The slice with gaps: every 37th nswprice empty, every 53rd nswdemand `NA`, every 101st
/// period not a number, and one row with a field missing (malformed) after line 700.
fn input_with_gaps(dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(elec2()).unwrap();
    let mut lines = text.lines();
    let mut out = vec![lines.next().unwrap().to_string()];
    for (i, line) in lines.enumerate() {
        let mut fields: Vec<String> = line.split(',').map(String::from).collect();
        if i % 37 == 5 {
            fields[1] = String::new();
        }
        if i % 53 == 7 {
            fields[2] = "NA".into();
        }
        if i % 101 == 9 {
            fields[0] = "n/a".into();
        }
        out.push(fields.join(","));
        if i == 700 {
            out.push("0.5,0.1,0.2,0.3".into());
        }
    }
    let path = dir.join("elec2-gaps.csv");
    std::fs::write(&path, out.join("\n") + "\n").unwrap();
    path
}

/// Per batch of `BATCH_ROWS` lines, the values of each selected column: `None` where the
/// field is missing or not a number; malformed rows dropped (but counted in their batch's
/// lines).
fn reference_batches(path: &Path) -> Vec<Vec<Vec<Option<f64>>>> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let index: Vec<usize> = COLUMNS
        .iter()
        .map(|c| header.iter().position(|h| h == c).unwrap())
        .collect();
    let lines: Vec<&str> = lines.collect();
    lines
        .chunks(BATCH_ROWS)
        .map(|batch| {
            let rows: Vec<Vec<&str>> = batch
                .iter()
                .map(|l| l.split(',').collect::<Vec<_>>())
                .filter(|fields| fields.len() == header.len())
                .collect();
            index
                .iter()
                .map(|&j| {
                    rows.iter()
                        .map(|fields| fields[j].trim().parse::<f64>().ok())
                        .collect()
                })
                .collect()
        })
        .collect()
}

/// (count, missing, mean, sample sd, min, max, skewness, kurtosis) by two passes.
fn reference_moments(values: &[Option<f64>]) -> (u64, u64, [f64; 6]) {
    let xs: Vec<f64> = values.iter().flatten().copied().collect();
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let (mut m2, mut m3, mut m4) = (0.0, 0.0, 0.0);
    for &x in &xs {
        let d = x - mean;
        m2 += d * d;
        m3 += d * d * d;
        m4 += d * d * d * d;
    }
    let sd = (m2 / (n - 1.0)).sqrt();
    let (p2, p3, p4) = (m2 / n, m3 / n, m4 / n);
    let min = xs.iter().copied().fold(f64::INFINITY, f64::min);
    let max = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (
        xs.len() as u64,
        (values.len() - xs.len()) as u64,
        [mean, sd, min, max, p3 / p2.powf(1.5), p4 / (p2 * p2) - 3.0],
    )
}

/// One output row: the statistics of a column over batches `first..=last`.
#[derive(Debug)]
struct Row {
    count: u64,
    missing: u64,
    /// mean, sd, min, max, skewness, kurtosis, p05, p50, p95; `None` where undefined.
    values: Vec<Option<f64>>,
}

fn read_output(path: &Path) -> BTreeMap<(String, u64, u64, String), Row> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some(
            "scope,first_batch,last_batch,column,count,missing,mean,sd,min,max,skewness,kurtosis,p05,p50,p95"
        )
    );
    lines
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            assert_eq!(f.len(), 15, "{l}");
            let key = (
                f[0].to_string(),
                f[1].parse().unwrap(),
                f[2].parse().unwrap(),
                f[3].to_string(),
            );
            let row = Row {
                count: f[4].parse().unwrap(),
                missing: f[5].parse().unwrap(),
                values: f[6..].iter().map(|v| v.parse().ok()).collect(),
            };
            (key, row)
        })
        .collect()
}

#[track_caller]
fn assert_row(row: &Row, values: &[Option<f64>], what: &str) {
    let (count, missing, want) = reference_moments(values);
    assert_eq!((row.count, row.missing), (count, missing), "{what}");
    for (k, name) in ["mean", "sd", "min", "max", "skewness", "kurtosis"]
        .iter()
        .enumerate()
    {
        let (got, want) = (row.values[k].unwrap(), want[k]);
        let scale = if k >= 4 {
            want.abs().max(1.0)
        } else {
            want.abs()
        };
        assert!(
            (got - want).abs() <= 1e-9 * scale,
            "{what} {name}: {got} vs {want}"
        );
    }
    // The quantile sketch's guarantee: within 1% of the value of rank ⌊q(n − 1)⌋.
    let mut sorted: Vec<f64> = values.iter().flatten().copied().collect();
    sorted.sort_by(f64::total_cmp);
    for (k, q) in [(6, 0.05), (7, 0.5), (8, 0.95)] {
        let exact = sorted[(q * (sorted.len() - 1) as f64).floor() as usize];
        let got = row.values[k].unwrap();
        assert!(
            (got - exact).abs() <= 0.01 * exact.abs() + 1e-12,
            "{what} p{q}: {got} vs {exact}"
        );
    }
}

fn run_ok(cmd: &mut Command) -> (String, String) {
    let out = cmd.output().expect("spate runs");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "spate failed: {}\n{stderr}",
        out.status
    );
    (String::from_utf8_lossy(&out.stdout).into_owned(), stderr)
}

#[test]
fn per_batch_window_and_total_statistics_match_an_independent_computation() {
    let dir = tempfile::tempdir().unwrap();
    let input = input_with_gaps(dir.path());
    let output = dir.path().join("out/stats.csv");
    let plot = dir.path().join("out/stats.png");
    let (stdout, stderr) = run_ok(spate().args([
        "stats",
        "--input",
        input.to_str().unwrap(),
        "--columns",
        &COLUMNS.join(","),
        "--batch-rows",
        &BATCH_ROWS.to_string(),
        "--window",
        "3",
        "--slide",
        "2",
        "--output",
        output.to_str().unwrap(),
        "--plot",
        plot.to_str().unwrap(),
        "--threads",
        "2",
        "--quiet",
    ]));
    assert!(stderr.contains("1 malformed rows skipped"), "{stderr}");
    assert!(stdout.contains("nswprice"), "{stdout}");

    let batches = reference_batches(&input);
    assert_eq!(batches.len(), 9);
    let got = read_output(&output);
    let row = |scope: &str, first: u64, last: u64, column: &str| {
        got.get(&(scope.into(), first, last, column.into()))
            .unwrap_or_else(|| panic!("no row {scope} {first}-{last} {column}"))
    };
    let mut expected_rows = 0;
    for (j, column) in COLUMNS.iter().enumerate() {
        let range = |first: usize, last: usize| -> Vec<Option<f64>> {
            batches[first - 1..last]
                .iter()
                .flat_map(|b| b[j].clone())
                .collect()
        };
        for b in 1..=batches.len() {
            assert_row(
                row("batch", b as u64, b as u64, column),
                &range(b, b),
                column,
            );
        }
        for last in (2..=batches.len()).step_by(2) {
            let first = last.saturating_sub(2).max(1);
            let what = format!("{column} window {first}-{last}");
            assert_row(
                row("window", first as u64, last as u64, column),
                &range(first, last),
                &what,
            );
        }
        assert_row(row("total", 1, 9, column), &range(1, 9), column);
        expected_rows += batches.len() + batches.len() / 2 + 1;
    }
    assert_eq!(got.len(), expected_rows);
    // Missing values were counted, never read as numbers.
    assert_eq!(row("total", 1, 9, "nswprice").missing, 109);
    assert_eq!(row("total", 1, 9, "period").missing, 40);
    let png = std::fs::read(&plot).unwrap();
    assert!(png.starts_with(b"\x89PNG"), "a PNG was written");
}

#[test]
fn every_numeric_column_is_summarized_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("stats.csv");
    run_ok(spate().args([
        "stats",
        "--input",
        elec2().to_str().unwrap(),
        "--quantile-accuracy",
        "0.001",
        "--output",
        output.to_str().unwrap(),
        "--quiet",
    ]));
    let got = read_output(&output);
    let columns: Vec<&str> = got
        .keys()
        .filter(|(scope, ..)| scope == "total")
        .map(|(.., c)| c.as_str())
        .collect();
    let mut want = vec![
        "class",
        "nswdemand",
        "nswprice",
        "period",
        "transfer",
        "vicdemand",
        "vicprice",
    ];
    want.sort_unstable();
    assert_eq!(columns, want);
    // 4032 rows in batches of 1000: five batches, the last with 32 rows.
    assert_eq!(got[&("batch".into(), 5, 5, "class".into())].count, 32);
    assert_eq!(got[&("total".into(), 1, 5, "class".into())].count, 4032);
    // Quantiles to the accuracy asked for.
    let text = std::fs::read_to_string(elec2()).unwrap();
    let mut demand: Vec<f64> = text
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(2).unwrap().parse().unwrap())
        .collect();
    demand.sort_by(f64::total_cmp);
    let total = &got[&("total".into(), 1, 5, "nswdemand".into())];
    for (k, q) in [(6, 0.05), (7, 0.5), (8, 0.95)] {
        let exact = demand[(q * (demand.len() - 1) as f64).floor() as usize];
        let got = total.values[k].unwrap();
        assert!(
            (got - exact).abs() <= 0.001 * exact,
            "p{q}: {got} vs {exact}"
        );
    }
}

#[test]
fn bad_arguments_are_reported_before_reading() {
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("stats.csv");
    let out = spate()
        .args([
            "stats",
            "--input",
            elec2().to_str().unwrap(),
            "--columns",
            "nswprice,no_such_column",
            "--output",
            output.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no_such_column"), "{stderr}");
    let out = spate()
        .args([
            "stats", "--input", "x.csv", "--slide", "2", "--output", "o.csv",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success(), "--slide needs --window");
    assert!(!output.exists());
}
