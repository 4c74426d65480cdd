//! Hostile inputs end to end: every bad file, table, folder, flag and config is refused by
//! `ae` with a non-zero exit and one error line that names the file (and row or entry) and
//! what is wrong; a run that diverges keeps its last good checkpoint loadable; data read
//! with `--data-path` streams a chunk at a time. (The unknown config key, truncated IDX file,
//! batch larger than the data and weights of another architecture are in `cli.rs`.)

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::common::{ae, datasets, fails, json, ok, path_str, stderr, stdout, train_config};
use ae_toolkit::data::idx::write_idx;

/// Writes a small MNIST-shaped datasets root (`n` training and `n / 5` test images of
/// random bytes) and returns the mnist folder.
fn small_mnist(root: &Path, n: usize) -> PathBuf {
    let dir = root.join("mnist");
    std::fs::create_dir_all(&dir).unwrap();
    let mut state = 12345u64;
    let mut byte = || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 56) as u8
    };
    for (prefix, count) in [("train", n), ("t10k", n / 5)] {
        let pixels: Vec<u8> = (0..count * 784).map(|_| byte()).collect();
        let labels: Vec<u8> = (0..count).map(|i| (i % 10) as u8).collect();
        write_idx(
            &dir.join(format!("{prefix}-images-idx3-ubyte.gz")),
            &[count, 28, 28],
            &pixels,
            true,
        )
        .unwrap();
        write_idx(
            &dir.join(format!("{prefix}-labels-idx1-ubyte.gz")),
            &[count],
            &labels,
            true,
        )
        .unwrap();
    }
    dir
}

/// `ae train` of a small autoencoder on the datasets root `root`.
fn train_on_mnist_root(root: &Path, run: &Path) -> Output {
    ae(&[
        "train",
        "--model",
        "ae",
        "--hidden",
        "16",
        "--latent",
        "2",
        "--epochs",
        "1",
        "--batch-size",
        "10",
        "--data-path",
        &path_str(root),
        "--run-dir",
        &path_str(run),
        "--plain",
        "--no-pictures",
    ])
}

/// The error of a failed command, which must be one clean error line: the last thing on
/// stderr, after any progress lines.
fn failure(out: &Output) -> String {
    assert!(!out.status.success(), "expected failure: {}", stdout(out));
    let text = stderr(out);
    assert!(!text.contains("panicked"), "{text}");
    let start = if text.starts_with("error:") {
        0
    } else {
        text.find("\nerror:")
            .map(|i| i + 1)
            .unwrap_or_else(|| panic!("no error line in: {text}"))
    };
    text[start..].to_string()
}

/// Checks that `error` holds every one of `parts`, and shows the message in the test log.
fn says(error: &str, parts: &[&str]) {
    println!("{}", error.trim_end());
    for part in parts {
        assert!(error.contains(part), "missing {part:?} in: {error}");
    }
    assert_eq!(error.trim_end().lines().count(), 1, "one line: {error}");
}

#[test]
fn malformed_idx_files_are_named_with_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let run = dir.path().join("run");
    let mnist = small_mnist(&root, 50);
    // The good root trains, so each failure below is the file's fault.
    let good = train_on_mnist_root(&root, &run);
    json(&good);

    let images = mnist.join("train-images-idx3-ubyte.gz");
    let original = std::fs::read(&images).unwrap();
    let raw_header = |type_code: u8| {
        let mut bytes = vec![0, 0, type_code, 3];
        for d in [50u32, 28, 28] {
            bytes.extend_from_slice(&d.to_be_bytes());
        }
        bytes
    };
    let mut float_type = raw_header(0x0D);
    float_type.extend(vec![0u8; 50 * 784 * 4]);
    let mut trailing = raw_header(0x08);
    trailing.extend(vec![0u8; 50 * 784 + 3]);
    let cases: Vec<(&str, Vec<u8>, Vec<&str>)> = vec![
        (
            "wrong magic",
            b"PK\x03\x04 not an idx file at all".to_vec(),
            vec!["not an IDX file", "magic number"],
        ),
        (
            "unsupported type",
            float_type,
            vec!["unsupported IDX data type 0x0d", "32-bit float"],
        ),
        (
            "truncated",
            raw_header(0x08)[..10].to_vec(),
            vec!["truncated header"],
        ),
        (
            "trailing bytes",
            trailing,
            vec!["trailing data: 3 unexpected bytes"],
        ),
        (
            "corrupt gzip",
            {
                let mut bytes = original[..original.len() / 3].to_vec();
                bytes.extend_from_slice(b"garbage in the middle of a deflate stream");
                bytes
            },
            vec!["corrupt gzip stream"],
        ),
    ];
    for (what, bytes, parts) in cases {
        std::fs::write(&images, &bytes).unwrap();
        let error = failure(&train_on_mnist_root(&root, &run));
        println!("{what}:");
        let mut expected = vec!["train-images-idx3-ubyte.gz"];
        expected.extend(parts);
        says(&error, &expected);
    }
    std::fs::write(&images, &original).unwrap();

    // 50 images but 49 labels.
    let labels = mnist.join("train-labels-idx1-ubyte.gz");
    let label_bytes: Vec<u8> = (0..49).map(|i| (i % 10) as u8).collect();
    write_idx(&labels, &[49], &label_bytes, true).unwrap();
    let error = failure(&train_on_mnist_root(&root, &run));
    says(&error, &["train-labels-idx1-ubyte.gz", "49", "50"]);
}

