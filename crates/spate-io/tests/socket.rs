//! `SocketTextSource` against a real `TcpListener` on loopback: delivery, bad lines,
//! reconnects, TCP backpressure, prompt stop.

use crate::common::wait_for;
use spate_core::BatchTime;
use spate_io::{IoError, SocketStats, SocketTextSource, Source};
use std::io::{ErrorKind, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

const PATIENCE: Duration = Duration::from_secs(30);

/// Accepts one connection, failing the test instead of hanging if none comes.
fn accept(listener: &TcpListener) -> TcpStream {
    listener.set_nonblocking(true).unwrap();
    let mut stream = None;
    wait_for("the source to connect", PATIENCE, || {
        match listener.accept() {
            Ok((s, _)) => stream = Some(s),
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            Err(e) => panic!("accept failed: {e}"),
        }
        stream.is_some()
    });
    let stream = stream.unwrap();
    stream.set_nonblocking(false).unwrap();
    stream
}

/// Polls batches until `n` records arrived; returns them and the skipped count.
fn collect(
    source: &mut SocketTextSource,
    n: usize,
    max_records: Option<u64>,
) -> (Vec<String>, u64) {
    let (mut records, mut skipped) = (Vec::new(), 0);
    let mut t = 0;
    wait_for("records to arrive", PATIENCE, || {
        t += 1;
        let batch = source.next_batch(BatchTime(t), max_records).unwrap();
        if let Some(max) = max_records {
            assert!(batch.records.len() as u64 <= max);
        }
        records.extend(batch.records);
        skipped += batch.skipped;
        records.len() >= n
    });
    (records, skipped)
}

fn stop_promptly(mut source: SocketTextSource, stats: &SocketStats) {
    let started = Instant::now();
    source.stop();
    let took = started.elapsed();
    assert!(took < Duration::from_secs(2), "stop took {took:?}");
    assert!(!stats.is_connected());
}

#[test]
fn lines_arrive_bad_lines_are_counted_and_a_dropped_peer_is_reconnected() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut source = SocketTextSource::options(listener.local_addr().unwrap().to_string())
        .max_line_bytes(16)
        .backoff(Duration::from_millis(10), Duration::from_millis(50))
        .build()
        .unwrap();
    let stats = source.stats();
    source.start().unwrap();

    let mut peer = accept(&listener);
    let mut payload = b"alpha\r\nbeta\n\xff\xfe bad\n".to_vec();
    payload.extend(std::iter::repeat_n(b'x', 100_000));
    payload.extend(b"\ngamma\n");
    peer.write_all(&payload).unwrap();
    let (records, skipped) = collect(&mut source, 3, None);
    assert_eq!(records, ["alpha", "beta", "gamma"]);
    assert_eq!(skipped, 2);
    assert_eq!(
        (stats.invalid_utf8(), stats.too_long(), stats.lines()),
        (1, 1, 3)
    );
    assert_eq!(stats.reconnects(), 0);

    // The peer goes away; the source reconnects to the next accept. A line cut by the
    // disconnect is still delivered.
    drop(peer);
    let mut peer = accept(&listener);
    peer.write_all(b"delta\npartial").unwrap();
    drop(peer);
    let (records, skipped) = collect(&mut source, 2, None);
    assert_eq!(records, ["delta", "partial"]);
    assert_eq!(skipped, 0);
    assert!(stats.reconnects() >= 1);
    // Later batches report only what is new.
    assert_eq!(
        source
            .next_batch(BatchTime(u64::MAX), None)
            .unwrap()
            .skipped,
        0
    );
    stop_promptly(source, &stats);
}

#[test]
fn a_refused_connection_is_retried_with_backoff_until_the_server_appears() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut source = SocketTextSource::options(format!("127.0.0.1:{port}"))
        .backoff(Duration::from_millis(5), Duration::from_millis(20))
        .build()
        .unwrap();
    let stats = source.stats();
    source.start().unwrap();
    wait_for("connection failures", PATIENCE, || {
        stats.connect_failures() >= 3
    });
    assert!(!stats.is_connected());

    let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
    let mut peer = accept(&listener);
    peer.write_all(b"hello\n").unwrap();
    let (records, _) = collect(&mut source, 1, None);
    assert_eq!(records, ["hello"]);
    // A failure before the first connection is not a reconnect.
    assert_eq!(stats.reconnects(), 0);
    stop_promptly(source, &stats);
}

fn numbered_line(i: usize) -> Vec<u8> {
    let mut line = format!("{i:09} ").into_bytes();
    line.resize(999, b'y');
    line.push(b'\n');
    line
}

