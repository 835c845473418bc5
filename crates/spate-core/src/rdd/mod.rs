//! [`Rdd`]: a partitioned, lazily evaluated, lineage-tracked collection.
//!
//! Transformations (`map`, `filter`, `reduce_by_key`, `join` …) only add nodes to the plan;
//! actions (`collect`, `count`, `reduce`, `foreach` …) run a job on the context's runtime.
//! Narrow transformations run in the same task as their parent, one tight loop per operator
//! over the partition's records; wide ones (`reduce_by_key`, `join`, `repartition`,
//! `sort_by_key` …) shuffle, combining on the map side where the operator allows it.

mod checkpoint;
mod pair;

use crate::context::SpateContext;
use crate::data::{Data, Key};
use crate::error::{Error, Result};
use crate::partitioner::{PartitionerTag, bucket_of_hash, stable_hash};
use crate::plan::{
    Batch, Dep, NarrowFn, Node, Op, SharedBatch, ShuffleDep, TypeOps, WriteFn, ZipFn, boxed,
    downcast, take_all, take_shared, view_shared,
};
use crate::scheduler::run_job;
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use std::cmp::Ordering as CmpOrdering;
use std::collections::HashMap;
use std::fmt::Display;
use std::io::Write;
use std::marker::PhantomData;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// A partitioned collection of records of type `T`, computed lazily from its lineage.
///
/// An `Rdd` is a cheap handle (a reference to a plan node); cloning it does not copy data.
/// See the [crate docs](crate) for an overview and an example.
#[must_use = "lazy: nothing runs until an action"]
pub struct Rdd<T> {
    pub(crate) node: Arc<Node>,
    _records: PhantomData<fn() -> T>,
}

impl<T> Clone for Rdd<T> {
    fn clone(&self) -> Self {
        Rdd {
            node: Arc::clone(&self.node),
            _records: PhantomData,
        }
    }
}

impl<T> std::fmt::Debug for Rdd<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Rdd({}, {} partitions)",
            self.node.describe(),
            self.node.partitions
        )
    }
}

impl<T: Data> Rdd<T> {
    pub(crate) fn from_node(node: Arc<Node>) -> Rdd<T> {
        Rdd {
            node,
            _records: PhantomData,
        }
    }

    /// The RDD's unique id within its context.
    pub fn id(&self) -> u64 {
        self.node.id
    }

    /// The operator that made this RDD, e.g. `"map"`.
    pub fn name(&self) -> &str {
        &self.node.name
    }

    /// The number of partitions.
    pub fn num_partitions(&self) -> usize {
        self.node.partitions
    }

    /// The context this RDD belongs to.
    pub fn context(&self) -> SpateContext {
        SpateContext {
            env: Arc::clone(&self.node.env),
        }
    }

    /// The lineage as an indented listing, shuffles marked (Spark's `toDebugString`).
    pub fn lineage(&self) -> String {
        self.node.lineage()
    }

    /// A narrow node applying `f` to each partition of `self`.
    pub(crate) fn narrow<U: Data>(
        &self,
        name: &'static str,
        partitioner: Option<PartitionerTag>,
        f: impl Fn(usize, Vec<T>) -> Result<Vec<U>> + Send + Sync + 'static,
    ) -> Rdd<U> {
        let f = NarrowFn::Owned(Arc::new(move |p: usize, b: Batch| {
            Ok(boxed(f(p, downcast::<T>(b)?)?))
        }));
        Rdd::from_node(Node::new(
            &self.node.env,
            name,
            self.node.partitions,
            partitioner,
            TypeOps::of::<U>(),
            Op::Narrow {
                parent: Arc::clone(&self.node),
                f,
            },
        ))
    }

    /// A narrow node applying `f` to each partition of `self`, read by reference.
    pub(crate) fn narrow_ref<U: Data>(
        &self,
        name: &'static str,
        f: impl Fn(usize, &[T]) -> Result<Vec<U>> + Send + Sync + 'static,
    ) -> Rdd<U> {
        let f = NarrowFn::Borrowed(Arc::new(move |p: usize, b: &SharedBatch| {
            Ok(boxed(f(p, view_shared::<T>(b)?)?))
        }));
        Rdd::from_node(Node::new(
            &self.node.env,
            name,
            self.node.partitions,
            None,
            TypeOps::of::<U>(),
            Op::Narrow {
                parent: Arc::clone(&self.node),
                f,
            },
        ))
    }

