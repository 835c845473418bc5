//! Every RDD operator against a naive `Vec`/`HashMap` computation, on 1, 2 and 7
//! partitions and on two executors.

use crate::common::{each_context, sorted};
use proptest::prelude::*;
use spate_core::{HashPartitioner, RangePartitioner, SpateContext};
use std::collections::{BTreeMap, HashMap, HashSet};

const PARTITIONS: [usize; 3] = [1, 2, 7];

fn strings(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| w.to_string()).collect()
}

fn pairs(n: u64) -> Vec<(u64, i64)> {
    (0..n).map(|i| ((i * 7919) % 13, i as i64 - 40)).collect()
}

fn naive_reduce(data: &[(u64, i64)]) -> Vec<(u64, i64)> {
    let mut m: BTreeMap<u64, i64> = BTreeMap::new();
    for (k, v) in data {
        *m.entry(*k).or_default() += v;
    }
    m.into_iter().collect()
}

fn naive_join(a: &[(u64, i64)], b: &[(u64, String)]) -> Vec<(u64, (i64, String))> {
    let mut out = Vec::new();
    for (k, v) in a {
        for (k2, w) in b {
            if k == k2 {
                out.push((*k, (*v, w.clone())));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn narrow_operators_match_iterators() {
    each_context(|sc| {
        for parts in PARTITIONS {
            let data: Vec<i64> = (-50..150).collect();
            let rdd = sc.parallelize(data.clone(), parts);
            assert_eq!(rdd.num_partitions(), parts);
            assert_eq!(
                rdd.map(|x| x * 3).collect().unwrap(),
                data.iter().map(|x| x * 3).collect::<Vec<_>>()
            );
            assert_eq!(
                rdd.filter(|x| x % 3 == 0).collect().unwrap(),
                data.iter()
                    .copied()
                    .filter(|x| x % 3 == 0)
                    .collect::<Vec<_>>()
            );
            assert_eq!(
                rdd.flat_map(|x| vec![x; (x.rem_euclid(3)) as usize])
                    .collect()
                    .unwrap(),
                data.iter()
                    .flat_map(|&x| vec![x; (x.rem_euclid(3)) as usize])
                    .collect::<Vec<_>>()
            );
            let sums = rdd
                .map_partitions(|v| vec![v.iter().sum::<i64>()])
                .collect()
                .unwrap();
            assert_eq!(sums.len(), parts);
            assert_eq!(sums.iter().sum::<i64>(), data.iter().sum::<i64>());
            let indexed = rdd
                .map_partitions_with_index(|p, v| vec![(p, v.len())])
                .collect()
                .unwrap();
            assert_eq!(
                indexed.iter().map(|(p, _)| *p).collect::<Vec<_>>(),
                (0..parts).collect::<Vec<_>>()
            );
            assert_eq!(rdd.glom().collect().unwrap().concat(), data);
            assert_eq!(rdd.count().unwrap(), data.len() as u64);
            let keyed = rdd.key_by(|x| x.rem_euclid(5)).collect().unwrap();
            assert!(keyed.iter().all(|(k, x)| *k == x.rem_euclid(5)));
            let u = rdd.union(&sc.parallelize(vec![1000, 1001], 1));
            assert_eq!(u.num_partitions(), parts + 1);
            assert_eq!(u.count().unwrap(), data.len() as u64 + 2);
        }
    });
}

#[test]
fn actions_match_iterators() {
    each_context(|sc| {
        for parts in PARTITIONS {
            let data: Vec<i64> = (1..=100).collect();
            let rdd = sc.parallelize(data.clone(), parts);
            assert_eq!(rdd.reduce(|a, b| a + b).unwrap(), Some(5050));
            assert_eq!(rdd.fold(0, |a, b| a + b).unwrap(), 5050);
            assert_eq!(
                rdd.aggregate(
                    (0_i64, 0_usize),
                    |(s, n), x| (s + x, n + 1),
                    |a, b| (a.0 + b.0, a.1 + b.1)
                )
                .unwrap(),
                (5050, 100)
            );
            assert_eq!(rdd.take(0).unwrap(), Vec::<i64>::new());
            assert_eq!(rdd.take(5).unwrap(), vec![1, 2, 3, 4, 5]);
            assert_eq!(rdd.take(1000).unwrap(), data);
            assert_eq!(rdd.first().unwrap(), Some(1));
            assert_eq!(
                rdd.take_ordered_by(3, |a, b| b.cmp(a)).unwrap(),
                vec![100, 99, 98]
            );
            let empty = sc.parallelize(Vec::<i64>::new(), parts);
            assert_eq!(empty.reduce(|a, b| a + b).unwrap(), None);
            assert_eq!(empty.first().unwrap(), None);
            assert_eq!(empty.count().unwrap(), 0);
            let counts = sc
                .parallelize(strings(&["a", "b", "a", "c", "a"]), parts)
                .count_by_value()
                .unwrap();
            assert_eq!(counts["a"], 3);
            assert_eq!(counts["b"], 1);
            assert_eq!(counts.len(), 3);
            let acc = sc.accumulator::<u64>("seen");
            let acc2 = acc.clone();
            rdd.foreach(move |x| acc2.add(x as u64)).unwrap();
            assert_eq!(acc.value(), 5050);
        }
    });
}

#[test]
fn keyed_aggregations_match_hash_maps() {
    each_context(|sc| {
        for parts in PARTITIONS {
            let data = pairs(500);
            let rdd = sc.parallelize(data.clone(), parts);
            let want = naive_reduce(&data);
            assert_eq!(
                sorted(&rdd.reduce_by_key(|a, b| a + b).collect().unwrap()),
                want
            );
            assert_eq!(
                sorted(&rdd.reduce_by_key_into(|a, b| a + b, 3).collect().unwrap()),
                want
            );
            assert_eq!(rdd.reduce_by_key_into(|a, b| a + b, 3).num_partitions(), 3);
            assert_eq!(sorted(&rdd.merge_by_key().collect().unwrap()), want);
            assert_eq!(
                sorted(
                    &rdd.aggregate_by_key(0_i64, |a, v| a + v, |a, b| a + b)
                        .collect()
                        .unwrap()
                ),
                want
            );
            let combined = rdd
                .combine_by_key(
                    |v| (v, 1_u32),
                    |c, v| {
                        c.0 += v;
                        c.1 += 1;
                    },
                    |c, o| {
                        c.0 += o.0;
                        c.1 += o.1;
                    },
                    HashPartitioner::new(4),
                )
                .collect()
                .unwrap();
            let mut counts: HashMap<u64, u32> = HashMap::new();
            for (k, _) in &data {
                *counts.entry(*k).or_default() += 1;
            }
            for (k, (sum, n)) in &combined {
                assert_eq!(n, &counts[k]);
                assert_eq!(*sum, want.iter().find(|(w, _)| w == k).unwrap().1);
            }
            let grouped = rdd.group_by_key().collect().unwrap();
            for (k, vs) in grouped {
                let mut expect: Vec<i64> = data
                    .iter()
                    .filter(|(w, _)| *w == k)
                    .map(|(_, v)| *v)
                    .collect();
                expect.sort();
                assert_eq!(sorted(&vs), expect);
            }
            let by_key = rdd.count_by_key().unwrap();
            assert_eq!(by_key.len(), counts.len());
            assert!(by_key.iter().all(|(k, n)| counts[k] as u64 == *n));
            assert_eq!(sorted(&rdd.lookup(&3).unwrap()), {
                let mut v: Vec<i64> = data
                    .iter()
                    .filter(|(k, _)| *k == 3)
                    .map(|(_, v)| *v)
                    .collect();
                v.sort();
                v
            });
            let distinct = sc.parallelize(vec![3, 1, 3, 2, 1, 3], parts).distinct();
            assert_eq!(sorted(&distinct.collect().unwrap()), vec![1, 2, 3]);
            assert_eq!(sorted(&rdd.keys().distinct().collect().unwrap()).len(), 13);
            assert_eq!(
                rdd.map_values(|v| v * 2).values().collect().unwrap(),
                data.iter().map(|(_, v)| v * 2).collect::<Vec<_>>()
            );
        }
    });
}

#[test]
fn joins_match_nested_loops() {
    each_context(|sc| {
        for parts in PARTITIONS {
            let a: Vec<(u64, i64)> = vec![(1, 10), (2, 20), (2, 21), (3, 30), (5, 50)];
            let b: Vec<(u64, String)> = vec![
                (2, "x".into()),
                (3, "y".into()),
                (3, "z".into()),
                (4, "w".into()),
            ];
            let ra = sc.parallelize(a.clone(), parts);
            let rb = sc.parallelize(b.clone(), 3);
            assert_eq!(sorted(&ra.join(&rb).collect().unwrap()), naive_join(&a, &b));

            let left = sorted(&ra.left_outer_join(&rb).collect().unwrap());
            let mut want_left = Vec::new();
            for (k, v) in &a {
                let matches: Vec<_> = b.iter().filter(|(k2, _)| k2 == k).collect();
                if matches.is_empty() {
                    want_left.push((*k, (*v, None)));
                }
                for (_, w) in matches {
                    want_left.push((*k, (*v, Some(w.clone()))));
                }
            }
            assert_eq!(left, sorted(&want_left));

            let right = sorted(&ra.right_outer_join(&rb).collect().unwrap());
            let mut want_right = Vec::new();
            for (k, w) in &b {
                let matches: Vec<_> = a.iter().filter(|(k2, _)| k2 == k).collect();
                if matches.is_empty() {
                    want_right.push((*k, (None, w.clone())));
                }
                for (_, v) in matches {
                    want_right.push((*k, (Some(*v), w.clone())));
                }
            }
            assert_eq!(right, sorted(&want_right));

            let full = sorted(&ra.full_outer_join(&rb).collect().unwrap());
            let mut want_full: Vec<(u64, (Option<i64>, Option<String>))> = want_left
                .iter()
                .map(|(k, (v, w))| (*k, (Some(*v), w.clone())))
                .collect();
            for (k, (v, w)) in &want_right {
                if v.is_none() {
                    want_full.push((*k, (None, Some(w.clone()))));
                }
            }
            assert_eq!(full, sorted(&want_full));

            let cg = ra.cogroup(&rb).collect().unwrap();
            let keys: HashSet<u64> = cg.iter().map(|(k, _)| *k).collect();
            assert_eq!(keys, HashSet::from([1, 2, 3, 4, 5]));
            for (k, (vs, ws)) in cg {
                assert_eq!(vs.len(), a.iter().filter(|(x, _)| *x == k).count());
                assert_eq!(ws.len(), b.iter().filter(|(x, _)| *x == k).count());
            }
        }
    });
}

#[test]
fn co_partitioned_inputs_skip_the_shuffle() {
    let sc = SpateContext::sequential(2);
    let a = sc
        .parallelize(pairs(100), 3)
        .partition_by(HashPartitioner::new(4))
        .cache();
    let b = sc
        .parallelize(pairs(60), 2)
        .map_values(|v| v * 10)
        .partition_by(HashPartitioner::new(4));
    let joined = a.join(&b);
    let lineage = joined.lineage();
    // The join itself adds no shuffle: the only shuffles are the two partition_by steps.
    assert_eq!(lineage.matches("(shuffle)").count(), 2, "{lineage}");
    let want = {
        let a = pairs(100);
        let b: Vec<(u64, i64)> = pairs(60).into_iter().map(|(k, v)| (k, v * 10)).collect();
        let mut out = Vec::new();
        for (k, v) in &a {
            for (k2, w) in &b {
                if k == k2 {
                    out.push((*k, (*v, *w)));
                }
            }
        }
        out.sort();
        out
    };
    assert_eq!(sorted(&joined.collect().unwrap()), want);
    // Keys really are where the partitioner says.
    let p = HashPartitioner::new(4);
    for (i, part) in a.collect_partitions().unwrap().iter().enumerate() {
        assert!(part.iter().all(|(k, _)| p.partition(k) == i));
    }
}

#[test]
fn sort_by_key_orders_globally() {
    each_context(|sc| {
        for parts in PARTITIONS {
            let data: Vec<(i64, u32)> = (0..400)
                .map(|i| ((i * 7_919) % 1_000 - 500, i as u32))
                .collect();
            let rdd = sc.parallelize(data.clone(), parts);
            let asc = rdd.sort_by_key(true).unwrap();
            let keys: Vec<i64> = asc.keys().collect().unwrap();
            let mut want: Vec<i64> = data.iter().map(|(k, _)| *k).collect();
            want.sort();
            assert_eq!(keys, want);
            let desc: Vec<i64> = rdd.sort_by_key(false).unwrap().keys().collect().unwrap();
            want.reverse();
            assert_eq!(desc, want);
        }
    });
}

#[test]
fn range_partitioner_places_keys_in_order() {
    let sc = SpateContext::sequential(2);
    let data: Vec<(u32, ())> = (0..100).rev().map(|k| (k, ())).collect();
    let parts = sc
        .parallelize(data, 3)
        .partition_by(RangePartitioner::new(vec![24_u32, 49, 74]))
        .collect_partitions()
        .unwrap();
    assert_eq!(parts.len(), 4);
    for (i, part) in parts.iter().enumerate() {
        assert_eq!(part.len(), 25);
        assert!(part.iter().all(|(k, _)| (*k as usize) / 25 == i));
    }
}

#[test]
fn repartition_and_sample() {
    each_context(|sc| {
        let rdd = sc.parallelize((0..1000).collect::<Vec<u32>>(), 2);
        let re = rdd.repartition(7);
        assert_eq!(re.num_partitions(), 7);
        let sizes: Vec<usize> = re.glom().map(|p| p.len()).collect().unwrap();
        assert!(sizes.iter().all(|&s| (130..=156).contains(&s)), "{sizes:?}");
        assert_eq!(
            sorted(&re.collect().unwrap()),
            (0..1000).collect::<Vec<_>>()
        );

        let s1 = rdd.sample(false, 0.3, 42).unwrap().collect().unwrap();
        let s2 = rdd.sample(false, 0.3, 42).unwrap().collect().unwrap();
        assert_eq!(s1, s2, "same seed, same sample");
        // 1000 Bernoulli(0.3) draws: mean 300, sd 14.5; 5 sd either side.
        assert!((228..=372).contains(&s1.len()), "{}", s1.len());
        let with = rdd.sample(true, 2.0, 7).unwrap().count().unwrap();
        assert!((1800..=2200).contains(&with), "{with}");
        assert!(rdd.sample(false, 1.5, 1).is_err());
        assert!(rdd.sample(true, f64::NAN, 1).is_err());
    });
}

#[test]
fn save_as_text_file_writes_and_replaces() {
    let sc = SpateContext::sequential(2);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("words");
    sc.parallelize(strings(&["a", "b", "c"]), 2)
        .save_as_text_file(&out)
        .unwrap();
    let read = |dir: &std::path::Path| -> Vec<String> {
        let mut lines = Vec::new();
        let mut names: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.starts_with("part-"))
            .collect();
        names.sort();
        for n in names {
            lines.extend(
                std::fs::read_to_string(dir.join(n))
                    .unwrap()
                    .lines()
                    .map(String::from),
            );
        }
        lines
    };
    assert_eq!(read(&out), vec!["a", "b", "c"]);
    assert!(out.join("_SUCCESS").exists());
    sc.parallelize(strings(&["z"]), 1)
        .save_as_text_file(&out)
        .unwrap();
    assert_eq!(read(&out), vec!["z"], "rewriting replaces, never appends");
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        leftovers.len(),
        1,
        "no temporary directories left: {leftovers:?}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Results do not depend on how the input is partitioned or on the executor.
    #[test]
    fn keyed_results_are_independent_of_partitioning(
        data in proptest::collection::vec((0_u8..20, -100_i32..100), 0..200),
        parts in 1_usize..9,
        reduce_parts in 1_usize..9,
    ) {
        let sc = crate::common::threads_context(2);
        let rdd = sc.parallelize(data.clone(), parts);
        let mut want: BTreeMap<u8, i64> = BTreeMap::new();
        for (k, v) in &data {
            *want.entry(*k).or_default() += *v as i64;
        }
        let got = rdd.map_values(|v| v as i64).reduce_by_key_into(|a, b| a + b, reduce_parts).collect().unwrap();
        prop_assert_eq!(sorted(&got), want.into_iter().collect::<Vec<_>>());

        let other: Vec<(u8, i32)> = data.iter().map(|(k, v)| (k / 2, v * 2)).take(50).collect();
        let joined = sorted(&rdd.join(&sc.parallelize(other.clone(), reduce_parts)).collect().unwrap());
        let mut expect = Vec::new();
        for (k, v) in &data {
            for (k2, w) in &other {
                if k == k2 {
                    expect.push((*k, (*v, *w)));
                }
            }
        }
        expect.sort();
        prop_assert_eq!(joined, expect);
    }
}

static CLONES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// A record that counts its clones.
#[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
struct Counted(u64);

impl Clone for Counted {
    fn clone(&self) -> Self {
        CLONES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Counted(self.0)
    }
}

static KEY_CLONES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// A key that counts its clones.
#[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct CountedKey(u32);

impl Clone for CountedKey {
    fn clone(&self) -> Self {
        KEY_CLONES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        CountedKey(self.0)
    }
}

#[test]
fn a_shuffle_reads_its_stored_buckets_in_place() {
    use std::sync::atomic::Ordering;
    let sc = SpateContext::sequential(2);
    // Four map partitions holding the same 100 keys: the reduce side clones each key once
    // into its map, not once per bucket that has it (the buckets stay stored for retries).
    let parts: Vec<Vec<(CountedKey, u64)>> = (0..4)
        .map(|_| (0..100).map(|k| (CountedKey(k), 1)).collect())
        .collect();
    let before = KEY_CLONES.load(Ordering::Relaxed);
    let mut got = sc
        .parallelize_partitions(parts)
        .reduce_by_key_into(|a, b| a + b, 2)
        .collect()
        .unwrap();
    got.sort();
    let want: Vec<(CountedKey, u64)> = (0..100).map(|k| (CountedKey(k), 4)).collect();
    assert_eq!(got, want);
    // 400 clones copy the parallelized partitions out of their source (it stays intact
    // for retries); the reduce side adds one per key, 100, where copying the four stored
    // buckets would add 400.
    assert_eq!(KEY_CLONES.load(Ordering::Relaxed) - before, 400 + 100);
}

#[test]
fn reading_by_reference_does_not_copy_partitions_held_in_memory() {
    use std::sync::atomic::Ordering;
    let sc = SpateContext::sequential(2);
    let rdd = sc.parallelize((0..1000).map(Counted).collect(), 4);
    let before = CLONES.load(Ordering::Relaxed);
    let sums = rdd
        .run_partitions_ref(|_, part| Ok(part.iter().map(|c| c.0).sum::<u64>()))
        .unwrap();
    assert_eq!(sums.iter().sum::<u64>(), 499_500);
    let lens = rdd
        .map_partitions_ref(|part| vec![part.len()])
        .collect()
        .unwrap();
    assert_eq!(lens, vec![250; 4]);
    assert_eq!(
        CLONES.load(Ordering::Relaxed),
        before,
        "no record was cloned"
    );
    // `count` only looks at the partitions.
    assert_eq!(rdd.count().unwrap(), 1000);
    assert_eq!(CLONES.load(Ordering::Relaxed), before, "count cloned");
    // Reading by value copies the partitions out of the source, as it must.
    assert_eq!(rdd.collect().unwrap().len(), 1000);
    assert_eq!(CLONES.load(Ordering::Relaxed) - before, 1000);
}
