//! The reads of `enlist gate` and `enlist doctor` (SPEC §5c), on the same client as registration:
//! the same HTTP layer, answer cap ([`super::MAX_RESPONSE_BYTES`]), rate-limit waits, retries of
//! reads, pagination ([`super::MAX_PAGES`]), sanitised messages and error mapping. Every method here
//! is a GET (and, in App mode, the installation lookup with the JWT): neither command writes to
//! the repository.
//!
//! GitHub's answers are data from whoever wrote the PR: file names, logins and review states are
//! kept as strings (rendered inert by the gate's report), and a field enlist relies on that is
//! missing or malformed makes the answer [`ForgeError::Unexpected`] (exit 76), never a guess.

use std::collections::BTreeMap;

use base64::Engine;
use http::Method;
use serde_json::Value;

use super::{Auth, GitHub, PER_PAGE, is_commit_sha, path_value, query_value, text};
use crate::forge::{AppError, ForgeError};

/// The most files GitHub lists for a pull request (`GET …/pulls/{n}/files` stops there): a PR
/// with more is never a machine change anyway, it needs a person.
pub const MAX_PR_FILES: usize = 3000;

/// A GitHub account as a pull request or a review names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    /// `login`.
    pub login: String,
    /// `type` is not `User` (a `Bot`: a GitHub App, `github-actions[bot]`, Dependabot, …).
    pub bot: bool,
}

/// A pull request as the gate reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GatePull {
    /// Number.
    pub number: u64,
    /// Open (else closed or merged).
    pub open: bool,
    /// Who opened it (`user`).
    pub author: Account,
    /// `head.sha`: the commit being gated.
    pub head_sha: String,
    /// `head.ref`: the branch.
    pub head_ref: String,
    /// `head.repo.full_name`; `None` when the fork it came from was deleted.
    pub head_repo: Option<String>,
    /// `base.sha`: the base the PR's files were compared with.
    pub base_sha: String,
    /// `base.ref`.
    pub base_ref: String,
    /// `base.repo.full_name`: the repository itself.
    pub base_repo: String,
}

/// One file a pull request changes (`GET …/pulls/{n}/files`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChangedFile {
    /// `filename`.
    pub path: String,
    /// `status`: `added`, `removed`, `modified`, `renamed`, `copied`, `changed`, `unchanged`.
    pub status: String,
    /// `previous_filename` (renames).
    pub previous_path: Option<String>,
}

/// One review (`GET …/pulls/{n}/reviews`), in GitHub's (chronological) order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Review {
    /// Who reviewed.
    pub reviewer: Account,
    /// `APPROVED`, `CHANGES_REQUESTED`, `COMMENTED`, `DISMISSED`, `PENDING`.
    pub state: String,
    /// The head the review was made on.
    pub commit_id: Option<String>,
}

/// A collaborator's access to the repository (`GET …/collaborators/{u}/permission`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Access {
    /// `permission`: `admin`, `write`, `read`, `none` (`maintain` shows as `write`).
    pub permission: String,
    /// `role_name`: also `maintain`, `triage` or a custom role.
    pub role_name: Option<String>,
}

impl Access {
    /// No access at all (GitHub's 404 for someone who is not a collaborator).
    pub fn none() -> Access {
        Access {
            permission: "none".to_owned(),
            role_name: None,
        }
    }

    /// Write access or more: `write`, `maintain` or `admin`.
    pub fn can_write(&self) -> bool {
        let strong = |level: &str| matches!(level, "admin" | "maintain" | "write");
        strong(&self.permission) || self.role_name.as_deref().is_some_and(strong)
    }

    /// As people read it: the role when GitHub names one, else the permission.
    pub fn shown(&self) -> &str {
        self.role_name.as_deref().unwrap_or(&self.permission)
    }
}

/// A path at a commit, as the contents API describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Blob {
    /// A regular file and its text (invalid UTF-8 replaced).
    File(String),
    /// No such path at that commit.
    Missing,
    /// Something else: a `symlink`, a `submodule`, a directory, or a file GitHub does not
    /// inline (over 1 MB): never a node.yaml.
    Other(String),
}

