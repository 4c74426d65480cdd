//! Shared pieces of the backend benchmarks: the benchmarked model's config, a random input
//! batch, and one full training step (forward, backward, Adam update), generic over the
//! autodiff backend so that every compiled backend runs exactly the same work.

use ae_models::{
    Activation, AnyModel, ArchitectureConfig, InputShape, Likelihood, ModelConfig, ModelError,
    VaeConfig,
};
use burn::optim::adaptor::OptimizerAdaptor;
use burn::optim::{Adam, AdamConfig, GradientsParams, Optimizer};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Distribution, ElementConversion, Tensor};

/// Name of the benchmarked model: the `mlp-vae-mnist` experiment.
pub const MODEL_NAME: &str = "mlp-vae-mnist";

/// Items per benchmarked training step.
pub const BATCH_SIZE: usize = 128;

/// Learning rate of the benchmarked Adam step (the experiment's).
pub const LEARNING_RATE: f64 = 1e-3;

/// The `mlp-vae-mnist` model: a 784-400-20 Bernoulli VAE with ReLU hidden layers on 1×28×28
/// inputs (the shape of PyTorch's `examples/vae`).
pub fn mlp_vae_config() -> ModelConfig {
    ModelConfig::Vae(
        VaeConfig::new(
            20,
            ArchitectureConfig::Mlp {
                hidden: vec![400],
                activation: Activation::Relu,
            },
        )
        .with_input_shape(InputShape::new(1, 28, 28))
        .with_likelihood(Likelihood::Bernoulli),
    )
}

/// A `[batch_size, dim]` batch of values drawn uniformly from [0, 1) on `device`.
pub fn random_batch<B: Backend>(batch_size: usize, dim: usize, device: &B::Device) -> Tensor<B, 2> {
    Tensor::random([batch_size, dim], Distribution::Default, device)
}

/// One full training step of `model` on `batch` (used as both input and target): forward pass,
/// backward pass and optimizer update with learning rate `learning_rate`, at the model's full
/// KL weight. Returns the updated model and the batch's loss, read back to the host after the
/// update and followed by a device sync, so the step's work has finished on asynchronous
/// backends (wgpu) when this returns.
///
/// # Panics
///
/// If the backend reports an execution error while syncing.
pub fn train_step<B, O>(
    model: AnyModel<B>,
    optimizer: &mut O,
    batch: &Tensor<B, 2>,
    learning_rate: f64,
) -> (AnyModel<B>, f32)
where
    B: AutodiffBackend,
    O: Optimizer<AnyModel<B>, B>,
{
    let device = batch.device();
    let kl_weight = model.kl_weight(usize::MAX);
    let loss = model
        .forward(batch.clone(), batch.clone(), kl_weight)
        .loss();
    let grads = GradientsParams::from_grads(loss.backward(), &model);
    let model = optimizer.step(learning_rate, model, grads);
    let loss = loss.into_scalar().elem::<f32>();
    B::sync(&device).expect("the backend failed to finish the training step");
    (model, loss)
}

/// A model and its Adam optimizer, stepped in place with [`train_step`].
pub struct Trainer<B: AutodiffBackend> {
    /// Always `Some` between steps; taken out for the duration of one step so that the
    /// optimizer owns the only handle to the parameters and may update them in place.
    model: Option<AnyModel<B>>,
    optimizer: OptimizerAdaptor<Adam, AnyModel<B>, B>,
    learning_rate: f64,
}

impl<B: AutodiffBackend> Trainer<B> {
    /// Builds `config`'s model on `device` with a default Adam optimizer at [`LEARNING_RATE`].
    pub fn new(config: &ModelConfig, device: &B::Device) -> Result<Self, ModelError> {
        Ok(Self {
            model: Some(config.init(device)?),
            optimizer: AdamConfig::new().init(),
            learning_rate: LEARNING_RATE,
        })
    }

    /// Runs one training step on `batch` and returns its loss (computed before the update).
    pub fn step(&mut self, batch: &Tensor<B, 2>) -> f32 {
        let model = self
            .model
            .take()
            .expect("the model is put back after every step");
        let (model, loss) = train_step(model, &mut self.optimizer, batch, self.learning_rate);
        self.model = Some(model);
        loss
    }
}

#[cfg(all(test, feature = "ndarray"))]
mod tests {
    use super::*;
    use ae_backend::NdArrayAutodiff;

    #[test]
    fn twenty_adam_steps_reduce_the_loss_on_a_fixed_batch() {
        let device = Default::default();
        NdArrayAutodiff::seed(&device, 42);
        let config = mlp_vae_config();
        // Sparse binary pixels, like MNIST's: a fixed batch the model can fit quickly.
        let batch = Tensor::<NdArrayAutodiff, 2>::random(
            [32, config.input_shape().dim()],
            Distribution::Bernoulli(0.2),
            &device,
        );
        let mut trainer = Trainer::<NdArrayAutodiff>::new(&config, &device)
            .expect("the benchmark config is valid");
        let losses: Vec<f32> = (0..20).map(|_| trainer.step(&batch)).collect();
        assert!(losses.iter().all(|l| l.is_finite()), "{losses:?}");
        let first = losses[0];
        let last_five = losses[15..].iter().sum::<f32>() / 5.0;
        // Starts near 784·ln 2 ≈ 543 nats; matching the pixel mean alone brings it to
        // 784·H(0.2) ≈ 392 (observed: about 549 to 390 in 20 steps).
        assert!(
            last_five < first - 100.0,
            "loss did not drop: first {first}, mean of the last five {last_five}; {losses:?}"
        );
    }

    #[test]
    fn the_config_matches_the_experiment() {
        let config = mlp_vae_config();
        assert_eq!(config.name(), "vae");
        assert_eq!(config.input_shape().dim(), 784);
        assert_eq!(config.latent(), 20);
        config.validate().expect("valid");
    }
}
