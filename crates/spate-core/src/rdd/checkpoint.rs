//! Checkpointing an RDD to disk, cutting its lineage.

use super::Rdd;
use crate::codec;
use crate::data::Data;
use crate::error::{Error, Result};
use crate::plan::{Batch, Node, Op, PartitionSource, TypeOps, boxed};
use std::path::PathBuf;
use std::sync::Arc;

/// Partitions read back from checkpoint files, verified by checksum on every read.
struct CheckpointFiles {
    paths: Vec<PathBuf>,
    ops: TypeOps,
}

impl PartitionSource for CheckpointFiles {
    fn compute(&self, p: usize) -> Result<Batch> {
        let path = self
            .paths
            .get(p)
            .ok_or_else(|| Error::internal(format!("checkpoint partition {p} out of range")))?;
        let bytes = codec::read_verified(path)?;
        (self.ops.decode)(&bytes).map_err(|e| Error::CorruptCheckpoint {
            path: path.clone(),
            reason: e.to_string(),
        })
    }
}

impl<T: Data> Rdd<T> {
    /// Computes this RDD now, writes every partition to the context's checkpoint directory
    /// (checksummed, atomically) and returns an RDD that reads those files instead of
    /// recomputing its lineage. Use it to cut long lineages, e.g. of iterative algorithms.
    ///
    /// Unlike Spark, which marks the RDD and writes it after the next job, this is eager,
    /// so the returned RDD's lineage is already cut.
    pub fn checkpoint(&self) -> Result<Rdd<T>> {
        let env = &self.node.env;
        let base = env.checkpoint_dir().ok_or(Error::NoCheckpointDir {
            operation: "Rdd::checkpoint",
        })?;
        let dir = base.join(format!("rdd-{}-{}", self.node.id, std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let ops = TypeOps::of::<T>();
        let paths = self.run_partitions(|p, records| {
            let path = dir.join(format!("part-{p:05}"));
            let bytes = (ops.encode)(&boxed(records))?;
            codec::write_atomic(&path, &bytes)?;
            Ok(path)
        })?;
        let source = CheckpointFiles { paths, ops };
        Ok(Rdd::from_node(Node::new(
            env,
            "checkpoint",
            self.node.partitions,
            self.node.partitioner,
            ops,
            Op::Source(Arc::new(source)),
        )))
    }
}
