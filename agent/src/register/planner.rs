//! The registration decision, as a pure function: what was observed → the next action (SPEC §4).
//!
//! No I/O, no clock. The shell ([`super`]) executes the action, folds the result into
//! [`Observed`] and asks again, until the planner says [`Action::Record`] (write the marker and
//! stop), [`Action::Finish`] or [`Action::Fail`]. Every row of SPEC §4 is a case in the tests
//! below. `--dry-run` runs the same planner and pretends write actions succeeded.
//!
//! Order of questions, cheapest and safest first:
//! 1. a matching marker ends the run (pending: one read of its PR);
//! 2. repository → base branch head → upstream node.yaml (same identity and facts: done; another
//!    identity: extend the node id);
//! 3. PRs on the fixed branch: an open one is updated/commented, never duplicated; a closed
//!    unmerged one with these facts is a rejection;
//! 4. otherwise create (or adopt) the branch, make its file right, open (or adopt) the PR;
//! 5. across the finish line: turn on GitHub auto-merge for it (never for a facts update unless
//!    configured), so GitHub merges once the base branch's rules — the reconcile check — hold;
//! 6. a pending marker's later runs read the PR and its head commit's checks, and record a change;
//!    a head the node did not write (foreign commits) turns auto-merge off, once, with one comment;
//!    a PR closed unmerged is a rejection only when the base branch does not hold these facts.
//!
//! Once the PR exists the marker is written `pending` ([`Action::RecordPending`]) before any
//! optional step (labels, auto-merge): a refusal of one is a warning in the marker, never a
//! failure, and a pending run tries it again at most once per boot.

use super::marker::{AutoMergeRecord, CheckSource, Checks, ChecksState, Marker, MarkerState};

/// The `step` of a refused-labels [`super::marker::Warning`].
pub const LABELS_STEP: &str = "labels";
use crate::config::MergeMethod;
use crate::identity::NodeId;

/// What this machine wants registered.
#[derive(Clone, Debug)]
pub struct Local {
    /// This machine's `factsHash`.
    pub facts_hash: String,
    /// `owner/name`.
    pub repo: String,
    /// The operator-configured node id, if any (then no collision extension).
    pub configured_node_id: Option<NodeId>,
    /// Node ids to try in order, with their path and branch.
    pub candidates: Vec<Candidate>,
    /// Configured base branch (else the repository default).
    pub base_branch: Option<String>,
    /// Labels every registration PR must carry.
    pub labels: Vec<String>,
    /// Auto-merge's method (`None`: `auto_merge: off`).
    pub auto_merge: Option<MergeMethod>,
    /// Auto-merge for facts-update PRs too.
    pub auto_merge_updates: bool,
    /// This boot's id: a refused optional step is retried at most once per boot.
    pub boot_id: String,
}

/// One node id and where it lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    /// The id.
    pub node_id: NodeId,
    /// node.yaml path in the repository: the one the marker recorded for this node id when
    /// there is one (the node finds its registration by identity: a renamed host updates its
    /// file, never registers a second one), else the one the template gives.
    pub path: String,
    /// Fixed branch.
    pub branch: String,
    /// The path the template gives today, when the marker recorded another one: used only when
    /// the recorded file is gone from the base branch (a person moved or removed it).
    pub template_path: Option<String>,
}

impl Candidate {
    /// This candidate as the run uses it: at the template's path once the recorded one is gone.
    pub fn current(&self, o: &Observed) -> Candidate {
        match &self.template_path {
            Some(path) if o.recorded_path_gone => Candidate {
                path: path.clone(),
                template_path: None,
                ..self.clone()
            },
            _ => self.clone(),
        }
    }
}

/// The upstream node.yaml on the base branch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Upstream {
    /// No file.
    Absent,
    /// This machine's file (same identity fingerprint).
    Ours {
        /// Blob sha.
        sha: String,
        /// Its (verified) factsHash equals ours.
        same_facts: bool,
        /// Byte-identical to what we would write.
        same_content: bool,
    },
    /// Another machine's file under this node id.
    OtherIdentity,
    /// Not a valid node.yaml.
    Invalid(String),
}

/// A file on the node's branch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileView {
    /// Blob sha (to update it).
    pub sha: String,
    /// Byte-identical to what we would write.
    pub same_content: bool,
    /// It is another machine's node.yaml (another identity fingerprint): the branch, and any
    /// PR on it, belong to a machine whose id collides with ours.
    pub foreign: bool,
}

/// A PR on the node's branch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrView {
    /// Number.
    pub number: u64,
    /// Open.
    pub open: bool,
    /// Merged.
    pub merged: bool,
    /// `facts_hash` from the enlist trailer in the body.
    pub facts_hash: Option<String>,
    /// The body already carries this boot's id.
    pub mentions_boot: bool,
    /// Labels on the PR.
    pub labels: Vec<String>,
    /// Web URL.
    pub url: String,
    /// GraphQL node id.
    pub node_id: String,
    /// Head commit.
    pub head_sha: String,
    /// `base.ref`: the branch it merges into.
    pub base_ref: String,
    /// Auto-merge's method when it is on.
    pub auto_merge: Option<String>,
}

/// What is known about the node's branch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BranchView {
    /// Not asked yet.
    #[default]
    Unknown,
    /// Just created (or reset) from the base head: its file is the upstream file.
    FromBase,
    /// It existed already (a crash or an earlier PR left it): contents unknown until read.
    Exists,
}

/// Everything observed so far in this run.
#[derive(Clone, Debug, Default)]
pub struct Observed {
    /// The marker as read from disk.
    pub marker: Option<Marker>,
    /// The marker's PR, once read.
    pub marker_pr: Option<PrView>,
    /// Index into [`Local::candidates`].
    pub id_index: usize,
    /// The repository's default branch.
    pub default_branch: Option<String>,
    /// Head commit of the base branch.
    pub base_sha: Option<String>,
    /// The upstream file.
    pub upstream: Option<Upstream>,
    /// PRs whose head is the node's branch.
    pub prs: Option<Vec<PrView>>,
    /// The node's branch.
    pub branch: BranchView,
    /// The file on the branch (`Some(None)`: absent).
    pub branch_file: Option<Option<FileView>>,
    /// Whether any comment on the open PR carries this boot's id.
    pub comments_mention_boot: Option<bool>,
    /// Branch was reset to the base head this run.
    pub branch_reset: bool,
    /// The file was written this run.
    pub file_written: bool,
    /// The open PR's title/body were refreshed this run.
    pub pr_updated: bool,
    /// A comment was posted this run.
    pub commented: bool,
    /// The PR this run opened.
    pub opened_pr: Option<PrView>,
    /// This run opened the PR, or adopted one after a 422 "already exists" on its own create.
    pub pr_created_this_run: bool,
    /// Labels were added.
    pub labels_added: bool,
    /// What turning on auto-merge gave this run (on, or GitHub's refusal).
    pub auto_merge: Option<AutoMergeRecord>,
    /// The auto-merge mutation failed ambiguously (5xx, timeout): read the PR before sending it
    /// again.
    pub auto_merge_unknown: bool,
    /// The pending PR's head commit checks (check runs, else the combined status).
    pub checks: Option<Checks>,
    /// The registered node.yaml's SSH host keys differ from this machine's (issue 27): the
    /// update is never auto-merged, whatever `auto_merge_updates` says.
    pub host_keys_changed: bool,
    /// The marker was written `pending` this run, before the optional steps.
    pub pending_recorded: bool,
    /// GitHub refused the labels (its message, sanitised): not asked again this run.
    pub labels_refused: Option<String>,
    /// The commit this run wrote on the branch (the PR's head right after).
    pub written_sha: Option<String>,
    /// Auto-merge was turned off this run because of foreign commits (`false`: GitHub refused).
    pub auto_merge_disabled: Option<bool>,
    /// Whether a comment on the PR already notes the foreign commits (read with the comments).
    pub foreign_noted: Option<bool>,
    /// The foreign-commits comment was posted this run.
    pub foreign_commented: bool,
    /// The marker's recorded path is gone from the base branch: the template's path is used.
    pub recorded_path_gone: bool,
    /// A commit of this run got no answer (5xx, timeout): once the branch shows the node's file,
    /// the branch head is read for its sha (it is the node's own commit).
    pub write_unconfirmed: bool,
}

/// Why a comment is posted on an open PR.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CommentReason {
    /// The machine came up again (reinstalled, or lost its marker) while the PR is open.
    SeenAgain,
    /// The facts changed; the branch got a new commit.
    FactsChanged,
    /// Someone else pushed to the node's branch: auto-merge is off, a person decides.
    ForeignCommits,
}

/// How a successful run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Marker says registered: nothing asked.
    AlreadyRegistered,
    /// Marker says rejected: nothing asked.
    AlreadyRejected,
    /// Marker says pending and the PR is still open.
    StillPending,
    /// The pending PR was merged.
    Merged,
    /// The PR for these facts was closed without merge.
    Rejected,
    /// The upstream node.yaml already has these facts.
    UpstreamMatches,
    /// A PR for this node is open (commented, or nothing to add).
    PrInFlight,
    /// The open PR was brought up to date with new facts.
    PrUpdated,
    /// A new PR was opened (or adopted after a crash/race).
    PrOpened,
    /// The pending PR is open and its checks failed since the last run.
    ChecksFailed,
    /// The pending PR is open and its checks passed since the last run.
    ChecksPassed,
    /// The pending PR is open; its checks or auto-merge changed otherwise.
    ChecksUpdated,
    /// GitHub was unreachable or rate-limited on the last attempts of this boot: this
    /// unattended run waits (no request).
    BackingOff,
    /// An attempt of this boot with the same configuration and facts failed in a way a retry
    /// repeats (exit 65, 76, 77, 78, …): this unattended run does not try again (no request).
    HeldAfterFailure,
    /// The pending PR's branch has commits this node did not write: auto-merge turned off, the
    /// PR commented on once; a person merges or closes it.
    ForeignCommits,
}

impl Outcome {
    /// Human summary.
    pub fn describe(self) -> &'static str {
        match self {
            Outcome::AlreadyRegistered => "already registered (marker matches; no request made)",
            Outcome::AlreadyRejected => {
                "registration was rejected earlier (marker; no request made)"
            }
            Outcome::StillPending => "pull request still open",
            Outcome::Merged => "pull request merged: registered",
            Outcome::Rejected => {
                "pull request closed without merge: registration rejected, not retried"
            }
            Outcome::UpstreamMatches => "node.yaml already on the base branch: registered",
            Outcome::PrInFlight => "pull request already open",
            Outcome::PrUpdated => "open pull request updated with the new facts",
            Outcome::PrOpened => "pull request opened",
            Outcome::ChecksFailed => "pull request open: a check failed",
            Outcome::ChecksPassed => "pull request open: its checks passed",
            Outcome::ChecksUpdated => "pull request still open (checks updated)",
            Outcome::BackingOff => {
                "GitHub was unreachable or rate-limited on the last attempts: waiting (no request)"
            }
            Outcome::HeldAfterFailure => {
                "an earlier attempt this boot failed in a way a retry repeats: not trying again \
                 with the same configuration and facts (no request)"
            }
            Outcome::ForeignCommits => {
                "pull request open, but its branch has commits this node did not write: \
                 auto-merge off, a person decides"
            }
        }
    }

    /// The marker-only outcomes: no network call was made.
    pub fn is_marker_hit(self) -> bool {
        matches!(self, Outcome::AlreadyRegistered | Outcome::AlreadyRejected)
    }
}

