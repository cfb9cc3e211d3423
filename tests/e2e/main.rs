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

use std::sync::Arc;
use std::time::Duration;

use enlist::clock::Clock;
use enlist::register::planner::Outcome;
use enlist::register::{RegisterError, Report};
use enlist_e2e::clock::VirtualClock;
use enlist_e2e::fake::{FakeGitHub, Fault, FaultKind};
use enlist_e2e::node::Node;
use serde_json::Value;

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

/// A fault on `times` requests whose path contains `path`.
pub fn fault(method: &str, path: &str, times: usize, kind: FaultKind) -> Fault {
    Fault {
        method: method.into(),
        path_contains: path.into(),
        times,
        kind,
    }
}

/// An answer with this status, body and extra headers (the request has no effect).
pub fn status(code: u16, body: Value, headers: &[(&str, &str)]) -> FaultKind {
    FaultKind::Status {
        status: code,
        body,
        headers: headers
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    }
}

/// The exit code a library run would end the process with.
pub fn exit_code(result: &Result<Report, RegisterError>) -> u8 {
    match result {
        Ok(_) => enlist::exit::OK,
        Err(e) => enlist::exit::of_register(e),
    }
}

/// The `ENLIST_EVENT` of each stderr line that carries one (` [event]` at its end).
pub fn events(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter_map(|l| l.rsplit_once(" [")?.1.strip_suffix(']'))
        .collect()
}

/// The timer's hourly runs for `hours` after a hold GitHub must clear: each is held, and none
/// makes a request.
pub async fn assert_held_without_requests(
    node: &Node,
    clock: &Arc<VirtualClock>,
    github: &FakeGitHub,
    hours: u32,
) {
    for _ in 0..hours {
        clock.sleep(Duration::from_secs(3600)).await;
        let before = github.state().requests.len();
        let result = node.run_lib(clock.clone()).await;
        assert!(
            matches!(&result, Ok(r) if r.outcome == Some(Outcome::HeldAfterFailure)),
            "{result:?}"
        );
        assert_eq!(github.state().requests.len(), before);
    }
}
