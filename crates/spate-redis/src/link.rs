//! [`Link`]: one connection to a Redis server that is replaced, with exponential back-off,
//! when the server goes away, and [`RedisStats`], what it counts.

use crate::error::Error;
use crate::url::RedisUrl;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How a source or sink rides out a server that goes away.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The first wait after a failure; it doubles with every failure in a row.
    pub first_delay: Duration,
    /// The longest wait between two attempts.
    pub max_delay: Duration,
    /// How long the server may stay unreachable before the source or sink fails (and the
    /// job stops with a clear error; restarting it resumes from its checkpoint).
    pub give_up_after: Duration,
    /// The timeout of a connection attempt and of every read and write.
    pub timeout: Duration,
}

impl Default for RetryPolicy {
    /// First wait 100 ms, doubling to at most 5 s, failing after 60 s; 5 s timeouts.
    fn default() -> Self {
        RetryPolicy {
            first_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(5),
            give_up_after: Duration::from_secs(60),
            timeout: Duration::from_secs(5),
        }
    }
}

impl RetryPolicy {
    pub(crate) fn check(&self) -> crate::Result<()> {
        let invalid = |name, value: Duration, reason| {
            Err(Error::InvalidOption {
                name,
                value: format!("{value:?}"),
                reason,
            })
        };
        if self.timeout.is_zero() || self.timeout > Duration::from_secs(3600) {
            return invalid("timeout", self.timeout, "must be between 1 ms and 1 hour");
        }
        if self.first_delay.is_zero() || self.first_delay > self.max_delay {
            return invalid(
                "first_delay",
                self.first_delay,
                "must be positive and at most max_delay",
            );
        }
        if self.max_delay > Duration::from_secs(3600) {
            return invalid("max_delay", self.max_delay, "must be at most 1 hour");
        }
        if self.give_up_after > Duration::from_secs(7 * 24 * 3600) {
            return invalid("retry_for", self.give_up_after, "must be at most 7 days");
        }
        Ok(())
    }
}

/// Counters of a source or sink, shared with the program that created it.
#[derive(Clone, Debug, Default)]
pub struct RedisStats {
    inner: Arc<Counters>,
}

#[derive(Debug, Default)]
struct Counters {
    entries: AtomicU64,
    skipped: AtomicU64,
    reconnects: AtomicU64,
    failed_attempts: AtomicU64,
    batches_written: AtomicU64,
}

impl RedisStats {
    /// Entries delivered as records (source).
    pub fn entries(&self) -> u64 {
        self.inner.entries.load(Ordering::Relaxed)
    }

    /// Entries skipped as malformed: without the field, not UTF-8, or too long (source).
    pub fn skipped(&self) -> u64 {
        self.inner.skipped.load(Ordering::Relaxed)
    }

    /// Connections re-established after the server went away.
    pub fn reconnects(&self) -> u64 {
        self.inner.reconnects.load(Ordering::Relaxed)
    }

    /// Connection attempts and commands that failed because the server was unreachable.
    pub fn failed_attempts(&self) -> u64 {
        self.inner.failed_attempts.load(Ordering::Relaxed)
    }

    /// Batches written (sink).
    pub fn batches_written(&self) -> u64 {
        self.inner.batches_written.load(Ordering::Relaxed)
    }

    pub(crate) fn add_entries(&self, delivered: u64, skipped: u64) {
        self.inner.entries.fetch_add(delivered, Ordering::Relaxed);
        self.inner.skipped.fetch_add(skipped, Ordering::Relaxed);
    }

    pub(crate) fn add_batch_written(&self) {
        self.inner.batches_written.fetch_add(1, Ordering::Relaxed);
    }
}

/// Why a command did not run.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The server is unreachable now and the retry budget is not spent: nothing was done;
    /// try again after [`Link::retry_in`].
    Unavailable(String),
    /// The server stayed unreachable for longer than the retry budget.
    GaveUp(Error),
    /// The server answered the command with an error.
    Refused(String),
}

/// A connection to the server of a [`RedisUrl`], replaced when it breaks.
pub(crate) struct Link {
    url: RedisUrl,
    client: redis::Client,
    policy: RetryPolicy,
    stats: RedisStats,
    conn: Option<redis::Connection>,
    /// When the server became unreachable, while it is.
    down_since: Option<Instant>,
    attempts_while_down: u64,
    next_attempt: Option<Instant>,
    delay: Duration,
}

