//! DEC refinement on synthetic blobs, on ndarray.

use std::sync::Arc;

use ae_backend::NdArrayAutodiff;
use ae_data::{AeBatcher, Dataset, ImageShape};
use ae_models::{
    AnyModel, ArchitectureConfig, AutoencoderConfig, InputShape, ModelConfig, ReconstructionLoss,
};
use ae_train::deep_clustering::{
    ClusteringModel, DecSettings, assign_all, hard_assignments, refine,
};
use burn::module::AutodiffModule;
use burn::optim::{AdamConfig, GradientsParams, Optimizer};
use burn::tensor::backend::Backend;
use rand::rngs::ChaCha12Rng;
use rand::{RngExt, SeedableRng};

type B = NdArrayAutodiff;
type Inner = burn_ndarray::NdArray<f32>;

const DIM: usize = 8;
const CLUSTERS: usize = 4;
const PER_CLUSTER: usize = 150;

/// Four Gaussian blobs in 8-D, σ = 0.6, centred at ±4 on two axes.
fn blobs() -> (Dataset, Vec<usize>) {
    let mut rng = ChaCha12Rng::seed_from_u64(7);
    let mut values = Vec::new();
    let mut labels = Vec::new();
    for item in 0..CLUSTERS * PER_CLUSTER {
        let class = item % CLUSTERS;
        for d in 0..DIM {
            let centre = match (class, d) {
                (0, 0) | (1, 1) => 4.0,
                (2, 0) | (3, 1) => -4.0,
                _ => 0.0,
            };
            let noise: f32 = (0..12).map(|_| rng.random::<f32>()).sum::<f32>() - 6.0;
            values.push(centre + 0.6 * noise);
        }
        labels.push(class);
    }
    let data = Dataset::from_inputs(ImageShape::new(1, 1, DIM), values, None).unwrap();
    (data, labels)
}

/// Every item of `data` as one clean batch.
fn whole_batch(data: &Arc<Dataset>) -> ae_data::AeBatch<Inner> {
    let batcher = AeBatcher::new(data.clone(), Vec::new(), false, 0);
    burn::data::dataloader::batcher::Batcher::batch(
        &batcher,
        (0..data.len()).collect(),
        &Default::default(),
    )
}

/// The codes of every item, row-major.
fn codes(model: &ClusteringModel<Inner>, data: &Arc<Dataset>) -> Vec<f32> {
    model
        .model
        .encode(whole_batch(data).input)
        .into_data()
        .to_vec()
        .unwrap()
}

/// How many items the largest soft assignment puts in their own class's cluster.
fn in_own_cluster(q: &[f32], labels: &[usize]) -> usize {
    hard_assignments(q, CLUSTERS)
        .iter()
        .zip(labels)
        .filter(|(a, b)| a == b)
        .count()
}

/// Mean squared distance of each code to its class's mean code, over the mean squared
/// distance between class means: small when the classes form tight, separate clusters.
fn spread_ratio(codes: &[f32], labels: &[usize], latent: usize) -> f64 {
    let mut means = vec![vec![0f64; latent]; CLUSTERS];
    let mut counts = vec![0f64; CLUSTERS];
    for (code, &label) in codes.chunks(latent).zip(labels) {
        for (m, &c) in means[label].iter_mut().zip(code) {
            *m += f64::from(c);
        }
        counts[label] += 1.0;
    }
    for (mean, count) in means.iter_mut().zip(&counts) {
        mean.iter_mut().for_each(|m| *m /= count);
    }
    let squared = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| (x - y).powi(2)).sum::<f64>();
    let within: f64 = codes
        .chunks(latent)
        .zip(labels)
        .map(|(code, &label)| {
            let code: Vec<f64> = code.iter().map(|&c| f64::from(c)).collect();
            squared(&code, &means[label])
        })
        .sum::<f64>()
        / labels.len() as f64;
    let mut between = 0.0;
    let mut pairs = 0.0;
    for a in 0..CLUSTERS {
        for b in a + 1..CLUSTERS {
            between += squared(&means[a], &means[b]);
            pairs += 1.0;
        }
    }
    within / (between / pairs)
}

/// The autoencoder after 300 Adam steps on its reconstruction loss, as DEC expects.
fn pretrain(mut model: AnyModel<B>, data: &Arc<Dataset>) -> AnyModel<B> {
    let device = Default::default();
    let batcher = AeBatcher::new(data.clone(), Vec::new(), false, 0);
    let mut optimizer = AdamConfig::new().init::<B, AnyModel<B>>();
    let all: Vec<usize> = (0..data.len()).collect();
    for step in 0..300 {
        let start = (step * 64) % (data.len() - 64);
        let batch: ae_data::AeBatch<B> = burn::data::dataloader::batcher::Batcher::batch(
            &batcher,
            all[start..start + 64].to_vec(),
            &device,
        );
        let loss = model.forward(batch.input, batch.target, 0.0).loss();
        let gradients = GradientsParams::from_grads(loss.backward(), &model);
        model = optimizer.step(1e-2, model, gradients);
    }
    model
}

/// The mean squared reconstruction error per item of the model inside `clustering`.
fn reconstruction_error(clustering: &ClusteringModel<Inner>, data: &Arc<Dataset>) -> f64 {
    let batch = whole_batch(data);
    let output = clustering.model.forward(batch.input, batch.target, 0.0);
    f64::from(output.squared_error.mean().into_scalar())
}

/// The mean over items of the largest soft assignment: how sure the clustering is.
fn mean_confidence(q: &[f32]) -> f64 {
    let rows = q.chunks(CLUSTERS);
    let count = rows.len() as f64;
    rows.map(|row| f64::from(row.iter().copied().fold(0.0, f32::max)))
        .sum::<f64>()
        / count
}

