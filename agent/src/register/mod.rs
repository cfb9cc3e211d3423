//! `enlist register` (and `enlist status`): gathers facts, takes the lock, reads the marker, then
//! runs the planner loop ([`planner`]) against the forge until it records an outcome.
//!
//! This file is the entry point (facts, lock, marker, deadline); the executor runs the planner's
//! actions against the world; every decision is in the planner. `--dry-run`
//! uses the same loop with writes replaced by a line in the plan (no POST/PUT/PATCH, no marker, no
//! lock file).
//!
//! | concern | module |
//! |---|---|
//! | the registration decision (pure) | [`planner`] |
//! | executing it | `executor` (the `Run` loop) |
//! | waiting for GitHub and a sane clock | [`readiness`] |
//! | refusing the live installer | [`live`] |
//! | PR title, body, comments, trailer | [`pr`] |
//! | marker and lock in the state dir | [`marker`], [`lock`] |
//! | `enlist status` | [`status`] |

pub mod backoff;
mod executor;
pub mod live;
pub mod lock;
pub mod marker;
pub mod planner;
pub mod pr;
pub mod readiness;
pub mod signals;
pub mod status;

pub mod preview;

use std::sync::Arc;

use self::executor::Run;
use self::live::live_installer_reason;
use self::lock::{LockError, StateLock};
use self::marker::{Marker, MarkerError, MarkerState};
use self::planner::{Candidate, Local, Observed, Outcome, PlanError};
use self::readiness::NotReady;
use crate::clock::{Clock, SystemClock};
use crate::config::{ConfigError, RegisterConfig, UnsafeHostname};
use crate::document::NodeDocument;
use crate::facts::{self, FactsError, HostKernel, KernelProbe};
use crate::forge::{ForgeError, RequestCounts};
use crate::identity::{NODE_ID_HEX_LENGTHS, NodeId};
use crate::logging::{self, Event};
use crate::sysroot::SysRoot;

/// A run never needs more steps than this (fresh registration: 8; with every collision
/// extension and retry: well under 40). Guards against a planner bug looping forever.
const MAX_STEPS: usize = 60;

/// Ambiguous failures (5xx, timeout) tolerated per write kind before giving up with exit 75.
const MAX_WRITE_ATTEMPTS: u32 = 3;

/// Read attempts after the first answer (backoff 1 s, 2 s, 4 s, 8 s, capped at 30 s, jittered).
const READ_RETRIES: usize = 4;

/// What the engine needs from the world besides the config.
pub struct Deps {
    /// Time source.
    pub clock: Arc<dyn Clock>,
    /// CPU/memory source.
    pub kernel: Arc<dyn KernelProbe + Send + Sync>,
    /// Fixed jitter seed (tests).
    pub jitter_seed: Option<u64>,
    /// Hold back an attempt while GitHub was unreachable or rate-limited on the last ones
    /// ([`backoff`]): true for unattended runs (the unit, the timer), false for a person at a
    /// terminal, who wants to try now.
    pub honour_backoff: bool,
    /// Started by systemd (the unit or the timer: `$INVOCATION_ID` is set): without a configured
    /// `start_jitter_secs`, the run waits a random [`crate::config::UNATTENDED_START_JITTER_SECS`]
    /// first, so a fleet powered on together does not ask GitHub in the same second.
    pub started_by_systemd: bool,
    /// Stop on SIGTERM/SIGINT ([`signals`]): the binary; not the library in tests.
    pub stop_on_signals: bool,
}

impl Default for Deps {
    fn default() -> Self {
        Deps {
            clock: Arc::new(SystemClock::default()),
            kernel: Arc::new(HostKernel),
            jitter_seed: None,
            honour_backoff: true,
            started_by_systemd: false,
            stop_on_signals: false,
        }
    }
}

