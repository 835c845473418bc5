//! What line and scatter charts share: titles, axes, grid, legend and the cleaning of
//! user data into plot space.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::axis::{AxisConfig, AxisLayout, Extent, Scale};
use crate::color::Rgb;
use crate::error::PlotError;
use crate::output::{FONT, RenderSummary};

const TITLE_PX: f64 = 22.0;
const AXIS_DESC_PX: f64 = 16.0;
const TICK_PX: f64 = 14.0;
const LEGEND_PX: f64 = 14.0;
const LEGEND_ROW_PX: i32 = 20;
const SWATCH_PX: i32 = 24;

pub(crate) type Plot<'a, DB> = ChartContext<'a, DB, Cartesian2d<AxisLayout, AxisLayout>>;

/// Where the legend is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LegendPosition {
    /// Inside the plot, in the corner that covers the fewest data (ties go to upper right,
    /// upper left, lower right, lower left, in that order).
    #[default]
    Best,
    /// Inside the plot, top right corner.
    UpperRight,
    /// Inside the plot, top left corner.
    UpperLeft,
    /// Inside the plot, bottom right corner.
    LowerRight,
    /// Inside the plot, bottom left corner.
    LowerLeft,
    /// In a column right of the plot: for many entries, e.g. one line per tracked node.
    Right,
    /// No legend.
    Hidden,
}

/// Settings shared by [`LineChart`](crate::LineChart) and [`ScatterChart`](crate::ScatterChart).
#[derive(Debug, Clone)]
pub(crate) struct Frame {
    pub(crate) title: String,
    pub(crate) x_label: String,
    pub(crate) y_label: String,
    pub(crate) x: AxisConfig,
    pub(crate) y: AxisConfig,
    pub(crate) legend: LegendPosition,
    pub(crate) size: (u32, u32),
}

impl Frame {
    pub(crate) fn new(title: String) -> Self {
        Frame {
            title,
            x_label: String::new(),
            y_label: String::new(),
            x: AxisConfig::default(),
            y: AxisConfig::default(),
            legend: LegendPosition::default(),
            size: (900, 500),
        }
    }

    pub(crate) fn check(&self) -> Result<(), PlotError> {
        self.x.check("x")?;
        self.y.check("y")
    }

    /// Resolves both axes over the data extents, with tick counts suited to `size`.
    pub(crate) fn layout(
        &self,
        extents: (Extent, Extent),
        pads: (f64, f64),
        size: (u32, u32),
    ) -> (AxisLayout, AxisLayout) {
        self.layout_with(extents, pads, size, false)
    }

    /// Like [`layout`](Self::layout); with `integer_x`, the x axis is labelled at whole
    /// numbers only.
    pub(crate) fn layout_with(
        &self,
        (x, y): (Extent, Extent),
        (pad_x, pad_y): (f64, f64),
        (width, height): (u32, u32),
        integer_x: bool,
    ) -> (AxisLayout, AxisLayout) {
        let target_x = (width / 110).clamp(3, 10) as usize;
        let target_y = (height / 55).clamp(4, 8) as usize;
        let x_config = AxisConfig {
            integer: integer_x || self.x.integer,
            ..self.x
        };
        (
            AxisLayout::new(&x_config, x, pad_x, target_x),
            AxisLayout::new(&self.y, y, pad_y, target_y),
        )
    }
}

