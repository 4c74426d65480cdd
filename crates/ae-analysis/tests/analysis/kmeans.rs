use ae_analysis::{AnalysisError, KMeans, Matrix, clustering_accuracy};

use crate::common::{assert_close, normal, rng};

/// `per` points around each of `centres` (std 1), interleaved so that the
/// cluster order does not follow the row order. Returns data and labels.
fn blobs(centres: &[Vec<f64>], per: usize, seed: u64) -> (Matrix, Vec<usize>) {
    let d = centres[0].len();
    let mut r = rng(seed);
    let mut rows = Vec::new();
    let mut labels = Vec::new();
    for _ in 0..per {
        for (c, centre) in centres.iter().enumerate() {
            rows.push(
                centre
                    .iter()
                    .map(|m| m + normal(&mut r))
                    .collect::<Vec<f64>>(),
            );
            labels.push(c);
        }
    }
    assert_eq!(rows[0].len(), d);
    (Matrix::from_rows(&rows).unwrap(), labels)
}

fn far_centres(k: usize, d: usize) -> Vec<Vec<f64>> {
    (0..k)
        .map(|c| {
            (0..d)
                .map(|j| if j % k == c { 25.0 } else { 0.0 })
                .collect()
        })
        .collect()
}

#[test]
fn separated_blobs_are_recovered_exactly() {
    let (data, labels) = blobs(&far_centres(5, 10), 40, 1);
    let km = KMeans::fit(&data, 5, 42, 3, 100).unwrap();
    assert_eq!(km.centroids.shape(), (5, 10));
    assert_eq!(clustering_accuracy(&labels, &km.assignments).unwrap(), 1.0);
    assert!(km.converged);
    // Inertia ≈ n d σ² = 200 * 10 * 1.
    assert!(
        (km.inertia / 2000.0 - 1.0).abs() < 0.15,
        "inertia {}",
        km.inertia
    );
    assert_eq!(km.predict(&data).unwrap(), km.assignments);
}

#[test]
fn one_dimensional_hand_case() {
    let data = Matrix::from_rows(&[[0.0], [1.0], [10.0], [11.0]]).unwrap();
    let km = KMeans::fit(&data, 2, 7, 4, 50).unwrap();
    let mut centres = km.centroids.column(0);
    centres.sort_by(f64::total_cmp);
    assert_eq!(centres, vec![0.5, 10.5]);
    // Each point is 0.5 from its centre: inertia 4 * 0.25.
    assert_close(km.inertia, 1.0, 1e-12);
    assert_eq!(km.assignments[0], km.assignments[1]);
    assert_ne!(km.assignments[1], km.assignments[2]);
    let probe = Matrix::from_rows(&[[-3.0], [20.0]]).unwrap();
    let p = km.predict(&probe).unwrap();
    assert_eq!(p, vec![km.assignments[0], km.assignments[2]]);
}

#[test]
fn reproducible_from_seed() {
    let (data, _) = blobs(&far_centres(3, 4), 30, 2);
    let noisy = Matrix::from_fn(data.rows(), data.cols(), |i, j| data.get(i, j) * 0.05);
    let a = KMeans::fit(&noisy, 6, 9, 2, 30).unwrap();
    let b = KMeans::fit(&noisy, 6, 9, 2, 30).unwrap();
    assert_eq!(a, b);
    // Told of each restart, with the same result.
    let seen = std::sync::Mutex::new(Vec::new());
    let c = KMeans::fit_with_progress(&noisy, 6, 9, 2, 30, &|stage, done, total| {
        seen.lock().unwrap().push((stage.name, done, total))
    })
    .unwrap();
    assert_eq!(a, c);
    assert_eq!(
        seen.into_inner().unwrap(),
        [("k-means", 1, 2), ("k-means", 2, 2)]
    );
}

#[test]
fn more_restarts_never_increase_inertia() {
    let (data, _) = blobs(&far_centres(3, 4), 30, 3);
    let blurred = Matrix::from_fn(data.rows(), data.cols(), |i, j| data.get(i, j) * 0.1);
    let one = KMeans::fit(&blurred, 7, 5, 1, 100).unwrap();
    let many = KMeans::fit(&blurred, 7, 5, 5, 100).unwrap();
    // The first restart of `many` is the same run as `one`.
    assert!(many.inertia <= one.inertia);
}

#[test]
fn duplicate_points_and_empty_clusters_do_not_panic() {
    let data = Matrix::from_rows(&[[0.0], [0.0], [0.0], [0.0], [10.0]]).unwrap();
    let km = KMeans::fit(&data, 3, 1, 2, 20).unwrap();
    assert_close(km.inertia, 0.0, 1e-12);
    assert!(km.assignments.iter().all(|&c| c < 3));
    assert_ne!(km.assignments[0], km.assignments[4]);
}

#[test]
fn error_messages_are_explicit() {
    let data = Matrix::zeros(3, 2);
    let err = KMeans::fit(&data, 10, 0, 1, 10).unwrap_err();
    assert_eq!(err.to_string(), "k-means needs at least k=10 points, got 3");
    assert!(matches!(
        KMeans::fit(&data, 0, 0, 1, 10),
        Err(AnalysisError::InvalidParameter { .. })
    ));
    assert!(KMeans::fit(&data, 2, 0, 0, 10).is_err());
    assert!(KMeans::fit(&data, 2, 0, 1, 0).is_err());
    let km = KMeans::fit(&data, 2, 0, 1, 10).unwrap();
    assert!(matches!(
        km.predict(&Matrix::zeros(1, 3)),
        Err(AnalysisError::DimensionMismatch { .. })
    ));
}

#[test]
fn lloyd_reaches_the_optimum_from_any_seeding() {
    // Two uneven groups on a line. Checked by enumerating all 90 ordered seed
    // pairs: Lloyd always ends at centres 2.4 and 13.6 (often after 3-4 steps),
    // with inertia (5.76 + 1.69 + 0.01 + 1.44 + 6.76) + (6.76 + 1.96 + 0.01 + 1.69 + 7.84) = 33.92.
    let points = [0.0, 1.1, 2.3, 3.6, 5.0, 11.0, 12.2, 13.5, 14.9, 16.4];
    let data = Matrix::from_fn(points.len(), 1, |i, _| points[i]);
    for seed in 0..20 {
        let km = KMeans::fit(&data, 2, seed, 1, 100).unwrap();
        assert_close(km.inertia, 33.92, 1e-9);
        let mut centres = km.centroids.column(0);
        centres.sort_by(f64::total_cmp);
        assert_close(centres[0], 2.4, 1e-12);
        assert_close(centres[1], 13.6, 1e-12);
    }
}

#[test]
fn converged_centroids_are_means_of_their_members() {
    let mut r = rng(12);
    let data = Matrix::from_fn(400, 2, |_, _| normal(&mut r));
    let km = KMeans::fit(&data, 5, 1, 1, 300).unwrap();
    assert!(km.converged);
    for c in 0..5 {
        let members: Vec<usize> = (0..400).filter(|&i| km.assignments[i] == c).collect();
        assert!(!members.is_empty());
        for j in 0..2 {
            let mean = members.iter().map(|&i| data.get(i, j)).sum::<f64>() / members.len() as f64;
            assert_close(km.centroids.get(c, j), mean, 1e-2);
        }
    }
}
