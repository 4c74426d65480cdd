//! The library as a Rust program uses it: the shipped examples on tiny runs, a run folder
//! copied to another place without its training data, standardization read from the run, and
//! a separate test set.

use std::path::{Path, PathBuf};

use ae_toolkit::anomaly::{AnomalyDetector, AnomalyEvalSettings, ThresholdRule};
use ae_toolkit::backend::Flex;
use ae_toolkit::burn::backend::Autodiff;
use ae_toolkit::evaluate::EvalSettings;
use ae_toolkit::{ExperimentConfig, ItemSource, Reporter, Split, TrainOptions, TrainedRun};

#[allow(dead_code)]
#[path = "../examples/train.rs"]
mod train_example;

#[allow(dead_code)]
#[path = "../examples/encode.rs"]
mod encode_example;

#[allow(dead_code)]
#[path = "../examples/score_csv.rs"]
mod score_csv_example;

#[allow(dead_code)]
#[path = "../examples/sample.rs"]
mod sample_example;

type Train = Autodiff<Flex>;

fn datasets() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../datasets")
}

fn text(p: &Path) -> String {
    p.display().to_string()
}

/// A table of `rows` rows near a line in 4-D, every `outlier_every`-th far off it, with a
/// `kind` label column when `labelled`. A tiny generator keeps it fixed.
fn write_table(path: &Path, rows: usize, outlier_every: usize, labelled: bool, seed: u64) {
    let mut state = seed.wrapping_mul(2654435761).wrapping_add(1);
    let mut uniform = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5
    };
    let mut table = String::from(if labelled {
        "a,b,c,d,kind\n"
    } else {
        "a,b,c,d\n"
    });
    for i in 0..rows {
        let t = uniform() * 4.0;
        let outlier = outlier_every > 0 && i % outlier_every == 0;
        let values: Vec<String> = (0..4)
            .map(|j| {
                let clean = t * (j as f64 + 1.0) + 0.05 * uniform();
                let v = if outlier {
                    clean + 30.0 * (j as f64 - 1.5)
                } else {
                    clean
                };
                format!("{v:.5}")
            })
            .collect();
        table.push_str(&values.join(","));
        if labelled {
            table.push_str(if outlier { ",outlier" } else { ",normal" });
        }
        table.push('\n');
    }
    std::fs::write(path, table).unwrap();
}

/// Trains an experiment described in TOML (with `{path}` standing for `data`) into `run`.
fn train_toml(toml: &str, data: &Path, run: &Path) {
    let text = toml.replace("{path}", &data.display().to_string());
    let config = ExperimentConfig::from_toml(&text, Path::new("test.toml")).unwrap();
    ae_toolkit::train::<Train>(&config, run, &Default::default(), &TrainOptions::default())
        .unwrap();
}

const TABLE_RUN: &str = r#"seed = 3
[data]
source = "csv"
path = "{path}"
[model]
model = "autoencoder"
latent = 1
architecture = { kind = "mlp", hidden = [16], activation = "tanh" }
loss = "squared-error"
[training]
epochs = 15
batch_size = 20
learning_rate = 0.01
"#;

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

#[test]
fn the_examples_train_sample_encode_and_score() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("vae");
    let report = train_example::run(&[text(&run), text(&datasets()), "300".into()]).unwrap();
    assert_eq!(report.summary.epochs, 2);
    assert!(report.summary.validation.loss.is_finite());
    for file in ["config.toml", "data.json", "model.mpk", "metrics.csv"] {
        assert!(run.join(file).exists(), "{file}");
    }

    let png = dir.path().join("samples.png");
    let size = sample_example::run(&[text(&run), text(&png), "9".into()]).unwrap();
    let picture = image::open(&png).unwrap().to_rgb8();
    assert_eq!(picture.dimensions(), size);
    // Three rows of three 28 × 28 digits at zoom 3, with 2-pixel gaps.
    assert_eq!(size, (3 * (84 + 2) + 2, 3 * (84 + 2) + 2));
    let distinct: std::collections::BTreeSet<_> = picture.pixels().map(|p| p.0).collect();
    assert!(distinct.len() > 20, "samples are not blank");

    let npy = dir.path().join("codes.npy");
    let (items, latent) =
        encode_example::run(&[text(&run), text(&datasets()), text(&npy)]).unwrap();
    assert_eq!((items, latent), (10_000, 8));
    let codes = ae_toolkit::analysis::read_npy_f32(&npy).unwrap();
    assert_eq!(codes.shape, [10_000, 8]);
    assert!(codes.data.iter().all(|v| v.is_finite()));
    assert!(encode_example::run(&[text(&run)]).is_err());

    // A table run, then a new table with a label column the run never saw.
    let table = dir.path().join("train.csv");
    write_table(&table, 300, 0, false, 1);
    let table_run = dir.path().join("table");
    train_toml(TABLE_RUN, &table, &table_run);
    let new = dir.path().join("new.csv");
    write_table(&new, 40, 5, true, 2);
    let scored = score_csv_example::run(&[text(&table_run), text(&new), "kind".into()]).unwrap();
    assert_eq!(scored.len(), 40);
    for (row, (score, flag)) in scored.iter().enumerate() {
        let outlier = row % 5 == 0;
        assert_eq!(*flag, outlier, "row {row}: score {score}");
    }
    // Without naming the label column, the table has a column the run was not trained on.
    let error = score_csv_example::run(&[text(&table_run), text(&new)])
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("kind") && error.contains("new.csv"),
        "{error}"
    );
}

