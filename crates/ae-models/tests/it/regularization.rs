//! Dropout and normalization in the MLP: what each does while training and at inference, and
//! records saved before the MLP could normalize.

use crate::common::{B, I, rng_lock, seed, tensor2, values};
use ae_models::mlp::{Mlp, MlpConfig};
use ae_models::{
    Activation, ArchitectureConfig, AutoencoderConfig, InputShape, NormKind, WeightInit,
};
use burn::module::{AutodiffModule, Module};
use burn::record::{FullPrecisionSettings, NamedMpkFileRecorder};
use burn::tensor::backend::Backend;

fn inputs<BB: Backend>(rows: usize, cols: usize, shift: f64) -> burn::tensor::Tensor<BB, 2> {
    let v: Vec<f64> = (0..rows * cols)
        .map(|i| ((i * 37 % 11) as f64 - 5.0) * 0.4 + shift)
        .collect();
    tensor2(&v, rows, cols)
}

mod old {
    use burn::module::Module;
    use burn::nn::Linear;
    use burn::tensor::backend::Backend;

    /// The MLP as it was before normalization and dropout existed: only its linear layers.
    #[derive(Module, Debug)]
    pub struct OldMlp<B: Backend> {
        pub layers: Vec<Linear<B>>,
    }
}
use old::OldMlp;

#[test]
fn records_saved_before_normalization_load_unnormalized() {
    let _guard = rng_lock();
    seed(3);
    let device = Default::default();
    let mlp: Mlp<I> = MlpConfig::new(5, vec![7], 3).init(&device);
    let expected = values(mlp.forward(inputs(4, 5, 0.0)));
    let old = OldMlp {
        layers: mlp.layers.clone(),
    };
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("old");
    let recorder = NamedMpkFileRecorder::<FullPrecisionSettings>::new();
    old.save_file(path.clone(), &recorder).expect("save");

    seed(4);
    let fresh: Mlp<I> = MlpConfig::new(5, vec![7], 3).init(&device);
    assert_ne!(values(fresh.forward(inputs(4, 5, 0.0))), expected);
    let loaded = fresh
        .load_file(path, &recorder, &device)
        .expect("a record without norms loads");
    assert!(loaded.norms.is_none());
    assert_eq!(values(loaded.forward(inputs(4, 5, 0.0))), expected);
}

#[test]
fn dropout_acts_while_training_and_never_at_inference() {
    let _guard = rng_lock();
    seed(5);
    let device = Default::default();
    let mlp: Mlp<B> = MlpConfig::new(6, vec![64, 64], 4)
        .with_dropout(0.5)
        .init(&device);
    let x = || inputs::<B>(8, 6, 0.0);
    let a = values(mlp.forward(x()));
    let b = values(mlp.forward(x()));
    assert_ne!(a, b, "two training passes drop different units");

    // At inference (the inner backend) the same weights give the dropout-free output.
    let inference = mlp.valid();
    let mut plain = inference.clone();
    plain.dropout = 0.0;
    let xi = || inputs::<I>(8, 6, 0.0);
    let once = values(inference.forward(xi()));
    assert_eq!(once, values(inference.forward(xi())));
    assert_eq!(once, values(plain.forward(xi())));
    // And training output scatters around it: dropout changed values, not just their order.
    assert_ne!(a, once);
}

