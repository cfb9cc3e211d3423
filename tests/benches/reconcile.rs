//! Reconcile at fleet scale (issue 5): 10,000 node.yaml files + 10,000 inventory rows, then
//! 20,000 + 20,000, through the same entry point as `enlist reconcile --format json` (files on
//! disk: discovery, parsing, factsHash verification, CSV, matching, rendering).
//!
//! Targets: 10k ≤ 1 s on a 2-core machine, and 20k ≤ 2.2 × the 10k time (no quadratic step).
//! Each size is run 3 times after a warm-up and the best time counts (the page cache is warm in
//! CI too: the checkout was just written). Run: `cargo bench -p enlist-e2e --bench reconcile`.

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use enlist::reconcile::{self, Format, Options, scan};
use enlist_e2e::fleetgen;

const TARGET_10K: Duration = Duration::from_secs(1);
const TARGET_RATIO: f64 = 2.2;
const RUNS: usize = 3;

/// The synthetic fleet plus a demand file sized to it.
fn generate(dir: &Path, n: u32) -> Options {
    let inventory = fleetgen::write_checkout(dir, n);
    let demand = dir.join("demand.yaml");
    let demand_text = format!(
        "headroom: 0.2\nworkloads:\n  - {{name: batch, cores: {}, memory_gb: {}, storage_gb: 1000}}\n",
        n * 50,
        n * 400
    );
    fs::write(&demand, demand_text).unwrap_or_else(|e| panic!("{}: {e}", demand.display()));
    Options {
        nodes: dir.to_path_buf(),
        inventory,
        demand: Some(demand),
    }
}

/// Best of [`RUNS`] (after one warm-up) of reconcile + JSON rendering, as the CLI does it; and,
/// for the breakdown, the best time of discovery + parsing + verification alone.
fn measure(options: &Options) -> (Duration, Duration, usize) {
    let mut best = Duration::MAX;
    let mut best_scan = Duration::MAX;
    let mut bytes = 0;
    for run in 0..=RUNS {
        let start = Instant::now();
        let report = reconcile::reconcile(options).unwrap_or_else(|e| panic!("reconcile: {e}"));
        let json = reconcile::render(&report, Format::Json, false);
        let elapsed = start.elapsed();
        bytes = json.len();
        assert!(report.invalid.is_empty(), "generated data must be valid");
        let start = Instant::now();
        let nodes = scan::scan(&options.nodes).unwrap_or_else(|e| panic!("scan: {e}"));
        let scanned = start.elapsed();
        assert_eq!(nodes.len(), report.nodes);
        if run > 0 {
            best = best.min(elapsed);
            best_scan = best_scan.min(scanned);
        }
    }
    (best, best_scan, bytes)
}

fn main() {
    let mut times = Vec::new();
    for n in [10_000u32, 20_000] {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
        let start = Instant::now();
        let options = generate(dir.path(), n);
        println!(
            "reconcile bench: generated {n} nodes + inventory in {:.2?}",
            start.elapsed()
        );
        let (best, scan, bytes) = measure(&options);
        println!(
            "reconcile bench: {n:>6} nodes: {best:.3?} (best of {RUNS}; of which scan + parse + \
             verify {scan:.3?}; JSON {bytes} bytes)"
        );
        times.push(best);
    }
    let ratio = times[1].as_secs_f64() / times[0].as_secs_f64();
    println!(
        "reconcile bench: 10k {:.3?} (target ≤ {:?}: {}), 20k/10k ratio {ratio:.2} (target ≤ {TARGET_RATIO}: {})",
        times[0],
        TARGET_10K,
        if times[0] <= TARGET_10K {
            "met"
        } else {
            "MISSED"
        },
        if ratio <= TARGET_RATIO {
            "met"
        } else {
            "MISSED"
        },
    );
}
