//! Image formats, the bundled font, and rendering a chart to bytes or a file.

use std::path::Path;
use std::sync::OnceLock;

use image::ImageEncoder;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::FontStyle;

use crate::error::PlotError;
use crate::frame::draw_err;
use crate::text::GlyphText;

/// Font family name the charts ask for. The bundled font is registered under the generic
/// name so that SVG output, which names the family instead of embedding glyphs, falls back
/// to the viewer's own sans-serif font.
pub(crate) const FONT: &str = "sans-serif";

/// DejaVu Sans 2.37; see `fonts/LICENSE-DejaVu.txt`.
pub(crate) static FONT_BYTES: &[u8] = include_bytes!("../fonts/DejaVuSans.ttf");

/// Smallest accepted image side in pixels: below this, axis labels leave no room to plot.
pub const MIN_SIDE: u32 = 120;
/// Largest accepted image side in pixels (the RGB buffer of a square image this size is
/// 200 MB).
pub const MAX_SIDE: u32 = 8192;

/// An output image format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Portable Network Graphics, 8-bit RGB.
    Png,
    /// Scalable Vector Graphics; text is stored as text in the `sans-serif` family.
    Svg,
}

impl Format {
    /// The format named by the path's extension (`png` or `svg`, any case).
    pub fn from_path(path: &Path) -> Result<Format, PlotError> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("png") => Ok(Format::Png),
            Some("svg") => Ok(Format::Svg),
            _ => Err(PlotError::UnsupportedExtension {
                path: path.to_path_buf(),
            }),
        }
    }
}

/// What a render drew and what it had to leave out.
///
/// A point is one `(x, y)` of a series, group or trajectory, or one `(x, lo, hi)` of a band.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RenderSummary {
    /// Points drawn.
    pub points_drawn: usize,
    /// Points skipped because a coordinate was NaN or infinite.
    pub skipped_non_finite: usize,
    /// Points skipped because a coordinate was ≤ 0 on a logarithmic axis.
    pub skipped_non_positive: usize,
}

impl RenderSummary {
    /// Total points that were given but could not be drawn.
    pub fn skipped(&self) -> usize {
        self.skipped_non_finite + self.skipped_non_positive
    }

    pub(crate) fn add(&mut self, other: RenderSummary) {
        self.points_drawn += other.points_drawn;
        self.skipped_non_finite += other.skipped_non_finite;
        self.skipped_non_positive += other.skipped_non_positive;
    }
}

/// An encoded image held in memory.
#[derive(Debug, Clone)]
pub struct Rendered {
    /// Its format.
    pub format: Format,
    /// The PNG file's bytes, or the SVG document as UTF-8.
    pub bytes: Vec<u8>,
    /// What was drawn and skipped.
    pub summary: RenderSummary,
}

/// Implemented by every chart: the size it wants and how to draw itself onto an area.
pub(crate) trait Draw {
    /// Configuration errors that must be reported before the size is even known.
    fn check(&self) -> Result<(), PlotError> {
        Ok(())
    }
    fn size(&self) -> (u32, u32);
    fn draw_on<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
    ) -> Result<RenderSummary, PlotError>;
}

fn check_size((width, height): (u32, u32)) -> Result<(), PlotError> {
    let ok = |side| (MIN_SIDE..=MAX_SIDE).contains(&side);
    if ok(width) && ok(height) {
        Ok(())
    } else {
        Err(PlotError::InvalidSize {
            width,
            height,
            min: MIN_SIDE,
            max: MAX_SIDE,
        })
    }
}

fn ensure_font() -> Result<(), PlotError> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        plotters::style::register_font(FONT, FontStyle::Normal, FONT_BYTES).is_ok()
            && crate::text::font_loads()
    });
    if ok {
        Ok(())
    } else {
        Err(PlotError::render(
            "the bundled DejaVu Sans font failed to load",
        ))
    }
}

fn draw_root<DB: DrawingBackend, C: Draw>(
    chart: &C,
    root: DrawingArea<DB, Shift>,
) -> Result<RenderSummary, PlotError> {
    root.fill(&WHITE).map_err(draw_err)?;
    let summary = chart.draw_on(&root)?;
    root.present().map_err(draw_err)?;
    Ok(summary)
}

