//! `enlist sync`: the registry as a database. Git stays the source of truth; PostgreSQL or
//! CockroachDB holds a materialised view of a checkout that can be dropped and rebuilt from it at
//! any time, for dashboards and capacity queries (and, on CockroachDB, for more than one machine).
//!
//! | step | module |
//! |---|---|
//! | read the checkout with reconcile's scanner and CSV parser, file by file; rows, selection | [`snapshot`] |
//! | which repository the checkout is (the selection's source) | [`source`] |
//! | reconcile's findings as rows, run counts | [`findings`] |
//! | URL, TLS (rustls + ring), what a failure means | [`connect`] |
//! | one connection; every transaction retried on conflicts, with backoff | [`session`], [`retry`] |
//! | versioned migrations, no DDL when current | [`schema`] |
//! | what a DML-only role needs; the exact missing grant | [`privileges`] |
//! | one sync per selection at a time; the heartbeat that renews it | [`lease`] |
//! | chunked upserts | [`upsert`] |
//!
//! A run (issue 16): walk the tree and parse the inventory (usage errors fail here, before any
//! connection) → connect → check the schema version (migrate only when it is missing or older)
//! → check every privilege the run needs → take the selection's lease (renewed by a heartbeat on
//! a connection of its own from here on) → close runs whose sync died (`abandoned`) → insert a `running`
//! run → read the node.yaml files one at a time and write them **a chunk per transaction**
//! (upserts of new and changed rows, `last_seen_*` of unchanged ones, the selection's sightings),
//! keeping only a summary of each → the inventory items, chunked → reconcile the summaries and
//! write the findings, chunked → **complete the run last**, in one small transaction (status,
//! counts, the selection's `latest_run_id`) → clean up (old findings; `--rebuild`: old runs,
//! orphaned rows) → release the lease. Every transaction re-checks the lease and is retried on
//! 40001/40P01/40003 and, on a new connection, after the connection was lost ([`session`]); a
//! run that gives up is recorded `failed` and its lease released over a fresh connection.
//!
//! Semantics (issue 7, refined by issue 16):
//! - **Idempotent**: syncing the same tree again changes nothing but `last_seen_*` (and adds a
//!   run with its findings).
//! - **Missing** is derived, never stored: the rows a selection saw before its latest completed
//!   run that this run did not see (views `missing_nodes`, `missing_inventory_items`), with
//!   `confidence = low` when that run was `partial` (part of the tree unreadable) or had errors
//!   (invalid files or rows). Runs of other selections never change it; a run in progress or one
//!   that failed never does either: it is not the latest completed run.
//! - **Readers** may see a run's rows (contents, `last_seen_*`) chunk by chunk as it writes them;
//!   what is missing and which findings are the latest change only when it completes.
//! - **Selection** = source repository + operators + scanned paths + inventory file; see
//!   [`snapshot::Selection`].
//! - **`--rebuild`** writes every row in full, forgets the selection's sightings the run did not
//!   renew just before completing, and after completing its older runs (with their findings) and
//!   the rows no selection sees any more. An ordinary run rewrites only rows whose content
//!   changed.
//! - **Crashes**: a killed sync leaves a `running` run and its lease; once the lease expired
//!   (30 s by default: the heartbeat stopped with the process), the next sync (of any selection)
//!   closes that run as `abandoned`.
//! - **Current**: views `current_nodes` and `current_inventory_items` give, per selection, the
//!   rows its latest finished run saw (schema version 3, see [`schema`]).
//! - **Secrets**: the URL is a [`DatabaseUrl`]; nothing stored or printed contains its password.

pub mod connect;
pub mod findings;
pub mod lease;
pub mod privileges;
pub mod retry;
mod run;
pub mod schema;
pub mod session;
pub mod snapshot;
pub mod source;
pub mod upsert;

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::config::Env;
use crate::reconcile::ReconcileError;
use crate::secret::DatabaseUrl;

use connect::Target;
use findings::Counts;

