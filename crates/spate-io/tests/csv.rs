//! `CsvSource` and `CsvRowParser`: column selection, bad rows, replay, fuzzing against a
//! reference built from the row grammar.

use crate::common::write_file;
use proptest::prelude::*;
use spate_core::BatchTime;
use spate_io::{CsvFileSink, CsvRowParser, CsvSource, IoError, SkipReason, Source};

fn drain(source: &mut CsvSource, max: Option<u64>) -> (Vec<Vec<f64>>, u64) {
    let (mut records, mut skipped) = (Vec::new(), 0);
    for t in 0..100_000 {
        if source.is_exhausted() {
            return (records, skipped);
        }
        let batch = source.next_batch(BatchTime(t), max).unwrap();
        records.extend(batch.records);
        skipped += batch.skipped;
    }
    panic!("never exhausted");
}

const FLIGHTS: &str = "carrier,dep_delay,arr_delay,dest\n\
    UA,2,11,IAH\n\
    AA,,3,MIA\n\
    B6,-1,-18,BQN\n\
    DL,NA,NA,ATL\n\
    UA,NaN,4,ORD\n\
    AA,5,inf,DFW\n\
    EV,\"7\",\"-2.5\",\"IAD, VA\"\n\
    UA,x,1,IAH\n";

#[test]
fn selected_columns_with_missing_and_non_finite_rows_skipped_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("flights.csv");
    let dead = dir.path().join("dead.tsv");
    std::fs::write(&path, FLIGHTS).unwrap();
    let mut source = CsvSource::options(&path)
        .columns(&["arr_delay", "dep_delay"])
        .rows_per_batch(3)
        .dead_letter(&dead)
        .build()
        .unwrap();
    assert_eq!(source.column_names(), ["arr_delay", "dep_delay"]);
    assert_eq!(
        source.header(),
        ["carrier", "dep_delay", "arr_delay", "dest"]
    );
    let (records, skipped) = drain(&mut source, None);
    assert_eq!(
        records,
        [vec![11.0, 2.0], vec![-18.0, -1.0], vec![-2.5, 7.0]]
    );
    assert_eq!(skipped, 5);
    let reasons: Vec<String> = std::fs::read_to_string(&dead)
        .unwrap()
        .lines()
        .map(|l| l.split('\t').nth(1).unwrap().to_string())
        .collect();
    assert_eq!(
        reasons,
        [
            "missing value in column `dep_delay`",
            "missing value in column `arr_delay`",
            "NaN or infinite value in column `dep_delay`",
            "NaN or infinite value in column `arr_delay`",
            "non-numeric value in column `dep_delay`",
        ]
    );
}

#[test]
fn by_default_every_numeric_column_is_used() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("flights.csv");
    std::fs::write(&path, FLIGHTS).unwrap();
    let source = CsvSource::options(&path).build().unwrap();
    // `dep_delay` has an `x` in the sample, so only `arr_delay` is all numbers or missing.
    assert_eq!(source.column_names(), ["arr_delay"]);

    std::fs::write(&path, "name,kind\nann,cat\n").unwrap();
    let err = CsvSource::options(&path).build().err().unwrap();
    assert!(matches!(err, IoError::BadHeader { .. }), "{err}");

    // Before: a row of text only (here a repeated header) made every column non-numeric.
    std::fs::write(&path, "a,b\n1,2\na,b\n3,4\n").unwrap();
    let source = CsvSource::options(&path).build().unwrap();
    assert_eq!(source.column_names(), ["a", "b"]);
}

#[test]
fn an_unknown_column_is_a_typed_error_listing_the_header() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("flights.csv");
    std::fs::write(&path, FLIGHTS).unwrap();
    match CsvSource::options(&path)
        .columns(&["dep_delay", "delay"])
        .build()
    {
        Err(IoError::UnknownColumn {
            name, available, ..
        }) => {
            assert_eq!(name, "delay");
            assert_eq!(available, ["carrier", "dep_delay", "arr_delay", "dest"]);
        }
        Err(e) => panic!("wrong error: {e}"),
        Ok(_) => panic!("accepted an unknown column"),
    }
    let empty = dir.path().join("empty.csv");
    std::fs::write(&empty, "").unwrap();
    assert!(matches!(
        CsvSource::options(&empty).build(),
        Err(IoError::BadHeader { .. })
    ));
}

