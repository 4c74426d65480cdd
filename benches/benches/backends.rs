//! Every reference model (`mlp-vae`, `deep-ae`, `conv-ae`) on every compiled backend:
//! one full training step (forward, backward, Adam update) at batch 128, and encoder
//! inference at batch 1000, on random inputs. Each model and task is one criterion group
//! with one function per backend, so the report compares backends side by side. Throughput
//! is in images per second.
//!
//! `cargo bench -p ae-benches --features flex,wgpu` benches ndarray, flex and wgpu;
//! `--features openblas` benches ndarray with the system OpenBLAS instead.

use ae_backend::{BackendChoice, BackendKind, BackendTask, run_on};
use ae_benches::{
    BATCH_SIZE, INFERENCE_BATCH_SIZE, ReferenceModel, Trainer, backend_label, random_batch,
};
use ae_models::AnyModel;
use burn::tensor::Tensor;
use burn::tensor::backend::{AutodiffBackend, Backend};
use criterion::measurement::WallTime;
use criterion::{
    BenchmarkGroup, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
};

/// Benches one model's training step on one backend, as one function of the model's group.
struct BenchTrainStep<'g, 'c> {
    group: &'g mut BenchmarkGroup<'c, WallTime>,
    backend: BackendKind,
    model: ReferenceModel,
}

impl BackendTask for BenchTrainStep<'_, '_> {
    type Output = ();

    fn run<B: AutodiffBackend>(self, device: B::Device) {
        let model = self.model;
        // Built on first use, so that a backend filtered out on the command line costs nothing.
        let mut state: Option<(Trainer<B>, Tensor<B, 2>)> = None;
        self.group.bench_function(backend_label(self.backend), |b| {
            let (trainer, batch) = state.get_or_insert_with(|| {
                B::seed(&device, 0);
                let config = model.config();
                let mut trainer = Trainer::<B>::new(&config, &device)
                    .expect("the benchmark's model config is valid");
                let batch = random_batch::<B>(BATCH_SIZE, config.input_shape().dim(), &device);
                // One untimed step compiles wgpu's kernels and allocates Adam's moments, so
                // that criterion's warm-up estimate reflects the steady state.
                trainer.step(&batch);
                (trainer, batch)
            });
            // Every step reads the loss back and syncs the device, so wgpu timings are real.
            b.iter(|| trainer.step(batch))
        });
    }
}

/// A built model and the input batch its encoder is benched on.
type EncoderState<B> = (AnyModel<B>, Tensor<B, 2>);

/// Benches one model's encoder on one backend (no autodiff), as one function of its group.
struct BenchEncode<'g, 'c> {
    group: &'g mut BenchmarkGroup<'c, WallTime>,
    backend: BackendKind,
    model: ReferenceModel,
}

impl BackendTask for BenchEncode<'_, '_> {
    type Output = ();

    fn run<B: AutodiffBackend>(self, device: B::Device) {
        let model = self.model;
        let mut state: Option<EncoderState<B::InnerBackend>> = None;
        self.group.bench_function(backend_label(self.backend), |b| {
            let (encoder, batch) = state.get_or_insert_with(|| {
                B::InnerBackend::seed(&device, 0);
                let config = model.config();
                let built: AnyModel<B::InnerBackend> = config
                    .init(&device)
                    .expect("the benchmark's model config is valid");
                let batch = random_batch::<B::InnerBackend>(
                    INFERENCE_BATCH_SIZE,
                    config.input_shape().dim(),
                    &device,
                );
                (built, batch)
            });
            b.iter(|| {
                let codes = encoder.encode(batch.clone());
                // Reading the codes back waits for the device.
                codes.into_data()
            })
        });
    }
}

fn for_each_backend(mut bench: impl FnMut(BackendKind) -> Result<(), ae_backend::BackendError>) {
    for backend in BackendKind::compiled() {
        if let Err(error) = bench(backend) {
            eprintln!("skipping {backend}: {error}");
        }
    }
}

fn train_step(c: &mut Criterion) {
    for model in ReferenceModel::ALL {
        let mut group = c.benchmark_group(format!("train_step/{}", model.name()));
        group.throughput(Throughput::Elements(BATCH_SIZE as u64));
        // A step takes milliseconds: same iteration count per sample, not a linear ramp.
        group.sampling_mode(SamplingMode::Flat);
        for_each_backend(|backend| {
            let task = BenchTrainStep {
                group: &mut group,
                backend,
                model,
            };
            run_on(BackendChoice::new(backend), task)
        });
        group.finish();
    }
}

fn encode(c: &mut Criterion) {
    for model in ReferenceModel::ALL {
        let mut group = c.benchmark_group(format!("encode/{}", model.name()));
        group.throughput(Throughput::Elements(INFERENCE_BATCH_SIZE as u64));
        group.sampling_mode(SamplingMode::Flat);
        for_each_backend(|backend| {
            let task = BenchEncode {
                group: &mut group,
                backend,
                model,
            };
            run_on(BackendChoice::new(backend), task)
        });
        group.finish();
    }
}

criterion_group!(benches, train_step, encode);
criterion_main!(benches);
