use ae_analysis::{
    AnalysisError, auroc, average_precision, percentile, roc_curve, threshold_for_contamination,
};

use crate::common::assert_close;

// scikit-learn's documentation example: y = [0, 0, 1, 1], s = [0.1, 0.4, 0.35, 0.8].
const SCORES: [f64; 4] = [0.1, 0.4, 0.35, 0.8];
const FLAGS: [bool; 4] = [false, false, true, true];

#[test]
fn auroc_hand_example() {
    // Pairs (anomaly, normal): (0.35,0.1)=1, (0.35,0.4)=0, (0.8,0.1)=1, (0.8,0.4)=1 → 3/4.
    assert_close(auroc(&SCORES, &FLAGS).unwrap(), 0.75, 1e-12);
    // Reversing the scores reverses the ranking.
    let neg: Vec<f64> = SCORES.iter().map(|s| -s).collect();
    assert_close(auroc(&neg, &FLAGS).unwrap(), 0.25, 1e-12);
}

#[test]
fn auroc_with_ties_gives_half_credit() {
    // Anomalies {0.5, 0.9}, normals {0.5, 0.1}: 0.5 + 1 + 1 + 1 = 3.5 of 4 pairs.
    let s = [0.5, 0.5, 0.9, 0.1];
    let f = [true, false, true, false];
    assert_close(auroc(&s, &f).unwrap(), 0.875, 1e-12);
    // All tied → 0.5.
    assert_close(
        auroc(&[1.0; 4], &[true, false, true, false]).unwrap(),
        0.5,
        1e-12,
    );
}

#[test]
fn average_precision_hand_examples() {
    // Descending: 0.8 (A) → R .5, P 1; 0.4 (N) → R .5; 0.35 (A) → R 1, P 2/3.
    // AP = 0.5 * 1 + 0.5 * 2/3 = 5/6.
    assert_close(
        average_precision(&SCORES, &FLAGS).unwrap(),
        5.0 / 6.0,
        1e-12,
    );
    // Ties: 0.9 (A) → R .5 P 1; {0.5 A, 0.5 N} together → R 1, P 2/3 → 5/6.
    let s = [0.5, 0.5, 0.9, 0.1];
    let f = [true, false, true, false];
    assert_close(average_precision(&s, &f).unwrap(), 5.0 / 6.0, 1e-12);
    // One tied group: precision 2/4 at recall 1.
    assert_close(average_precision(&[1.0; 4], &f).unwrap(), 0.5, 1e-12);
    // Only anomalies: perfect.
    assert_close(
        average_precision(&[0.3, 0.2], &[true, true]).unwrap(),
        1.0,
        1e-12,
    );
}

#[test]
fn roc_curve_points() {
    let curve = roc_curve(&SCORES, &FLAGS).unwrap();
    let expected = [
        (0.0, 0.0, f64::INFINITY),
        (0.0, 0.5, 0.8),
        (0.5, 0.5, 0.4),
        (0.5, 1.0, 0.35),
        (1.0, 1.0, 0.1),
    ];
    assert_eq!(curve, expected);
    // Trapezoidal area under these points equals the AUROC.
    let area: f64 = curve
        .windows(2)
        .map(|w| (w[1].0 - w[0].0) * (w[1].1 + w[0].1) / 2.0)
        .sum();
    assert_close(area, 0.75, 1e-12);
    // Tied scores collapse into one point.
    let tied = roc_curve(&[0.5, 0.5, 0.9, 0.1], &[true, false, true, false]).unwrap();
    assert_eq!(tied.len(), 4);
    assert_eq!(tied[2], (0.5, 1.0, 0.5));
}

#[test]
fn single_class_and_bad_input_are_errors() {
    let err = auroc(&[0.1, 0.2], &[true, true]).unwrap_err();
    assert!(matches!(
        err,
        AnalysisError::SingleClass {
            positives: 2,
            negatives: 0,
            ..
        }
    ));
    assert!(
        err.to_string().contains("AUROC needs both classes"),
        "{err}"
    );
    assert!(auroc(&[0.1, 0.2], &[false, false]).is_err());
    assert!(roc_curve(&[0.1, 0.2], &[false, false]).is_err());
    assert!(average_precision(&[0.1, 0.2], &[false, false]).is_err());
    assert!(matches!(
        auroc(&[0.1], &[true, false]),
        Err(AnalysisError::LengthMismatch { .. })
    ));
    assert!(matches!(
        auroc(&[f64::NAN, 0.2], &[true, false]),
        Err(AnalysisError::NonFinite { .. })
    ));
}

#[test]
fn percentile_linear_interpolation() {
    let v = [4.0, 1.0, 3.0, 2.0];
    assert_close(percentile(&v, 0.0).unwrap(), 1.0, 1e-12);
    assert_close(percentile(&v, 25.0).unwrap(), 1.75, 1e-12); // position 0.75
    assert_close(percentile(&v, 50.0).unwrap(), 2.5, 1e-12);
    assert_close(percentile(&v, 100.0).unwrap(), 4.0, 1e-12);
    assert_close(percentile(&[7.0], 33.0).unwrap(), 7.0, 1e-12);
    assert!(percentile(&v, 100.5).is_err());
    assert!(percentile(&v, -1.0).is_err());
    assert!(percentile(&[], 50.0).is_err());
}

#[test]
fn contamination_threshold_flags_the_requested_fraction() {
    let scores: Vec<f64> = (1..=10).map(f64::from).collect();
    // 90th percentile: position 8.1 between 9 and 10 → 9.1; only 10 exceeds it.
    let t = threshold_for_contamination(&scores, 0.1).unwrap();
    assert_close(t, 9.1, 1e-12);
    assert_eq!(scores.iter().filter(|&&s| s > t).count(), 1);
    let t = threshold_for_contamination(&scores, 0.3).unwrap();
    assert_close(t, 7.3, 1e-12);
    assert_eq!(scores.iter().filter(|&&s| s > t).count(), 3);
    assert!(threshold_for_contamination(&scores, 1.5).is_err());
}
