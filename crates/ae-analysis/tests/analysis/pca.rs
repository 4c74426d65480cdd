use ae_analysis::{AnalysisError, Matrix, Pca, orthonormal_basis, principal_angles_degrees};

use crate::common::{assert_close, max_abs_diff, normal, random_matrix, rng};

/// n samples in 20-D lying near a planted 3-D subspace (returned as basis).
fn planted(n: usize, noise: f64) -> (Matrix, Matrix) {
    let basis = orthonormal_basis(&random_matrix(20, 3, 100));
    let mut r = rng(101);
    let stds = [5.0, 3.0, 2.0];
    let offset: Vec<f64> = (0..20).map(|j| j as f64 * 0.25 - 1.0).collect();
    let mut data = Matrix::zeros(n, 20);
    for i in 0..n {
        let z: Vec<f64> = stds.iter().map(|s| s * normal(&mut r)).collect();
        for j in 0..20 {
            let signal: f64 = (0..3).map(|c| basis.get(j, c) * z[c]).sum();
            data.set(i, j, offset[j] + signal + noise * normal(&mut r));
        }
    }
    (data, basis)
}

#[test]
fn recovers_planted_rank_three_subspace() {
    let (data, basis) = planted(500, 0.01);
    let pca = Pca::fit(&data, 3).unwrap();
    assert_eq!(pca.components.shape(), (20, 3));
    let angles = principal_angles_degrees(&pca.components, &basis).unwrap();
    assert_eq!(angles.len(), 3);
    for a in &angles {
        assert!(*a < 1.0, "principal angle {a}° too large: {angles:?}");
    }
    let ratio: f64 = pca.explained_variance_ratio().iter().sum();
    assert!(ratio > 0.999, "explained ratio {ratio}");
    // Variances roughly the planted 25, 9, 4 (sampling error only).
    assert!((pca.explained_variance[0] / 25.0 - 1.0).abs() < 0.2);
    assert!((pca.explained_variance[2] / 4.0 - 1.0).abs() < 0.2);
    // A random 3-D subspace is far from the planted one (the test can fail).
    let other = random_matrix(20, 3, 7);
    let far = principal_angles_degrees(&other, &basis).unwrap();
    assert!(far[2] > 10.0);
}

#[test]
fn reconstruction_error_equals_discarded_eigenvalues() {
    let (data, _) = planted(200, 0.3);
    let n = data.rows();
    let pca = Pca::fit(&data, 20).unwrap();
    assert_eq!(pca.n_components(), 20);
    assert_close(
        pca.explained_variance.iter().sum(),
        pca.total_variance,
        1e-9,
    );
    for k in [0, 1, 3, 7, 20] {
        let recon = pca.reconstruct_k(&data, k).unwrap();
        let mut sq = 0.0;
        for (x, y) in data.data().iter().zip(recon.data()) {
            sq += (x - y) * (x - y);
        }
        let per_sample = sq / (n - 1) as f64;
        let discarded: f64 = pca.explained_variance[k..].iter().sum();
        assert_close(per_sample, discarded, 1e-9 * pca.total_variance);
    }
}

#[test]
fn projections_are_centred_with_component_variances() {
    let (data, _) = planted(300, 0.1);
    let pca = Pca::fit(&data, 4).unwrap();
    let z = pca.transform(&data).unwrap();
    assert_eq!(z.shape(), (300, 4));
    for c in 0..4 {
        let col = z.column(c);
        let mean = col.iter().sum::<f64>() / 300.0;
        let var = col.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / 299.0;
        assert_close(mean, 0.0, 1e-10);
        assert_close(
            var,
            pca.explained_variance[c],
            1e-9 * pca.explained_variance[c],
        );
    }
    // transform_k keeps the leading columns of transform.
    let z2 = pca.transform_k(&data, 2).unwrap();
    assert!(max_abs_diff(&z2, &z.leading_columns(2)) < 1e-12);
}

#[test]
fn hand_computed_two_dimensional_case() {
    // Points on the line y = x: covariance [[v, v], [v, v]] with v = var(x).
    let data = Matrix::from_rows(&[[0.0, 0.0], [1.0, 1.0], [2.0, 2.0], [3.0, 3.0]]).unwrap();
    let pca = Pca::fit(&data, 2).unwrap();
    // var(x) with n-1 = 3: mean 1.5, squares 2.25+0.25+0.25+2.25 = 5 → 5/3.
    assert_close(pca.explained_variance[0], 10.0 / 3.0, 1e-12);
    assert_close(pca.explained_variance[1], 0.0, 1e-12);
    assert_close(pca.total_variance, 10.0 / 3.0, 1e-12);
    assert_eq!(pca.mean, vec![1.5, 1.5]);
    let h = std::f64::consts::FRAC_1_SQRT_2;
    assert_close(pca.components.get(0, 0).abs(), h, 1e-12);
    assert_close(pca.components.get(1, 0).abs(), h, 1e-12);
    assert_eq!(pca.explained_variance_ratio()[0], 1.0);
}

#[test]
fn rejects_bad_input() {
    let data = random_matrix(10, 4, 3);
    let pca = Pca::fit(&data, 2).unwrap();
    assert!(matches!(
        pca.transform(&random_matrix(3, 5, 1)),
        Err(AnalysisError::DimensionMismatch { .. })
    ));
    assert!(matches!(
        pca.transform_k(&data, 3),
        Err(AnalysisError::InvalidParameter { .. })
    ));
    assert!(matches!(
        Pca::fit(&random_matrix(1, 4, 1), 2),
        Err(AnalysisError::TooFewPoints { .. })
    ));
    assert!(Pca::fit(&data, 0).is_err());
}
