//! Reading a file source's next rows while the current batch is processed.
//!
//! Parsing a batch's rows is most of a file source's work, and it runs on the batch thread
//! before the batch's jobs. [`ReadAhead`] hands the reader to a thread that reads the next
//! batch's rows as soon as the current ones are returned, so reading and processing overlap
//! (one batch ahead at most: memory holds one extra batch).
//!
//! Batches stay exactly what a plain reader gives: the rows read ahead are as many as the
//! last request asked for, from the position after the rows returned; when the next request
//! is for another number of rows (a rate limit changed the batch size), they are dropped,
//! the file is reopened at that position and read on the caller's thread, and reading ahead
//! stops for the rest of the stream (a reopened gzip file is decompressed again up to the
//! position, which a rate that keeps changing would repeat). The position reported for
//! checkpoints is always the one after the rows returned, never after the rows read ahead.

use super::{Chunk, Position, RowReader};
use crate::error::{FrameError, Result};
use std::thread::JoinHandle;

/// A reader that reads one request ahead on a thread of its own.
pub(crate) struct ReadAhead {
    /// The reader, when no read is running.
    idle: Option<Box<dyn RowReader>>,
    /// The read running for the next request, if any.
    running: Option<Running>,
    /// Whether to read ahead at all.
    enabled: bool,
    /// The position after the rows returned last.
    position: Position,
    /// Whether the file ended with the rows returned last.
    done: bool,
}

/// A read of `rows` rows running on its thread; it gives the reader back with its rows.
struct Running {
    rows: usize,
    handle: JoinHandle<(Box<dyn RowReader>, Result<Chunk>)>,
}

impl ReadAhead {
    /// Wraps `reader`; `enabled: false` reads every request on the caller's thread.
    pub(crate) fn new(reader: Box<dyn RowReader>, enabled: bool) -> ReadAhead {
        ReadAhead {
            position: reader.position(),
            done: reader.is_done(),
            idle: Some(reader),
            running: None,
            enabled,
        }
    }

    /// The next `rows` rows, then starts reading as many after them. `reopen` opens the
    /// file at a position: it is called when the rows read ahead were not `rows`.
    pub(crate) fn next_rows(
        &mut self,
        rows: usize,
        reopen: impl FnOnce(Position) -> Result<Box<dyn RowReader>>,
    ) -> Result<Chunk> {
        let (mut reader, chunk) = match self.running.take() {
            Some(running) => {
                let (reader, chunk) = join(running.handle)?;
                if running.rows == rows {
                    (reader, chunk)
                } else {
                    // Read for another request: read this one again from where it starts,
                    // and read inline from now on.
                    drop(reader);
                    self.enabled = false;
                    let mut reader = reopen(self.position)?;
                    let chunk = reader.next_rows(rows);
                    (reader, chunk)
                }
            }
            None => {
                // No reader only after a read-ahead thread could not start or panicked.
                let mut reader = match self.idle.take() {
                    Some(reader) => reader,
                    None => reopen(self.position)?,
                };
                let chunk = reader.next_rows(rows);
                (reader, chunk)
            }
        };
        let chunk = match chunk {
            Ok(chunk) => chunk,
            Err(e) => {
                self.idle = Some(reader);
                return Err(e);
            }
        };
        self.position = reader.position();
        self.done = reader.is_done();
        if self.enabled && !self.done {
            let spawned = std::thread::Builder::new()
                .name("spate-frame-read-ahead".into())
                .spawn(move || {
                    let chunk = reader.next_rows(rows);
                    (reader, chunk)
                });
            match spawned {
                Ok(handle) => self.running = Some(Running { rows, handle }),
                // The reader went with the closure: the next request reopens the file.
                Err(e) => {
                    tracing::warn!("cannot start a read-ahead thread ({e}); reading inline");
                    self.enabled = false;
                }
            }
        } else {
            self.idle = Some(reader);
        }
        Ok(chunk)
    }

    /// The position after the rows returned last.
    pub(crate) fn position(&self) -> Position {
        self.position
    }

    /// Whether the file ended with the rows returned last.
    pub(crate) fn is_done(&self) -> bool {
        self.done
    }

    /// Replaces the reader (after a seek), waiting for a running read to end first.
    pub(crate) fn reset(&mut self, reader: Box<dyn RowReader>) {
        self.stop();
        self.position = reader.position();
        self.done = reader.is_done();
        self.idle = Some(reader);
    }

    /// Waits for a running read to end and drops what it read, and the reader with it (it
    /// stands after those rows): a later request reopens the file at [`position`](Self::position).
    pub(crate) fn stop(&mut self) {
        if let Some(running) = self.running.take() {
            let _ = join(running.handle);
        }
    }
}

fn join(
    handle: JoinHandle<(Box<dyn RowReader>, Result<Chunk>)>,
) -> Result<(Box<dyn RowReader>, Result<Chunk>)> {
    handle.join().map_err(|_| {
        FrameError::Core(spate_core::Error::Internal(
            "the thread reading a file source's next rows panicked".into(),
        ))
    })
}
