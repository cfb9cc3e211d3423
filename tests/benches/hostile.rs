//! Hostile input, bounded for real (issue 25, SPEC §5): what one hostile file costs, what many
//! cost, and `register` against a hostile upstream node.yaml — through the real binary.
//!
//! Targets: any single file of at most 1 MiB settles in ≤ 100 ms and ≤ 32 MiB above the
//! process's baseline (the same run without the hostile file, measured here); a run over N
//! hostile files grows linearly in time (100 files within 1.5× of 4 × 25 files' extra time) and
//! not in memory (≤ 32 MiB above the baseline at every N); `register` refuses the 30 KB alias
//! file upstream with exit 65 in ≤ 1 s and ≤ 64 MiB. Every hostile file must end as an `invalid`
//! finding naming it (reconcile exit 1), a demand file as a usage error (exit 64). Times are the
//! best of [`RUNS`] whole-process runs, RSS the highest seen. Exits 1 when a target is missed.
//!
//!     cargo build --release -p enlist && cargo bench -p enlist-e2e --bench hostile

use std::fs;
use std::path::Path;
use std::time::Duration;

use enlist_e2e::fake::FakeGitHub;
use enlist_e2e::fleetgen;
use enlist_e2e::measure::{self, Measured};
use enlist_e2e::node::{Node, binary};

const RUNS: usize = 3;
/// The node id of the `dell-r640` fixture.
const DELL: &str = "node-faf6ca";
const TARGET_TIME: Duration = Duration::from_millis(100);
const TARGET_RSS_KIB: u64 = 32 * 1024;
const TARGET_REGISTER_TIME: Duration = Duration::from_secs(1);
const TARGET_REGISTER_RSS_KIB: u64 = 64 * 1024;
/// 100 files may cost at most this much more than 4 × the extra time of 25 (noise on a shared
/// 2-core machine; a quadratic step would be 4×).
const TARGET_LINEARITY: f64 = 1.5;

/// `a: &a [x ×n]`, `b: &b [*a ×50]`, `c: [*b ×49]`: 99 aliases, 2,500 × n nodes expanded.
fn amplification(n: usize) -> String {
    format!(
        "a: &a [{}]\nb: &b [{}]\nc: [{}]\n",
        vec!["x"; n].join(", "),
        vec!["*a"; 50].join(", "),
        vec!["*b"; 49].join(", ")
    )
}

/// 1 MiB of tiny flow nodes: `x: [a: b,a: b,…]`.
fn flow_pairs() -> String {
    let mut text = String::from("x: [a: b");
    while text.len() < 1024 * 1024 - 6 {
        text.push_str(",a: b");
    }
    text.push_str("]\n");
    text
}

/// 1 MiB of one-item block sequence entries: `- a` × 260,000.
fn block_items() -> String {
    "- a\n".repeat(1024 * 1024 / 4)
}

/// A checkout with one valid registration and its inventory row; returns the inventory path.
fn checkout(dir: &Path) -> String {
    let inventory = fleetgen::write_checkout(dir, 1);
    inventory.display().to_string()
}

fn reconcile(dir: &Path, inventory: &str, extra: &[&str]) -> Measured {
    let bin = binary();
    let nodes = dir.display().to_string();
    let mut args = vec![
        "reconcile",
        "--nodes",
        &nodes,
        "--inventory",
        inventory,
        "--format",
        "json",
    ];
    args.extend_from_slice(extra);
    let mut best: Option<Measured> = None;
    let mut rss = None;
    for _ in 0..RUNS {
        let m = measure::run(&bin, &args, &[]);
        rss = rss.max(m.peak_rss_kib);
        if best.as_ref().is_none_or(|b| m.time < b.time) {
            best = Some(m);
        }
    }
    let mut best = best.unwrap_or_else(|| unreachable!("RUNS ≥ 1"));
    best.peak_rss_kib = rss;
    best
}

