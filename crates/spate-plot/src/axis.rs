//! Axis scales, ranges and tick marks.
//!
//! Data are mapped to a linear "plot space" (log10 of the value on a log axis) and plotters
//! draws that space with tick positions and labels computed here: [`AxisLayout`] is itself
//! the plotters coordinate, so every scale shares one coordinate type and the ticks are
//! always at round values of the original data.

use std::ops::Range;

use plotters::coord::ranged1d::{KeyPointHint, NoDefaultFormatting, Ranged, ValueFormatter};

use crate::error::PlotError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Scale {
    #[default]
    Linear,
    Log10,
}

impl Scale {
    /// Plot-space position of a finite value, or `None` when a log axis cannot show it.
    pub(crate) fn forward(self, v: f64) -> Option<f64> {
        match self {
            Scale::Linear => Some(v),
            Scale::Log10 if v > 0.0 => Some(v.log10()),
            Scale::Log10 => None,
        }
    }

    fn inverse(self, v: f64) -> f64 {
        match self {
            Scale::Linear => v,
            Scale::Log10 => 10f64.powf(v),
        }
    }
}

/// How one axis was configured by the user.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct AxisConfig {
    pub(crate) scale: Scale,
    pub(crate) range: Option<(f64, f64)>,
    /// Only whole numbers are labelled (batch numbers, counts): no tick at 2.5.
    pub(crate) integer: bool,
}

impl AxisConfig {
    /// Rejects an explicit range that cannot be drawn on this axis.
    pub(crate) fn check(&self, axis: &'static str) -> Result<(), PlotError> {
        if let Some((lo, hi)) = self.range {
            let ok = lo.is_finite()
                && hi.is_finite()
                && lo < hi
                && (self.scale == Scale::Linear || lo > 0.0);
            if !ok {
                return Err(PlotError::InvalidRange { axis, lo, hi });
            }
        }
        Ok(())
    }
}

/// The plot-space extent of the data on one axis.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Extent {
    lo: f64,
    hi: f64,
}

impl Extent {
    pub(crate) fn empty() -> Self {
        Extent {
            lo: f64::INFINITY,
            hi: f64::NEG_INFINITY,
        }
    }

    pub(crate) fn add(&mut self, v: f64) {
        self.lo = self.lo.min(v);
        self.hi = self.hi.max(v);
    }
}

/// A resolved axis: plot-space range, tick positions and the labels to print at them.
#[derive(Debug, Clone)]
pub(crate) struct AxisLayout {
    pub(crate) lo: f64,
    pub(crate) hi: f64,
    pub(crate) scale: Scale,
    /// Ticks with a label and a grid line.
    pub(crate) major: Vec<f64>,
    /// Unlabelled faint grid lines between the major ticks.
    pub(crate) minor: Vec<f64>,
    /// Decimal places for linear labels; `None` means scientific notation.
    decimals: Option<usize>,
}

impl AxisLayout {
    /// Lays out an axis over the data `extent` (which must hold at least one value), widened
    /// on both sides by `pad` × span, unless the configuration fixes the range.
    /// `target_ticks` is the number of labelled ticks to aim for.
    pub(crate) fn new(config: &AxisConfig, extent: Extent, pad: f64, target_ticks: usize) -> Self {
        let scale = config.scale;
        let (lo, hi) = match config.range {
            Some((lo, hi)) => match (scale.forward(lo), scale.forward(hi)) {
                (Some(lo), Some(hi)) => (lo, hi),
                // `AxisConfig::check` rejected these ranges already.
                _ => (extent.lo, extent.hi),
            },
            None => {
                let (lo, hi) = widen_degenerate(extent.lo, extent.hi, scale);
                let span = hi - lo;
                (finite(lo - pad * span), finite(hi + pad * span))
            }
        };
        let (lo, hi) = widen_degenerate(lo, hi, scale);
        let target = target_ticks.max(2);
        match scale {
            Scale::Linear => {
                let ticks = if config.integer {
                    LinearTicks::integer(lo, hi, target)
                } else {
                    LinearTicks::new(lo, hi, target)
                };
                AxisLayout {
                    lo,
                    hi,
                    scale,
                    major: ticks.major,
                    minor: ticks.minor,
                    decimals: ticks.decimals,
                }
            }
            Scale::Log10 => {
                let (major, minor) = log_ticks(lo, hi, target);
                AxisLayout {
                    lo,
                    hi,
                    scale,
                    major,
                    minor,
                    decimals: None,
                }
            }
        }
    }

