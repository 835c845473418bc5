//! The runtime boundary: the same program on one worker and on several (SPMD, exchanging
//! over channels) gives identical results on every worker, batch by batch; failures and
//! mismatches stop every worker with a clear error instead of a hang.

use crate::common::{Harness, on_every_runtime, on_workers};
use spate_core::stream::{
    CheckpointConfig, EmitMode, EventWindows, FastForwardClock, LateData, PartedBatch,
    ReplaySource, Source, SourceBatch, SourceOffset, StateSpec, StreamingContext,
};
use spate_core::{BatchTime, Error, SpateContext, TaskContext, Window};
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// Every setup's every worker got the same result as the first.
fn assert_all_equal<R: PartialEq + std::fmt::Debug>(results: Vec<Vec<R>>) {
    let reference = &results[0][0];
    for (setup, workers) in results.iter().enumerate() {
        for (worker, r) in workers.iter().enumerate() {
            assert_eq!(r, reference, "setup {setup}, worker {worker}");
        }
    }
}

/// An RDD program exercising every kind of stage, accumulators and floating-point sums.
fn rdd_program(sc: SpateContext) -> Vec<String> {
    let data: Vec<(u16, f64)> = (0..2_000_u32)
        .map(|i| ((i * 7919 % 97) as u16, f64::from(i) * 0.1 + 1e-3))
        .collect();
    let rdd = sc.parallelize(data, 5);
    let sum = sc.accumulator::<f64>("sum");
    let acc = sum.clone();
    let reduced = rdd
        .map(move |(k, v)| {
            acc.add(v);
            (k, v)
        })
        .reduce_by_key(|a, b| a + b);
    let grouped = rdd.group_by_key().map_values(|v| v.len());
    let joined = reduced.join(&grouped);
    let outer = rdd
        .filter(|(k, _)| k % 3 == 0)
        .full_outer_join(&rdd.filter(|(k, _)| k % 2 == 0).map_values(|v| v * 2.0));
    let sorted = rdd.sort_by_key(false).unwrap();
    let cached = rdd.map(|(k, v)| (k % 10, v)).persist();
    let out = vec![
        format!("{:?}", reduced.collect().unwrap()),
        format!("{:?}", joined.collect().unwrap()),
        format!("{:?}", outer.count().unwrap()),
        format!("{:?}", sorted.take(25).unwrap()),
        format!("{:?}", rdd.repartition(4).collect_partitions().unwrap()),
        format!("{:?}", rdd.map(|(k, _)| k).distinct().count().unwrap()),
        format!(
            "{:?}",
            rdd.sample(false, 0.1, 3).unwrap().collect().unwrap()
        ),
        format!(
            "{:?}",
            cached.reduce_by_key(|a, b| a + b).collect().unwrap()
        ),
        format!("{:?}", cached.count().unwrap()),
        format!("{:?}", rdd.lookup(&5).unwrap()),
        format!("{:.17e}", sum.value()),
        format!("{:?}", rdd.values().fold(0.0, |a, b| a + b).unwrap()),
    ];
    out
}

#[test]
fn rdd_programs_give_identical_results_on_every_runtime_and_worker() {
    assert_all_equal(on_every_runtime(4, rdd_program));
}

