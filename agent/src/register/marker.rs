//! The marker: `state_dir/registered.json`, the record of this machine's registration outcome.
//!
//! A marker that matches the machine's facts makes the next boot free: `registered`/`rejected`
//! means zero network calls, `pending` one read of the PR. It is written atomically (temp file in
//! the same directory → write → fsync → rename → fsync the directory), so a crash leaves either
//! the old marker or the new one, never a torn file. A marker that does not parse is treated as
//! absent, with a warning: the worst case is one more (idempotent) registration run.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::lock::NOFOLLOW;
use crate::input::MAX_MARKER_BYTES;

/// `O_NONBLOCK`: opening a FIFO planted where a state file belongs returns at once.
const NONBLOCK: i32 = rustix::fs::OFlags::NONBLOCK.bits() as i32;
use crate::forge::Check;
use crate::identity::NodeId;

/// File name of the marker inside the state directory.
pub const MARKER_FILE: &str = "registered.json";
/// Marker format version.
pub const MARKER_VERSION: u32 = 1;

/// Registration state recorded in the marker.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MarkerState {
    /// The node.yaml is on the base branch.
    Registered,
    /// A PR is open.
    Pending,
    /// The PR for these facts was closed without merge: do not ask again.
    Rejected,
}

impl MarkerState {
    /// Lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            MarkerState::Registered => "registered",
            MarkerState::Pending => "pending",
            MarkerState::Rejected => "rejected",
        }
    }
}

/// The marker's content.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Marker {
    /// Format version.
    pub version: u32,
    /// Node id the registration used (after any collision extension).
    pub node_id: NodeId,
    /// Facts hash registered.
    pub facts_hash: String,
    /// `owner/name`.
    pub repo: String,
    /// Path of node.yaml in the repository.
    pub path: String,
    /// Outcome.
    pub state: MarkerState,
    /// PR number, when a PR is involved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pr_number: Option<u64>,
    /// PR URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pr_url: Option<String>,
    /// First written (RFC 3339).
    pub created_at: String,
    /// Last written (RFC 3339).
    pub updated_at: String,
    /// enlist version that wrote it.
    pub agent_version: String,
    /// Auto-merge of the PR, as far as enlist knows (absent: not asked yet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_merge: Option<AutoMergeRecord>,
    /// The checks of the PR's head commit at the last pending run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checks: Option<Checks>,
    /// The commit this node last wrote on its branch (the PR's head right after it): a head that
    /// differs later means someone else pushed to the branch (SPEC §4, "Foreign commits").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub written_sha: Option<String>,
    /// The base branch the PR merges into, as the node opened (or adopted) it: a PR whose base
    /// changed later was retargeted by someone else (treated like foreign commits), and its merge
    /// is no registration until the base branch says so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<String>,
    /// The branch's head when the node found commits it did not write: auto-merge was turned off
    /// and the PR commented on, once; the PR is a person's from then on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub foreign_head: Option<String>,
    /// Optional steps GitHub refused after the PR existed (labels): warnings, never failures.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<Warning>,
    /// The configured labels GitHub accepted on this PR (enlist added them): a label missing from
    /// the PR later was removed by a person or a bot, and stays removed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub added_labels: Vec<String>,
    /// The boot this marker was written in: a refused optional step is tried again at most once
    /// per boot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boot_id: Option<String>,
}

/// An optional step (after the PR exists) that GitHub refused: shown by `enlist status`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Warning {
    /// The step: `labels`.
    pub step: String,
    /// GitHub's answer (sanitised).
    pub message: String,
    /// What to change, and who.
    pub advice: String,
}

/// Auto-merge of the registration PR.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum AutoMergeRecord {
    /// On: GitHub merges once the base branch's rules hold.
    Enabled {
        /// `squash`, `merge` or `rebase`.
        method: String,
    },
    /// GitHub refused; the PR waits for review.
    Refused {
        /// Stable reason (`not_allowed`, `no_protection_rules`, `clean_status`, …).
        reason: String,
        /// GitHub's message.
        message: String,
        /// What the repository's owner should change.
        advice: String,
    },
    /// `auto_merge: off` in the configuration.
    Off,
    /// A facts update (a hardware event) waits for a person (`auto_merge_updates: false`).
    NotForUpdates,
    /// A facts update whose SSH host keys changed waits for a person, even with
    /// `auto_merge_updates: true`: the node's secrets must be re-encrypted to its new key.
    HostKeyChanged,
    /// The branch has commits this node did not write: enlist turned auto-merge off (or never
    /// turned it on) and leaves the PR to a person.
    ForeignCommits {
        /// Whether auto-merge is off (`false`: it was on and GitHub refused to turn it off).
        off: bool,
    },
    /// Enlist turned it on and the PR shows it off since: turned off on GitHub (by a person, or
    /// by GitHub after a push by someone without write access). Enlist leaves it off.
    TurnedOff,
}

