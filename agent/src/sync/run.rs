//! One sync, step by step (the order is in the [module docs](super)): the only code that talks to
//! the database on behalf of a run. Every transaction goes through [`Session::transaction`], so
//! each is retried on conflicts; each is small (one chunk), and the run's completion is the last.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use crate::reconcile::analyse::{self, NodeSummary};
use crate::secret::DatabaseUrl;

use super::connect::Target;
use super::findings::{self, Counts};
use super::session::Session;
use super::snapshot::{self, Checkout, is_unreadable};
use super::upsert::{self, Chunk};
use super::{
    MAX_CHUNK_ROWS, MissingNode, Options, Outcome, RunStatus, SyncError, lease, privileges, retry,
    schema,
};

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

/// `enlist sync --migrate` without a checkout: creates or upgrades the schema and returns the
/// version it found (the schema is then at [`schema::LATEST`]).
pub async fn migrate_only(
    database_url: &DatabaseUrl,
    policy: retry::Policy,
    timing: lease::Timing,
) -> Result<i64, SyncError> {
    let target = Target::parse(database_url)?;
    log::info!("connecting to {}", target.shown());
    let mut session = Session::open(&target, policy, retry::Jitter::from_entropy()).await?;
    let holder = lease::holder();
    let found = schema::ensure(&mut session, &holder, timing).await;
    explain(&session, found).await
}

/// A permission error with the exact missing grants, when the database can list them.
async fn explain<T>(session: &Session, result: Result<T, SyncError>) -> Result<T, SyncError> {
    match result {
        Err(e @ SyncError::Permission { .. }) if !session.is_broken() => {
            Err(privileges::diagnose(session.client(), session.target())
                .await
                .unwrap_or(e))
        }
        other => other,
    }
}

/// Runs one sync (see the module docs).
pub async fn sync(options: &Options) -> Result<Outcome, SyncError> {
    let started = Instant::now();
    let mut phases = Phases::default();
    phases.mark("start");
    let target = Target::parse(&options.database_url)?;
    let checkout = Arc::new(Checkout::open(
        &options.nodes,
        Some(options.inventory.as_path()),
        options.inventory_map.as_deref(),
        &options.operators,
        options.source.as_deref(),
    )?);
    phases.mark("walk the tree, read the inventory");
    let selection_hash = checkout.selection.hash();
    log::info!(
        "found {} node.yaml file(s) and {} inventory item(s) of {} in {:.2?}; connecting to {}",
        checkout.files_found(),
        checkout.inventory.rows.len(),
        checkout.selection.source,
        started.elapsed(),
        target.shown()
    );
    let mut session = Session::open(&target, options.retry, retry::Jitter::from_entropy()).await?;
    phases.mark("connect");
    let holder = lease::holder();
    let ensured = schema::ensure(&mut session, &holder, options.lease).await;
    explain(&session, ensured).await?;
    // Every grant the run needs, before it starts: a missing one fails here, with the GRANT.
    session
        .transaction("checking the user's privileges", async |tx| {
            privileges::check(tx, &target).await
        })
        .await?;
    phases.mark("schema");
    let lease = lease::acquire(
        &mut session,
        &selection_hash,
        &holder,
        options.lease,
        lease::Scope::Selection,
    )
    .await;
    let lease = explain(&session, lease).await?;
    let heartbeat = lease::Heartbeat::start(&target, &lease);
    phases.mark("lease");
    let result = run(&mut session, &checkout, &lease, options, &mut phases).await;
    heartbeat.stop();
    lease::release(&mut session, &lease).await;
    let ran = explain(&session, result).await?;
    Ok(Outcome {
        run_id: ran.run_id,
        status: ran.status,
        counts: ran.counts,
        error_codes: ran.error_codes,
        missing: ran.missing,
        confidence: ran.confidence,
        source: checkout.selection.source.clone(),
        retries: session.retries(),
        reconnects: session.reconnects(),
        abandoned: ran.abandoned,
        elapsed: started.elapsed(),
        phases: phases.done,
    })
}

/// What [`run`] returns.
struct Ran {
    run_id: i64,
    status: RunStatus,
    counts: Counts,
    error_codes: Vec<String>,
    missing: Vec<MissingNode>,
    confidence: &'static str,
    abandoned: Vec<i64>,
}

