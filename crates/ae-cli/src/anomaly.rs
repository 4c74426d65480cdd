//! Anomaly detection by reconstruction error or negative ELBO: `ae anomaly fit | score | eval`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use ae_analysis::{AtomicFile, NearestNeighbors};
use ae_analysis::{
    auroc, average_precision, median, percentile, roc_curve, threshold_for_contamination,
    total_variation,
};
use ae_backend::{BackendChoice, BackendTask, run_on};
use ae_data::Dataset;
use ae_train::run_dir::write_atomic;
use anyhow::{Context, Result, anyhow, bail};
use burn::tensor::backend::{AutodiffBackend, Backend};
use clap::{Args, Subcommand, ValueEnum};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::reduce::input_matrix;
use crate::shared::{LoadedRun, print_json, score_items, stream_items, write_line};

/// Arguments of `ae anomaly`.
#[derive(Debug, Args)]
pub struct AnomalyArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: AnomalyAction,
}

/// The steps of anomaly detection.
#[derive(Debug, Subcommand)]
pub enum AnomalyAction {
    /// Set a threshold from the validation split's scores and save it as RUN/anomaly.json.
    Fit(FitArgs),
    /// Score items and flag those above the fitted threshold; writes a CSV.
    Score(ScoreArgs),
    /// AUROC and AUPRC on the test split, the anomalies being the items of classes the run did
    /// not train on; draws the ROC curve (RUN/roc.png).
    Eval(EvalArgs),
}

/// What an item's anomaly score is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ScoreKind {
    /// Squared error of the reconstruction from the code (a VAE's posterior mean), summed over
    /// values.
    Error,
    /// A VAE's negative evidence lower bound (one seeded draw of z).
    Elbo,
    /// The squared error divided by the image's total variation (the summed absolute
    /// differences between neighbouring pixels). An autoencoder's error grows with how much
    /// edge an image has; dividing that out scores detailed and plain images alike, a
    /// correction for input complexity in the spirit of Serrà et al. (2020). Images only.
    ErrorPerTv,
}

/// Added to the total variation before dividing, so that a blank image gets a finite score.
const TOTAL_VARIATION_FLOOR: f64 = 1.0 / 255.0;

impl ScoreKind {
    fn name(self) -> &'static str {
        match self {
            ScoreKind::Error => "error",
            ScoreKind::Elbo => "elbo",
            ScoreKind::ErrorPerTv => "error-per-tv",
        }
    }
}

/// Arguments of `ae anomaly fit`.
#[derive(Debug, Args)]
pub struct FitArgs {
    /// The run folder.
    pub run: PathBuf,
    /// Fraction of validation items to flag (default 0.05).
    #[arg(long, conflicts_with = "percentile")]
    pub contamination: Option<f64>,
    /// Threshold at this percentile (0-100) of the validation scores.
    #[arg(long)]
    pub percentile: Option<f64>,
    /// Score: error (default for an autoencoder), elbo (default for a VAE) or error-per-tv
    /// (the error divided by the image's total variation).
    #[arg(long, value_enum)]
    pub score: Option<ScoreKind>,
    /// Items scored at once.
    #[arg(long, default_value_t = 500)]
    pub batch_size: usize,
}

/// Arguments of `ae anomaly score`.
#[derive(Debug, Args)]
pub struct ScoreArgs {
    /// The run folder (with anomaly.json from `ae anomaly fit`).
    pub run: PathBuf,
    /// Which split of the run's data: train, valid or test.
    #[arg(long, default_value = "test")]
    pub split: String,
    /// Score every item of another image folder or CSV table of the same shape instead (for
    /// MNIST sources: another datasets root, whose test split is scored).
    #[arg(long)]
    pub data_path: Option<PathBuf>,
    /// Output CSV (default: anomaly-scores.csv inside the run folder).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Items scored at once.
    #[arg(long, default_value_t = 500)]
    pub batch_size: usize,
}

