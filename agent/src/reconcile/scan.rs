//! Finding and checking the registrations: every `**/cluster-nodes/*/node.yaml` under `--nodes`.
//!
//! The walk skips version-control metadata (`.git`, `.hg`, …: history never holds registrations,
//! and can be huge) and a `target` build directory at the top of `--nodes` when it carries a
//! `CACHEDIR.TAG` (cargo's); any other directory is searched, whatever its name
//! (`maintainers/target/cluster-nodes/…` is a registration). Symlinked directories are not
//! followed (no loops). A `node.yaml` is read only if it is, or links to, a regular file inside
//! `--nodes` and at most [`MAX_NODE_FILE`] long: a link to `/dev/zero` (never ends), a FIFO (blocks
//! forever) or a file elsewhere on the CI runner is an `invalid` entry, not a read.
//!
//! Each file is checked on its own, so one broken file is one `invalid` entry, never an aborted
//! run: schema, `nodeId` = directory name, `factsHash` recomputed from the content, and no NUL
//! character anywhere (no database text column takes one, so `enlist sync` could not store it).
//!
//! A file that parses but fails a check (hand edit, renamed directory) is still returned with its
//! document: its facts are what the file says, so the machine is not *also* reported as a missing
//! registration. It is left out of capacity and the fleet table.

use std::fs;
use std::path::{Path, PathBuf};

use crate::document::{DocumentError, NodeDocument, SCHEMA};

/// What every node.yaml schema id of enlist's starts with: another version's (`…/v2`) is a newer
/// enlist's file, any other schema another tool's.
const SCHEMA_FAMILY: &str = "enlist.dev/node/";
use crate::identity::normalise_mac;
use crate::input::yaml::YamlError;

use super::ReconcileError;
use super::report::{Invalid, InvalidKind, Prose};

/// The most threads [`Tree::read_parallel`] reads and checks files on: reading is one
/// `open`/`read` and a parse per file, CPU-bound once the page cache is warm, so one thread per
/// core; past 8 the directory walk and the analysis (single-threaded) dominate anyway.
pub const MAX_READ_THREADS: usize = 8;

/// Files a thread takes at a time in [`Tree::read_parallel`]: large enough that taking work costs
/// nothing next to parsing it, small enough that threads finish together.
const READ_CHUNK: usize = 256;

/// Version-control metadata directories, never descended into (at any depth).
const VCS_DIRS: [&str; 7] = [".git", ".hg", ".svn", ".bzr", ".jj", ".pijul", "_darcs"];

/// The longest node.yaml read ([`crate::input::MAX_NODE_YAML_BYTES`]).
pub const MAX_NODE_FILE: u64 = crate::input::MAX_NODE_YAML_BYTES;

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
    /// An unreadable directory (`problems` says why), not a node.yaml: what is below it was not
    /// checked.
    pub directory: bool,
}

impl ScannedNode {
    /// Parsed and passed every check.
    pub fn is_valid(&self) -> bool {
        self.doc.is_some() && self.problems.is_empty()
    }

