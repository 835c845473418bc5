//! Sinks: deterministic names, atomic replacement, no temporary files left, stdout format.

use spate_core::stream::{FastForwardClock, StreamingContext};
use spate_core::{BatchTime, SpateContext};
use spate_io::{CsvFileSink, DStreamSinkExt, IoError, RateSource, StdoutSink, TextFileSink};
use std::path::Path;
use std::time::Duration;

fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn text_files_have_deterministic_names_and_are_replaced_on_rewrite() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("nested/out");
    let sink = TextFileSink::new(&out, "batch", "txt").unwrap();
    sink.write_batch(BatchTime(1000), &["a", "b"]).unwrap();
    sink.write_batch(BatchTime(2000), &[1, 2, 3]).unwrap();
    // A batch recomputed after recovery replaces its file.
    let path = sink.write_batch(BatchTime(1000), &["c"]).unwrap();
    assert_eq!(std::fs::read_to_string(path).unwrap(), "c\n");
    sink.write_batch::<String>(BatchTime(3000), &[]).unwrap();
    assert_eq!(
        listing(&out),
        ["batch-1000.txt", "batch-2000.txt", "batch-3000.txt"]
    );
    assert_eq!(
        std::fs::read_to_string(sink.path_for(BatchTime(3000))).unwrap(),
        ""
    );
    let bare = TextFileSink::new(&out, "raw", "").unwrap();
    assert_eq!(bare.path_for(BatchTime(7)), out.join("raw-7"));
}

#[test]
fn temporaries_of_a_killed_run_are_removed_when_a_sink_is_created() {
    let dir = tempfile::tempdir().unwrap();
    let stale = dir.path().join(".batch-4000.txt.a1B2c3.tmp");
    let other = dir.path().join(".other-4000.txt.a1B2c3.tmp");
    std::fs::write(&stale, "half a fi").unwrap();
    std::fs::write(&other, "not ours").unwrap();
    TextFileSink::new(dir.path(), "batch", "txt").unwrap();
    assert!(!stale.exists());
    assert!(other.exists());
}

#[test]
fn a_one_off_csv_file_is_written_and_replaced_atomically() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("final.csv");
    spate_io::write_csv_file(&path, &["w", "n"], &[("a", 1)]).unwrap();
    spate_io::write_csv_file(&path, &["w", "n"], &[("b", 2), ("c", 3)]).unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "w,n\nb,2\nc,3\n");
    assert_eq!(listing(dir.path()), ["final.csv"]);
}

#[test]
fn bad_names_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    for (prefix, suffix) in [
        ("", "txt"),
        ("a/b", "txt"),
        (".hidden", "txt"),
        ("ok", "x/y"),
    ] {
        assert!(
            matches!(
                TextFileSink::new(dir.path(), prefix, suffix),
                Err(IoError::InvalidParameter { .. })
            ),
            "{prefix:?} {suffix:?}"
        );
    }
}

#[test]
fn csv_fields_are_quoted_where_needed() {
    let dir = tempfile::tempdir().unwrap();
    let sink = CsvFileSink::new(dir.path(), "rows", &["text", "n"]).unwrap();
    let path = sink
        .write_batch(
            BatchTime(1),
            &[
                ("plain", 1),
                ("a,b", 2),
                ("say \"x\"", 3),
                ("two\nlines", 4),
            ],
        )
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(path).unwrap(),
        "text,n\nplain,1\n\"a,b\",2\n\"say \"\"x\"\"\",3\n\"two\nlines\",4\n"
    );
}

#[test]
fn stdout_sink_renders_a_header_and_every_record() {
    let mut out = Vec::new();
    StdoutSink::new(true)
        .render(&mut out, BatchTime(2000), &["x", "y"])
        .unwrap();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "-------------------------------------------\nTime: 2000 ms\n\
         -------------------------------------------\nx\ny\n"
    );
    let mut out = Vec::new();
    StdoutSink::new(false)
        .render(&mut out, BatchTime(1), &[1.5])
        .unwrap();
    assert_eq!(out, b"1.5\n");
}

