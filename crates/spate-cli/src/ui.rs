//! `--ui [ADDR]` and `--ui-linger DURATION`: the live web UI of every long-running command.
//!
//! [`UiArgs`] is part of every job's standard options (`JobArgs`), and the shared run loop
//! calls [`UiArgs::attach`] once the streaming context is built; `main` calls [`linger`] after the command succeeded, which
//! keeps the process (and the page, showing the final state) alive if `--ui-linger` asks.

use spate::StreamingContext;
use spate::ui::{DEFAULT_ADDRESS, UiServer};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

/// The live web UI's options.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct UiArgs {
    /// Serve a live web UI of the job (rates, delays, recent batches; JSON under /api,
    /// Prometheus text under /metrics) on ADDR: HOST:PORT, or PORT for 127.0.0.1:PORT.
    /// Without ADDR, 127.0.0.1:4040. It listens on every interface only if asked
    /// (0.0.0.0:PORT); port 0 picks a free port. The URL is printed on stderr.
    #[arg(long, value_name = "ADDR", num_args = 0..=1, default_missing_value = DEFAULT_ADDRESS)]
    pub ui: Option<String>,
    /// Once the job has ended, keep the process and its UI up this long (e.g. 30s, 10m), to
    /// look at the final state; Ctrl-C ends it sooner. Without it the process exits when
    /// the job ends.
    #[arg(long, value_name = "DURATION", requires = "ui", value_parser = crate::common::parse_duration)]
    pub ui_linger: Option<Duration>,
}

/// The running UI, kept until the process ends (or lingers).
static RUNNING: Mutex<Option<(UiServer, Option<Duration>)>> = Mutex::new(None);

/// The command's options as given or defaulted, for the UI's configuration table.
static SETTINGS: OnceLock<Vec<(String, String)>> = OnceLock::new();

/// Records the subcommand's effective options (given and default values), in the order
/// `--help` lists them.
pub fn remember_settings(command: &clap::Command, matches: &clap::ArgMatches) {
    let Some((name, sub)) = matches.subcommand() else {
        return;
    };
    let Some(definition) = command.find_subcommand(name) else {
        return;
    };
    let mut settings = vec![("command".to_string(), format!("spate {name}"))];
    for arg in definition.get_arguments() {
        let id = arg.get_id().as_str();
        let Ok(Some(values)) = sub.try_get_raw(id) else {
            continue; // not given and no default
        };
        let values: Vec<String> = values.map(|v| v.to_string_lossy().into_owned()).collect();
        let origin = match sub.value_source(id) {
            Some(clap::parser::ValueSource::DefaultValue) => " (default)",
            _ => "",
        };
        let flag = arg.get_long().unwrap_or(id);
        settings.push((format!("--{flag}"), format!("{}{origin}", values.join(","))));
    }
    let _ = SETTINGS.set(settings);
}

/// The page's title: `spate COMMAND`.
pub fn title() -> String {
    SETTINGS
        .get()
        .and_then(|s| s.first())
        .map_or_else(|| "spate".to_string(), |(_, command)| command.clone())
}

impl UiArgs {
    /// Starts the UI of `ssc` if `--ui` was given and prints its URL on stderr.
    pub fn attach(&self, ssc: &StreamingContext, title: &str) -> anyhow::Result<()> {
        let Some(address) = &self.ui else {
            return Ok(());
        };
        let mut options = UiServer::options(address.as_str()).title(title);
        for (name, value) in SETTINGS.get().into_iter().flatten() {
            options = options.setting(name.as_str(), value.as_str());
        }
        let server = options.start(ssc)?;
        let everywhere = server.local_addr().ip().is_unspecified();
        eprintln!(
            "live UI at {}{}",
            server.url(),
            if everywhere {
                " (listening on every interface)"
            } else {
                ""
            }
        );
        *RUNNING.lock().unwrap_or_else(|p| p.into_inner()) = Some((server, self.ui_linger));
        Ok(())
    }
}

/// Keeps the process alive for `--ui-linger` after the job ended, so the page stays up.
pub fn linger() {
    let running = RUNNING.lock().unwrap_or_else(|p| p.into_inner()).take();
    if let Some((server, Some(linger))) = running {
        eprintln!(
            "the job has ended; its UI stays at {} for {} (Ctrl-C to exit)",
            server.url(),
            humantime::format_duration(linger)
        );
        std::thread::sleep(linger);
        server.stop();
    }
}