pub use run::{migrate_only, sync};

/// The systemd credential name the URL is read from (`LoadCredential=database-url:…`).
pub const CREDENTIAL_NAME: &str = "database-url";

/// Rows (nodes, inventory items or findings) per transaction by default: among the fastest sizes
/// measured by `tests/benches/sync.rs` (README, "Performance"): large enough that transaction
/// overhead does not dominate, small enough that a transaction stays far below CockroachDB's
/// limits and a conflict under SERIALIZABLE repeats little work.
pub const DEFAULT_CHUNK_ROWS: usize = 1000;

/// The most rows per transaction `ENLIST_SYNC_CHUNK_ROWS` may ask for (CockroachDB advises
/// batches in the hundreds to low thousands; beyond this a chunk is a "large transaction" again).
pub const MAX_CHUNK_ROWS: usize = 10_000;

/// What to sync.
#[derive(Clone, Debug)]
pub struct Options {
    /// Root of the GitOps checkout.
    pub nodes: PathBuf,
    /// The inventory CSV.
    pub inventory: PathBuf,
    /// The `--inventory-map` file.
    pub inventory_map: Option<PathBuf>,
    /// Where to.
    pub database_url: DatabaseUrl,
    /// Only these operators' files (all when empty).
    pub operators: Vec<String>,
    /// The repository's name for the selection (default: the checkout's origin, see [`source`]).
    pub source: Option<String>,
    /// Forget this selection's history first.
    pub rebuild: bool,
    /// Lease lifetime and wait.
    pub lease: lease::Timing,
    /// Rows per transaction.
    pub chunk_rows: usize,
    /// How long each transaction is retried.
    pub retry: retry::Policy,
}

impl Options {
    /// Options with the defaults for everything but the paths and the URL.
    pub fn new(nodes: PathBuf, inventory: PathBuf, database_url: DatabaseUrl) -> Options {
        Options {
            nodes,
            inventory,
            inventory_map: None,
            database_url,
            operators: Vec::new(),
            source: None,
            rebuild: false,
            lease: lease::Timing::default(),
            chunk_rows: DEFAULT_CHUNK_ROWS,
            retry: retry::Policy::default(),
        }
    }
}

/// `sync_runs.status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunStatus {
    /// In progress (or crashed).
    Running,
    /// Everything was read.
    Completed,
    /// Part of the tree could not be read.
    Partial,
    /// The run failed; what it wrote before is not trusted (it never became the latest run).
    Failed,
    /// Its sync died (killed, crashed) and its lease expired.
    Abandoned,
}

impl RunStatus {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Completed => "completed",
            RunStatus::Partial => "partial",
            RunStatus::Failed => "failed",
            RunStatus::Abandoned => "abandoned",
        }
    }
}

/// A node the latest run of the selection did not see.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MissingNode {
    /// Path from the repository root.
    pub path: String,
    /// Node id.
    pub node_id: String,
    /// Hostname, when the file had parsed.
    pub hostname: Option<String>,
    /// When the selection last saw it.
    pub last_seen_at: String,
    /// Which run saw it last.
    pub last_seen_run_id: i64,
}

/// What a sync did.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// The run.
    pub run_id: i64,
    /// `completed` or `partial`.
    pub status: RunStatus,
    /// Counts stored with the run.
    pub counts: Counts,
    /// Invalid-entry kinds of the run (sorted).
    pub error_codes: Vec<String>,
    /// Nodes missing for this selection now.
    pub missing: Vec<MissingNode>,
    /// `high` or `low` (see the module docs).
    pub confidence: &'static str,
    /// The selection's source (the repository).
    pub source: String,
    /// Transactions run again after a conflict, an ambiguous commit or a lost connection.
    pub retries: u32,
    /// Times the connection was replaced after it was lost.
    pub reconnects: u32,
    /// Runs of dead syncs this sync closed as `abandoned`.
    pub abandoned: Vec<i64>,
    /// Wall time of the whole run.
    pub elapsed: Duration,
    /// Where the time went: `(phase, duration)` in order (walk, connect, schema, lease, nodes,
    /// items, findings, completion, cleanup, missing).
    pub phases: Vec<(&'static str, Duration)>,
}

