//! What doctor concludes from what it read (pure): one [`Line`] per check, ✔ / ✘ / ?, each ✘ and ?
//! with the fix.

use serde::Serialize;

use crate::forge::{
    Access, Account, BranchRules, Installation, Protection, Readable, RepoSettings,
};

/// The check name `enlist reconcile` reports on a pull request (the example workflow's job name).
pub const RECONCILE_CHECK: &str = "enlist reconcile";

/// The check name `enlist gate` reports on a pull request (the example workflow's job name).
pub const GATE_CHECK: &str = "enlist gate";

/// GitHub Actions' App id on github.com: the source a required check run by a workflow should
/// be pinned to (a GitHub Enterprise Server names its own).
pub const GITHUB_ACTIONS_APP_ID: u64 = 15368;

/// What registration needs of a GitHub App installation, at most (the README's list: Contents
/// and Pull requests read and write, Checks and Commit statuses read; Metadata read comes with
/// every App). Anything more is what a stolen App key can mint a token with: enlist narrows its
/// own tokens, a thief does not.
pub const APP_PERMISSIONS: [(&str, &str); 5] = [
    ("contents", "write"),
    ("pull_requests", "write"),
    ("checks", "read"),
    ("statuses", "read"),
    ("metadata", "read"),
];

/// How a check came out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// ✔
    Ok,
    /// ✘ must be fixed.
    Fail,
    /// ? cannot tell from here.
    Unknown,
}

impl Status {
    /// ✔, ✘ or ?.
    pub fn mark(self) -> &'static str {
        match self {
            Status::Ok => "✔",
            Status::Fail => "✘",
            Status::Unknown => "?",
        }
    }
}

/// One check.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Line {
    /// Stable name (`credential`, `base_branch`, `auto_merge`, `requires_reconcile`,
    /// `requires_gate`, `fork_workflows`, `stale_approvals`, `classic_token`, `app_installation`,
    /// `app_permissions`, `machine_access`, `machine_login`).
    pub check: &'static str,
    /// ✔ / ✘ / ?.
    pub status: Status,
    /// What was found.
    pub detail: String,
    /// What to do (✘ and ?; sometimes advice on ✔).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

/// How the configuration authenticates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Credential {
    /// A token.
    Token,
    /// A GitHub App, and what GitHub said about its installation.
    App {
        /// The installation covering the repository.
        installation: Installation,
        /// The configured `github_app_installation_id`, if any.
        configured_id: Option<u64>,
    },
}

/// Everything doctor read. `None`: not read, because an earlier check failed.
#[derive(Clone, Debug)]
pub struct Observed {
    /// `OWNER/NAME`.
    pub repo: String,
    /// The configuration asks for auto-merge (`auto_merge` is not `off`).
    pub auto_merge_wanted: bool,
    /// The configured `base_branch`, if any (else the default branch).
    pub base_branch: Option<String>,
    /// How it authenticates.
    pub credential: Credential,
    /// The repository, or why it could not be read (GitHub's message, one line).
    pub repository: Result<RepoSettings, String>,
    /// Whether the base branch exists.
    pub base_exists: Option<bool>,
    /// What the rulesets require on the base branch.
    pub rulesets: Option<Readable<BranchRules>>,
    /// Classic branch protection of the base branch.
    pub classic: Option<Readable<Protection>>,
    /// The token's user (`GET /user`; token mode only).
    pub user: Option<Account>,
    /// The token's user's access to the repository (token mode only).
    pub user_access: Option<Access>,
}

