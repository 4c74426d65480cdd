//! The `ae` binary as a user runs it: train, eval, reconstruct, sample, and clear errors.

use std::path::Path;

use crate::common::*;

#[test]
fn train_one_epoch_then_eval_reconstruct_and_sample() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("vae");
    let run_s = run.display().to_string();
    let data = datasets();
    let out = ae(&[
        "train",
        "--model",
        "vae",
        "--latent",
        "8",
        "--hidden",
        "128",
        "--data",
        "mnist",
        "--data-path",
        &data,
        "--limit",
        "600",
        "--epochs",
        "1",
        "--batch-size",
        "50",
        "--run-dir",
        &run_s,
        "--plain",
    ]);
    let report = json(&out);
    // Progress goes to stderr, so that stdout is the JSON report alone.
    assert!(stderr(&out).contains("epoch 1/1 valid"), "{}", stderr(&out));
    let loss = report["summary"]["validation"]["loss"].as_f64().unwrap();
    assert!(loss.is_finite() && loss < 543.0, "{report}");
    for file in [
        "config.toml",
        "model.json",
        "model.mpk",
        "metrics.csv",
        "reconstructions.png",
    ] {
        assert!(run.join(file).exists(), "{file} missing");
    }

    let eval = json(&ae(&["eval", &run_s]));
    assert_eq!(eval["model"], "vae");
    // `limit` trims training and validation; eval reports on the whole test split.
    assert_eq!(eval["metrics"]["items"], 10000);
    let elbo = eval["metrics"]["negative_elbo"].as_f64().unwrap();
    assert!(
        (elbo - loss).abs() < 0.1 * loss,
        "eval {elbo} vs training {loss}"
    );
    // Without corruptions in the run, `--clean` changes nothing.
    let clean = json(&ae(&["eval", &run_s, "--clean"]));
    let clean_elbo = clean["metrics"]["negative_elbo"].as_f64().unwrap();
    assert!(
        (clean_elbo - elbo).abs() < 1e-6 * elbo,
        "--clean {clean_elbo} vs {elbo}"
    );

    let picture = dir.path().join("r.png");
    json(&ae(&[
        "reconstruct",
        &run_s,
        "--count",
        "5",
        "--out",
        &picture.display().to_string(),
    ]));
    let image = png_size(&picture);
    assert_eq!(
        image.1,
        2 * (28 * 3 + 2) + 2,
        "two rows: inputs, reconstructions"
    );

    json(&ae(&["sample", &run_s, "--count", "9"]));
    assert!(run.join("samples.png").exists());
}

#[test]
fn denoising_autoencoder_from_a_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("dae.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[data]
source = "fashion-mnist"
path = "{}"
limit = 300
corruptions = [{{ kind = "gaussian", sigma = 0.3 }}, {{ kind = "masking", p = 0.1 }}]

[model]
model = "autoencoder"
latent = 8
architecture = {{ kind = "conv", channels = [4, 8] }}

[training]
epochs = 1
batch_size = 30
"#,
            datasets()
        ),
    )
    .unwrap();
    let run = dir.path().join("dae").display().to_string();
    json(&ae(&[
        "train",
        "--config",
        &config.display().to_string(),
        "--run-dir",
        &run,
        "--plain",
    ]));
    let picture = dir.path().join("r.png");
    json(&ae(&[
        "reconstruct",
        &run,
        "--count",
        "4",
        "--out",
        &picture.display().to_string(),
    ]));
    assert_eq!(
        png_size(&picture).1,
        3 * (28 * 3 + 2) + 2,
        "noisy, clean, denoised rows"
    );
    let err = fails(&["sample", &run]);
    assert!(err.contains("needs a VAE"), "{err}");
}

