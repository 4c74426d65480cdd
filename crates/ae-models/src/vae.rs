//! The variational autoencoder: a Gaussian posterior with learned mean and log-variance,
//! reparameterized sampling, and a Bernoulli or Gaussian decoder likelihood.

use burn::config::Config;
use burn::module::Module;
use burn::tensor::{Distribution, Tensor, backend::Backend};

use serde::{Deserialize, Serialize};

use crate::likelihood::{kl_standard_normal, squared_error};
use crate::{
    ArchitectureConfig, Decoder, Encoder, InputShape, Likelihood, ModelError, ModelOutput,
};

/// Range the posterior log-variance is clamped to (σ from e^-15 to e^10): keeps e^lv finite.
pub const POSTERIOR_LOG_VARIANCE_RANGE: (f64, f64) = (-30.0, 20.0);

/// The bound a VAE is trained on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Objective {
    /// The evidence lower bound, its reconstruction term averaged over the `samples` draws of z
    /// and its KL term in closed form.
    #[default]
    Elbo,
    /// The importance-weighted bound of Burda et al. (2016) with `samples` draws of z:
    /// `log (1/k) Σ p(x, z_i) / q(z_i | x)`, tighter than the ELBO for k > 1 and equal to it
    /// (in expectation) for k = 1.
    Iwae,
}

/// A VAE's shape, likelihood and KL weighting.
#[derive(Config, Debug)]
pub struct VaeConfig {
    /// Shape of one input item (filled in from the data at training time).
    #[config(default = "InputShape::new(1, 28, 28)")]
    pub input_shape: InputShape,
    /// Number of latent dimensions.
    pub latent: usize,
    /// Encoder family and widths; the decoder mirrors it.
    pub architecture: ArchitectureConfig,
    /// The decoder's distribution over values.
    #[config(default = "Likelihood::Bernoulli")]
    pub likelihood: Likelihood,
    /// Weight β of the KL term (1 for the ELBO).
    #[config(default = 1.0)]
    pub beta: f64,
    /// Optimizer steps over which the KL weight rises linearly from 0 to β (0: no warm-up).
    #[config(default = 0)]
    pub kl_warmup_steps: usize,
    /// The bound trained on.
    #[config(default = "Objective::Elbo")]
    pub objective: Objective,
    /// Draws of z per input and step (k of the importance-weighted bound).
    #[config(default = 1)]
    pub samples: usize,
}

impl VaeConfig {
    /// Checks the values that do not depend on a device.
    pub fn validate(&self) -> Result<(), ModelError> {
        if self.latent == 0 {
            return Err(ModelError::InvalidConfig(
                "latent size must be positive".into(),
            ));
        }
        if !(self.beta.is_finite() && self.beta >= 0.0) {
            return Err(ModelError::InvalidConfig(format!(
                "beta must be finite and non-negative, got {}",
                self.beta
            )));
        }
        if self.samples == 0 {
            return Err(ModelError::InvalidConfig(
                "samples (draws of z per input) must be at least 1".into(),
            ));
        }
        if let Likelihood::Gaussian { variance } = self.likelihood
            && !(variance.is_finite() && variance > 0.0)
        {
            return Err(ModelError::InvalidConfig(format!(
                "the Gaussian likelihood's variance must be positive, got {variance}"
            )));
        }
        if let Likelihood::GaussianLearned { min_log_variance } = self.likelihood
            && !min_log_variance.is_finite()
        {
            return Err(ModelError::InvalidConfig(
                "min_log_variance must be finite".into(),
            ));
        }
        Ok(())
    }

    /// Builds the VAE on `device`, with every parameter drawn (see
    /// [`materialize`](crate::model::materialize)).
    pub fn init<B: Backend>(&self, device: &B::Device) -> Result<Vae<B>, ModelError> {
        self.validate()?;
        Ok(crate::model::materialize(Vae {
            encoder: self
                .architecture
                .init_encoder(self.input_shape, 2 * self.latent, device)?,
            decoder: self.architecture.init_decoder(
                self.latent,
                self.input_shape,
                self.likelihood.outputs_per_value(),
                device,
            )?,
            likelihood: self.likelihood,
            latent: self.latent,
            beta: self.beta,
            kl_warmup_steps: self.kl_warmup_steps,
            objective: self.objective,
            samples: self.samples,
        }))
    }
}

