//! Incremental PageRank against exact recomputation after every batch.

use crate::common::{Reference, StreamShape, fixture, random_stream};
use proptest::prelude::*;
use spate_graph::{
    EdgeEvent, EdgeListFormat, EdgeOp, GraphError, IncrementalPageRank, PageRank, Ranks,
    UpdateMethod, UpdateStrategy,
};

const TOL: f64 = 1e-4;

/// Feed `batches` to `pr` and a reference; after every batch the ranks are within the
/// tolerance of the exact ones and the certificate bounds the true error.
fn follow(pr: &mut IncrementalPageRank, batches: &[Vec<EdgeEvent>], sources: &[(u64, f64)]) {
    let mut reference = Reference::default();
    for (i, batch) in batches.iter().enumerate() {
        let report = pr.update(batch);
        reference.apply(batch);
        let exact = reference.pagerank(sources);
        let ours = pr.ranks();
        let err = ours.l1_distance(&exact);
        assert_eq!(ours.len(), exact.len(), "batch {i}: node sets differ");
        assert!(
            err <= TOL,
            "batch {i}: L1 error {err:e} > {TOL:e} ({report:?})"
        );
        // The reference is itself exact only to 1e-13.
        assert!(
            report.certificate + 1e-13 >= err,
            "batch {i}: certificate {:e} below the true error {err:e}",
            report.certificate
        );
        assert!(report.certificate <= TOL);
        assert!(report.converged, "batch {i}: {report:?}");
        assert!((ours.sum() - 1.0).abs() < 1e-9 || ours.is_empty());
    }
}

fn shape() -> StreamShape {
    StreamShape {
        nodes: 120,
        batches: 40,
        batch: 25,
        delete: 0.3,
        weighted: true,
    }
}

#[test]
fn every_batch_is_within_tolerance_with_inserts_deletes_and_weights() {
    for strategy in [
        UpdateStrategy::Auto,
        UpdateStrategy::Push,
        UpdateStrategy::PowerIteration,
    ] {
        let mut pr = IncrementalPageRank::params()
            .tolerance(TOL)
            .strategy(strategy)
            .build()
            .expect("valid");
        follow(&mut pr, &random_stream(1, shape()), &[]);
    }
}

#[test]
fn personalized_source_set() {
    let sources = vec![(0, 1.0), (5 * 1_000_003, 3.0), (77 * 1_000_003, 0.5)];
    for strategy in [UpdateStrategy::Auto, UpdateStrategy::PowerIteration] {
        let mut pr = IncrementalPageRank::params()
            .tolerance(TOL)
            .personalization(sources.clone())
            .strategy(strategy)
            .build()
            .expect("valid");
        follow(&mut pr, &random_stream(2, shape()), &sources);
    }
}

#[test]
fn unweighted_stream_with_single_edge_batches() {
    let shape = StreamShape {
        batches: 150,
        batch: 1,
        weighted: false,
        ..shape()
    };
    let mut pr = IncrementalPageRank::params()
        .tolerance(TOL)
        .build()
        .expect("valid");
    follow(&mut pr, &random_stream(3, shape), &[]);
}

#[test]
fn windowed_graph_equals_the_last_w_batches() {
    let w = 4;
    let shape = StreamShape {
        delete: 0.0,
        ..shape()
    };
    let batches = random_stream(4, shape);
    let mut pr = IncrementalPageRank::params()
        .tolerance(TOL)
        .window_batches(w)
        .build()
        .expect("valid");
    for (i, batch) in batches.iter().enumerate() {
        let report = pr.update(batch);
        // Independent reference: rebuild from the inserts of the last w batches.
        let mut reference = Reference::default();
        for b in &batches[i.saturating_sub(w - 1)..=i] {
            reference.apply(b);
        }
        let err = pr.ranks().l1_distance(&reference.pagerank(&[]));
        assert!(
            err <= TOL && err <= report.certificate,
            "batch {i}: {err:e}"
        );
        if i >= w {
            assert!(report.counts.expired > 0);
        }
    }
}

