use ae_analysis::{
    AnalysisError, IsolationForest, IsolationForestSettings, Matrix, auroc, average_path_length,
};

use crate::common::{normal, rng};

fn settings(seed: u64) -> IsolationForestSettings {
    IsolationForestSettings {
        seed,
        ..Default::default()
    }
}

#[test]
fn the_average_path_length_matches_its_formula() {
    // c(n) = 2 (ln(n - 1) + γ) - 2 (n - 1) / n, by hand.
    assert_eq!(average_path_length(0), 0.0);
    assert_eq!(average_path_length(1), 0.0);
    assert_eq!(average_path_length(2), 1.0);
    assert!((average_path_length(3) - 1.207_392_7).abs() < 1e-6);
    assert!((average_path_length(256) - 10.244_770).abs() < 1e-5);
}

#[test]
fn path_lengths_on_tiny_sets_are_known() {
    // Two distinct points: every split between them isolates both at depth 1.
    let two = Matrix::new(2, 2, vec![0.0, 0.0, 1.0, 3.0]).unwrap();
    let forest = IsolationForest::fit(&two, &settings(1)).unwrap();
    assert_eq!(forest.path_length(&[0.0, 0.0]), 1.0);
    assert_eq!(forest.path_length(&[1.0, 3.0]), 1.0);
    let scores = forest.score(&two).unwrap();
    // 2^(-1 / c(2)) = 0.5.
    assert!(
        scores.iter().all(|&s| (s - 0.5).abs() < 1e-12),
        "{scores:?}"
    );

    // Eight equal points cannot be split: one leaf of 8, a path of c(8), a score of 0.5.
    let same = Matrix::from_fn(8, 3, |_, j| j as f64);
    let forest = IsolationForest::fit(&same, &settings(2)).unwrap();
    assert!((forest.path_length(&[0.0, 1.0, 2.0]) - average_path_length(8)).abs() < 1e-12);

    // Seven equal points and one far away: the first split always isolates the far one
    // (depth 1, a leaf of 1), and leaves the seven in one leaf (1 + c(7)).
    let mut data = vec![0.0; 16];
    data[14] = 50.0;
    data[15] = 50.0;
    let one_out = Matrix::new(8, 2, data).unwrap();
    let forest = IsolationForest::fit(&one_out, &settings(3)).unwrap();
    assert_eq!(forest.path_length(&[50.0, 50.0]), 1.0);
    assert!((forest.path_length(&[0.0, 0.0]) - (1.0 + average_path_length(7))).abs() < 1e-12);
}

#[test]
fn planted_outliers_score_highest() {
    let mut r = rng(11);
    let (n, d, outliers) = (500, 5, 10);
    let mut values = Vec::new();
    for _ in 0..n * d {
        values.push(normal(&mut r));
    }
    // Outliers 6 standard deviations out along a random sign pattern.
    for i in 0..outliers * d {
        values.push(if (i * 7) % 3 == 0 { 6.0 } else { -6.0 } + 0.1 * normal(&mut r));
    }
    let data = Matrix::new(n + outliers, d, values).unwrap();
    let forest = IsolationForest::fit(&data, &settings(4)).unwrap();
    let scores = forest.score(&data).unwrap();
    let is_outlier: Vec<bool> = (0..n + outliers).map(|i| i >= n).collect();
    let area = auroc(&scores, &is_outlier).unwrap();
    assert!(area > 0.99, "AUROC {area}");
    assert!(scores.iter().all(|&s| s > 0.0 && s <= 1.0));
    // Reproducible from the seed, and another seed grows another forest.
    assert_eq!(IsolationForest::fit(&data, &settings(4)).unwrap(), forest);
    assert_ne!(IsolationForest::fit(&data, &settings(5)).unwrap(), forest);
}

#[test]
fn bad_settings_and_data_are_refused() {
    let data = Matrix::from_fn(10, 2, |i, j| (i + j) as f64);
    for (s, name) in [
        (
            IsolationForestSettings {
                trees: 0,
                ..Default::default()
            },
            "trees",
        ),
        (
            IsolationForestSettings {
                sample_size: 1,
                ..Default::default()
            },
            "sample_size",
        ),
    ] {
        match IsolationForest::fit(&data, &s) {
            Err(AnalysisError::InvalidParameter { name: got, .. }) => assert_eq!(got, name),
            other => panic!("{name}: {other:?}"),
        }
    }
    let one = Matrix::from_fn(1, 2, |_, _| 0.0);
    assert!(matches!(
        IsolationForest::fit(&one, &settings(0)),
        Err(AnalysisError::TooFewPoints { .. })
    ));
    let nan = Matrix::new(2, 1, vec![0.0, f64::NAN]).unwrap();
    assert!(IsolationForest::fit(&nan, &settings(0)).is_err());
    let forest = IsolationForest::fit(&data, &settings(0)).unwrap();
    assert!(matches!(
        forest.score(&Matrix::from_fn(3, 4, |_, _| 0.0)),
        Err(AnalysisError::DimensionMismatch { .. })
    ));
}
