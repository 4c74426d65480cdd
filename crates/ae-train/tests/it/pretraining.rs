//! Greedy RBM pretraining of a logistic MLP autoencoder on a slice of the shipped MNIST, on
//! ndarray.

use std::sync::Arc;

use crate::common::{datasets, quiet, train_error};

use ae_backend::NdArrayAutodiff;
use ae_data::AeBatcher;
use ae_data::prepare;
use ae_models::{
    Activation, AnyModel, ArchitectureConfig, Autoencoder, AutoencoderConfig, Decoder, Encoder,
    ModelConfig,
};
use ae_train::pretraining::{RbmPretraining, pretrain_autoencoder};
use ae_train::{DataConfig, DataSource, ExperimentConfig, RunDir, TrainingConfig, evaluate, train};
use burn::module::AutodiffModule;
use burn::tensor::backend::Backend;

type B = NdArrayAutodiff;
type Inner = burn_ndarray::NdArray<f32>;

fn logistic_config(hidden: Vec<usize>, latent: usize, limit: usize) -> ExperimentConfig {
    let mut data = DataConfig::new(DataSource::Mnist);
    data.path = Some(datasets());
    data.limit = Some(limit);
    ExperimentConfig {
        distributed: None,
        seed: 4,
        data,
        model: ModelConfig::Autoencoder(AutoencoderConfig::new(
            latent,
            ArchitectureConfig::mlp(hidden, Activation::Sigmoid),
        )),
        training: TrainingConfig {
            epochs: 1,
            batch_size: 50,
            learning_rate: 1e-4,
            rbm_pretraining: Some(RbmPretraining {
                epochs: 10,
                batch_size: 20,
                ..RbmPretraining::default()
            }),
            ..TrainingConfig::default()
        },
    }
}

/// The autoencoder the trainer would start from, before any pretraining.
fn fresh(config: &ExperimentConfig) -> Autoencoder<B> {
    let device = Default::default();
    B::seed(&device, config.seed);
    match config.model.init::<B>(&device).unwrap() {
        AnyModel::Autoencoder(model) => model,
        AnyModel::Vae(_) => unreachable!("the config builds an autoencoder"),
    }
}

fn values(t: burn::tensor::Tensor<Inner, 2>) -> Vec<f32> {
    t.into_data().to_vec().unwrap()
}

#[test]
fn the_unrolled_rbm_stack_reconstructs_far_better_than_a_random_start() {
    let config = logistic_config(vec![200, 100], 20, 2000);
    let data = prepare(&config.data, config.seed).unwrap();
    let batcher = AeBatcher::new(Arc::new(data.valid.clone()), vec![], false, 0);
    let device = Default::default();
    let score = |model: &Autoencoder<B>| {
        evaluate(
            &AnyModel::Autoencoder(model.valid()),
            &batcher,
            500,
            &device,
        )
        .squared_error
    };
    let settings = config.training.rbm_pretraining.clone().unwrap();

    let random = fresh(&config);
    let random_error = score(&random);
    let mut finals = Vec::new();
    let pretrained = pretrain_autoencoder(random, &data.train, &settings, 9, |e| {
        assert!(e.reconstruction_error.is_finite(), "{e:?}");
        if e.epoch == e.epochs {
            finals.push((e.visible, e.hidden));
        }
    })
    .unwrap();
    assert_eq!(finals, vec![(784, 200), (200, 100), (100, 20)]);
    let pretrained_error = score(&pretrained);
    // Predicting every pixel's mean over the training images scores about 52 on MNIST; an
    // untrained logistic network is worse still.
    assert!(random_error > 50.0, "{random_error}");
    assert!(
        pretrained_error < 0.3 * random_error && pretrained_error < 45.0,
        "random start {random_error}, unrolled RBMs {pretrained_error}"
    );

    // Unrolling ties each decoder layer to the transpose of its encoder layer.
    let (Encoder::Mlp(encoder), Decoder::Mlp(decoder)) = (&pretrained.encoder, &pretrained.decoder)
    else {
        unreachable!("an MLP autoencoder");
    };
    for (i, layer) in encoder.layers.iter().enumerate() {
        let mirror = &decoder.layers[decoder.layers.len() - 1 - i];
        assert_eq!(
            values(layer.weight.val().inner()),
            values(mirror.weight.val().inner().transpose())
        );
    }
}

#[test]
fn training_with_rbm_pretraining_reports_each_layer_and_beats_a_random_start() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = logistic_config(vec![64], 16, 600);
    config.training.epochs = 3;
    config.training.learning_rate = 1e-3;
    let mut plain = config.clone();
    plain.training.rbm_pretraining = None;
    let plain_summary = train::<B>(
        &plain,
        &RunDir::new(dir.path().join("plain")),
        Default::default(),
        &quiet(),
    )
    .unwrap();
    assert!(plain_summary.rbm_pretraining.is_empty());

    let run = RunDir::new(dir.path().join("run"));
    let summary = train::<B>(&config, &run, Default::default(), &quiet()).unwrap();
    let layers: Vec<(usize, usize)> = summary
        .rbm_pretraining
        .iter()
        .map(|e| (e.visible, e.hidden))
        .collect();
    assert_eq!(layers, vec![(784, 64), (64, 16)]);
    let (with, without) = (
        summary.validation.squared_error,
        plain_summary.validation.squared_error,
    );
    assert!(
        with < 0.8 * without,
        "pretrained {with}, random start {without}"
    );
    let saved = std::fs::read_to_string(run.config_file()).unwrap();
    assert!(saved.contains("rbm_pretraining"), "{saved}");
    let json = std::fs::read_to_string(run.summary_file()).unwrap();
    assert!(json.contains("\"rbm_pretraining\""), "{json}");
}

#[test]
fn rbm_pretraining_rejects_models_without_logistic_units() {
    let dir = tempfile::tempdir().unwrap();
    let run = RunDir::new(dir.path().join("run"));
    let mut config = logistic_config(vec![32], 8, 100);
    config.model = ModelConfig::Autoencoder(AutoencoderConfig::new(
        8,
        ArchitectureConfig::mlp(vec![32], Activation::Relu),
    ));
    let e = train_error(&config, &run, &quiet());
    assert!(
        e.contains("rbm_pretraining") && e.contains("sigmoid"),
        "{e}"
    );
    assert!(!run.model_file().exists());

    let mut config = logistic_config(vec![32], 8, 100);
    if let Some(p) = config.training.rbm_pretraining.as_mut() {
        p.momentum = 1.0;
    }
    let e = train_error(&config, &run, &quiet());
    assert!(e.contains("rbm_pretraining.momentum"), "{e}");

    // A decoder that does not mirror the encoder cannot take the unrolled weights.
    let config = logistic_config(vec![32], 8, 100);
    let mut model = fresh(&config);
    model.decoder = fresh(&logistic_config(vec![48], 8, 100)).decoder;
    let data = prepare(&config.data, config.seed).unwrap();
    let settings = RbmPretraining::default();
    let e = pretrain_autoencoder(model, &data.train, &settings, 1, |_| {})
        .expect_err("a mismatched decoder is refused")
        .to_string();
    assert!(e.contains("784x32") && e.contains("mirror"), "{e}");
}
