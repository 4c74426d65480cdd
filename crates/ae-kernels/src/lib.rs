//! Our own CPU convolution kernels for burn-flex, with their backward passes, and the
//! functions models call instead of burn's `conv2d` / `conv_transpose2d`; a fused binary
//! cross-entropy with logits ([`loss`]), a vectorized sigmoid ([`sigmoid()`]) and a fused AdamW
//! update ([`adamw`]).
//!
//! burn-flex runs a convolution's forward pass as im2col + a matrix product, but its
//! backward pass is burn's generic fallback (a transposed convolution and a convolution over
//! batch-swapped tensors), which on two cores takes several times the forward. Here both
//! directions of [`conv2d`] and [`conv_transpose2d`] are im2row / row2im on channels-last
//! windows around a packed matrix product ([`cpu`]), registered with burn's autodiff graph as
//! one operation with its own backward. On CPUs with AVX-512, a convolution over many
//! channels (conv-ae's second layer) skips the window copies: micro-kernels read the windows
//! where they lie for its forward pass and both gradients.
//!
//! [`conv2d`] and [`conv_transpose2d`] take burn tensors of any backend. On
//! `Autodiff<Flex>` (training) and `Flex` (inference) with `f32` values, groups 1 and
//! dilation 1 they run these kernels; on every other backend, element type or option they
//! call burn's own op, so a model using them runs unchanged on ndarray, wgpu and CUDA.
//!
//! Setting `AE_KERNELS=burn` in the environment sends every call here (convolutions, the
//! loss, the sigmoid, the AdamW update) to burn's own operations instead (read once per
//! process): for comparing the two in one sitting, or ruling ours out.
//!
//! Why a type test rather than a trait over `Backend`: Rust has no specialization, so an
//! extension trait implemented for `Flex` and `Autodiff<Flex>` alone would have to be a bound
//! on every generic model, trainer and tool in the workspace, and implemented again for every
//! other backend. The test compares two `TypeId`s, constants after monomorphization.
//!
//! ```
//! use ae_kernels::conv2d;
//! use burn::tensor::{Tensor, module, ops::ConvOptions};
//! type B = burn_flex::Flex;
//!
//! let device = Default::default();
//! let x = Tensor::<B, 4>::ones([2, 3, 9, 9], &device);
//! let w = Tensor::<B, 4>::ones([4, 3, 3, 3], &device);
//! let options = ConvOptions::new([2, 2], [1, 1], [1, 1], 1);
//! let ours = conv2d(x.clone(), w.clone(), None, options.clone());
//! let burns = module::conv2d(x, w, None, options);
//! assert_eq!(ours.dims(), [2, 4, 5, 5]);
//! let gap = (ours - burns).abs().max().into_scalar();
//! assert!(gap < 1e-4);
//! ```

pub mod adamw;
pub mod cpu;
#[cfg(target_arch = "x86_64")]
mod direct;
#[cfg(feature = "flex")]
mod flex;
pub mod loss;
pub mod math;
pub mod sigmoid;
mod transpose;

pub use adamw::{AdamMoments, AdamWHyper, adamw_step};
use burn::tensor::backend::Backend;
use burn::tensor::ops::{ConvOptions, ConvTransposeOptions};
use burn::tensor::{DType, Tensor, module};
pub use sigmoid::sigmoid;

/// A 2-D convolution, as `burn::tensor::module::conv2d` (symmetric padding); our kernels on
/// burn-flex, burn's op elsewhere.
pub fn conv2d<B: Backend>(
    x: Tensor<B, 4>,
    weight: Tensor<B, 4>,
    bias: Option<Tensor<B, 1>>,
    options: ConvOptions<2>,
) -> Tensor<B, 4> {
    #[cfg(feature = "flex")]
    if let Some(win) = conv2d_windows(&x, &weight, &bias, &options) {
        match flex::conv2d(x, weight, bias, win) {
            Ok(out) => return out,
            Err((x, weight, bias)) => return module::conv2d(x, weight, bias, options),
        }
    }
    module::conv2d(x, weight, bias, options)
}

/// A 2-D transposed convolution, as `burn::tensor::module::conv_transpose2d`; our kernels on
/// burn-flex, burn's op elsewhere.
pub fn conv_transpose2d<B: Backend>(
    x: Tensor<B, 4>,
    weight: Tensor<B, 4>,
    bias: Option<Tensor<B, 1>>,
    options: ConvTransposeOptions<2>,
) -> Tensor<B, 4> {
    #[cfg(feature = "flex")]
    if let Some(win) = conv_transpose2d_windows(&x, &weight, &bias, &options) {
        match flex::conv_transpose2d(x, weight, bias, win) {
            Ok(out) => return out,
            Err((x, weight, bias)) => return module::conv_transpose2d(x, weight, bias, options),
        }
    }
    module::conv_transpose2d(x, weight, bias, options)
}

