//! Demonstrations on synthetic data: PCA against a 1-D autoencoder on a noisy parabola and a
//! helix ([`manifold`]).

use std::collections::BTreeMap;
use std::path::PathBuf;

use ae_analysis::{Matrix, Pca, median};
use ae_data::{DataConfig, DataSource};
use ae_models::{
    Activation, ArchitectureConfig, AutoencoderConfig, ModelConfig, ReconstructionLoss,
};
use ae_train::schedule::LrSchedule;
use ae_train::{ExperimentConfig, Reporter, RunDir, TrainOptions, TrainingConfig};
use burn::tensor::backend::AutodiffBackend;
use serde::Serialize;

use crate::error::{Result, ToolkitError};
use crate::run::{Split, TrainedRun};
use crate::tensors::{input_matrix, mean, row_squared_errors};

/// How to run the manifold demonstration.
#[derive(Debug, Clone)]
pub struct ManifoldSettings {
    /// Number of seeds (0, 1, …): each draws its own data and initialization.
    pub seeds: u64,
    /// Output folder: one run folder per data set and seed, plus a PNG per data set.
    pub out: PathBuf,
    /// Training epochs of each autoencoder.
    pub epochs: usize,
    /// Points drawn per data set (train, validation and test together).
    pub samples: usize,
    /// The data sets: [`DataSource::Parabola`] and/or [`DataSource::Helix`].
    pub data: Vec<DataSource>,
    /// Hidden widths of the encoder (the decoder mirrors them).
    pub hidden: Vec<usize>,
    /// Learning rate (Adam, cosine decay to 1% of it).
    pub lr: f64,
    /// Batch size.
    pub batch_size: usize,
}

impl Default for ManifoldSettings {
    fn default() -> Self {
        Self {
            seeds: 5,
            out: PathBuf::from("runs/demo-manifold"),
            epochs: 150,
            samples: 2000,
            data: vec![DataSource::Parabola, DataSource::Helix],
            hidden: vec![64, 64],
            lr: 3e-3,
            batch_size: 32,
        }
    }
}

