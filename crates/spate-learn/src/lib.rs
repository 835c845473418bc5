//! Record-at-a-time online learning for Spate, after River: classifiers, anomaly detection,
//! online preprocessing that never looks ahead, and prequential evaluation.
//!
//! Where [`spate_ml`] follows Spark MLlib (mini-batch models whose per-partition summaries
//! merge), the learners here are sequential, as River's: every record updates the model the
//! next record sees, so the order of the stream matters and the result is River's result on
//! the same stream. Each learner is checked against River or scikit-learn on the same
//! records in the same order (see `tests/reference.rs` and `tests/fixtures/make_fixtures.py`).
//!
//! | learner | River / scikit-learn counterpart | trait |
//! |---|---|---|
//! | [`SoftmaxRegression`] | `linear_model.SoftmaxRegression` (SGD) | [`Classifier`] |
//! | [`GaussianNb`] | `naive_bayes.GaussianNB` | [`Classifier`] |
//! | [`MultinomialNb`] | `naive_bayes.MultinomialNB`, sklearn `MultinomialNB.partial_fit` | [`Classifier`] |
//! | [`HoeffdingTree`] | `tree.HoeffdingTreeClassifier` | [`Classifier`] |
//! | [`PassiveAggressive`] | `OneVsRestClassifier(linear_model.PAClassifier)` | [`Classifier`] |
//! | [`HalfSpaceTrees`] | `anomaly.HalfSpaceTrees` | [`AnomalyDetector`] |
//! | [`StandardScaler`], [`MinMaxScaler`] | `preprocessing.StandardScaler` / `MinMaxScaler` | [`Transformer`] |
//! | [`OneHotEncoder`], [`FeatureHasher`] | `preprocessing.OneHotEncoder`, sklearn `FeatureHasher` | — |
//! | [`Pipeline`] | `compose.Pipeline` | [`Classifier`] / [`AnomalyDetector`] |
//!
//! The API is River's — `learn_one`, `predict_one`, `predict_proba_one`, `score_one` — over
//! dense `&[f64]` records, with class labels as indices `0, 1, …` ([`LabelEncoder`] maps
//! names to them in order of first appearance). Beside it, `learn_many` /
//! `predict_proba_many` / `predict_many` / `score_many` run over contiguous `ndarray` rows
//! with no allocation per record, and [`StreamClassifier`] / [`StreamDetector`] give
//! `train_on` / `predict_on` on DStreams (through spate-ml's [`TrainOn`] / [`PredictOn`]).
//! [`Prequential`] scores test-then-train predictions (accuracy, macro F1, log-loss, ROC AUC,
//! confusion matrix) over the whole stream and a sliding window. Models save and load as
//! versioned JSON ([`Persist`]). Classifiers implement linfa's `Predict` (through
//! `PredictInplace`) and learn from a `linfa::Dataset` ([`LearnDataset`]); the parameter
//! builders of [`SoftmaxRegression`], [`MultinomialNb`], [`PassiveAggressive`] and
//! [`HoeffdingTree`] implement linfa's `FitWith` (start or continue training).
//!
//! Bad records are typed errors that leave the model unchanged (wrong width, NaN or
//! infinite features, negative counts, labels past the class limit); batch and stream
//! methods skip and count them. Parameters are checked by builders before any data flows.
//!
//! # Example
//!
//! Test-then-train over a stream, with a running scaler in front of a Hoeffding tree:
//!
//! ```
//! use spate_learn::{Classifier, HoeffdingTree, Pipeline, Prequential, Scaler, StandardScaler};
//!
//! let tree = HoeffdingTree::params(2).grace_period(100.0).build()?;
//! let mut model = Pipeline::new(tree).scaler(Scaler::Standard(StandardScaler::new(2)?))?;
//! let mut eval = Prequential::new(500)?;
//! for i in 0..3000u32 {
//!     let x = [f64::from(i % 97), f64::from(i % 13) * 1000.0];
//!     let y = usize::from(x[0] > 40.0);
//!     eval.update(y, &model.predict_proba_one(&x)?);
//!     model.learn_one(&x, y)?;
//! }
//! assert!(eval.window().accuracy() > 0.95);
//! # Ok::<(), spate_learn::LearnError>(())
//! ```
//!
//! # Where next
//!
//! [`HoeffdingTree`] for how closely River's tree is mirrored; [`persist`] for the file
//! format; [`StreamClassifier`] for DStreams; `spate classify` and `spate anomaly` for the
//! command line; `docs/benchmarks.md` for throughput against River.

mod encode;
mod error;
mod gaussian;
mod half_space;
mod hoeffding;
mod interop;
mod learner;
mod logistic;
mod naive_bayes;
mod passive_aggressive;
pub mod persist;
mod pipeline;
mod prequential;
mod scale;
mod stream;
mod stream_text;

pub use encode::{CategoricalEncoder, FeatureHasher, LabelEncoder, OneHotEncoder};
pub use error::{LearnError, Result};
pub use half_space::{HalfSpaceTrees, HalfSpaceTreesParams};
pub use hoeffding::{HoeffdingTree, HoeffdingTreeParams, LeafPrediction, SplitInfo};
pub use interop::{LearnDataset, NO_PREDICTION};
pub use learner::{AnomalyDetector, BatchReport, Classifier, DEFAULT_MAX_CLASSES};
pub use logistic::{SoftmaxParams, SoftmaxRegression};
pub use naive_bayes::{GaussianNb, MultinomialNb, MultinomialNbParams};
pub use passive_aggressive::{PaParams, PaVariant, PassiveAggressive};
pub use persist::Persist;
pub use pipeline::{Learner, Pipeline};
pub use prequential::{AnomalyEvaluation, ClassificationMetrics, Prequential, RocAuc};
pub use scale::{MinMaxScaler, Scaler, StandardScaler, Transformer};
pub use spate_ml::{PredictOn, TrainOn, TrainedModel};
pub use stream::{
    ClassifierReport, DetectorReport, Gathered, LabeledRows, SharedRows, StreamClassifier,
    StreamDetector,
};
pub use stream_text::{StreamTextClassifier, TextBlock, TextBlocks, TextRecord};
