use ae_analysis::{AnalysisError, GaussianMixture, Matrix};

use crate::common::{assert_close, normal, rng};

/// Samples from 0.3 N((0,0), diag(1, 0.25)) + 0.7 N((8,5), [[1,0.6],[0.6,1]]).
fn two_gaussians(n: usize, seed: u64) -> Matrix {
    let mut r = rng(seed);
    let mut rows = Vec::with_capacity(n);
    for i in 0..n {
        let (z1, z2) = (normal(&mut r), normal(&mut r));
        if (i * 7919) % 100 < 30 {
            rows.push([z1, 0.5 * z2]);
        } else {
            // Cholesky of [[1, 0.6], [0.6, 1]] is [[1, 0], [0.6, 0.8]].
            rows.push([8.0 + z1, 5.0 + 0.6 * z1 + 0.8 * z2]);
        }
    }
    Matrix::from_rows(&rows).unwrap()
}

fn sorted_components(g: &GaussianMixture) -> Vec<usize> {
    let mut order: Vec<usize> = (0..g.n_components()).collect();
    order.sort_by(|&a, &b| g.means.get(a, 0).total_cmp(&g.means.get(b, 0)));
    order
}

#[test]
fn recovers_two_separated_gaussians() {
    let data = two_gaussians(2000, 1);
    let g = GaussianMixture::fit(&data, 2, 3, 200).unwrap();
    assert!(g.converged);
    let o = sorted_components(&g);
    let (lo, hi) = (o[0], o[1]);
    assert_close(g.means.get(lo, 0), 0.0, 0.1);
    assert_close(g.means.get(lo, 1), 0.0, 0.1);
    assert_close(g.means.get(hi, 0), 8.0, 0.1);
    assert_close(g.means.get(hi, 1), 5.0, 0.1);
    assert_close(g.weights[lo], 0.3, 0.05);
    assert_close(g.weights[hi], 0.7, 0.05);
    assert_close(g.covariances[hi].get(0, 1), 0.6, 0.1);
    assert_close(g.covariances[lo].get(1, 1), 0.25, 0.05);
    assert_close(g.weights.iter().sum(), 1.0, 1e-12);
    // Points near each mean are predicted to the matching component.
    let probe = Matrix::from_rows(&[[0.1, -0.1], [7.9, 5.2]]).unwrap();
    assert_eq!(g.predict(&probe).unwrap(), vec![lo, hi]);
}

#[test]
fn samples_match_the_model_moments() {
    let data = two_gaussians(1000, 2);
    let g = GaussianMixture::fit(&data, 2, 5, 200).unwrap();
    let n = 20_000;
    let s = g.sample(n, 9).unwrap();
    assert_eq!(s.shape(), (n, 2));
    // Model moments: mean = Σ w μ, cov = Σ w (Σ + μ μᵀ) - mean meanᵀ.
    let mut mean = [0.0; 2];
    let mut second = [[0.0; 2]; 2];
    for c in 0..2 {
        let w = g.weights[c];
        for i in 0..2 {
            mean[i] += w * g.means.get(c, i);
            for j in 0..2 {
                second[i][j] +=
                    w * (g.covariances[c].get(i, j) + g.means.get(c, i) * g.means.get(c, j));
            }
        }
    }
    let emp_mean: Vec<f64> = (0..2)
        .map(|j| s.column(j).iter().sum::<f64>() / n as f64)
        .collect();
    for j in 0..2 {
        assert_close(emp_mean[j], mean[j], 0.1);
    }
    for i in 0..2 {
        for j in 0..2 {
            let model = second[i][j] - mean[i] * mean[j];
            let emp: f64 = (0..n)
                .map(|r| (s.get(r, i) - emp_mean[i]) * (s.get(r, j) - emp_mean[j]))
                .sum::<f64>()
                / (n - 1) as f64;
            assert!(
                (emp - model).abs() < 0.05 * model.abs().max(1.0),
                "cov[{i}][{j}]: {emp} vs {model}"
            );
        }
    }
    // Same seed, same samples.
    assert_eq!(g.sample(10, 9).unwrap(), g.sample(10, 9).unwrap());
}

#[test]
fn single_component_log_likelihood_has_closed_form() {
    // With one component EM gives the sample mean and biased covariance S, and
    // the mean log-likelihood is -½ (d ln 2π + ln|S + εI| + tr((S+εI)⁻¹ S)) ≈ -½(d ln 2π + ln|S| + d).
    let data = two_gaussians(500, 3);
    let g = GaussianMixture::fit(&data, 1, 0, 50).unwrap();
    let n = data.rows() as f64;
    let mean = data.column_means();
    let mut s = [[0.0; 2]; 2];
    for r in 0..data.rows() {
        for i in 0..2 {
            for j in 0..2 {
                s[i][j] += (data.get(r, i) - mean[i]) * (data.get(r, j) - mean[j]) / n;
            }
        }
    }
    let det = s[0][0] * s[1][1] - s[0][1] * s[1][0];
    let expected = -0.5 * (2.0 * (2.0 * std::f64::consts::PI).ln() + det.ln() + 2.0);
    assert_close(g.train_log_likelihood, expected, 1e-4);
    assert_close(
        g.log_likelihood(&data).unwrap(),
        g.train_log_likelihood,
        1e-12,
    );
    assert_close(g.means.get(0, 0), mean[0], 1e-9);
    assert_close(g.covariances[0].get(0, 1), s[0][1], 1e-4);
}

#[test]
fn two_components_beat_one_and_errors_are_reported() {
    let data = two_gaussians(600, 4);
    let one = GaussianMixture::fit(&data, 1, 0, 100).unwrap();
    let two = GaussianMixture::fit(&data, 2, 0, 100).unwrap();
    assert!(two.train_log_likelihood > one.train_log_likelihood + 0.5);
    assert!(matches!(
        two.log_likelihood(&Matrix::zeros(2, 3)),
        Err(AnalysisError::DimensionMismatch { .. })
    ));
    assert!(matches!(
        GaussianMixture::fit(&Matrix::zeros(2, 2), 3, 0, 10),
        Err(AnalysisError::TooFewPoints { .. })
    ));
    let mut broken = two.clone();
    broken.covariances[0] = Matrix::from_rows(&[[1.0, 2.0], [2.0, 1.0]]).unwrap();
    assert!(matches!(
        broken.sample(3, 0),
        Err(AnalysisError::NotPositiveDefinite { .. })
    ));
}

#[test]
fn identical_points_stay_positive_definite() {
    let data = Matrix::from_rows(&[[1.0, 2.0]; 10]).unwrap();
    let g = GaussianMixture::fit(&data, 2, 0, 10).unwrap();
    assert!(g.log_likelihood(&data).unwrap().is_finite());
}
