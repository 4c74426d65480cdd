//! Full-covariance Gaussian mixture models fitted with EM.

use crate::error::{AnalysisError, Result, check_finite};
use crate::kmeans::KMeans;
use crate::matrix::{Matrix, dot};
use crate::rng::{seeded, standard_normal, uniform};

/// Diagonal regulariser, relative to the mean per-feature data variance.
const RELATIVE_REGULARISER: f64 = 1e-6;
/// EM stops when the mean log-likelihood improves by less than this.
const TOLERANCE: f64 = 1e-6;
/// k-means restarts used for initialisation.
const KMEANS_RESTARTS: usize = 3;
/// k-means iteration cap used for initialisation.
const KMEANS_MAX_ITER: usize = 100;

/// A Gaussian mixture with full covariance matrices.
#[derive(Debug, Clone, PartialEq)]
pub struct GaussianMixture {
    /// Mixing weights (sum to 1).
    pub weights: Vec<f64>,
    /// Component means, one per row (`k x d`).
    pub means: Matrix,
    /// Component covariances (`d x d` each), regularised to be positive definite.
    pub covariances: Vec<Matrix>,
    /// Value added to every covariance diagonal during fitting.
    pub regularizer: f64,
    /// Mean per-point log-likelihood of the training data under the final model.
    pub train_log_likelihood: f64,
    /// EM iterations performed.
    pub iterations: usize,
    /// Whether EM converged before `max_iter`.
    pub converged: bool,
}

/// Lower Cholesky factor `L` (row-major) with `L Lᵀ = a`.
fn cholesky(a: &Matrix, what: impl Fn() -> String) -> Result<Matrix> {
    let n = a.rows();
    let mut l = Matrix::zeros(n, n);
    for i in 0..n {
        for j in 0..=i {
            let s = a.get(i, j) - dot(&l.row(i)[..j], &l.row(j)[..j]);
            if i == j {
                if !s.is_finite() || s <= 0.0 {
                    return Err(AnalysisError::NotPositiveDefinite {
                        what: what(),
                        pivot: i,
                        value: s,
                    });
                }
                l.set(i, i, s.sqrt());
            } else {
                l.set(i, j, s / l.get(j, j));
            }
        }
    }
    Ok(l)
}

/// Per-component quantities needed to evaluate log densities.
struct Factor {
    chol: Matrix,
    log_norm: f64,
}

impl Factor {
    fn new(cov: &Matrix, component: usize) -> Result<Factor> {
        let chol = cholesky(cov, || format!("covariance of component {component}"))?;
        let d = cov.rows();
        let log_det_half: f64 = (0..d).map(|i| chol.get(i, i).ln()).sum();
        let log_norm = -0.5 * d as f64 * (2.0 * std::f64::consts::PI).ln() - log_det_half;
        Ok(Factor { chol, log_norm })
    }

    /// log N(x | mean, L Lᵀ), using `z` as scratch space.
    fn log_pdf(&self, x: &[f64], mean: &[f64], z: &mut [f64]) -> f64 {
        for i in 0..z.len() {
            let row = self.chol.row(i);
            let s = x[i] - mean[i] - dot(&row[..i], &z[..i]);
            z[i] = s / row[i];
        }
        self.log_norm - 0.5 * dot(z, z)
    }
}

fn log_sum_exp(values: &[f64]) -> f64 {
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !max.is_finite() {
        return max;
    }
    max + values.iter().map(|v| (v - max).exp()).sum::<f64>().ln()
}

