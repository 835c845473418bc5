//! Framed collective rounds between the workers of one program.
//!
//! Every round is a [`Runtime::exchange`](crate::runtime::Runtime::exchange) whose messages
//! carry a header: what the round is for (its [`Round`] and a label), the sender's round
//! number, and the sender's status (ok, or the text of a failure). All workers run the same
//! program, so they enter the same rounds in the same order; the header lets each one check
//! that and learn of a peer's failure from the round itself:
//!
//! - a peer's failure status fails the round everywhere with [`Error::PeerFailed`];
//! - a peer in a different round fails it with [`Error::WorkersDiverged`];
//! - a worker that fails *between* rounds (in its own code, not in a round it reports) sends
//!   one [`Round::Abort`] round before it stops, which meets its peers in whatever round
//!   they are in and fails that round for them.
//!
//! After any failure the collective is poisoned: later rounds fail at once instead of
//! waiting for peers that have stopped. With one worker there are no rounds at all.

use crate::error::{Error, Result};
use crate::runtime::SharedRuntime;
use crate::storage::lock;
use std::sync::Mutex;

/// What a round is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Round {
    /// The start of a stream: plan fingerprints, worker counts, the zero time.
    Start = 1,
    /// A batch's control decision and its input partitions, from the leader.
    Input = 2,
    /// Shuffle buckets to their owners.
    Shuffle = 3,
    /// The results of a job's tasks, to every worker.
    Results = 4,
    /// The end of a batch: status, metrics, watermark observations.
    BatchEnd = 5,
    /// Checkpoint files written / checkpoint committed.
    Checkpoint = 6,
    /// Restored state partitions to their owners.
    Restore = 7,
    /// A worker failed between rounds.
    Abort = 8,
}

impl Round {
    fn from_u8(b: u8) -> Option<Round> {
        Some(match b {
            1 => Round::Start,
            2 => Round::Input,
            3 => Round::Shuffle,
            4 => Round::Results,
            5 => Round::BatchEnd,
            6 => Round::Checkpoint,
            7 => Round::Restore,
            8 => Round::Abort,
            _ => return None,
        })
    }
}

/// The trailer, at the end of every message so that framing neither copies nor moves the
/// payload: after the payload, for a failure the UTF-8 text and its u32 length, then the
/// status (1: 0 ok, 1 failed), the sequence (8) and the round (1). Its fixed part:
pub(crate) const TRAILER: usize = 1 + 8 + 1;

struct State {
    next_seq: u64,
    /// A failure every worker has seen (or will see in the round it was sent in).
    poisoned: Option<Error>,
    /// This worker failed outside a round and has not told its peers yet.
    unannounced: bool,
}

/// The collective rounds of one worker.
pub(crate) struct Collective {
    runtime: SharedRuntime,
    state: Mutex<State>,
}

impl Collective {
    pub fn new(runtime: SharedRuntime) -> Collective {
        Collective {
            runtime,
            state: Mutex::new(State {
                next_seq: 0,
                poisoned: None,
                unannounced: false,
            }),
        }
    }

    pub fn workers(&self) -> usize {
        self.runtime.workers().max(1)
    }

    pub fn worker(&self) -> usize {
        self.runtime.worker()
    }

    /// Whether rounds are needed at all (more than one worker).
    pub fn is_distributed(&self) -> bool {
        self.workers() > 1
    }

    /// One round: sends `outgoing[v]` to every worker `v` (all empty when `mine` is a
    /// failure, which is sent instead) and returns every worker's payload to this one.
    ///
    /// Fails with this worker's own error when `mine` is an error (its peers learn of it
    /// from the round), with [`Error::PeerFailed`] when a peer reported a failure, and with
    /// [`Error::WorkersDiverged`] when a peer is in a different round.
    pub fn exchange(&self, round: Round, mine: Result<Vec<Vec<u8>>>) -> Result<Vec<Vec<u8>>> {
        match mine {
            Ok(outgoing) => self.round(round, Ok(outgoing)),
            Err(e) => {
                // The peers learn of the failure from this round; this worker reports its own.
                let _ = self.round(round, Err(e.to_string()));
                Err(e)
            }
        }
    }

    fn round(&self, round: Round, mine: Result<Vec<Vec<u8>>, String>) -> Result<Vec<Vec<u8>>> {
        let workers = self.workers();
        let seq = {
            let mut state = lock(&self.state);
            if let Some(e) = &state.poisoned {
                return Err(replay(e));
            }
            state.next_seq += 1;
            state.next_seq
        };
        let (outgoing, mut failure) = match mine {
            Ok(outgoing) => {
                if outgoing.len() != workers {
                    return Err(Error::internal(format!(
                        "a {round:?} round addressed {} workers of {workers}",
                        outgoing.len()
                    )));
                }
                let framed = outgoing
                    .into_iter()
                    .map(|payload| frame(round, seq, None, payload))
                    .collect();
                (framed, None)
            }
            Err(text) => {
                let framed = vec![frame(round, seq, Some(&text), Vec::new()); workers];
                let own = Error::Operator {
                    operator: "this worker".into(),
                    message: text,
                };
                (framed, Some(own))
            }
        };
        let received = match self.runtime.exchange(outgoing) {
            Ok(r) if r.len() == workers => r,
            Ok(r) => {
                let e = Error::internal(format!(
                    "the runtime returned {} messages for {workers} workers",
                    r.len()
                ));
                return Err(self.poison(e));
            }
            Err(e) => return Err(self.poison(e)),
        };
        let me = self.worker();
        let mut payloads = Vec::with_capacity(workers);
        for (from, bytes) in received.into_iter().enumerate() {
            let (payload, trouble) = match unframe(bytes) {
                Some((r, s, status, payload)) if r == round && s == seq => (
                    payload,
                    status.map(|message| Error::PeerFailed {
                        worker: from,
                        message,
                    }),
                ),
                Some((Round::Abort, _, Some(message), _)) => (
                    Vec::new(),
                    Some(Error::PeerFailed {
                        worker: from,
                        message,
                    }),
                ),
                Some((r, s, _, _)) => (
                    Vec::new(),
                    Some(Error::WorkersDiverged {
                        worker: from,
                        ours: format!("{round:?} round {seq}"),
                        theirs: format!("{r:?} round {s}"),
                    }),
                ),
                None => (
                    Vec::new(),
                    Some(Error::internal(format!(
                        "worker {me} received an unreadable message from worker {from}"
                    ))),
                ),
            };
            if failure.is_none() {
                failure = trouble;
            }
            payloads.push(payload);
        }
        match failure {
            Some(e) => Err(self.poison(e)),
            None => Ok(payloads),
        }
    }