#[test]
fn bad_inputs_give_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope").display().to_string();
    let err = fails(&["eval", &missing]);
    assert!(err.contains("nope") && err.contains("config.toml"), "{err}");

    let err = fails(&["train", "--model", "vae", "--backend", "cuda"]);
    assert!(err.contains("cuda"), "{err}");

    let err = fails(&["train", "--model", "ae", "--noise", "gaussian:-1"]);
    assert!(err.contains("sigma"), "{err}");
    let err = fails(&["train", "--model", "ae", "--noise", "blur:2"]);
    assert!(err.contains("blur"), "{err}");
    let err = fails(&["train"]);
    assert!(err.contains("--config") && err.contains("--model"), "{err}");

    let config = dir.path().join("bad.toml");
    std::fs::write(&config, "[data]\nsource = \"mnist\"\n[model]\nmodel = \"vae\"\nlatent = 4\nlatnet = 2\narchitecture = { kind = \"mlp\", hidden = [8] }\n").unwrap();
    let err = fails(&["train", "--config", &config.display().to_string()]);
    assert!(
        err.contains("bad.toml") && err.contains("model.latnet"),
        "{err}"
    );

    std::fs::write(&config, "[data]\nsource = \"mnist\"\n[model\n").unwrap();
    let err = fails(&["train", "--config", &config.display().to_string()]);
    assert!(err.contains("bad.toml") && err.contains("line 3"), "{err}");

    // A truncated IDX file is named in the error.
    let root = dir.path().join("datasets");
    std::fs::create_dir_all(root.join("mnist")).unwrap();
    for name in [
        "train-images-idx3-ubyte.gz",
        "train-labels-idx1-ubyte.gz",
        "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz",
    ] {
        let full = Path::new(&datasets()).join("mnist").join(name);
        let bytes = std::fs::read(full).unwrap();
        std::fs::write(root.join("mnist").join(name), &bytes[..bytes.len() / 2]).unwrap();
    }
    let err = fails(&[
        "train",
        "--model",
        "ae",
        "--data-path",
        &root.display().to_string(),
        "--run-dir",
        &dir.path().join("r").display().to_string(),
    ]);
    assert!(err.contains("train-images-idx3-ubyte.gz"), "{err}");

    let err = fails(&[
        "train",
        "--model",
        "ae",
        "--data-path",
        &datasets(),
        "--limit",
        "10",
        "--batch-size",
        "64",
        "--run-dir",
        &dir.path().join("r").display().to_string(),
    ]);
    assert!(err.contains("larger than"), "{err}");
}

#[test]
fn csv_tables_train_with_squared_error_and_reject_text_and_bce() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("table.csv");
    let mut text = String::from("a,b,c,d\n");
    for i in 0..200 {
        let t = i as f32 / 20.0;
        text.push_str(&format!("{},{},{},{}\n", t, 2.0 * t + 1.0, t.sin(), -t));
    }
    std::fs::write(&csv, &text).unwrap();
    let csv_s = csv.display().to_string();
    let run = dir.path().join("tab").display().to_string();
    let report = json(&ae(&[
        "train",
        "--model",
        "ae",
        "--data",
        "csv",
        "--data-path",
        &csv_s,
        "--hidden",
        "16",
        "--latent",
        "2",
        "--activation",
        "tanh",
        "--loss",
        "squared-error",
        "--epochs",
        "5",
        "--batch-size",
        "20",
        "--run-dir",
        &run,
        "--plain",
    ]));
    let error = report["summary"]["validation"]["squared_error"]
        .as_f64()
        .unwrap();
    assert!(error.is_finite() && error < 4.0, "{report}");
    assert!(Path::new(&run).join("standardization.json").exists());

    let err = fails(&[
        "train",
        "--model",
        "ae",
        "--loss",
        "bce",
        "--data",
        "csv",
        "--data-path",
        &csv_s,
        "--run-dir",
        &run,
    ]);
    assert!(err.contains("needs data in [0, 1]"), "{err}");

    std::fs::write(&csv, text.replace("\n3,", "\nthree,")).unwrap();
    let err = fails(&[
        "train",
        "--model",
        "ae",
        "--loss",
        "squared-error",
        "--data",
        "csv",
        "--data-path",
        &csv_s,
        "--run-dir",
        &run,
    ]);
    assert!(err.contains("table.csv") && err.contains("three"), "{err}");
}