/// (time above the baseline, RSS above the baseline in KiB).
fn above(m: &Measured, base: &Measured) -> (Duration, u64) {
    (
        m.time.saturating_sub(base.time),
        m.peak_rss_kib
            .unwrap_or(0)
            .saturating_sub(base.peak_rss_kib.unwrap_or(0)),
    )
}

fn write_node(dir: &Path, name: &str, text: &str) {
    let path = dir.join("cluster-nodes").join(name);
    fs::create_dir_all(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    fs::write(path.join("node.yaml"), text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let bin = binary();
    if !bin.exists() {
        eprintln!(
            "{} not found: run `cargo build --release -p enlist` first",
            bin.display()
        );
        std::process::exit(2);
    }
    let mut checks: Vec<(String, bool)> = Vec::new();

    // --- one hostile file, node.yaml and demand file ----------------------------------------
    let (dir, _guard) = measure::scratch_dir();
    let inventory = checkout(&dir);
    let base = reconcile(&dir, &inventory, &[]);
    assert_eq!(base.code, Some(0), "baseline: {}", base.stderr);
    println!(
        "hostile bench: baseline (1 valid node): {:.1?}, peak RSS {}",
        base.time,
        base.rss_mib()
    );
    let shapes = [
        ("alias amplification, 30 KB", amplification(10_000)),
        ("alias amplification, 90 KB", amplification(30_000)),
        ("alias amplification, 300 KB", amplification(100_000)),
        ("flow pairs, 1 MiB", flow_pairs()),
        ("block items, 1 MiB", block_items()),
    ];
    for (what, text) in &shapes {
        assert!(text.len() <= 1024 * 1024, "{what}: {} bytes", text.len());
        write_node(&dir, "node-hostile", text);
        let m = reconcile(&dir, &inventory, &[]);
        let report: serde_json::Value = serde_json::from_slice(&measure_stdout(&dir, &inventory))
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        let named = report["invalid"].as_array().is_some_and(|i| {
            i.len() == 1 && i[0]["file"] == "cluster-nodes/node-hostile/node.yaml"
        });
        let (time, rss) = above(&m, &base);
        println!(
            "hostile bench: node.yaml {what} ({} bytes): {:.1?} (+{time:.1?}), peak RSS {} \
             (+{} KiB), exit {:?}",
            text.len(),
            m.time,
            m.rss_mib(),
            rss,
            m.code
        );
        checks.push((
            format!("node.yaml {what}: an invalid finding naming the file"),
            m.code == Some(1) && named,
        ));
        checks.push((
            format!("node.yaml {what}: +{time:.1?} ≤ {TARGET_TIME:?}, +{rss} KiB ≤ 32 MiB"),
            time <= TARGET_TIME && rss <= TARGET_RSS_KIB,
        ));
    }
    fs::remove_dir_all(dir.join("cluster-nodes/node-hostile")).unwrap_or_else(|e| panic!("{e}"));
    for (what, text) in &shapes {
        let demand = dir.join("demand.yaml");
        fs::write(&demand, text).unwrap_or_else(|e| panic!("{e}"));
        let demand = demand.display().to_string();
        let m = reconcile(&dir, &inventory, &["--demand", &demand]);
        let (time, rss) = above(&m, &base);
        println!(
            "hostile bench: demand file {what}: {:.1?} (+{time:.1?}), peak RSS {} (+{rss} KiB), \
             exit {:?}",
            m.time,
            m.rss_mib(),
            m.code
        );
        checks.push((
            format!("demand file {what}: exit 64 naming it"),
            m.code == Some(64) && m.stderr.contains("demand.yaml"),
        ));
        checks.push((
            format!("demand file {what}: +{time:.1?} ≤ {TARGET_TIME:?}, +{rss} KiB ≤ 32 MiB"),
            time <= TARGET_TIME && rss <= TARGET_RSS_KIB,
        ));
    }

    // --- many hostile files: linear in time, flat in memory -----------------------------------
    let mut fleet: Vec<(usize, Duration, u64)> = Vec::new();
    for n in [20usize, 25, 50, 100] {
        let (dir, _guard) = measure::scratch_dir();
        let inventory = checkout(&dir);
        for i in 0..n {
            let text = match i % 3 {
                0 => &shapes[0].1,
                1 => &shapes[3].1,
                _ => &shapes[4].1,
            };
            write_node(&dir, &format!("node-hostile-{i:03}"), text);
        }
        let m = reconcile(&dir, &inventory, &[]);
        let report: serde_json::Value = serde_json::from_slice(&measure_stdout(&dir, &inventory))
            .unwrap_or_else(|e| panic!("{n} files: {e}"));
        let findings = report["invalid"].as_array().map_or(0, Vec::len);
        let (time, rss) = above(&m, &base);
        println!(
            "hostile bench: {n:>3} hostile files: {:.1?} (+{time:.1?}, {:.1?} a file), peak RSS \
             {} (+{rss} KiB), {findings} invalid findings",
            m.time,
            time / n as u32,
            m.rss_mib()
        );
        checks.push((
            format!("{n} hostile files: {n} invalid findings, exit 1"),
            findings == n && m.code == Some(1),
        ));
        checks.push((
            format!("{n} hostile files: +{rss} KiB ≤ 32 MiB (flat)"),
            rss <= TARGET_RSS_KIB,
        ));
        fleet.push((n, time, rss));
    }
    let extra = |n: usize| {
        fleet
            .iter()
            .find(|(m, _, _)| *m == n)
            .map_or(0.0, |(_, t, _)| t.as_secs_f64())
    };
    let ratio = extra(100) / (4.0 * extra(25)).max(1e-3);
    checks.push((
        format!("100 hostile files cost {ratio:.2}× 4 × 25 files (≤ {TARGET_LINEARITY}: linear)"),
        ratio <= TARGET_LINEARITY,
    ));

    // --- register against a hostile upstream node.yaml ----------------------------------------
    let github = FakeGitHub::start().await;
    github.state().put_file(
        "main",
        &format!("cluster-nodes/{DELL}/node.yaml"),
        &amplification(10_000),
    );
    let mut best: Option<Measured> = None;
    for _ in 0..RUNS {
        // A fresh machine each run: the marker of a refused run holds the next one.
        let node = Node::new("dell-r640", &github);
        let config = node.config.display().to_string();
        let m = measure::run(&bin, &["register", "--config", &config], &[]);
        println!(
            "hostile bench: register run: exit {:?} in {:.1?}, peak RSS {}; {}",
            m.code,
            m.time,
            m.rss_mib(),
            m.stderr.lines().last().unwrap_or("")
        );
        if best.as_ref().is_none_or(|b| m.time < b.time) {
            best = Some(m);
        }
    }
    let register = best.unwrap_or_else(|| unreachable!("RUNS ≥ 1"));
    println!(
        "hostile bench: register, 30 KB alias file upstream: exit {:?} in {:.1?}, peak RSS {}",
        register.code,
        register.time,
        register.rss_mib()
    );
    let writes = github.state().writes().len();
    checks.push((
        format!(
            "register: exit 65, no write, {:.1?} ≤ 1 s, {} ≤ 64 MiB",
            register.time,
            register.rss_mib()
        ),
        register.code == Some(65)
            && writes == 0
            && register.time <= TARGET_REGISTER_TIME
            && register
                .peak_rss_kib
                .is_none_or(|k| k <= TARGET_REGISTER_RSS_KIB),
    ));

    let mut missed = false;
    for (what, ok) in &checks {
        println!("hostile bench: {what}: {}", measure::verdict(*ok));
        missed |= !ok;
    }
    if missed {
        std::process::exit(1);
    }
}

/// The JSON report of one more (unmeasured) run.
fn measure_stdout(dir: &Path, inventory: &str) -> Vec<u8> {
    let nodes = dir.display().to_string();
    std::process::Command::new(binary())
        .args([
            "reconcile",
            "--nodes",
            &nodes,
            "--inventory",
            inventory,
            "--format",
            "json",
        ])
        .env("ENLIST_CONFIG", "/dev/null")
        .output()
        .unwrap_or_else(|e| panic!("enlist: {e}"))
        .stdout
}
