//! [`Error`]: what can go wrong configuring or running a Redis source or sink.
//!
//! A malformed *entry* is never an error: it is skipped and counted. Errors are what the user
//! must fix (a bad URL or option, a key of the wrong type, refused credentials), a server
//! that stays unreachable longer than the retry budget, or an offset of another source.

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An error of a `spate-redis` source or sink.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The URL is not `redis://[USER:PASSWORD@]HOST:PORT/KEY[?OPTIONS]`.
    #[error(
        "`{url}` is not a Redis stream URL: {reason}; expected redis://HOST:PORT/KEY, e.g. redis://127.0.0.1:6379/events"
    )]
    BadUrl {
        /// The URL, with any password hidden.
        url: String,
        /// What is wrong.
        reason: String,
    },

    /// An option is out of range; caught before any data flows.
    #[error("invalid option `{name}` = {value}: {reason}")]
    InvalidOption {
        /// The option, as the user spelt it (builder method or URL parameter).
        name: &'static str,
        /// The value given.
        value: String,
        /// What would be valid.
        reason: &'static str,
    },

    /// The server could not be reached at start, or stayed unreachable for longer than
    /// the retry budget while running.
    #[error("Redis at {address} is unreachable{}: {message}", waited.map(|w| format!(" (for {w:?}, after {attempts} attempts)")).unwrap_or_default())]
    Unreachable {
        /// `host:port`.
        address: String,
        /// How long it has been unreachable while running (`None` at start).
        waited: Option<std::time::Duration>,
        /// Connection attempts made while it was unreachable.
        attempts: u64,
        /// The last error.
        message: String,
    },

    /// The server refused a command (wrong key type, authentication, unknown command).
    #[error("Redis at {address} refused `{command}` on key `{key}`: {message}")]
    Refused {
        /// `host:port`.
        address: String,
        /// The command.
        command: &'static str,
        /// The key.
        key: String,
        /// The server's message.
        message: String,
    },

    /// A reply that does not have the shape the command defines (not a Redis server?).
    #[error("unexpected reply from Redis at {address} to `{command}`: {message}")]
    Protocol {
        /// `host:port`.
        address: String,
        /// The command.
        command: &'static str,
        /// What was wrong with the reply.
        message: String,
    },

    /// A checkpointed offset that this source cannot resume from.
    #[error("offset {offset} does not belong to the Redis stream `{key}`: {reason}")]
    BadOffset {
        /// The stream key.
        key: String,
        /// The offset, as far as it could be read.
        offset: String,
        /// Why it cannot be used.
        reason: String,
    },
}

impl From<Error> for spate_core::Error {
    fn from(e: Error) -> Self {
        spate_core::Error::Source {
            source_name: "redis".into(),
            message: e.to_string(),
        }
    }
}
