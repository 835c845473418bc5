//! Pieces shared by the streaming regressions.

use crate::error::{MlError, Result};
use ndarray::{Array1, ArrayView1, ArrayView2};

/// One partition of labelled data: features (one row per example) and targets.
pub type Labeled<'a> = (ArrayView2<'a, f64>, ArrayView1<'a, f64>);

pub(crate) fn check_labeled(
    x: ArrayView2<'_, f64>,
    y: ArrayView1<'_, f64>,
    dim: usize,
) -> Result<()> {
    if x.ncols() != dim {
        return Err(MlError::DimensionMismatch {
            expected: dim,
            found: x.ncols(),
        });
    }
    if x.nrows() != y.len() {
        return Err(MlError::LengthMismatch {
            rows: x.nrows(),
            targets: y.len(),
        });
    }
    Ok(())
}

/// Call `f` on every row whose features and target are finite and whose target `accept`s,
/// in order (or newest first when `reverse`); returns how many rows were skipped.
pub(crate) fn for_each_valid_row(
    x: ArrayView2<'_, f64>,
    y: ArrayView1<'_, f64>,
    reverse: bool,
    accept: impl Fn(f64) -> bool,
    mut f: impl FnMut(&[f64], f64),
) -> u64 {
    let d = x.ncols();
    if d == 0 {
        return 0;
    }
    let x = x.as_standard_layout();
    let rows = x
        .as_slice()
        .expect("standard layout is contiguous")
        .chunks_exact(d);
    let mut skipped = 0;
    let mut visit = |row: &[f64], yi: f64| {
        if yi.is_finite() && accept(yi) && row.iter().all(|v| v.is_finite()) {
            f(row, yi);
        } else {
            skipped += 1;
        }
    };
    if reverse {
        rows.rev()
            .zip(y.iter().rev())
            .for_each(|(row, &yi)| visit(row, yi));
    } else {
        rows.zip(y.iter()).for_each(|(row, &yi)| visit(row, yi));
    }
    skipped
}

/// [`for_each_valid_row`] newest row first, any finite target.
pub(crate) fn for_each_valid_row_rev(
    x: ArrayView2<'_, f64>,
    y: ArrayView1<'_, f64>,
    f: impl FnMut(&[f64], f64),
) -> u64 {
    for_each_valid_row(x, y, true, |_| true, f)
}

#[inline]
pub(crate) fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(a, b)| a * b).sum()
}

/// `x·w + b` per row (NaN propagates from non-finite features).
pub(crate) fn predict_linear(x: ArrayView2<'_, f64>, w: &[f64], b: f64) -> Result<Array1<f64>> {
    if x.ncols() != w.len() {
        return Err(MlError::DimensionMismatch {
            expected: w.len(),
            found: x.ncols(),
        });
    }
    Ok(x.rows()
        .into_iter()
        .map(|row| row.iter().zip(w).map(|(a, b)| a * b).sum::<f64>() + b)
        .collect())
}
