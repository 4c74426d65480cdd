//! Dimensionality reduction: `ae encode`, `ae pca`, `ae compare-pca` and `ae cluster`.

use std::collections::BTreeSet;
use std::path::PathBuf;

use ae_analysis::{
    AtomicFile, KMeans, Matrix, NpyRowWriter, Pca, Umap, UmapSettings, adjusted_rand_index,
    clustering_accuracy, normalized_mutual_information, principal_angles_degrees, write_npy_i64,
};
use ae_backend::{BackendChoice, BackendTask, run_on};
use ae_data::Dataset;
use ae_models::{Activation, AnyModel, ArchitectureConfig, ModelConfig, ReconstructionLoss};
use ae_train::data::prepare;
use ae_train::{DataConfig, DataSource, ExperimentConfig, RunDir};
use anyhow::{Context, Result, anyhow, bail};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Tensor, TensorData};
use clap::Args;

use crate::shared::{
    LoadedRun, encode_all, flat_values, print_json, score_items, stream_items, write_line,
};

/// The inputs of `data` as an `n × dim` matrix.
pub fn input_matrix(data: &Dataset) -> Result<Matrix> {
    Ok(Matrix::from_f32(
        data.len(),
        data.dim(),
        &data.inputs.to_f32(),
    )?)
}

/// The labels of `data` as class indices, if it has labels.
pub fn class_labels(data: &Dataset) -> Option<Vec<usize>> {
    data.labels
        .as_ref()
        .map(|labels| labels.iter().map(|&l| l as usize).collect())
}

/// Per-item squared error (summed over values) between the rows of two matrices.
pub fn row_squared_errors(a: &Matrix, b: &Matrix) -> Vec<f64> {
    (0..a.rows())
        .map(|i| {
            a.row(i)
                .iter()
                .zip(b.row(i))
                .map(|(x, y)| (x - y) * (x - y))
                .sum()
        })
        .collect()
}

/// The mean of `values` (0 for none).
pub fn mean(values: &[f64]) -> f64 {
    if values.is_empty() {
        0.0
    } else {
        values.iter().sum::<f64>() / values.len() as f64
    }
}

/// The codes of every item of `data`, as an `n × latent` matrix.
pub fn encode_dataset<B: Backend>(
    loaded: &LoadedRun<B>,
    data: Dataset,
    batch_size: usize,
    device: &B::Device,
) -> Result<Matrix> {
    let n = data.len();
    let latent = loaded.config.model.latent();
    let batcher = loaded.clean_batcher(data);
    let codes = encode_all(&loaded.model, &batcher, batch_size, device)?;
    Ok(Matrix::from_f32(n, latent, &codes)?)
}

// ---------------------------------------------------------------------------------------------
// ae encode

/// Arguments of `ae encode`.
#[derive(Debug, Args)]
pub struct EncodeArgs {
    /// The run folder.
    pub run: PathBuf,
    /// Which split to encode: test (default), valid or train.
    #[arg(long, default_value = "test")]
    pub split: String,
    /// Encode every item of another image folder or CSV table (read like the run's data, a
    /// chunk at a time, so it may be larger than memory) instead of a split.
    #[arg(long)]
    pub data_path: Option<PathBuf>,
    /// Output folder (default: RUN/latents-<split>, or RUN/latents-data with --data-path).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Items encoded at once (and read at once from --data-path).
    #[arg(long, default_value_t = 500)]
    pub batch_size: usize,
}

/// Runs `ae encode`.
pub fn run_encode(args: EncodeArgs, choice: BackendChoice) -> Result<()> {
    run_on(choice, EncodeTask { args })?
}

struct EncodeTask {
    args: EncodeArgs,
}

