//! What several commands share: loading a trained run with its data, choosing a split, and
//! running a model over a whole data set in batches.

use std::path::Path;
use std::sync::Arc;

use ae_analysis::AtomicFile;
use ae_data::{AeBatch, AeBatcher, Dataset};
use ae_models::AnyModel;
use ae_models::likelihood::squared_error;
use ae_train::data::{PreparedData, StreamedItems, prepare};
use ae_train::{ExperimentConfig, RunDir, load_model};
use anyhow::{Result, anyhow, bail};
use burn::data::dataloader::batcher::Batcher;
use burn::tensor::Tensor;
use burn::tensor::backend::Backend;

/// A trained run loaded for use: its folder, config, model and prepared data.
pub struct LoadedRun<B: Backend> {
    /// The run folder.
    pub run: RunDir,
    /// The run's resolved config.
    pub config: ExperimentConfig,
    /// The trained model.
    pub model: AnyModel<B>,
    /// The run's data, split as in training.
    pub data: PreparedData,
}

impl<B: Backend> LoadedRun<B> {
    /// Loads the run at `path` and prepares its data.
    pub fn load(path: &Path, device: &B::Device) -> Result<Self> {
        let run = RunDir::new(path);
        let (config, model) = load_model::<B>(&run, device)?;
        let data = prepare(&config.data, config.seed)?;
        Ok(Self {
            run,
            config,
            model,
            data,
        })
    }

    /// The split called `name` (train, valid or test).
    pub fn split(&self, name: &str) -> Result<Dataset> {
        pick_split(&self.data, name)
    }

    /// A batcher over `data` with the clean items as inputs (no corruption or binarization).
    pub fn clean_batcher(&self, data: Dataset) -> AeBatcher {
        AeBatcher::new(Arc::new(data), Vec::new(), false, self.config.seed)
    }
}

/// The split of `data` called `name`: train, valid or test.
pub fn pick_split(data: &PreparedData, name: &str) -> Result<Dataset> {
    Ok(match name {
        "train" => data.train.clone(),
        "valid" => data.valid.clone(),
        "test" => data.test.clone(),
        other => bail!("unknown split '{other}': expected train, valid or test"),
    })
}

/// The rows of a `[n, d]` tensor.
pub fn rows_of<B: Backend>(tensor: Tensor<B, 2>) -> Result<Vec<Vec<f32>>> {
    let [n, d] = tensor.dims();
    let values = flat_values(tensor)?;
    Ok((0..n)
        .map(|i| values[i * d..(i + 1) * d].to_vec())
        .collect())
}

/// The values of a tensor, row-major.
pub fn flat_values<B: Backend, const D: usize>(tensor: Tensor<B, D>) -> Result<Vec<f32>> {
    tensor
        .into_data()
        .convert::<f32>()
        .to_vec()
        .map_err(|e| anyhow!("cannot read tensor data: {e:?}"))
}

/// Runs `f` over every item of `batcher`'s data in batches of `batch_size`, in order.
pub fn for_each_batch<B: Backend>(
    batcher: &AeBatcher,
    batch_size: usize,
    device: &B::Device,
    mut f: impl FnMut(&[usize], AeBatch<B>) -> Result<()>,
) -> Result<()> {
    if batch_size == 0 {
        bail!("--batch-size must be at least 1");
    }
    let indices: Vec<usize> = (0..batcher.data().len()).collect();
    for chunk in indices.chunks(batch_size) {
        let batch = Batcher::<B, usize, AeBatch<B>>::batch(batcher, chunk.to_vec(), device);
        f(chunk, batch)?;
    }
    Ok(())
}

/// The deterministic code (a VAE's posterior mean) of every item, row-major `[n, latent]`.
pub fn encode_all<B: Backend>(
    model: &AnyModel<B>,
    batcher: &AeBatcher,
    batch_size: usize,
    device: &B::Device,
) -> Result<Vec<f32>> {
    let mut codes = Vec::new();
    for_each_batch::<B>(batcher, batch_size, device, |_, batch| {
        codes.extend(flat_values(model.encode(batch.input))?);
        Ok(())
    })?;
    Ok(codes)
}

/// Per-item scores of a model on a data set.
#[derive(Debug, Clone, Default)]
pub struct ItemScores {
    /// Squared error of the mean reconstruction (from the code, no sampling), summed over values.
    pub squared_error: Vec<f64>,
    /// The model's loss per item: a VAE's negative ELBO (one sampled z), an autoencoder's
    /// reconstruction loss.
    pub loss: Vec<f64>,
    /// A VAE's posterior variance, averaged over latent dimensions (empty for an autoencoder).
    pub posterior_variance: Vec<f64>,
}

/// Scores every item of `batcher`'s data with `model`.
pub fn score_items<B: Backend>(
    model: &AnyModel<B>,
    batcher: &AeBatcher,
    batch_size: usize,
    device: &B::Device,
) -> Result<ItemScores> {
    let mut scores = ItemScores::default();
    for_each_batch::<B>(batcher, batch_size, device, |_, batch| {
        // One encoder pass: the forward pass carries the posterior, whose mean is decoded
        // for the deterministic reconstruction (an autoencoder's is the forward pass's own).
        let output = model.forward(batch.input, batch.target.clone(), 1.0);
        let squared = match &output.mean {
            Some(mean) => squared_error(model.decode(mean.clone()), batch.target),
            None => output.squared_error.clone(),
        };
        scores
            .squared_error
            .extend(flat_values(squared)?.into_iter().map(f64::from));
        scores.loss.extend(
            flat_values(output.negative_elbo())?
                .into_iter()
                .map(f64::from),
        );
        if let Some(log_variance) = output.log_variance {
            let variance = log_variance.exp().mean_dim(1).squeeze_dim::<1>(1);
            scores
                .posterior_variance
                .extend(flat_values(variance)?.into_iter().map(f64::from));
        }
        Ok(())
    })?;
    Ok(scores)
}

/// Appends `text` and a newline to `file`.
pub fn write_line(file: &mut AtomicFile, text: &str) -> Result<()> {
    Ok(file.write_all(format!("{text}\n").as_bytes())?)
}

/// Checks that items of `shape` read from `path` fit the model of `loaded`.
pub fn check_item_shape<B: Backend>(
    loaded: &LoadedRun<B>,
    path: &Path,
    shape: ae_data::ImageShape,
) -> Result<()> {
    let expected = loaded.config.model.input_shape();
    if (shape.channels, shape.height, shape.width)
        != (expected.channels, expected.height, expected.width)
    {
        bail!(
            "{}: items have shape {shape} but the model of {} takes {}x{}x{}",
            path.display(),
            loaded.run.path().display(),
            expected.channels,
            expected.height,
            expected.width
        );
    }
    Ok(())
}

/// The items under `path`, read like the run's data, `chunk_size` at a time (see
/// [`ae_train::data::stream_other`]), after checking their shape against the model's.
pub fn stream_items<B: Backend>(
    loaded: &LoadedRun<B>,
    path: &Path,
    chunk_size: usize,
) -> Result<StreamedItems> {
    if chunk_size == 0 {
        bail!("--batch-size must be at least 1");
    }
    let items = ae_train::data::stream_other(
        &loaded.config.data,
        path,
        loaded.data.standardization.as_ref(),
        loaded.config.seed,
        chunk_size,
    )?;
    check_item_shape(loaded, path, items.shape())?;
    Ok(items)
}

/// Prints `value` as pretty JSON on stdout.
pub fn print_json(value: &serde_json::Value) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}
