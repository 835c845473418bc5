//! Word count CPU cost per word, single-threaded: the hand-written `HashMap` loop against
//! the same count through an `Rdd`, through a per-batch and a windowed `DStream` on one
//! worker thread, and `count_words` alone over a batch's partitions.
//! Measures process CPU time (getrusage), not wall time, so the figures hold on a machine
//! that is busy with other work; `wordcount.rs` (criterion) measures wall time and scaling.
//!
//! Run: `cargo bench -p spate-benches --bench wordcount_cpu [-- --mb 50] [--batch-lines 20000]
//! [--only NAME]`.

use spate_benches::{
    corpus, dstream_wordcount, dstream_wordcount_per_batch, rdd_wordcount, rdd_wordcount_per_word,
    wordcount_baseline,
};

fn cpu_seconds() -> f64 {
    // SAFETY: getrusage writes into the zeroed struct we pass; no other invariants.
    let mut usage: libc_rusage = unsafe { std::mem::zeroed() };
    unsafe { getrusage(0, &mut usage) };
    let tv = |t: Timeval| t.sec as f64 + t.usec as f64 * 1e-6;
    tv(usage.utime) + tv(usage.stime)
}

#[repr(C)]
#[derive(Clone, Copy)]
struct Timeval {
    sec: i64,
    usec: i64,
}

#[repr(C)]
struct libc_rusage {
    utime: Timeval,
    stime: Timeval,
    rest: [i64; 14],
}

unsafe extern "C" {
    fn getrusage(who: i32, usage: *mut libc_rusage) -> i32;
}

/// How every variant is timed: over the same corpus, best of `reps`, only the variants whose
/// name contains `only` (all without it).
struct Measure {
    words: u64,
    reps: usize,
    only: Option<String>,
}

impl Measure {
    /// CPU time per word of `run`, the fastest of `reps` repetitions after a warm-up (NaN for
    /// a variant `--only` leaves out). `input` builds each repetition's owned input (the copy
    /// of the corpus an engine consumes) outside the timed region, so every variant is timed
    /// on the counting alone.
    fn time<I>(
        &self,
        name: &str,
        mut input: impl FnMut() -> I,
        mut run: impl FnMut(I) -> usize,
    ) -> f64 {
        if let Some(only) = &self.only
            && !name.to_lowercase().contains(only)
        {
            return f64::NAN;
        }
        run(input()); // warm up
        let mut best = f64::INFINITY;
        let mut check = 0;
        for _ in 0..self.reps {
            let data = input();
            let start = cpu_seconds();
            check += run(data);
            best = best.min(cpu_seconds() - start);
        }
        let per_word = best / self.words as f64;
        println!(
            "{name:<28} {:>7.1} ns/word  {:>6.1} M words/s per core   (check {check})",
            per_word * 1e9,
            1e-6 / per_word
        );
        per_word
    }
}

/// The number after `name` on the command line, or `default`.
fn flag(args: &[String], name: &str, default: usize) -> usize {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mb = flag(&args, "--mb", 50);
    let lines = corpus(mb << 20);
    let words: u64 = lines.iter().map(|l| spate::words(l).len() as u64).sum();
    println!("corpus: {mb} MB, {} lines, {words} words", lines.len());
    let sc = spate::local::local_context_with_threads(1).expect("pool");
    let measure = Measure {
        words,
        reps: 5,
        only: args.iter().skip_while(|a| *a != "--only").nth(1).cloned(),
    };
    let base = measure.time(
        "hand-written HashMap loop",
        || lines.clone(),
        |lines| wordcount_baseline(&lines).len(),
    );
    let rdd = measure.time(
        "Rdd, count_words",
        || lines.clone(),
        |lines| rdd_wordcount(&sc, lines, 4),
    );
    let per_word = measure.time(
        "Rdd, flat_map + map",
        || lines.clone(),
        |lines| rdd_wordcount_per_word(&sc, lines, 4),
    );
    let batch_lines = flag(&args, "--batch-lines", 20_000);
    let batches: Vec<Vec<String>> = lines
        .chunks(batch_lines.max(1))
        .map(<[String]>::to_vec)
        .collect();
    // The counting alone, one hash map per partition of a batch as the DStream's
    // partitions see it (2 partitions per batch): what small batches cost before any engine
    // work (more first occurrences per word, a map built per partition).
    let per_partition = measure.time(
        "count_words per partition",
        || lines.clone(),
        |lines| {
            lines
                .chunks(batch_lines.div_ceil(2).max(1))
                .map(|part| spate::count_words(part).len())
                .sum()
        },
    );
    let per_batch = measure.time(
        "DStream, per batch",
        || batches.clone(),
        |batches| dstream_wordcount_per_batch(&sc, batches, 2),
    );
    let dstream = measure.time(
        "DStream, 10s/2s window inv",
        || batches.clone(),
        |batches| dstream_wordcount(&sc, batches, 2),
    );
    println!(
        "ratios to the hand-written loop: Rdd {:.2}x, Rdd flat_map {:.2}x, \
         count_words per partition {:.2}x, DStream per batch {:.2}x, DStream windowed {:.2}x",
        rdd / base,
        per_word / base,
        per_partition / base,
        per_batch / base,
        dstream / base
    );
}
