//! Batch times, windows and the duration arithmetic the stream graph needs.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::time::Duration;

/// The time of a micro-batch: the end of its interval, in milliseconds of the context's clock.
///
/// Batch `i` of a context with zero time `z` and interval `b` has time `z + i·b`; it holds the
/// records that arrived in `(z + (i−1)·b, z + i·b]`. With the system clock, times are
/// milliseconds since the Unix epoch; with a manual or fast-forward clock they start at 0,
/// so runs are reproducible.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct BatchTime(pub u64);

impl BatchTime {
    /// Milliseconds of the clock.
    pub fn millis(self) -> u64 {
        self.0
    }

    /// This time plus `ms` milliseconds.
    pub fn plus_ms(self, ms: u64) -> BatchTime {
        BatchTime(self.0.saturating_add(ms))
    }

    /// This time minus `ms` milliseconds, saturating at zero.
    pub fn minus_ms(self, ms: u64) -> BatchTime {
        BatchTime(self.0.saturating_sub(ms))
    }
}

impl fmt::Display for BatchTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ms", self.0)
    }
}

/// A sliding window: the last `length` of a stream, recomputed every `slide`.
///
/// Both must be whole multiples of the interval of the stream they are applied to; operators
/// check this when the window is applied and return [`Error::WindowNotMultiple`] otherwise.
/// A tumbling window has `slide == length`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Window {
    /// How much of the stream the window covers.
    pub length: Duration,
    /// How often the window is evaluated.
    pub slide: Duration,
}

impl Window {
    /// A window of `length` that moves every `slide`.
    pub fn new(length: Duration, slide: Duration) -> Window {
        Window { length, slide }
    }

    /// A tumbling window: consecutive, non-overlapping windows of `length`.
    pub fn tumbling(length: Duration) -> Window {
        Window {
            length,
            slide: length,
        }
    }

    /// Checks both durations against a parent interval; returns `(length, slide)` in ms.
    pub(crate) fn check(&self, interval_ms: u64) -> Result<(u64, u64)> {
        let length = multiple_of("window length", self.length, interval_ms)?;
        let slide = multiple_of("slide", self.slide, interval_ms)?;
        Ok((length, slide))
    }
}

/// Whole milliseconds of `d`, or an error for zero or sub-millisecond durations.
pub(crate) fn whole_millis(name: &'static str, d: Duration) -> Result<u64> {
    let ms = d.as_millis();
    if ms == 0 || Duration::from_millis(ms as u64) != d {
        return Err(Error::invalid(
            name,
            d,
            "must be a positive whole number of milliseconds",
        ));
    }
    u64::try_from(ms).map_err(|_| Error::invalid(name, d, "is too long"))
}

/// `d` in ms, checked to be a positive multiple of `interval_ms`.
pub(crate) fn multiple_of(what: &'static str, d: Duration, interval_ms: u64) -> Result<u64> {
    let ms = d.as_millis();
    let exact = Duration::from_millis(ms as u64) == d;
    if ms == 0 || !exact || interval_ms == 0 || !ms.is_multiple_of(interval_ms as u128) {
        return Err(Error::WindowNotMultiple {
            what,
            duration: d,
            interval: Duration::from_millis(interval_ms),
        });
    }
    Ok(ms as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_must_be_a_multiple_of_the_interval() {
        let w = Window::new(Duration::from_secs(7), Duration::from_secs(2));
        let err = w.check(2000).unwrap_err();
        assert!(matches!(
            err,
            Error::WindowNotMultiple {
                what: "window length",
                ..
            }
        ));
        assert!(err.to_string().contains("7s"), "{err}");
        let w = Window::new(Duration::from_secs(6), Duration::from_secs(3));
        assert!(matches!(
            w.check(2000),
            Err(Error::WindowNotMultiple { what: "slide", .. })
        ));
        assert_eq!(
            Window::new(Duration::from_secs(6), Duration::from_secs(2))
                .check(2000)
                .unwrap(),
            (6000, 2000)
        );
    }

    #[test]
    fn zero_and_fractional_durations_are_rejected() {
        assert!(whole_millis("batch", Duration::ZERO).is_err());
        assert!(whole_millis("batch", Duration::from_micros(1500)).is_err());
        assert_eq!(
            whole_millis("batch", Duration::from_millis(1500)).unwrap(),
            1500
        );
        assert!(Window::tumbling(Duration::ZERO).check(1000).is_err());
    }
}
