//! Sliding windows over an edge stream: edges inserted more than `W` batches ago expire.

use crate::error::GraphError;
use crate::event::{EdgeEvent, EdgeOp, NodeId};
use crate::inout::WeightRule;
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// Turns a stream of batches into the events of a sliding window of `length` batches.
///
/// After the `t`-th call to [`EdgeWindow::advance`], the graph built from the emitted events
/// holds exactly the instances inserted by batches `t - length + 1 ..= t` that were not
/// explicitly deleted. An explicit delete retracts the *oldest* live instance of that edge
/// (so it will not expire a second time) and is re-emitted with that instance's weight; a
/// delete with no live instance is passed through for the graph to count as missing.
///
/// Every algorithm accepts a `window_batches(W)` parameter that runs one of these in front of
/// it; use it directly to feed several algorithms from one window.
///
/// Cost: O(batch + expired) per call; memory O(edge instances in the window).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(try_from = "WindowRepr", into = "WindowRepr")]
pub struct EdgeWindow {
    length: usize,
    /// Number of batches seen so far.
    batches: u64,
    /// Per batch still in the window: the edges it inserted, in order.
    history: VecDeque<(u64, Vec<(NodeId, NodeId)>)>,
    /// Live instances per edge, oldest first: `(batch, weight)`.
    live: FxHashMap<(NodeId, NodeId), VecDeque<(u64, f64)>>,
    /// The inserts that count (those the graph behind accepts). Not checkpointed: the
    /// algorithm that owns the window sets it again.
    rule: WeightRule,
}

#[derive(Serialize, Deserialize)]
struct WindowRepr {
    length: usize,
    batches: u64,
    history: Vec<(u64, Vec<(NodeId, NodeId)>)>,
    live: Vec<(NodeId, NodeId, Vec<(u64, f64)>)>,
}

impl From<EdgeWindow> for WindowRepr {
    fn from(w: EdgeWindow) -> Self {
        Self {
            length: w.length,
            batches: w.batches,
            history: w.history.into_iter().collect(),
            live: w
                .live
                .into_iter()
                .map(|((s, d), q)| (s, d, q.into_iter().collect()))
                .collect(),
        }
    }
}

impl TryFrom<WindowRepr> for EdgeWindow {
    type Error = GraphError;

    fn try_from(r: WindowRepr) -> Result<Self, GraphError> {
        if r.length == 0 {
            return Err(GraphError::CorruptState {
                what: "window of zero batches",
            });
        }
        if r.history.len() > r.length {
            return Err(GraphError::CorruptState {
                what: "window holds more batches than its length",
            });
        }
        Ok(Self {
            length: r.length,
            batches: r.batches,
            history: r.history.into_iter().collect(),
            live: r
                .live
                .into_iter()
                .map(|(s, d, q)| ((s, d), q.into_iter().collect()))
                .collect(),
            rule: WeightRule::default(),
        })
    }
}

impl EdgeWindow {
    /// A window over the last `length` batches (`length >= 1`; 1 keeps only the current batch).
    pub fn new(length: usize) -> Result<Self, GraphError> {
        if length == 0 {
            return Err(GraphError::WindowBatches);
        }
        Ok(Self {
            length,
            batches: 0,
            history: VecDeque::new(),
            live: FxHashMap::default(),
            rule: WeightRule::default(),
        })
    }

    /// Track the inserts `rule` accepts (by default those [`EdgeEvent::has_valid_weight`]).
    pub(crate) fn set_rule(&mut self, rule: WeightRule) {
        self.rule = rule;
    }

    /// The window length in batches.
    #[must_use]
    pub fn length(&self) -> usize {
        self.length
    }

    /// Edge instances currently in the window.
    #[must_use]
    pub fn live_instances(&self) -> usize {
        self.live.values().map(VecDeque::len).sum()
    }

    /// Slide the window by one batch: write into `out` (cleared first) the expiry deletes of
    /// the batch that leaves the window, followed by `batch` itself. Returns the number of
    /// expiries.
    pub fn advance(&mut self, batch: &[EdgeEvent], out: &mut Vec<EdgeEvent>) -> usize {
        out.clear();
        let now = self.batches;
        self.batches += 1;
        let mut expired = 0;
        if self.history.len() == self.length
            && let Some((old, edges)) = self.history.pop_front()
        {
            for key in edges {
                let Some(q) = self.live.get_mut(&key) else {
                    continue;
                };
                // Instances of this batch that an explicit delete already retracted are gone
                // from the front of the queue: skip them.
                if q.front().is_some_and(|&(b, _)| b == old)
                    && let Some((_, w)) = q.pop_front()
                {
                    out.push(EdgeEvent::delete_weighted(key.0, key.1, w));
                    expired += 1;
                }
                if q.is_empty() {
                    self.live.remove(&key);
                }
            }
        }
        let mut inserted = Vec::new();
        for e in batch {
            let key = (e.src, e.dst);
            match e.op {
                EdgeOp::Insert => {
                    if self.rule.accepts(e.weight) {
                        inserted.push(key);
                        self.live.entry(key).or_default().push_back((now, e.weight));
                    }
                    out.push(*e);
                }
                EdgeOp::Delete => match self.live.get_mut(&key).and_then(VecDeque::pop_front) {
                    Some((_, w)) => {
                        if self.live.get(&key).is_some_and(VecDeque::is_empty) {
                            self.live.remove(&key);
                        }
                        out.push(EdgeEvent::delete_weighted(e.src, e.dst, w));
                    }
                    None => out.push(*e),
                },
            }
        }
        self.history.push_back((now, inserted));
        expired
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edges_expire_after_length_batches() {
        let mut w = EdgeWindow::new(2).expect("valid");
        let mut out = Vec::new();
        assert_eq!(w.advance(&[EdgeEvent::insert(1, 2)], &mut out), 0);
        assert_eq!(w.advance(&[EdgeEvent::insert(2, 3)], &mut out), 0);
        assert_eq!(w.advance(&[], &mut out), 1);
        assert_eq!(out, vec![EdgeEvent::delete(1, 2)]);
        assert_eq!(w.advance(&[], &mut out), 1);
        assert_eq!(out, vec![EdgeEvent::delete(2, 3)]);
        assert_eq!(w.live_instances(), 0);
    }

    #[test]
    fn explicit_delete_retracts_the_oldest_instance_once() {
        let mut w = EdgeWindow::new(2).expect("valid");
        let mut out = Vec::new();
        w.advance(&[EdgeEvent::insert_weighted(1, 2, 3.0)], &mut out);
        w.advance(
            &[
                EdgeEvent::insert_weighted(1, 2, 5.0),
                EdgeEvent::delete(1, 2),
            ],
            &mut out,
        );
        // The delete took the oldest instance's weight.
        assert_eq!(out[1], EdgeEvent::delete_weighted(1, 2, 3.0));
        // Batch 0's instance was already retracted: nothing expires.
        assert_eq!(w.advance(&[], &mut out), 0);
        assert_eq!(w.advance(&[], &mut out), 1);
        assert_eq!(out, vec![EdgeEvent::delete_weighted(1, 2, 5.0)]);
    }

    #[test]
    fn zero_length_is_rejected() {
        assert!(matches!(EdgeWindow::new(0), Err(GraphError::WindowBatches)));
    }
}
