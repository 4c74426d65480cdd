//! Anomaly detection by reconstruction: fit a threshold on normal data, score items, flag
//! those above the threshold, and evaluate AUROC and AUPRC against labels. [`AnomalyDetector`]
//! has the shape of PyOD's detectors (`fit`, `decision_function`, `predict`).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ae_analysis::{
    IsolationForest, IsolationForestSettings, Matrix, NearestNeighbors, Pca, auroc,
    average_precision, median, percentile, roc_curve, threshold_for_contamination, total_variation,
    write_npy_f64,
};
use ae_data::Dataset;
use ae_io::AtomicFile;
use ae_train::Reporter;
use burn::tensor::backend::Backend;
use serde::{Deserialize, Serialize};

use crate::ensemble::{
    EnsembleManifest, MemberStats, combine, member_stats, open_members, restandardize,
};
use crate::error::{Result, ToolkitError, at_least_one};
use crate::named::Named;
use crate::run::{ItemSource, Split, TrainedRun};
use crate::tensors::input_matrix;

/// What an item's anomaly score is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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
    /// The squared Mahalanobis distance of the item's code (a VAE's posterior mean) from the
    /// training codes' mean, under their covariance: how unusual the code is, whatever the
    /// reconstruction.
    Mahalanobis,
    /// The squared error of each value less that value's mean squared error on the training
    /// items, over the standard deviation of those errors, summed over values: every feature
    /// counts by how unusual its error is, so one noisy column does not drown the rest
    /// (tables).
    StandardizedError,
}

impl Named for ScoreKind {
    const ALL: &'static [Self] = &[
        ScoreKind::Error,
        ScoreKind::Elbo,
        ScoreKind::ErrorPerTv,
        ScoreKind::Mahalanobis,
        ScoreKind::StandardizedError,
    ];
    fn name(self) -> &'static str {
        match self {
            ScoreKind::Error => "error",
            ScoreKind::Elbo => "elbo",
            ScoreKind::ErrorPerTv => "error-per-tv",
            ScoreKind::Mahalanobis => "mahalanobis",
            ScoreKind::StandardizedError => "standardized-error",
        }
    }
    fn help(self) -> &'static str {
        match self {
            ScoreKind::Error => "squared error of the reconstruction from the code",
            ScoreKind::Elbo => "a VAE's negative ELBO",
            ScoreKind::ErrorPerTv => "the error divided by the image's total variation (images)",
            ScoreKind::Mahalanobis => {
                "the code's Mahalanobis distance from the training codes (squared)"
            }
            ScoreKind::StandardizedError => {
                "each value's squared error as a z-score of its training errors, summed"
            }
        }
    }
}

/// Added to the total variation before dividing, so that a blank image gets a finite score.
const TOTAL_VARIATION_FLOOR: f64 = 1.0 / 255.0;

/// Summary statistics of scores, with how many exceed a threshold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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

impl ScoreSummary {
    /// Mean, standard deviation and extremes of `scores`, with how many exceed `threshold`.
    pub fn of(scores: &[f64], labels: Option<&[u32]>, threshold: f64) -> Result<Self> {
        let n = scores.len() as f64;
        let mean = scores.iter().sum::<f64>() / n;
        let std = (scores.iter().map(|s| (s - mean).powi(2)).sum::<f64>() / n).sqrt();
        let flagged = scores.iter().filter(|&&s| s > threshold).count();
        let labels: BTreeSet<u32> = labels.unwrap_or_default().iter().copied().collect();
        Ok(Self {
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
}

/// How a threshold is set from the scores of normal items.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ThresholdRule {
    /// Flag this fraction of the normal items, in `[0, 1)` (PyOD's contamination).
    Contamination(f64),
    /// The threshold is this percentile, in `[0, 100]`, of the normal items' scores.
    Percentile(f64),
}

impl Default for ThresholdRule {
    fn default() -> Self {
        ThresholdRule::Contamination(0.05)
    }
}

impl ThresholdRule {
    fn check(self) -> Result<()> {
        match self {
            ThresholdRule::Percentile(p) if !(0.0..=100.0).contains(&p) => Err(
                ToolkitError::setting("percentile", format!("must lie in [0, 100], got {p}")),
            ),
            ThresholdRule::Contamination(c) if !(c > 0.0 && c <= 0.5) => {
                Err(ToolkitError::setting(
                    "contamination",
                    format!(
                        "must lie in (0, 0.5], got {c}: the expected fraction of anomalies, \
                         which are the minority"
                    ),
                ))
            }
            _ => Ok(()),
        }
    }
}

/// The content of `RUN/anomaly.json`: how items are scored and where the threshold lies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnomalyThreshold {
    /// The score.
    pub score: ScoreKind,
    /// Items with a score above this are anomalies.
    pub threshold: f64,
    /// The contamination fraction the threshold was set for, if that was the rule.
    pub contamination: Option<f64>,
    /// The percentile of the normal scores the threshold is, if that was the rule.
    pub percentile: Option<f64>,
    /// The labels the run trained on (its data.classes), if restricted.
    pub normal_classes: Option<Vec<u32>>,
    /// The scores the threshold was fitted on (the validation split's, by default).
    pub validation: ScoreSummary,
    /// The training codes' Gaussian, for the Mahalanobis score (so that a moved run scores
    /// without its training data).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_gaussian: Option<CodeGaussian>,
    /// Each value's mean squared reconstruction error on the training items, for the
    /// standardized-error score.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_spread: Option<ErrorSpread>,
}

/// Each value's squared reconstruction error over a set of items, summarized by its mean and
/// standard deviation, so that an error can be put in units of that value's usual spread
/// (the standard deviation is floored at a millionth of the largest, so that a value
/// reconstructed perfectly does not divide by zero).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorSpread {
    /// Mean squared error of each value.
    pub mean_squared_error: Vec<f64>,
    /// Standard deviation of each value's squared error (absent from files written before
    /// the score was standardized: those scores divide by the mean alone).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub std_squared_error: Vec<f64>,
}

