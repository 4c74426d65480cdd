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
    /// A model, batch or data set that does not fit in memory.
    #[error(transparent)]
    Memory(#[from] ae_io::memory::MemoryError),
    /// Saved weights do not fit the model the config describes.
    #[error(
        "{}: the saved weights do not fit the model that config.toml describes ({detail}); was \
         config.toml edited, or the file copied from another run?",
        .path.display()
    )]
    WeightsMismatch {
        /// The record file.
        path: PathBuf,
        /// Which parameter differs.
        detail: String,
    },
    /// Another process is writing the run.
    #[error(
        "{} is being written by process {pid} (lock file {}); wait for it to finish, or remove \
         the lock file if that process is gone",
        .run.display(),
        .run.join(".lock").display()
    )]
    Locked {
        /// The run folder.
        run: PathBuf,
        /// The holder's process id.
        pid: u32,
    },
    /// The run folder already holds a run, and neither resuming nor overwriting was asked for.
    #[error(
        "{} already holds a run{}: continue it with --resume (training.epochs may grow), or \
         replace it with --overwrite",
        .run.display(),
        .checkpoint.map(|e| format!(" (checkpoint of epoch {e})")).unwrap_or_default()
    )]
    Exists {
        /// The run folder.
        run: PathBuf,
        /// Its newest complete checkpoint.
        checkpoint: Option<usize>,
    },
    /// A file could not be written while training; the run stopped.
    #[error("{message}; the run stopped: {}", resume_hint(*.checkpoint))]
    WriteFailed {
        /// What failed, naming the file.
        message: String,
        /// The newest complete checkpoint, which is intact.
        checkpoint: Option<usize>,
    },
    /// Another rank of a distributed job stopped, hung or disagreed.
    #[error("distributed training stopped: {0}")]
    Distributed(String),
    /// Training diverged.
    #[error("training stopped: {0}")]
    Diverged(String),
    /// Training was interrupted (Ctrl-C, SIGTERM or SIGHUP); the model at that step was saved.
    #[error(
        "training interrupted by {signal}: the model at this step is saved in {}; {}",
        .run.join("model.mpk").display(),
        resume_hint(*.checkpoint)
    )]
    Interrupted {
        /// The run folder.
        run: PathBuf,
        /// The newest complete checkpoint, if any.
        checkpoint: Option<usize>,
        /// The signal: `Ctrl-C`, `SIGTERM` or `SIGHUP`.
        signal: &'static str,
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
