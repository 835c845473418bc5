//! The timely worker side: one exchange dataflow per worker, served to the program thread.

use crate::TimelyConfig;
use rayon::prelude::*;
use serde_bytes::ByteBuf;
use spate_core::runtime::SharedRuntime;
use spate_core::{Error, Result, Runtime, SpateContext};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::mpsc::{Receiver, Sender, TryRecvError, channel};
use std::sync::{Arc, Mutex};
use std::thread::Thread;
use timely::communication::WorkerGuards;
use timely::communication::allocator::AllocatorBuilder;
use timely::communication::allocator::ProcessBuilder;
use timely::communication::allocator::zero_copy::initialize::initialize_networking_from_sockets;
use timely::dataflow::InputHandle;
use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::generic::operator::Operator;
use timely::dataflow::operators::{Input, Probe};
use timely::worker::Worker;

/// A timestamp: `epoch · 2³² + round`, so batch `i` of a stream is epoch `i` (timely's
/// top-level dataflows take integer timestamps).
type Time = u64;

/// Where the rounds of `epoch` start.
fn epoch_start(epoch: u64) -> Time {
    epoch.saturating_mul(1 << 32)
}

/// The input of the exchange dataflow.
type RoundInput = InputHandle<Time, timely::container::CapacityContainerBuilder<Vec<Message>>>;

/// One message of a round: (to, from, bytes). The bytes are a `ByteBuf` so that timely's
/// serialization between processes copies them as one block (a `Vec<u8>` would be
/// serialized byte by byte).
type Message = (u64, u64, ByteBuf);

/// What the program thread asks of its timely worker.
enum Request {
    /// Rounds from now on belong to this epoch.
    Epoch(u64),
    /// One collective round: `outgoing[v]` to worker `v`; the reply is every worker's bytes.
    Exchange(Vec<Vec<u8>>, Sender<Result<Vec<Vec<u8>>>>),
    /// The program has returned.
    Done,
}

/// The [`Runtime`] of one timely worker, used by the program thread beside it. When it is
/// dropped (with the last context using it), its timely worker stops.
pub struct TimelyRuntime {
    index: usize,
    peers: usize,
    requests: Mutex<Sender<Request>>,
    worker_thread: Thread,
    pool: rayon::ThreadPool,
}

impl Drop for TimelyRuntime {
    fn drop(&mut self) {
        let _ = self.ask(Request::Done);
    }
}

impl TimelyRuntime {
    fn ask(&self, request: Request) -> Result<()> {
        let sent = self
            .requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .send(request);
        self.worker_thread.unpark();
        sent.map_err(|_| Error::Runtime {
            message: format!(
                "timely worker {} has stopped (a peer process may have died)",
                self.index
            ),
        })
    }
}

impl Runtime for TimelyRuntime {
    fn name(&self) -> String {
        format!("timely(worker {} of {})", self.index, self.peers)
    }

    fn worker(&self) -> usize {
        self.index
    }

    fn workers(&self) -> usize {
        self.peers
    }

    fn threads(&self) -> usize {
        self.pool.current_num_threads()
    }

    fn run_tasks(&self, n: usize, task: &(dyn Fn(usize) + Sync)) {
        self.pool
            .install(|| (0..n).into_par_iter().with_max_len(1).for_each(task));
    }

    /// A stream's batch loop runs on the worker's pool: each stage's tasks then start on
    /// the loop's own thread (and, with several threads, on the others too) instead of
    /// waking a pool thread and waiting for it — two thread switches per stage saved.
    /// While the stream runs, the loop holds one of the pool's threads.
    fn drive(&self, driver: Box<dyn FnOnce() + Send + '_>) {
        self.pool.install(driver);
    }

    fn begin_epoch(&self, epoch: u64) {
        // A stopped worker shows at the next round.
        let _ = self.ask(Request::Epoch(epoch));
    }

    fn exchange(&self, outgoing: Vec<Vec<u8>>) -> Result<Vec<Vec<u8>>> {
        let (reply, answer) = channel();
        self.ask(Request::Exchange(outgoing, reply))?;
        answer.recv().unwrap_or_else(|_| {
            Err(Error::Runtime {
                message: format!(
                    "timely worker {} stopped during a round (a peer process may have died)",
                    self.index
                ),
            })
        })
    }
}

/// The timely workers this process hosts, started and waiting for programs.
///
/// Each worker's [`SpateContext`] may be used from any thread; the program of every worker
/// must run (SPMD), and the workers stop when their contexts are dropped.
pub struct Execution {
    guards: WorkerGuards<Result<()>>,
    runtimes: Vec<Arc<TimelyRuntime>>,
    default_parallelism: usize,
}

