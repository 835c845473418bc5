//! `spate anomaly`: online anomaly detection on numeric CSV columns with Half-Space Trees
//! (River's `HalfSpaceTrees`), behind a running min-max scaler. Every record is scored by
//! the model as it is, then learnt; the scores go to a CSV file, and with a label column the
//! ROC AUC of the scores is reported over the stream and a rolling window.

use crate::common::{RunEnd, errln, outln, runtime_name};
use crate::job::{Identity, JobArgs, Output, csv_columns};
use anyhow::{Context, bail};
use spate::learn::{
    DetectorReport, HalfSpaceTrees, MinMaxScaler, Persist, Pipeline, Scaler, StreamDetector,
    TrainOn,
};
use spate::plot::{LineChart, Series};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Online anomaly detection with Half-Space Trees on numeric CSV columns.
#[derive(clap::Args, Clone, Debug)]
pub struct Args {
    #[command(flatten)]
    pub job: JobArgs,
    /// Numeric columns to score, comma-separated (default: every numeric column but the
    /// label).
    #[arg(long, value_delimiter = ',')]
    columns: Option<Vec<String>>,
    /// A column telling known anomalies from normal records, to report ROC AUC (its value
    /// is compared with --normal; the column is never a feature).
    #[arg(long)]
    label: Option<String>,
    /// With --label: the value of normal records; every other value is an anomaly.
    #[arg(long, default_value = "normal.")]
    normal: String,
    /// Number of trees.
    #[arg(long, default_value_t = 10)]
    trees: usize,
    /// Height of each tree.
    #[arg(long, default_value_t = 8)]
    height: usize,
    /// Records per reference window of the trees.
    #[arg(long, default_value_t = 250)]
    window_size: usize,
    /// Seed of the random trees.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Records in the rolling ROC AUC window.
    #[arg(long, default_value_t = 1000)]
    eval_window: usize,
    /// Also save the final model (JSON).
    #[arg(long)]
    save_model: Option<PathBuf>,
    /// Plot (PNG or SVG) of the scores over the records of this run (and the rolling ROC
    /// AUC with --label).
    #[arg(long)]
    plot: Option<PathBuf>,
}

/// `--help` examples.
pub const EXAMPLES: &str = "\
Examples:
  Score HTTP connections, with ROC AUC against the attack label:
    spate anomaly -i datasets/kddcup99-10pct-http-every10th.csv.gz \\
        --columns duration,src_bytes,dst_bytes --label label -o out/scores.csv

The output (-o) holds `record,score` rows (plus `anomaly` with --label), one per record
read by this run, in input order; higher is more anomalous, 0 during the first window.
It is written to a temporary file and renamed when the stream ends.";

/// Per batch of this run: records so far, mean and largest score, rolling ROC AUC.
#[derive(Default)]
struct Trace {
    points: crate::thin::Thinned<[f64; 4]>,
    records: u64,
}

impl Trace {
    fn push(&mut self, scores: &[f64], auc: f64) {
        self.records += scores.len() as u64;
        let finite: Vec<f64> = scores.iter().copied().filter(|s| s.is_finite()).collect();
        if !finite.is_empty() {
            let mean = finite.iter().sum::<f64>() / finite.len() as f64;
            let max = finite.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            self.points.push([self.records as f64, mean, max, auc]);
        }
    }
}

type Model = Pipeline<HalfSpaceTrees>;
type Handle = Arc<Mutex<Option<spate::learn::TrainedModel<StreamDetector<Model>>>>>;

/// The scores file, written to a temporary beside the output and renamed at the end.
struct ScoreFile {
    file: Option<std::io::BufWriter<tempfile::NamedTempFile>>,
    next: u64,
    labelled: bool,
    error: Option<std::io::Error>,
}

