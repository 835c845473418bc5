//! Several line charts stacked in one image, e.g. processing time, scheduling delay and
//! input rate per batch, each on its own y scale.

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::error::PlotError;
use crate::frame::{draw_placeholder, y_label_area};
use crate::line::LineChart;
use crate::output::{Draw, MAX_SIDE, MIN_SIDE, RenderSummary, output_methods};

const TITLE_PX: f64 = 24.0;

/// Line charts stacked vertically in one image, their plot areas aligned on the left.
///
/// Each panel keeps its own title, axis labels, scales and legend; its own
/// [`size`](LineChart::size) is ignored in favour of the panels' width and panel height.
/// A panel with nothing drawable shows "no data" instead of failing the whole image;
/// rendering fails only when every panel is empty.
///
/// # Example
///
/// ```
/// use spate_plot::{LineChart, Panels, Series};
///
/// let processing_ms = [12.0, 15.0, 11.0, 30.0];
/// let delay_ms = [0.0, 0.0, 3.0, 18.0];
/// let panels = Panels::new("Batch metrics")
///     .panel(LineChart::new("").y_label("processing (ms)")
///         .series(Series::from_values("processing", processing_ms)))
///     .panel(LineChart::new("").y_label("delay (ms)").x_label("batch")
///         .series(Series::from_values("scheduling delay", delay_ms)));
/// let dir = tempfile::tempdir()?;
/// panels.save(dir.path().join("metrics.png"))?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Panels {
    title: String,
    panels: Vec<LineChart>,
    width: u32,
    panel_height: u32,
}

impl Panels {
    /// No panels yet, with an overall title (may be empty).
    pub fn new(title: impl Into<String>) -> Self {
        Panels {
            title: title.into(),
            panels: Vec::new(),
            width: 900,
            panel_height: 260,
        }
    }

    /// Adds a panel below the previous ones.
    pub fn panel(mut self, chart: LineChart) -> Self {
        self.panels.push(chart);
        self
    }

    /// Sets the image width in pixels (default 900).
    pub fn width(mut self, width: u32) -> Self {
        self.width = width;
        self
    }

    /// Sets the height of each panel in pixels (default 260); the image is as tall as the
    /// panels plus the title.
    pub fn panel_height(mut self, height: u32) -> Self {
        self.panel_height = height;
        self
    }

    output_methods!();

    fn title_height(&self) -> u32 {
        if self.title.is_empty() { 0 } else { 40 }
    }
}

impl Draw for Panels {
    fn check(&self) -> Result<(), PlotError> {
        if self.panels.is_empty() {
            return Err(PlotError::EmptyData { chart: "panels" });
        }
        if self.panel_height < MIN_SIDE {
            return Err(PlotError::InvalidSize {
                width: self.width,
                height: self.panel_height,
                min: MIN_SIDE,
                max: MAX_SIDE,
            });
        }
        Ok(())
    }

    fn size(&self) -> (u32, u32) {
        let panels = u32::try_from(self.panels.len()).unwrap_or(u32::MAX);
        let height = panels
            .saturating_mul(self.panel_height)
            .saturating_add(self.title_height());
        (self.width, height)
    }

    fn draw_on<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
    ) -> Result<RenderSummary, PlotError> {
        let body = if self.title.is_empty() {
            area.clone()
        } else {
            let (w, _) = area.dim_in_pixel();
            let (top, rest) = area.split_vertically(self.title_height());
            top.draw(&Text::new(
                self.title.clone(),
                (w as i32 / 2, self.title_height() as i32 / 2),
                (crate::output::FONT, TITLE_PX)
                    .into_font()
                    .color(&BLACK)
                    .pos(plotters::style::text_anchor::Pos::new(
                        plotters::style::text_anchor::HPos::Center,
                        plotters::style::text_anchor::VPos::Center,
                    )),
            ))
            .map_err(crate::frame::draw_err)?;
            rest
        };
        let cells = body.split_evenly((self.panels.len(), 1));
        let prepared: Vec<_> = self
            .panels
            .iter()
            .zip(&cells)
            .map(|(chart, cell)| chart.prepare(cell.dim_in_pixel()))
            .collect();

        let mut y_area = 0;
        for ((chart, cell), p) in self.panels.iter().zip(&cells).zip(&prepared) {
            if let Ok(p) = p {
                y_area = y_area.max(y_label_area(cell, &chart.frame, &p.y)?);
            }
        }

        let mut summary = RenderSummary::default();
        let mut first_empty = None;
        let mut drawn = 0;
        for ((chart, cell), p) in self.panels.iter().zip(&cells).zip(prepared) {
            match p {
                Ok(p) => {
                    chart.draw_prepared(cell, &p, Some(y_area))?;
                    summary.add(p.summary);
                    drawn += 1;
                }
                Err(e @ (PlotError::EmptyData { .. } | PlotError::NoFiniteData { .. })) => {
                    if let PlotError::NoFiniteData {
                        non_finite,
                        non_positive,
                    } = e
                    {
                        summary.skipped_non_finite += non_finite;
                        summary.skipped_non_positive += non_positive;
                    }
                    let message = match e {
                        PlotError::NoFiniteData {
                            non_finite,
                            non_positive,
                        } => format!("no drawable points ({} skipped)", non_finite + non_positive),
                        _ => "no data".to_string(),
                    };
                    draw_placeholder(cell, &chart.frame.title, &message)?;
                    first_empty.get_or_insert(e);
                }
                Err(e) => return Err(e),
            }
        }
        match first_empty {
            Some(e) if drawn == 0 => Err(e),
            _ => Ok(summary),
        }
    }
}
