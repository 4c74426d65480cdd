//! One full training step (forward, backward, Adam update) of the `mlp-vae-mnist` model at
//! batch 128 on random inputs, on every compiled backend, in one criterion group so the report
//! compares the backends side by side. Throughput is in images per second.
//!
//! `cargo bench -p ae-benches --features flex,wgpu` benches ndarray, flex and wgpu.

use ae_backend::{BackendChoice, BackendKind, BackendTask, run_on};
use ae_benches::{BATCH_SIZE, MODEL_NAME, Trainer, mlp_vae_config, random_batch};
use burn::tensor::Tensor;
use burn::tensor::backend::AutodiffBackend;
use criterion::measurement::WallTime;
use criterion::{
    BenchmarkGroup, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
};

/// Benches the training step on one backend, as one function of the shared group.
struct BenchTrainStep<'g, 'c> {
    group: &'g mut BenchmarkGroup<'c, WallTime>,
    backend: BackendKind,
}

impl BackendTask for BenchTrainStep<'_, '_> {
    type Output = ();

    fn run<B: AutodiffBackend>(self, device: B::Device) {
        // Built on first use, so that a backend filtered out on the command line costs nothing.
        let mut state: Option<(Trainer<B>, Tensor<B, 2>)> = None;
        self.group.bench_function(self.backend.to_string(), |b| {
            let (trainer, batch) = state.get_or_insert_with(|| {
                B::seed(&device, 0);
                let config = mlp_vae_config();
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

fn train_step(c: &mut Criterion) {
    let mut group = c.benchmark_group(format!("train_step/{MODEL_NAME}"));
    group.throughput(Throughput::Elements(BATCH_SIZE as u64));
    // A step takes milliseconds: same iteration count per sample, not a linear ramp.
    group.sampling_mode(SamplingMode::Flat);
    for backend in BackendKind::compiled() {
        let task = BenchTrainStep {
            group: &mut group,
            backend,
        };
        if let Err(error) = run_on(BackendChoice::new(backend), task) {
            eprintln!("skipping {backend}: {error}");
        }
    }
    group.finish();
}

criterion_group!(benches, train_step);
criterion_main!(benches);
