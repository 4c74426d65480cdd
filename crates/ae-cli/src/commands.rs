//! One dispatch: each command's flags become the library's settings, the library does the
//! work, and its report becomes the JSON document `main` prints.

use std::io::Write;
use std::path::{Path, PathBuf};

use ae_toolkit::anomaly::{AnomalyEvalSettings, FitSettings, ScoreSettings, ThresholdRule};
use ae_toolkit::backend::{BackendKind, BackendTask};
use ae_toolkit::cluster::{ClusterSettings, UmapClusterSettings};
use ae_toolkit::data::{Corruption, DataConfig, DataSource};
use ae_toolkit::dec::DecRunSettings;
use ae_toolkit::demo::ManifoldSettings;
use ae_toolkit::denoise::DenoiseSettings;
use ae_toolkit::evaluate::{EvalSettings, NllSettings};
use ae_toolkit::harness::deep_clustering::DecSettings;
use ae_toolkit::harness::{OptimizerKind, RunDir};
use ae_toolkit::latent::{AttributeSettings, InterpolateSettings, TraverseSettings};
use ae_toolkit::models::{
    Activation, ArchitectureConfig, AutoencoderConfig, InputShape, Likelihood, ModelConfig,
    NormKind, Objective, ReconstructionLoss, VaeConfig, WeightInit,
};
use ae_toolkit::sample::SampleSettings;
use ae_toolkit::{
    ExperimentConfig, ItemSource, Reporter, Split, TabularDefaults, TrainOptions, TrainedRun,
    TrainingConfig,
};
use anyhow::{Result, anyhow, bail};
use burn::tensor::backend::AutodiffBackend;
use serde::Serialize;
use serde_json::Value;

use crate::flags::{
    AnomalyAction, Command, DemoCommand, LikelihoodKind, ManifoldData, ModelKind, ObjectiveKind,
    PcaArgs, TrainArgs,
};

/// A command, run on the chosen backend.
pub struct Dispatch {
    /// The command.
    pub command: Command,
    /// The backend it runs on (reported by `ae eval`).
    pub backend: BackendKind,
    /// Where progress goes.
    pub reporter: Reporter,
}

/// A report as JSON.
fn json(report: impl Serialize) -> Result<Value> {
    Ok(serde_json::to_value(report)?)
}

impl BackendTask for Dispatch {
    type Output = Result<Value>;

