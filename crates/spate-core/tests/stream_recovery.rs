//! Checkpoint and recovery in-process: a run interrupted by a failing batch and restarted
//! from its checkpoints produces exactly the output of an uninterrupted run.

use spate_core::stream::{
    CheckpointConfig, FastForwardClock, ReplaySource, StateSpec, StreamingContext,
};
use spate_core::{BatchTime, Error, Result, SpateContext, Window};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

type Outputs = Arc<Mutex<BTreeMap<(u64, &'static str), Vec<String>>>>;

fn input() -> Arc<Vec<Vec<String>>> {
    let words = ["alpha", "beta", "gamma", "delta", "eps", "zeta", "eta"];
    Arc::new(
        (0..40_usize)
            .map(|b| {
                (0..(b * 7) % 11)
                    .map(|i| words[(b * 3 + i * i) % words.len()].to_string())
                    .collect()
            })
            .collect(),
    )
}

/// Builds the test program: running totals, a windowed count with an inverse, a
/// map_with_state with a timeout, and a managed state summing all records. `fail_at`
/// makes that batch fail, simulating a crash.
fn program(
    sc: &SpateContext,
    data: Arc<Vec<Vec<String>>>,
    out: Outputs,
    fail_at: Arc<AtomicU64>,
) -> Result<StreamingContext> {
    let ssc = StreamingContext::builder(sc)
        .batch_interval(Duration::from_secs(1))
        .clock(FastForwardClock::new())
        .partitions(3)
        .build()?;
    let words = ssc.source_stream(ReplaySource::new(data.as_ref().clone()))?;
    let pairs = words.map(|w| (w, 1_u64));
    let totals = pairs.update_state_by_key(|new: &[u64], old: Option<u64>| {
        Some(old.unwrap_or(0) + new.iter().sum::<u64>())
    });
    let windowed = pairs.reduce_by_key_and_window_inv(
        |a, b| a + b,
        |a, b| a - b,
        Window::new(Duration::from_secs(4), Duration::from_secs(2)),
    )?;
    let sessions = pairs
        .map_with_state(
            StateSpec::function(
                |k: &String, v: Option<u64>, s: &mut spate_core::stream::State<u64>| {
                    if s.is_timing_out() {
                        return format!("{k} idle after {}", s.get().copied().unwrap_or(0));
                    }
                    let n = s.get().copied().unwrap_or(0) + v.unwrap_or(0);
                    s.update(n);
                    format!("{k}:{n}")
                },
            )
            .timeout(Duration::from_secs(3)),
        )?
        .mapped();
    let seen = ssc.managed_state("records seen", 0_u64)?;
    let record = |name: &'static str, out: &Outputs| {
        let out = Arc::clone(out);
        move |rdd: spate_core::Rdd<String>, t: BatchTime| {
            let mut lines = rdd.collect()?;
            lines.sort();
            out.lock().unwrap().insert((t.0, name), lines);
            Ok(())
        }
    };
    totals
        .map(|(k, v)| format!("{k}={v}"))
        .foreach_rdd(record("totals", &out))?;
    windowed
        .map(|(k, v)| format!("{k}={v}"))
        .foreach_rdd(record("window", &out))?;
    sessions.foreach_rdd(record("sessions", &out))?;
    let seen_out = Arc::clone(&out);
    words.count().foreach_rdd(move |rdd, t| {
        let n: u64 = rdd.collect()?.into_iter().sum();
        let total = {
            let mut s = seen.lock();
            *s += n;
            *s
        };
        seen_out
            .lock()
            .unwrap()
            .insert((t.0, "seen"), vec![total.to_string()]);
        if t.0 == fail_at.load(Ordering::Relaxed) {
            return Err(Error::Source {
                source_name: "test".into(),
                message: "simulated crash".into(),
            });
        }
        Ok(())
    })?;
    Ok(ssc)
}

fn uninterrupted() -> BTreeMap<(u64, &'static str), Vec<String>> {
    let out: Outputs = Arc::default();
    let sc = SpateContext::sequential(2);
    let ssc = program(&sc, input(), Arc::clone(&out), Arc::new(AtomicU64::new(0))).unwrap();
    ssc.start().unwrap();
    ssc.await_termination().unwrap();
    out.lock().unwrap().clone()
}

