//! UMAP (McInnes, Healy & Melville 2018): a low-dimensional embedding that keeps each point's
//! nearest neighbours near.
//!
//! The steps, as the paper describes them:
//! 1. exact k nearest neighbours ([`NearestNeighbors`]);
//! 2. a fuzzy neighbour graph: each point's memberships `exp(-(d - ρ) / σ)` are calibrated so
//!    that they sum to `log2 k` (ρ is the distance to the nearest neighbour), then made
//!    symmetric with the fuzzy union `a + b - ab`;
//! 3. a spectral start: the leading non-trivial eigenvectors of the normalized graph
//!    adjacency, found by block power iteration (a graph in several pieces lays out each
//!    piece and places the pieces apart);
//! 4. stochastic gradient descent on the fuzzy cross-entropy between the graph and the
//!    embedding's similarities `1 / (1 + a d^{2b})`, with negative sampling. `a` and `b` are
//!    fitted to `min_dist` and `spread`.
//!
//! Clustering in such an embedding of an autoencoder's code is the N2D recipe (McConville et
//! al. 2020).

use rand::rngs::ChaCha12Rng;

use crate::eigen::symmetric_eigen;
use crate::error::{AnalysisError, Result, check_finite};
use crate::matrix::{Matrix, squared_distance};
use crate::neighbors::NearestNeighbors;
use crate::progress::{OnProgress, Stage};
use crate::rng::{index, seeded, standard_normal};

/// Largest coordinate of the spectral start after scaling (as in the reference implementation).
const INITIAL_EXTENT: f64 = 10.0;
/// Standard deviation of the noise added to the scaled spectral start.
const INITIAL_NOISE: f64 = 1e-4;
/// Block power iterations spent on the spectral start.
const SPECTRAL_ITERATIONS: usize = 200;
/// Vectors iterated beyond the `components + 1` that the spectral start uses.
const SPECTRAL_OVERSAMPLING: usize = 10;
/// Each gradient coordinate is clipped to this magnitude.
const GRADIENT_CLIP: f64 = 4.0;
/// Added to squared distances in the repulsive gradient so that it stays finite.
const REPULSION_EPSILON: f64 = 1e-3;
/// A neighbourhood's σ never falls below this fraction of its mean neighbour distance.
const MIN_SIGMA_FRACTION: f64 = 1e-3;

/// Settings of [`Umap::fit`].
#[derive(Debug, Clone, PartialEq)]
pub struct UmapSettings {
    /// Neighbours per point in the graph (15 in the paper; larger keeps more global structure).
    pub neighbors: usize,
    /// Dimension of the embedding.
    pub components: usize,
    /// How close embedded points may pack (0 gives the tightest clusters).
    pub min_dist: f64,
    /// The scale of the embedding's similarity curve.
    pub spread: f64,
    /// Optimization epochs (`None`: 500 up to 10,000 points, else 200).
    pub epochs: Option<usize>,
    /// Random non-neighbours pushed away per attractive update.
    pub negative_samples: usize,
    /// Initial SGD step, decayed linearly to 0.
    pub learning_rate: f64,
    /// Seed of the start's noise and of the sampling.
    pub seed: u64,
}

impl Default for UmapSettings {
    fn default() -> Self {
        Self {
            neighbors: 15,
            components: 2,
            min_dist: 0.1,
            spread: 1.0,
            epochs: None,
            negative_samples: 5,
            learning_rate: 1.0,
            seed: 0,
        }
    }
}

/// A fitted UMAP embedding.
#[derive(Debug, Clone, PartialEq)]
pub struct Umap {
    /// One row per input row, `components` columns.
    pub embedding: Matrix,
    /// Curve parameter `a` of the similarity `1 / (1 + a d^{2b})`.
    pub a: f64,
    /// Curve parameter `b`.
    pub b: f64,
    /// Epochs run.
    pub epochs: usize,
    /// Undirected edges of the fuzzy graph.
    pub edges: usize,
}

impl Umap {
    /// Embeds the rows of `data`.
    pub fn fit(data: &Matrix, settings: &UmapSettings) -> Result<Umap> {
        Self::fit_with_progress(data, settings, &crate::progress::ignore)
    }

