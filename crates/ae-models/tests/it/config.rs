//! Model configs: JSON round trips through burn's `Config`, and validation errors.

use crate::common::I;
use ae_models::{
    Activation, ArchitectureConfig, AutoencoderConfig, InputShape, Likelihood, ModelConfig,
    ModelError, ReconstructionLoss, VaeConfig,
};
use burn::config::{Config, config_to_json};
use burn::module::Module;
use serde_json::Value;

fn mlp_autoencoder() -> ModelConfig {
    ModelConfig::Autoencoder(
        AutoencoderConfig::new(3, ArchitectureConfig::mlp(vec![16, 8], Activation::Gelu))
            .with_input_shape(InputShape::new(1, 4, 5))
            .with_loss(ReconstructionLoss::SquaredError),
    )
}

fn conv_vae() -> ModelConfig {
    ModelConfig::Vae(
        VaeConfig::new(
            4,
            ArchitectureConfig::Conv {
                channels: vec![4, 6],
                kernel_size: 3,
                activation: Activation::LeakyRelu,
            },
        )
        .with_input_shape(InputShape::new(3, 9, 7))
        .with_likelihood(Likelihood::GaussianLearned {
            min_log_variance: -5.0,
        })
        .with_beta(0.5)
        .with_kl_warmup_steps(100),
    )
}

fn num_params(config: &ModelConfig) -> usize {
    config
        .init::<I>(&Default::default())
        .expect("valid config")
        .num_params()
}

#[test]
fn parameter_counts_match_hand_counts() {
    // Encoder 20→16→8→3, decoder 3→8→16→20, weights plus biases.
    let encoder = (20 * 16 + 16) + (16 * 8 + 8) + (8 * 3 + 3);
    let decoder = (3 * 8 + 8) + (8 * 16 + 16) + (16 * 20 + 20);
    assert_eq!(num_params(&mlp_autoencoder()), encoder + decoder);

    // 3x9x7 → 4x5x4 → 6x3x2 with 3x3 kernels; the head maps 36 values to mean and
    // log-variance (2 × 4); the decoder mirrors it and emits 2 × 3 channels.
    let encoder = (3 * 4 * 9 + 4) + (4 * 6 * 9 + 6) + (36 * 8 + 8);
    let decoder = (4 * 36 + 36) + (6 * 4 * 9 + 4) + (4 * 6 * 9 + 6);
    assert_eq!(num_params(&conv_vae()), encoder + decoder);
}

#[test]
fn configs_round_trip_through_json_files() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    for (config, tag) in [(mlp_autoencoder(), "autoencoder"), (conv_vae(), "vae")] {
        let json = config_to_json(&config);
        let value: Value = serde_json::from_str(&json).expect("valid JSON");
        assert_eq!(value["model"], tag, "{json}");
        assert_eq!(config.name(), tag);

        let path = dir.path().join(format!("{tag}.json"));
        config.save(&path).expect("save");
        let loaded = ModelConfig::load(&path).expect("load");
        assert_eq!(loaded.name(), tag);
        assert_eq!(config_to_json(&loaded), json);
        assert_eq!(loaded.input_shape(), config.input_shape());
        assert_eq!(loaded.latent(), config.latent());
        assert_eq!(num_params(&loaded), num_params(&config));
    }
}

#[test]
fn json_fields_are_named_as_documented() {
    let value: Value = serde_json::from_str(&config_to_json(&conv_vae())).unwrap();
    assert_eq!(value["model"], "vae");
    assert_eq!(value["latent"], 4);
    assert_eq!(value["beta"], 0.5);
    assert_eq!(value["kl_warmup_steps"], 100);
    assert_eq!(value["input_shape"]["channels"], 3);
    assert_eq!(value["input_shape"]["height"], 9);
    assert_eq!(value["input_shape"]["width"], 7);
    assert_eq!(value["architecture"]["kind"], "conv");
    assert_eq!(value["architecture"]["channels"], serde_json::json!([4, 6]));
    assert_eq!(value["architecture"]["kernel_size"], 3);
    assert_eq!(value["architecture"]["activation"], "leaky-relu");
    assert_eq!(value["likelihood"]["kind"], "gaussian-learned");
    assert_eq!(value["likelihood"]["min_log_variance"], -5.0);

    let value: Value = serde_json::from_str(&config_to_json(&mlp_autoencoder())).unwrap();
    assert_eq!(value["model"], "autoencoder");
    assert_eq!(value["loss"], "squared-error");
    assert_eq!(value["architecture"]["kind"], "mlp");
    assert_eq!(value["architecture"]["hidden"], serde_json::json!([16, 8]));
    assert_eq!(value["architecture"]["activation"], "gelu");
}

