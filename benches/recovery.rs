//! Recovery time: how long a stateful job with 1M keys takes from restart to its first
//! processed batch.
//!
//! Phase 1 builds a `map_with_state` state of 1 000 000 keys (4 batches of 250 000 fresh
//! keys from a replayable generator), checkpointing every 4 batches, then stops as if it
//! had crashed. Phase 2 rebuilds the same graph with `get_or_create` on the same directory
//! — restoring state and the source offset — and processes the next batch; the time from
//! the call to the end of that batch is the recovery time.
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
    let source = RateSource::new(per_batch, |i| (format!("key{i:09}"), 1_u64)).limit(keys + 10_000);
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

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let keys = keys_option();
    let dir = tempfile::tempdir()?;
    let config = CheckpointConfig::every(4);
    let sc = spate::local_context()?;

    let ssc = StreamingContext::get_or_create(dir.path(), config, || build(&sc, keys))?;
    let started = Instant::now();
    ssc.start()?;
    ssc.await_batch(BatchTime(4000))?;
    ssc.stop(false)?;
    let history = ssc.batch_history();
    for b in &history {
        println!(
            "  batch {} ms: {} records, processing {} ms",
            b.batch_time.0, b.records_in, b.processing_time_ms
        );
    }
    let state = history
        .iter()
        .find(|b| b.batch_time.0 == 4000)
        .map_or(0, |b| b.state_size);
    let checkpoint_ms = history
        .iter()
        .filter_map(|b| b.checkpoint_ms)
        .max()
        .unwrap_or(0);
    let bytes: u64 = std::fs::read_dir(dir.path())?
        .filter_map(|e| e.ok()?.metadata().ok())
        .map(|m| m.len())
        .max()
        .unwrap_or(0);
    println!(
        "phase 1: {state} keys in state after 4 batches ({:.2?}); checkpoint of {:.1} MB written in {checkpoint_ms} ms",
        started.elapsed(),
        bytes as f64 / 1e6
    );
    drop(ssc);

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
