//! Finding and checking the registrations: every `**/cluster-nodes/*/node.yaml` under `--nodes`.
//!
//! The walk skips `.git` and `target` (a checkout's history and a build directory never hold
//! registrations, and can be huge) and does not follow symlinked directories (no loops). Each file
//! is checked on its own, so one broken file is one `invalid` entry, never an aborted run:
//! schema, `nodeId` = directory name, and `factsHash` recomputed from the content.
//!
//! A file that parses but fails a check (hand edit, renamed directory) is still returned with its
//! document: its facts are what the file says, so the machine is not *also* reported as a missing
//! registration. It is left out of capacity and the fleet table.

use std::fs;
use std::path::{Path, PathBuf};

use crate::document::{DocumentError, NodeDocument, SCHEMA};
use crate::identity::normalise_mac;

use super::ReconcileError;
use super::report::{Invalid, InvalidKind};

/// Directories never descended into.
const SKIPPED_DIRS: [&str; 2] = [".git", "target"];

/// One node.yaml found under `--nodes`.
#[derive(Clone, Debug, PartialEq)]
pub struct ScannedNode {
    /// Path relative to `--nodes`, `/`-separated.
    pub path: String,
    /// The document, when it parsed (even if a check below failed).
    pub doc: Option<NodeDocument>,
    /// What is wrong with it (empty: valid).
    pub problems: Vec<Invalid>,
    /// Lines of the values findings point at.
    pub lines: KeyLines,
}

impl ScannedNode {
    /// Parsed and passed every check.
    pub fn is_valid(&self) -> bool {
        self.doc.is_some() && self.problems.is_empty()
    }
}

/// Where some values sit in the file, so annotations can point at the right line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyLines {
    /// `schema:`.
    pub schema: Option<u64>,
    /// `nodeId:`.
    pub node_id: Option<u64>,
    /// `factsHash:`.
    pub facts_hash: Option<u64>,
    /// `identity.fingerprint:`.
    pub fingerprint: Option<u64>,
    /// `system.serial:`.
    pub serial: Option<u64>,
    /// `network[].mac:` by normalised MAC.
    pub macs: Vec<(String, u64)>,
}

impl KeyLines {
    /// Finds the lines with a light scan of the text (the YAML enlist writes: top-level sections,
    /// two-space indentation). Best effort: a hand-formatted file may yield fewer lines.
    pub fn find(text: &str) -> KeyLines {
        let mut lines = KeyLines::default();
        let mut section = "";
        for (index, raw) in text.lines().enumerate() {
            let number = index as u64 + 1;
            let indented = raw.starts_with([' ', '-']);
            let trimmed = raw.trim_start().trim_start_matches("- ");
            let Some((key, value)) = trimmed.split_once(':') else {
                continue;
            };
            if !indented {
                section = key;
            }
            match (indented, section, key) {
                (false, _, "schema") => lines.schema = Some(number),
                (false, _, "nodeId") => lines.node_id = Some(number),
                (false, _, "factsHash") => lines.facts_hash = Some(number),
                (true, "identity", "fingerprint") => lines.fingerprint = Some(number),
                (true, "system", "serial") => lines.serial = Some(number),
                (true, "network", "mac") => {
                    let value = value.trim().trim_matches(['"', '\'']);
                    if let Some(mac) = normalise_mac(value) {
                        lines.macs.push((mac, number));
                    }
                }
                _ => {}
            }
        }
        lines
    }

    /// The line of `mac` (normalised).
    pub fn mac(&self, mac: &str) -> Option<u64> {
        self.macs.iter().find(|(m, _)| m == mac).map(|(_, l)| *l)
    }
}

