//! `enlist sync` through the database's ordinary events (issue 29), against a real PostgreSQL:
//! a terminated session and a server restart mid-run (reconnect, resume, complete), a run that
//! gives up (recorded failed, lease released over a fresh connection), the lease heartbeat (a
//! slow sync keeps a short lease; a killed migration blocks for its lifetime and says so), TLS
//! told honestly, privileges checked before the run, and `current_nodes`.
//!
//! Helpers are `sync.rs`'s. The restart and the TLS tests start throw-away servers of their own
//! (the shared one is restarted by nobody, and gets TLS from `sync.rs`'s TLS test). Without
//! PostgreSQL these tests print why and pass, unless `ENLIST_DB_TEST=1`.

use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::{enlist, stderr};
use crate::sync::postgres::{self, Postgres};
use crate::sync::{Db, Tree, assert_exit, fleet, sync_args};

/// A database on a server of the test's own (see the module docs), or `None` when PostgreSQL is
/// unavailable and not required.
fn own_server(test: &str) -> Option<Db> {
    let pg = match Postgres::start() {
        Ok(pg) => pg,
        Err(reason) if postgres::required() => panic!("{test}: PostgreSQL: {reason}"),
        Err(reason) => {
            eprintln!("skipping {test}: PostgreSQL unavailable ({reason})");
            return None;
        }
    };
    // Stopped by its watchdog when the test process exits.
    let pg: &'static Postgres = Box::leak(Box::new(pg));
    let name = format!("t_{test}");
    pg.create_database(&name)
        .unwrap_or_else(|e| panic!("{test}: {e}\n{}", pg.log()));
    Some(Db { pg, name })
}

