//! Clustering in the latent space (`ae cluster`): k-means on the code and on PCA points, and
//! on UMAP embeddings of each (the N2D recipe), against the labels.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ae_analysis::{
    KMeans, Matrix, Pca, Umap, UmapSettings, adjusted_rand_index, clustering_accuracy,
    normalized_mutual_information,
};
use ae_data::Dataset;
use ae_train::Reporter;
use burn::tensor::backend::Backend;
use serde::Serialize;

use crate::error::{Result, ToolkitError};
use crate::run::{Split, TrainedRun};
use crate::tensors::{class_labels, input_matrix};

/// How to cluster.
#[derive(Debug, Clone)]
pub struct ClusterSettings {
    /// The split clustered.
    pub split: Split,
    /// Number of clusters (default: the number of classes, else 10).
    pub k: Option<usize>,
    /// k-means restarts (the lowest inertia wins).
    pub restarts: usize,
    /// Seed of the k-means initialization (and of UMAP).
    pub seed: u64,
    /// Items encoded at once.
    pub batch_size: usize,
    /// The scatter picture (default: `RUN/cluster-<split>.png`).
    pub out: Option<PathBuf>,
    /// Also cluster UMAP embeddings of the code and of the PCA points, and draw the code's
    /// 2-D UMAP (`umap-<split>.png` beside the scatter picture).
    pub umap: Option<UmapClusterSettings>,
}

impl Default for ClusterSettings {
    fn default() -> Self {
        Self {
            split: Split::Test,
            k: None,
            restarts: 10,
            seed: 0,
            batch_size: 500,
            out: None,
            umap: None,
        }
    }
}

/// The UMAP part of [`ClusterSettings`].
#[derive(Debug, Clone, PartialEq)]
pub struct UmapClusterSettings {
    /// Dimensions of the embedding that is clustered (default: the number of clusters).
    pub umap_dims: Option<usize>,
    /// Neighbours per item in UMAP's graph.
    pub umap_neighbors: usize,
    /// UMAP's min_dist, in [0, 1): 0 packs each cluster tightest.
    pub umap_min_dist: f64,
    /// Optimization epochs (default: 500 up to 10,000 items, else 200).
    pub umap_epochs: Option<usize>,
}

impl Default for UmapClusterSettings {
    fn default() -> Self {
        Self {
            umap_dims: None,
            umap_neighbors: 20,
            umap_min_dist: 0.0,
            umap_epochs: None,
        }
    }
}

impl UmapClusterSettings {
    fn settings(&self, components: usize, seed: u64) -> UmapSettings {
        UmapSettings {
            neighbors: self.umap_neighbors,
            components,
            min_dist: self.umap_min_dist,
            epochs: self.umap_epochs,
            seed,
            ..UmapSettings::default()
        }
    }

    /// Checks the settings against a split of `items` items.
    pub fn check(&self, items: usize, split: Split) -> Result<()> {
        if self.umap_neighbors < 2 {
            return Err(ToolkitError::setting(
                "umap_neighbors",
                "must be at least 2",
            ));
        }
        if items <= self.umap_neighbors {
            return Err(ToolkitError::setting(
                "umap_neighbors",
                format!(
                    "{} needs more items than that; the {split} split has {items}",
                    self.umap_neighbors
                ),
            ));
        }
        if self.umap_dims == Some(0) {
            return Err(ToolkitError::setting("umap_dims", "must be at least 1"));
        }
        if !(0.0..1.0).contains(&self.umap_min_dist) {
            return Err(ToolkitError::setting(
                "umap_min_dist",
                format!("must be in [0, 1), got {}", self.umap_min_dist),
            ));
        }
        if self.umap_epochs == Some(0) {
            return Err(ToolkitError::setting("umap_epochs", "must be at least 1"));
        }
        Ok(())
    }
}

/// k-means on some points, and how well its clusters agree with the labels.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClusterStats {
    /// Dimensions of the points clustered.
    pub dim: usize,
    /// k-means inertia (sum of squared distances to the centres).
    pub inertia: f64,
    /// Accuracy, NMI and ARI against the labels, when the items have labels.
    #[serde(flatten)]
    pub agreement: Option<LabelAgreement>,
    /// For a UMAP embedding: the dimensions of what was embedded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input_dim: Option<usize>,
    /// For a UMAP embedding: neighbours per item.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub neighbors: Option<usize>,
    /// For a UMAP embedding: min_dist.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_dist: Option<f64>,
    /// For a UMAP embedding: optimization epochs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub epochs: Option<usize>,
    /// For a UMAP embedding: edges of the fuzzy graph.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub graph_edges: Option<usize>,
}

