//! `ae dec`: deep embedded clustering. Fine-tunes a trained run's encoder together with
//! k-means-initialized cluster centres (DEC; IDEC with a reconstruction weight) and writes the
//! result as a new run, so that `ae cluster`, `ae encode` and the rest work on it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ae_analysis::{KMeans, Matrix, clustering_accuracy, write_npy_f32};
use ae_backend::{BackendChoice, BackendTask, run_on};
use ae_train::RunDir;
use ae_train::deep_clustering::{
    ClusteringModel, DecSettings, DecUpdate, assign_all, hard_assignments, refine,
};
use ae_train::run_dir::write_atomic;
use ae_train::trainer::save_model;
use anyhow::{Context, Result, bail};
use burn::module::AutodiffModule;
use burn::tensor::backend::AutodiffBackend;
use clap::Args;

use crate::reduce::{class_labels, cluster_count, cluster_report, label_agreement, latent_plane};
use crate::shared::{LoadedRun, encode_all, flat_values, print_json};

/// Arguments of `ae dec`.
#[derive(Debug, Args)]
pub struct DecArgs {
    /// The trained run to start from (an autoencoder or VAE; a VAE's posterior mean is its code).
    pub run: PathBuf,
    /// The new run folder (default: RUN-dec beside RUN).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Number of clusters (default: the number of classes, else 10).
    #[arg(long)]
    pub k: Option<usize>,
    /// Split whose clustering is reported; the refinement itself trains on the train split.
    #[arg(long, default_value = "test")]
    pub split: String,
    /// k-means restarts for the initial centres (the lowest inertia wins).
    #[arg(long, default_value_t = 20)]
    pub restarts: usize,
    /// Adam's learning rate.
    #[arg(long, default_value_t = 1e-3)]
    pub learning_rate: f64,
    /// Items per optimizer step.
    #[arg(long, default_value_t = 256)]
    pub batch_size: usize,
    /// Steps between recomputations of the target distribution.
    #[arg(long, default_value_t = 140)]
    pub update_interval: usize,
    /// Stop when fewer than this fraction of training items change cluster between updates.
    #[arg(long, default_value_t = 0.001)]
    pub tolerance: f64,
    /// Stop after this many steps in any case.
    #[arg(long, default_value_t = 20_000)]
    pub max_iterations: usize,
    /// Weight of the mean per-value reconstruction loss: 0 is DEC; a positive weight is IDEC,
    /// which keeps the decoder and so the code's local structure (10 with a squared-error
    /// model matches IDEC's γ = 0.1, and clustered MNIST better than DEC in docs/results.md).
    #[arg(long, default_value_t = 0.0)]
    pub reconstruction_weight: f64,
    /// Seed of the k-means initialization and of the batch order.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

/// Runs `ae dec`.
pub fn run_dec(args: DecArgs, choice: BackendChoice) -> Result<()> {
    run_on(choice, DecTask { args })?
}

struct DecTask {
    args: DecArgs,
}

/// The default output folder: `RUN-dec` beside `RUN`.
fn default_out(run: &Path) -> PathBuf {
    let name = run
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "run".into());
    run.with_file_name(format!("{name}-dec"))
}

/// Writes the files of a run folder at `out`: the source run's config (with a note), model
/// config and standardization, then the refined model.
fn write_run<B: burn::tensor::backend::Backend>(
    source: &RunDir,
    out: &RunDir,
    model: &ae_models::AnyModel<B>,
) -> Result<()> {
    out.create()?;
    let config = std::fs::read_to_string(source.config_file())
        .with_context(|| format!("reading {}", source.config_file().display()))?;
    let note = format!(
        "# Fine-tuned by `ae dec` from {}: the encoder was trained further with cluster\n\
         # centres (centres.npy); dec.json holds the settings and results.\n",
        source.path().display()
    );
    write_atomic(&out.config_file(), format!("{note}{config}").as_bytes())?;
    for (from, to) in [
        (source.model_config_file(), out.model_config_file()),
        (source.standardization_file(), out.standardization_file()),
    ] {
        if from.exists() {
            let bytes =
                std::fs::read(&from).with_context(|| format!("reading {}", from.display()))?;
            write_atomic(&to, &bytes)?;
        }
    }
    save_model(model, out)?;
    Ok(())
}

