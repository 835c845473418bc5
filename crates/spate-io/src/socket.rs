//! [`SocketTextSource`]: lines from a TCP server (Spark's `socketTextStream`).

use crate::error::IoError;
use crate::lines::{DEFAULT_MAX_LINE_BYTES, Line, LineReader, SkipReason, check_max_line_bytes};
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TrySendError};
use spate_core::BatchTime;
use spate_core::stream::{Source, SourceBatch};
use std::collections::VecDeque;
use std::io::BufReader;
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

/// Lines are handed from the receiver to the batch in chunks of about this many bytes, so
/// the hand-off costs one channel operation per chunk, not per line.
const CHUNK_BYTES: usize = 64 * 1024;

/// The socket read buffer.
const READ_BUFFER: usize = 64 * 1024;

/// Counters of a [`SocketTextSource`], readable from any thread while it runs.
#[derive(Clone, Debug, Default)]
pub struct SocketStats {
    inner: Arc<SocketCounters>,
}

#[derive(Debug, Default)]
struct SocketCounters {
    lines: AtomicU64,
    invalid_utf8: AtomicU64,
    too_long: AtomicU64,
    connections: AtomicU64,
    connect_failures: AtomicU64,
    buffered_lines: AtomicU64,
    buffered_bytes: AtomicU64,
    connected: AtomicBool,
    backpressured: AtomicBool,
}

impl SocketStats {
    /// Valid lines received (delivered or still buffered), counted as they are handed to
    /// the buffer.
    pub fn lines(&self) -> u64 {
        self.inner.lines.load(Ordering::Relaxed)
    }

    /// Lines skipped: invalid UTF-8 plus over-long.
    pub fn skipped(&self) -> u64 {
        self.invalid_utf8() + self.too_long()
    }

    /// Lines skipped because they were not valid UTF-8.
    pub fn invalid_utf8(&self) -> u64 {
        self.inner.invalid_utf8.load(Ordering::Relaxed)
    }

    /// Lines skipped because they exceeded the line limit.
    pub fn too_long(&self) -> u64 {
        self.inner.too_long.load(Ordering::Relaxed)
    }

    /// Connections established after the first one (after a disconnect or a failure).
    pub fn reconnects(&self) -> u64 {
        self.inner
            .connections
            .load(Ordering::Relaxed)
            .saturating_sub(1)
    }

    /// Connection attempts that failed (refused, timed out, unresolvable).
    pub fn connect_failures(&self) -> u64 {
        self.inner.connect_failures.load(Ordering::Relaxed)
    }

    /// Whether the receiver is connected now.
    pub fn is_connected(&self) -> bool {
        self.inner.connected.load(Ordering::Relaxed)
    }

    /// Whether the buffer is full and the receiver has stopped reading, so TCP flow control
    /// is holding the sender back.
    pub fn is_backpressured(&self) -> bool {
        self.inner.backpressured.load(Ordering::Relaxed)
    }

    /// Lines received but not yet taken by a batch.
    pub fn buffered_lines(&self) -> u64 {
        self.inner.buffered_lines.load(Ordering::Relaxed)
    }

    /// Bytes of the lines received but not yet taken by a batch.
    pub fn buffered_bytes(&self) -> u64 {
        self.inner.buffered_bytes.load(Ordering::Relaxed)
    }
}

/// Connection settings, shared with the receiver thread.
#[derive(Clone, Debug)]
struct SocketConfig {
    address: String,
    max_line_bytes: usize,
    backoff_initial: Duration,
    backoff_max: Duration,
    connect_timeout: Duration,
}

#[derive(Default)]
struct Chunk {
    lines: Vec<String>,
    bytes: u64,
}

/// What the source and its receiver thread share.
struct Shared {
    stopping: AtomicBool,
    /// The open connection, so `stop` can shut it down and unblock a read.
    stream: Mutex<Option<TcpStream>>,
}

