//! Exact k nearest neighbours by brute force, with the rows split over the machine's threads:
//! of every row among the others, or of query rows among reference rows.

use std::sync::atomic::{AtomicUsize, Ordering};

use crate::error::{AnalysisError, Result, check_finite};
use crate::matrix::{Matrix, squared_distance};
use crate::progress::{OnProgress, Stage};

/// The `k` nearest rows (Euclidean distance) of every row of a matrix, among its other rows or
/// among the rows of a reference matrix.
#[derive(Debug, Clone, PartialEq)]
pub struct NearestNeighbors {
    k: usize,
    indices: Vec<usize>,
    distances: Vec<f64>,
}

impl NearestNeighbors {
    /// Finds, for every row of `data`, the `k` nearest *other* rows, nearest first.
    ///
    /// A row is never its own neighbour; exact duplicates of it are (at distance 0). Ties are
    /// broken by the lower row index, so the result does not depend on the thread count.
    pub fn exact(data: &Matrix, k: usize) -> Result<NearestNeighbors> {
        if data.rows() <= k {
            return Err(AnalysisError::TooFewPoints {
                algorithm: "k nearest neighbours (k other points each)",
                k: k + 1,
                n: data.rows(),
            });
        }
        search(data, data, k, true, &crate::progress::ignore)
    }

    /// [`NearestNeighbors::exact`], telling `on_progress` of the rows done (stage
    /// `"nearest neighbours"`).
    pub fn exact_with_progress(
        data: &Matrix,
        k: usize,
        on_progress: OnProgress<'_>,
    ) -> Result<NearestNeighbors> {
        if data.rows() <= k {
            return Err(AnalysisError::TooFewPoints {
                algorithm: "k nearest neighbours (k other points each)",
                k: k + 1,
                n: data.rows(),
            });
        }
        search(data, data, k, true, on_progress)
    }

    /// Finds, for every row of `queries`, the `k` nearest rows of `reference`, nearest first
    /// (ties broken by the lower reference index).
    pub fn query(reference: &Matrix, queries: &Matrix, k: usize) -> Result<NearestNeighbors> {
        if reference.rows() < k {
            return Err(AnalysisError::TooFewPoints {
                algorithm: "k nearest neighbours (reference points)",
                k,
                n: reference.rows(),
            });
        }
        if reference.cols() != queries.cols() {
            return Err(AnalysisError::DimensionMismatch {
                op: "nearest-neighbour query",
                left: format!("reference rows of {} values", reference.cols()),
                right: format!("query rows of {} values", queries.cols()),
            });
        }
        check_finite("nearest-neighbour queries", queries.data())?;
        search(reference, queries, k, false, &crate::progress::ignore)
    }

    /// Number of neighbours per row.
    pub fn k(&self) -> usize {
        self.k
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.indices.len() / self.k
    }

    /// Whether there are no rows (never true for a value built by [`NearestNeighbors::exact`]).
    pub fn is_empty(&self) -> bool {
        self.indices.is_empty()
    }

    /// Row indices of the neighbours of row `i`, nearest first.
    pub fn indices(&self, i: usize) -> &[usize] {
        &self.indices[i * self.k..(i + 1) * self.k]
    }

    /// Distances to the neighbours of row `i`, ascending.
    pub fn distances(&self, i: usize) -> &[f64] {
        &self.distances[i * self.k..(i + 1) * self.k]
    }
}

/// The `k` nearest rows of `reference` to each row of `queries`, the rows split over the
/// machine's threads. With `skip_self`, `queries` is `reference` and row `i` is not its own
/// neighbour.
fn search(
    reference: &Matrix,
    queries: &Matrix,
    k: usize,
    skip_self: bool,
    on_progress: OnProgress<'_>,
) -> Result<NearestNeighbors> {
    if k == 0 {
        return Err(AnalysisError::InvalidParameter {
            name: "neighbors",
            reason: "must be at least 1".into(),
        });
    }
    if reference.cols() == 0 {
        return Err(AnalysisError::Empty {
            what: "nearest-neighbour feature dimension",
        });
    }
    check_finite("nearest-neighbour data", reference.data())?;
    let n = queries.rows();
    let mut indices = vec![0usize; n * k];
    let mut distances = vec![0.0f64; n * k];
    let threads = std::thread::available_parallelism().map_or(1, |t| t.get());
    let rows_per_thread = n.div_ceil(threads.max(1)).max(1);
    // Rows done over all threads, told every `REPORT_ROWS` rows.
    const REPORT_ROWS: usize = 256;
    let done = AtomicUsize::new(0);
    let done = &done;
    std::thread::scope(|scope| {
        for ((first, index_chunk), distance_chunk) in (0..n)
            .step_by(rows_per_thread)
            .zip(indices.chunks_mut(rows_per_thread * k))
            .zip(distances.chunks_mut(rows_per_thread * k))
        {
            scope.spawn(move || {
                let mut best: Vec<(f64, usize)> = Vec::with_capacity(k + 1);
                for (offset, (row_indices, row_distances)) in index_chunk
                    .chunks_mut(k)
                    .zip(distance_chunk.chunks_mut(k))
                    .enumerate()
                {
                    let i = first + offset;
                    if offset % REPORT_ROWS == REPORT_ROWS - 1 {
                        let total = done.fetch_add(REPORT_ROWS, Ordering::Relaxed) + REPORT_ROWS;
                        on_progress(Stage::NEIGHBOURS, total.min(n), n);
                    }
                    let skip = skip_self.then_some(i);
                    nearest_to(reference, queries.row(i), skip, k, &mut best);
                    for ((slot_index, slot_distance), &(d2, j)) in row_indices
                        .iter_mut()
                        .zip(row_distances.iter_mut())
                        .zip(&best)
                    {
                        *slot_index = j;
                        *slot_distance = d2.sqrt();
                    }
                }
            });
        }
    });
    on_progress(Stage::NEIGHBOURS, n, n);
    Ok(NearestNeighbors {
        k,
        indices,
        distances,
    })
}

