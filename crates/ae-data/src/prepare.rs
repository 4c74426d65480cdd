//! Turning a [`DataConfig`] into training, validation and test data sets, describing them for
//! a run folder ([`DataInfo`]), and reading new items the way a trained run reads them
//! ([`ItemReader`]).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config::{DataConfig, DataSource};
use crate::dataset::{Dataset, ImageShape};
use crate::error::{DataError, Result};
use crate::mnist::{MnistKind, MnistSplit};
use crate::stream::ItemChunks;
use crate::table::{CsvOptions, Standardization};

/// Default fraction held out for validation when a source has no test split.
pub const DEFAULT_VALIDATION_FRACTION: f64 = 0.1;

/// The data sets of one experiment.
#[derive(Debug, Clone)]
pub struct PreparedData {
    /// Items trained on.
    pub train: Dataset,
    /// Items validated on after every epoch.
    pub valid: Dataset,
    /// Items evaluations report on: the official test split where there is one, else
    /// `data.test_path` when set, else the held-out items (`valid`, or every class of them in
    /// the one-class protocol).
    pub test: Dataset,
    /// Column statistics (CSV tables only): fitted on the training items, or the run's own
    /// when it was prepared again for a trained run.
    pub standardization: Option<Standardization>,
    /// The feature column names of a CSV table (empty for other sources).
    pub columns: Vec<String>,
    /// Whether a CSV table's header named its columns.
    pub named_columns: bool,
}

/// The datasets root for MNIST sources: the config's path, `$AE_DATASETS`, or `datasets`.
pub fn datasets_root(config: &DataConfig) -> PathBuf {
    config
        .path
        .clone()
        .or_else(|| std::env::var_os("AE_DATASETS").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("datasets"))
}

fn required<'a, T>(value: &'a Option<T>, what: &str, source: DataSource) -> Result<&'a T> {
    value
        .as_ref()
        .ok_or_else(|| DataError::invalid(format!("data.{what} is required for source {source}")))
}

/// The item shape of an image-folder or paired source.
pub fn image_shape(config: &DataConfig) -> Result<ImageShape> {
    let source = config.source;
    let shape = ImageShape {
        channels: config.channels.unwrap_or(1),
        height: *required(&config.height, "height", source)?,
        width: *required(&config.width, "width", source)?,
    };
    if !matches!(shape.channels, 1 | 3) || shape.height == 0 || shape.width == 0 {
        return Err(DataError::invalid(format!(
            "data: images must have 1 or 3 channels and a positive size, got {}x{}x{}",
            shape.channels, shape.height, shape.width
        )));
    }
    Ok(shape)
}

/// A CSV table as read by this config.
struct Table {
    data: Dataset,
    columns: Vec<String>,
    named: bool,
}

fn read_table(path: &Path, options: CsvOptions) -> Result<Table> {
    let table = crate::table::read_csv_with(path, &options)?;
    Ok(Table {
        data: table.data,
        columns: table.columns,
        named: table.has_header,
    })
}

fn csv_options(config: &DataConfig) -> CsvOptions {
    CsvOptions {
        label_column: config.label_column.clone(),
        delimiter: config.delimiter_byte(),
        ..CsvOptions::default()
    }
}

/// What [`load`] read: the training pool, the test split (official or `test_path`), and a
/// table's column names.
struct Loaded {
    pool: Dataset,
    test: Option<Dataset>,
    columns: Vec<String>,
    named_columns: bool,
}

