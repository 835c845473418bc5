//! HyperLogLog distinct counting with a fixed hasher, so merges are exact.

use crate::error::StatsError;
use crate::hash::{hash_f64, stable_hash};
use serde::{Deserialize, Serialize};
use std::hash::Hash;

const MIN_PRECISION: u8 = 4;
const MAX_PRECISION: u8 = 18;
const DEFAULT_PRECISION: u8 = 14;

/// Checked parameters for [`HyperLogLog`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HyperLogLogParams {
    precision: u8,
}

impl HyperLogLogParams {
    /// Use `2^precision` registers (4..=18, default 14: 16 KiB, standard error ≈ 0.81%).
    pub fn precision(mut self, precision: u8) -> Self {
        self.precision = precision;
        self
    }

    /// Validate the parameters.
    pub fn build(self) -> Result<HyperLogLog, StatsError> {
        if !(MIN_PRECISION..=MAX_PRECISION).contains(&self.precision) {
            return Err(StatsError::SizeOutOfRange {
                name: "precision",
                value: u64::from(self.precision),
                min: u64::from(MIN_PRECISION),
                max: u64::from(MAX_PRECISION),
            });
        }
        Ok(HyperLogLog {
            precision: self.precision,
            registers: Vec::new(),
            skipped_non_finite: 0,
        })
    }
}

/// Distinct count of a stream (HyperLogLog with Ertl's 2017 improved estimator).
///
/// Items are hashed with the crate's fixed [`StableHasher`](crate::hash::StableHasher), so the
/// same item sets the same register in every partition, process and checkpoint: merging
/// (register-wise max) gives *exactly* the sketch a single pass would, and is commutative,
/// associative and idempotent. The estimator (Ertl, "New cardinality estimation algorithms for
/// HyperLogLog sketches", 2017) needs no bias tables and is unbiased from 0 to 2^64.
///
/// Standard error ≈ 1.04/√(2^p); at the default p = 14 it is 0.81% (tested: ≤ 2.5% at every
/// cardinality from 10 to 10^6). Registers are allocated on the first insert, so an empty
/// sketch is small.
///
/// `Default` is an empty p = 14 sketch. An empty sketch takes on the precision of whatever is
/// merged into it, so `Default` is the identity for every precision; merging two non-empty
/// sketches of different precision is an error in [`try_merge`](Self::try_merge) and a panic in
/// [`Merge::merge`](spate_core::Merge::merge).
///
/// Cost: one hash and one byte max per item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HyperLogLog {
    precision: u8,
    registers: Vec<u8>,
    skipped_non_finite: u64,
}

impl Default for HyperLogLog {
    fn default() -> Self {
        HyperLogLog {
            precision: DEFAULT_PRECISION,
            registers: Vec::new(),
            skipped_non_finite: 0,
        }
    }
}

impl HyperLogLog {
    /// Start configuring a sketch.
    pub fn params() -> HyperLogLogParams {
        HyperLogLogParams {
            precision: DEFAULT_PRECISION,
        }
    }

    /// The precision `p` (the sketch has `2^p` registers).
    pub fn precision(&self) -> u8 {
        self.precision
    }

    /// Add a batch of hashable items.
    pub fn update<T: Hash>(&mut self, batch: &[T]) {
        for item in batch {
            self.insert_hash(stable_hash(item));
        }
    }

    /// Add a batch of numbers, counted by value (`-0.0` equals `0.0`). NaN and ±∞ are skipped
    /// and counted in [`skipped_non_finite`](Self::skipped_non_finite).
    pub fn update_f64(&mut self, batch: &[f64]) {
        for &x in batch {
            if x.is_finite() {
                self.insert_hash(hash_f64(x));
            } else {
                self.skipped_non_finite += 1;
            }
        }
    }

    /// Add an item given by its 64-bit hash (which must be well mixed, e.g. from
    /// [`stable_hash`]).
    #[inline]
    pub fn insert_hash(&mut self, hash: u64) {
        if self.registers.is_empty() {
            self.registers = vec![0; 1 << self.precision];
        }
        let p = u32::from(self.precision);
        let index = (hash & ((1 << p) - 1)) as usize;
        // A sentinel bit caps the run at q + 1 = 65 − p.
        let rest = (hash >> p) | (1 << (64 - p));
        let rank = (rest.trailing_zeros() + 1) as u8;
        if let Some(r) = self.registers.get_mut(index) {
            *r = (*r).max(rank);
        }
    }

    /// Number of NaN and ±∞ values skipped by [`update_f64`](Self::update_f64).
    pub fn skipped_non_finite(&self) -> u64 {
        self.skipped_non_finite
    }

    /// Estimated number of distinct items.
    pub fn estimate(&self) -> f64 {
        if self.registers.is_empty() {
            return 0.0;
        }
        let p = u32::from(self.precision);
        let q = 64 - p as usize;
        let m = self.registers.len() as f64;
        let mut histogram = [0u32; 66];
        for &r in &self.registers {
            histogram[usize::from(r)] += 1;
        }
        let mut z = m * tau((m - f64::from(histogram[q + 1])) / m);
        for k in (1..=q).rev() {
            z = 0.5 * (z + f64::from(histogram[k]));
        }
        z += m * sigma(f64::from(histogram[0]) / m);
        let alpha_inf = 0.5 / std::f64::consts::LN_2;
        alpha_inf * m * m / z
    }

    /// Merge, or report that the two sketches have different precisions.
    pub fn try_merge(&mut self, other: &Self) -> Result<(), StatsError> {
        if other.registers.is_empty() {
            self.skipped_non_finite += other.skipped_non_finite;
            return Ok(());
        }
        if self.registers.is_empty() {
            let skipped = self.skipped_non_finite;
            *self = other.clone();
            self.skipped_non_finite += skipped;
            return Ok(());
        }
        if self.precision != other.precision {
            return Err(StatsError::IncompatibleMerge {
                summary: "HyperLogLog",
                left: format!("precision {}", self.precision),
                right: format!("precision {}", other.precision),
            });
        }
        for (a, &b) in self.registers.iter_mut().zip(&other.registers) {
            *a = (*a).max(b);
        }
        self.skipped_non_finite += other.skipped_non_finite;
        Ok(())
    }
}

/// Ertl's σ(x) = x + Σ_{k≥1} x^(2^k) 2^(k−1).
fn sigma(mut x: f64) -> f64 {
    if x == 1.0 {
        return f64::INFINITY;
    }
    let mut y = 1.0;
    let mut z = x;
    loop {
        x *= x;
        let prev = z;
        z += x * y;
        y += y;
        if z == prev {
            return z;
        }
    }
}

/// Ertl's τ(x) = (1 − x − Σ_{k≥1} (1 − x^(2^−k))² 2^−k) / 3.
fn tau(mut x: f64) -> f64 {
    if x == 0.0 || x == 1.0 {
        return 0.0;
    }
    let mut y = 1.0;
    let mut z = 1.0 - x;
    loop {
        x = x.sqrt();
        let prev = z;
        y *= 0.5;
        z -= (1.0 - x).powi(2) * y;
        if z == prev {
            return z / 3.0;
        }
    }
}

merge_via_try!(HyperLogLog);