    fn run<B: AutodiffBackend>(self, device: B::Device) -> Result<Value> {
        let reporter = &self.reporter;
        let open = |path: &Path| TrainedRun::<B::InnerBackend>::open(path, &device);
        match self.command {
            Command::Train(args) => {
                let (config, run) = train_config(&args)?;
                let options = TrainOptions {
                    resume: args.resume,
                    overwrite: args.overwrite,
                    progress_interval: None,
                    reporter: reporter.clone(),
                    stop_on_ctrl_c: true,
                };
                let members = ensemble_members(&args, &config)?;
                if members > 1 {
                    let settings = ae_toolkit::ensemble::EnsembleSettings {
                        members,
                        bootstrap: args.bootstrap,
                    };
                    return json(ae_toolkit::ensemble::train_ensemble::<B>(
                        &config,
                        run.path(),
                        &device,
                        &options,
                        &settings,
                    )?);
                }
                let mut report = ae_toolkit::train::<B>(&config, run.path(), &device, &options)?;
                if !args.no_pictures && config.data.source.is_images() {
                    let trained = open(run.path())?;
                    let out = run.path().join("reconstructions.png");
                    let source = ItemSource::Split(Split::Test);
                    ae_toolkit::encode::reconstruction_picture(&trained, &source, &out, 16, 0, 3)?;
                    report.reconstructions = Some(out);
                }
                json(report)
            }
            Command::Eval(args) => {
                let run = open(&args.run.run)?;
                let settings = EvalSettings {
                    source: args.source.source(),
                    batch_size: args.batch.batch_size,
                    limit: args.limit,
                    clean: args.clean,
                    nll: args.nll.then_some(NllSettings {
                        importance_samples: args.importance_samples,
                        rows_per_pass: args.rows_per_pass,
                    }),
                };
                let report = ae_toolkit::evaluate::evaluate(&run, &settings, reporter)?;
                let mut value = json(report)?;
                value["backend"] = Value::from(self.backend.to_string());
                Ok(value)
            }
            Command::Reconstruct(args) => {
                let run = open(&args.run.run)?;
                let out = args
                    .picture
                    .out
                    .unwrap_or_else(|| run.path().join("reconstructions.png"));
                json(ae_toolkit::encode::reconstruction_picture(
                    &run,
                    &args.source.source(),
                    &out,
                    args.count,
                    args.seed,
                    args.picture.zoom,
                )?)
            }
            Command::Sample(args) => {
                let run = open(&args.run.run)?;
                let settings = SampleSettings {
                    from: args.from,
                    components: args.components,
                    max_iter: args.max_iter,
                    batch_size: args.batch.batch_size,
                    count: args.count,
                    out: args.picture.out,
                    seed: args.seed,
                    zoom: args.picture.zoom,
                };
                json(ae_toolkit::sample::sample_picture(&run, &settings)?)
            }
            Command::Encode(args) => {
                let run = open(&args.run.run)?;
                let source = args.source.source();
                let out = args
                    .out
                    .unwrap_or_else(|| ae_toolkit::encode::default_encode_folder(&run, &source));
                json(ae_toolkit::encode::encode_to_files(
                    &run,
                    &source,
                    &out,
                    args.batch.batch_size,
                    reporter,
                )?)
            }
            Command::Pca(args) => pca(&args),
            Command::ComparePca(args) => {
                let run = open(&args.run)?;
                json(ae_toolkit::pca::compare_pca(&run, args.batch.batch_size)?)
            }
            Command::Cluster(args) => {
                let run = open(&args.run.run)?;
                let settings = ClusterSettings {
                    split: args.split,
                    k: args.k,
                    restarts: args.restarts,
                    seed: args.seed,
                    batch_size: args.batch.batch_size,
                    out: args.out,
                    umap: args.umap.then_some(UmapClusterSettings {
                        umap_dims: args.umap_dims,
                        umap_neighbors: args.umap_neighbors,
                        umap_min_dist: args.umap_min_dist,
                        umap_epochs: args.umap_epochs,
                    }),
                };
                json(ae_toolkit::cluster::cluster(&run, &settings, reporter)?)
            }
            Command::Dec(args) => {
                let out = args
                    .out
                    .clone()
                    .unwrap_or_else(|| ae_toolkit::dec::default_dec_folder(&args.run));
                let settings = DecRunSettings {
                    dec: DecSettings {
                        learning_rate: args.learning_rate,
                        batch_size: args.batch_size,
                        update_interval: args.update_interval,
                        tolerance: args.tolerance,
                        max_iterations: args.max_iterations,
                        reconstruction_weight: args.reconstruction_weight,
                        seed: args.seed,
                    },
                    k: args.k,
                    split: args.split,
                    restarts: args.restarts,
                };
                let run = TrainedRun::<B>::open(&args.run, &device)?;
                let mut value = json(ae_toolkit::dec::dec(&run, &settings, &out, reporter)?)?;
                // The history is in dec.json; the summary stays short.
                if let Some(object) = value.as_object_mut() {
                    object.remove("history");
                }
                Ok(value)
            }
            Command::Traverse(args) => {
                let run = open(&args.run.run)?;
                let settings = TraverseSettings {
                    dims: args.dims,
                    steps: args.steps,
                    range: args.range,
                    item: args.item,
                    out: args.picture.out,
                    zoom: args.picture.zoom,
                    batch_size: args.batch.batch_size,
                };
                json(ae_toolkit::latent::traverse(&run, &settings)?)
            }
            Command::Interpolate(args) => {
                let run = open(&args.run.run)?;
                let settings = InterpolateSettings {
                    from: args.from,
                    to: args.to,
                    steps: args.steps,
                    out: args.picture.out,
                    zoom: args.picture.zoom,
                };
                json(ae_toolkit::latent::interpolate(&run, &settings)?)
            }
            Command::Attribute(args) => {
                let run = open(&args.run.run)?;
                let settings = AttributeSettings {
                    from_label: args.from_label,
                    to_label: args.to_label,
                    strengths: args.strengths,
                    items: args.items,
                    count: args.count,
                    limit: args.limit,
                    out: args.picture.out,
                    zoom: args.picture.zoom,
                    batch_size: args.batch.batch_size,
                };
                json(ae_toolkit::latent::attribute(&run, &settings)?)
            }
            Command::Anomaly(args) => match args.action {
                AnomalyAction::Fit(args) => {
                    let run = open(&args.run.run)?;
                    let settings = FitSettings {
                        rule: match (args.percentile, args.contamination) {
                            (Some(p), _) => ThresholdRule::Percentile(p),
                            (None, c) => ThresholdRule::Contamination(c.unwrap_or(0.05)),
                        },
                        score: args.score,
                        source: args.data_path.map(ItemSource::path),
                        batch_size: Some(args.batch.batch_size),
                    };
                    json(ae_toolkit::anomaly::fit(&run, &settings)?)
                }
                AnomalyAction::Score(args) => {
                    let run = open(&args.run)?;
                    let settings = ScoreSettings {
                        source: args.source.source(),
                        out: args.out,
                        batch_size: args.batch.batch_size,
                        score: args.score,
                    };
                    json(ae_toolkit::anomaly::score_to_csv(
                        &run, &settings, reporter,
                    )?)
                }
                AnomalyAction::Eval(args) => {
                    let run = open(&args.run.run)?;
                    let settings = AnomalyEvalSettings {
                        source: args.source.source(),
                        score: args.score,
                        normal_classes: args.normal_classes,
                        anomaly_classes: args.anomaly_classes,
                        out: args.out,
                        batch_size: args.batch.batch_size,
                        knn_baseline: args.knn_baseline,
                        baselines: args.baselines,
                    };
                    json(ae_toolkit::anomaly::evaluate(&run, &settings)?)
                }
            },
            Command::Denoise(args) => {
                let run = open(&args.run)?;
                let settings = DenoiseSettings {
                    noise: parse_noise(&args.noise)?,
                    split: args.split,
                    limit: args.limit,
                    count: args.count,
                    pca_items: args.pca_items,
                    pca_components: args.pca_components,
                    seed: args.seed,
                    out_dir: args.out_dir,
                    zoom: args.zoom,
                    batch_size: args.batch.batch_size,
                };
                json(ae_toolkit::denoise::denoise(&run, &settings)?)
            }
            Command::Uncertainty(args) => {
                let run = open(&args.run)?;
                json(ae_toolkit::uncertainty::uncertainty(
                    &run,
                    args.split,
                    args.batch.batch_size,
                )?)
            }
            Command::Explore(args) => {
                let run = open(&args.run.run)?;
                let settings = ae_explore::ExploreSettings {
                    source: args.source.source(),
                    limit: args.limit,
                    umap: args.umap,
                    batch_size: args.batch.batch_size,
                    seed: args.seed,
                };
                settings.check()?;
                reporter.notice(format!(
                    "encoding up to {} items of {}",
                    args.limit,
                    args.run.run.display()
                ));
                let explorer = ae_explore::Explorer::new(run, &settings)?;
                let server = ae_explore::Server::bind(&args.host, args.port)?;
                // Where to point a browser is the result: one JSON line on stdout, at once.
                let listening = serde_json::json!({
                    "url": server.url(),
                    "items": explorer.len(),
                    "run": args.run.run,
                });
                let mut stdout = std::io::stdout().lock();
                let _ = writeln!(stdout, "{listening}").and_then(|()| stdout.flush());
                drop(stdout);
                reporter.notice(format!(
                    "ae explore: open {} in a browser (Ctrl-C stops)",
                    server.url()
                ));
                server.run(&explorer);
                Ok(Value::Null)
            }
            Command::Completions(_) => Err(anyhow!("completions are printed before dispatch")),
            Command::Demo(args) => match args.demo {
                DemoCommand::Manifold(args) => {
                    let settings = ManifoldSettings {
                        seeds: args.seeds,
                        out: args.out,
                        epochs: args.epochs,
                        samples: args.samples,
                        data: args
                            .data
                            .iter()
                            .map(|d| match d {
                                ManifoldData::Parabola => DataSource::Parabola,
                                ManifoldData::Helix => DataSource::Helix,
                            })
                            .collect(),
                        hidden: args.hidden,
                        lr: args.lr,
                        batch_size: args.batch_size,
                    };
                    json(ae_toolkit::demo::manifold::<B>(
                        &settings, &device, reporter,
                    )?)
                }
            },
        }
    }
}

