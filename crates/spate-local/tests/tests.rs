//! The embedded runtime must give exactly the reference runtime's results, batch by batch,
//! on 1, 2 and 7 partitions: same records, same order.

use proptest::prelude::*;
use spate_core::stream::{FastForwardClock, StateSpec, StreamingContext};
use spate_core::{BatchTime, SpateContext, Window};
use spate_local::RayonRuntime;
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn contexts() -> [SpateContext; 2] {
    [
        SpateContext::sequential(2),
        SpateContext::builder(RayonRuntime::new(2).unwrap())
            .default_parallelism(2)
            .build()
            .unwrap(),
    ]
}

/// An RDD program exercising every kind of stage.
fn rdd_program(sc: &SpateContext, data: &[(u16, i32)], parts: usize) -> Vec<String> {
    let rdd = sc.parallelize(data.to_vec(), parts);
    let reduced = rdd.reduce_by_key(|a, b| a.wrapping_add(b));
    let grouped = rdd.group_by_key().map_values(|v| v.len());
    let joined = reduced.join(&grouped);
    let outer = rdd
        .filter(|(k, _)| k % 3 == 0)
        .full_outer_join(&rdd.filter(|(k, _)| k % 2 == 0).map_values(|v| v * 2));
    let sorted = rdd.sort_by_key(false).unwrap();
    let mut out = vec![
        format!("{:?}", reduced.collect().unwrap()),
        format!("{:?}", joined.collect().unwrap()),
        format!("{:?}", outer.collect().unwrap()),
        format!("{:?}", sorted.collect().unwrap()),
        format!("{:?}", rdd.repartition(5).collect().unwrap()),
        format!("{:?}", rdd.map(|(k, _)| k).distinct().collect().unwrap()),
        format!(
            "{:?}",
            rdd.sample(false, 0.5, 3).unwrap().collect().unwrap()
        ),
        format!("{:?}", rdd.count().unwrap()),
    ];
    out.push(format!("{:?}", rdd.take(7).unwrap()));
    out
}

/// A streaming program exercising windows and state; returns every output per batch.
fn stream_program(
    sc: &SpateContext,
    batches: &[Vec<(u16, i32)>],
    parts: usize,
) -> Vec<(u64, String)> {
    let ssc = StreamingContext::builder(sc)
        .batch_interval(Duration::from_secs(1))
        .clock(FastForwardClock::new())
        .partitions(parts)
        .build()
        .unwrap();
    let (queue, input) = ssc.queue_stream::<(u16, i32)>(true).unwrap();
    for b in batches {
        queue.push(b.clone());
    }
    queue.close();
    let out = Arc::new(Mutex::new(Vec::new()));
    let record = |name: &'static str| {
        let out = Arc::clone(&out);
        move |rdd: spate_core::Rdd<String>, t: BatchTime| {
            let lines = rdd.collect()?;
            out.lock()
                .unwrap()
                .push((t.0, format!("{name}: {lines:?}")));
            Ok(())
        }
    };
    let w = Window::new(Duration::from_secs(3), Duration::from_secs(1));
    input
        .reduce_by_key_and_window_inv(|a, b| a.wrapping_add(b), |a, b| a.wrapping_sub(b), w)
        .unwrap()
        .map(|r| format!("{r:?}"))
        .foreach_rdd(record("window"))
        .unwrap();
    input
        .update_state_by_key(|v: &[i32], s: Option<i64>| Some(s.unwrap_or(0) + v.len() as i64))
        .map(|r| format!("{r:?}"))
        .foreach_rdd(record("state"))
        .unwrap();
    input
        .map_with_state(
            StateSpec::function(
                |k: &u16, v: Option<i32>, s: &mut spate_core::stream::State<i32>| {
                    let n = s.get().copied().unwrap_or(0).wrapping_add(v.unwrap_or(0));
                    if !s.is_timing_out() {
                        s.update(n);
                    }
                    (*k, n)
                },
            )
            .timeout(Duration::from_secs(2)),
        )
        .unwrap()
        .mapped()
        .map(|r| format!("{r:?}"))
        .foreach_rdd(record("mapped"))
        .unwrap();
    input
        .count_by_value_and_window(Window::new(Duration::from_secs(2), Duration::from_secs(2)))
        .unwrap()
        .map(|r| format!("{r:?}"))
        .foreach_rdd(record("values"))
        .unwrap();
    ssc.start().unwrap();
    ssc.await_termination().unwrap();
    out.lock().unwrap().clone()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]

    #[test]
    fn rayon_matches_the_reference_exactly(
        data in proptest::collection::vec((0_u16..40, -1000_i32..1000), 0..300),
    ) {
        for parts in [1, 2, 7] {
            let [reference, rayon] = contexts();
            prop_assert_eq!(rdd_program(&reference, &data, parts), rdd_program(&rayon, &data, parts));
        }
    }

    #[test]
    fn rayon_streams_match_the_reference_batch_by_batch(
        batches in proptest::collection::vec(proptest::collection::vec((0_u16..15, -50_i32..50), 0..30), 1..8),
    ) {
        for parts in [1, 2, 7] {
            let [reference, rayon] = contexts();
            let want = stream_program(&reference, &batches, parts);
            prop_assert!(want.len() >= batches.len() * 3);
            prop_assert_eq!(want, stream_program(&rayon, &batches, parts));
        }
    }
}

#[test]
fn tasks_really_run_on_several_threads() {
    let sc = SpateContext::builder(RayonRuntime::new(2).unwrap())
        .default_parallelism(2)
        .build()
        .unwrap();
    let barrier = Arc::new(std::sync::Barrier::new(2));
    // Two partitions that each wait for the other: this only finishes if they run at once.
    let b = Arc::clone(&barrier);
    let names = sc
        .parallelize(vec![0, 1], 2)
        .map(move |x: i32| {
            b.wait();
            (x, std::thread::current().name().unwrap_or("").to_string())
        })
        .collect()
        .unwrap();
    assert!(
        names.iter().all(|(_, n)| n.starts_with("spate-worker-")),
        "{names:?}"
    );
}
