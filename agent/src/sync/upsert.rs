//! Writing one run's rows, one chunk per transaction: multi-row `INSERT … ON CONFLICT … DO
//! UPDATE` in statements of at most [`BATCH_ROWS`] rows.
//!
//! **Chunks** (issue 16). A run writes at most [`super::Options::chunk_rows`] nodes (or
//! inventory items, or findings) per transaction, never one transaction for the whole tree: on
//! CockroachDB a transaction of 100,000 rows ends in "transaction deadline exceeded", and under
//! SERIALIZABLE a long transaction is the one that keeps losing conflicts. Each chunk re-checks
//! the lease ([`super::lease::check`]; the heartbeat renews it), writes its rows and the
//! selection's sightings of them, and is safe to run again ([`super::session`]): upserts by key,
//! findings `ON CONFLICT DO NOTHING`. What readers trust only changes when the run completes, in a last small
//! transaction (the selection's `latest_run_id`): sightings a run in progress wrote carry its own,
//! newer id, which the `missing_*` views do not count until then.
//!
//! Why not `COPY` into a temporary table and upsert from it: CockroachDB's temporary tables are
//! experimental (off unless `experimental_enable_temp_tables` is set), and a permanent staging
//! table would need its own cleanup and locking. Multi-row upserts are plain SQL on both
//! databases, and at [`BATCH_ROWS`] rows per statement 10,000 nodes are 20 round trips (the
//! benchmark in `tests/benches/sync.rs` measures it).
//!
//! Every placeholder carries an explicit cast: CockroachDB types placeholders by a different
//! algorithm than PostgreSQL, and a cast makes both agree. JSONB goes over the wire as text
//! (`$n::TEXT::JSONB`), which avoids depending on each server's binary JSONB encoding.
//! `now()` is the transaction's timestamp on both: the rows of one chunk share a `last_seen_at`.
//!
//! **Unchanged rows are not sent again.** Each node and item row carries `row_hash`, the SHA-256
//! of its content; each chunk first sets `last_seen_*` of its stored rows and reads their hashes
//! (`touch`: one statement for the chunk's own keys, never the whole table), then upserts the
//! rows that were missing or had another hash: new and changed ones. A resync of an unchanged 10,000-node tree
//! then moves a few hundred kilobytes instead of ~20 MB of facts JSON (which matters most for a
//! CockroachDB cluster across a WAN).

use std::collections::HashMap;

use tokio_postgres::Transaction;
use tokio_postgres::types::ToSql;

use super::SyncError;
use super::connect::Target;
use super::findings::FindingRow;
use super::lease::{self, Lease};
use super::session::Session;
use super::snapshot::{ItemRow, NodeRow, facts_json};
use crate::document::NodeDocument;

/// Rows per statement. With 17 parameters a node row, 500 rows are 8,500 parameters (the wire
/// protocol allows 65,535) and a few hundred kilobytes of SQL values: large enough that round
/// trips do not dominate, small enough for CockroachDB's advice of batches in the hundreds.
pub const BATCH_ROWS: usize = 500;

type Param<'a> = &'a (dyn ToSql + Sync);

/// A column: its name and the SQL type its placeholder is cast to.
struct Column {
    name: &'static str,
    cast: &'static str,
}

const fn col(name: &'static str, cast: &'static str) -> Column {
    Column { name, cast }
}

const NODE_COLUMNS: &[Column] = &[
    col("path", "TEXT"),
    col("node_id", "TEXT"),
    col("operator", "TEXT"),
    col("hostname", "TEXT"),
    col("serial", "TEXT"),
    col("vendor", "TEXT"),
    col("model", "TEXT"),
    col("cpu_model", "TEXT"),
    col("cores", "INT4"),
    col("threads", "INT4"),
    col("memory_bytes", "INT8"),
    col("storage_bytes", "INT8"),
    col("facts_hash", "TEXT"),
    col("facts", "TEXT::JSONB"),
    col("valid", "BOOL"),
    col("inventory_key", "TEXT"),
    col("row_hash", "TEXT"),
];