#[test]
fn hand_written_json_loads_and_defaults_apply_inside_enums() {
    let json = r#"{
        "model": "vae",
        "input_shape": {"channels": 1, "height": 28, "width": 28},
        "latent": 8,
        "architecture": {"kind": "conv", "channels": [8, 16]},
        "likelihood": {"kind": "gaussian", "variance": 0.25},
        "beta": 1.0,
        "kl_warmup_steps": 0
    }"#;
    let config: ModelConfig = ModelConfig::load_binary(json.as_bytes()).expect("a valid config");
    let ModelConfig::Vae(vae) = &config else {
        panic!("expected a VAE, got {config:?}")
    };
    // Fields added later (the training objective) take their defaults in older files.
    assert_eq!(vae.objective, ae_models::Objective::Elbo);
    assert_eq!(vae.samples, 1);
    assert_eq!(
        vae.architecture,
        ArchitectureConfig::Conv {
            channels: vec![8, 16],
            kernel_size: 4,
            activation: Activation::Relu,
        }
    );
    assert_eq!(vae.likelihood, Likelihood::Gaussian { variance: 0.25 });
    assert!(config.validate().is_ok());

    let learned: Likelihood = serde_json::from_str(r#"{"kind": "gaussian-learned"}"#).unwrap();
    assert_eq!(
        learned,
        Likelihood::GaussianLearned {
            min_log_variance: -8.0
        }
    );

    // Unknown model names and unknown architecture fields are rejected.
    assert!(ModelConfig::load_binary(json.replace("\"vae\"", "\"gan\"").as_bytes()).is_err());
    assert!(
        ModelConfig::load_binary(
            json.replace("\"kind\": \"conv\",", "\"kind\": \"conv\", \"stride\": 3,")
                .as_bytes()
        )
        .is_err()
    );
}

#[test]
fn set_input_shape_changes_the_model() {
    let mut config = mlp_autoencoder();
    config.set_input_shape(InputShape::new(2, 3, 4));
    assert_eq!(config.input_shape(), InputShape::new(2, 3, 4));
    let model = config.init::<I>(&Default::default()).unwrap();
    let x = burn::tensor::Tensor::<I, 2>::zeros([2, 24], &Default::default());
    assert_eq!(model.encode(x.clone()).dims(), [2, 3]);
    assert_eq!(model.decode(model.encode(x)).dims(), [2, 24]);
}

/// Asserts that `config` is rejected, by `validate` and by every `init`, with a message
/// mentioning `field`.
fn assert_rejected(config: ModelConfig, field: &str) {
    let check = |result: Result<(), ModelError>, how: &str| match result {
        Err(ModelError::InvalidConfig(message)) => assert!(
            message.contains(field),
            "{how}: message {message:?} should name {field:?}"
        ),
        Ok(()) => panic!("{how}: {config:?} should be rejected for {field}"),
    };
    check(config.validate(), "ModelConfig::validate");
    check(
        config.init::<I>(&Default::default()).map(|_| ()),
        "ModelConfig::init",
    );
    match &config {
        ModelConfig::Autoencoder(c) => check(
            c.init::<I>(&Default::default()).map(|_| ()),
            "AutoencoderConfig::init",
        ),
        ModelConfig::Vae(c) => check(
            c.init::<I>(&Default::default()).map(|_| ()),
            "VaeConfig::init",
        ),
    }
}

fn mlp() -> ArchitectureConfig {
    ArchitectureConfig::mlp(vec![8], Activation::Relu)
}

/// A small valid VAE config, changed by `f`.
fn vae(f: impl FnOnce(&mut VaeConfig)) -> ModelConfig {
    let mut config = VaeConfig::new(2, mlp()).with_input_shape(InputShape::new(1, 2, 3));
    f(&mut config);
    ModelConfig::Vae(config)
}

/// A small valid autoencoder config, changed by `f`.
fn autoencoder(f: impl FnOnce(&mut AutoencoderConfig)) -> ModelConfig {
    let mut config = AutoencoderConfig::new(2, mlp()).with_input_shape(InputShape::new(1, 2, 3));
    f(&mut config);
    ModelConfig::Autoencoder(config)
}

