//! Streaming k-means (Spark's forgetful update) on the KDD Cup 1999 connection stream and on
//! drifting Gaussian blobs.
//!
//! 1. **KDD Cup 99** (10% file, 494,021 connections; the bundled every-100th slice when
//!    `../shared/datasets` is absent): the 34 continuous columns, standardized with the mean
//!    and deviation of a prepass over the file (the two zero-variance columns are only
//!    centred), replayed in file order in batches of 5,000 connections through a streaming
//!    context and clustered with k = 8, half-life 10 batches, k-means++ on the first batch.
//!    Each batch is assigned to clusters *before* it updates the model (`predict_on_values`,
//!    keyed by the connection's label), so the label mix per cluster is out-of-sample.
//! 2. **Gaussian blobs**: 5 blobs in 10 dimensions, 100 batches of 1,000 points; between
//!    batches 30 and 70 two blobs drift to new places. A model with a half-life of 3 batches
//!    follows them; one without forgetting (decay 1) stays behind.
//!
//! Writes per-batch metrics CSVs and cluster scatter plots with the centers' trajectories
//! (PCA projection) to the folder given as `--out DIR` (default: `spate-examples/streaming_kmeans` in the temporary directory). The shared datasets are looked
//! up in `$SPATE_DATASETS`, else in `../shared/datasets`.
//!
//! Run with `cargo run --release --example streaming_kmeans` (add `-- --runtime timely -w 2`
//! for timely workers).

use ndarray::{Array2, ArrayView1};
use rand::{Rng, SeedableRng};
use rand_distr::StandardNormal;
use rand_xoshiro::Xoshiro256PlusPlus;
use spate::ml::{KMeansReport, Standardizer, StreamingKMeans, TimeUnit, TrainOn, TrainedModel};
use spate::plot::{LineChart, Pca2, PointGroup, ScatterChart, Series, Trajectory};
use spate::prelude::*;
use spate::stats::Moments;
use spate_examples::{Output, repo, say, shared_datasets};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The KDD columns that are symbolic or binary flags (protocol_type, service, flag, land,
/// logged_in, is_host_login, is_guest_login) and the label: the other 34 are continuous.
const KDD_SKIP: [usize; 8] = [1, 2, 3, 6, 11, 20, 21, 41];
const KDD_FIELDS: usize = 42;
/// The field names, from the UCI `kddcup.names`.
const KDD_HEADER: &str = concat!(
    "duration,protocol_type,service,flag,src_bytes,dst_bytes,land,wrong_fragment,",
    "urgent,hot,num_failed_logins,logged_in,num_compromised,root_shell,su_attempted,",
    "num_root,num_file_creations,num_shells,num_access_files,num_outbound_cmds,",
    "is_host_login,is_guest_login,count,srv_count,serror_rate,srv_serror_rate,",
    "rerror_rate,srv_rerror_rate,same_srv_rate,diff_srv_rate,srv_diff_host_rate,",
    "dst_host_count,dst_host_srv_count,dst_host_same_srv_rate,dst_host_diff_srv_rate,",
    "dst_host_same_src_port_rate,dst_host_srv_diff_host_rate,dst_host_serror_rate,",
    "dst_host_srv_serror_rate,dst_host_rerror_rate,dst_host_srv_rerror_rate,label",
);

/// The names of the continuous columns, in feature order.
fn kdd_features() -> Vec<&'static str> {
    KDD_HEADER
        .split(',')
        .enumerate()
        .filter(|(i, _)| !KDD_SKIP.contains(i))
        .map(|(_, name)| name)
        .collect()
}

/// One KDD line as (label, 34 continuous features); `None` for the header or a bad line.
fn parse_kdd(line: &str) -> Option<(String, Vec<f64>)> {
    let fields: Vec<&str> = line.trim_end().split(',').collect();
    if fields.len() != KDD_FIELDS {
        return None;
    }
    let mut values = Vec::with_capacity(KDD_FIELDS - KDD_SKIP.len());
    for (i, f) in fields.iter().enumerate() {
        if !KDD_SKIP.contains(&i) {
            values.push(f.parse().ok()?);
        }
    }
    Some((fields[41].trim_end_matches('.').to_string(), values))
}

