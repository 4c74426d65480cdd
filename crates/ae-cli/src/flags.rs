//! Command-line flags.

use std::path::PathBuf;

use ae_backend::{BackendKind, WgpuDeviceChoice};
use clap::{Args, Parser, Subcommand, ValueEnum};

/// Train, evaluate and use autoencoders (plain, denoising and variational) on burn.
#[derive(Debug, Parser)]
#[command(name = "ae", version, about)]
pub struct Cli {
    /// Backend: flex (default), ndarray or wgpu (each needs its cargo feature; flex and ndarray are on by default).
    #[arg(long, global = true, value_parser = parse_backend)]
    pub backend: Option<BackendKind>,
    /// wgpu adapter: default, discrete, integrated or cpu.
    #[arg(long, global = true, default_value = "default", value_parser = parse_device)]
    pub wgpu_device: WgpuDeviceChoice,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

fn parse_backend(s: &str) -> Result<BackendKind, String> {
    s.parse()
        .map_err(|e: ae_backend::BackendError| e.to_string())
}

fn parse_size(s: &str) -> Result<(usize, usize), String> {
    let (h, w) = s
        .split_once(['x', 'X'])
        .ok_or_else(|| format!("'{s}': expected HEIGHTxWIDTH, e.g. 64x64"))?;
    let dim = |v: &str| {
        v.trim()
            .parse::<usize>()
            .ok()
            .filter(|&n| n > 0)
            .ok_or_else(|| format!("'{s}': '{v}' is not a positive integer"))
    };
    Ok((dim(h)?, dim(w)?))
}

fn parse_device(s: &str) -> Result<WgpuDeviceChoice, String> {
    s.parse()
        .map_err(|e: ae_backend::BackendError| e.to_string())
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Train a model from a config file and/or flags; writes runs/<name>/.
    Train(Box<TrainArgs>),
    /// Print test metrics of a trained run as JSON.
    Eval(EvalArgs),
    /// Draw a PNG grid: inputs, corrupted inputs (when denoising) and reconstructions.
    Reconstruct(PictureArgs),
    /// Draw a PNG grid of a VAE's samples, from the prior or from a Gaussian mixture fitted
    /// to the training latents.
    Sample(crate::generate::SampleArgs),
    /// Write the latent code of every item to .npy and .csv, with labels.
    Encode(crate::reduce::EncodeArgs),
    /// The PCA baseline: test error and explained variance for chosen numbers of components.
    Pca(crate::reduce::PcaArgs),
    /// A linear autoencoder against PCA: error ratio and principal angles.
    ComparePca(crate::reduce::ComparePcaArgs),
    /// k-means in the latent space and in PCA space: accuracy, NMI, ARI and a scatter PNG.
    Cluster(crate::reduce::ClusterArgs),
    /// Deep embedded clustering: fine-tune a run's encoder with cluster centres (DEC/IDEC);
    /// writes a new run.
    Dec(crate::dec::DecArgs),
    /// A PNG grid sweeping each latent dimension.
    Traverse(crate::explain::TraverseArgs),
    /// A PNG grid interpolating between two inputs in latent space.
    Interpolate(crate::explain::InterpolateArgs),
    /// Move inputs along an attribute direction (mean latent of one label minus another).
    Attribute(crate::explain::AttributeArgs),
    /// Anomaly detection: fit a threshold, score items, evaluate AUROC and AUPRC.
    Anomaly(crate::anomaly::AnomalyArgs),
    /// Denoise with a trained denoising autoencoder: PSNR and SSIM against baselines.
    Denoise(crate::denoise::DenoiseArgs),
    /// Per-item posterior variance and distance to the class centre against reconstruction error.
    Uncertainty(crate::generate::UncertaintyArgs),
    /// Demonstrations on synthetic data (`ae demo manifold`).
    Demo(crate::demo::DemoArgs),
}

/// Model kinds for `--model`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ModelKind {
    /// Plain (or denoising) autoencoder.
    Ae,
    /// Variational autoencoder.
    Vae,
}

/// VAE training bounds for `--objective`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ObjectiveKind {
    /// The evidence lower bound.
    Elbo,
    /// The importance-weighted bound (Burda et al., 2016).
    Iwae,
}

/// Decoder likelihoods for `--likelihood`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LikelihoodKind {
    /// Bernoulli (binary cross-entropy).
    Bernoulli,
    /// Gaussian with fixed variance (`--variance`).
    Gaussian,
    /// Gaussian with a learned per-pixel variance.
    GaussianLearned,
}

