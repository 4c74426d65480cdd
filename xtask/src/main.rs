//! `cargo xtask`: project tasks — train a named experiment end to end, list the experiments,
//! run the backend benchmarks, and check the shipped datasets' checksums.

mod bench;
mod bench_anomaly;
mod bench_distributed;
mod datasets;
mod experiments;

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

use anyhow::{Context, Result};
use bench::BenchArgs;
use clap::{Args, Parser, Subcommand};

/// Project tasks for the autoencoder toolkit.
#[derive(Debug, Parser)]
#[command(name = "xtask", bin_name = "cargo xtask")]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Debug, Subcommand)]
enum Task {
    /// Train a named experiment, evaluate it, and draw its pictures.
    ///
    /// Runs `ae train --config experiments/<EXPERIMENT>.toml --run-dir runs/<EXPERIMENT>`,
    /// then `ae eval runs/<EXPERIMENT>` (its JSON is printed and saved as
    /// runs/<EXPERIMENT>/eval.json) and, for a VAE, `ae sample runs/<EXPERIMENT>`.
    /// `--backend` and `--wgpu-device` given after `--` are passed to every step.
    ///
    /// Example: cargo xtask train mlp-vae-mnist --features flex -- --backend flex --epochs 1
    Train(TrainArgs),
    /// List the experiments (experiments/*.toml) with their first comment line.
    List,
    /// Benchmark the reference models: criterion's backend comparison of one training step
    /// and of the encoder (`cargo bench -p ae-benches`), then one epoch of each model through
    /// `ae train` and `ae eval` (images/s, GFLOP/s, peak memory), with --pytorch side by side
    /// with the same models in PyTorch. Prints a table and saves target/bench/*.json.
    ///
    /// Example: cargo xtask bench --features flex --pytorch -- --measurement-time 3
    Bench(BenchArgs),
    /// Benchmark tabular anomaly detection over datasets/tabular: our autoencoder and the
    /// classical baselines of `ae anomaly eval --baselines` on one-class splits, median AUROC
    /// and AUPRC over seeds with their spread, with --pyod side by side with PyOD's
    /// AutoEncoder, VAE, Isolation Forest, one-class SVM and PCA on the same splits; then the
    /// time to train and score a 10,000 x 30 table. Saves target/bench/anomaly/anomaly.{md,json}.
    ///
    /// Example: cargo xtask bench-anomaly --pyod -- --epochs 50
    BenchAnomaly(bench_anomaly::BenchAnomalyArgs),
    /// Benchmark training across processes: one epoch of each reference model in 1 process,
    /// then in N processes on loopback (`ae train --nodes N`), with the same threads per
    /// process, in one sitting; images/s, speed-up and final validation loss. Saves
    /// target/bench/distributed.{md,json}.
    ///
    /// Example: cargo xtask bench-distributed --models conv-ae --nodes 2 --threads 1
    BenchDistributed(bench_distributed::BenchDistributedArgs),
    /// Verify the SHA-256 of every file listed in datasets/README.md.
    ///
    /// Prints OK, MISMATCH or MISSING per file and fails if any file is not OK.
    CheckDatasets,
}

#[derive(Debug, Args)]
struct TrainArgs {
    /// Experiment name: the stem of a file in experiments/ (see `cargo xtask list`).
    experiment: String,
    /// Cargo features for the `ae` binary, e.g. `flex` or `flex,wgpu` (ndarray is the default).
    #[arg(long, value_name = "F")]
    features: Option<String>,
    /// Extra flags for `ae train`, after `--` (e.g. `-- --backend flex --epochs 1`).
    #[arg(last = true, value_name = "AE_FLAGS")]
    extra: Vec<String>,
}

/// A child process that did not succeed.
#[derive(Debug)]
struct ChildFailed {
    /// The command line, for the message.
    command: String,
    /// Its exit code, if it exited (rather than being killed by a signal).
    code: Option<i32>,
}

