//! The executor: runs the planner's actions against the forge and the state directory, folds
//! each answer into [`Observed`], and asks the planner again until it records an outcome.
//!
//! Reads go through the readiness wait until GitHub has answered once ([`Gate`]); writes are
//! executed once, and an ambiguous failure (5xx, timeout) resets the observation it depends on so
//! the planner re-reads before writing again. `--dry-run` goes through the same [`Run::apply`]
//! with writes replaced by a line in the plan.

use std::time::Duration;

use super::backoff;
use super::marker::{
    self, AutoMergeRecord, CheckSource, Checks, MARKER_VERSION, Marker, MarkerState, Warning,
};
use super::planner::{
    self, Action, BranchView, Candidate, CommentReason, FileView, Local, Observed, Outcome, PrView,
    Upstream, next_action,
};
use super::pr;
use super::readiness::wait_until_ready;
use super::signals::Stop;
use super::{Deps, MAX_STEPS, MAX_WRITE_ATTEMPTS, READ_RETRIES, RegisterError, Report};
use crate::clock::Clock;
use crate::config::{
    APP_KEY_CREDENTIAL_NAME, ConfigError, RegisterConfig, UNATTENDED_START_JITTER_SECS,
    UNIT_START_MARGIN_SECS,
};
use crate::document::NodeDocument;
use crate::facts::Observations;
use crate::forge::{
    AutoMerge, AutoMergeOff, Created, Credentials, FileWrite, Forge, ForgeError, GitHub,
    GitHubOptions, PullRequest, Refusal, RequestCounts, short_sha,
};
use crate::logging;

/// Where the registration loop keeps its state.
pub(super) struct Run<'a> {
    pub(super) cfg: &'a RegisterConfig,
    pub(super) deps: &'a Deps,
    pub(super) local: Local,
    pub(super) document: NodeDocument,
    pub(super) observations: Observations,
    pub(super) boot_id: String,
    pub(super) observed: Observed,
    pub(super) reached: bool,
    pub(super) plan: Vec<String>,
    pub(super) write_failures: std::collections::BTreeMap<&'static str, u32>,
    /// The run's deadline, as a [`Clock::elapsed`] value.
    pub(super) deadline: Duration,
    /// This machine's node.yaml as registered upstream, when its facts differ (a drift update).
    pub(super) upstream_doc: Option<NodeDocument>,
    /// This machine's node.yaml as the branch held it before this run rewrote it.
    pub(super) branch_doc: Option<NodeDocument>,
    /// Failures earlier in this boot ([`backoff`]).
    pub(super) attempts: Option<backoff::Attempts>,
    /// What this run depends on ([`backoff::inputs_hash`]): a final failure is not repeated
    /// unattended while it stays the same.
    pub(super) inputs: String,
}