/// Why a sync failed. Every message says what failed and what to do; none contains the database
/// password.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// No URL anywhere.
    #[error(
        "no database URL: pass --database-url-file PATH (a file holding the URL) or set \
         ENLIST_DATABASE_URL, or provide the systemd credential `{CREDENTIAL_NAME}`"
    )]
    NoDatabaseUrl,
    /// The URL file cannot be read.
    #[error("cannot read the database URL file {}: {source}; check --database-url-file", path.display())]
    UrlFile {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The URL does not parse.
    #[error("invalid database URL: {message}")]
    InvalidUrl {
        /// What is wrong (never the URL itself).
        message: String,
    },
    /// A setting from the environment is malformed.
    #[error("{name}={value:?} is not {expected}")]
    InvalidSetting {
        /// Variable.
        name: &'static str,
        /// Value.
        value: String,
        /// What it should be.
        expected: &'static str,
    },
    /// Certificates or keys named in the URL cannot be used.
    #[error("TLS setup: {message}")]
    TlsSetup {
        /// What is wrong.
        message: String,
    },
    /// The server cannot be reached.
    #[error(
        "cannot reach the database at {shown}: {message}; check the host and port in the URL, \
         that the server is running, and that the network allows the connection"
    )]
    Unreachable {
        /// The database, without password.
        shown: String,
        /// What the driver said.
        message: String,
    },
    /// TLS failed (certificate not trusted, wrong name, TLS refused).
    #[error(
        "TLS with the database at {shown} failed: {message}; give the cluster's CA certificate \
         as sslrootcert=PATH (CockroachDB: certs/ca.crt) and connect by a name the server \
         certificate lists, or use sslmode=verify-ca"
    )]
    Tls {
        /// The database.
        shown: String,
        /// What failed.
        message: String,
    },
    /// The URL requires TLS (`sslmode=require`, `verify-ca`, `verify-full`) and the server offers
    /// none: only the server's side can fix that.
    #[error(
        "the database server at {shown} does not offer TLS, and sslmode={mode} requires it: the \
         server must enable TLS (PostgreSQL: ssl = on with ssl_cert_file and ssl_key_file; \
         CockroachDB: a secure cluster, not started with --insecure); nothing in the URL's \
         certificate settings can change that"
    )]
    ServerWithoutTls {
        /// The database.
        shown: String,
        /// The URL's `sslmode`.
        mode: &'static str,
    },
    /// Wrong user or password (or a certificate the server does not accept).
    #[error(
        "the database at {shown} rejected the login: {message}; check the user and password \
         (or client certificate) in the URL"
    )]
    Auth {
        /// The database.
        shown: String,
        /// What the server said.
        message: String,
    },
    /// Logged in, but not allowed to do what sync does (and the database could not say
    /// exactly which grant is missing: see [`SyncError::MissingGrants`]).
    #[error(
        "the database user at {shown} lacks a privilege: {message}; a sync needs SELECT, \
         INSERT, UPDATE, DELETE on enlist's tables and USAGE on its sequence sync_run_ids (as \
         the tables' owner: GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public \
         TO <user>; GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO <user>)"
    )]
    Permission {
        /// The database.
        shown: String,
        /// What the server said.
        message: String,
    },
    /// Logged in, but lacking these privileges on enlist's tables or sequence.
    #[error(
        "the database user {user:?} at {shown} lacks privileges `enlist sync` needs: {}; as the \
         owner of enlist's tables run: {} (or, for all of them at once: {grant_all})",
        missing.join("; "),
        grants.join(" ")
    )]
    MissingGrants {
        /// The database.
        shown: String,
        /// The current user.
        user: String,
        /// `INSERT, UPDATE on table nodes`, …
        missing: Vec<String>,
        /// One `GRANT` per object.
        grants: Vec<String>,
        /// The two `GRANT … ON ALL … IN SCHEMA` statements.
        grant_all: String,
    },
    /// The schema is missing or older than this enlist, and this user may not create it.
    #[error(
        "the registry schema at {shown} is at version {found} (0: not created yet) and this \
         enlist needs version {latest}, but user {user:?} may not create or change it \
         ({message}); run `enlist sync --migrate` once as the role that owns enlist's tables \
         (docs/src/database.md: \"two roles\"), or let this user create in the schema (GRANT CREATE ON SCHEMA \
         public TO {user})"
    )]
    SchemaNotCurrent {
        /// The database.
        shown: String,
        /// Version found.
        found: i64,
        /// Version needed.
        latest: i64,
        /// The user of the URL.
        user: String,
        /// What the server said.
        message: String,
    },
    /// The database named in the URL does not exist.
    #[error(
        "{message} at {shown}; create it first (CREATE DATABASE …) or fix the database name in \
         the URL"
    )]
    NoSuchDatabase {
        /// The database.
        shown: String,
        /// What the server said.
        message: String,
    },
    /// A newer enlist migrated the schema.
    #[error(
        "the database schema is at version {found}, newer than this enlist understands (up to \
         {supported}): a newer enlist has synced into it; upgrade this enlist (the schema is \
         never migrated down)"
    )]
    SchemaTooNew {
        /// Version in the database.
        found: i64,
        /// Newest known here.
        supported: i64,
    },
    /// Another sync of the selection holds the lease.
    #[error(
        "another `enlist sync` of this selection is running ({holder}, since {since}; its lease \
         expires {expires}); gave up after waiting {waited_secs}s: retry later (a crashed sync's \
         lease expires on its own)"
    )]
    LeaseHeld {
        /// Who.
        holder: String,
        /// Since when (database time).
        since: String,
        /// Until when (database time).
        expires: String,
        /// How long this sync waited.
        waited_secs: u64,
    },
    /// Another enlist holds the schema lease: it is creating or migrating the schema.
    #[error(
        "a schema change is in progress: another enlist ({holder}, since {since}; its lease \
         expires {expires}) is creating or migrating the registry schema; gave up after waiting \
         {waited_secs}s: retry later (a crashed migration's lease expires on its own, within \
         ENLIST_SYNC_LEASE_TTL_SECS)"
    )]
    SchemaChangeInProgress {
        /// Who.
        holder: String,
        /// Since when (database time).
        since: String,
        /// Until when (database time).
        expires: String,
        /// How long this sync waited.
        waited_secs: u64,
    },
    /// The lease expired during the run and was taken over.
    #[error(
        "lost the sync lease of this selection during the run: its heartbeat could not renew it \
         for {ttl_secs}s (the database unreachable from it, or this process paused) and another \
         sync took it over; this run stopped writing and is not the selection's latest: retry \
         (raise ENLIST_SYNC_LEASE_TTL_SECS if the database is often out of reach that long)"
    )]
    LeaseLost {
        /// Lease lifetime.
        ttl_secs: u64,
    },
    /// The database aborted the transaction to keep it serializable (SQLSTATE 40001, routine on
    /// CockroachDB under contention) or broke a deadlock (40P01); retried a few times first.
    #[error(
        "the database kept aborting the transaction while {during} because of concurrent writes \
         ({message}); retry later"
    )]
    Conflict {
        /// What enlist was doing.
        during: &'static str,
        /// What the server said.
        message: String,
    },
    /// The database could not tell whether a commit happened (CockroachDB, SQLSTATE 40003);
    /// retried (every transaction re-checks what it would write), so this only surfaces when
    /// the retry budget ran out.
    #[error(
        "the database could not tell whether the transaction while {during} was committed \
         ({message}); retry later"
    )]
    Ambiguous {
        /// What enlist was doing.
        during: &'static str,
        /// What the server said.
        message: String,
    },
    /// The connection broke (SQLSTATE class 08 or 57, a closed socket) and reconnecting did not
    /// succeed within the retry budget.
    #[error(
        "lost the connection to the database while {during} ({message}); retry later, or raise \
         ENLIST_SYNC_RETRY_SECS if the database restarts take longer"
    )]
    ConnectionLost {
        /// What enlist was doing.
        during: &'static str,
        /// What the server or driver said.
        message: String,
    },
    /// A failure the database says is temporary.
    #[error("temporary database failure while {during}: {message}; retry later")]
    Temporary {
        /// What enlist was doing.
        during: &'static str,
        /// What the server said.
        message: String,
    },
    /// Anything else the database refused (a bug or an incompatible server).
    #[error(
        "database error while {during}: {message}; if the server is not PostgreSQL ≥ 15 or \
         CockroachDB, it is not supported; otherwise please report this"
    )]
    Database {
        /// What enlist was doing.
        during: &'static str,
        /// What the server said.
        message: String,
    },
    /// `--nodes` or `--inventory` is unusable.
    #[error(transparent)]
    Reconcile(#[from] ReconcileError),
    /// The async runtime could not start.
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
}

