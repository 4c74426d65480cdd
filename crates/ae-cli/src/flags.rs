//! Every flag of the `ae` command, in one place. Enumerated values are parsed by clap from
//! the library's own names ([`Named`]), so `--help` lists them.

use std::path::PathBuf;

use ae_toolkit::anomaly::ScoreKind;
use ae_toolkit::backend::{BackendKind, WgpuDeviceChoice};
use ae_toolkit::data::DataSource;
use ae_toolkit::models::{Activation, NormKind, ReconstructionLoss, WeightInit};
use ae_toolkit::sample::SampleSource;
use ae_toolkit::{ItemSource, Named, Split};
use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
use clap::{Args, Parser, Subcommand, ValueEnum};

/// A clap parser for a library enum: its names are the possible values, each with its help.
fn named<T: Named>() -> impl TypedValueParser<Value = T> {
    PossibleValuesParser::new(T::ALL.iter().map(|v| {
        let value = PossibleValue::new(v.name());
        match v.help() {
            "" => value,
            help => value.help(help),
        }
    }))
    .map(|name| T::from_name(&name).expect("clap checked the value against T::ALL"))
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

fn parse_delimiter(s: &str) -> Result<char, String> {
    match s {
        "tab" | "\\t" => Ok('\t'),
        _ => {
            let mut chars = s.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) => Ok(c),
                _ => Err(format!("'{s}': expected one character (or tab)")),
            }
        }
    }
}

/// Train, evaluate and use autoencoders (plain, denoising and variational) on burn.
///
/// Every command prints one JSON document on stdout; progress and warnings go to stderr.
#[derive(Debug, Parser)]
#[command(name = "ae", about)]
pub struct Cli {
    /// Backend (each needs its cargo feature; flex and ndarray are on by default).
    #[arg(long, global = true, value_parser = named::<BackendKind>())]
    pub backend: Option<BackendKind>,
    /// wgpu adapter.
    #[arg(long, global = true, default_value = "default", value_parser = named::<WgpuDeviceChoice>())]
    pub wgpu_device: WgpuDeviceChoice,
    /// Progress as plain lines on stderr, even on a terminal (no progress bars).
    #[arg(long, global = true)]
    pub plain: bool,
    /// Write every chart also as SVG, beside its PNG (same name, .svg).
    #[arg(long, global = true)]
    pub svg: bool,
    /// Less on stderr: no progress and no notices, only errors.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// More on stderr: the libraries' log events (burn's) at info level, with -vv at debug.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Train a model from a config file and/or flags; writes runs/<name>/.
    Train(Box<TrainArgs>),
    /// Test metrics of a trained run (or of other data read like its own).
    Eval(EvalArgs),
    /// Draw a PNG grid: inputs, corrupted inputs (when denoising) and reconstructions.
    Reconstruct(ReconstructArgs),
    /// Draw a PNG grid of samples, from a VAE's prior or from a Gaussian mixture fitted to
    /// the training latents.
    Sample(SampleArgs),
    /// Write the latent code of every item to .npy and .csv, with labels.
    Encode(EncodeArgs),
    /// The PCA baseline: test error and explained variance for chosen numbers of components.
    Pca(PcaArgs),
    /// A linear autoencoder against PCA: error ratio and principal angles.
    ComparePca(ComparePcaArgs),
    /// k-means in the latent space and in PCA space: accuracy, NMI, ARI and a scatter PNG.
    Cluster(ClusterArgs),
    /// Deep embedded clustering: fine-tune a run's encoder with cluster centres (DEC/IDEC);
    /// writes a new run.
    Dec(DecArgs),
    /// A PNG grid sweeping each latent dimension.
    Traverse(TraverseArgs),
    /// A PNG grid interpolating between two inputs in latent space.
    Interpolate(InterpolateArgs),
    /// Move inputs along an attribute direction (mean latent of one label minus another).
    Attribute(AttributeArgs),
    /// Anomaly detection: fit a threshold, score items, evaluate AUROC and AUPRC.
    Anomaly(AnomalyArgs),
    /// Denoise with a trained denoising autoencoder: PSNR and SSIM against baselines.
    Denoise(DenoiseArgs),
    /// Per-item posterior variance and distance to the class centre against reconstruction
    /// error.
    Uncertainty(UncertaintyArgs),
    /// Demonstrations on synthetic data (`ae demo manifold`).
    Demo(DemoArgs),
    /// Serve an interactive latent-space explorer of a run as a local web page: map, sliders,
    /// interpolation, attributes, anomalies and samples (Ctrl-C stops it).
    Explore(ExploreArgs),
    /// Print a shell completion script (e.g. `ae completions bash > ~/.local/share/bash-completion/completions/ae`).
    Completions(CompletionsArgs),
}