impl Run<'_> {
    fn candidate(&self) -> Candidate {
        // `id_index` only grows through UseNextNodeId, which the planner bounds.
        self.local.candidates[self.observed.id_index.min(self.local.candidates.len() - 1)]
            .current(&self.observed)
    }

    fn current_document(&self) -> NodeDocument {
        self.document.with_node_id(self.candidate().node_id.clone())
    }

    fn report(
        &self,
        outcome: Option<Outcome>,
        pr_url: Option<String>,
        counts: RequestCounts,
    ) -> Report {
        Report {
            outcome,
            node_id: self.candidate().node_id.clone(),
            path: self.candidate().path.clone(),
            document: self.current_document(),
            pr_url,
            plan: self.plan.clone(),
            counts,
            observed: self.observed.clone(),
            taken_ids: self.local.candidates
                [..self.observed.id_index.min(self.local.candidates.len())]
                .iter()
                .map(|c| c.node_id.clone())
                .collect(),
            recorded: None,
        }
    }

    fn build_forge(&self) -> Result<GitHub, RegisterError> {
        let credentials = match (&self.cfg.github_app, &self.cfg.token) {
            (Some(app), _) => Credentials::App(app.clone()),
            (None, Some(token)) => Credentials::Token(token.clone()),
            (None, None) => {
                return Err(ConfigError::NoToken {
                    repo: self.cfg.repo.to_string(),
                }
                .into());
            }
        };
        let options = GitHubOptions {
            api_url: self.cfg.api_url.clone(),
            repo: self.cfg.repo.clone(),
            credentials,
            request_timeout: self.cfg.request_timeout,
            deadline: self.deadline,
            run_timeout: self.cfg.run_timeout,
            rate_limit_wait: self.cfg.rate_limit_wait,
            read_retries: READ_RETRIES,
            jitter_seed: self.deps.jitter_seed,
        };
        Ok(GitHub::new(options, self.deps.clock.clone())?)
    }

    pub(super) async fn drive(&mut self, stop: &mut Stop) -> Result<Report, RegisterError> {
        let first = next_action(&self.local, &self.observed);
        if let Action::Finish(outcome) = first {
            // A marker hit: no client is even built.
            if self.cfg.dry_run {
                self.plan.push(format!("marker: {}", outcome.describe()));
            }
            let url = self.observed.marker.as_ref().and_then(|m| m.pr_url.clone());
            return Ok(self.report(Some(outcome), url, RequestCounts::default()));
        }
        if let Some((held, attempts)) = self.held_back() {
            let advice = backoff::advice(attempts, &self.cfg.state_dir);
            let outcome = match held {
                // GitHub was unreachable or rate-limited on the last attempts: no request now.
                backoff::Held::Until(until) => {
                    log::info!("{advice}");
                    logging::status(&format!(
                        "GitHub unreachable or rate-limited on the last attempts; next attempt \
                         after {}",
                        marker::timestamp(until)
                    ));
                    Outcome::BackingOff
                }
                // The same request would fail the same way: no request until something changed.
                // The fix is on GitHub's side: the timer tries again about a day later.
                backoff::Held::OnGitHub(until) => {
                    log::warn!("not asking GitHub: {advice}");
                    logging::status(&format!(
                        "held: the last attempt this boot exited {} (a fix on GitHub's side); \
                         next attempt after {}",
                        attempts.last_exit,
                        marker::timestamp(until)
                    ));
                    Outcome::HeldAfterFailure
                }
                backoff::Held::Final => {
                    log::warn!("not asking GitHub: {advice}");
                    logging::status(&format!(
                        "held: the last attempt this boot exited {}; see `enlist status`",
                        attempts.last_exit
                    ));
                    Outcome::HeldAfterFailure
                }
            };
            return Ok(self.report(Some(outcome), None, RequestCounts::default()));
        }
        if self.cfg.dry_run && self.cfg.token.is_none() && self.cfg.github_app.is_none() {
            self.plan.push(match &self.cfg.github_app_id_without_key {
                Some(id) => format!(
                    "remote checks skipped: GitHub App {id} is configured but its private key is \
                     not here (the first boot gets it as the credential \
                     {APP_KEY_CREDENTIAL_NAME}); give --github-app-key-file to check the App's \
                     installation now"
                ),
                None => "remote checks skipped: no token (give --token-file or GITHUB_TOKEN to \
                         see what would happen)"
                    .into(),
            });
            return Ok(self.report(None, None, RequestCounts::default()));
        }
        if !self.cfg.dry_run {
            marker::check_writable(&self.cfg.state_dir)?;
        }
        // Built before the start jitter: a missing credential or an unusable api_url is reported
        // at once, not minutes later.
        let mut forge = self.build_forge()?;
        // The start jitter comes before the run's deadline: it spreads when runs start, and each
        // run still has all of run_timeout_secs for GitHub. (Inside the deadline, a fleet powered
        // on together would also *end* together — every run that met the rate limits exiting 75
        // at the same minute, every restart then landing in the same minute too.) A signal stops
        // the wait like any other.
        let before = self.deps.clock.elapsed();
        tokio::select! {
            () = self.start_jitter() => {}
            signal = stop.wait() => {
                log::warn!("{signal}: stopping the registration run");
                return Err(RegisterError::Interrupted { signal });
            }
        }
        let waited = self.deps.clock.elapsed().saturating_sub(before);
        self.deadline = self.deadline.saturating_add(waited);
        forge.extend_deadline(waited);
        if self.cfg.dry_run && forge.app().is_some() {
            return self.check_app_installation(&forge).await;
        }
        let app = forge.app().is_some();
        // Everything that waits or asks GitHub stops on SIGTERM/SIGINT; a write in flight is then
        // ambiguous, which the next run re-checks like after any crash.
        let work = async {
            if app {
                self.authenticate(&forge).await?;
            }
            self.steps(&forge).await
        };
        let mut result = tokio::select! {
            result = work => result,
            signal = stop.wait() => {
                log::warn!("{signal}: stopping the registration run");
                Err(RegisterError::Interrupted { signal })
            }
        };
        if app {
            // Success, failure or signal, the installation token dies with the run (bounded by
            // the request timeout, not by the run's deadline).
            match forge.revoke_installation_token().await {
                Ok(revoked) => {
                    if revoked {
                        log::debug!("revoked this run's installation token");
                    }
                }
                Err(e) => log::warn!(
                    "could not revoke this run's installation token ({e}); it expires on its own \
                     within an hour"
                ),
            }
            if let Ok(report) = &mut result {
                report.counts = forge.counts();
            }
        }
        result
    }

    /// The start jitter of a real run: `start_jitter_secs` when configured, else
    /// [`UNATTENDED_START_JITTER_SECS`] for a run systemd started, else none. The unit's start
    /// timeout is told first that the run may take the jitter longer (`EXTEND_TIMEOUT_USEC=`),
    /// so a configured jitter longer than the one the timeout was sized for is never killed.
    async fn start_jitter(&self) {
        if self.cfg.dry_run {
            return;
        }
        let max = match self.cfg.start_jitter {
            Some(configured) => configured,
            None if self.deps.started_by_systemd => {
                Duration::from_secs(UNATTENDED_START_JITTER_SECS)
            }
            None => Duration::ZERO,
        };
        if max.is_zero() {
            return;
        }
        // A mass bring-up (a rack powered on at once) would otherwise hit GitHub's secondary
        // limits in the same second; a random start spreads the writes.
        let wait = self.deps.clock.jitter(max);
        // What is left of the run from now: the jitter, the deadline (moved by the jitter), one
        // request timeout for revoking an App token after it, and the margin the unit counts.
        let rest = self
            .deadline
            .saturating_sub(self.deps.clock.elapsed())
            .saturating_add(wait)
            .saturating_add(self.cfg.request_timeout)
            .saturating_add(Duration::from_secs(UNIT_START_MARGIN_SECS));
        logging::extend_start_timeout(rest);
        log::info!(
            "waiting {:.1}s (start jitter, up to {} s) before contacting GitHub",
            wait.as_secs_f64(),
            max.as_secs()
        );
        logging::status(&format!(
            "waiting {} s (start jitter) before contacting GitHub",
            wait.as_secs()
        ));
        self.deps.clock.sleep(wait).await;
    }

    /// GitHub App mode: find the installation (unless configured) and mint this run's token. The
    /// first of these requests is the readiness probe.
    async fn authenticate(&mut self, forge: &GitHub) -> Result<(), RegisterError> {
        let configured = forge.app().and_then(|app| app.installation_id);
        let installation_id = match configured {
            Some(id) => id,
            None => {
                logging::status(&format!(
                    "looking up the GitHub App installation on {}",
                    self.cfg.repo
                ));
                self.gate(forge).call(|| forge.installation_id()).await?
            }
        };
        logging::status("minting an installation token");
        self.gate(forge)
            .call(|| forge.mint_installation_token(installation_id))
            .await
    }

    /// GitHub App dry run: reading the repository needs an installation token, and minting one
    /// is a write (POST), so a dry run only checks that the App is installed on the repository
    /// (which also proves GitHub accepts its JWT).
    async fn check_app_installation(&mut self, forge: &GitHub) -> Result<Report, RegisterError> {
        let id = self.gate(forge).call(|| forge.installation_id()).await?;
        let app = forge.app().map(|a| a.id.clone()).unwrap_or_default();
        self.plan.push(format!(
            "GitHub App {app} is installed on {} (installation {id}); GitHub accepted its JWT",
            self.cfg.repo
        ));
        if let Some(configured) = self.cfg.github_app.as_ref().and_then(|a| a.installation_id)
            && configured != id
        {
            self.plan.push(format!(
                "github_app_installation_id is {configured}, but the installation on {} is {id}: fix it",
                self.cfg.repo
            ));
        }
        self.plan.push(
            "remote checks of the repository skipped: they need an installation token, and \
             minting one is a write (POST) that --dry-run does not make"
                .into(),
        );
        Ok(self.report(None, None, forge.counts()))
    }

    fn gate<'g>(&'g mut self, forge: &'g GitHub) -> Gate<'g> {
        Gate {
            clock: self.deps.clock.as_ref(),
            timeout: self.cfg.readiness_timeout,
            deadline: self.deadline,
            jitter_seed: self.deps.jitter_seed,
            reached: &mut self.reached,
            forge,
        }
    }

    /// The planner loop: observe, decide, act, until an outcome is recorded.
    async fn steps(&mut self, forge: &GitHub) -> Result<Report, RegisterError> {
        let mut last = String::new();
        for _ in 0..MAX_STEPS {
            let action = next_action(&self.local, &self.observed);
            log::debug!("next action: {action:?}");
            last = format!("{action:?}");
            match action {
                Action::Finish(outcome) => {
                    let url = self.observed.marker.as_ref().and_then(|m| m.pr_url.clone());
                    if self.cfg.dry_run {
                        self.plan.push(outcome.describe().to_owned());
                    }
                    return Ok(self.report(Some(outcome), url, forge.counts()));
                }
                Action::Fail(e) => return Err(e.into()),
                Action::Record { state, pr, outcome } => {
                    return self.record(state, pr, outcome, forge.counts());
                }
                Action::RecordPending { pr } => {
                    // The PR exists: whatever an optional step brings, the next run knows it.
                    let marker = self.marker_for(MarkerState::Pending, Some(pr));
                    if self.cfg.dry_run {
                        self.plan.push("would record marker: pending".into());
                    } else {
                        marker::write(&self.cfg.state_dir, &marker)?;
                    }
                    self.observed.pending_recorded = true;
                }
                Action::UseTemplatePath => {
                    let gone = self.candidate().path;
                    self.observed.recorded_path_gone = true;
                    log::warn!(
                        "{gone}, where this node was registered, is no longer on the base branch; \
                         looking for its registration at {}",
                        self.candidate().path
                    );
                    self.observed.upstream = None;
                    self.upstream_doc = None;
                }
                Action::UseNextNodeId => {
                    log::warn!(
                        "{} belongs to another machine; extending the node id",
                        self.candidate().path
                    );
                    self.observed = Observed {
                        marker: self.observed.marker.take(),
                        id_index: self.observed.id_index + 1,
                        default_branch: self.observed.default_branch.take(),
                        base_sha: self.observed.base_sha.take(),
                        ..Observed::default()
                    };
                }
                write if write.is_remote_write() => {
                    if self.cfg.dry_run {
                        self.pretend(&write);
                    } else {
                        self.write(forge, &write).await?;
                    }
                }
                read => self.read(forge, &read).await?,
            }
        }
        Err(RegisterError::NoProgress { last })
    }

    async fn read(&mut self, forge: &GitHub, action: &Action) -> Result<(), RegisterError> {
        let boot_id = self.boot_id.clone();
        match action {
            Action::ReadMarkerPr { number } => {
                let number = *number;
                logging::status(&format!("checking pull request #{number}"));
                match self.gate(forge).call(|| forge.pull(number)).await {
                    Ok(pr) => {
                        let pr = view(&pr, &boot_id);
                        let was_on = self.observed.marker.as_ref().is_some_and(|m| {
                            matches!(m.auto_merge, Some(AutoMergeRecord::Enabled { .. }))
                        });
                        if was_on && planner::turned_off_on_github(&self.observed, &pr) {
                            log::warn!(
                                "auto-merge of #{number} was turned off on GitHub after enlist \
                                 turned it on (by a person, or by GitHub after a push by someone \
                                 without write access); enlist leaves it off: a person merges, or \
                                 turns auto-merge on again"
                            );
                        }
                        self.observed.marker_pr = Some(pr);
                    }
                    Err(RegisterError::Forge(ForgeError::NotFound { .. })) => {
                        log::warn!(
                            "the marker's pull request #{number} no longer exists; checking from scratch"
                        );
                        self.observed.marker = None;
                    }
                    Err(e) => return Err(e),
                }
                self.note(format!("pull request #{number} read"));
            }
            Action::ReadRepo => {
                logging::status(&format!("checking {}", self.cfg.repo));
                match self.gate(forge).call(|| forge.repo()).await {
                    Ok(info) => {
                        self.note(format!(
                            "repository {}: default branch {}",
                            self.cfg.repo, info.default_branch
                        ));
                        self.observed.default_branch = Some(info.default_branch);
                    }
                    Err(RegisterError::Forge(ForgeError::NotFound { .. })) => {
                        return Err(RegisterError::RepoNotFound {
                            repo: self.cfg.repo.to_string(),
                            api_url: self.cfg.api_url.clone(),
                        });
                    }
                    Err(e) => return Err(e),
                }
            }
            Action::ReadBaseRef { branch } => {
                let sha = self.gate(forge).call(|| forge.branch_sha(branch)).await?;
                let sha = sha.ok_or_else(|| RegisterError::BaseBranchMissing {
                    branch: branch.clone(),
                    repo: self.cfg.repo.to_string(),
                })?;
                self.note(format!("base branch {branch} at {}", short_sha(&sha)));
                self.observed.base_sha = Some(sha);
            }
            Action::ReadUpstream { path, base } => {
                let file = match self.gate(forge).call(|| forge.file(path, base)).await {
                    // Far beyond node.yaml's cap: an invalid upstream file, like one just
                    // over it (exit 65).
                    Err(RegisterError::Forge(e @ ForgeError::TooLarge { .. })) => Err(e),
                    other => Ok(other?),
                };
                let upstream = match file {
                    Err(e) => Upstream::Invalid(format!("{}:{path}@{base}: {e}", self.cfg.repo)),
                    Ok(None) => Upstream::Absent,
                    Ok(Some(file)) => {
                        let location = format!("{}:{path}@{base}", self.cfg.repo);
                        match NodeDocument::parse_unverified(&file.content, &location) {
                            Err(e) => Upstream::Invalid(e.to_string()),
                            Ok(doc)
                                if doc.identity.fingerprint
                                    != self.document.identity.fingerprint =>
                            {
                                Upstream::OtherIdentity
                            }
                            Ok(doc) => {
                                let same_facts = doc.compute_facts_hash() == doc.facts_hash
                                    && doc.facts_hash == self.local.facts_hash;
                                if !same_facts {
                                    // Issue 27: who can read this node's secrets changes with
                                    // its host keys — a person must see it (no auto-merge).
                                    self.observed.host_keys_changed =
                                        doc.ssh_host_keys != self.document.ssh_host_keys;
                                    self.upstream_doc = Some(doc);
                                }
                                Upstream::Ours {
                                    same_facts,
                                    same_content: file.content == self.current_document().to_yaml(),
                                    sha: file.sha,
                                }
                            }
                        }
                    }
                };
                self.note(format!(
                    "upstream {path} on {base}: {}",
                    describe_upstream(&upstream)
                ));
                self.observed.upstream = Some(upstream);
            }
            Action::ListPrs { branch, base } => {
                let prs = self
                    .gate(forge)
                    .call(|| forge.pulls_for_branch(branch, base))
                    .await?;
                let views: Vec<PrView> = prs.iter().map(|p| view(p, &boot_id)).collect();
                self.note(format!(
                    "pull requests on {branch}: {}",
                    if views.is_empty() {
                        "none".to_owned()
                    } else {
                        views
                            .iter()
                            .map(|p| format!("#{} {}", p.number, pr_state(p)))
                            .collect::<Vec<_>>()
                            .join(", ")
                    }
                ));
                self.observed.prs = Some(views);
            }
            Action::ReadBranchFile { path, branch } => {
                let file = self.gate(forge).call(|| forge.file(path, branch)).await?;
                let expected = self.current_document().to_yaml();
                let ours = self.document.identity.fingerprint.clone();
                let parsed = file
                    .as_ref()
                    .and_then(|f| NodeDocument::parse_unverified(&f.content, path).ok());
                let view = file.map(|f| FileView {
                    same_content: f.content == expected,
                    // Another machine's node.yaml on "our" branch: its id collides with ours.
                    // An unparsable file is ours to repair (a crash or a hand edit).
                    foreign: parsed
                        .as_ref()
                        .is_some_and(|doc| doc.identity.fingerprint != ours),
                    sha: f.sha,
                });
                // What the PR showed before this run rewrites the file: the "old" of its comment.
                if let (Some(doc), Some(v)) = (parsed, &view)
                    && !v.foreign
                    && !v.same_content
                {
                    self.branch_doc = Some(doc);
                }
                self.note(format!(
                    "{path} on {branch}: {}",
                    match &view {
                        None => "absent",
                        Some(v) if v.foreign => "another machine's",
                        Some(v) if v.same_content => "up to date",
                        Some(_) => "outdated",
                    }
                ));
                self.observed.branch_file = Some(view);
            }
            Action::ReadBranchHead { branch } => {
                let head = self.gate(forge).call(|| forge.branch_sha(branch)).await?;
                self.observed.write_unconfirmed = false;
                if let Some(sha) = head {
                    self.note(format!(
                        "{branch} at {}: the commit whose answer was lost",
                        short_sha(&sha)
                    ));
                    self.observed.written_sha = Some(sha);
                    self.remember_written_sha()?;
                }
            }
            Action::ReadPr { number } => {
                let pr = self.gate(forge).call(|| forge.pull(*number)).await?;
                self.observed.auto_merge_unknown = false;
                if let Some(method) = pr.auto_merge {
                    self.note(format!("auto-merge is on for #{number} ({method})"));
                    self.observed.auto_merge = Some(AutoMergeRecord::Enabled { method });
                }
            }
            Action::ReadCheckRuns { sha } => {
                self.observed.checks = Some(
                    match self.gate(forge).call(|| forge.check_runs(sha)).await {
                        Ok(runs) => {
                            self.note(format!("{} check run(s) on {}", runs.len(), short_sha(sha)));
                            Checks::new(CheckSource::CheckRuns, runs)
                        }
                        Err(RegisterError::Forge(e @ ForgeError::Forbidden { .. })) => {
                            unreadable_checks(&e)
                        }
                        Err(e) => return Err(e),
                    },
                );
            }
            Action::ReadCombinedStatus { sha } => {
                self.observed.checks = Some(
                    match self.gate(forge).call(|| forge.combined_status(sha)).await {
                        Ok(statuses) => {
                            self.note(format!(
                                "{} commit status(es) on {}",
                                statuses.len(),
                                short_sha(sha)
                            ));
                            Checks::new(CheckSource::Statuses, statuses)
                        }
                        Err(RegisterError::Forge(e @ ForgeError::Forbidden { .. })) => {
                            unreadable_checks(&e)
                        }
                        Err(e) => return Err(e),
                    },
                );
            }
            Action::ListComments { number } => {
                let comments = self.gate(forge).call(|| forge.comments(*number)).await?;
                let seen = comments.iter().any(|c| pr::mentions_boot(c, &boot_id));
                self.observed.comments_mention_boot = Some(seen);
                self.observed.foreign_noted =
                    Some(comments.iter().any(|c| c.contains(pr::FOREIGN_TAG)));
            }
            other => {
                return Err(RegisterError::Internal(format!("{other:?} is not a read")));
            }
        }
        Ok(())
    }

    fn note(&mut self, line: String) {
        if self.cfg.dry_run {
            self.plan.push(line);
        } else {
            log::debug!("{line}");
        }
    }

    /// Whether (and why) an unattended run does not ask GitHub now ([`backoff`]).
    fn held_back(&self) -> Option<(backoff::Held, &backoff::Attempts)> {
        if self.cfg.dry_run || !self.deps.honour_backoff {
            return None;
        }
        let attempts = self.attempts.as_ref()?;
        let held = backoff::held(attempts, &self.boot_id, &self.inputs, self.deps.clock.now())?;
        Some((held, attempts))
    }

    /// After a run: a failure is recorded for this boot (transient ones counted, final ones with
    /// the configuration and facts they happened with); anything that got through forgets them.
    /// A failure to write the record is only a warning: the next attempt then simply is not
    /// held back.
    pub(super) fn record_attempt(&self, result: &Result<Report, RegisterError>) {
        let dir = &self.cfg.state_dir;
        match result {
            Ok(report)
                if matches!(
                    report.outcome,
                    Some(Outcome::BackingOff | Outcome::HeldAfterFailure)
                ) => {}
            Ok(_) => backoff::clear(dir),
            Err(e) => {
                let code = crate::exit::of_register(e);
                // The record would live in the state directory that just failed.
                if code == crate::exit::CANTCREAT {
                    return;
                }
                let now = self.deps.clock.now();
                let message = e.to_string();
                let kind = if backoff::is_transient(code) {
                    backoff::FailureKind::Transient
                } else if e.fixed_on_github() {
                    backoff::FailureKind::OnGitHub
                } else {
                    backoff::FailureKind::Final
                };
                // A fraction in 0..=1 from the run's jitter source (seeded in tests).
                const STEPS: u64 = 1_000_000;
                let jitter = self
                    .deps
                    .clock
                    .jitter(Duration::from_micros(STEPS))
                    .as_micros() as f64
                    / STEPS as f64;
                let failure = backoff::Failure {
                    code,
                    error: &message,
                    kind,
                    jitter,
                };
                match backoff::record_failure(
                    dir,
                    self.attempts.as_ref(),
                    &self.boot_id,
                    failure,
                    &self.inputs,
                    now,
                ) {
                    Ok(
                        a @ backoff::Attempts {
                            hold: backoff::Hold::Transient { failures, .. },
                            ..
                        },
                    ) if failures >= backoff::FREE_ATTEMPTS => {
                        log::info!("{}", backoff::advice(&a, dir));
                    }
                    Ok(backoff::Attempts {
                        hold: backoff::Hold::Final { .. },
                        ..
                    }) => log::info!(
                        "exit {code} is final: unattended runs (enlist.timer) do not repeat it in \
                         this boot with the same configuration and facts (recorded in {})",
                        dir.join(backoff::ATTEMPTS_FILE).display()
                    ),
                    Ok(
                        a @ backoff::Attempts {
                            hold: backoff::Hold::OnGitHub { .. },
                            ..
                        },
                    ) => log::info!("{}", backoff::advice(&a, dir)),
                    Ok(_) => {}
                    Err(w) => log::warn!("{w}"),
                }
            }
        }
    }

    fn is_update(&self) -> bool {
        matches!(self.observed.upstream, Some(Upstream::Ours { .. }))
    }

    /// What an update PR's body compares against: the registered node.yaml (a drift update), or
    /// what the open PR proposed before (its facts changed while it was open).
    fn previous_for_body(&self) -> Option<pr::Previous<'_>> {
        if let Some(doc) = &self.upstream_doc {
            return Some(pr::Previous::Document(doc));
        }
        let open = self
            .observed
            .prs
            .as_ref()?
            .iter()
            .find(|p| p.open && p.facts_hash.as_deref() != Some(&self.local.facts_hash))?;
        Some(self.previous_for_comment(open.number))
    }

    /// What a "facts changed" comment on PR `number` compares against: the file the branch held
    /// before this run, else (an earlier run already replaced it) the PR's recorded hash, else
    /// the registered node.yaml.
    fn previous_for_comment(&self, number: u64) -> pr::Previous<'_> {
        if let Some(doc) = &self.branch_doc {
            return pr::Previous::Document(doc);
        }
        let hash = self
            .observed
            .prs
            .iter()
            .flatten()
            .find(|p| p.number == number)
            .and_then(|p| p.facts_hash.as_deref());
        match (hash, &self.upstream_doc) {
            (Some(hash), _) => pr::Previous::Hash(hash),
            (None, Some(doc)) => pr::Previous::Document(doc),
            (None, None) => pr::Previous::Hash("unknown"),
        }
    }

    /// The foreign-commits comment for PR `number`: its head as read, the commit the node wrote.
    fn foreign_comment(&self, number: u64) -> String {
        let head = self.seen_pr(number).map_or("", |p| p.head_sha.as_str());
        let written = self
            .observed
            .marker
            .as_ref()
            .and_then(|m| m.written_sha.as_deref())
            .unwrap_or("");
        let turned_off = self.observed.auto_merge_disabled;
        let moved = self.seen_pr(number).and_then(|seen| {
            let m = self.observed.marker.as_ref()?;
            Some((m.base.as_deref()?, planner::retargeted(m, seen)?))
        });
        pr::foreign_comment(&self.candidate().branch, head, written, moved, turned_off)
    }

    /// Dry run: say what would be written and fold in the result it would have had, through the
    /// same [`Run::apply`] as real writes.
    fn pretend(&mut self, action: &Action) {
        let doc = self.current_document();
        let (line, written) = match action {
            Action::CreateBranch { branch, from_sha } => (
                format!("would create branch {branch} at {}", short_sha(from_sha)),
                Written::Branch(Created::Created(())),
            ),
            Action::ResetBranch { branch, to_sha } => (
                format!("would reset branch {branch} to {}", short_sha(to_sha)),
                Written::Done,
            ),
            Action::WriteFile { path, branch, .. } => (
                format!("would commit {path} on {branch}"),
                Written::File(FileWrite::Written(None)),
            ),
            Action::OpenPr { branch, base } => (
                format!(
                    "would open a pull request {branch} → {base}: {:?}",
                    pr::title(&doc, self.is_update())
                ),
                // The PR it would open: its body carries these facts and this boot.
                Written::Pull(Created::Created(PullRequest {
                    number: 0,
                    open: true,
                    merged: false,
                    head_ref: branch.clone(),
                    base_ref: base.clone(),
                    body: pr::trailer(&doc, &self.boot_id),
                    labels: Vec::new(),
                    html_url: String::new(),
                    // Known once GitHub creates the PR; a dry run only names the step.
                    node_id: "(new pull request)".into(),
                    head_sha: String::new(),
                    auto_merge: None,
                })),
            ),
            Action::UpdatePr { number } => (
                format!("would update the title and body of #{number}"),
                Written::Done,
            ),
            Action::AddLabels { number } => (
                format!("would label #{number}: {}", self.cfg.labels.join(", ")),
                Written::Done,
            ),
            Action::Comment { number, .. } => {
                (format!("would comment on #{number}"), Written::Done)
            }
            Action::DisableAutoMerge { number, .. } => (
                format!(
                    "would turn off auto-merge for #{number}: its branch has commits this node did not write"
                ),
                Written::AutoMergeOff(AutoMergeOff::Off),
            ),
            Action::EnableAutoMerge { number, method, .. } => (
                format!(
                    "would turn on auto-merge ({}) for #{number}: GitHub merges it once the base \
                     branch's rules hold",
                    method.as_str()
                ),
                Written::AutoMerge(AutoMerge::Enabled(method.as_str().to_owned())),
            ),
            other => (format!("{other:?}"), Written::Done),
        };
        self.apply(action, written);
        self.plan.push(line);
    }

    /// Executes a write. Ambiguous failures (5xx, timeout) reset the observation the write
    /// depends on, so the planner re-reads before writing again.
    async fn write(&mut self, forge: &GitHub, action: &Action) -> Result<(), RegisterError> {
        let doc = self.current_document();
        let update = self.is_update();
        let body = match action {
            Action::OpenPr { .. } | Action::UpdatePr { .. } => pr::body(
                &doc,
                &self.observations,
                &self.candidate().path,
                &self.boot_id,
                self.previous_for_body(),
            ),
            _ => String::new(),
        };
        let (kind, result) = match action {
            Action::CreateBranch { branch, from_sha } => {
                logging::status(&format!("creating branch {branch}"));
                (
                    "branch",
                    forge
                        .create_branch(branch, from_sha)
                        .await
                        .map(Written::Branch),
                )
            }
            Action::ResetBranch { branch, to_sha } => (
                "reset",
                forge
                    .reset_branch(branch, to_sha)
                    .await
                    .map(|()| Written::Done),
            ),
            Action::WriteFile { path, branch, sha } => {
                logging::status(&format!("committing {path}"));
                let message = pr::commit_message(&doc, update);
                let r = forge
                    .write_file(path, branch, &doc.to_yaml(), &message, sha.as_deref())
                    .await;
                ("file", r.map(Written::File))
            }
            Action::OpenPr { branch, base } => {
                logging::status("opening the pull request");
                let r = forge
                    .open_pull(&pr::title(&doc, update), branch, base, &body)
                    .await;
                ("pull", r.map(Written::Pull))
            }
            Action::UpdatePr { number } => {
                let r = forge
                    .update_pull(*number, &pr::title(&doc, update), &body)
                    .await;
                ("update", r.map(|()| Written::Done))
            }
            Action::AddLabels { number } => (
                "labels",
                match forge.add_labels(*number, &self.cfg.labels).await {
                    // An optional step after the PR exists: GitHub's "no" is an answer, not a
                    // failure of the registration (rate limits, 5xx and timeouts still are).
                    Err(ForgeError::Forbidden { message, .. })
                    | Err(ForgeError::Unexpected { message, .. }) => Ok(Written::Refused(message)),
                    other => other.map(|()| Written::Done),
                },
            ),
            Action::DisableAutoMerge { number, pr_node_id } => {
                logging::status(&format!("turning off auto-merge for #{number}"));
                (
                    "auto_merge_off",
                    forge
                        .disable_auto_merge(pr_node_id)
                        .await
                        .map(Written::AutoMergeOff),
                )
            }
            Action::EnableAutoMerge {
                number,
                pr_node_id,
                method,
            } => {
                logging::status(&format!("turning on auto-merge for #{number}"));
                (
                    "auto_merge",
                    match forge.enable_auto_merge(pr_node_id, *method).await {
                        // A GraphQL answer enlist does not know (NOT_FOUND, an unknown type): a
                        // refusal like the others; the PR waits for a review.
                        Err(ForgeError::Unexpected { message, .. }) => Ok(Written::AutoMerge(
                            AutoMerge::Refused(Refusal::Other, message),
                        )),
                        other => other.map(Written::AutoMerge),
                    },
                )
            }
            Action::Comment { number, reason } => {
                let text = match reason {
                    CommentReason::FactsChanged => pr::comment(
                        &doc,
                        &self.boot_id,
                        Some(self.previous_for_comment(*number)),
                    ),
                    CommentReason::SeenAgain => pr::comment(&doc, &self.boot_id, None),
                    CommentReason::ForeignCommits => self.foreign_comment(*number),
                };
                (
                    "comment",
                    forge.comment(*number, &text).await.map(|()| Written::Done),
                )
            }
            other => {
                return Err(RegisterError::Internal(format!("{other:?} is not a write")));
            }
        };
        match result {
            Ok(written) => {
                self.check_repeats(action, &written)?;
                self.apply(action, written);
                if matches!(action, Action::WriteFile { .. }) {
                    self.remember_written_sha()?;
                }
                Ok(())
            }
            Err(e) if e.is_ambiguous() => {
                self.forget_after_ambiguous(action);
                let failures = self.write_failures.entry(kind).or_insert(0);
                *failures += 1;
                if *failures >= MAX_WRITE_ATTEMPTS {
                    return Err(e.into());
                }
                let wait = Duration::from_secs(1 << *failures)
                    + self.deps.clock.jitter(Duration::from_secs(1));
                if self.deps.clock.elapsed().saturating_add(wait) >= self.deadline {
                    return Err(e.into());
                }
                log::warn!(
                    "{e}; re-checking state and retrying in {:.1}s",
                    wait.as_secs_f64()
                );
                self.deps.clock.sleep(wait).await;
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }

    /// A commit this run made on the branch of a PR the marker records is the node's own: say so
    /// on disk at once, so a run that fails after it (before its own marker) does not take the
    /// commit for someone else's. The marker keeps everything else (its facts are still the
    /// registered ones); what this run observed is not changed (the PR's head as read before
    /// the write is what foreign commits are judged by).
    fn remember_written_sha(&self) -> Result<(), RegisterError> {
        let (Some(sha), Some(old)) = (&self.observed.written_sha, &self.observed.marker) else {
            return Ok(());
        };
        if old.state != MarkerState::Pending
            || old.pr_number.is_none()
            || old.node_id != self.candidate().node_id
        {
            return Ok(());
        }
        let mut marker = old.clone();
        marker.written_sha = Some(sha.clone());
        marker::write(&self.cfg.state_dir, &marker)?;
        Ok(())
    }

    /// A stale-sha answer or a 422 "already exists" on opening the PR is normal once (a race, a
    /// crash); the same again and again means GitHub and enlist disagree about the state, and
    /// looping would only burn writes.
    fn check_repeats(&mut self, action: &Action, written: &Written) -> Result<(), RegisterError> {
        let (kind, status, message) = match (action, written) {
            (Action::WriteFile { path, .. }, Written::File(FileWrite::Stale)) => (
                "stale",
                409,
                format!("{path} kept changing on the branch while enlist was writing it"),
            ),
            (Action::OpenPr { branch, .. }, Written::Pull(Created::AlreadyExists)) => (
                "adopt",
                422,
                format!("GitHub says a pull request for {branch} exists, but it is not listed"),
            ),
            _ => return Ok(()),
        };
        let repeats = self.write_failures.entry(kind).or_insert(0);
        *repeats += 1;
        if *repeats > MAX_WRITE_ATTEMPTS {
            return Err(ForgeError::Unexpected {
                what: format!("{action:?}"),
                status,
                message,
            }
            .into());
        }
        Ok(())
    }

    /// Folds a successful write into the observations.
    fn apply(&mut self, action: &Action, written: Written) {
        let o = &mut self.observed;
        match (action, written) {
            (Action::CreateBranch { branch, .. }, Written::Branch(created)) => {
                o.branch = match created {
                    Created::Created(()) => BranchView::FromBase,
                    Created::AlreadyExists => {
                        log::info!(
                            "branch {branch} already exists (left by an earlier run); completing it"
                        );
                        BranchView::Exists
                    }
                };
            }
            (Action::ResetBranch { .. }, _) => {
                o.branch = BranchView::FromBase;
                o.branch_reset = true;
                o.branch_file = None;
            }
            (Action::WriteFile { path, branch, .. }, Written::File(FileWrite::Stale)) => {
                log::info!("{path} changed on {branch} meanwhile; re-reading it");
                o.branch = BranchView::Exists;
                o.branch_file = None;
            }
            (Action::WriteFile { .. }, written) => {
                if let Written::File(FileWrite::Written(sha)) = written {
                    o.written_sha = sha;
                }
                o.file_written = true;
                o.branch_file = Some(Some(FileView {
                    sha: String::new(),
                    same_content: true,
                    foreign: false,
                }));
            }
            (Action::OpenPr { branch, .. }, Written::Pull(created)) => {
                o.pr_created_this_run = true;
                match created {
                    Created::Created(pr) => o.opened_pr = Some(view(&pr, &self.boot_id)),
                    Created::AlreadyExists => {
                        log::info!("a pull request for {branch} already exists; adopting it");
                        o.prs = None;
                    }
                }
            }
            (Action::UpdatePr { .. }, _) => o.pr_updated = true,
            (Action::EnableAutoMerge { .. }, Written::AutoMerge(AutoMerge::Enabled(method))) => {
                o.auto_merge = Some(AutoMergeRecord::Enabled { method });
            }
            (
                Action::EnableAutoMerge { number, .. },
                Written::AutoMerge(AutoMerge::Refused(refusal, message)),
            ) => {
                // Not a failure: the PR waits for review. Said once, recorded in the marker.
                // (GitHub's message was made inert where it was read, in the forge.)
                log::warn!(
                    "auto-merge not turned on for #{number}: GitHub says \"{message}\"; the \
                     repository owner should {}; the pull request waits for a review",
                    refusal.advice()
                );
                o.auto_merge = Some(AutoMergeRecord::Refused {
                    reason: refusal.as_str().to_owned(),
                    message: message.clone(),
                    advice: refusal.advice().to_owned(),
                });
            }
            (Action::AddLabels { number }, Written::Refused(message)) => {
                // Not a failure: the PR exists and the marker says so. Said once, recorded.
                log::warn!(
                    "labels not added to #{number}: GitHub says \"{message}\"; {}",
                    LABELS_ADVICE
                );
                o.labels_refused = Some(message);
            }
            (Action::AddLabels { .. }, _) => o.labels_added = true,
            (Action::DisableAutoMerge { number, .. }, Written::AutoMergeOff(answer)) => {
                let off = match answer {
                    AutoMergeOff::Off => {
                        log::warn!(
                            "#{number}: its branch has commits this node did not write; \
                             auto-merge turned off: a person reviews and merges it"
                        );
                        true
                    }
                    AutoMergeOff::Refused(refusal, message) => {
                        log::warn!(
                            "#{number}: its branch has commits this node did not write, and \
                             GitHub refused to turn auto-merge off (\"{message}\"); turn it off on \
                             the pull request now; the credential needs to {}",
                            refusal.advice()
                        );
                        false
                    }
                };
                o.auto_merge_disabled = Some(off);
            }
            (
                Action::Comment {
                    reason: CommentReason::ForeignCommits,
                    ..
                },
                _,
            ) => o.foreign_commented = true,
            (Action::Comment { .. }, _) => o.commented = true,
            _ => {}
        }
    }

    /// After a write whose effect is unknown, forget what it may have changed.
    fn forget_after_ambiguous(&mut self, action: &Action) {
        let o = &mut self.observed;
        match action {
            // Retrying the POST is safe: a branch that was created answers 422 "already exists".
            Action::CreateBranch { .. } => o.branch = BranchView::Unknown,
            Action::WriteFile { .. } => {
                o.branch = BranchView::Exists;
                o.branch_file = None;
                o.write_unconfirmed = true;
            }
            // It may have been created: list again before another POST, and do not comment on
            // our own new PR.
            Action::OpenPr { .. } => {
                o.pr_created_this_run = true;
                o.prs = None;
            }
            Action::Comment {
                reason: CommentReason::ForeignCommits,
                ..
            } => o.foreign_noted = None,
            Action::Comment { .. } => o.comments_mention_boot = None,
            // It may have been turned off: treat it as asked (the comment says what to check).
            Action::DisableAutoMerge { .. } => o.auto_merge_disabled = Some(false),
            // It may have been turned on: read the PR before asking again.
            Action::EnableAutoMerge { .. } => o.auto_merge_unknown = true,
            // PATCH ref/pull and POST labels are idempotent: simply retried.
            _ => {}
        }
    }

    fn record(
        &mut self,
        state: MarkerState,
        pr: Option<(u64, String)>,
        outcome: Outcome,
        counts: RequestCounts,
    ) -> Result<Report, RegisterError> {
        let pr_url = pr.as_ref().map(|(_, url)| url.clone());
        let marker = self.marker_for(state, pr);
        if self.cfg.dry_run {
            self.plan
                .push(format!("would record marker: {}", state.as_str()));
            self.plan.push(format!("outcome: {}", outcome.describe()));
        } else {
            marker::write(&self.cfg.state_dir, &marker)?;
        }
        let mut report = self.report(Some(outcome), pr_url, counts);
        report.recorded = Some(marker);
        Ok(report)
    }

    /// The PR `number` as this run saw it (the marker's, the one it opened, or one listed).
    fn seen_pr(&self, number: u64) -> Option<&PrView> {
        let o = &self.observed;
        o.marker_pr
            .iter()
            .chain(o.opened_pr.iter())
            .chain(o.prs.iter().flatten())
            .find(|p| p.number == number)
    }

    /// The marker this run records with `state` and `pr`.
    fn marker_for(&self, state: MarkerState, pr: Option<(u64, String)>) -> Marker {
        let now = marker::timestamp(self.deps.clock.now());
        // A pending marker that flips keeps its node id and path (they may be an extended id).
        let (node_id, path, created_at) = match &self.observed.marker {
            Some(old) if self.observed.marker_pr.is_some() => (
                old.node_id.clone(),
                old.path.clone(),
                old.created_at.clone(),
            ),
            Some(old) if old.node_id == self.candidate().node_id => (
                old.node_id.clone(),
                self.candidate().path.clone(),
                old.created_at.clone(),
            ),
            _ => (
                self.candidate().node_id.clone(),
                self.candidate().path.clone(),
                now.clone(),
            ),
        };
        let (pr_number, pr_url) = match pr {
            Some((number, url)) => (Some(number), Some(url)),
            None => (None, None),
        };
        // What the marker said about this very PR (carried over where this run learnt nothing).
        let same_pr = self
            .observed
            .marker
            .as_ref()
            .filter(|m| pr_number.is_some() && m.pr_number == pr_number);
        Marker {
            version: MARKER_VERSION,
            node_id,
            facts_hash: self.local.facts_hash.clone(),
            repo: self.cfg.repo.to_string(),
            path,
            state,
            pr_number,
            pr_url,
            created_at,
            updated_at: now,
            agent_version: env!("CARGO_PKG_VERSION").to_owned(),
            auto_merge: pr_number.and_then(|n| self.auto_merge_record(n)),
            checks: self.observed.checks.clone().or_else(|| {
                let old = same_pr?;
                old.checks.clone()
            }),
            written_sha: self
                .observed
                .written_sha
                .clone()
                .or_else(|| same_pr?.written_sha.clone()),
            // The base this PR was opened (or adopted) into: recorded once, never taken from the
            // PR as read later (a retargeted PR must not look right).
            base: pr_number.and_then(|_| {
                same_pr.and_then(|m| m.base.clone()).or_else(|| {
                    self.local
                        .base_branch
                        .clone()
                        .or_else(|| self.observed.default_branch.clone())
                })
            }),
            foreign_head: pr_number.and_then(|n| {
                let seen = self.seen_pr(n)?;
                if !planner::foreign_head(&self.observed, seen) {
                    return None;
                }
                same_pr
                    .and_then(|m| m.foreign_head.clone())
                    .or_else(|| Some(seen.head_sha.clone()))
            }),
            warnings: match &self.observed.labels_refused {
                Some(message) => vec![Warning {
                    step: planner::LABELS_STEP.to_owned(),
                    message: message.clone(),
                    advice: LABELS_ADVICE.to_owned(),
                }],
                None if self.observed.labels_added => Vec::new(),
                None => same_pr.map(|m| m.warnings.clone()).unwrap_or_default(),
            },
            added_labels: if self.observed.labels_added {
                self.cfg.labels.clone()
            } else {
                same_pr.map(|m| m.added_labels.clone()).unwrap_or_default()
            },
            boot_id: Some(self.local.boot_id.clone()),
        }
    }

    /// What the marker says about auto-merge of PR `number`: this run's answer, else what the PR
    /// showed (on, e.g. turned on by the repository's workflow), else why enlist did not ask,
    /// else what the marker said before.
    fn auto_merge_record(&self, number: u64) -> Option<AutoMergeRecord> {
        let o = &self.observed;
        let seen = self.seen_pr(number);
        if let Some(pr) = seen.filter(|pr| planner::foreign_head(o, pr)) {
            let old = o
                .marker
                .as_ref()
                .filter(|m| m.pr_number == Some(number))
                .and_then(|m| m.auto_merge.clone());
            if let (None, Some(old @ AutoMergeRecord::ForeignCommits { .. })) =
                (o.auto_merge_disabled, &old)
            {
                return Some(old.clone());
            }
            return Some(AutoMergeRecord::ForeignCommits {
                off: pr.auto_merge.is_none() || o.auto_merge_disabled == Some(true),
            });
        }
        if let Some(record) = &self.observed.auto_merge {
            return Some(record.clone());
        }
        if let Some(method) = seen.and_then(|p| p.auto_merge.clone()) {
            return Some(AutoMergeRecord::Enabled { method });
        }
        if seen.is_some_and(|pr| planner::turned_off_on_github(o, pr)) {
            return Some(AutoMergeRecord::TurnedOff);
        }
        let old = o
            .marker
            .as_ref()
            .filter(|m| m.pr_number == Some(number))
            .and_then(|m| m.auto_merge.clone());
        if old.is_some() {
            return old;
        }
        if self.cfg.auto_merge.is_none() {
            Some(AutoMergeRecord::Off)
        } else if planner::is_update(o) && o.host_keys_changed {
            Some(AutoMergeRecord::HostKeyChanged)
        } else if planner::is_update(o) && !self.cfg.auto_merge_updates {
            Some(AutoMergeRecord::NotForUpdates)
        } else {
            None
        }
    }
}

/// Runs reads through the readiness wait until GitHub has answered once.
struct Gate<'a> {
    clock: &'a dyn Clock,
    timeout: Duration,
    deadline: Duration,
    jitter_seed: Option<u64>,
    reached: &'a mut bool,
    forge: &'a GitHub,
}