    /// The text printed at plot-space position `v`.
    pub(crate) fn label(&self, v: f64) -> String {
        match self.scale {
            Scale::Linear => match self.decimals {
                Some(d) => {
                    let s = format!("{v:.d$}");
                    // "-0.0" reads as a different value from its neighbours' "0.0".
                    if s.starts_with('-') && s[1..].chars().all(|c| c == '0' || c == '.') {
                        s[1..].to_string()
                    } else {
                        s
                    }
                }
                None => format_general(v),
            },
            Scale::Log10 => format_general(self.scale.inverse(v)),
        }
    }
}

impl Ranged for AxisLayout {
    type FormatOption = NoDefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, (from, to): (i32, i32)) -> i32 {
        let t = (value - self.lo) / (self.hi - self.lo);
        // Far-off points (a fixed range cuts them) must not overflow the pixel type.
        let px = from as f64 + t.clamp(-10.0, 11.0) * (to - from) as f64;
        px.round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            self.minor.clone()
        } else {
            self.major.clone()
        }
    }

    fn range(&self) -> Range<f64> {
        self.lo..self.hi
    }
}

impl ValueFormatter<f64> for AxisLayout {
    fn format_ext(&self, value: &f64) -> String {
        self.label(*value)
    }
}

/// Gives an empty or (relative to its magnitude) vanishing range a visible width.
fn widen_degenerate(lo: f64, hi: f64, scale: Scale) -> (f64, f64) {
    if !(lo.is_finite() && hi.is_finite()) {
        return (0.0, 1.0);
    }
    let mid = 0.5 * (lo + hi);
    if hi - lo > mid.abs() * 1e-12 && hi > lo {
        return (lo, hi);
    }
    let half = match scale {
        Scale::Log10 => 0.5,
        Scale::Linear if mid == 0.0 => 1.0,
        Scale::Linear => mid.abs() * 0.1,
    };
    (finite(mid - half), finite(mid + half))
}

/// Keeps padding around values near ±f64::MAX from overflowing to infinity.
fn finite(v: f64) -> f64 {
    v.clamp(-f64::MAX, f64::MAX)
}

struct LinearTicks {
    major: Vec<f64>,
    minor: Vec<f64>,
    decimals: Option<usize>,
}

impl LinearTicks {
    fn new(lo: f64, hi: f64, target: usize) -> Self {
        let (mut step, mut mantissa) = nice_step((hi - lo) / target as f64);
        let mut major = multiples(lo, hi, step);
        // The nice step just above the raw one can leave too few labels (span 8.8 with 4
        // wanted: a raw step of 2.2 rounds up to 5, and only "5" falls inside); take smaller
        // nice steps until at least half the wanted labels show.
        for _ in 0..3 {
            if major.len() >= (target / 2).max(2) {
                break;
            }
            (step, mantissa) = smaller_nice_step(step, mantissa);
            major = multiples(lo, hi, step);
        }
        let minor_step = if mantissa == 2.0 {
            step / 4.0
        } else {
            step / 5.0
        };
        let minor = multiples(lo, hi, minor_step);
        let max_abs = lo.abs().max(hi.abs());
        let step_exp = (step.log10() + 1e-9).floor();
        let decimals = if max_abs >= 1e6 || step < 1e-4 {
            None
        } else {
            Some((-step_exp).max(0.0) as usize)
        };
        LinearTicks {
            major,
            minor,
            decimals,
        }
    }
}

impl LinearTicks {
    /// Ticks at whole numbers only: a step of at least 1, minor ticks at whole numbers too.
    fn integer(lo: f64, hi: f64, target: usize) -> Self {
        let ticks = LinearTicks::new(lo, hi, target);
        let step = ticks
            .major
            .windows(2)
            .map(|w| w[1] - w[0])
            .next()
            .unwrap_or(1.0);
        if step >= 1.0 {
            let minor = ticks
                .minor
                .into_iter()
                .filter(|v| v.fract() == 0.0)
                .collect();
            return LinearTicks {
                major: ticks.major,
                minor,
                decimals: ticks.decimals.map(|_| 0),
            };
        }
        LinearTicks {
            major: multiples(lo, hi, 1.0),
            minor: Vec::new(),
            decimals: Some(0),
        }
    }
}

/// The step of the form {1, 2, 5} × 10^k closest above `raw`, and its mantissa.
fn nice_step(raw: f64) -> (f64, f64) {
    let raw = if raw.is_finite() && raw > 0.0 {
        raw
    } else {
        1.0
    };
    let magnitude = 10f64.powf((raw.log10() + 1e-9).floor());
    let m = raw / magnitude;
    // The slack keeps a raw step of exactly 0.1 (stored as 0.1000…06) from rounding up to 0.2.
    let mantissa = if m <= 1.0 + 1e-9 {
        1.0
    } else if m <= 2.0 + 1e-9 {
        2.0
    } else if m <= 5.0 + 1e-9 {
        5.0
    } else {
        10.0
    };
    let mantissa_norm = if mantissa == 10.0 { 1.0 } else { mantissa };
    (mantissa * magnitude, mantissa_norm)
}

