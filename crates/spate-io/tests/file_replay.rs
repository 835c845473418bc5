//! `FileReplaySource`: content, batch sizes, offsets and seek, bad lines, a word count end to end.

use crate::common::{reference_lines, sample_text, write_file};
use proptest::prelude::*;
use spate_core::stream::{FastForwardClock, StreamingContext};
use spate_core::{BatchTime, SpateContext};
use spate_io::{FileReplaySource, IoError, Source, SourceOffset};
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Every batch of the source until it is exhausted (with a safety bound).
fn drain(source: &mut FileReplaySource, max_records: Option<u64>) -> Vec<(Vec<String>, u64)> {
    let mut batches = Vec::new();
    for t in 1..=100_000 {
        if source.is_exhausted() {
            return batches;
        }
        let batch = source.next_batch(BatchTime(t * 1000), max_records).unwrap();
        batches.push((batch.records, batch.skipped));
    }
    panic!("source never exhausted");
}

#[test]
fn replays_the_lines_in_order_in_batches_of_the_requested_size() {
    let dir = tempfile::tempdir().unwrap();
    for gzip in [false, true] {
        let text = sample_text(1003);
        let path = dir.path().join(if gzip { "in.txt.gz" } else { "in.txt" });
        write_file(&path, text.as_bytes(), gzip);
        let mut source = FileReplaySource::options(&path)
            .lines_per_batch(100)
            .build()
            .unwrap();
        let batches = drain(&mut source, None);
        let sizes: Vec<usize> = batches.iter().map(|(b, _)| b.len()).collect();
        assert_eq!(sizes, [100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 3]);
        let got: Vec<String> = batches.into_iter().flat_map(|(b, _)| b).collect();
        let want: Vec<&str> = text.lines().collect();
        assert_eq!(got, want, "gzip={gzip}");
        assert_eq!(source.position().line, 1003);
        assert_eq!(source.position().byte, text.len() as u64);
    }
}

#[test]
fn max_records_leaves_lines_for_later_batches() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("in.txt");
    let text = sample_text(95);
    std::fs::write(&path, &text).unwrap();
    let mut source = FileReplaySource::options(&path)
        .lines_per_batch(40)
        .build()
        .unwrap();
    let batches = drain(&mut source, Some(30));
    let sizes: Vec<usize> = batches.iter().map(|(b, _)| b.len()).collect();
    assert_eq!(sizes, [30, 30, 30, 5]);
    let got: Vec<String> = batches.into_iter().flat_map(|(b, _)| b).collect();
    assert_eq!(got, text.lines().collect::<Vec<_>>());
}

#[test]
fn a_rate_is_spread_over_batches_of_the_interval() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("in.txt");
    std::fs::write(&path, sample_text(50)).unwrap();
    // 25 lines/s at 200 ms batches = 5 lines per batch.
    let mut source = FileReplaySource::options(&path)
        .lines_per_second(25.0)
        .batch_interval(Duration::from_millis(200))
        .build()
        .unwrap();
    let sizes: Vec<usize> = drain(&mut source, None)
        .iter()
        .map(|(b, _)| b.len())
        .collect();
    assert_eq!(sizes, [5; 10]);
    // 2.5 lines per batch alternate 2 and 3.
    let mut source = FileReplaySource::options(&path)
        .lines_per_second(2.5)
        .batch_interval(Duration::from_secs(1))
        .build()
        .unwrap();
    let sizes: Vec<usize> = drain(&mut source, None)
        .iter()
        .map(|(b, _)| b.len())
        .collect();
    assert_eq!(&sizes[..4], [2, 3, 2, 3]);
    assert_eq!(sizes.iter().sum::<usize>(), 50);
}