/// `ae completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

// ---------------------------------------------------------------------------------------------
// Argument groups shared by several commands

/// The run folder.
#[derive(Debug, Args)]
pub struct RunArg {
    /// The run folder.
    pub run: PathBuf,
}

/// Items processed at once.
#[derive(Debug, Args)]
pub struct BatchArg {
    /// Items processed at once (and read at once from --data-path).
    #[arg(long, default_value_t = 500)]
    pub batch_size: usize,
}

/// Which items: a split, or other files read like the run's data.
#[derive(Debug, Args)]
pub struct SourceArgs {
    /// Which split of the run's data.
    #[arg(long, default_value = "test", value_parser = named::<Split>())]
    pub split: Split,
    /// Use every item of another image folder or CSV table read like the run's data (for
    /// MNIST sources: another datasets root, whose test split is used) instead of a split;
    /// needs only the run folder, not its training data.
    #[arg(long, conflicts_with = "split")]
    pub data_path: Option<PathBuf>,
    /// With --data-path: the CSV column holding labels (default: the run's label column, if
    /// the table has it).
    #[arg(long, requires = "data_path")]
    pub label_column: Option<String>,
}

impl SourceArgs {
    /// The items these flags name.
    pub fn source(&self) -> ItemSource {
        match &self.data_path {
            Some(path) => ItemSource::Path {
                path: path.clone(),
                label_column: self.label_column.clone(),
            },
            None => ItemSource::Split(self.split),
        }
    }
}

/// Where a picture goes and how large it is.
#[derive(Debug, Args)]
pub struct PictureArgs {
    /// Output PNG (default: inside the run folder).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Pixel zoom factor.
    #[arg(long, default_value_t = 3)]
    pub zoom: u32,
}

