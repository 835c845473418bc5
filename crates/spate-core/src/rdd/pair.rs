//! Operators on RDDs of key–value pairs: aggregation by key, joins, partitioning, sorting.

use super::Rdd;
use crate::data::{Data, Key, Merge};
use crate::error::Result;
use crate::partitioner::{HashPartitioner, Partitioner, PartitionerTag, RangePartitioner};
use crate::plan::{
    Batch, Dep, Node, Op, ShuffleDep, TypeOps, WriteFn, ZipFn, boxed, downcast, take_all,
    take_shared, view_shared,
};
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use rustc_hash::FxHashMap;
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::Arc;

/// Where each key goes: the partition count, the routing function and, when the routing is a
/// reusable partitioner, its identity (so co-partitioned inputs skip the shuffle).
pub(crate) struct Router<K> {
    pub partitions: usize,
    pub route: Arc<dyn Fn(&K) -> usize + Send + Sync>,
    pub tag: Option<PartitionerTag>,
}

impl<K> Clone for Router<K> {
    fn clone(&self) -> Self {
        Router {
            partitions: self.partitions,
            route: Arc::clone(&self.route),
            tag: self.tag,
        }
    }
}

impl<K: Key> From<Partitioner<K>> for Router<K> {
    fn from(p: Partitioner<K>) -> Router<K> {
        let partitions = p.partitions();
        let tag = Some(p.tag());
        Router {
            partitions,
            route: Arc::new(move |k: &K| p.partition(k)),
            tag,
        }
    }
}

impl<K: Key> Router<K> {
    pub(crate) fn hash(partitions: usize) -> Router<K> {
        Partitioner::Hash(HashPartitioner::new(partitions)).into()
    }
}

type CreateFn<V, C> = Arc<dyn Fn(V) -> C + Send + Sync>;
type MergeValueFn<C, V> = Arc<dyn Fn(&mut C, V) + Send + Sync>;
type MergeCombinersFn<C> = Arc<dyn Fn(&mut C, C) + Send + Sync>;

/// Folds `(K, V)` records into `map` with `create` / `merge_value`.
fn fold_values<K: Key, V, C>(
    map: &mut FxHashMap<K, C>,
    records: Vec<(K, V)>,
    create: &dyn Fn(V) -> C,
    merge_value: &dyn Fn(&mut C, V),
) {
    for (k, v) in records {
        match map.entry(k) {
            Entry::Occupied(mut e) => merge_value(e.get_mut(), v),
            Entry::Vacant(e) => {
                e.insert(create(v));
            }
        }
    }
}

/// How many leading records of a map partition [`combining_shrinks`] looks at.
const COMBINE_SAMPLE: usize = 4096;

/// Whether combining a map partition by key is likely to shrink it: false when its first
/// [`COMBINE_SAMPLE`] records have no repeated key (as when the partition was already
/// reduced per key upstream), in which case the map-side combine is skipped — Spark SQL's
/// adaptive partial-aggregation skip. Only the shuffle volume depends on the guess, never
/// the result: the reduce side merges whatever arrives.
fn combining_shrinks<K: Key, V>(records: &[(K, V)]) -> bool {
    let sample = &records[..records.len().min(COMBINE_SAMPLE)];
    if sample.len() < 2 {
        return false;
    }
    let mut seen: rustc_hash::FxHashSet<&K> =
        rustc_hash::FxHashSet::with_capacity_and_hasher(sample.len(), Default::default());
    !sample.iter().all(|(k, _)| seen.insert(k))
}

/// Splits `(K, V)` records into one bucket per partition.
fn bucketize<K, V>(records: impl Iterator<Item = (K, V)>, router: &Router<K>) -> Vec<Batch>
where
    K: Key,
    V: Data,
{
    let n = router.partitions;
    // Keys spread about evenly: reserve a share (plus slack) to avoid most regrowth.
    let share = records.size_hint().0 / n + records.size_hint().0 / (8 * n) + 1;
    let mut buckets: Vec<Vec<(K, V)>> = (0..n).map(|_| Vec::with_capacity(share)).collect();
    for (k, v) in records {
        let p = (router.route)(&k);
        buckets[p.min(n - 1)].push((k, v));
    }
    buckets.into_iter().map(boxed).collect()
}

impl<K: Key, V: Data> Rdd<(K, V)> {
    /// The keys.
    pub fn keys(&self) -> Rdd<K> {
        self.narrow("keys", None, |_, records| {
            Ok(records.into_iter().map(|(k, _)| k).collect())
        })
    }