impl BackendTask for EncodeTask {
    type Output = Result<()>;
    fn run<B: AutodiffBackend>(self, device: B::Device) -> Result<()> {
        let args = self.args;
        let loaded = LoadedRun::<B::InnerBackend>::load(&args.run, &device)?;
        let source = match &args.data_path {
            Some(_) => "data".to_string(),
            None => args.split.clone(),
        };
        // Codes are written as each chunk is encoded: with --data-path, a folder or table
        // larger than memory is never held whole.
        let (items, chunks): (usize, Box<dyn Iterator<Item = Result<Dataset>>>) =
            match &args.data_path {
                None => {
                    let data = loaded.split(&args.split)?;
                    (data.len(), Box::new(std::iter::once(Ok(data))))
                }
                Some(path) => {
                    let stream = stream_items(&loaded, path, args.batch_size)?;
                    (
                        stream.len(),
                        Box::new(stream.map(|c| c.map_err(Into::into))),
                    )
                }
            };
        let out = args
            .out
            .clone()
            .unwrap_or_else(|| args.run.join(format!("latents-{source}")));
        std::fs::create_dir_all(&out)
            .with_context(|| format!("cannot create the folder {}", out.display()))?;
        let latent = loaded.config.model.latent();
        let npy = out.join("latents.npy");
        let mut npy_writer = NpyRowWriter::create(&npy, items, latent)?;
        let mut csv: Option<AtomicFile> = None;
        let mut labels: Vec<i64> = Vec::new();
        let mut labelled = false;
        for chunk in chunks {
            let chunk = chunk?;
            let chunk_labels = chunk.labels.clone();
            let codes = encode_all(
                &loaded.model,
                &loaded.clean_batcher(chunk),
                args.batch_size,
                &device,
            )?;
            npy_writer.write_rows(&codes)?;
            let csv = match &mut csv {
                Some(csv) => csv,
                None => {
                    labelled = chunk_labels.is_some();
                    let mut writer = AtomicFile::create(out.join("latents.csv"))?;
                    write_line(&mut writer, &latents_csv_header(latent, labelled))?;
                    csv.insert(writer)
                }
            };
            for (i, row) in codes.chunks(latent).enumerate() {
                let label = chunk_labels.as_ref().map(|l| l[i]);
                write_line(csv, &latents_csv_row(row, label))?;
                labels.extend(label.map(i64::from));
            }
        }
        npy_writer.finish()?;
        let mut files = vec![npy];
        if labelled {
            let path = out.join("labels.npy");
            write_npy_i64(&path, &labels)?;
            files.push(path);
        }
        if let Some(csv) = csv {
            files.push(csv.commit()?);
        }
        print_json(&serde_json::json!({
            "run": args.run,
            "split": source,
            "items": items,
            "latent": latent,
            "files": files,
        }))
    }
}

/// The header of latents.csv: `z0,…,z{latent-1}`, then `label` when there are labels.
fn latents_csv_header(latent: usize, labelled: bool) -> String {
    let mut header: Vec<String> = (0..latent).map(|j| format!("z{j}")).collect();
    if labelled {
        header.push("label".into());
    }
    header.join(",")
}

/// One row of latents.csv: the code's f32 values (written so that they read back exactly),
/// then the label if any.
fn latents_csv_row(code: &[f32], label: Option<u32>) -> String {
    let mut fields: Vec<String> = code.iter().map(|v| v.to_string()).collect();
    if let Some(label) = label {
        fields.push(label.to_string());
    }
    fields.join(",")
}

// ---------------------------------------------------------------------------------------------
// ae pca

/// Arguments of `ae pca`.
#[derive(Debug, Args)]
pub struct PcaArgs {
    /// Use the data config of this run folder.
    #[arg(long, conflicts_with_all = ["data", "data_path", "limit"])]
    pub run: Option<PathBuf>,
    /// Data source (without --run): mnist, fashion-mnist, csv, image-folder, parabola, helix.
    #[arg(long)]
    pub data: Option<String>,
    /// Datasets root (MNIST), CSV file or image folder.
    #[arg(long)]
    pub data_path: Option<PathBuf>,
    /// Fit on the first N training items only.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Numbers of components to report, comma separated.
    #[arg(long, value_delimiter = ',', default_value = "10,30")]
    pub components: Vec<usize>,
    /// Seed of the train/validation split (sources without a test split).
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
}