/// Conditions the planner cannot resolve (exit 65).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// Every id length is taken by other machines.
    #[error(
        "node id collision: {path} (and every longer id up to {node_id}) belongs to another machine; \
         set node_id in the config to a unique name"
    )]
    Collision {
        /// The longest id tried.
        node_id: NodeId,
        /// Its path.
        path: String,
    },
    /// The configured id is another machine's.
    #[error(
        "configured node id {node_id} is already registered by another machine ({path}); choose another node_id"
    )]
    ConfiguredIdTaken {
        /// The id.
        node_id: NodeId,
        /// Its path.
        path: String,
    },
    /// No node id to try (a bug: the shell always provides at least one).
    #[error("internal error: no node id candidate; please report this")]
    NoCandidate,
    /// The upstream file is not a node.yaml.
    #[error(
        "upstream {path} is not a valid node.yaml ({message}); fix or remove it in the repository"
    )]
    InvalidUpstream {
        /// The path.
        path: String,
        /// Why.
        message: String,
    },
}

/// The next step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Read the PR a pending marker points to.
    ReadMarkerPr {
        /// PR number.
        number: u64,
    },
    /// Read the repository (default branch); the first request doubles as readiness probe.
    ReadRepo,
    /// Read the base branch head.
    ReadBaseRef {
        /// Base branch.
        branch: String,
    },
    /// Read node.yaml on the base branch.
    ReadUpstream {
        /// Path.
        path: String,
        /// Base branch.
        base: String,
    },
    /// List PRs of the node's branch into the base branch.
    ListPrs {
        /// Branch.
        branch: String,
        /// Base branch.
        base: String,
    },
    /// Read node.yaml on the node's branch.
    ReadBranchFile {
        /// Path.
        path: String,
        /// Branch.
        branch: String,
    },
    /// Read the open PR's comments (looking for this boot's id).
    ListComments {
        /// PR number.
        number: u64,
    },
    /// Read a PR again (whether auto-merge is on, after an ambiguous failure turning it on).
    ReadPr {
        /// PR number.
        number: u64,
    },
    /// Read the head of the node's branch: the commit a write without an answer made.
    ReadBranchHead {
        /// Branch.
        branch: String,
    },
    /// Read the check runs of the pending PR's head commit.
    ReadCheckRuns {
        /// Commit.
        sha: String,
    },
    /// Read the combined status of the pending PR's head commit (it has no check runs).
    ReadCombinedStatus {
        /// Commit.
        sha: String,
    },
    /// The current id belongs to another machine: use the next longer one.
    UseNextNodeId,
    /// Create the node's branch at the base head.
    CreateBranch {
        /// Branch.
        branch: String,
        /// Base head.
        from_sha: String,
    },
    /// Move a leftover branch (its PR was merged) back to the base head.
    ResetBranch {
        /// Branch.
        branch: String,
        /// Base head.
        to_sha: String,
    },
    /// Commit node.yaml on the node's branch.
    WriteFile {
        /// Path.
        path: String,
        /// Branch.
        branch: String,
        /// Current blob sha, when the file exists on the branch.
        sha: Option<String>,
    },
    /// Open the PR.
    OpenPr {
        /// Head branch.
        branch: String,
        /// Base branch.
        base: String,
    },
    /// Refresh title/body of the open PR (its trailer records the facts hash).
    UpdatePr {
        /// PR number.
        number: u64,
    },
    /// Add the configured labels.
    AddLabels {
        /// PR number.
        number: u64,
    },
    /// Comment on the open PR.
    Comment {
        /// PR number.
        number: u64,
        /// Why.
        reason: CommentReason,
    },
    /// Turn GitHub auto-merge off (GraphQL `disablePullRequestAutoMerge`): the branch has
    /// commits this node did not write.
    DisableAutoMerge {
        /// PR number.
        number: u64,
        /// The PR's GraphQL node id.
        pr_node_id: String,
    },
    /// Turn on GitHub auto-merge (GraphQL `enablePullRequestAutoMerge`).
    EnableAutoMerge {
        /// PR number.
        number: u64,
        /// The PR's GraphQL node id.
        pr_node_id: String,
        /// How GitHub merges.
        method: MergeMethod,
    },
    /// The PR exists: write the marker `pending` now, before any optional step, and go on.
    RecordPending {
        /// The PR (number, url).
        pr: (u64, String),
    },
    /// The file the marker recorded is gone from the base branch: use the template's path.
    UseTemplatePath,
    /// Write the marker and finish.
    Record {
        /// Marker state.
        state: MarkerState,
        /// The PR (number, url), if any.
        pr: Option<(u64, String)>,
        /// How the run ended.
        outcome: Outcome,
    },
    /// Finish without writing anything.
    Finish(Outcome),
    /// Stop with a data error.
    Fail(PlanError),
}

impl Action {
    /// Whether executing this action writes to GitHub.
    pub fn is_remote_write(&self) -> bool {
        matches!(
            self,
            Action::CreateBranch { .. }
                | Action::ResetBranch { .. }
                | Action::WriteFile { .. }
                | Action::OpenPr { .. }
                | Action::UpdatePr { .. }
                | Action::AddLabels { .. }
                | Action::Comment { .. }
                | Action::EnableAutoMerge { .. }
                | Action::DisableAutoMerge { .. }
        )
    }
}

/// Whether this run proposes new facts for a node already registered upstream (a hardware event
/// for a person to look at), rather than a first registration.
pub fn is_update(o: &Observed) -> bool {
    matches!(o.upstream, Some(Upstream::Ours { .. }))
}

/// Turning on auto-merge for `pr`, if configured, not yet on, and not a facts update (unless
/// `auto_merge_updates`, and never when the host keys changed: who can read the node's secrets
/// is for a person to decide). After an ambiguous failure the PR is read first: the mutation may
/// have landed.
fn auto_merge_action(local: &Local, o: &Observed, pr: &PrView) -> Option<Action> {
    let method = local.auto_merge?;
    if o.auto_merge.is_some()
        || pr.auto_merge.is_some()
        || pr.node_id.is_empty()
        || foreign_head(o, pr)
        || turned_off_on_github(o, pr)
    {
        return None;
    }
    if is_update(o) && (o.host_keys_changed || !local.auto_merge_updates) {
        return None;
    }
    if o.auto_merge_unknown {
        return Some(Action::ReadPr { number: pr.number });
    }
    Some(Action::EnableAutoMerge {
        number: pr.number,
        pr_node_id: pr.node_id.clone(),
        method,
    })
}

/// Whether auto-merge of `pr` was turned off on GitHub after enlist turned it on: the marker says
/// it is on (or already says it was turned off) for this PR, and the PR shows it off. A person
/// did that (to look first), or GitHub did after a push by someone without write access: either
/// way enlist leaves it off, records it, and `enlist status` stops promising a merge.
pub fn turned_off_on_github(o: &Observed, pr: &PrView) -> bool {
    pr.auto_merge.is_none()
        && o.auto_merge.is_none()
        && o.marker
            .as_ref()
            .filter(|m| m.pr_number == Some(pr.number))
            .is_some_and(|m| {
                matches!(
                    m.auto_merge,
                    Some(AutoMergeRecord::Enabled { .. } | AutoMergeRecord::TurnedOff)
                )
            })
}

/// A pending PR that is still open: read its head commit's checks (the combined status only when
/// there are no check runs), then record them if they (or auto-merge) changed since the marker.
fn pending_checks_action(marker: &Marker, o: &Observed, pr: &PrView) -> Action {
    if pr.head_sha.is_empty() {
        return Action::Finish(Outcome::StillPending);
    }
    let Some(checks) = &o.checks else {
        return Action::ReadCheckRuns {
            sha: pr.head_sha.clone(),
        };
    };
    if checks.source == CheckSource::CheckRuns && checks.checks.is_empty() {
        return Action::ReadCombinedStatus {
            sha: pr.head_sha.clone(),
        };
    }
    let before = marker.checks.as_ref().map(|c| c.state);
    // Turned on by someone else (the repository's workflow), or off since enlist turned it on.
    let auto_merge_news = match &pr.auto_merge {
        Some(method) => {
            marker.auto_merge.as_ref()
                != Some(&AutoMergeRecord::Enabled {
                    method: method.clone(),
                })
        }
        None => matches!(marker.auto_merge, Some(AutoMergeRecord::Enabled { .. })),
    };
    let outcome = match checks.state {
        ChecksState::Failed if before != Some(ChecksState::Failed) => Outcome::ChecksFailed,
        ChecksState::Passed if before != Some(ChecksState::Passed) => Outcome::ChecksPassed,
        _ if marker.checks.as_ref() != Some(checks) || auto_merge_news => Outcome::ChecksUpdated,
        // A refused optional step was tried again: the marker records this boot (and the answer).
        _ if retried(o) => Outcome::StillPending,
        _ => return Action::Finish(Outcome::StillPending),
    };
    Action::Record {
        state: MarkerState::Pending,
        pr: pr_ref(pr),
        outcome,
    }
}

/// Whether our PR lacks a configured label (a fresh PR, one adopted after a 422 or a crash) and
/// GitHub has not refused them this run. A label the marker says enlist added to this PR and the
/// PR lacks now was removed by a person or a bot: that stands (adding it back would be a write on
/// every run). GitHub's label names are case-insensitive (`Enlist` is the label `enlist`).
fn missing_labels(local: &Local, o: &Observed, pr: &PrView) -> bool {
    let added: &[String] = o
        .marker
        .as_ref()
        .filter(|m| m.pr_number == Some(pr.number))
        .map_or(&[], |m| m.added_labels.as_slice());
    let has = |list: &[String], label: &str| {
        list.iter()
            .any(|l| l.to_lowercase() == label.to_lowercase())
    };
    !o.labels_added
        && o.labels_refused.is_none()
        && local
            .labels
            .iter()
            .any(|l| !has(&pr.labels, l) && !has(added, l))
}

/// The optional steps for `pr` (labels, auto-merge), once the marker says `pending`.
fn optional_action(local: &Local, o: &Observed, pr: &PrView) -> Option<Action> {
    let next = if missing_labels(local, o, pr) {
        Action::AddLabels { number: pr.number }
    } else {
        auto_merge_action(local, o, pr)?
    };
    if !o.pending_recorded {
        return Some(Action::RecordPending {
            pr: (pr.number, pr.url.clone()),
        });
    }
    Some(next)
}

