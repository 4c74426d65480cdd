//! The dense layer and the sigmoid against burn's own `linear` / `sigmoid` on the same
//! backend: values and every gradient through `Autodiff<Flex>`, for odd sizes, with and
//! without a bias, batch 1 and 128, sizes on both sides of the threshold from which the
//! matrix product is split over threads; and `on_cpu_pool` running a training step to the
//! same gradients as on the calling thread.
//!
//! Tolerance: `|ours − burn's| ≤ 1e-4 · (1 + max |burn's|)`, elementwise.

mod common;

use ae_kernels::{linear, on_cpu_pool, sigmoid};
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
    for size in sizes {
        for bias in [true, false] {
            let (ours, gb_ours) = run(&|x, w, b| linear(x, w, b), size, bias);
            let (burns, gb_burns) = run(&|x, w, b| module::linear(x, w, b), size, bias);
            for ((what, a), b) in ["values", "input gradient", "weight gradient"]
                .iter()
                .zip(ours)
                .zip(burns)
            {
                assert_close(&format!("{size:?} bias {bias}: {what}"), a, b);
            }
            if let (Some(a), Some(b)) = (gb_ours, gb_burns) {
                assert_close(&format!("{size:?}: bias gradient"), a, b);
            }
        }
    }
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
