//! Seeded synthetic low-dimensional manifolds for quick experiments.

use rand::rngs::ChaCha12Rng;
use rand::{RngExt, SeedableRng};

use crate::corruption::StandardNormal;
use crate::dataset::{Dataset, ImageShape};
use crate::values::Values;

fn unbounded(dim: usize, inputs: Vec<f32>) -> Dataset {
    Dataset {
        shape: ImageShape::flat(dim),
        inputs: Values::F32(inputs),
        targets: None,
        target_shape: None,
        labels: None,
        class_names: Vec::new(),
        value_range: None,
    }
}

/// `n` points `(t, t²)` with `t ~ U(-1, 1)`, plus N(0, noise²) on each
/// coordinate; shape 1 × 1 × 2. The same seed gives the same points.
pub fn noisy_parabola(n: usize, noise: f32, seed: u64) -> Dataset {
    let mut rng = ChaCha12Rng::seed_from_u64(seed);
    let mut normal = StandardNormal::new();
    let mut inputs = Vec::with_capacity(n * 2);
    for _ in 0..n {
        let t = rng.random_range(-1.0f32..1.0);
        inputs.push(t + noise * normal.sample(&mut rng));
        inputs.push(t * t + noise * normal.sample(&mut rng));
    }
    unbounded(2, inputs)
}

/// `n` points `(cos t, sin t, t / 4π)` with `t ~ U(0, 4π)` (two turns of a
/// helix), plus N(0, noise²) on each coordinate; shape 1 × 1 × 3.
pub fn helix(n: usize, noise: f32, seed: u64) -> Dataset {
    let four_pi = 4.0 * std::f32::consts::PI;
    let mut rng = ChaCha12Rng::seed_from_u64(seed);
    let mut normal = StandardNormal::new();
    let mut inputs = Vec::with_capacity(n * 3);
    for _ in 0..n {
        let t = rng.random_range(0.0f32..four_pi);
        let (s, c) = t.sin_cos();
        inputs.push(c + noise * normal.sample(&mut rng));
        inputs.push(s + noise * normal.sample(&mut rng));
        inputs.push(t / four_pi + noise * normal.sample(&mut rng));
    }
    unbounded(3, inputs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parabola_is_seeded_and_on_curve() {
        let a = noisy_parabola(5000, 0.01, 4);
        assert_eq!(a.len(), 5000);
        assert_eq!(a.shape, ImageShape::new(1, 1, 2));
        assert_eq!(a.value_range, None);
        assert!(a.labels.is_none());
        assert_eq!(a.inputs, noisy_parabola(5000, 0.01, 4).inputs);
        assert_ne!(a.inputs, noisy_parabola(5000, 0.01, 5).inputs);
        // y - x² ≈ e_y - 2t·e_x: standard deviation σ·√(1 + 4t²) ≤ 0.023.
        let mut max_dev = 0f32;
        let mut sq = 0f64;
        for i in 0..a.len() {
            let p = a.input(i);
            assert!(p[0].abs() < 1.1);
            let dev = p[1] - p[0] * p[0];
            max_dev = max_dev.max(dev.abs());
            sq += f64::from(dev * dev);
        }
        assert!(max_dev < 0.15, "{max_dev}");
        // E[dev²] = σ²·(1 + 4·E[t²]) = σ²·7/3.
        let ms = sq / a.len() as f64;
        assert!((ms / (1e-4 * 7.0 / 3.0) - 1.0).abs() < 0.1, "{ms}");
        let exact = noisy_parabola(100, 0.0, 1);
        for i in 0..exact.len() {
            let p = exact.input(i);
            assert_eq!(p[1], p[0] * p[0]);
        }
        // t covers (-1, 1) roughly uniformly.
        let neg = (0..a.len()).filter(|&i| a.input(i)[0] < 0.0).count();
        assert!((neg as f64 / 5000.0 - 0.5).abs() < 0.05);
    }

    #[test]
    fn helix_is_seeded_and_on_curve() {
        let h = helix(2000, 0.0, 9);
        assert_eq!(h.shape, ImageShape::new(1, 1, 3));
        assert_eq!(h.inputs, helix(2000, 0.0, 9).inputs);
        for i in 0..h.len() {
            let p = h.input(i);
            assert!(((p[0] * p[0] + p[1] * p[1]) - 1.0).abs() < 1e-5);
            assert!((0.0..=1.0).contains(&p[2]));
            // The height encodes the angle: cos/sin of 4π·z match x/y.
            let t = p[2] * 4.0 * std::f32::consts::PI;
            assert!((t.cos() - p[0]).abs() < 1e-3 && (t.sin() - p[1]).abs() < 1e-3);
        }
        let noisy = helix(2000, 0.1, 9);
        let diff: f32 = noisy
            .inputs
            .to_f32()
            .iter()
            .zip(h.inputs.to_f32().iter())
            .map(|(a, b)| (a - b).abs())
            .sum::<f32>()
            / h.inputs.len() as f32;
        // Mean |N(0, 0.1²)| = 0.1·√(2/π) ≈ 0.08.
        assert!((diff - 0.0798).abs() < 0.01, "{diff}");
    }
}
