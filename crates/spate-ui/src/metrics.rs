//! The `/metrics` endpoint: the job's batch metrics as Prometheus series named `spate_*`.
//!
//! Counters cover the whole run; gauges hold the last completed batch; histograms count
//! every batch's processing time and delays in fixed buckets (seconds), so a Prometheus
//! server can compute quantiles over any range.

use prometheus::{Encoder, Gauge, Histogram, HistogramOpts, IntCounter, IntGauge, Registry};
use spate_core::stream::BatchInfo;

/// Bucket upper bounds (seconds) of the latency histograms: 1 ms to 1 min.
const LATENCY_BUCKETS: [f64; 15] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

pub(crate) struct Metrics {
    registry: Registry,
    batches: IntCounter,
    records_in: IntCounter,
    records_skipped: IntCounter,
    records_late: IntCounter,
    bytes_in: IntCounter,
    checkpoints: IntCounter,
    running: IntGauge,
    last_batch_time: Gauge,
    last_records: IntGauge,
    input_rate: Gauge,
    processing: Gauge,
    scheduling_delay: Gauge,
    total_delay: Gauge,
    state_entries: IntGauge,
    state_bytes: IntGauge,
    checkpoint_time: Gauge,
    processing_histogram: Histogram,
    scheduling_histogram: Histogram,
    total_delay_histogram: Histogram,
}

/// Registers `metric` under `registry` and returns it.
fn register<M>(registry: &Registry, metric: prometheus::Result<M>) -> prometheus::Result<M>
where
    M: prometheus::core::Collector + Clone + 'static,
{
    let metric = metric?;
    registry.register(Box::new(metric.clone()))?;
    Ok(metric)
}

fn histogram(registry: &Registry, name: &str, help: &str) -> prometheus::Result<Histogram> {
    let opts = HistogramOpts::new(name, help).buckets(LATENCY_BUCKETS.to_vec());
    register(registry, Histogram::with_opts(opts))
}

fn seconds(ms: u64) -> f64 {
    ms as f64 / 1000.0
}

impl Metrics {
    pub(crate) fn new(batch_interval_ms: u64) -> Result<Metrics, crate::UiError> {
        Metrics::build(batch_interval_ms).map_err(|e| crate::UiError::Metrics(e.to_string()))
    }

    fn build(batch_interval_ms: u64) -> prometheus::Result<Metrics> {
        let r = Registry::new();
        let interval = register(
            &r,
            Gauge::new(
                "spate_batch_interval_seconds",
                "The job's batch interval in seconds.",
            ),
        )?;
        interval.set(seconds(batch_interval_ms));
        let running = register(
            &r,
            IntGauge::new(
                "spate_job_running",
                "1 while the streaming context runs, 0 once it has stopped.",
            ),
        )?;
        running.set(1);
        let counter = |name: &str, help: &str| register(&r, IntCounter::new(name, help));
        let gauge = |name: &str, help: &str| register(&r, Gauge::new(name, help));
        let int_gauge = |name: &str, help: &str| register(&r, IntGauge::new(name, help));
        Ok(Metrics {
            batches: counter("spate_batches_completed_total", "Batches completed.")?,
            records_in: counter(
                "spate_records_in_total",
                "Records the sources delivered, over all batches.",
            )?,
            records_skipped: counter(
                "spate_records_skipped_total",
                "Input units the sources skipped (malformed, oversized, invalid UTF-8).",
            )?,
            records_late: counter(
                "spate_records_late_total",
                "Records event-time operators found behind the watermark.",
            )?,
            bytes_in: counter(
                "spate_input_bytes_total",
                "Bytes the sources read, where they know it.",
            )?,
            checkpoints: counter("spate_checkpoints_total", "Checkpoints written.")?,
            running,
            last_batch_time: gauge(
                "spate_last_batch_time_seconds",
                "Time of the last completed batch, in seconds since the clock's epoch.",
            )?,
            last_records: int_gauge(
                "spate_last_batch_records",
                "Records in the last completed batch.",
            )?,
            input_rate: gauge(
                "spate_input_rate_records_per_second",
                "Records per second of batch interval, in the last completed batch.",
            )?,
            processing: gauge(
                "spate_last_batch_processing_seconds",
                "Processing time of the last completed batch.",
            )?,
            scheduling_delay: gauge(
                "spate_last_batch_scheduling_delay_seconds",
                "How long the last completed batch waited after its time before it started.",
            )?,
            total_delay: gauge(
                "spate_last_batch_total_delay_seconds",
                "Scheduling delay plus processing time of the last completed batch.",
            )?,
            state_entries: int_gauge(
                "spate_state_entries",
                "Entries held by stateful operators after the last completed batch.",
            )?,
            state_bytes: int_gauge(
                "spate_state_bytes",
                "Size of the last checkpoint written (the serialized state); 0 before the first.",
            )?,
            checkpoint_time: gauge(
                "spate_last_checkpoint_seconds",
                "Time spent writing the last checkpoint.",
            )?,
            processing_histogram: histogram(
                &r,
                "spate_batch_processing_seconds",
                "Processing time of every batch.",
            )?,
            scheduling_histogram: histogram(
                &r,
                "spate_batch_scheduling_delay_seconds",
                "Scheduling delay of every batch.",
            )?,
            total_delay_histogram: histogram(
                &r,
                "spate_batch_total_delay_seconds",
                "Total delay (scheduling delay plus processing time) of every batch.",
            )?,
            registry: r,
        })
    }

