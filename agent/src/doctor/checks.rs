//! What doctor concludes from what it read (pure): one [`Line`] per check, ✔ / ✘ / ?, each ✘ and ?
//! with the fix.

use serde::Serialize;

use crate::forge::{Account, Installation, Protection, Readable, RepoSettings};

/// The check name `enlist reconcile` reports on a pull request (the example workflow's job name).
pub const RECONCILE_CHECK: &str = "enlist reconcile";

/// The check name `enlist gate` reports on a pull request (the example workflow's job name).
pub const GATE_CHECK: &str = "enlist gate";

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
    /// `requires_gate`, `classic_token`, `app_installation`, `machine_login`).
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
    /// The checks the rulesets require on the base branch.
    pub rulesets: Option<Readable<Vec<String>>>,
    /// Classic branch protection of the base branch.
    pub classic: Option<Readable<Protection>>,
    /// The token's user (`GET /user`; token mode only).
    pub user: Option<Account>,
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
    for (check, name) in [
        ("requires_reconcile", RECONCILE_CHECK),
        ("requires_gate", GATE_CHECK),
    ] {
        out.push(required(check, name, &branch, seen));
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

fn required(check: &'static str, name: &str, branch: &str, seen: &Observed) -> Line {
    let fix = format!(
        "require the status check `{name}` on {branch}: Settings → Rules → Rulesets → a branch \
         ruleset for {branch} → Require status checks to pass → add `{name}` (or classic branch \
         protection)"
    );
    let in_rulesets = match &seen.rulesets {
        Some(Readable::Read(checks)) => Some(checks.iter().any(|c| c == name)),
        _ => None,
    };
    let in_classic = match &seen.classic {
        Some(Readable::Read(Protection::Requires(checks))) => {
            Some(checks.iter().any(|c| c == name))
        }
        Some(Readable::Read(Protection::None)) => Some(false),
        _ => None,
    };
    let status = match (in_rulesets, in_classic) {
        (Some(true), _) | (_, Some(true)) => Status::Ok,
        (Some(false), Some(false)) => Status::Fail,
        _ => Status::Unknown,
    };
    let detail = match status {
        Status::Ok => format!(
            "{branch} requires `{name}` ({})",
            if in_rulesets == Some(true) {
                "ruleset"
            } else {
                "branch protection"
            }
        ),
        Status::Fail => format!("{branch} does not require `{name}`"),
        Status::Unknown => format!(
            "cannot tell whether {branch} requires `{name}`: {}",
            match (in_rulesets, in_classic) {
                (Some(false), None) =>
                    "no ruleset requires it, and the classic branch protection is not readable \
                     with this credential (it needs Administration: read)",
                _ =>
                    "neither the rulesets nor the branch protection are readable with this \
                      credential",
            }
        ),
    };
    Line {
        check,
        status,
        detail,
        fix: (status != Status::Ok).then_some(fix),
    }
}

/// Whether everything is fine (no ✘).
pub fn healthy(lines: &[Line]) -> bool {
    lines.iter().all(|l| l.status != Status::Fail)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(allow_auto_merge: Option<bool>, scopes: Option<&str>) -> RepoSettings {
        RepoSettings {
            default_branch: "main".into(),
            allow_auto_merge,
            oauth_scopes: scopes.map(Into::into),
        }
    }

    fn well_set() -> Observed {
        Observed {
            repo: "acme/fleet".into(),
            auto_merge_wanted: true,
            base_branch: None,
            credential: Credential::Token,
            repository: Ok(settings(Some(true), None)),
            base_exists: Some(true),
            rulesets: Some(Readable::Read(vec![
                RECONCILE_CHECK.into(),
                GATE_CHECK.into(),
            ])),
            classic: Some(Readable::Unreadable(403)),
            user: Some(Account {
                login: "fleet-bot".into(),
                bot: false,
            }),
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
        let rows: [(&str, Arrange, &str, Status); 9] = [
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
                    o.rulesets = Some(Readable::Read(vec![RECONCILE_CHECK.into()]));
                    o.classic = Some(Readable::Read(Protection::None));
                },
                "requires_gate",
                Status::Fail,
            ),
            (
                "gate not in rulesets, protection unreadable",
                |o| o.rulesets = Some(Readable::Read(vec![RECONCILE_CHECK.into()])),
                "requires_gate",
                Status::Unknown,
            ),
            (
                "gate required by classic protection",
                |o| {
                    o.rulesets = Some(Readable::Read(vec![]));
                    o.classic = Some(Readable::Read(Protection::Requires(vec![
                        RECONCILE_CHECK.into(),
                        GATE_CHECK.into(),
                    ])));
                },
                "requires_gate",
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
                            repository_selection: "all".into(),
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
        observed.rulesets = Some(Readable::Read(vec![RECONCILE_CHECK.into()]));
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