#[test]
fn recovery_reproduces_an_uninterrupted_run() {
    let want = uninterrupted();
    assert_eq!(want.keys().filter(|(_, n)| *n == "totals").count(), 40);

    for (every, crash_at) in [(3, 11), (1, 7), (5, 23), (4, 36)] {
        let dir = tempfile::tempdir().unwrap();
        let out: Outputs = Arc::default();
        let fail_at = Arc::new(AtomicU64::new(crash_at * 1000));
        let config = CheckpointConfig::every(every);
        let sc = SpateContext::sequential(2);
        let build = || program(&sc, input(), Arc::clone(&out), Arc::clone(&fail_at));
        let ssc = StreamingContext::get_or_create(dir.path(), config, build).unwrap();
        assert_eq!(ssc.recovered_from(), None);
        ssc.start().unwrap();
        let err = ssc.await_termination().unwrap_err();
        assert!(err.to_string().contains("simulated crash"), "{err}");

        // Restart with a fresh context and fresh operator state, as a new process would.
        fail_at.store(0, Ordering::Relaxed);
        let sc = SpateContext::sequential(2);
        let build = || program(&sc, input(), Arc::clone(&out), Arc::clone(&fail_at));
        let ssc = StreamingContext::get_or_create(dir.path(), config, build).unwrap();
        let last_checkpoint = (crash_at - 1) / every * every;
        assert_eq!(
            ssc.recovered_from(),
            Some(BatchTime(last_checkpoint * 1000))
        );
        ssc.start().unwrap();
        ssc.await_termination().unwrap();
        let got = out.lock().unwrap().clone();
        assert_eq!(got, want, "every={every} crash_at={crash_at}");
    }
}

/// The checkpoint files of `dir` whose names end with `suffix` (manifests `.ckpt`, parts
/// `-of-1`), sorted (oldest first).
fn checkpoint_files(dir: &std::path::Path, suffix: &str) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(suffix))
        .collect();
    files.sort();
    files
}

#[test]
fn a_corrupt_newest_checkpoint_falls_back_to_the_previous_one() {
    let want = uninterrupted();
    // A torn manifest, a part with a flipped bit, a part that never reached the disk (its
    // background write was cut short, while the manifest naming it was written), and a part
    // of the same batch left by another run (same state, another write): each makes the
    // checkpoint unusable.
    for damage in [
        "torn manifest",
        "flipped part",
        "missing part",
        "part of another write",
    ] {
        let dir = tempfile::tempdir().unwrap();
        let out: Outputs = Arc::default();
        let fail_at = Arc::new(AtomicU64::new(20_000));
        let config = CheckpointConfig::every(4).keep(3);
        let sc = SpateContext::sequential(2);
        let ssc = StreamingContext::get_or_create(dir.path(), config, || {
            program(&sc, input(), Arc::clone(&out), Arc::clone(&fail_at))
        })
        .unwrap();
        ssc.start().unwrap();
        assert!(ssc.await_termination().is_err());

        let manifests = checkpoint_files(dir.path(), ".ckpt");
        let parts = checkpoint_files(dir.path(), "-of-1");
        assert_eq!(
            (manifests.len(), parts.len()),
            (3, 3),
            "only the last 3 checkpoints are kept: {manifests:?} {parts:?}"
        );
        if damage == "torn manifest" {
            let newest = manifests.last().unwrap();
            let bytes = std::fs::read(newest).unwrap();
            std::fs::write(newest, &bytes[..bytes.len() / 2]).unwrap();
        } else if damage == "missing part" {
            std::fs::remove_file(parts.last().unwrap()).unwrap();
        } else if damage == "part of another write" {
            let other = tempfile::tempdir().unwrap();
            let ssc = StreamingContext::get_or_create(other.path(), config, || {
                program(
                    &sc,
                    input(),
                    Arc::default(),
                    Arc::new(AtomicU64::new(20_000)),
                )
            })
            .unwrap();
            ssc.start().unwrap();
            assert!(ssc.await_termination().is_err());
            let theirs = checkpoint_files(other.path(), "-of-1");
            let (theirs, ours) = (theirs.last().unwrap(), parts.last().unwrap());
            assert_eq!(theirs.file_name(), ours.file_name());
            std::fs::copy(theirs, ours).unwrap();
        } else {
            let newest = parts.last().unwrap();
            let mut bytes = std::fs::read(newest).unwrap();
            let at = bytes.len() - 3;
            bytes[at] ^= 0x10;
            std::fs::write(newest, &bytes).unwrap();
        }

        fail_at.store(0, Ordering::Relaxed);
        let sc = SpateContext::sequential(2);
        let ssc = StreamingContext::get_or_create(dir.path(), config, || {
            program(&sc, input(), Arc::clone(&out), Arc::clone(&fail_at))
        })
        .unwrap();
        assert_eq!(
            ssc.recovered_from(),
            Some(BatchTime(12_000)),
            "16 000 was damaged ({damage})"
        );
        ssc.start().unwrap();
        ssc.await_termination().unwrap();
        assert_eq!(*out.lock().unwrap(), want, "{damage}");
    }
}