// ---------------------------------------------------------------------------------------------
// ae train

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
    /// Continue the run from its newest intact checkpoint (training.epochs may grow).
    #[arg(long, conflicts_with = "overwrite")]
    pub resume: bool,
    /// Replace the run already in the run folder (without this or --resume, an existing run
    /// is refused).
    #[arg(long)]
    pub overwrite: bool,
    /// Data source.
    #[arg(long, value_parser = named::<DataSource>())]
    pub data: Option<DataSource>,
    /// Datasets root (MNIST), image folder, CSV file or paired input folder.
    #[arg(long)]
    pub data_path: Option<PathBuf>,
    /// A separate test set (image folder or CSV table) for `ae eval` and `ae anomaly eval`.
    #[arg(long)]
    pub test_path: Option<PathBuf>,
    /// Target folder of a paired dataset (--data paired).
    #[arg(long)]
    pub target_path: Option<PathBuf>,
    /// The CSV column holding labels.
    #[arg(long)]
    pub label_column: Option<String>,
    /// The CSV field delimiter (one character, or "tab").
    #[arg(long, value_parser = parse_delimiter)]
    pub delimiter: Option<char>,
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
    /// Hidden activation.
    #[arg(long, value_parser = named::<Activation>())]
    pub activation: Option<Activation>,
    /// Normalization of every MLP hidden layer (default: batch for --data csv, else none).
    #[arg(long, value_parser = named::<NormKind>())]
    pub norm: Option<NormKind>,
    /// How the weights of the MLP hidden layers are drawn (default: he for --data csv, else
    /// default).
    #[arg(long, value_parser = named::<WeightInit>())]
    pub init: Option<WeightInit>,
    /// Dropout probability after every MLP hidden layer while training, in [0, 1) (default:
    /// the tabular default for --data csv, else 0).
    #[arg(long)]
    pub dropout: Option<f64>,
    /// Dropout probability on an autoencoder's code while training, a noisy bottleneck
    /// (default: the tabular default for --data csv, else 0).
    #[arg(long)]
    pub code_dropout: Option<f64>,
    /// VAE likelihood.
    #[arg(long, value_enum)]
    pub likelihood: Option<LikelihoodKind>,
    /// Fixed variance of the Gaussian likelihood.
    #[arg(long, default_value_t = 1.0)]
    pub variance: f64,
    /// Autoencoder loss.
    #[arg(long, value_parser = named::<ReconstructionLoss>())]
    pub loss: Option<ReconstructionLoss>,
    /// VAE training bound: elbo or iwae (importance weighted, with --samples draws).
    #[arg(long, value_enum)]
    pub objective: Option<ObjectiveKind>,
    /// VAE draws of z per input and step (k of the IWAE bound).
    #[arg(long)]
    pub samples: Option<usize>,
    /// Corruption of the input, repeatable: gaussian:SIGMA, salt-and-pepper:P, masking:P,
    /// block:SIZE (a SIZExSIZE square at a random position set to 0).
    #[arg(long, value_name = "KIND:VALUE")]
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
    /// Train data-parallel on these devices of the backend (e.g. `0,1` for two GPUs with
    /// `--backend wgpu --wgpu-device discrete`; `0,0` runs two workers on one CPU device); the
    /// batch size stays the items per optimizer step and is split over them.
    #[arg(long, value_delimiter = ',')]
    pub devices: Option<Vec<usize>>,
    /// Train as one rank of a job of this many processes, on this machine or others: each
    /// trains on 1/N of the data with batch-size/N items per step, and the gradients are
    /// averaged every step. Start every rank with the same config, its own `--node-rank` and
    /// the same `--orchestrator`.
    #[arg(long)]
    pub nodes: Option<usize>,
    /// This process's rank, 0..nodes; rank 0 listens at `--orchestrator` and alone writes the
    /// run folder (the other ranks leave `--run-dir` untouched).
    #[arg(long)]
    pub node_rank: Option<usize>,
    /// HOST:PORT where rank 0 listens for the other ranks (the same on every rank).
    #[arg(long)]
    pub orchestrator: Option<String>,
    /// Seconds to wait for another rank (to join, or to send a step's gradient) before stopping
    /// with an error naming it (default 300).
    #[arg(long)]
    pub node_timeout: Option<u64>,
    /// Learning rate.
    #[arg(long)]
    pub lr: Option<f64>,
    /// Decoupled weight decay (AdamW); a positive value switches the optimizer to AdamW.
    #[arg(long)]
    pub weight_decay: Option<f64>,
    /// Seed for initialization, shuffling, noise and sampling.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Train an ensemble of K models (seeds SEED, SEED+1, …; each its own split of the data)
    /// saved as one run: member 0 in the run folder, the others in RUN/members/<k>. Anomaly
    /// scores are then the mean of the members' standardized scores. Default: 5 for an
    /// autoencoder of --data csv built from flags, else 1 (one model).
    #[arg(long, value_name = "K")]
    pub ensemble: Option<usize>,
    /// Train every member of the ensemble on a bootstrap sample of its training items.
    #[arg(long)]
    pub bootstrap: bool,
    /// Don't write reconstructions.png after training.
    #[arg(long)]
    pub no_pictures: bool,
}

// ---------------------------------------------------------------------------------------------
// Using a trained run

/// `ae eval`.
#[derive(Debug, Args)]
pub struct EvalArgs {
    #[command(flatten)]
    pub run: RunArg,
    #[command(flatten)]
    pub source: SourceArgs,
    #[command(flatten)]
    pub batch: BatchArg,
    /// Also estimate a VAE's negative log-likelihood by importance sampling.
    #[arg(long)]
    pub nll: bool,
    /// Importance samples K per item for `--nll` (Burda et al. used 5000).
    #[arg(long, default_value_t = 5000)]
    pub importance_samples: usize,
    /// Codes decoded at once by `--nll` (bounds memory whatever K is).
    #[arg(long, default_value_t = 20_000)]
    pub rows_per_pass: usize,
    /// Evaluate only the first N items.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Feed the inputs uncorrupted: a denoising run's error on clean data (its corruptions
    /// are otherwise applied, as in training).
    #[arg(long)]
    pub clean: bool,
}

