//! Fleet simulation: N nodes (default 200) register concurrently against the fake GitHub, which
//! enforces GitHub's secondary limits (80 content-creating requests per minute, 100 concurrent
//! requests, `retry-after` on 403) with time scaled so a run takes seconds. Twice in the same
//! run: nodes with `auto_merge: off` (3 writes each: the baseline), then with the default
//! `auto_merge: squash` (4 writes: GitHub counts the GraphQL mutation as content creation). Prints
//! PRs opened, duplicates, failures, completion time, the rate-limit floor (writes·N / 80 per
//! window), their ratio, and the throughput auto-merge costs against the baseline.
//!
//!     cargo bench -p enlist-e2e --bench fleet [-- NODES [SCALE] [--at-once]]
//!
//! Each node runs as systemd starts it (the unit, the timer): with the default start jitter (up
//! to 5 min, before the run's deadline starts). `--at-once` leaves the jitter out, as a person
//! starting every node at one terminal would. A node that exits 75 (rate limited past its per-run
//! budget or deadline) is restarted after the unit's RestartSec (5 min, virtual), as systemd
//! would, and the restarted run waits its start jitter again; restarts are reported.
//!
//! Where the time beyond the floor went: the write slots left unused (completion − floor, in
//! seconds of the window's capacity), split into the minutes in which some node sat out
//! RestartSec and the rest, with a per-minute timeline of writes accepted and runs in progress.
//! The clock's fidelity: how late the runtime woke a 10 ms timer (×SCALE in virtual time), the
//! process's CPU time and the load average — a loaded machine stretches virtual time.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
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
    let unit = !std::env::args().any(|a| a == "--at-once");
    let off = simulate(nodes, scale, "off", 3.0, unit).await;
    let on = simulate(nodes, scale, "squash", 4.0, unit).await;
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

