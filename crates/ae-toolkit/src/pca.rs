//! The PCA baseline (`ae pca`), and a linear autoencoder against PCA (`ae compare-pca`).

use std::path::PathBuf;

use ae_analysis::{Matrix, Pca, principal_angles_degrees};
use ae_data::{DataConfig, DataSource};
use ae_models::{Activation, ArchitectureConfig, ModelConfig, ReconstructionLoss};
use burn::tensor::backend::Backend;
use serde::Serialize;

use crate::error::{Result, ToolkitError};
use crate::run::{Split, TrainedRun};
use crate::tensors::{input_matrix, mean, row_squared_errors};

/// One number of components of the PCA baseline.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PcaResult {
    /// Components kept.
    pub components: usize,
    /// Mean squared error per test item of the projection onto them.
    pub test_squared_error: f64,
    /// Fraction of the training variance they explain.
    pub variance_explained: f64,
}

/// What [`pca_baseline`] reports.
#[derive(Debug, Clone, Serialize)]
pub struct PcaReport {
    /// The data source.
    pub source: DataSource,
    /// Whether the data was standardized (tables).
    pub standardized: bool,
    /// Items PCA was fitted on.
    pub train_items: usize,
    /// Items it was tested on.
    pub test_items: usize,
    /// Values per item.
    pub dim: usize,
    /// One result per number of components asked for.
    pub results: Vec<PcaResult>,
}

/// PCA fitted on the training items of `data` (prepared with `seed`): test error and
/// explained variance for each number of `components`.
pub fn pca_baseline(data: &DataConfig, seed: u64, components: &[usize]) -> Result<PcaReport> {
    if components.is_empty() || components.contains(&0) {
        return Err(ToolkitError::setting(
            "components",
            format!("must list positive numbers, got {components:?}"),
        ));
    }
    let prepared = ae_data::prepare(data, seed)?;
    let max_k = components.iter().copied().max().unwrap_or(1);
    let dim = prepared.train.dim();
    if max_k > dim {
        return Err(ToolkitError::setting(
            "components",
            format!("{max_k} is more than the data's {dim} values per item"),
        ));
    }
    let pca = Pca::fit(&input_matrix(&prepared.train)?, max_k)?;
    let test = input_matrix(&prepared.test)?;
    let ratios = pca.explained_variance_ratio();
    let mut results = Vec::new();
    for &k in components {
        let k_used = k.min(pca.n_components());
        let reconstruction = pca.reconstruct_k(&test, k_used)?;
        results.push(PcaResult {
            components: k,
            test_squared_error: mean(&row_squared_errors(&test, &reconstruction)),
            variance_explained: ratios[..k_used].iter().sum::<f64>(),
        });
    }
    Ok(PcaReport {
        source: data.source,
        standardized: prepared.standardization.is_some(),
        train_items: prepared.train.len(),
        test_items: prepared.test.len(),
        dim,
        results,
    })
}

/// Why `model` is not a linear autoencoder, or `None` when it is one.
pub fn why_not_linear(model: &ModelConfig) -> Option<String> {
    let ModelConfig::Autoencoder(config) = model else {
        return Some(format!(
            "it trained a {}, but compare-pca needs a plain autoencoder",
            model.name()
        ));
    };
    match &config.architecture {
        ArchitectureConfig::Mlp {
            hidden, activation, ..
        } => {
            if !hidden.is_empty() && *activation != Activation::None {
                return Some(format!(
                    "its MLP has hidden layers {hidden:?} with activation {activation:?}: a linear autoencoder has no hidden layers or activation \"none\""
                ));
            }
        }
        ArchitectureConfig::Conv { .. } => {
            return Some("it is convolutional: a linear autoencoder is an MLP".into());
        }
    }
    if config.loss != ReconstructionLoss::SquaredError {
        return Some(
            "its loss is bce, whose sigmoid output is not linear: train with loss = \"squared-error\""
                .into(),
        );
    }
    None
}

/// What [`compare_pca`] reports.
#[derive(Debug, Clone, Serialize)]
pub struct ComparePcaReport {
    /// The run folder.
    #[serde(serialize_with = "crate::paths::lossy")]
    pub run: PathBuf,
    /// The code size, and PCA's number of components.
    pub latent: usize,
    /// Test items.
    pub test_items: usize,
    /// The autoencoder's mean squared error per test item.
    pub autoencoder_test_squared_error: f64,
    /// PCA's.
    pub pca_test_squared_error: f64,
    /// The autoencoder's error over PCA's (1 at the optimum).
    pub ratio: f64,
    /// Principal angles between the decoder's span and PCA's subspace.
    pub principal_angles_degrees: Vec<f64>,
    /// The largest angle.
    pub largest_angle_degrees: f64,
    /// The mean angle.
    pub mean_angle_degrees: f64,
}

/// The effective `[latent, dim]` matrix of a linear decoder: decode(I) − decode(0).
fn linear_decoder_rows<B: Backend>(run: &TrainedRun<B>) -> Result<Matrix> {
    let latent = run.latent();
    let mut identity = vec![0f32; latent * latent];
    for i in 0..latent {
        identity[i * latent + i] = 1.0;
    }
    let basis = run.decode_flat(&identity)?;
    let offset = run.decode_flat(&vec![0f32; latent])?;
    let dim = offset.len();
    let rows: Vec<f32> = basis
        .chunks(dim)
        .flat_map(|row| row.iter().zip(&offset).map(|(a, b)| a - b))
        .collect();
    Ok(Matrix::from_f32(latent, dim, &rows)?)
}

/// A linear autoencoder against PCA with as many components as its code: error ratio and the
/// principal angles between the two subspaces (a linear autoencoder's optimum spans PCA's).
pub fn compare_pca<B: Backend>(run: &TrainedRun<B>, batch_size: usize) -> Result<ComparePcaReport> {
    if let Some(reason) = why_not_linear(&run.config().model) {
        return Err(ToolkitError::Unsupported(format!(
            "{} is not a linear autoencoder: {reason}",
            run.path().display()
        )));
    }
    let latent = run.latent();
    let test = run.split(Split::Test)?;
    let dim = test.dim();
    if latent > dim {
        return Err(ToolkitError::Unsupported(format!(
            "the code ({latent}) is wider than the data ({dim} values): nothing to compare"
        )));
    }
    let scores = run.score(&test, batch_size)?;
    let ae_error = mean(&scores.squared_error);
    let pca = Pca::fit(&input_matrix(&run.data()?.train)?, latent)?;
    let test_matrix = input_matrix(&test)?;
    let k = latent.min(pca.n_components());
    let reconstruction = pca.reconstruct_k(&test_matrix, k)?;
    let pca_error = mean(&row_squared_errors(&test_matrix, &reconstruction));
    let decoder = linear_decoder_rows(run)?;
    let angles =
        principal_angles_degrees(&decoder.transpose(), &pca.components.leading_columns(k))?;
    let largest = angles.iter().copied().fold(0.0f64, f64::max);
    Ok(ComparePcaReport {
        run: run.path().to_path_buf(),
        latent,
        test_items: test.len(),
        autoencoder_test_squared_error: ae_error,
        pca_test_squared_error: pca_error,
        ratio: ae_error / pca_error,
        mean_angle_degrees: mean(&angles),
        principal_angles_degrees: angles,
        largest_angle_degrees: largest,
    })
}
