//! Connected components over real edge streams: petgraph's `UnionFind`, as
//! `spate_graph::ConnectedComponents` uses it (`crates/spate-graph/src/sets.rs`, compiled
//! here from the crate's own file), against the hand-written union-find with member lists it
//! replaced, side by side in one run.
//!
//! Both trackers see the same graph changes from the same simple undirected graph (pairs
//! appearing, pairs vanishing, nodes leaving), batch by batch, and pay the same per-batch
//! query (the largest component); they differ only in their disjoint sets:
//!
//! * `hand-written`: union by size with full path compression, a member list per root
//!   (merged small into large), and a deletion re-scans the members of the affected
//!   component: each becomes a singleton again and is re-joined along its remaining pairs.
//! * `petgraph`: `petgraph::unionfind::UnionFind` (union by rank, path halving); a deletion
//!   searches the affected components from the nodes that lost a pair, and each part found
//!   gets one fresh set element (old elements are compacted away when they outnumber nodes).
//!
//! `ConnectedComponents` end to end (its own graph, the same events) is timed beside them for
//! scale. Streams: CollegeMsg, bitcoin-otc and bitcoin-alpha in time order, soc-Epinions1 in
//! file order; batches of 1,000 edges, inserts only, and with a sliding window of 10 batches
//! (each batch's inserts expire 10 batches later). Every run checks that all three agree on
//! the number of components and the largest one after every batch.
//!
//! Run: `cargo bench -p spate-benches --bench components` (`SPATE_BENCH_ROUNDS`, default 7:
//! rounds, each timing every candidate once, in alternating order; the table gives median
//! times and the median of the per-round ratios).

#[allow(dead_code, unreachable_pub)]
#[path = "../crates/spate-graph/src/sets.rs"]
mod sets;

use rustc_hash::FxHashMap;
use sets::{Adjacency, ComponentSets};
use spate::graph::{ConnectedComponents, EdgeEvent, EdgeListFormat, EdgeOp, EdgeWindow};
use spate_benches::{datasets, temporal_edge_streams};
use std::hint::black_box;
use std::time::{Duration, Instant};

const BATCH: usize = 1_000;
const WINDOW: usize = 10;

/// The undirected simple view of a multigraph, with dense reusable node slots.
#[derive(Default)]
struct Undirected {
    slots: FxHashMap<u64, u32>,
    ids: Vec<u64>,
    free: Vec<u32>,
    /// Live instances per neighbour (either direction).
    adj: Vec<FxHashMap<u32, u32>>,
    loops: Vec<u32>,
}

enum Change {
    NodeAdded(u32, u64),
    PairAdded(u32, u32),
    PairRemoved(u32, u32),
}

impl Undirected {
    fn slot(&mut self, id: u64, on: &mut impl FnMut(Change)) -> u32 {
        if let Some(&s) = self.slots.get(&id) {
            return s;
        }
        let s = self.free.pop().unwrap_or_else(|| {
            self.ids.push(0);
            self.adj.push(FxHashMap::default());
            self.loops.push(0);
            (self.ids.len() - 1) as u32
        });
        self.ids[s as usize] = id;
        self.slots.insert(id, s);
        on(Change::NodeAdded(s, id));
        s
    }

    /// Applies `events`; nodes left without edges are released and pushed to `released`.
    fn apply(&mut self, events: &[EdgeEvent], released: &mut Vec<u32>, mut on: impl FnMut(Change)) {
        released.clear();
        let mut touched = Vec::new();
        for e in events {
            match e.op {
                EdgeOp::Insert => {
                    let u = self.slot(e.src, &mut on);
                    let v = self.slot(e.dst, &mut on);
                    if u == v {
                        self.loops[u as usize] += 1;
                        continue;
                    }
                    let n = self.adj[u as usize].entry(v).or_insert(0);
                    *n += 1;
                    if *n == 1 {
                        self.adj[v as usize].insert(u, 1);
                        on(Change::PairAdded(u, v));
                    } else {
                        *self.adj[v as usize].entry(u).or_insert(0) += 1;
                    }
                }
                EdgeOp::Delete => {
                    let (Some(&u), Some(&v)) = (self.slots.get(&e.src), self.slots.get(&e.dst))
                    else {
                        continue;
                    };
                    touched.extend([u, v]);
                    if u == v {
                        self.loops[u as usize] -= 1;
                        continue;
                    }
                    let n = self.adj[u as usize].get_mut(&v).expect("live instance");
                    *n -= 1;
                    if *n == 0 {
                        self.adj[u as usize].remove(&v);
                        self.adj[v as usize].remove(&u);
                        on(Change::PairRemoved(u, v));
                    } else if let Some(m) = self.adj[v as usize].get_mut(&u) {
                        *m -= 1;
                    }
                }
            }
        }
        touched.sort_unstable();
        touched.dedup();
        for s in touched {
            if !self.is_live(s) {
                self.slots.remove(&self.ids[s as usize]);
                self.free.push(s);
                released.push(s);
            }
        }
    }

