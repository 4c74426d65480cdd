//! Meaning in the latent space: sweep one dimension at a time ([`traverse`]), move between two
//! items ([`interpolate`], linear and spherical), and move items along the direction from one
//! label's mean code to another's ([`attribute`]).

use std::collections::BTreeMap;
use std::path::PathBuf;

use ae_data::Dataset;
use burn::tensor::backend::Backend;
use serde::Serialize;

use crate::error::{Result, ToolkitError, at_least_one};
use crate::run::{Split, TrainedRun};

/// The size of a grid picture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct GridSize {
    /// Rows of images.
    pub rows: usize,
    /// Columns of images.
    pub cols: usize,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

/// Draws `rows` of decoded items to `out`; returns the grid's size.
fn draw<B: Backend>(
    run: &TrainedRun<B>,
    out: &std::path::Path,
    rows: &[Vec<Vec<f32>>],
    cols: usize,
    zoom: u32,
) -> Result<GridSize> {
    let (width, height) = ae_plot::write_grid(out, rows, run.grid_shape(), zoom)?;
    let (width, height) = if cols == 0 {
        (width, height)
    } else {
        ae_plot::grid_size(rows.len(), cols, run.grid_shape(), zoom)
    };
    Ok(GridSize {
        rows: rows.len(),
        cols,
        width,
        height,
    })
}

/// Checks that `index` names an item of a split of `len` items.
fn check_item(setting: &'static str, index: usize, len: usize, split: &str) -> Result<()> {
    if index >= len {
        return Err(ToolkitError::setting(
            setting,
            format!(
                "{index} is out of range: the {split} split has {len} items (0..{})",
                len.saturating_sub(1)
            ),
        ));
    }
    Ok(())
}

/// `steps` evenly spaced values from `-range` to `range` (just 0 for one step).
pub fn sweep_values(steps: usize, range: f64) -> Vec<f64> {
    if steps == 1 {
        return vec![0.0];
    }
    (0..steps)
        .map(|k| -range + 2.0 * range * k as f64 / (steps - 1) as f64)
        .collect()
}

