//! Writing one run's rows, one chunk per transaction: multi-row `INSERT … ON CONFLICT … DO
//! UPDATE` in statements of at most [`BATCH_ROWS`] rows.
//!
//! **Chunks** (issue 16). A run writes at most [`super::Options::chunk_rows`] nodes (or
//! inventory items, or findings) per transaction, never one transaction for the whole tree: on
//! CockroachDB a transaction of 100,000 rows ends in "transaction deadline exceeded", and under
//! SERIALIZABLE a long transaction is the one that keeps losing conflicts. Each chunk re-checks
//! and extends the lease ([`super::lease::fence`]), writes its rows and the selection's sightings
//! of them, and is safe to run again ([`super::session`]): upserts by key, findings `ON
//! CONFLICT DO NOTHING`. What readers trust only changes when the run completes, in a last small
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
//! of its content; each chunk reads the stored hashes of its own keys (never the whole table),
//! upserts only new and changed rows, and for the rest sets `last_seen_*` by key and hash
//! (`touch`). A resync of an unchanged 10,000-node tree
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
use super::snapshot::{ItemRow, NodeRow};

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
    /// The run's lease (re-checked and extended by every chunk).
    pub lease: &'a Lease,
    /// The run.
    pub run_id: i64,
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
) -> Result<usize, SyncError> {
    let during = "writing nodes";
    let hashes: Vec<String> = rows.iter().map(NodeRow::content_hash).collect();
    let keys: Vec<&str> = rows.iter().map(|r| r.path.as_str()).collect();
    let target = session.target().clone();
    let mode = Mode::Seen { key: "path" };
    session
        .transaction(during, async |tx| {
            lease::fence(tx, &target, chunk.lease).await?;
            let changed = Changed {
                table: "nodes",
                key: "path",
                keys: &keys,
                hashes: &hashes,
            };
            let full = changed.rows_to_write(tx, &target, chunk, during).await?;
            let facts: Vec<Option<String>> = full
                .iter()
                .map(|&i| rows[i].facts.as_ref().map(|v| v.to_string()))
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
            lease::fence(tx, &target, chunk.lease).await?;
            let changed = Changed {
                table: "inventory_items",
                key: "item_key",
                keys: &keys,
                hashes: &hashes,
            };
            let full = changed.rows_to_write(tx, &target, chunk, during).await?;
            let fields: Vec<String> = full.iter().map(|&i| rows[i].row.to_string()).collect();
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
    /// Unchanged rows only get `last_seen_*` here (see `touch`); one that another selection's
    /// sync changed since the read is written in full after all.
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
        // Only this chunk's keys: memory and traffic stay proportional to the chunk.
        let sql = format!(
            "SELECT {key}, row_hash FROM {table} WHERE {key} = ANY($1::TEXT[])",
            key = self.key,
            table = self.table
        );
        let stored: HashMap<String, String> = tx
            .query(&sql, &[&self.keys])
            .await
            .map_err(|e| target.classify(&e, during))?
            .iter()
            .map(|row| (row.get(0), row.get(1)))
            .collect();
        let (same, mut full): (Vec<usize>, Vec<usize>) =
            (0..self.keys.len()).partition(|&i| stored.get(self.keys[i]) == Some(&self.hashes[i]));
        let touched = touch(tx, target, self, chunk.run_id, &same, during).await?;
        if touched < same.len() {
            full.extend(same);
            full.sort_unstable();
        }
        Ok(full)
    }
}

/// Sets `last_seen_*` of the rows at `indices` whose stored `row_hash` is still theirs, joining a
/// `VALUES` list (`UPDATE … FROM`, on both databases); no content crosses the wire, and on
/// PostgreSQL the unchanged (TOASTed) JSON is not rewritten. Returns how many rows it updated: fewer
/// than asked means another sync changed some since they were read.
async fn touch(
    tx: &Transaction<'_>,
    target: &Target,
    rows: &Changed<'_>,
    run_id: i64,
    indices: &[usize],
    during: &'static str,
) -> Result<usize, SyncError> {
    let mut updated = 0;
    let mut prepared = HashMap::new();
    for batch in indices.chunks(TOUCH_ROWS) {
        let statement = match prepared.get(&batch.len()) {
            Some(statement) => Clone::clone(statement),
            None => {
                let values: Vec<String> = (0..batch.len())
                    .map(|i| format!("(${}::TEXT, ${}::TEXT)", 2 + 2 * i, 3 + 2 * i))
                    .collect();
                let sql = format!(
                    "UPDATE {table} AS t SET last_seen_at = now(), last_seen_run_id = $1::INT8 \
                     FROM (VALUES {}) AS v (k, h) WHERE t.{key} = v.k AND t.row_hash = v.h",
                    values.join(", "),
                    table = rows.table,
                    key = rows.key
                );
                let statement = tx
                    .prepare(&sql)
                    .await
                    .map_err(|e| target.classify(&e, during))?;
                prepared.insert(batch.len(), statement.clone());
                statement
            }
        };
        let mut params: Vec<Param<'_>> = Vec::with_capacity(1 + 2 * batch.len());
        params.push(&run_id);
        for &i in batch {
            params.push(&rows.keys[i]);
            params.push(&rows.hashes[i]);
        }
        let n = tx
            .execute(&statement, &params)
            .await
            .map_err(|e| target.classify(&e, during))?;
        updated += usize::try_from(n).unwrap_or(usize::MAX);
    }
    Ok(updated)
}

/// Rows per `touch` or sightings statement (two and one parameters each).
const TOUCH_ROWS: usize = 2000;

/// Records that this selection saw `keys` in this run.
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
            .map(|i| format!("($1::TEXT, ${}::TEXT, $2::INT8, now())", 3 + i))
            .collect();
        let sql = format!(
            "INSERT INTO {table} (selection_hash, {key}, last_seen_run_id, last_seen_at) \
             VALUES {} ON CONFLICT (selection_hash, {key}) DO UPDATE SET \
             last_seen_run_id = excluded.last_seen_run_id, last_seen_at = excluded.last_seen_at",
            values.join(", ")
        );
        let mut params: Vec<Param<'_>> = Vec::with_capacity(2 + batch.len());
        params.push(&selection_hash);
        params.push(&chunk.run_id);
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
    let details: Vec<String> = rows.iter().map(|r| r.detail.to_string()).collect();
    let indexed: Vec<(&FindingRow, &String)> = rows.iter().zip(&details).collect();
    let target = session.target().clone();
    let mode = Mode::RunRows {
        key: "run_id, kind, ordinal",
    };
    session
        .transaction(during, async |tx| {
            lease::fence(tx, &target, chunk.lease).await?;
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
