//! A replayable stream source of edge events read from an edge-list file.

use crate::error::GraphError;
use crate::event::EdgeEvent;
use crate::io::{EdgeListFormat, EdgeListReader, EdgeRecord, ReadPosition};
use serde::{Deserialize, Serialize};
use spate_core::BatchTime;
use spate_core::stream::{Source, SourceBatch, SourceOffset};
use std::path::{Path, PathBuf};

/// In which order an [`EdgeListSource`] replays the edges of its file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum EdgeOrder {
    /// As they appear in the file, read incrementally (memory O(batch)).
    #[default]
    File,
    /// Sorted by the time column (stable: edges with equal times keep their file order, and
    /// edges without a time come first). The whole file is read when the source is built
    /// (memory O(edges)).
    Time,
}

/// Checked configuration of an [`EdgeListSource`]; see [`EdgeListSource::options`].
#[derive(Clone, Debug)]
pub struct EdgeListSourceOptions {
    path: PathBuf,
    format: EdgeListFormat,
    batch_edges: usize,
    order: EdgeOrder,
}

impl EdgeListSourceOptions {
    /// How to parse the file (default: [`EdgeListFormat::new`], lenient, automatic columns).
    /// Strict parsing makes a malformed line fail its batch instead of being counted.
    #[must_use]
    pub fn format(mut self, format: EdgeListFormat) -> Self {
        self.format = format;
        self
    }

    /// Edges per batch (default 1000; at least 1). A context's `max_records_per_batch` or
    /// backpressure may lower it for a batch.
    #[must_use]
    pub fn batch_edges(mut self, n: usize) -> Self {
        self.batch_edges = n;
        self
    }

    /// Replay order (default [`EdgeOrder::File`]).
    #[must_use]
    pub fn order(mut self, order: EdgeOrder) -> Self {
        self.order = order;
        self
    }

    /// Check the options and open the file (for [`EdgeOrder::Time`], read and sort it).
    ///
    /// # Errors
    /// [`GraphError::BatchEdges`] for zero edges per batch; [`GraphError::Open`] if the file
    /// cannot be opened or read; [`GraphError::Malformed`] in strict mode with time order.
    pub fn build(self) -> Result<EdgeListSource, GraphError> {
        if self.batch_edges == 0 {
            return Err(GraphError::BatchEdges);
        }
        let replay = match self.order {
            EdgeOrder::File => Replay::File {
                reader: self.format.open_at(&self.path, ReadPosition::default())?,
                reported: 0,
                exhausted: false,
            },
            EdgeOrder::Time => {
                let mut list = self.format.read_path(&self.path)?;
                list.sort_by_time();
                log_malformed(&self.path, &list.stats.malformed_lines);
                Replay::Sorted {
                    edges: list.edges,
                    next: 0,
                    malformed: list.stats.malformed,
                }
            }
        };
        Ok(EdgeListSource {
            path: self.path,
            format: self.format,
            batch_edges: self.batch_edges,
            replay,
        })
    }
}

