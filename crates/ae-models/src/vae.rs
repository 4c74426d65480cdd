//! The variational autoencoder: a Gaussian posterior with learned mean and log-variance,
//! reparameterized sampling, and a Bernoulli or Gaussian decoder likelihood.

use burn::config::Config;
use burn::module::Module;
use burn::tensor::{Distribution, Tensor, backend::Backend};

use crate::likelihood::{kl_standard_normal, squared_error};
use crate::{
    ArchitectureConfig, Decoder, Encoder, InputShape, Likelihood, ModelError, ModelOutput,
};

/// Range the posterior log-variance is clamped to (σ from e^-15 to e^10): keeps e^lv finite.
pub const POSTERIOR_LOG_VARIANCE_RANGE: (f64, f64) = (-30.0, 20.0);

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

    /// Encodes, samples one z per input, decodes, and scores against `target`.
    pub fn forward(
        &self,
        input: Tensor<B, 2>,
        target: Tensor<B, 2>,
        kl_weight: f64,
    ) -> ModelOutput<B> {
        let (mean, log_variance) = self.encode(input);
        let latent = self.reparameterize(mean.clone(), log_variance.clone());
        let params = self.decode_params(latent.clone());
        let reconstruction = self.likelihood.mean(params.clone());
        let reconstruction_loss = self.likelihood.nll(params, target.clone());
        let kl = kl_standard_normal(mean.clone(), log_variance.clone());
        let total = reconstruction_loss.clone() + kl.clone() * kl_weight;
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
}
