//! The dependency graph between transactions: edges of four kinds, stored by source
//! (compressed rows), its strongly connected components (Tarjan's algorithm without recursion,
//! so a history of millions of transactions cannot overflow the stack), and a shortest cycle
//! through a given edge using only edges of allowed kinds (breadth-first, inside the edge's
//! component).

/// Why one transaction must come before another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dep {
    /// Write-write: its append to the key comes right before the other's.
    Ww,
    /// Write-read: the other read the state its append made.
    Wr,
    /// Read-write (anti-dependency): it read the key without the other's next append.
    Rw,
    /// Real time: it completed before the other was invoked.
    Rt,
}

impl Dep {
    fn bit(self) -> u8 {
        match self {
            Dep::Ww => 1,
            Dep::Wr => 2,
            Dep::Rw => 4,
            Dep::Rt => 8,
        }
    }
}

/// A set of dependency kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deps(u8);

impl Deps {
    pub const WW: Deps = Deps(1);
    pub const WW_WR: Deps = Deps(1 | 2);
    pub const NO_RT: Deps = Deps(1 | 2 | 4);
    pub const ALL: Deps = Deps(1 | 2 | 4 | 8);

    pub fn has(self, d: Dep) -> bool {
        self.0 & d.bit() != 0
    }
}

/// One edge, with the key and value that explain it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Edge {
    pub from: u32,
    pub to: u32,
    pub dep: Dep,
    pub key: u32,
    pub value: u32,
}

/// Edges grouped by their source.
pub struct Graph {
    offsets: Vec<u32>,
    edges: Vec<Edge>,
}

impl Graph {
    /// A graph of `nodes` transactions (edges out of range are dropped).
    pub fn new(nodes: usize, mut edges: Vec<Edge>) -> Self {
        edges.retain(|e| (e.from as usize) < nodes && (e.to as usize) < nodes && e.from != e.to);
        edges.sort_unstable_by_key(|e| (e.from, e.to));
        edges.dedup_by(|a, b| a.from == b.from && a.to == b.to && a.dep == b.dep);
        let mut offsets = vec![0u32; nodes + 1];
        for e in &edges {
            offsets[e.from as usize + 1] += 1;
        }
        for i in 0..nodes {
            offsets[i + 1] += offsets[i];
        }
        Self { offsets, edges }
    }

    pub fn nodes(&self) -> usize {
        self.offsets.len() - 1
    }

    pub fn out(&self, n: u32) -> &[Edge] {
        let i = n as usize;
        &self.edges[self.offsets[i] as usize..self.offsets[i + 1] as usize]
    }

    /// The strongly connected components of more than one transaction, over edges of `deps`.
    pub fn components(&self, deps: Deps) -> Vec<Vec<u32>> {
        const NONE: u32 = u32::MAX;
        let n = self.nodes();
        let mut index = vec![NONE; n];
        let mut low = vec![0u32; n];
        let mut on_stack = vec![false; n];
        let mut stack: Vec<u32> = vec![];
        // The depth-first path: a node and how far through its edges it is.
        let mut path: Vec<(u32, usize)> = vec![];
        let mut next = 0u32;
        let mut out = vec![];
        for root in 0..n as u32 {
            if index[root as usize] != NONE {
                continue;
            }
            path.push((root, 0));
            index[root as usize] = next;
            low[root as usize] = next;
            next += 1;
            stack.push(root);
            on_stack[root as usize] = true;
            while let Some(&(v, at)) = path.last() {
                let edges = self.out(v);
                let mut i = at;
                while i < edges.len() && !deps.has(edges[i].dep) {
                    i += 1;
                }
                if let Some(e) = edges.get(i) {
                    if let Some(top) = path.last_mut() {
                        top.1 = i + 1;
                    }
                    let w = e.to as usize;
                    if index[w] == NONE {
                        index[w] = next;
                        low[w] = next;
                        next += 1;
                        stack.push(e.to);
                        on_stack[w] = true;
                        path.push((e.to, 0));
                    } else if on_stack[w] {
                        low[v as usize] = low[v as usize].min(index[w]);
                    }
                    continue;
                }
                path.pop();
                if let Some(&(parent, _)) = path.last() {
                    low[parent as usize] = low[parent as usize].min(low[v as usize]);
                }
                if low[v as usize] == index[v as usize] {
                    let mut component = vec![];
                    while let Some(w) = stack.pop() {
                        on_stack[w as usize] = false;
                        component.push(w);
                        if w == v {
                            break;
                        }
                    }
                    if component.len() > 1 {
                        component.sort_unstable();
                        out.push(component);
                    }
                }
            }
        }
        out
    }
}

/// Breadth-first searches inside one component, reusing their buffers.
pub struct Search<'g> {
    graph: &'g Graph,
    /// Which component each transaction is in (the searched one is marked with its stamp).
    mark: Vec<u32>,
    stamp: u32,
    seen: Vec<u32>,
    parent: Vec<u32>,
    generation: u32,
}

impl<'g> Search<'g> {
    pub fn new(graph: &'g Graph) -> Self {
        let n = graph.nodes();
        Self {
            graph,
            mark: vec![0; n],
            stamp: 0,
            seen: vec![0; n],
            parent: vec![u32::MAX; n],
            generation: 0,
        }
    }

    /// Searches inside `component` from now on.
    pub fn within(&mut self, component: &[u32]) {
        self.stamp += 1;
        for &t in component {
            self.mark[t as usize] = self.stamp;
        }
    }

    /// A shortest cycle that starts with `first` and goes back from its target to its source
    /// through edges of `deps` inside the component; its edges in order.
    pub fn cycle(&mut self, first: &Edge, deps: Deps) -> Option<Vec<Edge>> {
        let path = self.path(first.to, first.from, deps)?;
        let mut cycle = vec![*first];
        cycle.extend(path);
        Some(cycle)
    }

    /// A shortest path from `from` to `to` through edges of `deps` inside the component.
    fn path(&mut self, from: u32, to: u32, deps: Deps) -> Option<Vec<Edge>> {
        self.generation += 1;
        let g = self.generation;
        let mut queue = std::collections::VecDeque::from([from]);
        self.seen[from as usize] = g;
        while let Some(v) = queue.pop_front() {
            if v == to {
                let mut edges = vec![];
                let mut at = to;
                while at != from {
                    let e = self.graph.out(self.parent[at as usize]).iter().find(|e| {
                        e.to == at && deps.has(e.dep) && self.mark[e.from as usize] == self.stamp
                    })?;
                    edges.push(*e);
                    at = e.from;
                }
                edges.reverse();
                return Some(edges);
            }
            for e in self.graph.out(v) {
                let w = e.to as usize;
                if deps.has(e.dep) && self.mark[w] == self.stamp && self.seen[w] != g {
                    self.seen[w] = g;
                    self.parent[w] = v;
                    queue.push_back(e.to);
                }
            }
        }
        None
    }
}
