//! Space-Saving heavy hitters (top-k).

use crate::count_min::check_size;
use crate::error::StatsError;
use crate::hash::{StableBuildHasher, stable_hash};
use serde::de::{Deserialize, Deserializer};
use serde::ser::{Serialize, Serializer};
use spate_core::{Key, Merge};
use std::collections::HashMap;
use std::marker::PhantomData;

const DEFAULT_CAPACITY: usize = 100;
const MAX_CAPACITY: usize = 1 << 24;

/// One monitored item: `count − error ≤ true count ≤ count`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Counter<T> {
    /// The item.
    pub item: T,
    /// Upper bound of its true count.
    pub count: u64,
    /// Maximum overestimation: the true count is at least `count − error`.
    pub error: u64,
}

/// Checked parameters for [`SpaceSaving`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpaceSavingParams<T> {
    capacity: usize,
    item: PhantomData<fn() -> T>,
}

impl<T: Key> SpaceSavingParams<T> {
    /// Number of counters (1..=2^24, default 100).
    pub fn capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity;
        self
    }

    /// Validate the parameters.
    pub fn build(self) -> Result<SpaceSaving<T>, StatsError> {
        check_size("capacity", self.capacity, 1, MAX_CAPACITY)?;
        Ok(SpaceSaving::with_capacity(self.capacity))
    }
}

/// Heavy hitters of a stream with `capacity` counters (Metwally, Agrawal & El Abbadi 2005).
///
/// Guarantees, for a stream of `total` items: every item whose true count exceeds
/// `total / capacity` is monitored; each monitored count overestimates by at most its
/// `error ≤ total / capacity`. Counters live in an indexed min-heap, so an update costs one
/// hash lookup plus O(log capacity) (a new item is cloned once when it takes a counter).
///
/// Merging follows Cafaro, Pulimeno & Tempesta (2016): an item missing from one side is charged
/// that side's minimum count (an upper bound of its count there), then the `capacity` largest
/// counters are kept; the guarantees above hold for the merged stream. Merging is commutative
/// (ties broken by a fixed hash of the item) and associative *in its guarantees* but not
/// counter-for-counter: different merge trees can keep different borderline items. `Default`
/// has capacity 100; an empty summary takes on the capacity of whatever is merged into it, so
/// `Default` is the identity for every capacity. Merging non-empty summaries of different
/// capacity is an error in [`try_merge`](Self::try_merge) and a panic in [`Merge::merge`].
#[derive(Debug, Clone)]
pub struct SpaceSaving<T> {
    capacity: usize,
    total: u64,
    heap: Vec<Counter<T>>,
    index: HashMap<T, usize, StableBuildHasher>,
}

impl<T: Key> Default for SpaceSaving<T> {
    fn default() -> Self {
        SpaceSaving::with_capacity(DEFAULT_CAPACITY)
    }
}

/// Equal when capacity, total and the counters (in any heap order) agree.
impl<T: Key> PartialEq for SpaceSaving<T> {
    fn eq(&self, other: &Self) -> bool {
        self.capacity == other.capacity
            && self.total == other.total
            && self.top(usize::MAX) == other.top(usize::MAX)
    }
}

impl<T: Key> SpaceSaving<T> {
    /// Start configuring a summary.
    pub fn params() -> SpaceSavingParams<T> {
        SpaceSavingParams {
            capacity: DEFAULT_CAPACITY,
            item: PhantomData,
        }
    }

    fn with_capacity(capacity: usize) -> Self {
        SpaceSaving {
            capacity,
            total: 0,
            heap: Vec::new(),
            index: HashMap::default(),
        }
    }

    /// Number of counters.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Number of items seen.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Count each item of the batch once.
    pub fn update(&mut self, batch: &[T]) {
        for item in batch {
            self.add(item, 1);
        }
    }

    /// Add `count` occurrences of `item`.
    pub fn add(&mut self, item: &T, count: u64) {
        if count == 0 {
            return;
        }
        self.total = self.total.saturating_add(count);
        if let Some(&pos) = self.index.get(item) {
            self.heap[pos].count = self.heap[pos].count.saturating_add(count);
            self.sift_down(pos);
        } else if self.heap.len() < self.capacity {
            self.heap.push(Counter {
                item: item.clone(),
                count,
                error: 0,
            });
            let pos = self.heap.len() - 1;
            self.index.insert(item.clone(), pos);
            self.sift_up(pos);
        } else {
            let min = self.heap[0].count;
            let evicted = std::mem::replace(&mut self.heap[0].item, item.clone());
            self.index.remove(&evicted);
            self.index.insert(item.clone(), 0);
            self.heap[0].count = min.saturating_add(count);
            self.heap[0].error = min;
            self.sift_down(0);
        }
    }