#[test]
fn image_folders_train_with_labels_from_subfolders() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("shapes");
    for (class, value) in [("dark", 40u8), ("light", 220u8)] {
        std::fs::create_dir_all(root.join(class)).unwrap();
        for i in 0..20u8 {
            let image = image::RgbImage::from_fn(12, 10, |x, y| {
                let v = value.saturating_add(((x + y) as u8 + i) % 16);
                image::Rgb([v, v / 2, 255 - v])
            });
            image
                .save(root.join(class).join(format!("{i}.png")))
                .unwrap();
        }
    }
    let run = dir.path().join("run").display().to_string();
    let root_s = root.display().to_string();
    let report = json(&ae(&[
        "train",
        "--model",
        "ae",
        "--data",
        "image-folder",
        "--data-path",
        &root_s,
        "--image-size",
        "8x8",
        "--channels",
        "3",
        "--hidden",
        "32",
        "--latent",
        "4",
        "--epochs",
        "3",
        "--batch-size",
        "6",
        "--run-dir",
        &run,
        "--plain",
    ]));
    assert!(
        report["summary"]["validation"]["loss"]
            .as_f64()
            .unwrap()
            .is_finite()
    );
    assert!(Path::new(&run).join("reconstructions.png").exists());

    let err = fails(&[
        "train",
        "--model",
        "ae",
        "--data",
        "image-folder",
        "--data-path",
        &root_s,
        "--run-dir",
        &run,
    ]);
    assert!(err.contains("height"), "{err}");
    let err = fails(&["train", "--model", "ae", "--image-size", "8by8"]);
    assert!(err.contains("HEIGHTxWIDTH"), "{err}");
    std::fs::write(root.join("dark").join("notes.txt"), "not an image").unwrap();
    let err = fails(&[
        "train",
        "--model",
        "ae",
        "--data",
        "image-folder",
        "--data-path",
        &root_s,
        "--image-size",
        "8x8",
        "--run-dir",
        &run,
    ]);
    assert!(err.contains("notes.txt"), "{err}");
}

#[cfg(feature = "flex")]
#[test]
fn same_seed_gives_identical_losses_on_flex() {
    let dir = tempfile::tempdir().unwrap();
    let data = datasets();
    let metrics = |name: &str, seed: &str| {
        let run = dir.path().join(name);
        json(&ae(&[
            "--backend",
            "flex",
            "train",
            "--model",
            "vae",
            "--latent",
            "4",
            "--hidden",
            "64",
            "--data-path",
            &data,
            "--limit",
            "500",
            "--epochs",
            "2",
            "--batch-size",
            "50",
            "--noise",
            "masking:0.2",
            "--seed",
            seed,
            "--no-pictures",
            "--plain",
            "--run-dir",
            &run.display().to_string(),
        ]));
        // The trained weights, through what they compute bit for bit (codes of test items
        // and decodings of fixed codes), and every epoch's means, to the last digit.
        let trained =
            ae_toolkit::TrainedRun::<ae_toolkit::backend::Flex>::open(&run, &Default::default())
                .unwrap();
        let items = trained.split(ae_toolkit::Split::Test).unwrap().take(50);
        let codes = trained.encode_rows(&items, 50).unwrap();
        let fixed: Vec<f32> = (0..40).map(|i| (i as f32 * 0.37).sin() * 2.0).collect();
        let decoded: Vec<f32> = trained.decode(&fixed).unwrap().concat();
        let csv = std::fs::read_to_string(run.join("metrics.csv")).unwrap();
        assert_eq!(
            csv.lines().count(),
            5,
            "a header and 2 epochs × 2 splits: {csv}"
        );
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        (bits(&codes), bits(&decoded), csv)
    };
    let first = metrics("a", "5");
    assert_eq!(
        first,
        metrics("b", "5"),
        "same seed, same data, same backend: the same weights after every step"
    );
    assert_ne!(first, metrics("c", "6"), "another seed changes the run");
}

