//! The undirected view (components, exact triangles) applies exactly the deletes the directed
//! graph applies: instances are counted per direction.

use crate::common::{Reference, StreamShape, edited, random_stream};
use serde_json::json;
use spate_graph::{ConnectedComponents, DirectedGraph, EdgeEvent, EdgeOp, TriangleCount};

fn stream() -> Vec<Vec<EdgeEvent>> {
    random_stream(
        42,
        StreamShape {
            nodes: 30,
            batches: 12,
            batch: 20,
            delete: 0.3,
            weighted: false,
        },
    )
}

/// `delete(2, 1)` after `insert(1, 2)` deletes an absent edge in the directed graph; the
/// undirected algorithms agree and keep the pair.
#[test]
fn delete_of_the_reverse_direction_is_missing() {
    let batch = [EdgeEvent::insert(1, 2), EdgeEvent::delete(2, 1)];
    let mut g = DirectedGraph::new();
    let directed = g.apply(&batch);
    assert_eq!((directed.deleted, directed.missing_deletes), (0, 1));

    let mut cc = ConnectedComponents::params().build().expect("valid");
    let report = cc.update(&batch);
    assert_eq!(report.counts, directed);
    assert_eq!(cc.components(), vec![vec![1, 2]]);

    let mut t = TriangleCount::params().build().expect("valid");
    t.update(&[EdgeEvent::insert(2, 3), EdgeEvent::insert(3, 1)]);
    let report = t.update(&batch);
    assert_eq!(
        (report.counts.deleted, report.counts.missing_deletes),
        (0, 1)
    );
    assert_eq!(t.count(), 1);
    assert_eq!(t.edge_count(), 3);

    // Both directions live: each delete retracts its own direction only.
    let report = t.update(&[
        EdgeEvent::insert(2, 1),
        EdgeEvent::delete(2, 1),
        EdgeEvent::delete(2, 1),
    ]);
    assert_eq!(
        (report.counts.deleted, report.counts.missing_deletes),
        (1, 1)
    );
    assert_eq!(t.count(), 1);
    let report = t.update(&[EdgeEvent::delete(1, 2)]);
    assert_eq!(report.counts.deleted, 1);
    assert_eq!(t.count(), 0);
}

/// With a window, an expiry of `1 -> 2` retracts that direction, not a re-inserted `2 -> 1`.
#[test]
fn windowed_reverse_delete_does_not_eat_a_later_instance() {
    let batches = [
        vec![EdgeEvent::insert(1, 2), EdgeEvent::insert(2, 3)],
        vec![EdgeEvent::delete(2, 1), EdgeEvent::insert(3, 1)],
        vec![EdgeEvent::insert(2, 1)],
        vec![],
        vec![],
    ];
    let w = 2;
    let mut cc = ConnectedComponents::params()
        .window_batches(w)
        .build()
        .expect("valid");
    let mut t = TriangleCount::params()
        .window_batches(w)
        .build()
        .expect("valid");
    for (i, batch) in batches.iter().enumerate() {
        cc.update(batch);
        t.update(batch);
        let mut reference = Reference::default();
        for b in &batches[i.saturating_sub(w - 1)..=i] {
            reference.apply(b);
        }
        assert_eq!(cc.components(), reference.components(), "batch {i}");
        assert_eq!(t.count(), reference.triangles(), "batch {i}");
    }
}

/// Random streams whose deletes sometimes name the reverse direction: components and triangles
/// follow the directed reference, and checkpoints taken mid-stream continue identically.
#[test]
fn reversed_deletes_follow_the_directed_reference() {
    let mut batches = stream();
    for (i, e) in batches.iter_mut().flatten().enumerate() {
        if e.op == EdgeOp::Delete && i % 2 == 0 {
            *e = EdgeEvent::delete(e.dst, e.src);
        }
    }
    let mut cc = ConnectedComponents::params().build().expect("valid");
    let mut t = TriangleCount::params().build().expect("valid");
    let mut g = DirectedGraph::new();
    let mut reference = Reference::default();
    for (i, batch) in batches.iter().enumerate() {
        let directed = g.apply(batch);
        let rc = cc.update(batch);
        let rt = t.update(batch);
        reference.apply(batch);
        assert_eq!(cc.components(), reference.components(), "batch {i}");
        assert_eq!(t.count(), reference.triangles(), "batch {i}");
        for c in [rc.counts, rt.counts] {
            assert_eq!(
                (c.deleted, c.missing_deletes, c.nodes),
                (directed.deleted, directed.missing_deletes, directed.nodes),
                "batch {i}"
            );
        }
        if i == 5 {
            cc = edited(&cc, |_| {}).expect("decodes");
            t = edited(&t, |_| {}).expect("decodes");
        }
    }
}

/// An edge with 2^32 - 1 live instances refuses one more (counted as rejected) instead of
/// wrapping its count to zero.
#[test]
fn instance_counts_do_not_wrap() {
    let mut t = TriangleCount::params().build().expect("valid");
    t.update(&[EdgeEvent::insert(1, 2), EdgeEvent::insert(1, 1)]);
    let mut full = edited(&t, |v| {
        for e in v["graph"]["edges"].as_array_mut().expect("edge list") {
            e[2] = json!(u32::MAX);
        }
    })
    .expect("decodes");
    let report = full.update(&[EdgeEvent::insert(1, 2), EdgeEvent::insert(1, 1)]);
    assert_eq!((report.counts.inserted, report.counts.rejected), (0, 2));
    let report = full.update(&[EdgeEvent::delete(1, 2), EdgeEvent::delete(1, 1)]);
    assert_eq!(report.counts.deleted, 2);
    assert_eq!(full.edge_count(), 1);
    // The reverse direction has its own count.
    let report = full.update(&[EdgeEvent::insert(2, 1)]);
    assert_eq!(report.counts.inserted, 1);
}