impl ErrorSpread {
    /// The spread of the errors of `reconstructions` against the targets of `data`.
    pub fn fit(data: &Dataset, reconstructions: &[Vec<f32>]) -> Result<Self> {
        let n = reconstructions.len();
        if n == 0 || n != data.len() {
            return Err(ToolkitError::Unsupported(format!(
                "the standardized error needs training reconstructions, got {n} for {} items",
                data.len()
            )));
        }
        let width = reconstructions[0].len();
        let mut sums = vec![0.0f64; width];
        let mut squares = vec![0.0f64; width];
        for (i, row) in reconstructions.iter().enumerate() {
            for (((sum, square), &r), &t) in sums
                .iter_mut()
                .zip(squares.iter_mut())
                .zip(row)
                .zip(data.target(i).iter())
            {
                let e = (f64::from(r) - f64::from(t)).powi(2);
                *sum += e;
                *square += e * e;
            }
        }
        let mean: Vec<f64> = sums.iter().map(|s| s / n as f64).collect();
        let std: Vec<f64> = squares
            .iter()
            .zip(&mean)
            .map(|(q, m)| (q / n as f64 - m * m).max(0.0).sqrt())
            .collect();
        let floor = |values: &[f64]| {
            let largest = values.iter().copied().fold(0.0, f64::max);
            (largest * 1e-6).max(f64::MIN_POSITIVE)
        };
        let (mean_floor, std_floor) = (floor(&mean), floor(&std));
        Ok(ErrorSpread {
            mean_squared_error: mean.iter().map(|m| m.max(mean_floor)).collect(),
            std_squared_error: std.iter().map(|s| s.max(std_floor)).collect(),
        })
    }

    /// The standardized error of one reconstruction against its target: each value's squared
    /// error less its training mean, over its training standard deviation, summed.
    pub fn score(&self, reconstruction: &[f32], target: &[f32]) -> f64 {
        let errors = reconstruction
            .iter()
            .zip(target)
            .map(|(&r, &t)| (f64::from(r) - f64::from(t)).powi(2));
        if self.std_squared_error.is_empty() {
            return errors
                .zip(&self.mean_squared_error)
                .map(|(e, m)| e / m)
                .sum();
        }
        errors
            .zip(&self.mean_squared_error)
            .zip(&self.std_squared_error)
            .map(|((e, m), s)| (e - m) / s)
            .sum()
    }
}

/// The mean and covariance of a set of codes, kept as the covariance's eigenvectors and
/// eigenvalues: `d²(z) = Σ_k ((z − μ)·v_k)² / λ_k`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CodeGaussian {
    /// The mean code.
    pub mean: Vec<f64>,
    /// The covariance's eigenvectors, one per row.
    pub axes: Vec<Vec<f64>>,
    /// The variance along each axis (floored at a millionth of the largest, so that a code
    /// dimension the data never uses does not divide by zero).
    pub variances: Vec<f64>,
}

impl CodeGaussian {
    /// The Gaussian (maximum likelihood: the covariance divides by n) of the rows of `codes`.
    pub fn fit(codes: &Matrix) -> Result<Self> {
        let (n, d) = codes.shape();
        if n < 2 || d == 0 {
            return Err(ToolkitError::Unsupported(format!(
                "the Mahalanobis score needs at least 2 training codes, got {n} of {d} values"
            )));
        }
        let mean = codes.column_means();
        let mut centered = codes.clone();
        for i in 0..n {
            for (z, m) in centered.row_mut(i).iter_mut().zip(&mean) {
                *z -= m;
            }
        }
        let mut covariance = centered.gram();
        let inverse_n = 1.0 / n as f64;
        covariance
            .data_mut()
            .iter_mut()
            .for_each(|c| *c *= inverse_n);
        let eigen = ae_analysis::symmetric_eigen(&covariance)?;
        let largest = eigen
            .values
            .first()
            .copied()
            .unwrap_or(0.0)
            .max(f64::MIN_POSITIVE);
        let floor = largest * 1e-6;
        Ok(CodeGaussian {
            mean,
            axes: (0..d)
                .map(|k| (0..d).map(|j| eigen.vectors.get(j, k)).collect())
                .collect(),
            variances: eigen.values.iter().map(|&v| v.max(floor)).collect(),
        })
    }

    /// The squared Mahalanobis distance of `code`.
    pub fn distance2(&self, code: &[f64]) -> f64 {
        self.axes
            .iter()
            .zip(&self.variances)
            .map(|(axis, variance)| {
                let projection: f64 = axis
                    .iter()
                    .zip(code.iter().zip(&self.mean))
                    .map(|(v, (z, m))| v * (z - m))
                    .sum();
                projection * projection / variance
            })
            .sum()
    }
}

impl AnomalyThreshold {
    /// Reads the threshold file of the run folder `run`, if there is one.
    pub fn read(run: &Path) -> Result<Option<Self>> {
        crate::json::read_optional(
            &ae_train::RunDir::new(run).anomaly_file(),
            "an anomaly threshold file",
        )
    }
}

/// The score a model gets by default: a VAE's negative ELBO; a table's autoencoder, the
/// standardized error (chosen by `cargo xtask bench-anomaly`, see `docs/results.md`); any
/// other autoencoder, the squared error.
pub fn default_score<B: Backend>(run: &TrainedRun<B>) -> ScoreKind {
    if run.is_vae() {
        ScoreKind::Elbo
    } else if scores_standardized(run.config()) {
        ScoreKind::StandardizedError
    } else {
        ScoreKind::Error
    }
}

/// Whether runs of `config` score by the standardized error by default: autoencoders of a
/// table.
pub fn scores_standardized(config: &ae_train::ExperimentConfig) -> bool {
    config.data.source == ae_data::DataSource::Csv
        && matches!(config.model, ae_models::ModelConfig::Autoencoder(_))
}

/// Fits the run's error spread on its training items and saves it in the run folder
/// (`error-spread.json`), so that the standardized error scores without the training data.
pub fn save_error_spread<B: Backend>(run: &TrainedRun<B>) -> Result<PathBuf> {
    let path = run.run_dir().error_spread_file();
    crate::json::write(&path, &fit_training_spread(run)?)?;
    Ok(path)
}

/// Fails when `kind` does not apply to the run's model or items.
pub fn check_score<B: Backend>(run: &TrainedRun<B>, kind: ScoreKind) -> Result<()> {
    if kind == ScoreKind::Elbo && !run.is_vae() {
        return Err(ToolkitError::Setting {
            name: "score",
            problem: format!(
                "elbo needs a VAE, but {} trained a {}",
                run.path().display(),
                run.model_name()
            ),
            suggestion: Some(("score", "error".into())),
        });
    }
    let shape = run.info().target_shape;
    if kind == ScoreKind::ErrorPerTv && (shape.height < 2 || shape.width < 2) {
        return Err(ToolkitError::Setting {
            name: "score",
            problem: format!(
                "error-per-tv needs images, but the items of {} are {shape} (a table has no \
                 neighbouring pixels)",
                run.path().display(),
            ),
            suggestion: Some(("score", "error".into())),
        });
    }
    Ok(())
}

