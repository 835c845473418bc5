use spate_plot::{Band, Dash, Format, LegendPosition, LineChart, Rgb, Series};

use crate::common::{
    assert_real_image, count_tags, fill, has_text, keep, pixels_near, pixels_of, read_png, stroke,
};

const RED: Rgb = Rgb(220, 20, 30);
const BLUE: Rgb = Rgb(20, 60, 200);

/// Two horizontal lines at known heights on fixed axes, so where their pixels must land
/// is known.
fn two_levels() -> LineChart {
    LineChart::new("Two levels")
        .x_label("batch")
        .y_label("value")
        .x_range(0.0, 10.0)
        .y_range(0.0, 10.0)
        .legend(LegendPosition::Hidden)
        .size(640, 400)
        .series(Series::new("high", [(0.0, 7.5), (10.0, 7.5)]).color(RED))
        .series(Series::new("low", [(0.0, 2.5), (5.0, 2.5), (10.0, 2.5)]).color(BLUE))
}

#[test]
fn png_lines_are_drawn_where_the_data_are() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("levels.png");
    let summary = two_levels().save(&path).unwrap();
    keep(&path);
    assert_eq!(summary.points_drawn, 5);
    assert_eq!(summary.skipped(), 0);

    let img = read_png(&path);
    assert_real_image(&img, 640, 400);
    let red = pixels_of(&img, RED);
    let blue = pixels_of(&img, BLUE);
    assert!(
        red.len() > 500 && blue.len() > 500,
        "{} {}",
        red.len(),
        blue.len()
    );

    // Each line is horizontal (≤ 3 px thick) and spans most of the width.
    for px in [&red, &blue] {
        let (ys, xs): (Vec<u32>, Vec<u32>) = px.iter().map(|&(x, y)| (y, x)).unzip();
        assert!(ys.iter().max().unwrap() - ys.iter().min().unwrap() <= 3);
        assert!(xs.iter().max().unwrap() - xs.iter().min().unwrap() > 400);
    }
    // y = 7.5 is above y = 2.5, and both are inside the image's vertical extent.
    let mean_y = |px: &[(u32, u32)]| px.iter().map(|p| p.1 as f64).sum::<f64>() / px.len() as f64;
    let (ry, by) = (mean_y(&red), mean_y(&blue));
    assert!(ry < by, "red at {ry}, blue at {by}");
    // On a 0..10 axis the lines at 2.5 and 7.5 are half the plot height apart.
    assert!(by - ry > 0.25 * 400.0);
}

#[test]
fn svg_has_one_polyline_per_series_and_the_title() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("levels.svg");
    two_levels().save(&path).unwrap();
    let svg = std::fs::read_to_string(&path).unwrap();
    assert!(svg.starts_with("<svg"));
    assert!(svg.contains("width=\"640\"") && svg.contains("height=\"400\""));
    assert_eq!(count_tags(&svg, "polyline", &stroke(RED)), 1);
    // The second series is dashed by default: one short polyline per dash.
    assert!(count_tags(&svg, "polyline", &stroke(BLUE)) > 10);
    assert_eq!(count_tags(&svg, "circle", ""), 0);
    assert!(has_text(&svg, "Two levels"));
    assert!(has_text(&svg, "batch") && has_text(&svg, "value"));
    // Round tick labels on a 0..10 axis.
    for t in ["0", "2", "4", "6", "8", "10"] {
        assert!(has_text(&svg, t), "tick {t} missing");
    }
}