#[test]
fn a_checkpoint_of_a_different_program_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out: Outputs = Arc::default();
    let sc = SpateContext::sequential(2);
    let fail = Arc::new(AtomicU64::new(5_000));
    let ssc = StreamingContext::get_or_create(dir.path(), CheckpointConfig::every(2), || {
        program(&sc, input(), Arc::clone(&out), Arc::clone(&fail))
    })
    .unwrap();
    ssc.start().unwrap();
    assert!(ssc.await_termination().is_err());

    let err = StreamingContext::get_or_create(dir.path(), CheckpointConfig::every(2), || {
        let ssc = StreamingContext::builder(&sc)
            .batch_interval(Duration::from_secs(1))
            .build()?;
        let (_q, s) = ssc.queue_stream::<u32>(true)?;
        s.count().foreach_rdd(|_, _| Ok(()))?;
        Ok(ssc)
    })
    .err()
    .expect("a different graph must not restore");
    assert!(matches!(err, Error::IncompatibleCheckpoint { .. }), "{err}");
    assert!(err.to_string().contains("different stream graph"));
    assert!(matches!(
        StreamingContext::get_or_create(dir.path(), CheckpointConfig::every(0), || program(
            &sc,
            input(),
            Arc::clone(&out),
            Arc::clone(&fail)
        )),
        Err(Error::InvalidParameter { .. })
    ));
}

/// A program stopped by a batch limit writes a checkpoint of its last batch, so the restart
/// continues right after it (nothing recomputed) and still equals an uninterrupted run.
#[test]
fn a_final_checkpoint_lets_a_stopped_run_continue_after_its_last_batch() {
    let want = uninterrupted();
    let dir = tempfile::tempdir().unwrap();
    let out: Outputs = Arc::default();
    let config = CheckpointConfig::every(5);
    let no_crash = Arc::new(AtomicU64::new(0));
    let sc = SpateContext::sequential(2);
    let build = || program(&sc, input(), Arc::clone(&out), Arc::clone(&no_crash));
    let ssc = StreamingContext::get_or_create(dir.path(), config, build).unwrap();
    assert!(ssc.write_final_checkpoint().is_err(), "not stopped yet");
    ssc.stop_after(BatchTime(13_000));
    ssc.start().unwrap();
    ssc.await_termination().unwrap();
    assert_eq!(
        ssc.write_final_checkpoint().unwrap(),
        Some(BatchTime(13_000))
    );
    // Written once: a second call has nothing to add.
    assert_eq!(ssc.write_final_checkpoint().unwrap(), None);

    let sc = SpateContext::sequential(2);
    let build = || program(&sc, input(), Arc::clone(&out), Arc::clone(&no_crash));
    let ssc = StreamingContext::get_or_create(dir.path(), config, build).unwrap();
    assert_eq!(ssc.recovered_from(), Some(BatchTime(13_000)));
    ssc.start().unwrap();
    ssc.await_termination().unwrap();
    assert_eq!(*out.lock().unwrap(), want);

    // After a failed batch nothing is written: the restart recomputes from the last
    // periodic checkpoint.
    let dir = tempfile::tempdir().unwrap();
    let crash = Arc::new(AtomicU64::new(7_000));
    let sc = SpateContext::sequential(2);
    let build = || program(&sc, input(), Arc::default(), Arc::clone(&crash));
    let ssc = StreamingContext::get_or_create(dir.path(), config, build).unwrap();
    ssc.start().unwrap();
    assert!(ssc.await_termination().is_err());
    assert_eq!(ssc.write_final_checkpoint().unwrap(), None);
}

