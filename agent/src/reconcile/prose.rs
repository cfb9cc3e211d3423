//! The sentences of a report (what is wrong, what to do), with the values that came from a file
//! kept apart from enlist's own words.
//!
//! A finding's message quotes what it found — a status word from the inventory, a serial from a
//! node.yaml, a YAML parser's message about a file someone pushed. The Markdown report is a PR
//! comment GitHub renders and notifies on: a quoted `@acme/admins` would page a team, `[x](…)`
//! become a link. So a [`Prose`] remembers which parts are values, and each format shows them its
//! own inert way: Markdown as code spans ([`crate::markdown::code`]), HTML escaped, text and JSON
//! as one line without control or invisible characters ([`crate::markdown::one_line`]).
//! enlist's own words may quote commands and paths in backticks (`` `enlist register` ``);
//! they are trusted to hold nothing else Markdown would act on.

use std::fmt;
use std::ops::Deref;

use serde::{Serialize, Serializer};

/// How a value reads in plain text (Markdown and HTML always show it as code).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Style {
    /// As it is (on one line).
    Bare,
    /// In double quotes, escaped the way Rust's `{:?}` does (`"Planned"`).
    Quoted,
    /// In backticks, like enlist's own code spans (`` `  "Planned": active` ``).
    Code,
    /// In backticks and never cut: a line to paste ([`Prose::snippet`]).
    Snippet,
}

/// Text for a reader: enlist's words and values from files. Derefs to its plain text.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Prose {
    /// The plain text (text and JSON formats).
    text: String,
    /// The values: where each is in `text` (start, end), how it reads there, and the value
    /// itself.
    values: Vec<(usize, usize, Style, String)>,
}

/// One piece of a [`Prose`], for the renderers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Piece<'a> {
    /// enlist's own words (may hold its own `code spans`).
    Words(&'a str),
    /// A value from a file, as it is (not yet shown in any format), and as plain text shows it.
    Value {
        /// The value as found (may hold anything).
        raw: &'a str,
        /// How the plain text shows it (one line, quoted or in backticks).
        plain: &'a str,
        /// Whether plain text shows it as code (in backticks).
        code: bool,
        /// A line to paste ([`Prose::snippet`]): never cut (Markdown cuts it past
        /// [`MAX_SNIPPET_MARKDOWN_CHARS`]).
        whole: bool,
    },
}

/// The longest snippet the Markdown report (a PR comment: at most 65,536 characters, 50 rows a
/// table) shows whole, in characters; the text and JSON reports always show it whole.
pub const MAX_SNIPPET_MARKDOWN_CHARS: usize = 1000;

impl Prose {
    /// Empty.
    pub fn new() -> Prose {
        Prose::default()
    }

    /// Appends enlist's own words. Never pass a value from a file here: use [`Prose::value`].
    pub fn say(mut self, words: &str) -> Prose {
        self.text.push_str(words);
        self
    }

    /// Appends a value from a file, shown as it is (on one line, without invisible characters).
    pub fn value(self, raw: &str) -> Prose {
        let plain = crate::markdown::one_line(raw);
        self.push(raw, Style::Bare, &plain)
    }

    /// Appends a value from a file, shown quoted: `"Planned"`.
    pub fn quoted(self, raw: &str) -> Prose {
        let plain = format!("{:?}", crate::markdown::one_line(raw));
        self.push(raw, Style::Quoted, &plain)
    }

    /// Appends a value from a file, shown as code: `` `  "Planned": active` `` in plain text.
    pub fn code(self, raw: &str) -> Prose {
        let plain = format!("`{}`", crate::markdown::one_line(raw));
        self.push(raw, Style::Code, &plain)
    }

    /// Appends a line to paste (a map line enlist suggests), shown as code and never cut. It
    /// must hold only what [`crate::markdown::one_line`] keeps (escape the rest, as
    /// [`crate::input::yaml::quoted`] does): it reaches the reader as it is.
    pub fn snippet(self, line: &str) -> Prose {
        let plain = format!("`{}`", crate::markdown::one_line_max(line, usize::MAX));
        self.push(line, Style::Snippet, &plain)
    }

