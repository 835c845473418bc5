//! Scatter charts: groups of 2-D points with optional trajectories, e.g. clusters of a
//! projected stream with the path of each centroid over batches.

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::clip::Rect;
use crate::color::Rgb;
use crate::error::PlotError;
use crate::frame::{Cleaner, Frame, Swatch, add_entry, draw_chart, draw_err, frame_setters};
use crate::output::{Draw, RenderSummary, output_methods};

const PATH_WIDTH: u32 = 2;
const PATH_MARKER_RADIUS: u32 = 3;
const END_MARKER_RADIUS: u32 = 7;

/// Largest dot radius [`PointGroup::radius`] accepts, in pixels.
pub const MAX_RADIUS: u32 = 64;

/// A named set of points drawn as dots of one colour, e.g. the points of one cluster.
#[derive(Debug, Clone)]
pub struct PointGroup {
    name: String,
    points: Vec<(f64, f64)>,
    color: Option<Rgb>,
    radius: u32,
    opacity: f64,
}

impl PointGroup {
    /// A group of `(x, y)` points. An empty `name` keeps it out of the legend.
    pub fn new(name: impl Into<String>, points: impl IntoIterator<Item = (f64, f64)>) -> Self {
        PointGroup {
            name: name.into(),
            points: points.into_iter().collect(),
            color: None,
            radius: 2,
            opacity: 0.6,
        }
    }

    /// Splits points by a label per point (a cluster assignment, say) into groups
    /// `"{prefix} 0"`, `"{prefix} 1"`, … up to the largest label. Group `k` gets colour
    /// [`Rgb::palette`]`(k)` even when it is empty, so it matches trajectory `k` of a
    /// [`ScatterChart`] with default colours.
    ///
    /// Fails with [`PlotError::LengthMismatch`] unless there is one label per point.
    pub fn by_label(
        prefix: &str,
        points: &[(f64, f64)],
        labels: &[usize],
    ) -> Result<Vec<PointGroup>, PlotError> {
        if points.len() != labels.len() {
            return Err(PlotError::LengthMismatch {
                what: "cluster labels for the points",
                expected: points.len(),
                got: labels.len(),
            });
        }
        let groups = labels.iter().max().map_or(0, |&m| m + 1);
        let mut split = vec![Vec::new(); groups];
        for (&p, &k) in points.iter().zip(labels) {
            split[k].push(p);
        }
        Ok(split
            .into_iter()
            .enumerate()
            .map(|(k, pts)| PointGroup::new(format!("{prefix} {k}"), pts).color(Rgb::palette(k)))
            .collect())
    }

    /// Sets the colour (default: [`Rgb::palette`] by the group's position in the chart).
    pub fn color(mut self, color: Rgb) -> Self {
        self.color = Some(color);
        self
    }

    /// Sets the dot radius in pixels (default 2), at most [`MAX_RADIUS`].
    pub fn radius(mut self, radius: u32) -> Self {
        // Rasterizing a circle costs O(radius²) even when it is mostly off the image.
        self.radius = radius.min(MAX_RADIUS);
        self
    }

    /// Sets the dot opacity, clamped to 0..=1 (default 0.6, so dense regions look darker).
    pub fn opacity(mut self, opacity: f64) -> Self {
        self.opacity = if opacity.is_nan() {
            1.0
        } else {
            opacity.clamp(0.0, 1.0)
        };
        self
    }
}

/// A named path through points in order, e.g. a centroid's position after each batch.
///
/// Drawn as a line with a small marker per point and a large ringed marker at the last
/// point (the current position). Non-finite points are skipped and break the line.
#[derive(Debug, Clone)]
pub struct Trajectory {
    name: String,
    points: Vec<(f64, f64)>,
    color: Option<Rgb>,
}

impl Trajectory {
    /// A trajectory through `(x, y)` points. An empty `name` keeps it out of the legend,
    /// which suits centroids drawn over their own named groups.
    pub fn new(name: impl Into<String>, points: impl IntoIterator<Item = (f64, f64)>) -> Self {
        Trajectory {
            name: name.into(),
            points: points.into_iter().collect(),
            color: None,
        }
    }

    /// Sets the colour (default: [`Rgb::palette`] by the trajectory's position among the
    /// chart's trajectories, matching the group at the same position).
    pub fn color(mut self, color: Rgb) -> Self {
        self.color = Some(color);
        self
    }
}

