//! Checkpoint recovery through the core with `spate-io` sources and sinks: a run that
//! crashes and restarts from its checkpoints writes exactly the files of an uninterrupted run.

use crate::common::{sample_text, write_file};
use spate_core::stream::{CheckpointConfig, FastForwardClock, StreamingContext};
use spate_core::{Error, Result, SpateContext};
use spate_io::{DStreamSinkExt, DirectorySource, FileReplaySource};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

#[derive(Clone, Copy, Debug)]
enum Input {
    Replay,
    Directory,
}

/// Running word totals written as one text file per batch, plus per-batch counts as CSV.
/// The batch at `crash_at` ms fails after its outputs ran, like a crash before the commit.
fn program(
    sc: &SpateContext,
    input: Input,
    data: &Path,
    out: &Path,
    crash_at: Arc<AtomicU64>,
) -> Result<StreamingContext> {
    let ssc = StreamingContext::builder(sc)
        .batch_interval(Duration::from_secs(1))
        .clock(FastForwardClock::new())
        .max_records_per_batch(40)
        .partitions(3)
        .build()?;
    let lines = match input {
        Input::Replay => ssc.source_stream(
            FileReplaySource::options(data)
                .lines_per_batch(40)
                .build()?,
        )?,
        Input::Directory => ssc.source_stream(
            DirectorySource::options(data)
                .include_existing(true)
                .finish_when_drained(true)
                .build()?,
        )?,
    };
    let pairs = lines
        .flat_map(|l: String| {
            l.split_whitespace()
                .map(str::to_lowercase)
                .collect::<Vec<_>>()
        })
        .map(|w| (w, 1_u64));
    pairs
        .update_state_by_key(|new: &[u64], old: Option<u64>| {
            Some(old.unwrap_or(0) + new.iter().sum::<u64>())
        })
        .try_transform(|rdd, _| rdd.sort_by_key(true))
        .map(|(w, n)| format!("{w} {n}"))
        .write_text_files(out, "totals", "txt")?;
    pairs
        .reduce_by_key(|a, b| a + b)
        .try_transform(|rdd, _| rdd.sort_by_key(true))
        .write_csv_files(out, "batch", &["word", "count"])?;
    lines.count().foreach_rdd(move |_, t| {
        if t.0 == crash_at.load(Ordering::Relaxed) {
            return Err(Error::Source {
                source_name: "test".into(),
                message: "simulated crash".into(),
            });
        }
        Ok(())
    })?;
    Ok(ssc)
}

fn contents(dir: &Path) -> BTreeMap<String, String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read_to_string(e.path()).unwrap(),
            )
        })
        .collect()
}

fn input_at(root: &Path, input: Input) -> PathBuf {
    let text = sample_text(600);
    match input {
        Input::Replay => {
            let path = root.join("input.txt.gz");
            write_file(&path, text.as_bytes(), true);
            path
        }
        Input::Directory => {
            let dir = root.join("landing");
            std::fs::create_dir(&dir).unwrap();
            let lines: Vec<&str> = text.lines().collect();
            for (i, part) in lines.chunks(110).enumerate() {
                write_file(
                    &dir.join(format!("part-{i}.txt")),
                    (part.join("\n") + "\n").as_bytes(),
                    i % 2 == 1,
                );
            }
            dir
        }
    }
}

#[test]
fn a_crashed_run_restarted_from_checkpoints_writes_the_same_files() {
    for input in [Input::Replay, Input::Directory] {
        let root = tempfile::tempdir().unwrap();
        let data = input_at(root.path(), input);
        let sc = SpateContext::sequential(2);

        let clean = root.path().join("clean");
        let ssc = program(&sc, input, &data, &clean, Arc::new(AtomicU64::new(0))).unwrap();
        ssc.start().unwrap();
        assert!(
            ssc.await_termination_or_timeout(Duration::from_secs(60))
                .unwrap()
        );
        let want = contents(&clean);
        // 600 lines at 40 per batch.
        assert_eq!(want.len(), 2 * 15, "{input:?}");

        for crash_at in [2_u64, 8, 13] {
            let out = root.path().join(format!("out-{crash_at}"));
            let checkpoints = root.path().join(format!("ckpt-{crash_at}"));
            let crash = Arc::new(AtomicU64::new(crash_at * 1000));
            let config = CheckpointConfig::every(3);
            let ssc = StreamingContext::get_or_create(&checkpoints, config, || {
                program(&sc, input, &data, &out, Arc::clone(&crash))
            })
            .unwrap();
            ssc.start().unwrap();
            let err = ssc.await_termination().unwrap_err();
            assert!(err.to_string().contains("simulated crash"), "{err}");

            crash.store(0, Ordering::Relaxed);
            let ssc = StreamingContext::get_or_create(&checkpoints, config, || {
                program(&sc, input, &data, &out, Arc::clone(&crash))
            })
            .unwrap();
            assert!(ssc.recovered_from().is_some() || crash_at < 3);
            ssc.start().unwrap();
            assert!(
                ssc.await_termination_or_timeout(Duration::from_secs(60))
                    .unwrap()
            );
            assert_eq!(contents(&out), want, "{input:?} crash_at={crash_at}");
        }
    }
}
