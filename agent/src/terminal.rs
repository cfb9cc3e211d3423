//! Text from GitHub on a terminal or in the journal: the one way out.
//!
//! GitHub's answers carry other people's text — an error `message`, a check's name or title, a
//! PR's `html_url`, a repository's `default_branch` — and a proxy or a hostile server can put
//! anything there. Printed raw, `ESC [ 2 J` clears the operator's screen, `ESC ] 8` plants a
//! link, a carriage return overwrites the line before it, and a bidirectional override makes the
//! journal read differently from what it holds. [`escape`] shows every such character as an
//! escape (`\u{1b}`, `\n`), so the text stays readable, one line, and inert. Markdown has its own
//! renderer ([`crate::markdown`]): this one is for terminals and logs.

/// Longest text shown, in characters: GitHub's messages and check titles are short; anything
/// longer is cut with an ellipsis so one answer cannot flood the journal.
pub const MAX_SHOWN_CHARS: usize = 1024;

/// `value` with every control character (C0, DEL, C1), Unicode line/paragraph separator,
/// zero-width and bidirectional formatting character ([`crate::markdown::is_unsafe`]) written as
/// an escape — `\n`, `\r`, `\t`, else `\u{…}` — and a backslash doubled (so an escape in the
/// text cannot pass for one of ours), cut at [`MAX_SHOWN_CHARS`].
pub fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len().min(MAX_SHOWN_CHARS * 2));
    for (i, c) in value.chars().enumerate() {
        if i == MAX_SHOWN_CHARS {
            out.push('…');
            break;
        }
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\\' => out.push_str("\\\\"),
            c if crate::markdown::is_unsafe(c) => {
                out.push_str(&format!("\\u{{{:x}}}", u32::from(c)));
            }
            c => out.push(c),
        }
    }
    out
}

/// Whether `value` would be shown as it is (nothing to escape, not cut).
pub fn is_inert(value: &str) -> bool {
    escape(value) == value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_sequences_line_breaks_and_bidi_are_shown_escaped() {
        assert_eq!(
            escape("main\u{1b}[2J\u{1b}]8;;https://evil\u{7}x"),
            "main\\u{1b}[2J\\u{1b}]8;;https://evil\\u{7}x"
        );
        assert_eq!(escape("a\r\nb\tc"), "a\\r\\nb\\tc");
        assert_eq!(escape("\u{202E}txt.exe"), "\\u{202e}txt.exe");
        assert_eq!(escape("\u{9b}31m"), "\\u{9b}31m", "C1 CSI");
        assert_eq!(
            escape("a\\u{1b}"),
            "a\\\\u{1b}",
            "a literal escape stays literal"
        );
        assert_eq!(
            escape("https://github.com/acme/fleet/pull/1"),
            "https://github.com/acme/fleet/pull/1"
        );
        assert!(is_inert(
            "Pull request Auto merge is not allowed for this repository"
        ));
        assert!(!is_inert("x\u{1b}"));
        let long = "x".repeat(MAX_SHOWN_CHARS + 5);
        assert_eq!(escape(&long).chars().count(), MAX_SHOWN_CHARS + 1);
    }
}
