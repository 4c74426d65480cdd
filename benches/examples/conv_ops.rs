//! Where conv-ae's training step spends its time on burn-flex: each of its four convolutions
//! at batch 128, forward alone and forward + backward, with burn's op and with ours
//! (`ae_kernels`), beside a matrix product of the same FLOPs; then conv2 as strided slices +
//! one matrix product on burn's generic tensor ops; last, the MLPs' dense layers and the
//! decoder's sigmoid at batch 128, burn's and ours (`ae_kernels::linear`, `ae_kernels::sigmoid`);
//! then the MLP encoders at batch 1000, their matrix products alone beside the whole stack.
//!
//! The last table gives, for our kernels, forward ÷ matrix product (target ≤ 1.3) and
//! backward ÷ forward (target ≤ 2.5), the backward being forward + backward − forward.
//!
//! `cargo run --release -p ae-benches --example conv_ops`

use std::time::Instant;

use ae_backend::FlexAutodiff as B;
use burn::nn::conv::{Conv2dConfig, ConvTranspose2dConfig};
use burn::nn::{LinearConfig, PaddingConfig2d};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::ops::{ConvOptions, ConvTransposeOptions, PadMode};
use burn::tensor::{Distribution, Slice, Tensor, activation};

const BATCH: usize = 128;
const REPEATS: usize = 31;

/// Prints and returns the median wall time of `f` in ms over [`REPEATS`] calls, after one
/// warm-up call. The median rather than the mean: on a small shared machine a few calls
/// stalled by other processes pull the mean of the short operations here by tens of percent
/// from one run to the next.
fn time(name: &str, mut f: impl FnMut()) -> f64 {
    f();
    let mut times: Vec<f64> = (0..REPEATS)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    times.sort_by(f64::total_cmp);
    let ms = times[REPEATS / 2];
    println!("{name:52} {ms:8.2} ms");
    ms
}

/// Times `layer` on `input` forward alone, then forward + backward; with `input_grad` false
/// the backward pass computes the weight gradients only (as for a model's first layer).
/// Returns both times in ms.
fn time_layer(
    name: &str,
    input: &Tensor<B, 4>,
    input_grad: bool,
    layer: impl Fn(Tensor<B, 4>) -> Tensor<B, 4>,
) -> (f64, f64) {
    let forward = time(&format!("{name} forward"), || {
        let _ = layer(input.clone()).into_data();
    });
    let suffix = if input_grad { "" } else { " (weights only)" };
    let both = time(&format!("{name} forward + backward{suffix}"), || {
        let x = if input_grad {
            input.clone().require_grad()
        } else {
            input.clone()
        };
        // Summed flat: burn-flex's backward of a 4-D sum broadcasts the gradient through a
        // slow strided copy (1.1 ms for deconv2's [128, 1, 28, 28] output, 0.03 ms flat),
        // which is no part of the layer's backward.
        let _ = layer(x).flatten::<1>(0, 3).sum().backward();
    });
    (forward, both)
}

/// [`time_layer`] for a layer on `[batch, features]` inputs, the input's gradient included.
fn time_dense(
    name: &str,
    input: &Tensor<B, 2>,
    layer: impl Fn(Tensor<B, 2>) -> Tensor<B, 2>,
) -> (f64, f64) {
    let forward = time(&format!("{name} forward"), || {
        let _ = layer(input.clone()).into_data();
    });
    let both = time(&format!("{name} forward + backward"), || {
        let _ = layer(input.clone().require_grad()).sum().backward();
    });
    (forward, both)
}

/// Times a matrix product `[m×k]·[k×n]` (the FLOPs of one convolution's forward).
fn time_matmul(name: &str, m: usize, k: usize, n: usize) -> f64 {
    let device = Default::default();
    let a = Tensor::<B, 2>::random([m, k], Distribution::Default, &device);
    let b = Tensor::<B, 2>::random([k, n], Distribution::Default, &device);
    time(
        &format!("{name} same-FLOPs matmul [{m}×{k}]·[{k}×{n}]"),
        || {
            let _ = a.clone().matmul(b.clone()).into_data();
        },
    )
}

