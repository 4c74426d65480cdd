//! k-means clustering: greedy k-means++ seeding, Lloyd iterations, restarts.

use rand::rngs::ChaCha12Rng;

use crate::progress::{OnProgress, Stage};

use crate::error::{AnalysisError, Result, check_finite};
use crate::matrix::{Matrix, squared_distance};
use crate::rng::{index, seeded, uniform};

/// Convergence threshold on the total squared centroid shift, relative to the
/// mean per-feature variance of the data (as in scikit-learn).
const RELATIVE_SHIFT_TOLERANCE: f64 = 1e-4;

/// A fitted k-means model (the best of several restarts).
#[derive(Debug, Clone, PartialEq)]
pub struct KMeans {
    /// Cluster centres, one per row (`k x d`).
    pub centroids: Matrix,
    /// Index of the nearest centroid for every training point.
    pub assignments: Vec<usize>,
    /// Sum of squared distances from each training point to its centroid.
    pub inertia: f64,
    /// Lloyd iterations used by the returned (best) restart.
    pub iterations: usize,
    /// Whether the returned restart converged before `max_iter`.
    pub converged: bool,
}

impl KMeans {
    /// Clusters the rows of `data` into `k` groups.
    ///
    /// Each of `restarts` runs uses greedy k-means++ seeding followed by at
    /// most `max_iter` Lloyd iterations; the run with the lowest inertia wins.
    /// An empty cluster is re-seeded with the point farthest from its centre.
    /// Results are reproducible for a given `seed`.
    pub fn fit(
        data: &Matrix,
        k: usize,
        seed: u64,
        restarts: usize,
        max_iter: usize,
    ) -> Result<KMeans> {
        Self::fit_with_progress(data, k, seed, restarts, max_iter, &crate::progress::ignore)
    }

    /// [`KMeans::fit`], telling `on_progress` of each restart done (stage `"k-means"`).
    pub fn fit_with_progress(
        data: &Matrix,
        k: usize,
        seed: u64,
        restarts: usize,
        max_iter: usize,
        on_progress: OnProgress<'_>,
    ) -> Result<KMeans> {
        let (n, d) = data.shape();
        if k == 0 {
            return Err(AnalysisError::InvalidParameter {
                name: "k",
                reason: "k-means needs at least one cluster".into(),
            });
        }
        if n < k {
            return Err(AnalysisError::TooFewPoints {
                algorithm: "k-means",
                k,
                n,
            });
        }
        if d == 0 {
            return Err(AnalysisError::Empty {
                what: "k-means feature dimension",
            });
        }
        if restarts == 0 {
            return Err(AnalysisError::InvalidParameter {
                name: "restarts",
                reason: "must be at least 1".into(),
            });
        }
        if max_iter == 0 {
            return Err(AnalysisError::InvalidParameter {
                name: "max_iter",
                reason: "must be at least 1".into(),
            });
        }
        check_finite("k-means data", data.data())?;

        let mean = data.column_means();
        let mut variance_sum = 0.0;
        for i in 0..n {
            for (x, m) in data.row(i).iter().zip(&mean) {
                variance_sum += (x - m) * (x - m);
            }
        }
        let tolerance = RELATIVE_SHIFT_TOLERANCE * variance_sum / (n * d) as f64;

        let mut rng = seeded(seed);
        let mut best: Option<KMeans> = None;
        for restart in 0..restarts {
            let run = lloyd(data, k, &mut rng, max_iter, tolerance);
            if best.as_ref().is_none_or(|b| run.inertia < b.inertia) {
                best = Some(run);
            }
            on_progress(Stage::KMEANS, restart + 1, restarts);
        }
        best.ok_or(AnalysisError::InvalidParameter {
            name: "restarts",
            reason: "must be at least 1".into(),
        })
    }

    /// Number of clusters.
    pub fn k(&self) -> usize {
        self.centroids.rows()
    }

    /// Index of the nearest centroid for each row of `data`.
    pub fn predict(&self, data: &Matrix) -> Result<Vec<usize>> {
        if data.cols() != self.centroids.cols() {
            return Err(AnalysisError::DimensionMismatch {
                op: "k-means predict",
                left: format!("data with {} features", data.cols()),
                right: format!("centroids with {} features", self.centroids.cols()),
            });
        }
        check_finite("k-means predict input", data.data())?;
        let mut assignments = vec![usize::MAX; data.rows()];
        let mut dist = vec![0.0; data.rows()];
        assign(data, &self.centroids, &mut assignments, &mut dist);
        Ok(assignments)
    }
}

fn lloyd(
    data: &Matrix,
    k: usize,
    rng: &mut ChaCha12Rng,
    max_iter: usize,
    tolerance: f64,
) -> KMeans {
    let n = data.rows();
    let mut centroids = kmeans_plus_plus(data, k, rng);
    let mut assignments = vec![usize::MAX; n];
    let mut dist = vec![0.0; n];
    assign(data, &centroids, &mut assignments, &mut dist);
    let mut iterations = 0;
    let mut converged = false;
    while iterations < max_iter {
        iterations += 1;
        let updated = update_centroids(data, k, &mut assignments, &dist);
        let shift: f64 = (0..k)
            .map(|c| squared_distance(updated.row(c), centroids.row(c)))
            .sum();
        centroids = updated;
        let changed = assign(data, &centroids, &mut assignments, &mut dist);
        if changed == 0 || shift <= tolerance {
            converged = true;
            break;
        }
    }
    KMeans {
        centroids,
        assignments,
        inertia: dist.iter().sum(),
        iterations,
        converged,
    }
}

