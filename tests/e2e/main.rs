//! End-to-end tests: the real `enlist` binary (and the library entry point with a virtual clock)
//! against a stateful fake GitHub that is checked against GitHub's OpenAPI description.
//!
//! Every test asserts on observable effects: the requests the fake received (method, path,
//! body), the repository state it holds, files on disk, exit codes. Run with
//! `cargo test --workspace` (which also builds the binary these tests drive).
//!
//! Checks of the repository around the `enlist` crate live here too, never in the crate (whose
//! tests read only its own directory): the example GitOps repository (`example_repo`,
//! `export_nix`, `browser`, `cli`), the README and `nix/` (`repository`, `nixos_module`).

mod app;
mod auto_merge;
mod boot;
mod browser;
mod cli;
mod crash;
mod docs;
mod example_repo;
mod export_nix;
mod faults;
mod gate;
mod hardening;
mod hostkeys;
mod matrix;
mod nixos_module;
mod node_review;
mod preview;
mod repository;
mod scenarios;
mod standing;
mod support;
mod timer;

use enlist_e2e::fake::FakeGitHub;

/// The requests of a fresh registration with `auto_merge: off`, in order (SPEC §4 budget: ≤ 7,
/// ≤ 3 writes).
pub const FRESH: [&str; 7] = [
    "GET /repos/acme/fleet",
    "GET /repos/acme/fleet/git/ref/heads/main",
    "GET /repos/acme/fleet/contents/cluster-nodes/{id}/node.yaml",
    "GET /repos/acme/fleet/pulls",
    "POST /repos/acme/fleet/git/refs",
    "PUT /repos/acme/fleet/contents/cluster-nodes/{id}/node.yaml",
    "POST /repos/acme/fleet/pulls",
];

/// The one request auto-merge adds (the default `auto_merge: squash`; budget + 1 write).
pub const AUTO_MERGE: &str = "POST /graphql";

/// [`FRESH`] for node `id` (`auto_merge: off`).
pub fn fresh_without_auto_merge(id: &str) -> Vec<String> {
    FRESH.iter().map(|l| l.replace("{id}", id)).collect()
}

/// A fresh registration of node `id` with the default auto-merge: [`FRESH`], then the mutation
/// (≤ 8 requests, ≤ 4 writes).
pub fn fresh(id: &str) -> Vec<String> {
    let mut lines = fresh_without_auto_merge(id);
    lines.push(AUTO_MERGE.to_owned());
    lines
}

/// The reads of a pending boot whose PR #`n` is open: the PR, its head commit's check runs and,
/// as there are none, its combined status (≤ 3 reads, 0 writes).
pub fn pending(n: u64) -> Vec<String> {
    vec![
        format!("GET /repos/acme/fleet/pulls/{n}"),
        format!("GET /repos/acme/fleet/commits/{{sha}}/check-runs"),
        format!("GET /repos/acme/fleet/commits/{{sha}}/status"),
    ]
}

/// `lines` with every commit sha replaced by `{sha}` (for comparing with [`pending`]).
pub fn without_shas(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .map(|l| {
            l.split('/')
                .map(|part| {
                    if part.len() == 40 && part.bytes().all(|b| b.is_ascii_hexdigit()) {
                        "{sha}"
                    } else {
                        part
                    }
                })
                .collect::<Vec<_>>()
                .join("/")
        })
        .collect()
}

/// Starts a fake and checks the contract when dropped... explicitly, at the end of each test.
pub async fn fake() -> FakeGitHub {
    FakeGitHub::start().await
}