/// Finds every `cluster-nodes/*/node.yaml` under `root` and checks each; sorted by path.
pub fn scan(root: &Path) -> Result<Vec<ScannedNode>, ReconcileError> {
    let meta = fs::metadata(root).map_err(|source| ReconcileError::NodesDir {
        path: root.to_path_buf(),
        source,
    })?;
    if !meta.is_dir() {
        return Err(ReconcileError::NodesNotDir {
            path: root.to_path_buf(),
        });
    }
    // The top level must be listable; deeper unreadable directories are findings, not aborts.
    fs::read_dir(root).map_err(|source| ReconcileError::NodesDir {
        path: root.to_path_buf(),
        source,
    })?;
    // Walk the canonical path, so `--nodes .` run inside `cluster-nodes/` sees that name too.
    let canonical = root
        .canonicalize()
        .map_err(|source| ReconcileError::NodesDir {
            path: root.to_path_buf(),
            source,
        })?;
    let root = canonical.as_path();
    let mut found = Vec::new();
    let mut unreadable = Vec::new();
    walk(root, &mut found, &mut unreadable);
    found.sort();
    let mut nodes: Vec<ScannedNode> = found
        .into_iter()
        .map(|path| {
            let shown = relative(root, &path);
            let dir_name = path
                .parent()
                .and_then(Path::file_name)
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            match fs::read(&path) {
                Ok(bytes) => match String::from_utf8(bytes) {
                    Ok(text) => check(&shown, &dir_name, &text),
                    Err(_) => failed(
                        &shown,
                        InvalidKind::Parse,
                        "not UTF-8 text".into(),
                        "regenerate it with `enlist facts --format yaml` on the node",
                    ),
                },
                Err(e) => failed(
                    &shown,
                    InvalidKind::Unreadable,
                    format!("cannot read: {e}"),
                    "check the file's permissions in the checkout",
                ),
            }
        })
        .collect();
    nodes.extend(unreadable.into_iter().map(|(dir, e)| {
        failed(
            &relative(root, &dir),
            InvalidKind::Unreadable,
            format!("cannot list directory: {e}"),
            "registrations below it were not checked: fix the directory's permissions",
        )
    }));
    nodes.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(nodes)
}

fn failed(path: &str, kind: InvalidKind, message: String, hint: &str) -> ScannedNode {
    ScannedNode {
        path: path.to_owned(),
        doc: None,
        problems: vec![Invalid {
            file: path.to_owned(),
            line: None,
            kind,
            message,
            hint: hint.to_owned(),
        }],
        lines: KeyLines::default(),
    }
}

fn walk(dir: &Path, found: &mut Vec<PathBuf>, unreadable: &mut Vec<(PathBuf, std::io::Error)>) {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => {
            unreadable.push((dir.to_path_buf(), e));
            return;
        }
    };
    let in_node_dir = dir
        .parent()
        .and_then(Path::file_name)
        .is_some_and(|n| n == "cluster-nodes");
    for entry in entries {
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) => {
                unreadable.push((dir.to_path_buf(), e));
                continue;
            }
        };
        let Ok(file_type) = entry.file_type() else {
            continue;
        };
        let name = entry.file_name();
        if file_type.is_dir() {
            if !SKIPPED_DIRS.iter().any(|s| name == *s) {
                walk(&entry.path(), found, unreadable);
            }
        } else if in_node_dir && name == "node.yaml" {
            // A regular file or a symlink to one (reading follows it).
            found.push(entry.path());
        }
    }
}

/// `path` relative to `root` with `/` separators (or the whole path if it is not under `root`).
pub fn relative(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    let parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.is_empty() {
        ".".to_owned()
    } else {
        parts.join("/")
    }
}