/// Runs `ae pca` (pure CPU: no backend needed).
pub fn run_pca(args: PcaArgs, _choice: BackendChoice) -> Result<()> {
    let (data_config, seed) = match &args.run {
        Some(run) => {
            let run = RunDir::new(run);
            if !run.config_file().exists() {
                bail!(
                    "{}: not a run folder (it has no config.toml)",
                    run.path().display()
                );
            }
            let config = ExperimentConfig::load(&run.config_file())?;
            (config.data, config.seed)
        }
        None => {
            let name = args
                .data
                .as_deref()
                .ok_or_else(|| anyhow!("give --run RUN or --data SOURCE"))?;
            let source: DataSource = serde_json::from_str(&format!("\"{name}\"")).map_err(|_| {
                anyhow!(
                    "unknown data source '{name}': expected mnist, fashion-mnist, image-folder, csv, parabola or helix"
                )
            })?;
            let mut config = DataConfig::new(source);
            config.path = args.data_path.clone();
            if args.limit == Some(0) {
                bail!("--limit must be at least 1");
            }
            config.limit = args.limit;
            (config, args.seed)
        }
    };
    if args.components.is_empty() || args.components.contains(&0) {
        bail!(
            "--components must list positive numbers, got {:?}",
            args.components
        );
    }
    let data = prepare(&data_config, seed)?;
    let max_k = args.components.iter().copied().max().unwrap_or(1);
    let dim = data.train.dim();
    if max_k > dim {
        bail!("--components {max_k} is more than the data's {dim} values per item");
    }
    let pca = Pca::fit(&input_matrix(&data.train)?, max_k)?;
    let test = input_matrix(&data.test)?;
    let ratios = pca.explained_variance_ratio();
    let mut results = Vec::new();
    for &k in &args.components {
        let k_used = k.min(pca.n_components());
        let reconstruction = pca.reconstruct_k(&test, k_used)?;
        let error = mean(&row_squared_errors(&test, &reconstruction));
        results.push(serde_json::json!({
            "components": k,
            "test_squared_error": error,
            "variance_explained": ratios[..k_used].iter().sum::<f64>(),
        }));
    }
    print_json(&serde_json::json!({
        "source": data_config.source,
        "standardized": data.standardization.is_some(),
        "train_items": data.train.len(),
        "test_items": data.test.len(),
        "dim": dim,
        "results": results,
    }))
}

// ---------------------------------------------------------------------------------------------
// ae compare-pca

/// Arguments of `ae compare-pca`.
#[derive(Debug, Args)]
pub struct ComparePcaArgs {
    /// The run folder of a linear autoencoder.
    pub run: PathBuf,
    /// Items scored at once.
    #[arg(long, default_value_t = 500)]
    pub batch_size: usize,
}

/// Runs `ae compare-pca`.
pub fn run_comparepca(args: ComparePcaArgs, choice: BackendChoice) -> Result<()> {
    run_on(choice, ComparePcaTask { args })?
}

struct ComparePcaTask {
    args: ComparePcaArgs,
}

/// Why `model` is not a linear autoencoder, or `None` when it is one.
fn why_not_linear(model: &ModelConfig) -> Option<String> {
    let ModelConfig::Autoencoder(config) = model else {
        return Some(format!(
            "it trained a {}, but compare-pca needs a plain autoencoder",
            model.name()
        ));
    };
    match &config.architecture {
        ArchitectureConfig::Mlp { hidden, activation } => {
            if !hidden.is_empty() && *activation != Activation::None {
                return Some(format!(
                    "its MLP has hidden layers {hidden:?} with activation {activation:?}: a linear autoencoder has no hidden layers or activation \"none\""
                ));
            }
        }
        ArchitectureConfig::Conv { .. } => {
            return Some("it is convolutional: a linear autoencoder is an MLP".into());
        }
    }
    if config.loss != ReconstructionLoss::SquaredError {
        return Some(
            "its loss is bce, whose sigmoid output is not linear: train with loss = \"squared-error\""
                .into(),
        );
    }
    None
}

