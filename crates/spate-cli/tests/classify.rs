//! `spate classify` and `spate anomaly` end to end: the metrics the command prints equal a
//! test-then-train loop of the library over the same CSV, the saved model loads, bad rows
//! are skipped and counted, absurd options are refused.

use crate::kmeans::{dataset, run_ok, spate};
use spate::learn::{
    Classifier, HoeffdingTree, PassiveAggressive, Persist, Prequential, StreamTextClassifier,
};

/// The value printed on the line starting with `name` (first column: whole stream).
fn metric(out: &str, name: &str) -> f64 {
    out.lines()
        .find(|l| l.trim_start().starts_with(name))
        .and_then(|l| l.split_whitespace().rev().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in:\n{out}"))
}

/// elec2's rows as features and labels numbered by first appearance.
fn elec2() -> (Vec<Vec<f64>>, Vec<usize>) {
    let text = std::fs::read_to_string(dataset("elec2-first4032.csv")).unwrap();
    let mut labels = Vec::<String>::new();
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for line in text.lines().skip(1) {
        let fields: Vec<&str> = line.split(',').collect();
        x.push(fields[..6].iter().map(|v| v.parse().unwrap()).collect());
        let label = fields[6].to_string();
        y.push(labels.iter().position(|l| *l == label).unwrap_or_else(|| {
            labels.push(label);
            labels.len() - 1
        }));
    }
    (x, y)
}

#[test]
fn classify_prints_the_metrics_of_a_test_then_train_loop() {
    let dir = tempfile::tempdir().unwrap();
    let model_path = dir.path().join("tree.json");
    let plot = dir.path().join("metrics.png");
    let out = run_ok(
        spate()
            .args([
                "classify",
                "--model",
                "hoeffding",
                "--target",
                "class",
                "--quiet",
            ])
            .args(["--batch-rows", "333", "--metrics-window", "500"])
            .arg("--input")
            .arg(dataset("elec2-first4032.csv"))
            .arg("--output")
            .arg(&model_path)
            .arg("--plot")
            .arg(&plot),
    );
    let (x, y) = elec2();
    let mut tree = HoeffdingTree::params(6).build().unwrap();
    let mut eval = Prequential::new(500).unwrap();
    for (x, &y) in x.iter().zip(&y) {
        eval.update(y, &tree.predict_proba_one(x).unwrap());
        tree.learn_one(x, y).unwrap();
    }
    for (name, want) in [
        ("accuracy", eval.overall().accuracy()),
        ("macro F1", eval.overall().macro_f1()),
        ("log-loss", eval.overall().log_loss()),
        ("ROC AUC", eval.overall().roc_auc()),
    ] {
        assert!((metric(&out, name) - want).abs() < 1e-6, "{name}: {out}");
    }
    let saved = StreamTextClassifier::<HoeffdingTree>::load(&model_path).unwrap();
    assert_eq!(saved.pipeline().model().splits(), tree.splits());
    assert_eq!(saved.labels().names(), ["1", "0"]);
    assert!(std::fs::metadata(&plot).unwrap().len() > 1000);
}

#[test]
fn string_columns_and_labels_and_bad_rows() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("mixed.csv");
    let mut text = String::from("proto,bytes,label\n");
    for i in 0..300 {
        let (proto, label) = if i % 3 == 0 {
            ("udp", "dns")
        } else {
            ("tcp", "web")
        };
        text.push_str(&format!("{proto},{},{label}\n", 100 + i % 7));
    }
    text.push_str("tcp,NaN,web\ntcp,,web\ntcp,12\nicmp,5,\n");
    std::fs::write(&input, text).unwrap();
    for encoding in ["onehot", "hash"] {
        let model = dir.path().join(format!("{encoding}.json"));
        let out = run_ok(
            spate()
                .args(["classify", "--model", "pa", "--target", "label", "--quiet"])
                .args([
                    "--columns",
                    "bytes",
                    "--categorical",
                    "proto",
                    "--encoding",
                    encoding,
                ])
                .arg("--input")
                .arg(&input)
                .arg("--output")
                .arg(&model),
        );
        // 300 good rows, the NaN and empty values skipped by the learner, the short row by
        // the CSV reader, the row without a class by the learner.
        assert!(out.contains("303 CSV rows used, 1 skipped"), "{out}");
        assert!(out.contains("299 records scored"), "{out}");
        assert!(metric(&out, "accuracy") > 0.95, "{out}");
        let saved = StreamTextClassifier::<PassiveAggressive>::load(&model).unwrap();
        assert_eq!(saved.labels().names(), ["dns", "web"]);
    }
}

#[test]
fn absurd_options_are_refused() {
    let elec2 = dataset("elec2-first4032.csv");
    for args in [
        vec!["--model", "gnb", "--metrics-window", "0"],
        vec!["--model", "mnb", "--scale", "standard"],
        vec!["--model", "hoeffding", "--delta", "2"],
        vec!["--model", "logistic", "--learning-rate", "-1"],
        vec!["--model", "gnb", "--columns", "class"],
    ] {
        let out = spate()
            .args([
                "classify",
                "--target",
                "class",
                "--quiet",
                "--output",
                "/tmp/never.json",
            ])
            .args(&args)
            .arg("--input")
            .arg(&elec2)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(
            !String::from_utf8_lossy(&out.stderr).contains("panicked"),
            "{args:?}"
        );
    }
}

#[test]
fn anomaly_scores_every_record_and_ranks_attacks() {
    let dir = tempfile::tempdir().unwrap();
    let scores = dir.path().join("scores.csv");
    let model = dir.path().join("hst.json");
    let out = run_ok(
        spate()
            .args([
                "anomaly",
                "--columns",
                "duration,src_bytes,dst_bytes",
                "--label",
                "label",
            ])
            .args(["--quiet", "--seed", "3"])
            .arg("--input")
            .arg(dataset("kddcup99-10pct-http-every10th.csv.gz"))
            .arg("--output")
            .arg(&scores)
            .arg("--save-model")
            .arg(&model),
    );
    let text = std::fs::read_to_string(&scores).unwrap();
    let rows: Vec<Vec<&str>> = text
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    assert_eq!(rows.len(), 6421);
    // The first window (250 records) scores 0; then scores are in [0, 1].
    assert!(rows[..250].iter().all(|r| r[1] == "0.0"));
    let parsed: Vec<(f64, bool)> = rows
        .iter()
        .map(|r| (r[1].parse().unwrap(), r[2] == "1"))
        .collect();
    assert!(parsed.iter().all(|(s, _)| (0.0..=1.0).contains(s)));
    // The printed AUC is the exact AUC of the written scores, up to binning.
    let (pos, neg): (Vec<_>, Vec<_>) = parsed.iter().partition(|(_, a)| *a);
    let mut wins = 0.0;
    for (p, _) in &pos {
        for (n, _) in &neg {
            wins += if p > n {
                1.0
            } else if p == n {
                0.5
            } else {
                0.0
            };
        }
    }
    let exact = wins / (pos.len() * neg.len()) as f64;
    let printed: f64 = out
        .split("ROC AUC of the scores against --label (anomaly: not \"normal.\"): ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap();
    assert!((printed - exact).abs() < 2e-3, "{printed} vs {exact}");
    assert!(exact > 0.7, "{exact}");
    assert!(spate::learn::Pipeline::<spate::learn::HalfSpaceTrees>::load(&model).is_ok());
}
