//! Denoising evaluation (`ae denoise`): a denoising autoencoder against a 3×3 median filter
//! and PCA projection, in PSNR and SSIM, with pictures of noisy, denoised and clean items.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;

use ae_analysis::{Matrix, Pca, median_filter_3x3, psnr, ssim};
use ae_data::{AeBatcher, Corruption, Dataset, ImageShape};
use burn::tensor::backend::Backend;
use serde::Serialize;

use crate::error::{Result, ToolkitError, at_least_one};
use crate::run::{Split, TrainedRun};
use crate::tensors::{for_each_batch, rows_of};

/// Per-item PSNR is capped here, so that an item the corruption left unchanged (infinite
/// PSNR) does not make the mean infinite.
pub const PSNR_CAP_DB: f64 = 100.0;

/// SSIM's window is 11 × 11: smaller images get no SSIM.
const SSIM_MIN_SIDE: usize = 11;

/// How to evaluate denoising.
#[derive(Debug, Clone)]
pub struct DenoiseSettings {
    /// Corruptions to remove, each on its own (default: those the run trained with).
    pub noise: Vec<Corruption>,
    /// The split.
    pub split: Split,
    /// Use only the first `limit` items of the split.
    pub limit: Option<usize>,
    /// Items drawn in each picture (noisy, denoised and clean rows).
    pub count: usize,
    /// Training items the PCA baseline is fitted on (the first N of the training split).
    pub pca_items: usize,
    /// Numbers of principal components to try for the PCA baseline; the best (highest mean
    /// PSNR) is reported as `pca` (default: the run's latent size).
    pub pca_components: Vec<usize>,
    /// Seed of the corruption noise.
    pub seed: u64,
    /// Folder for the pictures (default: the run folder).
    pub out_dir: Option<PathBuf>,
    /// Pixel zoom factor.
    pub zoom: u32,
    /// Items denoised at once.
    pub batch_size: usize,
}

