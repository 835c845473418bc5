//! `--ui` for real: a job serves its live UI, and headless Chromium, loading the page after
//! the job ended and again on a reload, must render exactly the batches the JSON API
//! reports (table rows and chart points).
//!
//! Chromium comes from the Debian package `chromium` (`.ci/run` installs it). Where it
//! cannot be found the browser test is skipped with a loud message, except under CI
//! (`CI` set), where it fails.

use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

fn spate() -> Command {
    Command::new(env!("CARGO_BIN_EXE_spate"))
}

fn dataset(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../datasets")
        .join(name)
}

/// The Chromium binary, or `None` (with a loud message) where there is none outside CI.
fn chromium() -> Option<PathBuf> {
    let names = ["chromium", "chromium-browser", "google-chrome"];
    let found = std::env::var_os("SPATE_CHROMIUM")
        .map(PathBuf::from)
        .or_else(|| {
            let path = std::env::var_os("PATH")?;
            std::env::split_paths(&path)
                .flat_map(|dir| names.iter().map(move |n| dir.join(n)))
                .find(|p| p.is_file())
        });
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "Chromium is required under CI: .ci/run installs the Debian package `chromium`"
        );
        eprintln!(
            "\n{0}\nSKIPPED: the browser test of the live UI needs Chromium \
             (apt-get install chromium, or set SPATE_CHROMIUM)\n{0}\n",
            "!".repeat(78)
        );
    }
    found
}

/// A job started with `--ui 127.0.0.1:0`, its URL read from stderr.
struct Job {
    child: Child,
    addr: SocketAddr,
    stderr: mpsc::Receiver<String>,
}

impl Job {
    fn start(cmd: &mut Command) -> Job {
        let mut child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut job = Job {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            stderr: rx,
        };
        let line = job.wait_for("live UI at http://");
        let url = line.split("http://").nth(1).unwrap();
        job.addr = url.trim_end_matches('/').parse().unwrap();
        assert!(job.addr.ip().is_loopback(), "{line}");
        job
    }

    /// Waits (at most a minute) for a stderr line containing `text`.
    fn wait_for(&mut self, text: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut seen = Vec::new();
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.stderr.recv_timeout(left) {
                Ok(line) if line.contains(text) => return line,
                Ok(line) => seen.push(line),
                Err(_) => break,
            }
        }
        let _ = self.child.kill();
        panic!("no `{text}` on stderr; it said:\n{}", seen.join("\n"));
    }
}

impl Drop for Job {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// GET over HTTP/1.0 (a plain body, then the server closes).
fn get(addr: SocketAddr, path: &str) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    assert!(
        head.starts_with("HTTP/1.0 200") || head.starts_with("HTTP/1.1 200"),
        "{head}"
    );
    body.to_string()
}

fn api(addr: SocketAddr, path: &str) -> Value {
    serde_json::from_str(&get(addr, path)).unwrap()
}

/// The page as Chromium renders it once its script has run.
fn rendered_dom(browser: &Path, url: &str, profile: &Path) -> String {
    let mut child = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--virtual-time-budget=5000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(url)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut dom = String::new();
        let _ = stdout.read_to_string(&mut dom);
        dom
    });
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("Chromium did not finish within 90 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    reader.join().unwrap()
}

/// The values of every `name="…"` attribute in `html`, in order.
fn attributes<'a>(html: &'a str, name: &str) -> Vec<&'a str> {
    let key = format!(" {name}=\"");
    html.match_indices(&key)
        .filter_map(|(i, _)| {
            let rest = &html[i + key.len()..];
            rest.find('"').map(|end| &rest[..end])
        })
        .collect()
}

/// The markup of the element with `id` up to the end of its `</tag>`.
fn element<'a>(html: &'a str, id: &str, tag: &str) -> &'a str {
    let start = html
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id} in the page"));
    let close = format!("</{tag}>");
    let end = html[start..].find(&close).unwrap();
    &html[start..start + end]
}