    fn swap(&mut self, i: usize, j: usize) {
        self.heap.swap(i, j);
        for k in [i, j] {
            if let Some(p) = self.index.get_mut(&self.heap[k].item) {
                *p = k;
            }
        }
    }

    fn sift_up(&mut self, mut i: usize) {
        while i > 0 {
            let parent = (i - 1) / 2;
            if self.heap[i].count >= self.heap[parent].count {
                break;
            }
            self.swap(i, parent);
            i = parent;
        }
    }

    fn sift_down(&mut self, mut i: usize) {
        loop {
            let mut smallest = i;
            for child in [2 * i + 1, 2 * i + 2] {
                if child < self.heap.len() && self.heap[child].count < self.heap[smallest].count {
                    smallest = child;
                }
            }
            if smallest == i {
                return;
            }
            self.swap(i, smallest);
            i = smallest;
        }
    }

    /// Count bound for items not monitored: the minimum count when full, else 0.
    fn unmonitored_bound(&self) -> u64 {
        if self.heap.len() == self.capacity {
            self.heap.first().map_or(0, |c| c.count)
        } else {
            0
        }
    }

    /// The counter for `item`, if it is monitored.
    pub fn get(&self, item: &T) -> Option<&Counter<T>> {
        self.index.get(item).map(|&i| &self.heap[i])
    }

    /// The `k` largest counters, by count descending (ties by smaller error, then by a fixed
    /// hash of the item).
    pub fn top(&self, k: usize) -> Vec<Counter<T>> {
        let mut all = self.heap.clone();
        sort_desc(&mut all);
        all.truncate(k);
        all
    }

    /// Merge, or report that the two summaries have different capacities.
    pub fn try_merge(&mut self, other: &Self) -> Result<(), StatsError> {
        if other.total == 0 {
            return Ok(());
        }
        if self.total == 0 {
            *self = other.clone();
            return Ok(());
        }
        if self.capacity != other.capacity {
            return Err(StatsError::IncompatibleMerge {
                summary: "SpaceSaving",
                left: format!("capacity {}", self.capacity),
                right: format!("capacity {}", other.capacity),
            });
        }
        let (m1, m2) = (self.unmonitored_bound(), other.unmonitored_bound());
        let mut merged: Vec<Counter<T>> = Vec::with_capacity(self.heap.len() + other.heap.len());
        for c in &self.heap {
            let (count, error) = other.get(&c.item).map_or((m2, m2), |o| (o.count, o.error));
            merged.push(Counter {
                item: c.item.clone(),
                count: c.count.saturating_add(count),
                error: c.error.saturating_add(error),
            });
        }
        for c in &other.heap {
            if !self.index.contains_key(&c.item) {
                merged.push(Counter {
                    item: c.item.clone(),
                    count: c.count.saturating_add(m1),
                    error: c.error.saturating_add(m1),
                });
            }
        }
        sort_desc(&mut merged);
        merged.truncate(self.capacity);
        // Ascending order is a valid min-heap.
        merged.reverse();
        self.total = self.total.saturating_add(other.total);
        self.rebuild(merged);
        Ok(())
    }

    fn rebuild(&mut self, heap: Vec<Counter<T>>) {
        self.index.clear();
        for (i, c) in heap.iter().enumerate() {
            self.index.insert(c.item.clone(), i);
        }
        self.heap = heap;
    }
}

fn sort_desc<T: Key>(counters: &mut [Counter<T>]) {
    counters.sort_by_cached_key(|c| (std::cmp::Reverse(c.count), c.error, stable_hash(&c.item)));
}

/// See the type's docs for the merge semantics.
///
/// # Panics
/// If both summaries are non-empty and have different capacities; see
/// [`SpaceSaving::try_merge`].
impl<T: Key> Merge for SpaceSaving<T> {
    fn merge(&mut self, other: &Self) {
        if let Err(e) = self.try_merge(other) {
            panic!("{e}");
        }
    }
}

#[derive(serde::Serialize)]
struct StateRef<'a, T> {
    capacity: usize,
    total: u64,
    counters: &'a [Counter<T>],
}

#[derive(serde::Deserialize)]
struct State<T> {
    capacity: usize,
    total: u64,
    counters: Vec<Counter<T>>,
}

/// Serialized as capacity, total and the counters in heap order; the index is rebuilt on load.
impl<T: Key> Serialize for SpaceSaving<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        StateRef {
            capacity: self.capacity,
            total: self.total,
            counters: &self.heap,
        }
        .serialize(s)
    }
}

impl<'de, T: Key> Deserialize<'de> for SpaceSaving<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let state = State::<T>::deserialize(d)?;
        let mut s = SpaceSaving::with_capacity(state.capacity.max(1));
        // Re-heapify rather than trust the stored order.
        let mut counters = state.counters;
        sort_desc(&mut counters);
        counters.truncate(s.capacity);
        counters.reverse();
        s.total = state.total;
        s.rebuild(counters);
        Ok(s)
    }
}