impl ScoreFile {
    fn write(&mut self, scores: &[f64], labels: &[Option<bool>]) {
        // Every worker scores the batch; the leader writes the scores.
        if !crate::common::is_leader() {
            return;
        }
        let Some(file) = self.file.as_mut() else {
            return;
        };
        if self.error.is_some() {
            return;
        }
        for (i, s) in scores.iter().enumerate() {
            let result = if self.labelled {
                let a = labels
                    .get(i)
                    .copied()
                    .flatten()
                    .map_or("", |a| if a { "1" } else { "0" });
                writeln!(file, "{},{s:?},{a}", self.next)
            } else {
                writeln!(file, "{},{s:?}", self.next)
            };
            if let Err(e) = result {
                self.error = Some(e);
                return;
            }
            self.next += 1;
        }
    }
}

pub fn run(args: Args) -> anyhow::Result<RunEnd> {
    let job = &args.job;
    crate::common::init_logging(job, crate::csv_job::progress_bar(job));
    let input = job.csv_input("anomaly", false)?;
    let output = job.required_output()?.to_path_buf();
    for plot in [&args.plot, &args.save_model].into_iter().flatten() {
        if plot.is_dir() {
            bail!("{} is a directory; give a file name", plot.display());
        }
    }
    if let Some(plot) = &args.plot {
        spate::plot::Format::from_path(plot)
            .map_err(|_| anyhow::anyhow!("--plot {}: give a .png or .svg file", plot.display()))?;
    }
    if let Some(l) = &args.label {
        crate::job::csv_header_has(&input, std::slice::from_ref(l))?;
    }
    let columns = match &args.columns {
        Some(c) => csv_columns(&input, Some(c))?,
        None => csv_columns(&input, None)?
            .into_iter()
            .filter(|c| Some(c) != args.label.as_ref())
            .collect(),
    };
    if columns.is_empty() {
        bail!("no feature columns: name them with --columns");
    }
    if let Some(l) = &args.label
        && columns.contains(l)
    {
        bail!("--label {l} is also a feature column");
    }
    let mut outputs = vec![Output::File("--output", &output)];
    if let Some(plot) = &args.plot {
        outputs.push(Output::File("--plot", plot));
    }
    if let Some(model) = &args.save_model {
        outputs.push(Output::File("--save-model", model));
    }
    let identity = Identity::of("anomaly", job)
        .with("--columns", columns.join(","))
        .with_option("--label", args.label.as_ref())
        .with("--normal", &args.normal)
        .with("--trees", args.trees)
        .with("--height", args.height)
        .with("--window-size", args.window_size)
        .with("--seed", args.seed)
        .with("--eval-window", args.eval_window);
    let _prepared = job.prepare(&identity, &outputs)?;
    let started = Instant::now();
    let d = columns.len();
    let hst = HalfSpaceTrees::params(d)
        .n_trees(args.trees)
        .height(args.height)
        .window_size(args.window_size)
        .seed(args.seed)
        .build()?;
    let model = Pipeline::detector(hst).detector_scaler(Scaler::MinMax(MinMaxScaler::new(d)?))?;
    let learner = StreamDetector::new(model, args.eval_window)?;
    let dir = match output.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let temp = spate::codec::output_tempfile(&dir, ".tmp", "")
        .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
    let mut file = std::io::BufWriter::new(temp);
    let labelled = args.label.is_some();
    writeln!(
        file,
        "{}",
        if labelled {
            "record,score,anomaly"
        } else {
            "record,score"
        }
    )?;
    let scores = Arc::new(Mutex::new(ScoreFile {
        file: Some(file),
        next: 0,
        labelled,
        error: None,
    }));
    let mut read = columns.clone();
    if let Some(l) = &args.label {
        read.push(l.clone());
    }
    let sc = job.spate_context()?;
    let handle: Handle = Arc::default();
    let trace: Arc<Mutex<Trace>> = Arc::default();
    let build = || {
        let ssc = job.streaming_context(&sc)?;
        let rows = ssc.source_stream(crate::classify::text_source(job, &input, &read)?)?;
        let (normal, n) = (args.normal.clone(), d);
        let records = rows.map(move |mut row: Vec<String>| {
            let label = (row.len() > n).then(|| row.pop().unwrap_or_default());
            let x: Vec<f64> = row
                .iter()
                .map(|v| {
                    v.parse::<f64>()
                        .ok()
                        .filter(|x| x.is_finite())
                        .unwrap_or(f64::NAN)
                })
                .collect();
            (x, label.map(|l| l != normal))
        });
        let trained = learner.clone().train_on(&records)?;
        // The batch's labels, for the scores file: collected in order with the records.
        let labels: Arc<Mutex<Vec<Option<bool>>>> = Arc::default();
        let sink = Arc::clone(&labels);
        records.foreach_rdd(move |rdd, _| {
            let batch = rdd.collect()?;
            *lock(&sink) = batch.into_iter().map(|(_, l)| l).collect();
            Ok(())
        })?;
        let (file, plot) = (Arc::clone(&scores), Arc::clone(&trace));
        let plotting = args.plot.is_some();
        trained.foreach_report(move |_, report: &DetectorReport, model| {
            lock(&file).write(&report.scores, &lock(&labels));
            if plotting {
                lock(&plot).push(&report.scores, model.evaluation().window().get());
            }
            Ok(())
        })?;
        *lock(&handle) = Some(trained);
        Ok(ssc)
    };
    let run = crate::csv_job::run(job, &input, build)?;
    if !crate::common::is_leader() {
        // Every worker ran the same job; the leader reports it and writes the outputs.
        return Ok(run.end);
    }
    let Some(trained) = lock(&handle).clone() else {
        bail!("internal error: the job was not built");
    };
    let detector = trained.latest_model();
    let (written, file) = {
        let mut s = lock(&scores);
        if let Some(e) = s.error.take() {
            return Err(e).with_context(|| format!("writing {}", output.display()));
        }
        (s.next, s.file.take())
    };
    let Some(file) = file else {
        bail!("internal error: the scores file was already closed");
    };
    let temp = file
        .into_inner()
        .map_err(|e| e.into_error())
        .with_context(|| format!("writing {}", output.display()))?;
    temp.as_file().sync_all()?;
    temp.persist(&output)
        .with_context(|| format!("writing {}", output.display()))?;
    if let Some(path) = &args.save_model {
        detector
            .model()
            .save(path)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if written == 0 {
        bail!(
            "{} has no valid row in the columns {} ({} skipped); nothing was scored",
            input.display(),
            columns.join(", "),
            run.skipped
        );
    }
    outln!("{}", run.input_summary());
    outln!(
        "{written} records scored before learning them, {} columns, {} trees of height {}, window {}",
        d,
        args.trees,
        args.height,
        args.window_size
    );
    if labelled {
        let e = detector.evaluation();
        outln!(
            "ROC AUC of the scores against --label (anomaly: not {:?}): {:.6} over the stream, {:.6} over the last {} labelled records",
            args.normal,
            e.overall().get(),
            e.window().get(),
            args.eval_window
        );
    }
    errln!(
        "wrote {} in {:.2?} on {}",
        output.display(),
        started.elapsed(),
        runtime_name(&sc)
    );
    if let Some(path) = &args.plot {
        plot(path, &lock(&trace), labelled, args.eval_window)?;
        errln!("wrote {}", path.display());
    }
    Ok(run.end)
}

fn plot(path: &Path, trace: &Trace, labelled: bool, window: usize) -> anyhow::Result<()> {
    let series = |name: String, k: usize| {
        Series::new(name, trace.points.points.iter().map(move |p| (p[0], p[k])))
    };
    let mut chart = LineChart::new("Half-Space Trees: scores before learning, per batch")
        .x_label("records")
        .y_label("score")
        .series(series("mean score of the batch".into(), 1))
        .series(series("largest score of the batch".into(), 2));
    if labelled {
        chart = chart.series(series(
            format!("ROC AUC, last {window} labelled records"),
            3,
        ));
    }
    chart.save(path)?;
    Ok(())
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