/// Fills `best` with the `k` nearest rows of `reference` to `point` (leaving out row `skip`)
/// as `(squared distance, index)`, ascending by distance then index.
fn nearest_to(
    reference: &Matrix,
    point: &[f64],
    skip: Option<usize>,
    k: usize,
    best: &mut Vec<(f64, usize)>,
) {
    best.clear();
    for j in 0..reference.rows() {
        if Some(j) == skip {
            continue;
        }
        let d2 = squared_distance(point, reference.row(j));
        if best.len() == k {
            // Rows come in increasing index order, so an equal distance never displaces.
            if d2 >= best[k - 1].0 {
                continue;
            }
            best.pop();
        }
        let at = best.partition_point(|&(other, _)| other <= d2);
        best.insert(at, (d2, j));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neighbours_on_a_line_are_the_adjacent_points() {
        let data = Matrix::from_rows(&[[0.0], [1.0], [3.0], [6.0], [10.0]]).unwrap();
        let nn = NearestNeighbors::exact(&data, 2).unwrap();
        assert_eq!(nn.indices(0), &[1, 2]);
        assert_eq!(nn.distances(0), &[1.0, 3.0]);
        assert_eq!(nn.indices(2), &[1, 0]);
        assert_eq!(nn.distances(2), &[2.0, 3.0]);
        assert_eq!(nn.indices(4), &[3, 2]);
        assert_eq!(nn.len(), 5);
    }

    #[test]
    fn duplicates_are_neighbours_at_distance_zero_and_ties_go_to_the_lower_index() {
        let data = Matrix::from_rows(&[[0.0], [1.0], [-1.0], [0.0]]).unwrap();
        let nn = NearestNeighbors::exact(&data, 2).unwrap();
        assert_eq!(nn.indices(0), &[3, 1]);
        assert_eq!(nn.distances(0), &[0.0, 1.0]);
        assert_eq!(nn.indices(3), &[0, 1]);
    }

    #[test]
    fn queries_find_their_nearest_reference_rows_including_exact_matches() {
        let reference = Matrix::from_rows(&[[0.0, 0.0], [1.0, 0.0], [0.0, 2.0]]).unwrap();
        let queries = Matrix::from_rows(&[[0.0, 0.0], [0.9, 0.1], [0.0, 5.0]]).unwrap();
        let nn = NearestNeighbors::query(&reference, &queries, 2).unwrap();
        assert_eq!(nn.len(), 3);
        assert_eq!(nn.indices(0), &[0, 1]);
        assert_eq!(nn.distances(0), &[0.0, 1.0]);
        assert_eq!(nn.indices(1), &[1, 0]);
        assert_eq!(nn.indices(2), &[2, 0]);
        assert_eq!(nn.distances(2), &[3.0, 5.0]);
        assert!(matches!(
            NearestNeighbors::query(&reference, &queries, 4),
            Err(AnalysisError::TooFewPoints { .. })
        ));
        let narrow = Matrix::from_rows(&[[0.0]]).unwrap();
        assert!(matches!(
            NearestNeighbors::query(&reference, &narrow, 1),
            Err(AnalysisError::DimensionMismatch { .. })
        ));
    }

    #[test]
    fn too_many_neighbours_and_bad_values_are_rejected() {
        let data = Matrix::from_rows(&[[0.0], [1.0], [2.0]]).unwrap();
        assert!(matches!(
            NearestNeighbors::exact(&data, 3),
            Err(AnalysisError::TooFewPoints { .. })
        ));
        assert!(NearestNeighbors::exact(&data, 0).is_err());
        let bad = Matrix::from_rows(&[[0.0], [f64::NAN], [2.0]]).unwrap();
        assert!(matches!(
            NearestNeighbors::exact(&bad, 1),
            Err(AnalysisError::NonFinite { .. })
        ));
    }
}