impl SyncError {
    /// Stable kind for logs and `sync_runs.error_codes`.
    pub fn kind(&self) -> &'static str {
        match self {
            SyncError::NoDatabaseUrl | SyncError::UrlFile { .. } => "database_url",
            SyncError::InvalidUrl { .. } | SyncError::InvalidSetting { .. } => "usage",
            SyncError::TlsSetup { .. } | SyncError::Tls { .. } => "tls",
            SyncError::ServerWithoutTls { .. } => "server_without_tls",
            SyncError::Unreachable { .. } => "unreachable",
            SyncError::Auth { .. } => "auth",
            SyncError::Permission { .. } | SyncError::MissingGrants { .. } => "permission",
            SyncError::SchemaNotCurrent { .. } => "schema_not_current",
            SyncError::Ambiguous { .. } => "ambiguous",
            SyncError::NoSuchDatabase { .. } => "no_database",
            SyncError::SchemaTooNew { .. } => "schema_too_new",
            SyncError::LeaseHeld { .. } => "lease_held",
            SyncError::LeaseLost { .. } => "lease_lost",
            SyncError::SchemaChangeInProgress { .. } => "schema_change_in_progress",
            SyncError::ConnectionLost { .. } => "connection_lost",
            SyncError::Temporary { .. } => "temporary",
            SyncError::Conflict { .. } => "conflict",
            SyncError::Database { .. } => "database",
            SyncError::Reconcile(e) => e.kind(),
            SyncError::Runtime(_) => "runtime",
        }
    }
}

