//! Analytic gradients (autodiff) against central finite differences on tiny models, shared by
//! the `gradients_f32` and `gradients_f64` test binaries.
//!
//! Analytic gradients come from `NdArrayAutodiff`; the finite differences perturb single
//! weights of its inner (non-autodiff) model and re-evaluate the loss. For the VAE the
//! sampling noise is a fixed tensor so that the loss is a deterministic function of the
//! weights.
#![allow(dead_code)]

use ae_models::likelihood::kl_standard_normal;
use ae_models::mlp::Mlp;
use ae_models::{
    Activation, ArchitectureConfig, Autoencoder, AutoencoderConfig, Decoder, Encoder, InputShape,
    Likelihood, ReconstructionLoss, Vae, VaeConfig,
};
use burn::module::AutodiffModule;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Tensor, TensorData};

use crate::common::{B, I, assert_close, rng_lock, seed, tensor2, values};

/// Step and tolerances of a finite-difference check.
#[derive(Debug, Clone, Copy)]
pub struct Precision {
    /// Central-difference step.
    pub h: f64,
    /// Relative tolerance.
    pub rel: f64,
    /// Absolute tolerance.
    pub abs: f64,
}

const SHAPE: InputShape = InputShape {
    channels: 1,
    height: 2,
    width: 3,
};
const LATENT: usize = 2;
const BATCH: usize = 3;

fn architecture() -> ArchitectureConfig {
    ArchitectureConfig::mlp(vec![4], Activation::Tanh)
}

/// Inputs in (0, 1), usable as Bernoulli and Gaussian targets alike.
fn inputs() -> Vec<f64> {
    (0..BATCH * SHAPE.dim())
        .map(|i| 0.05 + 0.9 * ((i * 7 % 11) as f64 / 10.0))
        .collect()
}

/// Fixed standard-normal-looking noise for the VAE's reparameterization.
fn noise() -> Vec<f64> {
    vec![0.3, -1.2, 0.8, 0.1, -0.5, 1.7]
}

/// A parameter of the encoder's or decoder's linear layers.
#[derive(Debug, Clone, Copy)]
enum Which {
    EncoderWeight(usize),
    EncoderBias(usize),
    DecoderWeight(usize),
    DecoderBias(usize),
}

fn encoder_mlp<BB: Backend>(e: &Encoder<BB>) -> &Mlp<BB> {
    match e {
        Encoder::Mlp(m) => m,
        Encoder::Conv(_) => unreachable!("MLP test model"),
    }
}

fn decoder_mlp<BB: Backend>(d: &Decoder<BB>) -> &Mlp<BB> {
    match d {
        Decoder::Mlp(m) => m,
        Decoder::Conv(_) => unreachable!("MLP test model"),
    }
}

/// The analytic gradient of `which`, flattened.
fn analytic(
    encoder: &Encoder<B>,
    decoder: &Decoder<B>,
    which: Which,
    grads: &<B as AutodiffBackend>::Gradients,
) -> Vec<f64> {
    let grad = match which {
        Which::EncoderWeight(l) => encoder_mlp(encoder).layers[l]
            .weight
            .grad(grads)
            .map(values),
        Which::DecoderWeight(l) => decoder_mlp(decoder).layers[l]
            .weight
            .grad(grads)
            .map(values),
        Which::EncoderBias(l) => encoder_mlp(encoder).layers[l]
            .bias
            .as_ref()
            .and_then(|b| b.grad(grads))
            .map(values),
        Which::DecoderBias(l) => decoder_mlp(decoder).layers[l]
            .bias
            .as_ref()
            .and_then(|b| b.grad(grads))
            .map(values),
    };
    grad.unwrap_or_else(|| panic!("no gradient for {which:?}"))
}

fn one_hot<BB: Backend, const D: usize>(
    shape: [usize; D],
    index: usize,
    value: f64,
) -> Tensor<BB, D> {
    let mut data = vec![0.0; shape.iter().product()];
    data[index] = value;
    Tensor::from_data(TensorData::new(data, shape), &Default::default())
}

