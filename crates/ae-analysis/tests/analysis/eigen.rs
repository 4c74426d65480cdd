use ae_analysis::{AnalysisError, Matrix, orthonormal_basis, symmetric_eigen};

use crate::common::{assert_close, max_abs_diff, naive_matmul, random_matrix, random_symmetric};

/// Checks A V = V Λ and Vᵀ V = I.
fn check_decomposition(a: &Matrix, tol: f64) {
    let eig = symmetric_eigen(a).expect("decomposition");
    let n = a.rows();
    assert_eq!(eig.values.len(), n);
    for w in eig.values.windows(2) {
        assert!(w[0] >= w[1], "values not descending: {:?}", eig.values);
    }
    let av = naive_matmul(a, &eig.vectors);
    let scale = a.data().iter().fold(1.0f64, |m, v| m.max(v.abs()));
    for j in 0..n {
        for i in 0..n {
            let lhs = av.get(i, j);
            let rhs = eig.values[j] * eig.vectors.get(i, j);
            assert!(
                (lhs - rhs).abs() <= tol * scale * n as f64,
                "A v != λ v at ({i},{j})"
            );
        }
    }
    let vtv = naive_matmul(&eig.vectors.transpose(), &eig.vectors);
    assert!(max_abs_diff(&vtv, &Matrix::identity(n)) < tol * n as f64);
}

#[test]
fn diagonal_matrix_sorted_with_unit_vectors() {
    let a = Matrix::from_rows(&[[3.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 2.0]]).unwrap();
    let eig = symmetric_eigen(&a).unwrap();
    assert_eq!(eig.values, vec![3.0, 2.0, 1.0]);
    let expected = Matrix::from_rows(&[[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 1.0, 0.0]]).unwrap();
    assert!(max_abs_diff(&eig.vectors, &expected) < 1e-15);
}

#[test]
fn two_by_two_known_pairs_and_sign_convention() {
    let a = Matrix::from_rows(&[[2.0, 1.0], [1.0, 2.0]]).unwrap();
    let eig = symmetric_eigen(&a).unwrap();
    assert_close(eig.values[0], 3.0, 1e-14);
    assert_close(eig.values[1], 1.0, 1e-14);
    let h = std::f64::consts::FRAC_1_SQRT_2;
    // Largest-magnitude component positive; ties resolved at the first index.
    assert_close(eig.vectors.get(0, 0), h, 1e-14);
    assert_close(eig.vectors.get(1, 0), h, 1e-14);
    assert_close(eig.vectors.get(0, 1), h, 1e-14);
    assert_close(eig.vectors.get(1, 1), -h, 1e-14);
}

#[test]
fn tridiagonal_toeplitz_has_closed_form_spectrum() {
    // tridiag(-1, 2, -1) of size n: λ_k = 2 - 2 cos(kπ/(n+1)),
    // eigenvector components sin(i k π/(n+1)).
    let n = 12;
    let a = Matrix::from_fn(n, n, |i, j| match i.abs_diff(j) {
        0 => 2.0,
        1 => -1.0,
        _ => 0.0,
    });
    let eig = symmetric_eigen(&a).unwrap();
    let theta = std::f64::consts::PI / (n + 1) as f64;
    for (idx, value) in eig.values.iter().enumerate() {
        let k = n - idx; // descending order
        assert_close(*value, 2.0 - 2.0 * (k as f64 * theta).cos(), 1e-13);
        let mut expected: Vec<f64> = (1..=n)
            .map(|i| (i as f64 * k as f64 * theta).sin())
            .collect();
        let norm = expected.iter().map(|x| x * x).sum::<f64>().sqrt();
        expected.iter_mut().for_each(|x| *x /= norm);
        let overlap: f64 = (0..n).map(|i| expected[i] * eig.vectors.get(i, idx)).sum();
        assert_close(overlap.abs(), 1.0, 1e-12);
    }
    check_decomposition(&a, 1e-13);
}

#[test]
fn planted_spectrum_with_repeated_eigenvalues() {
    let n = 8;
    let q = orthonormal_basis(&random_matrix(n, n, 11));
    assert_eq!(q.cols(), n);
    let planted = [5.0, 5.0, 2.0, 0.0, 0.0, 0.0, -1.0, -3.5];
    let d = Matrix::from_fn(n, n, |i, j| if i == j { planted[i] } else { 0.0 });
    let a = naive_matmul(&naive_matmul(&q, &d), &q.transpose());
    let a = Matrix::from_fn(n, n, |i, j| 0.5 * (a.get(i, j) + a.get(j, i)));
    let eig = symmetric_eigen(&a).unwrap();
    for (got, want) in eig.values.iter().zip(planted) {
        assert_close(*got, want, 1e-12);
    }
    check_decomposition(&a, 1e-13);
}

#[test]
fn random_symmetric_matrices_decompose() {
    for (n, seed) in [(1, 1), (2, 2), (3, 3), (17, 4), (64, 5), (150, 6)] {
        let a = random_symmetric(n, seed);
        check_decomposition(&a, 1e-12);
        let eig = symmetric_eigen(&a).unwrap();
        let trace: f64 = (0..n).map(|i| a.get(i, i)).sum();
        assert_close(eig.values.iter().sum(), trace, 1e-10);
    }
}

#[test]
fn low_rank_with_zero_rows_like_a_covariance() {
    // Gram matrix of 5 samples in 30-D with 10 all-zero features: rank 5.
    let mut x = random_matrix(5, 30, 9);
    for i in 0..5 {
        for j in 20..30 {
            x.set(i, j, 0.0);
        }
    }
    let g = x.gram();
    check_decomposition(&g, 1e-12);
    let eig = symmetric_eigen(&g).unwrap();
    assert!(eig.values[4] > 1e-3);
    for v in &eig.values[5..] {
        assert!(v.abs() < 1e-10, "expected zero eigenvalue, got {v}");
    }
}

#[test]
fn rejects_bad_input() {
    let rect = Matrix::zeros(2, 3);
    assert!(matches!(
        symmetric_eigen(&rect),
        Err(AnalysisError::NotSquare { .. })
    ));
    let asym = Matrix::from_rows(&[[1.0, 2.0], [0.0, 1.0]]).unwrap();
    let err = symmetric_eigen(&asym).unwrap_err();
    assert!(
        matches!(err, AnalysisError::NotSymmetric { i: 0, j: 1, .. }),
        "{err}"
    );
    assert!(matches!(
        symmetric_eigen(&Matrix::zeros(0, 0)),
        Err(AnalysisError::Empty { .. })
    ));
    let nan = Matrix::from_rows(&[[1.0, f64::NAN], [f64::NAN, 1.0]]).unwrap();
    assert!(matches!(
        symmetric_eigen(&nan),
        Err(AnalysisError::NonFinite { index: 1, .. })
    ));
}

#[test]
fn eigenvectors_follow_the_sign_convention() {
    let a = random_symmetric(30, 8);
    let eig = symmetric_eigen(&a).unwrap();
    for j in 0..30 {
        let col = eig.vectors.column(j);
        let largest = col
            .iter()
            .copied()
            .fold(0.0f64, |m, v| if v.abs() > m.abs() { v } else { m });
        assert!(
            largest > 0.0,
            "column {j} has a negative dominant component"
        );
    }
}
