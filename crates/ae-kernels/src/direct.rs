//! A convolution's products with the window matrix never written out: AVX-512 micro-kernels
//! that read each window straight from the channels-last padded image.
//!
//! With im2row, conv2's forward copies every window into a row (`49 · 512` values per image,
//! four times the image), and the packed product then copies those rows once more into its
//! own panel layout. Here a tile of output rows is summed in up to 24 of the 32 vector
//! registers while the reduction runs over values read where they lie:
//!
//! - [`tile`]: `out[i, o] = Σ_k window_i[k] · weight[k, o]` for up to 12 window positions
//!   `i`; per value `k`, one load of the weight row (`[R, out]`, packed once per call) and one
//!   broadcast per position (a window row of `kw · channels` values is contiguous in the
//!   padded image). The forward pass, and (by phase, see `cpu`) the input gradient.
//! - [`weight_tile`]: `dw[k, o] += Σ_p window_p[k] · dy[p, o]` for up to six window values
//!   `k`; per position `p`, one load of its output-gradient row and one broadcast per value.
//!
//! Each output is one running sum in a fixed order: the same bits on every call.

use std::arch::x86_64::{
    __m512, _mm512_fmadd_ps, _mm512_loadu_ps, _mm512_set1_ps, _mm512_setzero_ps, _mm512_storeu_ps,
};

/// `$go!(rows, v)` for the run-time `rows` (1 to 6) as a literal: one instantiation of a
/// kernel per size. The callers assert the bounds; the last arm takes the largest size.
macro_rules! by_rows {
    ($go:ident, $rows:expr, $v:literal) => {
        match $rows {
            1 => $go!(1, $v),
            2 => $go!(2, $v),
            3 => $go!(3, $v),
            4 => $go!(4, $v),
            5 => $go!(5, $v),
            _ => $go!(6, $v),
        }
    };
}

/// [`by_rows`] for 1 to 12 rows.
macro_rules! by_rows_wide {
    ($go:ident, $rows:expr, $v:literal) => {
        match $rows {
            1..=6 => by_rows!($go, $rows, $v),
            7 => $go!(7, $v),
            8 => $go!(8, $v),
            9 => $go!(9, $v),
            10 => $go!(10, $v),
            11 => $go!(11, $v),
            _ => $go!(12, $v),
        }
    };
}

/// Window positions per weight-gradient tile, and per forward tile of three or four vectors.
pub(crate) const MR: usize = 6;

/// Window positions per forward tile of `vectors` vectors of 16 output channels: as many as
/// keep the accumulators within 24 of the 32 vector registers.
pub(crate) fn rows_for(vectors: usize) -> usize {
    if vectors <= 2 { 2 * MR } else { MR }
}

/// The windows of one tile.
pub(crate) struct Tile<'a> {
    /// Offset in `padded` of each position's window (its first kernel row, first value).
    pub starts: &'a [usize],
    /// Values between two kernel rows of a window in `padded`.
    pub row_step: usize,
    /// The kernel rows this pass sums (of the window's; weight rows `kernel_rows.start ·
    /// run` on).
    pub kernel_rows: std::ops::Range<usize>,
    /// Values in one kernel row of a window (`kw · channels`), contiguous in `padded`.
    pub run: usize,
    /// Whether to add to the tile's output rather than overwrite it.
    pub accumulate: bool,
}

