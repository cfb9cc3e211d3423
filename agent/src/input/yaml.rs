//! Bounded YAML: the one way enlist reads (and writes) YAML — node.yaml, the demand file, the
//! config file, the inventory map and the upstream node.yaml in `register`.
//!
//! Why a gate in front of the parser: `serde_yaml` 0.9 (libyaml underneath) spends time that grows
//! with the *square* of the flow nesting before its own recursion limit (128) is ever consulted —
//! a 200 KB `schema: [[[[…]]]]` took 72 s, 20,000 levels 2.8 s, 5,000 levels 0.26 s — and
//! compact block nesting (`? ? ? …`, `- - - …`) grows faster than linearly too. Aliases are
//! already bounded by serde_yaml (it refuses to replay more than 100× the document's events).
//! The numbers, and why serde_yaml stays, are in the README's dependency notes.
//!
//! [`from_str`] checks, in order, each step only paying for what the previous one could not rule
//! out:
//!
//! 1. **size**: at most the caller's cap ([`super`] names them);
//! 2. **a byte scan** (~2 % of a parse) that bounds the nesting from above without tokenizing:
//!    flow nesting ≤ the number of `[`/`{` characters anywhere; block nesting ≤ 2 × (1 + the
//!    widest run of indentation, `-`/`?`/`:` indicators, `---` and properties at the start of any
//!    line), because libyaml's block indentation strictly grows (a sequence inside a mapping at
//!    the same column is the one exception, hence 2×). A line whose run is wider than
//!    [`MAX_INDENT`] columns is refused outright. Line breaks are libyaml's (`\n`, `\r`, CRLF as
//!    one, NEL, LS, PS), so a document cannot hide lines from the scan, and what libyaml skips at
//!    the start of a line counts: a byte order mark at column 0 (libyaml skips one there on every
//!    line, not only the first, and counts it as a column). Every character counts, in quotes and
//!    comments too: the bound can only be too high, never too low;
//! 3. only when that bound exceeds [`MAX_DEPTH`] (many flow collections, e.g. a demand file written
//!    in flow style) or the text holds more than [`MAX_ALIASES`] `*`: **an exact event scan** with
//!    `saphyr-parser` (a maintained pure-Rust YAML 1.2 parser) that stops at the first event past
//!    [`MAX_DEPTH`] or [`MAX_ALIASES`] — linear, and immediate on a hostile file;
//! 4. then serde_yaml, whose messages (`… at line 5 column 3`) and behaviour enlist keeps.

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::human;

/// The deepest nesting (mappings + sequences) any YAML input may have. enlist's deepest input
/// nests 3 levels (a node.yaml's `disks[].model`); serde_yaml itself stops at 128.
pub const MAX_DEPTH: usize = 64;

/// The most aliases (`*name`) a YAML input may use. enlist writes none; a person's demand file
/// may reuse an anchored catalog entry a few times.
pub const MAX_ALIASES: usize = 100;

/// The widest run of indentation and block indicators at the start of a line, in columns. Past
/// it a document is refused without parsing: no input of enlist's is indented that far, and it
/// keeps libyaml's block nesting (whatever another parser thinks of the text) small.
pub const MAX_INDENT: usize = 256;

/// A YAML input that cannot be used. The messages carry `at line N column C` where known (the
/// reconcile annotations pick the line out of them).
#[derive(Debug, thiserror::Error)]
pub enum YamlError {
    /// Longer than the caller's cap.
    #[error("{size} bytes is larger than {}, the limit for this file: not parsed", human(*cap))]
    TooLarge {
        /// The text's length, bytes.
        size: usize,
        /// The cap, bytes.
        cap: u64,
    },
    /// Nested deeper than [`MAX_DEPTH`] (or indented wider than [`MAX_INDENT`]).
    #[error(
        "nested more than {MAX_DEPTH} levels deep (or indented more than {MAX_INDENT} columns) at \
         line {line} column {column}: not parsed"
    )]
    TooDeep {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
    },
    /// More than [`MAX_ALIASES`] aliases.
    #[error("more than {MAX_ALIASES} aliases (`*name`) at line {line} column {column}: not parsed")]
    TooManyAliases {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
    },
    /// Not YAML (found by the exact scan of step 3, which stops before serde_yaml would start).
    #[error("{message} at line {line} column {column}")]
    Syntax {
        /// What the scanner said.
        message: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
    },
    /// serde_yaml's error, as it says it.
    #[error(transparent)]
    Parse(#[from] serde_yaml::Error),
}