/// Per-dimension mean and standard deviation of row-major `[n, latent]` codes.
pub fn code_moments(codes: &[f32], latent: usize) -> (Vec<f64>, Vec<f64>) {
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

/// How to sweep the latent dimensions.
#[derive(Debug, Clone)]
pub struct TraverseSettings {
    /// Dimensions to sweep (default: all of them).
    pub dims: Option<Vec<usize>>,
    /// Values per dimension (columns of the grid).
    pub steps: usize,
    /// The sweep goes from -range to +range around the base code, in units of the prior's
    /// standard deviation (VAE) or of the dimension's standard deviation over the test codes
    /// (autoencoder).
    pub range: f64,
    /// Sweep around the code of this test item (default: the zero vector for a VAE, the mean
    /// test code for an autoencoder).
    pub item: Option<usize>,
    /// The picture (default: `RUN/traverse.png`).
    pub out: Option<PathBuf>,
    /// Pixel zoom factor.
    pub zoom: u32,
    /// Items encoded at once.
    pub batch_size: usize,
}

impl Default for TraverseSettings {
    fn default() -> Self {
        Self {
            dims: None,
            steps: 9,
            range: 3.0,
            item: None,
            out: None,
            zoom: 3,
            batch_size: 500,
        }
    }
}

/// What [`traverse`] reports.
#[derive(Debug, Clone, Serialize)]
pub struct TraverseReport {
    /// The run folder.
    #[serde(serialize_with = "crate::paths::lossy")]
    pub run: PathBuf,
    /// The picture.
    #[serde(serialize_with = "crate::paths::lossy")]
    pub picture: PathBuf,
    /// `autoencoder` or `vae`.
    pub model: String,
    /// The latent size.
    pub latent: usize,
    /// The dimensions swept, one grid row each.
    pub dims: Vec<usize>,
    /// The values of the sweep, one grid column each.
    pub values: Vec<f64>,
    /// The units of the values.
    pub units: String,
    /// What the sweep is around.
    pub base: String,
    /// The base code.
    pub base_code: Vec<f64>,
    /// The unit of each swept dimension.
    pub scale: Vec<f64>,
    /// The picture's size.
    pub grid: GridSize,
}

/// Decodes codes that sweep each chosen dimension around a base code, one row per dimension.
pub fn traverse<B: Backend>(
    run: &TrainedRun<B>,
    settings: &TraverseSettings,
) -> Result<TraverseReport> {
    at_least_one("zoom", settings.zoom as usize)?;
    at_least_one("steps", settings.steps)?;
    if !(settings.range.is_finite() && settings.range >= 0.0) {
        return Err(ToolkitError::setting(
            "range",
            format!("must be a finite number >= 0, got {}", settings.range),
        ));
    }
    run.require_images("a traversal")?;
    let latent = run.latent();
    let dims = match &settings.dims {
        Some(dims) => {
            if dims.is_empty() {
                return Err(ToolkitError::setting("dims", "names no dimension"));
            }
            if let Some(&bad) = dims.iter().find(|&&d| d >= latent) {
                return Err(ToolkitError::setting(
                    "dims",
                    format!(
                        "{bad} is out of range: the latent size of {} is {latent} (dimensions 0..{})",
                        run.path().display(),
                        latent - 1
                    ),
                ));
            }
            dims.clone()
        }
        None => (0..latent).collect(),
    };
    let is_vae = run.is_vae();
    let needs_codes = settings.item.is_some() || !is_vae;
    let test = if needs_codes {
        Some(run.split(Split::Test)?)
    } else {
        None
    };
    if let (Some(item), Some(test)) = (settings.item, &test) {
        check_item("item", item, test.len(), "test")?;
    }
    // An autoencoder's code has no prior: its scale comes from the test codes.
    let moments = match &test {
        Some(test) => {
            let codes = run.encode_rows(test, settings.batch_size)?;
            Some((code_moments(&codes, latent), codes))
        }
        None => None,
    };
    let (base, base_name): (Vec<f64>, String) = match (settings.item, &moments) {
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
    ae_plot::check_grid(dims.len(), settings.steps, run.grid_shape(), settings.zoom)?;
    let values = sweep_values(settings.steps, settings.range);
    let mut codes = Vec::with_capacity(dims.len() * values.len() * latent);
    for &d in &dims {
        for v in &values {
            let mut code = base.clone();
            code[d] += v * scale[d];
            codes.extend(code.into_iter().map(|x| x as f32));
        }
    }
    let images = run.decode(&codes)?;
    let rows: Vec<Vec<Vec<f32>>> = images.chunks(values.len()).map(<[_]>::to_vec).collect();
    let out = settings
        .out
        .clone()
        .unwrap_or_else(|| run.path().join("traverse.png"));
    let grid = draw(run, &out, &rows, values.len(), settings.zoom)?;
    Ok(TraverseReport {
        run: run.path().to_path_buf(),
        picture: out,
        model: run.model_name().into(),
        latent,
        scale: dims.iter().map(|&d| scale[d]).collect(),
        dims,
        values,
        units: if is_vae {
            "prior standard deviations"
        } else {
            "test-code standard deviations"
        }
        .into(),
        base: base_name,
        base_code: base,
        grid,
    })
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
pub fn slerp(a: &[f64], b: &[f64], t: f64) -> Vec<f64> {
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

/// Codes along the path from `start` to `end` at `times` in [0, 1], row-major: linear, or
/// spherical (for a VAE, whose codes concentrate near a sphere).
pub fn interpolate_codes(start: &[f64], end: &[f64], times: &[f64], spherical: bool) -> Vec<f32> {
    times
        .iter()
        .flat_map(|&t| {
            if spherical {
                slerp(start, end, t)
            } else {
                start
                    .iter()
                    .zip(end)
                    .map(|(a, b)| a + t * (b - a))
                    .collect()
            }
        })
        .map(|x| x as f32)
        .collect()
}

/// How to interpolate.
#[derive(Debug, Clone)]
pub struct InterpolateSettings {
    /// Index of the first test item.
    pub from: usize,
    /// Index of the second test item.
    pub to: usize,
    /// Codes along the path, both ends included (columns of the grid).
    pub steps: usize,
    /// The picture (default: `RUN/interpolate.png`).
    pub out: Option<PathBuf>,
    /// Pixel zoom factor.
    pub zoom: u32,
}

impl Default for InterpolateSettings {
    fn default() -> Self {
        Self {
            from: 0,
            to: 1,
            steps: 10,
            out: None,
            zoom: 3,
        }
    }
}

/// One path of [`interpolate`].
#[derive(Debug, Clone, Serialize)]
pub struct PathReport {
    /// `linear` or `spherical`.
    pub path: String,
    /// Distance from the path's first code to the first item's own code (0: it starts there).
    pub first_code_distance_to_from: f64,
    /// Distance from the path's last code to the second item's own code.
    pub last_code_distance_to_to: f64,
}

/// What [`interpolate`] reports.
#[derive(Debug, Clone, Serialize)]
pub struct InterpolateReport {
    /// The run folder.
    #[serde(serialize_with = "crate::paths::lossy")]
    pub run: PathBuf,
    /// The picture.
    #[serde(serialize_with = "crate::paths::lossy")]
    pub picture: PathBuf,
    /// `autoencoder` or `vae`.
    pub model: String,
    /// The first test item.
    pub from: usize,
    /// The second test item.
    pub to: usize,
    /// Distance between the two items' codes.
    pub code_distance: f64,
    /// One row of the grid each.
    pub paths: Vec<PathReport>,
    /// The picture's size.
    pub grid: GridSize,
}

/// Decodes codes along the path between two test items' codes: linear, and for a VAE also
/// spherical.
pub fn interpolate<B: Backend>(
    run: &TrainedRun<B>,
    settings: &InterpolateSettings,
) -> Result<InterpolateReport> {
    at_least_one("zoom", settings.zoom as usize)?;
    if settings.steps < 2 {
        return Err(ToolkitError::setting(
            "steps",
            "must be at least 2 (both ends are drawn)",
        ));
    }
    run.require_images("an interpolation")?;
    ae_plot::check_grid(2, settings.steps, run.grid_shape(), settings.zoom)?;
    let latent = run.latent();
    let test = run.split(Split::Test)?;
    check_item("from", settings.from, test.len(), "test")?;
    check_item("to", settings.to, test.len(), "test")?;
    let encode = |indices: &[usize]| run.encode_rows(&test.subset(indices), indices.len());
    let pair = encode(&[settings.from, settings.to])?;
    let to_f64 = |v: &[f32]| v.iter().map(|&x| f64::from(x)).collect::<Vec<_>>();
    let (start, end) = (to_f64(&pair[..latent]), to_f64(&pair[latent..]));
    let times: Vec<f64> = (0..settings.steps)
        .map(|k| k as f64 / (settings.steps - 1) as f64)
        .collect();
    let mut paths = vec![("linear", interpolate_codes(&start, &end, &times, false))];
    if run.is_vae() {
        paths.push(("spherical", interpolate_codes(&start, &end, &times, true)));
    }
    // Each item's code on its own, to show the ends of every path are exactly those codes.
    let alone_from = encode(&[settings.from])?;
    let alone_to = encode(&[settings.to])?;
    let mut rows = Vec::new();
    let mut reports = Vec::new();
    for (name, codes) in &paths {
        rows.push(run.decode(codes)?);
        let last = &codes[(settings.steps - 1) * latent..];
        reports.push(PathReport {
            path: name.to_string(),
            first_code_distance_to_from: distance(&codes[..latent], &alone_from),
            last_code_distance_to_to: distance(last, &alone_to),
        });
    }
    let out = settings
        .out
        .clone()
        .unwrap_or_else(|| run.path().join("interpolate.png"));
    let grid = draw(run, &out, &rows, settings.steps, settings.zoom)?;
    Ok(InterpolateReport {
        run: run.path().to_path_buf(),
        picture: out,
        model: run.model_name().into(),
        from: settings.from,
        to: settings.to,
        code_distance: distance(&alone_from, &alone_to),
        paths: reports,
        grid,
    })
}

/// How to move items along an attribute direction.
#[derive(Debug, Clone)]
pub struct AttributeSettings {
    /// The label moved away from: a class id or a class name.
    pub from_label: String,
    /// The label moved towards: a class id or a class name.
    pub to_label: String,
    /// Multiples of the direction added to each input's code.
    pub strengths: Vec<f64>,
    /// Test items to move (default: the first `count` items of `from_label`).
    pub items: Option<Vec<usize>>,
    /// Number of test items of `from_label` to move when `items` is not given.
    pub count: usize,
    /// Use only the first `limit` training items for the label means (default: all).
    pub limit: Option<usize>,
    /// The picture (default: `RUN/attribute.png`).
    pub out: Option<PathBuf>,
    /// Pixel zoom factor.
    pub zoom: u32,
    /// Items encoded at once.
    pub batch_size: usize,
}

impl Default for AttributeSettings {
    fn default() -> Self {
        Self {
            from_label: String::new(),
            to_label: String::new(),
            strengths: vec![-1.0, 0.0, 1.0, 2.0],
            items: None,
            count: 4,
            limit: None,
            out: None,
            zoom: 3,
            batch_size: 500,
        }
    }
}

/// A label of [`attribute`], with how many training items have it.
#[derive(Debug, Clone, Serialize)]
pub struct LabelReport {
    /// The class id.
    pub id: u32,
    /// The class name, if the data names its classes.
    pub name: Option<String>,
    /// Training items with the label.
    pub train_items: usize,
}

/// What [`attribute`] reports.
#[derive(Debug, Clone, Serialize)]
pub struct AttributeReport {
    /// The run folder.
    #[serde(serialize_with = "crate::paths::lossy")]
    pub run: PathBuf,
    /// The picture.
    #[serde(serialize_with = "crate::paths::lossy")]
    pub picture: PathBuf,
    /// The label moved away from.
    pub from_label: LabelReport,
    /// The label moved towards.
    pub to_label: LabelReport,
    /// Length of the direction (difference of the two mean codes).
    pub direction_norm: f64,
    /// The test items moved, one grid row each.
    pub items: Vec<usize>,
    /// The multiples of the direction, one grid column each after the input.
    pub strengths: Vec<f64>,
    /// What the columns hold.
    pub columns: String,
    /// The picture's size.
    pub grid: GridSize,
}

/// The labels present in `labels` with their names and counts, for error messages.
fn labels_present(labels: &[u32], class_names: &[String]) -> String {
    let mut counts = BTreeMap::<u32, usize>::new();
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
fn resolve_label(
    setting: &'static str,
    text: &str,
    train: &Dataset,
) -> Result<(u32, Option<String>)> {
    let labels = train.labels.as_deref().unwrap_or_default();
    let by_name = train
        .class_names
        .iter()
        .position(|n| n == text)
        .map(|i| i as u32);
    let id = text.trim().parse::<u32>().ok().or(by_name);
    match id {
        Some(id) if labels.contains(&id) => Ok((id, train.class_names.get(id as usize).cloned())),
        _ => Err(ToolkitError::setting(
            setting,
            format!(
                "'{text}': no training item has that label; labels present: {}",
                labels_present(labels, &train.class_names)
            ),
        )),
    }
}

/// Mean code of the rows of `codes` whose label is `label`.
pub fn mean_code(codes: &[f32], labels: &[u32], label: u32, latent: usize) -> Vec<f64> {
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

/// The attribute direction from one label's mean training code to another's, with the two
/// labels and the training labels.
pub struct AttributeDirection {
    /// The direction (to-mean minus from-mean).
    pub direction: Vec<f64>,
    /// The label moved away from.
    pub from: LabelReport,
    /// The label moved towards.
    pub to: LabelReport,
}

/// The direction from `from_label`'s mean training code to `to_label`'s.
pub fn attribute_direction<B: Backend>(
    run: &TrainedRun<B>,
    from_label: &str,
    to_label: &str,
    limit: Option<usize>,
    batch_size: usize,
) -> Result<AttributeDirection> {
    let mut train = run.split(Split::Train)?;
    if let Some(limit) = limit {
        at_least_one("limit", limit)?;
        train = train.take(limit);
    }
    if train.labels.is_none() {
        return Err(ToolkitError::Unsupported(format!(
            "{}: the data has no labels, so there is no attribute direction",
            run.path().display()
        )));
    }
    let (from, from_name) = resolve_label("from_label", from_label, &train)?;
    let (to, to_name) = resolve_label("to_label", to_label, &train)?;
    let train_labels = train.labels.clone().unwrap_or_default();
    let latent = run.latent();
    let codes = run.encode_rows(&train, batch_size)?;
    let from_mean = mean_code(&codes, &train_labels, from, latent);
    let to_mean = mean_code(&codes, &train_labels, to, latent);
    let count_of = |id: u32| train_labels.iter().filter(|&&l| l == id).count();
    Ok(AttributeDirection {
        direction: to_mean.iter().zip(&from_mean).map(|(b, a)| b - a).collect(),
        from: LabelReport {
            id: from,
            name: from_name,
            train_items: count_of(from),
        },
        to: LabelReport {
            id: to,
            name: to_name,
            train_items: count_of(to),
        },
    })
}

/// Moves test items' codes along the direction from one label's mean training code to
/// another's, by each strength, and draws the decodings beside the inputs.
pub fn attribute<B: Backend>(
    run: &TrainedRun<B>,
    settings: &AttributeSettings,
) -> Result<AttributeReport> {
    at_least_one("zoom", settings.zoom as usize)?;
    if settings.strengths.is_empty() || settings.strengths.iter().any(|s| !s.is_finite()) {
        return Err(ToolkitError::setting(
            "strengths",
            "must be finite numbers, e.g. -1,0,1,2",
        ));
    }
    run.require_images("an attribute picture")?;
    let latent = run.latent();
    let found = attribute_direction(
        run,
        &settings.from_label,
        &settings.to_label,
        settings.limit,
        settings.batch_size,
    )?;
    let direction = &found.direction;
    let test = run.split(Split::Test)?;
    let items = match &settings.items {
        Some(items) => {
            if items.is_empty() {
                return Err(ToolkitError::setting("items", "names no item"));
            }
            for &item in items {
                check_item("items", item, test.len(), "test")?;
            }
            items.clone()
        }
        None => {
            at_least_one("count", settings.count)?;
            let labels = test.labels.as_deref().unwrap_or_default();
            let chosen: Vec<usize> = (0..labels.len())
                .filter(|&i| labels[i] == found.from.id)
                .take(settings.count)
                .collect();
            if chosen.is_empty() {
                return Err(ToolkitError::Setting {
                    name: "from_label",
                    problem: format!(
                        "'{}': no test item has that label; labels present: {}",
                        settings.from_label,
                        labels_present(labels, &test.class_names)
                    ),
                    suggestion: Some(("items", "I,J,...".into())),
                });
            }
            chosen
        }
    };
    ae_plot::check_grid(
        items.len(),
        settings.strengths.len() + 1,
        run.grid_shape(),
        settings.zoom,
    )?;
    let item_codes = run.encode_rows(&test.subset(&items), items.len())?;
    let mut moved = Vec::with_capacity(items.len() * settings.strengths.len() * latent);
    for code in item_codes.chunks(latent) {
        for s in &settings.strengths {
            moved.extend(
                code.iter()
                    .zip(direction)
                    .map(|(&z, d)| (f64::from(z) + s * d) as f32),
            );
        }
    }
    let decoded = run.decode(&moved)?;
    let rows: Vec<Vec<Vec<f32>>> = decoded
        .chunks(settings.strengths.len())
        .zip(&items)
        .map(|(row, &item)| {
            let mut cells = vec![test.input(item).to_vec()];
            cells.extend(row.iter().cloned());
            cells
        })
        .collect();
    let out = settings
        .out
        .clone()
        .unwrap_or_else(|| run.path().join("attribute.png"));
    let cols = settings.strengths.len() + 1;
    let grid = draw(run, &out, &rows, cols, settings.zoom)?;
    Ok(AttributeReport {
        run: run.path().to_path_buf(),
        picture: out,
        from_label: found.from,
        to_label: found.to,
        direction_norm: direction.iter().map(|d| d * d).sum::<f64>().sqrt(),
        items,
        strengths: settings.strengths.clone(),
        columns: "the input, then its code moved by each strength".into(),
        grid,
    })
}
