//! Manual timings (ignored by default). Run with
//! `cargo test -p ae-analysis --release --test analysis timing -- --ignored --nocapture`.

use std::time::Instant;

use ae_analysis::{KMeans, Matrix, Pca, symmetric_eigen};
use rand::rngs::ChaCha12Rng;
use rand::{RngExt, SeedableRng};

fn normal(rng: &mut ChaCha12Rng) -> f64 {
    let u1: f64 = 1.0 - rng.random::<f64>();
    let u2: f64 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

/// MNIST-shaped data: 10 random "prototype" images in [0, 1]^784 plus noise.
fn mnist_like(n: usize, noise: f64, seed: u64) -> Matrix {
    let mut rng = ChaCha12Rng::seed_from_u64(seed);
    let protos: Vec<Vec<f64>> = (0..10)
        .map(|_| (0..784).map(|_| rng.random::<f64>()).collect())
        .collect();
    Matrix::from_fn(n, 784, |i, j| {
        (protos[i % 10][j] + noise * normal(&mut rng)).clamp(0.0, 1.0)
    })
}

#[test]
#[ignore = "timing only"]
fn time_symmetric_eigen_784() {
    let mut rng = ChaCha12Rng::seed_from_u64(1);
    let a = Matrix::from_fn(784, 784, |_, _| normal(&mut rng));
    let a = Matrix::from_fn(784, 784, |i, j| a.get(i, j) + a.get(j, i));
    let start = Instant::now();
    let eig = symmetric_eigen(&a).expect("eigen");
    println!(
        "symmetric_eigen 784x784: {:.3} s (largest {:.3})",
        start.elapsed().as_secs_f64(),
        eig.values[0]
    );
}

#[test]
#[ignore = "timing only"]
fn time_kmeans_10000x784() {
    for (label, noise) in [
        ("10 noisy prototypes (noise 0.3)", 0.3),
        ("10 very noisy prototypes (noise 1.0)", 1.0),
    ] {
        let data = mnist_like(10_000, noise, 2);
        let start = Instant::now();
        let km = KMeans::fit(&data, 10, 0, 3, 300).expect("kmeans");
        println!(
            "KMeans 10000x784 k=10 restarts=3 [{label}]: {:.3} s (best run {} iterations, converged {})",
            start.elapsed().as_secs_f64(),
            km.iterations,
            km.converged
        );
    }
    let mut rng = ChaCha12Rng::seed_from_u64(3);
    let data = Matrix::from_fn(10_000, 784, |_, _| rng.random::<f64>());
    let start = Instant::now();
    let km = KMeans::fit(&data, 10, 0, 3, 100).expect("kmeans");
    println!(
        "KMeans 10000x784 k=10 restarts=3 [uniform noise, max_iter 100]: {:.3} s (best run {} iterations, converged {})",
        start.elapsed().as_secs_f64(),
        km.iterations,
        km.converged
    );
}

#[test]
#[ignore = "timing only"]
fn time_pca_10000x784() {
    let data = mnist_like(10_000, 0.3, 4);
    let start = Instant::now();
    let pca = Pca::fit(&data, 50).expect("pca");
    println!(
        "Pca::fit 10000x784 (50 components): {:.3} s (first ratio {:.3})",
        start.elapsed().as_secs_f64(),
        pca.explained_variance_ratio()[0]
    );
}
