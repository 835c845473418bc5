//! Clocks that drive batch generation.
//!
//! - [`SystemClock`]: wall time; batches every interval, as in production.
//! - [`ManualClock`]: time moves only when a test calls [`ManualClock::advance`], so tests
//!   are deterministic and never sleep.
//! - [`FastForwardClock`]: time jumps to the next batch as soon as the previous one is done:
//!   replays bounded input as fast as the machine allows, with the same batch times as a
//!   real-time run.

use crate::storage::lock;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A source of time for a [`StreamingContext`](crate::StreamingContext).
pub trait Clock: Send + Sync + 'static {
    /// The current time in milliseconds.
    fn now_ms(&self) -> u64;

    /// Blocks until the time is at least `target_ms` or [`wake`](Clock::wake) is called;
    /// returns the time then.
    fn wait_until(&self, target_ms: u64) -> u64 {
        self.wait_until_since(target_ms, self.wakes())
    }

    /// Wakes every thread blocked in [`wait_until`](Clock::wait_until) (used by `stop`).
    fn wake(&self);

    /// How many times [`wake`](Clock::wake) has been called: a token for
    /// [`wait_until_since`](Clock::wait_until_since).
    fn wakes(&self) -> u64;

    /// Like [`wait_until`](Clock::wait_until), but returns at once if `wake` was called
    /// since [`wakes`](Clock::wakes) returned `since`. The batch thread takes the token
    /// before it checks whether the stream was stopped, so a `stop` between the check and
    /// the wait is not lost (with a manual clock it would wait forever).
    fn wait_until_since(&self, target_ms: u64, since: u64) -> u64;

    /// Whether batch times start at the current time rounded to the interval (`true`, for
    /// wall clocks) or at the clock's current value unchanged.
    fn aligns_start(&self) -> bool {
        false
    }
}

/// Wall-clock time in milliseconds since the Unix epoch.
#[derive(Default)]
pub struct SystemClock {
    woken: Mutex<u64>,
    signal: Condvar,
}

impl SystemClock {
    /// A wall clock.
    pub fn new() -> SystemClock {
        SystemClock::default()
    }
}

impl Clock for SystemClock {
    fn now_ms(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0)
    }

    fn wait_until_since(&self, target_ms: u64, since: u64) -> u64 {
        let mut woken = lock(&self.woken);
        loop {
            let now = self.now_ms();
            if now >= target_ms || *woken != since {
                return now;
            }
            let wait = Duration::from_millis(target_ms - now);
            woken = self
                .signal
                .wait_timeout(woken, wait)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    fn wake(&self) {
        *lock(&self.woken) += 1;
        self.signal.notify_all();
    }

    fn wakes(&self) -> u64 {
        *lock(&self.woken)
    }

    fn aligns_start(&self) -> bool {
        true
    }
}

#[derive(Default)]
struct ManualState {
    now: u64,
    wakes: u64,
}

/// A clock that only moves when told to. Cloning shares the same time.
///
/// ```
/// use spate_core::stream::ManualClock;
/// use std::time::Duration;
///
/// let clock = ManualClock::new();
/// clock.advance(Duration::from_secs(2));
/// assert_eq!(clock.time_ms(), 2000);
/// ```
#[derive(Clone, Default)]
pub struct ManualClock {
    inner: Arc<(Mutex<ManualState>, Condvar)>,
}

impl ManualClock {
    /// A manual clock at time 0.
    pub fn new() -> ManualClock {
        ManualClock::default()
    }

    /// The current time in milliseconds.
    pub fn time_ms(&self) -> u64 {
        lock(&self.inner.0).now
    }

    /// Moves time forward by `d`, waking the batch generator.
    pub fn advance(&self, d: Duration) {
        let (state, signal) = &*self.inner;
        lock(state).now += d.as_millis() as u64;
        signal.notify_all();
    }

    /// Sets the time to `ms` (never backwards).
    pub fn set_ms(&self, ms: u64) {
        let (state, signal) = &*self.inner;
        let mut s = lock(state);
        s.now = s.now.max(ms);
        signal.notify_all();
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> u64 {
        self.time_ms()
    }

    fn wait_until_since(&self, target_ms: u64, since: u64) -> u64 {
        let (state, signal) = &*self.inner;
        let mut s = lock(state);
        while s.now < target_ms && s.wakes == since {
            s = signal.wait(s).unwrap_or_else(|p| p.into_inner());
        }
        s.now
    }

    fn wake(&self) {
        let (state, signal) = &*self.inner;
        lock(state).wakes += 1;
        signal.notify_all();
    }

    fn wakes(&self) -> u64 {
        lock(&self.inner.0).wakes
    }
}

/// A clock that is always exactly where it was asked to be: waiting for a time returns
/// at once, having moved the clock there.
#[derive(Default)]
pub struct FastForwardClock {
    now: Mutex<u64>,
}

impl FastForwardClock {
    /// A fast-forward clock at time 0.
    pub fn new() -> FastForwardClock {
        FastForwardClock::default()
    }
}

impl Clock for FastForwardClock {
    fn now_ms(&self) -> u64 {
        *lock(&self.now)
    }

    fn wait_until_since(&self, target_ms: u64, _since: u64) -> u64 {
        let mut now = lock(&self.now);
        *now = (*now).max(target_ms);
        *now
    }

    fn wake(&self) {}

    fn wakes(&self) -> u64 {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_blocks_until_advanced() {
        let clock = ManualClock::new();
        let c = clock.clone();
        let waiter = std::thread::spawn(move || c.wait_until(3000));
        clock.advance(Duration::from_secs(1));
        clock.advance(Duration::from_secs(2));
        assert_eq!(waiter.join().unwrap(), 3000);
    }

    #[test]
    fn wake_releases_waiters() {
        let clock = ManualClock::new();
        let c = clock.clone();
        let waiter = std::thread::spawn(move || c.wait_until(10_000));
        // The waiter may not have started waiting yet; wake until it returns.
        while !waiter.is_finished() {
            clock.wake();
            std::thread::yield_now();
        }
        assert_eq!(waiter.join().unwrap(), 0);
    }

    #[test]
    fn a_wake_between_taking_the_token_and_waiting_is_not_lost() {
        // Before: `stop` woke the clock after the batch thread had checked the stop flag
        // but before it waited, and the wait never ended (a hang seen in CI).
        let manual = ManualClock::new();
        let system = SystemClock::new();
        for clock in [&manual as &dyn Clock, &system] {
            let since = clock.wakes();
            clock.wake();
            let far = clock.now_ms() + 3_600_000;
            assert!(clock.wait_until_since(far, since) < far);
        }
    }

    #[test]
    fn fast_forward_jumps() {
        let clock = FastForwardClock::new();
        assert_eq!(clock.wait_until(5000), 5000);
        assert_eq!(clock.now_ms(), 5000);
        assert_eq!(clock.wait_until(1000), 5000);
    }
}
