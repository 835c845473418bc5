//! DStream operators against naive per-batch and per-window computations, on a manual
//! clock (no sleeps), for several partition counts and executors.

use crate::common::{Harness, each_context, sorted};
use proptest::prelude::*;
use spate_core::stream::{StateSpec, StreamingContext};
use spate_core::{BatchTime, Error, SpateContext, Window};
use std::collections::BTreeMap;
use std::time::Duration;

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn word_batches() -> Vec<Vec<String>> {
    let text = [
        "a b c a",
        "b b d",
        "",
        "a e e e",
        "c c a b",
        "d",
        "e a",
        "b c d e a",
    ];
    text.iter()
        .map(|l| l.split_whitespace().map(String::from).collect())
        .collect()
}

fn counts(words: &[String]) -> Vec<(String, u64)> {
    let mut m: BTreeMap<String, u64> = BTreeMap::new();
    for w in words {
        *m.entry(w.clone()).or_default() += 1;
    }
    m.into_iter().collect()
}

/// The batches (1-based indices) in the window ending at batch `end`.
fn window_batches<T: Clone>(batches: &[Vec<T>], end: usize, length: usize) -> Vec<T> {
    let start = end.saturating_sub(length);
    batches[start..end].concat()
}

#[test]
fn per_batch_operators_match_naive_computation() {
    each_context(|sc| {
        for parts in [1, 2, 7] {
            let mut h = Harness::<String>::new(&sc, parts);
            let pairs = h.input.map(|w| (w, 1_u64));
            let mapped = h.collect(&h.input.map(|w| w.to_uppercase()));
            let filtered = h.collect(&h.input.filter(|w| w != "a"));
            let flat = h.collect(&h.input.flat_map(|w| w.chars().collect::<Vec<_>>()));
            let count = h.collect(&h.input.count());
            let reduced = h.collect(&h.input.reduce(|a, b| a.max(b)));
            let by_value = h.collect(&h.input.count_by_value());
            let by_key = h.collect(&pairs.reduce_by_key(|a, b| a + b));
            let grouped = h.collect(&pairs.group_by_key().map_values(|v| v.len() as u64));
            let other = h.input.map(|w| (w.clone(), w.len()));
            let joined = h.collect(&pairs.join(&other).unwrap());
            let unioned = h.collect(&h.input.union(&h.input.map(|w| w + "!")).unwrap());
            let transformed = h.collect(&h.input.transform(|rdd, t| rdd.map(move |w| (w, t.0))));
            let per_part = h.collect(&h.input.glom().map(|p| p.len()));
            let batches = word_batches();
            h.run(batches.clone());
            h.stop();

            for (i, batch) in batches.iter().enumerate() {
                let t = BatchTime((i as u64 + 1) * 1000);
                let at = |c: &Vec<(BatchTime, Vec<_>)>| c[i].0;
                let m = mapped.lock().unwrap();
                assert_eq!(at(&m), t);
                assert_eq!(
                    m[i].1,
                    batch.iter().map(|w| w.to_uppercase()).collect::<Vec<_>>()
                );
                let f = filtered.lock().unwrap();
                assert_eq!(
                    f[i].1,
                    batch
                        .iter()
                        .filter(|w| *w != "a")
                        .cloned()
                        .collect::<Vec<_>>()
                );
                let fl = flat.lock().unwrap();
                assert_eq!(fl[i].1.len(), batch.iter().map(String::len).sum::<usize>());
                assert_eq!(count.lock().unwrap()[i].1, vec![batch.len() as u64]);
                assert_eq!(
                    reduced.lock().unwrap()[i].1,
                    batch.iter().max().cloned().into_iter().collect::<Vec<_>>()
                );
                assert_eq!(sorted(&by_value.lock().unwrap()[i].1), counts(batch));
                assert_eq!(sorted(&by_key.lock().unwrap()[i].1), counts(batch));
                assert_eq!(sorted(&grouped.lock().unwrap()[i].1), counts(batch));
                let mut want_join = Vec::new();
                for a in batch {
                    for b in batch {
                        if a == b {
                            want_join.push((a.clone(), (1_u64, b.len())));
                        }
                    }
                }
                assert_eq!(sorted(&joined.lock().unwrap()[i].1), sorted(&want_join));
                assert_eq!(unioned.lock().unwrap()[i].1.len(), 2 * batch.len());
                assert!(
                    transformed.lock().unwrap()[i]
                        .1
                        .iter()
                        .all(|(_, time)| *time == t.0)
                );
                let pp = per_part.lock().unwrap();
                assert_eq!(
                    pp[i].1.len(),
                    parts,
                    "input batches use the configured partitions"
                );
            }
        }
    });
}

