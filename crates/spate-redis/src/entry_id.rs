//! [`EntryId`]: the ID of a Redis stream entry, `MILLISECONDS-SEQUENCE`.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A stream entry's ID. IDs increase strictly along a stream, so the last ID delivered is
/// a complete position: the source resumes with the entries after it.
///
/// ```
/// use spate_redis::EntryId;
///
/// let id: EntryId = "1700000000000-3".parse()?;
/// assert_eq!(id, EntryId { ms: 1_700_000_000_000, seq: 3 });
/// assert_eq!(id.next().map(|n| n.to_string()).as_deref(), Some("1700000000000-4"));
/// assert!("1700000000000".parse::<EntryId>().is_err()); // a full ID has both parts
/// # Ok::<(), String>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct EntryId {
    /// The milliseconds part.
    pub ms: u64,
    /// The sequence number within the millisecond.
    pub seq: u64,
}

impl EntryId {
    /// The smallest ID greater than this one, or `None` after the largest possible ID.
    pub fn next(self) -> Option<EntryId> {
        match self.seq.checked_add(1) {
            Some(seq) => Some(EntryId { ms: self.ms, seq }),
            None => self.ms.checked_add(1).map(|ms| EntryId { ms, seq: 0 }),
        }
    }
}

impl fmt::Display for EntryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

impl FromStr for EntryId {
    type Err = String;

    fn from_str(text: &str) -> Result<EntryId, String> {
        let bad = || format!("`{text}` is not a stream entry ID (MILLISECONDS-SEQUENCE)");
        let (ms, seq) = text.split_once('-').ok_or_else(bad)?;
        Ok(EntryId {
            ms: ms.parse().map_err(|_| bad())?,
            seq: seq.parse().map_err(|_| bad())?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::EntryId;

    #[test]
    fn ids_parse_order_and_step() {
        let a: EntryId = "5-0".parse().expect("valid");
        let b: EntryId = "5-18446744073709551615".parse().expect("valid");
        assert!(a < b);
        assert_eq!(b.next(), Some(EntryId { ms: 6, seq: 0 }));
        let last = EntryId {
            ms: u64::MAX,
            seq: u64::MAX,
        };
        assert_eq!(last.next(), None);
        for bad in [
            "",
            "-",
            "5",
            "5-",
            "-1",
            "a-1",
            "1-b",
            "1-2-3",
            "18446744073709551616-0",
        ] {
            assert!(bad.parse::<EntryId>().is_err(), "{bad}");
        }
    }
}
