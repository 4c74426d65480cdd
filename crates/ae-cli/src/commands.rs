//! The subcommands, each a backend-generic task.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ae_backend::{BackendChoice, BackendKind, BackendTask, run_on};
use ae_data::{AeBatch, Corruption};
use ae_models::{
    Activation, ArchitectureConfig, AutoencoderConfig, InputShape, Likelihood, ModelConfig,
    Objective, ReconstructionLoss, VaeConfig,
};
use ae_train::data::prepare;
use ae_train::pictures::write_grid;
use ae_train::{
    DataConfig, DataSource, ExperimentConfig, RunDir, TrainOptions, TrainingConfig, estimate_nll,
    evaluate, load_model, train,
};
use anyhow::{Result, anyhow, bail};
use burn::data::dataloader::batcher::Batcher;
use burn::tensor::backend::{AutodiffBackend, Backend};

use crate::flags::{
    Cli, Command, EvalArgs, LikelihoodKind, ModelKind, ObjectiveKind, PictureArgs, TrainArgs,
};
use crate::shared::rows_of;

/// Runs the parsed command line.
pub fn run(cli: Cli) -> Result<()> {
    let kind = match cli.backend {
        Some(kind) => kind,
        None => BackendKind::default_compiled()
            .ok_or_else(|| anyhow!("this binary has no backend compiled in"))?,
    };
    let choice = BackendChoice {
        kind,
        wgpu_device: cli.wgpu_device,
    };
    match cli.command {
        Command::Train(args) => {
            let (config, run) = train_config(&args)?;
            run_on(
                choice,
                TrainTask {
                    config,
                    run,
                    options: TrainOptions {
                        resume: args.resume,
                        progress_interval: None,
                        plain_progress: args.plain,
                        stop_on_ctrl_c: true,
                    },
                    pictures: !args.no_pictures,
                },
            )?
        }
        Command::Eval(args) => run_on(
            choice,
            EvalTask {
                args,
                backend: kind,
            },
        )?,
        Command::Reconstruct(args) => run_on(choice, ReconstructTask { args })?,
        Command::Sample(args) => crate::generate::run_sample(args, choice),
        Command::Encode(args) => crate::reduce::run_encode(args, choice),
        Command::Pca(args) => crate::reduce::run_pca(args, choice),
        Command::ComparePca(args) => crate::reduce::run_comparepca(args, choice),
        Command::Cluster(args) => crate::reduce::run_cluster(args, choice),
        Command::Dec(args) => crate::dec::run_dec(args, choice),
        Command::Traverse(args) => crate::explain::run_traverse(args, choice),
        Command::Interpolate(args) => crate::explain::run_interpolate(args, choice),
        Command::Attribute(args) => crate::explain::run_attribute(args, choice),
        Command::Anomaly(args) => crate::anomaly::run_anomaly(args, choice),
        Command::Denoise(args) => crate::denoise::run_denoise(args, choice),
        Command::Uncertainty(args) => crate::generate::run_uncertainty(args, choice),
        Command::Demo(args) => crate::demo::run_demo(args, choice),
    }
}

fn parse_source(name: &str) -> Result<DataSource> {
    let quoted = format!("\"{name}\"");
    serde_json::from_str(&quoted).map_err(|_| {
        anyhow!(
            "unknown data source '{name}': expected mnist, fashion-mnist, image-folder, csv, paired, parabola or helix"
        )
    })
}

fn parse_activation(name: &str) -> Result<Activation> {
    serde_json::from_str(&format!("\"{name}\"")).map_err(|_| {
        anyhow!("unknown activation '{name}': expected relu, leaky-relu, tanh, sigmoid, gelu, elu or none")
    })
}

/// Parses `gaussian:0.3`, `salt-and-pepper:0.1`, `masking:0.25` or `block:8`.
fn parse_noise(text: &str) -> Result<Corruption> {
    text.parse::<Corruption>()
        .map_err(|e| anyhow!("--noise {e}"))
}

