//! Binary cross-entropy with logits, fused: one pass per row forward (`ln(1 + e^l) − l·x`
//! with one exponential and one logarithm per value) and one backward (`sigmoid(l) − x`),
//! where the same loss from burn's tensor operations takes a dozen passes and three
//! transcendental functions per value each way.

use burn::tensor::Tensor;
use burn::tensor::backend::Backend;
use rayon::prelude::*;

use crate::math::{avx512, exp_nonpositive, ln_1p_unit, sigmoid};

/// Rows per parallel task.
const ROWS_PER_TASK: usize = 16;

/// `ln(1 + e^l)`, finite for every finite `l`.
#[inline(always)]
fn softplus(l: f32) -> f32 {
    l.max(0.0) + ln_1p_unit(exp_nonpositive(-l.abs()))
}

/// `Σ ln(1 + e^l) − l·x` over one row, in sixteen running sums (one vector register).
#[inline(always)]
fn row_loss(l: &[f32], x: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 16];
    let (mut ls, mut xs) = (l.chunks_exact(16), x.chunks_exact(16));
    for (l, x) in (&mut ls).zip(&mut xs) {
        for ((acc, l), x) in lanes.iter_mut().zip(l).zip(x) {
            *acc += softplus(*l) - l * x;
        }
    }
    let rest: f32 = ls
        .remainder()
        .iter()
        .zip(xs.remainder())
        .map(|(l, x)| softplus(*l) - l * x)
        .sum();
    lanes.iter().sum::<f32>() + rest
}

/// `out = (sigmoid(l) − x)·g` over one row.
#[inline(always)]
fn row_grad(l: &[f32], x: &[f32], g: f32, out: &mut [f32]) {
    for ((o, l), x) in out.iter_mut().zip(l).zip(x) {
        *o = (sigmoid(*l) - x) * g;
    }
}

/// [`row_loss`] and [`row_grad`] with the widest vector instructions this CPU has.
#[cfg(target_arch = "x86_64")]
mod wide {
    #[target_feature(enable = "avx512f")]
    pub(super) fn row_loss(l: &[f32], x: &[f32]) -> f32 {
        super::row_loss(l, x)
    }

    #[target_feature(enable = "avx512f")]
    pub(super) fn row_grad(l: &[f32], x: &[f32], g: f32, out: &mut [f32]) {
        super::row_grad(l, x, g, out);
    }
}

/// [`row_loss`], widest when `wide`.
fn loss_of_row(wide: bool, l: &[f32], x: &[f32]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if wide {
        // SAFETY: `wide` is true only when the CPU has AVX-512F.
        return unsafe { wide::row_loss(l, x) };
    }
    let _ = wide;
    row_loss(l, x)
}

/// [`row_grad`], widest when `wide`.
fn grad_of_row(wide: bool, l: &[f32], x: &[f32], g: f32, out: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if wide {
        // SAFETY: `wide` is true only when the CPU has AVX-512F.
        return unsafe { wide::row_grad(l, x, g, out) };
    }
    let _ = wide;
    row_grad(l, x, g, out);
}

/// Per-row sums of `ln(1 + e^l) − l·x` over rows of `cols` values.
pub fn bce_rows(logits: &[f32], target: &[f32], cols: usize) -> Vec<f32> {
    assert_eq!(logits.len(), target.len(), "bce_rows: lengths differ");
    let rows = logits.len().checked_div(cols).unwrap_or(0);
    let mut out = vec![0.0f32; rows];
    let wide = avx512();
    let row = |(r, out): (usize, &mut f32)| {
        let (l, x) = (&logits[r * cols..][..cols], &target[r * cols..][..cols]);
        *out = loss_of_row(wide, l, x);
    };
    if rows * cols < 1 << 14 {
        out.iter_mut().enumerate().for_each(row);
    } else {
        out.par_iter_mut()
            .enumerate()
            .with_min_len(ROWS_PER_TASK)
            .for_each(row);
    }
    out
}

/// Gradients of [`bce_rows`] given each row's gradient `grad`: the logits' `(sigmoid(l) −
/// x)·g` and the targets' `−l·g`, each when asked for.
pub fn bce_rows_backward(
    logits: &[f32],
    target: &[f32],
    cols: usize,
    grad: &[f32],
    want_logits: bool,
    want_target: bool,
) -> (Option<Vec<f32>>, Option<Vec<f32>>) {
    assert_eq!(
        logits.len(),
        target.len(),
        "bce_rows_backward: lengths differ"
    );
    assert_eq!(
        grad.len() * cols,
        logits.len(),
        "bce_rows_backward: gradient size"
    );
    let wide = avx512();
    let dl = want_logits.then(|| {
        let mut dl = vec![0.0f32; logits.len()];
        let row = |(r, out): (usize, &mut [f32])| {
            let (l, x) = (&logits[r * cols..][..cols], &target[r * cols..][..cols]);
            grad_of_row(wide, l, x, grad[r], out);
        };
        if cols == 0 || logits.len() < 1 << 14 {
            dl.chunks_mut(cols.max(1)).enumerate().for_each(row);
        } else {
            dl.par_chunks_mut(cols)
                .enumerate()
                .with_min_len(ROWS_PER_TASK)
                .for_each(row);
        }
        dl
    });
    let dx = want_target.then(|| {
        logits
            .iter()
            .enumerate()
            .map(|(i, l)| -l * grad[i / cols.max(1)])
            .collect()
    });
    (dl, dx)
}

/// Binary cross-entropy with logits summed over each row of `[rows, cols]` tensors, as one
/// fused operation with its own backward on burn-flex `f32`; on any other backend the inputs
/// come back unchanged as `Err` for the caller's own formula.
pub fn bce_with_logits<B: Backend>(
    logits: Tensor<B, 2>,
    target: Tensor<B, 2>,
) -> Result<Tensor<B, 1>, (Tensor<B, 2>, Tensor<B, 2>)> {
    #[cfg(feature = "flex")]
    if !crate::burns_only() {
        return crate::flex::bce_with_logits(logits, target);
    }
    Err((logits, target))
}
