//! The batch generator when several workers run a stream (see [`crate::runtime`]).
//!
//! Every worker runs the same loop. Worker 0, the leader, owns the clock and the sources:
//!
//! 1. **Start round**: every worker reports its plan fingerprint, worker count, partition
//!    counts, batch interval and the checkpoint it restored; a difference fails every worker
//!    with [`Error::ProgramMismatch`]. Every worker takes the leader's zero time.
//! 2. **Input round**, once per batch: the leader decides whether batch `t` runs (stop
//!    requests, the requested last batch, exhausted sources, the final event-time flush),
//!    polls every source, splits each batch into the stream's partitions exactly as a
//!    single worker does, and sends every worker the partitions it owns. The others send
//!    their stop requests, which the leader honours from the next batch on. Sources that
//!    every worker reads ([`Source::read_by_every_worker`](super::Source::read_by_every_worker))
//!    are read by every worker, each keeping its own partitions: before the round when no
//!    rate limit is configured (the round then compares what each read, before any output
//!    runs), after it with the leader's limit otherwise.
//! 3. The output operations run on every worker, in lockstep (their jobs' rounds).
//! 4. **Batch-end round**: every worker confirms the batch and shares what its tasks
//!    observed for event-time operators, and the counts and digest of every batch it read
//!    itself after the input round (any difference fails the batch with
//!    [`Error::InputDiffers`]); only then is
//!    state committed, on every worker, and the watermarks advance identically everywhere.
//!
//! A worker whose batch fails outside a round announces it in an abort round (see
//! [`crate::collective`]), so every worker stops with the error instead of waiting.

use super::context::{
    Inner, InputCounts, InputStats, Next, Progress, driver_panic, finish_batch, publish,
};
use super::node::AnyNode;
use crate::collective::Round;
use crate::error::{Error, Result};
use crate::plan::SharedBatch;
use crate::runtime::owner_of;
use crate::scheduler::round;
use crate::storage::lock;
use crate::time::BatchTime;
use serde::{Deserialize, Serialize};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::Instant;

/// What every worker reports in the start round.
#[derive(Serialize, Deserialize, PartialEq)]
pub(crate) struct StartReport {
    pub fingerprint: u64,
    pub workers: usize,
    pub partitions: usize,
    pub default_parallelism: usize,
    pub batch_ms: u64,
    pub recovered_from: Option<u64>,
    /// By source, whether every worker reads it.
    pub read_by_every_worker: Vec<bool>,
    /// The leader's zero time (ignored from the others).
    pub zero_ms: u64,
}

/// Checks that every worker runs the same program alike and returns the leader's zero time.
pub(crate) fn start_round(inner: &Inner, mine: StartReport) -> Result<u64> {
    let env = &inner.sc.env;
    let bytes = bincode::serialize(&mine).map_err(|e| Error::Serialization {
        what: "start report".into(),
        message: e.to_string(),
    })?;
    let received = round(env, Round::Start, Ok(vec![bytes; env.workers()]))?;
    let mut leader_zero = mine.zero_ms;
    for (worker, bytes) in received.iter().enumerate() {
        let theirs: StartReport =
            bincode::deserialize(bytes).map_err(|e| Error::Serialization {
                what: format!("start report of worker {worker}"),
                message: e.to_string(),
            })?;
        let differ = |what: &'static str, ours: String, theirs: String| {
            Err(Error::ProgramMismatch {
                what,
                worker,
                ours,
                theirs,
            })
        };
        if theirs.workers != mine.workers {
            return differ(
                "worker count",
                mine.workers.to_string(),
                theirs.workers.to_string(),
            );
        }
        if theirs.fingerprint != mine.fingerprint {
            return differ(
                "plan fingerprint (the stream graph it built)",
                format!("{:016x}", mine.fingerprint),
                format!("{:016x}", theirs.fingerprint),
            );
        }
        if (theirs.partitions, theirs.default_parallelism)
            != (mine.partitions, mine.default_parallelism)
        {
            return differ(
                "partition count (stream, default)",
                format!("{}, {}", mine.partitions, mine.default_parallelism),
                format!("{}, {}", theirs.partitions, theirs.default_parallelism),
            );
        }
        if theirs.batch_ms != mine.batch_ms {
            return differ(
                "batch interval (ms)",
                mine.batch_ms.to_string(),
                theirs.batch_ms.to_string(),
            );
        }
        if theirs.recovered_from != mine.recovered_from {
            return differ(
                "restored checkpoint (batch time)",
                format!("{:?}", mine.recovered_from),
                format!("{:?}", theirs.recovered_from),
            );
        }
        if theirs.read_by_every_worker != mine.read_by_every_worker {
            return differ(
                "sources every worker reads (by source; a dead-letter file makes the leader \
                 read a file alone)",
                format!("{:?}", mine.read_by_every_worker),
                format!("{:?}", theirs.read_by_every_worker),
            );
        }
        if worker == 0 {
            leader_zero = theirs.zero_ms;
        }
    }
    Ok(leader_zero)
}

