//! Shared helpers for the benchmarks: corpus generation and dataset paths.

use std::path::PathBuf;

/// The repository's `datasets/` folder.
pub fn datasets() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../datasets")
}

/// A text corpus of at least `bytes` bytes: the lines of *Moby-Dick* (bundled in
/// `datasets/`) repeated, so word frequencies follow real English.
pub fn corpus(bytes: usize) -> Vec<String> {
    let path = datasets().join("moby-dick.txt");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (run from the repository)", path.display()));
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut size = 0;
    while size < bytes {
        for line in &lines {
            size += line.len() + 1;
            out.push((*line).to_string());
        }
    }
    out
}

/// The hand-written per-core baseline for word count: one thread, one hash map (FxHash, the
/// fastest hasher for short strings we know), words lowercased into a reused buffer so a
/// word already counted costs no allocation.
pub fn wordcount_baseline(lines: &[String]) -> rustc_hash::FxHashMap<String, u64> {
    let mut counts: rustc_hash::FxHashMap<String, u64> = rustc_hash::FxHashMap::default();
    let mut word = String::new();
    for line in lines {
        for piece in line.split(|c: char| !c.is_alphanumeric()) {
            if piece.is_empty() {
                continue;
            }
            word.clear();
            if piece.is_ascii() {
                word.push_str(piece);
                word.make_ascii_lowercase();
            } else {
                word.push_str(&piece.to_lowercase());
            }
            match counts.get_mut(word.as_str()) {
                Some(n) => *n += 1,
                None => {
                    counts.insert(word.clone(), 1);
                }
            }
        }
    }
    counts
}
