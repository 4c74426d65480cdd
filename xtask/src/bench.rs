//! `cargo xtask bench`: criterion's backend comparison, then whole-epoch throughput of the
//! reference models through the real harness (`ae train`, `ae eval`), optionally side by
//! side with the same models in PyTorch, printed as a table and saved as JSON.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use clap::Args;
use serde_json::{Value, json};

use crate::{ae, capture_stdout, cargo, run_command};

/// The reference models, by the names ae-benches gives them.
const MODELS: [&str; 3] = ["mlp-vae", "deep-ae", "conv-ae"];

/// Arguments of `cargo xtask bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Cargo features of ae-benches for criterion: extra backends, e.g. `flex,wgpu`, or
    /// `openblas` (ndarray with the system OpenBLAS).
    #[arg(long, value_name = "F")]
    pub features: Option<String>,
    /// Skip the criterion benchmarks.
    #[arg(long)]
    pub skip_criterion: bool,
    /// Skip the whole-epoch throughput table.
    #[arg(long)]
    pub skip_epochs: bool,
    /// Also run the same models in PyTorch (benches/pytorch/bench.py), alternating with ours.
    #[arg(long)]
    pub pytorch: bool,
    /// The Python with torch for --pytorch (default: $AE_BENCH_PYTHON, else python3).
    #[arg(long, value_name = "PATH")]
    pub python: Option<PathBuf>,
    /// Models of the epoch table, comma separated.
    #[arg(long, value_delimiter = ',', default_values_t = MODELS.map(String::from))]
    pub models: Vec<String>,
    /// Backends of the epoch table, comma separated (each must be compiled into `ae`);
    /// `flex+burn` is flex with burn's own operations (`AE_KERNELS=burn`) instead of our
    /// kernels (convolutions, loss, AdamW), for a before/after in one sitting.
    #[arg(long, value_delimiter = ',', default_values_t = ["flex".to_string()])]
    pub backends: Vec<String>,
    /// Cargo features to build `ae` with (default: those of --backends); naming the test
    /// command's `ae-cli/flex,ae-cli/wgpu` reuses its build.
    #[arg(long, value_name = "F")]
    pub ae_features: Option<String>,
    /// Training images per epoch (default: all 60,000 MNIST training images but a 1%
    /// validation hold-out).
    #[arg(long)]
    pub limit: Option<usize>,
    /// Arguments for criterion (a filter such as `flex`, `--measurement-time 3`, ...).
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "CRITERION_ARGS"
    )]
    pub args: Vec<String>,
}

/// Runs `cargo xtask bench`.
pub fn bench(root: &Path, args: BenchArgs) -> Result<()> {
    for model in &args.models {
        if !MODELS.contains(&model.as_str()) {
            bail!(
                "unknown model {model:?}: expected one of {}",
                MODELS.join(", ")
            );
        }
    }
    if !args.skip_criterion {
        let mut command = cargo(root);
        command.args(["bench", "-p", "ae-benches"]);
        if let Some(features) = &args.features {
            command.args(["--features", features]);
        }
        if !args.args.is_empty() {
            command.arg("--").args(&args.args);
        }
        run_command(command)?;
    }
    if !args.skip_epochs {
        epoch_table(root, &args)?;
    }
    Ok(())
}

/// The `ae` cargo features that compile in `backends`.
fn ae_features(backends: &[String]) -> Result<String> {
    let mut features = Vec::new();
    for backend in backends {
        match real_backend(backend).0 {
            // ae-cli's default features include ndarray.
            "ndarray" => {}
            name @ ("flex" | "wgpu" | "cuda") => {
                let feature = format!("ae-cli/{name}");
                if !features.contains(&feature) {
                    features.push(feature);
                }
            }
            other => bail!("unknown backend {other:?}: expected ndarray, flex, wgpu or cuda"),
        }
    }
    Ok(features.join(","))
}

/// The backend `ae` runs for a table row, and whether it uses burn's operations only.
fn real_backend(backend: &str) -> (&str, bool) {
    match backend.strip_suffix("+burn") {
        Some(real) => (real, true),
        None => (backend, false),
    }
}

