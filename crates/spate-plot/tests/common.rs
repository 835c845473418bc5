//! Helpers to inspect rendered images.

use std::path::Path;

use image::RgbImage;
use spate_plot::Rgb;

/// Decodes a PNG file, checking its signature first so a wrong format fails clearly.
pub(crate) fn read_png(path: &Path) -> RgbImage {
    let bytes = std::fs::read(path).expect("read png");
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "not a PNG signature");
    image::load_from_memory_with_format(&bytes, image::ImageFormat::Png)
        .expect("decode png")
        .to_rgb8()
}

/// Asserts the image has the size asked for and is not one flat colour.
pub(crate) fn assert_real_image(img: &RgbImage, width: u32, height: u32) {
    assert_eq!(img.dimensions(), (width, height));
    let mut colours: Vec<[u8; 3]> = img.pixels().map(|p| p.0).collect();
    colours.sort_unstable();
    colours.dedup();
    assert!(
        colours.len() > 10,
        "only {} distinct colours: nothing was drawn",
        colours.len()
    );
}

/// Pixel positions with exactly this colour.
pub(crate) fn pixels_of(img: &RgbImage, c: Rgb) -> Vec<(u32, u32)> {
    img.enumerate_pixels()
        .filter(|(_, _, p)| p.0 == [c.0, c.1, c.2])
        .map(|(x, y, _)| (x, y))
        .collect()
}

/// Pixel positions within `tol` of this colour on every channel.
pub(crate) fn pixels_near(img: &RgbImage, c: [u8; 3], tol: u8) -> Vec<(u32, u32)> {
    img.enumerate_pixels()
        .filter(|(_, _, p)| p.0.iter().zip(c).all(|(&a, b)| a.abs_diff(b) <= tol))
        .map(|(x, y, _)| (x, y))
        .collect()
}

/// Number of elements `<tag ...>` in an SVG document whose attributes contain `attr`.
pub(crate) fn count_tags(svg: &str, tag: &str, attr: &str) -> usize {
    let open = format!("<{tag} ");
    svg.match_indices(&open)
        .filter(|(i, _)| {
            let rest = &svg[*i..];
            let end = rest.find('>').unwrap_or(rest.len());
            rest[..end].contains(attr)
        })
        .count()
}

/// Whether a `<text>` element holds exactly this text.
pub(crate) fn has_text(svg: &str, text: &str) -> bool {
    svg.split("<text").skip(1).any(|t| {
        t.split_once('>')
            .and_then(|(_, body)| body.split_once("</text>"))
            .is_some_and(|(body, _)| body.trim() == text)
    })
}

/// `stroke="#RRGGBB"` for a colour, as plotters writes it.
pub(crate) fn stroke(c: Rgb) -> String {
    format!("stroke=\"{}\"", c.to_hex())
}

/// `fill="#RRGGBB"` for a colour, as plotters writes it.
pub(crate) fn fill(c: Rgb) -> String {
    format!("fill=\"{}\"", c.to_hex())
}

/// Copies a rendered file to `$SPATE_PLOT_KEEP` when that is set, to look at it by eye.
pub(crate) fn keep(path: &Path) {
    if let Some(dir) = std::env::var_os("SPATE_PLOT_KEEP") {
        let dir = Path::new(&dir);
        if let Some(name) = path.file_name() {
            let _ = std::fs::create_dir_all(dir);
            let _ = std::fs::copy(path, dir.join(name));
        }
    }
}
