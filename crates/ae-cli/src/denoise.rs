//! `ae denoise`: a denoising autoencoder against a median filter and PCA projection, in PSNR
//! and SSIM.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;

use ae_analysis::{Matrix, Pca, median_filter_3x3, psnr, ssim};
use ae_backend::{BackendChoice, BackendTask, run_on};
use ae_data::{AeBatcher, Corruption, Dataset};
use ae_train::pictures::write_grid;
use anyhow::{Context, Result, anyhow, bail};
use burn::tensor::backend::{AutodiffBackend, Backend};
use clap::Args;
use serde_json::json;

use crate::shared::{LoadedRun, for_each_batch, print_json, rows_of};

/// Per-item PSNR is capped here, so that an item the corruption left unchanged (infinite
/// PSNR) does not make the mean infinite.
const PSNR_CAP_DB: f64 = 100.0;

/// SSIM's window is 11 × 11: smaller images get no SSIM.
const SSIM_MIN_SIDE: usize = 11;

/// Arguments of `ae denoise`.
#[derive(Debug, Args)]
pub struct DenoiseArgs {
    /// The run folder (a trained denoising autoencoder).
    pub run: PathBuf,
    /// Corruption to remove, repeatable: gaussian:SIGMA, salt-and-pepper:P, masking:P,
    /// block:SIZE (default: the corruptions the run was trained with, each on its own).
    #[arg(long)]
    pub noise: Vec<String>,
    /// Which split: test (default), valid or train.
    #[arg(long, default_value = "test")]
    pub split: String,
    /// Use only the first N items of the split.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Items drawn in each picture (noisy, denoised and clean rows).
    #[arg(long, default_value_t = 8)]
    pub count: usize,
    /// Training items the PCA baseline is fitted on (the first N of the training split).
    #[arg(long, default_value_t = 10_000)]
    pub pca_items: usize,
    /// Numbers of principal components to try for the PCA baseline, comma separated; the
    /// best of them (highest mean PSNR) is reported as "pca" (default: the run's latent size).
    #[arg(long, value_delimiter = ',')]
    pub pca_components: Vec<usize>,
    /// Seed of the corruption noise.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Folder for the pictures (default: the run folder).
    #[arg(long)]
    pub out_dir: Option<PathBuf>,
    /// Pixel zoom factor.
    #[arg(long, default_value_t = 3)]
    pub zoom: u32,
    /// Items denoised at once.
    #[arg(long, default_value_t = 500)]
    pub batch_size: usize,
}

/// Runs `ae denoise`.
pub fn run_denoise(args: DenoiseArgs, choice: BackendChoice) -> Result<()> {
    run_on(choice, DenoiseTask { args })?
}

struct DenoiseTask {
    args: DenoiseArgs,
}

impl BackendTask for DenoiseTask {
    type Output = Result<()>;
    fn run<B: AutodiffBackend>(self, device: B::Device) -> Result<()> {
        denoise::<B::InnerBackend>(self.args, &device)
    }
}

/// The methods compared, in report order.
const METHODS: [&str; 4] = ["noisy", "autoencoder", "median_3x3", "pca"];

/// Running sums of one method's quality numbers.
#[derive(Debug, Default, Clone)]
struct Quality {
    psnr_sum: f64,
    ssim_sum: f64,
    squared_error_sum: f64,
    values: usize,
    items: usize,
}

impl Quality {
    fn add(&mut self, clean: &[f32], estimate: &[f32], shape: ae_models::InputShape) -> Result<()> {
        let item_psnr = psnr(clean, estimate, 1.0)?;
        self.psnr_sum += item_psnr.min(PSNR_CAP_DB);
        if shape.height >= SSIM_MIN_SIDE && shape.width >= SSIM_MIN_SIDE {
            self.ssim_sum += ssim(
                clean,
                estimate,
                shape.channels,
                shape.height,
                shape.width,
                1.0,
            )?;
        }
        self.squared_error_sum += clean
            .iter()
            .zip(estimate)
            .map(|(a, b)| (f64::from(*a) - f64::from(*b)).powi(2))
            .sum::<f64>();
        self.values += clean.len();
        self.items += 1;
        Ok(())
    }