/// The leader's message of an input round, to one worker: this header, and the input
/// partitions the worker owns packed with it (see [`crate::packed`]) as (source, partition).
#[derive(Serialize, Deserialize)]
struct InputHeader {
    run: bool,
    final_flush: bool,
    scheduling_delay_ms: u64,
    limit: Option<u64>,
    /// Per source: (records, skipped, bytes) of the whole batch.
    counts: Vec<(u64, u64, u64)>,
    /// What the leader read of the sources every worker reads, when they are read before
    /// the round (see [`reads_before_round`]).
    read: Vec<(usize, InputCounts)>,
}

/// Whether the sources every worker reads are read before the input round, so that the
/// workers compare what they read in that round, before any output runs: when no rate
/// limit can apply (none is configured, the same on every worker). Otherwise they are
/// read after it, with the leader's limit, and compared at the batch end.
fn reads_before_round(inner: &Inner) -> bool {
    inner.max_records_per_batch.is_none() && lock(&inner.rate).is_none()
}

/// Reads batch `t` of every source every worker reads, at most `limit` records each: by
/// source, the partitions this worker owns (`None` for the other sources), and what each
/// whole batch held.
fn read_own_parts(
    inner: &Inner,
    t: BatchTime,
    inputs: &[Arc<dyn super::context::AnyInput>],
    limit: Option<u64>,
) -> Result<OwnRead> {
    let env = &inner.sc.env;
    let (me, workers) = (env.worker(), env.workers());
    let mut parts = Vec::with_capacity(inputs.len());
    let mut read = Vec::new();
    for (source, input) in inputs.iter().enumerate() {
        if !input.read_by_every_worker() {
            parts.push(None);
            continue;
        }
        let (own, counts) =
            input.poll_parts(t, limit, inner.partitions, &|p| owner_of(p, workers) == me)?;
        parts.push(Some(own));
        read.push((source, counts));
    }
    Ok((parts, read))
}

/// By source, the partitions a worker read itself (see [`read_own_parts`]), and what each
/// whole batch held.
type OwnRead = (
    Vec<Option<Vec<Option<SharedBatch>>>>,
    Vec<(usize, InputCounts)>,
);

/// Fails with [`Error::InputDiffers`] unless `worker` read what this worker read.
fn compare_reads(
    inner: &Inner,
    worker: usize,
    ours: &[(usize, InputCounts)],
    theirs: &[(usize, InputCounts)],
) -> Result<()> {
    if theirs.len() != ours.len() {
        // The start round compared which sources every worker reads.
        return Err(Error::internal(format!(
            "worker {worker} read {} sources every worker reads, this worker {}",
            theirs.len(),
            ours.len()
        )));
    }
    for (&(source, ours), &(_, theirs)) in ours.iter().zip(theirs) {
        if ours != theirs {
            let show = |c: InputCounts| {
                format!(
                    "{}, {}, {}, {:016x}",
                    c.records, c.skipped, c.bytes, c.digest
                )
            };
            let inputs = lock(&inner.graph).inputs.clone();
            return Err(Error::InputDiffers {
                source_name: inputs.get(source).map(|i| i.name()).unwrap_or_default(),
                worker,
                ours: show(ours),
                theirs: show(theirs),
            });
        }
    }
    Ok(())
}

/// Installs what a worker read itself, adding its counts to `stats`.
fn install_own(
    t: BatchTime,
    inputs: &[Arc<dyn super::context::AnyInput>],
    (parts, read): OwnRead,
    stats: &mut InputStats,
) -> Result<()> {
    for (_, counts) in &read {
        stats.records += counts.records;
        stats.skipped += counts.skipped;
        stats.bytes += counts.bytes;
    }
    for (input, parts) in inputs.iter().zip(parts) {
        if let Some(parts) = parts {
            input.install(t, parts)?;
        }
    }
    Ok(())
}

