//! The explorer's state and its queries, independent of HTTP: every answer is a serializable
//! report, every bad argument an [`ExploreError::BadRequest`].

use std::sync::OnceLock;

use ae_toolkit::analysis::{Matrix, Pca, Umap, UmapSettings};
use ae_toolkit::anomaly::AnomalyDetector;
use ae_toolkit::latent::{code_moments, interpolate_codes, mean_code};
use ae_toolkit::sample::{GmmSampler, prior_codes};
use ae_toolkit::{Dataset, ItemSource, Named, TrainedRun};
use burn::tensor::backend::Backend;
use serde::Serialize;

use crate::error::{ExploreError, Result};
use crate::plane::Plane;

/// What the explorer shows and how it lays it out.
#[derive(Debug, Clone)]
pub struct ExploreSettings {
    /// The items shown on the map (default: the run's test split).
    pub source: ItemSource,
    /// At most this many items (the first ones), to keep the page quick.
    pub limit: usize,
    /// Lay the map out with UMAP instead of PCA (codes of more than two values).
    pub umap: bool,
    /// Items encoded at once.
    pub batch_size: usize,
    /// Seed of UMAP and of the Gaussian mixture.
    pub seed: u64,
}

impl Default for ExploreSettings {
    fn default() -> Self {
        Self {
            source: ItemSource::default(),
            limit: 2000,
            umap: false,
            batch_size: 500,
            seed: 0,
        }
    }
}

/// A trained run opened for exploration: its items, their codes, a 2-D map of the codes and
/// the items' anomaly scores, computed once; decoding runs on demand with the run's model.
///
/// ```no_run
/// use ae_explore::{ExploreSettings, Explorer};
/// use ae_toolkit::{TrainedRun, backend::Flex};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let run = TrainedRun::<Flex>::open("runs/mlp-vae-mnist", &Default::default())?;
/// let explorer = Explorer::new(run, &ExploreSettings::default())?;
/// let item = explorer.item(0)?; // input, code, reconstruction, map position
/// let image = explorer.decode(&item.code)?;
/// assert_eq!(image.values.len(), item.input.len());
/// # Ok(()) }
/// ```
pub struct Explorer<B: Backend> {
    run: TrainedRun<B>,
    items: Dataset,
    codes: Vec<f32>,
    reconstructions: Vec<Vec<f32>>,
    plane: Plane,
    means: Vec<f64>,
    stds: Vec<f64>,
    order: Vec<usize>,
    scores: Vec<f64>,
    score_name: String,
    threshold: Option<f64>,
    seed: u64,
    batch_size: usize,
    gmm: OnceLock<std::result::Result<GmmSampler, String>>,
}

/// What the page needs to know of the run.
#[derive(Debug, Clone, Serialize)]
pub struct Info {
    /// The run folder.
    pub run: String,
    /// `autoencoder` or `vae`.
    pub model: String,
    /// Whether the model is a VAE (prior sampling and spherical interpolation apply).
    pub vae: bool,
    /// The latent size.
    pub latent: usize,
    /// `image` (drawn as pictures) or `table` (drawn as bars).
    pub kind: &'static str,
    /// Channels, height and width of a decoded item.
    pub shape: [usize; 3],
    /// A table's column names.
    pub columns: Vec<String>,
    /// The range of valid values (`[0, 1]` for images).
    pub value_range: Option<(f32, f32)>,
    /// Items on the map.
    pub items: usize,
    /// Class ids present among the items, ascending (empty when unlabelled).
    pub labels: Vec<u32>,
    /// Names of the class ids (may be empty).
    pub class_names: Vec<String>,
    /// How the map was made: `code`, `pca` or `umap`.
    pub projection: &'static str,
    /// Latent dimensions by decreasing variance over the items' codes.
    pub dims: Vec<usize>,
    /// Mean of each latent dimension over the items' codes.
    pub code_mean: Vec<f64>,
    /// Standard deviation of each latent dimension over the items' codes.
    pub code_std: Vec<f64>,
    /// The anomaly score shown.
    pub score: String,
    /// The fitted threshold (`ae anomaly fit`), if any.
    pub threshold: Option<f64>,
}

/// The map: one point per item.
#[derive(Debug, Clone, Serialize)]
pub struct MapReport {
    /// Each item's position.
    pub points: Vec<[f64; 2]>,
    /// Each item's class id, when labelled.
    pub labels: Option<Vec<u32>>,
}

/// One item.
#[derive(Debug, Clone, Serialize)]
pub struct ItemReport {
    /// Its index among the explorer's items.
    pub index: usize,
    /// Its class id.
    pub label: Option<u32>,
    /// Its values, as the model reads them.
    pub input: Vec<f32>,
    /// Its code.
    pub code: Vec<f32>,
    /// Its reconstruction (decoded from its code).
    pub reconstruction: Vec<f32>,
    /// Its position on the map.
    pub position: [f64; 2],
    /// Its anomaly score.
    pub score: f64,
}