    fn mean_psnr(&self) -> f64 {
        self.psnr_sum / self.items as f64
    }

    fn pooled_psnr(&self) -> f64 {
        let mse = self.squared_error_sum / self.values as f64;
        if mse == 0.0 {
            PSNR_CAP_DB
        } else {
            10.0 * (1.0 / mse).log10()
        }
    }
}

/// Clamps `values` to the data's value range, if it has one.
fn clamp_to(values: &mut [f32], range: Option<(f32, f32)>) {
    if let Some((lo, hi)) = range {
        values.iter_mut().for_each(|v| *v = v.clamp(lo, hi));
    }
}

/// The corruptions to evaluate: `--noise` or the run's own.
fn corruptions<B: Backend>(args: &DenoiseArgs, loaded: &LoadedRun<B>) -> Result<Vec<Corruption>> {
    if args.noise.is_empty() {
        if loaded.config.data.corruptions.is_empty() {
            bail!(
                "{} was trained without corruptions: give one with --noise KIND:VALUE (e.g. gaussian:0.3)",
                args.run.display()
            );
        }
        return Ok(loaded.config.data.corruptions.clone());
    }
    args.noise
        .iter()
        .map(|text| {
            text.parse::<Corruption>()
                .map_err(|e| anyhow!("--noise {e}"))
        })
        .collect()
}

/// PCA fitted on the clean targets of the first `limit` training items.
fn fit_pca(train: &Dataset, limit: usize, components: usize) -> Result<Pca> {
    let n = train.len().min(limit);
    let d = train.target_dim();
    let mut values = Vec::with_capacity(n * d);
    for i in 0..n {
        train.extend_with_target(i, &mut values);
    }
    let matrix = Matrix::from_f32(n, d, &values)?;
    Pca::fit(&matrix, components).context("cannot fit the PCA baseline")
}

/// A file-name-safe form of a corruption, e.g. `gaussian-0.3`.
fn file_stem(corruption: &Corruption) -> String {
    corruption.to_string().replace(':', "-")
}

