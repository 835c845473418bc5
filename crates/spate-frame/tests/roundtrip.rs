//! Exact round trips: frame → checkpoint bytes → frame (every dtype, nulls, NaN payloads),
//! typed records → frame → records, and a frame stream checkpointed mid-window and restored.

use crate::common::*;
use polars::prelude::*;
use serde::{Deserialize, Serialize};
use spate_core::Window;
use spate_core::stream::{CheckpointConfig, StreamingContext};
use spate_frame::{Frame, FrameRecordsExt, SqlQuery, frame_from_records, records_from_frame};
use std::sync::Arc;
use std::time::Duration;

fn every_type() -> DataFrame {
    let mut df = df!(
        "s" => [Some("a"), None, Some("ünï"), Some("")],
        "i32" => [Some(1_i32), Some(i32::MIN), None, Some(i32::MAX)],
        "i64" => [Some(i64::MIN), None, Some(0), Some(i64::MAX)],
        "u32" => [Some(0_u32), Some(u32::MAX), None, Some(7)],
        "u64" => [Some(u64::MAX), Some(0_u64), Some(1), None],
        "f32" => [Some(1.5_f32), Some(f32::NAN), None, Some(-0.0)],
        "f64" => [Some(f64::from_bits(0x7ff8_0000_0000_0123)), Some(f64::INFINITY), Some(-1e-308), None],
        "b" => [Some(true), None, Some(false), Some(true)],
        "days" => [Some(0_i32), Some(15_706), None, Some(-1)],
        "us" => [Some(1_356_998_400_000_000_i64), None, Some(-1), Some(0)],
        "dur" => [Some(1_000_i64), None, Some(-5), Some(0)],
        "tod" => [Some(3_600_000_000_000_i64), Some(0), None, Some(1)],
    )
    .unwrap();
    let casts: [(&str, DataType); 5] = [
        ("days", DataType::Date),
        (
            "us",
            DataType::Datetime(TimeUnit::Microseconds, Some(TimeZone::UTC)),
        ),
        ("dur", DataType::Duration(TimeUnit::Milliseconds)),
        ("tod", DataType::Time),
        ("s", DataType::from_categories(Categories::global())),
    ];
    for (name, dtype) in casts {
        let c = df.column(name).unwrap().cast(&dtype).unwrap();
        df.with_column(c).unwrap();
    }
    df
}

