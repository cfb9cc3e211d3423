//! Bounded YAML: the one way enlist reads (and writes) YAML — node.yaml, the demand file, the
//! config file, the inventory map and the upstream node.yaml in `register`.
//!
//! Why a gate in front of the parser: `serde_yaml` 0.9 (libyaml underneath) spends time that grows
//! with the *square* of the flow nesting before its own recursion limit (128) is ever consulted —
//! a 200 KB `schema: [[[[…]]]]` took 72 s, 20,000 levels 2.8 s, 5,000 levels 0.26 s — and
//! compact block nesting (`? ? ? …`, `- - - …`) grows faster than linearly too. And it builds
//! every node before a type sees it: serde_yaml loads the whole document's events, then replays
//! an alias as often as it is used — its own limit counts alias *jumps*, not what they replay, so
//! `a: &a [x ×10,000]`, `b: &b [*a ×50]`, `c: [*b ×49]` (a 30 KB file, 99 aliases) built 25
//! million values: 2.5 GB and 8–23 s. 1 MiB of tiny flow nodes (`x: [a: b, a: b, …]`) is 840,000
//! events: 231 MB. So the gate bounds what parsing *builds* ([`Budget`]): a node count, aliases
//! expanded, and in node.yaml no anchor or alias at all. The numbers, and why serde_yaml stays,
//! are in the README's dependency notes.
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
//!    The same scan counts `*` and `&` (an upper bound of aliases and anchors), and the length
//!    bounds the node count: no YAML text yields more than [`NODES_PER_BYTE`] nodes per byte;
//! 3. only when those bounds cannot clear the text — nesting over [`MAX_DEPTH`] (many flow
//!    collections, e.g. a demand file written in flow style), a `*` (or in node.yaml a `&`), or a
//!    text long enough to hold more nodes than the [`Budget`] allows: **an exact event scan** with
//!    `saphyr-parser` (a maintained pure-Rust YAML 1.2 parser) that streams events without building
//!    anything and stops at the first one past [`MAX_DEPTH`], [`MAX_ALIASES`], the budget's node
//!    count (each alias counted as the nodes it replays) or, in node.yaml, at the first anchor or
//!    alias — linear, and immediate on a hostile file. A real node.yaml (~2 KiB, no `&` or `*`)
//!    never pays for it;
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

/// The most nodes (scalars, sequences, mappings; an alias counts as every node it replays) a
/// hand-written YAML input (demand file, inventory map, config) may build. The demand file is
/// the largest: a thousand workloads of five keys are 11,000. serde_yaml holds ~300 bytes a node
/// while it builds a document: 50,000 nodes are ~15 MiB and ~40 ms (release), inside the target
/// of SPEC §5 (≤ 32 MiB, ≤ 100 ms for any file of ≤ 1 MiB).
pub const MAX_NODES: usize = 50_000;

/// The most nodes a node.yaml may build. enlist writes ~150 (a machine with 100 disks, 64 NICs
/// and 16 GPUs ~1,300).
pub const MAX_NODE_YAML_NODES: usize = 10_000;

/// An upper bound of the nodes one byte of YAML text can yield (the densest texts, `[:,:,…]` and
/// `- - - …`, yield 1.5): a text of at most budget ÷ this bytes needs no count.
pub const NODES_PER_BYTE: usize = 2;

/// What a YAML input may build, checked before serde_yaml sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budget {
    /// The longest text, bytes.
    pub bytes: u64,
    /// The most nodes, aliases expanded.
    pub nodes: usize,
    /// Whether anchors and aliases (`&name`, `*name`) are allowed at all (at most
    /// [`MAX_ALIASES`] aliases).
    pub aliases: bool,
}

impl Budget {
    /// node.yaml (scanned by reconcile, sync and export; upstream in `register`): at most
    /// [`MAX_NODE_YAML_BYTES`](super::MAX_NODE_YAML_BYTES) and [`MAX_NODE_YAML_NODES`], no
    /// anchor or alias (enlist never writes one).
    pub const NODE_YAML: Budget = Budget {
        bytes: super::MAX_NODE_YAML_BYTES,
        nodes: MAX_NODE_YAML_NODES,
        aliases: false,
    };