/// Whether `pr`'s head is not the commit this node last wrote on its branch (someone else pushed
/// to it), or the marker already says so for this PR. Unknown (an older marker, a PR the node
/// adopted without writing) counts as not foreign. The PR's head is as read before any write of
/// this run, so the node's own new commit never hides a foreign one.
pub fn foreign_head(o: &Observed, pr: &PrView) -> bool {
    let Some(m) = o.marker.as_ref().filter(|m| m.pr_number == Some(pr.number)) else {
        return false;
    };
    m.foreign_head.is_some()
        || m.written_sha
            .as_deref()
            .is_some_and(|w| !pr.head_sha.is_empty() && w != pr.head_sha)
        || retargeted(m, pr).is_some()
}

/// The base branch `pr` merges into now, when it is not the one the marker recorded for it:
/// someone else moved the PR (a branch nothing protects merges it at once). Like foreign
/// commits, the PR is a person's from then on.
pub fn retargeted<'a>(m: &Marker, pr: &'a PrView) -> Option<&'a str> {
    let recorded = m.base.as_deref()?;
    (m.pr_number == Some(pr.number) && !pr.base_ref.is_empty() && pr.base_ref != recorded)
        .then_some(pr.base_ref.as_str())
}

/// Foreign commits on `pr`'s branch, found now: turn auto-merge off (when on), then comment once
/// (a comment that already notes them counts: exactly one across runs). Never a write to the
/// branch. `None` when there is nothing (more) to do.
fn foreign_action(o: &Observed, pr: &PrView) -> Option<Action> {
    let recorded = o
        .marker
        .as_ref()
        .is_some_and(|m| m.pr_number == Some(pr.number) && m.foreign_head.is_some());
    if recorded || !foreign_head(o, pr) {
        return None;
    }
    if pr.auto_merge.is_some() && o.auto_merge_disabled.is_none() && !pr.node_id.is_empty() {
        return Some(Action::DisableAutoMerge {
            number: pr.number,
            pr_node_id: pr.node_id.clone(),
        });
    }
    if o.foreign_commented {
        return None;
    }
    match o.foreign_noted {
        None => Some(Action::ListComments { number: pr.number }),
        Some(false) => Some(Action::Comment {
            number: pr.number,
            reason: CommentReason::ForeignCommits,
        }),
        Some(true) => None,
    }
}

/// A pending run finishes the optional steps of its PR: one that never got an answer (the run
/// that opened the PR was stopped or failed after the marker said pending: a rate limit, a
/// SIGTERM) is done now; one GitHub refused is tried again at most once per boot (the marker then
/// records this boot). A PR whose labels are on and whose auto-merge is answered costs nothing.
fn complete_optional(local: &Local, o: &Observed, marker: &Marker, pr: &PrView) -> Option<Action> {
    if foreign_head(o, pr) {
        return None;
    }
    let new_boot = marker.boot_id.as_deref() != Some(local.boot_id.as_str());
    let labels_refused = marker.warnings.iter().any(|w| w.step == LABELS_STEP);
    if (new_boot || !labels_refused) && missing_labels(local, o, pr) {
        return Some(Action::AddLabels { number: pr.number });
    }
    match marker.auto_merge {
        None => {
            let action = auto_merge_action(local, o, pr)?;
            if marker.boot_id.is_some() {
                // Written by this enlist: a facts update records why it has no auto-merge
                // (`not_for_updates`, `host_key_changed`) before any optional step.
                return Some(action);
            }
            // Written by an enlist from before auto-merge: the PR may be a facts update (a
            // hardware event for a person, maybe a new host key). The upstream file says which.
            match &o.upstream {
                None => Some(match (&local.base_branch, &o.default_branch) {
                    (Some(base), _) | (None, Some(base)) => Action::ReadUpstream {
                        path: marker.path.clone(),
                        base: base.clone(),
                    },
                    (None, None) => Action::ReadRepo,
                }),
                // No file: a registration (a facts update gave `None` above).
                Some(Upstream::Absent) => Some(action),
                // Another machine's or an invalid file where this one's belongs: a person looks.
                Some(_) => None,
            }
        }
        Some(AutoMergeRecord::Refused { .. }) if new_boot => auto_merge_action(local, o, pr),
        _ => None,
    }
}

/// Whether this run did an optional step on a pending PR, or read the upstream file to decide one
/// (an older marker): the marker must then record it.
fn retried(o: &Observed) -> bool {
    o.labels_added || o.labels_refused.is_some() || o.auto_merge.is_some() || o.upstream.is_some()
}

fn pr_ref(pr: &PrView) -> Option<(u64, String)> {
    Some((pr.number, pr.url.clone()))
}

/// Decides the next action.
pub fn next_action(local: &Local, o: &Observed) -> Action {
    if let Some(action) = marker_action(local, o) {
        return action;
    }
    let Some(default_branch) = &o.default_branch else {
        return Action::ReadRepo;
    };
    let base = local
        .base_branch
        .clone()
        .unwrap_or_else(|| default_branch.clone());
    let Some(base_sha) = &o.base_sha else {
        return Action::ReadBaseRef { branch: base };
    };
    let Some(candidate) = local.candidates.get(o.id_index).map(|c| c.current(o)) else {
        return Action::Fail(PlanError::NoCandidate);
    };
    let candidate = &candidate;
    let Some(upstream) = &o.upstream else {
        return Action::ReadUpstream {
            path: candidate.path.clone(),
            base,
        };
    };
    // Registered at the recorded path, which is gone now (a person moved or removed the file):
    // look where the template puts it.
    if *upstream == Upstream::Absent
        && candidate.template_path.is_some()
        && o.marker
            .as_ref()
            .is_some_and(|m| m.state == MarkerState::Registered)
    {
        return Action::UseTemplatePath;
    }
    match upstream {
        Upstream::Invalid(message) => {
            return Action::Fail(PlanError::InvalidUpstream {
                path: candidate.path.clone(),
                message: message.clone(),
            });
        }
        Upstream::OtherIdentity => return collision(local, o, candidate),
        Upstream::Ours {
            same_facts: true, ..
        } => {
            return Action::Record {
                state: MarkerState::Registered,
                pr: None,
                outcome: Outcome::UpstreamMatches,
            };
        }
        Upstream::Ours { .. } | Upstream::Absent => {}
    }
    let Some(prs) = &o.prs else {
        return Action::ListPrs {
            branch: candidate.branch.clone(),
            base,
        };
    };
    if let Some(open) = prs.iter().filter(|p| p.open).max_by_key(|p| p.number) {
        return open_pr_action(local, o, candidate, open);
    }
    if let Some(closed) = prs
        .iter()
        .filter(|p| !p.open && !p.merged && p.facts_hash.as_deref() == Some(&local.facts_hash))
        .max_by_key(|p| p.number)
    {
        return Action::Record {
            state: MarkerState::Rejected,
            pr: pr_ref(closed),
            outcome: Outcome::Rejected,
        };
    }
    let file = match o.branch {
        BranchView::Unknown => {
            return Action::CreateBranch {
                branch: candidate.branch.clone(),
                from_sha: base_sha.clone(),
            };
        }
        BranchView::Exists if !o.branch_reset && !prs.is_empty() => {
            // Every PR listed here is closed (an open one was handled above): the branch still
            // holds a finished PR's commits — a merged registration, or a closed one's file at
            // another path (a rename, a template change) and whatever else was pushed to it.
            // Start it afresh so the new PR's diff is exactly the node's file.
            return Action::ResetBranch {
                branch: candidate.branch.clone(),
                to_sha: base_sha.clone(),
            };
        }
        BranchView::Exists => match &o.branch_file {
            None => {
                return Action::ReadBranchFile {
                    path: candidate.path.clone(),
                    branch: candidate.branch.clone(),
                };
            }
            Some(Some(file)) if file.foreign => return collision(local, o, candidate),
            Some(file) => file.clone(),
        },
        BranchView::FromBase => match upstream {
            Upstream::Ours {
                sha, same_content, ..
            } => Some(FileView {
                sha: sha.clone(),
                same_content: *same_content,
                foreign: false,
            }),
            _ => None,
        },
    };
    if !o.file_written && !file.as_ref().is_some_and(|f| f.same_content) {
        return Action::WriteFile {
            path: candidate.path.clone(),
            branch: candidate.branch.clone(),
            sha: file.map(|f| f.sha),
        };
    }
    if let Some(read) = unconfirmed_write(o, candidate) {
        return read;
    }
    match &o.opened_pr {
        None => Action::OpenPr {
            branch: candidate.branch.clone(),
            base,
        },
        Some(pr) => optional_action(local, o, pr).unwrap_or_else(|| Action::Record {
            state: MarkerState::Pending,
            pr: pr_ref(pr),
            outcome: Outcome::PrOpened,
        }),
    }
}

/// A commit of this run got no answer but the branch now holds the node's file: it landed, and
/// the branch head is that commit. Without its sha the next run would take the node's own commit
/// for someone else's (foreign commits: auto-merge off, a person called in).
fn unconfirmed_write(o: &Observed, candidate: &Candidate) -> Option<Action> {
    (o.write_unconfirmed && o.written_sha.is_none()).then(|| Action::ReadBranchHead {
        branch: candidate.branch.clone(),
    })
}

/// The current id belongs to another machine (its upstream file, or the file on the branch of
/// its open PR): extend the id, or give up when the id is configured or fully extended. Never
/// touch the other machine's file or PR.
fn collision(local: &Local, o: &Observed, candidate: &Candidate) -> Action {
    if local.configured_node_id.is_some() {
        Action::Fail(PlanError::ConfiguredIdTaken {
            node_id: candidate.node_id.clone(),
            path: candidate.path.clone(),
        })
    } else if o.id_index + 1 < local.candidates.len() {
        Action::UseNextNodeId
    } else {
        Action::Fail(PlanError::Collision {
            node_id: candidate.node_id.clone(),
            path: candidate.path.clone(),
        })
    }
}