/// A detector scoring items by a trained run's reconstruction, with an optional threshold.
///
/// ```no_run
/// use ae_toolkit::anomaly::{AnomalyDetector, ThresholdRule};
/// use ae_toolkit::{ItemSource, TrainedRun, backend::Flex};
///
/// # fn main() -> ae_toolkit::Result<()> {
/// let run = TrainedRun::<Flex>::open("runs/one", &Default::default())?;
/// let mut detector = AnomalyDetector::new(&run, None)?;
/// detector.fit(ThresholdRule::Contamination(0.05))?; // on the validation split
/// let items = run.read(&ItemSource::path("new.csv"))?;
/// let scores = detector.decision_function(&items)?;
/// let flags = detector.predict(&items)?;
/// # Ok(()) }
/// ```
pub struct AnomalyDetector<'r, B: Backend> {
    run: &'r TrainedRun<B>,
    score: ScoreKind,
    threshold: Option<AnomalyThreshold>,
    /// The training codes' Gaussian, for [`ScoreKind::Mahalanobis`].
    gaussian: Option<CodeGaussian>,
    /// The training errors' spread, for [`ScoreKind::StandardizedError`].
    spread: Option<ErrorSpread>,
    /// The other members, when the run is an ensemble (see [`crate::ensemble`]).
    ensemble: Option<Members<B>>,
    /// Items scored at once.
    pub batch_size: usize,
}

impl<'r, B: Backend> AnomalyDetector<'r, B> {
    /// A detector scoring with `score` (default: [`default_score`]), without a threshold. For
    /// an ensemble (a run folder with `ensemble.json`) the score is the mean of the members'
    /// standardized scores.
    pub fn new(run: &'r TrainedRun<B>, score: Option<ScoreKind>) -> Result<Self> {
        let score = score.unwrap_or_else(|| default_score(run));
        check_score(run, score)?;
        match EnsembleManifest::read(run.path())? {
            None => Self::single(run, score),
            Some(manifest) => {
                let members = open_members(run, &manifest)?;
                let stats = match manifest.stats(score) {
                    Some(stats) => stats.to_vec(),
                    None => std::iter::once(run)
                        .chain(members.iter())
                        .map(|r| member_stats(r, score))
                        .collect::<Result<Vec<_>>>()
                        .map_err(|e| needs_fit(run, score, e))?,
                };
                Ok(Self {
                    run,
                    score,
                    threshold: None,
                    gaussian: stats[0].code_gaussian.clone(),
                    spread: stats[0].error_spread.clone(),
                    ensemble: Some(Members {
                        manifest,
                        runs: members,
                        stats,
                    }),
                    batch_size: 500,
                })
            }
        }
    }

    /// A detector of `run` alone (an ensemble's member), its score's parts fitted on its
    /// training items.
    pub(crate) fn single(run: &'r TrainedRun<B>, score: ScoreKind) -> Result<Self> {
        check_score(run, score)?;
        let gaussian = match score {
            ScoreKind::Mahalanobis => Some(training_gaussian(run)?),
            _ => None,
        };
        let spread = match score {
            ScoreKind::StandardizedError => Some(training_spread(run)?),
            _ => None,
        };
        Ok(Self {
            run,
            score,
            threshold: None,
            gaussian,
            spread,
            ensemble: None,
            batch_size: 500,
        })
    }

    /// The Gaussian and error spread this detector's score uses, if it uses one.
    pub fn fitted_parts(&self) -> (Option<CodeGaussian>, Option<ErrorSpread>) {
        (self.gaussian.clone(), self.spread.clone())
    }

    /// Whether the run is an ensemble of several models.
    pub fn is_ensemble(&self) -> bool {
        self.ensemble.is_some()
    }

    /// Each member's raw score of every item of `data` (the run's own first; one list for a
    /// single model), seeded like [`decision_function`](Self::decision_function).
    pub fn member_scores(&self, data: &Dataset) -> Result<Vec<Vec<f64>>> {
        if data.is_empty() {
            return Err(ToolkitError::Unsupported(
                "there are no items to score".into(),
            ));
        }
        B::seed(self.run.device(), self.run.config().seed.wrapping_add(7));
        self.raw_member_scores(data)
    }

    /// The ensemble's score from every member's raw scores (from
    /// [`member_scores`](Self::member_scores)): the mean of the standardized scores; a single
    /// model's own scores.
    pub fn combine_members(&self, raw: &[Vec<f64>]) -> Vec<f64> {
        match &self.ensemble {
            Some(members) => combine(raw, &members.stats),
            None => raw.first().cloned().unwrap_or_default(),
        }
    }

    /// The seeds of the members, the run's own first (one for a single model).
    pub fn member_seeds(&self) -> Vec<u64> {
        match &self.ensemble {
            Some(members) => members.manifest.seeds.clone(),
            None => vec![self.run.config().seed],
        }
    }

    /// The detector `ae anomaly fit` saved in the run folder, if there is one.
    pub fn saved(run: &'r TrainedRun<B>) -> Result<Option<Self>> {
        let Some(threshold) = AnomalyThreshold::read(run.path())? else {
            return Ok(None);
        };
        check_score(run, threshold.score)?;
        let gaussian = match (threshold.score, &threshold.code_gaussian) {
            (ScoreKind::Mahalanobis, Some(gaussian)) => Some(gaussian.clone()),
            (ScoreKind::Mahalanobis, None) => Some(training_gaussian(run)?),
            _ => None,
        };
        let spread = match (threshold.score, &threshold.error_spread) {
            (ScoreKind::StandardizedError, Some(spread)) => Some(spread.clone()),
            (ScoreKind::StandardizedError, None) => Some(training_spread(run)?),
            _ => None,
        };
        if EnsembleManifest::read(run.path())?.is_some() {
            let mut detector = Self::new(run, Some(threshold.score))?;
            detector.threshold = Some(threshold);
            return Ok(Some(detector));
        }
        Ok(Some(Self {
            run,
            score: threshold.score,
            threshold: Some(threshold),
            gaussian,
            spread,
            ensemble: None,
            batch_size: 500,
        }))
    }

    /// The score.
    pub fn score_kind(&self) -> ScoreKind {
        self.score
    }

    /// The fitted threshold, if any.
    pub fn threshold(&self) -> Option<&AnomalyThreshold> {
        self.threshold.as_ref()
    }

    /// Sets the threshold from the scores of the run's validation split (normal items).
    pub fn fit(&mut self, rule: ThresholdRule) -> Result<&AnomalyThreshold> {
        let valid = self.run.split(Split::Valid)?;
        self.fit_on(&valid, rule)
    }

