//! [`RedisUrl`]: `redis://[USER[:PASSWORD]@]HOST[:PORT]/KEY[?NAME=VALUE&…]`.

use crate::error::{Error, Result};
use std::time::Duration;

/// The default Redis port.
pub const DEFAULT_PORT: u16 = 6379;

/// Where a stream or a sink's keys live: a server, a database and a key, with options.
///
/// The key is the URL's path without its leading `/` (percent-escapes decoded, so
/// `redis://h:6379/a%2Fb` names the key `a/b`); options are the query's `NAME=VALUE` pairs,
/// checked by the source or sink that uses them.
///
/// ```
/// use spate_redis::RedisUrl;
///
/// let url = RedisUrl::parse("redis://:secret@127.0.0.1:7000/events?field=text&db=2")?;
/// assert_eq!(url.address(), "127.0.0.1:7000");
/// assert_eq!(url.key(), "events");
/// assert_eq!(url.option("field"), Some("text"));
/// assert_eq!(url.db(), 2);
/// assert_eq!(url.to_string(), "redis://127.0.0.1:7000/events"); // no password in logs
/// # Ok::<(), spate_redis::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct RedisUrl {
    host: String,
    port: u16,
    username: Option<String>,
    password: Option<String>,
    db: i64,
    key: String,
    options: Vec<(String, String)>,
}

impl std::fmt::Debug for RedisUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RedisUrl({self})")
    }
}

impl std::fmt::Display for RedisUrl {
    /// The URL without credentials or options, for messages and logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "redis://{}/{}", self.address(), self.key)
    }
}

