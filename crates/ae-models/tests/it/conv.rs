//! Shapes through the convolutional encoder and decoder, and errors for images too small.

use crate::common::{I, rng_lock, seed, values};
use ae_models::conv::spatial_sizes;
use ae_models::{
    Activation, ArchitectureConfig, AutoencoderConfig, InputShape, Likelihood, ModelConfig,
    ModelError, VaeConfig,
};
use burn::tensor::Tensor;

fn conv(channels: Vec<usize>, kernel_size: usize) -> ArchitectureConfig {
    ArchitectureConfig::Conv {
        channels,
        kernel_size,
        activation: Activation::Relu,
    }
}

const SHAPES: [(usize, usize, usize); 6] = [
    (1, 28, 28),
    (3, 32, 32),
    (1, 7, 9),
    (2, 9, 7),
    (1, 5, 5),
    (3, 13, 6),
];

fn random_input(batch: usize, shape: InputShape) -> Tensor<I, 2> {
    let _guard = rng_lock();
    seed(3);
    Tensor::random(
        [batch, shape.dim()],
        burn::tensor::Distribution::Uniform(0.0, 1.0),
        &Default::default(),
    )
}

#[test]
fn conv_autoencoder_restores_every_input_shape() {
    let batch = 2;
    let latent = 5;
    for kernel_size in [4, 3, 2, 5, 6, 7] {
        for (c, h, w) in SHAPES {
            let shape = InputShape::new(c, h, w);
            let config = AutoencoderConfig::new(latent, conv(vec![8, 16], kernel_size))
                .with_input_shape(shape);
            let model = config
                .init::<I>(&Default::default())
                .unwrap_or_else(|e| panic!("{c}x{h}x{w}, kernel {kernel_size}: {e}"));
            let x = random_input(batch, shape);
            let code = model.encode(x.clone());
            assert_eq!(code.dims(), [batch, latent]);
            let out = model.decode(code);
            assert_eq!(
                out.dims(),
                [batch, c * h * w],
                "{c}x{h}x{w}, kernel {kernel_size}"
            );
            let output = model.forward(x.clone(), x);
            assert_eq!(output.reconstruction.dims(), [batch, c * h * w]);
            assert_eq!(output.total.dims(), [batch]);
            assert!(values(output.total).iter().all(|v| v.is_finite()));
        }
    }
}

#[test]
fn conv_vae_emits_two_values_per_input_for_learned_variance() {
    let batch = 3;
    let latent = 4;
    for (c, h, w) in SHAPES {
        let shape = InputShape::new(c, h, w);
        for likelihood in [
            Likelihood::Bernoulli,
            Likelihood::Gaussian { variance: 0.1 },
            Likelihood::GaussianLearned {
                min_log_variance: -6.0,
            },
        ] {
            let per_value = likelihood.outputs_per_value();
            let model = VaeConfig::new(latent, conv(vec![8, 16], 4))
                .with_input_shape(shape)
                .with_likelihood(likelihood)
                .init::<I>(&Default::default())
                .unwrap_or_else(|e| panic!("{c}x{h}x{w}: {e}"));
            let x = random_input(batch, shape);
            let (mean, logvar) = model.encode(x.clone());
            assert_eq!(mean.dims(), [batch, latent]);
            assert_eq!(logvar.dims(), [batch, latent]);
            let params = model.decode_params(mean.clone());
            assert_eq!(
                params.dims(),
                [batch, per_value * c * h * w],
                "{c}x{h}x{w} {likelihood:?}"
            );
            assert_eq!(model.decode(mean).dims(), [batch, c * h * w]);
            let output = {
                let _guard = rng_lock();
                model.forward(x.clone(), x, 1.0)
            };
            assert_eq!(output.reconstruction.dims(), [batch, c * h * w]);
            assert!(values(output.total).iter().all(|v| v.is_finite()));
        }
    }
}

#[test]
fn spatial_sizes_halve_each_layer() {
    let sizes = spatial_sizes(InputShape::new(1, 28, 28), 2, 4).unwrap();
    assert_eq!(sizes, vec![(28, 28), (14, 14), (7, 7)]);
    let sizes = spatial_sizes(InputShape::new(1, 7, 9), 2, 4).unwrap();
    assert_eq!(sizes, vec![(7, 9), (3, 4), (1, 2)]);
    let sizes = spatial_sizes(InputShape::new(3, 32, 32), 3, 3).unwrap();
    assert_eq!(sizes, vec![(32, 32), (16, 16), (8, 8), (4, 4)]);
}

fn assert_invalid(result: Result<(), ModelError>, needles: &[&str]) {
    match result {
        Err(ModelError::InvalidConfig(message)) => {
            for needle in needles {
                assert!(
                    message.contains(needle),
                    "message {message:?} should mention {needle:?}"
                );
            }
        }
        Ok(()) => panic!("expected an InvalidConfig error mentioning {needles:?}"),
    }
}

#[test]
fn too_small_images_are_config_errors() {
    // 4x4 -> 2x2 -> 1x1 -> nothing with kernel 4.
    let shape = InputShape::new(1, 4, 4);
    let arch = conv(vec![8, 16, 32], 4);
    assert_invalid(arch.validate(shape), &["too small", "layer 3", "1x1"]);
    let ae = AutoencoderConfig::new(3, arch.clone()).with_input_shape(shape);
    assert_invalid(
        ae.init::<I>(&Default::default()).map(|_| ()),
        &["too small"],
    );
    let vae = VaeConfig::new(3, arch.clone()).with_input_shape(shape);
    assert_invalid(
        vae.init::<I>(&Default::default()).map(|_| ()),
        &["too small"],
    );
    let any = ModelConfig::Vae(vae);
    assert_invalid(any.validate(), &["too small"]);
    assert_invalid(
        any.init::<I>(&Default::default()).map(|_| ()),
        &["too small"],
    );

    // A one-row table cannot be convolved with kernel 4, but two layers fit 4x4.
    assert_invalid(
        conv(vec![8], 4).validate(InputShape::new(1, 1, 20)),
        &["too small"],
    );
    assert!(conv(vec![8, 16], 4).validate(shape).is_ok());

    // Kernel sizes below 2 cannot halve anything.
    assert_invalid(
        conv(vec![8], 1).validate(InputShape::new(1, 28, 28)),
        &["kernel_size"],
    );
    assert_invalid(
        conv(vec![8], 0).validate(InputShape::new(1, 28, 28)),
        &["kernel_size"],
    );
}
