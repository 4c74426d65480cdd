//! Meaning in the latent space: `ae traverse`, `ae interpolate` and `ae attribute`.

use std::path::{Path, PathBuf};

use ae_backend::{BackendChoice, BackendTask, run_on};
use ae_data::Dataset;
use ae_models::AnyModel;
use ae_train::pictures::write_grid;
use anyhow::{Result, bail};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Tensor, TensorData};
use clap::Args;
use serde_json::json;

use crate::shared::{LoadedRun, encode_all, print_json, rows_of};

/// Padding between grid cells in pixels, as `write_grid` draws it.
const GRID_PAD: u32 = 2;

/// Arguments of `ae traverse`.
#[derive(Debug, Args)]
pub struct TraverseArgs {
    /// The run folder.
    pub run: PathBuf,
    /// Latent dimensions to sweep, comma separated (default: all of them).
    #[arg(long, value_delimiter = ',')]
    pub dims: Option<Vec<usize>>,
    /// Values per dimension (columns of the grid).
    #[arg(long, default_value_t = 9)]
    pub steps: usize,
    /// The sweep goes from -RANGE to +RANGE around the base code, in units of the prior's
    /// standard deviation (VAE) or of the dimension's standard deviation over the test codes
    /// (autoencoder).
    #[arg(long, default_value_t = 3.0)]
    pub range: f64,
    /// Sweep around the code of this test item (default: the zero vector for a VAE, the mean
    /// test code for an autoencoder).
    #[arg(long)]
    pub item: Option<usize>,
    /// Output PNG (default: traverse.png inside the run folder).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Pixel zoom factor.
    #[arg(long, default_value_t = 3)]
    pub zoom: u32,
    /// Items encoded at once.
    #[arg(long, default_value_t = 500)]
    pub batch_size: usize,
}

/// Runs `ae traverse`.
pub fn run_traverse(args: TraverseArgs, choice: BackendChoice) -> Result<()> {
    run_on(choice, TraverseTask { args })?
}

/// Arguments of `ae interpolate`.
#[derive(Debug, Args)]
pub struct InterpolateArgs {
    /// The run folder.
    pub run: PathBuf,
    /// Index of the first test item.
    #[arg(long)]
    pub from: usize,
    /// Index of the second test item.
    #[arg(long)]
    pub to: usize,
    /// Codes along the path, both ends included (columns of the grid).
    #[arg(long, default_value_t = 10)]
    pub steps: usize,
    /// Output PNG (default: interpolate.png inside the run folder).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Pixel zoom factor.
    #[arg(long, default_value_t = 3)]
    pub zoom: u32,
}

/// Runs `ae interpolate`.
pub fn run_interpolate(args: InterpolateArgs, choice: BackendChoice) -> Result<()> {
    run_on(choice, InterpolateTask { args })?
}

/// Arguments of `ae attribute`.
#[derive(Debug, Args)]
pub struct AttributeArgs {
    /// The run folder.
    pub run: PathBuf,
    /// The label moved away from: a class id or a class name.
    #[arg(long)]
    pub from_label: String,
    /// The label moved towards: a class id or a class name.
    #[arg(long)]
    pub to_label: String,
    /// Multiples of the direction added to each input's code, comma separated.
    #[arg(
        long,
        value_delimiter = ',',
        allow_hyphen_values = true,
        default_value = "-1,0,1,2"
    )]
    pub strengths: Vec<f64>,
    /// Test items to move, comma separated (default: the first --count items of --from-label).
    #[arg(long, value_delimiter = ',')]
    pub items: Option<Vec<usize>>,
    /// Number of test items of --from-label to move when --items is not given.
    #[arg(long, default_value_t = 4)]
    pub count: usize,
    /// Use only the first N training items for the label means (default: all).
    #[arg(long)]
    pub limit: Option<usize>,
    /// Output PNG (default: attribute.png inside the run folder).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Pixel zoom factor.
    #[arg(long, default_value_t = 3)]
    pub zoom: u32,
    /// Items encoded at once.
    #[arg(long, default_value_t = 500)]
    pub batch_size: usize,
}

/// Runs `ae attribute`.
pub fn run_attribute(args: AttributeArgs, choice: BackendChoice) -> Result<()> {
    run_on(choice, AttributeTask { args })?
}

struct TraverseTask {
    args: TraverseArgs,
}