/// The k×k windows of `x` (stride `s`, zero padding `p`) as rows: `[n·ho·wo, c·k·k]`.
fn unfold<Bk: Backend>(
    x: Tensor<Bk, 4>,
    k: usize,
    s: usize,
    p: usize,
) -> (Tensor<Bk, 2>, usize, usize) {
    let [n, c, h, w] = x.dims();
    let padded = x.pad([(0, 0), (0, 0), (p, p), (p, p)], PadMode::Constant(0.0));
    let ho = (h + 2 * p - k) / s + 1;
    let wo = (w + 2 * p - k) / s + 1;
    let strided = |start: usize, count: usize| {
        Slice::new(
            start as isize,
            Some((start + s * (count - 1) + 1) as isize),
            s as isize,
        )
    };
    let mut taps = Vec::with_capacity(k * k);
    for kh in 0..k {
        for kw in 0..k {
            taps.push(padded.clone().slice([
                Slice::from(0..n),
                Slice::from(0..c),
                strided(kh, ho),
                strided(kw, wo),
            ]));
        }
    }
    let taps: Tensor<Bk, 5> = Tensor::stack(taps, 2);
    let rows = taps
        .permute([0, 3, 4, 1, 2])
        .reshape([n * ho * wo, c * k * k]);
    (rows, ho, wo)
}

/// A bias-free convolution as im2col + one matrix product.
fn conv_as_matmul<Bk: Backend>(
    x: Tensor<Bk, 4>,
    weight: Tensor<Bk, 4>,
    stride: usize,
    padding: usize,
) -> Tensor<Bk, 4> {
    let [c_out, c_in, k, _] = weight.dims();
    let n = x.dims()[0];
    let (rows, ho, wo) = unfold(x, k, stride, padding);
    let kernel = weight.reshape([c_out, c_in * k * k]).transpose();
    rows.matmul(kernel)
        .reshape([n, ho, wo, c_out])
        .permute([0, 3, 1, 2])
}

