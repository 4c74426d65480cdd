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

use std::borrow::Cow;
use std::cell::RefCell;
use std::mem::MaybeUninit;

use gemm::Parallelism;
use rayon::prelude::*;

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
    let mut buffer = PADDED.with(|cell| std::mem::take(&mut *cell.borrow_mut()));
    buffer.clear();
    buffer.resize(len, 0.0);
    let result = f(&mut buffer);
    PADDED.with(|cell| *cell.borrow_mut() = buffer);
    result
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
    // Eight channels at a time: eight input rows read in step, each output pixel's eight
    // values written together (a small transpose per block, in registers).
    let hw = h * w;
    let mut c = 0;
    while c + 8 <= c_count {
        let planes: [&[f32]; 8] = std::array::from_fn(|i| &image[(c + i) * hw..][..hw]);
        for y in 0..h {
            let row = &mut padded[((y + ph) * wp + pw) * c_count..][..w * c_count];
            let srcs: [&[f32]; 8] = std::array::from_fn(|i| &planes[i][y * w..][..w]);
            for (x, pixel) in row.chunks_exact_mut(c_count).enumerate() {
                let dst = &mut pixel[c..c + 8];
                for i in 0..8 {
                    dst[i] = srcs[i][x];
                }
            }
        }
        c += 8;
    }
    for c in c..c_count {
        let plane = &image[c * hw..][..hw];
        for y in 0..h {
            let row = &mut padded[((y + ph) * wp + pw) * c_count + c..];
            for (x, v) in plane[y * w..][..w].iter().enumerate() {
                row[x * c_count] = *v;
            }
        }
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
    for c in 0..c_count {
        let plane = &mut image[c * h * w..][..h * w];
        for y in 0..h {
            let row = &padded[((y + ph) * wp + pw) * c_count + c..];
            for (x, v) in plane[y * w..][..w].iter_mut().enumerate() {
                *v = row[x * c_count];
            }
        }
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

thread_local! {
    /// Per-thread scratch reused between calls (taken out while in use, so a nested call
    /// on the same thread allocates its own instead of aliasing it).
    static SCRATCH: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` on two scratch slices of `a` and `b` values (contents unspecified).
fn with_scratch<T>(a: usize, b: usize, f: impl FnOnce(&mut [f32], &mut [f32]) -> T) -> T {
    let mut buffer = SCRATCH.with(|cell| std::mem::take(&mut *cell.borrow_mut()));
    if buffer.len() < a + b {
        buffer.resize(a + b, 0.0);
    }
    let (first, rest) = buffer.split_at_mut(a);
    let result = f(first, &mut rest[..b]);
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
        for (c, plane) in out.chunks_exact_mut(positions).enumerate() {
            let shift = bias.map_or(0.0, |b| b[c]);
            for (p, v) in plane.iter_mut().enumerate() {
                *v = block[p * channels + c] + shift;
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
        vec![0.0f32; items * x_len]
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
    let dw = partials
        .into_iter()
        .reduce(add_partials)
        .unwrap_or_else(|| vec![0.0f32; weight_len]);
    (dx, dw)
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
    let mut out = vec![0.0f32; items * out_channels * positions];
    if out.is_empty() {
        return out;
    }
    let taps = win.kernel[0] * win.kernel[1];
    let weight = taps_major(weight, out_channels, win.channels, taps);
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

/// Sums of per-thread partial weight gradients.
fn add_partials(mut a: Vec<f32>, b: Vec<f32>) -> Vec<f32> {
    a.iter_mut().zip(&b).for_each(|(a, b)| *a += b);
    a
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
    let (dx, dw) = backward_chunks(
        items,
        per_chunk,
        image,
        wanted.x,
        weight_len,
        |first, n, dx, dw| {
            let ld = n * positions;
            with_scratch(ld * r, out_channels * ld, |rows, dy| {
                interleave(
                    &grad[first * grad_len..][..n * grad_len],
                    n,
                    out_channels,
                    positions,
                    dy,
                );
                if wanted.weight {
                    rows_of_items(win, x, first, n, rows);
                    let dims = [out_channels, r, ld];
                    matmul(
                        dims,
                        dw,
                        View::rows(dy, ld),
                        View::rows(rows, r),
                        true,
                        parallelism,
                    );
                }
                if let Some(dx) = dx {
                    let dims = [ld, r, out_channels];
                    matmul(
                        dims,
                        rows,
                        View::transposed(dy, ld),
                        View::rows(&weight, r),
                        false,
                        parallelism,
                    );
                    items_of_rows(win, rows, dx);
                }
            });
        },
    );
    ConvGrads {
        x: wanted.x.then_some(dx),
        weight: wanted
            .weight
            .then(|| channels_major(&dw, out_channels, win.channels, taps)),
        bias: wanted
            .bias
            .then(|| channel_sums(grad, out_channels, positions)),
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
    let mut out = vec![0.0f32; items * image];
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
/// layer, [`STACK_ROWS`] at a time, with the values between layers in a scratch buffer kept
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

    #[test]
    fn weight_gradients_repeat_bit_for_bit() {
        // conv-ae's first and last layers at batch 128: dozens of chunks over the pool, whose
        // weight gradients must be summed in the same order on every call.
        let conv = Windows::conv(1, [28, 28], [4, 4], [2, 2], [1, 1]).expect("windows");
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
        let grads = [values(items * 32 * 196, 4), values(items * 784, 5)];
        let run = |which: usize| -> (Option<Vec<u32>>, Option<Vec<u32>>) {
            let out = match which {
                0 => conv2d_backward(&conv, items, &image, &weight, 32, &grads[0], wanted),
                _ => {
                    conv_transpose2d_backward(&deconv, items, &maps, &weight, 32, &grads[1], wanted)
                }
            };
            let bits = |v: Option<Vec<f32>>| v.map(|v| v.iter().map(|x| x.to_bits()).collect());
            (bits(out.weight), bits(out.x))
        };
        for which in 0..2 {
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
