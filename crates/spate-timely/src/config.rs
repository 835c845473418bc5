//! How many workers, in how many processes, on which hosts.

use spate_core::{Error, Result};
use std::path::Path;
use std::time::Duration;

/// The shape of a timely execution: workers per process, processes, this process's index
/// and every process's address. The same options as timely's `-w/-n/-p/-h`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimelyConfig {
    /// Timely workers in this process (`-w`).
    pub workers: usize,
    /// Processes in the execution (`-n`).
    pub processes: usize,
    /// This process's index, in `0..processes` (`-p`).
    pub process: usize,
    /// `host:port` of every process, in process order (from a hostfile, `-h`); needed when
    /// there are several processes. Defaults to `127.0.0.1:2101`, `:2102`, … as timely does.
    pub hosts: Vec<String>,
    /// rayon threads per worker for a stage's tasks and for library operators (default 1).
    pub threads: usize,
    /// The default number of partitions of every worker's context (see
    /// [`SpateContextBuilder::default_parallelism`](spate_core::SpateContextBuilder)).
    pub default_parallelism: usize,
    /// How long to wait for the other processes to come up.
    pub connect_timeout: Duration,
}

impl Default for TimelyConfig {
    fn default() -> Self {
        TimelyConfig {
            workers: 1,
            processes: 1,
            process: 0,
            hosts: Vec::new(),
            threads: 1,
            default_parallelism: spate_core::DEFAULT_PARALLELISM,
            connect_timeout: Duration::from_secs(60),
        }
    }
}

/// The most workers (per process, and in all) and processes accepted: far beyond any
/// machine here, small enough that an absurd value is refused before threads are spawned.
const MAX_WORKERS: usize = 1024;

impl TimelyConfig {
    /// `workers` workers in this one process.
    pub fn threads_in_process(workers: usize) -> TimelyConfig {
        TimelyConfig {
            workers,
            ..TimelyConfig::default()
        }
    }

    /// Process `process` of `processes`, each with `workers` workers, at `hosts`.
    pub fn cluster(
        workers: usize,
        processes: usize,
        process: usize,
        hosts: Vec<String>,
    ) -> TimelyConfig {
        TimelyConfig {
            workers,
            processes,
            process,
            hosts,
            ..TimelyConfig::default()
        }
    }

    /// The configuration timely's command-line options describe: `workers` per process
    /// (`-w`, default 1), `processes` (`-n`, default 1), this `process`'s index (`-p`, default
    /// 0) and a `hostfile` with every process's address (`-h`, default `127.0.0.1:2101`, …).
    /// The hostfile is read here and the result checked (see [`TimelyConfig::check`]).
    pub fn from_options(
        workers: Option<usize>,
        processes: Option<usize>,
        process: Option<usize>,
        hostfile: Option<&Path>,
    ) -> Result<TimelyConfig> {
        let processes = processes.unwrap_or(1);
        let hosts = match hostfile {
            Some(path) => TimelyConfig::read_hostfile(path)?,
            None => Vec::new(),
        };
        if let Some(path) = hostfile
            && hosts.len() != processes
        {
            return Err(Error::invalid(
                "hostfile",
                format!(
                    "{} lists {} addresses for {processes} processes",
                    path.display(),
                    hosts.len()
                ),
                "must list one host:port per process",
            ));
        }
        let config =
            TimelyConfig::cluster(workers.unwrap_or(1), processes, process.unwrap_or(0), hosts);
        config.check()?;
        Ok(config)
    }

    /// The workers of the whole execution.
    pub fn total_workers(&self) -> usize {
        self.workers * self.processes
    }

    /// Reads a hostfile: one `host:port` per line, in process order; blank lines and lines
    /// starting with `#` are ignored.
    pub fn read_hostfile(path: &Path) -> Result<Vec<String>> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Ok(text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(String::from)
            .collect())
    }

    /// The addresses of every process: the configured ones, or timely's defaults.
    pub fn addresses(&self) -> Vec<String> {
        if self.hosts.is_empty() {
            (0..self.processes)
                .map(|p| format!("127.0.0.1:{}", 2101 + p))
                .collect()
        } else {
            self.hosts.clone()
        }
    }

    /// Checks the configuration before anything starts.
    pub fn check(&self) -> Result<()> {
        if self.workers == 0 || self.workers > MAX_WORKERS {
            return Err(Error::invalid(
                "workers",
                self.workers,
                "must be between 1 and 1024 per process",
            ));
        }
        if self.processes == 0 || self.total_workers() > MAX_WORKERS {
            return Err(Error::invalid(
                "processes",
                self.processes,
                "must be at least 1, with at most 1024 workers in all",
            ));
        }
        if self.process >= self.processes {
            return Err(Error::invalid(
                "process",
                self.process,
                "must be below the number of processes",
            ));
        }
        if self.threads == 0 || self.threads > MAX_WORKERS {
            return Err(Error::invalid(
                "threads",
                self.threads,
                "must be between 1 and 1024 per worker",
            ));
        }
        if self.default_parallelism == 0 {
            return Err(Error::invalid(
                "default_parallelism",
                self.default_parallelism,
                "must be at least 1",
            ));
        }
        if self.processes > 1 && !self.hosts.is_empty() && self.hosts.len() != self.processes {
            return Err(Error::invalid(
                "hosts",
                format!("{} addresses", self.hosts.len()),
                "a hostfile needs one host:port line per process",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absurd_shapes_are_refused_before_anything_starts() {
        assert!(TimelyConfig::threads_in_process(0).check().is_err());
        assert!(TimelyConfig::threads_in_process(100_000).check().is_err());
        assert!(TimelyConfig::cluster(1, 2, 2, Vec::new()).check().is_err());
        assert!(
            TimelyConfig::cluster(1, 2, 0, vec!["a:1".into()])
                .check()
                .is_err()
        );
        assert!(TimelyConfig::cluster(2, 2, 1, Vec::new()).check().is_ok());
        assert_eq!(
            TimelyConfig::cluster(1, 2, 0, Vec::new()).addresses(),
            vec!["127.0.0.1:2101", "127.0.0.1:2102"]
        );
    }

    #[test]
    fn hostfiles_skip_blank_lines_and_comments() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hosts");
        std::fs::write(&path, "# cluster\nhost-a:2101\n\n  host-b:2101  \n").unwrap();
        assert_eq!(
            TimelyConfig::read_hostfile(&path).unwrap(),
            vec!["host-a:2101", "host-b:2101"]
        );
    }
}
