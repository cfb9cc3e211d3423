//! Machine-derived text in GitHub Markdown (PR titles, bodies, comments): the one way out.
//!
//! A hostname, a DMI string or a disk model comes from the machine — or from whoever flashed its
//! firmware or set its hostname. GitHub renders PR text and notifies on it: a raw
//! `@acme/admins` pages a team, `[click](https://…)` is a link, `<img>` an image, and `<!--` hides
//! the rest of the facts table from the reviewer. So every such value leaves enlist through
//! [`code`] (a code span: GitHub renders its content literally — no mention, link, image, HTML,
//! comment or emoji) or, in a title, through [`title_value`]. Both make the value one line first
//! ([`one_line`]): a line break would end the table row or the paragraph the code span lives in.

/// Longest value shown, in characters. DMI strings are short; a hostname is at most 253
/// characters. Anything longer is a hostile or broken value: cut, with an ellipsis.
pub const MAX_VALUE_CHARS: usize = 256;

/// Longest hostname shown in a PR title, in characters (GitHub refuses titles over 256).
pub const MAX_TITLE_VALUE_CHARS: usize = 100;

/// Characters that must not reach Markdown: control characters (line breaks end a table row or a
/// paragraph), Unicode line/paragraph separators, zero-width and bidirectional formatting
/// characters (which make a reviewer read something else than what is there). The HTML report
/// replaces the same characters ([`crate::reconcile::html::esc`]).
pub fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}'
                | '\u{2029}'
                | '\u{200B}'..='\u{200F}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2060}'..='\u{2064}'
                | '\u{2066}'..='\u{2069}'
                | '\u{FEFF}'
        )
}

/// The value on one line: every character of [`is_unsafe`] becomes U+FFFD (visible: the reviewer
/// sees that something odd was there), and at most `max` characters are kept.
pub fn one_line_max(value: &str, max: usize) -> String {
    let mut out = String::with_capacity(value.len().min(max.saturating_mul(4)));
    for (i, c) in value.chars().enumerate() {
        if i == max {
            out.push('…');
            break;
        }
        out.push(if is_unsafe(c) { '\u{FFFD}' } else { c });
    }
    out
}

/// [`one_line_max`] with [`MAX_VALUE_CHARS`].
pub fn one_line(value: &str) -> String {
    one_line_max(value, MAX_VALUE_CHARS)
}

/// An inline code span showing `value` literally, for running text and list items.
///
/// CommonMark: the fence is one backtick more than the longest backtick run inside, and one space
/// of padding on each side when the content starts or ends with a backtick (it would merge with the
/// fence) or starts *and* ends with a space (a renderer strips one space from each end). An empty
/// value is shown as `(empty)`: an empty code span does not exist in Markdown.
pub fn code(value: &str) -> String {
    span(&one_line(value), false)
}

/// [`code`] for a cell of a GFM table: `|` ends a cell even inside a code span, unless escaped as
/// `\|` (GitHub unescapes it before it parses the span, so the cell still shows `|`).
pub fn table_code(value: &str) -> String {
    span(&one_line(value), true)
}

/// [`code`] (or [`table_code`] when `in_table`) cut at `max` characters instead of
/// [`MAX_VALUE_CHARS`].
pub fn code_max(value: &str, max: usize, in_table: bool) -> String {
    span(&one_line_max(value, max), in_table)
}

fn span(text: &str, in_table: bool) -> String {
    if text.is_empty() {
        return "(empty)".to_owned();
    }
    let mut longest = 0;
    let mut run = 0;
    for c in text.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let fence = "`".repeat(longest + 1);
    let pad = text.starts_with('`')
        || text.ends_with('`')
        || (text.starts_with(' ') && text.ends_with(' ') && !text.trim().is_empty());
    let body = if in_table {
        text.replace('|', "\\|")
    } else {
        text.to_owned()
    };
    if pad {
        format!("{fence} {body} {fence}")
    } else {
        format!("{fence}{body}{fence}")
    }
}

