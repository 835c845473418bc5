//! String columns as numbers: one-hot encoding, feature hashing, and class labels.

use crate::error::{LearnError, Result, corrupt, invalid};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::io::Read;

fn check_values(values: &[&str], expected: usize) -> Result<()> {
    if values.len() != expected {
        return Err(LearnError::CategoricalMismatch {
            expected,
            found: values.len(),
        });
    }
    Ok(())
}

fn check_out(out: &[f64], expected: usize) -> Result<()> {
    if out.len() != expected {
        return Err(LearnError::DimensionMismatch {
            expected,
            found: out.len(),
        });
    }
    Ok(())
}

/// One-hot encoding of string columns that learns its categories online (River's
/// `preprocessing.OneHotEncoder`), into a fixed-width block for dense models.
///
/// Each column owns `max_categories` output slots, given to its categories in order of first
/// appearance. A category is only encoded once learnt: the encoder never looks ahead, so a
/// record transformed before it is learnt has zeros for a category not seen before. Past
/// `max_categories`, new categories of a column are counted in
/// [`overflow`](Self::overflow) and encode as all zeros (memory stays bounded on a column of
/// identifiers).
///
/// Differences from River: River's output grows a key per new category; here the width is
/// fixed up front, and a category first seen when predicting gets no slot (River emits a
/// fresh key with 1 for it).
///
/// ```
/// use spate_learn::OneHotEncoder;
///
/// let mut enc = OneHotEncoder::new(&["proto"], 4)?;
/// enc.learn_one(&["tcp"])?;
/// enc.learn_one(&["udp"])?;
/// assert_eq!(enc.transform_one(&["udp"])?, vec![0.0, 1.0, 0.0, 0.0]);
/// assert_eq!(enc.transform_one(&["icmp"])?, vec![0.0; 4]);
/// assert_eq!(enc.output_names()[1], "proto_udp");
/// # Ok::<(), spate_learn::LearnError>(())
/// ```
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(into = "OneHotState", try_from = "OneHotState")]
pub struct OneHotEncoder {
    columns: Vec<String>,
    max_categories: usize,
    categories: Vec<Vec<String>>,
    index: Vec<HashMap<String, usize>>,
    overflow: u64,
}

/// What a [`OneHotEncoder`] saves: the lookup tables are rebuilt on load.
#[derive(Serialize, Deserialize)]
struct OneHotState {
    columns: Vec<String>,
    max_categories: usize,
    categories: Vec<Vec<String>>,
    overflow: u64,
}

impl From<OneHotEncoder> for OneHotState {
    fn from(e: OneHotEncoder) -> Self {
        OneHotState {
            columns: e.columns,
            max_categories: e.max_categories,
            categories: e.categories,
            overflow: e.overflow,
        }
    }
}

impl TryFrom<OneHotState> for OneHotEncoder {
    type Error = LearnError;

    fn try_from(s: OneHotState) -> Result<Self> {
        if s.columns.is_empty()
            || s.categories.len() != s.columns.len()
            || s.categories.iter().any(|c| c.len() > s.max_categories)
            || s.max_categories == 0
        {
            return Err(corrupt(
                "OneHotEncoder",
                "categories do not fit the columns",
            ));
        }
        let index: Vec<HashMap<String, usize>> = s
            .categories
            .iter()
            .map(|cats| {
                cats.iter()
                    .enumerate()
                    .map(|(i, c)| (c.clone(), i))
                    .collect()
            })
            .collect();
        if index
            .iter()
            .zip(&s.categories)
            .any(|(m, c)| m.len() != c.len())
        {
            return Err(corrupt("OneHotEncoder", "a category is listed twice"));
        }
        Ok(OneHotEncoder {
            columns: s.columns,
            max_categories: s.max_categories,
            categories: s.categories,
            index,
            overflow: s.overflow,
        })
    }
}

impl OneHotEncoder {
    /// An encoder for the named string columns, with `max_categories` slots per column.
    ///
    /// # Errors
    /// [`LearnError::ZeroDimension`] for no column, [`LearnError::InvalidParameter`] for
    /// `max_categories` of 0 or over 65,536.
    pub fn new(columns: &[&str], max_categories: usize) -> Result<OneHotEncoder> {
        if columns.is_empty() {
            return Err(LearnError::ZeroDimension);
        }
        if max_categories == 0 || max_categories > 1 << 16 {
            return Err(invalid(
                "max_categories",
                max_categories,
                "between 1 and 65536",
            ));
        }
        Ok(OneHotEncoder {
            columns: columns.iter().map(|c| c.to_string()).collect(),
            max_categories,
            categories: vec![Vec::new(); columns.len()],
            index: vec![HashMap::new(); columns.len()],
            overflow: 0,
        })
    }

