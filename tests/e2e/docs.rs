//! The documentation cannot drift from the code: every relative link in the README, the
//! examples' README and the book (`docs/src/`) resolves (file and, for Markdown targets, heading
//! anchor), and every `enlist …` command line in them is one the binary's own argument parser
//! accepts.
//!
//! Command lines come from fenced code blocks (a line starting with `enlist`, after a prompt,
//! `sudo` or variable assignments; `\` continuations joined; cut at the first shell operator) and
//! must parse. Inline code spans (`` `enlist status --json` ``) are mentions of a command in prose:
//! they must name a real subcommand and real flags, but may leave out required arguments.
//! Synopses (`[--flag]`, `…`) are not command lines and are skipped.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use clap::Parser;
use clap::error::ErrorKind;
use enlist::cli::Cli;
use pulldown_cmark::{CodeBlockKind, Event, Options, Parser as Markdown, Tag, TagEnd};

use crate::support::repo;

/// The Markdown files a reader is sent to: the front page, the example repository's README and
/// every page of the book.
fn documents() -> Vec<PathBuf> {
    let root = repo();
    let mut files = vec![
        root.join("README.md"),
        root.join("examples/gitops/README.md"),
    ];
    let book = root.join("docs/src");
    if book.is_dir() {
        let mut stack = vec![book];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).expect("read docs/src") {
                let path = entry.expect("entry").path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|e| e == "md") {
                    files.push(path);
                }
            }
        }
    }
    files.sort();
    files
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn shown(path: &Path) -> String {
    path.strip_prefix(repo())
        .unwrap_or(path)
        .display()
        .to_string()
}

/// A heading's anchor as GitHub and mdBook make it: lower case, letters, digits, `-` and `_`
/// kept, spaces turned into `-`, everything else dropped.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

