//! `ae traverse`, `ae interpolate` and `ae attribute` as a user runs them: grids of the expected
//! size, interpolation paths that start and end at the items' codes, and clear errors.

use std::path::Path;

use crate::common::*;

#[test]
fn traverse_interpolate_and_attribute_draw_the_expected_grids() {
    let dir = tempfile::tempdir().unwrap();
    let vae = dir.path().join("vae");
    let vae_s = path_str(&vae);
    let common = [
        "--latent",
        "4",
        "--hidden",
        "64",
        "--limit",
        "1000",
        "--epochs",
        "1",
        "--batch-size",
        "50",
    ];
    train_mnist(&vae, &[&["--model", "vae"][..], &common[..]].concat());

    // Traverse: one row per chosen dimension, one column per step.
    let picture = dir.path().join("t.png");
    let report = ok(&[
        "traverse",
        &vae_s,
        "--dims",
        "0,2",
        "--steps",
        "5",
        "--zoom",
        "2",
        "--out",
        &path_str(&picture),
    ]);
    assert_eq!(png_size(&picture), grid_size(2, 5, 2));
    assert_eq!(report["grid"]["rows"], 2);
    assert_eq!(report["grid"]["cols"], 5);
    assert_eq!(report["base"], "zero vector");
    let values: Vec<f64> = report["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert_eq!(values, vec![-3.0, -1.5, 0.0, 1.5, 3.0]);
    // Default: every dimension, nine steps, traverse.png in the run folder.
    let report = ok(&["traverse", &vae_s]);
    assert_eq!(report["dims"], serde_json::json!([0, 1, 2, 3]));
    assert_eq!(png_size(&vae.join("traverse.png")), grid_size(4, 9, 3));

    // Interpolate: a VAE gets a linear and a spherical row; both start and end exactly at the
    // two items' own codes.
    let report = ok(&[
        "interpolate",
        &vae_s,
        "--from",
        "3",
        "--to",
        "7",
        "--steps",
        "6",
    ]);
    assert_eq!(png_size(&vae.join("interpolate.png")), grid_size(2, 6, 3));
    let paths = report["paths"].as_array().unwrap();
    assert_eq!(paths.len(), 2);
    assert_eq!(paths[0]["path"], "linear");
    assert_eq!(paths[1]["path"], "spherical");
    for path in paths {
        for key in ["first_code_distance_to_from", "last_code_distance_to_to"] {
            let d = path[key].as_f64().unwrap();
            assert!(d < 1e-5, "{key}: {d}");
        }
    }
    let apart = report["code_distance"].as_f64().unwrap();
    assert!(apart > 0.01, "items 3 and 7 have different codes: {apart}");

    // Attribute: one row per input of label 1 from the test split; the input, then one column
    // per strength.
    let report = ok(&[
        "attribute",
        &vae_s,
        "--from-label",
        "1",
        "--to-label",
        "7",
        "--count",
        "3",
        "--strengths=-1,0,1",
    ]);
    assert_eq!(png_size(&vae.join("attribute.png")), grid_size(3, 4, 3));
    let test = ae_toolkit::data::load_mnist(
        Path::new(&datasets()),
        ae_toolkit::data::MnistKind::Mnist,
        ae_toolkit::data::MnistSplit::Test,
    )
    .unwrap();
    let labels = test.labels.unwrap();
    let items: Vec<usize> = report["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect();
    assert_eq!(items.len(), 3);
    assert!(items.iter().all(|&i| labels[i] == 1), "{items:?}");
    // The first three test items labelled 1.
    let expected: Vec<usize> = (0..labels.len())
        .filter(|&i| labels[i] == 1)
        .take(3)
        .collect();
    assert_eq!(items, expected);
    assert!(report["direction_norm"].as_f64().unwrap() > 0.0);
    assert_eq!(report["to_label"]["id"], 7);
    assert!(report["to_label"]["train_items"].as_u64().unwrap() > 50);
    // Chosen items, by class name (MNIST's class names are the digits).
    let report = ok(&[
        "attribute",
        &vae_s,
        "--from-label",
        "3",
        "--to-label",
        "8",
        "--items",
        "0,5",
    ]);
    assert_eq!(report["grid"]["rows"], 2);
    assert_eq!(report["grid"]["cols"], 5);

    // An autoencoder: one interpolation row; traversal around the mean code in units of each
    // dimension's spread over the test codes.
    let ae_run = dir.path().join("ae");
    let ae_s = path_str(&ae_run);
    train_mnist(&ae_run, &[&["--model", "ae"][..], &common[..]].concat());
    let report = ok(&[
        "interpolate",
        &ae_s,
        "--from",
        "0",
        "--to",
        "1",
        "--steps",
        "4",
    ]);
    assert_eq!(report["paths"].as_array().unwrap().len(), 1);
    assert_eq!(
        png_size(&ae_run.join("interpolate.png")),
        grid_size(1, 4, 3)
    );
    let report = ok(&["traverse", &ae_s, "--dims", "1", "--steps", "3"]);
    assert_eq!(report["base"], "mean test code");
    let scale = report["scale"][0].as_f64().unwrap();
    assert!(scale > 0.0 && scale.is_finite(), "{scale}");
    let report = ok(&["traverse", &ae_s, "--item", "5", "--steps", "3"]);
    assert_eq!(report["base"], "test item 5");

    // Bad inputs name the value and what it should have been.
    let err = fails(&["traverse", &vae_s, "--dims", "0,9"]);
    assert!(
        err.contains("--dims 9") && err.contains("latent size") && err.contains(" 4 "),
        "{err}"
    );
    let err = fails(&["traverse", &vae_s, "--item", "10000"]);
    assert!(
        err.contains("--item 10000") && err.contains("10000 items"),
        "{err}"
    );
    let err = fails(&["interpolate", &vae_s, "--from", "10000", "--to", "1"]);
    assert!(
        err.contains("--from 10000") && err.contains("out of range"),
        "{err}"
    );
    let err = fails(&[
        "interpolate",
        &vae_s,
        "--from",
        "0",
        "--to",
        "1",
        "--steps",
        "1",
    ]);
    assert!(err.contains("--steps"), "{err}");
    let err = fails(&["attribute", &vae_s, "--from-label", "1", "--to-label", "11"]);
    assert!(
        err.contains("'11'") && err.contains("labels present") && err.contains("9: "),
        "{err}"
    );
    let err = fails(&[
        "attribute",
        &vae_s,
        "--from-label",
        "seven",
        "--to-label",
        "1",
    ]);
    assert!(err.contains("--from-label 'seven'"), "{err}");
}

#[test]
fn attribute_in_a_one_class_run_lists_the_labels_it_has() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("ones");
    train_mnist(
        &run,
        &[
            "--model",
            "ae",
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
            "--normal-classes",
            "1",
        ],
    );
    let err = fails(&[
        "attribute",
        &path_str(&run),
        "--from-label",
        "1",
        "--to-label",
        "7",
    ]);
    assert!(
        err.contains("'7'") && err.contains("labels present: 1: 300 items"),
        "{err}"
    );
}