    fn capacity(&self) -> usize {
        self.ids.len()
    }
}

impl Adjacency for Undirected {
    fn is_live(&self, slot: u32) -> bool {
        let i = slot as usize;
        i < self.adj.len() && (!self.adj[i].is_empty() || self.loops[i] > 0)
    }

    fn id(&self, slot: u32) -> u64 {
        self.ids[slot as usize]
    }

    fn for_each_neighbor(&self, slot: u32, f: impl FnMut(u32)) {
        self.adj[slot as usize].keys().copied().for_each(f);
    }
}

/// Disjoint sets kept exact over the changes of an [`Undirected`] graph.
trait Tracker: Default {
    fn add(&mut self, slot: u32, id: u64);
    fn union(&mut self, a: u32, b: u32);
    /// Exact again after the batch's `dirty` slots lost pairs or left.
    fn split(&mut self, graph: &Undirected, dirty: &[u32]);
    fn count(&self) -> usize;
    fn largest(&self) -> usize;
}

impl Tracker for ComponentSets {
    fn add(&mut self, slot: u32, id: u64) {
        ComponentSets::add(self, slot, id);
    }

    fn union(&mut self, a: u32, b: u32) {
        ComponentSets::union(self, a, b);
    }

    fn split(&mut self, graph: &Undirected, dirty: &[u32]) {
        ComponentSets::split(self, graph, dirty);
    }

    fn count(&self) -> usize {
        ComponentSets::count(self)
    }

    fn largest(&self) -> usize {
        self.roots().map(|(_, size)| size).max().unwrap_or(0)
    }
}

/// The hand-written union-find `ConnectedComponents` used before petgraph's: each root's
/// member list and smallest id, re-scanned by member list on deletes.
#[derive(Default)]
struct HandWritten {
    parent: Vec<u32>,
    members: Vec<Vec<u32>>,
    min_id: Vec<u64>,
    count: usize,
    live: Vec<bool>,
}

impl HandWritten {
    fn find(&mut self, mut x: u32) -> u32 {
        let mut root = x;
        while self.parent[root as usize] != root {
            root = self.parent[root as usize];
        }
        while self.parent[x as usize] != root {
            let next = self.parent[x as usize];
            self.parent[x as usize] = root;
            x = next;
        }
        root
    }

    fn rescan(&mut self, graph: &Undirected, root: u32) {
        let members = std::mem::take(&mut self.members[root as usize]);
        self.count -= 1;
        for &x in &members {
            self.parent[x as usize] = x;
            self.live[x as usize] = false;
        }
        for &x in &members {
            if graph.is_live(x) {
                self.add(x, graph.id(x));
            }
        }
        for &x in &members {
            if graph.is_live(x) {
                graph.for_each_neighbor(x, |y| {
                    if x < y {
                        self.union(x, y);
                    }
                });
            }
        }
    }
}

impl Tracker for HandWritten {
    fn add(&mut self, i: u32, id: u64) {
        let n = i as usize + 1;
        if self.parent.len() < n {
            self.parent.resize(n, 0);
            self.members.resize_with(n, Vec::new);
            self.min_id.resize(n, 0);
            self.live.resize(n, false);
        }
        self.parent[i as usize] = i;
        self.members[i as usize] = vec![i];
        self.min_id[i as usize] = id;
        self.live[i as usize] = true;
        self.count += 1;
    }

    fn union(&mut self, a: u32, b: u32) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra == rb {
            return;
        }
        let (big, small) = if self.members[ra as usize].len() >= self.members[rb as usize].len() {
            (ra, rb)
        } else {
            (rb, ra)
        };
        self.parent[small as usize] = big;
        let moved = std::mem::take(&mut self.members[small as usize]);
        self.members[big as usize].extend(moved);
        self.min_id[big as usize] = self.min_id[big as usize].min(self.min_id[small as usize]);
        self.count -= 1;
    }

    fn split(&mut self, graph: &Undirected, dirty: &[u32]) {
        let mut roots: Vec<u32> = dirty.iter().map(|&d| self.find(d)).collect();
        roots.sort_unstable();
        roots.dedup();
        for root in roots {
            self.rescan(graph, root);
        }
    }

    fn count(&self) -> usize {
        self.count
    }

    fn largest(&self) -> usize {
        (0..self.parent.len())
            .filter(|&i| self.live[i] && self.parent[i] == i as u32)
            .map(|i| self.members[i].len())
            .max()
            .unwrap_or(0)
    }
}

