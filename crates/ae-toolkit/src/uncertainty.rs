//! A VAE's posterior variance and an item's distance to its class centre, against its
//! reconstruction error (`ae uncertainty`).

use std::path::PathBuf;

use ae_analysis::{Matrix, pearson, spearman};
use ae_io::AtomicFile;
use burn::tensor::backend::Backend;
use serde::Serialize;

use crate::error::{Result, ToolkitError};
use crate::run::{Split, TrainedRun};
use crate::tensors::{class_labels, mean};

/// Pearson and Spearman correlation (none when undefined).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Correlations {
    /// Pearson's linear correlation.
    pub pearson: Option<f64>,
    /// Spearman's rank correlation.
    pub spearman: Option<f64>,
}

fn correlations(x: &[f64], y: &[f64]) -> Correlations {
    Correlations {
        pearson: pearson(x, y).ok(),
        spearman: spearman(x, y).ok(),
    }
}

/// What [`uncertainty`] reports.
#[derive(Debug, Clone, Serialize)]
pub struct UncertaintyReport {
    /// The run folder.
    #[serde(serialize_with = "crate::paths::lossy")]
    pub run: PathBuf,
    /// The split scored.
    pub split: Split,
    /// Items scored.
    pub items: usize,
    /// `class` when distances are to each item's class centre, `overall` without labels.
    pub centres: String,
    /// Mean posterior variance (averaged over latent dimensions).
    pub mean_posterior_variance: f64,
    /// Mean distance of a code to its centre.
    pub mean_distance_to_centre: f64,
    /// Mean squared reconstruction error.
    pub mean_squared_error: f64,
    /// Correlation of the variance with the error.
    pub variance_vs_error: Correlations,
    /// Correlation of the distance with the error.
    pub distance_vs_error: Correlations,
    /// One row per item: `item,label,posterior_variance,distance_to_centre,squared_error`.
    #[serde(serialize_with = "crate::paths::lossy")]
    pub csv: PathBuf,
    /// Variance against error.
    #[serde(serialize_with = "crate::paths::lossy")]
    pub picture: PathBuf,
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

/// Per-item posterior variance and distance to the class centre of the training codes,
/// against reconstruction error: a CSV, a scatter picture and their correlations.
pub fn uncertainty<B: Backend>(
    run: &TrainedRun<B>,
    split: Split,
    batch_size: usize,
) -> Result<UncertaintyReport> {
    if !run.is_vae() {
        return Err(ToolkitError::Unsupported(format!(
            "{}: uncertainty needs a VAE's posterior variance, but this run trained a {}",
            run.path().display(),
            run.model_name()
        )));
    }
    let train = run.split(Split::Train)?;
    let data = run.split(split)?;
    let train_labels = class_labels(&train);
    let labels = class_labels(&data);
    let train_codes = run.encode(&train, batch_size)?;
    let centres = class_centres(&train_codes, train_labels.as_deref());
    let overall = class_centres(&train_codes, None).remove(0);
    let codes = run.encode(&data, batch_size)?;
    let scores = run.score(&data, batch_size)?;
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
    let csv_path = run.path().join(format!("uncertainty-{split}.csv"));
    let write_error =
        |e: csv::Error| ToolkitError::from(ae_io::WriteError::new(&csv_path, e.into()));
    let mut csv = csv::Writer::from_writer(AtomicFile::create(&csv_path)?);
    csv.write_record([
        "item",
        "label",
        "posterior_variance",
        "distance_to_centre",
        "squared_error",
    ])
    .map_err(write_error)?;
    for i in 0..error.len() {
        let label = labels
            .as_ref()
            .map(|l| l[i].to_string())
            .unwrap_or_default();
        csv.write_record([
            i.to_string(),
            label,
            variance[i].to_string(),
            distances[i].to_string(),
            error[i].to_string(),
        ])
        .map_err(write_error)?;
    }
    csv.into_inner()
        .map_err(|e| ae_io::WriteError::new(&csv_path, e.into_error()))?
        .commit()?;
    let picture = run.path().join(format!("uncertainty-{split}.png"));
    let points: Vec<(f64, f64)> = variance
        .iter()
        .copied()
        .zip(error.iter().copied())
        .collect();
    ae_plot::scatter_xy(
        &picture,
        &format!("Posterior variance against reconstruction error ({split} split)"),
        "posterior variance (mean over latent dimensions)",
        "squared error",
        &points,
    )?;
    Ok(UncertaintyReport {
        run: run.path().to_path_buf(),
        split,
        items: error.len(),
        centres: if labels.is_some() { "class" } else { "overall" }.into(),
        mean_posterior_variance: mean(variance),
        mean_distance_to_centre: mean(&distances),
        mean_squared_error: mean(error),
        variance_vs_error: correlations(variance, error),
        distance_vs_error: correlations(&distances, error),
        csv: csv_path,
        picture,
    })
}
