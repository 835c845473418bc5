//! Bad records are typed errors that leave the model unchanged; batch calls skip and count
//! them; absurd parameters are rejected before any data flows.

use ndarray::array;
use spate_learn::{
    AnomalyDetector, Classifier, GaussianNb, HalfSpaceTrees, HoeffdingTree, LearnError,
    MultinomialNb, OneHotEncoder, PassiveAggressive, Prequential, SoftmaxRegression,
};

fn models() -> Vec<Box<dyn Classifier>> {
    vec![
        Box::new(SoftmaxRegression::params(2).build().unwrap()),
        Box::new(GaussianNb::new(2).unwrap()),
        Box::new(MultinomialNb::params(2).build().unwrap()),
        Box::new(PassiveAggressive::params(2).build().unwrap()),
        Box::new(HoeffdingTree::params(2).build().unwrap()),
    ]
}

#[test]
fn bad_records_are_rejected_without_changing_the_model() {
    for mut m in models() {
        m.learn_one(&[1.0, 2.0], 0).unwrap();
        m.learn_one(&[2.0, 1.0], 1).unwrap();
        let before = m.predict_proba_one(&[1.5, 1.5]).unwrap();
        assert!(matches!(
            m.learn_one(&[1.0], 0),
            Err(LearnError::DimensionMismatch {
                expected: 2,
                found: 1
            })
        ));
        assert!(matches!(
            m.learn_one(&[f64::NAN, 1.0], 0),
            Err(LearnError::NonFiniteFeature { column: 0, .. })
        ));
        assert!(matches!(
            m.learn_one(&[1.0, f64::INFINITY], 0),
            Err(LearnError::NonFiniteFeature { column: 1, .. })
        ));
        assert!(matches!(
            m.learn_one(&[1.0, 1.0], 5_000),
            Err(LearnError::LabelOutOfRange { label: 5_000, .. })
        ));
        assert!(m.predict_proba_one(&[f64::NAN, 0.0]).is_err());
        assert!(matches!(
            m.predict_proba_into(&[1.0, 1.0], &mut [0.0; 5]),
            Err(LearnError::LengthMismatch { .. })
        ));
        assert_eq!(m.predict_proba_one(&[1.5, 1.5]).unwrap(), before);
        // Extreme magnitudes: finite in, finite probabilities out.
        let p = m.predict_proba_one(&[1e300, -1e300]).unwrap();
        assert!(p.iter().all(|v| v.is_finite()), "{p:?}");
    }
}

#[test]
fn batches_skip_and_count_bad_rows() {
    let mut nb = GaussianNb::new(2).unwrap();
    let x = array![[1.0, 2.0], [f64::NAN, 1.0], [3.0, 4.0], [0.0, 0.0]];
    let report = nb.learn_many(x.view(), &[0, 0, 1, 9999]).unwrap();
    assert_eq!((report.learned, report.skipped), (2, 2));
    assert!(matches!(
        nb.learn_many(x.view(), &[0, 1]),
        Err(LearnError::LengthMismatch { .. })
    ));
    let wide = array![[1.0, 2.0, 3.0]];
    assert!(matches!(
        nb.learn_many(wide.view(), &[0]),
        Err(LearnError::DimensionMismatch { .. })
    ));
    let mut mnb = MultinomialNb::params(2).build().unwrap();
    assert!(matches!(
        mnb.learn_one(&[1.0, -2.0], 0),
        Err(LearnError::NegativeCount { column: 1, .. })
    ));
    // A column view (not contiguous) learns the same as the contiguous copy.
    let t = array![[1.0, 3.0], [2.0, 4.0]];
    let mut a = GaussianNb::new(2).unwrap();
    let mut b = GaussianNb::new(2).unwrap();
    a.learn_many(t.t(), &[0, 1]).unwrap();
    b.learn_many(t.t().to_owned().view(), &[0, 1]).unwrap();
    assert_eq!(
        a.predict_proba_one(&[1.5, 2.5]).unwrap(),
        b.predict_proba_one(&[1.5, 2.5]).unwrap()
    );
}

#[test]
fn absurd_parameters_fail_at_build() {
    assert!(SoftmaxRegression::params(0).build().is_err());
    assert!(
        SoftmaxRegression::params(2)
            .learning_rate(-1.0)
            .build()
            .is_err()
    );
    assert!(
        SoftmaxRegression::params(2)
            .learning_rate(f64::NAN)
            .build()
            .is_err()
    );
    assert!(SoftmaxRegression::params(2).max_classes(1).build().is_err());
    assert!(MultinomialNb::params(2).alpha(0.0).build().is_err());
    assert!(PassiveAggressive::params(2).c(0.0).build().is_err());
    assert!(HoeffdingTree::params(2).delta(1.5).build().is_err());
    assert!(HoeffdingTree::params(2).grace_period(0.0).build().is_err());
    assert!(HoeffdingTree::params(2).max_depth(0).build().is_err());
    assert!(HalfSpaceTrees::params(2).height(40).build().is_err());
    assert!(HalfSpaceTrees::params(2).window_size(0).build().is_err());
    assert!(
        HalfSpaceTrees::params(2)
            .limits(vec![(0.0, 1.0), (1.0, 1.0)])
            .build()
            .is_err()
    );
    assert!(
        HalfSpaceTrees::params(2)
            .limits(vec![(0.0, 1.0)])
            .build()
            .is_err()
    );
    assert!(Prequential::new(0).is_err());
    assert!(OneHotEncoder::new(&["a"], 0).is_err());
    assert!(OneHotEncoder::new(&[], 3).is_err());
}

#[test]
fn hst_scores_are_zero_until_the_first_window_and_then_in_range() {
    let mut hst = HalfSpaceTrees::params(2)
        .window_size(20)
        .seed(1)
        .build()
        .unwrap();
    for i in 0..19 {
        hst.learn_one(&[f64::from(i) / 20.0, 0.5]).unwrap();
        assert_eq!(hst.score_one(&[0.5, 0.5]).unwrap(), 0.0);
    }
    hst.learn_one(&[0.5, 0.5]).unwrap();
    for x in [[0.0, 0.0], [0.5, 0.5], [1.0, 1.0], [-5.0, 7.0]] {
        let s = hst.score_one(&x).unwrap();
        assert!((0.0..=1.0).contains(&s), "{s}");
    }
    assert!(hst.learn_one(&[0.5]).is_err());
}

#[test]
fn a_hoeffding_tree_stays_within_its_memory_budget() {
    // A budget far below what the tree wants: growth stops at the estimate, no panic.
    let mut tree = HoeffdingTree::params(4)
        .grace_period(20.0)
        .tau(0.5)
        .max_size_mib(0.002)
        .memory_estimate_period(500)
        .build()
        .unwrap();
    for i in 0..20_000u32 {
        let x = [
            f64::from(i % 97),
            f64::from(i % 89),
            f64::from(i % 83),
            f64::from(i % 79),
        ];
        tree.learn_one(&x, (i % 97 % 5) as usize).unwrap();
    }
    assert!(
        tree.size_bytes() < 4 * 2 * 1024,
        "{} bytes",
        tree.size_bytes()
    );
}
