//! `spate graph bfs|sssp|scc` end to end on the bundled SNAP graphs: the final CSV against
//! networkx's result on the last window (the fixtures spate-graph's own tests use, written by
//! `crates/spate-graph/tests/fixtures/traversal/generate.py`: 1,000 edges per batch, a window
//! of 10 batches, time order, sources 35, 2642 and 1810 on bitcoin-otc).

use flate2::read::GzDecoder;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
}

fn spate() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_spate"));
    cmd.env("RUST_LOG", "warn");
    cmd
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("spate runs")
}

fn run_ok(cmd: &mut Command) -> String {
    let out = run(cmd);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "spate failed: {}\n{stderr}",
        out.status
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The lines of the networkx fixture `name` for its last batch, without the batch number.
fn last_batch(name: &str) -> Vec<Vec<String>> {
    let path = repo("crates/spate-graph/tests/fixtures/traversal").join(name);
    let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let lines: Vec<Vec<String>> = BufReader::new(GzDecoder::new(file))
        .lines()
        .map(|l| l.expect("utf-8").split(' ').map(str::to_string).collect())
        .collect();
    let last = lines.last().expect("non-empty")[0].clone();
    lines
        .into_iter()
        .filter(|l| l[0] == last)
        .map(|l| l[1..].to_vec())
        .collect()
}

/// `node,value` rows of a CSV written by the command, after its header.
fn read_csv(path: &Path, header: &str) -> Vec<(u64, String)> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some(header));
    lines
        .map(|l| {
            let (node, value) = l.split_once(',').expect("two fields");
            (node.parse().expect("node id"), value.to_string())
        })
        .collect()
}

fn bitcoin_otc_args(cmd: &mut Command) -> &mut Command {
    cmd.arg("--edges")
        .arg(repo("datasets/soc-sign-bitcoinotc.csv.gz"))
        .args([
            "--order",
            "time",
            "--batch-edges",
            "1000",
            "--window-batches",
            "10",
        ])
}

#[test]
fn bfs_writes_networkx_hop_distances_of_the_last_window() {
    let dir = tempfile::tempdir().expect("tempdir");
    let output = dir.path().join("hops.csv");
    let stdout = run_ok(
        bitcoin_otc_args(spate().args(["graph", "bfs"]))
            .args(["--source", "35", "--source", "2642", "--source", "1810"])
            .arg("--output")
            .arg(&output),
    );
    // One line per batch, then the farthest nodes.
    assert_eq!(
        stdout.lines().filter(|l| l.starts_with("batch ")).count(),
        36
    );
    assert!(stdout.contains("farthest 10 nodes:"), "{stdout}");
    let rows = read_csv(&output, "node,distance");
    // Nearest first.
    let got: BTreeMap<u64, f64> = rows
        .iter()
        .map(|(n, d)| (*n, d.parse().expect("distance")))
        .collect();
    assert!(rows.windows(2).all(|w| got[&w[0].0] <= got[&w[1].0]));
    let expected: BTreeMap<u64, f64> = last_batch("bitcoin_otc.bfs.gz")
        .into_iter()
        .map(|l| (l[0].parse().expect("node"), l[1].parse().expect("hops")))
        .collect();
    assert_eq!(got, expected);
}

#[test]
fn sssp_stops_on_a_negative_rating_naming_the_edge() {
    let dir = tempfile::tempdir().expect("tempdir");
    let output = dir.path().join("dist.csv");
    let out = run(
        bitcoin_otc_args(spate().args(["graph", "sssp", "--source", "35", "--quiet"]))
            .arg("--output")
            .arg(&output),
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("negative weight"), "{stderr}");
    assert!(stderr.contains("weights >= 0"), "{stderr}");
    assert!(!output.exists(), "no partial result");
}

#[test]
fn sssp_writes_weighted_distances() {
    let dir = tempfile::tempdir().expect("tempdir");
    let edges = dir.path().join("roads.csv");
    // Two routes from 1 to 4, the cheaper one through three edges; parallel edges count by
    // their cheapest instance; a zero-length edge; node 9 unreachable.
    std::fs::write(
        &edges,
        "1,2,4.5\n1,3,1\n3,5,1\n5,4,1.25\n2,4,1\n2,4,0.5\n4,6,0\n9,1,1\n",
    )
    .expect("writes");
    let output = dir.path().join("dist.csv");
    run_ok(
        spate()
            .args([
                "graph",
                "sssp",
                "--source",
                "1",
                "--batch-edges",
                "3",
                "--quiet",
            ])
            .arg("--edges")
            .arg(&edges)
            .arg("--output")
            .arg(&output),
    );
    assert_eq!(
        read_csv(&output, "node,distance"),
        vec![
            (1, "0".to_string()),
            (3, "1".to_string()),
            (5, "2".to_string()),
            (4, "3.25".to_string()),
            (6, "3.25".to_string()),
            (2, "4.5".to_string()),
        ]
    );
}

