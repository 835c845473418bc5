//! Sources and sinks: CSV (quoted newlines, CRLF, gzip, bad rows), NDJSON and Parquet
//! replayed in row batches equal polars reading the whole file; a resumed source continues
//! exactly; reading ahead gives the same batches and offsets as reading inline; a watched
//! directory; atomic per-batch files and a Parquet dataset polars reads back.

use crate::common::*;
use polars::prelude::*;
use spate_core::BatchTime;
use spate_core::stream::Source;
use spate_frame::{FileFormat, FrameDirectorySource, FrameFileSink, FrameFileSource};
use std::io::Write;
use std::path::{Path, PathBuf};

fn flights_csv() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../datasets/nycflights13-flights-every100th.csv")
}

/// The flights CSV, and a gzipped copy of it written into `dir`.
fn flights_plain_and_gzipped(dir: &Path) -> [PathBuf; 2] {
    let plain = flights_csv();
    let gz = dir.join("flights.csv.gz");
    let mut enc = flate2::write::GzEncoder::new(
        std::fs::File::create(&gz).unwrap(),
        flate2::Compression::fast(),
    );
    enc.write_all(&std::fs::read(&plain).unwrap()).unwrap();
    enc.finish().unwrap();
    [plain, gz]
}

/// Every frame a source gives until it is exhausted, stacked, with the rows it skipped.
fn drain(source: &mut impl Source<Item = spate_frame::Frame>) -> (DataFrame, u64, usize) {
    let mut frames = Vec::new();
    let (mut skipped, mut batches) = (0, 0);
    let mut t = 0;
    while !source.is_exhausted() {
        t += 1000;
        let batch = source.next_batch(BatchTime(t), None).unwrap();
        skipped += batch.skipped;
        batches += 1;
        frames.extend(batch.records.into_iter().map(|f| f.into_df()));
        assert!(batches < 100_000, "the source never ends");
    }
    let schema = frames
        .first()
        .map(|f| f.schema().as_ref().clone())
        .unwrap_or_default();
    (stack(&frames, &schema), skipped, batches)
}

fn polars_csv(path: &Path) -> DataFrame {
    CsvReadOptions::default()
        .with_infer_schema_length(Some(100_000))
        .with_parse_options(
            CsvParseOptions::default()
                .with_try_parse_dates(true)
                .with_null_values(Some(NullValues::AllColumns(vec![
                    "NA".into(),
                    "N/A".into(),
                    "null".into(),
                    "NULL".into(),
                ]))),
        )
        .try_into_reader_with_file_path(Some(path.to_path_buf()))
        .unwrap()
        .finish()
        .unwrap()
}

#[test]
fn a_csv_file_replays_as_polars_reads_it() {
    let path = flights_csv();
    let mut source = FrameFileSource::options(&path)
        .rows_per_batch(500)
        .frames_per_batch(3)
        .build()
        .unwrap();
    let want = polars_csv(&path);
    assert_eq!(source.schema().as_ref(), want.schema().as_ref());
    assert!(matches!(
        source.schema().get("time_hour"),
        Some(DataType::Datetime(_, Some(_)))
    ));
    let (got, skipped, batches) = drain(&mut source);
    assert_eq!((skipped, batches), (0, 3368_usize.div_ceil(500)));
    assert_frames_eq(&got, &want, 0.0, "flights");
}

#[test]
fn a_resumed_csv_source_continues_exactly_even_gzipped() {
    let dir = tempfile::tempdir().unwrap();
    for path in flights_plain_and_gzipped(dir.path()) {
        let (whole, _, _) = drain(
            &mut FrameFileSource::options(&path)
                .rows_per_batch(700)
                .build()
                .unwrap(),
        );
        let mut first = FrameFileSource::options(&path)
            .rows_per_batch(700)
            .build()
            .unwrap();
        let a = first.next_batch(BatchTime(1000), None).unwrap();
        let b = first.next_batch(BatchTime(2000), None).unwrap();
        let offset = first.offset().unwrap();
        let mut resumed = FrameFileSource::options(&path)
            .rows_per_batch(700)
            .build()
            .unwrap();
        resumed.seek(&offset).unwrap();
        let (rest, _, _) = drain(&mut resumed);
        let mut frames: Vec<DataFrame> = a
            .records
            .into_iter()
            .chain(b.records)
            .map(|f| f.into_df())
            .collect();
        frames.push(rest);
        let got = stack(&frames, whole.schema());
        assert_frames_eq(&got, &whole, 0.0, &path.display().to_string());
    }
}