impl Execution {
    /// Starts the workers of this process (connecting to the other processes first).
    pub fn start(config: &TimelyConfig) -> Result<Execution> {
        config.check()?;
        let (builders, guard) = communication(config)?;
        let (found, runtimes) = channel();
        let found = Mutex::new(found);
        let threads = config.threads;
        let guards = timely::execute::execute_from(
            builders,
            guard,
            timely::WorkerConfig::default(),
            move |worker| {
                let sender = found.lock().unwrap_or_else(|p| p.into_inner()).clone();
                serve(worker, threads, sender)
            },
        )
        .map_err(|message| Error::Runtime { message })?;
        let mut local: Vec<Arc<TimelyRuntime>> = Vec::with_capacity(config.workers);
        for _ in 0..config.workers {
            match runtimes.recv() {
                Ok(Ok(runtime)) => local.push(runtime),
                Ok(Err(e)) => return Err(e),
                Err(_) => {
                    return Err(Error::Runtime {
                        message: "a timely worker stopped while starting".into(),
                    });
                }
            }
        }
        local.sort_by_key(|r| r.index);
        Ok(Execution {
            guards,
            runtimes: local,
            default_parallelism: config.default_parallelism,
        })
    }

    /// One context per worker of this process, in worker order.
    pub fn contexts(&self) -> Result<Vec<SpateContext>> {
        self.runtimes
            .iter()
            .map(|r| {
                SpateContext::builder_shared(Arc::clone(r) as SharedRuntime)
                    .default_parallelism(self.default_parallelism)
                    .build()
            })
            .collect()
    }

    /// The contexts of this process's workers, with nothing left to wait for them: each
    /// worker stops when its last context is dropped.
    pub fn detach(self) -> Result<Vec<SpateContext>> {
        let contexts = self.contexts()?;
        // Dropping the guards would wait for the workers, which run until the contexts go.
        std::mem::forget(self.guards);
        Ok(contexts)
    }

    /// Waits for the workers to stop (once every context is dropped).
    pub fn join(self) -> Result<()> {
        drop(self.runtimes);
        for (i, joined) in self.guards.join().into_iter().enumerate() {
            joined
                .map_err(|message| Error::Runtime {
                    message: format!("timely worker {i} of this process failed: {message}"),
                })
                .and_then(|r| r)?;
        }
        Ok(())
    }
}

/// Runs `program` once on every worker this process hosts, each on a thread of its own
/// (its tasks run on the worker's rayon pool) with its own context, and returns the workers' results
/// in worker order.
///
/// With several processes, every process calls this with the same configuration but its
/// own [`TimelyConfig::process`]; each gets the results of its own workers.
pub fn execute<R, F>(config: &TimelyConfig, program: F) -> Result<Vec<R>>
where
    R: Send + 'static,
    F: Fn(SpateContext) -> R + Send + Sync + 'static,
{
    let execution = Execution::start(config)?;
    let contexts = execution.contexts()?;
    let program = Arc::new(program);
    let handles: Vec<_> = contexts
        .into_iter()
        .zip(execution.runtimes.iter().map(Arc::clone))
        .map(|(sc, runtime)| {
            let program = Arc::clone(&program);
            std::thread::Builder::new()
                .name(format!("spate-program-{}", runtime.index))
                .spawn(move || {
                    spate_core::runtime::set_current_worker(runtime.index, runtime.peers);
                    // Not inside the worker's pool: a program waiting on its stream would
                    // hold the pool's thread that the stream's tasks need.
                    let result = program(sc);
                    // The worker stops now even if a clone of the context outlives the
                    // program (a streaming context captured by its own output operation,
                    // say): waiting for the last clone would wait forever.
                    let _ = runtime.ask(Request::Done);
                    result
                })
                .map_err(|e| Error::Runtime {
                    message: format!("program thread: {e}"),
                })
        })
        .collect::<Result<_>>()?;
    let results: Vec<std::thread::Result<R>> = handles.into_iter().map(|h| h.join()).collect();
    execution.join()?;
    results
        .into_iter()
        .enumerate()
        .map(|(i, r)| {
            r.map_err(|payload| {
                let text = payload
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_string()))
                    .unwrap_or_else(|| "a panic".into());
                Error::Runtime {
                    message: format!("the program of worker {i} panicked: {text}"),
                }
            })
        })
        .collect()
}

/// timely's allocators: threads of one process, or this process's share of a cluster.
fn communication(
    config: &TimelyConfig,
) -> Result<(Vec<AllocatorBuilder>, Box<dyn std::any::Any + Send>)> {
    if config.processes == 1 {
        return timely::CommunicationConfig::Process(config.workers)
            .try_build()
            .map_err(|message| Error::Runtime { message });
    }
    let sockets = crate::mesh::connect(config)?;
    let hooks = timely::communication::Hooks::default();
    let process_allocators =
        ProcessBuilder::new_typed_vector(config.workers, hooks.refill.clone(), hooks.spill.clone());
    let (builders, guard) = initialize_networking_from_sockets(
        process_allocators,
        sockets,
        config.process,
        config.workers,
        hooks,
    )
    .map_err(|e| Error::Runtime {
        message: format!("starting timely's network threads: {e}"),
    })?;
    Ok((
        builders.into_iter().map(AllocatorBuilder::Tcp).collect(),
        Box::new(guard),
    ))
}