#[test]
fn stale_ranks_would_have_failed_the_tolerance() {
    let batches = random_stream(5, shape());
    let mut pr = IncrementalPageRank::params()
        .tolerance(TOL)
        .build()
        .expect("valid");
    let mut reference = Reference::default();
    let mut failed_if_stale = 0;
    for batch in &batches {
        let stale = pr.ranks();
        let report = pr.update(batch);
        reference.apply(batch);
        let exact = reference.pagerank(&[]);
        if stale.l1_distance(&exact) > TOL {
            failed_if_stale += 1;
            assert!(
                report.stale_certificate > TOL,
                "certificate must see the staleness"
            );
            assert_ne!(report.method, UpdateMethod::None);
        }
        assert!(pr.ranks().l1_distance(&exact) <= TOL);
    }
    // 25-event batches on ~150 nodes move the ranks far beyond 1e-4 every time.
    assert_eq!(failed_if_stale, batches.len());
}

#[test]
fn insert_then_delete_returns_to_the_original_ranks() {
    let mut pr = IncrementalPageRank::params()
        .tolerance(TOL)
        .build()
        .expect("valid");
    for batch in random_stream(
        6,
        StreamShape {
            delete: 0.0,
            batches: 10,
            ..shape()
        },
    ) {
        pr.update(&batch);
    }
    let before = pr.ranks();
    let extra = random_stream(
        7,
        StreamShape {
            delete: 0.0,
            batches: 1,
            batch: 60,
            ..shape()
        },
    );
    pr.update(&extra[0]);
    assert!(
        pr.ranks().l1_distance(&before) > 2.0 * TOL,
        "the batch must matter"
    );
    // The stream's deliberate junk (deletes of absent edges) is not part of what is undone.
    let undo: Vec<EdgeEvent> = extra[0]
        .iter()
        .rev()
        .filter(|e| e.op == EdgeOp::Insert)
        .map(EdgeEvent::inverse)
        .collect();
    pr.update(&undo);
    let back = pr.ranks();
    assert!(
        back.l1_distance(&before) <= 2.0 * TOL,
        "{:e}",
        back.l1_distance(&before)
    );
}

/// The first 10,000 edges of soc-Epinions1 as insert events.
fn epinions_slice() -> Vec<EdgeEvent> {
    EdgeListFormat::new()
        .read_path(fixture("pagerank/epinions_10000.edges.gz"))
        .expect("parses")
        .insert_events()
}

#[test]
fn real_stream_epinions_slice_in_batches() {
    let events = epinions_slice();
    let batches: Vec<Vec<EdgeEvent>> = events.chunks(1000).map(<[_]>::to_vec).collect();
    let mut pr = IncrementalPageRank::params()
        .tolerance(TOL)
        .build()
        .expect("valid");
    follow(&mut pr, &batches, &[]);
}

#[test]
fn top_k_agrees_with_the_ranks() {
    let mut pr = IncrementalPageRank::params()
        .tolerance(1e-8)
        .build()
        .expect("valid");
    for batch in random_stream(8, shape()).iter().take(10) {
        pr.update(batch);
    }
    let ranks = pr.ranks();
    let top = pr.top_k(5);
    assert_eq!(top, ranks.top_k(5));
    assert!(top.windows(2).all(|w| w[0].1 >= w[1].1));
    assert_eq!(pr.rank(top[0].0), Some(top[0].1));
    let absent = u64::MAX;
    assert_eq!(
        pr.ranks_of(&[top[1].0, absent, top[0].0]),
        vec![ranks.get(top[1].0), None, ranks.get(top[0].0)]
    );
}

/// Also with power iteration every batch: the rows it keeps across batches (and corrects
/// for each batch's changes) are in the checkpoint, so the restored updater corrects the same
/// rows instead of rebuilding them.
#[test]
fn checkpoint_restore_continues_identically() {
    let batches = random_stream(9, shape());
    for strategy in [UpdateStrategy::Auto, UpdateStrategy::PowerIteration] {
        let mut a = IncrementalPageRank::params()
            .tolerance(TOL)
            .window_batches(8)
            .strategy(strategy)
            .build()
            .expect("valid");
        for batch in &batches[..20] {
            a.update(batch);
        }
        let bytes = bincode::serialize(&a).expect("serializes");
        let mut b: IncrementalPageRank = bincode::deserialize(&bytes).expect("restores");
        let json = serde_json::to_string(&a).expect("serializes");
        let mut c: IncrementalPageRank = serde_json::from_str(&json).expect("restores");
        for batch in &batches[20..] {
            let ra = a.update(batch);
            let rb = b.update(batch);
            let rc = c.update(batch);
            assert_eq!(ra, rb);
            assert_eq!(ra.certificate, rc.certificate);
        }
        assert_eq!(a.ranks(), b.ranks());
        assert_eq!(a.ranks(), c.ranks());
    }
}