/// Runs a bounded program writing text and CSV files per batch into `dir`.
fn run_into(dir: &Path) {
    let ssc = StreamingContext::builder(&SpateContext::sequential(2))
        .batch_interval(Duration::from_secs(1))
        .clock(FastForwardClock::new())
        .build()
        .unwrap();
    let numbers = ssc
        .source_stream(RateSource::new(3, |i| i).limit(7))
        .unwrap();
    numbers.write_text_files(dir, "n", "txt").unwrap();
    numbers
        .map(|i| (i, i % 2 == 0))
        .write_csv_files(dir, "parity", &["n", "even"])
        .unwrap();
    // Real stdout (not captured by the test harness): keep it to three short lines.
    numbers.count().write_stdout(false).unwrap();
    ssc.start().unwrap();
    assert!(
        ssc.await_termination_or_timeout(Duration::from_secs(60))
            .unwrap()
    );
}

#[test]
fn dstream_sinks_write_one_file_per_batch_and_a_rerun_replaces_them() {
    let dir = tempfile::tempdir().unwrap();
    run_into(dir.path());
    let expected = [
        "n-1000.txt",
        "n-2000.txt",
        "n-3000.txt",
        "parity-1000.csv",
        "parity-2000.csv",
        "parity-3000.csv",
    ];
    assert_eq!(listing(dir.path()), expected);
    let read = |name: &str| std::fs::read_to_string(dir.path().join(name)).unwrap();
    let mut lines: Vec<String> = read("n-2000.txt").lines().map(String::from).collect();
    lines.sort();
    assert_eq!(lines, ["3", "4", "5"]);
    assert!(read("parity-3000.csv").starts_with("n,even\n6,true"));
    // As after a recovery that recomputes the same batches: same files, no temporaries.
    let before: Vec<String> = expected.iter().map(|n| read(n)).collect();
    run_into(dir.path());
    assert_eq!(listing(dir.path()), expected);
    let after: Vec<String> = expected.iter().map(|n| read(n)).collect();
    assert_eq!(before, after);
}

/// Temporaries of an earlier version were `.NAME.tmp-PID-N`: predictable, so a symbolic link
/// planted under such a name made the write go through it into the link's target.
#[cfg(unix)]
#[test]
fn a_planted_symlink_cannot_redirect_an_output_write() {
    let dir = tempfile::tempdir().unwrap();
    let victim = dir.path().join("victim.txt");
    std::fs::write(&victim, "precious").unwrap();
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    // Links under every name the old scheme could pick for this process's first writes,
    // and one at the output's own name.
    for n in 0..8 {
        let name = format!(".c.csv.tmp-{}-{n}", std::process::id());
        std::os::unix::fs::symlink(&victim, out.join(name)).unwrap();
    }
    std::os::unix::fs::symlink(&victim, out.join("c.csv")).unwrap();
    spate_io::write_csv_file(&out.join("c.csv"), &["x"], &[(1,)]).unwrap();
    let sink = CsvFileSink::new(&out, "counts", &["w", "n"]).unwrap();
    std::os::unix::fs::symlink(&victim, out.join("counts-1000.csv")).unwrap();
    sink.write_batch(BatchTime(1000), &[("a", 1)]).unwrap();
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    // The outputs replaced the links with files of their own.
    assert_eq!(
        std::fs::read_to_string(out.join("c.csv")).unwrap(),
        "x\n1\n"
    );
    assert!(!out.join("c.csv").symlink_metadata().unwrap().is_symlink());
    assert!(
        !out.join("counts-1000.csv")
            .symlink_metadata()
            .unwrap()
            .is_symlink()
    );
}

/// A write that fails midway (here: the record formatter fails, as a full disk would fail
/// the write) leaves the previous file as it was and no temporary behind.
#[test]
fn a_failed_write_keeps_the_previous_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("stats.csv");
    spate_io::write_atomic(&path, |out| out.write_all(b"good\n")).unwrap();
    let err = spate_io::write_atomic(&path, |out| {
        out.write_all(b"half a ")?;
        Err(std::io::Error::new(
            std::io::ErrorKind::StorageFull,
            "no space left on device",
        ))
    })
    .unwrap_err();
    assert!(err.to_string().contains("no space left"), "{err}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "good\n");
    assert_eq!(listing(dir.path()), ["stats.csv"]);
}
