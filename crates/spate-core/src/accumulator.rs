//! Broadcast values and accumulators.
//!
//! An [`Accumulator`] collects a [`Merge`] summary from inside tasks. Updates made by a task
//! are buffered on its thread and merged into the accumulator only when the task succeeds:
//! a failed attempt's updates are discarded, so retries never double-count. The updates of
//! a stage's tasks are merged in partition order, whatever order the tasks ran in, so a
//! floating-point sum is the same on every runtime. With several workers, every worker
//! sends its tasks' updates, serialized, in the next collective round of the job, and every
//! worker merges all of them in the same order, so all see the same value. As in Spark, a
//! partition that is legitimately computed twice (an uncached RDD read by two jobs, or a lost
//! cached partition recomputed from lineage) contributes twice; accumulate in actions
//! (`foreach`) for exactly-once counts.

use crate::data::{Data, Merge};
use crate::error::{Error, Result};
use crate::storage::lock;
use rustc_hash::FxHashMap;
use std::any::Any;
use std::cell::RefCell;
use std::sync::Mutex;
use std::sync::{Arc, Weak};

/// A read-only value shared with every task, e.g. a lookup table or a model.
///
/// Cloning a `Broadcast` is cheap (a reference count); tasks read it with
/// [`value`](Broadcast::value).
#[derive(Debug)]
pub struct Broadcast<T> {
    value: Arc<T>,
}

impl<T> Clone for Broadcast<T> {
    fn clone(&self) -> Self {
        Broadcast {
            value: Arc::clone(&self.value),
        }
    }
}

impl<T: Data> Broadcast<T> {
    pub(crate) fn new(value: T) -> Broadcast<T> {
        Broadcast {
            value: Arc::new(value),
        }
    }

    /// The broadcast value.
    pub fn value(&self) -> &T {
        &self.value
    }
}

struct Shared<T> {
    id: u64,
    name: String,
    value: Mutex<T>,
}

/// A summary that tasks add to and the driver reads, e.g. a count of malformed records.
///
/// Create one with [`SpateContext::accumulator`](crate::SpateContext::accumulator). See the
/// module docs for when updates count once.
pub struct Accumulator<T> {
    shared: Arc<Shared<T>>,
}

impl<T> Clone for Accumulator<T> {
    fn clone(&self) -> Self {
        Accumulator {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<T: Merge + Data + std::fmt::Debug> std::fmt::Debug for Accumulator<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Accumulator")
            .field("name", &self.shared.name)
            .field("value", &*lock(&self.shared.value))
            .finish()
    }
}

impl<T: Merge + Data> Accumulator<T> {
    /// A new accumulator with an id unique in its context (the same on every worker, which
    /// create their accumulators in the same order), registered so that serialized updates
    /// from other workers find it.
    pub(crate) fn new(
        id: u64,
        name: impl Into<String>,
        registry: &AccumulatorRegistry,
    ) -> Accumulator<T> {
        let shared = Arc::new(Shared {
            id,
            name: name.into(),
            value: Mutex::new(T::default()),
        });
        let weak: Weak<dyn AnyAccumulator> = Arc::downgrade(&shared) as Weak<dyn AnyAccumulator>;
        lock(&registry.live).insert(id, weak);
        Accumulator { shared }
    }

    /// The accumulator's name.
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// Merges `delta` in: buffered until the task succeeds when called inside a task,
    /// immediately otherwise.
    pub fn add(&self, delta: T) {
        let buffered = PENDING.with(|pending| {
            let mut pending = pending.borrow_mut();
            let Some(list) = pending.as_mut() else {
                return false;
            };
            if let Some(p) = list
                .iter_mut()
                .find(|e| e.id() == self.shared.id)
                .and_then(|e| e.as_any().downcast_mut::<PendingValue<T>>())
            {
                p.value.merge(&delta);
                return true;
            }
            list.push(Box::new(PendingValue {
                shared: Arc::clone(&self.shared),
                value: delta.clone(),
            }));
            true
        });
        if !buffered {
            lock(&self.shared.value).merge(&delta);
        }
    }

