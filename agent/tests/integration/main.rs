//! Integration tests of the `enlist` binary and library that need no GitHub: facts on fixture
//! trees, the CLI contract, reconcile. (Registration against a fake GitHub lives in `tests/`.)

mod browser;
mod cli;
mod export_nix;
mod facts;
mod hostile;
mod hostkeys;
mod inventories;
mod reconcile;
mod support;
mod sync;
mod sync_fleet;
mod target;