/// The loop of one worker of several; returns the failure that stopped it, if any.
pub(crate) fn run_loop(inner: &Inner, first: BatchTime) -> Option<Error> {
    let collective = &inner.sc.env.collective;
    let mut t = first;
    let mut progress = Progress::default();
    loop {
        let started = Instant::now();
        let outcome = catch_unwind(AssertUnwindSafe(|| -> Result<bool> {
            let Some(stats) = input_round(inner, t, &mut progress)? else {
                return Ok(false);
            };
            let info = finish_batch(inner, t, started, stats)?;
            publish(inner, info);
            Ok(true)
        }))
        .unwrap_or_else(|payload| Err(driver_panic(&*payload)));
        match outcome {
            Ok(true) => {}
            Ok(false) => return None,
            Err(e) => {
                tracing::error!(batch = t.0, "batch failed, stopping the context: {e}");
                // Tell the other workers, unless they learnt it in a round already.
                collective.note_local_failure();
                collective.announce_failure(&e);
                return Some(Error::BatchFailed {
                    time: t,
                    source: Box::new(e),
                });
            }
        }
        if inner.sc.is_leader() {
            progress.after_batch(inner, t);
        }
        t = t.plus_ms(inner.batch_ms);
    }
}

/// The input round of batch `t`: the leader decides and scatters the input; every worker
/// installs its partitions. `None` when the stream stops instead.
fn input_round(inner: &Inner, t: BatchTime, progress: &mut Progress) -> Result<Option<InputStats>> {
    let env = &inner.sc.env;
    let (me, workers) = (env.worker(), env.workers());
    let epoch = t.0.saturating_sub(inner.shared.zero()) / inner.batch_ms.max(1);
    env.runtime.begin_epoch(epoch);
    let inputs = lock(&inner.graph).inputs.clone();
    let early = reads_before_round(inner);
    let mut own_parts: Vec<Vec<Option<SharedBatch>>> = Vec::new();
    // The leader's copies of the partitions it sent, dropped once the round is over: the
    // receivers wait for the round, not for these frees.
    let mut sent: Vec<SharedBatch> = Vec::new();
    let mut stats = InputStats::default();
    let mut run = false;
    // What this worker read itself before the round (see `reads_before_round`).
    let mut early_read: OwnRead = (Vec::new(), Vec::new());
    let outgoing: Result<Vec<Vec<u8>>> = if me == 0 {
        run = loop {
            match progress.next(inner, t) {
                Next::Retry => continue,
                Next::Run => break true,
                Next::Stop => break false,
            }
        };
        let read = if run && early {
            read_own_parts(inner, t, &inputs, None)
        } else {
            Ok((Vec::new(), Vec::new()))
        };
        read.and_then(|read| {
            early_read = read;
            leader_messages(
                inner,
                t,
                run,
                &inputs,
                &early_read.1,
                &mut own_parts,
                &mut sent,
                &mut stats,
            )
        })
    } else {
        let stop = Progress::local_stop(inner);
        let read = if early {
            read_own_parts(inner, t, &inputs, None)
        } else {
            Ok((Vec::new(), Vec::new()))
        };
        read.and_then(|read| {
            let mut message = vec![stop];
            bincode::serialize_into(&mut message, &read.1).map_err(|e| Error::Serialization {
                what: "what a worker read".into(),
                message: e.to_string(),
            })?;
            early_read = read;
            Ok(vec![message; workers])
        })
    };
    let received = round(env, Round::Input, outgoing)?;
    drop(sent);
    // What the other workers read before the round; the leader's is in its header.
    let read_by = |worker: usize| -> Result<Vec<(usize, InputCounts)>> {
        bincode::deserialize(received[worker].get(1..).unwrap_or_default()).map_err(|e| {
            Error::Serialization {
                what: format!("what worker {worker} read"),
                message: e.to_string(),
            }
        })
    };
    if me == 0 {
        progress.peer_stop = received
            .iter()
            .skip(1)
            .filter_map(|m| m.first().copied())
            .max()
            .unwrap_or(0);
        if !run {
            return Ok(None);
        }
        if early {
            for worker in 1..workers {
                compare_reads(inner, worker, &early_read.1, &read_by(worker)?)?;
            }
        }
        for (input, parts) in inputs.iter().zip(own_parts) {
            if !input.read_by_every_worker() {
                input.install(t, parts)?;
            }
        }
        let own = own_read_after_round(inner, t, &inputs, early, early_read, &mut stats)?;
        install_own(t, &inputs, own, &mut stats)?;
        return Ok(Some(stats));
    }
    let (header, encoded): (InputHeader, _) = crate::packed::unpack(&received[0])?;
    if !header.run {
        return Ok(None);
    }
    if header.final_flush {
        inner.shared.set_final_flush();
    }
    if header.counts.len() != inputs.len() {
        return Err(Error::internal(
            "the leader sent input for another number of sources",
        ));
    }
    if early {
        compare_reads(inner, 0, &early_read.1, &header.read)?;
        for worker in (1..workers).filter(|&w| w != me) {
            compare_reads(inner, worker, &early_read.1, &read_by(worker)?)?;
        }
    }
    let partitions = inner.partitions;
    stats.scheduling_delay_ms = header.scheduling_delay_ms;
    stats.limit = header.limit;
    let mut parts: Vec<Vec<Option<SharedBatch>>> = vec![vec![None; partitions]; inputs.len()];
    for (source, p, bytes) in encoded {
        let (source, p) = (source as usize, p as usize);
        if source >= inputs.len() || p >= partitions || owner_of(p, workers) != me {
            return Err(Error::internal(format!(
                "input partition {p} of source {source} sent to worker {me}"
            )));
        }
        let ops = inputs[source].ops();
        parts[source][p] = Some((ops.share)((ops.decode)(bytes)?)?);
    }
    for ((input, (records, skipped, bytes)), mut parts) in
        inputs.iter().zip(header.counts).zip(parts)
    {
        if input.read_by_every_worker() {
            continue;
        }
        stats.records += records;
        stats.skipped += skipped;
        stats.bytes += bytes;
        let ops = input.ops();
        for (p, part) in parts.iter_mut().enumerate() {
            if owner_of(p, workers) == me && part.is_none() {
                *part = Some((ops.empty)());
            }
        }
        input.install(t, parts)?;
    }
    let own = own_read_after_round(inner, t, &inputs, early, early_read, &mut stats)?;
    install_own(t, &inputs, own, &mut stats)?;
    Ok(Some(stats))
}

