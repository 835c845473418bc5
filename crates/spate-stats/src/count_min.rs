//! Count-min sketch: approximate frequencies of items in a stream.

use crate::error::StatsError;
use crate::hash::stable_hash;
use serde::{Deserialize, Serialize};
use std::hash::Hash;

const DEFAULT_WIDTH: usize = 2719; // ⌈e / 0.001⌉
const DEFAULT_DEPTH: usize = 5; // ⌈ln(1 / 0.01)⌉
const MAX_WIDTH: usize = 1 << 28;
const MAX_DEPTH: usize = 32;

/// Checked parameters for [`CountMinSketch`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CountMinParams {
    width: usize,
    depth: usize,
    epsilon: Option<f64>,
    delta: Option<f64>,
}

impl CountMinParams {
    /// Counters per row (default 2719). Overridden by [`epsilon`](Self::epsilon).
    pub fn width(mut self, width: usize) -> Self {
        self.width = width;
        self
    }

    /// Number of rows (default 5). Overridden by [`delta`](Self::delta).
    pub fn depth(mut self, depth: usize) -> Self {
        self.depth = depth;
        self
    }

    /// Target additive error as a fraction of the total count: width = ⌈e/ε⌉, ε in (0, 1).
    pub fn epsilon(mut self, epsilon: f64) -> Self {
        self.epsilon = Some(epsilon);
        self
    }

    /// Probability that an estimate exceeds the error bound: depth = ⌈ln(1/δ)⌉, δ in (0, 1).
    pub fn delta(mut self, delta: f64) -> Self {
        self.delta = Some(delta);
        self
    }

    /// Validate the parameters.
    pub fn build(self) -> Result<CountMinSketch, StatsError> {
        let mut width = self.width;
        let mut depth = self.depth;
        if let Some(e) = self.epsilon {
            check_fraction("epsilon", e)?;
            width = (std::f64::consts::E / e).ceil().min(MAX_WIDTH as f64 + 1.0) as usize;
        }
        if let Some(d) = self.delta {
            check_fraction("delta", d)?;
            depth = (1.0 / d).ln().ceil().max(1.0).min(MAX_DEPTH as f64 + 1.0) as usize;
        }
        check_size("width", width, 1, MAX_WIDTH)?;
        check_size("depth", depth, 1, MAX_DEPTH)?;
        Ok(CountMinSketch {
            width,
            depth,
            counters: Vec::new(),
            total: 0,
        })
    }
}

pub(crate) fn check_fraction(name: &'static str, value: f64) -> Result<(), StatsError> {
    if value > 0.0 && value < 1.0 {
        Ok(())
    } else {
        Err(StatsError::OutOfRange {
            name,
            value,
            min: 0.0,
            max: 1.0,
        })
    }
}

pub(crate) fn check_size(
    name: &'static str,
    value: usize,
    min: usize,
    max: usize,
) -> Result<(), StatsError> {
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(StatsError::SizeOutOfRange {
            name,
            value: value as u64,
            min: min as u64,
            max: max as u64,
        })
    }
}

/// Approximate item frequencies (Cormode & Muthukrishnan's count-min sketch).
///
/// With width `w = ⌈e/ε⌉` and depth `d = ⌈ln 1/δ⌉`, an estimate never undercounts and exceeds
/// the true count by more than `ε · total` with probability at most `δ`. Rows are indexed by
/// double hashing of one fixed 64-bit hash, so sketches built anywhere agree.
///
/// Merging adds counters: exact, commutative and associative. Retracting subtracts them
/// (wrapping, so merge-then-retract is exact), which makes the sketch usable in windows with
/// an inverse. `Default` is an empty sketch with the default parameters (ε ≈ 0.001, δ ≈ 0.01);
/// an empty sketch takes on the shape of whatever is merged into it, so `Default` is the
/// identity for every shape. Merging non-empty sketches of different shapes is an error in
/// [`try_merge`](Self::try_merge) and a panic in [`Merge::merge`](spate_core::Merge::merge).
///
/// Cost: one hash and `depth` counter increments per item; counters are allocated on first use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CountMinSketch {
    width: usize,
    depth: usize,
    counters: Vec<u64>,
    total: u64,
}

impl Default for CountMinSketch {
    fn default() -> Self {
        CountMinSketch {
            width: DEFAULT_WIDTH,
            depth: DEFAULT_DEPTH,
            counters: Vec::new(),
            total: 0,
        }
    }
}

