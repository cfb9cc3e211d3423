//! Integration tests of the `enlist` binary and library that need no GitHub: facts on fixture
//! trees, CLI contract, reconcile. (Registration against a fake GitHub lives in `tests/`.)

mod facts;
mod reconcile;
