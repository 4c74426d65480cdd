//! Convolutional encoder and decoder: stride-2 convolutions down, transposed convolutions up.
//!
//! Each convolution has stride 2 and padding `(k - 1) / 2`, so it roughly halves the height
//! and width; the decoder mirrors the encoder and picks each transposed convolution's output
//! padding so that it restores the exact size the encoder saw, for any H × W × C.

use burn::module::Module;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig};
use burn::nn::{Linear, LinearConfig};
use burn::tensor::ops::{ConvOptions, ConvTransposeOptions};
use burn::tensor::{Tensor, backend::Backend};

use crate::{Activation, InputShape, ModelError};

/// Spatial sizes `(height, width)` after each stride-2 convolution, the input size first.
pub fn spatial_sizes(
    shape: InputShape,
    layers: usize,
    kernel_size: usize,
) -> Result<Vec<(usize, usize)>, ModelError> {
    if kernel_size < 2 {
        return Err(ModelError::InvalidConfig(format!(
            "kernel_size must be at least 2, got {kernel_size}"
        )));
    }
    let padding = (kernel_size - 1) / 2;
    let mut sizes = vec![(shape.height, shape.width)];
    for layer in 0..layers {
        let (h, w) = sizes[layer];
        let down = |x: usize| {
            (x + 2 * padding)
                .checked_sub(kernel_size)
                .map(|v| v / 2 + 1)
        };
        match (down(h), down(w)) {
            (Some(h2), Some(w2)) if h2 > 0 && w2 > 0 => sizes.push((h2, w2)),
            _ => {
                return Err(ModelError::InvalidConfig(format!(
                    "a {h}x{w} feature map is too small for convolution layer {} with kernel {kernel_size}: use fewer conv layers or larger images",
                    layer + 1
                )));
            }
        }
    }
    Ok(sizes)
}

/// Stride-2 convolutions, then a linear layer to the code.
#[derive(Module, Debug)]
pub struct ConvEncoder<B: Backend> {
    /// The convolutions.
    pub convs: Vec<Conv2d<B>>,
    /// The linear map from the flattened feature map to the output.
    pub head: Linear<B>,
    /// Activation after every convolution.
    #[module(skip)]
    pub activation: Activation,
    /// Input shape `[channels, height, width]`.
    #[module(skip)]
    pub input: [usize; 3],
}

impl<B: Backend> ConvEncoder<B> {
    /// Builds an encoder from `shape` through `channels` to `output` values.
    pub fn new(
        shape: InputShape,
        channels: &[usize],
        kernel_size: usize,
        activation: Activation,
        output: usize,
        device: &B::Device,
    ) -> Result<Self, ModelError> {
        let sizes = spatial_sizes(shape, channels.len(), kernel_size)?;
        let padding = (kernel_size - 1) / 2;
        let mut in_channels = shape.channels;
        let mut convs = Vec::with_capacity(channels.len());
        for &out_channels in channels {
            convs.push(
                Conv2dConfig::new([in_channels, out_channels], [kernel_size, kernel_size])
                    .with_stride([2, 2])
                    .with_padding(PaddingConfig2d::Explicit(
                        padding, padding, padding, padding,
                    ))
                    .init(device),
            );
            in_channels = out_channels;
        }
        let (h, w) = sizes[sizes.len() - 1];
        let head = LinearConfig::new(in_channels * h * w, output).init(device);
        Ok(Self {
            convs,
            head,
            activation,
            input: [shape.channels, shape.height, shape.width],
        })
    }

    /// Maps flat `[batch, c*h*w]` items to `[batch, output]`.
    pub fn forward(&self, x: Tensor<B, 2>) -> Tensor<B, 2> {
        let [batch, _] = x.dims();
        let [c, h, w] = self.input;
        let mut x: Tensor<B, 4> = x.reshape([batch, c, h, w]);
        for conv in &self.convs {
            x = self.activation.apply(conv_forward(conv, x));
        }
        crate::mlp::dense(&self.head, x.flatten(1, 3))
    }
}

/// A linear layer to a small feature map, then transposed convolutions up to the image.
#[derive(Module, Debug)]
pub struct ConvDecoder<B: Backend> {
    /// The linear map from the code to the smallest feature map.
    pub head: Linear<B>,
    /// The transposed convolutions.
    pub deconvs: Vec<ConvTranspose2d<B>>,
    /// Activation after the head and every transposed convolution but the last.
    #[module(skip)]
    pub activation: Activation,
    /// Shape of the smallest feature map `[channels, height, width]`.
    #[module(skip)]
    pub start: [usize; 3],
}