/// A dense layer `x · weight + bias` with burn's `[inputs, outputs]` weight, as
/// `burn::tensor::module::linear` for a `[rows, inputs]` input: on burn-flex `f32` one
/// packed matrix product written once (the bias is its starting value), with a backward that
/// multiplies by the transposes in place instead of copying them; burn's op elsewhere.
///
/// ```
/// use burn::tensor::{Tensor, module};
/// type B = burn_flex::Flex;
///
/// let device = Default::default();
/// let x = Tensor::<B, 2>::from_floats([[1.0, 2.0, 3.0], [-1.0, 0.5, 0.0]], &device);
/// let w = Tensor::<B, 2>::from_floats([[0.5, -1.0], [2.0, 0.0], [1.0, 1.0]], &device);
/// let b = Tensor::<B, 1>::from_floats([0.25, -0.5], &device);
/// let ours = ae_kernels::linear(x.clone(), w.clone(), Some(b.clone()));
/// let gap = (ours - module::linear(x, w, Some(b))).abs().max().into_scalar();
/// assert!(gap < 1e-6);
/// ```
pub fn linear<B: Backend>(
    x: Tensor<B, 2>,
    weight: Tensor<B, 2>,
    bias: Option<Tensor<B, 1>>,
) -> Tensor<B, 2> {
    dense(x, weight, bias, false)
}

/// [`linear`] followed by a ReLU, `max(x · weight + bias, 0)`: on burn-flex `f32` the clamp
/// is applied by each thread to the rows it has just computed (no pass of its own over
/// memory) and the backward masks the gradient itself; `relu(linear(..))` with burn's ops
/// elsewhere.
///
/// ```
/// use burn::tensor::{Tensor, activation, module};
/// type B = burn_flex::Flex;
///
/// let device = Default::default();
/// let x = Tensor::<B, 2>::from_floats([[1.0, -2.0], [0.5, 3.0]], &device);
/// let w = Tensor::<B, 2>::from_floats([[1.0, -1.0], [0.5, 2.0]], &device);
/// let ours = ae_kernels::linear_relu(x.clone(), w.clone(), None);
/// let burns = activation::relu(module::linear(x, w, None));
/// assert_eq!(ours.to_data(), burns.to_data());
/// ```
pub fn linear_relu<B: Backend>(
    x: Tensor<B, 2>,
    weight: Tensor<B, 2>,
    bias: Option<Tensor<B, 1>>,
) -> Tensor<B, 2> {
    dense(x, weight, bias, true)
}

/// [`linear`], followed by a ReLU with `relu`: our kernel on burn-flex, burn's ops elsewhere.
fn dense<B: Backend>(
    x: Tensor<B, 2>,
    weight: Tensor<B, 2>,
    bias: Option<Tensor<B, 1>>,
    relu: bool,
) -> Tensor<B, 2> {
    #[cfg(feature = "flex")]
    let (x, weight, bias) = match linear_fits(&x, &weight, &bias) {
        true => match flex::linear(x, weight, bias, relu) {
            Ok(out) => return out,
            Err(refused) => refused,
        },
        false => (x, weight, bias),
    };
    let out = module::linear(x, weight, bias);
    if relu {
        burn::tensor::activation::relu(out)
    } else {
        out
    }
}

/// One layer of [`dense_stack`]: burn's `[inputs, outputs]` weight, an optional bias, and
/// whether a ReLU follows.
#[derive(Clone, Debug)]
pub struct StackLayer<B: Backend> {
    /// `[inputs, outputs]`, as burn's `Linear` holds it.
    pub weight: Tensor<B, 2>,
    /// `[outputs]`.
    pub bias: Option<Tensor<B, 1>>,
    /// Whether the layer's outputs go through a ReLU.
    pub relu: bool,
}

/// Dense layers applied in turn, each [`linear`] or [`linear_relu`], for inference. On
/// burn-flex without autodiff, a batch large enough to split is divided by rows once, and
/// each thread takes its rows through every layer (see [`cpu::dense_stack`]); elsewhere, and
/// under autodiff, one layer after the other.
///
/// ```
/// use ae_kernels::{StackLayer, dense_stack, linear, linear_relu};
/// use burn::tensor::{Distribution, Tensor};
/// type B = burn_flex::Flex;
///
/// let device = Default::default();
/// let x = Tensor::<B, 2>::random([300, 8], Distribution::Default, &device);
/// let w1 = Tensor::<B, 2>::random([8, 6], Distribution::Default, &device);
/// let w2 = Tensor::<B, 2>::random([6, 2], Distribution::Default, &device);
/// let layers = [
///     StackLayer { weight: w1.clone(), bias: None, relu: true },
///     StackLayer { weight: w2.clone(), bias: None, relu: false },
/// ];
/// let stacked = dense_stack(x.clone(), &layers);
/// let one_by_one = linear(linear_relu(x, w1, None), w2, None);
/// assert!((stacked - one_by_one).abs().max().into_scalar() < 1e-5);
/// ```
pub fn dense_stack<B: Backend>(x: Tensor<B, 2>, layers: &[StackLayer<B>]) -> Tensor<B, 2> {
    #[cfg(feature = "flex")]
    let x = if !burns_only() && stack_fits(&x, layers) {
        match flex::dense_stack(x, layers) {
            Ok(out) => return out,
            Err(x) => x,
        }
    } else {
        x
    };
    layers.iter().fold(x, |x, layer| {
        dense(x, layer.weight.clone(), layer.bias.clone(), layer.relu)
    })
}

