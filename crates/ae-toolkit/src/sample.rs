//! Generation: codes from a VAE's prior, or from a Gaussian mixture fitted to the training
//! codes ([`GmmSampler`], fitted then sampled), decoded and drawn.

use std::path::PathBuf;

use ae_analysis::GaussianMixture;
use burn::tensor::backend::Backend;
use burn::tensor::{Distribution, Tensor};
use serde::Serialize;

use crate::error::{Result, ToolkitError, at_least_one};
use crate::named::Named;
use crate::run::{Split, TrainedRun};
use crate::tensors::flat_values;

/// Where samples' codes come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SampleSource {
    /// The VAE's standard normal prior.
    #[default]
    Prior,
    /// A full-covariance Gaussian mixture fitted to the training split's codes (posterior
    /// means): sharper samples, and it works for a plain autoencoder too.
    Gmm,
}

impl Named for SampleSource {
    const ALL: &'static [Self] = &[SampleSource::Prior, SampleSource::Gmm];
    fn name(self) -> &'static str {
        match self {
            SampleSource::Prior => "prior",
            SampleSource::Gmm => "gmm",
        }
    }
    fn help(self) -> &'static str {
        match self {
            SampleSource::Prior => "the VAE's standard normal prior",
            SampleSource::Gmm => "a Gaussian mixture fitted to the training codes",
        }
    }
}

/// `count` codes from the VAE's standard normal prior, row-major, drawn from `seed`.
pub fn prior_codes<B: Backend>(run: &TrainedRun<B>, count: usize, seed: u64) -> Result<Vec<f32>> {
    if !run.is_vae() {
        return Err(ToolkitError::Setting {
            name: "from",
            problem: format!(
                "prior needs a VAE, but {} trained a {}: sample a Gaussian mixture fitted to \
                 its codes instead",
                run.path().display(),
                run.model_name()
            ),
            suggestion: Some(("from", "gmm".into())),
        });
    }
    ae_io::memory::check(
        format!("{count} codes"),
        (count as u128)
            .saturating_mul(run.latent() as u128)
            .saturating_mul(4 * 2),
    )?;
    B::seed(run.device(), seed);
    let z = Tensor::<B, 2>::random(
        [count, run.latent()],
        Distribution::Normal(0.0, 1.0),
        run.device(),
    );
    flat_values(z)
}

/// A Gaussian mixture fitted to a run's training codes, to sample codes from.
pub struct GmmSampler {
    /// The mixture.
    pub mixture: GaussianMixture,
    /// What the fit found.
    pub report: GmmReport,
}

/// How a [`GmmSampler`] was fitted.
#[derive(Debug, Clone, Serialize)]
pub struct GmmReport {
    /// Mixture components.
    pub components: usize,
    /// Training codes fitted.
    pub train_items: usize,
    /// Mean log-likelihood of the training codes under the mixture.
    pub train_mean_log_likelihood: f64,
    /// EM iterations run.
    pub iterations: usize,
    /// Whether EM converged.
    pub converged: bool,
}

impl GmmSampler {
    /// Fits `components` components to the training split's codes with at most `max_iter` EM
    /// iterations, starting from `seed`.
    pub fn fit<B: Backend>(
        run: &TrainedRun<B>,
        components: usize,
        max_iter: usize,
        seed: u64,
        batch_size: usize,
    ) -> Result<Self> {
        at_least_one("components", components)?;
        let train = run.split(Split::Train)?;
        let codes = run.encode(&train, batch_size)?;
        if codes.rows() < components {
            return Err(ToolkitError::setting(
                "components",
                format!(
                    "{components} is more than the {} training items",
                    codes.rows()
                ),
            ));
        }
        let mixture = GaussianMixture::fit(&codes, components, seed, max_iter)?;
        let report = GmmReport {
            components,
            train_items: codes.rows(),
            train_mean_log_likelihood: mixture.log_likelihood(&codes)?,
            iterations: mixture.iterations,
            converged: mixture.converged,
        };
        Ok(Self { mixture, report })
    }

    /// `count` codes drawn from the mixture, row-major.
    pub fn sample(&self, count: usize, seed: u64) -> Result<Vec<f32>> {
        ae_io::memory::check(
            format!("{count} codes"),
            (count as u128)
                .saturating_mul(self.mixture.dim() as u128)
                .saturating_mul(8 * 2),
        )?;
        Ok(self.mixture.sample(count, seed)?.to_f32())
    }
}

/// How to draw samples.
#[derive(Debug, Clone)]
pub struct SampleSettings {
    /// Where the codes come from.
    pub from: SampleSource,
    /// Mixture components for [`SampleSource::Gmm`].
    pub components: usize,
    /// EM iterations (at most) for [`SampleSource::Gmm`].
    pub max_iter: usize,
    /// Items encoded at once for [`SampleSource::Gmm`].
    pub batch_size: usize,
    /// Number of samples.
    pub count: usize,
    /// The picture (default: `RUN/samples.png`, or `RUN/samples-gmm.png`).
    pub out: Option<PathBuf>,
    /// Seed of the samples.
    pub seed: u64,
    /// Pixel zoom factor.
    pub zoom: u32,
}

impl Default for SampleSettings {
    fn default() -> Self {
        Self {
            from: SampleSource::Prior,
            components: 10,
            max_iter: 200,
            batch_size: 500,
            count: 16,
            out: None,
            seed: 0,
            zoom: 3,
        }
    }
}

/// What [`sample_picture`] reports.
#[derive(Debug, Clone, Serialize)]
pub struct SampleReport {
    /// The picture.
    #[serde(serialize_with = "crate::paths::lossy")]
    pub picture: PathBuf,
    /// Where the codes came from.
    pub from: SampleSource,
    /// Number of samples.
    pub count: usize,
    /// The mixture's fit, for [`SampleSource::Gmm`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gmm: Option<GmmReport>,
}

/// Decodes samples and draws them in a square-ish grid.
pub fn sample_picture<B: Backend>(
    run: &TrainedRun<B>,
    settings: &SampleSettings,
) -> Result<SampleReport> {
    at_least_one("count", settings.count)?;
    at_least_one("zoom", settings.zoom as usize)?;
    run.require_images("a picture of samples")?;
    let per_row = (settings.count as f64).sqrt().ceil() as usize;
    ae_plot::check_grid(
        settings.count.div_ceil(per_row),
        per_row,
        run.grid_shape(),
        settings.zoom,
    )?;
    let (codes, gmm) = match settings.from {
        SampleSource::Prior => (prior_codes(run, settings.count, settings.seed)?, None),
        SampleSource::Gmm => {
            let sampler = GmmSampler::fit(
                run,
                settings.components,
                settings.max_iter,
                settings.seed,
                settings.batch_size,
            )?;
            (
                sampler.sample(settings.count, settings.seed)?,
                Some(sampler.report),
            )
        }
    };
    let images = run.decode(&codes)?;
    let rows: Vec<Vec<Vec<f32>>> = images.chunks(per_row).map(|c| c.to_vec()).collect();
    let default_name = match settings.from {
        SampleSource::Prior => "samples.png",
        SampleSource::Gmm => "samples-gmm.png",
    };
    let out = settings
        .out
        .clone()
        .unwrap_or_else(|| run.path().join(default_name));
    ae_plot::write_grid(&out, &rows, run.grid_shape(), settings.zoom)?;
    Ok(SampleReport {
        picture: out,
        from: settings.from,
        count: settings.count,
        gmm,
    })
}