#[test]
fn batch_norm_tracks_running_statistics_and_scores_items_alone() {
    let _guard = rng_lock();
    seed(6);
    let device = Default::default();
    let mlp: Mlp<B> = MlpConfig::new(3, vec![4], 2)
        .with_norm(NormKind::Batch)
        .with_activation(Activation::Tanh)
        .init(&device);
    let fresh = mlp.valid();
    // Training passes on data far from the origin move the running statistics.
    for _ in 0..50 {
        mlp.forward(inputs::<B>(16, 3, 4.0));
    }
    let trained = mlp.valid();
    let x = inputs::<I>(16, 3, 4.0);
    assert_ne!(
        values(trained.forward(x.clone())),
        values(fresh.forward(x)),
        "the running statistics changed what inference computes"
    );
    // At inference an item's output does not depend on the other items of its batch.
    let batch = inputs::<I>(16, 3, 4.0);
    let all = values(trained.forward(batch.clone()));
    let first = values(trained.forward(batch.clone().slice([0..1, 0..3])));
    assert_eq!(&all[..2], &first[..]);
    // While training it does: the batch's own statistics normalize.
    let train_all = values(mlp.forward(inputs::<B>(16, 3, 4.0)));
    let train_two = values(mlp.forward(inputs::<B>(16, 3, 4.0).slice([0..2, 0..3])));
    assert_ne!(&train_all[..4], &train_two[..]);
}

#[test]
fn layer_norm_standardizes_each_item() {
    let _guard = rng_lock();
    seed(7);
    let device = Default::default();
    let mlp: Mlp<I> = MlpConfig::new(3, vec![6], 2)
        .with_norm(NormKind::Layer)
        .with_activation(Activation::None)
        .init(&device);
    // Layer norm removes each item's own scale: items that differ by a positive factor in the
    // first layer's pre-activations (inputs scaled with a zero bias) give the same output.
    let mut zero_bias = mlp.clone();
    let first = &mut zero_bias.layers[0];
    if let Some(bias) = first.bias.take() {
        first.bias = Some(bias.map(|b| b.zeros_like()));
    }
    let x = inputs::<I>(1, 3, 0.5);
    let a = values(zero_bias.forward(x.clone()));
    let b = values(zero_bias.forward(x.mul_scalar(10.0)));
    for (a, b) in a.iter().zip(&b) {
        assert!((a - b).abs() < 1e-3, "{a} vs {b}");
    }
}

#[test]
fn dropout_outside_zero_to_one_is_refused() {
    for dropout in [-0.1, 1.0, f64::NAN] {
        let config = AutoencoderConfig::new(
            2,
            ArchitectureConfig::Mlp {
                hidden: vec![4],
                activation: Activation::Relu,
                norm: NormKind::None,
                dropout,
                init: WeightInit::Default,
            },
        )
        .with_input_shape(InputShape::new(1, 1, 5));
        let error = config.init::<I>(&Default::default()).unwrap_err();
        assert!(error.to_string().contains("dropout"), "{error}");
    }
}