/// Every number a run gives on new data: codes, scores, flags, metrics and AUROC.
#[derive(Debug, PartialEq)]
struct Numbers {
    codes: Vec<f32>,
    scores: Vec<f64>,
    flags: Vec<bool>,
    loss: f64,
    auroc: f64,
}

fn numbers(run: &Path, new: &Path, threshold: &ThresholdRule) -> Numbers {
    let run = TrainedRun::<Flex>::open(run, &Default::default()).unwrap();
    let source = ItemSource::Path {
        path: new.to_path_buf(),
        label_column: Some("kind".into()),
    };
    let items = run.read(&source).unwrap();
    let mut detector = AnomalyDetector::saved(&run)
        .unwrap()
        .expect("a saved threshold");
    assert_eq!(
        detector.threshold().unwrap().contamination,
        match threshold {
            ThresholdRule::Contamination(c) => Some(*c),
            ThresholdRule::Percentile(_) => None,
        }
    );
    detector.batch_size = 7;
    let eval = ae_toolkit::evaluate::evaluate(
        &run,
        &EvalSettings {
            source: source.clone(),
            ..EvalSettings::default()
        },
        &Reporter::silent(),
    )
    .unwrap();
    let anomaly = ae_toolkit::anomaly::evaluate(
        &run,
        &AnomalyEvalSettings {
            source,
            anomaly_classes: Some(vec!["outlier".into()]),
            out: Some(run.path().join("roc-new.png")),
            ..AnomalyEvalSettings::default()
        },
    )
    .unwrap();
    Numbers {
        codes: run.encode_rows(&items, 16).unwrap(),
        scores: detector.decision_function(&items).unwrap(),
        flags: detector.predict(&items).unwrap(),
        loss: eval.metrics.loss,
        auroc: anomaly.auroc,
    }
}

#[test]
fn a_copied_run_works_without_its_training_data_and_keeps_its_standardization() {
    let dir = tempfile::tempdir().unwrap();
    let table = dir.path().join("train.csv");
    write_table(&table, 300, 0, false, 5);
    let run = dir.path().join("table");
    train_toml(TABLE_RUN, &table, &run);
    let rule = ThresholdRule::Percentile(95.0);
    {
        let trained = TrainedRun::<Flex>::open(&run, &Default::default()).unwrap();
        let mut detector = AnomalyDetector::new(&trained, None).unwrap();
        detector.fit(rule).unwrap();
        detector.save().unwrap();
    }
    let new = dir.path().join("new.csv");
    write_table(&new, 60, 4, true, 6);
    let before = numbers(&run, &new, &rule);
    assert!(before.auroc > 0.95, "{before:?}");
    // Every outlier (each 4th row) is flagged, and few of the 45 normal rows.
    let flagged = |outlier: bool| {
        (0..60)
            .filter(|&i| (i % 4 == 0) == outlier && before.flags[i])
            .count()
    };
    assert_eq!(flagged(true), 15, "{before:?}");
    assert!(flagged(false) <= 5, "{before:?}");

    // Moved elsewhere, its training table gone.
    let moved = dir.path().join("elsewhere/table");
    copy_dir(&run, &moved);
    std::fs::remove_file(&table).unwrap();
    let after = numbers(&moved, &new, &rule);
    assert_eq!(before, after);
    // Only asking for a split needs the training data, and the error says which file.
    let opened = TrainedRun::<Flex>::open(&moved, &Default::default()).unwrap();
    let error = opened.split(Split::Test).err().unwrap().to_string();
    assert!(error.contains("train.csv"), "{error}");

    // A training table changed after training: the run's standardization still holds.
    write_table(&table, 300, 0, false, 99);
    let text = std::fs::read_to_string(&table).unwrap();
    let scaled: String = text
        .lines()
        .enumerate()
        .map(|(i, line)| {
            if i == 0 {
                return format!("{line}\n");
            }
            let cells: Vec<String> = line
                .split(',')
                .map(|c| format!("{}", c.parse::<f64>().unwrap() * 10.0 + 3.0))
                .collect();
            format!("{}\n", cells.join(","))
        })
        .collect();
    std::fs::write(&table, scaled).unwrap();
    assert_eq!(numbers(&run, &new, &rule), before);
    // ... whereas statistics fitted on the table as it is now would differ.
    let trained = TrainedRun::<Flex>::open(&run, &Default::default()).unwrap();
    let refit = ae_toolkit::data::prepare(&trained.config().data, trained.config().seed).unwrap();
    assert_ne!(
        refit.standardization.as_ref(),
        trained.standardization(),
        "the changed table has other statistics"
    );
}

