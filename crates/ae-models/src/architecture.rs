//! Encoder and decoder families (MLP or convolutional), chosen by a config.

use burn::module::Module;
use burn::tensor::{Tensor, backend::Backend};
use serde::{Deserialize, Serialize};

use crate::conv::{ConvDecoder, ConvEncoder};
use crate::mlp::{Mlp, MlpConfig, NormKind, WeightInit};
use crate::{Activation, InputShape, ModelError};

fn default_kernel_size() -> usize {
    4
}

fn is_default<T: Default + PartialEq>(value: &T) -> bool {
    *value == T::default()
}

/// The network family of the encoder; the decoder mirrors it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum ArchitectureConfig {
    /// Fully connected layers; the decoder uses the hidden widths in reverse.
    Mlp {
        /// Hidden widths of the encoder, from the input side.
        hidden: Vec<usize>,
        /// Activation between layers (`none` gives a linear autoencoder).
        #[serde(default)]
        activation: Activation,
        /// Normalization of every hidden layer (`none`, `batch` or `layer`).
        #[serde(default, skip_serializing_if = "is_default")]
        norm: NormKind,
        /// Dropout probability after every hidden layer, while training.
        #[serde(default, skip_serializing_if = "is_default")]
        dropout: f64,
        /// How the weights of the hidden layers are drawn (`default` or `he`).
        #[serde(default, skip_serializing_if = "is_default")]
        init: WeightInit,
    },
    /// Stride-2 convolutions, then a linear layer to the code; mirrored by transposed convolutions.
    Conv {
        /// Output channels of each convolution, from the input side.
        channels: Vec<usize>,
        /// Square kernel size of every (transposed) convolution.
        #[serde(default = "default_kernel_size")]
        kernel_size: usize,
        /// Activation after every convolution.
        #[serde(default)]
        activation: Activation,
    },
}

impl ArchitectureConfig {
    /// An MLP with these hidden widths and activation, without normalization or dropout.
    pub fn mlp(hidden: Vec<usize>, activation: Activation) -> Self {
        ArchitectureConfig::Mlp {
            hidden,
            activation,
            norm: NormKind::None,
            dropout: 0.0,
            init: WeightInit::Default,
        }
    }

    /// Checks the widths against the input shape without building anything.
    pub fn validate(&self, shape: InputShape) -> Result<(), ModelError> {
        match self {
            ArchitectureConfig::Mlp {
                hidden, dropout, ..
            } => {
                if hidden.contains(&0) {
                    return Err(ModelError::InvalidConfig(format!(
                        "hidden layer widths must be positive, got {hidden:?}"
                    )));
                }
                if !(0.0..1.0).contains(dropout) {
                    return Err(ModelError::InvalidConfig(format!(
                        "dropout must lie in [0, 1), got {dropout}"
                    )));
                }
            }
            ArchitectureConfig::Conv {
                channels,
                kernel_size,
                ..
            } => {
                if channels.is_empty() || channels.contains(&0) {
                    return Err(ModelError::InvalidConfig(format!(
                        "conv channels must list at least one layer, each with a positive channel count, got {channels:?}"
                    )));
                }
                crate::conv::spatial_sizes(shape, channels.len(), *kernel_size)?;
            }
        }
        Ok(())
    }

    /// Builds an encoder mapping flat items of `shape` to `output` values.
    pub fn init_encoder<B: Backend>(
        &self,
        shape: InputShape,
        output: usize,
        device: &B::Device,
    ) -> Result<Encoder<B>, ModelError> {
        self.validate(shape)?;
        Ok(match self {
            ArchitectureConfig::Mlp {
                hidden,
                activation,
                norm,
                dropout,
                init,
            } => Encoder::Mlp(
                MlpConfig::new(shape.dim(), hidden.clone(), output)
                    .with_activation(*activation)
                    .with_norm(*norm)
                    .with_dropout(*dropout)
                    .with_init(*init)
                    .init(device),
            ),
            ArchitectureConfig::Conv {
                channels,
                kernel_size,
                activation,
            } => Encoder::Conv(ConvEncoder::new(
                shape,
                channels,
                *kernel_size,
                *activation,
                output,
                device,
            )?),
        })
    }

    /// Builds the mirrored decoder, emitting `outputs_per_value` numbers per input value
    /// (2 for a Gaussian with learned variance: all means first, then all log-variances).
    pub fn init_decoder<B: Backend>(
        &self,
        latent: usize,
        shape: InputShape,
        outputs_per_value: usize,
        device: &B::Device,
    ) -> Result<Decoder<B>, ModelError> {
        self.validate(shape)?;
        Ok(match self {
            ArchitectureConfig::Mlp {
                hidden,
                activation,
                norm,
                dropout,
                init,
            } => Decoder::Mlp(
                MlpConfig::new(
                    latent,
                    hidden.iter().rev().copied().collect(),
                    shape.dim() * outputs_per_value,
                )
                .with_activation(*activation)
                .with_norm(*norm)
                .with_dropout(*dropout)
                .with_init(*init)
                .init(device),
            ),
            ArchitectureConfig::Conv {
                channels,
                kernel_size,
                activation,
            } => Decoder::Conv(ConvDecoder::new(
                latent,
                shape,
                channels,
                *kernel_size,
                *activation,
                outputs_per_value,
                device,
            )?),
        })
    }
}

/// An encoder of either family.
// Built once per model; burn's `Module` derive has no `Box` support, so the size gap stays.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum Encoder<B: Backend> {
    /// Fully connected.
    Mlp(Mlp<B>),
    /// Convolutional.
    Conv(ConvEncoder<B>),
}

impl<B: Backend> Encoder<B> {
    /// Maps flat `[batch, dim]` items to `[batch, output]`.
    pub fn forward(&self, x: Tensor<B, 2>) -> Tensor<B, 2> {
        match self {
            Encoder::Mlp(m) => m.forward(x),
            Encoder::Conv(c) => c.forward(x),
        }
    }
}

/// A decoder of either family.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum Decoder<B: Backend> {
    /// Fully connected.
    Mlp(Mlp<B>),
    /// Convolutional.
    Conv(ConvDecoder<B>),
}

impl<B: Backend> Decoder<B> {
    /// Maps `[batch, latent]` codes to flat `[batch, dim * outputs_per_value]` parameters.
    pub fn forward(&self, z: Tensor<B, 2>) -> Tensor<B, 2> {
        match self {
            Decoder::Mlp(m) => m.forward(z),
            Decoder::Conv(c) => c.forward(z),
        }
    }
}