impl fmt::Display for ChildFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.code {
            Some(code) => write!(f, "`{}` failed with exit code {code}", self.command),
            None => write!(f, "`{}` was terminated by a signal", self.command),
        }
    }
}

impl std::error::Error for ChildFailed {}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            let code = error
                .downcast_ref::<ChildFailed>()
                .and_then(|failed| failed.code)
                .and_then(|code| u8::try_from(code).ok())
                .filter(|&code| code != 0)
                .unwrap_or(1);
            ExitCode::from(code)
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    let root = workspace_root()?;
    match cli.task {
        Task::Train(args) => train(&root, args),
        Task::List => list(&root),
        Task::Bench(args) => bench::bench(&root, args),
        Task::BenchAnomaly(args) => bench_anomaly::bench_anomaly(&root, args),
        Task::BenchDistributed(args) => bench_distributed::bench_distributed(&root, args),
        Task::CheckDatasets => datasets::check_all(&root),
    }
}

/// The workspace root: the parent of this crate's folder.
fn workspace_root() -> Result<PathBuf> {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .context("the xtask crate has no parent folder")
}

/// The cargo that runs us (or `cargo` from PATH), started in the workspace root.
fn cargo(root: &Path) -> Command {
    let program = std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    let mut command = Command::new(program);
    command.current_dir(root);
    command
}

/// The command line, for messages (the program by its file name only).
fn describe(command: &Command) -> String {
    let program = command.get_program();
    let program = Path::new(program).file_name().unwrap_or(program);
    std::iter::once(program)
        .chain(command.get_args())
        .map(|part| part.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs `command` with inherited stdio and fails if it does not succeed.
fn run_command(mut command: Command) -> Result<()> {
    let status = command
        .status()
        .with_context(|| format!("cannot start `{}`", describe(&command)))?;
    if status.success() {
        Ok(())
    } else {
        Err(ChildFailed {
            command: describe(&command),
            code: status.code(),
        }
        .into())
    }
}

/// Runs `command` capturing its stdout (stderr is inherited); fails if it does not succeed.
fn capture_stdout(mut command: Command) -> Result<String> {
    let output = command
        .stdin(Stdio::inherit())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("cannot start `{}`", describe(&command)))?;
    if !output.status.success() {
        return Err(ChildFailed {
            command: describe(&command),
            code: output.status.code(),
        }
        .into());
    }
    String::from_utf8(output.stdout)
        .with_context(|| format!("`{}` printed invalid UTF-8", describe(&command)))
}

/// The `ae` binary of this workspace's release build (`$CARGO_TARGET_DIR` or `target/`).
fn ae_binary(root: &Path) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let target = if target.is_absolute() {
        target
    } else {
        root.join(target)
    };
    target.join("release").join("ae")
}

/// `cargo run --release -p ae-cli --bin ae [--features F] [--quiet] -- <args>`.
fn ae(root: &Path, features: Option<&str>, quiet: bool, args: &[String]) -> Command {
    let mut command = cargo(root);
    command.args(["run", "--release", "-p", "ae-cli", "--bin", "ae"]);
    if let Some(features) = features {
        command.args(["--features", features]);
    }
    if quiet {
        command.arg("--quiet");
    }
    command.arg("--").args(args);
    command
}

/// The `ae` global flags among `extra` (`--backend`, `--wgpu-device`, either `--flag value`
/// or `--flag=value`), to pass on to the commands after training.
fn global_ae_flags(extra: &[String]) -> Vec<String> {
    const GLOBAL: [&str; 2] = ["--backend", "--wgpu-device"];
    let mut flags = Vec::new();
    let mut args = extra.iter();
    while let Some(arg) = args.next() {
        if GLOBAL.contains(&arg.as_str()) {
            flags.push(arg.clone());
            if let Some(value) = args.next() {
                flags.push(value.clone());
            }
        } else if GLOBAL
            .iter()
            .any(|flag| arg.strip_prefix(flag).is_some_and(|v| v.starts_with('=')))
        {
            flags.push(arg.clone());
        }
    }
    flags
}

