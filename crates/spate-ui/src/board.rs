//! [`Board`]: what the UI shows, kept up to date by the context's listener events.
//!
//! The batch thread only appends a copy of each [`BatchInfo`] (a plain struct, no heap) to a
//! bounded ring and bumps a few atomic counters; HTTP handlers copy the ring out under the
//! lock and serialize outside it, so a slow client never holds up a batch.

use crate::metrics::Metrics;
use serde::Serialize;
use spate_core::stream::{BatchInfo, StreamingListener};
use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

/// Whether the job is still running, as far as the UI knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    /// The context has not stopped yet (or has not started).
    Running,
    /// The context stopped without an error (input exhausted, stop requested).
    Ended,
    /// The context stopped because a batch failed.
    Failed,
}

/// Sums over every batch of the run, including batches no longer retained.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub(crate) struct Totals {
    pub batches: u64,
    pub records_in: u64,
    pub records_skipped: u64,
    pub records_late: u64,
    pub bytes_in: u64,
    pub checkpoints: u64,
}

impl Totals {
    fn add(&mut self, info: &BatchInfo) {
        self.batches += 1;
        self.records_in += info.records_in;
        self.records_skipped += info.records_skipped;
        self.records_late += info.records_late;
        self.bytes_in += info.bytes_in;
        self.checkpoints += u64::from(info.checkpoint_ms.is_some());
    }
}

struct Live {
    batches: VecDeque<BatchInfo>,
    totals: Totals,
    status: JobStatus,
    error: Option<String>,
    ended_unix_ms: Option<u64>,
}

/// A name and value shown in the UI's configuration table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub(crate) struct Setting {
    pub name: String,
    pub value: String,
}

/// The job's description, fixed when the UI starts.
pub(crate) struct JobInfo {
    pub title: String,
    pub batch_interval_ms: u64,
    pub config: Vec<Setting>,
    pub retained: usize,
}

/// Everything the UI serves, shared by the listener and the HTTP handlers.
pub(crate) struct Board {
    job: JobInfo,
    started_unix_ms: u64,
    live: Mutex<Live>,
    metrics: Metrics,
}

/// Averages over the retained batches.
#[derive(Debug, Default, Serialize)]
struct Averages {
    input_rate: f64,
    records_in: f64,
    processing_time_ms: f64,
    scheduling_delay_ms: f64,
    total_delay_ms: f64,
}

#[derive(Serialize)]
struct Summary<'a> {
    title: &'a str,
    status: JobStatus,
    error: Option<String>,
    started_unix_ms: u64,
    ended_unix_ms: Option<u64>,
    batch_interval_ms: u64,
    totals: Totals,
    retained_batches: usize,
    retained_limit: usize,
    last_batch: Option<BatchInfo>,
    last_checkpoint_bytes: Option<u64>,
    averages: Averages,
    config: &'a [Setting],
}

impl Board {
    pub(crate) fn new(job: JobInfo) -> Result<Board, crate::UiError> {
        let metrics = Metrics::new(job.batch_interval_ms)?;
        Ok(Board {
            started_unix_ms: unix_ms(),
            live: Mutex::new(Live {
                batches: VecDeque::new(),
                totals: Totals::default(),
                status: JobStatus::Running,
                error: None,
                ended_unix_ms: None,
            }),
            job,
            metrics,
        })
    }

    /// Adds batches that completed before the board listened (the context's history),
    /// skipping any the listener has already delivered.
    pub(crate) fn seed(&self, history: Vec<BatchInfo>) {
        let mut live = self.live();
        let first_live = live.batches.front().map(|b| b.batch_time);
        let had_live = first_live.is_some();
        let older: Vec<BatchInfo> = history
            .into_iter()
            .filter(|b| first_live.is_none_or(|t| b.batch_time < t))
            .collect();
        for info in &older {
            live.totals.add(info);
            self.metrics.observe(info, !had_live);
        }
        for info in older.into_iter().rev() {
            if live.batches.len() == self.job.retained {
                break;
            }
            live.batches.push_front(info);
        }
    }

    fn live(&self) -> MutexGuard<'_, Live> {
        // The lock only guards plain data updated without panicking code in between.
        self.live.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The retained batches after `since` (batch time in ms), oldest first.
    pub(crate) fn batches_after(&self, since: Option<u64>) -> Vec<BatchInfo> {
        let live = self.live();
        match since {
            None => live.batches.iter().cloned().collect(),
            Some(t) => {
                let start = live.batches.partition_point(|b| b.batch_time.0 <= t);
                live.batches.range(start..).cloned().collect()
            }
        }
    }

    /// The `/api/batches` document.
    pub(crate) fn batches_json(&self, since: Option<u64>) -> Vec<u8> {
        let batches = self.batches_after(since);
        serde_json::to_vec(&batches).unwrap_or_else(|e| json_error(&e))
    }