/// What a run did.
#[derive(Debug)]
pub struct Report {
    /// How it ended (`None`: dry run without a token, nothing was checked).
    pub outcome: Option<Outcome>,
    /// Node id used.
    pub node_id: NodeId,
    /// node.yaml path in the repository.
    pub path: String,
    /// The node.yaml proposed.
    pub document: NodeDocument,
    /// The PR, if any.
    pub pr_url: Option<String>,
    /// Dry run: what was checked and what would be done.
    pub plan: Vec<String>,
    /// Requests made.
    pub counts: RequestCounts,
    /// Everything the run observed (the preview names what GitHub holds from it).
    pub observed: Observed,
    /// Shorter node ids found to belong to other machines (collisions), in the order tried.
    pub taken_ids: Vec<NodeId>,
    /// The marker this run wrote (or, in a dry run, would write).
    pub recorded: Option<Marker>,
}

/// Why a run failed. `main` maps each to an exit code.
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    /// Bad or missing configuration.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Running from the installer.
    #[error(
        "refusing to register from the live installer: {reason}; register from the installed system \
         (the enlist unit does this on first boot), use --dry-run to preview, or --allow-live to override"
    )]
    LiveInstaller {
        /// Why it looks live.
        reason: String,
    },
    /// Facts could not be gathered.
    #[error(transparent)]
    Facts(#[from] FactsError),
    /// The hostname cannot be used in the path template.
    #[error(transparent)]
    Hostname(#[from] UnsafeHostname),
    /// State directory lock.
    #[error(transparent)]
    Lock(#[from] LockError),
    /// Marker I/O.
    #[error(transparent)]
    Marker(#[from] MarkerError),
    /// GitHub not reachable / clock not synced.
    #[error(transparent)]
    NotReady(#[from] NotReady),
    /// The repository does not exist or the token cannot see it.
    #[error(
        "repository {repo} not found (404) at {api_url}; check `repo`/`api_url` and that the token is granted access to it"
    )]
    RepoNotFound {
        /// The repository.
        repo: String,
        /// The API URL.
        api_url: String,
    },
    /// The base branch does not exist.
    #[error(
        "base branch {branch} not found in {repo}; if `base_branch` (--base) is set, point it at an \
         existing branch; if it is the repository's default branch, the repository is probably \
         empty: push an initial commit"
    )]
    BaseBranchMissing {
        /// The branch.
        branch: String,
        /// The repository.
        repo: String,
    },
    /// A GitHub error.
    #[error("{0}{next}", next = .0.next_step())]
    Forge(#[from] ForgeError),
    /// A data conflict the planner cannot resolve.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// Internal: the loop did not converge.
    #[error(
        "internal error: registration did not converge after {MAX_STEPS} steps (last: {last}); please report this"
    )]
    NoProgress {
        /// The last action.
        last: String,
    },
    /// SIGTERM or SIGINT stopped the run (exit 75: the timer or the next boot goes on).
    #[error(
        "stopped by {signal} (shutdown, `systemctl stop`, the unit's start timeout or Ctrl-C) before \
         the registration finished; the next run continues from what GitHub holds"
    )]
    Interrupted {
        /// `SIGTERM` or `SIGINT`.
        signal: &'static str,
    },
    /// Internal: something that cannot happen did.
    #[error("internal error: {0}; please report this")]
    Internal(String),
}

impl RegisterError {
    /// Whether a fix on GitHub's side clears this failure, which the node cannot see happen: a
    /// credential GitHub rejects or that lacks a right (77), a repository, base branch or App
    /// installation GitHub does not show it (78), this node's upstream node.yaml invalid (65: a
    /// person fixes or removes it in the repository). Unattended runs try again about a day
    /// later ([`backoff`]) instead of waiting for a reboot.
    pub fn fixed_on_github(&self) -> bool {
        use crate::forge::AppError;
        match self {
            RegisterError::RepoNotFound { .. }
            | RegisterError::BaseBranchMissing { .. }
            | RegisterError::Plan(PlanError::InvalidUpstream { .. }) => true,
            RegisterError::Forge(f) => matches!(
                f,
                ForgeError::Unauthorized { .. }
                    | ForgeError::Forbidden { .. }
                    | ForgeError::NotFound { .. }
                    | ForgeError::App(
                        AppError::JwtRejected { .. }
                            | AppError::MintRefused { .. }
                            | AppError::NotInstalled { .. }
                            | AppError::InstallationNotFound { .. }
                    )
            ),
            _ => false,
        }
    }

