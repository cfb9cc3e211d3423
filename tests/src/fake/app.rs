//! The GitHub App side of the fake GitHub: one App, installed (or not) on the fake's repository,
//! with the three endpoints enlist uses — `GET /repos/{o}/{r}/installation` and
//! `POST /app/installations/{id}/access_tokens` (both need the App's JWT) and
//! `DELETE /installation/token` (needs the installation token it revokes).
//!
//! JWTs are verified as GitHub does: RS256 signature with the App's public key (the test-only key
//! pair in `agent/tests/fixtures/github-app/`, verified with `ring`, independently of enlist's own
//! signing code), `iss` the App id or client id, `iat` not in the future, `exp` in the future and
//! at most 10 minutes ahead. Installation tokens carry what they were minted for: a repository
//! request outside their permissions gets GitHub's 403 "Resource not accessible by integration".
//!
//! Credential misuse that real GitHub would also refuse, but which is a bug in enlist — a JWT on
//! a repository endpoint, a token on an App endpoint, a JWT with claims out of bounds — is
//! refused *and* recorded as a contract violation, so every test catches it.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use base64::Engine;
use enlist::clock::Clock;
use ring::signature::{RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};
use serde_json::{Value, json};

use super::{Answer, State, not_found, validation_failed};
use crate::openapi::Spec;

/// The fake App's numeric id.
pub const APP_ID: u64 = 424_242;
/// The fake App's client id (also accepted as the JWT issuer).
pub const CLIENT_ID: &str = "Iv23liEnlistFakeApp01";
/// The fake App's installation on the fake repository's owner.
pub const INSTALLATION_ID: u64 = 5_550_001;

