//! The GitHub token (and the database URL of `enlist sync`) as types that cannot leak by accident.
//!
//! `Token` has no `Display`, no `Serialize`, and a redacting `Debug`, so a stray `{:?}` in a log
//! line or an error message prints `Token(<redacted>)`. The only way to the bytes is
//! [`Token::expose`], which is called in exactly one place: building the HTTP client.

use std::fmt;

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
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
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