#[test]
fn iwae_training_and_importance_sampled_nll() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("iwae");
    let run_s = run.display().to_string();
    let data = datasets();
    let out = ae(&[
        "train",
        "--model",
        "vae",
        "--latent",
        "8",
        "--hidden",
        "64",
        "--objective",
        "iwae",
        "--samples",
        "5",
        "--binarize",
        "--data",
        "mnist",
        "--data-path",
        &data,
        "--limit",
        "1000",
        "--epochs",
        "2",
        "--batch-size",
        "50",
        "--run-dir",
        &run_s,
        "--plain",
        "--no-pictures",
    ]);
    let report = json(&out);
    let validation = &report["summary"]["validation"];
    let (bound, elbo) = (
        validation["loss"].as_f64().unwrap(),
        validation["negative_elbo"].as_f64().unwrap(),
    );
    // The IWAE bound (k = 5) is tighter than the ELBO: its negative is smaller.
    assert!(bound < elbo - 0.5, "IWAE −bound {bound} vs −ELBO {elbo}");
    assert!(bound < 300.0, "{report}");

    let eval = |k: &str| {
        json(&ae(&[
            "eval",
            &run_s,
            "--nll",
            "--importance-samples",
            k,
            "--limit",
            "200",
            "--rows-per-pass",
            "700",
        ]))["nll"]
            .clone()
    };
    let one = eval("1");
    // With K = 1 the estimate is the one-sample ELBO itself.
    let (nll_1, elbo_1) = (
        one["nll"].as_f64().unwrap(),
        one["negative_elbo"].as_f64().unwrap(),
    );
    assert!((nll_1 - elbo_1).abs() < 1e-6, "{one}");
    let many = eval("300");
    assert_eq!(many["items"], 200);
    assert_eq!(many["importance_samples"], 300);
    let (nll, neg_elbo) = (
        many["nll"].as_f64().unwrap(),
        many["negative_elbo"].as_f64().unwrap(),
    );
    // Log-mean-exp of the same draws is never below their mean: NLL ≤ −ELBO, here clearly.
    assert!(nll.is_finite() && nll < neg_elbo - 1.0, "{many}");
    let bits = many["bits_per_dim"].as_f64().unwrap();
    assert!((bits - nll / (784.0 * std::f64::consts::LN_2)).abs() < 1e-9);
    assert!(
        many.get("bits_per_dim_8bit").is_none(),
        "binarized data has no 8-bit figure"
    );

    let err = fails(&["eval", &run_s, "--nll", "--importance-samples", "0"]);
    assert!(err.contains("at least 1"), "{err}");
}

#[test]
fn nll_needs_a_vae() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("ae");
    let run_s = run.display().to_string();
    let data = datasets();
    json(&ae(&[
        "train",
        "--model",
        "ae",
        "--latent",
        "4",
        "--hidden",
        "32",
        "--data",
        "mnist",
        "--data-path",
        &data,
        "--limit",
        "200",
        "--epochs",
        "1",
        "--batch-size",
        "50",
        "--run-dir",
        &run_s,
        "--plain",
        "--no-pictures",
    ]));
    let err = fails(&["eval", &run_s, "--nll"]);
    assert!(err.contains("--nll needs a VAE"), "{err}");
    let err = fails(&[
        "train",
        "--model",
        "ae",
        "--objective",
        "iwae",
        "--data",
        "mnist",
        "--data-path",
        &data,
        "--run-dir",
        &run_s,
    ]);
    assert!(err.contains("--model vae only"), "{err}");
}