impl RedisUrl {
    /// Parses a URL; the key must not be empty. `db` (a database number) is read here;
    /// other options are kept for the source or sink.
    pub fn parse(text: &str) -> Result<RedisUrl> {
        let shown = hide_password(text);
        let bad = |reason: &str| Error::BadUrl {
            url: shown.clone(),
            reason: reason.to_string(),
        };
        let parsed = url::Url::parse(text).map_err(|e| bad(&e.to_string()))?;
        if parsed.scheme() != "redis" {
            return Err(bad("the scheme must be redis:// (TLS is not supported)"));
        }
        let host = parsed
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| bad("there is no host"))?
            .to_string();
        let key = percent_decode(parsed.path().trim_start_matches('/'))
            .ok_or_else(|| bad("the key is not valid percent-encoded UTF-8"))?;
        if key.is_empty() {
            return Err(bad("there is no key after the host"));
        }
        let decode = |s: &str| percent_decode(s).ok_or_else(|| bad("bad percent-encoding"));
        let username = match parsed.username() {
            "" => None,
            u => Some(decode(u)?),
        };
        let password = parsed.password().map(decode).transpose()?;
        let mut url = RedisUrl {
            host: host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_string(),
            port: parsed.port().unwrap_or(DEFAULT_PORT),
            username,
            password,
            db: 0,
            key,
            options: parsed.query_pairs().into_owned().collect(),
        };
        if let Some(db) = url.option("db") {
            url.db = db
                .parse()
                .ok()
                .filter(|d| *d >= 0)
                .ok_or(Error::InvalidOption {
                    name: "db",
                    value: db.to_string(),
                    reason: "must be a database number, 0 or more",
                })?;
        }
        Ok(url)
    }

    /// `host:port` (IPv6 hosts in brackets).
    pub fn address(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The stream key (for a source) or key prefix (for a sink).
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The database number (option `db`, default 0).
    pub fn db(&self) -> i64 {
        self.db
    }

    /// The value of option `name`, if given (the last one if repeated).
    pub fn option(&self, name: &str) -> Option<&str> {
        self.options
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Options other than `known` (and `db`), to reject misspellings.
    pub(crate) fn check_options(&self, known: &[&str]) -> Result<()> {
        match self
            .options
            .iter()
            .find(|(n, _)| n != "db" && !known.contains(&n.as_str()))
        {
            Some((name, value)) => Err(Error::BadUrl {
                url: self.to_string(),
                reason: format!(
                    "unknown option `{name}={value}`; the options are {}",
                    known.join(", ")
                ),
            }),
            None => Ok(()),
        }
    }

    /// The client's connection settings, with `timeout` on connect, reads and writes.
    pub(crate) fn client(&self) -> Result<redis::Client> {
        let mut redis = redis::RedisConnectionInfo::default().set_db(self.db);
        if let Some(u) = &self.username {
            redis = redis.set_username(u);
        }
        if let Some(p) = &self.password {
            redis = redis.set_password(p);
        }
        let info = redis::IntoConnectionInfo::into_connection_info((self.host.as_str(), self.port))
            .map(|i| i.set_redis_settings(redis))
            .map_err(|e| Error::BadUrl {
                url: self.to_string(),
                reason: e.to_string(),
            })?;
        redis::Client::open(info).map_err(|e| Error::BadUrl {
            url: self.to_string(),
            reason: e.to_string(),
        })
    }
}

/// Parses a duration option such as `30s` or `500ms`.
pub(crate) fn duration_option(name: &'static str, text: &str) -> Result<Duration> {
    humantime::parse_duration(text).map_err(|_| Error::InvalidOption {
        name,
        value: text.to_string(),
        reason: "must be a duration such as 500ms, 30s or 2m",
    })
}

/// `text` with `%XX` escapes decoded, or `None` if an escape is broken or the result is not
/// UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The URL text with the password (between `:` and `@` in the authority) replaced by `***`.
fn hide_password(text: &str) -> String {
    let Some(scheme_end) = text.find("://") else {
        return text.to_string();
    };
    let authority_start = scheme_end + 3;
    let authority_end = text[authority_start..]
        .find(['/', '?'])
        .map_or(text.len(), |i| authority_start + i);
    let authority = &text[authority_start..authority_end];
    match (authority.rfind('@'), authority.find(':')) {
        (Some(at), Some(colon)) if colon < at => format!(
            "{}{}:***{}",
            &text[..authority_start],
            &authority[..colon],
            &text[authority_start + at..]
        ),
        _ => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_with_defaults_and_decoding() {
        let url = RedisUrl::parse("redis://localhost/a%2Fb%20c").expect("valid");
        assert_eq!(url.address(), "localhost:6379");
        assert_eq!(url.key(), "a/b c");
        assert_eq!(url.db(), 0);
        let v6 = RedisUrl::parse("redis://[::1]:7/k").expect("valid");
        assert_eq!(v6.address(), "[::1]:7");
        let auth = RedisUrl::parse("redis://user:p%40ss@h:1/k?x=1&x=2").expect("valid");
        assert_eq!(auth.username.as_deref(), Some("user"));
        assert_eq!(auth.password.as_deref(), Some("p@ss"));
        assert_eq!(auth.option("x"), Some("2"));
    }

    #[test]
    fn bad_urls_say_what_is_wrong_without_showing_the_password() {
        for (text, says) in [
            ("redis://h:1", "no key"),
            ("redis://h:1/", "no key"),
            ("rediss://h:1/k", "scheme"),
            ("http://h:1/k", "scheme"),
            ("redis://h:99999/k", "invalid port"),
            ("redis://:hunter2@h:1/", "no key"),
            ("redis://h/k%ZZ", "percent"),
        ] {
            let err = RedisUrl::parse(text).expect_err(text).to_string();
            assert!(err.contains(says), "{text}: {err}");
            assert!(!err.contains("hunter2"), "{err}");
        }
        let err = RedisUrl::parse("redis://h/k?db=-1").expect_err("negative db");
        assert!(
            matches!(err, Error::InvalidOption { name: "db", .. }),
            "{err}"
        );
        let url = RedisUrl::parse("redis://h/k?feild=x").expect("parses");
        let err = url.check_options(&["field"]).expect_err("misspelt");
        assert!(
            err.to_string().contains("unknown option `feild=x`"),
            "{err}"
        );
    }

    #[test]
    fn durations_parse_or_say_how_to_write_them() {
        assert_eq!(
            duration_option("t", "250ms").ok(),
            Some(Duration::from_millis(250))
        );
        assert_eq!(
            duration_option("t", "2m").ok(),
            Some(Duration::from_secs(120))
        );
        for bad in ["", "s", "10", "-1s"] {
            assert!(duration_option("t", bad).is_err(), "{bad}");
        }
    }
}