impl BackendTask for TraverseTask {
    type Output = Result<()>;
    fn run<B: AutodiffBackend>(self, device: B::Device) -> Result<()> {
        traverse::<B::InnerBackend>(self.args, &device)
    }
}

struct InterpolateTask {
    args: InterpolateArgs,
}

impl BackendTask for InterpolateTask {
    type Output = Result<()>;
    fn run<B: AutodiffBackend>(self, device: B::Device) -> Result<()> {
        interpolate::<B::InnerBackend>(self.args, &device)
    }
}

struct AttributeTask {
    args: AttributeArgs,
}

impl BackendTask for AttributeTask {
    type Output = Result<()>;
    fn run<B: AutodiffBackend>(self, device: B::Device) -> Result<()> {
        attribute::<B::InnerBackend>(self.args, &device)
    }
}

/// Loads a run whose items can be drawn as images.
fn load_image_run<B: Backend>(path: &Path, device: &B::Device) -> Result<LoadedRun<B>> {
    let loaded = LoadedRun::<B>::load(path, device)?;
    let shape = loaded.config.model.input_shape();
    if shape.height < 2 || !matches!(shape.channels, 1 | 3) {
        bail!(
            "{}: items of shape {}x{}x{} cannot be drawn as images",
            path.display(),
            shape.channels,
            shape.height,
            shape.width
        );
    }
    Ok(loaded)
}

/// Decodes row-major codes `[n, latent]` into `n` flat images.
fn decode_codes<B: Backend>(
    model: &AnyModel<B>,
    codes: &[f32],
    latent: usize,
    device: &B::Device,
) -> Result<Vec<Vec<f32>>> {
    let n = codes.len() / latent;
    let tensor = Tensor::<B, 2>::from_data(TensorData::new(codes.to_vec(), [n, latent]), device);
    rows_of(model.decode(tensor))
}

/// The codes of the items at `indices` of `data`, row-major `[indices.len(), latent]`.
fn encode_items<B: Backend>(
    loaded: &LoadedRun<B>,
    data: &Dataset,
    indices: &[usize],
    device: &B::Device,
) -> Result<Vec<f32>> {
    let batcher = loaded.clean_batcher(data.subset(indices));
    encode_all(&loaded.model, &batcher, indices.len().max(1), device)
}

/// Checks that `index` names an item of a split of `len` items.
fn check_item(flag: &str, index: usize, len: usize, split: &str) -> Result<()> {
    if index >= len {
        bail!(
            "{flag} {index} is out of range: the {split} split has {len} items (0..{})",
            len.saturating_sub(1)
        );
    }
    Ok(())
}

/// `steps` evenly spaced values from `-range` to `range` (just 0 for one step).
fn sweep_values(steps: usize, range: f64) -> Vec<f64> {
    if steps == 1 {
        return vec![0.0];
    }
    (0..steps)
        .map(|k| -range + 2.0 * range * k as f64 / (steps - 1) as f64)
        .collect()
}

/// The pixel size `(width, height)` of a `write_grid` picture with `rows` × `cols` cells.
fn grid_size(rows: usize, cols: usize, height: usize, width: usize, zoom: u32) -> (u32, u32) {
    let (h, w) = (height as u32 * zoom, width as u32 * zoom);
    (
        cols as u32 * (w + GRID_PAD) + GRID_PAD,
        rows as u32 * (h + GRID_PAD) + GRID_PAD,
    )
}

fn check_zoom(zoom: u32) -> Result<()> {
    if zoom == 0 {
        bail!("--zoom must be at least 1");
    }
    Ok(())
}

/// Per-dimension mean and standard deviation of row-major `[n, latent]` codes.
fn code_moments(codes: &[f32], latent: usize) -> (Vec<f64>, Vec<f64>) {
    let n = (codes.len() / latent).max(1) as f64;
    let mut mean = vec![0.0; latent];
    for row in codes.chunks(latent) {
        for (m, &v) in mean.iter_mut().zip(row) {
            *m += f64::from(v) / n;
        }
    }
    let mut variance = vec![0.0; latent];
    for row in codes.chunks(latent) {
        for ((s, &v), m) in variance.iter_mut().zip(row).zip(&mean) {
            *s += (f64::from(v) - m).powi(2) / n;
        }
    }
    (mean, variance.into_iter().map(f64::sqrt).collect())
}