/// Finds the URL: `--database-url`, `--database-url-file`, `ENLIST_DATABASE_URL`, then
/// `$CREDENTIALS_DIRECTORY/database-url` (flag > env > file, as for every setting).
pub fn resolve_url(
    flag: Option<&str>,
    file: Option<&Path>,
    env: &Env,
) -> Result<DatabaseUrl, SyncError> {
    if let Some(url) = flag.and_then(DatabaseUrl::new) {
        if Target::parse(&url).is_ok_and(|t| t.has_password()) {
            log::warn!(
                "--database-url puts the password in the process list (`ps`); prefer \
                 --database-url-file, ENLIST_DATABASE_URL or the `{CREDENTIAL_NAME}` credential"
            );
        }
        return Ok(url);
    }
    let read = |path: &Path| {
        std::fs::read_to_string(path)
            .map_err(|source| SyncError::UrlFile {
                path: path.to_path_buf(),
                source,
            })
            .map(|text| DatabaseUrl::new(&text))
    };
    if let Some(path) = file {
        return read(path)?.ok_or(SyncError::NoDatabaseUrl);
    }
    if let Some(url) = env
        .get("ENLIST_DATABASE_URL")
        .and_then(|u| DatabaseUrl::new(u))
    {
        return Ok(url);
    }
    if let Some(dir) = env.get("CREDENTIALS_DIRECTORY").filter(|d| !d.is_empty()) {
        let path = Path::new(dir).join(CREDENTIAL_NAME);
        if path.exists() {
            return read(&path)?.ok_or(SyncError::NoDatabaseUrl);
        }
    }
    Err(SyncError::NoDatabaseUrl)
}