/// Loads the training pool and, where the source has one, its test split.
fn load(config: &DataConfig, seed: u64) -> Result<Loaded> {
    if matches!(config.source, DataSource::Parabola | DataSource::Helix) {
        // Three f32 values per point, in a few copies while splitting.
        crate::error::check_memory(
            &format!("data.samples = {}", config.samples),
            config.samples as u128 * 3 * 4 * 4,
        )?;
    }
    let plain = |pool: Dataset| Loaded {
        pool,
        test: None,
        columns: Vec::new(),
        named_columns: false,
    };
    Ok(match config.source {
        DataSource::Mnist | DataSource::FashionMnist | DataSource::ColoredMnist => {
            let kind = if config.source == DataSource::FashionMnist {
                MnistKind::FashionMnist
            } else {
                MnistKind::Mnist
            };
            let root = datasets_root(config);
            let train = crate::load_mnist(&root, kind, MnistSplit::Train)?;
            let test = crate::load_mnist(&root, kind, MnistSplit::Test)?;
            Loaded {
                test: Some(test),
                ..plain(train)
            }
        }
        DataSource::ImageFolder => {
            let path = required(&config.path, "path", config.source)?;
            let shape = image_shape(config)?;
            plain(crate::folder::load_image_folder(
                path,
                shape,
                config.on_size_mismatch,
            )?)
        }
        DataSource::Csv => {
            let path = required(&config.path, "path", config.source)?;
            let table = read_table(path, csv_options(config))?;
            Loaded {
                pool: table.data,
                test: None,
                columns: table.columns,
                named_columns: table.named,
            }
        }
        DataSource::Paired => {
            let input = required(&config.path, "path", config.source)?;
            let target = required(&config.target_path, "target_path", config.source)?;
            let shape = image_shape(config)?;
            plain(crate::paired::load_paired(input, target, shape, shape)?)
        }
        DataSource::Parabola => plain(crate::synthetic::noisy_parabola(
            config.samples,
            config.noise,
            seed,
        )),
        DataSource::Helix => plain(crate::synthetic::helix(config.samples, config.noise, seed)),
    })
}

/// The separate test set of `config.test_path`, read like the training data (a table by the
/// training table's column names).
fn load_test_path(config: &DataConfig, path: &Path, loaded: &Loaded) -> Result<Dataset> {
    let reader = ItemReader {
        config: config.clone(),
        columns: loaded.named_columns.then(|| loaded.columns.clone()),
        standardization: None,
        label_column: None,
        seed: 0,
    };
    reader.read(path)
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

/// As many items of `data` as it has, drawn with replacement (seeded).
fn bootstrap_sample(data: &Dataset, seed: u64) -> Dataset {
    use rand::{RngExt, SeedableRng};
    let mut rng = rand::rngs::ChaCha12Rng::seed_from_u64(seed ^ 0xB007_5742_A11D_0001);
    let n = data.len();
    let indices: Vec<usize> = (0..n).map(|_| rng.random_range(0..n)).collect();
    data.subset(&indices)
}

/// Loads, filters, splits, limits and standardizes the data of `config`, fitting the
/// standardization of a table on its training items.
///
/// With `classes` (the one-class protocol) the training and validation items are those of the
/// chosen classes, while the test split keeps every class: a source with an official test split
/// validates on its items of those classes; any other source first holds out its validation
/// fraction of all items, which is the test split, and validates on its items of those classes.
pub fn prepare(config: &DataConfig, seed: u64) -> Result<PreparedData> {
    prepare_with(config, seed, None)
}

/// [`prepare`], standardizing a table with `standardization` (a trained run's own statistics)
/// instead of fitting it again, so that a run's splits do not depend on what its training
/// table holds now.
pub fn prepare_with(
    config: &DataConfig,
    seed: u64,
    standardization: Option<&Standardization>,
) -> Result<PreparedData> {
    let loaded = load(config, seed)?;
    let test_path_items = match &config.test_path {
        Some(path) => Some(load_test_path(config, path, &loaded)?),
        None => None,
    };
    let Loaded {
        pool,
        test: official_test,
        columns,
        named_columns,
    } = loaded;
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
    if config.bootstrap {
        train = bootstrap_sample(&train, seed);
    }
    let mut test = match (held_out, test_path_items) {
        // An official test split is evaluated whole, and so is a separate test set.
        (Some(test), _) if config.source.has_official_test_split() => test,
        (_, Some(separate)) => separate,
        (Some(held), None) => match config.limit {
            Some(limit) => held.take(limit),
            None => held,
        },
        (None, None) => valid.clone(),
    };
    if config.source == DataSource::ColoredMnist {
        train = crate::colored::colorize(&train, seed)?;
        valid = crate::colored::colorize(&valid, seed.wrapping_add(1))?;
        test = crate::colored::colorize(&test, seed.wrapping_add(1))?;
    }
    for corruption in &config.corruptions {
        corruption.check_fits(train.shape)?;
    }
    let standardization = if config.source == DataSource::Csv {
        let stats = match standardization {
            Some(stats) => {
                stats.check(&train).map_err(|e| match &config.path {
                    Some(path) => DataError::format(path, format!("{e} (the run's statistics)")),
                    None => e,
                })?;
                stats.clone()
            }
            // A column constant over the training rows (an unused pixel of a digit, a flag that
            // normal rows never set) is centred and left unscaled, as scikit-learn's
            // StandardScaler does: any other value in it is then an error the model shows.
            None => {
                Standardization::fit_with(&train, None, true).map_err(|e| match &config.path {
                    Some(path) => DataError::format(
                        path,
                        format!("{e} (in the {} training rows)", train.len()),
                    ),
                    None => e,
                })?
            }
        };
        stats.apply(&mut train);
        stats.apply(&mut valid);
        if let Some(path) = &config.test_path {
            stats
                .check(&test)
                .map_err(|e| DataError::format(path, e.to_string()))?;
        }
        stats.apply(&mut test);
        Some(stats)
    } else {
        None
    };
    if train.is_empty() || valid.is_empty() {
        return Err(DataError::invalid(
            "the training or validation set is empty after filtering and splitting",
        ));
    }
    Ok(PreparedData {
        train,
        valid,
        test,
        standardization,
        columns,
        named_columns,
    })
}

/// Numbers of items in each split.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SplitSizes {
    /// Training items.
    pub train: usize,
    /// Validation items.
    pub valid: usize,
    /// Test items.
    pub test: usize,
}