struct ReceiverThread {
    thread: JoinHandle<()>,
    /// Dropped by `stop`: wakes the receiver from a back-off wait or a blocked hand-off.
    stop_tx: Sender<()>,
    /// Disconnected when the thread exits.
    done_rx: Receiver<()>,
    shared: Arc<Shared>,
}

/// Streams lines from a TCP server: connects to `host:port` as a client (Spark's
/// `socketTextStream`), reads on a receiver thread into a bounded buffer, and hands what is
/// buffered to each batch.
///
/// - **Bounded memory, real backpressure**: the buffer holds at most about
///   [`buffer_bytes`](SocketBuilder::buffer_bytes) of lines. When it is full the receiver
///   stops reading, the kernel's socket buffers fill, and TCP flow control blocks the
///   sender; nothing is buffered without bound. Lines move in chunks of 64 KiB (plus at
///   most one line); worst case in memory: `buffer_bytes` rounded up to whole chunks, the
///   chunk a batch took part of, the chunk being handed over, the 64 KiB read buffer and
///   one line of `max_line_bytes`.
/// - **Bad input**: invalid UTF-8 and over-long lines are skipped and counted (an over-long
///   line is read to its end and dropped, never stored whole); each batch's
///   [`SourceBatch::skipped`] carries the lines skipped since the previous batch.
/// - **Failures**: a refused connection, a reset or a closed connection is logged
///   (`tracing`), counted, and retried with exponential back-off from `initial` to `max`
///   ([`backoff`](SocketBuilder::backoff)); the back-off restarts after each successful
///   connection. A line cut by a disconnect is delivered as it is.
/// - **Delivery**: at most once; lines buffered when the process dies are lost, and the
///   source is not replayable ([`offset`](Source::offset) is `None`).
/// - **Lifecycle**: [`start`](Source::start) spawns the receiver (the first
///   [`next_batch`](Source::next_batch) does if `start` was not called);
///   [`stop`](Source::stop) shuts the connection down and returns promptly, at most the
///   connect timeout plus a second even if the thread is stuck in `connect`.
///
/// ```no_run
/// use spate_io::SocketTextSource;
/// use std::time::Duration;
///
/// let source = SocketTextSource::options("localhost:9999")
///     .buffer_bytes(1 << 20)
///     .backoff(Duration::from_millis(100), Duration::from_secs(5))
///     .build()?;
/// let stats = source.stats(); // watch reconnects and skipped lines from anywhere
/// # Ok::<(), spate_io::IoError>(())
/// ```
pub struct SocketTextSource {
    config: SocketConfig,
    name: String,
    tx: Sender<Chunk>,
    rx: Receiver<Chunk>,
    /// The rest of a chunk a batch took only part of (under `max_records`).
    pending: VecDeque<String>,
    receiver: Option<ReceiverThread>,
    stopped: bool,
    stats: SocketStats,
    reported_skipped: u64,
}

/// Configures a [`SocketTextSource`]; see [`SocketTextSource::options`].
#[derive(Clone, Debug)]
pub struct SocketBuilder {
    config: SocketConfig,
    buffer_bytes: usize,
}

impl SocketBuilder {
    /// The longest line kept, in bytes (default 1 MiB); longer lines are skipped and counted.
    pub fn max_line_bytes(mut self, bytes: usize) -> Self {
        self.config.max_line_bytes = bytes;
        self
    }

    /// About how many bytes of received lines to hold before reading pauses (default
    /// 4 MiB). Rounded up to whole 64 KiB chunks.
    pub fn buffer_bytes(mut self, bytes: usize) -> Self {
        self.buffer_bytes = bytes;
        self
    }