/// The experiment config of a reference model: one epoch at batch 128 with Adam at 1e-3.
pub(crate) fn model_config(model: &str, limit: Option<usize>) -> String {
    let model_section = match model {
        "mlp-vae" => {
            "model = \"vae\"\nlatent = 20\n\
             architecture = { kind = \"mlp\", hidden = [400], activation = \"relu\" }\n\
             likelihood = { kind = \"bernoulli\" }\n"
        }
        "deep-ae" => {
            "model = \"autoencoder\"\nlatent = 30\nloss = \"bce\"\n\
             architecture = { kind = \"mlp\", hidden = [1000, 500, 250], activation = \"relu\" }\n"
        }
        _ => {
            "model = \"autoencoder\"\nlatent = 16\nloss = \"bce\"\n\
             architecture = { kind = \"conv\", channels = [32, 64], kernel_size = 4, activation = \"relu\" }\n"
        }
    };
    let limit = limit.map(|n| format!("limit = {n}\n")).unwrap_or_default();
    format!(
        "# Written by `cargo xtask bench`.\nseed = 0\n\n[data]\nsource = \"mnist\"\n\
         validation_fraction = 0.01\n{limit}\n[model]\n{model_section}\n[training]\n\
         epochs = 1\nbatch_size = 128\nlearning_rate = 1e-3\noptimizer = \"adam\"\n"
    )
}

/// Floating-point operations of one image's training step of a reference model, as
/// `ReferenceModel::training_flops` in ae-benches counts them (2 per multiply-add, backward =
/// 2 × forward); kept here so that xtask does not build burn. Change both together.
fn training_flops_per_image(model: &str) -> f64 {
    let multiply_adds: f64 = match model {
        "mlp-vae" => 784.0 * 400.0 + 400.0 * 40.0 + 20.0 * 400.0 + 400.0 * 784.0,
        "deep-ae" => 2.0 * (784.0 * 1000.0 + 1000.0 * 500.0 + 500.0 * 250.0 + 250.0 * 30.0),
        _ => 2.0 * (14.0 * 14.0 * 32.0 * 16.0 + 7.0 * 7.0 * 64.0 * 512.0 + 3136.0 * 16.0),
    };
    6.0 * multiply_adds
}

/// The last top-level JSON object a command printed.
pub(crate) fn last_json(text: &str) -> Result<Value> {
    let start = text.rfind("\n{").map_or(0, |i| i + 1);
    serde_json::from_str(text[start..].trim()).context("the command did not end with JSON")
}

/// The number at `pointer` in `value`, or an error naming it.
pub(crate) fn number(value: &Value, pointer: &str) -> Result<f64> {
    value
        .pointer(pointer)
        .and_then(Value::as_f64)
        .with_context(|| format!("no number at {pointer} in {value}"))
}

/// Ours: one epoch through `ae train`, then `ae eval` of the test split at batch 1000.
fn run_ours(
    root: &Path,
    model: &str,
    backend: &str,
    features: &str,
    limit: Option<usize>,
) -> Result<Value> {
    let dir = root
        .join("target/bench/runs")
        .join(format!("{model}-{backend}"));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let config = dir.with_extension("toml");
    std::fs::write(&config, model_config(model, limit))
        .with_context(|| format!("cannot write {}", config.display()))?;
    let dir_s = dir.display().to_string();
    let (real, burns_only) = real_backend(backend);
    let with_kernels = |mut command: Command| {
        if burns_only {
            command.env("AE_KERNELS", "burn");
        }
        command
    };
    let train_args: Vec<String> = [
        "--backend",
        real,
        "train",
        "--config",
        &config.display().to_string(),
        "--run-dir",
        &dir_s,
        "--plain",
        "--no-pictures",
        "--overwrite",
    ]
    .map(String::from)
    .to_vec();
    let train = last_json(&capture_stdout(with_kernels(ae(
        root,
        Some(features),
        true,
        &train_args,
    )))?)?;
    let eval_args: Vec<String> = ["--backend", real, "eval", &dir_s, "--batch-size", "1000"]
        .map(String::from)
        .to_vec();
    let eval = last_json(&capture_stdout(with_kernels(ae(
        root,
        Some(features),
        true,
        &eval_args,
    )))?)?;
    Ok(json!({
        "model": model,
        "backend": backend,
        "train_images_per_second": number(&train, "/summary/items_per_second")?,
        "eval_images_per_second": number(&eval, "/items_per_second")?,
        "peak_memory_mib": train.pointer("/summary/peak_memory_mib").cloned().unwrap_or(Value::Null),
        "final_validation_loss": number(&train, "/summary/validation/loss")?,
    }))
}

