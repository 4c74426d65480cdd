use ae_analysis::{AnalysisError, median_filter_3x3, psnr, ssim, total_variation};
use rand::RngExt;

use crate::common::{assert_close, rng};

#[test]
fn psnr_of_known_mse() {
    // MSE 0.01 at max 1 → 10 log10(100) = 20 dB (0.1 is inexact in f32).
    let a = vec![0.0f32; 64];
    let b = vec![0.1f32; 64];
    assert_close(psnr(&a, &b, 1.0).unwrap(), 20.0, 1e-5);
    // Exact: differences of 0.125 on half the pixels → MSE 1/128 → 10 log10(128).
    let c: Vec<f32> = (0..64)
        .map(|i| if i % 2 == 0 { 0.125 } else { 0.0 })
        .collect();
    assert_close(psnr(&a, &c, 1.0).unwrap(), 10.0 * 128f64.log10(), 1e-12);
    // Max 255, MSE 1 → 48.13 dB.
    let d = vec![1.0f32; 64];
    assert_close(psnr(&a, &d, 255.0).unwrap(), 20.0 * 255f64.log10(), 1e-12);
    assert_eq!(psnr(&b, &b, 1.0).unwrap(), f64::INFINITY);
    assert!(psnr(&a, &b[..10], 1.0).is_err());
    assert!(psnr(&a, &b, 0.0).is_err());
}

fn random_image(len: usize, seed: u64) -> Vec<f32> {
    let mut r = rng(seed);
    (0..len).map(|_| r.random::<f32>()).collect()
}

/// Direct SSIM: for every valid 11x11 window, weighted sums with the 2-D
/// Gaussian exp(-(u² + v²) / (2 σ²)) normalised over the window.
fn slow_ssim(a: &[f32], b: &[f32], c: usize, h: usize, w: usize, l: f64) -> f64 {
    let mut weights = [[0.0f64; 11]; 11];
    let mut total = 0.0;
    for (u, row) in weights.iter_mut().enumerate() {
        for (v, x) in row.iter_mut().enumerate() {
            let (du, dv) = (u as f64 - 5.0, v as f64 - 5.0);
            *x = (-(du * du + dv * dv) / (2.0 * 1.5 * 1.5)).exp();
            total += *x;
        }
    }
    let (c1, c2) = ((0.01 * l).powi(2), (0.03 * l).powi(2));
    let mut sum = 0.0;
    let mut count = 0;
    for ch in 0..c {
        for y0 in 0..=h - 11 {
            for x0 in 0..=w - 11 {
                let at = |img: &[f32], u: usize, v: usize| {
                    f64::from(img[ch * h * w + (y0 + u) * w + x0 + v])
                };
                let (mut mx, mut my) = (0.0, 0.0);
                for u in 0..11 {
                    for v in 0..11 {
                        let g = weights[u][v] / total;
                        mx += g * at(a, u, v);
                        my += g * at(b, u, v);
                    }
                }
                let (mut sxx, mut syy, mut sxy) = (0.0, 0.0, 0.0);
                for u in 0..11 {
                    for v in 0..11 {
                        let g = weights[u][v] / total;
                        let (dx, dy) = (at(a, u, v) - mx, at(b, u, v) - my);
                        sxx += g * dx * dx;
                        syy += g * dy * dy;
                        sxy += g * dx * dy;
                    }
                }
                sum += (2.0 * mx * my + c1) * (2.0 * sxy + c2)
                    / ((mx * mx + my * my + c1) * (sxx + syy + c2));
                count += 1;
            }
        }
    }
    sum / count as f64
}

#[test]
fn ssim_of_identical_images_is_one() {
    let a = random_image(3 * 16 * 20, 1);
    assert_close(ssim(&a, &a, 3, 16, 20, 1.0).unwrap(), 1.0, 1e-12);
}

#[test]
fn ssim_matches_direct_formula() {
    let (c, h, w) = (2, 14, 17);
    let a = random_image(c * h * w, 2);
    let shifted: Vec<f32> = a.iter().map(|x| x + 0.1).collect();
    let contrast: Vec<f32> = a.iter().map(|x| 0.5 * x + 0.2).collect();
    let other = random_image(c * h * w, 3);
    for b in [&shifted, &contrast, &other] {
        let fast = ssim(&a, b, c, h, w, 1.0).unwrap();
        let slow = slow_ssim(&a, b, c, h, w, 1.0);
        assert_close(fast, slow, 1e-10);
        assert!(fast < 0.999);
    }
    // Independent random images are nearly uncorrelated.
    assert!(ssim(&a, &other, c, h, w, 1.0).unwrap() < 0.1);
}

