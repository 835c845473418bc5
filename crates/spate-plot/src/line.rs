//! Line charts: named series over x (usually the batch index or time), with optional bands.

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::axis::AxisLayout;
use crate::clip::Rect;
use crate::color::Rgb;
use crate::error::PlotError;
use crate::frame::{
    Cleaner, Frame, LegendEntry, Swatch, add_entry, draw_chart, draw_err, frame_setters,
};
use crate::output::{Draw, RenderSummary, output_methods};

/// Opacity of band fills: low enough that nested bands (p05–p95 over p25–p75) and the
/// series line stay visible through each other.
pub(crate) const BAND_OPACITY: f64 = 0.18;
const LINE_WIDTH: u32 = 2;
/// The colour of reference lines.
const REFERENCE: Rgb = Rgb(110, 110, 110);
const MARKER_RADIUS: u32 = 3;

/// A shaded range around a series, such as mean ± sd or a p05–p95 quantile band.
///
/// Drawn in the series' colour, translucent, under every line. Points whose `x`, `lo` or
/// `hi` is not finite are skipped and break the band.
#[derive(Debug, Clone, Default)]
pub struct Band {
    label: String,
    points: Vec<(f64, f64, f64)>,
}

impl Band {
    /// A band through `(x, lo, hi)` points. An empty `label` keeps it out of the legend.
    pub fn new(
        label: impl Into<String>,
        points: impl IntoIterator<Item = (f64, f64, f64)>,
    ) -> Self {
        Band {
            label: label.into(),
            points: points.into_iter().collect(),
        }
    }

    /// A band of `center ± half_width` from `(x, center, half_width)` points, e.g.
    /// `(batch, mean, 2.0 * sd)`.
    pub fn symmetric(
        label: impl Into<String>,
        points: impl IntoIterator<Item = (f64, f64, f64)>,
    ) -> Self {
        Band::new(label, points.into_iter().map(|(x, c, h)| (x, c - h, c + h)))
    }
}

/// A named line of `(x, y)` points, drawn in the given order.
///
/// Points with a non-finite coordinate (or ≤ 0 on a log axis) are skipped and counted, and
/// the line is broken there rather than bridged. A series with a single drawable point is
/// shown as a marker.
#[derive(Debug, Clone, Default)]
pub struct Series {
    name: String,
    points: Vec<(f64, f64)>,
    color: Option<Rgb>,
    dash: Option<Dash>,
    bands: Vec<Band>,
    markers: bool,
    step: bool,
}

/// How a series' line is drawn. By default the `i`-th series of a chart takes
/// [`Dash::nth`]`(i)`, so lines that overlap stay distinguishable (also in grey print).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Dash {
    /// An unbroken line.
    #[default]
    Solid,
    /// Dashes of 10 px, 6 px apart.
    Dashed,
    /// Dots of 3 px, 4 px apart.
    Dotted,
    /// Long dashes of 20 px, 5 px apart.
    LongDashed,
}

impl Dash {
    /// The style of the `i`-th series when none is set: solid, dashed, dotted, long dashes,
    /// then again.
    pub fn nth(i: usize) -> Dash {
        [Dash::Solid, Dash::Dashed, Dash::Dotted, Dash::LongDashed][i % 4]
    }

    /// `(dash, gap)` lengths in pixels; `None` for a solid line.
    pub(crate) fn pattern(self) -> Option<(i32, i32)> {
        match self {
            Dash::Solid => None,
            Dash::Dashed => Some((10, 6)),
            Dash::Dotted => Some((3, 4)),
            Dash::LongDashed => Some((20, 5)),
        }
    }
}

impl Series {
    /// A series of `(x, y)` points. An empty `name` keeps it out of the legend.
    pub fn new(name: impl Into<String>, points: impl IntoIterator<Item = (f64, f64)>) -> Self {
        Series {
            name: name.into(),
            points: points.into_iter().collect(),
            ..Series::default()
        }
    }

    /// A series of one value per batch: x is the index 0, 1, 2, …
    pub fn from_values(name: impl Into<String>, values: impl IntoIterator<Item = f64>) -> Self {
        Series::new(
            name,
            values.into_iter().enumerate().map(|(i, y)| (i as f64, y)),
        )
    }

    /// Sets the colour (default: [`Rgb::palette`] by the series' position in the chart).
    pub fn color(mut self, color: Rgb) -> Self {
        self.color = Some(color);
        self
    }