#[test]
fn outer_joins_per_batch() {
    let sc = SpateContext::sequential(2);
    let mut h = Harness::<(u32, char)>::new(&sc, 3);
    let left = h.input.filter(|(k, _)| k % 2 == 0);
    let right = h
        .input
        .filter(|(k, _)| k % 3 == 0)
        .map_values(|c| c.to_ascii_uppercase());
    let l = h.collect(&left.left_outer_join(&right).unwrap());
    let r = h.collect(&left.right_outer_join(&right).unwrap());
    let f = h.collect(&left.full_outer_join(&right).unwrap());
    let cg = h.collect(&left.cogroup(&right).unwrap());
    h.run(vec![vec![(0, 'a'), (2, 'b'), (3, 'c'), (6, 'd'), (9, 'e')]]);
    h.stop();
    assert_eq!(
        sorted(&l.lock().unwrap()[0].1),
        vec![
            (0, ('a', Some('A'))),
            (2, ('b', None)),
            (6, ('d', Some('D')))
        ]
    );
    assert_eq!(
        sorted(&r.lock().unwrap()[0].1),
        vec![
            (0, (Some('a'), 'A')),
            (3, (None, 'C')),
            (6, (Some('d'), 'D')),
            (9, (None, 'E'))
        ]
    );
    assert_eq!(
        sorted(&f.lock().unwrap()[0].1),
        vec![
            (0, (Some('a'), Some('A'))),
            (2, (Some('b'), None)),
            (3, (None, Some('C'))),
            (6, (Some('d'), Some('D'))),
            (9, (None, Some('E')))
        ]
    );
    assert_eq!(cg.lock().unwrap()[0].1.len(), 5);
}