    /// A node.yaml file (valid or not), as opposed to an unreadable directory.
    pub fn is_file(&self) -> bool {
        !self.directory
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
    /// `sshHostKeys:`.
    pub ssh_host_keys: Option<u64>,
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
                (false, _, "sshHostKeys") => lines.ssh_host_keys = Some(number),
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

/// Finds every `cluster-nodes/*/node.yaml` under `root` and checks each; sorted by path (files and
/// unreadable directories together). Holds every document at once: for a whole fleet, read the
/// [`Tree`] file by file instead.
pub fn scan(root: &Path) -> Result<Vec<ScannedNode>, ReconcileError> {
    let tree = Tree::find(root)?;
    let mut nodes: Vec<ScannedNode> = tree.read().collect();
    nodes.extend(tree.unreadable_directories().iter().cloned());
    nodes.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(nodes)
}

/// The registrations under `--nodes`, found but not yet read.
///
/// Finding them is a directory walk that keeps one relative path per file; reading and checking
/// a file is the expensive part, and [`Tree::read`] does it one file at a time, in path order.
/// So a caller keeps only what it needs of each document — `reconcile` a summary, `sync` one chunk
/// of rows, `export` one record — and memory stays bounded however large the fleet (issue 16).
#[derive(Debug)]
pub struct Tree {
    /// `--nodes`, canonical.
    root: PathBuf,
    /// node.yaml files relative to `root`, sorted by their `/`-separated text, with the directory
    /// entry's type (not followed).
    files: Vec<(PathBuf, fs::FileType)>,
    /// Directories that could not be listed, as entries with their problem, sorted by path.
    unreadable: Vec<ScannedNode>,
}

impl Tree {
    /// Walks `root` (see the module docs). Fails only when `root` itself is unusable.
    pub fn find(root: &Path) -> Result<Tree, ReconcileError> {
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
        let mut found = Vec::new();
        let mut unreadable = Vec::new();
        walk(&canonical, true, &mut found, &mut unreadable);
        let mut files: Vec<(PathBuf, fs::FileType)> = found
            .into_iter()
            .map(|(path, file_type)| {
                let rel = path
                    .strip_prefix(&canonical)
                    .map(Path::to_path_buf)
                    .unwrap_or(path);
                (rel, file_type)
            })
            .collect();
        // By the shown (`/`-separated) text, not component-wise: `a-b/…` sorts before `a/…`.
        files.sort_by(|a, b| a.0.as_os_str().cmp(b.0.as_os_str()));
        let mut unreadable: Vec<ScannedNode> = unreadable
            .into_iter()
            .map(|(dir, e)| ScannedNode {
                directory: true,
                ..failed(
                    &relative(&canonical, &dir),
                    InvalidKind::Unreadable,
                    Prose::new().say(&format!("cannot list directory: {e}")),
                    "registrations below it were not checked: fix the directory's permissions",
                )
            })
            .collect();
        unreadable.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(Tree {
            root: canonical,
            files,
            unreadable,
        })
    }

    /// `--nodes`, canonical.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// How many node.yaml files were found.
    pub fn files(&self) -> usize {
        self.files.len()
    }

    /// Directories that could not be listed (what is below them was not checked).
    pub fn unreadable_directories(&self) -> &[ScannedNode] {
        &self.unreadable
    }

    /// Reads and checks the files one at a time, in path order.
    pub fn read(&self) -> impl Iterator<Item = ScannedNode> + '_ {
        self.read_files(false).map(|(node, _)| node)
    }

    /// Reads and checks the files on up to [`MAX_READ_THREADS`] threads (one per core), turning
    /// each into what the caller keeps with `keep` on the thread that read it; the results come
    /// back in path order, whatever thread finished first. Holds every result: for small
    /// summaries (`reconcile`'s), not whole documents.
    pub fn read_parallel<T: Send>(&self, keep: impl Fn(ScannedNode) -> T + Sync) -> Vec<T> {
        let threads = std::thread::available_parallelism()
            .map_or(1, std::num::NonZeroUsize::get)
            .min(MAX_READ_THREADS);
        let chunks: Vec<&[(PathBuf, fs::FileType)]> = self.files.chunks(READ_CHUNK).collect();
        if threads < 2 || chunks.len() < 2 {
            return self.read_files(false).map(|(node, _)| keep(node)).collect();
        }
        let next = std::sync::atomic::AtomicUsize::new(0);
        let mut done: Vec<(usize, Vec<T>)> = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..threads)
                .map(|_| {
                    scope.spawn(|| {
                        let mut mine = Vec::new();
                        loop {
                            let index = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            let Some(chunk) = chunks.get(index) else {
                                break;
                            };
                            let kept = chunk
                                .iter()
                                .map(|entry| keep(self.read_one(entry, false).0))
                                .collect();
                            mine.push((index, kept));
                        }
                        mine
                    })
                })
                .collect();
            workers
                .into_iter()
                // A worker panics only if `keep` or a check panicked: re-raise it here.
                .flat_map(|w| w.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
                .collect()
        });
        done.sort_unstable_by_key(|(index, _)| *index);
        // Moved chunk by chunk into one vector of the final size: each chunk's memory goes back
        // as it is moved (no doubling of a growing vector next to all the chunks).
        let mut all = Vec::with_capacity(self.files.len());
        for (_, kept) in done {
            all.extend(kept);
        }
        all
    }

    /// [`Tree::read`], with the SHA-256 of each file's bytes (`None` when it could not be
    /// read): what `enlist sync` compares to tell an unchanged file without serializing it again.
    pub fn read_with_digest(&self) -> impl Iterator<Item = (ScannedNode, Option<[u8; 32]>)> + '_ {
        self.read_files(true)
    }

    /// The files in path order, each checked, and hashed when `digest` (only sync needs it).
    fn read_files(
        &self,
        digest: bool,
    ) -> impl Iterator<Item = (ScannedNode, Option<[u8; 32]>)> + '_ {
        self.files
            .iter()
            .map(move |entry| self.read_one(entry, digest))
    }

    /// Reads and checks one found file (hashed when `digest`).
    fn read_one(
        &self,
        (rel, file_type): &(PathBuf, fs::FileType),
        digest: bool,
    ) -> (ScannedNode, Option<[u8; 32]>) {
        {
            let shown = relative(Path::new(""), rel);
            let dir_name = rel
                .parent()
                .and_then(Path::file_name)
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            match read_node_file(&self.root, &self.root.join(rel), *file_type) {
                Ok(bytes) => {
                    let digest = digest.then(|| {
                        let mut sha = [0u8; 32];
                        sha.copy_from_slice(
                            ring::digest::digest(&ring::digest::SHA256, &bytes).as_ref(),
                        );
                        sha
                    });
                    let node = match String::from_utf8(bytes) {
                        Ok(text) => check(&shown, &dir_name, &text),
                        Err(_) => failed(
                            &shown,
                            InvalidKind::Parse,
                            Prose::from("not UTF-8 text"),
                            "regenerate it with `enlist facts --format yaml` on the node",
                        ),
                    };
                    (node, digest)
                }
                Err((kind, message, hint)) => (failed(&shown, kind, message, hint), None),
            }
        }
    }
}

