use spate_plot::{Format, LineChart, MAX_SIDE, MIN_SIDE, PlotError, ScatterChart, Series};

fn ok_chart() -> LineChart {
    LineChart::new("t").series(Series::from_values("a", [1.0, 2.0, 3.0]))
}

#[test]
fn unsupported_extension_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["plot.jpg", "plot", "plot.png.txt"] {
        let path = dir.path().join(name);
        let err = ok_chart().save(&path).unwrap_err();
        assert!(
            matches!(err, PlotError::UnsupportedExtension { .. }),
            "{name}: {err}"
        );
        assert!(err.to_string().contains(".png or .svg"));
        assert!(!path.exists());
    }
    // Any case of a known extension is accepted.
    ok_chart().save(dir.path().join("plot.SVG")).unwrap();
}

#[test]
fn empty_charts_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty.png");
    assert!(matches!(
        LineChart::new("nothing").save(&path),
        Err(PlotError::EmptyData {
            chart: "line chart"
        })
    ));
    assert!(matches!(
        LineChart::new("")
            .series(Series::new("none", []))
            .save(&path),
        Err(PlotError::EmptyData { .. })
    ));
    assert!(matches!(
        ScatterChart::new("").save(&path),
        Err(PlotError::EmptyData {
            chart: "scatter chart"
        })
    ));
    assert!(!path.exists());
}

#[test]
fn only_unplottable_points_is_an_error_with_counts() {
    let nan = LineChart::new("").series(Series::from_values("a", [f64::NAN, f64::INFINITY]));
    assert!(matches!(
        nan.render(Format::Png),
        Err(PlotError::NoFiniteData {
            non_finite: 2,
            non_positive: 0
        })
    ));
    let log = LineChart::new("")
        .log_x(true)
        .series(Series::from_values("starts at batch 0", [5.0]));
    assert!(matches!(
        log.render(Format::Svg),
        Err(PlotError::NoFiniteData {
            non_finite: 0,
            non_positive: 1
        })
    ));
}

#[test]
fn image_size_is_checked() {
    for (w, h) in [(0, 400), (MIN_SIDE - 1, 400), (400, MAX_SIDE + 1)] {
        let err = ok_chart().size(w, h).render(Format::Png).unwrap_err();
        assert!(
            matches!(err, PlotError::InvalidSize { width, height, .. } if width == w && height == h)
        );
    }
    // The smallest accepted size still renders.
    ok_chart()
        .size(MIN_SIDE, MIN_SIDE)
        .render(Format::Png)
        .unwrap();
}

#[test]
fn axis_ranges_are_checked() {
    let reversed = ok_chart().x_range(5.0, 1.0);
    assert!(matches!(
        reversed.render(Format::Svg),
        Err(PlotError::InvalidRange { axis: "x", .. })
    ));
    let log_from_zero = ok_chart().log_y(true).y_range(0.0, 10.0);
    assert!(matches!(
        log_from_zero.render(Format::Svg),
        Err(PlotError::InvalidRange { axis: "y", .. })
    ));
    let nan = ok_chart().y_range(f64::NAN, 1.0);
    assert!(nan.render(Format::Svg).is_err());
    // Data outside a fixed range are clipped, not an error.
    ok_chart().y_range(0.0, 1.5).render(Format::Png).unwrap();
}

#[test]
fn io_errors_name_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no/such/dir/plot.png");
    let err = ok_chart().save(&path).unwrap_err();
    match &err {
        PlotError::Io { path: p, source } => {
            assert_eq!(p, &path);
            assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
        }
        other => panic!("expected an I/O error, got {other}"),
    }
    assert!(err.to_string().contains("no/such/dir/plot.png"));
}
