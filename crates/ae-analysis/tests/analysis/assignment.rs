use ae_analysis::{AnalysisError, Matrix, assignment_cost, hungarian};
use rand::RngExt;

use crate::common::{assert_close, rng};

/// Minimum total cost over all injective row→column maps, by enumeration.
fn brute_force(cost: &Matrix) -> f64 {
    fn go(cost: &Matrix, row: usize, used: &mut Vec<bool>, acc: f64, best: &mut f64) {
        if row == cost.rows() {
            *best = best.min(acc);
            return;
        }
        for c in 0..cost.cols() {
            if !used[c] {
                used[c] = true;
                go(cost, row + 1, used, acc + cost.get(row, c), best);
                used[c] = false;
            }
        }
    }
    let mut best = f64::INFINITY;
    go(cost, 0, &mut vec![false; cost.cols()], 0.0, &mut best);
    best
}

#[test]
fn hand_example() {
    // Optimum: row0→col1 (1), row1→col0 (2), row2→col2 (2) = 5.
    let cost = Matrix::from_rows(&[[4.0, 1.0, 3.0], [2.0, 0.0, 5.0], [3.0, 2.0, 2.0]]).unwrap();
    let a = hungarian(&cost).unwrap();
    assert_eq!(a, vec![1, 0, 2]);
    assert_eq!(assignment_cost(&cost, &a).unwrap(), 5.0);
}

#[test]
fn matches_brute_force_on_random_matrices() {
    let mut r = rng(77);
    for trial in 0..300 {
        let rows = 1 + trial % 6;
        let cols = rows + (trial / 6) % 3;
        // Small integer costs produce many ties; continuous costs none.
        let integer = trial % 2 == 0;
        let cost = Matrix::from_fn(rows, cols, |_, _| {
            if integer {
                r.random_range(0..5) as f64
            } else {
                r.random::<f64>() * 10.0 - 3.0
            }
        });
        let a = hungarian(&cost).unwrap();
        assert_eq!(a.len(), rows);
        let mut seen = vec![false; cols];
        for &c in &a {
            assert!(c < cols && !seen[c], "not injective: {a:?}");
            seen[c] = true;
        }
        assert_close(
            assignment_cost(&cost, &a).unwrap(),
            brute_force(&cost),
            1e-9,
        );
    }
}

#[test]
fn rejects_more_rows_than_columns_and_nan() {
    assert!(matches!(
        hungarian(&Matrix::zeros(3, 2)),
        Err(AnalysisError::InvalidParameter { .. })
    ));
    let nan = Matrix::from_rows(&[[1.0, f64::NAN]]).unwrap();
    assert!(matches!(
        hungarian(&nan),
        Err(AnalysisError::NonFinite { .. })
    ));
    assert_eq!(
        hungarian(&Matrix::zeros(0, 3)).unwrap(),
        Vec::<usize>::new()
    );
}
