//! Saving a model's record and loading it into a freshly initialized model.

use crate::common::{B, I, rng_lock, seed, values};
use ae_models::{
    Activation, AnyModel, ArchitectureConfig, AutoencoderConfig, InputShape, Likelihood,
    ModelConfig, NormKind, VaeConfig, WeightInit,
};
use burn::module::Module;
use burn::record::{FullPrecisionSettings, NamedMpkFileRecorder};
use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor};

fn configs() -> Vec<ModelConfig> {
    vec![
        ModelConfig::Autoencoder(
            AutoencoderConfig::new(3, ArchitectureConfig::mlp(vec![12, 6], Activation::Elu))
                .with_input_shape(InputShape::new(1, 3, 4)),
        ),
        ModelConfig::Autoencoder(
            AutoencoderConfig::new(
                2,
                ArchitectureConfig::Mlp {
                    hidden: vec![10, 5],
                    activation: Activation::Tanh,
                    norm: NormKind::Layer,
                    dropout: 0.0,
                    init: WeightInit::He,
                },
            )
            .with_input_shape(InputShape::new(1, 2, 4)),
        ),
        ModelConfig::Vae(
            VaeConfig::new(
                2,
                ArchitectureConfig::Conv {
                    channels: vec![4, 8],
                    kernel_size: 4,
                    activation: Activation::Relu,
                },
            )
            .with_input_shape(InputShape::new(2, 9, 7))
            .with_likelihood(Likelihood::GaussianLearned {
                min_log_variance: -6.0,
            }),
        ),
    ]
}

fn init<BB: Backend>(config: &ModelConfig, seed_value: u64) -> AnyModel<BB> {
    let _guard = rng_lock();
    seed(seed_value);
    config.init(&Default::default()).expect("valid config")
}

/// Encodings and decodings of fixed inputs and codes.
fn outputs<BB: Backend>(model: &AnyModel<BB>, config: &ModelConfig) -> (Vec<f64>, Vec<f64>) {
    let dim = config.input_shape().dim();
    let latent = config.latent();
    let device = Default::default();
    let x = Tensor::<BB, 1, Int>::arange(0..(3 * dim) as i64, &device)
        .float()
        .reshape([3, dim])
        .div_scalar((3 * dim) as f64);
    let z = Tensor::<BB, 1, Int>::arange(0..(2 * latent) as i64, &device)
        .float()
        .reshape([2, latent])
        .sub_scalar(1.0);
    (values(model.encode(x)), values(model.decode(z)))
}

#[test]
fn saved_records_reload_into_fresh_models() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let recorder = NamedMpkFileRecorder::<FullPrecisionSettings>::new();
    for (i, config) in configs().into_iter().enumerate() {
        let original: AnyModel<B> = init(&config, 1);
        let expected = outputs(&original, &config);
        let path = dir.path().join(format!("model-{i}"));
        original
            .clone()
            .save_file(path.clone(), &recorder)
            .expect("save");
        assert!(
            path.with_extension("mpk").is_file(),
            "the recorder writes model-{i}.mpk"
        );

        // A differently seeded model computes something else until it loads the record.
        let fresh: AnyModel<B> = init(&config, 2);
        assert_ne!(
            outputs(&fresh, &config),
            expected,
            "seeds 1 and 2 give the same model"
        );
        let loaded = fresh
            .load_file(path.clone(), &recorder, &Default::default())
            .expect("load");
        assert_eq!(outputs(&loaded, &config), expected, "{}", config.name());
        assert_eq!(loaded.num_params(), original.num_params());

        // The same file loads into an inference (non-autodiff) model.
        let inference: AnyModel<I> = init::<I>(&config, 3)
            .load_file(path, &recorder, &Default::default())
            .expect("load");
        assert_eq!(
            outputs(&inference, &config),
            expected,
            "{} (inference)",
            config.name()
        );
        // Module-skipped settings come from the config, not the record.
        assert_eq!(loaded.kl_weight(10), original.kl_weight(10));
        assert_eq!(
            inference.as_vae().map(|v| v.likelihood),
            original.as_vae().map(|v| v.likelihood)
        );
    }
}

#[test]
fn clones_of_freshly_built_models_hold_the_same_weights() {
    // burn initializes parameters lazily; every way of building a model must fix its weights
    // before it can be cloned, or the clone (e.g. the copy handed to a trainer or saved)
    // would draw different ones.
    for config in configs() {
        let by_config: AnyModel<B> = config.init(&Default::default()).unwrap();
        let copy = by_config.clone();
        assert_eq!(outputs(&copy, &config), outputs(&by_config, &config));

        let (a, b) = match &config {
            ModelConfig::Autoencoder(c) => {
                let m = c.init::<B>(&Default::default()).unwrap();
                let copy = m.clone();
                (AnyModel::Autoencoder(m), AnyModel::Autoencoder(copy))
            }
            ModelConfig::Vae(c) => {
                let m = c.init::<B>(&Default::default()).unwrap();
                let copy = m.clone();
                (AnyModel::Vae(m), AnyModel::Vae(copy))
            }
        };
        assert_eq!(
            outputs(&b, &config),
            outputs(&a, &config),
            "{} built by its own config",
            config.name()
        );
    }
}