/// Adds `delta` to element `index` (row-major) of parameter `which`.
fn perturb(
    encoder: &mut Encoder<I>,
    decoder: &mut Decoder<I>,
    which: Which,
    index: usize,
    delta: f64,
) {
    let mlp = match which {
        Which::EncoderWeight(_) | Which::EncoderBias(_) => match encoder {
            Encoder::Mlp(m) => m,
            Encoder::Conv(_) => unreachable!(),
        },
        Which::DecoderWeight(_) | Which::DecoderBias(_) => match decoder {
            Decoder::Mlp(m) => m,
            Decoder::Conv(_) => unreachable!(),
        },
    };
    match which {
        Which::EncoderWeight(l) | Which::DecoderWeight(l) => {
            let layer = &mut mlp.layers[l];
            layer.weight = layer
                .weight
                .clone()
                .map(|w| w.clone() + one_hot(w.dims(), index, delta));
        }
        Which::EncoderBias(l) | Which::DecoderBias(l) => {
            let layer = &mut mlp.layers[l];
            let bias = layer.bias.take().expect("a bias");
            layer.bias = Some(bias.map(|b| b.clone() + one_hot(b.dims(), index, delta)));
        }
    }
}

/// Compares the analytic gradient of a batch-mean loss with central differences.
///
/// `loss_at(which, index, delta)` is the batch-mean loss of the inner model with element
/// `index` of parameter `which` moved by `delta`.
fn check<F>(
    precision: Precision,
    name: &str,
    encoder: &Encoder<B>,
    decoder: &Decoder<B>,
    grads: &<B as AutodiffBackend>::Gradients,
    checks: &[(Which, &[usize])],
    mut loss_at: F,
) where
    F: FnMut(Which, usize, f64) -> f64,
{
    let mut largest: f64 = 0.0;
    for &(which, indices) in checks {
        let grad = analytic(encoder, decoder, which, grads);
        for &index in indices {
            let plus = loss_at(which, index, precision.h);
            let minus = loss_at(which, index, -precision.h);
            let numeric = (plus - minus) / (2.0 * precision.h);
            largest = largest.max(numeric.abs());
            assert_close(
                grad[index],
                numeric,
                precision.rel,
                precision.abs,
                &format!("{name}: d loss / d {which:?}[{index}]"),
            );
        }
    }
    assert!(
        largest > 1e-3,
        "{name}: all checked gradients vanish ({largest})"
    );
}

fn mean_of(t: Tensor<I, 1>) -> f64 {
    let v = values(t);
    v.iter().sum::<f64>() / v.len() as f64
}

pub fn check_autoencoder(precision: Precision, loss: ReconstructionLoss, seed_value: u64) {
    let config = AutoencoderConfig::new(LATENT, architecture())
        .with_input_shape(SHAPE)
        .with_loss(loss);
    let model: Autoencoder<B> = {
        let _guard = rng_lock();
        seed(seed_value);
        config.init(&Default::default()).expect("valid config")
    };
    let x = inputs();
    let dim = SHAPE.dim();

    let xb = tensor2::<B>(&x, BATCH, dim);
    let grads = model.forward(xb.clone(), xb).loss().backward();

    let base = model.valid();
    let xi = tensor2::<I>(&x, BATCH, dim);

    let checks: [(Which, &[usize]); 4] = [
        (Which::EncoderWeight(0), &[0, 5, 13, 23]),
        (Which::EncoderBias(0), &[0, 3]),
        (Which::DecoderWeight(1), &[0, 7, 23]),
        (Which::DecoderBias(1), &[0, 5]),
    ];
    check(
        precision,
        &format!("autoencoder {loss:?}"),
        &model.encoder,
        &model.decoder,
        &grads,
        &checks,
        |which, index, delta| {
            let mut m = base.clone();
            perturb(&mut m.encoder, &mut m.decoder, which, index, delta);
            mean_of(m.forward(xi.clone(), xi.clone()).total)
        },
    );
}