/// Reads a found node.yaml under the (canonical) `root`: a regular file, or a symlink to one
/// inside `root`, of at most [`MAX_NODE_FILE`] bytes; `file_type` is the directory entry's (not
/// followed). Else the problem: kind, message, hint.
fn read_node_file(
    root: &Path,
    path: &Path,
    file_type: fs::FileType,
) -> Result<Vec<u8>, (InvalidKind, Prose, &'static str)> {
    let permissions = "check the file's permissions in the checkout";
    let not_a_file = "a node.yaml must be a regular file in the checkout (or a symlink to one inside \
                      --nodes): replace it with the file `enlist facts --format yaml` prints on the \
                      node";
    let unreadable = |e: std::io::Error| {
        (
            InvalidKind::Unreadable,
            // The operating system's words (`Permission denied (os error 13)`).
            Prose::new().say(&format!("cannot read: {e}")),
            permissions,
        )
    };
    let not_regular = || {
        (
            InvalidKind::Unreadable,
            Prose::from(
                "not a regular file (a device, FIFO or socket, or a symlink to one): not read",
            ),
            not_a_file,
        )
    };
    // Only a symlink costs a path resolution; the directory entry already says what the rest is.
    let target = if file_type.is_symlink() {
        let resolved = fs::canonicalize(path).map_err(unreadable)?;
        if !resolved.starts_with(root) {
            return Err((
                InvalidKind::Unreadable,
                Prose::from("a symlink to a file outside the scanned directory: not followed"),
                not_a_file,
            ));
        }
        if !fs::metadata(&resolved).map_err(unreadable)?.is_file() {
            return Err(not_regular());
        }
        resolved
    } else if file_type.is_file() {
        path.to_path_buf()
    } else {
        // Opening a FIFO would block: never open what is not a regular file.
        return Err(not_regular());
    };
    let file = fs::File::open(&target).map_err(unreadable)?;
    // The path may have been swapped for something else since the type checks above.
    if !file.metadata().map_err(unreadable)?.is_file() {
        return Err(not_regular());
    }
    crate::input::read_capped_file(file, MAX_NODE_FILE, "node.yaml").map_err(|e| {
        if e.kind() == std::io::ErrorKind::FileTooLarge {
            (
                InvalidKind::Parse,
                Prose::new().say(&e.to_string()),
                "a node.yaml is a few kilobytes: regenerate it with `enlist facts --format yaml` \
                 on the node",
            )
        } else {
            unreadable(e)
        }
    })
}

