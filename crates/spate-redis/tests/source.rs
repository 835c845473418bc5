use crate::{add, connect};
use spate_core::BatchTime;
use spate_core::stream::{Source, SourceOffset};
use spate_redis::testing::LocalRedis;
use spate_redis::{EntryId, Error, RedisStreamSource, RetryPolicy, StartFrom};
use std::time::{Duration, Instant};

const T: BatchTime = BatchTime(1000);

fn values(n: usize) -> Vec<Vec<u8>> {
    (0..n).map(|i| format!("entry {i}").into_bytes()).collect()
}

fn fill(con: &mut redis::Connection, key: &str, n: usize) -> Vec<String> {
    let v = values(n);
    let refs: Vec<&[u8]> = v.iter().map(Vec::as_slice).collect();
    add(con, key, "line", &refs)
}

fn texts(from: usize, to: usize) -> Vec<String> {
    (from..to).map(|i| format!("entry {i}")).collect()
}

/// A retry policy fast enough for tests.
fn quick(give_up_after: Duration) -> RetryPolicy {
    RetryPolicy {
        first_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(50),
        give_up_after,
        timeout: Duration::from_secs(2),
    }
}

#[test]
fn a_bounded_source_reads_every_entry_once_in_batches_and_resumes_after_its_offset() {
    let Some(server) = LocalRedis::start_or_skip("bounded source") else {
        return;
    };
    let mut con = connect(&server);
    let ids = fill(&mut con, "s", 25);
    let url = server.url("s") + "?bounded=true";
    let mut source = RedisStreamSource::options(&url)
        .entries_per_batch(10)
        .build()
        .unwrap();
    assert!(!source.is_exhausted(), "not exhausted before start");
    source.start().unwrap();
    // Entries added after the start are past the bounded source's end.
    fill(&mut con, "s", 3);
    let first = source.next_batch(T, None).unwrap();
    assert_eq!(first.records, texts(0, 10));
    assert_eq!(
        first.bytes,
        texts(0, 10).iter().map(|t| t.len() as u64).sum::<u64>()
    );
    let after_first = source.offset().unwrap();
    assert_eq!(source.last_delivered(), Some(ids[9].parse().unwrap()));
    // A rate limit lowers the batch.
    assert_eq!(
        source.next_batch(T, Some(4)).unwrap().records,
        texts(10, 14)
    );
    assert_eq!(source.next_batch(T, None).unwrap().records, texts(14, 24));
    assert!(!source.is_exhausted());
    assert_eq!(source.next_batch(T, None).unwrap().records, texts(24, 25));
    assert!(source.is_exhausted());
    assert!(source.next_batch(T, None).unwrap().records.is_empty());
    assert_eq!(source.stats().entries(), 25);

    // A new source (a restarted job) seeks to the first batch's offset and continues.
    let mut again = RedisStreamSource::options(&url)
        .entries_per_batch(10)
        .build()
        .unwrap();
    again.start().unwrap();
    again.seek(&after_first).unwrap();
    assert_eq!(again.next_batch(T, None).unwrap().records, texts(10, 20));
    // Restarted, the bounded source reads up to the entry that is last now.
    assert_eq!(again.next_batch(T, None).unwrap().records.len(), 8);
    assert!(again.is_exhausted());
}

#[test]
fn an_unbounded_source_takes_what_is_there_and_never_ends() {
    let Some(server) = LocalRedis::start_or_skip("unbounded source") else {
        return;
    };
    let mut con = connect(&server);
    let mut source = RedisStreamSource::options(server.url("live"))
        .build()
        .unwrap();
    source.start().unwrap(); // the key does not exist yet: an empty stream
    assert!(source.next_batch(T, None).unwrap().records.is_empty());
    fill(&mut con, "live", 3);
    assert_eq!(source.next_batch(T, None).unwrap().records, texts(0, 3));
    assert!(source.next_batch(T, None).unwrap().records.is_empty());
    assert!(!source.is_exhausted());
}