impl Link {
    pub(crate) fn new(
        url: &RedisUrl,
        policy: RetryPolicy,
        stats: RedisStats,
    ) -> crate::Result<Link> {
        policy.check()?;
        Ok(Link {
            client: url.client()?,
            url: url.clone(),
            policy,
            stats,
            conn: None,
            down_since: None,
            attempts_while_down: 0,
            next_attempt: None,
            delay: policy.first_delay,
        })
    }

    pub(crate) fn address(&self) -> String {
        self.url.address()
    }

    /// Connects now, failing at once if the server cannot be reached: at start, a wrong
    /// address should be reported, not retried.
    pub(crate) fn connect_now(&mut self) -> crate::Result<()> {
        let conn = self.open().map_err(|e| Error::Unreachable {
            address: self.address(),
            waited: None,
            attempts: 1,
            message: e.to_string(),
        })?;
        self.conn = Some(conn);
        Ok(())
    }

    fn open(&self) -> redis::RedisResult<redis::Connection> {
        let conn = self
            .client
            .get_connection_with_timeout(self.policy.timeout)?;
        conn.set_read_timeout(Some(self.policy.timeout))?;
        conn.set_write_timeout(Some(self.policy.timeout))?;
        Ok(conn)
    }

    /// How long until the next connection attempt is allowed (zero if now).
    pub(crate) fn retry_in(&self) -> Duration {
        self.next_attempt.map_or(Duration::ZERO, |t| {
            t.saturating_duration_since(Instant::now())
        })
    }

    /// Runs `command` on the connection, (re)connecting first if needed and allowed.
    pub(crate) fn run<T>(
        &mut self,
        command: impl FnOnce(&mut redis::Connection) -> redis::RedisResult<T>,
    ) -> Result<T, Failure> {
        if self.conn.is_none() {
            if self.retry_in() > Duration::ZERO {
                return Err(Failure::Unavailable("waiting to reconnect".into()));
            }
            match self.open() {
                Ok(conn) => self.conn = Some(conn),
                Err(e) => return Err(self.failed(&e)),
            }
        }
        let Some(conn) = self.conn.as_mut() else {
            return Err(Failure::Unavailable("not connected".into()));
        };
        match command(conn) {
            Ok(value) => {
                if self.down_since.take().is_some() {
                    self.stats.inner.reconnects.fetch_add(1, Ordering::Relaxed);
                    tracing::info!(
                        address = %self.url.address(),
                        attempts = self.attempts_while_down,
                        "reconnected to Redis"
                    );
                }
                self.attempts_while_down = 0;
                self.next_attempt = None;
                self.delay = self.policy.first_delay;
                Ok(value)
            }
            Err(e) if transient(&e) => {
                self.conn = None;
                Err(self.failed(&e))
            }
            Err(e) => Err(Failure::Refused(e.to_string())),
        }
    }

    /// Records a failed attempt and schedules the next one.
    fn failed(&mut self, e: &redis::RedisError) -> Failure {
        let now = Instant::now();
        let since = *self.down_since.get_or_insert(now);
        self.attempts_while_down += 1;
        self.stats
            .inner
            .failed_attempts
            .fetch_add(1, Ordering::Relaxed);
        let waited = now.duration_since(since);
        if waited >= self.policy.give_up_after {
            return Failure::GaveUp(Error::Unreachable {
                address: self.url.address(),
                waited: Some(waited),
                attempts: self.attempts_while_down,
                message: e.to_string(),
            });
        }
        if self.attempts_while_down == 1 {
            tracing::warn!(address = %self.url.address(), "Redis unreachable ({e}); retrying with back-off");
        }
        self.next_attempt = Some(now + self.delay);
        self.delay = (self.delay * 2).min(self.policy.max_delay);
        Failure::Unavailable(e.to_string())
    }
}

/// Errors after which the connection is replaced and the command retried later.
fn transient(e: &redis::RedisError) -> bool {
    e.is_io_error()
        || e.is_connection_dropped()
        || e.is_timeout()
        || e.is_unrecoverable_error()
        || matches!(e.code(), Some("LOADING" | "MASTERDOWN" | "TRYAGAIN"))
}
