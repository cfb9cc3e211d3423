//! The preview (`--dry-run`, and the installer's `--target DIR`): what the first boot of the
//! installed system will do, said for a person (stderr) and for an installer script (`--json`).
//!
//! It adds no logic of its own: the registration loop ran with writes pretended, through the same
//! planner as a real boot, and this module only reads what that run observed (the target's
//! marker, the upstream file, the PRs on the node's branch, ids taken by other machines) and
//! names it: what GitHub already holds, and what that means for this install.

use std::path::PathBuf;

use serde::Serialize;

use super::Report;
use super::marker::MarkerState;
use super::planner::{Outcome, PrView, Upstream};
use crate::config::RegisterConfig;

/// What GitHub already holds for this machine (`github` in the JSON).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Holds {
    /// Not asked: no token, or the target's marker made asking unnecessary.
    Unknown,
    /// Nothing for this machine: a fresh registration.
    Nothing,
    /// This machine's node.yaml, with these facts, on the base branch.
    Registered,
    /// This machine's node.yaml on the base branch, with other facts (the hardware changed).
    RegisteredOtherFacts,
    /// An open pull request for this machine (an earlier install of it).
    PrOpen,
    /// A pull request with these facts closed without merging: a rejection.
    Rejected,
}

/// What the first boot will do (`first_boot` in the JSON).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FirstBoot {
    /// Depends on what GitHub holds then (not checked now).
    Unknown,
    /// Open one pull request adding node.yaml.
    OpenPr,
    /// Open one pull request updating this machine's node.yaml.
    OpenUpdatePr,
    /// Comment once on the open pull request; no second one.
    Comment,
    /// Push the new node.yaml to the open pull request's branch, and comment.
    UpdatePr,
    /// Record "registered"; no write.
    RecordRegistered,
    /// Record "rejected"; no write.
    RecordRejected,
    /// Read the pull request the marker names, once; no write.
    ReadPr,
    /// Nothing at all: the marker says it is done.
    Nothing,
}

/// How the run authenticates (`credential` in the JSON): what a dry run can ask GitHub.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Credential {
    /// No token here: GitHub is not asked.
    None,
    /// A token: the dry run reads what GitHub holds.
    Token,
    /// A GitHub App with its key: the dry run checks the App's installation only (reading the
    /// repository needs an installation token, and minting one is a write).
    GithubApp,
    /// A GitHub App whose key is not here (restored at boot): GitHub is not asked.
    GithubAppWithoutKey,
}

/// The preview of one run.
#[derive(Clone, Debug, Serialize)]
pub struct Preview {
    /// The installed system previewed (`--target`), if any.
    pub target: Option<PathBuf>,
    /// The node id the first boot uses.
    pub node_id: String,
    /// The hostname in node.yaml.
    pub hostname: String,
    /// Where the identity comes from (`product_uuid`, `mac`, …).
    pub identity_source: String,
    /// node.yaml's `factsHash`.
    pub facts_hash: String,
    /// The GitOps repository.
    pub repo: String,
    /// The GitHub API.
    pub api_url: String,
    /// node.yaml's path in the repository.
    pub path: String,
    /// The node's fixed branch.
    pub branch: String,
    /// The base branch (the configured one, else the repository's default once read).
    pub base_branch: Option<String>,
    /// Whether GitHub was asked (read-only).
    pub checked: bool,
    /// How the run authenticates.
    pub credential: Credential,
    /// The GitHub App's id, in App mode.
    pub github_app_id: Option<String>,
    /// The installed system's marker, if it has one.
    pub marker: Option<MarkerState>,
    /// What GitHub already holds for this machine.
    pub github: Holds,
    /// Shorter node ids that belong to other machines (an id collision), in the order tried.
    pub collisions: Vec<String>,
    /// The pull request GitHub holds for this machine, if any.
    pub pr_url: Option<String>,
    /// What the first boot will do.
    pub first_boot: FirstBoot,
    /// The same, said for a person, with what it means for this install.
    pub summary: String,
    /// What was checked and what would be written, step by step.
    pub plan: Vec<String>,
    /// The node.yaml the first boot proposes, byte for byte.
    pub node_yaml: String,
}