/// What a trained run needs to know of its data to use new items without the training data:
/// written to the run folder as `data.json` (the standardization of a table goes to
/// `standardization.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataInfo {
    /// The source the run trained on.
    pub source: DataSource,
    /// The shape of an input item.
    pub input_shape: ImageShape,
    /// The shape of a target item (the input's, unless paired).
    pub target_shape: ImageShape,
    /// The range of valid values (`[0, 1]` for images; none for standardized tables).
    pub value_range: Option<(f32, f32)>,
    /// Whether the training items had labels.
    pub labelled: bool,
    /// The names of the class ids (empty when unnamed).
    pub class_names: Vec<String>,
    /// The feature columns of a table, in the order the model reads them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub columns: Vec<String>,
    /// Whether the table's header named its columns (so new tables are read by name).
    #[serde(default)]
    pub named_columns: bool,
    /// Items per split when the run trained.
    pub items: SplitSizes,
}

impl DataInfo {
    /// The description of `data`, prepared from `config`.
    pub fn describe(config: &DataConfig, data: &PreparedData) -> Self {
        Self {
            source: config.source,
            input_shape: data.train.shape,
            target_shape: data.train.target_item_shape(),
            value_range: data.train.value_range,
            labelled: data.train.labels.is_some(),
            class_names: data.train.class_names.clone(),
            columns: data.columns.clone(),
            named_columns: data.named_columns,
            items: SplitSizes {
                train: data.train.len(),
                valid: data.valid.len(),
                test: data.test.len(),
            },
        }
    }

    /// Whether items are images that can be drawn (1 or 3 channels, at least 2 rows).
    pub fn is_images(&self) -> bool {
        self.input_shape.height >= 2 && matches!(self.input_shape.channels, 1 | 3)
    }
}

/// Reads new items as a trained run reads its data: an image folder with the run's size and
/// channels, a CSV table by the run's column names and standardized with the run's
/// statistics, or (for MNIST sources) the test split under another datasets root.
#[derive(Debug, Clone)]
pub struct ItemReader {
    /// The run's data config.
    pub config: DataConfig,
    /// The feature columns of a run trained on a table with a header, read by name.
    pub columns: Option<Vec<String>>,
    /// The run's standardization of a table.
    pub standardization: Option<Standardization>,
    /// A label column to set aside (default: the run's own label column, where the table
    /// has it).
    pub label_column: Option<String>,
    /// Seed of a colourized source's colours.
    pub seed: u64,
}

impl ItemReader {
    fn csv_options(&self) -> CsvOptions {
        let (label_column, label_optional) = match &self.label_column {
            Some(name) => (Some(name.clone()), false),
            None => (self.config.label_column.clone(), true),
        };
        CsvOptions {
            label_column,
            label_optional,
            delimiter: self.config.delimiter_byte(),
            columns: self.columns.clone(),
        }
    }

    fn refuse_other_path(&self, path: &Path) -> Result<()> {
        if matches!(
            self.config.source,
            DataSource::Paired | DataSource::Parabola | DataSource::Helix
        ) {
            return Err(DataError::invalid(format!(
                "cannot read {}: another path works for image-folder, csv and MNIST sources only",
                path.display()
            )));
        }
        if self.label_column.is_some() && self.config.source != DataSource::Csv {
            return Err(DataError::invalid(
                "a label column applies to CSV tables only".to_string(),
            ));
        }
        Ok(())
    }