/// Replays `batches` through a graph and a tracker: time, and `(components, largest)` after
/// every batch.
fn replay<T: Tracker>(batches: &[Vec<EdgeEvent>]) -> (Duration, Vec<(usize, usize)>) {
    let started = Instant::now();
    let mut graph = Undirected::default();
    let mut sets = T::default();
    let (mut dirty, mut released) = (Vec::new(), Vec::new());
    let mut out = Vec::with_capacity(batches.len());
    for batch in batches {
        dirty.clear();
        graph.apply(batch, &mut released, |change| match change {
            Change::NodeAdded(s, id) => sets.add(s, id),
            Change::PairAdded(u, v) => sets.union(u, v),
            Change::PairRemoved(u, v) => dirty.extend([u, v]),
        });
        dirty.extend_from_slice(&released);
        if !dirty.is_empty() {
            sets.split(&graph, &dirty);
        }
        out.push((sets.count(), sets.largest()));
    }
    black_box(graph.capacity());
    (started.elapsed(), out)
}

fn replay_crate(batches: &[Vec<EdgeEvent>]) -> (Duration, Vec<(usize, usize)>) {
    let started = Instant::now();
    let mut cc = ConnectedComponents::params().build().expect("valid");
    let out = batches
        .iter()
        .map(|b| {
            let r = cc.update(b);
            (r.components, r.largest)
        })
        .collect();
    (started.elapsed(), out)
}

/// The stream in batches of [`BATCH`] inserts; with a window, each batch is preceded by the
/// expiry of the batch [`WINDOW`] batches older (the events `EdgeWindow` emits).
fn batches(edges: &[(u64, u64)], window: bool) -> Vec<Vec<EdgeEvent>> {
    let mut w = EdgeWindow::new(WINDOW).expect("valid");
    edges
        .chunks(BATCH)
        .map(|chunk| {
            let inserts: Vec<EdgeEvent> = chunk
                .iter()
                .map(|&(u, v)| EdgeEvent::insert(u, v))
                .collect();
            if window {
                let mut out = Vec::new();
                w.advance(&inserts, &mut out);
                out
            } else {
                inserts
            }
        })
        .collect()
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn main() {
    // `cargo bench` passes `--bench`; this binary takes no other arguments.
    let rounds: usize = std::env::var("SPATE_BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(7);
    let mut streams: Vec<(&str, Vec<(u64, u64)>)> = temporal_edge_streams()
        .into_iter()
        .map(|s| (s.name, s.edges.iter().map(|e| (e.src, e.dst)).collect()))
        .collect();
    let epinions = EdgeListFormat::new()
        .read_path(datasets().join("soc-Epinions1.txt.gz"))
        .expect("the bundled soc-Epinions1");
    streams.push((
        "soc-Epinions1",
        epinions.edges.iter().map(|e| (e.src, e.dst)).collect(),
    ));
    println!(
        "## Connected components: petgraph UnionFind vs hand-written ({rounds} rounds, median)"
    );
    println!();
    println!(
        "| stream | edges | window | hand-written ms | petgraph ms | petgraph / hand-written | ConnectedComponents ms |"
    );
    println!("|---|---:|---|---:|---:|---:|---:|");
    for (name, edges) in &streams {
        for window in [false, true] {
            let batches = batches(edges, window);
            let (mut hand, mut pet, mut whole, mut ratio) = (vec![], vec![], vec![], vec![]);
            for round in 0..rounds {
                let (h, p) = if round % 2 == 0 {
                    let h = replay::<HandWritten>(&batches);
                    (h, replay::<ComponentSets>(&batches))
                } else {
                    let p = replay::<ComponentSets>(&batches);
                    (replay::<HandWritten>(&batches), p)
                };
                let c = replay_crate(&batches);
                assert_eq!(h.1, p.1, "{name}: the trackers disagree");
                assert_eq!(h.1, c.1, "{name}: ConnectedComponents disagrees");
                let (h, p, c) = (h.0.as_secs_f64(), p.0.as_secs_f64(), c.0.as_secs_f64());
                hand.push(h * 1e3);
                pet.push(p * 1e3);
                whole.push(c * 1e3);
                ratio.push(p / h);
            }
            println!(
                "| {name} | {} | {} | {:.2} | {:.2} | {:.2} | {:.2} |",
                edges.len(),
                if window {
                    format!("{WINDOW} batches")
                } else {
                    "none".into()
                },
                median(hand),
                median(pet),
                median(ratio),
                median(whole),
            );
        }
    }
}