#[test]
fn windows_match_recomputation_from_scratch() {
    each_context(|sc| {
        for parts in [1, 2, 7] {
            for (length, slide) in [(3, 1), (4, 2), (2, 2), (5, 3)] {
                let w = Window::new(secs(length), secs(slide));
                let mut h = Harness::<String>::new(&sc, parts);
                let pairs = h.input.map(|w| (w, 1_u64));
                let windowed = h.collect(&h.input.window(w).unwrap());
                let recompute =
                    h.collect(&pairs.reduce_by_key_and_window(|a, b| a + b, w).unwrap());
                let incremental = h.collect(
                    &pairs
                        .reduce_by_key_and_window_inv(|a, b| a + b, |a, b| a - b, w)
                        .unwrap(),
                );
                let merged = h.collect(&pairs.merge_by_key_and_window(w).unwrap());
                let by_value = h.collect(&h.input.count_by_value_and_window(w).unwrap());
                let count = h.collect(&h.input.count_by_window(w).unwrap());
                let longest = h.collect(&h.input.reduce_by_window(|a, b| a.max(b), w).unwrap());
                let grouped = h.collect(&pairs.group_by_key_and_window(w).unwrap());
                let total_inv = h.collect(
                    &h.input
                        .map(|w| w.len() as i64)
                        .reduce_by_window_inv(|a, b| a + b, |a, b| a - b, w)
                        .unwrap(),
                );
                let total_merge =
                    h.collect(&h.input.map(|w| w.len() as u64).merge_by_window(w).unwrap());
                let batches = word_batches();
                h.run(batches.clone());
                h.stop();

                let (length, slide) = (length as usize, slide as usize);
                let ends: Vec<usize> = (1..=batches.len()).filter(|e| e % slide == 0).collect();
                let windowed = windowed.lock().unwrap();
                assert_eq!(windowed.len(), ends.len(), "one output per slide");
                for (j, &end) in ends.iter().enumerate() {
                    let content = window_batches(&batches, end, length);
                    let want = counts(&content);
                    assert_eq!(windowed[j].0, BatchTime(end as u64 * 1000));
                    assert_eq!(sorted(&windowed[j].1), sorted(&content));
                    assert_eq!(
                        sorted(&recompute.lock().unwrap()[j].1),
                        want,
                        "recompute end {end}"
                    );
                    assert_eq!(
                        sorted(&incremental.lock().unwrap()[j].1),
                        want,
                        "inverse end {end}"
                    );
                    assert_eq!(sorted(&merged.lock().unwrap()[j].1), want);
                    assert_eq!(sorted(&by_value.lock().unwrap()[j].1), want);
                    assert_eq!(count.lock().unwrap()[j].1, vec![content.len() as u64]);
                    assert_eq!(
                        longest.lock().unwrap()[j].1,
                        content
                            .iter()
                            .max()
                            .cloned()
                            .into_iter()
                            .collect::<Vec<_>>()
                    );
                    let letters: usize = content.iter().map(String::len).sum();
                    let inv = &total_inv.lock().unwrap()[j];
                    assert_eq!(inv.0, windowed[j].0);
                    if content.is_empty() {
                        assert!(inv.1.is_empty() || inv.1 == vec![0]);
                    } else {
                        assert_eq!(inv.1, vec![letters as i64]);
                    }
                    let merged_total = &total_merge.lock().unwrap()[j].1;
                    assert_eq!(merged_total.iter().sum::<u64>(), letters as u64);
                    let g: Vec<(String, u64)> = grouped.lock().unwrap()[j]
                        .1
                        .iter()
                        .map(|(k, v)| (k.clone(), v.len() as u64))
                        .collect();
                    assert_eq!(sorted(&g), want);
                }
            }
        }
    });
}