/// A stream program: per-batch counts, a window with an inverse, running state, state with
/// timeouts and an event-time window, collected batch by batch.
fn stream_program(sc: SpateContext) -> Vec<String> {
    let mut h = Harness::<(String, i64)>::new(&sc, 3);
    let input = h.input.clone();
    let counts = input.map(|(w, _)| (w, 1_u64)).reduce_by_key(|a, b| a + b);
    let windowed = input
        .map(|(w, _)| (w, 1_i64))
        .reduce_by_key_and_window_inv(|a, b| a + b, |a, b| a - b, Window::new(secs(3), secs(1)))
        .unwrap();
    let running =
        input
            .map(|(w, _)| (w, 1_u64))
            .update_state_by_key(|new: &[u64], old: Option<u64>| {
                Some(old.unwrap_or(0) + new.iter().sum::<u64>())
            });
    let timed = input
        .map(|(w, t)| (w, t))
        .map_with_state(
            StateSpec::function(
                |k: &String, v: Option<i64>, s: &mut spate_core::stream::State<i64>| {
                    let total = s.get().copied().unwrap_or(0) + v.unwrap_or(0);
                    s.update(total);
                    (k.clone(), total)
                },
            )
            .timeout(secs(2)),
        )
        .unwrap()
        .mapped();
    let event = input
        .map(|(w, t)| (w, t))
        .with_event_time(|(_, t): &(String, i64)| *t, secs(1))
        .unwrap()
        .count_by_key_and_window(
            EventWindows::tumbling(secs(2)).unwrap(),
            EmitMode::Final,
            LateData::Drop,
        )
        .unwrap()
        .results();
    let sinks = [h.collect(&counts).clone()];
    let sorted_sinks: Vec<_> = vec![
        h.collect(&windowed.map(|(k, v)| (k, v as u64))),
        h.collect(&running),
        h.collect(&timed.map(|(k, v)| (k, v as u64))),
    ];
    let event_sink =
        h.collect(&event.map(|r| (format!("{} {}..{}", r.key, r.start, r.end), r.value)));
    let words = ["a", "b", "c", "a", "d", "e", "a", "b"];
    let batches: Vec<Vec<(String, i64)>> = (0..8)
        .map(|b| {
            (0..(3 + b * 5))
                .map(|i| {
                    let w = words[(i * 3 + b) % words.len()].to_string();
                    (w, (b * 1000 + (i * 37) % 900) as i64)
                })
                .collect()
        })
        .collect();
    h.run(batches);
    h.stop();
    let mut out = Vec::new();
    for sink in sinks.iter().chain(&sorted_sinks).chain([&event_sink]) {
        for (t, records) in sink.lock().unwrap().iter() {
            let mut records = records.clone();
            records.sort();
            out.push(format!("{} {records:?}", t.0));
        }
    }
    let history: Vec<(u64, u64)> = h
        .ssc
        .batch_history()
        .iter()
        .map(|b| (b.batch_time.0, b.records_in))
        .collect();
    out.push(format!("{history:?}"));
    out
}

#[test]
fn stream_programs_give_identical_results_on_every_runtime_and_worker() {
    assert_all_equal(on_every_runtime(4, stream_program));
}

/// A replay source that every worker reads (see `Source::read_by_every_worker`), noting
/// which partitions it built records for; its digest hashes the batch's records.
struct EveryWorkerReplay {
    replay: ReplaySource<String>,
    built: Arc<Mutex<Vec<usize>>>,
    /// What `read_by_every_worker` answers (true but in one test).
    every_worker: bool,
}

impl EveryWorkerReplay {
    fn new(batches: Vec<Vec<String>>) -> EveryWorkerReplay {
        EveryWorkerReplay {
            replay: ReplaySource::new(batches),
            built: Arc::default(),
            every_worker: true,
        }
    }
}

impl Source for EveryWorkerReplay {
    type Item = String;

    fn name(&self) -> String {
        "every-worker replay".into()
    }

    fn next_batch(
        &mut self,
        time: BatchTime,
        max_records: Option<u64>,
    ) -> spate_core::Result<SourceBatch<String>> {
        self.replay.next_batch(time, max_records)
    }

    fn read_by_every_worker(&self) -> bool {
        self.every_worker
    }

    fn next_batch_parts(
        &mut self,
        time: BatchTime,
        max_records: Option<u64>,
        partitions: usize,
        keep: &dyn Fn(usize) -> bool,
    ) -> spate_core::Result<PartedBatch<String>> {
        use std::hash::{Hash, Hasher};
        let batch = self.replay.next_batch(time, max_records)?;
        let mut hasher = std::hash::DefaultHasher::new();
        batch.records.hash(&mut hasher);
        let mut parted = PartedBatch::split(batch, partitions, keep);
        parted.digest = hasher.finish();
        let mut built = self.built.lock().unwrap();
        built.extend((0..partitions).filter(|&p| parted.parts[p].is_some()));
        Ok(parted)
    }

    fn is_exhausted(&self) -> bool {
        self.replay.is_exhausted()
    }

    fn offset(&self) -> Option<SourceOffset> {
        self.replay.offset()
    }

    fn seek(&mut self, offset: &SourceOffset) -> spate_core::Result<()> {
        self.replay.seek(offset)
    }
}

