//! Matrix transposes between the layouts the convolution kernels use (`[channels, pixels]`
//! planes and `[pixels, channels]` channels-last rows).
//!
//! Written with AVX where the CPU has it: eight rows of eight values loaded, shuffled in
//! registers and stored as eight columns; a side that is not a multiple of eight ends with a
//! tile overlapping the one before it rather than a scalar edge. The compiler leaves a plain
//! 8 × 8 block loop as scalar loads and stores, which made the channels-last padding of
//! conv2's input a third slower than the loop it was to replace.

/// Writes the transpose of the `rows × cols` matrix at `src` (row pitch `src_pitch`) to `dst`
/// (row pitch `dst_pitch`): `dst[j · dst_pitch + i] = src[i · src_pitch + j]`.
///
/// # Panics
/// When either slice is too short for its matrix.
pub(crate) fn transpose(
    src: &[f32],
    [rows, cols]: [usize; 2],
    src_pitch: usize,
    dst: &mut [f32],
    dst_pitch: usize,
) {
    if rows == 0 || cols == 0 {
        return;
    }
    assert!(
        cols <= src_pitch && rows <= dst_pitch,
        "transpose: pitch shorter than a row"
    );
    assert!(
        src.len() >= (rows - 1) * src_pitch + cols && dst.len() >= (cols - 1) * dst_pitch + rows,
        "transpose: matrix outside its slice"
    );
    #[cfg(target_arch = "x86_64")]
    if rows >= 8 && cols >= 8 && crate::math::avx() {
        // SAFETY: the CPU has AVX, and the assertions above keep every 8 × 8 block the
        // kernel reads inside `src` and every one it writes inside `dst`.
        unsafe { wide::blocks(src, [rows, cols], src_pitch, dst, dst_pitch) };
        return;
    }
    for i in 0..rows {
        for j in 0..cols {
            dst[j * dst_pitch + i] = src[i * src_pitch + j];
        }
    }
}

/// Where the 8-wide tiles along a side of `len ≥ 8` values start: every eighth value, and
/// `len − 8` for the rest, a tile overlapping the one before it (its values are written twice,
/// the same both times).
#[cfg(target_arch = "x86_64")]
fn tile_starts(len: usize) -> impl Iterator<Item = usize> {
    let last = (!len.is_multiple_of(8)).then_some(len - 8);
    (0..len / 8).map(|t| t * 8).chain(last)
}

#[cfg(target_arch = "x86_64")]
mod wide {
    use std::arch::x86_64::{
        __m256, _mm256_loadu_ps, _mm256_permute2f128_ps, _mm256_shuffle_ps, _mm256_storeu_ps,
        _mm256_unpackhi_ps, _mm256_unpacklo_ps,
    };

    /// The transpose in 8 × 8 tiles, the last ones along each side overlapping.
    ///
    /// # Safety
    /// The CPU has AVX; `rows, cols ≥ 8`; `src` holds `(rows − 1) · src_pitch + cols` values
    /// and `dst` `(cols − 1) · dst_pitch + rows`.
    #[target_feature(enable = "avx")]
    pub(super) unsafe fn blocks(
        src: &[f32],
        [rows, cols]: [usize; 2],
        src_pitch: usize,
        dst: &mut [f32],
        dst_pitch: usize,
    ) {
        let (s, d) = (src.as_ptr(), dst.as_mut_ptr());
        for i0 in super::tile_starts(rows) {
            for j0 in super::tile_starts(cols) {
                // SAFETY: rows i0..i0 + 8 and columns j0..j0 + 8 lie inside the matrix, which
                // the caller keeps inside both slices.
                unsafe {
                    let r: [__m256; 8] =
                        std::array::from_fn(|i| _mm256_loadu_ps(s.add((i0 + i) * src_pitch + j0)));
                    let c = block(r);
                    for (j, column) in c.into_iter().enumerate() {
                        _mm256_storeu_ps(d.add((j0 + j) * dst_pitch + i0), column);
                    }
                }
            }
        }
    }

    /// The transpose of eight rows of eight values: row `j` of the result holds value `j` of
    /// every input row.
    #[target_feature(enable = "avx")]
    fn block(r: [__m256; 8]) -> [__m256; 8] {
        // Pairs of rows interleaved: t0 = a0 b0 a1 b1 | a4 b4 a5 b5, t1 = a2 b2 a3 b3 | …
        let t0 = _mm256_unpacklo_ps(r[0], r[1]);
        let t1 = _mm256_unpackhi_ps(r[0], r[1]);
        let t2 = _mm256_unpacklo_ps(r[2], r[3]);
        let t3 = _mm256_unpackhi_ps(r[2], r[3]);
        let t4 = _mm256_unpacklo_ps(r[4], r[5]);
        let t5 = _mm256_unpackhi_ps(r[4], r[5]);
        let t6 = _mm256_unpacklo_ps(r[6], r[7]);
        let t7 = _mm256_unpackhi_ps(r[6], r[7]);
        // Quads: s0 = a0 b0 c0 d0 | a4 b4 c4 d4, s1 = a1 b1 c1 d1 | a5 …, and so on.
        let s0 = _mm256_shuffle_ps::<0x44>(t0, t2);
        let s1 = _mm256_shuffle_ps::<0xEE>(t0, t2);
        let s2 = _mm256_shuffle_ps::<0x44>(t1, t3);
        let s3 = _mm256_shuffle_ps::<0xEE>(t1, t3);
        let s4 = _mm256_shuffle_ps::<0x44>(t4, t6);
        let s5 = _mm256_shuffle_ps::<0xEE>(t4, t6);
        let s6 = _mm256_shuffle_ps::<0x44>(t5, t7);
        let s7 = _mm256_shuffle_ps::<0xEE>(t5, t7);
        // Halves: the low halves give columns 0–3, the high ones 4–7.
        [
            _mm256_permute2f128_ps::<0x20>(s0, s4),
            _mm256_permute2f128_ps::<0x20>(s1, s5),
            _mm256_permute2f128_ps::<0x20>(s2, s6),
            _mm256_permute2f128_ps::<0x20>(s3, s7),
            _mm256_permute2f128_ps::<0x31>(s0, s4),
            _mm256_permute2f128_ps::<0x31>(s1, s5),
            _mm256_permute2f128_ps::<0x31>(s2, s6),
            _mm256_permute2f128_ps::<0x31>(s3, s7),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every shape from 1 × 1 to 19 × 19 with spare pitch on both sides, against the
    /// definition; the values outside the destination matrix stay untouched.
    #[test]
    fn transposes_every_shape_with_any_pitch() {
        for rows in 1..20 {
            for cols in 1..20 {
                let (sp, dp) = (cols + 3, rows + 5);
                let src: Vec<f32> = (0..rows * sp).map(|v| v as f32).collect();
                let mut dst = vec![-1.0f32; cols * dp];
                transpose(&src, [rows, cols], sp, &mut dst, dp);
                for j in 0..cols {
                    for i in 0..dp {
                        let want = if i < rows { src[i * sp + j] } else { -1.0 };
                        assert_eq!(dst[j * dp + i], want, "{rows}×{cols} at ({i}, {j})");
                    }
                }
            }
        }
    }

    #[test]
    #[should_panic(expected = "outside its slice")]
    fn rejects_a_short_destination() {
        let src = vec![0.0f32; 64];
        let mut dst = vec![0.0f32; 63];
        transpose(&src, [8, 8], 8, &mut dst, 8);
    }
}
