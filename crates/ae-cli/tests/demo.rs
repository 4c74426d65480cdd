//! `ae demo manifold`: a 1-D autoencoder beats PCA on a curved manifold.

use std::process::{Command, Output};

fn ae(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ae"))
        .args(args)
        .env_remove("AE_DATASETS")
        .output()
        .expect("the ae binary runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs `ae` expecting failure; returns its stderr.
fn fails(args: &[&str]) -> String {
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

/// The JSON object at the end of stdout (training prints progress lines before it).
fn json(o: &Output) -> serde_json::Value {
    assert!(o.status.success(), "stderr: {}", stderr(o));
    let text = stdout(o);
    let start = text.rfind("\n{").map_or(0, |i| i + 1);
    serde_json::from_str(&text[start..]).expect("valid JSON")
}

#[test]
fn one_dimensional_autoencoder_beats_pca_on_the_parabola() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("demo");
    let report = json(&ae(&[
        "demo",
        "manifold",
        "--seeds",
        "2",
        "--epochs",
        "20",
        "--samples",
        "1000",
        "--data",
        "parabola",
        "--out",
        out.to_str().unwrap(),
    ]));
    let parabola = &report["results"]["parabola"];
    let seeds = parabola["seeds"].as_array().unwrap();
    assert_eq!(seeds.len(), 2, "{report}");
    for seed in seeds {
        let pca = seed["pca_test_squared_error"].as_f64().unwrap();
        let ae = seed["autoencoder_test_squared_error"].as_f64().unwrap();
        // PCA keeps x and loses the parabola's y variance (about 4/45 ≈ 0.09).
        assert!(pca > 0.05 && pca < 0.15, "{report}");
        assert!(ae < pca, "{report}");
    }
    let pca = parabola["median_pca_test_squared_error"].as_f64().unwrap();
    let ae = parabola["median_autoencoder_test_squared_error"]
        .as_f64()
        .unwrap();
    assert!(ae <= 0.5 * pca, "{report}");
    assert!((parabola["median_ratio"].as_f64().unwrap() - ae / pca).abs() < 1e-12);
    assert!(image::open(out.join("parabola.png")).unwrap().width() > 100);
    assert!(report["results"].get("helix").is_none());

    let err = fails(&[
        "demo",
        "manifold",
        "--data",
        "torus",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(err.contains("torus"), "{err}");
    let err = fails(&[
        "demo",
        "manifold",
        "--seeds",
        "0",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(err.contains("--seeds"), "{err}");
}