    /// A file people write (demand file, inventory map, config) of at most `bytes`: aliases
    /// allowed, [`MAX_NODES`] with every alias expanded.
    pub const fn hand_written(bytes: u64) -> Budget {
        Budget {
            bytes,
            nodes: MAX_NODES,
            aliases: true,
        }
    }
}

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
    /// Would build more nodes than the budget allows.
    #[error(
        "more than {limit} nodes (each alias counted as the nodes it repeats) at line {line} \
         column {column}: not parsed"
    )]
    TooManyNodes {
        /// The budget's node count.
        limit: usize,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
    },
    /// An anchor or alias where none is allowed (node.yaml).
    #[error(
        "an anchor or alias (`&name`, `*name`) at line {line} column {column}: a node.yaml has \
         none (enlist never writes one): not parsed"
    )]
    Anchor {
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
/// A file people write: [`Budget::hand_written`] with `cap`.
pub fn from_str<T: DeserializeOwned>(text: &str, cap: u64) -> Result<T, YamlError> {
    from_str_within(text, Budget::hand_written(cap))
}

/// [`from_str`] within `budget`.
pub fn from_str_within<T: DeserializeOwned>(text: &str, budget: Budget) -> Result<T, YamlError> {
    check_within(text, budget)?;
    let text = text.strip_prefix('\u{FEFF}').unwrap_or(text);
    Ok(serde_yaml::from_str(text)?)
}

/// The YAML text of `value` (node.yaml's bytes: serde_yaml's block style, kept byte-identical).
pub fn to_string<T: Serialize>(value: &T) -> Result<String, serde_yaml::Error> {
    serde_yaml::to_string(value)
}

/// `text` as a YAML double-quoted scalar that any YAML parser reads back as `text`: `\` and
/// `"` escaped, and every character [`crate::markdown::is_unsafe`] names (control, line
/// separator, zero-width and bidirectional characters) as `\uXXXX`, so the line also shows
/// unchanged wherever enlist prints values. For lines enlist suggests people paste.
pub fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            c if crate::markdown::is_unsafe(c) => {
                use std::fmt::Write as _;
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Steps 1–3 of the [module](self) docs for a file people write ([`Budget::hand_written`]):
/// `Ok` when serde_yaml may parse `text`.
pub fn check(text: &str, cap: u64) -> Result<(), YamlError> {
    check_within(text, Budget::hand_written(cap))
}

/// [`check`] within `budget`.
pub fn check_within(text: &str, budget: Budget) -> Result<(), YamlError> {
    if text.len() as u64 > budget.bytes {
        return Err(YamlError::TooLarge {
            size: text.len(),
            cap: budget.bytes,
        });
    }
    let bound = quick_bound(text)?;
    let few_nodes = text.len().saturating_mul(NODES_PER_BYTE) <= budget.nodes;
    let no_aliases = if budget.aliases {
        bound.stars == 0
    } else {
        bound.stars == 0 && bound.ampersands == 0
    };
    if bound.depth <= MAX_DEPTH && no_aliases && few_nodes {
        return Ok(());
    }
    exact_scan(text, budget)
}

/// What the byte scan found.
#[derive(Debug, PartialEq, Eq)]
struct Bound {
    /// An upper bound of the nesting depth.
    depth: usize,
    /// `*` characters: an upper bound of the aliases.
    stars: usize,
    /// `&` characters: an upper bound of the anchors.
    ampersands: usize,
}

/// Step 2: an upper bound of the nesting, from bytes alone.
fn quick_bound(text: &str) -> Result<Bound, YamlError> {
    let mut openers = 0usize;
    let mut stars = 0usize;
    let mut ampersands = 0usize;
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
            '&' => ampersands += 1,
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
        ampersands,
    })
}

