//! `DirectorySource`: new files per batch, write-then-rename, replay, vanished and corrupt files.

use crate::common::write_file;
use spate_core::stream::{ManualClock, StreamingContext};
use spate_core::{BatchTime, SpateContext};
use spate_io::{DirectorySource, Source};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A batch's time and sorted lines.
type Batch = (u64, Vec<String>);

/// Writes `name` the way a well-behaved producer does: under a hidden name, then renamed.
fn publish(dir: &Path, name: &str, text: &str) {
    let tmp = dir.join(format!(".{name}.tmp"));
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, dir.join(name)).unwrap();
}

fn batch(source: &mut DirectorySource, t: u64, max: Option<u64>) -> (Vec<String>, u64) {
    let b = source.next_batch(BatchTime(t), max).unwrap();
    (b.records, b.skipped)
}

fn lines(text: &[&str]) -> Vec<String> {
    text.iter().map(|s| s.to_string()).collect()
}

#[test]
fn reads_the_files_that_appear_between_batches() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    publish(d, "old.txt", "old\n");
    let mut source = DirectorySource::options(d).build().unwrap();
    let stats = source.stats();
    assert_eq!(batch(&mut source, 1, None), (vec![], 0));

    publish(d, "a.txt", "a1\na2\n");
    // Hidden and underscore files, and directories, are not input.
    std::fs::write(d.join(".partial"), "no\n").unwrap();
    std::fs::write(d.join("_SUCCESS"), "no\n").unwrap();
    std::fs::create_dir(d.join("sub")).unwrap();
    assert_eq!(batch(&mut source, 2, None), (lines(&["a1", "a2"]), 0));
    assert_eq!(batch(&mut source, 3, None), (vec![], 0));

    // Two files in one interval, one gzip-compressed: both, in (mtime, name) order.
    write_file(&d.join(".b.tmp"), b"b1\r\nb2", true);
    std::fs::rename(d.join(".b.tmp"), d.join("b.txt.gz")).unwrap();
    publish(d, "c.txt", "c1\n");
    let (got, skipped) = batch(&mut source, 4, None);
    assert_eq!(skipped, 0);
    let mut sorted = got.clone();
    sorted.sort();
    assert_eq!(sorted, lines(&["b1", "b2", "c1"]));
    assert_eq!(stats.files_read(), 3);
    assert_eq!(stats.lines(), 5);
}

#[test]
fn include_existing_reads_files_present_at_build_and_can_finish_when_drained() {
    let dir = tempfile::tempdir().unwrap();
    publish(dir.path(), "1.txt", "one\n");
    publish(dir.path(), "2.txt", "two\n");
    let mut source = DirectorySource::options(dir.path())
        .include_existing(true)
        .finish_when_drained(true)
        .build()
        .unwrap();
    assert!(!source.is_exhausted());
    let (mut got, _) = batch(&mut source, 1, Some(1));
    assert!(!source.is_exhausted());
    got.extend(batch(&mut source, 2, Some(1)).0);
    got.sort();
    assert_eq!(got, lines(&["one", "two"]));
    // Both files were read to their ends: nothing is left, so the source is finished.
    assert!(source.is_exhausted());
}

#[test]
fn replay_from_an_offset_continues_mid_file_without_rereading() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut first = DirectorySource::options(d).build().unwrap();
    publish(d, "a.txt", "a1\na2\na3\n");
    assert_eq!(batch(&mut first, 1, Some(2)), (lines(&["a1", "a2"]), 0));
    let offset = first.offset().unwrap();
    publish(d, "b.txt", "b1\nb2\n");

    // A fresh source (as after a restart) seeks to the offset and continues.
    let mut second = DirectorySource::options(d).build().unwrap();
    second.seek(&offset).unwrap();
    let rest_second = [
        batch(&mut second, 2, Some(2)),
        batch(&mut second, 3, Some(2)),
    ];
    let rest_first = [batch(&mut first, 2, Some(2)), batch(&mut first, 3, Some(2))];
    assert_eq!(rest_second, rest_first);
    assert_eq!(rest_second[0], (lines(&["a3", "b1"]), 0));
    assert_eq!(rest_second[1], (lines(&["b2"]), 0));
    assert_eq!(batch(&mut second, 4, None), (vec![], 0));

    // The processed list forgets files that are gone, so it stays as small as the directory.
    std::fs::remove_file(d.join("a.txt")).unwrap();
    batch(&mut second, 5, None);
    let after: Vec<u8> = second.offset().unwrap().0;
    assert!(!String::from_utf8_lossy(&after).contains("a.txt"));
    // A new file under a name seen before is a new file.
    publish(d, "a.txt", "again\n");
    assert_eq!(batch(&mut second, 6, None), (lines(&["again"]), 0));
}

#[test]
fn vanished_and_corrupt_files_are_counted_and_the_batch_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut source = DirectorySource::options(d)
        .max_line_bytes(8)
        .build()
        .unwrap();
    let stats = source.stats();
    publish(d, "1.txt", "x1\nx2\n");
    publish(d, "2.txt", "gone\n");
    // The first batch stops inside 1.txt; 2.txt is queued, then deleted.
    let (first, _) = batch(&mut source, 1, Some(1));
    std::fs::remove_file(d.join(if first == ["x1"] { "2.txt" } else { "1.txt" })).unwrap();
    let (_, skipped) = batch(&mut source, 2, None);
    assert_eq!(skipped, 1);
    assert_eq!(stats.files_failed(), 1);

    // A file with the gzip magic but a broken stream, and a file with a bad line.
    std::fs::write(
        d.join("bad.gz"),
        b"\x1f\x8b\x08\x00garbage that is not deflate",
    )
    .unwrap();
    publish(d, "lines.txt", "fine\nway too long\n");
    let (got, skipped) = batch(&mut source, 3, None);
    assert_eq!(got, lines(&["fine"]));
    assert_eq!(skipped, 2);
    assert_eq!(stats.files_failed(), 2);
    assert_eq!(stats.skipped_lines(), 1);
    // Failed files are not retried.
    assert_eq!(batch(&mut source, 4, None), (vec![], 0));
}

#[test]
fn a_streaming_context_sees_files_published_during_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_path_buf();
    let clock = ManualClock::new();
    let ssc = StreamingContext::builder(&SpateContext::sequential(2))
        .batch_interval(Duration::from_secs(1))
        .clock(clock.clone())
        .build()
        .unwrap();
    let lines_stream = ssc
        .source_stream(DirectorySource::options(&d).build().unwrap())
        .unwrap();
    let seen: Arc<Mutex<Vec<Batch>>> = Arc::default();
    let sink = Arc::clone(&seen);
    lines_stream
        .foreach_rdd(move |rdd, t| {
            let mut batch = rdd.collect()?;
            batch.sort();
            sink.lock().unwrap().push((t.0, batch));
            Ok(())
        })
        .unwrap();
    ssc.start().unwrap();

    publish(&d, "first.txt", "hello\nworld\n");
    clock.advance(Duration::from_secs(1));
    ssc.await_batch(BatchTime(1000)).unwrap();
    clock.advance(Duration::from_secs(1));
    ssc.await_batch(BatchTime(2000)).unwrap();
    publish(&d, "second.txt", "again\n");
    clock.advance(Duration::from_secs(1));
    ssc.await_batch(BatchTime(3000)).unwrap();
    ssc.stop(false).unwrap();

    assert_eq!(
        *seen.lock().unwrap(),
        [
            (1000, lines(&["hello", "world"])),
            (2000, vec![]),
            (3000, lines(&["again"]))
        ]
    );
}
