//! `spate regress` end to end: exact streaming least squares against a batch least-squares
//! solve of the same rows (rows with a missing value dropped, as the CLI must), and SGD
//! against known weights.

use crate::kmeans::{Table, flights, read_rows, run_ok, spate};
use std::path::Path;

const FEATURES: [&str; 4] = ["dep_delay", "sched_dep_time", "distance", "month"];

/// Least squares with an intercept by Householder QR of the centred design matrix (never
/// forming the normal equations): slopes, then the intercept.
#[allow(clippy::needless_range_loop)] // the textbook index form of the algorithm
fn least_squares(x: &[Vec<f64>], y: &[f64]) -> (Vec<f64>, f64) {
    let (n, d) = (x.len(), x[0].len());
    let mx: Vec<f64> = (0..d)
        .map(|j| x.iter().map(|r| r[j]).sum::<f64>() / n as f64)
        .collect();
    let my = y.iter().sum::<f64>() / n as f64;
    let mut a: Vec<Vec<f64>> = x
        .iter()
        .map(|r| r.iter().zip(&mx).map(|(v, m)| v - m).collect())
        .collect();
    let mut b: Vec<f64> = y.iter().map(|v| v - my).collect();
    for k in 0..d {
        let norm = (k..n).map(|i| a[i][k] * a[i][k]).sum::<f64>().sqrt();
        let alpha = if a[k][k] > 0.0 { -norm } else { norm };
        let mut v: Vec<f64> = (k..n).map(|i| a[i][k]).collect();
        v[0] -= alpha;
        let vv: f64 = v.iter().map(|t| t * t).sum();
        for j in k..d {
            let s = (k..n).map(|i| v[i - k] * a[i][j]).sum::<f64>() * 2.0 / vv;
            for i in k..n {
                a[i][j] -= s * v[i - k];
            }
        }
        let s = (k..n).map(|i| v[i - k] * b[i]).sum::<f64>() * 2.0 / vv;
        for i in k..n {
            b[i] -= s * v[i - k];
        }
    }
    let mut w = vec![0.0; d];
    for k in (0..d).rev() {
        let s: f64 = (k + 1..d).map(|j| a[k][j] * w[j]).sum();
        w[k] = (b[k] - s) / a[k][k];
    }
    let intercept = my - w.iter().zip(&mx).map(|(w, m)| w * m).sum::<f64>();
    (w, intercept)
}

fn weights(path: &Path, features: &[&str]) -> (Vec<f64>, f64) {
    let rows = read_rows(path, "feature,weight");
    let names: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
    let mut want_names = features.to_vec();
    want_names.push("intercept");
    assert_eq!(names, want_names);
    let values: Vec<f64> = rows.iter().map(|r| r[1].parse().unwrap()).collect();
    (values[..features.len()].to_vec(), values[features.len()])
}

#[test]
fn ols_equals_batch_least_squares_on_the_flights() {
    let mut columns = FEATURES.to_vec();
    columns.push("arr_delay");
    let rows = Table::read(&flights()).select(&columns);
    let valid: Vec<&Vec<f64>> = rows.iter().flatten().collect();
    let x: Vec<Vec<f64>> = valid.iter().map(|r| r[..4].to_vec()).collect();
    let y: Vec<f64> = valid.iter().map(|r| r[4]).collect();
    let (want_w, want_b) = least_squares(&x, &y);

    let dir = tempfile::tempdir().unwrap();
    for standardize in [false, true] {
        let out = dir.path().join(format!("w-{standardize}.csv"));
        let mut cmd = spate();
        cmd.args(["regress", "--target", "arr_delay", "--method", "ols"])
            .args(["--columns", &FEATURES.join(","), "--batch-rows", "250"])
            .args(["--quiet", "--threads", "2"])
            .arg("--input")
            .arg(flights())
            .arg("--output")
            .arg(&out);
        if standardize {
            cmd.arg("--standardize");
        }
        let stdout = run_ok(&mut cmd);
        let (w, b) = weights(&out, &FEATURES);
        for (j, (g, e)) in w.iter().zip(&want_w).enumerate() {
            assert!(
                (g - e).abs() <= 1e-8 * e.abs(),
                "{} {g} vs {e}",
                FEATURES[j]
            );
        }
        assert!(
            (b - want_b).abs() <= 1e-8 * want_b.abs(),
            "intercept {b} vs {want_b}"
        );
        let skipped = rows.len() - valid.len();
        assert!(
            stdout.contains(&format!("{} rows fitted", valid.len())),
            "{stdout}"
        );
        assert!(
            stdout.contains(&format!("{skipped} skipped by the CSV reader")),
            "{stdout}"
        );
    }
}