/// Arguments of `ae anomaly eval`.
#[derive(Debug, Args)]
pub struct EvalArgs {
    /// The run folder.
    pub run: PathBuf,
    /// Which split: test (default) or valid.
    #[arg(long, default_value = "test")]
    pub split: String,
    /// Score: error, elbo or error-per-tv (default: the one anomaly.json was fitted with, else
    /// error for an autoencoder and elbo for a VAE).
    #[arg(long, value_enum)]
    pub score: Option<ScoreKind>,
    /// Labels that count as normal, comma separated (default: the run's data.classes).
    #[arg(long, value_delimiter = ',')]
    pub normal_classes: Option<Vec<u32>>,
    /// Output PNG of the ROC curve (default: roc.png inside the run folder).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Items scored at once.
    #[arg(long, default_value_t = 500)]
    pub batch_size: usize,
    /// Also score with a baseline that needs no model: the mean distance from each item to its
    /// K nearest training items of the run, in input space (PyOD's KNN detector). Its AUROC
    /// and AUPRC are reported beside the model's, and its curve drawn on the same plot.
    #[arg(long, value_name = "K")]
    pub knn_baseline: Option<usize>,
}

/// Runs `ae anomaly`.
pub fn run_anomaly(args: AnomalyArgs, choice: BackendChoice) -> Result<()> {
    run_on(choice, AnomalyTask { args })?
}

struct AnomalyTask {
    args: AnomalyArgs,
}

impl BackendTask for AnomalyTask {
    type Output = Result<()>;
    fn run<B: AutodiffBackend>(self, device: B::Device) -> Result<()> {
        match self.args.action {
            AnomalyAction::Fit(args) => fit::<B::InnerBackend>(args, &device),
            AnomalyAction::Score(args) => score::<B::InnerBackend>(args, &device),
            AnomalyAction::Eval(args) => eval::<B::InnerBackend>(args, &device),
        }
    }
}

/// Summary statistics of the validation scores a threshold was fitted on.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScoreSummary {
    /// Number of items.
    pub items: usize,
    /// The labels present among them.
    pub labels: Vec<u32>,
    /// Items with a score above the threshold.
    pub flagged: usize,
    /// `flagged / items`.
    pub flagged_fraction: f64,
    /// Mean score.
    pub mean: f64,
    /// Standard deviation of the scores.
    pub std: f64,
    /// Median score.
    pub median: f64,
    /// Smallest score.
    pub min: f64,
    /// Largest score.
    pub max: f64,
}

/// The content of RUN/anomaly.json: how items are scored and where the threshold lies.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AnomalyThreshold {
    /// The score.
    pub score: ScoreKind,
    /// Items with a score above this are anomalies.
    pub threshold: f64,
    /// The contamination fraction the threshold was set for, if that was the rule.
    pub contamination: Option<f64>,
    /// The validation percentile the threshold is, if that was the rule.
    pub percentile: Option<f64>,
    /// The labels the run trained on (its data.classes), if restricted.
    pub normal_classes: Option<Vec<u32>>,
    /// The validation scores the threshold was fitted on.
    pub validation: ScoreSummary,
}

/// The path of a run's anomaly threshold file.
fn threshold_file(run: &Path) -> PathBuf {
    run.join("anomaly.json")
}

/// Reads RUN/anomaly.json, if it exists.
fn read_threshold(run: &Path) -> Result<Option<AnomalyThreshold>> {
    let path = threshold_file(run);
    if !path.exists() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let threshold = serde_json::from_str(&text)
        .with_context(|| format!("{}: not an anomaly threshold file", path.display()))?;
    Ok(Some(threshold))
}

/// The score a model gets by default: a VAE's negative ELBO, an autoencoder's squared error.
fn default_kind<B: Backend>(loaded: &LoadedRun<B>) -> ScoreKind {
    if loaded.model.as_vae().is_some() {
        ScoreKind::Elbo
    } else {
        ScoreKind::Error
    }
}

/// Fails when `kind` does not apply to the run's model.
fn check_kind<B: Backend>(loaded: &LoadedRun<B>, kind: ScoreKind) -> Result<()> {
    if kind == ScoreKind::Elbo && loaded.model.as_vae().is_none() {
        bail!(
            "--score elbo needs a VAE, but {} trained a {}: use --score error",
            loaded.run.path().display(),
            loaded.config.model.name()
        );
    }
    let shape = loaded.data.train.target_item_shape();
    if kind == ScoreKind::ErrorPerTv && (shape.height < 2 || shape.width < 2) {
        bail!(
            "--score error-per-tv needs images, but the items of {} are {}x{}x{} (a table has \
             no neighbouring pixels): use --score error",
            loaded.run.path().display(),
            shape.channels,
            shape.height,
            shape.width
        );
    }
    Ok(())
}

