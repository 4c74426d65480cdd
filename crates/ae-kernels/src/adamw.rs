//! A fused AdamW update: one pass over the parameter, its gradient and both moments instead
//! of the dozen whole-tensor operations (each a pass over memory, most allocating) that
//! burn's `AdamW` composes. The arithmetic is burn's, operation for operation (amsgrad and
//! cautious weight decay off).

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
    let AdamWHyper {
        beta_1,
        beta_2,
        epsilon,
        weight_decay,
    } = *hyper;
    let time = i32::try_from(time).unwrap_or(i32::MAX);
    let decay_rate = lr * f64::from(weight_decay);
    let constants = Constants {
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
    };
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
    if std::arch::is_x86_feature_detected!("avx512f") {
        // SAFETY: the CPU has AVX-512F, the only requirement of `update_avx512`.
        return unsafe { update_avx512(c, p, g, m, v) };
    }
    update_values(c, p, g, m, v);
}

/// [`update_values`] compiled for AVX-512 (16 values per instruction).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn update_avx512(c: &Constants, p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32]) {
    update_values(c, p, g, m, v);
}

/// `m ← β₁m + (1−β₁)g`, `v ← β₂v + (1−β₂)g²`, `p ← p·(1 − lr·λ) − lr·m̂ / (√v̂ + ε)`.
#[inline(always)]
fn update_values(c: &Constants, p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32]) {
    for (((p, g), m), v) in p.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
        *m = *m * c.beta_1 + *g * c.factor_1;
        *v = *v * c.beta_2 + (*g * *g) * c.factor_2;
        let delta = (*m * c.inv_correct_1) / ((*v * c.inv_correct_2).sqrt() + c.epsilon);
        *p = *p * c.keep - delta * c.lr;
    }
}
