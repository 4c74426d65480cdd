//! Shared pieces of the backend benchmarks: the benchmarked model's config, a random input
//! batch, and one full training step (forward, backward, Adam update), generic over the
//! autodiff backend so that every compiled backend runs exactly the same work.

use ae_backend::BackendKind;
use ae_models::{
    Activation, AnyModel, ArchitectureConfig, AutoencoderConfig, InputShape, Likelihood,
    ModelConfig, ModelError, ReconstructionLoss, VaeConfig,
};
use burn::optim::adaptor::OptimizerAdaptor;
use burn::optim::{Adam, AdamConfig, GradientsParams, Optimizer};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Distribution, ElementConversion, Tensor};

/// Items per benchmarked training step.
pub const BATCH_SIZE: usize = 128;

/// Items per benchmarked encoder inference.
pub const INFERENCE_BATCH_SIZE: usize = 1000;

/// Learning rate of the benchmarked Adam step (the experiment's).
pub const LEARNING_RATE: f64 = 1e-3;

/// The reference models every backend is benchmarked on, all on 1×28×28 inputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReferenceModel {
    /// A 784-400-20 Bernoulli VAE with ReLU hidden layers (PyTorch's `examples/vae`).
    MlpVae,
    /// A 784-1000-500-250-30 autoencoder with ReLU hidden layers and BCE (Hinton &
    /// Salakhutdinov's shape).
    DeepAe,
    /// Conv 1→32 and 32→64 (kernel 4, stride 2), Linear 3136→16, mirrored with transposed
    /// convolutions; BCE.
    ConvAe,
}

impl ReferenceModel {
    /// Every reference model.
    pub const ALL: [ReferenceModel; 3] = [Self::MlpVae, Self::DeepAe, Self::ConvAe];

    /// The model's name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Self::MlpVae => "mlp-vae",
            Self::DeepAe => "deep-ae",
            Self::ConvAe => "conv-ae",
        }
    }

    /// The model with this name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.name() == name)
    }

    /// The model's config.
    pub fn config(self) -> ModelConfig {
        let shape = InputShape::new(1, 28, 28);
        match self {
            Self::MlpVae => ModelConfig::Vae(
                VaeConfig::new(20, ArchitectureConfig::mlp(vec![400], Activation::Relu))
                    .with_input_shape(shape)
                    .with_likelihood(Likelihood::Bernoulli),
            ),
            Self::DeepAe => ModelConfig::Autoencoder(
                AutoencoderConfig::new(
                    30,
                    ArchitectureConfig::mlp(vec![1000, 500, 250], Activation::Relu),
                )
                .with_input_shape(shape)
                .with_loss(ReconstructionLoss::Bce),
            ),
            Self::ConvAe => ModelConfig::Autoencoder(
                AutoencoderConfig::new(
                    16,
                    ArchitectureConfig::Conv {
                        channels: vec![32, 64],
                        kernel_size: 4,
                        activation: Activation::Relu,
                    },
                )
                .with_input_shape(shape)
                .with_loss(ReconstructionLoss::Bce),
            ),
        }
    }

    /// Multiply-adds of one item's forward pass through the weight layers (encoder and
    /// decoder; element-wise work and the loss are left out, as usual).
    pub fn forward_multiply_adds(self) -> u64 {
        // (inputs, outputs) of each dense layer, and for convolutions
        // (output positions × output channels, input channels × kernel area).
        let dense = |layers: &[(u64, u64)]| layers.iter().map(|(i, o)| i * o).sum::<u64>();
        match self {
            // The encoder's last layer gives mean and log-variance: 400 → 2 × 20.
            Self::MlpVae => dense(&[(784, 400), (400, 40), (20, 400), (400, 784)]),
            Self::DeepAe => dense(&[
                (784, 1000),
                (1000, 500),
                (500, 250),
                (250, 30),
                (30, 250),
                (250, 500),
                (500, 1000),
                (1000, 784),
            ]),
            Self::ConvAe => {
                let conv1 = 14 * 14 * 32 * 16;
                let conv2 = 7 * 7 * 64 * (32 * 16);
                let linear = 3136 * 16;
                // The decoder mirrors the encoder: the same multiply-adds again.
                2 * (conv1 + conv2 + linear)
            }
        }
    }

    /// Floating-point operations of one item's training step: the forward pass, and a
    /// backward pass of twice its cost (gradients of inputs and of weights), 2 per
    /// multiply-add. (`cargo xtask bench` keeps the same counts without building burn:
    /// `training_flops_per_image` in xtask/src/bench.rs; change both together.)
    pub fn training_flops(self) -> u64 {
        2 * 3 * self.forward_multiply_adds()
    }
}

/// The name a backend is reported under: `ndarray-openblas` for burn-ndarray built with the
/// system OpenBLAS (the `openblas` feature), else the backend's own name.
pub fn backend_label(backend: BackendKind) -> String {
    if backend == BackendKind::Ndarray && cfg!(feature = "openblas") {
        "ndarray-openblas".to_string()
    } else {
        backend.to_string()
    }
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
    use burn::module::Module;

    #[test]
    fn twenty_adam_steps_reduce_the_loss_on_a_fixed_batch() {
        let device = Default::default();
        NdArrayAutodiff::seed(&device, 42);
        let config = ReferenceModel::MlpVae.config();
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
    fn every_reference_model_builds_and_encodes_to_its_latent_size() {
        let device = Default::default();
        for model in ReferenceModel::ALL {
            let config = model.config();
            config.validate().expect("valid");
            assert_eq!(ReferenceModel::from_name(model.name()), Some(model));
            let built: AnyModel<NdArrayAutodiff> = config.init(&device).expect("builds");
            let batch = random_batch::<NdArrayAutodiff>(3, 784, &device);
            assert_eq!(built.encode(batch).dims(), [3, config.latent()]);
            // The multiply-add count matches the number of weights for the dense models
            // (each weight is used once per item), and the conv model's is the larger.
            let weights = built.num_params() as u64;
            let multiply_adds = model.forward_multiply_adds();
            match model {
                ReferenceModel::ConvAe => assert!(multiply_adds > 10 * weights),
                _ => assert!(
                    weights >= multiply_adds && weights - multiply_adds < 5_000,
                    "{model:?}: {weights} weights, {multiply_adds} multiply-adds"
                ),
            }
        }
    }

    #[test]
    fn the_config_matches_the_experiment() {
        let config = ReferenceModel::MlpVae.config();
        assert_eq!(config.name(), "vae");
        assert_eq!(config.input_shape().dim(), 784);
        assert_eq!(config.latent(), 20);
        config.validate().expect("valid");
    }
}
