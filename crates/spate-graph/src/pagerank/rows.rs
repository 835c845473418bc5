//! Compressed rows kept across batches for warm-started power iteration: a snapshot of the
//! graph, patched as the graph changes, so a small batch costs its passes and a correction per
//! changed edge instead of a rebuild of every row.
//!
//! Everything is in the graph's slot space (a slot whose node left and was reused by another
//! keeps its row). A pass over the snapshot adds `w · y[u]` for every snapshot edge `u → v`,
//! where the scaled vector `y[u] = z_u / W_u` uses the *current* out-weight `W_u` (patched into
//! the rows as sources change). Each edge whose weight changed since the snapshot (inserted,
//! deleted or re-weighted) then adds `(w_now − w_snapshot) · z_u / W_u` to its destination.
//! The corrections are a flat list in the order edges first changed, applied in that order,
//! so a pass is deterministic. Nodes that appeared since get rows after the snapshot's,
//! reached only through corrections; rows whose slot is free are forced to 0.
//!
//! The rows are rebuilt once their corrections have cost as much as a rebuild. They are part
//! of the updater's state and of its checkpoints: a restored updater corrects the same rows
//! the original does, so it continues bit for bit.

use crate::csr::{InCsr, PassSums, inverse_weight};
use crate::graph::{DirectedGraph, GraphDelta};
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

/// Rebuild at the latest when the changed edges and appended rows exceed this fraction of
/// the edges and slots, whatever the corrections have cost so far (see
/// [`KeptRows::fresh`]): it bounds the rows' extra memory and a pass's extra work (at 1/32
/// the 10,000-edge stream on soc-Epinions1 rebuilt every other batch, ~9 ms per batch
/// amortized, while the corrections cost ~0.1 ms per pass).
const REBUILD_FRACTION: f64 = 1.0 / 8.0;

/// No row for this slot.
pub(crate) const NO_ROW: u32 = u32::MAX;

/// An edge whose weight changed since the snapshot, by rows.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Correction {
    src: u32,
    dst: u32,
    /// Its weight in the snapshot (0: absent then).
    snapshot: f64,
    /// Current weight minus `snapshot`.
    change: f64,
}

/// What a pass needs per row besides the rows: whether the row's slot holds a node, its
/// teleport term (`None`: `1 − α` for every node) and a factor on it, and the damping.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RowValues<'a> {
    pub(crate) live: &'a [bool],
    pub(crate) teleport: Option<&'a [f64]>,
    /// Multiplies every teleport term: 1 for the plain map; more where the pass also
    /// spreads dangling mass along the teleport direction (see `power_iterate`).
    pub(crate) teleport_scale: f64,
    pub(crate) damping: f64,
}

/// Snapshot rows plus the corrections that make them the current graph's. Checkpointed as
/// a [`KeptRowsRepr`], restored with [`KeptRows::from_repr`] against the graph's size.
#[derive(Clone, Debug, Serialize)]
#[serde(into = "KeptRowsRepr")]
pub(crate) struct KeptRows {
    csr: InCsr,
    /// Row → slot: the snapshot's rows, then the appended ones.
    slots: Vec<u32>,
    /// Slot → row ([`NO_ROW`]: none).
    row_of: Vec<u32>,
    /// `1 / W` of the appended rows (0: dangling).
    appended_inv_out: Vec<f64>,
    corrections: Vec<Correction>,
    /// What the corrections have cost since the build (see [`fresh`](Self::fresh)).
    spent: f64,
    /// `(source slot, destination slot)` → index in `corrections`.
    position: FxHashMap<(u32, u32), u32>,
}

/// The checkpointed part of [`KeptRows`]; the lookups are rebuilt from it.
#[derive(Serialize, Deserialize)]
pub(crate) struct KeptRowsRepr {
    csr: InCsr,
    slots: Vec<u32>,
    appended_inv_out: Vec<f64>,
    corrections: Vec<(u32, u32, f64, f64)>,
    #[serde(default)]
    spent: f64,
}

impl From<KeptRows> for KeptRowsRepr {
    fn from(k: KeptRows) -> Self {
        Self {
            csr: k.csr,
            slots: k.slots,
            appended_inv_out: k.appended_inv_out,
            corrections: k
                .corrections
                .iter()
                .map(|c| (c.src, c.dst, c.snapshot, c.change))
                .collect(),
            spent: k.spent,
        }
    }
}

