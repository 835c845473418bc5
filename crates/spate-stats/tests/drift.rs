//! ADWIN and Page-Hinkley on synthetic streams with a known change point.

use crate::common::rng;
use rand_distr::{Distribution, Normal};
use spate_stats::{Adwin, Direction, PageHinkley};

const SEEDS: u64 = 20;
const CHANGE_AT: usize = 5000;

/// N(0, 1) for `CHANGE_AT` values, then N(shift, 1).
fn stream(seed: u64, len: usize, shift: f64) -> Vec<f64> {
    let before = Normal::new(0.0, 1.0).unwrap();
    let after = Normal::new(shift, 1.0).unwrap();
    let mut r = rng(seed);
    (0..len)
        .map(|i| {
            if i < CHANGE_AT {
                before.sample(&mut r)
            } else {
                after.sample(&mut r)
            }
        })
        .collect()
}

/// Detection delays (None = missed or only a false alarm before the change) over the seeds.
fn delays(mut detector: impl FnMut(&[f64]) -> Vec<u64>, shift: f64) -> (Vec<Option<u64>>, usize) {
    let mut early = 0;
    let mut out = Vec::new();
    for seed in 0..SEEDS {
        let xs = stream(seed, CHANGE_AT + 2000, shift);
        let found = detector(&xs);
        early += found.iter().filter(|&&p| (p as usize) < CHANGE_AT).count();
        out.push(
            found
                .iter()
                .find(|&&p| p as usize >= CHANGE_AT)
                .map(|&p| p - CHANGE_AT as u64),
        );
    }
    (out, early)
}

fn adwin_positions(xs: &[f64]) -> Vec<u64> {
    let mut a = Adwin::params().build().unwrap();
    let mut found = Vec::new();
    for batch in xs.chunks(100) {
        let r = a.update(batch);
        if r.detections > 0 {
            found.extend(r.last_position);
        }
    }
    found
}

fn page_hinkley_positions(xs: &[f64]) -> Vec<u64> {
    let mut p = PageHinkley::params()
        .delta(0.5)
        .threshold(50.0)
        .build()
        .unwrap();
    let mut found = Vec::new();
    for (i, &x) in xs.iter().enumerate() {
        if p.step(x) {
            found.push(i as u64);
        }
    }
    found
}

#[test]
fn adwin_detects_a_one_sigma_shift_within_150_values() {
    // Observed: first detection 56 or 88 values after the change (checks run every 32).
    let (d, early) = delays(adwin_positions, 1.0);
    assert_eq!(early, 0);
    for (seed, delay) in d.iter().enumerate() {
        assert!(
            delay.is_some_and(|x| x <= 150),
            "seed {seed}: delay {delay:?}"
        );
    }
}

#[test]
fn page_hinkley_detects_shifts_both_ways_within_200_values() {
    // Observed: 65 to 155 values after the change.
    for shift in [1.0, -1.0] {
        let (d, early) = delays(page_hinkley_positions, shift);
        assert_eq!(early, 0);
        for (seed, delay) in d.iter().enumerate() {
            assert!(
                delay.is_some_and(|x| x <= 200),
                "shift {shift} seed {seed}: {delay:?}"
            );
        }
    }
}

#[test]
fn false_alarms_on_stationary_streams() {
    let mut adwin_alarms = 0;
    let mut ph_alarms = 0;
    for seed in 100..100 + SEEDS {
        let xs = stream(seed, 100_000, 0.0);
        adwin_alarms += usize::from(!adwin_positions(&xs).is_empty());
        ph_alarms += page_hinkley_positions(&xs).len();
    }
    // 20 seeds × 10^5 N(0, 1) values: observed 0 alarms for both detectors.
    assert_eq!(
        adwin_alarms, 0,
        "ADWIN raised alarms on {adwin_alarms} of {SEEDS} streams"
    );
    assert_eq!(ph_alarms, 0);
}

#[test]
fn non_finite_values_are_skipped() {
    let mut a = Adwin::params().build().unwrap();
    let mut p = PageHinkley::params()
        .direction(Direction::Up)
        .build()
        .unwrap();
    let xs = [1.0, f64::NAN, f64::INFINITY, 2.0];
    assert_eq!(a.update(&xs).detections, 0);
    assert_eq!(p.update(&xs).detections, 0);
    assert_eq!((a.skipped_non_finite(), p.skipped_non_finite()), (2, 2));
    assert_eq!(a.width(), 2);
    assert!(Adwin::params().delta(0.0).build().is_err());
    assert!(PageHinkley::params().threshold(0.0).build().is_err());
}
