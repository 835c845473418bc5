//! Online machine learning for Spate: streaming k-means and streaming regression.
