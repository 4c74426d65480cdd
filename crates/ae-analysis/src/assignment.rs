//! Minimum-cost assignment (Hungarian algorithm).

use crate::error::{AnalysisError, Result, check_finite};
use crate::matrix::Matrix;

/// Minimum-cost assignment of rows to distinct columns.
///
/// `cost` is `r x c` with `r <= c` (transpose, or pad with a constant, for
/// more rows than columns). Returns `assignment[row] = column`, every row
/// getting a different column, minimising the total cost. Runs the
/// shortest-augmenting-path form of the Hungarian method with dual
/// potentials, `O(r² c)`.
pub fn hungarian(cost: &Matrix) -> Result<Vec<usize>> {
    let (rows, cols) = cost.shape();
    if rows > cols {
        return Err(AnalysisError::InvalidParameter {
            name: "cost matrix",
            reason: format!(
                "needs rows <= columns, got {rows}x{cols}; transpose it or pad with extra columns"
            ),
        });
    }
    if rows == 0 {
        return Ok(Vec::new());
    }
    check_finite("assignment cost matrix", cost.data())?;

    // Column `cols` is a virtual "unmatched" column used as the path root.
    const NONE: usize = usize::MAX;
    let root = cols;
    let mut row_potential = vec![0.0f64; rows];
    let mut col_potential = vec![0.0f64; cols + 1];
    let mut matched_row = vec![NONE; cols + 1]; // row matched to each column
    let mut previous_col = vec![NONE; cols + 1];
    let mut slack = vec![0.0f64; cols + 1];
    let mut visited = vec![false; cols + 1];

    for start in 0..rows {
        matched_row[root] = start;
        slack.iter_mut().for_each(|s| *s = f64::INFINITY);
        visited.iter_mut().for_each(|v| *v = false);
        let mut current = root;
        // Grow a shortest-path tree until it reaches a free column.
        loop {
            visited[current] = true;
            let r = matched_row[current];
            let mut delta = f64::INFINITY;
            let mut next = NONE;
            for j in 0..cols {
                if visited[j] {
                    continue;
                }
                let reduced = cost.get(r, j) - row_potential[r] - col_potential[j];
                if reduced < slack[j] {
                    slack[j] = reduced;
                    previous_col[j] = current;
                }
                if slack[j] < delta {
                    delta = slack[j];
                    next = j;
                }
            }
            if next == NONE {
                // Cannot happen with rows <= cols and finite costs.
                return Err(AnalysisError::NoConvergence {
                    algorithm: "Hungarian assignment",
                    iterations: start,
                });
            }
            for j in 0..=cols {
                if visited[j] {
                    row_potential[matched_row[j]] += delta;
                    col_potential[j] -= delta;
                } else {
                    slack[j] -= delta;
                }
            }
            current = next;
            if matched_row[current] == NONE {
                break;
            }
        }
        // Flip the augmenting path back to the root.
        while current != root {
            let prev = previous_col[current];
            matched_row[current] = matched_row[prev];
            current = prev;
        }
    }

    let mut assignment = vec![0usize; rows];
    for (j, &r) in matched_row.iter().enumerate().take(cols) {
        if r != NONE {
            assignment[r] = j;
        }
    }
    Ok(assignment)
}

/// Total cost of an assignment as returned by [`hungarian`].
pub fn assignment_cost(cost: &Matrix, assignment: &[usize]) -> Result<f64> {
    if assignment.len() != cost.rows() {
        return Err(AnalysisError::LengthMismatch {
            what: "assignment and cost-matrix rows",
            left: assignment.len(),
            right: cost.rows(),
        });
    }
    let mut total = 0.0;
    for (r, &c) in assignment.iter().enumerate() {
        if c >= cost.cols() {
            return Err(AnalysisError::InvalidParameter {
                name: "assignment",
                reason: format!(
                    "row {r} assigned to column {c}, but there are {} columns",
                    cost.cols()
                ),
            });
        }
        total += cost.get(r, c);
    }
    Ok(total)
}