const ITEM_COLUMNS: &[Column] = &[
    col("item_key", "TEXT"),
    col("line", "INT8"),
    col("serial", "TEXT"),
    col("macs", "TEXT[]"),
    col("asset_tag", "TEXT"),
    col("hostname", "TEXT"),
    col("make", "TEXT"),
    col("model", "TEXT"),
    col("cores", "INT4"),
    col("memory_gb", "FLOAT8"),
    col("storage_gb", "FLOAT8"),
    col("status", "TEXT"),
    col("location", "TEXT"),
    col("cost", "FLOAT8"),
    col("\"row\"", "TEXT::JSONB"),
    col("row_hash", "TEXT"),
];

const FINDING_COLUMNS: &[Column] = &[
    col("kind", "TEXT"),
    col("ordinal", "INT4"),
    col("key", "TEXT"),
    col("detail", "TEXT::JSONB"),
];

/// What a statement does with a conflicting row.
enum Mode {
    /// Upsert on `key`, keeping `first_seen_at`, setting `last_seen_*` to this run.
    Seen { key: &'static str },
    /// Insert with the run id as the first column; a row already there (an earlier attempt of
    /// the same chunk that did commit) is kept.
    RunRows { key: &'static str },
}

/// `INSERT INTO table (…) VALUES (…), … [ON CONFLICT …]` for `rows` rows; `$1` is the run id.
fn statement(table: &str, columns: &[Column], rows: usize, mode: &Mode) -> String {
    let mut names: Vec<&str> = Vec::new();
    if let Mode::RunRows { .. } = mode {
        names.push("run_id");
    }
    names.extend(columns.iter().map(|c| c.name));
    if let Mode::Seen { .. } = mode {
        names.extend(["first_seen_at", "last_seen_at", "last_seen_run_id"]);
    }
    let mut sql = format!("INSERT INTO {table} ({}) VALUES ", names.join(", "));
    let mut n = 2;
    for row in 0..rows {
        if row > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        if let Mode::RunRows { .. } = mode {
            sql.push_str("$1::INT8, ");
        }
        let values: Vec<String> = columns
            .iter()
            .map(|c| {
                let v = format!("${n}::{}", c.cast);
                n += 1;
                v
            })
            .collect();
        sql.push_str(&values.join(", "));
        if let Mode::Seen { .. } = mode {
            sql.push_str(", now(), now(), $1::INT8");
        }
        sql.push(')');
    }
    if let Mode::RunRows { key } = mode {
        sql.push_str(&format!(" ON CONFLICT ({key}) DO NOTHING"));
    }
    if let Mode::Seen { key } = mode {
        let updates: Vec<String> = columns
            .iter()
            .filter(|c| c.name != *key)
            .map(|c| c.name)
            .chain(["last_seen_at", "last_seen_run_id"])
            .map(|name| format!("{name} = excluded.{name}"))
            .collect();
        sql.push_str(&format!(
            " ON CONFLICT ({key}) DO UPDATE SET {}",
            updates.join(", ")
        ));
    }
    sql
}

/// Runs `rows` through the statement in batches of [`BATCH_ROWS`]; `params` gives one row's
/// parameters (in column order).
async fn batched<R>(
    tx: &Transaction<'_>,
    target: &Target,
    during: &'static str,
    run_id: i64,
    rows: &[R],
    sql_for: impl Fn(usize) -> String,
    params: impl for<'r> Fn(&'r R, &mut Vec<Param<'r>>),
) -> Result<(), SyncError> {
    let mut prepared = HashMap::new();
    for batch in rows.chunks(BATCH_ROWS) {
        // A statement is a cheap handle (an Arc); at most two sizes are prepared per table.
        let statement = match prepared.get(&batch.len()) {
            Some(statement) => Clone::clone(statement),
            None => {
                let statement = tx
                    .prepare(&sql_for(batch.len()))
                    .await
                    .map_err(|e| target.classify(&e, during))?;
                prepared.insert(batch.len(), statement.clone());
                statement
            }
        };
        // Node rows are the widest.
        let mut values: Vec<Param<'_>> = Vec::with_capacity(1 + batch.len() * NODE_COLUMNS.len());
        values.push(&run_id);
        for row in batch {
            params(row, &mut values);
        }
        tx.execute(&statement, &values)
            .await
            .map_err(|e| target.classify(&e, during))?;
    }
    Ok(())
}

/// What a chunk transaction needs besides its rows.
pub struct Chunk<'a> {
    /// The run's lease (re-checked by every chunk).
    pub lease: &'a Lease,
    /// The run.
    pub run_id: i64,
    /// The selection's latest finished run when this one started (none on a first sync): what
    /// a renewed sighting records as `completed_run_id` (see `sightings`).
    pub previous_run_id: Option<i64>,
    /// `--rebuild`: write every row in full, without reading stored hashes.
    pub all: bool,
}

/// Writes one chunk of node rows and the selection's sightings of them, in one transaction:
/// new and changed rows in full, unchanged ones only `last_seen_*` (see `touch`). Returns how
/// many were written in full.
pub async fn node_chunk(
    session: &mut Session,
    chunk: &Chunk<'_>,
    rows: &[NodeRow],
    docs: &[Option<NodeDocument>],
) -> Result<usize, SyncError> {
    let during = "writing nodes";
    let hashes: Vec<String> = rows.iter().map(NodeRow::content_hash).collect();
    let keys: Vec<&str> = rows.iter().map(|r| r.path.as_str()).collect();
    let target = session.target().clone();
    let mode = Mode::Seen { key: "path" };
    session
        .transaction(during, async |tx| {
            lease::check(tx, &target, chunk.lease).await?;
            let changed = Changed {
                table: "nodes",
                key: "path",
                keys: &keys,
                hashes: &hashes,
            };
            let full = changed.rows_to_write(tx, &target, chunk, during).await?;
            // Only the rows written in full are serialized (an unchanged resync serializes none).
            let facts: Vec<Option<String>> = full
                .iter()
                .map(|&i| docs.get(i).and_then(Option::as_ref).and_then(facts_json))
                .collect();
            let indexed: Vec<(&NodeRow, &Option<String>, &String)> = full
                .iter()
                .zip(&facts)
                .map(|(&i, facts)| (&rows[i], facts, &hashes[i]))
                .collect();
            batched(
                tx,
                &target,
                during,
                chunk.run_id,
                &indexed,
                |n| statement("nodes", NODE_COLUMNS, n, &mode),
                |(r, facts, hash), p| {
                    p.push(&r.path);
                    p.push(&r.node_id);
                    p.push(&r.operator);
                    p.push(&r.hostname);
                    p.push(&r.serial);
                    p.push(&r.vendor);
                    p.push(&r.model);
                    p.push(&r.cpu_model);
                    p.push(&r.cores);
                    p.push(&r.threads);
                    p.push(&r.memory_bytes);
                    p.push(&r.storage_bytes);
                    p.push(&r.facts_hash);
                    p.push(*facts);
                    p.push(&r.valid);
                    p.push(&r.inventory_key);
                    p.push(*hash);
                },
            )
            .await?;
            sightings(tx, &target, chunk, "node_sightings", "path", &keys).await?;
            Ok(indexed.len())
        })
        .await
}

/// Writes one chunk of inventory items like [`node_chunk`]. Returns how many were written in
/// full.
pub async fn item_chunk(
    session: &mut Session,
    chunk: &Chunk<'_>,
    rows: &[ItemRow],
) -> Result<usize, SyncError> {
    let during = "writing inventory items";
    let hashes: Vec<String> = rows.iter().map(ItemRow::content_hash).collect();
    let keys: Vec<&str> = rows.iter().map(|r| r.key.as_str()).collect();
    let target = session.target().clone();
    let mode = Mode::Seen { key: "item_key" };
    session
        .transaction(during, async |tx| {
            lease::check(tx, &target, chunk.lease).await?;
            let changed = Changed {
                table: "inventory_items",
                key: "item_key",
                keys: &keys,
                hashes: &hashes,
            };
            let full = changed.rows_to_write(tx, &target, chunk, during).await?;
            // `serde_json::to_string`, not `Value`'s `Display` (which goes through `fmt`: slower).
            let fields: Vec<String> = full
                .iter()
                .map(|&i| serde_json::to_string(&rows[i].row).unwrap_or_default())
                .collect();
            let indexed: Vec<(&ItemRow, &String, &String)> = full
                .iter()
                .zip(&fields)
                .map(|(&i, fields)| (&rows[i], fields, &hashes[i]))
                .collect();
            batched(
                tx,
                &target,
                during,
                chunk.run_id,
                &indexed,
                |n| statement("inventory_items", ITEM_COLUMNS, n, &mode),
                |(r, fields, hash), p| {
                    p.push(&r.key);
                    p.push(&r.line);
                    p.push(&r.serial);
                    p.push(&r.macs);
                    p.push(&r.asset_tag);
                    p.push(&r.hostname);
                    p.push(&r.make);
                    p.push(&r.model);
                    p.push(&r.cores);
                    p.push(&r.memory_gb);
                    p.push(&r.storage_gb);
                    p.push(&r.status);
                    p.push(&r.location);
                    p.push(&r.cost);
                    p.push(*fields);
                    p.push(*hash);
                },
            )
            .await?;
            sightings(tx, &target, chunk, "inventory_sightings", "item_key", &keys).await?;
            Ok(indexed.len())
        })
        .await
}

/// The rows of one chunk about to be written, by key and content hash.
struct Changed<'a> {
    table: &'static str,
    key: &'static str,
    keys: &'a [&'a str],
    hashes: &'a [String],
}

