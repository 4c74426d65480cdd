//! `e^x`, `ln(1 + y)` and the sigmoid in plain arithmetic (Cephes' single-precision polynomials), with no
//! call into libm, so that loops over them compile to vector instructions.

/// `log2(e)`.
const LOG2_E: f32 = std::f32::consts::LOG2_E;
/// `ln 2` split in two: a high part exact in few bits, and the rest.
const LN2_HI: f32 = 0.693_359_4;
const LN2_LO: f32 = -2.121_944_4e-4;

/// `e^x` for `x ≤ 0`, within a few ulp; below −87 it returns `e^−87` (≈ 1.6e-38) instead
/// of a denormal or zero.
#[inline(always)]
pub fn exp_nonpositive(x: f32) -> f32 {
    let x = x.clamp(-87.0, 0.0);
    // x = n·ln 2 + r with |r| ≤ ln 2 / 2 (n ∈ [−126, 0], so 2^n is a normal float).
    let n = (x * LOG2_E + 0.5).floor();
    let r = x - n * LN2_HI - n * LN2_LO;
    let z = r * r;
    let p = ((((1.987_569_1e-4 * r + 1.398_199_9e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2) * r
        + 1.666_666_5e-1)
        * r
        + 0.5;
    let e = p * z + r + 1.0;
    // 2^n from its exponent bits. `as i32` would saturate and map NaN to 0, lane by lane in
    // scalar code (it kept these loops from vectorizing); the plain conversion suffices here.
    // SAFETY: `n` is a whole number in [−126, 0] (x was clamped to [−87, 0]), so it fits i32.
    let n = unsafe { n.to_int_unchecked::<i32>() };
    let scale = f32::from_bits(((n + 127) as u32) << 23);
    e * scale
}

/// `ln(1 + y)` for `0 ≤ y ≤ 1`, within a few ulp, accurate for tiny `y` too.
#[inline(always)]
pub fn ln_1p_unit(y: f32) -> f32 {
    let u = 1.0 + y;
    // ln u with u = 2^e · m, m ∈ [√½, √2).
    let big = u > std::f32::consts::SQRT_2;
    let m = if big { u * 0.5 } else { u };
    let e = if big { 1.0 } else { 0.0 };
    let x = m - 1.0;
    let z = x * x;
    let p = (((((((7.037_683_6e-2 * x - 1.151_461e-1) * x + 1.167_699_9e-1) * x
        - 1.242_014_1e-1)
        * x
        + 1.424_932_3e-1)
        * x
        - 1.666_805_8e-1)
        * x
        + 2.000_071_5e-1)
        * x
        - 2.499_999_4e-1)
        * x
        + 3.333_333e-1;
    let ln = x + (p * x * z - 2.121_944_4e-4 * e - 0.5 * z) + LN2_HI * e;
    // ln(1 + y) = ln(u) · y / (u − 1) undoes the rounding of 1 + y.
    let d = u - 1.0;
    if d == 0.0 { y } else { ln * (y / d) }
}

/// `1 / (1 + e^(−x))` without overflow, from one [`exp_nonpositive`].
#[inline(always)]
pub fn sigmoid(x: f32) -> f32 {
    let e = exp_nonpositive(-x.abs());
    let s = 1.0 / (1.0 + e);
    if x >= 0.0 { s } else { e * s }
}

/// Whether this CPU runs the kernels' AVX-512 loops (detected once, cached by std).
pub(crate) fn avx512() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Whether this CPU has AVX (detected once, cached by std).
#[cfg(target_arch = "x86_64")]
pub(crate) fn avx() -> bool {
    std::arch::is_x86_feature_detected!("avx")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ulps(got: f32, want: f64) -> f64 {
        let want32 = want as f32;
        let ulp = f64::from(f32::from_bits(want32.to_bits() + 1) - want32);
        ((f64::from(got) - want) / ulp).abs()
    }

    #[test]
    fn exp_is_within_a_few_ulp_of_f64() {
        let mut worst = 0.0f64;
        for i in 0..=200_000 {
            let x = -87.0 * f64::from(i) / 200_000.0;
            let got = exp_nonpositive(x as f32);
            worst = worst.max(ulps(got, f64::from(x as f32).exp()));
        }
        assert!(worst < 4.0, "worst error {worst} ulp");
        assert_eq!(exp_nonpositive(0.0), 1.0);
        assert!(exp_nonpositive(-500.0) > 0.0 && exp_nonpositive(-500.0) < 2e-38);
    }

    #[test]
    fn ln_1p_is_within_a_few_ulp_of_f64() {
        let mut worst = 0.0f64;
        for i in 0..=200_000 {
            // Dense near 0, where ln(1 + y) ≈ y, and across (0, 1].
            let y = (f64::from(i) / 200_000.0).powi(3);
            let y32 = y as f32;
            if y32 == 0.0 {
                continue;
            }
            let got = ln_1p_unit(y32);
            worst = worst.max(ulps(got, f64::from(y32).ln_1p()));
        }
        assert!(worst < 4.0, "worst error {worst} ulp");
        assert_eq!(ln_1p_unit(0.0), 0.0);
        assert_eq!(ln_1p_unit(1e-30), 1e-30);
    }
}
