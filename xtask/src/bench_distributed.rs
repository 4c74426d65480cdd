//! `cargo xtask bench-distributed`: one epoch of each reference model in one process, then in
//! N processes on loopback (`ae train --nodes N`), each with the same number of threads, in
//! one sitting; images/s, speed-up and final validation loss, printed as a table and saved as
//! target/bench/distributed.{md,json}.

use std::fmt::Write as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use anyhow::{Context, Result, bail};
use clap::Args;
use serde_json::{Value, json};

use crate::bench::{last_json, model_config, number};
use crate::{ChildFailed, ae_binary, cargo, describe, run_command};

/// Arguments of `cargo xtask bench-distributed`.
#[derive(Debug, Args)]
pub struct BenchDistributedArgs {
    /// Models, comma separated (mlp-vae, deep-ae, conv-ae).
    #[arg(long, value_delimiter = ',', default_values_t = ["conv-ae".to_string(), "mlp-vae".to_string(), "deep-ae".to_string()])]
    pub models: Vec<String>,
    /// Processes of the distributed run.
    #[arg(long, default_value_t = 2)]
    pub nodes: usize,
    /// Threads of every process (RAYON_NUM_THREADS), in both runs.
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Epochs of every run.
    #[arg(long, default_value_t = 1)]
    pub epochs: usize,
    /// Training images (default 20,000 MNIST images).
    #[arg(long, default_value_t = 20_000)]
    pub limit: usize,
    /// Loopback port of rank 0.
    #[arg(long, default_value_t = 29_500)]
    pub port: u16,
}

fn train_command(binary: &Path, config: &Path, run: &Path, threads: usize) -> Command {
    let mut command = Command::new(binary);
    command
        .env("RAYON_NUM_THREADS", threads.to_string())
        .args([
            "--backend",
            "flex",
            "train",
            "--plain",
            "--no-pictures",
            "--overwrite",
        ])
        .arg("--config")
        .arg(config)
        .arg("--run-dir")
        .arg(run)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    command
}

fn summary_of(child: Child, what: &str) -> Result<Value> {
    let output = child
        .wait_with_output()
        .with_context(|| format!("waiting for {what}"))?;
    if !output.status.success() {
        return Err(ChildFailed {
            command: what.to_string(),
            code: output.status.code(),
        }
        .into());
    }
    last_json(&String::from_utf8_lossy(&output.stdout))
}

/// Runs `cargo xtask bench-distributed`.
pub fn bench_distributed(root: &Path, args: BenchDistributedArgs) -> Result<()> {
    if args.nodes < 2 {
        bail!("--nodes must be at least 2");
    }
    let mut build = cargo(root);
    build.args([
        "build",
        "--release",
        "-p",
        "ae-cli",
        "--bin",
        "ae",
        "--features",
        "flex",
    ]);
    run_command(build)?;
    let binary = ae_binary(root);
    let dir = root.join("target/bench/distributed");
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut rows = Vec::new();
    for model in &args.models {
        let config = dir.join(format!("{model}.toml"));
        let text = model_config(model, Some(args.limit))
            .replace("epochs = 1\n", &format!("epochs = {}\n", args.epochs));
        std::fs::write(&config, text)
            .with_context(|| format!("cannot write {}", config.display()))?;

        eprintln!("== {model}: 1 process × {} thread(s)", args.threads);
        let single = train_command(
            &binary,
            &config,
            &dir.join(format!("{model}-1")),
            args.threads,
        );
        let what = describe(&single);
        let single = summary_of(
            {
                let mut c = single;
                c.spawn().with_context(|| format!("cannot start {what}"))?
            },
            &what,
        )?;

        eprintln!(
            "== {model}: {} processes × {} thread(s) on 127.0.0.1:{}",
            args.nodes, args.threads, args.port
        );
        let mut children = Vec::new();
        // The other ranks first: they wait for rank 0.
        for rank in (0..args.nodes).rev() {
            let mut command = train_command(
                &binary,
                &config,
                &dir.join(format!("{model}-{}", args.nodes)),
                args.threads,
            );
            command.args([
                "--nodes",
                &args.nodes.to_string(),
                "--node-rank",
                &rank.to_string(),
                "--orchestrator",
                &format!("127.0.0.1:{}", args.port),
            ]);
            let what = describe(&command);
            let child = command
                .spawn()
                .with_context(|| format!("cannot start {what}"))?;
            children.push((rank, child, what));
        }
        let mut rank0 = None;
        for (rank, child, what) in children {
            let summary = summary_of(child, &what)?;
            if rank == 0 {
                rank0 = Some(summary);
            }
        }
        let multi = rank0.context("rank 0 did not report")?;
        let one = number(&single, "/summary/items_per_second")?;
        let many = number(&multi, "/summary/items_per_second")?;
        let loss_one = number(&single, "/summary/validation/loss")?;
        let loss_many = number(&multi, "/summary/validation/loss")?;
        rows.push(json!({
            "model": model,
            "threads_per_process": args.threads,
            "processes": args.nodes,
            "single_images_per_second": one,
            "distributed_images_per_second": many,
            "speedup": many / one,
            "single_validation_loss": loss_one,
            "distributed_validation_loss": loss_many,
            "loss_difference": (loss_many - loss_one) / loss_one,
        }));
    }
    let mut table = format!(
        "One epoch of {} MNIST images (flex backend, {} thread(s) per process), 1 process \
         against {} processes on loopback (`cargo xtask bench-distributed`):\n\n\
         | model | 1 process (images/s) | {} processes (images/s) | speed-up | validation loss, 1 \
         process | validation loss, {} processes | difference |\n|---|---|---|---|---|---|---|\n",
        args.limit, args.threads, args.nodes, args.nodes, args.nodes
    );
    for row in &rows {
        let _ = writeln!(
            table,
            "| {} | {:.0} | {:.0} | {:.2}× | {:.3} | {:.3} | {:+.2}% |",
            row["model"].as_str().unwrap_or("?"),
            row["single_images_per_second"].as_f64().unwrap_or(f64::NAN),
            row["distributed_images_per_second"]
                .as_f64()
                .unwrap_or(f64::NAN),
            row["speedup"].as_f64().unwrap_or(f64::NAN),
            row["single_validation_loss"].as_f64().unwrap_or(f64::NAN),
            row["distributed_validation_loss"]
                .as_f64()
                .unwrap_or(f64::NAN),
            100.0 * row["loss_difference"].as_f64().unwrap_or(f64::NAN),
        );
    }
    print!("{table}");
    let bench = root.join("target/bench");
    std::fs::write(bench.join("distributed.md"), &table)
        .with_context(|| format!("cannot write {}", bench.join("distributed.md").display()))?;
    let json = serde_json::to_string_pretty(&Value::Array(rows))?;
    std::fs::write(bench.join("distributed.json"), json)
        .with_context(|| format!("cannot write {}", bench.join("distributed.json").display()))?;
    Ok(())
}