    /// The `/api/summary` document. Averages are summed under the lock (no copy of the
    /// ring); serialization happens after it is released.
    pub(crate) fn summary_json(&self) -> Vec<u8> {
        let summary = {
            let live = self.live();
            let n = live.batches.len().max(1) as f64;
            let mean = |f: fn(&BatchInfo) -> f64| live.batches.iter().map(f).sum::<f64>() / n;
            Summary {
                title: &self.job.title,
                status: live.status,
                error: live.error.clone(),
                started_unix_ms: self.started_unix_ms,
                ended_unix_ms: live.ended_unix_ms,
                batch_interval_ms: self.job.batch_interval_ms,
                totals: live.totals,
                retained_batches: live.batches.len(),
                retained_limit: self.job.retained,
                last_batch: live.batches.back().cloned(),
                last_checkpoint_bytes: live.batches.iter().rev().find_map(|b| b.checkpoint_bytes),
                averages: Averages {
                    input_rate: mean(|b| b.input_rate),
                    records_in: mean(|b| b.records_in as f64),
                    processing_time_ms: mean(|b| b.processing_time_ms as f64),
                    scheduling_delay_ms: mean(|b| b.scheduling_delay_ms as f64),
                    total_delay_ms: mean(|b| b.total_delay_ms as f64),
                },
                config: &self.job.config,
            }
        };
        serde_json::to_vec(&summary).unwrap_or_else(|e| json_error(&e))
    }

    /// The `/metrics` document, in the Prometheus text exposition format.
    pub(crate) fn metrics_text(&self) -> String {
        self.metrics.render()
    }

    /// The job's status.
    pub(crate) fn status(&self) -> JobStatus {
        self.live().status
    }
}

impl StreamingListener for Board {
    fn on_batch_completed(&self, info: &BatchInfo) {
        {
            let mut live = self.live();
            if live.batches.len() == self.job.retained {
                live.batches.pop_front();
            }
            live.batches.push_back(info.clone());
            live.totals.add(info);
        }
        self.metrics.observe(info, true);
    }

    fn on_stopped(&self, error: Option<&spate_core::Error>) {
        let mut live = self.live();
        live.status = match error {
            Some(_) => JobStatus::Failed,
            None => JobStatus::Ended,
        };
        live.error = error.map(ToString::to_string);
        live.ended_unix_ms = Some(unix_ms());
        drop(live);
        self.metrics.set_running(false);
    }
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// A JSON document saying serialization failed (it cannot for these plain types).
fn json_error(e: &serde_json::Error) -> Vec<u8> {
    let message = serde_json::Value::String(format!("serialization failed: {e}"));
    format!("{{\"error\":{message}}}").into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use spate_core::BatchTime;

    fn board(retained: usize) -> Board {
        let job = JobInfo {
            title: "t".into(),
            batch_interval_ms: 1000,
            config: Vec::new(),
            retained,
        };
        Board::new(job).expect("metrics register")
    }

    fn batch(t: u64, records: u64) -> BatchInfo {
        BatchInfo {
            batch_time: BatchTime(t),
            records_in: records,
            checkpoint_ms: t.is_multiple_of(3000).then_some(4),
            ..BatchInfo::default()
        }
    }

    #[test]
    fn the_ring_keeps_the_newest_batches_and_totals_keep_all() {
        let board = board(3);
        for t in 1..=5 {
            board.on_batch_completed(&batch(t * 1000, t));
        }
        let kept: Vec<u64> = board
            .batches_after(None)
            .iter()
            .map(|b| b.batch_time.0)
            .collect();
        assert_eq!(kept, [3000, 4000, 5000]);
        let after: Vec<u64> = board
            .batches_after(Some(3500))
            .iter()
            .map(|b| b.batch_time.0)
            .collect();
        assert_eq!(after, [4000, 5000]);
        assert!(board.batches_after(Some(5000)).is_empty());
        let live = board.live();
        assert_eq!(live.totals.batches, 5);
        assert_eq!(live.totals.records_in, 15);
        assert_eq!(live.totals.checkpoints, 1);
    }

    #[test]
    fn seeding_adds_only_batches_the_listener_has_not_delivered() {
        let board = board(4);
        board.on_batch_completed(&batch(4000, 4));
        board.on_batch_completed(&batch(5000, 5));
        board.seed((1..=4).map(|t| batch(t * 1000, t)).collect());
        let kept: Vec<u64> = board
            .batches_after(None)
            .iter()
            .map(|b| b.batch_time.0)
            .collect();
        assert_eq!(kept, [2000, 3000, 4000, 5000], "the newest 4, 4000 once");
        assert_eq!(board.live().totals.batches, 5);
        assert_eq!(board.live().totals.records_in, 15);
    }

    #[test]
    fn stopping_sets_the_status_and_the_error() {
        let board = board(10);
        assert_eq!(board.status(), JobStatus::Running);
        board.on_stopped(Some(&spate_core::Error::Stopped));
        assert_eq!(board.status(), JobStatus::Failed);
        let summary: serde_json::Value =
            serde_json::from_slice(&board.summary_json()).expect("valid JSON");
        assert_eq!(summary["status"], "failed");
        assert!(summary["error"].as_str().is_some_and(|e| !e.is_empty()));
        assert!(summary["ended_unix_ms"].as_u64().is_some());
    }
}