fn marker_action(local: &Local, o: &Observed) -> Option<Action> {
    let marker = o.marker.as_ref().filter(|m| {
        m.matches(
            &local.facts_hash,
            &local.repo,
            local.configured_node_id.as_ref(),
        )
    })?;
    match marker.state {
        MarkerState::Registered => Some(Action::Finish(Outcome::AlreadyRegistered)),
        MarkerState::Rejected => Some(Action::Finish(Outcome::AlreadyRejected)),
        MarkerState::Pending => {
            // A pending marker without a PR number cannot be checked cheaply: fall through to the
            // full (idempotent) check.
            let number = marker.pr_number?;
            Some(match &o.marker_pr {
                None => Action::ReadMarkerPr { number },
                // Merged with changes this node did not make (commits, another base branch), or
                // by a marker from before enlist recorded the base: what reached the base branch
                // may not be these facts. Read it first (the full check below): these facts there
                // are a registration, other facts of this machine an update; anything else (no
                // file, another machine's, an invalid one) is a person's doing: rejected.
                Some(pr) if pr.merged && (foreign_head(o, pr) || marker.base.is_none()) => {
                    match &o.upstream {
                        None | Some(Upstream::Ours { .. }) => return None,
                        Some(_) => Action::Record {
                            state: MarkerState::Rejected,
                            pr: pr_ref(pr),
                            outcome: Outcome::Rejected,
                        },
                    }
                }
                Some(pr) if pr.merged => Action::Record {
                    state: MarkerState::Registered,
                    pr: pr_ref(pr),
                    outcome: Outcome::Merged,
                },
                // Closed unmerged: the file may have reached the base branch another way (a batch
                // PR, a cherry-pick). Read it first (the full check below); these facts there are
                // a registration, anything else a rejection.
                Some(pr) if !pr.open => match &o.upstream {
                    None
                    | Some(Upstream::Ours {
                        same_facts: true, ..
                    }) => return None,
                    Some(_) => Action::Record {
                        state: MarkerState::Rejected,
                        pr: pr_ref(pr),
                        outcome: Outcome::Rejected,
                    },
                },
                Some(pr) => {
                    if let Some(action) = foreign_action(o, pr) {
                        return Some(action);
                    }
                    let newly_foreign = foreign_head(o, pr) && marker.foreign_head.is_none();
                    if newly_foreign {
                        return Some(Action::Record {
                            state: MarkerState::Pending,
                            pr: pr_ref(pr),
                            outcome: Outcome::ForeignCommits,
                        });
                    }
                    if let Some(action) = complete_optional(local, o, marker, pr) {
                        return Some(action);
                    }
                    // What the optional steps brought is on disk before anything else is asked:
                    // a run that fails reading the checks does not repeat them (once per boot).
                    if retried(o) && !o.pending_recorded {
                        return Some(Action::RecordPending {
                            pr: (pr.number, pr.url.clone()),
                        });
                    }
                    pending_checks_action(marker, o, pr)
                }
            })
        }
    }
}

fn open_pr_action(local: &Local, o: &Observed, candidate: &Candidate, open: &PrView) -> Action {
    // Someone else pushed to the branch: auto-merge off and one comment before anything else.
    if let Some(action) = foreign_action(o, open) {
        return action;
    }
    let Some(file) = &o.branch_file else {
        return Action::ReadBranchFile {
            path: candidate.path.clone(),
            branch: candidate.branch.clone(),
        };
    };
    if file.as_ref().is_some_and(|f| f.foreign) {
        return collision(local, o, candidate);
    }
    if !o.file_written && !file.as_ref().is_some_and(|f| f.same_content) {
        return Action::WriteFile {
            path: candidate.path.clone(),
            branch: candidate.branch.clone(),
            sha: file.as_ref().map(|f| f.sha.clone()),
        };
    }
    if let Some(read) = unconfirmed_write(o, candidate) {
        return read;
    }
    if !o.pr_updated && open.facts_hash.as_deref() != Some(&local.facts_hash) {
        return Action::UpdatePr {
            number: open.number,
        };
    }
    if let Some(action) = optional_action(local, o, open) {
        return action;
    }
    if !o.pr_created_this_run && !open.mentions_boot && !o.commented {
        match o.comments_mention_boot {
            None => {
                return Action::ListComments {
                    number: open.number,
                };
            }
            Some(false) => {
                // The PR showed other facts (its trailer), whether this run committed the new file
                // or an interrupted earlier run did: the comment says what changed.
                let changed =
                    o.file_written || open.facts_hash.as_deref() != Some(&local.facts_hash);
                return Action::Comment {
                    number: open.number,
                    reason: if changed {
                        CommentReason::FactsChanged
                    } else {
                        CommentReason::SeenAgain
                    },
                };
            }
            Some(true) => {}
        }
    }
    let outcome = if o.pr_created_this_run {
        Outcome::PrOpened
    } else if o.file_written || o.pr_updated {
        Outcome::PrUpdated
    } else {
        Outcome::PrInFlight
    };
    Action::Record {
        state: MarkerState::Pending,
        pr: pr_ref(open),
        outcome,
    }
}

#[cfg(test)]
mod tests {
    //! One test per SPEC §4 row, stepping the planner with scripted observations.

    use super::*;
    use crate::forge::Check;

    const HASH: &str = "sha256:aaaa";
    const OTHER_HASH: &str = "sha256:bbbb";
    const BOOT: &str = "boot-2";

    fn local() -> Local {
        let ids = [
            "node-abc123",
            "node-abc12345",
            "node-abc1234567",
            "node-abc123456789",
        ];
        Local {
            facts_hash: HASH.into(),
            repo: "acme/fleet".into(),
            configured_node_id: None,
            candidates: ids
                .iter()
                .map(|id| Candidate {
                    node_id: NodeId::parse(id).unwrap(),
                    path: format!("cluster-nodes/{id}/node.yaml"),
                    branch: format!("enlist/{id}"),
                    template_path: None,
                })
                .collect(),
            base_branch: None,
            labels: vec![],
            auto_merge: None,
            auto_merge_updates: false,
            boot_id: BOOT.into(),
        }
    }

    fn marker(state: MarkerState, hash: &str) -> Marker {
        Marker {
            facts_hash: hash.into(),
            state,
            written_sha: Some("head7".into()),
            base: Some("main".into()),
            boot_id: Some("boot-1".into()),
            ..crate::register::marker::sample()
        }
    }

    fn pr(number: u64, open: bool, merged: bool, hash: &str) -> PrView {
        PrView {
            number,
            open,
            merged,
            facts_hash: Some(hash.into()),
            mentions_boot: false,
            labels: vec![],
            url: format!("https://github.com/acme/fleet/pull/{number}"),
            node_id: format!("PR_kwDOfake{number}"),
            head_sha: format!("head{number}"),
            base_ref: "main".into(),
            auto_merge: None,
        }
    }

    /// Observed after the three base reads, with `upstream`.
    fn after_base(upstream: Upstream) -> Observed {
        Observed {
            default_branch: Some("main".into()),
            base_sha: Some("base0".into()),
            upstream: Some(upstream),
            ..Observed::default()
        }
    }

    #[test]
    fn row1_registered_marker_means_no_request() {
        let o = Observed {
            marker: Some(marker(MarkerState::Registered, HASH)),
            ..Observed::default()
        };
        assert_eq!(
            next_action(&local(), &o),
            Action::Finish(Outcome::AlreadyRegistered)
        );
        let o = Observed {
            marker: Some(marker(MarkerState::Rejected, HASH)),
            ..Observed::default()
        };
        assert_eq!(
            next_action(&local(), &o),
            Action::Finish(Outcome::AlreadyRejected)
        );
    }

    #[test]
    fn row1_pending_marker_reads_its_pr_once_and_flips() {
        let mut o = Observed {
            marker: Some(marker(MarkerState::Pending, HASH)),
            ..Observed::default()
        };
        assert_eq!(
            next_action(&local(), &o),
            Action::ReadMarkerPr { number: 7 }
        );
        o.marker_pr = Some(pr(7, true, false, HASH));
        // Open: its head commit's checks are read (below, in the pending_checks rows).
        assert_eq!(
            next_action(&local(), &o),
            Action::ReadCheckRuns {
                sha: "head7".into()
            }
        );
        o.marker_pr = Some(pr(7, false, true, HASH));
        assert!(matches!(
            next_action(&local(), &o),
            Action::Record {
                state: MarkerState::Registered,
                outcome: Outcome::Merged,
                ..
            }
        ));
        o.marker_pr = Some(pr(7, false, false, HASH));
        // Closed unmerged: upstream first (a_closed_pr_whose_facts_are_upstream_is_a_registration).
        assert_eq!(next_action(&local(), &o), Action::ReadRepo);
        o.default_branch = Some("main".into());
        o.base_sha = Some("base0".into());
        o.upstream = Some(Upstream::Absent);
        assert!(matches!(
            next_action(&local(), &o),
            Action::Record {
                state: MarkerState::Rejected,
                outcome: Outcome::Rejected,
                ..
            }
        ));
    }

    /// Someone moved the node's PR to another base branch (one nothing protects merges it at
    /// once): open, it is treated like foreign commits (auto-merge off first); merged, it is no
    /// registration until the base branch says so. A marker from before enlist recorded the base
    /// checks the base branch on the merge too.
    #[test]
    fn a_retargeted_pr_is_a_persons_and_its_merge_is_checked_upstream() {
        let mut moved = pr(7, true, false, HASH);
        moved.base_ref = "release".into();
        moved.auto_merge = Some("squash".into());
        let mut o = Observed {
            marker: Some(marker(MarkerState::Pending, HASH)),
            marker_pr: Some(moved.clone()),
            ..Observed::default()
        };
        assert_eq!(
            o.marker.as_ref().unwrap().written_sha.as_deref(),
            Some("head7")
        );
        assert!(foreign_head(&o, &moved));
        assert_eq!(
            retargeted(o.marker.as_ref().unwrap(), &moved),
            Some("release")
        );
        assert!(matches!(
            next_action(&local(), &o),
            Action::DisableAutoMerge { number: 7, .. }
        ));
        moved.open = false;
        moved.merged = true;
        o.marker_pr = Some(moved);
        assert_eq!(next_action(&local(), &o), Action::ReadRepo);
        o.default_branch = Some("main".into());
        o.base_sha = Some("base0".into());
        for (upstream, registered) in [
            (Upstream::Absent, false),
            (Upstream::OtherIdentity, false),
            (Upstream::Invalid("x".into()), false),
            (
                Upstream::Ours {
                    same_facts: true,
                    same_content: true,
                    sha: "f".into(),
                },
                true,
            ),
        ] {
            o.upstream = Some(upstream.clone());
            let action = next_action(&local(), &o);
            let state = match &action {
                Action::Record { state, .. } => *state,
                other => panic!("{upstream:?}: {other:?}"),
            };
            assert_eq!(
                state,
                if registered {
                    MarkerState::Registered
                } else {
                    MarkerState::Rejected
                },
                "{upstream:?}"
            );
        }
        // An older marker (no base recorded): a merge is checked upstream too.
        let mut old = marker(MarkerState::Pending, HASH);
        old.base = None;
        let o = Observed {
            marker: Some(old),
            marker_pr: Some(pr(7, false, true, HASH)),
            ..Observed::default()
        };
        assert_eq!(next_action(&local(), &o), Action::ReadRepo);
    }

    /// A pending marker whose PR #7 is open.
    fn pending_open() -> Observed {
        Observed {
            marker: Some(marker(MarkerState::Pending, HASH)),
            marker_pr: Some(pr(7, true, false, HASH)),
            ..Observed::default()
        }
    }

