//! Convolution kernels on plain `f32` slices: im2row / row2im around a packed matrix product.
//!
//! A convolution and its transpose are the same pair of maps between an *image* (`channels ×
//! height × width`) and a *grid* of window positions. The image is first laid out
//! channels-last with its zero padding (`[hp, wp, channels]`), so that one window row (`kw`
//! taps × all channels) is one contiguous run; [`im2row`] copies each position's window into a
//! row, [`row2im`] adds the rows back onto the image. With `R = kh · kw · channels` values per
//! window (taps-major, the weight permuted to match) and `P` grid positions per item:
//!
//! | operation | matrix product (per chunk of items) |
//! |---|---|
//! | conv2d forward | `Y[O, P] = W[O, R] · im2row(X)ᵀ[R, P]` |
//! | conv2d input gradient | `row2im(dYᵀ[P, O] · W[O, R])` |
//! | conv2d weight gradient | `dW[O, R] += dY[O, P] · im2row(X)[P, R]` |
//! | conv_transpose2d forward | `row2im(Xᵀ[P, I] · W[I, R])` |
//! | conv_transpose2d input gradient | `dX[I, P] = W[I, R] · im2row(dY)ᵀ[R, P]` |
//! | conv_transpose2d weight gradient | `dW[I, R] += X[I, P] · im2row(dY)[P, R]` |
//!
//! Items are processed in chunks side by side (the rows of a chunk are `(item, position)`)
//! so that each matrix product is wide enough to run near the machine's peak; chunks run in
//! parallel on rayon's pool, each with scratch buffers kept per thread between calls.
//!
//! On x86-64 CPUs with AVX-512F, [`conv2d`] and [`conv2d_backward`] replace im2row and the
//! packed product by `direct`'s micro-kernels for long windows (`R ≥ 64`) when the channels
//! come in whole vectors of 16: the forward and the weight gradient read the windows from the
//! padded images; the input gradient, split by the phase of each pixel modulo the stride,
//! becomes `sh · sw` stride-1 convolutions of the zero-bordered output gradient by flipped
//! sub-kernels, run through the forward's kernel (docs/results.md has the timings).

use std::borrow::Cow;
use std::cell::RefCell;
use std::mem::MaybeUninit;

use gemm::Parallelism;
use rayon::prelude::*;

use crate::transpose::transpose;

/// How the `kernel`-sized windows of an image line up with a grid of positions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Windows {
    /// Channels of the image.
    pub channels: usize,
    /// Image height and width.
    pub image: [usize; 2],
    /// Window height and width.
    pub kernel: [usize; 2],
    /// Step between neighbouring windows, vertically and horizontally.
    pub stride: [usize; 2],
    /// Zero rows and columns added on each side of the image.
    pub padding: [usize; 2],
    /// Grid height and width: the number of window positions.
    pub grid: [usize; 2],
}

impl Windows {
    /// The windows of a convolution over an `image`: the grid is its output size.
    pub fn conv(
        channels: usize,
        image: [usize; 2],
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
    ) -> Option<Self> {
        let out = |i: usize| {
            (image[i] + 2 * padding[i])
                .checked_sub(kernel[i])
                .map(|span| span / stride[i] + 1)
        };
        if stride.contains(&0) || kernel.contains(&0) {
            return None;
        }
        Some(Self {
            channels,
            image,
            kernel,
            stride,
            padding,
            grid: [out(0)?, out(1)?],
        })
    }

    /// The windows of a transposed convolution from a `grid`-sized input: the image is its
    /// output, `padding_out` extra rows and columns at the bottom and right.
    pub fn conv_transpose(
        channels: usize,
        grid: [usize; 2],
        kernel: [usize; 2],
        stride: [usize; 2],
        padding: [usize; 2],
        padding_out: [usize; 2],
    ) -> Option<Self> {
        if stride.contains(&0) || kernel.contains(&0) || grid.contains(&0) {
            return None;
        }
        let size = |i: usize| {
            ((grid[i] - 1) * stride[i] + kernel[i] + padding_out[i]).checked_sub(2 * padding[i])
        };
        Some(Self {
            channels,
            image: [size(0)?, size(1)?],
            kernel,
            stride,
            padding,
            grid,
        })
    }

    /// Rows of the column matrix: `channels · kh · kw`.
    pub fn rows(&self) -> usize {
        self.channels * self.kernel[0] * self.kernel[1]
    }

    /// Grid positions per item.
    pub fn positions(&self) -> usize {
        self.grid[0] * self.grid[1]
    }

    /// Values in one image.
    pub fn image_len(&self) -> usize {
        self.channels * self.image[0] * self.image[1]
    }
}

thread_local! {
    /// Per-thread buffer for one zero-padded image, reused between calls.
    static PADDED: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` on a zeroed buffer of `len` values, taken from this thread's spare one.
fn with_zeroed<T>(len: usize, f: impl FnOnce(&mut [f32]) -> T) -> T {
    with_padded(len, true, f)
}

/// Runs `f` on a buffer of `len` values taken from this thread's spare one: zeroed with
/// `zero`, else holding whatever it held.
fn with_padded<T>(len: usize, zero: bool, f: impl FnOnce(&mut [f32]) -> T) -> T {
    let mut buffer = PADDED.with(|cell| std::mem::take(&mut *cell.borrow_mut()));
    if zero {
        buffer.clear();
    }
    if buffer.len() < len {
        buffer.resize(len, 0.0);
    }
    let result = f(&mut buffer[..len]);
    PADDED.with(|cell| *cell.borrow_mut() = buffer);
    result
}

/// Zeroes the frame of a `[rows, cols, c]` image around its `[inner_h, inner_w]` interior at
/// `(top, left)`: what a padded copy of an image holds besides the image.
#[cfg(target_arch = "x86_64")]
fn zero_frame(
    image: &mut [f32],
    [rows, cols, c]: [usize; 3],
    [top, left]: [usize; 2],
    [inner_h, inner_w]: [usize; 2],
) {
    let row = cols * c;
    image[..top * row].fill(0.0);
    image[(top + inner_h) * row..rows * row].fill(0.0);
    for y in top..top + inner_h {
        let line = &mut image[y * row..][..row];
        line[..left * c].fill(0.0);
        line[(left + inner_w) * c..].fill(0.0);
    }
}

/// [`pad_channels_last`], then the padding zeroed: the whole padded image written.
#[cfg(target_arch = "x86_64")]
fn pad_with_frame(win: &Windows, image: &[f32], padded: &mut [f32]) {
    let (hp, wp) = padded_size(win);
    pad_channels_last(win, image, padded);
    zero_frame(padded, [hp, wp, win.channels], win.padding, win.image);
}

/// Height and width of the image with its padding.
fn padded_size(win: &Windows) -> (usize, usize) {
    (
        win.image[0] + 2 * win.padding[0],
        win.image[1] + 2 * win.padding[1],
    )
}

/// Writes one NCHW `image` channels-last into `padded` (`[hp, wp, channels]`, zero borders).
fn pad_channels_last(win: &Windows, image: &[f32], padded: &mut [f32]) {
    let [h, w] = win.image;
    let [ph, pw] = win.padding;
    let (_, wp) = padded_size(win);
    let c_count = win.channels;
    if c_count == 1 {
        for y in 0..h {
            padded[(y + ph) * wp + pw..][..w].copy_from_slice(&image[y * w..][..w]);
        }
        return;
    }
    // Each image row is a `[channels, w]` matrix (rows a plane apart) to be written `[w,
    // channels]`.
    for y in 0..h {
        transpose(
            &image[y * w..],
            [c_count, w],
            h * w,
            &mut padded[((y + ph) * wp + pw) * c_count..],
            c_count,
        );
    }
}

/// The inverse of [`pad_channels_last`]: the interior of `padded` written NCHW to `image`.
fn unpad_channels_last(win: &Windows, padded: &[f32], image: &mut [f32]) {
    let [h, w] = win.image;
    let [ph, pw] = win.padding;
    let (_, wp) = padded_size(win);
    let c_count = win.channels;
    if c_count == 1 {
        for y in 0..h {
            image[y * w..][..w].copy_from_slice(&padded[(y + ph) * wp + pw..][..w]);
        }
        return;
    }
    for y in 0..h {
        transpose(
            &padded[((y + ph) * wp + pw) * c_count..],
            [w, c_count],
            c_count,
            &mut image[y * w..],
            h * w,
        );
    }
}

/// Writes the window of every grid position of one channels-last padded image as rows
/// `first..first + positions` of `rows` (`R` values each, taps-major).
pub fn im2row(win: &Windows, padded: &[f32], rows: &mut [f32], first: usize) {
    let (_, wp) = padded_size(win);
    let [kh, kw] = win.kernel;
    let [gh, gw] = win.grid;
    let [sh, sw] = win.stride;
    let run = kw * win.channels;
    let r = win.rows();
    let out = &mut rows[first * r..(first + gh * gw) * r];
    for (p, window) in out.chunks_exact_mut(r).enumerate() {
        let (y, x) = (p / gw, p % gw);
        for (i, taps) in window.chunks_exact_mut(run).enumerate() {
            let start = ((y * sh + i) * wp + x * sw) * win.channels;
            taps.copy_from_slice(&padded[start..start + run]);
        }
    }
    debug_assert_eq!(kh * run, r);
}

/// Adds rows `first..first + positions` of `rows` (as written by [`im2row`]) back onto their
/// windows of the channels-last padded image `padded`.
pub fn row2im(win: &Windows, rows: &[f32], first: usize, padded: &mut [f32]) {
    let (_, wp) = padded_size(win);
    let [gh, gw] = win.grid;
    let [sh, sw] = win.stride;
    let run = win.kernel[1] * win.channels;
    let r = win.rows();
    let src = &rows[first * r..(first + gh * gw) * r];
    for (p, window) in src.chunks_exact(r).enumerate() {
        let (y, x) = (p / gw, p % gw);
        for (i, taps) in window.chunks_exact(run).enumerate() {
            let start = ((y * sh + i) * wp + x * sw) * win.channels;
            padded[start..start + run]
                .iter_mut()
                .zip(taps)
                .for_each(|(d, v)| *d += v);
        }
    }
}

/// The weight `[a, channels, kh, kw]` as `[a, kh, kw, channels]` (taps-major, as
/// [`im2row`] lays out a window).
fn taps_major(weight: &[f32], a: usize, channels: usize, taps: usize) -> Vec<f32> {
    let mut out = vec![0.0f32; weight.len()];
    for o in 0..a {
        for c in 0..channels {
            for t in 0..taps {
                out[(o * taps + t) * channels + c] = weight[(o * channels + c) * taps + t];
            }
        }
    }
    out
}

/// The inverse of [`taps_major`].
fn channels_major(weight: &[f32], a: usize, channels: usize, taps: usize) -> Vec<f32> {
    let mut out = vec![0.0f32; weight.len()];
    for o in 0..a {
        for c in 0..channels {
            for t in 0..taps {
                out[(o * channels + c) * taps + t] = weight[(o * taps + t) * channels + c];
            }
        }
    }
    out
}

/// A read-only matrix view: element `(i, j)` at `data[i · row + j · col]`.
#[derive(Clone, Copy)]
struct View<'a> {
    data: &'a [f32],
    row: usize,
    col: usize,
}