    /// Adds a band in this series' colour. Bands may be nested: add the widest first (say
    /// p05–p95, then p25–p75); overlapping fills darken, and legend swatches are shaded
    /// to match.
    pub fn band(mut self, band: Band) -> Self {
        self.bands.push(band);
        self
    }

    /// Draws a marker at every point as well as the line (default: off).
    pub fn markers(mut self, markers: bool) -> Self {
        self.markers = markers;
        self
    }

    /// Sets the line's dash style (default: [`Dash::nth`] of the series' position).
    pub fn dash(mut self, dash: Dash) -> Self {
        self.dash = Some(dash);
        self
    }

    /// Draws the series as steps: each value holds until the next point's x (default: off).
    /// For counts per batch, which do not vary between batches.
    pub fn step(mut self, step: bool) -> Self {
        self.step = step;
        self
    }

    /// The points to draw: with `step`, a corner before every change of value.
    fn drawn_points(&self) -> std::borrow::Cow<'_, [(f64, f64)]> {
        if !self.step || self.points.len() < 2 {
            return std::borrow::Cow::Borrowed(&self.points);
        }
        let mut out = Vec::with_capacity(2 * self.points.len());
        for w in self.points.windows(2) {
            out.push(w[0]);
            out.push((w[1].0, w[0].1));
        }
        out.extend(self.points.last());
        std::borrow::Cow::Owned(out)
    }
}

/// A chart of lines over a shared x axis, for anything reported per batch: streaming
/// statistics with bands, error metrics, rank trajectories, timings on log-log axes.
///
/// # Example
///
/// ```
/// use spate_plot::{Band, LineChart, Series};
///
/// let means = [1.0, 1.2, 0.9, 1.1];
/// let sds = [0.3, 0.25, 0.2, 0.2];
/// let band = Band::symmetric(
///     "mean ± sd",
///     means.iter().zip(&sds).enumerate().map(|(i, (m, s))| (i as f64, *m, *s)),
/// );
/// let chart = LineChart::new("Value per batch")
///     .x_label("batch")
///     .y_label("value")
///     .series(Series::from_values("mean", means).band(band));
/// let dir = tempfile::tempdir()?;
/// let summary = chart.save(dir.path().join("mean.svg"))?;
/// assert_eq!(summary.points_drawn, 8);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct LineChart {
    pub(crate) frame: Frame,
    series: Vec<Series>,
    references: Vec<(String, f64)>,
}

/// A line chart resolved to plot space, ready to draw.
pub(crate) struct PreparedLines {
    x: AxisLayout,
    pub(crate) y: AxisLayout,
    lines: Vec<PreparedSeries>,
    /// Plot-space y of each reference line.
    references: Vec<f64>,
    legend: Vec<LegendEntry>,
    occupied: Vec<(f64, f64)>,
    pub(crate) summary: RenderSummary,
}

struct PreparedSeries {
    color: Rgb,
    dash: Dash,
    segments: Vec<Vec<(f64, f64)>>,
    bands: Vec<Vec<Vec<(f64, f64, f64)>>>,
    markers: bool,
}

impl LineChart {
    /// An empty chart with a title (may be empty).
    pub fn new(title: impl Into<String>) -> Self {
        LineChart {
            frame: Frame::new(title.into()),
            series: Vec::new(),
            references: Vec::new(),
        }
    }

    /// Adds a series; series are drawn and listed in the legend in the order added.
    pub fn series(mut self, series: Series) -> Self {
        self.series.push(series);
        self
    }

    /// Adds a horizontal reference line at `y` across the whole chart, thin, dashed and grey,
    /// listed in the legend as `label`: the batch interval on a delay chart, a tolerance on an
    /// error chart. The y axis always includes it.
    pub fn reference_line(mut self, label: impl Into<String>, y: f64) -> Self {
        self.references.push((label.into(), y));
        self
    }

    frame_setters!();
    output_methods!();

