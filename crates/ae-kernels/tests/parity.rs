//! Our kernels against burn's own `conv2d` / `conv_transpose2d` on the same backend: values,
//! and the gradients of the input, weight and bias through `Autodiff<Flex>`, for odd sizes,
//! strides 1–2, paddings 0–2, output padding, 1, 3, 8 and 11 channels (8 takes the kernels'
//! path for long windows; 8 and 11 the channels-last layout's blocks of eight channels, 11
//! with a remainder), batch 1 and 128.
//!
//! Tolerance: `|ours − burn's| ≤ 1e-4 · (1 + max |burn's|)`, elementwise (sums over up to
//! 128 items differ in the order of additions, so the bound scales with the values' size).

mod common;

use ae_kernels::{conv_transpose2d, conv2d};
use burn::backend::Autodiff;
use burn::tensor::ops::{ConvOptions, ConvTransposeOptions};
use burn::tensor::{Tensor, module};
use burn_flex::Flex;
use common::{assert_close, tensor};

type D = Autodiff<Flex>;

/// A layer under test: input, weight, optional bias to output.
type Layer<'a> = &'a dyn Fn(Tensor<D, 4>, Tensor<D, 4>, Option<Tensor<D, 1>>) -> Tensor<D, 4>;

/// One layer's parameters and input: `x`, `weight`, optional `bias`.
struct Case {
    x: [usize; 4],
    weight: [usize; 4],
    bias: bool,
}

/// Compares values and all three gradients of `ours` and `burns` for one case, with the
/// loss `sum(out · r)` for a fixed random `r`.
fn compare(
    name: &str,
    case: &Case,
    ours: impl Fn(Tensor<D, 4>, Tensor<D, 4>, Option<Tensor<D, 1>>) -> Tensor<D, 4>,
    burns: impl Fn(Tensor<D, 4>, Tensor<D, 4>, Option<Tensor<D, 1>>) -> Tensor<D, 4>,
) {
    let x = tensor::<D, 4>(case.x, 1);
    let w = tensor::<D, 4>(case.weight, 2);
    let b = case.bias.then(|| tensor::<D, 1>([bias_len(name, case)], 3));
    let run = |f: Layer| {
        let (x, w) = (x.clone().require_grad(), w.clone().require_grad());
        let b = b.clone().map(Tensor::require_grad);
        let out = f(x.clone(), w.clone(), b.clone());
        let r = tensor::<D, 4>(out.dims(), 4);
        let grads = (out.clone() * r).sum().backward();
        let gx = x.grad(&grads).expect("x has a gradient");
        let gw = w.grad(&grads).expect("weight has a gradient");
        let gb = b.map(|b| b.grad(&grads).expect("bias has a gradient"));
        (out.inner(), gx, gw, gb)
    };
    let (out_a, gx_a, gw_a, gb_a) = run(&ours);
    let (out_b, gx_b, gw_b, gb_b) = run(&burns);
    assert_close(&format!("{name} values"), out_a, out_b);
    assert_close(&format!("{name} input gradient"), gx_a, gx_b);
    assert_close(&format!("{name} weight gradient"), gw_a, gw_b);
    if let (Some(a), Some(b)) = (gb_a, gb_b) {
        assert_close(&format!("{name} bias gradient"), a, b);
    }
}

fn bias_len(name: &str, case: &Case) -> usize {
    if name.starts_with("conv_transpose") {
        case.weight[1]
    } else {
        case.weight[0]
    }
}

#[test]
fn conv2d_values_and_gradients_match_burns() {
    let mut checked = 0;
    for batch in [1, 3] {
        for channels in [1, 3, 8, 11] {
            for stride in [1, 2] {
                for padding in 0..=2 {
                    for (kh, kw) in [(3, 3), (4, 2), (1, 1), (5, 3)] {
                        let (h, w) = (9, 7);
                        if h + 2 * padding < kh || w + 2 * padding < kw {
                            continue;
                        }
                        let case = Case {
                            x: [batch, channels, h, w],
                            weight: [5, channels, kh, kw],
                            bias: (stride + padding) % 2 == 0,
                        };
                        let options =
                            ConvOptions::new([stride, stride], [padding, padding], [1, 1], 1);
                        let name = format!(
                            "conv2d batch {batch} channels {channels} kernel {kh}x{kw} stride {stride} padding {padding}"
                        );
                        compare(
                            &name,
                            &case,
                            |x, w, b| conv2d(x, w, b, options.clone()),
                            |x, w, b| module::conv2d(x, w, b, options.clone()),
                        );
                        checked += 1;
                    }
                }
            }
        }
    }
    assert!(checked >= 90, "only {checked} cases ran");
}

#[test]
fn conv_transpose2d_values_and_gradients_match_burns() {
    let mut checked = 0;
    for batch in [1, 3] {
        for channels in [1, 3, 8, 11] {
            for stride in [1, 2] {
                for padding in 0..=2 {
                    for padding_out in 0..stride {
                        for (kh, kw) in [(3, 3), (4, 2), (5, 4)] {
                            if kh <= padding || kw <= padding {
                                continue;
                            }
                            let case = Case {
                                x: [batch, channels, 5, 6],
                                weight: [channels, channels.max(4), kh, kw],
                                bias: (stride + padding) % 2 == 1,
                            };
                            let options = ConvTransposeOptions::new(
                                [stride, stride],
                                [padding, padding],
                                [padding_out, padding_out],
                                [1, 1],
                                1,
                            );
                            let name = format!(
                                "conv_transpose2d batch {batch} channels {channels} kernel {kh}x{kw} stride {stride} padding {padding} out {padding_out}"
                            );
                            compare(
                                &name,
                                &case,
                                |x, w, b| conv_transpose2d(x, w, b, options.clone()),
                                |x, w, b| module::conv_transpose2d(x, w, b, options.clone()),
                            );
                            checked += 1;
                        }
                    }
                }
            }
        }
    }
    assert!(checked >= 60, "only {checked} cases ran");
}

