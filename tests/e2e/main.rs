//! End-to-end tests: the real `enlist` binary (and the library entry point with a virtual clock)
//! against a stateful fake GitHub that is checked against GitHub's OpenAPI description.
//!
//! Every test asserts on observable effects: the requests the fake received (method, path,
//! body), the repository state it holds, files on disk, exit codes. Run with
//! `cargo test --workspace` (which also builds the binary these tests drive).

mod app;
mod boot;
mod crash;
mod faults;
mod hardening;
mod matrix;
mod nixos_module;
mod preview;
mod scenarios;

use enlist_e2e::fake::FakeGitHub;

/// The seven requests of a fresh registration, in order (SPEC §4 budget: ≤ 7, ≤ 3 writes).
pub const FRESH: [&str; 7] = [
    "GET /repos/acme/fleet",
    "GET /repos/acme/fleet/git/ref/heads/main",
    "GET /repos/acme/fleet/contents/cluster-nodes/{id}/node.yaml",
    "GET /repos/acme/fleet/pulls",
    "POST /repos/acme/fleet/git/refs",
    "PUT /repos/acme/fleet/contents/cluster-nodes/{id}/node.yaml",
    "POST /repos/acme/fleet/pulls",
];

/// [`FRESH`] for node `id`.
pub fn fresh(id: &str) -> Vec<String> {
    FRESH.iter().map(|l| l.replace("{id}", id)).collect()
}

/// Starts a fake and checks the contract when dropped... explicitly, at the end of each test.
pub async fn fake() -> FakeGitHub {
    FakeGitHub::start().await
}
