//! What a run costs the machine: the process's peak resident memory.

/// Peak resident memory of this process so far, in MiB: Linux's `VmHWM` from
/// `/proc/self/status`. `None` where that file does not exist or cannot be read.
pub fn peak_resident_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status_mib(&status, "VmHWM:")
}

/// The value of the `key` line (such as `VmHWM:`) of a `/proc/<pid>/status` text, in MiB.
fn status_mib(status: &str, key: &str) -> Option<f64> {
    let line = status.lines().find(|l| l.starts_with(key))?;
    let mut fields = line[key.len()..].split_whitespace();
    let value: f64 = fields.next()?.parse().ok()?;
    match fields.next()? {
        "kB" => Some(value / 1024.0),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_high_water_mark_in_mib() {
        let status = "Name:\tae\nVmPeak:\t 4000000 kB\nVmHWM:\t  204800 kB\nVmRSS:\t 1024 kB\n";
        assert_eq!(status_mib(status, "VmHWM:"), Some(200.0));
        assert_eq!(status_mib(status, "VmRSS:"), Some(1.0));
        assert_eq!(status_mib("VmRSS:\t 1024 kB\n", "VmHWM:"), None);
        assert_eq!(status_mib("VmHWM:\t lots kB\n", "VmHWM:"), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_peak_is_at_least_what_is_resident_now() {
        // Touch 64 MiB so that the process holds a known amount (other tests of this binary
        // may already have raised the peak higher).
        let block = vec![1u8; 64 << 20];
        let status = std::fs::read_to_string("/proc/self/status").expect("Linux");
        let resident = status_mib(&status, "VmRSS:").expect("VmRSS");
        let peak = peak_resident_mib().expect("VmHWM");
        assert!(block.iter().step_by(4096).all(|&b| b == 1));
        assert!(resident >= 64.0, "{resident} MiB resident");
        assert!(peak >= resident, "peak {peak} MiB, resident {resident} MiB");
    }
}
