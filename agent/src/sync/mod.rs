//! `enlist sync`: the registry as a database. Git stays the source of truth; PostgreSQL or
//! CockroachDB holds a materialised view of a checkout that can be dropped and rebuilt from it at
//! any time, for dashboards and capacity queries (and, on CockroachDB, for more than one machine).
//!
//! | step | module |
//! |---|---|
//! | read the checkout with reconcile's scanner and CSV parser; rows, selection | [`snapshot`] |
//! | reconcile's findings as rows, run counts | [`findings`] |
//! | URL, TLS (rustls + ring), what a failure means | [`connect`] |
//! | versioned, idempotent migrations | [`schema`] |
//! | one sync per selection at a time | [`lease`] |
//! | batched upserts | [`upsert`] |
//!
//! A run: read and reconcile the checkout (usage errors fail here, before any connection) →
//! connect → migrate → take the selection's lease → insert a `running` run → **one transaction**
//! that re-checks the lease, upserts nodes and inventory items (`last_seen_*` = this run), records
//! the selection's sightings, inserts the findings, marks the run `completed` or `partial` and
//! makes it the selection's latest → release the lease. Readers see the old or the new state,
//! never half a run; a crash leaves a `running` run and an expiring lease, nothing else.
//!
//! Semantics (issue 7):
//! - **Idempotent**: syncing the same tree again changes nothing but `last_seen_*` (and adds a
//!   run with its findings).
//! - **Missing** is derived, never stored: the rows a selection saw before that its latest
//!   completed run did not see (views `missing_nodes`, `missing_inventory_items`), with
//!   `confidence = low` when that run was `partial` (part of the tree unreadable) or had errors
//!   (invalid files or rows). Runs of other selections never change it.
//! - **Selection** = operators + scanned paths + inventory file; see [`snapshot::Selection`].
//! - **`--rebuild`** forgets the selection's runs, findings and sightings, and the rows no other
//!   selection saw, then writes every row in full as if for the first time (one transaction:
//!   readers never see it empty). An ordinary run rewrites only rows whose content changed.
//! - **Secrets**: the URL is a [`DatabaseUrl`]; nothing stored or printed contains its password.

pub mod connect;
pub mod findings;
pub mod lease;
pub mod schema;
pub mod snapshot;
pub mod upsert;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tokio_postgres::Client;

use crate::config::Env;
use crate::reconcile::ReconcileError;
use crate::secret::DatabaseUrl;

use connect::Target;
use findings::Counts;
use snapshot::Checkout;

/// The systemd credential name the URL is read from (`LoadCredential=database-url:…`).
pub const CREDENTIAL_NAME: &str = "database-url";

/// Attempts of the data transaction when the database asks for a retry (CockroachDB's
/// serializable conflicts, SQLSTATE 40001; PostgreSQL deadlocks, 40P01).
const TRANSACTION_ATTEMPTS: u32 = 4;

/// What to sync.
#[derive(Clone, Debug)]
pub struct Options {
    /// Root of the GitOps checkout.
    pub nodes: PathBuf,
    /// The inventory CSV.
    pub inventory: PathBuf,
    /// Where to.
    pub database_url: DatabaseUrl,
    /// Only these operators' files (all when empty).
    pub operators: Vec<String>,
    /// Forget this selection's history first.
    pub rebuild: bool,
    /// Lease lifetime and wait.
    pub lease: lease::Timing,
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
    /// The run failed; nothing of it was written.
    Failed,
}