#[test]
fn scc_writes_networkx_components_of_the_last_window() {
    let dir = tempfile::tempdir().expect("tempdir");
    let output = dir.path().join("components.csv");
    let stdout = run_ok(
        spate()
            .args(["graph", "scc", "--quiet"])
            .arg("--edges")
            .arg(repo("datasets/CollegeMsg.txt.gz"))
            .args([
                "--order",
                "time",
                "--batch-edges",
                "1000",
                "--window-batches",
                "10",
            ])
            .arg("--output")
            .arg(&output),
    );
    assert!(stdout.contains("largest components"), "{stdout}");
    let mut components: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for (node, label) in read_csv(&output, "node,component") {
        components.entry(label).or_default().push(node);
    }
    let mut nontrivial: Vec<Vec<u64>> = components.into_values().filter(|c| c.len() > 1).collect();
    nontrivial.sort();
    let expected = last_batch("college_msg.scc.gz");
    let count: usize = expected[0][0].parse().expect("count");
    let mut expected_nontrivial: Vec<Vec<u64>> = expected[1..]
        .iter()
        .map(|l| l.iter().map(|x| x.parse().expect("id")).collect())
        .collect();
    expected_nontrivial.sort();
    assert_eq!(nontrivial, expected_nontrivial);
    let rows = read_csv(&output, "node,component");
    let labels: std::collections::BTreeSet<&str> = rows.iter().map(|r| r.1.as_str()).collect();
    assert_eq!(labels.len(), count);
}

#[test]
fn bad_options_are_clear_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let output = dir.path().join("out.csv");
    let missing = run(spate()
        .args(["graph", "bfs", "--source", "1", "--edges", "/no/such/file"])
        .arg("--output")
        .arg(&output));
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no such file"));
    let no_source = run(spate()
        .args(["graph", "bfs"])
        .arg("--edges")
        .arg(repo("datasets/CollegeMsg.txt.gz"))
        .arg("--output")
        .arg(&output));
    assert!(!no_source.status.success());
    assert!(String::from_utf8_lossy(&no_source.stderr).contains("--source"));
    let bad_threshold = run(spate()
        .args(["graph", "scc", "--recompute-above=-1"])
        .arg("--edges")
        .arg(repo("datasets/CollegeMsg.txt.gz"))
        .arg("--output")
        .arg(&output));
    assert!(!bad_threshold.status.success());
    assert!(
        String::from_utf8_lossy(&bad_threshold.stderr).contains("recompute fraction"),
        "{}",
        String::from_utf8_lossy(&bad_threshold.stderr)
    );
}

#[test]
fn a_stopped_job_resumes_from_its_checkpoint_with_the_same_result() {
    for algorithm in [&["bfs", "--source", "9", "--source", "1"][..], &["scc"][..]] {
        let dir = tempfile::tempdir().expect("tempdir");
        let job = |output: &Path, checkpoint: Option<&Path>, max: Option<&str>| {
            let mut cmd = spate();
            cmd.arg("graph")
                .args(algorithm)
                .arg("--edges")
                .arg(repo("datasets/CollegeMsg.txt.gz"))
                .args(["--batch-edges", "2000", "--window-batches", "5", "--quiet"])
                .arg("--output")
                .arg(output);
            if let Some(c) = checkpoint {
                cmd.arg("--checkpoint")
                    .arg(c)
                    .args(["--checkpoint-every", "3"]);
            }
            if let Some(m) = max {
                cmd.args(["--max-batches", m]);
            }
            run_ok(&mut cmd);
        };
        let whole = dir.path().join("whole.csv");
        job(&whole, None, None);
        let resumed = dir.path().join("resumed.csv");
        let checkpoint = dir.path().join("checkpoint");
        job(&resumed, Some(&checkpoint), Some("7"));
        let partial = std::fs::read_to_string(&resumed).expect("written");
        job(&resumed, Some(&checkpoint), None);
        let want = std::fs::read_to_string(&whole).expect("written");
        assert_ne!(partial, want, "{algorithm:?}: the first run stopped early");
        assert_eq!(
            std::fs::read_to_string(&resumed).expect("written"),
            want,
            "{algorithm:?}"
        );
    }
}
