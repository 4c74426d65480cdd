//! The training harness: one model-agnostic trainer on burn-train's `Learner`, run folders
//! with config, data description, metrics CSV, checkpoints and the final model, evaluation,
//! and progress reported through a callback.

#![warn(missing_docs)]

pub mod atomic_recorder;
pub mod config;
pub mod deep_clustering;
pub mod distributed;
pub mod error;
pub mod evaluate;
pub mod interrupt;
pub mod log_likelihood;
pub mod logger;
pub mod metrics;
pub mod optim;
pub mod pretraining;
pub mod progress;
pub mod rbm;
pub mod renderer;
pub mod resources;
pub mod resume;
pub mod run_dir;
pub mod schedule;
pub mod step;
pub mod trainer;

pub use config::{DataConfig, DataSource, ExperimentConfig, OptimizerKind, TrainingConfig};
pub use distributed::DistributedConfig;
pub use error::TrainError;
pub use evaluate::{EvalMetrics, evaluate};
pub use log_likelihood::{NllEstimate, estimate_nll};
pub use progress::{Progress, Reporter};
pub use run_dir::RunDir;
pub use trainer::{TrainOptions, TrainSummary, load_model, train};