/// The corruptions of `--noise KIND:VALUE` flags. (Parsed here rather than by clap, so that a
/// bad value gives one clean error line.)
fn parse_noise(values: &[String]) -> Result<Vec<Corruption>> {
    values
        .iter()
        .map(|text| {
            text.parse::<Corruption>()
                .map_err(|e| anyhow!("--noise {e}"))
        })
        .collect()
}

/// `ae pca`: needs no backend.
pub fn pca(args: &PcaArgs) -> Result<Value> {
    let (data, seed) = match &args.run {
        Some(run) => {
            let run = RunDir::new(run);
            if !run.config_file().exists() {
                bail!(
                    "{}: not a run folder (it has no config.toml)",
                    run.path().display()
                );
            }
            let config = ExperimentConfig::load(&run.config_file())?;
            (config.data, config.seed)
        }
        None => {
            let source = args
                .data
                .ok_or_else(|| anyhow!("give --run RUN or --data SOURCE"))?;
            let mut config = DataConfig::new(source);
            config.path = args.data_path.clone();
            if args.limit == Some(0) {
                bail!("--limit must be at least 1");
            }
            config.limit = args.limit;
            (config, args.seed)
        }
    };
    json(ae_toolkit::pca::pca_baseline(
        &data,
        seed,
        &args.components,
    )?)
}

