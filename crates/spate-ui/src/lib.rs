//! A live web UI for a running Spate job, in the spirit of Spark's Streaming tab.
//!
//! Attach it to a [`StreamingContext`] and open the printed URL: a page that updates every
//! second with the input rate, the processing time against the batch interval (drawn as a
//! reference line), the scheduling and total delays, records per batch, state entries and
//! bytes, checkpoint times, late and skipped records, a table of recent batches and the
//! job's configuration. The same numbers are served as JSON and as Prometheus metrics:
//!
//! | path | what |
//! |---|---|
//! | `/` | the page (HTML, script and style are embedded in the binary; no CDN, no network) |
//! | `/api/summary` | JSON: status (`running`, `ended`, `failed` with the error), totals over the run, averages and the last batch, the configuration |
//! | `/api/batches` | JSON: the retained batches' [`BatchInfo`], oldest first; `?since=MS` returns only those after batch time `MS` |
//! | `/metrics` | the Prometheus text exposition format: `spate_*` counters, gauges of the last batch, latency histograms |
//!
//! The UI keeps the last 1,000 batches (Spark's `spark.streaming.ui.retainedBatches`
//! default; see [`UiOptions::retained_batches`]); totals and histograms cover the whole run.
//! *State bytes* is the size of the last checkpoint written (the serialized state, window
//! panes, managed state and source offsets): it is known only for jobs that checkpoint.
//!
//! **Binding**: the server listens on `127.0.0.1:4040` unless told otherwise
//! ([`DEFAULT_ADDRESS`]); it listens on every interface only if the address says so
//! (`0.0.0.0:4040`). Port 0 picks a free port ([`UiServer::url`] tells which).
//!
//! **Threads**: the server runs on a one-thread tokio runtime on its own OS thread. The
//! batch thread's only cost is the listener: copying each batch's metrics into a bounded
//! ring and updating a few atomic counters (see `docs/benchmarks.md`).
//!
//! **Lifetime**: the page keeps working after the job ends — it shows the final state and
//! says the job ended — for as long as the [`UiServer`] value lives; dropping it (or
//! calling [`UiServer::stop`]) stops the server. Attach the UI before starting the context
//! (or while it runs: batches already completed are taken from its history).
//!
//! # Example
//!
//! ```
//! use spate_core::stream::{FastForwardClock, ReplaySource, StreamingContext};
//! use spate_core::SpateContext;
//! use spate_ui::{JobStatus, UiServer};
//! use std::time::Duration;
//!
//! let ssc = StreamingContext::builder(&SpateContext::sequential(2))
//!     .batch_interval(Duration::from_millis(100))
//!     .clock(FastForwardClock::new())
//!     .build()?;
//! ssc.source_stream(ReplaySource::new(vec![vec![1, 2, 3], vec![4, 5]]))?
//!     .count()
//!     .foreach_rdd(|_rdd, _time| Ok(()))?;
//! // Port 0 picks a free port; use UiServer::start(&ssc, "127.0.0.1:4040") for the default.
//! let ui = UiServer::options("127.0.0.1:0").title("counting").start(&ssc)?;
//! println!("watch the job at {}", ui.url());
//! ssc.start()?;
//! ssc.await_termination()?;
//! assert_eq!(ui.status(), JobStatus::Ended);
//! assert_eq!(ui.batches().len(), 2);
//! ui.stop();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Or as a step of the context's builder, with [`StreamingContextBuilderUiExt`]:
//!
//! ```
//! use spate_core::stream::StreamingContext;
//! use spate_core::SpateContext;
//! use spate_ui::StreamingContextBuilderUiExt;
//! use std::time::Duration;
//!
//! let (ssc, ui) = StreamingContext::builder(&SpateContext::sequential(2))
//!     .batch_interval(Duration::from_secs(1))
//!     .ui("127.0.0.1:0")
//!     .build()?;
//! assert!(ui.url().starts_with("http://127.0.0.1:"));
//! # drop(ssc);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Where to go next: `docs/ui.md` shows the page; the core's
//! [`StreamingListener`](spate_core::stream::StreamingListener) is the interface the UI is
//! fed through, and [`BatchInfo`] defines every number it shows.

mod board;
mod metrics;
mod server;

pub use board::JobStatus;
use board::{Board, JobInfo, Setting};
use spate_core::StreamingContext;
use spate_core::stream::{BatchInfo, StreamingContextBuilder};
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;

/// Where the UI listens unless told otherwise: loopback only, on Spark's UI port.
pub const DEFAULT_ADDRESS: &str = "127.0.0.1:4040";

/// How many recent batches the UI keeps unless told otherwise.
pub const DEFAULT_RETAINED_BATCHES: usize = 1000;

/// The most batches the UI can be asked to keep (each takes about 130 bytes; a full
/// `/api/batches` copies them all, briefly holding the lock the batch thread also takes).
pub const MAX_RETAINED_BATCHES: usize = 100_000;

