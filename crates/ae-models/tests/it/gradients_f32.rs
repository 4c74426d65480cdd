//! Gradients vs central finite differences, all in f32 (the precision models train in):
//! a larger step and looser tolerances than `gradients_f64`.

use crate::gradcheck::{Precision, check_autoencoder, check_vae, check_vae_forward_terms};
use ae_models::{Likelihood, ReconstructionLoss};

const P: Precision = Precision {
    h: 1e-2,
    rel: 1e-2,
    abs: 2e-4,
};

#[test]
fn autoencoder_bce_gradients_match_finite_differences() {
    check_autoencoder(P, ReconstructionLoss::Bce, 1);
}

#[test]
fn autoencoder_squared_error_gradients_match_finite_differences() {
    check_autoencoder(P, ReconstructionLoss::SquaredError, 2);
}

#[test]
fn vae_bernoulli_gradients_match_finite_differences() {
    check_vae(P, Likelihood::Bernoulli, 3);
}

#[test]
fn vae_gaussian_fixed_variance_gradients_match_finite_differences() {
    check_vae(P, Likelihood::Gaussian { variance: 0.5 }, 4);
}

#[test]
fn vae_gaussian_learned_variance_gradients_match_finite_differences() {
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
    check_vae_forward_terms();
}