/// Greedy k-means++: each new centre is the best (lowest potential) of
/// `2 + ln k` candidates drawn with probability proportional to D².
fn kmeans_plus_plus(data: &Matrix, k: usize, rng: &mut ChaCha12Rng) -> Matrix {
    let (n, d) = data.shape();
    let trials = 2 + (k as f64).ln().floor() as usize;
    let mut centroids = Matrix::zeros(k, d);
    let first = index(rng, n);
    centroids.row_mut(0).copy_from_slice(data.row(first));
    let mut closest: Vec<f64> = (0..n)
        .map(|i| squared_distance(data.row(i), data.row(first)))
        .collect();
    let mut potential: f64 = closest.iter().sum();
    let mut candidate_closest = vec![0.0; n];
    let mut best_closest = vec![0.0; n];
    for c in 1..k {
        let mut best_potential = f64::INFINITY;
        let mut best_index = 0;
        for _ in 0..trials {
            let candidate = sample_d2(&closest, potential, rng);
            let mut cand_potential = 0.0;
            for (i, slot) in candidate_closest.iter_mut().enumerate() {
                let dd = squared_distance(data.row(i), data.row(candidate)).min(closest[i]);
                *slot = dd;
                cand_potential += dd;
            }
            if cand_potential < best_potential {
                best_potential = cand_potential;
                best_index = candidate;
                std::mem::swap(&mut best_closest, &mut candidate_closest);
            }
        }
        centroids.row_mut(c).copy_from_slice(data.row(best_index));
        std::mem::swap(&mut closest, &mut best_closest);
        potential = best_potential;
    }
    centroids
}

/// Draws an index with probability proportional to `weights` (uniformly when
/// all weights are zero, e.g. when all points coincide with chosen centres).
fn sample_d2(weights: &[f64], total: f64, rng: &mut ChaCha12Rng) -> usize {
    if total <= 0.0 || !total.is_finite() {
        return index(rng, weights.len());
    }
    let target = uniform(rng) * total;
    let mut cumulative = 0.0;
    let mut last_positive = 0;
    for (i, &w) in weights.iter().enumerate() {
        if w > 0.0 {
            cumulative += w;
            last_positive = i;
            if cumulative > target {
                return i;
            }
        }
    }
    last_positive
}

/// Assigns every row to its nearest centroid (ties to the lowest index),
/// storing squared distances; returns how many assignments changed.
fn assign(data: &Matrix, centroids: &Matrix, assignments: &mut [usize], dist: &mut [f64]) -> usize {
    let mut changed = 0;
    for (i, (slot, dslot)) in assignments.iter_mut().zip(dist.iter_mut()).enumerate() {
        let x = data.row(i);
        let mut best = 0;
        let mut best_d = f64::INFINITY;
        for c in 0..centroids.rows() {
            let dd = squared_distance(x, centroids.row(c));
            if dd < best_d {
                best_d = dd;
                best = c;
            }
        }
        if *slot != best {
            changed += 1;
            *slot = best;
        }
        *dslot = best_d;
    }
    changed
}

/// Recomputes centroids as cluster means. Empty clusters take the points
/// farthest from their current centres (from clusters with >1 member).
fn update_centroids(data: &Matrix, k: usize, assignments: &mut [usize], dist: &[f64]) -> Matrix {
    let d = data.cols();
    let mut sums = Matrix::zeros(k, d);
    let mut counts = vec![0usize; k];
    for (i, &c) in assignments.iter().enumerate() {
        counts[c] += 1;
        for (s, x) in sums.row_mut(c).iter_mut().zip(data.row(i)) {
            *s += x;
        }
    }
    if counts.contains(&0) {
        let mut far: Vec<usize> = (0..assignments.len()).collect();
        far.sort_by(|&a, &b| dist[b].total_cmp(&dist[a]));
        let mut next = far.into_iter();
        for empty in 0..k {
            if counts[empty] != 0 {
                continue;
            }
            for p in next.by_ref() {
                let old = assignments[p];
                if counts[old] > 1 {
                    counts[old] -= 1;
                    for (s, x) in sums.row_mut(old).iter_mut().zip(data.row(p)) {
                        *s -= x;
                    }
                    counts[empty] = 1;
                    sums.row_mut(empty).copy_from_slice(data.row(p));
                    assignments[p] = empty;
                    break;
                }
            }
        }
    }
    for (c, &count) in counts.iter().enumerate() {
        if count > 0 {
            let inv = 1.0 / count as f64;
            sums.row_mut(c).iter_mut().for_each(|s| *s *= inv);
        }
    }
    sums
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_cluster_takes_the_farthest_point() {
        // Everything assigned to cluster 0 (centre 0); cluster 1 is empty.
        let data = Matrix::new(4, 1, vec![0.0, 1.0, 9.0, 2.0]).expect("shape");
        let mut assignments = vec![0, 0, 0, 0];
        let dist = vec![0.0, 1.0, 81.0, 4.0];
        let centroids = update_centroids(&data, 2, &mut assignments, &dist);
        assert_eq!(assignments, vec![0, 0, 1, 0]);
        assert_eq!(centroids.data(), &[1.0, 9.0]);
    }

    #[test]
    fn d2_sampling_never_picks_zero_weight_points() {
        let mut rng = seeded(3);
        let weights = [0.0, 2.0, 0.0, 6.0, 0.0];
        let mut hits = [0usize; 5];
        for _ in 0..4000 {
            hits[sample_d2(&weights, 8.0, &mut rng)] += 1;
        }
        assert_eq!(hits[0] + hits[2] + hits[4], 0);
        // Expected split 1:3 → about 1000 vs 3000.
        assert!((800..1200).contains(&hits[1]), "{hits:?}");
    }
}