/// The anchors of a Markdown file's headings (with GitHub's `-1`, `-2` for repeats).
fn anchors(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut heading: Option<String> = None;
    for event in Markdown::new_ext(text, Options::all()) {
        match event {
            Event::Start(Tag::Heading { id, .. }) => {
                if let Some(id) = id {
                    out.insert(id.to_string());
                }
                heading = Some(String::new());
            }
            Event::Text(t) | Event::Code(t) => {
                if let Some(h) = heading.as_mut() {
                    h.push_str(&t);
                }
            }
            Event::End(TagEnd::Heading(_)) => {
                if let Some(h) = heading.take() {
                    let base = slug(&h);
                    let mut id = base.clone();
                    let mut n = 0;
                    while !out.insert(id.clone()) {
                        n += 1;
                        id = format!("{base}-{n}");
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// Every link and image target in a Markdown text.
fn links(text: &str) -> Vec<String> {
    Markdown::new_ext(text, Options::all())
        .filter_map(|event| match event {
            Event::Start(Tag::Link { dest_url, .. } | Tag::Image { dest_url, .. }) => {
                Some(dest_url.to_string())
            }
            _ => None,
        })
        .collect()
}

fn is_external(target: &str) -> bool {
    target.contains("://") || target.starts_with("mailto:")
}

#[test]
fn every_relative_link_resolves() {
    let mut broken = Vec::new();
    for doc in documents() {
        let text = read(&doc);
        for target in links(&text) {
            if is_external(&target) {
                continue;
            }
            let (file, anchor) = match target.split_once('#') {
                Some((f, a)) => (f, Some(a)),
                None => (target.as_str(), None),
            };
            let resolved = if file.is_empty() {
                doc.clone()
            } else {
                doc.parent().expect("a file has a directory").join(file)
            };
            if !resolved.exists() {
                broken.push(format!("{}: {target} (no such file)", shown(&doc)));
                continue;
            }
            if let Some(anchor) = anchor
                && resolved.extension().is_some_and(|e| e == "md")
                && !anchors(&read(&resolved)).contains(anchor)
            {
                broken.push(format!(
                    "{}: {target} (no heading with that anchor in {})",
                    shown(&doc),
                    shown(&resolved)
                ));
            }
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

/// Splits a command line into words as a POSIX shell would for the cases docs use: quotes
/// (`'…'`, `"…"`), backslash escapes, and a `<placeholder with spaces>` kept as one word.
fn words(line: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err("unterminated '".to_owned()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => word.extend(chars.next()),
                        Some(c) => word.push(c),
                        None => return Err("unterminated \"".to_owned()),
                    }
                }
            }
            '<' if !in_word => {
                in_word = true;
                word.push('<');
                for c in chars.by_ref() {
                    word.push(c);
                    if c == '>' {
                        break;
                    }
                }
            }
            '\\' => {
                in_word = true;
                word.extend(chars.next());
            }
            c if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        out.push(word);
    }
    Ok(out)
}

/// The `enlist …` part of a shell line: after a prompt, `sudo`, `env` and `VAR=value`
/// assignments, up to the first shell operator or comment. `None` when the line runs something
/// else.
fn enlist_part(line: &str) -> Option<String> {
    let mut rest = line.trim();
    for prompt in ["$ ", "# ", "- run: ", "run: "] {
        if let Some(r) = rest.strip_prefix(prompt) {
            rest = r.trim_start();
        }
    }
    loop {
        let first = rest.split_whitespace().next()?;
        let assignment = first.split_once('=').is_some_and(|(k, _)| {
            !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        });
        if first == "sudo" || first == "env" || assignment {
            rest = rest[first.len()..].trim_start();
        } else {
            break;
        }
    }
    let program = rest.split_whitespace().next()?;
    if program != "enlist" && !program.ends_with("/enlist") {
        return None;
    }
    let mut end = rest.len();
    for operator in [
        " | ", " > ", " >> ", " 2>", " && ", " || ", "; ", " & ", " # ", " <<", ")",
    ] {
        if let Some(i) = rest.find(operator) {
            end = end.min(i);
        }
    }
    Some(rest[..end].trim_end().to_owned())
}

/// A synopsis shows the shape of a command, not a command line.
fn is_synopsis(line: &str) -> bool {
    line.contains("[-") || line.contains('…') || line.contains("...") || line.contains("]…")
}

/// Command lines in fenced shell blocks (with `\` continuations joined), and inline code spans
/// that start with `enlist`.
fn command_lines(text: &str) -> (Vec<String>, Vec<String>) {
    let mut blocks = Vec::new();
    let mut spans = Vec::new();
    let mut in_block: Option<String> = None;
    let mut block_text = String::new();
    for event in Markdown::new_ext(text, Options::all()) {
        match event {
            Event::Start(Tag::CodeBlock(kind)) => {
                let lang = match kind {
                    CodeBlockKind::Fenced(info) => {
                        info.split_whitespace().next().unwrap_or("").to_owned()
                    }
                    CodeBlockKind::Indented => String::new(),
                };
                in_block = Some(lang);
                block_text.clear();
            }
            Event::Text(t) if in_block.is_some() => block_text.push_str(&t),
            Event::End(TagEnd::CodeBlock) => {
                let lang = in_block.take().unwrap_or_default();
                // `text` blocks are pictures and synopses, not command lines.
                if matches!(
                    lang.as_str(),
                    "" | "sh" | "bash" | "console" | "shell" | "yaml"
                ) {
                    let joined = block_text.replace("\\\n", " ");
                    blocks.extend(joined.lines().filter_map(enlist_part));
                }
            }
            Event::Code(t) if t.starts_with("enlist ") || &*t == "enlist" => {
                spans.push(t.to_string())
            }
            _ => {}
        }
    }
    (blocks, spans)
}

fn parse(line: &str) -> Result<(), clap::Error> {
    let argv = words(line).map_err(|e| clap::Error::raw(ErrorKind::InvalidValue, e))?;
    Cli::try_parse_from(argv).map(|_| ())
}

#[test]
fn every_enlist_command_line_parses() {
    let mut rejected = Vec::new();
    let mut checked = 0;
    for doc in documents() {
        let (blocks, spans) = command_lines(&read(&doc));
        for line in blocks.iter().filter(|l| !is_synopsis(l)) {
            checked += 1;
            if let Err(e) = parse(line) {
                rejected.push(format!("{}: `{line}`: {}", shown(&doc), first_line(&e)));
            }
        }
        for span in spans.iter().filter(|l| !is_synopsis(l)) {
            checked += 1;
            match parse(span) {
                Ok(()) => {}
                // A mention in prose may leave out what the command needs to run.
                Err(e)
                    if matches!(
                        e.kind(),
                        ErrorKind::MissingRequiredArgument
                            | ErrorKind::MissingSubcommand
                            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
                            | ErrorKind::DisplayHelp
                            | ErrorKind::DisplayVersion
                    ) => {}
                Err(e) => rejected.push(format!("{}: `{span}`: {}", shown(&doc), first_line(&e))),
            }
        }
    }
    assert!(
        checked > 20,
        "only {checked} command lines found: is the extraction broken?"
    );
    assert!(
        rejected.is_empty(),
        "command lines the parser rejects:\n{}",
        rejected.join("\n")
    );
}

fn first_line(e: &clap::Error) -> String {
    e.to_string().lines().next().unwrap_or_default().to_owned()
}

/// The checks themselves: a wrong flag is caught, a placeholder is one word, a pipe ends the
/// command line, a synopsis is skipped, a heading's anchor is GitHub's.
#[test]
fn the_checks_catch_what_they_should() {
    assert!(parse("enlist status --json").is_ok());
    assert!(parse("enlist status --jsn").is_err());
    assert!(parse("enlist registr").is_err());
    assert_eq!(
        words("enlist register --config '<a b>' <generated YAML> \"x y\"").expect("words"),
        [
            "enlist",
            "register",
            "--config",
            "<a b>",
            "<generated YAML>",
            "x y"
        ]
    );
    assert_eq!(
        enlist_part("$ sudo ENLIST_REPO=acme/fleet enlist status --json | jq .state").as_deref(),
        Some("enlist status --json")
    );
    assert_eq!(enlist_part("cargo run -p enlist"), None);
    assert!(is_synopsis("enlist facts [--format yaml|json|nix]"));
    let (blocks, spans) = command_lines(
        "```sh\nenlist reconcile --nodes . \\\n  --inventory inv.csv\n```\nsee `enlist status`\n",
    );
    assert_eq!(
        words(&blocks[0]).expect("words"),
        [
            "enlist",
            "reconcile",
            "--nodes",
            ".",
            "--inventory",
            "inv.csv"
        ]
    );
    assert_eq!(blocks.len(), 1);
    assert_eq!(spans, ["enlist status"]);
    let a = anchors("# What it does\n## The `gate`: a check\n## What it does\n");
    assert!(
        a.contains("what-it-does")
            && a.contains("what-it-does-1")
            && a.contains("the-gate-a-check")
    );
}
