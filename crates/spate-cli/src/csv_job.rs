//! What the jobs over a CSV file share (`spate kmeans`, `spate regress`): reading the file
//! as a replayed stream, the standardization prepass, and running with checkpoints.

use crate::common::{RunEnd, interactive};
use crate::job::JobArgs;
use anyhow::Context;
use spate::ml::Standardizer;
use spate::prelude::*;
use spate::stats::Moments;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Input counts of one run of a job (this process only: a restarted job counts from its
/// restart).
pub struct RunCounts {
    pub rows: u64,
    pub skipped: u64,
    pub batches: u64,
    pub end: RunEnd,
}

impl RunCounts {
    /// `this run: …`, the input this process read.
    pub fn input_summary(&self) -> String {
        format!(
            "this run: {} batches, {} CSV rows used, {} skipped by the CSV reader (a missing, NA or non-numeric value; never read as 0)",
            self.batches, self.rows, self.skipped
        )
    }
}

/// Adds up the input of every batch.
#[derive(Default)]
struct Counter {
    rows: AtomicU64,
    skipped: AtomicU64,
    batches: AtomicU64,
}

impl StreamingListener for Counter {
    fn on_batch_completed(&self, info: &BatchInfo) {
        self.rows.fetch_add(info.records_in, Ordering::Relaxed);
        self.skipped
            .fetch_add(info.records_skipped, Ordering::Relaxed);
        self.batches.fetch_add(1, Ordering::Relaxed);
    }
}

/// Whether a progress bar is drawn for `job` (on a terminal, unless `--quiet`).
pub fn progress_bar(job: &JobArgs) -> bool {
    interactive() && !job.quiet
}

/// The CSV file as a replayable stream of the `columns`, in that order.
pub fn csv_source(
    job: &JobArgs,
    path: &Path,
    columns: &[String],
) -> spate::Result<crate::redis_io::CsvInput> {
    crate::redis_io::csv_input(
        path,
        columns,
        job.records_per_batch,
        job.dead_letter.as_deref(),
    )
}

/// Builds the job (restoring it from --checkpoint if one is there), runs it until the file
/// is consumed (or --max-batches, or a signal), and returns what it read.
pub fn run(
    job: &JobArgs,
    input: &Path,
    build: impl FnOnce() -> spate::Result<StreamingContext>,
) -> anyhow::Result<RunCounts> {
    let ssc =
        crate::common::build_or_recover(job.checkpoint.as_deref(), job.checkpoint_every, build)?;
    let counter = Arc::new(Counter::default());
    ssc.add_listener(Arc::clone(&counter));
    let progress = if job.quiet {
        None
    } else {
        let total = std::fs::metadata(input).ok().map(|m| m.len());
        crate::common::show_progress(&ssc, progress_bar(job), total)
    };
    let end = crate::common::run(&ssc, job)?;
    if let Some(progress) = &progress {
        progress.finish();
    }
    Ok(RunCounts {
        rows: counter.rows.load(Ordering::Relaxed),
        skipped: counter.skipped.load(Ordering::Relaxed),
        batches: counter.batches.load(Ordering::Relaxed),
        end,
    })
}

/// `x` as the shortest text that parses back to exactly `x` (exponent form for very large
/// or small magnitudes, unlike `Display`).
pub fn exact(x: f64) -> String {
    format!("{x:?}")
}

/// Mean and (population) standard deviation of every column over the whole file, read once
/// with the same row-skipping rules as the stream.
pub fn prepass_standardizer(
    path: &Path,
    columns: &[String],
    batch_rows: u64,
) -> anyhow::Result<Standardizer> {
    let mut source = crate::redis_io::csv_input(path, columns, batch_rows, None)
        .with_context(|| format!("reading {}", path.display()))?;
    source.start()?;
    let mut moments = vec![Moments::new(); columns.len()];
    let mut column = Vec::new();
    let t = BatchTime(0);
    while !source.is_exhausted() {
        if crate::common::interrupted() {
            anyhow::bail!(
                "interrupted while reading {} for --standardize",
                path.display()
            );
        }
        let batch = source.next_batch(t, None)?;
        for (j, m) in moments.iter_mut().enumerate() {
            column.clear();
            column.extend(batch.records.iter().map(|r| r[j]));
            m.update(&column);
        }
    }
    let means: Vec<f64> = moments.iter().map(|m| m.mean().unwrap_or(0.0)).collect();
    let sds: Vec<f64> = moments
        .iter()
        .map(|m| m.population_std_dev().unwrap_or(0.0))
        .collect();
    let standardizer = Standardizer::new(means, sds)?;
    let constant = standardizer.constant_columns();
    if !constant.is_empty() {
        let names: Vec<&str> = constant.iter().map(|&j| columns[j].as_str()).collect();
        crate::common::note(&format!(
            "columns with zero spread are only centred, not scaled: {}",
            names.join(", ")
        ));
    }
    Ok(standardizer)
}
