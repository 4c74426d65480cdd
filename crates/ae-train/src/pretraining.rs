//! Greedy layer-wise pretraining of a logistic MLP autoencoder as a stack of RBMs, then
//! unrolled into its encoder and decoder (Hinton & Salakhutdinov 2006). Each RBM learns the
//! hidden means of the one below; the last has Gaussian hidden units so the code is
//! real-valued. Encoder layer i starts from RBM i's weights and hidden biases, the mirrored
//! decoder layer from their transpose and the visible biases; fine-tuning then trains the
//! whole network end to end.

use std::time::Instant;

use ae_data::Dataset;
use ae_models::ReconstructionLoss;
use ae_models::{
    Activation, ArchitectureConfig, Autoencoder, Decoder, Encoder, ModelConfig, NormKind,
};
use burn::module::Param;
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::{ElementConversion, Int, Tensor, TensorData};
use rand::SeedableRng;
use rand::rngs::ChaCha12Rng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use crate::error::TrainError;
use crate::rbm::{CdStep, HiddenUnits, Rbm};

/// How each RBM of the stack is trained (CD-1 with momentum and weight cost); the defaults
/// are Hinton & Salakhutdinov's, with 20 epochs per RBM where they used 50.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RbmPretraining {
    /// Passes over the training data for each RBM.
    pub epochs: usize,
    /// Items per CD-1 update.
    pub batch_size: usize,
    /// Learning rate of the RBMs with logistic hidden units.
    pub learning_rate: f64,
    /// Learning rate of the top RBM, whose linear hidden units are the code.
    pub code_learning_rate: f64,
    /// L2 penalty on the weights.
    pub weight_cost: f64,
    /// Momentum after the first `initial_momentum_epochs` epochs.
    pub momentum: f64,
    /// Momentum during the first `initial_momentum_epochs` epochs.
    pub initial_momentum: f64,
    /// Epochs that use `initial_momentum`.
    pub initial_momentum_epochs: usize,
}

impl Default for RbmPretraining {
    fn default() -> Self {
        Self {
            epochs: 20,
            batch_size: 100,
            learning_rate: 0.1,
            code_learning_rate: 0.001,
            weight_cost: 0.0002,
            momentum: 0.9,
            initial_momentum: 0.5,
            initial_momentum_epochs: 5,
        }
    }
}

impl RbmPretraining {
    /// Checks the settings, and that `model` is an autoencoder the stack can initialize: an
    /// MLP with logistic hidden units and a cross-entropy (logistic) output.
    pub fn validate(&self, model: &ModelConfig) -> Result<(), TrainError> {
        let invalid = |m: String| Err(TrainError::Invalid(m));
        if self.epochs == 0 || self.batch_size == 0 {
            return invalid(
                "training.rbm_pretraining: epochs and batch_size must be at least 1".into(),
            );
        }
        for (name, rate) in [
            ("learning_rate", self.learning_rate),
            ("code_learning_rate", self.code_learning_rate),
        ] {
            if !(rate.is_finite() && rate > 0.0) {
                return invalid(format!(
                    "training.rbm_pretraining.{name} must be positive, got {rate}"
                ));
            }
        }
        if !(self.weight_cost.is_finite() && self.weight_cost >= 0.0) {
            return invalid("training.rbm_pretraining.weight_cost must be non-negative".into());
        }
        for (name, m) in [
            ("momentum", self.momentum),
            ("initial_momentum", self.initial_momentum),
        ] {
            if !(0.0..1.0).contains(&m) {
                return invalid(format!(
                    "training.rbm_pretraining.{name} must be in [0, 1), got {m}"
                ));
            }
        }
        let suitable = match model {
            ModelConfig::Autoencoder(c) => {
                c.loss == ReconstructionLoss::Bce
                    && matches!(
                        c.architecture,
                        ArchitectureConfig::Mlp {
                            activation: Activation::Sigmoid,
                            norm: NormKind::None,
                            ..
                        }
                    )
            }
            ModelConfig::Vae(_) => false,
        };
        if !suitable {
            return invalid(
                "training.rbm_pretraining needs model = \"autoencoder\" with an MLP architecture, activation = \"sigmoid\" and loss = \"bce\" without normalization (RBMs have logistic units)".into(),
            );
        }
        Ok(())
    }

    fn step(&self, hidden_units: HiddenUnits, epoch: usize) -> CdStep {
        CdStep {
            learning_rate: match hidden_units {
                HiddenUnits::Logistic => self.learning_rate,
                HiddenUnits::Gaussian => self.code_learning_rate,
            },
            momentum: if epoch < self.initial_momentum_epochs {
                self.initial_momentum
            } else {
                self.momentum
            },
            weight_cost: self.weight_cost,
        }
    }
}

/// Progress of one RBM after one epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RbmEpoch {
    /// Which RBM of the stack, from 1 at the input.
    pub layer: usize,
    /// RBMs in the stack.
    pub layers: usize,
    /// Visible units.
    pub visible: usize,
    /// Hidden units.
    pub hidden: usize,
    /// Epoch just finished, from 1.
    pub epoch: usize,
    /// Epochs per RBM.
    pub epochs: usize,
    /// Mean squared error per item of the epoch's CD-1 reconstructions.
    pub reconstruction_error: f64,
    /// Seconds since pretraining began.
    pub seconds: f64,
    /// Estimated seconds left of the whole stack, weighing each RBM's epochs by its weights'
    /// size (the cost of CD-1).
    pub seconds_left: f64,
}