/// The lines, in the order an operator fixes things.
pub fn lines(seen: &Observed) -> Vec<Line> {
    let mut out = Vec::new();
    if let Credential::App {
        installation,
        configured_id,
    } = &seen.credential
    {
        out.push(app_installation(installation, *configured_id));
        out.push(app_permissions(installation));
    }
    let repo = &seen.repo;
    let settings = match &seen.repository {
        Ok(settings) => {
            out.push(ok(
                "credential",
                format!("the credential works and reaches {repo}"),
            ));
            settings
        }
        Err(message) => {
            out.push(fail(
                "credential",
                format!("the credential does not reach {repo}: {message}"),
                "give the token (or the App installation) access to the repository: Contents and \
                 Pull requests read and write; check `repo` and `api_url`",
            ));
            return out;
        }
    };
    if let Some(scopes) = &settings.oauth_scopes {
        out.push(fail(
            "classic_token",
            format!(
                "a classic personal access token (scopes: {}): it can write every repository its \
                 owner can",
                if scopes.trim().is_empty() {
                    "none"
                } else {
                    scopes.trim()
                }
            ),
            "replace it with a fine-grained token limited to this repository (Contents and Pull \
             requests: read and write), or a GitHub App",
        ));
    }
    let branch = seen
        .base_branch
        .clone()
        .unwrap_or_else(|| settings.default_branch.clone());
    match seen.base_exists {
        Some(true) => out.push(ok("base_branch", format!("base branch {branch} exists"))),
        Some(false) => out.push(fail(
            "base_branch",
            format!("base branch {branch} does not exist"),
            "set base_branch to an existing branch, or push an initial commit",
        )),
        None => {}
    }
    out.push(auto_merge(
        seen.auto_merge_wanted,
        settings.allow_auto_merge,
    ));
    let own_app = match &seen.credential {
        Credential::App { installation, .. } => installation.app_id,
        Credential::Token => None,
    };
    for (check, name) in [
        ("requires_reconcile", RECONCILE_CHECK),
        ("requires_gate", GATE_CHECK),
    ] {
        out.push(required(check, name, &branch, seen, own_app));
    }
    out.push(fork_workflows(settings, &branch, seen));
    out.push(stale_approvals(&branch, seen));
    if let (Some(user), Some(access)) = (&seen.user, &seen.user_access) {
        out.push(machine_access(user, access, repo));
    }
    if let Some(user) = &seen.user {
        let login = crate::markdown::one_line(&user.login);
        out.push(Line {
            check: "machine_login",
            status: Status::Ok,
            detail: format!(
                "the token belongs to {} {login}",
                if user.bot { "the bot" } else { "the user" }
            ),
            fix: Some(format!(
                "if {login} is a machine user the nodes share, pass `--machine-login {login}` to \
                 `enlist gate`, so its approvals never count"
            )),
        });
    }
    out
}

fn ok(check: &'static str, detail: String) -> Line {
    Line {
        check,
        status: Status::Ok,
        detail,
        fix: None,
    }
}

fn fail(check: &'static str, detail: String, fix: &str) -> Line {
    Line {
        check,
        status: Status::Fail,
        detail,
        fix: Some(fix.to_owned()),
    }
}

fn app_installation(installation: &Installation, configured: Option<u64>) -> Line {
    if let Some(configured) = configured
        && configured != installation.id
    {
        return fail(
            "app_installation",
            format!(
                "github_app_installation_id is {configured}, but the App's installation on the \
                 repository is {}",
                installation.id
            ),
            "set github_app_installation_id to that number, or remove it",
        );
    }
    if installation.repository_selection == "all" {
        return fail(
            "app_installation",
            format!(
                "the GitHub App is installed on all repositories of the owner (installation {})",
                installation.id
            ),
            "limit the installation to the GitOps repository: the owner's settings → GitHub Apps \
             → Configure → Repository access → Only select repositories",
        );
    }
    ok(
        "app_installation",
        format!(
            "the GitHub App's installation {} covers selected repositories",
            installation.id
        ),
    )
}

fn auto_merge(wanted: bool, allowed: Option<bool>) -> Line {
    const FIX: &str =
        "Settings → General → Pull Requests → Allow auto-merge (or set auto_merge: off)";
    match (wanted, allowed) {
        (false, _) => ok(
            "auto_merge",
            "auto_merge is off: the nodes do not ask for auto-merge".to_owned(),
        ),
        (true, Some(true)) => ok("auto_merge", "auto-merge is allowed".to_owned()),
        (true, Some(false)) => fail(
            "auto_merge",
            "auto-merge is not allowed in the repository".to_owned(),
            FIX,
        ),
        (true, None) => Line {
            check: "auto_merge",
            status: Status::Unknown,
            detail: "GitHub does not show this credential whether auto-merge is allowed".to_owned(),
            fix: Some(FIX.to_owned()),
        },
    }
}

