//! The trust side of the fake GitHub: what `enlist gate` and `enlist doctor` read (SPEC §5c) —
//! a pull request's files and reviews, collaborators' access, the base branch's rulesets and
//! classic protection, the token's user — answered as GitHub does and checked, like every other
//! answer of the fake, against the vendored OpenAPI description.
//!
//! | endpoint | modelled on |
//! |---|---|
//! | `GET …/pulls/{n}/files` | the diff of the head against the commit its branch was created (or force-reset) at — the merge base, as GitHub's three-dot diff; a removed and an added file with the same content are one `renamed` entry; paginated, at most 3,000. [`Trust::files_from`] makes it answer for another commit (a list behind the head) |
//! | `GET …/compare/{base}...{head}` | the same diff for two commit shas: from the fork point of the branch whose head is `head` (else from `base`); at most 300 files |
//! | `GET …/pulls/{n}/reviews` | [`Trust::reviews`], oldest first, paginated |
//! | `GET …/collaborators/{u}/permission` | [`Trust::collaborators`]; anyone else 404 |
//! | `GET …/rules/branches/{b}` | the fake's [`State::required_checks`] as one repository ruleset, each from [`Trust::check_source`]; a `pull_request` rule with [`Trust::code_owner_review`] and [`Trust::dismiss_stale_reviews`] |
//! | `GET …/branches/{b}/protection` | [`Trust::classic`]: 404 "Branch not protected" when absent, 403 when [`Trust::classic_readable`] is off (a token without Administration: read); its checks from [`Trust::check_source`] |
//! | `GET /user` | [`Trust::user`] (403 for an installation token, as GitHub answers) |
//! | `X-OAuth-Scopes` | sent on every answer to the token while [`Trust::oauth_scopes`] is set (a classic token) |
//!
//! A pull request's author is the token's user unless a test names another ([`Trust::authors`]);
//! `head.repo` is the repository itself unless a test makes it a fork ([`Trust::forks`]).

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::{Answer, Pull, State, not_found};
use crate::openapi::Spec;

/// Most files GitHub lists for a pull request.
const MAX_FILES: usize = 3000;

/// Most files GitHub lists in a comparison of two commits.
const MAX_COMPARED_FILES: usize = 300;

/// An account (a user or a bot).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Who {
    /// Login.
    pub login: String,
    /// `User` or `Bot`.
    pub kind: String,
}

impl Who {
    /// A person (or machine user): `type: User`.
    pub fn user(login: &str) -> Who {
        Who {
            login: login.to_owned(),
            kind: "User".to_owned(),
        }
    }

    /// A bot (a GitHub App): `type: Bot`.
    pub fn bot(login: &str) -> Who {
        Who {
            login: login.to_owned(),
            kind: "Bot".to_owned(),
        }
    }
}

/// A review in the fake.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FakeReview {
    /// The pull request.
    pub pull: u64,
    /// Who reviewed.
    pub by: Who,
    /// `APPROVED`, `CHANGES_REQUESTED`, `COMMENTED`, `DISMISSED`, `PENDING`.
    pub state: String,
    /// The head it was made on.
    pub commit_id: String,
}

/// The fake's trust-related state (part of [`State`]).
#[derive(Clone, Debug)]
pub struct Trust {
    /// Branch → the commit it was created (or force-reset) at: where a pull request from it
    /// forked off its base.
    pub forked_at: BTreeMap<String, String>,
    /// Pull request → its author, when not [`Trust::user`].
    pub authors: BTreeMap<u64, Who>,
    /// Pull request → the fork (`owner/name`) it comes from.
    pub forks: BTreeMap<u64, String>,
    /// Reviews, in the order they were submitted.
    pub reviews: Vec<FakeReview>,
    /// Lowercase login → (`permission`, `role_name`).
    pub collaborators: BTreeMap<String, (String, String)>,
    /// Branch → the checks its classic protection requires (absent: not protected).
    pub classic: BTreeMap<String, Vec<String>>,
    /// Whether the token may read classic protection (Administration: read).
    pub classic_readable: bool,
    /// The token's user.
    pub user: Who,
    /// `X-OAuth-Scopes` of a classic token (`None`: a fine-grained token, no header).
    pub oauth_scopes: Option<String>,
    /// A push that lands on a pull request's branch the moment its files are read: (path,
    /// content). The head moves while a gate runs, without any waiting.
    pub push_when_files_are_read: Option<(String, String)>,
    /// A commit whose files `GET …/pulls/{n}/files` lists instead of the head's: the list of a
    /// head that was pushed away and back while a gate ran, or one GitHub computed late.
    pub files_from: Option<String>,
    /// The App every required check is expected from (`integration_id`, `app_id`); `None`: any
    /// source. GitHub Actions (15368) by default.
    pub check_source: Option<u64>,
    /// The rules require the code owners' review (a ruleset's `pull_request` rule, and classic
    /// protection's `required_pull_request_reviews`).
    pub code_owner_review: bool,
    /// The rules dismiss stale approvals (`dismiss_stale_reviews_on_push`, classic
    /// `dismiss_stale_reviews`).
    pub dismiss_stale_reviews: bool,
    /// The repository is public (`private: false`).
    pub public: bool,
}

