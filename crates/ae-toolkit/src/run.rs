//! A trained run folder opened for use: [`TrainedRun`].

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use ae_analysis::Matrix;
use ae_data::table::Standardization;
use ae_data::{AeBatcher, DataInfo, Dataset, ImageShape, ItemReader, PreparedData};
use ae_models::AnyModel;
use ae_train::{ExperimentConfig, RunDir, load_model};
use burn::tensor::backend::Backend;
use serde::{Deserialize, Serialize};

use crate::error::{Result, ToolkitError, at_least_one};
use crate::tensors::{ItemScores, encode_all, flat_values, matrix_tensor, rows_of, score_items};

/// One of a run's data splits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    /// The items trained on.
    Train,
    /// The items validated on after every epoch.
    Valid,
    /// The items evaluations report on (see [`PreparedData::test`]).
    #[default]
    Test,
}

impl Split {
    /// `train`, `valid` or `test`.
    pub fn name(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Valid => "valid",
            Split::Test => "test",
        }
    }
}

impl std::fmt::Display for Split {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Split {
    type Err = ToolkitError;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "train" => Ok(Split::Train),
            "valid" => Ok(Split::Valid),
            "test" => Ok(Split::Test),
            other => Err(ToolkitError::setting(
                "split",
                format!("'{other}' is not a split: expected train, valid or test"),
            )),
        }
    }
}

/// Where items come from: a split of the run's data, or other files read like it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemSource {
    /// A split of the run's own data (needs the training data).
    Split(Split),
    /// An image folder or CSV table (for MNIST sources, another datasets root) read like the
    /// run's data; needs only the run folder.
    Path {
        /// The folder or file.
        path: PathBuf,
        /// A CSV column to set aside as labels (default: the run's label column, where the
        /// table has it).
        label_column: Option<String>,
    },
}

impl ItemSource {
    /// Items read from `path` like the run's data.
    pub fn path(path: impl Into<PathBuf>) -> Self {
        ItemSource::Path {
            path: path.into(),
            label_column: None,
        }
    }

    /// The split's name, or `data` for items read from a path.
    pub fn name(&self) -> &'static str {
        match self {
            ItemSource::Split(split) => split.name(),
            ItemSource::Path { .. } => "data",
        }
    }
}

impl Default for ItemSource {
    fn default() -> Self {
        ItemSource::Split(Split::Test)
    }
}

impl From<Split> for ItemSource {
    fn from(split: Split) -> Self {
        ItemSource::Split(split)
    }
}

/// Items delivered a chunk at a time, with their total count.
pub struct Chunks {
    /// Items over all chunks.
    pub len: usize,
    /// The chunks, in order.
    pub iter: Box<dyn Iterator<Item = Result<Dataset>>>,
}

/// A trained run: its config, model and what it knows of its data, read from the run folder
/// alone. Its training data is read only when a split is asked for, so a run folder copied to
/// another machine encodes, decodes, scores, samples and evaluates new data.
///
/// ```no_run
/// use ae_toolkit::{ItemSource, TrainedRun, backend::Flex};
///
/// # fn main() -> ae_toolkit::Result<()> {
/// let device = Default::default();
/// let run = TrainedRun::<Flex>::open("runs/mlp-vae-mnist", &device)?;
/// let items = run.read(&ItemSource::path("new-digits/"))?;
/// let codes = run.encode(&items, 500)?; // an items × latent matrix
/// let images = run.decode(&codes.to_f32())?; // one flat image per code
/// # Ok(()) }
/// ```
pub struct TrainedRun<B: Backend> {
    dir: RunDir,
    config: ExperimentConfig,
    model: AnyModel<B>,
    info: DataInfo,
    standardization: Option<Standardization>,
    device: B::Device,
    data: OnceLock<Arc<PreparedData>>,
}

impl<B: Backend> TrainedRun<B> {
    /// Opens the run folder `dir` on `device`: its config, weights and data description.
    /// A run trained before `data.json` existed has its description rebuilt from its
    /// training data, which must then be readable.
    pub fn open(dir: impl AsRef<Path>, device: &B::Device) -> Result<Self> {
        let dir = RunDir::new(dir.as_ref());
        let (config, model) = load_model::<B>(&dir, device)?;
        let standardization = ae_train::trainer::read_standardization(&dir)?;
        let data = OnceLock::new();
        let info = match crate::json::read_optional(&dir.data_info_file(), "a data description")? {
            Some(info) => info,
            None => {
                let prepared =
                    ae_data::prepare_with(&config.data, config.seed, standardization.as_ref())?;
                let info = DataInfo::describe(&config.data, &prepared);
                let _ = data.set(Arc::new(prepared));
                info
            }
        };
        let shape = config.model.input_shape();
        if (shape.channels, shape.height, shape.width)
            != (
                info.input_shape.channels,
                info.input_shape.height,
                info.input_shape.width,
            )
        {
            return Err(ToolkitError::File {
                path: dir.data_info_file(),
                message: format!(
                    "items of shape {} do not fit the model of config.toml ({}x{}x{})",
                    info.input_shape, shape.channels, shape.height, shape.width
                ),
            });
        }
        Ok(Self {
            dir,
            config,
            model,
            info,
            standardization,
            device: device.clone(),
            data,
        })
    }

