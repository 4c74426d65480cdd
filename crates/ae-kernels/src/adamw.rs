//! A fused AdamW update: one pass over the parameter, its gradient and both moments instead
//! of the dozen whole-tensor operations (each a pass over memory, most allocating) that
//! burn's `AdamW` composes. The arithmetic is burn's, operation for operation (amsgrad and
//! cautious weight decay off).

use std::mem::MaybeUninit;

use burn::tensor::Tensor;
use burn::tensor::backend::Backend;
use rayon::prelude::*;

/// AdamW's constants.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamWHyper {
    /// Decay of the first moment.
    pub beta_1: f32,
    /// Decay of the second moment.
    pub beta_2: f32,
    /// Added to the second moment's square root.
    pub epsilon: f32,
    /// Decoupled weight decay (scaled by the learning rate).
    pub weight_decay: f32,
}

/// The two moments of one parameter and the number of steps they have seen.
#[derive(Clone, Debug)]
pub struct AdamMoments<B: Backend, const D: usize> {
    /// Steps taken, this one included once [`adamw_step`] returns.
    pub time: usize,
    /// First moment.
    pub moment_1: Tensor<B, D>,
    /// Second moment.
    pub moment_2: Tensor<B, D>,
}

/// Inputs handed back when the backend is not burn-flex.
pub type Declined<B, const D: usize> = (Tensor<B, D>, Tensor<B, D>, Option<AdamMoments<B, D>>);

/// One AdamW step of `param` with `grad` and learning rate `lr`, fused on burn-flex `f32`;
/// on any other backend the inputs come back unchanged as `Err` for the caller's own
/// update.
pub fn adamw_step<B: Backend, const D: usize>(
    hyper: &AdamWHyper,
    lr: f64,
    param: Tensor<B, D>,
    grad: Tensor<B, D>,
    moments: Option<AdamMoments<B, D>>,
) -> Result<(Tensor<B, D>, AdamMoments<B, D>), Declined<B, D>> {
    #[cfg(feature = "flex")]
    if !crate::burns_only() {
        return crate::flex::adamw(hyper, lr, param, grad, moments);
    }
    let _ = (hyper, lr);
    Err((param, grad, moments))
}

/// One chunk of the update: parameter, gradient, first and second moment.
type Chunk<'a> = (((&'a mut [f32], &'a [f32]), &'a mut [f32]), &'a mut [f32]);

/// One chunk of the copying update: parameter, its new values, gradient, both moments.
type ChunkFrom<'a> = (
    (
        ((&'a [f32], &'a mut [MaybeUninit<f32>]), &'a [f32]),
        &'a mut [f32],
    ),
    &'a mut [f32],
);

/// Parameters per parallel task of the update.
const CHUNK: usize = 1 << 15;

/// The update on slices: `time` counts this step (1 on the first); `m` and `v` hold the
/// previous moments (zeros before the first step) and receive the new ones.
pub fn adamw_update(
    hyper: &AdamWHyper,
    lr: f64,
    time: usize,
    param: &mut [f32],
    grad: &[f32],
    m: &mut [f32],
    v: &mut [f32],
) {
    assert!(
        param.len() == grad.len() && m.len() == grad.len() && v.len() == grad.len(),
        "adamw_update: lengths differ"
    );
    let constants = Constants::new(hyper, lr, time);
    let update = |(((p, g), m), v): Chunk| update_chunk(&constants, p, g, m, v);
    if param.len() <= CHUNK {
        update((((param, grad), m), v));
    } else {
        param
            .par_chunks_mut(CHUNK)
            .zip(grad.par_chunks(CHUNK))
            .zip(m.par_chunks_mut(CHUNK))
            .zip(v.par_chunks_mut(CHUNK))
            .for_each(update);
    }
}

/// [`adamw_update`] of a parameter that cannot be written in place (another tensor shares
/// it): the new values go straight to a new vector, one pass instead of a copy and an update.
pub fn adamw_update_from(
    hyper: &AdamWHyper,
    lr: f64,
    time: usize,
    param: &[f32],
    grad: &[f32],
    m: &mut [f32],
    v: &mut [f32],
) -> Vec<f32> {
    let n = grad.len();
    assert!(
        param.len() == n && m.len() == n && v.len() == n,
        "adamw_update_from: lengths differ"
    );
    let constants = Constants::new(hyper, lr, time);
    let mut out = Vec::<f32>::with_capacity(n);
    let spare = &mut out.spare_capacity_mut()[..n];
    let update = |((((p, out), g), m), v): ChunkFrom| {
        update_chunk_from(&constants, p, out, g, m, v);
    };
    if n <= CHUNK {
        update(((((param, spare), grad), m), v));
    } else {
        param
            .par_chunks(CHUNK)
            .zip(spare.par_chunks_mut(CHUNK))
            .zip(grad.par_chunks(CHUNK))
            .zip(m.par_chunks_mut(CHUNK))
            .zip(v.par_chunks_mut(CHUNK))
            .for_each(update);
    }
    // SAFETY: every chunk wrote each of its values, and the chunks cover the first n.
    unsafe { out.set_len(n) };
    out
}