/// `enlist sync` on `tree` in the background, with `url` and `env`; output captured.
fn spawn_sync(url: &str, tree: &Tree, env: &[(&str, &str)]) -> Child {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_enlist"));
    cmd.args(sync_args(tree.path(), &[]))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("ENLIST_CONFIG", "/dev/null")
        .env("ENLIST_DATABASE_URL", url);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Makes every statement that touches `nodes` sleep `seconds`, so a sync is surely caught
/// mid-run (each chunk touches its stored rows with one `UPDATE`).
fn slow_nodes(db: &Db, seconds: f64) {
    db.exec(&format!(
        "CREATE OR REPLACE FUNCTION slow() RETURNS trigger LANGUAGE plpgsql AS \
         $$ BEGIN PERFORM pg_sleep({seconds}); RETURN NULL; END $$; \
         CREATE TRIGGER slow BEFORE INSERT OR UPDATE ON nodes FOR EACH STATEMENT \
         EXECUTE FUNCTION slow()"
    ));
}

/// Waits until run `run` has committed at least `chunks` node chunks of `size` rows.
fn wait_for_chunks(db: &Db, run: i64, chunks: usize, size: usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let seen: usize = db
            .scalar(&format!(
                "SELECT count(*) FROM node_sightings WHERE last_seen_run_id = {run}"
            ))
            .parse()
            .unwrap();
        if seen >= chunks * size {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "run {run} never wrote {chunks} chunk(s)"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Everything a clean sync of `n` nodes leaves: run `run` completed and the selection's latest,
/// every node and sighting from it, nothing missing, no lease left.
fn assert_complete(db: &Db, run: i64, n: usize) {
    let latest = db.rows(&format!(
        "SELECT status, error FROM sync_runs WHERE id = {run}"
    ));
    assert_eq!(latest, vec![json!({"status": "completed", "error": null})]);
    assert_eq!(
        db.scalar("SELECT latest_run_id FROM selections"),
        run.to_string()
    );
    assert_eq!(
        db.scalar(&format!(
            "SELECT count(*) FROM nodes WHERE last_seen_run_id = {run}"
        )),
        n.to_string()
    );
    assert_eq!(
        db.scalar(&format!(
            "SELECT count(*) FROM node_sightings WHERE last_seen_run_id = {run}"
        )),
        n.to_string()
    );
    assert_eq!(db.missing(&[]), (vec![], Some("high".into())));
    assert_eq!(
        db.scalar("SELECT count(*) FROM current_nodes"),
        n.to_string()
    );
    assert_eq!(db.scalar("SELECT count(*) FROM sync_leases"), "0");
}

fn finish(child: Child) -> Output {
    child.wait_with_output().unwrap()
}

#[test]
fn a_terminated_session_is_reconnected_and_the_run_completes() {
    let Some(db) = Db::new("terminated") else {
        return;
    };
    let tree = Tree::new();
    fleet(&tree, 60);
    assert_exit(&db.sync(tree.path(), &[]), 0, "first sync");
    slow_nodes(&db, 0.2);
    let child = spawn_sync(&db.url(), &tree, &[("ENLIST_SYNC_CHUNK_ROWS", "5")]);
    // Twice, a few chunks apart: the run's connection (mid-statement: 57P01 from the server)
    // and the heartbeat's, if it has one yet.
    let terminate = || {
        db.scalar(&format!(
            "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE \
             datname = '{}' AND application_name = 'enlist sync') AS t",
            db.name
        ))
    };
    wait_for_chunks(&db, 2, 2, 5);
    assert_ne!(terminate(), "0", "no session to terminate");
    wait_for_chunks(&db, 2, 5, 5);
    assert_ne!(terminate(), "0", "no session to terminate");
    let out = finish(child);
    assert_exit(&out, 0, "sync whose session was terminated");
    let err = stderr(&out);
    assert!(err.contains("the connection was lost"), "{err}");
    assert!(err.contains("57P01"), "{err}");
    assert!(err.contains("reconnected"), "{err}");
    assert_complete(&db, 2, 60);
}

#[test]
fn a_server_restart_mid_run_is_survived() {
    let Some(db) = own_server("restart") else {
        return;
    };
    let tree = Tree::new();
    fleet(&tree, 60);
    assert_exit(&db.sync(tree.path(), &[]), 0, "first sync");
    slow_nodes(&db, 0.2);
    let child = spawn_sync(&db.url(), &tree, &[("ENLIST_SYNC_CHUNK_ROWS", "5")]);
    wait_for_chunks(&db, 2, 2, 5);
    // A fast shutdown (sessions get 57P01, new connections 57P03 or a refused socket), then
    // the server starts again on the same port.
    db.pg
        .pg_ctl(&["restart", "-m", "fast", "-w", "-t", "60"])
        .unwrap_or_else(|e| panic!("{e}\n{}", db.pg.log()));
    let out = finish(child);
    assert_exit(&out, 0, "sync through a server restart");
    let err = stderr(&out);
    assert!(err.contains("the connection was lost"), "{err}");
    assert!(err.contains("reconnected"), "{err}");
    assert_complete(&db, 2, 60);
    // The next sync starts at once: nothing was left behind.
    let started = Instant::now();
    assert_exit(&db.sync(tree.path(), &[]), 0, "the sync after");
    assert!(started.elapsed() < Duration::from_secs(20));
}

#[test]
fn a_sync_that_gives_up_is_recorded_failed_and_releases_its_lease() {
    let Some(db) = Db::new("gives_up") else {
        return;
    };
    let tree = Tree::new();
    fleet(&tree, 12);
    assert_exit(&db.sync(tree.path(), &[]), 0, "first sync");
    // Every connection that writes nodes is terminated by the server (57P01): reconnecting
    // works, the chunk never does.
    db.exec(
        "CREATE FUNCTION die() RETURNS trigger LANGUAGE plpgsql AS \
         $$ BEGIN PERFORM pg_terminate_backend(pg_backend_pid()); PERFORM pg_sleep(5); \
         RETURN NULL; END $$; \
         CREATE TRIGGER die BEFORE UPDATE ON nodes FOR EACH STATEMENT EXECUTE FUNCTION die()",
    );
    let started = Instant::now();
    let out = db.sync_env(tree.path(), &[], &[("ENLIST_SYNC_RETRY_SECS", "3")]);
    assert_exit(&out, 75, "connection lost for good");
    assert!(started.elapsed() < Duration::from_secs(40));
    let err = stderr(&out);
    assert!(
        err.contains("lost the connection to the database while writing nodes"),
        "{err}"
    );
    assert!(err.contains("gave up after"), "{err}");
    assert!(err.contains("recorded run 2 as failed"), "{err}");
    assert!(!err.contains(db.pg.password()), "{err}");
    let run = db.rows("SELECT status, error_codes FROM sync_runs WHERE id = 2");
    assert_eq!(
        run,
        vec![json!({"status": "failed", "error_codes": ["connection_lost"]})]
    );
    assert_eq!(db.scalar("SELECT count(*) FROM sync_leases"), "0");
    assert_eq!(db.scalar("SELECT latest_run_id FROM selections"), "1");

    // The lease was released: the next sync does not wait for it.
    db.exec("DROP TRIGGER die ON nodes");
    let out = db.sync_env(tree.path(), &[], &[("ENLIST_SYNC_LEASE_WAIT_SECS", "0")]);
    assert_exit(&out, 0, "the sync after");
    assert_complete(&db, 3, 12);
}

#[test]
fn the_heartbeat_keeps_the_lease_of_a_sync_slower_than_its_lifetime() {
    let Some(db) = Db::new("heartbeat") else {
        return;
    };
    let tree = Tree::new();
    fleet(&tree, 10);
    assert_exit(&db.sync(tree.path(), &[]), 0, "first sync");
    // One chunk of all nodes, 3 s long: three lease lifetimes without a chunk committing.
    slow_nodes(&db, 3.0);
    let env = [
        ("ENLIST_SYNC_LEASE_TTL_SECS", "1"),
        ("ENLIST_SYNC_LEASE_WAIT_SECS", "60"),
    ];
    let first = spawn_sync(&db.url(), &tree, &env);
    let deadline = Instant::now() + Duration::from_secs(30);
    while db.scalar("SELECT count(*) FROM sync_runs WHERE id = 2 AND status = 'running'") == "0" {
        assert!(Instant::now() < deadline, "run 2 never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    // A second sync of the selection, while the first is inside its slow chunk: it must wait
    // for the first to finish (the heartbeat renews the lease), not take it over.
    let second = spawn_sync(&db.url(), &tree, &env);
    let (first, second) = (finish(first), finish(second));
    assert_exit(&first, 0, "slow sync");
    assert_exit(&second, 0, "waiting sync");
    let err = stderr(&second);
    assert!(
        err.contains("another sync of this selection is running"),
        "{err}"
    );
    assert!(!err.contains("abandoned"), "{err}");
    let runs = db.rows("SELECT id, status FROM sync_runs ORDER BY id");
    assert_eq!(
        runs,
        vec![
            json!({"id": 1, "status": "completed"}),
            json!({"id": 2, "status": "completed"}),
            json!({"id": 3, "status": "completed"}),
        ]
    );
    assert_eq!(db.scalar("SELECT count(*) FROM sync_leases"), "0");
}

#[test]
fn a_killed_migration_blocks_syncs_for_its_lifetime_and_says_a_schema_change_is_in_progress() {
    let Some(db) = Db::new("migration_lease") else {
        return;
    };
    let tree = Tree::new();
    fleet(&tree, 3);
    assert_exit(&db.sync(tree.path(), &[]), 0, "first sync");
    // An older schema (so the next sync migrates) and a migration lease held by a dead sync.
    let latest = enlist::sync::schema::LATEST;
    db.exec(&format!(
        "DELETE FROM schema_migrations WHERE version = {latest}"
    ));
    let hold = |seconds: i64| {
        db.exec(&format!(
            "INSERT INTO sync_leases VALUES ('schema', 'ci-runner-9 pid 77 #dead', now(), \
             now() + interval '{seconds} seconds') ON CONFLICT (selection_hash) DO UPDATE SET \
             holder = excluded.holder, expires_at = excluded.expires_at"
        ));
    };
    hold(3600);
    let out = db.sync_env(tree.path(), &[], &[("ENLIST_SYNC_LEASE_WAIT_SECS", "0")]);
    assert_exit(&out, 75, "migration lease held");
    let err = stderr(&out);
    assert!(err.contains("a schema change is in progress"), "{err}");
    assert!(err.contains("ci-runner-9 pid 77"), "{err}");
    assert!(!err.contains("of this selection is running"), "{err}");

    // Each lease the migration holds lasts ENLIST_SYNC_LEASE_TTL_SECS: recorded when the
    // version row is written (under the lease).
    db.exec(
        "CREATE TABLE seen_ttl (ttl INTERVAL); \
         CREATE FUNCTION record_ttl() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
         INSERT INTO seen_ttl SELECT expires_at - acquired_at FROM sync_leases \
         WHERE selection_hash = 'schema'; RETURN NULL; END $$; \
         CREATE TRIGGER record_ttl AFTER INSERT ON schema_migrations FOR EACH ROW \
         EXECUTE FUNCTION record_ttl()",
    );
    // The dead holder's lease runs out while the next sync waits: it takes over and migrates.
    hold(2);
    let started = Instant::now();
    let out = db.sync_env(tree.path(), &[], &[("ENLIST_SYNC_LEASE_TTL_SECS", "7")]);
    assert_exit(&out, 0, "sync after the dead migration's lease expired");
    assert!(started.elapsed() < Duration::from_secs(30));
    let err = stderr(&out);
    assert!(
        err.contains("a schema change is in progress (ci-runner-9 pid 77"),
        "{err}"
    );
    assert!(err.contains(&format!("applying version {latest}")), "{err}");
    assert_eq!(db.scalar("SELECT ttl::TEXT FROM seen_ttl"), "00:00:07");
    assert_eq!(
        db.scalar("SELECT max(version) FROM schema_migrations"),
        latest.to_string()
    );
    assert_eq!(db.scalar("SELECT count(*) FROM sync_leases"), "0");
}

#[test]
fn plaintext_is_called_plaintext_and_required_tls_from_a_server_without_it_names_the_server() {
    let Some(db) = own_server("plaintext") else {
        return;
    };
    let tree = Tree::new();
    fleet(&tree, 2);
    let base = db.url().replace("?sslmode=disable", "");
    let sync = |query: &str| {
        enlist(
            &sync_args(tree.path(), &[]),
            &[("ENLIST_DATABASE_URL", &format!("{base}?{query}"))],
        )
    };

    // prefer (libpq's default) against a server without TLS: a warning that it fell back.
    let out = sync("sslmode=prefer");
    assert_exit(&out, 0, "prefer");
    let err = stderr(&out);
    assert!(
        err.contains("enlist: warning: the database server at postgresql://postgres@127.0.0.1:")
            && err.contains("offers no TLS, so sslmode=prefer fell back to a plaintext connection"),
        "{err}"
    );
    assert!(!err.contains("over TLS"), "{err}");
    assert!(!err.contains("server certificate"), "{err}");

    let out = sync("sslmode=disable");
    assert_exit(&out, 0, "disable");
    let err = stderr(&out);
    assert!(err.contains("in plaintext (sslmode=disable)"), "{err}");
    assert!(!err.contains("over TLS"), "{err}");

    // TLS required: the server must enable it; no advice about certificates.
    for mode in ["require", "verify-full"] {
        let out = sync(&format!("sslmode={mode}"));
        assert_exit(&out, 78, mode);
        let err = stderr(&out);
        assert!(
            err.contains(&format!(
                "does not offer TLS, and sslmode={mode} requires it: the server must enable TLS"
            )),
            "{err}"
        );
        for advice in ["sslrootcert=", "verify-ca", "use sslmode=verify-full"] {
            assert!(!err.contains(advice), "{advice}: {err}");
        }
        assert!(!err.contains(db.pg.password()), "{err}");
    }
    assert_eq!(db.scalar("SELECT count(*) FROM sync_runs"), "2");
}

#[test]
fn a_missing_grant_fails_the_first_run_before_anything_is_recorded() {
    let Some(db) = Db::new("grants_up_front") else {
        return;
    };
    // Roles are cluster-wide: names of this test's own.
    for statement in [
        "DROP ROLE IF EXISTS enlist_ci29",
        "CREATE ROLE enlist_ci29 LOGIN PASSWORD 'pw-grants-29'",
    ] {
        db.pg.psql("postgres", statement).unwrap();
    }
    let tree = Tree::new();
    fleet(&tree, 3);
    assert_exit(
        &db.sync(tree.path(), &[]),
        0,
        "first sync (creates the schema)",
    );
    // Everything but DELETE on findings, which a sync first needs at its 51st run (cleaning
    // up old findings).
    db.exec(
        "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO enlist_ci29; \
         GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO enlist_ci29; \
         REVOKE DELETE ON findings FROM enlist_ci29",
    );
    let ci = format!(
        "postgresql://enlist_ci29:pw-grants-29@127.0.0.1:{}/{}?sslmode=disable",
        db.pg.port(),
        db.name
    );
    let out = enlist(
        &sync_args(tree.path(), &[]),
        &[("ENLIST_DATABASE_URL", &ci)],
    );
    assert_exit(&out, 77, "missing DELETE on findings");
    let err = stderr(&out);
    assert!(err.contains("DELETE on table findings"), "{err}");
    assert!(
        err.contains("GRANT DELETE ON findings TO enlist_ci29;"),
        "{err}"
    );
    assert!(!err.contains("pw-grants-29"), "{err}");
    // Checked before the run: no run recorded, no lease taken.
    assert_eq!(db.scalar("SELECT count(*) FROM sync_runs"), "1");
    assert_eq!(db.scalar("SELECT count(*) FROM sync_leases"), "0");

    db.exec("GRANT DELETE ON findings TO enlist_ci29");
    let out = enlist(
        &sync_args(tree.path(), &[]),
        &[("ENLIST_DATABASE_URL", &ci)],
    );
    assert_exit(&out, 0, "with every grant");
    db.exec("REVOKE ALL ON ALL TABLES IN SCHEMA public FROM enlist_ci29");
    db.exec("REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM enlist_ci29");
}

/// The registry chapter's queries (`docs/src/database.md`, the block that starts with `--
/// missing nodes`; `tests/e2e/repository.rs` keeps this copy equal to it), one statement per
/// `--` line.
fn documented_queries() -> Vec<(String, String)> {
    let block = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/registry-queries.sql"
    ))
    .unwrap();
    let mut queries: Vec<(String, String)> = Vec::new();
    for line in block.lines() {
        if let Some(title) = line.strip_prefix("-- ") {
            queries.push((title.to_owned(), String::new()));
        } else if let Some((_, sql)) = queries.last_mut() {
            sql.push_str(line);
            sql.push('\n');
        }
    }
    queries
}

#[test]
fn current_nodes_is_what_the_latest_finished_run_saw() {
    let Some(db) = Db::new("current_nodes") else {
        return;
    };
    let tree = Tree::new();
    let paths = fleet(&tree, 12);
    assert_exit(&db.sync(tree.path(), &[]), 0, "first sync");
    let current = || -> Vec<String> {
        db.rows("SELECT path FROM current_nodes ORDER BY path")
            .iter()
            .map(|r| r["path"].as_str().unwrap().to_owned())
            .collect()
    };
    let mut want = paths.clone();
    want.sort();
    assert_eq!(current(), want);

    // Two registrations removed: they drop out of current_nodes (and stay in nodes, missing).
    tree.remove_node(&paths[0]);
    tree.remove_node(&paths[1]);
    assert_exit(&db.sync(tree.path(), &[]), 0, "sync after removals");
    want.retain(|p| *p != paths[0] && *p != paths[1]);
    assert_eq!(current(), want);
    assert_eq!(db.scalar("SELECT count(*) FROM nodes"), "12");
    assert_eq!(db.missing(&[]).0.len(), 2);

    // While the next run is under way (one node removed, one added, a removed one back), the
    // view still shows what run 2 saw; once it completes, what run 3 saw.
    let added = tree.node("alice", &crate::sync::machine(500));
    tree.node("alice", &crate::sync::machine(0));
    tree.remove_node(&paths[5]);
    slow_nodes(&db, 0.3);
    let child = spawn_sync(&db.url(), &tree, &[("ENLIST_SYNC_CHUNK_ROWS", "2")]);
    wait_for_chunks(&db, 3, 2, 2);
    assert_eq!(current(), want, "mid-run");
    let out = finish(child);
    assert_exit(&out, 0, "third sync");
    want.retain(|p| *p != paths[5]);
    want.push(added);
    want.push(paths[0].clone());
    want.sort();
    assert_eq!(current(), want, "after run 3");

    // The documented queries run, and count what current_nodes holds.
    db.exec("DROP TRIGGER slow ON nodes");
    for (title, sql) in documented_queries() {
        let rows = db.rows(sql.trim().trim_end_matches(';'));
        if title.starts_with("capacity") {
            // Every current node but the added one (no inventory row) is an active machine.
            let counted: i64 = rows.iter().map(|r| r["count"].as_i64().unwrap()).sum();
            assert_eq!(counted, want.len() as i64 - 1, "{title}: {rows:?}");
        }
    }
}