/// Generates the builder setters of [`Frame`] for a chart type with a `frame` field, so the
/// line and scatter charts configure axes identically from one definition.
macro_rules! frame_setters {
    () => {
        /// Sets the label under the x axis.
        pub fn x_label(mut self, label: impl Into<String>) -> Self {
            self.frame.x_label = label.into();
            self
        }

        /// Sets the label left of the y axis.
        pub fn y_label(mut self, label: impl Into<String>) -> Self {
            self.frame.y_label = label.into();
            self
        }

        /// Draws the x axis in log10 scale; points with x ≤ 0 are then skipped and counted
        /// in [`RenderSummary::skipped_non_positive`](crate::RenderSummary).
        pub fn log_x(mut self, log: bool) -> Self {
            self.frame.x.scale = if log {
                crate::axis::Scale::Log10
            } else {
                crate::axis::Scale::Linear
            };
            self
        }

        /// Draws the y axis in log10 scale; points with y ≤ 0 are then skipped and counted
        /// in [`RenderSummary::skipped_non_positive`](crate::RenderSummary).
        pub fn log_y(mut self, log: bool) -> Self {
            self.frame.y.scale = if log {
                crate::axis::Scale::Log10
            } else {
                crate::axis::Scale::Linear
            };
            self
        }

        /// Fixes the x range instead of fitting it to the data. Checked when rendering:
        /// bounds must be finite, `lo < hi`, and `lo > 0` on a log axis.
        pub fn x_range(mut self, lo: f64, hi: f64) -> Self {
            self.frame.x.range = Some((lo, hi));
            self
        }

        /// Fixes the y range instead of fitting it to the data (e.g. to start at 0). Checked
        /// when rendering like [`x_range`](Self::x_range).
        pub fn y_range(mut self, lo: f64, hi: f64) -> Self {
            self.frame.y.range = Some((lo, hi));
            self
        }

        /// Sets the image size in pixels (default 900×500). Checked when rendering: each
        /// side must lie in [`MIN_SIDE`](crate::MIN_SIDE)..=[`MAX_SIDE`](crate::MAX_SIDE).
        pub fn size(mut self, width: u32, height: u32) -> Self {
            self.frame.size = (width, height);
            self
        }

        /// Sets where the legend goes (default: [`LegendPosition::Best`](crate::LegendPosition::Best)). Entries are the
        /// non-empty names, in the order they were added.
        pub fn legend(mut self, position: crate::LegendPosition) -> Self {
            self.frame.legend = position;
            self
        }
    };
}
pub(crate) use frame_setters;

/// How a legend entry is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Swatch {
    Line(crate::line::Dash),
    Marker,
    /// A band fill, drawn this many times over to match the shade of the k-th nested band.
    Area(u8),
}

#[derive(Debug, Clone)]
pub(crate) struct LegendEntry {
    pub(crate) label: String,
    pub(crate) color: Rgb,
    pub(crate) swatch: Swatch,
}

/// Adds a legend entry unless the name is empty (unnamed items stay out of the legend).
pub(crate) fn add_entry(legend: &mut Vec<LegendEntry>, name: &str, color: Rgb, swatch: Swatch) {
    if !name.is_empty() {
        legend.push(LegendEntry {
            label: name.to_string(),
            color,
            swatch,
        });
    }
}

/// Maps user points to plot space, counting what cannot be drawn.
pub(crate) struct Cleaner {
    x: Scale,
    y: Scale,
    pub(crate) summary: RenderSummary,
    pub(crate) x_extent: Extent,
    pub(crate) y_extent: Extent,
    /// Plot-space positions the data cover, for placing the legend where it hides least.
    pub(crate) occupied: Vec<(f64, f64)>,
}

impl Cleaner {
    pub(crate) fn new(frame: &Frame) -> Self {
        Cleaner {
            x: frame.x.scale,
            y: frame.y.scale,
            summary: RenderSummary::default(),
            x_extent: Extent::empty(),
            y_extent: Extent::empty(),
            occupied: Vec::new(),
        }
    }

    fn coord(&mut self, x: f64, ys: &[f64]) -> Option<(f64, Vec<f64>)> {
        if !x.is_finite() || ys.iter().any(|y| !y.is_finite()) {
            self.summary.skipped_non_finite += 1;
            return None;
        }
        let px = self.x.forward(x);
        let pys: Option<Vec<f64>> = ys.iter().map(|&y| self.y.forward(y)).collect();
        match (px, pys) {
            (Some(px), Some(pys)) => {
                self.summary.points_drawn += 1;
                self.x_extent.add(px);
                for &py in &pys {
                    self.y_extent.add(py);
                    self.occupied.push((px, py));
                }
                Some((px, pys))
            }
            _ => {
                self.summary.skipped_non_positive += 1;
                None
            }
        }
    }

    /// Plot-space runs of consecutive drawable points: a line is broken where a point was
    /// skipped rather than silently bridged across it.
    /// The plot-space y of a reference line at `y`, widening the y extent to include it;
    /// `None` when the axis cannot show it (non-finite, or ≤ 0 on a log axis).
    pub(crate) fn reference_y(&mut self, y: f64) -> Option<f64> {
        let v = self
            .y
            .forward(y)
            .filter(|v| v.is_finite() && y.is_finite())?;
        self.y_extent.add(v);
        Some(v)
    }

