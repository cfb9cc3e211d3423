//! `enlist sync` at fleet scale (issue 16), against a real PostgreSQL: least privilege (two roles,
//! no DDL when the schema is current, the exact missing grant), SERIALIZABLE (four overlapping
//! syncs; conflicts, deadlocks and ambiguous commits injected by the database itself; an ambiguous
//! commit that did land), chunked transactions, runs of killed syncs closed as `abandoned`,
//! selections named by their repository, and database URLs that would not parse as meant.
//!
//! Helpers (a database per test, generated trees) are `sync.rs`'s. Like there, without PostgreSQL
//! these tests print why and pass, unless `ENLIST_DB_TEST=1`.

use std::fs;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::{enlist, stderr};
use crate::sync::{Db, Tree, assert_exit, findings_as_report, fleet, inventory_path, sync_args};

const LATEST: i64 = enlist::sync::schema::LATEST;

/// A URL for `user` on the test server.
fn url_as(db: &Db, user: &str, password: &str) -> String {
    format!(
        "postgresql://{user}:{password}@127.0.0.1:{}/{}?sslmode=disable",
        db.pg.port(),
        db.name
    )
}

/// `enlist sync` on `tree` (or `--migrate` alone when `tree` is `None`) with `url`.
fn sync_with(
    url: &str,
    tree: Option<&Tree>,
    extra: &[&str],
    env: &[(&str, &str)],
) -> std::process::Output {
    let mut args: Vec<&str> = match tree {
        Some(tree) => sync_args(tree.path(), &[]),
        None => vec!["sync"],
    };
    args.extend_from_slice(extra);
    let mut all_env = vec![("ENLIST_DATABASE_URL", url)];
    all_env.extend_from_slice(env);
    enlist(&args, &all_env)
}

/// The README's PostgreSQL two-role block, as the fixture the end-to-end crate keeps equal to it
/// (`readme_two_roles_block_is_the_tested_one`): (statements for the superuser, statements for
/// the owner after `--migrate`).
fn readme_two_roles() -> (Vec<String>, Vec<String>) {
    let block = fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/postgres-two-roles.sql"
    ))
    .unwrap();
    let (superuser, owner) = block.split_once("-- then:").expect("the `-- then:` line");
    let statements = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|l| !l.trim_start().starts_with("--") && !l.trim().is_empty())
            .map(str::to_owned)
            .collect()
    };
    let owner: String = owner
        .split_once('\n')
        .map(|(_, rest)| rest.to_owned())
        .unwrap();
    (statements(superuser), statements(&owner))
}

