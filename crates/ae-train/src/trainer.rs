//! The model-agnostic trainer on burn-train's `Learner`, and loading trained runs.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::distributed::{
    Group, ScratchRun, Synced, fingerprint, resume_files, weights_checksum, write_shared_files,
};
use crate::optim::FusedAdamW;
use ae_data::table::Standardization;
use ae_data::{DataInfo, IndexDataset, PreparedData};
use ae_models::{AnyModel, InputShape, Likelihood, ModelConfig, ReconstructionLoss};
use burn::config::Config;
use burn::data::dataloader::DataLoaderBuilder;
use burn::module::Module;
use burn::record::{FullPrecisionSettings, Recorder};
use burn::tensor::backend::{AutodiffBackend, Backend, Device as _, DeviceId};
use burn::train::checkpoint::{
    ComposedCheckpointingStrategy, KeepLastNCheckpoints, MetricCheckpointingStrategy,
};
use burn::train::metric::store::{Aggregate, Direction, Split};
use burn::train::{
    ExecutionStrategy, Learner, MetricEarlyStoppingStrategy, MultiDeviceOptim, StoppingCondition,
    SupervisedTraining,
};
use serde::{Deserialize, Serialize};

use crate::atomic_recorder::{AtomicFileRecorder, WriteFailures, recorder_message};
use crate::interrupt::CtrlCWatch;
use crate::logger::CsvMetricLogger;
use crate::metrics::{DivergenceWatch, Stat, StatMetric};
use crate::pretraining::{RbmEpoch, pretrain_autoencoder};
use crate::progress::{Progress, Reporter};
use crate::renderer::LineRenderer;
use crate::resume::{
    CHANGEABLE_ON_RESUME, differing_keys, load_checkpoint_model, load_fitting,
    newest_intact_checkpoint,
};
use crate::run_dir::{RunLock, write_atomic};
use crate::schedule::Scheduler;
use crate::step::{StepCounter, Trainable};
use crate::{EvalMetrics, ExperimentConfig, RunDir, TrainError, evaluate};

/// The recorder for models and checkpoints: named MessagePack at full precision, written
/// atomically.
pub type ModelRecorder = AtomicFileRecorder<FullPrecisionSettings>;

/// Options of one training session.
#[derive(Debug, Clone, Default)]
pub struct TrainOptions {
    /// Continue from the run folder's newest intact checkpoint.
    pub resume: bool,
    /// Replace a run already in the folder (without it, or `resume`, such a folder is refused).
    pub overwrite: bool,
    /// Seconds between progress reports within an epoch (default 10).
    pub progress_interval: Option<Duration>,
    /// Where progress goes: epochs, steps, RBM pretraining, notices (silent by default).
    pub reporter: Reporter,
    /// On Ctrl-C, stop after the current step and save the model (instead of dying at once).
    pub stop_on_ctrl_c: bool,
}

/// What a finished training session reports (also the run's `summary.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainSummary {
    /// Epochs in the run (including resumed ones).
    pub epochs: usize,
    /// Epoch the session started from (0 for a fresh run).
    pub resumed_from_epoch: usize,
    /// Wall time of this session's training loop.
    pub seconds: f64,
    /// Training items per second over this session.
    pub items_per_second: f64,
    /// Metrics on the validation set after training.
    pub validation: EvalMetrics,
    /// Peak resident memory of the process in MiB (Linux only).
    pub peak_memory_mib: Option<f64>,
    /// The last epoch of each pretrained RBM (empty without `training.rbm_pretraining`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rbm_pretraining: Vec<RbmEpoch>,
}

/// The model config with its input shape taken from the data.
fn model_config_for(
    config: &ExperimentConfig,
    data: &PreparedData,
) -> Result<ModelConfig, TrainError> {
    let shape = data.train.shape;
    if data.train.target_dim() != data.train.dim() {
        return Err(TrainError::Invalid(format!(
            "inputs have {} values but targets have {}: input and target shapes must match",
            data.train.dim(),
            data.train.target_dim()
        )));
    }
    let unit_interval = matches!(data.train.value_range, Some((lo, hi)) if lo >= 0.0 && hi <= 1.0);
    if model_needs_unit_interval(&config.model) && !unit_interval {
        return Err(TrainError::Invalid(
            "binary cross-entropy (loss = \"bce\" or a Bernoulli likelihood) needs data in [0, 1], \
             but this data is unbounded (a standardized table or a synthetic manifold): use \
             loss = \"squared-error\" or a Gaussian likelihood"
                .into(),
        ));
    }
    let mut model = config.model.clone();
    model.set_input_shape(InputShape::new(shape.channels, shape.height, shape.width));
    model.validate()?;
    Ok(model)
}