    pub(crate) fn segments(&mut self, points: &[(f64, f64)]) -> Vec<Vec<(f64, f64)>> {
        let mut runs = vec![Vec::new()];
        for &(x, y) in points {
            match self.coord(x, &[y]) {
                Some((px, py)) => push_last(&mut runs, (px, py[0])),
                None => start_run(&mut runs),
            }
        }
        runs.retain(|r| !r.is_empty());
        // A line covers the plot between its points too.
        for run in &runs {
            for w in run.windows(2) {
                let ((x0, y0), (x1, y1)) = (w[0], w[1]);
                for k in 1..8 {
                    let t = f64::from(k) / 8.0;
                    self.occupied.push((x0 + t * (x1 - x0), y0 + t * (y1 - y0)));
                }
            }
        }
        runs
    }

    /// Like [`segments`](Self::segments) for `(x, lo, hi)` band points; each run is sorted
    /// by x so the band outline cannot cross itself.
    pub(crate) fn band_segments(
        &mut self,
        points: &[(f64, f64, f64)],
    ) -> Vec<Vec<(f64, f64, f64)>> {
        let mut runs = vec![Vec::new()];
        for &(x, lo, hi) in points {
            match self.coord(x, &[lo, hi]) {
                Some((px, py)) => push_last(&mut runs, (px, py[0], py[1])),
                None => start_run(&mut runs),
            }
        }
        runs.retain(|r| !r.is_empty());
        for run in &mut runs {
            run.sort_by(|a, b| a.0.total_cmp(&b.0));
        }
        runs
    }

    /// The drawable points, in order, without breaks.
    pub(crate) fn points(&mut self, points: &[(f64, f64)]) -> Vec<(f64, f64)> {
        points
            .iter()
            .filter_map(|&(x, y)| self.coord(x, &[y]).map(|(px, py)| (px, py[0])))
            .collect()
    }

    /// Fails when nothing at all can be drawn, saying whether there was no data or only
    /// unplottable data.
    pub(crate) fn require_data(&self, chart: &'static str) -> Result<(), PlotError> {
        let s = &self.summary;
        if s.points_drawn > 0 {
            Ok(())
        } else if s.skipped_non_finite + s.skipped_non_positive > 0 {
            Err(PlotError::NoFiniteData {
                non_finite: s.skipped_non_finite,
                non_positive: s.skipped_non_positive,
            })
        } else {
            Err(PlotError::EmptyData { chart })
        }
    }
}

fn push_last<T>(runs: &mut [Vec<T>], item: T) {
    if let Some(last) = runs.last_mut() {
        last.push(item);
    }
}

fn start_run<T>(runs: &mut Vec<Vec<T>>) {
    if runs.last().is_some_and(|r| !r.is_empty()) {
        runs.push(Vec::new());
    }
}

pub(crate) fn draw_err(err: impl std::fmt::Display) -> PlotError {
    PlotError::render(err)
}

fn text_style(px: f64) -> TextStyle<'static> {
    (FONT, px).into_font().color(&BLACK)
}

/// Width in pixels of the y tick labels plus the y axis label: the left margin a chart
/// needs. [`Panels`](crate::Panels) takes the maximum over its panels to align them.
pub(crate) fn y_label_area<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    frame: &Frame,
    y: &AxisLayout,
) -> Result<u32, PlotError> {
    let style = text_style(TICK_PX);
    let mut widest = 0;
    for &v in &y.major {
        let (w, _) = area
            .estimate_text_size(&y.label(v), &style)
            .map_err(draw_err)?;
        widest = widest.max(w);
    }
    let desc = if frame.y_label.is_empty() {
        0
    } else {
        AXIS_DESC_PX as u32 + 12
    };
    Ok(widest + 14 + desc)
}