#[test]
fn two_roles_owner_migrates_and_a_dml_only_role_syncs() {
    let Some(db) = Db::new("two_roles") else {
        return;
    };
    let (superuser, owner_grants) = readme_two_roles();
    // The README's statements, for this test's database (roles are cluster-wide: created once).
    for statement in &superuser {
        let statement = statement
            .replace("'change-me'", "'pw-two-roles'")
            .replace("DATABASE registry", &format!("DATABASE \"{}\"", db.name));
        if statement.starts_with("CREATE DATABASE") {
            db.pg
                .psql("postgres", &format!("DROP DATABASE \"{}\"", db.name))
                .unwrap();
            db.pg.psql("postgres", &statement).unwrap();
        } else {
            db.pg.psql("postgres", &statement).unwrap();
        }
    }
    // Every DDL statement anybody runs in this database is recorded.
    db.exec(
        "CREATE SCHEMA audit; CREATE TABLE audit.ddl (who TEXT, tag TEXT); \
         CREATE FUNCTION audit.log_ddl() RETURNS event_trigger LANGUAGE plpgsql SECURITY DEFINER \
         AS $$ BEGIN INSERT INTO audit.ddl VALUES (session_user, tg_tag); END $$; \
         CREATE EVENT TRIGGER log_ddl ON ddl_command_start EXECUTE FUNCTION audit.log_ddl()",
    );
    let owner = url_as(&db, "enlist_owner", "pw-two-roles");
    let ci = url_as(&db, "enlist_ci", "pw-two-roles");
    let tree = Tree::new();
    fleet(&tree, 4);

    // No schema yet, and CI's role may not create it: told exactly that, and what to run.
    let out = sync_with(&ci, Some(&tree), &[], &[]);
    assert_exit(&out, 77, "ci on an empty database");
    let err = stderr(&out);
    assert!(err.contains("at version 0"), "{err}");
    assert!(err.contains("enlist sync --migrate"), "{err}");
    assert!(
        err.contains("GRANT CREATE ON SCHEMA public TO enlist_ci"),
        "{err}"
    );
    assert!(!err.contains("pw-two-roles"), "{err}");

    // The owner migrates (no checkout needed), then grants as the README says.
    let out = sync_with(&owner, None, &["--migrate"], &[]);
    assert_exit(&out, 0, "owner --migrate");
    assert!(
        stderr(&out).contains(&format!("schema at version {LATEST}")),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        db.scalar("SELECT max(version) FROM schema_migrations"),
        LATEST.to_string()
    );
    assert_eq!(
        db.scalar("SELECT count(*) FROM audit.ddl WHERE who <> 'enlist_owner'"),
        "0"
    );
    db.exec(&format!(
        "SET ROLE enlist_owner; {}",
        owner_grants.join(" ")
    ));
    db.exec("TRUNCATE audit.ddl");

    // CI's DML-only role syncs, and neither it nor the owner runs DDL on a current schema.
    let out = sync_with(&ci, Some(&tree), &[], &[]);
    assert_exit(&out, 0, "ci sync");
    assert!(
        stderr(&out).contains("sync run 1 completed"),
        "{}",
        stderr(&out)
    );
    assert_exit(&sync_with(&owner, Some(&tree), &[], &[]), 0, "owner sync");
    assert_eq!(db.scalar("SELECT count(*) FROM audit.ddl"), "0", "no DDL");
    assert_eq!(db.scalar("SELECT count(*) FROM nodes"), "4");

    // A missing grant is named exactly, the sequence's USAGE included.
    db.exec(
        "SET ROLE enlist_owner; REVOKE USAGE ON SEQUENCE sync_run_ids FROM enlist_ci; \
         REVOKE INSERT, UPDATE ON nodes FROM enlist_ci",
    );
    let out = sync_with(&ci, Some(&tree), &[], &[]);
    assert_exit(&out, 77, "missing grants");
    let err = stderr(&out);
    assert!(err.contains("INSERT, UPDATE on table nodes"), "{err}");
    assert!(err.contains("USAGE on sequence sync_run_ids"), "{err}");
    assert!(
        err.contains("GRANT INSERT, UPDATE ON nodes TO enlist_ci;"),
        "{err}"
    );
    assert!(
        err.contains("GRANT USAGE ON SEQUENCE sync_run_ids TO enlist_ci;"),
        "{err}"
    );
    assert!(!err.contains("CREATE on the database"), "{err}");
    db.exec(&format!(
        "SET ROLE enlist_owner; {}",
        owner_grants.join(" ")
    ));

    // An older schema (an enlist upgrade): CI's role is told to have the owner migrate.
    db.exec(&format!(
        "DELETE FROM schema_migrations WHERE version = {LATEST}"
    ));
    let out = sync_with(&ci, Some(&tree), &[], &[]);
    assert_exit(&out, 77, "older schema");
    let err = stderr(&out);
    assert!(
        err.contains(&format!("at version {} ", LATEST - 1)) && err.contains("--migrate"),
        "{err}"
    );
    assert_exit(
        &sync_with(&owner, None, &["--migrate"], &[]),
        0,
        "owner migrates again",
    );
    assert_exit(
        &sync_with(&ci, Some(&tree), &[], &[]),
        0,
        "ci after the upgrade",
    );
    let runs = db.rows("SELECT status FROM sync_runs ORDER BY id");
    assert!(
        runs.iter()
            .all(|r| r["status"] == "completed" || r["status"] == "failed"),
        "{runs:?}"
    );
}

