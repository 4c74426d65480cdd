//! Codes to files (`ae encode`), and pictures of reconstructions (`ae reconstruct`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use ae_analysis::{NpyRowWriter, write_npy_i64};
use ae_io::AtomicFile;
use ae_train::Reporter;
use burn::tensor::backend::Backend;
use serde::Serialize;

use crate::error::{Result, ToolkitError, at_least_one};
use crate::run::{ItemSource, TrainedRun};

/// What [`encode_to_files`] wrote.
#[derive(Debug, Clone, Serialize)]
pub struct EncodeReport {
    /// The run folder.
    #[serde(serialize_with = "crate::paths::lossy")]
    pub run: PathBuf,
    /// The split encoded, or `data` for items read from a path.
    pub split: String,
    /// Items encoded.
    pub items: usize,
    /// The latent size.
    pub latent: usize,
    /// `latents.npy`, `labels.npy` (when labelled) and `latents.csv`.
    #[serde(serialize_with = "crate::paths::lossy_vec")]
    pub files: Vec<PathBuf>,
}

/// The default folder of [`encode_to_files`]: `RUN/latents-<split>` (`latents-data` for items
/// read from a path).
pub fn default_encode_folder<B: Backend>(run: &TrainedRun<B>, source: &ItemSource) -> PathBuf {
    run.path().join(format!("latents-{}", source.name()))
}

/// Encodes every item of `source` into the folder `out`: `latents.npy` (items × latent
/// float32), `latents.csv` (`z0…`, then `label`) and, for labelled items, `labels.npy`. Items
/// from a path are read and written a chunk of `batch_size` at a time, so data larger than
/// memory can be encoded.
pub fn encode_to_files<B: Backend>(
    run: &TrainedRun<B>,
    source: &ItemSource,
    out: &Path,
    batch_size: usize,
    reporter: &Reporter,
) -> Result<EncodeReport> {
    at_least_one("batch_size", batch_size)?;
    let chunks = run.chunks(source, batch_size)?;
    let items = chunks.len;
    std::fs::create_dir_all(out).map_err(|e| ae_io::WriteError::new(out, e))?;
    let latent = run.latent();
    let npy = out.join("latents.npy");
    let mut npy_writer = NpyRowWriter::create(&npy, items, latent)?;
    let mut csv: Option<csv::Writer<AtomicFile>> = None;
    let csv_path = out.join("latents.csv");
    let csv_error = |e: csv::Error| ToolkitError::from(ae_io::WriteError::new(&csv_path, e.into()));
    let mut labels: Vec<i64> = Vec::new();
    let mut labelled = false;
    let mut counter = reporter.counter("encode", "items", items, Duration::from_secs(10));
    let mut done = 0;
    for chunk in chunks.iter {
        let chunk = chunk?;
        let codes = run.encode_rows(&chunk, batch_size)?;
        npy_writer.write_rows(&codes)?;
        let writer = match &mut csv {
            Some(writer) => writer,
            None => {
                labelled = chunk.labels.is_some();
                let mut writer = csv::Writer::from_writer(AtomicFile::create(&csv_path)?);
                let mut header: Vec<String> = (0..latent).map(|j| format!("z{j}")).collect();
                if labelled {
                    header.push("label".into());
                }
                writer.write_record(&header).map_err(csv_error)?;
                csv.insert(writer)
            }
        };
        for (i, row) in codes.chunks(latent).enumerate() {
            let label = chunk.labels.as_ref().map(|l| l[i]);
            // f32 values written so that they read back exactly.
            let mut fields: Vec<String> = row.iter().map(|v| v.to_string()).collect();
            fields.extend(label.map(|l| l.to_string()));
            writer.write_record(&fields).map_err(csv_error)?;
            labels.extend(label.map(i64::from));
        }
        done += chunk.len();
        counter.update(done);
    }
    npy_writer.finish()?;
    let mut files = vec![npy];
    if labelled {
        let path = out.join("labels.npy");
        write_npy_i64(&path, &labels)?;
        files.push(path);
    }
    if let Some(writer) = csv {
        let file = writer
            .into_inner()
            .map_err(|e| ae_io::WriteError::new(&csv_path, e.into_error()))?;
        files.push(file.commit()?);
    }
    Ok(EncodeReport {
        run: run.path().to_path_buf(),
        split: source.name().to_string(),
        items,
        latent,
        files,
    })
}

/// What [`reconstruction_picture`] drew.
#[derive(Debug, Clone, Serialize)]
pub struct PictureReport {
    /// The PNG.
    #[serde(serialize_with = "crate::paths::lossy")]
    pub picture: PathBuf,
}

/// Draws `count` items of `source` (inputs, corrupted inputs when the run denoises or
/// translates, and reconstructions, one row each) into the PNG `out`; the items' corruption is
/// drawn from `seed`.
pub fn reconstruction_picture<B: Backend>(
    run: &TrainedRun<B>,
    source: &ItemSource,
    out: &Path,
    count: usize,
    seed: u64,
    zoom: u32,
) -> Result<PictureReport> {
    run.require_images("a reconstruction picture")?;
    at_least_one("count", count)?;
    at_least_one("zoom", zoom as usize)?;
    let data = run.read(source)?;
    let count = count.min(data.len());
    let items = data.take(count);
    let paired = items.is_paired();
    let batcher = run.training_batcher(items, seed);
    let mut rows: Vec<Vec<Vec<f32>>> = vec![Vec::new(), Vec::new()];
    let denoising = !run.config().data.corruptions.is_empty() || paired;
    let mut inputs = Vec::new();
    crate::tensors::for_each_batch::<B>(&batcher, count.max(1), run.device(), |_, batch| {
        let model = run.model();
        let reconstruction = model.decode(model.encode(batch.input.clone()));
        inputs.extend(crate::tensors::rows_of(batch.input)?);
        rows[0].extend(crate::tensors::rows_of(batch.target)?);
        rows[1].extend(crate::tensors::rows_of(reconstruction)?);
        Ok(())
    })?;
    if denoising {
        rows.insert(0, inputs);
    }
    ae_plot::write_grid(out, &rows, run.grid_shape(), zoom)?;
    Ok(PictureReport {
        picture: out.to_path_buf(),
    })
}
