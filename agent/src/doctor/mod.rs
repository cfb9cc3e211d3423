//! `enlist doctor`: the operator's first-hour check of the repository a node configuration names
//! (SPEC §5c). It loads the configuration and credential exactly as `register` does, reads what
//! GitHub says about the repository — never writing to it — and prints one line per check
//! (✔ ok, ✘ must fix, ? cannot tell) with the fix ([`checks`], pure).
//!
//! | reads (token) | for |
//! |---|---|
//! | `GET /repos/{o}/{r}` | the credential reaches it; `allow_auto_merge`; `X-OAuth-Scopes` (a classic token); public, `allow_forking` |
//! | `GET …/git/ref/heads/{base}` | the base branch exists |
//! | `GET …/rules/branches/{base}` | the checks rulesets require and their sources; code-owner review |
//! | `GET …/branches/{base}/protection` | the same in classic protection (needs Administration: read; `?` without) |
//! | `GET /user` | whose token it is: the `--machine-login` for `enlist gate` |
//! | `GET …/collaborators/{user}/permission` | that user is not an administrator (who can bypass or change the rules) |
//!
//! With a GitHub App, doctor first looks up the installation with the App's JWT (`repository_selection`, `permissions`),
//! then mints an installation token exactly as `register` does — narrowed to the repository and
//! to registration's permissions, so a refusal shows a missing permission now rather than at a
//! node's first boot — reads with it, and revokes it at the end. Minting and revoking are writes to
//! GitHub's token store, not to the repository; without an installation token nothing about the
//! repository can be read.

pub mod checks;

use std::sync::Arc;

use crate::clock::Clock;
use crate::config::{ConfigError, RegisterConfig};
use crate::forge::{Credentials, ForgeError, GitHub, GitHubOptions, RequestCounts};

pub use checks::{GATE_CHECK, Line, RECONCILE_CHECK, Status, healthy};

/// Read attempts after a failed read (5xx, transport), with backoff.
const READ_RETRIES: usize = 3;

