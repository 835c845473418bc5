//! Exact triangles against brute force; sampled triangles against the exact count.

use crate::common::{Reference, StreamShape, dataset, random_stream};
use proptest::prelude::*;
use rayon::prelude::*;
use spate_graph::{EdgeEvent, EdgeListFormat, EdgeOp, GraphError, SampledTriangles, TriangleCount};
use std::collections::HashSet;

#[test]
fn exact_equals_brute_force_after_every_batch() {
    let shape = StreamShape {
        nodes: 40,
        batches: 50,
        batch: 20,
        delete: 0.35,
        weighted: true,
    };
    let mut t = TriangleCount::params().build().expect("valid");
    let mut reference = Reference::default();
    for (i, batch) in random_stream(21, shape).iter().enumerate() {
        let report = t.update(batch);
        reference.apply(batch);
        assert_eq!(t.count(), reference.triangles(), "batch {i}");
        assert_eq!(report.triangles, t.count() as f64);
    }
    // Local counts sum to three per triangle.
    let adj = reference.undirected();
    let local: u64 = adj.keys().map(|&v| t.local(v).expect("present")).sum();
    assert_eq!(local, 3 * t.count());
}

#[test]
fn windowed_exact_counts() {
    let w = 5;
    let shape = StreamShape {
        nodes: 30,
        batches: 30,
        batch: 15,
        delete: 0.0,
        weighted: false,
    };
    let batches = random_stream(22, shape);
    let mut t = TriangleCount::params()
        .window_batches(w)
        .build()
        .expect("valid");
    for (i, batch) in batches.iter().enumerate() {
        t.update(batch);
        let mut reference = Reference::default();
        for b in &batches[i.saturating_sub(w - 1)..=i] {
            reference.apply(b);
        }
        assert_eq!(t.count(), reference.triangles(), "batch {i}");
    }
}

#[test]
fn clustering_and_top_k() {
    let mut t = TriangleCount::params().build().expect("valid");
    t.update(&[
        EdgeEvent::insert(1, 2),
        EdgeEvent::insert(2, 3),
        EdgeEvent::insert(3, 1),
        EdgeEvent::insert(1, 4),
    ]);
    assert_eq!(t.clustering(1), Some(1.0 / 3.0));
    assert_eq!(t.clustering(2), Some(1.0));
    assert_eq!(t.clustering(4), Some(0.0));
    assert_eq!(t.top_k(1), vec![(1, 1)]);
}

/// The simple undirected edge stream of bitcoin-otc in time order (direction, duplicates and
/// self-loops removed), as [`SampledTriangles`] requires.
fn simple_stream(name: &str) -> Vec<EdgeEvent> {
    let list = EdgeListFormat::new()
        .read_path(dataset(name))
        .expect("parses");
    let mut seen = HashSet::new();
    list.edges
        .iter()
        .filter(|e| e.src != e.dst && seen.insert((e.src.min(e.dst), e.src.max(e.dst))))
        .map(|e| EdgeEvent::insert(e.src, e.dst))
        .collect()
}

#[test]
fn sampled_mean_relative_error_at_a_ten_percent_budget() {
    let stream = simple_stream("soc-Epinions1.txt.gz");
    let mut exact = TriangleCount::params().build().expect("valid");
    exact.update(&stream);
    let truth = exact.count() as f64;
    assert_eq!(truth, 1_624_481.0); // networkx.triangles on the same graph
    let budget = stream.len() / 10;
    let estimates: Vec<f64> = (0..10u64)
        .into_par_iter()
        .map(|seed| {
            let mut s = SampledTriangles::params(budget)
                .seed(seed)
                .build()
                .expect("valid");
            for batch in stream.chunks(10_000) {
                s.update(batch);
            }
            assert_eq!(s.sample_size(), budget);
            s.estimate()
        })
        .collect();
    let mean_rel = estimates
        .iter()
        .map(|e| (e - truth).abs() / truth)
        .sum::<f64>()
        / 10.0;
    let mean = estimates.iter().sum::<f64>() / 10.0;
    eprintln!(
        "sampled triangles: mean |rel err| {mean_rel:.4}, rel err of mean {:.4}",
        (mean - truth).abs() / truth
    );
    assert!(mean_rel <= 0.05, "mean relative error {mean_rel}");
}

#[test]
fn sampled_with_deletions_tracks_the_exact_count() {
    // Fully dynamic: a sliding window over bitcoin-otc's simple stream, so edges expire.
    let stream = simple_stream("soc-sign-bitcoinotc.csv.gz");
    let batches: Vec<&[EdgeEvent]> = stream.chunks(500).collect();
    let w = 20;
    let mut exact = TriangleCount::params()
        .window_batches(w)
        .build()
        .expect("valid");
    let mut sums = vec![0.0; batches.len()];
    let seeds = 10;
    for seed in 0..seeds {
        let mut s = SampledTriangles::params(2_000)
            .seed(seed)
            .window_batches(w)
            .build()
            .expect("valid");
        for (i, b) in batches.iter().enumerate() {
            sums[i] += s.update(b).triangles;
        }
    }
    let mut checked = 0;
    for (i, b) in batches.iter().enumerate() {
        exact.update(b);
        let truth = exact.count() as f64;
        if i >= w && truth > 2000.0 {
            let mean = sums[i] / seeds as f64;
            assert!(
                (mean - truth).abs() / truth < 0.15,
                "batch {i}: mean {mean} vs {truth}"
            );
            checked += 1;
        }
    }
    assert!(checked > 10);
}

#[test]
fn sampled_is_exact_within_budget_and_checkpoints() {
    let shape = StreamShape {
        nodes: 25,
        batches: 10,
        batch: 20,
        delete: 0.0,
        weighted: false,
    };
    let mut seen = HashSet::new();
    let events: Vec<EdgeEvent> = random_stream(23, shape)
        .concat()
        .into_iter()
        .filter(|e| e.op == EdgeOp::Insert && e.src != e.dst)
        .filter(|e| seen.insert((e.src.min(e.dst), e.src.max(e.dst))))
        .collect();
    let mut s = SampledTriangles::params(10_000)
        .seed(1)
        .build()
        .expect("valid");
    let mut t = TriangleCount::params().build().expect("valid");
    s.update(&events[..100]);
    let mut restored: SampledTriangles =
        bincode::deserialize(&bincode::serialize(&s).expect("ser")).expect("de");
    s.update(&events[100..]);
    restored.update(&events[100..]);
    t.update(&events);
    assert_eq!(s.estimate(), t.count() as f64);
    assert_eq!(restored.estimate(), s.estimate());
    assert!(matches!(
        SampledTriangles::params(1).build(),
        Err(GraphError::MemoryBudget { edges: 1, min: 2 })
    ));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    /// Exact counts do not depend on batching and equal brute force.
    #[test]
    fn exact_any_batching(seed in 0u64..1_000_000, nodes in 3u64..25, split in 1usize..50) {
        let shape = StreamShape { nodes, batches: 1, batch: 150, delete: 0.3, weighted: false };
        let events = random_stream(seed, shape).concat();
        let mut t = TriangleCount::params().build().expect("valid");
        for chunk in events.chunks(split) {
            t.update(chunk);
        }
        let mut reference = Reference::default();
        reference.apply(&events);
        prop_assert_eq!(t.count(), reference.triangles());
    }
}
