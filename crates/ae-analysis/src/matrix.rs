//! A small dense row-major `f64` matrix and the few kernels the crate needs.

use crate::error::{AnalysisError, Result};

/// Dense row-major matrix of `f64` values.
///
/// The invariant `data.len() == rows * cols` is enforced by every constructor,
/// which is why the fields are private; use [`Matrix::rows`], [`Matrix::cols`],
/// [`Matrix::data`] and [`Matrix::into_data`] to get at them.
#[derive(Debug, Clone, PartialEq)]
pub struct Matrix {
    rows: usize,
    cols: usize,
    data: Vec<f64>,
}

impl Matrix {
    /// Wraps a row-major buffer, checking that it holds `rows * cols` values.
    pub fn new(rows: usize, cols: usize, data: Vec<f64>) -> Result<Self> {
        let expected = checked_len(rows, cols)?;
        if data.len() != expected {
            return Err(AnalysisError::ShapeMismatch {
                what: "matrix",
                shape: format!("{rows}x{cols}"),
                expected,
                got: data.len(),
            });
        }
        Ok(Self { rows, cols, data })
    }

    /// A `rows x cols` matrix of zeros.
    pub fn zeros(rows: usize, cols: usize) -> Self {
        Self {
            rows,
            cols,
            data: vec![0.0; rows * cols],
        }
    }

    /// The `n x n` identity matrix.
    pub fn identity(n: usize) -> Self {
        let mut m = Self::zeros(n, n);
        for i in 0..n {
            m.data[i * n + i] = 1.0;
        }
        m
    }

    /// Builds a matrix from equally long rows (no rows gives a 0x0 matrix).
    pub fn from_rows<R: AsRef<[f64]>>(rows: &[R]) -> Result<Self> {
        let cols = rows.first().map_or(0, |r| r.as_ref().len());
        let mut data = Vec::with_capacity(rows.len() * cols);
        for (row, r) in rows.iter().enumerate() {
            let r = r.as_ref();
            if r.len() != cols {
                return Err(AnalysisError::RaggedRows {
                    row,
                    expected: cols,
                    got: r.len(),
                });
            }
            data.extend_from_slice(r);
        }
        Ok(Self {
            rows: rows.len(),
            cols,
            data,
        })
    }

    /// Converts a row-major `f32` buffer (e.g. a tensor's data) to a matrix.
    pub fn from_f32(rows: usize, cols: usize, values: &[f32]) -> Result<Self> {
        Self::new(rows, cols, values.iter().map(|&v| f64::from(v)).collect())
    }

