//! Colored MNIST for colorization: each grey digit tinted with a random hue on a random
//! background colour (seeded per item). The target is the colour image; the input is its grey
//! version, repeated in three channels so that input and target have the same shape.

use rand::rngs::ChaCha12Rng;
use rand::{RngExt, SeedableRng};

use crate::dataset::{Dataset, ImageShape};
use crate::error::{DataError, Result};
use crate::values::Values;

/// Luma weights of ITU-R BT.601: grey = 0.299 R + 0.587 G + 0.114 B.
pub const LUMA: [f32; 3] = [0.299, 0.587, 0.114];

/// An RGB colour with full saturation and the given `value` for `hue` in `[0, 1)`.
fn hue_to_rgb(hue: f32, saturation: f32, value: f32) -> [f32; 3] {
    let h = (hue.rem_euclid(1.0)) * 6.0;
    let sector = h.floor();
    let f = h - sector;
    let p = value * (1.0 - saturation);
    let q = value * (1.0 - saturation * f);
    let t = value * (1.0 - saturation * (1.0 - f));
    match sector as u32 {
        0 => [value, t, p],
        1 => [q, value, p],
        2 => [p, value, t],
        3 => [p, q, value],
        4 => [t, p, value],
        _ => [value, p, q],
    }
}

/// The grey (luma) version of a CHW colour image of `plane` pixels per channel.
pub fn luma(rgb: &[f32], plane: usize) -> Vec<f32> {
    (0..plane)
        .map(|i| LUMA[0] * rgb[i] + LUMA[1] * rgb[plane + i] + LUMA[2] * rgb[2 * plane + i])
        .collect()
}

/// A stable per-item seed from the data set's `seed` and the item's index.
fn item_seed(seed: u64, index: usize) -> u64 {
    let mut z = seed ^ (index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Colours one grey image: the digit (intensity `a`) in a bright random hue over a darker
/// random background, `rgb = (1 − a) · background + a · digit`.
fn colour_item(grey: &[f32], rng: &mut ChaCha12Rng) -> Vec<f32> {
    let digit = hue_to_rgb(rng.random::<f32>(), 1.0, 1.0);
    let background = hue_to_rgb(
        rng.random::<f32>(),
        rng.random_range(0.3f32..1.0),
        rng.random_range(0.1f32..0.5),
    );
    let plane = grey.len();
    let mut rgb = vec![0.0f32; 3 * plane];
    for channel in 0..3 {
        for (out, &a) in rgb[channel * plane..(channel + 1) * plane]
            .iter_mut()
            .zip(grey)
        {
            let a = a.clamp(0.0, 1.0);
            *out = (1.0 - a) * background[channel] + a * digit[channel];
        }
    }
    rgb
}

/// Paired colorization data from grey images (1 × H × W): targets are the coloured items
/// (3 × H × W), inputs their luma repeated in three channels (3 × H × W). Item `i` is coloured
/// with randomness seeded by `seed` and `i`, so the same data and seed give the same colours.
/// Labels and class names are kept.
pub fn colorize(grey: &Dataset, seed: u64) -> Result<Dataset> {
    if grey.shape.channels != 1 {
        return Err(DataError::invalid(format!(
            "colorization needs grey images (1 channel), got items of shape {}",
            grey.shape
        )));
    }
    let plane = grey.shape.height * grey.shape.width;
    let shape = ImageShape::new(3, grey.shape.height, grey.shape.width);
    let n = grey.len();
    let mut inputs = Vec::with_capacity(n * shape.dim());
    let mut targets = Vec::with_capacity(n * shape.dim());
    for i in 0..n {
        let mut rng = ChaCha12Rng::seed_from_u64(item_seed(seed, i));
        let rgb = colour_item(&grey.input(i), &mut rng);
        let y = luma(&rgb, plane);
        for _ in 0..3 {
            inputs.extend_from_slice(&y);
        }
        targets.extend_from_slice(&rgb);
    }
    let data = Dataset {
        shape,
        inputs: Values::F32(inputs),
        targets: Some(targets),
        target_shape: Some(shape),
        labels: grey.labels.clone(),
        class_names: grey.class_names.clone(),
        value_range: Some((0.0, 1.0)),
    };
    data.check()?;
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grey_digits(n: usize) -> Dataset {
        let plane = 28 * 28;
        let inputs = (0..n * plane)
            .map(|i| ((i * 37) % 256) as f32 / 255.0)
            .collect();
        let mut d =
            Dataset::from_inputs(ImageShape::new(1, 28, 28), inputs, Some((0.0, 1.0))).unwrap();
        d.labels = Some((0..n as u32).map(|i| i % 10).collect());
        d
    }

    #[test]
    fn targets_are_colour_and_their_grey_is_the_input() {
        let grey = grey_digits(20);
        let coloured = colorize(&grey, 3).unwrap();
        assert_eq!(coloured.len(), 20);
        assert_eq!(coloured.shape, ImageShape::new(3, 28, 28));
        assert_eq!(coloured.target_item_shape(), ImageShape::new(3, 28, 28));
        assert_eq!(coloured.labels, grey.labels);
        let plane = 28 * 28;
        for i in 0..coloured.len() {
            let target = coloured.target(i);
            assert!(target.iter().all(|v| (0.0..=1.0).contains(v)));
            let y = luma(&target, plane);
            let input = coloured.input(i);
            for channel in 0..3 {
                for (a, b) in input[channel * plane..(channel + 1) * plane].iter().zip(&y) {
                    assert!((a - b).abs() < 1e-6, "item {i}: {a} vs {b}");
                }
            }
            // Real colour: the channels of the target differ somewhere.
            assert!(
                (0..plane).any(|p| (target[p] - target[plane + p]).abs() > 0.05
                    || (target[p] - target[2 * plane + p]).abs() > 0.05),
                "item {i} is grey"
            );
        }
        // Different items get different colours; the same seed the same ones.
        assert_ne!(coloured.target(0)[..plane], coloured.target(1)[..plane]);
        assert_eq!(colorize(&grey, 3).unwrap().targets, coloured.targets);
        assert_ne!(colorize(&grey, 4).unwrap().targets, coloured.targets);
    }

    #[test]
    fn rejects_colour_sources() {
        let mut d = grey_digits(2);
        d.shape = ImageShape::new(2, 28, 14);
        let msg = colorize(&d, 0).unwrap_err().to_string();
        assert!(msg.contains("grey"), "{msg}");
    }

    #[test]
    fn hues_cover_the_wheel() {
        assert_eq!(hue_to_rgb(0.0, 1.0, 1.0), [1.0, 0.0, 0.0]);
        let green = hue_to_rgb(1.0 / 3.0, 1.0, 1.0);
        assert!((green[1] - 1.0).abs() < 1e-6 && green[0] < 1e-5 && green[2] < 1e-6);
        let blue = hue_to_rgb(2.0 / 3.0, 1.0, 1.0);
        assert!((blue[2] - 1.0).abs() < 1e-6 && blue[0] < 1e-5 && blue[1] < 1e-5);
    }
}