#[test]
fn regularization_round_trips_through_the_config_and_defaults_when_absent() {
    let text = r#"{"kind":"mlp","hidden":[8],"activation":"relu","norm":"batch","dropout":0.25,"init":"he"}"#;
    let architecture: ArchitectureConfig = serde_json::from_str(text).unwrap();
    assert_eq!(
        architecture,
        ArchitectureConfig::Mlp {
            hidden: vec![8],
            activation: Activation::Relu,
            norm: NormKind::Batch,
            dropout: 0.25,
            init: WeightInit::He,
        }
    );
    let old: ArchitectureConfig =
        serde_json::from_str(r#"{"kind":"mlp","hidden":[8],"activation":"relu"}"#).unwrap();
    assert_eq!(old, ArchitectureConfig::mlp(vec![8], Activation::Relu));
    // Unregularized configs are written as before.
    let written = serde_json::to_string(&old).unwrap();
    assert!(
        !written.contains("norm") && !written.contains("dropout") && !written.contains("init"),
        "{written}"
    );
}

#[test]
fn code_dropout_perturbs_training_passes_only() {
    let _guard = rng_lock();
    seed(8);
    let config = AutoencoderConfig::new(4, ArchitectureConfig::mlp(vec![8], Activation::Relu))
        .with_input_shape(InputShape::new(1, 1, 6))
        .with_loss(ae_models::ReconstructionLoss::SquaredError)
        .with_code_dropout(0.5);
    let model = config.init::<B>(&Default::default()).unwrap();
    let x = || inputs::<B>(8, 6, 0.0);
    let a = values(model.forward(x(), x()).reconstruction);
    let b = values(model.forward(x(), x()).reconstruction);
    assert_ne!(a, b, "training passes drop different code values");
    let inference = model.valid();
    let xi = || inputs::<I>(8, 6, 0.0);
    let once = values(inference.forward(xi(), xi()).reconstruction);
    assert_eq!(once, values(inference.forward(xi(), xi()).reconstruction));
    assert_eq!(once, values(inference.decode(inference.encode(xi()))));

    for bad in [-0.5, 1.0] {
        let error = config
            .clone()
            .with_code_dropout(bad)
            .init::<I>(&Default::default())
            .unwrap_err();
        assert!(error.to_string().contains("code_dropout"), "{error}");
    }
}

/// The largest absolute value of a tensor.
fn largest<const D: usize>(t: burn::tensor::Tensor<I, D>) -> f64 {
    values(t).into_iter().map(f64::abs).fold(0.0, f64::max)
}

#[test]
fn he_init_widens_the_hidden_layers_only() {
    let _guard = rng_lock();
    seed(3);
    let (input, hidden, output) = (50, 200, 40);
    let draw = |init| {
        MlpConfig::new(input, vec![hidden], output)
            .with_init(init)
            .init::<I>(&Default::default())
    };
    let he = draw(WeightInit::He);
    let plain = draw(WeightInit::Default);
    let default_bound = |fan_in: usize| 1.0 / (fan_in as f64).sqrt();
    // 10,000 uniform draws reach within 0.1% of their bound.
    let first = largest(he.layers[0].weight.val());
    let he_bound = (6.0 / input as f64).sqrt();
    assert!(
        first <= he_bound && first > 0.99 * he_bound,
        "hidden weights reach {first}, bound {he_bound}"
    );
    let plain_first = largest(plain.layers[0].weight.val());
    assert!(
        plain_first <= default_bound(input) && plain_first > 0.99 * default_bound(input),
        "default hidden weights reach {plain_first}"
    );
    // The output layer and every bias keep the default range.
    let last = largest(he.layers[1].weight.val());
    assert!(
        last <= default_bound(hidden) && last > 0.99 * default_bound(hidden),
        "output weights reach {last}"
    );
    for (layer, fan_in) in he.layers.iter().zip([input, hidden]) {
        let bias = largest(layer.bias.as_ref().unwrap().val());
        assert!(bias <= default_bound(fan_in), "bias reaches {bias}");
    }
}

#[test]
fn the_fused_relu_paths_give_burns_layer_by_layer_values() {
    // On burn-flex an MLP of ReLU layers runs as one stack of kernels at inference and as
    // dense + ReLU kernels under autodiff; both must equal burn's linear and relu, layer by
    // layer. 300 rows of a 784-400-40 MLP are enough for the stack to split over threads.
    use burn::tensor::{Tensor, activation, module};
    type D = ae_backend::FlexAutodiff;
    type F = ae_backend::Flex;
    let device = Default::default();
    let trained: Mlp<D> = MlpConfig::new(784, vec![400], 40).init(&device);
    let x = inputs::<F>(300, 784, 0.1).div_scalar(4.0);
    let inference: Mlp<F> = trained.valid();
    let last = inference.layers.len() - 1;
    let expected = inference
        .layers
        .iter()
        .enumerate()
        .fold(x.clone(), |h, (i, layer)| {
            let h = module::linear(h, layer.weight.val(), layer.bias.as_ref().map(|b| b.val()));
            if i < last { activation::relu(h) } else { h }
        });
    let expected = values(expected);
    let stacked = values(inference.forward(x.clone()));
    let tracked = values(trained.forward(Tensor::<D, 2>::from_inner(x)).inner());
    for (name, got) in [("inference", stacked), ("autodiff", tracked)] {
        let gap = got
            .iter()
            .zip(&expected)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        assert!(gap < 1e-4, "{name}: max gap {gap}");
    }
}