    /// [`Umap::fit`], telling `on_progress` of its two long stages: `"nearest neighbours"`
    /// (rows) and `"UMAP layout"` (epochs).
    pub fn fit_with_progress(
        data: &Matrix,
        settings: &UmapSettings,
        on_progress: OnProgress<'_>,
    ) -> Result<Umap> {
        validate(settings)?;
        let n = data.rows();
        if n <= settings.components {
            return Err(AnalysisError::TooFewPoints {
                algorithm: "UMAP (more points than embedding dimensions)",
                k: settings.components + 1,
                n,
            });
        }
        let (a, b) = curve_parameters(settings.min_dist, settings.spread)?;
        let neighbors =
            NearestNeighbors::exact_with_progress(data, settings.neighbors, on_progress)?;
        let graph = fuzzy_graph(&neighbors);
        let epochs = settings
            .epochs
            .unwrap_or(if n <= 10_000 { 500 } else { 200 });
        let mut rng = seeded(settings.seed);
        let mut embedding = initial_layout(data, &graph, settings.components, &mut rng)?;
        optimize_layout(
            &mut embedding,
            &graph,
            Layout {
                a,
                b,
                epochs,
                negative_samples: settings.negative_samples,
                learning_rate: settings.learning_rate,
            },
            &mut rng,
            on_progress,
        );
        check_finite("UMAP embedding", embedding.data())?;
        Ok(Umap {
            embedding,
            a,
            b,
            epochs,
            edges: graph.len(),
        })
    }
}

fn validate(settings: &UmapSettings) -> Result<()> {
    let invalid = |name: &'static str, reason: &str| {
        Err(AnalysisError::InvalidParameter {
            name,
            reason: reason.into(),
        })
    };
    if settings.neighbors < 2 {
        return invalid("neighbors", "UMAP needs at least 2 neighbours per point");
    }
    if settings.components == 0 {
        return invalid("components", "the embedding needs at least 1 dimension");
    }
    if settings.epochs == Some(0) {
        return invalid("epochs", "must be at least 1");
    }
    if !(settings.learning_rate.is_finite() && settings.learning_rate > 0.0) {
        return invalid("learning_rate", "must be positive and finite");
    }
    Ok(())
}

/// `a` and `b` such that `1 / (1 + a x^{2b})` best fits (least squares on 300 points of
/// `[0, 3 spread]`) the curve that is 1 up to `min_dist` and `exp(-(x - min_dist) / spread)`
/// beyond.
pub fn curve_parameters(min_dist: f64, spread: f64) -> Result<(f64, f64)> {
    if !(spread.is_finite() && spread > 0.0) {
        return Err(AnalysisError::InvalidParameter {
            name: "spread",
            reason: format!("must be positive and finite, got {spread}"),
        });
    }
    if !(min_dist.is_finite() && (0.0..spread).contains(&min_dist)) {
        return Err(AnalysisError::InvalidParameter {
            name: "min_dist",
            reason: format!("must be in [0, spread = {spread}), got {min_dist}"),
        });
    }
    // x = 0 fits exactly whatever a and b are, so it is left out.
    let xs: Vec<f64> = (1..300).map(|i| 3.0 * spread * i as f64 / 299.0).collect();
    let target: Vec<f64> = xs
        .iter()
        .map(|&x| {
            if x < min_dist {
                1.0
            } else {
                (-(x - min_dist) / spread).exp()
            }
        })
        .collect();
    let cost = |a: f64, b: f64| -> f64 {
        xs.iter()
            .zip(&target)
            .map(|(&x, &t)| {
                let r = 1.0 / (1.0 + a * x.powf(2.0 * b)) - t;
                r * r
            })
            .sum()
    };
    // Levenberg–Marquardt on the two parameters.
    let (mut a, mut b) = (1.0, 1.0);
    let mut current = cost(a, b);
    let mut damping = 1e-3;
    for _ in 0..500 {
        let (mut jtj, mut jtr) = ([[0.0f64; 2]; 2], [0.0f64; 2]);
        for (&x, &t) in xs.iter().zip(&target) {
            let u = x.powf(2.0 * b);
            let g = 1.0 / (1.0 + a * u);
            let r = g - t;
            let da = -u * g * g;
            let db = -a * u * 2.0 * x.ln() * g * g;
            jtj[0][0] += da * da;
            jtj[0][1] += da * db;
            jtj[1][1] += db * db;
            jtr[0] += da * r;
            jtr[1] += db * r;
        }
        let m00 = jtj[0][0] * (1.0 + damping);
        let m11 = jtj[1][1] * (1.0 + damping);
        let det = m00 * m11 - jtj[0][1] * jtj[0][1];
        if det.abs() < f64::MIN_POSITIVE {
            break;
        }
        let step_a = -(m11 * jtr[0] - jtj[0][1] * jtr[1]) / det;
        let step_b = -(m00 * jtr[1] - jtj[0][1] * jtr[0]) / det;
        let (next_a, next_b) = (a + step_a, b + step_b);
        let next = if next_a > 0.0 && next_b > 0.0 {
            cost(next_a, next_b)
        } else {
            f64::INFINITY
        };
        if next < current {
            let settled = current - next <= 1e-15 * current.max(1e-300);
            (a, b, current) = (next_a, next_b, next);
            damping = (damping * 0.1).max(1e-12);
            if settled {
                break;
            }
        } else {
            damping *= 10.0;
            if damping > 1e12 {
                break;
            }
        }
    }
    if !(a.is_finite() && b.is_finite() && a > 0.0 && b > 0.0) {
        return Err(AnalysisError::NoConvergence {
            algorithm: "UMAP curve fit",
            iterations: 500,
        });
    }
    Ok((a, b))
}