#[test]
fn read_ahead_gives_the_batches_and_offsets_of_an_inline_reader_under_rate_limits() {
    let dir = tempfile::tempdir().unwrap();
    // A rate limit that changes (Some(1) and Some(2) frames of 3) between full batches.
    let limits = [None, None, Some(1), None, Some(2), Some(2), None, Some(1)];
    for path in flights_plain_and_gzipped(dir.path()) {
        let open = |read_ahead: bool| {
            FrameFileSource::options(&path)
                .rows_per_batch(300)
                .frames_per_batch(3)
                .read_ahead(read_ahead)
                .build()
                .unwrap()
        };
        let (mut ahead, mut inline) = (open(true), open(false));
        let mut resumed_at = None;
        for i in 0..40 {
            let limit = limits[i % limits.len()];
            let t = BatchTime(1000 * (i as u64 + 1));
            let a = ahead.next_batch(t, limit).unwrap();
            let b = inline.next_batch(t, limit).unwrap();
            let what = format!("{} batch {i}", path.display());
            assert_eq!(a.records.len(), b.records.len(), "{what}");
            for (x, y) in a.records.iter().zip(&b.records) {
                assert_frames_eq(x.df(), y.df(), 0.0, &what);
            }
            assert_eq!((a.skipped, a.bytes), (b.skipped, b.bytes), "{what}");
            assert_eq!(ahead.offset(), inline.offset(), "{what}");
            assert_eq!(ahead.is_exhausted(), inline.is_exhausted(), "{what}");
            if i == 5 {
                resumed_at = ahead.offset();
            }
            if inline.is_exhausted() {
                break;
            }
        }
        assert!(inline.is_exhausted(), "40 batches read the whole file");
        // A seek while a read ahead is running: both continue alike from the offset.
        let offset = resumed_at.unwrap();
        let (mut ahead, mut inline) = (open(true), open(false));
        ahead.next_batch(BatchTime(1000), None).unwrap();
        ahead.seek(&offset).unwrap();
        inline.seek(&offset).unwrap();
        let (x, _, _) = drain(&mut ahead);
        let (y, _, _) = drain(&mut inline);
        assert!(x.height() > 0);
        assert_frames_eq(&x, &y, 0.0, "after a seek");
    }
}

#[test]
fn bad_csv_rows_are_skipped_and_counted_never_nulled() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("odd.csv");
    std::fs::write(
        &path,
        "name,n,note\r\n\
         a,1,\"plain\"\r\n\
         b,2,\"two\r\nlines, and a comma\"\r\n\
         \r\n\
         c,NA,\r\n\
         d,x,bad number\r\n\
         e,5\r\n\
         f,6,too,many\r\n\
         g,7,\"quote \"\"inside\"\"\"\r\n",
    )
    .unwrap();
    let mut source = FrameFileSource::options(&path)
        .rows_per_batch(3)
        .infer_schema_rows(3)
        .build()
        .unwrap();
    assert_eq!(source.schema().get("n"), Some(&DataType::Int64));
    let (got, skipped, _) = drain(&mut source);
    assert_eq!(
        skipped, 3,
        "x in an integer column, a short row, a long row"
    );
    assert_eq!(
        got.column("name")
            .unwrap()
            .str()
            .unwrap()
            .iter()
            .flatten()
            .collect::<Vec<_>>(),
        ["a", "b", "c", "g"]
    );
    assert_eq!(
        got.column("n").unwrap().i64().unwrap().to_vec(),
        [Some(1), Some(2), None, Some(7)]
    );
    let notes: Vec<Option<&str>> = got.column("note").unwrap().str().unwrap().iter().collect();
    assert_eq!(
        notes,
        [
            Some("plain"),
            Some("two\r\nlines, and a comma"),
            None,
            Some("quote \"inside\"")
        ]
    );
    // Bad headers are typed errors.
    for (header, why) in [
        ("a,b,a\n1,2,3\n", "twice"),
        (",b\n1,2\n", "no name"),
        ("", "empty"),
    ] {
        std::fs::write(&path, header).unwrap();
        let err = FrameFileSource::options(&path)
            .build()
            .map(|_| ())
            .unwrap_err();
        assert!(err.to_string().contains(why), "{header:?}: {err}");
    }
}

