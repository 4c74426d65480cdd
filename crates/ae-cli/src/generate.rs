//! Generation and latent uncertainty: `ae sample` (prior or a Gaussian mixture fitted to the
//! training latents) and `ae uncertainty`.

use std::io::Write;
use std::path::PathBuf;

use ae_analysis::{GaussianMixture, Matrix, pearson, spearman};
use ae_backend::{BackendChoice, BackendTask, run_on};
use ae_train::RunDir;
use ae_train::load_model;
use ae_train::pictures::write_grid;
use anyhow::{Result, anyhow, bail};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Distribution, Tensor, TensorData};
use clap::{Args, ValueEnum};

use crate::reduce::{class_labels, encode_dataset};
use crate::shared::{LoadedRun, print_json, rows_of, score_items};

/// Where `ae sample` draws its codes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SampleSource {
    /// The VAE's standard normal prior.
    Prior,
    /// A full-covariance Gaussian mixture fitted to the training split's codes (posterior
    /// means): sharper samples, and it works for a plain autoencoder too.
    Gmm,
}

/// Arguments of `ae sample`.
#[derive(Debug, Args)]
pub struct SampleArgs {
    /// The run folder.
    pub run: PathBuf,
    /// Draw codes from the prior (VAE only) or from a Gaussian mixture fitted to the training codes.
    #[arg(long, value_enum, default_value = "prior")]
    pub from: SampleSource,
    /// Mixture components for `--from gmm`.
    #[arg(long, default_value_t = 10)]
    pub components: usize,
    /// EM iterations (at most) for `--from gmm`.
    #[arg(long, default_value_t = 200)]
    pub max_iter: usize,
    /// Items encoded at once for `--from gmm`.
    #[arg(long, default_value_t = 500)]
    pub batch_size: usize,
    /// Number of images.
    #[arg(long, default_value_t = 16)]
    pub count: usize,
    /// Output PNG (default: samples.png, or samples-gmm.png, inside the run folder).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Seed for the samples.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Scale factor of the images.
    #[arg(long, default_value_t = 3)]
    pub zoom: u32,
}

/// Runs `ae sample`.
pub fn run_sample(args: SampleArgs, choice: BackendChoice) -> Result<()> {
    run_on(choice, SampleTask { args })?
}

struct SampleTask {
    args: SampleArgs,
}

/// Codes drawn from a mixture fitted to the training codes, and the mixture's report.
fn gmm_codes<B: Backend>(
    args: &SampleArgs,
    device: &B::Device,
) -> Result<(Vec<f32>, serde_json::Value)> {
    let loaded = LoadedRun::<B>::load(&args.run, device)?;
    if args.components == 0 {
        bail!("--components must be at least 1");
    }
    let train = loaded.split("train")?;
    let codes = encode_dataset(&loaded, train, args.batch_size, device)?;
    if codes.rows() < args.components {
        bail!(
            "--components {} is more than the {} training items",
            args.components,
            codes.rows()
        );
    }
    let mixture = GaussianMixture::fit(&codes, args.components, args.seed, args.max_iter)?;
    let log_likelihood = mixture.log_likelihood(&codes)?;
    let samples = mixture.sample(args.count, args.seed)?;
    let report = serde_json::json!({
        "components": args.components,
        "train_items": codes.rows(),
        "train_mean_log_likelihood": log_likelihood,
        "iterations": mixture.iterations,
        "converged": mixture.converged,
    });
    Ok((samples.to_f32(), report))
}

impl BackendTask for SampleTask {
    type Output = Result<()>;
    fn run<B: AutodiffBackend>(self, device: B::Device) -> Result<()> {
        let args = self.args;
        let run = RunDir::new(&args.run);
        let (config, model) = load_model::<B::InnerBackend>(&run, &device)?;
        if args.count == 0 {
            bail!("--count must be at least 1");
        }
        let latent = config.model.latent();
        let (z, gmm) = match args.from {
            SampleSource::Prior => {
                if model.as_vae().is_none() {
                    bail!(
                        "{}: sampling from the prior needs a VAE, but this run trained a {} (use --from gmm)",
                        run.path().display(),
                        config.model.name()
                    );
                }
                B::InnerBackend::seed(&device, args.seed);
                let z = Tensor::<B::InnerBackend, 2>::random(
                    [args.count, latent],
                    Distribution::Normal(0.0, 1.0),
                    &device,
                );
                (z, None)
            }
            SampleSource::Gmm => {
                let (codes, report) = gmm_codes::<B::InnerBackend>(&args, &device)?;
                let z = Tensor::<B::InnerBackend, 2>::from_data(
                    TensorData::new(codes, [args.count, latent]),
                    &device,
                );
                (z, Some(report))
            }
        };
        let images = rows_of(model.decode(z))?;
        let per_row = (args.count as f64).sqrt().ceil() as usize;
        let rows: Vec<Vec<Vec<f32>>> = images.chunks(per_row).map(|c| c.to_vec()).collect();
        let default_name = match args.from {
            SampleSource::Prior => "samples.png",
            SampleSource::Gmm => "samples-gmm.png",
        };
        let out = args
            .out
            .clone()
            .unwrap_or_else(|| run.path().join(default_name));
        write_grid(&out, &rows, config.model.input_shape(), args.zoom)?;
        let mut report = serde_json::json!({
            "picture": out,
            "from": match args.from {
                SampleSource::Prior => "prior",
                SampleSource::Gmm => "gmm",
            },
            "count": args.count,
        });
        if let Some(gmm) = gmm {
            report["gmm"] = gmm;
        }
        print_json(&report)
    }
}

