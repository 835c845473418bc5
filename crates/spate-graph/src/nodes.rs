//! Mapping of arbitrary `u64` node ids to dense `u32` indices, with index reuse.

use crate::error::GraphError;
use crate::event::NodeId;
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

/// Most dense slots a [`NodeIndex`] hands out: indices stay below `u32::MAX`.
pub(crate) const MAX_SLOTS: usize = u32::MAX as usize;

/// Dense indexing of node ids. Released indices are reused, so a long windowed stream over a
/// drifting node population keeps its arrays the size of the live graph, not of its history.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(try_from = "NodeIndexRepr", into = "NodeIndexRepr")]
pub(crate) struct NodeIndex {
    ids: Vec<NodeId>,
    free: Vec<u32>,
    map: FxHashMap<NodeId, u32>,
}

/// The serialized form: the index map is rebuilt on load, which also validates it.
#[derive(Serialize, Deserialize)]
struct NodeIndexRepr {
    ids: Vec<NodeId>,
    free: Vec<u32>,
}

impl From<NodeIndex> for NodeIndexRepr {
    fn from(n: NodeIndex) -> Self {
        Self {
            ids: n.ids,
            free: n.free,
        }
    }
}

impl TryFrom<NodeIndexRepr> for NodeIndex {
    type Error = GraphError;

    fn try_from(r: NodeIndexRepr) -> Result<Self, GraphError> {
        let mut is_free = vec![false; r.ids.len()];
        for &f in &r.free {
            let slot = is_free
                .get_mut(f as usize)
                .ok_or(GraphError::CorruptState {
                    what: "free node index out of range",
                })?;
            if *slot {
                return Err(GraphError::CorruptState {
                    what: "node index freed twice",
                });
            }
            *slot = true;
        }
        let mut map = FxHashMap::default();
        for (i, (&id, &free)) in r.ids.iter().zip(&is_free).enumerate() {
            if !free && map.insert(id, i as u32).is_some() {
                return Err(GraphError::CorruptState {
                    what: "duplicate node id",
                });
            }
        }
        Ok(Self {
            ids: r.ids,
            free: r.free,
            map,
        })
    }
}

impl NodeIndex {
    /// The dense index of `id`, if it is present.
    #[inline]
    pub(crate) fn get(&self, id: NodeId) -> Option<u32> {
        self.map.get(&id).copied()
    }

    /// Whether `new` more ids fit: indices are `u32` below [`MAX_SLOTS`], so `u32::MAX` is
    /// never an index and a slot count always fits a `u32`.
    #[inline]
    pub(crate) fn has_room(&self, new: usize) -> bool {
        self.free.len() + (MAX_SLOTS - self.ids.len().min(MAX_SLOTS)) >= new
    }

    /// The dense index of `id`, allocating one (reusing a released index first) if needed:
    /// the index and whether it was newly allocated, or `None` when the index is full
    /// ([`MAX_SLOTS`] slots, none free).
    #[inline]
    pub(crate) fn try_intern(&mut self, id: NodeId) -> Option<(u32, bool)> {
        if let Some(&i) = self.map.get(&id) {
            return Some((i, false));
        }
        let i = match self.free.pop() {
            Some(i) => {
                self.ids[i as usize] = id;
                i
            }
            None => {
                let i = u32::try_from(self.ids.len())
                    .ok()
                    .filter(|&i| (i as usize) < MAX_SLOTS)?;
                self.ids.push(id);
                i
            }
        };
        self.map.insert(id, i);
        Some((i, true))
    }

    /// [`Self::try_intern`] for callers that checked [`Self::has_room`] first.
    ///
    /// # Panics
    /// If the index is full (more than 4.29e9 nodes): callers check [`Self::has_room`]
    /// before, so this is a broken invariant, not bad input.
    #[inline]
    pub(crate) fn intern(&mut self, id: NodeId) -> (u32, bool) {
        self.try_intern(id)
            .expect("node index full: the caller must check has_room first")
    }

    /// Return `index` to the free list; its id is forgotten.
    pub(crate) fn release(&mut self, index: u32) {
        let id = self.ids[index as usize];
        if self.map.get(&id) == Some(&index) {
            self.map.remove(&id);
            self.free.push(index);
        }
    }

    /// The id at a (live) dense index.
    #[inline]
    pub(crate) fn id(&self, index: u32) -> NodeId {
        self.ids[index as usize]
    }

    /// Number of slots, live or free: arrays indexed by dense index have this length.
    #[inline]
    pub(crate) fn capacity(&self) -> usize {
        self.ids.len()
    }

    /// Number of live ids.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether slot `index` holds a live id.
    #[inline]
    pub(crate) fn is_live(&self, index: u32) -> bool {
        self.ids
            .get(index as usize)
            .is_some_and(|id| self.map.get(id) == Some(&index))
    }

    /// Live `(index, id)` pairs in index order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (u32, NodeId)> + '_ {
        self.ids
            .iter()
            .enumerate()
            .filter(|&(i, id)| self.map.get(id) == Some(&(i as u32)))
            .map(|(i, &id)| (i as u32, id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn released_indices_are_reused_and_ids_forgotten() {
        let mut n = NodeIndex::default();
        assert_eq!(n.intern(10), (0, true));
        assert_eq!(n.intern(20), (1, true));
        assert_eq!(n.intern(10), (0, false));
        n.release(0);
        assert_eq!(n.get(10), None);
        assert!(!n.is_live(0));
        assert_eq!(n.intern(30), (0, true));
        assert_eq!(n.len(), 2);
        assert_eq!(n.capacity(), 2);
        let v: Vec<_> = n.iter().collect();
        assert_eq!(v, vec![(0, 30), (1, 20)]);
    }

    #[test]
    fn corrupt_repr_is_rejected() {
        let bad = NodeIndexRepr {
            ids: vec![1, 1],
            free: vec![],
        };
        assert!(NodeIndex::try_from(bad).is_err());
        let bad = NodeIndexRepr {
            ids: vec![1],
            free: vec![3],
        };
        assert!(NodeIndex::try_from(bad).is_err());
    }
}