/// One undirected edge of the fuzzy graph: two point indices and the membership in `(0, 1]`.
type Edge = (usize, usize, f64);

/// The membership of a neighbour at distance `d` in a neighbourhood with parameters ρ and σ.
fn membership(d: f64, rho: f64, sigma: f64) -> f64 {
    (-(d - rho).max(0.0) / sigma).exp()
}

/// ρ (the distance to the nearest neighbour at a positive distance, else 0) and σ such that
/// `Σ membership(d, ρ, σ) = target` over the given ascending `distances`.
fn calibrate(distances: &[f64], target: f64, sigma_floor: f64) -> (f64, f64) {
    let rho = distances.iter().copied().find(|&d| d > 0.0).unwrap_or(0.0);
    let total = |sigma: f64| -> f64 { distances.iter().map(|&d| membership(d, rho, sigma)).sum() };
    let (mut low, mut high, mut sigma) = (0.0f64, f64::INFINITY, 1.0f64);
    for _ in 0..64 {
        let value = total(sigma);
        if (value - target).abs() < 1e-5 {
            break;
        }
        if value > target {
            high = sigma;
            sigma = 0.5 * (low + high);
        } else {
            low = sigma;
            sigma = if high.is_finite() {
                0.5 * (low + high)
            } else {
                sigma * 2.0
            };
        }
    }
    let mean = distances.iter().sum::<f64>() / distances.len().max(1) as f64;
    let floor = if mean > 0.0 {
        MIN_SIGMA_FRACTION * mean
    } else {
        sigma_floor
    };
    (rho, sigma.max(floor))
}

/// The symmetric fuzzy neighbour graph of `neighbors`, as undirected edges `(i < j, weight)`
/// sorted by `(i, j)`.
fn fuzzy_graph(neighbors: &NearestNeighbors) -> Vec<Edge> {
    let n = neighbors.len();
    let k = neighbors.k();
    let target = (k as f64).log2();
    let global_mean = (0..n)
        .flat_map(|i| neighbors.distances(i).iter().copied())
        .sum::<f64>()
        / (n * k) as f64;
    let sigma_floor = (MIN_SIGMA_FRACTION * global_mean).max(f64::MIN_POSITIVE);
    // Directed memberships, keyed by the unordered pair; `forward` marks i < j.
    let mut directed: Vec<(usize, usize, bool, f64)> = Vec::with_capacity(n * k);
    for i in 0..n {
        let distances = neighbors.distances(i);
        let (rho, sigma) = calibrate(distances, target, sigma_floor);
        for (&j, &d) in neighbors.indices(i).iter().zip(distances) {
            let weight = membership(d, rho, sigma);
            directed.push((i.min(j), i.max(j), i < j, weight));
        }
    }
    directed.sort_unstable_by_key(|&(i, j, forward, _)| (i, j, forward));
    let mut edges: Vec<Edge> = Vec::with_capacity(directed.len());
    let mut at = 0;
    while at < directed.len() {
        let (i, j, _, first) = directed[at];
        let weight = match directed.get(at + 1) {
            Some(&(i2, j2, _, second)) if (i2, j2) == (i, j) => {
                at += 1;
                first + second - first * second
            }
            _ => first,
        };
        at += 1;
        if weight > 0.0 {
            edges.push((i, j, weight));
        }
    }
    edges
}