    /// The values.
    pub fn values(&self) -> Rdd<V> {
        self.narrow("values", None, |_, records| {
            Ok(records.into_iter().map(|(_, v)| v).collect())
        })
    }

    /// Applies `f` to every value, keeping keys and partitioning.
    pub fn map_values<U: Data>(&self, f: impl Fn(V) -> U + Send + Sync + 'static) -> Rdd<(K, U)> {
        self.narrow("map_values", self.node.partitioner, move |_, records| {
            Ok(records.into_iter().map(|(k, v)| (k, f(v))).collect())
        })
    }

    /// Replaces every value by the values `f` returns for it, keeping keys and partitioning.
    pub fn flat_map_values<U: Data, I: IntoIterator<Item = U>>(
        &self,
        f: impl Fn(V) -> I + Send + Sync + 'static,
    ) -> Rdd<(K, U)> {
        self.narrow(
            "flat_map_values",
            self.node.partitioner,
            move |_, records| {
                let mut out = Vec::with_capacity(records.len());
                for (k, v) in records {
                    out.extend(f(v).into_iter().map(|u| (k.clone(), u)));
                }
                Ok(out)
            },
        )
    }

    /// The partitioner a keyed operator uses when none is given: the input's own hash
    /// partitioning if it has one (so no shuffle is needed), else hashing into as many
    /// partitions as the input has.
    fn default_router(&self) -> Router<K> {
        match self.node.partitioner {
            Some(PartitionerTag::Hash(n)) if n == self.node.partitions => Router::hash(n),
            _ => Router::hash(self.node.partitions),
        }
    }

    fn is_partitioned_by(&self, router: &Router<K>) -> bool {
        router.tag.is_some()
            && self.node.partitioner == router.tag
            && self.node.partitions == router.partitions
    }

    /// The general keyed aggregation (Spark's `combineByKey`): for every key, the first
    /// value becomes a combiner with `create`, later values are folded in with
    /// `merge_value`, and combiners from different map partitions are merged with
    /// `merge_combiners`. Values are combined on the map side before the shuffle, so only
    /// one record per key and map partition crosses it.
    ///
    /// Cost: O(records) hash-map work; one shuffle unless the input is already partitioned
    /// by `partitioner`.
    pub fn combine_by_key<C: Data>(
        &self,
        create: impl Fn(V) -> C + Send + Sync + 'static,
        merge_value: impl Fn(&mut C, V) + Send + Sync + 'static,
        merge_combiners: impl Fn(&mut C, C) + Send + Sync + 'static,
        partitioner: impl Into<Partitioner<K>>,
    ) -> Rdd<(K, C)> {
        self.combine_with(
            "combine_by_key",
            partitioner.into().into(),
            Arc::new(create),
            Arc::new(merge_value),
            Arc::new(merge_combiners),
            true,
        )
    }

    pub(crate) fn combine_with<C: Data>(
        &self,
        name: &'static str,
        router: Router<K>,
        create: CreateFn<V, C>,
        merge_value: MergeValueFn<C, V>,
        merge_combiners: MergeCombinersFn<C>,
        map_side_combine: bool,
    ) -> Rdd<(K, C)> {
        if self.is_partitioned_by(&router) {
            return self.narrow(name, router.tag, move |_, records| {
                let mut map = FxHashMap::default();
                fold_values(&mut map, records, &*create, &*merge_value);
                Ok(map.into_iter().collect())
            });
        }
        let partitions = router.partitions;
        let tag = router.tag;
        if map_side_combine {
            let write_create = Arc::clone(&create);
            let write: WriteFn = Arc::new(move |batch| {
                let records = downcast::<(K, V)>(batch)?;
                if !combining_shrinks(&records) {
                    // Already one record per key (say, counted per partition upstream):
                    // a map would cost a hash-map pass and shrink nothing.
                    let combiners = records.into_iter().map(|(k, v)| (k, write_create(v)));
                    return Ok(bucketize(combiners, &router));
                }
                let mut map = FxHashMap::default();
                fold_values(&mut map, records, &*write_create, &*merge_value);
                Ok(bucketize(map.into_iter(), &router))
            });
            let zip: ZipFn = Arc::new(move |_, inputs| {
                // Buckets stay in the shuffle store (for retries), so they are read in
                // place: a key is cloned once per output partition, not once per bucket.
                let buckets = inputs
                    .iter()
                    .flatten()
                    .map(view_shared::<(K, C)>)
                    .collect::<Result<Vec<_>>>()?;
                // At least as many keys as the largest bucket: start there, not from empty.
                let largest = buckets.iter().map(|b| b.len()).max().unwrap_or(0);
                let mut map: FxHashMap<K, C> =
                    FxHashMap::with_capacity_and_hasher(largest, Default::default());
                for bucket in buckets {
                    for (k, c) in bucket {
                        match map.get_mut(k) {
                            Some(acc) => merge_combiners(acc, c.clone()),
                            None => {
                                map.insert(k.clone(), c.clone());
                            }
                        }
                    }
                }
                Ok(boxed(map.into_iter().collect::<Vec<_>>()))
            });
            self.shuffle_into::<(K, C), (K, C)>(name, partitions, tag, write, zip)
        } else {
            let write: WriteFn = Arc::new(move |batch| {
                Ok(bucketize(downcast::<(K, V)>(batch)?.into_iter(), &router))
            });
            let zip: ZipFn = Arc::new(move |_, inputs| {
                let mut map = FxHashMap::default();
                for bucket in inputs.into_iter().flatten() {
                    fold_values(
                        &mut map,
                        take_shared::<(K, V)>(bucket)?,
                        &*create,
                        &*merge_value,
                    );
                }
                Ok(boxed(map.into_iter().collect::<Vec<_>>()))
            });
            self.shuffle_into::<(K, V), (K, C)>(name, partitions, tag, write, zip)
        }
    }

