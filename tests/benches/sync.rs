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

use enlist::document::NodeDocument;
use enlist::facts::{Cpu, Disk, Facts, Memory, Nic, System};
use enlist::identity::{Candidates, Identity};
use enlist::secret::DatabaseUrl;
use enlist::sync::{self, Options, snapshot::Checkout};

const NODES: u32 = 10_000;
const TARGET_FIRST: Duration = Duration::from_secs(5);
const TARGET_RESYNC: Duration = Duration::from_secs(2);
const RUNS: usize = 3;

/// A plausible machine: R640s and R650s, two disks, two NICs (as in the reconcile bench).
fn facts(n: u32) -> Facts {
    let r650 = n.is_multiple_of(3);
    Facts {
        hostname: format!("rack{:03}-n{:02}", n / 40, n % 40),
        identity: Identity::choose(&Candidates {
            product_uuid: Some(format!("4c4c4544-{:04x}-4810-8056-{:012x}", n % 0xffff, n)),
            ..Candidates::default()
        })
        .unwrap_or_else(|e| panic!("identity for {n}: {e}")),
        system: System {
            vendor: Some("Dell Inc.".into()),
            model: Some(
                if r650 {
                    "PowerEdge R650"
                } else {
                    "PowerEdge R640"
                }
                .into(),
            ),
            serial: Some(format!("ST{n:07}")),
            board_vendor: Some("Dell Inc.".into()),
            board_model: Some("0H28RR".into()),
        },
        cpu: Cpu {
            model: "Intel(R) Xeon(R) Gold 6230 CPU @ 2.10GHz".into(),
            arch: "x86_64".into(),
            sockets: 2,
            cores: if r650 { 64 } else { 40 },
            threads: if r650 { 128 } else { 80 },
        },
        memory: Memory {
            total_bytes: 377 * 1024 * 1024 * 1024,
        },
        disks: (0..2)
            .map(|d| Disk {
                model: Some("Dell Ent NVMe v2 AGN RI U.2 1.92TB".into()),
                serial: Some(format!("S4YN{n:08}{d}")),
                size_bytes: 1_920_383_410_176,
                rotational: false,
                transport: "nvme".into(),
            })
            .collect(),
        network: (0..2u32)
            .map(|i| Nic {
                name: format!("eno{}", i + 1),
                mac: mac(n, i),
                driver: Some("bnxt_en".into()),
            })
            .collect(),
        gpus: vec![],
    }
}

fn mac(n: u32, nic: u32) -> String {
    let b = n.to_be_bytes();
    format!("b0:26:{:02x}:{:02x}:{:02x}:{:02x}", nic, b[1], b[2], b[3])
}

/// `n` nodes under two operators and `n` inventory rows (~1 % unknown to the inventory, ~1 % of
/// rows never registered, every 10th matched by MAC only, some retired and spare).
fn generate(dir: &Path, n: u32) {
    let mut csv = String::from("serial,hostname,make,model,cores,memory_gb,status,mac,cost\n");
    for i in 0..n {
        let f = facts(i);
        let doc = NodeDocument::new(&f, f.identity.node_id(8), Some(format!("op{}", i % 2)));
        if i % 100 != 7 {
            let path = dir
                .join(format!("maintainers/op{}/cluster-nodes", i % 2))
                .join(doc.node_id.as_str());
            fs::create_dir_all(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            fs::write(path.join("node.yaml"), doc.to_yaml())
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        }
        if i % 100 != 42 {
            let serial = if i % 10 == 3 {
                String::new()
            } else {
                format!("st{i:07}")
            };
            let mac = if serial.is_empty() {
                mac(i, 0)
            } else {
                String::new()
            };
            let status = match i % 50 {
                5 => "retired",
                6 => "spare",
                _ => "active",
            };
            csv.push_str(&format!(
                "{serial},{},Dell,{},{},384,{status},{mac},7800\n",
                f.hostname,
                f.system.model.as_deref().unwrap_or_default(),
                f.cpu.cores
            ));
        }
    }
    for i in 0..n / 100 {
        csv.push_str(&format!(
            "NEVER{i:05},ghost{i},HPE,DL360,32,256,active,,5000\n"
        ));
    }
    fs::write(dir.join("inventory.csv"), csv).unwrap_or_else(|e| panic!("inventory: {e}"));
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
