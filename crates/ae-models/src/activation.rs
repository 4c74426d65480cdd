//! Hidden-layer activation functions, chosen by name in a config.

use burn::tensor::{Tensor, activation, backend::Backend};
use serde::{Deserialize, Serialize};

/// A hidden-layer nonlinearity; `none` makes a linear network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Activation {
    /// max(x, 0).
    #[default]
    Relu,
    /// max(x, 0.01 x).
    LeakyRelu,
    /// Hyperbolic tangent.
    Tanh,
    /// Logistic sigmoid.
    Sigmoid,
    /// Gaussian error linear unit.
    Gelu,
    /// Exponential linear unit (α = 1).
    Elu,
    /// Identity: no nonlinearity (a linear autoencoder).
    None,
}

impl Activation {
    /// Applies the activation elementwise.
    pub fn apply<B: Backend, const D: usize>(&self, x: Tensor<B, D>) -> Tensor<B, D> {
        match self {
            Activation::Relu => activation::relu(x),
            Activation::LeakyRelu => activation::leaky_relu(x, 0.01),
            Activation::Tanh => activation::tanh(x),
            Activation::Sigmoid => ae_kernels::sigmoid(x),
            Activation::Gelu => activation::gelu(x),
            Activation::Elu => activation::elu(x, 1.0),
            Activation::None => x,
        }
    }
}
