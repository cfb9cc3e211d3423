//! Secrets as types that cannot leak by accident: the GitHub token (a personal access token or a
//! GitHub App installation token), the GitHub App's private key and the JWTs signed with it, and
//! the database URL of `enlist sync`.
//!
//! None has `Display` or `Serialize`; each has a redacting `Debug`, so a stray `{:?}` in a log
//! line or an error message prints `Token(<redacted>)`. The only way to the bytes is an `expose`
//! method, called where the secret goes on the wire (the `Authorization` header). The App key
//! cannot be exposed at all: it only signs.

use std::fmt;
use std::sync::Arc;

use base64::Engine;
use ring::rand::SystemRandom;
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};

/// A GitHub token (personal access token or installation token).
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    /// Wraps a token, trimming the whitespace and newline that files and `echo` leave behind.
    /// Returns `None` for an empty token.
    pub fn new(raw: &str) -> Option<Token> {
        let trimmed = raw.trim();
        (!trimmed.is_empty()).then(|| Token(trimmed.to_owned()))
    }

    /// The secret itself. Only the forge client should call this.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// A SHA-256 of the token, to notice that it was replaced (a run that failed with one token
    /// is worth retrying with another). One-way: a token has far too much entropy to be guessed
    /// back from it.
    pub fn fingerprint(&self) -> String {
        crate::hash::sha256_hex(self.0.as_bytes())
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

/// The largest App private key file enlist reads: a 4096-bit RSA key in PEM is about 3.3 KiB.
/// Anything much larger is not a key (a wrong file), and is refused before it is parsed.
pub const MAX_APP_KEY_BYTES: u64 = 64 * 1024;

/// A GitHub App's private key, parsed: GitHub hands out PKCS#1 PEM (`BEGIN RSA PRIVATE KEY`);
/// PKCS#8 (`BEGIN PRIVATE KEY`, what `openssl pkcs8 -topk8 -nocrypt` writes) is accepted too.
/// It can only sign ([`AppKey::sign_rs256`]); there is no way back to the key material.
#[derive(Clone)]
pub struct AppKey(Arc<RsaKeyPair>);

/// Why a file is not a usable App private key. The reasons never quote the file's content.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AppKeyError {
    /// No PEM block at all.
    #[error(
        "it is not a PEM private key (no \"-----BEGIN RSA PRIVATE KEY-----\" line); use the .pem file \
         GitHub generated for the App"
    )]
    NotPem,
    /// A BEGIN line without its END line.
    #[error("the PEM block has no matching -----END {0}----- line (the file is cut off)")]
    Unterminated(String),
    /// A PEM block of another kind (a certificate, a public key, an EC key).
    #[error("it holds a PEM \"{0}\", not an RSA private key")]
    WrongKind(String),
    /// A passphrase-protected key.
    #[error(
        "the key is encrypted with a passphrase; GitHub's download is not: use that file, or \
         `openssl rsa -in KEY -out KEY.plain`"
    )]
    Encrypted,
    /// The base64 between the lines is damaged.
    #[error("the base64 between the BEGIN and END lines is damaged")]
    Base64,
    /// The DER inside is not an RSA key ring accepts (ring needs 2048 to 8192 bits).
    #[error("the key inside is not a valid RSA private key of 2048 to 8192 bits ({0})")]
    Rejected(String),
}

impl AppKey {
    /// Parses PEM text (the first private-key block; text around it, such as OpenSSL's
    /// "Bag Attributes", is ignored).
    pub fn from_pem(text: &str) -> Result<AppKey, AppKeyError> {
        let mut lines = text.lines().map(str::trim);
        let label = lines
            .by_ref()
            .find_map(|l| {
                l.strip_prefix("-----BEGIN ")
                    .and_then(|l| l.strip_suffix("-----"))
            })
            .ok_or(AppKeyError::NotPem)?
            .to_owned();
        let end = format!("-----END {label}-----");
        let mut body = String::new();
        let mut terminated = false;
        for line in lines {
            if line == end {
                terminated = true;
                break;
            }
            // RFC 1421 headers (`Proc-Type: 4,ENCRYPTED`, `DEK-Info: …`) mark an encrypted key.
            if line.starts_with("Proc-Type:") && line.contains("ENCRYPTED") {
                return Err(AppKeyError::Encrypted);
            }
            if line.contains(':') {
                continue;
            }
            body.push_str(line);
        }
        if !terminated {
            return Err(AppKeyError::Unterminated(label));
        }
        let pkcs8 = match label.as_str() {
            "RSA PRIVATE KEY" => false,
            "PRIVATE KEY" => true,
            "ENCRYPTED PRIVATE KEY" => return Err(AppKeyError::Encrypted),
            _ => return Err(AppKeyError::WrongKind(label)),
        };
        let der = base64::engine::general_purpose::STANDARD
            .decode(body.as_bytes())
            .map_err(|_| AppKeyError::Base64)?;
        let pair = if pkcs8 {
            RsaKeyPair::from_pkcs8(&der)
        } else {
            RsaKeyPair::from_der(&der)
        }
        .map_err(|e| AppKeyError::Rejected(e.to_string()))?;
        Ok(AppKey(Arc::new(pair)))
    }

    /// A SHA-256 of the key's *public* half (not a secret), to notice that the key was replaced.
    pub fn fingerprint(&self) -> String {
        use ring::signature::KeyPair;
        crate::hash::sha256_hex(self.0.public_key().as_ref())
    }