    /// Builds a matrix whose entry `(i, j)` is `f(i, j)`.
    pub fn from_fn(rows: usize, cols: usize, mut f: impl FnMut(usize, usize) -> f64) -> Self {
        let mut data = Vec::with_capacity(rows * cols);
        for i in 0..rows {
            for j in 0..cols {
                data.push(f(i, j));
            }
        }
        Self { rows, cols, data }
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of columns.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// `(rows, cols)`.
    pub fn shape(&self) -> (usize, usize) {
        (self.rows, self.cols)
    }

    /// True when the matrix has no entries.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The row-major backing buffer.
    pub fn data(&self) -> &[f64] {
        &self.data
    }

    /// Mutable access to the row-major backing buffer.
    pub fn data_mut(&mut self) -> &mut [f64] {
        &mut self.data
    }

    /// Consumes the matrix and returns its row-major buffer.
    pub fn into_data(self) -> Vec<f64> {
        self.data
    }

    /// Row-major copy converted to `f32` (for export).
    pub fn to_f32(&self) -> Vec<f32> {
        self.data.iter().map(|&v| v as f32).collect()
    }

    /// Entry `(i, j)`. Panics when out of bounds, like slice indexing.
    pub fn get(&self, i: usize, j: usize) -> f64 {
        assert!(
            i < self.rows && j < self.cols,
            "index ({i}, {j}) out of bounds"
        );
        self.data[i * self.cols + j]
    }

    /// Sets entry `(i, j)`. Panics when out of bounds, like slice indexing.
    pub fn set(&mut self, i: usize, j: usize, value: f64) {
        assert!(
            i < self.rows && j < self.cols,
            "index ({i}, {j}) out of bounds"
        );
        self.data[i * self.cols + j] = value;
    }

    /// Row `i` as a slice. Panics when out of bounds.
    pub fn row(&self, i: usize) -> &[f64] {
        &self.data[i * self.cols..(i + 1) * self.cols]
    }

    /// Row `i` as a mutable slice. Panics when out of bounds.
    pub fn row_mut(&mut self, i: usize) -> &mut [f64] {
        &mut self.data[i * self.cols..(i + 1) * self.cols]
    }

    /// Copy of column `j`. Panics when out of bounds.
    pub fn column(&self, j: usize) -> Vec<f64> {
        assert!(j < self.cols, "column {j} out of bounds");
        (0..self.rows)
            .map(|i| self.data[i * self.cols + j])
            .collect()
    }

    /// The first `k` columns (all of them when `k >= cols`).
    pub fn leading_columns(&self, k: usize) -> Matrix {
        let k = k.min(self.cols);
        Matrix::from_fn(self.rows, k, |i, j| self.data[i * self.cols + j])
    }

    /// The transpose.
    pub fn transpose(&self) -> Matrix {
        let mut out = Matrix::zeros(self.cols, self.rows);
        // Blocked to stay cache friendly for large matrices.
        const B: usize = 32;
        for ib in (0..self.rows).step_by(B) {
            for jb in (0..self.cols).step_by(B) {
                for i in ib..(ib + B).min(self.rows) {
                    for j in jb..(jb + B).min(self.cols) {
                        out.data[j * self.rows + i] = self.data[i * self.cols + j];
                    }
                }
            }
        }
        out
    }

    /// Matrix product `self * other`.
    pub fn matmul(&self, other: &Matrix) -> Result<Matrix> {
        if self.cols != other.rows {
            return Err(AnalysisError::DimensionMismatch {
                op: "matmul",
                left: format!("{}x{}", self.rows, self.cols),
                right: format!("{}x{}", other.rows, other.cols),
            });
        }
        let (m, p, n) = (self.rows, self.cols, other.cols);
        let mut out = Matrix::zeros(m, n);
        const JB: usize = 256;
        const PB: usize = 128;
        for jb in (0..n).step_by(JB) {
            let je = (jb + JB).min(n);
            for pb in (0..p).step_by(PB) {
                let pe = (pb + PB).min(p);
                for i in 0..m {
                    let a_row = &self.data[i * p..(i + 1) * p];
                    let c = &mut out.data[i * n + jb..i * n + je];
                    let mut q = pb;
                    while q + 4 <= pe {
                        let (a0, a1, a2, a3) = (a_row[q], a_row[q + 1], a_row[q + 2], a_row[q + 3]);
                        let b0 = &other.data[q * n + jb..q * n + je];
                        let b1 = &other.data[(q + 1) * n + jb..(q + 1) * n + je];
                        let b2 = &other.data[(q + 2) * n + jb..(q + 2) * n + je];
                        let b3 = &other.data[(q + 3) * n + jb..(q + 3) * n + je];
                        for (j, cj) in c.iter_mut().enumerate() {
                            *cj += a0 * b0[j] + a1 * b1[j] + a2 * b2[j] + a3 * b3[j];
                        }
                        q += 4;
                    }
                    while q < pe {
                        let a = a_row[q];
                        let b = &other.data[q * n + jb..q * n + je];
                        for (cj, bj) in c.iter_mut().zip(b) {
                            *cj += a * bj;
                        }
                        q += 1;
                    }
                }
            }
        }
        Ok(out)
    }

    /// The Gram matrix `selfᵀ * self` (`cols x cols`, exactly symmetric).
    pub fn gram(&self) -> Matrix {
        let (n, d) = (self.rows, self.cols);
        let mut out = Matrix::zeros(d, d);
        const IB: usize = 64;
        const JB: usize = 256;
        for ib in (0..d).step_by(IB) {
            let ie = (ib + IB).min(d);
            for jb in (ib..d).step_by(JB) {
                let je = (jb + JB).min(d);
                let mut r = 0;
                while r + 4 <= n {
                    let x0 = self.row(r);
                    let x1 = self.row(r + 1);
                    let x2 = self.row(r + 2);
                    let x3 = self.row(r + 3);
                    for i in ib..ie {
                        let js = i.max(jb);
                        if js >= je {
                            continue;
                        }
                        let (a0, a1, a2, a3) = (x0[i], x1[i], x2[i], x3[i]);
                        let c = &mut out.data[i * d + js..i * d + je];
                        let (y0, y1, y2, y3) = (&x0[js..je], &x1[js..je], &x2[js..je], &x3[js..je]);
                        for (j, cj) in c.iter_mut().enumerate() {
                            *cj += a0 * y0[j] + a1 * y1[j] + a2 * y2[j] + a3 * y3[j];
                        }
                    }
                    r += 4;
                }
                while r < n {
                    let x = self.row(r);
                    for i in ib..ie {
                        let js = i.max(jb);
                        if js >= je {
                            continue;
                        }
                        let a = x[i];
                        let c = &mut out.data[i * d + js..i * d + je];
                        for (cj, y) in c.iter_mut().zip(&x[js..je]) {
                            *cj += a * y;
                        }
                    }
                    r += 1;
                }
            }
        }
        for i in 0..d {
            for j in 0..i {
                out.data[i * d + j] = out.data[j * d + i];
            }
        }
        out
    }

    /// Column means (length `cols`; zeros when there are no rows).
    pub fn column_means(&self) -> Vec<f64> {
        let mut mean = vec![0.0; self.cols];
        for i in 0..self.rows {
            for (m, v) in mean.iter_mut().zip(self.row(i)) {
                *m += v;
            }
        }
        if self.rows > 0 {
            let inv = 1.0 / self.rows as f64;
            mean.iter_mut().for_each(|m| *m *= inv);
        }
        mean
    }
}

fn checked_len(rows: usize, cols: usize) -> Result<usize> {
    rows.checked_mul(cols)
        .ok_or_else(|| AnalysisError::InvalidParameter {
            name: "matrix shape",
            reason: format!("{rows}x{cols} overflows usize"),
        })
}

/// Dot product with several independent accumulators (vectorises well).
pub(crate) fn dot(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0f64; 8];
    let mut ca = a.chunks_exact(8);
    let mut cb = b.chunks_exact(8);
    for (x, y) in (&mut ca).zip(&mut cb) {
        for l in 0..8 {
            acc[l] += x[l] * y[l];
        }
    }
    let mut tail = 0.0;
    for (x, y) in ca.remainder().iter().zip(cb.remainder()) {
        tail += x * y;
    }
    (acc[0] + acc[4]) + (acc[1] + acc[5]) + (acc[2] + acc[6]) + (acc[3] + acc[7]) + tail
}

