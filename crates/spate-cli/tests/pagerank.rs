//! `spate pagerank` end to end on the bundled SNAP graphs: the final `ranks.csv` against an
//! exact static PageRank of the final graph computed here (spate-graph's static solver, which
//! its own tests check against networkx), to the requested tolerance.

use spate::graph::{Columns, CsrGraph, EdgeListFormat, EdgeRecord, PageRank, Ranks};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

const TOL: f64 = 1e-4;

fn dataset(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../datasets")
        .join(name)
}

fn spate() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_spate"));
    cmd.env("RUST_LOG", "warn");
    cmd
}

/// Runs `spate`, asserting success; returns (stdout, stderr).
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

fn read_ranks(path: &Path) -> Ranks {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("node,rank"));
    let pairs: Vec<(u64, f64)> = lines
        .map(|l| {
            let (node, rank) = l.split_once(',').expect("node,rank");
            (node.parse().expect("node"), rank.parse().expect("rank"))
        })
        .collect();
    // Highest rank first.
    assert!(pairs.windows(2).all(|w| w[0].1 >= w[1].1));
    Ranks::from_pairs(pairs)
}

/// Exact PageRank (proven L1 error ≤ 1e-12) of the graph of `edges` whose weight is usable,
/// parallel edges summed.
fn exact(edges: &[EdgeRecord]) -> Ranks {
    let mut summed: BTreeMap<(u64, u64), f64> = BTreeMap::new();
    for e in edges
        .iter()
        .filter(|e| e.weight > 0.0 && e.weight.is_finite())
    {
        *summed.entry((e.src, e.dst)).or_default() += e.weight;
    }
    let graph = CsrGraph::from_edges(summed.into_iter().map(|((u, v), w)| (u, v, w)))
        .expect("positive weights");
    let result = PageRank::params()
        .tolerance(1e-12)
        .build()
        .expect("valid")
        .run(&graph)
        .expect("runs");
    assert!(result.converged);
    result.ranks
}

fn check(got: &Ranks, want: &Ranks) {
    assert_eq!(got.len(), want.len(), "every node of the final graph, once");
    assert!((got.sum() - 1.0).abs() < 1e-9, "ranks sum to {}", got.sum());
    let l1 = got.l1_distance(want);
    assert!(l1 <= TOL, "L1 to the exact ranks {l1:e} > {TOL:e}");
}

/// A messy copy of CollegeMsg (`src dst time`): comments, CRLF, comma-separated lines and
/// 7 malformed lines among the 59,835 messages. Returns the path and the edges in it.
fn messy_college_msg(dir: &Path) -> (PathBuf, Vec<EdgeRecord>) {
    let edges = EdgeListFormat::new()
        .columns(Columns::SrcDstTime)
        .read_path(dataset("CollegeMsg.txt.gz"))
        .expect("parses")
        .edges;
    let junk = [
        "x y z",
        "1 2 3 4 5",
        "-5 3 100",
        "12",
        "3 4 not-a-time",
        "18446744073709551616 1 5",
        "7,,9",
    ];
    let mut text = String::from("# CollegeMsg with noise\r\n\r\n");
    for (i, e) in edges.iter().enumerate() {
        let time = e.time.expect("timestamped");
        if i % 3 == 0 {
            text.push_str(&format!("{},{},{time}\r\n", e.src, e.dst));
        } else {
            text.push_str(&format!("{} {} {time} # message {i}\r\n", e.src, e.dst));
        }
        if i % 9000 == 4500 {
            text.push_str(junk[i / 9000]);
            text.push_str("\r\n");
        }
    }
    let path = dir.join("college-msg-noisy.txt");
    std::fs::write(&path, text).expect("writes");
    (path, edges)
}

#[test]
fn final_ranks_equal_exact_pagerank_and_malformed_lines_are_counted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (input, edges) = messy_college_msg(dir.path());
    let ranks = dir.path().join("out/ranks.csv");
    let (stdout, stderr) = run_ok(
        spate()
            .args(["pagerank", "--format", "snap", "--batch-edges", "4000"])
            .args(["--tolerance", "1e-4", "--top", "7"])
            .arg("--edges")
            .arg(&input)
            .arg("--output")
            .arg(&ranks),
    );
    let got = read_ranks(&ranks);
    let want = exact(&edges);
    check(&got, &want);
    assert!(stderr.contains("7 malformed lines skipped"), "{stderr}");
    assert!(stderr.contains("59835 edges read"), "{stderr}");
    // One line per batch, then the top 7, best first.
    assert_eq!(
        stdout.lines().filter(|l| l.starts_with("batch ")).count(),
        15
    );
    assert!(stdout.contains("top 7 nodes:"), "{stdout}");
    let printed: Vec<u64> = stdout
        .lines()
        .skip_while(|l| !l.starts_with("top 7 nodes:"))
        .skip(2)
        .map(|l| {
            l.split_whitespace()
                .nth(1)
                .expect("node")
                .parse()
                .expect("id")
        })
        .collect();
    let top: Vec<u64> = want.top_k(7).iter().map(|t| t.0).collect();
    assert_eq!(printed.len(), 7);
    // Nodes whose exact ranks differ by more than the tolerance come out in exact order.
    for w in printed.windows(2) {
        let (a, b) = (
            want.get(w[0]).expect("ranked"),
            want.get(w[1]).expect("ranked"),
        );
        assert!(a + TOL >= b, "{printed:?} vs exact {top:?}");
    }
}