/// Whether `name` is required on the branch, and from which source, by the rules this
/// credential can read. A requirement counts when its source is pinned to an App that is not the
/// nodes' own: from any source, a commit status that any credential with Commit statuses: write
/// sets (a classic token, an App granted statuses or checks) reports the check as passed.
fn required(
    check: &'static str,
    name: &str,
    branch: &str,
    seen: &Observed,
    own_app: Option<u64>,
) -> Line {
    let fix = format!(
        "require the status check `{name}` on {branch} from GitHub Actions: Settings → Rules → \
         Rulesets → a branch ruleset for {branch} → Require status checks to pass → add `{name}` \
         and set its source to GitHub Actions (or classic branch protection: the check's app)"
    );
    let rulesets = match &seen.rulesets {
        Some(Readable::Read(rules)) => Some(("ruleset", rules)),
        _ => None,
    };
    let classic = match &seen.classic {
        Some(Readable::Read(Protection::Protected(rules))) => Some(("branch protection", rules)),
        _ => None,
    };
    let classic_read = matches!(seen.classic, Some(Readable::Read(_)));
    // Every readable requirement of `name`, with where it is set.
    let found: Vec<(&str, Option<u64>)> = [rulesets, classic]
        .into_iter()
        .flatten()
        .flat_map(|(place, rules)| {
            rules
                .checks
                .iter()
                .filter(|c| c.context == name)
                .map(move |c| (place, c.source))
        })
        .collect();
    let pinned = found
        .iter()
        .find(|(_, source)| source.is_some() && *source != own_app);
    let (status, detail) = if let Some((place, Some(source))) = pinned {
        (
            Status::Ok,
            format!(
                "{branch} requires `{name}` ({place}) from {}",
                if *source == GITHUB_ACTIONS_APP_ID {
                    "GitHub Actions".to_owned()
                } else {
                    format!("app {source}")
                }
            ),
        )
    } else if let Some((place, source)) = found.first() {
        (
            Status::Fail,
            match source {
                Some(_) => format!(
                    "{branch} requires `{name}` ({place}) from the nodes' own GitHub App: a \
                     stolen App key reports it as passed"
                ),
                None => format!(
                    "{branch} requires `{name}` ({place}) from any source: a commit status that \
                     any credential with Commit statuses: write sets (a classic token, an App \
                     granted statuses or checks) reports it as passed"
                ),
            },
        )
    } else {
        let unknown = |why: &str| {
            (
                Status::Unknown,
                format!("cannot tell whether {branch} requires `{name}`: {why}"),
            )
        };
        match (rulesets.is_some(), classic_read) {
            (true, true) => (Status::Fail, format!("{branch} does not require `{name}`")),
            (true, false) => unknown(
                "no ruleset requires it, and the classic branch protection is not readable with \
                 this credential (it needs Administration: read)",
            ),
            (false, true) => unknown(
                "the rulesets are not readable with this credential, and the classic branch \
                 protection does not require it",
            ),
            (false, false) => unknown(
                "neither the rulesets nor the branch protection are readable with this credential",
            ),
        }
    };
    Line {
        check,
        status,
        detail,
        fix: (status != Status::Ok).then_some(fix),
    }
}