/// Draws title, axes, grid and legend around `draw_data`, which draws in plot space.
pub(crate) fn draw_chart<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    frame: &Frame,
    (x, y): (&AxisLayout, &AxisLayout),
    legend: &[LegendEntry],
    occupied: &[(f64, f64)],
    y_area: Option<u32>,
    draw_data: impl FnOnce(&mut Plot<'_, DB>) -> Result<(), PlotError>,
) -> Result<(), PlotError> {
    let legend_style = text_style(LEGEND_PX);
    let show_legend = frame.legend != LegendPosition::Hidden && !legend.is_empty();
    let (plot_area, side_legend) = if show_legend && frame.legend == LegendPosition::Right {
        let (width, _) = area.dim_in_pixel();
        let text_w = widest_text(area, legend, &legend_style)?;
        let column = (text_w + SWATCH_PX as u32 + 30).min(width / 3);
        let (left, right) = area.split_horizontally(width - column);
        (left, Some(right))
    } else {
        (area.clone(), None)
    };

    let y_area = match y_area {
        Some(w) => w,
        None => y_label_area(&plot_area, frame, y)?,
    };
    let x_area = TICK_PX as u32
        + 12
        + if frame.x_label.is_empty() {
            0
        } else {
            AXIS_DESC_PX as u32 + 8
        };

    let mut builder = ChartBuilder::on(&plot_area);
    builder
        .margin(12)
        .margin_right(24)
        .x_label_area_size(x_area)
        .y_label_area_size(y_area);
    if !frame.title.is_empty() {
        builder.caption(&frame.title, text_style(TITLE_PX));
    }
    let mut chart = builder
        .build_cartesian_2d(x.clone(), y.clone())
        .map_err(draw_err)?;

    let mut mesh = chart.configure_mesh();
    mesh.label_style(text_style(TICK_PX))
        .axis_desc_style(text_style(AXIS_DESC_PX))
        .bold_line_style(BLACK.mix(0.12))
        .light_line_style(BLACK.mix(0.04));
    if !frame.x_label.is_empty() {
        mesh.x_desc(&frame.x_label);
    }
    if !frame.y_label.is_empty() {
        mesh.y_desc(&frame.y_label);
    }
    mesh.draw().map_err(draw_err)?;

    draw_data(&mut chart)?;

    if show_legend {
        match side_legend {
            Some(column) => {
                let top = if frame.title.is_empty() { 16 } else { 52 };
                draw_legend_rows(&column, legend, &legend_style, (4, top), None)?;
            }
            None => {
                let inner = chart.plotting_area().strip_coord_spec();
                let (bx, by) = inner.get_base_pixel();
                let pixels: Vec<(i32, i32)> = occupied
                    .iter()
                    .map(|p| {
                        let (px, py) = chart.backend_coord(p);
                        (px - bx, py - by)
                    })
                    .collect();
                draw_inset_legend(&inner, frame.legend, legend, &legend_style, &pixels)?;
            }
        }
    }
    Ok(())
}

/// Writes "no data" where a chart would be: used by [`Panels`](crate::Panels) so one empty
/// panel does not hide the others.
pub(crate) fn draw_placeholder<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    message: &str,
) -> Result<(), PlotError> {
    let (w, h) = area.dim_in_pixel();
    let centre = Pos::new(HPos::Center, VPos::Center);
    if !title.is_empty() {
        area.draw(&Text::new(
            title.to_string(),
            (w as i32 / 2, 20),
            text_style(TITLE_PX).pos(centre),
        ))
        .map_err(draw_err)?;
    }
    area.draw(&Text::new(
        message.to_string(),
        (w as i32 / 2, h as i32 / 2),
        text_style(AXIS_DESC_PX).color(&BLACK.mix(0.6)).pos(centre),
    ))
    .map_err(draw_err)
}

fn widest_text<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    legend: &[LegendEntry],
    style: &TextStyle,
) -> Result<u32, PlotError> {
    let mut widest = 0;
    for e in legend {
        widest = widest.max(
            area.estimate_text_size(&e.label, style)
                .map_err(draw_err)?
                .0,
        );
    }
    Ok(widest)
}

