//! Reconcile tests (SPEC §5).