    /// Sets the threshold from the scores of `normal` items.
    pub fn fit_on(&mut self, normal: &Dataset, rule: ThresholdRule) -> Result<&AnomalyThreshold> {
        rule.check()?;
        let scores = self.decision_function(normal)?;
        let (threshold, contamination, percentile_used) = match rule {
            ThresholdRule::Percentile(p) => (percentile(&scores, p)?, None, Some(p)),
            ThresholdRule::Contamination(c) => {
                (threshold_for_contamination(&scores, c)?, Some(c), None)
            }
        };
        let threshold = AnomalyThreshold {
            score: self.score,
            threshold,
            contamination,
            percentile: percentile_used,
            normal_classes: self.run.config().data.classes.clone(),
            validation: ScoreSummary::of(&scores, normal.labels.as_deref(), threshold)?,
            code_gaussian: self.gaussian.clone(),
            error_spread: self.spread.clone(),
        };
        Ok(self.threshold.insert(threshold))
    }

    /// Writes the threshold to `RUN/anomaly.json`; returns the path.
    pub fn save(&self) -> Result<PathBuf> {
        let threshold = self.threshold.as_ref().ok_or_else(|| {
            ToolkitError::Unsupported("the detector has no threshold to save: fit it".into())
        })?;
        let path = self.run.run_dir().anomaly_file();
        crate::json::write(&path, threshold)?;
        if let Some(members) = &self.ensemble {
            // The members' statistics travel with the run, so that a moved ensemble scores.
            let mut manifest = members.manifest.clone();
            manifest
                .scores
                .insert(self.score.name().to_string(), members.stats.clone());
            manifest.write(self.run.path())?;
        }
        Ok(path)
    }

    /// The anomaly score of every item of `data` (higher is more anomalous), seeded so that
    /// the same run scores the same items the same way.
    pub fn decision_function(&self, data: &Dataset) -> Result<Vec<f64>> {
        Ok(self.combine_members(&self.member_scores(data)?))
    }

    /// Whether each item of `data` scores above the threshold.
    pub fn predict(&self, data: &Dataset) -> Result<Vec<bool>> {
        let threshold = self.threshold.as_ref().ok_or_else(|| {
            ToolkitError::Unsupported(
                "the detector has no threshold: fit it, or open the one `ae anomaly fit` saved"
                    .into(),
            )
        })?;
        Ok(self
            .decision_function(data)?
            .into_iter()
            .map(|s| s > threshold.threshold)
            .collect())
    }

    /// The anomaly scores of `data`, with the backend's random state as it is (for items
    /// scored a chunk at a time after one seeding).
    fn raw_scores(&self, data: &Dataset) -> Result<Vec<f64>> {
        Ok(self.combine_members(&self.raw_member_scores(data)?))
    }

    /// Every member's raw scores of `data` (the run's own first).
    fn raw_member_scores(&self, data: &Dataset) -> Result<Vec<Vec<f64>>> {
        let mut all = vec![self.own_scores(data)?];
        if let Some(members) = &self.ensemble {
            for (member, stats) in members.runs.iter().zip(&members.stats[1..]) {
                let items =
                    restandardize(data, self.run.standardization(), member.standardization())?;
                let mut detector = AnomalyDetector::with_parts(member, self.score, stats);
                detector.batch_size = self.batch_size;
                all.push(detector.own_scores(&items)?);
            }
        }
        Ok(all)
    }

    /// A single-model detector of `run` from an ensemble member's fitted parts.
    fn with_parts<'m>(
        run: &'m TrainedRun<B>,
        score: ScoreKind,
        stats: &MemberStats,
    ) -> AnomalyDetector<'m, B> {
        AnomalyDetector {
            run,
            score,
            threshold: None,
            gaussian: stats.code_gaussian.clone(),
            spread: stats.error_spread.clone(),
            ensemble: None,
            batch_size: 500,
        }
    }

    /// The run's own model's scores of `data`.
    fn own_scores(&self, data: &Dataset) -> Result<Vec<f64>> {
        let values: Vec<f64> = match self.score {
            ScoreKind::Error => self.run.score(data, self.batch_size)?.squared_error,
            ScoreKind::Elbo => self.run.score(data, self.batch_size)?.loss,
            ScoreKind::ErrorPerTv => self
                .run
                .score(data, self.batch_size)?
                .squared_error
                .iter()
                .zip(total_variations(data)?)
                .map(|(error, tv)| error / (tv + TOTAL_VARIATION_FLOOR))
                .collect(),
            ScoreKind::Mahalanobis => {
                let gaussian = self.gaussian.as_ref().ok_or_else(|| {
                    ToolkitError::Unsupported(
                        "the Mahalanobis score has no training codes to measure from".into(),
                    )
                })?;
                let codes = self.run.encode(data, self.batch_size)?;
                (0..codes.rows())
                    .map(|i| gaussian.distance2(codes.row(i)))
                    .collect()
            }
            ScoreKind::StandardizedError => {
                let spread = self.spread.as_ref().ok_or_else(|| {
                    ToolkitError::Unsupported(
                        "the standardized error has no training errors to divide by".into(),
                    )
                })?;
                self.run
                    .reconstruct(data, self.batch_size)?
                    .iter()
                    .enumerate()
                    .map(|(i, row)| spread.score(row, &data.target(i)))
                    .collect()
            }
        };
        if let Some(bad) = values.iter().find(|v| !v.is_finite()) {
            return Err(ToolkitError::Unsupported(format!(
                "the model gave a non-finite {} score ({bad})",
                self.score.name()
            )));
        }
        Ok(values)
    }
}

/// An ensemble's other members and every member's score statistics.
struct Members<B: Backend> {
    manifest: EnsembleManifest,
    runs: Vec<TrainedRun<B>>,
    stats: Vec<MemberStats>,
}

/// An ensemble that cannot compute a score's statistics: say how to get them.
fn needs_fit<B: Backend>(
    run: &TrainedRun<B>,
    score: ScoreKind,
    error: ToolkitError,
) -> ToolkitError {
    ToolkitError::Unsupported(format!(
        "the ensemble in {} has no {} statistics and cannot compute them ({error}); run          `ae anomaly fit {} --score {}` where its training data is",
        run.path().display(),
        score.name(),
        run.path().display(),
        score.name()
    ))
}

/// The Gaussian of the run's training codes.
fn training_gaussian<B: Backend>(run: &TrainedRun<B>) -> Result<CodeGaussian> {
    let train = run.split(Split::Train)?;
    CodeGaussian::fit(&run.encode(&train, 500)?)
}

/// The spread of the run's reconstruction errors on its training items: as saved at training
/// time (`error-spread.json`), else fitted on them now.
fn training_spread<B: Backend>(run: &TrainedRun<B>) -> Result<ErrorSpread> {
    let saved = run.run_dir().error_spread_file();
    match crate::json::read_optional(&saved, "an error spread")? {
        Some(spread) => Ok(spread),
        None => fit_training_spread(run),
    }
}

