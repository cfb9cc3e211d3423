//! `enlist sync` at fleet scale (issue 7): 10,000 node.yaml files + 10,000 inventory rows into a
//! local PostgreSQL (a throwaway server, [`enlist_e2e::postgres`]), through the library entry point
//! the CLI calls.
//!
//! Targets: first sync into an empty database ≤ 5 s; resync of the unchanged tree ≤ 2 s. The
//! baseline measured in the same run is reading + reconciling the same checkout without a
//! database (what every sync does before it connects), so the ratio shows what the database
//! costs on top. Each figure is the best of [`RUNS`] (the first sync on a fresh database each
//! time). Run: `cargo bench -p enlist-e2e --bench sync` (`ENLIST_DB_TEST=1` makes a missing
//! PostgreSQL an error instead of a skip).

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use enlist::secret::DatabaseUrl;
use enlist::sync::{self, Options, snapshot::Checkout};
use enlist_e2e::fleetgen;

const NODES: u32 = 10_000;
const TARGET_FIRST: Duration = Duration::from_secs(5);
const TARGET_RESYNC: Duration = Duration::from_secs(2);
const RUNS: usize = 3;

/// The benchmarks' synthetic fleet, plus 1 % inventory rows that never registered.
fn generate(dir: &Path, n: u32) {
    let inventory = fleetgen::write_checkout(dir, n);
    let mut csv = fs::read_to_string(&inventory).unwrap_or_else(|e| panic!("inventory: {e}"));
    for i in 0..n / 100 {
        csv.push_str(&format!(
            "NEVER{i:05},ghost{i},HPE,DL360,32,256,active,,5000\n"
        ));
    }
    fs::write(&inventory, csv).unwrap_or_else(|e| panic!("inventory: {e}"));
}

fn main() {
    let Some(pg) = enlist_e2e::postgres::shared_or_skip("the sync benchmark") else {
        println!("sync bench: skipped (no PostgreSQL)");
        return;
    };
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
    let start = Instant::now();
    generate(dir.path(), NODES);
    println!(
        "sync bench: generated {NODES} nodes + inventory in {:.2?}",
        start.elapsed()
    );
    let nodes = dir.path().to_path_buf();
    let inventory = dir.path().join("inventory.csv");

    // Baseline: read + reconcile + rows, no database.
    let mut baseline = Duration::MAX;
    for _ in 0..RUNS {
        let start = Instant::now();
        let checkout =
            Checkout::read(&nodes, Some(&inventory), &[]).unwrap_or_else(|e| panic!("read: {e}"));
        let report = checkout.report();
        let rows = checkout.node_rows();
        let items = checkout.item_rows();
        baseline = baseline.min(start.elapsed());
        assert!(report.invalid.is_empty(), "generated data must be valid");
        assert!(!rows.is_empty() && !items.is_empty());
    }

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    let options = |database: &str| Options {
        nodes: nodes.clone(),
        inventory: inventory.clone(),
        database_url: DatabaseUrl::new(&pg.url(database)).unwrap_or_else(|| panic!("url")),
        operators: vec![],
        rebuild: false,
        lease: sync::lease::Timing::default(),
    };
    let mut first = Duration::MAX;
    let mut resync = Duration::MAX;
    let mut last = None;
    for run in 0..RUNS {
        let database = format!("bench_sync_{run}");
        pg.create_database(&database)
            .unwrap_or_else(|e| panic!("{e}"));
        let opts = options(&database);
        let start = Instant::now();
        let outcome = runtime
            .block_on(sync::sync(&opts))
            .unwrap_or_else(|e| panic!("first sync: {e}"));
        first = first.min(start.elapsed());
        assert_eq!(outcome.counts.node_rows, (NODES - NODES / 100) as usize);
        let start = Instant::now();
        let again = runtime
            .block_on(sync::sync(&opts))
            .unwrap_or_else(|e| panic!("resync: {e}"));
        resync = resync.min(start.elapsed());
        assert!(again.missing.is_empty());
        last = Some(again);
    }
    if let Some(outcome) = last {
        println!("sync bench: {}", sync::summary(&outcome));
        let phases: Vec<String> = outcome
            .phases
            .iter()
            .map(|(phase, took)| format!("{phase} {took:.3?}"))
            .collect();
        println!("sync bench: resync phases: {}", phases.join(", "));
    }
    let verdict = |time: Duration, target: Duration| {
        if time <= target { "met" } else { "MISSED" }
    };
    println!(
        "sync bench: read + reconcile (baseline, no database) {baseline:.3?}; first sync \
         {first:.3?} ({:.1}× baseline; target ≤ {TARGET_FIRST:?}: {}); resync unchanged \
         {resync:.3?} ({:.1}× baseline; target ≤ {TARGET_RESYNC:?}: {}); best of {RUNS}, \
         {} rows per statement",
        first.as_secs_f64() / baseline.as_secs_f64(),
        verdict(first, TARGET_FIRST),
        resync.as_secs_f64() / baseline.as_secs_f64(),
        verdict(resync, TARGET_RESYNC),
        sync::upsert::BATCH_ROWS,
    );
}