/// Refuses a model and batch whose training cannot fit in memory: the weights with their
/// gradients and Adam's two moments, and each layer's outputs and gradients for a batch (for
/// every draw of a VAE's z).
fn check_training_memory(config: &ExperimentConfig) -> Result<(), TrainError> {
    let cost = config.model.cost();
    let draws = match &config.model {
        ModelConfig::Vae(c) => c.samples.max(1) as u128,
        ModelConfig::Autoencoder(_) => 1,
    };
    let batch = config.training.batch_size as u128;
    let per_item = cost
        .activations_per_item
        .saturating_add(2 * config.model.input_shape().dim() as u128);
    let bytes = config.model.parameter_bytes(4).saturating_add(
        batch
            .saturating_mul(draws)
            .saturating_mul(per_item)
            .saturating_mul(4 * 3),
    );
    ae_io::memory::check(
        format!(
            "training this model ({} parameters, batches of {batch} items × {draws} draws)",
            cost.parameters
        ),
        bytes,
    )?;
    Ok(())
}

/// Whether the model's loss reads its targets as probabilities.
fn model_needs_unit_interval(model: &ModelConfig) -> bool {
    match model {
        ModelConfig::Autoencoder(c) => c.loss == ReconstructionLoss::Bce,
        ModelConfig::Vae(c) => c.likelihood == Likelihood::Bernoulli,
    }
}

/// The devices of `indices`, of the same kind as `device` (its backend's device `i`); the
/// first is the main device, which holds the model and runs validation. Empty or one index:
/// `device` alone.
pub fn training_devices<B: Backend>(device: &B::Device, indices: &[usize]) -> Vec<B::Device> {
    if indices.len() < 2 {
        return vec![device.clone()];
    }
    let kind = device.to_id().type_id;
    indices
        .iter()
        .map(|&i| {
            <B::Device as burn::tensor::backend::Device>::from_id(DeviceId::new(
                kind,
                i.min(u16::MAX as usize) as u16,
            ))
        })
        .collect()
}

/// Trains `config` into `run` on `device`, writing config, metrics, checkpoints and the model.
///
/// With a `[distributed]` table of several nodes, this process is one rank of a job: rank 0
/// trains into `run` and waits for the others at `distributed.orchestrator`; any other rank
/// joins it, trains its shard in a scratch folder (removed after) and leaves `run` untouched.
pub fn train<B: AutodiffBackend>(
    config: &ExperimentConfig,
    run: &RunDir,
    device: B::Device,
    options: &TrainOptions,
) -> Result<TrainSummary, TrainError> {
    config.validate()?;
    match &config.distributed {
        Some(d) if d.nodes > 1 && d.node_rank > 0 => {
            let (group, files) = Group::join(d, fingerprint(config)?)?;
            options.reporter.notice(format!(
                "rank {} of {}: joined rank 0 at {}",
                d.node_rank, d.nodes, d.orchestrator
            ));
            let scratch = ScratchRun::create(d.node_rank)?;
            write_shared_files(scratch.path(), &files)?;
            let resume = files.iter().any(|f| f.name.ends_with(".mpk"));
            let options = TrainOptions {
                resume,
                overwrite: true,
                ..options.clone()
            };
            let run = RunDir::new(scratch.path());
            train_in::<B>(config, &run, device, &options, Role::Follower(group))
        }
        Some(d) if d.nodes > 1 => {
            let listener = Group::listen(d)?;
            train_in::<B>(config, run, device, options, Role::Leader(listener))
        }
        _ => train_in::<B>(config, run, device, options, Role::Alone),
    }
}

/// This process's part in a training job.
enum Role {
    /// The only process.
    Alone,
    /// Rank 0 of several, listening.
    Leader(std::net::TcpListener),
    /// Another rank, joined to rank 0.
    Follower(Group),
}