#[test]
fn corrupt_checkpoints_are_rejected() {
    let mut pr = IncrementalPageRank::params().build().expect("valid");
    pr.update(&[EdgeEvent::insert(1, 2)]);
    let mut json: serde_json::Value = serde_json::to_value(&pr).expect("serializes");
    json["z"] = serde_json::json!([0.5]);
    let err = serde_json::from_value::<IncrementalPageRank>(json).expect_err("corrupt");
    assert!(err.to_string().contains("corrupt"), "{err}");

    // After power iteration the state is indexed by the kept rows: a checkpoint that says so
    // without rows, or whose vectors do not fit them, is refused.
    let mut pr = IncrementalPageRank::params()
        .strategy(UpdateStrategy::PowerIteration)
        .build()
        .expect("valid");
    pr.update(&[
        EdgeEvent::insert(1, 2),
        EdgeEvent::insert(2, 3),
        EdgeEvent::insert(3, 1),
    ]);
    let json: serde_json::Value = serde_json::to_value(&pr).expect("serializes");
    assert_eq!(json["home"], "Rows");
    serde_json::from_value::<IncrementalPageRank>(json.clone()).expect("restores");
    let mut without_rows = json.clone();
    without_rows["rows"] = serde_json::Value::Null;
    let mut short = json.clone();
    short["r"] = serde_json::json!([0.1, 0.2]);
    // The teleport scale power iteration leaves must be positive.
    assert!(json["teleport_scale"].as_f64().is_some_and(|s| s > 0.0));
    let mut unscaled = json.clone();
    unscaled["teleport_scale"] = serde_json::json!(0.0);
    for corrupt in [without_rows, short, unscaled] {
        let err = serde_json::from_value::<IncrementalPageRank>(corrupt).expect_err("corrupt");
        assert!(err.to_string().contains("corrupt"), "{err}");
    }
}

#[test]
fn parameters_are_checked() {
    let p = IncrementalPageRank::params;
    assert!(matches!(
        p().damping(0.0).build(),
        Err(GraphError::Damping { .. })
    ));
    assert!(matches!(
        p().tolerance(f64::NAN).build(),
        Err(GraphError::Tolerance { .. })
    ));
    assert!(matches!(
        p().window_batches(0).build(),
        Err(GraphError::WindowBatches)
    ));
    assert!(matches!(
        p().personalization([]).build().map(|_| ()),
        Ok(())
    ));
    assert!(matches!(
        p().personalization([(1, 0.0)]).build(),
        Err(GraphError::EmptyPersonalization)
    ));
    let bad = spate_graph::CostModel {
        push_ns: -1.0,
        ..Default::default()
    };
    assert!(matches!(
        p().cost_model(bad).build(),
        Err(GraphError::CostModel {
            name: "push_ns",
            ..
        })
    ));
}

#[test]
fn unusable_events_are_reported_not_applied() {
    let mut pr = IncrementalPageRank::params().build().expect("valid");
    let r = pr.update(&[
        EdgeEvent::insert(1, 2),
        EdgeEvent::insert_weighted(2, 3, 0.0),
        EdgeEvent::delete(5, 6),
    ]);
    assert_eq!(
        (
            r.counts.inserted,
            r.counts.rejected,
            r.counts.missing_deletes
        ),
        (1, 1, 1)
    );
    assert_eq!(pr.node_count(), 2);
    let empty = pr.update(&[EdgeEvent::delete(1, 2)]);
    assert_eq!(empty.counts.nodes, 0);
    assert_eq!(pr.ranks(), Ranks::default());
    assert_eq!(empty.certificate, 0.0);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Any stream, any batching: within tolerance and certified after every batch.
    #[test]
    fn random_streams_stay_certified(
        seed in 0u64..1_000_000,
        nodes in 3u64..40,
        batch in 1usize..30,
        delete in 0.0f64..0.5,
    ) {
        let shape = StreamShape { nodes, batches: 12, batch, delete, weighted: seed % 2 == 0 };
        let mut pr = IncrementalPageRank::params().tolerance(TOL).build().expect("valid");
        follow(&mut pr, &random_stream(seed, shape), &[]);
    }
}

