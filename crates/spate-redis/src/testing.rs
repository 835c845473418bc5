//! [`LocalRedis`]: a private `redis-server` on a free loopback port, for tests and examples.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A `redis-server` process of this program's own: loopback only, a free port, no
/// persistence (nothing is written to disk), stopped (killed) when dropped.
///
/// The binary is `$SPATE_REDIS_SERVER` or `redis-server` on the `PATH` (Debian package
/// `redis-server`).
pub struct LocalRedis {
    child: Option<Child>,
    port: u16,
}

impl LocalRedis {
    /// Starts a server on a free port and waits until it answers (at most 10 s). `None` if
    /// there is no `redis-server` to run.
    pub fn start() -> std::io::Result<Option<LocalRedis>> {
        let Some(binary) = binary() else {
            return Ok(None);
        };
        let mut last_error = None;
        for _ in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
            match LocalRedis::spawn(&binary, port) {
                Ok(server) => return Ok(Some(server)),
                Err(e) => last_error = Some(e), // the port was taken in between: another
            }
        }
        Err(last_error.unwrap_or_else(|| std::io::Error::other("redis-server did not start")))
    }

    /// Like [`start`](LocalRedis::start), but without a server: under CI (`CI` set) it
    /// panics (CI installs one), elsewhere it prints a loud notice and returns `None` so the
    /// calling test can skip.
    pub fn start_or_skip(test: &str) -> Option<LocalRedis> {
        match LocalRedis::start() {
            Ok(Some(server)) => Some(server),
            Ok(None) => {
                assert!(
                    std::env::var_os("CI").is_none(),
                    "{test}: redis-server is required under CI (.ci/run installs the Debian package)"
                );
                eprintln!(
                    "\n{0}\nSKIPPED {test}: no redis-server (apt-get install redis-server, or set SPATE_REDIS_SERVER)\n{0}\n",
                    "!".repeat(78)
                );
                None
            }
            Err(e) => panic!("{test}: starting redis-server failed: {e}"),
        }
    }

    /// Starts a server on `port` (for example the port of one that was stopped, to bring
    /// "the same" server back).
    pub fn start_on(port: u16) -> std::io::Result<LocalRedis> {
        let binary = binary().ok_or_else(|| std::io::Error::other("no redis-server"))?;
        LocalRedis::spawn(&binary, port)
    }

    fn spawn(binary: &PathBuf, port: u16) -> std::io::Result<LocalRedis> {
        let child = Command::new(binary)
            .args(["--bind", "127.0.0.1", "--port"])
            .arg(port.to_string())
            .args([
                "--save",
                "",
                "--appendonly",
                "no",
                "--protected-mode",
                "yes",
            ])
            .arg("--dir")
            .arg(std::env::temp_dir())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let mut server = LocalRedis {
            child: Some(child),
            port,
        };
        server.wait_until_ready()?;
        Ok(server)
    }

    fn wait_until_ready(&mut self) -> std::io::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Some(child) = self.child.as_mut()
                && let Some(status) = child.try_wait()?
            {
                return Err(std::io::Error::other(format!(
                    "redis-server on port {} exited: {status}",
                    self.port
                )));
            }
            if ping(self.port) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(std::io::Error::other(
            "redis-server did not answer within 10 s",
        ))
    }

    /// The server's port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:PORT/KEY`.
    pub fn url(&self, key: &str) -> String {
        format!("redis://127.0.0.1:{}/{key}", self.port)
    }

    /// Kills the server (SIGKILL: a crash, nothing saved) and waits for it.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for LocalRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

fn binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("SPATE_REDIS_SERVER") {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("redis-server"))
        .find(|p| p.is_file())
}

/// Whether a server on `port` answers `PING`.
fn ping(port: u16) -> bool {
    let Ok(client) = redis::Client::open(("127.0.0.1", port)) else {
        return false;
    };
    client
        .get_connection_with_timeout(Duration::from_secs(1))
        .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c))
        .is_ok_and(|reply| reply == "PONG")
}