impl Default for Trust {
    fn default() -> Self {
        Trust {
            forked_at: BTreeMap::new(),
            authors: BTreeMap::new(),
            forks: BTreeMap::new(),
            reviews: Vec::new(),
            collaborators: BTreeMap::from([(
                "fleet-bot".to_owned(),
                ("write".to_owned(), "write".to_owned()),
            )]),
            classic: BTreeMap::new(),
            classic_readable: true,
            user: Who::user("fleet-bot"),
            oauth_scopes: None,
            push_when_files_are_read: None,
            files_from: None,
            check_source: Some(15368),
            code_owner_review: true,
            dismiss_stale_reviews: true,
            public: false,
        }
    }
}

impl Trust {
    /// Records that `branch` now starts at `sha` (created, or force-reset).
    pub fn forked(&mut self, branch: &str, sha: &str) {
        self.forked_at.insert(branch.to_owned(), sha.to_owned());
    }

    /// `login` reviews pull request `pull` at commit `commit_id`.
    pub fn review(&mut self, pull: u64, by: Who, state: &str, commit_id: &str) {
        self.reviews.push(FakeReview {
            pull,
            by,
            state: state.to_owned(),
            commit_id: commit_id.to_owned(),
        });
    }

    /// Gives `login` a role on the repository (`read`, `triage`, `write`, `maintain`, `admin`).
    pub fn grant(&mut self, login: &str, role: &str) {
        let permission = match role {
            "maintain" => "write",
            "triage" => "read",
            other => other,
        };
        self.collaborators.insert(
            login.to_lowercase(),
            (permission.to_owned(), role.to_owned()),
        );
    }
}

impl State {
    /// Deletes `path` on `branch`, in a new commit (test arrangement).
    pub fn delete_file(&mut self, branch: &str, path: &str) {
        let mut tree = self.tree(branch).cloned().unwrap_or_default();
        tree.remove(path);
        let sha = self.commit(tree);
        self.branches.insert(branch.to_owned(), sha);
    }
}

/// Answers the trust endpoints (`None`: not one of them). `bearer` is the request's credential.
pub(super) fn route(
    state: &mut State,
    method: &str,
    path: &str,
    query: &[(String, String)],
    bearer: &str,
) -> Option<Answer> {
    if method != "GET" {
        return None;
    }
    if path == "/user" {
        return Some(user(state, bearer));
    }
    let prefix = format!("/repos/{}/{}/", state.owner, state.name);
    let rest = path.strip_prefix(&prefix)?;
    let segments: Vec<&str> = rest.split('/').collect();
    Some(match segments.as_slice() {
        ["pulls", n, "files"] => {
            if let Some((path, content)) = state.trust.push_when_files_are_read.take()
                && let Some(pull) = n.parse::<u64>().ok().and_then(|n| state.pull(n)).cloned()
            {
                state.put_file(&pull.head, &path, &content);
            }
            with_pull(state, n, |p| files(state, p, query))
        }
        ["pulls", n, "reviews"] => with_pull(state, n, |p| reviews(state, p, query)),
        ["compare", basehead] => compare(state, basehead),
        ["collaborators", login, "permission"] => permission(state, login),
        ["rules", "branches", branch @ ..] => rules(state, &branch.join("/")),
        ["branches", branch @ .., "protection"] => protection(state, &branch.join("/")),
        _ => return None,
    })
}

