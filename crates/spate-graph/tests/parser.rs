//! The edge-list parser on real files and generated inputs.

use crate::common::dataset;
use flate2::Compression;
use flate2::write::GzEncoder;
use proptest::prelude::*;
use spate_graph::{Columns, EdgeListFormat, GraphError};
use std::io::Write;

#[test]
fn real_datasets_parse_without_loss() {
    let otc = EdgeListFormat::new()
        .columns(Columns::SrcDstWeightTime)
        .read_path(dataset("soc-sign-bitcoinotc.csv.gz"))
        .expect("parses");
    assert_eq!((otc.edges.len(), otc.stats.malformed), (35_592, 0));
    assert_eq!(otc.edges[0].time, Some(1_289_241_911.728_36));
    assert!(
        otc.edges.iter().any(|e| e.weight < 0.0),
        "signed ratings are kept as data"
    );
    let college = EdgeListFormat::new()
        .columns(Columns::SrcDstTime)
        .read_path(dataset("CollegeMsg.txt.gz"))
        .expect("parses");
    assert_eq!((college.edges.len(), college.stats.malformed), (59_835, 0));
    let epinions = EdgeListFormat::new()
        .read_path(dataset("soc-Epinions1.txt.gz"))
        .expect("parses");
    assert_eq!(epinions.stats.edges, 508_837);
    assert_eq!((epinions.stats.skipped, epinions.stats.malformed), (4, 0));
}

#[test]
fn missing_file_is_a_typed_error() {
    let err = EdgeListFormat::new()
        .read_path("/nonexistent/edges.txt")
        .expect_err("missing");
    assert!(matches!(err, GraphError::Open { .. }));
    assert!(err.to_string().contains("/nonexistent/edges.txt"));
}

#[test]
fn streaming_reader_batches_and_counts() {
    let text = "1 2\n# c\n3 4\nbad\n5 6\n";
    let mut r = EdgeListFormat::new()
        .reader(text.as_bytes())
        .expect("opens");
    assert_eq!(r.next_batch(2).expect("reads").len(), 2);
    assert_eq!(r.next_batch(2).expect("reads").len(), 1);
    assert!(r.next_batch(2).expect("reads").is_empty());
    assert_eq!(
        (r.stats().lines, r.stats().skipped, r.stats().malformed),
        (5, 1, 1)
    );
    assert_eq!(r.stats().malformed_lines[0].line, 4);
}

proptest! {
    /// Whatever the separators, line endings and compression, every edge written is read
    /// back, every junk line is counted with its line number, and nothing panics.
    #[test]
    fn roundtrip_with_junk(
        edges in prop::collection::vec((any::<u64>(), any::<u64>(), 0.001f64..1e6), 0..40),
        junk in prop::collection::vec((0usize..40, "[^\n]{0,12}"), 0..8),
        comma in any::<bool>(),
        crlf in any::<bool>(),
        gz in any::<bool>(),
    ) {
        let sep = if comma { "," } else { " \t" };
        let eol = if crlf { "\r\n" } else { "\n" };
        let mut lines: Vec<String> = edges.iter().map(|(u, v, w)| format!("{u}{sep}{v}{sep}{w:?}")).collect();
        for (pos, text) in &junk {
            // Junk that could parse as an edge or be a comment would not be junk.
            let line = format!("x{text}");
            let at = (*pos).min(lines.len());
            lines.insert(at, line);
        }
        let text = lines.join(eol);
        let bytes = if gz {
            let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
            enc.write_all(text.as_bytes()).expect("writes");
            enc.finish().expect("finishes")
        } else {
            text.into_bytes()
        };
        let list = EdgeListFormat::new().read(std::io::Cursor::new(bytes)).expect("lenient");
        let got: Vec<_> = list.edges.iter().map(|e| (e.src, e.dst, e.weight)).collect();
        prop_assert_eq!(got, edges);
        prop_assert_eq!(list.stats.malformed, junk.len() as u64);
        prop_assert_eq!(list.stats.lines, lines.len() as u64);
    }
}
