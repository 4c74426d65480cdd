//! Deep embedded clustering (`ae dec`): fine-tunes a trained run's encoder together with
//! k-means-initialized cluster centres (DEC; IDEC with a reconstruction weight) and writes the
//! result as a new run folder, so that every other use works on it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ae_analysis::{KMeans, Matrix, clustering_accuracy, write_npy_f32};
use ae_train::deep_clustering::{
    ClusteringModel, DecSettings, DecUpdate, assign_all, hard_assignments, refine,
};
use ae_train::trainer::save_model;
use ae_train::{Reporter, RunDir};
use burn::module::AutodiffModule;
use burn::tensor::backend::AutodiffBackend;
use serde::Serialize;

use crate::cluster::{
    ClusterStats, LabelAgreement, cluster_count, kmeans_stats, label_agreement, latent_plane,
};
use crate::error::{Result, ToolkitError, at_least_one};
use crate::run::{Split, TrainedRun};
use crate::tensors::{class_labels, encode_all, flat_values};

/// How to run DEC.
#[derive(Debug, Clone)]
pub struct DecRunSettings {
    /// The refinement itself.
    pub dec: DecSettings,
    /// Number of clusters (default: the number of classes, else 10).
    pub k: Option<usize>,
    /// Split whose clustering is reported; the refinement trains on the train split.
    pub split: Split,
    /// k-means restarts for the initial centres (the lowest inertia wins).
    pub restarts: usize,
}

impl Default for DecRunSettings {
    fn default() -> Self {
        Self {
            dec: DecSettings::default(),
            k: None,
            split: Split::Test,
            restarts: 20,
        }
    }
}

/// The default folder of the new run: `RUN-dec` beside `RUN`.
pub fn default_dec_folder(run: &Path) -> PathBuf {
    let name = run
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "run".into());
    run.with_file_name(format!("{name}-dec"))
}

/// One target update of the refinement.
#[derive(Debug, Clone, Serialize)]
pub struct DecHistory {
    /// Optimizer steps so far.
    pub iteration: usize,
    /// Mean clustering loss KL(P‖Q) per item since the previous update.
    pub clustering_loss: f64,
    /// Mean reconstruction loss per value since the previous update.
    pub reconstruction_loss: f64,
    /// Fraction of items whose cluster changed.
    pub changed_fraction: f64,
    /// Clustering accuracy on the training items, when labelled.
    pub train_accuracy: Option<f64>,
}

/// The refined clustering of the reported split.
#[derive(Debug, Clone, Serialize)]
pub struct DecAfter {
    /// Accuracy, NMI and ARI against the labels, when the items have labels.
    #[serde(flatten)]
    pub agreement: Option<LabelAgreement>,
    /// Items per cluster.
    pub cluster_sizes: Vec<usize>,
}

/// What [`dec`] reports (and writes to `dec.json` in the new run).
#[derive(Debug, Clone, Serialize)]
pub struct DecReport {
    /// The run started from.
    #[serde(serialize_with = "crate::paths::lossy")]
    pub source_run: PathBuf,
    /// The new run.
    #[serde(serialize_with = "crate::paths::lossy")]
    pub run: PathBuf,
    /// The split reported.
    pub split: Split,
    /// Items of that split.
    pub items: usize,
    /// Number of clusters.
    pub k: usize,
    /// `DEC` or `IDEC`.
    pub method: String,
    /// The refined code, coloured by label.
    #[serde(serialize_with = "crate::paths::lossy")]
    pub picture: PathBuf,
    /// The refinement's settings.
    pub settings: DecSettings,
    /// Optimizer steps taken.
    pub iterations: usize,
    /// Whether the assignments settled before the step limit.
    pub converged: bool,
    /// k-means on the code before refinement.
    pub before: ClusterStats,
    /// The refined soft assignments' clusters.
    pub after: DecAfter,
    /// k-means on the refined code.
    pub after_kmeans: ClusterStats,
    /// One entry per target update.
    pub history: Vec<DecHistory>,
}

/// Writes the files of a run folder at `out`: the source run's config (with a note), model
/// config, data description and standardization, then the refined model.
fn write_run<B: burn::tensor::backend::Backend>(
    source: &RunDir,
    out: &RunDir,
    model: &ae_models::AnyModel<B>,
) -> Result<()> {
    out.create()?;
    let read = |path: &Path| {
        std::fs::read(path).map_err(|e| ToolkitError::File {
            path: path.to_path_buf(),
            message: format!("cannot read: {e}"),
        })
    };
    let config = String::from_utf8_lossy(&read(&source.config_file())?).into_owned();
    let note = format!(
        "# Fine-tuned by `ae dec` from {}: the encoder was trained further with cluster\n\
         # centres (centres.npy); dec.json holds the settings and results.\n",
        source.path().display()
    );
    ae_io::write_atomic(out.config_file(), format!("{note}{config}").as_bytes())?;
    for (from, to) in [
        (source.model_config_file(), out.model_config_file()),
        (source.standardization_file(), out.standardization_file()),
        (source.data_info_file(), out.data_info_file()),
    ] {
        if from.exists() {
            ae_io::write_atomic(&to, &read(&from)?)?;
        }
    }
    save_model(model, out)?;
    Ok(())
}