    /// Stable kind for the `registration.failed` event.
    pub fn kind(&self) -> &'static str {
        match self {
            RegisterError::Config(_) => "config",
            RegisterError::LiveInstaller { .. } => "live_installer",
            RegisterError::Facts(e) => e.kind(),
            RegisterError::Hostname(_) => "hostname",
            RegisterError::Lock(_) => "state_dir",
            RegisterError::Marker(_) => "state_dir",
            RegisterError::NotReady(NotReady::Unreachable { .. }) => "unreachable",
            RegisterError::NotReady(NotReady::ClockNotSynced { .. }) => "clock_not_synced",
            RegisterError::RepoNotFound { .. } => "repo_not_found",
            RegisterError::BaseBranchMissing { .. } => "base_branch_missing",
            RegisterError::Forge(e) => e.kind(),
            RegisterError::Plan(PlanError::InvalidUpstream { .. }) => "invalid_upstream",
            RegisterError::Plan(_) => "node_id_collision",
            RegisterError::Interrupted { .. } => "interrupted",
            RegisterError::NoProgress { .. } | RegisterError::Internal(_) => "internal",
        }
    }
}

/// Registers this machine (or, with `dry_run`, says what it would do).
pub async fn register(cfg: &RegisterConfig, deps: &Deps) -> Result<Report, RegisterError> {
    let result = register_inner(cfg, deps).await;
    match &result {
        Ok(report) => log_outcome(report, cfg.dry_run),
        Err(e) => {
            logging::event_error(Event::Failed, e.kind(), &e.to_string());
            logging::status(&format!("registration failed: {}", e.kind()));
        }
    }
    result
}

async fn register_inner(cfg: &RegisterConfig, deps: &Deps) -> Result<Report, RegisterError> {
    if !cfg.dry_run
        && !cfg.allow_live
        && let Some(reason) = live_installer_reason(&cfg.roots.machine)
    {
        return Err(RegisterError::LiveInstaller { reason });
    }
    logging::status("gathering hardware facts");
    let (facts, observations) = facts::gather(&cfg.roots, deps.kernel.as_ref())?;
    let node_ids: Vec<NodeId> = match &cfg.node_id {
        Some(id) => vec![id.clone()],
        None => NODE_ID_HEX_LENGTHS
            .iter()
            .map(|n| facts.identity.node_id(*n))
            .collect(),
    };
    let mut candidates = Vec::with_capacity(node_ids.len());
    for node_id in node_ids {
        let path = cfg
            .path_template
            .expand(cfg.operator.as_deref(), &node_id, &facts.hostname)?;
        let branch = cfg.branch(&node_id);
        candidates.push(Candidate {
            node_id,
            path,
            branch,
            template_path: None,
        });
    }
    let document = NodeDocument::new(&facts, candidates[0].node_id.clone(), cfg.operator.clone());
    let mut local = Local {
        facts_hash: document.facts_hash.clone(),
        repo: cfg.repo.to_string(),
        configured_node_id: cfg.node_id.clone(),
        candidates,
        base_branch: cfg.base_branch.clone(),
        labels: cfg.labels.clone(),
        auto_merge: cfg.auto_merge,
        auto_merge_updates: cfg.auto_merge_updates,
        boot_id: read_boot_id(&cfg.roots.machine),
    };
    let boot_id = local.boot_id.clone();
    let inputs = backoff::inputs_hash(&cfg.fingerprint(), &local.facts_hash);

    let mut stop = if deps.stop_on_signals {
        signals::Stop::listen()
    } else {
        signals::Stop::never()
    };
    // One deadline over the rest of the run: the lock wait, readiness, every request, every wait
    // (the executor moves it by the start jitter it waited, which comes before GitHub).
    let deadline = deps.clock.elapsed().saturating_add(cfg.run_timeout);
    // The lock is taken before the marker is read, so a concurrent run sees the first run's
    // marker. A dry run takes no lock (it must leave no file behind) and only reads.
    let _lock = if cfg.dry_run {
        None
    } else {
        Some(wait_for_lock(cfg, deps, deadline, &mut stop).await?)
    };
    let marker = if cfg.dry_run && !cfg.state_dir.exists() {
        None
    } else {
        marker::read(&cfg.state_dir)?
    };
    if let Some(m) = &marker {
        find_by_identity(&mut local, m);
    }
    // Failures earlier in this boot (a dry run neither reads nor writes them).
    let attempts = if cfg.dry_run {
        None
    } else {
        backoff::read(&cfg.state_dir)?
    };

    let mut run = Run {
        cfg,
        deps,
        local,
        document,
        observations,
        boot_id,
        observed: Observed {
            marker,
            ..Observed::default()
        },
        reached: false,
        plan: Vec::new(),
        write_failures: Default::default(),
        deadline,
        upstream_doc: None,
        branch_doc: None,
        attempts,
        inputs,
    };
    let result = run.drive(&mut stop).await;
    if !cfg.dry_run {
        run.record_attempt(&result);
    }
    result
}

