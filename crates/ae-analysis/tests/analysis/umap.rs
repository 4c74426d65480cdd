use ae_analysis::{
    AnalysisError, KMeans, Matrix, NearestNeighbors, Umap, UmapSettings, clustering_accuracy,
};

use crate::common::{normal, rng};

/// Two noisy concentric rings (radii 1 and 3) in the plane, interleaved; returns data, labels.
fn rings(per: usize, seed: u64) -> (Matrix, Vec<usize>) {
    let mut r = rng(seed);
    let mut rows = Vec::new();
    let mut labels = Vec::new();
    for i in 0..per {
        for (label, radius) in [(0, 1.0), (1, 3.0)] {
            let angle = std::f64::consts::TAU * (i as f64 + 0.5 * label as f64) / per as f64;
            rows.push([
                radius * angle.cos() + 0.05 * normal(&mut r),
                radius * angle.sin() + 0.05 * normal(&mut r),
            ]);
            labels.push(label);
        }
    }
    (Matrix::from_rows(&rows).unwrap(), labels)
}

fn settings(neighbors: usize, components: usize) -> UmapSettings {
    UmapSettings {
        neighbors,
        components,
        min_dist: 0.0,
        epochs: Some(200),
        ..UmapSettings::default()
    }
}

#[test]
fn brute_force_neighbours_match_a_full_sort() {
    let mut r = rng(5);
    let data = Matrix::from_fn(200, 3, |_, _| normal(&mut r));
    let nn = NearestNeighbors::exact(&data, 7).unwrap();
    for i in 0..data.rows() {
        let mut all: Vec<(f64, usize)> = (0..data.rows())
            .filter(|&j| j != i)
            .map(|j| {
                let d: f64 = (0..3)
                    .map(|t| (data.get(i, t) - data.get(j, t)).powi(2))
                    .sum();
                (d.sqrt(), j)
            })
            .collect();
        all.sort_by(|a, b| a.partial_cmp(b).unwrap());
        let expected: Vec<usize> = all[..7].iter().map(|&(_, j)| j).collect();
        assert_eq!(nn.indices(i), expected.as_slice(), "row {i}");
        for (got, want) in nn.distances(i).iter().zip(&all[..7]) {
            assert!((got - want.0).abs() < 1e-12);
        }
    }
}

#[test]
fn umap_untangles_rings_that_k_means_cannot_separate() {
    let (data, labels) = rings(300, 1);
    let raw = KMeans::fit(&data, 2, 0, 5, 100).unwrap();
    let raw_accuracy = clustering_accuracy(&labels, &raw.assignments).unwrap();
    assert!(raw_accuracy < 0.75, "k-means on the rings: {raw_accuracy}");

    let umap = Umap::fit(&data, &settings(10, 2)).unwrap();
    assert_eq!(umap.embedding.shape(), (600, 2));
    assert_eq!(umap.epochs, 200);
    let embedded = KMeans::fit(&umap.embedding, 2, 0, 5, 100).unwrap();
    let accuracy = clustering_accuracy(&labels, &embedded.assignments).unwrap();
    assert_eq!(accuracy, 1.0, "k-means on the UMAP embedding");
}

#[test]
fn umap_keeps_the_neighbours_of_a_helix() {
    let mut r = rng(2);
    let n = 500;
    let data = Matrix::from_fn(n, 3, |i, j| {
        let t = 4.0 * std::f64::consts::PI * i as f64 / n as f64;
        let clean = [t.cos(), t.sin(), 0.3 * t][j];
        clean + 0.01 * normal(&mut r)
    });
    let umap = Umap::fit(&data, &settings(15, 2)).unwrap();
    let before = NearestNeighbors::exact(&data, 10).unwrap();
    let after = NearestNeighbors::exact(&umap.embedding, 10).unwrap();
    let kept: usize = (0..n)
        .map(|i| {
            after
                .indices(i)
                .iter()
                .filter(|j| before.indices(i).contains(j))
                .count()
        })
        .sum();
    let fraction = kept as f64 / (10 * n) as f64;
    assert!(
        fraction > 0.6,
        "only {fraction} of the 10 nearest neighbours kept"
    );
    // A random 2-D layout would keep about 10 / 500 of them.
}

#[test]
fn umap_tells_its_progress_stage_by_stage_and_embeds_the_same() {
    // 600 points: the neighbour search reports every 256 rows of a thread.
    let (data, _) = rings(300, 5);
    let s = UmapSettings {
        epochs: Some(50),
        ..settings(8, 2)
    };
    let seen = std::sync::Mutex::new(Vec::new());
    let with = Umap::fit_with_progress(&data, &s, &|stage, done, total| {
        seen.lock().unwrap().push((stage.name, done, total))
    })
    .unwrap();
    assert_eq!(with, Umap::fit(&data, &s).unwrap());
    let seen = seen.into_inner().unwrap();
    for (stage, total) in [("nearest neighbours", 600), ("UMAP layout", 50)] {
        let counts: Vec<usize> = seen
            .iter()
            .filter(|(s, _, t)| *s == stage && *t == total)
            .map(|r| r.1)
            .collect();
        assert!(counts.len() >= 2, "{stage}: {seen:?}");
        assert!(counts.iter().all(|&c| c <= total), "{stage}: {counts:?}");
        // The last report comes after the work (the neighbour search's threads report in
        // any order among themselves).
        assert_eq!(counts.last(), Some(&total), "{stage} ends done");
        if stage == "UMAP layout" {
            assert!(counts.windows(2).all(|w| w[0] <= w[1]), "{counts:?}");
        }
    }
    // The neighbours come before the layout.
    let first_layout = seen.iter().position(|r| r.0 == "UMAP layout").unwrap();
    assert!(seen[first_layout..].iter().all(|r| r.0 == "UMAP layout"));
}

#[test]
fn umap_is_reproducible_from_its_seed() {
    let (data, _) = rings(60, 3);
    let first = Umap::fit(&data, &settings(8, 2)).unwrap();
    let again = Umap::fit(&data, &settings(8, 2)).unwrap();
    assert_eq!(first, again);
    let other = Umap::fit(
        &data,
        &UmapSettings {
            seed: 1,
            ..settings(8, 2)
        },
    )
    .unwrap();
    assert_ne!(first.embedding, other.embedding);
}

#[test]
fn umap_rejects_bad_settings_and_data() {
    let (data, _) = rings(10, 4);
    let invalid = |s: UmapSettings| {
        matches!(
            Umap::fit(&data, &s),
            Err(AnalysisError::InvalidParameter { .. })
        )
    };
    assert!(invalid(settings(1, 2)));
    assert!(invalid(settings(5, 0)));
    assert!(invalid(UmapSettings {
        min_dist: 2.0,
        ..settings(5, 2)
    }));
    assert!(invalid(UmapSettings {
        epochs: Some(0),
        ..settings(5, 2)
    }));
    assert!(invalid(UmapSettings {
        learning_rate: f64::NAN,
        ..settings(5, 2)
    }));
    assert!(matches!(
        Umap::fit(&data, &settings(20, 2)),
        Err(AnalysisError::TooFewPoints { .. })
    ));
    let mut values = data.data().to_vec();
    values[7] = f64::INFINITY;
    let bad = Matrix::new(data.rows(), 2, values).unwrap();
    assert!(matches!(
        Umap::fit(&bad, &settings(5, 2)),
        Err(AnalysisError::NonFinite { .. })
    ));
}
