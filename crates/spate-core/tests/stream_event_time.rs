//! Event-time windows and joins against brute-force computations over the whole input,
//! with shuffled and delayed arrival.

use crate::common::sorted;
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use spate_core::stream::{
    EmitMode, EventWindows, FastForwardClock, JoinKind, LateData, StreamingContext, WindowResult,
};
use spate_core::{DStream, Data, Window};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// An event: (key, (event time ms, value)).
type Event = (u8, (i64, i64));

fn ms(x: u64) -> Duration {
    Duration::from_millis(x)
}

/// `n` events with increasing event times, delivered with a random delay of up to
/// `max_delay` ms (so out of order), in batches of arrival time `batch_ms`.
fn arrival_batches(
    seed: u64,
    n: usize,
    max_delay: i64,
    batch_ms: i64,
) -> (Vec<Event>, Vec<Vec<Event>>) {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut events = Vec::with_capacity(n);
    let mut t = 0_i64;
    for _ in 0..n {
        t += rng.random_range(0..40);
        events.push((
            rng.random_range(0..5_u8),
            (t, rng.random_range(-10..100_i64)),
        ));
    }
    let mut arrivals: Vec<(i64, Event)> = events
        .iter()
        .map(|e| (e.1.0 + rng.random_range(0..=max_delay), *e))
        .collect();
    arrivals.sort_by_key(|(a, _)| *a);
    let mut batches: Vec<Vec<Event>> = Vec::new();
    for (a, e) in arrivals {
        let b = (a / batch_ms) as usize;
        while batches.len() <= b {
            batches.push(Vec::new());
        }
        batches[b].push(e);
    }
    (events, batches)
}

/// Runs `build` over the batches on a fast-forward clock until the input is exhausted and
/// returns what the collected streams saw.
fn run<T: Data, U: Data>(
    batches: &[Vec<T>],
    build: impl FnOnce(&DStream<T>) -> Vec<DStream<U>>,
) -> (Vec<Vec<U>>, Vec<spate_core::stream::BatchInfo>) {
    let sc = crate::common::threads_context(2);
    let ssc = StreamingContext::builder(&sc)
        .batch_interval(Duration::from_secs(1))
        .clock(FastForwardClock::new())
        .partitions(3)
        .build()
        .unwrap();
    let (queue, input) = ssc.queue_stream::<T>(true).unwrap();
    for b in batches {
        queue.push(b.clone());
    }
    queue.close();
    let outputs = build(&input);
    let collected: Vec<Arc<Mutex<Vec<U>>>> = outputs
        .iter()
        .map(|s| {
            let sink = Arc::new(Mutex::new(Vec::new()));
            let c = Arc::clone(&sink);
            s.foreach_rdd(move |rdd, _| {
                c.lock().unwrap().extend(rdd.collect()?);
                Ok(())
            })
            .unwrap();
            sink
        })
        .collect();
    ssc.start().unwrap();
    ssc.await_termination().unwrap();
    (
        collected
            .iter()
            .map(|c| c.lock().unwrap().clone())
            .collect(),
        ssc.batch_history(),
    )
}

/// Window sums computed directly from all events.
fn brute_windows(events: &[Event], windows: EventWindows) -> BTreeMap<(u8, i64, i64), (i64, u64)> {
    let mut out: BTreeMap<(u8, i64, i64), (i64, u64)> = BTreeMap::new();
    match windows {
        EventWindows::Session { gap_ms } => {
            let mut by_key: BTreeMap<u8, Vec<(i64, i64)>> = BTreeMap::new();
            for (k, (t, v)) in events {
                by_key.entry(*k).or_default().push((*t, *v));
            }
            for (k, mut evs) in by_key {
                evs.sort();
                let mut i = 0;
                while i < evs.len() {
                    let start = evs[i].0;
                    let mut last = start;
                    let (mut sum, mut n) = (0, 0);
                    while i < evs.len() && evs[i].0 < last + gap_ms {
                        last = evs[i].0;
                        sum += evs[i].1;
                        n += 1;
                        i += 1;
                    }
                    out.insert((k, start, last + gap_ms), (sum, n));
                }
            }
        }
        _ => {
            for (k, (t, v)) in events {
                for (s, e) in windows.assign(*t) {
                    let slot = out.entry((*k, s, e)).or_default();
                    slot.0 += v;
                    slot.1 += 1;
                }
            }
        }
    }
    out
}

