//! Test metrics of a trained run, and a VAE's importance-sampled log-likelihood.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use ae_train::{EvalMetrics, NllEstimate, Reporter};
use burn::tensor::backend::Backend;
use serde::Serialize;

use crate::error::{Result, ToolkitError, at_least_one};
use crate::run::{ItemSource, TrainedRun};

/// How to evaluate.
#[derive(Debug, Clone)]
pub struct EvalSettings {
    /// The items: a split (the test split by default) or files read like the run's data.
    pub source: ItemSource,
    /// Items evaluated at once.
    pub batch_size: usize,
    /// Evaluate only the first `limit` items.
    pub limit: Option<usize>,
    /// Feed the inputs uncorrupted (a denoising run's error on clean data); otherwise they are
    /// corrupted as in training.
    pub clean: bool,
    /// Also estimate a VAE's negative log-likelihood by importance sampling.
    pub nll: Option<NllSettings>,
}

impl Default for EvalSettings {
    fn default() -> Self {
        Self {
            source: ItemSource::default(),
            batch_size: 500,
            limit: None,
            clean: false,
            nll: None,
        }
    }
}

/// Settings of the importance-sampled log-likelihood (Burda et al., 2016).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NllSettings {
    /// Importance samples K per item (Burda et al. used 5000).
    pub importance_samples: usize,
    /// Codes decoded at once (bounds memory whatever K is).
    pub rows_per_pass: usize,
}

impl Default for NllSettings {
    fn default() -> Self {
        Self {
            importance_samples: 5000,
            rows_per_pass: 20_000,
        }
    }
}

/// What [`evaluate`] reports.
#[derive(Debug, Clone, Serialize)]
pub struct EvalReport {
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
    /// `autoencoder` or `vae`.
    pub model: String,
    /// Whether the inputs were fed uncorrupted.
    pub clean: bool,
    /// Per-item means.
    pub metrics: EvalMetrics,
    /// Seconds the metrics took.
    pub seconds: f64,
    /// Items per second.
    pub items_per_second: f64,
    /// The importance-sampled negative log-likelihood, when asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nll: Option<NllEstimate>,
    /// Seconds the estimate took.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nll_seconds: Option<f64>,
}

/// Evaluates `run` on the items `settings` name; the estimate's progress goes to `reporter`.
pub fn evaluate<B: Backend>(
    run: &TrainedRun<B>,
    settings: &EvalSettings,
    reporter: &Reporter,
) -> Result<EvalReport> {
    at_least_one("batch_size", settings.batch_size)?;
    if settings.limit == Some(0) {
        return Err(ToolkitError::setting("limit", "must be at least 1"));
    }
    if let Some(nll) = &settings.nll {
        if !run.is_vae() {
            return Err(ToolkitError::setting(
                "nll",
                format!(
                    "needs a VAE; {} is a {}",
                    run.path().display(),
                    run.model_name()
                ),
            ));
        }
        at_least_one("importance_samples", nll.importance_samples)?;
        at_least_one("rows_per_pass", nll.rows_per_pass)?;
        run.check_decode_memory(nll.rows_per_pass)?;
    }
    let data = run.read(&settings.source)?;
    let data = match settings.limit {
        Some(n) => data.take(n),
        None => data,
    };
    if data.is_empty() {
        return Err(ToolkitError::Unsupported(
            "there are no items to evaluate".into(),
        ));
    }
    let seed = run.config().seed;
    B::seed(run.device(), seed);
    let mut data_config = run.config().data.clone();
    if settings.clean {
        data_config.corruptions.clear();
    }
    let batcher = data_config.batcher(std::sync::Arc::new(data), seed.wrapping_add(2));
    let started = Instant::now();
    let metrics = ae_train::evaluate(run.model(), &batcher, settings.batch_size, run.device());
    let seconds = started.elapsed().as_secs_f64();
    let (nll, nll_seconds) = match (&settings.nll, run.model().as_vae()) {
        (Some(nll), Some(vae)) => {
            let started = Instant::now();
            let mut counter = reporter.counter(
                "nll",
                "items",
                batcher.data().len(),
                Duration::from_secs(10),
            );
            let estimate = ae_train::estimate_nll(
                vae,
                &batcher,
                nll.importance_samples,
                nll.rows_per_pass,
                run.device(),
                |done, _| counter.update(done),
            )?;
            (Some(estimate), Some(started.elapsed().as_secs_f64()))
        }
        _ => (None, None),
    };
    Ok(EvalReport {
        run: run.path().to_path_buf(),
        split: settings.source.name().to_string(),
        data_path: match &settings.source {
            ItemSource::Path { path, .. } => Some(path.clone()),
            ItemSource::Split(_) => None,
        },
        model: run.model_name().to_string(),
        clean: settings.clean,
        metrics,
        seconds,
        items_per_second: metrics.items as f64 / seconds.max(1e-9),
        nll,
        nll_seconds,
    })
}