/// The repository's settings doctor looks at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RepoSettings {
    /// `default_branch`.
    pub default_branch: String,
    /// `allow_auto_merge`; `None` when GitHub does not show it to this credential.
    pub allow_auto_merge: Option<bool>,
    /// Public (`private: false`): anyone can fork it and propose a pull request from the fork.
    pub public: Option<bool>,
    /// `allow_forking`; `None` when GitHub does not say (a personal repository).
    pub allow_forking: Option<bool>,
    /// The `X-OAuth-Scopes` header of the answer: present only for a classic personal access
    /// token (fine-grained and installation tokens get none).
    pub oauth_scopes: Option<String>,
}

/// Whether something could be read, and what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Readable<T> {
    /// Read.
    Read(T),
    /// GitHub refused (403) or hid (404) it from this credential: the HTTP status.
    Unreadable(u16),
}

/// A status check a branch requires.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequiredCheck {
    /// The check's name (a job name, or a commit status context).
    pub context: String,
    /// The App whose check or status alone satisfies it (a ruleset's `integration_id`, classic
    /// protection's `app_id`); `None`: any source — a commit status anyone with Commit
    /// statuses: write sets satisfies it.
    pub source: Option<u64>,
}

/// What a branch's rules (the active rulesets, or classic protection) require of a pull request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BranchRules {
    /// The status checks.
    pub checks: Vec<RequiredCheck>,
    /// An approval by the code owners of the files a pull request changes.
    pub code_owner_review: bool,
    /// Approvals are dismissed when new commits are pushed or the merge base changes (a pull
    /// request moved to another base keeps its head, not its approvals).
    pub dismiss_stale_reviews: bool,
}

/// A branch's classic protection (`GET …/branches/{b}/protection`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Protection {
    /// 404 "Branch not protected".
    None,
    /// Protected, with these rules.
    Protected(BranchRules),
}

/// The GitHub App installation that covers the repository (`GET …/installation`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Installation {
    /// Its id.
    pub id: u64,
    /// The App's id (`app_id`).
    pub app_id: Option<u64>,
    /// `all` or `selected`.
    pub repository_selection: String,
    /// What it was granted (`permissions`: `contents` → `write`, …): what a token minted with
    /// the App's key can hold, whatever enlist narrows its own tokens to.
    pub permissions: BTreeMap<String, String>,
}

impl GitHub {
    /// `GET /repos/{o}/{r}/pulls/{n}` as the gate needs it. 404: the PR does not exist, or the
    /// token cannot see it.
    pub async fn gate_pull(&self, number: u64) -> Result<GatePull, ForgeError> {
        self.read_pull(number, parse_gate_pull).await
    }

    /// `GET /repos/{o}/{r}/pulls/{n}/files`, every page (GitHub lists at most [`MAX_PR_FILES`]).
    pub async fn pull_files(&self, number: u64) -> Result<Vec<ChangedFile>, ForgeError> {
        let what = format!("files of pull request #{number}");
        let url = self.repo_path(&format!("/pulls/{number}/files?per_page={PER_PAGE}"));
        let items = self.list(&url, &what).await?;
        changed_files(&items).ok_or_else(|| ForgeError::Unexpected {
            what,
            status: 200,
            message: "a file without filename or status".to_owned(),
        })
    }