impl Gate<'_> {
    async fn call<T, F, Fut>(self, op: F) -> Result<T, RegisterError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, ForgeError>>,
    {
        let mut op = op;
        if *self.reached {
            return Ok(op().await?);
        }
        logging::status("waiting for GitHub");
        let answer = wait_until_ready(
            self.clock,
            self.timeout,
            self.deadline,
            self.jitter_seed,
            op,
        )
        .await?;
        self.forge.mark_reached();
        *self.reached = true;
        Ok(answer?)
    }
}

/// What a successful write returned.
enum Written {
    Branch(Created<()>),
    File(FileWrite),
    Pull(Created<PullRequest>),
    AutoMerge(AutoMerge),
    AutoMergeOff(AutoMergeOff),
    /// GitHub refused an optional step (labels), with its message.
    Refused(String),
    Done,
}

/// What a refusal of the labels asks for, and of whom (marker, `enlist status`).
const LABELS_ADVICE: &str = "the repository owner should create the configured labels, or give \
     the node's credential Pull requests: write (labels are optional: the pull request is open \
     and pending without them)";

fn view(pr: &PullRequest, boot_id: &str) -> PrView {
    PrView {
        number: pr.number,
        open: pr.open,
        merged: pr.merged,
        facts_hash: pr::trailer_facts_hash(&pr.body),
        mentions_boot: pr::mentions_boot(&pr.body, boot_id),
        labels: pr.labels.clone(),
        url: pr.html_url.clone(),
        node_id: pr.node_id.clone(),
        head_sha: pr.head_sha.clone(),
        base_ref: pr.base_ref.clone(),
        auto_merge: pr.auto_merge.clone(),
    }
}

/// A token without Checks/Commit statuses: read still registers nodes; say what is missing.
fn unreadable_checks(error: &ForgeError) -> Checks {
    log::warn!(
        "{error}; to show the pull request's checks, also give the token Checks: read and \
         Commit statuses: read (registration goes on without them)"
    );
    Checks::unreadable()
}

fn pr_state(pr: &PrView) -> &'static str {
    match (pr.open, pr.merged) {
        (true, _) => "open",
        (false, true) => "merged",
        (false, false) => "closed",
    }
}

fn describe_upstream(upstream: &Upstream) -> &'static str {
    match upstream {
        Upstream::Absent => "absent",
        Upstream::Ours {
            same_facts: true, ..
        } => "this machine, same facts",
        Upstream::Ours { .. } => "this machine, other facts",
        Upstream::OtherIdentity => "another machine",
        Upstream::Invalid(_) => "invalid",
    }
}