    /// The string columns encoded.
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// Output width: `columns × max_categories`.
    pub fn n_outputs(&self) -> usize {
        self.columns.len() * self.max_categories
    }

    /// Learnt categories of each column, in order of first appearance.
    pub fn categories(&self) -> &[Vec<String>] {
        &self.categories
    }

    /// New categories dropped because their column had no slot left.
    pub fn overflow(&self) -> u64 {
        self.overflow
    }

    /// The name of every output slot: `column_category`, or `column_#k` for a free slot.
    pub fn output_names(&self) -> Vec<String> {
        let mut names = Vec::with_capacity(self.n_outputs());
        for (column, cats) in self.columns.iter().zip(&self.categories) {
            for k in 0..self.max_categories {
                names.push(match cats.get(k) {
                    Some(c) => format!("{column}_{c}"),
                    None => format!("{column}_#{k}"),
                });
            }
        }
        names
    }

    /// Learns the categories of one record.
    ///
    /// # Errors
    /// [`LearnError::CategoricalMismatch`].
    pub fn learn_one(&mut self, values: &[&str]) -> Result<()> {
        check_values(values, self.columns.len())?;
        for ((v, cats), index) in values.iter().zip(&mut self.categories).zip(&mut self.index) {
            if !index.contains_key(*v) {
                if cats.len() < self.max_categories {
                    index.insert(v.to_string(), cats.len());
                    cats.push(v.to_string());
                } else {
                    self.overflow += 1;
                }
            }
        }
        Ok(())
    }

    /// Encodes one record into `out` (width [`n_outputs`](Self::n_outputs)). Allocation-free.
    ///
    /// # Errors
    /// [`LearnError::CategoricalMismatch`], or a mismatched `out`.
    pub fn transform_into(&self, values: &[&str], out: &mut [f64]) -> Result<()> {
        check_values(values, self.columns.len())?;
        check_out(out, self.n_outputs())?;
        out.fill(0.0);
        for (j, (v, index)) in values.iter().zip(&self.index).enumerate() {
            if let Some(&k) = index.get(*v) {
                out[j * self.max_categories + k] = 1.0;
            }
        }
        Ok(())
    }

    /// Encodes one record.
    ///
    /// # Errors
    /// As [`transform_into`](Self::transform_into).
    pub fn transform_one(&self, values: &[&str]) -> Result<Vec<f64>> {
        let mut out = vec![0.0; self.n_outputs()];
        self.transform_into(values, &mut out)?;
        Ok(out)
    }
}

/// The hashing trick for string columns, as scikit-learn's `FeatureHasher` (and River's):
/// the token `column=value` is hashed with MurmurHash3 (x86, 32-bit, signed) into one of
/// `n_features` slots, adding ±1 (the sign from the hash when `alternate_sign`). Stateless:
/// nothing to learn, unbounded vocabularies in bounded width.
///
/// ```
/// use spate_learn::FeatureHasher;
///
/// let hasher = FeatureHasher::new(&["service"], 16)?;
/// let v = hasher.transform_one(&["http"])?;
/// assert_eq!(v.iter().filter(|x| **x != 0.0).count(), 1);
/// # Ok::<(), spate_learn::LearnError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureHasher {
    columns: Vec<String>,
    n_features: usize,
    seed: u32,
    alternate_sign: bool,
}

impl FeatureHasher {
    /// A hasher of the named columns into `n_features` slots, seed 0 and alternating signs
    /// (scikit-learn's defaults).
    ///
    /// # Errors
    /// [`LearnError::ZeroDimension`] for no column, [`LearnError::InvalidParameter`] for
    /// `n_features` of 0 or over 2³¹ − 1.
    pub fn new(columns: &[&str], n_features: usize) -> Result<FeatureHasher> {
        if columns.is_empty() {
            return Err(LearnError::ZeroDimension);
        }
        if n_features == 0 || n_features > i32::MAX as usize {
            return Err(invalid("n_features", n_features, "between 1 and 2^31 - 1"));
        }
        Ok(FeatureHasher {
            columns: columns.iter().map(|c| c.to_string()).collect(),
            n_features,
            seed: 0,
            alternate_sign: true,
        })
    }

