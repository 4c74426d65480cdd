//! The importance-weighted log-likelihood estimate on a linear-Gaussian VAE, whose exact
//! log p(x) is a Gaussian density known in closed form: p(z) = N(0, I), p(x | z) =
//! N(Az + b, σ²I), so p(x) = N(b, AAᵀ + σ²I). A's columns are orthogonal, which makes the true
//! posterior a diagonal Gaussian that a linear encoder can represent exactly.

use ae_models::mlp::Mlp;
use ae_models::{
    Activation, ArchitectureConfig, Decoder, Encoder, InputShape, Likelihood, Objective, Vae,
    VaeConfig, log_mean_exp,
};
use burn::module::Param;
use burn::nn::Linear;
use burn::tensor::Tensor;

use crate::common::{I, rng_lock, seed, tensor2, values};

const D: usize = 4;
const L: usize = 2;
const VARIANCE: f64 = 0.5;
/// Decoder columns a_1, a_2 (orthogonal): x = A z + b.
const A: [[f64; D]; L] = [[1.0, 0.0, 1.0, 0.0], [0.0, 2.0, 0.0, -1.0]];
const BIAS: [f64; D] = [0.1, -0.2, 0.3, 0.0];

fn norm2(a: &[f64; D]) -> f64 {
    a.iter().map(|v| v * v).sum()
}

fn dot(a: &[f64; D], r: &[f64]) -> f64 {
    a.iter().zip(r).map(|(x, y)| x * y).sum()
}

/// Exact log N(x; b, AAᵀ + σ²I) by the determinant lemma and Woodbury's identity.
fn exact_log_likelihood(x: &[f64]) -> f64 {
    let r: Vec<f64> = x.iter().zip(BIAS).map(|(x, b)| x - b).collect();
    let mut log_det = D as f64 * VARIANCE.ln();
    let mut quadratic = r.iter().map(|v| v * v).sum::<f64>() / VARIANCE;
    for a in &A {
        let precision = 1.0 + norm2(a) / VARIANCE;
        log_det += precision.ln();
        quadratic -= dot(a, &r).powi(2) / (VARIANCE * VARIANCE * precision);
    }
    -0.5 * (D as f64 * (2.0 * std::f64::consts::PI).ln() + log_det + quadratic)
}

/// Posterior variance s_j² = 1 / (1 + |a_j|²/σ²) of each latent dimension.
fn posterior_variance(j: usize) -> f64 {
    1.0 / (1.0 + norm2(&A[j]) / VARIANCE)
}

fn linear(weight: Vec<f64>, rows: usize, cols: usize, bias: Vec<f64>) -> Linear<I> {
    let device = Default::default();
    Linear {
        weight: Param::from_tensor(tensor2::<I>(&weight, rows, cols)),
        bias: Some(Param::from_tensor(Tensor::from_data(
            burn::tensor::TensorData::new(bias, [cols]),
            &device,
        ))),
    }
}

/// The linear-Gaussian VAE; the encoder is the exact posterior with its mean shifted by
/// `mean_shift` and its log-variance by `log_variance_shift` (0, 0: exact).
fn linear_gaussian_vae(
    mean_shift: f64,
    log_variance_shift: f64,
    objective: Objective,
    samples: usize,
) -> Vae<I> {
    let architecture = ArchitectureConfig::mlp(vec![], Activation::None);
    let mut vae: Vae<I> = VaeConfig::new(L, architecture)
        .with_input_shape(InputShape::new(1, 2, 2))
        .with_likelihood(Likelihood::Gaussian { variance: VARIANCE })
        .with_objective(objective)
        .with_samples(samples)
        .init(&Default::default())
        .expect("valid config");
    // Decoder weight [L, D]: row j is a_j.
    let decoder_weight: Vec<f64> = A.iter().flatten().copied().collect();
    vae.decoder = Decoder::Mlp(Mlp {
        layers: vec![linear(decoder_weight, L, D, BIAS.to_vec())],
        activation: Activation::None,
        norms: None,
        dropout: 0.0,
    });
    // Encoder weight [D, 2L]: μ_j = s_j² a_jᵀ(x − b)/σ²; log-variance constant ln s_j².
    let mut weight = vec![0.0; D * 2 * L];
    let mut bias = vec![0.0; 2 * L];
    for j in 0..L {
        let s2 = posterior_variance(j);
        for i in 0..D {
            weight[i * 2 * L + j] = s2 * A[j][i] / VARIANCE;
        }
        bias[j] = -s2 * dot(&A[j], &BIAS) / VARIANCE + mean_shift;
        bias[L + j] = s2.ln() + log_variance_shift;
    }
    vae.encoder = Encoder::Mlp(Mlp {
        layers: vec![linear(weight, D, 2 * L, bias)],
        activation: Activation::None,
        norms: None,
        dropout: 0.0,
    });
    vae
}

