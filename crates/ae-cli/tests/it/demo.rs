//! `ae demo manifold`: a 1-D autoencoder beats PCA on a curved manifold.

use crate::common::*;

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
