use ae_analysis::{AnalysisError, average_ranks, median, pearson, spearman};

use crate::common::assert_close;

#[test]
fn pearson_hand_values() {
    let x = [1.0, 2.0, 3.0, 4.0, 5.0];
    assert_close(
        pearson(&x, &[2.0, 4.0, 6.0, 8.0, 10.0]).unwrap(),
        1.0,
        1e-12,
    );
    assert_close(
        pearson(&x, &[5.0, 4.0, 3.0, 2.0, 1.0]).unwrap(),
        -1.0,
        1e-12,
    );
    // x=[1,2,3], y=[1,3,2]: deviations (-1,0,1), (-1,1,0) → 1 / sqrt(2·2) = 0.5.
    assert_close(
        pearson(&[1.0, 2.0, 3.0], &[1.0, 3.0, 2.0]).unwrap(),
        0.5,
        1e-12,
    );
}

#[test]
fn spearman_uses_average_ranks() {
    // Monotone but non-linear → 1.
    assert_close(
        spearman(&[1.0, 2.0, 3.0, 4.0], &[1.0, 8.0, 27.0, 64.0]).unwrap(),
        1.0,
        1e-12,
    );
    // x ranks [1, 2.5, 2.5, 4], y ranks [1, 2, 3, 4]: Sxy = 4.5, Sxx = 4.5,
    // Syy = 5 → 4.5 / sqrt(22.5) = 0.9486833.
    let r = spearman(&[1.0, 2.0, 2.0, 3.0], &[10.0, 20.0, 30.0, 40.0]).unwrap();
    assert_close(r, 4.5 / 22.5f64.sqrt(), 1e-12);
    assert_eq!(
        average_ranks(&[10.0, 20.0, 20.0, 30.0, 5.0]).unwrap(),
        vec![2.0, 3.5, 3.5, 5.0, 1.0]
    );
}

#[test]
fn median_odd_even_and_errors() {
    assert_eq!(median(&mut [3.0, 1.0, 2.0]).unwrap(), 2.0);
    assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]).unwrap(), 2.5);
    assert_eq!(median(&mut [-1.0, 7.0]).unwrap(), 3.0);
    assert!(matches!(median(&mut []), Err(AnalysisError::Empty { .. })));
    assert!(matches!(
        median(&mut [1.0, f64::NAN]),
        Err(AnalysisError::NonFinite { .. })
    ));
}

#[test]
fn correlation_errors() {
    assert!(matches!(
        pearson(&[1.0, 2.0], &[1.0]),
        Err(AnalysisError::LengthMismatch { .. })
    ));
    assert!(matches!(
        pearson(&[1.0], &[1.0]),
        Err(AnalysisError::TooFewPoints { .. })
    ));
    assert!(pearson(&[1.0, 1.0, 1.0], &[1.0, 2.0, 3.0]).is_err());
}