/// `ae train`.
#[derive(Debug, Args)]
pub struct TrainArgs {
    /// Experiment config (TOML); flags below override its values.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Run name: the run folder is runs/<name> (default: the config's file stem, or "run").
    #[arg(long)]
    pub name: Option<String>,
    /// Run folder (overrides --name).
    #[arg(long)]
    pub run_dir: Option<PathBuf>,
    /// Continue the run from its newest checkpoint.
    #[arg(long)]
    pub resume: bool,
    /// Data source: mnist, fashion-mnist, colored-mnist, image-folder, csv, paired, parabola,
    /// helix.
    #[arg(long)]
    pub data: Option<String>,
    /// Datasets root (MNIST), image folder, CSV file or paired input folder.
    #[arg(long)]
    pub data_path: Option<PathBuf>,
    /// Target folder of a paired dataset (--data paired).
    #[arg(long)]
    pub target_path: Option<PathBuf>,
    /// Image size HEIGHTxWIDTH for image folders and paired data (e.g. 64x64).
    #[arg(long, value_parser = parse_size)]
    pub image_size: Option<(usize, usize)>,
    /// Image channels for image folders and paired data: 1 (grey) or 3 (RGB).
    #[arg(long)]
    pub channels: Option<usize>,
    /// Train on the first N items only.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Model kind (required without --config).
    #[arg(long, value_enum)]
    pub model: Option<ModelKind>,
    /// Latent size.
    #[arg(long)]
    pub latent: Option<usize>,
    /// MLP hidden widths, comma separated (e.g. 400 or 1000,500,250).
    #[arg(long, value_delimiter = ',')]
    pub hidden: Option<Vec<usize>>,
    /// Convolution channels, comma separated (e.g. 32,64): a convolutional model.
    #[arg(long, value_delimiter = ',')]
    pub conv: Option<Vec<usize>>,
    /// Hidden activation: relu, leaky-relu, tanh, sigmoid, gelu, elu, none.
    #[arg(long)]
    pub activation: Option<String>,
    /// VAE likelihood.
    #[arg(long, value_enum)]
    pub likelihood: Option<LikelihoodKind>,
    /// Fixed variance of the Gaussian likelihood.
    #[arg(long, default_value_t = 1.0)]
    pub variance: f64,
    /// Autoencoder loss: bce or squared-error.
    #[arg(long)]
    pub loss: Option<String>,
    /// VAE training bound: elbo or iwae (importance weighted, with --samples draws).
    #[arg(long, value_enum)]
    pub objective: Option<ObjectiveKind>,
    /// VAE draws of z per input and step (k of the IWAE bound).
    #[arg(long)]
    pub samples: Option<usize>,
    /// Corruption of the input, repeatable: gaussian:SIGMA, salt-and-pepper:P, masking:P,
    /// block:SIZE (a SIZExSIZE square at a random position set to 0).
    #[arg(long)]
    pub noise: Vec<String>,
    /// One-class protocol: train and validate only on these labels (comma separated, e.g. 3 or
    /// 3,5); the test split keeps every class, the others being anomalies for `ae anomaly eval`.
    #[arg(long, value_delimiter = ',')]
    pub normal_classes: Option<Vec<u32>>,
    /// Dynamically binarize the data.
    #[arg(long)]
    pub binarize: bool,
    /// Uniformly dequantize 8-bit images (for continuous likelihoods and bits per dimension).
    #[arg(long)]
    pub dequantize: bool,
    /// Epochs.
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Batch size.
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Learning rate.
    #[arg(long)]
    pub lr: Option<f64>,
    /// Seed for initialization, shuffling, noise and sampling.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Progress lines instead of the terminal dashboard.
    #[arg(long)]
    pub plain: bool,
    /// Don't write reconstructions.png after training.
    #[arg(long)]
    pub no_pictures: bool,
}

/// `ae eval`.
#[derive(Debug, Args)]
pub struct EvalArgs {
    /// The run folder.
    pub run: PathBuf,
    /// Which split: test (default) or valid.
    #[arg(long, default_value = "test")]
    pub split: String,
    /// Batch size.
    #[arg(long, default_value_t = 500)]
    pub batch_size: usize,
    /// Also estimate a VAE's negative log-likelihood by importance sampling.
    #[arg(long)]
    pub nll: bool,
    /// Importance samples K per item for `--nll` (Burda et al. used 5000).
    #[arg(long, default_value_t = 5000)]
    pub importance_samples: usize,
    /// Codes decoded at once by `--nll` (bounds memory whatever K is).
    #[arg(long, default_value_t = 20_000)]
    pub rows_per_pass: usize,
    /// Evaluate only the first N items of the split.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Feed the inputs uncorrupted: a denoising run's error on clean data (its corruptions
    /// are otherwise applied, as in training).
    #[arg(long)]
    pub clean: bool,
}

/// `ae reconstruct`.
#[derive(Debug, Args)]
pub struct PictureArgs {
    /// The run folder.
    pub run: PathBuf,
    /// Number of images.
    #[arg(long, default_value_t = 16)]
    pub count: usize,
    /// Output PNG (default: inside the run folder).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Seed for the choice of items, the noise and the samples.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Pixel zoom factor.
    #[arg(long, default_value_t = 3)]
    pub zoom: u32,
}