fn traverse<B: Backend>(args: TraverseArgs, device: &B::Device) -> Result<()> {
    check_zoom(args.zoom)?;
    if args.steps == 0 {
        bail!("--steps must be at least 1");
    }
    if !(args.range.is_finite() && args.range >= 0.0) {
        bail!("--range must be a finite number >= 0, got {}", args.range);
    }
    let loaded = load_image_run::<B>(&args.run, device)?;
    let latent = loaded.config.model.latent();
    let dims = match &args.dims {
        Some(dims) => {
            if dims.is_empty() {
                bail!("--dims names no dimension");
            }
            if let Some(&bad) = dims.iter().find(|&&d| d >= latent) {
                bail!(
                    "--dims {bad} is out of range: the latent size of {} is {latent} (dimensions 0..{})",
                    args.run.display(),
                    latent - 1
                );
            }
            dims.clone()
        }
        None => (0..latent).collect(),
    };
    let test = loaded.split("test")?;
    if let Some(item) = args.item {
        check_item("--item", item, test.len(), "test")?;
    }
    let is_vae = loaded.model.as_vae().is_some();
    // An autoencoder's code has no prior: its scale comes from the test codes.
    let moments = if args.item.is_some() || !is_vae {
        let codes = encode_all(
            &loaded.model,
            &loaded.clean_batcher(test.clone()),
            args.batch_size,
            device,
        )?;
        Some((code_moments(&codes, latent), codes))
    } else {
        None
    };
    let (base, base_name): (Vec<f64>, String) = match (args.item, &moments) {
        (Some(item), Some((_, codes))) => (
            codes[item * latent..(item + 1) * latent]
                .iter()
                .map(|&v| f64::from(v))
                .collect(),
            format!("test item {item}"),
        ),
        (None, Some(((mean, _), _))) if !is_vae => (mean.clone(), "mean test code".into()),
        _ => (vec![0.0; latent], "zero vector".into()),
    };
    let scale: Vec<f64> = match (&moments, is_vae) {
        (Some(((_, std), _)), false) => std.clone(),
        _ => vec![1.0; latent],
    };
    let values = sweep_values(args.steps, args.range);
    let mut codes = Vec::with_capacity(dims.len() * values.len() * latent);
    for &d in &dims {
        for v in &values {
            let mut code = base.clone();
            code[d] += v * scale[d];
            codes.extend(code.into_iter().map(|x| x as f32));
        }
    }
    let images = decode_codes(&loaded.model, &codes, latent, device)?;
    let rows: Vec<Vec<Vec<f32>>> = images.chunks(values.len()).map(<[_]>::to_vec).collect();
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| loaded.run.path().join("traverse.png"));
    let shape = loaded.config.model.input_shape();
    write_grid(&out, &rows, shape, args.zoom)?;
    let (width, height) = grid_size(
        rows.len(),
        values.len(),
        shape.height,
        shape.width,
        args.zoom,
    );
    print_json(&json!({
        "run": args.run,
        "picture": out,
        "model": loaded.config.model.name(),
        "latent": latent,
        "dims": dims,
        "values": values,
        "units": if is_vae { "prior standard deviations" } else { "test-code standard deviations" },
        "base": base_name,
        "base_code": base,
        "scale": dims.iter().map(|&d| scale[d]).collect::<Vec<_>>(),
        "grid": { "rows": rows.len(), "cols": values.len(), "width": width, "height": height },
    }))
}

/// Euclidean distance between two codes.
fn distance(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (f64::from(*x) - f64::from(*y)).powi(2))
        .sum::<f64>()
        .sqrt()
}

/// Spherical interpolation between `a` and `b` at `t` (linear when they are parallel).
fn slerp(a: &[f64], b: &[f64], t: f64) -> Vec<f64> {
    let norm = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>().sqrt();
    let (na, nb) = (norm(a), norm(b));
    let cosine = if na > 0.0 && nb > 0.0 {
        (a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>() / (na * nb)).clamp(-1.0, 1.0)
    } else {
        1.0
    };
    let omega = cosine.acos();
    let sine = omega.sin();
    if sine.abs() < 1e-6 {
        return a.iter().zip(b).map(|(x, y)| x + t * (y - x)).collect();
    }
    let (wa, wb) = (((1.0 - t) * omega).sin() / sine, (t * omega).sin() / sine);
    a.iter().zip(b).map(|(x, y)| wa * x + wb * y).collect()
}

