//! Turning a [`DataConfig`] into training, validation and test datasets.

use std::path::{Path, PathBuf};

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

/// Whether `source` comes with an official test split.
fn official_test_split(source: DataSource) -> bool {
    matches!(
        source,
        DataSource::Mnist | DataSource::FashionMnist | DataSource::ColoredMnist
    )
}

/// Loads the training pool and, where the source has one, its test split.
fn load(config: &DataConfig, seed: u64) -> Result<(Dataset, Option<Dataset>), TrainError> {
    Ok(match config.source {
        DataSource::Mnist | DataSource::FashionMnist | DataSource::ColoredMnist => {
            let kind = if config.source == DataSource::FashionMnist {
                MnistKind::FashionMnist
            } else {
                MnistKind::Mnist
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

/// Every item of another image folder or CSV table (or, for MNIST sources, the test split
/// under another datasets root), read with `config`'s settings and not split; a table is
/// standardized with the run's training statistics `standardization`. Paired and synthetic
/// sources have nothing to read from another path.
pub fn load_other(
    config: &DataConfig,
    path: &Path,
    standardization: Option<&Standardization>,
    seed: u64,
) -> Result<Dataset, TrainError> {
    let mut other = config.clone();
    other.path = Some(path.to_path_buf());
    let mut items = match config.source {
        DataSource::Paired | DataSource::Parabola | DataSource::Helix => {
            return Err(TrainError::Invalid(format!(
                "cannot read {}: another path works for image-folder, csv and MNIST sources only",
                path.display()
            )));
        }
        _ => {
            let (pool, test) = load(&other, seed)?;
            test.unwrap_or(pool)
        }
    };
    if config.source == DataSource::ColoredMnist {
        items = ae_data::colored::colorize(&items, seed.wrapping_add(1))?;
    }
    if let Some(stats) = standardization {
        stats
            .check(&items)
            .map_err(|e| TrainError::Data(ae_data::DataError::format(path, e.to_string())))?;
        stats.apply(&mut items);
    }
    Ok(items)
}

/// Items read a chunk at a time and standardized like the run's training data.
pub struct StreamedItems {
    chunks: ae_data::ItemChunks,
    standardization: Option<Standardization>,
}

impl StreamedItems {
    /// Number of items over all chunks.
    pub fn len(&self) -> usize {
        self.chunks.len()
    }

    /// True when there are no items.
    pub fn is_empty(&self) -> bool {
        self.chunks.is_empty()
    }

    /// The shape of every item.
    pub fn shape(&self) -> ImageShape {
        self.chunks.shape()
    }
}

impl Iterator for StreamedItems {
    type Item = Result<Dataset, TrainError>;

    fn next(&mut self) -> Option<Self::Item> {
        let chunk = self.chunks.next()?;
        Some(chunk.map_err(TrainError::from).map(|mut chunk| {
            if let Some(stats) = &self.standardization {
                stats.apply(&mut chunk);
            }
            chunk
        }))
    }
}

/// The items at `path` read like the run's data (see [`load_other`]), delivered `chunk_size`
/// at a time and standardized with `standardization`: an image folder or CSV table is never
/// held in memory whole, so data larger than memory can be encoded or scored. MNIST roots
/// are loaded whole (their test split is small) and then chunked.
pub fn stream_other(
    config: &DataConfig,
    path: &Path,
    standardization: Option<&Standardization>,
    seed: u64,
    chunk_size: usize,
) -> Result<StreamedItems, TrainError> {
    let chunks = match config.source {
        DataSource::ImageFolder => {
            let shape = image_shape(config, "image-folder")?;
            ae_data::ItemChunks::image_folder(path, shape, config.on_size_mismatch, chunk_size)?
        }
        DataSource::Csv => {
            ae_data::ItemChunks::csv(path, config.label_column.as_deref(), chunk_size)?
        }
        _ => ae_data::ItemChunks::in_memory(
            load_other(config, path, standardization, seed)?,
            chunk_size,
        )?,
    };
    let standardization = match config.source {
        DataSource::Csv => standardization.cloned(),
        _ => None,
    };
    if let Some(stats) = &standardization
        && stats.mean.len() != chunks.shape().dim()
    {
        return Err(TrainError::Data(ae_data::DataError::format(
            path,
            format!(
                "{} feature columns, but the run was trained on {}",
                chunks.shape().dim(),
                stats.mean.len()
            ),
        )));
    }
    Ok(StreamedItems {
        chunks,
        standardization,
    })
}

/// The items of `data` whose label is in `keep` (none when it has no labels), in order.
fn keep_labels(data: &Dataset, keep: &[u32]) -> Dataset {
    let indices: Vec<usize> = match &data.labels {
        Some(labels) => (0..data.len())
            .filter(|&i| keep.contains(&labels[i]))
            .collect(),
        None => Vec::new(),
    };
    data.subset(&indices)
}

/// Loads, filters, splits, limits and standardizes the data of `config`.
///
/// With `classes` (the one-class protocol) the training and validation items are those of the
/// chosen classes, while the test split keeps every class: a source with an official test split
/// validates on its items of those classes; any other source first holds out its validation
/// fraction of all items, which is the test split, and validates on its items of those classes.
pub fn prepare(config: &DataConfig, seed: u64) -> Result<PreparedData, TrainError> {
    let (pool, official_test) = load(config, seed)?;
    let fraction = config
        .validation_fraction
        .unwrap_or(DEFAULT_VALIDATION_FRACTION);
    let (mut train, mut valid, held_out) = match (&config.classes, official_test) {
        (None, Some(test)) => match config.validation_fraction {
            None => (pool, test.clone(), Some(test)),
            Some(fraction) => {
                let (train, valid) = pool.split(fraction, seed)?;
                (train, valid, Some(test))
            }
        },
        (None, None) => {
            let (train, valid) = pool.split(fraction, seed)?;
            (train, valid, None)
        }
        (Some(classes), Some(test)) => {
            let normal = pool.filter_labels(classes)?;
            match config.validation_fraction {
                None => {
                    let valid = keep_labels(&test, classes);
                    (normal, valid, Some(test))
                }
                Some(fraction) => {
                    let (train, valid) = normal.split(fraction, seed)?;
                    (train, valid, Some(test))
                }
            }
        }
        (Some(classes), None) => {
            pool.filter_labels(classes)?;
            let (train, held) = pool.split(fraction, seed)?;
            let train = keep_labels(&train, classes);
            let valid = keep_labels(&held, classes);
            (train, valid, Some(held))
        }
    };
    if let Some(limit) = config.limit {
        train = train.take(limit.min(train.len()));
        valid = valid.take(limit.min(valid.len()));
    }
    let mut test = match held_out {
        // An official test split is evaluated whole; a held-out part is limited like `valid`.
        Some(test) if official_test_split(config.source) => test,
        Some(held) => match config.limit {
            Some(limit) => held.take(limit),
            None => held,
        },
        None => valid.clone(),
    };
    if config.source == DataSource::ColoredMnist {
        train = ae_data::colored::colorize(&train, seed)?;
        valid = ae_data::colored::colorize(&valid, seed.wrapping_add(1))?;
        test = ae_data::colored::colorize(&test, seed.wrapping_add(1))?;
    }
    for corruption in &config.corruptions {
        corruption.check_fits(train.shape)?;
    }
    let standardization = if config.source == DataSource::Csv {
        let stats = Standardization::fit(&train).map_err(|e| match &config.path {
            Some(path) => TrainError::Data(ae_data::DataError::format(
                path,
                format!("{e} (in the {} training rows)", train.len()),
            )),
            None => e.into(),
        })?;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(data: &Dataset) -> std::collections::BTreeSet<u32> {
        data.labels.iter().flatten().copied().collect()
    }

    #[test]
    fn one_class_table_validates_on_normal_items_and_tests_on_all() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.csv");
        let mut text = String::from("x,y,kind\n");
        for i in 0..200 {
            text.push_str(&format!("{i},{},{}\n", i % 7, ["a", "b", "c"][i % 3]));
        }
        std::fs::write(&path, text).unwrap();
        let mut config = DataConfig::new(DataSource::Csv);
        config.path = Some(path);
        config.label_column = Some("kind".into());
        let all = prepare(&config, 1).unwrap();
        config.classes = Some(vec![1]);
        let one = prepare(&config, 1).unwrap();
        assert_eq!(labels(&one.train), [1].into());
        assert_eq!(labels(&one.valid), [1].into());
        assert_eq!(labels(&one.test), [0, 1, 2].into());
        // The held-out part is the one an unrestricted run validates on.
        assert_eq!(one.test.len(), all.valid.len());
        assert_eq!(
            one.valid.len(),
            all.valid
                .labels
                .as_ref()
                .unwrap()
                .iter()
                .filter(|&&l| l == 1)
                .count()
        );
        config.classes = Some(vec![7]);
        let msg = prepare(&config, 1).unwrap_err().to_string();
        assert!(msg.contains("label 7"), "{msg}");
    }

    #[test]
    fn one_class_mnist_keeps_every_class_in_test() {
        let mut config = DataConfig::new(DataSource::Mnist);
        config.path = Some(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../datasets"));
        config.classes = Some(vec![3, 5]);
        config.limit = Some(500);
        let data = prepare(&config, 0).unwrap();
        assert_eq!(labels(&data.train), [3, 5].into());
        assert_eq!(labels(&data.valid), [3, 5].into());
        assert_eq!(data.test.len(), 10_000);
        assert_eq!(labels(&data.test).len(), 10);
    }

    #[test]
    fn colored_mnist_is_paired_colour_with_grey_inputs() {
        let mut config = DataConfig::new(DataSource::ColoredMnist);
        config.path = Some(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../datasets"));
        config.limit = Some(50);
        let data = prepare(&config, 0).unwrap();
        assert_eq!(data.train.len(), 50);
        assert_eq!(data.train.shape, ae_data::ImageShape::new(3, 28, 28));
        assert_eq!(data.train.target_item_shape(), data.train.shape);
        assert!(data.train.is_paired() && data.test.is_paired());
        let plane = 28 * 28;
        let grey = ae_data::colored::luma(&data.train.target(0), plane);
        assert!(
            grey.iter()
                .zip(&data.train.input(0)[..plane])
                .all(|(a, b)| (a - b).abs() < 1e-6)
        );
    }
}