fn train(root: &Path, args: TrainArgs) -> Result<()> {
    let experiment = experiments::find(root, &args.experiment)?;
    let name = &experiment.name;
    let config_text = std::fs::read_to_string(&experiment.path)
        .with_context(|| format!("cannot read {}", experiment.path.display()))?;
    let config = format!("{}/{name}.toml", experiments::EXPERIMENTS_DIR);
    let run_dir = format!("runs/{name}");
    let features = args.features.as_deref();
    let globals = global_ae_flags(&args.extra);

    let mut train_args: Vec<String> = ["train", "--config", &config, "--run-dir", &run_dir]
        .map(String::from)
        .to_vec();
    train_args.extend(args.extra.iter().cloned());
    eprintln!("xtask: training {name} into {run_dir}/");
    run_command(ae(root, features, false, &train_args))?;

    eprintln!("xtask: evaluating {run_dir}");
    let mut eval_args = globals.clone();
    eval_args.extend(["eval".to_string(), run_dir.clone()]);
    let report = capture_stdout(ae(root, features, true, &eval_args))?;
    print!("{report}");
    let eval_path = root.join(&run_dir).join("eval.json");
    std::fs::write(&eval_path, &report)
        .with_context(|| format!("cannot write {}", eval_path.display()))?;
    println!("evaluation saved to {run_dir}/eval.json");

    let reconstructions = format!("{run_dir}/reconstructions.png");
    if root.join(&reconstructions).is_file() {
        println!("reconstructions: {reconstructions}");
    } else {
        println!(
            "no reconstructions picture at {reconstructions} (not image data, or --no-pictures)"
        );
    }

    if experiments::is_vae(&config_text) {
        eprintln!("xtask: sampling from {run_dir}");
        let mut sample_args = globals;
        sample_args.extend(["sample".to_string(), run_dir.clone()]);
        run_command(ae(root, features, true, &sample_args))?;
        println!("samples: {run_dir}/samples.png");
    }
    Ok(())
}

fn list(root: &Path) -> Result<()> {
    let all = experiments::list(root)?;
    let width = all.iter().map(|e| e.name.len()).max().unwrap_or(0);
    for experiment in &all {
        let text = std::fs::read_to_string(&experiment.path)
            .with_context(|| format!("cannot read {}", experiment.path.display()))?;
        let description = experiments::first_comment_line(&text).unwrap_or("");
        println!("{:<width$}  {description}", experiment.name);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn parses_train_and_bench_arguments() -> Result<()> {
        let cli = Cli::try_parse_from([
            "xtask",
            "train",
            "mlp-vae-mnist",
            "--features",
            "flex",
            "--",
            "--backend",
            "flex",
        ])?;
        let Task::Train(args) = cli.task else {
            panic!("expected train, got {:?}", cli.task);
        };
        assert_eq!(args.experiment, "mlp-vae-mnist");
        assert_eq!(args.features.as_deref(), Some("flex"));
        assert_eq!(args.extra, ["--backend", "flex"]);

        let cli = Cli::try_parse_from([
            "xtask",
            "bench",
            "--features",
            "flex",
            "--warm-up-time",
            "1",
            "flex",
        ])?;
        let Task::Bench(args) = cli.task else {
            panic!("expected bench, got {:?}", cli.task);
        };
        assert_eq!(args.features.as_deref(), Some("flex"));
        assert_eq!(args.args, ["--warm-up-time", "1", "flex"]);
        Ok(())
    }

    #[test]
    fn picks_the_global_ae_flags() {
        let extra: Vec<String> = ["--epochs", "1", "--backend", "wgpu", "--wgpu-device=cpu"]
            .map(String::from)
            .to_vec();
        assert_eq!(
            global_ae_flags(&extra),
            ["--backend", "wgpu", "--wgpu-device=cpu"]
        );
    }
}
