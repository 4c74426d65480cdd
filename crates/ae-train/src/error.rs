//! Errors of the training harness.

use std::path::PathBuf;

/// What can go wrong while configuring, training or evaluating.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// A config file could not be read or parsed.
    #[error("{path}: {message}")]
    Config {
        /// The config file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A configuration value is invalid.
    #[error("invalid configuration: {0}")]
    Invalid(String),
    /// The data could not be loaded.
    #[error(transparent)]
    Data(#[from] ae_data::DataError),
    /// The model config is invalid.
    #[error(transparent)]
    Model(#[from] ae_models::ModelError),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A model record could not be saved or loaded.
    #[error("{path}: {message}")]
    Record {
        /// The record file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// Training diverged.
    #[error("training stopped: {0}")]
    Diverged(String),
    /// Training was interrupted (Ctrl-C); the model at that step was saved.
    #[error(
        "training interrupted: the model at this step is saved in {}; {}",
        .run.join("model.mpk").display(),
        resume_hint(*.checkpoint)
    )]
    Interrupted {
        /// The run folder.
        run: PathBuf,
        /// The newest complete checkpoint, if any.
        checkpoint: Option<usize>,
    },
}

/// What `--resume` will do after an interruption.
fn resume_hint(checkpoint: Option<usize>) -> String {
    match checkpoint {
        Some(epoch) => format!("`--resume` continues from the checkpoint of epoch {epoch}"),
        None => "no epoch finished, so there is no checkpoint to resume from".to_string(),
    }
}

impl TrainError {
    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        TrainError::Io {
            path: path.into(),
            source,
        }
    }
}
