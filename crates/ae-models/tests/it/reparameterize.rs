//! Statistical tests of the VAE's reparameterized sampling.

use crate::common::{I, rng_lock, seed, tensor2, values};
use ae_models::{ArchitectureConfig, InputShape, Vae, VaeConfig};
use burn::tensor::Tensor;

fn tiny_vae(latent: usize) -> Vae<I> {
    VaeConfig::new(latent, ArchitectureConfig::mlp(vec![4], Default::default()))
        .with_input_shape(InputShape::new(1, 1, 3))
        .init::<I>(&Default::default())
        .expect("valid config")
}

/// Draws `n` samples for one (mean, log-variance) row repeated `n` times.
fn samples(vae: &Vae<I>, mean: &[f64], logvar: &[f64], n: usize, seed_value: u64) -> Vec<f64> {
    let d = mean.len();
    let mean = tensor2::<I>(mean, 1, d).repeat_dim(0, n);
    let logvar = tensor2::<I>(logvar, 1, d).repeat_dim(0, n);
    let _guard = rng_lock();
    seed(seed_value);
    let z: Tensor<I, 2> = vae.reparameterize(mean, logvar);
    assert_eq!(z.dims(), [n, d]);
    values(z)
}

#[test]
fn sample_mean_and_variance_match_the_posterior() {
    let mean = [0.5, -2.0, 3.0, 0.0];
    let logvar = [0.0, -3.0, 1.2, 2.0];
    let d = mean.len();
    let vae = tiny_vae(d);
    let n = 50_000;
    let z = samples(&vae, &mean, &logvar, n, 11);

    let mut mu_hat = vec![0.0; d];
    for row in z.chunks_exact(d) {
        for k in 0..d {
            mu_hat[k] += row[k] / n as f64;
        }
    }
    let mut var_hat = vec![0.0; d];
    for row in z.chunks_exact(d) {
        for k in 0..d {
            var_hat[k] += (row[k] - mu_hat[k]).powi(2) / (n - 1) as f64;
        }
    }
    for k in 0..d {
        let var = logvar[k].exp();
        // Standard error of the sample mean and (for a Gaussian) of the sample variance.
        let se_mean = (var / n as f64).sqrt();
        let se_var = var * (2.0 / (n - 1) as f64).sqrt();
        assert!(
            (mu_hat[k] - mean[k]).abs() < 5.0 * se_mean,
            "dim {k}: sample mean {} vs {} (se {se_mean})",
            mu_hat[k],
            mean[k]
        );
        assert!(
            (var_hat[k] - var).abs() < 5.0 * se_var,
            "dim {k}: sample variance {} vs {var} (se {se_var})",
            var_hat[k]
        );
    }

    // The noise is independent across dimensions: sample correlations are near 0.
    for a in 0..d {
        for b in a + 1..d {
            let cov: f64 = z
                .chunks_exact(d)
                .map(|row| (row[a] - mu_hat[a]) * (row[b] - mu_hat[b]))
                .sum::<f64>()
                / (n - 1) as f64;
            let corr = cov / (var_hat[a] * var_hat[b]).sqrt();
            assert!(
                corr.abs() < 5.0 / (n as f64).sqrt(),
                "dims {a} and {b}: correlation {corr}"
            );
        }
    }
}

#[test]
fn sampling_is_seeded_and_collapses_at_tiny_variance() {
    let vae = tiny_vae(2);
    let a = samples(&vae, &[0.3, -0.7], &[0.0, 0.0], 100, 5);
    let b = samples(&vae, &[0.3, -0.7], &[0.0, 0.0], 100, 5);
    let c = samples(&vae, &[0.3, -0.7], &[0.0, 0.0], 100, 6);
    assert_eq!(a, b, "same seed, same samples");
    assert_ne!(a, c, "different seed, different samples");

    // At the smallest clamped log-variance (σ = e^-15) a sample is the mean.
    let z = samples(&vae, &[0.3, -0.7], &[-30.0, -30.0], 100, 5);
    for row in z.chunks_exact(2) {
        assert!(
            (row[0] - 0.3).abs() < 1e-5 && (row[1] + 0.7).abs() < 1e-5,
            "{row:?}"
        );
    }
}

#[test]
fn encode_clamps_the_posterior_log_variance() {
    // Weights scaled up make the encoder's raw log-variance huge; encode clamps it.
    let vae = tiny_vae(2);
    let x = tensor2::<I>(&[1e6, -1e6, 1e6, -1e6, 1e6, -1e6], 2, 3);
    let (mean, logvar) = vae.encode(x);
    assert_eq!(mean.dims(), [2, 2]);
    let (lo, hi) = ae_models::vae::POSTERIOR_LOG_VARIANCE_RANGE;
    let logvar = values(logvar);
    for &v in &logvar {
        assert!(
            (lo..=hi).contains(&v),
            "log-variance {v} outside [{lo}, {hi}]"
        );
    }
    assert!(
        logvar.iter().any(|&v| v == lo || v == hi),
        "inputs of ±1e6 should drive some log-variance to a bound: {logvar:?}"
    );
}