    /// Merges the values of each key with `f` (associative and commutative), combining on
    /// the map side. Keeps the input's partition count.
    pub fn reduce_by_key(&self, f: impl Fn(V, V) -> V + Send + Sync + 'static) -> Rdd<(K, V)> {
        let router = self.default_router();
        self.reduce_by_key_with(f, router)
    }

    /// [`reduce_by_key`](Rdd::reduce_by_key) into `partitions` hash partitions.
    pub fn reduce_by_key_into(
        &self,
        f: impl Fn(V, V) -> V + Send + Sync + 'static,
        partitions: usize,
    ) -> Rdd<(K, V)> {
        self.reduce_by_key_with(f, Router::hash(partitions.max(1)))
    }

    pub(crate) fn reduce_by_key_with(
        &self,
        f: impl Fn(V, V) -> V + Send + Sync + 'static,
        router: Router<K>,
    ) -> Rdd<(K, V)> {
        // Values are held as `Option<V>` while folding so `f` can take both by value.
        let f = Arc::new(f);
        let f2 = Arc::clone(&f);
        let combined = self.combine_with(
            "reduce_by_key",
            router,
            Arc::new(Some),
            Arc::new(move |acc: &mut Option<V>, v: V| {
                *acc = Some(match acc.take() {
                    Some(a) => f(a, v),
                    None => v,
                });
            }),
            Arc::new(move |acc: &mut Option<V>, c: Option<V>| {
                *acc = match (acc.take(), c) {
                    (Some(a), Some(b)) => Some(f2(a, b)),
                    (a, b) => a.or(b),
                };
            }),
            true,
        );
        combined.unwrap_options("reduce_by_key")
    }

    /// Merges the values of each key with their [`Merge`] implementation.
    pub fn merge_by_key(&self) -> Rdd<(K, V)>
    where
        V: Merge,
    {
        self.combine_with(
            "merge_by_key",
            self.default_router(),
            Arc::new(|v| v),
            Arc::new(|acc: &mut V, v: V| acc.merge(&v)),
            Arc::new(|acc: &mut V, c: V| acc.merge(&c)),
            true,
        )
    }

    /// Folds the values of each key with `seq` starting from a copy of `zero`, merging
    /// partial results with `comb` (Spark's `aggregateByKey`).
    pub fn aggregate_by_key<U: Data>(
        &self,
        zero: U,
        seq: impl Fn(U, V) -> U + Send + Sync + 'static,
        comb: impl Fn(U, U) -> U + Send + Sync + 'static,
    ) -> Rdd<(K, U)> {
        let seq = Arc::new(seq);
        let seq2 = Arc::clone(&seq);
        let comb = Arc::new(comb);
        let combined = self.combine_with(
            "aggregate_by_key",
            self.default_router(),
            Arc::new(move |v| Some(seq(zero.clone(), v))),
            Arc::new(move |acc: &mut Option<U>, v: V| {
                if let Some(a) = acc.take() {
                    *acc = Some(seq2(a, v));
                }
            }),
            Arc::new(move |acc: &mut Option<U>, c: Option<U>| {
                *acc = match (acc.take(), c) {
                    (Some(a), Some(b)) => Some(comb(a, b)),
                    (a, b) => a.or(b),
                };
            }),
            true,
        );
        combined.unwrap_options("aggregate_by_key")
    }

