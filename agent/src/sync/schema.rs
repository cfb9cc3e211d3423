//! The registry schema and its versioned migrations.
//!
//! **Least privilege** (issue 16). A sync first reads `schema_migrations` — one `SELECT`, no DDL.
//! When the schema is current, that is all: the run needs only DML on enlist's tables
//! ([`super::privileges`]). When it is missing or older (a first sync, an upgraded enlist), the
//! sync creates or migrates it, which needs a role that may create in the schema; a role that may
//! not gets [`SyncError::SchemaNotCurrent`], naming the version and `enlist sync --migrate` (run
//! by the schema's owner: the README's two-role setup). `schema_migrations` records each applied
//! version; a binary refuses (exit 78) a database whose schema is newer than it understands, so
//! an old CI runner never writes rows a newer schema would misread.
//!
//! **One dialect for two databases.** Every statement here runs unchanged on PostgreSQL ≥ 15 and
//! CockroachDB (checked against CockroachDB's SQL reference; only PostgreSQL runs in CI):
//! - integer widths are spelled out (`INT4`, `INT8`): a bare `INT` is 32-bit on PostgreSQL but
//!   64-bit on CockroachDB;
//! - enumerations are `TEXT` + `CHECK`, not `CREATE TYPE … AS ENUM` (CockroachDB's enums cannot
//!   be changed inside a transaction and differ in `ALTER TYPE`);
//! - ids come from a `SEQUENCE` (`SERIAL` means `unique_rowid()` on CockroachDB, not 1, 2, 3);
//! - `gen_random_uuid()`, advisory locks, `LISTEN`, `DO` blocks and PL/pgSQL are not used: the
//!   lease is a row (see [`super::lease`]);
//! - each DDL statement runs on its own (implicit transaction): CockroachDB runs schema changes
//!   asynchronously and advises against mixing them with other statements in an explicit
//!   transaction. Every statement is idempotent (`IF NOT EXISTS`, `CREATE OR REPLACE VIEW`,
//!   `DROP … IF EXISTS`; an `ADD CONSTRAINT` follows the `DROP CONSTRAINT IF EXISTS` of its name),
//!   so a migration interrupted half-way is simply run again; the version row is written last;
//! - a constraint is changed by dropping it under every name the two databases give an unnamed
//!   column check (PostgreSQL `<table>_<column>_check`, CockroachDB `check_<column>`) and adding
//!   it back under an explicit name;
//! - `CREATE OR REPLACE VIEW` may only add columns at the end (both databases): later migrations
//!   that change a view's columns drop it first.
//!
//! Two first syncs (say, of two operators) may meet on an empty database: the bootstrap tables
//! are created idempotently (a lost `CREATE TABLE IF NOT EXISTS` race is retried), and the
//! versions are applied under the lease row `schema`, re-reading the version once it is held.

use tokio_postgres::Client;
use tokio_postgres::error::SqlState;

use super::connect::Target;
use super::session::Session;
use super::{SyncError, lease, privileges};

/// One schema version.
pub struct Migration {
    /// Version number (1, 2, …).
    pub version: i64,
    /// What it does.
    pub name: &'static str,
    /// Statements, each run on its own.
    pub statements: &'static [&'static str],
}

/// The newest schema this binary knows.
pub const LATEST: i64 = 3;

/// All migrations, in order.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "registry: nodes, inventory items, runs, findings, sightings, lease, missing views",
        statements: V1,
    },
    Migration {
        version: 2,
        name: "chunked runs: `abandoned` runs; missing = seen before the latest finished run",
        statements: V2,
    },
    Migration {
        version: 3,
        name: "current_nodes, current_inventory_items: what the latest finished run saw",
        statements: V3,
    },
];