/// What an installation may be granted, by default: what the README tells operators to grant
/// (Contents RW, Pull requests RW, Checks read, Commit statuses read; Metadata read comes with
/// every App).
pub fn readme_permissions() -> BTreeMap<String, String> {
    [
        ("contents", "write"),
        ("pull_requests", "write"),
        ("checks", "read"),
        ("statuses", "read"),
        ("metadata", "read"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// A key fixture (PEM) by file name: `app-key.pkcs1.pem`, `app-key.pkcs8.pem`,
/// `app-key.pub.pem`, `other-key.pkcs1.pem`.
pub fn key_fixture(name: &str) -> PathBuf {
    crate::node::fixture("github-app").join(name)
}

/// Every secret the App side handed out or saw (installation tokens minted, JWTs received), in
/// every fake of this process: the suite's output scan looks for all of them.
static SECRETS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// The secrets recorded so far (see [`SECRETS`]).
pub fn secrets() -> Vec<String> {
    SECRETS.lock().unwrap_or_else(|p| p.into_inner()).clone()
}

fn remember(secret: &str) {
    let mut all = SECRETS.lock().unwrap_or_else(|p| p.into_inner());
    if !all.iter().any(|s| s == secret) {
        all.push(secret.to_owned());
    }
}

/// An installation token the fake minted.
#[derive(Clone, Debug, PartialEq)]
pub struct IssuedToken {
    /// The token (`ghs_…`).
    pub token: String,
    /// Repositories it may touch (names, as requested; empty: all the installation has).
    pub repositories: Vec<String>,
    /// Its permissions (as requested; else the installation's).
    pub permissions: BTreeMap<String, String>,
    /// Revoked with `DELETE /installation/token`.
    pub revoked: bool,
}

/// The App as the fake knows it.
pub struct App {
    /// Numeric id.
    pub id: u64,
    /// Client id.
    pub client_id: String,
    /// PKCS#1 `RSAPublicKey` DER of the App's key.
    public_key: Vec<u8>,
    /// The installation's id.
    pub installation_id: u64,
    /// Whether the installation includes the fake's repository.
    pub installed: bool,
    /// What the installation was granted.
    pub granted: BTreeMap<String, String>,
    /// `selected` (the default) or `all`: the owner's repositories the installation covers.
    pub repository_selection: String,
    /// Tokens minted, in order.
    pub tokens: Vec<IssuedToken>,
    /// JWTs received, in order.
    pub jwts: Vec<String>,
    /// The clock JWT claims are checked against (a test's virtual clock); `None`: real time.
    pub clock: Option<Arc<dyn Clock>>,
}

impl App {
    /// The fake App: [`APP_ID`], [`CLIENT_ID`], the public half of `app-key.pkcs1.pem`,
    /// installed on the repository with [`readme_permissions`].
    pub fn new() -> App {
        let pem = std::fs::read_to_string(key_fixture("app-key.pub.pem")).expect("public key");
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        let public_key = base64::engine::general_purpose::STANDARD
            .decode(body)
            .expect("public key base64");
        App {
            id: APP_ID,
            client_id: CLIENT_ID.to_owned(),
            public_key,
            installation_id: INSTALLATION_ID,
            installed: true,
            granted: readme_permissions(),
            repository_selection: "selected".to_owned(),
            tokens: Vec::new(),
            jwts: Vec::new(),
            clock: None,
        }
    }

    fn now(&self) -> u64 {
        let now = self
            .clock
            .as_ref()
            .map_or_else(SystemTime::now, |c| c.now());
        now.duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    }

    /// The token a request carries, if it is one of ours and not revoked.
    fn live_token(&self, bearer: &str) -> Option<&IssuedToken> {
        self.tokens.iter().find(|t| t.token == bearer && !t.revoked)
    }
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("id", &self.id)
            .field("installation_id", &self.installation_id)
            .field("installed", &self.installed)
            .field("granted", &self.granted)
            .field("tokens", &self.tokens.len())
            .field("jwts", &self.jwts.len())
            .finish()
    }
}

impl Default for App {
    fn default() -> Self {
        App::new()
    }
}

/// Which credential an endpoint takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// The App's JWT: `GET /repos/{o}/{r}/installation`, `POST /app/installations/{id}/access_tokens`.
    AppJwt,
    /// The installation token being revoked: `DELETE /installation/token`.
    Revoke,
    /// Everything else: a token (PAT or installation token).
    Repository,
}

/// The credential an endpoint takes.
pub fn endpoint(method: &str, path: &str, owner: &str, name: &str) -> Endpoint {
    let lookup = format!("/repos/{owner}/{name}/installation");
    if (method == "GET" && path == lookup)
        || (method == "POST"
            && path.starts_with("/app/installations/")
            && path.ends_with("/access_tokens"))
    {
        Endpoint::AppJwt
    } else if path == "/installation/token" {
        Endpoint::Revoke
    } else {
        Endpoint::Repository
    }
}

fn looks_like_jwt(bearer: &str) -> bool {
    bearer.split('.').count() == 3 && bearer.starts_with("eyJ")
}

fn unauthorized(message: &str) -> Answer {
    Answer::json(
        401,
        json!({"message": message, "documentation_url": "https://docs.github.com/rest", "status": "401"}),
    )
}

/// Checks the request's credential. `None`: go on; `Some(answer)`: refused (and, for misuse
/// that is enlist's bug, a violation recorded).
pub(super) fn authenticate(
    state: &mut State,
    method: &str,
    path: &str,
    bearer: &str,
) -> Option<Answer> {
    let kind = endpoint(method, path, &state.owner, &state.name);
    if looks_like_jwt(bearer) {
        remember(bearer);
    }
    match kind {
        Endpoint::AppJwt => {
            if !looks_like_jwt(bearer) {
                state.violations.push(format!(
                    "{method} {path}: an App endpoint called without a JWT (a token instead)"
                ));
                return Some(unauthorized("A JSON web token could not be decoded"));
            }
            let Some(app) = state.app.as_mut() else {
                return Some(unauthorized("A JSON web token could not be decoded"));
            };
            app.jwts.push(bearer.to_owned());
            match verify_jwt(app, bearer) {
                Ok(()) => None,
                Err(JwtProblem::Signature(message)) => Some(unauthorized(message)),
                Err(JwtProblem::Claims(message)) => {
                    state
                        .violations
                        .push(format!("{method} {path}: JWT refused: {message}"));
                    Some(unauthorized(&message))
                }
            }
        }
        Endpoint::Revoke => {
            let live = state
                .app
                .as_ref()
                .is_some_and(|app| app.live_token(bearer).is_some());
            if live {
                return None;
            }
            if looks_like_jwt(bearer) || bearer == state.token {
                state.violations.push(format!(
                    "{method} {path}: revoking with something that is not an installation token"
                ));
            }
            Some(unauthorized("Bad credentials"))
        }
        Endpoint::Repository => {
            if looks_like_jwt(bearer) {
                state.violations.push(format!(
                    "{method} {path}: the App's JWT used on a repository endpoint (only \
                     installation tokens may be)"
                ));
                return Some(unauthorized("Bad credentials"));
            }
            if bearer == state.token {
                return None;
            }
            let Some(token) = state.app.as_ref().and_then(|app| app.live_token(bearer)) else {
                return Some(unauthorized("Bad credentials"));
            };
            let (repository, needed) = needs(method, path, &state.owner, &state.name);
            let repo_ok = token.repositories.is_empty()
                || repository.is_none_or(|r| token.repositories.contains(&r));
            let allowed = needed.is_none_or(|(name, level)| {
                token
                    .permissions
                    .get(name)
                    .is_some_and(|have| have == "write" || have == level)
            });
            if repo_ok && allowed {
                None
            } else {
                Some(Answer::json(
                    403,
                    json!({"message": "Resource not accessible by integration", "documentation_url": "https://docs.github.com/rest", "status": "403"}),
                ))
            }
        }
    }
}

/// The repository a request touches and the permission it needs, as GitHub's fine-grained
/// permission table has it for the endpoints enlist uses.
fn needs(
    method: &str,
    path: &str,
    owner: &str,
    name: &str,
) -> (Option<String>, Option<(&'static str, &'static str)>) {
    // GraphQL: enlist only turns on auto-merge, which needs what opening the PR needs.
    if super::is_graphql(path) {
        return (None, Some(("pull_requests", "write")));
    }
    let prefix = format!("/repos/{owner}/{name}");
    let Some(rest) = path.strip_prefix(&prefix) else {
        return (None, None);
    };
    let segments: Vec<&str> = rest.trim_start_matches('/').split('/').collect();
    let level = if method == "GET" { "read" } else { "write" };
    let permission = match segments.first().copied() {
        Some("" | "installation") => "metadata",
        Some("git" | "contents") => "contents",
        Some("pulls" | "issues") => "pull_requests",
        Some("commits") if segments.last() == Some(&"check-runs") => "checks",
        Some("commits") if segments.last() == Some(&"status") => "statuses",
        Some("branches") if segments.last() == Some(&"protection") => "administration",
        _ => "metadata",
    };
    (Some(name.to_owned()), Some((permission, level)))
}

enum JwtProblem {
    /// Not signed by the App's key (or not a JWT at all): a wrong key, GitHub's 401.
    Signature(&'static str),
    /// Signed correctly but with claims GitHub refuses: enlist's bug.
    Claims(String),
}

fn verify_jwt(app: &App, jwt: &str) -> Result<(), JwtProblem> {
    const UNDECODABLE: &str = "A JSON web token could not be decoded";
    let b64 = |part: &str| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part)
            .map_err(|_| JwtProblem::Signature(UNDECODABLE))
    };
    let mut parts = jwt.split('.');
    let (Some(header), Some(claims), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtProblem::Signature(UNDECODABLE));
    };
    let header_json: Value =
        serde_json::from_slice(&b64(header)?).map_err(|_| JwtProblem::Signature(UNDECODABLE))?;
    if header_json["alg"] != "RS256" {
        return Err(JwtProblem::Claims(format!(
            "alg must be RS256, got {}",
            header_json["alg"]
        )));
    }
    UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &app.public_key)
        .verify(format!("{header}.{claims}").as_bytes(), &b64(signature)?)
        .map_err(|_| JwtProblem::Signature(UNDECODABLE))?;
    let claims: Value =
        serde_json::from_slice(&b64(claims)?).map_err(|_| JwtProblem::Signature(UNDECODABLE))?;
    let iss_ok = match &claims["iss"] {
        Value::Number(n) => n.as_u64() == Some(app.id),
        Value::String(s) => *s == app.id.to_string() || *s == app.client_id,
        _ => false,
    };
    if !iss_ok {
        // GitHub finds the public key by `iss`: another App's id is a key that does not verify.
        return Err(JwtProblem::Signature("Integration not found"));
    }
    let now = app.now();
    let (Some(iat), Some(exp)) = (claims["iat"].as_u64(), claims["exp"].as_u64()) else {
        return Err(JwtProblem::Claims(
            "'Issued at' claim ('iat') and 'Expiration time' claim ('exp') must be integers".into(),
        ));
    };
    if iat > now {
        return Err(JwtProblem::Claims(format!(
            "'Issued at' claim ('iat') must be an Integer representing a time in the past (iat {iat}, now {now})"
        )));
    }
    if exp <= now {
        return Err(JwtProblem::Claims(format!(
            "'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires (exp {exp}, now {now})"
        )));
    }
    if exp > now + 600 {
        return Err(JwtProblem::Claims(format!(
            "'Expiration time' claim ('exp') is too far in the future (exp {exp}, now {now})"
        )));
    }
    Ok(())
}