/// The backend's random generator is shared by the tests of this binary, which run in
/// parallel: each test holds this lock, so that a seeded test draws its weights alone.
static BACKEND_RNG: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn dec_tightens_clusters_and_keeps_them_apart() {
    let _alone = BACKEND_RNG.lock().unwrap_or_else(|e| e.into_inner());
    let device = Default::default();
    Inner::seed(&device, 3);
    let latent = 3;
    let mut config = AutoencoderConfig::new(
        latent,
        ArchitectureConfig::mlp(vec![16], Default::default()),
    );
    config.input_shape = InputShape::new(1, 1, DIM);
    config.loss = ReconstructionLoss::SquaredError;
    let model = ModelConfig::Autoencoder(config).init::<B>(&device).unwrap();
    let (data, labels) = blobs();
    let data = Arc::new(data);
    let model = pretrain(model, &data);

    // Start from the class means of the pretrained encoder's codes.
    let start =
        ClusteringModel::new(model.valid(), &[0.0; CLUSTERS * 3], CLUSTERS, &device).unwrap();
    let start_codes = codes(&start, &data);
    let mut centres = vec![0f32; CLUSTERS * latent];
    for (code, &label) in start_codes.chunks(latent).zip(&labels) {
        for (c, &value) in centres[label * latent..(label + 1) * latent]
            .iter_mut()
            .zip(code)
        {
            *c += value / PER_CLUSTER as f32;
        }
    }
    let before = spread_ratio(&start_codes, &labels, latent);
    let batcher = AeBatcher::new(data.clone(), Vec::new(), false, 0);
    let initial = ClusteringModel::new(model.valid(), &centres, CLUSTERS, &device).unwrap();
    let confidence_before = mean_confidence(&assign_all(&initial, &batcher, 100, &device).unwrap());

    let settings = DecSettings {
        learning_rate: 3e-3,
        batch_size: 64,
        update_interval: 20,
        tolerance: 0.0,
        max_iterations: 400,
        ..DecSettings::default()
    };
    let clustering = ClusteringModel::new(model.clone(), &centres, CLUSTERS, &device).unwrap();
    let mut seen = 0;
    let outcome = refine(clustering, data.clone(), &settings, &device, |_| seen += 1).unwrap();
    assert_eq!(outcome.iterations, 400);
    assert_eq!(seen, outcome.updates.len());
    assert_eq!(outcome.updates.len(), 400 / 20 + 1);

    let after = spread_ratio(&codes(&outcome.model, &data), &labels, latent);
    assert!(
        after < 0.5 * before,
        "the within/between spread went from {before:.4} to {after:.4}"
    );
    let q = assign_all(&outcome.model, &batcher, 100, &device).unwrap();
    let confidence_after = mean_confidence(&q);
    assert!(
        confidence_after > confidence_before + 0.05,
        "the mean largest assignment went from {confidence_before:.3} to {confidence_after:.3}"
    );
    let correct = in_own_cluster(&q, &labels);
    assert!(
        correct as f64 >= 0.99 * labels.len() as f64,
        "{correct} of {} items in their own class's cluster",
        labels.len()
    );

    // IDEC: the reconstruction term keeps the decoder working while the code is clustered.
    let idec_settings = DecSettings {
        reconstruction_weight: 1.0,
        ..settings
    };
    let clustering = ClusteringModel::new(model, &centres, CLUSTERS, &device).unwrap();
    let idec = refine(clustering, data.clone(), &idec_settings, &device, |_| {}).unwrap();
    assert!(
        idec.updates[1..]
            .iter()
            .all(|u| u.reconstruction_loss.is_finite() && u.reconstruction_loss > 0.0),
        "{:?}",
        idec.updates
    );
    let idec_q = assign_all(&idec.model, &batcher, 100, &device).unwrap();
    let idec_correct = in_own_cluster(&idec_q, &labels);
    assert!(
        idec_correct as f64 >= 0.99 * labels.len() as f64,
        "{idec_correct}"
    );
    let (dec_error, idec_error) = (
        reconstruction_error(&outcome.model, &data),
        reconstruction_error(&idec.model, &data),
    );
    assert!(
        idec_error < 0.5 * dec_error,
        "reconstruction error after IDEC {idec_error:.4}, after DEC {dec_error:.4}"
    );
}

#[test]
fn centres_of_the_wrong_size_are_rejected() {
    let _alone = BACKEND_RNG.lock().unwrap_or_else(|e| e.into_inner());
    let device = Default::default();
    let model = ModelConfig::Autoencoder(AutoencoderConfig::new(
        2,
        ArchitectureConfig::mlp(vec![4], Default::default()),
    ))
    .init::<B>(&device)
    .unwrap();
    assert!(ClusteringModel::new(model.clone(), &[0.0; 5], 2, &device).is_err());
    assert!(ClusteringModel::new(model.clone(), &[0.0; 4], 0, &device).is_err());
    // Three 3-D centres do not fit a 2-D code.
    let mut config =
        AutoencoderConfig::new(2, ArchitectureConfig::mlp(vec![4], Default::default()));
    config.input_shape = InputShape::new(1, 1, DIM);
    let model = ModelConfig::Autoencoder(config).init::<B>(&device).unwrap();
    let clustering = ClusteringModel::new(model, &[0.0; 9], 3, &device).unwrap();
    let error = refine(
        clustering,
        Arc::new(blobs().0),
        &DecSettings::default(),
        &device,
        |_| {},
    )
    .unwrap_err();
    assert!(error.to_string().contains("3-D"), "{error}");
}