fn as_map(results: &[WindowResult<u8, (i64, u64)>]) -> BTreeMap<(u8, i64, i64), (i64, u64)> {
    let mut m = BTreeMap::new();
    for r in results.iter().filter(|r| r.is_final) {
        assert!(
            m.insert((r.key, r.start, r.end), r.value).is_none(),
            "window emitted twice as final: {r:?}"
        );
    }
    m
}

fn sum_count(
    stream: &DStream<Event>,
    windows: EventWindows,
    lateness: u64,
    mode: EmitMode,
    late: LateData,
) -> spate_core::stream::EventWindowed<u8, (i64, u64), Event> {
    stream
        .with_event_time(|(_, (t, _))| *t, ms(lateness))
        .unwrap()
        .aggregate_by_key_and_window(
            windows,
            |(_, v)| (v, 1_u64),
            |acc: &mut (i64, u64), (_, v)| {
                acc.0 += v;
                acc.1 += 1;
            },
            |acc: &mut (i64, u64), o| {
                acc.0 += o.0;
                acc.1 += o.1;
            },
            mode,
            late,
        )
        .unwrap()
}

#[test]
fn shuffled_input_within_lateness_equals_the_sorted_computation() {
    for (seed, windows) in [
        (1, EventWindows::tumbling(ms(500)).unwrap()),
        (2, EventWindows::sliding(ms(600), ms(200)).unwrap()),
        (3, EventWindows::session(ms(90)).unwrap()),
        (4, EventWindows::tumbling(ms(1000)).unwrap()),
    ] {
        // Delays up to 700 ms; lateness 800 ms leaves no record late.
        let (events, batches) = arrival_batches(seed, 600, 700, 1000);
        let want = brute_windows(&events, windows);
        let (out, history) = run(&batches, |s| {
            let w = sum_count(s, windows, 800, EmitMode::Final, LateData::SideOutput);
            vec![w.results().map(Some), w.late().map(|_| None)]
        });
        let results: Vec<_> = out[0].iter().flatten().cloned().collect();
        assert!(out[1].is_empty(), "no record may be late");
        assert_eq!(as_map(&results), want, "{windows:?}");
        assert!(history.iter().all(|b| b.records_late == 0));
        assert_eq!(
            history.last().unwrap().state_size,
            0,
            "all window state freed"
        );
        // Windows are emitted progressively, not only at the end.
        let per_batch_open: Vec<u64> = history.iter().map(|b| b.state_size).collect();
        let max_open = *per_batch_open.iter().max().unwrap();
        assert!(
            max_open < want.len() as u64 / 2,
            "state must stay bounded: {per_batch_open:?}"
        );
    }
}

#[test]
fn late_records_are_routed_or_counted_never_lost() {
    let windows = EventWindows::tumbling(ms(400)).unwrap();
    // Delays up to 3 s with only 300 ms lateness: many records are late.
    let (events, batches) = arrival_batches(9, 800, 3000, 1000);
    // The reference: the watermark for batch b is max event time of batches < b minus
    // the lateness; a record of batch b is late iff its time is below it.
    let mut max_seen = i64::MIN;
    let mut want_late = Vec::new();
    let mut on_time = Vec::new();
    for b in &batches {
        let w = max_seen.saturating_sub(300);
        for e in b {
            if e.1.0 < w {
                want_late.push(*e);
            } else {
                on_time.push(*e);
            }
        }
        max_seen = b.iter().map(|e| e.1.0).fold(max_seen, i64::max);
    }
    assert!(
        want_late.len() > 50,
        "the test needs late data: {}",
        want_late.len()
    );
    let (out, history) = run(&batches, |s| {
        let w = sum_count(s, windows, 300, EmitMode::Final, LateData::SideOutput);
        vec![
            w.results().map(|r| (Some(r), None)),
            w.late().map(|e| (None, Some(e))),
        ]
    });
    let results: Vec<_> = out[0].iter().filter_map(|(r, _)| r.clone()).collect();
    let late: Vec<Event> = out[1].iter().filter_map(|(_, e)| *e).collect();
    assert_eq!(sorted(&late), sorted(&want_late));
    assert_eq!(as_map(&results), brute_windows(&on_time, windows));
    let counted: u64 = history.iter().map(|b| b.records_late).sum();
    assert_eq!(counted, want_late.len() as u64);
    let in_windows: u64 = results.iter().map(|r| r.value.1).sum();
    assert_eq!(
        in_windows + late.len() as u64,
        events.len() as u64,
        "nothing lost"
    );

    // Dropping instead of routing: same windows, nothing on the late stream, still counted.
    let (out, history) = run(&batches, |s| {
        let w = sum_count(s, windows, 300, EmitMode::Final, LateData::Drop);
        vec![w.results().map(Some), w.late().map(|_| None)]
    });
    assert!(out[1].is_empty());
    let results: Vec<_> = out[0].iter().flatten().cloned().collect();
    assert_eq!(as_map(&results), brute_windows(&on_time, windows));
    assert_eq!(
        history.iter().map(|b| b.records_late).sum::<u64>(),
        want_late.len() as u64
    );
}