impl Constants {
    fn new(hyper: &AdamWHyper, lr: f64, time: usize) -> Self {
        let AdamWHyper {
            beta_1,
            beta_2,
            epsilon,
            weight_decay,
        } = *hyper;
        let time = i32::try_from(time).unwrap_or(i32::MAX);
        let decay_rate = lr * f64::from(weight_decay);
        Self {
            beta_1,
            beta_2,
            factor_1: 1.0 - beta_1,
            factor_2: 1.0 - beta_2,
            inv_correct_1: 1.0 / (1.0 - beta_1.powi(time)),
            inv_correct_2: 1.0 / (1.0 - beta_2.powi(time)),
            epsilon,
            keep: if decay_rate == 0.0 {
                1.0
            } else {
                (1.0 - decay_rate) as f32
            },
            lr: lr as f32,
        }
    }
}

/// The per-value constants of one step.
struct Constants {
    beta_1: f32,
    beta_2: f32,
    factor_1: f32,
    factor_2: f32,
    inv_correct_1: f32,
    inv_correct_2: f32,
    epsilon: f32,
    keep: f32,
    lr: f32,
}

/// The update of one chunk, with the widest vector instructions this CPU has.
fn update_chunk(c: &Constants, p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if crate::math::avx512() {
        // SAFETY: the CPU has AVX-512F, the only requirement of `update_avx512`.
        return unsafe { update_avx512(c, p, g, m, v) };
    }
    update_values(c, p, g, m, v);
}

/// [`update_chunk`] reading the parameter from `p` and writing it to `out`.
fn update_chunk_from(
    c: &Constants,
    p: &[f32],
    out: &mut [MaybeUninit<f32>],
    g: &[f32],
    m: &mut [f32],
    v: &mut [f32],
) {
    #[cfg(target_arch = "x86_64")]
    if crate::math::avx512() {
        // SAFETY: the CPU has AVX-512F, the only requirement of `update_from_avx512`.
        return unsafe { update_from_avx512(c, p, out, g, m, v) };
    }
    update_values_from(c, p, out, g, m, v);
}

/// [`update_values`] compiled for AVX-512 (16 values per instruction).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn update_avx512(c: &Constants, p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32]) {
    update_values(c, p, g, m, v);
}

/// [`update_values_from`] compiled for AVX-512.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn update_from_avx512(
    c: &Constants,
    p: &[f32],
    out: &mut [MaybeUninit<f32>],
    g: &[f32],
    m: &mut [f32],
    v: &mut [f32],
) {
    update_values_from(c, p, out, g, m, v);
}

/// `m ← β₁m + (1−β₁)g`, `v ← β₂v + (1−β₂)g²`, and the step `lr·m̂ / (√v̂ + ε)`.
#[inline(always)]
fn moments_and_step(c: &Constants, g: f32, m: &mut f32, v: &mut f32) -> f32 {
    *m = *m * c.beta_1 + g * c.factor_1;
    *v = *v * c.beta_2 + (g * g) * c.factor_2;
    let delta = (*m * c.inv_correct_1) / ((*v * c.inv_correct_2).sqrt() + c.epsilon);
    delta * c.lr
}

/// The moments, then `p ← p·(1 − lr·λ) − lr·m̂ / (√v̂ + ε)`.
#[inline(always)]
fn update_values(c: &Constants, p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32]) {
    for (((p, g), m), v) in p.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
        let step = moments_and_step(c, *g, m, v);
        *p = *p * c.keep - step;
    }
}

/// [`update_values`] with the new parameter written to `out`.
#[inline(always)]
fn update_values_from(
    c: &Constants,
    p: &[f32],
    out: &mut [MaybeUninit<f32>],
    g: &[f32],
    m: &mut [f32],
    v: &mut [f32],
) {
    let values = p.iter().zip(out.iter_mut()).zip(g);
    for (((p, out), g), (m, v)) in values.zip(m.iter_mut().zip(v.iter_mut())) {
        let step = moments_and_step(c, *g, m, v);
        out.write(*p * c.keep - step);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_copying_update_equals_the_one_in_place() {
        let hyper = AdamWHyper {
            beta_1: 0.9,
            beta_2: 0.999,
            epsilon: 1e-8,
            weight_decay: 0.01,
        };
        let n = 3 * CHUNK + 17;
        let wave = |k: f32| (0..n).map(|i| ((i as f32) * k).sin()).collect::<Vec<f32>>();
        let (p, g, m, v) = (wave(0.37), wave(1.3), wave(0.11), wave(0.05));
        let v: Vec<f32> = v.iter().map(|x| x * x).collect();
        let (mut p1, mut m1, mut v1) = (p.clone(), m.clone(), v.clone());
        adamw_update(&hyper, 1e-3, 3, &mut p1, &g, &mut m1, &mut v1);
        let (mut m2, mut v2) = (m.clone(), v.clone());
        let p2 = adamw_update_from(&hyper, 1e-3, 3, &p, &g, &mut m2, &mut v2);
        assert_ne!(p, p2, "the update moved nothing");
        assert_eq!((p1, m1, v1), (p2, m2, v2));
    }
}