/// A scatter chart of point groups with optional trajectories on top.
///
/// # Example
///
/// ```
/// use spate_plot::{PointGroup, ScatterChart, Trajectory};
///
/// let points = [(0.0, 0.1), (0.2, 0.0), (5.0, 5.1), (5.2, 4.9)];
/// let labels = [0, 0, 1, 1];
/// let chart = ScatterChart::new("Clusters")
///     .groups(PointGroup::by_label("cluster", &points, &labels)?)
///     .trajectory(Trajectory::new("", [(1.0, 1.0), (0.5, 0.4), (0.1, 0.05)]))
///     .trajectory(Trajectory::new("", [(4.0, 4.0), (4.8, 4.9), (5.1, 5.0)]));
/// let dir = tempfile::tempdir()?;
/// chart.save(dir.path().join("clusters.png"))?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct ScatterChart {
    frame: Frame,
    groups: Vec<PointGroup>,
    trajectories: Vec<Trajectory>,
}

impl ScatterChart {
    /// An empty chart with a title (may be empty).
    pub fn new(title: impl Into<String>) -> Self {
        ScatterChart {
            frame: Frame::new(title.into()),
            groups: Vec::new(),
            trajectories: Vec::new(),
        }
    }

    /// Adds a group of points.
    pub fn group(mut self, group: PointGroup) -> Self {
        self.groups.push(group);
        self
    }

    /// Adds several groups, e.g. the output of [`PointGroup::by_label`].
    pub fn groups(mut self, groups: impl IntoIterator<Item = PointGroup>) -> Self {
        self.groups.extend(groups);
        self
    }

    /// Adds a trajectory, drawn over all groups.
    pub fn trajectory(mut self, trajectory: Trajectory) -> Self {
        self.trajectories.push(trajectory);
        self
    }

    frame_setters!();
    output_methods!();
}

impl Draw for ScatterChart {
    fn size(&self) -> (u32, u32) {
        self.frame.size
    }

    fn draw_on<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
    ) -> Result<RenderSummary, PlotError> {
        self.frame.check()?;
        let mut cleaner = Cleaner::new(&self.frame);
        let mut legend = Vec::new();
        let groups: Vec<_> = self
            .groups
            .iter()
            .enumerate()
            .map(|(i, g)| {
                let color = g.color.unwrap_or_else(|| Rgb::palette(i));
                add_entry(&mut legend, &g.name, color, Swatch::Marker);
                (color, g, cleaner.points(&g.points))
            })
            .collect();
        let paths: Vec<_> = self
            .trajectories
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let color = t.color.unwrap_or_else(|| Rgb::palette(i));
                add_entry(
                    &mut legend,
                    &t.name,
                    color,
                    Swatch::Line(crate::line::Dash::Solid),
                );
                (color, cleaner.segments(&t.points))
            })
            .collect();
        cleaner.require_data("scatter chart")?;
        let (x, y) = self.frame.layout(
            (cleaner.x_extent, cleaner.y_extent),
            (0.05, 0.05),
            area.dim_in_pixel(),
        );

        let occupied = std::mem::take(&mut cleaner.occupied);
        draw_chart(
            area,
            &self.frame,
            (&x, &y),
            &legend,
            &occupied,
            None,
            |chart| {
                let rect = Rect::of(&x, &y);
                for (color, g, pts) in &groups {
                    let style = color.to_plotters().mix(g.opacity).filled();
                    chart
                        .draw_series(
                            pts.iter()
                                .filter(|&&p| rect.contains(p))
                                .map(|&p| Circle::new(p, g.radius, style)),
                        )
                        .map_err(draw_err)?;
                }
                for (color, segments) in &paths {
                    let c = color.to_plotters();
                    for seg in segments {
                        for run in rect.polyline(seg).into_iter().filter(|r| r.len() > 1) {
                            chart
                                .draw_series(LineSeries::new(run, c.stroke_width(PATH_WIDTH)))
                                .map_err(draw_err)?;
                        }
                        chart
                            .draw_series(
                                seg.iter()
                                    .filter(|&&p| rect.contains(p))
                                    .map(|&p| Circle::new(p, PATH_MARKER_RADIUS, c.filled())),
                            )
                            .map_err(draw_err)?;
                    }
                    let last = segments.last().and_then(|s| s.last());
                    if let Some(&last) = last.filter(|&&p| rect.contains(p)) {
                        chart
                            .draw_series([
                                Circle::new(last, END_MARKER_RADIUS, c.filled()),
                                Circle::new(last, END_MARKER_RADIUS, BLACK.stroke_width(2)),
                            ])
                            .map_err(draw_err)?;
                    }
                }
                Ok(())
            },
        )?;
        Ok(cleaner.summary)
    }
}