/// The AVX-512 micro-kernels' shapes (taken where the CPU has AVX-512F, the im2row path
/// elsewhere): output channels in one to five vectors of 16 for the forward, window rows of
/// 32 to 128 values (one to four vectors, two blocks) for the weight gradient, output channels
/// in panels of six with a remainder, and batches whose windows span several blocks of 128.
#[test]
fn whole_vector_channels_match_burns() {
    for (batch, channels, out, [kh, kw], stride, padding) in [
        (3, 16, 32, [3, 3], 1, 1),
        (5, 32, 48, [4, 4], 2, 1),
        (4, 24, 16, [2, 2], 2, 0),
        (2, 16, 80, [5, 3], 1, 2),
        (6, 32, 13, [3, 4], 1, 0),
    ] {
        let case = Case {
            x: [batch, channels, 9, 7],
            weight: [out, channels, kh, kw],
            bias: true,
        };
        let options = ConvOptions::new([stride, stride], [padding, padding], [1, 1], 1);
        compare(
            &format!("conv2d {channels}→{out} kernel {kh}x{kw} stride {stride} batch {batch}"),
            &case,
            |x, w, b| conv2d(x, w, b, options.clone()),
            |x, w, b| module::conv2d(x, w, b, options.clone()),
        );
    }
}

#[test]
fn the_models_layers_match_at_batch_128() {
    // conv-ae's four layers, as in benches/examples/conv_ops.rs.
    let conv = ConvOptions::new([2, 2], [1, 1], [1, 1], 1);
    let deconv = ConvTransposeOptions::new([2, 2], [1, 1], [0, 0], [1, 1], 1);
    for (name, x, weight) in [
        ("conv 1→32", [128, 1, 28, 28], [32, 1, 4, 4]),
        ("conv 32→64", [128, 32, 14, 14], [64, 32, 4, 4]),
    ] {
        let case = Case {
            x,
            weight,
            bias: true,
        };
        compare(
            name,
            &case,
            |x, w, b| conv2d(x, w, b, conv.clone()),
            |x, w, b| module::conv2d(x, w, b, conv.clone()),
        );
    }
    for (name, x, weight) in [
        ("conv_transpose 64→32", [128, 64, 7, 7], [64, 32, 4, 4]),
        ("conv_transpose 32→1", [128, 32, 14, 14], [32, 1, 4, 4]),
    ] {
        let case = Case {
            x,
            weight,
            bias: true,
        };
        compare(
            name,
            &case,
            |x, w, b| conv_transpose2d(x, w, b, deconv.clone()),
            |x, w, b| module::conv_transpose2d(x, w, b, deconv.clone()),
        );
    }
}

#[test]
fn weight_gradients_alone_when_the_input_is_data() {
    // A model's first layer: the input needs no gradient; the weight's must still be right.
    let options = ConvOptions::new([2, 2], [1, 1], [1, 1], 1);
    let x = tensor::<D, 4>([4, 1, 11, 10], 5);
    let w = tensor::<D, 4>([6, 1, 4, 4], 6);
    let grad_of = |f: &dyn Fn(Tensor<D, 4>, Tensor<D, 4>) -> Tensor<D, 4>| {
        let w = w.clone().require_grad();
        let grads = f(x.clone(), w.clone()).powi_scalar(2).sum().backward();
        assert!(x.grad(&grads).is_none(), "the input asked for no gradient");
        w.grad(&grads).expect("weight gradient")
    };
    let ours = grad_of(&|x, w| conv2d(x, w, None, options.clone()));
    let burns = grad_of(&|x, w| module::conv2d(x, w, None, options.clone()));
    assert_close("weight gradient alone", ours, burns);
}

#[test]
fn strided_views_and_inference_tensors_give_burns_values() {
    // A transposed view (not laid out row-major) on Flex without autodiff.
    let options = ConvOptions::new([1, 2], [2, 0], [1, 1], 1);
    let x = tensor::<Flex, 4>([2, 3, 8, 9], 7).swap_dims(2, 3);
    let w = tensor::<Flex, 4>([4, 3, 3, 2], 8);
    let b = tensor::<Flex, 1>([4], 9);
    assert_close(
        "strided input",
        conv2d(x.clone(), w.clone(), Some(b.clone()), options.clone()),
        module::conv2d(x, w, Some(b), options),
    );
}

#[test]
fn other_backends_and_options_fall_back_to_burns_op() {
    type N = burn_ndarray::NdArray<f32>;
    let options = ConvOptions::new([2, 1], [1, 1], [1, 1], 1);
    let x = tensor::<N, 4>([2, 2, 6, 5], 10);
    let w = tensor::<N, 4>([3, 2, 3, 3], 11);
    assert_close(
        "ndarray",
        conv2d(x.clone(), w.clone(), None, options.clone()),
        module::conv2d(x, w, None, options),
    );
    // Dilation 2 and 2 groups on Flex are burn's.
    let options = ConvOptions::new([1, 1], [2, 2], [2, 2], 2);
    let x = tensor::<D, 4>([2, 4, 7, 7], 12);
    let w = tensor::<D, 4>([6, 2, 3, 3], 13);
    assert_close(
        "dilated, grouped",
        conv2d(x.clone(), w.clone(), None, options.clone()),
        module::conv2d(x, w, None, options),
    );
}