/// Per-batch word counts (sorted) and the records each batch's metrics report, reading
/// `batches` from a source the leader reads or, with `every_worker`, one every worker reads;
/// and the partitions this worker built input records for.
fn counts_by_batch(
    sc: &SpateContext,
    batches: Vec<Vec<String>>,
    every_worker: bool,
    max_records_per_batch: Option<u64>,
) -> spate_core::Result<(Vec<String>, Vec<usize>)> {
    let mut builder = StreamingContext::builder(sc)
        .batch_interval(secs(1))
        .clock(FastForwardClock::new())
        .partitions(5);
    if let Some(max) = max_records_per_batch {
        // The workers then read after the input round, with the leader's limit.
        builder = builder.max_records_per_batch(max);
    }
    let ssc = builder.build()?;
    let source = EveryWorkerReplay::new(batches.clone());
    let built = Arc::clone(&source.built);
    let input = if every_worker {
        ssc.source_stream(source)?
    } else {
        ssc.source_stream(ReplaySource::new(batches))?
    };
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&seen);
    input
        .map(|w| (w, 1_u64))
        .reduce_by_key(|a, b| a + b)
        .foreach_rdd(move |rdd, t| {
            let mut all = rdd.collect()?;
            all.sort();
            sink.lock().unwrap().push(format!("{} {all:?}", t.0));
            Ok(())
        })?;
    ssc.start()?;
    ssc.await_termination()?;
    let mut out = seen.lock().unwrap().clone();
    let records: Vec<u64> = ssc.batch_history().iter().map(|b| b.records_in).collect();
    out.push(format!("records {records:?}"));
    let built = built.lock().unwrap().clone();
    Ok((out, built))
}

#[test]
fn a_source_every_worker_reads_gives_the_results_of_one_the_leader_reads() {
    let batches = word_batches();
    for limit in [None, Some(1000)] {
        let reference =
            counts_by_batch(&SpateContext::sequential(5), batches.clone(), false, limit)
                .unwrap()
                .0;
        let results = on_every_runtime(5, |sc| {
            let (out, built) = counts_by_batch(&sc, batches.clone(), true, limit).unwrap();
            (out, built, sc.worker(), sc.workers())
        });
        check_own_partitions(&results, &reference, batches.len());
    }
}

/// Every worker of every setup got `reference` and built the partitions it owns only.
fn check_own_partitions(
    results: &[Vec<(Vec<String>, Vec<usize>, usize, usize)>],
    reference: &[String],
    batches: usize,
) {
    for (setup, workers) in results.iter().enumerate() {
        for (out, built, worker, of) in workers {
            assert_eq!(*out, reference, "setup {setup}, worker {worker}");
            // Every batch, each of several workers built exactly the partitions it owns
            // (one worker reads whole batches). Workers other than the leader may have
            // read one batch more (reading before the input round, the batch after the
            // last, which the leader then did not run).
            let owned: Vec<usize> = (0..5).filter(|p| p % of == *worker).collect();
            if *of == 1 {
                assert!(built.is_empty(), "setup {setup}");
                continue;
            }
            let reads = built.len() / owned.len();
            assert_eq!(
                *built,
                owned.repeat(reads),
                "setup {setup}, worker {worker}"
            );
            assert!(
                reads == batches || (reads == batches + 1 && *worker != 0),
                "setup {setup}, worker {worker} of {of}: {reads} reads of {batches} batches"
            );
        }
    }
}

#[test]
fn workers_reading_different_input_fail_the_batch_with_a_clear_error() {
    // Compared in the input round (no limit), or at the batch end (a limit).
    for limit in [None, Some(1000)] {
        let results = on_workers(2, 4, |sc| {
            let mut batches = word_batches();
            if sc.worker() == 1 {
                // Same sizes, one word different: only the digest tells.
                batches[2][0].push('x');
            }
            counts_by_batch(&sc, batches, true, limit).map_err(|e| e.to_string())
        });
        for (worker, r) in results.iter().enumerate() {
            let text = r.as_ref().unwrap_err();
            assert!(
                text.contains("batch at 3000 ms")
                    && text.contains("read different input from source `every-worker replay`"),
                "limit {limit:?}, worker {worker}: {text}"
            );
        }
    }
}

#[test]
fn workers_disagreeing_on_who_reads_a_source_fail_at_start() {
    let results = on_workers(2, 4, |sc| {
        let ssc = StreamingContext::builder(&sc)
            .batch_interval(secs(1))
            .clock(FastForwardClock::new())
            .build()
            .unwrap();
        let mut source = EveryWorkerReplay::new(word_batches());
        // Worker 1's source would be read by the leader alone.
        source.every_worker = sc.worker() != 1;
        let input = ssc.source_stream(source).unwrap();
        input.foreach_rdd(|rdd, _| rdd.count().map(drop)).unwrap();
        ssc.start().map_err(|e| e.to_string())
    });
    for (worker, started) in results.iter().enumerate() {
        let text = started.as_ref().unwrap_err();
        assert!(
            text.contains("sources every worker reads") && text.contains("[true]"),
            "worker {worker}: {text}"
        );
    }
}