#[test]
fn four_overlapping_syncs_under_serializable_all_exit_0() {
    let Some(db) = Db::new("serializable") else {
        return;
    };
    db.exec(&format!(
        "ALTER DATABASE \"{}\" SET default_transaction_isolation = 'serializable'",
        db.name
    ));
    assert_eq!(
        db.scalar("SHOW default_transaction_isolation"),
        "serializable"
    );
    let tree = Tree::new();
    fleet(&tree, 400); // alice: even, bob: odd
    let url = db.url();
    let selections: [&[&str]; 4] = [&[], &["--operator", "alice"], &["--operator", "bob"], &[]];
    let start = Instant::now();
    let children: Vec<_> = selections
        .iter()
        .map(|extra| {
            Command::new(env!("CARGO_BIN_EXE_enlist"))
                .args(sync_args(tree.path(), extra))
                .env_clear()
                .env("PATH", std::env::var("PATH").unwrap_or_default())
                .env("ENLIST_CONFIG", "/dev/null")
                .env("ENLIST_DATABASE_URL", &url)
                // Many small transactions, so the four syncs interleave all the way.
                .env("ENLIST_SYNC_CHUNK_ROWS", "20")
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut retries = 0;
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert_exit(&out, 0, "overlapping sync under SERIALIZABLE");
        retries += stderr(&out)
            .matches("running the transaction again")
            .count();
    }
    eprintln!(
        "four overlapping syncs under SERIALIZABLE: all exited 0 in {:.1?}, {retries} \
         transaction(s) retried after conflicts",
        start.elapsed()
    );
    let runs = db.rows("SELECT status FROM sync_runs ORDER BY id");
    assert_eq!(runs.len(), 4);
    assert!(runs.iter().all(|r| r["status"] == "completed"), "{runs:?}");
    assert_eq!(db.scalar("SELECT count(*) FROM selections"), "3");
    assert_eq!(db.scalar("SELECT count(*) FROM nodes"), "400");
    assert_eq!(db.scalar("SELECT count(*) FROM sync_leases"), "0");
    for operators in [&[][..], &["alice"], &["bob"]] {
        assert_eq!(
            db.missing(operators).0,
            Vec::<String>::new(),
            "{operators:?}"
        );
    }
    assert_eq!(
        findings_as_report(&db, &db.selection_hash(&[])),
        tree.reconcile()
    );
}

/// Installs a trigger on `table` that raises SQLSTATE `code` the first `times` times it fires
/// (counted by a sequence: a rolled-back transaction does not undo `nextval`). `deferred`: at
/// COMMIT (a constraint trigger), else before each statement.
fn inject(db: &Db, name: &str, table: &str, events: &str, code: &str, times: u32, deferred: bool) {
    db.exec(&format!(
        "CREATE SEQUENCE {name}_count; \
         CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
           IF nextval('{name}_count') <= {times} THEN \
             RAISE EXCEPTION 'injected by the test ({name})' USING ERRCODE = '{code}'; \
           END IF; RETURN NULL; END $$"
    ));
    if deferred {
        db.exec(&format!(
            "CREATE CONSTRAINT TRIGGER {name} AFTER {events} ON {table} DEFERRABLE INITIALLY \
             DEFERRED FOR EACH ROW EXECUTE FUNCTION {name}()"
        ));
    } else {
        db.exec(&format!(
            "CREATE TRIGGER {name} BEFORE {events} ON {table} FOR EACH STATEMENT EXECUTE \
             FUNCTION {name}()"
        ));
    }
}

#[test]
fn conflicts_deadlocks_and_ambiguous_commits_are_retried_with_backoff() {
    let Some(db) = Db::new("injected") else {
        return;
    };
    let tree = Tree::new();
    fleet(&tree, 12);
    assert_exit(
        &db.sync(tree.path(), &[]),
        0,
        "first sync (creates the schema)",
    );
    // Serialization failures on a node chunk, a deadlock on the lease fence, an ambiguous
    // commit on a findings chunk, and a serialization failure at COMMIT of the completion.
    inject(
        &db,
        "boom_nodes",
        "nodes",
        "INSERT OR UPDATE",
        "40001",
        2,
        false,
    );
    inject(
        &db,
        "boom_fence",
        "sync_leases",
        "UPDATE",
        "40P01",
        1,
        false,
    );
    inject(
        &db,
        "boom_findings",
        "findings",
        "INSERT",
        "40003",
        1,
        false,
    );
    inject(
        &db,
        "boom_commit",
        "selections",
        "INSERT OR UPDATE",
        "40001",
        1,
        true,
    );
    // A changed node, so the nodes chunk writes (the trigger fires on writes).
    let mut changed = crate::sync::machine(3);
    changed.hostname = "renamed".into();
    tree.node("bob", &changed);
    let out = db.sync(tree.path(), &["--show-missing"]);
    assert_exit(&out, 0, "sync through injected failures");
    let err = stderr(&out);
    assert_eq!(
        err.matches("running the transaction again").count(),
        5,
        "{err}"
    );
    for code in ["40001", "40P01", "40003"] {
        assert!(err.contains(&format!("SQLSTATE {code}")), "{code}: {err}");
    }
    assert!(err.contains("5 transaction(s) retried"), "{err}");
    let runs = db.rows("SELECT id, status FROM sync_runs ORDER BY id");
    assert_eq!(
        runs,
        vec![
            json!({"id": 1, "status": "completed"}),
            json!({"id": 2, "status": "completed"})
        ]
    );
    assert_eq!(db.scalar("SELECT latest_run_id FROM selections"), "2");
    assert_eq!(
        findings_as_report(&db, &db.selection_hash(&[])),
        tree.reconcile()
    );
    assert_eq!(
        db.scalar("SELECT count(*) FROM nodes WHERE hostname = 'renamed'"),
        "1"
    );
    // The changed file's document was written again (facts are serialized for rewritten rows).
    assert_eq!(
        db.scalar("SELECT count(*) FROM nodes WHERE facts->>'hostname' = 'renamed'"),
        "1"
    );

    // A conflict that never ends: given up within the budget, exit 75, the run failed.
    inject(
        &db,
        "boom_forever",
        "nodes",
        "INSERT OR UPDATE",
        "40001",
        1_000_000,
        false,
    );
    changed.hostname = "renamed again".into();
    tree.node("bob", &changed);
    let started = Instant::now();
    let out = db.sync_env(tree.path(), &[], &[("ENLIST_SYNC_RETRY_SECS", "2")]);
    assert_exit(&out, 75, "endless conflict");
    assert!(started.elapsed() < Duration::from_secs(30));
    let err = stderr(&out);
    assert!(err.contains("gave up after"), "{err}");
    assert_eq!(
        db.scalar("SELECT status FROM sync_runs WHERE id = 3"),
        "failed"
    );
    assert_eq!(db.scalar("SELECT latest_run_id FROM selections"), "2");
}

/// A TCP proxy in front of the server that, once, lets the COMMIT of the run's completion reach
/// the server and then cuts the connection before the answer comes back: the commit landed, the
/// client cannot know.
fn cut_after_completion_commit(port: u16) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let proxy_port = listener.local_addr().unwrap().port();
    let fired = Arc::new(AtomicBool::new(false));
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let Ok(server) = TcpStream::connect(("127.0.0.1", port)) else {
                continue;
            };
            let cut = Arc::new(AtomicBool::new(false));
            let (mut c_in, mut c_out) = (client.try_clone().unwrap(), client);
            let (mut s_in, mut s_out) = (server.try_clone().unwrap(), server);
            let cut_reader = cut.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 16384];
                while let Ok(n) = s_in.read(&mut buf) {
                    if n == 0
                        || cut_reader.load(Ordering::SeqCst)
                        || c_out.write_all(&buf[..n]).is_err()
                    {
                        break;
                    }
                }
            });
            let fired = fired.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 16384];
                let mut armed = false;
                let mut seen: Vec<u8> = Vec::new();
                while let Ok(n) = c_in.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    seen.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&seen).into_owned();
                    if !armed && text.contains("counts = $3::TEXT::JSONB") {
                        // Only a COMMIT sent after the completion's UPDATE counts.
                        armed = true;
                        seen.clear();
                    }
                    let commit = armed && seen.windows(12).any(|w| w == b"Q\0\0\0\x0bCOMMIT\0");
                    if commit && !fired.swap(true, Ordering::SeqCst) {
                        cut.store(true, Ordering::SeqCst);
                        let _ = s_out.write_all(&buf[..n]);
                        std::thread::sleep(Duration::from_millis(300));
                        let _ = s_out.shutdown(Shutdown::Both);
                        let _ = c_in.shutdown(Shutdown::Both);
                        break;
                    }
                    if s_out.write_all(&buf[..n]).is_err() {
                        break;
                    }
                    // Keep only a tail: enough to find a pattern split across reads.
                    if seen.len() > 4096 {
                        seen.drain(..seen.len() - 256);
                    }
                }
            });
        }
    });
    proxy_port
}