/// Whether a pull request from a fork could report the required checks itself: a `pull_request`
/// workflow runs the workflow files of the pull request's merge commit, so a fork that edits
/// them reports a passing `enlist gate` — and a node credential can turn auto-merge on for any
/// pull request. Closed by code-owner review of `.github/` (GitHub takes the code owners from the
/// base branch), or by a private repository that cannot be forked.
fn fork_workflows(settings: &RepoSettings, branch: &str, seen: &Observed) -> Line {
    const CHECK: &str = "fork_workflows";
    const FIX: &str = "own the workflows: add `/.github/ @OWNER/ADMINS` to .github/CODEOWNERS \
        (nothing registrations touch) and require review from Code Owners on the base branch \
        (ruleset → Require a pull request before merging → Require review from Code Owners); \
        and require approval to run workflows for outside collaborators (Settings → Actions → \
        General)";
    let ruleset = match &seen.rulesets {
        Some(Readable::Read(rules)) => Some(rules.code_owner_review),
        _ => None,
    };
    let classic = match &seen.classic {
        Some(Readable::Read(Protection::Protected(rules))) => Some(rules.code_owner_review),
        Some(Readable::Read(Protection::None)) => Some(false),
        _ => None,
    };
    if ruleset == Some(true) || classic == Some(true) {
        return Line {
            check: CHECK,
            status: Status::Ok,
            detail: format!(
                "{branch} requires the code owners' review of the files a pull request changes"
            ),
            fix: Some(
                "make sure .github/CODEOWNERS names owners for /.github/ (a fork's pull request \
                 that edits the workflows then needs them), and none for the registrations"
                    .to_owned(),
            ),
        };
    }
    if settings.public == Some(false) && settings.allow_forking == Some(false) {
        return ok(
            CHECK,
            "the repository is private and cannot be forked: no fork can propose edited \
             workflows"
                .to_owned(),
        );
    }
    let danger = "a pull request from a fork runs the fork's own copy of the workflows, so it can \
                  report a passing `enlist gate` and `enlist reconcile`; a node credential can \
                  turn auto-merge on for it";
    let (status, detail) = match (settings.public, ruleset, classic) {
        (Some(true), Some(false), Some(false)) => (
            Status::Fail,
            format!(
                "the repository is public and {branch} does not require code-owner review: \
                 {danger}"
            ),
        ),
        (Some(true), _, _) => (
            Status::Unknown,
            format!(
                "the repository is public and no readable rule requires code-owner review on \
                 {branch} (classic protection needs Administration: read): {danger}"
            ),
        ),
        _ => (
            Status::Unknown,
            format!(
                "the repository can be forked and no readable rule requires code-owner review \
                 on {branch}; whether workflows run for forks' pull requests is an Actions \
                 setting this credential cannot read: {danger}"
            ),
        ),
    };
    Line {
        check: CHECK,
        status,
        detail,
        fix: Some(FIX.to_owned()),
    }
}

/// Whether approvals are dismissed when the merge base changes. The gate counts an approval of
/// the current head, and a pull request moved to another base (`PATCH …/pulls/{n}`, which a
/// node credential may do) keeps its head: an approval given for a one-line diff into a side
/// branch would then pass everything that branch holds. GitHub's "Dismiss stale pull request
/// approvals when new commits are pushed" dismisses it when the merge base changes, and the
/// gate counts no dismissed review.
fn stale_approvals(branch: &str, seen: &Observed) -> Line {
    const CHECK: &str = "stale_approvals";
    const FIX: &str = "on the base branch's rule: Require a pull request before merging → Dismiss \
        stale pull request approvals when new commits are pushed (it also dismisses them when the \
        merge base changes)";
    let ruleset = match &seen.rulesets {
        Some(Readable::Read(rules)) => Some(rules.dismiss_stale_reviews),
        _ => None,
    };
    let classic = match &seen.classic {
        Some(Readable::Read(Protection::Protected(rules))) => Some(rules.dismiss_stale_reviews),
        Some(Readable::Read(Protection::None)) => Some(false),
        _ => None,
    };
    let (status, detail) = match (ruleset, classic) {
        (Some(true), _) | (_, Some(true)) => {
            return ok(
                CHECK,
                format!(
                    "{branch} dismisses approvals when new commits are pushed or the merge base \
                     changes"
                ),
            );
        }
        (Some(false), Some(false)) => (
            Status::Fail,
            format!(
                "{branch} keeps approvals when the merge base changes: a pull request moved to \
                 another base keeps its head, so an approval given for a small diff into a side \
                 branch passes the gate for everything that branch holds"
            ),
        ),
        _ => (
            Status::Unknown,
            format!(
                "cannot tell whether {branch} dismisses stale approvals: no ruleset does, and the \
                 classic branch protection is not readable with this credential"
            ),
        ),
    };
    Line {
        check: CHECK,
        status,
        detail,
        fix: Some(FIX.to_owned()),
    }
}

/// The nodes' user is an administrator: it can bypass classic branch protection (unless "Do not
/// allow bypassing the above settings" is on) and change the rules and rulesets themselves.
fn machine_access(user: &Account, access: &Access, repo: &str) -> Line {
    let login = crate::markdown::one_line(&user.login);
    if access.permission == "admin" || access.role_name.as_deref() == Some("admin") {
        return fail(
            "machine_access",
            format!(
                "the token's user {login} is an administrator of {repo}: a stolen token can \
                 change or bypass the branch's rules, and with them the gate"
            ),
            "give the nodes' user the write role (Settings → Collaborators and teams), or use a \
             GitHub App",
        );
    }
    ok(
        "machine_access",
        format!(
            "the token's user {login} has {} access to {repo}, not admin",
            crate::markdown::one_line(access.shown())
        ),
    )
}

