//! GitHub App authentication: instead of a person's token, the node proves it holds the App's
//! private key and trades that for one short-lived installation token per run.
//!
//! Per run: an RS256 JWT signed with the key ([`jwt`]) authenticates *as the App* on exactly two
//! endpoints: `GET /repos/{o}/{r}/installation` (which installation covers the repository; skipped
//! when `github_app_installation_id` is configured) and `POST /app/installations/{id}/access_tokens`
//! (mint an installation token narrowed to the one repository and to [`PERMISSIONS`]). Every other
//! request — REST and GraphQL — carries the installation token, and the run revokes it at the end
//! (`DELETE /installation/token`), success or failure. A node therefore never holds a credential
//! that outlives its run by more than the token's hour, and never one wider than its repository.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use base64::Engine;
use serde_json::json;

use crate::secret::{AppKey, Jwt};

/// How far `iat` is back-dated: GitHub refuses a JWT "issued in the future", and the node's clock
/// may be a little ahead of GitHub's (GitHub's own recommendation: 60 s).
pub const JWT_BACKDATE: Duration = Duration::from_secs(60);

/// How long a JWT is valid from now. GitHub refuses an `exp` more than 10 minutes ahead; one
/// minute less leaves room for a node clock that runs behind. A JWT is signed for each request
/// (a readiness wait can be longer than its lifetime).
pub const JWT_LIFETIME: Duration = Duration::from_secs(9 * 60);

/// The permissions the installation token is narrowed to: what registration needs and nothing
/// more. Writes: the branch and node.yaml (`contents`), the PR, its labels and comments, and
/// auto-merge (`pull_requests`). Read: `metadata` (every App has it; named so the token's scope
/// is explicit). The App must have been granted these, else GitHub refuses to mint (exit 77
/// naming them).
pub const PERMISSIONS: [(&str, &str); 3] = [
    ("contents", "write"),
    ("pull_requests", "write"),
    ("metadata", "read"),
];

/// Reads asked for only when the installation grants them: on pending boots the PR head's
/// `checks` (check runs) and, when it has none, its combined commit `statuses`. Without them
/// registration works; only `enlist status` cannot show the checks (it says so).
pub const OPTIONAL_READS: [(&str, &str); 2] = [("checks", "read"), ("statuses", "read")];

/// The permissions a token is minted with: [`PERMISSIONS`] and those of [`OPTIONAL_READS`] the
/// installation grants (`granted`: the installation's `permissions`, when the lookup read them;
/// `None`: unknown, so all are asked for and a refusal is retried without them).
pub fn requested(
    granted: Option<&serde_json::Map<String, serde_json::Value>>,
) -> Vec<(&'static str, &'static str)> {
    let mut out = PERMISSIONS.to_vec();
    out.extend(OPTIONAL_READS.iter().copied().filter(|(name, _)| {
        granted.is_none_or(|g| {
            g.get(*name)
                .and_then(serde_json::Value::as_str)
                .is_some_and(|level| level == "read" || level == "write")
        })
    }));
    out
}