    #[test]
    fn pending_checks_are_read_once_and_recorded_only_when_they_change() {
        let mut o = pending_open();
        o.checks = Some(Checks::new(
            CheckSource::CheckRuns,
            vec![Check::of_test("enlist reconcile", Some("failure"))],
        ));
        // Two reads (PR, check runs): the combined status is not needed.
        assert!(matches!(
            next_action(&local(), &o),
            Action::Record {
                state: MarkerState::Pending,
                outcome: Outcome::ChecksFailed,
                ..
            }
        ));
        // The marker already says so: nothing to record, nothing to announce.
        let mut known = marker(MarkerState::Pending, HASH);
        known.checks = o.checks.clone();
        o.marker = Some(known.clone());
        assert_eq!(
            next_action(&local(), &o),
            Action::Finish(Outcome::StillPending)
        );
        // Fixed and re-run: passed is news.
        o.checks = Some(Checks::new(
            CheckSource::CheckRuns,
            vec![Check::of_test("enlist reconcile", Some("success"))],
        ));
        assert!(matches!(
            next_action(&local(), &o),
            Action::Record {
                outcome: Outcome::ChecksPassed,
                ..
            }
        ));
        // Still running after a push: recorded (the status shows it), no event.
        o.checks = Some(Checks::new(
            CheckSource::CheckRuns,
            vec![Check::of_test("enlist reconcile", None)],
        ));
        assert!(matches!(
            next_action(&local(), &o),
            Action::Record {
                outcome: Outcome::ChecksUpdated,
                ..
            }
        ));
        // Auto-merge turned on by someone else (the repository's workflow) is recorded too.
        known.checks = o.checks.clone();
        o.marker = Some(known);
        assert_eq!(
            next_action(&local(), &o),
            Action::Finish(Outcome::StillPending)
        );
        o.marker_pr.as_mut().unwrap().auto_merge = Some("squash".into());
        assert!(matches!(
            next_action(&local(), &o),
            Action::Record {
                outcome: Outcome::ChecksUpdated,
                ..
            }
        ));
    }

    #[test]
    fn pending_without_check_runs_reads_the_combined_status_third() {
        let mut o = pending_open();
        o.checks = Some(Checks::new(CheckSource::CheckRuns, vec![]));
        assert_eq!(
            next_action(&local(), &o),
            Action::ReadCombinedStatus {
                sha: "head7".into()
            }
        );
        o.checks = Some(Checks::new(
            CheckSource::Statuses,
            vec![Check::of_test("ci/reconcile", Some("error"))],
        ));
        assert!(matches!(
            next_action(&local(), &o),
            Action::Record {
                outcome: Outcome::ChecksFailed,
                ..
            }
        ));
        // No statuses either: recorded once as "none", never read in a loop.
        o.checks = Some(Checks::new(CheckSource::Statuses, vec![]));
        assert!(matches!(
            next_action(&local(), &o),
            Action::Record {
                outcome: Outcome::ChecksUpdated,
                ..
            }
        ));
    }

    fn with_auto_merge() -> Local {
        Local {
            auto_merge: Some(MergeMethod::Squash),
            ..local()
        }
    }

    #[test]
    fn fresh_registration_turns_on_auto_merge_as_its_fourth_write() {
        let l = with_auto_merge();
        let mut o = after_base(Upstream::Absent);
        o.prs = Some(vec![]);
        o.branch = BranchView::FromBase;
        o.file_written = true;
        o.opened_pr = Some(pr(4, true, false, HASH));
        o.pr_created_this_run = true;
        // The marker says pending first: a refusal after this is never a failure.
        assert!(matches!(next_action(&l, &o), Action::RecordPending { .. }));
        o.pending_recorded = true;
        assert_eq!(
            next_action(&l, &o),
            Action::EnableAutoMerge {
                number: 4,
                pr_node_id: "PR_kwDOfake4".into(),
                method: MergeMethod::Squash
            }
        );
        o.auto_merge = Some(AutoMergeRecord::Enabled {
            method: "squash".into(),
        });
        assert!(matches!(
            next_action(&l, &o),
            Action::Record {
                outcome: Outcome::PrOpened,
                ..
            }
        ));
        // A refusal is an answer too: recorded, never retried in the run.
        o.auto_merge = Some(AutoMergeRecord::Refused {
            reason: "not_allowed".into(),
            message: "m".into(),
            advice: "a".into(),
        });
        assert!(matches!(next_action(&l, &o), Action::Record { .. }));
        // `auto_merge: off`: never asked.
        o.auto_merge = None;
        assert!(matches!(next_action(&local(), &o), Action::Record { .. }));
    }

    #[test]
    fn ambiguous_auto_merge_is_read_back_before_it_is_sent_again() {
        let l = with_auto_merge();
        let mut o = after_base(Upstream::Absent);
        o.prs = Some(vec![]);
        o.branch = BranchView::FromBase;
        o.file_written = true;
        o.opened_pr = Some(pr(4, true, false, HASH));
        o.pr_created_this_run = true;
        o.pending_recorded = true;
        o.auto_merge_unknown = true;
        assert_eq!(next_action(&l, &o), Action::ReadPr { number: 4 });
        o.auto_merge_unknown = false;
        assert!(matches!(
            next_action(&l, &o),
            Action::EnableAutoMerge { .. }
        ));
    }

    #[test]
    fn adopted_open_pr_gets_auto_merge_unless_it_has_it() {
        let l = with_auto_merge();
        let mut o = after_base(Upstream::Absent);
        o.prs = Some(vec![pr(5, true, false, HASH)]);
        o.branch_file = Some(Some(FileView {
            sha: "b1".into(),
            same_content: true,
            foreign: false,
        }));
        o.comments_mention_boot = Some(true);
        o.pending_recorded = true;
        assert!(matches!(
            next_action(&l, &o),
            Action::EnableAutoMerge { number: 5, .. }
        ));
        o.prs.as_mut().unwrap()[0].auto_merge = Some("merge".into());
        assert!(matches!(
            next_action(&l, &o),
            Action::Record {
                outcome: Outcome::PrInFlight,
                ..
            }
        ));
    }

    #[test]
    fn facts_update_waits_for_a_person_unless_auto_merge_updates() {
        let mut o = after_base(Upstream::Ours {
            sha: "f1".into(),
            same_facts: false,
            same_content: false,
        });
        o.prs = Some(vec![]);
        o.branch = BranchView::FromBase;
        o.file_written = true;
        o.opened_pr = Some(pr(6, true, false, HASH));
        o.pr_created_this_run = true;
        assert!(matches!(
            next_action(&with_auto_merge(), &o),
            Action::Record {
                outcome: Outcome::PrOpened,
                ..
            }
        ));
        let l = Local {
            auto_merge_updates: true,
            ..with_auto_merge()
        };
        o.pending_recorded = true;
        assert!(matches!(
            next_action(&l, &o),
            Action::EnableAutoMerge { number: 6, .. }
        ));
    }

    /// Issue 27: an update whose SSH host keys changed waits for a person even with
    /// `auto_merge_updates: true` (the node's secrets must be re-encrypted to its new key).
    #[test]
    fn a_host_key_change_is_never_auto_merged() {
        let mut o = after_base(Upstream::Ours {
            sha: "f1".into(),
            same_facts: false,
            same_content: false,
        });
        o.prs = Some(vec![]);
        o.branch = BranchView::FromBase;
        o.file_written = true;
        o.opened_pr = Some(pr(6, true, false, HASH));
        o.pr_created_this_run = true;
        o.host_keys_changed = true;
        let l = Local {
            auto_merge_updates: true,
            ..with_auto_merge()
        };
        assert!(matches!(
            next_action(&l, &o),
            Action::Record {
                outcome: Outcome::PrOpened,
                ..
            }
        ));
        // A first registration carries keys for the first time: nothing to compare, auto-merge
        // as usual (the flag is only ever set for an update).
        let mut first = o.clone();
        first.upstream = Some(Upstream::Absent);
        // (The marker says pending before any optional step.)
        assert!(matches!(
            next_action(&l, &first),
            Action::RecordPending { .. }
        ));
        first.pending_recorded = true;
        assert!(matches!(
            next_action(&l, &first),
            Action::EnableAutoMerge { number: 6, .. }
        ));
    }

    #[test]
    fn row1_marker_for_other_facts_or_repo_is_ignored() {
        let o = Observed {
            marker: Some(marker(MarkerState::Registered, OTHER_HASH)),
            ..Observed::default()
        };
        assert_eq!(next_action(&local(), &o), Action::ReadRepo);
        let mut other_repo = marker(MarkerState::Registered, HASH);
        other_repo.repo = "acme/other".into();
        let o = Observed {
            marker: Some(other_repo),
            ..Observed::default()
        };
        assert_eq!(next_action(&local(), &o), Action::ReadRepo);
        let mut l = local();
        l.configured_node_id = Some(NodeId::parse("rack1-n1").unwrap());
        let o = Observed {
            marker: Some(marker(MarkerState::Registered, HASH)),
            ..Observed::default()
        };
        assert_eq!(next_action(&l, &o), Action::ReadRepo);
    }

    #[test]
    fn fresh_registration_is_read_repo_ref_upstream_prs_then_three_writes() {
        let l = local();
        let mut o = Observed::default();
        let mut steps = Vec::new();
        loop {
            let action = next_action(&l, &o);
            steps.push(action.clone());
            match action {
                Action::ReadRepo => o.default_branch = Some("main".into()),
                Action::ReadBaseRef { .. } => o.base_sha = Some("base0".into()),
                Action::ReadUpstream { .. } => o.upstream = Some(Upstream::Absent),
                Action::ListPrs { .. } => o.prs = Some(vec![]),
                Action::CreateBranch { .. } => o.branch = BranchView::FromBase,
                Action::WriteFile { .. } => o.file_written = true,
                Action::OpenPr { .. } => {
                    o.opened_pr = Some(pr(1, true, false, HASH));
                    o.pr_created_this_run = true;
                }
                _ => break,
            }
        }
        assert_eq!(steps.len(), 8, "{steps:#?}");
        assert_eq!(steps.iter().filter(|a| a.is_remote_write()).count(), 3);
        assert_eq!(
            steps[3],
            Action::ListPrs {
                branch: "enlist/node-abc123".into(),
                base: "main".into(),
            }
        );
        assert!(matches!(
            steps[4],
            Action::CreateBranch { ref from_sha, .. } if from_sha == "base0"
        ));
        assert!(matches!(steps[5], Action::WriteFile { sha: None, .. }));
        assert!(matches!(
            steps[7],
            Action::Record {
                state: MarkerState::Pending,
                outcome: Outcome::PrOpened,
                ..
            }
        ));
    }