    /// Reconnect delays: the first retry waits `initial`, each further failure doubles the
    /// wait up to `max` (defaults 100 ms and 10 s).
    pub fn backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.config.backoff_initial = initial;
        self.config.backoff_max = max;
        self
    }

    /// How long one connection attempt may take (default 2 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.config.connect_timeout = timeout;
        self
    }

    /// Checks the parameters; connecting happens on [`start`](Source::start).
    pub fn build(self) -> Result<SocketTextSource, IoError> {
        let c = &self.config;
        check_max_line_bytes(c.max_line_bytes)?;
        let port_ok = c
            .address
            .rsplit_once(':')
            .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
        if !port_ok {
            return Err(IoError::invalid(
                "address",
                &c.address,
                "must be HOST:PORT, e.g. localhost:9999",
            ));
        }
        if c.backoff_initial.is_zero() || c.backoff_max < c.backoff_initial {
            return Err(IoError::invalid(
                "backoff",
                (c.backoff_initial, c.backoff_max),
                "needs 0 < initial <= max",
            ));
        }
        if c.connect_timeout.is_zero() {
            return Err(IoError::invalid(
                "connect_timeout",
                c.connect_timeout,
                "must be positive",
            ));
        }
        let chunks = self.buffer_bytes.div_ceil(CHUNK_BYTES).max(1);
        let (tx, rx) = crossbeam_channel::bounded(chunks);
        Ok(SocketTextSource {
            name: format!("socket({})", self.config.address),
            config: self.config,
            tx,
            rx,
            pending: VecDeque::new(),
            receiver: None,
            stopped: false,
            stats: SocketStats::default(),
            reported_skipped: 0,
        })
    }
}

impl SocketTextSource {
    /// Starts configuring a source that connects to `address` (`host:port`).
    pub fn options(address: impl Into<String>) -> SocketBuilder {
        SocketBuilder {
            config: SocketConfig {
                address: address.into(),
                max_line_bytes: DEFAULT_MAX_LINE_BYTES,
                backoff_initial: Duration::from_millis(100),
                backoff_max: Duration::from_secs(10),
                connect_timeout: Duration::from_secs(2),
            },
            buffer_bytes: 4 << 20,
        }
    }

    /// A handle on the source's counters.
    pub fn stats(&self) -> SocketStats {
        self.stats.clone()
    }

    fn spawn(&mut self) -> Result<(), IoError> {
        if self.receiver.is_some() || self.stopped {
            return Ok(());
        }
        let shared = Arc::new(Shared {
            stopping: AtomicBool::new(false),
            stream: Mutex::new(None),
        });
        let (stop_tx, stop_rx) = crossbeam_channel::bounded(0);
        let (done_tx, done_rx) = crossbeam_channel::bounded::<()>(0);
        let receiver = ReceiverLoop {
            config: self.config.clone(),
            tx: self.tx.clone(),
            stop_rx,
            shared: Arc::clone(&shared),
            stats: self.stats.clone(),
        };
        let thread = std::thread::Builder::new()
            .name(format!("spate-socket-{}", self.config.address))
            .spawn(move || {
                let _done = done_tx;
                receiver.run();
            })
            .map_err(|e| IoError::io(&self.config.address, e))?;
        self.receiver = Some(ReceiverThread {
            thread,
            stop_tx,
            done_rx,
            shared,
        });
        Ok(())
    }

    fn take_records(&mut self, max_records: Option<u64>) -> (Vec<String>, u64) {
        let limit = max_records.map_or(usize::MAX, |m| usize::try_from(m).unwrap_or(usize::MAX));
        let mut records = Vec::new();
        while records.len() < limit {
            let Some(line) = self.pending.pop_front() else {
                break;
            };
            records.push(line);
        }
        while records.len() < limit {
            let Ok(chunk) = self.rx.try_recv() else { break };
            let counters = &self.stats.inner;
            counters
                .buffered_lines
                .fetch_sub(chunk.lines.len() as u64, Ordering::Relaxed);
            counters
                .buffered_bytes
                .fetch_sub(chunk.bytes, Ordering::Relaxed);
            let room = limit - records.len();
            if chunk.lines.len() <= room {
                records.extend(chunk.lines);
            } else {
                let mut lines = chunk.lines.into_iter();
                records.extend(lines.by_ref().take(room));
                self.pending.extend(lines);
            }
        }
        // Each line arrived with a one-byte terminator at least.
        let bytes = records.iter().map(|r| r.len() as u64 + 1).sum();
        (records, bytes)
    }
}