/// The starting layout, `n × components`, its largest coordinate [`INITIAL_EXTENT`], plus a
/// little noise. A connected graph starts from its spectral coordinates. A graph in several
/// pieces lays each piece out on its own and places the pieces apart, in an arrangement
/// that follows the distances between their centroids in `data`.
fn initial_layout(
    data: &Matrix,
    graph: &[Edge],
    components: usize,
    rng: &mut ChaCha12Rng,
) -> Result<Matrix> {
    let n = data.rows();
    let (pieces, piece_of) = connected_components(n, graph);
    let mut layout = if pieces == 1 {
        spectral_coordinates(n, graph, components, rng)?
    } else {
        let meta = piece_positions(data, &piece_of, pieces, components)?;
        // Each piece fills a ball a quarter as wide as the gap to its nearest neighbour piece.
        let radius: Vec<f64> = (0..pieces)
            .map(|p| {
                let nearest = (0..pieces)
                    .filter(|&q| q != p)
                    .map(|q| squared_distance(meta.row(p), meta.row(q)).sqrt())
                    .fold(f64::INFINITY, f64::min);
                0.25 * if nearest > 0.0 && nearest.is_finite() {
                    nearest
                } else {
                    1.0
                }
            })
            .collect();
        let mut members: Vec<Vec<usize>> = vec![Vec::new(); pieces];
        for (i, &p) in piece_of.iter().enumerate() {
            members[p].push(i);
        }
        let mut local = vec![usize::MAX; n];
        let mut layout = Matrix::zeros(n, components);
        for (p, points) in members.iter().enumerate() {
            for (l, &i) in points.iter().enumerate() {
                local[i] = l;
            }
            let sub_graph: Vec<Edge> = graph
                .iter()
                .filter(|e| piece_of[e.0] == p)
                .map(|&(i, j, w)| (local[i], local[j], w))
                .collect();
            let sub = if points.len() > components + 1 {
                spectral_coordinates(points.len(), &sub_graph, components, rng)?
            } else {
                Matrix::from_fn(points.len(), components, |_, _| 0.1 * standard_normal(rng))
            };
            for (l, &i) in points.iter().enumerate() {
                for c in 0..components {
                    layout.set(i, c, meta.get(p, c) + radius[p] * sub.get(l, c));
                }
            }
        }
        layout
    };
    let extent = largest_magnitude(layout.data());
    let scale = if extent > 0.0 {
        INITIAL_EXTENT / extent
    } else {
        1.0
    };
    for v in layout.data_mut() {
        *v = *v * scale + INITIAL_NOISE * standard_normal(rng);
    }
    Ok(layout)
}