#[test]
fn where_a_source_starts_without_a_checkpoint() {
    let Some(server) = LocalRedis::start_or_skip("start positions") else {
        return;
    };
    let mut con = connect(&server);
    let ids = fill(&mut con, "s", 5);
    let mut at_end = RedisStreamSource::options(server.url("s") + "?start=end")
        .build()
        .unwrap();
    at_end.start().unwrap();
    let mut after = RedisStreamSource::options(server.url("s"))
        .start_from(StartFrom::After(ids[2].parse().unwrap()))
        .build()
        .unwrap();
    after.start().unwrap();
    let mut by_url = RedisStreamSource::options(format!("{}?start={}", server.url("s"), ids[3]))
        .build()
        .unwrap();
    by_url.start().unwrap();
    add(&mut con, "s", "line", &[b"new"]);
    assert_eq!(at_end.next_batch(T, None).unwrap().records, ["new"]);
    assert_eq!(
        after.next_batch(T, None).unwrap().records,
        ["entry 3", "entry 4", "new"]
    );
    assert_eq!(
        by_url.next_batch(T, None).unwrap().records,
        ["entry 4", "new"]
    );
}

#[test]
fn malformed_entries_are_skipped_counted_and_passed() {
    let Some(server) = LocalRedis::start_or_skip("malformed entries") else {
        return;
    };
    let mut con = connect(&server);
    add(&mut con, "s", "line", &[b"good one"]);
    add(&mut con, "s", "other", &[b"no line field"]);
    add(
        &mut con,
        "s",
        "line",
        &[b"\xff\xfe not utf-8", b"far too long a value", b"ok"],
    );
    redis::cmd("XADD")
        .arg("s")
        .arg("*")
        .arg("a")
        .arg("1")
        .arg("line")
        .arg("with other fields")
        .exec(&mut con)
        .unwrap();
    let mut source = RedisStreamSource::options(server.url("s") + "?bounded=true")
        .max_entry_bytes(17)
        .build()
        .unwrap();
    source.start().unwrap();
    let batch = source.next_batch(T, None).unwrap();
    assert_eq!(batch.records, ["good one", "ok", "with other fields"]);
    assert_eq!(batch.skipped, 3);
    assert_eq!(source.stats().skipped(), 3);
    assert!(
        source.is_exhausted(),
        "skipped entries are passed, not retried"
    );

    // Another field name, from the URL.
    let mut other = RedisStreamSource::options(server.url("s") + "?field=other")
        .build()
        .unwrap();
    other.start().unwrap();
    let batch = other.next_batch(T, None).unwrap();
    assert_eq!(batch.records, ["no line field"]);
    assert_eq!(batch.skipped, 5);
}

#[test]
fn bad_options_urls_keys_and_offsets_are_clear_errors() {
    let bad = |url: &str| {
        RedisStreamSource::options(url)
            .build()
            .err()
            .unwrap()
            .to_string()
    };
    assert!(bad("redis://127.0.0.1:1").contains("no key"));
    assert!(bad("redis://h/k?bounded=yes").contains("true or false"));
    assert!(bad("redis://h/k?start=middle").contains("beginning, end or an entry ID"));
    assert!(bad("redis://h/k?fields=x").contains("unknown option `fields=x`"));
    assert!(bad("redis://h/k?retry_for=forever").contains("duration"));
    assert!(bad("redis://h/k?field=").contains("field"));
    let err = RedisStreamSource::options("redis://h/k")
        .entries_per_batch(0)
        .build()
        .err()
        .unwrap();
    assert!(
        matches!(
            err,
            Error::InvalidOption {
                name: "entries_per_batch",
                ..
            }
        ),
        "{err}"
    );
    let err = RedisStreamSource::options("redis://h/k")
        .max_entry_bytes(0)
        .build()
        .err()
        .unwrap();
    assert!(matches!(err, Error::InvalidOption { .. }), "{err}");

    let Some(server) = LocalRedis::start_or_skip("bad keys and offsets") else {
        return;
    };
    let mut con = connect(&server);
    redis::cmd("RPUSH")
        .arg("a-list")
        .arg("x")
        .exec(&mut con)
        .unwrap();
    let mut source = RedisStreamSource::options(server.url("a-list"))
        .build()
        .unwrap();
    let err = source.start().unwrap_err().to_string();
    assert!(err.contains("holds a list, not a stream"), "{err}");

    let mut source = RedisStreamSource::options(server.url("s")).build().unwrap();
    source.start().unwrap();
    let other = RedisStreamSource::options(server.url("t")).build().unwrap();
    let err = source
        .seek(&other.offset().unwrap())
        .unwrap_err()
        .to_string();
    assert!(err.contains("stream `t`"), "{err}");
    let err = source
        .seek(&SourceOffset::encode(&(3_u64, 4_u64)).unwrap())
        .unwrap_err()
        .to_string();
    assert!(err.contains("not a Redis stream position"), "{err}");
}