/// What the App's installation was granted beyond registration's needs ([`APP_PERMISSIONS`]): a
/// stolen key mints a token with all of it.
fn app_permissions(installation: &Installation) -> Line {
    let rank = |level: &str| match level {
        "read" => 1,
        "write" => 2,
        _ => 3,
    };
    let extra: Vec<String> = installation
        .permissions
        .iter()
        .filter(|(name, level)| {
            !APP_PERMISSIONS
                .iter()
                .any(|(n, max)| n == name && rank(level) <= rank(max))
        })
        .map(|(name, level)| {
            let why = match name.as_str() {
                "workflows" => " (edits the workflows that run the gate)",
                "checks" | "statuses" => {
                    " (reports checks itself: a passing `enlist gate` where its source is not pinned)"
                }
                "administration" => " (changes the branch's rules)",
                "actions" => " (re-runs and approves workflow runs)",
                _ => "",
            };
            format!(
                "{}: {}{why}",
                crate::markdown::one_line(name),
                crate::markdown::one_line(level)
            )
        })
        .collect();
    if extra.is_empty() {
        return ok(
            "app_permissions",
            "the GitHub App's installation holds only what registration needs".to_owned(),
        );
    }
    fail(
        "app_permissions",
        format!(
            "the GitHub App's installation holds more than registration needs — {}: a stolen App \
             key mints a token with every permission the installation has",
            extra.join(", ")
        ),
        "in the App's settings (Permissions & events) keep only Contents and Pull requests: read \
         and write, Checks and Commit statuses: read, Metadata: read; then accept the new \
         permissions on the installation",
    )
}

