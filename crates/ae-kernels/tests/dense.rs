//! The dense layer (alone and fused with a ReLU) and the sigmoid against burn's own `linear` / `sigmoid` on the same
//! backend: values and every gradient through `Autodiff<Flex>`, for odd sizes, with and
//! without a bias, batch 1 and 128, sizes on both sides of the threshold from which the
//! matrix product is split over threads; and `on_cpu_pool` running a training step to the
//! same gradients as on the calling thread.
//!
//! Tolerance: `|ours − burn's| ≤ 1e-4 · (1 + max |burn's|)`, elementwise.

mod common;

use ae_kernels::{StackLayer, dense_stack, linear, linear_relu, on_cpu_pool, sigmoid};
use burn::backend::Autodiff;
use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, activation, module};
use burn_flex::Flex;
use common::assert_close;

type D = Autodiff<Flex>;

/// Deterministic values in [-2, 2): [`common::tensor`]'s, scaled.
fn tensor<B: Backend, const N: usize>(shape: [usize; N], seed: u64) -> Tensor<B, N> {
    common::tensor(shape, seed).mul_scalar(4.0)
}

type Dense = dyn Fn(Tensor<D, 2>, Tensor<D, 2>, Option<Tensor<D, 1>>) -> Tensor<D, 2>;

/// Values and the input, weight and bias gradients of the loss `sum(out · r)`.
fn run(
    f: &Dense,
    [rows, inputs, outputs]: [usize; 3],
    bias: bool,
) -> (Vec<Tensor<Flex, 2>>, Option<Tensor<Flex, 1>>) {
    let x = tensor::<D, 2>([rows, inputs], 1).require_grad();
    let w = tensor::<D, 2>([inputs, outputs], 2).require_grad();
    let b = bias.then(|| tensor::<D, 1>([outputs], 3).require_grad());
    let out = f(x.clone(), w.clone(), b.clone());
    let r = tensor::<D, 2>([rows, outputs], 4);
    let grads = (out.clone() * r).sum().backward();
    let gx = x.grad(&grads).expect("x has a gradient");
    let gw = w.grad(&grads).expect("weight has a gradient");
    let gb = b.map(|b| b.grad(&grads).expect("bias has a gradient"));
    (vec![out.inner(), gx, gw], gb)
}

#[test]
fn linear_values_and_gradients_match_burns() {
    // The last three reach the threaded matrix product (192³ multiply-adds), which the
    // forward splits by rows on two threads or more (the last one unevenly); 128 × 784 × 400
    // is the first layer of the reference VAE.
    let sizes = [
        [1, 1, 1],
        [1, 7, 3],
        [5, 3, 9],
        [128, 31, 17],
        [3, 130, 65],
        [128, 784, 400],
        [200, 193, 191],
        [257, 193, 150],
    ];
    let burns_relu: &Dense = &|x, w, b| activation::relu(module::linear(x, w, b));
    let pairs: [(&str, &Dense, &Dense); 2] = [
        ("linear", &|x, w, b| linear(x, w, b), &|x, w, b| {
            module::linear(x, w, b)
        }),
        ("linear_relu", &|x, w, b| linear_relu(x, w, b), burns_relu),
    ];
    for (name, ours_fn, burns_fn) in pairs {
        for size in sizes {
            for bias in [true, false] {
                let (ours, gb_ours) = run(ours_fn, size, bias);
                let (burns, gb_burns) = run(burns_fn, size, bias);
                for ((what, a), b) in ["values", "input gradient", "weight gradient"]
                    .iter()
                    .zip(ours)
                    .zip(burns)
                {
                    assert_close(&format!("{name} {size:?} bias {bias}: {what}"), a, b);
                }
                if let (Some(a), Some(b)) = (gb_ours, gb_burns) {
                    assert_close(&format!("{name} {size:?}: bias gradient"), a, b);
                }
            }
        }
    }
}

#[test]
fn linear_relu_clamps_negatives_keeps_nan_and_masks_the_gradient() {
    // Outputs [-1, 0, 2, NaN] on one row: ReLU gives [0, 0, 2, NaN] as burn's does, and the
    // gradient reaches the weight columns of the positive output alone.
    let device = Default::default();
    let x = Tensor::<D, 2>::from_floats([[1.0]], &device);
    let w = Tensor::<D, 2>::from_floats([[-1.0, 0.0, 2.0, f32::NAN]], &device).require_grad();
    let out = linear_relu(x, w.clone(), None);
    let values = out
        .clone()
        .into_data()
        .into_vec::<f32>()
        .expect("f32 values");
    assert_eq!(&values[..3], &[0.0, 0.0, 2.0]);
    assert!(values[3].is_nan(), "NaN kept, got {}", values[3]);
    let grads = out.slice([0..1, 0..3]).sum().backward();
    let gw = w.grad(&grads).expect("a weight gradient");
    let gw = gw.into_data().into_vec::<f32>().expect("f32 values");
    assert_eq!(gw, vec![0.0, 0.0, 1.0, 0.0]);
    // ndarray runs burn's ops.
    type N = burn_ndarray::NdArray<f32>;
    let x = tensor::<N, 2>([4, 3], 10);
    let w = tensor::<N, 2>([3, 2], 11);
    assert_close(
        "ndarray",
        linear_relu(x.clone(), w.clone(), None),
        activation::relu(module::linear(x, w, None)),
    );
}