/// Decorates a pull request's JSON: its author, `base.sha` (the base branch's head),
/// `head.repo`/`base.repo`.
pub(super) fn decorate_pull(state: &State, pull: &Pull, p: &mut Value) {
    let author = state
        .trust
        .authors
        .get(&pull.number)
        .unwrap_or(&state.trust.user);
    p["user"] = user_json(author);
    if let Some(sha) = state.branches.get(&pull.base) {
        p["base"]["sha"] = json!(sha);
    }
    let full = format!("{}/{}", state.owner, state.name);
    let mut base_repo = Spec::get().skeleton("repository");
    base_repo["full_name"] = json!(full);
    base_repo["name"] = json!(state.name);
    base_repo["owner"]["login"] = json!(state.owner);
    p["base"]["repo"] = base_repo.clone();
    let mut head_repo = base_repo;
    if let Some(fork) = state.trust.forks.get(&pull.number) {
        head_repo["full_name"] = json!(fork);
        head_repo["fork"] = json!(true);
    }
    p["head"]["repo"] = head_repo;
}

/// The `X-OAuth-Scopes` header for an answer to a request with `headers`: only the (classic)
/// token gets it.
pub(super) fn scopes_header(
    state: &State,
    headers: &[(String, String)],
) -> Option<(String, String)> {
    let scopes = state.trust.oauth_scopes.as_ref()?;
    let auth = headers
        .iter()
        .find(|(k, _)| k == "authorization")
        .map_or("", |(_, v)| v.as_str());
    let bearer = auth
        .strip_prefix("Bearer ")
        .or_else(|| auth.strip_prefix("token "))
        .unwrap_or("");
    (bearer == state.token).then(|| ("x-oauth-scopes".to_owned(), scopes.clone()))
}

fn user_json(who: &Who) -> Value {
    let mut u = Spec::get().skeleton("simple-user");
    u["login"] = json!(who.login);
    u["type"] = json!(who.kind);
    u["id"] = json!(10_000 + who.login.len());
    u
}

fn with_pull(state: &State, n: &str, f: impl FnOnce(&Pull) -> Answer) -> Answer {
    match n
        .parse::<u64>()
        .ok()
        .and_then(|n| state.pulls.iter().find(|p| p.number == n))
    {
        Some(p) => f(p),
        None => not_found("pulls/pulls#get-a-pull-request"),
    }
}

fn files(state: &State, pull: &Pull, query: &[(String, String)]) -> Answer {
    let empty = BTreeMap::new();
    let head_sha = state
        .trust
        .files_from
        .clone()
        .or_else(|| state.branches.get(&pull.head).cloned())
        .unwrap_or_default();
    let head = state.commits.get(&head_sha).unwrap_or(&empty);
    let fork_point = state
        .trust
        .forked_at
        .get(&pull.head)
        .and_then(|sha| state.commits.get(sha))
        .or_else(|| state.tree(&pull.base))
        .unwrap_or(&empty);
    let mut items = diff(state, fork_point, head, &head_sha);
    items.truncate(MAX_FILES);
    state.page(&format!("/pulls/{}/files", pull.number), query, items)
}

/// `GET …/compare/{base}...{head}` for two commit shas: the three-dot diff, from the fork point
/// of the branch `head` is the head of (else from `base`).
fn compare(state: &State, basehead: &str) -> Answer {
    let missing = || not_found("commits/commits#compare-two-commits");
    let Some((base_sha, head_sha)) = basehead.split_once("...") else {
        return missing();
    };
    let (Some(base), Some(head)) = (state.commits.get(base_sha), state.commits.get(head_sha))
    else {
        return missing();
    };
    let fork_sha = state
        .branches
        .iter()
        .filter(|(_, sha)| *sha == head_sha)
        .find_map(|(branch, _)| state.trust.forked_at.get(branch))
        .filter(|sha| state.commits.contains_key(*sha))
        .map_or(base_sha, String::as_str);
    let fork_point = state.commits.get(fork_sha).unwrap_or(base);
    let mut files = diff(state, fork_point, head, head_sha);
    files.truncate(MAX_COMPARED_FILES);
    let commit = |sha: &str| {
        let mut c = Spec::get().skeleton("commit");
        c["sha"] = json!(sha);
        c["url"] = json!(format!("{}/commits/{sha}", state.base_url()));
        c["html_url"] = json!(format!("{}/commit/{sha}", state.html_url()));
        c
    };
    let mut v = Spec::get().skeleton("commit-comparison");
    let html = format!("{}/compare/{basehead}", state.html_url());
    v["url"] = json!(format!("{}/compare/{basehead}", state.base_url()));
    v["html_url"] = json!(html);
    v["permalink_url"] = json!(html);
    v["diff_url"] = json!(format!("{html}.diff"));
    v["patch_url"] = json!(format!("{html}.patch"));
    v["base_commit"] = commit(base_sha);
    v["merge_base_commit"] = commit(fork_sha);
    v["status"] = json!(if fork_sha == head_sha {
        "identical"
    } else {
        "ahead"
    });
    v["ahead_by"] = json!(u64::from(fork_sha != head_sha));
    v["behind_by"] = json!(0);
    v["total_commits"] = json!(u64::from(fork_sha != head_sha));
    v["commits"] = json!([commit(head_sha)]);
    v["files"] = json!(files);
    Answer::json(200, v)
}