fn model_from_flags(args: &TrainArgs) -> Result<ModelConfig> {
    let kind = args
        .model
        .ok_or_else(|| anyhow!("give --config FILE or --model ae|vae"))?;
    let activation = match &args.activation {
        Some(name) => parse_activation(name)?,
        None => Activation::Relu,
    };
    let architecture = match &args.conv {
        Some(channels) => ArchitectureConfig::Conv {
            channels: channels.clone(),
            kernel_size: 4,
            activation,
        },
        None => ArchitectureConfig::Mlp {
            hidden: args.hidden.clone().unwrap_or_else(|| vec![400]),
            activation,
        },
    };
    let shape = InputShape::new(1, 28, 28);
    let latent = args.latent.unwrap_or(20);
    Ok(match kind {
        ModelKind::Ae => {
            if args.objective.is_some() || args.samples.is_some() {
                bail!("--objective and --samples apply to --model vae only");
            }
            let loss = match args.loss.as_deref() {
                None | Some("bce") => ReconstructionLoss::Bce,
                Some("squared-error") => ReconstructionLoss::SquaredError,
                Some(other) => bail!("unknown --loss '{other}': expected bce or squared-error"),
            };
            ModelConfig::Autoencoder(
                AutoencoderConfig::new(latent, architecture)
                    .with_input_shape(shape)
                    .with_loss(loss),
            )
        }
        ModelKind::Vae => {
            let likelihood = match args.likelihood.unwrap_or(LikelihoodKind::Bernoulli) {
                LikelihoodKind::Bernoulli => Likelihood::Bernoulli,
                LikelihoodKind::Gaussian => Likelihood::Gaussian {
                    variance: args.variance,
                },
                LikelihoodKind::GaussianLearned => Likelihood::GaussianLearned {
                    min_log_variance: -8.0,
                },
            };
            let objective = match args.objective {
                None | Some(ObjectiveKind::Elbo) => Objective::Elbo,
                Some(ObjectiveKind::Iwae) => Objective::Iwae,
            };
            ModelConfig::Vae(
                VaeConfig::new(latent, architecture)
                    .with_input_shape(shape)
                    .with_likelihood(likelihood)
                    .with_objective(objective)
                    .with_samples(args.samples.unwrap_or(1)),
            )
        }
    })
}

/// The experiment config and run folder that `ae train`'s arguments describe.
pub fn train_config(args: &TrainArgs) -> Result<(ExperimentConfig, RunDir)> {
    let model_flags = args.model.is_some()
        || args.latent.is_some()
        || args.hidden.is_some()
        || args.conv.is_some()
        || args.activation.is_some()
        || args.likelihood.is_some()
        || args.loss.is_some()
        || args.objective.is_some()
        || args.samples.is_some();
    let mut config = match &args.config {
        Some(path) => {
            if model_flags {
                bail!(
                    "model flags (--model, --latent, --hidden, --conv, --activation, --likelihood, --loss, --objective, --samples) cannot be combined with --config: edit {}",
                    path.display()
                );
            }
            ExperimentConfig::load(path)?
        }
        None => ExperimentConfig {
            seed: 42,
            data: DataConfig::new(DataSource::Mnist),
            model: model_from_flags(args)?,
            training: TrainingConfig::default(),
        },
    };
    if let Some(source) = &args.data {
        config.data.source = parse_source(source)?;
    }
    if let Some(path) = &args.data_path {
        config.data.path = Some(path.clone());
    }
    if let Some(path) = &args.target_path {
        config.data.target_path = Some(path.clone());
    }
    if let Some((height, width)) = args.image_size {
        config.data.height = Some(height);
        config.data.width = Some(width);
    }
    if let Some(channels) = args.channels {
        config.data.channels = Some(channels);
    }
    if let Some(limit) = args.limit {
        config.data.limit = Some(limit);
    }
    if !args.noise.is_empty() {
        config.data.corruptions = args
            .noise
            .iter()
            .map(|n| parse_noise(n))
            .collect::<Result<_>>()?;
    }
    if let Some(classes) = &args.normal_classes {
        config.data.classes = Some(classes.clone());
    }
    if args.binarize {
        config.data.binarize = true;
    }
    if args.dequantize {
        config.data.dequantize = true;
    }
    if let Some(epochs) = args.epochs {
        config.training.epochs = epochs;
    }
    if let Some(batch) = args.batch_size {
        config.training.batch_size = batch;
    }
    if let Some(lr) = args.lr {
        config.training.learning_rate = lr;
    }
    if let Some(seed) = args.seed {
        config.seed = seed;
    }
    config.validate()?;
    let name = args.name.clone().unwrap_or_else(|| {
        args.config
            .as_deref()
            .and_then(Path::file_stem)
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "run".into())
    });
    let run = RunDir::new(
        args.run_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from("runs").join(name)),
    );
    Ok((config, run))
}

struct TrainTask {
    config: ExperimentConfig,
    run: RunDir,
    options: TrainOptions,
    pictures: bool,
}

impl BackendTask for TrainTask {
    type Output = Result<()>;
    fn run<B: AutodiffBackend>(self, device: B::Device) -> Result<()> {
        let summary = train::<B>(&self.config, &self.run, device.clone(), &self.options)?;
        let mut report = serde_json::json!({
            "run": self.run.path(),
            "summary": summary,
        });
        if self.pictures && is_image_data(&self.config) {
            let out = self.run.path().join("reconstructions.png");
            reconstruct::<B::InnerBackend>(&self.run, &out, 16, 0, 3, &device)?;
            report["reconstructions"] = serde_json::json!(out);
        }
        println!("{}", serde_json::to_string_pretty(&report)?);
        Ok(())
    }
}