/// The anomaly score of every item of `data` (seeded, so the same run scores the same way).
fn compute_scores<B: Backend>(
    loaded: &LoadedRun<B>,
    data: Dataset,
    kind: ScoreKind,
    batch_size: usize,
    device: &B::Device,
) -> Result<Vec<f64>> {
    check_kind(loaded, kind)?;
    if data.is_empty() {
        bail!("there are no items to score");
    }
    B::seed(device, loaded.config.seed.wrapping_add(7));
    raw_scores(loaded, data, kind, batch_size, device)
}

/// The anomaly score of every item of `data`, with the backend's random state as it is.
fn raw_scores<B: Backend>(
    loaded: &LoadedRun<B>,
    data: Dataset,
    kind: ScoreKind,
    batch_size: usize,
    device: &B::Device,
) -> Result<Vec<f64>> {
    let batcher = loaded.clean_batcher(data);
    let scores = score_items(&loaded.model, &batcher, batch_size, device)?;
    let values = match kind {
        ScoreKind::Error => scores.squared_error,
        ScoreKind::Elbo => scores.loss,
        ScoreKind::ErrorPerTv => scores
            .squared_error
            .iter()
            .zip(total_variations(batcher.data())?)
            .map(|(error, tv)| error / (tv + TOTAL_VARIATION_FLOOR))
            .collect(),
    };
    if let Some(bad) = values.iter().find(|v| !v.is_finite()) {
        bail!("the model gave a non-finite {} score ({bad})", kind.name());
    }
    Ok(values)
}

/// The total variation of each item's target (its input, for an unpaired data set).
fn total_variations(data: &Dataset) -> Result<Vec<f64>> {
    let shape = data.target_item_shape();
    (0..data.len())
        .map(|i| {
            Ok(total_variation(
                &data.target(i),
                shape.channels,
                shape.height,
                shape.width,
            )?)
        })
        .collect()
}

/// Mean, standard deviation and extremes of `scores`, with how many exceed `threshold`.
fn summarize(scores: &[f64], labels: Option<&[u32]>, threshold: f64) -> Result<ScoreSummary> {
    let n = scores.len() as f64;
    let mean = scores.iter().sum::<f64>() / n;
    let std = (scores.iter().map(|s| (s - mean).powi(2)).sum::<f64>() / n).sqrt();
    let flagged = scores.iter().filter(|&&s| s > threshold).count();
    let labels: BTreeSet<u32> = labels.unwrap_or_default().iter().copied().collect();
    Ok(ScoreSummary {
        items: scores.len(),
        labels: labels.into_iter().collect(),
        flagged,
        flagged_fraction: flagged as f64 / n,
        mean,
        std,
        median: median(&mut scores.to_vec())?,
        min: scores.iter().copied().fold(f64::INFINITY, f64::min),
        max: scores.iter().copied().fold(f64::NEG_INFINITY, f64::max),
    })
}

fn fit<B: Backend>(args: FitArgs, device: &B::Device) -> Result<()> {
    if let Some(p) = args.percentile
        && !(0.0..=100.0).contains(&p)
    {
        bail!("--percentile must lie in [0, 100], got {p}");
    }
    if let Some(c) = args.contamination
        && !(0.0..1.0).contains(&c)
    {
        bail!("--contamination must lie in [0, 1), got {c}");
    }
    let loaded = LoadedRun::<B>::load(&args.run, device)?;
    let kind = args.score.unwrap_or_else(|| default_kind(&loaded));
    let valid = loaded.split("valid")?;
    let labels = valid.labels.clone();
    let scores = compute_scores(&loaded, valid, kind, args.batch_size, device)?;
    let (threshold, contamination, percentile_used) = match args.percentile {
        Some(p) => (percentile(&scores, p)?, None, Some(p)),
        None => {
            let c = args.contamination.unwrap_or(0.05);
            (threshold_for_contamination(&scores, c)?, Some(c), None)
        }
    };
    let file = AnomalyThreshold {
        score: kind,
        threshold,
        contamination,
        percentile: percentile_used,
        normal_classes: loaded.config.data.classes.clone(),
        validation: summarize(&scores, labels.as_deref(), threshold)?,
    };
    let path = threshold_file(loaded.run.path());
    write_atomic(&path, serde_json::to_string_pretty(&file)?.as_bytes())?;
    print_json(&json!({
        "run": args.run,
        "file": path,
        "split": "valid",
        "anomaly": file,
    }))
}