fn interpolate<B: Backend>(args: InterpolateArgs, device: &B::Device) -> Result<()> {
    check_zoom(args.zoom)?;
    if args.steps < 2 {
        bail!("--steps must be at least 2 (both ends are drawn)");
    }
    let loaded = load_image_run::<B>(&args.run, device)?;
    let latent = loaded.config.model.latent();
    let test = loaded.split("test")?;
    check_item("--from", args.from, test.len(), "test")?;
    check_item("--to", args.to, test.len(), "test")?;
    let pair = encode_items(&loaded, &test, &[args.from, args.to], device)?;
    let to_f64 = |v: &[f32]| v.iter().map(|&x| f64::from(x)).collect::<Vec<_>>();
    let (start, end) = (to_f64(&pair[..latent]), to_f64(&pair[latent..]));
    let times: Vec<f64> = (0..args.steps)
        .map(|k| k as f64 / (args.steps - 1) as f64)
        .collect();
    let mut paths: Vec<(&str, Vec<f32>)> = vec![(
        "linear",
        times
            .iter()
            .flat_map(|&t| start.iter().zip(&end).map(move |(a, b)| a + t * (b - a)))
            .map(|x| x as f32)
            .collect(),
    )];
    if loaded.model.as_vae().is_some() {
        paths.push((
            "spherical",
            times
                .iter()
                .flat_map(|&t| slerp(&start, &end, t))
                .map(|x| x as f32)
                .collect(),
        ));
    }
    // Each item's code on its own, to show the ends of every path are exactly those codes.
    let alone_from = encode_items(&loaded, &test, &[args.from], device)?;
    let alone_to = encode_items(&loaded, &test, &[args.to], device)?;
    let mut rows = Vec::new();
    let mut reports = Vec::new();
    for (name, codes) in &paths {
        rows.push(decode_codes(&loaded.model, codes, latent, device)?);
        let last = &codes[(args.steps - 1) * latent..];
        reports.push(json!({
            "path": name,
            "first_code_distance_to_from": distance(&codes[..latent], &alone_from),
            "last_code_distance_to_to": distance(last, &alone_to),
        }));
    }
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| loaded.run.path().join("interpolate.png"));
    let shape = loaded.config.model.input_shape();
    write_grid(&out, &rows, shape, args.zoom)?;
    let (width, height) = grid_size(rows.len(), args.steps, shape.height, shape.width, args.zoom);
    print_json(&json!({
        "run": args.run,
        "picture": out,
        "model": loaded.config.model.name(),
        "from": args.from,
        "to": args.to,
        "code_distance": distance(&alone_from, &alone_to),
        "paths": reports,
        "grid": { "rows": rows.len(), "cols": args.steps, "width": width, "height": height },
    }))
}

/// A class as the user and the data name it.
struct LabelChoice {
    id: u32,
    name: Option<String>,
}