/// `ae reconstruct`.
#[derive(Debug, Args)]
pub struct ReconstructArgs {
    #[command(flatten)]
    pub run: RunArg,
    #[command(flatten)]
    pub source: SourceArgs,
    /// Number of images.
    #[arg(long, default_value_t = 16)]
    pub count: usize,
    #[command(flatten)]
    pub picture: PictureArgs,
    /// Seed for the corruption of the inputs.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

/// `ae sample`.
#[derive(Debug, Args)]
pub struct SampleArgs {
    #[command(flatten)]
    pub run: RunArg,
    /// Where the codes come from.
    #[arg(long, default_value = "prior", value_parser = named::<SampleSource>())]
    pub from: SampleSource,
    /// Mixture components for `--from gmm`.
    #[arg(long, default_value_t = 10)]
    pub components: usize,
    /// EM iterations (at most) for `--from gmm`.
    #[arg(long, default_value_t = 200)]
    pub max_iter: usize,
    #[command(flatten)]
    pub batch: BatchArg,
    /// Number of images.
    #[arg(long, default_value_t = 16)]
    pub count: usize,
    #[command(flatten)]
    pub picture: PictureArgs,
    /// Seed for the samples.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

/// `ae encode`.
#[derive(Debug, Args)]
pub struct EncodeArgs {
    #[command(flatten)]
    pub run: RunArg,
    #[command(flatten)]
    pub source: SourceArgs,
    /// Output folder (default: RUN/latents-<split>, or RUN/latents-data with --data-path).
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub batch: BatchArg,
}

/// `ae explore`.
#[derive(Debug, Args)]
pub struct ExploreArgs {
    #[command(flatten)]
    pub run: RunArg,
    #[command(flatten)]
    pub source: SourceArgs,
    /// The port to listen on (0: any free port; the address is printed).
    #[arg(long, default_value_t = 8765)]
    pub port: u16,
    /// The address to listen on (127.0.0.1: this machine only).
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// At most this many items on the map (the first ones).
    #[arg(long, default_value_t = 2000)]
    pub limit: usize,
    /// Lay the map out with UMAP instead of PCA (codes of more than two values).
    #[arg(long)]
    pub umap: bool,
    /// Seed of UMAP and of the Gaussian mixture sampled from.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[command(flatten)]
    pub batch: BatchArg,
}

/// `ae pca`.
#[derive(Debug, Args)]
pub struct PcaArgs {
    /// Use the data config of this run folder.
    #[arg(long, conflicts_with_all = ["data", "data_path", "limit"])]
    pub run: Option<PathBuf>,
    /// Data source (without --run).
    #[arg(long, value_parser = named::<DataSource>())]
    pub data: Option<DataSource>,
    /// Datasets root (MNIST), CSV file or image folder.
    #[arg(long)]
    pub data_path: Option<PathBuf>,
    /// Fit on the first N training items only.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Numbers of components to report, comma separated.
    #[arg(long, value_delimiter = ',', default_value = "10,30")]
    pub components: Vec<usize>,
    /// Seed of the train/validation split (sources without a test split).
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
}

/// `ae compare-pca`.
#[derive(Debug, Args)]
pub struct ComparePcaArgs {
    /// The run folder of a linear autoencoder.
    pub run: PathBuf,
    #[command(flatten)]
    pub batch: BatchArg,
}

/// `ae cluster`.
#[derive(Debug, Args)]
pub struct ClusterArgs {
    #[command(flatten)]
    pub run: RunArg,
    /// Which split to cluster.
    #[arg(long, default_value = "test", value_parser = named::<Split>())]
    pub split: Split,
    /// Number of clusters (default: the number of classes, else 10).
    #[arg(long)]
    pub k: Option<usize>,
    /// k-means restarts (the lowest inertia wins).
    #[arg(long, default_value_t = 10)]
    pub restarts: usize,
    /// Seed of the k-means initialization.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[command(flatten)]
    pub batch: BatchArg,
    /// Output PNG (default: RUN/cluster-<split>.png).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Also run k-means on a UMAP embedding of the code and of the PCA points (the N2D
    /// recipe), and draw the code's 2-D UMAP beside the cluster picture (umap-<split>.png).
    #[arg(long)]
    pub umap: bool,
    /// Dimensions of the UMAP embedding that is clustered (default: the number of clusters).
    #[arg(long, requires = "umap")]
    pub umap_dims: Option<usize>,
    /// Neighbours per item in UMAP's graph.
    #[arg(long, default_value_t = 20, requires = "umap")]
    pub umap_neighbors: usize,
    /// UMAP's min_dist, in [0, 1): 0 packs each cluster tightest.
    #[arg(long, default_value_t = 0.0, requires = "umap")]
    pub umap_min_dist: f64,
    /// UMAP's optimization epochs (default: 500 up to 10,000 items, else 200).
    #[arg(long, requires = "umap")]
    pub umap_epochs: Option<usize>,
}

/// `ae dec`.
#[derive(Debug, Args)]
pub struct DecArgs {
    /// The trained run to start from (an autoencoder or VAE; a VAE's posterior mean is its code).
    pub run: PathBuf,
    /// The new run folder (default: RUN-dec beside RUN).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Number of clusters (default: the number of classes, else 10).
    #[arg(long)]
    pub k: Option<usize>,
    /// Split whose clustering is reported; the refinement itself trains on the train split.
    #[arg(long, default_value = "test", value_parser = named::<Split>())]
    pub split: Split,
    /// k-means restarts for the initial centres (the lowest inertia wins).
    #[arg(long, default_value_t = 20)]
    pub restarts: usize,
    /// Adam's learning rate.
    #[arg(long, default_value_t = 1e-3)]
    pub learning_rate: f64,
    /// Items per optimizer step.
    #[arg(long, default_value_t = 256)]
    pub batch_size: usize,
    /// Steps between recomputations of the target distribution.
    #[arg(long, default_value_t = 140)]
    pub update_interval: usize,
    /// Stop when fewer than this fraction of training items change cluster between updates.
    #[arg(long, default_value_t = 0.001)]
    pub tolerance: f64,
    /// Stop after this many steps in any case.
    #[arg(long, default_value_t = 20_000)]
    pub max_iterations: usize,
    /// Weight of the mean per-value reconstruction loss: 0 is DEC; a positive weight is IDEC,
    /// which keeps the decoder and so the code's local structure (10 with a squared-error
    /// model matches IDEC's γ = 0.1, and clustered MNIST better than DEC in docs/results.md).
    #[arg(long, default_value_t = 0.0)]
    pub reconstruction_weight: f64,
    /// Seed of the k-means initialization and of the batch order.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

/// `ae traverse`.
#[derive(Debug, Args)]
pub struct TraverseArgs {
    #[command(flatten)]
    pub run: RunArg,
    /// Latent dimensions to sweep, comma separated (default: all of them).
    #[arg(long, value_delimiter = ',')]
    pub dims: Option<Vec<usize>>,
    /// Values per dimension (columns of the grid).
    #[arg(long, default_value_t = 9)]
    pub steps: usize,
    /// The sweep goes from -RANGE to +RANGE around the base code, in units of the prior's
    /// standard deviation (VAE) or of the dimension's standard deviation over the test codes
    /// (autoencoder).
    #[arg(long, default_value_t = 3.0)]
    pub range: f64,
    /// Sweep around the code of this test item (default: the zero vector for a VAE, the mean
    /// test code for an autoencoder).
    #[arg(long)]
    pub item: Option<usize>,
    #[command(flatten)]
    pub picture: PictureArgs,
    #[command(flatten)]
    pub batch: BatchArg,
}

/// `ae interpolate`.
#[derive(Debug, Args)]
pub struct InterpolateArgs {
    #[command(flatten)]
    pub run: RunArg,
    /// Index of the first test item.
    #[arg(long)]
    pub from: usize,
    /// Index of the second test item.
    #[arg(long)]
    pub to: usize,
    /// Codes along the path, both ends included (columns of the grid).
    #[arg(long, default_value_t = 10)]
    pub steps: usize,
    #[command(flatten)]
    pub picture: PictureArgs,
}

/// `ae attribute`.
#[derive(Debug, Args)]
pub struct AttributeArgs {
    #[command(flatten)]
    pub run: RunArg,
    /// The label moved away from: a class id or a class name.
    #[arg(long)]
    pub from_label: String,
    /// The label moved towards: a class id or a class name.
    #[arg(long)]
    pub to_label: String,
    /// Multiples of the direction added to each input's code, comma separated.
    #[arg(
        long,
        value_delimiter = ',',
        allow_hyphen_values = true,
        default_value = "-1,0,1,2"
    )]
    pub strengths: Vec<f64>,
    /// Test items to move, comma separated (default: the first --count items of --from-label).
    #[arg(long, value_delimiter = ',')]
    pub items: Option<Vec<usize>>,
    /// Number of test items of --from-label to move when --items is not given.
    #[arg(long, default_value_t = 4)]
    pub count: usize,
    /// Use only the first N training items for the label means (default: all).
    #[arg(long)]
    pub limit: Option<usize>,
    #[command(flatten)]
    pub picture: PictureArgs,
    #[command(flatten)]
    pub batch: BatchArg,
}

/// `ae anomaly`.
#[derive(Debug, Args)]
pub struct AnomalyArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: AnomalyAction,
}

