//! The Redis source and sink against a private `redis-server` (started on a free loopback
//! port, without persistence, and killed at the end of each test).

#![allow(clippy::unwrap_used)]

mod sink;
mod source;

use spate_redis::testing::LocalRedis;

/// A connection to `server` for preparing and checking data.
pub fn connect(server: &LocalRedis) -> redis::Connection {
    redis::Client::open(("127.0.0.1", server.port()))
        .unwrap()
        .get_connection()
        .unwrap()
}

/// Appends entries with one `field` each; returns their IDs.
pub fn add(con: &mut redis::Connection, key: &str, field: &str, values: &[&[u8]]) -> Vec<String> {
    values
        .iter()
        .map(|v| {
            redis::cmd("XADD")
                .arg(key)
                .arg("*")
                .arg(field)
                .arg(*v)
                .query(con)
                .unwrap()
        })
        .collect()
}
