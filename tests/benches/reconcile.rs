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

use enlist::document::NodeDocument;
use enlist::facts::{Cpu, Disk, Facts, Memory, Nic, System};
use enlist::identity::{Candidates, Identity};
use enlist::reconcile::{self, Format, Options, scan};

const TARGET_10K: Duration = Duration::from_secs(1);
const TARGET_RATIO: f64 = 2.2;
const RUNS: usize = 3;

/// A plausible machine: R640s and R650s, two disks, two NICs.
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

/// Writes `n` nodes (under two operators' trees) and an inventory: ~1 % of nodes unknown to the
/// inventory, ~1 % of rows never registered, every 10th row matched by MAC only, and a sprinkle
/// of retired/spare rows.
fn generate(dir: &Path, n: u32) -> Options {
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
            let model = f.system.model.as_deref().unwrap_or_default();
            let cores = f.cpu.cores;
            csv.push_str(&format!(
                "{serial},{},Dell,{model},{cores},384,{status},{mac},7800\n",
                f.hostname
            ));
        }
    }
    let inventory = dir.join("inventory.csv");
    fs::write(&inventory, csv).unwrap_or_else(|e| panic!("{}: {e}", inventory.display()));
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