/// Accuracy (Hungarian matching), NMI and ARI of clusters against labels.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LabelAgreement {
    /// Clustering accuracy under the best matching of clusters to labels.
    pub accuracy: f64,
    /// Normalized mutual information.
    pub nmi: f64,
    /// Adjusted Rand index.
    pub ari: f64,
}

/// Accuracy (Hungarian matching), NMI and ARI of `clusters` against `labels`.
pub fn label_agreement(labels: &[usize], clusters: &[usize]) -> Result<LabelAgreement> {
    Ok(LabelAgreement {
        accuracy: clustering_accuracy(labels, clusters)?,
        nmi: normalized_mutual_information(labels, clusters)?,
        ari: adjusted_rand_index(labels, clusters)?,
    })
}

/// k-means on `points` and, with labels, accuracy, NMI and ARI; restarts done go to `reporter`.
pub fn kmeans_stats(
    points: &Matrix,
    labels: Option<&[usize]>,
    k: usize,
    seed: u64,
    restarts: usize,
    reporter: &Reporter,
) -> Result<ClusterStats> {
    let stages = reporter.stages(Duration::from_secs(10));
    let kmeans = KMeans::fit_with_progress(points, k, seed, restarts, 300, &|s, d, n| {
        stages.update(s, d, n)
    })?;
    Ok(ClusterStats {
        dim: points.cols(),
        inertia: kmeans.inertia,
        agreement: labels
            .map(|labels| label_agreement(labels, &kmeans.assignments))
            .transpose()?,
        input_dim: None,
        neighbors: None,
        min_dist: None,
        epochs: None,
        graph_edges: None,
    })
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

/// The number of clusters: `requested`, else the classes of `data`, else 10; at least 1 and
/// no more than the items of `data` (the split called `split`).
pub fn cluster_count(requested: Option<usize>, data: &Dataset, split: Split) -> Result<usize> {
    let k = match requested {
        Some(0) => return Err(ToolkitError::setting("k", "must be at least 1")),
        Some(k) => k,
        None => class_count(data).unwrap_or(10),
    };
    if data.len() < k {
        return Err(ToolkitError::Unsupported(format!(
            "the {split} split has {} items, fewer than k = {k}",
            data.len()
        )));
    }
    Ok(k)
}

/// Codes as points of a plane for a scatter plot: themselves when 1- or 2-D, else their first
/// two principal components.
pub fn latent_plane(latents: &Matrix) -> Result<Vec<(f64, f64)>> {
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

/// What [`cluster`] reports.
#[derive(Debug, Clone, Serialize)]
pub struct ClusterReport {
    /// The run folder.
    #[serde(serialize_with = "crate::paths::lossy")]
    pub run: PathBuf,
    /// The split clustered.
    pub split: Split,
    /// Items clustered.
    pub items: usize,
    /// Number of clusters.
    pub k: usize,
    /// k-means on the code.
    pub latent: ClusterStats,
    /// k-means on the PCA points (as many components as the code has dimensions).
    pub pca: ClusterStats,
    /// The scatter picture of the code.
    #[serde(serialize_with = "crate::paths::lossy")]
    pub picture: PathBuf,
    /// k-means on a UMAP embedding of the code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latent_umap: Option<ClusterStats>,
    /// k-means on a UMAP embedding of the PCA points.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pca_umap: Option<ClusterStats>,
    /// The 2-D UMAP picture of the code.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "crate::paths::lossy_option"
    )]
    pub umap_picture: Option<PathBuf>,
}