/// Created before anything else, outside the versions: the version record, and the lease table
/// (migrations themselves run under a lease, so two first syncs do not race through the DDL —
/// PostgreSQL fails concurrent `CREATE OR REPLACE VIEW`s with "tuple concurrently updated").
const BOOTSTRAP: [&str; 2] = [
    "CREATE TABLE IF NOT EXISTS schema_migrations (
        version INT8 PRIMARY KEY,
        name TEXT NOT NULL,
        applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
    )",
    // The lease that keeps two syncs of one selection apart (CockroachDB has no advisory locks);
    // the key `schema` (never a selection hash: those are 64 hex digits) guards migrations.
    "CREATE TABLE IF NOT EXISTS sync_leases (
        selection_hash TEXT PRIMARY KEY,
        holder TEXT NOT NULL,
        acquired_at TIMESTAMPTZ NOT NULL,
        expires_at TIMESTAMPTZ NOT NULL
    )",
];

/// The lease key migrations run under.
const MIGRATION_LEASE: &str = "schema";

const V1: &[&str] = &[
    // Run ids: a plain sequence, so runs read 1, 2, 3 on both databases.
    "CREATE SEQUENCE IF NOT EXISTS sync_run_ids",
    // One row per `enlist sync`. `status`: running → completed | partial | failed. A run that
    // crashed stays `running`; only completed and partial runs define what is missing.
    "CREATE TABLE IF NOT EXISTS sync_runs (
        id INT8 PRIMARY KEY DEFAULT nextval('sync_run_ids'),
        selection_hash TEXT NOT NULL,
        selection JSONB NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('running', 'completed', 'partial', 'failed')),
        started_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        finished_at TIMESTAMPTZ,
        counts JSONB NOT NULL DEFAULT '{}',
        had_errors BOOL NOT NULL DEFAULT false,
        error_codes TEXT[] NOT NULL DEFAULT ARRAY[]::TEXT[],
        error TEXT,
        holder TEXT NOT NULL,
        agent_version TEXT NOT NULL
    )",
    "CREATE INDEX IF NOT EXISTS sync_runs_by_selection ON sync_runs (selection_hash, id)",
    // The latest completed (or partial) run of each selection: what "missing" is measured
    // against. Updated in the same transaction as the rows the run wrote.
    "CREATE TABLE IF NOT EXISTS selections (
        selection_hash TEXT PRIMARY KEY,
        selection JSONB NOT NULL,
        latest_run_id INT8 NOT NULL,
        updated_at TIMESTAMPTZ NOT NULL
    )",
    // One row per node.yaml file (valid or not), keyed by its path from the repository root.
    // `last_seen_*`: the latest run of *any* selection that saw it.
    "CREATE TABLE IF NOT EXISTS nodes (
        path TEXT PRIMARY KEY,
        node_id TEXT NOT NULL,
        operator TEXT,
        hostname TEXT,
        serial TEXT,
        vendor TEXT,
        model TEXT,
        cpu_model TEXT,
        cores INT4,
        threads INT4,
        memory_bytes INT8,
        storage_bytes INT8,
        facts_hash TEXT,
        facts JSONB,
        valid BOOL NOT NULL,
        inventory_key TEXT,
        -- SHA-256 of the columns above: a resync only touches last_seen_* of unchanged rows.
        row_hash TEXT NOT NULL,
        first_seen_at TIMESTAMPTZ NOT NULL,
        last_seen_at TIMESTAMPTZ NOT NULL,
        last_seen_run_id INT8 NOT NULL
    )",
    "CREATE INDEX IF NOT EXISTS nodes_by_node_id ON nodes (node_id)",
    "CREATE INDEX IF NOT EXISTS nodes_by_last_run ON nodes (last_seen_run_id)",
    // One row per inventory machine; `row` holds the known columns only (unknown CSV columns are
    // dropped by the parser, never stored).
    "CREATE TABLE IF NOT EXISTS inventory_items (
        item_key TEXT PRIMARY KEY,
        line INT8 NOT NULL,
        serial TEXT,
        macs TEXT[] NOT NULL,
        asset_tag TEXT,
        hostname TEXT,
        make TEXT,
        model TEXT,
        cores INT4,
        memory_gb FLOAT8,
        storage_gb FLOAT8,
        status TEXT NOT NULL CHECK (status IN ('active', 'spare', 'retired', 'broken')),
        location TEXT,
        cost FLOAT8,
        \"row\" JSONB NOT NULL,
        row_hash TEXT NOT NULL,
        first_seen_at TIMESTAMPTZ NOT NULL,
        last_seen_at TIMESTAMPTZ NOT NULL,
        last_seen_run_id INT8 NOT NULL
    )",
    "CREATE INDEX IF NOT EXISTS inventory_items_by_last_run ON inventory_items (last_seen_run_id)",
    // Which selection saw which row last: selections never affect each other's "missing".
    "CREATE TABLE IF NOT EXISTS node_sightings (
        selection_hash TEXT NOT NULL,
        path TEXT NOT NULL,
        last_seen_run_id INT8 NOT NULL,
        last_seen_at TIMESTAMPTZ NOT NULL,
        PRIMARY KEY (selection_hash, path)
    )",
    "CREATE TABLE IF NOT EXISTS inventory_sightings (
        selection_hash TEXT NOT NULL,
        item_key TEXT NOT NULL,
        last_seen_run_id INT8 NOT NULL,
        last_seen_at TIMESTAMPTZ NOT NULL,
        PRIMARY KEY (selection_hash, item_key)
    )",
    // Reconcile's findings per run; `detail` is the entry exactly as `enlist reconcile --format
    // json` prints it, `ordinal` its position in that list.
    "CREATE TABLE IF NOT EXISTS findings (
        run_id INT8 NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('missing_registration', 'phantom_node', 'mismatch',
            'duplicate', 'invalid', 'recommendation')),
        ordinal INT4 NOT NULL,
        key TEXT NOT NULL,
        detail JSONB NOT NULL,
        PRIMARY KEY (run_id, kind, ordinal)
    )",
    // Missing is derived, never stored (issue 7).
    "CREATE OR REPLACE VIEW latest_runs AS
    SELECT s.selection_hash, s.selection, r.id AS run_id, r.status, r.had_errors, r.error_codes,
        r.started_at, r.finished_at, r.counts,
        CASE WHEN r.status = 'partial' OR r.had_errors THEN 'low' ELSE 'high' END AS confidence
    FROM selections AS s
    JOIN sync_runs AS r ON r.id = s.latest_run_id",
    "CREATE OR REPLACE VIEW missing_nodes AS
    SELECT l.selection_hash, n.path, n.node_id, n.operator, n.hostname, n.serial, n.vendor,
        n.model, ns.last_seen_at, ns.last_seen_run_id, l.run_id AS checked_run_id, l.confidence
    FROM node_sightings AS ns
    JOIN latest_runs AS l ON l.selection_hash = ns.selection_hash
    JOIN nodes AS n ON n.path = ns.path
    WHERE ns.last_seen_run_id <> l.run_id",
    "CREATE OR REPLACE VIEW missing_inventory_items AS
    SELECT l.selection_hash, i.item_key, i.serial, i.asset_tag, i.hostname, i.make, i.model,
        i.status, s.last_seen_at, s.last_seen_run_id, l.run_id AS checked_run_id, l.confidence
    FROM inventory_sightings AS s
    JOIN latest_runs AS l ON l.selection_hash = s.selection_hash
    JOIN inventory_items AS i ON i.item_key = s.item_key
    WHERE s.last_seen_run_id <> l.run_id",
    "CREATE OR REPLACE VIEW latest_findings AS
    SELECT l.selection_hash, f.run_id, f.kind, f.ordinal, f.key, f.detail
    FROM findings AS f
    JOIN latest_runs AS l ON l.run_id = f.run_id",
];

