//! The bounds every record, key and mergeable summary satisfies.
//!
//! They are declared once here, with blanket impls, so that user types never implement them by
//! hand: derive `Clone`, `Serialize` and `Deserialize` and a type is [`Data`].

use serde::Serialize;
use serde::de::DeserializeOwned;
use std::hash::Hash;

/// A record that can live in an RDD or a DStream.
///
/// Records are cloned (caching, shuffles that are read twice), sent between threads, and
/// serialized (checkpoints, and a distributed runtime), so every program that runs embedded
/// also runs distributed.
pub trait Data: Clone + Send + Sync + Serialize + DeserializeOwned + 'static {}

impl<T> Data for T where T: Clone + Send + Sync + Serialize + DeserializeOwned + 'static {}

/// A record usable as a key: [`Data`] that can be hashed and compared for equality.
pub trait Key: Data + Eq + Hash {}

impl<T> Key for T where T: Data + Eq + Hash {}

/// A summary that can absorb another summary of the same kind.
///
/// # Contract
/// - `Default::default()` is the identity: merging it changes nothing.
/// - `merge` is associative: `(a ⊕ b) ⊕ c == a ⊕ (b ⊕ c)` (up to floating-point rounding,
///   which implementations keep small and document).
/// - Implementations say in their docs whether `merge` is also commutative. Partition
///   results are merged in partition order, so a non-commutative summary still gives
///   deterministic results, but the engine is free to merge in a different tree shape.
pub trait Merge: Default {
    /// Absorb `other` into `self`.
    fn merge(&mut self, other: &Self);
}

/// A [`Merge`] summary that can also remove a summary it previously absorbed.
///
/// Windows with an inverse use this: when a pane leaves the window its summary is retracted
/// instead of recomputing the window from scratch, so a slide costs O(pane), not O(window).
///
/// # Contract
/// For any `a` and `b`: after `a.merge(&b); a.retract(&b);` the value equals `a` before
/// (up to documented floating-point rounding). Retracting something that was never merged is
/// a logic error; implementations may produce any value but must not panic.
pub trait Retract: Merge {
    /// Remove `other`, which was previously merged into `self`.
    fn retract(&mut self, other: &Self);
}

macro_rules! additive {
    ($($t:ty),*) => {$(
        /// Addition: the sum is the summary. Commutative.
        impl Merge for $t {
            #[inline]
            fn merge(&mut self, other: &Self) {
                *self += *other;
            }
        }

        /// Subtraction undoes addition.
        impl Retract for $t {
            #[inline]
            fn retract(&mut self, other: &Self) {
                *self -= *other;
            }
        }
    )*};
}

additive!(i32, i64, i128, isize, f32, f64);

macro_rules! additive_unsigned {
    ($($t:ty),*) => {$(
        /// Addition: the sum is the summary. Commutative. Overflow wraps, as `u64` counters
        /// in a long-running stream must never panic.
        impl Merge for $t {
            #[inline]
            fn merge(&mut self, other: &Self) {
                *self = self.wrapping_add(*other);
            }
        }

        /// Subtraction undoes addition (wrapping, so retracting a merged value is exact).
        impl Retract for $t {
            #[inline]
            fn retract(&mut self, other: &Self) {
                *self = self.wrapping_sub(*other);
            }
        }
    )*};
}

additive_unsigned!(u32, u64, u128, usize);

/// Pairs merge component-wise, so `(sum, count)` style summaries compose.
impl<A: Merge, B: Merge> Merge for (A, B) {
    fn merge(&mut self, other: &Self) {
        self.0.merge(&other.0);
        self.1.merge(&other.1);
    }
}

impl<A: Retract, B: Retract> Retract for (A, B) {
    fn retract(&mut self, other: &Self) {
        self.0.retract(&other.0);
        self.1.retract(&other.1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_merge_and_retract_componentwise() {
        let mut a = (3_u64, 1.5_f64);
        let b = (4_u64, 2.25_f64);
        a.merge(&b);
        assert_eq!(a, (7, 3.75));
        a.retract(&b);
        assert_eq!(a, (3, 1.5));
    }

    #[test]
    fn unsigned_retract_never_panics() {
        let mut a = 0_u64;
        a.retract(&1);
        a.merge(&1);
        assert_eq!(a, 0);
    }
}