/// How often a run waiting for the state lock looks again.
const LOCK_POLL: std::time::Duration = std::time::Duration::from_millis(250);

/// Takes the state lock, waiting for a concurrent run within the run's deadline; a signal stops
/// the wait.
async fn wait_for_lock(
    cfg: &RegisterConfig,
    deps: &Deps,
    deadline: std::time::Duration,
    stop: &mut signals::Stop,
) -> Result<StateLock, RegisterError> {
    let started = deps.clock.elapsed();
    let mut said = false;
    loop {
        if let Some(lock) = StateLock::try_acquire(&cfg.state_dir)? {
            return Ok(lock);
        }
        let path = cfg.state_dir.join(lock::LOCK_FILE);
        if deps.clock.elapsed().saturating_add(LOCK_POLL) >= deadline {
            return Err(LockError::Busy {
                path,
                waited_secs: deps.clock.elapsed().saturating_sub(started).as_secs(),
            }
            .into());
        }
        if !said {
            log::info!(
                "another enlist run holds {}; waiting for it (within run_timeout_secs)",
                path.display()
            );
            said = true;
        }
        tokio::select! {
            () = deps.clock.sleep(LOCK_POLL) => {}
            signal = stop.wait() => return Err(RegisterError::Interrupted { signal }),
        }
    }
}

/// The node finds its registration by identity: a marker of this repository for one of the node
/// ids names the path its file was registered (or proposed) at, and that path wins over the one
/// the template gives today. A renamed host (`{hostname}` in the template) then updates its
/// file — a drift update — instead of registering a second time; moving the file is a person's
/// call. A rejected marker names no registration.
fn find_by_identity(local: &mut Local, marker: &Marker) {
    if !marker.repo.eq_ignore_ascii_case(&local.repo) || marker.state == MarkerState::Rejected {
        return;
    }
    for candidate in &mut local.candidates {
        if candidate.node_id == marker.node_id && candidate.path != marker.path {
            log::info!(
                "{} was registered at {}; the template now gives {}: keeping the recorded path \
                 (moving a registration is a person's call)",
                marker.node_id,
                marker.path,
                candidate.path
            );
            candidate.template_path =
                Some(std::mem::replace(&mut candidate.path, marker.path.clone()));
        }
    }
}