    #[test]
    fn row3_upstream_with_same_identity_and_facts_is_registered() {
        let o = after_base(Upstream::Ours {
            sha: "f1".into(),
            same_facts: true,
            same_content: true,
        });
        assert_eq!(
            next_action(&local(), &o),
            Action::Record {
                state: MarkerState::Registered,
                pr: None,
                outcome: Outcome::UpstreamMatches
            }
        );
    }

    #[test]
    fn row3_upstream_with_other_facts_updates_through_a_pr() {
        let mut o = after_base(Upstream::Ours {
            sha: "f1".into(),
            same_facts: false,
            same_content: false,
        });
        o.prs = Some(vec![]);
        assert!(matches!(
            next_action(&local(), &o),
            Action::CreateBranch { .. }
        ));
        o.branch = BranchView::FromBase;
        // The branch starts with the upstream file, so the write must carry its sha.
        assert_eq!(
            next_action(&local(), &o),
            Action::WriteFile {
                path: "cluster-nodes/node-abc123/node.yaml".into(),
                branch: "enlist/node-abc123".into(),
                sha: Some("f1".into())
            }
        );
    }

    #[test]
    fn row3_other_identity_extends_the_id_then_gives_up() {
        let l = local();
        let mut o = after_base(Upstream::OtherIdentity);
        for index in 0..3 {
            o.id_index = index;
            assert_eq!(next_action(&l, &o), Action::UseNextNodeId);
        }
        o.id_index = 3;
        assert!(matches!(
            next_action(&l, &o),
            Action::Fail(PlanError::Collision { .. })
        ));
        let mut configured = local();
        configured.configured_node_id = Some(NodeId::parse("rack1-n1").unwrap());
        o.id_index = 0;
        assert!(matches!(
            next_action(&configured, &o),
            Action::Fail(PlanError::ConfiguredIdTaken { .. })
        ));
    }

    #[test]
    fn row3_invalid_upstream_is_a_data_error() {
        let o = after_base(Upstream::Invalid("not yaml".into()));
        assert!(matches!(
            next_action(&local(), &o),
            Action::Fail(PlanError::InvalidUpstream { .. })
        ));
    }

    #[test]
    fn row4_open_pr_same_facts_gets_one_comment_per_boot() {
        let mut o = after_base(Upstream::Absent);
        o.prs = Some(vec![pr(5, true, false, HASH)]);
        assert!(matches!(
            next_action(&local(), &o),
            Action::ReadBranchFile { .. }
        ));
        o.branch_file = Some(Some(FileView {
            sha: "b1".into(),
            same_content: true,
            foreign: false,
        }));
        assert_eq!(
            next_action(&local(), &o),
            Action::ListComments { number: 5 }
        );
        o.comments_mention_boot = Some(false);
        assert_eq!(
            next_action(&local(), &o),
            Action::Comment {
                number: 5,
                reason: CommentReason::SeenAgain
            }
        );
        o.commented = true;
        assert!(matches!(
            next_action(&local(), &o),
            Action::Record {
                state: MarkerState::Pending,
                outcome: Outcome::PrInFlight,
                ..
            }
        ));
        // Same boot again (e.g. the unit restarted): the comment is there, so no second one.
        o.commented = false;
        o.comments_mention_boot = Some(true);
        assert!(matches!(
            next_action(&local(), &o),
            Action::Record {
                outcome: Outcome::PrInFlight,
                ..
            }
        ));
    }

    #[test]
    fn row4_open_pr_other_facts_gets_commit_update_and_comment_never_a_second_pr() {
        let mut o = after_base(Upstream::Absent);
        o.prs = Some(vec![pr(5, true, false, OTHER_HASH)]);
        o.branch_file = Some(Some(FileView {
            sha: "b1".into(),
            same_content: false,
            foreign: false,
        }));
        assert_eq!(
            next_action(&local(), &o),
            Action::WriteFile {
                path: "cluster-nodes/node-abc123/node.yaml".into(),
                branch: "enlist/node-abc123".into(),
                sha: Some("b1".into())
            }
        );
        o.file_written = true;
        assert_eq!(next_action(&local(), &o), Action::UpdatePr { number: 5 });
        o.pr_updated = true;
        o.comments_mention_boot = Some(false);
        assert_eq!(
            next_action(&local(), &o),
            Action::Comment {
                number: 5,
                reason: CommentReason::FactsChanged
            }
        );
        o.commented = true;
        assert!(matches!(
            next_action(&local(), &o),
            Action::Record {
                outcome: Outcome::PrUpdated,
                ..
            }
        ));
    }

    #[test]
    fn interrupted_update_is_finished_and_its_comment_says_the_facts_changed() {
        // An earlier run committed the new file, then died before updating the PR: the branch is
        // right, the PR's trailer still has the old facts.
        let mut o = after_base(Upstream::Absent);
        o.prs = Some(vec![pr(5, true, false, OTHER_HASH)]);
        o.branch_file = Some(Some(FileView {
            sha: "b2".into(),
            same_content: true,
            foreign: false,
        }));
        assert_eq!(next_action(&local(), &o), Action::UpdatePr { number: 5 });
        o.pr_updated = true;
        o.comments_mention_boot = Some(false);
        assert_eq!(
            next_action(&local(), &o),
            Action::Comment {
                number: 5,
                reason: CommentReason::FactsChanged
            }
        );
    }

    #[test]
    fn row4_closed_unmerged_same_facts_is_rejected_without_write() {
        let mut o = after_base(Upstream::Absent);
        o.prs = Some(vec![pr(3, false, false, HASH)]);
        assert!(matches!(
            next_action(&local(), &o),
            Action::Record {
                state: MarkerState::Rejected,
                outcome: Outcome::Rejected,
                ..
            }
        ));
    }

    #[test]
    fn row4_closed_unmerged_other_facts_continues_to_a_new_pr() {
        let mut o = after_base(Upstream::Absent);
        o.prs = Some(vec![pr(3, false, false, OTHER_HASH)]);
        assert!(matches!(
            next_action(&local(), &o),
            Action::CreateBranch { .. }
        ));
    }

    #[test]
    fn row5_leftover_branch_without_pr_is_completed() {
        let mut o = after_base(Upstream::Absent);
        o.prs = Some(vec![]);
        o.branch = BranchView::Exists;
        assert!(matches!(
            next_action(&local(), &o),
            Action::ReadBranchFile { .. }
        ));
        // The crash happened after the commit: no second write, just the PR.
        o.branch_file = Some(Some(FileView {
            sha: "b1".into(),
            same_content: true,
            foreign: false,
        }));
        assert!(matches!(next_action(&local(), &o), Action::OpenPr { .. }));
        // The crash happened before the commit: write without sha.
        o.branch_file = Some(None);
        assert!(matches!(
            next_action(&local(), &o),
            Action::WriteFile { sha: None, .. }
        ));
    }

    #[test]
    fn row5_branch_of_a_merged_pr_is_reset_before_reuse() {
        let mut o = after_base(Upstream::Absent);
        o.prs = Some(vec![pr(2, false, true, OTHER_HASH)]);
        o.branch = BranchView::Exists;
        assert!(matches!(
            next_action(&local(), &o),
            Action::ResetBranch { .. }
        ));
        o.branch_reset = true;
        o.branch = BranchView::FromBase;
        assert!(matches!(
            next_action(&local(), &o),
            Action::WriteFile { sha: None, .. }
        ));
    }

    #[test]
    fn row5_pr_adopted_after_422_is_not_commented() {
        let mut o = after_base(Upstream::Absent);
        o.branch = BranchView::FromBase;
        o.file_written = true;
        o.pr_created_this_run = true;
        o.prs = Some(vec![pr(9, true, false, HASH)]);
        o.branch_file = Some(Some(FileView {
            sha: String::new(),
            same_content: true,
            foreign: false,
        }));
        assert!(matches!(
            next_action(&local(), &o),
            Action::Record {
                outcome: Outcome::PrOpened,
                ..
            }
        ));
    }

    #[test]
    fn open_pr_of_a_colliding_machine_extends_the_id_never_touches_it() {
        let mut o = after_base(Upstream::Absent);
        o.prs = Some(vec![pr(5, true, false, OTHER_HASH)]);
        o.branch_file = Some(Some(FileView {
            sha: "b1".into(),
            same_content: false,
            foreign: true,
        }));
        assert_eq!(next_action(&local(), &o), Action::UseNextNodeId);
        // A leftover branch (no PR) holding another machine's file: the same.
        let mut o = after_base(Upstream::Absent);
        o.prs = Some(vec![]);
        o.branch = BranchView::Exists;
        o.branch_file = o_foreign();
        assert_eq!(next_action(&local(), &o), Action::UseNextNodeId);
    }

    fn o_foreign() -> Option<Option<FileView>> {
        Some(Some(FileView {
            sha: "b1".into(),
            same_content: false,
            foreign: true,
        }))
    }

    #[test]
    fn adopted_pr_gets_its_missing_labels() {
        let mut l = local();
        l.labels = vec!["enlist".into()];
        let mut o = after_base(Upstream::Absent);
        o.branch = BranchView::FromBase;
        o.file_written = true;
        o.pr_created_this_run = true;
        o.prs = Some(vec![pr(9, true, false, HASH)]);
        o.branch_file = Some(Some(FileView {
            sha: String::new(),
            same_content: true,
            foreign: false,
        }));
        assert!(matches!(next_action(&l, &o), Action::RecordPending { .. }));
        o.pending_recorded = true;
        assert_eq!(next_action(&l, &o), Action::AddLabels { number: 9 });
        o.labels_added = true;
        assert!(matches!(
            next_action(&l, &o),
            Action::Record {
                outcome: Outcome::PrOpened,
                ..
            }
        ));
    }

    #[test]
    fn labels_are_added_after_opening() {
        let mut l = local();
        l.labels = vec!["enlist".into()];
        let mut o = after_base(Upstream::Absent);
        o.prs = Some(vec![]);
        o.branch = BranchView::FromBase;
        o.file_written = true;
        o.opened_pr = Some(pr(4, true, false, HASH));
        o.pr_created_this_run = true;
        o.pending_recorded = true;
        assert_eq!(next_action(&l, &o), Action::AddLabels { number: 4 });
        o.labels_added = true;
        assert!(matches!(next_action(&l, &o), Action::Record { .. }));
    }

    #[test]
    fn configured_base_branch_is_used() {
        let mut l = local();
        l.base_branch = Some("staging".into());
        let o = Observed {
            default_branch: Some("main".into()),
            ..Observed::default()
        };
        assert_eq!(
            next_action(&l, &o),
            Action::ReadBaseRef {
                branch: "staging".into()
            }
        );
    }

    /// A fresh registration whose PR #4 was just opened, with labels and auto-merge configured.
    fn just_opened() -> (Local, Observed) {
        let l = Local {
            labels: vec!["enlist".into()],
            ..with_auto_merge()
        };
        let mut o = after_base(Upstream::Absent);
        o.prs = Some(vec![]);
        o.branch = BranchView::FromBase;
        o.file_written = true;
        o.opened_pr = Some(pr(4, true, false, HASH));
        o.pr_created_this_run = true;
        (l, o)
    }