/// For each series drawn in chart `id`: its name and its number of vertices, counted from
/// the polyline's `points` (what is drawn), checked against its `data-points`.
fn chart_series(dom: &str, id: &str) -> Vec<(String, usize)> {
    let chart = element(dom, id, "figure");
    let mut series = Vec::new();
    for (i, _) in chart.match_indices("<polyline class=\"series") {
        let tag = &chart[i..i + chart[i..].find('>').unwrap()];
        let name = attributes(tag, "data-series")[0].to_string();
        let declared: usize = attributes(tag, "data-points")[0].parse().unwrap();
        let drawn = attributes(tag, "points")[0].split_whitespace().count();
        assert_eq!(drawn, declared, "{id}/{name}");
        series.push((name, drawn));
    }
    series
}

/// Checks that the rendered page shows the finished job as the API reports it.
fn assert_page_matches_api(dom: &str, batches: &[Value], summary: &Value) {
    assert!(dom.contains("data-status=\"ended\""), "status not `ended`");
    assert!(dom.contains("The job ended"), "no ended banner");
    let n = batches.len();

    // The table: the newest 100 batches, newest first, with their records.
    let table = element(dom, "batches", "table");
    let rows: Vec<u64> = attributes(table, "data-batch-time")
        .iter()
        .map(|t| t.parse().unwrap())
        .collect();
    let want: Vec<u64> = batches
        .iter()
        .rev()
        .take(100)
        .map(|b| b["batch_time"].as_u64().unwrap())
        .collect();
    assert_eq!(rows, want, "table rows");
    for b in batches.iter().rev().take(100) {
        let row_start = table
            .find(&format!("data-batch-time=\"{}\"", b["batch_time"]))
            .unwrap();
        let row = &table[row_start..row_start + table[row_start..].find("</tr>").unwrap()];
        let cells: Vec<&str> = row
            .split("<td>")
            .skip(1)
            .map(|c| c.split("</td>").next().unwrap())
            .collect();
        assert_eq!(cells[1], b["records_in"].to_string(), "records of {row}");
        assert_eq!(
            cells[6],
            b["processing_time_ms"].to_string(),
            "processing of {row}"
        );
    }

    // The charts: one vertex per batch, or per batch with a checkpoint.
    let checkpoints = batches
        .iter()
        .filter(|b| !b["checkpoint_ms"].is_null())
        .count();
    assert!(checkpoints >= 2, "the job checkpoints: {checkpoints}");
    // A checkpoint's size is known once its files are written: on a later batch when the
    // write is in the background (the last one may finish after the last batch). The
    // first checkpoint, of the start, is taken before any batch.
    let written = batches
        .iter()
        .filter(|b| !b["checkpoint_bytes"].is_null())
        .count();
    assert!(
        written == checkpoints || written == checkpoints + 1,
        "{written} sizes of {checkpoints} checkpoints"
    );
    let expect = [
        ("chart-input-rate", vec![("input_rate", n)]),
        ("chart-processing-time", vec![("processing_time_ms", n)]),
        ("chart-scheduling-delay", vec![("scheduling_delay_ms", n)]),
        ("chart-total-delay", vec![("total_delay_ms", n)]),
        ("chart-records", vec![("records_in", n)]),
        ("chart-state-entries", vec![("state_size", n)]),
        ("chart-state-bytes", vec![("checkpoint_bytes", written)]),
        (
            "chart-checkpoint-time",
            vec![("checkpoint_ms", checkpoints)],
        ),
        (
            "chart-late-skipped",
            vec![("records_skipped", n), ("records_late", n)],
        ),
    ];
    for (id, series) in expect {
        let want: Vec<(String, usize)> = series.iter().map(|(s, k)| (s.to_string(), *k)).collect();
        assert_eq!(chart_series(dom, id), want, "{id}");
    }
    // The batch interval is the processing chart's reference line.
    let processing = element(dom, "chart-processing-time", "figure");
    assert_eq!(
        attributes(processing, "data-value"),
        [summary["batch_interval_ms"].to_string()]
    );
    // The cards and the configuration.
    let batches_card = element(dom, "card-batches", "span");
    assert!(batches_card.ends_with(&format!(">{n}")), "{batches_card}");
    let config = element(dom, "config", "table");
    assert!(config.contains("<td>--input</td>"), "{config}");
    assert!(config.contains("moby-dick.txt"), "{config}");
}

