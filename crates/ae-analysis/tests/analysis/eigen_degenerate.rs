//! PCA on data with many (nearly) constant features, like MNIST's border pixels: the zero
//! eigenvalues must deflate instead of stalling the QL iteration.

use ae_analysis::{Matrix, Pca, symmetric_eigen};

/// A small deterministic pseudo-random generator (xorshift), so the test needs no crate.
fn uniform(state: &mut u64) -> f64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    (*state >> 11) as f64 / (1u64 << 53) as f64
}

#[test]
fn pca_converges_with_many_constant_and_rare_features() {
    let (n, d) = (400, 120);
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let data = Matrix::from_fn(n, d, |i, j| {
        let u = uniform(&mut state);
        match j % 4 {
            // Constant features.
            0 => 0.0,
            // Rare tiny values: a feature that is non-zero in one item only.
            1 => {
                if i == j {
                    1e-9 * u
                } else {
                    0.0
                }
            }
            // Sparse features, like faint pixels.
            2 => {
                if u > 0.97 {
                    u / 255.0
                } else {
                    0.0
                }
            }
            _ => u,
        }
    });
    let pca = Pca::fit(&data, 30).expect("PCA converges");
    let ratios = pca.explained_variance_ratio();
    assert_eq!(ratios.len(), 30);
    assert!(
        ratios.windows(2).all(|w| w[0] >= w[1] - 1e-12),
        "{ratios:?}"
    );
    let total: f64 = ratios.iter().sum();
    assert!(total > 0.0 && total <= 1.0 + 1e-9, "{total}");

    // The full decomposition reproduces the covariance.
    let mut centered = data.clone();
    let mean = data.column_means();
    for i in 0..n {
        for (x, m) in centered.row_mut(i).iter_mut().zip(&mean) {
            *x -= m;
        }
    }
    let cov = centered.gram();
    let eig = symmetric_eigen(&cov).expect("converges");
    let v = &eig.vectors;
    let mut worst = 0.0f64;
    for i in 0..d {
        for j in 0..d {
            let rebuilt: f64 = (0..d)
                .map(|k| v.get(i, k) * eig.values[k] * v.get(j, k))
                .sum();
            worst = worst.max((rebuilt - cov.get(i, j)).abs());
        }
    }
    assert!(worst < 1e-9 * eig.values[0].max(1.0), "{worst}");
}
