//! Deep embedded clustering: DEC (Xie, Girshick & Farhadi 2016) and, with a reconstruction
//! term, IDEC (Guo et al. 2017). A trained encoder and `k` cluster centres in its code are
//! fine-tuned together so that each item's soft assignment moves towards a sharpened copy of
//! itself, which pulls the code into tight, well-separated clusters.

use std::sync::Arc;

use ae_data::{AeBatch, AeBatcher, Dataset};
use ae_models::AnyModel;
use burn::data::dataloader::batcher::Batcher;
use burn::module::{AutodiffModule, Module, Param};
use burn::optim::{AdamConfig, GradientsParams, Optimizer};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Tensor, TensorData};
use rand::SeedableRng;
use rand::rngs::ChaCha12Rng;
use rand::seq::SliceRandom;
use serde::Serialize;

use crate::error::TrainError;

/// How a DEC refinement runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DecSettings {
    /// Adam's learning rate.
    pub learning_rate: f64,
    /// Items per optimizer step.
    pub batch_size: usize,
    /// Steps between two recomputations of the target distribution over all items.
    pub update_interval: usize,
    /// Stop once fewer than this fraction of items change cluster between two updates.
    pub tolerance: f64,
    /// Stop after this many steps in any case.
    pub max_iterations: usize,
    /// Weight of the mean per-value reconstruction loss added to the clustering loss: 0 is
    /// DEC; a positive weight is IDEC, which keeps the decoder and so the code's local
    /// structure.
    pub reconstruction_weight: f64,
    /// Seed of the batch order.
    pub seed: u64,
}

impl Default for DecSettings {
    fn default() -> Self {
        Self {
            learning_rate: 1e-3,
            batch_size: 256,
            update_interval: 140,
            tolerance: 0.001,
            max_iterations: 20_000,
            reconstruction_weight: 0.0,
            seed: 0,
        }
    }
}

impl DecSettings {
    /// Checks that every setting is usable.
    pub fn validate(&self) -> Result<(), TrainError> {
        let invalid = |what: &str| Err(TrainError::Invalid(what.to_string()));
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return invalid("the DEC learning rate must be a positive number");
        }
        if self.batch_size == 0 {
            return invalid("the DEC batch size must be at least 1");
        }
        if self.update_interval == 0 {
            return invalid("the DEC update interval must be at least 1 step");
        }
        if !(0.0..=1.0).contains(&self.tolerance) {
            return invalid("the DEC tolerance must be a fraction between 0 and 1");
        }
        if !(self.reconstruction_weight.is_finite() && self.reconstruction_weight >= 0.0) {
            return invalid("the reconstruction weight must be a number ≥ 0");
        }
        Ok(())
    }
}

/// A model's encoder with `k` trainable cluster centres in its code.
#[derive(Module, Debug)]
pub struct ClusteringModel<B: Backend> {
    /// The autoencoder (its encoder is what the clustering loss trains).
    pub model: AnyModel<B>,
    /// Cluster centres, `[k, latent]`.
    pub centres: Param<Tensor<B, 2>>,
}

impl<B: Backend> ClusteringModel<B> {
    /// `model` with `k` centres given row-major as `k × latent` values.
    pub fn new(
        model: AnyModel<B>,
        centres: &[f32],
        k: usize,
        device: &B::Device,
    ) -> Result<Self, TrainError> {
        if k == 0 || centres.is_empty() || !centres.len().is_multiple_of(k) {
            return Err(TrainError::Invalid(format!(
                "{} centre values do not make {k} centres of equal size",
                centres.len()
            )));
        }
        let latent = centres.len() / k;
        let centres = Tensor::from_data(TensorData::new(centres.to_vec(), [k, latent]), device);
        Ok(Self {
            model,
            centres: Param::from_tensor(centres),
        })
    }

    /// Soft assignment of each input to each cluster, `[batch, k]`.
    pub fn assign(&self, input: Tensor<B, 2>) -> Tensor<B, 2> {
        soft_assignment(self.model.encode(input), self.centres.val())
    }
}

/// Student's t soft assignment with one degree of freedom: `q_ij ∝ 1 / (1 + ‖z_i − μ_j‖²)`,
/// each row normalized to sum to 1. `latent` is `[n, d]`, `centres` `[k, d]`.
pub fn soft_assignment<B: Backend>(latent: Tensor<B, 2>, centres: Tensor<B, 2>) -> Tensor<B, 2> {
    let latent_norms = latent.clone().powi_scalar(2).sum_dim(1);
    let centre_norms = centres.clone().powi_scalar(2).sum_dim(1).transpose();
    let cross = latent.matmul(centres.transpose());
    let squared_distance = (latent_norms + centre_norms - cross * 2.0).clamp_min(0.0);
    let kernel = (squared_distance + 1.0).recip();
    let total = kernel.clone().sum_dim(1);
    kernel / total
}