/// `out[i, o] = Σ_k window_i[k] · weight[k, o]` for the tile's positions `i` and the output
/// channels `o0..o0 + 16 · vectors`: `weight` is `[R, pitch]` row-major, `out` rows `pitch`
/// apart.
///
/// # Panics
/// When a window or a weight row lies outside its slice, or `out` is too short.
pub(crate) fn tile(
    padded: &[f32],
    tile: &Tile,
    weight: &[f32],
    pitch: usize,
    o0: usize,
    vectors: usize,
    out: &mut [f32],
) {
    let (first, end) = (tile.kernel_rows.start, tile.kernel_rows.end);
    assert!(
        first < end && tile.run > 0,
        "direct conv: no kernel rows or empty rows"
    );
    let r = end * tile.run;
    let last_window = (end - 1) * tile.row_step + tile.run;
    assert!(
        tile.starts.iter().all(|s| s + last_window <= padded.len()),
        "direct conv: window outside the padded image"
    );
    assert!(
        (1..=4).contains(&vectors) && (r - 1) * pitch + o0 + 16 * vectors <= weight.len(),
        "direct conv: weight block outside the weight"
    );
    let rows = tile.starts.len();
    assert!(
        (1..=rows_for(vectors)).contains(&rows)
            && (rows - 1) * pitch + o0 + 16 * vectors <= out.len(),
        "direct conv: tile outside the output"
    );
    // SAFETY: the assertions keep every read inside `padded` and `weight` and every write
    // inside `out`; `vectors` and `rows` select an instantiation whose sizes they bound.
    unsafe {
        macro_rules! go {
            ($m:literal, $v:literal) => {
                kernel::<$m, $v>(padded, tile, &weight[o0..], pitch, &mut out[o0..])
            };
        }
        match vectors {
            1 => by_rows_wide!(go, rows, 1),
            2 => by_rows_wide!(go, rows, 2),
            3 => by_rows!(go, rows, 3),
            _ => by_rows!(go, rows, 4),
        }
    }
}

/// The tile for `M` positions and `V` vectors of 16 output channels.
///
/// # Safety
/// The CPU has AVX-512F; `tile.starts` has `M` entries whose windows lie in `padded`;
/// `weight` holds `R` rows of `pitch` values with at least `16 · V` from each row's start,
/// `out` `M` rows likewise.
#[target_feature(enable = "avx512f")]
unsafe fn kernel<const M: usize, const V: usize>(
    padded: &[f32],
    tile: &Tile,
    weight: &[f32],
    pitch: usize,
    out: &mut [f32],
) {
    let a: [*const f32; M] = std::array::from_fn(|i| padded[tile.starts[i]..].as_ptr());
    let w = weight.as_ptr();
    let mut row = tile.kernel_rows.start * tile.run;
    let o = out.as_mut_ptr();
    let mut acc = [[_mm512_setzero_ps(); V]; M];
    if tile.accumulate {
        for (i, row) in acc.iter_mut().enumerate() {
            for (v, sum) in row.iter_mut().enumerate() {
                // SAFETY: as for the stores below.
                *sum = unsafe { _mm512_loadu_ps(o.add(i * pitch + 16 * v)) };
            }
        }
    }
    for ky in tile.kernel_rows.clone() {
        let offset = ky * tile.row_step;
        for k in offset..offset + tile.run {
            // SAFETY: the caller keeps weight row `ky · run + k − offset` and each window's
            // value `k` inside their slices.
            unsafe {
                let wr = w.add(row * pitch);
                let b: [__m512; V] = std::array::from_fn(|v| _mm512_loadu_ps(wr.add(16 * v)));
                for i in 0..M {
                    let value = _mm512_set1_ps(*a[i].add(k));
                    for v in 0..V {
                        acc[i][v] = _mm512_fmadd_ps(value, b[v], acc[i][v]);
                    }
                }
            }
            row += 1;
        }
    }
    for (i, row) in acc.iter().enumerate() {
        for (v, sum) in row.iter().enumerate() {
            // SAFETY: the caller gives `out` M rows of at least 16 · V values, `pitch` apart.
            unsafe { _mm512_storeu_ps(o.add(i * pitch + 16 * v), *sum) };
        }
    }
}

/// Window positions a weight-gradient pass takes at a time: their rows of the output
/// gradient (at most 128 · 64 · 4 bytes = 32 KB) stay in the L1 cache while every panel of
/// window values runs over them.
pub(crate) const POSITION_BLOCK: usize = 128;

/// Window offsets with the largest of them, found once, so that each kernel call checks its
/// reads in constant time.
#[derive(Clone, Copy)]
pub(crate) struct Starts<'a> {
    list: &'a [usize],
    max: usize,
}

impl<'a> Starts<'a> {
    pub(crate) fn new(list: &'a [usize]) -> Self {
        let max = list.iter().copied().max().unwrap_or(0);
        Self { list, max }
    }
}