/// Answers the App endpoints (`None`: not one of them). The credential was checked already.
pub(super) fn route(
    state: &mut State,
    method: &str,
    path: &str,
    body: Option<&Value>,
    bearer: &str,
) -> Option<Answer> {
    match endpoint(method, path, &state.owner, &state.name) {
        Endpoint::Repository => None,
        Endpoint::AppJwt if method == "GET" => Some(get_installation(state)),
        Endpoint::AppJwt => Some(create_token(state, path, body)),
        Endpoint::Revoke if method == "DELETE" => Some(revoke(state, bearer)),
        Endpoint::Revoke => Some(not_found("apps/installations")),
    }
}

fn get_installation(state: &State) -> Answer {
    let Some(app) = state.app.as_ref().filter(|a| a.installed) else {
        return not_found("apps/apps#get-a-repository-installation-for-the-authenticated-app");
    };
    let mut i = Spec::get().skeleton("installation");
    i["id"] = json!(app.installation_id);
    i["app_id"] = json!(app.id);
    i["client_id"] = json!(app.client_id);
    i["app_slug"] = json!("enlist-fake");
    i["target_type"] = json!("Organization");
    i["repository_selection"] = json!(app.repository_selection);
    i["access_tokens_url"] = json!(format!(
        "https://api.github.com/app/installations/{}/access_tokens",
        app.installation_id
    ));
    i["permissions"] = json!(app.granted);
    Answer::json(200, i)
}

