//! The plain autoencoder; trained on corrupted inputs it is a denoising autoencoder.

use burn::config::Config;
use burn::module::Module;
use burn::tensor::{Tensor, backend::Backend};
use serde::{Deserialize, Serialize};

use crate::likelihood::{bce_with_logits, squared_error};
use crate::{ArchitectureConfig, Decoder, Encoder, InputShape, ModelError, ModelOutput};

/// How an autoencoder scores a reconstruction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReconstructionLoss {
    /// Binary cross-entropy on sigmoid outputs (values in [0, 1]).
    #[default]
    Bce,
    /// Squared error on linear outputs (any real values).
    SquaredError,
}

/// An autoencoder's shape and loss.
#[derive(Config, Debug)]
pub struct AutoencoderConfig {
    /// Shape of one input item (filled in from the data at training time).
    #[config(default = "InputShape::new(1, 28, 28)")]
    pub input_shape: InputShape,
    /// Size of the code.
    pub latent: usize,
    /// Encoder family and widths; the decoder mirrors it.
    pub architecture: ArchitectureConfig,
    /// Reconstruction loss.
    #[config(default = "ReconstructionLoss::Bce")]
    pub loss: ReconstructionLoss,
    /// Dropout probability on the code while training (a noisy bottleneck); none at
    /// inference.
    #[config(default = 0.0)]
    pub code_dropout: f64,
}

impl AutoencoderConfig {
    /// Builds the autoencoder on `device`, with every parameter drawn (see
    /// [`materialize`](crate::model::materialize)).
    pub fn init<B: Backend>(&self, device: &B::Device) -> Result<Autoencoder<B>, ModelError> {
        if self.latent == 0 {
            return Err(ModelError::InvalidConfig(
                "latent size must be positive".into(),
            ));
        }
        if !(0.0..1.0).contains(&self.code_dropout) {
            return Err(ModelError::InvalidConfig(format!(
                "code_dropout must lie in [0, 1), got {}",
                self.code_dropout
            )));
        }
        Ok(crate::model::materialize(Autoencoder {
            encoder: self
                .architecture
                .init_encoder(self.input_shape, self.latent, device)?,
            decoder: self
                .architecture
                .init_decoder(self.latent, self.input_shape, 1, device)?,
            loss: self.loss,
            code_dropout: self.code_dropout,
        }))
    }
}

/// Encoder to a deterministic code, decoder back to the input space.
#[derive(Module, Debug)]
pub struct Autoencoder<B: Backend> {
    /// The encoder.
    pub encoder: Encoder<B>,
    /// The decoder.
    pub decoder: Decoder<B>,
    /// The reconstruction loss.
    #[module(skip)]
    pub loss: ReconstructionLoss,
    /// Dropout probability on the code while training.
    #[module(skip)]
    pub code_dropout: f64,
}

impl<B: Backend> Autoencoder<B> {
    /// The code of each input.
    pub fn encode(&self, input: Tensor<B, 2>) -> Tensor<B, 2> {
        self.encoder.forward(input)
    }

    /// The reconstruction for each code.
    pub fn decode(&self, latent: Tensor<B, 2>) -> Tensor<B, 2> {
        let out = self.decoder.forward(latent);
        match self.loss {
            ReconstructionLoss::Bce => ae_kernels::sigmoid(out),
            ReconstructionLoss::SquaredError => out,
        }
    }

    /// Encodes `input`, decodes, and scores the reconstruction against `target`.
    pub fn forward(&self, input: Tensor<B, 2>, target: Tensor<B, 2>) -> ModelOutput<B> {
        let latent = self.encode(input);
        let code = if self.code_dropout > 0.0 {
            burn::nn::DropoutConfig::new(self.code_dropout)
                .init()
                .forward(latent.clone())
        } else {
            latent.clone()
        };
        let out = self.decoder.forward(code);
        let (reconstruction, reconstruction_loss) = match self.loss {
            ReconstructionLoss::Bce => (
                ae_kernels::sigmoid(out.clone()),
                bce_with_logits(out, target.clone()),
            ),
            ReconstructionLoss::SquaredError => (out.clone(), squared_error(out, target.clone())),
        };
        let squared_error = squared_error(reconstruction.clone().detach(), target);
        ModelOutput {
            reconstruction,
            latent,
            mean: None,
            log_variance: None,
            total: reconstruction_loss.clone(),
            reconstruction_loss,
            kl: None,
            squared_error,
        }
    }
}