/// The steps of anomaly detection.
#[derive(Debug, Subcommand)]
pub enum AnomalyAction {
    /// Set a threshold from the scores of normal items (the validation split) and save it as
    /// RUN/anomaly.json.
    Fit(AnomalyFitArgs),
    /// Score items and flag those above the fitted threshold; writes a CSV.
    Score(AnomalyScoreArgs),
    /// AUROC and AUPRC on labelled items (the test split: the anomalies are the items of
    /// classes the run did not train on); draws the ROC curve (RUN/roc.png).
    Eval(AnomalyEvalArgs),
}

/// `ae anomaly fit`.
#[derive(Debug, Args)]
pub struct AnomalyFitArgs {
    #[command(flatten)]
    pub run: RunArg,
    /// Fraction of the normal items to flag (default 0.05).
    #[arg(long, conflicts_with = "percentile")]
    pub contamination: Option<f64>,
    /// Threshold at this percentile (0-100) of the normal items' scores.
    #[arg(long)]
    pub percentile: Option<f64>,
    /// Score (default: standardized-error for an autoencoder of a table, error for any other
    /// autoencoder, elbo for a VAE).
    #[arg(long, value_parser = named::<ScoreKind>())]
    pub score: Option<ScoreKind>,
    /// Fit on every item of this image folder or CSV table of normal items instead of the
    /// validation split.
    #[arg(long)]
    pub data_path: Option<PathBuf>,
    #[command(flatten)]
    pub batch: BatchArg,
}

