//! Models looked up by name: one config enum and one module enum over every model kind.

use burn::module::Module;
use burn::tensor::{Tensor, backend::Backend};
use serde::{Deserialize, Serialize};

use crate::{Autoencoder, AutoencoderConfig, InputShape, ModelError, ModelOutput, Vae, VaeConfig};

/// Any model's config, tagged by name (`model = "autoencoder"` or `model = "vae"`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "model", rename_all = "kebab-case")]
pub enum ModelConfig {
    /// A plain (or, trained on corrupted inputs, denoising) autoencoder.
    Autoencoder(AutoencoderConfig),
    /// A variational autoencoder.
    Vae(VaeConfig),
}

impl burn::config::Config for ModelConfig {}

impl ModelConfig {
    /// The model's name as it appears in configs.
    pub fn name(&self) -> &'static str {
        match self {
            ModelConfig::Autoencoder(_) => "autoencoder",
            ModelConfig::Vae(_) => "vae",
        }
    }

    /// Shape of one input item.
    pub fn input_shape(&self) -> InputShape {
        match self {
            ModelConfig::Autoencoder(c) => c.input_shape,
            ModelConfig::Vae(c) => c.input_shape,
        }
    }

    /// Sets the input shape (taken from the data at training time).
    pub fn set_input_shape(&mut self, shape: InputShape) {
        match self {
            ModelConfig::Autoencoder(c) => c.input_shape = shape,
            ModelConfig::Vae(c) => c.input_shape = shape,
        }
    }

    /// Number of latent dimensions.
    pub fn latent(&self) -> usize {
        match self {
            ModelConfig::Autoencoder(c) => c.latent,
            ModelConfig::Vae(c) => c.latent,
        }
    }

    /// Checks the config and builds nothing.
    pub fn validate(&self) -> Result<(), ModelError> {
        let shape = self.input_shape();
        if shape.dim() == 0 {
            return Err(ModelError::InvalidConfig(format!(
                "input shape {}x{}x{} has no values",
                shape.channels, shape.height, shape.width
            )));
        }
        match self {
            ModelConfig::Autoencoder(c) => {
                if c.latent == 0 {
                    return Err(ModelError::InvalidConfig(
                        "latent size must be positive".into(),
                    ));
                }
                c.architecture.validate(shape)
            }
            ModelConfig::Vae(c) => {
                c.validate()?;
                c.architecture.validate(shape)
            }
        }
    }

    /// Builds the model on `device` (its parameters already drawn: each model's `init`
    /// [materializes](materialize) them).
    pub fn init<B: Backend>(&self, device: &B::Device) -> Result<AnyModel<B>, ModelError> {
        self.validate()?;
        Ok(match self {
            ModelConfig::Autoencoder(c) => AnyModel::Autoencoder(c.init(device)?),
            ModelConfig::Vae(c) => AnyModel::Vae(c.init(device)?),
        })
    }
}

/// Any model, so that one trainer, one checkpoint format and one CLI serve them all.
#[derive(Module, Debug)]
pub enum AnyModel<B: Backend> {
    /// A plain or denoising autoencoder.
    Autoencoder(Autoencoder<B>),
    /// A variational autoencoder.
    Vae(Vae<B>),
}

impl<B: Backend> AnyModel<B> {
    /// Forward pass scored against `target`; `kl_weight` scales a VAE's KL term.
    pub fn forward(
        &self,
        input: Tensor<B, 2>,
        target: Tensor<B, 2>,
        kl_weight: f64,
    ) -> ModelOutput<B> {
        match self {
            AnyModel::Autoencoder(m) => m.forward(input, target),
            AnyModel::Vae(m) => m.forward(input, target, kl_weight),
        }
    }

    /// Deterministic code of each input (the posterior mean for a VAE).
    pub fn encode(&self, input: Tensor<B, 2>) -> Tensor<B, 2> {
        match self {
            AnyModel::Autoencoder(m) => m.encode(input),
            AnyModel::Vae(m) => m.encode(input).0,
        }
    }

    /// Mean reconstruction for each code.
    pub fn decode(&self, latent: Tensor<B, 2>) -> Tensor<B, 2> {
        match self {
            AnyModel::Autoencoder(m) => m.decode(latent),
            AnyModel::Vae(m) => m.decode(latent),
        }
    }

    /// The KL weight to use after `step` optimizer steps (0 for an autoencoder).
    pub fn kl_weight(&self, step: usize) -> f64 {
        match self {
            AnyModel::Autoencoder(_) => 0.0,
            AnyModel::Vae(m) => m.kl_weight(step),
        }
    }

    /// The VAE inside, if this is one.
    pub fn as_vae(&self) -> Option<&Vae<B>> {
        match self {
            AnyModel::Vae(m) => Some(m),
            AnyModel::Autoencoder(_) => None,
        }
    }
}

/// Draws every lazily initialized parameter now. burn initializes parameters on first use, and
/// a clone of a not-yet-initialized module draws its own values: without this, a model and the
/// copy saved from it (or handed to a trainer) could hold different weights.
pub fn materialize<B: Backend, M: Module<B>>(module: M) -> M {
    let record = module.clone().into_record();
    module.load_record(record)
}
