//! Renders one of each chart Spate uses, from synthetic data, as PNG and SVG.
//!
//! ```text
//! cargo run --release -p spate-plot --example plot_gallery [OUTPUT_DIR]
//! ```
//!
//! OUTPUT_DIR defaults to `target/plot-gallery`.

use std::error::Error;
use std::path::PathBuf;

use ndarray::Array2;
use spate_plot::{
    Band, LegendPosition, LineChart, Panels, Pca2, PointGroup, ScatterChart, Series, Trajectory,
};

/// Deterministic noise in [-1, 1): the gallery must look the same on every run.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
    }
}

fn main() -> Result<(), Box<dyn Error>> {
    let out = std::env::args_os()
        .nth(1)
        .map_or_else(|| PathBuf::from("target/plot-gallery"), PathBuf::from);
    std::fs::create_dir_all(&out)?;
    let mut rng = Lcg(42);
    let batches: Vec<f64> = (0..80).map(f64::from).collect();

    // Streaming statistics: mean with quantile bands per batch.
    let mean: Vec<f64> = batches
        .iter()
        .map(|b| 10.0 + 2.0 * (b / 12.0).sin())
        .collect();
    let band = |width: f64| {
        batches
            .iter()
            .zip(&mean)
            .map(move |(&b, &m)| (b, m - width, m + width))
    };
    let stats = LineChart::new("Streaming mean with quantile bands")
        .x_label("batch")
        .y_label("value")
        .series(
            Series::new("mean", batches.iter().copied().zip(mean.iter().copied()))
                .band(Band::new("p05–p95", band(3.2)))
                .band(Band::new("p25–p75", band(1.35))),
        );

    // Regression error per batch.
    let rmse: Vec<f64> = batches
        .iter()
        .map(|b| 1.0 / (1.0 + b / 10.0) + 0.2)
        .collect();
    let mae: Vec<f64> = rmse.iter().map(|r| 0.8 * r).collect();
    let errors = LineChart::new("Streaming regression error")
        .x_label("batch")
        .y_label("error")
        .y_range(0.0, 1.3)
        .series(Series::from_values("RMSE", rmse))
        .series(Series::from_values("MAE", mae));

    // Batch metrics, one panel each.
    let processing: Vec<f64> = batches.iter().map(|_| 40.0 + 6.0 * rng.next()).collect();
    let delay: Vec<f64> = batches
        .iter()
        .map(|&b| if b > 55.0 { (b - 55.0) * 4.0 } else { 0.0 })
        .collect();
    let rate: Vec<f64> = batches
        .iter()
        .map(|_| 25_000.0 + 2_000.0 * rng.next())
        .collect();
    let metrics = Panels::new("Batch metrics")
        .panel(
            LineChart::new("")
                .y_label("processing (ms)")
                .series(Series::from_values("processing time", processing)),
        )
        .panel(LineChart::new("").y_label("delay (ms)").series(
            Series::from_values("scheduling delay", delay).color(spate_plot::Rgb::palette(3)),
        ))
        .panel(
            LineChart::new("")
                .x_label("batch")
                .y_label("records/s")
                .series(Series::from_values("input rate", rate).color(spate_plot::Rgb::palette(2))),
        );

    // Clusters in 5-D, projected on two principal components, with centroid paths.
    let centres = [
        [0.0, 0.0, 0.0, 0.0, 0.0],
        [6.0, 2.0, -3.0, 1.0, 0.0],
        [0.0, 7.0, 4.0, -2.0, 1.0],
    ];
    let n = 600;
    let data = Array2::from_shape_fn((n, 5), |(i, j)| centres[i % 3][j] + 1.2 * rng.next());
    let labels: Vec<usize> = (0..n).map(|i| i % 3).collect();
    let pca = Pca2::fit(data.view())?;
    let projected = pca.project(data.view())?;
    let mut chart = ScatterChart::new("Streaming k-means (first two principal components)")
        .x_label("PC 1")
        .y_label("PC 2")
        .groups(PointGroup::by_label("cluster", &projected, &labels)?);
    for c in &centres {
        // A centroid drifting from a poor start to its cluster over 10 batches.
        let path = (0..10).map(|b| {
            let t = 1.0 - 0.7f64.powi(b);
            let p: Vec<f64> = c.iter().map(|&x| 2.0 + t * (x - 2.0)).collect();
            pca.project_point(ndarray::ArrayView1::from(&p[..]))
        });
        chart = chart.trajectory(Trajectory::new("", path.collect::<Result<Vec<_>, _>>()?));
    }
    let clusters = chart;

    // Graph analytics: rank trajectories, update time vs batch size, component count.
    let mut ranks = LineChart::new("PageRank of the top 12 nodes")
        .x_label("batch")
        .y_label("rank")
        .legend(LegendPosition::Right);
    for node in 0..12u32 {
        let base = 0.02 - 0.0012 * f64::from(node);
        let ys: Vec<f64> = batches.iter().map(|_| base + 0.0006 * rng.next()).collect();
        ranks = ranks.series(Series::from_values(
            format!("node {}", 1000 + 37 * node),
            ys,
        ));
    }
    let sizes: [f64; 5] = [1.0, 10.0, 100.0, 1_000.0, 10_000.0];
    let timing = LineChart::new("PageRank update time vs batch size")
        .x_label("batch size (edges)")
        .y_label("time per batch (ms)")
        .log_x(true)
        .log_y(true)
        .series(Series::new("incremental", sizes.map(|s| (s, 0.02 * s.powf(0.9)))).markers(true))
        .series(Series::new("full recompute", sizes.map(|s| (s, 120.0 + 0.001 * s))).markers(true));
    let components = LineChart::new("Connected components")
        .x_label("batch")
        .y_label("components")
        .series(Series::from_values(
            "components",
            batches
                .iter()
                .map(|b| (5000.0 * (-b / 25.0).exp()).round() + 1.0),
        ));

    let line_charts = [
        ("stats", &stats),
        ("regression_error", &errors),
        ("rank_trajectories", &ranks),
        ("update_time", &timing),
        ("components", &components),
    ];
    for ext in ["png", "svg"] {
        for (name, chart) in line_charts {
            chart.save(out.join(format!("{name}.{ext}")))?;
        }
        metrics.save(out.join(format!("batch_metrics.{ext}")))?;
        clusters.save(out.join(format!("clusters.{ext}")))?;
    }
    println!("wrote 7 charts as PNG and SVG to {}", out.display());
    Ok(())
}
