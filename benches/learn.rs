//! Learning throughput per core of spate-learn against River, side by side in one run.
//!
//! `cargo bench -p spate-benches --bench learn` times each learner's `learn_many` over
//! elec2 (the full 45,312 rows from `../shared/datasets` when present, else the bundled
//! 4,032) and Half-Space Trees over the `http` connections of KDD Cup 99 (10%), on one
//! thread, best of 3 passes with a fresh model each, in records per second of the
//! thread's CPU time (so a busy machine slows the wall clock, not the figure); then runs `benches/river_learn.py` on
//! the same files (River's `learn_one` loop, also best of 3) and prints the ratio. Set
//! `PYTHON` to choose the interpreter; without River installed only the Rust figures print.

use ndarray::Array2;
use spate::learn::{
    AnomalyDetector, Classifier, GaussianNb, HalfSpaceTrees, HoeffdingTree, MinMaxScaler,
    MultinomialNb, PassiveAggressive, Pipeline, Scaler, SoftmaxRegression, StandardScaler,
    Transformer,
};
use std::io::Read;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn pick(shared: &str, bundled: &str) -> PathBuf {
    let s = root().join("../shared/datasets").join(shared);
    if s.exists() {
        s
    } else {
        root().join("datasets").join(bundled)
    }
}

fn read(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let file = std::fs::File::open(path).expect("dataset");
    let mut text = String::new();
    if path.extension().is_some_and(|e| e == "gz") {
        flate2::read::GzDecoder::new(file)
            .read_to_string(&mut text)
            .expect("gzip");
    } else {
        std::io::BufReader::new(file)
            .read_to_string(&mut text)
            .expect("text");
    }
    let mut lines = text.lines();
    let header = lines
        .next()
        .expect("header")
        .split(',')
        .map(String::from)
        .collect();
    let rows = lines
        .map(|l| l.split(',').map(String::from).collect())
        .collect();
    (header, rows)
}

/// Best of 3 fresh runs of `learn`, as records per second of this thread's CPU time.
fn throughput(n: usize, mut learn: impl FnMut()) -> f64 {
    let mut best = f64::INFINITY;
    for _ in 0..3 {
        let start = cpu_time::ThreadTime::now();
        learn();
        best = best.min(start.elapsed().as_secs_f64());
    }
    n as f64 / best
}

fn main() {
    let elec_path = pick("elec2/elec.csv.gz", "elec2-first4032.csv");
    let kdd_path = pick(
        "kddcup99-10pct/kddcup.data_10_percent.gz",
        "kddcup99-10pct-http-every10th.csv.gz",
    );
    let (header, rows) = read(&elec_path);
    let target = header.iter().position(|h| h == "class").expect("class");
    let d = header.len() - 1;
    let mut labels = Vec::<String>::new();
    let mut y = Vec::with_capacity(rows.len());
    let mut data = Vec::with_capacity(rows.len() * d);
    for r in &rows {
        for (j, v) in r.iter().enumerate() {
            if j != target {
                data.push(v.parse::<f64>().expect("number"));
            }
        }
        let label = &r[target];
        y.push(labels.iter().position(|l| l == label).unwrap_or_else(|| {
            labels.push(label.clone());
            labels.len() - 1
        }));
    }
    let x = Array2::from_shape_vec((rows.len(), d), data).expect("shape");
    // The full KDD file has no header: its fields are positional (service 2, the three
    // features 0, 4, 5); the bundled slice has the header line.
    let (kdd_header, kdd_rows) = read(&kdd_path);
    let mut kdd_rows = kdd_rows;
    if !kdd_header.iter().any(|h| h == "service") {
        kdd_rows.insert(0, kdd_header);
    }
    let http: Vec<f64> = kdd_rows
        .iter()
        .filter(|r| r.len() > 5 && r[2] == "http")
        .flat_map(|r| [0, 4, 5].map(|j| r[j].parse::<f64>().expect("number")))
        .collect();
    let h = Array2::from_shape_vec((http.len() / 3, 3), http).expect("shape");
    let (n, nh) = (x.nrows(), h.nrows());
    let scaled = |d| Scaler::Standard(StandardScaler::new(d).expect("scaler"));

    let rust: Vec<(&str, f64)> = vec![
        (
            "softmax (scaled)",
            throughput(n, || {
                let m = SoftmaxRegression::params(d).build().expect("model");
                let mut p = Pipeline::new(m).scaler(scaled(d)).expect("pipeline");
                p.learn_many(x.view(), &y).expect("learn");
            }),
        ),
        (
            "gaussian nb",
            throughput(n, || {
                GaussianNb::new(d)
                    .expect("model")
                    .learn_many(x.view(), &y)
                    .expect("learn");
            }),
        ),
        (
            "multinomial nb",
            throughput(n, || {
                let mut m = MultinomialNb::params(d).build().expect("model");
                m.learn_many(x.view(), &y).expect("learn");
            }),
        ),
        (
            "hoeffding tree",
            throughput(n, || {
                let mut m = HoeffdingTree::params(d).build().expect("model");
                m.learn_many(x.view(), &y).expect("learn");
            }),
        ),
        (
            "pa-i (scaled)",
            throughput(n, || {
                let m = PassiveAggressive::params(d).build().expect("model");
                let mut p = Pipeline::new(m).scaler(scaled(d)).expect("pipeline");
                p.learn_many(x.view(), &y).expect("learn");
            }),
        ),
        (
            "standard scaler",
            throughput(n, || {
                let mut s = StandardScaler::new(d).expect("scaler");
                for row in x.rows() {
                    s.learn_one(row.as_slice().expect("contiguous"))
                        .expect("learn");
                }
            }),
        ),
        (
            "half-space trees (min-max)",
            throughput(nh, || {
                let hst = HalfSpaceTrees::params(3).seed(0).build().expect("model");
                let mut p = Pipeline::detector(hst)
                    .detector_scaler(Scaler::MinMax(MinMaxScaler::new(3).expect("scaler")))
                    .expect("pipeline");
                p.learn_many(h.view()).expect("learn");
            }),
        ),
    ];

    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let river = std::process::Command::new(&python)
        .arg(root().join("benches/river_learn.py"))
        .arg(&elec_path)
        .arg(&kdd_path)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| serde_json::from_slice::<serde_json::Value>(&o.stdout).ok());
    println!(
        "learning throughput, one core: elec2 {} ({n} records, {d} features), KDD http ({nh} records, 3 features)",
        elec_path.display()
    );
    println!(
        "{:<28} {:>16} {:>16} {:>10}",
        "learner", "spate-learn /s", "River /s", "ratio"
    );
    for (name, ours) in rust {
        let theirs = river.as_ref().and_then(|r| r[name].as_f64());
        match theirs {
            Some(t) => println!("{name:<28} {ours:>16.0} {t:>16.0} {:>9.0}x", ours / t),
            None => println!("{name:<28} {ours:>16.0} {:>16} {:>10}", "-", "-"),
        }
    }
    if let Some(r) = &river {
        println!("River ran on {} records", r["records"]);
    } else {
        println!("River not available ({python} benches/river_learn.py failed): Rust figures only");
    }
}