fn denoise<B: Backend>(args: DenoiseArgs, device: &B::Device) -> Result<()> {
    if args.zoom == 0 {
        bail!("--zoom must be at least 1");
    }
    if args.pca_items < 2 {
        bail!("--pca-items must be at least 2");
    }
    let loaded = LoadedRun::<B>::load(&args.run, device)?;
    let shape = loaded.config.model.input_shape();
    if shape.height < 2 || !matches!(shape.channels, 1 | 3) {
        bail!(
            "{}: denoising needs image data, but items have shape {}x{}x{}",
            args.run.display(),
            shape.channels,
            shape.height,
            shape.width
        );
    }
    let corruptions = corruptions(&args, &loaded)?;
    let mut data = loaded.split(&args.split)?;
    if let Some(limit) = args.limit {
        if limit == 0 {
            bail!("--limit must be at least 1");
        }
        data = data.take(limit);
    }
    let range = data.value_range;
    if range != Some((0.0, 1.0)) {
        bail!(
            "{}: denoising compares images with values in [0, 1], but this data's range is {range:?}",
            args.run.display()
        );
    }
    let item_shape = data.shape;
    for corruption in &corruptions {
        corruption
            .check_fits(item_shape)
            .map_err(|e| anyhow!("--noise {corruption}: {e}"))?;
    }
    let latent = loaded.config.model.latent();
    let requested = if args.pca_components.is_empty() {
        vec![latent]
    } else {
        args.pca_components.clone()
    };
    if requested.contains(&0) {
        bail!("--pca-components must be at least 1");
    }
    let largest = requested.iter().copied().max().unwrap_or(latent);
    let pca = fit_pca(&loaded.data.train, args.pca_items, largest)?;
    // Sorted and distinct; PCA keeps at most min(items, values) components, so larger
    // requests use them all.
    let pca_ks: Vec<usize> = requested
        .iter()
        .map(|&k| k.min(pca.n_components()))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let out_dir = args
        .out_dir
        .clone()
        .unwrap_or_else(|| loaded.run.path().to_path_buf());
    std::fs::create_dir_all(&out_dir)
        .with_context(|| format!("cannot create {}", out_dir.display()))?;
    let data = Arc::new(data);
    let mut reports = Vec::new();
    for corruption in &corruptions {
        let batcher = AeBatcher::new(
            data.clone(),
            vec![corruption.for_items(item_shape)],
            false,
            args.seed,
        );
        let mut quality = vec![Quality::default(); METHODS.len()];
        let mut pca_quality = vec![Quality::default(); pca_ks.len()];
        let mut picture: [Vec<Vec<f32>>; 3] = Default::default();
        for_each_batch::<B>(&batcher, args.batch_size, device, |_, batch| {
            let output = loaded
                .model
                .decode(loaded.model.encode(batch.input.clone()));
            let noisy = rows_of(batch.input)?;
            let clean = rows_of(batch.target)?;
            let mut denoised = rows_of(output)?;
            let n = noisy.len();
            let flat_noisy: Vec<f32> = noisy.iter().flatten().copied().collect();
            let dim = flat_noisy.len() / n;
            let noisy_matrix = Matrix::from_f32(n, dim, &flat_noisy)?;
            for (&k, q) in pca_ks.iter().zip(pca_quality.iter_mut()) {
                let mut projected = pca.reconstruct_k(&noisy_matrix, k)?.to_f32();
                clamp_to(&mut projected, range);
                for i in 0..n {
                    q.add(&clean[i], &projected[i * dim..(i + 1) * dim], shape)?;
                }
            }
            for i in 0..n {
                clamp_to(&mut denoised[i], range);
                let median =
                    median_filter_3x3(&noisy[i], shape.channels, shape.height, shape.width)?;
                let estimates: [&[f32]; 3] = [&noisy[i], &denoised[i], &median];
                for (q, estimate) in quality.iter_mut().zip(estimates) {
                    q.add(&clean[i], estimate, shape)?;
                }
                if picture[0].len() < args.count {
                    picture[0].push(noisy[i].clone());
                    picture[1].push(denoised[i].clone());
                    picture[2].push(clean[i].clone());
                }
            }
            Ok(())
        })?;
        let (best_pca, best_pca_quality) = pca_ks
            .iter()
            .zip(&pca_quality)
            .max_by(|a, b| a.1.mean_psnr().total_cmp(&b.1.mean_psnr()))
            .expect("at least one number of components");
        quality[3] = best_pca_quality.clone();
        let pca_by_components: serde_json::Map<_, _> = pca_ks
            .iter()
            .zip(&pca_quality)
            .map(|(k, q)| (k.to_string(), json!(q.mean_psnr())))
            .collect();
        let path = out_dir.join(format!("denoise-{}.png", file_stem(corruption)));
        write_grid(&path, &picture, shape, args.zoom)?;
        let by_method = |value: &dyn Fn(&Quality) -> f64| {
            METHODS
                .iter()
                .zip(&quality)
                .map(|(name, q)| (name.to_string(), json!(value(q))))
                .collect::<serde_json::Map<_, _>>()
        };
        let has_ssim = shape.height >= SSIM_MIN_SIDE && shape.width >= SSIM_MIN_SIDE;
        let mean_psnr: Vec<f64> = quality.iter().map(Quality::mean_psnr).collect();
        reports.push(json!({
            "corruption": corruption.to_string(),
            "picture": path,
            "psnr": by_method(&Quality::mean_psnr),
            "psnr_pooled": by_method(&Quality::pooled_psnr),
            "ssim": if has_ssim {
                json!(by_method(&|q: &Quality| q.ssim_sum / q.items as f64))
            } else {
                serde_json::Value::Null
            },
            "gain_over_best_baseline_db": mean_psnr[1] - mean_psnr[2].max(mean_psnr[3]),
            "pca_components": best_pca,
            "pca_psnr_by_components": pca_by_components,
        }));
    }
    print_json(&json!({
        "run": args.run,
        "split": args.split,
        "items": data.len(),
        "seed": args.seed,
        "pca_components_tried": pca_ks,
        "pca_items": loaded.data.train.len().min(args.pca_items),
        "psnr_note": format!(
            "mean over items of 10 log10(1 / MSE), each capped at {PSNR_CAP_DB} dB; psnr_pooled uses the MSE over all items"
        ),
        "corruptions": reports,
    }))
}