/// [`train`] for one rank.
fn train_in<B: AutodiffBackend>(
    config: &ExperimentConfig,
    run: &RunDir,
    device: B::Device,
    options: &TrainOptions,
    role: Role,
) -> Result<TrainSummary, TrainError> {
    // A resumed run standardizes a table with its own statistics, not the table's now.
    let stored = if options.resume {
        read_standardization(run)?
    } else {
        None
    };
    let data = ae_data::prepare_with(&config.data, config.seed, stored.as_ref())?;
    let mut resolved = config.clone();
    if resolved.training.batch_size > data.train.len() {
        if resolved.training.shrink_batch_to_data && !data.train.is_empty() {
            resolved.training.batch_size = data.train.len();
        } else {
            return Err(TrainError::Invalid(format!(
                "training.batch_size {} is larger than the {} training items",
                resolved.training.batch_size,
                data.train.len()
            )));
        }
    }
    resolved.model = model_config_for(config, &data)?;
    check_training_memory(&resolved)?;
    let training = &resolved.training;

    // From here on the run folder is written: one writer at a time.
    let _lock = RunLock::acquire(run)?;
    let resume_epoch = if options.resume {
        // The settings are checked against the config the checkpoints were trained with
        // (config.toml itself may have been edited since).
        let reference = if run.checkpoint_config_file().exists() {
            run.checkpoint_config_file()
        } else {
            run.config_file()
        };
        let saved = ExperimentConfig::load(&reference)?;
        let keys = differing_keys(&saved, &resolved)?;
        if !keys.is_empty() {
            let list: Vec<String> = keys
                .iter()
                .map(|(key, was, now)| format!("{key} was {was}, now {now}"))
                .collect();
            return Err(TrainError::Config {
                path: reference,
                message: format!(
                    "the run was trained with a different config ({}); resume with the same one \
                     (only {} may change)",
                    list.join("; "),
                    CHANGEABLE_ON_RESUME.join(", ")
                ),
            });
        }
        let newest = run.latest_checkpoint();
        let epoch =
            newest_intact_checkpoint::<B>(&resolved.model, run, &device, &options.reporter)?
                .ok_or_else(|| TrainError::Record {
                    path: run.checkpoint_dir(),
                    message: "no complete checkpoint to resume from".into(),
                })?;
        if newest != Some(epoch) {
            options
                .reporter
                .notice(format!("resuming from the checkpoint of epoch {epoch}"));
        }
        if epoch >= training.epochs {
            if !run.model_file().exists() {
                // Stopped after its last checkpoint, before the final model: finish it.
                return finish_from_checkpoint::<B>(&resolved, run, epoch, &data, &device);
            }
            return Err(TrainError::Invalid(format!(
                "the run already has {epoch} epochs: raise training.epochs to train further"
            )));
        }
        Some(epoch)
    } else {
        if run.holds_a_run() && !options.overwrite {
            return Err(TrainError::Exists {
                run: run.path().to_path_buf(),
                checkpoint: run.latest_checkpoint(),
            });
        }
        None
    };
    run.create()?;
    write_atomic(&run.config_file(), resolved.to_toml()?.as_bytes())?;
    let info = DataInfo::describe(&config.data, &data);
    let json =
        serde_json::to_string_pretty(&info).map_err(|e| TrainError::Invalid(e.to_string()))?;
    write_atomic(&run.data_info_file(), json.as_bytes())?;
    write_atomic(
        &run.model_config_file(),
        burn::config::config_to_json(&resolved.model).as_bytes(),
    )?;
    if let Some(stats) = &data.standardization {
        let json =
            serde_json::to_string_pretty(stats).map_err(|e| TrainError::Invalid(e.to_string()))?;
        write_atomic(&run.standardization_file(), json.as_bytes())?;
    }
    if resume_epoch.is_none() {
        run.clear_previous_training()?;
        write_atomic(
            &run.checkpoint_config_file(),
            resolved.to_toml()?.as_bytes(),
        )?;
    }

    let group = match (role, config.distributed.as_ref()) {
        (Role::Follower(group), _) => Some(group),
        (Role::Leader(listener), Some(d)) => {
            let files = match resume_epoch {
                Some(epoch) => resume_files(run.path(), epoch)?,
                None => Vec::new(),
            };
            options.reporter.notice(format!(
                "rank 0 of {}: waiting for the other ranks at {}",
                d.nodes, d.orchestrator
            ));
            let print = fingerprint(config)?;
            Some(Group::accept(listener, d, print, &files)?)
        }
        _ => None,
    };
    let (rank, nodes) = group.as_ref().map_or((0, 1), |g| (g.rank(), g.nodes()));
    if data.train.len() < nodes {
        return Err(TrainError::Invalid(format!(
            "{} training items cannot be shared among {nodes} nodes",
            data.train.len()
        )));
    }
    let group = group.map(|g| Arc::new(Mutex::new(g)));
    // A rank that stops early tells the others why, instead of leaving them to time out.
    let stop_group = |why: &str| {
        if let Some(g) = &group {
            g.lock()
                .unwrap_or_else(|e| e.into_inner())
                .stop(&format!("rank {rank}: {why}"));
        }
    };

    B::seed(&device, config.seed);
    let mut model: AnyModel<B> = resolved.model.init(&device)?;
    let is_vae = model.as_vae().is_some();

    // The test split is not used while training: free it now (it can be a full copy).
    let PreparedData {
        train, valid, test, ..
    } = data;
    drop(test);
    let train_data = Arc::new(train);
    let valid_data = Arc::new(valid);
    let mut pretrained = Vec::new();
    if let (Some(settings), None) = (&training.rbm_pretraining, resume_epoch) {
        let AnyModel::Autoencoder(autoencoder) = model else {
            return Err(TrainError::Invalid(
                "training.rbm_pretraining needs model = \"autoencoder\"".into(),
            ));
        };
        let pretrained_model =
            pretrain_autoencoder(autoencoder, &train_data, settings, config.seed, |e| {
                options.reporter.report(&Progress::Pretraining(e.clone()));
                if e.epoch == e.epochs {
                    pretrained.push(e.clone());
                }
            })?;
        model = AnyModel::Autoencoder(pretrained_model);
    }
    let train_batcher = config.data.batcher(train_data.clone(), config.seed);
    let valid_batcher = config
        .data
        .batcher(valid_data.clone(), config.seed.wrapping_add(1));
    // Several devices: each takes batch_size / n items of its share of the data per step.
    // Several processes: each takes batch_size / nodes items of its shard per step.
    let devices = training_devices::<B>(&device, &training.devices);
    let n = devices.len().max(1);
    let device_batch = training.batch_size / n / nodes;
    let shard_len = train_data.len() / nodes;
    let train_loader = DataLoaderBuilder::<B, usize, ae_data::AeBatch<B>>::new(train_batcher)
        .batch_size(device_batch)
        .shuffle(config.seed)
        .num_workers(training.num_workers)
        .build(IndexDataset::shard(train_data.len(), rank, nodes));
    let valid_loader =
        DataLoaderBuilder::<B::InnerBackend, usize, ae_data::AeBatch<B::InnerBackend>>::new(
            valid_batcher.clone(),
        )
        .batch_size(training.batch_size)
        .num_workers(training.num_workers)
        .build(IndexDataset::new(valid_data.len()));

    // Optimizer steps per epoch: burn-train gives the last device the remainder of the split,
    // and steps until every device's share is used.
    let steps_per_epoch = if nodes > 1 {
        shard_len.div_ceil(device_batch)
    } else if n > 1 {
        let largest_share = train_data.len() - (n - 1) * (train_data.len() / n);
        largest_share.div_ceil(device_batch)
    } else {
        train_data.len().div_ceil(training.batch_size)
    };
    let scheduler = Scheduler::new(
        training.lr_schedule,
        training.learning_rate,
        steps_per_epoch * training.epochs,
        steps_per_epoch,
    );
    let start_epoch = resume_epoch.unwrap_or(0);
    let trainable = Trainable {
        model,
        steps: StepCounter::starting_at(start_epoch * steps_per_epoch * n),
        devices: n,
    };

    let failures = WriteFailures::default();
    let builder = SupervisedTraining::new(run.path(), train_loader, valid_loader)
        // burn-train's own log (a line per step) and metric files are not written: the run
        // folder keeps metrics.csv, whose rows answer burn-train's questions about epochs.
        .with_application_logger(None);
    let interrupter = builder.interrupter();
    let mut builder = builder
        .with_metric_logger(CsvMetricLogger::new(
            run.metrics_file(),
            failures.clone(),
            interrupter.clone(),
        ))
        .with_file_checkpointer(ModelRecorder::with_failures(failures.clone()))
        .with_checkpointing_strategy(
            ComposedCheckpointingStrategy::builder()
                // At least two: a checkpoint that fails to write leaves the one before intact.
                .add(KeepLastNCheckpoints::new(training.checkpoints_kept.max(2)))
                .add(MetricCheckpointingStrategy::new(
                    &StatMetric::new(Stat::Loss),
                    Aggregate::Mean,
                    Direction::Lowest,
                    Split::Valid,
                ))
                .build(),
        )
        .num_epochs(training.epochs);
    let watch = DivergenceWatch::new(builder.interrupter());
    builder = builder
        .metric_train_numeric(StatMetric::new(Stat::Loss).watching(watch.clone()))
        .metric_valid_numeric(StatMetric::new(Stat::Loss))
        .metric_train_numeric(StatMetric::new(Stat::Reconstruction))
        .metric_valid_numeric(StatMetric::new(Stat::Reconstruction));
    if is_vae {
        builder = builder
            .metric_train_numeric(StatMetric::new(Stat::Kl))
            .metric_valid_numeric(StatMetric::new(Stat::Kl))
            .metric_train_numeric(StatMetric::new(Stat::Elbo))
            .metric_valid_numeric(StatMetric::new(Stat::Elbo));
    }
    builder = builder
        .metric_train_numeric(StatMetric::new(Stat::SquaredError))
        .metric_valid_numeric(StatMetric::new(Stat::SquaredError));
    if let Some(patience) = training.early_stopping_patience {
        builder = builder.early_stopping(MetricEarlyStoppingStrategy::new(
            &StatMetric::new(Stat::Loss),
            Aggregate::Mean,
            Direction::Lowest,
            Split::Valid,
            StoppingCondition::NoImprovementSince { n_epochs: patience },
        ));
    }
    if let Some(epoch) = resume_epoch {
        builder = builder.checkpoint(epoch);
    }
    if n > 1 {
        for d in &devices {
            B::seed(d, config.seed);
        }
        builder = builder.with_training_strategy(
            ExecutionStrategy::multi(devices, MultiDeviceOptim::OptimMainDevice).into(),
        );
    }
    builder = builder.renderer(LineRenderer::new(
        options.reporter.clone(),
        options
            .progress_interval
            .or(options.reporter.pace())
            .unwrap_or(Duration::from_secs(10)),
    ));

    let ctrl_c = if options.stop_on_ctrl_c {
        Some(CtrlCWatch::install(
            builder.interrupter(),
            options.reporter.clone(),
        )?)
    } else {
        None
    };
    let adamw = FusedAdamW::new(training.epsilon as f32, training.weight_decay as f32)
        .init::<B, Trainable<B>>(training.grad_clip_norm);
    let optimizer = match &group {
        Some(g) => Synced::over(adamw, g.clone(), builder.interrupter()),
        None => Synced::local(adamw),
    };
    let learner = Learner::new(trainable, optimizer, scheduler);
    let started = Instant::now();
    let result = builder.launch(learner);
    let seconds = started.elapsed().as_secs_f64();
    let interrupted = ctrl_c.and_then(CtrlCWatch::finish);
    if let Some(g) = &group
        && let Some(message) = g.lock().unwrap_or_else(|e| e.into_inner()).failure()
    {
        return Err(TrainError::Distributed(message.to_string()));
    }
    if let Some(message) = failures.first() {
        stop_group("it could not write its run folder");
        return Err(TrainError::WriteFailed {
            message,
            checkpoint: run.latest_checkpoint(),
        });
    }
    drop(interrupter);
    if let Some(reason) = watch.reason() {
        stop_group(&reason);
        let intact =
            newest_intact_checkpoint::<B>(&resolved.model, run, &device, &options.reporter)?;
        let kept = match intact {
            Some(epoch) => {
                restore_checkpoint::<B::InnerBackend>(&resolved.model, run, epoch, &device)?;
                Some(epoch)
            }
            None => None,
        };
        let kept = match kept {
            Some(epoch) => format!(
                "; model.mpk now holds the weights of epoch {epoch}, the last good checkpoint"
            ),
            None => "; no epoch had finished, so there is no checkpoint to keep".to_string(),
        };
        return Err(TrainError::Diverged(format!("{reason}{kept}")));
    }
    let model = result.model.model;
    if let Some(signal) = &interrupted {
        stop_group(&format!("interrupted by {signal}"));
    } else if let Some(g) = &group {
        g.lock()
            .unwrap_or_else(|e| e.into_inner())
            .finish(weights_checksum(&model))?;
    }
    save_model(&model, run)?;
    if let Some(signal) = interrupted {
        return Err(TrainError::Interrupted {
            run: run.path().to_path_buf(),
            checkpoint: run.latest_checkpoint(),
            signal,
        });
    }

    let epochs_run = training.epochs.saturating_sub(start_epoch);
    let validation = evaluate(&model, &valid_batcher, training.batch_size, &device);
    let summary = TrainSummary {
        epochs: training.epochs,
        resumed_from_epoch: start_epoch,
        seconds,
        items_per_second: (epochs_run * train_data.len()) as f64 / seconds.max(1e-9),
        validation,
        peak_memory_mib: crate::resources::peak_resident_mib(),
        rbm_pretraining: pretrained,
    };
    let json =
        serde_json::to_string_pretty(&summary).map_err(|e| TrainError::Invalid(e.to_string()))?;
    write_atomic(&run.summary_file(), json.as_bytes())?;
    Ok(summary)
}

