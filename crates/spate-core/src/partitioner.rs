//! How keyed records are assigned to partitions.
//!
//! The key → partition function is part of Spate's on-disk contract, since checkpointed
//! state is stored by partition: it is [`stable_hash`] — xxh3-64 (seed 0) of the key's
//! bincode 1 encoding (fixed-width little-endian integers, `u64` lengths) — mapped onto
//! `0..n` by a multiply-shift. Both are published, versioned formats, so the same key goes
//! to the same partition in every run, process, machine and toolchain; golden values in the
//! tests catch any change.

use crate::data::Key;
use serde::Serialize;
use std::cell::RefCell;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// A stable 64-bit hash of `value`: xxh3-64 (seed 0) of its bincode encoding. The same in
/// every run, thread, process and toolchain.
pub fn stable_hash<T: Serialize + ?Sized>(value: &T) -> u64 {
    thread_local! {
        static BUFFER: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    }
    fn hash_into<T: Serialize + ?Sized>(buffer: &mut Vec<u8>, value: &T) -> u64 {
        buffer.clear();
        // Encoding into memory fails only for sequences of unknown length; the bytes written
        // up to that point are still a deterministic function of the value.
        let _ = bincode::serialize_into(&mut *buffer, value);
        xxhash_rust::xxh3::xxh3_64(buffer)
    }
    BUFFER.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buffer) => hash_into(&mut buffer, value),
        Err(_) => hash_into(&mut Vec::new(), value),
    })
}

/// Maps a 64-bit hash onto `0..n` without the bias of a modulo (Lemire's multiply-shift).
#[inline]
pub(crate) fn bucket_of_hash(hash: u64, n: usize) -> usize {
    ((hash as u128 * n as u128) >> 64) as usize
}

/// Assigns keys to partitions by hash: `HashPartitioner::new(8)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct HashPartitioner {
    partitions: usize,
}

impl HashPartitioner {
    /// A partitioner over `partitions` partitions (at least 1; 0 is treated as 1).
    pub fn new(partitions: usize) -> HashPartitioner {
        HashPartitioner {
            partitions: partitions.max(1),
        }
    }

    /// The number of partitions.
    pub fn partitions(&self) -> usize {
        self.partitions
    }

    /// The partition of `key`: [`stable_hash`] mapped onto `0..partitions`.
    #[inline]
    pub fn partition<K: Serialize + ?Sized>(&self, key: &K) -> usize {
        bucket_of_hash(stable_hash(key), self.partitions)
    }
}

/// Assigns keys to partitions by sorted ranges: keys `<= bounds[0]` go to partition 0, keys in
/// `(bounds[i-1], bounds[i]]` to partition `i`, larger keys to the last partition.
///
/// Build one from explicit bounds, or let [`Rdd::sort_by_key`](crate::Rdd::sort_by_key) and
/// [`RangePartitioner::from_rdd`] sample the keys.
pub struct RangePartitioner<K> {
    bounds: Vec<K>,
    id: u64,
    // Captured where `K: Ord` is known, so that `Partitioner<K>` can route keys without
    // carrying an `Ord` bound through every keyed operator.
    locate: fn(&[K], &K) -> usize,
}

impl<K: std::fmt::Debug> std::fmt::Debug for RangePartitioner<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RangePartitioner")
            .field("bounds", &self.bounds)
            .finish()
    }
}

fn locate_sorted<K: Ord>(bounds: &[K], key: &K) -> usize {
    bounds.partition_point(|b| b < key)
}

static NEXT_RANGE_ID: AtomicU64 = AtomicU64::new(1);

impl<K: Key + Ord> RangePartitioner<K> {
    /// A partitioner with the given upper bounds (sorted and deduplicated here), giving
    /// `bounds.len() + 1` partitions.
    pub fn new(mut bounds: Vec<K>) -> RangePartitioner<K> {
        bounds.sort();
        bounds.dedup();
        RangePartitioner {
            bounds,
            id: NEXT_RANGE_ID.fetch_add(1, Ordering::Relaxed),
            locate: locate_sorted::<K>,
        }
    }

    /// The number of partitions.
    pub fn partitions(&self) -> usize {
        self.bounds.len() + 1
    }

    /// The partition of `key`.
    #[inline]
    pub fn partition(&self, key: &K) -> usize {
        (self.locate)(&self.bounds, key)
    }

    /// The upper bounds of all partitions but the last.
    pub fn bounds(&self) -> &[K] {
        &self.bounds
    }