/// This boot's id (`/proc/sys/kernel/random/boot_id`, under the facts root when a fixture
/// provides one), so a PR gets at most one comment per boot.
pub fn read_boot_id(root: &SysRoot) -> String {
    const BOOT_ID: &str = "/proc/sys/kernel/random/boot_id";
    // The id goes into an HTML comment (the trailer): keep only what a boot id is made of.
    root.read(BOOT_ID)
        .value()
        .or_else(|| SysRoot::host().read(BOOT_ID).value())
        .map(|id| {
            id.chars()
                .filter(|c| c.is_ascii_hexdigit() || *c == '-')
                .take(64)
                .collect::<String>()
        })
        .filter(|id| !id.is_empty())
        .unwrap_or_else(|| "unknown".to_owned())
}

fn log_outcome(report: &Report, dry_run: bool) {
    let Some(outcome) = report.outcome else {
        return;
    };
    if dry_run {
        return;
    }
    let node = &report.node_id;
    let url = report.pr_url.as_deref().unwrap_or("");
    match outcome {
        Outcome::BackingOff => {
            logging::event(Event::Skipped, &format!("{node}: {}", outcome.describe()));
            logging::event(Event::Completed, &format!("{node}: {}", outcome.describe()));
            return;
        }
        // Not "completed": the registration is not done, and STATUS= keeps saying why.
        Outcome::HeldAfterFailure => {
            logging::event(Event::Skipped, &format!("{node}: {}", outcome.describe()));
            return;
        }
        Outcome::AlreadyRegistered | Outcome::AlreadyRejected | Outcome::StillPending => {
            logging::event(Event::Skipped, &format!("{node}: {}", outcome.describe()));
        }
        Outcome::UpstreamMatches => {
            logging::event(
                Event::UpstreamFound,
                &format!("{node}: {}", outcome.describe()),
            );
        }
        Outcome::PrInFlight => logging::event(
            Event::PrInFlight,
            &format!("{node}: {} {url}", outcome.describe()),
        ),
        Outcome::PrUpdated => logging::event(
            Event::PrUpdated,
            &format!("{node}: {} {url}", outcome.describe()),
        ),
        Outcome::PrOpened => logging::event(
            Event::PrOpened,
            &format!("{node}: {} {url}", outcome.describe()),
        ),
        Outcome::Merged | Outcome::Rejected => {}
        // Only when the checks' state changed since the last run (the marker keeps it): no
        // event, STATUS= or comment for a check that is still what it was.
        Outcome::ChecksFailed => {
            let checks = report.observed.checks.as_ref();
            let failed: Vec<String> = checks
                .into_iter()
                .flat_map(|c| c.failed())
                .map(|c| format!("{} ({})", pr::plain(&c.name), pr::plain(&c.url)))
                .collect();
            let text = format!(
                "{node}: check failed on {url}: {}; fix the inventory or the node, then push — \
                 the node refreshes its PR when its facts change",
                failed.join(", ")
            );
            logging::event(Event::ChecksFailed, &text);
            logging::status(&format!("{node}: check failed: {}", failed.join(", ")));
            logging::event(Event::Completed, &format!("{node}: {}", outcome.describe()));
            return;
        }
        Outcome::ChecksPassed => {
            logging::event(
                Event::ChecksPassed,
                &format!("{node}: the checks of {url} passed"),
            );
            logging::status(&format!(
                "{node}: checks passed; waiting for GitHub to merge {url}"
            ));
            logging::event(Event::Completed, &format!("{node}: {}", outcome.describe()));
            return;
        }
        Outcome::ChecksUpdated => {
            logging::event(Event::Skipped, &format!("{node}: {}", outcome.describe()));
        }
        Outcome::ForeignCommits => {
            logging::event(
                Event::PrInFlight,
                &format!("{node}: {} {url}", outcome.describe()),
            );
        }
    }
    logging::event(Event::Completed, &format!("{node}: {}", outcome.describe()));
    logging::status(&format!("{node}: {}", outcome.describe()));
}