impl<'a> View<'a> {
    /// A row-major `rows × cols` matrix.
    fn rows(data: &'a [f32], cols: usize) -> Self {
        Self {
            data,
            row: cols,
            col: 1,
        }
    }

    /// The transpose of a row-major matrix with `cols` columns.
    fn transposed(data: &'a [f32], cols: usize) -> Self {
        Self {
            data,
            row: 1,
            col: cols,
        }
    }

    /// Whether every element of an `m × n` view lies inside the data.
    fn covers(&self, m: usize, n: usize) -> bool {
        m == 0 || n == 0 || (m - 1) * self.row + (n - 1) * self.col < self.data.len()
    }
}

/// `dst[m × n] (row-major) = A[m × k] · B[k × n]`, or `+=` with `accumulate`.
fn matmul(
    [m, n, k]: [usize; 3],
    dst: &mut [f32],
    a: View,
    b: View,
    accumulate: bool,
    parallelism: Parallelism,
) {
    assert!(dst.len() >= m * n, "matmul: destination too small");
    assert!(
        a.covers(m, k) && b.covers(k, n),
        "matmul: operand too small"
    );
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            dst[..m * n].fill(0.0);
        }
        return;
    }
    // SAFETY: `covers` and the length check above keep every index the product touches
    // inside the three slices; `dst` is borrowed mutably, so it cannot alias `a` or `b`.
    unsafe { product([m, n, k], dst.as_mut_ptr(), a, b, accumulate, parallelism) }
}

/// `A[m × k] · B[k × n]` into a new row-major vector, written by the product alone (no
/// zeroing pass first).
fn matmul_new([m, n, k]: [usize; 3], a: View, b: View, parallelism: Parallelism) -> Vec<f32> {
    assert!(
        a.covers(m, k) && b.covers(k, n),
        "matmul: operand too small"
    );
    if m == 0 || n == 0 || k == 0 {
        return vec![0.0; m * n];
    }
    let mut out = Vec::<f32>::with_capacity(m * n);
    // SAFETY: `covers` keeps every index the product reads inside `a` and `b`; `out` has room
    // for the m·n values, which the product writes without reading (`read_dst` false), all
    // of them, before `set_len` exposes them.
    unsafe {
        product([m, n, k], out.as_mut_ptr(), a, b, false, parallelism);
        out.set_len(m * n);
    }
    out
}

/// `gemm`'s product into the row-major `m × n` matrix at `dst`, added to it with
/// `accumulate`.
///
/// # Safety
/// `m, n, k > 0`; `a` and `b` cover `m × k` and `k × n`; `dst` is valid for `m · n` writes
/// (and reads with `accumulate`) and overlaps neither operand.
unsafe fn product(
    [m, n, k]: [usize; 3],
    dst: *mut f32,
    a: View,
    b: View,
    accumulate: bool,
    parallelism: Parallelism,
) {
    // SAFETY: the caller's contract is gemm's for these strides.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst,
            1,
            n as isize,
            accumulate,
            a.data.as_ptr(),
            a.col as isize,
            a.row as isize,
            b.data.as_ptr(),
            b.col as isize,
            b.row as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    }
}

/// How many values into `buffer` the first 64-byte cache line starts (at most 15).
fn to_cache_line(buffer: &[f32]) -> usize {
    buffer.as_ptr().align_offset(64).min(15)
}

/// Values starting on a 64-byte cache line, so that vector loads from them never straddle
/// two lines (a `Vec<f32>` is only sure to be aligned to 4 bytes).
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
struct Aligned {
    buffer: Vec<f32>,
    skip: usize,
    len: usize,
}

#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
impl Aligned {
    /// `len` zeros.
    fn zeros(len: usize) -> Self {
        let buffer = vec![0.0f32; len + 15];
        let skip = to_cache_line(&buffer);
        Self { buffer, skip, len }
    }

    fn values(&self) -> &[f32] {
        &self.buffer[self.skip..][..self.len]
    }

    fn values_mut(&mut self) -> &mut [f32] {
        &mut self.buffer[self.skip..][..self.len]
    }
}

