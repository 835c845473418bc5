//! The timely runtime itself: setups for the shared tests, process handshakes, failures.

use spate_core::SpateContext;
use spate_timely::{Execution, TimelyConfig, execute};
use std::time::Duration;

/// `workers` timely workers in this process.
pub fn timely_threads(workers: usize, partitions: usize) -> Vec<SpateContext> {
    let config = TimelyConfig {
        default_parallelism: partitions,
        ..TimelyConfig::threads_in_process(workers)
    };
    Execution::start(&config).unwrap().detach().unwrap()
}

/// Free loopback addresses, one per process.
pub fn free_hosts(processes: usize) -> Vec<String> {
    let listeners: Vec<_> = (0..processes)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().unwrap().to_string())
        .collect()
}

/// `workers` timely processes of one worker each, connected over loopback TCP (each
/// process's share started on its own thread, as separate processes would).
pub fn timely_processes(workers: usize, partitions: usize) -> Vec<SpateContext> {
    let hosts = free_hosts(workers);
    let starts: Vec<_> = (0..workers)
        .map(|p| {
            let config = TimelyConfig {
                default_parallelism: partitions,
                ..TimelyConfig::cluster(1, workers, p, hosts.clone())
            };
            std::thread::spawn(move || Execution::start(&config).unwrap().detach().unwrap())
        })
        .collect();
    starts.into_iter().flat_map(|h| h.join().unwrap()).collect()
}

#[test]
fn execute_runs_the_program_on_every_worker_with_the_same_results() {
    let results = execute(&TimelyConfig::threads_in_process(3), |sc| {
        let sum = sc
            .parallelize((1..=1_000_u64).collect(), 7)
            .map(|x| (x % 10, x))
            .reduce_by_key(|a, b| a + b)
            .collect()
            .unwrap();
        (sc.worker(), sc.workers(), sum)
    })
    .unwrap();
    assert_eq!(results.len(), 3);
    for (i, (worker, workers, sum)) in results.iter().enumerate() {
        assert_eq!((*worker, *workers), (i, 3));
        assert_eq!(*sum, results[0].2);
    }
    let reference = SpateContext::sequential(8)
        .parallelize((1..=1_000_u64).collect(), 7)
        .map(|x| (x % 10, x))
        .reduce_by_key(|a, b| a + b)
        .collect()
        .unwrap();
    assert_eq!(results[0].2, reference);
}

#[test]
fn processes_started_with_different_worker_counts_fail_fast_with_a_clear_error() {
    let hosts = free_hosts(2);
    let started: Vec<_> = [2, 1]
        .into_iter()
        .enumerate()
        .map(|(p, workers)| {
            let config = TimelyConfig {
                connect_timeout: Duration::from_secs(20),
                ..TimelyConfig::cluster(workers, 2, p, hosts.clone())
            };
            std::thread::spawn(move || {
                let t = std::time::Instant::now();
                (
                    Execution::start(&config)
                        .map(drop)
                        .map_err(|e| e.to_string()),
                    t.elapsed(),
                )
            })
        })
        .collect();
    for handle in started {
        let (result, took) = handle.join().unwrap();
        let text = result.unwrap_err();
        assert!(
            text.contains("processes × workers per process")
                && text.contains("started differently"),
            "{text}"
        );
        assert!(took < Duration::from_secs(15), "took {took:?}");
    }
}

#[test]
fn a_missing_process_is_reported_after_the_connect_timeout() {
    let hosts = free_hosts(2);
    let config = TimelyConfig {
        connect_timeout: Duration::from_millis(500),
        ..TimelyConfig::cluster(1, 2, 1, hosts)
    };
    let text = Execution::start(&config).map(drop).unwrap_err().to_string();
    assert!(
        text.contains("process 0") && text.contains("did not answer"),
        "{text}"
    );
}

#[test]
fn execute_returns_when_a_program_leaves_a_clone_of_its_context_behind() {
    use spate_core::stream::{FastForwardClock, StreamingContext};
    // A streaming context captured by its own output operation is a reference cycle: the
    // worker's context is never dropped. The workers stop when the programs return anyway.
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let counts = execute(&TimelyConfig::threads_in_process(2), |sc| {
            let ssc = StreamingContext::builder(&sc)
                .batch_interval(Duration::from_secs(1))
                .clock(FastForwardClock::new())
                .build()
                .unwrap();
            let (queue, input) = ssc.queue_stream::<u32>(true).unwrap();
            let seen = std::sync::Arc::new(std::sync::Mutex::new(0));
            let (captured, sink) = (ssc.clone(), std::sync::Arc::clone(&seen));
            input
                .foreach_rdd(move |rdd, _| {
                    let _ = captured.zero_time();
                    *sink.lock().unwrap() += rdd.collect()?.len();
                    Ok(())
                })
                .unwrap();
            queue.push((0..10).collect());
            queue.close();
            ssc.start().unwrap();
            ssc.await_termination().unwrap();
            *seen.lock().unwrap()
        });
        let _ = done.send(counts);
    });
    let counts = finished
        .recv_timeout(Duration::from_secs(120))
        .expect("execute must return once every program has")
        .unwrap();
    assert_eq!(counts, vec![10, 10]);
}

#[test]
fn a_stream_runs_its_batches_on_the_worker_pool_and_knows_its_worker() {
    use spate_core::stream::{FastForwardClock, StreamingContext};
    // The batch loop is driven from the worker's rayon pool (stages start in place) and
    // marks its thread as the worker's, which leader-only printing and writing rely on.
    let seen = execute(&TimelyConfig::threads_in_process(2), |sc| {
        let ssc = StreamingContext::builder(&sc)
            .batch_interval(Duration::from_secs(1))
            .clock(FastForwardClock::new())
            .build()
            .unwrap();
        let (queue, input) = ssc.queue_stream::<u32>(true).unwrap();
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = std::sync::Arc::clone(&seen);
        input
            .map(|x| (x % 3, x))
            .reduce_by_key(|a, b| a + b)
            .foreach_rdd(move |rdd, _| {
                let sum: u32 = rdd.collect()?.iter().map(|(_, v)| v).sum();
                let thread = std::thread::current().name().map(str::to_owned);
                sink.lock().unwrap().push((
                    thread,
                    spate_core::runtime::current_worker(),
                    spate_core::runtime::on_leader(),
                    sum,
                ));
                Ok(())
            })
            .unwrap();
        queue.push((0..10).collect());
        queue.push((10..20).collect());
        queue.close();
        ssc.start().unwrap();
        ssc.await_termination().unwrap();
        (sc.worker(), seen.lock().unwrap().clone())
    })
    .unwrap();
    for (worker, batches) in seen {
        assert_eq!(batches.len(), 2, "worker {worker}");
        for ((thread, current, leader, sum), expected) in batches.into_iter().zip([45, 145]) {
            let thread = thread.unwrap_or_default();
            assert!(
                thread.starts_with(&format!("spate-timely-{worker}-")),
                "worker {worker} ran a batch on {thread}"
            );
            assert_eq!(current, Some((worker, 2)));
            assert_eq!(leader, worker == 0);
            assert_eq!(sum, expected);
        }
    }
}