/// The model config that `ae train`'s model flags describe; `tabular` picks the table
/// defaults ([`TabularDefaults`]) for what the flags leave out.
fn model_from_flags(args: &TrainArgs, tabular: bool) -> Result<ModelConfig> {
    let kind = args
        .model
        .ok_or_else(|| anyhow!("give --config FILE or --model ae|vae"))?;
    let defaults = TabularDefaults::default();
    let activation = args.activation.unwrap_or(Activation::Relu);
    let architecture = match &args.conv {
        Some(channels) => {
            if args.norm.is_some() || args.dropout.is_some() || args.init.is_some() {
                bail!("--norm, --dropout and --init apply to MLPs, not to --conv models");
            }
            ArchitectureConfig::Conv {
                channels: channels.clone(),
                kernel_size: 4,
                activation,
            }
        }
        None => ArchitectureConfig::Mlp {
            hidden: args.hidden.clone().unwrap_or_else(|| {
                if tabular {
                    defaults.hidden.clone()
                } else {
                    vec![400]
                }
            }),
            activation,
            norm: args.norm.unwrap_or(if tabular {
                defaults.norm
            } else {
                NormKind::None
            }),
            dropout: args
                .dropout
                .unwrap_or(if tabular { defaults.dropout } else { 0.0 }),
            init: args.init.unwrap_or(if tabular {
                defaults.init
            } else {
                WeightInit::Default
            }),
        },
    };
    let shape = InputShape::new(1, 28, 28);
    let latent = args
        .latent
        .unwrap_or(if tabular { defaults.latent } else { 20 });
    Ok(match kind {
        ModelKind::Ae => {
            if args.objective.is_some() || args.samples.is_some() {
                bail!("--objective and --samples apply to --model vae only");
            }
            ModelConfig::Autoencoder(
                AutoencoderConfig::new(latent, architecture)
                    .with_input_shape(shape)
                    .with_code_dropout(args.code_dropout.unwrap_or(if tabular {
                        defaults.code_dropout
                    } else {
                        0.0
                    }))
                    .with_loss(args.loss.unwrap_or(if tabular {
                        ReconstructionLoss::SquaredError
                    } else {
                        ReconstructionLoss::Bce
                    })),
            )
        }
        ModelKind::Vae => {
            if args.code_dropout.is_some() {
                bail!("--code-dropout applies to --model ae only");
            }
            let default_likelihood = if tabular {
                LikelihoodKind::Gaussian
            } else {
                LikelihoodKind::Bernoulli
            };
            let likelihood = match args.likelihood.unwrap_or(default_likelihood) {
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

/// How many models `ae train` trains: `--ensemble`, else the tabular default for an
/// autoencoder of a table built from flags (one process), else one.
fn ensemble_members(args: &TrainArgs, config: &ExperimentConfig) -> Result<usize> {
    let members = match args.ensemble {
        Some(0) => bail!("--ensemble must be at least 1"),
        Some(k) => k,
        None if args.config.is_none()
            && config.distributed.is_none()
            && ae_toolkit::anomaly::scores_standardized(config) =>
        {
            TabularDefaults::default().ensemble
        }
        None => 1,
    };
    if args.bootstrap && members < 2 {
        bail!("--bootstrap needs an ensemble: add --ensemble K with K of at least 2");
    }
    if members > 1 && config.distributed.is_some() {
        bail!("--ensemble and --nodes cannot be combined: train the members one at a time");
    }
    Ok(members)
}

/// The experiment config and run folder that `ae train`'s arguments describe.
pub fn train_config(args: &TrainArgs) -> Result<(ExperimentConfig, RunDir)> {
    let model_flags = args.model.is_some()
        || args.latent.is_some()
        || args.hidden.is_some()
        || args.conv.is_some()
        || args.activation.is_some()
        || args.norm.is_some()
        || args.init.is_some()
        || args.dropout.is_some()
        || args.code_dropout.is_some()
        || args.likelihood.is_some()
        || args.loss.is_some()
        || args.objective.is_some()
        || args.samples.is_some();
    let mut config = match &args.config {
        Some(path) => {
            if model_flags {
                bail!(
                    "model flags (--model, --latent, --hidden, --conv, --activation, --norm, --init, --dropout, --likelihood, --loss, --objective, --samples) cannot be combined with --config: edit {}",
                    path.display()
                );
            }
            ExperimentConfig::load(path)?
        }
        None => {
            let tabular = args.data == Some(DataSource::Csv);
            let training = if tabular {
                TabularDefaults::default().training()
            } else {
                TrainingConfig::default()
            };
            ExperimentConfig {
                distributed: None,
                seed: 42,
                data: DataConfig::new(DataSource::Mnist),
                model: model_from_flags(args, tabular)?,
                training,
            }
        }
    };
    let data = &mut config.data;
    if let Some(source) = args.data {
        data.source = source;
    }
    let set = |field: &mut Option<PathBuf>, value: &Option<PathBuf>| {
        if value.is_some() {
            field.clone_from(value);
        }
    };
    set(&mut data.path, &args.data_path);
    set(&mut data.test_path, &args.test_path);
    set(&mut data.target_path, &args.target_path);
    if let Some(column) = &args.label_column {
        data.label_column = Some(column.clone());
    }
    if let Some(delimiter) = args.delimiter {
        data.delimiter = Some(delimiter);
    }
    if let Some((height, width)) = args.image_size {
        data.height = Some(height);
        data.width = Some(width);
    }
    if let Some(channels) = args.channels {
        data.channels = Some(channels);
    }
    if let Some(limit) = args.limit {
        data.limit = Some(limit);
    }
    if !args.noise.is_empty() {
        data.corruptions = parse_noise(&args.noise)?;
    }
    if let Some(classes) = &args.normal_classes {
        data.classes = Some(classes.clone());
    }
    if args.binarize {
        data.binarize = true;
    }
    if args.dequantize {
        data.dequantize = true;
    }
    if let Some(epochs) = args.epochs {
        config.training.epochs = epochs;
    }
    if let Some(batch) = args.batch_size {
        config.training.batch_size = batch;
        config.training.shrink_batch_to_data = false;
    }
    if let Some(devices) = &args.devices {
        config.training.devices = devices.clone();
    }
    if args.nodes.is_some()
        || args.node_rank.is_some()
        || args.orchestrator.is_some()
        || args.node_timeout.is_some()
    {
        let mut d = match config.distributed.take() {
            Some(d) => d,
            None => {
                let Some(orchestrator) = &args.orchestrator else {
                    bail!(
                        "--nodes and --node-rank need --orchestrator HOST:PORT (where rank 0 listens)"
                    );
                };
                ae_toolkit::DistributedConfig::new(
                    args.nodes.unwrap_or(1),
                    args.node_rank.unwrap_or(0),
                    orchestrator.clone(),
                )
            }
        };
        if let Some(nodes) = args.nodes {
            d.nodes = nodes;
        }
        if let Some(rank) = args.node_rank {
            d.node_rank = rank;
        }
        if let Some(orchestrator) = &args.orchestrator {
            d.orchestrator = orchestrator.clone();
        }
        if let Some(seconds) = args.node_timeout {
            d.timeout_seconds = seconds;
        }
        config.distributed = Some(d);
    }
    if let Some(lr) = args.lr {
        config.training.learning_rate = lr;
    }
    if let Some(decay) = args.weight_decay {
        config.training.weight_decay = decay;
        if decay > 0.0 {
            config.training.optimizer = OptimizerKind::Adamw;
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flags::{Cli, Command};
    use clap::Parser;

    fn train_args(flags: &[&str]) -> TrainArgs {
        let cli = Cli::try_parse_from(["ae", "train"].iter().chain(flags)).expect("flags parse");
        match cli.command {
            Command::Train(args) => *args,
            _ => unreachable!("a train command"),
        }
    }

    #[test]
    fn a_table_from_flags_is_the_librarys_tabular_experiment_as_an_ensemble() {
        let args = train_args(&["--model", "ae", "--data", "csv", "--data-path", "t.csv"]);
        let (config, _) = train_config(&args).unwrap();
        let defaults = TabularDefaults::default();
        assert_eq!(
            config.to_toml().unwrap(),
            defaults.experiment("t.csv").to_toml().unwrap()
        );
        assert_eq!(ensemble_members(&args, &config).unwrap(), defaults.ensemble);
        // One model when asked, and for a VAE or images.
        let one = train_args(&["--model", "ae", "--data", "csv", "--ensemble", "1"]);
        assert_eq!(
            ensemble_members(&one, &train_config(&one).unwrap().0).unwrap(),
            1
        );
        let vae = train_args(&["--model", "vae", "--data", "csv"]);
        assert_eq!(
            ensemble_members(&vae, &train_config(&vae).unwrap().0).unwrap(),
            1
        );
        let images = train_args(&["--model", "ae", "--data", "mnist"]);
        assert_eq!(
            ensemble_members(&images, &train_config(&images).unwrap().0).unwrap(),
            1
        );
        // A bootstrap without an ensemble, or an empty one, is refused.
        let lone = train_args(&["--model", "ae", "--data", "mnist", "--bootstrap"]);
        let error = ensemble_members(&lone, &train_config(&lone).unwrap().0).unwrap_err();
        assert!(error.to_string().contains("--ensemble K"), "{error}");
        let empty = train_args(&["--model", "ae", "--data", "csv", "--ensemble", "0"]);
        assert!(ensemble_members(&empty, &train_config(&empty).unwrap().0).is_err());
    }
}