#[test]
fn dequantized_gaussian_vae_reports_8bit_bits_per_dim() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("gauss");
    let run_s = run.display().to_string();
    let data = datasets();
    json(&ae(&[
        "train",
        "--model",
        "vae",
        "--latent",
        "4",
        "--hidden",
        "64",
        "--likelihood",
        "gaussian-learned",
        "--dequantize",
        "--data",
        "fashion-mnist",
        "--data-path",
        &data,
        "--limit",
        "3000",
        "--epochs",
        "3",
        "--batch-size",
        "50",
        "--run-dir",
        &run_s,
        "--plain",
        "--no-pictures",
    ]));
    let config = std::fs::read_to_string(run.join("config.toml")).unwrap();
    assert!(config.contains("dequantize = true"), "{config}");
    let report = json(&ae(&[
        "eval",
        &run_s,
        "--nll",
        "--importance-samples",
        "20",
        "--limit",
        "100",
    ]));
    let nll = report["nll"]["nll"].as_f64().unwrap();
    let bits = report["nll"]["bits_per_dim_8bit"].as_f64().unwrap();
    let expected = (nll + 784.0 * 256f64.ln()) / (784.0 * std::f64::consts::LN_2);
    assert!((bits - expected).abs() < 1e-9, "{report}");
    // A density on [0, 1]^784 that has learned anything beats the uniform 8 bits per value.
    assert!(bits > 0.0 && bits < 8.0, "{report}");
    let err = fails(&[
        "train",
        "--model",
        "vae",
        "--binarize",
        "--dequantize",
        "--data",
        "mnist",
        "--data-path",
        &data,
        "--run-dir",
        &run_s,
    ]);
    assert!(err.contains("exclude each other"), "{err}");
}

#[test]
fn weights_of_another_architecture_are_refused_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let data = datasets();
    let train = |name: &str, hidden: &str| {
        let run = dir.path().join(name);
        let run_s = run.display().to_string();
        json(&ae(&[
            "train",
            "--model",
            "ae",
            "--latent",
            "4",
            "--hidden",
            hidden,
            "--data",
            "mnist",
            "--data-path",
            &data,
            "--limit",
            "200",
            "--epochs",
            "1",
            "--batch-size",
            "50",
            "--run-dir",
            &run_s,
            "--plain",
            "--no-pictures",
        ]));
        run
    };
    let wide = train("wide", "64");
    let narrow = train("narrow", "32");
    std::fs::copy(wide.join("model.mpk"), narrow.join("model.mpk")).unwrap();
    let err = fails(&["eval", &narrow.display().to_string(), "--limit", "10"]);
    assert!(
        err.contains("do not fit the model that config.toml describes"),
        "{err}"
    );
    assert!(err.contains("model.mpk"), "{err}");
    let deeper = train("deeper", "64,32");
    std::fs::copy(wide.join("model.mpk"), deeper.join("model.mpk")).unwrap();
    let err = fails(&["eval", &deeper.display().to_string(), "--limit", "10"]);
    assert!(err.contains("do not fit"), "{err}");
}

#[test]
fn rbm_pretraining_shows_progress_and_repeats_from_its_seed() {
    // The shipped deep-ae-mnist recipe, shrunk to a small network on 300 images.
    let dir = tempfile::tempdir().unwrap();
    let shipped =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../experiments/deep-ae-mnist.toml");
    let mut text = std::fs::read_to_string(&shipped).unwrap();
    let data = format!("source = \"mnist\"\npath = \"{}\"\nlimit = 300", datasets());
    for (from, to) in [
        ("hidden = [1000, 500, 250]", "hidden = [32]"),
        ("latent = 30", "latent = 8"),
        ("epochs = 100", "epochs = 1"),
        (
            "rbm_pretraining = { epochs = 20 }",
            "rbm_pretraining = { epochs = 2, batch_size = 25 }",
        ),
        ("source = \"mnist\"", data.as_str()),
    ] {
        assert!(text.contains(from), "{} has no `{from}`", shipped.display());
        text = text.replace(from, to);
    }
    let config = dir.path().join("rbm.toml");
    std::fs::write(&config, text).unwrap();
    let pretrain = |name: &str| {
        let run = dir.path().join(name);
        let out = train_config(&config, &run);
        let text = stderr(&out);
        assert!(
            text.contains("pretraining RBM 1/2 (784-32) epoch 2/2")
                && text.contains("pretraining RBM 2/2 (32-8) epoch 2/2"),
            "{text}"
        );
        let report = json(&out);
        let layers = report["summary"]["rbm_pretraining"]
            .as_array()
            .unwrap()
            .clone();
        assert_eq!(layers.len(), 2, "{report}");
        let errors: Vec<f64> = layers
            .iter()
            .map(|l| l["reconstruction_error"].as_f64().unwrap())
            .collect();
        assert!(
            errors.iter().all(|e| e.is_finite() && *e > 0.0),
            "{errors:?}"
        );
        let validation = report["summary"]["validation"]["squared_error"].as_f64();
        (errors, validation.unwrap())
    };
    assert_eq!(
        pretrain("a"),
        pretrain("b"),
        "the same seed, the same stack"
    );
}