pub(crate) fn render<C: Draw>(chart: &C, format: Format) -> Result<Rendered, PlotError> {
    chart.check()?;
    let (width, height) = chart.size();
    check_size((width, height))?;
    ensure_font()?;
    let (bytes, summary) = match format {
        Format::Png => {
            let mut rgb = vec![255u8; width as usize * height as usize * 3];
            let summary = draw_root(
                chart,
                GlyphText::new(BitMapBackend::with_buffer(&mut rgb, (width, height)))
                    .into_drawing_area(),
            )?;
            let mut png = Vec::new();
            image::codecs::png::PngEncoder::new(&mut png)
                .write_image(&rgb, width, height, image::ColorType::Rgb8)
                .map_err(PlotError::render)?;
            (png, summary)
        }
        Format::Svg => {
            let mut svg = String::new();
            let summary = draw_root(
                chart,
                SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area(),
            )?;
            (svg.into_bytes(), summary)
        }
    };
    if summary.skipped() > 0 {
        tracing::warn!(
            non_finite = summary.skipped_non_finite,
            non_positive = summary.skipped_non_positive,
            "some points could not be drawn and were skipped"
        );
    }
    Ok(Rendered {
        format,
        bytes,
        summary,
    })
}

pub(crate) fn save<C: Draw>(chart: &C, path: &Path) -> Result<RenderSummary, PlotError> {
    let format = Format::from_path(path)?;
    let rendered = render(chart, format)?;
    write_atomic(path, &rendered.bytes).map_err(|source| PlotError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(rendered.summary)
}

/// Writes `bytes` to `path` through a temporary in the same directory (random name, created
/// exclusively, so a planted symbolic link cannot redirect the write), fsynced and renamed
/// over `path`: a failed write (a full disk) leaves the previous image in place.
fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = match path.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(dir) => dir,
        None => Path::new("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // The permissions of a file created the usual way (0666 less the umask), not
    // tempfile's private 0600, which the renamed image would keep. (spate-core's
    // `codec::output_tempfile` does the same; this crate does not depend on it.)
    let prefix = format!(".{name}.");
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    let mut tmp = builder.tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    std::fs::File::open(dir).and_then(|d| d.sync_all())
}

/// Generates `save` and `render` for a chart type implementing [`Draw`].
macro_rules! output_methods {
    () => {
        /// Renders the chart and writes it to `path`, as PNG or SVG by the file extension.
        ///
        /// Returns how many points were drawn and skipped. Fails without writing anything
        /// on a configuration or data error; see [`PlotError`](crate::PlotError).
        pub fn save(
            &self,
            path: impl AsRef<std::path::Path>,
        ) -> Result<crate::RenderSummary, crate::PlotError> {
            crate::output::save(self, path.as_ref())
        }

        /// Renders the chart in memory, e.g. to embed it or send it elsewhere.
        pub fn render(&self, format: crate::Format) -> Result<crate::Rendered, crate::PlotError> {
            crate::output::render(self, format)
        }
    };
}
pub(crate) use output_methods;

#[cfg(test)]
mod tests {
    use super::*;

    /// Guards the "no system font library" property. The bundled font is registered under a
    /// family name no system has; only plotters' `ab_glyph` backend can find it. If any crate
    /// in the build enables plotters' `ttf` feature (font-kit, which needs fontconfig and
    /// freetype), text lookups go to the system instead and this test fails.
    #[test]
    fn text_is_rendered_from_the_bundled_font() {
        const PROBE: &str = "spate-bundled-font-probe";
        assert!(plotters::style::register_font(PROBE, FontStyle::Normal, FONT_BYTES).is_ok());
        let (w, h) = (200u32, 60u32);
        let mut rgb = vec![255u8; (w * h * 3) as usize];
        {
            let root = BitMapBackend::with_buffer(&mut rgb, (w, h)).into_drawing_area();
            let style = (PROBE, 30.0).into_font().color(&BLACK);
            root.draw(&Text::new("Spate", (10, 10), style))
                .expect("plotters must find the registered font; is its `ttf` feature on?");
            root.present().expect("present");
        }
        let dark = rgb.chunks(3).filter(|p| p.iter().all(|&c| c < 100)).count();
        assert!(dark > 100, "only {dark} dark pixels: no text was drawn");
    }

    #[test]
    fn extensions() {
        assert_eq!(
            Format::from_path(Path::new("a/b.PNG")).ok(),
            Some(Format::Png)
        );
        assert_eq!(
            Format::from_path(Path::new("b.svg")).ok(),
            Some(Format::Svg)
        );
        for bad in ["b.jpg", "b", "png", "b.png.gz"] {
            assert!(matches!(
                Format::from_path(Path::new(bad)),
                Err(PlotError::UnsupportedExtension { .. })
            ));
        }
    }
}