    /// Cleans the data and lays out the axes for an image of `size`.
    pub(crate) fn prepare(&self, size: (u32, u32)) -> Result<PreparedLines, PlotError> {
        self.frame.check()?;
        let mut cleaner = Cleaner::new(&self.frame);
        let mut legend = Vec::new();
        let mut lines = Vec::with_capacity(self.series.len());
        for (i, s) in self.series.iter().enumerate() {
            let color = s.color.unwrap_or_else(|| Rgb::palette(i));
            let dash = s.dash.unwrap_or_else(|| Dash::nth(i));
            add_entry(&mut legend, &s.name, color, Swatch::Line(dash));
            for (k, b) in s.bands.iter().enumerate() {
                let layers = u8::try_from(k + 1).unwrap_or(u8::MAX);
                add_entry(&mut legend, &b.label, color, Swatch::Area(layers));
            }
            lines.push(PreparedSeries {
                color,
                dash,
                segments: cleaner.segments(&s.drawn_points()),
                bands: s
                    .bands
                    .iter()
                    .map(|b| cleaner.band_segments(&b.points))
                    .collect(),
                markers: s.markers,
            });
        }
        cleaner.require_data("line chart")?;
        let mut references = Vec::new();
        for (label, y) in &self.references {
            if let Some(v) = cleaner.reference_y(*y) {
                add_entry(&mut legend, label, REFERENCE, Swatch::Line(Dash::Dashed));
                references.push(v);
            }
        }
        let pad_x = if self.series.iter().any(|s| s.markers) {
            0.02
        } else {
            0.0
        };
        // Batch numbers and other whole-number x values get whole-number ticks.
        let integer_x = self
            .series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.0))
            .all(|x| !x.is_finite() || x.fract() == 0.0);
        let (x, y) = self.frame.layout_with(
            (cleaner.x_extent, cleaner.y_extent),
            (pad_x, 0.05),
            size,
            integer_x,
        );
        Ok(PreparedLines {
            x,
            y,
            lines,
            references,
            legend,
            summary: cleaner.summary,
            occupied: cleaner.occupied,
        })
    }

    /// Draws a prepared chart; `y_area` forces the width left of the plot (for alignment).
    pub(crate) fn draw_prepared<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        p: &PreparedLines,
        y_area: Option<u32>,
    ) -> Result<(), PlotError> {
        draw_chart(
            area,
            &self.frame,
            (&p.x, &p.y),
            &p.legend,
            &p.occupied,
            y_area,
            |chart| {
                let rect = Rect::of(&p.x, &p.y);
                for line in &p.lines {
                    let fill = line.color.to_plotters().mix(BAND_OPACITY).filled();
                    for band in line.bands.iter().flatten() {
                        // Clamping both edges is the band's intersection with the plot,
                        // exact at the vertices (a fixed range may cut through a band).
                        let upper = band.iter().map(|&(x, _, hi)| rect.clamp((x, hi)));
                        let lower = band.iter().rev().map(|&(x, lo, _)| rect.clamp((x, lo)));
                        if band.len() == 1 {
                            chart
                                .draw_series(std::iter::once(PathElement::new(
                                    upper.chain(lower).collect::<Vec<_>>(),
                                    fill.stroke_width(LINE_WIDTH),
                                )))
                                .map_err(draw_err)?;
                        } else {
                            chart
                                .draw_series(std::iter::once(Polygon::new(
                                    upper.chain(lower).collect::<Vec<_>>(),
                                    fill,
                                )))
                                .map_err(draw_err)?;
                        }
                    }
                }
                for &y in &p.references {
                    let (on, off) = Dash::Dashed.pattern().unwrap_or((10, 6));
                    chart
                        .draw_series(DashedLineSeries::new(
                            [(p.x.lo, y), (p.x.hi, y)],
                            on as u32,
                            off as u32,
                            REFERENCE.to_plotters().stroke_width(1),
                        ))
                        .map_err(draw_err)?;
                }
                for line in &p.lines {
                    let c = line.color.to_plotters();
                    for seg in &line.segments {
                        for run in rect.polyline(seg).into_iter().filter(|r| r.len() > 1) {
                            let style = c.stroke_width(LINE_WIDTH);
                            match line.dash.pattern() {
                                None => chart.draw_series(LineSeries::new(run, style)),
                                Some((on, off)) => chart.draw_series(DashedLineSeries::new(
                                    run, on as u32, off as u32, style,
                                )),
                            }
                            .map_err(draw_err)?;
                        }
                        if line.markers || seg.len() == 1 {
                            chart
                                .draw_series(
                                    seg.iter()
                                        .filter(|&&p| rect.contains(p))
                                        .map(|&p| Circle::new(p, MARKER_RADIUS, c.filled())),
                                )
                                .map_err(draw_err)?;
                        }
                    }
                }
                Ok(())
            },
        )
    }
}

impl Draw for LineChart {
    fn size(&self) -> (u32, u32) {
        self.frame.size
    }

    fn draw_on<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
    ) -> Result<RenderSummary, PlotError> {
        let prepared = self.prepare(area.dim_in_pixel())?;
        self.draw_prepared(area, &prepared, None)?;
        Ok(prepared.summary)
    }
}
