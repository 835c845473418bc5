//! Broadcast values and accumulators.
//!
//! An [`Accumulator`] collects a [`Merge`] summary from inside tasks. Updates made by a task
//! are buffered on its thread and merged into the accumulator only when the task succeeds:
//! a failed attempt's updates are discarded, so retries never double-count. As in Spark, a
//! partition that is legitimately computed twice (an uncached RDD read by two jobs, or a lost
//! cached partition recomputed from lineage) contributes twice; accumulate in actions
//! (`foreach`) for exactly-once counts.

use crate::data::{Data, Merge};
use crate::storage::lock;
use std::any::Any;
use std::cell::RefCell;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

static NEXT_ACCUMULATOR: AtomicU64 = AtomicU64::new(1);

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
    pub(crate) fn new(name: impl Into<String>) -> Accumulator<T> {
        Accumulator {
            shared: Arc::new(Shared {
                id: NEXT_ACCUMULATOR.fetch_add(1, Ordering::Relaxed),
                name: name.into(),
                value: Mutex::new(T::default()),
            }),
        }
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

trait PendingUpdate {
    fn id(&self) -> u64;
    fn as_any(&mut self) -> &mut dyn Any;
    fn commit(self: Box<Self>);
}

struct PendingValue<T> {
    shared: Arc<Shared<T>>,
    value: T,
}

impl<T: Merge + 'static> PendingUpdate for PendingValue<T> {
    fn id(&self) -> u64 {
        self.shared.id
    }

    fn as_any(&mut self) -> &mut dyn Any {
        self
    }

    fn commit(self: Box<Self>) {
        lock(&self.shared.value).merge(&self.value);
    }
}

thread_local! {
    static PENDING: RefCell<Option<Vec<Box<dyn PendingUpdate>>>> = const { RefCell::new(None) };
}

/// Starts buffering accumulator updates made on this thread.
pub(crate) fn begin_task() {
    PENDING.with(|p| *p.borrow_mut() = Some(Vec::new()));
}

/// Applies the buffered updates of the task that just succeeded.
pub(crate) fn commit_task() {
    let list = PENDING.with(|p| p.borrow_mut().take());
    for update in list.into_iter().flatten() {
        update.commit();
    }
}

/// Discards the buffered updates of a failed attempt.
pub(crate) fn abort_task() {
    PENDING.with(|p| p.borrow_mut().take());
}