impl Preview {
    /// Names what a dry run observed.
    pub fn new(cfg: &RegisterConfig, report: &Report) -> Preview {
        let seen = &report.observed;
        let facts_hash = report.document.facts_hash.clone();
        let open_pr = seen.prs.iter().flatten().find(|p| p.open);
        let rejecting_pr =
            seen.prs.iter().flatten().find(|p| {
                !p.open && !p.merged && p.facts_hash.as_deref() == Some(facts_hash.as_str())
            });
        let marker_pr = seen.marker_pr.as_ref();
        let (github, first_boot, pr) = match report.outcome {
            // A dry run is never held back; listed for completeness.
            None | Some(Outcome::BackingOff | Outcome::HeldAfterFailure) => {
                (Holds::Unknown, FirstBoot::Unknown, None)
            }
            Some(Outcome::AlreadyRegistered | Outcome::AlreadyRejected) => {
                (Holds::Unknown, FirstBoot::Nothing, None)
            }
            Some(
                Outcome::StillPending
                | Outcome::ChecksFailed
                | Outcome::ChecksPassed
                | Outcome::ChecksUpdated
                | Outcome::ForeignCommits,
            ) => (Holds::PrOpen, FirstBoot::ReadPr, marker_pr),
            Some(Outcome::Merged) => (Holds::Registered, FirstBoot::ReadPr, marker_pr),
            Some(Outcome::Rejected) if marker_pr.is_some() => {
                (Holds::Rejected, FirstBoot::ReadPr, marker_pr)
            }
            Some(Outcome::Rejected) => (Holds::Rejected, FirstBoot::RecordRejected, rejecting_pr),
            Some(Outcome::UpstreamMatches) => {
                (Holds::Registered, FirstBoot::RecordRegistered, None)
            }
            Some(Outcome::PrInFlight) => (Holds::PrOpen, FirstBoot::Comment, open_pr),
            Some(Outcome::PrUpdated) => (Holds::PrOpen, FirstBoot::UpdatePr, open_pr),
            Some(Outcome::PrOpened) => match seen.upstream {
                Some(Upstream::Ours {
                    same_facts: false, ..
                }) => (Holds::RegisteredOtherFacts, FirstBoot::OpenUpdatePr, None),
                _ => (Holds::Nothing, FirstBoot::OpenPr, None),
            },
        };
        let base_branch = cfg
            .base_branch
            .clone()
            .or_else(|| seen.default_branch.clone());
        let mut preview = Preview {
            target: cfg.target.as_ref().map(|t| t.dir().to_owned()),
            node_id: report.node_id.to_string(),
            hostname: report.document.hostname.clone(),
            identity_source: report.document.identity.source.to_string(),
            facts_hash,
            repo: cfg.repo.to_string(),
            api_url: cfg.api_url.clone(),
            path: report.path.clone(),
            branch: cfg.branch(&report.node_id),
            base_branch,
            checked: report.counts.requests > 0,
            credential: match (&cfg.github_app, &cfg.github_app_id_without_key, &cfg.token) {
                (Some(_), _, _) => Credential::GithubApp,
                (None, Some(_), _) => Credential::GithubAppWithoutKey,
                (None, None, Some(_)) => Credential::Token,
                (None, None, None) => Credential::None,
            },
            github_app_id: cfg
                .github_app
                .as_ref()
                .map(|a| a.id.clone())
                .or_else(|| cfg.github_app_id_without_key.clone()),
            marker: seen.marker.as_ref().map(|m| m.state),
            github,
            collisions: report.taken_ids.iter().map(ToString::to_string).collect(),
            pr_url: pr
                .map(|p| p.url.clone())
                .filter(|u| !u.is_empty())
                .or_else(|| report.pr_url.clone()),
            first_boot,
            summary: String::new(),
            plan: report.plan.clone(),
            node_yaml: report.document.to_yaml(),
        };
        preview.summary = preview.say(pr, cfg.state_dir.display().to_string());
        preview
    }

