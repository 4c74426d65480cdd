//! A multilayer perceptron: linear layers with an activation between them, optionally
//! normalized and with dropout.

use burn::config::Config;
use burn::module::Module;
use burn::nn::{
    BatchNormConfig, DropoutConfig, Initializer, LayerNormConfig, Linear, LinearConfig,
    norm::Normalization,
};
use burn::tensor::{Tensor, backend::Backend};
use serde::{Deserialize, Serialize};

use crate::Activation;

/// Normalization after each hidden linear layer, before its activation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NormKind {
    /// No normalization.
    #[default]
    None,
    /// Batch normalization (Ioffe and Szegedy, 2015): each unit standardized over the batch
    /// while training, by running means and variances afterwards.
    Batch,
    /// Layer normalization (Ba et al., 2016): each item's units standardized together.
    Layer,
}

impl NormKind {
    fn init<B: Backend>(self, width: usize, device: &B::Device) -> Option<Normalization<B>> {
        match self {
            NormKind::None => None,
            NormKind::Batch => Some(BatchNormConfig::new(width).init(device).into()),
            NormKind::Layer => Some(LayerNormConfig::new(width).init(device).into()),
        }
    }
}

/// How the weights of the hidden layers (those followed by an activation) are drawn; the
/// output layer and every bias always use the default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WeightInit {
    /// burn's and PyTorch's `Linear` default: uniform in ±1/√fan_in.
    #[default]
    Default,
    /// He et al. (2015) for ReLU layers: uniform in ±√(6/fan_in), √6 times the default
    /// (PyTorch's `kaiming_uniform_`, which PyOD's tabular autoencoder draws its layers with).
    He,
}

impl WeightInit {
    /// A linear layer `input → output` whose weights follow `self` and whose bias follows the
    /// default.
    fn linear<B: Backend>(self, input: usize, output: usize, device: &B::Device) -> Linear<B> {
        let config = LinearConfig::new(input, output);
        match self {
            WeightInit::Default => config.init(device),
            WeightInit::He => {
                // burn draws the bias with the weights' initializer; keep the default's.
                let bias =
                    config
                        .initializer
                        .init_with([output], Some(input), Some(output), device);
                let mut linear = config
                    .with_initializer(Initializer::KaimingUniform {
                        gain: std::f64::consts::SQRT_2,
                        fan_out_only: false,
                    })
                    .init(device);
                linear.bias = Some(bias);
                linear
            }
        }
    }
}

/// Widths, activation and regularization of an MLP.
#[derive(Config, Debug)]
pub struct MlpConfig {
    /// Input width.
    pub input: usize,
    /// Hidden widths, in order.
    pub hidden: Vec<usize>,
    /// Output width.
    pub output: usize,
    /// Activation after every hidden layer (never after the output layer).
    #[config(default = "Activation::Relu")]
    pub activation: Activation,
    /// Normalization of every hidden layer (never of the output layer).
    #[config(default = "NormKind::None")]
    pub norm: NormKind,
    /// Probability of zeroing each hidden unit while training (inverted dropout; none at
    /// inference).
    #[config(default = 0.0)]
    pub dropout: f64,
    /// How the hidden layers' weights are drawn.
    #[config(default = "WeightInit::Default")]
    pub init: WeightInit,
}

impl MlpConfig {
    /// Builds the MLP on `device`.
    pub fn init<B: Backend>(&self, device: &B::Device) -> Mlp<B> {
        let mut widths = vec![self.input];
        widths.extend(&self.hidden);
        widths.push(self.output);
        let hidden = self.hidden.len();
        let layers = widths
            .windows(2)
            .enumerate()
            .map(|(i, w)| {
                let init = if i < hidden {
                    self.init
                } else {
                    WeightInit::Default
                };
                init.linear(w[0], w[1], device)
            })
            .collect();
        let norms = self
            .hidden
            .iter()
            .map(|&width| self.norm.init(width, device))
            .collect::<Option<Vec<_>>>();
        Mlp {
            layers,
            norms,
            activation: self.activation,
            dropout: self.dropout,
        }
    }
}

/// Linear layers with an activation between consecutive layers; each hidden layer is
/// `linear → norm → activation → dropout`, the order of PyOD's tabular autoencoder.
#[derive(Module, Debug)]
pub struct Mlp<B: Backend> {
    /// The linear layers.
    pub layers: Vec<Linear<B>>,
    /// One normalization per hidden layer, if the MLP normalizes (absent from records saved
    /// before normalization existed, which load as unnormalized).
    pub norms: Option<Vec<Normalization<B>>>,
    /// The activation between layers.
    #[module(skip)]
    pub activation: Activation,
    /// Dropout probability after each hidden activation (training only).
    #[module(skip)]
    pub dropout: f64,
}

/// `layer.forward(x)` through [`ae_kernels::linear`]: one fused matrix product on burn-flex,
/// burn's op elsewhere.
pub(crate) fn dense<B: Backend>(layer: &Linear<B>, x: Tensor<B, 2>) -> Tensor<B, 2> {
    ae_kernels::linear(x, layer.weight.val(), layer.bias.as_ref().map(|b| b.val()))
}

impl<B: Backend> Mlp<B> {
    /// Maps `[batch, input]` to `[batch, output]`.
    pub fn forward(&self, x: Tensor<B, 2>) -> Tensor<B, 2> {
        let last = self.layers.len().saturating_sub(1);
        // Plain ReLU hidden layers run as one kernel with their layer (norms sit between).
        let fused_relu = self.norms.is_none() && self.activation == Activation::Relu;
        if fused_relu && !B::ad_enabled(&x.device()) {
            // Inference (dropout is the identity): the whole stack in one kernel call.
            let layers: Vec<_> = self
                .layers
                .iter()
                .enumerate()
                .map(|(i, layer)| ae_kernels::StackLayer {
                    weight: layer.weight.val(),
                    bias: layer.bias.as_ref().map(|b| b.val()),
                    relu: i < last,
                })
                .collect();
            return ae_kernels::dense_stack(x, &layers);
        }
        let dropout = (self.dropout > 0.0).then(|| DropoutConfig::new(self.dropout).init());
        let mut x = x;
        for (i, layer) in self.layers.iter().enumerate() {
            if i < last && fused_relu {
                x = ae_kernels::linear_relu(
                    x,
                    layer.weight.val(),
                    layer.bias.as_ref().map(|b| b.val()),
                );
                if let Some(dropout) = &dropout {
                    x = dropout.forward(x);
                }
                continue;
            }
            x = dense(layer, x);
            if i < last {
                if let Some(norm) = self.norms.as_ref().and_then(|n| n.get(i)) {
                    x = norm.forward(x);
                }
                x = self.activation.apply(x);
                if let Some(dropout) = &dropout {
                    x = dropout.forward(x);
                }
            }
        }
        x
    }
}