#[test]
fn window_parameters_are_checked_before_data_flows() {
    let sc = SpateContext::sequential(2);
    let ssc = StreamingContext::builder(&sc)
        .batch_interval(secs(2))
        .build()
        .unwrap();
    let (_q, s) = ssc.queue_stream::<u32>(true).unwrap();
    let err = s.window(Window::new(secs(7), secs(2))).unwrap_err();
    assert!(
        matches!(
            err,
            Error::WindowNotMultiple {
                what: "window length",
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("7s") && err.to_string().contains("2s"));
    assert!(s.window(Window::new(secs(6), secs(3))).is_err());
    assert!(s.window(Window::new(Duration::ZERO, secs(2))).is_err());
    let w = s.window(Window::new(secs(4), secs(4))).unwrap();
    assert!(matches!(s.union(&w), Err(Error::IntervalMismatch { .. })));
    let other = StreamingContext::builder(&sc)
        .batch_interval(secs(2))
        .build()
        .unwrap();
    let (_q2, s2) = other.queue_stream::<u32>(true).unwrap();
    assert!(matches!(s.union(&s2), Err(Error::ContextMismatch { .. })));
    assert!(matches!(ssc.start(), Err(Error::NoOutputOperations)));
    assert!(
        StreamingContext::builder(&sc)
            .batch_interval(Duration::from_micros(10))
            .build()
            .is_err()
    );
}

#[test]
fn update_state_by_key_keeps_running_totals() {
    each_context(|sc| {
        for parts in [1, 2, 7] {
            let mut h = Harness::<String>::new(&sc, parts);
            let totals = h
                .input
                .map(|w| (w, 1_u64))
                .update_state_by_key(|new: &[u64], old| {
                    let sum = old.unwrap_or(0) + new.iter().sum::<u64>();
                    // Keys reaching 5 are dropped: state removal.
                    (sum < 5).then_some(sum)
                });
            let out = h.collect(&totals);
            let batches = word_batches();
            h.run(batches.clone());
            let state_sizes: Vec<u64> =
                h.ssc.batch_history().iter().map(|b| b.state_size).collect();
            h.stop();
            let mut running: BTreeMap<String, u64> = BTreeMap::new();
            for (i, batch) in batches.iter().enumerate() {
                for w in batch {
                    *running.entry(w.clone()).or_default() += 1;
                }
                running.retain(|_, v| *v < 5);
                let want: Vec<(String, u64)> = running.clone().into_iter().collect();
                assert_eq!(sorted(&out.lock().unwrap()[i].1), want, "after batch {i}");
                assert_eq!(state_sizes[i], want.len() as u64);
            }
        }
    });
}

#[test]
fn a_state_rdd_kept_past_its_batch_refuses_to_recompute() {
    let sc = SpateContext::sequential(2);
    let mut h = Harness::<u32>::new(&sc, 2);
    let totals =
        h.input
            .map(|x| (x % 3, 1_u64))
            .update_state_by_key(|new: &[u64], old: Option<u64>| {
                Some(old.unwrap_or(0) + new.len() as u64)
            });
    let kept = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let k = std::sync::Arc::clone(&kept);
    totals
        .foreach_rdd(move |rdd, _| {
            k.lock().unwrap().push(rdd);
            Ok(())
        })
        .unwrap();
    h.run(vec![vec![1, 2, 3], vec![4, 5]]);
    h.stop();
    let kept = kept.lock().unwrap();
    // The first batch's RDD was never computed in its batch except by the commit, and its
    // cache is released: computing it now must fail loudly, not apply batch 1 again.
    let err = kept[0].collect().unwrap_err();
    assert!(matches!(err, Error::StateExpired { .. }), "{err}");
}

#[test]
fn map_with_state_times_out_idle_keys() {
    each_context(|sc| {
        let mut h = Harness::<(String, i64)>::new(&sc, 3);
        let spec = StateSpec::function(
            |key: &String, value: Option<i64>, state: &mut spate_core::stream::State<i64>| {
                if state.is_timing_out() {
                    return format!("{key} timed out at {}", state.get().copied().unwrap_or(0));
                }
                let sum = state.get().copied().unwrap_or(0) + value.unwrap_or(0);
                if sum < 0 {
                    state.remove();
                    return format!("{key} removed");
                }
                state.update(sum);
                format!("{key}={sum}")
            },
        )
        .timeout(secs(2));
        let stream = h.input.map_with_state(spec).unwrap();
        let mapped = h.collect(&stream.mapped());
        let snapshots = h.collect(&stream.state_snapshots());
        let b = |v: &[(&str, i64)]| {
            v.iter()
                .map(|(k, x)| (k.to_string(), *x))
                .collect::<Vec<_>>()
        };
        h.run(vec![
            b(&[("x", 1), ("y", 5)]),   // t=1
            b(&[("x", 2)]),             // t=2
            b(&[]),                     // t=3
            b(&[("x", 1)]),             // t=4: y last seen at 1 < 4-2 → times out
            b(&[("x", -10), ("z", 3)]), // t=5
            b(&[]),                     // t=6
            b(&[]),                     // t=7
            b(&[]),                     // t=8: z last seen at 5 < 6 → times out
        ]);
        let sizes: Vec<u64> = h.ssc.batch_history().iter().map(|b| b.state_size).collect();
        h.stop();
        let m = mapped.lock().unwrap();
        let mapped_at = |i: usize| sorted(&m[i].1);
        assert_eq!(mapped_at(0), vec!["x=1", "y=5"]);
        assert_eq!(mapped_at(1), vec!["x=3"]);
        assert!(mapped_at(2).is_empty());
        assert_eq!(mapped_at(3), vec!["x=4", "y timed out at 5"]);
        assert_eq!(mapped_at(4), vec!["x removed", "z=3"]);
        assert!(mapped_at(5).is_empty() && mapped_at(6).is_empty());
        assert_eq!(mapped_at(7), vec!["z timed out at 3"]);
        let s = snapshots.lock().unwrap();
        assert_eq!(sorted(&s[3].1), b(&[("x", 4)]));
        assert_eq!(sorted(&s[4].1), b(&[("z", 3)]));
        assert_eq!(sizes, vec![2, 2, 2, 1, 1, 1, 1, 0]);
    });
}

#[test]
fn state_memory_stays_bounded_with_timeouts() {
    let sc = crate::common::threads_context(2);
    let mut h = Harness::<(u64, u64)>::new(&sc, 4);
    let spec = StateSpec::function(
        |_k: &u64, v: Option<u64>, s: &mut spate_core::stream::State<u64>| {
            if let Some(v) = v {
                s.update(s.get().copied().unwrap_or(0) + v);
            }
        },
    )
    .timeout(secs(3));
    let stream = h.input.map_with_state(spec).unwrap();
    let _ = h.collect(&stream.mapped().count());
    let windowed = h.input.map(|(k, _)| (k % 100, 1_u64));
    let _ = h.collect(
        &windowed
            .reduce_by_key_and_window_inv(|a, b| a + b, |a, b| a - b, Window::new(secs(5), secs(1)))
            .unwrap(),
    );
    // 200 batches of 500 fresh keys each: without timeouts the state would reach 100 000.
    let batches: Vec<Vec<(u64, u64)>> = (0..200_u64)
        .map(|b| (0..500).map(|i| (b * 500 + i, 1)).collect())
        .collect();
    h.run(batches);
    let history = h.ssc.batch_history();
    let stats = sc.stats();
    h.stop();
    let max_state = history.iter().map(|b| b.state_size).max().unwrap();
    // Keys live for up to 4 batches (seen at b, time out at the first t with b < t - 3),
    // plus 100 window keys.
    assert!(max_state <= 4 * 500 + 100, "state grew to {max_state}");
    assert!(history.last().unwrap().state_size >= 500);
    assert!(
        stats.cached_partitions < 200,
        "remembered batches are released: {} cached partitions",
        stats.cached_partitions
    );
}

#[test]
fn a_failing_batch_stops_the_context_with_its_error() {
    let sc = SpateContext::sequential(2);
    sc.set_max_task_attempts(2).unwrap();
    let mut h = Harness::<i32>::new(&sc, 2);
    let totals =
        h.input
            .map(|x| (x % 2, x))
            .update_state_by_key(|new: &[i32], old: Option<i32>| {
                Some(old.unwrap_or(0) + new.iter().sum::<i32>())
            });
    let out = h.collect(&totals.map(|(k, v)| {
        if v > 100 {
            panic!("poison value {v}");
        }
        (k, v)
    }));
    h.run(vec![vec![1, 2, 3]]);
    h.queue.push(vec![1000]);
    h.clock.advance(secs(1));
    let err = h.ssc.await_batch(BatchTime(2000)).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("batch at 2000") && text.contains("poison value"),
        "{text}"
    );
    let again = h.ssc.await_termination().unwrap_err();
    assert!(again.to_string().contains("poison value"), "{again}");
    let results = out.lock().unwrap();
    assert_eq!(results.len(), 1, "the failed batch produced no output");
    assert_eq!(sorted(&results[0].1), vec![(0, 2), (1, 4)]);
}

/// A context on a fast-forward clock with 1 s batches, fed by a closed queue holding one
/// batch of `0..n` per entry of `sizes`.
fn fast_forward_queue(
    sc: &SpateContext,
    sizes: &[u32],
) -> (StreamingContext, spate_core::DStream<u32>) {
    let ssc = StreamingContext::builder(sc)
        .batch_interval(secs(1))
        .clock(spate_core::stream::FastForwardClock::new())
        .build()
        .unwrap();
    let (queue, input) = ssc.queue_stream::<u32>(true).unwrap();
    for &n in sizes {
        queue.push((0..n).collect());
    }
    queue.close();
    (ssc, input)
}

#[test]
fn listeners_see_every_batch_and_exhausted_sources_stop_the_context() {
    use spate_core::stream::{BatchInfo, StreamingListener};
    use std::sync::{Arc, Mutex};
    struct Recorder(Arc<Mutex<Vec<BatchInfo>>>);
    impl StreamingListener for Recorder {
        fn on_batch_completed(&self, info: &BatchInfo) {
            self.0.lock().unwrap().push(info.clone());
        }
    }
    let sc = SpateContext::sequential(2);
    let (ssc, input) = fast_forward_queue(&sc, &[3, 0, 5]);
    let seen = Arc::new(Mutex::new(Vec::new()));
    ssc.add_listener(Recorder(Arc::clone(&seen)));
    input.count().foreach_rdd(|_, _| Ok(())).unwrap();
    ssc.start().unwrap();
    assert!(ssc.await_termination_or_timeout(secs(30)).unwrap());
    let seen = seen.lock().unwrap();
    let records: Vec<u64> = seen.iter().map(|b| b.records_in).collect();
    assert_eq!(records, vec![3, 0, 5]);
    assert_eq!(
        seen.iter().map(|b| b.batch_time.0).collect::<Vec<_>>(),
        vec![1000, 2000, 3000]
    );
    assert!(
        seen.iter()
            .all(|b| b.total_delay_ms == b.scheduling_delay_ms + b.processing_time_ms)
    );
    assert!((seen[2].input_rate - 5.0).abs() < 1e-12);
    assert!(matches!(ssc.start(), Err(Error::Lifecycle { .. })));
}

#[test]
fn a_panic_in_an_output_operation_or_a_listener_stops_the_context_with_an_error() {
    use spate_core::stream::{BatchInfo, StreamingListener};
    struct Fussy;
    impl StreamingListener for Fussy {
        fn on_batch_completed(&self, info: &BatchInfo) {
            assert!(info.records_in < 4, "listener refuses {}", info.records_in);
        }
    }
    for in_listener in [false, true] {
        let sc = SpateContext::sequential(2);
        let (ssc, input) = fast_forward_queue(&sc, &[3, 5, 2]);
        if in_listener {
            ssc.add_listener(Fussy);
            input.count().foreach_rdd(|_, _| Ok(())).unwrap();
        } else {
            // Like `println!` into a closed pipe: a panic on the driver, not in a task.
            input
                .foreach_rdd(|rdd, _| {
                    let n = rdd.count()?;
                    assert!(n < 4, "output refuses {n}");
                    Ok(())
                })
                .unwrap();
        }
        ssc.start().unwrap();
        // Before the fix the batch thread died and this waited forever.
        let err = match ssc.await_termination_or_timeout(secs(30)) {
            Err(e) => e,
            Ok(ended) => panic!("no error (ended: {ended})"),
        };
        let text = err.to_string();
        let want = if in_listener {
            "listener refuses 5"
        } else {
            "output refuses 5"
        };
        assert!(
            text.contains("batch at 2000") && text.contains(want),
            "{text}"
        );
        assert_eq!(
            ssc.batch_history().len(),
            1,
            "only the first batch completed: {text}"
        );
    }
}

#[test]
fn stop_after_runs_exactly_up_to_the_given_batch() {
    // On a fast-forward clock the next batch is due at once: stopping from outside after
    // awaiting batch n let batch n + 1 slip in; `stop_after` is checked before each batch.
    for last in [1_u64, 2, 4] {
        let sc = SpateContext::sequential(2);
        let (ssc, input) = fast_forward_queue(&sc, &[1, 2, 3, 4, 5, 6]);
        input.count().foreach_rdd(|_, _| Ok(())).unwrap();
        ssc.stop_after(BatchTime(last * 1000));
        ssc.start().unwrap();
        assert!(ssc.await_termination_or_timeout(secs(30)).unwrap());
        let times: Vec<u64> = ssc.batch_history().iter().map(|b| b.batch_time.0).collect();
        assert_eq!(times, (1..=last).map(|k| k * 1000).collect::<Vec<_>>());
    }
}

#[test]
fn a_panic_outside_a_batch_still_stops_the_context() {
    use spate_core::stream::{Source, SourceBatch};
    // A source whose `is_exhausted` panics: the generator asks it between batches, outside
    // the guard around a batch. The context must still end, not leave waiters hanging.
    struct Exploding(u32);
    impl Source for Exploding {
        type Item = u32;
        fn name(&self) -> String {
            "exploding".into()
        }
        fn next_batch(
            &mut self,
            _: BatchTime,
            _: Option<u64>,
        ) -> spate_core::Result<SourceBatch<u32>> {
            self.0 += 1;
            Ok(SourceBatch::new(vec![self.0]))
        }
        fn is_exhausted(&self) -> bool {
            assert!(self.0 < 2, "is_exhausted exploded");
            false
        }
    }
    let sc = SpateContext::sequential(1);
    let ssc = StreamingContext::builder(&sc)
        .batch_interval(secs(1))
        .clock(spate_core::stream::FastForwardClock::new())
        .build()
        .unwrap();
    ssc.source_stream(Exploding(0))
        .unwrap()
        .count()
        .foreach_rdd(|_, _| Ok(()))
        .unwrap();
    ssc.start().unwrap();
    let ended = ssc.await_termination_or_timeout(secs(30));
    assert!(
        matches!(&ended, Err(e) if e.to_string().contains("panicked")),
        "{ended:?}"
    );
}

#[test]
fn graceful_stop_drains_queued_data() {
    let sc = SpateContext::sequential(2);
    let mut h = Harness::<u32>::new(&sc, 2);
    let seen = h.collect(&h.input.count());
    h.run(vec![vec![1, 2]]);
    h.queue.push(vec![3, 4, 5]);
    // No clock advance: a graceful stop still processes the queued batch.
    h.ssc.stop(true).unwrap();
    h.ssc.await_termination().unwrap();
    let seen = seen.lock().unwrap();
    assert_eq!(
        seen.iter().map(|(_, c)| c[0]).collect::<Vec<_>>(),
        vec![2, 3]
    );
}

#[test]
fn a_window_pane_is_computed_once_per_partition() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let sc = SpateContext::sequential(2);
    let mut h = Harness::<u64>::new(&sc, 2);
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&calls);
    let panes = h.input.map_partitions_ref(move |part: &[u64]| {
        counter.fetch_add(1, Ordering::Relaxed);
        part.to_vec()
    });
    // The window reads each pane while it computes, and freezes it at the end of the
    // batch: both must use the same computation.
    let out = h.collect(&panes.window(Window::new(secs(4), secs(2))).unwrap());
    h.run((0..8).map(|b| vec![b, b + 100]).collect());
    h.stop();
    assert_eq!(
        calls.load(Ordering::Relaxed),
        8 * 2,
        "8 batches of 2 partitions"
    );
    let out = out.lock().unwrap();
    let last = &out.last().unwrap().1;
    assert_eq!(sorted(last), vec![4, 5, 6, 7, 104, 105, 106, 107]);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Incremental windows equal recomputation for random input, window and partitioning.
    #[test]
    fn incremental_window_equals_recomputation(
        batches in proptest::collection::vec(proptest::collection::vec((0_u8..12, -5_i64..20), 0..15), 1..14),
        length in 1_u64..6,
        slide in 1_u64..4,
        parts in 1_usize..6,
    ) {
        let sc = crate::common::threads_context(2);
        let mut h = Harness::<(u8, i64)>::new(&sc, parts);
        let w = Window::new(secs(length * slide), secs(slide));
        let inc = h.collect(&h.input.reduce_by_key_and_window_inv(|a, b| a + b, |a, b| a - b, w).unwrap());
        let full = h.collect(&h.input.reduce_by_key_and_window(|a, b| a + b, w).unwrap());
        h.run(batches.clone());
        h.stop();
        let inc = inc.lock().unwrap();
        let full = full.lock().unwrap();
        prop_assert_eq!(inc.len(), full.len());
        for ((t1, a), (t2, b)) in inc.iter().zip(full.iter()) {
            prop_assert_eq!(t1, t2);
            let end = (t1.0 / 1000) as usize;
            let mut want: BTreeMap<u8, i64> = BTreeMap::new();
            for (k, v) in window_batches(&batches, end, (length * slide) as usize) {
                *want.entry(k).or_default() += v;
            }
            let want: Vec<(u8, i64)> = want.into_iter().collect();
            prop_assert_eq!(sorted(a), want.clone());
            prop_assert_eq!(sorted(b), want);
        }
    }
}