impl Source for SocketTextSource {
    type Item = String;

    fn name(&self) -> String {
        self.name.clone()
    }

    fn start(&mut self) -> spate_core::Result<()> {
        Ok(self.spawn()?)
    }

    fn next_batch(
        &mut self,
        _time: BatchTime,
        max_records: Option<u64>,
    ) -> spate_core::Result<SourceBatch<String>> {
        self.spawn()?;
        let (records, bytes) = self.take_records(max_records);
        let skipped_total = self.stats.skipped();
        let skipped = skipped_total - self.reported_skipped;
        self.reported_skipped = skipped_total;
        Ok(SourceBatch {
            records,
            skipped,
            bytes,
        })
    }

    fn stop(&mut self) {
        self.stopped = true;
        let Some(receiver) = self.receiver.take() else {
            return;
        };
        receiver.shared.stopping.store(true, Ordering::SeqCst);
        drop(receiver.stop_tx);
        if let Some(stream) = lock(&receiver.shared.stream).as_ref() {
            let _ = stream.shutdown(Shutdown::Both);
        }
        let grace = self.config.connect_timeout + Duration::from_secs(1);
        match receiver.done_rx.recv_timeout(grace) {
            Err(RecvTimeoutError::Timeout) => {
                tracing::warn!(source = %self.name, "receiver did not stop within {grace:?}; left to finish on its own");
            }
            _ => {
                let _ = receiver.thread.join();
            }
        }
    }
}

impl Drop for SocketTextSource {
    fn drop(&mut self) {
        self.stop();
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// How one connection ended.
enum Ended {
    /// The peer closed it (or `stop` shut it down).
    Closed,
    /// A read failed (reset, timeout).
    Failed(std::io::Error),
    /// The source is stopping.
    Stopping,
}

/// The receiver thread's state.
struct ReceiverLoop {
    config: SocketConfig,
    tx: Sender<Chunk>,
    stop_rx: Receiver<()>,
    shared: Arc<Shared>,
    stats: SocketStats,
}

impl ReceiverLoop {
    fn stopping(&self) -> bool {
        self.shared.stopping.load(Ordering::SeqCst)
    }

    fn run(self) {
        let address = &self.config.address;
        let mut delay = self.config.backoff_initial;
        while !self.stopping() {
            match self.connect() {
                Ok(stream) => {
                    let n = self.stats.inner.connections.fetch_add(1, Ordering::Relaxed);
                    if n == 0 {
                        tracing::info!(%address, "connected");
                    } else {
                        tracing::info!(%address, reconnects = n, "reconnected");
                    }
                    delay = self.config.backoff_initial;
                    let ended = self.serve(stream);
                    self.stats.inner.connected.store(false, Ordering::Relaxed);
                    lock(&self.shared.stream).take();
                    match ended {
                        Ended::Stopping => break,
                        _ if self.stopping() => break,
                        Ended::Closed => {
                            tracing::warn!(%address, "connection closed by the peer; reconnecting in {delay:?}");
                        }
                        Ended::Failed(e) => {
                            tracing::warn!(%address, "connection failed: {e}; reconnecting in {delay:?}");
                        }
                    }
                }
                Err(e) => {
                    self.stats
                        .inner
                        .connect_failures
                        .fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(%address, "cannot connect: {e}; retrying in {delay:?}");
                }
            }
            match self.stop_rx.recv_timeout(delay) {
                Err(RecvTimeoutError::Timeout) => {}
                _ => break,
            }
            delay = (delay * 2).min(self.config.backoff_max);
        }
        tracing::debug!(%address, "receiver stopped");
    }

    fn connect(&self) -> std::io::Result<TcpStream> {
        let mut last = None;
        for addr in self.config.address.to_socket_addrs()? {
            match TcpStream::connect_timeout(&addr, self.config.connect_timeout) {
                Ok(stream) => return Ok(stream),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::NotFound, "address resolved to nothing")
        }))
    }

