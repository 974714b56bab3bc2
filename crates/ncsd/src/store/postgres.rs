//! PostgreSQL adapter (shared store for several instances). Filled in by the PostgreSQL issue.