/// Version 2 (issue 16): runs are written in chunks, so a run in progress has already recorded
/// sightings under its own (higher) id: "missing" compares with `<`, not `<>`, and only rows last
/// seen *before* the selection's latest finished run are missing. A run left `running` by a crash
/// is closed as `abandoned` once its lease expired.
const V2: &[&str] = &[
    // Sightings are written per chunk now, not derived from these: and without them a touch of
    // an unchanged row updates no index on `last_seen_run_id` (an unchanged resync is the most
    // common sync).
    "DROP INDEX IF EXISTS nodes_by_last_run",
    "DROP INDEX IF EXISTS inventory_items_by_last_run",
    "ALTER TABLE sync_runs DROP CONSTRAINT IF EXISTS sync_runs_status_check",
    "ALTER TABLE sync_runs DROP CONSTRAINT IF EXISTS check_status",
    "ALTER TABLE sync_runs DROP CONSTRAINT IF EXISTS sync_runs_status_known",
    "ALTER TABLE sync_runs ADD CONSTRAINT sync_runs_status_known CHECK (status IN ('running', \
     'completed', 'partial', 'failed', 'abandoned'))",
    "CREATE OR REPLACE VIEW missing_nodes AS
    SELECT l.selection_hash, n.path, n.node_id, n.operator, n.hostname, n.serial, n.vendor,
        n.model, ns.last_seen_at, ns.last_seen_run_id, l.run_id AS checked_run_id, l.confidence
    FROM node_sightings AS ns
    JOIN latest_runs AS l ON l.selection_hash = ns.selection_hash
    JOIN nodes AS n ON n.path = ns.path
    WHERE ns.last_seen_run_id < l.run_id",
    "CREATE OR REPLACE VIEW missing_inventory_items AS
    SELECT l.selection_hash, i.item_key, i.serial, i.asset_tag, i.hostname, i.make, i.model,
        i.status, s.last_seen_at, s.last_seen_run_id, l.run_id AS checked_run_id, l.confidence
    FROM inventory_sightings AS s
    JOIN latest_runs AS l ON l.selection_hash = s.selection_hash
    JOIN inventory_items AS i ON i.item_key = s.item_key
    WHERE s.last_seen_run_id < l.run_id",
];

