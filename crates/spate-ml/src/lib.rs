//! Online machine learning for Spate: streaming k-means and streaming regression.

mod error;
mod kmeans;
mod least_squares;
mod linalg;
mod metrics;
mod online;
mod regression;
mod sgd;

pub use error::{MlError, Result};
pub use kmeans::{
    ClusterSplit, Init, KMeansReport, KMeansStats, StreamingKMeans, StreamingKMeansParams, TimeUnit,
};
pub use least_squares::{
    LeastSquaresParams, LeastSquaresReport, LeastSquaresStats, StreamingLeastSquares,
};
pub use metrics::{ClassificationMetrics, RegressionMetrics};
pub use online::{OnlineModel, Round};
pub use regression::Labeled;
pub use sgd::{
    GradientStats, LogisticLoss, Loss, Regularizer, SgdParams, SgdReport, SquaredLoss,
    StreamingLinearRegressionWithSgd, StreamingLogisticRegressionWithSgd, StreamingSgd,
};