/// A stream on a fast-forward clock that replays `batches` (a replayable source), counts words
/// per batch into a managed total, checkpoints every 2 batches into `dir`, and stops after
/// `stop_after` batches (if given). Returns the totals after each batch it ran, the
/// checkpoint it restored, and the checkpoints its batches report written (batch, bytes).
fn checkpointed_counts(
    sc: &SpateContext,
    dir: &std::path::Path,
    batches: &[Vec<String>],
    stop_after: Option<u64>,
    every_worker: bool,
) -> Counts {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let build = || {
        let ssc = StreamingContext::builder(sc)
            .batch_interval(secs(1))
            .clock(FastForwardClock::new())
            .partitions(3)
            .build()?;
        let input = if every_worker {
            ssc.source_stream(EveryWorkerReplay::new(batches.to_vec()))?
        } else {
            ssc.source_stream(ReplaySource::new(batches.to_vec()))?
        };
        let sink = Arc::clone(&seen);
        input
            .map(|w| (w, 1_u64))
            .update_state_by_key(|new: &[u64], old: Option<u64>| {
                Some(old.unwrap_or(0) + new.iter().sum::<u64>())
            })
            .window(Window::new(secs(2), secs(1)))?
            .reduce_by_key(|a, b| a.max(b))
            .foreach_rdd(move |rdd, t| {
                let mut all = rdd.collect()?;
                all.sort();
                sink.lock().unwrap().push((t.0, all));
                Ok(())
            })?;
        Ok(ssc)
    };
    let ssc = StreamingContext::get_or_create(dir, CheckpointConfig::every(2), build).unwrap();
    if let Some(n) = stop_after {
        ssc.stop_after(BatchTime(n * 1000));
    }
    ssc.start().unwrap();
    ssc.await_termination().unwrap();
    let recovered = ssc.recovered_from();
    let out = seen.lock().unwrap().clone();
    let written = ssc
        .batch_history()
        .iter()
        .filter_map(|b| Some((b.checkpoint_written?.0, b.checkpoint_bytes?)))
        .collect();
    (out, recovered, written)
}

type Counts = (
    Vec<(u64, Vec<(String, u64)>)>,
    Option<BatchTime>,
    Vec<(u64, u64)>,
);

fn word_batches() -> Vec<Vec<String>> {
    (0..9)
        .map(|b| {
            (0..(b * 3 + 2))
                .map(|i| format!("w{}", (i * 5 + b) % 7))
                .collect()
        })
        .collect()
}

#[test]
fn checkpoints_restore_on_the_same_or_another_number_of_workers() {
    let batches = word_batches();
    // The reference: one uninterrupted run on one worker.
    let reference = {
        let dir = tempfile::tempdir().unwrap();
        checkpointed_counts(
            &SpateContext::sequential(4),
            dir.path(),
            &batches,
            None,
            false,
        )
        .0
    };
    assert_eq!(reference.len(), 9);
    // The second half of the cases reads a source every worker reads (each seeks its own).
    let cases = [(2, 2), (2, 3), (3, 1), (1, 2)];
    for (case, (first, second)) in cases.into_iter().chain(cases).enumerate() {
        let every_worker = case >= cases.len();
        let dir = tempfile::tempdir().unwrap();
        let run = |workers: usize, stop: Option<u64>| {
            if workers == 1 {
                vec![checkpointed_counts(
                    &SpateContext::sequential(4),
                    dir.path(),
                    &batches,
                    stop,
                    every_worker,
                )]
            } else {
                on_workers(workers, 4, |sc| {
                    checkpointed_counts(&sc, dir.path(), &batches, stop, every_worker)
                })
            }
        };
        // Batches 1..=5, checkpoints after 2 and 4 (and before the first).
        let before = run(first, Some(5));
        for (out, _, _) in &before {
            assert_eq!(out[..], reference[..5], "{first} workers, first run");
        }
        // The restart resumes after the checkpoint of batch 4 and recomputes batch 5.
        let after = run(second, None);
        for (worker, (out, recovered, _)) in after.iter().enumerate() {
            assert_eq!(*recovered, Some(BatchTime(4000)), "{first} -> {second}");
            assert_eq!(
                out[..],
                reference[4..],
                "{first} -> {second} workers, worker {worker}"
            );
        }
    }
}

