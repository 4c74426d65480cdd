//! `ae anomaly fit | score | eval` as a user runs them: the one-class protocol on MNIST and on
//! a CSV table, thresholds that flag the asked-for fraction, AUROC recomputed from the score CSV,
//! and clear errors.

use std::path::Path;

use crate::common::*;

/// One row of `ae anomaly score`'s CSV.
struct ScoreRow {
    label: Option<u32>,
    score: f64,
    flag: bool,
}

fn read_scores(path: &Path) -> Vec<ScoreRow> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("index,label,class,score,flag"));
    lines
        .enumerate()
        .map(|(i, line)| {
            let cells: Vec<&str> = line.split(',').collect();
            assert_eq!(cells.len(), 5, "{line}");
            assert_eq!(cells[0], i.to_string());
            ScoreRow {
                label: cells[1].parse().ok(),
                score: cells[3].parse().unwrap(),
                flag: match cells[4] {
                    "1" => true,
                    "0" => false,
                    other => panic!("flag {other}"),
                },
            }
        })
        .collect()
}

/// The scores of a CSV written without a threshold: every flag cell is empty.
fn read_unflagged(path: &Path) -> Vec<f64> {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .skip(1)
        .map(|line| {
            let cells: Vec<&str> = line.split(',').collect();
            assert_eq!(cells.len(), 5, "{line}");
            assert_eq!(cells[4], "", "no threshold, no flag: {line}");
            cells[3].parse().unwrap()
        })
        .collect()
}

/// A 1-D `float64` `.npy`, read by hand: magic, version 1.0, header, little-endian values.
fn read_npy_f64(path: &Path) -> Vec<f64> {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(&bytes[..8], b"\x93NUMPY\x01\x00");
    let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    let header = std::str::from_utf8(&bytes[10..10 + header_len]).unwrap();
    assert!(header.contains("'descr': '<f8'"), "{header}");
    let values: Vec<f64> = bytes[10 + header_len..]
        .chunks_exact(8)
        .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
        .collect();
    assert!(
        header.contains(&format!("'shape': ({},)", values.len())),
        "{header}"
    );
    values
}

/// AUROC by counting pairs: P(anomaly score > normal score) + ½ P(tie).
fn pairwise_auroc(scores: &[f64], is_anomaly: &[bool]) -> f64 {
    let anomalies: Vec<f64> = (0..scores.len())
        .filter(|&i| is_anomaly[i])
        .map(|i| scores[i])
        .collect();
    let normal: Vec<f64> = (0..scores.len())
        .filter(|&i| !is_anomaly[i])
        .map(|i| scores[i])
        .collect();
    let mut wins = 0.0;
    for a in &anomalies {
        for n in &normal {
            wins += if a > n {
                1.0
            } else if a == n {
                0.5
            } else {
                0.0
            };
        }
    }
    wins / (anomalies.len() * normal.len()) as f64
}

/// Sum of absolute differences between horizontally and vertically neighbouring pixels.
fn hand_total_variation(image: &[f32], height: usize, width: usize) -> f64 {
    let at = |y: usize, x: usize| f64::from(image[y * width + x]);
    let mut sum = 0.0;
    for y in 0..height {
        for x in 0..width {
            if x + 1 < width {
                sum += (at(y, x + 1) - at(y, x)).abs();
            }
            if y + 1 < height {
                sum += (at(y + 1, x) - at(y, x)).abs();
            }
        }
    }
    sum
}