/// A value for a PR title, which must stay plain text on one line: shown only when it is a valid
/// RFC 1123 host name (letters, digits, `-` and `.`: nothing GitHub could turn into a mention, a
/// reference, a link or HTML), cut to [`MAX_TITLE_VALUE_CHARS`]; anything else is left out.
pub fn title_value(hostname: &str) -> Option<String> {
    is_rfc1123_hostname(hostname).then(|| one_line_max(hostname, MAX_TITLE_VALUE_CHARS))
}

/// RFC 1123 host name: 1–253 characters, dot-separated labels of 1–63 letters, digits and `-`,
/// no label starting or ending with `-`. (No trailing dot: `/etc/hostname` holds no FQDN root.)
pub fn is_rfc1123_hostname(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a CommonMark renderer shows for a code span (the inverse of [`span`], enough to check
    /// the fencing): strip the fence, then one space from each end when both are spaces.
    fn shown(span: &str) -> String {
        let fence = span.chars().take_while(|c| *c == '`').count();
        assert!(fence > 0, "not a code span: {span}");
        let inner = &span[fence..span.len() - fence];
        if inner.len() >= 2 && inner.starts_with(' ') && inner.ends_with(' ') {
            inner[1..inner.len() - 1].to_owned()
        } else {
            inner.to_owned()
        }
    }

    #[test]
    fn code_spans_show_the_value_literally_whatever_its_backticks() {
        for value in [
            "plain",
            "a`b",
            "``double``",
            "`leading",
            "trailing`",
            " spaced ",
            "``` ``",
            "@acme/admins [x](https://evil.example) <img src=x> <!-- c -->",
        ] {
            let span = code(value);
            assert_eq!(shown(&span), value, "{span}");
            // The fence is longer than any backtick run inside.
            let fence = span.chars().take_while(|c| *c == '`').count();
            assert!(!value.contains(&"`".repeat(fence)), "{span}");
        }
        assert_eq!(code(""), "(empty)");
        assert_eq!(code("x"), "`x`");
        assert_eq!(code("a`b"), "``a`b``");
        assert_eq!(code("`x"), "`` `x ``");
    }

    #[test]
    fn values_become_one_line_without_invisible_characters() {
        let hostile = "n1\r\n# HEADING\u{2028}x\u{202E}y\u{200B}\t\u{0}";
        let line = one_line(hostile);
        assert!(!line.contains(['\r', '\n', '\t', '\0', '\u{2028}', '\u{202E}', '\u{200B}']));
        assert_eq!(line.chars().filter(|c| *c == '\u{FFFD}').count(), 7);
        assert_eq!(
            one_line(&"x".repeat(10_000)).chars().count(),
            MAX_VALUE_CHARS + 1
        );
        assert!(!code(hostile).contains('\n'));
    }

    #[test]
    fn table_cells_escape_pipes_even_inside_the_span() {
        assert_eq!(table_code("a|b"), "`a\\|b`");
        assert_eq!(code("a|b"), "`a|b`");
    }

    #[test]
    fn titles_show_only_rfc1123_host_names() {
        assert_eq!(title_value("r640-a1").as_deref(), Some("r640-a1"));
        assert_eq!(
            title_value("node1.rack4.example.org").as_deref(),
            Some("node1.rack4.example.org")
        );
        for bad in [
            "",
            "n1[click](https://evil.example)@acme/admins<img src=x>",
            "a/b",
            "-lead",
            "trail-",
            "a..b",
            ".",
            "x\ny",
            "under_score",
            &"a".repeat(64),
        ] {
            assert_eq!(title_value(bad), None, "{bad:?}");
        }
        let long = vec!["abcdefghij"; 20].join(".");
        assert!(is_rfc1123_hostname(&long));
        assert_eq!(
            title_value(&long).unwrap().chars().count(),
            MAX_TITLE_VALUE_CHARS + 1
        );
    }
}