/// Parses `text` (at most `cap` bytes) as one `T`, bounded as the [module](self) says.
///
/// A byte order mark at the start (Windows editors write one) is dropped first, as YAML allows:
/// serde_yaml tells libyaml the text is UTF-8, so libyaml's reader does not drop it, and its
/// scanner then reads the first line one column to the right of the others ("more than one
/// document").
pub fn from_str<T: DeserializeOwned>(text: &str, cap: u64) -> Result<T, YamlError> {
    check(text, cap)?;
    let text = text.strip_prefix('\u{FEFF}').unwrap_or(text);
    Ok(serde_yaml::from_str(text)?)
}

/// The YAML text of `value` (node.yaml's bytes: serde_yaml's block style, kept byte-identical).
pub fn to_string<T: Serialize>(value: &T) -> Result<String, serde_yaml::Error> {
    serde_yaml::to_string(value)
}

/// Steps 1–3 of the [module](self) docs: `Ok` when serde_yaml may parse `text`.
pub fn check(text: &str, cap: u64) -> Result<(), YamlError> {
    if text.len() as u64 > cap {
        return Err(YamlError::TooLarge {
            size: text.len(),
            cap,
        });
    }
    let bound = quick_bound(text)?;
    if bound.depth <= MAX_DEPTH && bound.stars <= MAX_ALIASES {
        return Ok(());
    }
    exact_scan(text)
}

/// What the byte scan found.
#[derive(Debug, PartialEq, Eq)]
struct Bound {
    /// An upper bound of the nesting depth.
    depth: usize,
    /// `*` characters: an upper bound of the aliases.
    stars: usize,
}

/// Step 2: an upper bound of the nesting, from bytes alone.
fn quick_bound(text: &str) -> Result<Bound, YamlError> {
    let mut openers = 0usize;
    let mut stars = 0usize;
    let mut widest = 0usize;
    let mut line = 1usize;
    // Position in the current line; `None` once the leading run (indentation, indicators,
    // properties, document markers) has ended.
    let mut run: Option<usize> = Some(0);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '[' | '{' => openers += 1,
            '*' => stars += 1,
            _ => {}
        }
        if matches!(c, '\n' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}') {
            // CRLF is one line break (libyaml's `SKIP_LINE`): the line numbers of the errors
            // must be the ones an editor shows.
            if c == '\r' && chars.peek() == Some(&'\n') {
                chars.next();
            }
            line += 1;
            run = Some(0);
            continue;
        }
        let Some(width) = run else { continue };
        let ends_token = |next: Option<&char>| {
            next.is_none_or(|n| {
                matches!(
                    n,
                    ' ' | '\t' | '\n' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}'
                )
            })
        };
        run = match c {
            ' ' | '\t' => Some(width + 1),
            // libyaml skips a byte order mark at column 0 of *every* line (`scan_to_next_token`),
            // as one column: what follows it on that line is indented by one more.
            '\u{FEFF}' if width == 0 => Some(1),
            '-' | '?' | ':' if ends_token(chars.peek()) => Some(width + 1),
            // `---`, `&anchor`, `!tag`: skip the token, the run goes on after it. Any other
            // token (a scalar, `-x` included) ends the run: a collection starting there starts
            // at `width`, already counted.
            '-' | '&' | '!' => {
                let mut token = String::from(c);
                while chars.peek().is_some_and(|n| !ends_token(Some(n))) {
                    token.extend(chars.next());
                }
                if c == '-' && token != "---" {
                    None
                } else {
                    Some(width + token.chars().count())
                }
            }
            _ => None,
        };
        if let Some(width) = run {
            if width > MAX_INDENT {
                return Err(YamlError::TooDeep {
                    line,
                    column: width,
                });
            }
            widest = widest.max(width);
        }
    }
    Ok(Bound {
        depth: openers.saturating_add(2 * (widest + 1)),
        stars,
    })
}

