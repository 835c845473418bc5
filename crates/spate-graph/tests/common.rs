//! Shared test helpers: a naive reference graph, random streams, a checkpoint editor, fixture and
//! bundled dataset paths.

use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use spate_graph::{CsrGraph, EdgeEvent, EdgeOp, NodeId, PageRank, Ranks};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

/// `state` serialized to JSON, edited by `edit`, decoded again.
pub(crate) fn edited<T: Serialize + DeserializeOwned>(
    state: &T,
    edit: impl FnOnce(&mut Value),
) -> Result<T, serde_json::Error> {
    let mut v = serde_json::to_value(state).expect("serialize");
    edit(&mut v);
    serde_json::from_value(v)
}

pub(crate) fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// A dataset bundled with the repository (`datasets/` at its root), so a fresh clone runs
/// every test; see `datasets/README.md` for provenance.
pub(crate) fn dataset(name: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../datasets")
        .join(name);
    assert!(
        path.exists(),
        "bundled dataset {} is missing",
        path.display()
    );
    path
}

/// The obviously correct model of the graph semantics: a multiset of weighted instances.
#[derive(Clone, Debug, Default)]
pub(crate) struct Reference {
    /// `(src, dst) -> (instances, summed weight)`.
    pub(crate) edges: BTreeMap<(NodeId, NodeId), (u32, f64)>,
}

impl Reference {
    pub(crate) fn apply(&mut self, events: &[EdgeEvent]) {
        for e in events {
            if !e.has_valid_weight() {
                continue;
            }
            let key = (e.src, e.dst);
            match e.op {
                EdgeOp::Insert => {
                    let slot = self.edges.entry(key).or_insert((0, 0.0));
                    slot.0 += 1;
                    slot.1 += e.weight;
                }
                EdgeOp::Delete => {
                    if let Some(slot) = self.edges.get_mut(&key) {
                        if slot.0 == 1 {
                            if (slot.1 - e.weight).abs() <= slot.1 * 1e-12 {
                                self.edges.remove(&key);
                            }
                        } else if slot.1 - e.weight > slot.1 * 1e-12 {
                            slot.0 -= 1;
                            slot.1 -= e.weight;
                        }
                    }
                }
            }
        }
    }

    pub(crate) fn csr(&self) -> CsrGraph {
        CsrGraph::from_edges(self.edges.iter().map(|(&(u, v), &(_, w))| (u, v, w)))
            .expect("reference weights are valid")
    }

    /// Exact PageRank (error bound 1e-13) of the current graph, optionally personalized;
    /// personalization sources without edges are isolated nodes, as the updater keeps them.
    pub(crate) fn pagerank(&self, sources: &[(NodeId, f64)]) -> Ranks {
        let mut params = PageRank::params().tolerance(1e-13).max_iterations(100_000);
        let g = if sources.is_empty() {
            self.csr()
        } else {
            params = params.personalization(sources.iter().copied());
            CsrGraph::from_edges_and_nodes(
                self.edges.iter().map(|(&(u, v), &(_, w))| (u, v, w)),
                sources.iter().map(|s| s.0),
            )
            .expect("valid")
        };
        let result = params.build().expect("valid").run(&g).expect("runs");
        assert!(result.converged);
        result.ranks
    }

    /// Undirected simple neighbour sets (self-loops excluded).
    pub(crate) fn undirected(&self) -> BTreeMap<NodeId, BTreeSet<NodeId>> {
        let mut adj: BTreeMap<NodeId, BTreeSet<NodeId>> = BTreeMap::new();
        for &(u, v) in self.edges.keys() {
            adj.entry(u).or_default();
            adj.entry(v).or_default();
            if u != v {
                adj.entry(u).or_default().insert(v);
                adj.entry(v).or_default().insert(u);
            }
        }
        adj
    }

    /// Weakly connected components by breadth-first search, each sorted, sorted by first id.
    pub(crate) fn components(&self) -> Vec<Vec<NodeId>> {
        let adj = self.undirected();
        let mut seen = BTreeSet::new();
        let mut out = Vec::new();
        for &start in adj.keys() {
            if !seen.insert(start) {
                continue;
            }
            let mut comp = vec![start];
            let mut i = 0;
            while i < comp.len() {
                for &w in &adj[&comp[i]] {
                    if seen.insert(w) {
                        comp.push(w);
                    }
                }
                i += 1;
            }
            comp.sort_unstable();
            out.push(comp);
        }
        out.sort_unstable_by_key(|c| c[0]);
        out
    }

    /// Triangles by checking every node triple of every edge's endpoints: O(n · m).
    pub(crate) fn triangles(&self) -> u64 {
        let adj = self.undirected();
        let mut count = 0;
        for (&u, nu) in &adj {
            for &v in nu.range(u + 1..) {
                for &w in adj[&v].range(v + 1..) {
                    if nu.contains(&w) {
                        count += 1;
                    }
                }
            }
        }
        count
    }
}

/// Knobs of a random stream.
#[derive(Clone, Copy, Debug)]
pub(crate) struct StreamShape {
    pub(crate) nodes: u64,
    pub(crate) batches: usize,
    pub(crate) batch: usize,
    /// Probability that an event deletes a live instance instead of inserting.
    pub(crate) delete: f64,
    /// Whether inserts carry random weights (else 1).
    pub(crate) weighted: bool,
}

/// A seeded random stream of batches: inserts (with parallel edges and self-loops arising
/// naturally), deletes of live instances with their weight, and a few unusable events.
pub(crate) fn random_stream(seed: u64, shape: StreamShape) -> Vec<Vec<EdgeEvent>> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut live: Vec<EdgeEvent> = Vec::new();
    let mut out = Vec::new();
    for _ in 0..shape.batches {
        let mut batch = Vec::new();
        for _ in 0..shape.batch {
            let roll: f64 = rng.random();
            if roll < shape.delete && !live.is_empty() {
                let i = rng.random_range(0..live.len());
                batch.push(live.swap_remove(i).inverse());
            } else if roll < shape.delete + 0.01 {
                // Unusable: a delete of something absent, or a bad weight.
                batch.push(EdgeEvent::delete(shape.nodes + 7, shape.nodes + 8));
            } else {
                // Skewed ids so that some nodes are hubs.
                let u = rng.random_range(0..shape.nodes);
                let v = (rng.random_range(0..shape.nodes) * rng.random_range(0..shape.nodes))
                    / shape.nodes;
                let w = if shape.weighted {
                    f64::from(rng.random_range(1..40u32)) / 8.0
                } else {
                    1.0
                };
                let e = EdgeEvent::insert_weighted(u * 1_000_003, v * 1_000_003, w);
                live.push(e);
                batch.push(e);
            }
        }
        out.push(batch);
    }
    out
}