fn score<B: Backend>(args: ScoreArgs, device: &B::Device) -> Result<()> {
    let fitted = read_threshold(&args.run)?.ok_or_else(|| {
        anyhow!(
            "{} does not exist: run `ae anomaly fit {}` first to set the threshold",
            threshold_file(&args.run).display(),
            args.run.display()
        )
    })?;
    let loaded = LoadedRun::<B>::load(&args.run, device)?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| loaded.run.path().join("anomaly-scores.csv"));
    // Items from --data-path are read a chunk at a time and their rows written as they are
    // scored, so a folder or table larger than memory can be scored.
    let chunks: Box<dyn Iterator<Item = Result<Dataset>>> = match &args.data_path {
        None => Box::new(std::iter::once(loaded.split(&args.split))),
        Some(path) => {
            Box::new(stream_items(&loaded, path, args.batch_size)?.map(|c| c.map_err(Into::into)))
        }
    };
    check_kind(&loaded, fitted.score)?;
    B::seed(device, loaded.config.seed.wrapping_add(7));
    let mut csv = AtomicFile::create(&out)?;
    write_line(&mut csv, "index,label,class,score,flag")?;
    let mut scores = Vec::new();
    let mut labels: Vec<u32> = Vec::new();
    for chunk in chunks {
        let chunk = chunk?;
        let chunk_labels = chunk.labels.clone();
        let class_names = chunk.class_names.clone();
        let chunk_scores = raw_scores(&loaded, chunk, fitted.score, args.batch_size, device)?;
        for (i, s) in chunk_scores.iter().enumerate() {
            let label = chunk_labels.as_ref().map(|l| l[i]);
            let class = label
                .and_then(|l| class_names.get(l as usize))
                .map(|n| n.replace([',', '"', '\n'], " "))
                .unwrap_or_default();
            labels.extend(label);
            let label = label.map(|l| l.to_string()).unwrap_or_default();
            let flag = u8::from(*s > fitted.threshold);
            write_line(
                &mut csv,
                &format!("{},{label},{class},{s},{flag}", scores.len() + i),
            )?;
        }
        scores.extend(chunk_scores);
    }
    if scores.is_empty() {
        bail!("there are no items to score");
    }
    let out = csv.commit()?;
    let labels = (labels.len() == scores.len()).then_some(labels);
    let summary = summarize(&scores, labels.as_deref(), fitted.threshold)?;
    print_json(&json!({
        "run": args.run,
        "csv": out,
        "source": match &args.data_path {
            Some(path) => json!(path),
            None => json!(args.split),
        },
        "score": fitted.score,
        "threshold": fitted.threshold,
        "items": summary.items,
        "flagged": summary.flagged,
        "flagged_fraction": summary.flagged_fraction,
        "scores": summary,
    }))
}

