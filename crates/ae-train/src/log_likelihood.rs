//! Importance-sampled estimates of a VAE's test log-likelihood (Burda et al., 2016):
//! `log p(x) ≈ log (1/K) Σ_i p(x, z_i) / q(z_i | x)` with `z_i ~ q(z | x)`.

use ae_data::AeBatcher;
use ae_models::Vae;
use burn::data::dataloader::batcher::Batcher;
use burn::tensor::backend::Backend;
use serde::Serialize;

use crate::TrainError;

/// The importance-sampled negative log-likelihood of a data set, per item.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct NllEstimate {
    /// Items evaluated.
    pub items: usize,
    /// Importance samples K per item.
    pub importance_samples: usize,
    /// Values per item.
    pub dims: usize,
    /// Mean of −log p̂(x) in nats (an upper bound on the true NLL in expectation, tight as K
    /// grows).
    pub nll: f64,
    /// Standard error of `nll` over items.
    pub nll_std_error: f64,
    /// Mean negative ELBO in nats over the same K draws (never below `nll`).
    pub negative_elbo: f64,
    /// `nll / (dims · ln 2)`: bits per dimension of the density as fitted.
    pub bits_per_dim: f64,
    /// For uniformly dequantized 8-bit data: `(nll + dims · ln 256) / (dims · ln 2)`, an upper
    /// bound on the discrete 8-bit model's bits per dimension, comparable with the literature.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bits_per_dim_8bit: Option<f64>,
}

/// A running log-sum-exp and sum of one item's log weights.
#[derive(Debug, Clone, Copy)]
struct Accumulator {
    max: f64,
    scaled_sum: f64,
    plain_sum: f64,
    count: usize,
}

impl Accumulator {
    fn new() -> Self {
        Self {
            max: f64::NEG_INFINITY,
            scaled_sum: 0.0,
            plain_sum: 0.0,
            count: 0,
        }
    }

    fn add(&mut self, values: &[f64]) {
        let chunk_max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if chunk_max > self.max {
            self.scaled_sum *= (self.max - chunk_max).exp();
            self.max = chunk_max;
        }
        for &v in values {
            self.scaled_sum += (v - self.max).exp();
            self.plain_sum += v;
        }
        self.count += values.len();
    }

    /// `log (1/n) Σ e^{w}`.
    fn log_mean_exp(&self) -> f64 {
        self.max + self.scaled_sum.ln() - (self.count as f64).ln()
    }
}

/// `log (1/n) Σ e^{w_i}` of host values, stable for any finite values.
pub fn log_mean_exp(values: &[f64]) -> f64 {
    let mut acc = Accumulator::new();
    acc.add(values);
    acc.log_mean_exp()
}

/// Estimates the NLL of every item of `batcher`'s data under `vae` with `importance_samples`
/// draws each, decoding at most `rows_per_pass` codes at once (memory stays bounded for any
/// K). `progress(done, total)` is called after each pass.
pub fn estimate_nll<B: Backend>(
    vae: &Vae<B>,
    batcher: &AeBatcher,
    importance_samples: usize,
    rows_per_pass: usize,
    device: &B::Device,
    mut progress: impl FnMut(usize, usize),
) -> Result<NllEstimate, TrainError> {
    if importance_samples == 0 {
        return Err(TrainError::Invalid(
            "the number of importance samples must be at least 1".into(),
        ));
    }
    let data = batcher.data();
    let items = data.len();
    if items == 0 {
        return Err(TrainError::Invalid("no items to evaluate".into()));
    }
    let rows_per_pass = rows_per_pass.max(1);
    let (items_per_pass, samples_per_pass) = if importance_samples >= rows_per_pass {
        (1, rows_per_pass)
    } else {
        (
            (rows_per_pass / importance_samples).max(1),
            importance_samples,
        )
    };
    let dims = data.target_dim();
    let mut nll_sum = 0.0;
    let mut nll_square_sum = 0.0;
    let mut elbo_sum = 0.0;
    let indices: Vec<usize> = (0..items).collect();
    let mut done = 0;
    for chunk in indices.chunks(items_per_pass) {
        let batch =
            Batcher::<B, usize, ae_data::AeBatch<B>>::batch(batcher, chunk.to_vec(), device);
        let mut accumulators = vec![Accumulator::new(); chunk.len()];
        let mut drawn = 0;
        while drawn < importance_samples {
            let k = samples_per_pass.min(importance_samples - drawn);
            let weights = vae.log_importance_weights(batch.input.clone(), batch.target.clone(), k);
            let values: Vec<f64> = weights.into_data().iter::<f32>().map(f64::from).collect();
            for (acc, row) in accumulators.iter_mut().zip(values.chunks(k)) {
                acc.add(row);
            }
            drawn += k;
        }
        for acc in &accumulators {
            let nll = -acc.log_mean_exp();
            if !nll.is_finite() {
                return Err(TrainError::Diverged(format!(
                    "the log-likelihood estimate of an item is not finite ({nll})"
                )));
            }
            nll_sum += nll;
            nll_square_sum += nll * nll;
            elbo_sum += -acc.plain_sum / acc.count as f64;
        }
        done += chunk.len();
        progress(done, items);
    }
    let n = items as f64;
    let nll = nll_sum / n;
    let variance = (nll_square_sum / n - nll * nll).max(0.0) * n / (n - 1.0).max(1.0);
    let per_dim = dims as f64 * std::f64::consts::LN_2;
    Ok(NllEstimate {
        items,
        importance_samples,
        dims,
        nll,
        nll_std_error: (variance / n).sqrt(),
        negative_elbo: elbo_sum / n,
        bits_per_dim: nll / per_dim,
        bits_per_dim_8bit: batcher
            .dequantizes()
            .then(|| (nll + dims as f64 * 256f64.ln()) / per_dim),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_mean_exp_is_stable_and_exact() {
        assert!((log_mean_exp(&[0.0, 0.0]) - 0.0).abs() < 1e-12);
        let expected = ((1f64.exp() + 2f64.exp() + 3f64.exp()) / 3.0).ln();
        assert!((log_mean_exp(&[1.0, 2.0, 3.0]) - expected).abs() < 1e-12);
        // Far outside exp's range, the shift keeps it finite and exact.
        assert!((log_mean_exp(&[-5000.0, -5000.0]) + 5000.0).abs() < 1e-9);
        assert!(
            (log_mean_exp(&[1000.0, 1000.0 + 2f64.ln()]) - (1000.0 + 1.5f64.ln())).abs() < 1e-9
        );
    }

    #[test]
    fn chunked_accumulation_equals_one_pass() {
        let values: Vec<f64> = (0..100).map(|i| ((i * 37) % 101) as f64 * -3.1).collect();
        let mut acc = Accumulator::new();
        for chunk in values.chunks(7) {
            acc.add(chunk);
        }
        assert!((acc.log_mean_exp() - log_mean_exp(&values)).abs() < 1e-9);
    }
}
