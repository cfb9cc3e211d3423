//! `cargo run -p enlist-e2e --bin playground`: the whole product in one command, with no GitHub
//! account. Starts the fake GitHub on loopback, simulates one machine (the Dell R640 fixture: its
//! `/sys` and `/etc` copied to a temp dir) and runs `enlist register` as that node would live —
//! first boot (PR + auto-merge), a reboot, a reinstall — then "CI" runs `enlist reconcile` on the
//! PR's tree and reports the required check, GitHub (the fake) merges, and the next boots cost one
//! read, then nothing. Then a red run: a second machine with the first one's serial, whose check
//! fails, whose PR stays open, and whose `enlist status` names the failing check.
//!
//! It calls the library entry point in-process (`enlist::register::register`, via
//! [`Node::run_lib`]) with the real system clock: nothing in these paths waits. The temp dir and the
//! fake server go away when it ends.

use std::sync::{Arc, Mutex};

use enlist::clock::SystemClock;
use enlist::register::{RegisterError, Report};
use enlist_e2e::fake::{FakeGitHub, REQUIRED_CHECK, Recorded};
use enlist_e2e::node::Node;
use log::{Level, LevelFilter, Log, Metadata, Record};

/// The fixture the simulated node is made of.
const FIXTURE: &str = "dell-r640";

/// Lines of PR bodies and comments shown (the rest is elided).
const EXCERPT_LINES: usize = 14;