    /// Records that this worker failed outside a round; [`announce_failure`] tells the
    /// peers.
    pub fn note_local_failure(&self) {
        let mut state = lock(&self.state);
        if state.poisoned.is_none() {
            state.unannounced = true;
        }
    }

    /// If this worker failed outside a round and its peers do not know yet, tells them in
    /// one abort round (which meets them in whatever round they are in). Idempotent.
    pub fn announce_failure(&self, error: &Error) {
        let due = {
            let mut state = lock(&self.state);
            let due = state.unannounced && state.poisoned.is_none();
            state.unannounced = false;
            due
        };
        if due && self.is_distributed() {
            let _ = self.round(Round::Abort, Err(error.to_string()));
        }
    }

    fn poison(&self, e: Error) -> Error {
        let mut state = lock(&self.state);
        if state.poisoned.is_none() {
            state.poisoned = Some(replay(&e));
        }
        state.unannounced = false;
        e
    }
}

/// A copy of a recorded failure, for rounds attempted after it.
fn replay(e: &Error) -> Error {
    match e {
        Error::PeerFailed { worker, message } => Error::PeerFailed {
            worker: *worker,
            message: message.clone(),
        },
        Error::WorkersDiverged {
            worker,
            ours,
            theirs,
        } => Error::WorkersDiverged {
            worker: *worker,
            ours: ours.clone(),
            theirs: theirs.clone(),
        },
        other => Error::Operator {
            operator: "worker".into(),
            message: format!("stopped after an earlier failure: {other}"),
        },
    }
}

/// Appends the trailer to `payload` (see [`TRAILER`]).
fn frame(round: Round, seq: u64, failure: Option<&str>, mut payload: Vec<u8>) -> Vec<u8> {
    payload.reserve(TRAILER + failure.map_or(0, |t| 4 + t.len()));
    let status = match failure {
        None => 0,
        Some(text) => {
            payload.extend_from_slice(text.as_bytes());
            payload.extend_from_slice(&(text.len() as u32).to_le_bytes());
            1
        }
    };
    payload.push(status);
    payload.extend_from_slice(&seq.to_le_bytes());
    payload.push(round as u8);
    payload
}

/// The round, sequence, failure text and payload of a framed message (the payload is the
/// message, truncated: nothing is copied).
fn unframe(mut bytes: Vec<u8>) -> Option<(Round, u64, Option<String>, Vec<u8>)> {
    let n = bytes.len();
    let status_at = n.checked_sub(TRAILER)?;
    let round = Round::from_u8(bytes[n - 1])?;
    let seq = u64::from_le_bytes(bytes[status_at + 1..n - 1].try_into().ok()?);
    let (status, end) = match bytes[status_at] {
        0 => (None, status_at),
        1 => {
            let len_at = status_at.checked_sub(4)?;
            let len = u32::from_le_bytes(bytes[len_at..status_at].try_into().ok()?) as usize;
            let text_at = len_at.checked_sub(len)?;
            (
                Some(String::from_utf8_lossy(&bytes[text_at..len_at]).into_owned()),
                text_at,
            )
        }
        _ => return None,
    };
    bytes.truncate(end);
    Some((round, seq, status, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip() {
        let f = frame(Round::Shuffle, 42, None, b"abc".to_vec());
        assert_eq!(
            unframe(f),
            Some((Round::Shuffle, 42, None, b"abc".to_vec()))
        );
        let f = frame(Round::Abort, 7, Some("boom"), Vec::new());
        assert_eq!(
            unframe(f),
            Some((Round::Abort, 7, Some("boom".to_string()), Vec::new()))
        );
        assert_eq!(unframe(vec![9; 20]), None);
        assert_eq!(unframe(vec![1, 2]), None);
        // A failure whose text length runs past the start of the message.
        let mut truncated = frame(Round::Abort, 7, Some("boom"), Vec::new());
        truncated.drain(..2);
        assert_eq!(unframe(truncated), None);
        // An empty payload with an ok status, and a payload that looks like a trailer.
        let f = frame(
            Round::Input,
            1,
            None,
            frame(Round::Abort, 9, Some("x"), Vec::new()),
        );
        let (r, s, status, payload) = unframe(f).unwrap();
        assert_eq!((r, s, status), (Round::Input, 1, None));
        assert_eq!(
            unframe(payload),
            Some((Round::Abort, 9, Some("x".to_string()), Vec::new()))
        );
    }
}
