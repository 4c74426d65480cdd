//! Input corruptions for denoising autoencoders, applied on the fly.

use rand::{Rng, RngExt};

use crate::dataset::ImageShape;
use crate::error::{DataError, Result};

/// Draws standard normal samples with the Box–Muller transform, keeping the
/// second sample of each pair for the next call.
#[derive(Debug, Default, Clone)]
pub struct StandardNormal {
    spare: Option<f64>,
}

impl StandardNormal {
    /// A sampler with no cached value.
    pub fn new() -> Self {
        Self::default()
    }

    /// The next N(0, 1) sample.
    pub fn sample<R: Rng + ?Sized>(&mut self, rng: &mut R) -> f32 {
        if let Some(z) = self.spare.take() {
            return z as f32;
        }
        // u1 in (0, 1] so that ln(u1) is finite.
        let u1 = 1.0 - rng.random::<f64>();
        let u2 = rng.random::<f64>();
        let r = (-2.0 * u1.ln()).sqrt();
        let (s, c) = (std::f64::consts::TAU * u2).sin_cos();
        self.spare = Some(r * s);
        (r * c) as f32
    }
}

/// One corruption of the input values. Serialized with a `kind` tag, e.g.
/// `{"kind": "gaussian", "sigma": 0.3}`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Corruption {
    /// Adds N(0, sigma²) noise to every value, then clips to the value range.
    Gaussian {
        /// Standard deviation of the noise (≥ 0).
        sigma: f32,
    },
    /// Sets each value with probability `p` to the low or the high end of
    /// the range (50/50).
    SaltAndPepper {
        /// Probability of corrupting a value, in `[0, 1]`.
        p: f32,
    },
    /// Sets each value with probability `p` to 0 (or to the low end of the
    /// range when 0 is outside it).
    Masking {
        /// Probability of masking a value, in `[0, 1]`.
        p: f32,
    },
    /// Sets a `size` × `size` square at a random position of each item to 0 (or to the low end
    /// of the range when 0 is outside it), in every channel: inpainting.
    Block {
        /// Side of the square in pixels (≥ 1; at most the image's height and width).
        size: usize,
        /// Shape of one item, which places the square; filled in from the data by
        /// [`Corruption::for_items`]. Without it the values are one grey image, square when
        /// their number is a perfect square, else a single row.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        item: Option<ImageShape>,
    },
}

impl Corruption {
    /// Checks the parameters: `sigma` finite and ≥ 0, `p` in `[0, 1]`.
    pub fn validate(&self) -> Result<()> {
        match *self {
            Corruption::Gaussian { sigma } => {
                if !sigma.is_finite() || sigma < 0.0 {
                    return Err(DataError::invalid(format!(
                        "gaussian corruption: sigma must be a finite number >= 0, got {sigma}"
                    )));
                }
            }
            Corruption::SaltAndPepper { p } | Corruption::Masking { p } => {
                if !(0.0..=1.0).contains(&p) {
                    return Err(DataError::invalid(format!(
                        "{} corruption: p must be a probability in [0, 1], got {p}",
                        self.name()
                    )));
                }
            }
            Corruption::Block { size, item } => {
                if size == 0 {
                    return Err(DataError::invalid(
                        "block corruption: size must be at least 1 pixel, got 0",
                    ));
                }
                if let Some(shape) = item {
                    self.check_fits(shape)?;
                }
            }
        }
        Ok(())
    }

    /// Checks that the corruption can be applied to items of `shape`: a block must fit inside
    /// the image.
    pub fn check_fits(&self, shape: ImageShape) -> Result<()> {
        if let Corruption::Block { size, .. } = *self
            && (size > shape.height || size > shape.width)
        {
            return Err(DataError::invalid(format!(
                "block corruption: a {size}x{size} block does not fit in items of shape {shape} \
                 (channels x height x width)"
            )));
        }
        Ok(())
    }

    /// This corruption set up for items of `shape` (a block learns where its square can go);
    /// other kinds are returned unchanged.
    pub fn for_items(self, shape: ImageShape) -> Corruption {
        match self {
            Corruption::Block { size, .. } => Corruption::Block {
                size,
                item: Some(shape),
            },
            other => other,
        }
    }

