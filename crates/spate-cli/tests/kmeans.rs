//! `spate kmeans` end to end on real CSV files, against independent computations: one
//! cluster without forgetting is the column means, decay 0 keeps only the last batch's mean,
//! and missing values are skipped and counted, never read as zeros.

use std::path::{Path, PathBuf};
use std::process::Command;

pub(crate) fn spate() -> Command {
    Command::new(env!("CARGO_BIN_EXE_spate"))
}

pub(crate) fn dataset(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../datasets")
        .join(name)
}

/// The bundled slice of nycflights13 (every 100th flight; `NA` marks missing values).
pub(crate) fn flights() -> PathBuf {
    dataset("nycflights13-flights-every100th.csv")
}

pub(crate) fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().expect("spate runs");
    assert!(
        out.status.success(),
        "spate failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The lines of a CSV file split into fields (no quoting in the bundled files).
pub(crate) struct Table {
    pub header: Vec<String>,
    pub lines: Vec<Vec<String>>,
}

impl Table {
    pub(crate) fn read(path: &Path) -> Table {
        let text = std::fs::read_to_string(path).unwrap();
        let mut lines = text
            .lines()
            .map(|l| l.split(',').map(String::from).collect());
        Table {
            header: lines.next().unwrap(),
            lines: lines.collect(),
        }
    }

    /// Each line's values of `columns`, or `None` when one is missing or not a number.
    pub(crate) fn select(&self, columns: &[&str]) -> Vec<Option<Vec<f64>>> {
        let index: Vec<usize> = columns
            .iter()
            .map(|c| self.header.iter().position(|h| h == c).unwrap())
            .collect();
        self.lines
            .iter()
            .map(|fields| {
                index
                    .iter()
                    .map(|&i| fields[i].trim().parse().ok())
                    .collect()
            })
            .collect()
    }
}

/// The rows of a centers or weights file, after checking its header.
pub(crate) fn read_rows(path: &Path, header: &str) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some(header), "{}", path.display());
    lines
        .map(|l| l.split(',').map(String::from).collect())
        .collect()
}

fn centers(path: &Path, header: &str) -> Vec<Vec<f64>> {
    read_rows(path, header)
        .into_iter()
        .map(|r| r.iter().map(|v| v.parse().unwrap()).collect())
        .collect()
}

fn mean(rows: &[&Vec<f64>]) -> Vec<f64> {
    let d = rows[0].len();
    (0..d)
        .map(|j| rows.iter().map(|r| r[j]).sum::<f64>() / rows.len() as f64)
        .collect()
}

fn assert_close(got: &[f64], want: &[f64], rel: f64, what: &str) {
    for (g, w) in got.iter().zip(want) {
        assert!(
            (g - w).abs() <= rel * w.abs().max(1.0),
            "{what}: {got:?} vs {want:?}"
        );
    }
}

const COLUMNS: [&str; 3] = ["dep_delay", "arr_delay", "distance"];

#[test]
fn one_cluster_without_forgetting_is_the_column_means() {
    let dir = tempfile::tempdir().unwrap();
    let table = Table::read(&flights());
    let rows = table.select(&COLUMNS);
    let valid: Vec<&Vec<f64>> = rows.iter().flatten().collect();
    let missing = rows.len() - valid.len();
    assert!(missing > 50, "the slice has flights without arr_delay");
    let want = mean(&valid);
    for standardize in [false, true] {
        let out = dir.path().join(format!("centers-{standardize}.csv"));
        let mut cmd = spate();
        cmd.args(["kmeans", "--k", "1", "--decay", "1", "--batch-rows", "300"])
            .args(["--columns", &COLUMNS.join(","), "--quiet"])
            .arg("--input")
            .arg(flights())
            .arg("--output")
            .arg(&out);
        if standardize {
            cmd.arg("--standardize");
        }
        let stdout = run_ok(&mut cmd);
        let got = centers(&out, "dep_delay,arr_delay,distance");
        assert_eq!(got.len(), 1);
        // A running weighted mean over 12 batches: exact up to rounding.
        assert_close(&got[0], &want, 1e-9, "center vs column means");
        assert!(
            stdout.contains(&format!(
                "{} CSV rows used, {missing} skipped by the CSV reader",
                valid.len()
            )),
            "{stdout}"
        );
        assert!(
            stdout.contains(&format!("{} points clustered", valid.len())),
            "{stdout}"
        );
    }
}

