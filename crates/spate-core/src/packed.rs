//! Encoded partitions packed into one message for a round, written and read in place.
//!
//! A batch's input partitions and a shuffle's buckets cross workers as one message per
//! receiver. Each partition is encoded straight into the message buffer, back to back; an
//! index of `(a, b, length)` entries (`a`, `b`: what the partition is — source and
//! partition, map and reduce), a small header and the index's length follow:
//!
//! ```text
//! part₀ part₁ … | bincode((header, index)) | u64 LE: length of the bincode block
//! ```
//!
//! The receiver decodes each partition from a slice of the message it received. Compared
//! with encoding each partition on its own and serializing the list of byte buffers, this
//! saves a copy of every partition on each side, and the large short-lived buffers whose
//! frees make the allocator consolidate its free lists. The buffer is sized up front,
//! with room for what the round appends at the end ([`SPARE`]), so it is not reallocated.

use crate::error::{Error, Result};
use crate::plan::{SharedBatch, TypeOps};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Room left at the end of a packed message for what the round appends (accumulator
/// updates, usually empty, and the collective's trailer); more is appended by growing.
pub(crate) const SPARE: usize = 64;

/// One entry of the index: what the partition is, and how many bytes it takes.
type Entry = (u32, u32, u64);

/// Packs `parts` — `(a, b, partition)`, each encoded with the [`TypeOps`] that `ops_of(a)`
/// gives — then `header` and the index, into one message sized up front.
pub(crate) fn pack<H: Serialize>(
    parts: &[(u32, u32, SharedBatch)],
    ops_of: impl Fn(u32) -> TypeOps,
    header: &H,
) -> Result<Vec<u8>> {
    let mut size = 0_usize;
    for (a, _, part) in parts {
        size = size.saturating_add((ops_of(*a).encoded_len)(part)? as usize);
    }
    let mut buf = Vec::with_capacity(size.saturating_add(SPARE));
    let mut index: Vec<Entry> = Vec::with_capacity(parts.len());
    for (a, b, part) in parts {
        let start = buf.len();
        (ops_of(*a).encode_shared_into)(part, &mut buf)?;
        index.push((*a, *b, (buf.len() - start) as u64));
    }
    let start = buf.len();
    let need = bincode::serialized_size(&(header, &index)).map_err(serialization)?;
    buf.reserve((need as usize).saturating_add(8 + SPARE));
    bincode::serialize_into(&mut buf, &(header, &index)).map_err(serialization)?;
    let len = (buf.len() - start) as u64;
    buf.extend_from_slice(&len.to_le_bytes());
    Ok(buf)
}

/// The header of a packed message and its partitions' bytes, each with its `(a, b)`:
/// slices of `bytes`, in the order they were pushed.
pub(crate) fn unpack<H: DeserializeOwned>(bytes: &[u8]) -> Result<(H, Vec<(u32, u32, &[u8])>)> {
    let malformed = |what: &str| Error::Serialization {
        what: "a packed message".into(),
        message: what.to_string(),
    };
    let len_at = bytes
        .len()
        .checked_sub(8)
        .ok_or_else(|| malformed("shorter than its length field"))?;
    let len = u64::from_le_bytes(bytes[len_at..].try_into().expect("8 bytes"));
    let index_at = usize::try_from(len)
        .ok()
        .and_then(|len| len_at.checked_sub(len))
        .ok_or_else(|| malformed("index longer than the message"))?;
    let (header, index): (H, Vec<Entry>) =
        bincode::deserialize(&bytes[index_at..len_at]).map_err(serialization)?;
    let mut parts = Vec::with_capacity(index.len());
    let mut at = 0_usize;
    for (a, b, len) in index {
        let end = usize::try_from(len)
            .ok()
            .and_then(|len| at.checked_add(len))
            .filter(|&end| end <= index_at)
            .ok_or_else(|| malformed("a partition runs past the index"))?;
        parts.push((a, b, &bytes[at..end]));
        at = end;
    }
    if at != index_at {
        return Err(malformed("bytes between the partitions and the index"));
    }
    Ok((header, parts))
}

fn serialization(e: bincode::Error) -> Error {
    Error::Serialization {
        what: "a packed message".into(),
        message: e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn shared(v: Vec<String>) -> SharedBatch {
        Arc::new(v)
    }

    #[test]
    fn partitions_and_header_round_trip_in_place() {
        let ops = TypeOps::of::<String>();
        let parts: Vec<(u32, u32, SharedBatch)> = [
            vec!["a".into(), "bc".into()],
            Vec::new(),
            vec!["déjà vu".into()],
        ]
        .into_iter()
        .enumerate()
        .map(|(i, v)| (7, i as u32, shared(v)))
        .collect();
        let bytes = pack(&parts, |_| ops, &("header", 42_u64)).unwrap();
        assert!(bytes.capacity() >= bytes.len() + SPARE - 8);
        let (header, got): ((String, u64), _) = unpack(&bytes).unwrap();
        assert_eq!(header, ("header".to_string(), 42));
        assert_eq!(got.len(), 3);
        for ((a, b, slice), (want_a, want_b, part)) in got.into_iter().zip(&parts) {
            assert_eq!((a, b), (*want_a, *want_b));
            let decoded = (ops.decode)(slice).unwrap();
            let decoded = decoded.downcast_ref::<Vec<String>>().unwrap();
            assert_eq!(decoded, part.downcast_ref::<Vec<String>>().unwrap());
        }
    }

    #[test]
    fn malformed_messages_are_errors_not_panics() {
        let ops = TypeOps::of::<u64>();
        let parts = [(0, 0, Arc::new(vec![1_u64, 2]) as SharedBatch)];
        let bytes = pack(&parts, |_| ops, &()).unwrap();
        assert!(unpack::<()>(&bytes).is_ok());
        for cut in [0, 3, 8, bytes.len() - 1] {
            assert!(unpack::<()>(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut long = bytes.clone();
        let n = long.len();
        long[n - 8..].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(unpack::<()>(&long).is_err());
        let mut extra = vec![0_u8];
        extra.extend_from_slice(&bytes);
        assert!(unpack::<()>(&extra).is_err());
    }
}