/// Fits the spread of the run's reconstruction errors on its training items.
fn fit_training_spread<B: Backend>(run: &TrainedRun<B>) -> Result<ErrorSpread> {
    let train = run.split(Split::Train)?;
    ErrorSpread::fit(&train, &run.reconstruct(&train, 500)?)
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

/// How [`fit`] sets a threshold.
#[derive(Debug, Clone, Default)]
pub struct FitSettings {
    /// The rule (default: a contamination of 0.05).
    pub rule: ThresholdRule,
    /// The score (default: [`default_score`]).
    pub score: Option<ScoreKind>,
    /// Normal items to fit on (default: the validation split).
    pub source: Option<ItemSource>,
    /// Items scored at once.
    pub batch_size: Option<usize>,
}

/// What [`fit`] reports.
#[derive(Debug, Clone, Serialize)]
pub struct FitReport {
    /// The run folder.
    #[serde(serialize_with = "crate::paths::lossy")]
    pub run: PathBuf,
    /// The threshold file written.
    #[serde(serialize_with = "crate::paths::lossy")]
    pub file: PathBuf,
    /// The items the threshold was fitted on.
    pub split: String,
    /// The threshold.
    pub anomaly: AnomalyThreshold,
}

/// Fits a threshold on normal items and saves it as `RUN/anomaly.json`.
pub fn fit<B: Backend>(run: &TrainedRun<B>, settings: &FitSettings) -> Result<FitReport> {
    settings.rule.check()?;
    let mut detector = AnomalyDetector::new(run, settings.score)?;
    if let Some(batch) = settings.batch_size {
        at_least_one("batch_size", batch)?;
        detector.batch_size = batch;
    }
    let source = settings
        .source
        .clone()
        .unwrap_or(ItemSource::Split(Split::Valid));
    let normal = run.read(&source)?;
    let anomaly = detector.fit_on(&normal, settings.rule)?.clone();
    let file = detector.save()?;
    Ok(FitReport {
        run: run.path().to_path_buf(),
        file,
        split: source.name().to_string(),
        anomaly,
    })
}

/// How [`score_to_csv`] scores.
#[derive(Debug, Clone)]
pub struct ScoreSettings {
    /// The items (default: the test split).
    pub source: ItemSource,
    /// The CSV written (default: `RUN/anomaly-scores.csv`); the scores also go to a `.npy`
    /// of the same name.
    pub out: Option<PathBuf>,
    /// Items scored at once (and read at once from a path).
    pub batch_size: usize,
    /// The score (default: the saved detector's, else [`default_score`]). Items are flagged
    /// only with the saved detector's threshold for its own score.
    pub score: Option<ScoreKind>,
}

impl Default for ScoreSettings {
    fn default() -> Self {
        Self {
            source: ItemSource::default(),
            out: None,
            batch_size: 500,
            score: None,
        }
    }
}

/// What [`score_to_csv`] reports.
#[derive(Debug, Clone, Serialize)]
pub struct ScoreReport {
    /// The run folder.
    #[serde(serialize_with = "crate::paths::lossy")]
    pub run: PathBuf,
    /// The CSV written: `index,label,class,score,flag` (the flag empty without a threshold).
    #[serde(serialize_with = "crate::paths::lossy")]
    pub csv: PathBuf,
    /// The scores alone, a 1-D `float64` `.npy` in item order.
    #[serde(serialize_with = "crate::paths::lossy")]
    pub npy: PathBuf,
    /// The split scored, or the path read.
    pub source: String,
    /// The score.
    pub score: ScoreKind,
    /// The threshold (`RUN/anomaly.json`), if one was fitted for this score.
    pub threshold: Option<f64>,
    /// Items scored.
    pub items: usize,
    /// Items flagged (with a threshold).
    pub flagged: Option<usize>,
    /// `flagged / items`.
    pub flagged_fraction: Option<f64>,
    /// Statistics of the scores.
    pub scores: ScoreSummary,
}

/// Scores every item of `settings.source` with the run's saved detector (`RUN/anomaly.json`)
/// and writes one CSV row per item: index, label, class name, score and flag. Items from a
/// path are read, scored and written a chunk at a time, so data larger than memory can be
/// scored. Progress (items scored, with an ETA) goes to `reporter`.
pub fn score_to_csv<B: Backend>(
    run: &TrainedRun<B>,
    settings: &ScoreSettings,
    reporter: &Reporter,
) -> Result<ScoreReport> {
    at_least_one("batch_size", settings.batch_size)?;
    // The saved detector, if it scores as asked; else a detector without a threshold.
    let saved = AnomalyDetector::saved(run)?
        .filter(|d| settings.score.is_none_or(|kind| kind == d.score_kind()));
    let mut detector = match saved {
        Some(detector) => detector,
        None => AnomalyDetector::new(run, settings.score)?,
    };
    detector.batch_size = settings.batch_size;
    let threshold = detector.threshold().map(|t| t.threshold);
    let out = settings
        .out
        .clone()
        .unwrap_or_else(|| run.path().join("anomaly-scores.csv"));
    let npy = out.with_extension("npy");
    if npy == out {
        return Err(ToolkitError::setting(
            "out",
            format!(
                "{} is where the scores' .npy goes: name the CSV otherwise",
                out.display()
            ),
        ));
    }
    let chunks = run.chunks(&settings.source, settings.batch_size)?;
    let mut counter = reporter.counter("score", "items", chunks.len, Duration::from_secs(10));
    B::seed(run.device(), run.config().seed.wrapping_add(7));
    let write_error = |e: csv::Error| ToolkitError::from(ae_io::WriteError::new(&out, e.into()));
    let mut csv = csv::Writer::from_writer(AtomicFile::create(&out)?);
    csv.write_record(["index", "label", "class", "score", "flag"])
        .map_err(write_error)?;
    let mut scores = Vec::new();
    let mut labels: Vec<u32> = Vec::new();
    for chunk in chunks.iter {
        let chunk = chunk?;
        let chunk_scores = detector.raw_scores(&chunk)?;
        for (i, s) in chunk_scores.iter().enumerate() {
            let label = chunk.labels.as_ref().map(|l| l[i]);
            let class = label
                .and_then(|l| chunk.class_names.get(l as usize))
                .cloned()
                .unwrap_or_default();
            labels.extend(label);
            csv.write_record([
                (scores.len() + i).to_string(),
                label.map(|l| l.to_string()).unwrap_or_default(),
                class,
                s.to_string(),
                threshold.map_or(String::new(), |t| u8::from(*s > t).to_string()),
            ])
            .map_err(write_error)?;
        }
        scores.extend(chunk_scores);
        counter.update(scores.len());
    }
    if scores.is_empty() {
        return Err(ToolkitError::Unsupported(
            "there are no items to score".into(),
        ));
    }
    let csv_path = csv
        .into_inner()
        .map_err(|e| ae_io::WriteError::new(&out, e.into_error()))?
        .commit()?;
    write_npy_f64(&npy, &scores)?;
    let labels = (labels.len() == scores.len()).then_some(labels);
    let summary = ScoreSummary::of(
        &scores,
        labels.as_deref(),
        threshold.unwrap_or(f64::INFINITY),
    )?;
    Ok(ScoreReport {
        run: run.path().to_path_buf(),
        csv: csv_path,
        npy,
        source: match &settings.source {
            ItemSource::Path { path, .. } => path.display().to_string(),
            ItemSource::Split(split) => split.name().to_string(),
        },
        score: detector.score_kind(),
        threshold,
        items: summary.items,
        flagged: threshold.map(|_| summary.flagged),
        flagged_fraction: threshold.map(|_| summary.flagged_fraction),
        scores: summary,
    })
}

/// How [`evaluate`] evaluates.
#[derive(Debug, Clone)]
pub struct AnomalyEvalSettings {
    /// The labelled items (default: the test split).
    pub source: ItemSource,
    /// The score (default: the saved detector's, else [`default_score`]).
    pub score: Option<ScoreKind>,
    /// The classes that are normal, by name or id (default: the run's data.classes).
    pub normal_classes: Option<Vec<String>>,
    /// The classes that are anomalies, by name or id (every other class is normal).
    pub anomaly_classes: Option<Vec<String>>,
    /// The ROC picture (default: `RUN/roc.png`).
    pub out: Option<PathBuf>,
    /// Items scored at once.
    pub batch_size: usize,
    /// Also score with a baseline that needs no model: the mean distance from each item to
    /// its K nearest training items of the run, in input space (PyOD's KNN detector).
    pub knn_baseline: Option<usize>,
    /// Also score with the classical detectors, fitted on the run's training items as the
    /// model sees them (a table standardized): PCA reconstruction error with as many
    /// components as the code, an Isolation Forest (100 trees of 256 items), and the 5-NN
    /// distance unless `knn_baseline` sets another K.
    pub baselines: bool,
}

impl Default for AnomalyEvalSettings {
    fn default() -> Self {
        Self {
            source: ItemSource::default(),
            score: None,
            normal_classes: None,
            anomaly_classes: None,
            out: None,
            batch_size: 500,
            knn_baseline: None,
            baselines: false,
        }
    }
}

/// Precision, recall and F1 of the saved threshold.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct AtThreshold {
    /// The threshold.
    pub threshold: f64,
    /// Items flagged.
    pub flagged: usize,
    /// Anomalies among the flagged items.
    pub precision: f64,
    /// Flagged anomalies among the anomalies.
    pub recall: f64,
    /// Harmonic mean of precision and recall.
    pub f1: f64,
}