/// Step 3: the exact depth, aliases and nodes (each alias counted as the nodes its anchor
/// holds, aliases inside it expanded), stopping at the first event past a limit. Streams the
/// events: nothing is built but one count per anchor.
fn exact_scan(text: &str, budget: Budget) -> Result<(), YamlError> {
    use saphyr_parser::{Event, Parser};
    let mut parser = Parser::new_from_str(text);
    let mut depth = 0usize;
    let mut aliases = 0usize;
    // Nodes so far, aliases expanded.
    let mut nodes = 0usize;
    // Per open collection: its anchor id (0: none) and `nodes` when it started.
    let mut open: Vec<(usize, usize)> = Vec::new();
    // Nodes per anchor id (saphyr numbers anchors 1, 2, … in document order).
    let mut anchored: Vec<usize> = Vec::new();
    let record = |anchored: &mut Vec<usize>, id: usize, size: usize| {
        if id > 0 {
            if anchored.len() <= id {
                anchored.resize(id + 1, 0);
            }
            anchored[id] = size;
        }
    };
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
        let anchor = match &event {
            Event::SequenceStart(id, _)
            | Event::MappingStart(id, _)
            | Event::Scalar(_, _, id, _) => *id,
            _ => 0,
        };
        if !budget.aliases && (anchor > 0 || matches!(event, Event::Alias(_))) {
            return Err(YamlError::Anchor { line, column });
        }
        match event {
            Event::SequenceStart(..) | Event::MappingStart(..) => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(YamlError::TooDeep { line, column });
                }
                open.push((anchor, nodes));
                nodes += 1;
            }
            Event::SequenceEnd | Event::MappingEnd => {
                depth = depth.saturating_sub(1);
                if let Some((id, start)) = open.pop() {
                    record(&mut anchored, id, nodes - start);
                }
            }
            Event::Scalar(..) => {
                nodes += 1;
                record(&mut anchored, anchor, 1);
            }
            Event::Alias(id) => {
                aliases += 1;
                if aliases > MAX_ALIASES {
                    return Err(YamlError::TooManyAliases { line, column });
                }
                // An alias of an anchor still open (recursive) is refused by serde_yaml; count
                // it as one node.
                nodes = nodes.saturating_add(anchored.get(id).copied().unwrap_or(0).max(1));
            }
            Event::StreamEnd => break,
            _ => {}
        }
        if nodes > budget.nodes {
            return Err(YamlError::TooManyNodes {
                limit: budget.nodes,
                line,
                column,
            });
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
        // 108 aliases: refused by the scan (the node count first: `a4` holds 9^5 nodes).
        let started = Instant::now();
        let err = value(&laughs(13)).unwrap_err();
        assert!(
            matches!(err, YamlError::TooManyNodes { line: 5, .. }),
            "{err}"
        );
        assert!(started.elapsed() < Duration::from_secs(2));
        // 101 aliases of one scalar: few nodes, too many aliases.
        let many = format!("a: &a x\nb: [{}]\n", vec!["*a"; 101].join(", "));
        let err = value(&many).unwrap_err();
        assert!(
            matches!(err, YamlError::TooManyAliases { line: 2, .. }),
            "{err}"
        );
        // 99 aliases (9^11 expansions): within the count, stopped by the node budget before
        // serde_yaml builds anything.
        let started = Instant::now();
        let err = value(&laughs(12)).unwrap_err();
        assert!(matches!(err, YamlError::TooManyNodes { .. }), "{err}");
        assert!(started.elapsed() < Duration::from_secs(2));
        // A few aliases are fine.
        let ok = "base: &b {cores: 8}\nw1: *b\nw2: *b\n";
        assert!(value(ok).is_ok());
    }

    /// `a: &a [x ×n]`, `b: &b [*a ×50]`, `c: [*b ×49]`: 99 aliases, 2,500 × n nodes.
    pub(crate) fn amplification(n: usize) -> String {
        format!(
            "a: &a [{}]\nb: &b [{}]\nc: [{}]\n",
            vec!["x"; n].join(", "),
            vec!["*a"; 50].join(", "),
            vec!["*b"; 49].join(", ")
        )
    }

    #[test]
    fn amplification_is_refused_by_what_it_would_build() {
        for n in [10_000, 30_000, 100_000] {
            let text = amplification(n);
            let err = value(&text).unwrap_err();
            // Refused at the first alias that takes the count past the budget: `*a` on line 2
            // (10,000 and more nodes each), or the anchored list itself when it is that long.
            let line = if n > MAX_NODES { 1 } else { 2 };
            assert!(
                matches!(err, YamlError::TooManyNodes { limit: MAX_NODES, line: l, .. } if l == line),
                "{n}: {err}"
            );
            let err = from_str_within::<serde_yaml::Value>(&text, Budget::NODE_YAML).unwrap_err();
            assert!(
                matches!(err, YamlError::Anchor { line: 1, column: 4 }),
                "{n}: {err}"
            );
            assert!(err.to_string().contains("a node.yaml has none"), "{err}");
        }
        // Within the budget, aliases expanded: fine.
        let ok = "base: &b {cores: 8, memory_gb: 64}\nw: [*b, *b, *b]\n";
        assert!(value(ok).is_ok());
        let at = |n: usize| format!("a: &a [{}]\nb: [*a, *a]\n", vec!["x"; n].join(", "));
        // 1 + 1 + (1 + n) + 1 + 1 + 2 × (1 + n) nodes: the map, `a`, the list, `b`, its list.
        let n = (MAX_NODES - 6) / 3;
        assert!(value(&at(n)).is_ok());
        assert!(matches!(
            value(&at(n + 1)),
            Err(YamlError::TooManyNodes { .. })
        ));
    }

    #[test]
    fn a_mib_of_tiny_nodes_is_refused_by_count() {
        let pairs = format!("x: [{}]\n", vec!["a: b"; 200_000].join(","));
        let items = format!("x: [{}]\n", vec!["a"; 500_000].join(","));
        let lines = "- a\n".repeat(250_000);
        for text in [pairs, items, lines] {
            assert!(text.len() <= 1024 * 1024);
            let started = Instant::now();
            let err = value(&text).unwrap_err();
            assert!(matches!(err, YamlError::TooManyNodes { .. }), "{err}");
            assert!(started.elapsed() < Duration::from_secs(2));
            let err = from_str_within::<serde_yaml::Value>(&text, Budget::NODE_YAML).unwrap_err();
            assert!(
                matches!(
                    err,
                    YamlError::TooManyNodes {
                        limit: MAX_NODE_YAML_NODES,
                        ..
                    }
                ),
                "{err}"
            );
        }
    }

    #[test]
    fn node_yaml_refuses_anchors_and_aliases_but_not_the_characters() {
        for (text, line) in [
            ("schema: x\nsystem: &s {vendor: a}\n", 2),
            ("schema: x\nname: &n a\nother: *n\n", 2),
            ("schema: x\nlist:\n- &i x\n", 3),
        ] {
            let err = from_str_within::<serde_yaml::Value>(text, Budget::NODE_YAML).unwrap_err();
            assert!(
                matches!(err, YamlError::Anchor { line: l, .. } if l == line),
                "{err}"
            );
        }
        // `&` and `*` in values are text.
        let ok = "schema: x\nvendor: \"AT&T *\"\nmodel: R&D*2\n";
        assert!(from_str_within::<serde_yaml::Value>(ok, Budget::NODE_YAML).is_ok());
    }

    /// Nodes of a parsed document, aliases expanded (serde_yaml's `Value` holds them expanded).
    fn nodes(v: &serde_yaml::Value) -> usize {
        match v {
            serde_yaml::Value::Sequence(s) => 1 + s.iter().map(nodes).sum::<usize>(),
            serde_yaml::Value::Mapping(m) => {
                1 + m.iter().map(|(k, v)| nodes(k) + nodes(v)).sum::<usize>()
            }
            serde_yaml::Value::Tagged(t) => nodes(&t.value),
            _ => 1,
        }
    }

    #[test]
    fn no_text_yields_more_nodes_per_byte_than_the_bound() {
        // The densest shapes: empty keys and values, compact nesting, flow pairs.
        for unit in [
            "[:,", "[?,", "{:,", "- ", "-\n", "?\n", "? ", ":\n", "[a,", "{a,", "[[],", "[{},",
            "- - ", "- ? ", "[a: b,", "[? a,", "!!str ,", "[!t ,", "&a ,",
        ] {
            for n in [1, 2, 10, 50] {
                let mut text = unit.repeat(n);
                // Close what the unit opened, whatever it is.
                let opens = text.matches(['[', '{']).count();
                for c in text.clone().chars().rev() {
                    match c {
                        '[' if opens > 0 => text.push(']'),
                        '{' if opens > 0 => text.push('}'),
                        _ => {}
                    }
                }
                for text in [text.clone(), format!("k: {text}")] {
                    if let Ok(v) = serde_yaml::from_str::<serde_yaml::Value>(&text) {
                        assert!(
                            nodes(&v) <= NODES_PER_BYTE * text.len(),
                            "{text:?}: {} nodes, {} bytes",
                            nodes(&v),
                            text.len()
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn the_exact_count_is_what_serde_yaml_builds() {
        // Without the fast path (a tiny budget), the scan counts the nodes serde_yaml's value
        // has, aliases expanded: refused at exactly one more.
        for text in [
            "a: &a [1, 2, {b: c}]\nd: [*a, *a]\n",
            "- &x {k: [1, 2]}\n- *x\n- [*x, *x]\n",
            "k: &s scalar\nl: [*s, *s, *s]\n",
        ] {
            let v: serde_yaml::Value = serde_yaml::from_str(text).unwrap();
            let budget = |nodes| Budget {
                bytes: 1024,
                nodes,
                aliases: true,
            };
            assert!(check_within(text, budget(nodes(&v))).is_ok(), "{text:?}");
            assert!(
                matches!(
                    check_within(text, budget(nodes(&v) - 1)),
                    Err(YamlError::TooManyNodes { .. })
                ),
                "{text:?}"
            );
        }
    }

    #[test]
    fn quoted_text_reads_back_as_itself() {
        for text in [
            "Ready to Deploy",
            "in \"service\" \\ x",
            "#comment: - [x] &a *b !t",
            "tab\there\nnew\r\u{85}\u{2028}\u{200B}\u{202E}\u{FEFF}\u{7}",
            "yes",
            "~",
            "",
            "ü🚀",
        ] {
            let line = format!("{}: active", quoted(text));
            assert!(!line.chars().any(crate::markdown::is_unsafe), "{line:?}");
            let map: std::collections::BTreeMap<String, String> = value(&line)
                .and_then(|v| Ok(serde_yaml::from_value(v)?))
                .unwrap_or_else(|e| panic!("{line:?}: {e}"));
            assert_eq!(
                map.get(text).map(String::as_str),
                Some("active"),
                "{line:?}"
            );
        }
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
