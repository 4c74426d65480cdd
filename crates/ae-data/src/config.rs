//! What data an experiment uses and how it is fed to a model: [`DataSource`] and
//! [`DataConfig`], read from the `[data]` table of an experiment config.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::batcher::AeBatcher;
use crate::corruption::Corruption;
use crate::dataset::Dataset;
use crate::error::{DataError, Result};
use crate::folder::MismatchedSize;

/// Where the data comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DataSource {
    /// MNIST from the shipped `datasets/mnist`.
    Mnist,
    /// Fashion-MNIST from the shipped `datasets/fashion-mnist`.
    FashionMnist,
    /// A folder of images, one sub-folder per class.
    ImageFolder,
    /// A CSV table of numeric columns.
    Csv,
    /// Input and target image folders matched by file name.
    Paired,
    /// MNIST digits tinted with a random hue on a random background (seeded per item): the
    /// grey version in (three equal channels), the colour image out.
    ColoredMnist,
    /// A seeded noisy parabola in 2-D.
    Parabola,
    /// A seeded noisy helix in 3-D.
    Helix,
}

impl DataSource {
    /// Every source, in the order `--help` lists them.
    pub const ALL: [DataSource; 8] = [
        DataSource::Mnist,
        DataSource::FashionMnist,
        DataSource::ColoredMnist,
        DataSource::ImageFolder,
        DataSource::Csv,
        DataSource::Paired,
        DataSource::Parabola,
        DataSource::Helix,
    ];

    /// The name configs and the command line use (`fashion-mnist`).
    pub fn name(self) -> &'static str {
        match self {
            DataSource::Mnist => "mnist",
            DataSource::FashionMnist => "fashion-mnist",
            DataSource::ImageFolder => "image-folder",
            DataSource::Csv => "csv",
            DataSource::Paired => "paired",
            DataSource::ColoredMnist => "colored-mnist",
            DataSource::Parabola => "parabola",
            DataSource::Helix => "helix",
        }
    }

    /// Whether the source comes with an official test split (MNIST and its variants).
    pub fn has_official_test_split(self) -> bool {
        matches!(
            self,
            DataSource::Mnist | DataSource::FashionMnist | DataSource::ColoredMnist
        )
    }

    /// Whether items are images (everything but tables and synthetic manifolds).
    pub fn is_images(self) -> bool {
        !matches!(
            self,
            DataSource::Csv | DataSource::Parabola | DataSource::Helix
        )
    }
}

impl std::fmt::Display for DataSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for DataSource {
    type Err = DataError;
    fn from_str(s: &str) -> Result<Self> {
        DataSource::ALL
            .into_iter()
            .find(|source| source.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = DataSource::ALL.iter().map(|s| s.name()).collect();
                DataError::invalid(format!(
                    "unknown data source '{s}': expected {}",
                    names.join(", ")
                ))
            })
    }
}

fn default_samples() -> usize {
    2000
}
fn default_noise() -> f32 {
    0.05
}

/// The data of an experiment and how it is corrupted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataConfig {
    /// Where the data comes from.
    pub source: DataSource,
    /// The datasets root (MNIST sources; default `$AE_DATASETS` or `datasets`), the image
    /// folder, the CSV file, or the input folder of a paired dataset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    /// The target folder of a paired dataset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_path: Option<PathBuf>,
    /// Image channels for folders (1 grey, 3 RGB).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channels: Option<usize>,
    /// Image height for folders.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<usize>,
    /// Image width for folders.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<usize>,
    /// What to do with folder images of another size.
    #[serde(default = "default_mismatch")]
    pub on_size_mismatch: MismatchedSize,
    /// The CSV column holding labels, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_column: Option<String>,
    /// The field delimiter of a CSV table (a comma by default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delimiter: Option<char>,
    /// A separate test set (an image folder or a CSV table read like the training data): the
    /// split that `ae eval` and `ae anomaly eval` report on, instead of the held-out
    /// validation items. Sources with an official test split (MNIST) keep theirs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_path: Option<PathBuf>,
    /// Number of points of a synthetic manifold.
    #[serde(default = "default_samples")]
    pub samples: usize,
    /// Noise standard deviation of a synthetic manifold.
    #[serde(default = "default_noise")]
    pub noise: f32,
    /// Use only the first `limit` training items (and at most `limit` validation items); a
    /// source with an official test split still evaluates on all of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
    /// Fraction of the training items held out for validation. Default: MNIST sources
    /// validate on their test split; other sources hold out 0.1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation_fraction: Option<f64>,
    /// Train only on these labels (one-class and few-class setups): the training and
    /// validation items are those of these classes, while the test split keeps every class
    /// (items of other classes are the anomalies of `ae anomaly eval`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classes: Option<Vec<u32>>,
    /// Dynamic binarization: resample each pixel as Bernoulli(value) every time it is used.
    #[serde(default)]
    pub binarize: bool,
    /// Uniform dequantization of 8-bit images: `(round(255·x) + u) / 256` with fresh
    /// `u ~ U(0, 1)` each use, so a continuous likelihood's bits per dimension are meaningful.
    #[serde(default)]
    pub dequantize: bool,
    /// Train on a bootstrap sample of the training split: as many items, drawn with
    /// replacement (seeded by the run's seed), so that an ensemble's members see different
    /// data. The validation and test splits are left whole.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub bootstrap: bool,
    /// Corruptions applied, in order, to the input (the target stays clean).
    #[serde(default)]
    pub corruptions: Vec<Corruption>,
}

