use plotters::style::RGBColor;

/// An opaque 24-bit colour.
///
/// Charts pick colours from [`Rgb::palette`] unless a series or group sets its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rgb(pub u8, pub u8, pub u8);

/// The ten "tab10" colours (matplotlib's default cycle), distinct for most readers.
const TAB10: [Rgb; 10] = [
    Rgb(31, 119, 180),
    Rgb(255, 127, 14),
    Rgb(44, 160, 44),
    Rgb(214, 39, 40),
    Rgb(148, 103, 189),
    Rgb(140, 86, 75),
    Rgb(227, 119, 194),
    Rgb(127, 127, 127),
    Rgb(188, 189, 34),
    Rgb(23, 190, 207),
];

impl Rgb {
    /// Black.
    pub const BLACK: Rgb = Rgb(0, 0, 0);

    /// The `index`-th default colour: the ten tab10 colours, then hues spread by the golden
    /// angle so that any number of series gets distinct, deterministic colours.
    pub fn palette(index: usize) -> Rgb {
        if let Some(&c) = TAB10.get(index) {
            return c;
        }
        let k = (index - TAB10.len()) as f64;
        // Golden-angle hue steps never repeat and keep neighbours far apart on the wheel;
        // alternating lightness separates hues that do land close.
        let hue = (k * 137.507_764).rem_euclid(360.0);
        let lightness = if index.is_multiple_of(2) { 0.42 } else { 0.58 };
        hsl_to_rgb(hue, 0.65, lightness)
    }

    /// The colour as a `#rrggbb` string, as it appears in SVG output.
    pub fn to_hex(self) -> String {
        format!("#{:02X}{:02X}{:02X}", self.0, self.1, self.2)
    }

    pub(crate) fn to_plotters(self) -> RGBColor {
        RGBColor(self.0, self.1, self.2)
    }
}

fn hsl_to_rgb(hue: f64, saturation: f64, lightness: f64) -> Rgb {
    let c = (1.0 - (2.0 * lightness - 1.0).abs()) * saturation;
    let h = hue / 60.0;
    let x = c * (1.0 - (h.rem_euclid(2.0) - 1.0).abs());
    let (r, g, b) = match h as u32 {
        0 => (c, x, 0.0),
        1 => (x, c, 0.0),
        2 => (0.0, c, x),
        3 => (0.0, x, c),
        4 => (x, 0.0, c),
        _ => (c, 0.0, x),
    };
    let m = lightness - c / 2.0;
    let to_u8 = |v: f64| ((v + m) * 255.0).round().clamp(0.0, 255.0) as u8;
    Rgb(to_u8(r), to_u8(g), to_u8(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn palette_colours_are_distinct_for_many_series() {
        let colours: Vec<Rgb> = (0..40).map(Rgb::palette).collect();
        for (i, a) in colours.iter().enumerate() {
            for b in &colours[i + 1..] {
                assert_ne!(a, b);
            }
        }
    }

    #[test]
    fn hsl_primaries() {
        assert_eq!(hsl_to_rgb(0.0, 1.0, 0.5), Rgb(255, 0, 0));
        assert_eq!(hsl_to_rgb(120.0, 1.0, 0.5), Rgb(0, 255, 0));
        assert_eq!(hsl_to_rgb(240.0, 1.0, 0.5), Rgb(0, 0, 255));
    }

    #[test]
    fn hex_matches_svg_spelling() {
        assert_eq!(Rgb(31, 119, 180).to_hex(), "#1F77B4");
    }
}
