//! `train_on` / `predict_on` on DStreams: the model after a stream equals the model after
//! `learn_one` over the same records in order, on any number of partitions and threads.

use crate::data::elec2;
use spate_core::SpateContext;
use spate_core::stream::{FastForwardClock, StreamingContext};
use spate_learn::{
    AnomalyDetector, Classifier, HalfSpaceTrees, HoeffdingTree, StreamClassifier, StreamDetector,
    TrainOn,
};
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn context(sc: &SpateContext) -> StreamingContext {
    StreamingContext::builder(sc)
        .batch_interval(Duration::from_secs(1))
        .clock(FastForwardClock::new())
        .build()
        .unwrap()
}

#[test]
fn train_on_equals_learning_the_records_in_order() {
    let data = elec2();
    let records: Vec<(Vec<f64>, usize)> =
        data.x.iter().cloned().zip(data.y.iter().copied()).collect();
    let mut sequential = HoeffdingTree::params(6).grace_period(50.0).build().unwrap();
    for (x, y) in &records {
        sequential.learn_one(x, *y).unwrap();
    }
    let local = spate_local::local_context_with_threads(2).unwrap();
    for sc in [
        SpateContext::sequential(1),
        SpateContext::sequential(3),
        local,
    ] {
        let ssc = context(&sc);
        let (queue, stream) = ssc.queue_stream::<(Vec<f64>, usize)>(true).unwrap();
        let tree = HoeffdingTree::params(6).grace_period(50.0).build().unwrap();
        let trained = StreamClassifier::new(tree, 500)
            .unwrap()
            .train_on(&stream)
            .unwrap();
        let predictions = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&predictions);
        trained
            .predict_on(&stream.map(|(x, _)| x))
            .foreach_rdd(move |rdd, _| {
                sink.lock().unwrap().push(rdd.collect()?);
                Ok(())
            })
            .unwrap();
        for chunk in records.chunks(700) {
            queue.push(chunk.to_vec());
        }
        queue.close();
        ssc.start().unwrap();
        ssc.await_termination().unwrap();
        let learner = trained.latest_model();
        let streamed = learner.model();
        assert_eq!(streamed.splits(), sequential.splits());
        for x in data.x.iter().step_by(97) {
            assert_eq!(
                streamed.predict_proba_one(x).unwrap(),
                sequential.predict_proba_one(x).unwrap()
            );
        }
        let eval = learner.evaluation();
        assert_eq!(
            eval.overall().count() + eval.unpredicted(),
            records.len() as u64
        );
        // Batch predictions use the model before the batch: the first batch has none.
        let predictions = predictions.lock().unwrap();
        assert_eq!(predictions.len(), 6);
        assert!(predictions[0].is_empty());
        assert_eq!(predictions[1].len(), 700);
    }
}

#[test]
fn a_detector_scores_every_record_before_learning_it() {
    let ssc = context(&SpateContext::sequential(2));
    let (queue, stream) = ssc.queue_stream::<(Vec<f64>, Option<bool>)>(true).unwrap();
    let hst = HalfSpaceTrees::params(2)
        .window_size(25)
        .seed(5)
        .build()
        .unwrap();
    let trained = StreamDetector::new(hst.clone(), 100)
        .unwrap()
        .train_on(&stream)
        .unwrap();
    let scores = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&scores);
    trained
        .foreach_report(move |_, report, _| {
            sink.lock().unwrap().extend(report.scores.iter().copied());
            Ok(())
        })
        .unwrap();
    let records: Vec<(Vec<f64>, Option<bool>)> = (0..300)
        .map(|i| {
            let odd = i % 50 == 49;
            let x = if odd {
                vec![0.97, 0.03]
            } else {
                vec![0.4 + f64::from(i % 10) / 50.0, 0.5]
            };
            (x, if i % 3 == 0 { None } else { Some(odd) })
        })
        .collect();
    for chunk in records.chunks(64) {
        queue.push(chunk.to_vec());
    }
    queue.close();
    ssc.start().unwrap();
    ssc.await_termination().unwrap();
    let mut reference = hst;
    let mut expected = Vec::new();
    for (x, _) in &records {
        expected.push(reference.score_one(x).unwrap());
        reference.learn_one(x).unwrap();
    }
    assert_eq!(*scores.lock().unwrap(), expected);
    let auc = trained.latest_model().evaluation().overall().get();
    assert!(auc > 0.9, "{auc}");
}