#[test]
fn every_worker_reports_a_checkpoint_with_the_bytes_of_all_its_files_once_all_are_written() {
    let batches = word_batches();
    let dir = tempfile::tempdir().unwrap();
    let runs = on_workers(3, 2, |sc| {
        checkpointed_counts(&sc, dir.path(), &batches, None, false)
    });
    // Every 2 batches of 9 (and one at the start); the last may still be in flight when
    // the stream ends. The directory keeps the newest 3.
    let (_, _, leader) = &runs[0];
    let times: Vec<u64> = leader.iter().map(|(t, _)| *t).collect();
    assert!(
        times == [0, 2000, 4000, 6000, 8000] || times == [0, 2000, 4000, 6000],
        "{times:?}"
    );
    for (_, _, theirs) in &runs {
        assert_eq!(theirs, leader, "every worker reports the same");
    }
    let payload = |name: String| {
        let content = spate_core::codec::read_verified(&dir.path().join(name)).unwrap();
        content.len() as u64
    };
    for &(t, bytes) in leader.iter().filter(|(t, _)| *t >= 4000) {
        let files = payload(format!("checkpoint-{t:020}.ckpt"))
            + (0..3)
                .map(|k| payload(format!("checkpoint-{t:020}.part-{k}-of-3")))
                .sum::<u64>();
        assert_eq!(bytes, files, "checkpoint {t}");
    }
}

#[test]
fn a_task_failing_on_one_worker_fails_the_job_on_every_worker() {
    let results = on_workers(3, 6, |sc| {
        sc.set_max_task_attempts(2).unwrap();
        let rdd = sc.parallelize((0..60_u32).collect(), 6).map(|x| {
            if TaskContext::get().is_some_and(|t| t.partition == 4) {
                panic!("partition 4 is broken");
            }
            x
        });
        let first = rdd.count();
        // The failure poisons the rounds: a later job fails at once instead of waiting.
        let later = sc.parallelize(vec![1_u8], 1).count();
        (first.map_err(|e| e.to_string()), later.is_err())
    });
    for (worker, (first, later)) in results.iter().enumerate() {
        let text = first.as_ref().unwrap_err();
        assert!(
            text.contains("partition 4 is broken"),
            "worker {worker}: {text}"
        );
        assert!(later, "worker {worker}");
    }
}

#[test]
fn an_output_failing_on_one_worker_stops_the_stream_on_every_worker() {
    let results = on_workers(2, 4, |sc| {
        let me = sc.worker();
        let ssc = StreamingContext::builder(&sc)
            .batch_interval(secs(1))
            .clock(FastForwardClock::new())
            .build()
            .unwrap();
        let (queue, input) = ssc.queue_stream::<u32>(true).unwrap();
        for b in 0..5 {
            queue.push((0..10 * b).collect());
        }
        queue.close();
        input
            .foreach_rdd(move |rdd, t| {
                let n = rdd.count()?;
                if me == 1 && t.0 == 3000 {
                    return Err(Error::Operator {
                        operator: "test output".into(),
                        message: format!("worker 1 refuses batch {} ({n} records)", t.0),
                    });
                }
                Ok(())
            })
            .unwrap();
        ssc.start().unwrap();
        let ended = ssc.await_termination_or_timeout(secs(60));
        (ended.map_err(|e| e.to_string()), ssc.batch_history().len())
    });
    for (worker, (ended, batches)) in results.iter().enumerate() {
        let text = ended.as_ref().unwrap_err();
        assert!(
            text.contains("worker 1 refuses batch 3000"),
            "worker {worker}: {text}"
        );
        assert_eq!(*batches, 2, "worker {worker}");
    }
}

#[test]
fn workers_that_built_different_programs_fail_fast_with_a_clear_error() {
    let results = on_workers(2, 4, |sc| {
        let ssc = StreamingContext::builder(&sc)
            .batch_interval(secs(1))
            .clock(FastForwardClock::new())
            .build()
            .unwrap();
        let (queue, input) = ssc.queue_stream::<u32>(true).unwrap();
        queue.close();
        // Worker 1 builds a different graph.
        let stream = if sc.worker() == 1 {
            input.map(|x| x + 1)
        } else {
            input
        };
        stream.foreach_rdd(|_, _| Ok(())).unwrap();
        ssc.start().map_err(|e| e.to_string())
    });
    for (worker, started) in results.iter().enumerate() {
        let text = started.as_ref().unwrap_err();
        assert!(
            text.contains("plan fingerprint") && text.contains("was started differently"),
            "worker {worker}: {text}"
        );
    }
}

#[test]
fn workers_that_diverge_fail_with_a_clear_error_instead_of_hanging() {
    let results = on_workers(2, 4, |sc| {
        let rdd = sc.parallelize((0..10_u32).collect(), 4);
        if sc.worker() == 1 {
            // An extra action on one worker only: its peers are in another round.
            let _ = rdd.count();
        }
        rdd.map(|x| (x % 3, x))
            .reduce_by_key(|a, b| a + b)
            .collect()
            .map_err(|e| e.to_string())
    });
    for (worker, r) in results.iter().enumerate() {
        let text = r.as_ref().unwrap_err();
        assert!(text.contains("diverged"), "worker {worker}: {text}");
    }
}