    /// The kebab-case name of the corruption kind.
    pub fn name(&self) -> &'static str {
        match self {
            Corruption::Gaussian { .. } => "gaussian",
            Corruption::SaltAndPepper { .. } => "salt-and-pepper",
            Corruption::Masking { .. } => "masking",
            Corruption::Block { .. } => "block",
        }
    }

    /// The corruption's parameter: σ, p, or the block side.
    pub fn parameter(&self) -> f64 {
        match *self {
            Corruption::Gaussian { sigma } => f64::from(sigma),
            Corruption::SaltAndPepper { p } | Corruption::Masking { p } => f64::from(p),
            Corruption::Block { size, .. } => size as f64,
        }
    }

    /// Corrupts `values` in place. `range` is the valid `(lo, hi)` range:
    /// Gaussian noise is clipped to it when given; salt-and-pepper uses its
    /// ends (0 and 1 when `None`); masking uses 0 (or `lo` when 0 is outside
    /// the range).
    pub fn apply<R: Rng>(&self, values: &mut [f32], range: Option<(f32, f32)>, rng: &mut R) {
        match *self {
            Corruption::Gaussian { sigma } => {
                let mut normal = StandardNormal::new();
                for v in values.iter_mut() {
                    *v += sigma * normal.sample(rng);
                }
                if let Some((lo, hi)) = range {
                    for v in values.iter_mut() {
                        *v = v.max(lo).min(hi);
                    }
                }
            }
            Corruption::SaltAndPepper { p } => {
                let (lo, hi) = range.unwrap_or((0.0, 1.0));
                for v in values.iter_mut() {
                    if rng.random::<f32>() < p {
                        *v = if rng.random::<bool>() { hi } else { lo };
                    }
                }
            }
            Corruption::Masking { p } => {
                let fill = match range {
                    Some((lo, hi)) if !(lo..=hi).contains(&0.0) => lo,
                    _ => 0.0,
                };
                for v in values.iter_mut() {
                    if rng.random::<f32>() < p {
                        *v = fill;
                    }
                }
            }
            Corruption::Block { size, item } => {
                let fill = match range {
                    Some((lo, hi)) if !(lo..=hi).contains(&0.0) => lo,
                    _ => 0.0,
                };
                let shape = item.unwrap_or_else(|| {
                    let side = (values.len() as f64).sqrt().round() as usize;
                    if side * side == values.len() {
                        ImageShape::new(1, side, side)
                    } else {
                        ImageShape::new(1, 1, values.len())
                    }
                });
                if shape.dim() == 0 {
                    return;
                }
                let (block_height, block_width) = (size.min(shape.height), size.min(shape.width));
                let plane = shape.height * shape.width;
                for item_values in values.chunks_mut(shape.dim()) {
                    let top = rng.random_range(0..=shape.height - block_height);
                    let left = rng.random_range(0..=shape.width - block_width);
                    for channel in item_values.chunks_mut(plane) {
                        for row in top..top + block_height {
                            let start = row * shape.width + left;
                            if let Some(run) = channel.get_mut(start..start + block_width) {
                                run.fill(fill);
                            }
                        }
                    }
                }
            }
        }
    }
}

impl std::fmt::Display for Corruption {
    /// Writes the `KIND:VALUE` form that [`str::parse`] reads, e.g. `gaussian:0.3`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Corruption::Gaussian { sigma: value }
            | Corruption::SaltAndPepper { p: value }
            | Corruption::Masking { p: value } => write!(f, "{}:{value}", self.name()),
            Corruption::Block { size, .. } => write!(f, "block:{size}"),
        }
    }
}

impl std::str::FromStr for Corruption {
    type Err = DataError;

    /// Parses `gaussian:SIGMA`, `salt-and-pepper:P`, `masking:P` or `block:SIZE` and
    /// validates the value.
    fn from_str(text: &str) -> Result<Self> {
        let (kind, value) = text.split_once(':').ok_or_else(|| {
            DataError::invalid(format!(
                "'{text}': expected KIND:VALUE, e.g. gaussian:0.3 or block:8"
            ))
        })?;
        let number = |what: &str| {
            value.trim().parse::<f32>().map_err(|_| {
                DataError::invalid(format!("'{text}': {what} '{value}' is not a number"))
            })
        };
        let corruption = match kind.trim() {
            "gaussian" => Corruption::Gaussian {
                sigma: number("sigma")?,
            },
            "salt-and-pepper" => Corruption::SaltAndPepper {
                p: number("probability")?,
            },
            "masking" => Corruption::Masking {
                p: number("probability")?,
            },
            "block" => Corruption::Block {
                size: value.trim().parse::<usize>().map_err(|_| {
                    DataError::invalid(format!(
                        "'{text}': block size '{value}' is not a whole number of pixels"
                    ))
                })?,
                item: None,
            },
            other => {
                return Err(DataError::invalid(format!(
                    "'{text}': unknown corruption '{other}' (gaussian, salt-and-pepper, masking, block)"
                )));
            }
        };
        corruption
            .validate()
            .map_err(|e| DataError::invalid(format!("'{text}': {e}")))?;
        Ok(corruption)
    }
}

