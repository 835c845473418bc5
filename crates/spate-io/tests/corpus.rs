//! Replays the regression corpus of nasty inputs (tests/corpus/) through the line and CSV
//! sources: no panic, and every line is a record or counted as skipped.

use crate::common::reference_lines;
use spate_core::BatchTime;
use spate_io::{CsvSource, FileReplaySource, Source, split_lines};
use std::path::PathBuf;

const MAX_LINE: usize = 1024;

fn corpus() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(files.len() >= 9, "corpus missing from {}", dir.display());
    files
}

#[test]
fn every_corpus_file_replays_like_the_reference_splitter() {
    for path in corpus() {
        let bytes = std::fs::read(&path).unwrap();
        let want = reference_lines(&bytes, MAX_LINE);
        assert_eq!(split_lines(&bytes, MAX_LINE), want, "{}", path.display());
        for per_batch in [1, 3, 1000] {
            let mut source = FileReplaySource::options(&path)
                .lines_per_batch(per_batch)
                .max_line_bytes(MAX_LINE)
                .build()
                .unwrap();
            let (mut lines, mut skipped) = (Vec::new(), 0);
            let mut t = 0;
            while !source.is_exhausted() {
                t += 1;
                assert!(t < 10_000, "{} never exhausted", path.display());
                let batch = source.next_batch(BatchTime(t), None).unwrap();
                lines.extend(batch.records);
                skipped += batch.skipped;
            }
            assert_eq!((lines, skipped), want, "{}", path.display());
        }
    }
}

#[test]
fn the_quoted_csv_corpus_file_gives_the_known_records() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/quoted.csv");
    let mut source = CsvSource::options(&path)
        .columns(&["x", "y"])
        .build()
        .unwrap();
    let batch = source.next_batch(BatchTime(1), None).unwrap();
    assert_eq!(
        batch.records,
        [
            vec![1.5, 2.0],
            vec![3.0, 4.0],
            vec![7.0, 0.5],
            vec![8.0, 9.0],
            vec![0.001, 5.0],
            vec![12.0, 13.0]
        ]
    );
    // 22 data lines: 6 records, 16 skipped, none lost.
    assert_eq!(batch.skipped, 16);
    assert!(source.is_exhausted());
}
