//! The edge-list source and the DStream adapters inside a streaming context, against the
//! plain structs fed the same batches, and through an in-process crash and recovery.

use crate::common::fixture;
use spate_core::stream::{CheckpointConfig, FastForwardClock, StreamingContext};
use spate_core::{BatchTime, DStream, SpateContext};
use spate_graph::{
    Columns, ConnectedComponents, DEFAULT_TOP, DegreeKind, DegreeStats, EdgeEvent, EdgeListFormat,
    EdgeListSource, IncrementalPageRank, Metric, PageRankBatch, PageRankReport, Ranks, SccBatch,
    ShortestPaths, ShortestPathsBatch, StronglyConnectedComponents, TrackOn, TrackedPageRank,
    TriangleCount,
};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const BATCH: usize = 250;
const TOL: f64 = 1e-4;

/// The first 5,000 CollegeMsg messages (`src dst time`).
fn input() -> PathBuf {
    fixture("pagerank/college_msg_5000.edges.gz")
}

fn format() -> EdgeListFormat {
    EdgeListFormat::new().columns(Columns::Temporal)
}

/// The batches the source should produce, read independently of it.
fn batches() -> Vec<Vec<EdgeEvent>> {
    let list = format().read_path(input()).expect("parses");
    list.insert_events()
        .chunks(BATCH)
        .map(<[_]>::to_vec)
        .collect()
}

fn pagerank() -> IncrementalPageRank {
    IncrementalPageRank::params()
        .tolerance(TOL)
        .window_batches(8)
        .build()
        .expect("valid")
}

/// Per batch: time, the adapter's full ranks after the update, and its report.
type Seen = Arc<Mutex<Vec<(u64, Ranks, PageRankBatch)>>>;

/// The program: the source, PageRank tracked with a callback recording its ranks, and the
/// other adapters. `crash_at` makes that batch's callback fail, simulating a crash.
fn program(
    sc: &SpateContext,
    seen: &Seen,
    crash_at: &Arc<AtomicU64>,
) -> spate_core::Result<(StreamingContext, TrackedPageRank, DStream<EdgeEvent>)> {
    let ssc = StreamingContext::builder(sc)
        .batch_interval(Duration::from_secs(1))
        .clock(FastForwardClock::new())
        .partitions(3)
        .build()?;
    let source = EdgeListSource::options(input())
        .format(format())
        .batch_edges(BATCH)
        .build()?;
    let edges = ssc.source_stream(source)?;
    let tracked = pagerank().track_top(&edges, "pagerank", 5)?;
    let (seen, crash_at) = (Arc::clone(seen), Arc::clone(crash_at));
    tracked.on_batch(move |pr, batch| {
        seen.lock()
            .expect("unpoisoned")
            .push((batch.time.0, pr.ranks(), batch.clone()));
        if batch.time.0 == crash_at.load(Ordering::Relaxed) {
            return Err(spate_core::Error::Internal("simulated crash".into()));
        }
        Ok(())
    });
    Ok((ssc, tracked, edges))
}

/// What must be identical between runs: everything but the measured update time.
fn comparable(seen: &Seen) -> Vec<(u64, Ranks, PageRankReport, Vec<(u64, f64)>)> {
    seen.lock()
        .expect("unpoisoned")
        .iter()
        .map(|(t, ranks, b)| (*t, ranks.clone(), b.report, b.top.clone()))
        .collect()
}