thread_local! {
    /// Per-thread scratch reused between calls (taken out while in use, so a nested call
    /// on the same thread allocates its own instead of aliasing it).
    static SCRATCH: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` on two scratch slices of `a` and `b` values (contents unspecified).
fn with_scratch<T>(a: usize, b: usize, f: impl FnOnce(&mut [f32], &mut [f32]) -> T) -> T {
    let mut buffer = SCRATCH.with(|cell| std::mem::take(&mut *cell.borrow_mut()));
    // Both slices start on a 64-byte cache line (16 values of slack for the first; the
    // second starts `a` rounded up to 16 values later), so that the micro-kernels' vector
    // loads from them never straddle two lines.
    let a_span = a.next_multiple_of(16);
    if buffer.len() < a_span + b + 16 {
        buffer.resize(a_span + b + 16, 0.0);
    }
    let skip = to_cache_line(&buffer);
    let (first, rest) = buffer[skip..].split_at_mut(a_span);
    let result = f(&mut first[..a], &mut rest[..b]);
    SCRATCH.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.len() < buffer.len() {
            *slot = buffer;
        }
    });
    result
}

/// Items per chunk and the matrix product's own parallelism for `items` items of
/// `positions` grid positions each.
fn plan(items: usize, positions: usize) -> (usize, Parallelism) {
    let threads = rayon::current_num_threads().max(1);
    // Wide enough for the packed product to reach its peak, yet one chunk per thread at least.
    let by_width = 512usize.div_ceil(positions.max(1));
    let by_threads = items.div_ceil(threads);
    let per_chunk = by_width.min(by_threads).max(1);
    let chunks = items.div_ceil(per_chunk);
    let parallelism = if chunks < threads {
        Parallelism::Rayon(0)
    } else {
        Parallelism::None
    };
    (per_chunk, parallelism)
}

/// Copies `items` blocks of `rows × positions` (item-major) into one `rows × (items ·
/// positions)` matrix whose columns are `(item, position)`.
fn interleave(src: &[f32], items: usize, rows: usize, positions: usize, dst: &mut [f32]) {
    let ld = items * positions;
    for item in 0..items {
        for r in 0..rows {
            dst[r * ld + item * positions..][..positions]
                .copy_from_slice(&src[(item * rows + r) * positions..][..positions]);
        }
    }
}

/// The inverse of [`interleave`], adding `bias[row]` to every value when given.
fn deinterleave(
    src: &[f32],
    items: usize,
    rows: usize,
    positions: usize,
    bias: Option<&[f32]>,
    dst: &mut [f32],
) {
    let ld = items * positions;
    for item in 0..items {
        for r in 0..rows {
            let out = &mut dst[(item * rows + r) * positions..][..positions];
            out.copy_from_slice(&src[r * ld + item * positions..][..positions]);
            if let Some(bias) = bias {
                out.iter_mut().for_each(|v| *v += bias[r]);
            }
        }
    }
}

/// `items` blocks of `positions × channels` (a `[(item, position), channel]` matrix) written
/// as `[item, channel, position]`, adding `bias[channel]` when given.
fn transpose_items(
    src: &[f32],
    items: usize,
    channels: usize,
    positions: usize,
    bias: Option<&[f32]>,
    dst: &mut [f32],
) {
    for item in 0..items {
        let block = &src[item * positions * channels..][..positions * channels];
        let out = &mut dst[item * channels * positions..][..channels * positions];
        transpose(block, [positions, channels], channels, out, positions);
        if let Some(bias) = bias {
            for (plane, shift) in out.chunks_exact_mut(positions).zip(bias) {
                plane.iter_mut().for_each(|v| *v += shift);
            }
        }
    }
}

/// Per-channel sums of `items` blocks of `channels × len` values.
fn channel_sums(values: &[f32], channels: usize, len: usize) -> Vec<f32> {
    let mut sums = vec![0.0f32; channels];
    for item in values.chunks(channels * len) {
        for (c, plane) in item.chunks(len).enumerate() {
            // Eight partial sums, so that the compiler can keep them in one vector register.
            let mut lanes = [0.0f32; 8];
            let mut chunks = plane.chunks_exact(8);
            for chunk in &mut chunks {
                lanes.iter_mut().zip(chunk).for_each(|(l, v)| *l += v);
            }
            sums[c] += lanes.iter().sum::<f32>() + chunks.remainder().iter().sum::<f32>();
        }
    }
    sums
}

/// Gradients of a convolution or a dense layer; `None` where not asked for.
#[derive(Debug, Default)]
pub struct ConvGrads {
    /// Gradient of the input, the input's shape.
    pub x: Option<Vec<f32>>,
    /// Gradient of the weight, the weight's shape.
    pub weight: Option<Vec<f32>>,
    /// Gradient of the bias, one value per output channel (or output).
    pub bias: Option<Vec<f32>>,
}

/// Which gradients to compute.
#[derive(Clone, Copy, Debug)]
pub struct Wanted {
    /// The input's.
    pub x: bool,
    /// The weight's.
    pub weight: bool,
    /// The bias's.
    pub bias: bool,
}

/// Writes the windows of images `first..first + n` of `images` as rows of `rows`.
fn rows_of_items(win: &Windows, images: &[f32], first: usize, n: usize, rows: &mut [f32]) {
    let image = win.image_len();
    with_zeroed(padded_len(win), |padded| {
        for item in 0..n {
            pad_channels_last(win, &images[(first + item) * image..][..image], padded);
            im2row(win, padded, rows, item * win.positions());
        }
    });
}

/// Sums the window rows of `out.len() / image_len` items back onto their images (NCHW).
fn items_of_rows(win: &Windows, rows: &[f32], out: &mut [f32]) {
    let image = win.image_len();
    for (item, dst) in out.chunks_exact_mut(image).enumerate() {
        with_zeroed(padded_len(win), |padded| {
            row2im(win, rows, item * win.positions(), padded);
            unpad_channels_last(win, padded, dst);
        });
    }
}

/// `out[item, a, position] = Σ_k weight[a, k] · rows[(item, position), k] (+ bias[a])` for
/// the `n` items of a chunk, `a` being `weight.len() / r` channels; `product` is scratch of
/// `a · n · positions` values.
#[allow(clippy::too_many_arguments)]
fn weight_times_rows(
    weight: &[f32],
    rows: &[f32],
    r: usize,
    n: usize,
    positions: usize,
    bias: Option<&[f32]>,
    product: &mut [f32],
    out: &mut [f32],
    parallelism: Parallelism,
) {
    let (a, ld) = (weight.len() / r, n * positions);
    if long_windows(r) {
        let dims = [ld, a, r];
        matmul(
            dims,
            product,
            View::rows(rows, r),
            View::transposed(weight, r),
            false,
            parallelism,
        );
        transpose_items(product, n, a, positions, bias, out);
    } else {
        let dims = [a, ld, r];
        matmul(
            dims,
            product,
            View::rows(weight, r),
            View::transposed(rows, r),
            false,
            parallelism,
        );
        deinterleave(product, n, a, positions, bias, out);
    }
}

/// Runs `body(first, n, dx, dw)` over the batch in chunks of `per_chunk` items, in parallel:
/// `dx` is the chunk's part of an input gradient of `x_len` values per item (when `want_x`),
/// `dw` a weight-gradient accumulator of `weight_len` values that the chunks of one group
/// share. Returns the input gradient (empty unless wanted) and the summed weight gradient,
/// the same bits on every call with the same inputs and thread count.
fn backward_chunks(
    items: usize,
    per_chunk: usize,
    x_len: usize,
    want_x: bool,
    weight_len: usize,
    body: impl Fn(usize, usize, Option<&mut [f32]>, &mut [f32]) + Send + Sync,
) -> (Vec<f32>, Vec<f32>) {
    let mut dx = if want_x {
        parallel_zeros(items * x_len)
    } else {
        Vec::new()
    };
    let slots: Vec<Option<&mut [f32]>> = if want_x {
        dx.chunks_mut(per_chunk * x_len).map(Some).collect()
    } else {
        (0..items.div_ceil(per_chunk)).map(|_| None).collect()
    };
    // Consecutive chunks in a fixed number of groups, each summing its chunks in order, and
    // the groups summed in order: the same additions in the same order whichever thread runs
    // which chunk, so that a run repeats bit for bit (rayon's fold grouped the chunks as work
    // stealing fell, and conv-ae's losses differed in their last digits from run to run).
    let per_group = slots.len().div_ceil(GRADIENT_GROUPS).max(1);
    let mut groups: Vec<Vec<_>> = Vec::new();
    for (chunk, dx) in slots.into_iter().enumerate() {
        if chunk % per_group == 0 {
            groups.push(Vec::with_capacity(per_group));
        }
        if let Some(group) = groups.last_mut() {
            group.push((chunk, dx));
        }
    }
    let partials: Vec<Vec<f32>> = groups
        .into_par_iter()
        .map(|group| {
            let mut dw = vec![0.0f32; weight_len];
            for (chunk, dx) in group {
                let first = chunk * per_chunk;
                body(first, per_chunk.min(items - first), dx, &mut dw);
            }
            dw
        })
        .collect();
    (dx, sum_in_order(partials, weight_len))
}

/// `len` zeros, written by rayon's threads side by side: a large allocation that the
/// allocator reuses from its heap is otherwise zeroed by the calling thread alone while the
/// other waits (conv1's 3.2 MB output: its forward went from 0.68–0.86 to 0.53–0.61 ms).
fn parallel_zeros(len: usize) -> Vec<f32> {
    let mut values = Vec::with_capacity(len);
    values.spare_capacity_mut()[..len]
        .par_chunks_mut(1 << 16)
        .for_each(|chunk| {
            chunk.iter_mut().for_each(|v| {
                v.write(0.0);
            })
        });
    // SAFETY: the loop above initialized all `len` values.
    unsafe { values.set_len(len) };
    values
}

/// The elementwise sum of `partials` (each of `len` values), every element summed in the
/// partials' order, in slices of elements side by side on rayon's threads.
fn sum_in_order(mut partials: Vec<Vec<f32>>, len: usize) -> Vec<f32> {
    if partials.is_empty() {
        return vec![0.0; len];
    }
    let mut total = partials.remove(0);
    const SLICE: usize = 4096;
    total
        .par_chunks_mut(SLICE)
        .enumerate()
        .for_each(|(i, slice)| {
            for partial in &partials {
                slice
                    .iter_mut()
                    .zip(&partial[i * SLICE..])
                    .for_each(|(t, v)| *t += v);
            }
        });
    total
}

/// Groups in which [`backward_chunks`] sums its chunks' weight gradients.
const GRADIENT_GROUPS: usize = 16;

/// A convolution (groups 1, dilation 1) of `items` images by `weight` `[out, channels, kh,
/// kw]`, returning `[items, out, grid positions]`.
pub fn conv2d(
    win: &Windows,
    items: usize,
    x: &[f32],
    weight: &[f32],
    out_channels: usize,
    bias: Option<&[f32]>,
) -> Vec<f32> {
    let (r, positions, image) = (win.rows(), win.positions(), win.image_len());
    assert_eq!(x.len(), items * image, "conv2d: input size");
    assert_eq!(weight.len(), out_channels * r, "conv2d: weight size");
    let mut out = parallel_zeros(items * out_channels * positions);
    if out.is_empty() {
        return out;
    }
    let taps = win.kernel[0] * win.kernel[1];
    let weight = taps_major(weight, out_channels, win.channels, taps);
    #[cfg(target_arch = "x86_64")]
    if direct_applies(win, out_channels) {
        conv2d_direct(win, x, &weight, out_channels, bias, &mut out);
        return out;
    }
    let (per_chunk, parallelism) = plan(items, positions);
    out.par_chunks_mut(per_chunk * out_channels * positions)
        .enumerate()
        .for_each(|(chunk, out)| {
            let n = out.len() / (out_channels * positions);
            let ld = n * positions;
            with_scratch(ld * r, out_channels * ld, |rows, product| {
                rows_of_items(win, x, chunk * per_chunk, n, rows);
                weight_times_rows(
                    &weight,
                    rows,
                    r,
                    n,
                    positions,
                    bias,
                    product,
                    out,
                    parallelism,
                );
            });
        });
    out
}

/// Whether [`crate::direct`]'s micro-kernels run a convolution over `win` whose vector side
/// has `channels` channels (the output's for the forward and the weight gradient, the input's
/// for the input gradient): on x86-64 CPUs with AVX-512F, for long windows (short ones, a first
/// layer's one channel, cost little to copy) and channels in whole vectors of 16.
fn direct_applies(win: &Windows, channels: usize) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        long_windows(win.rows())
            && channels > 0
            && channels.is_multiple_of(16)
            && crate::math::avx512()
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (win, channels);
        false
    }
}

