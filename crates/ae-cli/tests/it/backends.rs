//! The same model gives the same forward pass on every compiled backend.

#![cfg(feature = "ndarray")]

use ae_toolkit::models::{
    Activation, AnyModel, ArchitectureConfig, AutoencoderConfig, InputShape, Likelihood,
    ModelConfig, VaeConfig,
};
use burn::module::Module;
use burn::record::{FullPrecisionSettings, NamedMpkFileRecorder, Recorder};
use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};

type Reference = burn_ndarray_inner::Nd;

mod burn_ndarray_inner {
    use burn::tensor::backend::AutodiffBackend;
    /// The plain ndarray backend under the autodiff alias.
    pub type Nd = <ae_toolkit::backend::NdArrayAutodiff as AutodiffBackend>::InnerBackend;
}

fn configs() -> Vec<ModelConfig> {
    let shape = InputShape::new(1, 28, 28);
    let mlp = ArchitectureConfig::mlp(vec![64, 32], Activation::Relu);
    let conv = ArchitectureConfig::Conv {
        channels: vec![8, 16],
        kernel_size: 4,
        activation: Activation::Relu,
    };
    vec![
        ModelConfig::Vae(VaeConfig::new(6, mlp.clone()).with_input_shape(shape)),
        ModelConfig::Autoencoder(AutoencoderConfig::new(5, conv.clone()).with_input_shape(shape)),
        ModelConfig::Vae(
            VaeConfig::new(4, conv)
                .with_input_shape(shape)
                .with_likelihood(Likelihood::GaussianLearned {
                    min_log_variance: -6.0,
                }),
        ),
    ]
}

fn input<B: Backend>(device: &B::Device) -> Tensor<B, 2> {
    let values: Vec<f32> = (0..8 * 784)
        .map(|i| 0.5 + 0.5 * ((i as f32) * 0.37).sin())
        .collect();
    Tensor::from_data(TensorData::new(values, [8, 784]), device)
}

/// Encodes, decodes and scores the input; returns every number it produced.
fn outputs<B: Backend>(model: &AnyModel<B>, device: &B::Device) -> Vec<f32> {
    let x = input::<B>(device);
    let code = model.encode(x.clone());
    let reconstruction = model.decode(code.clone());
    let mut all: Vec<f32> = code.into_data().to_vec().unwrap_or_default();
    all.extend(
        reconstruction
            .into_data()
            .to_vec::<f32>()
            .unwrap_or_default(),
    );
    if let AnyModel::Autoencoder(ae) = model {
        let loss = ae.forward(x.clone(), x).reconstruction_loss;
        all.extend(loss.into_data().to_vec::<f32>().unwrap_or_default());
    }
    all
}

/// Runs every config on `B`, with the reference model's weights, and compares.
fn compare_with_reference<B: Backend>(device: &B::Device) {
    let dir = tempfile::tempdir().unwrap();
    let recorder = NamedMpkFileRecorder::<FullPrecisionSettings>::new();
    for (i, config) in configs().into_iter().enumerate() {
        let reference_device = Default::default();
        Reference::seed(&reference_device, 5);
        let reference = config.init::<Reference>(&reference_device).unwrap();
        let path = dir.path().join(format!("model-{i}"));
        recorder
            .record(reference.clone().into_record(), path.clone())
            .unwrap();
        let other = config
            .init::<B>(device)
            .unwrap()
            .load_record(recorder.load(path, device).unwrap());
        let expected = outputs(&reference, &reference_device);
        let actual = outputs(&other, device);
        assert_eq!(expected.len(), actual.len());
        for (j, (a, b)) in expected.iter().zip(&actual).enumerate() {
            let tolerance = 1e-4 * (1.0 + a.abs());
            assert!(
                (a - b).abs() <= tolerance,
                "config {i} ({}), value {j}: ndarray {a} vs {b}",
                config.name()
            );
        }
    }
}

#[cfg(feature = "flex")]
#[test]
fn flex_forward_matches_ndarray() {
    type Flex =
        <ae_toolkit::backend::FlexAutodiff as burn::tensor::backend::AutodiffBackend>::InnerBackend;
    compare_with_reference::<Flex>(&Default::default());
}

#[cfg(feature = "wgpu")]
#[test]
fn wgpu_forward_matches_ndarray() {
    type Wgpu =
        <ae_toolkit::backend::WgpuAutodiff as burn::tensor::backend::AutodiffBackend>::InnerBackend;
    // Without an adapter, say in one line what to install (wgpu itself panics deep inside).
    let device = ae_toolkit::backend::probe_wgpu(ae_toolkit::backend::WgpuDeviceChoice::Default)
        .unwrap_or_else(|e| panic!("{e}"));
    compare_with_reference::<Wgpu>(&device);
}

#[cfg(feature = "cuda")]
#[test]
fn cuda_forward_matches_ndarray() {
    type Cuda =
        <ae_toolkit::backend::CudaAutodiff as burn::tensor::backend::AutodiffBackend>::InnerBackend;
    // Without a GPU or driver, say so in one line.
    let device = ae_toolkit::backend::probe_cuda().unwrap_or_else(|e| panic!("{e}"));
    compare_with_reference::<Cuda>(&device);
}
