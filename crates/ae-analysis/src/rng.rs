//! Small random-number helpers shared by the stochastic algorithms.

use rand::rngs::ChaCha12Rng;
use rand::{RngExt, SeedableRng};

/// A reproducible generator from a `u64` seed.
pub(crate) fn seeded(seed: u64) -> ChaCha12Rng {
    ChaCha12Rng::seed_from_u64(seed)
}

/// Uniform sample in `[0, 1)`.
pub(crate) fn uniform(rng: &mut ChaCha12Rng) -> f64 {
    rng.random::<f64>()
}

/// Uniform index in `0..n` (`n` must be positive).
pub(crate) fn index(rng: &mut ChaCha12Rng, n: usize) -> usize {
    rng.random_range(0..n)
}

/// Standard normal sample via the Box–Muller transform.
pub(crate) fn standard_normal(rng: &mut ChaCha12Rng) -> f64 {
    // 1 - U lies in (0, 1], so the logarithm is finite.
    let u1 = 1.0 - uniform(rng);
    let u2 = uniform(rng);
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Seeds are promised to repeat a run across versions, so the generator is named after its
    /// algorithm (ChaCha12) rather than `StdRng`, which may change in any `rand` release. These
    /// are its first draws for seed 42; if this fails, every seeded k-means, UMAP and GMM
    /// changes with it.
    #[test]
    fn seeded_draws_are_pinned() {
        let mut rng = seeded(42);
        let u: Vec<f64> = (0..3).map(|_| uniform(&mut rng)).collect();
        let i: Vec<usize> = (0..3).map(|_| index(&mut rng, 1000)).collect();
        let z = standard_normal(&mut rng);
        assert_eq!(
            (u, i, z),
            (
                PINNED_UNIFORM.to_vec(),
                PINNED_INDEX.to_vec(),
                PINNED_NORMAL
            )
        );
    }

    const PINNED_UNIFORM: [f64; 3] = [0.5265574090027738, 0.5427252099031439, 0.6364650991438949];
    const PINNED_INDEX: [usize; 3] = [990, 405, 969];
    const PINNED_NORMAL: f64 = -0.7991277081901966;
}