/// Where each window of `n` channels-last padded images laid end to end starts, item by item
/// and position by position.
#[cfg(target_arch = "x86_64")]
fn window_starts(win: &Windows, n: usize) -> Vec<usize> {
    let plen = padded_len(win);
    let (_, wp) = padded_size(win);
    let [sh, sw] = win.stride;
    let [gh, gw] = win.grid;
    let c = win.channels;
    let mut starts = Vec::with_capacity(n * gh * gw);
    for item in 0..n {
        for y in 0..gh {
            for x in 0..gw {
                starts.push(item * plen + (y * sh * wp + x * sw) * c);
            }
        }
    }
    starts
}

/// [`conv2d`] by [`crate::direct`]'s micro-kernel: each chunk of items padded channels-last,
/// its outputs computed tile by tile as `[(item, position), channel]`, then transposed into
/// `out`; `weight` is taps-major.
#[cfg(target_arch = "x86_64")]
fn conv2d_direct(
    win: &Windows,
    x: &[f32],
    weight: &[f32],
    out_channels: usize,
    bias: Option<&[f32]>,
    out: &mut [f32],
) {
    use crate::direct::{Tile, rows_for, tile};
    let (r, positions, image) = (win.rows(), win.positions(), win.image_len());
    let items = out.len() / (out_channels * positions);
    // The weight as `[R, out]`: one row per window value.
    let mut packed = Aligned::zeros(r * out_channels);
    transpose(
        weight,
        [out_channels, r],
        r,
        packed.values_mut(),
        out_channels,
    );
    let packed = packed.values();
    let (per_chunk, _) = plan(items, positions);
    let plen = padded_len(win);
    let (_, wp) = padded_size(win);
    let c = win.channels;
    let kh = win.kernel[0];
    let run = win.kernel[1] * c;
    out.par_chunks_mut(per_chunk * out_channels * positions)
        .enumerate()
        .for_each(|(chunk, out)| {
            let n = out.len() / (out_channels * positions);
            let first = chunk * per_chunk;
            with_scratch(n * plen, n * positions * out_channels, |padded, product| {
                for (item, dst) in padded.chunks_exact_mut(plen).enumerate() {
                    pad_with_frame(win, &x[(first + item) * image..][..image], dst);
                }
                let starts = window_starts(win, n);
                for o0 in (0..out_channels).step_by(64) {
                    let vectors = ((out_channels - o0) / 16).min(4);
                    let m = rows_for(vectors);
                    // One kernel row at a time over every tile: its block of the weight
                    // (`kw · channels` rows, 32 KB for conv2) stays in the L1 cache.
                    for ky in 0..kh {
                        for (t, starts) in starts.chunks(m).enumerate() {
                            let at = Tile {
                                starts,
                                row_step: wp * c,
                                kernel_rows: ky..ky + 1,
                                run,
                                accumulate: ky > 0,
                            };
                            tile(
                                padded,
                                &at,
                                packed,
                                out_channels,
                                o0,
                                vectors,
                                &mut product[t * m * out_channels..],
                            );
                        }
                    }
                }
                transpose_items(product, n, out_channels, positions, bias, out);
            });
        });
}

/// Adds the weight gradient of items `first..first + n` to `dwt` (`[R, out]`, taps-major
/// rows) by [`crate::direct`]'s micro-kernel, reading the windows from the padded images;
/// `dyt` is the items' output gradient as `[(item, position), out]`. Only where
/// [`direct_applies`] holds for the output channels.
#[cfg(target_arch = "x86_64")]
fn weight_grad_direct(
    win: &Windows,
    x: &[f32],
    dyt: &[f32],
    [first, n]: [usize; 2],
    out_channels: usize,
    dwt: &mut [f32],
) {
    use crate::direct::{MR, POSITION_BLOCK, Starts, weight_tile};
    let image = win.image_len();
    let c = win.channels;
    let run = win.kernel[1] * c;
    let plen = padded_len(win);
    let (_, wp) = padded_size(win);
    let starts = window_starts(win, n);
    with_padded(n * plen, false, |padded| {
        for (item, dst) in padded.chunks_exact_mut(plen).enumerate() {
            pad_with_frame(win, &x[(first + item) * image..][..image], dst);
        }
        for (block, starts) in starts.chunks(POSITION_BLOCK).enumerate() {
            let starts = Starts::new(starts);
            let dyt = &dyt[block * POSITION_BLOCK * out_channels..];
            for ky in 0..win.kernel[0] {
                for k in (0..run).step_by(MR) {
                    for o0 in (0..out_channels).step_by(64) {
                        weight_tile(
                            padded,
                            starts,
                            ky * wp * c + k,
                            dyt,
                            out_channels,
                            [ky * run + k, MR.min(run - k)],
                            [o0, ((out_channels - o0) / 16).min(4)],
                            dwt,
                        );
                    }
                }
            }
        }
    });
}

/// Whether a product with the window rows as its long operand should put them first:
/// `gemm` packs a row-major left operand slowly when its rows are long, so for long windows
/// the product comes out `[(item, position), channel]` and is transposed afterwards; short
/// windows (a first layer's one channel) pack cheaply either way and skip that transpose.
fn long_windows(r: usize) -> bool {
    r >= 64
}

/// Values in one channels-last padded image.
fn padded_len(win: &Windows) -> usize {
    let (hp, wp) = padded_size(win);
    hp * wp * win.channels
}