#[test]
fn bands_are_translucent_and_nested_bands_darker() {
    let mean: Vec<(f64, f64, f64)> = (0..40).map(|i| (i as f64, 0.0, 0.0)).collect();
    let series = Series::new("mean", mean.iter().map(|&(x, m, _)| (x, m)))
        .color(BLUE)
        .band(Band::new(
            "p05–p95",
            mean.iter().map(|&(x, m, _)| (x, m - 2.0, m + 2.0)),
        ))
        .band(Band::symmetric(
            "p25–p75",
            mean.iter().map(|&(x, m, _)| (x, m, 1.0)),
        ));
    let chart = LineChart::new("Bands")
        .series(series)
        .legend(LegendPosition::LowerRight);

    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("bands.png");
    let summary = chart.save(&png).unwrap();
    keep(&png);
    assert_eq!(summary.points_drawn, 120);

    let img = read_png(&png);
    assert_real_image(&img, 900, 500);
    // One band over white: 255 + 0.18·(c − 255) per channel; two bands: applied twice.
    let once = |c: u8| (255.0 + 0.18 * (c as f64 - 255.0)).round() as u8;
    let twice = |c: u8| (once(c) as f64 + 0.18 * (c as f64 - once(c) as f64)).round() as u8;
    let outer = pixels_near(&img, [once(BLUE.0), once(BLUE.1), once(BLUE.2)], 3);
    let inner = pixels_near(&img, [twice(BLUE.0), twice(BLUE.1), twice(BLUE.2)], 3);
    assert!(outer.len() > 5_000, "outer band: {} px", outer.len());
    assert!(inner.len() > 5_000, "inner band: {} px", inner.len());
    let mean_y = |px: &[(u32, u32)]| px.iter().map(|p| p.1 as f64).sum::<f64>() / px.len() as f64;
    // Both bands are centred on the same line.
    assert!((mean_y(&outer) - mean_y(&inner)).abs() < 20.0);

    let svg_path = dir.path().join("bands.svg");
    chart.save(&svg_path).unwrap();
    keep(&svg_path);
    let svg = std::fs::read_to_string(&svg_path).unwrap();
    assert_eq!(count_tags(&svg, "polygon", &fill(BLUE)), 2);
    assert_eq!(count_tags(&svg, "polyline", &stroke(BLUE)), 1);
    for label in ["mean", "p05–p95", "p25–p75"] {
        assert!(has_text(&svg, label), "legend entry {label} missing");
    }
}

#[test]
fn log_log_power_law_is_a_straight_line() {
    let chart = LineChart::new("Update time vs batch size")
        .x_label("batch size (edges)")
        .y_label("time (ms)")
        .log_x(true)
        .log_y(true)
        .legend(LegendPosition::UpperLeft)
        .series(
            Series::new(
                "incremental",
                [1.0, 10.0, 100.0, 1e3, 1e4].map(|b| (b, 0.01 * b)),
            )
            .color(RED)
            .markers(true),
        )
        .series(
            Series::new(
                "full recompute",
                [1.0, 10.0, 100.0, 1e3, 1e4].map(|b| (b, 50.0)),
            )
            .color(BLUE)
            .markers(true),
        );
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("loglog.png");
    chart.save(&png).unwrap();
    keep(&png);
    assert_real_image(&read_png(&png), 900, 500);

    // Without the legend, whose swatch shares the colour, for the geometric check.
    chart
        .clone()
        .legend(LegendPosition::Hidden)
        .save(&png)
        .unwrap();
    let img = read_png(&png);
    assert_real_image(&img, 900, 500);

    // y ∝ x is a straight line in log-log: pixel y is affine in pixel x.
    let red = pixels_of(&img, RED);
    let n = red.len() as f64;
    let (mx, my) = red
        .iter()
        .fold((0.0, 0.0), |(a, b), &(x, y)| (a + x as f64, b + y as f64));
    let (mx, my) = (mx / n, my / n);
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for &(x, y) in &red {
        let (dx, dy) = (x as f64 - mx, y as f64 - my);
        sxy += dx * dy;
        sxx += dx * dx;
        syy += dy * dy;
    }
    let r = sxy / (sxx * syy).sqrt();
    assert!(r < -0.99, "correlation {r}: not a rising straight line");

    let svg_path = dir.path().join("loglog.svg");
    chart.save(&svg_path).unwrap();
    let svg = std::fs::read_to_string(&svg_path).unwrap();
    // A marker per point for both series.
    assert_eq!(count_tags(&svg, "circle", &fill(RED)), 5);
    assert_eq!(count_tags(&svg, "circle", &fill(BLUE)), 5);
    for t in ["1", "10", "100", "1000", "10000"] {
        assert!(has_text(&svg, t), "decade label {t} missing");
    }
}

#[test]
fn log_axis_skips_non_positive_points_and_counts_them() {
    let chart = LineChart::new("")
        .log_y(true)
        .series(Series::from_values("count", [0.0, 1.0, 10.0, -5.0, 100.0]));
    let out = chart.render(Format::Svg).unwrap();
    assert_eq!(out.summary.points_drawn, 3);
    assert_eq!(out.summary.skipped_non_positive, 2);
    assert_eq!(out.summary.skipped_non_finite, 0);
}