#[test]
fn an_unreachable_server_at_start_is_an_error_at_once() {
    let Some(mut server) = LocalRedis::start_or_skip("unreachable at start") else {
        return;
    };
    let url = server.url("s");
    server.stop();
    let mut source = RedisStreamSource::options(url).build().unwrap();
    let started = Instant::now();
    let err = source.start().unwrap_err().to_string();
    assert!(err.contains("unreachable"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn a_server_that_goes_away_is_reconnected_with_backoff_and_nothing_is_lost() {
    let Some(mut server) = LocalRedis::start_or_skip("reconnect") else {
        return;
    };
    let port = server.port();
    let mut con = connect(&server);
    fill(&mut con, "s", 4);
    let mut source = RedisStreamSource::options(server.url("s"))
        .entries_per_batch(3)
        .retry(quick(Duration::from_secs(60)))
        .build()
        .unwrap();
    source.start().unwrap();
    assert_eq!(source.next_batch(T, None).unwrap().records, texts(0, 3));
    let last: EntryId = source.last_delivered().unwrap();

    server.stop();
    // While the server is gone, batches are empty and attempts are counted.
    let batch = source.next_batch(T, None).unwrap();
    assert!(batch.records.is_empty());
    assert!(source.stats().failed_attempts() >= 1);
    assert_eq!(source.stats().reconnects(), 0);

    // The same server comes back (empty: it keeps nothing) and gets new entries, whose
    // automatic IDs follow the last one read.
    let server = LocalRedis::start_on(port).unwrap();
    let mut con = connect(&server);
    let new = add(&mut con, "s", "line", &[b"after the outage"]);
    assert!(new[0].parse::<EntryId>().unwrap() > last);
    let deadline = Instant::now() + Duration::from_secs(10);
    let records = loop {
        let batch = source.next_batch(T, None).unwrap();
        if !batch.records.is_empty() {
            break batch.records;
        }
        assert!(Instant::now() < deadline, "did not reconnect");
        std::thread::sleep(Duration::from_millis(10));
    };
    assert_eq!(records, ["after the outage"]);
    assert_eq!(source.stats().reconnects(), 1);
}

#[test]
fn a_server_gone_for_longer_than_the_retry_budget_fails_the_batch() {
    let Some(mut server) = LocalRedis::start_or_skip("give up") else {
        return;
    };
    let mut source = RedisStreamSource::options(server.url("s"))
        .retry(quick(Duration::from_millis(200)))
        .build()
        .unwrap();
    source.start().unwrap();
    server.stop();
    let deadline = Instant::now() + Duration::from_secs(10);
    let err = loop {
        match source.next_batch(T, None) {
            Ok(batch) => assert!(batch.records.is_empty()),
            Err(e) => break e.to_string(),
        }
        assert!(Instant::now() < deadline, "never gave up");
        std::thread::sleep(Duration::from_millis(10));
    };
    assert!(err.contains("unreachable (for"), "{err}");
    assert!(err.contains("attempts"), "{err}");
}