#[test]
fn linear_takes_views_data_inputs_and_falls_back_elsewhere() {
    // A transposed view as the input, on Flex without autodiff.
    let x = tensor::<Flex, 2>([9, 6], 5).transpose();
    let w = tensor::<Flex, 2>([9, 4], 6);
    let b = tensor::<Flex, 1>([4], 7);
    assert_close(
        "strided input",
        linear(x.clone(), w.clone(), Some(b.clone())),
        module::linear(x, w, Some(b)),
    );
    // Only the weight needs a gradient (the input is data).
    let x = tensor::<D, 2>([6, 5], 8);
    let w = tensor::<D, 2>([5, 3], 9).require_grad();
    let grad = |out: Tensor<D, 2>| out.sum().backward();
    let ours = w.grad(&grad(linear(x.clone(), w.clone(), None)));
    let burns = w.grad(&grad(module::linear(x, w.clone(), None)));
    assert_close(
        "weight gradient alone",
        ours.expect("a gradient"),
        burns.expect("a gradient"),
    );
    // ndarray runs burn's op.
    type N = burn_ndarray::NdArray<f32>;
    let x = tensor::<N, 2>([4, 3], 10);
    let w = tensor::<N, 2>([3, 2], 11);
    assert_close(
        "ndarray",
        linear(x.clone(), w.clone(), None),
        module::linear(x, w, None),
    );
}

#[test]
fn sigmoid_values_and_gradient_match_burns() {
    for shape in [[1, 1], [3, 17], [128, 784]] {
        let x = tensor::<D, 2>(shape, 12).mul_scalar(10.0).require_grad();
        let r = tensor::<D, 2>(shape, 13);
        let run = |f: &dyn Fn(Tensor<D, 2>) -> Tensor<D, 2>| {
            let out = f(x.clone());
            let grads = (out.clone() * r.clone()).sum().backward();
            (out.inner(), x.grad(&grads).expect("x has a gradient"))
        };
        let (out_a, g_a) = run(&|x| sigmoid(x));
        let (out_b, g_b) = run(&|x| activation::sigmoid(x));
        assert_close(&format!("{shape:?} sigmoid"), out_a, out_b);
        assert_close(&format!("{shape:?} sigmoid gradient"), g_a, g_b);
    }
    // Saturated inputs stay in [0, 1] and finite.
    let x = Tensor::<Flex, 1>::from_floats([-1e30, -90.0, 90.0, 1e30], &Default::default());
    let s = sigmoid(x).into_data().to_vec::<f32>().expect("f32");
    assert!(
        s[0] >= 0.0 && s[1] < 1e-30 && s[2] == 1.0 && s[3] == 1.0,
        "{s:?}"
    );
}

#[test]
fn a_step_on_the_pool_gives_the_same_gradient_as_on_the_caller() {
    let step = || {
        let x = tensor::<D, 2>([64, 300], 14);
        let w = tensor::<D, 2>([300, 200], 15).require_grad();
        let out = sigmoid(linear(x, w.clone(), None));
        let grads = out.sum().backward();
        let on_pool = rayon::current_thread_index().is_some();
        (w.grad(&grads).expect("a gradient"), on_pool)
    };
    let (here, here_on_pool) = step();
    let (pooled, pooled_on_pool) = on_cpu_pool::<D, _>(step);
    assert!(
        !here_on_pool && pooled_on_pool,
        "the step did not move to the pool"
    );
    assert_close("gradient on the pool", pooled, here);
    // Another backend runs on the calling thread.
    type N = burn_ndarray::NdArray<f32>;
    assert!(on_cpu_pool::<N, _>(rayon::current_thread_index).is_none());
}

/// A stack of `widths.len() - 1` layers on `B` (biases on every other layer, ReLU on all
/// but the last), run by `dense_stack` and layer by layer through burn's own ops.
fn stack_and_burns<B: Backend>(rows: usize, widths: &[usize]) -> (Tensor<B, 2>, Tensor<B, 2>) {
    let x = tensor::<B, 2>([rows, widths[0]], 20);
    let layers: Vec<StackLayer<B>> = widths
        .windows(2)
        .enumerate()
        .map(|(i, pair)| StackLayer {
            weight: tensor::<B, 2>([pair[0], pair[1]], 21 + i as u64).div_scalar(pair[0] as f32),
            bias: (i % 2 == 0).then(|| tensor::<B, 1>([pair[1]], 40 + i as u64)),
            relu: i + 2 < widths.len(),
        })
        .collect();
    let burns = layers.iter().fold(x.clone(), |x, l| {
        let y = module::linear(x, l.weight.clone(), l.bias.clone());
        if l.relu { activation::relu(y) } else { y }
    });
    (dense_stack(x, &layers), burns)
}

#[test]
fn dense_stack_matches_burns_layer_by_layer() {
    // Rows on both sides of the split (64 per thread) and of the 512-row blocks a thread
    // takes at a time (1100 rows: 550 per thread on two), odd widths, one to four layers,
    // no layer at all.
    let cases: [(usize, &[usize]); 7] = [
        (1, &[3, 2]),
        (5, &[7, 4, 3]),
        (127, &[100, 90, 30]),
        (300, &[193, 150, 40]),
        (1100, &[96, 200, 64, 10]),
        (1000, &[784, 400, 40]),
        (64, &[9]),
    ];
    for (rows, widths) in cases {
        let (ours, burns) = stack_and_burns::<Flex>(rows, widths);
        assert_close(&format!("{rows} rows through {widths:?}"), ours, burns);
    }
    // Under autodiff and on ndarray, layer after layer.
    let (ours, burns) = stack_and_burns::<D>(300, &[193, 150, 40]);
    assert_close("autodiff", ours.inner(), burns.inner());
    type N = burn_ndarray::NdArray<f32>;
    let (ours, burns) = stack_and_burns::<N>(130, &[20, 15, 5]);
    assert_close("ndarray", ours, burns);
}