/// DEC's target distribution from soft assignments `q` (row-major `n × k`):
/// `p_ij ∝ q_ij² / f_j` with `f_j = Σ_i q_ij`, each row normalized. It sharpens confident
/// assignments and divides by cluster size so that large clusters do not swallow small ones.
pub fn target_distribution(q: &[f32], k: usize) -> Vec<f32> {
    let mut frequency = vec![0f64; k];
    for row in q.chunks_exact(k) {
        for (f, &value) in frequency.iter_mut().zip(row) {
            *f += f64::from(value);
        }
    }
    let mut p = Vec::with_capacity(q.len());
    for row in q.chunks_exact(k) {
        let weights: Vec<f64> = row
            .iter()
            .zip(&frequency)
            .map(|(&value, &f)| {
                let value = f64::from(value);
                if f > 0.0 { value * value / f } else { 0.0 }
            })
            .collect();
        let total: f64 = weights.iter().sum();
        p.extend(weights.iter().map(|&w| {
            if total > 0.0 {
                (w / total) as f32
            } else {
                1.0 / k as f32
            }
        }));
    }
    p
}

/// The index of the largest value of each row of a row-major `n × k` matrix.
pub fn hard_assignments(q: &[f32], k: usize) -> Vec<usize> {
    q.chunks_exact(k)
        .map(|row| {
            row.iter()
                .enumerate()
                .fold((0, f32::NEG_INFINITY), |best, (j, &value)| {
                    if value > best.1 { (j, value) } else { best }
                })
                .0
        })
        .collect()
}

/// Soft assignments of every item of `batcher`'s data, row-major `n × k`.
pub fn assign_all<B: Backend>(
    model: &ClusteringModel<B>,
    batcher: &AeBatcher,
    batch_size: usize,
    device: &B::Device,
) -> Result<Vec<f32>, TrainError> {
    let n = batcher.data().len();
    let mut q = Vec::new();
    let indices: Vec<usize> = (0..n).collect();
    for chunk in indices.chunks(batch_size.max(1)) {
        let batch: AeBatch<B> = batcher.batch(chunk.to_vec(), device);
        q.extend(read_values(model.assign(batch.input))?);
    }
    Ok(q)
}

/// The values of a tensor as `f32`, row-major.
fn read_values<B: Backend, const D: usize>(tensor: Tensor<B, D>) -> Result<Vec<f32>, TrainError> {
    tensor
        .into_data()
        .convert::<f32>()
        .to_vec()
        .map_err(|e| TrainError::Invalid(format!("cannot read tensor values: {e:?}")))
}

/// What a refinement reports at each recomputation of the target distribution.
#[derive(Debug, Clone, Serialize)]
pub struct DecUpdate {
    /// Optimizer steps taken so far.
    pub iteration: usize,
    /// Mean clustering loss KL(P‖Q) per item over the steps since the previous update (0 at
    /// the first update).
    pub clustering_loss: f64,
    /// Mean reconstruction loss per value over those steps (0 when its weight is 0).
    pub reconstruction_loss: f64,
    /// Fraction of items whose cluster changed since the previous update (1 at the first).
    pub changed_fraction: f64,
    /// Each training item's cluster at this update.
    #[serde(skip)]
    pub assignments: Vec<usize>,
}

/// The result of [`refine`].
#[derive(Debug)]
pub struct DecOutcome<B: Backend> {
    /// The fine-tuned model and centres.
    pub model: ClusteringModel<B>,
    /// Optimizer steps taken.
    pub iterations: usize,
    /// Whether it stopped because assignments settled (else it hit the step limit).
    pub converged: bool,
    /// One entry per target update, in order.
    pub updates: Vec<DecUpdate>,
}

