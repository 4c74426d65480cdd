//! Orthonormal bases and principal angles between column subspaces.

use crate::eigen::symmetric_eigen;
use crate::error::{AnalysisError, Result};
use crate::matrix::{Matrix, dot};

/// Columns whose residual norm falls below this fraction of their original
/// norm (or of the largest column norm) are treated as linearly dependent.
const RANK_TOLERANCE: f64 = 1e-10;

/// Orthonormal basis (as columns) for the column space of `a` (`d x k`).
///
/// Uses modified Gram–Schmidt with one re-orthogonalisation pass; columns that
/// are numerically dependent on earlier ones are dropped, so the result is
/// `d x r` with `r <= k` the numerical rank (`d x 0` for a zero matrix).
pub fn orthonormal_basis(a: &Matrix) -> Matrix {
    let (d, k) = a.shape();
    let cols: Vec<Vec<f64>> = (0..k).map(|j| a.column(j)).collect();
    let max_norm = cols.iter().map(|c| dot(c, c).sqrt()).fold(0.0f64, f64::max);
    let mut basis: Vec<Vec<f64>> = Vec::with_capacity(k);
    for mut v in cols {
        let original = dot(&v, &v).sqrt();
        if !original.is_finite() || original == 0.0 {
            continue;
        }
        for _pass in 0..2 {
            for q in &basis {
                let proj = dot(q, &v);
                for (x, y) in v.iter_mut().zip(q) {
                    *x -= proj * y;
                }
            }
        }
        let norm = dot(&v, &v).sqrt();
        if norm <= RANK_TOLERANCE * original.max(max_norm) {
            continue;
        }
        v.iter_mut().for_each(|x| *x /= norm);
        basis.push(v);
    }
    Matrix::from_fn(d, basis.len(), |i, j| basis[j][i])
}

/// Principal angles (degrees, ascending) between the column spaces of `a`
/// and `b`, which must have the same number of rows.
///
/// Both inputs are orthonormalised first; there are `min(rank a, rank b)`
/// angles. The cosines are the singular values of `QaᵀQb`, obtained from the
/// symmetric eigendecomposition of the smaller of `MᵀM` / `MMᵀ` and clamped
/// to `[0, 1]`. Precision is about 1e-6 degrees near 0°.
pub fn principal_angles_degrees(a: &Matrix, b: &Matrix) -> Result<Vec<f64>> {
    if a.rows() != b.rows() {
        return Err(AnalysisError::DimensionMismatch {
            op: "principal angles",
            left: format!("{}x{}", a.rows(), a.cols()),
            right: format!("{}x{}", b.rows(), b.cols()),
        });
    }
    let qa = orthonormal_basis(a);
    let qb = orthonormal_basis(b);
    if qa.cols() == 0 || qb.cols() == 0 {
        return Err(AnalysisError::Empty {
            what: "subspace for principal angles (zero column space)",
        });
    }
    let m = qa.transpose().matmul(&qb)?;
    let small = if m.rows() <= m.cols() {
        m.matmul(&m.transpose())?
    } else {
        m.transpose().matmul(&m)?
    };
    let eig = symmetric_eigen(&small)?;
    // Descending singular values give ascending angles.
    Ok(eig
        .values
        .iter()
        .map(|&lambda| {
            let cos = lambda.max(0.0).sqrt().clamp(0.0, 1.0);
            cos.acos().to_degrees()
        })
        .collect())
}