/// PyTorch: the same model and epoch in benches/pytorch/bench.py with `threads` threads.
fn run_pytorch(root: &Path, python: &Path, extra: &[String], threads: usize) -> Result<Value> {
    let mut command = Command::new(python);
    command
        .current_dir(root)
        .env("OMP_WAIT_POLICY", "PASSIVE")
        .arg("benches/pytorch/bench.py")
        .args(["--threads", &threads.to_string(), "--datasets", "datasets"])
        .args(extra);
    last_json(&capture_stdout(command)?)
}

/// criterion's mean time of `group/function` in seconds, from its saved estimates.
fn criterion_mean_seconds(root: &Path, group: &str, function: &str) -> Option<f64> {
    // criterion writes a group's results under its name with '/' replaced by '_'.
    let path = root
        .join("target/criterion")
        .join(group.replace('/', "_"))
        .join(function)
        .join("new/estimates.json");
    let text = std::fs::read_to_string(path).ok()?;
    let value: Value = serde_json::from_str(&text).ok()?;
    Some(value.pointer("/mean/point_estimate")?.as_f64()? * 1e-9)
}

fn epoch_table(root: &Path, args: &BenchArgs) -> Result<()> {
    let features = match &args.ae_features {
        Some(features) => features.clone(),
        None => ae_features(&args.backends)?,
    };
    let python = args
        .python
        .clone()
        .or_else(|| std::env::var_os("AE_BENCH_PYTHON").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("python3"));
    let limit_args: Vec<String> = match args.limit {
        Some(n) => vec!["--limit".into(), n.to_string()],
        None => Vec::new(),
    };
    let peak = if args.pytorch {
        eprintln!("xtask: measuring the matrix-product peak with PyTorch (2 threads)");
        let matmul = run_pytorch(root, &python, &["--matmul".to_string()], 2)?;
        Some(number(&matmul, "/gflops")?)
    } else {
        None
    };
    let mut rows = Vec::new();
    for model in &args.models {
        // Ours and PyTorch alternate model by model, so both see the same machine state.
        for backend in &args.backends {
            eprintln!("xtask: {model} on {backend}: one epoch through `ae train`");
            rows.push(run_ours(root, model, backend, &features, args.limit)?);
        }
        if args.pytorch {
            let mut extra = vec!["--model".to_string(), model.clone()];
            extra.extend(limit_args.iter().cloned());
            for threads in [2, 1] {
                eprintln!("xtask: {model} in PyTorch, {threads} thread(s)");
                let mut row = run_pytorch(root, &python, &extra, threads)?;
                row["backend"] = json!(format!("pytorch-{threads}t"));
                rows.push(row);
            }
        }
    }
    let table = render_table(root, &rows, peak);
    print!("{table}");
    let out_dir = root.join("target/bench");
    std::fs::create_dir_all(&out_dir)?;
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let report = json!({
        "unix_time": stamp,
        "matmul_peak_gflops": peak,
        "limit": args.limit,
        "rows": rows,
        "table": table,
    });
    let text = serde_json::to_string_pretty(&report)?;
    for name in [
        format!("epochs-{stamp}.json"),
        "epochs-latest.json".to_string(),
    ] {
        let path = out_dir.join(name);
        std::fs::write(&path, &text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    println!("saved to target/bench/epochs-latest.json");
    Ok(())
}

/// The printed table: one line per model and backend, then the ratios to PyTorch.
fn render_table(root: &Path, rows: &[Value], peak: Option<f64>) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n{:<8} {:<13} {:>11} {:>8} {:>7} {:>11} {:>11} {:>9}",
        "model",
        "backend",
        "train img/s",
        "GFLOP/s",
        "% peak",
        "eval img/s",
        "encode img/s",
        "peak MiB"
    );
    for row in rows {
        let model = row["model"].as_str().unwrap_or("?");
        let backend = row["backend"].as_str().unwrap_or("?");
        let train_flops = training_flops_per_image(model);
        let train = row["train_images_per_second"].as_f64().unwrap_or(f64::NAN);
        let gflops = train * train_flops / 1e9;
        let percent = peak.map_or(String::from("-"), |p| format!("{:.0}", 100.0 * gflops / p));
        let eval = row["eval_images_per_second"]
            .as_f64()
            .map_or("-".to_string(), |v| format!("{v:.0}"));
        // Ours: criterion's encoder figure at batch 1000; PyTorch: its own at batch 1000.
        let encode = row["encode_images_per_second"].as_f64().or_else(|| {
            criterion_mean_seconds(root, &format!("encode/{model}"), backend).map(|s| 1000.0 / s)
        });
        let encode = encode.map_or("-".to_string(), |v| format!("{v:.0}"));
        let memory = row["peak_memory_mib"]
            .as_f64()
            .map_or("-".to_string(), |v| format!("{v:.0}"));
        let _ = writeln!(
            out,
            "{model:<8} {backend:<13} {train:>11.0} {gflops:>8.1} {percent:>7} {eval:>11} {encode:>11} {memory:>9}"
        );
    }
    if let Some(peak) = peak {
        let _ = writeln!(
            out,
            "matrix-product peak (PyTorch, 2 threads): {peak:.1} GFLOP/s"
        );
    }
    let torch = |model: &str, threads: &str| {
        rows.iter()
            .find(|r| r["model"] == model && r["backend"] == format!("pytorch-{threads}t").as_str())
    };
    for row in rows {
        let backend = row["backend"].as_str().unwrap_or("");
        if backend.starts_with("pytorch") {
            continue;
        }
        let model = row["model"].as_str().unwrap_or("?");
        let (Some(two), Some(one)) = (torch(model, "2"), torch(model, "1")) else {
            continue;
        };
        let ours = row["train_images_per_second"].as_f64().unwrap_or(f64::NAN);
        let best = two["train_images_per_second"]
            .as_f64()
            .unwrap_or(f64::NAN)
            .max(one["train_images_per_second"].as_f64().unwrap_or(f64::NAN));
        let two_train = two["train_images_per_second"].as_f64().unwrap_or(f64::NAN);
        let encode_ours =
            criterion_mean_seconds(root, &format!("encode/{model}"), backend).map(|s| 1000.0 / s);
        let encode_torch = two["encode_images_per_second"].as_f64();
        let encode_ratio = match (encode_ours, encode_torch) {
            (Some(a), Some(b)) => format!("{:.2}x", a / b),
            _ => "- (run criterion first)".to_string(),
        };
        let memory_ratio = match (
            row["peak_memory_mib"].as_f64(),
            two["peak_memory_mib"].as_f64(),
        ) {
            (Some(a), Some(b)) => format!("{:.2}x", a / b),
            _ => "-".to_string(),
        };
        let _ = writeln!(
            out,
            "{model} {backend} vs PyTorch: training {:.2}x (2 threads), {:.2}x (better of 1 and 2); encoder {encode_ratio}; memory {memory_ratio}",
            ours / two_train,
            ours / best,
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configs_name_each_model_and_the_limit() {
        let config = model_config("deep-ae", Some(500));
        assert!(config.contains("hidden = [1000, 500, 250]") && config.contains("limit = 500"));
        assert!(model_config("conv-ae", None).contains("channels = [32, 64]"));
        assert!(!model_config("mlp-vae", None).contains("limit"));
    }

    #[test]
    fn features_follow_the_backends() {
        let backends = ["ndarray", "flex", "wgpu"].map(String::from);
        assert_eq!(ae_features(&backends).unwrap(), "ae-cli/flex,ae-cli/wgpu");
        assert_eq!(ae_features(&["cuda".to_string()]).unwrap(), "ae-cli/cuda");
        assert!(ae_features(&["rocm".to_string()]).is_err());
    }

    #[test]
    fn reads_the_json_after_progress_lines() {
        let text = "epoch 1/1 ...\n{\n  \"summary\": { \"items_per_second\": 12.5 }\n}\n";
        let value = last_json(text).unwrap();
        assert_eq!(number(&value, "/summary/items_per_second").unwrap(), 12.5);
        assert!(number(&value, "/summary/missing").is_err());
    }
}