/// A replayable [`Source`] of [`EdgeEvent`] inserts from an edge-list file (plain or gzip;
/// the format of [`EdgeListFormat`]), `batch_edges` edges per batch, in file or time order.
///
/// * **Malformed lines** are counted in each batch's [`SourceBatch::skipped`] (so they show
///   in the batch metrics) and the first ones are logged with their line numbers; in time
///   order all of them are counted with the first batch.
/// * **Offsets** make it replayable for checkpoint recovery: in file order the position is
///   the byte after the last line read (a plain file is seeked there on recovery, a gzip
///   file is decompressed up to it, O(position)); in time order it is the index in the
///   sorted edges.
/// * The source is exhausted after its last edge, so a context over it stops by itself.
/// * Edge times are used only for ordering; the events carry the weight (1 without a weight
///   column). Weights PageRank cannot use (≤ 0, such as negative ratings) are passed on and
///   counted as rejected by the algorithms.
///
/// ```
/// use spate_core::stream::{FastForwardClock, StreamingContext};
/// use spate_graph::{EdgeListSource, EdgeOrder, IncrementalPageRank, TrackOn};
/// use std::time::Duration;
///
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("edges.txt");
/// std::fs::write(&path, "# src dst time\n1 2 30\n2 3 10\n3 1 20\nnot an edge\n")?;
///
/// let sc = spate_core::SpateContext::sequential(1);
/// let ssc = StreamingContext::builder(&sc)
///     .batch_interval(Duration::from_secs(1))
///     .clock(FastForwardClock::new())
///     .build()?;
/// let source = EdgeListSource::options(&path).batch_edges(2).order(EdgeOrder::Time);
/// let edges = ssc.source_stream(source.build()?)?;
/// let pagerank = IncrementalPageRank::params().build()?.track(&edges, "pagerank")?;
/// ssc.start()?;
/// ssc.await_termination()?;
/// assert_eq!(pagerank.state().lock().node_count(), 3);
/// let skipped: u64 = ssc.batch_history().iter().map(|b| b.records_skipped).sum();
/// assert_eq!(skipped, 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct EdgeListSource {
    path: PathBuf,
    format: EdgeListFormat,
    batch_edges: usize,
    replay: Replay,
}

#[derive(Debug)]
enum Replay {
    File {
        reader: EdgeListReader,
        /// Malformed lines of `reader.stats()` already logged.
        reported: usize,
        exhausted: bool,
    },
    Sorted {
        edges: Vec<EdgeRecord>,
        next: usize,
        malformed: u64,
    },
}

/// The checkpointed position of an [`EdgeListSource`].
#[derive(Serialize, Deserialize)]
enum Position {
    File(ReadPosition),
    Sorted { next: u64, edges: u64 },
}

fn log_malformed(path: &Path, lines: &[crate::io::MalformedLine]) {
    for m in lines {
        tracing::warn!(
            path = %path.display(),
            line = m.line,
            text = %m.text,
            "skipping a malformed edge-list line: {}",
            m.reason
        );
    }
}

impl EdgeListSource {
    /// Options for replaying the edge list at `path`: 1000 edges per batch, file order,
    /// lenient parsing with automatic columns.
    pub fn options(path: impl AsRef<Path>) -> EdgeListSourceOptions {
        EdgeListSourceOptions {
            path: path.as_ref().to_path_buf(),
            format: EdgeListFormat::new(),
            batch_edges: 1000,
            order: EdgeOrder::File,
        }
    }

    /// The file being replayed.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn failed(&self, e: GraphError) -> spate_core::Error {
        spate_core::Error::Source {
            source_name: self.name(),
            message: e.to_string(),
        }
    }
}

impl Source for EdgeListSource {
    type Item = EdgeEvent;

    fn name(&self) -> String {
        format!("edge list {}", self.path.display())
    }

    fn next_batch(
        &mut self,
        _time: BatchTime,
        max_records: Option<u64>,
    ) -> spate_core::Result<SourceBatch<EdgeEvent>> {
        let n = max_records.map_or(self.batch_edges, |m| {
            self.batch_edges
                .min(usize::try_from(m).unwrap_or(usize::MAX))
        });
        let result = match &mut self.replay {
            Replay::File {
                reader,
                reported,
                exhausted,
            } => (|| {
                let before = reader.read_position();
                let records = reader.next_batch(n)?;
                let after = reader.read_position();
                let kept = &reader.stats().malformed_lines;
                log_malformed(&self.path, &kept[(*reported).min(kept.len())..]);
                *reported = kept.len();
                *exhausted = reader.at_end()?;
                Ok(SourceBatch {
                    records: records.iter().map(EdgeRecord::to_insert).collect(),
                    skipped: after.malformed - before.malformed,
                    bytes: after.bytes - before.bytes,
                })
            })(),
            Replay::Sorted {
                edges,
                next,
                malformed,
            } => {
                let end = next.saturating_add(n).min(edges.len());
                let records = edges[*next..end]
                    .iter()
                    .map(EdgeRecord::to_insert)
                    .collect();
                let skipped = if *next == 0 { *malformed } else { 0 };
                *next = end;
                Ok(SourceBatch {
                    records,
                    skipped,
                    bytes: 0,
                })
            }
        };
        result.map_err(|e| self.failed(e))
    }