fn failed(path: &str, kind: InvalidKind, message: Prose, hint: &'static str) -> ScannedNode {
    ScannedNode {
        path: path.to_owned(),
        doc: None,
        problems: vec![Invalid {
            file: path.to_owned(),
            line: None,
            kind,
            message,
            hint: Prose::from(hint),
        }],
        lines: KeyLines::default(),
        directory: false,
    }
}

/// Whether the walk skips the directory `name` (`at_root`: directly under `--nodes`).
fn skipped(path: &Path, name: &std::ffi::OsStr, at_root: bool) -> bool {
    VCS_DIRS.iter().any(|s| name == *s)
        || (at_root && name == "target" && path.join("CACHEDIR.TAG").is_file())
}

fn walk(
    dir: &Path,
    at_root: bool,
    found: &mut Vec<(PathBuf, fs::FileType)>,
    unreadable: &mut Vec<(PathBuf, std::io::Error)>,
) {
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
            let path = entry.path();
            if !skipped(&path, &name, at_root) {
                walk(&path, false, found, unreadable);
            }
        } else if in_node_dir && name == "node.yaml" {
            // Whatever it is: reading checks it (see `read_node_file`).
            found.push((entry.path(), file_type));
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

/// Checks one node.yaml's text: parse, schema, `nodeId` = `dir_name`, `factsHash`, no NUL.
pub fn check(path: &str, dir_name: &str, text: &str) -> ScannedNode {
    let lines = KeyLines::find(text);
    if let Some(at) = text.find('\0') {
        let line = text[..at].matches('\n').count() as u64 + 1;
        return nul(path, Some(line), lines);
    }
    // Fast path: one typed parse. Only a failure pays for the second parse that tells a future
    // schema apart from a broken file.
    let budget = crate::input::yaml::Budget::NODE_YAML;
    let parsed = match crate::input::yaml::from_str_within::<NodeDocument>(text, budget) {
        Ok(doc) if doc.schema == SCHEMA => Ok(doc),
        // Refused by the gate (too deep, too many nodes, an anchor): parsing again would only
        // say it again.
        Err(e) if !matches!(e, YamlError::Parse(_)) => Err(DocumentError::Parse {
            location: path.to_owned(),
            message: e.to_string(),
        }),
        _ => NodeDocument::parse_unverified(text, path),
    };
    let err = match parsed {
        // YAML writes NUL as an escape (`"\0"`, `"\x00"`, `"\u0000"`): only a file with a
        // backslash can hold one.
        Ok(doc) if text.contains('\\') && has_nul(&doc) => return nul(path, None, lines),
        Ok(doc) => return verify(path, dir_name, doc, lines),
        Err(err) => err,
    };
    let err_schema = match &err {
        DocumentError::Schema { found, .. } => Some(found.clone()),
        _ => None,
    };
    let (kind, message, line) = match err {
        DocumentError::Parse { message, .. } => {
            let line = line_in_message(&message);
            (
                InvalidKind::Parse,
                // The parser quotes keys and values as written: its message is a value too.
                Prose::from("not a valid node.yaml: ").value(&message),
                line,
            )
        }
        DocumentError::NotANode { what, .. } => (
            InvalidKind::Parse,
            Prose::from("not a node.yaml: ").say(&what),
            None,
        ),
        DocumentError::Schema { found, .. } => (
            InvalidKind::Schema,
            Prose::from("schema ")
                .quoted(&found)
                .say(&format!(" is not {SCHEMA:?}")),
            lines.schema,
        ),
        DocumentError::HashMismatch { .. } => (
            InvalidKind::HashMismatch,
            Prose::from("factsHash does not match the content"),
            lines.facts_hash,
        ),
    };
    let newer = matches!(&err_schema, Some(found) if found.starts_with(SCHEMA_FAMILY));
    let hint = match kind {
        InvalidKind::Schema if newer => {
            "written by a newer enlist: upgrade the enlist that runs reconcile, or regenerate the \
             file"
        }
        InvalidKind::Schema => {
            "not a node.yaml enlist wrote (its schema is another's): move the file out of \
             cluster-nodes/, or regenerate it with `enlist facts --format yaml` on the node"
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
            hint: Prose::from(hint),
        }],
        lines,
        directory: false,
    }
}

