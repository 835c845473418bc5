//! Saving and loading models as versioned JSON files.
//!
//! # Format
//!
//! A model file is one JSON object:
//!
//! ```json
//! {"format": "spate-learn model", "version": 1, "model": "GaussianNb", "state": { … }}
//! ```
//!
//! - `format` identifies the file; anything else is [`LearnError::NotAModelFile`].
//! - `version` is the format version; a file from a newer version is
//!   [`LearnError::NewerFormat`], never a guess.
//! - `model` names the model type (`Pipeline(HoeffdingTree)` for a pipeline); loading it as
//!   another type is [`LearnError::WrongModel`].
//! - `state` is the model's own fields (its parameters and everything it learnt), checked on
//!   load: parts that do not fit together are [`LearnError::CorruptModel`], never a panic later.
//!
//! Files are written to a temporary file in the same directory, flushed and renamed, so a
//! crash leaves the old file or the new one, never half of one. JSON suits the small models
//! here (a few kilobytes to a few megabytes); floats round-trip exactly.

use crate::encode::{LabelEncoder, OneHotEncoder};
use crate::error::{LearnError, Result};
use crate::half_space::HalfSpaceTrees;
use crate::hoeffding::HoeffdingTree;
use crate::logistic::SoftmaxRegression;
use crate::naive_bayes::{GaussianNb, MultinomialNb};
use crate::passive_aggressive::PassiveAggressive;
use crate::pipeline::Pipeline;
use crate::prequential::{AnomalyEvaluation, Prequential};
use crate::scale::{MinMaxScaler, StandardScaler};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::Path;

/// The `format` field of every model file.
pub const FORMAT: &str = "spate-learn model";
/// The newest format version this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;

#[derive(Serialize)]
struct EnvelopeOut<'a, T> {
    format: &'a str,
    version: u32,
    model: String,
    state: &'a T,
}

#[derive(Deserialize)]
struct EnvelopeIn {
    format: Option<String>,
    version: Option<u32>,
    model: Option<String>,
    state: Option<serde_json::Value>,
}

/// A model that can be saved to and loaded from a versioned JSON file.
pub trait Persist: Serialize + DeserializeOwned {
    /// The model's name in files.
    fn model_name(&self) -> String;

    /// The name a file must carry to load as this type (for a pipeline: `Pipeline(` + the
    /// inner model's name + `)`); `None` accepts any.
    fn expected_name() -> Option<String>;

    /// Checks that the parts of a loaded model fit together.
    ///
    /// # Errors
    /// [`LearnError::CorruptModel`].
    fn validate(&self) -> Result<()>;

    /// The model as a JSON document in the [format](self).
    ///
    /// # Errors
    /// [`LearnError::Io`] if serialization fails (it does not for this crate's models).
    fn to_json(&self) -> Result<String> {
        serde_json::to_string(&EnvelopeOut {
            format: FORMAT,
            version: FORMAT_VERSION,
            model: self.model_name(),
            state: self,
        })
        .map_err(|e| LearnError::Io {
            path: "<json>".into(),
            message: e.to_string(),
        })
    }

    /// A model from a JSON document; `origin` names it in errors.
    ///
    /// # Errors
    /// [`LearnError::NotAModelFile`], [`LearnError::NewerFormat`], [`LearnError::WrongModel`]
    /// or [`LearnError::CorruptModel`].
    fn from_json(text: &str, origin: &Path) -> Result<Self> {
        let not_model = |reason: String| LearnError::NotAModelFile {
            path: origin.to_path_buf(),
            reason,
        };
        let envelope: EnvelopeIn =
            serde_json::from_str(text).map_err(|e| not_model(format!("not JSON: {e}")))?;
        match envelope.format.as_deref() {
            Some(FORMAT) => {}
            Some(other) => return Err(not_model(format!("its format is {other:?}"))),
            None => return Err(not_model("no \"format\" field".into())),
        }
        let version = envelope
            .version
            .ok_or_else(|| not_model("no \"version\" field".into()))?;
        if version > FORMAT_VERSION {
            return Err(LearnError::NewerFormat {
                path: origin.to_path_buf(),
                found: version,
                supported: FORMAT_VERSION,
            });
        }
        let found = envelope
            .model
            .ok_or_else(|| not_model("no \"model\" field".into()))?;
        if let Some(expected) = Self::expected_name()
            && expected != found
        {
            return Err(LearnError::WrongModel {
                path: origin.to_path_buf(),
                expected,
                found,
            });
        }
        let state = envelope
            .state
            .ok_or_else(|| not_model("no \"state\" field".into()))?;
        let model: Self = serde_json::from_value(state).map_err(|e| LearnError::CorruptModel {
            model: "model",
            reason: format!("{found}: {e}"),
        })?;
        model.validate()?;
        Ok(model)
    }

    /// Writes the model to `path` atomically (temporary file, flush, rename).
    ///
    /// # Errors
    /// [`LearnError::Io`].
    fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let io = |e: std::io::Error| LearnError::Io {
            path: path.to_path_buf(),
            message: e.to_string(),
        };
        let json = self.to_json()?;
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let mut file = spate_core::codec::output_tempfile(dir, ".tmp", "").map_err(io)?;
        file.write_all(json.as_bytes()).map_err(io)?;
        file.as_file().sync_all().map_err(io)?;
        file.persist(path).map_err(|e| io(e.error))?;
        Ok(())
    }

    /// Reads a model saved by [`save`](Self::save).
    ///
    /// # Errors
    /// [`LearnError::Io`], or as [`from_json`](Self::from_json).
    fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| LearnError::Io {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        Self::from_json(&text, path)
    }
}

macro_rules! persist {
    ($ty:ty, $name:literal) => {
        impl Persist for $ty {
            fn model_name(&self) -> String {
                $name.to_string()
            }

            fn expected_name() -> Option<String> {
                Some($name.to_string())
            }

            fn validate(&self) -> Result<()> {
                <$ty>::validate(self)
            }
        }
    };
}

persist!(SoftmaxRegression, "SoftmaxRegression");
persist!(GaussianNb, "GaussianNb");
persist!(MultinomialNb, "MultinomialNb");
persist!(PassiveAggressive, "PassiveAggressive");
persist!(HoeffdingTree, "HoeffdingTree");
persist!(HalfSpaceTrees, "HalfSpaceTrees");
persist!(StandardScaler, "StandardScaler");
persist!(MinMaxScaler, "MinMaxScaler");
persist!(Prequential, "Prequential");
persist!(AnomalyEvaluation, "AnomalyEvaluation");

impl Persist for OneHotEncoder {
    fn model_name(&self) -> String {
        "OneHotEncoder".into()
    }

    fn expected_name() -> Option<String> {
        Some("OneHotEncoder".into())
    }

    fn validate(&self) -> Result<()> {
        Ok(())
    }
}

impl Persist for LabelEncoder {
    fn model_name(&self) -> String {
        "LabelEncoder".into()
    }

    fn expected_name() -> Option<String> {
        Some("LabelEncoder".into())
    }

    fn validate(&self) -> Result<()> {
        Ok(())
    }
}

impl<M: Persist> Persist for Pipeline<M> {
    fn model_name(&self) -> String {
        format!("Pipeline({})", self.model().model_name())
    }

    fn expected_name() -> Option<String> {
        M::expected_name().map(|m| format!("Pipeline({m})"))
    }

    fn validate(&self) -> Result<()> {
        self.validate_parts()?;
        self.model().validate()
    }
}