/// Arguments of `ae uncertainty`.
#[derive(Debug, Args)]
pub struct UncertaintyArgs {
    /// The run folder of a VAE.
    pub run: PathBuf,
    /// Which split to score: test (default), valid or train.
    #[arg(long, default_value = "test")]
    pub split: String,
    /// Items scored at once.
    #[arg(long, default_value_t = 500)]
    pub batch_size: usize,
}

/// Runs `ae uncertainty`.
pub fn run_uncertainty(args: UncertaintyArgs, choice: BackendChoice) -> Result<()> {
    run_on(choice, UncertaintyTask { args })?
}

struct UncertaintyTask {
    args: UncertaintyArgs,
}

/// The mean row of `codes` for each class id (all rows under id 0 when there are no labels).
fn class_centres(codes: &Matrix, labels: Option<&[usize]>) -> Vec<Option<Vec<f64>>> {
    let classes = labels.map_or(1, |l| l.iter().max().map_or(1, |m| m + 1));
    let mut sums = vec![vec![0.0; codes.cols()]; classes];
    let mut counts = vec![0usize; classes];
    for i in 0..codes.rows() {
        let class = labels.map_or(0, |l| l[i]);
        counts[class] += 1;
        for (s, v) in sums[class].iter_mut().zip(codes.row(i)) {
            *s += v;
        }
    }
    sums.into_iter()
        .zip(counts)
        .map(|(sum, count)| (count > 0).then(|| sum.iter().map(|s| s / count as f64).collect()))
        .collect()
}

/// Pearson and Spearman correlation of `x` with `y` (null when undefined).
fn correlations(x: &[f64], y: &[f64]) -> serde_json::Value {
    serde_json::json!({
        "pearson": pearson(x, y).ok(),
        "spearman": spearman(x, y).ok(),
    })
}

impl BackendTask for UncertaintyTask {
    type Output = Result<()>;
    fn run<B: AutodiffBackend>(self, device: B::Device) -> Result<()> {
        let args = self.args;
        let loaded = LoadedRun::<B::InnerBackend>::load(&args.run, &device)?;
        if loaded.model.as_vae().is_none() {
            bail!(
                "{}: uncertainty needs a VAE's posterior variance, but this run trained a {}",
                args.run.display(),
                loaded.config.model.name()
            );
        }
        let train = loaded.split("train")?;
        let data = loaded.split(&args.split)?;
        let train_labels = class_labels(&train);
        let labels = class_labels(&data);
        let train_codes = encode_dataset(&loaded, train, args.batch_size, &device)?;
        let centres = class_centres(&train_codes, train_labels.as_deref());
        let overall = class_centres(&train_codes, None).remove(0);
        let codes = encode_dataset(&loaded, data.clone(), args.batch_size, &device)?;
        let batcher = loaded.clean_batcher(data);
        let scores = score_items(&loaded.model, &batcher, args.batch_size, &device)?;
        let distances: Vec<f64> = (0..codes.rows())
            .map(|i| {
                let centre = labels
                    .as_ref()
                    .and_then(|l| centres.get(l[i]).cloned().flatten())
                    .or_else(|| overall.clone())
                    .unwrap_or_else(|| vec![0.0; codes.cols()]);
                codes
                    .row(i)
                    .iter()
                    .zip(&centre)
                    .map(|(a, b)| (a - b) * (a - b))
                    .sum::<f64>()
                    .sqrt()
            })
            .collect();
        let variance = &scores.posterior_variance;
        let error = &scores.squared_error;
        let csv = args.run.join(format!("uncertainty-{}.csv", args.split));
        write_uncertainty_csv(&csv, labels.as_deref(), variance, &distances, error)?;
        let picture = args.run.join(format!("uncertainty-{}.png", args.split));
        let points: Vec<(f64, f64)> = variance
            .iter()
            .copied()
            .zip(error.iter().copied())
            .collect();
        ae_plot::scatter_xy(
            &picture,
            &format!(
                "Posterior variance against reconstruction error ({} split)",
                args.split
            ),
            "posterior variance (mean over latent dimensions)",
            "squared error",
            &points,
        )?;
        print_json(&serde_json::json!({
            "run": args.run,
            "split": args.split,
            "items": error.len(),
            "centres": if labels.is_some() { "class" } else { "overall" },
            "mean_posterior_variance": crate::reduce::mean(variance),
            "mean_distance_to_centre": crate::reduce::mean(&distances),
            "mean_squared_error": crate::reduce::mean(error),
            "variance_vs_error": correlations(variance, error),
            "distance_vs_error": correlations(&distances, error),
            "csv": csv,
            "picture": picture,
        }))
    }
}

fn write_uncertainty_csv(
    path: &std::path::Path,
    labels: Option<&[usize]>,
    variance: &[f64],
    distance: &[f64],
    error: &[f64],
) -> Result<()> {
    let io = |e: std::io::Error| anyhow!("cannot write {}: {e}", path.display());
    let file = std::fs::File::create(path).map_err(io)?;
    let mut out = std::io::BufWriter::new(file);
    writeln!(
        out,
        "item,label,posterior_variance,distance_to_centre,squared_error"
    )
    .map_err(io)?;
    for i in 0..error.len() {
        let label = labels.map(|l| l[i].to_string()).unwrap_or_default();
        writeln!(
            out,
            "{i},{label},{},{},{}",
            variance[i], distance[i], error[i]
        )
        .map_err(io)?;
    }
    out.flush().map_err(io)
}
