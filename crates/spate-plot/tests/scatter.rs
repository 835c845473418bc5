use spate_plot::{Format, PlotError, PointGroup, Rgb, ScatterChart, Trajectory};

use crate::common::{
    assert_real_image, count_tags, fill, has_text, keep, pixels_of, read_png, stroke,
};

/// Two blobs of points on a grid and the centroid path of each over 5 batches.
fn clusters() -> (Vec<(f64, f64)>, Vec<usize>) {
    let mut points = Vec::new();
    let mut labels = Vec::new();
    for i in 0..30 {
        let (dx, dy) = ((i % 6) as f64 * 0.1, (i / 6) as f64 * 0.1);
        points.push((dx, dy));
        labels.push(0);
    }
    for i in 0..20 {
        let (dx, dy) = ((i % 5) as f64 * 0.1, (i / 5) as f64 * 0.1);
        points.push((4.0 + dx, 3.0 + dy));
        labels.push(1);
    }
    (points, labels)
}

fn chart() -> ScatterChart {
    let (points, labels) = clusters();
    ScatterChart::new("Streaming k-means")
        .x_label("PC 1")
        .y_label("PC 2")
        .groups(PointGroup::by_label("cluster", &points, &labels).unwrap())
        .trajectory(Trajectory::new(
            "",
            [(2.0, 2.0), (1.0, 1.2), (0.5, 0.6), (0.3, 0.3), (0.25, 0.2)],
        ))
        .trajectory(Trajectory::new(
            "",
            [(2.0, 1.0), (3.0, 2.0), (3.8, 2.9), (4.1, 3.1), (4.2, 3.15)],
        ))
}

#[test]
fn svg_has_a_circle_per_point_and_per_centroid_position() {
    let out = chart().render(Format::Svg).unwrap();
    assert_eq!(out.summary.points_drawn, 60);
    let svg = String::from_utf8(out.bytes).unwrap();
    let (c0, c1) = (Rgb::palette(0), Rgb::palette(1));
    // 30 points + 5 path markers + the large end marker, in cluster 0's colour.
    assert_eq!(count_tags(&svg, "circle", &fill(c0)), 36);
    assert_eq!(count_tags(&svg, "circle", &fill(c1)), 26);
    // Each end marker also gets a black ring.
    assert_eq!(count_tags(&svg, "circle", "stroke=\"#000000\""), 2);
    assert_eq!(count_tags(&svg, "polyline", &stroke(c0)), 1);
    assert_eq!(count_tags(&svg, "polyline", &stroke(c1)), 1);
    assert!(has_text(&svg, "Streaming k-means"));
    assert!(has_text(&svg, "cluster 0") && has_text(&svg, "cluster 1"));
}

#[test]
fn png_shows_trajectories_in_their_cluster_colour() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("clusters.png");
    chart().size(700, 500).save(&path).unwrap();
    keep(&path);
    let img = read_png(&path);
    assert_real_image(&img, 700, 500);
    // Trajectory lines are opaque, so their exact colour appears.
    let c0 = pixels_of(&img, Rgb::palette(0));
    let c1 = pixels_of(&img, Rgb::palette(1));
    assert!(
        c0.len() > 200 && c1.len() > 200,
        "{} {}",
        c0.len(),
        c1.len()
    );
    // Cluster 1 lies up and to the right of cluster 0.
    let mean = |px: &[(u32, u32)]| {
        let n = px.len() as f64;
        let s = px
            .iter()
            .fold((0.0, 0.0), |a, p| (a.0 + p.0 as f64, a.1 + p.1 as f64));
        (s.0 / n, s.1 / n)
    };
    let (m0, m1) = (mean(&c0), mean(&c1));
    assert!(m1.0 > m0.0 && m1.1 < m0.1, "{m0:?} {m1:?}");
}

#[test]
fn opaque_points_have_their_exact_colour() {
    let c = Rgb(10, 150, 90);
    let chart = ScatterChart::new("").group(
        PointGroup::new("pts", (0..50).map(|i| (i as f64, (i * i) as f64)))
            .color(c)
            .opacity(1.0)
            .radius(3),
    );
    let out = chart.render(Format::Png).unwrap();
    let img = image::load_from_memory(&out.bytes).unwrap().to_rgb8();
    assert!(pixels_of(&img, c).len() > 50 * 10);
}

#[test]
fn labels_must_match_points() {
    let err = PointGroup::by_label("c", &[(0.0, 0.0), (1.0, 1.0)], &[0]).unwrap_err();
    assert!(matches!(
        err,
        PlotError::LengthMismatch {
            expected: 2,
            got: 1,
            ..
        }
    ));
}

#[test]
fn empty_clusters_keep_colour_alignment() {
    let groups = PointGroup::by_label("c", &[(0.0, 0.0), (1.0, 1.0)], &[0, 2]).unwrap();
    assert_eq!(groups.len(), 3);
    let out = ScatterChart::new("")
        .groups(groups)
        .render(Format::Svg)
        .unwrap();
    let svg = String::from_utf8(out.bytes).unwrap();
    assert_eq!(count_tags(&svg, "circle", &fill(Rgb::palette(0))), 1);
    assert_eq!(count_tags(&svg, "circle", &fill(Rgb::palette(1))), 0);
    assert_eq!(count_tags(&svg, "circle", &fill(Rgb::palette(2))), 1);
}

#[test]
fn single_point_and_nan_points() {
    let chart = ScatterChart::new("one").group(PointGroup::new(
        "g",
        [(1.0, 1.0), (f64::NAN, 2.0), (3.0, f64::NEG_INFINITY)],
    ));
    let out = chart.render(Format::Png).unwrap();
    assert_eq!(out.summary.points_drawn, 1);
    assert_eq!(out.summary.skipped_non_finite, 2);
}

#[test]
fn odd_styles_do_not_panic() {
    for (radius, opacity) in [(0, 1.0), (50, f64::NAN), (1, -3.0), (u32::MAX, 2.0)] {
        let chart = ScatterChart::new("").group(
            PointGroup::new("g", [(0.0, 0.0), (1.0, 1.0)])
                .radius(radius)
                .opacity(opacity),
        );
        chart.render(Format::Png).unwrap();
        chart.render(Format::Svg).unwrap();
    }
}
