//! Integration tests of the `enlist` binary and library that need no GitHub: facts on fixture
//! trees, the CLI contract, reconcile. (Registration against a fake GitHub lives in `tests/`.)
//!
//! They read nothing outside the crate's directory (`agent/`), so the crate builds and tests from
//! its own sources alone (the Nix package, `cargo package`). Checks of the repository around it
//! (README.md, `examples/`, `nix/`) live in the end-to-end crate (`tests/e2e/`).

mod cli;
mod facts;
mod hostile;
mod hostkeys;
mod inventories;
mod machine;
mod reconcile;
mod support;
mod sync;
mod sync_fleet;
mod sync_outages;
mod target;
