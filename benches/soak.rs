//! Soak benchmark: a windowed, stateful word count with key timeouts at a fixed input rate
//! for a long time, reporting resident memory and delays over time.
//!
//! A producer thread writes lines to a local TCP socket at a fixed rate; the job reads them
//! with `SocketTextSource` (a bounded buffer, then TCP flow control), counts words per
//! 10 s window sliding every 2 s (incremental, with an inverse) and keeps a per-key session
//! state with a 20 s timeout (`map_with_state`). Every line carries a few words from a
//! bounded vocabulary and one fresh id, so without timeouts the state would grow forever.
//!
//! Run: `cargo bench -p spate-benches --bench soak -- [--minutes 10] [--rate 20000]
//! [--backpressure] [--out out/soak]`; writes `soak-*.csv` and `soak-*.png` with one row
//! per batch. Figures and curves: docs/benchmarks.md.

use spate::plot::{LineChart, Panels, Series};
use spate::prelude::*;
use spate::stream::{Backpressure, State};
use std::io::Write;
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

struct Options {
    minutes: f64,
    rate: u64,
    backpressure: bool,
    out: std::path::PathBuf,
}

fn options() -> Options {
    let mut o = Options {
        minutes: 10.0,
        rate: 20_000,
        backpressure: false,
        out: "out/soak".into(),
    };
    let args: Vec<String> = std::env::args().collect();
    let mut i = 1;
    while i < args.len() {
        match args[i].as_str() {
            "--minutes" => o.minutes = args[i + 1].parse().expect("--minutes N"),
            "--rate" => o.rate = args[i + 1].parse().expect("--rate N"),
            "--out" => o.out = args[i + 1].clone().into(),
            "--backpressure" => {
                o.backpressure = true;
                i -= 1;
            }
            _ => {
                i -= 1; // cargo bench passes --bench; ignore unknown flags
            }
        }
        i += 2;
    }
    o
}

/// Resident set size in MiB, from /proc (Linux).
fn rss_mib() -> f64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: f64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0.0);
    pages * 4096.0 / (1 << 20) as f64
}

const VOCABULARY: &[&str] = &[
    "whale", "sea", "ship", "captain", "harpoon", "boat", "crew", "deck", "mast", "sail", "ocean",
    "storm", "wind", "wave", "oil", "bone", "line", "rope", "sperm", "white",
];

/// Writes `rate` lines per second to every accepted connection until `stop`.
fn producer(listener: TcpListener, rate: u64, stop: Arc<AtomicBool>, written: Arc<AtomicU64>) {
    let Ok((mut socket, _)) = listener.accept() else {
        return;
    };
    let start = Instant::now();
    let mut n = 0_u64;
    let mut line = String::new();
    while !stop.load(Ordering::Relaxed) {
        let due = (start.elapsed().as_secs_f64() * rate as f64) as u64;
        if n >= due {
            std::thread::sleep(Duration::from_millis(2));
            continue;
        }
        let mut chunk = Vec::with_capacity(64 * 1024);
        while n < due && chunk.len() < 60 * 1024 {
            line.clear();
            for k in 0..4 {
                line.push_str(VOCABULARY[((n * 7 + k * 13) % VOCABULARY.len() as u64) as usize]);
                line.push(' ');
            }
            line.push_str(&format!("id{n}\n"));
            chunk.extend_from_slice(line.as_bytes());
            n += 1;
        }
        // Blocks when the job's buffer and the socket buffers are full: TCP flow control.
        if socket.write_all(&chunk).is_err() {
            return;
        }
        written.store(n, Ordering::Relaxed);
    }
}

struct Recorder {
    started: Instant,
    rows: Arc<Mutex<Vec<(f64, BatchInfo, f64)>>>,
}

