//! The one output struct every model's forward pass returns.

use burn::tensor::{Tensor, backend::Backend};

/// A forward pass: reconstruction, latent code and named loss terms, each per example.
#[derive(Debug, Clone)]
pub struct ModelOutput<B: Backend> {
    /// Mean reconstruction, `[batch, dim]`, in the data's units.
    pub reconstruction: Tensor<B, 2>,
    /// Latent code, `[batch, latent]` (a reparameterized sample for a VAE).
    pub latent: Tensor<B, 2>,
    /// Posterior mean (VAE only).
    pub mean: Option<Tensor<B, 2>>,
    /// Posterior log-variance (VAE only).
    pub log_variance: Option<Tensor<B, 2>>,
    /// Reconstruction term per example: negative log-likelihood in nats (squared error for a
    /// squared-error autoencoder).
    pub reconstruction_loss: Tensor<B, 1>,
    /// KL divergence from the prior per example, in nats (VAE only).
    pub kl: Option<Tensor<B, 1>>,
    /// The objective per example: reconstruction + weight × KL.
    pub total: Tensor<B, 1>,
    /// Squared error of the mean reconstruction against the target, summed per example.
    pub squared_error: Tensor<B, 1>,
}

impl<B: Backend> ModelOutput<B> {
    /// The scalar to minimise: the batch mean of `total`.
    pub fn loss(&self) -> Tensor<B, 1> {
        self.total.clone().mean()
    }

    /// Negative ELBO per example (reconstruction + unweighted KL); for a plain autoencoder this
    /// is the reconstruction term.
    pub fn negative_elbo(&self) -> Tensor<B, 1> {
        match &self.kl {
            Some(kl) => self.reconstruction_loss.clone() + kl.clone(),
            None => self.reconstruction_loss.clone(),
        }
    }
}
