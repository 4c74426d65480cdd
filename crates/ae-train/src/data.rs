//! Turning a [`DataConfig`] into training, validation and test datasets.

use std::path::PathBuf;

use ae_data::table::Standardization;
use ae_data::{Dataset, ImageShape, MnistKind, MnistSplit};

use crate::{DataConfig, DataSource, TrainError};

/// Default fraction held out for validation when a source has no test split.
pub const DEFAULT_VALIDATION_FRACTION: f64 = 0.1;

/// The datasets of one experiment.
#[derive(Debug, Clone)]
pub struct PreparedData {
    /// Items trained on.
    pub train: Dataset,
    /// Items validated on after every epoch.
    pub valid: Dataset,
    /// Items `ae eval` reports on: the official test split where there is one, else `valid`.
    pub test: Dataset,
    /// Column statistics fitted on the training items (CSV tables only).
    pub standardization: Option<Standardization>,
}

/// The datasets root for MNIST sources: the config's path, `$AE_DATASETS`, or `datasets`.
pub fn datasets_root(config: &DataConfig) -> PathBuf {
    config
        .path
        .clone()
        .or_else(|| std::env::var_os("AE_DATASETS").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("datasets"))
}

fn required<'a, T>(value: &'a Option<T>, what: &str, source: &str) -> Result<&'a T, TrainError> {
    value
        .as_ref()
        .ok_or_else(|| TrainError::Invalid(format!("data.{what} is required for source {source}")))
}

fn image_shape(config: &DataConfig, source: &str) -> Result<ImageShape, TrainError> {
    let shape = ImageShape {
        channels: config.channels.unwrap_or(1),
        height: *required(&config.height, "height", source)?,
        width: *required(&config.width, "width", source)?,
    };
    if !matches!(shape.channels, 1 | 3) || shape.height == 0 || shape.width == 0 {
        return Err(TrainError::Invalid(format!(
            "data: images must have 1 or 3 channels and a positive size, got {}x{}x{}",
            shape.channels, shape.height, shape.width
        )));
    }
    Ok(shape)
}

/// Loads the training pool and, where the source has one, its test split.
fn load(config: &DataConfig, seed: u64) -> Result<(Dataset, Option<Dataset>), TrainError> {
    Ok(match config.source {
        DataSource::Mnist | DataSource::FashionMnist => {
            let kind = if config.source == DataSource::Mnist {
                MnistKind::Mnist
            } else {
                MnistKind::FashionMnist
            };
            let root = datasets_root(config);
            let train = ae_data::load_mnist(&root, kind, MnistSplit::Train)?;
            let test = ae_data::load_mnist(&root, kind, MnistSplit::Test)?;
            (train, Some(test))
        }
        DataSource::ImageFolder => {
            let path = required(&config.path, "path", "image-folder")?;
            let shape = image_shape(config, "image-folder")?;
            (
                ae_data::folder::load_image_folder(path, shape, config.on_size_mismatch)?,
                None,
            )
        }
        DataSource::Csv => {
            let path = required(&config.path, "path", "csv")?;
            (
                ae_data::table::load_csv(path, config.label_column.as_deref())?,
                None,
            )
        }
        DataSource::Paired => {
            let input = required(&config.path, "path", "paired")?;
            let target = required(&config.target_path, "target_path", "paired")?;
            let shape = image_shape(config, "paired")?;
            (
                ae_data::paired::load_paired(input, target, shape, shape)?,
                None,
            )
        }
        DataSource::Parabola => (
            ae_data::synthetic::noisy_parabola(config.samples, config.noise, seed),
            None,
        ),
        DataSource::Helix => (
            ae_data::synthetic::helix(config.samples, config.noise, seed),
            None,
        ),
    })
}

/// Loads, filters, splits, limits and standardizes the data of `config`.
pub fn prepare(config: &DataConfig, seed: u64) -> Result<PreparedData, TrainError> {
    let (mut pool, test) = load(config, seed)?;
    if let Some(classes) = &config.classes {
        pool = pool.filter_labels(classes)?;
    }
    let (mut train, mut valid) = match (&test, config.validation_fraction) {
        (Some(test), None) => (pool, test.clone()),
        (_, fraction) => pool.split(fraction.unwrap_or(DEFAULT_VALIDATION_FRACTION), seed)?,
    };
    if let Some(limit) = config.limit {
        train = train.take(limit.min(train.len()));
        valid = valid.take(limit.min(valid.len()));
    }
    let mut test = test.unwrap_or_else(|| valid.clone());
    let standardization = if config.source == DataSource::Csv {
        let stats = Standardization::fit(&train)?;
        stats.apply(&mut train);
        stats.apply(&mut valid);
        stats.apply(&mut test);
        Some(stats)
    } else {
        None
    };
    if train.is_empty() || valid.is_empty() {
        return Err(TrainError::Invalid(
            "the training or validation set is empty after filtering and splitting".into(),
        ));
    }
    Ok(PreparedData {
        train,
        valid,
        test,
        standardization,
    })
}
