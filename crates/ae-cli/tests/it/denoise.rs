//! `ae denoise` as a user runs it, plus the colorization and inpainting data: a small denoising
//! autoencoder beats its noisy input, the noisy input's PSNR matches what the known noise gives,
//! and bad corruptions are clear errors.

use std::path::Path;

use crate::common::*;

/// Standard normal CDF via erfc (Abramowitz & Stegun 7.1.26, error below 1.5e-7).
fn normal_cdf(x: f64) -> f64 {
    let z = x.abs() / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.3275911 * z);
    let poly = t
        * (0.254829592
            + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
    let erfc = poly * (-z * z).exp();
    if x >= 0.0 {
        1.0 - 0.5 * erfc
    } else {
        0.5 * erfc
    }
}

fn normal_pdf(x: f64) -> f64 {
    (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt()
}

/// E[(clip(x + σZ, 0, 1) − x)²] for a pixel of value x.
fn clipped_gaussian_mse(x: f64, sigma: f64) -> f64 {
    let (a, b) = (-x / sigma, (1.0 - x) / sigma);
    let inside = (normal_cdf(b) - normal_cdf(a)) - (b * normal_pdf(b) - a * normal_pdf(a));
    sigma * sigma * inside + x * x * normal_cdf(a) + (1.0 - x).powi(2) * (1.0 - normal_cdf(b))
}

/// The first `n` MNIST test images, values in [0, 1].
fn mnist_test_pixels(n: usize) -> Vec<f32> {
    let test = ae_toolkit::data::load_mnist(
        Path::new(&datasets()),
        ae_toolkit::data::MnistKind::Mnist,
        ae_toolkit::data::MnistSplit::Test,
    )
    .unwrap();
    test.take(n).inputs.to_f32().into_owned()
}

fn number(report: &serde_json::Value, path: &[&str]) -> f64 {
    let mut v = report;
    for key in path {
        v = &v[*key];
    }
    v.as_f64().unwrap_or_else(|| panic!("{path:?} in {report}"))
}

#[test]
fn a_small_dae_beats_its_noisy_input_and_the_noise_psnr_is_as_predicted() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("dae");
    let run_s = path_str(&run);
    train_mnist(
        &run,
        &[
            "--model",
            "ae",
            "--latent",
            "32",
            "--hidden",
            "256",
            "--noise",
            "gaussian:0.3",
            "--limit",
            "4000",
            "--epochs",
            "3",
            "--lr",
            "0.002",
            "--batch-size",
            "25",
        ],
    );
    // `ae eval` scores noisy inputs as in training, the same each time; `--clean` scores the
    // clean ones. A model trained only on noisy inputs need not do better on clean ones (the
    // clipped noise brightens the background it learned to expect), so only the difference
    // is checked here.
    let noisy_eval = ok(&["eval", &run_s, "--limit", "500"]);
    let noisy_again = ok(&["eval", &run_s, "--limit", "500"]);
    let clean_eval = ok(&["eval", &run_s, "--limit", "500", "--clean"]);
    assert_eq!(clean_eval["clean"], true);
    assert_eq!(noisy_eval["clean"], false);
    let noisy_error = number(&noisy_eval, &["metrics", "squared_error"]);
    let clean_error = number(&clean_eval, &["metrics", "squared_error"]);
    assert_eq!(
        noisy_error,
        number(&noisy_again, &["metrics", "squared_error"])
    );
    assert!(
        (clean_error - noisy_error).abs() > 0.1 * noisy_error,
        "clean {clean_error} vs noisy {noisy_error}"
    );

    // Default: the corruption the run was trained with.
    let report = ok(&["denoise", &run_s, "--limit", "500", "--count", "6"]);
    assert_eq!(report["items"], 500);
    assert_eq!(report["pca_components_tried"], serde_json::json!([32]));
    let corruptions = report["corruptions"].as_array().unwrap();
    assert_eq!(corruptions.len(), 1);
    let gaussian = &corruptions[0];
    assert_eq!(gaussian["corruption"], "gaussian:0.3");
    assert_eq!(gaussian["pca_components"], 32);
    let pca_32 = number(gaussian, &["psnr", "pca"]);
    for method in ["noisy", "autoencoder", "median_3x3", "pca"] {
        let p = number(gaussian, &["psnr", method]);
        let s = number(gaussian, &["ssim", method]);
        assert!(p.is_finite() && p > 5.0 && p < 40.0, "{method}: {p}");
        assert!(s > 0.0 && s < 1.0, "{method}: {s}");
    }
    let noisy = number(gaussian, &["psnr", "noisy"]);
    let denoised = number(gaussian, &["psnr", "autoencoder"]);
    assert!(
        denoised > noisy + 1.0,
        "autoencoder {denoised} dB vs noisy {noisy} dB"
    );
    assert!(number(gaussian, &["psnr", "median_3x3"]) > noisy);
    assert!(number(gaussian, &["psnr", "pca"]) > noisy);
    let picture = run.join("denoise-gaussian-0.3.png");
    assert_eq!(
        png_size(&picture),
        grid_size(3, 6, 3),
        "noisy, denoised, clean rows"
    );

    // The noisy input's pooled PSNR is what the noise model predicts for these images.
    let report = ok(&[
        "denoise",
        &run_s,
        "--limit",
        "500",
        "--noise",
        "masking:0.25",
        "--noise",
        "gaussian:0.5",
        "--out-dir",
        &path_str(&dir.path().join("pictures")),
    ]);
    let pixels = mnist_test_pixels(500);
    let n = pixels.len() as f64;
    let mean_square = pixels.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>() / n;
    let masking_mse = 0.25 * mean_square;
    let gaussian_mse = pixels
        .iter()
        .map(|&x| clipped_gaussian_mse(f64::from(x), 0.5))
        .sum::<f64>()
        / n;
    let corruptions = report["corruptions"].as_array().unwrap();
    for (entry, (name, mse)) in corruptions.iter().zip([
        ("masking:0.25", masking_mse),
        ("gaussian:0.5", gaussian_mse),
    ]) {
        assert_eq!(entry["corruption"], name);
        let expected = 10.0 * (1.0 / mse).log10();
        let got = number(entry, &["psnr_pooled", "noisy"]);
        assert!(
            (got - expected).abs() < 0.05,
            "{name}: {got} dB vs predicted {expected} dB"
        );
    }
    assert!(
        dir.path()
            .join("pictures/denoise-masking-0.25.png")
            .exists()
    );
    assert!(
        dir.path()
            .join("pictures/denoise-gaussian-0.5.png")
            .exists()
    );

    // The PCA baseline as the best of several numbers of components.
    let report = ok(&[
        "denoise",
        &run_s,
        "--limit",
        "500",
        "--pca-components",
        "200,4,32",
        "--out-dir",
        &path_str(&dir.path().join("pictures")),
    ]);
    assert_eq!(
        report["pca_components_tried"],
        serde_json::json!([4, 32, 200])
    );
    let gaussian = &report["corruptions"][0];
    let by_k = gaussian["pca_psnr_by_components"].as_object().unwrap();
    assert_eq!(by_k.len(), 3);
    let (best_k, best_psnr) = by_k
        .iter()
        .map(|(k, v)| (k.clone(), v.as_f64().unwrap()))
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .unwrap();
    assert_eq!(gaussian["pca_components"].to_string(), best_k);
    assert_eq!(number(gaussian, &["psnr", "pca"]), best_psnr);
    // 32 components, alone, gave the default report's figure.
    assert!((by_k["32"].as_f64().unwrap() - pca_32).abs() < 1e-3);
    // Four components lose the digits.
    assert!(by_k["4"].as_f64().unwrap() < pca_32, "{by_k:?}");
    let err = fails(&["denoise", &run_s, "--pca-components", "0"]);
    assert!(err.contains("--pca-components"), "{err}");

    let err = fails(&["denoise", &run_s, "--noise", "block:0"]);
    assert!(
        err.contains("block:0") && err.contains("at least 1"),
        "{err}"
    );
    let err = fails(&["denoise", &run_s, "--noise", "block:40"]);
    assert!(err.contains("40x40") && err.contains("1x28x28"), "{err}");
    let err = fails(&["denoise", &run_s, "--noise", "blur:3"]);
    assert!(err.contains("blur"), "{err}");
    let err = fails(&["train", "--model", "ae", "--noise", "block:0"]);
    assert!(
        err.contains("block:0") && err.contains("at least 1"),
        "{err}"
    );
}