/// Per-example negative ELBO with the noise fixed to `eps`.
fn vae_loss<BB: Backend>(vae: &Vae<BB>, x: Tensor<BB, 2>, eps: Tensor<BB, 2>) -> Tensor<BB, 1> {
    let (mean, log_variance) = vae.encode(x.clone());
    let z = mean.clone() + (log_variance.clone() * 0.5).exp() * eps;
    let params = vae.decode_params(z);
    vae.likelihood.nll(params, x) + kl_standard_normal(mean, log_variance)
}

pub fn check_vae(precision: Precision, likelihood: Likelihood, seed_value: u64) {
    let config = VaeConfig::new(LATENT, architecture())
        .with_input_shape(SHAPE)
        .with_likelihood(likelihood);
    let model: Vae<B> = {
        let _guard = rng_lock();
        seed(seed_value);
        config.init(&Default::default()).expect("valid config")
    };
    let x = inputs();
    let eps = noise();
    let dim = SHAPE.dim();

    let loss = vae_loss(
        &model,
        tensor2::<B>(&x, BATCH, dim),
        tensor2::<B>(&eps, BATCH, LATENT),
    );
    let grads = loss.mean().backward();

    let base = model.valid();
    let xi = tensor2::<I>(&x, BATCH, dim);
    let epsi = tensor2::<I>(&eps, BATCH, LATENT);

    let outputs = dim * likelihood.outputs_per_value();
    let last = 4 * outputs - 1;
    // Encoder layer 1 is [4, 2 * LATENT]: columns 0..LATENT give the mean, the rest the
    // log-variance. Decoder layer 1 is [4, outputs]; for the learned variance the second half
    // of the columns gives the log-variance.
    let checks: [(Which, &[usize]); 6] = [
        (Which::EncoderWeight(0), &[0, 9, 23]),
        (Which::EncoderWeight(1), &[0, 2, 7, 13]),
        (Which::EncoderBias(1), &[1, 3]),
        (Which::DecoderWeight(0), &[0, 7]),
        (
            Which::DecoderWeight(1),
            &[0, outputs / 2 + 1, outputs - 1, last],
        ),
        (Which::DecoderBias(1), &[0, outputs - 1]),
    ];
    check(
        precision,
        &format!("VAE {likelihood:?}"),
        &model.encoder,
        &model.decoder,
        &grads,
        &checks,
        |which, index, delta| {
            let mut m = base.clone();
            perturb(&mut m.encoder, &mut m.decoder, which, index, delta);
            mean_of(vae_loss(&m, xi.clone(), epsi.clone()))
        },
    );
}

/// `forward`'s total is reconstruction + weight × KL, its KL the closed form at the
/// encoder's mean and log-variance, and the warm-up ramps the KL weight linearly.
pub fn check_vae_forward_terms() {
    let config = VaeConfig::new(LATENT, architecture())
        .with_input_shape(SHAPE)
        .with_likelihood(Likelihood::Gaussian { variance: 0.5 })
        .with_beta(2.0)
        .with_kl_warmup_steps(10);
    let model: Vae<I> = {
        let _guard = rng_lock();
        seed(6);
        config.init(&Default::default()).expect("valid config")
    };
    let x = tensor2::<I>(&inputs(), BATCH, SHAPE.dim());
    let weight = model.kl_weight(5);
    assert_close(weight, 1.0, 1e-12, 0.0, "half-way through warm-up");
    assert_eq!(model.kl_weight(0), 0.0);
    assert_eq!(model.kl_weight(100), 2.0);
    let out = {
        let _guard = rng_lock();
        model.forward(x.clone(), x.clone(), weight)
    };
    let (mean, logvar) = model.encode(x);
    let kl = values(kl_standard_normal(mean, logvar));
    let out_kl = values(out.kl.clone().expect("a VAE has a KL term"));
    let recon = values(out.reconstruction_loss.clone());
    let total = values(out.total.clone());
    let elbo = values(out.negative_elbo());
    for i in 0..BATCH {
        assert_close(out_kl[i], kl[i], 1e-6, 1e-7, "KL term");
        assert_close(total[i], recon[i] + weight * kl[i], 1e-6, 1e-6, "total");
        assert_close(elbo[i], recon[i] + kl[i], 1e-6, 1e-6, "negative ELBO");
    }
}