/// Encoder to a Gaussian posterior, decoder to the parameters of a distribution over values.
#[derive(Module, Debug)]
pub struct Vae<B: Backend> {
    /// Emits the posterior mean and log-variance (concatenated).
    pub encoder: Encoder<B>,
    /// Emits the likelihood's parameters.
    pub decoder: Decoder<B>,
    /// The decoder's distribution over values.
    #[module(skip)]
    pub likelihood: Likelihood,
    /// Number of latent dimensions.
    #[module(skip)]
    pub latent: usize,
    /// KL weight β.
    #[module(skip)]
    pub beta: f64,
    /// KL warm-up length in steps.
    #[module(skip)]
    pub kl_warmup_steps: usize,
    /// The bound trained on.
    #[module(skip)]
    pub objective: Objective,
    /// Draws of z per input and training step.
    #[module(skip)]
    pub samples: usize,
}

impl<B: Backend> Vae<B> {
    /// Posterior mean and (clamped) log-variance of each input.
    pub fn encode(&self, input: Tensor<B, 2>) -> (Tensor<B, 2>, Tensor<B, 2>) {
        let out = self.encoder.forward(input);
        let mean = out.clone().narrow(1, 0, self.latent);
        let (lo, hi) = POSTERIOR_LOG_VARIANCE_RANGE;
        let log_variance = out.narrow(1, self.latent, self.latent).clamp(lo, hi);
        (mean, log_variance)
    }

    /// Posterior mean of each input alone (no log-variance computed).
    pub fn encode_mean(&self, input: Tensor<B, 2>) -> Tensor<B, 2> {
        self.encoder.forward(input).narrow(1, 0, self.latent)
    }

    /// Reparameterized sample z = μ + σ·ε with ε ~ N(0, I).
    pub fn reparameterize(&self, mean: Tensor<B, 2>, log_variance: Tensor<B, 2>) -> Tensor<B, 2> {
        let noise = mean.random_like(Distribution::Normal(0.0, 1.0));
        mean + (log_variance * 0.5).exp() * noise
    }

    /// The likelihood's raw parameters for each code.
    pub fn decode_params(&self, latent: Tensor<B, 2>) -> Tensor<B, 2> {
        self.decoder.forward(latent)
    }

    /// The mean of the decoder's distribution for each code.
    pub fn decode(&self, latent: Tensor<B, 2>) -> Tensor<B, 2> {
        self.likelihood.mean(self.decode_params(latent))
    }

    /// The KL weight after `step` optimizer steps (β, ramped up during warm-up).
    pub fn kl_weight(&self, step: usize) -> f64 {
        if self.kl_warmup_steps == 0 {
            self.beta
        } else {
            self.beta * (step as f64 / self.kl_warmup_steps as f64).min(1.0)
        }
    }

    /// Encodes, draws `samples` z per input, decodes, and scores against `target` with the
    /// configured [`Objective`]. The reconstruction and latent returned are those of the first
    /// draw; the reconstruction term is averaged over the draws and the KL is in closed form.
    pub fn forward(
        &self,
        input: Tensor<B, 2>,
        target: Tensor<B, 2>,
        kl_weight: f64,
    ) -> ModelOutput<B> {
        let [batch, _] = input.dims();
        let k = self.samples.max(1);
        let (mean, log_variance) = self.encode(input);
        let kl = kl_standard_normal(mean.clone(), log_variance.clone());
        let draws = self.draw(mean.clone(), log_variance.clone(), target.clone(), k);
        let nll_per_draw = draws.nll.clone().reshape([batch, k]);
        let reconstruction_loss = nll_per_draw.clone().mean_dim(1).squeeze_dim::<1>(1);
        let total = match self.objective {
            Objective::Elbo => reconstruction_loss.clone() + kl.clone() * kl_weight,
            Objective::Iwae => {
                let log_weights =
                    nll_per_draw.neg() + draws.log_prior_ratio.reshape([batch, k]) * kl_weight;
                log_mean_exp(log_weights).neg()
            }
        };
        let first = |t: Tensor<B, 2>| {
            let [_, width] = t.dims();
            t.reshape([batch, k, width])
                .narrow(1, 0, 1)
                .reshape([batch, width])
        };
        let reconstruction = first(draws.reconstruction);
        let latent = first(draws.latent);
        let squared_error = squared_error(reconstruction.clone().detach(), target);
        ModelOutput {
            reconstruction,
            latent,
            mean: Some(mean),
            log_variance: Some(log_variance),
            reconstruction_loss,
            kl: Some(kl),
            total,
            squared_error,
        }
    }