impl Changed<'_> {
    /// Indices of the rows to write in full: new and changed ones (all of them with `all`).
    /// Unchanged rows only get `last_seen_*`, in the statement that reads their stored hashes
    /// (see `touch`); whatever it did not find, or found with another hash, is written in full.
    async fn rows_to_write(
        &self,
        tx: &Transaction<'_>,
        target: &Target,
        chunk: &Chunk<'_>,
        during: &'static str,
    ) -> Result<Vec<usize>, SyncError> {
        if chunk.all {
            return Ok((0..self.keys.len()).collect());
        }
        let stored = touch(tx, target, self, chunk.run_id, during).await?;
        Ok((0..self.keys.len())
            .filter(|&i| stored.get(self.keys[i]) != Some(&self.hashes[i]))
            .collect())
    }
}

/// Sets `last_seen_*` of this chunk's rows that are already stored and returns their stored
/// hashes, in one statement by primary key (`UPDATE … WHERE key = ANY($keys) RETURNING key,
/// row_hash`, on both databases). Only this chunk's keys travel (never the whole table's hashes)
/// and no content crosses the wire; on PostgreSQL the unchanged (TOASTed) JSON is not rewritten.
/// A row found with another hash was touched too, and is then written in full anyway. (The key
/// list is an array compared with `= ANY`, which both databases answer from the primary key
/// index even before the table's statistics exist — a join with a `VALUES` list was planned as
/// a scan of the whole table per chunk on a freshly filled PostgreSQL table.)
async fn touch(
    tx: &Transaction<'_>,
    target: &Target,
    rows: &Changed<'_>,
    run_id: i64,
    during: &'static str,
) -> Result<HashMap<String, String>, SyncError> {
    let sql = format!(
        "UPDATE {table} SET last_seen_at = now(), last_seen_run_id = $1::INT8 \
         WHERE {key} = ANY($2::TEXT[]) RETURNING {key}, row_hash",
        table = rows.table,
        key = rows.key
    );
    Ok(tx
        .query(&sql, &[&run_id, &rows.keys])
        .await
        .map_err(|e| target.classify(&e, during))?
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect())
}

