//! The logistic sigmoid in one vectorized pass: burn-flex computes it value by value through
//! libm's `expf`, which for a decoder's output (`[batch, 784]` on MNIST) is a quarter of a
//! small VAE's forward pass. Backward: `g·s·(1 − s)` from the saved output `s`.

use std::mem::MaybeUninit;

use burn::tensor::Tensor;
use burn::tensor::backend::Backend;
use rayon::prelude::*;

use crate::math::avx512;

/// Values per parallel task.
const CHUNK: usize = 1 << 14;

/// One task of the backward: output, its gradient, and the input gradient to write.
type BackwardChunk<'a> = ((&'a [f32], &'a [f32]), &'a mut [MaybeUninit<f32>]);

#[inline(always)]
fn forward_values(x: &[f32], out: &mut [MaybeUninit<f32>]) {
    for (o, x) in out.iter_mut().zip(x) {
        o.write(crate::math::sigmoid(*x));
    }
}

#[inline(always)]
fn backward_values(s: &[f32], g: &[f32], out: &mut [MaybeUninit<f32>]) {
    for ((o, s), g) in out.iter_mut().zip(s).zip(g) {
        o.write(g * s * (1.0 - s));
    }
}

/// The two loops with the widest vector instructions this CPU has.
#[cfg(target_arch = "x86_64")]
mod wide {
    use std::mem::MaybeUninit;

    #[target_feature(enable = "avx512f")]
    pub(super) fn forward_values(x: &[f32], out: &mut [MaybeUninit<f32>]) {
        super::forward_values(x, out);
    }

    #[target_feature(enable = "avx512f")]
    pub(super) fn backward_values(s: &[f32], g: &[f32], out: &mut [MaybeUninit<f32>]) {
        super::backward_values(s, g, out);
    }
}

/// The sigmoid of every value.
pub fn sigmoid_slice(x: &[f32]) -> Vec<f32> {
    let mut values = Vec::with_capacity(x.len());
    let out = &mut values.spare_capacity_mut()[..x.len()];
    let wide = avx512();
    let run = |(x, out): (&[f32], &mut [MaybeUninit<f32>])| {
        #[cfg(target_arch = "x86_64")]
        if wide {
            // SAFETY: `wide` is true only when the CPU has AVX-512F.
            return unsafe { wide::forward_values(x, out) };
        }
        let _ = wide;
        forward_values(x, out);
    };
    if x.len() <= CHUNK {
        run((x, out));
    } else {
        x.par_chunks(CHUNK)
            .zip(out.par_chunks_mut(CHUNK))
            .for_each(run);
    }
    // SAFETY: the loops above wrote each of the first `x.len()` values.
    unsafe { values.set_len(x.len()) };
    values
}

/// The gradient of the sigmoid's input given its output `s` and the output's gradient `g`.
pub fn sigmoid_backward_slice(s: &[f32], g: &[f32]) -> Vec<f32> {
    assert_eq!(s.len(), g.len(), "sigmoid_backward_slice: lengths differ");
    let mut values = Vec::with_capacity(s.len());
    let out = &mut values.spare_capacity_mut()[..s.len()];
    let wide = avx512();
    let run = |((s, g), out): BackwardChunk| {
        #[cfg(target_arch = "x86_64")]
        if wide {
            // SAFETY: `wide` is true only when the CPU has AVX-512F.
            return unsafe { wide::backward_values(s, g, out) };
        }
        let _ = wide;
        backward_values(s, g, out);
    };
    if s.len() <= CHUNK {
        run(((s, g), out));
    } else {
        s.par_chunks(CHUNK)
            .zip(g.par_chunks(CHUNK))
            .zip(out.par_chunks_mut(CHUNK))
            .for_each(run);
    }
    // SAFETY: the loops above wrote each of the first `s.len()` values.
    unsafe { values.set_len(s.len()) };
    values
}

/// The logistic sigmoid, as `burn::tensor::activation::sigmoid`: one fused operation with its
/// own backward on burn-flex `f32`, burn's op on every other backend.
///
/// ```
/// use burn::tensor::{Tensor, activation};
/// type B = burn_flex::Flex;
///
/// let device = Default::default();
/// let x = Tensor::<B, 1>::from_floats([-30.0, -1.0, 0.0, 2.5, 40.0], &device);
/// let gap = (ae_kernels::sigmoid(x.clone()) - activation::sigmoid(x)).abs().max();
/// assert!(gap.into_scalar() < 1e-6);
/// ```
pub fn sigmoid<B: Backend, const D: usize>(x: Tensor<B, D>) -> Tensor<B, D> {
    #[cfg(feature = "flex")]
    if !crate::burns_only() {
        return match crate::flex::sigmoid(x) {
            Ok(out) => out,
            Err(x) => burn::tensor::activation::sigmoid(x),
        };
    }
    burn::tensor::activation::sigmoid(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_formula_across_the_range_and_chunks() {
        let x: Vec<f32> = (0..40_000).map(|i| (i as f32 - 20_000.0) * 0.005).collect();
        let s = sigmoid_slice(&x);
        for (x, s) in x.iter().zip(&s) {
            let expected = 1.0 / (1.0 + (-f64::from(*x)).exp());
            assert!(
                (f64::from(*s) - expected).abs() < 2e-7,
                "sigmoid({x}) = {s}"
            );
        }
        let extreme = sigmoid_slice(&[-1e30, -100.0, 100.0, 1e30]);
        assert!(extreme[0] >= 0.0 && extreme[0] < 1e-37 && extreme[1] < 1e-37);
        assert_eq!(&extreme[2..], &[1.0, 1.0]);
    }

    #[test]
    fn backward_is_g_s_one_minus_s() {
        let s: Vec<f32> = (0..20_000).map(|i| i as f32 / 20_000.0).collect();
        let g: Vec<f32> = (0..20_000).map(|i| (i % 7) as f32 - 3.0).collect();
        let d = sigmoid_backward_slice(&s, &g);
        for i in 0..s.len() {
            assert!((d[i] - g[i] * s[i] * (1.0 - s[i])).abs() < 1e-7);
        }
    }
}
