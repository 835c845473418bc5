//! A fixed, portable 64-bit hasher for sketches whose state must survive checkpoints and merge
//! across processes.
//!
//! `std`'s `DefaultHasher` is explicitly unspecified between Rust releases and `RandomState`
//! differs per process, so two partitions (or a restored checkpoint) could disagree on which
//! register or counter an item belongs to. This hasher is fixed: integers are hashed as
//! little-endian bytes and `usize`/`isize` as 64-bit, so a value hashes the same on every
//! platform and build.

use std::hash::{BuildHasherDefault, Hash, Hasher};

const K: u64 = 0x9E37_79B9_7F4A_7C15;

/// murmur3's 64-bit finalizer: a bijection with full avalanche.
#[inline]
fn fmix64(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// A fixed, portable [`Hasher`]: same input, same 64-bit hash, everywhere.
///
/// Each 64-bit word is folded in with a multiply-rotate step and the result goes through
/// murmur3's finalizer, so every output bit depends on every input bit. Distinct single `u64`
/// inputs never collide (every step is a bijection).
#[derive(Debug, Clone, Default)]
pub struct StableHasher {
    state: u64,
    len: u64,
}

impl StableHasher {
    #[inline]
    fn word(&mut self, w: u64) {
        self.state = (self.state ^ w).wrapping_mul(K).rotate_left(31);
    }
}

impl Hasher for StableHasher {
    #[inline]
    fn finish(&self) -> u64 {
        fmix64(self.state ^ self.len.wrapping_mul(0x2545_f491_4f6c_dd1d))
    }

    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let chunks = bytes.chunks_exact(8);
        let rest = chunks.remainder();
        for c in chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.word(u64::from_le_bytes(w));
        }
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.word(u64::from_le_bytes(w) ^ ((rest.len() as u64) << 59));
        }
        self.len = self.len.wrapping_add(bytes.len() as u64);
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.write_u64(u64::from(i));
    }
    #[inline]
    fn write_u16(&mut self, i: u16) {
        self.write_u64(u64::from(i));
    }
    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.write_u64(u64::from(i));
    }
    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.word(i);
        self.len = self.len.wrapping_add(8);
    }
    #[inline]
    fn write_u128(&mut self, i: u128) {
        self.write_u64(i as u64);
        self.write_u64((i >> 64) as u64);
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.write_u64(i as u64);
    }
    #[inline]
    fn write_i8(&mut self, i: i8) {
        self.write_u64(i as u64);
    }
    #[inline]
    fn write_i16(&mut self, i: i16) {
        self.write_u64(i as u64);
    }
    #[inline]
    fn write_i32(&mut self, i: i32) {
        self.write_u64(i as u64);
    }
    #[inline]
    fn write_i64(&mut self, i: i64) {
        self.write_u64(i as u64);
    }
    #[inline]
    fn write_i128(&mut self, i: i128) {
        self.write_u128(i as u128);
    }
    #[inline]
    fn write_isize(&mut self, i: isize) {
        self.write_u64(i as u64);
    }
}

/// `BuildHasher` for maps whose iteration order must be the same in every process.
pub type StableBuildHasher = BuildHasherDefault<StableHasher>;

/// Hash one value with [`StableHasher`].
#[inline]
pub fn stable_hash<T: Hash + ?Sized>(value: &T) -> u64 {
    let mut h = StableHasher::default();
    value.hash(&mut h);
    h.finish()
}

/// Hash an `f64` by value: `-0.0` and `0.0` hash alike (they compare equal). Callers skip NaN.
#[inline]
pub(crate) fn hash_f64(x: f64) -> u64 {
    let x = if x == 0.0 { 0.0 } else { x };
    stable_hash(&x.to_bits())
}

#[cfg(test)]
mod tests {
    use super::*;

    const PINNED_STR: u64 = 1357597767473972736;

    #[test]
    fn fixed_values() {
        // Pinned so that a change to the hasher (which would silently corrupt checkpointed
        // sketches) fails loudly.
        assert_eq!(stable_hash(&0u64), 5770236364411250181);
        assert_eq!(stable_hash("spate"), PINNED_STR);
        assert_ne!(stable_hash("a"), stable_hash("b"));
        assert_eq!(stable_hash(&7usize), stable_hash(&7u64));
        assert_eq!(hash_f64(-0.0), hash_f64(0.0));
    }
}