fn main() {
    let device = Default::default();
    let padding = PaddingConfig2d::Explicit(1, 1, 1, 1);
    let conv1 = Conv2dConfig::new([1, 32], [4, 4])
        .with_stride([2, 2])
        .with_padding(padding.clone())
        .init::<B>(&device);
    let conv2 = Conv2dConfig::new([32, 64], [4, 4])
        .with_stride([2, 2])
        .with_padding(padding)
        .init::<B>(&device);
    let deconv1 = ConvTranspose2dConfig::new([64, 32], [4, 4])
        .with_stride([2, 2])
        .with_padding([1, 1])
        .init::<B>(&device);
    let deconv2 = ConvTranspose2dConfig::new([32, 1], [4, 4])
        .with_stride([2, 2])
        .with_padding([1, 1])
        .init::<B>(&device);
    let image = Tensor::<B, 4>::random([BATCH, 1, 28, 28], Distribution::Default, &device);
    let maps32 = Tensor::<B, 4>::random([BATCH, 32, 14, 14], Distribution::Default, &device);
    let maps64 = Tensor::<B, 4>::random([BATCH, 64, 7, 7], Distribution::Default, &device);

    let conv = ConvOptions::new([2, 2], [1, 1], [1, 1], 1);
    let deconv = ConvTransposeOptions::new([2, 2], [1, 1], [0, 0], [1, 1], 1);
    let ours_conv = |layer: &burn::nn::conv::Conv2d<B>, x: Tensor<B, 4>| {
        ae_kernels::conv2d(
            x,
            layer.weight.val(),
            layer.bias.as_ref().map(|b| b.val()),
            conv.clone(),
        )
    };
    let ours_deconv = |layer: &burn::nn::conv::ConvTranspose2d<B>, x: Tensor<B, 4>| {
        ae_kernels::conv_transpose2d(
            x,
            layer.weight.val(),
            layer.bias.as_ref().map(|b| b.val()),
            deconv.clone(),
        )
    };
    let mut rows = Vec::new();
    // (name, matmul m×k×n of the forward's FLOPs)
    let layers = [
        ("conv1 1→32", BATCH * 196, 16, 32),
        ("conv2 32→64", BATCH * 49, 512, 64),
        ("deconv1 64→32", BATCH * 49, 64, 512),
        ("deconv2 32→1", BATCH * 196, 32, 16),
    ];
    for (index, (name, m, k, n)) in layers.into_iter().enumerate() {
        let (burn, ours) = match index {
            0 => (
                time_layer(&format!("{name} burn"), &image, false, |x| conv1.forward(x)),
                time_layer(&format!("{name} ours"), &image, false, |x| {
                    ours_conv(&conv1, x)
                }),
            ),
            1 => (
                time_layer(&format!("{name} burn"), &maps32, true, |x| conv2.forward(x)),
                time_layer(&format!("{name} ours"), &maps32, true, |x| {
                    ours_conv(&conv2, x)
                }),
            ),
            2 => (
                time_layer(&format!("{name} burn"), &maps64, true, |x| {
                    deconv1.forward(x)
                }),
                time_layer(&format!("{name} ours"), &maps64, true, |x| {
                    ours_deconv(&deconv1, x)
                }),
            ),
            _ => (
                time_layer(&format!("{name} burn"), &maps32, true, |x| {
                    deconv2.forward(x)
                }),
                time_layer(&format!("{name} ours"), &maps32, true, |x| {
                    ours_deconv(&deconv2, x)
                }),
            ),
        };
        let matmul = time_matmul(name, m, k, n);
        rows.push((name, burn, ours, matmul));
    }
    println!();
    print_table("layer", &rows, 2);
    let total_burn: f64 = rows.iter().map(|row| row.1.1).sum();
    let total_ours: f64 = rows.iter().map(|row| row.2.1).sum();
    print_total("all four", total_burn, total_ours, 2);
    println!();

    let rows = Tensor::<B, 2>::random([BATCH * 49, 512], Distribution::Default, &device);
    let kernel = Tensor::<B, 2>::random([512, 64], Distribution::Default, &device);
    time("matmul [6272×512]·[512×64] (conv2's im2col)", || {
        let _ = rows.clone().matmul(kernel.clone()).into_data();
    });

    let weight = conv2.weight.val();
    let bias = conv2.bias.as_ref().map(|b| b.val().reshape([1, 64, 1, 1]));
    let mut native = conv2.forward(maps32.clone());
    if let Some(bias) = bias {
        native = native - bias;
    }
    let gap = (conv_as_matmul(maps32.clone(), weight.clone(), 2, 1) - native)
        .abs()
        .max()
        .into_scalar();
    println!("conv2 as strided slices + matmul: max difference to burn's conv {gap:e}");
    time("conv2 as slices + matmul, forward", || {
        let _ = conv_as_matmul(maps32.clone(), weight.clone(), 2, 1).into_data();
    });
    time("conv2 as slices + matmul, forward + backward", || {
        let x = maps32.clone().require_grad();
        let w = weight.clone().require_grad();
        let _ = conv_as_matmul(x, w, 2, 1).sum().backward();
    });

    // The MLPs' dense layers (mlp-vae's 784→400 and 400→784, deep-ae's 784→1000) and the
    // Bernoulli decoder's sigmoid.
    println!();
    let mut dense_rows = Vec::new();
    for (name, inputs, outputs) in [
        ("dense 784→400", 784, 400),
        ("dense 400→784", 400, 784),
        ("dense 784→1000", 784, 1000),
    ] {
        let layer = LinearConfig::new(inputs, outputs).init::<B>(&device);
        let x = Tensor::<B, 2>::random([BATCH, inputs], Distribution::Default, &device);
        let burn = time_dense(&format!("{name} burn"), &x, |x| layer.forward(x));
        let ours = time_dense(&format!("{name} ours"), &x, |x| {
            ae_kernels::linear(x, layer.weight.val(), layer.bias.as_ref().map(|b| b.val()))
        });
        let matmul = time_matmul(name, BATCH, inputs, outputs);
        dense_rows.push((name, burn, ours, matmul));
    }
    let logits = Tensor::<B, 2>::random([BATCH, 784], Distribution::Default, &device);
    let burn = time_dense("sigmoid 128×784 burn", &logits, activation::sigmoid);
    let ours = time_dense("sigmoid 128×784 ours", &logits, ae_kernels::sigmoid);
    println!();
    print_table("op", &dense_rows, 3);
    print_total("sigmoid", burn.1, ours.1, 3);
    encoder_floors();
}