#[test]
fn batch_metrics_report_each_checkpoint_and_its_size() {
    for synchronous in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let out: Outputs = Arc::default();
        let sc = SpateContext::sequential(2);
        let mut config = CheckpointConfig::every(3).keep(100);
        if synchronous {
            config = config.synchronous();
        }
        let ssc = StreamingContext::get_or_create(dir.path(), config, || {
            program(&sc, input(), Arc::clone(&out), Arc::new(AtomicU64::new(0)))
        })
        .unwrap();
        ssc.start().unwrap();
        ssc.await_termination().unwrap();
        let history = ssc.batch_history();
        assert_eq!(history.len(), 40);
        let mut reported = Vec::new();
        for info in &history {
            let batch = info.batch_time.0 / 1000;
            assert_eq!(
                info.checkpoint_ms.is_some(),
                batch % 3 == 0,
                "batch {batch}: a checkpoint after every third batch"
            );
            assert_eq!(
                info.checkpoint_bytes.is_some(),
                info.checkpoint_written.is_some()
            );
            let Some(written) = info.checkpoint_written else {
                continue;
            };
            if synchronous && written.0 > 0 {
                assert_eq!(
                    written, info.batch_time,
                    "a synchronous write is on disk at once"
                );
            } else {
                assert!(written <= info.batch_time);
            }
            // One worker: one part holds the state, and the manifest the rest.
            let payload = |suffix: &str| {
                let name = format!("checkpoint-{:020}{suffix}", written.0);
                let content = spate_core::codec::read_verified(&dir.path().join(name)).unwrap();
                content.len() as u64
            };
            assert_eq!(
                info.checkpoint_bytes,
                Some(payload(".part-0-of-1") + payload(".ckpt")),
                "checkpoint {written:?}"
            );
            reported.push(written.0 / 1000);
        }
        // Each checkpoint reported once, in order; in the background the last may still be
        // writing when the stream ends.
        // (The first checkpoint, of batch time 0, is taken at the start.)
        let taken: Vec<u64> = (0..=40).filter(|b| b % 3 == 0).collect();
        if synchronous {
            assert_eq!(reported, taken);
        } else {
            assert!(
                reported == taken || reported == taken[..taken.len() - 1],
                "{reported:?}"
            );
        }
    }
}

/// A counting program whose running state has value type `S`.
fn typed_program<S: spate_core::Data + std::ops::Add<Output = S> + From<u8> + Copy>(
    sc: &SpateContext,
) -> Result<StreamingContext> {
    let ssc = StreamingContext::builder(sc)
        .batch_interval(Duration::from_secs(1))
        .clock(FastForwardClock::new())
        .partitions(2)
        .build()?;
    let words = ssc.source_stream(ReplaySource::new(input().as_ref().clone()))?;
    words
        .map(|w| (w, S::from(1)))
        .update_state_by_key(|new: &[S], old: Option<S>| {
            Some(new.iter().fold(old.unwrap_or(S::from(0)), |a, b| a + *b))
        })
        .foreach_rdd(|rdd, _| rdd.count().map(drop))?;
    Ok(ssc)
}

#[test]
fn a_checkpoint_whose_state_type_changed_is_refused_not_decoded() {
    let dir = tempfile::tempdir().unwrap();
    let sc = SpateContext::sequential(2);
    let config = CheckpointConfig::every(3);
    let ssc =
        StreamingContext::get_or_create(dir.path(), config, || typed_program::<u64>(&sc)).unwrap();
    ssc.stop_after(BatchTime(7_000));
    ssc.start().unwrap();
    ssc.await_termination().unwrap();
    // The same graph with another state type: the fingerprint cannot tell, the types do.
    let err = StreamingContext::get_or_create(dir.path(), config, || typed_program::<f64>(&sc))
        .err()
        .expect("a changed state type must not restore");
    let text = err.to_string();
    assert!(
        text.contains("was saved as") && text.contains("u64") && text.contains("f64"),
        "{text}"
    );
    // The original program still restores.
    let ssc =
        StreamingContext::get_or_create(dir.path(), config, || typed_program::<u64>(&sc)).unwrap();
    assert_eq!(ssc.recovered_from(), Some(BatchTime(6_000)));
}