impl Default for DenoiseSettings {
    fn default() -> Self {
        Self {
            noise: Vec::new(),
            split: Split::Test,
            limit: None,
            count: 8,
            pca_items: 10_000,
            pca_components: Vec::new(),
            seed: 0,
            out_dir: None,
            zoom: 3,
            batch_size: 500,
        }
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
    fn add(&mut self, clean: &[f32], estimate: &[f32], shape: ImageShape) -> Result<()> {
        let item_psnr = psnr(clean, estimate, 1.0)?;
        self.psnr_sum += item_psnr.min(PSNR_CAP_DB);
        if has_ssim(shape) {
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

    fn mean_ssim(&self) -> f64 {
        self.ssim_sum / self.items as f64
    }
}

fn has_ssim(shape: ImageShape) -> bool {
    shape.height >= SSIM_MIN_SIDE && shape.width >= SSIM_MIN_SIDE
}

/// Clamps `values` to the data's value range, if it has one.
fn clamp_to(values: &mut [f32], range: Option<(f32, f32)>) {
    if let Some((lo, hi)) = range {
        values.iter_mut().for_each(|v| *v = v.clamp(lo, hi));
    }
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
    Ok(Pca::fit(&matrix, components)?)
}

/// A file-name-safe form of a corruption, e.g. `gaussian-0.3`.
fn file_stem(corruption: &Corruption) -> String {
    corruption.to_string().replace(':', "-")
}

/// One corruption's results.
#[derive(Debug, Clone, Serialize)]
pub struct CorruptionReport {
    /// The corruption, as `kind:value`.
    pub corruption: String,
    /// Noisy, denoised and clean items.
    #[serde(serialize_with = "crate::paths::lossy")]
    pub picture: PathBuf,
    /// Mean PSNR by method (`noisy`, `autoencoder`, `median_3x3`, `pca`).
    pub psnr: BTreeMap<String, f64>,
    /// PSNR of the mean squared error over all items, by method.
    pub psnr_pooled: BTreeMap<String, f64>,
    /// Mean SSIM by method (none for images under 11 × 11).
    pub ssim: Option<BTreeMap<String, f64>>,
    /// The autoencoder's mean PSNR over the better of the median filter and PCA.
    pub gain_over_best_baseline_db: f64,
    /// The number of components of the best PCA baseline.
    pub pca_components: usize,
    /// Mean PSNR of PCA by number of components.
    pub pca_psnr_by_components: BTreeMap<String, f64>,
}

/// What [`denoise`] reports.
#[derive(Debug, Clone, Serialize)]
pub struct DenoiseReport {
    /// The run folder.
    #[serde(serialize_with = "crate::paths::lossy")]
    pub run: PathBuf,
    /// The split.
    pub split: Split,
    /// Items evaluated.
    pub items: usize,
    /// Seed of the noise.
    pub seed: u64,
    /// Numbers of components tried for PCA.
    pub pca_components_tried: Vec<usize>,
    /// Training items PCA was fitted on.
    pub pca_items: usize,
    /// How PSNR is averaged.
    pub psnr_note: String,
    /// One report per corruption.
    pub corruptions: Vec<CorruptionReport>,
}

/// Corrupts a split's items with each corruption and compares the run's reconstructions with
/// a 3×3 median filter and the best PCA projection, in PSNR and SSIM.
pub fn denoise<B: Backend>(
    run: &TrainedRun<B>,
    settings: &DenoiseSettings,
) -> Result<DenoiseReport> {
    at_least_one("zoom", settings.zoom as usize)?;
    if settings.pca_items < 2 {
        return Err(ToolkitError::setting("pca_items", "must be at least 2"));
    }
    let shape = run.info().target_shape;
    if shape.height < 2 || !matches!(shape.channels, 1 | 3) {
        return Err(ToolkitError::Unsupported(format!(
            "{}: denoising needs image data, but items have shape {shape}",
            run.path().display(),
        )));
    }
    let corruptions = if settings.noise.is_empty() {
        if run.config().data.corruptions.is_empty() {
            return Err(ToolkitError::Setting {
                name: "noise",
                problem: format!(
                    "is needed: {} was trained without corruptions",
                    run.path().display()
                ),
                suggestion: Some(("noise", "gaussian:0.3".into())),
            });
        }
        run.config().data.corruptions.clone()
    } else {
        settings.noise.clone()
    };
    for corruption in &corruptions {
        corruption
            .validate()
            .map_err(|e| ToolkitError::setting("noise", e.to_string()))?;
    }
    let mut data = run.split(settings.split)?;
    if let Some(limit) = settings.limit {
        at_least_one("limit", limit)?;
        data = data.take(limit);
    }
    let range = data.value_range;
    if range != Some((0.0, 1.0)) {
        return Err(ToolkitError::Unsupported(format!(
            "{}: denoising compares images with values in [0, 1], but this data's range is {range:?}",
            run.path().display()
        )));
    }
    let item_shape = data.shape;
    for corruption in &corruptions {
        corruption
            .check_fits(item_shape)
            .map_err(|e| ToolkitError::setting("noise", format!("{corruption}: {e}")))?;
    }
    let latent = run.latent();
    let requested = if settings.pca_components.is_empty() {
        vec![latent]
    } else {
        settings.pca_components.clone()
    };
    if requested.contains(&0) {
        return Err(ToolkitError::setting(
            "pca_components",
            "must be at least 1",
        ));
    }
    let largest = requested.iter().copied().max().unwrap_or(latent);
    let train = &run.data()?.train;
    let pca = fit_pca(train, settings.pca_items, largest)?;
    // Sorted and distinct; PCA keeps at most min(items, values) components, so larger
    // requests use them all.
    let pca_ks: Vec<usize> = requested
        .iter()
        .map(|&k| k.min(pca.n_components()))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let out_dir = settings
        .out_dir
        .clone()
        .unwrap_or_else(|| run.path().to_path_buf());
    std::fs::create_dir_all(&out_dir).map_err(|e| ae_io::WriteError::new(&out_dir, e))?;
    let items = data.len();
    let data = Arc::new(data);
    let mut reports = Vec::new();
    for corruption in &corruptions {
        let batcher = AeBatcher::new(
            data.clone(),
            vec![corruption.for_items(item_shape)],
            false,
            settings.seed,
        );
        let mut quality = vec![Quality::default(); METHODS.len()];
        let mut pca_quality = vec![Quality::default(); pca_ks.len()];
        let mut picture: [Vec<Vec<f32>>; 3] = Default::default();
        for_each_batch::<B>(&batcher, settings.batch_size, run.device(), |_, batch| {
            let model = run.model();
            let output = model.decode(model.encode(batch.input.clone()));
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
                if picture[0].len() < settings.count {
                    picture[0].push(noisy[i].clone());
                    picture[1].push(denoised[i].clone());
                    picture[2].push(clean[i].clone());
                }
            }
            Ok(())
        })?;
        let Some((best_pca, best_pca_quality)) = pca_ks
            .iter()
            .zip(&pca_quality)
            .max_by(|a, b| a.1.mean_psnr().total_cmp(&b.1.mean_psnr()))
        else {
            return Err(ToolkitError::setting("pca_components", "names no number"));
        };
        quality[3] = best_pca_quality.clone();
        let pca_by_components = pca_ks
            .iter()
            .zip(&pca_quality)
            .map(|(k, q)| (k.to_string(), q.mean_psnr()))
            .collect();
        let path = out_dir.join(format!("denoise-{}.png", file_stem(corruption)));
        ae_plot::write_grid(&path, &picture, run.grid_shape(), settings.zoom)?;
        let by_method = |value: &dyn Fn(&Quality) -> f64| {
            METHODS
                .iter()
                .zip(&quality)
                .map(|(name, q)| (name.to_string(), value(q)))
                .collect::<BTreeMap<_, _>>()
        };
        let mean_psnr: Vec<f64> = quality.iter().map(Quality::mean_psnr).collect();
        reports.push(CorruptionReport {
            corruption: corruption.to_string(),
            picture: path,
            psnr: by_method(&Quality::mean_psnr),
            psnr_pooled: by_method(&Quality::pooled_psnr),
            ssim: has_ssim(shape).then(|| by_method(&Quality::mean_ssim)),
            gain_over_best_baseline_db: mean_psnr[1] - mean_psnr[2].max(mean_psnr[3]),
            pca_components: *best_pca,
            pca_psnr_by_components: pca_by_components,
        });
    }
    Ok(DenoiseReport {
        run: run.path().to_path_buf(),
        split: settings.split,
        items,
        seed: settings.seed,
        pca_components_tried: pca_ks,
        pca_items: train.len().min(settings.pca_items),
        psnr_note: format!(
            "mean over items of 10 log10(1 / MSE), each capped at {PSNR_CAP_DB} dB; psnr_pooled uses the MSE over all items"
        ),
        corruptions: reports,
    })
}
