//! Fault tolerance of RDD jobs: retries from lineage, lost partitions, checkpoints.

use crate::common::{each_context, sorted};
use spate_core::{Error, SpateContext, TaskContext};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

#[test]
fn failed_tasks_are_retried_from_lineage() {
    each_context(|sc| {
        let data: Vec<(u32, u64)> = (0..300).map(|i| (i % 17, i as u64)).collect();
        let want = sorted(
            &sc.parallelize(data.clone(), 4)
                .reduce_by_key(|a, b| a + b)
                .collect()
                .unwrap(),
        );
        let failures = Arc::new(AtomicUsize::new(0));
        let f = Arc::clone(&failures);
        // Partition 2 fails on its first two attempts, in the map stage of the shuffle.
        let flaky = sc.parallelize(data.clone(), 4).map(move |r| {
            let task = TaskContext::get().expect("inside a task");
            if task.partition == 2 && task.attempt < 2 {
                f.fetch_add(1, Ordering::Relaxed);
                panic!("injected failure, attempt {}", task.attempt);
            }
            r
        });
        let before = sc.stats();
        let got = sorted(&flaky.reduce_by_key(|a, b| a + b).collect().unwrap());
        assert_eq!(got, want, "retried job gives the fault-free result");
        // The retries happen where partition 2 lives.
        let here = if 2 % sc.workers() == sc.worker() {
            2
        } else {
            0
        };
        assert_eq!(failures.load(Ordering::Relaxed), here);
        assert_eq!(sc.stats().task_failures - before.task_failures, here as u64);
    });
}

#[test]
fn a_task_failing_past_the_limit_fails_the_job_with_a_clear_error() {
    let sc = crate::common::threads_context(2);
    sc.set_max_task_attempts(3).unwrap();
    let rdd = sc.parallelize((0..10).collect::<Vec<i32>>(), 2).map(|x| {
        if x == 7 {
            panic!("bad record {x}");
        }
        x
    });
    match rdd.collect() {
        Err(Error::TaskFailed {
            partition,
            attempts,
            message,
            ..
        }) => {
            assert_eq!(partition, 1);
            assert_eq!(attempts, 3);
            assert!(message.contains("bad record 7"), "{message}");
        }
        other => panic!("expected TaskFailed, got {other:?}"),
    }
    assert!(sc.set_max_task_attempts(0).is_err());
}

#[test]
fn accumulator_updates_of_failed_attempts_are_discarded() {
    let sc = SpateContext::sequential(2);
    let acc = sc.accumulator::<u64>("records");
    let a = acc.clone();
    sc.parallelize((0..100).collect::<Vec<u64>>(), 4)
        .foreach(move |x| {
            a.add(1);
            let task = TaskContext::get().unwrap();
            if task.partition == 1 && task.attempt == 0 && x == 40 {
                panic!("fail after counting part of the partition");
            }
        })
        .unwrap();
    assert_eq!(acc.value(), 100, "exactly once despite the retry");
}

#[test]
fn lost_cached_partitions_are_recomputed_from_lineage() {
    let sc = crate::common::threads_context(2);
    let computed = Arc::new(AtomicUsize::new(0));
    let c = Arc::clone(&computed);
    let rdd = sc
        .parallelize((0..1000).collect::<Vec<u64>>(), 4)
        .map(move |x| {
            c.fetch_add(1, Ordering::Relaxed);
            x * x
        })
        .cache();
    let first = rdd.collect().unwrap();
    assert_eq!(computed.load(Ordering::Relaxed), 1000);
    assert_eq!(rdd.collect().unwrap(), first);
    assert_eq!(computed.load(Ordering::Relaxed), 1000, "served from cache");
    assert!(sc.lose_cached_partition(&rdd, 2));
    assert_eq!(rdd.collect().unwrap(), first, "same data after the loss");
    assert_eq!(
        computed.load(Ordering::Relaxed),
        1250,
        "only the lost partition (250 records) was recomputed"
    );
    rdd.unpersist();
    assert_eq!(sc.stats().cached_partitions, 0);
}

#[test]
fn lost_shuffle_outputs_are_recomputed_from_lineage() {
    let sc = SpateContext::sequential(2);
    let mapped = Arc::new(AtomicUsize::new(0));
    let m = Arc::clone(&mapped);
    let data: Vec<(u8, u64)> = (0..500).map(|i| ((i % 11) as u8, i)).collect();
    let reduced = sc
        .parallelize(data.clone(), 5)
        .map(move |r| {
            m.fetch_add(1, Ordering::Relaxed);
            r
        })
        .reduce_by_key(|a, b| a + b);
    let want = sorted(&reduced.collect().unwrap());
    assert_eq!(mapped.load(Ordering::Relaxed), 500);
    assert_eq!(sorted(&reduced.collect().unwrap()), want);
    assert_eq!(
        mapped.load(Ordering::Relaxed),
        500,
        "a second job reuses the held shuffle outputs"
    );
    assert_eq!(sc.lose_shuffle_outputs(&reduced, 3), 1);
    assert_eq!(sorted(&reduced.collect().unwrap()), want);
    assert_eq!(
        mapped.load(Ordering::Relaxed),
        600,
        "only the lost map partition (100 records) was recomputed"
    );
    assert_eq!(sc.stats().live_shuffles, 1);
    drop(reduced);
    assert_eq!(
        sc.stats().live_shuffles,
        0,
        "outputs freed with the plan node"
    );
}

#[test]
fn checkpoint_cuts_lineage_and_detects_corruption() {
    let sc = SpateContext::sequential(2);
    let err = sc.parallelize(vec![1, 2, 3], 1).checkpoint().unwrap_err();
    assert!(matches!(err, Error::NoCheckpointDir { .. }), "{err}");

    let dir = tempfile::tempdir().unwrap();
    sc.set_checkpoint_dir(dir.path()).unwrap();
    let computed = Arc::new(AtomicUsize::new(0));
    let c = Arc::clone(&computed);
    let rdd = sc
        .parallelize((0..100).collect::<Vec<u32>>(), 3)
        .map(move |x| {
            c.fetch_add(1, Ordering::Relaxed);
            (x % 7, x)
        })
        .reduce_by_key(|a, b| a + b);
    let want = sorted(&rdd.collect().unwrap());
    let checkpointed = rdd.checkpoint().unwrap();
    let n = computed.load(Ordering::Relaxed);
    assert_eq!(sorted(&checkpointed.collect().unwrap()), want);
    assert_eq!(
        computed.load(Ordering::Relaxed),
        n,
        "read from disk, not lineage"
    );
    assert!(!checkpointed.lineage().contains("shuffle"));

    // Damage one partition file: reading it is a typed corruption error, not a panic.
    let part = std::fs::read_dir(dir.path())
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path()
        .join("part-00001");
    let mut bytes = std::fs::read(&part).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&part, bytes).unwrap();
    let err = checkpointed.collect().unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("corrupt") || text.contains("checksum"),
        "{text}"
    );
}

#[test]
fn broadcast_values_are_shared_with_tasks() {
    let sc = crate::common::threads_context(2);
    let table = sc.broadcast(vec!["zero".to_string(), "one".into(), "two".into()]);
    let names = sc
        .parallelize(vec![2_usize, 0, 1], 2)
        .map(move |i| table.value()[i].clone())
        .collect()
        .unwrap();
    assert_eq!(names, vec!["two", "zero", "one"]);
}
