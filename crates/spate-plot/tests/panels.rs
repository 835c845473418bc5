use spate_plot::{Format, LineChart, Panels, PlotError, Rgb, Series};

use crate::common::{assert_real_image, count_tags, has_text, keep, pixels_of, read_png, stroke};

const GREEN: Rgb = Rgb(0, 160, 60);
const PURPLE: Rgb = Rgb(130, 30, 160);
const ORANGE: Rgb = Rgb(240, 130, 0);

fn metrics() -> Panels {
    let n = 60;
    let processing: Vec<f64> = (0..n)
        .map(|b| 40.0 + 10.0 * ((b as f64) / 5.0).sin())
        .collect();
    let delay: Vec<f64> = (0..n)
        .map(|b| if b > 40 { (b - 40) as f64 * 3.0 } else { 0.0 })
        .collect();
    let rate: Vec<f64> = (0..n).map(|b| 20_000.0 + 500.0 * (b % 7) as f64).collect();
    Panels::new("Batch metrics")
        .panel(
            LineChart::new("")
                .y_label("processing (ms)")
                .series(Series::from_values("processing time", processing).color(GREEN)),
        )
        .panel(
            LineChart::new("")
                .y_label("delay (ms)")
                .series(Series::from_values("scheduling delay", delay).color(PURPLE)),
        )
        .panel(
            LineChart::new("")
                .y_label("records/s")
                .x_label("batch")
                .series(Series::from_values("input rate", rate).color(ORANGE)),
        )
        .width(800)
        .panel_height(200)
}

#[test]
fn panels_stack_charts_top_to_bottom() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("metrics.png");
    let summary = metrics().save(&path).unwrap();
    keep(&path);
    assert_eq!(summary.points_drawn, 180);
    let img = read_png(&path);
    assert_real_image(&img, 800, 40 + 3 * 200);
    let mean_y = |c: Rgb| {
        let px = pixels_of(&img, c);
        assert!(px.len() > 300, "{c:?}: {} px", px.len());
        px.iter().map(|p| p.1 as f64).sum::<f64>() / px.len() as f64
    };
    let (g, p, o) = (mean_y(GREEN), mean_y(PURPLE), mean_y(ORANGE));
    assert!(40.0 < g && g < 240.0, "{g}");
    assert!(240.0 < p && p < 440.0, "{p}");
    assert!(440.0 < o && o < 640.0, "{o}");
}

#[test]
fn panels_svg_has_each_series_and_title() {
    let out = metrics().render(Format::Svg).unwrap();
    let svg = String::from_utf8(out.bytes).unwrap();
    for c in [GREEN, PURPLE, ORANGE] {
        assert_eq!(count_tags(&svg, "polyline", &stroke(c)), 1);
    }
    assert!(has_text(&svg, "Batch metrics"));
    assert!(has_text(&svg, "records/s"));
}

#[test]
fn an_empty_panel_shows_no_data_but_the_rest_render() {
    let panels = Panels::new("")
        .panel(LineChart::new("ok").series(Series::from_values("a", [1.0, 2.0]).color(GREEN)))
        .panel(LineChart::new("missing").series(Series::from_values("b", [f64::NAN; 3])));
    let out = panels.render(Format::Svg).unwrap();
    assert_eq!(out.summary.points_drawn, 2);
    assert_eq!(out.summary.skipped_non_finite, 3);
    let svg = String::from_utf8(out.bytes).unwrap();
    assert!(has_text(&svg, "missing"));
    assert!(has_text(&svg, "no drawable points (3 skipped)"));

    let all_empty = Panels::new("")
        .panel(LineChart::new("a"))
        .panel(LineChart::new("b"));
    assert!(matches!(
        all_empty.render(Format::Png),
        Err(PlotError::EmptyData { .. })
    ));
}

#[test]
fn panels_need_a_panel_and_a_usable_height() {
    assert!(matches!(
        Panels::new("t").render(Format::Png),
        Err(PlotError::EmptyData { chart: "panels" })
    ));
    let tiny = Panels::new("t")
        .panel(LineChart::new("").series(Series::from_values("a", [1.0])))
        .panel_height(10);
    assert!(matches!(
        tiny.render(Format::Png),
        Err(PlotError::InvalidSize { .. })
    ));
}
