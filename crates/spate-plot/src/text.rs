//! Bitmap text laid out with ab_glyph directly.
//!
//! plotters 0.3.7's `ab_glyph` font path draws each glyph at the left edge of its ink box
//! instead of at the pen position plus the glyph's left side bearing, so narrow glyphs drift
//! left: "1000" prints as "1 000", "0.01" as "0.0 1". Tick labels are mostly digits, so
//! [`GlyphText`] wraps the bitmap backend and replaces text measuring and drawing with a
//! correct layout; every other drawing call goes straight to the wrapped backend.

use std::sync::OnceLock;

use ab_glyph::{Font, FontRef, PxScale, ScaleFont, point};
use plotters_backend::text_anchor::{HPos, VPos};
use plotters_backend::{
    BackendColor, BackendCoord, BackendStyle, BackendTextStyle, DrawingBackend, DrawingErrorKind,
};

use crate::output::FONT_BYTES;

fn font() -> Option<&'static FontRef<'static>> {
    static FONT: OnceLock<Option<FontRef<'static>>> = OnceLock::new();
    FONT.get_or_init(|| FontRef::try_from_slice(FONT_BYTES).ok())
        .as_ref()
}

/// Whether the bundled font parses; checked once before the first render.
pub(crate) fn font_loads() -> bool {
    font().is_some()
}

/// A glyph's coverage as `(x, y, coverage)` relative to the text's top-left corner.
struct Line {
    width: f32,
    height: f32,
    pixels: Vec<(i32, i32, f32)>,
}

fn measure(font: &FontRef<'static>, size: f64, text: &str) -> (f32, f32) {
    let scaled = font.as_scaled(PxScale::from(size as f32));
    let mut width = 0.0;
    let mut prev = None;
    for c in text.chars() {
        let id = scaled.glyph_id(c);
        if let Some(p) = prev {
            width += scaled.kern(p, id);
        }
        width += scaled.h_advance(id);
        prev = Some(id);
    }
    (width, scaled.ascent() - scaled.descent())
}

fn rasterize(font: &FontRef<'static>, size: f64, text: &str) -> Line {
    let scaled = font.as_scaled(PxScale::from(size as f32));
    let mut pixels = Vec::new();
    let mut caret = 0.0;
    let mut prev = None;
    for c in text.chars() {
        let id = scaled.glyph_id(c);
        if let Some(p) = prev {
            caret += scaled.kern(p, id);
        }
        let glyph = id.with_scale_and_position(scaled.scale(), point(caret, scaled.ascent()));
        if let Some(outline) = scaled.outline_glyph(glyph) {
            let bounds = outline.px_bounds();
            let (x0, y0) = (bounds.min.x as i32, bounds.min.y as i32);
            outline.draw(|x, y, coverage| {
                if coverage > 0.0 {
                    pixels.push((x0 + x as i32, y0 + y as i32, coverage.min(1.0)));
                }
            });
        }
        caret += scaled.h_advance(id);
        prev = Some(id);
    }
    Line {
        width: caret,
        height: scaled.ascent() - scaled.descent(),
        pixels,
    }
}

/// A bitmap backend whose text is drawn from the bundled font with correct glyph placement.
pub(crate) struct GlyphText<B> {
    inner: B,
}

impl<B: DrawingBackend> GlyphText<B> {
    pub(crate) fn new(inner: B) -> Self {
        GlyphText { inner }
    }
}

impl<B: DrawingBackend> DrawingBackend for GlyphText<B> {
    type ErrorType = B::ErrorType;

    fn get_size(&self) -> (u32, u32) {
        self.inner.get_size()
    }