    /// The current value.
    pub fn value(&self) -> T {
        lock(&self.shared.value).clone()
    }

    /// Resets the value to the identity (`Default`).
    pub fn reset(&self) {
        *lock(&self.shared.value) = T::default();
    }
}

/// An accumulator seen without its value type, for updates that arrive serialized.
trait AnyAccumulator: Send + Sync {
    fn merge_encoded(&self, bytes: &[u8]) -> Result<()>;
}

impl<T: Merge + Data> AnyAccumulator for Shared<T> {
    fn merge_encoded(&self, bytes: &[u8]) -> Result<()> {
        let delta: T = bincode::deserialize(bytes).map_err(|e| Error::Serialization {
            what: format!("update of accumulator `{}`", self.name),
            message: e.to_string(),
        })?;
        lock(&self.value).merge(&delta);
        Ok(())
    }
}

/// The accumulators of one context, by id.
#[derive(Default)]
pub(crate) struct AccumulatorRegistry {
    live: Mutex<FxHashMap<u64, Weak<dyn AnyAccumulator>>>,
}

impl AccumulatorRegistry {
    /// Merges serialized updates, in order. An update for an accumulator that no longer
    /// exists is dropped (its value can no longer be read).
    pub fn merge_encoded(&self, updates: &[EncodedUpdate]) -> Result<()> {
        for (id, bytes) in updates {
            let target = lock(&self.live).get(id).and_then(Weak::upgrade);
            if let Some(acc) = target {
                acc.merge_encoded(bytes)?;
            }
        }
        Ok(())
    }
}

/// An accumulator update as it travels between workers: the accumulator's id and its
/// serialized delta.
pub(crate) type EncodedUpdate = (u64, Vec<u8>);

trait PendingUpdate: Send {
    fn id(&self) -> u64;
    fn as_any(&mut self) -> &mut dyn Any;
    fn commit(self: Box<Self>);
    fn encode(&self) -> Result<Vec<u8>>;
}

struct PendingValue<T> {
    shared: Arc<Shared<T>>,
    value: T,
}

impl<T: Merge + Data> PendingUpdate for PendingValue<T> {
    fn id(&self) -> u64 {
        self.shared.id
    }

    fn as_any(&mut self) -> &mut dyn Any {
        self
    }

    fn commit(self: Box<Self>) {
        lock(&self.shared.value).merge(&self.value);
    }

    fn encode(&self) -> Result<Vec<u8>> {
        bincode::serialize(&self.value).map_err(|e| Error::Serialization {
            what: format!("update of accumulator `{}`", self.shared.name),
            message: e.to_string(),
        })
    }
}

/// The accumulator updates of one successful task, not merged yet.
#[derive(Default)]
pub(crate) struct TaskUpdates(Vec<Box<dyn PendingUpdate>>);

impl TaskUpdates {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Merges the updates into their accumulators.
    pub fn commit(self) {
        for update in self.0 {
            update.commit();
        }
    }

    /// The updates serialized, for merging on every worker.
    pub fn encode(&self) -> Result<Vec<EncodedUpdate>> {
        self.0.iter().map(|u| Ok((u.id(), u.encode()?))).collect()
    }
}

thread_local! {
    static PENDING: RefCell<Option<Vec<Box<dyn PendingUpdate>>>> = const { RefCell::new(None) };
}

/// Starts buffering accumulator updates made on this thread.
pub(crate) fn begin_task() {
    PENDING.with(|p| *p.borrow_mut() = Some(Vec::new()));
}

/// The buffered updates of the task that just succeeded, for the scheduler to merge in
/// partition order.
pub(crate) fn finish_task() -> TaskUpdates {
    TaskUpdates(PENDING.with(|p| p.borrow_mut().take()).unwrap_or_default())
}

/// Discards the buffered updates of a failed attempt.
pub(crate) fn abort_task() {
    PENDING.with(|p| p.borrow_mut().take());
}