/// `dwt[k, o] += Σ_p window_p[k] · dyt[p, o]` for `rows ≤ MR` window values `k0..k0 + rows`,
/// which lie at `offset..offset + rows` of each window in `padded` (one kernel row), and the
/// output channels `o0..o0 + 16 · vectors`: `starts` are the windows' offsets in `padded`,
/// `dyt` has one row per window (`pitch` values apart), `dwt` one per window value.
///
/// # Panics
/// When a read or a write would leave its slice.
#[allow(clippy::too_many_arguments)]
pub(crate) fn weight_tile(
    padded: &[f32],
    starts: Starts,
    offset: usize,
    dyt: &[f32],
    pitch: usize,
    [k0, rows]: [usize; 2],
    [o0, vectors]: [usize; 2],
    dwt: &mut [f32],
) {
    let width = o0 + 16 * vectors;
    assert!(
        starts.list.is_empty() || starts.max + offset + rows <= padded.len(),
        "direct conv: window outside the padded image"
    );
    let starts = starts.list;
    assert!(
        (1..=4).contains(&vectors)
            && width <= pitch
            && (starts.is_empty() || (starts.len() - 1) * pitch + width <= dyt.len()),
        "direct conv: gradient outside its slice"
    );
    assert!(
        (1..=MR).contains(&rows) && (k0 + rows - 1) * pitch + width <= dwt.len(),
        "direct conv: tile outside the weight gradient"
    );
    let dwt = &mut dwt[k0 * pitch + o0..];
    let dyt = &dyt[o0..];
    // SAFETY: the assertions keep every read inside `padded` and `dyt` and every write
    // inside `dwt`; `rows` and `vectors` select an instantiation whose sizes they bound.
    unsafe {
        macro_rules! go {
            ($m:literal, $v:literal) => {
                weight_kernel::<$m, $v>(padded, starts, offset, dyt, pitch, dwt)
            };
        }
        match vectors {
            1 => by_rows!(go, rows, 1),
            2 => by_rows!(go, rows, 2),
            3 => by_rows!(go, rows, 3),
            _ => by_rows!(go, rows, 4),
        }
    }
}

/// [`weight_tile`] for `M` window values and `V` vectors of output channels.
///
/// # Safety
/// The CPU has AVX-512F; the reads and writes [`weight_tile`] asserts lie in their slices.
#[target_feature(enable = "avx512f")]
unsafe fn weight_kernel<const M: usize, const V: usize>(
    padded: &[f32],
    starts: &[usize],
    offset: usize,
    dyt: &[f32],
    pitch: usize,
    dwt: &mut [f32],
) {
    let (x, g, d) = (padded.as_ptr(), dyt.as_ptr(), dwt.as_mut_ptr());
    let mut acc = [[_mm512_setzero_ps(); V]; M];
    for (i, row) in acc.iter_mut().enumerate() {
        for (v, sum) in row.iter_mut().enumerate() {
            // SAFETY: inside `dwt`, as the caller asserts.
            *sum = unsafe { _mm512_loadu_ps(d.add(i * pitch + 16 * v)) };
        }
    }
    for (p, &start) in starts.iter().enumerate() {
        // SAFETY: the caller keeps each window's values and each gradient row in its slice.
        unsafe {
            let gp = g.add(p * pitch);
            let grads: [__m512; V] = std::array::from_fn(|v| _mm512_loadu_ps(gp.add(16 * v)));
            let w = x.add(start + offset);
            for (i, row) in acc.iter_mut().enumerate() {
                let value = _mm512_set1_ps(*w.add(i));
                for (sum, grad) in row.iter_mut().zip(&grads) {
                    *sum = _mm512_fmadd_ps(value, *grad, *sum);
                }
            }
        }
    }
    for (i, row) in acc.iter().enumerate() {
        for (v, sum) in row.iter().enumerate() {
            // SAFETY: inside `dwt`, as the caller asserts.
            unsafe { _mm512_storeu_ps(d.add(i * pitch + 16 * v), *sum) };
        }
    }
}
