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

/// Runs `enlist <args>` under script(1), i.e. with stderr on a pseudo-terminal; `None` when
/// script(1) (util-linux) is not installed.
fn enlist_on_a_terminal(args: &[&str], env: &[(&str, &str)]) -> Option<String> {
    let script = std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join("script"))
        .find(|p| p.is_file())?;
    let command = std::iter::once(env!("CARGO_BIN_EXE_enlist"))
        .chain(args.iter().copied())
        .map(|a| format!("'{a}'"))
        .collect::<Vec<_>>()
        .join(" ");
    let mut cmd = std::process::Command::new(script);
    cmd.args(["-qec", &command, "/dev/null"])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("ENLIST_CONFIG", "/dev/null")
        .env("TERM", "xterm");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run script(1)");
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn level_names_are_coloured_only_on_a_terminal_without_no_color() {
    let state = tempfile::tempdir().unwrap();
    let root = fixture("dell-r640");
    // Fails with exit 78 (no token): an error line on stderr.
    let args = [
        "register",
        "--repo",
        "a/b",
        "--root",
        root.to_str().unwrap(),
        "--state-dir",
        state.path().to_str().unwrap(),
    ];
    let piped = enlist(&args, &[]);
    assert_eq!(piped.status.code(), Some(78));
    assert!(stderr(&piped).contains("enlist: error: no GitHub token"));
    assert!(
        !stderr(&piped).contains('\x1b'),
        "no escape codes in a pipe, a file or the journal"
    );
    let Some(tty) = enlist_on_a_terminal(&args, &[]) else {
        eprintln!("skipping the terminal half: script(1) is not installed");
        return;
    };
    assert!(
        tty.contains("\x1b[1;31merror\x1b[0m: no GitHub token"),
        "{tty:?}"
    );
    assert!(tty.contains("\x1b[32minfo\x1b[0m: "), "{tty:?}");
    let no_color = enlist_on_a_terminal(&args, &[("NO_COLOR", "1")]).unwrap();
    assert!(
        no_color.contains("enlist: error: no GitHub token"),
        "{no_color:?}"
    );
    assert!(!no_color.contains('\x1b'), "{no_color:?}");
}

#[test]
fn man_pages_and_completions_for_packagers() {
    let dir = tempfile::tempdir().unwrap();
    let out = enlist(&["manpage", "--dir", dir.path().to_str().unwrap()], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    for page in [
        "enlist.1",
        "enlist-register.1",
        "enlist-reconcile.1",
        "enlist-status.1",
    ] {
        let text = std::fs::read_to_string(dir.path().join(page)).unwrap();
        assert!(text.contains(".TH "), "{page}");
    }
    let out = enlist(&["manpage"], &[]);
    assert!(stdout(&out).contains(".SH \"EXIT STATUS\""));
    assert!(
        !stdout(&enlist(&["--help"], &[])).contains("manpage"),
        "a packager's command, hidden from --help"
    );
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = enlist(&["completions", shell], &[]);
        assert!(out.status.success(), "{shell}");
        let script = stdout(&out);
        assert!(script.contains("reconcile"), "{shell}");
    }
}

#[test]
fn malformed_token_is_a_config_error_that_never_shows_the_token() {
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "ghp_first_line_secret\nsecond line\n").unwrap();
    let root = fixture("dell-r640");
    let base = [
        "register",
        "--repo",
        "a/b",
        "--api-url",
        "http://127.0.0.1:9",
        "--root",
        root.to_str().unwrap(),
        "--state-dir",
        dir.path().to_str().unwrap(),
    ];
    let mut with_file = base.to_vec();
    with_file.extend(["--token-file", token_file.to_str().unwrap()]);
    let out = enlist(&with_file, &[]);
    assert_eq!(out.status.code(), Some(78), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("holds more than the token"),
        "{}",
        stderr(&out)
    );
    let out = enlist(&base, &[("GITHUB_TOKEN", "ghp_env_secret with a space")]);
    assert_eq!(out.status.code(), Some(78), "{}", stderr(&out));
    for text in [stderr(&out), stdout(&out)] {
        assert!(!text.contains("secret"), "{text}");
    }
}

#[test]
fn every_error_message_says_what_to_do_next() {
    let dir = tempfile::tempdir().unwrap();
    let root = fixture("dell-r640");
    let root = root.to_str().unwrap();
    let state = dir.path().to_str().unwrap();
    let config = dir.path().join("config.yaml");
    std::fs::write(&config, "repo: acme/fleet\noperatr: alice\n").unwrap();
    let bad_csv = dir.path().join("bad.csv");
    std::fs::write(&bad_csv, "hostname,model\nx,y\n").unwrap();
    let cases: Vec<Vec<&str>> = vec![
        vec!["register", "--dry-run"],
        vec![
            "register",
            "--dry-run",
            "--config",
            config.to_str().unwrap(),
        ],
        vec![
            "register",
            "--dry-run",
            "--config",
            "/nonexistent/enlist.yaml",
        ],
        vec![
            "register",
            "--repo",
            "a/b",
            "--root",
            root,
            "--state-dir",
            state,
        ],
        vec![
            "register",
            "--dry-run",
            "--repo",
            "a/b",
            "--root",
            root,
            "--token-file",
            "/nonexistent/token",
        ],
        vec![
            "reconcile",
            "--nodes",
            "/nonexistent",
            "--inventory",
            "/nonexistent",
        ],
        vec![
            "reconcile",
            "--nodes",
            state,
            "--inventory",
            bad_csv.to_str().unwrap(),
        ],
    ];
    // After the first clause (what failed), one clause starts with an instruction.
    let verbs = [
        "set",
        "create",
        "fix",
        "put",
        "check",
        "pass",
        "add",
        "run",
        "use",
        "point",
        "give",
        "replace",
        "choose",
        "retry",
        "raise",
        "enable",
        "regenerate",
        "register",
        "see",
    ];
    for args in cases {
        let out = enlist(&args, &[]);
        assert!(!out.status.success(), "{args:?}");
        let err = stderr(&out);
        let line = err
            .lines()
            .rev()
            .find(|l| l.starts_with("enlist: error: "))
            .unwrap_or_else(|| panic!("{args:?}: no error line in {err}"));
        let message = line.trim_start_matches("enlist: error: ");
        let advises = message
            .split("; ")
            .flat_map(|clause| clause.split(": "))
            .skip(1)
            .any(|clause| verbs.iter().any(|v| clause.starts_with(&format!("{v} "))));
        assert!(
            advises,
            "{args:?}: the error does not say what to do: {line}"
        );
    }
}