impl RunStatus {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Completed => "completed",
            RunStatus::Partial => "partial",
            RunStatus::Failed => "failed",
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
    /// Wall time of the whole run.
    pub elapsed: Duration,
    /// Where the time went: `(phase, duration)` in order (read, connect, migrate, lease, the
    /// transaction's steps, missing).
    pub phases: Vec<(&'static str, Duration)>,
}

/// Records how long each phase took.
#[derive(Default)]
struct Phases {
    done: Vec<(&'static str, Duration)>,
    since: Option<Instant>,
}

impl Phases {
    /// Ends the current phase under `name` and starts the next.
    fn mark(&mut self, name: &'static str) {
        let now = Instant::now();
        if let Some(since) = self.since {
            self.done.push((name, now - since));
        }
        self.since = Some(now);
    }
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
    #[error("{name}={value:?} is not a whole number of seconds")]
    InvalidSetting {
        /// Variable.
        name: &'static str,
        /// Value.
        value: String,
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
    /// Logged in, but not allowed to do what sync does.
    #[error(
        "the database user at {shown} lacks a privilege: {message}; grant it CREATE on the \
         database (the first sync creates the tables) and SELECT, INSERT, UPDATE, DELETE on \
         enlist's tables"
    )]
    Permission {
        /// The database.
        shown: String,
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
    /// The lease expired during the run and was taken over.
    #[error(
        "lost the sync lease of this selection during the run (it lasts {ttl_secs}s and was \
         taken over); nothing was written: retry, and raise ENLIST_SYNC_LEASE_TTL_SECS if syncs \
         take that long"
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
            SyncError::Unreachable { .. } => "unreachable",
            SyncError::Auth { .. } | SyncError::Permission { .. } => "auth",
            SyncError::NoSuchDatabase { .. } => "no_database",
            SyncError::SchemaTooNew { .. } => "schema_too_new",
            SyncError::LeaseHeld { .. } => "lease_held",
            SyncError::LeaseLost { .. } => "lease_lost",
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

/// Lease timing: defaults, or `ENLIST_SYNC_LEASE_TTL_SECS` / `ENLIST_SYNC_LEASE_WAIT_SECS`.
pub fn lease_timing(env: &Env) -> Result<lease::Timing, SyncError> {
    let mut timing = lease::Timing::default();
    for (name, slot) in [
        ("ENLIST_SYNC_LEASE_TTL_SECS", &mut timing.ttl),
        ("ENLIST_SYNC_LEASE_WAIT_SECS", &mut timing.wait),
    ] {
        if let Some(value) = env.get(name) {
            let secs: u64 = value
                .trim()
                .parse()
                .map_err(|_| SyncError::InvalidSetting {
                    name,
                    value: value.clone(),
                })?;
            *slot = Duration::from_secs(secs);
        }
    }
    Ok(timing)
}

/// Everything the run writes, prepared before the transaction.
struct Prepared {
    checkout: Checkout,
    nodes: Vec<snapshot::NodeRow>,
    items: Vec<snapshot::ItemRow>,
    findings: Vec<findings::FindingRow>,
    counts: Counts,
    status: RunStatus,
    had_errors: bool,
    error_codes: Vec<String>,
}

fn prepare(checkout: Checkout) -> Prepared {
    let report = checkout.report();
    let nodes = checkout.node_rows();
    let items = checkout.item_rows();
    let valid = nodes.iter().filter(|n| n.valid).count();
    let counts = Counts::new(&report, nodes.len(), valid, items.len());
    let mut error_codes: Vec<String> = report
        .invalid
        .iter()
        .filter_map(|i| serde_json::to_value(i.kind).ok())
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect();
    error_codes.sort();
    error_codes.dedup();
    Prepared {
        status: if checkout.partial() {
            RunStatus::Partial
        } else {
            RunStatus::Completed
        },
        had_errors: !report.invalid.is_empty(),
        error_codes,
        findings: findings::rows(&report),
        counts,
        nodes,
        items,
        checkout,
    }
}

/// Runs one sync (see the module docs).
pub async fn sync(options: &Options) -> Result<Outcome, SyncError> {
    let started = Instant::now();
    let mut phases = Phases::default();
    phases.mark("start");
    let target = Target::parse(&options.database_url)?;
    let checkout = Checkout::read(
        &options.nodes,
        Some(options.inventory.as_path()),
        &options.operators,
    )?;
    let prepared = prepare(checkout);
    phases.mark("read and reconcile");
    let selection = &prepared.checkout.selection;
    let selection_hash = selection.hash();
    log::info!(
        "read {} node.yaml file(s) and {} inventory item(s) in {:.2?}; connecting to {}",
        prepared.nodes.len(),
        prepared.items.len(),
        started.elapsed(),
        target.shown()
    );
    let mut client = target.connect().await?;
    phases.mark("connect");
    let holder = lease::holder();
    schema::migrate(&client, &target, &holder).await?;
    phases.mark("migrate");
    let lease = lease::acquire(&client, &target, &selection_hash, &holder, options.lease).await?;
    phases.mark("lease");
    let result = run(
        &mut client,
        &target,
        &lease,
        &prepared,
        &selection_hash,
        options.rebuild,
        &mut phases,
    )
    .await;
    lease::release(&client, &lease).await;
    let Ran {
        run_id,
        counts,
        missing,
        confidence,
    } = result?;
    Ok(Outcome {
        run_id,
        status: prepared.status,
        counts,
        error_codes: prepared.error_codes,
        missing,
        confidence,
        elapsed: started.elapsed(),
        phases: phases.done,
    })
}

/// What [`run`] returns.
struct Ran {
    run_id: i64,
    counts: Counts,
    missing: Vec<MissingNode>,
    confidence: &'static str,
}

/// The part under the lease: the run row, the transaction, and reading back what is missing.
async fn run(
    client: &mut Client,
    target: &Target,
    lease: &lease::Lease,
    prepared: &Prepared,
    selection_hash: &str,
    rebuild: bool,
    phases: &mut Phases,
) -> Result<Ran, SyncError> {
    let selection_json = prepared.checkout.selection.to_json().to_string();
    let run_id: i64 = client
        .query_one(
            "INSERT INTO sync_runs (selection_hash, selection, status, holder, agent_version) \
             VALUES ($1::TEXT, $2::TEXT::JSONB, $3::TEXT, $4::TEXT, $5::TEXT) RETURNING id",
            &[
                &selection_hash,
                &selection_json,
                &RunStatus::Running.as_str(),
                &lease.holder,
                &env!("CARGO_PKG_VERSION"),
            ],
        )
        .await
        .map_err(|e| target.classify(&e, "starting the run"))?
        .get(0);
    log::info!(
        "sync run {run_id} started (selection {})",
        &selection_hash[..12]
    );
    let mut attempt = 1;
    let written = loop {
        let this = ThisRun {
            target,
            lease,
            prepared,
            run_id,
            selection_json: &selection_json,
            rebuild,
        };
        let step = write(client, &this, phases);
        match step.await {
            Err(SyncError::Conflict { message, .. }) if attempt < TRANSACTION_ATTEMPTS => {
                log::info!(
                    "the database asked to retry the transaction ({message}); attempt {}",
                    attempt + 1
                );
                tokio::time::sleep(Duration::from_millis(100 * u64::from(attempt))).await;
                attempt += 1;
            }
            other => break other,
        }
    };
    let counts = match written {
        Ok(counts) => counts,
        Err(error) => {
            mark_failed(client, target, run_id, &error).await;
            return Err(error);
        }
    };
    phases.mark("commit");
    let rows = client
        .query(
            "SELECT path, node_id, hostname, last_seen_at::TEXT, last_seen_run_id, confidence \
             FROM missing_nodes WHERE selection_hash = $1::TEXT ORDER BY path",
            &[&selection_hash],
        )
        .await
        .map_err(|e| target.classify(&e, "reading missing nodes"))?;
    let missing = rows
        .iter()
        .map(|r| MissingNode {
            path: r.get(0),
            node_id: r.get(1),
            hostname: r.get(2),
            last_seen_at: r.get(3),
            last_seen_run_id: r.get(4),
        })
        .collect();
    phases.mark("missing");
    let confidence = if prepared.status == RunStatus::Partial || prepared.had_errors {
        "low"
    } else {
        "high"
    };
    Ok(Ran {
        run_id,
        counts,
        missing,
        confidence,
    })
}

/// What the run's transaction writes, and under which lease.
struct ThisRun<'a> {
    target: &'a Target,
    lease: &'a lease::Lease,
    prepared: &'a Prepared,
    run_id: i64,
    selection_json: &'a str,
    rebuild: bool,
}

/// The run's transaction: everything or nothing.
async fn write(
    client: &mut Client,
    this: &ThisRun<'_>,
    phases: &mut Phases,
) -> Result<Counts, SyncError> {
    let ThisRun {
        target,
        lease,
        prepared,
        run_id,
        selection_json,
        rebuild,
    } = *this;
    phases.mark("start the run");
    let tx = client
        .transaction()
        .await
        .map_err(|e| target.classify(&e, "starting the transaction"))?;
    lease::fence(&tx, target, lease).await?;
    let selection_hash = lease.selection_hash.as_str();
    if rebuild {
        upsert::forget_selection(&tx, target, run_id, selection_hash).await?;
        phases.mark("forget (--rebuild)");
    }
    let mut counts = prepared.counts.clone();
    counts.node_rows_written = upsert::nodes(&tx, target, run_id, &prepared.nodes, rebuild).await?;
    phases.mark("nodes");
    counts.inventory_items_written =
        upsert::items(&tx, target, run_id, &prepared.items, rebuild).await?;
    phases.mark("inventory items");
    upsert::sightings(&tx, target, run_id, selection_hash).await?;
    phases.mark("sightings");
    upsert::findings(&tx, target, run_id, &prepared.findings).await?;
    upsert::prune_findings(&tx, target, selection_hash).await?;
    phases.mark("findings");
    let counts_json = serde_json::to_string(&counts).unwrap_or_else(|_| "{}".into());
    tx.execute(
        "UPDATE sync_runs SET status = $2::TEXT, finished_at = clock_timestamp(), \
         counts = $3::TEXT::JSONB, had_errors = $4::BOOL, error_codes = $5::TEXT[] \
         WHERE id = $1::INT8",
        &[
            &run_id,
            &prepared.status.as_str(),
            &counts_json,
            &prepared.had_errors,
            &prepared.error_codes,
        ],
    )
    .await
    .map_err(|e| target.classify(&e, "finishing the run"))?;
    tx.execute(
        "INSERT INTO selections (selection_hash, selection, latest_run_id, updated_at) \
         VALUES ($1::TEXT, $2::TEXT::JSONB, $3::INT8, now()) \
         ON CONFLICT (selection_hash) DO UPDATE SET selection = excluded.selection, \
         latest_run_id = excluded.latest_run_id, updated_at = excluded.updated_at",
        &[&selection_hash, &selection_json, &run_id],
    )
    .await
    .map_err(|e| target.classify(&e, "recording the selection's latest run"))?;
    tx.commit()
        .await
        .map_err(|e| target.classify(&e, "committing the run"))?;
    Ok(counts)
}

/// Records a failed run (best effort: the connection may be what failed). The stored error is
/// the message without any secret: it was built from scrubbed texts and the shown URL only.
async fn mark_failed(client: &Client, target: &Target, run_id: i64, error: &SyncError) {
    let message = target.scrub(&error.to_string());
    let codes = vec![error.kind().to_owned()];
    if let Err(e) = client
        .execute(
            "UPDATE sync_runs SET status = $2::TEXT, finished_at = clock_timestamp(), \
             error = $3::TEXT, error_codes = $4::TEXT[], had_errors = true WHERE id = $1::INT8",
            &[&run_id, &RunStatus::Failed.as_str(), &message, &codes],
        )
        .await
    {
        log::debug!(
            "could not mark run {run_id} failed: {}",
            target.scrub(&e.to_string())
        );
    }
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
        assert!(lease_timing(&env(&[("ENLIST_SYNC_LEASE_TTL_SECS", "soon")])).is_err());
    }
}