#[test]
fn the_adapter_equals_the_struct_fed_the_same_batches() {
    let seen: Seen = Arc::default();
    let sc = SpateContext::sequential(2);
    let (ssc, tracked, edges) = program(&sc, &seen, &Arc::new(AtomicU64::new(0))).expect("builds");
    let components = ConnectedComponents::params()
        .build()
        .expect("valid")
        .track(&edges, "components")
        .expect("tracks");
    let degrees = DegreeStats::params()
        .window_batches(5)
        .build()
        .expect("valid")
        .track(&edges, "degrees")
        .expect("tracks");
    let triangles = TriangleCount::params()
        .build()
        .expect("valid")
        .track(&edges, "triangles")
        .expect("tracks");
    let reports = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&reports);
    tracked
        .batches()
        .foreach_rdd(move |rdd, _| {
            sink.lock().expect("unpoisoned").extend(rdd.collect()?);
            Ok(())
        })
        .expect("registers");
    ssc.start().expect("starts");
    ssc.await_termination().expect("runs");

    let batches = batches();
    let seen = seen.lock().expect("unpoisoned");
    assert_eq!(
        seen.len(),
        batches.len(),
        "one update per batch, no extra batch"
    );
    let mut direct = pagerank();
    let mut direct_components = ConnectedComponents::params().build().expect("valid");
    let mut direct_degrees = DegreeStats::params()
        .window_batches(5)
        .build()
        .expect("valid");
    let mut direct_triangles = TriangleCount::params().build().expect("valid");
    for (i, (batch, (time, ranks, report))) in batches.iter().zip(seen.iter()).enumerate() {
        let expected = direct.update(batch);
        direct_components.update(batch);
        direct_degrees.update(batch);
        direct_triangles.update(batch);
        assert_eq!(*time, (i as u64 + 1) * 1000, "batches in order");
        assert_eq!(report.report, expected, "batch {i}: same report");
        assert_eq!(*ranks, direct.ranks(), "batch {i}: same ranks");
        assert_eq!(report.top, direct.top_k(5));
        assert!(report.report.certificate <= TOL);
    }
    let streamed: Vec<PageRankBatch> = seen.iter().map(|s| s.2.clone()).collect();
    assert_eq!(*reports.lock().expect("unpoisoned"), streamed);
    assert_eq!(
        components.state().lock().labels(),
        direct_components.labels()
    );
    let d = degrees.state().get();
    for kind in [DegreeKind::In, DegreeKind::Out, DegreeKind::Total] {
        assert_eq!(d.distribution(kind), direct_degrees.distribution(kind));
    }
    assert_eq!(triangles.state().lock().count(), direct_triangles.count());
}

#[test]
fn recovery_from_a_checkpoint_restores_the_ranks() {
    // Uninterrupted run.
    let want: Seen = Arc::default();
    let sc = SpateContext::sequential(2);
    let (ssc, tracked, _) = program(&sc, &want, &Arc::new(AtomicU64::new(0))).expect("builds");
    ssc.start().expect("starts");
    ssc.await_termination().expect("runs");
    let final_ranks = tracked.state().lock().ranks();
    let want = comparable(&want);

    let dir = tempfile::tempdir().expect("tempdir");
    let config = CheckpointConfig::every(3);
    let seen: Seen = Arc::default();
    let crash_at = Arc::new(AtomicU64::new(11_000));
    let build = |seen: &Seen| {
        let mut handle = None;
        let ssc = StreamingContext::get_or_create(dir.path(), config, || {
            let (ssc, tracked, _) = program(&sc, seen, &crash_at)?;
            handle = Some(tracked);
            Ok(ssc)
        })
        .expect("builds");
        (ssc, handle.expect("built"))
    };
    let (ssc, _) = build(&seen);
    ssc.start().expect("starts");
    let err = ssc.await_termination().expect_err("crashes");
    assert!(err.to_string().contains("simulated crash"), "{err}");

    // A new program, as a restarted process would build it: state from the checkpoint of
    // batch 9, the source seeked to the edges after it.
    crash_at.store(0, Ordering::Relaxed);
    let after: Seen = Arc::default();
    let (ssc, tracked) = build(&after);
    assert_eq!(ssc.recovered_from(), Some(BatchTime(9_000)));
    assert_eq!(tracked.state().lock().batches(), 9);
    ssc.start().expect("starts");
    ssc.await_termination().expect("runs");
    let after = comparable(&after);
    assert_eq!(after.first().map(|s| s.0), Some(10_000));
    assert_eq!(
        after,
        want[9..],
        "batches after the checkpoint are recomputed identically"
    );
    assert_eq!(tracked.state().lock().ranks(), final_ranks);
}