fn points() -> Vec<Vec<f64>> {
    vec![
        vec![0.0, 0.0, 0.0, 0.0],
        vec![1.5, -0.7, 0.9, 0.4],
        vec![-2.0, 3.0, -1.0, -2.5],
    ]
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

#[test]
fn with_the_exact_posterior_every_weight_is_the_exact_likelihood() {
    let _guard = rng_lock();
    seed(1);
    let vae = linear_gaussian_vae(0.0, 0.0, Objective::Elbo, 1);
    for x in points() {
        let exact = exact_log_likelihood(&x);
        let input = tensor2::<I>(&x, 1, D);
        let weights = values(vae.log_importance_weights(input.clone(), input, 64));
        assert_eq!(weights.len(), 64);
        for w in weights {
            assert!(
                (w - exact).abs() < 1e-3,
                "log weight {w} vs exact log p(x) {exact}"
            );
        }
    }
}

#[test]
fn estimate_rises_to_the_exact_likelihood_as_k_grows_and_stays_below_it() {
    let _guard = rng_lock();
    seed(2);
    let vae = linear_gaussian_vae(0.6, 0.8, Objective::Elbo, 1);
    let repeats = 200;
    for x in points() {
        let exact = exact_log_likelihood(&x);
        let input = tensor2::<I>(&x, 1, D);
        let mut previous_gap = f64::INFINITY;
        for k in [1usize, 10, 100, 1000] {
            let batch = input.clone().repeat_dim(0, repeats);
            let weights = vae.log_importance_weights(batch.clone(), batch, k);
            let estimates = values(log_mean_exp(weights));
            let average = mean(&estimates);
            let gap = exact - average;
            // A lower bound on average (Jensen): allow only Monte-Carlo noise above it.
            assert!(
                gap > -0.02,
                "K={k}: estimate {average} above log p(x) = {exact}"
            );
            assert!(
                gap < previous_gap + 0.02,
                "K={k}: gap {gap} grew from {previous_gap}"
            );
            previous_gap = gap;
        }
        assert!(
            previous_gap < 0.05,
            "K=1000 still {previous_gap} nats below log p(x)"
        );
    }
}

#[test]
fn one_sample_estimate_averages_to_the_closed_form_elbo() {
    let _guard = rng_lock();
    seed(3);
    let (mean_shift, log_variance_shift) = (0.6, 0.8);
    let vae = linear_gaussian_vae(mean_shift, log_variance_shift, Objective::Elbo, 1);
    let x = [1.5, -0.7, 0.9, 0.4];
    // Closed-form ELBO of the shifted posterior q = N(m, diag(v)).
    let r: Vec<f64> = x.iter().zip(BIAS).map(|(x, b)| x - b).collect();
    let m: Vec<f64> = (0..L)
        .map(|j| posterior_variance(j) * dot(&A[j], &r) / VARIANCE + mean_shift)
        .collect();
    let v: Vec<f64> = (0..L)
        .map(|j| posterior_variance(j) * log_variance_shift.exp())
        .collect();
    let residual: f64 = (0..D)
        .map(|i| (r[i] - (0..L).map(|j| A[j][i] * m[j]).sum::<f64>()).powi(2))
        .sum();
    let spread: f64 = (0..L).map(|j| norm2(&A[j]) * v[j]).sum();
    let expected_log_likelihood = -0.5 * D as f64 * (2.0 * std::f64::consts::PI * VARIANCE).ln()
        - (residual + spread) / (2.0 * VARIANCE);
    let kl: f64 = (0..L)
        .map(|j| 0.5 * (m[j] * m[j] + v[j] - v[j].ln() - 1.0))
        .sum();
    let elbo = expected_log_likelihood - kl;

    let n = 40_000;
    let input = tensor2::<I>(&x, 1, D).repeat_dim(0, n);
    let weights = values(vae.log_importance_weights(input.clone(), input.clone(), 1));
    let average = mean(&weights);
    let sd = (weights.iter().map(|w| (w - average).powi(2)).sum::<f64>() / n as f64).sqrt();
    let tolerance = 4.0 * sd / (n as f64).sqrt();
    assert!(
        (average - elbo).abs() < tolerance,
        "K=1 estimate {average} vs closed-form ELBO {elbo} (tolerance {tolerance})"
    );
    // The training forward pass reports the same ELBO: reconstruction (sampled) + KL (exact).
    let output = vae.forward(input.clone(), input, 1.0);
    let negative_elbo = mean(&values(output.negative_elbo()));
    assert!(
        (negative_elbo + elbo).abs() < 0.05,
        "forward −ELBO {negative_elbo} vs {}",
        -elbo
    );
    assert!(elbo < exact_log_likelihood(&x));
}

#[test]
fn iwae_objective_is_tighter_than_the_elbo_and_approaches_the_likelihood() {
    let _guard = rng_lock();
    seed(4);
    let x = [-2.0, 3.0, -1.0, -2.5];
    let exact = exact_log_likelihood(&x);
    let n = 2000;
    let input = tensor2::<I>(&x, 1, D).repeat_dim(0, n);
    let total = |objective, samples| {
        let vae = linear_gaussian_vae(0.6, 0.8, objective, samples);
        mean(&values(
            vae.forward(input.clone(), input.clone(), 1.0).total,
        ))
    };
    let elbo_loss = total(Objective::Elbo, 1);
    let iwae_1 = total(Objective::Iwae, 1);
    let iwae_50 = total(Objective::Iwae, 50);
    assert!(
        (iwae_1 - elbo_loss).abs() < 0.1,
        "IWAE k=1 {iwae_1} vs ELBO {elbo_loss}"
    );
    assert!(
        iwae_50 < elbo_loss - 0.1,
        "IWAE k=50 {iwae_50} not below ELBO {elbo_loss}"
    );
    assert!(
        iwae_50 > -exact - 0.02,
        "IWAE k=50 {iwae_50} below −log p(x) = {}",
        -exact
    );
    assert!(
        iwae_50 < -exact + 0.1,
        "IWAE k=50 {iwae_50} far from −log p(x) = {}",
        -exact
    );
}

#[test]
fn extreme_logits_give_finite_weights() {
    let _guard = rng_lock();
    seed(5);
    let architecture = ArchitectureConfig::mlp(vec![], Activation::None);
    let mut vae: Vae<I> = VaeConfig::new(L, architecture)
        .with_input_shape(InputShape::new(1, 2, 2))
        .init(&Default::default())
        .expect("valid config");
    for logit in [100.0, -100.0] {
        vae.decoder = Decoder::Mlp(Mlp {
            layers: vec![linear(vec![0.0; L * D], L, D, vec![logit; D])],
            activation: Activation::None,
            norms: None,
            dropout: 0.0,
        });
        // Targets opposite to the logits' sign: each value costs about |logit| nats.
        let target = if logit > 0.0 { 0.0 } else { 1.0 };
        let x = tensor2::<I>(&[target; D], 1, D);
        let weights = vae.log_importance_weights(x.clone(), x, 500);
        let estimate = values(log_mean_exp(weights.clone()))[0];
        assert!(estimate.is_finite(), "estimate {estimate} at logit {logit}");
        assert!(
            (estimate + 100.0 * D as f64).abs() < 10.0,
            "estimate {estimate}"
        );
        assert!(values(weights).iter().all(|w| w.is_finite()));
    }
}
