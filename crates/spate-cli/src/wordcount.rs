//! `spate wordcount`: the main job. Counts words per batch (or per sliding window) from a
//! replayed file, a watched directory or a TCP socket, prints the top words, and writes a
//! CSV per batch and the total counts.

use crate::common::{BatchLog, Progress, interactive, parse_duration};
use anyhow::{Context, bail};
use spate::Word;
use spate::io::{CsvFileSink, DirectorySource, FileReplaySource, SocketTextSource};
use spate::prelude::*;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Streaming word count (lowercased, split on non-alphanumerics).
#[derive(clap::Args, Clone, Debug)]
pub struct Args {
    /// A text file (plain or .gz, replayed as a stream), a directory (its files, then new
    /// files as they appear), or tcp://HOST:PORT (lines from a TCP server).
    #[arg(long)]
    input: String,
    /// Batch interval.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    batch: Duration,
    /// Count over a sliding window of this length (a multiple of --batch).
    #[arg(long, value_parser = parse_duration)]
    window: Option<Duration>,
    /// How often the window slides (default: --batch).
    #[arg(long, value_parser = parse_duration, requires = "window")]
    slide: Option<Duration>,
    /// How many top words to print per batch (0: none).
    #[arg(long, default_value_t = 20)]
    top: usize,
    /// Directory for per-batch `counts-TIME.csv` files and `final.csv`.
    #[arg(long)]
    output: Option<PathBuf>,
    /// Lines per batch when replaying a file.
    #[arg(long, default_value_t = 1000)]
    lines_per_batch: u64,
    /// Replay a file at the pace of the batch interval instead of as fast as possible.
    #[arg(long)]
    realtime: bool,
    /// Checkpoint directory: state and input position are saved there and a restarted job
    /// continues exactly where the last checkpoint left off.
    #[arg(long)]
    checkpoint: Option<PathBuf>,
    /// Write a checkpoint every this many batches.
    #[arg(long, default_value_t = 5)]
    checkpoint_every: u64,
    /// Worker threads (default: one per core).
    #[arg(long)]
    threads: Option<usize>,
    /// Stop after this many batches (useful for directory and socket inputs).
    #[arg(long)]
    max_batches: Option<u64>,
    /// Cap on records per batch.
    #[arg(long)]
    max_records_per_batch: Option<u64>,
    /// Adapt the records per batch to the processing rate (PID rate controller).
    #[arg(long)]
    backpressure: bool,
    /// Write skipped lines (invalid UTF-8, too long) to this file.
    #[arg(long)]
    dead_letter: Option<PathBuf>,
    /// Do not print the top words per batch.
    #[arg(long)]
    quiet: bool,
}

enum Input {
    File(PathBuf),
    Directory(PathBuf),
    Socket(String),
}

impl Input {
    fn parse(text: &str) -> anyhow::Result<Input> {
        if let Some(address) = text.strip_prefix("tcp://") {
            if address.is_empty() {
                bail!("--input tcp:// needs HOST:PORT, e.g. tcp://localhost:9999");
            }
            return Ok(Input::Socket(address.to_string()));
        }
        let path = PathBuf::from(text);
        let meta = std::fs::metadata(&path)
            .with_context(|| format!("--input {text}: no such file or directory"))?;
        Ok(if meta.is_dir() {
            Input::Directory(path)
        } else {
            Input::File(path)
        })
    }
}

/// Word totals over the whole run, kept at the driver and checkpointed with the stream.
type Totals = HashMap<Word, u64>;