impl KeptRows {
    /// Restore checkpointed rows of a graph with `capacity` node slots, checking them first:
    /// every slot must be one of the graph's before the slot → row lookup is sized by them
    /// (a corrupt slot of 4e9 would otherwise allocate 16 GB).
    pub(crate) fn from_repr(r: KeptRowsRepr, capacity: usize) -> Result<Self, &'static str> {
        if r.slots.iter().any(|&slot| slot as usize >= capacity) {
            return Err("kept PageRank rows do not match the graph");
        }
        r.csr.check()?;
        let (n, m) = (r.csr.nodes(), r.slots.len());
        if m < n || r.appended_inv_out.len() != m - n {
            return Err("kept rows do not match their slots");
        }
        if r.appended_inv_out
            .iter()
            .any(|w| !(w.is_finite() && *w >= 0.0))
        {
            return Err("out-weight out of range");
        }
        let slots = r.slots.iter().map(|&s| s as usize + 1).max().unwrap_or(0);
        let mut row_of = vec![NO_ROW; slots];
        for (row, &slot) in r.slots.iter().enumerate() {
            if row_of[slot as usize] != NO_ROW {
                return Err("two kept rows for one slot");
            }
            row_of[slot as usize] = row as u32;
        }
        let mut position = FxHashMap::default();
        let mut corrections = Vec::with_capacity(r.corrections.len());
        for (i, &(src, dst, snapshot, change)) in r.corrections.iter().enumerate() {
            let valid = (src as usize) < m
                && (dst as usize) < m
                && snapshot.is_finite()
                && change.is_finite();
            if !valid {
                return Err("row correction out of range");
            }
            let key = (r.slots[src as usize], r.slots[dst as usize]);
            if position.insert(key, i as u32).is_some() {
                return Err("two corrections for one edge");
            }
            corrections.push(Correction {
                src,
                dst,
                snapshot,
                change,
            });
        }
        Ok(Self {
            csr: r.csr,
            slots: r.slots,
            row_of,
            appended_inv_out: r.appended_inv_out,
            corrections,
            spent: r.spent,
            position,
        })
    }
}

impl KeptRows {
    /// Fresh rows of the graph, with nothing to correct.
    pub(crate) fn build(g: &DirectedGraph) -> Self {
        let (csr, slots) = InCsr::from_graph(g);
        let mut row_of = vec![NO_ROW; g.capacity()];
        for (row, &slot) in slots.iter().enumerate() {
            row_of[slot as usize] = row as u32;
        }
        Self {
            csr,
            slots,
            row_of,
            appended_inv_out: Vec::new(),
            corrections: Vec::new(),
            spent: 0.0,
            position: FxHashMap::default(),
        }
    }

    /// Rows in all (snapshot and appended).
    pub(crate) fn rows(&self) -> usize {
        self.slots.len()
    }

    /// Rows of the snapshot.
    pub(crate) fn snapshot_rows(&self) -> usize {
        self.csr.nodes()
    }

    /// Row → slot.
    pub(crate) fn slots(&self) -> &[u32] {
        &self.slots
    }

    /// `1 / out-weight` of the snapshot's rows (0: dangling).
    pub(crate) fn inv_out(&self) -> &[f64] {
        self.csr.inv_out()
    }

    /// `1 / W` of any row, snapshot or appended (0: dangling).
    pub(crate) fn inv_of(&self, row: usize) -> f64 {
        let n = self.snapshot_rows();
        if row < n {
            self.csr.inv_out()[row]
        } else {
            self.appended_inv_out[row - n]
        }
    }

    /// Row of each slot ([`NO_ROW`]: none); may be shorter than the graph's slots.
    pub(crate) fn row_of(&self) -> &[u32] {
        &self.row_of
    }

    /// Edges in the snapshot.
    pub(crate) fn snapshot_edges(&self) -> usize {
        self.csr.edges()
    }

    /// Edges corrected per pass.
    pub(crate) fn correction_count(&self) -> usize {
        self.corrections.len()
    }