    #[test]
    fn the_marker_says_pending_before_any_optional_step() {
        let (l, mut o) = just_opened();
        assert_eq!(
            next_action(&l, &o),
            Action::RecordPending {
                pr: (4, "https://github.com/acme/fleet/pull/4".into())
            }
        );
        o.pending_recorded = true;
        assert_eq!(next_action(&l, &o), Action::AddLabels { number: 4 });
        // Without optional steps there is nothing to protect: one marker write, at the end.
        let (_, mut plain) = just_opened();
        plain.pending_recorded = false;
        assert!(matches!(
            next_action(&local(), &plain),
            Action::Record {
                outcome: Outcome::PrOpened,
                ..
            }
        ));
    }

    #[test]
    fn refused_labels_are_a_warning_and_auto_merge_still_follows() {
        let (l, mut o) = just_opened();
        o.pending_recorded = true;
        o.labels_refused = Some("Resource not accessible by integration".into());
        assert!(matches!(
            next_action(&l, &o),
            Action::EnableAutoMerge { number: 4, .. }
        ));
        // A refused auto-merge (FORBIDDEN included) is an answer too: recorded, exit 0.
        o.auto_merge = Some(AutoMergeRecord::Refused {
            reason: "forbidden".into(),
            message: "Resource not accessible by integration".into(),
            advice: "a".into(),
        });
        assert!(matches!(
            next_action(&l, &o),
            Action::Record {
                state: MarkerState::Pending,
                outcome: Outcome::PrOpened,
                ..
            }
        ));
    }

    /// A pending marker (written in boot-1) whose labels and auto-merge were refused.
    fn pending_refused() -> (Local, Observed) {
        let l = Local {
            labels: vec!["enlist".into()],
            ..with_auto_merge()
        };
        let mut m = marker(MarkerState::Pending, HASH);
        m.warnings = vec![super::super::marker::Warning {
            step: LABELS_STEP.into(),
            message: "m".into(),
            advice: "a".into(),
        }];
        m.auto_merge = Some(AutoMergeRecord::Refused {
            reason: "not_allowed".into(),
            message: "m".into(),
            advice: "a".into(),
        });
        let mut o = Observed {
            marker: Some(m),
            marker_pr: Some(pr(7, true, false, HASH)),
            checks: Some(Checks::new(CheckSource::Statuses, vec![])),
            ..Observed::default()
        };
        o.marker.as_mut().unwrap().checks = o.checks.clone();
        (l, o)
    }

    #[test]
    fn refused_optional_steps_are_retried_at_most_once_per_boot() {
        let (l, mut o) = pending_refused();
        // A new boot: labels again, then auto-merge again, then the marker records this boot.
        assert_eq!(next_action(&l, &o), Action::AddLabels { number: 7 });
        o.labels_added = true;
        assert!(matches!(
            next_action(&l, &o),
            Action::EnableAutoMerge { number: 7, .. }
        ));
        o.auto_merge = Some(AutoMergeRecord::Enabled {
            method: "squash".into(),
        });
        // On disk before anything else is asked (a_retried_optional_step_is_recorded_…).
        assert_eq!(
            next_action(&l, &o),
            Action::RecordPending {
                pr: (7, "https://github.com/acme/fleet/pull/7".into())
            }
        );
        o.pending_recorded = true;
        assert!(matches!(
            next_action(&l, &o),
            Action::Record {
                state: MarkerState::Pending,
                ..
            }
        ));
        // The same boot as the marker's: no write at all.
        let (l, mut o) = pending_refused();
        o.marker.as_mut().unwrap().boot_id = Some(BOOT.into());
        assert_eq!(next_action(&l, &o), Action::Finish(Outcome::StillPending));
    }

    #[test]
    fn a_pending_pr_whose_optional_steps_never_got_an_answer_gets_them_now() {
        // The run that opened the PR said pending, then was rate-limited past its budget (75)
        // before turning auto-merge on: the restart finishes the job, in the same boot.
        let l = with_auto_merge();
        let mut o = pending_open();
        o.marker.as_mut().unwrap().boot_id = Some(BOOT.into());
        assert!(matches!(
            next_action(&l, &o),
            Action::EnableAutoMerge { number: 7, .. }
        ));
        o.auto_merge = Some(AutoMergeRecord::Enabled {
            method: "squash".into(),
        });
        assert_eq!(
            next_action(&l, &o),
            Action::RecordPending {
                pr: (7, "https://github.com/acme/fleet/pull/7".into())
            }
        );
        o.pending_recorded = true;
        assert_eq!(
            next_action(&l, &o),
            Action::ReadCheckRuns {
                sha: "head7".into()
            }
        );
        // Answered (on, off by configuration, a facts update): nothing to do, no write.
        for answered in [
            AutoMergeRecord::Enabled {
                method: "squash".into(),
            },
            AutoMergeRecord::Off,
            AutoMergeRecord::NotForUpdates,
        ] {
            let mut o = pending_open();
            o.marker.as_mut().unwrap().auto_merge = Some(answered);
            assert_eq!(
                next_action(&l, &o),
                Action::ReadCheckRuns {
                    sha: "head7".into()
                }
            );
        }
    }

    #[test]
    fn foreign_commits_turn_auto_merge_off_and_comment_once() {
        let l = with_auto_merge();
        let mut o = pending_open();
        {
            let pr = o.marker_pr.as_mut().unwrap();
            pr.head_sha = "someone-else".into();
            pr.auto_merge = Some("squash".into());
        }
        assert_eq!(
            next_action(&l, &o),
            Action::DisableAutoMerge {
                number: 7,
                pr_node_id: "PR_kwDOfake7".into()
            }
        );
        o.auto_merge_disabled = Some(true);
        assert_eq!(next_action(&l, &o), Action::ListComments { number: 7 });
        o.foreign_noted = Some(false);
        assert_eq!(
            next_action(&l, &o),
            Action::Comment {
                number: 7,
                reason: CommentReason::ForeignCommits
            }
        );
        o.foreign_commented = true;
        assert!(matches!(
            next_action(&l, &o),
            Action::Record {
                state: MarkerState::Pending,
                outcome: Outcome::ForeignCommits,
                ..
            }
        ));
        // A comment already there (a crash after it): not a second one.
        o.foreign_commented = false;
        o.foreign_noted = Some(true);
        assert!(matches!(
            next_action(&l, &o),
            Action::Record {
                outcome: Outcome::ForeignCommits,
                ..
            }
        ));
        // Recorded: later boots read as usual (≤ 3 reads), write nothing, never turn it back on.
        o.marker.as_mut().unwrap().foreign_head = Some("someone-else".into());
        o.marker_pr.as_mut().unwrap().auto_merge = None;
        assert_eq!(
            next_action(&l, &o),
            Action::ReadCheckRuns {
                sha: "someone-else".into()
            }
        );
        // Nothing foreign (the head is what the node wrote): the usual reads, no write.
        let mut o = pending_open();
        o.marker.as_mut().unwrap().auto_merge = Some(AutoMergeRecord::Enabled {
            method: "squash".into(),
        });
        assert_eq!(
            next_action(&l, &o),
            Action::ReadCheckRuns {
                sha: "head7".into()
            }
        );
    }

    #[test]
    fn an_open_pr_with_foreign_commits_never_gets_auto_merge_back() {
        let l = with_auto_merge();
        // The facts changed while the PR was open, and someone pushed to the branch meanwhile.
        let mut o = after_base(Upstream::Absent);
        o.marker = Some(marker(MarkerState::Pending, OTHER_HASH));
        let mut open = pr(7, true, false, OTHER_HASH);
        open.head_sha = "someone-else".into();
        o.prs = Some(vec![open]);
        assert_eq!(next_action(&l, &o), Action::ListComments { number: 7 });
        o.foreign_noted = Some(true);
        o.comments_mention_boot = Some(true);
        assert!(matches!(next_action(&l, &o), Action::ReadBranchFile { .. }));
        o.branch_file = Some(Some(FileView {
            sha: "b1".into(),
            same_content: true,
            foreign: false,
        }));
        o.pr_updated = true;
        // Not EnableAutoMerge: the PR is a person's now.
        assert!(matches!(
            next_action(&l, &o),
            Action::Record {
                state: MarkerState::Pending,
                ..
            }
        ));
    }

    #[test]
    fn a_closed_pr_whose_facts_are_upstream_is_a_registration() {
        let mut o = pending_open();
        o.marker_pr = Some(pr(7, false, false, HASH));
        // Upstream first (the full check's reads), not "rejected" at once.
        assert_eq!(next_action(&local(), &o), Action::ReadRepo);
        o.default_branch = Some("main".into());
        o.base_sha = Some("base0".into());
        assert!(matches!(
            next_action(&local(), &o),
            Action::ReadUpstream { .. }
        ));
        o.upstream = Some(Upstream::Ours {
            sha: "f1".into(),
            same_facts: true,
            same_content: true,
        });
        assert!(matches!(
            next_action(&local(), &o),
            Action::Record {
                state: MarkerState::Registered,
                outcome: Outcome::UpstreamMatches,
                ..
            }
        ));
        o.upstream = Some(Upstream::Absent);
        assert!(matches!(
            next_action(&local(), &o),
            Action::Record {
                state: MarkerState::Rejected,
                outcome: Outcome::Rejected,
                ..
            }
        ));
    }

    #[test]
    fn a_registration_moved_by_a_person_is_looked_for_at_the_template_path() {
        let mut l = local();
        l.candidates[0].path = "cluster-nodes/old-name/node.yaml".into();
        l.candidates[0].template_path = Some("cluster-nodes/new-name/node.yaml".into());
        let mut o = after_base(Upstream::Absent);
        o.marker = Some(marker(MarkerState::Registered, OTHER_HASH));
        o.upstream = None;
        assert_eq!(
            next_action(&l, &o),
            Action::ReadUpstream {
                path: "cluster-nodes/old-name/node.yaml".into(),
                base: "main".into()
            }
        );
        o.upstream = Some(Upstream::Absent);
        assert_eq!(next_action(&l, &o), Action::UseTemplatePath);
        o.recorded_path_gone = true;
        o.upstream = None;
        assert_eq!(
            next_action(&l, &o),
            Action::ReadUpstream {
                path: "cluster-nodes/new-name/node.yaml".into(),
                base: "main".into()
            }
        );
        // Found at the recorded path (a rename): a drift update of that file.
        let mut o = after_base(Upstream::Ours {
            sha: "f1".into(),
            same_facts: false,
            same_content: false,
        });
        o.marker = Some(marker(MarkerState::Registered, OTHER_HASH));
        o.prs = Some(vec![]);
        o.branch = BranchView::FromBase;
        assert_eq!(
            next_action(&l, &o),
            Action::WriteFile {
                path: "cluster-nodes/old-name/node.yaml".into(),
                branch: "enlist/node-abc123".into(),
                sha: Some("f1".into())
            }
        );
    }