/// A document string holding NUL (see [`check`]).
fn has_nul(doc: &NodeDocument) -> bool {
    fn any_nul(value: &serde_json::Value) -> bool {
        match value {
            serde_json::Value::String(s) => s.contains('\0'),
            serde_json::Value::Array(items) => items.iter().any(any_nul),
            serde_json::Value::Object(map) => {
                map.iter().any(|(k, v)| k.contains('\0') || any_nul(v))
            }
            _ => false,
        }
    }
    // Plain data with string keys: serializing cannot fail (and if it did, verification would).
    serde_json::to_value(doc).is_ok_and(|v| any_nul(&v))
}

fn nul(path: &str, line: Option<u64>, lines: KeyLines) -> ScannedNode {
    ScannedNode {
        path: path.to_owned(),
        doc: None,
        problems: vec![Invalid {
            file: path.to_owned(),
            line,
            kind: InvalidKind::Parse,
            message: "contains a NUL character: not a node.yaml enlist wrote (and no database \
                      stores it)"
                .into(),
            hint: "regenerate it with `enlist facts --format yaml` on the node (or let `enlist \
                   register` propose it)"
                .into(),
        }],
        lines,
        directory: false,
    }
}

fn verify(path: &str, dir_name: &str, doc: NodeDocument, lines: KeyLines) -> ScannedNode {
    let mut problems = Vec::new();
    if doc.node_id.as_str() != dir_name {
        problems.push(Invalid {
            file: path.to_owned(),
            line: lines.node_id,
            kind: InvalidKind::NodeIdMismatch,
            message: Prose::from("nodeId ")
                .value(doc.node_id.as_str())
                .say(" does not match its directory ")
                .quoted(dir_name),
            hint: Prose::from("move the file to ")
                .value(&format!("cluster-nodes/{}/node.yaml", doc.node_id.as_str()))
                .say(
                    ", or if it was copied from another node, delete it and register the \
                     machine with `enlist register`",
                ),
        });
    }
    let computed = doc.compute_facts_hash();
    if computed != doc.facts_hash {
        problems.push(Invalid {
            file: path.to_owned(),
            line: lines.facts_hash,
            kind: InvalidKind::HashMismatch,
            message: Prose::from("factsHash ")
                .value(&doc.facts_hash)
                .say(" does not match the content (")
                .value(&computed)
                .say("): the file was edited by hand"),
            hint: Prose::from(
                "node.yaml is generated: regenerate it with `enlist facts --format yaml` on the \
                 node (or re-run `enlist register`) instead of editing it; fix the inventory if \
                 that is what was wrong",
            ),
        });
    }
    ScannedNode {
        path: path.to_owned(),
        doc: Some(doc),
        problems,
        lines,
        directory: false,
    }
}

/// serde_yaml (and `input::yaml`) say "… at line 5 column 3"; pull the line out.
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
    fn parallel_reading_keeps_path_order_and_findings() {
        // More files than one chunk: several threads read them (on a machine with several
        // cores); the results must be what reading one by one gives, in the same order.
        let dir = tempfile::tempdir().unwrap();
        for i in 0..(3 * READ_CHUNK + 7) {
            let node = dir.path().join(format!("cluster-nodes/node-{i:04}"));
            std::fs::create_dir_all(&node).unwrap();
            let text = match i % 3 {
                0 => String::new(),
                1 => format!("schema: [x{i}\n"),
                _ => format!("schema: enlist.dev/node/v9\nnodeId: node-{i:04}\n"),
            };
            std::fs::write(node.join("node.yaml"), text).unwrap();
        }
        let tree = Tree::find(dir.path()).unwrap();
        let one_by_one: Vec<ScannedNode> = tree.read().collect();
        let parallel = tree.read_parallel(|node| node);
        assert_eq!(parallel.len(), 3 * READ_CHUNK + 7);
        assert_eq!(parallel, one_by_one);
    }

    #[test]
    fn future_schema_is_a_schema_problem() {
        let node = check("p", "x", "schema: enlist.dev/node/v9\nnodeId: x\n");
        assert_eq!(node.problems[0].kind, InvalidKind::Schema);
    }
}