impl GaussianMixture {
    /// Fits `components` full-covariance Gaussians to the rows of `data` with
    /// EM, initialised from k-means (seeded by `seed`). A diagonal
    /// regulariser of 1e-6 times the mean feature variance keeps the
    /// covariances positive definite. Stops after `max_iter` EM steps or when
    /// the mean log-likelihood improves by less than 1e-6.
    pub fn fit(data: &Matrix, components: usize, seed: u64, max_iter: usize) -> Result<Self> {
        let (n, d) = data.shape();
        if components == 0 {
            return Err(AnalysisError::InvalidParameter {
                name: "components",
                reason: "a Gaussian mixture needs at least one component".into(),
            });
        }
        if n < components {
            return Err(AnalysisError::TooFewPoints {
                algorithm: "Gaussian mixture",
                k: components,
                n,
            });
        }
        if d == 0 {
            return Err(AnalysisError::Empty {
                what: "Gaussian mixture feature dimension",
            });
        }
        if max_iter == 0 {
            return Err(AnalysisError::InvalidParameter {
                name: "max_iter",
                reason: "must be at least 1".into(),
            });
        }
        check_finite("Gaussian mixture data", data.data())?;

        let mean = data.column_means();
        let mut var_sum = 0.0;
        for i in 0..n {
            for (x, m) in data.row(i).iter().zip(&mean) {
                var_sum += (x - m) * (x - m);
            }
        }
        let mean_var = var_sum / (n * d) as f64;
        let regularizer = if mean_var > 0.0 {
            RELATIVE_REGULARISER * mean_var
        } else {
            RELATIVE_REGULARISER
        };

        let init = KMeans::fit(data, components, seed, KMEANS_RESTARTS, KMEANS_MAX_ITER)?;
        let mut resp = Matrix::zeros(n, components);
        for (i, &c) in init.assignments.iter().enumerate() {
            resp.set(i, c, 1.0);
        }
        let mut model = GaussianMixture {
            weights: vec![0.0; components],
            means: Matrix::zeros(components, d),
            covariances: Vec::new(),
            regularizer,
            train_log_likelihood: f64::NEG_INFINITY,
            iterations: 0,
            converged: false,
        };
        model.m_step(data, &resp)?;

        let mut previous = f64::NEG_INFINITY;
        while model.iterations < max_iter {
            model.iterations += 1;
            let ll = model.e_step(data, &mut resp)?;
            model.m_step(data, &resp)?;
            if (ll - previous).abs() < TOLERANCE {
                model.converged = true;
                break;
            }
            previous = ll;
        }
        model.train_log_likelihood = model.log_likelihood(data)?;
        Ok(model)
    }

    /// Number of components.
    pub fn n_components(&self) -> usize {
        self.weights.len()
    }

    /// Feature dimension.
    pub fn dim(&self) -> usize {
        self.means.cols()
    }

    fn factors(&self) -> Result<Vec<Factor>> {
        self.covariances
            .iter()
            .enumerate()
            .map(|(c, cov)| Factor::new(cov, c))
            .collect()
    }

    fn check_input(&self, data: &Matrix) -> Result<()> {
        if data.cols() != self.dim() {
            return Err(AnalysisError::DimensionMismatch {
                op: "Gaussian mixture evaluation",
                left: format!("data with {} features", data.cols()),
                right: format!("model with {} features", self.dim()),
            });
        }
        check_finite("Gaussian mixture input", data.data())
    }

    /// Fills `out` (n x k) with log(weight_c) + log N(x_i | c).
    fn weighted_log_probs(&self, data: &Matrix, out: &mut Matrix) -> Result<()> {
        let factors = self.factors()?;
        let log_w: Vec<f64> = self.weights.iter().map(|w| w.ln()).collect();
        let mut z = vec![0.0; self.dim()];
        for i in 0..data.rows() {
            let x = data.row(i);
            for (c, f) in factors.iter().enumerate() {
                let v = log_w[c] + f.log_pdf(x, self.means.row(c), &mut z);
                out.set(i, c, v);
            }
        }
        Ok(())
    }

    /// Per-point log density `log p(x)` for each row of `data`.
    pub fn score_samples(&self, data: &Matrix) -> Result<Vec<f64>> {
        self.check_input(data)?;
        let mut lp = Matrix::zeros(data.rows(), self.n_components());
        self.weighted_log_probs(data, &mut lp)?;
        Ok((0..data.rows()).map(|i| log_sum_exp(lp.row(i))).collect())
    }

    /// Mean per-point log-likelihood of the rows of `data`.
    pub fn log_likelihood(&self, data: &Matrix) -> Result<f64> {
        if data.rows() == 0 {
            return Err(AnalysisError::Empty {
                what: "data for log-likelihood",
            });
        }
        let scores = self.score_samples(data)?;
        Ok(scores.iter().sum::<f64>() / scores.len() as f64)
    }

