//! Online machine learning for Spate: streaming k-means and streaming regression.

mod error;
mod kmeans;
mod online;

pub use error::{MlError, Result};
pub use kmeans::{
    ClusterSplit, Init, KMeansReport, KMeansStats, StreamingKMeans, StreamingKMeansParams, TimeUnit,
};
pub use online::{OnlineModel, Round};
