//! Shared helpers for kazasu benchmarks.