/// A batch of at least 1% of the graph's edges (and 1,000 events) goes straight to power
/// iteration without re-expressing the residual source by source; the first pass still
/// certifies the stale ranks, and the result is as exact as on the usual path. A small batch
/// on the same graph takes the usual path.
#[test]
fn a_large_batch_goes_straight_to_power_iteration() {
    let events = epinions_slice();
    let (first, rest) = events.split_at(8000);
    let mut pr = IncrementalPageRank::params()
        .tolerance(TOL)
        .build()
        .expect("valid");
    let mut reference = Reference::default();
    for batch in [first, &rest[..1500], &rest[1500..1510]] {
        let stale = pr.ranks();
        let report = pr.update(batch);
        reference.apply(batch);
        let exact = reference.pagerank(&[]);
        let stale_error = stale.l1_distance(&exact);
        assert!(pr.ranks().l1_distance(&exact) <= TOL, "{report:?}");
        assert!(report.certificate <= TOL);
        assert!(
            report.stale_certificate + 1e-13 >= stale_error,
            "stale certificate {:e} below the stale error {stale_error:e}",
            report.stale_certificate
        );
        if batch.len() >= 1000 {
            assert_eq!(report.method, UpdateMethod::PowerIteration, "{report:?}");
            assert_eq!(report.fixup_edge_visits, 0);
            assert!(report.stale_certificate > TOL);
        } else {
            assert!(report.fixup_edge_visits > 0, "{report:?}");
        }
    }
}

/// Small batches after a large one, by power iteration: the rows built for the large batch
/// are kept and corrected batch by batch (inserts and deletes), every batch stays within the
/// tolerance, and a checkpoint taken between two corrected batches restores the corrected
/// rows, so the restored updater continues bit for bit.
#[test]
fn kept_rows_are_corrected_and_checkpointed() {
    let events = epinions_slice();
    let (first, rest) = events.split_at(8000);
    let mut batches = vec![first.to_vec()];
    for i in 0..12 {
        let mut batch = rest[i * 5..i * 5 + 5].to_vec();
        let old = first[i * 3];
        batch.push(EdgeEvent::delete(old.src, old.dst));
        batches.push(batch);
    }
    let params = IncrementalPageRank::params()
        .tolerance(TOL)
        .strategy(UpdateStrategy::PowerIteration);
    let mut pr = params.clone().build().expect("valid");
    follow(&mut pr, &batches, &[]);

    let mut a = params.build().expect("valid");
    for batch in &batches[..6] {
        a.update(batch);
    }
    let mut b: IncrementalPageRank =
        bincode::deserialize(&bincode::serialize(&a).expect("serializes")).expect("restores");
    for batch in &batches[6..] {
        assert_eq!(a.update(batch), b.update(batch));
    }
    assert_eq!(a.ranks(), b.ranks());
    assert_eq!(a.ranks(), pr.ranks());
}

/// Weights that pass a finite-and-positive check but overflow `1 / w` or a summed out-weight
/// are rejected and counted; the ranks of the rest stay finite.
#[test]
fn overflowing_weights_are_rejected_and_ranks_stay_finite() {
    let batch = [
        EdgeEvent::insert_weighted(1, 2, 1e-310),
        EdgeEvent::insert_weighted(2, 3, 1e308),
        EdgeEvent::insert_weighted(2, 3, 1e308),
        EdgeEvent::insert_weighted(4, 5, 1e300),
        EdgeEvent::insert_weighted(4, 6, 1e300),
        EdgeEvent::insert(5, 4),
        EdgeEvent::insert(6, 1),
        EdgeEvent::insert(1, 4),
    ];
    for strategy in [UpdateStrategy::Push, UpdateStrategy::PowerIteration] {
        let mut pr = IncrementalPageRank::params()
            .strategy(strategy)
            .build()
            .expect("valid");
        let report = pr.update(&batch);
        assert_eq!((report.counts.rejected, report.counts.inserted), (4, 4));
        let ranks = pr.ranks();
        assert_eq!(ranks.len(), 4);
        assert!(
            ranks.iter().all(|(_, r)| r.is_finite() && r > 0.0),
            "{ranks:?}"
        );
        assert!((ranks.sum() - 1.0).abs() < 1e-3);
    }
}

