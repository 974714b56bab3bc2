//! Helpers shared by the benchmark binaries (see `bench/run.sh`).