#[test]
fn one_class_mnist_fit_score_eval() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("ones");
    let run_s = path_str(&run);
    train_mnist(
        &run,
        &[
            "--model",
            "ae",
            "--latent",
            "16",
            "--hidden",
            "128",
            "--limit",
            "2000",
            "--epochs",
            "2",
            "--batch-size",
            "50",
            "--normal-classes",
            "1",
        ],
    );

    // Before any fit: scores only, as PyOD's decision_function, in a CSV and a .npy.
    let unfitted = dir.path().join("unfitted.csv");
    let report = ok(&[
        "anomaly",
        "score",
        &run_s,
        "--split",
        "valid",
        "--out",
        &path_str(&unfitted),
    ]);
    assert!(
        report["threshold"].is_null() && report["flagged"].is_null(),
        "{report}"
    );
    let scores = read_unflagged(&unfitted);
    assert_eq!(scores.len(), 1135);
    let npy = dir.path().join("unfitted.npy");
    assert_eq!(report["npy"], path_str(&npy));
    let from_npy = read_npy_f64(&npy);
    assert_eq!(from_npy.len(), scores.len());
    // The CSV prints each f64 in full (shortest round-trip form).
    assert_eq!(from_npy, scores);
    let err = fails(&["anomaly", "fit", &run_s, "--contamination", "0.6"]);
    assert!(err.contains("(0, 0.5]") && err.contains("0.6"), "{err}");
    let err = fails(&["anomaly", "fit", &run_s, "--contamination", "0"]);
    assert!(err.contains("(0, 0.5]"), "{err}");

    let fit = ok(&["anomaly", "fit", &run_s, "--contamination", "0.05"]);
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("anomaly.json")).unwrap()).unwrap();
    assert_eq!(saved, fit["anomaly"]);
    assert_eq!(saved["score"], "error");
    assert_eq!(saved["contamination"], 0.05);
    assert_eq!(saved["normal_classes"], serde_json::json!([1]));
    // The validation split of a one-class run holds only the normal class: MNIST's test ones.
    assert_eq!(saved["validation"]["labels"], serde_json::json!([1]));
    assert_eq!(saved["validation"]["items"], 1135);
    let threshold = saved["threshold"].as_f64().unwrap();
    let fraction = saved["validation"]["flagged_fraction"].as_f64().unwrap();
    assert!((fraction - 0.05).abs() < 0.005, "{fraction}");
    assert!(!run.join("anomaly.json.tmp").exists());

    // Scoring the validation split flags the same ≈5%, each flag being score > threshold.
    let valid_csv = dir.path().join("valid.csv");
    let report = ok(&[
        "anomaly",
        "score",
        &run_s,
        "--split",
        "valid",
        "--out",
        &path_str(&valid_csv),
    ]);
    let rows = read_scores(&valid_csv);
    assert_eq!(rows.len(), 1135);
    assert!(
        rows.iter()
            .all(|r| r.flag == (r.score > threshold) && r.label == Some(1))
    );
    let flagged = rows.iter().filter(|r| r.flag).count();
    assert_eq!(report["flagged"], flagged);
    assert!((flagged as f64 / 1135.0 - 0.05).abs() < 0.005, "{flagged}");

    // The test split keeps every class: one row per item.
    ok(&["anomaly", "score", &run_s]);
    let rows = read_scores(&run.join("anomaly-scores.csv"));
    assert_eq!(rows.len(), 10_000);
    assert!(rows.iter().all(|r| r.flag == (r.score > threshold)));
    let labels: std::collections::BTreeSet<u32> = rows.iter().filter_map(|r| r.label).collect();
    assert_eq!(labels.len(), 10);

    let eval = ok(&["anomaly", "eval", &run_s]);
    let area = eval["auroc"].as_f64().unwrap();
    assert!(area > 0.9, "digit 1 against the rest: AUROC {area}");
    assert_eq!(eval["items"], 10_000);
    assert_eq!(eval["anomalies"], 10_000 - 1135);
    let auprc = eval["auprc"].as_f64().unwrap();
    assert!(auprc > 0.8865 && auprc <= 1.0, "{auprc}");
    assert!(png_size(&run.join("roc.png")).0 > 100);
    // The same AUROC counted pair by pair from the scores in the CSV.
    let scores: Vec<f64> = rows.iter().map(|r| r.score).collect();
    let is_anomaly: Vec<bool> = rows.iter().map(|r| r.label != Some(1)).collect();
    let counted = pairwise_auroc(&scores, &is_anomaly);
    assert!((counted - area).abs() < 1e-9, "{counted} vs {area}");
    let at = &eval["at_threshold"];
    assert!(at["recall"].as_f64().unwrap() > 0.5, "{at}");

    // A percentile rule: the 90th percentile flags 10%.
    let fit = ok(&["anomaly", "fit", &run_s, "--percentile", "90"]);
    let fraction = fit["anomaly"]["validation"]["flagged_fraction"]
        .as_f64()
        .unwrap();
    assert!((fraction - 0.10).abs() < 0.005, "{fraction}");

    // The error per unit of edge: each test image's score times its total variation (worked
    // out here by hand) gives back its plain reconstruction error.
    let fit = ok(&[
        "anomaly",
        "fit",
        &run_s,
        "--score",
        "error-per-tv",
        "--contamination",
        "0.05",
    ]);
    assert_eq!(fit["anomaly"]["score"], "error-per-tv");
    let tv_csv = dir.path().join("tv.csv");
    let report = ok(&["anomaly", "score", &run_s, "--out", &path_str(&tv_csv)]);
    assert_eq!(report["score"], "error-per-tv");
    let per_tv = read_scores(&tv_csv);
    let images = ae_toolkit::data::mnist::load_mnist(
        Path::new(&datasets()),
        ae_toolkit::data::mnist::MnistKind::Mnist,
        ae_toolkit::data::mnist::MnistSplit::Test,
    )
    .unwrap();
    for i in [0, 1, 2, 500, 9_999] {
        let tv = hand_total_variation(&images.input(i), 28, 28);
        let error = per_tv[i].score * (tv + 1.0 / 255.0);
        assert!(
            (error - rows[i].score).abs() < 1e-6 * rows[i].score.max(1.0),
            "item {i}: {error} vs {}",
            rows[i].score
        );
    }
    let eval_tv = ok(&["anomaly", "eval", &run_s]);
    let area_tv = eval_tv["auroc"].as_f64().unwrap();
    assert!(area_tv > 0.5 && area_tv != area, "{area_tv} vs {area}");
    let scores_tv: Vec<f64> = per_tv.iter().map(|r| r.score).collect();
    assert!((pairwise_auroc(&scores_tv, &is_anomaly) - area_tv).abs() < 1e-9);

    let err = fails(&["anomaly", "fit", &run_s, "--score", "elbo"]);
    assert!(err.contains("elbo") && err.contains("VAE"), "{err}");
    let err = fails(&["anomaly", "fit", &run_s, "--contamination", "1.5"]);
    assert!(
        err.contains("--contamination") && err.contains("1.5"),
        "{err}"
    );
}

