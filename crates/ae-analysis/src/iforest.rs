//! Isolation Forest (Liu, Ting and Zhou, 2008): anomalies are few and different, so random
//! axis-aligned splits isolate them in fewer steps than normal points.

use rand::seq::SliceRandom;

use crate::error::{AnalysisError, Result, check_finite};
use crate::matrix::Matrix;
use crate::rng::{index, seeded, uniform};

/// The Euler–Mascheroni constant.
const EULER_GAMMA: f64 = 0.577_215_664_901_532_9;

/// The average path length of an unsuccessful search in a binary search tree of `n` points,
/// `c(n) = 2 H(n − 1) − 2 (n − 1) / n` with `H(i) ≈ ln i + γ` (`c(2) = 1`, `c(n ≤ 1) = 0`):
/// the path a leaf of `n` unsplit points stands for, and the normalizer of the score.
pub fn average_path_length(n: usize) -> f64 {
    match n {
        0 | 1 => 0.0,
        2 => 1.0,
        _ => {
            let n = n as f64;
            2.0 * ((n - 1.0).ln() + EULER_GAMMA) - 2.0 * (n - 1.0) / n
        }
    }
}

/// Settings of [`IsolationForest::fit`] (the paper's defaults).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IsolationForestSettings {
    /// Trees in the forest.
    pub trees: usize,
    /// Rows drawn (without replacement) to grow each tree.
    pub sample_size: usize,
    /// Seed of the draws and splits.
    pub seed: u64,
}

impl Default for IsolationForestSettings {
    fn default() -> Self {
        Self {
            trees: 100,
            sample_size: 256,
            seed: 0,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Node {
    /// Rows with `feature < value` go to `left`, the others to `right` (indices into the
    /// tree's nodes).
    Split {
        feature: usize,
        value: f64,
        left: usize,
        right: usize,
    },
    /// A leaf holding `size` training rows.
    Leaf { size: usize },
}

/// A fitted Isolation Forest.
///
/// ```
/// use ae_analysis::{IsolationForest, IsolationForestSettings, Matrix};
///
/// let normal = Matrix::from_fn(200, 2, |i, j| ((i * 7 + j * 3) % 20) as f64 / 20.0);
/// let forest = IsolationForest::fit(&normal, &IsolationForestSettings::default()).unwrap();
/// let probe = Matrix::new(2, 2, vec![0.5, 0.5, 9.0, -9.0]).unwrap();
/// let scores = forest.score(&probe).unwrap();
/// assert!(scores[1] > scores[0]); // the far point isolates sooner
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct IsolationForest {
    trees: Vec<Vec<Node>>,
    sample_size: usize,
    dim: usize,
}

impl IsolationForest {
    /// Grows the forest on the rows of `data`. Each tree grows on `min(sample_size, rows)`
    /// rows to the depth `ceil(log2(sample size))`.
    pub fn fit(data: &Matrix, settings: &IsolationForestSettings) -> Result<IsolationForest> {
        let invalid = |name: &'static str, reason: &str| {
            Err(AnalysisError::InvalidParameter {
                name,
                reason: reason.into(),
            })
        };
        if settings.trees == 0 {
            return invalid("trees", "the forest needs at least 1 tree");
        }
        if settings.sample_size < 2 {
            return invalid("sample_size", "each tree needs at least 2 rows");
        }
        if data.rows() < 2 {
            return Err(AnalysisError::TooFewPoints {
                algorithm: "Isolation Forest",
                k: 2,
                n: data.rows(),
            });
        }
        if data.cols() == 0 {
            return Err(AnalysisError::Empty {
                what: "Isolation Forest feature dimension",
            });
        }
        check_finite("Isolation Forest data", data.data())?;
        let sample_size = settings.sample_size.min(data.rows());
        let depth_limit = (sample_size as f64).log2().ceil() as usize;
        let mut rng = seeded(settings.seed);
        let mut rows: Vec<usize> = (0..data.rows()).collect();
        let trees = (0..settings.trees)
            .map(|_| {
                let (sample, _) = rows.partial_shuffle(&mut rng, sample_size);
                let mut sample = sample.to_vec();
                let mut nodes = Vec::new();
                grow(data, &mut sample, 0, depth_limit, &mut nodes, &mut rng);
                nodes
            })
            .collect();
        Ok(IsolationForest {
            trees,
            sample_size,
            dim: data.cols(),
        })
    }

    /// The mean over the trees of the path length of `point`: the splits it passes, plus
    /// [`average_path_length`] of the leaf it ends in.
    pub fn path_length(&self, point: &[f64]) -> f64 {
        let total: f64 = self
            .trees
            .iter()
            .map(|nodes| {
                let (mut node, mut depth) = (0, 0.0);
                loop {
                    match nodes[node] {
                        Node::Split {
                            feature,
                            value,
                            left,
                            right,
                        } => {
                            node = if point[feature] < value { left } else { right };
                            depth += 1.0;
                        }
                        Node::Leaf { size } => return depth + average_path_length(size),
                    }
                }
            })
            .sum();
        total / self.trees.len() as f64
    }

    /// The anomaly score of each row, `2^(−E[h] / c(ψ))` in (0, 1]: near 1 for points
    /// isolated at once, about 0.5 and below for ordinary ones.
    pub fn score(&self, data: &Matrix) -> Result<Vec<f64>> {
        if data.cols() != self.dim {
            return Err(AnalysisError::DimensionMismatch {
                op: "Isolation Forest scoring",
                left: format!("a forest of {} features", self.dim),
                right: format!("rows of {} values", data.cols()),
            });
        }
        check_finite("Isolation Forest scoring data", data.data())?;
        let normalizer = average_path_length(self.sample_size);
        Ok((0..data.rows())
            .map(|i| (2f64).powf(-self.path_length(data.row(i)) / normalizer))
            .collect())
    }
}

/// Grows the subtree of `rows` at `depth` into `nodes`; returns its root's index.
fn grow(
    data: &Matrix,
    rows: &mut [usize],
    depth: usize,
    depth_limit: usize,
    nodes: &mut Vec<Node>,
    rng: &mut rand::rngs::ChaCha12Rng,
) -> usize {
    let me = nodes.len();
    nodes.push(Node::Leaf { size: rows.len() });
    if rows.len() <= 1 || depth >= depth_limit {
        return me;
    }
    // Split on a feature that varies among the rows; none varies: a leaf of equal points.
    let varying: Vec<(usize, f64, f64)> = (0..data.cols())
        .filter_map(|j| {
            let (lo, hi) = rows
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &i| {
                    let v = data.get(i, j);
                    (lo.min(v), hi.max(v))
                });
            (hi > lo).then_some((j, lo, hi))
        })
        .collect();
    if varying.is_empty() {
        return me;
    }
    let (feature, lo, hi) = varying[index(rng, varying.len())];
    // Uniform in (lo, hi]: the minimum always goes left, so both sides are non-empty.
    let value = hi - uniform(rng) * (hi - lo);
    let value = if value <= lo { hi } else { value };
    let mut split = 0;
    for k in 0..rows.len() {
        if data.get(rows[k], feature) < value {
            rows.swap(k, split);
            split += 1;
        }
    }
    let (left_rows, right_rows) = rows.split_at_mut(split);
    let left = grow(data, left_rows, depth + 1, depth_limit, nodes, rng);
    let right = grow(data, right_rows, depth + 1, depth_limit, nodes, rng);
    nodes[me] = Node::Split {
        feature,
        value,
        left,
        right,
    };
    me
}
