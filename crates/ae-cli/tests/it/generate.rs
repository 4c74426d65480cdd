//! `ae sample --from gmm` and `ae uncertainty` on a small MNIST VAE.

use std::path::Path;

use crate::common::*;

fn train_mnist(run: &Path, model: &str) {
    let out = ae(&[
        "train",
        "--model",
        model,
        "--latent",
        "4",
        "--hidden",
        "64",
        "--data",
        "mnist",
        "--data-path",
        &datasets(),
        "--limit",
        "600",
        "--epochs",
        "2",
        "--batch-size",
        "50",
        "--run-dir",
        run.to_str().unwrap(),
        "--plain",
        "--no-pictures",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn gmm_samples_and_uncertainty_of_a_vae() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("vae");
    train_mnist(&run, "vae");
    let run_s = run.to_str().unwrap();

    let report = json(&ae(&[
        "sample",
        run_s,
        "--from",
        "gmm",
        "--components",
        "3",
        "--count",
        "9",
    ]));
    assert_eq!(report["from"], "gmm", "{report}");
    let ll = report["gmm"]["train_mean_log_likelihood"].as_f64().unwrap();
    assert!(ll.is_finite(), "{report}");
    assert_eq!(report["gmm"]["train_items"].as_u64(), Some(600));
    let picture = run.join("samples-gmm.png");
    let image = image::open(&picture).unwrap();
    // 3 x 3 grid of 28-pixel images at zoom 3.
    assert!(image.width() >= 3 * 28 * 3, "{}", image.width());
    // The prior still works, into its own file.
    let prior = json(&ae(&["sample", run_s, "--count", "4"]));
    assert_eq!(prior["from"], "prior");
    assert!(run.join("samples.png").exists());

    let report = json(&ae(&["uncertainty", run_s]));
    assert_eq!(report["items"].as_u64(), Some(10_000), "{report}");
    assert_eq!(report["centres"], "class");
    for key in ["variance_vs_error", "distance_vs_error"] {
        for method in ["pearson", "spearman"] {
            let r = report[key][method].as_f64().unwrap_or(f64::NAN);
            assert!(r.is_finite() && r.abs() <= 1.0, "{key} {method}: {report}");
        }
    }
    assert!(report["mean_posterior_variance"].as_f64().unwrap() > 0.0);
    let text = std::fs::read_to_string(run.join("uncertainty-test.csv")).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("item,label,posterior_variance,distance_to_centre,squared_error")
    );
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 10_000);
    for row in rows.iter().step_by(997) {
        let cells: Vec<&str> = row.split(',').collect();
        assert_eq!(cells.len(), 5, "{row}");
        assert!(cells[1].parse::<u32>().unwrap() < 10);
        for cell in &cells[2..] {
            let v: f64 = cell.parse().unwrap();
            assert!(v.is_finite() && v >= 0.0, "{row}");
        }
    }
    assert!(image::open(run.join("uncertainty-test.png")).is_ok());
}

#[test]
fn plain_autoencoder_has_no_uncertainty_or_prior_but_samples_from_a_gmm() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("plain");
    train_mnist(&run, "ae");
    let run_s = run.to_str().unwrap();
    let err = fails(&["uncertainty", run_s]);
    assert!(
        err.contains("needs a VAE") && err.contains("autoencoder"),
        "{err}"
    );
    let err = fails(&["sample", run_s]);
    assert!(err.contains("--from gmm"), "{err}");
    let report = json(&ae(&[
        "sample",
        run_s,
        "--from",
        "gmm",
        "--components",
        "2",
        "--count",
        "4",
    ]));
    assert!(
        report["gmm"]["train_mean_log_likelihood"]
            .as_f64()
            .unwrap()
            .is_finite()
    );
    let err = fails(&["sample", run_s, "--from", "gmm", "--components", "0"]);
    assert!(err.contains("--components"), "{err}");
}