#[test]
fn shortest_paths_and_strong_components_follow_a_stream() {
    let sc = SpateContext::sequential(2);
    let ssc = StreamingContext::builder(&sc)
        .batch_interval(Duration::from_secs(1))
        .clock(FastForwardClock::new())
        .partitions(3)
        .build()
        .expect("builds");
    let source = EdgeListSource::options(input())
        .format(format())
        .batch_edges(BATCH)
        .build()
        .expect("valid");
    let edges = ssc.source_stream(source).expect("registers");
    let paths_params = || ShortestPaths::params().sources([1, 9]).window_batches(6);
    let paths = paths_params()
        .build()
        .expect("valid")
        .track_top(&edges, "paths", 4)
        .expect("tracks");
    let scc = StronglyConnectedComponents::params()
        .window_batches(6)
        .build()
        .expect("valid")
        .track(&edges, "scc")
        .expect("tracks");
    let seen: Arc<Mutex<Vec<(ShortestPathsBatch, Vec<(u64, f64)>)>>> = Arc::default();
    let sink = Arc::clone(&seen);
    paths.on_batch(move |p, batch| {
        sink.lock()
            .expect("unpoisoned")
            .push((batch.clone(), p.distances()));
        Ok(())
    });
    let scc_seen: Arc<Mutex<Vec<SccBatch>>> = Arc::default();
    let sink = Arc::clone(&scc_seen);
    scc.on_batch(move |_, batch| {
        sink.lock().expect("unpoisoned").push(batch.clone());
        Ok(())
    });
    ssc.start().expect("starts");
    ssc.await_termination().expect("runs");

    let batches = batches();
    let seen = seen.lock().expect("unpoisoned");
    let scc_seen = scc_seen.lock().expect("unpoisoned");
    assert_eq!((seen.len(), scc_seen.len()), (batches.len(), batches.len()));
    let mut direct = paths_params().build().expect("valid");
    let mut direct_scc = StronglyConnectedComponents::params()
        .window_batches(6)
        .build()
        .expect("valid");
    for (i, batch) in batches.iter().enumerate() {
        let report = direct.update(batch).expect("no negative weights");
        let (streamed, distances) = &seen[i];
        assert_eq!(streamed.report, report, "batch {i}");
        assert_eq!(*distances, direct.distances(), "batch {i}");
        assert_eq!(streamed.top, direct.farthest(4));
        let scc_report = direct_scc.update(batch);
        assert_eq!(scc_seen[i].report, scc_report, "batch {i}");
        assert_eq!(scc_seen[i].top, direct_scc.largest_components(DEFAULT_TOP));
    }
    assert!(direct.reachable_count() > 2);
    assert_eq!(scc.state().lock().components(), direct_scc.components());
}

#[test]
fn a_negative_weight_stops_weighted_shortest_paths_with_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("signed.edges");
    std::fs::write(&path, "1 2 3.0\n2 3 1.0\n3 4 -2.0\n4 5 1.0\n").expect("writes");
    let sc = SpateContext::sequential(1);
    let ssc = StreamingContext::builder(&sc)
        .batch_interval(Duration::from_secs(1))
        .clock(FastForwardClock::new())
        .build()
        .expect("builds");
    let source = EdgeListSource::options(&path)
        .format(EdgeListFormat::new().columns(Columns::SrcDstWeight))
        .batch_edges(2)
        .build()
        .expect("valid");
    let edges = ssc.source_stream(source).expect("registers");
    let paths = ShortestPaths::params()
        .sources([1])
        .metric(Metric::Weighted)
        .build()
        .expect("valid")
        .track(&edges, "paths")
        .expect("tracks");
    ssc.start().expect("starts");
    let err = ssc.await_termination().expect_err("the second batch fails");
    assert!(err.to_string().contains("negative weight -2"), "{err}");
    // The first batch was applied, the failing one not at all.
    let paths = paths.state().lock();
    assert_eq!(paths.batches(), 1);
    assert_eq!(paths.distance(3), Some(4.0));
    assert_eq!(paths.distance(4), None);
}