#[test]
fn invalid_parameters_are_rejected_at_build() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("in.txt");
    std::fs::write(&path, "x\n").unwrap();
    let err = |b: spate_io::FileReplayBuilder| match b.build() {
        Err(e) => e,
        Ok(_) => panic!("accepted"),
    };
    for (builder, name) in [
        (
            FileReplaySource::options(&path).lines_per_batch(0),
            "lines_per_batch",
        ),
        (
            FileReplaySource::options(&path).lines_per_second(10.0),
            "batch_interval",
        ),
        (
            FileReplaySource::options(&path).max_line_bytes(0),
            "max_line_bytes",
        ),
    ] {
        match err(builder) {
            IoError::InvalidParameter { name: got, .. } => assert_eq!(got, name),
            e => panic!("wrong error for {name}: {e}"),
        }
    }
    let e = err(FileReplaySource::options(dir.path().join("missing.txt")));
    assert!(matches!(e, IoError::Io { .. }), "{e}");
    // Converted into the core's error, an I/O error keeps its path.
    let core: spate_core::Error = e.into();
    assert!(core.to_string().contains("missing.txt"), "{core}");
}

/// Stops after `stop_after` batches, then a new source seeks to the offset and reads the rest.
fn resume_equals_remainder(path: &Path, lines_per_batch: u64, stop_after: usize) {
    let mut first = FileReplaySource::options(path)
        .lines_per_batch(lines_per_batch)
        .build()
        .unwrap();
    let mut head = Vec::new();
    for t in 0..stop_after {
        head.extend(first.next_batch(BatchTime(t as u64), None).unwrap().records);
    }
    let offset = first.offset().unwrap();
    let mut second = FileReplaySource::options(path)
        .lines_per_batch(lines_per_batch)
        .build()
        .unwrap();
    second.seek(&offset).unwrap();
    assert_eq!(second.position(), first.position());
    let tail: Vec<String> = drain(&mut second, None)
        .into_iter()
        .flat_map(|(b, _)| b)
        .collect();
    let mut expected_tail = Vec::new();
    let rest = drain(&mut first, None);
    for (b, _) in rest {
        expected_tail.extend(b);
    }
    assert_eq!(tail, expected_tail);
    head.extend(tail);
    let text = std::fs::read(path).unwrap();
    let text = if path.extension().is_some_and(|e| e == "gz") {
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&text[..]), &mut out).unwrap();
        out
    } else {
        text
    };
    assert_eq!(head, reference_lines(&text, 1 << 20).0);
}

#[test]
fn offset_and_seek_round_trip_plain_and_gzip() {
    let dir = tempfile::tempdir().unwrap();
    let text = sample_text(257);
    for gzip in [false, true] {
        let path = dir.path().join(if gzip { "in.gz" } else { "in.txt" });
        write_file(&path, text.as_bytes(), gzip);
        for stop_after in [0, 1, 5, 9, 13] {
            resume_equals_remainder(&path, 20, stop_after);
        }
    }
}

#[test]
fn seeking_to_an_offset_that_does_not_fit_the_file_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("in.txt");
    std::fs::write(&path, "alpha\nbeta\ngamma\n").unwrap();
    let mut source = FileReplaySource::options(&path)
        .lines_per_batch(2)
        .build()
        .unwrap();
    source.next_batch(BatchTime(1), None).unwrap();
    let offset = source.offset().unwrap();
    // The file is rewritten: byte 11 no longer starts a line.
    std::fs::write(&path, "alphabetagamma\n").unwrap();
    let mut other = FileReplaySource::options(&path).build().unwrap();
    let err = other.seek(&offset).unwrap_err();
    assert!(err.to_string().contains("does not start a line"), "{err}");
    // Truncated below the offset.
    std::fs::write(&path, "alpha\n").unwrap();
    let err = other.seek(&offset).unwrap_err();
    assert!(err.to_string().contains("fewer than 11 bytes"), "{err}");
    // An offset of another source does not decode.
    let err = other.seek(&SourceOffset(vec![1, 2])).unwrap_err();
    assert!(
        matches!(err, spate_core::Error::Serialization { .. }),
        "{err}"
    );
}

