use serde_json::Value;
use spate_core::stream::{FastForwardClock, ManualClock, ReplaySource, StreamingContext};
use spate_core::{BatchTime, Error, SpateContext};
use spate_ui::{JobStatus, StreamingContextBuilderUiExt, UiError, UiServer};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// A response: status code, headers (lowercase names) and body.
struct Response {
    status: u16,
    headers: String,
    body: String,
}

/// GET over HTTP/1.0, so the server answers with a plain body and closes.
fn get(addr: SocketAddr, path: &str) -> Response {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    Response {
        status,
        headers: head.to_lowercase(),
        body: body.to_string(),
    }
}

fn json(addr: SocketAddr, path: &str) -> Value {
    let r = get(addr, path);
    assert_eq!(r.status, 200, "{path}: {}", r.body);
    assert!(
        r.headers.contains("content-type: application/json"),
        "{}",
        r.headers
    );
    serde_json::from_str(&r.body).unwrap()
}

/// A job over `batches` replayed back to back, counting records.
fn job(batches: Vec<Vec<u32>>, fail_at: Option<u64>) -> StreamingContext {
    let ssc = StreamingContext::builder(&SpateContext::sequential(2))
        .batch_interval(Duration::from_millis(250))
        .clock(FastForwardClock::new())
        .build()
        .unwrap();
    ssc.source_stream(ReplaySource::new(batches))
        .unwrap()
        .count()
        .foreach_rdd(move |_rdd, t| match fail_at {
            Some(f) if t.0 == f => Err(Error::Operator {
                operator: "test sink".into(),
                message: "the disk is full".into(),
            }),
            _ => Ok(()),
        })
        .unwrap();
    ssc
}

fn batch_times(batches: &Value) -> Vec<u64> {
    batches
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["batch_time"].as_u64().unwrap())
        .collect()
}

/// The value of an unlabelled Prometheus sample.
fn sample(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no sample {name} in\n{text}"))
}