/// What this worker reads itself of batch `t`: what it read before the round, or, when
/// it reads after it, that read (with the leader's limit, now in `stats`), noted in
/// `stats` for the batch-end comparison.
fn own_read_after_round(
    inner: &Inner,
    t: BatchTime,
    inputs: &[Arc<dyn super::context::AnyInput>],
    early: bool,
    early_read: OwnRead,
    stats: &mut InputStats,
) -> Result<OwnRead> {
    if early {
        return Ok(early_read);
    }
    let read = read_own_parts(inner, t, inputs, stats.limit)?;
    stats.read_by_every_worker = read.1.clone();
    Ok(read)
}

/// The leader's messages for batch `t`: polls the sources when the batch runs, keeps its
/// own partitions in `own_parts` and those it sends in `sent`.
#[allow(clippy::too_many_arguments)]
fn leader_messages(
    inner: &Inner,
    t: BatchTime,
    run: bool,
    inputs: &[Arc<dyn super::context::AnyInput>],
    read: &[(usize, InputCounts)],
    own_parts: &mut Vec<Vec<Option<SharedBatch>>>,
    sent: &mut Vec<SharedBatch>,
    stats: &mut InputStats,
) -> Result<Vec<Vec<u8>>> {
    let workers = inner.sc.workers();
    let mut header = InputHeader {
        run,
        final_flush: inner.shared.is_final_flush(),
        scheduling_delay_ms: 0,
        limit: None,
        counts: Vec::new(),
        read: read.to_vec(),
    };
    // Per receiver: (source, partition) of what it is sent.
    let mut to_send: Vec<Vec<(u32, u32, SharedBatch)>> = vec![Vec::new(); workers];
    if run {
        stats.scheduling_delay_ms = inner.clock.now_ms().saturating_sub(t.0);
        stats.limit = inner.rate_limit();
        header.scheduling_delay_ms = stats.scheduling_delay_ms;
        header.limit = stats.limit;
        for (source, input) in inputs.iter().enumerate() {
            if input.read_by_every_worker() {
                // Every worker reads it itself, before or after the round.
                header.counts.push((0, 0, 0));
                own_parts.push(Vec::new());
                continue;
            }
            let (parts, counts) = input.poll_split(t, stats.limit, inner.partitions)?;
            stats.records += counts.0;
            stats.skipped += counts.1;
            stats.bytes += counts.2;
            header.counts.push(counts);
            let ops = input.ops();
            let mut mine = Vec::with_capacity(parts.len());
            for (p, part) in parts.into_iter().enumerate() {
                let to = owner_of(p, workers);
                if to == 0 {
                    mine.push(Some(part));
                } else {
                    mine.push(None);
                    if (ops.len)(&part) > 0 {
                        to_send[to].push((source as u32, p as u32, part));
                    }
                }
            }
            own_parts.push(mine);
        }
    }
    let messages = to_send
        .iter()
        .map(|parts| crate::packed::pack(parts, |source| inputs[source as usize].ops(), &header))
        .collect();
    sent.extend(to_send.into_iter().flatten().map(|(_, _, part)| part));
    messages
}