    /// Review of issue 26: a pending PR whose auto-merge was turned off on GitHub after enlist
    /// turned it on (a person, or GitHub itself after a push by someone without write access).
    #[test]
    fn auto_merge_turned_off_on_github_is_recorded_and_never_turned_back_on() {
        let l = with_auto_merge();
        let none = Checks::new(CheckSource::Statuses, vec![]);
        let mut o = pending_open();
        {
            let m = o.marker.as_mut().unwrap();
            m.auto_merge = Some(AutoMergeRecord::Enabled {
                method: "squash".into(),
            });
            m.checks = Some(none.clone());
        }
        o.checks = Some(none);
        // The PR shows it off: news for the marker (and `enlist status`), and no write.
        assert!(matches!(
            next_action(&l, &o),
            Action::Record {
                state: MarkerState::Pending,
                outcome: Outcome::ChecksUpdated,
                ..
            }
        ));
        // Recorded: later runs (this boot or another) read, and never turn it back on.
        o.marker.as_mut().unwrap().auto_merge = Some(AutoMergeRecord::TurnedOff);
        assert_eq!(next_action(&l, &o), Action::Finish(Outcome::StillPending));
        o.checks = None;
        assert_eq!(
            next_action(&l, &o),
            Action::ReadCheckRuns {
                sha: "head7".into()
            }
        );
        // Turned on again by a person: recorded as on.
        let mut o2 = o.clone();
        o2.checks = o2.marker.as_ref().unwrap().checks.clone();
        o2.marker_pr.as_mut().unwrap().auto_merge = Some("merge".into());
        assert!(matches!(
            next_action(&l, &o2),
            Action::Record {
                outcome: Outcome::ChecksUpdated,
                ..
            }
        ));
        // The facts changed while the PR is open (the full path): the branch gets the new file,
        // auto-merge stays as the person left it.
        for record in [
            AutoMergeRecord::Enabled {
                method: "squash".into(),
            },
            AutoMergeRecord::TurnedOff,
        ] {
            let mut o = after_base(Upstream::Absent);
            let mut m = marker(MarkerState::Pending, OTHER_HASH);
            m.auto_merge = Some(record);
            o.marker = Some(m);
            o.prs = Some(vec![pr(7, true, false, OTHER_HASH)]);
            o.branch_file = Some(Some(FileView {
                sha: "b1".into(),
                same_content: true,
                foreign: false,
            }));
            o.file_written = true;
            o.pr_updated = true;
            o.commented = true;
            o.pending_recorded = true;
            assert!(matches!(
                next_action(&l, &o),
                Action::Record {
                    state: MarkerState::Pending,
                    outcome: Outcome::PrUpdated,
                    ..
                }
            ));
        }
    }

    /// Review of issue 26: labels enlist added and a person (or a bot) removed later are not
    /// added back on every run; GitHub's label names are case-insensitive.
    #[test]
    fn labels_once_added_are_not_added_back_on_every_run() {
        let l = Local {
            labels: vec!["enlist".into()],
            ..local()
        };
        let mut o = pending_open();
        {
            let m = o.marker.as_mut().unwrap();
            m.boot_id = Some(BOOT.into());
            m.added_labels = vec!["enlist".into()];
        }
        // Removed from the PR after enlist added them: the same boot reads only.
        assert_eq!(
            next_action(&l, &o),
            Action::ReadCheckRuns {
                sha: "head7".into()
            }
        );
        // A later boot neither: a person's change to the PR stands.
        o.marker.as_mut().unwrap().boot_id = Some("boot-1".into());
        assert_eq!(
            next_action(&l, &o),
            Action::ReadCheckRuns {
                sha: "head7".into()
            }
        );
        // On the PR under another case ("Enlist" is GitHub's "enlist"): nothing missing.
        o.marker.as_mut().unwrap().added_labels = vec![];
        o.marker.as_mut().unwrap().boot_id = Some(BOOT.into());
        o.marker_pr.as_mut().unwrap().labels = vec!["Enlist".into()];
        assert_eq!(
            next_action(&l, &o),
            Action::ReadCheckRuns {
                sha: "head7".into()
            }
        );
        // Never answered (the run that opened the PR stopped after saying pending): added now,
        // in the same boot.
        o.marker_pr.as_mut().unwrap().labels = vec![];
        assert_eq!(next_action(&l, &o), Action::AddLabels { number: 7 });
        // A label added to the configuration later is added once.
        o.marker.as_mut().unwrap().added_labels = vec!["enlist".into()];
        let l = Local {
            labels: vec!["enlist".into(), "rack-7".into()],
            ..local()
        };
        o.marker_pr.as_mut().unwrap().labels = vec!["enlist".into()];
        assert_eq!(next_action(&l, &o), Action::AddLabels { number: 7 });
    }

    /// Review of issue 26: a pending marker written before enlist recorded auto-merge (no
    /// `auto_merge`, no `boot_id`) cannot tell a registration PR from a facts update; the
    /// upstream file says which before auto-merge is turned on.
    #[test]
    fn a_marker_from_before_auto_merge_reads_upstream_before_turning_it_on() {
        let l = with_auto_merge();
        let none = Checks::new(CheckSource::Statuses, vec![]);
        let legacy = || {
            let mut o = pending_open();
            let m = o.marker.as_mut().unwrap();
            m.boot_id = None;
            m.written_sha = None;
            m.auto_merge = None;
            o
        };
        let mut o = legacy();
        assert_eq!(next_action(&l, &o), Action::ReadRepo);
        o.default_branch = Some("main".into());
        assert_eq!(
            next_action(&l, &o),
            Action::ReadUpstream {
                path: "cluster-nodes/node-abc123/node.yaml".into(),
                base: "main".into()
            }
        );
        // A facts update (the node is registered with other facts): no auto-merge; the marker
        // records why, so the next run does not read upstream again.
        o.upstream = Some(Upstream::Ours {
            sha: "f1".into(),
            same_facts: false,
            same_content: false,
        });
        assert_eq!(
            next_action(&l, &o),
            Action::RecordPending {
                pr: (7, "https://github.com/acme/fleet/pull/7".into())
            }
        );
        o.pending_recorded = true;
        assert_eq!(
            next_action(&l, &o),
            Action::ReadCheckRuns {
                sha: "head7".into()
            }
        );
        o.checks = Some(none.clone());
        assert!(matches!(
            next_action(&l, &o),
            Action::Record {
                state: MarkerState::Pending,
                ..
            }
        ));
        // A registration PR: turned on.
        o.upstream = Some(Upstream::Absent);
        o.checks = None;
        o.pending_recorded = false;
        assert!(matches!(
            next_action(&l, &o),
            Action::EnableAutoMerge { number: 7, .. }
        ));
        // A configured base branch needs no repository read.
        let l = Local {
            base_branch: Some("prod".into()),
            ..with_auto_merge()
        };
        assert_eq!(
            next_action(&l, &legacy()),
            Action::ReadUpstream {
                path: "cluster-nodes/node-abc123/node.yaml".into(),
                base: "prod".into()
            }
        );
        // `auto_merge: off`: nothing to decide, no read.
        assert_eq!(
            next_action(&local(), &legacy()),
            Action::ReadCheckRuns {
                sha: "head7".into()
            }
        );
    }

    /// Review of issue 26: the branch of a PR closed without merge (other facts) still holds
    /// that PR's commits — another path after a rename or a template change, or someone else's
    /// commit: a new PR starts it afresh from the base head, like after a merge.
    #[test]
    fn row5_branch_of_a_closed_pr_is_reset_before_reuse() {
        let mut o = after_base(Upstream::Absent);
        o.prs = Some(vec![pr(3, false, false, OTHER_HASH)]);
        o.branch = BranchView::Exists;
        assert!(matches!(
            next_action(&local(), &o),
            Action::ResetBranch { .. }
        ));
        o.branch_reset = true;
        o.branch = BranchView::FromBase;
        assert!(matches!(
            next_action(&local(), &o),
            Action::WriteFile { sha: None, .. }
        ));
    }

    /// Review of issue 26: a retried optional step is recorded (this boot, GitHub's answer)
    /// before the checks are read, so a run that fails reading them does not repeat the write:
    /// at most once per boot, whatever happens after it.
    #[test]
    fn a_retried_optional_step_is_recorded_before_the_checks_are_read() {
        let (l, mut o) = pending_refused();
        o.checks = None;
        assert_eq!(next_action(&l, &o), Action::AddLabels { number: 7 });
        o.labels_refused = Some("m".into());
        assert!(matches!(
            next_action(&l, &o),
            Action::EnableAutoMerge { number: 7, .. }
        ));
        o.auto_merge = Some(AutoMergeRecord::Refused {
            reason: "not_allowed".into(),
            message: "m".into(),
            advice: "a".into(),
        });
        assert_eq!(
            next_action(&l, &o),
            Action::RecordPending {
                pr: (7, "https://github.com/acme/fleet/pull/7".into())
            }
        );
        o.pending_recorded = true;
        assert_eq!(
            next_action(&l, &o),
            Action::ReadCheckRuns {
                sha: "head7".into()
            }
        );
    }

    /// Review of issue 26: a commit whose answer was lost (5xx, timeout) but which landed is the
    /// node's own: its sha is read from the branch (one read), so the next run does not take it
    /// for someone else's.
    #[test]
    fn a_commit_whose_answer_was_lost_is_known_by_the_branch_head() {
        // The facts changed while PR #7 is open; the commit's answer was a 502.
        let mut o = after_base(Upstream::Absent);
        o.marker = Some(marker(MarkerState::Pending, OTHER_HASH));
        o.prs = Some(vec![pr(7, true, false, OTHER_HASH)]);
        o.branch_file = Some(Some(FileView {
            sha: "b2".into(),
            same_content: true,
            foreign: false,
        }));
        o.write_unconfirmed = true;
        assert_eq!(
            next_action(&local(), &o),
            Action::ReadBranchHead {
                branch: "enlist/node-abc123".into()
            }
        );
        o.written_sha = Some("head8".into());
        assert_eq!(next_action(&local(), &o), Action::UpdatePr { number: 7 });
        // A fresh registration the same way: known before the PR opens.
        let mut o = after_base(Upstream::Absent);
        o.prs = Some(vec![]);
        o.branch = BranchView::Exists;
        o.branch_file = Some(Some(FileView {
            sha: "b1".into(),
            same_content: true,
            foreign: false,
        }));
        o.write_unconfirmed = true;
        assert_eq!(
            next_action(&local(), &o),
            Action::ReadBranchHead {
                branch: "enlist/node-abc123".into()
            }
        );
        o.write_unconfirmed = false;
        assert!(matches!(next_action(&local(), &o), Action::OpenPr { .. }));
    }
}
