//! Data-parallel training on several devices in one process (`training.devices`), through
//! burn-train's multi-device strategy; on this CPU, two workers side by side on one device.

use crate::common::{datasets, quiet};

use ae_backend::NdArrayAutodiff;
use ae_models::{ArchitectureConfig, AutoencoderConfig, ModelConfig};
use ae_train::trainer::training_devices;
use ae_train::{DataConfig, DataSource, ExperimentConfig, RunDir, TrainingConfig, train};

type B = NdArrayAutodiff;

fn config(devices: Vec<usize>, batch_size: usize) -> ExperimentConfig {
    let mut data = DataConfig::new(DataSource::Mnist);
    data.path = Some(datasets());
    data.limit = Some(2000);
    ExperimentConfig {
        distributed: None,
        seed: 3,
        data,
        model: ModelConfig::Autoencoder(AutoencoderConfig::new(
            32,
            ArchitectureConfig::mlp(vec![256], Default::default()),
        )),
        training: TrainingConfig {
            epochs: 6,
            batch_size,
            devices,
            ..TrainingConfig::default()
        },
    }
}

/// Validation losses by epoch, from the run's metrics.csv.
fn validation_curve(run: &std::path::Path) -> Vec<f64> {
    let text = std::fs::read_to_string(run.join("metrics.csv")).unwrap();
    text.lines()
        .skip(1)
        .filter(|l| l.split(',').nth(1) == Some("valid"))
        .map(|l| l.split(',').nth(2).unwrap().parse().unwrap())
        .collect()
}

#[test]
fn two_workers_follow_the_curve_of_one_device_with_the_same_global_batch() {
    let dir = tempfile::tempdir().unwrap();
    let (one, two) = (dir.path().join("one"), dir.path().join("two"));
    let single = train::<B>(
        &config(vec![], 64),
        &RunDir::new(&one),
        Default::default(),
        &quiet(),
    )
    .unwrap();
    let double = train::<B>(
        &config(vec![0, 0], 64),
        &RunDir::new(&two),
        Default::default(),
        &quiet(),
    )
    .unwrap();
    assert_eq!(double.epochs, 6);
    let (a, b) = (validation_curve(&one), validation_curve(&two));
    assert_eq!(a.len(), 6);
    assert_eq!(b.len(), 6);
    // The loss falls the same way: every epoch within 6% (the workers shuffle their own halves,
    // so the batches differ), the end within 4%.
    for (epoch, (x, y)) in a.iter().zip(&b).enumerate() {
        assert!(
            (x - y).abs() / x < 0.06,
            "epoch {}: one device {x}, two {y}",
            epoch + 1
        );
    }
    let (x, y) = (single.validation.loss, double.validation.loss);
    assert!(
        (x - y).abs() / x < 0.04,
        "final loss: one device {x}, two {y}"
    );
    assert!(y < 140.0, "two workers reached {y}");
    // Halving the global batch instead (each worker with the full 64) is a different curve:
    // twice the steps per epoch learns faster early on, which the test above would notice.
    let halves = dir.path().join("halves");
    train::<B>(
        &config(vec![], 32),
        &RunDir::new(&halves),
        Default::default(),
        &quiet(),
    )
    .unwrap();
    let c = validation_curve(&halves);
    eprintln!(
        "validation loss by epoch\n one device, batch 64: {a:?}\n two workers, 2 × 32: {b:?}\n one device, batch 32: {c:?}"
    );
    assert!(
        (a[0] - c[0]) / a[0] > 0.06,
        "batch 32 epoch 1 {} vs batch 64 {}: the comparison cannot tell batch sizes apart",
        c[0],
        a[0]
    );
    // The saved config keeps the devices.
    let saved = ExperimentConfig::load(&two.join("config.toml")).unwrap();
    assert_eq!(saved.training.devices, vec![0, 0]);
}

#[test]
fn a_batch_that_does_not_split_over_the_devices_is_refused() {
    let err = config(vec![0, 0, 0], 64)
        .validate()
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("does not split evenly over 3 devices"),
        "{err}"
    );
    config(vec![0, 0], 64).validate().unwrap();
    config(vec![5], 63).validate().unwrap();
}

#[test]
fn device_indices_become_devices_of_the_same_kind() {
    let device = Default::default();
    assert_eq!(training_devices::<B>(&device, &[]).len(), 1);
    assert_eq!(training_devices::<B>(&device, &[3]), vec![device]);
    let two = training_devices::<B>(&device, &[0, 1]);
    assert_eq!(two.len(), 2);
    // A CPU backend has one device, whatever the index.
    assert!(two.iter().all(|d| *d == device));
}

/// The sum of squared gradients over every float parameter.
struct SquaredGradients<'a> {
    grads: &'a burn::optim::GradientsParams,
    sum: f64,
}

impl<AB: burn::tensor::backend::AutodiffBackend> burn::module::ModuleVisitor<AB>
    for SquaredGradients<'_>
{
    fn visit_float<const D: usize>(
        &mut self,
        param: &burn::module::Param<burn::tensor::Tensor<AB, D>>,
    ) {
        if let Some(g) = self.grads.get::<AB::InnerBackend, D>(param.id) {
            self.sum += burn::tensor::ElementConversion::elem::<f64>(
                g.powf_scalar(2.0).sum().into_scalar(),
            );
        }
    }
}

#[test]
fn each_devices_gradient_is_its_share_of_the_global_mean() {
    use ae_train::step::{StepCounter, Trainable};
    use burn::module::Module;
    use burn::tensor::{Distribution, Tensor};
    use burn::train::TrainStep;

    let device = Default::default();
    let model = config(vec![], 64).model.init::<B>(&device).unwrap();
    let input = Tensor::<B, 2>::random([16, 784], Distribution::Uniform(0.0, 1.0), &device);
    let squared = |devices: usize| {
        let trainable = Trainable {
            model: model.clone(),
            steps: StepCounter::starting_at(0),
            devices,
        };
        let batch = ae_data::AeBatch {
            input: input.clone(),
            target: input.clone(),
            labels: None,
        };
        let output = TrainStep::step(&trainable, batch);
        let mut visitor = SquaredGradients {
            grads: &output.grads,
            sum: 0.0,
        };
        trainable.visit(&mut visitor);
        visitor.sum
    };
    let (one, two) = (squared(1), squared(2));
    assert!(one > 0.0);
    // Each of two devices' gradients is half its batch's: the two sum to the global mean.
    assert!(
        (two / one - 0.25).abs() < 1e-4,
        "squared gradient with 2 devices {two}, with 1 {one}: ratio {}",
        two / one
    );
}