/// The checks of a commit, summarised.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checks {
    /// Failed if any failed, else pending if any runs, else passed; `none` without checks.
    pub state: ChecksState,
    /// Where they came from: `check_runs`, or `statuses` (only read without check runs).
    pub source: CheckSource,
    /// Each check.
    pub checks: Vec<Check>,
}

/// Where checks come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckSource {
    /// `GET …/commits/{sha}/check-runs` (GitHub Actions and apps).
    CheckRuns,
    /// `GET …/commits/{sha}/status` (commit statuses).
    Statuses,
}

/// The summary of a commit's checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChecksState {
    /// No check at all.
    None,
    /// Some still run, none failed.
    Pending,
    /// All finished and none failed.
    Passed,
    /// At least one failed.
    Failed,
    /// The token may not read them (403): a fine-grained token lacks Checks/Commit statuses:
    /// read. Registration goes on; only `enlist status` cannot show them.
    Unreadable,
}

impl ChecksState {
    /// Lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            ChecksState::None => "none",
            ChecksState::Pending => "pending",
            ChecksState::Passed => "passed",
            ChecksState::Failed => "failed",
            ChecksState::Unreadable => "unreadable",
        }
    }
}

/// Whether a finished check's conclusion is a failure (check runs and commit statuses).
pub fn is_failure(check: &Check) -> bool {
    matches!(
        check.conclusion.as_deref(),
        Some(
            "failure"
                | "timed_out"
                | "cancelled"
                | "action_required"
                | "startup_failure"
                | "stale"
                | "error"
        )
    )
}

impl Checks {
    /// Summarises `checks` from `source`.
    pub fn new(source: CheckSource, mut checks: Vec<Check>) -> Checks {
        checks.sort_by(|a, b| a.name.cmp(&b.name));
        let state = if checks.is_empty() {
            ChecksState::None
        } else if checks.iter().any(is_failure) {
            ChecksState::Failed
        } else if checks.iter().any(|c| c.conclusion.is_none()) {
            ChecksState::Pending
        } else {
            ChecksState::Passed
        };
        Checks {
            state,
            source,
            checks,
        }
    }

    /// Checks the token may not read (nothing more is asked this run).
    pub fn unreadable() -> Checks {
        Checks {
            state: ChecksState::Unreadable,
            source: CheckSource::Statuses,
            checks: Vec::new(),
        }
    }

    /// The failed checks.
    pub fn failed(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| is_failure(c))
    }
}

impl Marker {
    /// Whether this marker records *this* machine's current facts for this repository (and the
    /// configured node id, if one is configured): then nothing needs to be asked of GitHub.
    pub fn matches(&self, facts_hash: &str, repo: &str, configured: Option<&NodeId>) -> bool {
        self.version == MARKER_VERSION
            && self.facts_hash == facts_hash
            && self.repo.eq_ignore_ascii_case(repo)
            && configured.is_none_or(|id| *id == self.node_id)
    }
}

/// Marker I/O failures that stop the run (exit 73: the state directory is unusable).
#[derive(Debug, thiserror::Error)]
#[error(
    "{path}: cannot {action}: {source}; check that the state directory is writable and not full"
)]
pub struct MarkerError {
    /// The file or directory.
    pub path: PathBuf,
    /// What was attempted.
    pub action: &'static str,
    /// The I/O error.
    pub source: io::Error,
}

/// Path of the marker in `state_dir`.
pub fn marker_path(state_dir: &Path) -> PathBuf {
    state_dir.join(MARKER_FILE)
}