/// The k-nearest-neighbour baseline's areas.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct KnnBaseline {
    /// Neighbours per item.
    pub k: usize,
    /// Area under the ROC curve.
    pub auroc: f64,
    /// Average precision.
    pub auprc: f64,
}

/// One ensemble member's areas (see [`AnomalyEvalReport::members`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MemberArea {
    /// The member's seed.
    pub seed: u64,
    /// Its AUROC alone.
    pub auroc: f64,
    /// Its AUPRC alone.
    pub auprc: f64,
}

/// A classical detector's areas on the same items (see [`AnomalyEvalSettings::baselines`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Baseline {
    /// The detector, e.g. `PCA-20` or `Isolation Forest`.
    pub name: String,
    /// Area under the ROC curve.
    pub auroc: f64,
    /// Average precision.
    pub auprc: f64,
}

/// What [`evaluate`] reports.
#[derive(Debug, Clone, Serialize)]
pub struct AnomalyEvalReport {
    /// The run folder.
    #[serde(serialize_with = "crate::paths::lossy")]
    pub run: PathBuf,
    /// The split evaluated, or `data` for items read from a path.
    pub split: String,
    /// The items' path, for items read from a path.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "crate::paths::lossy_option"
    )]
    pub data_path: Option<PathBuf>,
    /// The score.
    pub score: ScoreKind,
    /// The class ids counted as normal.
    pub normal_classes: Vec<u32>,
    /// Items scored.
    pub items: usize,
    /// Anomalies among them.
    pub anomalies: usize,
    /// `anomalies / items`.
    pub anomaly_fraction: f64,
    /// Area under the ROC curve.
    pub auroc: f64,
    /// Average precision (area under the precision-recall curve).
    pub auprc: f64,
    /// The ROC picture.
    #[serde(serialize_with = "crate::paths::lossy")]
    pub roc: PathBuf,
    /// The saved threshold's precision and recall, when it uses this score.
    pub at_threshold: Option<AtThreshold>,
    /// The k-nearest-neighbour baseline, when asked for.
    pub knn_baseline: Option<KnnBaseline>,
    /// The classical detectors, when asked for (the k-NN one included).
    pub baselines: Vec<Baseline>,
    /// For an ensemble: each member's areas alone, by seed (empty for a single model).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<MemberArea>,
    /// For an ensemble: the members' AUROC spread (largest minus smallest).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub member_auroc_spread: Option<f64>,
}

/// The class ids of `data` that `values` name: a class name, else a class id.
fn resolve_classes(values: &[String], data: &Dataset, setting: &'static str) -> Result<Vec<u32>> {
    let names = &data.class_names;
    let present: BTreeSet<u32> = data.labels.iter().flatten().copied().collect();
    values
        .iter()
        .map(|value| {
            if let Some(i) = names.iter().position(|n| n == value) {
                return Ok(i as u32);
            }
            match value.parse::<u32>() {
                Ok(id)
                    if (id as usize) < names.len()
                        || (names.is_empty() && present.contains(&id)) =>
                {
                    Ok(id)
                }
                _ => Err(ToolkitError::setting(
                    setting,
                    format!(
                        "'{value}' is not a class of the data; its classes are {}",
                        if names.is_empty() {
                            format!("{present:?}")
                        } else {
                            names.join(", ")
                        }
                    ),
                )),
            }
        })
        .collect()
}