/// Version 3 (issue 29): `current_nodes` and `current_inventory_items`, per selection the rows
/// its latest finished (completed or partial) run saw — removed registrations drop out.
///
/// A run in progress has already moved the sightings it renewed to its own id, so "seen by the
/// latest finished run L" cannot be read from `last_seen_run_id` alone. Each sighting keeps
/// `completed_run_id`: when a later run renews a sighting whose `last_seen_run_id` is L, it
/// records L there ([`super::upsert`]). So L saw a row when its sighting's `last_seen_run_id` is
/// L (nothing renewed it since) or its `completed_run_id` is L (a later run, in progress or
/// failed, did). A sighting a later run adds or brings back keeps an older (or no)
/// `completed_run_id`, so it appears only once that run finishes.
const V3: &[&str] = &[
    "ALTER TABLE node_sightings ADD COLUMN IF NOT EXISTS completed_run_id INT8",
    "ALTER TABLE inventory_sightings ADD COLUMN IF NOT EXISTS completed_run_id INT8",
    "CREATE OR REPLACE VIEW current_nodes AS
    SELECT l.selection_hash, n.path, n.node_id, n.operator, n.hostname, n.serial, n.vendor,
        n.model, n.cpu_model, n.cores, n.threads, n.memory_bytes, n.storage_bytes, n.facts_hash,
        n.facts, n.valid, n.inventory_key, n.first_seen_at, ns.last_seen_at,
        l.run_id AS checked_run_id, l.confidence
    FROM node_sightings AS ns
    JOIN latest_runs AS l ON l.selection_hash = ns.selection_hash
    JOIN nodes AS n ON n.path = ns.path
    WHERE ns.last_seen_run_id = l.run_id OR ns.completed_run_id = l.run_id",
    "CREATE OR REPLACE VIEW current_inventory_items AS
    SELECT l.selection_hash, i.item_key, i.line, i.serial, i.macs, i.asset_tag, i.hostname,
        i.make, i.model, i.cores, i.memory_gb, i.storage_gb, i.status, i.location, i.cost,
        i.first_seen_at, s.last_seen_at, l.run_id AS checked_run_id, l.confidence
    FROM inventory_sightings AS s
    JOIN latest_runs AS l ON l.selection_hash = s.selection_hash
    JOIN inventory_items AS i ON i.item_key = s.item_key
    WHERE s.last_seen_run_id = l.run_id OR s.completed_run_id = l.run_id",
];

