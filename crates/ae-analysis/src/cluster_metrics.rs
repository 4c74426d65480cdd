//! External clustering metrics: accuracy under the best matching, NMI, ARI.

use std::collections::BTreeMap;

use crate::assignment::hungarian;
use crate::error::{AnalysisError, Result, check_same_len};
use crate::matrix::Matrix;

/// Contingency table between two labelings (rows: true classes, columns:
/// clusters, both in sorted order of their ids).
struct Contingency {
    counts: Vec<Vec<u64>>,
    row_sums: Vec<u64>,
    col_sums: Vec<u64>,
    n: u64,
}

fn contingency(labels: &[usize], clusters: &[usize]) -> Result<Contingency> {
    check_same_len("labels and predictions", labels.len(), clusters.len())?;
    if labels.is_empty() {
        return Err(AnalysisError::Empty {
            what: "labels for clustering metric",
        });
    }
    let compact = |ids: &[usize]| {
        let map: BTreeMap<usize, usize> = ids.iter().map(|&x| (x, 0)).collect();
        map.keys()
            .enumerate()
            .map(|(i, &k)| (k, i))
            .collect::<BTreeMap<usize, usize>>()
    };
    let label_ids = compact(labels);
    let cluster_ids = compact(clusters);
    let mut counts = vec![vec![0u64; cluster_ids.len()]; label_ids.len()];
    let mut row_sums = vec![0u64; label_ids.len()];
    let mut col_sums = vec![0u64; cluster_ids.len()];
    for (l, c) in labels.iter().zip(clusters) {
        let (Some(&i), Some(&j)) = (label_ids.get(l), cluster_ids.get(c)) else {
            continue; // unreachable: every id was inserted above
        };
        counts[i][j] += 1;
        row_sums[i] += 1;
        col_sums[j] += 1;
    }
    Ok(Contingency {
        counts,
        row_sums,
        col_sums,
        n: labels.len() as u64,
    })
}

/// Fraction of points whose cluster maps to their label under the best
/// one-to-one mapping between cluster ids and labels (Hungarian matching).
/// Surplus clusters or labels stay unmatched and count as errors.
pub fn clustering_accuracy(labels: &[usize], clusters: &[usize]) -> Result<f64> {
    let table = contingency(labels, clusters)?;
    let size = table.row_sums.len().max(table.col_sums.len());
    // Maximise matches = minimise (max - count); padding cells count zero matches.
    let max_count = table.counts.iter().flatten().copied().max().unwrap_or(0) as f64;
    let cost = Matrix::from_fn(size, size, |i, j| {
        let count = table
            .counts
            .get(i)
            .and_then(|row| row.get(j))
            .copied()
            .unwrap_or(0);
        max_count - count as f64
    });
    let assignment = hungarian(&cost)?;
    let matched: u64 = assignment
        .iter()
        .enumerate()
        .map(|(i, &j)| {
            table
                .counts
                .get(i)
                .and_then(|row| row.get(j))
                .copied()
                .unwrap_or(0)
        })
        .sum();
    Ok(matched as f64 / table.n as f64)
}

fn entropy(sums: &[u64], n: f64) -> f64 {
    sums.iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / n;
            -p * p.ln()
        })
        .sum()
}

/// Normalised mutual information with arithmetic-mean normalisation,
/// `MI / ((H(labels) + H(clusters)) / 2)` (scikit-learn's default).
/// Two single-cluster labelings score 1.0.
pub fn normalized_mutual_information(labels: &[usize], clusters: &[usize]) -> Result<f64> {
    let table = contingency(labels, clusters)?;
    if table.row_sums.len() == 1 && table.col_sums.len() == 1 {
        return Ok(1.0);
    }
    let n = table.n as f64;
    let mut mi = 0.0;
    for (i, row) in table.counts.iter().enumerate() {
        for (j, &c) in row.iter().enumerate() {
            if c > 0 {
                let c = c as f64;
                let expected = table.row_sums[i] as f64 * table.col_sums[j] as f64;
                mi += c / n * (c * n / expected).ln();
            }
        }
    }
    let normaliser = 0.5 * (entropy(&table.row_sums, n) + entropy(&table.col_sums, n));
    if normaliser <= 0.0 {
        return Ok(1.0);
    }
    Ok((mi.max(0.0) / normaliser).clamp(0.0, 1.0))
}

fn pairs(x: u64) -> f64 {
    let x = x as f64;
    x * (x - 1.0) / 2.0
}

/// Adjusted Rand index (Hubert & Arabie): 1 for identical partitions, about
/// 0 for independent ones, possibly negative. Degenerate inputs where the
/// expected and maximal index coincide (e.g. one point) score 1.0.
pub fn adjusted_rand_index(labels: &[usize], clusters: &[usize]) -> Result<f64> {
    let table = contingency(labels, clusters)?;
    let index: f64 = table.counts.iter().flatten().map(|&c| pairs(c)).sum();
    let sum_rows: f64 = table.row_sums.iter().map(|&c| pairs(c)).sum();
    let sum_cols: f64 = table.col_sums.iter().map(|&c| pairs(c)).sum();
    let total = pairs(table.n);
    if total == 0.0 {
        return Ok(1.0);
    }
    let expected = sum_rows * sum_cols / total;
    let maximum = 0.5 * (sum_rows + sum_cols);
    if maximum == expected {
        return Ok(1.0);
    }
    Ok((index - expected) / (maximum - expected))
}