/// Dynamic binarization: replaces each value `x` by a Bernoulli(x) sample in
/// `{0, 1}` (values outside `[0, 1]` act as clipped).
pub fn binarize<R: Rng>(values: &mut [f32], rng: &mut R) {
    for v in values.iter_mut() {
        *v = if rng.random::<f32>() < *v { 1.0 } else { 0.0 };
    }
}

/// Uniform dequantization of 8-bit values scaled to `[0, 1]`: `x ← (round(255·x) + u) / 256`
/// with `u ~ U(0, 1)`, so every value lands in its own bin of width 1/256 inside `[0, 1)`.
pub fn dequantize<R: Rng>(values: &mut [f32], rng: &mut R) {
    for v in values.iter_mut() {
        let level = (v.clamp(0.0, 1.0) * 255.0).round();
        *v = (level + rng.random::<f32>()) / 256.0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::ChaCha12Rng;

    const N: usize = 200_000;

    fn mid(n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| 0.3 + 0.4 * (i % 100) as f32 / 100.0)
            .collect()
    }

    #[test]
    fn normal_sampler_moments() {
        let mut rng = ChaCha12Rng::seed_from_u64(1);
        let mut g = StandardNormal::new();
        let xs: Vec<f64> = (0..N).map(|_| f64::from(g.sample(&mut rng))).collect();
        let mean = xs.iter().sum::<f64>() / N as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / N as f64;
        assert!(mean.abs() < 0.01, "{mean}");
        assert!((var - 1.0).abs() < 0.02, "{var}");
        let within_1 = xs.iter().filter(|x| x.abs() < 1.0).count() as f64 / N as f64;
        assert!((within_1 - 0.6827).abs() < 0.01, "{within_1}");
    }

    #[test]
    fn gaussian_std_matches_sigma() {
        for sigma in [0.01f32, 0.05] {
            let clean = mid(N);
            let mut noisy = clean.clone();
            let c = Corruption::Gaussian { sigma };
            c.apply(
                &mut noisy,
                Some((0.0, 1.0)),
                &mut ChaCha12Rng::seed_from_u64(3),
            );
            let diffs: Vec<f64> = noisy
                .iter()
                .zip(&clean)
                .map(|(a, b)| f64::from(a - b))
                .collect();
            let mean = diffs.iter().sum::<f64>() / N as f64;
            let sd = (diffs.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / N as f64).sqrt();
            assert!(
                (sd / f64::from(sigma) - 1.0).abs() < 0.02,
                "sigma {sigma}: {sd}"
            );
        }
    }

    #[test]
    fn gaussian_clips_to_range() {
        let mut v = vec![0.5f32; 10_000];
        Corruption::Gaussian { sigma: 2.0 }.apply(
            &mut v,
            Some((0.0, 1.0)),
            &mut ChaCha12Rng::seed_from_u64(0),
        );
        assert!(v.iter().all(|x| (0.0..=1.0).contains(x)));
        assert!(v.contains(&0.0) && v.contains(&1.0));
        let mut v = vec![0.5f32; 10_000];
        Corruption::Gaussian { sigma: 2.0 }.apply(&mut v, None, &mut ChaCha12Rng::seed_from_u64(0));
        assert!(v.iter().any(|&x| x > 1.0));
    }

    #[test]
    fn salt_and_pepper_fraction_and_balance() {
        let p = 0.3;
        let clean = vec![0.5f32; N];
        let mut v = clean.clone();
        Corruption::SaltAndPepper { p }.apply(
            &mut v,
            Some((-1.0, 2.0)),
            &mut ChaCha12Rng::seed_from_u64(5),
        );
        let lo = v.iter().filter(|&&x| x == -1.0).count() as f64;
        let hi = v.iter().filter(|&&x| x == 2.0).count() as f64;
        let changed = v.iter().filter(|&&x| x != 0.5).count() as f64;
        assert_eq!(changed, lo + hi);
        assert!(
            (changed / N as f64 - f64::from(p)).abs() < 0.01,
            "{changed}"
        );
        assert!((lo / changed - 0.5).abs() < 0.01, "{lo} {hi}");
        // Without a range, 0 and 1 are used.
        let mut v = vec![0.5f32; 1000];
        Corruption::SaltAndPepper { p: 1.0 }.apply(
            &mut v,
            None,
            &mut ChaCha12Rng::seed_from_u64(5),
        );
        assert!(v.iter().all(|&x| x == 0.0 || x == 1.0));
    }

    #[test]
    fn masking_fraction() {
        let p = 0.25;
        let mut v = vec![0.7f32; N];
        Corruption::Masking { p }.apply(
            &mut v,
            Some((0.0, 1.0)),
            &mut ChaCha12Rng::seed_from_u64(9),
        );
        let zeroed = v.iter().filter(|&&x| x == 0.0).count() as f64 / N as f64;
        assert!((zeroed - f64::from(p)).abs() < 0.01, "{zeroed}");
        assert!(v.iter().all(|&x| x == 0.0 || x == 0.7));
        let mut v = vec![3.0f32; 100];
        Corruption::Masking { p: 1.0 }.apply(
            &mut v,
            Some((2.0, 4.0)),
            &mut ChaCha12Rng::seed_from_u64(9),
        );
        assert!(v.iter().all(|&x| x == 2.0));
    }

    #[test]
    fn block_zeroes_exactly_one_square_per_item_and_channel() {
        for (channels, size) in [(1usize, 5usize), (3, 7), (1, 28)] {
            let shape = ImageShape::new(channels, 28, 28);
            let items = 40;
            let mut v = vec![0.6f32; items * shape.dim()];
            let c = Corruption::Block { size, item: None }.for_items(shape);
            c.validate().unwrap();
            c.apply(&mut v, Some((0.0, 1.0)), &mut ChaCha12Rng::seed_from_u64(4));
            let mut corners = std::collections::BTreeSet::new();
            for item in v.chunks(shape.dim()) {
                let planes: Vec<&[f32]> = item.chunks(28 * 28).collect();
                for plane in &planes {
                    assert_eq!(plane.iter().filter(|&&x| x == 0.0).count(), size * size);
                    // The square is the same in every channel.
                    assert_eq!(*plane, planes[0]);
                }
                let first = planes[0].iter().position(|&x| x == 0.0).unwrap();
                let (top, left) = (first / 28, first % 28);
                for y in 0..28 {
                    for x in 0..28 {
                        let inside =
                            (top..top + size).contains(&y) && (left..left + size).contains(&x);
                        assert_eq!(planes[0][y * 28 + x] == 0.0, inside, "{y} {x}");
                    }
                }
                corners.insert((top, left));
            }
            if size < 28 {
                assert!(corners.len() > 10, "positions vary: {corners:?}");
            }
        }
        // Without an item shape a perfect square of values is one grey image.
        let mut v = vec![1.0f32; 100];
        Corruption::Block {
            size: 3,
            item: None,
        }
        .apply(&mut v, None, &mut ChaCha12Rng::seed_from_u64(1));
        assert_eq!(v.iter().filter(|&&x| x == 0.0).count(), 9);
        // Masking fills with the low end when 0 is outside the range.
        let mut v = vec![3.0f32; 100];
        Corruption::Block {
            size: 2,
            item: None,
        }
        .apply(&mut v, Some((2.0, 4.0)), &mut ChaCha12Rng::seed_from_u64(1));
        assert_eq!(v.iter().filter(|&&x| x == 2.0).count(), 4);
    }

    #[test]
    fn block_validation_and_fit() {
        let msg = Corruption::Block {
            size: 0,
            item: None,
        }
        .validate()
        .unwrap_err()
        .to_string();
        assert!(msg.contains("block") && msg.contains("at least 1"), "{msg}");
        let big = Corruption::Block {
            size: 29,
            item: None,
        };
        assert!(big.validate().is_ok());
        let msg = big
            .check_fits(ImageShape::new(1, 28, 28))
            .unwrap_err()
            .to_string();
        assert!(msg.contains("29x29") && msg.contains("1x28x28"), "{msg}");
        assert!(
            big.for_items(ImageShape::new(1, 28, 28))
                .validate()
                .is_err()
        );
    }

    #[test]
    fn parses_and_displays_kind_value() {
        for (text, expected) in [
            ("gaussian:0.3", Corruption::Gaussian { sigma: 0.3 }),
            ("salt-and-pepper:0.2", Corruption::SaltAndPepper { p: 0.2 }),
            ("masking:0.25", Corruption::Masking { p: 0.25 }),
            (
                "block:12",
                Corruption::Block {
                    size: 12,
                    item: None,
                },
            ),
        ] {
            let parsed: Corruption = text.parse().unwrap();
            assert_eq!(parsed, expected);
            assert_eq!(parsed.to_string(), text);
        }
        for (bad, needle) in [
            ("block:0", "at least 1"),
            ("block:2.5", "whole number"),
            ("gaussian", "KIND:VALUE"),
            ("gaussian:x", "not a number"),
            ("masking:1.5", "[0, 1]"),
            ("blur:3", "unknown corruption 'blur'"),
        ] {
            let msg = bad.parse::<Corruption>().unwrap_err().to_string();
            assert!(msg.contains(bad) && msg.contains(needle), "{bad}: {msg}");
        }
        // A block's item shape stays out of configs.
        let json = serde_json::to_string(&Corruption::Block {
            size: 4,
            item: None,
        })
        .unwrap();
        assert_eq!(json, r#"{"kind":"block","size":4}"#);
    }

    #[test]
    fn seeds_decide_output() {
        for c in [
            Corruption::Gaussian { sigma: 0.2 },
            Corruption::SaltAndPepper { p: 0.2 },
            Corruption::Masking { p: 0.2 },
            Corruption::Block {
                size: 4,
                item: Some(ImageShape::new(1, 10, 10)),
            },
        ] {
            let run = |seed| {
                let mut v = mid(1000);
                c.apply(
                    &mut v,
                    Some((0.0, 1.0)),
                    &mut ChaCha12Rng::seed_from_u64(seed),
                );
                v
            };
            assert_eq!(run(1), run(1), "{c:?}");
            assert_ne!(run(1), run(2), "{c:?}");
        }
    }

    #[test]
    fn validate_rejects_bad_parameters() {
        assert!(Corruption::Gaussian { sigma: 0.0 }.validate().is_ok());
        assert!(Corruption::SaltAndPepper { p: 1.0 }.validate().is_ok());
        assert!(Corruption::Masking { p: 0.0 }.validate().is_ok());
        let msg = Corruption::Gaussian { sigma: -0.1 }
            .validate()
            .unwrap_err()
            .to_string();
        assert!(msg.contains("sigma"), "{msg}");
        assert!(Corruption::Gaussian { sigma: f32::NAN }.validate().is_err());
        assert!(
            Corruption::Gaussian {
                sigma: f32::INFINITY
            }
            .validate()
            .is_err()
        );
        let msg = Corruption::SaltAndPepper { p: 1.5 }
            .validate()
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("salt-and-pepper") && msg.contains("1.5"),
            "{msg}"
        );
        assert!(Corruption::Masking { p: f32::NAN }.validate().is_err());
        assert!(Corruption::Masking { p: -0.01 }.validate().is_err());
    }

    #[test]
    fn serde_format() {
        let c: Corruption = serde_json::from_str(r#"{"kind":"salt-and-pepper","p":0.1}"#).unwrap();
        assert_eq!(c, Corruption::SaltAndPepper { p: 0.1 });
        let json = serde_json::to_string(&Corruption::Gaussian { sigma: 0.5 }).unwrap();
        assert_eq!(json, r#"{"kind":"gaussian","sigma":0.5}"#);
        assert!(serde_json::from_str::<Corruption>(r#"{"kind":"masking","p":0.1,"x":1}"#).is_err());
    }

    #[test]
    fn dequantize_stays_in_the_level_bin() {
        let levels: Vec<f32> = (0..=255).map(|l| l as f32 / 255.0).collect();
        let mut rng = ChaCha12Rng::seed_from_u64(7);
        let mut sum_offset = 0.0f64;
        for _ in 0..200 {
            let mut v = levels.clone();
            dequantize(&mut v, &mut rng);
            for (level, x) in v.iter().enumerate() {
                let lo = level as f32 / 256.0;
                assert!(*x >= lo && *x < lo + 1.0 / 256.0 + 1e-6, "{level}: {x}");
                sum_offset += (*x * 256.0 - level as f32) as f64;
            }
        }
        let mean_offset = sum_offset / (200.0 * 256.0);
        assert!(
            (mean_offset - 0.5).abs() < 0.01,
            "mean offset {mean_offset}"
        );
    }

    #[test]
    fn binarize_is_bernoulli() {
        let mut v: Vec<f32> = (0..N).map(|i| (i % 11) as f32 / 10.0).collect();
        let mean_before = v.iter().map(|&x| f64::from(x.min(1.0))).sum::<f64>() / N as f64;
        binarize(&mut v, &mut ChaCha12Rng::seed_from_u64(2));
        assert!(v.iter().all(|&x| x == 0.0 || x == 1.0));
        let mean_after = v.iter().map(|&x| f64::from(x)).sum::<f64>() / N as f64;
        assert!(
            (mean_after - mean_before).abs() < 0.01,
            "{mean_before} {mean_after}"
        );
    }
}
