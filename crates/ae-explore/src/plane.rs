//! The map: codes laid out in a plane, and the way back from any point of the plane to a full
//! code.
//!
//! A code of one or two values is its own position. Longer codes are projected on their first
//! two principal components (or embedded by UMAP). Going back, a point is given the code its
//! nearest items suggest: PCA's linear inverse plus the inverse-distance-weighted residuals of
//! the [`NEIGHBOURS`] nearest items (what the two components leave out), or, for UMAP, which
//! has no inverse, the weighted mean of those items' codes. At an item's own position this is
//! that item's code exactly, so clicking an item decodes its reconstruction, and between items
//! the code changes smoothly.

use ae_toolkit::analysis::{Matrix, Pca};

use crate::error::Result;

/// Items whose codes shape the code under a point of the map.
pub const NEIGHBOURS: usize = 8;

enum Kind {
    /// The code is the position (padded with 0 for a one-value code).
    Identity,
    /// Projection on two principal axes.
    Pca { mean: Vec<f64>, axes: [Vec<f64>; 2] },
    /// A nonlinear embedding without an inverse.
    Embedded(&'static str),
}

/// Codes and their positions.
pub struct Plane {
    kind: Kind,
    codes: Matrix,
    points: Vec<[f64; 2]>,
    /// Each code minus the linear inverse of its position (the code itself for an
    /// embedding), blended over the nearest items on the way back.
    offsets: Vec<Vec<f64>>,
}

impl Plane {
    /// Codes of at most two values, placed at themselves.
    pub fn identity(codes: Matrix) -> Self {
        let points = (0..codes.rows())
            .map(|i| {
                let row = codes.row(i);
                [row[0], row.get(1).copied().unwrap_or(0.0)]
            })
            .collect();
        Self::new(Kind::Identity, codes, points)
    }

    /// Codes placed by a PCA fitted to them (at least two components).
    pub fn pca(codes: Matrix, pca: &Pca) -> Result<Self> {
        let projected = pca.transform_k(&codes, 2)?;
        let points = (0..projected.rows())
            .map(|i| [projected.get(i, 0), projected.get(i, 1)])
            .collect();
        let kind = Kind::Pca {
            mean: pca.mean.clone(),
            axes: [pca.components.column(0), pca.components.column(1)],
        };
        Ok(Self::new(kind, codes, points))
    }

    /// Codes placed by an embedding computed elsewhere (`embedding`: one row of two values
    /// per code), named `name`.
    pub fn embedded(codes: Matrix, embedding: Matrix, name: &'static str) -> Self {
        let points = (0..embedding.rows())
            .map(|i| [embedding.get(i, 0), embedding.get(i, 1)])
            .collect();
        Self::new(Kind::Embedded(name), codes, points)
    }

    fn new(kind: Kind, codes: Matrix, points: Vec<[f64; 2]>) -> Self {
        let mut plane = Self {
            kind,
            codes,
            points,
            offsets: Vec::new(),
        };
        plane.offsets = (0..plane.codes.rows())
            .map(|i| {
                let code = plane.codes.row(i);
                match plane.linear(plane.points[i]) {
                    Some(linear) => code.iter().zip(&linear).map(|(c, l)| c - l).collect(),
                    None => code.to_vec(),
                }
            })
            .collect();
        plane
    }

    /// `code`, `pca` or the embedding's name.
    pub fn kind(&self) -> &'static str {
        match self.kind {
            Kind::Identity => "code",
            Kind::Pca { .. } => "pca",
            Kind::Embedded(name) => name,
        }
    }

    /// Every code's position.
    pub fn points(&self) -> &[[f64; 2]] {
        &self.points
    }

    /// The position of a new code: exact for the identity and PCA, the nearest item's
    /// position (by code distance) for an embedding.
    pub fn project(&self, code: &[f32]) -> [f64; 2] {
        let code: Vec<f64> = code.iter().map(|&v| f64::from(v)).collect();
        match &self.kind {
            Kind::Identity => [code[0], code.get(1).copied().unwrap_or(0.0)],
            Kind::Pca { mean, axes } => {
                let dot = |axis: &[f64]| -> f64 {
                    code.iter()
                        .zip(mean)
                        .zip(axis)
                        .map(|((c, m), a)| (c - m) * a)
                        .sum()
                };
                [dot(&axes[0]), dot(&axes[1])]
            }
            Kind::Embedded(_) => {
                let nearest = (0..self.codes.rows())
                    .min_by(|&a, &b| {
                        distance2(self.codes.row(a), &code)
                            .total_cmp(&distance2(self.codes.row(b), &code))
                    })
                    .unwrap_or(0);
                self.points[nearest]
            }
        }
    }

    /// The linear part of the way back (PCA's inverse; nothing for an embedding).
    fn linear(&self, point: [f64; 2]) -> Option<Vec<f64>> {
        match &self.kind {
            Kind::Identity => None,
            Kind::Pca { mean, axes } => Some(
                mean.iter()
                    .zip(&axes[0])
                    .zip(&axes[1])
                    .map(|((m, a), b)| m + point[0] * a + point[1] * b)
                    .collect(),
            ),
            Kind::Embedded(_) => None,
        }
    }