/// Writes the model of the checkpoint of `epoch` to `model.mpk`: the last good weights of a
/// run stopped by a non-finite loss, or the final model of a run stopped after its last
/// checkpoint.
fn restore_checkpoint<B: Backend>(
    config: &ModelConfig,
    run: &RunDir,
    epoch: usize,
    device: &B::Device,
) -> Result<(), TrainError> {
    let model = load_checkpoint_model::<B>(config, run, epoch, device)?;
    save_model(&model, run)
}

/// Finishes a run that stopped after the checkpoint of its last epoch but before writing its
/// model: the model and summary come from that checkpoint.
fn finish_from_checkpoint<B: AutodiffBackend>(
    config: &ExperimentConfig,
    run: &RunDir,
    epoch: usize,
    data: &PreparedData,
    device: &B::Device,
) -> Result<TrainSummary, TrainError> {
    restore_checkpoint::<B::InnerBackend>(&config.model, run, epoch, device)?;
    let model = load_checkpoint_model::<B::InnerBackend>(&config.model, run, epoch, device)?;
    let valid_batcher = config
        .data
        .batcher(Arc::new(data.valid.clone()), config.seed.wrapping_add(1));
    let summary = TrainSummary {
        epochs: epoch,
        resumed_from_epoch: epoch,
        seconds: 0.0,
        items_per_second: 0.0,
        validation: evaluate(&model, &valid_batcher, config.training.batch_size, device),
        peak_memory_mib: crate::resources::peak_resident_mib(),
        rbm_pretraining: Vec::new(),
    };
    let json =
        serde_json::to_string_pretty(&summary).map_err(|e| TrainError::Invalid(e.to_string()))?;
    write_atomic(&run.summary_file(), json.as_bytes())?;
    Ok(summary)
}