/// Step 3: the exact depth and alias count, stopping at the first event past a limit.
fn exact_scan(text: &str) -> Result<(), YamlError> {
    use saphyr_parser::{Event, Parser};
    let mut parser = Parser::new_from_str(text);
    let mut depth = 0usize;
    let mut aliases = 0usize;
    while let Some(next) = parser.next_event() {
        let (event, span) = next.map_err(|e| {
            let at = e.marker();
            if e.info() == "recursion limit exceeded" {
                YamlError::TooDeep {
                    line: at.line(),
                    column: at.col() + 1,
                }
            } else {
                YamlError::Syntax {
                    message: e.info().to_owned(),
                    line: at.line(),
                    column: at.col() + 1,
                }
            }
        })?;
        let (line, column) = (span.start.line(), span.start.col() + 1);
        match event {
            Event::SequenceStart(..) | Event::MappingStart(..) => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(YamlError::TooDeep { line, column });
                }
            }
            Event::SequenceEnd | Event::MappingEnd => depth = depth.saturating_sub(1),
            Event::Alias(_) => {
                aliases += 1;
                if aliases > MAX_ALIASES {
                    return Err(YamlError::TooManyAliases { line, column });
                }
            }
            Event::StreamEnd => break,
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    const CAP: u64 = 1024 * 1024;

    fn value(text: &str) -> Result<serde_yaml::Value, YamlError> {
        from_str(text, CAP)
    }

    fn depth(text: &str) -> usize {
        quick_bound(text).unwrap().depth
    }

    #[test]
    fn ordinary_documents_pass_the_byte_scan_alone() {
        let node = "schema: x\ndisks:\n- model: a\n  size: 1\ngpus: []\nsystem:\n  vendor: Dell\n";
        assert!(depth(node) <= MAX_DEPTH, "{}", depth(node));
        assert!(value(node).is_ok());
        let config = "repo: a/b\nlabels: [registration, x]\n";
        assert!(depth(config) <= MAX_DEPTH);
    }

    /// How deeply a parsed document really nests.
    fn real(v: &serde_yaml::Value) -> usize {
        match v {
            serde_yaml::Value::Sequence(s) => 1 + s.iter().map(real).max().unwrap_or(0),
            serde_yaml::Value::Mapping(m) => {
                1 + m
                    .iter()
                    .map(|(k, v)| real(k).max(real(v)))
                    .max()
                    .unwrap_or(0)
            }
            serde_yaml::Value::Tagged(t) => real(&t.value),
            _ => 0,
        }
    }

    #[test]
    fn the_byte_scan_never_undercounts() {
        // Real nesting, for documents that parse, is below the scan's bound.
        for text in [
            "- - - - x\n",
            "? - ? - x\n",
            "a:\n  b:\n    - c:\n      - [d, {e: f}]\n",
            "--- \n- &a - x\n",
            "- !t\n  - - y\n",
            "a:\r  b:\r    c: d\r",
            "a: \"]]]]\"\nb: [[[x]]]\n",
            "x: \u{85}  - y\n",
            // libyaml skips a byte order mark at column 0 of every line, as one column.
            "\u{FEFF}- - - - x\n",
            "\u{FEFF}? - ? - x\n",
            "\u{FEFF} - - - x\n",
            "a:\n\u{FEFF}  - - - y\n",
            "- a\r\n\u{FEFF}- - - b\r\n",
            "---\n\u{FEFF}- &x - !t - z\n",
        ] {
            if let Ok(v) = serde_yaml::from_str::<serde_yaml::Value>(text) {
                assert!(
                    real(&v) <= depth(text),
                    "{text:?}: {} > {}",
                    real(&v),
                    depth(text)
                );
            }
        }
    }

    /// Seeded xorshift.
    struct Rng(u64);

    impl Rng {
        fn below(&mut self, n: usize) -> usize {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 % n as u64) as usize
        }
    }

    /// A flow node at most `depth` levels deep.
    fn flow(rng: &mut Rng, depth: usize) -> String {
        match if depth == 0 { 0 } else { rng.below(3) } {
            0 => ["x", "'a]'", "\"}\"", "1"][rng.below(4)].to_owned(),
            1 => {
                let items: Vec<String> = (0..rng.below(3) + 1)
                    .map(|_| flow(rng, depth - 1))
                    .collect();
                format!("[{}]", items.join(", "))
            }
            _ => {
                let items: Vec<String> = (0..rng.below(3) + 1)
                    .map(|i| format!("k{i}: {}", flow(rng, depth - 1)))
                    .collect();
                format!("{{{}}}", items.join(", "))
            }
        }
    }

    /// Lines of a block collection whose entries start at column `col`, at most `depth` deep;
    /// leaves are flow nodes. Sequences nest compactly (`- - x`) or on the next line, mappings
    /// hold sequences at their own column or indented.
    fn block(rng: &mut Rng, col: usize, depth: usize) -> Vec<String> {
        let pad = " ".repeat(col);
        let mut lines = Vec::new();
        let map = rng.below(2) == 0;
        for i in 0..rng.below(2) + 1 {
            let head = if map {
                format!("{pad}k{i}:")
            } else {
                format!("{pad}-")
            };
            if depth <= 1 || rng.below(4) == 0 {
                let leaf_depth = rng.below(4);
                lines.push(format!("{head} {}", flow(rng, leaf_depth)));
                continue;
            }
            let step = if map { rng.below(3) } else { 2 };
            if !map && rng.below(2) == 0 {
                // Compact: the child's first line goes after `- `.
                let child = block(rng, col + 2, depth - 1);
                let mut child = child.into_iter();
                let first = child.next().unwrap_or_default();
                lines.push(format!("{head} {}", &first[col + 2..]));
                lines.extend(child);
            } else {
                let child_col = col + step;
                let child = block(rng, child_col, depth - 1);
                // Only a sequence may sit at its mapping key's column.
                if step == 0 && !child[0][child_col..].starts_with('-') {
                    lines.push(format!("{head} x"));
                    continue;
                }
                lines.push(head);
                lines.extend(child);
            }
        }
        lines
    }

    #[test]
    fn the_byte_scan_never_undercounts_generated_documents() {
        // Block structure of random indentation and compactness with flow leaves: whatever
        // serde_yaml accepts nests no deeper than the scan's bound — the soundness the gate
        // relies on (`fuzz/yaml_bounds` explores further).
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        // Per variant of the same documents: parsed, and close to the bound.
        let mut parsed = [0; 3];
        let mut tight = [0; 3];
        for _ in 0..3_000 {
            let depth = rng.below(7) + 1;
            let lines = block(&mut rng, 0, depth);
            let variants = [
                lines.join("\n") + "\n",
                // A byte order mark on every line (libyaml skips one at column 0 of each line,
                // counting a column: the structure is the same, one column to the right).
                lines
                    .iter()
                    .map(|l| format!("\u{FEFF}{l}\n"))
                    .collect::<String>(),
                // CRLF line breaks.
                lines.join("\r\n") + "\r\n",
            ];
            for (i, text) in variants.iter().enumerate() {
                let Ok(value) = serde_yaml::from_str::<serde_yaml::Value>(text) else {
                    continue;
                };
                parsed[i] += 1;
                let (real, bound) = (real(&value), quick_bound(text).unwrap().depth);
                assert!(real <= bound, "{text:?}: {real} levels > bound {bound}");
                // The mark widens every run by one column: the bound by 2.
                let slack = if i == 1 { 4 } else { 2 };
                if bound - real <= slack {
                    tight[i] += 1;
                }
            }
        }
        for (i, (parsed, tight)) in parsed.iter().zip(tight).enumerate() {
            assert!(
                *parsed > 2_500,
                "variant {i}: only {parsed} generated documents parsed"
            );
            assert!(
                tight > 100,
                "variant {i}: only {tight} documents came close to the bound: too easy a test"
            );
        }
    }

    #[test]
    fn deep_flow_nesting_is_refused_at_once() {
        for text in [
            format!("schema: {}{}\n", "[".repeat(100_000), "]".repeat(100_000)),
            format!("schema: {}\n", "[".repeat(200_000)),
            format!("schema: {}{}\n", "{a: ".repeat(50_000), "}".repeat(50_000)),
        ] {
            let started = Instant::now();
            let err = value(&text).unwrap_err();
            assert!(matches!(err, YamlError::TooDeep { line: 1, .. }), "{err}");
            assert!(err.to_string().contains("at line 1 column"), "{err}");
            assert!(started.elapsed() < Duration::from_secs(2));
        }
    }

    #[test]
    fn deep_block_nesting_is_refused_at_once() {
        let mut indented = String::from("schema:\n");
        for i in 0..1400 {
            indented.push_str(&" ".repeat(i + 1));
            indented.push_str("a:\n");
        }
        for text in [
            format!("schema:\n{}x\n", "- ".repeat(100_000)),
            format!("{}x\n", "? ".repeat(100_000)),
            indented,
        ] {
            let started = Instant::now();
            let err = value(&text).unwrap_err();
            assert!(matches!(err, YamlError::TooDeep { .. }), "{err}");
            assert!(started.elapsed() < Duration::from_secs(2));
        }
    }

    #[test]
    fn byte_order_marks_do_not_hide_nesting() {
        // One mark on the first line: without it counted, 100 levels passed the byte scan and
        // reached serde_yaml (1 MiB of `\u{FEFF}? ? ? …` took 0.84 s and 227 MB).
        for text in [
            format!("\u{FEFF}{}x\n", "- ".repeat(100)),
            format!("\u{FEFF}{}x\n", "? ".repeat(524_000)),
            format!("schema:\n\u{FEFF}{}x\n", "- ".repeat(200)),
        ] {
            let started = Instant::now();
            let err = value(&text).unwrap_err();
            assert!(matches!(err, YamlError::TooDeep { .. }), "{err}");
            assert!(started.elapsed() < Duration::from_secs(2));
        }
        // Within the indentation cap the exact scan decides (it refuses a mark inside a document).
        let text = format!("schema: x\n\u{FEFF}{}x\n", "- ".repeat(100));
        assert!(matches!(
            value(&text),
            Err(YamlError::Syntax { line: 2, .. })
        ));
        // A mark on many lines, each run under the indentation cap: the exact scan decides.
        let text = format!("\u{FEFF}{}x\n", "- ".repeat(120)).repeat(1000);
        assert!(value(&text).is_err());
        // A leading mark on an ordinary document changes nothing.
        let ok = "\u{FEFF}schema: x\ndisks:\n- model: a\n";
        assert!(depth(ok) <= MAX_DEPTH);
        assert!(value(ok).is_ok());
    }

    #[test]
    fn crlf_is_one_line_break_in_error_lines() {
        let mut text = String::from("schema: x\r\nnotes: y\r\n");
        text.push_str(&format!("{}x\r\n", "- ".repeat(200)));
        let err = value(&text).unwrap_err();
        assert!(matches!(err, YamlError::TooDeep { line: 3, .. }), "{err:?}");
        // The same through the exact scan (flow nesting, past the byte scan's bound).
        let text = format!("a: 1\r\nb: 2\r\nc: {}\r\n", "[".repeat(100));
        let err = value(&text).unwrap_err();
        assert!(matches!(err, YamlError::TooDeep { line: 3, .. }), "{err:?}");
        // A lone CR is a line break of its own (libyaml's too).
        let text = format!("a: 1\rb: 2\r{}x\r", "- ".repeat(200));
        assert!(matches!(
            value(&text).unwrap_err(),
            YamlError::TooDeep { line: 3, .. }
        ));
    }

    #[test]
    fn many_flow_collections_are_fine_when_shallow() {
        let text: String = (0..500)
            .map(|i| format!("- {{name: w{i}, cores: [1, 2]}}\n"))
            .collect();
        assert!(depth(&text) > MAX_DEPTH, "takes the exact scan");
        let v = value(&text).unwrap();
        assert_eq!(v.as_sequence().map(Vec::len), Some(500));
    }

    #[test]
    fn nesting_at_the_limit_passes_one_more_does_not() {
        let at = format!("{}x{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(value(&at).is_ok());
        let over = format!("[{at}]");
        assert!(matches!(value(&over), Err(YamlError::TooDeep { .. })));
    }

    #[test]
    fn alias_bombs_are_refused() {
        // Billion laughs: 9 levels of 9 aliases each.
        let laughs = |levels: usize| {
            let mut text = String::from("a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
            for i in 1..levels {
                let refs: Vec<String> = (0..9).map(|_| format!("*a{}", i - 1)).collect();
                text.push_str(&format!("a{i}: &a{i} [{}]\n", refs.join(", ")));
            }
            text
        };
        // 108 aliases: refused by the scan.
        let started = Instant::now();
        let err = value(&laughs(13)).unwrap_err();
        assert!(matches!(err, YamlError::TooManyAliases { .. }), "{err}");
        assert!(started.elapsed() < Duration::from_secs(2));
        // 99 aliases (9^11 expansions): within the count, stopped by serde_yaml's own limit.
        let started = Instant::now();
        let err = value(&laughs(12)).unwrap_err();
        assert!(
            err.to_string().contains("repetition limit exceeded"),
            "{err}"
        );
        assert!(started.elapsed() < Duration::from_secs(2));
        // A few aliases are fine.
        let ok = "base: &b {cores: 8}\nw1: *b\nw2: *b\n";
        assert!(value(ok).is_ok());
    }

    #[test]
    fn serde_messages_are_unchanged() {
        let err = value("a: [unclosed\n").unwrap_err();
        assert!(matches!(err, YamlError::Parse(_)));
        assert!(err.to_string().contains("at line"), "{err}");
    }

    #[test]
    fn oversize_text_is_refused_before_parsing() {
        let err = from_str::<serde_yaml::Value>("a: bcd\n", 3).unwrap_err();
        assert_eq!(
            err.to_string(),
            "7 bytes is larger than 3 bytes, the limit for this file: not parsed"
        );
    }

    #[test]
    fn syntax_errors_found_by_the_exact_scan_name_the_line() {
        let text = format!("{}\n]]]\n", "[a], ".repeat(100));
        let err = value(&text).unwrap_err();
        assert!(err.to_string().contains("at line"), "{err}");
    }
}