#[test]
fn serves_the_page_the_api_and_the_metrics_of_a_finished_job() {
    let input: Vec<Vec<u32>> = (1..=6).map(|n| (0..n * 10).collect()).collect();
    let ssc = job(input, None);
    let ui = UiServer::options("127.0.0.1:0")
        .title("six batches")
        .setting("input", "numbers")
        .start(&ssc)
        .unwrap();
    let addr = ui.local_addr();
    assert!(addr.ip().is_loopback());
    assert_eq!(ui.url(), format!("http://{addr}/"));
    ssc.start().unwrap();
    ssc.await_termination().unwrap();

    // The JSON API reports exactly the context's own history.
    let history = ssc.batch_history();
    let batches = json(addr, "/api/batches");
    let want: Vec<u64> = history.iter().map(|b| b.batch_time.0).collect();
    assert_eq!(batch_times(&batches), want);
    assert_eq!(want.len(), 6);
    for (b, h) in batches.as_array().unwrap().iter().zip(&history) {
        assert_eq!(b["records_in"].as_u64(), Some(h.records_in));
        assert_eq!(b["processing_time_ms"].as_u64(), Some(h.processing_time_ms));
        for field in [
            "input_rate",
            "scheduling_delay_ms",
            "total_delay_ms",
            "state_size",
        ] {
            assert!(!b[field].is_null(), "{field} missing in {b}");
        }
        assert!(
            b["checkpoint_bytes"].is_null(),
            "no checkpoints in this job"
        );
    }
    let since = json(addr, &format!("/api/batches?since={}", want[3]));
    assert_eq!(batch_times(&since), want[4..]);

    let summary = json(addr, "/api/summary");
    assert_eq!(summary["status"], "ended");
    assert_eq!(summary["title"], "six batches");
    assert_eq!(summary["batch_interval_ms"], 250);
    assert_eq!(summary["totals"]["batches"], 6);
    assert_eq!(summary["totals"]["records_in"], 210);
    assert_eq!(summary["retained_batches"], 6);
    assert_eq!(
        summary["last_batch"]["batch_time"].as_u64(),
        want.last().copied()
    );
    let config: Vec<(String, String)> = summary["config"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap().to_string(),
                s["value"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(
        config.contains(&("batch interval".into(), "250ms".into())),
        "{config:?}"
    );
    assert!(
        config.contains(&("input".into(), "numbers".into())),
        "{config:?}"
    );

    let metrics = get(addr, "/metrics");
    assert_eq!(metrics.status, 200);
    assert!(
        metrics
            .headers
            .contains("content-type: text/plain; version=0.0.4")
    );
    assert_eq!(sample(&metrics.body, "spate_batches_completed_total"), 6.0);
    assert_eq!(sample(&metrics.body, "spate_records_in_total"), 210.0);
    assert_eq!(sample(&metrics.body, "spate_last_batch_records"), 60.0);
    assert_eq!(sample(&metrics.body, "spate_job_running"), 0.0);
    assert_eq!(sample(&metrics.body, "spate_batch_interval_seconds"), 0.25);
    assert!(
        metrics
            .body
            .contains("# TYPE spate_batch_processing_seconds histogram")
    );

    // The page and its assets come from the binary.
    let page = get(addr, "/");
    assert_eq!(page.status, 200);
    assert!(page.headers.contains("content-type: text/html"));
    assert!(page.body.contains("<script src=\"/app.js\"></script>"));
    assert!(!page.body.contains("http"), "no external URL in the page");
    let script = get(addr, "/app.js");
    assert_eq!(script.status, 200);
    assert!(script.headers.contains("content-type: text/javascript"));
    assert!(script.body.contains("/api/batches"));
    assert_eq!(get(addr, "/style.css").status, 200);
    assert_eq!(get(addr, "/nothing-here").status, 404);
    assert_eq!(get(addr, "/api/batches?since=yesterday").status, 400);

    assert_eq!(ui.status(), JobStatus::Ended);
    ui.stop();
    // The port is free again.
    std::net::TcpListener::bind(addr).unwrap();
}

#[test]
fn a_failed_job_is_shown_failed_with_its_error() {
    let ssc = job(vec![vec![1], vec![2], vec![3], vec![4]], Some(500));
    let ui = UiServer::start(&ssc, "127.0.0.1:0").unwrap();
    ssc.start().unwrap();
    assert!(ssc.await_termination().is_err());
    let summary = json(ui.local_addr(), "/api/summary");
    assert_eq!(summary["status"], "failed");
    let error = summary["error"].as_str().unwrap();
    assert!(error.contains("the disk is full"), "{error}");
    assert_eq!(
        summary["totals"]["batches"], 1,
        "only the first batch completed"
    );
    assert!(summary["ended_unix_ms"].as_u64().is_some());
}

#[test]
fn only_the_newest_batches_are_retained_but_totals_cover_the_run() {
    let ssc = job((0..10).map(|i| vec![i]).collect(), None);
    let ui = UiServer::options("127.0.0.1:0")
        .retained_batches(3)
        .start(&ssc)
        .unwrap();
    ssc.start().unwrap();
    ssc.await_termination().unwrap();
    let history: Vec<u64> = ssc.batch_history().iter().map(|b| b.batch_time.0).collect();
    let addr = ui.local_addr();
    assert_eq!(batch_times(&json(addr, "/api/batches")), history[7..]);
    let summary = json(addr, "/api/summary");
    assert_eq!(summary["totals"]["batches"], 10);
    assert_eq!(summary["retained_batches"], 3);
    assert_eq!(summary["retained_limit"], 3);
    let err = UiServer::options("127.0.0.1:0")
        .retained_batches(0)
        .start(&ssc)
        .err()
        .unwrap();
    assert!(matches!(err, UiError::InvalidOption { .. }), "{err}");
}

#[test]
fn a_ui_attached_to_a_running_job_includes_the_batches_before_it() {
    let clock = ManualClock::new();
    let ssc = StreamingContext::builder(&SpateContext::sequential(1))
        .batch_interval(Duration::from_secs(1))
        .clock(clock.clone())
        .build()
        .unwrap();
    let (queue, numbers) = ssc.queue_stream::<u32>(true).unwrap();
    numbers.count().foreach_rdd(|_, _| Ok(())).unwrap();
    ssc.start().unwrap();
    for i in 0..2 {
        queue.push(vec![i; 3]);
        clock.advance(Duration::from_secs(1));
        ssc.await_batch(BatchTime((i as u64 + 1) * 1000)).unwrap();
    }
    let ui = UiServer::start(&ssc, "127.0.0.1:0").unwrap();
    for i in 2..4 {
        queue.push(vec![i; 3]);
        clock.advance(Duration::from_secs(1));
        ssc.await_batch(BatchTime((i as u64 + 1) * 1000)).unwrap();
    }
    let addr = ui.local_addr();
    assert_eq!(ui.status(), JobStatus::Running);
    assert_eq!(json(addr, "/api/summary")["status"], "running");
    assert_eq!(
        batch_times(&json(addr, "/api/batches")),
        [1000, 2000, 3000, 4000]
    );
    assert_eq!(json(addr, "/api/summary")["totals"]["records_in"], 12);
    ssc.stop(false).unwrap();
    assert_eq!(json(addr, "/api/summary")["status"], "ended");
}

#[test]
fn a_busy_address_is_a_clear_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let ssc = job(vec![vec![1]], None);
    let err = UiServer::start(&ssc, &addr.to_string()).err().unwrap();
    assert!(matches!(err, UiError::Bind { .. }), "{err}");
    let message = err.to_string();
    assert!(message.contains(&addr.to_string()), "{message}");
    assert!(message.contains("port 0 picks a free port"), "{message}");
    let err = UiServer::start(&ssc, "not an address").err().unwrap();
    assert!(matches!(err, UiError::BadAddress { .. }), "{err}");
}

#[test]
fn the_builder_extension_starts_the_ui_with_the_context() {
    let (ssc, ui) = StreamingContext::builder(&SpateContext::sequential(1))
        .batch_interval(Duration::from_millis(500))
        .clock(FastForwardClock::new())
        .ui("127.0.0.1:0")
        .ui_options(|o| o.title("built"))
        .build()
        .unwrap();
    ssc.source_stream(ReplaySource::new(vec![vec![1_u8, 2], vec![3]]))
        .unwrap()
        .count()
        .foreach_rdd(|_, _| Ok(()))
        .unwrap();
    ssc.start().unwrap();
    ssc.await_termination().unwrap();
    let summary = json(ui.local_addr(), "/api/summary");
    assert_eq!(summary["title"], "built");
    assert_eq!(summary["totals"]["records_in"], 3);
    // A context that cannot be built is reported, and no UI starts.
    let err = StreamingContext::builder(&SpateContext::sequential(1))
        .batch_interval(Duration::from_micros(10))
        .ui("127.0.0.1:0")
        .build()
        .err()
        .unwrap();
    assert!(matches!(err, UiError::Context(_)), "{err}");
}