/// Squared Euclidean distance with several independent accumulators.
pub(crate) fn squared_distance(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0f64; 8];
    let mut ca = a.chunks_exact(8);
    let mut cb = b.chunks_exact(8);
    for (x, y) in (&mut ca).zip(&mut cb) {
        for l in 0..8 {
            let t = x[l] - y[l];
            acc[l] += t * t;
        }
    }
    let mut tail = 0.0;
    for (x, y) in ca.remainder().iter().zip(cb.remainder()) {
        let t = x - y;
        tail += t * t;
    }
    (acc[0] + acc[4]) + (acc[1] + acc[5]) + (acc[2] + acc[6]) + (acc[3] + acc[7]) + tail
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive_matmul(a: &Matrix, b: &Matrix) -> Matrix {
        Matrix::from_fn(a.rows(), b.cols(), |i, j| {
            (0..a.cols()).map(|p| a.get(i, p) * b.get(p, j)).sum()
        })
    }

    fn pseudo(rows: usize, cols: usize, salt: u64) -> Matrix {
        // Deterministic, irregular values without pulling in an RNG.
        Matrix::from_fn(rows, cols, |i, j| {
            let x = (i as u64 * 7919 + j as u64 * 104_729 + salt * 13) % 1009;
            x as f64 / 1009.0 - 0.5
        })
    }

    #[test]
    fn constructors_validate_shapes() {
        assert!(Matrix::new(2, 3, vec![0.0; 5]).is_err());
        assert!(Matrix::from_rows(&[vec![1.0, 2.0], vec![3.0]]).is_err());
        let m = Matrix::from_f32(2, 2, &[1.0, 2.0, 3.0, 4.0]).expect("valid");
        assert_eq!(m.row(1), &[3.0, 4.0]);
        assert_eq!(m.get(0, 1), 2.0);
        assert_eq!(m.column(1), vec![2.0, 4.0]);
        let t = m.transpose();
        assert_eq!(t.data(), &[1.0, 3.0, 2.0, 4.0]);
    }

    #[test]
    fn matmul_matches_naive_including_block_edges() {
        let a = pseudo(37, 133, 1);
        let b = pseudo(133, 261, 2);
        let fast = a.matmul(&b).expect("compatible");
        let slow = naive_matmul(&a, &b);
        for (x, y) in fast.data().iter().zip(slow.data()) {
            assert!((x - y).abs() < 1e-10);
        }
        assert!(a.matmul(&a).is_err());
    }

    #[test]
    fn gram_matches_transpose_product() {
        let a = pseudo(103, 301, 3);
        let g = a.gram();
        let slow = naive_matmul(&a.transpose(), &a);
        for (x, y) in g.data().iter().zip(slow.data()) {
            assert!((x - y).abs() < 1e-9);
        }
    }

    #[test]
    fn kernels_match_naive() {
        let a: Vec<f64> = (0..19).map(|i| i as f64 * 0.5).collect();
        let b: Vec<f64> = (0..19).map(|i| 3.0 - i as f64).collect();
        let d: f64 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        let s: f64 = a.iter().zip(&b).map(|(x, y)| (x - y) * (x - y)).sum();
        assert!((dot(&a, &b) - d).abs() < 1e-12);
        assert!((squared_distance(&a, &b) - s).abs() < 1e-12);
    }
}
