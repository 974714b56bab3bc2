//! Thread scheduling priorities (`--writer-nice`, `--forward-nice`).
//!
//! Every delivery waits for the one SQLite writer's commit. On a machine whose CPUs are busy,
//! the writer waiting in the run queue holds up every request in flight at once, while a request
//! thread waiting holds up only its own requests; so the writer gets a lower nice value.
//! Measured on 2 busy cores at 64 connections: nice -5 gave 7–19% more deliveries per second
//! than 0, and -10 (the default) another ~14% (docs/performance.md).
//!
//! Forwarding goes the other way: nobody waits on it synchronously (it is durable and resumes
//! where it stopped), while NCS waits on every ingest answer and retries what is slow. So its
//! thread gets a higher nice value and yields the CPUs to ingest when both want them.

/// Give the calling thread this nice value (0 leaves it alone); `what` names the thread in the
/// log. Lowering it below the process's needs CAP_SYS_NICE (or root); without that the thread
/// keeps its priority, which is logged, not an error.
pub fn set_current_thread_nice(nice: i32, what: &str) {
    if nice == 0 {
        return;
    }
    #[cfg(target_os = "linux")]
    match rustix::process::setpriority_process(Some(rustix::thread::gettid()), nice) {
        Ok(()) => tracing::debug!(nice, thread = what, "thread runs at this nice value"),
        Err(e) => tracing::info!(
            nice,
            thread = what,
            error = %e,
            "could not give the thread this nice value (a negative one needs CAP_SYS_NICE or \
             root); it runs at normal priority"
        ),
    }
    #[cfg(not(target_os = "linux"))]
    tracing::info!(nice, thread = what, "nice values are applied on Linux only");
}
