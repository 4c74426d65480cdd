//! The train and validation steps that connect any model to burn-train.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use ae_data::AeBatch;
use ae_models::{AnyModel, ModelOutput};
use burn::module::Module;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Tensor, TensorData};
use burn::train::metric::{Adaptor, ItemLazy};
use burn::train::{InferenceStep, TrainOutput, TrainStep};

/// Counts optimizer steps, shared by the clones burn-train makes of the model.
#[derive(Debug, Clone, Default)]
pub struct StepCounter(Arc<AtomicUsize>);

impl StepCounter {
    /// A counter starting at `start`.
    pub fn starting_at(start: usize) -> Self {
        Self(Arc::new(AtomicUsize::new(start)))
    }
    /// Returns the current count and increments it.
    pub fn next(&self) -> usize {
        self.0.fetch_add(1, Ordering::Relaxed)
    }
}

/// A model as burn-train sees it: the model plus the step count that drives KL warm-up.
#[derive(Module, Debug)]
pub struct Trainable<B: Backend> {
    /// The model.
    pub model: AnyModel<B>,
    /// Batches stepped so far (one per device per optimizer step).
    #[module(skip)]
    pub steps: StepCounter,
    /// Devices stepping side by side (1 on one device): each batch's loss is divided by it, so
    /// that the gradients burn-train sums over the devices are the mean over the global batch.
    #[module(skip)]
    pub devices: usize,
}

/// Batch sums of the loss terms, still on the device (one transfer when synced).
pub struct StepOutput<B: Backend> {
    sums: Tensor<B, 1>,
    batch_size: usize,
    variational: bool,
}

/// Per-example means of the loss terms of one batch, on the host.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepStats {
    /// Items in the batch.
    pub batch_size: usize,
    /// Objective (reconstruction + weight × KL).
    pub loss: f64,
    /// Reconstruction term.
    pub reconstruction: f64,
    /// KL term (VAE only).
    pub kl: Option<f64>,
    /// Negative ELBO (reconstruction + KL); the reconstruction term for an autoencoder.
    pub negative_elbo: f64,
    /// Squared error of the mean reconstruction.
    pub squared_error: f64,
}

impl<B: Backend> StepOutput<B> {
    /// Collects the batch sums of `output`'s terms.
    pub fn new(output: &ModelOutput<B>) -> Self {
        let [batch_size] = output.total.dims();
        let kl = output
            .kl
            .clone()
            .unwrap_or_else(|| output.total.zeros_like());
        let sums = Tensor::cat(
            vec![
                output.total.clone().sum(),
                output.reconstruction_loss.clone().sum(),
                kl.sum(),
                output.squared_error.clone().sum(),
            ],
            0,
        );
        Self {
            sums,
            batch_size,
            variational: output.kl.is_some(),
        }
    }
}

impl StepStats {
    /// Means from a data row `[loss, reconstruction, kl, squared_error]` of batch sums.
    pub fn from_sums(sums: &[f32], batch_size: usize, variational: bool) -> Self {
        let n = batch_size.max(1) as f64;
        let mean = |i: usize| sums.get(i).copied().unwrap_or(f32::NAN) as f64 / n;
        let kl = variational.then(|| mean(2));
        Self {
            batch_size,
            loss: mean(0),
            reconstruction: mean(1),
            kl,
            negative_elbo: mean(1) + kl.unwrap_or(0.0),
            squared_error: mean(3),
        }
    }
}

impl<B: Backend> ItemLazy for StepOutput<B> {
    type ItemSync = StepStats;

    fn sync(self) -> StepStats {
        let data: TensorData = self.sums.into_data();
        let sums: Vec<f32> = data.iter::<f32>().collect();
        StepStats::from_sums(&sums, self.batch_size, self.variational)
    }
}

impl Adaptor<StepStats> for StepStats {
    fn adapt(&self) -> StepStats {
        *self
    }
}

impl<B: AutodiffBackend> TrainStep for Trainable<B> {
    type Input = AeBatch<B>;
    type Output = StepOutput<B>;

    fn step(&self, batch: AeBatch<B>) -> TrainOutput<StepOutput<B>> {
        let devices = self.devices.max(1);
        // KL warm-up counts optimizer steps, whatever the number of devices.
        let kl_weight = self.model.kl_weight(self.steps.next() / devices);
        ae_kernels::on_cpu_pool::<B, _>(|| {
            let output = self.model.forward(batch.input, batch.target, kl_weight);
            let loss = output.loss();
            let grads = if devices > 1 {
                (loss / devices as f64).backward()
            } else {
                loss.backward()
            };
            TrainOutput::new(self, grads, StepOutput::new(&output))
        })
    }
}

impl<B: Backend> InferenceStep for Trainable<B> {
    type Input = AeBatch<B>;
    type Output = StepOutput<B>;

    fn step(&self, batch: AeBatch<B>) -> StepOutput<B> {
        let kl_weight = self.model.kl_weight(usize::MAX);
        let output = self.model.forward(batch.input, batch.target, kl_weight);
        StepOutput::new(&output)
    }
}
