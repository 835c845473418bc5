//! Connecting the processes of an execution before handing the connections to timely.
//!
//! Process `p` listens on its own address, connects to every process below it and accepts
//! every process above it (timely's own topology). On each connection both sides first send
//! a greeting — protocol version, process index, process count, workers per process — and
//! check the other's, so that processes started with different shapes fail at once with a
//! clear error instead of routing messages to workers that do not exist. Connecting here
//! (rather than letting timely do it) also keeps timely's progress messages off stdout.

use crate::TimelyConfig;
use spate_core::{Error, Result};
use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

const MAGIC: &[u8; 8] = b"SPATE-TM";
const VERSION: u32 = 1;
const GREETING: usize = 8 + 4 + 8 * 3;

/// What each side of a connection says first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Greeting {
    version: u32,
    process: u64,
    processes: u64,
    workers: u64,
}

impl Greeting {
    fn encode(&self) -> [u8; GREETING] {
        let mut out = [0_u8; GREETING];
        out[..8].copy_from_slice(MAGIC);
        out[8..12].copy_from_slice(&self.version.to_le_bytes());
        out[12..20].copy_from_slice(&self.process.to_le_bytes());
        out[20..28].copy_from_slice(&self.processes.to_le_bytes());
        out[28..36].copy_from_slice(&self.workers.to_le_bytes());
        out
    }

    fn decode(bytes: &[u8; GREETING]) -> Option<Greeting> {
        if &bytes[..8] != MAGIC {
            return None;
        }
        let u64_at = |i: usize| {
            let mut b = [0_u8; 8];
            b.copy_from_slice(&bytes[i..i + 8]);
            u64::from_le_bytes(b)
        };
        let mut v = [0_u8; 4];
        v.copy_from_slice(&bytes[8..12]);
        Some(Greeting {
            version: u32::from_le_bytes(v),
            process: u64_at(12),
            processes: u64_at(20),
            workers: u64_at(28),
        })
    }
}

fn runtime_error(message: String) -> Error {
    Error::Runtime { message }
}

/// Exchanges greetings on a fresh connection and checks the peer's; returns its process.
fn greet(stream: &mut TcpStream, mine: Greeting, address: &str) -> Result<usize> {
    stream
        .set_nodelay(true)
        .map_err(|e| runtime_error(format!("{address}: {e}")))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .map_err(|e| runtime_error(format!("{address}: {e}")))?;
    stream
        .write_all(&mine.encode())
        .map_err(|e| runtime_error(format!("greeting {address}: {e}")))?;
    let mut bytes = [0_u8; GREETING];
    stream.read_exact(&mut bytes).map_err(|e| {
        runtime_error(format!(
            "{address} did not greet as a Spate timely process ({e}); is another program \
             listening there?"
        ))
    })?;
    stream
        .set_read_timeout(None)
        .map_err(|e| runtime_error(format!("{address}: {e}")))?;
    let theirs = Greeting::decode(&bytes).ok_or_else(|| {
        runtime_error(format!(
            "{address} is not a Spate timely process (unexpected greeting)"
        ))
    })?;
    if theirs.version != mine.version {
        return Err(runtime_error(format!(
            "process {} at {address} speaks protocol {}, this one {}: run the same Spate build \
             everywhere",
            theirs.process, theirs.version, mine.version
        )));
    }
    if (theirs.processes, theirs.workers) != (mine.processes, mine.workers) {
        return Err(Error::ProgramMismatch {
            what: "processes × workers per process",
            worker: (theirs.process * theirs.workers) as usize,
            ours: format!("{} × {}", mine.processes, mine.workers),
            theirs: format!("{} × {}", theirs.processes, theirs.workers),
        });
    }
    if theirs.process >= theirs.processes || theirs.process == mine.process {
        return Err(runtime_error(format!(
            "{address} claims to be process {} of {}: every process needs its own --process",
            theirs.process, theirs.processes
        )));
    }
    Ok(theirs.process as usize)
}

/// Connects this process to every other one; returns one connection per process, in
/// process order, with `None` at this process's index.
pub(crate) fn connect(config: &TimelyConfig) -> Result<Vec<Option<TcpStream>>> {
    let addresses = config.addresses();
    let me = config.process;
    let n = config.processes;
    let mine = Greeting {
        version: VERSION,
        process: me as u64,
        processes: n as u64,
        workers: config.workers as u64,
    };
    let deadline = Instant::now() + config.connect_timeout;
    let listener = TcpListener::bind(&addresses[me]).map_err(|e| {
        runtime_error(format!(
            "process {me} cannot listen on {}: {e}",
            addresses[me]
        ))
    })?;
    listener
        .set_nonblocking(true)
        .map_err(|e| runtime_error(format!("{}: {e}", addresses[me])))?;
    let mut sockets: Vec<Option<TcpStream>> = (0..n).map(|_| None).collect();
    for (p, address) in addresses.iter().enumerate().take(me) {
        let mut stream = loop {
            match TcpStream::connect(address) {
                Ok(stream) => break stream,
                Err(e) if Instant::now() < deadline => {
                    tracing::debug!(process = p, %address, "waiting for the process: {e}");
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(e) => {
                    return Err(runtime_error(format!(
                        "process {p} at {address} did not answer within {:?} ({e}); start every \
                         process of the execution",
                        config.connect_timeout
                    )));
                }
            }
        };
        let theirs = greet(&mut stream, mine, address)?;
        if theirs != p {
            return Err(runtime_error(format!(
                "{address} answered as process {theirs}, expected process {p}: check the \
                 hostfile order"
            )));
        }
        sockets[p] = Some(stream);
    }
    while sockets.iter().skip(me + 1).any(Option::is_none) {
        match listener.accept() {
            Ok((mut stream, from)) => {
                stream
                    .set_nonblocking(false)
                    .map_err(|e| runtime_error(format!("{from}: {e}")))?;
                let theirs = greet(&mut stream, mine, &from.to_string())?;
                if theirs < me || sockets[theirs].is_some() {
                    return Err(runtime_error(format!(
                        "a second connection claims process {theirs}: every process needs its \
                         own --process"
                    )));
                }
                sockets[theirs] = Some(stream);
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                if Instant::now() >= deadline {
                    let missing: Vec<usize> =
                        (me + 1..n).filter(|&p| sockets[p].is_none()).collect();
                    return Err(runtime_error(format!(
                        "processes {missing:?} did not connect within {:?}; start every process \
                         of the execution",
                        config.connect_timeout
                    )));
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => {
                return Err(runtime_error(format!(
                    "accepting on {}: {e}",
                    addresses[me]
                )));
            }
        }
    }
    Ok(sockets)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greetings_round_trip_and_reject_strangers() {
        let g = Greeting {
            version: VERSION,
            process: 3,
            processes: 4,
            workers: 2,
        };
        assert_eq!(Greeting::decode(&g.encode()), Some(g));
        let mut bad = g.encode();
        bad[0] = b'X';
        assert_eq!(Greeting::decode(&bad), None);
    }
}
