//! Small random-number helpers shared by the stochastic algorithms.

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// A reproducible generator from a `u64` seed.
pub(crate) fn seeded(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

/// Uniform sample in `[0, 1)`.
pub(crate) fn uniform(rng: &mut StdRng) -> f64 {
    rng.random::<f64>()
}

/// Uniform index in `0..n` (`n` must be positive).
pub(crate) fn index(rng: &mut StdRng, n: usize) -> usize {
    rng.random_range(0..n)
}

/// Standard normal sample via the Box–Muller transform.
pub(crate) fn standard_normal(rng: &mut StdRng) -> f64 {
    // 1 - U lies in (0, 1], so the logarithm is finite.
    let u1 = 1.0 - uniform(rng);
    let u2 = uniform(rng);
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}