/// A `[data]` config for an image folder at `path` with `extra` lines, trained briefly.
fn folder_config(dir: &Path, path: &Path, extra: &str) -> PathBuf {
    let config = dir.join("folder.toml");
    std::fs::write(
        &config,
        format!(
            "[data]\nsource = \"image-folder\"\npath = \"{}\"\nheight = 8\nwidth = 8\nchannels = 1\n{extra}\n\
             [model]\nmodel = \"autoencoder\"\nlatent = 2\narchitecture = {{ kind = \"mlp\", hidden = [8] }}\n\
             [training]\nepochs = 1\nbatch_size = 2\n",
            path.display()
        ),
    )
    .unwrap();
    config
}

fn grey_png(path: &Path, w: u32, h: u32) {
    image::GrayImage::from_fn(w, h, |x, y| image::Luma([((x * 31 + y * 17) % 256) as u8]))
        .save(path)
        .unwrap();
}

#[test]
fn bad_image_folders_name_the_folder_or_file() {
    let dir = tempfile::tempdir().unwrap();
    let run = path_str(&dir.path().join("run"));
    let run_path = dir.path().join("run");
    let train = |config: &Path| train_config(config, &run_path);

    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let error = fails(&[
        "train",
        "--config",
        &path_str(&folder_config(dir.path(), &empty, "")),
        "--run-dir",
        &run,
    ]);
    says(&error, &["empty", "no images found"]);

    let images = dir.path().join("images");
    std::fs::create_dir(&images).unwrap();
    for i in 0..12 {
        grey_png(&images.join(format!("{i:02}.png")), 8, 8);
    }
    std::fs::write(
        images.join("notes.png"),
        "these are my notes, not a picture",
    )
    .unwrap();
    let error = failure(&train(&folder_config(dir.path(), &images, "")));
    says(
        &error,
        &["notes.png", "cannot decode image", "Invalid PNG signature"],
    );
    assert_eq!(error.matches("Invalid PNG signature").count(), 1, "{error}");
    std::fs::remove_file(images.join("notes.png")).unwrap();
    std::fs::write(images.join("readme.txt"), "hello").unwrap();
    let error = fails(&[
        "train",
        "--config",
        &path_str(&folder_config(dir.path(), &images, "")),
        "--run-dir",
        &run,
    ]);
    says(&error, &["readme.txt", "not an image file"]);
    std::fs::remove_file(images.join("readme.txt")).unwrap();

    // Mixed sizes: rejected, naming the file, or resized, as configured.
    grey_png(&images.join("12-wide.png"), 12, 8);
    let error = fails(&[
        "train",
        "--config",
        &path_str(&folder_config(
            dir.path(),
            &images,
            "on_size_mismatch = \"reject\"",
        )),
        "--run-dir",
        &run,
    ]);
    says(&error, &["12-wide.png", "12x8", "8x8"]);
    let report = json(&train(&folder_config(
        dir.path(),
        &images,
        "on_size_mismatch = \"resize\"",
    )));
    assert!(
        report["summary"]["validation"]["loss"]
            .as_f64()
            .unwrap()
            .is_finite()
    );

    // A paired folder whose names do not match.
    let inputs = dir.path().join("in");
    let targets = dir.path().join("out");
    std::fs::create_dir(&inputs).unwrap();
    std::fs::create_dir(&targets).unwrap();
    for name in ["a", "b", "c"] {
        grey_png(&inputs.join(format!("{name}.png")), 8, 8);
    }
    for name in ["a", "b", "d"] {
        grey_png(&targets.join(format!("{name}.png")), 8, 8);
    }
    let error = fails(&[
        "train",
        "--model",
        "ae",
        "--data",
        "paired",
        "--data-path",
        &path_str(&inputs),
        "--target-path",
        &path_str(&targets),
        "--image-size",
        "8x8",
        "--channels",
        "1",
        "--run-dir",
        &run,
    ]);
    says(
        &error,
        &[
            "unmatched paired images",
            "without a target: c",
            "without an input: d",
        ],
    );
}

