//! How much memory the process may still use, so that a size that cannot fit (a model of a
//! billion parameters, a picture a million pixels wide) is refused with its numbers instead of
//! aborting the process when the allocation fails.

use std::path::Path;

/// The limit used where the machine's memory cannot be read (not Linux): 1 TiB.
pub const FALLBACK_LIMIT: u64 = 1 << 40;

/// A size that does not fit in memory.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} needs {} of memory, but {} is available", format_bytes(*.needed), format_bytes(u128::from(*.available)))]
pub struct MemoryError {
    /// What would be allocated.
    pub what: String,
    /// Bytes it needs.
    pub needed: u128,
    /// Bytes available.
    pub available: u64,
}

/// `1.5 GiB`, `300 MiB`, `12 KiB` or `80 B`.
pub fn format_bytes(bytes: u128) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else if value >= 100.0 {
        format!("{value:.0} {}", UNITS[unit])
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// A field of `/proc/meminfo` in bytes.
fn meminfo(text: &str, field: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with(field))?;
    let kib: u64 = line[field.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    kib.checked_mul(1024)
}

/// The memory limit of the process's cgroup (v2 `memory.max` or v1 `limit_in_bytes`), less
/// what the cgroup uses, when there is one.
fn cgroup_room() -> Option<u64> {
    let read = |path: &str| -> Option<u64> {
        std::fs::read_to_string(Path::new(path))
            .ok()?
            .trim()
            .parse()
            .ok()
    };
    let (limit, used) = match read("/sys/fs/cgroup/memory.max") {
        Some(limit) => (limit, read("/sys/fs/cgroup/memory.current").unwrap_or(0)),
        None => (
            read("/sys/fs/cgroup/memory/memory.limit_in_bytes")?,
            read("/sys/fs/cgroup/memory/memory.usage_in_bytes").unwrap_or(0),
        ),
    };
    Some(limit.saturating_sub(used))
}

/// Bytes of memory the process may still use: the system's available memory, or less where a
/// cgroup limits the process; `None` where it cannot be read.
pub fn available() -> Option<u64> {
    let system = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| meminfo(&text, "MemAvailable:"));
    match (system, cgroup_room()) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Fails when `bytes` (what `what` would allocate) exceed the memory available (or
/// [`FALLBACK_LIMIT`] where that is unknown).
pub fn check(what: impl Into<String>, bytes: u128) -> Result<(), MemoryError> {
    let limit = available().unwrap_or(FALLBACK_LIMIT);
    if bytes > u128::from(limit) {
        return Err(MemoryError {
            what: what.into(),
            needed: bytes,
            available: limit,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_and_print() {
        assert_eq!(format_bytes(80), "80 B");
        assert_eq!(format_bytes(1536), "1.5 KiB");
        assert_eq!(format_bytes(3 << 30), "3.0 GiB");
        assert_eq!(format_bytes(300 << 40), "300 TiB");
        let text = "MemTotal:       24000000 kB\nMemAvailable:   20000000 kB\n";
        assert_eq!(meminfo(text, "MemAvailable:"), Some(20_000_000 * 1024));
        assert_eq!(meminfo(text, "Nothing:"), None);
    }

    #[test]
    fn what_cannot_fit_is_refused_with_its_numbers() {
        check("a small buffer", 1024).unwrap();
        let e = check("a model of 10^15 parameters", 4 * 10u128.pow(15)).unwrap_err();
        let text = e.to_string();
        assert!(
            text.starts_with("a model of 10^15 parameters needs 3.6 PiB of memory, but")
                && text.ends_with("is available"),
            "{text}"
        );
        if let Some(room) = available() {
            assert!(room > 0);
        }
    }
}
