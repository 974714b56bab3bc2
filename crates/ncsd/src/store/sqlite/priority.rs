//! The writer thread's scheduling priority (`--writer-nice`).
//!
//! Every delivery waits for the one writer's commit. On a machine whose CPUs are busy, the
//! writer waiting in the run queue holds up every request in flight at once, while a request
//! thread waiting holds up only its own requests; so the writer alone gets a lower nice value.
//! Measured on 2 busy cores at 64 connections: nice -5 gave 7–19% more deliveries per second
//! than 0, and -10 (the default) another ~14% (docs/performance.md).

/// Give the calling thread this nice value (0 leaves it alone). Lowering it below the
/// process's needs CAP_SYS_NICE (or root); without that the thread keeps its priority, which is
/// logged, not an error.
pub fn set_current_thread_nice(nice: i32) {
    if nice == 0 {
        return;
    }
    #[cfg(target_os = "linux")]
    match rustix::process::setpriority_process(Some(rustix::thread::gettid()), nice) {
        Ok(()) => tracing::debug!(nice, "SQLite writer runs at this nice value"),
        Err(e) => tracing::info!(
            nice,
            error = %e,
            "could not give the SQLite writer this nice value (a negative one needs \
             CAP_SYS_NICE or root); it runs at normal priority"
        ),
    }
    #[cfg(not(target_os = "linux"))]
    tracing::info!(nice, "--writer-nice is applied on Linux only");
}
