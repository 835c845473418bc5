//! `RateSource` and the re-exported queue source.

use spate_core::BatchTime;
use spate_io::{QueueSource, RateSource, Source};
use std::time::Duration;

fn records<T: spate_core::Data>(source: &mut impl Source<Item = T>, max: Option<u64>) -> Vec<T> {
    source.next_batch(BatchTime(0), max).unwrap().records
}

#[test]
fn emits_a_fixed_count_per_batch_honours_max_records_and_the_limit() {
    let mut source = RateSource::new(4, |i| format!("r{i}")).limit(10);
    assert_eq!(records(&mut source, None), ["r0", "r1", "r2", "r3"]);
    assert_eq!(records(&mut source, Some(2)), ["r4", "r5"]);
    assert_eq!(records(&mut source, None), ["r6", "r7", "r8", "r9"]);
    assert!(source.is_exhausted());
    assert!(records(&mut source, None).is_empty());
    assert!(!RateSource::new(1, |i| i).is_exhausted());
}

#[test]
fn replays_from_its_offset() {
    let mut first = RateSource::per_second(2.5, Duration::from_secs(1), |i| i).unwrap();
    records(&mut first, None);
    records(&mut first, None);
    let offset = first.offset().unwrap();
    let mut second = RateSource::per_second(2.5, Duration::from_secs(1), |i| i).unwrap();
    second.seek(&offset).unwrap();
    for _ in 0..5 {
        assert_eq!(records(&mut second, None), records(&mut first, None));
    }
    assert_eq!(second.emitted(), 17); // 2, 3, 2, 3, 2, 3, 2
    assert!(RateSource::per_second(0.0, Duration::from_secs(1), |i| i).is_err());
}

#[test]
fn the_queue_source_is_reexported() {
    let (handle, mut source) = QueueSource::<u32>::new(true);
    handle.push(vec![1, 2]);
    handle.close();
    assert_eq!(records(&mut source, None), [1, 2]);
    assert!(source.is_exhausted());
}