/// Why doctor could not check at all.
#[derive(Debug, thiserror::Error)]
pub enum DoctorError {
    /// The configuration or credential cannot be loaded (exit 78).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// GitHub is unreachable, rate-limits or fails (exit 69/75), or answered something enlist
    /// does not handle (76).
    #[error("{0}{next}", next = .0.next_step())]
    Forge(#[from] ForgeError),
}

/// What doctor found.
#[derive(Debug)]
pub struct Report {
    /// One line per check.
    pub lines: Vec<Line>,
    /// Requests made.
    pub counts: RequestCounts,
}

/// A refusal that is the answer to "does the credential work" (a ✘ line), as opposed to GitHub
/// being unreachable or failing (an error: nothing can be checked).
fn refusal(error: &ForgeError) -> Option<String> {
    match error {
        ForgeError::Unauthorized { .. }
        | ForgeError::Forbidden { .. }
        | ForgeError::NotFound { .. }
        | ForgeError::App(_) => Some(error.to_string()),
        _ => None,
    }
}

/// Runs the checks for `cfg`'s repository.
pub async fn run(cfg: &RegisterConfig, clock: Arc<dyn Clock>) -> Result<Report, DoctorError> {
    let credentials = match (&cfg.github_app, &cfg.token) {
        (Some(app), _) => Credentials::App(app.clone()),
        (None, Some(token)) => Credentials::Token(token.clone()),
        (None, None) => {
            return Err(ConfigError::NoToken {
                repo: cfg.repo.to_string(),
            }
            .into());
        }
    };
    let app = matches!(credentials, Credentials::App(_));
    let deadline = clock.elapsed().saturating_add(cfg.run_timeout);
    let github = GitHub::new(
        GitHubOptions {
            api_url: cfg.api_url.clone(),
            repo: cfg.repo.clone(),
            credentials,
            request_timeout: cfg.request_timeout,
            deadline,
            run_timeout: cfg.run_timeout,
            rate_limit_wait: cfg.rate_limit_wait,
            read_retries: READ_RETRIES,
            jitter_seed: None,
        },
        clock,
    )?;
    // An operator at a terminal: no readiness wait, failed reads are retried from the first.
    github.mark_reached();
    let result = observe(cfg, &github, app).await;
    if app {
        match github.revoke_installation_token().await {
            Ok(true) => log::debug!("revoked doctor's installation token"),
            Ok(false) => {}
            Err(e) => log::warn!(
                "could not revoke doctor's installation token ({e}); it expires on its own within \
                 an hour"
            ),
        }
    }
    let lines = checks::lines(&result?);
    Ok(Report {
        lines,
        counts: github.counts(),
    })
}

async fn observe(
    cfg: &RegisterConfig,
    github: &GitHub,
    app: bool,
) -> Result<checks::Observed, DoctorError> {
    let mut observed = checks::Observed {
        repo: cfg.repo.to_string(),
        auto_merge_wanted: cfg.auto_merge.is_some(),
        base_branch: cfg.base_branch.clone(),
        credential: checks::Credential::Token,
        repository: Err(String::new()),
        base_exists: None,
        rulesets: None,
        classic: None,
        user: None,
        user_access: None,
    };
    if app {
        let installation = match github.app_installation().await {
            Ok(installation) => installation,
            Err(e) => {
                observed.repository = Err(refusal(&e).ok_or(e)?);
                return Ok(observed);
            }
        };
        let id = installation.id;
        observed.credential = checks::Credential::App {
            installation,
            configured_id: cfg.github_app.as_ref().and_then(|a| a.installation_id),
        };
        if let Err(e) = github.mint_installation_token(id).await {
            observed.repository = Err(refusal(&e).ok_or(e)?);
            return Ok(observed);
        }
    }
    let settings = match github.repo_settings().await {
        Ok(settings) => settings,
        Err(e) => {
            observed.repository = Err(refusal(&e).ok_or(e)?);
            return Ok(observed);
        }
    };
    let branch = cfg
        .base_branch
        .clone()
        .unwrap_or_else(|| settings.default_branch.clone());
    observed.repository = Ok(settings);
    observed.base_exists = Some(
        crate::forge::Forge::branch_sha(github, &branch)
            .await?
            .is_some(),
    );
    observed.rulesets = Some(github.branch_rules(&branch).await?);
    observed.classic = Some(github.classic_protection(&branch).await?);
    if !app {
        observed.user = github.token_user().await?;
        if let Some(user) = &observed.user {
            observed.user_access = Some(github.collaborator_access(&user.login).await?);
        }
    }
    Ok(observed)
}

/// The lines for a terminal: `✔ what`, and under a ✘ or ? (or advice) the fix.
pub fn text(lines: &[Line]) -> String {
    let mut out = String::new();
    for line in lines {
        out.push_str(&format!("{} {}\n", line.status.mark(), line.detail));
        if let Some(fix) = &line.fix {
            let lead = if line.status == Status::Ok {
                "note"
            } else {
                "fix"
            };
            out.push_str(&format!("  {lead}: {fix}\n"));
        }
    }
    let failed = lines.iter().filter(|l| l.status == Status::Fail).count();
    let unknown = lines.iter().filter(|l| l.status == Status::Unknown).count();
    out.push_str(&match (failed, unknown) {
        (0, 0) => "doctor: everything checked is set up\n".to_owned(),
        (0, n) => format!("doctor: nothing to fix; {n} check(s) could not be made from here\n"),
        (n, _) => format!("doctor: {n} thing(s) to fix\n"),
    });
    out
}

/// The lines as one JSON object: `{"healthy": bool, "checks": [{check, status, detail, fix}]}`.
pub fn json(lines: &[Line]) -> String {
    let value = serde_json::json!({ "healthy": healthy(lines), "checks": lines });
    let mut out = serde_json::to_string_pretty(&value).unwrap_or_default();
    out.push('\n');
    out
}
