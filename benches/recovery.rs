//! Checkpoint cost and recovery time of a stateful job with 1M keys.
//!
//! Phase 1 builds a `map_with_state` state of 1 000 000 keys (4 batches of 250 000 fresh
//! keys from a replayable generator), checkpointing every 4 batches, runs one batch more and
//! stops as if it had crashed. It runs twice with each checkpoint mode, alternating:
//! synchronous writes (on the batch thread) and background writes (the default), and prints
//! batch 4's time with the checkpoint's share of it and batch 5's (which runs while a
//! background write is in flight). Phase 2 rebuilds the same graph with `get_or_create` on
//! the same directory — restoring state and the source offset — and processes the next
//! batch; the time from the call to the end of that batch is the recovery time.
//!
//! Run: `cargo bench -p spate-benches --bench recovery [-- --keys 1000000]`.

use spate::prelude::*;
use spate::stream::State;
use std::time::{Duration, Instant};

fn keys_option() -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == "--keys")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000)
}

fn build(sc: &SpateContext, keys: u64) -> spate::Result<StreamingContext> {
    let ssc = StreamingContext::builder(sc)
        .batch_interval(Duration::from_secs(1))
        .clock(FastForwardClock::new())
        .build()?;
    let per_batch = keys / 4;
    let source =
        RateSource::new(per_batch, |i| (format!("key{i:09}"), 1_u64)).limit(keys + 2 * per_batch);
    let counts = ssc
        .source_stream(source)?
        .map_with_state(StateSpec::function(
            |_k: &String, v: Option<u64>, s: &mut State<u64>| {
                let n = s.get().copied().unwrap_or(0) + v.unwrap_or(0);
                s.update(n);
                n
            },
        ))?;
    counts
        .mapped()
        .count()
        .foreach_rdd(|rdd, _| rdd.count().map(drop))?;
    Ok(ssc)
}

/// Phase 1 in one checkpoint mode: runs batches 1..=5 (the checkpoint after batch 4 holds
/// `keys` keys; batch 5 runs while a background checkpoint is written) and prints what the
/// checkpoint cost the batch thread.
fn phase_one(
    keys: u64,
    dir: &std::path::Path,
    config: CheckpointConfig,
) -> Result<(), Box<dyn std::error::Error>> {
    let sc = spate::local_context()?;
    let ssc = StreamingContext::get_or_create(dir, config, || build(&sc, keys))?;
    let started = Instant::now();
    ssc.start()?;
    ssc.await_batch(BatchTime(5000))?;
    ssc.stop(false)?;
    let elapsed = started.elapsed();
    let history = ssc.batch_history();
    let batch = |t: u64| history.iter().find(|b| b.batch_time.0 == t);
    let (fourth, fifth) = (
        batch(4000).ok_or("no batch 4")?,
        batch(5000).ok_or("no batch 5")?,
    );
    let before: Vec<u64> = (1..4)
        .filter_map(|i| batch(i * 1000).map(|b| b.processing_time_ms))
        .collect();
    let bytes: u64 = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok()?.metadata().ok())
        .map(|m| m.len())
        .max()
        .unwrap_or(0);
    let mode = if config.background {
        "background"
    } else {
        "synchronous"
    };
    println!(
        "phase 1, {mode:>11} writes: batches 1-3 {before:?} ms; batch 4 {} ms, of which \
         checkpoint {} ms on the batch thread ({} keys, {:.1} MB); batch 5 {} ms; 5 batches {:.2?}",
        fourth.processing_time_ms,
        fourth.checkpoint_ms.unwrap_or(0),
        fourth.state_size,
        bytes as f64 / 1e6,
        fifth.processing_time_ms,
        elapsed,
    );
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let keys = keys_option();
    let config = CheckpointConfig::every(4);
    // Both modes side by side, alternating, so machine noise hits both.
    for _ in 0..2 {
        for config in [config.synchronous(), config] {
            let dir = tempfile::tempdir()?;
            phase_one(keys, dir.path(), config)?;
        }
    }
    let dir = tempfile::tempdir()?;
    phase_one(keys, dir.path(), config)?;

    // Phase 2: a new context, as a restarted process would build it.
    let sc = spate::local_context()?;
    let restart = Instant::now();
    let ssc = StreamingContext::get_or_create(dir.path(), config, || build(&sc, keys))?;
    let restored = restart.elapsed();
    assert_eq!(ssc.recovered_from(), Some(BatchTime(4000)));
    ssc.start()?;
    ssc.await_batch(BatchTime(5000))?;
    let first_batch = restart.elapsed();
    let info = ssc.batch_history();
    ssc.stop(false)?;
    let after = info.first().map_or(0, |b| b.state_size);
    println!(
        "phase 2: restore {:.0} ms, restart to first processed batch {:.0} ms (state {after} keys)",
        restored.as_secs_f64() * 1e3,
        first_batch.as_secs_f64() * 1e3
    );
    assert!(after >= keys, "the restored state must hold every key");
    Ok(())
}