/// A decoded code.
#[derive(Debug, Clone, Serialize)]
pub struct Decoded {
    /// The code.
    pub code: Vec<f32>,
    /// The decoded values.
    pub values: Vec<f32>,
}

/// An encoded item.
#[derive(Debug, Clone, Serialize)]
pub struct Encoded {
    /// The code.
    pub code: Vec<f32>,
    /// Its position on the map.
    pub position: [f64; 2],
}

/// A path between two items.
#[derive(Debug, Clone, Serialize)]
pub struct Strip {
    /// Where along the path each decoding lies (0 to 1).
    pub times: Vec<f64>,
    /// Whether the path was spherical.
    pub spherical: bool,
    /// The decoded values along the path, first and last the items' reconstructions.
    pub items: Vec<Vec<f32>>,
}

/// An attribute direction.
#[derive(Debug, Clone, Serialize)]
pub struct Direction {
    /// The mean code of `to` minus that of `from`.
    pub direction: Vec<f64>,
    /// Items of the `from` label.
    pub from_count: usize,
    /// Items of the `to` label.
    pub to_count: usize,
}

/// One of the worst-reconstructed items.
#[derive(Debug, Clone, Serialize)]
pub struct Anomaly {
    /// Its index.
    pub index: usize,
    /// Its score.
    pub score: f64,
    /// Its class id.
    pub label: Option<u32>,
    /// Its values.
    pub input: Vec<f32>,
    /// Its reconstruction.
    pub reconstruction: Vec<f32>,
}

/// The anomaly view.
#[derive(Debug, Clone, Serialize)]
pub struct AnomalyReport {
    /// The score.
    pub score: String,
    /// The fitted threshold, if any.
    pub threshold: Option<f64>,
    /// Every item's score, for the histogram.
    pub scores: Vec<f64>,
    /// The highest-scoring items, highest first.
    pub top: Vec<Anomaly>,
}

/// Samples.
#[derive(Debug, Clone, Serialize)]
pub struct Samples {
    /// `prior` or `gmm`.
    pub source: String,
    /// The decoded samples.
    pub items: Vec<Vec<f32>>,
}

/// The most items one request decodes.
pub const MAX_DECODES: usize = 64;

fn bad(message: impl Into<String>) -> ExploreError {
    ExploreError::BadRequest(message.into())
}

/// Fails unless `value` lies in `least..=MAX_DECODES`.
fn check_decodes(name: &str, value: usize, least: usize) -> Result<()> {
    if (least..=MAX_DECODES).contains(&value) {
        Ok(())
    } else {
        Err(bad(format!(
            "{name} must be between {least} and {MAX_DECODES}, not {value}"
        )))
    }
}

impl ExploreSettings {
    /// Fails on settings no explorer can use.
    pub fn check(&self) -> Result<()> {
        if self.limit < 2 {
            return Err(ExploreError::Setting(
                "limit must be at least 2 (the map needs two items)".into(),
            ));
        }
        Ok(())
    }
}

impl<B: Backend> Explorer<B> {
    /// Reads the items of `settings.source`, encodes them, lays out the map and scores them.
    pub fn new(run: TrainedRun<B>, settings: &ExploreSettings) -> Result<Self> {
        settings.check()?;
        let all = run.read(&settings.source)?;
        let items = if all.len() > settings.limit {
            all.take(settings.limit)
        } else {
            all
        };
        if items.len() < 2 {
            return Err(ExploreError::Setting(format!(
                "{} has {} item(s) to explore; the map needs at least two",
                settings.source.name(),
                items.len()
            )));
        }
        let batch_size = settings.batch_size.max(1);
        let latent = run.latent();
        let codes = run.encode_rows(&items, batch_size)?;
        let reconstructions = run.reconstruct(&items, batch_size)?;
        let (means, stds) = code_moments(&codes, latent);
        let mut order: Vec<usize> = (0..latent).collect();
        order.sort_by(|&a, &b| stds[b].total_cmp(&stds[a]).then(a.cmp(&b)));
        let plane = Self::layout(&codes, latent, settings)?;
        let (scores, score_name, threshold) = Self::scores(&run, &items, batch_size)?;
        Ok(Self {
            run,
            items,
            codes,
            reconstructions,
            plane,
            means,
            stds,
            order,
            scores,
            score_name,
            threshold,
            seed: settings.seed,
            batch_size,
            gmm: OnceLock::new(),
        })
    }