    /// The full code under `point` (see the module's documentation).
    pub fn code_at(&self, point: [f64; 2]) -> Vec<f64> {
        let latent = self.codes.cols();
        if let Kind::Identity = self.kind {
            return point[..latent.min(2)].to_vec();
        }
        let mut code = self.linear(point).unwrap_or_else(|| vec![0.0; latent]);
        for (i, w) in self.neighbour_weights(point) {
            for (c, o) in code.iter_mut().zip(&self.offsets[i]) {
                *c += w * o;
            }
        }
        code
    }

    /// The nearest items to `point` and their weights (summing to 1): inverse squared
    /// distance, all the weight on an item at the point itself.
    fn neighbour_weights(&self, point: [f64; 2]) -> Vec<(usize, f64)> {
        let mut near: Vec<(usize, f64)> = self
            .points
            .iter()
            .enumerate()
            .map(|(i, p)| (i, distance2(p, &point)))
            .collect();
        near.sort_by(|a, b| a.1.total_cmp(&b.1));
        near.truncate(NEIGHBOURS);
        if let Some(&(i, d)) = near.first()
            && d <= 1e-18
        {
            return vec![(i, 1.0)];
        }
        let inverse: Vec<f64> = near.iter().map(|(_, d)| 1.0 / d).collect();
        let total: f64 = inverse.iter().sum();
        near.iter()
            .zip(inverse)
            .map(|(&(i, _), w)| (i, w / total))
            .collect()
    }
}

fn distance2(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes() -> Matrix {
        // Five codes of three values, spread mostly along the first two.
        Matrix::from_rows(&[
            [0.0, 0.0, 0.1],
            [2.0, 0.5, -0.2],
            [-1.0, 1.5, 0.3],
            [0.5, -2.0, 0.0],
            [3.0, 3.0, -0.4],
        ])
        .unwrap()
    }

    #[test]
    fn an_items_position_maps_back_to_its_code() {
        let codes = codes();
        let pca = Pca::fit(&codes, 2).unwrap();
        let plane = Plane::pca(codes.clone(), &pca).unwrap();
        for i in 0..codes.rows() {
            let back = plane.code_at(plane.points()[i]);
            for (b, c) in back.iter().zip(codes.row(i)) {
                assert!(
                    (b - c).abs() < 1e-9,
                    "item {i}: {back:?} vs {:?}",
                    codes.row(i)
                );
            }
            let projected =
                plane.project(&codes.row(i).iter().map(|&v| v as f32).collect::<Vec<_>>());
            assert!(distance2(&projected, &plane.points()[i]) < 1e-9);
        }
        // The same for an embedding without an inverse.
        let embedding =
            Matrix::from_rows(&[[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [2.0, 2.0]])
                .unwrap();
        let plane = Plane::embedded(codes.clone(), embedding, "umap");
        assert_eq!(plane.code_at([1.0, 1.0]), codes.row(3).to_vec());
        assert_eq!(plane.kind(), "umap");
    }

    #[test]
    fn between_items_the_code_is_a_weighted_blend() {
        let codes = codes();
        let embedding =
            Matrix::from_rows(&[[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [2.0, 2.0]])
                .unwrap();
        let plane = Plane::embedded(codes.clone(), embedding, "umap");
        // Halfway between items 0 and 1, equally far from 2 and 3: weights by 1/d².
        let code = plane.code_at([0.5, 0.0]);
        let (w01, w23, w4) = (1.0 / 0.25, 1.0 / 1.25, 1.0 / (1.5f64.powi(2) + 4.0));
        let total = 2.0 * w01 + 2.0 * w23 + w4;
        for (j, c) in code.iter().enumerate() {
            let expected = (w01 * (codes.get(0, j) + codes.get(1, j))
                + w23 * (codes.get(2, j) + codes.get(3, j))
                + w4 * codes.get(4, j))
                / total;
            assert!((c - expected).abs() < 1e-12, "{j}: {c} vs {expected}");
        }
        // Moving a little moves the code a little.
        let near = plane.code_at([0.5, 0.01]);
        assert!(distance2(&near, &code) < 1e-3);
    }

    #[test]
    fn short_codes_are_their_own_positions() {
        let codes = Matrix::from_rows(&[[1.0, 2.0], [3.0, -1.0]]).unwrap();
        let plane = Plane::identity(codes);
        assert_eq!(plane.points(), &[[1.0, 2.0], [3.0, -1.0]]);
        assert_eq!(plane.code_at([0.25, -4.0]), vec![0.25, -4.0]);
        assert_eq!(plane.project(&[0.5, 0.75]), [0.5, 0.75]);
        let one = Plane::identity(Matrix::from_rows(&[[1.0], [2.0]]).unwrap());
        assert_eq!(one.points(), &[[1.0, 0.0], [2.0, 0.0]]);
        assert_eq!(one.code_at([0.5, 9.0]), vec![0.5]);
        assert_eq!(one.kind(), "code");
    }
}