/// Rows per sightings statement (one parameter each).
const TOUCH_ROWS: usize = 2000;

/// Records that this selection saw `keys` in this run.
///
/// A renewed sighting that the selection's previous finished run had seen keeps that run's id
/// in `completed_run_id` (the `current_*` views: schema version 3). Sightings only move forward:
/// a run never overwrites a newer run's sighting (a sync that lost its lease while a chunk was
/// under way cannot make a node look missing to the sync that took over).
async fn sightings(
    tx: &Transaction<'_>,
    target: &Target,
    chunk: &Chunk<'_>,
    table: &'static str,
    key: &'static str,
    keys: &[&str],
) -> Result<(), SyncError> {
    let during = "recording sightings";
    let selection_hash = chunk.lease.selection_hash.as_str();
    for batch in keys.chunks(TOUCH_ROWS) {
        let values: Vec<String> = (0..batch.len())
            .map(|i| format!("($1::TEXT, ${}::TEXT, $2::INT8, now())", 4 + i))
            .collect();
        let sql = format!(
            "INSERT INTO {table} (selection_hash, {key}, last_seen_run_id, last_seen_at) \
             VALUES {} ON CONFLICT (selection_hash, {key}) DO UPDATE SET \
             completed_run_id = CASE WHEN {table}.last_seen_run_id = $3::INT8 THEN $3::INT8 \
             ELSE {table}.completed_run_id END, \
             last_seen_run_id = excluded.last_seen_run_id, last_seen_at = excluded.last_seen_at \
             WHERE {table}.last_seen_run_id <= excluded.last_seen_run_id",
            values.join(", ")
        );
        let mut params: Vec<Param<'_>> = Vec::with_capacity(3 + batch.len());
        params.push(&selection_hash);
        params.push(&chunk.run_id);
        params.push(&chunk.previous_run_id);
        for k in batch {
            params.push(k);
        }
        tx.execute(&sql, &params)
            .await
            .map_err(|e| target.classify(&e, during))?;
    }
    Ok(())
}