/// SQLSTATEs two migrators racing on an empty database can hit (both create the same table or
/// insert the same version): the loser retries and finds the work done.
fn is_race(error: &tokio_postgres::Error) -> bool {
    error.code().is_some_and(|code| {
        [
            SqlState::UNIQUE_VIOLATION,
            SqlState::DUPLICATE_TABLE,
            SqlState::DUPLICATE_OBJECT,
            SqlState::T_R_SERIALIZATION_FAILURE,
        ]
        .contains(code)
    })
}

/// Makes sure the schema is at [`LATEST`]: one `SELECT` when it is (no DDL, so a DML-only role
/// syncs); else creates or migrates it, which needs a role that may create. Returns the version
/// found before.
pub async fn ensure(
    session: &mut Session,
    holder: &str,
    timing: lease::Timing,
) -> Result<i64, SyncError> {
    let target = session.target().clone();
    let found = session
        .transaction("reading the schema version", async |tx| {
            match tx
                .query_one(
                    "SELECT COALESCE(max(version), 0)::INT8 FROM schema_migrations",
                    &[],
                )
                .await
            {
                Ok(row) => Ok(row.get::<_, i64>(0)),
                // No schema yet (the table is missing).
                Err(e) if e.code() == Some(&SqlState::UNDEFINED_TABLE) => Ok(0),
                Err(e) => Err(target.classify(&e, "reading the schema version")),
            }
        })
        .await;
    let found = match found {
        Ok(found) => found,
        Err(e @ SyncError::Permission { .. }) => {
            return Err(privileges::diagnose(session.client(), &target)
                .await
                .unwrap_or(e));
        }
        Err(e) => return Err(e),
    };
    if found > LATEST {
        return Err(SyncError::SchemaTooNew {
            found,
            supported: LATEST,
        });
    }
    if found == LATEST {
        return Ok(found);
    }
    match migrate(session, holder, timing).await {
        Ok(()) => {
            log::info!("database schema: now at version {LATEST} (was {found})");
            Ok(found)
        }
        Err(SyncError::Permission { message, .. }) => Err(SyncError::SchemaNotCurrent {
            shown: session.target().shown().to_owned(),
            found,
            latest: LATEST,
            user: session.target().user().unwrap_or("this user").to_owned(),
            message,
        }),
        Err(e) => Err(e),
    }
}

/// Creates or upgrades the schema to [`LATEST`] under the migration lease, renewed by a
/// heartbeat while the statements run.
async fn migrate(
    session: &mut Session,
    holder: &str,
    timing: lease::Timing,
) -> Result<(), SyncError> {
    let target = session.target().clone();
    retry_races(|| bootstrap(session.client(), &target)).await?;
    let lease = lease::acquire(
        session,
        MIGRATION_LEASE,
        holder,
        timing,
        lease::Scope::Schema,
    )
    .await?;
    let heartbeat = lease::Heartbeat::start(&target, &lease);
    // Another sync may have migrated while this one waited: apply_missing re-reads the version.
    let result = retry_races(|| apply_missing(session.client(), &target)).await;
    heartbeat.stop();
    lease::release(session, &lease).await;
    result.map(|_| ())
}

/// Retries `step` when it lost a race with another first sync (see [`is_race`]).
async fn retry_races<F, Fut>(mut step: F) -> Result<i64, SyncError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<i64, Failed>>,
{
    let mut attempt = 0;
    loop {
        match step().await {
            Err(Failed::Race(e)) if attempt < 3 => {
                attempt += 1;
                log::debug!("schema setup raced another sync ({e}); retrying");
            }
            Err(Failed::Race(e)) => return Err(target_free_classify(&e)),
            Err(Failed::Sync(e)) => return Err(e),
            Ok(version) => return Ok(version),
        }
    }
}

