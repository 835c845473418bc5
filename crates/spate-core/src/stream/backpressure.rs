//! Backpressure: adapt how many records sources may deliver per batch to how fast batches
//! are processed (Spark's `spark.streaming.backpressure` with its PID rate estimator).
//!
//! After every batch the estimator compares the rate it allowed with the rate the batch was
//! actually processed at, and corrects with a PID controller whose integral term is the
//! scheduling delay (the backlog): when processing is slower than the interval, the allowed
//! rate drops until batches finish within the interval and the delay stops growing. Records
//! above the limit stay in their source (in a replayable file, in a bounded socket buffer
//! and then in TCP flow control) for later batches.

use crate::error::{Error, Result};

/// The PID controller's gains and bounds (Spark's defaults).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Backpressure {
    /// Weight of the current rate error (default 1.0).
    pub proportional: f64,
    /// Weight of the accumulated backlog, from the scheduling delay (default 0.2).
    pub integral: f64,
    /// Weight of the change of the error (default 0.0).
    pub derivative: f64,
    /// The rate never drops below this many records per second (default 100).
    pub min_rate: f64,
    /// The rate to start with, before the first batch is measured (default: unlimited).
    pub initial_rate: Option<f64>,
}

impl Default for Backpressure {
    fn default() -> Self {
        Backpressure {
            proportional: 1.0,
            integral: 0.2,
            derivative: 0.0,
            min_rate: 100.0,
            initial_rate: None,
        }
    }
}

impl Backpressure {
    pub(crate) fn check(&self) -> Result<()> {
        let finite_non_negative = |x: f64| x.is_finite() && x >= 0.0;
        if !finite_non_negative(self.proportional)
            || !finite_non_negative(self.integral)
            || !finite_non_negative(self.derivative)
        {
            return Err(Error::invalid(
                "backpressure gains",
                (self.proportional, self.integral, self.derivative),
                "must be finite and non-negative",
            ));
        }
        if !(self.min_rate.is_finite() && self.min_rate > 0.0) {
            return Err(Error::invalid(
                "min_rate",
                self.min_rate,
                "must be a positive number of records per second",
            ));
        }
        if let Some(r) = self.initial_rate
            && !(r.is_finite() && r > 0.0)
        {
            return Err(Error::invalid(
                "initial_rate",
                r,
                "must be a positive number of records per second",
            ));
        }
        Ok(())
    }
}

/// Spark's `PIDRateEstimator`: a new allowed rate (records/s) after every batch.
#[derive(Clone, Debug)]
pub struct PidRateEstimator {
    config: Backpressure,
    batch_ms: f64,
    first: bool,
    latest_time_ms: u64,
    latest_rate: f64,
    latest_error: f64,
}

impl PidRateEstimator {
    /// An estimator for batches of `batch_ms` milliseconds.
    pub fn new(config: Backpressure, batch_ms: u64) -> PidRateEstimator {
        PidRateEstimator {
            config,
            batch_ms: batch_ms as f64,
            first: true,
            latest_time_ms: 0,
            latest_rate: -1.0,
            latest_error: -1.0,
        }
    }

    /// Feeds one completed batch; returns the new rate, or `None` if the batch carries no
    /// information (no records, or no processing time measured).
    pub fn compute(
        &mut self,
        time_ms: u64,
        elements: u64,
        processing_delay_ms: u64,
        scheduling_delay_ms: u64,
    ) -> Option<f64> {
        if time_ms <= self.latest_time_ms || elements == 0 || processing_delay_ms == 0 {
            return None;
        }
        let c = &self.config;
        let delay_since_update = (time_ms - self.latest_time_ms) as f64 / 1000.0;
        let processing_rate = elements as f64 / processing_delay_ms as f64 * 1000.0;
        let error = self.latest_rate - processing_rate;
        let historical_error = scheduling_delay_ms as f64 * processing_rate / self.batch_ms;
        let d_error = (error - self.latest_error) / delay_since_update;
        let new_rate = (self.latest_rate
            - c.proportional * error
            - c.integral * historical_error
            - c.derivative * d_error)
            .max(c.min_rate);
        self.latest_time_ms = time_ms;
        if self.first {
            self.latest_rate = processing_rate;
            self.latest_error = 0.0;
            self.first = false;
            None
        } else {
            self.latest_rate = new_rate;
            self.latest_error = error;
            Some(new_rate)
        }
    }
}

/// The state of a [`RateController`] saved in checkpoints.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub(crate) struct RateState {
    first: bool,
    latest_time_ms: u64,
    latest_rate: f64,
    latest_error: f64,
    rate: Option<f64>,
}

/// Holds the current limit of records per batch and updates it after every batch.
#[derive(Clone, Debug)]
pub(crate) struct RateController {
    estimator: PidRateEstimator,
    batch_ms: u64,
    rate: Option<f64>,
}

impl RateController {
    pub fn new(config: Backpressure, batch_ms: u64) -> RateController {
        RateController {
            estimator: PidRateEstimator::new(config, batch_ms),
            batch_ms,
            rate: config.initial_rate,
        }
    }

