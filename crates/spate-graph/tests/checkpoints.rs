//! Checkpoints of the algorithms' states: derived state (union-find, triangle counts, degree
//! histograms) is rebuilt from the validated graph on decoding; a corrupt triangle sample is
//! refused.

use crate::common::{StreamShape, edited, random_stream};
use serde_json::json;
use spate_graph::{
    ConnectedComponents, DegreeKind, DegreeStats, EdgeEvent, EdgeOp, SampledTriangles,
    TriangleCount,
};
use std::collections::HashSet;

fn stream() -> Vec<Vec<EdgeEvent>> {
    random_stream(
        41,
        StreamShape {
            nodes: 30,
            batches: 12,
            batch: 20,
            delete: 0.3,
            weighted: false,
        },
    )
}

fn assert_corrupt<T: std::fmt::Debug>(r: Result<T, serde_json::Error>, what: &str) {
    let err = r.expect_err(what).to_string();
    assert!(err.contains("checkpoint is corrupt"), "{what}: {err}");
}

#[test]
fn components_rebuild_a_corrupt_union_find() {
    let batches = stream();
    let mut cc = ConnectedComponents::params().build().expect("valid");
    for b in &batches[..8] {
        cc.update(b);
    }
    // Whatever union-find a checkpoint carries (here: too short, a wrong count), the restored
    // one is derived from the graph.
    let mut restored = edited(&cc, |v| {
        v["sets"] = json!({"parent": [0], "members": [[0]], "min_id": [0], "count": 0});
    })
    .expect("decodes");
    assert_eq!(restored.components(), cc.components());
    assert_eq!(restored.count(), cc.count());
    assert_eq!(restored.labels(), cc.labels());
    for b in &batches[8..] {
        assert_eq!(restored.update(b), cc.update(b));
    }
}

#[test]
fn triangle_count_recomputes_corrupt_counts() {
    let batches = stream();
    let mut t = TriangleCount::params().build().expect("valid");
    for b in &batches[..8] {
        t.update(b);
    }
    assert!(t.count() > 0);
    let mut restored = edited(&t, |v| {
        v["total"] = json!(0);
        v["local"] = json!([]);
    })
    .expect("decodes");
    assert_eq!(restored.count(), t.count());
    assert_eq!(restored.top_k(1000), t.top_k(1000));
    for b in &batches[8..] {
        assert_eq!(restored.update(b), t.update(b));
        assert_eq!(restored.top_k(1000), t.top_k(1000));
    }
}

#[test]
fn degree_stats_recompute_corrupt_histograms() {
    let batches = stream();
    let mut d = DegreeStats::params()
        .window_batches(4)
        .build()
        .expect("valid");
    for b in &batches[..8] {
        d.update(b);
    }
    let mut restored = edited(&d, |v| {
        v["hist_in"] = json!([]);
        v["hist_out"] = json!([7, 7]);
        v["hist_total"] = json!([0]);
    })
    .expect("decodes");
    for kind in [DegreeKind::In, DegreeKind::Out, DegreeKind::Total] {
        assert_eq!(restored.distribution(kind), d.distribution(kind));
    }
    for b in &batches[8..] {
        assert_eq!(restored.update(b), d.update(b));
        for kind in [DegreeKind::In, DegreeKind::Out, DegreeKind::Total] {
            assert_eq!(restored.distribution(kind), d.distribution(kind));
        }
    }
}

/// A simple stream (every insert new, every delete present) with deletions, small enough to
/// exceed a budget of 10.
fn simple_stream() -> Vec<EdgeEvent> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for e in stream().concat() {
        if e.op == EdgeOp::Insert && e.src != e.dst {
            let key = (e.src.min(e.dst), e.src.max(e.dst));
            if seen.insert(key) {
                out.push(e);
                if out.len() % 4 == 0 {
                    out.push(EdgeEvent::delete(e.src, e.dst));
                    seen.remove(&key);
                }
            }
        }
    }
    out
}

#[test]
fn sampled_triangles_refuse_a_corrupt_checkpoint() {
    let events = simple_stream();
    let mut s = SampledTriangles::params(10).seed(3).build().expect("valid");
    s.update(&events);
    assert!(s.sample_size() > 0);

    // A clean round trip continues identically.
    let mut back = edited(&s, |_| {}).expect("clean checkpoint decodes");
    assert_eq!(back.update(&events), s.clone().update(&events));

    assert_corrupt(edited(&s, |v| v["budget"] = json!(0)), "budget 0");
    assert_corrupt(edited(&s, |v| v["budget"] = json!(1)), "budget 1");
    assert_corrupt(
        edited(&s, |v| {
            v["budget"] = json!(2);
            v["deleted_in_sample"] = json!(0);
            v["sample"] = json!([[1, 2], [3, 4], [5, 6]]);
        }),
        "sample larger than the budget",
    );
    assert_corrupt(
        edited(&s, |v| v["deleted_in_sample"] = json!(10)),
        "sample plus pending deleted slots over the budget",
    );
    assert_corrupt(
        edited(&s, |v| v["sample"] = json!([[1, 2], [1, 2]])),
        "duplicate sampled edge",
    );
    assert_corrupt(
        edited(&s, |v| v["sample"] = json!([[2, 1]])),
        "edge not stored as (smaller, larger)",
    );
    assert_corrupt(
        edited(&s, |v| v["sample"] = json!([[4, 4]])),
        "sampled self-loop",
    );
    assert_corrupt(
        edited(&s, |v| {
            v["edges"] = json!(u64::MAX);
            v["deleted_outside"] = json!(1);
        }),
        "counters that overflow",
    );
    assert_corrupt(
        edited(&s, |v| v["rng"] = json!({"s": [0, 0, 0, 0]})),
        "all-zero generator",
    );
}