#[test]
fn a_full_buffer_stops_reading_so_tcp_pushes_back_on_the_sender() {
    // 20 MB: several times the buffer plus both socket buffers (about 4 MB here).
    const LINES: usize = 20_000;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut source = SocketTextSource::options(listener.local_addr().unwrap().to_string())
        .buffer_bytes(64 * 1024)
        .build()
        .unwrap();
    let stats = source.stats();
    source.start().unwrap();
    let mut peer = accept(&listener);
    peer.set_nonblocking(true).unwrap();

    // Write without blocking until the source pushes back: its buffer full, its reads
    // paused, and the socket refusing more bytes for a while.
    let (mut next, mut line, mut at) = (0, numbered_line(0), 0);
    let mut refused_since: Option<Instant> = None;
    let deadline = Instant::now() + PATIENCE;
    loop {
        assert!(Instant::now() < deadline, "the sender was never blocked");
        match peer.write(&line[at..]) {
            Ok(n) => {
                at += n;
                refused_since = None;
                if at == line.len() {
                    next += 1;
                    assert!(next < LINES, "every line was accepted: no backpressure");
                    (line, at) = (numbered_line(next), 0);
                }
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                let since = *refused_since.get_or_insert_with(Instant::now);
                if stats.is_backpressured() && since.elapsed() > Duration::from_millis(200) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            Err(e) => panic!("write failed: {e}"),
        }
    }
    eprintln!("accepted {next} lines of 1000 bytes before the source was drained");
    assert!(
        next < LINES / 2,
        "accepted {next} of {LINES} lines before any was taken"
    );
    // The source holds at most its one-chunk buffer plus the chunk it is blocked on, each
    // 64 KiB plus at most one line.
    let bound = 2 * (64 * 1024 + 1000);
    assert!(
        stats.buffered_bytes() <= bound,
        "{}",
        stats.buffered_bytes()
    );

    // Drain the source: the sender can now finish, and nothing was lost or reordered.
    let writer = std::thread::spawn(move || {
        peer.set_nonblocking(false).unwrap();
        peer.write_all(&line[at..]).unwrap();
        for i in next + 1..LINES {
            peer.write_all(&numbered_line(i)).unwrap();
        }
    });
    let (records, skipped) = collect(&mut source, LINES, Some(5000));
    writer.join().unwrap();
    assert_eq!(skipped, 0);
    assert_eq!(records.len(), LINES);
    for (i, r) in records.iter().enumerate() {
        let expected = numbered_line(i);
        assert_eq!(r.as_bytes(), &expected[..expected.len() - 1], "line {i}");
    }
    stop_promptly(source, &stats);
}

#[test]
fn stop_is_prompt_while_blocked_reading_backpressured_or_backing_off() {
    // Blocked in a read on an idle connection.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let mut source = SocketTextSource::options(&address).build().unwrap();
    let stats = source.stats();
    source.start().unwrap();
    let _peer = accept(&listener);
    wait_for("connected", PATIENCE, || stats.is_connected());
    stop_promptly(source, &stats);

    // Blocked handing a chunk to a full buffer.
    let mut source = SocketTextSource::options(&address)
        .buffer_bytes(1)
        .build()
        .unwrap();
    let stats = source.stats();
    source.start().unwrap();
    let mut peer = accept(&listener);
    let writer = std::thread::spawn(move || {
        for i in 0..1000 {
            if peer.write_all(&numbered_line(i)).is_err() {
                return; // the source hung up, as it should on stop
            }
        }
    });
    wait_for("backpressure", PATIENCE, || stats.is_backpressured());
    stop_promptly(source, &stats);
    writer.join().unwrap();

    // Waiting out a long back-off after a refused connection.
    drop(listener);
    let mut source = SocketTextSource::options(&address)
        .backoff(Duration::from_secs(60), Duration::from_secs(60))
        .build()
        .unwrap();
    let stats = source.stats();
    source.start().unwrap();
    wait_for("a refused connection", PATIENCE, || {
        stats.connect_failures() >= 1
    });
    stop_promptly(source, &stats);
}

#[test]
fn bad_parameters_are_rejected_at_build() {
    for (builder, name) in [
        (SocketTextSource::options("no-port"), "address"),
        (SocketTextSource::options("host:99999"), "address"),
        (
            SocketTextSource::options("localhost:1").backoff(Duration::ZERO, Duration::ZERO),
            "backoff",
        ),
        (
            SocketTextSource::options("localhost:1")
                .backoff(Duration::from_secs(2), Duration::from_secs(1)),
            "backoff",
        ),
        (
            SocketTextSource::options("localhost:1").max_line_bytes(0),
            "max_line_bytes",
        ),
    ] {
        match builder.build() {
            Err(IoError::InvalidParameter { name: got, .. }) => assert_eq!(got, name),
            Err(e) => panic!("wrong error for {name}: {e}"),
            Ok(_) => panic!("{name} accepted"),
        }
    }
}