/// The batch-end round: every worker confirms batch `t` and shares its event-time
/// observations, which every worker takes in before committing.
pub(crate) fn confirm_batch(
    inner: &Inner,
    t: BatchTime,
    nodes: &[Arc<dyn AnyNode>],
    read: &[(usize, InputCounts)],
) -> Result<()> {
    let env = &inner.sc.env;
    let mine: Result<Vec<u8>> = nodes
        .iter()
        .filter_map(|n| n.stateful().map(|s| (n.meta().id, s)))
        .map(|(id, s)| Ok((id, s.batch_observations(t)?)))
        .collect::<Result<Vec<(usize, Vec<u8>)>>>()
        .and_then(|obs| {
            bincode::serialize(&(read, obs)).map_err(|e| Error::Serialization {
                what: "batch observations".into(),
                message: e.to_string(),
            })
        });
    let received = round(env, Round::BatchEnd, mine.map(|m| vec![m; env.workers()]))?;
    for (worker, bytes) in received.iter().enumerate() {
        if worker == env.worker() {
            continue;
        }
        let (their_read, theirs): (Vec<(usize, InputCounts)>, Vec<(usize, Vec<u8>)>) =
            bincode::deserialize(bytes).map_err(|e| Error::Serialization {
                what: format!("batch observations of worker {worker}"),
                message: e.to_string(),
            })?;
        compare_reads(inner, worker, read, &their_read)?;
        for (id, obs) in theirs {
            let node = nodes
                .iter()
                .find(|n| n.meta().id == id)
                .and_then(|n| n.stateful())
                .ok_or_else(|| Error::internal(format!("observations for unknown node {id}")))?;
            node.absorb_observations(t, &obs)?;
        }
    }
    Ok(())
}

/// What the workers report at the end of a batch (a round): the sum of their state entries
/// after the commit, and by worker the checkpoint each finished writing since the last
/// batch (batch time, bytes). A worker whose write failed sends its error, so every worker
/// stops on it.
pub(crate) fn batch_end(
    inner: &Inner,
    state_size: u64,
    written: Result<Option<(u64, u64)>>,
) -> Result<(u64, Vec<Option<(u64, u64)>>)> {
    let env = &inner.sc.env;
    let mine = written.and_then(|w| {
        bincode::serialize(&(state_size, w)).map_err(|e| Error::Serialization {
            what: "batch end report".into(),
            message: e.to_string(),
        })
    });
    let received = round(env, Round::BatchEnd, mine.map(|m| vec![m; env.workers()]))?;
    let mut total = 0_u64;
    let mut reports = Vec::with_capacity(received.len());
    for (worker, bytes) in received.iter().enumerate() {
        let (size, written): (u64, Option<(u64, u64)>) =
            bincode::deserialize(bytes).map_err(|e| Error::Serialization {
                what: format!("batch end report of worker {worker}"),
                message: e.to_string(),
            })?;
        total = total.saturating_add(size);
        reports.push(written);
    }
    Ok((total, reports))
}