    /// Whether correcting is still cheaper than rebuilding for a graph of `size` edges plus
    /// slots: the corrections have not yet cost as much as a rebuild (`rebuild`, in the
    /// units of [`charge`](Self::charge)) — rent, then buy, which is never worse than twice
    /// the best rebuild schedule in hindsight — and stay under 1/8 of the graph.
    pub(crate) fn fresh(&self, size: usize, rebuild: f64) -> bool {
        let appended = self.rows() - self.snapshot_rows();
        (self.corrections.len() + appended) as f64 <= REBUILD_FRACTION * size as f64
            && self.spent < rebuild
    }

    /// Add the cost of the corrections of some passes.
    pub(crate) fn charge(&mut self, cost: f64) {
        self.spent += cost;
    }

    /// Row of a slot, appending one if it has none.
    fn row(&mut self, slot: u32) -> u32 {
        let s = slot as usize;
        if self.row_of.len() <= s {
            self.row_of.resize(s + 1, NO_ROW);
        }
        if self.row_of[s] == NO_ROW {
            self.row_of[s] = self.slots.len() as u32;
            self.slots.push(slot);
            self.appended_inv_out.push(0.0);
        }
        self.row_of[s]
    }

    /// Take in a batch that `g` has applied and described in `delta`. O(changes).
    pub(crate) fn record(&mut self, g: &DirectedGraph, delta: &GraphDelta) {
        let live = g.live_mask();
        for t in &delta.touched {
            if live[t.node as usize] {
                self.row(t.node);
            }
        }
        let n = self.snapshot_rows();
        for s in &delta.sources {
            let (u, w) = (s.node, g.out_weight_of(s.node));
            if s.weight == 0.0 && w == 0.0 {
                // Edges inserted and deleted within the batch: nothing to patch.
                continue;
            }
            // A source with edges before or after the batch held a node then: it has a row.
            let row = self.row(u) as usize;
            if row < n {
                self.csr.set_out_weight(row, w);
            } else {
                self.appended_inv_out[row - n] = inverse_weight(w);
            }
        }
        for e in &delta.edges {
            if e.after != e.before {
                self.change(e.src, e.dst, e.before, e.after);
            }
        }
    }

    /// Edge `u → v` (slots) went from weight `then` to `now` in this batch.
    fn change(&mut self, u: u32, v: u32, then: f64, now: f64) {
        match self.position.get(&(u, v)) {
            Some(&i) => {
                let c = &mut self.corrections[i as usize];
                c.change = now - c.snapshot;
            }
            None => {
                let (src, dst) = (self.row(u), self.row(v));
                self.position.insert((u, v), self.corrections.len() as u32);
                // Its first change since the snapshot: `then` is the snapshot's weight.
                self.corrections.push(Correction {
                    src,
                    dst,
                    snapshot: then,
                    change: now - then,
                });
            }
        }
    }

    /// `y = z / W` over the snapshot's rows (`z` by row).
    #[cfg(test)]
    pub(crate) fn scale(&self, z: &[f64], y: &mut [f64]) {
        self.csr.scale_by_out_weight(&z[..self.snapshot_rows()], y);
    }

    /// The snapshot rows a pass must fix after pulling: destinations of corrections and
    /// the given rows without a node (`dead`), each once, in a fixed order. `seen` is scratch
    /// (left all false).
    pub(crate) fn fixups(&self, dead: &[u32], seen: &mut Vec<bool>, out: &mut Vec<u32>) {
        let n = self.snapshot_rows();
        out.clear();
        seen.resize(n, false);
        let targets = self
            .corrections
            .iter()
            .map(|c| c.dst)
            .chain(dead.iter().copied());
        for v in targets.filter(|&v| (v as usize) < n) {
            if !std::mem::replace(&mut seen[v as usize], true) {
                out.push(v);
            }
        }
        for &v in out.iter() {
            seen[v as usize] = false;
        }
    }

