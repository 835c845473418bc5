//! `spate`: run Spate's streaming jobs from the command line.
//!
//! Every job runs on the embedded runtime (no server to install). Logs go to stderr
//! (`-v`, `--log-level` or `RUST_LOG` set the level), results to stdout and to the
//! `--output` files. Exit status: 0 when the job ran, 1 on an error, 2 on a usage error,
//! 130 when a signal stopped it (after writing its outputs and last checkpoint).

mod anomaly;
mod classify;
mod cluster;
mod common;
mod csv_job;
mod graph;
mod job;
mod kmeans;
mod kmeans_coreset;
mod pagerank;
mod redis_io;
mod regress;
mod runtime;
mod sql;
mod stats;
mod thin;
mod ui;
mod wordcount;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use common::RunEnd;

/// Streaming analytics over micro-batch RDDs.
#[derive(Parser)]
#[command(name = "spate", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Clone)]
enum Command {
    /// Streaming word count over a file, a directory or a TCP socket.
    #[command(after_help = wordcount::EXAMPLES)]
    Wordcount(wordcount::Args),
    /// Statistics of CSV columns per batch, per window of batches and in total.
    #[command(after_help = stats::EXAMPLES)]
    Stats(stats::Args),
    /// Streaming PageRank over an edge-list file, with a proven error bound per batch.
    #[command(after_help = pagerank::EXAMPLES)]
    Pagerank(pagerank::Args),
    /// Shortest paths (hops or weighted) and strongly connected components over an edge-list
    /// file, kept current per batch.
    #[command(after_help = graph::EXAMPLES)]
    Graph(graph::Args),
    /// Streaming k-means over the numeric columns of a CSV file.
    #[command(after_help = kmeans::EXAMPLES)]
    Kmeans(kmeans::Args),
    /// Streaming linear regression of one CSV column on others (exact OLS or SGD).
    #[command(after_help = regress::EXAMPLES)]
    Regress(regress::Args),
    /// Online classification of a CSV column, test-then-train (River-style learners).
    #[command(after_help = classify::EXAMPLES)]
    Classify(classify::Args),
    /// Online anomaly detection on numeric CSV columns with Half-Space Trees.
    #[command(after_help = anomaly::EXAMPLES)]
    Anomaly(anomaly::Args),
    /// SQL over a file or directory replayed as row batches, per batch or per window.
    #[command(after_help = sql::EXAMPLES)]
    Sql(sql::Args),
    /// Runs a spate command as several local processes on timely, restarting them all from
    /// the last checkpoint when one dies.
    #[command(after_help = cluster::EXAMPLES)]
    Cluster(cluster::Args),
}

fn main() {
    let command = Cli::command();
    let matches = command.clone().get_matches();
    ui::remember_settings(&command, &matches);
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let result = match cli.command {
        // The supervisor handles signals itself (it passes them on to its processes).
        Command::Cluster(args) => cluster::run(args),
        command => {
            common::handle_signals();
            run(command)
        }
    };
    match result {
        Ok(RunEnd::Finished) => ui::linger(),
        Ok(RunEnd::Interrupted) => std::process::exit(130),
        Err(e) => {
            common::note(&format!("error: {}", message(&e)));
            std::process::exit(if common::interrupted() { 130 } else { 1 });
        }
    }
}

/// Runs the command on the runtime its options select.
fn run(command: Command) -> anyhow::Result<RunEnd> {
    let Some(job) = command.job() else {
        return command.run();
    };
    match job.runtime.timely_config(job.threads)? {
        None => command.run(),
        Some(config) => runtime::run_job(&config, move || command.clone().run()),
    }
}

impl Command {
    /// The command's standard job options (none for `cluster`, which runs other commands).
    fn job(&self) -> Option<&job::JobArgs> {
        Some(match self {
            Command::Wordcount(a) => &a.job,
            Command::Stats(a) => &a.job,
            Command::Pagerank(a) => &a.job,
            Command::Graph(a) => a.job(),
            Command::Kmeans(a) => &a.job,
            Command::Regress(a) => &a.job,
            Command::Classify(a) => &a.job,
            Command::Anomaly(a) => &a.job,
            Command::Sql(a) => &a.job,
            Command::Cluster(_) => return None,
        })
    }

    /// Runs the command's job on this thread.
    fn run(self) -> anyhow::Result<RunEnd> {
        match self {
            Command::Wordcount(args) => wordcount::run(args),
            Command::Stats(args) => stats::run(args),
            Command::Pagerank(args) => pagerank::run(args),
            Command::Graph(args) => graph::run(args),
            Command::Kmeans(args) => kmeans::run(args),
            Command::Regress(args) => regress::run(args),
            Command::Classify(args) => classify::run(args),
            Command::Anomaly(args) => anomaly::run(args),
            Command::Sql(args) => sql::run(args),
            Command::Cluster(args) => cluster::run(args),
        }
    }
}

/// The error and its causes on one line, without the wrappers that only name the library
/// layer a message passed through.
fn message(e: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in e.chain() {
        let text = cause.to_string();
        // A cause repeats its own causes in its message; keep the most informative text.
        if parts.last().is_some_and(|last| last.contains(&text)) {
            continue;
        }
        parts.push(text);
    }
    parts
        .join(": ")
        .replace("source `input` failed: ", "")
        .replace("the streaming context was stopped", "the job was stopped")
}