/// Reads the marker. Absent → `Ok(None)`. Garbage → warning and `Ok(None)`. An I/O error other
/// than "not found" (permission, EIO) → error: guessing would risk a duplicate registration.
pub fn read(state_dir: &Path) -> Result<Option<Marker>, MarkerError> {
    let path = marker_path(state_dir);
    let Some(bytes) = read_file(state_dir, MARKER_FILE).map_err(|e| MarkerError {
        action: "read the marker",
        ..e
    })?
    else {
        return Ok(None);
    };
    match parse(&bytes) {
        Ok(marker) => Ok(Some(marker)),
        Err(e) => {
            log::warn!(
                "{}: marker is not valid ({e}); ignoring it and checking GitHub instead",
                path.display()
            );
            Ok(None)
        }
    }
}

/// Parses marker bytes (a fuzz target: any input gives a marker or an error, never a panic).
pub fn parse(bytes: &[u8]) -> Result<Marker, serde_json::Error> {
    serde_json::from_slice(bytes)
}

/// Writes the marker atomically.
pub fn write(state_dir: &Path, marker: &Marker) -> Result<(), MarkerError> {
    write_json(state_dir, MARKER_FILE, marker)
}

/// Writes `value` as pretty JSON to `state_dir/file_name` atomically: a temporary file in the
/// same directory (created afresh, never through a symlink) → write → fsync → rename → fsync the
/// directory. A crash leaves the old file or the new one, never a torn one.
pub(super) fn write_json<T: Serialize>(
    state_dir: &Path,
    file_name: &str,
    value: &T,
) -> Result<(), MarkerError> {
    let path = state_dir.join(file_name);
    let err = |action: &'static str, p: &Path| {
        let p = p.to_owned();
        move |source| MarkerError {
            path: p,
            action,
            source,
        }
    };
    let mut json = serde_json::to_vec_pretty(value).map_err(|e| MarkerError {
        path: path.clone(),
        action: "encode the file",
        source: io::Error::other(e),
    })?;
    json.push(b'\n');
    let tmp = state_dir.join(format!(".{file_name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut file = create_new(&tmp, 0o644).map_err(err("create a temporary file", &tmp))?;
        file.write_all(&json).map_err(err("write the file", &tmp))?;
        file.sync_all().map_err(err("fsync the file", &tmp))?;
        fs::rename(&tmp, &path).map_err(err("rename the file into place", &path))?;
        File::open(state_dir)
            .and_then(|dir| dir.sync_all())
            .map_err(err("fsync the state directory", state_dir))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    } else {
        remove_stale_temporaries(state_dir);
    }
    result
}

/// Reads `state_dir/file_name` through the input caps: without following a symlink, without
/// blocking on a FIFO (opened `O_NONBLOCK`, then refused: only a regular file is read), and at
/// most [`MAX_MARKER_BYTES`]. `Ok(None)` when absent. A file over the cap is read as empty after
/// a warning, which callers treat like any invalid file: ignored (enlist writes ~1 KiB; the next
/// record replaces it). Anything that is not a regular file is an error naming it (exit 73).
pub(super) fn read_file(state_dir: &Path, file_name: &str) -> Result<Option<Vec<u8>>, MarkerError> {
    let path = state_dir.join(file_name);
    let opened = OpenOptions::new()
        .read(true)
        .custom_flags(NOFOLLOW | NONBLOCK)
        .open(&path);
    let file = match opened {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(MarkerError {
                path,
                action: "read the file",
                source,
            });
        }
    };
    let is_file = file
        .metadata()
        .map(|m| m.is_file())
        .map_err(|source| MarkerError {
            path: path.clone(),
            action: "read the file",
            source,
        })?;
    if !is_file {
        return Err(MarkerError {
            path,
            action: "read the file",
            source: io::Error::new(
                io::ErrorKind::InvalidInput,
                "not a regular file (a FIFO, device or directory); enlist writes only regular \
                 files there: remove it",
            ),
        });
    }
    match crate::input::read_capped_file(file, MAX_MARKER_BYTES, "state file") {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == io::ErrorKind::FileTooLarge => {
            log::warn!(
                "{}: {e} (enlist writes about 1 KiB); ignoring it: the next record replaces it",
                path.display()
            );
            Ok(Some(Vec::new()))
        }
        Err(source) => Err(MarkerError {
            path,
            action: "read the file",
            source,
        }),
    }
}

