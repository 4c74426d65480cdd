//! The fused AdamW against burn's `AdamW`: the same parameters and moments after several
//! steps, on a small tensor and on one large enough for the parallel update.

use ae_backend::Flex;
use ae_kernels::{AdamMoments, AdamWHyper, adamw_step};
use ae_train::optim::FusedAdamW;
use burn::optim::{AdamW, AdamWConfig, SimpleOptimizer};
use burn::tensor::backend::Backend;
use burn::tensor::{Distribution, ElementConversion, Tensor};

/// The largest |a − b| relative to 1 + max |b|.
fn gap<B: Backend, const D: usize>(a: Tensor<B, D>, b: Tensor<B, D>) -> f32 {
    let scale = 1.0 + b.clone().abs().max().into_scalar().elem::<f32>();
    (a - b).abs().max().into_scalar().elem::<f32>() / scale
}

fn run<B: Backend, const D: usize>(shape: [usize; D], weight_decay: f32) {
    let device = Default::default();
    B::seed(&device, 7);
    let fused = FusedAdamW::new(1e-5, weight_decay);
    let burns: AdamW = AdamWConfig::new()
        .with_epsilon(1e-5)
        .with_weight_decay(weight_decay)
        .build();
    let start = Tensor::<B, D>::random(shape, Distribution::Normal(0.0, 1.0), &device);
    let (mut ours, mut theirs) = (start.clone(), start);
    let (mut state_ours, mut state_theirs) = (None, None);
    for (step, lr) in [1e-3, 1e-3, 3e-3, 3e-3, 1e-2, 5e-4].into_iter().enumerate() {
        let grad =
            Tensor::<B, D>::random(shape, Distribution::Normal(0.0, 1.0 + step as f64), &device);
        let (p, s) = fused.step(lr, ours, grad.clone(), state_ours);
        (ours, state_ours) = (p, s);
        let (p, s) = burns.step(lr, theirs, grad, state_theirs);
        (theirs, state_theirs) = (p, s);
    }
    let (a, b) = (
        state_ours.expect("a state").momentum,
        state_theirs.expect("a state").momentum,
    );
    assert_eq!(a.time, 6);
    assert_eq!(b.time, 6);
    let moved = gap(ours.clone(), theirs.clone());
    assert!(moved < 1e-6, "{shape:?}: parameters differ by {moved}");
    assert!(
        gap(a.moment_1, b.moment_1) < 1e-6,
        "{shape:?}: first moments differ"
    );
    assert!(
        gap(a.moment_2, b.moment_2) < 1e-6,
        "{shape:?}: second moments differ"
    );
}

#[test]
fn fused_adamw_matches_burns_adamw_on_flex() {
    run::<Flex, 2>([37, 53], 0.0);
    run::<Flex, 2>([37, 53], 0.05);
    // Above the parallel update's chunk of 32768 values.
    run::<Flex, 2>([300, 401], 1e-4);
    run::<Flex, 1>([5], 0.0);
}

#[test]
fn the_fused_update_runs_on_flex_and_defers_elsewhere() {
    let hyper = AdamWHyper {
        beta_1: 0.9,
        beta_2: 0.999,
        epsilon: 1e-5,
        weight_decay: 0.0,
    };
    let device = Default::default();
    let p = Tensor::<Flex, 1>::from_floats([1.0, -2.0, 3.0], &device);
    let g = Tensor::<Flex, 1>::from_floats([0.5, 0.5, -1.0], &device);
    let (p2, moments) = adamw_step(&hyper, 0.1, p, g, None).expect("fused on flex");
    // First step: m̂ = g, v̂ = g², so each value moves by lr · sign(g) (ε aside).
    let moved: Vec<f32> = p2.into_data().to_vec().expect("f32");
    for (got, want) in moved.iter().zip([0.9f32, -2.1, 3.1]) {
        assert!((got - want).abs() < 1e-4, "{got} vs {want}");
    }
    assert_eq!(moments.time, 1);
    let again = adamw_step(
        &hyper,
        0.1,
        Tensor::<Flex, 1>::from_floats([0.0], &device),
        Tensor::<Flex, 1>::from_floats([1.0], &device),
        Some(AdamMoments {
            time: 1,
            moment_1: Tensor::from_floats([0.1], &device),
            moment_2: Tensor::from_floats([0.001], &device),
        }),
    )
    .expect("fused on flex");
    assert_eq!(again.1.time, 2);

    type N = burn_ndarray::NdArray<f32>;
    let p = Tensor::<N, 1>::from_floats([1.0], &Default::default());
    let g = Tensor::<N, 1>::from_floats([1.0], &Default::default());
    assert!(
        adamw_step(&hyper, 0.1, p, g, None).is_err(),
        "ndarray is burn's"
    );
    run::<N, 2>([11, 7], 0.01);
}