#[test]
fn completions_and_version_describe_this_binary() {
    let out = ae(&["completions", "bash"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let script = stdout(&out);
    // A bash completion function that knows the subcommands and their flags.
    assert!(script.contains("_ae()"), "{script}");
    for word in ["anomaly", "interpolate", "--batch-size", "--backend"] {
        assert!(script.contains(word), "completion script lacks {word}");
    }
    let fish = stdout(&ae(&["completions", "fish"]));
    assert!(fish.contains("complete -c ae"), "{fish}");
    assert!(fails(&["completions", "tcsh"]).contains("tcsh"));

    let version = stdout(&ae(&["--version"]));
    assert!(version.contains(env!("CARGO_PKG_VERSION")), "{version}");
    // The default features compile the flex and ndarray backends in.
    assert!(
        version.contains("flex") && version.contains("ndarray"),
        "{version}"
    );
}

#[test]
fn quiet_and_verbose_set_how_much_goes_to_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let data = datasets();
    let train = |flag: &str, name: &str| {
        let run = dir.path().join(name);
        let out = ae(&[
            flag,
            "train",
            "--model",
            "ae",
            "--data",
            "mnist",
            "--data-path",
            &data,
            "--limit",
            "200",
            "--epochs",
            "1",
            "--batch-size",
            "50",
            "--hidden",
            "16",
            "--latent",
            "2",
            "--no-pictures",
            "--run-dir",
            &path_str(&run),
        ]);
        assert!(out.status.success(), "{flag}: {}", stderr(&out));
        // stdout is the report, whatever the flag.
        json(&out);
        stderr(&out)
    };
    let plain = train("--plain", "plain");
    assert!(plain.contains("epoch 1/1 train"), "{plain}");
    assert_eq!(train("-q", "quiet"), "", "-q leaves only errors");
    // -v adds burn's own log records (it logs each epoch's training step at info level).
    let verbose = train("-v", "verbose");
    assert!(verbose.contains("epoch 1/1 train"), "{verbose}");
    assert!(
        verbose.contains("INFO") && verbose.contains("Executing training step for epoch 1"),
        "{verbose}"
    );
    let err = fails(&["-q", "-v", "pca", "--data", "mnist"]);
    assert!(
        err.contains("--quiet") && err.contains("--verbose"),
        "{err}"
    );
}

#[test]
fn devices_flag_trains_data_parallel_and_is_kept_in_the_config() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("two");
    let report = train_mnist(
        &run,
        &[
            "--model",
            "ae",
            "--latent",
            "8",
            "--hidden",
            "64",
            "--limit",
            "600",
            "--epochs",
            "1",
            "--batch-size",
            "50",
            "--devices",
            "0,0",
        ],
    );
    assert!(
        report["summary"]["validation"]["loss"]
            .as_f64()
            .unwrap()
            .is_finite()
    );
    let config = std::fs::read_to_string(run.join("config.toml")).unwrap();
    assert!(
        config.contains("devices = [\n    0,\n    0,\n]") || config.contains("devices = [0, 0]"),
        "{config}"
    );
    let err = fails(&[
        "train",
        "--model",
        "ae",
        "--data",
        "mnist",
        "--data-path",
        &datasets(),
        "--run-dir",
        &path_str(&dir.path().join("three")),
        "--limit",
        "600",
        "--batch-size",
        "50",
        "--devices",
        "0,0,0",
    ]);
    assert!(
        err.contains("does not split evenly over 3 devices"),
        "{err}"
    );
}
