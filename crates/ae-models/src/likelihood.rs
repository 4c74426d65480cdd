//! Decoder likelihoods and the numerically stable loss terms they need, all per example in nats.

use burn::tensor::{Tensor, activation, backend::Backend};
use serde::{Deserialize, Serialize};

/// ln(2π).
const LN_2PI: f64 = 1.837_877_066_409_345_3;

/// Largest decoder log-variance allowed (a standard deviation of e^5 ≈ 148).
pub const MAX_DECODER_LOG_VARIANCE: f64 = 10.0;

fn default_min_log_variance() -> f64 {
    -8.0
}

/// The distribution over each value that a VAE's decoder parameterizes.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Likelihood {
    /// Bernoulli with logits: binary cross-entropy; the reconstruction is sigmoid(logits).
    Bernoulli,
    /// Gaussian with a fixed variance shared by every value; the decoder emits the mean.
    Gaussian {
        /// The fixed variance σ².
        variance: f64,
    },
    /// Gaussian with a learned variance per value: the decoder emits a mean and a log-variance.
    GaussianLearned {
        /// Soft lower bound on the log-variance (keeps the density finite on flat pixels).
        #[serde(default = "default_min_log_variance")]
        min_log_variance: f64,
    },
}

impl Likelihood {
    /// How many decoder outputs each input value needs.
    pub fn outputs_per_value(&self) -> usize {
        match self {
            Likelihood::GaussianLearned { .. } => 2,
            _ => 1,
        }
    }

    /// The mean of the distribution over values, `[batch, dim]`.
    pub fn mean<B: Backend>(&self, params: Tensor<B, 2>) -> Tensor<B, 2> {
        match self {
            Likelihood::Bernoulli => ae_kernels::sigmoid(params),
            Likelihood::Gaussian { .. } => params,
            Likelihood::GaussianLearned { .. } => {
                let [_, width] = params.dims();
                params.narrow(1, 0, width / 2)
            }
        }
    }

    /// The per-value log-variance for a learned-variance Gaussian, `[batch, dim]`.
    pub fn log_variance<B: Backend>(&self, params: Tensor<B, 2>) -> Option<Tensor<B, 2>> {
        match self {
            Likelihood::GaussianLearned { min_log_variance } => {
                let [_, width] = params.dims();
                let raw = params.narrow(1, width / 2, width / 2);
                Some(soft_floor(raw, *min_log_variance).clamp_max(MAX_DECODER_LOG_VARIANCE))
            }
            _ => None,
        }
    }

    /// Negative log-likelihood of `target` under the decoder's `params`, summed per example.
    pub fn nll<B: Backend>(&self, params: Tensor<B, 2>, target: Tensor<B, 2>) -> Tensor<B, 1> {
        match self {
            Likelihood::Bernoulli => bce_with_logits(params, target),
            Likelihood::Gaussian { variance } => {
                let [_, dim] = target.dims();
                let squared = (params - target).square().sum_dim(1).squeeze_dim::<1>(1);
                squared / (2.0 * variance) + 0.5 * dim as f64 * (LN_2PI + variance.ln())
            }
            Likelihood::GaussianLearned { .. } => {
                let log_variance = self.log_variance(params.clone());
                let mean = self.mean(params);
                match log_variance {
                    Some(lv) => gaussian_nll(mean, lv, target),
                    None => unreachable!("a learned-variance likelihood always has a log-variance"),
                }
            }
        }
    }
}

/// `floor + softplus(x - floor)`: equals x far above the floor, never goes below it, and keeps
/// a gradient everywhere (unlike a hard clamp).
pub fn soft_floor<B: Backend, const D: usize>(x: Tensor<B, D>, floor: f64) -> Tensor<B, D> {
    softplus(x - floor) + floor
}

/// `ln(1 + e^x)`, finite for any finite x and with gradient exactly `sigmoid(x)` everywhere.
///
/// Uses `ln(1 + e^x) = m + ln(e^(−m) + e^(x − m))`, which holds for any constant m; with
/// m = max(x, 0) (detached, so it acts as a constant shift) both exponents are ≤ 0. burn's
/// `activation::softplus` computes `ln(1 + e^x)` directly, which overflows to ∞ (and a NaN
/// gradient) for x ≳ 88 in f32; the `relu(x) + ln(1 + e^(−|x|))` form is finite but its
/// gradient at exactly x = 0 is 0 (the subgradients of relu and |x| at 0) instead of ½.
pub fn softplus<B: Backend, const D: usize>(x: Tensor<B, D>) -> Tensor<B, D> {
    let shift = activation::relu(x.clone()).detach();
    shift.clone() + (shift.clone().neg().exp() + (x - shift).exp()).log()
}

/// Binary cross-entropy with logits, summed over values: `ln(1 + e^l) − l·x`, stable for any
/// logit (see [`softplus`]), with gradient `sigmoid(l) − x` everywhere.
///
/// On burn-flex this is one fused operation ([`ae_kernels::loss::bce_with_logits`]), the
/// same formula with `ln(1 + e^(−|l|))` through `ln_1p`.
pub fn bce_with_logits<B: Backend>(logits: Tensor<B, 2>, target: Tensor<B, 2>) -> Tensor<B, 1> {
    let (logits, target) = match ae_kernels::loss::bce_with_logits(logits, target) {
        Ok(loss) => return loss,
        Err(inputs) => inputs,
    };
    let loss = softplus(logits.clone()) - logits * target;
    loss.sum_dim(1).squeeze_dim::<1>(1)
}

/// Gaussian negative log-likelihood with per-value mean and log-variance, summed over values.
pub fn gaussian_nll<B: Backend>(
    mean: Tensor<B, 2>,
    log_variance: Tensor<B, 2>,
    target: Tensor<B, 2>,
) -> Tensor<B, 1> {
    let squared = (target - mean).square();
    let per_value = (squared * log_variance.clone().neg().exp() + log_variance + LN_2PI) * 0.5;
    per_value.sum_dim(1).squeeze_dim::<1>(1)
}

/// KL(N(μ, e^lv) ‖ N(0, I)) in closed form, summed over latent dimensions.
pub fn kl_standard_normal<B: Backend>(
    mean: Tensor<B, 2>,
    log_variance: Tensor<B, 2>,
) -> Tensor<B, 1> {
    let per_dim = (mean.square() + log_variance.clone().exp() - log_variance - 1.0) * 0.5;
    per_dim.sum_dim(1).squeeze_dim::<1>(1)
}

/// Squared error summed over values.
pub fn squared_error<B: Backend>(prediction: Tensor<B, 2>, target: Tensor<B, 2>) -> Tensor<B, 1> {
    (prediction - target)
        .square()
        .sum_dim(1)
        .squeeze_dim::<1>(1)
}