/// What can go wrong starting the UI.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UiError {
    /// The address is not `HOST:PORT` or `PORT`.
    #[error(
        "the UI address `{text}` {reason}; give HOST:PORT or PORT, e.g. 127.0.0.1:4040 (0.0.0.0:4040 listens on every interface)"
    )]
    BadAddress {
        /// The address as given.
        text: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The address could not be bound (in use, not local, not permitted).
    #[error(
        "the UI cannot listen on {addr}: {source} (is another job's UI there? port 0 picks a free port)"
    )]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// Another I/O failure starting the server.
    #[error("starting the UI server on {addr}: {source}")]
    Io {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// An option is out of range.
    #[error("UI option {name} = {value}: {reason}")]
    InvalidOption {
        /// The option.
        name: &'static str,
        /// Its value.
        value: String,
        /// The accepted range.
        reason: &'static str,
    },
    /// The Prometheus series could not be registered (a bug).
    #[error("registering the UI's metrics failed: {0} (this is a bug)")]
    Metrics(String),
    /// Building the streaming context failed (see [`UiContextBuilder::build`]).
    #[error(transparent)]
    Context(#[from] spate_core::Error),
}

/// Parses a UI address: `HOST:PORT` (a name is resolved; the first address is used),
/// `[IPV6]:PORT`, or a bare `PORT`, which means loopback (`127.0.0.1:PORT`).
///
/// ```
/// use spate_ui::parse_address;
/// assert_eq!(parse_address("4041")?.to_string(), "127.0.0.1:4041");
/// assert_eq!(parse_address("0.0.0.0:80")?.to_string(), "0.0.0.0:80");
/// assert!(parse_address(":4040").is_err()); // which interface? say it
/// # Ok::<(), spate_ui::UiError>(())
/// ```
pub fn parse_address(text: &str) -> Result<SocketAddr, UiError> {
    let bad = |reason: &str| UiError::BadAddress {
        text: text.to_string(),
        reason: reason.to_string(),
    };
    let trimmed = text.trim();
    if let Ok(port) = trimmed.parse::<u16>() {
        return Ok(SocketAddr::from(([127, 0, 0, 1], port)));
    }
    if !trimmed.is_empty() && trimmed.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad("is not a port (0 to 65535)"));
    }
    if trimmed.starts_with(':') {
        return Err(bad("has no host"));
    }
    if let Ok(addr) = trimmed.parse::<SocketAddr>() {
        return Ok(addr);
    }
    if !trimmed.contains(':') {
        return Err(bad("has no port"));
    }
    let mut found = trimmed
        .to_socket_addrs()
        .map_err(|e| bad(&format!("does not resolve ({e})")))?;
    found.next().ok_or_else(|| bad("resolves to no address"))
}

/// The live UI of one streaming context, serving while this value lives.
///
/// Start it with [`UiServer::start`] or [`UiServer::options`]; see the [crate] docs.
pub struct UiServer {
    board: Arc<Board>,
    server: server::Server,
}

/// Configures a [`UiServer`]; see [`UiServer::options`].
#[derive(Clone, Debug)]
pub struct UiOptions {
    address: String,
    title: String,
    settings: Vec<(String, String)>,
    retained: usize,
}

impl UiOptions {
    /// The title shown on the page (default "Spate streaming job").
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.title = title.into();
        self
    }

    /// Adds a row to the configuration table (after the context's own: batch interval,
    /// partitions, runtime, recovery).
    pub fn setting(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.settings.push((name.into(), value.into()));
        self
    }

    /// How many recent batches the page and `/api/batches` keep (default 1,000, at most
    /// [`MAX_RETAINED_BATCHES`]).
    pub fn retained_batches(mut self, batches: usize) -> Self {
        self.retained = batches;
        self
    }

    /// Checks the options, binds the address and starts serving `ssc`'s metrics.
    pub fn start(self, ssc: &StreamingContext) -> Result<UiServer, UiError> {
        if !(1..=MAX_RETAINED_BATCHES).contains(&self.retained) {
            return Err(UiError::InvalidOption {
                name: "retained_batches",
                value: self.retained.to_string(),
                reason: "must be between 1 and 100,000",
            });
        }
        let addr = parse_address(&self.address)?;
        let interval = ssc.batch_interval();
        let mut config = vec![
            Setting {
                name: "batch interval".into(),
                value: format!("{interval:?}"),
            },
            Setting {
                name: "partitions".into(),
                value: ssc.default_partitions().to_string(),
            },
            Setting {
                name: "runtime".into(),
                value: ssc.spate_context().runtime_name(),
            },
        ];
        if let Some(t) = ssc.recovered_from() {
            config.push(Setting {
                name: "recovered from".into(),
                value: format!("the checkpoint of batch {} ms", t.0),
            });
        }
        config.extend(
            self.settings
                .into_iter()
                .map(|(name, value)| Setting { name, value }),
        );
        let job = JobInfo {
            title: self.title,
            batch_interval_ms: interval.as_millis() as u64,
            config,
            retained: self.retained,
        };
        let board = Arc::new(Board::new(job)?);
        let server = server::Server::start(addr, Arc::clone(&board))?;
        // Listen first, then take the history: a batch completing in between is in both,
        // and the board keeps it once.
        ssc.add_listener(Arc::clone(&board));
        board.seed(ssc.batch_history());
        tracing::debug!(url = %url_of(server.addr), "UI started");
        Ok(UiServer { board, server })
    }
}

