//! Eigendecomposition of real symmetric matrices.
//!
//! The matrix is first reduced to tridiagonal form with Householder
//! reflections (accumulating the orthogonal factor), then the tridiagonal
//! eigenproblem is solved with the implicitly shifted QL algorithm. The
//! eigenvector accumulator is kept with one eigenvector per *row* so that every
//! Givens rotation touches two contiguous rows, which keeps a 784x784 problem
//! at roughly a second in release builds.

use crate::error::{AnalysisError, Result, check_finite};
use crate::matrix::{Matrix, dot};

/// Relative tolerance for the symmetry check in [`symmetric_eigen`].
const SYMMETRY_TOLERANCE: f64 = 1e-9;

/// Maximum QL sweeps spent on a single eigenvalue before giving up.
const MAX_SWEEPS_PER_EIGENVALUE: usize = 60;

/// Eigenvalues and eigenvectors of a symmetric matrix.
#[derive(Debug, Clone, PartialEq)]
pub struct SymmetricEigen {
    /// Eigenvalues in descending order.
    pub values: Vec<f64>,
    /// Orthonormal eigenvectors as columns, in the same order as `values`.
    /// Each is signed so that its largest-magnitude component is positive.
    pub vectors: Matrix,
}

/// Eigendecomposition `A = V diag(values) Vᵀ` of a symmetric matrix.
///
/// The input must be square, finite and symmetric to within a relative
/// tolerance of 1e-9 (the symmetric part is what gets decomposed).
pub fn symmetric_eigen(a: &Matrix) -> Result<SymmetricEigen> {
    let n = a.rows();
    if a.cols() != n {
        return Err(AnalysisError::NotSquare {
            what: "matrix for symmetric_eigen",
            rows: a.rows(),
            cols: a.cols(),
        });
    }
    if n == 0 {
        return Err(AnalysisError::Empty {
            what: "matrix for symmetric_eigen",
        });
    }
    check_finite("matrix for symmetric_eigen", a.data())?;
    let scale = a.data().iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let mut work = a.data().to_vec();
    for i in 0..n {
        for j in (i + 1)..n {
            let (x, y) = (work[i * n + j], work[j * n + i]);
            if (x - y).abs() > SYMMETRY_TOLERANCE * scale {
                return Err(AnalysisError::NotSymmetric {
                    i,
                    j,
                    a_ij: x,
                    a_ji: y,
                });
            }
            let mid = 0.5 * (x + y);
            work[i * n + j] = mid;
            work[j * n + i] = mid;
        }
    }

    let (mut diag, mut off, q) = tridiagonalize(&mut work, n);
    // Rows of `zt` are the columns of Q, i.e. the eigenvector estimates.
    let mut zt = transpose_square(&q, n);
    implicit_ql(&mut diag, &mut off, &mut zt, n)?;

    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&x, &y| diag[y].total_cmp(&diag[x]));
    let values: Vec<f64> = order.iter().map(|&i| diag[i]).collect();
    let mut vectors = Matrix::zeros(n, n);
    for (col, &src) in order.iter().enumerate() {
        let v = &zt[src * n..(src + 1) * n];
        let mut best = 0;
        for (i, x) in v.iter().enumerate() {
            if x.abs() > v[best].abs() {
                best = i;
            }
        }
        let sign = if v[best] < 0.0 { -1.0 } else { 1.0 };
        for (i, x) in v.iter().enumerate() {
            vectors.data_mut()[i * n + col] = sign * x;
        }
    }
    Ok(SymmetricEigen { values, vectors })
}

fn transpose_square(m: &[f64], n: usize) -> Vec<f64> {
    let mut out = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..n {
            out[j * n + i] = m[i * n + j];
        }
    }
    out
}