/// The part under the lease: close dead runs, start this one, write it, read what is missing.
async fn run(
    session: &mut Session,
    checkout: &Arc<Checkout>,
    lease: &lease::Lease,
    options: &Options,
    phases: &mut Phases,
) -> Result<Ran, SyncError> {
    let abandoned = close_abandoned(session).await?;
    let (run_id, previous_run_id) = start_run(session, checkout, lease).await?;
    log::info!(
        "sync run {run_id} started (selection {}, {} rows per transaction)",
        &lease.selection_hash[..12],
        options.chunk_rows
    );
    phases.mark("start the run");
    let chunk = Chunk {
        lease,
        run_id,
        previous_run_id,
        all: options.rebuild,
    };
    match write_run(session, checkout, &chunk, options, phases).await {
        Ok(mut ran) => {
            ran.abandoned = abandoned;
            Ok(ran)
        }
        Err(error) => {
            mark_failed(session, run_id, &error).await;
            Err(error)
        }
    }
}

/// Closes the runs left `running` by syncs whose lease is gone or expired (killed, crashed):
/// `abandoned`. Returns their ids.
async fn close_abandoned(session: &mut Session) -> Result<Vec<i64>, SyncError> {
    let target = session.target().clone();
    let during = "closing abandoned runs";
    let closed: Vec<i64> = session
        .transaction(during, async |tx| {
            Ok(tx
                .query(
                    "UPDATE sync_runs SET status = 'abandoned', finished_at = clock_timestamp(), \
                     had_errors = true, error_codes = ARRAY['abandoned']::TEXT[], error = \
                     'the sync stopped before finishing this run (killed or crashed), and its \
                     lease expired' \
                     WHERE status = 'running' AND NOT EXISTS (SELECT 1 FROM sync_leases AS l \
                     WHERE l.holder = sync_runs.holder AND l.expires_at >= now()) RETURNING id",
                    &[],
                )
                .await
                .map_err(|e| target.classify(&e, during))?
                .iter()
                .map(|row| row.get(0))
                .collect())
        })
        .await?;
    if !closed.is_empty() {
        log::warn!(
            "closed run(s) {} as abandoned: their sync stopped before finishing (killed or \
             crashed) and its lease expired",
            closed
                .iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    Ok(closed)
}

/// Inserts the `running` run. The id is drawn first, so a retried insert (after an ambiguous
/// commit) finds its row instead of adding a second one. Returns it with the selection's latest
/// finished run (stable while the lease is held: only this selection's syncs change it).
async fn start_run(
    session: &mut Session,
    checkout: &Checkout,
    lease: &lease::Lease,
) -> Result<(i64, Option<i64>), SyncError> {
    let target = session.target().clone();
    let during = "starting the run";
    let (run_id, previous): (i64, Option<i64>) = session
        .transaction(during, async |tx| {
            let run_id = tx
                .query_one("SELECT nextval('sync_run_ids')::INT8", &[])
                .await
                .map_err(|e| target.classify(&e, during))?
                .get(0);
            let previous = tx
                .query_opt(
                    "SELECT latest_run_id FROM selections WHERE selection_hash = $1::TEXT",
                    &[&lease.selection_hash],
                )
                .await
                .map_err(|e| target.classify(&e, during))?
                .map(|row| row.get(0));
            Ok((run_id, previous))
        })
        .await?;
    let selection_json = checkout.selection.to_json().to_string();
    session
        .transaction(during, async |tx| {
            tx.execute(
                "INSERT INTO sync_runs (id, selection_hash, selection, status, holder, \
                 agent_version) VALUES ($1::INT8, $2::TEXT, $3::TEXT::JSONB, $4::TEXT, $5::TEXT, \
                 $6::TEXT) ON CONFLICT (id) DO NOTHING",
                &[
                    &run_id,
                    &lease.selection_hash,
                    &selection_json,
                    &RunStatus::Running.as_str(),
                    &lease.holder,
                    &env!("CARGO_PKG_VERSION"),
                ],
            )
            .await
            .map_err(|e| target.classify(&e, during))
        })
        .await?;
    Ok((run_id, previous))
}

/// Streams the checkout into the database, chunk by chunk, then completes the run.
async fn write_run(
    session: &mut Session,
    checkout: &Arc<Checkout>,
    chunk: &Chunk<'_>,
    options: &Options,
    phases: &mut Phases,
) -> Result<Ran, SyncError> {
    let (lease, run_id) = (chunk.lease, chunk.run_id);
    let size = options.chunk_rows.clamp(1, MAX_CHUNK_ROWS);
    // Files are read and turned into rows on a thread of their own, one chunk ahead of the
    // database: parsing the next chunk overlaps writing this one.
    let (mut batches, reader) = spawn_reader(Arc::clone(checkout), size);
    // One summary per file is all that is kept of it (issue 16: bounded memory).
    let mut summaries: Vec<NodeSummary> = Vec::with_capacity(checkout.files_found());
    let (mut valid_nodes, mut nodes_written) = (0, 0);
    while let Some(batch) = batches.recv().await {
        valid_nodes += batch.rows.iter().filter(|r| r.valid).count();
        nodes_written += upsert::node_chunk(session, chunk, &batch.rows, &batch.docs).await?;
        summaries.extend(batch.summaries);
    }
    reader.join().map_err(|_| {
        SyncError::Runtime(std::io::Error::other(
            "the thread reading node.yaml files stopped unexpectedly",
        ))
    })?;
    let node_rows = summaries.len();
    summaries.extend(
        checkout
            .unreadable_directories()
            .iter()
            .map(NodeSummary::of),
    );
    phases.mark("nodes");

    let order = checkout.item_order();
    let mut items_written = 0;
    for indices in order.chunks(size) {
        let items: Vec<snapshot::ItemRow> = indices
            .iter()
            .filter_map(|&i| checkout.item_row(i))
            .collect();
        items_written += upsert::item_chunk(session, chunk, &items).await?;
    }
    phases.mark("inventory items");

    let partial = summaries.iter().any(is_unreadable);
    let report = analyse::analyse_summaries(&summaries, &checkout.inventory, None);
    drop(summaries);
    let finding_rows = findings::rows(&report);
    for rows in finding_rows.chunks(size) {
        upsert::finding_chunk(session, chunk, rows).await?;
    }
    phases.mark("findings");

    let mut counts = Counts::new(&report, node_rows, valid_nodes, order.len());
    counts.node_rows_written = nodes_written;
    counts.inventory_items_written = items_written;
    let mut error_codes: Vec<String> = report
        .invalid
        .iter()
        .filter_map(|i| serde_json::to_value(i.kind).ok())
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect();
    error_codes.sort();
    error_codes.dedup();
    let had_errors = !report.invalid.is_empty();
    let status = if partial {
        RunStatus::Partial
    } else {
        RunStatus::Completed
    };
    let selection_hash = lease.selection_hash.as_str();
    if options.rebuild {
        // Forget what the selection saw before and this run did not see again: nothing is
        // missing after a rebuild.
        for (table, key) in [
            ("node_sightings", "path"),
            ("inventory_sightings", "item_key"),
        ] {
            upsert::delete_in_chunks(
                session,
                &upsert::Deletion {
                    during: "forgetting the selection's sightings (--rebuild)",
                    table,
                    key,
                    select: &format!(
                        "SELECT {key} FROM {table} WHERE selection_hash = $1::TEXT \
                     AND last_seen_run_id < $2::INT8 LIMIT $3::INT8"
                    ),
                },
                selection_hash,
                run_id,
                size,
            )
            .await?;
        }
    }
    complete(
        session,
        &Completion {
            lease,
            run_id,
            status,
            counts: &counts,
            had_errors,
            error_codes: &error_codes,
            selection_json: &checkout.selection.to_json().to_string(),
        },
    )
    .await?;
    phases.mark("complete the run");
    clean_up(session, selection_hash, run_id, options.rebuild, size).await?;
    phases.mark("clean up");

    let missing = read_missing(session, selection_hash).await?;
    phases.mark("missing");
    let confidence = if status == RunStatus::Partial || had_errors {
        "low"
    } else {
        "high"
    };
    Ok(Ran {
        run_id,
        status,
        counts,
        error_codes,
        missing,
        confidence,
        abandoned: Vec::new(),
    })
}

/// One chunk of node rows, their documents (serialized only for the rows written in full) and
/// the summaries of their files, from the reader thread.
struct Batch {
    rows: Vec<snapshot::NodeRow>,
    docs: Vec<Option<crate::document::NodeDocument>>,
    summaries: Vec<NodeSummary>,
}

/// Starts the thread that reads the selection's files in path order and sends them on as
/// chunks of `size` rows. At most one chunk waits in the channel, so memory stays at a few
/// chunks; when the receiver is gone (the run failed), the thread stops.
fn spawn_reader(
    checkout: Arc<Checkout>,
    size: usize,
) -> (mpsc::Receiver<Batch>, std::thread::JoinHandle<()>) {
    let (sender, receiver) = mpsc::channel(1);
    let handle = std::thread::spawn(move || {
        let matcher = checkout.matcher();
        let empty = || Batch {
            rows: Vec::with_capacity(size),
            docs: Vec::with_capacity(size),
            summaries: Vec::with_capacity(size),
        };
        let mut batch = empty();
        for (mut node, digest) in checkout.read_with_digest() {
            let (mut row, _) = checkout.node_row(&node, &matcher);
            row.file_digest = digest;
            let doc = node.doc.take();
            batch.rows.push(row);
            batch
                .summaries
                .push(NodeSummary::with_doc(node, doc.as_ref()));
            batch.docs.push(doc);
            if batch.rows.len() == size
                && sender
                    .blocking_send(std::mem::replace(&mut batch, empty()))
                    .is_err()
            {
                return;
            }
        }
        if !batch.rows.is_empty() {
            let _ = sender.blocking_send(batch);
        }
    });
    (receiver, handle)
}

/// What completing a run records.
struct Completion<'a> {
    lease: &'a lease::Lease,
    run_id: i64,
    status: RunStatus,
    counts: &'a Counts,
    had_errors: bool,
    error_codes: &'a [String],
    selection_json: &'a str,
}

/// The last transaction of a run: marks it `completed` (or `partial`) and makes it the
/// selection's latest. It first reads the run's status: after an ambiguous commit or a lost
/// connection, the retry finds the run completed and stops there (the commit had landed) — so a
/// run that landed is never recorded as failed.
async fn complete(session: &mut Session, done: &Completion<'_>) -> Result<(), SyncError> {
    let target = session.target().clone();
    let during = "completing the run";
    let counts_json = serde_json::to_string(done.counts).unwrap_or_else(|_| "{}".into());
    session
        .transaction(during, async |tx| {
            let status: String = tx
                .query_one(
                    "SELECT status FROM sync_runs WHERE id = $1::INT8",
                    &[&done.run_id],
                )
                .await
                .map_err(|e| target.classify(&e, during))?
                .get(0);
            match status.as_str() {
                "running" => {}
                "completed" | "partial" => {
                    log::info!(
                        "run {} was already completed: the earlier commit landed",
                        done.run_id
                    );
                    return Ok(());
                }
                // Closed as abandoned by another sync: its lease had expired.
                _ => {
                    return Err(SyncError::LeaseLost {
                        ttl_secs: done.lease.ttl.as_secs(),
                    });
                }
            }
            lease::fence(tx, &target, done.lease).await?;
            tx.execute(
                "UPDATE sync_runs SET status = $2::TEXT, finished_at = clock_timestamp(), \
                 counts = $3::TEXT::JSONB, had_errors = $4::BOOL, error_codes = $5::TEXT[] \
                 WHERE id = $1::INT8",
                &[
                    &done.run_id,
                    &done.status.as_str(),
                    &counts_json,
                    &done.had_errors,
                    &done.error_codes,
                ],
            )
            .await
            .map_err(|e| target.classify(&e, during))?;
            tx.execute(
                "INSERT INTO selections (selection_hash, selection, latest_run_id, updated_at) \
                 VALUES ($1::TEXT, $2::TEXT::JSONB, $3::INT8, now()) \
                 ON CONFLICT (selection_hash) DO UPDATE SET selection = excluded.selection, \
                 latest_run_id = excluded.latest_run_id, updated_at = excluded.updated_at",
                &[
                    &done.lease.selection_hash,
                    &done.selection_json,
                    &done.run_id,
                ],
            )
            .await
            .map_err(|e| target.classify(&e, during))?;
            Ok(())
        })
        .await
}

/// After completion, in bounded transactions: the findings of runs beyond the newest
/// [`upsert::KEPT_FINDING_RUNS`]; with `--rebuild`, the selection's older runs and the rows no
/// selection sees any more. Nothing here changes what readers trust (it is all older than the
/// latest run, or unseen).
async fn clean_up(
    session: &mut Session,
    selection_hash: &str,
    run_id: i64,
    rebuild: bool,
    size: usize,
) -> Result<(), SyncError> {
    let target = session.target().clone();
    let during = "cleaning up old runs";
    let (sql, keep): (&str, i64) = if rebuild {
        (
            "SELECT id FROM sync_runs WHERE selection_hash = $1::TEXT AND id <> $3::INT8 \
             AND EXISTS (SELECT 1 FROM findings AS f WHERE f.run_id = sync_runs.id) OFFSET $2::INT8",
            0,
        )
    } else {
        (
            "SELECT id FROM sync_runs WHERE selection_hash = $1::TEXT AND id <> $3::INT8 \
             AND EXISTS (SELECT 1 FROM findings AS f WHERE f.run_id = sync_runs.id) \
             ORDER BY id DESC OFFSET $2::INT8",
            upsert::KEPT_FINDING_RUNS - 1,
        )
    };
    let old: Vec<i64> = session
        .transaction(during, async |tx| {
            Ok(tx
                .query(sql, &[&selection_hash, &keep, &run_id])
                .await
                .map_err(|e| target.classify(&e, during))?
                .iter()
                .map(|row| row.get(0))
                .collect())
        })
        .await?;
    for id in old {
        upsert::delete_findings_of_run(session, id, size).await?;
    }
    if rebuild {
        upsert::delete_in_chunks(
            session,
            &upsert::Deletion {
                during: "forgetting the selection's older runs (--rebuild)",
                table: "sync_runs",
                key: "id",
                select: "SELECT id FROM sync_runs WHERE selection_hash = $1::TEXT AND id <> $2::INT8 \
             LIMIT $3::INT8",
            },
            selection_hash,
            run_id,
            size,
        )
        .await?;
        for (table, key, sightings) in [
            ("nodes", "path", "node_sightings"),
            ("inventory_items", "item_key", "inventory_sightings"),
        ] {
            // `$1` and `$2` are not needed here, but every chunked delete takes them.
            upsert::delete_in_chunks(
                session,
                &upsert::Deletion {
                    during: "forgetting rows no selection sees (--rebuild)",
                    table,
                    key,
                    select: &format!(
                        "SELECT t.{key} FROM {table} AS t WHERE $1::TEXT IS NOT NULL \
                     AND $2::INT8 IS NOT NULL AND NOT EXISTS \
                     (SELECT 1 FROM {sightings} AS s WHERE s.{key} = t.{key}) LIMIT $3::INT8"
                    ),
                },
                selection_hash,
                run_id,
                size,
            )
            .await?;
        }
    }
    Ok(())
}

/// The nodes missing for the selection now.
async fn read_missing(
    session: &mut Session,
    selection_hash: &str,
) -> Result<Vec<MissingNode>, SyncError> {
    let target = session.target().clone();
    let during = "reading missing nodes";
    session
        .transaction(during, async |tx| {
            Ok(tx
                .query(
                    "SELECT path, node_id, hostname, last_seen_at::TEXT, last_seen_run_id \
                     FROM missing_nodes WHERE selection_hash = $1::TEXT ORDER BY path",
                    &[&selection_hash],
                )
                .await
                .map_err(|e| target.classify(&e, during))?
                .iter()
                .map(|r| MissingNode {
                    path: r.get(0),
                    node_id: r.get(1),
                    hostname: r.get(2),
                    last_seen_at: r.get(3),
                    last_seen_run_id: r.get(4),
                })
                .collect())
        })
        .await
}

/// Records a failed run (best effort, within [`Session::last_words`]: on a fresh connection when
/// the run's was lost). Only a run still `running` is marked, so a completion that landed is
/// never overwritten. The stored error is the message without any secret: built from scrubbed
/// texts and the shown URL only.
async fn mark_failed(session: &mut Session, run_id: i64, error: &SyncError) {
    let target = session.target().clone();
    let message = target.scrub(&error.to_string());
    let codes = vec![error.kind().to_owned()];
    let during = "recording the run as failed";
    let marked = session
        .last_words(during, async |tx| {
            tx.execute(
                "UPDATE sync_runs SET status = $2::TEXT, finished_at = clock_timestamp(), \
                 error = $3::TEXT, error_codes = $4::TEXT[], had_errors = true \
                 WHERE id = $1::INT8 AND status = 'running'",
                &[&run_id, &RunStatus::Failed.as_str(), &message, &codes],
            )
            .await
            .map_err(|e| target.classify(&e, during))
        })
        .await;
    match marked {
        Ok(_) => log::info!("recorded run {run_id} as failed ({})", error.kind()),
        Err(e) => log::warn!(
            "could not record run {run_id} as failed ({e}); the next sync closes it as abandoned \
             once its lease expired"
        ),
    }
}