impl<B: Backend> ConvDecoder<B> {
    /// Builds the mirror of an encoder over `shape` and `channels`, emitting
    /// `shape.channels * outputs_per_value` channels at the input's size.
    pub fn new(
        latent: usize,
        shape: InputShape,
        channels: &[usize],
        kernel_size: usize,
        activation: Activation,
        outputs_per_value: usize,
        device: &B::Device,
    ) -> Result<Self, ModelError> {
        let sizes = spatial_sizes(shape, channels.len(), kernel_size)?;
        let padding = (kernel_size - 1) / 2;
        let (h, w) = sizes[sizes.len() - 1];
        let first_channels = channels.last().copied().unwrap_or(shape.channels);
        let head = LinearConfig::new(latent, first_channels * h * w).init(device);
        let mut deconvs = Vec::with_capacity(channels.len());
        for layer in (0..channels.len()).rev() {
            let in_channels = channels[layer];
            let out_channels = if layer == 0 {
                shape.channels * outputs_per_value
            } else {
                channels[layer - 1]
            };
            let (target_h, target_w) = sizes[layer];
            let (from_h, from_w) = sizes[layer + 1];
            let natural = |x: usize| (x - 1) * 2 + kernel_size - 2 * padding;
            let out_pad_h = target_h as isize - natural(from_h) as isize;
            let out_pad_w = target_w as isize - natural(from_w) as isize;
            if !(0..2).contains(&out_pad_h) || !(0..2).contains(&out_pad_w) {
                return Err(ModelError::InvalidConfig(format!(
                    "cannot mirror a {target_h}x{target_w} feature map with kernel {kernel_size}"
                )));
            }
            deconvs.push(
                ConvTranspose2dConfig::new([in_channels, out_channels], [kernel_size, kernel_size])
                    .with_stride([2, 2])
                    .with_padding([padding, padding])
                    .with_padding_out([out_pad_h as usize, out_pad_w as usize])
                    .init(device),
            );
        }
        Ok(Self {
            head,
            deconvs,
            activation,
            start: [first_channels, h, w],
        })
    }

    /// Maps `[batch, latent]` to flat `[batch, channels*h*w]` values in CHW order.
    pub fn forward(&self, z: Tensor<B, 2>) -> Tensor<B, 2> {
        let [batch, _] = z.dims();
        let [c, h, w] = self.start;
        let x = crate::mlp::dense(&self.head, z);
        let mut x: Tensor<B, 4> = if self.deconvs.is_empty() {
            x.reshape([batch, c, h, w])
        } else {
            self.activation.apply(x).reshape([batch, c, h, w])
        };
        let last = self.deconvs.len().saturating_sub(1);
        for (i, deconv) in self.deconvs.iter().enumerate() {
            x = conv_transpose_forward(deconv, x);
            if i < last {
                x = self.activation.apply(x);
            }
        }
        x.flatten(1, 3)
    }
}

/// `conv.forward(x)` through [`ae_kernels::conv2d`]: our kernels on burn-flex, burn's op on
/// other backends (and for padding that is not the same on opposite sides).
fn conv_forward<B: Backend>(conv: &Conv2d<B>, x: Tensor<B, 4>) -> Tensor<B, 4> {
    let padding = match conv.padding {
        PaddingConfig2d::Explicit(top, left, bottom, right) if top == bottom && left == right => {
            [top, left]
        }
        PaddingConfig2d::Valid => [0, 0],
        _ => return conv.forward(x),
    };
    ae_kernels::conv2d(
        x,
        conv.weight.val(),
        conv.bias.as_ref().map(|bias| bias.val()),
        ConvOptions::new(conv.stride, padding, conv.dilation, conv.groups),
    )
}

/// `deconv.forward(x)` through [`ae_kernels::conv_transpose2d`].
fn conv_transpose_forward<B: Backend>(
    deconv: &ConvTranspose2d<B>,
    x: Tensor<B, 4>,
) -> Tensor<B, 4> {
    ae_kernels::conv_transpose2d(
        x,
        deconv.weight.val(),
        deconv.bias.as_ref().map(|bias| bias.val()),
        ConvTransposeOptions::new(
            deconv.stride,
            deconv.padding,
            deconv.padding_out,
            deconv.dilation,
            deconv.groups,
        ),
    )
}