#[test]
fn inpainting_and_colorization_train_and_denoise() {
    let dir = tempfile::tempdir().unwrap();
    // Inpainting: a 10x10 block removed; `ae denoise` defaults to that corruption.
    let run = dir.path().join("inpaint");
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
            "--noise",
            "block:10",
            "--limit",
            "1000",
            "--epochs",
            "1",
            "--batch-size",
            "50",
        ],
    );
    let config = std::fs::read_to_string(run.join("config.toml")).unwrap();
    assert!(
        config.contains("kind = \"block\"") && config.contains("size = 10"),
        "{config}"
    );
    let report = ok(&["denoise", &run_s, "--limit", "100"]);
    let entry = &report["corruptions"][0];
    assert_eq!(entry["corruption"], "block:10");
    assert!(number(entry, &["psnr_pooled", "noisy"]).is_finite());
    assert!(run.join("denoise-block-10.png").exists());
    let err = fails(&[
        "train",
        "--model",
        "ae",
        "--noise",
        "block:29",
        "--data-path",
        &datasets(),
        "--limit",
        "100",
        "--run-dir",
        &path_str(&dir.path().join("x")),
    ]);
    assert!(
        err.contains("29x29") && err.contains("does not fit"),
        "{err}"
    );

    // Colorization: grey in (three equal channels), colour out.
    let run = dir.path().join("colour");
    let out = ok(&[
        "train",
        "--data",
        "colored-mnist",
        "--data-path",
        &datasets(),
        "--model",
        "ae",
        "--latent",
        "16",
        "--hidden",
        "64",
        "--limit",
        "500",
        "--epochs",
        "1",
        "--batch-size",
        "50",
        "--run-dir",
        &path_str(&run),
        "--plain",
    ]);
    assert!(
        out["summary"]["validation"]["loss"]
            .as_f64()
            .unwrap()
            .is_finite()
    );
    let picture = image::open(run.join("reconstructions.png"))
        .unwrap()
        .to_rgb8();
    assert_eq!(
        picture.dimensions(),
        grid_size(3, 16, 3),
        "input, target, output rows"
    );
    let cell = 28 * 3 + 2;
    let row_is_grey = |row: u32| {
        (0..16).all(|c| {
            (0..28 * 3).all(|dy| {
                (0..28 * 3).all(|dx| {
                    let p = picture.get_pixel(2 + c * cell + dx, 2 + row * cell + dy).0;
                    p[0] == p[1] && p[1] == p[2]
                })
            })
        })
    };
    assert!(row_is_grey(0), "the inputs are grey");
    assert!(!row_is_grey(1), "the targets are in colour");
}