/// Such weights in an edge-list file are malformed lines; the rest ranks finitely.
#[test]
fn overflowing_weights_in_a_file_are_malformed() {
    let text = "1 2 1e-310\n2 3 1e308\n2 3 1e308\n4 5 1e300\n5 4 1\n";
    let list = EdgeListFormat::new()
        .read(text.as_bytes())
        .expect("lenient");
    assert_eq!((list.stats.malformed, list.edges.len()), (3, 2));
    let mut pr = IncrementalPageRank::params().build().expect("valid");
    let report = pr.update(&list.insert_events());
    assert_eq!(report.counts.rejected, 0);
    assert!(pr.ranks().iter().all(|(_, r)| r.is_finite()));
}

/// A tolerance below what f64 rounding can certify on the graph (1e-300 here) does not make
/// a batch run `max_iterations` passes, 16 times over: the batch works down to the floor,
/// returns with `converged == false` and a certificate within the floor, and its ranks are as
/// exact as the floor says. Checked by the passes reported, for every strategy.
#[test]
fn a_tolerance_below_the_rounding_floor_stops_at_the_floor() {
    let n = 2000u64;
    let graph: Vec<EdgeEvent> = (0..n)
        .flat_map(|i| {
            [
                EdgeEvent::insert(i, (i + 1) % n),
                EdgeEvent::insert(i, (i * 7 + 3) % n),
            ]
        })
        .collect();
    let batches = [
        graph,
        vec![EdgeEvent::insert(5, 17), EdgeEvent::delete(3, 4)],
        vec![EdgeEvent::insert(n, 1)],
    ];
    for strategy in [
        UpdateStrategy::Auto,
        UpdateStrategy::Push,
        UpdateStrategy::PowerIteration,
    ] {
        let mut pr = IncrementalPageRank::params()
            .tolerance(1e-300)
            .max_iterations(5000)
            .strategy(strategy)
            .build()
            .expect("valid");
        let mut reference = Reference::default();
        for batch in &batches {
            let report = pr.update(batch);
            reference.apply(batch);
            let floor = pr.tolerance_floor();
            assert!(floor > 1e-13 && floor < 1e-10, "{floor:e}");
            assert!(!report.converged, "{strategy:?}: {report:?}");
            assert!(report.iterations < 1000, "{strategy:?}: {report:?}");
            assert!(report.certificate <= floor, "{strategy:?}: {report:?}");
            let err = pr.ranks().l1_distance(&reference.pagerank(&[]));
            assert!(err <= floor, "{strategy:?}: {err:e}");
        }
    }
}

/// Personalization weights whose scale would overflow (one weight of 1e-310) or whose sum
/// would (two of 1e308) rank as the same weights normalized do, in the updater (every
/// strategy, before and after a small batch) and in the static solver, instead of giving NaN
/// or zero ranks under a NaN or infinite certificate.
#[test]
fn extreme_personalization_weights_are_normalized_first() {
    let events: Vec<EdgeEvent> = [(1, 2), (2, 3), (3, 1), (3, 4), (4, 2), (5, 1), (2, 6)]
        .iter()
        .map(|&(u, v)| EdgeEvent::insert(u, v))
        .collect();
    let later = vec![EdgeEvent::insert(6, 5), EdgeEvent::delete(3, 1)];
    for (extreme, plain) in [
        (vec![(1, 1e-310)], vec![(1, 1.0)]),
        (vec![(1, 1e308), (2, 1e308)], vec![(1, 1.0), (2, 1.0)]),
    ] {
        let mut reference = Reference::default();
        for (i, batch) in [&events, &later].into_iter().enumerate() {
            reference.apply(batch);
            let exact = reference.pagerank(&plain);
            let static_ranks = PageRank::params()
                .tolerance(1e-12)
                .personalization(extreme.clone())
                .build()
                .expect("valid")
                .run(&reference.csr())
                .expect("runs")
                .ranks;
            let err = static_ranks.l1_distance(&exact);
            assert!(err <= 1e-11, "{extreme:?}, batch {i}: static error {err:e}");
        }
        for strategy in [
            UpdateStrategy::Auto,
            UpdateStrategy::Push,
            UpdateStrategy::PowerIteration,
        ] {
            let mut pr = IncrementalPageRank::params()
                .tolerance(TOL)
                .personalization(extreme.clone())
                .strategy(strategy)
                .build()
                .expect("valid");
            follow(&mut pr, &[events.clone(), later.clone()], &extreme);
        }
    }
}

