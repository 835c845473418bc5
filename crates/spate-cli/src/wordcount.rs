//! `spate wordcount`: the main job. Counts words per batch (or per sliding window) from a
//! replayed file, a watched directory or a TCP socket, prints the top words, and writes a
//! CSV per batch and the total counts.

use crate::common::{RunEnd, errln, interactive, outln, runtime_name};
use crate::job::{Identity, JobArgs, Output, Span};
use crate::redis_io::BatchSink;
use anyhow::{Context, bail};
use spate::Word;
use spate::io::{DirectorySource, FileReplaySource, SocketTextSource};
use spate::prelude::*;
use spate::stats::SpaceSaving;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// `--help` examples.
pub const EXAMPLES: &str = "\
Examples:
  Count the words of a book replayed in batches of 1000 lines, writing a CSV per batch and
  the totals:
    spate wordcount -i datasets/moby-dick.txt -o out/wordcount

  Counts over a 10-second window sliding every 2 seconds, top 5 words per window:
    spate wordcount -i datasets/moby-dick.txt --window 10s --slide 2s --top 5

  Lines from a TCP server, stopping after 30 batches; a checkpoint lets a rerun continue:
    spate wordcount -i tcp://localhost:9999 --max-batches 30 --checkpoint ckpt -o out

  A directory: its files, then new files as they appear (write them under a hidden name
  and rename them in):
    spate wordcount -i incoming/ -o out --quiet";

/// Streaming word count (lowercased, split on non-alphanumerics).
#[derive(clap::Args, Clone, Debug)]
pub struct Args {
    #[command(flatten)]
    pub job: JobArgs,
    /// Count over a sliding window of this length: a duration that is a multiple of --batch
    /// (10s) or a number of batches (10).
    #[arg(long, value_name = "SPAN", value_parser = Span::parse)]
    window: Option<Span>,
    /// How far the window slides (a duration or a number of batches; default: one batch).
    #[arg(long, value_name = "SPAN", value_parser = Span::parse, requires = "window")]
    slide: Option<Span>,
    /// How many top words to print per batch and at the end (0: none).
    #[arg(long, default_value_t = 20)]
    top: usize,
    /// Cap on records per batch (all sources).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    max_records_per_batch: Option<u64>,
    /// Adapt the records per batch to the processing rate (PID rate controller).
    #[arg(long)]
    backpressure: bool,
    /// Keep exact totals for final.csv up to this many distinct words; past it, only the
    /// most frequent this many, with upper-bound counts (Space-Saving), so memory stays
    /// bounded on an endless stream.
    #[arg(long, value_name = "N", default_value_t = 1_000_000,
          value_parser = clap::value_parser!(u64).range(1..=16_777_216))]
    max_distinct: u64,
}

enum Input {
    File(PathBuf),
    Directory(PathBuf),
    Socket(String),
    Redis(String),
}