    fn layout(codes: &[f32], latent: usize, settings: &ExploreSettings) -> Result<Plane> {
        let n = codes.len() / latent;
        let matrix = Matrix::from_f32(n, latent, codes)?;
        if latent <= 2 {
            return Ok(Plane::identity(matrix));
        }
        if settings.umap {
            let umap = Umap::fit(
                &matrix,
                &UmapSettings {
                    seed: settings.seed,
                    ..UmapSettings::default()
                },
            )?;
            return Ok(Plane::embedded(matrix, umap.embedding, "umap"));
        }
        let pca = Pca::fit(&matrix, 2)?;
        Plane::pca(matrix, &pca)
    }

    /// The saved detector's score and threshold (`ae anomaly fit`), else the squared error.
    fn scores(
        run: &TrainedRun<B>,
        items: &Dataset,
        batch_size: usize,
    ) -> Result<(Vec<f64>, String, Option<f64>)> {
        if let Some(mut detector) = AnomalyDetector::saved(run)? {
            detector.batch_size = batch_size;
            let scores = detector.decision_function(items)?;
            let threshold = detector.threshold().map(|t| t.threshold);
            return Ok((scores, detector.score_kind().name().to_string(), threshold));
        }
        let scores = run.score(items, batch_size)?.squared_error;
        Ok((scores, "error".to_string(), None))
    }

    /// The run.
    pub fn run(&self) -> &TrainedRun<B> {
        &self.run
    }

    /// The number of items on the map.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether there are no items (never, once built).
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    fn latent(&self) -> usize {
        self.run.latent()
    }

    fn code_of(&self, index: usize) -> &[f32] {
        let latent = self.latent();
        &self.codes[index * latent..(index + 1) * latent]
    }

    fn label_of(&self, index: usize) -> Option<u32> {
        self.items.labels.as_ref().map(|l| l[index])
    }

    fn check_index(&self, index: usize) -> Result<()> {
        if index >= self.len() {
            return Err(bad(format!(
                "item {index} is out of range: there are {} items (0 to {})",
                self.len(),
                self.len() - 1
            )));
        }
        Ok(())
    }

    /// What the page needs to know of the run.
    pub fn info(&self) -> Info {
        let shape = self.run.info().target_shape;
        let image = self.run.require_images("drawing").is_ok();
        let mut labels: Vec<u32> = self.items.labels.clone().unwrap_or_default();
        labels.sort_unstable();
        labels.dedup();
        Info {
            run: self.run.path().display().to_string(),
            model: self.run.model_name().to_string(),
            vae: self.run.is_vae(),
            latent: self.latent(),
            kind: if image { "image" } else { "table" },
            shape: [shape.channels, shape.height, shape.width],
            columns: self.run.info().columns.clone(),
            value_range: self.run.info().value_range,
            items: self.len(),
            labels,
            class_names: self.run.info().class_names.clone(),
            projection: self.plane.kind(),
            dims: self.order.clone(),
            code_mean: self.means.clone(),
            code_std: self.stds.clone(),
            score: self.score_name.clone(),
            threshold: self.threshold,
        }
    }

    /// Every item's position on the map.
    pub fn map(&self) -> MapReport {
        MapReport {
            points: self.plane.points().to_vec(),
            labels: self.items.labels.clone(),
        }
    }

    /// Item `index`: its values, code, reconstruction, position and score.
    pub fn item(&self, index: usize) -> Result<ItemReport> {
        self.check_index(index)?;
        Ok(ItemReport {
            index,
            label: self.label_of(index),
            input: self.items.input(index).into_owned(),
            code: self.code_of(index).to_vec(),
            reconstruction: self.reconstructions[index].clone(),
            position: self.plane.points()[index],
            score: self.scores[index],
        })
    }

    /// Checks that `code` is one finite code of the run's latent size.
    fn check_code(&self, code: &[f32]) -> Result<()> {
        if code.len() != self.latent() {
            return Err(bad(format!(
                "the code has {} values, but this model's codes have {}",
                code.len(),
                self.latent()
            )));
        }
        if let Some(i) = code.iter().position(|v| !v.is_finite()) {
            return Err(bad(format!("code value {i} is not a finite number")));
        }
        Ok(())
    }

    /// Decodes one code.
    pub fn decode(&self, code: &[f32]) -> Result<Decoded> {
        self.check_code(code)?;
        let values = self
            .decode_many(code)?
            .into_iter()
            .next()
            .unwrap_or_default();
        Ok(Decoded {
            code: code.to_vec(),
            values,
        })
    }

    fn decode_many(&self, codes: &[f32]) -> Result<Vec<Vec<f32>>> {
        Ok(self.run.decode(codes)?)
    }

    /// The code and map position of item `index`.
    pub fn encoded(&self, index: usize) -> Result<Encoded> {
        self.check_index(index)?;
        Ok(Encoded {
            code: self.code_of(index).to_vec(),
            position: self.plane.points()[index],
        })
    }