/// Pretrains every layer of `model` (a logistic MLP autoencoder, see
/// [`RbmPretraining::validate`]) as a stack of RBMs on the inputs of `data` and returns the
/// model with the unrolled weights. `on_epoch` sees each RBM's progress.
pub fn pretrain_autoencoder<B: AutodiffBackend>(
    mut model: Autoencoder<B>,
    data: &Dataset,
    settings: &RbmPretraining,
    seed: u64,
    mut on_epoch: impl FnMut(&RbmEpoch),
) -> Result<Autoencoder<B>, TrainError> {
    let (Encoder::Mlp(encoder), Decoder::Mlp(decoder)) = (&mut model.encoder, &mut model.decoder)
    else {
        return Err(TrainError::Invalid(
            "training.rbm_pretraining needs an MLP autoencoder".into(),
        ));
    };
    let layers = encoder.layers.len();
    if layers == 0 || decoder.layers.len() != layers || data.is_empty() {
        return Err(TrainError::Invalid(
            "training.rbm_pretraining needs training items and a mirrored MLP".into(),
        ));
    }
    for (layer, encoder_layer) in encoder.layers.iter().enumerate() {
        let [visible, hidden] = encoder_layer.weight.dims();
        if decoder.layers[layers - 1 - layer].weight.dims() != [hidden, visible] {
            return Err(TrainError::Invalid(format!(
                "training.rbm_pretraining unrolls each encoder layer into its mirror in the \
                 decoder, but encoder layer {} is {visible}x{hidden} and its mirror is not \
                 {hidden}x{visible} (paired targets of another size than the inputs?)",
                layer + 1
            )));
        }
    }
    let device = encoder.layers[0].weight.device();
    let mut inputs = Vec::with_capacity(data.len() * data.dim());
    for i in 0..data.len() {
        data.extend_with_input(i, &mut inputs);
    }
    let mut representation = Tensor::<B::InnerBackend, 2>::from_data(
        TensorData::new(inputs, [data.len(), data.dim()]),
        &device,
    );
    let mut order: Vec<usize> = (0..data.len()).collect();
    let mut rng = ChaCha12Rng::seed_from_u64(seed);
    let started = Instant::now();
    // Work of an epoch is proportional to the RBM's weights.
    let total_work: f64 = encoder
        .layers
        .iter()
        .map(|l| {
            let [v, h] = l.weight.dims();
            (v * h) as f64
        })
        .sum::<f64>()
        * settings.epochs as f64;
    let mut work_done = 0.0;
    for layer in 0..layers {
        let [visible, hidden] = encoder.layers[layer].weight.dims();
        let units = if layer + 1 == layers {
            HiddenUnits::Gaussian
        } else {
            HiddenUnits::Logistic
        };
        let mut rbm = Rbm::<B::InnerBackend>::new(visible, hidden, units, &device);
        for epoch in 0..settings.epochs {
            order.shuffle(&mut rng);
            let step = settings.step(units, epoch);
            let mut error = Tensor::<B::InnerBackend, 1>::zeros([1], &device);
            for chunk in order.chunks(settings.batch_size) {
                let rows = Tensor::<B::InnerBackend, 1, Int>::from_data(
                    TensorData::new(
                        chunk.iter().map(|&i| i as i64).collect::<Vec<_>>(),
                        [chunk.len()],
                    ),
                    &device,
                );
                let batch = representation.clone().select(0, rows);
                error = error + rbm.contrastive_divergence(batch, step);
            }
            let total: f64 = error.into_scalar().elem();
            if !total.is_finite() {
                return Err(TrainError::Diverged(format!(
                    "RBM {} of the pretraining stack reached a non-finite reconstruction error at epoch {}; lower training.rbm_pretraining.{}",
                    layer + 1,
                    epoch + 1,
                    if units == HiddenUnits::Gaussian {
                        "code_learning_rate"
                    } else {
                        "learning_rate"
                    }
                )));
            }
            work_done += (visible * hidden) as f64;
            let seconds = started.elapsed().as_secs_f64();
            on_epoch(&RbmEpoch {
                seconds_left: seconds * (total_work - work_done).max(0.0) / work_done.max(1.0),
                layer: layer + 1,
                layers,
                visible,
                hidden,
                epoch: epoch + 1,
                epochs: settings.epochs,
                reconstruction_error: total / data.len() as f64,
                seconds,
            });
        }
        representation = rbm.hidden_mean(representation);
        let encoder_layer = &mut encoder.layers[layer];
        encoder_layer.weight = Param::from_tensor(Tensor::from_inner(rbm.weights.clone()));
        encoder_layer.bias = Some(Param::from_tensor(Tensor::from_inner(rbm.hidden_bias)));
        let decoder_layer = &mut decoder.layers[layers - 1 - layer];
        decoder_layer.weight = Param::from_tensor(Tensor::from_inner(rbm.weights.transpose()));
        decoder_layer.bias = Some(Param::from_tensor(Tensor::from_inner(rbm.visible_bias)));
    }
    Ok(model)
}
