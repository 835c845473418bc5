//! `spate classify`: online classification of a CSV column, River style. Every record is
//! predicted by the model as it is, scored, then learnt (test-then-train), so the reported
//! metrics are out-of-sample; preprocessing (a running scaler, one-hot encoding or hashing
//! of string columns) never looks ahead. Writes the final model as a versioned JSON file
//! and optionally plots the metrics over the stream.

use crate::common::{RunEnd, errln, outln, runtime_name};
use crate::job::{Identity, JobArgs, Output, csv_columns};
use anyhow::{Context, bail};
use spate::learn::{
    CategoricalEncoder, Classifier, ClassifierReport, FeatureHasher, GaussianNb, HoeffdingTree,
    MinMaxScaler, MultinomialNb, OneHotEncoder, PaVariant, PassiveAggressive, Persist, Pipeline,
    Scaler, SoftmaxRegression, StandardScaler, StreamTextClassifier, TextRecord, TrainOn,
};
use spate::plot::{LineChart, Series};
use spate::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Online classification of a CSV column from numeric and string columns.
#[derive(clap::Args, Clone, Debug)]
pub struct Args {
    #[command(flatten)]
    pub job: JobArgs,
    /// The column holding the class (any text; classes are numbered as they appear).
    #[arg(long)]
    target: String,
    /// Numeric feature columns, comma-separated (default: every other numeric column).
    #[arg(long, value_delimiter = ',')]
    columns: Option<Vec<String>>,
    /// String feature columns, comma-separated, encoded by --encoding.
    #[arg(long, value_delimiter = ',')]
    categorical: Vec<String>,
    /// How string columns become numbers: one-hot slots learnt online, or the hashing trick.
    #[arg(long, value_enum, default_value_t = Encoding::Onehot)]
    encoding: Encoding,
    /// One-hot: slots per string column (later new values encode as all zeros).
    #[arg(long, default_value_t = 32)]
    max_categories: usize,
    /// Hashing: number of slots shared by all string columns.
    #[arg(long, default_value_t = 1024)]
    hash_features: usize,
    /// The model: softmax (multinomial logistic) regression by SGD, Gaussian naive Bayes
    /// (`nb` or `gnb`), multinomial naive Bayes, a Hoeffding tree, or passive-aggressive.
    #[arg(long, value_enum)]
    model: ModelKind,
    /// Running scaling of the numeric columns (default: standard for logistic and pa, none
    /// for the others).
    #[arg(long, value_enum)]
    scale: Option<ScaleKind>,
    /// logistic: SGD learning rate.
    #[arg(long, default_value_t = 0.01)]
    learning_rate: f64,
    /// logistic: L2 penalty.
    #[arg(long, default_value_t = 0.0)]
    l2: f64,
    /// mnb: additive smoothing.
    #[arg(long, default_value_t = 1.0)]
    alpha: f64,
    /// pa: aggressiveness C.
    #[arg(long, default_value_t = 1.0)]
    c: f64,
    /// pa: PA, PA-I or PA-II.
    #[arg(long, value_enum, default_value_t = PaKind::Pa1)]
    pa_variant: PaKind,
    /// hoeffding: records a leaf gathers between split attempts.
    #[arg(long, default_value_t = 200.0)]
    grace_period: f64,
    /// hoeffding: allowed probability of a wrong split.
    #[arg(long, default_value_t = 1e-7)]
    delta: f64,
    /// hoeffding: tie threshold.
    #[arg(long, default_value_t = 0.05)]
    tau: f64,
    /// Most distinct classes accepted; records of further classes are skipped.
    #[arg(long, default_value_t = 1024)]
    max_classes: usize,
    /// Records in the rolling metrics window (records, not batches: River's window_size).
    #[arg(long, default_value_t = 1000)]
    metrics_window: usize,
    /// Plot (PNG or SVG) of accuracy and macro F1, overall and rolling, over the records of
    /// this run.
    #[arg(long)]
    plot: Option<PathBuf>,
}

/// `--help` examples.
pub const EXAMPLES: &str = "\
Examples:
  A Hoeffding tree on the electricity market stream, with its metrics plotted:
    spate classify -i datasets/elec2-first4032.csv --target class --model hoeffding \\
        -o out/tree.json --plot out/classify.png

  Logistic regression with a string column one-hot encoded, checkpointed:
    spate classify -i flights.csv --target late --model logistic --categorical carrier \\
        --checkpoint ckpt -o model.json

