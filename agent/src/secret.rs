//! The GitHub token as a type that cannot leak by accident.
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
}
