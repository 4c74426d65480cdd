//! Principal component analysis through the covariance eigenproblem.

use crate::eigen::symmetric_eigen;
use crate::error::{AnalysisError, Result, check_finite};
use crate::matrix::Matrix;

/// A fitted PCA model.
#[derive(Debug, Clone, PartialEq)]
pub struct Pca {
    /// Per-feature mean of the training data (length `d`).
    pub mean: Vec<f64>,
    /// Principal axes as orthonormal columns (`d x k`), by decreasing variance.
    pub components: Matrix,
    /// Variance along each component (covariance eigenvalues, `n - 1` denominator).
    pub explained_variance: Vec<f64>,
    /// Total variance of the data (trace of the covariance).
    pub total_variance: f64,
}

impl Pca {
    /// Fits PCA to `data` (`n x d`, one sample per row), keeping
    /// `min(max_components, d, n)` components. Needs at least two samples.
    pub fn fit(data: &Matrix, max_components: usize) -> Result<Pca> {
        let (n, d) = data.shape();
        if n < 2 {
            return Err(AnalysisError::TooFewPoints {
                algorithm: "PCA",
                k: 2,
                n,
            });
        }
        if d == 0 {
            return Err(AnalysisError::Empty {
                what: "PCA feature dimension",
            });
        }
        if max_components == 0 {
            return Err(AnalysisError::InvalidParameter {
                name: "max_components",
                reason: "must be at least 1".into(),
            });
        }
        check_finite("PCA data", data.data())?;
        let mean = data.column_means();
        let mut centered = data.clone();
        for i in 0..n {
            for (x, m) in centered.row_mut(i).iter_mut().zip(&mean) {
                *x -= m;
            }
        }
        let mut cov = centered.gram();
        let inv = 1.0 / (n - 1) as f64;
        cov.data_mut().iter_mut().for_each(|x| *x *= inv);
        let total_variance: f64 = (0..d).map(|i| cov.get(i, i)).sum();
        let eig = symmetric_eigen(&cov)?;
        let k = max_components.min(d).min(n);
        let components = eig.vectors.leading_columns(k);
        let explained_variance = eig.values[..k].iter().map(|v| v.max(0.0)).collect();
        Ok(Pca {
            mean,
            components,
            explained_variance,
            total_variance,
        })
    }

    /// Input dimension `d`.
    pub fn dim(&self) -> usize {
        self.mean.len()
    }

    /// Number of kept components `k`.
    pub fn n_components(&self) -> usize {
        self.components.cols()
    }

    /// Projects `data` (`m x d`) onto all kept components (`m x k`).
    pub fn transform(&self, data: &Matrix) -> Result<Matrix> {
        self.transform_k(data, self.n_components())
    }

    /// Projects `data` (`m x d`) onto the first `k` components (`m x k`).
    pub fn transform_k(&self, data: &Matrix, k: usize) -> Result<Matrix> {
        self.check_input(data, k)?;
        let mut centered = data.clone();
        for i in 0..data.rows() {
            for (x, m) in centered.row_mut(i).iter_mut().zip(&self.mean) {
                *x -= m;
            }
        }
        centered.matmul(&self.components.leading_columns(k))
    }

    /// Projects onto the first `k` components and maps back to input space.
    pub fn reconstruct_k(&self, data: &Matrix, k: usize) -> Result<Matrix> {
        let codes = self.transform_k(data, k)?;
        let mut out = codes.matmul(&self.components.leading_columns(k).transpose())?;
        for i in 0..out.rows() {
            for (x, m) in out.row_mut(i).iter_mut().zip(&self.mean) {
                *x += m;
            }
        }
        Ok(out)
    }

    /// Fraction of the total variance explained by each kept component
    /// (all zeros when the data has no variance).
    pub fn explained_variance_ratio(&self) -> Vec<f64> {
        if self.total_variance > 0.0 {
            self.explained_variance
                .iter()
                .map(|v| v / self.total_variance)
                .collect()
        } else {
            vec![0.0; self.explained_variance.len()]
        }
    }

    fn check_input(&self, data: &Matrix, k: usize) -> Result<()> {
        if data.cols() != self.dim() {
            return Err(AnalysisError::DimensionMismatch {
                op: "PCA projection",
                left: format!("data with {} features", data.cols()),
                right: format!("model with {} features", self.dim()),
            });
        }
        if k > self.n_components() {
            return Err(AnalysisError::InvalidParameter {
                name: "k",
                reason: format!(
                    "asked for {k} components but the model keeps {}",
                    self.n_components()
                ),
            });
        }
        check_finite("PCA input", data.data())
    }
}