impl Input {
    fn parse(text: &str) -> anyhow::Result<Input> {
        if let Some(address) = text.strip_prefix("tcp://") {
            if address.is_empty() {
                bail!("--input tcp:// needs HOST:PORT, e.g. tcp://localhost:9999");
            }
            return Ok(Input::Socket(address.to_string()));
        }
        if crate::redis_io::is_redis(text) {
            return Ok(Input::Redis(text.to_string()));
        }
        if let Some((scheme, _)) = text.split_once("://") {
            bail!(
                "--input {text}: unknown scheme `{scheme}://`; give a file, a directory, \
                 tcp://HOST:PORT or redis://HOST:PORT/STREAM"
            );
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

/// Word totals over the whole run, kept at the driver and checkpointed with the stream:
/// exact while there are at most `--max-distinct` distinct words, then the Space-Saving
/// summary of the most frequent ones (every word more frequent than total / capacity is in
/// it, each count at most `error` above the truth).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
enum Totals {
    Exact(HashMap<Word, u64>),
    Frequent(SpaceSaving<Word>),
}

impl Totals {
    /// Adds a batch's counts, sorted by word (so the summary does not depend on the order
    /// the engine hands them over).
    fn add(&mut self, batch: &[(Word, u64)], limit: usize) {
        match self {
            Totals::Exact(map) => {
                for (w, n) in batch {
                    *map.entry(w.clone()).or_insert(0) += n;
                }
                if map.len() > limit {
                    let mut all: Vec<(Word, u64)> = std::mem::take(map).into_iter().collect();
                    rank(&mut all);
                    let mut frequent = SpaceSaving::params()
                        .capacity(limit)
                        .build()
                        .unwrap_or_default();
                    for (w, n) in &all {
                        frequent.add(w, *n);
                    }
                    *self = Totals::Frequent(frequent);
                }
            }
            Totals::Frequent(frequent) => {
                let mut sorted: Vec<&(Word, u64)> = batch.iter().collect();
                sorted.sort_unstable_by(|a, b| a.0.cmp(&b.0));
                for (w, n) in sorted {
                    frequent.add(w, *n);
                }
            }
        }
    }

    /// Every kept word with its count and the most that count may exceed the truth (0 when
    /// exact), most frequent first.
    fn ranked(&self) -> Vec<(Word, u64, u64)> {
        let mut rows: Vec<(Word, u64, u64)> = match self {
            Totals::Exact(map) => map.iter().map(|(w, n)| (w.clone(), *n, 0)).collect(),
            Totals::Frequent(frequent) => frequent
                .top(usize::MAX)
                .into_iter()
                .map(|c| (c.item, c.count, c.error))
                .collect(),
        };
        rows.sort_unstable_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        rows
    }

    /// All words counted (exact in both forms).
    fn words(&self) -> u64 {
        match self {
            Totals::Exact(map) => map.values().sum(),
            Totals::Frequent(frequent) => frequent.total(),
        }
    }
}

/// Whether a file name is one `wordcount --output` writes.
fn is_output_name(name: &str) -> bool {
    name == "final.csv"
        || name
            .strip_prefix("counts-")
            .and_then(|n| n.strip_suffix(".csv"))
            .is_some_and(|t| t.bytes().all(|b| b.is_ascii_digit()))
}

pub fn run(args: Args) -> anyhow::Result<RunEnd> {
    let job = &args.job;
    let input = Input::parse(&job.input)?;
    if matches!(input, Input::Socket(_) | Input::Redis(_)) && job.dead_letter.is_some() {
        bail!(
            "--dead-letter is for file and directory inputs; a socket's or a Redis stream's \
             skipped lines are only counted"
        );
    }
    let bar = interactive() && !job.quiet && matches!(input, Input::File(_));
    crate::common::init_logging(job, bar);
    let window = match args.window {
        Some(length) => {
            let length = length.duration("--window", job.batch)?;
            let slide = args
                .slide
                .unwrap_or(Span::Batches(1))
                .duration("--slide", job.batch)?;
            Some(Window::new(length, slide))
        }
        None => None,
    };
    let identity = Identity::of("wordcount", job)
        .with_option("--window", args.window)
        .with_option("--slide", args.slide)
        .with_option("--max-records-per-batch", args.max_records_per_batch)
        .with("--backpressure", args.backpressure)
        .with("--max-distinct", args.max_distinct);
    let outputs: Vec<Output<'_>> = job
        .output
        .iter()
        .filter(|out| crate::redis_io::redis_url(out).is_none())
        .map(|dir| Output::Directory("--output", dir, is_output_name))
        .collect();
    let _prepared = job.prepare(&identity, &outputs)?;
    let sc = job.spate_context()?;
    let totals_handle: Arc<Mutex<Option<ManagedState<Totals>>>> = Arc::default();
    let build = || build(&sc, &args, &input, window, &totals_handle);
    let ssc =
        crate::common::build_or_recover(job.checkpoint.as_deref(), job.checkpoint_every, build)?;
    let progress = if job.quiet {
        None
    } else {
        let total = match &input {
            Input::File(p) if !is_gzip(p) => std::fs::metadata(p).ok().map(|m| m.len()),
            _ => None,
        };
        crate::common::show_progress(&ssc, bar, total)
    };
    let started = Instant::now();
    let end = crate::common::run(&ssc, job)?;
    if !crate::common::is_leader() {
        // Every worker ran the same job; the leader reports it and writes the outputs.
        return Ok(end);
    }
    if let Some(progress) = &progress {
        progress.finish();
    }
    let history = ssc.batch_history();
    let lines: u64 = history.iter().map(|b| b.records_in).sum();
    let skipped: u64 = history.iter().map(|b| b.records_skipped).sum();
    let totals = totals_handle
        .lock()
        .map_err(|_| anyhow::anyhow!("internal error: the totals lock was poisoned"))?
        .as_ref()
        .map(ManagedState::get)
        .context("internal error: the job was not built")?;
    let ranked = totals.ranked();
    if ranked.is_empty() && lines == 0 && ssc.recovered_from().is_none() {
        bail!(
            "no input: {} gave no valid line in {} batches ({skipped} skipped)",
            job.input,
            history.len()
        );
    }
    let approximate = matches!(totals, Totals::Frequent(_));
    errln!(
        "{} batches, {lines} lines ({skipped} skipped), {} words, {} {}distinct, in {:.2?} on {}",
        history.len(),
        totals.words(),
        ranked.len(),
        if approximate {
            "most frequent of more than --max-distinct "
        } else {
            ""
        },
        started.elapsed(),
        runtime_name(&sc)
    );
    if args.top > 0 {
        let shown = args.top.min(ranked.len());
        outln!("top {shown} words overall:");
        print_table(&ranked[..shown]);
    }
    if let Some(url) = job.output.as_deref().and_then(crate::redis_io::redis_url) {
        let sink = spate::redis::RedisHashSink::open(url)?;
        let counts: Vec<(&Word, u64)> = ranked.iter().map(|(w, n, _)| (w, *n)).collect();
        sink.write_named("final", &counts)?;
        errln!(
            "wrote the totals to the hash {url}:final{}",
            if approximate {
                " (the most frequent words only: more than --max-distinct distinct)"
            } else {
                ""
            }
        );
    } else if let Some(dir) = &job.output {
        let path = dir.join("final.csv");
        spate::io::remove_stale_temporaries_of(&path)?;
        if approximate {
            spate::io::write_csv_file(&path, &["word", "count", "error"], &ranked)?;
            errln!(
                "wrote {} (more than {} distinct words: the most frequent, each count at most \
                 `error` above the true count)",
                path.display(),
                args.max_distinct
            );
        } else {
            let exact: Vec<(&Word, u64)> = ranked.iter().map(|(w, n, _)| (w, *n)).collect();
            spate::io::write_csv_file(&path, &["word", "count"], &exact)?;
            errln!("wrote {}", path.display());
        }
    }
    Ok(end)
}

fn build(
    sc: &SpateContext,
    args: &Args,
    input: &Input,
    window: Option<Window>,
    totals_handle: &Arc<Mutex<Option<ManagedState<Totals>>>>,
) -> spate::Result<StreamingContext> {
    let job = &args.job;
    let fast_forward = match input {
        Input::File(_) => !job.realtime,
        Input::Redis(url) => !job.realtime && crate::redis_io::is_bounded(url),
        _ => false,
    };
    let mut builder = job.context_builder(sc, fast_forward);
    if let Some(max) = args.max_records_per_batch {
        builder = builder.max_records_per_batch(max);
    }
    if args.backpressure {
        builder = builder.backpressure(spate::stream::Backpressure::default());
    }
    let ssc = builder.build()?;
    let lines = match input {
        Input::File(path) => {
            let mut options =
                FileReplaySource::options(path).lines_per_batch(job.records_per_batch);
            if let Some(d) = &job.dead_letter {
                options = options.dead_letter(d);
            }
            ssc.source_stream(options.build()?)?
        }
        Input::Directory(path) => {
            // Files already there are counted first, then new ones as they appear.
            let mut options = DirectorySource::options(path).include_existing(true);
            if let Some(d) = &job.dead_letter {
                options = options.dead_letter(d);
            }
            ssc.source_stream(options.build()?)?
        }
        Input::Socket(address) => ssc.source_stream(SocketTextSource::options(address).build()?)?,
        Input::Redis(url) => {
            ssc.source_stream(crate::redis_io::line_source(url, job.records_per_batch)?)?
        }
    };
    let counts = lines
        .map_partitions_ref(spate::count_words)
        .reduce_by_key(|a, b| a + b);

    let totals = ssc.managed_state("wordcount totals", Totals::Exact(HashMap::new()))?;
    *totals_handle
        .lock()
        .map_err(|_| spate::Error::Internal("totals lock poisoned".into()))? = Some(totals.clone());
    let sink = match &job.output {
        Some(out) => Some(BatchSink::open(out, "counts", &["word", "count"])?),
        None => None,
    };
    let top = if job.quiet { 0 } else { args.top };
    let limit = args.max_distinct as usize;
    let per_batch_sink = if window.is_some() { None } else { sink.clone() };
    let windowed = window.is_some();
    counts.foreach_rdd(move |rdd, time| {
        let mut batch = rdd.collect()?;
        totals.lock().add(&batch, limit);
        if !windowed {
            rank(&mut batch);
            report(time, "batch", &batch, top, per_batch_sink.as_ref())?;
        }
        Ok(())
    })?;
    if let Some(window) = window {
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
    sink: Option<&BatchSink>,
) -> spate::Result<()> {
    // Every worker computes the batch; the leader writes it.
    if let Some(sink) = sink
        && crate::common::is_leader()
    {
        sink.write_batch(time, ranked)?;
    }
    if top > 0 {
        let words: u64 = ranked.iter().map(|(_, n)| n).sum();
        let shown: Vec<String> = ranked
            .iter()
            .take(top)
            .map(|(w, n)| format!("{w} {n}"))
            .collect();
        outln!(
            "{what} {} ms: {words} words, {} distinct | {}",
            time.0,
            ranked.len(),
            shown.join(", ")
        );
    }
    Ok(())
}

fn print_table(rows: &[(Word, u64, u64)]) {
    let width = rows
        .iter()
        .map(|(w, _, _)| w.chars().count())
        .max()
        .unwrap_or(4)
        .max(4);
    outln!("  {:<width$}  {:>10}", "word", "count");
    for (w, n, error) in rows {
        if *error > 0 {
            outln!("  {w:<width$}  {n:>10}  (at most {error} too high)");
        } else {
            outln!("  {w:<width$}  {n:>10}");
        }
    }
}

fn is_gzip(path: &Path) -> bool {
    let mut magic = [0_u8; 2];
    std::fs::File::open(path)
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut magic))
        .map(|()| magic == [0x1f, 0x8b])
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_are_exact_up_to_the_limit_then_keep_the_most_frequent() {
        let w = |s: &str| Word::from(s);
        let mut totals = Totals::Exact(HashMap::new());
        totals.add(&[(w("a"), 5), (w("b"), 1)], 3);
        totals.add(&[(w("a"), 2), (w("c"), 4)], 3);
        assert!(matches!(totals, Totals::Exact(_)));
        assert_eq!(
            totals.ranked(),
            [(w("a"), 7, 0), (w("c"), 4, 0), (w("b"), 1, 0)]
        );
        // A fourth distinct word: past the limit of 3.
        totals.add(&[(w("d"), 1), (w("a"), 1)], 3);
        assert!(matches!(totals, Totals::Frequent(_)));
        assert_eq!(totals.words(), 14);
        let ranked = totals.ranked();
        assert_eq!(ranked.len(), 3);
        assert_eq!(ranked[0], (w("a"), 8, 0));
        for (word, count, error) in &ranked {
            let truth = match word.as_str() {
                "a" => 8,
                "b" | "d" => 1,
                "c" => 4,
                _ => 0,
            };
            assert!(*count >= truth && count - error <= truth, "{word}");
        }
    }

    #[test]
    fn output_names_are_recognized() {
        assert!(is_output_name("final.csv"));
        assert!(is_output_name("counts-1000.csv"));
        assert!(!is_output_name("counts-x.csv"));
        assert!(!is_output_name("book.txt"));
    }
}