/// Whether every layer of a stack is `f32` and the sizes chain from `x` on.
#[cfg(feature = "flex")]
fn stack_fits<B: Backend>(x: &Tensor<B, 2>, layers: &[StackLayer<B>]) -> bool {
    let mut width = x.dims()[1];
    x.dtype() == DType::F32
        && layers.iter().all(|layer| {
            let [inputs, outputs] = layer.weight.dims();
            let fits = inputs == width
                && all_f32(x, &layer.weight, &layer.bias)
                && layer.bias.as_ref().is_none_or(|b| b.dims() == [outputs]);
            width = outputs;
            fits
        })
}

/// Whether the kernels here compute this dense layer: `f32` and shapes that agree.
#[cfg(feature = "flex")]
fn linear_fits<B: Backend>(
    x: &Tensor<B, 2>,
    weight: &Tensor<B, 2>,
    bias: &Option<Tensor<B, 1>>,
) -> bool {
    let [inputs, outputs] = weight.dims();
    !burns_only()
        && x.dims()[1] == inputs
        && all_f32(x, weight, bias)
        && bias.as_ref().is_none_or(|b| b.dims() == [outputs])
}

/// Whether `AE_KERNELS=burn` asks for burn's operations everywhere.
pub fn burns_only() -> bool {
    static BURN: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *BURN.get_or_init(|| std::env::var("AE_KERNELS").is_ok_and(|v| v == "burn"))
}

/// Whether the kernels here compute this convolution: `f32`, groups 1, dilation 1, shapes
/// that agree (anything else goes to burn, which reports bad shapes its own way).
fn conv2d_windows<B: Backend>(
    x: &Tensor<B, 4>,
    weight: &Tensor<B, 4>,
    bias: &Option<Tensor<B, 1>>,
    options: &ConvOptions<2>,
) -> Option<cpu::Windows> {
    let [_, channels, h, w] = x.dims();
    let [out, in_channels, kh, kw] = weight.dims();
    let plain = options.groups == 1 && options.dilation == [1, 1] && in_channels == channels;
    if burns_only()
        || !plain
        || !all_f32(x, weight, bias)
        || bias.as_ref().is_some_and(|b| b.dims() != [out])
    {
        return None;
    }
    cpu::Windows::conv(channels, [h, w], [kh, kw], options.stride, options.padding)
}

/// As [`conv2d_windows`], for a transposed convolution: the image is its output.
fn conv_transpose2d_windows<B: Backend>(
    x: &Tensor<B, 4>,
    weight: &Tensor<B, 4>,
    bias: &Option<Tensor<B, 1>>,
    options: &ConvTransposeOptions<2>,
) -> Option<cpu::Windows> {
    let [_, channels, h, w] = x.dims();
    let [in_channels, out, kh, kw] = weight.dims();
    let plain = options.groups == 1 && options.dilation == [1, 1] && in_channels == channels;
    let out_pad_ok = (0..2).all(|i| options.padding_out[i] < options.stride[i]);
    if burns_only()
        || !plain
        || !out_pad_ok
        || !all_f32(x, weight, bias)
        || bias.as_ref().is_some_and(|b| b.dims() != [out])
    {
        return None;
    }
    cpu::Windows::conv_transpose(
        out,
        [h, w],
        [kh, kw],
        options.stride,
        options.padding,
        options.padding_out,
    )
}

fn all_f32<B: Backend, const D: usize>(
    x: &Tensor<B, D>,
    weight: &Tensor<B, D>,
    bias: &Option<Tensor<B, 1>>,
) -> bool {
    x.dtype() == DType::F32
        && weight.dtype() == DType::F32
        && bias.as_ref().is_none_or(|b| b.dtype() == DType::F32)
}

/// Runs `work` on a thread of rayon's pool when `B` is burn-flex (with or without autodiff),
/// and directly on the calling thread on every other backend.
///
/// burn-flex splits its matrix products and our kernels over rayon's pool. Called from a
/// thread outside the pool, every split operation hands its work to the pool's threads and
/// puts the caller to sleep until they finish: two thread switches per operation, and a third
/// thread contending for the cores. A whole training step run on a pool thread splits each
/// operation between that thread and the others instead.
pub fn on_cpu_pool<B: Backend, R: Send>(work: impl FnOnce() -> R + Send) -> R {
    #[cfg(feature = "flex")]
    if flex::is_flex::<B>() && rayon::current_thread_index().is_none() {
        return rayon::scope(|_| work());
    }
    work()
}