    // ---------------------------------------------------------------- narrow transformations

    /// Applies `f` to every record.
    pub fn map<U: Data>(&self, f: impl Fn(T) -> U + Send + Sync + 'static) -> Rdd<U> {
        self.narrow("map", None, move |_, records| {
            Ok(records.into_iter().map(&f).collect())
        })
    }

    /// Keeps the records for which `f` is true. Keeps the partitioning.
    pub fn filter(&self, f: impl Fn(&T) -> bool + Send + Sync + 'static) -> Rdd<T> {
        self.narrow("filter", self.node.partitioner, move |_, mut records| {
            records.retain(|r| f(r));
            Ok(records)
        })
    }

    /// Replaces every record by the records `f` returns for it.
    pub fn flat_map<U: Data, I: IntoIterator<Item = U>>(
        &self,
        f: impl Fn(T) -> I + Send + Sync + 'static,
    ) -> Rdd<U> {
        self.narrow("flat_map", None, move |_, records| {
            let mut out = Vec::with_capacity(records.len());
            for r in records {
                out.extend(f(r));
            }
            Ok(out)
        })
    }

    /// Transforms whole partitions: `f` gets all records of a partition and returns the
    /// partition's output. The batch-at-a-time escape hatch for hot loops.
    pub fn map_partitions<U: Data>(
        &self,
        f: impl Fn(Vec<T>) -> Vec<U> + Send + Sync + 'static,
    ) -> Rdd<U> {
        self.narrow("map_partitions", None, move |_, records| Ok(f(records)))
    }

    /// Like [`map_partitions`](Rdd::map_partitions), reading each partition by reference:
    /// a partition held in memory (a stream batch, a cached RDD) is not copied, so a
    /// summary of a partition costs no per-record clone.
    pub fn map_partitions_ref<U: Data>(
        &self,
        f: impl Fn(&[T]) -> Vec<U> + Send + Sync + 'static,
    ) -> Rdd<U> {
        self.narrow_ref("map_partitions_ref", move |_, records| Ok(f(records)))
    }

    /// Like [`map_partitions`](Rdd::map_partitions), also passing the partition index.
    pub fn map_partitions_with_index<U: Data>(
        &self,
        f: impl Fn(usize, Vec<T>) -> Vec<U> + Send + Sync + 'static,
    ) -> Rdd<U> {
        self.narrow("map_partitions_with_index", None, move |p, records| {
            Ok(f(p, records))
        })
    }

    /// Like [`map_partitions`](Rdd::map_partitions) with a fallible function; an error fails
    /// the task (and, after retries, the job) with the error's message.
    pub fn try_map_partitions<U: Data, E: Display>(
        &self,
        f: impl Fn(Vec<T>) -> std::result::Result<Vec<U>, E> + Send + Sync + 'static,
    ) -> Rdd<U> {
        self.narrow("try_map_partitions", None, move |p, records| {
            f(records).map_err(|e| Error::Operator {
                operator: format!("try_map_partitions (partition {p})"),
                message: e.to_string(),
            })
        })
    }

    /// Each partition as a single `Vec` record.
    pub fn glom(&self) -> Rdd<Vec<T>> {
        self.narrow("glom", None, |_, records| Ok(vec![records]))
    }

    /// Pairs each record with the key `f` computes from it.
    pub fn key_by<K: Key>(&self, f: impl Fn(&T) -> K + Send + Sync + 'static) -> Rdd<(K, T)> {
        self.narrow("key_by", None, move |_, records| {
            Ok(records.into_iter().map(|r| (f(&r), r)).collect())
        })
    }

    /// The records of `self` followed by those of `other` (no deduplication).
    pub fn union(&self, other: &Rdd<T>) -> Rdd<T> {
        self.context().union(&[self.clone(), other.clone()])
    }

