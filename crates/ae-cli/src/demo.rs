//! `ae demo manifold`: PCA against a 1-D autoencoder on a noisy parabola and a helix.

use std::path::PathBuf;

use ae_analysis::{Matrix, Pca, median};
use ae_backend::{BackendChoice, BackendTask, run_on};
use ae_models::{
    Activation, ArchitectureConfig, AutoencoderConfig, ModelConfig, ReconstructionLoss,
};
use ae_train::schedule::LrSchedule;
use ae_train::{
    DataConfig, DataSource, ExperimentConfig, RunDir, TrainOptions, TrainingConfig, load_model,
    train,
};
use anyhow::{Result, bail};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Tensor, TensorData};
use clap::{Args, Subcommand};

use crate::reduce::{input_matrix, mean, row_squared_errors};
use crate::shared::{LoadedRun, encode_all, flat_values, print_json};

/// Arguments of `ae demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Which demonstration.
    #[command(subcommand)]
    pub demo: DemoCommand,
}

/// The demonstrations.
#[derive(Debug, Subcommand)]
pub enum DemoCommand {
    /// PCA with one component against an autoencoder with a 1-D code on curved 1-D manifolds.
    Manifold(ManifoldArgs),
}

/// Arguments of `ae demo manifold`.
#[derive(Debug, Args)]
pub struct ManifoldArgs {
    /// Number of seeds (0, 1, …): each draws its own data and initialization.
    #[arg(long, default_value_t = 5)]
    pub seeds: u64,
    /// Output folder: one run folder per data set and seed, plus a PNG per data set.
    #[arg(long, default_value = "runs/demo-manifold")]
    pub out: PathBuf,
    /// Training epochs of each autoencoder.
    #[arg(long, default_value_t = 150)]
    pub epochs: usize,
    /// Points drawn per data set (train, validation and test together).
    #[arg(long, default_value_t = 2000)]
    pub samples: usize,
    /// Data sets, comma separated: parabola, helix.
    #[arg(long, value_delimiter = ',', default_value = "parabola,helix")]
    pub data: Vec<String>,
    /// Hidden widths of the autoencoder's encoder (the decoder mirrors them).
    #[arg(long, value_delimiter = ',', default_value = "64,64")]
    pub hidden: Vec<usize>,
    /// Learning rate (Adam, cosine decay to 1% of it).
    #[arg(long, default_value_t = 3e-3)]
    pub lr: f64,
    /// Batch size.
    #[arg(long, default_value_t = 32)]
    pub batch_size: usize,
}

/// Runs `ae demo`.
pub fn run_demo(args: DemoArgs, choice: BackendChoice) -> Result<()> {
    match args.demo {
        DemoCommand::Manifold(args) => run_on(choice, ManifoldTask { args })?,
    }
}

struct ManifoldTask {
    args: ManifoldArgs,
}

/// The experiment of one data set and seed: a 1-D tanh autoencoder with squared error.
fn manifold_config(args: &ManifoldArgs, source: DataSource, seed: u64) -> ExperimentConfig {
    let mut data = DataConfig::new(source);
    data.samples = args.samples;
    let architecture = ArchitectureConfig::Mlp {
        hidden: args.hidden.clone(),
        activation: Activation::Tanh,
    };
    ExperimentConfig {
        seed,
        data,
        model: ModelConfig::Autoencoder(
            AutoencoderConfig::new(1, architecture).with_loss(ReconstructionLoss::SquaredError),
        ),
        training: TrainingConfig {
            epochs: args.epochs,
            batch_size: args.batch_size,
            learning_rate: args.lr,
            lr_schedule: LrSchedule::Cosine {
                final_fraction: 0.01,
            },
            checkpoints_kept: 1,
            rbm_pretraining: None,
            ..TrainingConfig::default()
        },
    }
}

/// One data set and seed: errors of both methods and the curves to draw.
struct SeedResult {
    pca_error: f64,
    autoencoder_error: f64,
    pca_line: Vec<Vec<f64>>,
    autoencoder_curve: Vec<Vec<f64>>,
    test_points: Matrix,
}

/// Decodes `points` codes evenly spaced over `[low, high]`.
fn decode_sweep<B: Backend>(
    loaded: &LoadedRun<B>,
    low: f64,
    high: f64,
    points: usize,
    device: &B::Device,
) -> Result<Vec<Vec<f64>>> {
    let codes: Vec<f32> = (0..points)
        .map(|i| (low + (high - low) * i as f64 / (points - 1) as f64) as f32)
        .collect();
    let z = Tensor::<B, 2>::from_data(TensorData::new(codes, [points, 1]), device);
    let values = flat_values(loaded.model.decode(z))?;
    let dim = values.len() / points;
    Ok(values
        .chunks(dim)
        .map(|row| row.iter().map(|&v| f64::from(v)).collect())
        .collect())
}