/// A folder of `count` 8×8 grey images per class: a bright square in a class-specific corner.
fn write_images(root: &Path, classes: &[&str], count: usize, seed: u32) {
    for (c, class) in classes.iter().enumerate() {
        let folder = root.join(class);
        std::fs::create_dir_all(&folder).unwrap();
        for i in 0..count {
            let image = image::GrayImage::from_fn(8, 8, |x, y| {
                let (cx, cy) = ((c as u32 % 2) * 4, (c as u32 / 2) * 4);
                let inside = x >= cx && x < cx + 4 && y >= cy && y < cy + 4;
                let noise = ((x * 31 + y * 17 + i as u32 * 7 + seed) % 23) as u8;
                image::Luma([if inside { 200 + noise } else { noise }])
            });
            image.save(folder.join(format!("{i}.png"))).unwrap();
        }
    }
}

#[test]
fn an_image_folder_vae_samples_encodes_and_evaluates_after_its_folder_is_gone() {
    let dir = tempfile::tempdir().unwrap();
    let train = dir.path().join("train-images");
    write_images(&train, &["a", "b", "c"], 30, 0);
    let test = dir.path().join("test-images");
    write_images(&test, &["a", "b", "c", "d"], 5, 11);
    let run = dir.path().join("vae");
    let toml = format!(
        r#"seed = 2
[data]
source = "image-folder"
path = "{{path}}"
test_path = "{}"
height = 8
width = 8
[model]
model = "vae"
latent = 3
architecture = {{ kind = "mlp", hidden = [32] }}
[training]
epochs = 3
batch_size = 16
"#,
        test.display()
    );
    train_toml(&toml, &train, &run);
    let measure = |run: &Path| {
        let run = TrainedRun::<Flex>::open(run, &Default::default()).unwrap();
        let samples = run
            .decode(&ae_toolkit::sample::prior_codes(&run, 4, 9).unwrap())
            .unwrap();
        let eval = ae_toolkit::evaluate::evaluate(
            &run,
            &EvalSettings {
                source: ItemSource::path(&test),
                ..EvalSettings::default()
            },
            &Reporter::silent(),
        )
        .unwrap();
        let items = run.read(&ItemSource::path(&test)).unwrap();
        (
            samples,
            run.encode_rows(&items, 4).unwrap(),
            eval.metrics.squared_error,
            eval.metrics.items,
        )
    };
    let before = measure(&run);
    // The separate test set is the run's test split.
    let opened = TrainedRun::<Flex>::open(&run, &Default::default()).unwrap();
    assert_eq!(opened.split(Split::Test).unwrap().len(), 20);
    assert_eq!(opened.info().class_names, ["a", "b", "c"]);
    assert_eq!(before.3, 20);
    assert!(before.0.iter().flatten().all(|v| (0.0..=1.0).contains(v)));
    let moved = dir.path().join("moved");
    copy_dir(&run, &moved);
    std::fs::remove_dir_all(&train).unwrap();
    assert_eq!(measure(&moved), before);
}