    /// Most probable component for each row of `data`.
    pub fn predict(&self, data: &Matrix) -> Result<Vec<usize>> {
        self.check_input(data)?;
        let mut lp = Matrix::zeros(data.rows(), self.n_components());
        self.weighted_log_probs(data, &mut lp)?;
        Ok((0..data.rows())
            .map(|i| {
                let row = lp.row(i);
                let mut best = 0;
                for (c, v) in row.iter().enumerate() {
                    if *v > row[best] {
                        best = c;
                    }
                }
                best
            })
            .collect())
    }

    /// Draws `n` samples (`n x d`), reproducibly from `seed`.
    pub fn sample(&self, n: usize, seed: u64) -> Result<Matrix> {
        let factors = self.factors()?;
        let total: f64 = self.weights.iter().sum();
        if !total.is_finite() || total <= 0.0 || self.weights.iter().any(|w| *w < 0.0) {
            return Err(AnalysisError::InvalidParameter {
                name: "mixture weights",
                reason: format!(
                    "must be non-negative with a positive sum, got {:?}",
                    self.weights
                ),
            });
        }
        let d = self.dim();
        let mut rng = seeded(seed);
        let mut out = Matrix::zeros(n, d);
        let mut z = vec![0.0; d];
        for i in 0..n {
            let target = uniform(&mut rng) * total;
            let mut component = self.weights.len() - 1;
            let mut cumulative = 0.0;
            for (c, w) in self.weights.iter().enumerate() {
                cumulative += w;
                if target < cumulative {
                    component = c;
                    break;
                }
            }
            z.iter_mut().for_each(|v| *v = standard_normal(&mut rng));
            let chol = &factors[component].chol;
            let mean = self.means.row(component);
            for (j, slot) in out.row_mut(i).iter_mut().enumerate() {
                *slot = mean[j] + dot(&chol.row(j)[..=j], &z[..=j]);
            }
        }
        Ok(out)
    }

    /// E-step: turns `resp` into responsibilities; returns the mean log-likelihood.
    fn e_step(&self, data: &Matrix, resp: &mut Matrix) -> Result<f64> {
        self.weighted_log_probs(data, resp)?;
        let mut total = 0.0;
        for i in 0..data.rows() {
            let row = resp.row_mut(i);
            let lse = log_sum_exp(row);
            total += lse;
            row.iter_mut().for_each(|v| *v = (*v - lse).exp());
        }
        Ok(total / data.rows() as f64)
    }

    /// M-step from responsibilities (`n x k`).
    fn m_step(&mut self, data: &Matrix, resp: &Matrix) -> Result<()> {
        let (n, d) = data.shape();
        let k = resp.cols();
        let mut covariances = Vec::with_capacity(k);
        let mut scaled = Matrix::zeros(n, d);
        for c in 0..k {
            let nk: f64 = (0..n).map(|i| resp.get(i, c)).sum::<f64>() + 10.0 * f64::EPSILON;
            let mut mean = vec![0.0; d];
            for i in 0..n {
                let r = resp.get(i, c);
                if r > 0.0 {
                    for (m, x) in mean.iter_mut().zip(data.row(i)) {
                        *m += r * x;
                    }
                }
            }
            mean.iter_mut().for_each(|m| *m /= nk);
            for i in 0..n {
                let s = resp.get(i, c).sqrt();
                for ((o, x), m) in scaled.row_mut(i).iter_mut().zip(data.row(i)).zip(&mean) {
                    *o = s * (x - m);
                }
            }
            let mut cov = scaled.gram();
            cov.data_mut().iter_mut().for_each(|v| *v /= nk);
            // Add the regulariser, growing it if round-off still breaks definiteness.
            let mut jitter = self.regularizer;
            let mut attempts = 0;
            loop {
                let mut candidate = cov.clone();
                for j in 0..d {
                    let v = candidate.get(j, j) + jitter;
                    candidate.set(j, j, v);
                }
                match cholesky(&candidate, || format!("covariance of component {c}")) {
                    Ok(_) => {
                        cov = candidate;
                        break;
                    }
                    Err(e) if attempts >= 10 => return Err(e),
                    Err(_) => {
                        jitter *= 10.0;
                        attempts += 1;
                    }
                }
            }
            self.weights[c] = nk / n as f64;
            self.means.row_mut(c).copy_from_slice(&mean);
            covariances.push(cov);
        }
        let total: f64 = self.weights.iter().sum();
        self.weights.iter_mut().for_each(|w| *w /= total);
        self.covariances = covariances;
        Ok(())
    }
}