#[test]
fn the_page_shows_the_batches_the_api_reports_after_the_job_ended_and_on_reload() {
    let Some(browser) = chromium() else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut job = Job::start(
        spate()
            .args([
                "wordcount",
                "--quiet",
                "--realtime",
                "--batch",
                "40ms",
                "--lines-per-batch",
                "1500",
                "--checkpoint-every",
                "4",
                "--ui",
                "127.0.0.1:0",
                "--ui-linger",
                "10m",
            ])
            .arg("--input")
            .arg(dataset("moby-dick.txt"))
            .arg("--checkpoint")
            .arg(dir.path().join("checkpoint")),
    );
    job.wait_for("the job has ended; its UI stays at");
    let summary = api(job.addr, "/api/summary");
    assert_eq!(summary["status"], "ended");
    let batches = api(job.addr, "/api/batches");
    let batches = batches.as_array().unwrap();
    // 22,331 lines in batches of 1500.
    assert_eq!(batches.len(), 15);
    assert_eq!(summary["totals"]["batches"], 15);
    assert_eq!(summary["totals"]["records_in"], 22_331);

    let url = format!("http://{}/", job.addr);
    let first = rendered_dom(&browser, &url, &dir.path().join("profile"));
    assert_page_matches_api(&first, batches, &summary);
    // A reload (a new page load in the same profile) shows the same final state.
    let reloaded = rendered_dom(&browser, &url, &dir.path().join("profile"));
    assert_page_matches_api(&reloaded, batches, &summary);
    assert_eq!(
        element(&first, "batches", "table"),
        element(&reloaded, "batches", "table")
    );
}

#[test]
fn every_long_running_command_serves_the_ui_and_prints_its_url() {
    let dir = tempfile::tempdir().unwrap();
    let out = |name: &str| dir.path().join(name);
    let elec2 = dataset("elec2-first4032.csv");
    let jobs: Vec<Vec<std::ffi::OsString>> = vec![
        vec![
            "stats".into(),
            "--input".into(),
            elec2.clone().into(),
            "--output".into(),
            out("stats.csv").into(),
        ],
        vec![
            "kmeans".into(),
            "--input".into(),
            elec2.clone().into(),
            "--k".into(),
            "3".into(),
            "--output".into(),
            out("centers.csv").into(),
        ],
        vec![
            "regress".into(),
            "--input".into(),
            elec2.into(),
            "--target".into(),
            "nswprice".into(),
            "--output".into(),
            out("weights.csv").into(),
        ],
        vec![
            "pagerank".into(),
            "--edges".into(),
            dataset("soc-sign-bitcoinotc.csv.gz").into(),
            "--output".into(),
            out("ranks.csv").into(),
        ],
    ];
    for args in jobs {
        let output = spate()
            .args(&args)
            .args(["--quiet", "--ui", "127.0.0.1:0"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{args:?}: {stderr}");
        assert!(
            stderr.contains("live UI at http://127.0.0.1:"),
            "{args:?}: {stderr}"
        );
        // Without --ui-linger the process ends with the job.
        assert!(!stderr.contains("stays at"), "{stderr}");
    }
}

#[test]
fn bad_ui_options_are_refused_before_the_job_runs() {
    let dir = tempfile::tempdir().unwrap();
    let run = |extra: &[&str]| {
        let output = spate()
            .args(["wordcount", "--quiet", "--output"])
            .arg(dir.path().join("out"))
            .arg("--input")
            .arg(dataset("moby-dick.txt"))
            .args(extra)
            .output()
            .unwrap();
        assert!(!output.status.success(), "{extra:?} was accepted");
        String::from_utf8_lossy(&output.stderr).into_owned()
    };
    let message = run(&["--ui", ":4040"]);
    assert!(message.contains("HOST:PORT"), "{message}");
    let message = run(&["--ui-linger", "1m"]);
    assert!(message.contains("--ui"), "{message}");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy = taken.local_addr().unwrap().to_string();
    let message = run(&["--ui", &busy]);
    assert!(message.contains(&busy), "{message}");
    assert!(
        !dir.path().join("out").join("final.csv").exists(),
        "nothing written"
    );
}