/// Checks one node.yaml's text: parse, schema, `nodeId` = `dir_name`, `factsHash`.
pub fn check(path: &str, dir_name: &str, text: &str) -> ScannedNode {
    let lines = KeyLines::find(text);
    // Fast path: one typed parse. Only a failure pays for the second parse that tells a future
    // schema apart from a broken file.
    let parsed = match serde_yaml::from_str::<NodeDocument>(text) {
        Ok(doc) if doc.schema == SCHEMA => Ok(doc),
        _ => NodeDocument::parse_unverified(text, path),
    };
    let err = match parsed {
        Ok(doc) => return verify(path, dir_name, doc, lines),
        Err(err) => err,
    };
    let (kind, message, line) = match err {
        DocumentError::Parse { message, .. } => {
            let line = line_in_message(&message);
            (
                InvalidKind::Parse,
                format!("not a valid node.yaml: {message}"),
                line,
            )
        }
        DocumentError::Schema { found, .. } => (
            InvalidKind::Schema,
            format!("schema {found:?} is not {SCHEMA:?}"),
            lines.schema,
        ),
        DocumentError::HashMismatch { .. } => (
            InvalidKind::HashMismatch,
            "factsHash does not match the content".into(),
            lines.facts_hash,
        ),
    };
    let hint = match kind {
        InvalidKind::Schema => {
            "written by a newer enlist: upgrade the enlist that runs reconcile, or regenerate the \
             file"
        }
        _ => {
            "regenerate it with `enlist facts --format yaml` on the node (or let `enlist \
             register` propose it)"
        }
    };
    ScannedNode {
        path: path.to_owned(),
        doc: None,
        problems: vec![Invalid {
            file: path.to_owned(),
            line,
            kind,
            message,
            hint: hint.to_owned(),
        }],
        lines,
    }
}

fn verify(path: &str, dir_name: &str, doc: NodeDocument, lines: KeyLines) -> ScannedNode {
    let mut problems = Vec::new();
    if doc.node_id.as_str() != dir_name {
        problems.push(Invalid {
            file: path.to_owned(),
            line: lines.node_id,
            kind: InvalidKind::NodeIdMismatch,
            message: format!(
                "nodeId {} does not match its directory {dir_name:?}",
                doc.node_id.as_str()
            ),
            hint: format!(
                "move the file to cluster-nodes/{}/node.yaml, or if it was copied from another \
                 node, delete it and register the machine with `enlist register`",
                doc.node_id.as_str()
            ),
        });
    }
    let computed = doc.compute_facts_hash();
    if computed != doc.facts_hash {
        problems.push(Invalid {
            file: path.to_owned(),
            line: lines.facts_hash,
            kind: InvalidKind::HashMismatch,
            message: format!(
                "factsHash {} does not match the content ({computed}): the file was edited by hand",
                doc.facts_hash
            ),
            hint: "node.yaml is generated: regenerate it with `enlist facts --format yaml` on the \
                   node (or re-run `enlist register`) instead of editing it; fix the inventory if \
                   that is what was wrong"
                .to_owned(),
        });
    }
    ScannedNode {
        path: path.to_owned(),
        doc: Some(doc),
        problems,
        lines,
    }
}

/// serde_yaml says "… at line 5 column 3"; pull the line out.
fn line_in_message(message: &str) -> Option<u64> {
    let rest = &message[message.find("at line ")? + "at line ".len()..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_error_line_is_extracted() {
        assert_eq!(
            line_in_message("cpu.cores: invalid type at line 12 column 10"),
            Some(12)
        );
        assert_eq!(line_in_message("no location"), None);
    }

    #[test]
    fn key_lines_find_the_values() {
        let text = "schema: x\nnodeId: node-1\nidentity:\n  source: mac\n  fingerprint: sha256:ab\n\
                    system:\n  serial: ABC\ndisks:\n- serial: D1\nnetwork:\n- name: eno1\n  mac: \
                    AA:BB:CC:DD:EE:FF\nfactsHash: sha256:cd\n";
        let lines = KeyLines::find(text);
        assert_eq!(lines.node_id, Some(2));
        assert_eq!(lines.fingerprint, Some(5));
        assert_eq!(lines.serial, Some(7));
        assert_eq!(lines.mac("aa:bb:cc:dd:ee:ff"), Some(12));
        assert_eq!(lines.facts_hash, Some(13));
    }

    #[test]
    fn garbage_is_a_parse_problem_with_its_path() {
        let node = check("cluster-nodes/x/node.yaml", "x", "schema: [unclosed\n");
        assert!(node.doc.is_none());
        assert_eq!(node.problems[0].kind, InvalidKind::Parse);
        assert_eq!(node.problems[0].file, "cluster-nodes/x/node.yaml");
    }

    #[test]
    fn future_schema_is_a_schema_problem() {
        let node = check("p", "x", "schema: enlist.dev/node/v9\nnodeId: x\n");
        assert_eq!(node.problems[0].kind, InvalidKind::Schema);
    }
}