#[test]
fn bad_lines_are_counted_and_written_to_the_dead_letter_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("in.txt");
    let dead = dir.path().join("dead.tsv");
    let mut bytes = b"good one\nbad \xff\xfe utf8\n".to_vec();
    bytes.extend(std::iter::repeat_n(b'x', 100));
    bytes.extend(b"\ngood two\r\n\xc3\n");
    std::fs::write(&path, &bytes).unwrap();
    let mut source = FileReplaySource::options(&path)
        .lines_per_batch(3)
        .max_line_bytes(50)
        .dead_letter(&dead)
        .build()
        .unwrap();
    let batches = drain(&mut source, None);
    assert_eq!(
        batches,
        [
            (vec!["good one".to_string()], 2),
            (vec!["good two".to_string()], 1)
        ]
    );
    let letters = std::fs::read_to_string(&dead).unwrap();
    let entries: Vec<Vec<&str>> = letters.lines().map(|l| l.split('\t').collect()).collect();
    let origin = path.to_string_lossy();
    assert_eq!(entries.len(), 3, "{letters}");
    assert_eq!(entries[0][0], format!("{origin}:2"));
    assert_eq!(entries[0][1], "invalid UTF-8 after byte 4");
    assert_eq!(entries[0][2], "bad \u{fffd}\u{fffd} utf8");
    assert_eq!(entries[1][0], format!("{origin}:3"));
    assert_eq!(entries[1][1], "line of 100 bytes exceeds the limit of 50");
    assert_eq!(entries[1][2], "x".repeat(50));
    assert_eq!(entries[2][0], format!("{origin}:5"));
}

#[test]
fn word_count_through_a_streaming_context_equals_a_hashmap_count() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("words.txt");
    let text = sample_text(2000);
    std::fs::write(&path, &text).unwrap();

    let mut want: HashMap<String, u64> = HashMap::new();
    for word in text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        *want.entry(word.to_lowercase()).or_insert(0) += 1;
    }

    let ssc = StreamingContext::builder(&SpateContext::sequential(2))
        .batch_interval(Duration::from_secs(1))
        .clock(FastForwardClock::new())
        .partitions(3)
        .build()
        .unwrap();
    let source = FileReplaySource::options(&path)
        .lines_per_batch(150)
        .build()
        .unwrap();
    let lines = ssc.source_stream(source).unwrap();
    let got: Arc<Mutex<HashMap<String, u64>>> = Arc::default();
    let batches = Arc::new(Mutex::new(0));
    let (sink, seen) = (Arc::clone(&got), Arc::clone(&batches));
    lines
        .flat_map(|l: String| {
            l.split(|c: char| !c.is_alphanumeric())
                .filter(|w| !w.is_empty())
                .map(str::to_lowercase)
                .collect::<Vec<_>>()
        })
        .map(|w| (w, 1_u64))
        .reduce_by_key(|a, b| a + b)
        .foreach_rdd(move |rdd, _| {
            *seen.lock().unwrap() += 1;
            let mut totals = sink.lock().unwrap();
            for (w, n) in rdd.collect()? {
                *totals.entry(w).or_insert(0) += n;
            }
            Ok(())
        })
        .unwrap();
    ssc.start().unwrap();
    assert!(
        ssc.await_termination_or_timeout(Duration::from_secs(60))
            .unwrap()
    );
    assert_eq!(*got.lock().unwrap(), want);
    // 2000 lines at 150 per batch: 14 batches, and the context stopped by itself.
    assert_eq!(*batches.lock().unwrap(), 14);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Whatever the bytes and batch sizes: never a panic, the valid lines come out in
    /// order, and every other line is counted as skipped.
    #[test]
    fn arbitrary_bytes_lose_no_line(
        bytes in proptest::collection::vec(
            prop_oneof![4 => any::<u8>(), 1 => Just(b'\n'), 1 => Just(b'\r')],
            0..2000,
        ),
        per_batch in 1_u64..50,
        max_records in proptest::option::of(1_u64..50),
        max_line in 1_usize..40,
        gzip in any::<bool>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fuzz");
        write_file(&path, &bytes, gzip);
        let mut source = FileReplaySource::options(&path)
            .lines_per_batch(per_batch)
            .max_line_bytes(max_line)
            .build()
            .unwrap();
        let batches = drain(&mut source, max_records);
        let skipped: u64 = batches.iter().map(|(_, s)| s).sum();
        let lines: Vec<String> = batches.into_iter().flat_map(|(b, _)| b).collect();
        let (want, want_skipped) = reference_lines(&bytes, max_line);
        prop_assert_eq!(lines.len() as u64 + skipped, source.position().line);
        prop_assert_eq!(lines, want);
        prop_assert_eq!(skipped, want_skipped);
        prop_assert_eq!(source.position().byte, bytes.len() as u64);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// A worker reading its own partitions (`next_batch_parts`) gets exactly its share of
    /// what `next_batch` returns, the whole batch's counts, and the same offset after.
    #[test]
    fn every_worker_reads_its_own_partitions_of_the_same_batches(
        bytes in proptest::collection::vec(
            prop_oneof![4 => any::<u8>(), 1 => Just(b'\n'), 1 => Just(b'\r')],
            0..2000,
        ),
        per_batch in 1_u64..50,
        max_records in proptest::option::of(1_u64..50),
        max_line in 1_usize..40,
        partitions in 1_usize..7,
        kept in any::<u8>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in");
        write_file(&path, &bytes, false);
        let open = || {
            FileReplaySource::options(&path)
                .lines_per_batch(per_batch)
                .max_line_bytes(max_line)
                .build()
                .unwrap()
        };
        let (mut whole, mut parted) = (open(), open());
        prop_assert!(parted.read_by_every_worker());
        let keep = |p: usize| kept & (1 << p) != 0;
        let mut t = 0;
        while !whole.is_exhausted() && t < 10_000 {
            t += 1;
            let a = whole.next_batch(BatchTime(t * 1000), max_records).unwrap();
            let b = parted
                .next_batch_parts(BatchTime(t * 1000), max_records, partitions, &keep)
                .unwrap();
            prop_assert_eq!(b.records, a.records.len() as u64);
            prop_assert_eq!((b.skipped, b.bytes), (a.skipped, a.bytes));
            prop_assert_eq!(b.parts.len(), partitions);
            for (p, part) in b.parts.iter().enumerate() {
                let share = &a.records[spate_core::split_range(a.records.len(), partitions, p)];
                prop_assert_eq!(part.as_deref(), keep(p).then_some(share));
            }
            prop_assert_eq!(whole.offset(), parted.offset());
            prop_assert_eq!(whole.is_exhausted(), parted.is_exhausted());
        }
    }
}