#[test]
fn offset_and_seek_round_trip_plain_and_gzip() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("t,x,y\n");
    for i in 0..200 {
        let x = if i % 17 == 0 {
            "NA".to_string()
        } else {
            format!("{}", i as f64 * 0.5)
        };
        text.push_str(&format!("{i},{x},{}\n", -i));
    }
    for gzip in [false, true] {
        let path = dir.path().join(if gzip { "d.csv.gz" } else { "d.csv" });
        write_file(&path, text.as_bytes(), gzip);
        let open = || {
            CsvSource::options(&path)
                .columns(&["x", "y"])
                .rows_per_batch(30)
                .build()
                .unwrap()
        };
        let (all, all_skipped) = drain(&mut open(), None);
        assert_eq!(all.len() as u64 + all_skipped, 200);
        for stop_after in [0_usize, 1, 4, 7] {
            let mut first = open();
            let mut head = Vec::new();
            for t in 0..stop_after {
                head.extend(first.next_batch(BatchTime(t as u64), None).unwrap().records);
            }
            let mut second = open();
            second.seek(&first.offset().unwrap()).unwrap();
            assert_eq!(second.position(), first.position());
            let (tail, _) = drain(&mut second, None);
            head.extend(tail);
            assert_eq!(head, all, "gzip={gzip} stop_after={stop_after}");
        }
    }
}

#[test]
fn records_written_by_the_csv_sink_read_back_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let rows: Vec<Vec<f64>> = (0..50)
        .map(|i| vec![i as f64 / 7.0, -1e-300 * i as f64, 1e300 / (i + 1) as f64])
        .collect();
    let sink = CsvFileSink::new(dir.path(), "rows", &["a", "b, quoted", "c"]).unwrap();
    let path = sink.write_batch(BatchTime(5), &rows).unwrap();
    let mut source = CsvSource::options(&path).build().unwrap();
    assert_eq!(source.column_names(), ["a", "b, quoted", "c"]);
    assert_eq!(drain(&mut source, Some(7)), (rows, 0));
}

