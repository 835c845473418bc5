//! The components of a dynamic undirected graph as disjoint sets: petgraph's union-find
//! merges them when a pair appears, a search of the affected components splits them when a
//! pair or a node disappears.
//!
//! Self-contained (it knows graphs only through [`Adjacency`]), so that the benchmark that
//! chose it over a hand-written union-find with member lists can compile this very file.

use petgraph::unionfind::UnionFind;

/// What the sets need to know of the graph: which dense slots hold a node, their ids, and
/// their neighbours.
pub(crate) trait Adjacency {
    /// Whether `slot` holds a node.
    fn is_live(&self, slot: u32) -> bool;
    /// The id of the node at a live `slot`.
    fn id(&self, slot: u32) -> u64;
    /// Calls `f` on every neighbour of the node at a live `slot`.
    fn for_each_neighbor(&self, slot: u32, f: impl FnMut(u32));
}

/// Disjoint sets of dense node slots, one per component.
///
/// A slot maps to a set element; all the nodes of a component found by a search share one
/// element, and a merge joins two elements in petgraph's [`UnionFind`] (union by rank, path
/// halving). A component that loses a pair or a node is searched again from the nodes that
/// lost something: each part found gets one fresh element, and the old elements become
/// garbage, reclaimed by a compaction when they outnumber the nodes.
#[derive(Clone, Debug, Default)]
pub(crate) struct ComponentSets {
    sets: UnionFind<u32>,
    /// The element of every slot (stale for free slots).
    element: Vec<u32>,
    /// Per element: nodes in the component at a root, 0 elsewhere (merged into another root,
    /// or garbage), so the roots of live components are the elements of non-zero size.
    size: Vec<u32>,
    /// Per element, read at roots only: the smallest node id of the component.
    label: Vec<u64>,
    components: usize,
    /// Search marks per slot, and the current search round.
    reached: Vec<u64>,
    round: u64,
    queue: Vec<u32>,
}

/// The work of one [`ComponentSets::split`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct SplitWork {
    /// Components searched again.
    pub(crate) components: usize,
    /// Nodes those searches reached.
    pub(crate) nodes: usize,
}

impl ComponentSets {
    /// Number of components.
    pub(crate) fn count(&self) -> usize {
        self.components
    }

    fn new_element(&mut self, size: u32, label: u64) -> u32 {
        let e = self.sets.new_set();
        self.size.push(size);
        self.label.push(label);
        e
    }

    /// A node entered the graph at `slot`: a component of its own.
    pub(crate) fn add(&mut self, slot: u32, id: u64) {
        let e = self.new_element(1, id);
        let i = slot as usize;
        if self.element.len() <= i {
            self.element.resize(i + 1, 0);
            self.reached.resize(i + 1, 0);
        }
        self.element[i] = e;
        self.components += 1;
    }

    /// The nodes at `a` and `b` are joined by a pair: merge their components.
    pub(crate) fn union(&mut self, a: u32, b: u32) {
        let ra = self.sets.find_mut(self.element[a as usize]);
        let rb = self.sets.find_mut(self.element[b as usize]);
        if ra == rb {
            return;
        }
        self.sets.union(ra, rb);
        let (root, other) = if self.sets.find_mut(ra) == ra {
            (ra, rb)
        } else {
            (rb, ra)
        };
        let (r, o) = (root as usize, other as usize);
        self.size[r] += std::mem::take(&mut self.size[o]);
        self.label[r] = self.label[r].min(self.label[o]);
        self.components -= 1;
    }

    /// The root element of the component of the node at `slot`.
    fn root(&self, slot: u32) -> u32 {
        self.sets.find(self.element[slot as usize])
    }

    /// The smallest node id of the component of the node at `slot`.
    pub(crate) fn label_of(&self, slot: u32) -> u64 {
        self.label[self.root(slot) as usize]
    }

    /// A key shared by the nodes of one component and no other (valid until the next change).
    pub(crate) fn key_of(&self, slot: u32) -> u32 {
        self.root(slot)
    }

