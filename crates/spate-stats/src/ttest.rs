//! Streaming A/B significance testing, after Spark's `StreamingTest`.

use crate::error::StatsError;
use crate::moments::Moments;
use serde::{Deserialize, Serialize};
use spate_core::{Merge, Retract};
use statrs::distribution::{ContinuousCDF, StudentsT};
use std::collections::VecDeque;

/// One observation: which group it belongs to and its value (Spark's `BinarySample`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BinarySample {
    /// `true` for the experiment (treatment) group, `false` for control.
    pub is_experiment: bool,
    /// The measured value.
    pub value: f64,
}

/// Which two-sample t-test to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum TestMethod {
    /// Welch's unequal-variances t-test (Spark's `"welch"`, the default).
    #[default]
    Welch,
    /// Student's pooled-variance t-test (Spark's `"student"`).
    Student,
}

/// Outcome of one test (Spark's `StreamingTestResult`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TestResult {
    /// Two-sided p-value for "the two groups have the same mean".
    pub p_value: f64,
    /// Degrees of freedom (Welch–Satterthwaite for Welch).
    pub degrees_of_freedom: f64,
    /// `(mean_control − mean_experiment) / standard error`.
    pub statistic: f64,
    /// The test that produced it.
    pub method: TestMethod,
}

/// Per-group moments of a batch (or of several merged partitions of one).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct GroupSummary {
    /// Control group (`is_experiment == false`).
    pub control: Moments,
    /// Experiment group.
    pub experiment: Moments,
}

impl GroupSummary {
    /// Summarize a slice of samples. NaN and ±∞ values are skipped and counted per group.
    pub fn from_samples(batch: &[BinarySample]) -> Self {
        let mut s = GroupSummary::default();
        s.control
            .update_iter(batch.iter().filter(|b| !b.is_experiment).map(|b| b.value));
        s.experiment
            .update_iter(batch.iter().filter(|b| b.is_experiment).map(|b| b.value));
        s
    }

    /// Run `method` on the two groups; `None` while either group has fewer than two values or
    /// both variances are zero.
    pub fn test(&self, method: TestMethod) -> Option<TestResult> {
        match method {
            TestMethod::Welch => welch_t_test(&self.control, &self.experiment),
            TestMethod::Student => student_t_test(&self.control, &self.experiment),
        }
    }
}

/// Group-wise merge: commutative, see [`Moments`].
impl Merge for GroupSummary {
    fn merge(&mut self, other: &Self) {
        self.control.merge(&other.control);
        self.experiment.merge(&other.experiment);
    }
}

/// Group-wise retraction, see [`Moments`].
impl Retract for GroupSummary {
    fn retract(&mut self, other: &Self) {
        self.control.retract(&other.control);
        self.experiment.retract(&other.experiment);
    }
}

fn var_n(m: &Moments) -> Option<(f64, f64)> {
    Some((m.sample_variance()?, m.count() as f64))
}

/// `mean(a) − mean(b)` without first rounding each mean to `f64`.
fn mean_difference(a: &Moments, b: &Moments) -> Option<f64> {
    Some((a.mean_dd()? - b.mean_dd()?).to_f64())
}

fn two_sided(statistic: f64, df: f64, method: TestMethod) -> Option<TestResult> {
    if !(statistic.is_finite() && df.is_finite() && df > 0.0) {
        return None;
    }
    let t = StudentsT::new(0.0, 1.0, df).ok()?;
    Some(TestResult {
        p_value: (2.0 * t.sf(statistic.abs())).min(1.0),
        degrees_of_freedom: df,
        statistic,
        method,
    })
}

/// Welch's t-test of `a` against `b` (scipy's `ttest_ind(a, b, equal_var=False)`); `None`
/// while either has fewer than two values or the standard error is zero.
pub fn welch_t_test(a: &Moments, b: &Moments) -> Option<TestResult> {
    let (va, na) = var_n(a)?;
    let (vb, nb) = var_n(b)?;
    let (qa, qb) = (va / na, vb / nb);
    let se2 = qa + qb;
    if se2 <= 0.0 {
        return None;
    }
    let df = se2 * se2 / (qa * qa / (na - 1.0) + qb * qb / (nb - 1.0));
    two_sided(mean_difference(a, b)? / se2.sqrt(), df, TestMethod::Welch)
}

