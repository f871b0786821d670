//! The boxes' resident memory over a run, read from `/proc/PID/status`: a box that
//! plays for hours must not grow.

use std::time::{Duration, Instant};

use serde::Serialize;

/// How often the boxes are sampled: cheap, and fine enough to see a trend.
const EVERY: Duration = Duration::from_secs(5);
/// The baseline is taken this long after play, once the song is open and buffers exist.
const SETTLED: Duration = Duration::from_secs(10);

/// One box's resident set (VmRSS), KiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Rss {
    /// 10 s after play was pressed.
    pub settled_kib: u64,
    /// At the first sample from half the run on: with the end, whether it still grows
    /// or grew once early.
    pub half_kib: u64,
    /// At the last sample before the run ended.
    pub end_kib: u64,
    /// The largest sample from the settled one on.
    pub max_kib: u64,
}

/// Samples every box now and then while the run plays.
#[derive(Debug)]
pub struct MemoryWatch {
    played: Instant,
    half: Instant,
    /// A sample at or past `half` was taken.
    half_taken: bool,
    last: Option<Instant>,
    boxes: Vec<Option<Rss>>,
}

impl MemoryWatch {
    /// A watch over `boxes` that play from `played` for `run`.
    pub fn new(boxes: usize, played: Instant, run: Duration) -> Self {
        MemoryWatch {
            played,
            half: played + run / 2,
            half_taken: false,
            last: None,
            boxes: vec![None; boxes],
        }
    }

    /// Samples `pids` (box order; `None`: the box is gone) when a sample is due.
    pub fn poll(&mut self, pids: &[Option<u32>]) {
        let now = Instant::now();
        if now.duration_since(self.played) < SETTLED
            || self.last.is_some_and(|l| now.duration_since(l) < EVERY)
        {
            return;
        }
        self.last = Some(now);
        let to_half = !self.half_taken;
        self.half_taken |= now >= self.half;
        for (slot, pid) in self.boxes.iter_mut().zip(pids) {
            if let Some(kib) = pid.and_then(vm_rss_kib) {
                *slot = Some(sampled(*slot, kib, to_half));
            }
        }
    }

    pub fn finish(self) -> Vec<Option<Rss>> {
        self.boxes
    }
}

/// `rss` after a sample of `kib`; `to_half`: until half the run and at the first sample
/// past it, samples set the half-way value too.
fn sampled(rss: Option<Rss>, kib: u64, to_half: bool) -> Rss {
    match rss {
        None => Rss {
            settled_kib: kib,
            half_kib: kib,
            end_kib: kib,
            max_kib: kib,
        },
        Some(r) => Rss {
            half_kib: if to_half { kib } else { r.half_kib },
            end_kib: kib,
            max_kib: r.max_kib.max(kib),
            ..r
        },
    }
}

fn vm_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    parse_vm_rss(&status)
}

fn parse_vm_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_resident_set_of_a_status_file() {
        let status = "Name:\tchorus\nVmPeak:\t  900 kB\nVmRSS:\t   11264 kB\nThreads:\t9\n";
        assert_eq!(parse_vm_rss(status), Some(11_264));
        assert_eq!(parse_vm_rss("Name:\tx\n"), None);
    }

    #[test]
    fn the_half_way_value_is_the_first_sample_from_half_the_run_on() {
        let mut rss = None;
        for (kib, to_half) in [
            (100, true),
            (120, true),
            (130, true),
            (150, false),
            (140, false),
        ] {
            rss = Some(sampled(rss, kib, to_half));
        }
        let expected = Rss {
            settled_kib: 100,
            half_kib: 130,
            end_kib: 140,
            max_kib: 150,
        };
        assert_eq!(rss, Some(expected));
    }

    #[test]
    fn this_process_has_a_resident_set() {
        let kib = vm_rss_kib(std::process::id()).unwrap();
        assert!(kib > 100, "{kib} KiB");
    }
}