    fn check_columns(&self, path: &Path, dim: usize) -> Result<()> {
        if let Some(stats) = &self.standardization
            && stats.mean.len() != dim
        {
            return Err(DataError::format(
                path,
                format!(
                    "{dim} feature columns, but the run was trained on {}",
                    stats.mean.len()
                ),
            ));
        }
        Ok(())
    }

    /// Every item at `path`, not split.
    pub fn read(&self, path: &Path) -> Result<Dataset> {
        self.refuse_other_path(path)?;
        let mut items = match self.config.source {
            DataSource::Csv => crate::table::read_csv_with(path, &self.csv_options())?.data,
            _ => {
                let mut other = self.config.clone();
                other.path = Some(path.to_path_buf());
                other.test_path = None;
                let loaded = load(&other, self.seed)?;
                loaded.test.unwrap_or(loaded.pool)
            }
        };
        if self.config.source == DataSource::ColoredMnist {
            items = crate::colored::colorize(&items, self.seed.wrapping_add(1))?;
        }
        if let Some(stats) = &self.standardization {
            self.check_columns(path, items.dim())?;
            stats.apply(&mut items);
        }
        Ok(items)
    }

    /// The items at `path` (see [`ItemReader::read`]), delivered `chunk_size` at a time: an
    /// image folder or CSV table is never held in memory whole, so data larger than memory
    /// can be encoded or scored. MNIST roots are loaded whole (their test split is small) and
    /// then chunked.
    pub fn stream(&self, path: &Path, chunk_size: usize) -> Result<StreamedItems> {
        self.refuse_other_path(path)?;
        let chunks = match self.config.source {
            DataSource::ImageFolder => ItemChunks::image_folder(
                path,
                image_shape(&self.config)?,
                self.config.on_size_mismatch,
                chunk_size,
            )?,
            DataSource::Csv => ItemChunks::csv_with(path, &self.csv_options(), chunk_size)?,
            _ => ItemChunks::in_memory(self.read(path)?, chunk_size)?,
        };
        let standardization = match self.config.source {
            DataSource::Csv => self.standardization.clone(),
            _ => None,
        };
        if standardization.is_some() {
            self.check_columns(path, chunks.shape().dim())?;
        }
        Ok(StreamedItems {
            chunks,
            standardization,
        })
    }
}

/// Items read a chunk at a time and standardized like the run's training data.
pub struct StreamedItems {
    chunks: ItemChunks,
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

    /// The class names the chunks' labels index (empty without labels).
    pub fn class_names(&self) -> &[String] {
        self.chunks.class_names()
    }
}

impl Iterator for StreamedItems {
    type Item = Result<Dataset>;

    fn next(&mut self) -> Option<Self::Item> {
        let chunk = self.chunks.next()?;
        Some(chunk.map(|mut chunk| {
            if let Some(stats) = &self.standardization {
                stats.apply(&mut chunk);
            }
            chunk
        }))
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn bootstrap_samples_draw_with_replacement_by_seed() {
        let values: Vec<f32> = (0..200).map(|i| i as f32).collect();
        let data = Dataset::from_inputs(ImageShape::new(1, 1, 1), values, None).unwrap();
        let sample = bootstrap_sample(&data, 3);
        assert_eq!(sample.len(), 200);
        let drawn: Vec<f32> = sample.inputs.to_f32().to_vec();
        let distinct: std::collections::BTreeSet<u32> = drawn.iter().map(|&v| v as u32).collect();
        // With replacement, about 1 - 1/e ≈ 63% of the items appear; every one is an item.
        assert!((100..160).contains(&distinct.len()), "{}", distinct.len());
        assert!(distinct.iter().all(|&v| v < 200));
        let again: Vec<f32> = bootstrap_sample(&data, 3).inputs.to_f32().to_vec();
        assert_eq!(drawn, again);
        let other: Vec<f32> = bootstrap_sample(&data, 4).inputs.to_f32().to_vec();
        assert_ne!(drawn, other);
    }

    use super::*;
    use crate::config::DataSource;

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
        assert_eq!(data.train.shape, ImageShape::new(3, 28, 28));
        assert_eq!(data.train.target_item_shape(), data.train.shape);
        assert!(data.train.is_paired() && data.test.is_paired());
        let plane = 28 * 28;
        let grey = crate::colored::luma(&data.train.target(0), plane);
        assert!(
            grey.iter()
                .zip(&data.train.input(0)[..plane])
                .all(|(a, b)| (a - b).abs() < 1e-6)
        );
    }
}