pub fn run(args: Args) -> anyhow::Result<()> {
    let input = Input::parse(&args.input)?;
    let progress = interactive() && matches!(input, Input::File(_));
    crate::common::init_logging(progress);
    let sc = crate::common::spate_context(args.threads)?;
    let totals_handle: Arc<Mutex<Option<ManagedState<Totals>>>> = Arc::default();
    let build = || build(&sc, &args, &input, &totals_handle);
    let ssc =
        crate::common::build_or_recover(args.checkpoint.as_deref(), args.checkpoint_every, build)?;
    let bar = progress.then(|| {
        let total = match &input {
            Input::File(p) if !is_gzip(p) => std::fs::metadata(p).ok().map(|m| m.len()),
            _ => None,
        };
        Arc::new(Progress::new(total))
    });
    match &bar {
        Some(bar) => ssc.add_listener(Arc::clone(bar)),
        None if !args.quiet => ssc.add_listener(BatchLog),
        None => {}
    }
    let started = Instant::now();
    crate::common::run(&ssc, args.max_batches)?;
    if let Some(bar) = &bar {
        bar.finish();
    }
    let history = ssc.batch_history();
    let lines: u64 = history.iter().map(|b| b.records_in).sum();
    let skipped: u64 = history.iter().map(|b| b.records_skipped).sum();
    let totals = totals_handle
        .lock()
        .map_err(|_| anyhow::anyhow!("totals lock poisoned"))?
        .as_ref()
        .map(ManagedState::get)
        .unwrap_or_default();
    let mut ranked: Vec<(Word, u64)> = totals.into_iter().collect();
    rank(&mut ranked);
    let words: u64 = ranked.iter().map(|(_, n)| n).sum();
    eprintln!(
        "{} batches, {lines} lines ({skipped} skipped), {words} words, {} distinct, in {:.2?} on {}",
        history.len(),
        ranked.len(),
        started.elapsed(),
        sc.runtime_name()
    );
    if args.top > 0 {
        println!("top {} words overall:", args.top.min(ranked.len()));
        print_table(&ranked[..args.top.min(ranked.len())]);
    }
    if let Some(dir) = &args.output {
        remove_stale_temporaries(dir);
        let path = dir.join("final.csv");
        spate::io::write_csv_file(&path, &["word", "count"], &ranked)?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

fn build(
    sc: &SpateContext,
    args: &Args,
    input: &Input,
    totals_handle: &Arc<Mutex<Option<ManagedState<Totals>>>>,
) -> spate::Result<StreamingContext> {
    let mut builder = StreamingContext::builder(sc).batch_interval(args.batch);
    builder = match input {
        Input::File(_) if !args.realtime => builder.clock(FastForwardClock::new()),
        _ => builder.clock(SystemClock::new()),
    };
    if let Some(max) = args.max_records_per_batch {
        builder = builder.max_records_per_batch(max);
    }
    if args.backpressure {
        builder = builder.backpressure(spate::stream::Backpressure::default());
    }
    let ssc = builder.build()?;
    let lines = match input {
        Input::File(path) => {
            let mut options = FileReplaySource::options(path).lines_per_batch(args.lines_per_batch);
            if let Some(d) = &args.dead_letter {
                options = options.dead_letter(d);
            }
            ssc.source_stream(options.build()?)?
        }
        Input::Directory(path) => {
            // Files already there are counted first, then new ones as they appear.
            let mut options = DirectorySource::options(path).include_existing(true);
            if let Some(d) = &args.dead_letter {
                options = options.dead_letter(d);
            }
            ssc.source_stream(options.build()?)?
        }
        Input::Socket(address) => ssc.source_stream(SocketTextSource::options(address).build()?)?,
    };
    let counts = lines
        .map_partitions_ref(spate::count_words)
        .reduce_by_key(|a, b| a + b);

    let totals = ssc.managed_state("wordcount totals", Totals::new())?;
    *totals_handle
        .lock()
        .map_err(|_| spate::Error::Internal("totals lock poisoned".into()))? = Some(totals.clone());
    let sink = match &args.output {
        Some(dir) => Some(CsvFileSink::new(dir, "counts", &["word", "count"])?),
        None => None,
    };
    let top = if args.quiet { 0 } else { args.top };
    let windowed = args.window.is_some();
    let per_batch_sink = if windowed { None } else { sink.clone() };
    counts.foreach_rdd(move |rdd, time| {
        let mut batch = rdd.collect()?;
        {
            let mut totals = totals.lock();
            for (w, n) in &batch {
                *totals.entry(w.clone()).or_insert(0) += n;
            }
        }
        if !windowed {
            rank(&mut batch);
            report(time, "batch", &batch, top, per_batch_sink.as_ref())?;
        }
        Ok(())
    })?;
    if let Some(length) = args.window {
        let window = Window::new(length, args.slide.unwrap_or(args.batch));
        counts
            .reduce_by_key_and_window_inv(|a, b| a + b, |a, b| a - b, window)?
            .foreach_rdd(move |rdd, time| {
                let mut counts = rdd.collect()?;
                rank(&mut counts);
                report(time, "window", &counts, top, sink.as_ref())
            })?;
    }
    Ok(ssc)
}

/// Most frequent first, ties by word, so outputs are deterministic.
fn rank(counts: &mut [(Word, u64)]) {
    counts.sort_unstable_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
}

fn report(
    time: spate::BatchTime,
    what: &str,
    ranked: &[(Word, u64)],
    top: usize,
    sink: Option<&CsvFileSink>,
) -> spate::Result<()> {
    if let Some(sink) = sink {
        sink.write_batch(time, ranked)?;
    }
    if top > 0 {
        let words: u64 = ranked.iter().map(|(_, n)| n).sum();
        let shown: Vec<String> = ranked
            .iter()
            .take(top)
            .map(|(w, n)| format!("{w} {n}"))
            .collect();
        println!(
            "{what} {} ms: {words} words, {} distinct | {}",
            time.0,
            ranked.len(),
            shown.join(", ")
        );
    }
    Ok(())
}

fn print_table(rows: &[(Word, u64)]) {
    let width = rows
        .iter()
        .map(|(w, _)| w.chars().count())
        .max()
        .unwrap_or(4)
        .max(4);
    println!("  {:<width$}  {:>10}", "word", "count");
    for (w, n) in rows {
        println!("  {w:<width$}  {n:>10}");
    }
}

fn is_gzip(path: &Path) -> bool {
    let mut magic = [0_u8; 2];
    std::fs::File::open(path)
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut magic))
        .map(|()| magic == [0x1f, 0x8b])
        .unwrap_or(false)
}

/// Removes temporary files of earlier `final.csv` writes that were killed midway.
fn remove_stale_temporaries(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        if entry
            .file_name()
            .to_string_lossy()
            .starts_with(".final.csv.tmp-")
        {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}