fn eval<B: Backend>(args: EvalArgs, device: &B::Device) -> Result<()> {
    let loaded = LoadedRun::<B>::load(&args.run, device)?;
    let fitted = read_threshold(&args.run)?;
    let kind = args
        .score
        .or(fitted.as_ref().map(|f| f.score))
        .unwrap_or_else(|| default_kind(&loaded));
    check_kind(&loaded, kind)?;
    let normal = match (&args.normal_classes, &loaded.config.data.classes) {
        (Some(classes), _) | (None, Some(classes)) => classes.clone(),
        (None, None) => bail!(
            "{} was trained on every class, so no test item is an anomaly: train with \
             --normal-classes, or say here which labels are normal with --normal-classes",
            args.run.display()
        ),
    };
    let data = loaded.split(&args.split)?;
    let Some(labels) = data.labels.clone() else {
        bail!(
            "the {} split of {} has no labels to tell anomalies from normal items",
            args.split,
            args.run.display()
        );
    };
    let is_anomaly: Vec<bool> = labels.iter().map(|l| !normal.contains(l)).collect();
    let anomalies = is_anomaly.iter().filter(|&&a| a).count();
    if anomalies == 0 || anomalies == labels.len() {
        bail!(
            "the {} split holds {anomalies} anomalies among {} items (normal classes {normal:?}): \
             AUROC needs both kinds",
            args.split,
            labels.len()
        );
    }
    if args.knn_baseline == Some(0) {
        bail!("--knn-baseline must be at least 1");
    }
    let knn_scores = match args.knn_baseline {
        Some(k) => Some((k, knn_distances(&loaded, &data, k)?)),
        None => None,
    };
    let scores = compute_scores(&loaded, data, kind, args.batch_size, device)?;
    let area = auroc(&scores, &is_anomaly)?;
    let precision_area = average_precision(&scores, &is_anomaly)?;
    let curve = roc_curve(&scores, &is_anomaly)?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| loaded.run.path().join("roc.png"));
    let points = roc_points(&curve);
    let title = format!(
        "Anomalies: normal classes {normal:?}, score {}",
        kind.name()
    );
    let mut curves = vec![(format!("{} (AUROC {area:.3})", kind.name()), points)];
    let knn_baseline = match &knn_scores {
        Some((k, distances)) => {
            let knn_area = auroc(distances, &is_anomaly)?;
            curves.push((
                format!("{k}-NN (AUROC {knn_area:.3})"),
                roc_points(&roc_curve(distances, &is_anomaly)?),
            ));
            Some(json!({
                "k": k,
                "auroc": knn_area,
                "auprc": average_precision(distances, &is_anomaly)?,
            }))
        }
        None => None,
    };
    ae_plot::roc_plot(&out, &title, &curves)
        .with_context(|| format!("cannot draw {}", out.display()))?;
    let at_threshold = fitted.filter(|f| f.score == kind).map(|f| {
        let flagged: Vec<bool> = scores.iter().map(|&s| s > f.threshold).collect();
        let true_positives = flagged
            .iter()
            .zip(&is_anomaly)
            .filter(|&(&f, &a)| f && a)
            .count();
        let flagged_count = flagged.iter().filter(|&&f| f).count();
        let precision = true_positives as f64 / flagged_count.max(1) as f64;
        let recall = true_positives as f64 / anomalies as f64;
        let f1 = if precision + recall > 0.0 {
            2.0 * precision * recall / (precision + recall)
        } else {
            0.0
        };
        json!({
            "threshold": f.threshold,
            "flagged": flagged_count,
            "precision": precision,
            "recall": recall,
            "f1": f1,
        })
    });
    print_json(&json!({
        "run": args.run,
        "split": args.split,
        "score": kind,
        "normal_classes": normal,
        "items": scores.len(),
        "anomalies": anomalies,
        "anomaly_fraction": anomalies as f64 / scores.len() as f64,
        "auroc": area,
        "auprc": precision_area,
        "roc": out,
        "at_threshold": at_threshold,
        "knn_baseline": knn_baseline,
    }))
}

/// The (false positive rate, true positive rate) points of a ROC curve.
fn roc_points(curve: &[(f64, f64, f64)]) -> Vec<(f64, f64)> {
    curve.iter().map(|&(fpr, tpr, _)| (fpr, tpr)).collect()
}

/// The mean distance from each item of `data` to its `k` nearest training items of the run,
/// in the model's input space.
fn knn_distances<B: Backend>(loaded: &LoadedRun<B>, data: &Dataset, k: usize) -> Result<Vec<f64>> {
    let reference = input_matrix(&loaded.data.train)?;
    if reference.rows() < k {
        bail!(
            "--knn-baseline {k} needs at least {k} training items; {} has {}",
            loaded.run.path().display(),
            reference.rows()
        );
    }
    let neighbors = NearestNeighbors::query(&reference, &input_matrix(data)?, k)
        .context("the k-nearest-neighbour baseline")?;
    Ok((0..neighbors.len())
        .map(|i| neighbors.distances(i).iter().sum::<f64>() / k as f64)
        .collect())
}
