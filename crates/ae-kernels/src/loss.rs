//! Binary cross-entropy with logits, fused: one pass per row forward (`ln(1 + e^l) − l·x`
//! with one exponential and one logarithm per value) and one backward (`sigmoid(l) − x`),
//! where the same loss from burn's tensor operations takes a dozen passes and three
//! transcendental functions per value each way.

use burn::tensor::Tensor;
use burn::tensor::backend::Backend;
use rayon::prelude::*;

/// Rows per parallel task.
const ROWS_PER_TASK: usize = 16;

/// `ln(1 + e^l)`, finite for every finite `l`.
#[inline]
fn softplus(l: f32) -> f32 {
    l.max(0.0) + (-l.abs()).exp().ln_1p()
}

/// `1 / (1 + e^(−l))` without overflow.
#[inline]
fn sigmoid(l: f32) -> f32 {
    if l >= 0.0 {
        1.0 / (1.0 + (-l).exp())
    } else {
        let e = l.exp();
        e / (1.0 + e)
    }
}

/// Per-row sums of `ln(1 + e^l) − l·x` over rows of `cols` values.
pub fn bce_rows(logits: &[f32], target: &[f32], cols: usize) -> Vec<f32> {
    assert_eq!(logits.len(), target.len(), "bce_rows: lengths differ");
    let rows = logits.len().checked_div(cols).unwrap_or(0);
    let mut out = vec![0.0f32; rows];
    let row = |(r, out): (usize, &mut f32)| {
        let (l, x) = (&logits[r * cols..][..cols], &target[r * cols..][..cols]);
        *out = l.iter().zip(x).map(|(l, x)| softplus(*l) - l * x).sum();
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
    let dl = want_logits.then(|| {
        let mut dl = vec![0.0f32; logits.len()];
        let row = |(r, out): (usize, &mut [f32])| {
            let g = grad[r];
            let (l, x) = (&logits[r * cols..][..cols], &target[r * cols..][..cols]);
            for ((o, l), x) in out.iter_mut().zip(l).zip(x) {
                *o = (sigmoid(*l) - x) * g;
            }
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
