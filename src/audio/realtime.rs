//! Real-time scheduling for the playback thread: SCHED_FIFO at a modest priority, so a
//! busy core cannot starve the DAC, or one log line saying why not and what grants it.

use std::sync::Once;

use thread_priority::{
    set_thread_priority_and_policy, thread_native_id, RealtimeThreadSchedulePolicy, ThreadPriority,
    ThreadPriorityValue, ThreadSchedulePolicy,
};

/// The playback thread's SCHED_FIFO priority: above every normal thread, below the
/// kernel's own real-time work and a sound server's (PipeWire asks for 88).
pub const PRIORITY: u8 = 10;

/// How the calling thread is scheduled after [`promote_current_thread`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheduling {
    /// SCHED_FIFO at this priority.
    Realtime(u8),
    /// The normal time-sharing scheduler.
    Normal,
}

/// Asks for SCHED_FIFO at [`PRIORITY`] for the calling thread. When the system says no
/// (an unprivileged process with RLIMIT_RTPRIO below the priority), the thread keeps
/// running normally and the first refusal of the process is logged once.
pub fn promote_current_thread() -> Scheduling {
    let result = ThreadPriorityValue::try_from(PRIORITY)
        .map_err(|e| e.to_string())
        .and_then(|value| {
            set_thread_priority_and_policy(
                thread_native_id(),
                ThreadPriority::Crossplatform(value),
                ThreadSchedulePolicy::Realtime(RealtimeThreadSchedulePolicy::Fifo),
            )
            .map_err(|e| e.to_string())
        });
    match result {
        Ok(()) => {
            tracing::debug!(priority = PRIORITY, "playback thread runs SCHED_FIFO");
            Scheduling::Realtime(PRIORITY)
        }
        Err(e) => {
            static REFUSED: Once = Once::new();
            REFUSED.call_once(|| {
                tracing::warn!(
                    error = %e,
                    "playback thread runs at normal priority: real-time scheduling was \
                     refused (allow it with LimitRTPRIO={PRIORITY} or more, as the systemd \
                     unit does, or `ulimit -r {PRIORITY}`)"
                );
            });
            Scheduling::Normal
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use thread_priority::{thread_schedule_policy, ThreadSchedulePolicy};

    /// Whatever the machine allows, the answer is the truth about the thread.
    #[test]
    fn the_answer_matches_the_threads_policy() {
        let checked = std::thread::spawn(|| {
            let said = promote_current_thread();
            let policy = thread_schedule_policy().ok();
            (said, policy)
        })
        .join();
        let Ok((said, policy)) = checked else {
            panic!("the probe thread died");
        };
        let fifo = ThreadSchedulePolicy::Realtime(RealtimeThreadSchedulePolicy::Fifo);
        match said {
            Scheduling::Realtime(p) => {
                assert_eq!(p, PRIORITY);
                assert_eq!(policy, Some(fifo));
            }
            Scheduling::Normal => assert_ne!(policy, Some(fifo)),
        }
    }
}
