//! This process's CPU time and memory, read from Linux's `/proc`.

/// Clock ticks per second of `/proc/*/stat` times (`USER_HZ`, 100 on Linux).
const USER_HZ: f64 = 100.0;

/// CPU seconds (user + system) this process has used, all threads.
pub fn cpu_seconds() -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat")?;
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .ok_or_else(|| anyhow::anyhow!("unreadable /proc/self/stat"))?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line; here 11 and 12 (0-based, after pid
    // and comm).
    let tick = |i: usize| -> anyhow::Result<f64> {
        Ok(fields
            .get(i)
            .ok_or_else(|| anyhow::anyhow!("short /proc/self/stat"))?
            .parse::<f64>()?)
    };
    Ok((tick(11)? + tick(12)?) / USER_HZ)
}

/// A `kB` line of `/proc/self/status`, in bytes.
fn status_kb(key: &str) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let line = status
        .lines()
        .find(|l| l.starts_with(key))
        .ok_or_else(|| anyhow::anyhow!("no {key} in /proc/self/status"))?;
    let kb: u64 = line
        .split_whitespace()
        .nth(1)
        .ok_or_else(|| anyhow::anyhow!("unreadable {key}"))?
        .parse()?;
    Ok(kb * 1024)
}

/// Resident memory now, in bytes.
pub fn rss() -> anyhow::Result<u64> {
    status_kb("VmRSS:")
}

/// The most resident memory this process has had, in bytes.
pub fn peak_rss() -> anyhow::Result<u64> {
    status_kb("VmHWM:")
}

/// Restarts the peak (`VmHWM`) from the current resident size, where the kernel allows.
/// Returns whether it did.
pub fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

pub const MIB: f64 = 1024.0 * 1024.0;
