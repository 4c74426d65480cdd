//! The autoencoder toolkit as a library.
//!
//! Open a trained run folder anywhere ([`TrainedRun::open`] reads the folder alone: config,
//! weights, input shape, table columns and standardization, class names) and use it: encode,
//! decode and reconstruct; score and flag anomalies ([`anomaly`]); cluster the code
//! ([`cluster`], [`dec`]); explain the latent space ([`latent`]); sample ([`sample`]); evaluate
//! ([`evaluate`]), denoising included ([`denoise`]); or configure and [`train`] a model. Every
//! use returns a typed report that serializes to the JSON the `ae` command prints. The library
//! prints nothing: long work reports progress through a [`Reporter`].
//!
//! It is generic over burn's `Backend` (`AutodiffBackend` where it trains), and re-exports the
//! layer crates, so one dependency is enough: [`data`], [`models`], [`harness`] (training),
//! [`analysis`], [`plot`], [`io`] and [`backend`].
//!
//! ```no_run
//! use ae_toolkit::anomaly::{AnomalyDetector, ThresholdRule};
//! use ae_toolkit::{ItemSource, TrainedRun, backend::Flex};
//!
//! # fn main() -> ae_toolkit::Result<()> {
//! let device = Default::default();
//! let run = TrainedRun::<Flex>::open("runs/table", &device)?;
//! let items = run.read(&ItemSource::path("new-rows.csv"))?;
//! let codes = run.encode(&items, 500)?;
//! let mut detector = AnomalyDetector::new(&run, None)?;
//! detector.fit(ThresholdRule::Contamination(0.05))?;
//! let flags = detector.predict(&items)?;
//! println!("{} codes, {} flagged", codes.rows(), flags.iter().filter(|&&f| f).count());
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

pub mod anomaly;
pub mod cluster;
pub mod dec;
pub mod demo;
pub mod denoise;
pub mod encode;
pub mod ensemble;
pub mod error;
pub mod evaluate;
mod json;
pub mod latent;
pub mod named;
pub mod paths;
pub mod pca;
pub mod run;
pub mod sample;
pub mod tensors;
pub mod training;
pub mod uncertainty;

pub use ae_analysis as analysis;
pub use ae_backend as backend;
pub use ae_data as data;
pub use ae_io as io;
pub use ae_models as models;
pub use ae_plot as plot;
pub use ae_train as harness;
pub use burn;

pub use ae_data::{DataConfig, DataSource, Dataset};
pub use ae_models::ModelConfig;
pub use ae_train::{
    DistributedConfig, ExperimentConfig, Progress, Reporter, TrainOptions, TrainingConfig,
};
pub use error::{Result, ToolkitError};
pub use named::Named;
pub use run::{ItemSource, Split, TrainedRun};
pub use training::{TabularDefaults, TrainReport, train};