#[test]
fn ndjson_and_parquet_files_replay_as_polars_reads_them() {
    let dir = tempfile::tempdir().unwrap();
    let want = polars_csv(&flights_csv());
    // Parquet written by polars, read back in batches.
    let pq = dir.path().join("flights.parquet");
    ParquetWriter::new(std::fs::File::create(&pq).unwrap())
        .finish(&mut want.clone())
        .unwrap();
    let mut source = FrameFileSource::options(&pq)
        .rows_per_batch(1000)
        .build()
        .unwrap();
    let (got, skipped, batches) = drain(&mut source);
    assert_eq!((skipped, batches), (0, 4));
    assert_frames_eq(&got, &want, 0.0, "parquet");
    // NDJSON: a few typed lines, a bad one and a blank one.
    let nd = dir.path().join("events.ndjson");
    std::fs::write(
        &nd,
        "{\"id\": 1, \"kind\": \"a\", \"v\": 1.5}\n{\"id\": 2, \"kind\": null, \"v\": 2.5}\n\n{not json}\n{\"id\": 3, \"kind\": \"c\", \"v\": null}\n",
    )
    .unwrap();
    let mut source = FrameFileSource::options(&nd)
        .rows_per_batch(2)
        .build()
        .unwrap();
    let (got, skipped, _) = drain(&mut source);
    assert_eq!(skipped, 1);
    assert_eq!(
        got.column("id").unwrap().i64().unwrap().to_vec(),
        [Some(1), Some(2), Some(3)]
    );
    assert_eq!(got.column("kind").unwrap().null_count(), 1);
    assert_eq!(
        got.column("v").unwrap().f64().unwrap().to_vec(),
        [Some(1.5), Some(2.5), None]
    );
}

#[test]
fn a_directory_source_reads_new_files_once_and_skips_foreign_ones() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let tmp = dir.path().join(format!(".{name}.tmp"));
        std::fs::write(&tmp, text).unwrap();
        std::fs::rename(&tmp, dir.path().join(name)).unwrap();
    };
    write("0.csv", "k,v\na,1\n");
    let mut source = FrameDirectorySource::options(dir.path(), FileFormat::Csv)
        .include_existing(true)
        .files_per_batch(2)
        .build()
        .unwrap();
    write("1.csv", "k,v\nb,2\nc,3\n");
    write("2.csv", "other,columns\nx,y\n");
    write("3.txt", "ignored\n");
    let b1 = source.next_batch(BatchTime(1000), None).unwrap();
    assert_eq!(b1.records.iter().map(|f| f.height()).sum::<usize>(), 3);
    let offset = source.offset().unwrap();
    let b2 = source.next_batch(BatchTime(2000), None).unwrap();
    assert_eq!(
        (b2.records.len(), b2.skipped),
        (0, 1),
        "the foreign file is skipped whole"
    );
    assert_eq!(source.stats().files_failed(), 1);
    write("4.csv", "k,v\nd,4\n");
    let b3 = source.next_batch(BatchTime(3000), None).unwrap();
    assert_eq!(b3.records.len(), 1);
    // Replay from the offset after the first batch: the later files again, nothing twice.
    source.seek(&offset).unwrap();
    let again = source.next_batch(BatchTime(2000), None).unwrap();
    assert_eq!(again.records.iter().map(|f| f.height()).sum::<usize>(), 1);
    assert_eq!(again.skipped, 1);
}

