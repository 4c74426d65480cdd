//! Convolution kernels on plain `f32` slices: im2col / col2im around a packed matrix product.
//!
//! A convolution and its transpose are the same pair of maps between an *image* (`channels ×
//! height × width`) and a *grid* of window positions: [`im2col`] gathers each window of the
//! image into a column, [`col2im`] sums the columns back onto the image. With `R = channels ·
//! kh · kw` rows and `P` grid positions per item:
//!
//! | operation | matrix product (per chunk of items) |
//! |---|---|
//! | conv2d forward | `Y[O, P] = W[O, R] · im2col(X)[R, P]` |
//! | conv2d input gradient | `col2im(Wᵀ[R, O] · dY[O, P])` |
//! | conv2d weight gradient | `dW[O, R] += dY[O, P] · im2col(X)ᵀ[P, R]` |
//! | conv_transpose2d forward | `col2im(Wᵀ[R, I] · X[I, P])` |
//! | conv_transpose2d input gradient | `dX[I, P] = W[I, R] · im2col(dY)[R, P]` |
//! | conv_transpose2d weight gradient | `dW[I, R] += X[I, P] · im2col(dY)ᵀ[P, R]` |
//!
//! Items are processed in chunks side by side (the columns of a chunk are `(item, position)`)
//! so that each matrix product is wide enough to run near the machine's peak; chunks run in
//! parallel on rayon's pool, each with a scratch buffer kept per thread between calls.

use std::cell::RefCell;

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

/// Writes the windows of one `image` as columns `offset..offset + positions` of `col`, a
/// row-major matrix with `ld` columns and [`Windows::rows`] rows; padding reads as zero.
pub fn im2col(win: &Windows, image: &[f32], col: &mut [f32], ld: usize, offset: usize) {
    let [h, w] = win.image;
    let [ph, pw] = win.padding;
    let (hp, wp) = padded_size(win);
    if ph == 0 && pw == 0 {
        return gather(win, image, col, ld, offset);
    }
    with_zeroed(win.channels * hp * wp, |padded| {
        for c in 0..win.channels {
            for y in 0..h {
                padded[(c * hp + y + ph) * wp + pw..][..w]
                    .copy_from_slice(&image[(c * h + y) * w..][..w]);
            }
        }
        gather(win, padded, col, ld, offset);
    });
}

/// [`im2col`] from an image that already carries its padding.
fn gather(win: &Windows, padded: &[f32], col: &mut [f32], ld: usize, offset: usize) {
    let (hp, wp) = padded_size(win);
    let [kh, kw] = win.kernel;
    let [gh, gw] = win.grid;
    let [sh, sw] = win.stride;
    for c in 0..win.channels {
        for i in 0..kh {
            for j in 0..kw {
                let row = (c * kh + i) * kw + j;
                let dst = &mut col[row * ld + offset..][..gh * gw];
                for (y, out) in dst.chunks_exact_mut(gw).enumerate() {
                    let src = &padded[(c * hp + y * sh + i) * wp + j..];
                    match sw {
                        1 => copy_strided::<1>(out, src),
                        2 => copy_strided::<2>(out, src),
                        _ => out
                            .iter_mut()
                            .zip(src.iter().step_by(sw))
                            .for_each(|(d, s)| *d = *s),
                    }
                }
            }
        }
    }
}

/// `out[x] = src[x · S]` (a constant stride, so no division in the loop).
#[inline(always)]
fn copy_strided<const S: usize>(out: &mut [f32], src: &[f32]) {
    let src = &src[..(out.len() - 1) * S + 1];
    for (x, d) in out.iter_mut().enumerate() {
        *d = src[x * S];
    }
}

/// `dst[x · S] += values[x]`.
#[inline(always)]
fn add_strided<const S: usize>(dst: &mut [f32], values: &[f32]) {
    let dst = &mut dst[..(values.len() - 1) * S + 1];
    for (x, v) in values.iter().enumerate() {
        dst[x * S] += v;
    }
}