impl StreamingListener for Recorder {
    fn on_batch_completed(&self, info: &BatchInfo) {
        let t = self.started.elapsed().as_secs_f64();
        self.rows
            .lock()
            .expect("rows")
            .push((t, info.clone(), rss_mib()));
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let o = options();
    std::fs::create_dir_all(&o.out)?;
    let tag = format!(
        "{}{}",
        o.rate,
        if o.backpressure { "-backpressure" } else { "" }
    );
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let address = listener.local_addr()?.to_string();
    let stop = Arc::new(AtomicBool::new(false));
    let written = Arc::new(AtomicU64::new(0));
    let producer_thread = {
        let (stop, written) = (Arc::clone(&stop), Arc::clone(&written));
        let rate = o.rate;
        std::thread::spawn(move || producer(listener, rate, stop, written))
    };

    let sc = spate::local_context()?;
    let mut builder = StreamingContext::builder(&sc).batch_interval(Duration::from_secs(1));
    if o.backpressure {
        builder = builder.backpressure(Backpressure::default());
    }
    let ssc = builder.build()?;
    let lines = ssc.source_stream(SocketTextSource::options(&address).build()?)?;
    let words = lines
        .flat_map(|l: String| spate::words(&l))
        .map(|w| (w, 1_u64));
    // Windowed counts of the vocabulary; per-id sessions with a timeout.
    words
        .filter(|(w, _)| !w.starts_with("id"))
        .reduce_by_key_and_window_inv(
            |a, b| a + b,
            |a, b| a - b,
            Window::new(Duration::from_secs(10), Duration::from_secs(2)),
        )?
        .foreach_rdd(|rdd, _| rdd.count().map(drop))?;
    let sessions = words.filter(|(w, _)| w.starts_with("id")).map_with_state(
        StateSpec::function(|_w: &String, v: Option<u64>, s: &mut State<u64>| {
            if let Some(v) = v {
                s.update(s.get().copied().unwrap_or(0) + v);
            }
        })
        .timeout(Duration::from_secs(20)),
    )?;
    sessions
        .mapped()
        .count()
        .foreach_rdd(|rdd, _| rdd.count().map(drop))?;
    let rows = Arc::new(Mutex::new(Vec::new()));
    ssc.add_listener(Recorder {
        started: Instant::now(),
        rows: Arc::clone(&rows),
    });
    ssc.start()?;
    let done = ssc.await_termination_or_timeout(Duration::from_secs_f64(o.minutes * 60.0))?;
    stop.store(true, Ordering::Relaxed);
    if !done {
        ssc.stop(false)?;
    }
    let _ = producer_thread.join();

    let rows = rows.lock().map_err(|_| "rows")?.clone();
    let csv = o.out.join(format!("soak-{tag}.csv"));
    let mut f = std::io::BufWriter::new(std::fs::File::create(&csv)?);
    writeln!(
        f,
        "elapsed_s,batch_ms,records,processing_ms,scheduling_delay_ms,state_size,rate_limit,rss_mib"
    )?;
    for (t, b, rss) in &rows {
        writeln!(
            f,
            "{t:.1},{},{},{},{},{},{},{rss:.1}",
            b.batch_time.0,
            b.records_in,
            b.processing_time_ms,
            b.scheduling_delay_ms,
            b.state_size,
            b.rate_limit.map_or(String::new(), |r| r.to_string())
        )?;
    }
    f.flush()?;
    let series = |name: &str, f: &dyn Fn(&(f64, BatchInfo, f64)) -> f64| {
        Series::new(
            name,
            rows.iter()
                .map(|r| (r.0, f(r)))
                .collect::<Vec<(f64, f64)>>(),
        )
    };
    Panels::new(format!("soak at {} lines/s", o.rate))
        .panel(
            LineChart::new("resident memory")
                .x_label("seconds")
                .y_label("MiB")
                .series(series("RSS", &|r| r.2)),
        )
        .panel(
            LineChart::new("delays")
                .x_label("seconds")
                .y_label("ms")
                .series(series("processing", &|r| r.1.processing_time_ms as f64))
                .series(series("scheduling delay", &|r| {
                    r.1.scheduling_delay_ms as f64
                })),
        )
        .panel(
            LineChart::new("input and state")
                .x_label("seconds")
                .y_label("records")
                .series(series("records per batch", &|r| r.1.records_in as f64))
                .series(series("state entries", &|r| r.1.state_size as f64)),
        )
        .save(o.out.join(format!("soak-{tag}.png")))?;

    let n = rows.len().max(1);
    let tail = &rows[n.saturating_sub(n / 2)..];
    let quarter = |from: usize, to: usize| -> f64 {
        let part = &rows[from.min(n)..to.min(n)];
        part.iter().map(|r| r.2).sum::<f64>() / part.len().max(1) as f64
    };
    println!(
        "soak {tag}: {} batches over {:.1} min; lines produced {}, processed {}",
        rows.len(),
        o.minutes,
        written.load(Ordering::Relaxed),
        rows.iter().map(|r| r.1.records_in).sum::<u64>()
    );
    println!(
        "  RSS MiB by quarter: {:.1} {:.1} {:.1} {:.1}",
        quarter(0, n / 4),
        quarter(n / 4, n / 2),
        quarter(n / 2, 3 * n / 4),
        quarter(3 * n / 4, n)
    );
    println!(
        "  second half: max scheduling delay {} ms, mean processing {:.0} ms, max state {}",
        tail.iter()
            .map(|r| r.1.scheduling_delay_ms)
            .max()
            .unwrap_or(0),
        tail.iter()
            .map(|r| r.1.processing_time_ms as f64)
            .sum::<f64>()
            / tail.len().max(1) as f64,
        tail.iter().map(|r| r.1.state_size).max().unwrap_or(0)
    );
    println!("  wrote {} and the .png beside it", csv.display());
    Ok(())
}