/// Lease timing: defaults, or `ENLIST_SYNC_LEASE_TTL_SECS` (from [`lease::MIN_TTL`] to
/// [`lease::MAX_TTL`]) / `ENLIST_SYNC_LEASE_WAIT_SECS`.
pub fn lease_timing(env: &Env) -> Result<lease::Timing, SyncError> {
    let mut timing = lease::Timing::default();
    let seconds = |name: &'static str, value: &String| -> Result<Duration, SyncError> {
        value
            .trim()
            .parse()
            .map(Duration::from_secs)
            .map_err(|_| SyncError::InvalidSetting {
                name,
                value: value.clone(),
                expected: "a whole number of seconds",
            })
    };
    if let Some(value) = env.get("ENLIST_SYNC_LEASE_TTL_SECS") {
        let name = "ENLIST_SYNC_LEASE_TTL_SECS";
        timing.ttl = seconds(name, value)?;
        if !(lease::MIN_TTL..=lease::MAX_TTL).contains(&timing.ttl) {
            return Err(SyncError::InvalidSetting {
                name,
                value: value.clone(),
                expected: "a number of seconds from 1 to 3600",
            });
        }
    }
    if let Some(value) = env.get("ENLIST_SYNC_LEASE_WAIT_SECS") {
        timing.wait = seconds("ENLIST_SYNC_LEASE_WAIT_SECS", value)?;
    }
    Ok(timing)
}

/// Rows per transaction (`ENLIST_SYNC_CHUNK_ROWS`, 1 to [`MAX_CHUNK_ROWS`]) and the retry
/// budget of each transaction (`ENLIST_SYNC_RETRY_SECS`): defaults, or what the environment says.
pub fn tuning(env: &Env) -> Result<(usize, retry::Policy), SyncError> {
    let mut chunk_rows = DEFAULT_CHUNK_ROWS;
    let mut policy = retry::Policy::default();
    if let Some(value) = env.get("ENLIST_SYNC_CHUNK_ROWS") {
        chunk_rows = value
            .trim()
            .parse()
            .ok()
            .filter(|n| (1..=MAX_CHUNK_ROWS).contains(n))
            .ok_or_else(|| SyncError::InvalidSetting {
                name: "ENLIST_SYNC_CHUNK_ROWS",
                value: value.clone(),
                expected: "a number of rows from 1 to 10000",
            })?;
    }
    if let Some(value) = env.get("ENLIST_SYNC_RETRY_SECS") {
        let secs: u64 = value
            .trim()
            .parse()
            .map_err(|_| SyncError::InvalidSetting {
                name: "ENLIST_SYNC_RETRY_SECS",
                value: value.clone(),
                expected: "a whole number of seconds",
            })?;
        policy.budget = Duration::from_secs(secs);
    }
    Ok((chunk_rows, policy))
}

