//! Inputs and the comparison shared by the parity tests.

use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};

/// Deterministic values in [-0.5, 0.5).
pub fn values(len: usize, seed: u64) -> Vec<f32> {
    let mut state = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    (0..len)
        .map(|_| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            ((state >> 40) as f32 / (1u64 << 24) as f32) - 0.5
        })
        .collect()
}

/// A tensor of [`values`].
pub fn tensor<B: Backend, const N: usize>(shape: [usize; N], seed: u64) -> Tensor<B, N> {
    let len = shape.iter().product();
    Tensor::from_data(
        TensorData::new(values(len, seed), shape),
        &Default::default(),
    )
}

/// `|ours − burn's| ≤ 1e-4 · (1 + max |burn's|)`, elementwise.
pub fn assert_close<B: Backend, const N: usize>(
    what: &str,
    ours: Tensor<B, N>,
    burns: Tensor<B, N>,
) {
    assert_eq!(ours.dims(), burns.dims(), "{what}: shapes");
    let ours = ours.into_data().to_vec::<f32>().expect("f32 values");
    let burns = burns.into_data().to_vec::<f32>().expect("f32 values");
    let scale = 1.0 + burns.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    let gap = ours
        .iter()
        .zip(&burns)
        .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
    assert!(
        gap <= 1e-4 * scale,
        "{what}: max difference {gap:e} (values up to {scale})"
    );
}