/// Removes temporary markers and write probes left by runs that were killed mid-write (their
/// names carry another pid). Only called while holding the state lock, so no live writer owns them.
fn remove_stale_temporaries(state_dir: &Path) {
    let prefixes = [
        format!(".{MARKER_FILE}.tmp-"),
        format!(".{MARKER_FILE}.probe-"),
        format!(".{}.tmp-", super::backoff::ATTEMPTS_FILE),
    ];
    let Ok(entries) = fs::read_dir(state_dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if prefixes.iter().any(|p| name.starts_with(p.as_str())) {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// Proves the state directory can take a marker (space, permissions) before anything is written
/// to GitHub: a PR whose outcome cannot be recorded would be checked again on every boot.
pub fn check_writable(state_dir: &Path) -> Result<(), MarkerError> {
    // A marker is well under 1 KiB; probe with a full page so a nearly full disk fails here.
    const PROBE_BYTES: usize = 4096;
    let probe = state_dir.join(format!(".{MARKER_FILE}.probe-{}", std::process::id()));
    let result = create_new(&probe, 0o600)
        .and_then(|mut file| {
            file.write_all(&[b'\n'; PROBE_BYTES])?;
            file.sync_all()
        })
        .map_err(|source| MarkerError {
            path: state_dir.to_owned(),
            action: "write to the state directory (disk full or read-only?)",
            source,
        });
    let _ = fs::remove_file(&probe);
    result
}

/// Creates `path` afresh for writing: whatever is there (a leftover of a killed run with the same
/// pid, or a planted symlink) is removed first — `remove_file` removes a symlink itself, never its
/// target — and the file is created exclusively, without following a symlink.
fn create_new(path: &Path, mode: u32) -> io::Result<File> {
    match fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .custom_flags(NOFOLLOW)
        .open(path)
}

/// Now as RFC 3339 (UTC, seconds).
pub fn timestamp(now: std::time::SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(now).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// A pending marker for tests (node-abc123, PR #7); other tests' fixtures start from it.
#[cfg(test)]
pub(crate) fn sample() -> Marker {
    Marker {
        version: MARKER_VERSION,
        node_id: NodeId::parse("node-abc123").unwrap(),
        facts_hash: "sha256:00".into(),
        repo: "acme/fleet".into(),
        path: "cluster-nodes/node-abc123/node.yaml".into(),
        state: MarkerState::Pending,
        pr_number: Some(7),
        pr_url: Some("https://github.com/acme/fleet/pull/7".into()),
        created_at: "2026-11-21T00:00:00Z".into(),
        updated_at: "2026-11-21T00:00:00Z".into(),
        agent_version: "0.1.0".into(),
        auto_merge: None,
        checks: None,
        written_sha: None,
        base: None,
        foreign_head: None,
        warnings: Vec::new(),
        added_labels: vec![],
        boot_id: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_summarise_failed_over_pending_over_passed() {
        let s = |checks: Vec<Check>| Checks::new(CheckSource::CheckRuns, checks).state;
        assert_eq!(s(vec![]), ChecksState::None);
        assert_eq!(
            s(vec![Check::of_test("a", Some("success"))]),
            ChecksState::Passed
        );
        assert_eq!(
            s(vec![
                Check::of_test("a", Some("success")),
                Check::of_test("b", Some("skipped"))
            ]),
            ChecksState::Passed
        );
        assert_eq!(
            s(vec![
                Check::of_test("a", Some("success")),
                Check::of_test("b", None)
            ]),
            ChecksState::Pending
        );
        assert_eq!(
            s(vec![
                Check::of_test("a", Some("failure")),
                Check::of_test("b", None)
            ]),
            ChecksState::Failed
        );
        assert_eq!(
            s(vec![Check::of_test("ci/x", Some("error"))]),
            ChecksState::Failed
        );
    }

    #[test]
    fn markers_without_the_new_fields_still_parse_and_round_trip_with_them() {
        let old = r#"{"version":1,"node_id":"node-abc123","facts_hash":"sha256:00","repo":"acme/fleet","path":"p.yaml","state":"pending","pr_number":7,"created_at":"x","updated_at":"x","agent_version":"0.1.0"}"#;
        let m = parse(old.as_bytes()).unwrap();
        assert_eq!((m.auto_merge, m.checks), (None, None));
        let mut full = sample();
        full.auto_merge = Some(AutoMergeRecord::Refused {
            reason: "not_allowed".into(),
            message: "Pull request Auto merge is not allowed for this repository".into(),
            advice: "allow auto-merge".into(),
        });
        full.checks = Some(Checks::new(
            CheckSource::CheckRuns,
            vec![Check::of_test("enlist reconcile", Some("failure"))],
        ));
        let json = serde_json::to_string(&full).unwrap();
        assert!(
            json.contains(r#""auto_merge":{"state":"refused""#),
            "{json}"
        );
        assert_eq!(parse(json.as_bytes()).unwrap(), full);
    }

    #[test]
    fn write_then_read_round_trips_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), &sample()).unwrap();
        assert_eq!(read(dir.path()).unwrap(), Some(sample()));
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from(MARKER_FILE)]);
    }

    #[test]
    fn temporaries_of_killed_runs_are_cleaned_up() {
        let dir = tempfile::tempdir().unwrap();
        let stale = dir.path().join(format!(".{MARKER_FILE}.tmp-999999"));
        fs::write(&stale, b"{\"version\": 1, \"node_").unwrap();
        assert_eq!(
            read(dir.path()).unwrap(),
            None,
            "a torn temporary is not the marker"
        );
        write(dir.path(), &sample()).unwrap();
        assert!(!stale.exists());
        assert_eq!(read(dir.path()).unwrap(), Some(sample()));
    }

    #[test]
    fn planted_symlinks_are_replaced_never_followed() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let victim = outside.path().join("victim");
        fs::write(&victim, "precious\n").unwrap();
        for name in [
            format!(".{MARKER_FILE}.tmp-{}", std::process::id()),
            format!(".{MARKER_FILE}.probe-{}", std::process::id()),
        ] {
            std::os::unix::fs::symlink(&victim, dir.path().join(name)).unwrap();
        }
        check_writable(dir.path()).unwrap();
        write(dir.path(), &sample()).unwrap();
        assert_eq!(fs::read_to_string(&victim).unwrap(), "precious\n");
        assert_eq!(read(dir.path()).unwrap(), Some(sample()));
        // A marker that is a symlink is not read through.
        fs::remove_file(marker_path(dir.path())).unwrap();
        fs::write(
            outside.path().join("forged.json"),
            serde_json::to_vec(&sample()).unwrap(),
        )
        .unwrap();
        std::os::unix::fs::symlink(outside.path().join("forged.json"), marker_path(dir.path()))
            .unwrap();
        assert!(read(dir.path()).is_err());
    }

    #[test]
    fn an_oversize_marker_is_ignored_and_a_fifo_refused_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let started = std::time::Instant::now();
        // 64 MiB (sparse): never read whole, ignored like garbage.
        File::create(marker_path(dir.path()))
            .unwrap()
            .set_len(64 * 1024 * 1024)
            .unwrap();
        assert_eq!(read(dir.path()).unwrap(), None);
        fs::remove_file(marker_path(dir.path())).unwrap();
        // A FIFO with no writer: opening it must not block, and it is not a state file.
        let made = std::process::Command::new("mkfifo")
            .arg(marker_path(dir.path()))
            .status()
            .unwrap();
        assert!(made.success());
        let err = read(dir.path()).unwrap_err();
        assert!(err.to_string().contains("not a regular file"), "{err}");
        assert!(err.to_string().contains(MARKER_FILE), "{err}");
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
    }

    #[test]
    fn garbage_marker_is_absent() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(marker_path(dir.path()), b"{\"node_id\": tru").unwrap();
        assert_eq!(read(dir.path()).unwrap(), None);
    }

    #[test]
    fn matching_needs_hash_repo_and_configured_id() {
        let m = sample();
        assert!(m.matches("sha256:00", "acme/fleet", None));
        assert!(m.matches("sha256:00", "ACME/fleet", None));
        assert!(!m.matches("sha256:01", "acme/fleet", None));
        assert!(!m.matches("sha256:00", "acme/other", None));
        let other = NodeId::parse("rack1-n1").unwrap();
        assert!(!m.matches("sha256:00", "acme/fleet", Some(&other)));
        assert!(m.matches("sha256:00", "acme/fleet", Some(&m.node_id)));
    }

    #[test]
    fn unwritable_state_dir_is_an_error_naming_the_path() {
        let err = write(Path::new("/proc/enlist-nonexistent"), &sample()).unwrap_err();
        assert!(
            err.to_string().contains("/proc/enlist-nonexistent"),
            "{err}"
        );
    }
}