async fn simulate(
    nodes: usize,
    scale: f64,
    auto_merge: &str,
    writes_per_node: f64,
    unit: bool,
) -> Outcome {
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
    let load_before = load_average();
    let probe = LagProbe::start();
    let cpu_before = process_cpu();
    let started = Instant::now();
    let tasks: Vec<_> = fleet
        .iter()
        .cloned()
        .map(|node| {
            let clock = clock.clone();
            tokio::spawn(async move {
                let mut restarts = 0u32;
                // (start, end) of each run, real time since `started`.
                let mut runs = Vec::new();
                loop {
                    let run_started = started.elapsed();
                    let result = if unit {
                        node.run_lib_as_unit(clock.clone()).await
                    } else {
                        node.run_lib(clock.clone()).await
                    };
                    runs.push((run_started, started.elapsed()));
                    match result {
                        Ok(report) => return (Ok(report.outcome), restarts, runs),
                        Err(e)
                            if matches!(
                                exit::of_register(&e),
                                exit::TEMPFAIL | exit::UNAVAILABLE
                            ) && restarts < 5 =>
                        {
                            restarts += 1;
                            enlist::clock::Clock::sleep(clock.as_ref(), RESTART_SEC).await;
                        }
                        Err(e) => return (Err(e.to_string()), restarts, runs),
                    }
                }
            })
        })
        .collect();
    let mut failed = Vec::new();
    let mut restarts = 0;
    let mut last = Duration::ZERO;
    let mut outcomes: BTreeMap<String, usize> = BTreeMap::new();
    let mut all_runs = Vec::new();
    for task in tasks {
        let (result, node_restarts, runs) = task.await.expect("task");
        restarts += node_restarts;
        last = last.max(runs.last().map_or(Duration::ZERO, |r| r.1));
        all_runs.push(runs);
        match result {
            Ok(outcome) => *outcomes.entry(format!("{outcome:?}")).or_default() += 1,
            Err(e) => failed.push(e),
        }
    }
    let cpu = process_cpu().saturating_sub(cpu_before);
    let lag = probe.stop().await;
    let completion = last.mul_f64(scale);
    let s = github.state();
    let heads: std::collections::BTreeSet<&str> = s.pulls.iter().map(|p| p.head.as_str()).collect();
    let duplicates = s.pulls.len() - heads.len();
    let writes = s.writes().iter().filter(|r| r.status < 400).count();
    let auto_merged = s.pulls.iter().filter(|p| p.auto_merge.is_some()).count();
    let floor = window_virtual.mul_f64(writes_per_node * nodes as f64 / max_writes as f64);
    let ratio = floor.as_secs_f64() / completion.as_secs_f64();

    println!(
        "fleet simulation: {nodes} nodes, auto_merge: {auto_merge}, GitHub secondary limits scaled ×{scale}, {}",
        if unit {
            "started by systemd (start jitter)"
        } else {
            "started at once (--at-once)"
        }
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
    let timeline = Timeline::new(
        &s.accepted_writes,
        &all_runs,
        started,
        last,
        scale,
        max_writes as f64 / window_virtual.as_secs_f64(),
    );
    timeline.print(completion - floor);
    println!(
        "  clock fidelity        timer lag p50 {:.1} ms, p99 {:.1} ms, max {:.0} ms real (= {:.1} / {:.1} / {:.0} s virtual); CPU {:.1} s in {:.1} s real; load {load_before} → {}",
        lag.p50.as_secs_f64() * 1e3,
        lag.p99.as_secs_f64() * 1e3,
        lag.max.as_secs_f64() * 1e3,
        lag.p50.as_secs_f64() * scale,
        lag.p99.as_secs_f64() * scale,
        lag.max.as_secs_f64() * scale,
        cpu.as_secs_f64(),
        last.as_secs_f64(),
        load_average()
    );
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

/// Per virtual minute: writes accepted, runs in progress, nodes sitting out RestartSec.
struct Timeline {
    minutes: Vec<Minute>,
    /// Write slots per virtual second.
    capacity: f64,
}

#[derive(Clone, Copy, Default)]
struct Minute {
    writes: usize,
    /// Seconds of capacity in this minute (60, less for the last one).
    seconds: f64,
    /// Runs in progress at the minute's middle.
    running: usize,
    /// Nodes waiting RestartSec at the minute's middle.
    restarting: usize,
}

impl Timeline {
    fn new(
        writes: &[Instant],
        runs: &[Vec<(Duration, Duration)>],
        started: Instant,
        last: Duration,
        scale: f64,
        capacity: f64,
    ) -> Timeline {
        let virtual_secs = |real: Duration| real.as_secs_f64() * scale;
        let total = virtual_secs(last);
        let count = (total / 60.0).ceil().max(1.0) as usize;
        let mut minutes = vec![Minute::default(); count];
        for (i, minute) in minutes.iter_mut().enumerate() {
            let from = i as f64 * 60.0;
            minute.seconds = (total - from).min(60.0);
            let middle = from + minute.seconds / 2.0;
            for node in runs {
                if node
                    .iter()
                    .any(|(a, b)| virtual_secs(*a) <= middle && middle < virtual_secs(*b))
                {
                    minute.running += 1;
                } else if node.windows(2).any(|pair| {
                    virtual_secs(pair[0].1) <= middle && middle < virtual_secs(pair[1].0)
                }) {
                    minute.restarting += 1;
                }
            }
        }
        for at in writes {
            let t = virtual_secs(at.saturating_duration_since(started));
            let i = ((t / 60.0) as usize).min(count - 1);
            minutes[i].writes += 1;
        }
        Timeline { minutes, capacity }
    }

    /// Prints where the time beyond the floor (`beyond`) went.
    fn print(&self, beyond: Duration) {
        let unused = |m: &Minute| (m.seconds * self.capacity - m.writes as f64) / self.capacity;
        let total: f64 = self.minutes.iter().map(unused).sum();
        let restarting: f64 = self
            .minutes
            .iter()
            .filter(|m| m.restarting > 0)
            .map(unused)
            .sum();
        println!(
            "  beyond the floor      {:.0} s of unused write capacity ({:.0} s of it in minutes when nodes sat out RestartSec, {:.0} s otherwise)",
            beyond.as_secs_f64().max(total),
            restarting,
            total - restarting
        );
        let column = |f: &dyn Fn(&Minute) -> usize| {
            self.minutes
                .iter()
                .map(|m| f(m).to_string())
                .collect::<Vec<_>>()
                .join(" ")
        };
        println!("  writes per minute     {}", column(&|m| m.writes));
        println!("  runs in progress      {}", column(&|m| m.running));
        println!("  sitting out restart   {}", column(&|m| m.restarting));
    }
}

/// How late the runtime wakes a short timer while the fleet runs: virtual time is real time ×
/// SCALE, so a run that lags by 50 ms at ×20 stretches by a virtual second.
struct LagProbe {
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<Vec<Duration>>,
}

struct Lag {
    p50: Duration,
    p99: Duration,
    max: Duration,
}

impl LagProbe {
    const PERIOD: Duration = Duration::from_millis(10);

    fn start() -> LagProbe {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let task = tokio::spawn(async move {
            let mut lags = Vec::new();
            while !flag.load(Ordering::Relaxed) {
                let before = Instant::now();
                tokio::time::sleep(Self::PERIOD).await;
                lags.push(before.elapsed().saturating_sub(Self::PERIOD));
            }
            lags
        });
        LagProbe { stop, task }
    }

    async fn stop(self) -> Lag {
        self.stop.store(true, Ordering::Relaxed);
        let mut lags = self.task.await.expect("lag probe");
        lags.sort();
        let at = |q: f64| {
            lags.get(((lags.len() as f64 - 1.0) * q) as usize)
                .copied()
                .unwrap_or_default()
        };
        Lag {
            p50: at(0.5),
            p99: at(0.99),
            max: lags.last().copied().unwrap_or_default(),
        }
    }
}

/// User + system CPU time of this process so far (Linux `/proc/self/stat`; zero elsewhere).
fn process_cpu() -> Duration {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return Duration::ZERO;
    };
    // Fields after the command name (which may hold spaces): utime is the 14th field overall.
    let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
        return Duration::ZERO;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // USER_HZ is 100 on every Linux this runs on.
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

/// The 1-minute load average, as the kernel reports it.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".into())
}