/// Sums columns `offset..offset + positions` of `col` (as written by [`im2col`]) back onto
/// their windows and writes the result to `image`; values that fall on the padding are
/// dropped.
pub fn col2im(win: &Windows, col: &[f32], ld: usize, offset: usize, image: &mut [f32]) {
    let [h, w] = win.image;
    let [ph, pw] = win.padding;
    let (hp, wp) = padded_size(win);
    let [kh, kw] = win.kernel;
    let [gh, gw] = win.grid;
    let [sh, sw] = win.stride;
    with_zeroed(win.channels * hp * wp, |padded| {
        for c in 0..win.channels {
            for i in 0..kh {
                for j in 0..kw {
                    let row = (c * kh + i) * kw + j;
                    let src = &col[row * ld + offset..][..gh * gw];
                    for (y, values) in src.chunks_exact(gw).enumerate() {
                        let dst = &mut padded[(c * hp + y * sh + i) * wp + j..];
                        match sw {
                            1 => add_strided::<1>(dst, values),
                            2 => add_strided::<2>(dst, values),
                            _ => dst
                                .iter_mut()
                                .step_by(sw)
                                .zip(values)
                                .for_each(|(d, v)| *d += v),
                        }
                    }
                }
            }
        }
        for c in 0..win.channels {
            for y in 0..h {
                image[(c * h + y) * w..][..w]
                    .copy_from_slice(&padded[(c * hp + y + ph) * wp + pw..][..w]);
            }
        }
    });
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
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
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

/// Per-channel sums of `items` blocks of `channels × len` values.
fn channel_sums(values: &[f32], channels: usize, len: usize) -> Vec<f32> {
    let mut sums = vec![0.0f32; channels];
    for item in values.chunks(channels * len) {
        for (c, plane) in item.chunks(len).enumerate() {
            sums[c] += plane.iter().sum::<f32>();
        }
    }
    sums
}

/// Gradients of a convolution; `None` where not asked for.
#[derive(Debug, Default)]
pub struct ConvGrads {
    /// Gradient of the input, the input's shape.
    pub x: Option<Vec<f32>>,
    /// Gradient of the weight, the weight's shape.
    pub weight: Option<Vec<f32>>,
    /// Gradient of the bias, one value per output channel.
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

/// A convolution (groups 1, dilation 1) of `items` images by `weight` `[out, rows]`,
/// returning `[items, out, grid positions]`.
pub fn conv2d(
    win: &Windows,
    items: usize,
    x: &[f32],
    weight: &[f32],
    out_channels: usize,
    bias: Option<&[f32]>,
) -> Vec<f32> {
    let (rows, positions, image) = (win.rows(), win.positions(), win.image_len());
    assert_eq!(x.len(), items * image, "conv2d: input size");
    assert_eq!(weight.len(), out_channels * rows, "conv2d: weight size");
    let mut out = vec![0.0f32; items * out_channels * positions];
    if out.is_empty() {
        return out;
    }
    let (per_chunk, parallelism) = plan(items, positions);
    out.par_chunks_mut(per_chunk * out_channels * positions)
        .enumerate()
        .for_each(|(chunk, out)| {
            let n = out.len() / (out_channels * positions);
            let first = chunk * per_chunk;
            let ld = n * positions;
            with_scratch(rows * ld, out_channels * ld, |col, product| {
                for item in 0..n {
                    let src = &x[(first + item) * image..][..image];
                    im2col(win, src, col, ld, item * positions);
                }
                matmul(
                    [out_channels, ld, rows],
                    product,
                    View::rows(weight, rows),
                    View::rows(col, ld),
                    false,
                    parallelism,
                );
                deinterleave(product, n, out_channels, positions, bias, out);
            });
        });
    out
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
    let (rows, positions, image) = (win.rows(), win.positions(), win.image_len());
    assert_eq!(x.len(), items * image, "conv2d_backward: input size");
    assert_eq!(
        grad.len(),
        items * out_channels * positions,
        "conv2d_backward: gradient size"
    );
    let (per_chunk, parallelism) = plan(items, positions);
    let mut dx = if wanted.x {
        vec![0.0f32; items * image]
    } else {
        Vec::new()
    };
    let chunks = items.div_ceil(per_chunk);
    let slots: Vec<Option<&mut [f32]>> = if wanted.x {
        dx.chunks_mut(per_chunk * image).map(Some).collect()
    } else {
        (0..chunks).map(|_| None).collect()
    };
    let weight_len = if wanted.weight {
        out_channels * rows
    } else {
        0
    };
    let dw = slots
        .into_par_iter()
        .enumerate()
        .fold(
            || vec![0.0f32; weight_len],
            |mut dw, (chunk, dx)| {
                let first = chunk * per_chunk;
                let n = per_chunk.min(items - first);
                let ld = n * positions;
                with_scratch(rows * ld, out_channels * ld, |col, dy| {
                    let block =
                        &grad[first * out_channels * positions..][..n * out_channels * positions];
                    interleave(block, n, out_channels, positions, dy);
                    if wanted.weight {
                        for item in 0..n {
                            let src = &x[(first + item) * image..][..image];
                            im2col(win, src, col, ld, item * positions);
                        }
                        matmul(
                            [out_channels, rows, ld],
                            &mut dw,
                            View::rows(dy, ld),
                            View::transposed(col, ld),
                            true,
                            parallelism,
                        );
                    }
                    if let Some(dx) = dx {
                        matmul(
                            [rows, ld, out_channels],
                            col,
                            View::transposed(weight, rows),
                            View::rows(dy, ld),
                            false,
                            parallelism,
                        );
                        for item in 0..n {
                            col2im(
                                win,
                                col,
                                ld,
                                item * positions,
                                &mut dx[item * image..][..image],
                            );
                        }
                    }
                });
                dw
            },
        )
        .reduce(
            || vec![0.0f32; weight_len],
            |mut a, b| {
                a.iter_mut().zip(&b).for_each(|(a, b)| *a += b);
                a
            },
        );
    ConvGrads {
        x: wanted.x.then_some(dx),
        weight: wanted.weight.then_some(dw),
        bias: wanted
            .bias
            .then(|| channel_sums(grad, out_channels, positions)),
    }
}

/// A transposed convolution (groups 1, dilation 1) of `items` inputs `[in, grid positions]`
/// by `weight` `[in, rows]`, returning `[items, image]`.
pub fn conv_transpose2d(
    win: &Windows,
    items: usize,
    x: &[f32],
    weight: &[f32],
    in_channels: usize,
    bias: Option<&[f32]>,
) -> Vec<f32> {
    let (rows, positions, image) = (win.rows(), win.positions(), win.image_len());
    assert_eq!(
        x.len(),
        items * in_channels * positions,
        "conv_transpose2d: input size"
    );
    assert_eq!(
        weight.len(),
        in_channels * rows,
        "conv_transpose2d: weight size"
    );
    let mut out = vec![0.0f32; items * image];
    if out.is_empty() {
        return out;
    }
    let (per_chunk, parallelism) = plan(items, positions);
    out.par_chunks_mut(per_chunk * image)
        .enumerate()
        .for_each(|(chunk, out)| {
            let n = out.len() / image;
            let first = chunk * per_chunk;
            let ld = n * positions;
            with_scratch(rows * ld, in_channels * ld, |col, xs| {
                let block = &x[first * in_channels * positions..][..n * in_channels * positions];
                interleave(block, n, in_channels, positions, xs);
                matmul(
                    [rows, ld, in_channels],
                    col,
                    View::transposed(weight, rows),
                    View::rows(xs, ld),
                    false,
                    parallelism,
                );
                let plane = win.image[0] * win.image[1];
                for item in 0..n {
                    let dst = &mut out[item * image..][..image];
                    col2im(win, col, ld, item * positions, dst);
                    if let Some(bias) = bias {
                        for (c, values) in dst.chunks_mut(plane).enumerate() {
                            values.iter_mut().for_each(|v| *v += bias[c]);
                        }
                    }
                }
            });
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
    let (rows, positions, image) = (win.rows(), win.positions(), win.image_len());
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
    let (per_chunk, parallelism) = plan(items, positions);
    let mut dx = if wanted.x {
        vec![0.0f32; items * item_in]
    } else {
        Vec::new()
    };
    let chunks = items.div_ceil(per_chunk);
    let slots: Vec<Option<&mut [f32]>> = if wanted.x {
        dx.chunks_mut(per_chunk * item_in).map(Some).collect()
    } else {
        (0..chunks).map(|_| None).collect()
    };
    let weight_len = if wanted.weight { in_channels * rows } else { 0 };
    let dw = slots
        .into_par_iter()
        .enumerate()
        .fold(
            || vec![0.0f32; weight_len],
            |mut dw, (chunk, dx)| {
                let first = chunk * per_chunk;
                let n = per_chunk.min(items - first);
                let ld = n * positions;
                with_scratch(rows * ld, in_channels * ld, |col, xs| {
                    for item in 0..n {
                        let src = &grad[(first + item) * image..][..image];
                        im2col(win, src, col, ld, item * positions);
                    }
                    if wanted.weight {
                        let block = &x[first * item_in..][..n * item_in];
                        interleave(block, n, in_channels, positions, xs);
                        matmul(
                            [in_channels, rows, ld],
                            &mut dw,
                            View::rows(xs, ld),
                            View::transposed(col, ld),
                            true,
                            parallelism,
                        );
                    }
                    if let Some(dx) = dx {
                        matmul(
                            [in_channels, ld, rows],
                            xs,
                            View::rows(weight, rows),
                            View::rows(col, ld),
                            false,
                            parallelism,
                        );
                        deinterleave(xs, n, in_channels, positions, None, dx);
                    }
                });
                dw
            },
        )
        .reduce(
            || vec![0.0f32; weight_len],
            |mut a, b| {
                a.iter_mut().zip(&b).for_each(|(a, b)| *a += b);
                a
            },
        );
    let plane = win.image[0] * win.image[1];
    ConvGrads {
        x: wanted.x.then_some(dx),
        weight: wanted.weight.then_some(dw),
        bias: wanted.bias.then(|| channel_sums(grad, win.channels, plane)),
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
    fn col2im_is_the_adjoint_of_im2col() {
        // <im2col(x), c> = <x, col2im(c)> for every x and c.
        let win = Windows::conv(2, [6, 5], [3, 2], [2, 1], [1, 2]).expect("windows fit");
        let ld = win.positions() + 3;
        let x = values(win.image_len(), 1);
        let c = values(win.rows() * ld, 2);
        let mut col = vec![7.0; win.rows() * ld];
        im2col(&win, &x, &mut col, ld, 2);
        let left: f64 = (0..win.rows())
            .flat_map(|r| (0..win.positions()).map(move |p| r * ld + 2 + p))
            .map(|i| f64::from(col[i]) * f64::from(c[i]))
            .sum();
        let mut image = vec![0.0; win.image_len()];
        col2im(&win, &c, ld, 2, &mut image);
        let right: f64 = x
            .iter()
            .zip(&image)
            .map(|(a, b)| f64::from(*a) * f64::from(*b))
            .sum();
        assert!((left - right).abs() < 1e-3, "{left} vs {right}");
    }

    #[test]
    fn windows_reject_a_kernel_larger_than_the_padded_image() {
        assert!(Windows::conv(1, [2, 2], [5, 5], [1, 1], [1, 1]).is_none());
        assert!(Windows::conv(1, [2, 2], [3, 3], [0, 1], [1, 1]).is_none());
        let t = Windows::conv_transpose(1, [7, 7], [4, 4], [2, 2], [1, 1], [1, 0]).expect("fits");
        assert_eq!(t.image, [15, 14]);
    }
}
