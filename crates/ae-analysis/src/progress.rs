//! Progress of long computations (UMAP, k-means, nearest neighbours), told to a callback: the
//! library prints nothing, the caller decides how to show it.

/// Told `(stage, done, total)` as work goes on, e.g. `("UMAP layout", 120, 500)`; `done`
/// reaches `total` at the end of each stage. It may be called from several threads at once
/// and should return quickly.
pub type OnProgress<'a> = &'a (dyn Fn(&'static str, usize, usize) + Sync);

/// A callback that ignores every report.
pub fn ignore(_stage: &'static str, _done: usize, _total: usize) {}
