//! Training across processes on loopback (`--nodes`, `--node-rank`, `--orchestrator`): two
//! ranks end with the same weights (rank 0 checks their checksums) and near the loss of one
//! process with the same global batch; a killed rank stops the other with its name; a resume
//! restarts both ranks from rank 0's checkpoint.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::common::{datasets, json};
use std::time::{Duration, Instant};

fn write_config(dir: &Path, epochs: usize) -> PathBuf {
    let config = dir.join("ae.toml");
    std::fs::write(
        &config,
        format!(
            r#"seed = 3
[data]
source = "mnist"
path = "{}"
limit = 3000
validation_fraction = 0.1
[model]
model = "autoencoder"
latent = 8
architecture = {{ kind = "mlp", hidden = [64], activation = "relu" }}
[training]
epochs = {epochs}
batch_size = 50
learning_rate = 2e-3
"#,
            datasets()
        ),
    )
    .unwrap();
    config
}

/// A free port on 127.0.0.1 (bound, read, released).
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

fn rank(config: &Path, run: &Path, rank: usize, port: u16, extra: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_ae"))
        .env_remove("AE_DATASETS")
        .env("RAYON_NUM_THREADS", "1")
        .args(["train", "--plain", "--no-pictures", "--config"])
        .arg(config)
        .arg("--run-dir")
        .arg(run)
        .args(["--nodes", "2", "--node-rank", &rank.to_string()])
        .args(["--orchestrator", &format!("127.0.0.1:{port}")])
        .args(if extra.contains(&"--node-timeout") {
            &[][..]
        } else {
            &["--node-timeout", "60"][..]
        })
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the ae binary runs")
}

fn loss(summary: &serde_json::Value) -> f64 {
    summary["summary"]["validation"]["loss"]
        .as_f64()
        .unwrap_or_else(|| panic!("no validation loss in {summary}"))
}

#[test]
fn two_ranks_train_like_one_process_and_resume_together() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), 3);
    let (run0, run1) = (dir.path().join("rank0"), dir.path().join("rank1"));

    let port = free_port();
    // Rank 1 first: it waits for rank 0.
    let one = rank(&config, &run1, 1, port, &["--epochs", "2"]);
    let zero = rank(&config, &run0, 0, port, &["--epochs", "2"]);
    let zero = json(&zero.wait_with_output().unwrap());
    let one = json(&one.wait_with_output().unwrap());
    assert!(run0.join("model.mpk").exists());
    assert!(run0.join("checkpoint/model-2.mpk").exists());
    assert!(!run1.exists(), "rank 1 must leave its --run-dir untouched");
    // Same weights: rank 0 compared the ranks' checksums before both succeeded, and both
    // evaluate the same model on the same validation split.
    assert_eq!(loss(&zero), loss(&one));

    // One process, same global batch and epochs.
    let single = Command::new(env!("CARGO_BIN_EXE_ae"))
        .env_remove("AE_DATASETS")
        .env("RAYON_NUM_THREADS", "1")
        .args([
            "train",
            "--plain",
            "--no-pictures",
            "--epochs",
            "2",
            "--config",
        ])
        .arg(&config)
        .arg("--run-dir")
        .arg(dir.path().join("single"))
        .output()
        .unwrap();
    let single = json(&single);
    let (two, one_process) = (loss(&zero), loss(&single));
    assert!(
        (two - one_process).abs() <= 0.1 * one_process,
        "2 ranks end at validation loss {two}, 1 process at {one_process}"
    );

    // Resume to 3 epochs: rank 1, with a fresh folder, starts from rank 0's checkpoint.
    let port = free_port();
    let one = rank(&config, &run1, 1, port, &["--resume"]);
    let zero = rank(&config, &run0, 0, port, &["--resume"]);
    let zero = json(&zero.wait_with_output().unwrap());
    let one = json(&one.wait_with_output().unwrap());
    assert_eq!(zero["summary"]["resumed_from_epoch"], 2);
    assert_eq!(one["summary"]["resumed_from_epoch"], 2);
    assert_eq!(zero["summary"]["epochs"], 3);
    assert_eq!(loss(&zero), loss(&one));
    assert!(run0.join("checkpoint/model-3.mpk").exists());
    assert!(loss(&zero) < two, "a third epoch lowers the loss");
}

#[test]
fn a_killed_rank_stops_the_other_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), 200);
    let run0 = dir.path().join("rank0");
    let port = free_port();
    let mut one = rank(&config, &dir.path().join("rank1"), 1, port, &[]);
    let zero = rank(&config, &run0, 0, port, &[]);
    // Wait for the first epoch's checkpoint: both ranks are training.
    let started = Instant::now();
    while !run0.join("checkpoint/model-1.mpk").exists() {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "no epoch finished within 120 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    one.kill().unwrap();
    let _ = one.wait();
    let killed = Instant::now();
    let output = zero.wait_with_output().unwrap();
    let waited = killed.elapsed();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(waited < Duration::from_secs(30), "rank 0 took {waited:?}");
    assert!(stderr.contains("rank 1 closed its connection"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    // The run keeps its last good checkpoint.
    assert!(run0.join("checkpoint/model-1.mpk").exists());
}

#[test]
fn a_rank_zero_that_fails_before_training_stops_the_others_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), 2);
    let port = free_port();
    // Nothing to resume from: rank 0 refuses before it trains. Rank 1's connection waits in
    // rank 0's queue and is reset when rank 0 gives up (had rank 0 failed before rank 1
    // reached it, rank 1 would stop at its 10 s timeout instead; either way it names rank 0).
    let extra = ["--resume", "--node-timeout", "10"];
    let one = rank(&config, &dir.path().join("rank1"), 1, port, &extra);
    std::thread::sleep(Duration::from_millis(300));
    let zero = rank(&config, &dir.path().join("rank0"), 0, port, &extra);
    let started = Instant::now();
    let zero = zero.wait_with_output().unwrap();
    let one = one.wait_with_output().unwrap();
    assert!(started.elapsed() < Duration::from_secs(20));
    assert!(!zero.status.success() && !one.status.success());
    let stderr = String::from_utf8_lossy(&one.stderr);
    assert!(
        stderr.contains("rank 0 closed its connection")
            || stderr.contains("could not reach rank 0"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}
