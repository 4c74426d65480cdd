//! The fused binary cross-entropy with logits against the same loss from burn's tensor
//! operations (the stable `m + ln(e^(−m) + e^(l − m))` form, m = max(l, 0)): values and the
//! gradients of both inputs through `Autodiff<Flex>`.

use ae_kernels::loss::bce_with_logits;
use burn::backend::Autodiff;
use burn::tensor::{Tensor, TensorData, activation};
use burn_flex::Flex;

type D = Autodiff<Flex>;

fn reference(logits: Tensor<D, 2>, target: Tensor<D, 2>) -> Tensor<D, 1> {
    let shift = activation::relu(logits.clone()).detach();
    let softplus =
        shift.clone() + (shift.clone().neg().exp() + (logits.clone() - shift).exp()).log();
    (softplus - logits * target).sum_dim(1).squeeze_dim::<1>(1)
}

fn data(rows: usize, cols: usize, seed: u32, scale: f32) -> Tensor<D, 2> {
    let values: Vec<f32> = (0..rows * cols)
        .map(|i| {
            let h = (i as u32).wrapping_mul(2_654_435_761) ^ seed.wrapping_mul(40_503);
            ((h % 2001) as f32 / 1000.0 - 1.0) * scale
        })
        .collect();
    Tensor::from_data(TensorData::new(values, [rows, cols]), &Default::default())
}

fn max_gap(a: Tensor<Flex, 2>, b: Tensor<Flex, 2>) -> f32 {
    let a: Vec<f32> = a.into_data().to_vec().expect("f32");
    let b: Vec<f32> = b.into_data().to_vec().expect("f32");
    a.iter()
        .zip(&b)
        .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()))
}

#[test]
fn values_and_gradients_match_burns_formula() {
    // 128 × 784 takes the parallel path; 3 × 5 the serial one.
    for (rows, cols, scale) in [(128, 784, 8.0), (3, 5, 3.0), (1, 1, 0.5)] {
        let logits = data(rows, cols, 1, scale);
        let target = (data(rows, cols, 2, 1.0) + 1.0) / 2.0;
        let weights = data(rows, 1, 3, 1.0).squeeze_dim::<1>(1);
        let run = |f: &dyn Fn(Tensor<D, 2>, Tensor<D, 2>) -> Tensor<D, 1>| {
            let (l, x) = (logits.clone().require_grad(), target.clone().require_grad());
            let loss = f(l.clone(), x.clone());
            let grads = (loss.clone() * weights.clone()).sum().backward();
            let gl = l.grad(&grads).expect("logits gradient");
            let gx = x.grad(&grads).expect("target gradient");
            (loss.inner(), gl, gx)
        };
        let (loss_a, gl_a, gx_a) = run(&|l, x| bce_with_logits(l, x).expect("fused on flex"));
        let (loss_b, gl_b, gx_b) = run(&reference);
        let (a, b): (Vec<f32>, Vec<f32>) = (
            loss_a.into_data().to_vec().expect("f32"),
            loss_b.into_data().to_vec().expect("f32"),
        );
        for (a, b) in a.iter().zip(&b) {
            assert!(
                (a - b).abs() <= 1e-4 * (1.0 + b.abs()),
                "{rows}x{cols}: loss {a} vs {b}"
            );
        }
        assert!(max_gap(gl_a, gl_b) < 1e-5, "{rows}x{cols}: logits gradient");
        assert!(max_gap(gx_a, gx_b) < 1e-4, "{rows}x{cols}: target gradient");
    }
}

#[test]
fn extreme_logits_stay_finite_and_the_gradient_at_zero_is_a_half() {
    let device = Default::default();
    let logits =
        Tensor::<D, 2>::from_floats([[-200.0, -30.0, 0.0, 30.0, 200.0]], &device).require_grad();
    let target = Tensor::<D, 2>::from_floats([[0.0, 1.0, 0.0, 0.0, 1.0]], &device);
    let loss = bce_with_logits(logits.clone(), target).expect("fused on flex");
    let value = loss.clone().into_scalar();
    // ln(1+e^-200)·0 … : 0 + 30 + ln 2 + 30 + 0 (to f32 precision).
    assert!(
        (value - (60.0 + std::f32::consts::LN_2)).abs() < 1e-3,
        "{value}"
    );
    let grads = loss.sum().backward();
    let g: Vec<f32> = logits
        .grad(&grads)
        .expect("gradient")
        .into_data()
        .to_vec()
        .expect("f32");
    let want = [0.0, -1.0, 0.5, 1.0, 0.0];
    for (g, w) in g.iter().zip(want) {
        assert!(g.is_finite() && (g - w).abs() < 1e-6, "{g} vs {w}");
    }
}

#[test]
fn other_backends_get_their_inputs_back() {
    type N = burn_ndarray::NdArray<f32>;
    let l = Tensor::<N, 2>::zeros([2, 3], &Default::default());
    let x = Tensor::<N, 2>::ones([2, 3], &Default::default());
    let (l, x) = bce_with_logits(l, x).expect_err("ndarray is not fused");
    assert_eq!((l.dims(), x.dims()), ([2, 3], [2, 3]));
}