/// A bounded, evenly thinned sample of labelled rows for the scatter plot.
#[derive(Default)]
struct Sample {
    rows: Vec<Vec<f64>>,
    stride: u64,
    seen: u64,
}

impl Sample {
    fn extend(&mut self, rows: impl IntoIterator<Item = Vec<f64>>) {
        self.stride = self.stride.max(1);
        for row in rows {
            if self.seen.is_multiple_of(self.stride) {
                self.rows.push(row);
                if self.rows.len() >= 6000 {
                    let mut i = 0;
                    self.rows.retain(|_| {
                        i += 1;
                        i % 2 == 1
                    });
                    self.stride *= 2;
                }
            }
            self.seen += 1;
        }
    }

    fn matrix(&self) -> Array2<f64> {
        let d = self.rows.first().map_or(0, Vec::len);
        Array2::from_shape_vec((self.rows.len(), d), self.rows.concat()).unwrap_or_default()
    }
}

/// What the output operations collect while a stream runs.
#[derive(Default)]
struct Collected {
    reports: Vec<(KMeansReport, f64)>,
    trajectory: Vec<Array2<f64>>,
    sample: Sample,
    /// (cluster, label) → connections, assigned before each batch's update.
    mix: BTreeMap<(usize, String), u64>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Registers the outputs that collect each batch's report and time, the centers after each
/// batch, and a sample of the points.
fn collect(
    model: &TrainedModel<StreamingKMeans>,
    points: &DStream<Vec<f64>>,
) -> anyhow::Result<Arc<Mutex<Collected>>> {
    let collected: Arc<Mutex<Collected>> = Arc::default();
    let sink = Arc::clone(&collected);
    let mut last = Instant::now();
    model.foreach_report(move |_, report, model| {
        let ms = last.elapsed().as_secs_f64() * 1e3;
        last = Instant::now();
        let mut c = lock(&sink);
        c.reports.push((report.clone(), ms));
        if model.is_initialized() {
            c.trajectory.push(model.centers().to_owned());
        }
        Ok(())
    })?;
    let sink = Arc::clone(&collected);
    points.foreach_rdd(move |rdd, _| {
        let rows = rdd.collect()?;
        lock(&sink).sample.extend(rows);
        Ok(())
    })?;
    Ok(collected)
}

/// Scatter of the sample, coloured by the final model's clusters, with every center's path.
fn plot_clusters(
    path: &Path,
    title: &str,
    model: &StreamingKMeans,
    c: &Collected,
) -> anyhow::Result<()> {
    let points = c.sample.matrix();
    let pca = Pca2::fit(points.view())?;
    let xy = pca.project(points.view())?;
    let labels: Vec<usize> = model
        .predict_batch(points.view())?
        .into_iter()
        .map(|p| p.unwrap_or(0))
        .collect();
    let mut chart = ScatterChart::new(title)
        .x_label("PC 1")
        .y_label("PC 2")
        .size(1000, 700)
        .groups(PointGroup::by_label("cluster", &xy, &labels)?);
    for k in 0..model.k() {
        let trail: Vec<(f64, f64)> = c
            .trajectory
            .iter()
            .map(|centers| pca.project_point(centers.row(k)))
            .collect::<Result<_, _>>()?;
        chart = chart.trajectory(Trajectory::new(format!("center {k}"), trail));
    }
    chart.save(path)?;
    Ok(())
}

fn write_metrics(out: &Output, file: &str, c: &Collected) -> anyhow::Result<()> {
    let mut csv = String::from("batch,points,skipped,cost,cost_per_point,splits,update_ms\n");
    for (b, (r, ms)) in c.reports.iter().enumerate() {
        let per_point = if r.points > 0 {
            r.cost / r.points as f64
        } else {
            f64::NAN
        };
        writeln!(
            csv,
            "{b},{},{},{},{per_point},{},{ms:.3}",
            r.points,
            r.skipped,
            r.cost,
            r.splits.len()
        )?;
    }
    out.write(file, csv)
}

/// Mean and deviation of every continuous column over the whole file.
fn kdd_standardizer(path: &Path) -> anyhow::Result<(Standardizer, u64, u64)> {
    let mut source = FileReplaySource::options(path)
        .lines_per_batch(50_000)
        .build()?;
    let d = KDD_FIELDS - KDD_SKIP.len();
    let mut moments = vec![Moments::new(); d];
    let mut columns = vec![Vec::new(); d];
    let (mut rows, mut bad) = (0, 0);
    while !source.is_exhausted() {
        for line in source.next_batch(BatchTime(0), None)?.records {
            match parse_kdd(&line) {
                Some((_, values)) => {
                    rows += 1;
                    for (column, v) in columns.iter_mut().zip(values) {
                        column.push(v);
                    }
                }
                None => bad += 1,
            }
        }
        for (m, column) in moments.iter_mut().zip(&mut columns) {
            m.update(column);
            column.clear();
        }
    }
    let means = moments.iter().map(|m| m.mean().unwrap_or(0.0)).collect();
    let sds = moments
        .iter()
        .map(|m| m.population_std_dev().unwrap_or(0.0))
        .collect();
    Ok((Standardizer::new(means, sds)?, rows, bad))
}

fn kdd(sc: &SpateContext, out: &Output) -> anyhow::Result<()> {
    let full = shared_datasets().join("kddcup99-10pct/kddcup.data_10_percent.gz");
    let (path, batch) = if full.exists() {
        (full, 5000)
    } else {
        say!(
            out,
            "  {} not found: using the bundled every-100th slice instead",
            full.display()
        );
        (
            repo().join("datasets/kddcup99-10pct-every100th.csv.gz"),
            100,
        )
    };
    say!(out, "  reading {}", path.display());
    let started = Instant::now();
    let (standardizer, rows, bad) = kdd_standardizer(&path)?;
    let features = kdd_features();
    let constant: Vec<&str> = standardizer
        .constant_columns()
        .iter()
        .map(|&j| features[j])
        .collect();
    say!(
        out,
        "  prepass: {rows} connections, {bad} other lines (header), mean/sd of {} columns in {:.2?}; \
         zero-variance columns only centred: {constant:?}",
        features.len(),
        started.elapsed(),
    );

    let ssc = StreamingContext::builder(sc)
        .batch_interval(Duration::from_secs(1))
        .clock(FastForwardClock::new())
        .build()?;
    let lines = ssc.source_stream(
        FileReplaySource::options(&path)
            .lines_per_batch(batch)
            .build()?,
    )?;
    // Parsed once per batch and cached: training, predictions and the plot sample read it.
    let labelled = lines
        .flat_map(move |line: String| {
            parse_kdd(&line).map(|(label, x)| (label, standardizer.transform_row(x)))
        })
        .cache();
    let points = labelled.map(|(_, x)| x);
    let model = StreamingKMeans::params(8)
        .half_life(10.0, TimeUnit::Batches)
        .kmeans_plus_plus(8)
        .seed(42)
        .build()?
        .train_on(&points)?;
    let collected = collect(&model, &points)?;
    let sink = Arc::clone(&collected);
    model
        .predict_on_values(&labelled)
        .map(|assigned| (assigned, 1_u64))
        .reduce_by_key(|a, b| a + b)
        .foreach_rdd(move |rdd, _| {
            let mut c = lock(&sink);
            for ((label, cluster), n) in rdd.collect()? {
                *c.mix.entry((cluster, label)).or_default() += n;
            }
            Ok(())
        })?;
    let started = Instant::now();
    ssc.start()?;
    ssc.await_termination()?;
    let elapsed = started.elapsed();
    let c = lock(&collected);
    let final_model = model.latest_model();
    let points: u64 = c.reports.iter().map(|(r, _)| r.points).sum();
    say!(
        out,
        "  {} batches, {points} connections clustered in {elapsed:.2?} ({:.0} connections/s end to end on {})",
        c.reports.len(),
        points as f64 / elapsed.as_secs_f64(),
        sc.runtime_name()
    );
    let splits: usize = c.reports.iter().map(|(r, _)| r.splits.len()).sum();
    say!(
        out,
        "  dying clusters replaced by splitting the heaviest: {splits}"
    );
    say!(
        out,
        "  clusters and the labels of the connections they were assigned before each update:"
    );
    let mut assigned = 0;
    let mut majority = 0;
    for k in 0..final_model.k() {
        let mut labels: Vec<(&String, u64)> = c
            .mix
            .iter()
            .filter(|((cluster, _), _)| *cluster == k)
            .map(|((_, l), &n)| (l, n))
            .collect();
        labels.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        let total: u64 = labels.iter().map(|(_, n)| n).sum();
        assigned += total;
        majority += labels.first().map_or(0, |(_, n)| *n);
        let top: Vec<String> = labels
            .iter()
            .take(3)
            .map(|(l, n)| format!("{l} {:.1}%", 100.0 * *n as f64 / total.max(1) as f64))
            .collect();
        say!(
            out,
            "    cluster {k}: {total:>7} connections | {}",
            top.join(", ")
        );
    }
    say!(
        out,
        "  purity (share of connections in their cluster's majority label): {:.3} over {assigned} \
         predicted connections ({} not predicted: before k-means++ seeding)",
        majority as f64 / assigned.max(1) as f64,
        model.unpredicted_rows()
    );
    write_metrics(out, "kdd_metrics.csv", &c)?;
    if !out.is_leader() {
        return Ok(());
    }
    plot_clusters(
        &out.path("kdd_clusters.png"),
        "KDD Cup 99: streaming k-means, k = 8, half-life 10 batches (standardized, PCA)",
        &final_model,
        &c,
    )?;
    let per_point = c
        .reports
        .iter()
        .enumerate()
        .filter(|(_, (r, _))| r.points > 0)
        // Batches numbered from 1, as in every other plot.
        .map(|(b, (r, _))| (b as f64 + 1.0, r.cost / r.points as f64));
    LineChart::new("KDD Cup 99: cost per connection before each batch's update")
        .x_label("batch")
        .y_label("mean squared distance to the nearest center")
        .log_y(true)
        .series(Series::new("cost per point", per_point))
        .save(out.path("kdd_cost.png"))?;
    say!(
        out,
        "  wrote kdd_metrics.csv, kdd_clusters.png and kdd_cost.png to {}",
        out.dir().display()
    );
    Ok(())
}

/// The true centers at batch `b`: `start`, moving in a straight line to `end` between
/// batches `from` and `to`.
fn centers_at(
    start: &Array2<f64>,
    end: &Array2<f64>,
    b: usize,
    (from, to): (usize, usize),
) -> Array2<f64> {
    let t = (b.saturating_sub(from) as f64 / (to - from) as f64).min(1.0);
    start + &((end - start) * t)
}

/// Batches of unit-variance points around the (moving) centers.
fn blob_batches(
    start: &Array2<f64>,
    end: &Array2<f64>,
    batches: usize,
    per_batch: usize,
    drift: (usize, usize),
    rng: &mut Xoshiro256PlusPlus,
) -> Vec<Vec<Vec<f64>>> {
    (0..batches)
        .map(|b| {
            let now = centers_at(start, end, b, drift);
            (0..per_batch)
                .map(|_| {
                    let c = rng.random_range(0..now.nrows());
                    now.row(c)
                        .iter()
                        .map(|m| m + rng.sample::<f64, _>(StandardNormal))
                        .collect()
                })
                .collect()
        })
        .collect()
}

fn distance(a: ArrayView1<f64>, b: ArrayView1<f64>) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y) * (x - y))
        .sum::<f64>()
        .sqrt()
}