#[test]
fn frames_survive_checkpoint_encoding_exactly() {
    let df = every_type();
    let frame = Frame::new(df.clone());
    let back: Frame = bincode::deserialize(&bincode::serialize(&frame).unwrap()).unwrap();
    assert_eq!(back.schema(), frame.schema());
    assert_eq!(back, frame);
    // Bit patterns too: a NaN payload and -0.0 are kept.
    let bits = |f: &Frame, c: &str| -> Vec<Option<u64>> {
        f.column(c)
            .unwrap()
            .cast(&DataType::Float64)
            .unwrap()
            .f64()
            .unwrap()
            .iter()
            .map(|x| x.map(f64::to_bits))
            .collect()
    };
    assert_eq!(bits(&back, "f64"), bits(&frame, "f64"));
    assert_eq!(bits(&back, "f32"), bits(&frame, "f32"));
    // Self-describing formats carry the bytes as an array.
    let json = serde_json::to_string(&frame).unwrap();
    assert_eq!(serde_json::from_str::<Frame>(&json).unwrap(), frame);
    // Empty frames keep their schema.
    let empty = Frame::new(df.clear());
    let back: Frame = bincode::deserialize(&bincode::serialize(&empty).unwrap()).unwrap();
    assert_eq!((back.height(), back.schema()), (0, empty.schema()));
    // Garbage is an error, not a panic.
    assert!(
        bincode::deserialize::<Frame>(&bincode::serialize(&vec![1_u8, 2, 3]).unwrap()).is_err()
    );
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
enum Kind {
    Passenger,
    Cargo,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Flight {
    carrier: String,
    flight: u32,
    seats: Option<u16>,
    delay: Option<f64>,
    distance: i64,
    tiny: i8,
    big: u64,
    ratio: f32,
    cancelled: bool,
    kind: Kind,
    day: String,
    initial: char,
}

fn flights_records() -> Vec<Flight> {
    (0..50_u32)
        .map(|i| Flight {
            carrier: ["AA", "UA", "DL"][i as usize % 3].to_string(),
            flight: 1000 + i,
            seats: (i % 4 != 0).then_some(150 + i as u16),
            delay: match i % 5 {
                0 => None,
                1 => Some(f64::NAN),
                _ => Some(f64::from(i) * 1.1 - 7.0),
            },
            distance: -(i as i64) * 1_000_000_007,
            tiny: -(i as i8),
            big: u64::MAX - u64::from(i),
            ratio: i as f32 / 3.0,
            cancelled: i % 7 == 0,
            kind: if i % 2 == 0 {
                Kind::Passenger
            } else {
                Kind::Cargo
            },
            day: format!("2013-01-{:02}", 1 + i % 28),
            initial: char::from(b'a' + (i % 26) as u8),
        })
        .collect()
}

#[test]
fn records_round_trip_through_frames_exactly() {
    let records = flights_records();
    let frame = frame_from_records(&records).unwrap();
    assert_eq!(frame.height(), 50);
    assert_eq!(frame.column("seats").unwrap().null_count(), 13);
    assert_eq!(frame.column("flight").unwrap().dtype(), &DataType::UInt32);
    assert_eq!(frame.column("kind").unwrap().dtype(), &DataType::String);
    let back: Vec<Flight> = records_from_frame(&frame).unwrap();
    // NaN != NaN: compare the delays' bits, the rest with ==.
    for (a, b) in back.iter().zip(&records) {
        assert_eq!(a.delay.map(f64::to_bits), b.delay.map(f64::to_bits));
        assert_eq!(
            Flight {
                delay: None,
                ..a.clone()
            },
            Flight {
                delay: None,
                ..b.clone()
            }
        );
    }
    // With a schema: the day becomes a Date column, and reads back as the same string.
    let mut schema = frame.schema().as_ref().clone();
    schema.insert("day".into(), DataType::Date);
    let typed = spate_frame::frame_from_records_with(&records, &schema).unwrap();
    assert_eq!(typed.column("day").unwrap().dtype(), &DataType::Date);
    let back: Vec<Flight> = records_from_frame(&typed).unwrap();
    assert_eq!(
        back.iter().map(|f| &f.day).collect::<Vec<_>>(),
        records.iter().map(|f| &f.day).collect::<Vec<_>>()
    );
    // Tuples are records too.
    let pairs = vec![("a".to_string(), 1_u64), ("b".to_string(), 2)];
    let frame = frame_from_records(&pairs).unwrap();
    assert_eq!(records_from_frame::<(String, u64)>(&frame).unwrap(), pairs);
    // Nested fields are an error, not a panic.
    #[derive(Serialize)]
    struct Nested {
        v: Vec<u8>,
    }
    assert!(matches!(
        frame_from_records(&[Nested { v: vec![1] }]),
        Err(spate_frame::FrameError::Records(_))
    ));
    // A null in a non-Option field is an error naming the column.
    let err =
        records_from_frame::<(String, u64)>(&df!("0" => ["a"], "1" => [None::<u64>]).unwrap())
            .unwrap_err();
    assert!(err.to_string().contains("column `1`"), "{err}");
}

#[test]
fn typed_streams_become_frame_streams_and_back() {
    let records = flights_records();
    let ssc = context(2);
    let schema = frame_from_records(&records)
        .unwrap()
        .schema()
        .as_ref()
        .clone();
    let stream = ssc
        .source_stream(spate_core::stream::ReplaySource::new(vec![
            records[..20].to_vec(),
            Vec::new(),
            records[20..].to_vec(),
        ]))
        .unwrap();
    let frames = stream.to_frames(schema);
    let back = frames.to_records::<Flight>();
    let got = Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = Arc::clone(&got);
    back.foreach_rdd(move |rdd, _| {
        sink.lock().unwrap().extend(rdd.collect()?);
        Ok(())
    })
    .unwrap();
    run(&ssc);
    let got = got.lock().unwrap();
    assert_eq!(got.len(), records.len());
    for (a, b) in got.iter().zip(&records) {
        assert_eq!(a.flight, b.flight);
        assert_eq!(a.delay.map(f64::to_bits), b.delay.map(f64::to_bits));
    }
}

/// A windowed incremental query, checkpointed every batch, stopped midway and restored: the
/// restored run's windows equal an uninterrupted run's. The window state (partials, panes)
/// and the frames went through the checkpoint.
#[test]
fn windowed_frames_recover_from_a_checkpoint_exactly() {
    let mut rng = Rng::new(5);
    let batches: Vec<Vec<DataFrame>> = (0..10).map(|_| vec![flights(&mut rng, 50, true)]).collect();
    let schema = batches[0][0].schema().as_ref().clone();
    let query = "SELECT carrier, count(*) AS n, avg(arr_delay) AS a, min(dep_delay) AS lo FROM batch GROUP BY carrier";
    let build = |dir: &std::path::Path, stop_after: Option<u64>| {
        let (b, s) = (batches.clone(), schema.clone());
        let out = Arc::new(std::sync::Mutex::new(None));
        let handle = Arc::clone(&out);
        let ssc = StreamingContext::get_or_create(dir, CheckpointConfig::every(1), move || {
            let ssc = context(2);
            let frames = replay(&ssc, b, &s);
            let w = Window::new(Duration::from_secs(4), Duration::from_secs(1));
            let recompute = frames
                .window(w)
                .frames()
                .unwrap()
                .sql(SqlQuery::new(query))
                .unwrap();
            let incremental = frames.window(w).sql(SqlQuery::new(query)).unwrap();
            *handle.lock().unwrap() = Some((collect(&incremental), collect(&recompute)));
            Ok(ssc)
        })
        .unwrap();
        ssc.start().unwrap();
        if let Some(n) = stop_after {
            ssc.stop_after(spate_core::BatchTime(n * 1000));
        }
        ssc.await_termination().unwrap();
        let outs = out.lock().unwrap().take().unwrap();
        (
            outs.0.lock().unwrap().clone(),
            outs.1.lock().unwrap().clone(),
        )
    };
    let whole = tempfile::tempdir().unwrap();
    let (want, recomputed) = build(whole.path(), None);
    assert_eq!(want.len(), 10);
    for ((t, a), (_, b)) in want.iter().zip(&recomputed) {
        assert_frames_eq(
            &sorted(a),
            &sorted(b),
            1e-9,
            &format!("incremental vs recompute at {t}"),
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let (first, _) = build(dir.path(), Some(5));
    let (rest, _) = build(dir.path(), None);
    let mut got: Vec<_> = first
        .into_iter()
        .filter(|(t, _)| t.millis() <= 5000)
        .collect();
    got.extend(rest);
    assert_eq!(got.len(), 10);
    for ((t, a), (u, b)) in got.iter().zip(&want) {
        assert_eq!(t, u);
        assert_frames_eq(
            &sorted(a),
            &sorted(b),
            0.0,
            &format!("restored window at {t}"),
        );
    }
}