#[test]
fn bad_csv_tables_name_the_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let run = path_str(&dir.path().join("run"));
    let rows = |bad_line: &str| {
        let mut text = String::from("height,weight,age\n");
        for i in 0..30 {
            text.push_str(&format!("{},{},{}\n", 150 + i, 50 + i % 7, 20 + i % 11));
        }
        text.push_str(bad_line);
        text.push('\n');
        text
    };
    let cases: Vec<(&str, String, Vec<&str>)> = vec![
        (
            "text",
            rows("170,heavy,30"),
            vec![
                "line 32",
                "column 2 (\"weight\")",
                "text \"heavy\" is not a number",
            ],
        ),
        (
            "empty cell",
            rows("170,,30"),
            vec!["line 32", "column 2 (\"weight\")", "empty cell"],
        ),
        (
            "NaN",
            rows("170,NaN,30"),
            vec!["line 32", "not a finite number (NaN)"],
        ),
        (
            "infinite",
            rows("170,60,inf"),
            vec!["line 32", "column 3 (\"age\")", "infinite"],
        ),
        (
            "ragged",
            rows("170,60"),
            vec!["line 32", "2 cells", "ragged"],
        ),
        ("empty", String::new(), vec!["empty file"]),
    ];
    for (what, text, parts) in cases {
        let path = dir.path().join(format!("{}.csv", what.replace(' ', "-")));
        std::fs::write(&path, text).unwrap();
        let error = fails(&[
            "train",
            "--model",
            "ae",
            "--data",
            "csv",
            "--data-path",
            &path_str(&path),
            "--run-dir",
            &run,
        ]);
        println!("{what}:");
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let mut expected = vec![name.as_str()];
        expected.extend(parts);
        says(&error, &expected);
    }
}

#[test]
fn out_of_range_flags_are_refused_before_training() {
    let dir = tempfile::tempdir().unwrap();
    let run = path_str(&dir.path().join("run"));
    let data = datasets();
    let base = [
        "train",
        "--model",
        "ae",
        "--data-path",
        &data,
        "--run-dir",
        &run,
    ];
    let cases: Vec<(Vec<&str>, Vec<&str>)> = vec![
        (
            vec!["--latent", "0"],
            vec!["model.latent must be at least 1"],
        ),
        (vec!["--noise", "gaussian:-0.5"], vec!["sigma", "-0.5"]),
        (
            vec!["--noise", "salt-and-pepper:1.5"],
            vec!["probability in [0, 1]", "1.5"],
        ),
        (
            vec!["--noise", "masking:-0.1"],
            vec!["probability in [0, 1]", "-0.1"],
        ),
        (
            vec!["--epochs", "0"],
            vec!["training.epochs must be at least 1"],
        ),
        (vec!["--lr=-1"], vec!["learning_rate must be positive"]),
        (vec!["--hidden", "0"], vec!["hidden"]),
        (vec!["--normal-classes", "12"], vec!["12"]),
    ];
    for (flags, parts) in cases {
        let mut args = base.to_vec();
        args.extend(&flags);
        let error = fails(&args);
        println!("{flags:?}:");
        says(&error, &parts);
        assert!(
            !dir.path().join("run").join("metrics.csv").exists(),
            "{flags:?} started training"
        );
    }
}

#[test]
fn a_diverging_run_stops_naming_the_term_and_keeps_its_last_good_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let config = dir.path().join("diverge.toml");
    // Two good epochs, then the step schedule multiplies the rate by 1e12: the squared error
    // overflows within a few steps of epoch 3.
    std::fs::write(
        &config,
        format!(
            "seed = 5\n[data]\nsource = \"mnist\"\npath = \"{}\"\nlimit = 600\n\
             [model]\nmodel = \"autoencoder\"\nlatent = 8\nloss = \"squared-error\"\n\
             architecture = {{ kind = \"mlp\", hidden = [64] }}\n\
             [training]\nepochs = 4\nbatch_size = 50\nlearning_rate = 1e-3\n\
             lr_schedule = {{ kind = \"step\", every_epochs = 2, gamma = 1e12 }}\n",
            datasets()
        ),
    )
    .unwrap();
    let error = failure(&train_config(&config, &run));
    says(
        &error,
        &[
            "training stopped",
            "reconstruction term became",
            "step",
            "model.mpk now holds the weights of epoch 2",
        ],
    );
    assert!(error.contains("inf") || error.contains("NaN"), "{error}");
    // The kept weights are epoch 2's: `ae eval` on the validation split gives the validation
    // loss that epoch 2 logged (epoch 1's was 15 nats higher).
    let metrics = std::fs::read_to_string(run.join("metrics.csv")).unwrap();
    println!("{metrics}");
    let epoch_2: f64 = metrics
        .lines()
        .find(|l| l.starts_with("2,valid,"))
        .and_then(|l| l.split(',').nth(2))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no epoch-2 validation loss in {metrics}"));
    let report = ok(&["eval", &path_str(&run), "--split", "valid"]);
    let loss = report["metrics"]["loss"].as_f64().expect("a loss");
    assert!(
        (loss - epoch_2).abs() <= 1e-3 * epoch_2,
        "eval {loss} vs epoch 2's {epoch_2}: {report}"
    );
}