/// The MLP encoders at batch 1000 (as `cargo xtask bench` times them): their matrix products
/// alone (our dense kernel, no bias, no ReLU, layer by layer) beside the whole stack
/// (`ae_kernels::dense_stack`, biases and ReLUs), in ms and images/s.
fn encoder_floors() {
    type F = <B as AutodiffBackend>::InnerBackend;
    const ROWS: usize = 1000;
    println!();
    let device = Default::default();
    for (name, widths) in [
        ("mlp-vae", &[784, 400, 40][..]),
        ("deep-ae", &[784, 1000, 500, 250, 30][..]),
    ] {
        let values = |len: usize| -> Vec<f32> {
            (0..len)
                .map(|i| ((i * 7919) % 1000) as f32 / 1000.0 - 0.5)
                .collect()
        };
        let x = values(ROWS * widths[0]);
        let weights: Vec<Vec<f32>> = widths.windows(2).map(|p| values(p[0] * p[1])).collect();
        // Both on rayon's pool, as `AnyModel::encode` runs.
        let products = time(&format!("{name} encoder, matrix products alone"), || {
            ae_kernels::on_cpu_pool::<F, _>(|| {
                let mut h = std::borrow::Cow::Borrowed(&x[..]);
                for (w, pair) in weights.iter().zip(widths.windows(2)) {
                    let sizes = [pair[0], pair[1]];
                    h = ae_kernels::cpu::linear(&h, ROWS, w, sizes, None, false).into();
                }
            })
        });
        let input = Tensor::<F, 2>::random([ROWS, widths[0]], Distribution::Default, &device);
        let layers: Vec<ae_kernels::StackLayer<F>> = widths
            .windows(2)
            .enumerate()
            .map(|(i, p)| ae_kernels::StackLayer {
                weight: Tensor::random([p[0], p[1]], Distribution::Default, &device),
                bias: Some(Tensor::random([p[1]], Distribution::Default, &device)),
                relu: i + 2 < widths.len(),
            })
            .collect();
        let whole = time(&format!("{name} encoder, whole (dense_stack)"), || {
            ae_kernels::on_cpu_pool::<F, _>(|| {
                let _ = ae_kernels::dense_stack(input.clone(), &layers).into_data();
            })
        });
        println!(
            "{name} encoder at batch {ROWS}: products alone {:.0} images/s, whole {:.0} images/s",
            ROWS as f64 / products * 1e3,
            ROWS as f64 / whole * 1e3
        );
    }
}

/// One timed op: its name, burn's and our (forward, forward + backward) ms, and the
/// same-FLOPs matrix product's ms.
type Row<'a> = (&'a str, (f64, f64), (f64, f64), f64);

/// The summary table of `rows`, times with `decimals` decimals.
fn print_table(what: &str, rows: &[Row], decimals: usize) {
    println!(
        "{what:16} {:>12} {:>12} {:>10} {:>14} {:>16}",
        "burn f+b ms", "ours f+b ms", "speed-up", "fwd ÷ matmul", "bwd ÷ fwd (ours)"
    );
    for (name, burn, ours, matmul) in rows {
        println!(
            "{:16} {:12.decimals$} {:12.decimals$} {:9.2}× {:14.2} {:16.2}",
            name,
            burn.1,
            ours.1,
            burn.1 / ours.1,
            ours.0 / matmul,
            (ours.1 - ours.0) / ours.0
        );
    }
}

/// A row of forward + backward times alone, and their ratio.
fn print_total(name: &str, burn: f64, ours: f64, decimals: usize) {
    println!(
        "{name:16} {burn:12.decimals$} {ours:12.decimals$} {:9.2}×",
        burn / ours
    );
}