/// Embeds `points` with UMAP and clusters the embedding; returns the stats and the embedding.
fn umap_stats(
    points: &Matrix,
    settings: &UmapSettings,
    labels: Option<&[usize]>,
    k: usize,
    restarts: usize,
    what: &str,
    reporter: &Reporter,
) -> Result<(ClusterStats, Matrix)> {
    reporter.notice(format!(
        "UMAP of the {what} ({} items, {} neighbours, {} dimensions)...",
        points.rows(),
        settings.neighbors,
        settings.components
    ));
    let stages = reporter.stages(Duration::from_secs(5));
    let umap = Umap::fit_with_progress(points, settings, &|stage, done, total| {
        stages.update(stage, done, total)
    })?;
    let mut stats = kmeans_stats(
        &umap.embedding,
        labels,
        k,
        settings.seed,
        restarts,
        reporter,
    )?;
    stats.input_dim = Some(points.cols());
    stats.neighbors = Some(settings.neighbors);
    stats.min_dist = Some(settings.min_dist);
    stats.epochs = Some(umap.epochs);
    stats.graph_edges = Some(umap.edges);
    Ok((stats, umap.embedding))
}

/// Clusters a split's codes with k-means, beside k-means on PCA points of the same
/// dimension, and draws the code (its first two principal components when wider).
pub fn cluster<B: Backend>(
    run: &TrainedRun<B>,
    settings: &ClusterSettings,
    reporter: &Reporter,
) -> Result<ClusterReport> {
    let split = settings.split;
    let data = run.split(split)?;
    let k = cluster_count(settings.k, &data, split)?;
    if let Some(umap) = &settings.umap {
        umap.check(data.len(), split)?;
    }
    let labels = class_labels(&data);
    let inputs = input_matrix(&data)?;
    let latents = run.encode(&data, settings.batch_size)?;
    let latent = latents.cols();
    let pca_dim = latent.min(data.dim());
    let pca = Pca::fit(&input_matrix(&run.data()?.train)?, pca_dim)?;
    let pca_points = pca.transform_k(&inputs, pca_dim.min(pca.n_components()))?;
    let latent_stats = kmeans_stats(
        &latents,
        labels.as_deref(),
        k,
        settings.seed,
        settings.restarts,
        reporter,
    )?;
    let pca_stats = kmeans_stats(
        &pca_points,
        labels.as_deref(),
        k,
        settings.seed,
        settings.restarts,
        reporter,
    )?;
    let plane = latent_plane(&latents)?;
    let picture = settings
        .out
        .clone()
        .unwrap_or_else(|| run.path().join(format!("cluster-{split}.png")));
    let names = (!data.class_names.is_empty()).then_some(data.class_names.as_slice());
    let title = if latent == 2 {
        format!("Latent space ({split} split)")
    } else {
        format!("Latent space, first two principal components ({split} split)")
    };
    ae_plot::scatter_by_label(&picture, &title, &plane, labels.as_deref(), names)?;
    let mut report = ClusterReport {
        run: run.path().to_path_buf(),
        split,
        items: data.len(),
        k,
        latent: latent_stats,
        pca: pca_stats,
        picture: picture.clone(),
        latent_umap: None,
        pca_umap: None,
        umap_picture: None,
    };
    if let Some(umap) = &settings.umap {
        let umap_settings = umap.settings(umap.umap_dims.unwrap_or(k), settings.seed);
        let (latent_umap, embedding) = umap_stats(
            &latents,
            &umap_settings,
            labels.as_deref(),
            k,
            settings.restarts,
            "code",
            reporter,
        )?;
        let (pca_umap, _) = umap_stats(
            &pca_points,
            &umap_settings,
            labels.as_deref(),
            k,
            settings.restarts,
            "PCA points",
            reporter,
        )?;
        let plane_embedding = if umap_settings.components == 2 {
            embedding
        } else {
            reporter.notice("UMAP of the code in 2 dimensions for the picture...");
            let stages = reporter.stages(Duration::from_secs(5));
            Umap::fit_with_progress(&latents, &umap.settings(2, settings.seed), &|s, d, n| {
                stages.update(s, d, n)
            })?
            .embedding
        };
        let umap_picture = picture
            .parent()
            .unwrap_or(Path::new("."))
            .join(format!("umap-{split}.png"));
        ae_plot::scatter_by_label(
            &umap_picture,
            &format!("UMAP of the code ({split} split)"),
            &latent_plane(&plane_embedding)?,
            labels.as_deref(),
            names,
        )?;
        report.latent_umap = Some(latent_umap);
        report.pca_umap = Some(pca_umap);
        report.umap_picture = Some(umap_picture);
    }
    Ok(report)
}