    /// Appends another prose.
    pub fn then(mut self, other: &Prose) -> Prose {
        let offset = self.text.len();
        self.text.push_str(&other.text);
        self.values.extend(
            other
                .values
                .iter()
                .map(|(start, end, s, raw)| (start + offset, end + offset, *s, raw.clone())),
        );
        self
    }

    fn push(mut self, raw: &str, style: Style, plain: &str) -> Prose {
        let start = self.text.len();
        self.text.push_str(plain);
        self.values
            .push((start, self.text.len(), style, raw.to_owned()));
        self
    }

    /// The plain text.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The pieces in order: words and values.
    pub fn pieces(&self) -> Vec<Piece<'_>> {
        let mut out = Vec::with_capacity(2 * self.values.len() + 1);
        let mut at = 0;
        for (start, end, style, raw) in &self.values {
            if *start > at {
                out.push(Piece::Words(&self.text[at..*start]));
            }
            out.push(Piece::Value {
                raw,
                plain: &self.text[*start..*end],
                code: matches!(style, Style::Code | Style::Snippet),
                whole: *style == Style::Snippet,
            });
            at = *end;
        }
        if at < self.text.len() {
            out.push(Piece::Words(&self.text[at..]));
        }
        out
    }
}

impl From<&'static str> for Prose {
    /// enlist's own words (a literal: a value from a file is never `'static`).
    fn from(words: &'static str) -> Prose {
        Prose::new().say(words)
    }
}

impl Deref for Prose {
    type Target = str;

    fn deref(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for Prose {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl PartialEq<&str> for Prose {
    fn eq(&self, other: &&str) -> bool {
        self.text == *other
    }
}

impl Serialize for Prose {
    /// The plain text: the JSON report's `message`/`hint` strings.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_and_values_stay_apart() {
        let p = Prose::from("status ")
            .quoted("Planned")
            .say(" of ")
            .value("@acme/admins\nx")
            .say("; map it with ")
            .code("  \"Planned\": active");
        assert_eq!(
            p.as_str(),
            "status \"Planned\" of @acme/admins\u{FFFD}x; map it with `  \"Planned\": active`"
        );
        assert_eq!(
            p.pieces(),
            [
                Piece::Words("status "),
                Piece::Value {
                    raw: "Planned",
                    plain: "\"Planned\"",
                    code: false,
                    whole: false
                },
                Piece::Words(" of "),
                Piece::Value {
                    raw: "@acme/admins\nx",
                    plain: "@acme/admins\u{FFFD}x",
                    code: false,
                    whole: false
                },
                Piece::Words("; map it with "),
                Piece::Value {
                    raw: "  \"Planned\": active",
                    plain: "`  \"Planned\": active`",
                    code: true,
                    whole: false
                },
            ]
        );
        assert_eq!(serde_json::to_value(&p).unwrap(), p.as_str());
    }

    #[test]
    fn plain_text_has_no_line_breaks_or_invisible_characters_from_values() {
        let p = Prose::new()
            .value("a\r\n::error::x\u{202E}y")
            .quoted("b\u{200B}c");
        assert!(!p.contains(['\r', '\n', '\u{202E}', '\u{200B}']), "{p}");
        // Quoted values are escaped by `{:?}` after `one_line`: the mark is U+FFFD, visible.
        assert!(p.ends_with("\"b\u{FFFD}c\""), "{p}");
    }

    #[test]
    fn snippets_are_never_cut() {
        let line = format!("  \"{}\": active", "w".repeat(5000));
        let p = Prose::from("map it: ").snippet(&line);
        assert_eq!(p.as_str(), format!("map it: `{line}`"));
        assert!(matches!(
            p.pieces()[1],
            Piece::Value {
                whole: true,
                code: true,
                ..
            }
        ));
    }

    #[test]
    fn appended_prose_keeps_its_values() {
        let tail = Prose::from(" and ").value("v2");
        let p = Prose::new().value("v1").then(&tail);
        assert_eq!(p.as_str(), "v1 and v2");
        let values: Vec<&str> = p
            .pieces()
            .iter()
            .filter_map(|piece| match piece {
                Piece::Value { raw, .. } => Some(*raw),
                Piece::Words(_) => None,
            })
            .collect();
        assert_eq!(values, ["v1", "v2"]);
    }
}