    /// One pass over the current graph: `next[v] = s·t_v + α Σ_{u→v} w z_u / W_u` (`s` the
    /// teleport scale) for rows whose slot holds a node (0 for the others), and `next`'s
    /// scaled vector for the snapshot's rows. `z` and `next` are by row, `y` is `z`'s scaled
    /// vector, `fixups` what [`fixups`](Self::fixups) gave for this `live`, `extra` a zeroed
    /// buffer of one slot per row (zeroed again on return). Returns `‖next − z‖₁`, `Σ next`
    /// and `Σ next` over dangling rows (no out-weight).
    ///
    /// The snapshot's rows are pulled as a static pass would; the few rows with corrections
    /// or without a node are fixed afterwards, so the pull's inner loop is the static one.
    pub(crate) fn pass(
        &self,
        values: RowValues<'_>,
        fixups: &[u32],
        (z, y): (&[f64], &[f64]),
        (next, y_next): (&mut [f64], &mut [f64]),
        extra: &mut [f64],
    ) -> (f64, f64, f64) {
        let RowValues {
            live,
            teleport,
            teleport_scale: k,
            damping: a,
        } = values;
        let n = self.snapshot_rows();
        for c in &self.corrections {
            let s = c.src as usize;
            let scaled = if s < n {
                y[s]
            } else {
                z[s] * self.appended_inv_out[s - n]
            };
            extra[c.dst as usize] += c.change * scaled;
        }
        let (prev, pulled) = (&z[..n], &mut next[..n]);
        let PassSums {
            step,
            sum,
            dangling,
        } = match teleport {
            None => {
                let t = k * (1.0 - a);
                self.csr.pull(y, prev, pulled, y_next, |_, s| t + a * s)
            }
            Some(t) => self
                .csr
                .pull(y, prev, pulled, y_next, |v, s| k * t[v] + a * s),
        };
        let (mut step, mut sum, mut dangling) = (step, sum, dangling);
        let inv_out = self.csr.inv_out();
        for &v in fixups {
            let v = v as usize;
            let pulled = next[v];
            let value = if live[v] { pulled + a * extra[v] } else { 0.0 };
            step += (value - z[v]).abs() - (pulled - z[v]).abs();
            sum += value - pulled;
            if inv_out[v] == 0.0 {
                dangling += value - pulled;
            }
            next[v] = value;
            y_next[v] = self.csr.scaled(v, value);
            extra[v] = 0.0;
        }
        // Rows appended since the snapshot get all their terms from the corrections.
        for row in n..self.rows() {
            let value = if live[row] {
                k * teleport.map_or(1.0 - a, |t| t[row]) + a * extra[row]
            } else {
                0.0
            };
            step += (value - z[row]).abs();
            sum += value;
            if self.appended_inv_out[row - n] == 0.0 {
                dangling += value;
            }
            next[row] = value;
            extra[row] = 0.0;
        }
        (step, sum, dangling)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::EdgeEvent;
    use proptest::prelude::*;

    /// One pass of `rows` over `g` from `z` (by slot); returns `next` by slot.
    fn pass_by_slot(rows: &KeptRows, g: &DirectedGraph, z_slot: &[f64]) -> Vec<f64> {
        let a = 0.85;
        let live_slots = g.live_mask();
        let live: Vec<bool> = rows.slots.iter().map(|&s| live_slots[s as usize]).collect();
        let z: Vec<f64> = rows
            .slots
            .iter()
            .zip(&live)
            .map(|(&s, &l)| if l { z_slot[s as usize] } else { 0.0 })
            .collect();
        let (mut y, mut y_next) = (
            vec![0.0; rows.snapshot_rows() + 1],
            vec![0.0; rows.snapshot_rows() + 1],
        );
        rows.scale(&z, &mut y);
        let mut next = vec![0.0; rows.rows()];
        let mut extra = vec![0.0; rows.rows()];
        let values = RowValues {
            live: &live,
            teleport: None,
            teleport_scale: 1.0,
            damping: a,
        };
        let (mut seen, mut fixups) = (Vec::new(), Vec::new());
        let dead: Vec<u32> = (0..rows.snapshot_rows() as u32)
            .filter(|&v| !live[v as usize])
            .collect();
        rows.fixups(&dead, &mut seen, &mut fixups);
        let (step, sum, dangling) = rows.pass(
            values,
            &fixups,
            (&z, &y),
            (&mut next, &mut y_next),
            &mut extra,
        );
        assert!(extra.iter().all(|&e| e == 0.0));
        // The pass's sums are those of its output.
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-12 * b.abs().max(1.0);
        let want_step: f64 = next.iter().zip(&z).map(|(n, z)| (n - z).abs()).sum();
        let want_dangling: f64 = (0..rows.rows())
            .filter(|&row| rows.inv_of(row) == 0.0)
            .map(|row| next[row])
            .sum();
        assert!(close(step, want_step), "{step} vs {want_step}");
        assert!(close(sum, next.iter().sum()), "{sum}");
        assert!(
            close(dangling, want_dangling),
            "{dangling} vs {want_dangling}"
        );
        let mut by_slot = vec![0.0; g.capacity()];
        for (row, &slot) in rows.slots.iter().enumerate() {
            if live[row] {
                by_slot[slot as usize] = next[row];
            }
        }
        by_slot
    }

    proptest! {
        /// Rows kept across batches (inserts, deletes, weight changes, nodes that appear,
        /// nodes that leave and slots reused) give the pass a fresh snapshot gives, to
        /// rounding; and they survive a checkpoint round trip unchanged.
        #[test]
        fn corrected_rows_pass_like_fresh_ones(
            initial in prop::collection::vec((0..30u64, 0..30u64), 1..120),
            batches in prop::collection::vec(
                prop::collection::vec((any::<bool>(), 0..45u64, 0..45u64, 1..4u32), 1..25),
                1..6,
            ),
        ) {
            let mut g = DirectedGraph::new();
            let events: Vec<EdgeEvent> =
                initial.iter().map(|&(u, v)| EdgeEvent::insert(u, v)).collect();
            let mut delta = GraphDelta::default();
            g.apply_batch(&events, &mut delta);
            let mut rows = KeptRows::build(&g);
            for batch in &batches {
                let events: Vec<EdgeEvent> = batch
                    .iter()
                    .map(|&(insert, u, v, w)| {
                        if insert {
                            EdgeEvent::insert_weighted(u, v, f64::from(w))
                        } else {
                            // Delete what the stream may hold (unit weight), often absent.
                            EdgeEvent::delete(u % 30, v % 30)
                        }
                    })
                    .collect();
                g.apply_batch(&events, &mut delta);
                rows.record(&g, &delta);
                let z: Vec<f64> = (0..g.capacity()).map(|i| 1.0 + (i % 7) as f64 / 3.0).collect();
                let kept = pass_by_slot(&rows, &g, &z);
                let fresh = pass_by_slot(&KeptRows::build(&g), &g, &z);
                prop_assert_eq!(kept.len(), fresh.len());
                for (slot, (k, f)) in kept.iter().zip(&fresh).enumerate() {
                    prop_assert!((k - f).abs() <= 1e-12 * f.abs().max(1.0), "slot {}: {} vs {}", slot, k, f);
                }
                let repr: KeptRowsRepr =
                    bincode::deserialize(&bincode::serialize(&rows).expect("serializes"))
                        .expect("decodes");
                let restored = KeptRows::from_repr(repr, g.capacity()).expect("restores");
                prop_assert_eq!(pass_by_slot(&restored, &g, &z), kept);
            }
        }
    }

    /// A checkpoint whose rows point outside themselves or the graph is refused, not read.
    #[test]
    fn corrupt_rows_are_refused() {
        let mut g = DirectedGraph::new();
        let mut delta = GraphDelta::default();
        let events = [EdgeEvent::insert(1, 2), EdgeEvent::insert(2, 3)];
        g.apply_batch(&events, &mut delta);
        let rows = KeptRows::build(&g);
        let restore = |json: serde_json::Value| {
            let repr: KeptRowsRepr = serde_json::from_value(json).expect("decodes");
            KeptRows::from_repr(repr, g.capacity())
        };
        let json = serde_json::to_value(&rows).expect("serializes");
        assert!(restore(json.clone()).is_ok());
        let mut corrupt = json.clone();
        corrupt["csr"]["sources"][0] = serde_json::json!(7);
        let err = restore(corrupt).expect_err("corrupt");
        assert!(err.contains("out of range"), "{err}");
        let mut corrupt = json.clone();
        corrupt["corrections"] = serde_json::json!([[0, 9, 1.0, -1.0]]);
        let err = restore(corrupt).expect_err("corrupt");
        assert!(err.contains("out of range"), "{err}");
        // A slot far outside the graph is refused before the slot lookup is sized by it
        // (4e9 slots would be 16 GB).
        let mut corrupt = json;
        corrupt["slots"][0] = serde_json::json!(4_000_000_000u32);
        let err = restore(corrupt).expect_err("corrupt");
        assert!(err.contains("do not match the graph"), "{err}");
    }
}