/// Householder reduction of the full symmetric `a` (row-major, overwritten)
/// to tridiagonal form. Returns the diagonal, the super-diagonal (with a
/// trailing zero so it has length `n`) and the orthogonal `Q` with
/// `A = Q T Qᵀ`, row-major.
fn tridiagonalize(a: &mut [f64], n: usize) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    // Reflector k acts on indices k+1..n: H_k = I - beta_k v_k v_kᵀ.
    let mut reflectors: Vec<(Vec<f64>, f64)> = Vec::with_capacity(n.saturating_sub(2));
    let mut p = vec![0.0; n];
    for k in 0..n.saturating_sub(2) {
        let start = k + 1;
        let m = n - start;
        let mut v = a[k * n + start..(k + 1) * n].to_vec();
        let tail_scale = v[1..].iter().fold(0.0f64, |s, x| s.max(x.abs()));
        if tail_scale == 0.0 {
            // Column already tridiagonal: identity reflector.
            reflectors.push((v, 0.0));
            continue;
        }
        let scale = tail_scale.max(v[0].abs());
        let norm = scale
            * v.iter()
                .map(|x| (x / scale) * (x / scale))
                .sum::<f64>()
                .sqrt();
        let sign = if v[0] < 0.0 { -1.0 } else { 1.0 };
        let alpha = -sign * norm;
        v[0] += sign * norm;
        let vtv = dot(&v, &v);
        let beta = 2.0 / vtv;

        // p = beta * S v over the trailing block S = a[start.., start..].
        let p = &mut p[..m];
        for (i, pi) in p.iter_mut().enumerate() {
            let row = &a[(start + i) * n + start..(start + i + 1) * n];
            *pi = beta * dot(row, &v);
        }
        let kappa = 0.5 * beta * dot(&v, p);
        // w = p - kappa v, then S -= v wᵀ + w vᵀ.
        for (pi, vi) in p.iter_mut().zip(&v) {
            *pi -= kappa * vi;
        }
        for i in 0..m {
            let (vi, wi) = (v[i], p[i]);
            let row = &mut a[(start + i) * n + start..(start + i + 1) * n];
            for ((s, vj), wj) in row.iter_mut().zip(&v).zip(p.iter()) {
                *s -= vi * wj + wi * vj;
            }
        }
        a[k * n + start] = alpha;
        a[start * n + k] = alpha;
        for j in (start + 1)..n {
            a[k * n + j] = 0.0;
            a[j * n + k] = 0.0;
        }
        reflectors.push((v, beta));
    }

    let diag: Vec<f64> = (0..n).map(|i| a[i * n + i]).collect();
    let mut off = vec![0.0; n];
    for i in 0..n.saturating_sub(1) {
        off[i] = a[i * n + i + 1];
    }

    // Backward accumulation Q = H_0 H_1 ... H_{n-3}; when H_k is applied only
    // the trailing block (k+1.., k+1..) differs from the identity.
    let mut q = vec![0.0; n * n];
    for i in 0..n {
        q[i * n + i] = 1.0;
    }
    let mut u = vec![0.0; n];
    for (k, (v, beta)) in reflectors.iter().enumerate().rev() {
        if *beta == 0.0 {
            continue;
        }
        let start = k + 1;
        let u = &mut u[start..n];
        u.iter_mut().for_each(|x| *x = 0.0);
        for (i, vi) in v.iter().enumerate() {
            let row = &q[(start + i) * n + start..(start + i + 1) * n];
            for (uj, r) in u.iter_mut().zip(row) {
                *uj += vi * r;
            }
        }
        for (i, vi) in v.iter().enumerate() {
            let f = beta * vi;
            let row = &mut q[(start + i) * n + start..(start + i + 1) * n];
            for (r, uj) in row.iter_mut().zip(u.iter()) {
                *r -= f * uj;
            }
        }
    }
    (diag, off, q)
}

/// Implicitly shifted QL on the tridiagonal matrix (`diag`, `off`), with
/// `off[i]` coupling `i` and `i + 1`. Rotations are applied to rows of `zt`.
fn implicit_ql(diag: &mut [f64], off: &mut [f64], zt: &mut [f64], n: usize) -> Result<()> {
    if n > 0 {
        off[n - 1] = 0.0;
    }
    // Off-diagonal elements below this absolute floor (relative to the matrix's size) are
    // negligible too: without it, a block of (numerically) zero eigenvalues, such as the
    // constant border pixels of MNIST give a covariance, never deflates.
    let norm = diag
        .iter()
        .zip(off.iter())
        .fold(0.0f64, |m, (d, e)| m.max(d.abs() + e.abs()));
    let floor = f64::EPSILON * norm;
    for l in 0..n {
        let mut sweeps = 0;
        loop {
            // Find the first negligible off-diagonal element at or after l.
            let mut m = l;
            while m + 1 < n {
                let dd = diag[m].abs() + diag[m + 1].abs();
                let e = off[m].abs();
                if e <= f64::EPSILON * dd || e <= floor || e <= f64::MIN_POSITIVE {
                    break;
                }
                m += 1;
            }
            if m == l {
                break;
            }
            sweeps += 1;
            if sweeps > MAX_SWEEPS_PER_EIGENVALUE {
                return Err(AnalysisError::NoConvergence {
                    algorithm: "symmetric eigen (implicit QL)",
                    iterations: sweeps,
                });
            }
            // Wilkinson-style shift from the leading 2x2 block.
            let mut g = (diag[l + 1] - diag[l]) / (2.0 * off[l]);
            let mut r = g.hypot(1.0);
            g = diag[m] - diag[l] + off[l] / (g + r.copysign(g));
            let (mut s, mut c, mut p) = (1.0f64, 1.0f64, 0.0f64);
            let mut deflated_early = false;
            let mut i = m;
            while i > l {
                i -= 1;
                let f = s * off[i];
                let b = c * off[i];
                r = f.hypot(g);
                off[i + 1] = r;
                if r == 0.0 {
                    diag[i + 1] -= p;
                    off[m] = 0.0;
                    deflated_early = true;
                    break;
                }
                s = f / r;
                c = g / r;
                g = diag[i + 1] - p;
                r = (diag[i] - g) * s + 2.0 * c * b;
                p = s * r;
                diag[i + 1] = g + p;
                g = c * r - b;
                let (head, tail) = zt.split_at_mut((i + 1) * n);
                let zi = &mut head[i * n..];
                let zi1 = &mut tail[..n];
                for (x, y) in zi.iter_mut().zip(zi1.iter_mut()) {
                    let t = *y;
                    *y = s * *x + c * t;
                    *x = c * *x - s * t;
                }
            }
            if deflated_early {
                continue;
            }
            diag[l] -= p;
            off[l] = g;
            off[m] = 0.0;
        }
    }
    Ok(())
}