    /// RSASSA-PKCS1-v1_5 with SHA-256 (JWT `RS256`) over `message`.
    pub fn sign_rs256(&self, message: &[u8]) -> Result<Vec<u8>, String> {
        let mut signature = vec![0; self.0.public().modulus_len()];
        self.0
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                message,
                &mut signature,
            )
            .map_err(|_| "the RSA signature failed".to_owned())?;
        Ok(signature)
    }
}

impl fmt::Debug for AppKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AppKey(<redacted>)")
    }
}

/// A signed GitHub App JWT (`header.claims.signature`): it authenticates as the App itself, so it
/// is as secret as the key for its lifetime (≤ 10 minutes).
#[derive(Clone, PartialEq, Eq)]
pub struct Jwt(String);

impl Jwt {
    /// Wraps a compact JWT.
    pub fn new(compact: String) -> Jwt {
        Jwt(compact)
    }

    /// The secret itself. Only the forge client should call this (for the `Authorization` header).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Jwt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Jwt(<redacted>)")
    }
}

/// A PostgreSQL/CockroachDB connection URL for `enlist sync`. It usually carries a password, so it
/// gets the same treatment as [`Token`]: no `Display`, a redacting `Debug`, and one way to the
/// bytes ([`DatabaseUrl::expose`], called only where the connection settings are parsed). What
/// enlist shows of a database is rebuilt from the parsed settings (user, host, port, database),
/// never cut out of this text.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    /// Wraps a URL (or libpq key=value string), trimming surrounding whitespace and the newline a
    /// credential file ends with. Returns `None` for an empty one.
    pub fn new(raw: &str) -> Option<DatabaseUrl> {
        let trimmed = raw.trim();
        (!trimmed.is_empty()).then(|| DatabaseUrl(trimmed.to_owned()))
    }

    /// The secret itself. Only the connection-settings parser should call this.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DatabaseUrl(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_secret() {
        let token = Token::new("ghp_supersecret\n").unwrap();
        assert_eq!(format!("{token:?}"), "Token(<redacted>)");
        assert_eq!(token.expose(), "ghp_supersecret");
    }

    fn fixture(name: &str) -> String {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/github-app")
            .join(name);
        std::fs::read_to_string(path).unwrap()
    }

    #[test]
    fn app_key_reads_pkcs1_as_github_issues_it_and_pkcs8() {
        let pkcs1 = AppKey::from_pem(&fixture("app-key.pkcs1.pem")).unwrap();
        let pkcs8 = AppKey::from_pem(&fixture("app-key.pkcs8.pem")).unwrap();
        // PKCS#1 v1.5 signatures are deterministic: the same key signs the same bytes alike.
        let a = pkcs1.sign_rs256(b"payload").unwrap();
        assert_eq!(a.len(), 256, "a 2048-bit signature");
        assert_eq!(a, pkcs8.sign_rs256(b"payload").unwrap());
        let other = AppKey::from_pem(&fixture("other-key.pkcs1.pem")).unwrap();
        assert_ne!(a, other.sign_rs256(b"payload").unwrap());
        // Text around the block (OpenSSL's "Bag Attributes") and CRLF line ends are fine.
        let wrapped = format!(
            "Bag Attributes\r\n    localKeyID: 01\r\n{}",
            fixture("app-key.pkcs1.pem").replace('\n', "\r\n")
        );
        assert!(AppKey::from_pem(&wrapped).is_ok());
    }

    #[test]
    fn app_key_errors_say_what_is_wrong_and_never_quote_the_file() {
        let good = fixture("app-key.pkcs1.pem");
        let body_line = good.lines().nth(3).unwrap().to_owned();
        let cases = [
            ("hunter2-not-a-key\n".to_owned(), AppKeyError::NotPem),
            (
                good.lines().take(10).collect::<Vec<_>>().join("\n"),
                AppKeyError::Unterminated("RSA PRIVATE KEY".into()),
            ),
            (
                fixture("app-key.pub.pem"),
                AppKeyError::WrongKind("RSA PUBLIC KEY".into()),
            ),
            (
                "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n-----END ENCRYPTED PRIVATE KEY-----\n"
                    .to_owned(),
                AppKeyError::Encrypted,
            ),
            (
                good.replacen("-----BEGIN RSA PRIVATE KEY-----\n", "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\n", 1),
                AppKeyError::Encrypted,
            ),
            (good.replace(&body_line, "!!!!"), AppKeyError::Base64),
        ];
        for (text, want) in cases {
            let got = AppKey::from_pem(&text).unwrap_err();
            assert_eq!(got, want);
            let message = got.to_string();
            assert!(
                !message.contains(&body_line) && !message.contains("hunter2"),
                "{message}"
            );
        }
        // Valid base64, but not a key inside.
        let not_der =
            "-----BEGIN RSA PRIVATE KEY-----\naGVsbG8gd29ybGQ=\n-----END RSA PRIVATE KEY-----\n";
        assert!(matches!(
            AppKey::from_pem(not_der),
            Err(AppKeyError::Rejected(_))
        ));
        assert_eq!(
            format!("{:?}", AppKey::from_pem(&good).unwrap()),
            "AppKey(<redacted>)"
        );
        assert_eq!(format!("{:?}", Jwt::new("a.b.c".into())), "Jwt(<redacted>)");
    }

    #[test]
    fn empty_token_is_no_token() {
        assert!(Token::new(" \n").is_none());
    }

    #[test]
    fn database_url_debug_never_shows_the_password() {
        let url = DatabaseUrl::new("postgresql://enlist:hunter2@db:26257/registry\n").unwrap();
        assert_eq!(format!("{url:?}"), "DatabaseUrl(<redacted>)");
        assert_eq!(
            url.expose(),
            "postgresql://enlist:hunter2@db:26257/registry"
        );
        assert!(DatabaseUrl::new("  ").is_none());
    }
}