/// The nice step below `step` (of mantissa 1, 2 or 5): 5 → 2, 2 → 1, 1 → 0.5.
fn smaller_nice_step(step: f64, mantissa: f64) -> (f64, f64) {
    if mantissa == 5.0 {
        (step / 5.0 * 2.0, 2.0)
    } else if mantissa == 2.0 {
        (step / 2.0, 1.0)
    } else {
        (step / 2.0, 5.0)
    }
}

/// Multiples of `step` inside [lo, hi], computed as i × step so that labels are exact.
fn multiples(lo: f64, hi: f64, step: f64) -> Vec<f64> {
    let first = (lo / step - 1e-9).ceil();
    let last = (hi / step + 1e-9).floor();
    if !(first.is_finite() && last.is_finite()) || last < first || last - first > 10_000.0 {
        return Vec::new();
    }
    (0..=(last - first) as i64)
        .map(|i| (first + i as f64) * step)
        .collect()
}

/// Ticks for a log axis in plot space (log10 units).
fn log_ticks(lo: f64, hi: f64, target: usize) -> (Vec<f64>, Vec<f64>) {
    let span = hi - lo;
    if span < 1.0 {
        // Less than a decade: round values of the data themselves read better than powers.
        let (vlo, vhi) = (10f64.powf(lo), 10f64.powf(hi));
        let ticks = LinearTicks::new(vlo, vhi, target.min(5));
        let to_plot = |v: &f64| (*v > 0.0).then(|| v.log10());
        return (
            ticks.major.iter().filter_map(to_plot).collect(),
            ticks.minor.iter().filter_map(to_plot).collect(),
        );
    }
    let first = lo.ceil() as i64;
    let last = hi.floor() as i64;
    let decades = (last - first + 1).max(0) as usize;
    // Decade labels are short, so a log axis can carry a few more than the target.
    let every = decades.div_ceil(target.max(8)).max(1) as i64;
    let mut major: Vec<f64> = (first..=last)
        .filter(|k| (k - first) % every == 0)
        .map(|k| k as f64)
        .collect();
    let mut minor = Vec::new();
    if decades <= 6 {
        for k in (first - 1)..=last {
            for m in 2..=9 {
                let v = k as f64 + (m as f64).log10();
                if v >= lo && v <= hi {
                    minor.push(v);
                }
            }
        }
    }
    if major.len() < 3 {
        // One or two decades leave too few labels: promote 2× and 5× to labelled ticks.
        major.extend(
            minor
                .iter()
                .copied()
                .filter(|v| {
                    let m = 10f64.powf(v.rem_euclid(1.0));
                    (m - 2.0).abs() < 1e-9 || (m - 5.0).abs() < 1e-9
                })
                .collect::<Vec<_>>(),
        );
        major.sort_by(f64::total_cmp);
    }
    (major, minor)
}

/// Compact text for a value of any magnitude: 6 significant digits, trailing zeros removed,
/// scientific notation outside [1e-3, 1e6).
pub(crate) fn format_general(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return format!("{}", if v == 0.0 { 0.0 } else { v });
    }
    let exp = v.abs().log10().floor();
    if (-3.0..6.0).contains(&exp) {
        let decimals = (5.0 - exp).max(0.0) as usize;
        trim_zeros(&format!("{v:.decimals$}"))
    } else {
        let s = format!("{v:.5e}");
        match s.split_once('e') {
            Some((mantissa, exp)) => format!("{}e{}", trim_zeros(mantissa), exp),
            None => s,
        }
    }
}

