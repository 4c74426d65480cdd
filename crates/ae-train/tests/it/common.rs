//! Helpers shared by the training tests.

use std::path::{Path, PathBuf};
use std::time::Duration;

use ae_backend::NdArrayAutodiff;
use ae_train::{ExperimentConfig, Reporter, RunDir, TrainOptions, train};

/// The shipped datasets folder.
pub fn datasets() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../datasets")
}

/// Options for a test run: progress reports dropped; Ctrl-C left alone.
pub fn quiet() -> TrainOptions {
    TrainOptions {
        resume: false,
        overwrite: false,
        progress_interval: Some(Duration::from_secs(3600)),
        reporter: Reporter::silent(),
        stop_on_ctrl_c: false,
    }
}

/// The message of a training run that must fail, on ndarray.
pub fn train_error(config: &ExperimentConfig, run: &RunDir, options: &TrainOptions) -> String {
    train::<NdArrayAutodiff>(config, run, Default::default(), options)
        .expect_err("training should fail")
        .to_string()
}