/// The effective `[latent, dim]` matrix of a linear decoder: decode(I) − decode(0).
fn linear_decoder_rows<B: Backend>(
    model: &AnyModel<B>,
    latent: usize,
    device: &B::Device,
) -> Result<Matrix> {
    let mut identity = vec![0f32; latent * latent];
    for i in 0..latent {
        identity[i * latent + i] = 1.0;
    }
    let eye = Tensor::<B, 2>::from_data(TensorData::new(identity, [latent, latent]), device);
    let zero = Tensor::<B, 2>::zeros([1, latent], device);
    let basis = flat_values(model.decode(eye))?;
    let offset = flat_values(model.decode(zero))?;
    let dim = offset.len();
    let rows: Vec<f32> = basis
        .chunks(dim)
        .flat_map(|row| row.iter().zip(&offset).map(|(a, b)| a - b))
        .collect();
    Ok(Matrix::from_f32(latent, dim, &rows)?)
}

impl BackendTask for ComparePcaTask {
    type Output = Result<()>;
    fn run<B: AutodiffBackend>(self, device: B::Device) -> Result<()> {
        let args = self.args;
        let loaded = LoadedRun::<B::InnerBackend>::load(&args.run, &device)?;
        if let Some(reason) = why_not_linear(&loaded.config.model) {
            bail!(
                "{} is not a linear autoencoder: {reason}",
                args.run.display()
            );
        }
        let latent = loaded.config.model.latent();
        let test = loaded.split("test")?;
        let dim = test.dim();
        if latent > dim {
            bail!("the code ({latent}) is wider than the data ({dim} values): nothing to compare");
        }
        let batcher = loaded.clean_batcher(test.clone());
        let scores = score_items(&loaded.model, &batcher, args.batch_size, &device)?;
        let ae_error = mean(&scores.squared_error);
        let pca = Pca::fit(&input_matrix(&loaded.data.train)?, latent)?;
        let test_matrix = input_matrix(&test)?;
        let k = latent.min(pca.n_components());
        let reconstruction = pca.reconstruct_k(&test_matrix, k)?;
        let pca_error = mean(&row_squared_errors(&test_matrix, &reconstruction));
        let decoder = linear_decoder_rows(&loaded.model, latent, &device)?;
        let angles =
            principal_angles_degrees(&decoder.transpose(), &pca.components.leading_columns(k))?;
        let largest = angles.iter().copied().fold(0.0f64, f64::max);
        print_json(&serde_json::json!({
            "run": args.run,
            "latent": latent,
            "test_items": test.len(),
            "autoencoder_test_squared_error": ae_error,
            "pca_test_squared_error": pca_error,
            "ratio": ae_error / pca_error,
            "principal_angles_degrees": angles,
            "largest_angle_degrees": largest,
            "mean_angle_degrees": mean(&angles),
        }))
    }
}

// ---------------------------------------------------------------------------------------------
// ae cluster

/// Arguments of `ae cluster`.
#[derive(Debug, Args)]
pub struct ClusterArgs {
    /// The run folder.
    pub run: PathBuf,
    /// Which split to cluster: test (default), valid or train.
    #[arg(long, default_value = "test")]
    pub split: String,
    /// Number of clusters (default: the number of classes, else 10).
    #[arg(long)]
    pub k: Option<usize>,
    /// k-means restarts (the lowest inertia wins).
    #[arg(long, default_value_t = 10)]
    pub restarts: usize,
    /// Seed of the k-means initialization.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Items encoded at once.
    #[arg(long, default_value_t = 500)]
    pub batch_size: usize,
    /// Output PNG (default: RUN/cluster-<split>.png).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Also run k-means on a UMAP embedding of the code and of the PCA points (the N2D
    /// recipe), and draw the code's 2-D UMAP beside the cluster picture (umap-<split>.png).
    #[arg(long)]
    pub umap: bool,
    /// Dimensions of the UMAP embedding that is clustered (default: the number of clusters).
    #[arg(long, requires = "umap")]
    pub umap_dims: Option<usize>,
    /// Neighbours per item in UMAP's graph.
    #[arg(long, default_value_t = 20, requires = "umap")]
    pub umap_neighbors: usize,
    /// UMAP's min_dist, in [0, 1): 0 packs each cluster tightest.
    #[arg(long, default_value_t = 0.0, requires = "umap")]
    pub umap_min_dist: f64,
    /// UMAP's optimization epochs (default: 500 up to 10,000 items, else 200).
    #[arg(long, requires = "umap")]
    pub umap_epochs: Option<usize>,
}