/// Inserts one chunk of this run's findings.
pub async fn finding_chunk(
    session: &mut Session,
    chunk: &Chunk<'_>,
    rows: &[FindingRow],
) -> Result<(), SyncError> {
    let during = "writing findings";
    let details: Vec<String> = rows
        .iter()
        .map(|r| serde_json::to_string(&r.detail).unwrap_or_default())
        .collect();
    let indexed: Vec<(&FindingRow, &String)> = rows.iter().zip(&details).collect();
    let target = session.target().clone();
    let mode = Mode::RunRows {
        key: "run_id, kind, ordinal",
    };
    session
        .transaction(during, async |tx| {
            lease::check(tx, &target, chunk.lease).await?;
            batched(
                tx,
                &target,
                during,
                chunk.run_id,
                &indexed,
                |n| statement("findings", FINDING_COLUMNS, n, &mode),
                |(r, detail), p| {
                    p.push(&r.kind);
                    p.push(&r.ordinal);
                    p.push(&r.key);
                    p.push(*detail);
                },
            )
            .await
        })
        .await
}

/// Rows to delete in bounded transactions (see [`delete_in_chunks`]).
pub struct Deletion<'a> {
    /// What enlist is doing, for messages.
    pub during: &'static str,
    /// The table.
    pub table: &'static str,
    /// Its key column.
    pub key: &'static str,
    /// A query of one column, the key, taking `$1` = the selection hash, `$2` = the run id and
    /// `$3` = the limit.
    pub select: &'a str,
}

