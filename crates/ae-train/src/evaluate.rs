//! Test-set metrics of a trained model, batched, without gradients.

use ae_data::{AeBatcher, Dataset};
use ae_models::AnyModel;
use burn::data::dataloader::batcher::Batcher;
use burn::tensor::backend::Backend;
use burn::train::metric::ItemLazy;
use serde::{Deserialize, Serialize};

use crate::step::StepOutput;

/// Per-example means over a whole dataset.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EvalMetrics {
    /// Items evaluated.
    pub items: usize,
    /// The training objective (reconstruction + β × KL).
    pub loss: f64,
    /// Reconstruction term (nats, or squared error for a squared-error autoencoder).
    pub reconstruction: f64,
    /// KL term in nats (VAE only).
    pub kl: Option<f64>,
    /// Negative ELBO in nats (VAE); the reconstruction term otherwise.
    pub negative_elbo: f64,
    /// Squared error of the mean reconstruction, summed over values.
    pub squared_error: f64,
}

/// Evaluates `model` on every item of `batcher`'s data, in batches of `batch_size`.
/// A VAE's terms use one sampled z per item (the usual test-loss definition).
pub fn evaluate<B: Backend>(
    model: &AnyModel<B>,
    batcher: &AeBatcher,
    batch_size: usize,
    device: &B::Device,
) -> EvalMetrics {
    let data: &Dataset = batcher.data();
    let indices: Vec<usize> = (0..data.len()).collect();
    let mut sums = [0.0f64; 4];
    let mut variational = false;
    for chunk in indices.chunks(batch_size.max(1)) {
        let batch =
            Batcher::<B, usize, ae_data::AeBatch<B>>::batch(batcher, chunk.to_vec(), device);
        let output = model.forward(batch.input, batch.target, model.kl_weight(usize::MAX));
        variational = output.kl.is_some();
        let stats = StepOutput::new(&output).sync();
        let n = stats.batch_size as f64;
        sums[0] += stats.loss * n;
        sums[1] += stats.reconstruction * n;
        sums[2] += stats.kl.unwrap_or(0.0) * n;
        sums[3] += stats.squared_error * n;
    }
    let n = data.len().max(1) as f64;
    let kl = variational.then(|| sums[2] / n);
    EvalMetrics {
        items: data.len(),
        loss: sums[0] / n,
        reconstruction: sums[1] / n,
        kl,
        negative_elbo: sums[1] / n + kl.unwrap_or(0.0),
        squared_error: sums[3] / n,
    }
}