#[test]
fn ssim_of_constant_images_has_closed_form() {
    // σ terms vanish: SSIM = (2·0.2·0.4 + C1) / (0.2² + 0.4² + C1), C1 = 1e-4.
    let a = vec![0.2f32; 12 * 12];
    let b = vec![0.4f32; 12 * 12];
    let (x, y) = (f64::from(0.2f32), f64::from(0.4f32));
    let expected = (2.0 * x * y + 1e-4) / (x * x + y * y + 1e-4);
    assert_close(ssim(&a, &b, 1, 12, 12, 1.0).unwrap(), expected, 1e-12);
}

#[test]
fn ssim_rejects_small_or_mismatched_images() {
    let a = vec![0.0f32; 10 * 30];
    let err = ssim(&a, &a, 1, 10, 30, 1.0).unwrap_err();
    assert!(
        matches!(
            err,
            AnalysisError::ImageTooSmall {
                height: 10,
                width: 30,
                ..
            }
        ),
        "{err}"
    );
    let b = vec![0.0f32; 11 * 11];
    assert!(matches!(
        ssim(&b, &b, 2, 11, 11, 1.0),
        Err(AnalysisError::ShapeMismatch { .. })
    ));
}

#[test]
fn median_removes_salt_pixel() {
    let (c, h, w) = (2, 5, 6);
    let mut img = vec![0.25f32; c * h * w];
    img[h * w + 2 * w + 3] = 1.0; // salt in channel 1
    img[0] = 0.0; // pepper in channel 0's corner
    let out = median_filter_3x3(&img, c, h, w).unwrap();
    assert!(out.iter().all(|&v| v == 0.25), "{out:?}");
}

#[test]
fn median_hand_values_with_replicated_edges() {
    let img: Vec<f32> = (1..=9).map(|v| v as f32).collect(); // [[1,2,3],[4,5,6],[7,8,9]]
    let out = median_filter_3x3(&img, 1, 3, 3).unwrap();
    // Corner (0,0) sees 1,1,2 / 1,1,2 / 4,4,5 → median 2.
    assert_eq!(out[0], 2.0);
    // Centre sees 1..9 → 5. Edge (0,1) sees 1,2,3 / 1,2,3 / 4,5,6 → 3.
    assert_eq!(out[4], 5.0);
    assert_eq!(out[1], 3.0);
    // Bottom-right corner sees 5,6,6 / 8,9,9 / 8,9,9 → 8.
    assert_eq!(out[8], 8.0);
    assert!(median_filter_3x3(&img, 1, 3, 4).is_err());
}

#[test]
fn total_variation_of_known_images() {
    // Constant: no edges.
    assert_eq!(total_variation(&[0.7f32; 12], 1, 3, 4).unwrap(), 0.0);
    // One interior pixel of 0.5 on zero: four edges of 0.5.
    let mut dot = vec![0.0f32; 9];
    dot[4] = 0.5;
    assert_close(total_variation(&dot, 1, 3, 3).unwrap(), 2.0, 1e-12);
    // A corner pixel has two neighbours only.
    let mut corner = vec![0.0f32; 9];
    corner[0] = 1.0;
    assert_close(total_variation(&corner, 1, 3, 3).unwrap(), 2.0, 1e-12);
    // A 4x4 checkerboard of 0/1: 3 differences per row and per column, 4 rows and 4 columns.
    let board: Vec<f32> = (0..16).map(|i| ((i / 4 + i % 4) % 2) as f32).collect();
    assert_close(total_variation(&board, 1, 4, 4).unwrap(), 24.0, 1e-12);
    // Channels add up, and are not differenced against each other.
    let two: Vec<f32> = board.iter().chain(&[0.25f32; 16]).copied().collect();
    assert_close(total_variation(&two, 2, 4, 4).unwrap(), 24.0, 1e-12);
    // A vertical step is counted once per row, never across rows.
    let step: Vec<f32> = (0..6).map(|i| if i % 3 == 2 { 1.0 } else { 0.0 }).collect();
    assert_close(total_variation(&step, 1, 2, 3).unwrap(), 2.0, 1e-12);
    assert!(matches!(
        total_variation(&board, 1, 3, 4),
        Err(AnalysisError::ShapeMismatch { .. })
    ));
    assert!(total_variation(&[], 1, 0, 4).is_err());
}