#[test]
fn an_ambiguous_commit_that_landed_is_rechecked_never_recorded_failed() {
    let Some(db) = Db::new("ambiguous") else {
        return;
    };
    let tree = Tree::new();
    fleet(&tree, 5);
    let proxy = cut_after_completion_commit(db.pg.port());
    let url = format!(
        "postgresql://postgres:{}@127.0.0.1:{proxy}/{}?sslmode=disable",
        db.pg.password(),
        db.name
    );
    let out = sync_with(&url, Some(&tree), &[], &[]);
    assert_exit(&out, 0, "sync whose completion commit was cut off");
    let err = stderr(&out);
    assert!(err.contains("the connection was lost"), "{err}");
    assert!(err.contains("run 1 was already completed"), "{err}");
    let runs = db.rows("SELECT id, status, error FROM sync_runs");
    assert_eq!(
        runs,
        vec![json!({"id": 1, "status": "completed", "error": null})]
    );
    assert_eq!(db.scalar("SELECT latest_run_id FROM selections"), "1");
}

#[test]
fn a_killed_sync_is_closed_as_abandoned_once_its_lease_expired() {
    let Some(db) = Db::new("killed") else {
        return;
    };
    let tree = Tree::new();
    fleet(&tree, 60);
    assert_exit(&db.sync(tree.path(), &[]), 0, "first sync");
    // Slow node chunks down (0.3 s each) so the next sync is surely killed mid-run.
    db.exec(
        "CREATE FUNCTION slow() RETURNS trigger LANGUAGE plpgsql AS \
         $$ BEGIN PERFORM pg_sleep(0.3); RETURN NULL; END $$; \
         CREATE TRIGGER slow BEFORE UPDATE ON nodes FOR EACH STATEMENT EXECUTE FUNCTION slow()",
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_enlist"))
        .args(sync_args(tree.path(), &[]))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("ENLIST_CONFIG", "/dev/null")
        .env("ENLIST_DATABASE_URL", db.url())
        .env("ENLIST_SYNC_CHUNK_ROWS", "5")
        .env("ENLIST_SYNC_LEASE_TTL_SECS", "2")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait until run 2 is under way (a chunk of it committed), then SIGKILL it.
    let deadline = Instant::now() + Duration::from_secs(60);
    while db.scalar("SELECT count(*) FROM nodes WHERE last_seen_run_id = 2") == "0" {
        assert!(Instant::now() < deadline, "run 2 never wrote a chunk");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(
        db.scalar("SELECT status FROM sync_runs WHERE id = 2"),
        "running"
    );
    db.exec("DROP TRIGGER slow ON nodes");

    // The next sync waits for the dead sync's lease to expire, takes it over and closes run 2:
    // blocked for about the dead sync's lease lifetime (2 s), not longer.
    let started = Instant::now();
    let out = db.sync(tree.path(), &[]);
    assert_exit(&out, 0, "sync after the crash");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
    let err = stderr(&out);
    assert!(err.contains("closed run(s) 2 as abandoned"), "{err}");
    let runs = db.rows("SELECT id, status, error_codes FROM sync_runs ORDER BY id");
    assert_eq!(runs[1]["status"], "abandoned", "{runs:?}");
    assert_eq!(runs[1]["error_codes"], json!(["abandoned"]));
    assert_eq!(runs[2]["status"], "completed", "{runs:?}");
    assert_eq!(db.scalar("SELECT latest_run_id FROM selections"), "3");
    assert_eq!(db.missing(&[]), (vec![], Some("high".into())));
    assert_eq!(db.scalar("SELECT count(*) FROM sync_leases"), "0");
}

#[test]
fn chunks_bound_the_rows_per_transaction() {
    let Some(db) = Db::new("chunks") else {
        return;
    };
    let tree = Tree::new();
    let paths = fleet(&tree, 30); // 30 nodes, 31 inventory rows
    let out = db.sync_env(tree.path(), &[], &[("ENLIST_SYNC_CHUNK_ROWS", "7")]);
    assert_exit(&out, 0, "chunked sync");
    // Every `facts` column is its node.yaml, as JSON.
    for path in &paths {
        let text = fs::read_to_string(tree.path().join(path)).unwrap();
        let document: serde_json::Value = serde_yaml::from_str(&text).unwrap();
        let stored = db.rows(&format!("SELECT facts FROM nodes WHERE path = '{path}'"));
        assert_eq!(stored[0]["facts"], document, "{path}");
    }
    // Each transaction has its own now(): one last_seen_at per chunk.
    assert_eq!(
        db.scalar("SELECT count(DISTINCT last_seen_at) FROM nodes"),
        "5"
    );
    assert_eq!(
        db.scalar("SELECT count(DISTINCT last_seen_at) FROM inventory_items"),
        "5"
    );
    assert_eq!(
        findings_as_report(&db, &db.selection_hash(&[])),
        tree.reconcile()
    );
    for bad in ["0", "10001", "many"] {
        let out = db.sync_env(tree.path(), &[], &[("ENLIST_SYNC_CHUNK_ROWS", bad)]);
        assert_exit(&out, 64, bad);
        assert!(
            stderr(&out).contains("ENLIST_SYNC_CHUNK_ROWS"),
            "{}",
            stderr(&out)
        );
    }
}

/// Writes `.git/config` with `url` as the origin remote.
fn git_origin(tree: &Tree, url: &str) {
    tree.write(
        ".git/config",
        &format!("[core]\n\tbare = false\n[remote \"origin\"]\n\turl = {url}\n\tfetch = +refs/heads/*:refs/remotes/origin/*\n"),
    );
}

#[test]
fn selections_are_named_by_their_repository_not_the_workspace() {
    let Some(db) = Db::new("sources") else {
        return;
    };
    // Two repositories with the same layout (inventory.csv at the root, `--nodes .`).
    let a = Tree::new();
    git_origin(
        &a,
        "https://x-access-token:ghs_SECRETTOKEN@github.com/example-org/cluster-a.git",
    );
    fleet(&a, 4);
    let b = Tree::new();
    git_origin(&b, "git@github.com:example-org/cluster-b.git");
    for i in 10..13 {
        b.node("bob", &crate::sync::machine(i));
    }
    fs::copy(
        a.path().join("inventory.csv"),
        b.path().join("inventory.csv"),
    )
    .unwrap();
    assert_exit(&db.sync(a.path(), &[]), 0, "a");
    assert_exit(&db.sync(b.path(), &[]), 0, "b");
    assert_exit(&db.sync(a.path(), &[]), 0, "a again");
    let selections = db.rows("SELECT selection->>'source' AS source FROM selections ORDER BY 1");
    assert_eq!(
        selections,
        vec![
            json!({"source": "github.com/example-org/cluster-a"}),
            json!({"source": "github.com/example-org/cluster-b"})
        ]
    );
    // Neither repository's nodes are "missing" in the other's selection.
    assert_eq!(db.scalar("SELECT count(*) FROM missing_nodes"), "0");
    // The same repository in another CI workspace (another path): the same selection.
    let a2 = Tree::new();
    git_origin(&a2, "https://github.com/example-org/cluster-a");
    let paths = fleet(&a2, 4);
    a2.remove_node(&paths[1]);
    assert_exit(
        &db.sync(a2.path(), &["--show-missing"]),
        0,
        "a in another workspace",
    );
    assert_eq!(db.scalar("SELECT count(*) FROM selections"), "2");
    assert_eq!(db.scalar("SELECT count(*) FROM missing_nodes"), "1");
    // `--source` names a tree explicitly; the token in a's origin is stored nowhere.
    assert_exit(
        &db.sync(b.path(), &["--source", "fleet-b"]),
        0,
        "explicit source",
    );
    assert_eq!(db.scalar("SELECT count(*) FROM selections"), "3");
    for table in ["selections", "sync_runs"] {
        assert_eq!(
            db.scalar(&format!(
                "SELECT count(*) FROM {table} AS t WHERE t::TEXT LIKE '%SECRETTOKEN%'"
            )),
            "0",
            "{table}"
        );
    }
}

#[test]
fn a_password_with_an_unencoded_at_is_refused_showing_none_of_it() {
    let tree = Tree::new();
    fleet(&tree, 1);
    let url = "postgresql://ci:p@ssW0rdXYZ@127.0.0.1:5432/registry?sslmode=disable";
    for out in [
        enlist(
            &sync_args(tree.path(), &[]),
            &[("ENLIST_DATABASE_URL", url)],
        ),
        enlist(
            &[
                "sync",
                "--nodes",
                tree.path().to_str().unwrap(),
                "--inventory",
                inventory_path(tree.path()),
                "--database-url",
                url,
            ],
            &[],
        ),
        enlist(&["sync", "--migrate"], &[("ENLIST_DATABASE_URL", url)]),
    ] {
        assert_exit(&out, 64, "unencoded @");
        let err = stderr(&out);
        for part in ["ssW0rd", "W0rdXYZ", "p@ss", "XYZ@"] {
            assert!(!err.contains(part), "{part} in {err}");
        }
        assert!(err.contains("percent-encode"), "{err}");
    }
}