/// Refines the run's encoder and k-means centres with DEC (IDEC with a reconstruction
/// weight) on its training split and writes the result as a new run at `out`, with
/// `centres.npy`, `dec.json` and a picture of the refined code. Progress goes to `reporter`.
pub fn dec<B: AutodiffBackend>(
    run: &TrainedRun<B>,
    settings: &DecRunSettings,
    out: &Path,
    reporter: &Reporter,
) -> Result<DecReport> {
    if let (Ok(a), Ok(b)) = (out.canonicalize(), run.path().canonicalize())
        && a == b
    {
        return Err(ToolkitError::setting(
            "out",
            format!(
                "{} is the source run itself; choose another folder",
                out.display()
            ),
        ));
    }
    settings.dec.validate()?;
    at_least_one("restarts", settings.restarts)?;
    let device = run.device();
    let train = run.split(Split::Train)?;
    let evaluated = run.split(settings.split)?;
    let k = cluster_count(settings.k, &train, Split::Train)?;
    let latent = run.latent();
    let inner = run.model().valid();
    let seed = settings.dec.seed;

    // Initial centres: k-means on the training codes.
    reporter.notice(format!("dec: encoding {} training items", train.len()));
    let clean = |data: &ae_data::Dataset| {
        ae_data::AeBatcher::new(Arc::new(data.clone()), Vec::new(), false, run.config().seed)
    };
    let train_codes = encode_all(&inner, &clean(&train), 1000, device)?;
    let kmeans = KMeans::fit(
        &Matrix::from_f32(train.len(), latent, &train_codes)?,
        k,
        seed,
        settings.restarts,
        300,
    )?;
    let centres: Vec<f32> = kmeans.centroids.data().iter().map(|&c| c as f32).collect();
    let train_labels = class_labels(&train);
    let evaluated_labels = class_labels(&evaluated);
    let evaluated_codes = encode_all(&inner, &clean(&evaluated), 1000, device)?;
    let before = kmeans_stats(
        &Matrix::from_f32(evaluated.len(), latent, &evaluated_codes)?,
        evaluated_labels.as_deref(),
        k,
        seed,
        10,
        reporter,
    )?;

    let clustering = ClusteringModel::new(run.model().clone(), &centres, k, device)?;
    let mut history = Vec::new();
    let max_iterations = settings.dec.max_iterations;
    let refining = std::time::Instant::now();
    let mut on_update = |update: &DecUpdate| {
        let accuracy = train_labels
            .as_deref()
            .and_then(|labels| clustering_accuracy(labels, &update.assignments).ok());
        let accuracy_text = accuracy
            .map(|a| format!("  train accuracy {a:.4}"))
            .unwrap_or_default();
        // DEC may stop early (few assignments changing), so the estimate is an upper bound.
        let elapsed = refining.elapsed().as_secs_f64();
        let left = elapsed / update.iteration.max(1) as f64
            * max_iterations.saturating_sub(update.iteration) as f64;
        reporter.notice(format!(
            "dec step {:>6}/{max_iterations}  KL {:.5}  reconstruction {:.5}  changed {:.3}%{accuracy_text}  ({}, at most {} left)",
            update.iteration,
            update.clustering_loss,
            update.reconstruction_loss,
            100.0 * update.changed_fraction,
            ae_train::progress::format_duration(elapsed),
            ae_train::progress::format_duration(left),
        ));
        history.push(DecHistory {
            iteration: update.iteration,
            clustering_loss: update.clustering_loss,
            reconstruction_loss: update.reconstruction_loss,
            changed_fraction: update.changed_fraction,
            train_accuracy: accuracy,
        });
    };
    let outcome = refine(
        clustering,
        Arc::new(train),
        &settings.dec,
        device,
        &mut on_update,
    )?;

    let refined = &outcome.model;
    let method = if settings.dec.reconstruction_weight > 0.0 {
        "IDEC"
    } else {
        "DEC"
    };
    let batcher = clean(&evaluated);
    let q = assign_all(refined, &batcher, 1000, device)?;
    let clusters = hard_assignments(&q, k);
    let refined_codes = Matrix::from_f32(
        evaluated.len(),
        latent,
        &encode_all(&refined.model, &batcher, 1000, device)?,
    )?;
    let after_kmeans = kmeans_stats(
        &refined_codes,
        evaluated_labels.as_deref(),
        k,
        seed,
        10,
        reporter,
    )?;
    let mut sizes = vec![0usize; k];
    for &c in &clusters {
        sizes[c] += 1;
    }
    let after = DecAfter {
        agreement: evaluated_labels
            .as_deref()
            .map(|labels| label_agreement(labels, &clusters))
            .transpose()?,
        cluster_sizes: sizes,
    };

    let out_run = RunDir::new(out);
    write_run(run.run_dir(), &out_run, &refined.model)?;
    // The refined code, coloured by label (by cluster when the data has no labels).
    let split = settings.split;
    let picture = out.join(format!("dec-{split}.png"));
    let (colours, names) = match evaluated_labels.as_deref() {
        Some(labels) => (
            labels.to_vec(),
            (!evaluated.class_names.is_empty()).then_some(evaluated.class_names.as_slice()),
        ),
        None => (clusters.clone(), None),
    };
    ae_plot::scatter_by_label(
        &picture,
        &format!("Code after {method} ({split} split)"),
        &latent_plane(&refined_codes)?,
        Some(&colours),
        names,
    )?;
    let centre_values = flat_values(refined.centres.val())?;
    write_npy_f32(out.join("centres.npy"), k, latent, &centre_values)?;
    let report = DecReport {
        source_run: run.path().to_path_buf(),
        run: out.to_path_buf(),
        split,
        items: evaluated.len(),
        k,
        method: method.into(),
        picture,
        settings: settings.dec.clone(),
        iterations: outcome.iterations,
        converged: outcome.converged,
        before,
        after,
        after_kmeans,
        history,
    };
    crate::json::write(&out.join("dec.json"), &report)?;
    Ok(report)
}
