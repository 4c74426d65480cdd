//! Configure and train a model into a run folder.

use std::path::{Path, PathBuf};

use ae_train::{ExperimentConfig, RunDir, TrainOptions, TrainSummary};
use burn::tensor::backend::AutodiffBackend;
use serde::Serialize;

use crate::error::Result;

/// What [`train`] reports.
#[derive(Debug, Clone, Serialize)]
pub struct TrainReport {
    /// The run folder.
    #[serde(serialize_with = "crate::paths::lossy")]
    pub run: PathBuf,
    /// The training session's summary (also in `summary.json`).
    pub summary: TrainSummary,
    /// The picture of test reconstructions, when one was drawn.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "crate::paths::lossy_option"
    )]
    pub reconstructions: Option<PathBuf>,
}

/// Trains `config` into the run folder `dir` on `device`: writes the config, a description of
/// the data, metrics, checkpoints and the model. Progress goes to `options.reporter`.
///
/// ```no_run
/// use ae_toolkit::burn::backend::Autodiff;
/// use ae_toolkit::backend::Flex;
/// use ae_toolkit::{ExperimentConfig, TrainOptions};
///
/// # fn main() -> ae_toolkit::Result<()> {
/// let config = ExperimentConfig::load("experiments/mlp-vae-mnist.toml".as_ref())?;
/// let device = Default::default();
/// let report = ae_toolkit::train::<Autodiff<Flex>>(
///     &config,
///     "runs/vae",
///     &device,
///     &TrainOptions::default(),
/// )?;
/// println!("validation loss {}", report.summary.validation.loss);
/// # Ok(()) }
/// ```
pub fn train<B: AutodiffBackend>(
    config: &ExperimentConfig,
    dir: impl AsRef<Path>,
    device: &B::Device,
    options: &TrainOptions,
) -> Result<TrainReport> {
    let run = RunDir::new(dir.as_ref());
    let summary = ae_train::train::<B>(config, &run, device.clone(), options)?;
    // Ranks after the first train in a scratch folder and write nothing.
    let writes_the_run = config.distributed.as_ref().is_none_or(|d| d.node_rank == 0);
    if writes_the_run && crate::anomaly::scores_standardized(config) {
        let trained = crate::TrainedRun::<B::InnerBackend>::open(run.path(), device)?;
        crate::anomaly::save_error_spread(&trained)?;
    }
    Ok(TrainReport {
        run: run.path().to_path_buf(),
        summary,
        reconstructions: None,
    })
}

/// The defaults `ae train --data csv` uses for a table when no flag or config sets them,
/// chosen by `cargo xtask bench-anomaly` across all its data sets (see `docs/results.md`):
/// one hidden layer of 64 and a 32-value code (PyOD's AutoEncoder's shape) with He-initialized
/// hidden layers, regularized by batch normalization, dropout on the hidden layer and on the
/// code, weight decay and a short training (on the benchmark's small tables, longer training
/// fits the normal rows' quirks and separates less); five models from different seeds, scored
/// together by the standardized error.
#[derive(Debug, Clone, PartialEq)]
pub struct TabularDefaults {
    /// Hidden widths of the encoder (the decoder mirrors them).
    pub hidden: Vec<usize>,
    /// Code size.
    pub latent: usize,
    /// Dropout probability on the code while training (autoencoders).
    pub code_dropout: f64,
    /// Normalization of the hidden layers.
    pub norm: ae_models::NormKind,
    /// How the hidden layers' weights are drawn.
    pub init: ae_models::WeightInit,
    /// Dropout probability after each hidden layer.
    pub dropout: f64,
    /// Epochs.
    pub epochs: usize,
    /// Items per step.
    pub batch_size: usize,
    /// Learning rate.
    pub learning_rate: f64,
    /// Decoupled weight decay (AdamW).
    pub weight_decay: f64,
    /// Models trained from different seeds and scored together
    /// ([`train_ensemble`](crate::ensemble::train_ensemble)).
    pub ensemble: usize,
}

impl Default for TabularDefaults {
    fn default() -> Self {
        TabularDefaults {
            hidden: vec![64],
            latent: 32,
            code_dropout: 0.2,
            norm: ae_models::NormKind::Batch,
            init: ae_models::WeightInit::He,
            dropout: 0.2,
            epochs: 8,
            batch_size: 32,
            learning_rate: 1e-3,
            weight_decay: 1e-5,
            ensemble: 5,
        }
    }
}

impl TabularDefaults {
    /// An autoencoder of these shapes and regularization, scored by squared error (its input
    /// shape is the config's placeholder, filled in from the table at training time).
    pub fn autoencoder(&self) -> ae_models::ModelConfig {
        let architecture = ae_models::ArchitectureConfig::Mlp {
            hidden: self.hidden.clone(),
            activation: ae_models::Activation::Relu,
            norm: self.norm,
            dropout: self.dropout,
            init: self.init,
        };
        ae_models::ModelConfig::Autoencoder(
            ae_models::AutoencoderConfig::new(self.latent, architecture)
                .with_code_dropout(self.code_dropout)
                .with_loss(ae_models::ReconstructionLoss::SquaredError),
        )
    }

    /// AdamW with these epochs, batch (shrunk to a smaller table), learning rate and weight
    /// decay.
    pub fn training(&self) -> ae_train::TrainingConfig {
        ae_train::TrainingConfig {
            epochs: self.epochs,
            batch_size: self.batch_size,
            learning_rate: self.learning_rate,
            optimizer: ae_train::OptimizerKind::Adamw,
            weight_decay: self.weight_decay,
            shrink_batch_to_data: true,
            ..Default::default()
        }
    }

    /// The experiment `ae train --model ae --data csv --data-path PATH` runs: these defaults on
    /// the table at `path`, seed 42. Train it with
    /// [`train_ensemble`](crate::ensemble::train_ensemble) and [`Self::ensemble_settings`]
    /// (or [`train`] for one model).
    ///
    /// ```no_run
    /// use ae_toolkit::burn::backend::Autodiff;
    /// use ae_toolkit::backend::Flex;
    /// use ae_toolkit::{TabularDefaults, TrainOptions};
    ///
    /// # fn main() -> ae_toolkit::Result<()> {
    /// let defaults = TabularDefaults::default();
    /// let mut config = defaults.experiment("normal-rows.csv");
    /// config.data.label_column = Some("label".into()); // set aside, not trained on
    /// ae_toolkit::ensemble::train_ensemble::<Autodiff<Flex>>(
    ///     &config,
    ///     "runs/table",
    ///     &Default::default(),
    ///     &TrainOptions::default(),
    ///     &defaults.ensemble_settings(),
    /// )?;
    /// # Ok(()) }
    /// ```
    pub fn experiment(&self, path: impl Into<PathBuf>) -> ExperimentConfig {
        let mut data = ae_data::DataConfig::new(ae_data::DataSource::Csv);
        data.path = Some(path.into());
        ExperimentConfig {
            distributed: None,
            seed: 42,
            data,
            model: self.autoencoder(),
            training: self.training(),
        }
    }

    /// [`Self::ensemble`] members, each on its own split (no bootstrap).
    pub fn ensemble_settings(&self) -> crate::ensemble::EnsembleSettings {
        crate::ensemble::EnsembleSettings {
            members: self.ensemble,
            bootstrap: false,
        }
    }
}