fn is_image_data(config: &ExperimentConfig) -> bool {
    !matches!(
        config.data.source,
        DataSource::Csv | DataSource::Parabola | DataSource::Helix
    )
}

struct EvalTask {
    args: EvalArgs,
    backend: BackendKind,
}

impl BackendTask for EvalTask {
    type Output = Result<()>;
    fn run<B: AutodiffBackend>(self, device: B::Device) -> Result<()> {
        let run = RunDir::new(&self.args.run);
        let (config, model) = load_model::<B::InnerBackend>(&run, &device)?;
        let data = prepare(&config.data, config.seed)?;
        let dataset = match self.args.split.as_str() {
            "test" => data.test,
            "valid" => data.valid,
            other => bail!("unknown --split '{other}': expected test or valid"),
        };
        if self.args.batch_size == 0 {
            bail!("--batch-size must be at least 1");
        }
        let dataset = match self.args.limit {
            Some(0) => bail!("--limit must be at least 1"),
            Some(n) => dataset.take(n),
            None => dataset,
        };
        B::InnerBackend::seed(&device, config.seed);
        let mut data_config = config.data.clone();
        if self.args.clean {
            data_config.corruptions.clear();
        }
        let batcher = data_config.batcher(Arc::new(dataset), config.seed.wrapping_add(2));
        let started = std::time::Instant::now();
        let metrics = evaluate(&model, &batcher, self.args.batch_size, &device);
        let seconds = started.elapsed().as_secs_f64();
        let mut report = serde_json::json!({
            "run": run.path(),
            "split": self.args.split,
            "backend": self.backend.to_string(),
            "model": config.model.name(),
            "clean": self.args.clean,
            "metrics": metrics,
            "seconds": seconds,
            "items_per_second": metrics.items as f64 / seconds.max(1e-9),
        });
        if self.args.nll {
            let vae = model.as_vae().ok_or_else(|| {
                anyhow!(
                    "--nll needs a VAE; {} is a {}",
                    run.path().display(),
                    config.model.name()
                )
            })?;
            let started = std::time::Instant::now();
            let mut last_report = started;
            let estimate = estimate_nll(
                vae,
                &batcher,
                self.args.importance_samples,
                self.args.rows_per_pass,
                &device,
                |done, total| {
                    if last_report.elapsed().as_secs_f64() >= 10.0 || done == total {
                        last_report = std::time::Instant::now();
                        eprintln!(
                            "nll: {done}/{total} items, {:.0} s",
                            started.elapsed().as_secs_f64()
                        );
                    }
                },
            )?;
            report["nll"] = serde_json::to_value(estimate)?;
            report["nll_seconds"] = serde_json::json!(started.elapsed().as_secs_f64());
        }
        println!("{}", serde_json::to_string_pretty(&report)?);
        Ok(())
    }
}

struct ReconstructTask {
    args: PictureArgs,
}

impl BackendTask for ReconstructTask {
    type Output = Result<()>;
    fn run<B: AutodiffBackend>(self, device: B::Device) -> Result<()> {
        let run = RunDir::new(&self.args.run);
        let out = self
            .args
            .out
            .clone()
            .unwrap_or_else(|| run.path().join("reconstructions.png"));
        reconstruct::<B::InnerBackend>(
            &run,
            &out,
            self.args.count,
            self.args.seed,
            self.args.zoom,
            &device,
        )?;
        println!("{}", serde_json::json!({ "picture": out }));
        Ok(())
    }
}

/// Writes inputs, corrupted inputs (if any) and reconstructions of test items to `out`.
fn reconstruct<B: Backend>(
    run: &RunDir,
    out: &Path,
    count: usize,
    seed: u64,
    zoom: u32,
    device: &B::Device,
) -> Result<()> {
    let (config, model) = load_model::<B>(run, device)?;
    let data = prepare(&config.data, config.seed)?;
    if count == 0 {
        bail!("--count must be at least 1");
    }
    let count = count.min(data.test.len());
    let batcher = config.data.batcher(Arc::new(data.test.take(count)), seed);
    let batch: AeBatch<B> = batcher.batch((0..count).collect(), device);
    let reconstruction = model.decode(model.encode(batch.input.clone()));
    let mut rows = vec![rows_of(batch.target.clone())?];
    if !config.data.corruptions.is_empty() || data.test.is_paired() {
        rows.insert(0, rows_of(batch.input)?);
    }
    rows.push(rows_of(reconstruction)?);
    write_grid(out, &rows, config.model.input_shape(), zoom)?;
    Ok(())
}
