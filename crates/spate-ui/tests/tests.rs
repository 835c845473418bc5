//! The UI server against real streaming contexts, over real sockets. (The page itself is
//! checked in a real browser by the `spate` command's tests.)

#![allow(clippy::unwrap_used)]

mod server;
