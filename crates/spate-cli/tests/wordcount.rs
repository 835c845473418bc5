//! `spate wordcount` end to end on a real text file, against an independent count.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;

fn spate() -> Command {
    Command::new(env!("CARGO_BIN_EXE_spate"))
}

fn book() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../datasets/moby-dick.txt")
}

/// Word counts computed independently of Spate: a character loop, lowercasing each word.
fn reference_counts(text: &str) -> HashMap<String, u64> {
    let mut counts = HashMap::new();
    let mut word = String::new();
    for c in text.chars().chain(std::iter::once(' ')) {
        if c.is_alphanumeric() {
            word.push(c);
        } else if !word.is_empty() {
            *counts.entry(word.to_lowercase()).or_insert(0) += 1;
            word.clear();
        }
    }
    counts
}

fn read_csv(path: &Path) -> Vec<(String, u64)> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("word,count"), "{}", path.display());
    lines
        .map(|l| {
            let (w, n) = l.rsplit_once(',').unwrap();
            (w.to_string(), n.parse().unwrap())
        })
        .collect()
}

/// The per-batch CSV files of an output directory, by batch time.
fn batch_files(dir: &Path) -> BTreeMap<u64, Vec<(String, u64)>> {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().into_string().unwrap();
            let time = name
                .strip_prefix("counts-")?
                .strip_suffix(".csv")?
                .parse()
                .ok()?;
            Some((time, read_csv(&dir.join(&name))))
        })
        .collect()
}

fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().expect("spate runs");
    assert!(
        out.status.success(),
        "spate failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn counts_the_whole_book_exactly() {
    let out = tempfile::tempdir().unwrap();
    let stdout = run_ok(
        spate()
            .args([
                "wordcount",
                "--top",
                "3",
                "--lines-per-batch",
                "2000",
                "--output",
            ])
            .arg(out.path())
            .arg("--input")
            .arg(book()),
    );
    let want = reference_counts(&std::fs::read_to_string(book()).unwrap());
    let got: HashMap<String, u64> = read_csv(&out.path().join("final.csv"))
        .into_iter()
        .collect();
    assert_eq!(got, want);
    assert_eq!(got["whale"], want["whale"]);
    // The top words are printed, most frequent first.
    assert!(stdout.contains("top 3 words overall"), "{stdout}");
    let the = stdout
        .lines()
        .position(|l| l.trim_start().starts_with("the "))
        .unwrap();
    let of = stdout
        .lines()
        .position(|l| l.trim_start().starts_with("of "))
        .unwrap();
    assert!(the < of);
    // One CSV per batch of 2000 lines, and they add up to the total.
    let batches = batch_files(out.path());
    assert_eq!(batches.len(), 22_331_usize.div_ceil(2000));
    let mut summed: HashMap<String, u64> = HashMap::new();
    for rows in batches.values() {
        for (w, n) in rows {
            *summed.entry(w.clone()).or_default() += n;
        }
    }
    assert_eq!(summed, want);
}

#[test]
fn windowed_counts_equal_the_sum_of_the_batches_in_each_window() {
    let batches_dir = tempfile::tempdir().unwrap();
    let windows_dir = tempfile::tempdir().unwrap();
    let common = [
        "wordcount",
        "--quiet",
        "--lines-per-batch",
        "1500",
        "--batch",
        "1s",
    ];
    run_ok(
        spate()
            .args(common)
            .arg("--output")
            .arg(batches_dir.path())
            .arg("--input")
            .arg(book()),
    );
    run_ok(
        spate()
            .args(common)
            .args(["--window", "4s", "--slide", "2s", "--output"])
            .arg(windows_dir.path())
            .arg("--input")
            .arg(book()),
    );
    let batches = batch_files(batches_dir.path());
    let windows = batch_files(windows_dir.path());
    assert_eq!(windows.len(), batches.len() / 2, "one output per 2 s slide");
    for (&end, got) in &windows {
        let mut want: HashMap<String, u64> = HashMap::new();
        for (&t, rows) in batches.range(end.saturating_sub(3000)..=end) {
            assert!(t + 4000 > end);
            for (w, n) in rows {
                *want.entry(w.clone()).or_default() += n;
            }
        }
        let got: HashMap<String, u64> = got.iter().cloned().collect();
        assert_eq!(got, want, "window ending at {end} ms");
    }
}

#[test]
fn bad_arguments_are_clear_errors() {
    let out = spate()
        .args(["wordcount", "--input", "/no/such/file.txt"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no such file"));
    let out = spate()
        .args(["wordcount", "--window", "3s", "--batch", "2s", "--input"])
        .arg(book())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not a positive multiple"), "{err}");
    let out = spate()
        .args(["wordcount", "--batch", "soon", "--input"])
        .arg(book())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a duration"));
}

#[test]
fn invalid_utf8_lines_are_skipped_counted_and_dead_lettered() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("mixed.txt");
    std::fs::write(
        &input,
        b"good words here\n\xff\xfe broken\nmore good words\n",
    )
    .unwrap();
    let dead = dir.path().join("dead.txt");
    let out_dir = dir.path().join("out");
    let out = spate()
        .args(["wordcount", "--quiet", "--output"])
        .arg(&out_dir)
        .arg("--dead-letter")
        .arg(&dead)
        .arg("--input")
        .arg(&input)
        .output()
        .unwrap();
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("2 lines (1 skipped)"), "{err}");
    let got: HashMap<String, u64> = read_csv(&out_dir.join("final.csv")).into_iter().collect();
    assert_eq!(got["good"], 2);
    assert_eq!(got["words"], 2);
    assert!(!got.contains_key("broken"));
    assert!(!std::fs::read(&dead).unwrap().is_empty());
}

#[test]
fn counts_lines_from_a_tcp_server_and_from_a_directory() {
    use std::io::Write;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let text = "the quick brown fox\njumps over the lazy dog\nthe end\n";
    let server = std::thread::spawn(move || {
        let (mut socket, _) = listener.accept().unwrap();
        socket.write_all(text.as_bytes()).unwrap();
        // Closing the connection is a peer disconnect: the source keeps reconnecting.
    });
    let out = tempfile::tempdir().unwrap();
    run_ok(
        spate()
            .args([
                "wordcount",
                "--quiet",
                "--batch",
                "300ms",
                "--max-batches",
                "4",
            ])
            .arg("--input")
            .arg(format!("tcp://{address}"))
            .arg("--output")
            .arg(out.path()),
    );
    server.join().unwrap();
    let got: HashMap<String, u64> = read_csv(&out.path().join("final.csv"))
        .into_iter()
        .collect();
    assert_eq!(got, reference_counts(text));

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.txt"), "one two two\n").unwrap();
    std::fs::write(dir.path().join("b.txt"), "three three three\n").unwrap();
    std::fs::write(dir.path().join(".hidden.tmp"), "ignored ignored\n").unwrap();
    let out = tempfile::tempdir().unwrap();
    run_ok(
        spate()
            .args([
                "wordcount",
                "--quiet",
                "--batch",
                "200ms",
                "--max-batches",
                "2",
            ])
            .arg("--input")
            .arg(dir.path())
            .arg("--output")
            .arg(out.path()),
    );
    let got: HashMap<String, u64> = read_csv(&out.path().join("final.csv"))
        .into_iter()
        .collect();
    assert_eq!(got, reference_counts("one two two three three three"));
}