/// The diff entries from `fork_point` to `head` (commit `head_sha`), sorted by path.
fn diff(
    state: &State,
    fork_point: &BTreeMap<String, String>,
    head: &BTreeMap<String, String>,
    head_sha: &str,
) -> Vec<Value> {
    let mut added: Vec<(&String, &String)> = head
        .iter()
        .filter(|(path, _)| !fork_point.contains_key(*path))
        .collect();
    let mut removed: Vec<(&String, &String)> = fork_point
        .iter()
        .filter(|(path, _)| !head.contains_key(*path))
        .collect();
    let mut entries: Vec<(String, &str, Option<String>, &str)> = Vec::new();
    // A file removed and one added with the same content: a rename, as git finds it.
    removed.retain(
        |(old, content)| match added.iter().position(|(_, new)| new == content) {
            Some(at) => {
                let (new, text) = added.remove(at);
                entries.push((new.clone(), "renamed", Some((*old).clone()), text));
                false
            }
            None => true,
        },
    );
    entries.extend(
        added
            .iter()
            .map(|(p, c)| ((*p).clone(), "added", None, c.as_str())),
    );
    entries.extend(
        removed
            .iter()
            .map(|(p, c)| ((*p).clone(), "removed", None, c.as_str())),
    );
    entries.extend(
        head.iter()
            .filter(|(path, content)| {
                fork_point
                    .get(*path)
                    .is_some_and(|before| before != *content)
            })
            .map(|(p, c)| (p.clone(), "modified", None, c.as_str())),
    );
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    entries
        .into_iter()
        .map(|(path, status, previous, content)| {
            let mut e = Spec::get().skeleton("diff-entry");
            let lines = content.lines().count();
            e["filename"] = json!(path);
            e["status"] = json!(status);
            e["sha"] = json!(super::blob_sha(content));
            e["additions"] = json!(if status == "removed" { 0 } else { lines });
            e["deletions"] = json!(if status == "removed" { lines } else { 0 });
            e["changes"] = json!(lines);
            e["blob_url"] = json!(format!("{}/blob/{head_sha}/{path}", state.html_url()));
            e["raw_url"] = json!(format!("{}/raw/{head_sha}/{path}", state.html_url()));
            e["contents_url"] = json!(format!(
                "{}/contents/{path}?ref={head_sha}",
                state.base_url()
            ));
            if let Some(previous) = previous {
                e["previous_filename"] = json!(previous);
            }
            e
        })
        .collect()
}

fn reviews(state: &State, pull: &Pull, query: &[(String, String)]) -> Answer {
    let items: Vec<Value> = state
        .trust
        .reviews
        .iter()
        .enumerate()
        .filter(|(_, r)| r.pull == pull.number)
        .map(|(i, r)| {
            let id = 80_000 + i as u64;
            let mut v = Spec::get().skeleton("pull-request-review");
            v["id"] = json!(id);
            v["node_id"] = json!(format!("PRR_kwDO{id:08}"));
            v["user"] = user_json(&r.by);
            v["body"] = json!("");
            v["state"] = json!(r.state);
            v["commit_id"] = json!(r.commit_id);
            let html = format!(
                "{}/pull/{}#pullrequestreview-{id}",
                state.html_url(),
                pull.number
            );
            let api = format!("{}/pulls/{}", state.base_url(), pull.number);
            v["html_url"] = json!(html);
            v["pull_request_url"] = json!(api);
            v["_links"] = json!({"html": {"href": html}, "pull_request": {"href": api}});
            v["author_association"] = json!("COLLABORATOR");
            v["submitted_at"] = json!("2026-11-21T12:00:00Z");
            v
        })
        .collect();
    state.page(&format!("/pulls/{}/reviews", pull.number), query, items)
}