    fn is_exhausted(&self) -> bool {
        match &self.replay {
            Replay::File { exhausted, .. } => *exhausted,
            Replay::Sorted { edges, next, .. } => *next >= edges.len(),
        }
    }

    fn offset(&self) -> Option<SourceOffset> {
        let position = match &self.replay {
            Replay::File { reader, .. } => Position::File(reader.read_position()),
            Replay::Sorted { edges, next, .. } => Position::Sorted {
                next: *next as u64,
                edges: edges.len() as u64,
            },
        };
        SourceOffset::encode(&position).ok()
    }

    fn seek(&mut self, offset: &SourceOffset) -> spate_core::Result<()> {
        let position: Position = offset.decode()?;
        let name = self.name();
        let mismatch = |what: String| spate_core::Error::Source {
            source_name: name.clone(),
            message: format!("cannot resume from the checkpoint: {what}"),
        };
        match (&mut self.replay, position) {
            (
                Replay::File {
                    reader,
                    exhausted,
                    reported,
                },
                Position::File(at),
            ) => {
                let mut reopened = self
                    .format
                    .open_at(&self.path, at)
                    .map_err(|e| mismatch(e.to_string()))?;
                *exhausted = reopened.at_end().map_err(|e| mismatch(e.to_string()))?;
                *reader = reopened;
                *reported = 0;
            }
            (
                Replay::Sorted { edges, next, .. },
                Position::Sorted {
                    next: at,
                    edges: total,
                },
            ) => {
                if total != edges.len() as u64 {
                    return Err(mismatch(format!(
                        "the file now has {} edges, the checkpoint was taken when it had {total} edges",
                        edges.len()
                    )));
                }
                if at > total {
                    return Err(mismatch(format!(
                        "the checkpoint is at edge {at}, past the file's {total} edges"
                    )));
                }
                // `at <= total == edges.len()`, so it fits a usize.
                *next = at as usize;
            }
            _ => {
                return Err(mismatch(
                    "the checkpoint was taken in the other replay order".into(),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::tests::write;

    fn drain(source: &mut EdgeListSource) -> Vec<(Vec<EdgeEvent>, u64)> {
        let mut out = Vec::new();
        let mut t = 0;
        while !source.is_exhausted() {
            t += 1;
            let b = source.next_batch(BatchTime(t), None).expect("reads");
            out.push((b.records, b.skipped));
        }
        out
    }

    const TEXT: &str =
        "# header\r\n1 2 1 50\r\n2 3 1 40\r\nbad line\r\n3 4 2 30\r\n\r\n4 5 1 20\r\n5 6 1 10\r\n";

    #[test]
    fn file_order_batches_count_malformed_lines_and_end_exactly() {
        let dir = tempfile::tempdir().expect("tempdir");
        for gz in [false, true] {
            let path = write(dir.path(), "e", TEXT, gz);
            let mut s = EdgeListSource::options(&path)
                .batch_edges(2)
                .build()
                .expect("opens");
            let batches = drain(&mut s);
            let sizes: Vec<_> = batches.iter().map(|(r, k)| (r.len(), *k)).collect();
            // The last batch is full and the file ends there: no empty extra batch.
            assert_eq!(sizes, vec![(2, 0), (2, 1), (1, 0)]);
            assert_eq!(batches[1].0[0], EdgeEvent::insert_weighted(3, 4, 2.0));
        }
    }

    #[test]
    fn time_order_sorts_stably_and_reports_malformed_lines_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write(dir.path(), "e", TEXT, false);
        let mut s = EdgeListSource::options(&path)
            .batch_edges(3)
            .order(EdgeOrder::Time)
            .build()
            .expect("opens");
        let batches = drain(&mut s);
        let srcs: Vec<Vec<u64>> = batches
            .iter()
            .map(|(r, _)| r.iter().map(|e| e.src).collect())
            .collect();
        assert_eq!(srcs, vec![vec![5, 4, 3], vec![2, 1]]);
        assert_eq!(batches[0].1 + batches[1].1, 1);
    }

    #[test]
    fn seeking_to_an_offset_replays_the_same_batches() {
        let dir = tempfile::tempdir().expect("tempdir");
        for (gz, order) in [
            (false, EdgeOrder::File),
            (true, EdgeOrder::File),
            (true, EdgeOrder::Time),
        ] {
            let path = write(dir.path(), "e", TEXT, gz);
            let options = EdgeListSource::options(&path).batch_edges(2).order(order);
            let mut a = options.clone().build().expect("opens");
            let first = a.next_batch(BatchTime(1), None).expect("reads");
            assert_eq!(first.records.len(), 2);
            let offset = a.offset().expect("replayable");
            let rest = drain(&mut a);
            let mut b = options.build().expect("opens");
            b.seek(&offset).expect("seeks");
            assert_eq!(drain(&mut b), rest, "gz={gz} {order:?}");
        }
    }

    #[test]
    fn a_checkpoint_of_the_other_order_or_a_changed_file_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write(dir.path(), "e", TEXT, false);
        let mut file = EdgeListSource::options(&path).build().expect("opens");
        let offset = file.offset().expect("replayable");
        let mut sorted = EdgeListSource::options(&path)
            .order(EdgeOrder::Time)
            .build()
            .expect("opens");
        assert!(sorted.seek(&offset).is_err());
        let offset = sorted.offset().expect("replayable");
        write(dir.path(), "e", "1 2\n", false);
        let mut shorter = EdgeListSource::options(&path)
            .order(EdgeOrder::Time)
            .build()
            .expect("opens");
        let err = shorter.seek(&offset).expect_err("changed file");
        assert!(err.to_string().contains("5 edges"), "{err}");
        assert!(file.next_batch(BatchTime(1), Some(1)).is_ok());
    }

    #[test]
    fn a_time_order_checkpoint_past_the_edges_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write(dir.path(), "e", TEXT, false);
        let options = EdgeListSource::options(&path).order(EdgeOrder::Time);
        let mut s = options.clone().build().expect("opens");
        for next in [6, u64::MAX] {
            let offset =
                SourceOffset::encode(&Position::Sorted { next, edges: 5 }).expect("encodes");
            let err = s.seek(&offset).expect_err("past the end");
            assert!(err.to_string().contains("past the file's 5 edges"), "{err}");
        }
        // The source is unchanged and still reads; the end itself is a valid position.
        let offset =
            SourceOffset::encode(&Position::Sorted { next: 5, edges: 5 }).expect("encodes");
        assert_eq!(drain(&mut s).iter().map(|b| b.0.len()).sum::<usize>(), 5);
        let mut s = options.build().expect("opens");
        s.seek(&offset).expect("at the end");
        assert!(s.is_exhausted());
    }

    #[test]
    fn a_file_order_checkpoint_into_a_changed_file_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        for gz in [false, true] {
            let path = write(dir.path(), "e", TEXT, gz);
            let options = EdgeListSource::options(&path).batch_edges(2);
            let mut a = options.clone().build().expect("opens");
            a.next_batch(BatchTime(1), None).expect("reads");
            let offset = a.offset().expect("replayable");
            write(dir.path(), "e", "1 2 1 50\n", gz);
            let mut b = options.clone().build().expect("opens");
            let err = b.seek(&offset).expect_err("truncated");
            assert!(err.to_string().contains("before the position"), "{err}");
            write(dir.path(), "e", &format!("1{TEXT}"), gz);
            let mut b = options.build().expect("opens");
            let err = b.seek(&offset).expect_err("shifted");
            assert!(err.to_string().contains("not the start of a line"), "{err}");
        }
    }

    #[test]
    fn zero_edges_per_batch_is_rejected() {
        assert!(matches!(
            EdgeListSource::options("x").batch_edges(0).build(),
            Err(GraphError::BatchEdges)
        ));
        assert!(matches!(
            EdgeListSource::options("/nonexistent/e.txt").build(),
            Err(GraphError::Open { .. })
        ));
    }
}
