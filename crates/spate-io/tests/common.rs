//! Helpers shared by the test modules.

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

/// Writes `bytes` to `path`, gzip-compressed when `gzip`.
pub(crate) fn write_file(path: &Path, bytes: &[u8], gzip: bool) {
    if gzip {
        let file = std::fs::File::create(path).unwrap();
        let mut encoder = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap();
    } else {
        std::fs::write(path, bytes).unwrap();
    }
}

/// The reference line splitter, written independently of `LineReader`: the valid lines of
/// `bytes`, and how many lines were invalid UTF-8 or longer than `max`.
pub(crate) fn reference_lines(bytes: &[u8], max: usize) -> (Vec<String>, u64) {
    let mut pieces: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
    let terminated = pieces.len() - 1;
    if pieces.last().is_some_and(|p| p.is_empty()) {
        pieces.pop();
    }
    let mut lines = Vec::new();
    let mut skipped = 0;
    for (i, mut piece) in pieces.into_iter().enumerate() {
        if i < terminated && piece.last() == Some(&b'\r') {
            piece = &piece[..piece.len() - 1];
        }
        match std::str::from_utf8(piece) {
            Ok(s) if piece.len() <= max => lines.push(s.to_string()),
            _ => skipped += 1,
        }
    }
    (lines, skipped)
}

/// A deterministic text of `n` lines with empty lines, CRLF endings and non-ASCII words.
pub(crate) fn sample_text(n: usize) -> String {
    let words = [
        "whale", "Ahab", "sea", "Pequod", "harpoon", "naïve", "größe", "🐋", "ship",
    ];
    let mut text = String::new();
    for i in 0..n {
        let len = (i * 7) % 6;
        let line: Vec<&str> = (0..len)
            .map(|j| words[(i * 3 + j * j) % words.len()])
            .collect();
        text.push_str(&line.join(" "));
        text.push_str(if i % 5 == 0 { "\r\n" } else { "\n" });
    }
    text
}

/// Polls `done` until it holds, failing the test after `timeout`: how tests observe other
/// threads without sleeping a guessed amount of time.
pub(crate) fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}