#[test]
fn the_digest_of_a_batch_read_by_every_worker_tells_different_files_apart() {
    let dir = tempfile::tempdir().unwrap();
    let text = sample_text(300);
    let (a, b, c) = (
        dir.path().join("a"),
        dir.path().join("b"),
        dir.path().join("c"),
    );
    write_file(&a, text.as_bytes(), false);
    // One byte changed in the second batch (lines 100..200).
    let mut changed = text.clone().into_bytes();
    let at = text.match_indices('\n').nth(150).unwrap().0 - 1;
    changed[at] = if changed[at] == b'x' { b'y' } else { b'x' };
    write_file(&b, &changed, false);
    // The same text gzipped: the same lines, the same digests.
    write_file(&c, text.as_bytes(), true);
    let digests = |path: &Path| {
        let mut source = FileReplaySource::options(path)
            .lines_per_batch(100)
            .build()
            .unwrap();
        (1..=3)
            .map(|t| {
                source
                    .next_batch_parts(BatchTime(t * 1000), None, 4, &|p| p == 1)
                    .unwrap()
                    .digest
            })
            .collect::<Vec<u64>>()
    };
    let (da, db, dc) = (digests(&a), digests(&b), digests(&c));
    assert_eq!(da, dc);
    assert_eq!((da[0], da[2]), (db[0], db[2]));
    assert_ne!(da[1], db[1]);
    // A dead-letter file has one writer: the leader reads such a source alone.
    let with_dead_letter = FileReplaySource::options(&a)
        .dead_letter(dir.path().join("dead"))
        .build()
        .unwrap();
    assert!(!with_dead_letter.read_by_every_worker());
}

