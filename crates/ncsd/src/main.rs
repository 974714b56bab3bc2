//! The `ncsd` binary: everything lives in the library; this only hands over the arguments.

/// mimalloc: session reads and ingest allocate many small, short-lived objects (JSON trees,
/// row strings); glibc's malloc spent a quarter of a session read consolidating and unlinking
/// chunks.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    ncsd::cli::main()
}
