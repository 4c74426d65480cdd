//! Progress of long computations (UMAP, k-means, nearest neighbours), told to a callback: the
//! library prints nothing, the caller decides how to show it.

/// A named stage of long work, and the unit it is counted in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stage {
    /// What is being done, e.g. `UMAP layout`.
    pub name: &'static str,
    /// What `done` and `total` count, e.g. `epochs`.
    pub unit: &'static str,
}

impl Stage {
    /// The exact nearest-neighbour search, counted in rows.
    pub const NEIGHBOURS: Stage = Stage {
        name: "nearest neighbours",
        unit: "rows",
    };
    /// UMAP's layout optimization, counted in epochs.
    pub const UMAP_LAYOUT: Stage = Stage {
        name: "UMAP layout",
        unit: "epochs",
    };
    /// k-means, counted in restarts.
    pub const KMEANS: Stage = Stage {
        name: "k-means",
        unit: "restarts",
    };
}

/// Told `(stage, done, total)` as work goes on, e.g. `(Stage::UMAP_LAYOUT, 120, 500)`; `done`
/// reaches `total` at the end of each stage. It may be called from several threads at once
/// and should return quickly.
pub type OnProgress<'a> = &'a (dyn Fn(Stage, usize, usize) + Sync);

/// A callback that ignores every report.
pub fn ignore(_stage: Stage, _done: usize, _total: usize) {}