#[test]
fn valid_configs_are_accepted() {
    assert!(vae(|_| {}).validate().is_ok());
    assert!(autoencoder(|_| {}).validate().is_ok());
    assert!(vae(|c| c.beta = 0.0).validate().is_ok());
    assert!(
        vae(|c| c.likelihood = Likelihood::Gaussian { variance: 1e-6 })
            .validate()
            .is_ok()
    );
    assert!(
        vae(|c| c.architecture = ArchitectureConfig::mlp(vec![], Activation::None))
            .init::<I>(&Default::default())
            .is_ok()
    );
}

#[test]
fn invalid_configs_name_the_offending_field() {
    assert_rejected(autoencoder(|c| c.latent = 0), "latent");
    assert_rejected(vae(|c| c.latent = 0), "latent");
    for beta in [-1.0, -1e-9, f64::NAN, f64::INFINITY] {
        assert_rejected(vae(|c| c.beta = beta), "beta");
    }
    for variance in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        assert_rejected(
            vae(|c| c.likelihood = Likelihood::Gaussian { variance }),
            "variance",
        );
    }
    for min_log_variance in [f64::NAN, f64::NEG_INFINITY] {
        assert_rejected(
            vae(|c| c.likelihood = Likelihood::GaussianLearned { min_log_variance }),
            "min_log_variance",
        );
    }
    let empty_conv = ArchitectureConfig::Conv {
        channels: vec![],
        kernel_size: 4,
        activation: Activation::Relu,
    };
    let zero_conv = ArchitectureConfig::Conv {
        channels: vec![8, 0],
        kernel_size: 4,
        activation: Activation::Relu,
    };
    for arch in [empty_conv, zero_conv] {
        let shape = InputShape::new(1, 28, 28);
        assert_rejected(
            autoencoder(|c| {
                c.architecture = arch.clone();
                c.input_shape = shape;
            }),
            "channels",
        );
        assert_rejected(
            vae(|c| {
                c.architecture = arch.clone();
                c.input_shape = shape;
            }),
            "channels",
        );
    }
    let zero_hidden = ArchitectureConfig::mlp(vec![4, 0], Activation::Relu);
    assert_rejected(
        autoencoder(|c| c.architecture = zero_hidden.clone()),
        "hidden",
    );
    assert_rejected(vae(|c| c.architecture = zero_hidden), "hidden");
    // An empty input shape is caught by ModelConfig (the model-level init only sees widths).
    let empty = vae(|c| c.input_shape = InputShape::new(1, 0, 5));
    assert!(matches!(
        empty.validate(),
        Err(ModelError::InvalidConfig(message)) if message.contains("input shape")
    ));
}

#[test]
fn the_cost_from_the_config_counts_every_parameter() {
    let bernoulli_vae = ModelConfig::Vae(
        VaeConfig::new(5, ArchitectureConfig::mlp(vec![12], Activation::Relu))
            .with_input_shape(InputShape::new(1, 6, 6)),
    );
    let conv_autoencoder = ModelConfig::Autoencoder(
        AutoencoderConfig::new(
            3,
            ArchitectureConfig::Conv {
                channels: vec![2, 5],
                kernel_size: 4,
                activation: Activation::Relu,
            },
        )
        .with_input_shape(InputShape::new(1, 10, 12)),
    );
    for config in [
        mlp_autoencoder(),
        conv_vae(),
        bernoulli_vae,
        conv_autoencoder,
    ] {
        let model = config.init::<I>(&Default::default()).unwrap();
        let counted = match &model {
            ae_models::AnyModel::Autoencoder(m) => m.num_params(),
            ae_models::AnyModel::Vae(m) => m.num_params(),
        };
        assert_eq!(config.cost().parameters, counted as u128, "{config:?}");
        assert_eq!(config.parameter_bytes(1), 4 * counted as u128);
        assert!(config.cost().activations_per_item > 0);
    }
    // Absurd sizes saturate instead of overflowing.
    let huge = ModelConfig::Autoencoder(AutoencoderConfig::new(
        usize::MAX,
        ArchitectureConfig::mlp(vec![usize::MAX], Activation::Relu),
    ));
    assert!(huge.parameter_bytes(4) > 1 << 100);
}