/// `permissions` as people read them in the App settings, for messages.
pub fn permissions_text(permissions: &[(&str, &str)]) -> String {
    permissions
        .iter()
        .map(|(name, level)| format!("{name}: {level}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The `POST /app/installations/{id}/access_tokens` body: one repository, `permissions`.
pub fn token_request(repository: &str, permissions: &[(&str, &str)]) -> serde_json::Value {
    let permissions: serde_json::Map<String, serde_json::Value> = permissions
        .iter()
        .map(|(name, level)| ((*name).to_owned(), json!(level)))
        .collect();
    json!({ "repositories": [repository], "permissions": permissions })
}

/// A GitHub App as configured: `github_app_id` (the numeric App id or the App's client id, both
/// are accepted as the JWT issuer), its private key, and optionally the installation id.
#[derive(Clone, Debug)]
pub struct GitHubApp {
    /// App id (`123456`) or client id (`Iv23li…`).
    pub id: String,
    /// The private key, parsed.
    pub key: AppKey,
    /// Where the key came from (for messages; never its content).
    pub key_file: PathBuf,
    /// The installation on the repository's owner, if configured (saves one request per run).
    pub installation_id: Option<u64>,
}

/// Whether `raw` can be an App id or a client id: digits, or a client id's letters, digits, `.`
/// and `_` (`Iv1.0123abcd`, `Iv23li…`). It goes into the JWT, so nothing else is allowed.
pub fn valid_app_id(raw: &str) -> bool {
    !raw.is_empty()
        && raw.len() <= 64
        && raw
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// Signs the App JWT for `now`: `{"iat": now − 60 s, "exp": now + 9 min, "iss": id}`, RS256
/// (GitHub: "the client ID or application ID of your GitHub App").
pub fn jwt(app: &GitHubApp, now: SystemTime) -> Result<Jwt, String> {
    let now = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_err(|_| "the system clock is before 1970".to_owned())?;
    let iat = now.saturating_sub(JWT_BACKDATE).as_secs();
    let exp = now.saturating_add(JWT_LIFETIME).as_secs();
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let header = b64(br#"{"alg":"RS256","typ":"JWT"}"#);
    // A numeric App id goes in as a number (as GitHub's API returns it), a client id as a string.
    let iss = app
        .id
        .parse::<u64>()
        .map_or_else(|_| json!(app.id), |n| json!(n));
    let claims = b64(json!({ "iat": iat, "exp": exp, "iss": iss })
        .to_string()
        .as_bytes());
    let signing_input = format!("{header}.{claims}");
    let signature = app.key.sign_rs256(signing_input.as_bytes())?;
    Ok(Jwt::new(format!("{signing_input}.{}", b64(&signature))))
}

/// What can go wrong on the App endpoints. Each says what to check; none carries a secret.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// 401 on a JWT endpoint: wrong App id, a key that is not this App's (or was deleted), or a
    /// clock far off.
    #[error(
        "GitHub rejected the GitHub App's JWT (401 {message}); check github_app_id ({app_id}: the \
         App id or client id from the App's settings page), that the key file {key_file} is a \
         current private key of that App (App settings → Private keys), and that this machine's \
         clock is right"
    )]
    JwtRejected {
        /// The configured id.
        app_id: String,
        /// The key file.
        key_file: String,
        /// GitHub's message.
        message: String,
    },
    /// `GET /repos/{o}/{r}/installation` answered 404.
    #[error(
        "the GitHub App {app_id} is not installed on {repo} (404); install the App on {repo} \
         (App settings → Install App → the owner → only select repositories → {repo})"
    )]
    NotInstalled {
        /// The configured id.
        app_id: String,
        /// `owner/name`.
        repo: String,
    },
    /// `POST /app/installations/{id}/access_tokens` answered 404.
    #[error(
        "GitHub App installation {installation_id} does not exist or is not this App's (404); \
         fix github_app_installation_id, or remove it and enlist looks the installation up"
    )]
    InstallationNotFound {
        /// The installation id.
        installation_id: u64,
    },
    /// 403/422 on minting: the installation lacks a permission or the repository.
    #[error(
        "GitHub refused to mint an installation token for {repo} with {permissions} ({status} \
         {message}); grant the App these permissions (App settings → Permissions & events), \
         accept the new permissions in the installation, and make sure the installation includes \
         {repo}"
    )]
    MintRefused {
        /// `owner/name`.
        repo: String,
        /// The permissions asked for.
        permissions: String,
        /// 403 or 422.
        status: u16,
        /// GitHub's message.
        message: String,
    },
    /// The JWT could not be signed (cannot happen with a key ring accepted).
    #[error("cannot sign the GitHub App JWT: {0}")]
    Sign(String),
}