/// The column statistics a CSV run was standardized with (`standardization.json`), if it has
/// them.
pub fn read_standardization(run: &RunDir) -> Result<Option<Standardization>, TrainError> {
    let path = run.standardization_file();
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(TrainError::io(path, e)),
    };
    let stats: Standardization = serde_json::from_str(&text).map_err(|e| TrainError::Config {
        path: path.clone(),
        message: format!("not a standardization file: {e}"),
    })?;
    if stats.mean.len() != stats.std.len() || stats.std.iter().any(|s| !(s.is_finite() && *s > 0.0))
    {
        return Err(TrainError::Config {
            path,
            message: "not a standardization file: it needs one positive, finite standard \
                      deviation per mean"
                .into(),
        });
    }
    Ok(Some(stats))
}

/// Saves `model` as the run's final record, atomically.
pub fn save_model<B: Backend>(model: &AnyModel<B>, run: &RunDir) -> Result<(), TrainError> {
    ModelRecorder::new()
        .record(model.clone().into_record(), run.model_stem())
        .map_err(|e| TrainError::Record {
            path: run.model_file(),
            message: recorder_message(&e),
        })
}

/// Loads a trained run: its config and its model on `device`.
pub fn load_model<B: Backend>(
    run: &RunDir,
    device: &B::Device,
) -> Result<(ExperimentConfig, AnyModel<B>), TrainError> {
    run.require_trained()?;
    let config = ExperimentConfig::load(&run.config_file())?;
    ae_io::memory::check(
        format!(
            "the model of {} ({} parameters)",
            run.config_file().display(),
            config.model.cost().parameters
        ),
        config.model.parameter_bytes(2),
    )?;
    let model: AnyModel<B> = config.model.init(device)?;
    let record = ModelRecorder::new()
        .load(run.model_stem(), device)
        .map_err(|e| TrainError::Record {
            path: run.model_file(),
            message: format!("cannot load the model: {}", recorder_message(&e)),
        })?;
    let loaded = load_fitting(model, record, &run.model_file())?;
    Ok((config, loaded))
}

/// Loads the model saved as burn's JSON config (`model.json`) without its weights.
pub fn load_model_config(run: &RunDir) -> Result<ModelConfig, TrainError> {
    ModelConfig::load(run.model_config_file()).map_err(|e| TrainError::Config {
        path: run.model_config_file(),
        message: e.to_string(),
    })
}