#[test]
fn decay_zero_keeps_only_the_last_batch() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("centers.csv");
    let batch_rows = 500;
    run_ok(
        spate()
            .args(["kmeans", "--k", "1", "--decay", "0", "--quiet"])
            .args(["--batch-rows", &batch_rows.to_string()])
            .args(["--columns", &COLUMNS.join(",")])
            .arg("--input")
            .arg(flights())
            .arg("--output")
            .arg(&out),
    );
    // A batch is `batch_rows` lines of the file, skipped lines included.
    let rows = Table::read(&flights()).select(&COLUMNS);
    let last = rows.chunks(batch_rows).last().unwrap();
    let valid: Vec<&Vec<f64>> = last.iter().flatten().collect();
    assert_close(
        &centers(&out, "dep_delay,arr_delay,distance")[0],
        &mean(&valid),
        1e-12,
        "center vs last batch mean",
    );
}

#[test]
fn clusters_the_kdd_slice_with_a_plot() {
    let dir = tempfile::tempdir().unwrap();
    let (out, plot) = (dir.path().join("centers.csv"), dir.path().join("k.png"));
    let input = dataset("kddcup99-10pct-every100th.csv.gz");
    let stdout = run_ok(
        spate()
            .args(["kmeans", "--k", "4", "--standardize", "--half-life", "5"])
            .args([
                "--time-unit",
                "batches",
                "--batch-rows",
                "400",
                "--seed",
                "7",
            ])
            .args(["--quiet", "--threads", "2"])
            .arg("--input")
            .arg(&input)
            .arg("--output")
            .arg(&out)
            .arg("--plot")
            .arg(&plot),
    );
    // Every numeric column; the symbolic ones (protocol_type, service, flag, label) are not.
    let text = std::fs::read_to_string(&out).unwrap();
    let header: Vec<&str> = text.lines().next().unwrap().split(',').collect();
    assert_eq!(header.len(), 38, "{header:?}");
    assert!(header.contains(&"src_bytes") && !header.contains(&"protocol_type"));
    assert_eq!(text.lines().count(), 1 + 4);
    assert!(stdout.contains("4941 points clustered"), "{stdout}");
    // The final cost is a finite sum of squared distances.
    let cost: f64 = stdout
        .lines()
        .find_map(|l| l.strip_prefix("final cost (last batch, 141 points, before its update): "))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_else(|| panic!("{stdout}"))
        .parse()
        .unwrap();
    assert!(cost.is_finite() && cost > 0.0);
    assert!(std::fs::metadata(&plot).unwrap().len() > 10_000);
}

#[test]
fn bad_arguments_are_reported_before_any_data_flows() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("c.csv");
    for (args, message) in [
        (vec!["--k", "0"], "0 is not in 1..=100000"),
        (
            vec!["-k", "100000000", "--init", "random"],
            "100000000 is not in 1..=100000",
        ),
        (
            vec!["--k", "2", "--decay", "1.5"],
            "decay factor 1.5 is outside [0, 1]",
        ),
        (vec!["--k", "2", "--columns", "nope"], "nope"),
    ] {
        let result = spate()
            .arg("kmeans")
            .args(&args)
            .arg("--input")
            .arg(flights())
            .arg("--output")
            .arg(&out)
            .output()
            .unwrap();
        assert!(!result.status.success());
        let stderr = String::from_utf8_lossy(&result.stderr);
        assert!(stderr.contains(message), "{args:?}: {stderr}");
        assert!(!out.exists());
    }
}

/// Before: more centers than rows reported "no valid row" for a file of valid rows.
#[test]
fn more_centers_than_rows_names_the_shortfall() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("c.csv");
    let result = spate()
        .args([
            "kmeans",
            "-q",
            "-k",
            "5000",
            "--columns",
            "dep_delay,arr_delay",
        ])
        .arg("--input")
        .arg(flights())
        .arg("--output")
        .arg(&out)
        .output()
        .unwrap();
    assert!(!result.status.success());
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(
        stderr.contains("too few valid rows to seed the centers: k-means++ waits for 5000 points")
            && stderr.contains("lower -k"),
        "{stderr}"
    );
    assert!(!out.exists());
}

/// Before: outputs were created `0600` (the temporary's mode, kept by the rename) whatever
/// the umask, so a group sharing a results directory could not read them.
#[cfg(unix)]
#[test]
fn outputs_get_the_permissions_of_a_file_created_the_usual_way() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let (out, plot) = (dir.path().join("c.csv"), dir.path().join("c.png"));
    let result = spate()
        .args([
            "kmeans",
            "-q",
            "-k",
            "3",
            "--columns",
            "dep_delay,arr_delay",
        ])
        .arg("--input")
        .arg(flights())
        .arg("--output")
        .arg(&out)
        .arg("--plot")
        .arg(&plot)
        .output()
        .unwrap();
    assert!(result.status.success(), "{result:?}");
    let reference = dir.path().join("reference");
    std::fs::write(&reference, b"").unwrap();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&out), mode(&reference));
    assert_eq!(mode(&plot), mode(&reference));
}
