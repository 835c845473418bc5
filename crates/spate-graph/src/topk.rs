//! Top-k selection shared by every query that ranks nodes.

use crate::event::NodeId;
use std::cmp::Ordering;

/// The `k` entries with the largest score, largest first; ties go to the smaller node id so
/// results are deterministic. O(n + k log k).
pub(crate) fn top_k<S, I>(items: I, k: usize) -> Vec<(NodeId, S)>
where
    S: PartialOrd + Copy,
    I: IntoIterator<Item = (NodeId, S)>,
{
    let mut all: Vec<(NodeId, S)> = items.into_iter().collect();
    let order = |a: &(NodeId, S), b: &(NodeId, S)| {
        b.1.partial_cmp(&a.1)
            .unwrap_or(Ordering::Equal)
            .then(a.0.cmp(&b.0))
    };
    if k < all.len() {
        if k == 0 {
            return Vec::new();
        }
        all.select_nth_unstable_by(k - 1, order);
        all.truncate(k);
    }
    all.sort_unstable_by(order);
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn largest_first_ties_by_id() {
        let v = vec![(5, 1.0), (3, 2.0), (9, 2.0), (1, 0.5)];
        assert_eq!(top_k(v.clone(), 2), vec![(3, 2.0), (9, 2.0)]);
        assert_eq!(top_k(v.clone(), 10).len(), 4);
        assert!(top_k(v, 0).is_empty());
    }
}
