//! PR text as GitHub renders it (CommonMark + GFM tables, through `pulldown-cmark`), reduced to
//! what matters for safety: what is code (shown literally), what is live text, and whether any
//! link, image, HTML, heading or table row came from somewhere it should not.

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

/// What a Markdown text renders to.
#[derive(Debug, Default)]
pub struct Rendered {
    /// Text outside code spans and code blocks (where GitHub makes mentions, references, emoji
    /// and links).
    pub text: Vec<String>,
    /// Code spans' contents (shown literally).
    pub code: Vec<String>,
    /// Raw HTML, inline or block.
    pub html: Vec<String>,
    /// Link and image targets.
    pub links: Vec<String>,
    /// Headings.
    pub headings: usize,
    /// Table rows, header included.
    pub table_rows: usize,
}

/// Renders `markdown`.
pub fn render(markdown: &str) -> Rendered {
    let options = Options::ENABLE_TABLES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_FOOTNOTES;
    let mut out = Rendered::default();
    let mut in_code_block = false;
    for event in Parser::new_ext(markdown, options) {
        match event {
            Event::Text(t) if in_code_block => out.code.push(t.into_string()),
            Event::Text(t) => out.text.push(t.into_string()),
            Event::Code(c) => out.code.push(c.into_string()),
            Event::Html(h) | Event::InlineHtml(h) => out.html.push(h.into_string()),
            Event::Start(Tag::Link { dest_url, .. } | Tag::Image { dest_url, .. }) => {
                out.links.push(dest_url.into_string())
            }
            Event::Start(Tag::Heading { .. }) => out.headings += 1,
            Event::Start(Tag::TableRow | Tag::TableHead) => out.table_rows += 1,
            Event::Start(Tag::CodeBlock(_)) => in_code_block = true,
            Event::End(TagEnd::CodeBlock) => in_code_block = false,
            _ => {}
        }
    }
    out
}

/// Asserts that `markdown` has no live mention, reference, link, image, heading or HTML other
/// than enlist's own (`<br>` between list entries in a table cell, the trailing
/// `<!-- enlist … -->` trailer), and that none of `values` (machine-derived) reaches live text.
/// Returns the rendering for further checks.
pub fn assert_inert(markdown: &str, values: &[&str]) -> Rendered {
    let r = render(markdown);
    assert!(r.links.is_empty(), "links {:?} in:\n{markdown}", r.links);
    assert_eq!(r.headings, 0, "a heading in:\n{markdown}");
    for html in &r.html {
        let h = html.trim();
        let ours = h == "<br>" || (h.starts_with("<!-- enlist ") && h.ends_with("-->"));
        assert!(ours, "HTML {h:?} in:\n{markdown}");
    }
    for text in &r.text {
        for live in ["@", "http", "www.", "#"] {
            assert!(
                !text.contains(live),
                "{live:?} in live text {text:?} of:\n{markdown}"
            );
        }
        for value in values {
            // Any sizeable piece of a machine value in live text would be rendered by GitHub.
            for word in value.split(|c: char| !c.is_alphanumeric()) {
                if word.len() >= 5 {
                    assert!(
                        !text.contains(word),
                        "{word:?} (from {value:?}) in live text {text:?} of:\n{markdown}"
                    );
                }
            }
        }
    }
    r
}

/// Asserts that a PR title is one plain line holding nothing GitHub would render.
pub fn assert_plain_title(title: &str) {
    assert!(!title.contains(['\n', '\r']), "{title:?}");
    assert!(title.chars().count() <= 256, "{title:?}");
    for c in ['@', '<', '>', '[', ']', '`', '#', '!', '*', '_', '(', ')'] {
        // "Register node-x (host)" uses parentheses around a valid host name only.
        if c == '(' || c == ')' {
            continue;
        }
        assert!(!title.contains(c), "{c:?} in title {title:?}");
    }
}
