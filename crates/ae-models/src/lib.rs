//! Autoencoder models on burn: plain and denoising autoencoders and variational autoencoders,
//! with MLP or convolutional encoders and decoders.
//!
//! Every model's forward pass returns one [`ModelOutput`] holding the reconstruction, the
//! latent code and the named loss terms in nats (or squared error) per example, so one
//! model-agnostic trainer drives them all. Models are built from serializable configs
//! ([`ModelConfig`]), and a saved config rebuilds its model.

#![warn(missing_docs)]

pub mod activation;
pub mod architecture;
pub mod autoencoder;
pub mod conv;
pub mod cost;
pub mod error;
pub mod likelihood;
pub mod mlp;
pub mod model;
pub mod output;
pub mod shape;
pub mod vae;

pub use activation::Activation;
pub use architecture::{ArchitectureConfig, Decoder, Encoder};
pub use autoencoder::{Autoencoder, AutoencoderConfig, ReconstructionLoss};
pub use cost::ModelCost;
pub use error::ModelError;
pub use likelihood::Likelihood;
pub use mlp::{NormKind, WeightInit};
pub use model::{AnyModel, ModelConfig};
pub use output::ModelOutput;
pub use shape::InputShape;
pub use vae::{Objective, Vae, VaeConfig, log_mean_exp};
