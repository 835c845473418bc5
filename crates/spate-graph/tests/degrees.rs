//! Degree statistics against recomputation from the reference graph.

use crate::common::{Reference, StreamShape, random_stream};
use spate_graph::{DegreeKind, DegreeStats};
use std::collections::BTreeMap;

#[test]
fn distributions_and_top_k_after_every_batch() {
    let shape = StreamShape {
        nodes: 60,
        batches: 40,
        batch: 25,
        delete: 0.35,
        weighted: true,
    };
    check(
        DegreeStats::params().build().expect("valid"),
        random_stream(31, shape),
        None,
    );
}

#[test]
fn windowed_distributions() {
    let shape = StreamShape {
        nodes: 60,
        batches: 40,
        batch: 25,
        delete: 0.0,
        weighted: true,
    };
    let d = DegreeStats::params()
        .window_batches(15)
        .build()
        .expect("valid");
    check(d, random_stream(32, shape), Some(15));
}

fn check(mut d: DegreeStats, batches: Vec<Vec<spate_graph::EdgeEvent>>, window: Option<usize>) {
    let mut reference = Reference::default();
    for (i, batch) in batches.iter().enumerate() {
        d.update(batch);
        match window {
            None => reference.apply(batch),
            Some(w) => {
                reference = Reference::default();
                for b in &batches[i.saturating_sub(w - 1)..=i] {
                    reference.apply(b);
                }
            }
        }
        let mut din: BTreeMap<u64, usize> = BTreeMap::new();
        let mut dout: BTreeMap<u64, usize> = BTreeMap::new();
        let mut strength: BTreeMap<u64, f64> = BTreeMap::new();
        for (&(u, v), &(_, w)) in &reference.edges {
            *dout.entry(u).or_default() += 1;
            din.entry(u).or_default();
            *din.entry(v).or_default() += 1;
            dout.entry(v).or_default();
            *strength.entry(u).or_default() += w;
        }
        for kind in [DegreeKind::In, DegreeKind::Out, DegreeKind::Total] {
            let degree = |n: u64| match kind {
                DegreeKind::In => din[&n],
                DegreeKind::Out => dout[&n],
                DegreeKind::Total => din[&n] + dout[&n],
            };
            let mut hist: BTreeMap<usize, u64> = BTreeMap::new();
            for &n in din.keys() {
                *hist.entry(degree(n)).or_default() += 1;
                assert_eq!(d.degree(n, kind), degree(n));
            }
            assert_eq!(
                d.distribution(kind),
                hist.into_iter().collect::<Vec<_>>(),
                "batch {i}"
            );
            let mut all: Vec<(u64, usize)> = din.keys().map(|&n| (n, degree(n))).collect();
            all.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            all.truncate(5);
            assert_eq!(d.top_k(5, kind), all);
        }
        for (&n, &s) in &strength {
            assert!((d.out_strength(n) - s).abs() < 1e-9);
        }
    }
}