    /// The controller's state, for a checkpoint: a restarted stream goes on at the rate it
    /// had reached instead of starting over.
    pub fn snapshot(&self) -> RateState {
        RateState {
            first: self.estimator.first,
            latest_time_ms: self.estimator.latest_time_ms,
            latest_rate: self.estimator.latest_rate,
            latest_error: self.estimator.latest_error,
            rate: self.rate,
        }
    }

    /// Restores a [`snapshot`](Self::snapshot).
    pub fn restore(&mut self, state: RateState) {
        self.estimator.first = state.first;
        self.estimator.latest_time_ms = state.latest_time_ms;
        self.estimator.latest_rate = state.latest_rate;
        self.estimator.latest_error = state.latest_error;
        self.rate = state.rate.filter(|r| r.is_finite() && *r > 0.0);
    }

    /// The records a source may deliver in the next batch, if limited.
    pub fn limit(&self) -> Option<u64> {
        self.rate
            .map(|r| ((r * self.batch_ms as f64 / 1000.0).ceil() as u64).max(1))
    }

    pub fn on_batch(
        &mut self,
        time_ms: u64,
        elements: u64,
        processing_ms: u64,
        scheduling_ms: u64,
    ) {
        if let Some(rate) = self
            .estimator
            .compute(time_ms, elements, processing_ms, scheduling_ms)
        {
            tracing::debug!(rate, "backpressure: new rate limit (records/s)");
            self.rate = Some(rate);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_sparks_pid_formula() {
        let mut e = PidRateEstimator::new(Backpressure::default(), 1000);
        // First batch only initializes: 1000 records in 500 ms → 2000 records/s.
        assert_eq!(e.compute(1000, 1000, 500, 0), None);
        // Second: 1000 records in 1000 ms (1000/s) with 200 ms scheduling delay.
        // error = 2000 - 1000 = 1000; historical = 200 * 1000 / 1000 = 200;
        // new = 2000 - 1.0*1000 - 0.2*200 - 0 = 960.
        let r = e.compute(2000, 1000, 1000, 200).unwrap();
        assert!((r - 960.0).abs() < 1e-9, "{r}");
        // Never below the minimum rate.
        let r = e.compute(3000, 10, 10_000, 100_000).unwrap();
        assert_eq!(r, 100.0);
    }

    #[test]
    fn a_restored_controller_goes_on_where_the_saved_one_was() {
        let feed = |c: &mut RateController, from: u64, to: u64| {
            (from..to)
                .map(|b| {
                    let records = c.limit().map_or(40_000, |l| l.min(40_000));
                    c.on_batch(b * 1000, records, 700 + (b % 5) * 90, (b % 3) * 40);
                    c.limit()
                })
                .collect::<Vec<_>>()
        };
        let mut whole = RateController::new(Backpressure::default(), 1000);
        let expected = feed(&mut whole, 1, 30);
        let mut first = RateController::new(Backpressure::default(), 1000);
        let mut got = feed(&mut first, 1, 12);
        let saved = bincode::serialize(&first.snapshot()).unwrap();
        let mut restarted = RateController::new(Backpressure::default(), 1000);
        restarted.restore(bincode::deserialize(&saved).unwrap());
        got.extend(feed(&mut restarted, 12, 30));
        assert_eq!(got, expected);
        // A fresh controller would have started over.
        let mut fresh = RateController::new(Backpressure::default(), 1000);
        assert_ne!(feed(&mut fresh, 12, 30), expected[11..]);
    }

    #[test]
    fn converges_to_the_processing_rate_when_overloaded() {
        // Processing handles 5000 records/s; input offers 50 000/s. The controlled rate
        // must settle near 5000/s and the backlog (scheduling delay) must stop growing.
        let mut c = RateController::new(Backpressure::default(), 1000);
        let capacity = 5000.0;
        let mut delay_ms = 0.0_f64;
        let mut rates = Vec::new();
        for b in 1..=60_u64 {
            let offered = 50_000_u64;
            let records = c.limit().map_or(offered, |l| l.min(offered));
            let processing_ms = (records as f64 / capacity * 1000.0).max(1.0);
            // Delay grows by what the batch overran the interval, shrinks otherwise.
            delay_ms = (delay_ms + processing_ms - 1000.0).max(0.0);
            c.on_batch(b * 1000, records, processing_ms as u64, delay_ms as u64);
            rates.push(c.limit().unwrap_or(u64::MAX));
        }
        let last = *rates.last().unwrap() as f64;
        assert!(
            (last - capacity).abs() / capacity < 0.1,
            "settled at {last}: {rates:?}"
        );
        assert!(delay_ms < 2000.0, "backlog keeps growing: {delay_ms} ms");
    }

    #[test]
    fn rejects_bad_parameters() {
        let mut b = Backpressure {
            min_rate: 0.0,
            ..Backpressure::default()
        };
        assert!(b.check().is_err());
        b.min_rate = 10.0;
        b.integral = f64::NAN;
        assert!(b.check().is_err());
        assert!(Backpressure::default().check().is_ok());
    }
}
