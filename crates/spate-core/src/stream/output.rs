//! Output operations: what makes a stream graph run.

use super::DStream;
use super::context::OutputOp;
use crate::data::Data;
use crate::error::Result;
use crate::rdd::Rdd;
use crate::storage::lock;
use crate::time::BatchTime;
use std::fmt::Display;
use std::sync::{Arc, Mutex};

impl<T: Data> DStream<T> {
    /// Calls `f` with every batch's RDD and time, on the batch generator thread, in batch
    /// order. Running an action on the RDD inside `f` runs a job. An error fails the batch
    /// and stops the context.
    ///
    /// With several workers, `f` runs on every worker (the driver code of a Spate program
    /// runs everywhere, and the jobs it starts need every worker): actions return the same
    /// results on all of them. Side effects that must happen once — printing, writing a
    /// collected batch to a file, calling an external system — belong under
    /// `rdd.context().is_leader()`; per-partition side effects (`foreach_partition`) run on
    /// the worker that owns each partition.
    pub fn foreach_rdd(
        &self,
        f: impl FnMut(Rdd<T>, BatchTime) -> Result<()> + Send + 'static,
    ) -> Result<()> {
        let f = Mutex::new(f);
        let node = Arc::clone(&self.node);
        self.ssc.add_output(OutputOp {
            name: "foreach_rdd",
            node: self.any_node(),
            run: Box::new(move |t| match node.get_or_compute(t)? {
                Some(rdd) => (lock(&f))(rdd, t),
                None => Ok(()),
            }),
        })
    }

    /// Prints the first `n` records of every batch to stdout, under a header with the batch
    /// time (Spark's `print`). With several workers, the leader prints.
    pub fn print(&self, n: usize) -> Result<()>
    where
        T: std::fmt::Debug,
    {
        self.foreach_rdd(move |rdd, t| {
            let first = rdd.take(n + 1)?;
            let mut out = format!("-------------------------------------------\nTime: {} ms\n-------------------------------------------\n", t.0);
            for r in first.iter().take(n) {
                out.push_str(&format!("{r:?}\n"));
            }
            if first.len() > n {
                out.push_str("...\n");
            }
            if rdd.context().is_leader() {
                println!("{out}");
            }
            Ok(())
        })
    }

    /// Saves every batch as a directory of text files named `{prefix}-{time}.{suffix}`
    /// (`{prefix}-{time}` without a suffix), one record per line. Each directory is written
    /// under a temporary name and renamed into place, replacing an earlier copy: a batch
    /// that is reprocessed after recovery replaces its output instead of duplicating it.
    pub fn save_as_text_files(
        &self,
        prefix: impl Into<String>,
        suffix: impl Into<String>,
    ) -> Result<()>
    where
        T: Display,
    {
        let prefix = prefix.into();
        let suffix = suffix.into();
        self.foreach_rdd(move |rdd, t| rdd.save_as_text_file(batch_path(&prefix, &suffix, t)))
    }
}

/// `{prefix}-{time}.{suffix}`, the per-batch output name.
pub fn batch_path(prefix: &str, suffix: &str, time: BatchTime) -> String {
    if suffix.is_empty() {
        format!("{prefix}-{}", time.0)
    } else {
        format!("{prefix}-{}.{suffix}", time.0)
    }
}