fn trim_zeros(s: &str) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(scale: Scale, lo: f64, hi: f64) -> AxisLayout {
        let mut e = Extent::empty();
        e.add(lo);
        e.add(hi);
        let cfg = AxisConfig {
            scale,
            range: None,
            integer: false,
        };
        AxisLayout::new(&cfg, e, 0.0, 6)
    }

    fn labels(a: &AxisLayout) -> Vec<String> {
        a.major.iter().map(|&v| a.label(v)).collect()
    }

    #[test]
    fn linear_ticks_are_round_numbers() {
        let a = layout(Scale::Linear, 0.0, 1.0);
        assert_eq!(labels(&a), ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"]);
        let a = layout(Scale::Linear, -3.0, 97.0);
        assert_eq!(labels(&a), ["0", "20", "40", "60", "80"]);
    }

    #[test]
    fn linear_ticks_show_at_least_half_the_wanted_labels() {
        // A component count from 1 to 9, padded: 2.2 per wanted label rounds up to a step of
        // 5, which alone would label only "5".
        let mut e = Extent::empty();
        e.add(1.0);
        e.add(9.0);
        let cfg = AxisConfig::default();
        let a = AxisLayout::new(&cfg, e, 0.05, 4);
        assert_eq!(labels(&a), ["2", "4", "6", "8"]);
        for (lo, hi) in [
            (0.6, 9.4),
            (0.13, 0.87),
            (-7.5, 7.5),
            (101.0, 109.0),
            (1e-3, 9e-3),
        ] {
            let mut e = Extent::empty();
            e.add(lo);
            e.add(hi);
            for target in 4..=8 {
                let a = AxisLayout::new(&cfg, e, 0.0, target);
                assert!(
                    a.major.len() >= target / 2,
                    "{lo}..{hi}, {target}: {:?}",
                    labels(&a)
                );
                assert!(
                    a.major.len() <= 2 * target + 1,
                    "{lo}..{hi}, {target}: {:?}",
                    labels(&a)
                );
            }
        }
    }

    #[test]
    fn linear_ticks_use_scientific_for_large_values() {
        let a = layout(Scale::Linear, 0.0, 5e7);
        assert_eq!(labels(&a)[1], "1e7");
    }

    #[test]
    fn no_negative_zero_label() {
        let a = layout(Scale::Linear, -1.0, 1.0);
        assert!(labels(&a).contains(&"0.0".to_string()), "{:?}", labels(&a));
    }

    #[test]
    fn degenerate_ranges_get_width() {
        for v in [0.0, 5.0, -3.0, 1e9] {
            let a = layout(Scale::Linear, v, v);
            assert!(a.lo < v && v < a.hi, "{v}: {a:?}");
            assert!(!a.major.is_empty(), "{v}: {a:?}");
        }
        let a = layout(Scale::Log10, 2.0, 2.0);
        assert!(a.hi - a.lo > 0.9);
    }

    #[test]
    fn log_ticks_at_decades_and_labels_in_data_units() {
        let a = layout(Scale::Log10, -3.0, 3.0);
        assert_eq!(
            labels(&a),
            ["0.001", "0.01", "0.1", "1", "10", "100", "1000"]
        );
        let a = layout(Scale::Log10, -1.0, 2.0);
        assert_eq!(a.minor.len(), 3 * 8);
        let a = layout(Scale::Log10, 0.0, 12.0);
        assert!(a.major.len() <= 7, "{:?}", labels(&a));
        assert!(a.minor.is_empty());
        assert_eq!(labels(&a)[a.major.len() - 1], "1e12");
    }

    #[test]
    fn narrow_log_axis_uses_round_data_values() {
        let a = layout(Scale::Log10, 2f64.log10(), 8f64.log10());
        let l = labels(&a);
        assert!(
            l.contains(&"2".to_string()) && l.contains(&"8".to_string()),
            "{l:?}"
        );
    }

    #[test]
    fn general_format() {
        assert_eq!(format_general(199.99999999999997), "200");
        assert_eq!(format_general(0.5), "0.5");
        assert_eq!(format_general(2.5e-5), "2.5e-5");
        assert_eq!(format_general(1e6), "1e6");
        assert_eq!(format_general(-1234.5), "-1234.5");
    }

    #[test]
    fn integer_axes_label_whole_numbers_only() {
        let config = AxisConfig {
            integer: true,
            ..AxisConfig::default()
        };
        let mut extent = Extent::empty();
        extent.add(1.0);
        extent.add(4.0);
        let layout = AxisLayout::new(&config, extent, 0.0, 8);
        assert_eq!(layout.major, [1.0, 2.0, 3.0, 4.0]);
        assert!(layout.minor.iter().all(|v| v.fract() == 0.0));
        assert_eq!(layout.label(2.0), "2");
        // Without the flag the same range gets half steps.
        let plain = AxisLayout::new(&AxisConfig::default(), extent, 0.0, 8);
        assert!(
            plain.major.iter().any(|v| v.fract() != 0.0),
            "{:?}",
            plain.major
        );
        // A long range keeps its round steps.
        let mut long = Extent::empty();
        long.add(0.0);
        long.add(1000.0);
        let layout = AxisLayout::new(&config, long, 0.0, 6);
        assert!(layout.major.iter().all(|v| v.fract() == 0.0));
        assert!(layout.major.len() >= 3);
    }

    #[test]
    fn explicit_range_is_checked() {
        let bad = AxisConfig {
            scale: Scale::Log10,
            range: Some((0.0, 10.0)),
            integer: false,
        };
        assert!(matches!(
            bad.check("y"),
            Err(PlotError::InvalidRange { axis: "y", .. })
        ));
        let bad = AxisConfig {
            scale: Scale::Linear,
            range: Some((1.0, f64::NAN)),
            integer: false,
        };
        assert!(bad.check("x").is_err());
    }
}
