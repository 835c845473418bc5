//! Components against breadth-first recomputation after every batch.

use crate::common::{Reference, StreamShape, random_stream};
use proptest::prelude::*;
use spate_graph::{ConnectedComponents, EdgeEvent, GraphError};

fn follow(cc: &mut ConnectedComponents, batches: &[Vec<EdgeEvent>]) {
    let mut reference = Reference::default();
    for (i, batch) in batches.iter().enumerate() {
        let report = cc.update(batch);
        reference.apply(batch);
        let expected = reference.components();
        assert_eq!(cc.components(), expected, "batch {i}");
        assert_eq!(report.components, expected.len());
        assert_eq!(
            report.largest,
            expected.iter().map(Vec::len).max().unwrap_or(0)
        );
        for comp in &expected {
            for &node in comp {
                assert_eq!(cc.component_of(node), Some(comp[0]));
            }
        }
    }
}

#[test]
fn exact_after_every_batch_with_deletes() {
    let shape = StreamShape {
        nodes: 150,
        batches: 60,
        batch: 20,
        delete: 0.45,
        weighted: false,
    };
    let mut cc = ConnectedComponents::params().build().expect("valid");
    follow(&mut cc, &random_stream(11, shape));
}

#[test]
fn windowed_expiry_splits_components() {
    let w = 3;
    let shape = StreamShape {
        nodes: 200,
        batches: 40,
        batch: 30,
        delete: 0.0,
        weighted: false,
    };
    let batches = random_stream(12, shape);
    let mut cc = ConnectedComponents::params()
        .window_batches(w)
        .build()
        .expect("valid");
    for (i, batch) in batches.iter().enumerate() {
        let report = cc.update(batch);
        let mut reference = Reference::default();
        for b in &batches[i.saturating_sub(w - 1)..=i] {
            reference.apply(b);
        }
        assert_eq!(cc.components(), reference.components(), "batch {i}");
        if i >= w {
            assert!(report.recomputed_components > 0);
        }
    }
}

#[test]
fn size_distribution_and_labels() {
    let mut cc = ConnectedComponents::params().build().expect("valid");
    cc.update(&[
        EdgeEvent::insert(5, 6),
        EdgeEvent::insert(6, 7),
        EdgeEvent::insert(10, 10),
        EdgeEvent::insert(3, 4),
    ]);
    assert_eq!(cc.size_distribution(), vec![(1, 1), (2, 1), (3, 1)]);
    assert_eq!(
        cc.labels(),
        vec![(3, 3), (4, 3), (5, 5), (6, 5), (7, 5), (10, 10)]
    );
    cc.update(&[EdgeEvent::delete(10, 10)]);
    assert_eq!(cc.count(), 2);
    assert!(matches!(
        ConnectedComponents::params().window_batches(0).build(),
        Err(GraphError::WindowBatches)
    ));
}

#[test]
fn checkpoint_roundtrip() {
    let batches = random_stream(
        13,
        StreamShape {
            nodes: 80,
            batches: 20,
            batch: 15,
            delete: 0.3,
            weighted: false,
        },
    );
    let mut a = ConnectedComponents::params().build().expect("valid");
    for b in &batches[..10] {
        a.update(b);
    }
    let mut b: ConnectedComponents =
        serde_json::from_str(&serde_json::to_string(&a).expect("ser")).expect("de");
    for batch in &batches[10..] {
        assert_eq!(a.update(batch), b.update(batch));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    /// The result does not depend on how the stream is split into batches.
    #[test]
    fn batching_does_not_matter(seed in 0u64..1_000_000, nodes in 2u64..30, split in 1usize..40) {
        let shape = StreamShape { nodes, batches: 1, batch: 120, delete: 0.4, weighted: false };
        let events = random_stream(seed, shape).concat();
        let mut whole = ConnectedComponents::params().build().expect("valid");
        whole.update(&events);
        let mut parts = ConnectedComponents::params().build().expect("valid");
        for chunk in events.chunks(split) {
            parts.update(chunk);
        }
        let mut reference = Reference::default();
        reference.apply(&events);
        prop_assert_eq!(whole.components(), reference.components());
        prop_assert_eq!(parts.components(), reference.components());
    }
}