fn run_seed<B: AutodiffBackend>(
    args: &ManifoldArgs,
    source: DataSource,
    name: &str,
    seed: u64,
    device: &B::Device,
) -> Result<SeedResult> {
    let config = manifold_config(args, source, seed);
    let run = RunDir::new(args.out.join(format!("{name}-seed{seed}")));
    let options = TrainOptions {
        plain_progress: true,
        progress_interval: Some(std::time::Duration::from_secs(3600)),
        ..TrainOptions::default()
    };
    train::<B>(&config, &run, device.clone(), &options)?;
    // Make sure what we score is what was saved.
    load_model::<B::InnerBackend>(&run, device)?;
    let loaded = LoadedRun::<B::InnerBackend>::load(run.path(), device)?;
    let test = loaded.split("test")?;
    let test_points = input_matrix(&test)?;
    let pca = Pca::fit(&input_matrix(&loaded.data.train)?, 1)?;
    let pca_error = mean(&row_squared_errors(
        &test_points,
        &pca.reconstruct_k(&test_points, 1)?,
    ));
    let batcher = loaded.clean_batcher(test);
    let codes = encode_all(&loaded.model, &batcher, 1000, device)?;
    let code_matrix = Matrix::from_f32(codes.len(), 1, &codes)?;
    let low = codes.iter().copied().fold(f32::INFINITY, f32::min) as f64;
    let high = codes.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
    let reconstruction = {
        let z = Tensor::<B::InnerBackend, 2>::from_data(
            TensorData::new(codes.clone(), [codes.len(), 1]),
            device,
        );
        let values = flat_values(loaded.model.decode(z))?;
        Matrix::from_f32(code_matrix.rows(), test_points.cols(), &values)?
    };
    let autoencoder_error = mean(&row_squared_errors(&test_points, &reconstruction));
    let autoencoder_curve = decode_sweep(&loaded, low, high, 400, device)?;
    // PCA's line over the range of the test points' scores.
    let scores = pca.transform_k(&test_points, 1)?;
    let (s_low, s_high) = (0..scores.rows())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), i| {
            (a.min(scores.get(i, 0)), b.max(scores.get(i, 0)))
        });
    let axis = pca.components.column(0);
    let pca_line = [s_low, s_high]
        .iter()
        .map(|&s| pca.mean.iter().zip(&axis).map(|(m, a)| m + s * a).collect())
        .collect();
    Ok(SeedResult {
        pca_error,
        autoencoder_error,
        pca_line,
        autoencoder_curve,
        test_points,
    })
}

impl BackendTask for ManifoldTask {
    type Output = Result<()>;
    fn run<B: AutodiffBackend>(self, device: B::Device) -> Result<()> {
        let args = self.args;
        if args.seeds == 0 {
            bail!("--seeds must be at least 1");
        }
        if args.epochs == 0 {
            bail!("--epochs must be at least 1");
        }
        if args.samples < 50 {
            bail!("--samples must be at least 50, got {}", args.samples);
        }
        let mut sets = Vec::new();
        for name in &args.data {
            let source = match name.as_str() {
                "parabola" => DataSource::Parabola,
                "helix" => DataSource::Helix,
                other => bail!("--data '{other}': expected parabola or helix"),
            };
            sets.push((name.clone(), source));
        }
        std::fs::create_dir_all(&args.out)
            .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", args.out.display()))?;
        let mut report = serde_json::Map::new();
        for (name, source) in sets {
            let mut per_seed = Vec::new();
            let mut pca_errors = Vec::new();
            let mut ae_errors = Vec::new();
            let mut first: Option<SeedResult> = None;
            for seed in 0..args.seeds {
                let result = run_seed::<B>(&args, source, &name, seed, &device)?;
                eprintln!(
                    "{name} seed {seed}: PCA {:.5}, autoencoder {:.5}",
                    result.pca_error, result.autoencoder_error
                );
                per_seed.push(serde_json::json!({
                    "seed": seed,
                    "pca_test_squared_error": result.pca_error,
                    "autoencoder_test_squared_error": result.autoencoder_error,
                    "ratio": result.autoencoder_error / result.pca_error,
                }));
                pca_errors.push(result.pca_error);
                ae_errors.push(result.autoencoder_error);
                if first.is_none() {
                    first = Some(result);
                }
            }
            let pca_median = median(&mut pca_errors.clone())?;
            let ae_median = median(&mut ae_errors.clone())?;
            let picture = args.out.join(format!("{name}.png"));
            if let Some(shown) = first {
                let points: Vec<(f64, f64)> = (0..shown.test_points.rows())
                    .map(|i| (shown.test_points.get(i, 0), shown.test_points.get(i, 1)))
                    .collect();
                let xy = |rows: &[Vec<f64>]| rows.iter().map(|r| (r[0], r[1])).collect();
                ae_plot::xy_scatter_with_lines(
                    &picture,
                    &format!("{name}: PCA (1 component) against a 1-D autoencoder, seed 0"),
                    "x",
                    "y",
                    &points,
                    &[
                        ("PCA".to_string(), xy(&shown.pca_line)),
                        ("autoencoder".to_string(), xy(&shown.autoencoder_curve)),
                    ],
                )?;
            }
            report.insert(
                name.clone(),
                serde_json::json!({
                    "seeds": per_seed,
                    "median_pca_test_squared_error": pca_median,
                    "median_autoencoder_test_squared_error": ae_median,
                    "median_ratio": ae_median / pca_median,
                    "picture": picture,
                }),
            );
        }
        print_json(&serde_json::json!({
            "out": args.out,
            "epochs": args.epochs,
            "samples": args.samples,
            "hidden": args.hidden,
            "results": report,
        }))
    }
}