    /// The hash seed (0 is scikit-learn's).
    #[must_use]
    pub fn seed(mut self, seed: u32) -> Self {
        self.seed = seed;
        self
    }

    /// Whether the hash's sign bit negates half the contributions (default true), so that
    /// collisions cancel on average. Use false for count models (multinomial naive Bayes).
    #[must_use]
    pub fn alternate_sign(mut self, alternate: bool) -> Self {
        self.alternate_sign = alternate;
        self
    }

    /// The string columns hashed.
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// Output width.
    pub fn n_outputs(&self) -> usize {
        self.n_features
    }

    /// The slot and sign of one token `column=value`.
    pub fn slot(&self, column: &str, value: &str) -> (usize, f64) {
        let mut token = column.as_bytes().chain(&b"="[..]).chain(value.as_bytes());
        // Reading from byte slices cannot fail.
        let h = murmur3::murmur3_32(&mut token, self.seed).unwrap_or(0) as i32;
        let n = self.n_features as i64;
        let slot = if h == i32::MIN {
            (i64::from(i32::MAX) - (n - 1)) % n
        } else {
            i64::from(h).abs() % n
        };
        let sign = if self.alternate_sign && h < 0 {
            -1.0
        } else {
            1.0
        };
        (slot as usize, sign)
    }

    /// Hashes one record into `out` (width [`n_outputs`](Self::n_outputs)). Allocation-free.
    ///
    /// # Errors
    /// [`LearnError::CategoricalMismatch`], or a mismatched `out`.
    pub fn transform_into(&self, values: &[&str], out: &mut [f64]) -> Result<()> {
        check_values(values, self.columns.len())?;
        check_out(out, self.n_features)?;
        out.fill(0.0);
        for (column, value) in self.columns.iter().zip(values) {
            let (slot, sign) = self.slot(column, value);
            out[slot] += sign;
        }
        Ok(())
    }

    /// Hashes one record.
    ///
    /// # Errors
    /// As [`transform_into`](Self::transform_into).
    pub fn transform_one(&self, values: &[&str]) -> Result<Vec<f64>> {
        let mut out = vec![0.0; self.n_features];
        self.transform_into(values, &mut out)?;
        Ok(out)
    }

    pub(crate) fn validate(&self) -> Result<()> {
        if self.columns.is_empty() || self.n_features == 0 || self.n_features > i32::MAX as usize {
            return Err(corrupt("FeatureHasher", "no column or no slot"));
        }
        Ok(())
    }
}

/// How a [`Pipeline`](crate::Pipeline) turns string columns into numbers.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum CategoricalEncoder {
    /// [`OneHotEncoder`].
    OneHot(OneHotEncoder),
    /// [`FeatureHasher`].
    Hashing(FeatureHasher),
}

impl CategoricalEncoder {
    /// The string columns encoded.
    pub fn columns(&self) -> &[String] {
        match self {
            CategoricalEncoder::OneHot(e) => e.columns(),
            CategoricalEncoder::Hashing(e) => e.columns(),
        }
    }

    /// Output width.
    pub fn n_outputs(&self) -> usize {
        match self {
            CategoricalEncoder::OneHot(e) => e.n_outputs(),
            CategoricalEncoder::Hashing(e) => e.n_outputs(),
        }
    }

    /// Learns one record (a no-op for hashing).
    ///
    /// # Errors
    /// [`LearnError::CategoricalMismatch`].
    pub fn learn_one(&mut self, values: &[&str]) -> Result<()> {
        match self {
            CategoricalEncoder::OneHot(e) => e.learn_one(values),
            CategoricalEncoder::Hashing(e) => check_values(values, e.columns.len()),
        }
    }

    /// Encodes one record into `out`.
    ///
    /// # Errors
    /// [`LearnError::CategoricalMismatch`], or a mismatched `out`.
    pub fn transform_into(&self, values: &[&str], out: &mut [f64]) -> Result<()> {
        match self {
            CategoricalEncoder::OneHot(e) => e.transform_into(values, out),
            CategoricalEncoder::Hashing(e) => e.transform_into(values, out),
        }
    }

