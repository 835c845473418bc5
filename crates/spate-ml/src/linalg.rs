//! The little dense linear algebra the regressions need, so the crate needs no LAPACK.

/// Relative residual variance under which a column counts as a linear combination of the
/// columns already chosen (`1 − R² ≤ COLLINEAR`).
const COLLINEAR: f64 = 1e-11;

/// Binary exponents of largest magnitudes that least squares summarizes as they are: products
/// of two deviations (at least 2^-52 of the largest value when not zero) and their sums stay
/// finite, normal `f64`s. Columns beyond are scaled by a power of two first.
pub(crate) const UNSCALED_EXPONENTS: std::ops::RangeInclusive<i32> = -256..=256;

/// `x · 2^e`, exact unless the result under- or overflows.
#[inline]
pub(crate) fn scale_by(mut x: f64, mut e: i32) -> f64 {
    while e != 0 {
        let step = e.clamp(-1022, 1023);
        x *= f64::from_bits(((step + 1023) as u64) << 52);
        e -= step;
        if x == 0.0 || !x.is_finite() {
            break;
        }
    }
    x
}

/// The power-of-two scale for values whose largest magnitude is `largest`: 0 inside
/// [`UNSCALED_EXPONENTS`], else the binary exponent of `largest`.
pub(crate) fn scale_for(largest: f64) -> i32 {
    if largest == 0.0 || !largest.is_finite() {
        return 0;
    }
    let bits = largest.abs().to_bits();
    let biased = (bits >> 52) as i32;
    let e = if biased == 0 {
        -1074 + (63 - bits.leading_zeros() as i32)
    } else {
        biased - 1023
    };
    if UNSCALED_EXPONENTS.contains(&e) {
        0
    } else {
        e
    }
}

/// Solve `A w = b` for a symmetric positive semi-definite `d × d` matrix `A` (row-major, only
/// the upper triangle is read) by Cholesky with diagonal pivoting.
///
/// Pivoting picks the column with the largest residual variance relative to its own variance,
/// so the rank decision does not depend on the units of the features. Columns that are (close
/// to) linear combinations of the chosen ones get weight 0: the result is the basic solution
/// of a rank-deficient system. Returns the solution and the numerical rank.
pub(crate) fn solve_psd(a: &[f64], b: &[f64], d: usize) -> (Vec<f64>, usize) {
    let mut m: Vec<f64> = (0..d * d)
        .map(|idx| {
            let (i, j) = (idx / d, idx % d);
            if i <= j { a[idx] } else { a[j * d + i] }
        })
        .collect();
    let scale: Vec<f64> = (0..d).map(|i| m[i * d + i]).collect();
    let mut perm: Vec<usize> = (0..d).collect();
    let mut rank = 0;
    // Left-looking pivoted Cholesky on the permuted matrix; `m` holds L below the diagonal.
    for k in 0..d {
        let mut best = None;
        for i in k..d {
            let s = scale[perm[i]];
            if s > 0.0 {
                let rel = residual(&m, &perm, d, k, i) / s;
                if rel > COLLINEAR && best.is_none_or(|(_, r)| rel > r) {
                    best = Some((i, rel));
                }
            }
        }
        let Some((i, _)) = best else { break };
        perm.swap(k, i);
        let p = perm[k];
        let pivot = residual(&m, &perm, d, k, k).sqrt();
        m[p * d + p] = pivot;
        for &q in &perm[k + 1..] {
            let mut v = m[q * d + p];
            for l in 0..k {
                v -= m[q * d + perm[l]] * m[p * d + perm[l]];
            }
            m[q * d + p] = v / pivot;
        }
        rank += 1;
    }
    // Forward then back substitution on the leading `rank` pivots.
    let mut z = vec![0.0; rank];
    for k in 0..rank {
        let p = perm[k];
        let mut v = b[p];
        for l in 0..k {
            v -= m[p * d + perm[l]] * z[l];
        }
        z[k] = v / m[p * d + p];
    }
    let mut w = vec![0.0; d];
    for k in (0..rank).rev() {
        let p = perm[k];
        let mut v = z[k];
        for l in k + 1..rank {
            v -= m[perm[l] * d + p] * w[perm[l]];
        }
        w[p] = v / m[p * d + p];
    }
    (w, rank)
}

/// Diagonal of row `perm[i]` after the first `k` pivots' contributions are removed.
fn residual(m: &[f64], perm: &[usize], d: usize, k: usize, i: usize) -> f64 {
    let p = perm[i];
    let mut r = m[p * d + p];
    for &q in &perm[..k] {
        let v = m[p * d + q];
        r -= v * v;
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn solves_a_spd_system() {
        let a = [4.0, 2.0, 0.6, 0.0, 5.0, 1.0, 0.0, 0.0, 3.0];
        let full = [[4.0, 2.0, 0.6], [2.0, 5.0, 1.0], [0.6, 1.0, 3.0]];
        let x = [1.0, -2.0, 0.5];
        let b: Vec<f64> = full
            .iter()
            .map(|r| r.iter().zip(&x).map(|(a, x)| a * x).sum())
            .collect();
        let (w, rank) = solve_psd(&a, &b, 3);
        assert_eq!(rank, 3);
        for (wi, xi) in w.iter().zip(&x) {
            assert!((wi - xi).abs() < 1e-12);
        }
    }

    #[test]
    fn collinear_columns_get_weight_zero() {
        // Column 2 = 2 × column 0: the system has rank 2.
        let full = [[1.0, 0.5, 2.0], [0.5, 2.0, 1.0], [2.0, 1.0, 4.0]];
        let a: Vec<f64> = full.iter().flatten().copied().collect();
        let (w, rank) = solve_psd(&a, &[1.0, 1.0, 2.0], 3);
        assert_eq!(rank, 2);
        assert!(w.iter().filter(|v| **v == 0.0).count() == 1);
        let residual: f64 = full
            .iter()
            .zip([1.0, 1.0, 2.0])
            .map(|(r, b)| r.iter().zip(&w).map(|(a, w)| a * w).sum::<f64>() - b)
            .map(f64::abs)
            .sum();
        assert!(residual < 1e-12);
    }

    #[test]
    fn zero_matrix_has_rank_zero() {
        assert_eq!(solve_psd(&[0.0; 4], &[1.0, 1.0], 2), (vec![0.0, 0.0], 0));
    }
}