    /// `(label, size)` of every component, in no particular order: a scan of the elements
    /// (O(nodes), garbage included, which compaction keeps below twice the nodes).
    pub(crate) fn roots(&self) -> impl Iterator<Item = (u64, usize)> + '_ {
        self.size
            .iter()
            .zip(&self.label)
            .filter(|&(&size, _)| size > 0)
            .map(|(&size, &label)| (label, size as usize))
    }

    /// Make the sets exact again after pairs or nodes disappeared: `dirty` holds every slot
    /// that lost a pair or left the graph in the changes since the sets were last exact
    /// (merges included). Each stale component holding a dirty slot is dropped, and the
    /// components of the dirty slots still in the graph are searched anew.
    ///
    /// Why that suffices: every pair of `graph` joins two slots of one stale component (a
    /// pair either predates the changes, or was merged when it appeared), so each new
    /// component lies inside one stale component; and a new component strictly inside a
    /// stale one is cut off from the rest of it by a vanished pair, so holds a dirty slot.
    ///
    /// Cost: O(nodes + pairs) of the new components reached, plus O(nodes) for a compaction
    /// when garbage elements outnumber the nodes (amortized O(1) per element created).
    pub(crate) fn split(&mut self, graph: &impl Adjacency, dirty: &[u32]) -> SplitWork {
        let mut stale: Vec<u32> = dirty
            .iter()
            .map(|&d| self.sets.find_mut(self.element[d as usize]))
            .collect();
        stale.sort_unstable();
        stale.dedup();
        for &r in &stale {
            self.size[r as usize] = 0;
        }
        self.components -= stale.len();
        self.round += 1;
        let mut nodes = 0;
        for &d in dirty {
            if graph.is_live(d) && self.reached[d as usize] != self.round {
                nodes += self.search(graph, d);
            }
        }
        if self.sets.len() > 2 * self.element.len() + 64 {
            self.compact(graph);
        }
        SplitWork {
            components: stale.len(),
            nodes,
        }
    }

    /// Sets from scratch: one element per component of `graph`, found by search. O(n + m).
    pub(crate) fn rebuild(&mut self, graph: &impl Adjacency, capacity: usize) {
        *self = ComponentSets {
            element: vec![0; capacity],
            reached: vec![0; capacity],
            round: 1,
            ..ComponentSets::default()
        };
        for slot in 0..capacity as u32 {
            if graph.is_live(slot) && self.reached[slot as usize] != self.round {
                self.search(graph, slot);
            }
        }
    }

    /// Gives the component of `start` a fresh element of its own; returns its size.
    fn search(&mut self, graph: &impl Adjacency, start: u32) -> usize {
        let mut queue = std::mem::take(&mut self.queue);
        queue.clear();
        queue.push(start);
        self.reached[start as usize] = self.round;
        let mut next = 0;
        let mut label = u64::MAX;
        while next < queue.len() {
            let x = queue[next];
            next += 1;
            label = label.min(graph.id(x));
            let (reached, round) = (&mut self.reached, self.round);
            graph.for_each_neighbor(x, |y| {
                if reached[y as usize] != round {
                    reached[y as usize] = round;
                    queue.push(y);
                }
            });
        }
        let e = self.new_element(queue.len() as u32, label);
        for &x in &queue {
            self.element[x as usize] = e;
        }
        self.components += 1;
        let size = queue.len();
        self.queue = queue;
        size
    }

    /// Drops garbage elements: every component becomes one element again.
    fn compact(&mut self, graph: &impl Adjacency) {
        let mut renamed = vec![u32::MAX; self.sets.len()];
        let mut size = Vec::with_capacity(self.components);
        let mut label = Vec::with_capacity(self.components);
        for slot in 0..self.element.len() as u32 {
            if !graph.is_live(slot) {
                continue;
            }
            let r = self.sets.find_mut(self.element[slot as usize]) as usize;
            if renamed[r] == u32::MAX {
                renamed[r] = size.len() as u32;
                size.push(self.size[r]);
                label.push(self.label[r]);
            }
            self.element[slot as usize] = renamed[r];
        }
        self.sets = UnionFind::new(size.len());
        self.size = size;
        self.label = label;
    }
}