/// Gradients of [`conv2d`] from `grad` `[items, out, grid positions]`.
pub fn conv2d_backward(
    win: &Windows,
    items: usize,
    x: &[f32],
    weight: &[f32],
    out_channels: usize,
    grad: &[f32],
    wanted: Wanted,
) -> ConvGrads {
    let (r, positions, image) = (win.rows(), win.positions(), win.image_len());
    assert_eq!(x.len(), items * image, "conv2d_backward: input size");
    let grad_len = out_channels * positions;
    assert_eq!(
        grad.len(),
        items * grad_len,
        "conv2d_backward: gradient size"
    );
    let taps = win.kernel[0] * win.kernel[1];
    let weight = taps_major(weight, out_channels, win.channels, taps);
    let (per_chunk, parallelism) = plan(items, positions);
    let weight_len = if wanted.weight { out_channels * r } else { 0 };
    // The bias gradient is summed per chunk after the weight's, in the same fixed groups.
    let bias_len = if wanted.bias { out_channels } else { 0 };
    // With a micro-kernel, the output gradient is taken as `[(item, position), out]` (its
    // rows feed the kernels and the input gradient's product alike), else as `[out, (item,
    // position)]`; with the weight gradient's micro-kernel that gradient is summed as `[R,
    // out]`, else as `[out, R]`.
    let direct_w = wanted.weight && direct_applies(win, out_channels);
    let direct_x = wanted.x && out_channels > 0 && direct_applies(win, win.channels);
    let by_rows = direct_w || direct_x;
    #[cfg(target_arch = "x86_64")]
    let phases = direct_x.then(|| input_grad_phases(win, &weight, out_channels));
    let (dx, dw) = backward_chunks(
        items,
        per_chunk,
        image,
        wanted.x,
        weight_len + bias_len,
        |first, n, dx, dw| {
            let ld = n * positions;
            let grads = &grad[first * grad_len..][..n * grad_len];
            let (dw, db) = dw.split_at_mut(weight_len);
            if wanted.bias {
                let sums = channel_sums(grads, out_channels, positions);
                db.iter_mut()
                    .zip(sums)
                    .for_each(|(total, sum)| *total += sum);
            }
            with_scratch(ld * r, out_channels * ld, |rows, dy| {
                // The output gradient as `[out, ld]` and as `[ld, out]`.
                let (dy_t, dy_rows) = if by_rows {
                    for (src, dst) in grads
                        .chunks_exact(grad_len)
                        .zip(dy.chunks_exact_mut(grad_len))
                    {
                        transpose(src, [out_channels, positions], positions, dst, out_channels);
                    }
                    (
                        View::transposed(dy, out_channels),
                        View::rows(dy, out_channels),
                    )
                } else {
                    interleave(grads, n, out_channels, positions, dy);
                    (View::rows(dy, ld), View::transposed(dy, ld))
                };
                if direct_w {
                    #[cfg(target_arch = "x86_64")]
                    weight_grad_direct(win, x, dy, [first, n], out_channels, dw);
                } else if wanted.weight {
                    rows_of_items(win, x, first, n, rows);
                    let dims = [out_channels, r, ld];
                    matmul(dims, dw, dy_t, View::rows(rows, r), true, parallelism);
                }
                let Some(dx) = dx else { return };
                #[cfg(target_arch = "x86_64")]
                if let Some(phases) = &phases {
                    input_grad_direct(win, phases, dy, n, out_channels, rows, dx);
                    return;
                }
                let dims = [ld, r, out_channels];
                matmul(
                    dims,
                    rows,
                    dy_rows,
                    View::rows(&weight, r),
                    false,
                    parallelism,
                );
                items_of_rows(win, rows, dx);
            });
        },
    );
    let db = dw[weight_len..].to_vec();
    let weight_grad = || {
        let dw = &dw[..weight_len];
        let dw = if direct_w {
            let mut rows_first = vec![0.0f32; weight_len];
            transpose(dw, [r, out_channels], out_channels, &mut rows_first, r);
            Cow::Owned(rows_first)
        } else {
            Cow::Borrowed(dw)
        };
        channels_major(&dw, out_channels, win.channels, taps)
    };
    ConvGrads {
        x: wanted.x.then_some(dx),
        weight: wanted.weight.then(weight_grad),
        bias: wanted.bias.then_some(db),
    }
}

/// The input gradient of a convolution split by phase: the image pixels `(Y, X)` (padded
/// coordinates) with `Y mod sh = a` and `X mod sw = b` are reached by the kernel taps `ky = a +
/// sh · t`, `kx = b + sw · u` alone, from grid position `(Y div sh − t, X div sw − u)`. Each
/// phase is then a stride-1 convolution of the output gradient (channels-last, zero-bordered)
/// by a `taps[0] × taps[1]` kernel, flipped, over `out` channels into `channels`.
#[cfg(target_arch = "x86_64")]
struct Phases {
    /// Kernel rows and columns of every phase: `⌈kh / sh⌉`, `⌈kw / sw⌉` (taps beyond the
    /// kernel are zero).
    taps: [usize; 2],
    /// Per phase `(a, b)`, row-major: its kernel as `[t′, u′, out]` rows of `channels`
    /// values, `t′ = taps[0] − 1 − t` (so that window rows run down the gradient image).
    weights: Vec<Aligned>,
    /// Height and width of the bordered gradient image, and its border above and left.
    grid: [usize; 2],
    border: [usize; 2],
}

/// [`Phases`] of `win` from the taps-major weight `[out, kh, kw, channels]`.
#[cfg(target_arch = "x86_64")]
fn input_grad_phases(win: &Windows, weight: &[f32], out_channels: usize) -> Phases {
    let [kh, kw] = win.kernel;
    let [sh, sw] = win.stride;
    let [ph, pw] = win.padding;
    let [h, w] = win.image;
    let [gh, gw] = win.grid;
    let c = win.channels;
    let taps = [kh.div_ceil(sh), kw.div_ceil(sw)];
    let mut weights = Vec::with_capacity(sh * sw);
    for a in 0..sh {
        for b in 0..sw {
            let mut phase = Aligned::zeros(taps[0] * taps[1] * out_channels * c);
            let values = phase.values_mut();
            for t2 in 0..taps[0] {
                for u2 in 0..taps[1] {
                    let ky = a + sh * (taps[0] - 1 - t2);
                    let kx = b + sw * (taps[1] - 1 - u2);
                    if ky >= kh || kx >= kw {
                        continue;
                    }
                    for o in 0..out_channels {
                        let src = &weight[((o * kh + ky) * kw + kx) * c..][..c];
                        values[((t2 * taps[1] + u2) * out_channels + o) * c..][..c]
                            .copy_from_slice(src);
                    }
                }
            }
            weights.push(phase);
        }
    }
    // Grid rows reached: from Y div sh − (taps − 1) for the top image row to Y div sh for the
    // bottom one; those outside the grid read the zero border.
    let border = [taps[0] - 1, taps[1] - 1];
    let below = ((ph + h - 1) / sh + 1).saturating_sub(gh);
    let right = ((pw + w - 1) / sw + 1).saturating_sub(gw);
    Phases {
        taps,
        weights,
        grid: [gh + border[0] + below, gw + border[1] + right],
        border,
    }
}

/// The input gradient of `n` items into `dx` (NCHW) from `dyt` (`[(item, position), out]`),
/// phase by phase with [`crate::direct`]'s forward micro-kernel; `scratch` holds at least
/// the items' channels-last input gradient twice over.
#[cfg(target_arch = "x86_64")]
fn input_grad_direct(
    win: &Windows,
    phases: &Phases,
    dyt: &[f32],
    n: usize,
    out_channels: usize,
    scratch: &mut [f32],
    dx: &mut [f32],
) {
    use crate::direct::{Tile, rows_for, tile};
    let [h, w] = win.image;
    let [ph, pw] = win.padding;
    let [sh, sw] = win.stride;
    let [gh, gw] = win.grid;
    let c = win.channels;
    let [bh, bw] = phases.border;
    let [rows_b, cols_b] = phases.grid;
    let grid_len = rows_b * cols_b * out_channels;
    let pixels = h * w;
    // The im2row scratch is large enough unless the windows skip pixels (stride > kernel).
    let need = n * pixels * c + rows_for(1) * c;
    let mut own = Vec::new();
    let scratch = if scratch.len() >= need {
        scratch
    } else {
        own.resize(need, 0.0);
        &mut own[..]
    };
    let (channels_last, tile_out) = scratch.split_at_mut(n * pixels * c);
    with_padded(n * grid_len, false, |bordered| {
        for (item, dst) in bordered.chunks_exact_mut(grid_len).enumerate() {
            zero_frame(dst, [rows_b, cols_b, out_channels], [bh, bw], [gh, gw]);
            for y in 0..gh {
                dst[((y + bh) * cols_b + bw) * out_channels..][..gw * out_channels]
                    .copy_from_slice(
                        &dyt[(item * gh + y) * gw * out_channels..][..gw * out_channels],
                    );
            }
        }
        let mut starts = Vec::new();
        let mut targets = Vec::new();
        for a in 0..sh {
            for b in 0..sw {
                starts.clear();
                targets.clear();
                for item in 0..n {
                    for yy in (0..h).filter(|yy| (yy + ph) % sh == a) {
                        for xx in (0..w).filter(|xx| (xx + pw) % sw == b) {
                            let (gy, gx) = ((yy + ph) / sh, (xx + pw) / sw);
                            starts.push(item * grid_len + (gy * cols_b + gx) * out_channels);
                            targets.push((item * pixels + yy * w + xx) * c);
                        }
                    }
                }
                let weight = phases.weights[a * sw + b].values();
                for o0 in (0..c).step_by(64) {
                    let vectors = ((c - o0) / 16).min(4);
                    let m = rows_for(vectors);
                    for (starts, targets) in starts.chunks(m).zip(targets.chunks(m)) {
                        let at = Tile {
                            starts,
                            row_step: cols_b * out_channels,
                            kernel_rows: 0..phases.taps[0],
                            run: phases.taps[1] * out_channels,
                            accumulate: false,
                        };
                        tile(bordered, &at, weight, c, o0, vectors, tile_out);
                        for (i, &target) in targets.iter().enumerate() {
                            channels_last[target + o0..][..16 * vectors]
                                .copy_from_slice(&tile_out[i * c + o0..][..16 * vectors]);
                        }
                    }
                }
            }
        }
    });
    for (src, dst) in channels_last
        .chunks_exact(pixels * c)
        .zip(dx.chunks_exact_mut(pixels * c))
    {
        transpose(src, [pixels, c], c, dst, pixels);
    }
}

