//! Loss terms against Monte-Carlo estimates and closed forms computed by hand in f64.

use crate::common::{B, I, assert_close, rng_lock, seed, tensor2, values};
use ae_models::Likelihood;
use ae_models::likelihood::{
    MAX_DECODER_LOG_VARIANCE, bce_with_logits, gaussian_nll, kl_standard_normal, soft_floor,
};
use burn::tensor::{Distribution, Tensor};

const LN_2PI: f64 = 1.837_877_066_409_345_3;

fn sigmoid(l: f64) -> f64 {
    1.0 / (1.0 + (-l).exp())
}

#[test]
fn kl_matches_monte_carlo_estimate() {
    // (mean, log-variance) rows, three latent dimensions each.
    let rows: [([f64; 3], [f64; 3]); 4] = [
        ([1.0, -0.5, 2.0], [0.0, -1.0, 0.5]),
        ([0.0, 0.0, 0.0], [-2.0, 1.5, 2.5]),
        ([-1.5, 0.3, 0.8], [-4.0, 0.7, -0.3]),
        ([0.25, -3.0, 0.0], [0.2, -0.2, -2.5]),
    ];
    let d = 3;
    let mean: Vec<f64> = rows.iter().flat_map(|r| r.0).collect();
    let logvar: Vec<f64> = rows.iter().flat_map(|r| r.1).collect();
    let kl = values(kl_standard_normal(
        tensor2::<I>(&mean, rows.len(), d),
        tensor2::<I>(&logvar, rows.len(), d),
    ));
    assert_eq!(kl.len(), rows.len());

    let n = 200_000;
    let eps = {
        let _guard = rng_lock();
        seed(7);
        values(Tensor::<I, 2>::random(
            [n, d],
            Distribution::Normal(0.0, 1.0),
            &Default::default(),
        ))
    };

    for (row, (mu, lv)) in rows.iter().enumerate() {
        // E_q[log q(z) - log p(z)] with z = mu + sigma * eps, all in f64.
        let (mut sum, mut sum_sq) = (0.0, 0.0);
        for sample in eps.chunks_exact(d) {
            let mut diff = 0.0;
            for k in 0..d {
                let var = lv[k].exp();
                let z = mu[k] + var.sqrt() * sample[k];
                let log_q = -0.5 * (LN_2PI + lv[k] + (z - mu[k]).powi(2) / var);
                let log_p = -0.5 * (LN_2PI + z * z);
                diff += log_q - log_p;
            }
            sum += diff;
            sum_sq += diff * diff;
        }
        let estimate = sum / n as f64;
        let std_error = ((sum_sq / n as f64 - estimate * estimate) / n as f64).sqrt();
        let closed: f64 = (0..d)
            .map(|k| 0.5 * (mu[k] * mu[k] + lv[k].exp() - lv[k] - 1.0))
            .sum();
        // The f32 closed form agrees with the f64 one...
        assert_close(kl[row], closed, 1e-5, 1e-6, "closed-form KL");
        // ...and both agree with sampling, within 1.5% and 5 standard errors.
        assert!(
            std_error < 0.004 * closed,
            "row {row}: standard error {std_error} too large for a 1.5% check"
        );
        assert_close(kl[row], estimate, 0.015, 0.0, "KL vs Monte Carlo");
        assert!(
            (kl[row] - estimate).abs() < 5.0 * std_error,
            "row {row}: KL {} vs Monte Carlo {estimate} ± {std_error}",
            kl[row]
        );
    }
}

#[test]
fn kl_is_zero_at_the_prior_and_positive_elsewhere() {
    let kl = values(kl_standard_normal(
        tensor2::<I>(&[0.0, 0.0, 0.0, 1e-2, 0.0, 0.0], 2, 3),
        tensor2::<I>(&[0.0, 0.0, 0.0, 0.0, 0.0, 1e-2], 2, 3),
    ));
    assert_eq!(kl[0], 0.0);
    // 0.5 * (1e-4) + 0.5 * (e^0.01 - 0.01 - 1) ~= 5e-5 + 2.5e-5
    assert_close(
        kl[1],
        0.5e-4 + 0.5 * (0.01f64.exp() - 1.01),
        1e-2,
        0.0,
        "small KL",
    );
}

fn naive_bce(l: f64, x: f64) -> f64 {
    -(x * sigmoid(l).ln() + (1.0 - x) * (1.0 - sigmoid(l)).ln())
}

#[test]
fn bce_with_logits_matches_naive_formula_on_moderate_logits() {
    let cols = 7;
    let logits: Vec<f64> = (0..4 * cols)
        .map(|i| -5.0 + 10.0 * i as f64 / (4 * cols - 1) as f64)
        .collect();
    let targets: Vec<f64> = (0..4 * cols)
        .map(|i| [0.0, 1.0, 0.3, 0.75, 0.5][i % 5])
        .collect();
    let got = values(bce_with_logits(
        tensor2::<I>(&logits, 4, cols),
        tensor2::<I>(&targets, 4, cols),
    ));
    for row in 0..4 {
        let expected: f64 = (0..cols)
            .map(|c| naive_bce(logits[row * cols + c], targets[row * cols + c]))
            .sum();
        assert_close(got[row], expected, 1e-4, 0.0, "BCE row");
    }
    // Single values, including a logit of exactly 0.
    for &(l, x) in &[(0.0, 0.0), (0.0, 1.0), (0.0, 0.4), (2.5, 1.0), (-4.0, 0.2)] {
        let got = values(bce_with_logits(
            tensor2::<I>(&[l], 1, 1),
            tensor2::<I>(&[x], 1, 1),
        ));
        assert_close(got[0], naive_bce(l, x), 1e-4, 0.0, "BCE value");
    }
}

