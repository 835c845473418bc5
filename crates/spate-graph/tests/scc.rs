//! Strongly connected components against mutual reachability recomputed from the reference
//! model after every batch.

use crate::common::{Reference, StreamShape, random_stream};
use proptest::prelude::*;
use spate_graph::{
    EdgeEvent, GraphError, NodeId, RepairMethod, SccReport, StronglyConnectedComponents,
    StronglyConnectedComponentsParams,
};
use std::collections::{BTreeMap, BTreeSet};

/// Components by mutual reachability (a search from every node: O(n · m)), each sorted, the
/// list sorted by smallest id.
pub(crate) fn reference_sccs(reference: &Reference) -> Vec<Vec<NodeId>> {
    let mut out: BTreeMap<NodeId, BTreeSet<NodeId>> = BTreeMap::new();
    for &(u, v) in reference.edges.keys() {
        out.entry(u).or_default().insert(v);
        out.entry(v).or_default();
    }
    let reach = |s: NodeId| {
        let mut seen = BTreeSet::from([s]);
        let mut stack = vec![s];
        while let Some(x) = stack.pop() {
            for &y in &out[&x] {
                if seen.insert(y) {
                    stack.push(y);
                }
            }
        }
        seen
    };
    let reaches: BTreeMap<NodeId, BTreeSet<NodeId>> = out.keys().map(|&s| (s, reach(s))).collect();
    let mut assigned = BTreeSet::new();
    let mut components = Vec::new();
    for &u in out.keys() {
        if assigned.contains(&u) {
            continue;
        }
        let component: Vec<NodeId> = reaches[&u]
            .iter()
            .copied()
            .filter(|v| reaches[v].contains(&u))
            .collect();
        assigned.extend(component.iter().copied());
        components.push(component);
    }
    components.sort_unstable_by_key(|c| c[0]);
    components
}

/// Checks every batch against the reference; returns the reports.
fn follow(
    params: StronglyConnectedComponentsParams,
    batches: &[Vec<EdgeEvent>],
    window: Option<usize>,
) -> Vec<SccReport> {
    let params = match window {
        Some(w) => params.window_batches(w),
        None => params,
    };
    let mut scc = params.build().expect("valid");
    let mut reference = Reference::default();
    let mut methods = Vec::new();
    for (i, batch) in batches.iter().enumerate() {
        let report = scc.update(batch);
        methods.push(report);
        if let Some(w) = window {
            reference = Reference::default();
            for b in &batches[i.saturating_sub(w - 1)..=i] {
                reference.apply(b);
            }
        } else {
            reference.apply(batch);
        }
        let expected = reference_sccs(&reference);
        assert_eq!(scc.components(), expected, "batch {i}");
        assert_eq!(report.components, expected.len());
        assert_eq!(
            report.nontrivial,
            expected.iter().filter(|c| c.len() > 1).count()
        );
        assert_eq!(
            report.largest,
            expected.iter().map(Vec::len).max().unwrap_or(0)
        );
        for component in &expected {
            for &node in component {
                assert_eq!(scc.component_of(node), Some(component[0]), "batch {i}");
            }
        }
        // The kept order is a topological order of the condensation.
        let position: BTreeMap<NodeId, usize> = scc
            .topological_order()
            .iter()
            .enumerate()
            .flat_map(|(k, c)| c.iter().map(move |&x| (x, k)))
            .collect();
        for &(u, v) in reference.edges.keys() {
            assert!(position[&u] <= position[&v], "batch {i}: {u} -> {v}");
        }
    }
    methods
}

fn shape(delete: f64) -> StreamShape {
    StreamShape {
        nodes: 60,
        batches: 60,
        batch: 25,
        delete,
        weighted: false,
    }
}

#[test]
fn incremental_is_exact_after_every_batch_with_deletes() {
    for seed in [51, 52, 53] {
        let batches = random_stream(seed, shape(0.35));
        let reports = follow(
            StronglyConnectedComponents::params().recompute_above(f64::INFINITY),
            &batches,
            None,
        );
        // The work bound lets most batches through, and they merge and split components.
        let incremental: Vec<&SccReport> = reports
            .iter()
            .filter(|r| r.method == RepairMethod::Incremental)
            .collect();
        assert!(incremental.len() > reports.len() / 2, "seed {seed}");
        assert!(incremental.iter().map(|r| r.merged).sum::<usize>() > 0);
        assert!(incremental.iter().map(|r| r.resplit_nodes).sum::<usize>() > 0);
    }
}

#[test]
fn recompute_and_default_agree() {
    let batches = random_stream(54, shape(0.3));
    let always = follow(
        StronglyConnectedComponents::params().recompute_above(0.0),
        &batches,
        None,
    );
    assert!(always.iter().all(|r| r.method == RepairMethod::Recompute));
    follow(StronglyConnectedComponents::params(), &batches, None);
}