/// Student's pooled-variance t-test (scipy's `ttest_ind(a, b, equal_var=True)`); `None`
/// while either has fewer than two values or the pooled variance is zero.
pub fn student_t_test(a: &Moments, b: &Moments) -> Option<TestResult> {
    let (va, na) = var_n(a)?;
    let (vb, nb) = var_n(b)?;
    let df = na + nb - 2.0;
    let pooled = ((na - 1.0) * va + (nb - 1.0) * vb) / df;
    let se2 = pooled * (1.0 / na + 1.0 / nb);
    if se2 <= 0.0 {
        return None;
    }
    two_sided(mean_difference(a, b)? / se2.sqrt(), df, TestMethod::Student)
}

/// Checked parameters for [`StreamingTest`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamingTestParams {
    peace_period: u64,
    window_size: usize,
    method: TestMethod,
}

impl StreamingTestParams {
    /// Number of initial batches to ignore entirely, e.g. while a new variant warms up
    /// (default 0).
    pub fn peace_period(mut self, batches: u64) -> Self {
        self.peace_period = batches;
        self
    }

    /// Number of most recent batches to test over; 0 (the default) means all history.
    pub fn window_size(mut self, batches: usize) -> Self {
        self.window_size = batches;
        self
    }

    /// The test to run (default Welch).
    pub fn method(mut self, method: TestMethod) -> Self {
        self.method = method;
        self
    }

    /// Validate the parameters.
    pub fn build(self) -> Result<StreamingTest, StatsError> {
        crate::count_min::check_size("window_size", self.window_size, 0, 1 << 24)?;
        Ok(StreamingTest {
            params: self,
            batches_seen: 0,
            window: VecDeque::new(),
            current: GroupSummary::default(),
        })
    }
}

/// A two-sample t-test over a stream of batches, with Spark `StreamingTest`'s semantics: the
/// first `peace_period` batches are dropped; after that each batch yields a test over either
/// all batches since the peace period (`window_size == 0`) or the last `window_size` batches.
///
/// The per-batch work splits in two, so it runs the same on any runtime:
/// [`GroupSummary::from_samples`] per partition (mergeable, [`Merge`]), then
/// [`apply`](Self::apply) once per batch, in batch order. The window is kept with
/// [`Retract`]: O(1) per batch, and exact to ≈1e-30 (see [`Moments`]).
///
/// This is a sequential, ordered state (it counts batches), so it is not itself [`Merge`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamingTest {
    #[serde(with = "params_serde")]
    params: StreamingTestParams,
    batches_seen: u64,
    window: VecDeque<GroupSummary>,
    current: GroupSummary,
}

mod params_serde {
    use super::{StreamingTestParams, TestMethod};
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Serialize, Deserialize)]
    struct Raw {
        peace_period: u64,
        window_size: usize,
        method: TestMethod,
    }

    pub(super) fn serialize<S: Serializer>(
        p: &StreamingTestParams,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        Raw {
            peace_period: p.peace_period,
            window_size: p.window_size,
            method: p.method,
        }
        .serialize(s)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<StreamingTestParams, D::Error> {
        let r = Raw::deserialize(d)?;
        Ok(StreamingTestParams {
            peace_period: r.peace_period,
            window_size: r.window_size,
            method: r.method,
        })
    }
}

impl StreamingTest {
    /// Start configuring.
    pub fn params() -> StreamingTestParams {
        StreamingTestParams {
            peace_period: 0,
            window_size: 0,
            method: TestMethod::Welch,
        }
    }

    /// Batches applied so far, including those of the peace period.
    pub fn batches_seen(&self) -> u64 {
        self.batches_seen
    }

    /// The summary the current test runs over.
    pub fn summary(&self) -> &GroupSummary {
        &self.current
    }

    /// Account for one batch (the merged summary of all its partitions) and test. `None`
    /// during the peace period and while a group has fewer than two values.
    pub fn apply(&mut self, batch: GroupSummary) -> Option<TestResult> {
        self.batches_seen += 1;
        if self.batches_seen <= self.params.peace_period {
            return None;
        }
        self.current.merge(&batch);
        if self.params.window_size > 0 {
            self.window.push_back(batch);
            if self.window.len() > self.params.window_size
                && let Some(old) = self.window.pop_front()
            {
                self.current.retract(&old);
            }
        }
        self.current.test(self.params.method)
    }

    /// [`apply`](Self::apply) to a batch given as samples.
    pub fn update(&mut self, batch: &[BinarySample]) -> Option<TestResult> {
        self.apply(GroupSummary::from_samples(batch))
    }
}