#[test]
fn sgd_recovers_known_weights() {
    // y = 3·a − 2·b + 0.5·c + 10 + small noise, features on very different scales: the CLI
    // standardizes them for SGD and reports weights in the input's units.
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("synthetic.csv");
    let mut csv = String::from("id,a,b,c,y\n");
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut uniform = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    for i in 0..6000 {
        let (a, b, c) = (uniform() * 2.0, 100.0 + uniform() * 50.0, uniform() * 1e3);
        let y = 3.0 * a - 2.0 * b + 0.5 * c + 10.0 + (uniform() - 0.5) * 0.01;
        if i % 97 == 5 {
            csv.push_str(&format!("{i},{a},NA,{c},{y}\n"));
        } else {
            csv.push_str(&format!("{i},{a},{b},{c},{y}\n"));
        }
    }
    std::fs::write(&input, csv).unwrap();
    let out = dir.path().join("w.csv");
    let stdout = run_ok(
        spate()
            .args([
                "regress",
                "--target",
                "y",
                "--columns",
                "a,b,c",
                "--method",
                "sgd",
            ])
            .args([
                "--step-size",
                "0.5",
                "--iterations",
                "30",
                "--batch-rows",
                "200",
            ])
            .args(["--quiet"])
            .arg("--input")
            .arg(&input)
            .arg("--output")
            .arg(&out),
    );
    let (w, b) = weights(&out, &["a", "b", "c"]);
    for (g, e) in w.iter().zip([3.0, -2.0, 0.5]) {
        assert!((g - e).abs() <= 0.05 * e.abs(), "weights {w:?}");
    }
    assert!((b - 10.0).abs() < 1.0, "intercept {b}");
    assert!(stdout.contains("62 skipped by the CSV reader"), "{stdout}");
}

#[test]
fn collinear_features_are_warned_of_and_get_weight_zero() {
    // b = 2·a exactly, so y = 3·a + c + 1 has many least-squares solutions (any w_a + 2·w_b
    // = 3). The CLI writes the one with the dependent feature at 0 and says the solution is
    // not unique; without b the same data fits with no warning.
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("collinear.csv");
    let mut csv = String::from("a,b,c,y\n");
    for i in 0..60_u32 {
        let a = f64::from(i % 13) - 4.0;
        let c = f64::from((i * 7) % 11) * 0.5;
        csv.push_str(&format!("{a},{},{c},{}\n", 2.0 * a, 3.0 * a + c + 1.0));
    }
    std::fs::write(&input, csv).unwrap();
    for (columns, collinear) in [("a,b,c", true), ("a,c", false)] {
        let out = dir.path().join(format!("w-{collinear}.csv"));
        let output = spate()
            .args(["regress", "--target", "y", "--method", "ols"])
            .args(["--columns", columns, "--batch-rows", "25"])
            .arg("--input")
            .arg(&input)
            .arg("--output")
            .arg(&out)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{stderr}");
        assert_eq!(
            stderr.contains("the least-squares solution is not unique"),
            collinear,
            "{stderr}"
        );
        let features: Vec<&str> = columns.split(',').collect();
        let (w, b) = weights(&out, &features);
        let (wa, wc) = (w[0], w[w.len() - 1]);
        if collinear {
            assert!(stderr.contains("rank 2 of 3"), "{stderr}");
            assert!(w.contains(&0.0), "one dependent weight is 0: {w:?}");
            assert!((wa + 2.0 * w[1] - 3.0).abs() < 1e-9, "{w:?}");
        } else {
            assert!((wa - 3.0).abs() < 1e-9, "{w:?}");
        }
        assert!(
            (wc - 1.0).abs() < 1e-9 && (b - 1.0).abs() < 1e-9,
            "{w:?} {b}"
        );
    }
}