/// A checkpoint whose kept rows name a slot far outside the graph (4e9) is refused with a
/// typed error before anything is sized by that slot (the slot → row lookup would be 16 GB).
#[test]
fn a_checkpoint_with_a_huge_row_slot_is_refused_without_allocating() {
    let mut pr = IncrementalPageRank::params()
        .strategy(UpdateStrategy::PowerIteration)
        .build()
        .expect("valid");
    pr.update(&[
        EdgeEvent::insert(1, 2),
        EdgeEvent::insert(2, 3),
        EdgeEvent::insert(3, 1),
    ]);
    let mut json: serde_json::Value = serde_json::to_value(&pr).expect("serializes");
    serde_json::from_value::<IncrementalPageRank>(json.clone()).expect("restores");
    assert!(json["rows"]["slots"][0].is_u64(), "{}", json["rows"]);
    json["rows"]["slots"][0] = serde_json::json!(4_000_000_000u32);
    let err = serde_json::from_value::<IncrementalPageRank>(json).expect_err("corrupt");
    assert!(err.to_string().contains("do not match the graph"), "{err}");
}

/// A checkpoint whose state or settings break the updater's invariants — scores that are not
/// finite (NaN via bincode, or summing to infinity), a negative teleport, a zero or NaN cost
/// constant (unlimited push budgets), a negative push rate, no iterations — is refused with a
/// typed error instead of giving NaN ranks or endless pushes.
#[test]
fn checkpoints_with_out_of_range_values_are_refused() {
    let cost = spate_graph::CostModel {
        iteration_ns: 1.234_567_890_123,
        ..Default::default()
    };
    let mut pr = IncrementalPageRank::params()
        .personalization([(1, 1.0), (3, 2.0)])
        .cost_model(cost)
        .build()
        .expect("valid");
    pr.update(&[
        EdgeEvent::insert(1, 2),
        EdgeEvent::insert(2, 3),
        EdgeEvent::insert(3, 1),
        EdgeEvent::insert(3, 4),
    ]);
    let json: serde_json::Value = serde_json::to_value(&pr).expect("serializes");
    serde_json::from_value::<IncrementalPageRank>(json.clone()).expect("restores");
    let edits: [(&str, serde_json::Value); 6] = [
        ("z", serde_json::json!([1e308, 1e308, 1e308, 1e308])),
        ("r", serde_json::json!([1e308, -1e308, 1e308, 0.0])),
        ("teleport", serde_json::json!([-1.0, 0.0, 1.0, 0.0])),
        ("push_rate", serde_json::json!(-1.0)),
        ("max_iterations", serde_json::json!(0)),
        ("certificate", serde_json::json!(-1.0)),
    ];
    for (field, value) in edits {
        let mut corrupt = json.clone();
        assert!(!corrupt[field].is_null(), "{field}");
        corrupt[field] = value;
        let err = serde_json::from_value::<IncrementalPageRank>(corrupt)
            .expect_err(&format!("{field} is corrupt"));
        assert!(err.to_string().contains("corrupt"), "{field}: {err}");
    }
    let mut corrupt = json;
    corrupt["cost"]["push_ns"] = serde_json::json!(0.0);
    let err = serde_json::from_value::<IncrementalPageRank>(corrupt).expect_err("zero cost");
    assert!(err.to_string().contains("corrupt"), "{err}");

    // NaN only survives a binary checkpoint: overwrite the cost constant's bytes.
    let bytes = bincode::serialize(&pr).expect("serializes");
    let find = |x: f64| {
        let pattern = x.to_le_bytes();
        let at: Vec<usize> = (0..bytes.len() - 7)
            .filter(|&i| bytes[i..i + 8] == pattern)
            .collect();
        assert_eq!(at.len(), 1, "{x} once in the checkpoint");
        at[0]
    };
    let at = find(cost.iteration_ns);
    let mut corrupt = bytes;
    corrupt[at..at + 8].copy_from_slice(&f64::NAN.to_le_bytes());
    assert!(bincode::deserialize::<IncrementalPageRank>(&corrupt).is_err());
}
