//! Shared helpers: seeded random data and float assertions.

use ae_analysis::Matrix;
use rand::rngs::ChaCha12Rng;
use rand::{RngExt, SeedableRng};

pub fn rng(seed: u64) -> ChaCha12Rng {
    ChaCha12Rng::seed_from_u64(seed)
}

/// Standard normal via Box–Muller (independent of the crate's own helper).
pub fn normal(rng: &mut ChaCha12Rng) -> f64 {
    let u1: f64 = 1.0 - rng.random::<f64>();
    let u2: f64 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

pub fn random_matrix(rows: usize, cols: usize, seed: u64) -> Matrix {
    let mut r = rng(seed);
    Matrix::from_fn(rows, cols, |_, _| normal(&mut r))
}

pub fn random_symmetric(n: usize, seed: u64) -> Matrix {
    let a = random_matrix(n, n, seed);
    Matrix::from_fn(n, n, |i, j| 0.5 * (a.get(i, j) + a.get(j, i)))
}

#[track_caller]
pub fn assert_close(actual: f64, expected: f64, tol: f64) {
    assert!(
        (actual - expected).abs() <= tol,
        "expected {expected}, got {actual} (tolerance {tol})"
    );
}

/// Largest absolute entry of `a - b`.
pub fn max_abs_diff(a: &Matrix, b: &Matrix) -> f64 {
    assert_eq!(a.shape(), b.shape());
    a.data()
        .iter()
        .zip(b.data())
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

/// Naive triple-loop product, independent of `Matrix::matmul`.
pub fn naive_matmul(a: &Matrix, b: &Matrix) -> Matrix {
    Matrix::from_fn(a.rows(), b.cols(), |i, j| {
        (0..a.cols()).map(|p| a.get(i, p) * b.get(p, j)).sum()
    })
}