#[test]
fn bce_with_logits_is_finite_and_correct_at_extreme_logits() {
    // Wrong labels cost |l|, right labels cost (almost) nothing.
    let logits = [100.0, -100.0, 100.0, -100.0];
    let got = values(bce_with_logits(
        tensor2::<I>(&logits, 2, 2),
        tensor2::<I>(&[0.0, 1.0, 1.0, 0.0], 2, 2),
    ));
    assert!(got.iter().all(|v| v.is_finite()), "{got:?}");
    assert_close(got[0], 200.0, 1e-6, 0.0, "wrong labels at ±100");
    assert!(got[1].abs() < 1e-6, "right labels at ±100 cost {}", got[1]);

    // A soft target at a huge logit: (1 - x) * l for l = 100, x = 0.25.
    let got = values(bce_with_logits(
        tensor2::<I>(&[100.0, -100.0], 1, 2),
        tensor2::<I>(&[0.25, 0.25], 1, 2),
    ));
    assert_close(
        got[0],
        0.75 * 100.0 + 0.25 * 100.0,
        1e-6,
        0.0,
        "soft target at ±100",
    );
}

#[test]
fn bce_with_logits_gradient_is_sigmoid_minus_target() {
    // d/dl BCE(l, x) = sigmoid(l) - x everywhere, including l = 0 and huge |l|.
    let logits = [0.0, 0.0, 0.0, 100.0, -100.0, 100.0, -100.0, 3.0, -2.0];
    let targets = [0.0, 1.0, 0.3, 0.0, 1.0, 1.0, 0.0, 0.2, 0.9];
    let n = logits.len();
    let l = tensor2::<B>(&logits, 1, n).require_grad();
    let loss = bce_with_logits(l.clone(), tensor2::<B>(&targets, 1, n));
    let grads = loss.sum().backward();
    let grad = values(l.grad(&grads).expect("logits gradient"));
    for i in 0..n {
        let expected = sigmoid(logits[i]) - targets[i];
        assert!(grad[i].is_finite(), "gradient at logit {}", logits[i]);
        assert_close(
            grad[i],
            expected,
            1e-5,
            1e-6,
            &format!("BCE gradient at logit {} target {}", logits[i], targets[i]),
        );
    }
}

fn gaussian_log_density(x: f64, mean: f64, variance: f64) -> f64 {
    -0.5 * ((2.0 * std::f64::consts::PI * variance).ln() + (x - mean).powi(2) / variance)
}

#[test]
fn fixed_variance_gaussian_nll_matches_closed_form() {
    let mean = [0.1, -0.4, 2.0, 0.0, 0.5, 0.5, -1.0, 3.0];
    let target = [0.0, 0.3, 1.0, 0.0, -0.5, 0.9, -1.2, 2.5];
    for variance in [1e-2, 0.25, 1.0, 3.7] {
        let nll = values(
            Likelihood::Gaussian { variance }
                .nll(tensor2::<I>(&mean, 2, 4), tensor2::<I>(&target, 2, 4)),
        );
        for row in 0..2 {
            let expected: f64 = (0..4)
                .map(|c| -gaussian_log_density(target[row * 4 + c], mean[row * 4 + c], variance))
                .sum();
            assert_close(
                nll[row],
                expected,
                1e-5,
                1e-5,
                &format!("variance {variance}"),
            );
        }
    }
}

#[test]
fn learned_variance_gaussian_nll_matches_closed_form() {
    let mean = [0.1, -0.4, 2.0, 0.0, 0.5, 0.5, -1.0, 3.0];
    let target = [0.0, 0.3, 1.0, 0.0, -0.5, 0.9, -1.2, 2.5];
    let logvar = [-3.0, -1.0, 0.0, 0.5, 2.0, -6.0, 1.0, -0.2];
    let nll = values(gaussian_nll(
        tensor2::<I>(&mean, 2, 4),
        tensor2::<I>(&logvar, 2, 4),
        tensor2::<I>(&target, 2, 4),
    ));
    for (row, &got) in nll.iter().enumerate() {
        let expected: f64 = (0..4)
            .map(|c| {
                let i = row * 4 + c;
                -gaussian_log_density(target[i], mean[i], logvar[i].exp())
            })
            .sum();
        assert_close(got, expected, 1e-5, 1e-5, "learned-variance NLL");
    }

    // Through the likelihood: params are [means | raw log-variances]; with raw values far
    // above the floor the soft floor is (nearly) the identity.
    let likelihood = Likelihood::GaussianLearned {
        min_log_variance: -30.0,
    };
    let mut params = Vec::new();
    for row in 0..2 {
        params.extend_from_slice(&mean[row * 4..row * 4 + 4]);
        params.extend_from_slice(&logvar[row * 4..row * 4 + 4]);
    }
    let params = tensor2::<I>(&params, 2, 8);
    let through = values(likelihood.nll(params.clone(), tensor2::<I>(&target, 2, 4)));
    for row in 0..2 {
        assert_close(through[row], nll[row], 1e-5, 1e-5, "likelihood.nll");
    }
    for (got, want) in values(likelihood.mean(params)).into_iter().zip(mean) {
        assert_close(got, want, 1e-7, 0.0, "likelihood.mean");
    }
}