/// The `--show-missing` table (stdout).
pub fn render_missing(outcome: &Outcome) -> String {
    if outcome.missing.is_empty() {
        return format!(
            "no missing nodes (run {}, confidence {})\n",
            outcome.run_id, outcome.confidence
        );
    }
    let mut rows = vec![[
        "NODE ID".to_owned(),
        "HOSTNAME".to_owned(),
        "LAST SEEN".to_owned(),
        "RUN".to_owned(),
        "PATH".to_owned(),
    ]];
    for m in &outcome.missing {
        rows.push([
            m.node_id.clone(),
            m.hostname.clone().unwrap_or_else(|| "-".into()),
            m.last_seen_at.clone(),
            m.last_seen_run_id.to_string(),
            m.path.clone(),
        ]);
    }
    let widths: Vec<usize> = (0..5)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = format!(
        "{} node(s) missing since the latest run ({}), confidence {}:\n",
        outcome.missing.len(),
        outcome.run_id,
        outcome.confidence
    );
    for row in rows {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            if c + 1 == row.len() {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<width$}  ", width = widths[c]));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// One line for stderr: what the run did.
pub fn summary(outcome: &Outcome) -> String {
    let c = &outcome.counts;
    let total_findings: usize = c.findings.values().sum();
    let mut text = format!(
        "sync run {} {}: {} node(s) ({} valid, {} new or changed), {} inventory item(s) ({} new \
         or changed), {} finding(s); {} node(s) missing (confidence {}) in {:.2?}",
        outcome.run_id,
        outcome.status.as_str(),
        c.node_rows,
        c.valid_nodes,
        c.node_rows_written,
        c.inventory_items,
        c.inventory_items_written,
        total_findings,
        outcome.missing.len(),
        outcome.confidence,
        outcome.elapsed
    );
    if !outcome.error_codes.is_empty() {
        text.push_str(&format!("; errors: {}", outcome.error_codes.join(", ")));
    }
    if outcome.retries > 0 {
        text.push_str(&format!(
            "; {} transaction(s) retried after conflicts or lost connections",
            outcome.retries
        ));
    }
    if outcome.reconnects > 0 {
        text.push_str(&format!("; reconnected {} time(s)", outcome.reconnects));
    }
    if !outcome.abandoned.is_empty() {
        text.push_str(&format!(
            "; closed {} abandoned run(s)",
            outcome.abandoned.len()
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn url_precedence_flag_file_env_credential() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("url");
        std::fs::write(&file, "postgresql://file@h/db\n").unwrap();
        let creds = dir.path().join("creds");
        std::fs::create_dir(&creds).unwrap();
        std::fs::write(creds.join(CREDENTIAL_NAME), "postgresql://cred@h/db").unwrap();
        let all = env(&[
            ("ENLIST_DATABASE_URL", "postgresql://env@h/db"),
            ("CREDENTIALS_DIRECTORY", creds.to_str().unwrap()),
        ]);
        let got = |flag, file: Option<&Path>, env: &Env| {
            resolve_url(flag, file, env).unwrap().expose().to_owned()
        };
        assert_eq!(
            got(Some("postgresql://flag@h/db"), Some(&file), &all),
            "postgresql://flag@h/db"
        );
        assert_eq!(got(None, Some(&file), &all), "postgresql://file@h/db");
        assert_eq!(got(None, None, &all), "postgresql://env@h/db");
        let creds_only = env(&[("CREDENTIALS_DIRECTORY", creds.to_str().unwrap())]);
        assert_eq!(got(None, None, &creds_only), "postgresql://cred@h/db");
        assert!(matches!(
            resolve_url(None, None, &env(&[])),
            Err(SyncError::NoDatabaseUrl)
        ));
        assert!(matches!(
            resolve_url(None, Some(&dir.path().join("nope")), &all),
            Err(SyncError::UrlFile { .. })
        ));
    }

    #[test]
    fn lease_timing_from_env() {
        let t = lease_timing(&env(&[("ENLIST_SYNC_LEASE_WAIT_SECS", "0")])).unwrap();
        assert_eq!(t.wait, Duration::ZERO);
        assert_eq!(t.ttl, lease::Timing::default().ttl);
        for bad in ["soon", "0", "3601"] {
            assert!(
                matches!(
                    lease_timing(&env(&[("ENLIST_SYNC_LEASE_TTL_SECS", bad)])),
                    Err(SyncError::InvalidSetting { .. })
                ),
                "{bad}"
            );
        }
        let t = lease_timing(&env(&[("ENLIST_SYNC_LEASE_TTL_SECS", "3600")])).unwrap();
        assert_eq!(t.ttl, lease::MAX_TTL);
        assert_eq!(lease::Timing::default().ttl, Duration::from_secs(30));
    }
}
