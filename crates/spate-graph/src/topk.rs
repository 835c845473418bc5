//! Top-k selection shared by every query that ranks nodes.

use crate::event::NodeId;
use std::cmp::Ordering;

/// A score `top_k` can rank: a total order, largest first.
pub(crate) trait Score: Copy {
    /// `Less` when `self` ranks before `other`.
    fn rank_cmp(&self, other: &Self) -> Ordering;
}

macro_rules! integer_score {
    ($($t:ty),*) => {$(
        impl Score for $t {
            fn rank_cmp(&self, other: &Self) -> Ordering {
                other.cmp(self)
            }
        }
    )*};
}
integer_score!(u32, u64, usize);

impl Score for f64 {
    /// Largest first by [`f64::total_cmp`], NaN (of either sign) last: a total order even with
    /// NaN mixed in, as sorting needs.
    fn rank_cmp(&self, other: &Self) -> Ordering {
        self.is_nan()
            .cmp(&other.is_nan())
            .then_with(|| other.total_cmp(self))
    }
}

/// The `k` entries with the largest score, largest first; ties go to the smaller node id so
/// results are deterministic, and NaN scores come last. O(n + k log k).
pub(crate) fn top_k<S, I>(items: I, k: usize) -> Vec<(NodeId, S)>
where
    S: Score,
    I: IntoIterator<Item = (NodeId, S)>,
{
    let mut all: Vec<(NodeId, S)> = items.into_iter().collect();
    let order = |a: &(NodeId, S), b: &(NodeId, S)| a.1.rank_cmp(&b.1).then(a.0.cmp(&b.0));
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

    #[test]
    fn nan_scores_go_last_in_a_total_order() {
        let v: Vec<(NodeId, f64)> = (0..200)
            .map(|i| {
                let score = match i % 4 {
                    0 => f64::NAN,
                    1 => -f64::NAN,
                    _ => (i % 7) as f64,
                };
                (i, score)
            })
            .collect();
        let all = top_k(v.clone(), v.len());
        let first_nan = all.iter().position(|e| e.1.is_nan()).expect("has NaN");
        assert_eq!(first_nan, 100);
        assert!(all[first_nan..].iter().all(|e| e.1.is_nan()));
        assert!(
            all[..first_nan]
                .windows(2)
                .all(|w| w[0].1 > w[1].1 || (w[0].1 == w[1].1 && w[0].0 < w[1].0))
        );
        for k in [1, 10, 99, 100, 101, 150] {
            let top = top_k(v.clone(), k);
            assert_eq!(top.len(), k);
            let same: Vec<_> = top.iter().map(|e| e.0).collect();
            let want: Vec<_> = all[..k].iter().map(|e| e.0).collect();
            assert_eq!(same, want, "k={k}");
        }
        let ints = top_k(vec![(1, 3usize), (2, 5), (0, 3)], 3);
        assert_eq!(ints, vec![(2, 5), (0, 3), (1, 3)]);
    }
}