#[test]
fn windowed_time_ordered_signed_ratings() {
    // bitcoin-otc: `src,dst,rating,time`; negative ratings cannot be PageRank weights and are
    // counted as rejected. Ranks cover the last 4 batches of 2,000 ratings in time order.
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dataset("soc-sign-bitcoinotc.csv.gz");
    let ranks = dir.path().join("ranks.csv");
    let plot = dir.path().join("pagerank.png");
    let (_, stderr) = run_ok(
        spate()
            .args([
                "pagerank",
                "--quiet",
                "--order",
                "time",
                "--batch-edges",
                "2000",
            ])
            .args(["--window-batches", "4"])
            .arg("--edges")
            .arg(&input)
            .arg("--output")
            .arg(&ranks)
            .arg("--plot")
            .arg(&plot),
    );
    let mut edges = EdgeListFormat::new()
        .read_path(&input)
        .expect("parses")
        .edges;
    edges.sort_by(|a, b| a.time.unwrap_or(0.0).total_cmp(&b.time.unwrap_or(0.0)));
    let batches = edges.len().div_ceil(2000);
    let window = &edges[(batches - 4) * 2000..];
    check(&read_ranks(&ranks), &exact(window));
    let negative = edges.iter().filter(|e| e.weight <= 0.0).count();
    assert!(
        stderr.contains(&format!("{negative} events rejected")),
        "{negative}: {stderr}"
    );
    let png = std::fs::read(&plot).expect("plot written");
    assert!(png.starts_with(b"\x89PNG"));
}

#[test]
fn a_stopped_job_continues_from_its_checkpoint() {
    let dir = tempfile::tempdir().expect("tempdir");
    let checkpoint = dir.path().join("checkpoint");
    let ranks = dir.path().join("ranks.csv");
    let plot = dir.path().join("pagerank.svg");
    let input = dataset("CollegeMsg.txt.gz");
    let job = || {
        let mut cmd = spate();
        cmd.args(["pagerank", "--quiet", "--batch-edges", "5000"])
            .args(["--checkpoint-every", "2"])
            .arg("--edges")
            .arg(&input)
            .arg("--output")
            .arg(&ranks)
            .arg("--checkpoint")
            .arg(&checkpoint)
            .arg("--plot")
            .arg(&plot);
        cmd
    };
    // Stops after batch 5: 12 batches of 5,000 in all.
    let (_, first) = run_ok(job().args(["--max-batches", "5"]));
    let ran: u64 = first
        .split(" batches (")
        .next()
        .and_then(|s| s.rsplit('\n').next())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or_else(|| panic!("batch count in {first}"));
    assert_eq!(ran, 5, "{first}");
    let (_, second) = run_ok(&mut job());
    // The stopped job wrote a checkpoint of its last batch: nothing is recomputed.
    let at = ran;
    assert!(
        second.contains(&format!(
            "continuing from the checkpoint of batch {at}000 ms"
        )),
        "{second}"
    );
    assert!(
        second.contains(&format!("12 batches ({} in this run)", 12 - at)),
        "{second}"
    );
    let edges = EdgeListFormat::new()
        .columns(Columns::Temporal)
        .read_path(&input)
        .expect("parses")
        .edges;
    check(&read_ranks(&ranks), &exact(&edges));
    // The plot history came back from the checkpoint with the rest.
    let svg = std::fs::read_to_string(&plot).expect("plot written");
    assert!(svg.contains("<svg"), "{svg}");
}

#[test]
fn a_max_batches_beyond_any_batch_time_runs_to_the_end() {
    // u64::MAX batches of 1 s would be past u64::MAX ms: the limit is never reached (this
    // overflowed computing the last batch's time).
    let dir = tempfile::tempdir().expect("tempdir");
    let ranks = dir.path().join("ranks.csv");
    let input = dataset("CollegeMsg.txt.gz");
    let (_, stderr) = run_ok(
        spate()
            .args(["pagerank", "--quiet", "--batch-edges", "20000"])
            .args(["--max-batches", &u64::MAX.to_string()])
            .arg("--edges")
            .arg(&input)
            .arg("--output")
            .arg(&ranks),
    );
    assert!(stderr.contains("3 batches (3 in this run)"), "{stderr}");
}
