//! `spate kmeans --method coreset` end to end: the centers it writes cost at most 5% more than
//! scikit-learn's batch k-means on the same standardized rows (the reference of spate-ml's
//! fixtures), the window keeps only the last batches, and streaming-only options are refused.

use crate::kmeans::{Table, flights, read_rows, run_ok, spate};
use std::io::Write;
use std::path::Path;

const FLIGHTS: [&str; 12] = [
    "month",
    "day",
    "dep_time",
    "sched_dep_time",
    "dep_delay",
    "arr_time",
    "sched_arr_time",
    "arr_delay",
    "air_time",
    "distance",
    "hour",
    "minute",
];

fn centers(path: &Path, header: &str) -> Vec<Vec<f64>> {
    read_rows(path, header)
        .into_iter()
        .map(|r| r.iter().map(|v| v.parse().unwrap()).collect())
        .collect()
}

/// scikit-learn's best cost (of `KMeans(k, n_init=10)` over seeds 0, 1, 2) on the
/// standardized flights slice, from spate-ml's fixture.
fn sklearn_flights_cost(k: usize) -> f64 {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../spate-ml/tests/fixtures/kmeans/sklearn_slices.csv");
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .map(|l| l.split(',').collect::<Vec<_>>())
        .find(|f| f[0] == "nycflights13" && f[2] == k.to_string())
        .map(|f| f[6].parse().unwrap())
        .unwrap()
}

/// Best of three seeds, each one pass of the whole slice in batches of 250 rows with
/// `--standardize`: the centers (written in the input's units) are standardized again with
/// the file's statistics and their cost on the standardized rows is compared with
/// scikit-learn's.
#[test]
fn coreset_centers_cost_at_most_5_percent_more_than_sklearn_batch_kmeans() {
    let dir = tempfile::tempdir().unwrap();
    let table = Table::read(&flights());
    let rows: Vec<Vec<f64>> = table.select(&FLIGHTS).into_iter().flatten().collect();
    assert_eq!(rows.len(), 3274);
    let n = rows.len() as f64;
    let mean: Vec<f64> = (0..12)
        .map(|j| rows.iter().map(|r| r[j]).sum::<f64>() / n)
        .collect();
    let sd: Vec<f64> = (0..12)
        .map(|j| {
            let v = rows.iter().map(|r| (r[j] - mean[j]).powi(2)).sum::<f64>() / n;
            if v > 0.0 { v.sqrt() } else { 1.0 }
        })
        .collect();
    let standardize = |r: &[f64]| -> Vec<f64> {
        r.iter()
            .enumerate()
            .map(|(j, x)| (x - mean[j]) / sd[j])
            .collect()
    };
    let data: Vec<Vec<f64>> = rows.iter().map(|r| standardize(r)).collect();
    let k = 5;
    let mut best = f64::INFINITY;
    for seed in 0..3 {
        let out = dir.path().join(format!("centers-{seed}.csv"));
        let stdout = run_ok(
            spate()
                .args(["kmeans", "--method", "coreset", "--k", "5", "--standardize"])
                .args([
                    "--batch-rows",
                    "250",
                    "--quiet",
                    "--seed",
                    &seed.to_string(),
                ])
                .args(["--columns", &FLIGHTS.join(",")])
                .arg("--input")
                .arg(flights())
                .arg("--output")
                .arg(&out),
        );
        assert!(stdout.contains("3274 points summarized"), "{stdout}");
        let found: Vec<Vec<f64>> = centers(&out, &FLIGHTS.join(","))
            .iter()
            .map(|c| standardize(c))
            .collect();
        assert_eq!(found.len(), k);
        let cost: f64 = data
            .iter()
            .map(|p| {
                found
                    .iter()
                    .map(|c| p.iter().zip(c).map(|(a, b)| (a - b).powi(2)).sum::<f64>())
                    .fold(f64::INFINITY, f64::min)
            })
            .sum();
        best = best.min(cost);
    }
    let reference = sklearn_flights_cost(k);
    assert!(
        best <= 1.05 * reference,
        "{best} vs scikit-learn {reference}"
    );
}

/// Two regimes, one after the other: values near 0 for 2,000 rows, then near 100. With a
/// window of one batch the single center sits on the last regime; with a window holding the
/// whole file it sits between them.
#[test]
fn the_window_keeps_only_the_last_batches() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("regimes.csv");
    let mut file = std::fs::File::create(&input).unwrap();
    writeln!(file, "x").unwrap();
    for i in 0..4000 {
        let base = if i < 2000 { 0.0 } else { 100.0 };
        writeln!(file, "{}", base + (i % 10) as f64 / 10.0).unwrap();
    }
    drop(file);
    let center = |window: &str| {
        let out = dir.path().join(format!("w{window}.csv"));
        run_ok(
            spate()
                .args(["kmeans", "--method", "coreset", "--k", "1", "--quiet"])
                .args(["--batch-rows", "500", "--window-batches", window])
                .arg("--input")
                .arg(&input)
                .arg("--output")
                .arg(&out),
        );
        centers(&out, "x")[0][0]
    };
    let last = center("1");
    assert!((last - 100.45).abs() < 0.1, "{last}");
    let all = center("8");
    assert!((all - 50.45).abs() < 0.1, "{all}");
}

#[test]
fn streaming_only_options_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("c.csv");
    for (method, option, value, message) in [
        (
            "coreset",
            "--decay",
            "0.5",
            "--decay applies to --method streaming",
        ),
        (
            "coreset",
            "--half-life",
            "3",
            "--half-life applies to --method streaming",
        ),
        (
            "streaming",
            "--coreset-size",
            "50",
            "applies to --method coreset",
        ),
        (
            "coreset",
            "--coreset-size",
            "1",
            "coreset size 1 must be between",
        ),
        ("coreset", "--window", "0", "at least 1 batch"),
    ] {
        let result = spate()
            .args([
                "kmeans", "--k", "3", "--quiet", "--method", method, option, value,
            ])
            .arg("--input")
            .arg(flights())
            .arg("--output")
            .arg(&out)
            .output()
            .unwrap();
        assert!(!result.status.success(), "{option}");
        let stderr = String::from_utf8_lossy(&result.stderr);
        assert!(stderr.contains(message), "{option}: {stderr}");
        assert!(!out.exists(), "nothing written for {option}");
    }
}