/// `ae anomaly score`.
#[derive(Debug, Args)]
pub struct AnomalyScoreArgs {
    /// The run folder (items are flagged with the threshold of its anomaly.json, from
    /// `ae anomaly fit`, if there is one; else the scores alone are written).
    pub run: PathBuf,
    #[command(flatten)]
    pub source: SourceArgs,
    /// Score (default: the one anomaly.json was fitted with, else standardized-error for an
    /// autoencoder of a table, error for any other autoencoder and elbo for a VAE; another
    /// score than anomaly.json's is written without flags).
    #[arg(long, value_parser = named::<ScoreKind>())]
    pub score: Option<ScoreKind>,
    /// Output CSV (default: anomaly-scores.csv inside the run folder); the scores also go to
    /// a .npy of the same name.
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub batch: BatchArg,
}

/// `ae anomaly eval`.
#[derive(Debug, Args)]
pub struct AnomalyEvalArgs {
    #[command(flatten)]
    pub run: RunArg,
    #[command(flatten)]
    pub source: SourceArgs,
    /// Score (default: the one anomaly.json was fitted with, else standardized-error for an
    /// autoencoder of a table, error for any other autoencoder and elbo for a VAE).
    #[arg(long, value_parser = named::<ScoreKind>())]
    pub score: Option<ScoreKind>,
    /// Classes that count as normal, by name or id, comma separated (default: the run's
    /// data.classes).
    #[arg(long, value_delimiter = ',')]
    pub normal_classes: Option<Vec<String>>,
    /// Classes that count as anomalies, by name or id, comma separated (every other class is
    /// normal): e.g. `--label-column y --anomaly-classes 1` for a table labelled 0/1.
    #[arg(long, value_delimiter = ',', conflicts_with = "normal_classes")]
    pub anomaly_classes: Option<Vec<String>>,
    /// Output PNG of the ROC curve (default: roc.png inside the run folder).
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub batch: BatchArg,
    /// Also score with a baseline that needs no model: the mean distance from each item to its
    /// K nearest training items of the run, in input space (PyOD's KNN detector). Its AUROC
    /// and AUPRC are reported beside the model's, and its curve drawn on the same plot.
    #[arg(long, value_name = "K")]
    pub knn_baseline: Option<usize>,
    /// Also score with the classical detectors, fitted on the run's training items as the
    /// model sees them: PCA reconstruction error (as many components as the code, fewer than
    /// the columns), Isolation Forest (100 trees of 256 items) and 5-NN (or --knn-baseline K).
    #[arg(long)]
    pub baselines: bool,
}