impl ClusterArgs {
    /// UMAP settings for an embedding of `components` dimensions.
    fn umap_settings(&self, components: usize) -> UmapSettings {
        UmapSettings {
            neighbors: self.umap_neighbors,
            components,
            min_dist: self.umap_min_dist,
            epochs: self.umap_epochs,
            seed: self.seed,
            ..UmapSettings::default()
        }
    }

    /// Checks the UMAP flags against a split of `items` items.
    fn check_umap(&self, items: usize) -> Result<()> {
        if self.umap_neighbors < 2 {
            bail!("--umap-neighbors must be at least 2");
        }
        if items <= self.umap_neighbors {
            bail!(
                "--umap-neighbors {} needs more items than that; the {} split has {items}",
                self.umap_neighbors,
                self.split
            );
        }
        if self.umap_dims == Some(0) {
            bail!("--umap-dims must be at least 1");
        }
        if !(0.0..1.0).contains(&self.umap_min_dist) {
            bail!(
                "--umap-min-dist must be in [0, 1), got {}",
                self.umap_min_dist
            );
        }
        if self.umap_epochs == Some(0) {
            bail!("--umap-epochs must be at least 1");
        }
        Ok(())
    }
}

/// Embeds `points` with UMAP and clusters the embedding: the [`cluster_report`] plus the UMAP
/// settings used. Returns the report and the embedding.
fn umap_cluster_report(
    points: &Matrix,
    settings: &UmapSettings,
    labels: Option<&[usize]>,
    k: usize,
    restarts: usize,
    what: &str,
) -> Result<(serde_json::Value, Matrix)> {
    eprintln!(
        "UMAP of the {what} ({} items, {} neighbours, {} dimensions)...",
        points.rows(),
        settings.neighbors,
        settings.components
    );
    let umap = Umap::fit(points, settings).with_context(|| format!("UMAP of the {what}"))?;
    let mut report = cluster_report(&umap.embedding, labels, k, settings.seed, restarts)?;
    report["input_dim"] = points.cols().into();
    report["neighbors"] = settings.neighbors.into();
    report["min_dist"] = settings.min_dist.into();
    report["epochs"] = umap.epochs.into();
    report["graph_edges"] = umap.edges.into();
    Ok((report, umap.embedding))
}

/// Runs `ae cluster`.
pub fn run_cluster(args: ClusterArgs, choice: BackendChoice) -> Result<()> {
    run_on(choice, ClusterTask { args })?
}

struct ClusterTask {
    args: ClusterArgs,
}

/// The number of classes of `data`: its class names, else its distinct labels.
fn class_count(data: &Dataset) -> Option<usize> {
    if !data.class_names.is_empty() {
        return Some(data.class_names.len());
    }
    data.labels
        .as_ref()
        .map(|labels| labels.iter().collect::<BTreeSet<_>>().len())
}

/// Codes as points of a plane for a scatter plot: themselves when 1- or 2-D, else their first
/// two principal components.
pub(crate) fn latent_plane(latents: &Matrix) -> Result<Vec<(f64, f64)>> {
    Ok(match latents.cols() {
        1 => (0..latents.rows())
            .map(|i| (latents.get(i, 0), 0.0))
            .collect(),
        2 => (0..latents.rows())
            .map(|i| (latents.get(i, 0), latents.get(i, 1)))
            .collect(),
        _ => {
            let projected = Pca::fit(latents, 2)?.transform_k(latents, 2)?;
            (0..projected.rows())
                .map(|i| (projected.get(i, 0), projected.get(i, 1)))
                .collect()
        }
    })
}

/// k-means on `points` and, with labels, accuracy, NMI and ARI.
pub(crate) fn cluster_report(
    points: &Matrix,
    labels: Option<&[usize]>,
    k: usize,
    seed: u64,
    restarts: usize,
) -> Result<serde_json::Value> {
    let kmeans = KMeans::fit(points, k, seed, restarts, 300)?;
    let mut report = serde_json::json!({
        "dim": points.cols(),
        "inertia": kmeans.inertia,
    });
    if let Some(labels) = labels {
        let agreement = label_agreement(labels, &kmeans.assignments)?;
        for key in ["accuracy", "nmi", "ari"] {
            report[key] = agreement[key].clone();
        }
    }
    Ok(report)
}