/// Evaluates the detector on labelled items: the normal classes are those named (or the
/// run's own), every other class is an anomaly. Draws the ROC curve.
pub fn evaluate<B: Backend>(
    run: &TrainedRun<B>,
    settings: &AnomalyEvalSettings,
) -> Result<AnomalyEvalReport> {
    let saved = AnomalyThreshold::read(run.path())?;
    let kind = settings
        .score
        .or(saved.as_ref().map(|f| f.score))
        .unwrap_or_else(|| default_score(run));
    let mut detector = AnomalyDetector::new(run, Some(kind))?;
    detector.batch_size = settings.batch_size;
    at_least_one("batch_size", settings.batch_size)?;
    if settings.knn_baseline == Some(0) {
        return Err(ToolkitError::setting("knn_baseline", "must be at least 1"));
    }
    let data = run.read(&settings.source)?;
    let split = settings.source.name();
    let Some(labels) = data.labels.clone() else {
        return Err(ToolkitError::Unsupported(format!(
            "the {split} items of {} have no labels to tell anomalies from normal items{}",
            run.path().display(),
            if matches!(settings.source, ItemSource::Path { .. }) {
                " (name a CSV's label column)"
            } else {
                ""
            }
        )));
    };
    let normal: Vec<u32> = match (&settings.normal_classes, &settings.anomaly_classes) {
        (Some(_), Some(_)) => {
            return Err(ToolkitError::setting(
                "anomaly_classes",
                "cannot be combined with normal_classes: name one or the other",
            ));
        }
        (Some(values), None) => resolve_classes(values, &data, "normal_classes")?,
        (None, Some(values)) => {
            let anomalous = resolve_classes(values, &data, "anomaly_classes")?;
            let present: BTreeSet<u32> = labels.iter().copied().collect();
            present
                .into_iter()
                .filter(|c| !anomalous.contains(c))
                .collect()
        }
        (None, None) => match &run.config().data.classes {
            Some(classes) => match &settings.source {
                ItemSource::Split(_) => classes.clone(),
                // The run's class ids name classes of its own data: match them by name.
                ItemSource::Path { .. } => {
                    let names: Vec<String> = classes
                        .iter()
                        .map(|&c| {
                            run.info()
                                .class_names
                                .get(c as usize)
                                .cloned()
                                .unwrap_or_else(|| c.to_string())
                        })
                        .collect();
                    resolve_classes(&names, &data, "normal_classes")?
                }
            },
            None => {
                return Err(ToolkitError::setting(
                    "normal_classes",
                    format!(
                        "is needed: {} was trained on every class, so no item is an anomaly \
                         unless you say which classes are normal (or which are anomalies)",
                        run.path().display()
                    ),
                ));
            }
        },
    };
    let is_anomaly: Vec<bool> = labels.iter().map(|l| !normal.contains(l)).collect();
    let anomalies = is_anomaly.iter().filter(|&&a| a).count();
    if anomalies == 0 || anomalies == labels.len() {
        return Err(ToolkitError::Unsupported(format!(
            "the {split} items hold {anomalies} anomalies among {} (normal classes \
             {normal:?}): AUROC needs both kinds",
            labels.len()
        )));
    }
    let knn_k = settings
        .knn_baseline
        .or(settings.baselines.then_some(DEFAULT_KNN_BASELINE));
    let knn = match knn_k {
        Some(k) => Some((k, knn_distances(run, &data, k)?)),
        None => None,
    };
    let mut classical = if settings.baselines {
        classical_scores(run, &data)?
    } else {
        Vec::new()
    };
    let raw = detector.member_scores(&data)?;
    let scores = detector.combine_members(&raw);
    let mut members = Vec::new();
    if detector.is_ensemble() {
        for (seed, member) in detector.member_seeds().into_iter().zip(&raw) {
            members.push(MemberArea {
                seed,
                auroc: auroc(member, &is_anomaly)?,
                auprc: average_precision(member, &is_anomaly)?,
            });
        }
    }
    let member_auroc_spread = (!members.is_empty()).then(|| {
        let (lo, hi) = members
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), m| {
                (lo.min(m.auroc), hi.max(m.auroc))
            });
        hi - lo
    });
    let area = auroc(&scores, &is_anomaly)?;
    let precision_area = average_precision(&scores, &is_anomaly)?;
    let out = settings
        .out
        .clone()
        .unwrap_or_else(|| run.path().join("roc.png"));
    let mut curves = vec![(
        format!("{} (AUROC {area:.3})", kind.name()),
        roc_points(&roc_curve(&scores, &is_anomaly)?),
    )];
    let knn_baseline = match &knn {
        Some((k, distances)) => {
            let knn_area = auroc(distances, &is_anomaly)?;
            curves.push((
                format!("{k}-NN (AUROC {knn_area:.3})"),
                roc_points(&roc_curve(distances, &is_anomaly)?),
            ));
            Some(KnnBaseline {
                k: *k,
                auroc: knn_area,
                auprc: average_precision(distances, &is_anomaly)?,
            })
        }
        None => None,
    };
    if let Some((k, distances)) = knn.filter(|_| settings.baselines) {
        classical.push((format!("{k}-NN"), distances));
    }
    let mut baselines = Vec::new();
    for (name, baseline_scores) in &classical {
        let baseline_area = auroc(baseline_scores, &is_anomaly)?;
        if !name.ends_with("-NN") {
            curves.push((
                format!("{name} (AUROC {baseline_area:.3})"),
                roc_points(&roc_curve(baseline_scores, &is_anomaly)?),
            ));
        }
        baselines.push(Baseline {
            name: name.clone(),
            auroc: baseline_area,
            auprc: average_precision(baseline_scores, &is_anomaly)?,
        });
    }
    let title = format!(
        "Anomalies: normal classes {normal:?}, score {}",
        kind.name()
    );
    ae_plot::roc_plot(&out, &title, &curves)?;
    let at_threshold = saved.filter(|f| f.score == kind).map(|f| {
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
        AtThreshold {
            threshold: f.threshold,
            flagged: flagged_count,
            precision,
            recall,
            f1,
        }
    });
    Ok(AnomalyEvalReport {
        run: run.path().to_path_buf(),
        split: split.to_string(),
        data_path: match &settings.source {
            ItemSource::Path { path, .. } => Some(path.clone()),
            ItemSource::Split(_) => None,
        },
        score: kind,
        normal_classes: normal,
        items: scores.len(),
        anomalies,
        anomaly_fraction: anomalies as f64 / scores.len() as f64,
        auroc: area,
        auprc: precision_area,
        roc: out,
        at_threshold,
        knn_baseline,
        baselines,
        members,
        member_auroc_spread,
    })
}

/// The k of the k-NN baseline among [`AnomalyEvalSettings::baselines`].
const DEFAULT_KNN_BASELINE: usize = 5;