fn draw_inset_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    position: LegendPosition,
    legend: &[LegendEntry],
    style: &TextStyle,
    occupied: &[(i32, i32)],
) -> Result<(), PlotError> {
    let (w, h) = area.dim_in_pixel();
    let (w, h) = (w as i32, h as i32);
    let text_w = widest_text(area, legend, style)? as i32;
    let box_w = (text_w + SWATCH_PX + 24).min(w - 16).max(0);
    let max_rows = ((h - 24) / LEGEND_ROW_PX).max(1) as usize;
    let rows = legend.len().min(max_rows);
    let box_h = rows as i32 * LEGEND_ROW_PX + 8;
    let inset = 8;
    let corner = |p: LegendPosition| {
        let x0 = match p {
            LegendPosition::UpperLeft | LegendPosition::LowerLeft => inset,
            _ => w - inset - box_w,
        };
        let y0 = match p {
            LegendPosition::LowerLeft | LegendPosition::LowerRight => h - inset - box_h,
            _ => inset,
        };
        (x0, y0)
    };
    let covered = |p: LegendPosition| {
        let (x0, y0) = corner(p);
        occupied
            .iter()
            .filter(|&&(x, y)| {
                x >= x0 - 4 && x <= x0 + box_w + 4 && y >= y0 - 4 && y <= y0 + box_h + 4
            })
            .count()
    };
    let position = match position {
        LegendPosition::Best => [
            LegendPosition::UpperRight,
            LegendPosition::UpperLeft,
            LegendPosition::LowerRight,
            LegendPosition::LowerLeft,
        ]
        .into_iter()
        .min_by_key(|&p| covered(p))
        .unwrap_or(LegendPosition::UpperRight),
        p => p,
    };
    let (x0, y0) = corner(position);
    area.draw(&Rectangle::new(
        [(x0, y0), (x0 + box_w, y0 + box_h)],
        WHITE.mix(0.85).filled(),
    ))
    .map_err(draw_err)?;
    area.draw(&Rectangle::new(
        [(x0, y0), (x0 + box_w, y0 + box_h)],
        BLACK.mix(0.3),
    ))
    .map_err(draw_err)?;
    draw_legend_rows(
        area,
        legend,
        style,
        (x0 + 8, y0 + 4),
        Some(max_rows).filter(|&m| m < legend.len()),
    )
}

/// One row per entry from `(x, y)` down, stopping at the area's bottom (or after
/// `max_rows`) with a "+N more" row, so a long legend never spills out of its box.
fn draw_legend_rows<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    legend: &[LegendEntry],
    style: &TextStyle,
    (x, y): (i32, i32),
    max_rows: Option<usize>,
) -> Result<(), PlotError> {
    let (_, h) = area.dim_in_pixel();
    let fit = ((h as i32 - y) / LEGEND_ROW_PX).max(1) as usize;
    let rows = max_rows.unwrap_or(fit).min(fit);
    let shown = if legend.len() > rows {
        rows.saturating_sub(1)
    } else {
        legend.len()
    };
    let anchor = Pos::new(HPos::Left, VPos::Center);
    for (i, e) in legend.iter().take(shown).enumerate() {
        let cy = y + i as i32 * LEGEND_ROW_PX + LEGEND_ROW_PX / 2;
        let c = e.color.to_plotters();
        let swatch = match e.swatch {
            Swatch::Line(dash) => {
                let (on, off) = dash.pattern().unwrap_or((SWATCH_PX, 0));
                let mut start = x;
                while start < x + SWATCH_PX {
                    let end = (start + on).min(x + SWATCH_PX);
                    area.draw(&Rectangle::new(
                        [(start, cy - 2), (end, cy + 2)],
                        c.filled(),
                    ))
                    .map_err(draw_err)?;
                    start = end + off;
                }
                area.draw(&Text::new(
                    e.label.clone(),
                    (x + SWATCH_PX + 8, cy),
                    style.pos(anchor),
                ))
                .map_err(draw_err)?;
                continue;
            }
            Swatch::Marker => Rectangle::new(
                [
                    (x + SWATCH_PX / 2 - 5, cy - 5),
                    (x + SWATCH_PX / 2 + 5, cy + 5),
                ],
                c.filled(),
            ),
            Swatch::Area(layers) => {
                let fill = c.mix(crate::line::BAND_OPACITY).filled();
                for _ in 1..layers {
                    area.draw(&Rectangle::new(
                        [(x, cy - 6), (x + SWATCH_PX, cy + 6)],
                        fill,
                    ))
                    .map_err(draw_err)?;
                }
                Rectangle::new([(x, cy - 6), (x + SWATCH_PX, cy + 6)], fill)
            }
        };
        area.draw(&swatch).map_err(draw_err)?;
        area.draw(&Text::new(
            e.label.clone(),
            (x + SWATCH_PX + 8, cy),
            style.pos(anchor),
        ))
        .map_err(draw_err)?;
    }
    if shown < legend.len() {
        let cy = y + shown as i32 * LEGEND_ROW_PX + LEGEND_ROW_PX / 2;
        area.draw(&Text::new(
            format!("+{} more", legend.len() - shown),
            (x + SWATCH_PX + 8, cy),
            style.pos(anchor),
        ))
        .map_err(draw_err)?;
    }
    Ok(())
}