fn permission(state: &State, login: &str) -> Answer {
    let Some((permission, role)) = state.trust.collaborators.get(&login.to_lowercase()) else {
        return not_found("collaborators/collaborators#get-repository-permissions-for-a-user");
    };
    // `nullable-collaborator` is a simple user with its role (its skeleton would be null).
    let mut user = user_json(&Who::user(login));
    user["role_name"] = json!(role);
    Answer::json(
        200,
        json!({"permission": permission, "role_name": role, "user": user}),
    )
}

fn rules(state: &State, branch: &str) -> Answer {
    let source = |rule: &mut Value| {
        rule["ruleset_source_type"] = json!("Repository");
        rule["ruleset_source"] = json!(format!("{}/{}", state.owner, state.name));
        rule["ruleset_id"] = json!(42);
    };
    let mut rules = Vec::new();
    if let Some(checks) = state.required_checks.get(branch).filter(|c| !c.is_empty()) {
        let configured: Vec<Value> = checks
            .iter()
            .map(|c| match state.trust.check_source {
                Some(app) => json!({"context": c, "integration_id": app}),
                None => json!({"context": c}),
            })
            .collect();
        let mut rule = json!({
            "type": "required_status_checks",
            "parameters": {
                "required_status_checks": configured,
                "strict_required_status_checks_policy": false,
            },
        });
        source(&mut rule);
        rules.push(rule);
    }
    if state.trust.code_owner_review || state.trust.dismiss_stale_reviews {
        let mut rule = json!({
            "type": "pull_request",
            "parameters": {
                "dismiss_stale_reviews_on_push": state.trust.dismiss_stale_reviews,
                "require_code_owner_review": state.trust.code_owner_review,
                "require_last_push_approval": false,
                "required_approving_review_count": 0,
                "required_review_thread_resolution": false,
            },
        });
        source(&mut rule);
        rules.push(rule);
    }
    Answer::json(200, json!(rules))
}

fn protection(state: &State, branch: &str) -> Answer {
    if !state.trust.classic_readable {
        return Answer::json(
            403,
            json!({"message": "Resource not accessible by personal access token", "documentation_url": "https://docs.github.com/rest/branches/branch-protection#get-branch-protection", "status": "403"}),
        );
    }
    let Some(checks) = state.trust.classic.get(branch) else {
        return Answer::json(
            404,
            json!({"message": "Branch not protected", "documentation_url": "https://docs.github.com/rest/branches/branch-protection#get-branch-protection", "status": "404"}),
        );
    };
    let url = format!("{}/branches/{branch}/protection", state.base_url());
    let listed: Vec<Value> = checks
        .iter()
        .map(|c| json!({"context": c, "app_id": state.trust.check_source}))
        .collect();
    let mut protection = json!({
        "url": url,
        "required_status_checks": {
            "url": format!("{url}/required_status_checks"),
            "strict": false,
            "contexts": checks,
            "checks": listed,
            "contexts_url": format!("{url}/required_status_checks/contexts"),
        },
    });
    if state.trust.code_owner_review || state.trust.dismiss_stale_reviews {
        protection["required_pull_request_reviews"] = json!({
            "url": format!("{url}/required_pull_request_reviews"),
            "dismiss_stale_reviews": state.trust.dismiss_stale_reviews,
            "require_code_owner_reviews": state.trust.code_owner_review,
            "required_approving_review_count": 0,
            "require_last_push_approval": false,
        });
    }
    Answer::json(200, protection)
}

fn user(state: &State, bearer: &str) -> Answer {
    if bearer != state.token {
        // An installation token has no user.
        return Answer::json(
            403,
            json!({"message": "Resource not accessible by integration", "documentation_url": "https://docs.github.com/rest/users/users#get-the-authenticated-user", "status": "403"}),
        );
    }
    let mut u = Spec::get().skeleton("private-user");
    let base = user_json(&state.trust.user);
    if let (Some(target), Some(fields)) = (u.as_object_mut(), base.as_object()) {
        for (key, value) in fields {
            if target.contains_key(key) {
                target.insert(key.clone(), value.clone());
            }
        }
    }
    u["user_view_type"] = json!("private");
    Answer::json(200, u)
}