/// The connected components of the graph: their count and each point's component.
fn connected_components(n: usize, graph: &[Edge]) -> (usize, Vec<usize>) {
    let mut parent: Vec<usize> = (0..n).collect();
    fn root(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    for &(i, j, _) in graph {
        let (ri, rj) = (root(&mut parent, i), root(&mut parent, j));
        if ri != rj {
            parent[ri.max(rj)] = ri.min(rj);
        }
    }
    let mut label = vec![usize::MAX; n];
    let mut count = 0;
    let piece_of = (0..n)
        .map(|i| {
            let r = root(&mut parent, i);
            if label[r] == usize::MAX {
                label[r] = count;
                count += 1;
            }
            label[r]
        })
        .collect();
    (count, piece_of)
}

/// Positions (`pieces × components`, largest coordinate 1) for the pieces of a graph: a
/// Laplacian eigenmap of the affinities `exp(-d² / s²)` between their centroids in `data`
/// (`s` the mean centroid distance). Pieces with the same centroid still get apart.
fn piece_positions(
    data: &Matrix,
    piece_of: &[usize],
    pieces: usize,
    components: usize,
) -> Result<Matrix> {
    let mut centroids = Matrix::zeros(pieces, data.cols());
    let mut sizes = vec![0usize; pieces];
    for (i, &p) in piece_of.iter().enumerate() {
        sizes[p] += 1;
        for (c, v) in centroids.row_mut(p).iter_mut().zip(data.row(i)) {
            *c += v;
        }
    }
    for (p, &size) in sizes.iter().enumerate() {
        centroids
            .row_mut(p)
            .iter_mut()
            .for_each(|c| *c /= size as f64);
    }
    let distance = |p: usize, q: usize| squared_distance(centroids.row(p), centroids.row(q)).sqrt();
    let pairs = (pieces * (pieces - 1) / 2).max(1);
    let mean = (0..pieces)
        .flat_map(|p| (0..p).map(move |q| (p, q)))
        .map(|(p, q)| distance(p, q))
        .sum::<f64>()
        / pairs as f64;
    let scale = if mean > 0.0 { mean } else { 1.0 };
    let affinity = Matrix::from_fn(pieces, pieces, |p, q| {
        if p == q {
            0.0
        } else {
            (-(distance(p, q) / scale).powi(2)).exp()
        }
    });
    let laplacian = Matrix::from_fn(pieces, pieces, |p, q| {
        if p == q {
            affinity.row(p).iter().sum()
        } else {
            -affinity.get(p, q)
        }
    });
    // Eigenvalues come in descending order: the last is the constant vector's 0.
    let eigen = symmetric_eigen(&laplacian)?;
    let mut positions = Matrix::zeros(pieces, components);
    for c in 0..components.min(pieces - 1) {
        let column = pieces - 2 - c;
        for p in 0..pieces {
            positions.set(p, c, eigen.vectors.get(p, column));
        }
    }
    let extent = largest_magnitude(positions.data());
    if extent > 0.0 {
        positions.data_mut().iter_mut().for_each(|v| *v /= extent);
    }
    Ok(positions)
}

/// The graph's leading non-trivial eigenvectors of `D^{-1/2} W D^{-1/2}` (by block power
/// iteration and a Rayleigh–Ritz step), divided by `√degree`: `n × components` coordinates
/// with largest magnitude 1.
fn spectral_coordinates(
    n: usize,
    graph: &[Edge],
    components: usize,
    rng: &mut ChaCha12Rng,
) -> Result<Matrix> {
    let mut degree = vec![0.0f64; n];
    for &(i, j, w) in graph {
        degree[i] += w;
        degree[j] += w;
    }
    let inv_sqrt: Vec<f64> = degree
        .iter()
        .map(|&d| if d > 0.0 { 1.0 / d.sqrt() } else { 0.0 })
        .collect();
    let normalized: Vec<Edge> = graph
        .iter()
        .map(|&(i, j, w)| (i, j, w * inv_sqrt[i] * inv_sqrt[j]))
        .collect();
    // Extra vectors speed up convergence: the error in the leading vectors shrinks with the
    // ratio of the first eigenvalue outside the block to theirs.
    let block = (components + 1 + SPECTRAL_OVERSAMPLING).min(n);
    // Column-major block: vector c is vectors[c * n .. (c + 1) * n].
    let mut vectors: Vec<f64> = (0..block * n).map(|_| standard_normal(rng)).collect();
    orthonormalize(&mut vectors, n);
    let mut product = vec![0.0f64; block * n];
    for _ in 0..SPECTRAL_ITERATIONS {
        // (I + N) / 2 has the eigenvectors of N with eigenvalues in [0, 1]: powers of it keep
        // the top of N's spectrum and damp its negative end.
        half_shifted_product(&normalized, &vectors, &mut product, n);
        std::mem::swap(&mut vectors, &mut product);
        orthonormalize(&mut vectors, n);
    }
    // Rayleigh–Ritz: rotate the block onto the eigenvectors of its projected matrix.
    half_shifted_product(&normalized, &vectors, &mut product, n);
    let projected = Matrix::from_fn(block, block, |r, c| {
        let (vr, pc) = (&vectors[r * n..(r + 1) * n], &product[c * n..(c + 1) * n]);
        vr.iter().zip(pc).map(|(x, y)| x * y).sum()
    });
    let symmetric = Matrix::from_fn(block, block, |r, c| {
        0.5 * (projected.get(r, c) + projected.get(c, r))
    });
    let ritz = symmetric_eigen(&symmetric)?;
    let mut coordinates = Matrix::zeros(n, components);
    // Ritz vector 0 is the trivial D^{1/2}·1 direction; the next `components` are the layout.
    for c in 0..components.min(block.saturating_sub(1)) {
        for r in 0..block {
            let weight = ritz.vectors.get(r, c + 1);
            // Dividing by √degree turns them into the random-walk eigenvectors (Laplacian
            // eigenmaps), which do not shrink at points of low degree.
            for (p, v) in vectors[r * n..(r + 1) * n].iter().enumerate() {
                let entry = coordinates.get(p, c) + weight * v * inv_sqrt[p];
                coordinates.set(p, c, entry);
            }
        }
    }
    let extent = largest_magnitude(coordinates.data());
    if extent > 0.0 {
        coordinates.data_mut().iter_mut().for_each(|v| *v /= extent);
    }
    Ok(coordinates)
}

/// The largest absolute value in `values` (0 for none).
fn largest_magnitude(values: &[f64]) -> f64 {
    values.iter().fold(0.0f64, |m, v| m.max(v.abs()))
}

/// `out = (I + N) v / 2` for every vector of the column-major block `vectors`.
fn half_shifted_product(normalized: &[Edge], vectors: &[f64], out: &mut [f64], n: usize) {
    for (v, o) in vectors.chunks(n).zip(out.chunks_mut(n)) {
        for (o, x) in o.iter_mut().zip(v) {
            *o = 0.5 * x;
        }
        for &(i, j, w) in normalized {
            o[i] += 0.5 * w * v[j];
            o[j] += 0.5 * w * v[i];
        }
    }
}

/// Modified Gram–Schmidt on the column-major block (a vector that vanishes is left at zero).
fn orthonormalize(vectors: &mut [f64], n: usize) {
    let block = vectors.len() / n;
    for c in 0..block {
        let (done, rest) = vectors.split_at_mut(c * n);
        let current = &mut rest[..n];
        for previous in done.chunks(n) {
            let projection: f64 = previous
                .iter()
                .zip(current.iter())
                .map(|(p, x)| p * x)
                .sum();
            for (x, p) in current.iter_mut().zip(previous) {
                *x -= projection * p;
            }
        }
        let norm = current.iter().map(|x| x * x).sum::<f64>().sqrt();
        if norm > 0.0 {
            current.iter_mut().for_each(|x| *x /= norm);
        }
    }
}

/// Settings of the layout optimization.
struct Layout {
    a: f64,
    b: f64,
    epochs: usize,
    negative_samples: usize,
    learning_rate: f64,
}

/// SGD on the fuzzy cross-entropy. Each edge is sampled in proportion to its weight (the
/// heaviest every epoch); a sampled edge pulls its two ends together and pushes each end away
/// from `negative_samples` random points.
fn optimize_layout(
    embedding: &mut Matrix,
    graph: &[Edge],
    layout: Layout,
    rng: &mut ChaCha12Rng,
    on_progress: OnProgress<'_>,
) {
    let Layout {
        a,
        b,
        epochs,
        negative_samples,
        learning_rate,
    } = layout;
    let n = embedding.rows();
    let dim = embedding.cols();
    let heaviest = graph.iter().fold(0.0f64, |m, e| m.max(e.2));
    if heaviest <= 0.0 {
        return;
    }
    // Edges too light to be sampled once in `epochs` are left out.
    let sampled: Vec<(usize, usize, f64)> = graph
        .iter()
        .filter(|e| e.2 * epochs as f64 >= heaviest)
        .map(|&(i, j, w)| (i, j, heaviest / w))
        .collect();
    let mut next_sample: Vec<f64> = sampled.iter().map(|e| e.2).collect();
    let negative_period: Vec<f64> = sampled
        .iter()
        .map(|e| e.2 / negative_samples.max(1) as f64)
        .collect();
    let mut next_negative = negative_period.clone();
    let y = embedding.data_mut();
    let mut pull = vec![0.0f64; dim];
    for epoch in 0..epochs {
        if epoch % 10 == 0 {
            on_progress(Stage::UMAP_LAYOUT, epoch, epochs);
        }
        let alpha = learning_rate * (1.0 - epoch as f64 / epochs as f64);
        let now = epoch as f64;
        for (e, &(i, j, period)) in sampled.iter().enumerate() {
            if next_sample[e] > now {
                continue;
            }
            let d2 = squared_gap(y, i, j, dim);
            let coefficient = if d2 > 0.0 {
                let p = d2.powf(b);
                -2.0 * a * b * (p / d2) / (a * p + 1.0)
            } else {
                0.0
            };
            for (t, g) in pull.iter_mut().enumerate() {
                *g = clip(coefficient * (y[i * dim + t] - y[j * dim + t])) * alpha;
            }
            for (t, g) in pull.iter().enumerate() {
                y[i * dim + t] += g;
                y[j * dim + t] -= g;
            }
            next_sample[e] += period;
            if negative_samples == 0 {
                continue;
            }
            let draws = ((now - next_negative[e]) / negative_period[e])
                .floor()
                .max(0.0) as usize;
            for _ in 0..draws {
                for end in [i, j] {
                    let other = index(rng, n);
                    if other != end {
                        push_apart(y, end, other, dim, a, b, alpha);
                    }
                }
            }
            next_negative[e] += draws as f64 * negative_period[e];
        }
    }
    on_progress(Stage::UMAP_LAYOUT, epochs, epochs);
}

/// Moves point `i` away from point `other` by one repulsive step.
fn push_apart(y: &mut [f64], i: usize, other: usize, dim: usize, a: f64, b: f64, alpha: f64) {
    let d2 = squared_gap(y, i, other, dim);
    if d2 > 0.0 {
        let coefficient = 2.0 * b / ((REPULSION_EPSILON + d2) * (a * d2.powf(b) + 1.0));
        for t in 0..dim {
            let g = clip(coefficient * (y[i * dim + t] - y[other * dim + t]));
            y[i * dim + t] += g * alpha;
        }
    }
}

fn squared_gap(y: &[f64], i: usize, j: usize, dim: usize) -> f64 {
    (0..dim)
        .map(|t| {
            let g = y[i * dim + t] - y[j * dim + t];
            g * g
        })
        .sum()
}

fn clip(g: f64) -> f64 {
    g.clamp(-GRADIENT_CLIP, GRADIENT_CLIP)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curve_parameters_match_the_reference_values() {
        // The values the reference implementation reports for spread 1.
        let (a, b) = curve_parameters(0.1, 1.0).unwrap();
        assert!(
            (a - 1.577).abs() < 0.01 && (b - 0.895).abs() < 0.005,
            "{a} {b}"
        );
        let (a, b) = curve_parameters(0.001, 1.0).unwrap();
        assert!(
            (a - 1.929).abs() < 0.01 && (b - 0.7915).abs() < 0.005,
            "{a} {b}"
        );
        assert!(curve_parameters(1.0, 1.0).is_err());
        assert!(curve_parameters(-0.1, 1.0).is_err());
        assert!(curve_parameters(0.1, 0.0).is_err());
    }

    #[test]
    fn calibrated_memberships_sum_to_the_target() {
        let distances = [0.5, 0.7, 1.0, 1.1, 2.0, 3.5];
        let target = (distances.len() as f64).log2();
        let (rho, sigma) = calibrate(&distances, target, 1e-9);
        assert_eq!(rho, 0.5);
        let total: f64 = distances
            .iter()
            .map(|&d| (-(d - rho).max(0.0) / sigma).exp())
            .sum();
        assert!((total - target).abs() < 1e-4, "{total} vs {target}");
        // Duplicates (distance 0) do not set ρ.
        let (rho, _) = calibrate(&[0.0, 0.25, 1.0], 3f64.log2(), 1e-9);
        assert_eq!(rho, 0.25);
    }

    #[test]
    fn fuzzy_union_combines_both_directions() {
        // On a line of 4 evenly spaced points with k = 2, every nearest neighbour has
        // membership 1, so the union of i→j and j→i is 1 for adjacent points.
        let data = Matrix::from_rows(&[[0.0], [1.0], [2.0], [3.0]]).unwrap();
        let nn = NearestNeighbors::exact(&data, 2).unwrap();
        let graph = fuzzy_graph(&nn);
        for &(i, j, w) in &graph {
            assert!(i < j && w > 0.0 && w <= 1.0);
            if j == i + 1 {
                assert!((w - 1.0).abs() < 1e-12, "{i}-{j}: {w}");
            }
        }
        let pairs: Vec<(usize, usize)> = graph.iter().map(|&(i, j, _)| (i, j)).collect();
        assert_eq!(pairs, vec![(0, 1), (0, 2), (1, 2), (1, 3), (2, 3)]);
        // 0→2 at distance 2 (ρ 1) and 2→0 is not an edge (2's neighbours are 1 and 3):
        // the union keeps 0→2's own membership, which is below 1.
        assert!(graph[1].2 < 1.0);
    }

    #[test]
    fn starting_layout_separates_disconnected_pieces_with_the_same_centroid() {
        // Two 5-cycles with no edge between them, both centred on the origin.
        let mut graph = Vec::new();
        for offset in [0, 5] {
            for i in 0..5 {
                let (a, b) = (offset + i, offset + (i + 1) % 5);
                graph.push((a.min(b), a.max(b), 1.0));
            }
        }
        let data = Matrix::from_fn(10, 2, |i, j| {
            let angle = std::f64::consts::TAU * (i % 5) as f64 / 5.0;
            let radius = if i < 5 { 1.0 } else { 3.0 };
            radius * if j == 0 { angle.cos() } else { angle.sin() }
        });
        assert_eq!(
            connected_components(10, &graph),
            (2, vec![0, 0, 0, 0, 0, 1, 1, 1, 1, 1])
        );
        let start = initial_layout(&data, &graph, 2, &mut seeded(3)).unwrap();
        let centre = |points: std::ops::Range<usize>| -> [f64; 2] {
            let m = points.len() as f64;
            let mut c = [0.0; 2];
            for i in points {
                c[0] += start.get(i, 0) / m;
                c[1] += start.get(i, 1) / m;
            }
            c
        };
        let (left, right) = (centre(0..5), centre(5..10));
        let gap = ((left[0] - right[0]).powi(2) + (left[1] - right[1]).powi(2)).sqrt();
        let reach = |points: std::ops::Range<usize>, c: [f64; 2]| {
            points
                .map(|i| {
                    ((start.get(i, 0) - c[0]).powi(2) + (start.get(i, 1) - c[1]).powi(2)).sqrt()
                })
                .fold(0.0f64, f64::max)
        };
        assert!(
            reach(0..5, left) + reach(5..10, right) < gap,
            "pieces overlap: centres {left:?} {right:?}"
        );
        let extent = start.data().iter().fold(0.0f64, |m, v| m.max(v.abs()));
        assert!((extent - INITIAL_EXTENT).abs() < 1e-3);
    }

    #[test]
    fn spectral_coordinates_of_a_path_are_monotone() {
        // The Fiedler vector of a path graph orders its points.
        let graph: Vec<Edge> = (0..29).map(|i| (i, i + 1, 1.0)).collect();
        let coordinates = spectral_coordinates(30, &graph, 1, &mut seeded(1)).unwrap();
        let values: Vec<f64> = (0..30).map(|i| coordinates.get(i, 0)).collect();
        let increasing = values.windows(2).all(|w| w[1] > w[0]);
        let decreasing = values.windows(2).all(|w| w[1] < w[0]);
        assert!(increasing || decreasing, "{values:?}");
    }
}
