//! Gradients vs central finite differences with every float tensor in f64: this binary sets
//! the NdArray device's default float dtype to F64 before any tensor exists, so the finite
//! differences are exact enough for tight tolerances (`gradients_f32` runs the same checks
//! at the training precision).

mod common;
mod gradcheck;

use ae_models::{Likelihood, ReconstructionLoss};
use gradcheck::{Precision, check_autoencoder, check_vae, check_vae_forward_terms};

const P: Precision = Precision {
    h: 1e-4,
    rel: 1e-6,
    abs: 1e-9,
};

/// Makes f64 the NdArray device's default float dtype; every test calls this first.
fn use_f64() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        burn::tensor::set_default_dtypes::<common::I>(
            &Default::default(),
            burn::tensor::DType::F64,
            burn::tensor::DType::I64,
        )
        .expect("no tensor exists yet");
    });
    let probe = common::tensor2::<common::B>(&[1.0], 1, 1);
    assert_eq!(probe.dtype(), burn::tensor::DType::F64);
}

#[test]
fn autoencoder_bce_gradients_match_finite_differences() {
    use_f64();
    check_autoencoder(P, ReconstructionLoss::Bce, 1);
}

#[test]
fn autoencoder_squared_error_gradients_match_finite_differences() {
    use_f64();
    check_autoencoder(P, ReconstructionLoss::SquaredError, 2);
}

#[test]
fn vae_bernoulli_gradients_match_finite_differences() {
    use_f64();
    check_vae(P, Likelihood::Bernoulli, 3);
}

#[test]
fn vae_gaussian_fixed_variance_gradients_match_finite_differences() {
    use_f64();
    check_vae(P, Likelihood::Gaussian { variance: 0.5 }, 4);
}

#[test]
fn vae_gaussian_learned_variance_gradients_match_finite_differences() {
    use_f64();
    check_vae(
        P,
        Likelihood::GaussianLearned {
            min_log_variance: -2.0,
        },
        5,
    );
}

#[test]
fn vae_forward_terms_are_consistent() {
    use_f64();
    check_vae_forward_terms();
}
