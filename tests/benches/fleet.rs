//! Fleet simulation: N nodes (default 200) register concurrently against the fake GitHub, which
//! enforces GitHub's secondary limits (80 content-creating requests per minute, 100 concurrent
//! requests, `retry-after` on 403) with time scaled so a run takes seconds. Twice in the same
//! run: nodes with `auto_merge: off` (3 writes each: the baseline), then with the default
//! `auto_merge: squash` (4 writes: GitHub counts the GraphQL mutation as content creation). Prints
//! PRs opened, duplicates, failures, completion time, the rate-limit floor (writes·N / 80 per
//! window), their ratio, and the throughput auto-merge costs against the baseline.
//!
//!     cargo bench -p enlist-e2e --bench fleet [-- NODES [SCALE]]
//!
//! A node that exits 75 (rate limited past its per-run budget or deadline) is restarted after the
//! unit's RestartSec (5 min, virtual), as systemd would; restarts are reported.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use enlist::exit;
use enlist_e2e::clock::ScaledClock;
use enlist_e2e::fake::{FakeGitHub, WriteLimit};
use enlist_e2e::node::Node;

/// systemd's RestartSec= in the shipped unit.
const RESTART_SEC: Duration = Duration::from_secs(300);

/// One simulation's figures.
struct Outcome {
    completion: Duration,
    floor: Duration,
    ok: bool,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 4)]
async fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let nodes: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(200);
    let scale: f64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(60.0);
    let off = simulate(nodes, scale, "off", 3.0).await;
    let on = simulate(nodes, scale, "squash", 4.0).await;
    let throughput = |o: &Outcome| nodes as f64 / o.completion.as_secs_f64() * 3600.0;
    println!("auto-merge on the nodes vs off (same run)");
    println!(
        "  throughput            {:.0} vs {:.0} nodes/h: ×{:.2} (writes per node 4 vs 3: ×{:.2})",
        throughput(&on),
        throughput(&off),
        throughput(&on) / throughput(&off),
        3.0 / 4.0
    );
    println!(
        "  completion            {:.0} s vs {:.0} s (floors {:.0} s vs {:.0} s)",
        on.completion.as_secs_f64(),
        off.completion.as_secs_f64(),
        on.floor.as_secs_f64(),
        off.floor.as_secs_f64()
    );
    if !(off.ok && on.ok) {
        std::process::exit(1);
    }
}

async fn simulate(nodes: usize, scale: f64, auto_merge: &str, writes_per_node: f64) -> Outcome {
    let limit = WriteLimit::github(scale);
    let window_virtual = limit.window.mul_f64(scale);
    let max_writes = limit.max_writes;

    let github = FakeGitHub::start().await;
    github.state().write_limit = Some(limit);
    let clock = Arc::new(ScaledClock::new(scale, 20261121));

    eprintln!("preparing {nodes} nodes (auto_merge: {auto_merge})…");
    let fleet: Vec<Arc<Node>> = (0..nodes)
        .map(|i| {
            let mut node = Node::new("vm-no-dmi", &github);
            // A distinct machine: its own MAC (the identity of a VM without DMI) and hostname.
            let mac = format!(
                "52:54:00:{:02x}:{:02x}:{:02x}\n",
                (i >> 16) & 0xff,
                (i >> 8) & 0xff,
                i & 0xff
            );
            std::fs::write(node.root.join("sys/class/net/ens3/address"), mac).expect("mac");
            node.set_hostname(&format!("rack{}-n{:03}", i / 40, i % 40));
            node.set("readiness_timeout_secs", "600");
            node.set("request_timeout_secs", "30");
            node.set("auto_merge", auto_merge);
            Arc::new(node)
        })
        .collect();

    eprintln!("registering {nodes} nodes at once (time × {scale})…");
    let started = Instant::now();
    let tasks: Vec<_> = fleet
        .iter()
        .cloned()
        .map(|node| {
            let clock = clock.clone();
            tokio::spawn(async move {
                let mut restarts = 0u32;
                loop {
                    let result = node.run_lib(clock.clone()).await;
                    match result {
                        Ok(report) => return (Ok(report.outcome), restarts, started.elapsed()),
                        Err(e)
                            if matches!(
                                exit::of_register(&e),
                                exit::TEMPFAIL | exit::UNAVAILABLE
                            ) && restarts < 5 =>
                        {
                            restarts += 1;
                            enlist::clock::Clock::sleep(clock.as_ref(), RESTART_SEC).await;
                        }
                        Err(e) => return (Err(e.to_string()), restarts, started.elapsed()),
                    }
                }
            })
        })
        .collect();
    let mut failed = Vec::new();
    let mut restarts = 0;
    let mut last = Duration::ZERO;
    let mut outcomes: BTreeMap<String, usize> = BTreeMap::new();
    for task in tasks {
        let (result, node_restarts, finished) = task.await.expect("task");
        restarts += node_restarts;
        last = last.max(finished);
        match result {
            Ok(outcome) => *outcomes.entry(format!("{outcome:?}")).or_default() += 1,
            Err(e) => failed.push(e),
        }
    }
    let completion = last.mul_f64(scale);
    let s = github.state();
    let heads: std::collections::BTreeSet<&str> = s.pulls.iter().map(|p| p.head.as_str()).collect();
    let duplicates = s.pulls.len() - heads.len();
    let writes = s.writes().iter().filter(|r| r.status < 400).count();
    let auto_merged = s.pulls.iter().filter(|p| p.auto_merge.is_some()).count();
    let floor = window_virtual.mul_f64(writes_per_node * nodes as f64 / max_writes as f64);
    let ratio = floor.as_secs_f64() / completion.as_secs_f64();

    println!(
        "fleet simulation: {nodes} nodes, auto_merge: {auto_merge}, GitHub secondary limits scaled ×{scale}"
    );
    println!(
        "  limits                {max_writes} content-creating requests / {:.0} s, 100 concurrent",
        window_virtual.as_secs_f64()
    );
    println!("  PRs opened            {}", s.pulls.len());
    println!("  with auto-merge on    {auto_merged}");
    println!("  duplicate PRs         {duplicates}");
    println!("  nodes failed          {}", failed.len());
    println!("  restarts (exit 75/69) {restarts}");
    println!("  outcomes              {outcomes:?}");
    println!(
        "  requests              {} ({} successful writes, {} answered 403/429)",
        s.requests.len(),
        writes,
        s.rate_limited
    );
    println!(
        "  completion            {:.0} s (virtual; {:.2} s real)",
        completion.as_secs_f64(),
        last.as_secs_f64()
    );
    println!(
        "  rate-limit floor      {:.0} s = {writes_per_node}·{nodes} writes / {max_writes} × {:.0} s",
        floor.as_secs_f64(),
        window_virtual.as_secs_f64()
    );
    println!("  ratio floor/completion {ratio:.2} (target ≥ 0.80)");
    for e in failed.iter().take(5) {
        println!("  failure: {e}");
    }
    let expected_auto = if auto_merge == "off" { 0 } else { nodes };
    let ok = duplicates == 0 && failed.is_empty() && auto_merged == expected_auto;
    drop(s);
    github.assert_contract();
    Outcome {
        completion,
        floor,
        ok,
    }
}
