//! A training run killed with SIGKILL in the middle of an epoch resumes from its last complete
//! checkpoint and ends where an uninterrupted run ends, within noise.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn ae() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ae"));
    command.env_remove("AE_DATASETS");
    command
}

fn datasets() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../datasets")
}

fn summary(output: &Output) -> serde_json::Value {
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "stdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(&stdout).expect("stdout is one JSON document")
}

fn write_config(dir: &Path) -> PathBuf {
    let config = dir.join("ae.toml");
    std::fs::write(
        &config,
        format!(
            r#"seed = 3
[data]
source = "mnist"
path = "{}"
limit = 10000
[model]
model = "autoencoder"
latent = 16
architecture = {{ kind = "mlp", hidden = [256], activation = "relu" }}
[training]
epochs = 8
batch_size = 50
learning_rate = 1e-3
"#,
            datasets().display()
        ),
    )
    .unwrap();
    config
}

/// The newest epoch whose model, optimizer and scheduler checkpoints all exist.
fn complete_checkpoint(run: &Path) -> Option<usize> {
    let dir = run.join("checkpoint");
    (1..100).rev().find(|epoch| {
        ["model", "optim", "scheduler"]
            .iter()
            .all(|part| dir.join(format!("{part}-{epoch}.mpk")).exists())
    })
}

#[cfg(unix)]
#[test]
fn sigkill_mid_epoch_then_resume_matches_an_uninterrupted_run() {
    use std::os::unix::process::ExitStatusExt;

    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    let config_s = config.display().to_string();

    let straight = dir.path().join("straight");
    let output = ae()
        .args([
            "train",
            "--config",
            &config_s,
            "--plain",
            "--no-pictures",
            "--run-dir",
        ])
        .arg(&straight)
        .output()
        .unwrap();
    let reference = summary(&output)["summary"]["validation"]["loss"]
        .as_f64()
        .unwrap();

    let killed = dir.path().join("killed");
    let mut child = ae()
        .args([
            "train",
            "--config",
            &config_s,
            "--plain",
            "--no-pictures",
            "--run-dir",
        ])
        .arg(&killed)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let saved = loop {
        if let Some(epoch) = complete_checkpoint(&killed).filter(|&e| e >= 3) {
            break epoch;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before it could be killed"
        );
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "no checkpoint"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    // Well inside the next epoch (one epoch is 200 steps).
    std::thread::sleep(Duration::from_millis(300));
    child.kill().unwrap(); // SIGKILL
    let status = child.wait().unwrap();
    assert_eq!(
        status.signal(),
        Some(9),
        "the run must die by SIGKILL, not finish"
    );
    assert!(!killed.join("model.mpk").exists(), "killed before the end");
    assert!(complete_checkpoint(&killed).unwrap() >= saved);

    let output = ae()
        .args([
            "train",
            "--config",
            &config_s,
            "--resume",
            "--plain",
            "--no-pictures",
            "--run-dir",
        ])
        .arg(&killed)
        .output()
        .unwrap();
    let report = summary(&output);
    let resumed_from = report["summary"]["resumed_from_epoch"].as_u64().unwrap();
    assert!(resumed_from >= saved as u64 && resumed_from < 8, "{report}");
    let loss = report["summary"]["validation"]["loss"].as_f64().unwrap();
    assert!(
        (loss - reference).abs() < 0.03 * reference,
        "resumed run ends at {loss}, uninterrupted at {reference}"
    );
    // No half-written checkpoint is left looking like a real one.
    for entry in std::fs::read_dir(killed.join("checkpoint")).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        assert!(!name.ends_with(".tmp"), "{name}");
    }
    // Every epoch has its validation metrics, those before the kill and those after.
    let metrics = std::fs::read_to_string(killed.join("metrics.csv")).unwrap();
    for epoch in 1..=8 {
        assert!(
            metrics
                .lines()
                .any(|l| l.starts_with(&format!("{epoch},valid,"))),
            "epoch {epoch} missing:\n{metrics}"
        );
    }
}

#[cfg(unix)]
#[test]
fn ctrl_c_saves_the_model_and_the_run_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    let config_s = config.display().to_string();
    let run = dir.path().join("interrupted");
    let child = ae()
        .args([
            "train",
            "--config",
            &config_s,
            "--plain",
            "--no-pictures",
            "--run-dir",
        ])
        .arg(&run)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while complete_checkpoint(&run).is_none_or(|e| e < 2) {
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "no checkpoint"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    let sent = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    // 130 = 128 + SIGINT, as shells report a program stopped by Ctrl-C.
    assert_eq!(output.status.code(), Some(130), "stderr: {stderr}");
    assert!(
        stderr.contains("training interrupted by Ctrl-C"),
        "{stderr}"
    );
    assert!(
        stderr.contains("--resume` continues from the checkpoint of epoch"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    // The model of the interrupted step is saved and usable.
    let eval = ae()
        .args(["eval", "--limit", "500"])
        .arg(&run)
        .output()
        .unwrap();
    let loss = summary(&eval)["metrics"]["loss"].as_f64().unwrap();
    assert!(
        loss.is_finite() && loss < 150.0,
        "interrupted model's loss {loss}"
    );
    let output = ae()
        .args([
            "train",
            "--config",
            &config_s,
            "--resume",
            "--plain",
            "--no-pictures",
            "--run-dir",
        ])
        .arg(&run)
        .output()
        .unwrap();
    let report = summary(&output);
    assert!(report["summary"]["resumed_from_epoch"].as_u64().unwrap() >= 2);
}