/// Fine-tunes `model`'s encoder and centres on `data` (clean inputs) with the DEC loss
/// KL(P‖Q), plus `reconstruction_weight` × the mean reconstruction loss per value (IDEC).
/// `on_update` sees each recomputation of the target distribution.
pub fn refine<B: AutodiffBackend>(
    model: ClusteringModel<B>,
    data: Arc<Dataset>,
    settings: &DecSettings,
    device: &B::Device,
    mut on_update: impl FnMut(&DecUpdate),
) -> Result<DecOutcome<B::InnerBackend>, TrainError> {
    settings.validate()?;
    let n = data.len();
    if n == 0 {
        return Err(TrainError::Invalid(
            "DEC needs at least one training item".into(),
        ));
    }
    let [k, latent] = model.centres.val().dims();
    let dim = data.dim();
    let batcher = AeBatcher::new(data, Vec::new(), false, settings.seed);
    let first: AeBatch<B::InnerBackend> = batcher.batch(vec![0], device);
    let code = model.valid().model.encode(first.input).dims()[1];
    if code != latent {
        return Err(TrainError::Invalid(format!(
            "the centres are {latent}-D but the model's code is {code}-D"
        )));
    }
    let mut optimizer = AdamConfig::new().init::<B, ClusteringModel<B>>();
    let mut rng = ChaCha12Rng::seed_from_u64(settings.seed);
    let mut model = model;
    let mut order: Vec<usize> = (0..n).collect();
    let mut cursor = n;
    let mut targets: Vec<f32> = Vec::new();
    let mut previous: Option<Vec<usize>> = None;
    let mut updates = Vec::new();
    let (mut clustering_sum, mut reconstruction_sum, mut steps_since_update) = (0f64, 0f64, 0usize);
    let mut iteration = 0usize;
    let mut converged = false;
    loop {
        if iteration.is_multiple_of(settings.update_interval) {
            let q = assign_all(&model.valid(), &batcher, 1000, device)?;
            let assignments = hard_assignments(&q, k);
            let changed_fraction = match &previous {
                Some(before) => {
                    before
                        .iter()
                        .zip(&assignments)
                        .filter(|(a, b)| a != b)
                        .count() as f64
                        / n as f64
                }
                None => 1.0,
            };
            let steps = steps_since_update.max(1) as f64;
            let update = DecUpdate {
                iteration,
                clustering_loss: clustering_sum / steps,
                reconstruction_loss: reconstruction_sum / steps,
                changed_fraction,
                assignments,
            };
            on_update(&update);
            (clustering_sum, reconstruction_sum, steps_since_update) = (0.0, 0.0, 0);
            let settled = previous.is_some() && changed_fraction < settings.tolerance;
            previous = Some(update.assignments.clone());
            updates.push(update);
            if settled {
                converged = true;
                break;
            }
            targets = target_distribution(&q, k);
        }
        if iteration >= settings.max_iterations {
            break;
        }
        if cursor + settings.batch_size > n {
            order.shuffle(&mut rng);
            cursor = 0;
        }
        let chunk: Vec<usize> = order[cursor..(cursor + settings.batch_size).min(n)].to_vec();
        cursor += chunk.len();
        let target_rows: Vec<f32> = chunk
            .iter()
            .flat_map(|&i| targets[i * k..(i + 1) * k].iter().copied())
            .collect();
        let rows = chunk.len();
        let batch: AeBatch<B> = batcher.batch(chunk, device);
        let p = Tensor::<B, 2>::from_data(TensorData::new(target_rows, [rows, k]), device);
        // With a reconstruction term the forward pass's code is the one clustered, so the
        // encoder runs once per step either way.
        let (q, reconstruction) = if settings.reconstruction_weight > 0.0 {
            let output = model.model.forward(batch.input, batch.target, 0.0);
            let code = output.mean.unwrap_or(output.latent);
            let reconstruction = output.reconstruction_loss.mean() / dim as f64;
            (
                soft_assignment(code, model.centres.val()),
                Some(reconstruction),
            )
        } else {
            (model.assign(batch.input), None)
        };
        let clustering = (p.clone() * (p.clamp_min(1e-12).log() - q.clamp_min(1e-12).log()))
            .sum_dim(1)
            .mean();
        let (loss, values) = match reconstruction {
            Some(reconstruction) => (
                clustering.clone() + reconstruction.clone() * settings.reconstruction_weight,
                read_values(Tensor::cat(vec![clustering, reconstruction], 0))?,
            ),
            None => (clustering.clone(), read_values(clustering)?),
        };
        let clustering_value = f64::from(values[0]);
        if !clustering_value.is_finite() {
            return Err(TrainError::Diverged(format!(
                "the DEC loss became {clustering_value} at step {iteration}"
            )));
        }
        reconstruction_sum += values.get(1).copied().map_or(0.0, f64::from);
        clustering_sum += clustering_value;
        steps_since_update += 1;
        let gradients = GradientsParams::from_grads(loss.backward(), &model);
        model = optimizer.step(settings.learning_rate, model, gradients);
        iteration += 1;
    }
    Ok(DecOutcome {
        model: model.valid(),
        iterations: iteration,
        converged,
        updates,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    type TestBackend = burn_ndarray::NdArray<f32>;

    fn tensor(values: Vec<f32>, shape: [usize; 2]) -> Tensor<TestBackend, 2> {
        Tensor::from_data(TensorData::new(values, shape), &Default::default())
    }

    #[test]
    fn soft_assignment_matches_the_students_t_kernel_by_hand() {
        // Centres (1, 0) and (0, 3). z = (0, 0): kernels 1/2 and 1/10, so q = (5/6, 1/6);
        // z = (1, 0): kernels 1 and 1/11, so q = (11/12, 1/12).
        let q = soft_assignment(
            tensor(vec![0.0, 0.0, 1.0, 0.0], [2, 2]),
            tensor(vec![1.0, 0.0, 0.0, 3.0], [2, 2]),
        );
        let q: Vec<f32> = q.into_data().to_vec().unwrap();
        let expected = [5.0 / 6.0, 1.0 / 6.0, 11.0 / 12.0, 1.0 / 12.0];
        for (got, want) in q.iter().zip(expected) {
            assert!((got - want).abs() < 1e-6, "{q:?}");
        }
    }

    #[test]
    fn target_distribution_sharpens_and_balances() {
        // Two items, two clusters. Cluster frequencies: f = (1.5, 0.5).
        let q = [0.9, 0.1, 0.6, 0.4];
        let p = target_distribution(&q, 2);
        // Item 0: (0.81/1.5, 0.01/0.5) = (0.54, 0.02) → (0.9643, 0.0357).
        assert!((p[0] - 0.54 / 0.56).abs() < 1e-6, "{p:?}");
        // Item 1: (0.36/1.5, 0.16/0.5) = (0.24, 0.32): the small cluster now wins.
        assert!((p[3] - 0.32 / 0.56).abs() < 1e-6, "{p:?}");
        for row in p.chunks(2) {
            assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        }
        assert_eq!(hard_assignments(&p, 2), vec![0, 1]);
    }

    /// KL(P‖Q) of fixed targets `p` against the soft assignment of `latent` to `centres`.
    fn clustering_loss<B: Backend>(
        latent: Tensor<B, 2>,
        centres: Tensor<B, 2>,
        p: Tensor<B, 2>,
    ) -> Tensor<B, 1> {
        let q = soft_assignment(latent, centres);
        (p.clone() * (p.log() - q.log()))
            .sum_dim(1)
            .mean()
            .reshape([1])
    }

    #[test]
    fn clustering_loss_gradient_matches_finite_differences() {
        type Diff = ae_backend::NdArrayAutodiff;
        let device = Default::default();
        let latent = vec![0.3, -1.2, 2.0, 0.5, -0.7, 0.1];
        let centres = vec![1.0, 0.0, -0.5, 1.5];
        let p = vec![0.7, 0.3, 0.2, 0.8, 0.5, 0.5];
        let as_tensor = |values: &[f32], rows: usize| {
            Tensor::<Diff, 2>::from_data(TensorData::new(values.to_vec(), [rows, 2]), &device)
        };
        let centre_param = as_tensor(&centres, 2).require_grad();
        let loss = clustering_loss(
            as_tensor(&latent, 3),
            centre_param.clone(),
            as_tensor(&p, 3),
        );
        let gradients = loss.backward();
        let analytic: Vec<f32> = centre_param
            .grad(&gradients)
            .unwrap()
            .into_data()
            .to_vec()
            .unwrap();
        let value = |centres: &[f32]| -> f64 {
            let loss = clustering_loss(
                tensor(latent.clone(), [3, 2]),
                tensor(centres.to_vec(), [2, 2]),
                tensor(p.clone(), [3, 2]),
            );
            f64::from(loss.into_data().to_vec::<f32>().unwrap()[0])
        };
        let step = 1e-2f32;
        for i in 0..centres.len() {
            let (mut up, mut down) = (centres.clone(), centres.clone());
            up[i] += step;
            down[i] -= step;
            let numeric = (value(&up) - value(&down)) / (2.0 * f64::from(step));
            assert!(
                (numeric - f64::from(analytic[i])).abs() < 1e-3,
                "centre value {i}: autodiff {} vs finite differences {numeric}",
                analytic[i]
            );
        }
    }

    #[test]
    fn invalid_settings_are_rejected() {
        for settings in [
            DecSettings {
                batch_size: 0,
                ..DecSettings::default()
            },
            DecSettings {
                update_interval: 0,
                ..DecSettings::default()
            },
            DecSettings {
                tolerance: 1.5,
                ..DecSettings::default()
            },
            DecSettings {
                reconstruction_weight: -1.0,
                ..DecSettings::default()
            },
        ] {
            assert!(settings.validate().is_err(), "{settings:?}");
        }
        assert!(DecSettings::default().validate().is_ok());
    }
}