/// The experiment of one data set and seed: a 1-D tanh autoencoder with squared error.
fn manifold_config(settings: &ManifoldSettings, source: DataSource, seed: u64) -> ExperimentConfig {
    let mut data = DataConfig::new(source);
    data.samples = settings.samples;
    let architecture = ArchitectureConfig::mlp(settings.hidden.clone(), Activation::Tanh);
    ExperimentConfig {
        distributed: None,
        seed,
        data,
        model: ModelConfig::Autoencoder(
            AutoencoderConfig::new(1, architecture).with_loss(ReconstructionLoss::SquaredError),
        ),
        training: TrainingConfig {
            epochs: settings.epochs,
            batch_size: settings.batch_size,
            learning_rate: settings.lr,
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

fn run_seed<B: AutodiffBackend>(
    settings: &ManifoldSettings,
    source: DataSource,
    seed: u64,
    device: &B::Device,
) -> Result<SeedResult> {
    let config = manifold_config(settings, source, seed);
    let dir = settings.out.join(format!("{source}-seed{seed}"));
    let options = TrainOptions {
        progress_interval: Some(std::time::Duration::from_secs(3600)),
        // The demonstration's own folders: a second demonstration replaces them.
        overwrite: true,
        ..TrainOptions::default()
    };
    ae_train::train::<B>(&config, &RunDir::new(&dir), device.clone(), &options)?;
    // Score what was saved.
    let run = TrainedRun::<B::InnerBackend>::open(&dir, device)?;
    let test = run.split(Split::Test)?;
    let test_points = input_matrix(&test)?;
    let pca = Pca::fit(&input_matrix(&run.data()?.train)?, 1)?;
    let pca_error = mean(&row_squared_errors(
        &test_points,
        &pca.reconstruct_k(&test_points, 1)?,
    ));
    let codes = run.encode_rows(&test, 1000)?;
    let low = codes.iter().copied().fold(f32::INFINITY, f32::min) as f64;
    let high = codes.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
    let reconstruction =
        Matrix::from_f32(codes.len(), test_points.cols(), &run.decode_flat(&codes)?)?;
    let autoencoder_error = mean(&row_squared_errors(&test_points, &reconstruction));
    // The decoder's curve over the range of the test codes.
    let points = 400;
    let sweep: Vec<f32> = (0..points)
        .map(|i| (low + (high - low) * i as f64 / (points - 1) as f64) as f32)
        .collect();
    let autoencoder_curve = run
        .decode(&sweep)?
        .into_iter()
        .map(|row| row.into_iter().map(f64::from).collect())
        .collect();
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

/// One seed of one data set.
#[derive(Debug, Clone, Serialize)]
pub struct SeedReport {
    /// The seed.
    pub seed: u64,
    /// PCA's mean squared error per test point.
    pub pca_test_squared_error: f64,
    /// The autoencoder's.
    pub autoencoder_test_squared_error: f64,
    /// The autoencoder's over PCA's.
    pub ratio: f64,
}

/// One data set's results.
#[derive(Debug, Clone, Serialize)]
pub struct ManifoldResult {
    /// One entry per seed.
    pub seeds: Vec<SeedReport>,
    /// Median of PCA's errors.
    pub median_pca_test_squared_error: f64,
    /// Median of the autoencoder's.
    pub median_autoencoder_test_squared_error: f64,
    /// The medians' ratio.
    pub median_ratio: f64,
    /// Seed 0's points with PCA's line and the autoencoder's curve.
    #[serde(serialize_with = "crate::paths::lossy")]
    pub picture: PathBuf,
}

/// What [`manifold`] reports.
#[derive(Debug, Clone, Serialize)]
pub struct ManifoldReport {
    /// The output folder.
    #[serde(serialize_with = "crate::paths::lossy")]
    pub out: PathBuf,
    /// Epochs of each autoencoder.
    pub epochs: usize,
    /// Points per data set.
    pub samples: usize,
    /// Hidden widths.
    pub hidden: Vec<usize>,
    /// Results by data set.
    pub results: BTreeMap<String, ManifoldResult>,
}

/// PCA with one component against an autoencoder with a 1-D code on curved 1-D manifolds,
/// over several seeds; draws the first seed of each data set.
pub fn manifold<B: AutodiffBackend>(
    settings: &ManifoldSettings,
    device: &B::Device,
    reporter: &Reporter,
) -> Result<ManifoldReport> {
    if settings.seeds == 0 {
        return Err(ToolkitError::setting("seeds", "must be at least 1"));
    }
    if settings.epochs == 0 {
        return Err(ToolkitError::setting("epochs", "must be at least 1"));
    }
    if settings.samples < 50 {
        return Err(ToolkitError::setting(
            "samples",
            format!("must be at least 50, got {}", settings.samples),
        ));
    }
    if let Some(other) = settings
        .data
        .iter()
        .find(|s| !matches!(s, DataSource::Parabola | DataSource::Helix))
    {
        return Err(ToolkitError::setting(
            "data",
            format!("'{other}': expected parabola or helix"),
        ));
    }
    std::fs::create_dir_all(&settings.out).map_err(|e| ae_io::WriteError::new(&settings.out, e))?;
    let mut results = BTreeMap::new();
    for &source in &settings.data {
        let mut per_seed = Vec::new();
        let mut pca_errors = Vec::new();
        let mut ae_errors = Vec::new();
        let mut first: Option<SeedResult> = None;
        for seed in 0..settings.seeds {
            let result = run_seed::<B>(settings, source, seed, device)?;
            reporter.notice(format!(
                "{source} seed {seed}: PCA {:.5}, autoencoder {:.5}",
                result.pca_error, result.autoencoder_error
            ));
            per_seed.push(SeedReport {
                seed,
                pca_test_squared_error: result.pca_error,
                autoencoder_test_squared_error: result.autoencoder_error,
                ratio: result.autoencoder_error / result.pca_error,
            });
            pca_errors.push(result.pca_error);
            ae_errors.push(result.autoencoder_error);
            if first.is_none() {
                first = Some(result);
            }
        }
        let pca_median = median(&mut pca_errors.clone())?;
        let ae_median = median(&mut ae_errors.clone())?;
        let picture = settings.out.join(format!("{source}.png"));
        if let Some(shown) = first {
            let points: Vec<(f64, f64)> = (0..shown.test_points.rows())
                .map(|i| (shown.test_points.get(i, 0), shown.test_points.get(i, 1)))
                .collect();
            let xy = |rows: &[Vec<f64>]| rows.iter().map(|r| (r[0], r[1])).collect();
            ae_plot::xy_scatter_with_lines(
                &picture,
                &format!("{source}: PCA (1 component) against a 1-D autoencoder, seed 0"),
                "x",
                "y",
                &points,
                &[
                    ("PCA".to_string(), xy(&shown.pca_line)),
                    ("autoencoder".to_string(), xy(&shown.autoencoder_curve)),
                ],
            )?;
        }
        results.insert(
            source.to_string(),
            ManifoldResult {
                seeds: per_seed,
                median_pca_test_squared_error: pca_median,
                median_autoencoder_test_squared_error: ae_median,
                median_ratio: ae_median / pca_median,
                picture,
            },
        );
    }
    Ok(ManifoldReport {
        out: settings.out.clone(),
        epochs: settings.epochs,
        samples: settings.samples,
        hidden: settings.hidden.clone(),
        results,
    })
}