#[test]
fn data_path_streams_in_chunks_with_the_same_results_as_one_chunk() {
    let dir = tempfile::tempdir().unwrap();
    let table = dir.path().join("table.csv");
    let mut text = String::from("x,y,z,kind\n");
    for i in 0..203 {
        let t = i as f32 / 40.0;
        let kind = if i % 3 == 0 { "odd" } else { "even" };
        text.push_str(&format!("{},{},{},{kind}\n", t.cos(), t.sin(), t * 0.5));
    }
    std::fs::write(&table, &text).unwrap();
    let config = dir.path().join("table.toml");
    std::fs::write(
        &config,
        format!(
            "[data]\nsource = \"csv\"\npath = \"{}\"\nlabel_column = \"kind\"\n\
             [model]\nmodel = \"autoencoder\"\nlatent = 2\nloss = \"squared-error\"\n\
             architecture = {{ kind = \"mlp\", hidden = [8] }}\n\
             [training]\nepochs = 2\nbatch_size = 20\n",
            table.display()
        ),
    )
    .unwrap();
    let run = dir.path().join("run");
    let run_s = path_str(&run);
    json(&train_config(&config, &run));
    ok(&["anomaly", "fit", &run_s]);

    let mut scores = Vec::new();
    let mut latents = Vec::new();
    for chunk in ["7", "1000"] {
        let csv = dir.path().join(format!("scores-{chunk}.csv"));
        let report = ok(&[
            "anomaly",
            "score",
            &run_s,
            "--data-path",
            &path_str(&table),
            "--batch-size",
            chunk,
            "--out",
            &path_str(&csv),
        ]);
        assert_eq!(report["items"], 203);
        scores.push(std::fs::read_to_string(&csv).unwrap());
        let out = dir.path().join(format!("latents-{chunk}"));
        let report = ok(&[
            "encode",
            &run_s,
            "--data-path",
            &path_str(&table),
            "--batch-size",
            chunk,
            "--out",
            &path_str(&out),
        ]);
        assert_eq!(report["items"], 203);
        let npy = ae_toolkit::analysis::read_npy_f32(out.join("latents.npy")).unwrap();
        assert_eq!(npy.shape, vec![203, 2]);
        latents.push(npy.data);
        let labels = ae_toolkit::analysis::read_npy_i64(out.join("labels.npy")).unwrap();
        // Class names sort: "even" is 0, "odd" is 1.
        let expected: Vec<i64> = (0..203).map(|i| i64::from(i % 3 == 0)).collect();
        assert_eq!(labels.data, expected);
        let csv_rows = std::fs::read_to_string(out.join("latents.csv")).unwrap();
        assert_eq!(csv_rows.lines().count(), 204);
        assert_eq!(csv_rows.lines().next(), Some("z0,z1,label"));
    }
    let parse = |csv: &str| -> Vec<(String, f64)> {
        csv.lines()
            .skip(1)
            .map(|line| {
                let cells: Vec<&str> = line.split(',').collect();
                (cells[2].to_string(), cells[3].parse().unwrap())
            })
            .collect()
    };
    let (a, b) = (parse(&scores[0]), parse(&scores[1]));
    assert_eq!(a.len(), 203);
    for ((class_a, score_a), (class_b, score_b)) in a.iter().zip(&b) {
        assert_eq!(class_a, class_b);
        assert!((score_a - score_b).abs() <= 1e-5 * score_b.abs().max(1.0));
    }
    for (x, y) in latents[0].iter().zip(&latents[1]) {
        assert!((x - y).abs() <= 1e-5, "{x} vs {y}");
    }
    // A table with another number of columns is refused before anything is written.
    let narrow = dir.path().join("narrow.csv");
    std::fs::write(&narrow, "x,y,kind\n1,2,odd\n3,4,even\n").unwrap();
    let error = fails(&[
        "encode",
        &run_s,
        "--data-path",
        &path_str(&narrow),
        "--out",
        &path_str(&dir.path().join("narrow-out")),
    ]);
    says(&error, &["narrow.csv", "columns"]);
}