    fn ensure_prepared(&mut self) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.ensure_prepared()
    }

    fn present(&mut self) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.present()
    }

    fn draw_pixel(
        &mut self,
        point: BackendCoord,
        color: BackendColor,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.draw_pixel(point, color)
    }

    fn draw_line<S: BackendStyle>(
        &mut self,
        from: BackendCoord,
        to: BackendCoord,
        style: &S,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.draw_line(from, to, style)
    }

    fn draw_rect<S: BackendStyle>(
        &mut self,
        upper_left: BackendCoord,
        bottom_right: BackendCoord,
        style: &S,
        fill: bool,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.draw_rect(upper_left, bottom_right, style, fill)
    }

    fn draw_path<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        path: I,
        style: &S,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.draw_path(path, style)
    }

    fn draw_circle<S: BackendStyle>(
        &mut self,
        center: BackendCoord,
        radius: u32,
        style: &S,
        fill: bool,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.draw_circle(center, radius, style, fill)
    }

    fn fill_polygon<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        vert: I,
        style: &S,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.fill_polygon(vert, style)
    }

    fn blit_bitmap(
        &mut self,
        pos: BackendCoord,
        size: (u32, u32),
        src: &[u8],
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.inner.blit_bitmap(pos, size, src)
    }

    fn estimate_text_size<S: BackendTextStyle>(
        &self,
        text: &str,
        style: &S,
    ) -> Result<(u32, u32), DrawingErrorKind<Self::ErrorType>> {
        match font() {
            Some(f) => {
                let (w, h) = measure(f, style.size(), text);
                Ok((w.ceil() as u32, h.ceil() as u32))
            }
            None => self.inner.estimate_text_size(text, style),
        }
    }

    fn draw_text<S: BackendTextStyle>(
        &mut self,
        text: &str,
        style: &S,
        pos: BackendCoord,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        let Some(f) = font() else {
            return self.inner.draw_text(text, style, pos);
        };
        let color = style.color();
        if color.alpha == 0.0 {
            return Ok(());
        }
        let line = rasterize(f, style.size(), text);
        let (w, h) = (line.width.round() as i32, line.height.round() as i32);
        // Anchors as in plotters' default `draw_text`, so layouts computed from
        // `estimate_text_size` line up.
        let dx = match style.anchor().h_pos {
            HPos::Left => 0,
            HPos::Right => -w,
            HPos::Center => -w / 2,
        };
        let dy = match style.anchor().v_pos {
            VPos::Top => 0,
            VPos::Center => -h / 2,
            VPos::Bottom => -h,
        };
        let transform = style.transform();
        let (width, height) = self.get_size();
        for (x, y, coverage) in line.pixels {
            let (tx, ty) = transform.transform(x + dx, y + dy);
            let (px, py) = (pos.0 + tx, pos.1 + ty);
            if px >= 0 && py >= 0 && px < width as i32 && py < height as i32 {
                self.inner
                    .draw_pixel((px, py), color.mix(f64::from(coverage)))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Columns with ink in a rasterized string.
    fn ink_columns(text: &str) -> Vec<bool> {
        let f = font().expect("bundled font parses");
        let line = rasterize(f, 40.0, text);
        let mut cols = vec![false; line.width.ceil() as usize + 2];
        for (x, _, c) in line.pixels {
            if c > 0.3
                && let Some(col) = usize::try_from(x).ok().and_then(|x| cols.get_mut(x))
            {
                *col = true;
            }
        }
        cols
    }

    /// Widest run of blank columns between the first and last inked column.
    fn widest_gap(cols: &[bool]) -> usize {
        let first = cols.iter().position(|&c| c).unwrap_or(0);
        let last = cols.iter().rposition(|&c| c).unwrap_or(0);
        cols[first..=last]
            .split(|&c| c)
            .map(<[bool]>::len)
            .max()
            .unwrap_or(0)
    }

    #[test]
    fn digit_one_is_spaced_like_other_digits() {
        // In DejaVu Sans all digits share one advance width; "1" has a wide left side
        // bearing. Placed correctly, the gap after it is no wider than between zeros by
        // more than a couple of pixels; placed by its ink box it opens a visible hole.
        let ones = widest_gap(&ink_columns("1000"));
        let zeros = widest_gap(&ink_columns("0000"));
        assert!(
            ones <= zeros + 4,
            "gap after 1: {ones} px, between 0s: {zeros} px"
        );
    }

    #[test]
    fn measured_width_matches_rasterized_extent() {
        let f = font().expect("bundled font parses");
        let (w, h) = measure(f, 20.0, "node 1019");
        let line = rasterize(f, 20.0, "node 1019");
        assert!((w - line.width).abs() < 1e-3);
        let max_x = line.pixels.iter().map(|p| p.0).max().unwrap_or(0);
        assert!((max_x as f32) <= w + 1.0);
        // ab_glyph scales so that ascent − descent is the requested size.
        assert!((h - 20.0).abs() < 0.01, "{h}");
    }
}