/// The PCA and Isolation Forest scores of `data`, fitted on the run's training items.
fn classical_scores<B: Backend>(
    run: &TrainedRun<B>,
    data: &Dataset,
) -> Result<Vec<(String, Vec<f64>)>> {
    let train = input_matrix(&run.data()?.train)?;
    let items = input_matrix(data)?;
    // As many components as the code, but fewer than the columns: all of them would
    // reconstruct every item exactly.
    let components = run
        .latent()
        .min(train.cols().saturating_sub(1))
        .min(train.rows().saturating_sub(1))
        .max(1);
    let pca = Pca::fit(&train, components)?;
    let k = components.min(pca.n_components());
    let reconstruction = pca.reconstruct_k(&items, k)?;
    let pca_scores = (0..items.rows())
        .map(|i| {
            items
                .row(i)
                .iter()
                .zip(reconstruction.row(i))
                .map(|(x, r)| (x - r) * (x - r))
                .sum()
        })
        .collect();
    let forest = IsolationForest::fit(
        &train,
        &IsolationForestSettings {
            seed: run.config().seed,
            ..Default::default()
        },
    )?;
    Ok(vec![
        (format!("PCA-{k}"), pca_scores),
        ("Isolation Forest".to_string(), forest.score(&items)?),
    ])
}

/// The (false positive rate, true positive rate) points of a ROC curve.
pub fn roc_points(curve: &[(f64, f64, f64)]) -> Vec<(f64, f64)> {
    curve.iter().map(|&(fpr, tpr, _)| (fpr, tpr)).collect()
}

/// The mean distance from each item of `data` to its `k` nearest training items of the run,
/// in the model's input space.
pub fn knn_distances<B: Backend>(
    run: &TrainedRun<B>,
    data: &Dataset,
    k: usize,
) -> Result<Vec<f64>> {
    let reference = input_matrix(&run.data()?.train)?;
    if reference.rows() < k {
        return Err(ToolkitError::setting(
            "knn_baseline",
            format!(
                "{k} needs at least {k} training items; {} has {}",
                run.path().display(),
                reference.rows()
            ),
        ));
    }
    let neighbors = NearestNeighbors::query(&reference, &input_matrix(data)?, k)?;
    Ok((0..neighbors.len())
        .map(|i| neighbors.distances(i).iter().sum::<f64>() / k as f64)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9 * b.abs().max(1.0)
    }

    #[test]
    fn the_error_spread_standardizes_each_value_by_its_training_errors() {
        // Two items of three values; the reconstructions miss value 0 by 1 and 3, value 1 by
        // 0 and 2, and value 2 not at all.
        let data = Dataset::from_inputs(
            ae_data::ImageShape::new(1, 1, 3),
            vec![0.0, 0.0, 5.0, 0.0, 0.0, 5.0],
            None,
        )
        .unwrap();
        let reconstructions = vec![vec![1.0, 0.0, 5.0], vec![3.0, 2.0, 5.0]];
        let spread = ErrorSpread::fit(&data, &reconstructions).unwrap();
        // Squared errors 1 and 9: mean 5, standard deviation 4; 0 and 4: mean 2, deviation 2;
        // 0 and 0: both floored at a millionth of the largest (5e-6 and 4e-6).
        assert!(close(spread.mean_squared_error[0], 5.0));
        assert!(close(spread.std_squared_error[0], 4.0));
        assert!(close(spread.mean_squared_error[1], 2.0));
        assert!(close(spread.std_squared_error[1], 2.0));
        assert!(close(spread.mean_squared_error[2], 5e-6));
        assert!(close(spread.std_squared_error[2], 4e-6));
        // Errors of 3, 1 and 0.001: (9 - 5)/4 + (1 - 2)/2 + (1e-6 - 5e-6)/4e-6.
        let score = spread.score(&[3.0, 1.0, 5.001], &[0.0, 0.0, 5.0]);
        assert!((score - (1.0 - 0.5 - 1.0)).abs() < 1e-3, "{score}");
        assert!(ErrorSpread::fit(&data, &reconstructions[..1]).is_err());
        // A spread saved before the standard deviation existed divides by the mean alone.
        let old: ErrorSpread =
            serde_json::from_str(r#"{"mean_squared_error":[5.0,2.0,5e-6]}"#).unwrap();
        let score = old.score(&[1.0, 1.0, 5.001], &[0.0, 0.0, 5.0]);
        assert!((score - (0.2 + 0.5 + 0.2)).abs() < 1e-3, "{score}");
    }

    #[test]
    fn the_code_gaussian_measures_by_hand() {
        // Mean 0, variances 0.5 along x and 2 along y (dividing by n = 4).
        let codes = Matrix::new(4, 2, vec![1.0, 0.0, -1.0, 0.0, 0.0, 2.0, 0.0, -2.0]).unwrap();
        let g = CodeGaussian::fit(&codes).unwrap();
        assert!(close(g.mean[0], 0.0) && close(g.mean[1], 0.0));
        for (code, expected) in [
            ([1.0, 0.0], 2.0),
            ([0.0, 2.0], 2.0),
            ([1.0, 2.0], 4.0),
            ([0.0, 0.0], 0.0),
            ([-3.0, 1.0], 18.5),
        ] {
            assert!(close(g.distance2(&code), expected), "{code:?}");
        }
        // Rotated by 45 degrees, with the queries: the same distances (the covariance's
        // axes, not the coordinate axes, count).
        let (c, s) = (
            std::f64::consts::FRAC_1_SQRT_2,
            std::f64::consts::FRAC_1_SQRT_2,
        );
        let rotate = |x: f64, y: f64| [c * x - s * y, s * x + c * y];
        let rotated: Vec<f64> = (0..4)
            .flat_map(|i| rotate(codes.get(i, 0), codes.get(i, 1)))
            .collect();
        let g = CodeGaussian::fit(&Matrix::new(4, 2, rotated).unwrap()).unwrap();
        assert!(close(g.distance2(&rotate(1.0, 2.0)), 4.0));
        assert!(close(g.distance2(&rotate(-3.0, 1.0)), 18.5));
    }

    #[test]
    fn an_unused_code_dimension_is_floored_not_divided_by_zero() {
        let codes = Matrix::new(3, 2, vec![1.0, 5.0, 2.0, 5.0, 3.0, 5.0]).unwrap();
        let g = CodeGaussian::fit(&codes).unwrap();
        let along = g.distance2(&[3.0, 5.0]);
        // Variance 2/3 along the first dimension: (3 - 2)² / (2/3) = 1.5.
        assert!(close(along, 1.5), "{along}");
        let off = g.distance2(&[2.0, 5.1]);
        assert!(off.is_finite() && off > 1e3, "{off}");
        assert!(CodeGaussian::fit(&Matrix::new(1, 2, vec![0.0, 0.0]).unwrap()).is_err());
    }
}