/// Accuracy (Hungarian matching), NMI and ARI of `clusters` against `labels`.
pub(crate) fn label_agreement(labels: &[usize], clusters: &[usize]) -> Result<serde_json::Value> {
    Ok(serde_json::json!({
        "accuracy": clustering_accuracy(labels, clusters)?,
        "nmi": normalized_mutual_information(labels, clusters)?,
        "ari": adjusted_rand_index(labels, clusters)?,
    }))
}

/// The number of clusters: `requested`, else the classes of `data`, else 10; at least 1 and no
/// more than the items of `data` (the split called `split`).
pub(crate) fn cluster_count(
    requested: Option<usize>,
    data: &Dataset,
    split: &str,
) -> Result<usize> {
    let k = match requested {
        Some(0) => bail!("--k must be at least 1"),
        Some(k) => k,
        None => class_count(data).unwrap_or(10),
    };
    if data.len() < k {
        bail!(
            "the {split} split has {} items, fewer than k = {k}",
            data.len()
        );
    }
    Ok(k)
}

impl BackendTask for ClusterTask {
    type Output = Result<()>;
    fn run<B: AutodiffBackend>(self, device: B::Device) -> Result<()> {
        let args = self.args;
        let loaded = LoadedRun::<B::InnerBackend>::load(&args.run, &device)?;
        let data = loaded.split(&args.split)?;
        let k = cluster_count(args.k, &data, &args.split)?;
        if args.umap {
            args.check_umap(data.len())?;
        }
        let labels = class_labels(&data);
        let inputs = input_matrix(&data)?;
        let latents = encode_dataset(&loaded, data.clone(), args.batch_size, &device)?;
        let latent = latents.cols();
        let pca_dim = latent.min(data.dim());
        let pca = Pca::fit(&input_matrix(&loaded.data.train)?, pca_dim)?;
        let pca_points = pca.transform_k(&inputs, pca_dim.min(pca.n_components()))?;
        let latent_report =
            cluster_report(&latents, labels.as_deref(), k, args.seed, args.restarts)?;
        let pca_report =
            cluster_report(&pca_points, labels.as_deref(), k, args.seed, args.restarts)?;

        let plane = latent_plane(&latents)?;
        let picture = args
            .out
            .clone()
            .unwrap_or_else(|| args.run.join(format!("cluster-{}.png", args.split)));
        let names = (!data.class_names.is_empty()).then_some(data.class_names.as_slice());
        let title = if latent == 2 {
            format!("Latent space ({} split)", args.split)
        } else {
            format!(
                "Latent space, first two principal components ({} split)",
                args.split
            )
        };
        ae_plot::scatter_by_label(&picture, &title, &plane, labels.as_deref(), names)?;
        let mut report = serde_json::json!({
            "run": args.run,
            "split": args.split,
            "items": data.len(),
            "k": k,
            "latent": latent_report,
            "pca": pca_report,
            "picture": picture,
        });
        if args.umap {
            let settings = args.umap_settings(args.umap_dims.unwrap_or(k));
            let (latent_umap, embedding) = umap_cluster_report(
                &latents,
                &settings,
                labels.as_deref(),
                k,
                args.restarts,
                "code",
            )?;
            let (pca_umap, _) = umap_cluster_report(
                &pca_points,
                &settings,
                labels.as_deref(),
                k,
                args.restarts,
                "PCA points",
            )?;
            let plane_embedding = if settings.components == 2 {
                embedding
            } else {
                eprintln!("UMAP of the code in 2 dimensions for the picture...");
                Umap::fit(&latents, &args.umap_settings(2))?.embedding
            };
            let umap_picture = picture
                .parent()
                .unwrap_or(std::path::Path::new("."))
                .join(format!("umap-{}.png", args.split));
            ae_plot::scatter_by_label(
                &umap_picture,
                &format!("UMAP of the code ({} split)", args.split),
                &latent_plane(&plane_embedding)?,
                labels.as_deref(),
                names,
            )?;
            report["latent_umap"] = latent_umap;
            report["pca_umap"] = pca_umap;
            report["umap_picture"] = serde_json::json!(umap_picture);
        }
        print_json(&report)
    }
}