impl UiServer {
    /// Starts the UI of `ssc` on `address` with default options.
    pub fn start(ssc: &StreamingContext, address: &str) -> Result<UiServer, UiError> {
        UiServer::options(address).start(ssc)
    }

    /// Starts configuring a UI listening on `address` (see [`parse_address`]).
    pub fn options(address: impl Into<String>) -> UiOptions {
        UiOptions {
            address: address.into(),
            title: "Spate streaming job".into(),
            settings: Vec::new(),
            retained: DEFAULT_RETAINED_BATCHES,
        }
    }

    /// The address the server listens on (with the actual port if 0 was asked).
    pub fn local_addr(&self) -> SocketAddr {
        self.server.addr
    }

    /// The page's URL. For a server on every interface, the loopback URL.
    pub fn url(&self) -> String {
        url_of(self.server.addr)
    }

    /// The job's status as the UI shows it.
    pub fn status(&self) -> JobStatus {
        self.board.status()
    }

    /// The retained batches, oldest first (what `/api/batches` serves).
    pub fn batches(&self) -> Vec<BatchInfo> {
        self.board.batches_after(None)
    }

    /// Stops the server: no new connections, requests in flight finish.
    pub fn stop(self) {
        self.server.stop();
    }
}

fn url_of(addr: SocketAddr) -> String {
    let mut addr = addr;
    if addr.ip().is_unspecified() {
        addr.set_ip(if addr.is_ipv4() {
            std::net::Ipv4Addr::LOCALHOST.into()
        } else {
            std::net::Ipv6Addr::LOCALHOST.into()
        });
    }
    format!("http://{addr}/")
}

/// Adds [`ui`](StreamingContextBuilderUiExt::ui) to the context's builder.
pub trait StreamingContextBuilderUiExt {
    /// Builds the context with a live UI on `address` (see [`parse_address`]); call it last,
    /// then [`build`](UiContextBuilder::build).
    fn ui(self, address: impl Into<String>) -> UiContextBuilder;
}

impl StreamingContextBuilderUiExt for StreamingContextBuilder {
    fn ui(self, address: impl Into<String>) -> UiContextBuilder {
        UiContextBuilder {
            context: self,
            ui: UiServer::options(address),
        }
    }
}

/// A context builder with a UI; see [`StreamingContextBuilderUiExt`].
pub struct UiContextBuilder {
    context: StreamingContextBuilder,
    ui: UiOptions,
}

impl UiContextBuilder {
    /// Adjusts the UI's options (title, settings, retained batches).
    pub fn ui_options(mut self, adjust: impl FnOnce(UiOptions) -> UiOptions) -> Self {
        self.ui = adjust(self.ui);
        self
    }

    /// Builds the context and starts its UI; keep the [`UiServer`] as long as the page
    /// should be served.
    pub fn build(self) -> Result<(StreamingContext, UiServer), UiError> {
        let ssc = self.context.build()?;
        let ui = self.ui.start(&ssc)?;
        Ok((ssc, ui))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_default_to_loopback_and_say_what_is_wrong() {
        assert_eq!(
            parse_address(DEFAULT_ADDRESS).ok(),
            Some(SocketAddr::from(([127, 0, 0, 1], 4040)))
        );
        assert_eq!(
            parse_address("[::1]:9").ok(),
            Some("[::1]:9".parse().expect("valid"))
        );
        assert!(
            parse_address("localhost:4040")
                .expect("resolves")
                .ip()
                .is_loopback()
        );
        for bad in [
            "",
            ":4040",
            "localhost",
            "127.0.0.1:99999",
            "host name:1",
            "99999",
        ] {
            let err = parse_address(bad).expect_err(bad);
            assert!(err.to_string().contains("HOST:PORT"), "{err}");
        }
    }

    #[test]
    fn urls_of_wildcard_addresses_point_at_loopback() {
        assert_eq!(
            url_of("0.0.0.0:4040".parse().expect("valid")),
            "http://127.0.0.1:4040/"
        );
        assert_eq!(
            url_of("[::]:80".parse().expect("valid")),
            "http://[::1]:80/"
        );
    }
}