impl CountMinSketch {
    /// Start configuring a sketch.
    pub fn params() -> CountMinParams {
        CountMinParams {
            width: DEFAULT_WIDTH,
            depth: DEFAULT_DEPTH,
            epsilon: None,
            delta: None,
        }
    }

    /// Counters per row.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Number of rows.
    pub fn depth(&self) -> usize {
        self.depth
    }

    /// Sum of all counts added.
    pub fn total(&self) -> u64 {
        self.total
    }

    #[inline]
    fn cells(&self, hash: u64) -> impl Iterator<Item = usize> + use<> {
        let (width, depth) = (self.width as u64, self.depth);
        let h1 = hash;
        let h2 = hash.rotate_left(32) | 1;
        (0..depth).map(move |row| {
            let h = h1.wrapping_add((row as u64).wrapping_mul(h2));
            // Lemire's multiply-shift maps the hash onto 0..width without a division.
            row * width as usize + ((u128::from(h) * u128::from(width)) >> 64) as usize
        })
    }

    /// Count each item of the batch once.
    pub fn update<T: Hash>(&mut self, batch: &[T]) {
        for item in batch {
            self.add_hash(stable_hash(item), 1);
        }
    }

    /// Add `count` occurrences of `item`.
    pub fn add<T: Hash + ?Sized>(&mut self, item: &T, count: u64) {
        self.add_hash(stable_hash(item), count);
    }

    fn add_hash(&mut self, hash: u64, count: u64) {
        if self.counters.is_empty() {
            self.counters = vec![0; self.width * self.depth];
        }
        for cell in self.cells(hash) {
            if let Some(c) = self.counters.get_mut(cell) {
                *c = c.wrapping_add(count);
            }
        }
        self.total = self.total.wrapping_add(count);
    }

    /// Estimated count of `item`: never below the true count.
    pub fn estimate<T: Hash + ?Sized>(&self, item: &T) -> u64 {
        if self.counters.is_empty() {
            return 0;
        }
        self.cells(stable_hash(item))
            .map(|cell| self.counters.get(cell).copied().unwrap_or(0))
            .min()
            .unwrap_or(0)
    }

    fn compatible(&self, other: &Self) -> Result<(), StatsError> {
        if (self.width, self.depth) == (other.width, other.depth) {
            Ok(())
        } else {
            Err(StatsError::IncompatibleMerge {
                summary: "CountMinSketch",
                left: format!("width {} depth {}", self.width, self.depth),
                right: format!("width {} depth {}", other.width, other.depth),
            })
        }
    }

    /// Merge, or report that the two sketches have different shapes.
    pub fn try_merge(&mut self, other: &Self) -> Result<(), StatsError> {
        // An empty sketch is the identity whatever its shape; it takes the shape of the
        // first sketch merged into it (so merging empty parts equals an empty part).
        if self.counters.is_empty() && self.total == 0 {
            *self = other.clone();
            return Ok(());
        }
        if other.counters.is_empty() {
            self.total = self.total.wrapping_add(other.total);
            return Ok(());
        }
        self.compatible(other)?;
        if self.counters.is_empty() {
            self.counters = vec![0; self.width * self.depth];
        }
        for (a, &b) in self.counters.iter_mut().zip(&other.counters) {
            *a = a.wrapping_add(b);
        }
        self.total = self.total.wrapping_add(other.total);
        Ok(())
    }

    /// Retract, or report that the two sketches have different shapes.
    pub fn try_retract(&mut self, other: &Self) -> Result<(), StatsError> {
        if other.counters.is_empty() {
            self.total = self.total.wrapping_sub(other.total);
            return Ok(());
        }
        self.compatible(other)?;
        if self.counters.is_empty() {
            self.counters = vec![0; self.width * self.depth];
        }
        for (a, &b) in self.counters.iter_mut().zip(&other.counters) {
            *a = a.wrapping_sub(b);
        }
        self.total = self.total.wrapping_sub(other.total);
        if self.total == 0 && self.counters.iter().all(|&c| c == 0) {
            // Everything retracted: back to the empty representation (and its memory freed),
            // equal to a sketch that never saw an item.
            self.counters = Vec::new();
        }
        Ok(())
    }
}

merge_via_try!(CountMinSketch, retract);