/// A transposed convolution (groups 1, dilation 1) of `items` inputs `[in, grid positions]`
/// by `weight` `[in, channels, kh, kw]`, returning `[items, image]`.
pub fn conv_transpose2d(
    win: &Windows,
    items: usize,
    x: &[f32],
    weight: &[f32],
    in_channels: usize,
    bias: Option<&[f32]>,
) -> Vec<f32> {
    let (r, positions, image) = (win.rows(), win.positions(), win.image_len());
    let item_in = in_channels * positions;
    assert_eq!(x.len(), items * item_in, "conv_transpose2d: input size");
    assert_eq!(
        weight.len(),
        in_channels * r,
        "conv_transpose2d: weight size"
    );
    let mut out = parallel_zeros(items * image);
    if out.is_empty() {
        return out;
    }
    let taps = win.kernel[0] * win.kernel[1];
    let weight = taps_major(weight, in_channels, win.channels, taps);
    let plane = win.image[0] * win.image[1];
    let (per_chunk, parallelism) = plan(items, positions);
    out.par_chunks_mut(per_chunk * image)
        .enumerate()
        .for_each(|(chunk, out)| {
            let n = out.len() / image;
            let ld = n * positions;
            with_scratch(ld * r, in_channels * ld, |rows, xs| {
                let block = &x[chunk * per_chunk * item_in..][..n * item_in];
                interleave(block, n, in_channels, positions, xs);
                let dims = [ld, r, in_channels];
                matmul(
                    dims,
                    rows,
                    View::transposed(xs, ld),
                    View::rows(&weight, r),
                    false,
                    parallelism,
                );
                items_of_rows(win, rows, out);
            });
            if let Some(bias) = bias {
                for item in out.chunks_exact_mut(image) {
                    for (c, values) in item.chunks_exact_mut(plane).enumerate() {
                        values.iter_mut().for_each(|v| *v += bias[c]);
                    }
                }
            }
        });
    out
}

/// Gradients of [`conv_transpose2d`] from `grad` `[items, image]`.
pub fn conv_transpose2d_backward(
    win: &Windows,
    items: usize,
    x: &[f32],
    weight: &[f32],
    in_channels: usize,
    grad: &[f32],
    wanted: Wanted,
) -> ConvGrads {
    let (r, positions, image) = (win.rows(), win.positions(), win.image_len());
    let item_in = in_channels * positions;
    assert_eq!(
        x.len(),
        items * item_in,
        "conv_transpose2d_backward: input size"
    );
    assert_eq!(
        grad.len(),
        items * image,
        "conv_transpose2d_backward: gradient size"
    );
    let taps = win.kernel[0] * win.kernel[1];
    let weight = taps_major(weight, in_channels, win.channels, taps);
    let (per_chunk, parallelism) = plan(items, positions);
    let weight_len = if wanted.weight { in_channels * r } else { 0 };
    let (dx, dw) = backward_chunks(
        items,
        per_chunk,
        item_in,
        wanted.x,
        weight_len,
        |first, n, dx, dw| {
            let ld = n * positions;
            with_scratch(ld * r, in_channels * ld, |rows, xs| {
                rows_of_items(win, grad, first, n, rows);
                if wanted.weight {
                    interleave(
                        &x[first * item_in..][..n * item_in],
                        n,
                        in_channels,
                        positions,
                        xs,
                    );
                    let dims = [in_channels, r, ld];
                    matmul(
                        dims,
                        dw,
                        View::rows(xs, ld),
                        View::rows(rows, r),
                        true,
                        parallelism,
                    );
                }
                if let Some(dx) = dx {
                    weight_times_rows(&weight, rows, r, n, positions, None, xs, dx, parallelism);
                }
            });
        },
    );
    let plane = win.image[0] * win.image[1];
    ConvGrads {
        x: wanted.x.then_some(dx),
        weight: wanted
            .weight
            .then(|| channels_major(&dw, in_channels, win.channels, taps)),
        bias: wanted.bias.then(|| channel_sums(grad, win.channels, plane)),
    }
}

/// Multiply-adds from which a dense layer's matrix product is split over rayon's pool (the
/// same threshold as burn-flex's).
const DENSE_PARALLEL: usize = 192 * 192 * 192;

fn dense_parallelism(m: usize, n: usize, k: usize) -> Parallelism {
    if m.saturating_mul(n).saturating_mul(k) >= DENSE_PARALLEL {
        Parallelism::Rayon(0)
    } else {
        Parallelism::None
    }
}

/// Rows per thread from which a dense layer's forward product is split by rows.
const DENSE_ROWS_PER_THREAD: usize = 64;

/// A dense layer, `x[rows × inputs] · weight[inputs × outputs] + bias`, row-major, written
/// once: the bias is the product's starting value rather than a second pass. With `relu`,
/// each block of rows is then clamped at zero by the thread that computed it, while still in
/// its cache (a ReLU layer without a separate pass over memory).
///
/// A product large enough for several threads is split by rows when there are at least
/// 64 per thread, each block a single-threaded product on its own thread: no synchronization
/// inside the product (at batch 1000, deep-ae's encoder took 10% less time than with the
/// product's own threading, and training at batch 128 was unchanged).
pub fn linear(
    x: &[f32],
    rows: usize,
    weight: &[f32],
    [inputs, outputs]: [usize; 2],
    bias: Option<&[f32]>,
    relu: bool,
) -> Vec<f32> {
    assert_eq!(x.len(), rows * inputs, "linear: input size");
    assert_eq!(weight.len(), inputs * outputs, "linear: weight size");
    if let Some(bias) = bias {
        assert_eq!(bias.len(), outputs, "linear: bias size");
    }
    let parallelism = dense_parallelism(rows, outputs, inputs);
    let threads = rayon::current_num_threads();
    // A threaded product has inputs, outputs and rows above zero.
    let split = matches!(parallelism, Parallelism::Rayon(_))
        && threads > 1
        && rows >= DENSE_ROWS_PER_THREAD * threads;
    let len = rows * outputs;
    let mut out = Vec::<f32>::with_capacity(len);
    let spare = &mut out.spare_capacity_mut()[..len];
    let layer = DenseLayer {
        weight,
        sizes: [inputs, outputs],
        bias,
        relu,
    };
    if split {
        // Each thread also writes its block's bias and applies its ReLU: in parallel, and
        // while the block is in that thread's cache.
        let per = rows.div_ceil(threads);
        spare
            .par_chunks_mut(per * outputs)
            .zip(x.par_chunks(per * inputs))
            .for_each(|(out, x)| layer.block(x, out, Parallelism::None));
    } else {
        layer.block(x, spare, parallelism);
    }
    // SAFETY: `block` initialized every value of each block, and the blocks tile the `len`
    // values.
    unsafe { out.set_len(len) };
    out
}

/// One dense layer, of [`linear`] or [`dense_stack`]: a `[inputs, outputs]` weight (row-major), an optional bias
/// and whether a ReLU follows.
#[derive(Clone, Copy, Debug)]
pub struct DenseLayer<'a> {
    /// `inputs × outputs` values, row-major.
    pub weight: &'a [f32],
    /// Input and output widths.
    pub sizes: [usize; 2],
    /// `outputs` values, when the layer has a bias.
    pub bias: Option<&'a [f32]>,
    /// Whether the layer's outputs go through a ReLU.
    pub relu: bool,
}