impl BackendTask for DecTask {
    type Output = Result<()>;
    fn run<B: AutodiffBackend>(self, device: B::Device) -> Result<()> {
        let args = self.args;
        let out = args.out.clone().unwrap_or_else(|| default_out(&args.run));
        if let (Ok(a), Ok(b)) = (out.canonicalize(), args.run.canonicalize())
            && a == b
        {
            bail!(
                "--out {} is the source run itself; choose another folder",
                out.display()
            );
        }
        let settings = DecSettings {
            learning_rate: args.learning_rate,
            batch_size: args.batch_size,
            update_interval: args.update_interval,
            tolerance: args.tolerance,
            max_iterations: args.max_iterations,
            reconstruction_weight: args.reconstruction_weight,
            seed: args.seed,
        };
        settings.validate()?;
        if args.restarts == 0 {
            bail!("--restarts must be at least 1");
        }
        let loaded = LoadedRun::<B>::load(&args.run, &device)?;
        let train = loaded.split("train")?;
        let evaluated = loaded.split(&args.split)?;
        let k = cluster_count(args.k, &train, "train")?;
        let latent = loaded.config.model.latent();
        let inner = loaded.model.valid();

        // Initial centres: k-means on the training codes.
        eprintln!("dec: encoding {} training items", train.len());
        let train_codes = encode_all(&inner, &loaded.clean_batcher(train.clone()), 1000, &device)?;
        let kmeans = KMeans::fit(
            &Matrix::from_f32(train.len(), latent, &train_codes)?,
            k,
            args.seed,
            args.restarts,
            300,
        )?;
        let centres: Vec<f32> = kmeans.centroids.data().iter().map(|&c| c as f32).collect();
        let train_labels = class_labels(&train);
        let evaluated_labels = class_labels(&evaluated);
        let evaluated_codes = encode_all(
            &inner,
            &loaded.clean_batcher(evaluated.clone()),
            1000,
            &device,
        )?;
        let before = cluster_report(
            &Matrix::from_f32(evaluated.len(), latent, &evaluated_codes)?,
            evaluated_labels.as_deref(),
            k,
            args.seed,
            10,
        )?;

        let clustering = ClusteringModel::new(loaded.model.clone(), &centres, k, &device)?;
        let mut history = Vec::new();
        let mut report = |update: &DecUpdate| {
            let accuracy = train_labels
                .as_deref()
                .and_then(|labels| clustering_accuracy(labels, &update.assignments).ok());
            let accuracy_text = accuracy
                .map(|a| format!("  train accuracy {a:.4}"))
                .unwrap_or_default();
            eprintln!(
                "dec step {:>6}/{}  KL {:.5}  reconstruction {:.5}  changed {:.3}%{accuracy_text}",
                update.iteration,
                settings.max_iterations,
                update.clustering_loss,
                update.reconstruction_loss,
                100.0 * update.changed_fraction,
            );
            history.push(serde_json::json!({
                "iteration": update.iteration,
                "clustering_loss": update.clustering_loss,
                "reconstruction_loss": update.reconstruction_loss,
                "changed_fraction": update.changed_fraction,
                "train_accuracy": accuracy,
            }));
        };
        let outcome = refine(clustering, Arc::new(train), &settings, &device, &mut report)?;

        let refined = &outcome.model;
        let method = if settings.reconstruction_weight > 0.0 {
            "IDEC"
        } else {
            "DEC"
        };
        let batcher = loaded.clean_batcher(evaluated.clone());
        let q = assign_all(refined, &batcher, 1000, &device)?;
        let clusters = hard_assignments(&q, k);
        let refined_codes = Matrix::from_f32(
            evaluated.len(),
            latent,
            &encode_all(&refined.model, &batcher, 1000, &device)?,
        )?;
        let after_kmeans = cluster_report(
            &refined_codes,
            evaluated_labels.as_deref(),
            k,
            args.seed,
            10,
        )?;
        let mut sizes = vec![0usize; k];
        for &c in &clusters {
            sizes[c] += 1;
        }
        let mut after = match evaluated_labels.as_deref() {
            Some(labels) => label_agreement(labels, &clusters)?,
            None => serde_json::json!({}),
        };
        after["cluster_sizes"] = serde_json::json!(sizes);

        let out_run = RunDir::new(&out);
        write_run(&loaded.run, &out_run, &refined.model)?;
        // The refined code, coloured by label (by cluster when the data has no labels).
        let picture = out.join(format!("dec-{}.png", args.split));
        let (colours, names) = match evaluated_labels.as_deref() {
            Some(labels) => (
                labels.to_vec(),
                (!evaluated.class_names.is_empty()).then_some(evaluated.class_names.as_slice()),
            ),
            None => (clusters.clone(), None),
        };
        ae_plot::scatter_by_label(
            &picture,
            &format!("Code after {method} ({} split)", args.split),
            &latent_plane(&refined_codes)?,
            Some(&colours),
            names,
        )?;
        let centre_values = flat_values(refined.centres.val())?;
        write_npy_f32(out.join("centres.npy"), k, latent, &centre_values)?;
        let summary = serde_json::json!({
            "source_run": args.run,
            "run": out,
            "split": args.split,
            "items": evaluated.len(),
            "k": k,
            "method": method,
            "picture": picture,
            "settings": settings,
            "iterations": outcome.iterations,
            "converged": outcome.converged,
            "before": before,
            "after": after,
            "after_kmeans": after_kmeans,
            "history": history,
        });
        write_atomic(
            &out.join("dec.json"),
            serde_json::to_string_pretty(&summary)?.as_bytes(),
        )?;
        let mut printed = summary;
        if let Some(object) = printed.as_object_mut() {
            object.remove("history");
        }
        print_json(&printed)
    }
}
