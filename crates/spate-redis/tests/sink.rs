use crate::connect;
use spate_core::BatchTime;
use spate_redis::testing::LocalRedis;
use spate_redis::{RedisHashSink, RetryPolicy};
use std::collections::HashMap;
use std::time::Duration;

fn hash(con: &mut redis::Connection, key: &str) -> HashMap<String, String> {
    redis::cmd("HGETALL").arg(key).query(con).unwrap()
}

fn batches(con: &mut redis::Connection, key: &str) -> Vec<u64> {
    redis::cmd("ZRANGE")
        .arg(key)
        .arg(0)
        .arg(-1)
        .query(con)
        .unwrap()
}

fn rows(n: usize) -> Vec<(String, u64)> {
    (0..n).map(|i| (format!("w{i}"), i as u64)).collect()
}

#[test]
fn a_rewritten_batch_replaces_its_hash_and_is_listed_once() {
    let Some(server) = LocalRedis::start_or_skip("sink rewrite") else {
        return;
    };
    let mut con = connect(&server);
    let sink = RedisHashSink::open(&server.url("out")).unwrap();
    let (t1, t2) = (BatchTime(1000), BatchTime(2000));
    assert_eq!(sink.key_for(t1), "out:1000");
    sink.write_batch(t1, &rows(2500)).unwrap();
    sink.write_batch(t2, &[("whale", 3)]).unwrap();
    let first = hash(&mut con, "out:1000");
    assert_eq!(first.len(), 2500, "rows split over several HSETs");
    assert_eq!(first["w2499"], "2499");

    // Recomputed after a recovery with other content: the hash is replaced whole.
    sink.write_batch(t1, &[("w7", 70), ("new", 1)]).unwrap();
    let replaced = hash(&mut con, "out:1000");
    assert_eq!(
        replaced,
        HashMap::from([("w7".into(), "70".into()), ("new".into(), "1".into())])
    );
    // An empty batch leaves no hash but is listed.
    sink.write_batch(BatchTime(3000), &Vec::<(String, u64)>::new())
        .unwrap();
    assert!(hash(&mut con, "out:3000").is_empty());
    assert_eq!(batches(&mut con, "out:batches"), [1000, 2000, 3000]);
    assert_eq!(sink.stats().batches_written(), 4);

    sink.write_named("final", &[("whale", 9), ("whale", 10)])
        .unwrap();
    assert_eq!(
        hash(&mut con, "out:final")["whale"],
        "10",
        "the last row wins"
    );
    assert_eq!(batches(&mut con, "out:batches").len(), 3);
}

#[test]
fn a_write_waits_for_a_server_that_comes_back_and_gives_up_after_the_budget() {
    let Some(mut server) = LocalRedis::start_or_skip("sink outage") else {
        return;
    };
    let port = server.port();
    let policy = RetryPolicy {
        first_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(50),
        give_up_after: Duration::from_secs(60),
        timeout: Duration::from_secs(2),
    };
    let sink = RedisHashSink::with_retry(&server.url("out"), policy).unwrap();
    server.stop();
    // The server comes back while the write retries.
    let restart = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        LocalRedis::start_on(port).unwrap()
    });
    sink.write_batch(BatchTime(5000), &[("a", 1)]).unwrap();
    let server = restart.join().unwrap();
    let mut con = connect(&server);
    assert_eq!(hash(&mut con, "out:5000")["a"], "1");
    assert_eq!(sink.stats().reconnects(), 1);
    assert!(sink.stats().failed_attempts() >= 1);

    let quick = RetryPolicy {
        give_up_after: Duration::from_millis(150),
        ..policy
    };
    let mut server = server;
    let sink = RedisHashSink::with_retry(&server.url("out"), quick).unwrap();
    server.stop();
    let err = sink.write_batch(BatchTime(6000), &[("a", 1)]).unwrap_err();
    assert!(err.to_string().contains("unreachable (for"), "{err}");
    // Unreachable when opened: an error at once.
    let err = RedisHashSink::open(&server.url("out")).err().unwrap();
    assert!(err.to_string().contains("unreachable"), "{err}");
}

#[test]
fn a_key_of_another_type_is_refused_with_the_key_named() {
    let Some(server) = LocalRedis::start_or_skip("sink wrong type") else {
        return;
    };
    let mut con = connect(&server);
    redis::cmd("SET")
        .arg("out:batches")
        .arg("x")
        .exec(&mut con)
        .unwrap();
    let sink = RedisHashSink::open(&server.url("out")).unwrap();
    let err = sink.write_batch(BatchTime(1000), &[("a", 1)]).unwrap_err();
    let message = err.to_string();
    assert!(message.contains("refused"), "{message}");
    assert!(message.contains("WRONGTYPE"), "{message}");
    assert!(message.contains("out:1000"), "{message}");
}
