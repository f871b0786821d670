//! What `/proc/<pid>/stat` says of a benchmark's child processes: scheduling fields and
//! the CPU time they used.

/// Field `n` of the process's stat line, numbered as proc(5) numbers them (1 is the pid).
fn field(pid: u32, n: usize) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name, field 2, is in parentheses and may hold spaces: count from after
    // it, where field 3 begins.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace()
        .nth(n.checked_sub(3)?)
        .map(str::to_owned)
}

/// The process's nice value.
pub(crate) fn nice(pid: u32) -> Option<i32> {
    field(pid, 19)?.parse().ok()
}

/// User plus system CPU time the process has used so far, in seconds (to the kernel's
/// clock tick, usually 10 ms).
pub(crate) fn cpu_seconds(pid: u32) -> Option<f64> {
    let ticks = field(pid, 14)?.parse::<u64>().ok()? + field(pid, 15)?.parse::<u64>().ok()?;
    Some(ticks as f64 / rustix::param::clock_ticks_per_second().max(1) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() {
        let me = std::process::id();
        let nice_now = rustix::process::getpriority_process(None).unwrap();
        assert_eq!(nice(me), Some(nice_now));
        // Spin until the process's CPU clock has run 0.3 s, whatever else runs.
        let cpu_clock = || {
            let t = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
            t.tv_sec as f64 + t.tv_nsec as f64 / 1e9
        };
        let (spent, clock) = (cpu_seconds(me).unwrap(), cpu_clock());
        let mut x = 0u64;
        while cpu_clock() - clock < 0.3 {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
        }
        let after = cpu_seconds(me).unwrap();
        assert!(after - spent >= 0.25, "{spent} then {after}");
        let parent = rustix::process::getppid().map(|p| p.as_raw_nonzero().to_string());
        assert_eq!(field(me, 4), parent);
        assert_eq!(field(me, 2), None, "the name is not a field we read");
    }
}