/// A race lost four times in a row: report it as a conflict (retry later).
fn target_free_classify(error: &tokio_postgres::Error) -> SyncError {
    SyncError::Conflict {
        during: "creating the schema",
        message: error.code().map_or_else(
            || "concurrent schema change".to_owned(),
            |c| format!("SQLSTATE {}", c.code()),
        ),
    }
}

enum Failed {
    Race(tokio_postgres::Error),
    Sync(SyncError),
}

fn failed(target: &Target) -> impl Fn(tokio_postgres::Error) -> Failed + '_ {
    move |e| {
        if is_race(&e) {
            Failed::Race(e)
        } else {
            Failed::Sync(target.classify(&e, "migrating the schema"))
        }
    }
}

/// Creates the bootstrap tables; returns the schema version (refusing one that is too new).
async fn bootstrap(client: &Client, target: &Target) -> Result<i64, Failed> {
    for statement in BOOTSTRAP {
        client
            .batch_execute(statement)
            .await
            .map_err(failed(target))?;
    }
    version(client, target).await
}

async fn version(client: &Client, target: &Target) -> Result<i64, Failed> {
    let found: i64 = client
        .query_one(
            "SELECT COALESCE(max(version), 0)::INT8 FROM schema_migrations",
            &[],
        )
        .await
        .map_err(failed(target))?
        .get(0);
    if found > LATEST {
        return Err(Failed::Sync(SyncError::SchemaTooNew {
            found,
            supported: LATEST,
        }));
    }
    Ok(found)
}

async fn apply_missing(client: &Client, target: &Target) -> Result<i64, Failed> {
    let found = version(client, target).await?;
    for migration in MIGRATIONS.iter().filter(|m| m.version > found) {
        log::info!(
            "database schema: applying version {} ({})",
            migration.version,
            migration.name
        );
        for statement in migration.statements {
            client
                .batch_execute(statement)
                .await
                .map_err(failed(target))?;
        }
        client
            .execute(
                "INSERT INTO schema_migrations (version, name) VALUES ($1::INT8, $2::TEXT) \
                 ON CONFLICT (version) DO NOTHING",
                &[&migration.version, &migration.name],
            )
            .await
            .map_err(failed(target))?;
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_numbered_from_one_without_gaps_and_end_at_latest() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version, i as i64 + 1);
        }
        assert_eq!(MIGRATIONS.last().map(|m| m.version), Some(LATEST));
    }

    #[test]
    fn statements_avoid_what_cockroachdb_lacks_or_reads_differently() {
        let banned = [
            "pg_advisory",
            "LISTEN",
            "NOTIFY",
            "DO $$",
            "plpgsql",
            "AS ENUM",
            "SERIAL PRIMARY",
            "SERIAL NOT",
            "BIGSERIAL",
            " INT ",
            " INT,",
            "INTEGER",
            "gen_random_uuid",
        ];
        let bootstrap = Migration {
            version: 0,
            name: "bootstrap",
            statements: &BOOTSTRAP,
        };
        for m in MIGRATIONS.iter().chain([&bootstrap]) {
            for statement in m.statements {
                let upper = statement.to_uppercase();
                for word in banned {
                    assert!(
                        !upper.contains(&word.to_uppercase()),
                        "{word:?} in migration {}: {statement}",
                        m.version
                    );
                }
                let idempotent = upper.contains("IF NOT EXISTS")
                    || upper.contains("OR REPLACE")
                    || upper.contains("IF EXISTS");
                // An added constraint is dropped by name first, earlier in the same migration.
                let re_added = upper.split("ADD CONSTRAINT ").nth(1).is_some_and(|rest| {
                    let name = rest.split_whitespace().next().unwrap_or_default();
                    m.statements.iter().any(|s| {
                        s.to_uppercase()
                            .contains(&format!("DROP CONSTRAINT IF EXISTS {name}"))
                    })
                });
                assert!(idempotent || re_added, "not idempotent: {statement}");
            }
        }
    }
}
