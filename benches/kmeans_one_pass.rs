//! One-pass k-means: throughput of `CoresetKMeans` beside Spark-rule `StreamingKMeans`, and
//! the cost both reach on the shared datasets against scikit-learn's batch `KMeans`.
//!
//! 1. **Throughput** (`--only throughput`): 10^6 points from 5 Gaussian blobs in 10
//!    dimensions (centers uniform in [−10, 10]^10, unit variance, random order), fed in
//!    batches of 1000 to both models on one thread; the thread's CPU time (not wall time, so
//!    the figures hold on a busy machine), fastest of 5 repetitions.
//! 2. **Cost** (`--only cost`): each shared dataset in file order, the numeric feature
//!    columns standardized with whole-file statistics exactly as
//!    `crates/spate-ml/tests/fixtures/kmeans/generate.py` does (see `datasets.rs` there),
//!    fed in batches of 1000 rows; best of seeds 0, 1, 2 of each model against the best of
//!    seeds 0, 1, 2 of scikit-learn (`sklearn_shared.csv`, written by that script). Prints
//!    the table of `docs/benchmarks.md` and writes `docs/img/kmeans-coreset-cost.png` (cost
//!    ratio against the coreset size, k = 5).
//!
//! Run: `cargo bench -p spate-benches --bench kmeans_one_pass [-- --only throughput|cost]
//! [--datasets DIR]` (default `$SPATE_DATASETS`, else `../shared/datasets` beside the
//! repository).

#[path = "../crates/spate-ml/tests/fixtures/kmeans/datasets.rs"]
mod datasets;

use cpu_time::ThreadTime;
use ndarray::{Array2, Axis};
use rand::{Rng, SeedableRng};
use rand_distr::StandardNormal;
use rand_xoshiro::Xoshiro256PlusPlus;
use spate::plot::{LineChart, Series};
use spate_ml::{CoresetKMeans, OnlineModel, StreamingKMeans};
use std::error::Error;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Instant;

const BATCH: usize = 1000;

fn blobs(n: usize, k: usize, d: usize, seed: u64) -> (Array2<f64>, Array2<f64>) {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let centers = Array2::from_shape_simple_fn((k, d), || rng.random_range(-10.0..10.0));
    let mut points = Array2::zeros((n, d));
    for mut row in points.rows_mut() {
        let c = rng.random_range(0..k);
        for (j, x) in row.iter_mut().enumerate() {
            *x = centers[(c, j)] + rng.sample::<f64, _>(StandardNormal);
        }
    }
    (points, centers)
}