    /// A random sample: each record kept with probability `fraction` (without replacement),
    /// or repeated a Poisson(`fraction`) number of times (with replacement). Deterministic
    /// for a given `seed` and partitioning.
    pub fn sample(&self, with_replacement: bool, fraction: f64, seed: u64) -> Result<Rdd<T>> {
        if !fraction.is_finite() || fraction < 0.0 || (!with_replacement && fraction > 1.0) {
            return Err(Error::invalid(
                "fraction",
                fraction,
                "must be in [0, 1] without replacement, or >= 0 with replacement",
            ));
        }
        Ok(
            self.narrow("sample", self.node.partitioner, move |p, records| {
                let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed ^ stable_hash(&p));
                if with_replacement {
                    let poisson = rand_distr::Poisson::new(fraction.max(f64::MIN_POSITIVE))
                        .map_err(|e| Error::internal(e.to_string()))?;
                    let mut out = Vec::new();
                    for r in records {
                        let k: f64 = rng.sample(poisson);
                        for _ in 0..(k as usize) {
                            out.push(r.clone());
                        }
                    }
                    Ok(out)
                } else {
                    let mut records = records;
                    records.retain(|_| rng.random::<f64>() < fraction);
                    Ok(records)
                }
            }),
        )
    }

    /// Redistributes the records evenly over `partitions` partitions (a shuffle).
    pub fn repartition(&self, partitions: usize) -> Rdd<T> {
        let n = partitions.max(1);
        let write: WriteFn = Arc::new(move |batch| {
            let records = downcast::<T>(batch)?;
            let mut buckets: Vec<Vec<T>> = (0..n)
                .map(|_| Vec::with_capacity(records.len() / n + 1))
                .collect();
            // Start each map partition at a different bucket so small partitions spread out.
            let start = bucket_of_hash(stable_hash(&records.len()), n);
            for (i, r) in records.into_iter().enumerate() {
                buckets[(start + i) % n].push(r);
            }
            Ok(buckets.into_iter().map(boxed).collect())
        });
        let zip: ZipFn =
            Arc::new(|_, inputs| Ok(boxed(take_all::<T>(inputs.into_iter().flatten())?)));
        self.shuffle_into::<T, T>("repartition", n, None, write, zip)
    }

    /// The global combine, with each partition summarized by reference: `partial`
    /// summarizes each partition (in parallel), the summaries are shuffled into a single
    /// partition and folded with `merge`. The result has one partition holding one record,
    /// or none if every partition gave `None`.
    pub(crate) fn global_combine<S: Data>(
        &self,
        partial: impl Fn(&[T]) -> Option<S> + Send + Sync + 'static,
        merge: impl Fn(S, S) -> S + Send + Sync + 'static,
    ) -> Rdd<S> {
        self.narrow_ref("global_combine", move |_, records| {
            Ok(partial(records).into_iter().collect())
        })
        .combine_partials(merge)
    }

    /// The global combine, with each partition summarized by value (for summaries that
    /// keep records, such as `reduce`).
    pub(crate) fn global_combine_owned<S: Data>(
        &self,
        partial: impl Fn(Vec<T>) -> Option<S> + Send + Sync + 'static,
        merge: impl Fn(S, S) -> S + Send + Sync + 'static,
    ) -> Rdd<S> {
        self.narrow("global_combine", None, move |_, records| {
            Ok(partial(records).into_iter().collect())
        })
        .combine_partials(merge)
    }

    /// Shuffles per-partition summaries into one partition and folds them with `merge`.
    fn combine_partials(&self, merge: impl Fn(T, T) -> T + Send + Sync + 'static) -> Rdd<T> {
        let write: WriteFn = Arc::new(|batch| Ok(vec![batch]));
        let zip: ZipFn = Arc::new(move |_, inputs| {
            let mut acc: Option<T> = None;
            for bucket in inputs.into_iter().flatten() {
                for s in take_shared::<T>(bucket)? {
                    acc = Some(match acc.take() {
                        Some(a) => merge(a, s),
                        None => s,
                    });
                }
            }
            Ok(boxed(acc.into_iter().collect::<Vec<T>>()))
        });
        self.shuffle_into::<T, T>("global_combine", 1, None, write, zip)
    }

    /// A co-partition node reading `self` through a shuffle with the given map side.
    pub(crate) fn shuffle_into<B: Data, U: Data>(
        &self,
        name: &'static str,
        partitions: usize,
        partitioner: Option<PartitionerTag>,
        write: WriteFn,
        zip: ZipFn,
    ) -> Rdd<U> {
        let env = &self.node.env;
        let dep = Arc::new(ShuffleDep {
            id: env.next_id(),
            parent: Arc::clone(&self.node),
            partitions,
            write,
            bucket_ops: TypeOps::of::<B>(),
            env: Arc::clone(env),
        });
        Rdd::from_node(Node::new(
            env,
            name,
            partitions,
            partitioner,
            TypeOps::of::<U>(),
            Op::CoPartition {
                deps: vec![Dep::Shuffle(dep)],
                f: zip,
            },
        ))
    }

    // ---------------------------------------------------------------- persistence

    /// Keeps computed partitions in memory so later jobs reuse them. Returns `self`.
    pub fn persist(&self) -> Rdd<T> {
        self.node.persisted.store(true, Ordering::Relaxed);
        self.clone()
    }

    /// Same as [`persist`](Rdd::persist): memory is the only storage level.
    pub fn cache(&self) -> Rdd<T> {
        self.persist()
    }

    /// Stops caching and frees the cached partitions.
    pub fn unpersist(&self) {
        self.node.persisted.store(false, Ordering::Relaxed);
        self.node.env.store.remove_rdd(self.node.id);
    }

    /// Whether the RDD is marked to be cached.
    pub fn is_persisted(&self) -> bool {
        self.node.is_persisted()
    }

    // ---------------------------------------------------------------- actions

    /// Computes the given partitions (for their side effects on caches and state), each on
    /// the worker that owns it.
    pub(crate) fn run_partitions_subset(&self, partitions: &[usize]) -> Result<()> {
        crate::scheduler::run_local(&self.node, partitions, |_, _| Ok(())).map(drop)
    }

    /// An RDD holding this RDD's computed partitions in memory, with no lineage: cached
    /// partitions are shared without copying, missing ones are computed first. Each worker
    /// holds the partitions it owns.
    pub(crate) fn materialize(&self) -> Result<Rdd<T>> {
        let env = &self.node.env;
        let n = self.node.partitions;
        let all: Vec<usize> = (0..n).collect();
        let mut parts: Vec<Option<crate::plan::SharedBatch>> = vec![None; n];
        let id = self.node.id;
        for (p, shared) in crate::scheduler::run_local(&self.node, &all, |p, shared| {
            Ok(env
                .store
                .get_block(id, p)
                .unwrap_or_else(|| Arc::clone(shared)))
        })? {
            parts[p] = Some(shared);
        }
        Ok(self
            .context()
            .placed_partitions_rdd::<T>("materialized", parts, self.node.partitioner))
    }

    /// Runs a job over all partitions, applying `f` to each partition's records; every
    /// worker gets every partition's result (so results must be [`Data`]).
    pub fn run_partitions<R: Data>(
        &self,
        f: impl Fn(usize, Vec<T>) -> Result<R> + Sync,
    ) -> Result<Vec<R>> {
        let all: Vec<usize> = (0..self.node.partitions).collect();
        run_job(&self.node, &all, |p, b| f(p, downcast::<T>(b)?))
    }

    /// Runs a job over all partitions, applying `f` to each partition's records by
    /// reference (no copy of partitions held in memory); every worker gets every result.
    pub fn run_partitions_ref<R: Data>(
        &self,
        f: impl Fn(usize, &[T]) -> Result<R> + Sync,
    ) -> Result<Vec<R>> {
        let all: Vec<usize> = (0..self.node.partitions).collect();
        crate::scheduler::run_job_shared(&self.node, &all, |p, b| f(p, view_shared::<T>(b)?))
    }

    /// All records, in partition order.
    pub fn collect(&self) -> Result<Vec<T>> {
        Ok(self.collect_partitions()?.into_iter().flatten().collect())
    }

    /// All records, one `Vec` per partition.
    pub fn collect_partitions(&self) -> Result<Vec<Vec<T>>> {
        self.run_partitions(|_, records| Ok(records))
    }

    /// The number of records.
    pub fn count(&self) -> Result<u64> {
        Ok(self
            .run_partitions_ref(|_, records| Ok(records.len() as u64))?
            .into_iter()
            .sum())
    }

    /// Combines all records with `f` (which should be associative and commutative), or
    /// `None` for an empty RDD.
    pub fn reduce(&self, f: impl Fn(T, T) -> T + Sync) -> Result<Option<T>> {
        let partials = self.run_partitions(|_, records| Ok(records.into_iter().reduce(&f)))?;
        Ok(partials.into_iter().flatten().reduce(&f))
    }

    /// Folds each partition from a copy of `zero`, then folds the partition results from
    /// `zero` again (Spark's semantics: `zero` must be an identity of `f`).
    pub fn fold(&self, zero: T, f: impl Fn(T, T) -> T + Sync) -> Result<T> {
        let partials =
            self.run_partitions(|_, records| Ok(records.into_iter().fold(zero.clone(), &f)))?;
        Ok(partials.into_iter().fold(zero, &f))
    }

    /// Folds each partition with `seq` from a copy of `zero`, then merges the partition
    /// results with `comb`.
    pub fn aggregate<U: Data>(
        &self,
        zero: U,
        seq: impl Fn(U, T) -> U + Sync,
        comb: impl Fn(U, U) -> U,
    ) -> Result<U> {
        let partials =
            self.run_partitions(|_, records| Ok(records.into_iter().fold(zero.clone(), &seq)))?;
        Ok(partials.into_iter().fold(zero, comb))
    }

    /// The first `n` records in partition order, computing as few partitions as it can:
    /// first one, then four times as many as needed so far (Spark's strategy).
    pub fn take(&self, n: usize) -> Result<Vec<T>> {
        let total = self.node.partitions;
        let mut out = Vec::with_capacity(n);
        let mut next = 0;
        let mut batch = 1;
        while out.len() < n && next < total {
            let upto = (next + batch).min(total);
            let parts: Vec<usize> = (next..upto).collect();
            let want = n - out.len();
            let got = run_job(&self.node, &parts, |_, b| {
                let mut records = downcast::<T>(b)?;
                records.truncate(want);
                Ok(records)
            })?;
            for records in got {
                let room = n - out.len();
                out.extend(records.into_iter().take(room));
            }
            next = upto;
            batch = batch.saturating_mul(4);
        }
        Ok(out)
    }

    /// The first record, or `None` for an empty RDD.
    pub fn first(&self) -> Result<Option<T>> {
        Ok(self.take(1)?.into_iter().next())
    }

    /// The `n` smallest records according to `cmp`, smallest first. Each partition keeps
    /// only its own `n` best, so the driver merges `n × partitions` records at most.
    pub fn take_ordered_by(
        &self,
        n: usize,
        cmp: impl Fn(&T, &T) -> CmpOrdering + Sync,
    ) -> Result<Vec<T>> {
        let partials = self.run_partitions(|_, mut records| {
            if records.len() > n && n > 0 {
                records.select_nth_unstable_by(n - 1, &cmp);
            }
            records.truncate(n);
            Ok(records)
        })?;
        let mut all: Vec<T> = partials.into_iter().flatten().collect();
        all.sort_by(&cmp);
        all.truncate(n);
        Ok(all)
    }

    /// Applies `f` to every record, for its side effects.
    pub fn foreach(&self, f: impl Fn(T) + Sync) -> Result<()> {
        self.run_partitions(|_, records| {
            records.into_iter().for_each(&f);
            Ok(())
        })
        .map(drop)
    }

    /// Applies `f` to every partition's records, for its side effects.
    pub fn foreach_partition(&self, f: impl Fn(Vec<T>) + Sync) -> Result<()> {
        self.run_partitions(|_, records| {
            f(records);
            Ok(())
        })
        .map(drop)
    }

    /// Writes one text file per partition (`part-00000`, …) and a `_SUCCESS` marker into
    /// `dir`, one record per line. The directory is written under a temporary name and
    /// renamed into place, replacing an existing one: rewriting the same RDD to the same
    /// directory (for example after recovery) leaves exactly one copy.
    ///
    /// Each partition is written by the worker that owns it; with several workers, `dir`
    /// must be on a file system they share (the leader renames the directory into place).
    pub fn save_as_text_file(&self, dir: impl AsRef<Path>) -> Result<()>
    where
        T: Display,
    {
        let dir = dir.as_ref();
        let sc = self.context();
        let tmp = if sc.workers() == 1 {
            let tmp = temp_sibling(dir);
            if let Some(parent) = tmp.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
            }
            // A new directory (under a random name): never one planted there.
            std::fs::create_dir(&tmp).map_err(|e| Error::io(&tmp, e))?;
            tmp
        } else {
            // Every worker must write into the same directory: a name from the RDD's id,
            // which all workers agree on.
            let name = dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "out".to_string());
            let tmp = dir.with_file_name(format!(".{name}.tmp-rdd-{}", self.node.id));
            std::fs::create_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
            // Not a link planted under that name, pointing elsewhere.
            let planted = std::fs::symlink_metadata(&tmp)
                .map_err(|e| Error::io(&tmp, e))?
                .file_type()
                .is_symlink();
            if planted {
                return Err(Error::io(
                    &tmp,
                    std::io::Error::other("a symbolic link where a temporary directory goes"),
                ));
            }
            tmp
        };
        self.run_partitions(|p, records| {
            let path = tmp.join(format!("part-{p:05}"));
            let file = std::fs::File::create(&path).map_err(|e| Error::io(&path, e))?;
            let mut out = std::io::BufWriter::new(file);
            for r in &records {
                writeln!(out, "{r}").map_err(|e| Error::io(&path, e))?;
            }
            out.flush().map_err(|e| Error::io(&path, e))?;
            out.get_ref().sync_all().map_err(|e| Error::io(&path, e))
        })?;
        if !sc.is_leader() {
            return Ok(());
        }
        // A directory left by an earlier, interrupted run under the same name may hold
        // more part files than this RDD has partitions.
        let parts = self.node.partitions;
        if let Ok(entries) = std::fs::read_dir(&tmp) {
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                let ours = name
                    .strip_prefix("part-")
                    .and_then(|n| n.parse::<usize>().ok())
                    .is_some_and(|n| n < parts);
                if !ours {
                    let _ = std::fs::remove_file(entry.path());
                }
            }
        }
        let success = tmp.join("_SUCCESS");
        std::fs::write(&success, b"").map_err(|e| Error::io(&success, e))?;
        replace_dir(&tmp, dir)
    }
}

