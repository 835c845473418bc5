//! The command line as a new user meets it: consistent option names (old ones still
//! accepted), short flags, examples in every `--help`, plain logs when not on a terminal,
//! checks before any data flows, and error messages in the user's terms.

use crate::kmeans::{dataset, flights, run_ok, spate};
use std::process::Output;

const COMMANDS: [&str; 5] = ["wordcount", "stats", "pagerank", "kmeans", "regress"];

fn stderr_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn every_help_has_examples_and_the_shared_options() {
    for command in COMMANDS {
        let out = spate().args([command, "--help"]).output().unwrap();
        assert!(out.status.success());
        let help = String::from_utf8_lossy(&out.stdout);
        assert!(help.contains("Examples:"), "{command}: {help}");
        assert!(
            help.contains(&format!("spate {command} -i ")),
            "{command}: {help}"
        );
        for option in [
            "-i, --input",
            "-o, --output",
            "-n, --records-per-batch",
            "-q, --quiet",
            "-v, --verbose",
            "--log-level",
            "--checkpoint",
            "--max-batches",
        ] {
            assert!(help.contains(option), "{command}: no {option} in {help}");
        }
        // The old names work (other tests use them) but are not advertised.
        for old in [
            "--lines-per-batch",
            "--batch-rows",
            "--batch-edges",
            "--window-batches",
        ] {
            assert!(!help.contains(old), "{command}: {old} shown");
        }
    }
    let help =
        String::from_utf8_lossy(&spate().args(["kmeans", "--help"]).output().unwrap().stdout)
            .into_owned();
    assert!(help.contains("-k, --k"), "{help}");
}

/// Before: ANSI colour codes in logs piped to a file, and two log lines per batch (the
/// library's and the command's).
#[test]
fn logs_are_plain_with_one_line_per_batch_when_not_on_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let out = spate()
        .args([
            "kmeans",
            "-k",
            "2",
            "-n",
            "500",
            "--columns",
            "dep_delay,arr_delay",
            "-i",
        ])
        .arg(flights())
        .arg("-o")
        .arg(dir.path().join("c.csv"))
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    assert!(out.status.success());
    let stderr = stderr_of(&out);
    assert!(!stderr.contains('\u{1b}'), "{stderr}");
    let batch_lines = stderr.lines().filter(|l| l.contains(" batch ")).count();
    let rows = std::fs::read_to_string(flights()).unwrap().lines().count() - 1;
    assert_eq!(batch_lines, rows.div_ceil(500), "{stderr}");
    // -q: none; -v: the libraries' lines too.
    let quiet = spate()
        .args([
            "kmeans",
            "-q",
            "-k",
            "2",
            "-n",
            "500",
            "--columns",
            "dep_delay,arr_delay",
            "-i",
        ])
        .arg(flights())
        .arg("-o")
        .arg(dir.path().join("c.csv"))
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    assert_eq!(
        stderr_of(&quiet)
            .lines()
            .filter(|l| l.contains(" batch "))
            .count(),
        0
    );
    let verbose = spate()
        .args([
            "kmeans",
            "-v",
            "-k",
            "2",
            "-n",
            "500",
            "--columns",
            "dep_delay,arr_delay",
            "-i",
        ])
        .arg(flights())
        .arg("-o")
        .arg(dir.path().join("c.csv"))
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    assert!(
        stderr_of(&verbose).contains("streaming context started"),
        "{}",
        stderr_of(&verbose)
    );
}