    /// `GET /repos/{o}/{r}/compare/{base}...{head}`: the files changed from the merge base of two
    /// commit shas to `head` (GitHub's three-dot comparison, as a pull request's diff). Unlike
    /// the pull request's list it is pinned to both shas. GitHub lists at most 300 files here;
    /// the gate asks only when the pull request lists one. `per_page=1`: one commit in the
    /// answer, not 250 (the files come on the first page whatever its size).
    pub async fn compare_files(
        &self,
        base: &str,
        head: &str,
    ) -> Result<Vec<ChangedFile>, ForgeError> {
        let what = format!(
            "the comparison of {} with {}",
            super::short_sha(head),
            super::short_sha(base)
        );
        if !is_commit_sha(base) || !is_commit_sha(head) {
            // Both come from a parsed pull request, which checked them; a guard, not a path.
            return Err(ForgeError::Unexpected {
                what,
                status: 0,
                message: "a comparison is of two commit shas".to_owned(),
            });
        }
        let url = self.repo_path(&format!("/compare/{base}...{head}?per_page=1"));
        let reply = self.request(Method::GET, &url, None, &what).await?;
        if reply.status != 200 {
            return Err(Self::unexpected(&what, &reply));
        }
        let files = match reply.json.get("files") {
            // GitHub leaves `files` out of a comparison that changes nothing.
            None | Some(Value::Null) => return Ok(Vec::new()),
            Some(Value::Array(files)) => files,
            Some(_) => return Err(Self::unexpected(&what, &reply)),
        };
        changed_files(files).ok_or_else(|| ForgeError::Unexpected {
            what,
            status: 200,
            message: "a file without filename or status".to_owned(),
        })
    }

