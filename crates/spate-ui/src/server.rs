//! The HTTP side: an axum router on a one-thread tokio runtime that runs on its own OS
//! thread, so nothing the batch thread does waits on a socket.

use crate::UiError;
use crate::board::Board;
use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;
use tokio::sync::oneshot;

const INDEX_HTML: &str = include_str!("../assets/index.html");
const APP_JS: &str = include_str!("../assets/app.js");
const STYLE_CSS: &str = include_str!("../assets/style.css");

/// A running server: the bound address, and how to stop it.
pub(crate) struct Server {
    pub addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    /// Binds `addr` now (so a busy port is reported to the caller) and serves `board` on
    /// a new thread until [`stop`](Server::stop) or drop.
    pub(crate) fn start(addr: SocketAddr, board: Arc<Board>) -> Result<Server, UiError> {
        let listener =
            std::net::TcpListener::bind(addr).map_err(|source| UiError::Bind { addr, source })?;
        let io = |source| UiError::Io { addr, source };
        listener.set_nonblocking(true).map_err(io)?;
        let local = listener.local_addr().map_err(io)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(io)?;
        let (tx, rx) = oneshot::channel::<()>();
        let app = router(board);
        let thread = std::thread::Builder::new()
            .name("spate-ui".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let listener = match tokio::net::TcpListener::from_std(listener) {
                        Ok(l) => l,
                        Err(e) => {
                            tracing::error!("the UI cannot listen on {local}: {e}");
                            return;
                        }
                    };
                    let stopped = async {
                        let _ = rx.await;
                    };
                    if let Err(e) = axum::serve(listener, app)
                        .with_graceful_shutdown(stopped)
                        .await
                    {
                        tracing::error!("the UI server on {local} stopped: {e}");
                    }
                });
            })
            .map_err(io)?;
        Ok(Server {
            addr: local,
            shutdown: Some(tx),
            thread: Some(thread),
        })
    }

    /// Stops accepting connections, lets requests in flight finish, and waits for the
    /// server thread.
    pub(crate) fn stop(mut self) {
        self.signal();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }

    fn signal(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

impl Drop for Server {
    /// Tells the server to stop without waiting for it (a client holding a request open
    /// must not block the program's exit).
    fn drop(&mut self) {
        self.signal();
    }
}

fn router(board: Arc<Board>) -> Router {
    Router::new()
        .route(
            "/",
            get(|| async { asset("text/html; charset=utf-8", INDEX_HTML) }),
        )
        .route(
            "/app.js",
            get(|| async { asset("text/javascript; charset=utf-8", APP_JS) }),
        )
        .route(
            "/style.css",
            get(|| async { asset("text/css; charset=utf-8", STYLE_CSS) }),
        )
        .route("/api/summary", get(summary))
        .route("/api/batches", get(batches))
        .route("/metrics", get(metrics))
        .fallback(|| async { (StatusCode::NOT_FOUND, "not found\n") })
        .with_state(board)
}

/// An embedded asset; revalidated on every load so a new binary's page is never stale.
fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

fn json(body: Vec<u8>) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

async fn summary(State(board): State<Arc<Board>>) -> Response {
    json(board.summary_json())
}

/// `/api/batches[?since=MS]`: the retained batches, or those after batch time `MS`.
async fn batches(State(board): State<Arc<Board>>, RawQuery(query): RawQuery) -> Response {
    match since(query.as_deref()) {
        Ok(since) => json(board.batches_json(since)),
        Err(message) => (StatusCode::BAD_REQUEST, message).into_response(),
    }
}

/// The `since` parameter of a query string, if present.
fn since(query: Option<&str>) -> Result<Option<u64>, String> {
    let Some(query) = query else { return Ok(None) };
    for pair in query.split('&') {
        if let Some(value) = pair.strip_prefix("since=") {
            return value
                .parse()
                .map(Some)
                .map_err(|_| format!("since={value}: expected a batch time in milliseconds\n"));
        }
    }
    Ok(None)
}

async fn metrics(State(board): State<Arc<Board>>) -> Response {
    (
        [
            (header::CONTENT_TYPE, prometheus::TEXT_FORMAT),
            (header::CACHE_CONTROL, "no-store"),
        ],
        board.metrics_text(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::since;

    #[test]
    fn the_since_parameter_is_optional_and_checked() {
        assert_eq!(since(None), Ok(None));
        assert_eq!(since(Some("")), Ok(None));
        assert_eq!(since(Some("since=1500")), Ok(Some(1500)));
        assert_eq!(since(Some("x=1&since=7")), Ok(Some(7)));
        assert!(since(Some("since=-1")).is_err());
        assert!(since(Some("since=abc")).is_err());
    }
}
