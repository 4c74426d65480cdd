//! `ae pca`, `ae compare-pca`, `ae encode`, `ae cluster` and `ae dec` end to end on planted
//! data.

use std::path::Path;

use crate::common::*;

/// Deterministic standard normal draws (xorshift + Box–Muller), so the tests need no crate.
struct Normal(u64);

impl Normal {
    fn uniform(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        ((self.0 >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    fn sample(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
}

/// Writes `n` rows of `scales.len()`-dimensional Gaussian factors (with those standard
/// deviations) mixed into `dim` columns by a fixed random matrix, plus `noise`.
fn write_low_rank_csv(path: &Path, n: usize, dim: usize, scales: &[f64], noise: f64, seed: u64) {
    let mut rng = Normal(seed);
    let mixing: Vec<Vec<f64>> = scales
        .iter()
        .map(|_| (0..dim).map(|_| rng.sample()).collect())
        .collect();
    let mut text = (0..dim)
        .map(|j| format!("x{j}"))
        .collect::<Vec<_>>()
        .join(",")
        + "\n";
    for _ in 0..n {
        let factors: Vec<f64> = scales.iter().map(|s| s * rng.sample()).collect();
        let row: Vec<String> = (0..dim)
            .map(|j| {
                let v: f64 = factors.iter().zip(&mixing).map(|(f, m)| f * m[j]).sum();
                format!("{:.6}", v + noise * rng.sample())
            })
            .collect();
        text += &(row.join(",") + "\n");
    }
    std::fs::write(path, text).unwrap();
}

fn results_at(report: &serde_json::Value, k: u64) -> serde_json::Value {
    report["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["components"].as_u64() == Some(k))
        .cloned()
        .unwrap_or_else(|| panic!("no result for k = {k}: {report}"))
}

#[test]
fn pca_recovers_a_planted_low_rank_subspace() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("rank3.csv");
    write_low_rank_csv(&csv, 600, 12, &[3.0, 2.0, 1.0], 0.01, 7);
    let report = json(&ae(&[
        "pca",
        "--data",
        "csv",
        "--data-path",
        csv.to_str().unwrap(),
        "--components",
        "3,5",
    ]));
    let at3 = results_at(&report, 3);
    let at5 = results_at(&report, 5);
    let explained3 = at3["variance_explained"].as_f64().unwrap();
    let explained5 = at5["variance_explained"].as_f64().unwrap();
    assert!(explained3 >= 0.99, "{report}");
    assert!(
        explained5 >= explained3 && explained5 <= 1.0 + 1e-9,
        "{report}"
    );
    // One component too few loses a whole factor.
    let at2 = json(&ae(&[
        "pca",
        "--data",
        "csv",
        "--data-path",
        csv.to_str().unwrap(),
        "--components",
        "2",
    ]));
    assert!(results_at(&at2, 2)["variance_explained"].as_f64().unwrap() < 0.97);
    let error3 = at3["test_squared_error"].as_f64().unwrap();
    let error2 = results_at(&at2, 2)["test_squared_error"].as_f64().unwrap();
    assert!(error3 < 0.05 * error2, "{error3} vs {error2}");
}

const LINEAR_CONFIG: &str = r#"
seed = 3
[data]
source = "csv"
[model]
model = "autoencoder"
latent = 3
architecture = { kind = "mlp", hidden = [], activation = "none" }
loss = "squared-error"
[training]
epochs = 40
batch_size = 64
learning_rate = 1e-2
lr_schedule = { kind = "cosine", final_fraction = 0.001 }
"#;

const BLOB_CONFIG: &str = r#"
seed = 5
[data]
source = "csv"
label_column = "label"
[model]
model = "autoencoder"
latent = 2
architecture = { kind = "mlp", hidden = [16], activation = "tanh" }
loss = "squared-error"
[training]
epochs = 15
batch_size = 32
learning_rate = 5e-3
"#;

fn train_with(config_text: &str, csv: &Path, run: &Path) {
    let config = run.with_extension("toml");
    std::fs::write(&config, config_text).unwrap();
    let out = ae(&[
        "train",
        "--config",
        config.to_str().unwrap(),
        "--data-path",
        csv.to_str().unwrap(),
        "--run-dir",
        run.to_str().unwrap(),
        "--plain",
        "--no-pictures",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn linear_autoencoder_matches_pca_and_a_nonlinear_one_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("planted.csv");
    // Three strong factors and two weak ones: PCA's top-3 subspace is well separated.
    write_low_rank_csv(&csv, 2000, 12, &[3.0, 2.5, 2.0, 0.5, 0.4], 0.05, 11);
    let run = dir.path().join("linear");
    train_with(LINEAR_CONFIG, &csv, &run);
    let report = json(&ae(&["compare-pca", run.to_str().unwrap()]));
    let ratio = report["ratio"].as_f64().unwrap();
    let largest = report["largest_angle_degrees"].as_f64().unwrap();
    let pca_error = report["pca_test_squared_error"].as_f64().unwrap();
    assert!(pca_error > 0.0, "{report}");
    assert!((0.98..=1.01).contains(&ratio), "{report}");
    assert!(largest < 5.0, "{report}");
    assert_eq!(
        report["principal_angles_degrees"].as_array().unwrap().len(),
        3
    );

    let blobs = dir.path().join("blobs.csv");
    write_blobs_csv(&blobs, 400);
    let nonlinear = dir.path().join("tanh");
    train_with(BLOB_CONFIG, &blobs, &nonlinear);
    let err = fails(&["compare-pca", nonlinear.to_str().unwrap()]);
    assert!(err.contains("not a linear autoencoder"), "{err}");
    assert!(err.contains("Tanh"), "{err}");
}

/// Four well-separated Gaussian blobs on a plane, seen through six mixed columns (plus a little
/// noise), with a text label column.
fn write_blobs_csv(path: &Path, n: usize) {
    let mut rng = Normal(99);
    let centres = [[4.0, 4.0], [4.0, -4.0], [-4.0, 4.0], [-4.0, -4.0]];
    let names = ["north", "east", "south", "west"];
    let mut text = String::from("a,b,c,d,e,f,label\n");
    for i in 0..n {
        let class = i % 4;
        let p = [
            centres[class][0] + 0.5 * rng.sample(),
            centres[class][1] + 0.5 * rng.sample(),
        ];
        let row: Vec<String> = (0..6)
            .map(|j| {
                let angle = j as f64 * std::f64::consts::PI / 6.0;
                let v = p[0] * angle.cos() + p[1] * angle.sin() + 0.1 * rng.sample();
                format!("{v:.5}")
            })
            .collect();
        text += &format!("{},{}\n", row.join(","), names[class]);
    }
    std::fs::write(path, text).unwrap();
}

#[test]
fn cluster_blobs_then_encode_round_trips_and_bad_inputs_fail() {
    let dir = tempfile::tempdir().unwrap();
    let blobs = dir.path().join("blobs.csv");
    write_blobs_csv(&blobs, 400);
    let run = dir.path().join("blobs");
    train_with(BLOB_CONFIG, &blobs, &run);

    let report = json(&ae(&["cluster", run.to_str().unwrap(), "--split", "train"]));
    assert_eq!(report["k"].as_u64(), Some(4), "{report}");
    assert_eq!(report["latent"]["accuracy"].as_f64(), Some(1.0), "{report}");
    assert_eq!(report["pca"]["accuracy"].as_f64(), Some(1.0), "{report}");
    assert!(
        (report["latent"]["nmi"].as_f64().unwrap() - 1.0).abs() < 1e-9,
        "{report}"
    );
    assert!(
        (report["pca"]["ari"].as_f64().unwrap() - 1.0).abs() < 1e-9,
        "{report}"
    );
    assert_eq!(report["latent"]["dim"].as_u64(), Some(2));
    let picture = run.join("cluster-train.png");
    assert!(image::open(&picture).unwrap().width() > 100);

    // --umap: k-means on a UMAP embedding of the code (and of the PCA points) as well.
    let report = json(&ae(&[
        "cluster",
        run.to_str().unwrap(),
        "--split",
        "train",
        "--umap",
        "--umap-neighbors",
        "10",
        "--umap-epochs",
        "100",
    ]));
    let umap = &report["latent_umap"];
    assert_eq!(umap["accuracy"].as_f64(), Some(1.0), "{report}");
    assert_eq!(umap["dim"].as_u64(), Some(4), "{report}");
    assert_eq!(umap["input_dim"].as_u64(), Some(2), "{report}");
    assert_eq!(umap["neighbors"].as_u64(), Some(10), "{report}");
    assert!(
        umap["graph_edges"].as_u64().unwrap() >= 360 * 10 / 2,
        "{report}"
    );
    assert_eq!(
        report["pca_umap"]["accuracy"].as_f64(),
        Some(1.0),
        "{report}"
    );
    assert!(image::open(run.join("umap-train.png")).unwrap().width() > 100);
    let bad_flags: [(&[&str], &[&str]); 3] = [
        (
            &["--umap", "--umap-neighbors", "100"],
            &["--umap-neighbors 100", "test split"],
        ),
        (&["--umap", "--umap-min-dist", "1.5"], &["--umap-min-dist"]),
        (&["--umap-dims", "3"], &["--umap"]),
    ];
    for (flags, expected) in bad_flags {
        let mut args = vec!["cluster", run.to_str().unwrap()];
        args.extend_from_slice(flags);
        let err = fails(&args);
        assert!(expected.iter().all(|e| err.contains(e)), "{flags:?}: {err}");
    }

    // encode: .npy and .csv agree, with labels.
    let out = dir.path().join("codes");
    let report = json(&ae(&[
        "encode",
        run.to_str().unwrap(),
        "--split",
        "train",
        "--out",
        out.to_str().unwrap(),
        "--batch-size",
        "7",
    ]));
    let items = report["items"].as_u64().unwrap() as usize;
    assert_eq!(items, 360, "{report}");
    assert_eq!(report["latent"].as_u64(), Some(2));
    let npy = ae_toolkit::analysis::read_npy_f32(out.join("latents.npy")).unwrap();
    assert_eq!(npy.shape, vec![360, 2]);
    let labels = ae_toolkit::analysis::read_npy_i64(out.join("labels.npy")).unwrap();
    assert_eq!(labels.shape, vec![360]);
    assert!(labels.data.iter().all(|&l| (0..4).contains(&l)));
    let text = std::fs::read_to_string(out.join("latents.csv")).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("z0,z1,label"));
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 360);
    for (i, row) in rows.iter().enumerate() {
        let cells: Vec<&str> = row.split(',').collect();
        assert_eq!(cells.len(), 3);
        for (j, cell) in cells[..2].iter().enumerate() {
            let value: f32 = cell.parse().unwrap();
            assert_eq!(value, npy.data[i * 2 + j], "row {i} column {j}");
        }
        assert_eq!(cells[2].parse::<i64>().unwrap(), labels.data[i]);
    }
    // The codes separate the blobs: not all equal.
    let spread = npy.data.iter().fold(0f32, |m, v| m.max(v.abs()));
    assert!(spread > 0.1, "{spread}");

    // dec: refines the run into a new run that the other commands can load.
    let refined = dir.path().join("blobs-dec");
    let report = json(&ae(&[
        "dec",
        run.to_str().unwrap(),
        "--out",
        refined.to_str().unwrap(),
        "--split",
        "train",
        "--batch-size",
        "32",
        "--update-interval",
        "10",
        "--max-iterations",
        "100",
    ]));
    assert_eq!(report["k"].as_u64(), Some(4), "{report}");
    assert_eq!(report["method"].as_str(), Some("DEC"), "{report}");
    assert!(report["iterations"].as_u64().unwrap() <= 100, "{report}");
    assert_eq!(report["before"]["accuracy"].as_f64(), Some(1.0), "{report}");
    assert_eq!(report["after"]["accuracy"].as_f64(), Some(1.0), "{report}");
    let sizes: Vec<u64> = report["after"]["cluster_sizes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    assert_eq!(sizes.iter().sum::<u64>(), 360, "{report}");
    assert!(image::open(refined.join("dec-train.png")).unwrap().width() > 100);
    let centres = ae_toolkit::analysis::read_npy_f32(refined.join("centres.npy")).unwrap();
    assert_eq!(centres.shape, vec![4, 2]);
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(refined.join("dec.json")).unwrap()).unwrap();
    assert!(saved["history"].as_array().unwrap().len() >= 2, "{saved}");
    let again = json(&ae(&[
        "cluster",
        refined.to_str().unwrap(),
        "--split",
        "train",
    ]));
    assert_eq!(again["latent"]["accuracy"].as_f64(), Some(1.0), "{again}");
    let err = fails(&["dec", run.to_str().unwrap(), "--k", "0"]);
    assert!(err.contains("--k"), "{err}");
    let err = fails(&["dec", run.to_str().unwrap(), "--out", run.to_str().unwrap()]);
    assert!(err.contains("source run"), "{err}");
    let err = fails(&["dec", run.to_str().unwrap(), "--tolerance", "2"]);
    assert!(err.contains("tolerance"), "{err}");

    // A run folder without a model.
    let empty = dir.path().join("untrained");
    std::fs::create_dir_all(&empty).unwrap();
    std::fs::copy(run.join("config.toml"), empty.join("config.toml")).unwrap();
    let err = fails(&["encode", empty.to_str().unwrap()]);
    assert!(
        err.contains("model.mpk") && err.contains("untrained"),
        "{err}"
    );
    let err = fails(&["cluster", dir.path().join("nowhere").to_str().unwrap()]);
    assert!(err.contains("nowhere"), "{err}");

    // A CSV with text in a numeric column.
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "a,b\n1,2\n3,hello\n").unwrap();
    let err = fails(&[
        "pca",
        "--data",
        "csv",
        "--data-path",
        bad.to_str().unwrap(),
        "--components",
        "1",
    ]);
    assert!(err.contains("bad.csv"), "{err}");
    // More components than values.
    let small = dir.path().join("small.csv");
    let rows: String = (0..30).map(|i| format!("{i},{}\n", i * i % 7)).collect();
    std::fs::write(&small, format!("a,b\n{rows}")).unwrap();
    let err = fails(&[
        "pca",
        "--data",
        "csv",
        "--data-path",
        small.to_str().unwrap(),
        "--components",
        "3",
    ]);
    assert!(
        err.contains("--components 3") && err.contains("2 values"),
        "{err}"
    );
    let err = fails(&["encode", run.to_str().unwrap(), "--split", "holdout"]);
    assert!(err.contains("holdout"), "{err}");
}
