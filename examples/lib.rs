//! Shared helpers for the examples (dataset paths, output folders).

use anyhow::Context;
use std::path::{Path, PathBuf};

/// The repository's root folder.
pub fn repo() -> PathBuf {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR"));
    examples.parent().unwrap_or(examples).to_path_buf()
}

/// `$SPATE_DATASETS`, or `../shared/datasets` beside the repository.
pub fn shared_datasets() -> PathBuf {
    std::env::var_os("SPATE_DATASETS")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("../shared/datasets"))
}

/// The folder given as `--out DIR` on the command line, or `spate-examples/NAME` in the
/// system's temporary directory (never the source tree); created if missing.
pub fn out_dir(name: &str) -> anyhow::Result<PathBuf> {
    let args: Vec<String> = std::env::args().collect();
    let dir = match args.iter().position(|a| a == "--out") {
        Some(i) => PathBuf::from(args.get(i + 1).context("--out needs a folder")?),
        None => std::env::temp_dir().join("spate-examples").join(name),
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}