/// Whether everything is fine (no ✘).
pub fn healthy(lines: &[Line]) -> bool {
    lines.iter().all(|l| l.status != Status::Fail)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::forge::RequiredCheck;

    fn settings(allow_auto_merge: Option<bool>, scopes: Option<&str>) -> RepoSettings {
        RepoSettings {
            default_branch: "main".into(),
            allow_auto_merge,
            oauth_scopes: scopes.map(Into::into),
            public: Some(false),
            allow_forking: Some(true),
        }
    }

    /// Rules requiring `checks` (name, source), and code-owner review and dismissal of stale
    /// approvals or neither.
    fn rules(checks: &[(&str, Option<u64>)], code_owner_review: bool) -> BranchRules {
        BranchRules {
            dismiss_stale_reviews: code_owner_review,
            checks: checks
                .iter()
                .map(|(context, source)| RequiredCheck {
                    context: (*context).to_owned(),
                    source: *source,
                })
                .collect(),
            code_owner_review,
        }
    }

    const ACTIONS: Option<u64> = Some(GITHUB_ACTIONS_APP_ID);

    fn well_set() -> Observed {
        Observed {
            repo: "acme/fleet".into(),
            auto_merge_wanted: true,
            base_branch: None,
            credential: Credential::Token,
            repository: Ok(settings(Some(true), None)),
            base_exists: Some(true),
            rulesets: Some(Readable::Read(rules(
                &[(RECONCILE_CHECK, ACTIONS), (GATE_CHECK, ACTIONS)],
                true,
            ))),
            classic: Some(Readable::Unreadable(403)),
            user: Some(Account {
                login: "fleet-bot".into(),
                bot: false,
            }),
            user_access: Some(Access {
                permission: "write".into(),
                role_name: Some("write".into()),
            }),
        }
    }

    fn app(permissions: &[(&str, &str)]) -> Credential {
        Credential::App {
            installation: Installation {
                id: 7,
                app_id: Some(4242),
                repository_selection: "selected".into(),
                permissions: permissions
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
            },
            configured_id: None,
        }
    }

    fn status_of(lines: &[Line], check: &str) -> Status {
        lines
            .iter()
            .find(|l| l.check == check)
            .unwrap_or_else(|| panic!("no {check} line in {lines:?}"))
            .status
    }

    #[test]
    fn a_well_set_repository_passes_and_names_the_machine_login() {
        let lines = lines(&well_set());
        assert!(healthy(&lines), "{lines:?}");
        let machine = lines.iter().find(|l| l.check == "machine_login").unwrap();
        assert!(
            machine
                .fix
                .as_deref()
                .unwrap()
                .contains("--machine-login fleet-bot")
        );
    }

    #[test]
    fn each_setting_that_is_off_is_a_cross_with_its_fix() {
        type Arrange = fn(&mut Observed);
        let rows: [(&str, Arrange, &str, Status); 22] = [
            (
                "auto-merge disallowed",
                |o| o.repository = Ok(settings(Some(false), None)),
                "auto_merge",
                Status::Fail,
            ),
            (
                "auto-merge not shown",
                |o| o.repository = Ok(settings(None, None)),
                "auto_merge",
                Status::Unknown,
            ),
            (
                "auto_merge: off",
                |o| {
                    o.auto_merge_wanted = false;
                    o.repository = Ok(settings(Some(false), None));
                },
                "auto_merge",
                Status::Ok,
            ),
            (
                "classic token",
                |o| o.repository = Ok(settings(Some(true), Some("repo, workflow"))),
                "classic_token",
                Status::Fail,
            ),
            (
                "gate not required, protection readable",
                |o| {
                    o.rulesets = Some(Readable::Read(rules(&[(RECONCILE_CHECK, ACTIONS)], true)));
                    o.classic = Some(Readable::Read(Protection::None));
                },
                "requires_gate",
                Status::Fail,
            ),
            (
                "gate not in rulesets, protection unreadable",
                |o| o.rulesets = Some(Readable::Read(rules(&[(RECONCILE_CHECK, ACTIONS)], true))),
                "requires_gate",
                Status::Unknown,
            ),
            (
                "gate required by classic protection",
                |o| {
                    o.rulesets = Some(Readable::Read(rules(&[], false)));
                    o.classic = Some(Readable::Read(Protection::Protected(rules(
                        &[(RECONCILE_CHECK, ACTIONS), (GATE_CHECK, ACTIONS)],
                        true,
                    ))));
                },
                "requires_gate",
                Status::Ok,
            ),
            (
                // A commit status named `enlist gate` from any token with statuses: write.
                "gate required from any source",
                |o| {
                    o.rulesets = Some(Readable::Read(rules(
                        &[(RECONCILE_CHECK, ACTIONS), (GATE_CHECK, None)],
                        true,
                    )));
                },
                "requires_gate",
                Status::Fail,
            ),
            (
                "reconcile required from any source by classic protection",
                |o| {
                    o.rulesets = Some(Readable::Read(rules(&[(GATE_CHECK, ACTIONS)], true)));
                    o.classic = Some(Readable::Read(Protection::Protected(rules(
                        &[(RECONCILE_CHECK, None)],
                        false,
                    ))));
                },
                "requires_reconcile",
                Status::Fail,
            ),
            (
                "any source in the ruleset, pinned in classic protection: both must hold",
                |o| {
                    o.rulesets = Some(Readable::Read(rules(
                        &[(RECONCILE_CHECK, ACTIONS), (GATE_CHECK, None)],
                        true,
                    )));
                    o.classic = Some(Readable::Read(Protection::Protected(rules(
                        &[(GATE_CHECK, ACTIONS)],
                        false,
                    ))));
                },
                "requires_gate",
                Status::Ok,
            ),
            (
                // The nodes' App key reports the check itself (when it may write checks).
                "gate required from the nodes' own App",
                |o| {
                    o.credential = app(&[]);
                    o.user = None;
                    o.rulesets = Some(Readable::Read(rules(
                        &[(RECONCILE_CHECK, ACTIONS), (GATE_CHECK, Some(4242))],
                        true,
                    )));
                },
                "requires_gate",
                Status::Fail,
            ),
            (
                "an App granted registration's permissions",
                |o| {
                    o.credential = app(&APP_PERMISSIONS);
                    o.user = None;
                },
                "app_permissions",
                Status::Ok,
            ),
            (
                "an App granted workflows",
                |o| {
                    o.credential = app(&[("contents", "write"), ("workflows", "write")]);
                    o.user = None;
                },
                "app_permissions",
                Status::Fail,
            ),
            (
                "an App granted checks: write",
                |o| {
                    o.credential = app(&[("contents", "write"), ("checks", "write")]);
                    o.user = None;
                },
                "app_permissions",
                Status::Fail,
            ),
            (
                "the nodes' user is an administrator",
                |o| {
                    o.user_access = Some(Access {
                        permission: "admin".into(),
                        role_name: Some("admin".into()),
                    });
                },
                "machine_access",
                Status::Fail,
            ),
            (
                "public, no code-owner review",
                |o| {
                    o.repository = Ok(RepoSettings {
                        public: Some(true),
                        ..settings(Some(true), None)
                    });
                    o.rulesets = Some(Readable::Read(rules(
                        &[(RECONCILE_CHECK, ACTIONS), (GATE_CHECK, ACTIONS)],
                        false,
                    )));
                    o.classic = Some(Readable::Read(Protection::None));
                },
                "fork_workflows",
                Status::Fail,
            ),
            (
                "public, classic protection unreadable",
                |o| {
                    o.repository = Ok(RepoSettings {
                        public: Some(true),
                        ..settings(Some(true), None)
                    });
                    o.rulesets = Some(Readable::Read(rules(
                        &[(RECONCILE_CHECK, ACTIONS), (GATE_CHECK, ACTIONS)],
                        false,
                    )));
                },
                "fork_workflows",
                Status::Unknown,
            ),
            (
                "approvals kept when the merge base changes",
                |o| {
                    o.rulesets = Some(Readable::Read(rules(
                        &[(RECONCILE_CHECK, ACTIONS), (GATE_CHECK, ACTIONS)],
                        false,
                    )));
                    o.classic = Some(Readable::Read(Protection::None));
                },
                "stale_approvals",
                Status::Fail,
            ),
            (
                "stale approvals dismissed by classic protection",
                |o| {
                    o.rulesets = Some(Readable::Read(rules(&[], false)));
                    o.classic = Some(Readable::Read(Protection::Protected(rules(
                        &[(RECONCILE_CHECK, ACTIONS), (GATE_CHECK, ACTIONS)],
                        true,
                    ))));
                },
                "stale_approvals",
                Status::Ok,
            ),
            (
                "private and not forkable",
                |o| {
                    o.repository = Ok(RepoSettings {
                        allow_forking: Some(false),
                        ..settings(Some(true), None)
                    });
                    o.rulesets = Some(Readable::Read(rules(
                        &[(RECONCILE_CHECK, ACTIONS), (GATE_CHECK, ACTIONS)],
                        false,
                    )));
                },
                "fork_workflows",
                Status::Ok,
            ),
            (
                "base branch missing",
                |o| o.base_exists = Some(false),
                "base_branch",
                Status::Fail,
            ),
            (
                "App on all repositories",
                |o| {
                    o.credential = Credential::App {
                        installation: Installation {
                            id: 7,
                            app_id: Some(4242),
                            repository_selection: "all".into(),
                            permissions: Default::default(),
                        },
                        configured_id: None,
                    };
                    o.user = None;
                },
                "app_installation",
                Status::Fail,
            ),
        ];
        for (name, arrange, check, expected) in rows {
            let mut observed = well_set();
            arrange(&mut observed);
            let lines = lines(&observed);
            assert_eq!(status_of(&lines, check), expected, "{name}: {lines:?}");
            assert_eq!(healthy(&lines), expected != Status::Fail, "{name}");
            for line in &lines {
                if line.status != Status::Ok {
                    assert!(line.fix.is_some(), "{name}: {line:?}");
                }
            }
        }
    }

    #[test]
    fn a_missing_gate_requirement_names_enlist_gate() {
        let mut observed = well_set();
        observed.rulesets = Some(Readable::Read(rules(&[(RECONCILE_CHECK, ACTIONS)], true)));
        observed.classic = Some(Readable::Read(Protection::None));
        let line = lines(&observed)
            .into_iter()
            .find(|l| l.check == "requires_gate")
            .unwrap();
        assert!(line.detail.contains("`enlist gate`"), "{line:?}");
        assert!(line.fix.unwrap().contains("`enlist gate`"));
    }

    #[test]
    fn an_unreachable_repository_stops_the_list() {
        let mut observed = well_set();
        observed.repository = Err("401 Bad credentials".into());
        let lines = lines(&observed);
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert_eq!(lines[0].status, Status::Fail);
        assert!(lines[0].detail.contains("Bad credentials"));
    }
}