#[test]
fn one_class_csv_table_with_known_separation() {
    let dir = tempfile::tempdir().unwrap();
    // 600 "normal" rows near a 6-D line, 60 "outlier" rows far off it; a tiny pseudo-random
    // generator keeps the table fixed.
    let mut state = 12345u64;
    let mut uniform = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5
    };
    let mut table = String::from("a,b,c,d,e,f,kind\n");
    for i in 0..660 {
        let t = uniform() * 4.0;
        let outlier = i % 11 == 0;
        let values: Vec<String> = (0..6)
            .map(|j| {
                let clean = t * (j as f64 + 1.0) / 3.0 + 0.05 * uniform();
                let v = if outlier {
                    clean + 40.0 * (j as f64 - 2.5)
                } else {
                    clean
                };
                format!("{v:.5}")
            })
            .collect();
        let kind = if outlier { "outlier" } else { "normal" };
        table.push_str(&format!("{},{kind}\n", values.join(",")));
    }
    let csv = dir.path().join("table.csv");
    std::fs::write(&csv, table).unwrap();
    let config = dir.path().join("table.toml");
    std::fs::write(
        &config,
        format!(
            r#"seed = 5
[data]
source = "csv"
path = "{}"
label_column = "kind"
classes = [0]
validation_fraction = 0.25
[model]
model = "autoencoder"
latent = 1
architecture = {{ kind = "mlp", hidden = [16], activation = "tanh" }}
loss = "squared-error"
[training]
epochs = 20
batch_size = 20
learning_rate = 0.01
"#,
            csv.display()
        ),
    )
    .unwrap();
    let run = dir.path().join("table-run");
    let run_s = path_str(&run);
    ok(&[
        "train",
        "--config",
        &path_str(&config),
        "--run-dir",
        &run_s,
        "--plain",
    ]);

    let fit = ok(&["anomaly", "fit", &run_s, "--contamination", "0.05"]);
    // Class 0 ("normal", the first name in sorted order) is the only one validated on.
    assert_eq!(
        fit["anomaly"]["validation"]["labels"],
        serde_json::json!([0])
    );
    let eval = ok(&["anomaly", "eval", &run_s]);
    // The held-out quarter keeps both kinds; every outlier scores above every normal row.
    let items = eval["items"].as_u64().unwrap();
    assert_eq!(items, 165);
    let anomalies = eval["anomalies"].as_u64().unwrap();
    assert!(anomalies > 0 && anomalies < items, "{eval}");
    assert_eq!(eval["auroc"], 1.0, "{eval}");
    assert_eq!(eval["auprc"], 1.0, "{eval}");
    assert!(eval["knn_baseline"].is_null(), "{eval}");
    let err = fails(&["anomaly", "eval", &run_s, "--score", "error-per-tv"]);
    assert!(
        err.contains("error-per-tv") && err.contains("needs images"),
        "{err}"
    );
    // The k-nearest-neighbour baseline: the far rows are far from every training row too.
    let with_knn = ok(&["anomaly", "eval", &run_s, "--knn-baseline", "3"]);
    assert_eq!(with_knn["auroc"], eval["auroc"], "{with_knn}");
    assert_eq!(with_knn["knn_baseline"]["k"], 3, "{with_knn}");
    assert_eq!(with_knn["knn_baseline"]["auroc"], 1.0, "{with_knn}");
    assert_eq!(with_knn["knn_baseline"]["auprc"], 1.0, "{with_knn}");
    // The classical detectors beside the model, on the same standardized rows.
    let with_all = ok(&["anomaly", "eval", &run_s, "--baselines"]);
    let names: Vec<&str> = with_all["baselines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 3, "{with_all}");
    assert!(names[0].starts_with("PCA-"), "{names:?}");
    assert_eq!(names[1..], ["Isolation Forest", "5-NN"]);
    for baseline in with_all["baselines"].as_array().unwrap() {
        // Rows 100 units out are easy for every detector.
        let area = baseline["auroc"].as_f64().unwrap();
        assert!(area > 0.95, "{baseline}");
    }
    assert_eq!(with_all["knn_baseline"]["k"], 5, "{with_all}");
    // --svg: the ROC also as SVG, beside its PNG, with every curve's legend.
    let roc = std::path::PathBuf::from(with_all["roc"].as_str().unwrap());
    assert!(!roc.with_extension("svg").exists());
    ok(&["--svg", "anomaly", "eval", &run_s, "--baselines"]);
    let svg = std::fs::read_to_string(roc.with_extension("svg")).unwrap();
    assert!(
        svg.starts_with("<svg") && svg.contains("Isolation Forest (AUROC"),
        "{svg}"
    );
    // The Mahalanobis score by hand: the code is 1-D, so (z - mean)² / variance of the
    // training codes (the variance dividing by n).
    let codes = |split: &str| {
        let out = dir.path().join(format!("codes-{split}"));
        ok(&["encode", &run_s, "--split", split, "--out", &path_str(&out)]);
        let npy = ae_toolkit::analysis::read_npy_f32(out.join("latents.npy")).unwrap();
        assert_eq!(npy.shape[1], 1);
        npy.data.iter().map(|&z| f64::from(z)).collect::<Vec<f64>>()
    };
    let train_codes = codes("train");
    let n = train_codes.len() as f64;
    let mean = train_codes.iter().sum::<f64>() / n;
    let variance = train_codes.iter().map(|z| (z - mean).powi(2)).sum::<f64>() / n;
    let mahalanobis_csv = dir.path().join("mahalanobis.csv");
    let report = ok(&[
        "anomaly",
        "score",
        &run_s,
        "--score",
        "mahalanobis",
        "--out",
        &path_str(&mahalanobis_csv),
    ]);
    // anomaly.json was fitted for another score: scores without flags.
    assert!(report["threshold"].is_null(), "{report}");
    let scores = read_unflagged(&mahalanobis_csv);
    let test_codes = codes("test");
    assert_eq!(scores.len(), test_codes.len());
    for (score, z) in scores.iter().zip(&test_codes) {
        let expected = (z - mean).powi(2) / variance;
        assert!(
            (score - expected).abs() <= 1e-6 * expected.max(1.0),
            "{score} vs {expected}"
        );
    }
    let eval = ok(&["anomaly", "eval", &run_s, "--score", "mahalanobis"]);
    assert_eq!(eval["score"], "mahalanobis");
    assert!(eval["auroc"].as_f64().unwrap() > 0.0, "{eval}");
    let err = fails(&["anomaly", "eval", &run_s, "--knn-baseline", "0"]);
    assert!(err.contains("--knn-baseline"), "{err}");
    let err = fails(&["anomaly", "eval", &run_s, "--knn-baseline", "100000"]);
    assert!(
        err.contains("--knn-baseline 100000") && err.contains("training items"),
        "{err}"
    );

    // Another table of the same columns: the far rows are flagged.
    let other = dir.path().join("other.csv");
    std::fs::write(
        &other,
        "a,b,c,d,e,f,kind\n0.1,0.2,0.3,0.4,0.5,0.6,normal\n-100,-60,-20,20,60,100,outlier\n\
         0,0,0,0,0,0,normal\n",
    )
    .unwrap();
    let out = dir.path().join("other-scores.csv");
    let report = ok(&[
        "anomaly",
        "score",
        &run_s,
        "--data-path",
        &path_str(&other),
        "--out",
        &path_str(&out),
    ]);
    assert_eq!(report["items"], 3);
    let rows = read_scores(&out);
    assert_eq!(rows.len(), 3);
    assert!(rows[1].flag, "the far row is flagged");
    assert!(rows[1].score > 10.0 * rows[0].score.max(rows[2].score));
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "a,b,kind\n1,2,normal\n").unwrap();
    let err = fails(&["anomaly", "score", &run_s, "--data-path", &path_str(&bad)]);
    assert!(err.contains("bad.csv"), "{err}");

    // A Mahalanobis detector keeps the training codes' Gaussian (the mean measured by hand
    // above) in anomaly.json, so the run scores with the table hidden, flagging by the saved
    // threshold.
    let fit = ok(&[
        "anomaly",
        "fit",
        &run_s,
        "--score",
        "mahalanobis",
        "--contamination",
        "0.05",
    ]);
    let saved_mean = fit["anomaly"]["code_gaussian"]["mean"][0].as_f64().unwrap();
    assert!((saved_mean - mean).abs() < 1e-9, "{saved_mean} vs {mean}");
    std::fs::rename(&csv, dir.path().join("hidden.csv")).unwrap();
    let flagged_csv = dir.path().join("mahalanobis-flagged.csv");
    let report = ok(&[
        "anomaly",
        "score",
        &run_s,
        "--data-path",
        &path_str(&other),
        "--out",
        &path_str(&flagged_csv),
    ]);
    assert_eq!(report["score"], "mahalanobis");
    let rows = read_scores(&flagged_csv);
    let threshold = report["threshold"].as_f64().unwrap();
    assert!(rows.iter().all(|r| r.flag == (r.score > threshold)));
}

#[test]
fn eval_needs_normal_classes() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("all");
    let run_s = path_str(&run);
    train_mnist(
        &run,
        &[
            "--model",
            "vae",
            "--latent",
            "4",
            "--hidden",
            "32",
            "--limit",
            "300",
            "--epochs",
            "1",
            "--batch-size",
            "50",
        ],
    );
    let err = fails(&["anomaly", "eval", &run_s]);
    assert!(err.contains("--normal-classes"), "{err}");
    // Saying which labels are normal makes the rest anomalies; a VAE scores by its -ELBO.
    let eval = ok(&["anomaly", "eval", &run_s, "--normal-classes", "0,1,2,3,4"]);
    assert_eq!(eval["score"], "elbo");
    let area = eval["auroc"].as_f64().unwrap();
    assert!(area.is_finite() && (0.0..=1.0).contains(&area), "{area}");
    assert_eq!(eval["normal_classes"], serde_json::json!([0, 1, 2, 3, 4]));
}