fn default_mismatch() -> MismatchedSize {
    MismatchedSize::Resize
}

impl DataConfig {
    /// A config for `source` with every option at its default.
    pub fn new(source: DataSource) -> Self {
        Self {
            source,
            path: None,
            target_path: None,
            channels: None,
            height: None,
            width: None,
            on_size_mismatch: MismatchedSize::Resize,
            label_column: None,
            delimiter: None,
            test_path: None,
            samples: default_samples(),
            noise: default_noise(),
            limit: None,
            validation_fraction: None,
            classes: None,
            binarize: false,
            dequantize: false,
            bootstrap: false,
            corruptions: Vec::new(),
        }
    }

    /// Checks every value that can be checked without reading the data.
    pub fn validate(&self) -> Result<()> {
        let invalid = |m: String| Err(DataError::invalid(m));
        for c in &self.corruptions {
            c.validate()?;
        }
        if let Some(f) = self.validation_fraction
            && !(f > 0.0 && f < 1.0)
        {
            return invalid(format!(
                "data.validation_fraction must be in (0, 1), got {f}"
            ));
        }
        if self.binarize && self.dequantize {
            return invalid(
                "data.binarize and data.dequantize exclude each other: pick one".into(),
            );
        }
        if let Some(classes) = &self.classes
            && classes.is_empty()
        {
            return invalid("data.classes must name at least one class".into());
        }
        if self.limit == Some(0) {
            return invalid("data.limit must be at least 1".into());
        }
        if !(self.noise.is_finite() && self.noise >= 0.0) {
            return invalid("data.noise must be non-negative".into());
        }
        if let Some(d) = self.delimiter {
            if self.source != DataSource::Csv {
                return invalid("data.delimiter applies to source \"csv\" only".into());
            }
            if !d.is_ascii() || matches!(d, '"' | '\n' | '\r') {
                return invalid(format!(
                    "data.delimiter must be one ASCII character other than a quote or a line \
                     break, got {d:?}"
                ));
            }
        }
        if self.test_path.is_some()
            && !matches!(self.source, DataSource::ImageFolder | DataSource::Csv)
        {
            return invalid(format!(
                "data.test_path applies to sources image-folder and csv; {} has {}",
                self.source,
                if self.source.has_official_test_split() {
                    "an official test split"
                } else {
                    "no files to read a test set like"
                }
            ));
        }
        Ok(())
    }

    /// The CSV delimiter as a byte (a comma unless `delimiter` says otherwise).
    pub fn delimiter_byte(&self) -> u8 {
        self.delimiter.map_or(b',', |d| d as u8)
    }

    /// The batcher that feeds `data` to a model as this config says (corruptions,
    /// binarization, dequantization), its randomness drawn from `seed`.
    pub fn batcher(&self, data: std::sync::Arc<Dataset>, seed: u64) -> AeBatcher {
        let corruptions = self
            .corruptions
            .iter()
            .map(|c| c.for_items(data.shape))
            .collect();
        AeBatcher::new(data, corruptions, self.binarize, seed).with_dequantization(self.dequantize)
    }
}