#[test]
fn non_finite_points_break_the_line_and_are_counted() {
    let chart = LineChart::new("gap").legend(LegendPosition::Hidden).series(
        Series::from_values("rmse", [1.0, 0.8, f64::NAN, 0.6, 0.5, f64::INFINITY, 0.4]).color(RED),
    );
    let out = chart.render(Format::Svg).unwrap();
    assert_eq!(out.summary.points_drawn, 5);
    assert_eq!(out.summary.skipped_non_finite, 2);
    let svg = String::from_utf8(out.bytes).unwrap();
    // Runs [1.0, 0.8] and [0.6, 0.5] are lines; the lone 0.4 is a marker.
    assert_eq!(count_tags(&svg, "polyline", &stroke(RED)), 2);
    assert_eq!(count_tags(&svg, "circle", &fill(RED)), 1);
}

#[test]
fn degenerate_data_render_without_error() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("constant", Series::from_values("c", [3.0; 20])),
        ("single", Series::new("one", [(5.0, 5.0)])),
        ("zero", Series::from_values("z", [0.0, 0.0])),
        ("huge", Series::from_values("h", [1e300, 1e300])),
        ("tiny-range", Series::from_values("t", [1e9, 1e9 + 1e-6])),
        (
            "extremes",
            Series::from_values("e", [f64::MAX, -f64::MAX, f64::MIN_POSITIVE]),
        ),
    ];
    for (name, series) in cases {
        let chart = LineChart::new(name)
            .series(series.color(RED))
            .series(Series::new("empty", []));
        let path = dir.path().join(format!("{name}.png"));
        let summary = chart.save(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        keep(&path);
        assert!(summary.points_drawn >= 1);
        let img = read_png(&path);
        assert_real_image(&img, 900, 500);
        assert!(
            !pixels_of(&img, RED).is_empty(),
            "{name}: series not visible"
        );
    }
}

#[test]
fn many_labelled_lines_with_legend_at_the_right() {
    let mut chart = LineChart::new("Rank of the top 20 nodes")
        .x_label("batch")
        .y_label("PageRank")
        .legend(LegendPosition::Right);
    for node in 0..20u32 {
        let ranks = (0..30).map(move |b| 0.01 + 0.001 * f64::from(node) + 1e-4 * f64::from(b));
        chart = chart.series(Series::from_values(format!("node {}", 1000 + node), ranks));
    }
    let dir = tempfile::tempdir().unwrap();
    let svg_path = dir.path().join("ranks.svg");
    chart.save(&svg_path).unwrap();
    let svg = std::fs::read_to_string(&svg_path).unwrap();
    for i in 0..20 {
        let lines = count_tags(&svg, "polyline", &stroke(Rgb::palette(i)));
        // Solid lines are one polyline; dashed and dotted ones one per dash.
        if Dash::nth(i) == Dash::Solid {
            assert_eq!(lines, 1, "series {i}");
        } else {
            assert!(lines > 1, "series {i}: {lines}");
        }
    }
    assert!(has_text(&svg, "node 1000") && has_text(&svg, "node 1019"));

    let png = dir.path().join("ranks.png");
    chart.save(&png).unwrap();
    keep(&png);
    let img = read_png(&png);
    assert_real_image(&img, 900, 500);
    // Legend swatches sit in the right-hand column, right of every line's pixels.
    let c = Rgb::palette(3);
    let xs: Vec<u32> = pixels_of(&img, c).iter().map(|p| p.0).collect();
    assert!(xs.iter().any(|&x| x > 700) && xs.iter().any(|&x| x < 600));
}

#[test]
fn in_memory_png_matches_requested_size() {
    let out = two_levels().size(300, 200).render(Format::Png).unwrap();
    assert_eq!(out.format, Format::Png);
    let img = image::load_from_memory(&out.bytes).unwrap().to_rgb8();
    assert_real_image(&img, 300, 200);
}