The model file (-o) is written when the stream ends: JSON with a format version, the
class names and the metrics.";

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum ModelKind {
    Logistic,
    Nb,
    Gnb,
    Mnb,
    Hoeffding,
    Pa,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum ScaleKind {
    None,
    Standard,
    Minmax,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum Encoding {
    Onehot,
    Hash,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum PaKind {
    Pa,
    Pa1,
    Pa2,
}

/// Metrics after each batch: records, accuracy and macro F1 overall and rolling.
type Trace = crate::thin::Thinned<[f64; 5]>;

pub fn run(args: Args) -> anyhow::Result<RunEnd> {
    let job = &args.job;
    crate::common::init_logging(job, crate::csv_job::progress_bar(job));
    let input = job.csv_input("classify", false)?;
    let output = job.required_output()?.to_path_buf();
    if let Some(plot) = &args.plot {
        spate::plot::Format::from_path(plot)
            .map_err(|_| anyhow::anyhow!("--plot {}: give a .png or .svg file", plot.display()))?;
    }
    // Checks the target and the string columns exist (with a "did you mean").
    let mut text_columns = args.categorical.clone();
    text_columns.push(args.target.clone());
    crate::job::csv_header_has(&input, &text_columns)?;
    let numeric = match &args.columns {
        Some(c) => csv_columns(&input, Some(c))?,
        None => csv_columns(&input, None)?
            .into_iter()
            .filter(|c| *c != args.target && !args.categorical.contains(c))
            .collect(),
    };
    if numeric.is_empty() && args.categorical.is_empty() {
        bail!("no feature columns: name them with --columns or --categorical");
    }
    for c in numeric.iter().chain(&args.categorical) {
        if *c == args.target {
            bail!("--target {} is also a feature column", args.target);
        }
    }
    if args.metrics_window == 0 {
        bail!("--metrics-window 0: the rolling window needs at least one record");
    }
    let mut outputs = vec![Output::File("--output", &output)];
    if let Some(plot) = &args.plot {
        outputs.push(Output::File("--plot", plot));
    }
    let identity = Identity::of("classify", job)
        .with("--target", &args.target)
        .with("--columns", numeric.join(","))
        .with("--categorical", args.categorical.join(","))
        .with("--encoding", format!("{:?}", args.encoding))
        .with("--max-categories", args.max_categories)
        .with("--hash-features", args.hash_features)
        .with("--model", format!("{:?}", args.model))
        .with("--scale", format!("{:?}", args.scale))
        .with("--learning-rate", args.learning_rate)
        .with("--l2", args.l2)
        .with("--alpha", args.alpha)
        .with("-c", args.c)
        .with("--pa-variant", format!("{:?}", args.pa_variant))
        .with("--grace-period", args.grace_period)
        .with("--delta", args.delta)
        .with("--tau", args.tau)
        .with("--max-classes", args.max_classes)
        .with("--metrics-window", args.metrics_window);
    let _prepared = job.prepare(&identity, &outputs)?;
    let encoder = if args.categorical.is_empty() {
        None
    } else {
        let names: Vec<&str> = args.categorical.iter().map(String::as_str).collect();
        Some(match args.encoding {
            Encoding::Onehot => {
                CategoricalEncoder::OneHot(OneHotEncoder::new(&names, args.max_categories)?)
            }
            Encoding::Hash => {
                let mut hasher = FeatureHasher::new(&names, args.hash_features)?;
                if args.model == ModelKind::Mnb {
                    hasher = hasher.alternate_sign(false);
                }
                CategoricalEncoder::Hashing(hasher)
            }
        })
    };
    let d = numeric.len() + encoder.as_ref().map_or(0, CategoricalEncoder::n_outputs);
    let scale = args.scale.unwrap_or(match args.model {
        ModelKind::Logistic | ModelKind::Pa => ScaleKind::Standard,
        _ => ScaleKind::None,
    });
    let scaler = match (scale, numeric.len()) {
        (_, 0) | (ScaleKind::None, _) => None,
        (ScaleKind::Standard, n) => Some(Scaler::Standard(StandardScaler::new(n)?)),
        (ScaleKind::Minmax, n) => Some(Scaler::MinMax(MinMaxScaler::new(n)?)),
    };
    if args.model == ModelKind::Mnb && matches!(scaler, Some(Scaler::Standard(_))) {
        bail!("--model mnb needs counts (≥ 0): use --scale none or minmax");
    }
    let job = Job {
        args: &args,
        input: &input,
        output: &output,
        numeric: &numeric,
        encoder,
        scaler,
    };
    match args.model {
        ModelKind::Logistic => job.fit(
            SoftmaxRegression::params(d)
                .learning_rate(args.learning_rate)
                .l2(args.l2)
                .intercept(true)
                .max_classes(args.max_classes)
                .build()?,
        ),
        ModelKind::Nb | ModelKind::Gnb => {
            job.fit(GaussianNb::with_max_classes(d, args.max_classes)?)
        }
        ModelKind::Mnb => job.fit(
            MultinomialNb::params(d)
                .alpha(args.alpha)
                .max_classes(args.max_classes)
                .build()?,
        ),
        ModelKind::Hoeffding => job.fit(
            HoeffdingTree::params(d)
                .grace_period(args.grace_period)
                .delta(args.delta)
                .tau(args.tau)
                .max_classes(args.max_classes)
                .build()?,
        ),
        ModelKind::Pa => job.fit(
            PassiveAggressive::params(d)
                .c(args.c)
                .variant(match args.pa_variant {
                    PaKind::Pa => PaVariant::Pa,
                    PaKind::Pa1 => PaVariant::PaI,
                    PaKind::Pa2 => PaVariant::PaII,
                })
                .max_classes(args.max_classes)
                .build()?,
        ),
    }
}

struct Job<'a> {
    args: &'a Args,
    input: &'a Path,
    output: &'a Path,
    numeric: &'a [String],
    encoder: Option<CategoricalEncoder>,
    scaler: Option<Scaler>,
}

type Handle<M> = Arc<Mutex<Option<spate::learn::TrainedModel<StreamTextClassifier<M>>>>>;

impl Job<'_> {
    fn pipeline<M: Classifier>(&self, model: M) -> anyhow::Result<Pipeline<M>> {
        let mut pipeline = Pipeline::new(model);
        if let Some(e) = &self.encoder {
            pipeline = pipeline.encoder(e.clone())?;
        }
        if let Some(s) = &self.scaler {
            pipeline = pipeline.scaler(s.clone())?;
        }
        Ok(pipeline)
    }

    fn fit<M>(self, model: M) -> anyhow::Result<RunEnd>
    where
        M: Classifier + Persist + Data,
    {
        let args = self.args;
        let started = Instant::now();
        let learner = StreamTextClassifier::new(
            self.pipeline(model)?,
            args.max_classes,
            args.metrics_window,
        )?;
        let mut columns = self.numeric.to_vec();
        columns.extend(args.categorical.iter().cloned());
        columns.push(args.target.clone());
        let (n_numeric, n_text) = (self.numeric.len(), args.categorical.len());
        let job = &args.job;
        let (input, output) = (self.input, self.output);
        let sc = job.spate_context()?;
        let handle: Handle<M> = Arc::default();
        let trace: Arc<Mutex<Trace>> = Arc::default();
        let build = || {
            let ssc = job.streaming_context(&sc)?;
            let rows = ssc.source_stream(text_source(job, input, &columns)?)?;
            let records = rows.map(move |row: Vec<String>| to_record(row, n_numeric, n_text));
            let trained = learner.clone().train_on(&records)?;
            // Registered with or without --plot, so that the stream graph (which a checkpoint
            // must match) does not depend on it.
            let plotting = args.plot.is_some();
            {
                let sink = Arc::clone(&trace);
                trained.foreach_report(move |_, _: &ClassifierReport, model| {
                    if !plotting {
                        return Ok(());
                    }
                    let e = model.evaluation();
                    lock(&sink).push([
                        e.overall().count() as f64,
                        e.overall().accuracy(),
                        e.window().accuracy(),
                        e.overall().macro_f1(),
                        e.window().macro_f1(),
                    ]);
                    Ok(())
                })?;
            }
            *lock(&handle) = Some(trained);
            Ok(ssc)
        };
        let run = crate::csv_job::run(job, input, build)?;
        if !crate::common::is_leader() {
            // Every worker ran the same job; the leader reports it and writes the outputs.
            return Ok(run.end);
        }
        let Some(trained) = lock(&handle).clone() else {
            bail!("internal error: the job was not built");
        };
        let learner = trained.latest_model();
        if learner.evaluation().overall().count() == 0 {
            bail!(
                "{} has no valid row for --target {} (skipped: {}); nothing was learnt",
                input.display(),
                args.target,
                run.skipped
            );
        }
        learner
            .save(output)
            .with_context(|| format!("writing {}", output.display()))?;
        outln!("{}", run.input_summary());
        report(args, &learner);
        errln!(
            "wrote {} in {:.2?} on {}",
            output.display(),
            started.elapsed(),
            runtime_name(&sc)
        );
        if let Some(path) = &args.plot {
            plot(path, args, &lock(&trace))?;
            errln!("wrote {}", path.display());
        }
        Ok(run.end)
    }
}

/// A CSV row of `numeric…, text…, target` as a record; a value that is not a finite number
/// becomes NaN, which the learner skips and counts.
fn to_record(mut row: Vec<String>, n_numeric: usize, n_text: usize) -> TextRecord {
    let label = row.pop().unwrap_or_default();
    let text = row.split_off(n_numeric.min(row.len()));
    let numeric = row
        .iter()
        .map(|v| {
            v.parse::<f64>()
                .ok()
                .filter(|x| x.is_finite())
                .unwrap_or(f64::NAN)
        })
        .collect();
    debug_assert_eq!(text.len(), n_text);
    (numeric, text, label)
}

/// The CSV file as a replayable stream of the `columns` as text.
pub fn text_source(
    job: &JobArgs,
    path: &Path,
    columns: &[String],
) -> spate::Result<spate::io::CsvTextSource> {
    let names: Vec<&str> = columns.iter().map(String::as_str).collect();
    let mut options = spate::io::CsvSource::options(path)
        .columns(&names)
        .rows_per_batch(job.records_per_batch);
    if let Some(d) = &job.dead_letter {
        options = options.dead_letter(d);
    }
    Ok(options.build_text()?)
}

fn report<M: Classifier>(args: &Args, learner: &StreamTextClassifier<M>) {
    let e = learner.evaluation();
    let (all, window) = (e.overall(), e.window());
    let labels = learner.labels();
    outln!(
        "{} records scored test-then-train ({} before any class was known), {} classes, model {:?}",
        all.count(),
        e.unpredicted(),
        labels.len(),
        args.model
    );
    outln!(
        "                 whole stream   last {} records",
        window.count()
    );
    for (name, a, b) in [
        ("accuracy", all.accuracy(), window.accuracy()),
        ("macro F1", all.macro_f1(), window.macro_f1()),
        ("log-loss", all.log_loss(), window.log_loss()),
        ("ROC AUC", all.roc_auc(), window.roc_auc()),
    ] {
        outln!("  {name:<12} {a:>14.6} {b:>17.6}");
    }
    let confusion = all.confusion();
    if !confusion.is_empty() && confusion.len() <= 12 {
        outln!("confusion matrix over the stream (rows: true class, columns: predicted):");
        let name = |i: usize| labels.name(i).unwrap_or("?").to_string();
        let width = (0..confusion.len())
            .map(|i| name(i).len())
            .max()
            .unwrap_or(1)
            .max(8);
        let header: Vec<String> = (0..confusion.len())
            .map(|i| format!("{:>width$}", name(i)))
            .collect();
        outln!("  {:<width$} {}", "", header.join(" "));
        for (i, row) in confusion.iter().enumerate() {
            let cells: Vec<String> = row.iter().map(|v| format!("{v:>width$}")).collect();
            outln!("  {:<width$} {}", name(i), cells.join(" "));
        }
    }
}

fn plot(path: &Path, args: &Args, trace: &Trace) -> anyhow::Result<()> {
    let series =
        |name: &str, k: usize| Series::new(name, trace.points.iter().map(|p| (p[0], p[k])));
    LineChart::new(format!(
        "{} by {:?}: test-then-train metrics",
        args.target, args.model
    ))
    .x_label("records")
    .y_label("score")
    .series(series("accuracy, whole stream", 1))
    .series(series(
        &format!("accuracy, last {} records", args.metrics_window),
        2,
    ))
    .series(series("macro F1, whole stream", 3))
    .series(series(
        &format!("macro F1, last {} records", args.metrics_window),
        4,
    ))
    .save(path)?;
    Ok(())
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