    /// `GET /repos/{o}/{r}/pulls/{n}/reviews`, every page, oldest first.
    pub async fn pull_reviews(&self, number: u64) -> Result<Vec<Review>, ForgeError> {
        let what = format!("reviews of pull request #{number}");
        let url = self.repo_path(&format!("/pulls/{number}/reviews?per_page={PER_PAGE}"));
        let items = self.list(&url, &what).await?;
        items
            .iter()
            .map(|item| {
                Some(Review {
                    reviewer: account(item.get("user")?)?,
                    state: item.get("state")?.as_str()?.to_owned(),
                    commit_id: text(item, "commit_id"),
                })
            })
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| ForgeError::Unexpected {
                what,
                status: 200,
                message: "a review without user or state".to_owned(),
            })
    }

    /// `GET /repos/{o}/{r}/collaborators/{login}/permission`; 404 (not a collaborator, or a bot
    /// GitHub does not list) is no access.
    pub async fn collaborator_access(&self, login: &str) -> Result<Access, ForgeError> {
        let what = format!("the permission of {}", crate::markdown::one_line(login));
        let path = self.repo_path(&format!("/collaborators/{}/permission", path_value(login)));
        let reply = self.request(Method::GET, &path, None, &what).await?;
        match reply.status {
            200 => {
                let permission = text(&reply.json, "permission")
                    .ok_or_else(|| Self::unexpected(&what, &reply))?;
                Ok(Access {
                    permission,
                    role_name: text(&reply.json, "role_name"),
                })
            }
            404 => Ok(Access::none()),
            _ => Err(Self::unexpected(&what, &reply)),
        }
    }

    /// `GET /repos/{o}/{r}/contents/{path}?ref={sha}`: what `path` is at commit `sha`. The answer
    /// must describe that very path as a `file` (the contents API follows a symlink to its target
    /// and answers for the target: that is not the file the PR changed).
    pub async fn blob_at(&self, path: &str, sha: &str) -> Result<Blob, ForgeError> {
        let what = format!(
            "{} at {}",
            crate::markdown::one_line(path),
            super::short_sha(sha)
        );
        let url = self.repo_path(&format!(
            "/contents/{}?ref={}",
            path_value(path),
            query_value(sha)
        ));
        let reply = self.request(Method::GET, &url, None, &what).await?;
        match reply.status {
            200 => {}
            404 => return Ok(Blob::Missing),
            _ => return Err(Self::unexpected(&what, &reply)),
        }
        let json = &reply.json;
        if json.is_array() {
            return Ok(Blob::Other("a directory".to_owned()));
        }
        let kind = text(json, "type").unwrap_or_default();
        if kind != "file" {
            return Ok(Blob::Other(format!(
                "a {}",
                crate::markdown::one_line(&kind)
            )));
        }
        if text(json, "path").as_deref() != Some(path) {
            return Ok(Blob::Other(
                "a link to another file (GitHub answered with its target)".to_owned(),
            ));
        }
        // Files over 1 MB come without inline content (`encoding: none`): larger than any
        // node.yaml may be (MAX_NODE_YAML_BYTES).
        if text(json, "encoding").as_deref() != Some("base64") {
            return Ok(Blob::Other("a file too large to be a node.yaml".to_owned()));
        }
        let encoded = json.get("content").and_then(Value::as_str).unwrap_or("");
        let compact: String = encoded.chars().filter(|c| !c.is_whitespace()).collect();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(compact)
            .map_err(|e| ForgeError::Unexpected {
                what: what.clone(),
                status: 200,
                message: format!("content is not base64: {e}"),
            })?;
        Ok(Blob::File(String::from_utf8_lossy(&bytes).into_owned()))
    }

    /// `GET /repos/{o}/{r}` with the settings doctor checks and the token's `X-OAuth-Scopes`.
    pub async fn repo_settings(&self) -> Result<RepoSettings, ForgeError> {
        let what = format!("repository {}", self.repo);
        let reply = self
            .request(Method::GET, &self.repo_path(""), None, &what)
            .await?;
        match reply.status {
            200 => Ok(RepoSettings {
                default_branch: text(&reply.json, "default_branch")
                    .ok_or_else(|| Self::unexpected(&what, &reply))?,
                allow_auto_merge: reply.json.get("allow_auto_merge").and_then(Value::as_bool),
                public: reply
                    .json
                    .get("private")
                    .and_then(Value::as_bool)
                    .map(|private| !private),
                allow_forking: reply.json.get("allow_forking").and_then(Value::as_bool),
                oauth_scopes: reply.header("x-oauth-scopes").map(str::to_owned),
            }),
            404 => Err(ForgeError::NotFound { what }),
            _ => Err(Self::unexpected(&what, &reply)),
        }
    }

    /// `GET /repos/{o}/{r}/rules/branches/{branch}` (every page): what the active rulesets
    /// require on the branch (status checks and their sources, code-owner review).
    pub async fn branch_rules(&self, branch: &str) -> Result<Readable<BranchRules>, ForgeError> {
        let what = format!("the rules of branch {}", crate::markdown::one_line(branch));
        let url = self.repo_path(&format!(
            "/rules/branches/{}?per_page={PER_PAGE}",
            path_value(branch)
        ));
        let rules = match self.list(&url, &what).await {
            Ok(rules) => rules,
            Err(ForgeError::Forbidden { .. }) => return Ok(Readable::Unreadable(403)),
            Err(ForgeError::Unexpected { status: 404, .. }) => {
                return Ok(Readable::Unreadable(404));
            }
            Err(e) => return Err(e),
        };
        let mut found = BranchRules::default();
        for rule in &rules {
            match rule.get("type").and_then(Value::as_str) {
                Some("required_status_checks") => {
                    let listed = rule
                        .pointer("/parameters/required_status_checks")
                        .and_then(Value::as_array);
                    found
                        .checks
                        .extend(listed.into_iter().flatten().filter_map(|c| {
                            Some(RequiredCheck {
                                context: text(c, "context")?,
                                source: c.get("integration_id").and_then(Value::as_u64),
                            })
                        }));
                }
                Some("pull_request") => {
                    let on = |key: &str| {
                        rule.pointer(&format!("/parameters/{key}"))
                            .and_then(Value::as_bool)
                            .unwrap_or(false)
                    };
                    found.code_owner_review |= on("require_code_owner_review");
                    found.dismiss_stale_reviews |= on("dismiss_stale_reviews_on_push");
                }
                _ => {}
            }
        }
        Ok(Readable::Read(found))
    }

    /// `GET /repos/{o}/{r}/branches/{branch}/protection`: classic branch protection, readable only
    /// with Administration read (403 otherwise).
    pub async fn classic_protection(
        &self,
        branch: &str,
    ) -> Result<Readable<Protection>, ForgeError> {
        let what = format!(
            "the protection of branch {}",
            crate::markdown::one_line(branch)
        );
        let path = self.repo_path(&format!("/branches/{}/protection", path_value(branch)));
        let reply = match self.request(Method::GET, &path, None, &what).await {
            Ok(reply) => reply,
            Err(ForgeError::Forbidden { .. }) => return Ok(Readable::Unreadable(403)),
            Err(e) => return Err(e),
        };
        match reply.status {
            200 => {
                let required = reply.json.get("required_status_checks");
                let list = |key: &str| {
                    required
                        .and_then(|r| r.get(key))
                        .and_then(Value::as_array)
                        .cloned()
                        .unwrap_or_default()
                };
                // `checks` names each check with its source (`app_id`, null: any); the older
                // `contexts` lists the same names without one.
                let mut checks: Vec<RequiredCheck> = list("checks")
                    .iter()
                    .filter_map(|c| {
                        Some(RequiredCheck {
                            context: text(c, "context")?,
                            source: c.get("app_id").and_then(Value::as_u64),
                        })
                    })
                    .collect();
                for context in list("contexts").iter().filter_map(Value::as_str) {
                    if !checks.iter().any(|c| c.context == context) {
                        checks.push(RequiredCheck {
                            context: context.to_owned(),
                            source: None,
                        });
                    }
                }
                let reviews = |key: &str| {
                    reply
                        .json
                        .pointer(&format!("/required_pull_request_reviews/{key}"))
                        .and_then(Value::as_bool)
                        .unwrap_or(false)
                };
                Ok(Readable::Read(Protection::Protected(BranchRules {
                    checks,
                    code_owner_review: reviews("require_code_owner_reviews"),
                    dismiss_stale_reviews: reviews("dismiss_stale_reviews"),
                })))
            }
            // "Branch not protected" — or, for a token that cannot see protection, a 404 too.
            404 if reply.message().contains("not protected") => {
                Ok(Readable::Read(Protection::None))
            }
            404 => Ok(Readable::Unreadable(404)),
            _ => Err(Self::unexpected(&what, &reply)),
        }
    }

    /// `GET /user`: the account a token belongs to. `None` when GitHub refuses (an installation
    /// token has no user).
    pub async fn token_user(&self) -> Result<Option<Account>, ForgeError> {
        let what = "the token's user".to_owned();
        let path = format!("{}/user", self.api_path);
        let reply = match self.request(Method::GET, &path, None, &what).await {
            Ok(reply) => reply,
            Err(ForgeError::Forbidden { .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        match reply.status {
            200 => account(&reply.json)
                .map(Some)
                .ok_or_else(|| Self::unexpected(&what, &reply)),
            _ => Err(Self::unexpected(&what, &reply)),
        }
    }

    /// `GET /repos/{o}/{r}/installation` (App JWT): the installation that covers the repository
    /// and whether it covers all of its owner's repositories.
    pub async fn app_installation(&self) -> Result<Installation, ForgeError> {
        let what = format!("the GitHub App installation on {}", self.repo);
        let reply = self
            .request_as(
                Auth::AppJwt,
                Method::GET,
                &self.repo_path("/installation"),
                None,
                &what,
                true,
            )
            .await
            .map_err(|e| self.jwt_rejected(e))?;
        if reply.status == 404 {
            return Err(AppError::NotInstalled {
                app_id: self.app().map(|a| a.id.clone()).unwrap_or_default(),
                repo: self.repo.to_string(),
            }
            .into());
        }
        if reply.status != 200 {
            return Err(Self::unexpected(&what, &reply));
        }
        let id = reply
            .json
            .get("id")
            .and_then(Value::as_u64)
            .ok_or_else(|| Self::unexpected(&what, &reply))?;
        let permissions = reply
            .json
            .get("permissions")
            .and_then(Value::as_object)
            .map(|granted| {
                granted
                    .iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                    .collect()
            })
            .unwrap_or_default();
        Ok(Installation {
            id,
            app_id: reply.json.get("app_id").and_then(Value::as_u64),
            repository_selection: text(&reply.json, "repository_selection")
                .ok_or_else(|| Self::unexpected(&what, &reply))?,
            permissions,
        })
    }
}

/// Diff entries (`filename`, `status`, `previous_filename`); `None` when one lacks a name or status.
fn changed_files(items: &[Value]) -> Option<Vec<ChangedFile>> {
    items
        .iter()
        .map(|item| {
            Some(ChangedFile {
                path: item.get("filename")?.as_str()?.to_owned(),
                status: item.get("status")?.as_str()?.to_owned(),
                previous_path: text(item, "previous_filename"),
            })
        })
        .collect()
}

/// An account (`login`, `type`); `None` without a login.
fn account(value: &Value) -> Option<Account> {
    Some(Account {
        login: value.get("login")?.as_str()?.to_owned(),
        bot: value.get("type").and_then(Value::as_str) != Some("User"),
    })
}

/// The pull request, or `None` when a field the gate relies on is missing or malformed (both
/// shas must be commit ids: they go into request paths and are compared with reviews').
fn parse_gate_pull(value: &Value) -> Option<GatePull> {
    let head = value.get("head")?;
    let base = value.get("base")?;
    let head_sha = head.get("sha")?.as_str()?;
    let base_sha = base.get("sha")?.as_str()?;
    if !is_commit_sha(head_sha) || !is_commit_sha(base_sha) {
        return None;
    }
    let full_name = |side: &Value| {
        side.get("repo")
            .and_then(|r| r.get("full_name"))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    Some(GatePull {
        number: value.get("number")?.as_u64()?,
        open: value.get("state")?.as_str()? == "open",
        author: account(value.get("user")?)?,
        head_sha: head_sha.to_lowercase(),
        head_ref: head.get("ref")?.as_str()?.to_owned(),
        head_repo: full_name(head),
        base_sha: base_sha.to_lowercase(),
        base_ref: base.get("ref")?.as_str()?.to_owned(),
        base_repo: full_name(base)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pull() -> Value {
        json!({
            "number": 7, "state": "open",
            "user": {"login": "node-bot", "type": "User"},
            "head": {"ref": "enlist/node-abc", "sha": "AB".repeat(20), "repo": {"full_name": "acme/fleet"}},
            "base": {"ref": "main", "sha": "cd".repeat(20), "repo": {"full_name": "acme/fleet"}},
        })
    }

    #[test]
    fn a_pull_request_needs_both_shas_and_its_author() {
        let parsed = parse_gate_pull(&pull()).unwrap();
        assert_eq!(parsed.head_sha, "ab".repeat(20), "shas compare lowercase");
        assert_eq!(parsed.head_repo.as_deref(), Some("acme/fleet"));
        assert!(!parsed.author.bot);
        let mut deleted_fork = pull();
        deleted_fork["head"]["repo"] = Value::Null;
        assert_eq!(parse_gate_pull(&deleted_fork).unwrap().head_repo, None);
        for broken in [
            json!({"base": {"sha": "x"}}),
            {
                let mut p = pull();
                p["base"]["sha"] = json!("main");
                p
            },
            {
                let mut p = pull();
                p["user"] = Value::Null;
                p
            },
        ] {
            assert_eq!(parse_gate_pull(&broken), None, "{broken}");
        }
    }

    #[test]
    fn write_access_is_write_maintain_or_admin() {
        let access = |permission: &str, role: Option<&str>| Access {
            permission: permission.into(),
            role_name: role.map(Into::into),
        };
        assert!(access("write", Some("write")).can_write());
        assert!(access("admin", Some("admin")).can_write());
        assert!(access("write", Some("maintain")).can_write());
        assert!(!access("read", Some("triage")).can_write());
        assert!(!access("read", None).can_write());
        assert!(!Access::none().can_write());
        assert_eq!(access("read", Some("triage")).shown(), "triage");
    }

    #[test]
    fn bots_are_anything_but_a_user() {
        assert!(
            account(&json!({"login": "enlist[bot]", "type": "Bot"}))
                .unwrap()
                .bot
        );
        assert!(
            account(&json!({"login": "x", "type": "Organization"}))
                .unwrap()
                .bot
        );
        assert!(
            account(&json!({"login": "x"})).unwrap().bot,
            "no type: not a person"
        );
        assert!(
            !account(&json!({"login": "alice", "type": "User"}))
                .unwrap()
                .bot
        );
    }
}