    /// All values of each key, in a `Vec` (no map-side combine: it would not shrink data).
    pub fn group_by_key(&self) -> Rdd<(K, Vec<V>)> {
        self.combine_with(
            "group_by_key",
            self.default_router(),
            Arc::new(|v| vec![v]),
            Arc::new(|acc: &mut Vec<V>, v| acc.push(v)),
            Arc::new(|acc: &mut Vec<V>, mut c| acc.append(&mut c)),
            false,
        )
    }

    /// The records redistributed by `partitioner` (no-op if already partitioned by it).
    pub fn partition_by(&self, partitioner: impl Into<Partitioner<K>>) -> Rdd<(K, V)> {
        let router: Router<K> = partitioner.into().into();
        self.partition_by_router("partition_by", router)
    }

    pub(crate) fn partition_by_router(&self, name: &'static str, router: Router<K>) -> Rdd<(K, V)> {
        if self.is_partitioned_by(&router) {
            return self.clone();
        }
        let partitions = router.partitions;
        let tag = router.tag;
        let write: WriteFn =
            Arc::new(move |batch| Ok(bucketize(downcast::<(K, V)>(batch)?.into_iter(), &router)));
        let zip: ZipFn =
            Arc::new(|_, inputs| Ok(boxed(take_all::<(K, V)>(inputs.into_iter().flatten())?)));
        self.shuffle_into::<(K, V), (K, V)>(name, partitions, tag, write, zip)
    }

    /// The dependency through which an operator partitioned by `HashPartitioner(n)` reads
    /// `self`: one-to-one if already partitioned so, else a shuffle.
    pub(crate) fn dep_for_hash(&self, partitions: usize) -> Dep {
        self.dep_for(&Router::hash(partitions.max(1)))
    }

    /// The dependency through which a co-partitioned operator reads `self`.
    fn dep_for(&self, router: &Router<K>) -> Dep {
        if self.is_partitioned_by(router) {
            return Dep::OneToOne(Arc::clone(&self.node));
        }
        let env = &self.node.env;
        let route = router.clone();
        Dep::Shuffle(Arc::new(ShuffleDep {
            id: env.next_id(),
            parent: Arc::clone(&self.node),
            partitions: router.partitions,
            write: Arc::new(move |batch| {
                Ok(bucketize(downcast::<(K, V)>(batch)?.into_iter(), &route))
            }),
            bucket_ops: TypeOps::of::<(K, V)>(),
            env: Arc::clone(env),
        }))
    }

    /// For each key in either RDD, the values from `self` and from `other`.
    pub fn cogroup<W: Data>(&self, other: &Rdd<(K, W)>) -> Rdd<(K, (Vec<V>, Vec<W>))> {
        let router = self.join_router(other);
        self.cogroup_with(other, router)
    }

    /// The partitioner for a binary operator: reuse a hash partitioning either side already
    /// has, else hash into the larger partition count.
    fn join_router<W: Data>(&self, other: &Rdd<(K, W)>) -> Router<K> {
        for tag in [self.node.partitioner, other.node.partitioner]
            .into_iter()
            .flatten()
        {
            if let PartitionerTag::Hash(n) = tag {
                return Router::hash(n);
            }
        }
        Router::hash(self.node.partitions.max(other.node.partitions))
    }

    pub(crate) fn cogroup_with<W: Data>(
        &self,
        other: &Rdd<(K, W)>,
        router: Router<K>,
    ) -> Rdd<(K, (Vec<V>, Vec<W>))> {
        let deps = vec![self.dep_for(&router), other.dep_for(&router)];
        let zip: ZipFn = Arc::new(|_, inputs| {
            let mut groups: FxHashMap<K, (Vec<V>, Vec<W>)> = FxHashMap::default();
            let mut sides = inputs.into_iter();
            for batch in sides.next().into_iter().flatten() {
                for (k, v) in take_shared::<(K, V)>(batch)? {
                    groups.entry(k).or_default().0.push(v);
                }
            }
            for batch in sides.next().into_iter().flatten() {
                for (k, w) in take_shared::<(K, W)>(batch)? {
                    groups.entry(k).or_default().1.push(w);
                }
            }
            Ok(boxed(groups.into_iter().collect::<Vec<_>>()))
        });
        Rdd::from_node(Node::new(
            &self.node.env,
            "cogroup",
            router.partitions,
            router.tag,
            TypeOps::of::<(K, (Vec<V>, Vec<W>))>(),
            Op::CoPartition { deps, f: zip },
        ))
    }