#[test]
fn update_mode_refines_then_finalizes() {
    let windows = EventWindows::tumbling(ms(2000)).unwrap();
    let (events, batches) = arrival_batches(5, 300, 500, 1000);
    let (out, _) = run(&batches, |s| {
        vec![sum_count(s, windows, 600, EmitMode::Update, LateData::Drop).results()]
    });
    let finals = as_map(&out[0]);
    assert_eq!(finals, brute_windows(&events, windows));
    let provisional = out[0].iter().filter(|r| !r.is_final).count();
    assert!(
        provisional > finals.len(),
        "update mode emits provisional results"
    );
    // Each provisional result is a prefix: its count never exceeds the final count.
    for r in out[0].iter().filter(|r| !r.is_final) {
        assert!(r.value.1 <= finals[&(r.key, r.start, r.end)].1);
    }
}

type Side = (u8, (i64, u32));

fn brute_interval_join(
    left: &[Side],
    right: &[Side],
    lower: i64,
    upper: i64,
    kind: JoinKind,
) -> Vec<(u8, (Option<(i64, u32)>, Option<(i64, u32)>))> {
    let mut out = Vec::new();
    let mut right_matched = vec![false; right.len()];
    for (k, a) in left {
        let mut matched = false;
        for (j, (k2, b)) in right.iter().enumerate() {
            if k == k2 && b.0 - lower <= a.0 && a.0 <= b.0 + upper {
                out.push((*k, (Some(*a), Some(*b))));
                matched = true;
                right_matched[j] = true;
            }
        }
        if !matched && matches!(kind, JoinKind::LeftOuter | JoinKind::FullOuter) {
            out.push((*k, (Some(*a), None)));
        }
    }
    if matches!(kind, JoinKind::RightOuter | JoinKind::FullOuter) {
        for (j, (k, b)) in right.iter().enumerate() {
            if !right_matched[j] {
                out.push((*k, (None, Some(*b))));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn interval_joins_equal_brute_force_for_every_kind() {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(77);
    let mut events: Vec<(bool, Side)> = Vec::new();
    let mut t = 0_i64;
    for i in 0..700_u32 {
        t += rng.random_range(0..30);
        events.push((rng.random_bool(0.5), (rng.random_range(0..6_u8), (t, i))));
    }
    // Arrival with up to 400 ms of disorder; lateness 500 ms: nothing late.
    let mut arrivals: Vec<(i64, (bool, Side))> = events
        .iter()
        .map(|e| (e.1.1.0 + rng.random_range(0..=400), *e))
        .collect();
    arrivals.sort_by_key(|(a, _)| *a);
    let mut batches: Vec<Vec<(bool, Side)>> = Vec::new();
    for (a, e) in arrivals {
        let b = (a / 1000) as usize;
        while batches.len() <= b {
            batches.push(Vec::new());
        }
        batches[b].push(e);
    }
    let left: Vec<Side> = events.iter().filter(|e| e.0).map(|e| e.1).collect();
    let right: Vec<Side> = events.iter().filter(|e| !e.0).map(|e| e.1).collect();
    for kind in [
        JoinKind::Inner,
        JoinKind::LeftOuter,
        JoinKind::RightOuter,
        JoinKind::FullOuter,
    ] {
        let (out, history) = run(&batches, |s| {
            let l = s
                .filter(|e| e.0)
                .map(|e| e.1)
                .with_event_time(|(_, (t, _))| *t, ms(500))
                .unwrap();
            let r = s
                .filter(|e| !e.0)
                .map(|e| e.1)
                .with_event_time(|(_, (t, _))| *t, ms(500))
                .unwrap();
            let j = l.interval_join(&r, ms(50), ms(120), kind).unwrap();
            vec![
                j.rows().map(Some),
                j.late_left().map(|_| None),
                j.late_right().map(|_| None),
            ]
        });
        assert!(out[1].is_empty() && out[2].is_empty());
        let rows: Vec<_> = out[0].iter().flatten().cloned().collect();
        let want = brute_interval_join(&left, &right, 50, 120, kind);
        assert!(want.len() > 100);
        assert_eq!(sorted(&rows), want, "{kind:?}");
        let peak = history.iter().map(|b| b.state_size).max().unwrap();
        assert!(
            peak < (left.len() + right.len()) as u64 / 3,
            "join state is bounded: {peak}"
        );
        assert_eq!(history.last().unwrap().state_size, 0);
    }
}

#[test]
fn windowed_stream_joins_equal_brute_force() {
    let batches: Vec<Vec<(bool, (u8, u32))>> = (0..9_u32)
        .map(|b| {
            (0..6)
                .map(|i| ((b + i) % 3 == 0, (((b * 7 + i * 3) % 5) as u8, b * 10 + i)))
                .collect()
        })
        .collect();
    let w = Window::new(Duration::from_secs(3), Duration::from_secs(1));
    let (out, _) = run(&batches, |s| {
        let l = s.filter(|e| e.0).map(|e| e.1).window(w).unwrap();
        let r = s.filter(|e| !e.0).map(|e| e.1).window(w).unwrap();
        vec![
            l.join(&r)
                .unwrap()
                .map(|(k, (a, b))| (0_u8, k, Some(a), Some(b))),
            l.left_outer_join(&r)
                .unwrap()
                .map(|(k, (a, b))| (1, k, Some(a), b)),
            l.right_outer_join(&r)
                .unwrap()
                .map(|(k, (a, b))| (2, k, a, Some(b))),
            l.full_outer_join(&r)
                .unwrap()
                .map(|(k, (a, b))| (3, k, a, b)),
        ]
    });
    // Brute force over each window's content, concatenated over windows.
    let mut want: Vec<Vec<(u8, u8, Option<u32>, Option<u32>)>> = vec![Vec::new(); 4];
    for end in 1..=batches.len() {
        let content: Vec<(bool, (u8, u32))> = batches[end.saturating_sub(3)..end].concat();
        let l: Vec<(u8, u32)> = content.iter().filter(|e| e.0).map(|e| e.1).collect();
        let r: Vec<(u8, u32)> = content.iter().filter(|e| !e.0).map(|e| e.1).collect();
        let keys: BTreeSet<u8> = l.iter().chain(&r).map(|e| e.0).collect();
        for k in keys {
            let ls: Vec<u32> = l.iter().filter(|e| e.0 == k).map(|e| e.1).collect();
            let rs: Vec<u32> = r.iter().filter(|e| e.0 == k).map(|e| e.1).collect();
            for a in &ls {
                for b in &rs {
                    for (kind, rows) in want.iter_mut().enumerate() {
                        rows.push((kind as u8, k, Some(*a), Some(*b)));
                    }
                }
            }
            if rs.is_empty() {
                for a in &ls {
                    want[1].push((1, k, Some(*a), None));
                    want[3].push((3, k, Some(*a), None));
                }
            }
            if ls.is_empty() {
                for b in &rs {
                    want[2].push((2, k, None, Some(*b)));
                    want[3].push((3, k, None, Some(*b)));
                }
            }
        }
    }
    for (kind, (got, want)) in out.iter().zip(&want).enumerate() {
        assert!(!want.is_empty());
        assert_eq!(sorted(got), sorted(want), "join kind {kind}");
    }
}