    /// Encodes one item given by its values (as the model reads them).
    pub fn encode_values(&self, values: &[f32]) -> Result<Encoded> {
        let dim = self.items.dim();
        if values.len() != dim {
            return Err(bad(format!(
                "the item has {} values, but this model's items have {dim}",
                values.len()
            )));
        }
        if let Some(i) = values.iter().position(|v| !v.is_finite()) {
            return Err(bad(format!("item value {i} is not a finite number")));
        }
        let data = Dataset::from_inputs(self.items.shape, values.to_vec(), self.items.value_range)
            .map_err(|e| bad(e.to_string()))?;
        let code = self.run.encode_rows(&data, 1)?;
        let position = self.plane.project(&code);
        Ok(Encoded { code, position })
    }

    /// The code under a point of the map, and its decoding.
    pub fn plane(&self, x: f64, y: f64) -> Result<Decoded> {
        if !x.is_finite() || !y.is_finite() {
            return Err(bad("x and y must be finite numbers"));
        }
        let code: Vec<f32> = self
            .plane
            .code_at([x, y])
            .iter()
            .map(|&v| v as f32)
            .collect();
        self.decode(&code)
    }

    /// Decodings along the path from item `from` to item `to`, `steps` of them (at least 2),
    /// spherical (slerp) or linear.
    pub fn interpolate(
        &self,
        from: usize,
        to: usize,
        steps: usize,
        spherical: bool,
    ) -> Result<Strip> {
        self.check_index(from)?;
        self.check_index(to)?;
        check_decodes("steps", steps, 2)?;
        let a: Vec<f64> = self.code_of(from).iter().map(|&v| v as f64).collect();
        let b: Vec<f64> = self.code_of(to).iter().map(|&v| v as f64).collect();
        let times: Vec<f64> = (0..steps).map(|i| i as f64 / (steps - 1) as f64).collect();
        let codes = interpolate_codes(&a, &b, &times, spherical);
        Ok(Strip {
            times,
            spherical,
            items: self.decode_many(&codes)?,
        })
    }

    /// The mean code of the items labelled `to` minus that of those labelled `from`.
    pub fn attribute(&self, from: u32, to: u32) -> Result<Direction> {
        let labels = self
            .items
            .labels
            .as_ref()
            .ok_or_else(|| bad("the items have no labels, so there are no attributes"))?;
        let count = |label: u32| labels.iter().filter(|&&l| l == label).count();
        let (from_count, to_count) = (count(from), count(to));
        for (label, n) in [(from, from_count), (to, to_count)] {
            if n == 0 {
                return Err(bad(format!("no item has label {label}")));
            }
        }
        let latent = self.latent();
        let a = mean_code(&self.codes, labels, from, latent);
        let b = mean_code(&self.codes, labels, to, latent);
        Ok(Direction {
            direction: b.iter().zip(&a).map(|(b, a)| b - a).collect(),
            from_count,
            to_count,
        })
    }

    /// The `count` highest-scoring items, highest first, with every item's score.
    pub fn anomalies(&self, count: usize) -> Result<AnomalyReport> {
        check_decodes("count", count, 1)?;
        let mut order: Vec<usize> = (0..self.len()).collect();
        order.sort_by(|&a, &b| self.scores[b].total_cmp(&self.scores[a]).then(a.cmp(&b)));
        let top = order
            .into_iter()
            .take(count)
            .map(|index| Anomaly {
                index,
                score: self.scores[index],
                label: self.label_of(index),
                input: self.items.input(index).into_owned(),
                reconstruction: self.reconstructions[index].clone(),
            })
            .collect();
        Ok(AnomalyReport {
            score: self.score_name.clone(),
            threshold: self.threshold,
            scores: self.scores.clone(),
            top,
        })
    }

    /// `count` samples from the VAE's prior (`prior`) or from a Gaussian mixture of 10
    /// components fitted to the training codes (`gmm`, fitted on first use).
    pub fn sample(&self, source: &str, count: usize, seed: u64) -> Result<Samples> {
        check_decodes("count", count, 1)?;
        let codes = match source {
            "prior" => {
                if !self.run.is_vae() {
                    return Err(bad(
                        "prior sampling needs a VAE; this run is a plain autoencoder: use gmm",
                    ));
                }
                prior_codes(&self.run, count, seed)?
            }
            "gmm" => {
                let fitted = self.gmm.get_or_init(|| {
                    GmmSampler::fit(&self.run, 10, 100, self.seed, self.batch_size)
                        .map_err(|e| e.to_string())
                });
                match fitted {
                    Ok(sampler) => sampler.sample(count, seed)?,
                    Err(e) => return Err(ExploreError::Unavailable(e.clone())),
                }
            }
            other => {
                return Err(bad(format!(
                    "unknown sample source {other:?}: use prior or gmm"
                )));
            }
        };
        Ok(Samples {
            source: source.to_string(),
            items: self.decode_many(&codes)?,
        })
    }
}