fn create_token(state: &mut State, path: &str, body: Option<&Value>) -> Answer {
    let repo_name = state.name.clone();
    let id = path
        .trim_start_matches("/app/installations/")
        .trim_end_matches("/access_tokens")
        .parse::<u64>()
        .ok();
    let Some(app) = state.app.as_mut().filter(|a| Some(a.installation_id) == id) else {
        return not_found("apps/apps#create-an-installation-access-token-for-an-app");
    };
    let empty = json!({});
    let body = body.unwrap_or(&empty);
    let repositories: Vec<String> = body["repositories"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r.as_str().map(str::to_owned))
        .collect();
    if !app.installed || repositories.iter().any(|r| *r != repo_name) {
        return validation_failed(
            "There is at least one repository that does not exist or is not accessible to the parent installation.",
            json!([]),
            "apps/apps#create-an-installation-access-token-for-an-app",
        );
    }
    let requested: BTreeMap<String, String> = match body["permissions"].as_object() {
        Some(map) => map
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_owned()))
            .collect(),
        None => app.granted.clone(),
    };
    let granted = requested.iter().all(|(name, level)| {
        app.granted
            .get(name)
            .is_some_and(|have| have == "write" || have == level)
    });
    if !granted {
        return validation_failed(
            "The permissions requested are not granted to this installation.",
            json!([]),
            "apps/apps#create-an-installation-access-token-for-an-app",
        );
    }
    let n = app.tokens.len() + 1;
    let token = format!(
        "ghs_{}",
        &enlist::hash::sha256_hex(
            format!("fake installation token {} {n}", app.installation_id).as_bytes()
        )[..36]
    );
    remember(&token);
    app.tokens.push(IssuedToken {
        token: token.clone(),
        repositories,
        permissions: requested.clone(),
        revoked: false,
    });
    let expires = SystemTime::UNIX_EPOCH + Duration::from_secs(app.now() + 3600);
    let mut out = Spec::get().skeleton("installation-token");
    out["token"] = json!(token);
    out["expires_at"] = json!(iso8601(expires));
    out["permissions"] = json!(requested);
    out["repository_selection"] = json!("selected");
    Answer::json(201, out)
}

fn revoke(state: &mut State, bearer: &str) -> Answer {
    if let Some(token) = state
        .app
        .as_mut()
        .and_then(|app| app.tokens.iter_mut().find(|t| t.token == bearer))
    {
        token.revoked = true;
    }
    Answer::json(204, Value::Null)
}

fn iso8601(time: SystemTime) -> String {
    let secs = time
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let days = secs / 86_400;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso8601_is_utc_civil_time() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_262_400);
        assert_eq!(iso8601(t), "2026-11-21T12:00:00Z");
        assert_eq!(iso8601(SystemTime::UNIX_EPOCH), "1970-01-01T00:00:00Z");
    }

    #[test]
    fn permissions_follow_githubs_table() {
        let n = |m, p| needs(m, p, "acme", "fleet").1;
        assert_eq!(n("GET", "/repos/acme/fleet"), Some(("metadata", "read")));
        assert_eq!(
            n("PUT", "/repos/acme/fleet/contents/a.yaml"),
            Some(("contents", "write"))
        );
        assert_eq!(
            n("POST", "/repos/acme/fleet/issues/1/comments"),
            Some(("pull_requests", "write"))
        );
        assert_eq!(
            n("GET", "/repos/acme/fleet/commits/abc/check-runs"),
            Some(("checks", "read"))
        );
        assert_eq!(n("POST", "/graphql"), Some(("pull_requests", "write")));
    }
}