impl AppError {
    /// Stable kind for logs and events.
    pub fn kind(&self) -> &'static str {
        match self {
            AppError::JwtRejected { .. } => "app_jwt_rejected",
            AppError::NotInstalled { .. } => "app_not_installed",
            AppError::InstallationNotFound { .. } => "app_installation_not_found",
            AppError::MintRefused { .. } => "app_token_refused",
            AppError::Sign(_) => "app_jwt_signing",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn app(id: &str) -> GitHubApp {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/github-app/app-key.pkcs1.pem");
        let pem = std::fs::read_to_string(&path).unwrap();
        GitHubApp {
            id: id.into(),
            key: AppKey::from_pem(&pem).unwrap(),
            key_file: path,
            installation_id: None,
        }
    }

    fn part(jwt: &Jwt, index: usize) -> Vec<u8> {
        let piece = jwt.expose().split('.').nth(index).unwrap();
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(piece)
            .unwrap()
    }

    #[test]
    fn jwt_claims_are_backdated_short_lived_and_name_the_app() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let token = jwt(&app("123456"), now).unwrap();
        assert_eq!(token.expose().split('.').count(), 3);
        let header: Value = serde_json::from_slice(&part(&token, 0)).unwrap();
        assert_eq!(header, json!({"alg": "RS256", "typ": "JWT"}));
        let claims: Value = serde_json::from_slice(&part(&token, 1)).unwrap();
        assert_eq!(claims["iat"], 1_800_000_000 - 60);
        assert_eq!(claims["exp"], 1_800_000_000 + 540);
        assert_eq!(claims["iss"], 123_456);
        let client = jwt(&app("Iv23liAbCdEf0123"), now).unwrap();
        let claims: Value = serde_json::from_slice(&part(&client, 1)).unwrap();
        assert_eq!(claims["iss"], "Iv23liAbCdEf0123");
    }

    #[test]
    fn jwt_signature_verifies_with_the_apps_public_key_only() {
        use ring::signature::{RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};
        let token = jwt(&app("1"), SystemTime::now()).unwrap();
        let (input, _) = token.expose().rsplit_once('.').unwrap();
        let signature = part(&token, 2);
        let public = |name: &str| {
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/github-app")
                .join(name);
            let pem = std::fs::read_to_string(path).unwrap();
            let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
            base64::engine::general_purpose::STANDARD
                .decode(body)
                .unwrap()
        };
        let key = public("app-key.pub.pem");
        assert!(
            UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &key)
                .verify(input.as_bytes(), &signature)
                .is_ok()
        );
        let mut tampered = input.to_owned();
        tampered.push('x');
        assert!(
            UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &key)
                .verify(tampered.as_bytes(), &signature)
                .is_err()
        );
    }

    #[test]
    fn token_request_names_one_repository_and_the_narrow_permissions() {
        let all = requested(None);
        assert_eq!(
            token_request("fleet", &all),
            json!({
                "repositories": ["fleet"],
                "permissions": {
                    "contents": "write",
                    "pull_requests": "write",
                    "metadata": "read",
                    "checks": "read",
                    "statuses": "read"
                }
            })
        );
        assert_eq!(
            permissions_text(&all),
            "contents: write, pull_requests: write, metadata: read, checks: read, statuses: read"
        );
        // An installation granted Checks but not Commit statuses: statuses is not asked for.
        let granted = json!({"contents": "write", "pull_requests": "write", "metadata": "read",
            "checks": "write"});
        assert_eq!(
            permissions_text(&requested(granted.as_object())),
            "contents: write, pull_requests: write, metadata: read, checks: read"
        );
        // Neither: the three registration needs, nothing else.
        let granted = json!({"contents": "write", "pull_requests": "write", "metadata": "read"});
        assert_eq!(requested(granted.as_object()), PERMISSIONS.to_vec());
    }

    #[test]
    fn app_ids_are_ids_or_client_ids() {
        for good in ["123456", "Iv1.0123456789abcdef", "Iv23liAbCdEf0123"] {
            assert!(valid_app_id(good), "{good}");
        }
        for bad in ["", "12 34", "\"x\"", "a/b", &"9".repeat(65)] {
            assert!(!valid_app_id(bad), "{bad}");
        }
    }
}
