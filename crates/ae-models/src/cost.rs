//! What a model costs in memory before it is built: its number of parameters and the values
//! its layers produce per item, computed from the config alone, so that a size that cannot
//! fit is refused before anything is allocated.

use crate::architecture::ArchitectureConfig;
use crate::model::ModelConfig;
use crate::shape::InputShape;

/// A model's size, from its config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelCost {
    /// Weights and biases.
    pub parameters: u128,
    /// Values the encoder's and decoder's layers produce for one item (each layer's output
    /// once).
    pub activations_per_item: u128,
}

/// Parameters and per-item outputs of a stack of linear layers of `widths`.
fn mlp(widths: &[u128]) -> ModelCost {
    let mut cost = ModelCost {
        parameters: 0,
        activations_per_item: 0,
    };
    for pair in widths.windows(2) {
        cost.parameters = cost
            .parameters
            .saturating_add(pair[0].saturating_mul(pair[1]).saturating_add(pair[1]));
        cost.activations_per_item = cost.activations_per_item.saturating_add(pair[1]);
    }
    cost
}

fn add(a: ModelCost, b: ModelCost) -> ModelCost {
    ModelCost {
        parameters: a.parameters.saturating_add(b.parameters),
        activations_per_item: a
            .activations_per_item
            .saturating_add(b.activations_per_item),
    }
}

/// The cost of an encoder to `encoded` values and its mirrored decoder from `latent` codes to
/// `outputs_per_value` numbers per input value.
fn architecture(
    config: &ArchitectureConfig,
    shape: InputShape,
    encoded: u128,
    latent: u128,
    outputs_per_value: u128,
) -> ModelCost {
    let dim = shape.dim() as u128;
    match config {
        ArchitectureConfig::Mlp { hidden, .. } => {
            let hidden: Vec<u128> = hidden.iter().map(|&h| h as u128).collect();
            let encoder: Vec<u128> = std::iter::once(dim)
                .chain(hidden.iter().copied())
                .chain(std::iter::once(encoded))
                .collect();
            let decoder: Vec<u128> = std::iter::once(latent)
                .chain(hidden.iter().rev().copied())
                .chain(std::iter::once(dim.saturating_mul(outputs_per_value)))
                .collect();
            add(mlp(&encoder), mlp(&decoder))
        }
        ArchitectureConfig::Conv {
            channels,
            kernel_size,
            ..
        } => {
            // An invalid shape is refused by validation; its cost is not needed.
            let sizes = crate::conv::spatial_sizes(shape, channels.len(), *kernel_size)
                .unwrap_or_else(|_| vec![(shape.height, shape.width); channels.len() + 1]);
            let k = (*kernel_size as u128).saturating_mul(*kernel_size as u128);
            let mut cost = ModelCost {
                parameters: 0,
                activations_per_item: 0,
            };
            let mut in_channels = shape.channels as u128;
            for (layer, &out) in channels.iter().enumerate() {
                let out = out as u128;
                let (h, w) = sizes[layer + 1];
                let map = out.saturating_mul(h as u128).saturating_mul(w as u128);
                // A convolution, and its mirrored transposed convolution back to this layer's
                // input channels (to every output number per value at the first layer).
                let back = if layer == 0 {
                    in_channels.saturating_mul(outputs_per_value)
                } else {
                    in_channels
                };
                let conv = in_channels.saturating_mul(out).saturating_mul(k);
                let deconv = out.saturating_mul(back).saturating_mul(k);
                cost = add(
                    cost,
                    ModelCost {
                        parameters: conv
                            .saturating_add(out)
                            .saturating_add(deconv)
                            .saturating_add(back),
                        activations_per_item: map.saturating_mul(2),
                    },
                );
                in_channels = out;
            }
            let (h, w) = sizes[channels.len()];
            let flat = in_channels
                .saturating_mul(h as u128)
                .saturating_mul(w as u128);
            add(cost, add(mlp(&[flat, encoded]), mlp(&[latent, flat])))
        }
    }
}

impl ModelConfig {
    /// The model's size, computed from the config alone.
    pub fn cost(&self) -> ModelCost {
        match self {
            ModelConfig::Autoencoder(c) => {
                let latent = c.latent as u128;
                architecture(&c.architecture, c.input_shape, latent, latent, 1)
            }
            ModelConfig::Vae(c) => {
                let latent = c.latent as u128;
                architecture(
                    &c.architecture,
                    c.input_shape,
                    latent.saturating_mul(2),
                    latent,
                    c.likelihood.outputs_per_value() as u128,
                )
            }
        }
    }

    /// Bytes to hold the model's `f32` parameters `copies` times (1 to use it; about 4 to
    /// train it with Adam: weights, gradients and two moments).
    pub fn parameter_bytes(&self, copies: u128) -> u128 {
        self.cost()
            .parameters
            .saturating_mul(4)
            .saturating_mul(copies)
    }
}