impl DenseLayer<'_> {
    /// Writes the layer's values for the rows `x` (`x.len() / inputs` of them, row-major)
    /// into `out`, which it initializes whole: the bias first (or nothing, and the product
    /// writes without reading), then the product, then the ReLU.
    fn block(&self, x: &[f32], out: &mut [MaybeUninit<f32>], parallelism: Parallelism) {
        let [inputs, outputs] = self.sizes;
        if outputs == 0 {
            return;
        }
        let rows = out.len() / outputs;
        assert_eq!(x.len(), rows * inputs, "linear: block size");
        let accumulate = match self.bias {
            Some(bias) => {
                for row in out.chunks_exact_mut(outputs) {
                    for (o, &b) in row.iter_mut().zip(bias) {
                        o.write(b);
                    }
                }
                true
            }
            None if rows == 0 || inputs == 0 => {
                out.fill(MaybeUninit::new(0.0));
                true
            }
            None => false,
        };
        if rows > 0 && inputs > 0 {
            // SAFETY: m, n, k > 0; `x` holds rows × inputs values and the weight view
            // inputs × outputs (checked by `linear`); `out` has room for the rows × outputs
            // values, initialized when read (`accumulate`), and is borrowed mutably apart
            // from both operands.
            unsafe {
                product(
                    [rows, outputs, inputs],
                    out.as_mut_ptr().cast(),
                    View::rows(x, inputs),
                    View::rows(self.weight, outputs),
                    accumulate,
                    parallelism,
                );
            }
        }
        // SAFETY: every value was written above (bias or zeros, or the product itself).
        let out = unsafe { &mut *(out as *mut [MaybeUninit<f32>] as *mut [f32]) };
        if self.relu {
            relu_in_place(out);
        }
    }
}

/// Rows a thread takes through all the layers of [`dense_stack`] at a time: its scratch for
/// the layers in between stays this many rows tall whatever the batch.
const STACK_ROWS: usize = 512;

/// Layers of [`linear`] applied in turn to `x` (`rows × inputs`, row-major), for inference.
///
/// When the batch is large enough to split, each thread takes its own rows through every
/// layer, `STACK_ROWS` (512) at a time, with the values between layers in a scratch buffer kept
/// per thread: no synchronization and no allocation between layers, and a layer's input still
/// in the cache of the thread that wrote it. Otherwise layer after layer, as [`linear`].
///
/// # Panics
/// When the sizes do not chain (`x` against the first layer's inputs, one layer's outputs
/// against the next one's inputs) or a weight or bias has the wrong length.
pub fn dense_stack(x: &[f32], rows: usize, layers: &[DenseLayer]) -> Vec<f32> {
    let mut width = x.len().checked_div(rows).unwrap_or(0);
    assert_eq!(x.len(), rows * width, "dense_stack: input size");
    for layer in layers {
        let [inputs, outputs] = layer.sizes;
        assert_eq!(inputs, width, "dense_stack: layer sizes do not chain");
        assert_eq!(
            layer.weight.len(),
            inputs * outputs,
            "dense_stack: weight size"
        );
        if let Some(bias) = layer.bias {
            assert_eq!(bias.len(), outputs, "dense_stack: bias size");
        }
        width = outputs;
    }
    let Some(last) = layers.last() else {
        return x.to_vec();
    };
    let threads = rayon::current_num_threads();
    let multiply_adds: usize = layers.iter().map(|l| rows * l.sizes[0] * l.sizes[1]).sum();
    let split = threads > 1
        && rows >= DENSE_ROWS_PER_THREAD * threads
        && multiply_adds >= DENSE_PARALLEL
        && layers.iter().all(|l| l.sizes[0] > 0);
    if !split {
        let mut values = Cow::Borrowed(x);
        for layer in layers {
            let [inputs, outputs] = layer.sizes;
            values = Cow::Owned(linear(
                &values,
                rows,
                layer.weight,
                [inputs, outputs],
                layer.bias,
                layer.relu,
            ));
        }
        return values.into_owned();
    }
    let (inputs, outputs) = (layers[0].sizes[0], last.sizes[1]);
    // The widest value between two layers, for the scratch.
    let between = layers[..layers.len() - 1]
        .iter()
        .map(|l| l.sizes[1])
        .max()
        .unwrap_or(0);
    let len = rows * outputs;
    let mut out = Vec::<f32>::with_capacity(len);
    let per = rows.div_ceil(threads);
    out.spare_capacity_mut()[..len]
        .par_chunks_mut(per * outputs)
        .zip(x.par_chunks(per * inputs))
        .for_each(|(out, x)| {
            let height = STACK_ROWS.min(x.len() / inputs);
            with_scratch(height * between, height * between, |one, two| {
                for (out, x) in out
                    .chunks_mut(STACK_ROWS * outputs)
                    .zip(x.chunks(STACK_ROWS * inputs))
                {
                    let n = x.len() / inputs;
                    let hidden = layers.len() - 1;
                    // Layer i writes to `one` when i is even, to `two` when odd, and reads
                    // what the layer before it wrote.
                    for (i, layer) in layers[..hidden].iter().enumerate() {
                        let (from, to) = if i % 2 == 0 {
                            (&*two, &mut *one)
                        } else {
                            (&*one, &mut *two)
                        };
                        let input = match i {
                            0 => x,
                            _ => &from[..n * layers[i - 1].sizes[1]],
                        };
                        let to = &mut to[..n * layer.sizes[1]];
                        // SAFETY: `f32` and `MaybeUninit<f32>` share their layout, and
                        // `block` writes only initialized values through the view.
                        let to = unsafe { &mut *(to as *mut [f32] as *mut [MaybeUninit<f32>]) };
                        layer.block(input, to, Parallelism::None);
                    }
                    let input = match hidden {
                        0 => x,
                        h if h % 2 == 1 => &one[..n * layers[h - 1].sizes[1]],
                        h => &two[..n * layers[h - 1].sizes[1]],
                    };
                    last.block(input, out, Parallelism::None);
                }
            })
        });
    // SAFETY: each thread's last `block` initialized every value of its rows, and the rows
    // tile the `len` values.
    unsafe { out.set_len(len) };
    out
}

/// `max(v, 0)` in place; NaN stays NaN, as with burn's and PyTorch's ReLU.
fn relu_in_place(values: &mut [f32]) {
    // A select written back unconditionally, which compiles to vector code (a conditional
    // store stays a branch per value, mispredicted half the time).
    for v in values {
        *v = if *v < 0.0 { 0.0 } else { *v };
    }
}

/// The gradient through a ReLU given its `output`: `grad` where the output is positive,
/// zero elsewhere (burn's rule: zero where the output is ≤ 0).
pub fn relu_backward(output: &[f32], grad: &[f32]) -> Vec<f32> {
    assert_eq!(output.len(), grad.len(), "relu_backward: sizes");
    output
        .iter()
        .zip(grad)
        .map(|(&o, &g)| if o > 0.0 { g } else { 0.0 })
        .collect()
}