    /// Log importance weights `log p(x | z_i) + log p(z_i) − log q(z_i | x)` of `k` draws
    /// z_i ~ q(z | x) per input, `[batch, k]`, in nats. Their log-mean-exp is the importance
    /// sampling estimate of `log p(x)` (a lower bound in expectation, tight as k grows); with
    /// k = 1 its expectation is the ELBO.
    pub fn log_importance_weights(
        &self,
        input: Tensor<B, 2>,
        target: Tensor<B, 2>,
        k: usize,
    ) -> Tensor<B, 2> {
        let [batch, _] = input.dims();
        let k = k.max(1);
        let (mean, log_variance) = self.encode(input);
        let draws = self.draw(mean, log_variance, target, k);
        (draws.nll.neg() + draws.log_prior_ratio).reshape([batch, k])
    }

    /// Draws `k` codes per posterior (rows grouped by input: input-major), decodes them and
    /// scores `target`, each input's target repeated `k` times.
    fn draw(
        &self,
        mean: Tensor<B, 2>,
        log_variance: Tensor<B, 2>,
        target: Tensor<B, 2>,
        k: usize,
    ) -> Draws<B> {
        let [batch, latent] = mean.dims();
        let [_, dim] = target.dims();
        let repeat = |t: Tensor<B, 2>, width: usize| {
            if k == 1 {
                t
            } else {
                t.unsqueeze_dim::<3>(1)
                    .repeat_dim(1, k)
                    .reshape([batch * k, width])
            }
        };
        let mean = repeat(mean, latent);
        let log_variance = repeat(log_variance, latent);
        let target = repeat(target, dim);
        let noise = mean.random_like(Distribution::Normal(0.0, 1.0));
        let latent_code = mean + (log_variance.clone() * 0.5).exp() * noise.clone();
        let params = self.decode_params(latent_code.clone());
        let reconstruction = self.likelihood.mean(params.clone());
        let nll = self.likelihood.nll(params, target);
        // log p(z) − log q(z|x); with z = μ + σε, log q = −½ Σ (ε² + lv + ln 2π).
        let log_prior_ratio = ((noise.square() + log_variance) - latent_code.clone().square())
            .sum_dim(1)
            .squeeze_dim::<1>(1)
            * 0.5;
        Draws {
            latent: latent_code,
            reconstruction,
            nll,
            log_prior_ratio,
        }
    }
}

/// Codes drawn from the posterior and what the decoder makes of them, one row per draw.
struct Draws<B: Backend> {
    latent: Tensor<B, 2>,
    reconstruction: Tensor<B, 2>,
    nll: Tensor<B, 1>,
    log_prior_ratio: Tensor<B, 1>,
}

/// `log (1/k) Σ_j e^{x_ij}` over the columns of `[rows, k]`, stable for any finite values
/// (the row maximum is factored out, detached so it acts as a constant).
pub fn log_mean_exp<B: Backend>(values: Tensor<B, 2>) -> Tensor<B, 1> {
    let max = values.clone().max_dim(1).detach();
    let shifted = (values - max.clone()).exp().mean_dim(1).log();
    (shifted + max).squeeze_dim::<1>(1)
}