    /// Pairs of values with equal keys (inner join).
    pub fn join<W: Data>(&self, other: &Rdd<(K, W)>) -> Rdd<(K, (V, W))> {
        self.cogroup(other)
            .flat_map_values(|(vs, ws)| cross(vs, ws, |v, w| Some((v?, w?))))
    }

    /// Every record of `self` with the matching values of `other`, or `None` if it has none.
    pub fn left_outer_join<W: Data>(&self, other: &Rdd<(K, W)>) -> Rdd<(K, (V, Option<W>))> {
        self.cogroup(other).flat_map_values(|(vs, ws)| {
            let ws = if ws.is_empty() {
                vec![None]
            } else {
                ws.into_iter().map(Some).collect()
            };
            cross(vs, ws, |v, w| Some((v?, w?)))
        })
    }

    /// Every record of `other` with the matching values of `self`, or `None` if it has none.
    pub fn right_outer_join<W: Data>(&self, other: &Rdd<(K, W)>) -> Rdd<(K, (Option<V>, W))> {
        self.cogroup(other).flat_map_values(|(vs, ws)| {
            let vs = if vs.is_empty() {
                vec![None]
            } else {
                vs.into_iter().map(Some).collect()
            };
            cross(vs, ws, |v, w| Some((v?, w?)))
        })
    }

    /// Every key of either side; values missing on one side are `None`.
    pub fn full_outer_join<W: Data>(
        &self,
        other: &Rdd<(K, W)>,
    ) -> Rdd<(K, (Option<V>, Option<W>))> {
        self.cogroup(other).flat_map_values(|(vs, ws)| {
            let vs: Vec<Option<V>> = if vs.is_empty() {
                vec![None]
            } else {
                vs.into_iter().map(Some).collect()
            };
            let ws: Vec<Option<W>> = if ws.is_empty() {
                vec![None]
            } else {
                ws.into_iter().map(Some).collect()
            };
            cross(vs, ws, |v, w| Some((v?, w?)))
        })
    }

    /// The number of records per key, at the driver.
    pub fn count_by_key(&self) -> Result<HashMap<K, u64>> {
        Ok(self
            .map_values(|_| 1_u64)
            .reduce_by_key(|a, b| a + b)
            .collect()?
            .into_iter()
            .collect())
    }

    /// The records as a map at the driver (a later value wins for duplicate keys).
    pub fn collect_as_map(&self) -> Result<HashMap<K, V>> {
        Ok(self.collect()?.into_iter().collect())
    }

    /// All values of `key`. Reads only the key's partition when the RDD is hash-partitioned.
    pub fn lookup(&self, key: &K) -> Result<Vec<V>> {
        let partitions: Vec<usize> = match self.node.partitioner {
            Some(PartitionerTag::Hash(n)) if n == self.node.partitions => {
                vec![HashPartitioner::new(n).partition(key)]
            }
            _ => (0..self.node.partitions).collect(),
        };
        let found = crate::scheduler::run_job(&self.node, &partitions, |_, batch| {
            Ok(downcast::<(K, V)>(batch)?
                .into_iter()
                .filter(|(k, _)| k == key)
                .map(|(_, v)| v)
                .collect::<Vec<V>>())
        })?;
        Ok(found.into_iter().flatten().collect())
    }
}

/// All pairs of `a` and `b` (cloning as needed), keeping those `f` maps to `Some`.
fn cross<A: Clone, B: Clone, R>(
    a: Vec<A>,
    b: Vec<B>,
    f: impl Fn(Option<A>, Option<B>) -> Option<R>,
) -> Vec<R> {
    let mut out = Vec::with_capacity(a.len() * b.len());
    for x in &a {
        for y in &b {
            if let Some(r) = f(Some(x.clone()), Some(y.clone())) {
                out.push(r);
            }
        }
    }
    out
}

impl<K: Key, V: Data> Rdd<(K, Option<V>)> {
    /// Drops the `None` placeholders of a fold, keeping the partitioning.
    fn unwrap_options(&self, name: &'static str) -> Rdd<(K, V)> {
        self.narrow(name, self.node.partitioner, |_, records| {
            Ok(records
                .into_iter()
                .filter_map(|(k, v)| v.map(|v| (k, v)))
                .collect())
        })
    }
}