/// The labels present in `labels` with their names and counts, for error messages.
fn labels_present(labels: &[u32], class_names: &[String]) -> String {
    let mut counts = std::collections::BTreeMap::<u32, usize>::new();
    for &label in labels {
        *counts.entry(label).or_default() += 1;
    }
    counts
        .iter()
        .map(|(id, count)| match class_names.get(*id as usize) {
            Some(name) if name != &id.to_string() => format!("{id} ({name}): {count} items"),
            _ => format!("{id}: {count} items"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Resolves `text` (a class id or name) against the training split's labels.
fn resolve_label(flag: &str, text: &str, train: &Dataset) -> Result<LabelChoice> {
    let labels = train.labels.as_deref().unwrap_or_default();
    let by_name = train
        .class_names
        .iter()
        .position(|n| n == text)
        .map(|i| i as u32);
    let id = text.trim().parse::<u32>().ok().or(by_name);
    match id {
        Some(id) if labels.contains(&id) => Ok(LabelChoice {
            id,
            name: train.class_names.get(id as usize).cloned(),
        }),
        _ => bail!(
            "{flag} '{text}': no training item has that label; labels present: {}",
            labels_present(labels, &train.class_names)
        ),
    }
}

/// Mean code of the rows of `codes` whose label is `label`.
fn mean_code(codes: &[f32], labels: &[u32], label: u32, latent: usize) -> Vec<f64> {
    let mut mean = vec![0.0; latent];
    let mut count = 0usize;
    for (row, _) in codes
        .chunks(latent)
        .zip(labels)
        .filter(|(_, l)| **l == label)
    {
        count += 1;
        for (m, &v) in mean.iter_mut().zip(row) {
            *m += f64::from(v);
        }
    }
    mean.iter_mut().for_each(|m| *m /= count.max(1) as f64);
    mean
}

fn attribute<B: Backend>(args: AttributeArgs, device: &B::Device) -> Result<()> {
    check_zoom(args.zoom)?;
    if args.strengths.is_empty() || args.strengths.iter().any(|s| !s.is_finite()) {
        bail!("--strengths must be finite numbers, e.g. -1,0,1,2");
    }
    let loaded = load_image_run::<B>(&args.run, device)?;
    let latent = loaded.config.model.latent();
    let mut train = loaded.split("train")?;
    if let Some(limit) = args.limit {
        if limit == 0 {
            bail!("--limit must be at least 1");
        }
        train = train.take(limit);
    }
    if train.labels.is_none() {
        bail!(
            "{}: the data has no labels, so there is no attribute direction",
            args.run.display()
        );
    }
    let from = resolve_label("--from-label", &args.from_label, &train)?;
    let to = resolve_label("--to-label", &args.to_label, &train)?;
    let train_labels = train.labels.clone().unwrap_or_default();
    let codes = encode_all(
        &loaded.model,
        &loaded.clean_batcher(train),
        args.batch_size,
        device,
    )?;
    let from_mean = mean_code(&codes, &train_labels, from.id, latent);
    let to_mean = mean_code(&codes, &train_labels, to.id, latent);
    let direction: Vec<f64> = to_mean.iter().zip(&from_mean).map(|(b, a)| b - a).collect();
    let test = loaded.split("test")?;
    let items = match &args.items {
        Some(items) => {
            if items.is_empty() {
                bail!("--items names no item");
            }
            for &item in items {
                check_item("--items", item, test.len(), "test")?;
            }
            items.clone()
        }
        None => {
            if args.count == 0 {
                bail!("--count must be at least 1");
            }
            let labels = test.labels.as_deref().unwrap_or_default();
            let chosen: Vec<usize> = (0..labels.len())
                .filter(|&i| labels[i] == from.id)
                .take(args.count)
                .collect();
            if chosen.is_empty() {
                bail!(
                    "--from-label '{}': no test item has that label; labels present: {}; choose items with --items",
                    args.from_label,
                    labels_present(labels, &test.class_names)
                );
            }
            chosen
        }
    };
    let item_codes = encode_items(&loaded, &test, &items, device)?;
    let mut moved = Vec::with_capacity(items.len() * args.strengths.len() * latent);
    for code in item_codes.chunks(latent) {
        for s in &args.strengths {
            moved.extend(
                code.iter()
                    .zip(&direction)
                    .map(|(&z, d)| (f64::from(z) + s * d) as f32),
            );
        }
    }
    let decoded = decode_codes(&loaded.model, &moved, latent, device)?;
    let rows: Vec<Vec<Vec<f32>>> = decoded
        .chunks(args.strengths.len())
        .zip(&items)
        .map(|(row, &item)| {
            let mut cells = vec![test.input(item).to_vec()];
            cells.extend(row.iter().cloned());
            cells
        })
        .collect();
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| loaded.run.path().join("attribute.png"));
    let shape = loaded.config.model.input_shape();
    write_grid(&out, &rows, shape, args.zoom)?;
    let cols = args.strengths.len() + 1;
    let (width, height) = grid_size(rows.len(), cols, shape.height, shape.width, args.zoom);
    let count_of = |id: u32| train_labels.iter().filter(|&&l| l == id).count();
    let label_json = |choice: &LabelChoice| json!({ "id": choice.id, "name": choice.name, "train_items": count_of(choice.id) });
    let norm = direction.iter().map(|d| d * d).sum::<f64>().sqrt();
    print_json(&json!({
        "run": args.run,
        "picture": out,
        "from_label": label_json(&from),
        "to_label": label_json(&to),
        "direction_norm": norm,
        "items": items,
        "strengths": args.strengths,
        "columns": "the input, then its code moved by each strength",
        "grid": { "rows": rows.len(), "cols": cols, "width": width, "height": height },
    }))
}