/// Before: a typo in a column name listed the header; a bad plot extension or an unwritable
/// output was found after the whole job had run.
#[test]
fn mistakes_are_caught_before_the_job_runs() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("c.csv");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["kmeans", "-k", "2", "--columns", "arr_dela,dep_delay"],
            "did you mean `arr_delay`?",
        ),
        (
            vec!["regress", "--target", "arr_delya"],
            "did you mean `arr_delay`?",
        ),
        (
            vec!["stats", "--columns", "distanse"],
            "did you mean `distance`?",
        ),
        (
            vec!["kmeans", "-k", "2", "--plot", "clusters.jpg"],
            "--plot clusters.jpg: give a .png or .svg file",
        ),
        (
            vec!["stats", "--window", "1500ms", "--batch", "1s"],
            "--window 1s 500ms: not a positive multiple",
        ),
        (vec!["stats", "--checkpoint", "ckpt"], "keeps no checkpoint"),
    ];
    for (args, message) in cases {
        let result = spate()
            .args(&args)
            .arg("-i")
            .arg(flights())
            .arg("-o")
            .arg(&out)
            .current_dir(dir.path())
            .output()
            .unwrap();
        let stderr = stderr_of(&result);
        assert_eq!(result.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
        // Refused before reading any data: no batch ran.
        assert!(!stderr.contains("records in"), "{args:?}: {stderr}");
        assert!(!out.exists());
    }
    // An output that cannot be written, found before the job runs.
    #[cfg(target_os = "linux")]
    {
        let result = spate()
            .args(["kmeans", "-k", "2", "-o", "/proc/spate/centers.csv", "-i"])
            .arg(flights())
            .output()
            .unwrap();
        let stderr = stderr_of(&result);
        assert!(!result.status.success());
        assert!(
            stderr.contains("--output: cannot create the directory /proc/spate"),
            "{stderr}"
        );
        assert!(!stderr.contains("records in"), "{stderr}");
    }
    // --output is required where the results are a file.
    let result = spate()
        .args(["stats", "-i"])
        .arg(flights())
        .output()
        .unwrap();
    assert!(stderr_of(&result).contains("--output is required"));
}

/// Error messages speak of the user's options and files, not of the crates or library calls
/// that produced them.
#[test]
fn error_messages_name_no_internals() {
    let dir = tempfile::tempdir().unwrap();
    let header_only = dir.path().join("header.csv");
    std::fs::write(&header_only, "a,b\n").unwrap();
    let text = dir.path().join("text.csv");
    std::fs::write(&text, "name\nx\ny\n").unwrap();
    let runs: Vec<Vec<std::ffi::OsString>> = vec![
        vec![
            "stats".into(),
            "-i".into(),
            text.clone().into(),
            "-o".into(),
            dir.path().join("s.csv").into(),
        ],
        vec![
            "kmeans".into(),
            "-k".into(),
            "2".into(),
            "-i".into(),
            header_only.clone().into(),
            "-o".into(),
            dir.path().join("c.csv").into(),
        ],
        vec![
            "kmeans".into(),
            "-k".into(),
            "2".into(),
            "--columns".into(),
            "nope".into(),
            "-i".into(),
            flights().into(),
            "-o".into(),
            dir.path().join("c.csv").into(),
        ],
        vec![
            "pagerank".into(),
            "-i".into(),
            dir.path().join("missing.txt").into(),
            "-o".into(),
            dir.path().join("r.csv").into(),
        ],
        vec!["wordcount".into(), "-i".into(), "tcp://".into()],
        vec!["wordcount".into(), "-i".into(), "ftp://host/x".into()],
    ];
    for args in runs {
        let result = spate().args(&args).output().unwrap();
        let stderr = stderr_of(&result);
        assert!(!result.status.success(), "{args:?}");
        assert!(stderr.starts_with("error: "), "{args:?}: {stderr}");
        for internal in [
            "spate-io",
            "spate_io",
            "spate-core",
            "spate_core",
            "rayon",
            ".columns(",
            "IoError",
            "Error {",
            "panicked",
        ] {
            assert!(
                !stderr.contains(internal),
                "{args:?}: {internal} in {stderr}"
            );
        }
    }
}

/// The short flags and the old option names lead to the same job.
#[test]
fn short_flags_and_old_names_are_the_same_options() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.csv");
    let b = dir.path().join("b.csv");
    run_ok(
        spate()
            .args(["pagerank", "-q", "-n", "20000", "-i"])
            .arg(dataset("CollegeMsg.txt.gz"))
            .arg("-o")
            .arg(&a),
    );
    run_ok(
        spate()
            .args(["pagerank", "--quiet", "--batch-edges", "20000", "--edges"])
            .arg(dataset("CollegeMsg.txt.gz"))
            .arg("--output")
            .arg(&b),
    );
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
}