#[test]
fn fixed_range_clips_data_to_the_plot_area() {
    // A line shooting far above a fixed y range, with a band and markers.
    let chart = LineChart::new("clipped")
        .y_range(0.0, 1.0)
        .legend(LegendPosition::Hidden)
        .size(600, 400)
        .series(
            Series::from_values("spike", [0.5, 0.5, 50.0, 0.5, 0.5])
                .color(RED)
                .markers(true)
                .band(Band::symmetric("", (0..5).map(|i| (i as f64, 0.5, 10.0)))),
        );
    let out = chart.render(Format::Png).unwrap();
    let img = image::load_from_memory(&out.bytes).unwrap().to_rgb8();
    let red = pixels_of(&img, RED);
    assert!(!red.is_empty());
    // Nothing red above the plot area's top edge (below the title, about y = 50).
    let top = red.iter().map(|p| p.1).min().unwrap();
    assert!(
        top > 40,
        "red pixel at y = {top}: the spike spilled over the title"
    );

    let svg = String::from_utf8(chart.render(Format::Svg).unwrap().bytes).unwrap();
    // The spike's marker is outside and not drawn; the line is cut into two runs.
    assert_eq!(count_tags(&svg, "circle", &fill(RED)), 4);
    assert_eq!(count_tags(&svg, "polyline", &stroke(RED)), 2);
}

/// Counts per batch drawn as steps hold their value until the next batch: the line has a
/// corner (a vertical then a horizontal run) at every change instead of a slope.
#[test]
fn step_series_hold_each_value_until_the_next_point() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("steps.svg");
    LineChart::new("components")
        .x_range(0.0, 4.0)
        .y_range(0.0, 4.0)
        .legend(LegendPosition::Hidden)
        .series(
            Series::new("count", [(0.0, 1.0), (2.0, 3.0), (4.0, 3.0)])
                .color(RED)
                .step(true),
        )
        .save(&path)
        .unwrap();
    let svg = std::fs::read_to_string(&path).unwrap();
    // One polyline whose points go (0,1) → (2,1) → (2,3) → (4,3) → (4,3): every segment is
    // horizontal or vertical.
    let line = svg
        .split("<polyline")
        .find(|p| {
            p.split('>')
                .next()
                .is_some_and(|a| a.contains(&stroke(RED)))
        })
        .expect("the step line");
    let points = line
        .split("points=\"")
        .nth(1)
        .and_then(|p| p.split('"').next())
        .unwrap();
    let xy: Vec<(i64, i64)> = points
        .split_whitespace()
        .map(|p| {
            let (x, y) = p.split_once(',').unwrap();
            (x.parse().unwrap(), y.parse().unwrap())
        })
        .collect();
    assert!(xy.len() >= 4, "{xy:?}");
    for w in xy.windows(2) {
        assert!(w[0].0 == w[1].0 || w[0].1 == w[1].1, "sloped segment {w:?}");
    }
}

/// A reference line (the batch interval on a delay chart) is drawn across the chart, listed
/// in the legend, and widens the y axis to include it.
#[test]
fn a_reference_line_spans_the_chart_and_is_in_the_legend() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("delay.svg");
    LineChart::new("scheduling delay")
        .x_label("batch")
        .series(Series::new(
            "delay (ms)",
            (1..=20).map(|b| (f64::from(b), 10.0)),
        ))
        .reference_line("batch interval", 1000.0)
        .save(&path)
        .unwrap();
    let svg = std::fs::read_to_string(&path).unwrap();
    assert!(has_text(&svg, "batch interval"));
    // Without the reference the axis would stop near 10; with it, 1000 is labelled.
    assert!(has_text(&svg, "1000"), "{svg}");
    assert!(count_tags(&svg, "polyline", "stroke=\"#6E6E6E\"") > 10);
}

/// Batch numbers get whole-number ticks: no "2.5" on a batch axis.
#[test]
fn whole_number_x_values_get_whole_number_ticks() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("batches.svg");
    LineChart::new("")
        .series(Series::new(
            "rmse",
            [(1.0, 0.5), (2.0, 0.4), (3.0, 0.45), (4.0, 0.3)],
        ))
        .save(&path)
        .unwrap();
    let svg = std::fs::read_to_string(&path).unwrap();
    for t in ["1", "2", "3", "4"] {
        assert!(has_text(&svg, t), "tick {t} missing");
    }
    for t in ["1.5", "2.5", "3.5"] {
        assert!(!has_text(&svg, t), "fractional tick {t} on a batch axis");
    }
    // Fractional x values keep fractional ticks.
    LineChart::new("")
        .series(Series::new("x", [(1.0, 0.5), (1.5, 0.4), (4.0, 0.3)]))
        .save(&path)
        .unwrap();
    let svg = std::fs::read_to_string(&path).unwrap();
    assert!(has_text(&svg, "1.5") || has_text(&svg, "2.5"), "{svg}");
}
