//! Moving values between tensors and plain vectors, and running a model over a data set in
//! batches.

use ae_analysis::Matrix;
use ae_data::{AeBatch, AeBatcher, Dataset};
use ae_models::AnyModel;
use ae_models::likelihood::squared_error;
use burn::data::dataloader::batcher::Batcher;
use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};

use crate::error::{Result, ToolkitError, at_least_one};

/// The values of a tensor, row-major.
pub fn flat_values<B: Backend, const D: usize>(tensor: Tensor<B, D>) -> Result<Vec<f32>> {
    tensor
        .into_data()
        .convert::<f32>()
        .to_vec()
        .map_err(|e| ToolkitError::Tensor(format!("{e:?}")))
}

/// The rows of a `[n, d]` tensor.
pub fn rows_of<B: Backend>(tensor: Tensor<B, 2>) -> Result<Vec<Vec<f32>>> {
    let [n, d] = tensor.dims();
    let values = flat_values(tensor)?;
    Ok((0..n)
        .map(|i| values[i * d..(i + 1) * d].to_vec())
        .collect())
}

/// A `[rows, cols]` tensor of row-major `values`.
pub fn matrix_tensor<B: Backend>(
    values: Vec<f32>,
    cols: usize,
    device: &B::Device,
) -> Tensor<B, 2> {
    let rows = values.len() / cols.max(1);
    Tensor::from_data(TensorData::new(values, [rows, cols]), device)
}

/// Runs `f` over every item of `batcher`'s data in batches of `batch_size`, in order.
pub fn for_each_batch<B: Backend>(
    batcher: &AeBatcher,
    batch_size: usize,
    device: &B::Device,
    mut f: impl FnMut(&[usize], AeBatch<B>) -> Result<()>,
) -> Result<()> {
    at_least_one("batch_size", batch_size)?;
    let indices: Vec<usize> = (0..batcher.data().len()).collect();
    for chunk in indices.chunks(batch_size) {
        let batch = Batcher::<B, usize, AeBatch<B>>::batch(batcher, chunk.to_vec(), device);
        f(chunk, batch)?;
    }
    Ok(())
}

/// The deterministic code (a VAE's posterior mean) of every item, row-major `[n, latent]`.
pub fn encode_all<B: Backend>(
    model: &AnyModel<B>,
    batcher: &AeBatcher,
    batch_size: usize,
    device: &B::Device,
) -> Result<Vec<f32>> {
    let mut codes = Vec::new();
    for_each_batch::<B>(batcher, batch_size, device, |_, batch| {
        codes.extend(flat_values(model.encode(batch.input))?);
        Ok(())
    })?;
    Ok(codes)
}

/// Per-item scores of a model on a data set.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ItemScores {
    /// Squared error of the mean reconstruction (from the code, no sampling), summed over values.
    pub squared_error: Vec<f64>,
    /// The model's loss per item: a VAE's negative ELBO (one sampled z), an autoencoder's
    /// reconstruction loss.
    pub loss: Vec<f64>,
    /// A VAE's posterior variance, averaged over latent dimensions (empty for an autoencoder).
    pub posterior_variance: Vec<f64>,
}

/// Scores every item of `batcher`'s data with `model`.
pub fn score_items<B: Backend>(
    model: &AnyModel<B>,
    batcher: &AeBatcher,
    batch_size: usize,
    device: &B::Device,
) -> Result<ItemScores> {
    let mut scores = ItemScores::default();
    for_each_batch::<B>(batcher, batch_size, device, |_, batch| {
        // One encoder pass: the forward pass carries the posterior, whose mean is decoded
        // for the deterministic reconstruction (an autoencoder's is the forward pass's own).
        let output = model.forward(batch.input, batch.target.clone(), 1.0);
        let squared = match &output.mean {
            Some(mean) => squared_error(model.decode(mean.clone()), batch.target),
            None => output.squared_error.clone(),
        };
        scores
            .squared_error
            .extend(flat_values(squared)?.into_iter().map(f64::from));
        scores.loss.extend(
            flat_values(output.negative_elbo())?
                .into_iter()
                .map(f64::from),
        );
        if let Some(log_variance) = output.log_variance {
            let variance = log_variance.exp().mean_dim(1).squeeze_dim::<1>(1);
            scores
                .posterior_variance
                .extend(flat_values(variance)?.into_iter().map(f64::from));
        }
        Ok(())
    })?;
    Ok(scores)
}

/// The inputs of `data` as an `n × dim` matrix.
pub fn input_matrix(data: &Dataset) -> Result<Matrix> {
    Ok(Matrix::from_f32(
        data.len(),
        data.dim(),
        &data.inputs.to_f32(),
    )?)
}

/// The labels of `data` as class indices, if it has labels.
pub fn class_labels(data: &Dataset) -> Option<Vec<usize>> {
    data.labels
        .as_ref()
        .map(|labels| labels.iter().map(|&l| l as usize).collect())
}

/// Per-item squared error (summed over values) between the rows of two matrices.
pub fn row_squared_errors(a: &Matrix, b: &Matrix) -> Vec<f64> {
    (0..a.rows())
        .map(|i| {
            a.row(i)
                .iter()
                .zip(b.row(i))
                .map(|(x, y)| (x - y) * (x - y))
                .sum()
        })
        .collect()
}

/// The mean of `values` (0 for none).
pub fn mean(values: &[f64]) -> f64 {
    if values.is_empty() {
        0.0
    } else {
        values.iter().sum::<f64>() / values.len() as f64
    }
}