    pub(crate) fn validate(&self) -> Result<()> {
        match self {
            CategoricalEncoder::OneHot(_) => Ok(()),
            CategoricalEncoder::Hashing(e) => e.validate(),
        }
    }
}

/// Class names as the indices models learn, in order of first appearance (River keeps classes
/// in that order, so ties break the same way), up to a limit.
///
/// ```
/// use spate_learn::LabelEncoder;
///
/// let mut labels = LabelEncoder::new(10);
/// assert_eq!(labels.encode("normal.")?, 0);
/// assert_eq!(labels.encode("smurf.")?, 1);
/// assert_eq!(labels.encode("normal.")?, 0);
/// assert_eq!(labels.get("neptune."), None);
/// assert_eq!(labels.name(1), Some("smurf."));
/// # Ok::<(), spate_learn::LearnError>(())
/// ```
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(into = "Vec<String>", try_from = "Vec<String>")]
pub struct LabelEncoder {
    names: Vec<String>,
    index: HashMap<String, usize>,
    max_classes: usize,
}

impl From<LabelEncoder> for Vec<String> {
    fn from(l: LabelEncoder) -> Self {
        l.names
    }
}

impl TryFrom<Vec<String>> for LabelEncoder {
    type Error = LearnError;

    fn try_from(names: Vec<String>) -> Result<Self> {
        let index: HashMap<String, usize> = names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.clone(), i))
            .collect();
        if index.len() != names.len() {
            return Err(corrupt("LabelEncoder", "a class name is listed twice"));
        }
        let max_classes = names.len().max(crate::learner::DEFAULT_MAX_CLASSES);
        Ok(LabelEncoder {
            names,
            index,
            max_classes,
        })
    }
}

impl LabelEncoder {
    /// An encoder that accepts up to `max_classes` distinct names.
    pub fn new(max_classes: usize) -> LabelEncoder {
        LabelEncoder {
            names: Vec::new(),
            index: HashMap::new(),
            max_classes,
        }
    }

    /// The index of `name`, giving it the next index if it is new.
    ///
    /// # Errors
    /// [`LearnError::LabelOutOfRange`] when a new name would pass the limit.
    pub fn encode(&mut self, name: &str) -> Result<usize> {
        if let Some(&i) = self.index.get(name) {
            return Ok(i);
        }
        if self.names.len() >= self.max_classes {
            return Err(LearnError::LabelOutOfRange {
                label: self.names.len(),
                max_classes: self.max_classes,
            });
        }
        self.index.insert(name.to_string(), self.names.len());
        self.names.push(name.to_string());
        Ok(self.names.len() - 1)
    }

    /// The index of a known name.
    pub fn get(&self, name: &str) -> Option<usize> {
        self.index.get(name).copied()
    }

    /// The name of index `i`.
    pub fn name(&self, i: usize) -> Option<&str> {
        self.names.get(i).map(String::as_str)
    }

    /// Every name, by index.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Distinct names seen.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether no name was seen.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn murmur3_matches_known_values() {
        // scikit-learn: murmurhash3_32("a=b", seed=0) and ("", 0), ("hello", 0).
        let h = |s: &str| murmur3::murmur3_32(&mut s.as_bytes(), 0).unwrap() as i32;
        assert_eq!(h(""), 0);
        assert_eq!(h("hello"), 613_153_351);
    }

    #[test]
    fn one_hot_survives_a_round_trip() {
        let mut e = OneHotEncoder::new(&["a", "b"], 2).unwrap();
        e.learn_one(&["x", "y"]).unwrap();
        e.learn_one(&["z", "y"]).unwrap();
        e.learn_one(&["w", "v"]).unwrap();
        assert_eq!(e.overflow(), 1);
        let json = serde_json::to_string(&e).unwrap();
        let back: OneHotEncoder = serde_json::from_str(&json).unwrap();
        assert_eq!(
            back.transform_one(&["z", "v"]).unwrap(),
            vec![0., 1., 0., 1.]
        );
        assert!(
            serde_json::from_str::<OneHotEncoder>(
                r#"{"columns":["a"],"max_categories":1,"categories":[["x","y"]],"overflow":0}"#
            )
            .is_err()
        );
    }
}
