//! Tables as PyOD's users bring them: `ae train --data csv` with the tabular defaults (a
//! regularized MLP, squared error, AdamW, a batch that shrinks to a small table), constant
//! columns, and the standardized-error score on a table with one unpredictable column.

use std::path::{Path, PathBuf};

use crate::common::*;

/// A small deterministic generator of standard normal values (Box–Muller on an LCG).
struct Normal(u64);

impl Normal {
    fn uniform(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    fn next(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

/// Rows of six columns: an unpredictable noise column, then five mixtures of two factors;
/// `shift` moves the fourth column off its relation to the others.
fn rows(g: &mut Normal, n: usize, shift: f64, label: u32) -> String {
    let mut text = String::new();
    for _ in 0..n {
        let (a, b) = (g.next(), g.next());
        let small = |g: &mut Normal| 0.05 * g.next();
        let cells = [
            g.next(),
            a + small(g),
            b + small(g),
            a + b + shift + small(g),
            a - b + small(g),
            0.5 * a + b + small(g),
        ];
        let cells: Vec<String> = cells.iter().map(|c| format!("{c:.5}")).collect();
        text.push_str(&format!("{},{label}\n", cells.join(",")));
    }
    text
}

const HEADER: &str = "noise,a,b,sum,difference,mix,y\n";

/// Writes `train.csv` (normal rows) and `test.csv` (as many normal rows as anomalies, whose
/// fourth column is shifted by 1.5) into `dir`.
fn write_tables(dir: &Path, seed: u64, train_rows: usize, test_rows: usize) -> (PathBuf, PathBuf) {
    let mut g = Normal(seed);
    let train = dir.join("train.csv");
    std::fs::write(
        &train,
        format!("{HEADER}{}", rows(&mut g, train_rows, 0.0, 0)),
    )
    .unwrap();
    let test = dir.join("test.csv");
    let normal = rows(&mut g, test_rows, 0.0, 0);
    let anomalies = rows(&mut g, test_rows, 1.5, 1);
    std::fs::write(&test, format!("{HEADER}{normal}{anomalies}")).unwrap();
    (train, test)
}

/// `ae train --model ae --data csv` on `train` (labels in column `y`) into `run`, with `extra`.
fn train_table(train: &Path, run: &str, extra: &[&str]) -> serde_json::Value {
    let train = path_str(train);
    let mut args = vec![
        "train",
        "--model",
        "ae",
        "--data",
        "csv",
        "--data-path",
        &train,
        "--label-column",
        "y",
        "--run-dir",
        run,
    ];
    args.extend_from_slice(extra);
    ok(&args)
}

/// The value at `pointer` (e.g. "/seed") of every member of an ensemble's `report`.
fn per_member(report: &serde_json::Value, pointer: &str) -> Vec<serde_json::Value> {
    report["members"]
        .as_array()
        .unwrap_or_else(|| panic!("an ensemble report: {report}"))
        .iter()
        .map(|m| m.pointer(pointer).cloned().unwrap_or_default())
        .collect()
}

fn auroc(report: &serde_json::Value) -> f64 {
    report["auroc"].as_f64().expect("an AUROC")
}

#[test]
fn tabular_defaults_train_a_small_table_with_a_constant_column() {
    let dir = tempfile::tempdir().unwrap();
    let mut g = Normal(1);
    let mut text = String::from("x,flag,z,y\n");
    for _ in 0..25 {
        // `flag` is 0 in every row: centred and left unscaled, not refused.
        text.push_str(&format!("{:.4},0,{:.4},0\n", g.next(), g.next()));
    }
    let table = dir.path().join("small.csv");
    std::fs::write(&table, text).unwrap();
    let run = dir.path().join("run");
    let report = train_table(&table, &path_str(&run), &["--epochs", "3", "--no-pictures"]);
    assert!(
        report["summary"]["validation"]["loss"]
            .as_f64()
            .unwrap()
            .is_finite()
    );
    let config = std::fs::read_to_string(run.join("config.toml")).unwrap();
    let value = |key: &str| {
        config
            .lines()
            .find_map(|line| line.strip_prefix(&format!("{key} = ")))
            .unwrap_or_else(|| panic!("no {key} in config.toml:\n{config}"))
            .to_string()
    };
    let batch: usize = value("batch_size").parse().unwrap();
    assert!(
        (1..25).contains(&batch),
        "the default batch of 32 shrank to the training rows, got {batch}"
    );
    assert_eq!(value("optimizer"), "\"adamw\"");
    assert!(value("weight_decay").parse::<f64>().unwrap() > 0.0);
    assert_eq!(value("loss"), "\"squared-error\"");
    assert!(config.contains("norm = \"batch\""), "{config}");
    assert!(config.contains("init = \"he\""), "{config}");
    assert!(config.contains("dropout = 0.2"), "{config}");
    assert!(config.contains("code_dropout = 0.2"), "{config}");
    // Five models from seeds 42..46, one run folder, scored by the standardized error with
    // what that needs saved beside them.
    assert_eq!(per_member(&report, "/seed"), [42, 43, 44, 45, 46]);
    assert_eq!(report["score"], "standardized-error");
    let manifest = std::fs::read_to_string(run.join("ensemble.json")).unwrap();
    assert!(manifest.contains("std_squared_error"), "{manifest}");
    // `--ensemble 1` trains one model, whose error spread is saved in its folder.
    let single = dir.path().join("single");
    let one = ["--epochs", "3", "--ensemble", "1"];
    let report = train_table(&table, &path_str(&single), &one);
    assert!(report.get("members").is_none(), "{report}");
    assert!(!single.join("ensemble.json").exists());
    let spread = std::fs::read_to_string(single.join("error-spread.json")).unwrap();
    assert!(spread.contains("std_squared_error"), "{spread}");
    // Training afresh into the ensemble's folder removes what belonged to the old models:
    // their manifest and their fitted threshold.
    ok(&["anomaly", "fit", &path_str(&run)]);
    assert!(run.join("anomaly.json").is_file());
    train_table(
        &table,
        &path_str(&run),
        &[&one[..], &["--overwrite"]].concat(),
    );
    assert!(!run.join("ensemble.json").exists());
    assert!(!run.join("anomaly.json").exists());
    assert!(run.join("error-spread.json").is_file());

    // A batch asked for explicitly is not shrunk.
    let error = fails(&[
        "train",
        "--model",
        "ae",
        "--data",
        "csv",
        "--data-path",
        &path_str(&table),
        "--label-column",
        "y",
        "--batch-size",
        "64",
        "--run-dir",
        &path_str(&dir.path().join("other")),
    ]);
    assert!(error.contains("larger than"), "{error}");
}

#[test]
fn standardized_error_sees_past_an_unpredictable_column() {
    let dir = tempfile::tempdir().unwrap();
    let (train, test) = write_tables(dir.path(), 7, 800, 200);
    let run = dir.path().join("run");
    let run_s = path_str(&run);
    train_table(
        &train,
        &run_s,
        &[
            "--latent",
            "2",
            "--norm",
            "none",
            "--dropout",
            "0",
            "--code-dropout",
            "0",
            "--epochs",
            "60",
            "--seed",
            "3",
            "--ensemble",
            "1",
            "--no-pictures",
        ],
    );
    let eval = |score: &str| {
        ok(&[
            "anomaly",
            "eval",
            &run_s,
            "--data-path",
            &path_str(&test),
            "--label-column",
            "y",
            "--anomaly-classes",
            "1",
            "--score",
            score,
            "--out",
            &path_str(&dir.path().join(format!("{score}.png"))),
        ])
    };
    let plain = auroc(&eval("error"));
    let standardized = auroc(&eval("standardized-error"));
    println!("AUROC: error {plain:.3}, standardized-error {standardized:.3}");
    assert!(
        standardized > 0.9,
        "standardized-error AUROC {standardized}"
    );
    assert!(
        standardized > plain + 0.05,
        "standardized-error {standardized} vs error {plain}"
    );

    // Fitted, the spread travels in anomaly.json: the run scores without its training table.
    let fit = ok(&["anomaly", "fit", &run_s, "--score", "standardized-error"]);
    assert_eq!(fit["anomaly"]["score"].as_str(), Some("standardized-error"));
    let spread = fit["anomaly"]["error_spread"]["mean_squared_error"]
        .as_array()
        .expect("the training errors' spread");
    assert_eq!(spread.len(), 6);
    // The noise column is the hardest to reconstruct.
    let spread: Vec<f64> = spread.iter().map(|v| v.as_f64().unwrap()).collect();
    assert!(spread[1..].iter().all(|&s| s < spread[0]), "{spread:?}");
    std::fs::rename(&train, dir.path().join("hidden.csv")).unwrap();
    let out = dir.path().join("scores.csv");
    ok(&[
        "anomaly",
        "score",
        &run_s,
        "--data-path",
        &path_str(&test),
        "--label-column",
        "y",
        "--out",
        &path_str(&out),
    ]);
    assert!(Path::new(&out).is_file());
}

#[test]
fn an_ensemble_trains_as_one_run_and_scores_by_its_members() {
    let dir = tempfile::tempdir().unwrap();
    let (train, test) = write_tables(dir.path(), 11, 400, 100);
    let run = dir.path().join("run");
    let run_s = path_str(&run);
    let report = train_table(
        &train,
        &run_s,
        &[
            "--latent",
            "2",
            "--epochs",
            "15",
            "--seed",
            "5",
            "--ensemble",
            "3",
            "--bootstrap",
        ],
    );
    assert_eq!(per_member(&report, "/seed"), [5, 6, 7]);
    for member in ["members/1", "members/2"] {
        let folder = run.join(member);
        assert!(folder.join("model.mpk").is_file(), "{member}");
        let config = std::fs::read_to_string(folder.join("config.toml")).unwrap();
        assert!(config.contains("bootstrap = true"), "{config}");
    }
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("ensemble.json")).unwrap()).unwrap();
    // The statistics of the default score of a table's autoencoder, the standardized error.
    let stats = manifest["scores"]["standardized-error"].as_array().unwrap();
    assert_eq!(stats.len(), 3);
    assert!(
        stats.iter().all(|s| s["error_spread"].is_object()),
        "{manifest}"
    );

    let eval = ok(&[
        "anomaly",
        "eval",
        &run_s,
        "--data-path",
        &path_str(&test),
        "--label-column",
        "y",
        "--anomaly-classes",
        "1",
    ]);
    let members: Vec<f64> = per_member(&eval, "/auroc")
        .iter()
        .map(|a| a.as_f64().expect("each member's AUROC"))
        .collect();
    assert_eq!(members.len(), 3);
    let combined = eval["auroc"].as_f64().unwrap();
    let mean = members.iter().sum::<f64>() / 3.0;
    println!("ensemble AUROC {combined:.3}, members {members:?}");
    assert!(combined >= mean - 0.01, "{combined} vs members {members:?}");
    let spread = eval["member_auroc_spread"].as_f64().unwrap();
    let (lo, hi) = members
        .iter()
        .fold((1.0f64, 0.0f64), |(lo, hi), &a| (lo.min(a), hi.max(a)));
    assert!((spread - (hi - lo)).abs() < 1e-12);

    // Fitted, then moved away from its training table, the ensemble still scores.
    ok(&["anomaly", "fit", &run_s]);
    std::fs::rename(&train, dir.path().join("hidden.csv")).unwrap();
    let out = dir.path().join("scores.csv");
    let scored = ok(&[
        "anomaly",
        "score",
        &run_s,
        "--data-path",
        &path_str(&test),
        "--label-column",
        "y",
        "--out",
        &path_str(&out),
    ]);
    assert!(out.is_file(), "{scored}");
    // A score whose statistics were never computed needs the training data, and says so.
    let error = fails(&[
        "anomaly",
        "score",
        &run_s,
        "--data-path",
        &path_str(&test),
        "--label-column",
        "y",
        "--score",
        "mahalanobis",
    ]);
    assert!(error.contains("ae anomaly fit"), "{error}");
}

#[test]
fn an_interrupted_ensemble_resumes_where_it_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let (train, _) = write_tables(dir.path(), 5, 120, 10);
    let run = dir.path().join("run");
    let run_s = path_str(&run);
    let first = train_table(&train, &run_s, &["--epochs", "3"]);
    assert_eq!(per_member(&first, "/seed").len(), 5);
    let kept = std::fs::read(run.join("model.mpk")).unwrap();
    // As if killed after member 2's checkpoints but before its model, with member 3 stopped
    // before its first checkpoint and member 4 never started.
    let members = run.join("members");
    for file in [
        "2/model.mpk",
        "2/summary.json",
        "3/model.mpk",
        "3/summary.json",
    ] {
        std::fs::remove_file(members.join(file)).unwrap();
    }
    std::fs::remove_dir_all(members.join("3/checkpoint")).unwrap();
    std::fs::remove_dir_all(members.join("4")).unwrap();
    std::fs::remove_file(run.join("ensemble.json")).unwrap();

    let resumed = train_table(&train, &run_s, &["--epochs", "3", "--resume"]);
    assert_eq!(per_member(&resumed, "/summary/epochs"), [3; 5], "{resumed}");
    // The finished members are kept as they were; the others are complete again.
    assert_eq!(std::fs::read(run.join("model.mpk")).unwrap(), kept);
    assert!(members.join("2/model.mpk").is_file());
    assert!(members.join("3/model.mpk").is_file());
    assert!(members.join("4/model.mpk").is_file());
    assert!(run.join("ensemble.json").is_file());
}