#[test]
fn windowed_expiry_splits_components() {
    // Inserts only: the window's expiry is the only delete.
    let batches = random_stream(55, shape(0.0));
    let reports = follow(
        StronglyConnectedComponents::params().recompute_above(f64::INFINITY),
        &batches,
        Some(4),
    );
    assert!(
        reports
            .iter()
            .any(|r| r.method == RepairMethod::Incremental)
    );
}

#[test]
fn cycles_merge_and_split() {
    let mut scc = StronglyConnectedComponents::params()
        .recompute_above(f64::INFINITY)
        .build()
        .expect("valid");
    // Two cycles joined one way, then both ways.
    scc.update(&[
        EdgeEvent::insert(1, 2),
        EdgeEvent::insert(2, 1),
        EdgeEvent::insert(3, 4),
        EdgeEvent::insert(4, 3),
        EdgeEvent::insert(2, 3),
    ]);
    assert_eq!(scc.nontrivial(), vec![vec![1, 2], vec![3, 4]]);
    assert_eq!(scc.topological_order(), vec![vec![1, 2], vec![3, 4]]);
    let report = scc.update(&[EdgeEvent::insert(4, 1)]);
    assert_eq!(report.merged, 1);
    assert_eq!(scc.components(), vec![vec![1, 2, 3, 4]]);
    let report = scc.update(&[EdgeEvent::delete(2, 3)]);
    assert_eq!(report.resplit_nodes, 4);
    assert_eq!(scc.topological_order(), vec![vec![3, 4], vec![1, 2]]);
    // A parallel instance keeps the edge; a self-loop is no cycle between nodes.
    scc.update(&[EdgeEvent::insert(4, 1), EdgeEvent::insert(5, 5)]);
    scc.update(&[EdgeEvent::delete(4, 1)]);
    assert_eq!(scc.count(), 3);
    assert_eq!(scc.largest_components(2), vec![(1, 2), (3, 2)]);
    assert!(matches!(
        StronglyConnectedComponents::params()
            .recompute_above(f64::NAN)
            .build(),
        Err(GraphError::RecomputeFraction { .. })
    ));
}

#[test]
fn checkpoint_roundtrip_continues_identically() {
    let batches = random_stream(56, shape(0.3));
    let mut a = StronglyConnectedComponents::params()
        .window_batches(5)
        .build()
        .expect("valid");
    for b in &batches[..30] {
        a.update(b);
    }
    let mut b: StronglyConnectedComponents =
        serde_json::from_str(&serde_json::to_string(&a).expect("ser")).expect("de");
    assert_eq!(a.components(), b.components());
    for batch in &batches[30..] {
        let (ra, rb) = (a.update(batch), b.update(batch));
        // The work may differ (a restored state starts from a fresh order), not the result.
        assert_eq!(
            (ra.components, ra.nontrivial, ra.largest, ra.counts),
            (rb.components, rb.nontrivial, rb.largest, rb.counts)
        );
        assert_eq!(a.components(), b.components());
    }
}

#[test]
fn a_corrupt_checkpoint_is_rejected() {
    let mut scc = StronglyConnectedComponents::params()
        .build()
        .expect("valid");
    scc.update(&[EdgeEvent::insert(1, 2), EdgeEvent::insert(2, 1)]);
    let json = serde_json::to_value(&scc).expect("ser");
    let mut dangling = json.clone();
    dangling["graph"]["edges"][0][1] = 7.into();
    let err = serde_json::from_value::<StronglyConnectedComponents>(dangling).expect_err("bad");
    assert!(err.to_string().contains("endpoint"), "{err}");
    let mut weightless = json;
    weightless["graph"]["edges"][0][2] = serde_json::json!([]);
    assert!(serde_json::from_value::<StronglyConnectedComponents>(weightless).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    /// The components do not depend on how the stream is split into batches, nor on the
    /// recompute threshold.
    #[test]
    fn batching_and_threshold_do_not_matter(
        seed in 0u64..1_000_000,
        nodes in 2u64..20,
        split in 1usize..30,
        threshold in prop_oneof![Just(0.0), Just(0.1), Just(f64::INFINITY)],
    ) {
        let shape = StreamShape { nodes, batches: 1, batch: 150, delete: 0.35, weighted: false };
        let events = random_stream(seed, shape).concat();
        let mut scc = StronglyConnectedComponents::params()
            .recompute_above(threshold)
            .build()
            .expect("valid");
        for chunk in events.chunks(split) {
            scc.update(chunk);
        }
        let mut reference = Reference::default();
        reference.apply(&events);
        prop_assert_eq!(scc.components(), reference_sccs(&reference));
    }
}

#[test]
fn many_small_streams_keep_exact_components_and_a_valid_order() {
    for seed in 0..40 {
        let shape = StreamShape {
            nodes: 12 + seed % 20,
            batches: 40,
            batch: 12,
            delete: if seed % 2 == 0 { 0.3 } else { 0.0 },
            weighted: false,
        };
        let batches = random_stream(1_000 + seed, shape);
        let window = (seed % 2 == 1).then_some(3);
        follow(
            StronglyConnectedComponents::params().recompute_above(f64::INFINITY),
            &batches,
            window,
        );
    }
}