#[test]
fn learned_log_variance_respects_floor_and_cap() {
    let floor = -8.0;
    let likelihood = Likelihood::GaussianLearned {
        min_log_variance: floor,
    };
    let raw: Vec<f64> = (0..=60)
        .map(|i| -200.0 + 5.0 * i as f64)
        .chain([-1e4, 1e4])
        .collect();
    let n = raw.len();
    let mut params = vec![0.0; n];
    params.extend_from_slice(&raw);
    let lv = values(
        likelihood
            .log_variance(tensor2::<I>(&params, 1, 2 * n))
            .expect("a log-variance"),
    );
    assert_eq!(lv.len(), n);
    for (&r, &v) in raw.iter().zip(&lv) {
        assert!(v.is_finite(), "raw {r} gave {v}");
        assert!(v >= floor, "raw {r} gave {v}, below the floor {floor}");
        assert!(
            v <= MAX_DECODER_LOG_VARIANCE,
            "raw {r} gave {v}, above the cap"
        );
        if r - floor >= 15.0 && r <= MAX_DECODER_LOG_VARIANCE {
            assert_close(v, r, 1e-5, 1e-5, "far above the floor");
        }
        if r >= MAX_DECODER_LOG_VARIANCE {
            assert_eq!(v, MAX_DECODER_LOG_VARIANCE, "raw {r} is capped");
        }
        if r - floor <= -30.0 {
            assert_close(v, floor, 0.0, 1e-6, "far below the floor");
        }
        // In between it is floor + softplus(raw - floor).
        let expected = (floor + (r - floor).exp().ln_1p()).min(MAX_DECODER_LOG_VARIANCE);
        if (r - floor).abs() < 30.0 {
            assert_close(v, expected, 1e-5, 1e-5, "floor + softplus");
        }
    }
    // Other likelihoods have no log-variance.
    assert!(
        Likelihood::Bernoulli
            .log_variance(tensor2::<I>(&[0.0], 1, 1))
            .is_none()
    );
}

#[test]
fn soft_floor_gradient_is_finite_everywhere() {
    // The gradient of floor + softplus(x - floor) is sigmoid(x - floor): it must stay finite
    // (not NaN) for any raw value, however large.
    let floor = -8.0;
    let raw = [
        -1e4, -200.0, -20.0, -8.0, 0.0, 5.0, 50.0, 80.0, 100.0, 200.0, 1e4,
    ];
    let n = raw.len();
    let x = tensor2::<B>(&raw, 1, n).require_grad();
    let y = soft_floor(x.clone(), floor);
    let out = values(y.clone());
    let grads = y.sum().backward();
    let grad = values(x.grad(&grads).expect("gradient"));
    for i in 0..n {
        let z = raw[i] - floor;
        assert!(out[i].is_finite(), "soft_floor({}) = {}", raw[i], out[i]);
        assert_close(
            out[i],
            floor + z.max(0.0) + (-z.abs()).exp().ln_1p(),
            1e-6,
            1e-5,
            "value",
        );
        assert!(grad[i].is_finite(), "gradient at {} is {}", raw[i], grad[i]);
        assert_close(grad[i], sigmoid(z), 1e-5, 1e-6, "soft_floor gradient");
    }

    // Through the likelihood: a huge raw log-variance is capped, and the NLL's gradient with
    // respect to every parameter is finite.
    let likelihood = Likelihood::GaussianLearned {
        min_log_variance: floor,
    };
    let params = tensor2::<B>(&[0.5, -0.5, 300.0, -300.0], 1, 4).require_grad();
    let nll = likelihood.nll(params.clone(), tensor2::<B>(&[0.0, 0.0], 1, 2));
    let grads = nll.sum().backward();
    let grad = values(params.grad(&grads).expect("gradient"));
    assert!(grad.iter().all(|g| g.is_finite()), "NLL gradient {grad:?}");
}

#[test]
fn squared_error_sums_per_row() {
    let se = values(ae_models::likelihood::squared_error(
        tensor2::<I>(&[1.0, 2.0, 3.0, 0.0, 0.0, 0.0], 2, 3),
        tensor2::<I>(&[1.0, 0.0, 0.0, 0.5, -1.0, 2.0], 2, 3),
    ));
    assert_eq!(se, vec![13.0, 5.25]);
}
