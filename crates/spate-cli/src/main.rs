//! `spate`: run Spate's streaming jobs from the command line.
//!
//! Every job runs on the embedded runtime (no server to install). Logs go to stderr
//! (`RUST_LOG` sets the level), results to stdout and to the `--output` files.

mod common;
mod kmeans;
mod pagerank;
mod regress;
mod sql;
mod stats;
mod wordcount;

use clap::{Parser, Subcommand};

/// Streaming analytics over micro-batch RDDs.
#[derive(Parser)]
#[command(name = "spate", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Streaming word count over a file, a directory or a TCP socket.
    Wordcount(wordcount::Args),
    /// Statistics of CSV columns per batch, per window of batches and in total.
    Stats(stats::Args),
    /// Streaming PageRank over an edge-list file, with a proven error bound per batch.
    Pagerank(pagerank::Args),
    /// Streaming k-means over the numeric columns of a CSV file.
    Kmeans(kmeans::Args),
    /// Streaming linear regression of one CSV column on others (exact OLS or SGD).
    Regress(regress::Args),
    /// SQL over a file or directory replayed as row batches, per batch or per window.
    Sql(sql::Args),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Wordcount(args) => wordcount::run(args),
        Command::Stats(args) => stats::run(args),
        Command::Pagerank(args) => pagerank::run(args),
        Command::Kmeans(args) => kmeans::run(args),
        Command::Regress(args) => regress::run(args),
        Command::Sql(args) => sql::run(args),
    }
}
