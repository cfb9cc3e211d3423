//! The command-line contract (SPEC §2): help for every command, usage errors exit 64, config
//! errors exit 78 naming the key and the file, the token never printed.

use crate::support::{enlist, fixture, stderr, stdout};

#[test]
fn help_and_version_for_every_command() {
    let out = enlist(&["--version"], &[]);
    assert!(out.status.success());
    assert!(stdout(&out).starts_with("enlist "));
    for cmd in [
        "facts",
        "register",
        "status",
        "reconcile",
        "sync",
        "export",
        "completions",
    ] {
        let out = enlist(&[cmd, "--help"], &[]);
        assert!(out.status.success(), "{cmd}: {}", stderr(&out));
        assert!(stdout(&out).contains("Usage: enlist"), "{cmd}");
    }
}

#[test]
fn usage_errors_exit_64() {
    for args in [
        vec!["bogus"],
        vec!["facts", "--format", "xml"],
        vec!["register", "--frobnicate"],
        vec![],
        vec!["reconcile"],
    ] {
        let out = enlist(&args, &[]);
        assert_eq!(out.status.code(), Some(64), "{args:?}: {}", stderr(&out));
    }
}

#[test]
fn unknown_config_key_exits_78_naming_key_and_file() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.yaml");
    std::fs::write(&config, "repo: acme/fleet\noperatr: alice\n").unwrap();
    let out = enlist(
        &[
            "register",
            "--dry-run",
            "--config",
            config.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(78));
    let err = stderr(&out);
    assert!(err.contains("operatr"), "{err}");
    assert!(err.contains(config.to_str().unwrap()), "{err}");
    assert!(out.stdout.is_empty(), "no partial output on a config error");
}

#[test]
fn missing_repo_and_bad_values_exit_78() {
    let out = enlist(&["register", "--dry-run"], &[]);
    assert_eq!(out.status.code(), Some(78), "{}", stderr(&out));
    assert!(stderr(&out).contains("ENLIST_REPO"));
    let out = enlist(&["register", "--dry-run", "--repo", "not-a-repo"], &[]);
    assert_eq!(out.status.code(), Some(78));
    let out = enlist(
        &["register", "--dry-run", "--repo", "a/b"],
        &[("ENLIST_PATH_TEMPLATE", "../{node_id}/node.yaml")],
    );
    assert_eq!(out.status.code(), Some(78));
    assert!(
        stderr(&out).contains("ENLIST_PATH_TEMPLATE"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn register_without_token_exits_78_and_writes_nothing() {
    let state = tempfile::tempdir().unwrap();
    let dir = state.path().join("state");
    let root = fixture("dell-r640");
    let out = enlist(
        &[
            "register",
            "--repo",
            "a/b",
            "--state-dir",
            dir.to_str().unwrap(),
            "--root",
            root.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(78), "{}", stderr(&out));
    assert!(stderr(&out).contains("no GitHub token"), "{}", stderr(&out));
    assert!(!dir.join("registered.json").exists());
}

#[test]
fn live_installer_is_refused_unless_dry_run_or_allowed() {
    let live = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(live.path().join("nix/.ro-store")).unwrap();
    std::fs::create_dir_all(live.path().join("etc")).unwrap();
    std::fs::write(
        live.path().join("etc/machine-id"),
        "0123456789abcdef0123456789abcdef\n",
    )
    .unwrap();
    let state = tempfile::tempdir().unwrap();
    let args = [
        "register",
        "--repo",
        "a/b",
        "--root",
        live.path().to_str().unwrap(),
        "--state-dir",
        state.path().to_str().unwrap(),
    ];
    let out = enlist(&args, &[("GITHUB_TOKEN", "ghp_not_used")]);
    assert_eq!(out.status.code(), Some(78));
    assert!(stderr(&out).contains("live installer"), "{}", stderr(&out));
    let mut dry = args.to_vec();
    dry.push("--dry-run");
    let out = enlist(&dry, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn dry_run_without_token_leaves_no_file() {
    let state = tempfile::tempdir().unwrap();
    let dir = state.path().join("state");
    let root = fixture("supermicro-x11");
    let out = enlist(
        &[
            "register",
            "--dry-run",
            "--repo",
            "a/b",
            "--state-dir",
            dir.to_str().unwrap(),
            "--root",
            root.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(0));
    assert!(
        stderr(&out).contains("remote checks skipped"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("node-8a753f"));
    assert!(
        !dir.exists(),
        "a dry run creates no state directory, lock or marker"
    );
}

#[test]
fn token_file_shared_with_group_warns() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "ghp_secretvalue123\n").unwrap();
    std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o644)).unwrap();
    let root = fixture("dell-r640");
    // --dry-run with an unreachable API: the warning comes before any request.
    let out = enlist(
        &[
            "register",
            "--dry-run",
            "--repo",
            "a/b",
            "--api-url",
            "http://127.0.0.1:9",
            "--token-file",
            token.to_str().unwrap(),
            "--root",
            root.to_str().unwrap(),
        ],
        &[("ENLIST_READINESS_TIMEOUT_SECS", "0")],
    );
    let err = stderr(&out);
    assert!(err.contains("readable by group or others"), "{err}");
    assert!(!err.contains("ghp_secretvalue123"), "{err}");
    assert!(!stdout(&out).contains("ghp_secretvalue123"));
    assert_eq!(
        out.status.code(),
        Some(69),
        "unreachable within the readiness timeout: {err}"
    );
}

#[test]
fn status_without_marker_and_completions() {
    let dir = tempfile::tempdir().unwrap();
    let out = enlist(
        &[
            "status",
            "--json",
            "--state-dir",
            dir.path().to_str().unwrap(),
        ],
        &[],
    );
    assert!(out.status.success());
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["state"], "unregistered");
    let out = enlist(&["completions", "bash"], &[]);
    assert!(out.status.success());
    assert!(stdout(&out).contains("enlist"));
}