/// Bytes received per round timestamp, each with its sender.
type Received = Rc<RefCell<BTreeMap<Time, Vec<(u64, Vec<u8>)>>>>;

/// The body of one timely worker: builds the exchange dataflow, hands its runtime to the
/// caller and serves rounds until the runtime is dropped.
fn serve(
    worker: &mut Worker,
    threads: usize,
    found: Sender<Result<Arc<TimelyRuntime>>>,
) -> Result<()> {
    let index = worker.index();
    let peers = worker.peers();
    let mut input: RoundInput = InputHandle::new();
    let received: Received = Rc::default();
    let inbox = Rc::clone(&received);
    let probe = worker.dataflow::<Time, _, _>(|scope| {
        scope
            .input_from(&mut input)
            .unary::<timely::container::CapacityContainerBuilder<Vec<()>>, _, _, _>(
                Exchange::new(|m: &Message| m.0),
                "SpateRound",
                move |_capability, _info| {
                    move |input, _output| {
                        input.for_each(|capability, data| {
                            // Every message of a round is sent at the round's time.
                            if let Some(&time) = capability.least() {
                                let mut inbox = inbox.borrow_mut();
                                let slot = inbox.entry(time).or_default();
                                slot.extend(
                                    data.drain(..)
                                        .map(|(_, from, bytes)| (from, bytes.into_vec())),
                                );
                            }
                        });
                    }
                },
            )
            .probe()
            .0
    });
    let pool = match rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(move |i| format!("spate-timely-{index}-{i}"))
        .build()
    {
        Ok(pool) => pool,
        Err(e) => {
            let e = Error::Runtime {
                message: format!("rayon pool of worker {index}: {e}"),
            };
            let _ = found.send(Err(Error::Runtime {
                message: e.to_string(),
            }));
            return Err(e);
        }
    };
    let (requests, incoming) = channel();
    let runtime = Arc::new(TimelyRuntime {
        index,
        peers,
        requests: Mutex::new(requests),
        worker_thread: std::thread::current(),
        pool,
    });
    let _ = found.send(Ok(runtime));
    drop(found);
    let mut time: Time = 0;
    run_rounds(
        worker, &mut input, &probe, &received, &incoming, &mut time, peers,
    );
    // The program has ended: close the input so the dataflow can finish on every worker.
    drop(input);
    Ok(())
}

/// Serves the program's requests until its runtime is dropped.
fn run_rounds(
    worker: &mut Worker,
    input: &mut RoundInput,
    probe: &timely::dataflow::ProbeHandle<Time>,
    received: &Received,
    incoming: &Receiver<Request>,
    time: &mut Time,
    peers: usize,
) {
    loop {
        match incoming.try_recv() {
            Ok(Request::Epoch(epoch)) => {
                let start = epoch_start(epoch);
                if start > *time {
                    *time = start;
                    input.advance_to(*time);
                }
            }
            Ok(Request::Exchange(outgoing, reply)) => {
                let round = *time;
                for (to, bytes) in outgoing.into_iter().enumerate() {
                    input.send((to as u64, worker.index() as u64, ByteBuf::from(bytes)));
                }
                *time = round + 1;
                input.advance_to(*time);
                // Every worker sends one message to every worker in each round, so the round
                // is complete once `peers` messages for it have arrived: waiting for the
                // probe too would add the hop in which the receivers report having consumed
                // them. The probe still ends the wait when no more can come (a worker that
                // stopped), and the round then fails below.
                loop {
                    let arrived = received.borrow().get(&round).map_or(0, Vec::len);
                    if arrived >= peers || !probe.less_than(time) {
                        break;
                    }
                    worker.step_or_park(None);
                }
                let mut messages = received.borrow_mut().remove(&round).unwrap_or_default();
                messages.sort_by_key(|(from, _)| *from);
                let complete = messages.len() == peers
                    && messages
                        .iter()
                        .enumerate()
                        .all(|(i, (from, _))| *from == i as u64);
                let answer = if complete {
                    Ok(messages.into_iter().map(|(_, bytes)| bytes).collect())
                } else {
                    Err(Error::Runtime {
                        message: format!(
                            "round {round} delivered {} messages for {peers} workers",
                            messages.len()
                        ),
                    })
                };
                let _ = reply.send(answer);
            }
            Err(TryRecvError::Empty) => {
                worker.step_or_park(None);
            }
            Ok(Request::Done) | Err(TryRecvError::Disconnected) => return,
        }
    }
}