/// Deletes what `what.select` finds, `limit` rows per transaction: `DELETE … WHERE key IN
/// (select … LIMIT $3)` until a round deletes fewer than `limit`. Works on both databases
/// (PostgreSQL has no `DELETE … LIMIT`). Returns the rows deleted.
pub async fn delete_in_chunks(
    session: &mut Session,
    what: &Deletion<'_>,
    selection_hash: &str,
    run_id: i64,
    limit: usize,
) -> Result<u64, SyncError> {
    let Deletion {
        during,
        table,
        key,
        select,
    } = *what;
    let sql = format!("DELETE FROM {table} WHERE {key} IN ({select})");
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let target = session.target().clone();
    let mut total = 0;
    loop {
        let deleted = session
            .transaction(during, async |tx| {
                tx.execute(&sql, &[&selection_hash, &run_id, &limit])
                    .await
                    .map_err(|e| target.classify(&e, during))
            })
            .await?;
        total += deleted;
        if deleted < u64::try_from(limit).unwrap_or(u64::MAX) {
            return Ok(total);
        }
    }
}

/// Deletes the findings of run `run_id`, at most `limit` per transaction (by ordinal ranges of
/// each kind: the primary key, so no database-specific `DELETE … LIMIT`).
pub async fn delete_findings_of_run(
    session: &mut Session,
    run_id: i64,
    limit: usize,
) -> Result<(), SyncError> {
    let during = "deleting old findings";
    let target = session.target().clone();
    let kinds: Vec<(String, i32)> = session
        .transaction(during, async |tx| {
            Ok(tx
                .query(
                    "SELECT kind, max(ordinal) FROM findings WHERE run_id = $1::INT8 GROUP BY kind",
                    &[&run_id],
                )
                .await
                .map_err(|e| target.classify(&e, during))?
                .iter()
                .map(|row| (row.get(0), row.get(1)))
                .collect())
        })
        .await?;
    let step = i64::try_from(limit).unwrap_or(i64::MAX).max(1);
    for (kind, max) in kinds {
        let mut low = 0i64;
        while low <= i64::from(max) {
            let high = low.saturating_add(step);
            session
                .transaction(during, async |tx| {
                    tx.execute(
                        "DELETE FROM findings WHERE run_id = $1::INT8 AND kind = $2::TEXT \
                         AND ordinal >= $3::INT8 AND ordinal < $4::INT8",
                        &[&run_id, &kind, &low, &high],
                    )
                    .await
                    .map_err(|e| target.classify(&e, during))
                })
                .await?;
            low = high;
        }
    }
    Ok(())
}

/// Runs per selection whose findings are kept.
pub const KEPT_FINDING_RUNS: i64 = 50;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upsert_statement_shape() {
        let sql = statement(
            "findings",
            FINDING_COLUMNS,
            2,
            &Mode::RunRows {
                key: "run_id, kind, ordinal",
            },
        );
        assert_eq!(
            sql,
            "INSERT INTO findings (run_id, kind, ordinal, key, detail) VALUES \
             ($1::INT8, $2::TEXT, $3::INT4, $4::TEXT, $5::TEXT::JSONB), \
             ($1::INT8, $6::TEXT, $7::INT4, $8::TEXT, $9::TEXT::JSONB) \
             ON CONFLICT (run_id, kind, ordinal) DO NOTHING"
        );
        let sql = statement("nodes", &NODE_COLUMNS[..2], 1, &Mode::Seen { key: "path" });
        assert_eq!(
            sql,
            "INSERT INTO nodes (path, node_id, first_seen_at, last_seen_at, last_seen_run_id) \
             VALUES ($2::TEXT, $3::TEXT, now(), now(), $1::INT8) ON CONFLICT (path) DO UPDATE \
             SET node_id = excluded.node_id, last_seen_at = excluded.last_seen_at, \
             last_seen_run_id = excluded.last_seen_run_id"
        );
    }
}
