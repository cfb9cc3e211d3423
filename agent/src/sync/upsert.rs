//! Writing one run's rows: multi-row `INSERT … ON CONFLICT … DO UPDATE` in batches.
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
//! `now()` is the transaction's timestamp on both, so every row of a run gets the same
//! `last_seen_at`.
//!
//! **Unchanged rows are not sent again.** Each node and item row carries `row_hash`, the SHA-256
//! of its content; a run reads the stored hashes, upserts only new and changed rows, and for the
//! rest sets `last_seen_*` by key and hash (`touch`). A resync of an unchanged 10,000-node tree
//! then moves a few hundred kilobytes instead of ~20 MB of facts JSON (which matters most for a
//! CockroachDB cluster across a WAN).

use std::collections::HashMap;

use tokio_postgres::Transaction;
use tokio_postgres::types::ToSql;

use super::SyncError;
use super::connect::Target;
use super::findings::FindingRow;
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
    /// Plain insert with the run id as the first column.
    RunRows,
}

/// `INSERT INTO table (…) VALUES (…), … [ON CONFLICT …]` for `rows` rows; `$1` is the run id.
fn statement(table: &str, columns: &[Column], rows: usize, mode: &Mode) -> String {
    let mut names: Vec<&str> = Vec::new();
    if let Mode::RunRows = mode {
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
        if let Mode::RunRows = mode {
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

/// Runs `rows` through the statement in batches; `params` gives one row's parameters (in column
/// order).
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
    for chunk in rows.chunks(BATCH_ROWS) {
        // A statement is a cheap handle (an Arc); at most two sizes are prepared per table.
        let statement = match prepared.get(&chunk.len()) {
            Some(statement) => Clone::clone(statement),
            None => {
                let statement = tx
                    .prepare(&sql_for(chunk.len()))
                    .await
                    .map_err(|e| target.classify(&e, during))?;
                prepared.insert(chunk.len(), statement.clone());
                statement
            }
        };
        // Node rows are the widest.
        let mut values: Vec<Param<'_>> = Vec::with_capacity(1 + chunk.len() * NODE_COLUMNS.len());
        values.push(&run_id);
        for row in chunk {
            params(row, &mut values);
        }
        tx.execute(&statement, &values)
            .await
            .map_err(|e| target.classify(&e, during))?;
    }
    Ok(())
}

/// JSON columns travel as text.
fn json_texts<R>(
    rows: &[R],
    value: impl Fn(&R) -> Option<&serde_json::Value>,
) -> Vec<Option<String>> {
    rows.iter()
        .map(|r| value(r).map(|v| v.to_string()))
        .collect()
}

/// Writes the node rows: new and changed rows in full, unchanged ones only `last_seen_*` (see
/// `touch`); with `all`, every row in full (`--rebuild`). Returns how many were written in full.
pub async fn nodes(
    tx: &Transaction<'_>,
    target: &Target,
    run_id: i64,
    rows: &[NodeRow],
    all: bool,
) -> Result<usize, SyncError> {
    let during = "writing nodes";
    let hashes: Vec<String> = rows.iter().map(NodeRow::content_hash).collect();
    let keys: Vec<&str> = rows.iter().map(|r| r.path.as_str()).collect();
    let changed = Changed {
        table: "nodes",
        key: "path",
        keys: &keys,
        hashes: &hashes,
    };
    let full = changed
        .rows_to_write(tx, target, run_id, all, during)
        .await?;
    let facts: Vec<Option<String>> = full
        .iter()
        .map(|&i| rows[i].facts.as_ref().map(|v| v.to_string()))
        .collect();
    let indexed: Vec<(&NodeRow, &Option<String>, &String)> = full
        .iter()
        .zip(&facts)
        .map(|(&i, facts)| (&rows[i], facts, &hashes[i]))
        .collect();
    let mode = Mode::Seen { key: "path" };
    batched(
        tx,
        target,
        during,
        run_id,
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
    Ok(indexed.len())
}

/// Writes the inventory items like [`nodes`]. Returns how many were written in full.
pub async fn items(
    tx: &Transaction<'_>,
    target: &Target,
    run_id: i64,
    rows: &[ItemRow],
    all: bool,
) -> Result<usize, SyncError> {
    let during = "writing inventory items";
    let hashes: Vec<String> = rows.iter().map(ItemRow::content_hash).collect();
    let keys: Vec<&str> = rows.iter().map(|r| r.key.as_str()).collect();
    let changed = Changed {
        table: "inventory_items",
        key: "item_key",
        keys: &keys,
        hashes: &hashes,
    };
    let full = changed
        .rows_to_write(tx, target, run_id, all, during)
        .await?;
    let fields: Vec<String> = full.iter().map(|&i| rows[i].row.to_string()).collect();
    let indexed: Vec<(&ItemRow, &String, &String)> = full
        .iter()
        .zip(&fields)
        .map(|(&i, fields)| (&rows[i], fields, &hashes[i]))
        .collect();
    let mode = Mode::Seen { key: "item_key" };
    batched(
        tx,
        target,
        during,
        run_id,
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
    Ok(indexed.len())
}

/// `key → row_hash` of what the table holds now (nothing when every row is to be rewritten).
/// The rows of one table about to be written, by key and content hash.
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
        run_id: i64,
        all: bool,
        during: &'static str,
    ) -> Result<Vec<usize>, SyncError> {
        let sql = format!("SELECT {}, row_hash FROM {}", self.key, self.table);
        let stored = stored_hashes(tx, target, &sql, during, all).await?;
        let (same, mut full) = split(self.keys, self.hashes, &stored);
        let touched = touch(
            tx,
            target,
            self.table,
            self.key,
            run_id,
            self.keys,
            self.hashes,
            &same,
            during,
        )
        .await?;
        if touched < same.len() {
            full.extend(same);
        }
        Ok(full)
    }
}

async fn stored_hashes(
    tx: &Transaction<'_>,
    target: &Target,
    sql: &str,
    during: &'static str,
    all: bool,
) -> Result<HashMap<String, String>, SyncError> {
    if all {
        return Ok(HashMap::new());
    }
    Ok(tx
        .query(sql, &[])
        .await
        .map_err(|e| target.classify(&e, during))?
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect())
}

/// Indices of rows whose stored hash equals theirs, and of the others (new or changed).
fn split(
    keys: &[&str],
    hashes: &[String],
    stored: &HashMap<String, String>,
) -> (Vec<usize>, Vec<usize>) {
    (0..keys.len()).partition(|&i| stored.get(keys[i]) == Some(&hashes[i]))
}

/// Rows per `touch` statement (two parameters each).
const TOUCH_ROWS: usize = 2000;

/// Sets `last_seen_*` of the rows at `indices` whose stored `row_hash` is still theirs, joining a
/// `VALUES` list (`UPDATE … FROM`, on both databases); no content crosses the wire, and on
/// PostgreSQL the unchanged (TOASTed) JSON is not rewritten. Returns how many rows it updated: fewer
/// than asked means another sync changed some since [`stored_hashes`] read them.
#[allow(clippy::too_many_arguments)]
async fn touch(
    tx: &Transaction<'_>,
    target: &Target,
    table: &str,
    key: &str,
    run_id: i64,
    keys: &[&str],
    hashes: &[String],
    indices: &[usize],
    during: &'static str,
) -> Result<usize, SyncError> {
    let mut updated = 0;
    let mut prepared = HashMap::new();
    for chunk in indices.chunks(TOUCH_ROWS) {
        let statement = match prepared.get(&chunk.len()) {
            Some(statement) => Clone::clone(statement),
            None => {
                let values: Vec<String> = (0..chunk.len())
                    .map(|i| format!("(${}::TEXT, ${}::TEXT)", 2 + 2 * i, 3 + 2 * i))
                    .collect();
                let sql = format!(
                    "UPDATE {table} AS t SET last_seen_at = now(), last_seen_run_id = $1::INT8 \
                     FROM (VALUES {}) AS v (k, h) WHERE t.{key} = v.k AND t.row_hash = v.h",
                    values.join(", ")
                );
                let statement = tx
                    .prepare(&sql)
                    .await
                    .map_err(|e| target.classify(&e, during))?;
                prepared.insert(chunk.len(), statement.clone());
                statement
            }
        };
        let mut params: Vec<Param<'_>> = Vec::with_capacity(1 + 2 * chunk.len());
        params.push(&run_id);
        for &i in chunk {
            params.push(&keys[i]);
            params.push(&hashes[i]);
        }
        let n = tx
            .execute(&statement, &params)
            .await
            .map_err(|e| target.classify(&e, during))?;
        updated += usize::try_from(n).unwrap_or(usize::MAX);
    }
    Ok(updated)
}

/// Inserts this run's findings.
pub async fn findings(
    tx: &Transaction<'_>,
    target: &Target,
    run_id: i64,
    rows: &[FindingRow],
) -> Result<(), SyncError> {
    let details = json_texts(rows, |r| Some(&r.detail));
    let indexed: Vec<(&FindingRow, &Option<String>)> = rows.iter().zip(&details).collect();
    batched(
        tx,
        target,
        "writing findings",
        run_id,
        &indexed,
        |n| statement("findings", FINDING_COLUMNS, n, &Mode::RunRows),
        |(r, detail), p| {
            p.push(&r.kind);
            p.push(&r.ordinal);
            p.push(&r.key);
            p.push(*detail);
        },
    )
    .await
}

/// Records that this selection saw the rows this run wrote (derived from `last_seen_run_id`, so
/// no key list crosses the wire again).
pub async fn sightings(
    tx: &Transaction<'_>,
    target: &Target,
    run_id: i64,
    selection_hash: &str,
) -> Result<(), SyncError> {
    for (sql, during) in [
        (
            "INSERT INTO node_sightings (selection_hash, path, last_seen_run_id, last_seen_at) \
             SELECT $1::TEXT, path, last_seen_run_id, last_seen_at FROM nodes \
             WHERE last_seen_run_id = $2::INT8 \
             ON CONFLICT (selection_hash, path) DO UPDATE SET \
             last_seen_run_id = excluded.last_seen_run_id, last_seen_at = excluded.last_seen_at",
            "recording node sightings",
        ),
        (
            "INSERT INTO inventory_sightings (selection_hash, item_key, last_seen_run_id, \
             last_seen_at) \
             SELECT $1::TEXT, item_key, last_seen_run_id, last_seen_at FROM inventory_items \
             WHERE last_seen_run_id = $2::INT8 \
             ON CONFLICT (selection_hash, item_key) DO UPDATE SET \
             last_seen_run_id = excluded.last_seen_run_id, last_seen_at = excluded.last_seen_at",
            "recording inventory sightings",
        ),
    ] {
        tx.execute(sql, &[&selection_hash, &run_id])
            .await
            .map_err(|e| target.classify(&e, during))?;
    }
    Ok(())
}

/// `--rebuild`: forgets this selection's history (runs, findings, sightings) and the rows no
/// other selection has seen, inside the run's transaction, before the rows are written again.
pub async fn forget_selection(
    tx: &Transaction<'_>,
    target: &Target,
    run_id: i64,
    selection_hash: &str,
) -> Result<(), SyncError> {
    let statements: [(&str, bool); 7] = [
        (
            "DELETE FROM findings WHERE run_id IN (SELECT id FROM sync_runs \
             WHERE selection_hash = $1::TEXT AND id <> $2::INT8)",
            true,
        ),
        (
            "DELETE FROM sync_runs WHERE selection_hash = $1::TEXT AND id <> $2::INT8",
            true,
        ),
        (
            "DELETE FROM node_sightings WHERE selection_hash = $1::TEXT",
            false,
        ),
        (
            "DELETE FROM inventory_sightings WHERE selection_hash = $1::TEXT",
            false,
        ),
        (
            "DELETE FROM selections WHERE selection_hash = $1::TEXT",
            false,
        ),
        (
            "DELETE FROM nodes WHERE NOT EXISTS \
             (SELECT 1 FROM node_sightings AS s WHERE s.path = nodes.path)",
            false,
        ),
        (
            "DELETE FROM inventory_items WHERE NOT EXISTS \
             (SELECT 1 FROM inventory_sightings AS s WHERE s.item_key = inventory_items.item_key)",
            false,
        ),
    ];
    for (sql, with_run) in statements {
        let result = if with_run {
            tx.execute(sql, &[&selection_hash, &run_id]).await
        } else if sql.contains("$1") {
            tx.execute(sql, &[&selection_hash]).await
        } else {
            tx.execute(sql, &[]).await
        };
        result.map_err(|e| target.classify(&e, "forgetting the selection (--rebuild)"))?;
    }
    Ok(())
}

/// Keeps the findings of the newest [`KEPT_FINDING_RUNS`] runs of a selection (the runs
/// themselves stay, with their counts).
pub async fn prune_findings(
    tx: &Transaction<'_>,
    target: &Target,
    selection_hash: &str,
) -> Result<(), SyncError> {
    tx.execute(
        "DELETE FROM findings WHERE run_id IN (SELECT id FROM sync_runs \
         WHERE selection_hash = $1::TEXT ORDER BY id DESC OFFSET $2::INT8)",
        &[&selection_hash, &KEPT_FINDING_RUNS],
    )
    .await
    .map_err(|e| target.classify(&e, "pruning old findings"))?;
    Ok(())
}

/// Runs per selection whose findings are kept.
pub const KEPT_FINDING_RUNS: i64 = 50;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upsert_statement_shape() {
        let sql = statement("findings", FINDING_COLUMNS, 2, &Mode::RunRows);
        assert_eq!(
            sql,
            "INSERT INTO findings (run_id, kind, ordinal, key, detail) VALUES \
             ($1::INT8, $2::TEXT, $3::INT4, $4::TEXT, $5::TEXT::JSONB), \
             ($1::INT8, $6::TEXT, $7::INT4, $8::TEXT, $9::TEXT::JSONB)"
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