/// The gradients of [`linear`] given the output's gradient `grad` (`rows × outputs`): the
/// input's `grad · weightᵀ`, the weight's `xᵀ · grad` and the bias's column sums of `grad`,
/// each when wanted; no transposed copy is made.
pub fn linear_backward(
    x: &[f32],
    rows: usize,
    weight: &[f32],
    [inputs, outputs]: [usize; 2],
    grad: &[f32],
    wanted: Wanted,
) -> ConvGrads {
    assert_eq!(x.len(), rows * inputs, "linear_backward: input size");
    assert_eq!(
        weight.len(),
        inputs * outputs,
        "linear_backward: weight size"
    );
    assert_eq!(grad.len(), rows * outputs, "linear_backward: gradient size");
    let dx = wanted.x.then(|| {
        matmul_new(
            [rows, inputs, outputs],
            View::rows(grad, outputs),
            View::transposed(weight, outputs),
            dense_parallelism(rows, inputs, outputs),
        )
    });
    let dw = wanted.weight.then(|| {
        matmul_new(
            [inputs, outputs, rows],
            View::transposed(x, inputs),
            View::rows(grad, outputs),
            dense_parallelism(inputs, outputs, rows),
        )
    });
    let db = wanted.bias.then(|| {
        let mut db = vec![0.0; outputs];
        for row in grad.chunks_exact(outputs.max(1)) {
            for (d, g) in db.iter_mut().zip(row) {
                *d += g;
            }
        }
        db
    });
    ConvGrads {
        x: dx,
        weight: dw,
        bias: db,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A direct six-loop convolution, the definition the kernels must agree with.
    fn direct(win: &Windows, x: &[f32], weight: &[f32], out_channels: usize) -> Vec<f32> {
        let [h, w] = win.image;
        let [kh, kw] = win.kernel;
        let [gh, gw] = win.grid;
        let mut out = vec![0.0; out_channels * gh * gw];
        for o in 0..out_channels {
            for y in 0..gh {
                for xg in 0..gw {
                    let mut sum = 0.0;
                    for c in 0..win.channels {
                        for i in 0..kh {
                            for j in 0..kw {
                                let iy = (y * win.stride[0] + i) as isize - win.padding[0] as isize;
                                let ix =
                                    (xg * win.stride[1] + j) as isize - win.padding[1] as isize;
                                if iy >= 0 && ix >= 0 && (iy as usize) < h && (ix as usize) < w {
                                    sum += x[(c * h + iy as usize) * w + ix as usize]
                                        * weight[((o * win.channels + c) * kh + i) * kw + j];
                                }
                            }
                        }
                    }
                    out[(o * gh + y) * gw + xg] = sum;
                }
            }
        }
        out
    }

    fn values(len: usize, seed: u32) -> Vec<f32> {
        (0..len)
            .map(|i| (((i as u32).wrapping_mul(2_654_435_761) ^ seed) % 1000) as f32 / 500.0 - 1.0)
            .collect()
    }

    #[test]
    fn conv2d_matches_the_definition_for_odd_shapes() {
        for (stride, padding, kernel) in [(1, 0, 3), (2, 1, 4), (2, 2, 3), (1, 2, 2), (3, 1, 5)] {
            let win = Windows::conv(
                3,
                [7, 9],
                [kernel, kernel - 1],
                [stride, stride + 1],
                [padding, padding],
            )
            .expect("windows fit");
            let x = values(2 * win.image_len(), 3);
            let weight = values(5 * win.rows(), 7);
            let out = conv2d(&win, 2, &x, &weight, 5, None);
            for item in 0..2 {
                let expected = direct(
                    &win,
                    &x[item * win.image_len()..][..win.image_len()],
                    &weight,
                    5,
                );
                let got = &out[item * expected.len()..][..expected.len()];
                for (a, b) in got.iter().zip(&expected) {
                    assert!((a - b).abs() < 1e-4, "{win:?}: {a} vs {b}");
                }
            }
        }
    }

    /// The AVX-512 path ([`conv2d_direct`], taken for long windows and whole vectors of 16
    /// output channels) on tiles cut short at the end of the batch, channel blocks of one,
    /// three and four + one vectors, and window rows that are no multiple of 16 values.
    #[test]
    fn long_windows_match_the_definition() {
        for (out_channels, stride, padding, kernel) in
            [(16, 1, 0, 3), (48, 2, 1, 4), (80, 2, 2, 3), (64, 3, 1, 5)]
        {
            let win = Windows::conv(
                24,
                [9, 8],
                [kernel, kernel - 1],
                [stride, stride],
                [padding, padding],
            )
            .expect("windows fit");
            assert!(long_windows(win.rows()));
            let items = 5;
            let x = values(items * win.image_len(), 3);
            let weight = values(out_channels * win.rows(), 7);
            let bias = values(out_channels, 11);
            let out = conv2d(&win, items, &x, &weight, out_channels, Some(&bias));
            for item in 0..items {
                let expected = direct(
                    &win,
                    &x[item * win.image_len()..][..win.image_len()],
                    &weight,
                    out_channels,
                );
                let got = &out[item * expected.len()..][..expected.len()];
                for (i, (a, b)) in got.iter().zip(&expected).enumerate() {
                    let b = b + bias[i / win.positions()];
                    assert!((a - b).abs() < 1e-4, "{win:?} {out_channels}: {a} vs {b}");
                }
            }
        }
    }

    #[test]
    fn weight_gradients_repeat_bit_for_bit() {
        // conv-ae's first, second (the micro-kernels' path on AVX-512) and last layers at
        // batch 128: dozens of chunks over the pool, whose weight and bias gradients must be
        // summed in the same order on every call.
        let conv = Windows::conv(1, [28, 28], [4, 4], [2, 2], [1, 1]).expect("windows");
        let conv2 = Windows::conv(32, [14, 14], [4, 4], [2, 2], [1, 1]).expect("windows");
        let deconv =
            Windows::conv_transpose(1, [14, 14], [4, 4], [2, 2], [1, 1], [0, 0]).expect("windows");
        let wanted = Wanted {
            x: true,
            weight: true,
            bias: true,
        };
        let items = 128;
        let image = values(items * 784, 1);
        let maps = values(items * 32 * 196, 2);
        let weight = values(32 * 16, 3);
        let weight2 = values(64 * 512, 6);
        let grads = [
            values(items * 32 * 196, 4),
            values(items * 784, 5),
            values(items * 64 * 49, 7),
        ];
        type Bits = Option<Vec<u32>>;
        let run = |which: usize| -> (Bits, Bits, Bits) {
            let out = match which {
                0 => conv2d_backward(&conv, items, &image, &weight, 32, &grads[0], wanted),
                2 => conv2d_backward(&conv2, items, &maps, &weight2, 64, &grads[2], wanted),
                _ => {
                    conv_transpose2d_backward(&deconv, items, &maps, &weight, 32, &grads[1], wanted)
                }
            };
            let bits = |v: Option<Vec<f32>>| v.map(|v| v.iter().map(|x| x.to_bits()).collect());
            (bits(out.weight), bits(out.x), bits(out.bias))
        };
        for which in 0..3 {
            let first = run(which);
            for _ in 0..20 {
                assert!(
                    run(which) == first,
                    "layer {which}: gradients changed between calls"
                );
            }
        }
    }

    #[test]
    fn row2im_is_the_adjoint_of_im2row() {
        // <im2row(x), c> = <x, row2im(c)> for every padded image x and rows c.
        let win = Windows::conv(2, [6, 5], [3, 2], [2, 1], [1, 2]).expect("windows fit");
        let len = padded_len(&win);
        let total = (win.positions() + 3) * win.rows();
        let x = values(len, 1);
        let c = values(total, 2);
        let mut rows = vec![7.0; total];
        im2row(&win, &x, &mut rows, 2);
        let first = 2 * win.rows();
        let used = win.positions() * win.rows();
        let left: f64 = (first..first + used)
            .map(|i| f64::from(rows[i]) * f64::from(c[i]))
            .sum();
        let mut image = vec![0.0; len];
        row2im(&win, &c, 2, &mut image);
        let right: f64 = x
            .iter()
            .zip(&image)
            .map(|(a, b)| f64::from(*a) * f64::from(*b))
            .sum();
        assert!((left - right).abs() < 1e-3, "{left} vs {right}");
    }

    #[test]
    fn weight_layouts_are_inverse_permutations() {
        let w = values(5 * 3 * 6, 4);
        let t = taps_major(&w, 5, 3, 6);
        assert_ne!(t, w);
        assert_eq!(channels_major(&t, 5, 3, 6), w);
        // Item (o, c, tap) moves to (o, tap, c).
        assert_eq!(t[(2 * 6 + 4) * 3 + 1], w[(2 * 3 + 1) * 6 + 4]);
    }

    #[test]
    fn padding_channels_last_round_trips() {
        let win = Windows::conv(3, [4, 5], [3, 3], [1, 1], [2, 1]).expect("windows fit");
        let image = values(win.image_len(), 9);
        let mut padded = vec![0.0; padded_len(&win)];
        pad_channels_last(&win, &image, &mut padded);
        // (channel 2, y 1, x 3) lands at padded row 1 + 2, column 3 + 1.
        let (_, wp) = padded_size(&win);
        assert_eq!(
            padded[((1 + 2) * wp + 3 + 1) * 3 + 2],
            image[(2 * 4 + 1) * 5 + 3]
        );
        assert_eq!(
            padded.iter().filter(|v| **v != 0.0).count(),
            image.iter().filter(|v| **v != 0.0).count()
        );
        let mut back = vec![0.0; win.image_len()];
        unpad_channels_last(&win, &padded, &mut back);
        assert_eq!(back, image);
    }

    #[test]
    fn windows_reject_a_kernel_larger_than_the_padded_image() {
        assert!(Windows::conv(1, [2, 2], [5, 5], [1, 1], [1, 1]).is_none());
        assert!(Windows::conv(1, [2, 2], [3, 3], [0, 1], [1, 1]).is_none());
        let t = Windows::conv_transpose(1, [7, 7], [4, 4], [2, 2], [1, 1], [1, 0]).expect("fits");
        assert_eq!(t.image, [15, 14]);
    }
}
