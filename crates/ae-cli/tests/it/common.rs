//! Helpers shared by the `ae` subprocess tests: run the binary, read its JSON, expect clean
//! failures, measure PNGs.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

/// Runs the `ae` binary with `args` (ignoring any `AE_DATASETS` of the caller).
pub fn ae(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ae"))
        .args(args)
        .env_remove("AE_DATASETS")
        .output()
        .expect("the ae binary runs")
}

/// The shipped datasets folder.
pub fn datasets() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../datasets")
        .display()
        .to_string()
}

/// A process's stdout as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A process's stderr as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs `ae` expecting failure; returns its stderr, which must be one clean error.
pub fn fails(args: &[&str]) -> String {
    let out = ae(args);
    assert!(
        !out.status.success(),
        "expected failure: {args:?}\n{}",
        stdout(&out)
    );
    let err = stderr(&out);
    assert!(err.starts_with("error:"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    err
}

/// The JSON report of a successful run: its stdout must be exactly one JSON document
/// (progress goes to stderr).
pub fn json(o: &Output) -> serde_json::Value {
    assert!(o.status.success(), "stderr: {}", stderr(o));
    let text = stdout(o);
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}):\n{text}"))
}

/// Runs `ae` expecting success; returns its JSON report.
pub fn ok(args: &[&str]) -> serde_json::Value {
    json(&ae(args))
}

/// The pixel size of a PNG.
pub fn png_size(path: &Path) -> (u32, u32) {
    image::open(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .to_rgb8()
        .dimensions()
}

/// The pixel size of a grid of 28×28 images with `rows` rows and `cols` columns.
pub fn grid_size(rows: u32, cols: u32, zoom: u32) -> (u32, u32) {
    let cell = 28 * zoom + 2;
    (cols * cell + 2, rows * cell + 2)
}

/// A path as a string argument.
pub fn path_str(p: &Path) -> String {
    p.display().to_string()
}

/// Trains a small MNIST model into `run` with extra flags; returns the training report.
pub fn train_mnist(run: &Path, extra: &[&str]) -> serde_json::Value {
    let data = datasets();
    let run_s = run.display().to_string();
    let mut args = vec![
        "train",
        "--data",
        "mnist",
        "--data-path",
        &data,
        "--run-dir",
        &run_s,
        "--plain",
        "--no-pictures",
        "--seed",
        "3",
    ];
    args.extend_from_slice(extra);
    ok(&args)
}

/// Runs `ae train --config config --run-dir run --plain --no-pictures`.
pub fn train_config(config: &Path, run: &Path) -> Output {
    ae(&[
        "train",
        "--config",
        &path_str(config),
        "--run-dir",
        &path_str(run),
        "--plain",
        "--no-pictures",
    ])
}