/// `ae denoise`.
#[derive(Debug, Args)]
pub struct DenoiseArgs {
    /// The run folder (a trained denoising autoencoder).
    pub run: PathBuf,
    /// Corruption to remove, repeatable: gaussian:SIGMA, salt-and-pepper:P, masking:P,
    /// block:SIZE (default: the corruptions the run was trained with, each on its own).
    #[arg(long, value_name = "KIND:VALUE")]
    pub noise: Vec<String>,
    /// Which split.
    #[arg(long, default_value = "test", value_parser = named::<Split>())]
    pub split: Split,
    /// Use only the first N items of the split.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Items drawn in each picture (noisy, denoised and clean rows).
    #[arg(long, default_value_t = 8)]
    pub count: usize,
    /// Training items the PCA baseline is fitted on (the first N of the training split).
    #[arg(long, default_value_t = 10_000)]
    pub pca_items: usize,
    /// Numbers of principal components to try for the PCA baseline, comma separated; the
    /// best of them (highest mean PSNR) is reported as "pca" (default: the run's latent size).
    #[arg(long, value_delimiter = ',')]
    pub pca_components: Vec<usize>,
    /// Seed of the corruption noise.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Folder for the pictures (default: the run folder).
    #[arg(long)]
    pub out_dir: Option<PathBuf>,
    /// Pixel zoom factor.
    #[arg(long, default_value_t = 3)]
    pub zoom: u32,
    #[command(flatten)]
    pub batch: BatchArg,
}

/// `ae uncertainty`.
#[derive(Debug, Args)]
pub struct UncertaintyArgs {
    /// The run folder of a VAE.
    pub run: PathBuf,
    /// Which split to score.
    #[arg(long, default_value = "test", value_parser = named::<Split>())]
    pub split: Split,
    #[command(flatten)]
    pub batch: BatchArg,
}

/// `ae demo`.
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

/// The manifold data sets of `ae demo manifold --data`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ManifoldData {
    /// A noisy parabola in 2-D.
    Parabola,
    /// A noisy helix in 3-D.
    Helix,
}

/// `ae demo manifold`.
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
    /// Data sets, comma separated.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "parabola,helix"
    )]
    pub data: Vec<ManifoldData>,
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

/// `ae --version`: the version and the backends compiled in.
pub fn version() -> String {
    let backends: Vec<&str> = BackendKind::compiled()
        .into_iter()
        .map(|b| b.feature())
        .collect();
    format!(
        "{} (backends: {})",
        env!("CARGO_PKG_VERSION"),
        if backends.is_empty() {
            "none".to_string()
        } else {
            backends.join(", ")
        }
    )
}

/// The command line as clap sees it, with `--version` naming the backends.
pub fn command() -> clap::Command {
    use clap::CommandFactory;
    let version = version();
    Cli::command()
        .version(version.clone())
        .long_version(version)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_flags_are_consistent_and_help_lists_enumerated_values() {
        Cli::command().debug_assert();
        let mut command = Cli::command();
        let eval = command
            .find_subcommand_mut("eval")
            .expect("eval")
            .render_long_help()
            .to_string();
        assert!(eval.contains("train") && eval.contains("valid"), "{eval}");
        let mut command = Cli::command();
        let train = command
            .find_subcommand_mut("train")
            .expect("train")
            .render_long_help()
            .to_string();
        for value in [
            "fashion-mnist",
            "image-folder",
            "leaky-relu",
            "squared-error",
        ] {
            assert!(train.contains(value), "{value} in\n{train}");
        }
    }

    #[test]
    fn the_version_names_the_compiled_backends() {
        let text = command().render_version().to_string();
        assert!(text.contains(env!("CARGO_PKG_VERSION")), "{text}");
        for backend in BackendKind::compiled() {
            assert!(text.contains(backend.feature()), "{text}");
        }
    }

    #[test]
    fn sizes_and_delimiters_parse_or_say_why_not() {
        assert_eq!(parse_size("64x32"), Ok((64, 32)));
        assert!(parse_size("64").unwrap_err().contains("HEIGHTxWIDTH"));
        assert!(parse_size("0x3").unwrap_err().contains("positive"));
        assert_eq!(parse_delimiter(";"), Ok(';'));
        assert_eq!(parse_delimiter("tab"), Ok('\t'));
        assert!(parse_delimiter(";;").is_err());
    }
}