    /// Reads one connection until it ends.
    fn serve(&self, stream: TcpStream) -> Ended {
        {
            // Registered under the lock that `stop` takes after raising `stopping`: either
            // `stop` sees this stream and shuts it down, or this sees `stopping`.
            let mut slot = lock(&self.shared.stream);
            if self.stopping() {
                return Ended::Stopping;
            }
            match stream.try_clone() {
                Ok(clone) => *slot = Some(clone),
                Err(e) => return Ended::Failed(e),
            }
        }
        self.stats.inner.connected.store(true, Ordering::Relaxed);
        let counters = &self.stats.inner;
        let mut lines = LineReader::new(
            BufReader::with_capacity(READ_BUFFER, stream),
            self.config.max_line_bytes,
        );
        let mut chunk = Chunk::default();
        loop {
            let ended = match lines.next_line() {
                Ok(Some(Line::Text(text))) => {
                    chunk.bytes += text.len() as u64;
                    chunk.lines.push(text.to_owned());
                    None
                }
                Ok(Some(Line::Skipped { reason, .. })) => {
                    let counter = match reason {
                        SkipReason::TooLong { .. } | SkipReason::Unterminated { .. } => {
                            &counters.too_long
                        }
                        _ => &counters.invalid_utf8,
                    };
                    counter.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(address = %self.config.address, line = lines.line_number(), %reason, "line skipped");
                    None
                }
                Ok(None) => Some(Ended::Closed),
                Err(e) => Some(Ended::Failed(e)),
            };
            // Hand lines over when a chunk is full, when the socket has nothing more
            // buffered (so a slow trickle is not held back), and when the connection ends.
            let idle = lines.buffered() == 0;
            if !chunk.lines.is_empty()
                && (ended.is_some() || idle || chunk.bytes >= CHUNK_BYTES as u64)
                && !self.hand_over(std::mem::take(&mut chunk))
            {
                return Ended::Stopping;
            }
            if let Some(ended) = ended {
                return ended;
            }
        }
    }

    /// Puts a chunk into the buffer, waiting while it is full; false if stopping.
    fn hand_over(&self, chunk: Chunk) -> bool {
        let counters = &self.stats.inner;
        let (lines, bytes) = (chunk.lines.len() as u64, chunk.bytes);
        counters.lines.fetch_add(lines, Ordering::Relaxed);
        // Counted before the send, so the consumer's subtraction never goes below zero.
        counters.buffered_lines.fetch_add(lines, Ordering::Relaxed);
        counters.buffered_bytes.fetch_add(bytes, Ordering::Relaxed);
        let sent = match self.tx.try_send(chunk) {
            Ok(()) => true,
            Err(TrySendError::Full(chunk)) => {
                counters.backpressured.store(true, Ordering::Relaxed);
                tracing::debug!(address = %self.config.address, "buffer full: reading paused");
                let sent = crossbeam_channel::select! {
                    send(self.tx, chunk) -> r => r.is_ok(),
                    recv(self.stop_rx) -> _ => false,
                };
                counters.backpressured.store(false, Ordering::Relaxed);
                sent
            }
            Err(TrySendError::Disconnected(_)) => false,
        };
        if !sent {
            counters.buffered_lines.fetch_sub(lines, Ordering::Relaxed);
            counters.buffered_bytes.fetch_sub(bytes, Ordering::Relaxed);
        }
        sent
    }
}