    /// Picks `partitions - 1` bounds as evenly spaced quantiles of a key sample.
    pub fn from_sample(mut sample: Vec<K>, partitions: usize) -> RangePartitioner<K> {
        sample.sort();
        let n = sample.len();
        let parts = partitions.max(1);
        let bounds = if n == 0 {
            Vec::new()
        } else {
            (1..parts)
                .map(|i| sample[(i * n / parts).min(n - 1)].clone())
                .collect()
        };
        RangePartitioner::new(bounds)
    }
}

/// A partitioner for keys of type `K`: by hash or by range.
pub enum Partitioner<K> {
    /// By hash of the key.
    Hash(HashPartitioner),
    /// By sorted key ranges.
    Range(Arc<RangePartitioner<K>>),
}

impl<K: std::fmt::Debug> std::fmt::Debug for Partitioner<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Partitioner::Hash(h) => h.fmt(f),
            Partitioner::Range(r) => r.fmt(f),
        }
    }
}

impl<K> Clone for Partitioner<K> {
    fn clone(&self) -> Self {
        match self {
            Partitioner::Hash(h) => Partitioner::Hash(*h),
            Partitioner::Range(r) => Partitioner::Range(Arc::clone(r)),
        }
    }
}

impl<K: Key + Ord> From<RangePartitioner<K>> for Partitioner<K> {
    fn from(p: RangePartitioner<K>) -> Self {
        Partitioner::Range(Arc::new(p))
    }
}

impl<K> From<HashPartitioner> for Partitioner<K> {
    fn from(p: HashPartitioner) -> Self {
        Partitioner::Hash(p)
    }
}

impl<K: Key> Partitioner<K> {
    /// The number of partitions.
    pub fn partitions(&self) -> usize {
        match self {
            Partitioner::Hash(h) => h.partitions(),
            Partitioner::Range(r) => r.bounds.len() + 1,
        }
    }

    /// The partition of `key`.
    #[inline]
    pub fn partition(&self, key: &K) -> usize {
        match self {
            Partitioner::Hash(h) => h.partition(key),
            Partitioner::Range(r) => (r.locate)(&r.bounds, key),
        }
    }

    /// An identity used by the plan to see that two RDDs are partitioned alike, so that a
    /// join between them needs no shuffle.
    pub(crate) fn tag(&self) -> PartitionerTag {
        match self {
            Partitioner::Hash(h) => PartitionerTag::Hash(h.partitions()),
            Partitioner::Range(r) => PartitionerTag::Range(r.id),
        }
    }
}

/// Identity of a partitioning scheme, used to detect co-partitioned inputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum PartitionerTag {
    Hash(usize),
    Range(u64),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_partitions_are_stable_and_in_range() {
        let p = HashPartitioner::new(7);
        for k in 0..1000_u64 {
            let a = p.partition(&k);
            assert!(a < 7);
            assert_eq!(a, p.partition(&k));
        }
        // Spread: every partition gets a fair share of 7000 keys.
        let mut counts = [0_usize; 7];
        for k in 0..7000_u64 {
            counts[p.partition(&k)] += 1;
        }
        assert!(counts.iter().all(|&c| c > 800 && c < 1200), "{counts:?}");
    }

    /// Golden values: the hash is xxh3-64 of the bincode encoding, checked against the
    /// `xxhash` Python package on the explicit bytes (`xxh3_64_intdigest`), so neither the
    /// encoding nor the hash can change unnoticed. A change here moves checkpointed state
    /// between partitions: it needs a checkpoint format change.
    #[test]
    fn the_partition_hash_is_pinned() {
        assert_eq!(stable_hash(&0_u64), 14374147212387527897);
        assert_eq!(stable_hash(&42_u64), 15395265915043915720);
        assert_eq!(stable_hash(&7_u32), 6318062648460624204);
        // A string: its u64 length, then its bytes.
        assert_eq!(stable_hash("spate"), 11009611104152932890);
        assert_eq!(stable_hash(&"spate".to_string()), 11009611104152932890);
        // A tuple: its fields in order.
        assert_eq!(stable_hash(&("a", 1_u32)), 18187926926899416093);
        let p = HashPartitioner::new(8);
        assert_eq!(
            (0..5_u64).map(|k| p.partition(&k)).collect::<Vec<_>>(),
            vec![6, 1, 1, 2, 6]
        );
    }

    #[test]
    fn range_partitioner_respects_bounds() {
        let r = RangePartitioner::new(vec![10, 20]);
        assert_eq!(r.partition(&5), 0);
        assert_eq!(r.partition(&10), 0);
        assert_eq!(r.partition(&11), 1);
        assert_eq!(r.partition(&20), 1);
        assert_eq!(r.partition(&21), 2);
        assert_eq!(r.partitions(), 3);
    }
}