/// A hidden sibling path of `path` for write-then-rename, under a random name that cannot
/// be guessed (and so planted) in advance.
pub(crate) fn temp_sibling(path: &Path) -> std::path::PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".to_string());
    let unique = format!(".{name}.tmp-{:016x}", rand::random::<u64>());
    path.with_file_name(unique)
}

/// Moves directory `tmp` to `dest`, replacing whatever `dest` was.
pub(crate) fn replace_dir(tmp: &Path, dest: &Path) -> Result<()> {
    if dest.exists() {
        let old = temp_sibling(dest);
        std::fs::rename(dest, &old).map_err(|e| Error::io(dest, e))?;
        std::fs::rename(tmp, dest).map_err(|e| Error::io(dest, e))?;
        std::fs::remove_dir_all(&old).map_err(|e| Error::io(&old, e))?;
    } else {
        std::fs::rename(tmp, dest).map_err(|e| Error::io(dest, e))?;
    }
    Ok(())
}

impl<T: Key> Rdd<T> {
    /// The distinct records (a shuffle).
    pub fn distinct(&self) -> Rdd<T> {
        self.map(|r| (r, ())).reduce_by_key(|a, _| a).keys()
    }

    /// How many times each distinct record occurs.
    pub fn count_by_value(&self) -> Result<HashMap<T, u64>> {
        Ok(self
            .map(|r| (r, 1_u64))
            .reduce_by_key(|a, b| a + b)
            .collect()?
            .into_iter()
            .collect())
    }
}
