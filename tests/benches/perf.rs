//! Performance and reliability figures, printed side by side in one run:
//!
//! - `enlist facts` whole-process time against `lshw -json`, `hwinfo --all` and `inxi` on this
//!   machine (target: ≥ 5× faster than the fastest of them);
//! - a marker-hit `enlist register` (a registered node booting again; target ≤ 10 ms);
//! - release binary size (target ≤ 10 MiB stripped) and peak RSS of a fresh registration
//!   (target ≤ 20 MiB);
//! - requests and writes per registration scenario.
//!
//!     cargo build --release -p enlist && cargo bench -p enlist-e2e --bench perf
//!
//! Peers that are not installed are reported as such (`apt-get install lshw hwinfo inxi time`).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use enlist_e2e::fake::FakeGitHub;
use enlist_e2e::node::{Node, binary};

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// Median wall time of `runs` runs of a command (after one warm-up), or `None` if it is missing
/// or fails.
fn time_command(program: &str, args: &[&str], runs: usize) -> Option<Duration> {
    let run = || {
        let start = Instant::now();
        let status = Command::new(program)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .env("ENLIST_CONFIG", "/dev/null")
            .status()
            .ok()?;
        status.success().then(|| start.elapsed())
    };
    run()?;
    let samples: Option<Vec<Duration>> = (0..runs).map(|_| run()).collect();
    samples.map(median)
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

/// Peak RSS (KiB) of a command, via GNU time's `%M`.
fn peak_rss_kib(args: &[&str]) -> Option<u64> {
    let out = Command::new("/usr/bin/time")
        .arg("-f")
        .arg("%M")
        .args(args)
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .last()?
        .trim()
        .parse()
        .ok()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let bin = binary();
    let bin_str = bin.to_str().expect("utf-8 path").to_owned();
    if !bin.exists() {
        eprintln!(
            "{} not found: run `cargo build --release -p enlist` first",
            bin.display()
        );
        std::process::exit(2);
    }
    println!("enlist performance (binary {})", bin.display());

    // --- facts vs peers ------------------------------------------------------------------
    let facts =
        time_command(&bin_str, &["facts", "--format", "yaml"], 30).expect("enlist facts runs");
    let peers: Vec<(&str, Option<Duration>)> = vec![
        ("lshw -json", time_command("lshw", &["-json"], 5)),
        ("hwinfo --all", time_command("hwinfo", &["--all"], 5)),
        // inxi's JSON export needs a Perl JSON module Debian does not pull in; its text output
        // gathers the same facts.
        ("inxi -Fxxxz", time_command("inxi", &["-Fxxxz", "--tty"], 5)),
    ];
    println!("\nhardware facts, whole process (median)");
    println!("  {:<28} {:>10}", "enlist facts", ms(facts));
    for (name, time) in &peers {
        match time {
            Some(t) => println!(
                "  {:<28} {:>10}   {:>6.1}× enlist",
                name,
                ms(*t),
                t.as_secs_f64() / facts.as_secs_f64()
            ),
            None => println!("  {name:<28} {:>10}", "not installed"),
        }
    }
    if let Some(fastest) = peers.iter().filter_map(|(_, t)| *t).min() {
        println!(
            "  ratio fastest peer / enlist: {:.1}× (target ≥ 5×)",
            fastest.as_secs_f64() / facts.as_secs_f64()
        );
    }

    // --- registration: requests per scenario, marker hit, RSS ------------------------------
    let github = FakeGitHub::start().await;
    let mut node = Node::new("dell-r640", &github);
    let scenario = |name: &str, github: &FakeGitHub, run: &dyn Fn() -> i32| {
        github.state().requests.clear();
        let code = run();
        let s = github.state();
        println!(
            "  {:<44} {:>3} requests {:>2} writes  exit {code}",
            name,
            s.requests.len(),
            s.writes().len()
        );
    };
    println!("\nrequests per registration scenario (fake GitHub)");
    let rss_fresh = {
        github.state().requests.clear();
        let config = node.config.display().to_string();
        let rss = peak_rss_kib(&[&bin_str, "register", "--config", &config]);
        let s = github.state();
        println!(
            "  {:<44} {:>3} requests {:>2} writes",
            "fresh registration",
            s.requests.len(),
            s.writes().len()
        );
        rss
    };
    node.reboot();
    scenario("reboot, marker pending", &github, &|| {
        node.run(&[]).code.unwrap_or(-1)
    });
    node.reinstall();
    scenario("reinstall while the PR is open", &github, &|| {
        node.run(&[]).code.unwrap_or(-1)
    });
    node.set_hostname("r640-renamed");
    node.reboot();
    scenario("facts changed while the PR is open", &github, &|| {
        node.run(&[]).code.unwrap_or(-1)
    });
    github.state().merge(1);
    node.reboot();
    scenario("reboot after merge (flips to registered)", &github, &|| {
        node.run(&[]).code.unwrap_or(-1)
    });
    node.reboot();
    scenario("reboot, marker registered", &github, &|| {
        node.run(&[]).code.unwrap_or(-1)
    });

    let config = node.config.display().to_string();
    let hit =
        time_command(&bin_str, &["register", "--config", &config], 30).expect("marker hit runs");
    github.state().requests.clear();
    let _ = time_command(&bin_str, &["register", "--config", &config], 3);
    assert!(
        github.state().requests.is_empty(),
        "a marker hit makes no request"
    );
    println!("\nmarker hit (`enlist register` on a registered node, whole process, median of 30)");
    println!("  {} (target ≤ 10 ms), 0 requests", ms(hit));

    let size = std::fs::metadata(&bin).map(|m| m.len()).unwrap_or(0);
    println!("\nbinary and memory");
    println!(
        "  release binary size         {:.2} MiB (target ≤ 10 MiB stripped)",
        size as f64 / 1024.0 / 1024.0
    );
    match rss_fresh {
        Some(kib) => println!(
            "  peak RSS, fresh registration {:.1} MiB (target ≤ 20 MiB)",
            kib as f64 / 1024.0
        ),
        None => println!("  peak RSS: /usr/bin/time not installed (apt-get install time)"),
    }
    github.assert_contract();
}