fn main() -> std::process::ExitCode {
    // The fake answers with, and checks itself against, GitHub's REST description.
    let spec = enlist_e2e::openapi::spec_path();
    if !spec.is_file() {
        eprintln!(
            "playground: {} is missing: the fake GitHub is built from GitHub's REST description, \
             which the repository carries (tests/github-api/); restore it with `git checkout -- \
             tests/github-api` or re-cut it with scripts/vendor-github-api",
            spec.display()
        );
        return std::process::ExitCode::FAILURE;
    }
    log::set_logger(&AGENT_LOG).ok();
    log::set_max_level(LevelFilter::Info);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("playground: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(playground()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("playground: a registration failed: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn playground() -> Result<(), RegisterError> {
    let github = FakeGitHub::start().await;
    let mut node = Node::new(FIXTURE, &github);
    let (owner, name, base) = {
        let s = github.state();
        (s.owner.clone(), s.name.clone(), s.default_branch.clone())
    };
    println!("enlist playground: one machine registering itself in a GitOps repository");
    println!();
    println!(
        "  fake GitHub  {} (repository {owner}/{name}, base branch {base})",
        github.url()
    );
    println!(
        "  the node     fixture `{FIXTURE}` (a Dell PowerEdge R640), operator alice, copied to {}",
        node.dir().display()
    );
    println!(
        "               (temporary: removed when the playground ends; CPU and memory are this"
    );
    println!("               machine's, as with `enlist facts --root`)");

    step(
        &github,
        &node,
        "1. First boot: the enlist unit opens one PR and turns on GitHub auto-merge for it",
    )
    .await?;
    node.reboot();
    step(
        &github,
        &node,
        "2. Reboot before CI is done: `pending`, so the PR and its checks are read, nothing written",
    )
    .await?;
    node.reinstall();
    step(
        &github,
        &node,
        "3. Reinstall: state wiped, new boot id; the open PR gets one comment, never a second PR",
    )
    .await?;

    forge(&github, &node);

    section("CI: `enlist reconcile` runs on the PR's tree and reports the required check");
    ci(&github, 1);
    println!(
        "  GitHub (the fake) merged #1 by auto-merge: {}",
        github.state().pull(1).is_some_and(|p| p.merged)
    );
    node.reboot();
    step(
        &github,
        &node,
        "4. Next boot: one read finds the PR merged; the marker flips to `registered`",
    )
    .await?;
    node.reboot();
    step(&github, &node, "5. Every boot after that: zero requests").await?;
    if let Some(marker) = node.marker() {
        println!(
            "  marker state: {}",
            marker["state"].as_str().unwrap_or("?")
        );
    }

    section("A red run: a second machine reports the first one's serial number (a cloned board)");
    let clone = Node::new(FIXTURE, &github);
    std::fs::write(
        clone.root.join("sys/class/dmi/id/product_uuid"),
        "4c4c4544-0042-3110-8052-c4c04f4e5931\n",
    )
    .ok();
    clone.set_hostname("r640-b7");
    let report = step(
        &github,
        &clone,
        "6. The clone's first boot: its own PR, auto-merge on",
    )
    .await?;
    let number = report
        .recorded
        .as_ref()
        .and_then(|m| m.pr_number)
        .unwrap_or(2);
    section("CI: reconcile finds a duplicate identity; the required check fails");
    ci(&github, number);
    println!(
        "  #{number} still open, not merged: {}",
        github
            .state()
            .pull(number)
            .is_some_and(|p| p.state == "open")
    );
    let mut clone = clone;
    clone.reboot();
    step(
        &github,
        &clone,
        "7. The clone's next boot: the PR and its check runs (2 reads); the failure is recorded",
    )
    .await?;
    section("`enlist status` on the clone");
    match enlist::register::status::render(&clone.state, false) {
        Ok(text) => {
            for line in text.lines() {
                println!("  {line}");
            }
        }
        Err(e) => println!("  enlist status failed: {e}"),
    }
    println!();
    println!("Next: `cargo test --workspace` runs this and every failure mode (crashes, rate");
    println!("limits, collisions, rejections) against the same fake GitHub.");
    github.assert_contract();
    Ok(())
}

/// Runs `register` once as the node and prints the outcome, the agent's log and the requests.
async fn step(github: &FakeGitHub, node: &Node, title: &str) -> Result<Report, RegisterError> {
    section(title);
    let boot_id = std::fs::read_to_string(node.root.join("proc/sys/kernel/random/boot_id"))
        .unwrap_or_default();
    println!("  boot id {}", boot_id.trim());
    let already = github.state().requests.len();
    AGENT_LOG.take();
    let report = node
        .run_lib(Arc::new(SystemClock::default()))
        .await
        .inspect_err(|e| println!("  enlist register failed: {e}"))?;
    let outcome = report
        .outcome
        .map(|o| o.describe())
        .unwrap_or("dry run: nothing checked");
    println!(
        "  enlist register → exit 0: {outcome}{}",
        report
            .pr_url
            .as_deref()
            .map(|u| format!(" ({u})"))
            .unwrap_or_default()
    );
    println!("  agent log (what the journal shows):");
    for line in AGENT_LOG.take() {
        println!("    {line}");
    }
    let state = github.state();
    let requests: Vec<&Recorded> = state.requests[already..].iter().collect();
    let writes = requests.iter().filter(|r| r.is_write()).count();
    match (requests.len(), writes) {
        (0, _) => println!("  requests to GitHub: none"),
        (n, w) => println!(
            "  requests to GitHub: {n} ({w} {})",
            if w == 1 { "write" } else { "writes" }
        ),
    }
    let width = requests
        .iter()
        .map(|r| r.path.chars().count())
        .max()
        .unwrap_or(0);
    for r in &requests {
        println!("    {:<5} {:width$}  → {}", r.method, r.path, r.status);
    }
    Ok(report)
}

/// What CI does on a registration PR: `enlist reconcile` over the PR's tree (the repository as
/// it would be after the merge) against the inventory, reported as the required check. The fake
/// then merges the PR if auto-merge is on and the check passed — as GitHub does.
fn ci(github: &FakeGitHub, number: u64) {
    let tree = {
        let s = github.state();
        let head = s.pull(number).map(|p| p.head.clone()).unwrap_or_default();
        s.tree(&head).cloned().unwrap_or_default()
    };
    let checkout = match tempfile::tempdir() {
        Ok(dir) => dir,
        Err(e) => {
            println!("  cannot make a checkout: {e}");
            return;
        }
    };
    for (path, content) in &tree {
        let file = checkout.path().join(path);
        if let Some(parent) = file.parent() {
            let _ = std::fs::create_dir_all(parent);
        }
        let _ = std::fs::write(file, content);
    }
    let inventory = checkout.path().join("inventory.csv");
    let _ = std::fs::write(
        &inventory,
        "serial,make,model,status\n5H8VXC3,Dell Inc.,PowerEdge R640,active\n",
    );
    let options = enlist::reconcile::Options {
        nodes: checkout.path().to_owned(),
        inventory,
        inventory_map: None,
        demand: None,
    };
    let (conclusion, title) = match enlist::reconcile::reconcile(&options) {
        Ok(report) if report.failed(false) => {
            let mut why = Vec::new();
            if !report.invalid.is_empty() {
                why.push(format!("{} invalid", report.invalid.len()));
            }
            match report.duplicates.len() {
                0 => {}
                1 => why.push("1 duplicate identity".to_owned()),
                n => why.push(format!("{n} duplicate identities")),
            }
            ("failure", why.join(", "))
        }
        Ok(_) => ("success", "reconciled".to_owned()),
        Err(e) => ("failure", e.to_string()),
    };
    println!(
        "  enlist reconcile on #{number}'s tree ({} files): {conclusion} ({title})",
        tree.len()
    );
    println!("  → check run `{REQUIRED_CHECK}`: {conclusion}");
    github
        .state()
        .set_check_titled(number, REQUIRED_CHECK, Some(conclusion), Some(&title));
}

/// Prints what the fake GitHub holds after the three lifecycle runs, and the marker.
fn forge(github: &FakeGitHub, node: &Node) {
    section("What the forge holds now");
    let state = github.state();
    let branches: Vec<&str> = state.branches.keys().map(String::as_str).collect();
    println!("  branches: {}", branches.join(", "));
    for pull in &state.pulls {
        println!();
        println!(
            "  pull request #{} ({}{}): {}  [{} → {}]",
            pull.number,
            pull.state,
            if pull.merged { ", merged" } else { "" },
            pull.title,
            pull.head,
            pull.base
        );
        excerpt(&pull.body);
        let changed: Vec<&String> = state
            .tree(&pull.head)
            .map(|head| {
                head.iter()
                    .filter(|(path, content)| {
                        state.file(&pull.base, path).as_ref() != Some(content)
                    })
                    .map(|(path, _)| path)
                    .collect()
            })
            .unwrap_or_default();
        for path in changed {
            println!();
            println!("  file {path} on {}:", pull.head);
            for line in state.file(&pull.head, path).unwrap_or_default().lines() {
                println!("    │ {line}");
            }
        }
        for comment in state.comments.iter().filter(|c| c.issue == pull.number) {
            println!();
            println!("  comment {} on #{}:", comment.id, pull.number);
            excerpt(&comment.body);
        }
    }
    println!();
    println!(
        "  marker on the node ({}):",
        node.state.join("registered.json").display()
    );
    match node.marker() {
        Some(marker) => {
            let text = serde_json::to_string_pretty(&marker).unwrap_or_default();
            for line in text.lines() {
                println!("    │ {line}");
            }
        }
        None => println!("    (none)"),
    }
}

fn excerpt(text: &str) {
    let lines: Vec<&str> = text.lines().collect();
    for line in lines.iter().take(EXCERPT_LINES) {
        println!("    │ {line}");
    }
    if lines.len() > EXCERPT_LINES {
        println!("    │ … ({} more lines)", lines.len() - EXCERPT_LINES);
    }
}

fn section(title: &str) {
    println!();
    println!(
        "── {title} {}",
        "─".repeat(96usize.saturating_sub(title.chars().count() + 4))
    );
}

/// Collects the agent's info-level log lines (what `journalctl -u enlist` would show), so each
/// step can print its own under its heading instead of interleaving with stdout.
struct AgentLog {
    lines: Mutex<Vec<String>>,
}

static AGENT_LOG: AgentLog = AgentLog {
    lines: Mutex::new(Vec::new()),
};

impl AgentLog {
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.lines.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

impl Log for AgentLog {
    fn enabled(&self, metadata: &Metadata) -> bool {
        metadata.level() <= Level::Info && metadata.target().starts_with("enlist")
    }

    fn log(&self, record: &Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let event = record
            .key_values()
            .get(log::kv::Key::from_str("enlist_event"))
            .map(|v| format!("  [{v}]"))
            .unwrap_or_default();
        let level = match record.level() {
            Level::Error => "error",
            Level::Warn => "warn ",
            _ => "info ",
        };
        self.lines
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(format!("{level} {}{event}", record.args()));
    }

    fn flush(&self) {}
}