    /// Records one completed batch: a few atomic adds and stores. The last-batch gauges
    /// change only if `latest` (not for history older than batches already seen).
    pub(crate) fn observe(&self, info: &BatchInfo, latest: bool) {
        self.batches.inc();
        self.records_in.inc_by(info.records_in);
        self.records_skipped.inc_by(info.records_skipped);
        self.records_late.inc_by(info.records_late);
        self.bytes_in.inc_by(info.bytes_in);
        if info.checkpoint_ms.is_some() {
            self.checkpoints.inc();
        }
        self.processing_histogram
            .observe(seconds(info.processing_time_ms));
        self.scheduling_histogram
            .observe(seconds(info.scheduling_delay_ms));
        self.total_delay_histogram
            .observe(seconds(info.total_delay_ms));
        if !latest {
            return;
        }
        self.last_batch_time.set(seconds(info.batch_time.0));
        self.last_records.set(saturating_i64(info.records_in));
        self.input_rate.set(info.input_rate);
        self.processing.set(seconds(info.processing_time_ms));
        self.scheduling_delay.set(seconds(info.scheduling_delay_ms));
        self.total_delay.set(seconds(info.total_delay_ms));
        self.state_entries.set(saturating_i64(info.state_size));
        if let Some(ms) = info.checkpoint_ms {
            self.checkpoint_time.set(seconds(ms));
        }
        if let Some(bytes) = info.checkpoint_bytes {
            self.state_bytes.set(saturating_i64(bytes));
        }
    }

    pub(crate) fn set_running(&self, running: bool) {
        self.running.set(i64::from(running));
    }

    /// The text exposition format (version 0.0.4).
    pub(crate) fn render(&self) -> String {
        let mut out = Vec::new();
        match prometheus::TextEncoder::new().encode(&self.registry.gather(), &mut out) {
            Ok(()) => String::from_utf8_lossy(&out).into_owned(),
            Err(e) => format!("# encoding the metrics failed: {e}\n"),
        }
    }
}

fn saturating_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use spate_core::BatchTime;

    /// The value of an unlabelled sample named `name` in `text`.
    fn sample(text: &str, name: &str) -> Option<f64> {
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
    }

    #[test]
    fn series_follow_the_batches() {
        let m = Metrics::new(500).expect("registers");
        for (t, records, ckpt) in [(500, 10, None), (1000, 30, Some(7)), (1500, 5, None)] {
            m.observe(
                &BatchInfo {
                    batch_time: BatchTime(t),
                    records_in: records,
                    records_skipped: 1,
                    processing_time_ms: 20,
                    scheduling_delay_ms: 3,
                    total_delay_ms: 23,
                    checkpoint_ms: ckpt,
                    checkpoint_bytes: ckpt.map(|_| 4096),
                    state_size: 9,
                    ..BatchInfo::default()
                },
                true,
            );
        }
        let text = m.render();
        assert_eq!(sample(&text, "spate_batches_completed_total"), Some(3.0));
        assert_eq!(sample(&text, "spate_records_in_total"), Some(45.0));
        assert_eq!(sample(&text, "spate_records_skipped_total"), Some(3.0));
        assert_eq!(sample(&text, "spate_checkpoints_total"), Some(1.0));
        assert_eq!(sample(&text, "spate_state_bytes"), Some(4096.0));
        assert_eq!(sample(&text, "spate_last_batch_records"), Some(5.0));
        assert_eq!(sample(&text, "spate_batch_interval_seconds"), Some(0.5));
        assert_eq!(
            sample(&text, "spate_batch_processing_seconds_count"),
            Some(3.0)
        );
        assert_eq!(sample(&text, "spate_job_running"), Some(1.0));
        m.set_running(false);
        assert_eq!(sample(&m.render(), "spate_job_running"), Some(0.0));
        // Every series has HELP and TYPE lines, and every name is prefixed.
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            assert!(line.starts_with("spate_"), "{line}");
        }
        let helps = text
            .lines()
            .filter(|l| l.starts_with("# HELP spate_"))
            .count();
        let types = text
            .lines()
            .filter(|l| l.starts_with("# TYPE spate_"))
            .count();
        assert_eq!(helps, types);
        assert_eq!(helps, 20);
    }
}