    /// What it means, in a sentence or two.
    fn say(&self, pr: Option<&PrView>, state_dir: String) -> String {
        let who = if self.target.is_some() {
            "the first boot"
        } else {
            "a real run"
        };
        let pr_name = pr.map_or_else(
            || "the pull request".to_owned(),
            |p| format!("#{}", p.number),
        );
        let base = self.base_branch.as_deref().unwrap_or("the default branch");
        const UNLESS: &str = "unless GitHub already holds this machine (registered, a pull \
                              request from an earlier install, a rejection, an id collision)";
        let app = self.github_app_id.as_deref().unwrap_or("");
        let mut text = match self.first_boot {
            FirstBoot::Unknown => match self.credential {
                Credential::GithubApp => format!(
                    "GitHub App {app} is installed on {}, but what GitHub holds for this machine \
                     was not read: that needs an installation token, and minting one is a write \
                     a dry run does not make; {who} opens a pull request {UNLESS}",
                    self.repo
                ),
                Credential::GithubAppWithoutKey => format!(
                    "GitHub was not checked (GitHub App {app}, whose private key is not here): \
                     {who} opens a pull request {UNLESS}; give --github-app-key-file to check \
                     the App's installation now"
                ),
                Credential::None | Credential::Token => format!(
                    "GitHub was not checked (no token): {who} opens a pull request {UNLESS}; give \
                     --token-file or GITHUB_TOKEN to check now"
                ),
            },
            FirstBoot::OpenPr => format!(
                "nothing on GitHub for this machine yet: {who} opens one pull request {} → {base} \
                 adding {}",
                self.branch, self.path
            ),
            FirstBoot::OpenUpdatePr => format!(
                "{} on {base} is this machine's, with other facts (the hardware or hostname \
                 changed since it registered): {who} opens a pull request updating it",
                self.path
            ),
            FirstBoot::Comment => format!(
                "pull request {pr_name} for this machine is already open (from an earlier install): \
                 {who} comments on it once and opens no second one; merge or close it as usual"
            ),
            FirstBoot::UpdatePr => format!(
                "pull request {pr_name} for this machine is open from an earlier install, with \
                 other facts: {who} pushes this node.yaml to its branch and comments; no second \
                 pull request"
            ),
            FirstBoot::RecordRegistered => format!(
                "{} on {base} already has this machine with these facts (registered before, e.g. \
                 before a reinstall): {who} records it as registered and writes nothing",
                self.path
            ),
            FirstBoot::RecordRejected => format!(
                "pull request {pr_name} with these same facts was closed without merging (a \
                 rejection): {who} respects it, records \"rejected\" and writes nothing; reopen \
                 {pr_name} if the rejection was a mistake"
            ),
            FirstBoot::ReadPr => format!(
                "the installed system's marker ({state_dir}) names pull request {pr_name}, which \
                 is {}: {who} reads it once and writes nothing",
                match self.github {
                    Holds::Registered => "merged (the node is then recorded as registered)",
                    Holds::Rejected => "closed without merge (recorded as rejected)",
                    _ => "still open",
                }
            ),
            FirstBoot::Nothing => format!(
                "the installed system's marker ({state_dir}) says {} for these facts: {who} \
                 makes no request at all",
                self.marker.map_or("done", MarkerState::as_str)
            ),
        };
        if let Some(first) = self.collisions.first() {
            text = format!(
                "{first} belongs to another machine (an id collision), so {who} uses the longer \
                 id {}; {text}",
                self.node_id
            );
        }
        text
    }

    /// For a person: the essentials, then the step-by-step plan (stderr; the node.yaml goes to
    /// stdout).
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let (title, who) = match &self.target {
            Some(dir) => (
                format!(
                    "preview of the installed system at {} (nothing is written)",
                    dir.display()
                ),
                "first boot",
            ),
            None => ("dry run (nothing is written)".to_owned(), "this run"),
        };
        let github = match (self.checked, self.github) {
            (false, _) if self.credential == Credential::GithubAppWithoutKey => {
                "not checked (the GitHub App's private key is not here)"
            }
            (false, _) => "not checked",
            (true, Holds::Unknown) if self.credential == Credential::GithubApp => {
                "the GitHub App's installation checked; the repository not read (a dry run \
                 mints no token)"
            }
            (true, Holds::Unknown) => "not asked (the marker decides)",
            (true, Holds::Nothing) => "nothing for this machine",
            (true, Holds::Registered) => "this machine, registered",
            (true, Holds::RegisteredOtherFacts) => "this machine, registered with other facts",
            (true, Holds::PrOpen) => "an open pull request for this machine",
            (true, Holds::Rejected) => "a rejected pull request for these facts",
        };
        let rows = [
            (
                "node id",
                format!("{} (identity: {})", self.node_id, self.identity_source),
            ),
            ("hostname", self.hostname.escape_debug().to_string()),
            ("facts hash", self.facts_hash.clone()),
            ("repository", format!("{} at {}", self.repo, self.api_url)),
            (
                "path",
                format!(
                    "{} on {}",
                    self.path,
                    self.base_branch.as_deref().unwrap_or("the default branch")
                ),
            ),
            ("branch", self.branch.clone()),
            ("github", github.to_owned()),
            (who, self.summary.clone()),
        ];
        out.push_str(&title);
        out.push('\n');
        for (name, value) in rows {
            out.push_str(&format!("  {:<11} {value}\n", format!("{name}:")));
        }
        out.push_str("plan:\n");
        for line in &self.plan {
            out.push_str(&format!("  - {line}\n"));
        }
        out
    }

    /// For an installer script: one JSON object (stdout).
    pub fn to_json(&self) -> String {
        // Serialising plain strings, enums and lists cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default() + "\n"
    }
}
