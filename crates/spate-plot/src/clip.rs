//! Clipping to the plot rectangle in plot space.
//!
//! plotters draws elements wherever their coordinates map, even outside the plot area, so
//! with a fixed axis range data beyond it would spill over the axes and title. Everything
//! is clipped here first; with fitted ranges nothing is outside and this is a no-op.

use crate::axis::AxisLayout;

#[derive(Debug, Clone, Copy)]
pub(crate) struct Rect {
    x0: f64,
    x1: f64,
    y0: f64,
    y1: f64,
}

impl Rect {
    pub(crate) fn of(x: &AxisLayout, y: &AxisLayout) -> Self {
        // A hair of slack keeps points exactly on the boundary despite rounding.
        let (sx, sy) = (1e-9 * (x.hi - x.lo), 1e-9 * (y.hi - y.lo));
        Rect {
            x0: x.lo - sx,
            x1: x.hi + sx,
            y0: y.lo - sy,
            y1: y.hi + sy,
        }
    }

    pub(crate) fn contains(&self, (x, y): (f64, f64)) -> bool {
        x >= self.x0 && x <= self.x1 && y >= self.y0 && y <= self.y1
    }

    pub(crate) fn clamp(&self, (x, y): (f64, f64)) -> (f64, f64) {
        (x.clamp(self.x0, self.x1), y.clamp(self.y0, self.y1))
    }

    /// The part of segment a–b inside the rectangle (Liang–Barsky).
    fn segment(&self, a: (f64, f64), b: (f64, f64)) -> Option<((f64, f64), (f64, f64))> {
        let (dx, dy) = (b.0 - a.0, b.1 - a.1);
        let (mut t0, mut t1) = (0.0f64, 1.0f64);
        for (p, q) in [
            (-dx, a.0 - self.x0),
            (dx, self.x1 - a.0),
            (-dy, a.1 - self.y0),
            (dy, self.y1 - a.1),
        ] {
            if p == 0.0 {
                if q < 0.0 {
                    return None;
                }
            } else {
                let r = q / p;
                if p < 0.0 {
                    if r > t1 {
                        return None;
                    }
                    t0 = t0.max(r);
                } else {
                    if r < t0 {
                        return None;
                    }
                    t1 = t1.min(r);
                }
            }
        }
        // Unclipped ends are returned bit for bit, so consecutive segments still join.
        let start = if t0 > 0.0 {
            (a.0 + t0 * dx, a.1 + t0 * dy)
        } else {
            a
        };
        let end = if t1 < 1.0 {
            (a.0 + t1 * dx, a.1 + t1 * dy)
        } else {
            b
        };
        Some((start, end))
    }

    /// The visible runs of a polyline; a single point is kept if inside.
    pub(crate) fn polyline(&self, points: &[(f64, f64)]) -> Vec<Vec<(f64, f64)>> {
        if let [p] = points {
            return if self.contains(*p) {
                vec![vec![*p]]
            } else {
                Vec::new()
            };
        }
        let mut runs = Vec::new();
        let mut current: Vec<(f64, f64)> = Vec::new();
        for w in points.windows(2) {
            match self.segment(w[0], w[1]) {
                Some((a, b)) => {
                    if current.last() != Some(&a) {
                        if !current.is_empty() {
                            runs.push(std::mem::take(&mut current));
                        }
                        current.push(a);
                    }
                    current.push(b);
                }
                None => {
                    if !current.is_empty() {
                        runs.push(std::mem::take(&mut current));
                    }
                }
            }
        }
        if !current.is_empty() {
            runs.push(current);
        }
        runs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit() -> Rect {
        Rect {
            x0: 0.0,
            x1: 1.0,
            y0: 0.0,
            y1: 1.0,
        }
    }

    #[test]
    fn inside_polyline_is_unchanged() {
        let pts = vec![(0.1, 0.1), (0.5, 0.9), (0.9, 0.2)];
        assert_eq!(unit().polyline(&pts), vec![pts]);
    }

    #[test]
    fn excursion_splits_the_line_at_the_boundary() {
        let runs = unit().polyline(&[(0.0, 0.5), (0.5, 1.5), (1.0, 0.5)]);
        assert_eq!(runs.len(), 2);
        assert_eq!(runs[0], vec![(0.0, 0.5), (0.25, 1.0)]);
        assert_eq!(runs[1], vec![(0.75, 1.0), (1.0, 0.5)]);
    }

    #[test]
    fn crossing_segment_is_cut_on_both_ends() {
        let runs = unit().polyline(&[(-1.0, 0.5), (2.0, 0.5)]);
        assert_eq!(runs, vec![vec![(0.0, 0.5), (1.0, 0.5)]]);
        assert!(unit().polyline(&[(-1.0, 2.0), (2.0, 2.0)]).is_empty());
        assert!(unit().polyline(&[(5.0, 5.0)]).is_empty());
    }
}
