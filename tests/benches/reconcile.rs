//! Reconcile and export at fleet scale (issues 5, 14, 16): 10,000 and 100,000 node.yaml files
//! with as many inventory rows, through the real binary (`enlist reconcile --format json`, `enlist
//! export --format jsonl`, `--format nix` and its `--check`, `--format age-recipients`):
//! discovery, parsing, factsHash verification, CSV, matching, output. Each node carries the host
//! keys NixOS makes (ed25519 and RSA 4096), as a registration does (issue 27).
//!
//! Targets: reconcile of 10,000 ≤ 1 s; of 100,000 within 12× the 10,000 time (no super-linear
//! step); reconcile and every export of 100,000 each under 256 MiB peak RSS (bounded memory: one
//! document at a time, a summary per node). Times are the best of [`RUNS`] whole-process runs
//! (the page cache is warm in CI too: the checkout was just written), RSS the highest seen. Exits
//! 1 when a target is missed.
//!
//!     cargo build --release -p enlist && cargo bench -p enlist-e2e --bench reconcile

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use enlist_e2e::measure::{self, Measured};
use enlist_e2e::{fleetgen, node::binary};

const TARGET_10K: Duration = Duration::from_secs(1);
const TARGET_RATIO: f64 = 12.0;
const TARGET_RSS_KIB: u64 = 256 * 1024;
const RUNS: usize = 3;

/// The synthetic fleet plus a demand file sized to it.
fn generate(dir: &Path, n: u32) -> (String, String, String) {
    let inventory = fleetgen::write_checkout(dir, n);
    let demand = dir.join("demand.yaml");
    let demand_text = format!(
        "headroom: 0.2\nworkloads:\n  - {{name: batch, cores: {}, memory_gb: {}, storage_gb: 1000}}\n",
        n * 50,
        n * 400
    );
    fs::write(&demand, demand_text).unwrap_or_else(|e| panic!("{}: {e}", demand.display()));
    let text = |p: &Path| {
        p.to_str()
            .unwrap_or_else(|| panic!("utf-8 path"))
            .to_owned()
    };
    (text(dir), text(&inventory), text(&demand))
}

fn main() {
    let bin = binary();
    if !bin.exists() {
        eprintln!(
            "{} not found: run `cargo build --release -p enlist` first",
            bin.display()
        );
        std::process::exit(2);
    }
    let mut results: Vec<(u32, Measured, Measured, Measured, Measured, Measured)> = Vec::new();
    for n in [10_000u32, 100_000] {
        let (dir, _guard) = measure::scratch_dir();
        let start = Instant::now();
        let (nodes, inventory, demand) = generate(&dir, n);
        println!(
            "reconcile bench: generated {n} nodes + inventory in {:.2?}",
            start.elapsed()
        );
        let reconcile = measure::best_of(RUNS, || {
            measure::run(
                &bin,
                &[
                    "reconcile",
                    "--nodes",
                    &nodes,
                    "--inventory",
                    &inventory,
                    "--demand",
                    &demand,
                    "--format",
                    "json",
                ],
                &[],
            )
        });
        let export = measure::best_of(RUNS, || {
            measure::run(
                &bin,
                &[
                    "export",
                    "--nodes",
                    &nodes,
                    "--inventory",
                    &inventory,
                    "--format",
                    "jsonl",
                ],
                &[],
            )
        });
        let nix_args = [
            "export",
            "--nodes",
            &nodes,
            "--inventory",
            &inventory,
            "--format",
            "nix",
        ];
        let nix = measure::best_of(RUNS, || measure::run(&bin, &nix_args, &[]));
        // The committed fleet file that `--check` compares with: written once, outside the tree.
        let fleet = dir.join("fleet.nix");
        let written = std::process::Command::new(&bin)
            .args(nix_args)
            .env("ENLIST_CONFIG", "/dev/null")
            .stdout(fs::File::create(&fleet).unwrap_or_else(|e| panic!("fleet.nix: {e}")))
            .status()
            .unwrap_or_else(|e| panic!("{}: {e}", bin.display()));
        assert!(written.success(), "export --format nix failed");
        let fleet_arg = fleet.to_str().unwrap_or_else(|| panic!("utf-8 path"));
        let mut check_args = nix_args.to_vec();
        check_args.extend(["--check", fleet_arg]);
        let check = measure::best_of(RUNS, || measure::run(&bin, &check_args, &[]));
        // Issue 27: every node's ed25519 host key made an age recipient (one point decompression
        // each).
        let age = measure::best_of(RUNS, || {
            measure::run(
                &bin,
                &["export", "--nodes", &nodes, "--format", "age-recipients"],
                &[],
            )
        });
        println!(
            "reconcile bench: {n:>7} nodes: reconcile {:.3?}, peak RSS {}; export jsonl {:.3?}, \
             peak RSS {}; export nix {:.3?}, peak RSS {}; nix --check {:.3?}, peak RSS {}; \
             export age-recipients {:.3?}, peak RSS {}",
            reconcile.time,
            reconcile.rss_mib(),
            export.time,
            export.rss_mib(),
            nix.time,
            nix.rss_mib(),
            check.time,
            check.rss_mib(),
            age.time,
            age.rss_mib()
        );
        results.push((n, reconcile, export, nix, check, age));
    }
    let (small, large) = (&results[0], &results[1]);
    let ratio = large.1.time.as_secs_f64() / small.1.time.as_secs_f64();
    let rss_ok = |m: &Measured| m.peak_rss_kib.is_none_or(|k| k < TARGET_RSS_KIB);
    let checks = [
        (
            format!("reconcile 10k {:.3?} ≤ {TARGET_10K:?}", small.1.time),
            small.1.time <= TARGET_10K,
        ),
        (
            format!("reconcile 100k/10k time ratio {ratio:.2} ≤ {TARGET_RATIO}"),
            ratio <= TARGET_RATIO,
        ),
        (
            format!("reconcile 100k peak RSS {} < 256 MiB", large.1.rss_mib()),
            rss_ok(&large.1),
        ),
        (
            format!("export 100k peak RSS {} < 256 MiB", large.2.rss_mib()),
            rss_ok(&large.2),
        ),
        (
            format!(
                "export --format nix 100k peak RSS {} < 256 MiB",
                large.3.rss_mib()
            ),
            rss_ok(&large.3),
        ),
        (
            format!(
                "export --format nix --check 100k peak RSS {} < 256 MiB",
                large.4.rss_mib()
            ),
            rss_ok(&large.4),
        ),
        (
            format!(
                "export --format age-recipients 100k peak RSS {} < 256 MiB",
                large.5.rss_mib()
            ),
            rss_ok(&large.5),
        ),
    ];
    let mut missed = false;
    for (what, ok) in &checks {
        println!("reconcile bench: {what}: {}", measure::verdict(*ok));
        missed |= !ok;
    }
    if missed {
        std::process::exit(1);
    }
}
