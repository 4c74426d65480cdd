//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::sync::{Mutex, MutexGuard};

use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Tensor, TensorData};

/// The autodiff backend the models train on.
pub type B = ae_backend::NdArrayAutodiff;
/// Its inner (non-autodiff) backend, `NdArray<f32>`.
pub type I = <B as AutodiffBackend>::InnerBackend;

/// NdArray keeps one global RNG: tests that seed it and draw from it hold this lock so that
/// concurrently running tests in the same binary cannot interleave their draws.
pub fn rng_lock() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Seeds the (global) NdArray RNG.
pub fn seed(seed: u64) {
    B::seed(&Default::default(), seed);
}

/// A `[rows, cols]` tensor from row-major values.
pub fn tensor2<BB: Backend>(values: &[f64], rows: usize, cols: usize) -> Tensor<BB, 2> {
    assert_eq!(values.len(), rows * cols);
    let data = TensorData::new(values.to_vec(), [rows, cols]);
    Tensor::from_data(data, &Default::default())
}

/// All values of a tensor, as f64.
pub fn values<BB: Backend, const D: usize>(t: Tensor<BB, D>) -> Vec<f64> {
    t.into_data()
        .convert::<f64>()
        .into_vec::<f64>()
        .expect("float tensor data")
}

/// Asserts `|a - b| <= rel * max(|a|, |b|) + abs`, naming `what` on failure.
pub fn assert_close(a: f64, b: f64, rel: f64, abs: f64, what: &str) {
    let tol = rel * a.abs().max(b.abs()) + abs;
    assert!(
        (a - b).abs() <= tol,
        "{what}: {a} vs {b} (difference {}, tolerance {tol})",
        (a - b).abs()
    );
}