#[test]
fn sinks_write_whole_files_that_replace_their_batch() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(".out-00000000000000001000.csv.tmp-abc"),
        "torn",
    )
    .unwrap();
    let sink = FrameFileSink::new(dir.path(), "out", FileFormat::Csv).unwrap();
    assert!(
        !dir.path()
            .join(".out-00000000000000001000.csv.tmp-abc")
            .exists(),
        "stale temporaries are removed"
    );
    let frame = df!("a" => [Some(1), None], "b" => ["x, y", "z"]).unwrap();
    let path = sink.write_batch(BatchTime(1000), &frame).unwrap().unwrap();
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "a,b\n1,\"x, y\"\n,z\n"
    );
    sink.write_batch(BatchTime(1000), &frame.head(Some(1)))
        .unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "a,b\n1,\"x, y\"\n");
    let empty = sink
        .write_batch(BatchTime(2000), &frame.clear())
        .unwrap()
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(empty).unwrap(),
        "a,b\n",
        "an empty batch has a header"
    );
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names.len(), 2, "no temporaries left: {names:?}");
    assert!(FrameFileSink::new(dir.path(), "../x", FileFormat::Csv).is_err());
}

#[test]
fn a_parquet_dataset_reads_back_as_one_table() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng::new(9);
    let ssc = context(2);
    let batches: Vec<Vec<DataFrame>> = (0..6)
        .map(|i| {
            if i == 2 {
                Vec::new()
            } else {
                vec![flights(&mut rng, 20, true), flights(&mut rng, 5, false)]
            }
        })
        .collect();
    let schema = batches[0][0].schema().as_ref().clone();
    let frames = replay(&ssc, batches.clone(), &schema);
    frames
        .write_files(FrameFileSink::dataset(dir.path()).unwrap())
        .unwrap();
    run(&ssc);
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert_eq!(files.len(), 5, "one file per non-empty batch: {files:?}");
    let parts: Vec<DataFrame> = files
        .iter()
        .map(|f| {
            ParquetReader::new(std::fs::File::open(f).unwrap())
                .finish()
                .unwrap()
        })
        .collect();
    let want = stack(&batches.into_iter().flatten().collect::<Vec<_>>(), &schema);
    assert_frames_eq(&stack(&parts, &schema), &want, 0.0, "dataset");
}

#[test]
fn the_row_limit_counts_the_row_alone_on_both_splitter_paths() {
    // Rows of exactly the limit are kept and one byte more skipped, whether the splitter
    // finds them with memchr (no quotes) or csv-core (quoted), with either line ending.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rows.csv");
    let limit = 16;
    for ending in ["\n", "\r\n"] {
        for quoted in [false, true] {
            let row = |len: usize, id: u32| {
                let id = id.to_string();
                let pad = len - id.len() - 1 - if quoted { 2 } else { 0 };
                let text = "x".repeat(pad);
                if quoted {
                    format!("{id},\"{text}\"{ending}")
                } else {
                    format!("{id},{text}{ending}")
                }
            };
            let mut text = format!("id,text{ending}");
            for (id, len) in [(1, limit), (2, limit + 1), (3, limit - 1), (4, limit)] {
                text.push_str(&row(len, id));
            }
            std::fs::write(&path, text).unwrap();
            let mut source = FrameFileSource::options(&path)
                .max_row_bytes(limit)
                .rows_per_batch(2)
                .build()
                .unwrap();
            let (got, skipped, _) = drain(&mut source);
            let ids = got.column("id").unwrap().i64().unwrap().to_vec();
            let case = format!("quoted {quoted}, ending {ending:?}");
            assert_eq!(ids, [Some(1), Some(3), Some(4)], "{case}");
            assert_eq!(skipped, 1, "{case}");
        }
    }
}
