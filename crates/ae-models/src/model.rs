//! Models looked up by name: one config enum and one module enum over every model kind.

use burn::module::Module;
use burn::tensor::{Tensor, backend::Backend};
use serde::{Deserialize, Deserializer, Serialize};

use crate::{Autoencoder, AutoencoderConfig, InputShape, ModelError, ModelOutput, Vae, VaeConfig};

/// Any model's config, tagged by name (`model = "autoencoder"` or `model = "vae"`).
///
/// Keys left out take their defaults when read, so configs written before a field existed
/// (an older `model.json`, a hand-written file) still load.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "model", rename_all = "kebab-case")]
pub enum ModelConfig {
    /// A plain (or, trained on corrupted inputs, denoising) autoencoder.
    Autoencoder(AutoencoderConfig),
    /// A variational autoencoder.
    Vae(VaeConfig),
}

/// The serialized form [`ModelConfig`] is read through, once its defaults are filled in.
#[derive(Deserialize)]
#[serde(tag = "model", rename_all = "kebab-case")]
enum TaggedModelConfig {
    Autoencoder(AutoencoderConfig),
    Vae(VaeConfig),
}

impl<'de> Deserialize<'de> for ModelConfig {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut value = serde_json::Value::deserialize(deserializer)?;
        fill_defaults(&mut value);
        let tagged = TaggedModelConfig::deserialize(value).map_err(serde::de::Error::custom)?;
        Ok(match tagged {
            TaggedModelConfig::Autoencoder(c) => ModelConfig::Autoencoder(c),
            TaggedModelConfig::Vae(c) => ModelConfig::Vae(c),
        })
    }
}

/// Adds the defaults of the named model's config (burn's `Config` derive requires every
/// field) for the top-level keys `value` leaves out, taking them from the config types.
fn fill_defaults(value: &mut serde_json::Value) {
    let Some(fields) = value.as_object_mut() else {
        return;
    };
    let architecture = crate::ArchitectureConfig::mlp(Vec::new(), Default::default());
    let template = match fields.get("model").and_then(|v| v.as_str()) {
        Some("autoencoder") => ModelConfig::Autoencoder(AutoencoderConfig::new(1, architecture)),
        Some("vae") => ModelConfig::Vae(VaeConfig::new(1, architecture)),
        _ => return,
    };
    let Ok(serde_json::Value::Object(defaults)) = serde_json::to_value(&template) else {
        return;
    };
    for (key, default) in defaults {
        if key != "latent" && key != "architecture" && !fields.contains_key(&key) {
            fields.insert(key, default);
        }
    }
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
                if !(0.0..1.0).contains(&c.code_dropout) {
                    return Err(ModelError::InvalidConfig(format!(
                        "code_dropout must lie in [0, 1), got {}",
                        c.code_dropout
                    )));
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
        ae_kernels::on_cpu_pool::<B, _>(|| match self {
            AnyModel::Autoencoder(m) => m.encode(input),
            AnyModel::Vae(m) => m.encode_mean(input),
        })
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
