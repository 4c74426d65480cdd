//! A run folder copied to another place, its training data deleted, still encodes, scores,
//! samples and evaluates new data through `ae`, with the same numbers as before the move; a
//! test CSV may carry a label column named only at evaluation time.

use std::path::Path;

use crate::common::*;

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Rows near a line in 3-D; with `label`, a `y` column (1 for every `outlier_every`-th row,
/// which lies far off the line, else 0) placed first.
fn table(rows: usize, outlier_every: usize, label: bool, seed: u64) -> String {
    let mut state = seed.wrapping_add(99);
    let mut uniform = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5
    };
    let mut text = String::from(if label { "y,a,b,c\n" } else { "a,b,c\n" });
    for i in 0..rows {
        let t = uniform() * 4.0;
        let outlier = outlier_every > 0 && i % outlier_every == 0;
        let cells: Vec<String> = (0..3)
            .map(|j| {
                let v = t * (j as f64 + 1.0) + 0.05 * uniform();
                format!(
                    "{:.5}",
                    if outlier {
                        v + 25.0 * (j as f64 - 1.0)
                    } else {
                        v
                    }
                )
            })
            .collect();
        if label {
            text.push_str(if outlier { "1," } else { "0," });
        }
        text.push_str(&cells.join(","));
        text.push('\n');
    }
    text
}

/// What `ae` says of new data with the run at `run`: JSON reports with their paths removed,
/// and the files written, as text.
fn uses(run: &Path, new: &Path, out: &Path) -> Vec<String> {
    let run_s = path_str(run);
    let new_s = path_str(new);
    std::fs::create_dir_all(out).unwrap();
    let mut said = Vec::new();
    let strip = |mut report: serde_json::Value| {
        for key in [
            "run",
            "csv",
            "npy",
            "roc",
            "files",
            "data_path",
            "source",
            "seconds",
        ] {
            report.as_object_mut().unwrap().remove(key);
        }
        report.as_object_mut().unwrap().remove("items_per_second");
        report.to_string()
    };
    let encode = ok(&[
        "encode",
        &run_s,
        "--data-path",
        &new_s,
        "--label-column",
        "y",
        "--out",
        &path_str(&out.join("codes")),
    ]);
    assert_eq!(encode["split"], "data");
    said.push(strip(encode));
    said.push(std::fs::read_to_string(out.join("codes/latents.csv")).unwrap());
    let scores = out.join("scores.csv");
    said.push(strip(ok(&[
        "anomaly",
        "score",
        &run_s,
        "--data-path",
        &new_s,
        "--label-column",
        "y",
        "--out",
        &path_str(&scores),
    ])));
    said.push(std::fs::read_to_string(&scores).unwrap());
    let eval = ok(&["eval", &run_s, "--data-path", &new_s, "--label-column", "y"]);
    assert_eq!(eval["metrics"]["items"], 50);
    said.push(strip(eval));
    let anomaly = ok(&[
        "anomaly",
        "eval",
        &run_s,
        "--data-path",
        &new_s,
        "--label-column",
        "y",
        "--anomaly-classes",
        "1",
        "--out",
        &path_str(&out.join("roc.png")),
    ]);
    assert_eq!(anomaly["anomalies"], 10, "{anomaly}");
    assert!(anomaly["auroc"].as_f64().unwrap() > 0.95, "{anomaly}");
    said.push(strip(anomaly));
    said
}

#[test]
fn a_moved_table_run_gives_the_same_numbers_without_its_training_table() {
    let dir = tempfile::tempdir().unwrap();
    let train = dir.path().join("train.csv");
    std::fs::write(&train, table(300, 0, false, 1)).unwrap();
    let new = dir.path().join("new.csv");
    std::fs::write(&new, table(50, 5, true, 2)).unwrap();
    let run = dir.path().join("run");
    let run_s = path_str(&run);
    ok(&[
        "train",
        "--model",
        "ae",
        "--data",
        "csv",
        "--data-path",
        &path_str(&train),
        "--latent",
        "1",
        "--hidden",
        "16",
        "--activation",
        "tanh",
        "--loss",
        "squared-error",
        "--epochs",
        "12",
        "--batch-size",
        "20",
        "--lr",
        "0.01",
        "--run-dir",
        &run_s,
        "--plain",
    ]);
    ok(&["anomaly", "fit", &run_s, "--contamination", "0.05"]);
    // The label column is not one the run was trained on: scoring without naming it is
    // refused, naming the column.
    let err = fails(&["anomaly", "score", &run_s, "--data-path", &path_str(&new)]);
    assert!(err.contains("\"y\"") && err.contains("new.csv"), "{err}");
    let before = uses(&run, &new, &dir.path().join("before"));

    let moved = dir.path().join("elsewhere/run");
    copy_dir(&run, &moved);
    std::fs::remove_file(&train).unwrap();
    let after = uses(&moved, &new, &dir.path().join("after"));
    assert_eq!(before, after);
    // The splits are what needs the training table, and the error names it.
    let err = fails(&["eval", &path_str(&moved)]);
    assert!(err.contains("train.csv"), "{err}");
}

#[test]
fn a_moved_image_vae_samples_reconstructs_and_evaluates_without_its_folder() {
    let dir = tempfile::tempdir().unwrap();
    let write = |root: &Path, count: u8| {
        for (class, value) in [("dark", 40u8), ("light", 200u8)] {
            std::fs::create_dir_all(root.join(class)).unwrap();
            for i in 0..count {
                let image = image::GrayImage::from_fn(8, 8, |x, y| {
                    image::Luma([value.saturating_add(((x * 3 + y + i as u32) % 20) as u8)])
                });
                image
                    .save(root.join(class).join(format!("{i}.png")))
                    .unwrap();
            }
        }
    };
    let train = dir.path().join("train");
    write(&train, 20);
    let test = dir.path().join("test");
    write(&test, 3);
    let run = dir.path().join("vae");
    ok(&[
        "train",
        "--model",
        "vae",
        "--data",
        "image-folder",
        "--data-path",
        &path_str(&train),
        "--image-size",
        "8x8",
        "--hidden",
        "16",
        "--latent",
        "2",
        "--epochs",
        "2",
        "--batch-size",
        "8",
        "--run-dir",
        &path_str(&run),
        "--plain",
    ]);
    let measure = |run: &Path, tag: &str| {
        let run_s = path_str(run);
        let png = dir.path().join(format!("samples-{tag}.png"));
        ok(&[
            "sample",
            &run_s,
            "--count",
            "4",
            "--seed",
            "5",
            "--out",
            &path_str(&png),
        ]);
        let grid = dir.path().join(format!("reconstruct-{tag}.png"));
        ok(&[
            "reconstruct",
            &run_s,
            "--data-path",
            &path_str(&test),
            "--count",
            "6",
            "--out",
            &path_str(&grid),
        ]);
        let eval = ok(&["eval", &run_s, "--data-path", &path_str(&test)]);
        (
            std::fs::read(png).unwrap(),
            std::fs::read(grid).unwrap(),
            eval["metrics"].clone(),
        )
    };
    let before = measure(&run, "before");
    assert_eq!(before.2["items"], 6);
    let moved = dir.path().join("moved");
    copy_dir(&run, &moved);
    std::fs::remove_dir_all(&train).unwrap();
    assert_eq!(measure(&moved, "after"), before);
}