#[test]
fn a_directory_whose_checkpoints_are_all_unusable_is_refused_not_restarted_from_scratch() {
    let dir = tempfile::tempdir().unwrap();
    let sc = SpateContext::sequential(2);
    let config = CheckpointConfig::every(3);
    let ssc =
        StreamingContext::get_or_create(dir.path(), config, || typed_program::<u64>(&sc)).unwrap();
    ssc.stop_after(BatchTime(7_000));
    ssc.start().unwrap();
    ssc.await_termination().unwrap();
    for manifest in checkpoint_files(dir.path(), ".ckpt") {
        let bytes = std::fs::read(&manifest).unwrap();
        std::fs::write(&manifest, &bytes[..bytes.len() - 1]).unwrap();
    }
    let err = StreamingContext::get_or_create(dir.path(), config, || typed_program::<u64>(&sc))
        .err()
        .expect("damaged checkpoints must not be silently replaced by a fresh start");
    assert!(matches!(err, Error::CorruptCheckpoint { .. }), "{err}");
    assert!(
        err.to_string().contains("none of its 3 checkpoints"),
        "{err}"
    );
}

/// The checkpoint files of a run to the end, by name, with their content (without the parts'
/// ids, random for each write).
fn checkpoints_of_a_full_run(config: CheckpointConfig) -> BTreeMap<String, Vec<u8>> {
    let dir = tempfile::tempdir().unwrap();
    let out: Outputs = Arc::default();
    let sc = SpateContext::sequential(2);
    let ssc = StreamingContext::get_or_create(dir.path(), config, || {
        program(&sc, input(), Arc::clone(&out), Arc::new(AtomicU64::new(0)))
    })
    .unwrap();
    ssc.start().unwrap();
    ssc.await_termination().unwrap();
    std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| {
            let path = e.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let mut content = spate_core::codec::read_verified(&path).unwrap();
            // Both start with a u32 format, a u64 fingerprint and a u64 batch time; then a
            // part has its u64 id, and a manifest the ids of every part (a u64 count first).
            let ids = if name.ends_with(".ckpt") {
                let count = u64::from_le_bytes(content[20..28].try_into().unwrap()) as usize;
                28..28 + 8 * count
            } else {
                20..28
            };
            content[ids].fill(0);
            (name, content)
        })
        .collect()
}

#[test]
fn background_writes_hold_exactly_the_state_after_their_batch() {
    // Written while the next batches change the state, a background checkpoint holds the
    // snapshot taken at its batch: byte for byte the files a synchronous writer leaves.
    let config = CheckpointConfig::every(3).keep(20);
    let background = checkpoints_of_a_full_run(config);
    let synchronous = checkpoints_of_a_full_run(config.synchronous());
    assert!(config.background && !config.synchronous().background);
    assert_eq!(
        background.keys().filter(|n| n.ends_with(".ckpt")).count(),
        14,
        "the first checkpoint and one every 3 of 40 batches: {:?}",
        background.keys()
    );
    assert_eq!(
        background.keys().collect::<Vec<_>>(),
        synchronous.keys().collect::<Vec<_>>()
    );
    for (name, bytes) in &background {
        assert!(synchronous[name] == *bytes, "{name} differs");
    }
}

#[test]
fn a_checkpoint_write_that_fails_stops_the_stream_with_its_error() {
    for config in [
        CheckpointConfig::every(2),
        CheckpointConfig::every(2).synchronous(),
    ] {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("checkpoints");
        let sc = SpateContext::sequential(2);
        let ssc = StreamingContext::get_or_create(&dir, config, || {
            let ssc = program(&sc, input(), Arc::default(), Arc::new(AtomicU64::new(0)))?;
            // After batch 5, the checkpoint directory becomes a file: writes into it fail.
            // It is moved away rather than deleted: a background write of the previous
            // checkpoint may be adding a file to it at that moment.
            let (broken, moved) = (dir.clone(), root.path().join("moved"));
            ssc.source_stream(ReplaySource::new(vec![vec![0_u8]; 40]))?
                .foreach_rdd(move |_, t| {
                    if t.0 == 5_000 {
                        std::fs::rename(&broken, &moved).unwrap();
                        std::fs::write(&broken, b"not a directory").unwrap();
                    }
                    Ok(())
                })?;
            Ok(ssc)
        })
        .unwrap();
        ssc.start().unwrap();
        let err = ssc.await_termination().unwrap_err().to_string();
        assert!(
            err.contains("checkpoints"),
            "background={}: {err}",
            config.background
        );
        // The stream stops near the failure, not at its end: at batch 6, whose checkpoint
        // failed, or in the background at batch 5 (the write of checkpoint 4 was still
        // running when the directory moved) or at the next batch that waits for a write.
        let last = ssc.batch_history().last().unwrap().batch_time.0;
        assert!(
            (4_000..8_000).contains(&last),
            "background={}: stopped after {last}: {err}",
            config.background
        );
    }
}