/// One field of a generated row, and whether it is a valid number.
fn field() -> impl Strategy<Value = (String, bool)> {
    prop_oneof![
        any::<f64>().prop_map(|v| (format!("{v}"), v.is_finite())),
        (-1000_i32..1000).prop_map(|v| (format!(" {v} "), true)),
        (-1000_i32..1000).prop_map(|v| (format!("\"{v}\""), true)),
        Just(("NA".to_string(), false)),
        Just((String::new(), false)),
        Just(("nan".to_string(), false)),
        Just(("-inf".to_string(), false)),
        Just(("\"a, \"\"b\"\"\"".to_string(), false)),
        "[a-z]{1,5}".prop_map(|s| (s, false)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Rows made from a grammar with a known answer: a row is a record exactly when it has
    /// three fields that are all valid numbers, and every row is a record or skipped.
    #[test]
    fn generated_rows_are_records_or_counted(
        rows in proptest::collection::vec(proptest::collection::vec(field(), 1..5), 0..60),
        per_batch in 1_u64..20,
        gzip in any::<bool>(),
    ) {
        let mut text = String::from("a,b,c\n");
        let mut want = Vec::new();
        for row in &rows {
            let line: Vec<&str> = row.iter().map(|(f, _)| f.as_str()).collect();
            text.push_str(&line.join(","));
            text.push('\n');
            if row.len() == 3 && row.iter().all(|(_, ok)| *ok) {
                want.push(row.iter().map(|(f, _)| f.trim().trim_matches('"').trim().parse::<f64>().unwrap()).collect::<Vec<_>>());
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gen.csv");
        write_file(&path, text.as_bytes(), gzip);
        let mut source = CsvSource::options(&path)
            .columns(&["a", "b", "c"])
            .rows_per_batch(per_batch)
            .build()
            .unwrap();
        let (records, skipped) = drain(&mut source, None);
        prop_assert_eq!(records.len() as u64 + skipped, rows.len() as u64);
        prop_assert_eq!(records, want);
    }

    /// Arbitrary bytes never panic the parser, and anything it accepts is finite.
    #[test]
    fn the_row_parser_survives_arbitrary_bytes(
        line in proptest::collection::vec(
            prop_oneof![4 => any::<u8>(), 1 => Just(b','), 1 => Just(b'"'), 1 => Just(b'\r')],
            0..200,
        ),
    ) {
        let mut parser = CsvRowParser::new("a,b", None, b',').unwrap();
        match parser.parse(&line) {
            Ok(record) => {
                prop_assert_eq!(record.len(), 2);
                prop_assert!(record.iter().all(|v| v.is_finite()));
            }
            Err(reason) => prop_assert!(!reason.to_string().is_empty()),
        }
    }
}

#[test]
fn row_parser_reasons() {
    let mut p = CsvRowParser::new("\u{feff}a;b", Some(&["b"]), b';').unwrap();
    assert_eq!(p.header(), ["a", "b"]);
    assert_eq!(p.parse(b"x;2"), Ok(vec![2.0]));
    assert_eq!(p.parse(b"\"x;y\";3"), Ok(vec![3.0]));
    assert_eq!(p.parse(b"\"x;3"), Err(SkipReason::UnbalancedQuote));
    assert_eq!(
        p.parse(b""),
        Err(SkipReason::FieldCount {
            expected: 2,
            found: 1
        })
    );
    assert_eq!(
        p.parse(b"x;\xff"),
        Err(SkipReason::NotNumeric { column: "b".into() })
    );
    assert!(matches!(
        CsvRowParser::new("a,b", Some(&["c"]), b','),
        Err(IoError::UnknownColumn { .. })
    ));
}

/// Before: with a header `x,x` the second column was silently read as the first (k-means
/// centers (1,1),(3,3), stats printing the first column twice). A selected column whose
/// name is empty or repeated is now refused, naming the columns.
#[test]
fn ambiguous_header_names_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dup.csv");
    std::fs::write(&path, "x,x,y\n1,2,3\n3,4,5\n").unwrap();
    let err = CsvSource::options(&path).build().err().unwrap();
    assert!(
        err.to_string()
            .contains("`x` appears 2 times in the header (columns 1, 2)"),
        "{err}"
    );
    let err = CsvSource::options(&path)
        .columns(&["x"])
        .build()
        .err()
        .unwrap();
    assert!(matches!(err, IoError::BadHeader { .. }), "{err}");
    // A column that is not ambiguous can still be read.
    let mut source = CsvSource::options(&path).columns(&["y"]).build().unwrap();
    assert_eq!(drain(&mut source, None).0, [vec![3.0], vec![5.0]]);
    std::fs::write(&path, "a,,b\n1,2,3\n").unwrap();
    let err = CsvSource::options(&path).build().err().unwrap();
    assert!(
        err.to_string().contains("column 2 has an empty name"),
        "{err}"
    );
    assert!(CsvRowParser::new("a,a", None, b',').is_err());
}

/// A parser handed out by `CsvSource::parser` (a clone) splits rows like the original:
/// `csv_core::Reader::clone` copies only part of its state, so a clone split every row into
/// one field.
#[test]
fn a_cloned_parser_parses_like_the_original() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.csv");
    std::fs::write(&path, "a,b\n1,2\n").unwrap();
    let source = CsvSource::options(&path)
        .columns(&["b", "a"])
        .build()
        .unwrap();
    let mut parser = source.parser();
    assert_eq!(parser.parse(b"1,2"), Ok(vec![2.0, 1.0]));
    let mut again = parser.clone();
    assert_eq!(again.parse(b"\"3\",4"), Ok(vec![4.0, 3.0]));
}