impl<K: Key + Ord, V: Data> Rdd<(K, V)> {
    /// The records sorted by key across partitions: partition `i` holds keys no greater than
    /// those of partition `i + 1` (reversed when descending), each partition sorted. Samples
    /// the keys with a job to choose balanced ranges, so it returns a `Result`.
    pub fn sort_by_key(&self, ascending: bool) -> Result<Rdd<(K, V)>> {
        self.sort_by_key_into(ascending, self.node.partitions)
    }

    /// [`sort_by_key`](Rdd::sort_by_key) into `partitions` partitions.
    pub fn sort_by_key_into(&self, ascending: bool, partitions: usize) -> Result<Rdd<(K, V)>> {
        let partitions = partitions.max(1);
        let per_partition = (20 * partitions).div_ceil(self.node.partitions.max(1)) * 3;
        let sample: Vec<K> = self
            .keys()
            .run_partitions(|p, keys| Ok(reservoir(keys, per_partition, p as u64)))?
            .into_iter()
            .flatten()
            .collect();
        let ranges = RangePartitioner::from_sample(sample, partitions);
        let n = ranges.partitions();
        let ranges = Arc::new(ranges);
        let route: Arc<dyn Fn(&K) -> usize + Send + Sync> = if ascending {
            let r = Arc::clone(&ranges);
            Arc::new(move |k: &K| r.partition(k))
        } else {
            let r = Arc::clone(&ranges);
            Arc::new(move |k: &K| n - 1 - r.partition(k))
        };
        let router = Router {
            partitions: n,
            route,
            tag: None,
        };
        let shuffled = self.partition_by_router("sort_by_key", router);
        Ok(shuffled.narrow("sort_by_key", None, move |_, mut records| {
            if ascending {
                records.sort_by(|a, b| a.0.cmp(&b.0));
            } else {
                records.sort_by(|a, b| b.0.cmp(&a.0));
            }
            Ok(records)
        }))
    }
}

/// A uniform sample of at most `k` items (reservoir sampling, seeded).
fn reservoir<T>(items: Vec<T>, k: usize, seed: u64) -> Vec<T> {
    if items.len() <= k {
        return items;
    }
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let mut out = Vec::with_capacity(k);
    for (i, item) in items.into_iter().enumerate() {
        if i < k {
            out.push(item);
        } else {
            let j = rng.random_range(0..=i);
            if j < k {
                out[j] = item;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn combining_is_skipped_only_when_the_sample_has_no_repeated_key() {
        let distinct: Vec<(u32, u8)> = (0..10_000).map(|k| (k, 1)).collect();
        assert!(!combining_shrinks(&distinct));
        // A repeat beyond the sample is not seen (the documented cost: a larger shuffle).
        let mut late_repeat = distinct.clone();
        late_repeat.push((0, 1));
        assert!(!combining_shrinks(&late_repeat));
        let mut early_repeat = distinct;
        early_repeat[100].0 = 3;
        assert!(combining_shrinks(&early_repeat));
        assert!(!combining_shrinks::<u32, u8>(&[]));
        assert!(!combining_shrinks(&[(1_u32, 1_u8)]));
        assert!(combining_shrinks(&[(1_u32, 1_u8), (1, 2)]));
    }

    #[test]
    fn reduce_by_key_is_exact_with_and_without_the_map_side_combine() {
        let sc = crate::SpateContext::sequential(2);
        // Partitions already reduced per key (the combine is skipped), partitions with
        // repeats (it runs), and a mix, against a hash-map reference.
        let reduced: Vec<Vec<(u32, u64)>> = (0..3)
            .map(|p| (0..5_000).map(|k| (k, p + 1)).collect())
            .collect();
        let repeated: Vec<Vec<(u32, u64)>> = (0..3)
            .map(|p| (0..5_000).map(|i| (i % 7, p + i as u64)).collect())
            .collect();
        let mixed = vec![reduced[0].clone(), repeated[1].clone()];
        for parts in [reduced, repeated, mixed] {
            let mut want: FxHashMap<u32, u64> = FxHashMap::default();
            for (k, v) in parts.iter().flatten() {
                *want.entry(*k).or_default() += v;
            }
            let got = sc
                .parallelize_partitions(parts)
                .reduce_by_key_into(|a, b| a + b, 4)
                .collect()
                .unwrap();
            assert_eq!(got.len(), want.len());
            for (k, v) in got {
                assert_eq!(want.get(&k), Some(&v), "key {k}");
            }
        }
    }
}