/// Fastest CPU time of `reps` runs of `run`.
fn fastest(reps: usize, mut run: impl FnMut()) -> f64 {
    (0..reps)
        .map(|_| {
            let start = ThreadTime::now();
            run();
            start.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

fn one_pass<M: for<'a> OnlineModel<Batch<'a> = ndarray::ArrayView2<'a, f64>>>(
    model: &mut M,
    points: &Array2<f64>,
) {
    for batch in points.axis_chunks_iter(Axis(0), BATCH) {
        black_box(model.update(batch).expect("the batch fits the model"));
    }
}

fn throughput() {
    let (k, d, n) = (5, 10, 1_000_000);
    let (points, truth) = blobs(n, k, d, 1);
    let coreset = CoresetKMeans::params(k).seed(1).build().expect("valid");
    let streaming = StreamingKMeans::params(k)
        .initial_centers(&truth + 0.5, vec![0.0; k])
        .build()
        .expect("valid");
    let t_coreset = fastest(5, || one_pass(&mut coreset.clone(), &points));
    let t_streaming = fastest(5, || one_pass(&mut streaming.clone(), &points));
    let mut fed = coreset.clone();
    one_pass(&mut fed, &points);
    let t_extract = fastest(5, || {
        black_box(fed.clone().centers().expect("fed").to_owned());
    });
    let rate = |t: f64| n as f64 / t / 1e6;
    println!("| model, k = {k}, d = {d}, {n} points, batches of {BATCH} | CPU time | M points/s |");
    println!("|---|---|---|");
    println!(
        "| `CoresetKMeans::update` (m = 200k = 1000) | {:.3} s | **{:.1}** |",
        t_coreset,
        rate(t_coreset)
    );
    println!(
        "| baseline: `StreamingKMeans::update` | {:.3} s | {:.1} |",
        t_streaming,
        rate(t_streaming)
    );
    println!(
        "| ratio coreset / streaming | | {:.2} |",
        t_streaming / t_coreset
    );
    println!(
        "| extracting the centers once after the pass ({} weighted points) | {:.1} ms | |",
        fed.coreset().len(),
        t_extract * 1e3
    );
}

/// Lowest full-data cost over seeds 0, 1, 2 of one pass of the model `build` makes.
fn best_of_three<M: for<'a> OnlineModel<Batch<'a> = ndarray::ArrayView2<'a, f64>>>(
    x: &Array2<f64>,
    build: impl Fn(u64) -> M,
    cost: impl Fn(&M, &Array2<f64>) -> f64,
) -> (f64, f64) {
    let mut best = f64::INFINITY;
    let mut seconds = f64::INFINITY;
    for seed in 0..3 {
        let mut model = build(seed);
        let start = Instant::now();
        one_pass(&mut model, x);
        seconds = seconds.min(start.elapsed().as_secs_f64());
        best = best.min(cost(&model, x));
    }
    (best, seconds)
}

fn coreset_cost(m: &CoresetKMeans, x: &Array2<f64>) -> f64 {
    m.cost(x.view()).expect("fed")
}

fn cost(root: &Path) -> Result<(), Box<dyn Error>> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let refs = datasets::references(
        &manifest.join("../crates/spate-ml/tests/fixtures/kmeans/sklearn_shared.csv"),
    );
    println!(
        "| dataset | rows × columns | k | scikit-learn `KMeans` | `CoresetKMeans` | ratio | \
         `StreamingKMeans` ratio | `MiniBatchKMeans` ratio | summary points | one pass |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    let mut curves = Vec::new();
    for dataset in datasets::shared() {
        let path = root.join(dataset.file);
        let (mut x, _) =
            datasets::read(&path, &dataset).map_err(|e| format!("{}: {e}", path.display()))?;
        datasets::standardize(&mut x);
        for r in refs.iter().filter(|r| r.dataset == dataset.name) {
            if r.rows != x.nrows() {
                return Err(format!(
                    "{}: {} rows, the fixture says {}",
                    r.dataset,
                    x.nrows(),
                    r.rows
                )
                .into());
            }
            let k = r.k;
            let reference = r.kmeans_best.min(r.kmeans1_best);
            let (coreset, seconds) = best_of_three(
                &x,
                |seed| CoresetKMeans::params(k).seed(seed).build().expect("valid"),
                coreset_cost,
            );
            let summary = {
                let mut m = CoresetKMeans::params(k).build()?;
                one_pass(&mut m, &x);
                m.coreset().len()
            };
            let (streaming, _) = best_of_three(
                &x,
                |seed| {
                    StreamingKMeans::params(k)
                        .kmeans_plus_plus(k)
                        .seed(seed)
                        .build()
                        .expect("valid")
                },
                |m, x| m.cost(x.view()).expect("fed"),
            );
            println!(
                "| {} | {} × {} | {k} | {:.6e} | {:.6e} | **{:.3}** | {:.2} | {:.2} | {summary} | {:.2} s |",
                r.dataset,
                x.nrows(),
                x.ncols(),
                reference,
                coreset,
                coreset / reference,
                streaming / reference,
                r.minibatch_best / reference,
                seconds,
            );
            if k == 5 {
                let curve: Vec<(f64, f64)> = [25, 50, 100, 200, 400]
                    .into_iter()
                    .map(|per_cluster| {
                        let (best, _) = best_of_three(
                            &x,
                            |seed| {
                                CoresetKMeans::params(k)
                                    .coreset_size(per_cluster * k)
                                    .seed(seed)
                                    .build()
                                    .expect("valid")
                            },
                            coreset_cost,
                        );
                        ((per_cluster * k) as f64, best / reference)
                    })
                    .collect();
                curves.push(Series::new(r.dataset.clone(), curve).markers(true));
            }
        }
    }
    let mut chart = LineChart::new(
        "One pass in file order vs scikit-learn batch KMeans (k = 5, best of 3 seeds each)",
    )
    .x_label("coreset size m (weighted points per bucket)")
    .y_label("cost / batch cost")
    .log_x(true);
    for series in curves {
        chart = chart.series(series);
    }
    chart = chart.series(Series::new("target 1.05", [(125.0, 1.05), (2000.0, 1.05)]));
    let out = manifest.join("../docs/img/kmeans-coreset-cost.png");
    chart.save(&out)?;
    eprintln!("wrote {}", out.display());
    Ok(())
}

fn main() -> Result<(), Box<dyn Error>> {
    let mut only = None;
    let mut root = std::env::var_os("SPATE_DATASETS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/datasets"));
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--only" => only = args.next(),
            "--datasets" => root = args.next().map(PathBuf::from).ok_or("--datasets DIR")?,
            // `cargo bench` passes `--bench`; anything else is a typo worth reporting.
            "--bench" => {}
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    if only.as_deref().is_none_or(|o| o == "throughput") {
        throughput();
    }
    if only.as_deref().is_none_or(|o| o == "cost") {
        cost(&root)?;
    }
    Ok(())
}