/// For each true center, the distance to the nearest fitted center.
fn recovery(truth: &Array2<f64>, fitted: &Array2<f64>) -> Vec<f64> {
    truth
        .rows()
        .into_iter()
        .map(|t| {
            fitted
                .rows()
                .into_iter()
                .map(|f| distance(t, f))
                .fold(f64::INFINITY, f64::min)
        })
        .collect()
}

fn blobs(sc: &SpateContext, out: &Output) -> anyhow::Result<()> {
    let (k, d, batches, per_batch, drift) = (5, 10, 100, 1000, (30, 70));
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(7);
    let start = Array2::from_shape_simple_fn((k, d), || rng.random_range(-10.0..10.0));
    let mut end = start.clone();
    for c in [1, 3] {
        for x in end.row_mut(c) {
            *x = rng.random_range(-10.0..10.0);
        }
    }
    let data = blob_batches(&start, &end, batches, per_batch, drift, &mut rng);
    let ssc = StreamingContext::builder(sc)
        .batch_interval(Duration::from_secs(1))
        .clock(FastForwardClock::new())
        .build()?;
    let (queue, points) = ssc.queue_stream::<Vec<f64>>(true)?;
    let points = points.cache();
    let params = StreamingKMeans::params(k)
        .kmeans_plus_plus(2 * per_batch)
        .seed(1);
    let forgetful = params
        .clone()
        .half_life(3.0, TimeUnit::Batches)
        .build()?
        .train_on_named("half-life 3 batches", &points)?;
    let stubborn = params
        .decay(1.0)
        .build()?
        .train_on_named("no forgetting", &points)?;
    let collected = collect(&forgetful, &points)?;
    for batch in data {
        queue.push(batch);
    }
    queue.close();
    let started = Instant::now();
    ssc.start()?;
    ssc.await_termination()?;
    let elapsed = started.elapsed();
    let c = lock(&collected);
    let points = batches * per_batch;
    say!(
        out,
        "  {batches} batches, {points} points, two models, in {elapsed:.2?} ({:.2} M points/s end to end)",
        2.0 * points as f64 / elapsed.as_secs_f64() / 1e6
    );
    say!(
        out,
        "  blobs 1 and 3 drift to new places between batches {} and {}; distance of each true \
         center to the nearest fitted one after the last batch:",
        drift.0,
        drift.1
    );
    for trained in [&forgetful, &stubborn] {
        let fitted = trained.latest_model().centers().to_owned();
        let gaps: Vec<String> = recovery(&end, &fitted)
            .iter()
            .map(|x| format!("{x:5.2}"))
            .collect();
        say!(out, "    {:<20} {}", trained.name(), gaps.join(" "));
    }
    write_metrics(out, "blobs_metrics.csv", &c)?;
    if !out.is_leader() {
        return Ok(());
    }
    plot_clusters(
        &out.path("blobs_clusters.png"),
        "Gaussian blobs, two drifting: k = 5, half-life 3 batches (PCA); lines: centers over batches",
        &forgetful.latest_model(),
        &c,
    )?;
    say!(
        out,
        "  wrote blobs_metrics.csv and blobs_clusters.png to {}",
        out.dir().display()
    );
    Ok(())
}

fn main() -> anyhow::Result<()> {
    spate_examples::run(streaming_kmeans)
}

fn streaming_kmeans(sc: &SpateContext) -> anyhow::Result<()> {
    let out = Output::new(sc, "streaming_kmeans")?;
    say!(
        out,
        "Streaming k-means (Spark's update rule: discount, then move each center toward its batch mean)"
    );
    say!(
        out,
        "1. KDD Cup 1999 connections, 34 continuous columns standardized:"
    );
    kdd(sc, &out)?;
    say!(
        out,
        "2. Gaussian blobs in 10 dimensions, two of them drifting:"
    );
    blobs(sc, &out)?;
    Ok(())
}