/// Before: entries were appended, so a batch replayed after recovery wrote its dead-letter
/// entries a second time (451–457 lines instead of 447 in the CLI). The offset now records
/// the dead-letter file's length and seeking cuts it back.
#[test]
fn the_dead_letter_file_is_exactly_once_across_a_replay() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("in.txt");
    let mut bytes = Vec::new();
    for i in 0..60 {
        if i % 4 == 1 {
            bytes.extend(format!("bad {i} ").as_bytes());
            bytes.extend([0xff, 0xfe, b'\n']);
        } else {
            bytes.extend(format!("good {i}\n").as_bytes());
        }
    }
    std::fs::write(&path, &bytes).unwrap();
    let options = |dead: &Path| {
        FileReplaySource::options(&path)
            .lines_per_batch(10)
            .dead_letter(dead)
    };
    // Uninterrupted.
    let whole = dir.path().join("whole.tsv");
    drain(&mut options(&whole).build().unwrap(), None);
    let want = std::fs::read_to_string(&whole).unwrap();
    assert_eq!(want.lines().count(), 15);
    // Crashed after batch 4 having written batches 5 and 6's entries; restarted from the
    // checkpoint of batch 2.
    let dead = dir.path().join("dead.tsv");
    let mut first = options(&dead).build().unwrap();
    first.next_batch(BatchTime(1000), None).unwrap();
    first.next_batch(BatchTime(2000), None).unwrap();
    let checkpoint = first.offset().unwrap();
    for t in 3..=6 {
        first.next_batch(BatchTime(t * 1000), None).unwrap();
    }
    drop(first);
    let mut second = options(&dead).build().unwrap();
    second.seek(&checkpoint).unwrap();
    drain(&mut second, None);
    assert_eq!(std::fs::read_to_string(&dead).unwrap(), want);
}

/// Before: a line with no end (`/dev/zero`) was scanned for a newline forever, so a batch
/// never ended and `--max-batches 1` never returned. Now the line is reported once it runs
/// `GIVE_UP_BYTES` past the limit and the rest is dropped a bounded slice per batch.
#[cfg(target_os = "linux")]
#[test]
fn an_endless_line_is_skipped_while_it_is_read_and_batches_still_end() {
    let mut source = FileReplaySource::options("/dev/zero")
        .lines_per_batch(1000)
        .build()
        .unwrap();
    let first = source.next_batch(BatchTime(1000), None).unwrap();
    assert!(first.records.is_empty());
    assert_eq!(first.skipped, 1);
    for t in 2..=3 {
        let batch = source.next_batch(BatchTime(t * 1000), None).unwrap();
        assert_eq!((batch.records.len(), batch.skipped), (0, 0));
        assert!(batch.bytes >= spate_io::GIVE_UP_BYTES, "{}", batch.bytes);
    }
    assert!(!source.is_exhausted());
    // The offset of a position inside the dropped line resumes there.
    let offset = source.offset().unwrap();
    let mut again = FileReplaySource::options("/dev/zero").build().unwrap();
    again.seek(&offset).unwrap();
    let batch = again.next_batch(BatchTime(4000), None).unwrap();
    assert_eq!((batch.records.len(), batch.skipped), (0, 0));
}

/// A line far over the limit that does end is reported once, and the lines after it are
/// read as usual, whether it ends within the give-up window or after it.
#[test]
fn an_over_long_line_that_ends_is_skipped_once_and_reading_goes_on() {
    use spate_io::{Line, LineReader, SkipReason};
    use std::io::Read;
    for long in [3 << 20, (spate_io::GIVE_UP_BYTES + (5 << 20)) as usize] {
        let input = std::io::BufReader::new(
            std::io::repeat(b'z')
                .take(long as u64)
                .chain(&b"\nafter\n"[..]),
        );
        let mut lines = LineReader::new(input, 1 << 20);
        match lines.next_line().unwrap() {
            Some(Line::Skipped {
                reason: SkipReason::TooLong { bytes, .. },
                ..
            }) => assert_eq!(bytes, long as u64),
            Some(Line::Skipped {
                reason: SkipReason::Unterminated { read, .. },
                ..
            }) => {
                assert!(long as u64 > spate_io::GIVE_UP_BYTES);
                assert!(read > spate_io::GIVE_UP_BYTES && read <= long as u64);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(lines.next_line().unwrap(), Some(Line::Text("after")));
        assert_eq!(lines.next_line().unwrap(), None);
        assert_eq!(lines.line_number(), 2);
        assert_eq!(lines.position(), long as u64 + 7);
    }
}