    /// The run folder.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The run folder's files.
    pub fn run_dir(&self) -> &RunDir {
        &self.dir
    }

    /// The experiment config the run was trained with.
    pub fn config(&self) -> &ExperimentConfig {
        &self.config
    }

    /// The trained model.
    pub fn model(&self) -> &AnyModel<B> {
        &self.model
    }

    /// What the run knows of its data.
    pub fn info(&self) -> &DataInfo {
        &self.info
    }

    /// The column statistics of a run trained on a table.
    pub fn standardization(&self) -> Option<&Standardization> {
        self.standardization.as_ref()
    }

    /// The device the model is on.
    pub fn device(&self) -> &B::Device {
        &self.device
    }

    /// The latent size.
    pub fn latent(&self) -> usize {
        self.config.model.latent()
    }

    /// The shape of an input item.
    pub fn input_shape(&self) -> ImageShape {
        self.info.input_shape
    }

    /// Whether the model is a VAE.
    pub fn is_vae(&self) -> bool {
        self.model.as_vae().is_some()
    }

    /// `autoencoder` or `vae`.
    pub fn model_name(&self) -> &'static str {
        self.config.model.name()
    }

    /// The run's data, prepared as in training (read on first use; a table is standardized
    /// with the run's own statistics).
    pub fn data(&self) -> Result<&PreparedData> {
        if let Some(data) = self.data.get() {
            return Ok(data);
        }
        let prepared = ae_data::prepare_with(
            &self.config.data,
            self.config.seed,
            self.standardization.as_ref(),
        )?;
        Ok(self.data.get_or_init(|| Arc::new(prepared)))
    }

    /// A split of the run's data.
    pub fn split(&self, split: Split) -> Result<Dataset> {
        let data = self.data()?;
        Ok(match split {
            Split::Train => data.train.clone(),
            Split::Valid => data.valid.clone(),
            Split::Test => data.test.clone(),
        })
    }

    /// How this run reads items from other paths, setting `label_column` aside as labels.
    pub fn reader(&self, label_column: Option<&str>) -> ItemReader {
        ItemReader {
            config: self.config.data.clone(),
            columns: self.info.named_columns.then(|| self.info.columns.clone()),
            standardization: self.standardization.clone(),
            label_column: label_column.map(str::to_string),
            seed: self.config.seed,
        }
    }

    /// Fails unless items of `shape`, read from `path`, fit the model.
    fn check_item_shape(&self, path: &Path, shape: ImageShape) -> Result<()> {
        let expected = self.input_shape();
        if shape != expected {
            return Err(ae_data::DataError::format(
                path,
                format!(
                    "items have shape {shape} but the model of {} takes {expected}",
                    self.path().display()
                ),
            )
            .into());
        }
        Ok(())
    }

    /// Every item of `source`, in memory.
    pub fn read(&self, source: &ItemSource) -> Result<Dataset> {
        match source {
            ItemSource::Split(split) => self.split(*split),
            ItemSource::Path { path, label_column } => {
                let items = self.reader(label_column.as_deref()).read(path)?;
                self.check_item_shape(path, items.shape)?;
                Ok(items)
            }
        }
    }

    /// The items of `source`, `chunk_size` at a time: a folder or table read from a path is
    /// never held in memory whole.
    pub fn chunks(&self, source: &ItemSource, chunk_size: usize) -> Result<Chunks> {
        at_least_one("batch_size", chunk_size)?;
        match source {
            ItemSource::Split(split) => {
                let data = self.split(*split)?;
                Ok(Chunks {
                    len: data.len(),
                    iter: Box::new(std::iter::once(Ok(data))),
                })
            }
            ItemSource::Path { path, label_column } => {
                let stream = self
                    .reader(label_column.as_deref())
                    .stream(path, chunk_size)?;
                self.check_item_shape(path, stream.shape())?;
                Ok(Chunks {
                    len: stream.len(),
                    iter: Box::new(stream.map(|c| c.map_err(ToolkitError::from))),
                })
            }
        }
    }

    /// A batcher feeding `data` to the model as it is (no corruption or binarization).
    pub fn batcher(&self, data: Dataset) -> AeBatcher {
        AeBatcher::new(Arc::new(data), Vec::new(), false, self.config.seed)
    }

    /// A batcher feeding `data` as in training (corruptions, binarization, dequantization),
    /// its randomness drawn from `seed`.
    pub fn training_batcher(&self, data: Dataset, seed: u64) -> AeBatcher {
        self.config.data.batcher(Arc::new(data), seed)
    }

    /// The codes of every item of `data` (a VAE's posterior means), as an `items × latent`
    /// matrix.
    pub fn encode(&self, data: &Dataset, batch_size: usize) -> Result<Matrix> {
        let codes = self.encode_rows(data, batch_size)?;
        Ok(Matrix::from_f32(data.len(), self.latent(), &codes)?)
    }

    /// The codes of every item of `data`, row-major.
    pub fn encode_rows(&self, data: &Dataset, batch_size: usize) -> Result<Vec<f32>> {
        encode_all(
            &self.model,
            &self.batcher(data.clone()),
            batch_size,
            &self.device,
        )
    }

    /// Decodes row-major codes (a multiple of the latent size) into flat items (a VAE's
    /// likelihood means).
    pub fn decode(&self, codes: &[f32]) -> Result<Vec<Vec<f32>>> {
        let latent = self.latent();
        if !codes.len().is_multiple_of(latent) {
            return Err(ToolkitError::setting(
                "codes",
                format!(
                    "hold {} values, not a whole number of codes of size {latent}",
                    codes.len()
                ),
            ));
        }
        if codes.is_empty() {
            return Ok(Vec::new());
        }
        self.check_decode_memory(codes.len() / latent)?;
        let z = matrix_tensor::<B>(codes.to_vec(), latent, &self.device);
        rows_of(self.model.decode(z))
    }

    /// Refuses to decode `items` codes at once when their outputs and the decoder's layers
    /// cannot fit in memory.
    pub(crate) fn check_decode_memory(&self, items: usize) -> Result<()> {
        let per_item = self
            .config
            .model
            .cost()
            .activations_per_item
            .saturating_add(3 * self.info.target_shape.dim() as u128);
        ae_io::memory::check(
            format!("decoding {items} codes"),
            (items as u128)
                .saturating_mul(per_item)
                .saturating_mul(4 * 2),
        )?;
        Ok(())
    }

    /// The reconstruction of every item of `data` (decoded from its code).
    pub fn reconstruct(&self, data: &Dataset, batch_size: usize) -> Result<Vec<Vec<f32>>> {
        let mut rows = Vec::with_capacity(data.len());
        crate::tensors::for_each_batch::<B>(
            &self.batcher(data.clone()),
            batch_size,
            &self.device,
            |_, batch| {
                let output = self.model.decode(self.model.encode(batch.input));
                rows.extend(rows_of(output)?);
                Ok(())
            },
        )?;
        Ok(rows)
    }

    /// Reconstruction errors, losses and posterior variances of every item of `data`.
    pub fn score(&self, data: &Dataset, batch_size: usize) -> Result<ItemScores> {
        score_items(
            &self.model,
            &self.batcher(data.clone()),
            batch_size,
            &self.device,
        )
    }

    /// Decodes `codes` and returns the decoder's values as one flat vector.
    pub fn decode_flat(&self, codes: &[f32]) -> Result<Vec<f32>> {
        self.check_decode_memory(codes.len() / self.latent())?;
        let z = matrix_tensor::<B>(codes.to_vec(), self.latent(), &self.device);
        flat_values(self.model.decode(z))
    }

    /// Fails unless items can be drawn as images, naming `what` needs them.
    pub fn require_images(&self, what: &str) -> Result<()> {
        let shape = self.input_shape();
        if shape.height < 2 || !matches!(shape.channels, 1 | 3) {
            return Err(ToolkitError::Unsupported(format!(
                "{}: {what} needs items that can be drawn as images, but they have shape {shape}",
                self.path().display()
            )));
        }
        Ok(())
    }

    /// The item shape for drawing grids.
    pub fn grid_shape(&self) -> ae_plot::ItemShape {
        let shape = self.info.target_shape;
        ae_plot::ItemShape::new(shape.channels, shape.height, shape.width)
    }
}
