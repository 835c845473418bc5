//! The committed dataset slices and reference fixtures the tests read.

use serde_json::Value;
use std::collections::HashMap;
use std::io::Read;
use std::path::PathBuf;

fn repo(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
}

/// A CSV file of the repository (plain or gzip) as a header and rows of fields.
pub(crate) fn csv(path: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let file = std::fs::File::open(repo(path)).expect("dataset slice is committed");
    let mut text = String::new();
    if path.ends_with(".gz") {
        flate2::read::GzDecoder::new(file)
            .read_to_string(&mut text)
            .expect("valid gzip");
    } else {
        std::io::BufReader::new(file)
            .read_to_string(&mut text)
            .expect("valid UTF-8");
    }
    let mut lines = text.lines();
    let header: Vec<String> = lines
        .next()
        .expect("header")
        .split(',')
        .map(str::to_string)
        .collect();
    let rows = lines
        .filter(|l| !l.is_empty())
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect();
    (header, rows)
}

/// A labelled numeric dataset: features, labels numbered by first appearance, and the rows.
pub(crate) struct Labelled {
    pub(crate) x: Vec<Vec<f64>>,
    pub(crate) y: Vec<usize>,
    pub(crate) rows: Vec<Vec<String>>,
    pub(crate) header: Vec<String>,
}

fn labelled(path: &str, label: &str, skip: &[&str]) -> Labelled {
    let (header, rows) = csv(path);
    let target = header
        .iter()
        .position(|h| h == label)
        .expect("label column");
    let features: Vec<usize> = (0..header.len())
        .filter(|&i| i != target && !skip.contains(&header[i].as_str()))
        .collect();
    let mut index = HashMap::new();
    let mut y = Vec::new();
    let mut x = Vec::new();
    for r in &rows {
        let next = index.len();
        y.push(*index.entry(r[target].clone()).or_insert(next));
        x.push(
            features
                .iter()
                .map(|&i| r[i].parse::<f64>().expect("numeric"))
                .collect(),
        );
    }
    Labelled { x, y, rows, header }
}

/// elec2, first 4032 rows: 6 numeric features, 2 classes.
pub(crate) fn elec2() -> Labelled {
    labelled("datasets/elec2-first4032.csv", "class", &[])
}

/// KDD Cup 99 (10%, every 100th row): 38 numeric features, 12 classes.
pub(crate) fn kdd() -> Labelled {
    labelled(
        "datasets/kddcup99-10pct-every100th.csv.gz",
        "label",
        &["protocol_type", "service", "flag"],
    )
}

/// A fixture written by `tests/fixtures/make_fixtures.py`.
pub(crate) fn fixture(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(format!("{name}.json"));
    let text = std::fs::read_to_string(&path).expect("fixture is committed");
    serde_json::from_str(&text).expect("fixture is JSON")
}

pub(crate) fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_f64().expect("number"))
        .collect()
}

/// `|a − b| ≤ rel·|b| + abs`, element by element, with the first difference reported.
pub(crate) fn assert_close(what: &str, got: &[f64], want: &[f64], rel: f64, abs: f64) {
    assert_eq!(got.len(), want.len(), "{what}: lengths {got:?} vs {want:?}");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= rel * w.abs() + abs,
            "{what}[{i}]: {g} vs reference {w} (all: {got:?} vs {want:?})"
        );
    }
}
