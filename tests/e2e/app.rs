//! GitHub App authentication through the real binary: the App's JWT only on the App endpoints,
//! one installation token narrowed to the repository and to the permissions enlist needs, used
//! for every other request and revoked at the end (also after a failure); each error with its
//! exit code; no secret in any output (every run is scanned for the key, the JWTs and the tokens).

use enlist_e2e::fake::app::{APP_ID, CLIENT_ID, INSTALLATION_ID, key_fixture};
use enlist_e2e::fake::{Fault, FaultKind, Recorded};
use enlist_e2e::node::Node;
use serde_json::json;

use crate::{fake, fresh, pending, without_shas};

const DELL: &str = "node-faf6ca";
const LOOKUP: &str = "GET /repos/acme/fleet/installation";
const MINT: &str = "POST /app/installations/5550001/access_tokens";
const REVOKE: &str = "DELETE /installation/token";

fn bearer(r: &Recorded) -> String {
    r.headers
        .iter()
        .find(|(k, _)| k == "authorization")
        .map(|(_, v)| v.trim_start_matches("Bearer ").to_owned())
        .unwrap_or_default()
}

fn is_jwt(credential: &str) -> bool {
    credential.starts_with("eyJ") && credential.split('.').count() == 3
}

/// The fresh registration's requests between the token calls.
fn app_fresh(lookup: bool) -> Vec<String> {
    let mut lines = Vec::new();
    if lookup {
        lines.push(LOOKUP.to_owned());
    }
    lines.push(MINT.to_owned());
    lines.extend(fresh(DELL));
    lines.push(REVOKE.to_owned());
    lines
}

#[tokio::test(flavor = "multi_thread")]
async fn app_registration_mints_one_narrow_token_uses_it_everywhere_and_revokes_it() {
    let github = fake().await;
    github.with_app();
    let mut node = Node::new("dell-r640", &github);
    node.use_app("app-key.pkcs1.pem");
    let run = node.run(&[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let s = github.state();
    // SPEC §4: the 7 requests of a fresh registration plus the token calls, nothing else.
    assert_eq!(s.lines(), app_fresh(true));
    let app = s.app.as_ref().expect("app");
    assert_eq!(app.tokens.len(), 1, "one token per run");
    let token = &app.tokens[0];
    assert!(token.revoked, "revoked at the end");
    assert_eq!(token.repositories, ["fleet"]);
    assert_eq!(
        s.requests[1].body,
        Some(json!({
            "repositories": ["fleet"],
            "permissions": {
                "contents": "write",
                "pull_requests": "write",
                "metadata": "read",
                "checks": "read",
                "statuses": "read"
            }
        }))
    );
    // The JWT on the two App endpoints (verified by the fake: signature with the App's public
    // key, iss, iat, exp), the installation token on every other request, the PAT nowhere.
    assert_eq!(app.jwts.len(), 2);
    for r in &s.requests {
        let credential = bearer(r);
        match r.line().as_str() {
            LOOKUP | MINT => assert!(is_jwt(&credential), "{}: {credential:.12}", r.line()),
            _ => assert_eq!(credential, token.token, "{}", r.line()),
        }
        // Every credential was accepted (the upstream node.yaml is simply absent: 404).
        assert!(
            r.status / 100 == 2 || (r.status == 404 && r.line().contains("/contents/")),
            "{} answered {}",
            r.line(),
            r.status
        );
    }
    assert_eq!(s.open_pulls().len(), 1);
    drop(s);
    assert_eq!(node.marker().expect("marker")["state"], "pending");
    github.assert_contract();
}

#[tokio::test(flavor = "multi_thread")]
async fn app_from_environment_with_client_id_pkcs8_key_and_installation_id() {
    let github = fake().await;
    github.with_app();
    let mut node = Node::new("dell-r640", &github);
    node.unset("token_file");
    let key = key_fixture("app-key.pkcs8.pem");
    let run = node.run_with_env(
        &[],
        &[
            ("ENLIST_GITHUB_APP_ID", CLIENT_ID),
            ("ENLIST_GITHUB_APP_KEY_FILE", key.to_str().expect("utf-8")),
            (
                "ENLIST_GITHUB_APP_INSTALLATION_ID",
                &INSTALLATION_ID.to_string(),
            ),
        ],
    );
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let s = github.state();
    // A configured installation skips the lookup: the mint is the first request (the probe).
    assert_eq!(s.lines(), app_fresh(false));
    assert_eq!(s.app.as_ref().expect("app").tokens.len(), 1);
    drop(s);
    github.assert_contract();
}

#[tokio::test(flavor = "multi_thread")]
async fn app_key_as_systemd_credential_and_a_present_token_is_not_read() {
    let github = fake().await;
    github.with_app();
    let mut node = Node::new("dell-r640", &github);
    let key = node.use_app("app-key.pkcs1.pem");
    node.unset("github_app_key_file");
    let creds = node.dir().join("credentials");
    std::fs::create_dir(&creds).expect("mkdir");
    std::fs::copy(&key, creds.join("github-app-key")).expect("credential");
    std::fs::copy(&node.token_file, creds.join("github-token")).expect("credential");
    let run = node.run_with_env(
        &["--verbose"],
        &[
            ("CREDENTIALS_DIRECTORY", creds.to_str().expect("utf-8")),
            ("GITHUB_TOKEN", enlist_e2e::fake::TOKEN),
        ],
    );
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(
        run.stderr.contains("github_app_id is set")
            && run
                .stderr
                .contains(&format!("{}/github-token is not read", creds.display())),
        "debug line saying the token is ignored:\n{}",
        run.stderr
    );
    let s = github.state();
    assert_eq!(s.lines(), app_fresh(true));
    assert!(
        s.requests
            .iter()
            .all(|r| bearer(r) != enlist_e2e::fake::TOKEN),
        "the personal token was sent"
    );
    drop(s);
    github.assert_contract();
}

#[tokio::test(flavor = "multi_thread")]
async fn app_id_on_the_command_line() {
    for auto_merge in ["squash", "off"] {
        let github = fake().await;
        github.with_app();
        let mut node = Node::new("dell-r640", &github);
        node.unset("token_file");
        let key = key_fixture("app-key.pkcs1.pem");
        let id = APP_ID.to_string();
        let run = node.run(&[
            "--github-app-id",
            &id,
            "--github-app-key-file",
            key.to_str().expect("utf-8"),
            "--auto-merge",
            auto_merge,
        ]);
        assert_eq!(run.code, Some(0), "{}", run.stderr);
        // The request table (docs/src/first-boot.md): 11 requests, 4 writes + mint + revoke; without auto-merge one less.
        let mut expected = app_fresh(true);
        if auto_merge == "off" {
            expected.retain(|l| l != crate::AUTO_MERGE);
        }
        let s = github.state();
        assert_eq!(s.lines(), expected);
        assert_eq!(s.writes().len(), expected.len() - 5, "{:?}", s.lines());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn key_github_rejects_exits_77_without_pr_token_or_marker() {
    let github = fake().await;
    github.with_app();
    let mut node = Node::new("dell-r640", &github);
    node.use_app("other-key.pkcs1.pem");
    let run = node.run(&[]);
    assert_eq!(run.code, Some(77), "{}", run.stderr);
    for what in ["JWT", "github_app_id", "github-app-key.pem", "clock"] {
        assert!(run.stderr.contains(what), "says {what}:\n{}", run.stderr);
    }
    let s = github.state();
    assert_eq!(s.lines(), [LOOKUP], "nothing after the refused JWT");
    assert_eq!(s.requests[0].status, 401);
    assert!(s.app.as_ref().expect("app").tokens.is_empty());
    assert!(s.pulls.is_empty());
    drop(s);
    assert!(node.marker().is_none());
    github.assert_contract();
}

#[tokio::test(flavor = "multi_thread")]
async fn garbage_key_file_exits_78_naming_it_before_any_request() {
    let github = fake().await;
    github.with_app();
    let mut node = Node::new("dell-r640", &github);
    let key = node.use_app("app-key.pkcs1.pem");
    const CONTENT: &str = "hunter2-definitely-a-secret-value";
    for (text, reason) in [
        (format!("{CONTENT}\n"), "not a PEM private key"),
        (
            format!("-----BEGIN RSA PRIVATE KEY-----\n{CONTENT}\n-----END RSA PRIVATE KEY-----\n"),
            "base64",
        ),
        (
            std::fs::read_to_string(key_fixture("app-key.pub.pem")).expect("fixture"),
            "RSA PUBLIC KEY",
        ),
    ] {
        std::fs::write(&key, text).expect("write key");
        let run = node.run(&[]);
        assert_eq!(run.code, Some(78), "{}", run.stderr);
        assert!(
            run.stderr.contains(&key.display().to_string()),
            "names the file:\n{}",
            run.stderr
        );
        assert!(run.stderr.contains(reason), "{reason}:\n{}", run.stderr);
        assert!(
            !run.stderr.contains(CONTENT),
            "quotes the file:\n{}",
            run.stderr
        );
    }
    std::fs::remove_file(&key).expect("rm");
    let run = node.run(&[]);
    assert_eq!(run.code, Some(78), "{}", run.stderr);
    assert!(
        run.stderr.contains(&key.display().to_string()),
        "{}",
        run.stderr
    );
    assert!(github.state().requests.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn app_id_without_a_key_or_a_key_without_an_id_exits_78() {
    let github = fake().await;
    let mut node = Node::new("dell-r640", &github);
    let key = node.use_app("app-key.pkcs1.pem");
    node.unset("github_app_key_file");
    let run = node.run(&[]);
    assert_eq!(run.code, Some(78), "{}", run.stderr);
    assert!(
        run.stderr.contains("LoadCredential=github-app-key"),
        "{}",
        run.stderr
    );
    node.unset("github_app_id");
    node.set("github_app_key_file", &key.display().to_string());
    let run = node.run(&[]);
    assert_eq!(run.code, Some(78), "{}", run.stderr);
    assert!(run.stderr.contains("github_app_key_file"), "{}", run.stderr);
    assert!(github.state().requests.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn app_not_installed_on_the_repository_exits_78_saying_install_it() {
    let github = fake().await;
    github.with_app();
    github.state().app.as_mut().expect("app").installed = false;
    let mut node = Node::new("dell-r640", &github);
    node.use_app("app-key.pkcs1.pem");
    let run = node.run(&[]);
    assert_eq!(run.code, Some(78), "{}", run.stderr);
    assert!(
        run.stderr.contains("install the App on acme/fleet"),
        "{}",
        run.stderr
    );
    let s = github.state();
    assert_eq!(s.lines(), [LOOKUP]);
    assert!(s.pulls.is_empty());
    drop(s);
    github.assert_contract();
}

#[tokio::test(flavor = "multi_thread")]
async fn configured_installation_that_is_not_the_apps_exits_78() {
    let github = fake().await;
    github.with_app();
    let mut node = Node::new("dell-r640", &github);
    node.use_app("app-key.pkcs1.pem");
    node.set("github_app_installation_id", "999");
    let run = node.run(&[]);
    assert_eq!(run.code, Some(78), "{}", run.stderr);
    assert!(
        run.stderr.contains("github_app_installation_id"),
        "{}",
        run.stderr
    );
    assert_eq!(
        github.state().lines(),
        ["POST /app/installations/999/access_tokens"]
    );
    github.assert_contract();
}

#[tokio::test(flavor = "multi_thread")]
async fn minting_refused_for_missing_permissions_exits_77_naming_them() {
    let github = fake().await;
    github.with_app();
    // The App was given Pull requests: read only.
    github
        .state()
        .app
        .as_mut()
        .expect("app")
        .granted
        .insert("pull_requests".into(), "read".into());
    let mut node = Node::new("dell-r640", &github);
    node.use_app("app-key.pkcs1.pem");
    let run = node.run(&[]);
    assert_eq!(run.code, Some(77), "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "contents: write, pull_requests: write, metadata: read, checks: read, statuses: read"
        ),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("not granted to this installation"),
        "{}",
        run.stderr
    );
    let s = github.state();
    assert_eq!(s.lines(), [LOOKUP, MINT]);
    assert_eq!(s.requests[1].status, 422);
    assert!(s.pulls.is_empty());
    drop(s);
    assert!(node.marker().is_none());
    github.assert_contract();
}

#[tokio::test(flavor = "multi_thread")]
async fn token_is_revoked_after_a_failed_registration_too() {
    let github = fake().await;
    github.with_app();
    // Committing node.yaml is refused (a ruleset, say): exit 77 after the token was minted.
    github.state().faults.push(Fault {
        method: "PUT".into(),
        path_contains: "/contents/".into(),
        times: 1,
        kind: FaultKind::Status {
            status: 403,
            body: json!({"message": "Resource not accessible by integration", "documentation_url": "https://docs.github.com/rest"}),
            headers: Vec::new(),
        },
    });
    let mut node = Node::new("dell-r640", &github);
    node.use_app("app-key.pkcs1.pem");
    let run = node.run(&[]);
    assert_eq!(run.code, Some(77), "{}", run.stderr);
    let s = github.state();
    let lines = s.lines();
    assert_eq!(lines.last().map(String::as_str), Some(REVOKE), "{lines:?}");
    assert_eq!(s.requests.last().map(|r| r.status), Some(204));
    let app = s.app.as_ref().expect("app");
    assert_eq!(app.tokens.len(), 1);
    assert!(app.tokens[0].revoked);
    assert!(s.pulls.is_empty());
    drop(s);
    github.assert_contract();
}

#[tokio::test(flavor = "multi_thread")]
async fn pending_reboot_in_app_mode_adds_only_the_token_calls() {
    let github = fake().await;
    github.with_app();
    let mut node = Node::new("dell-r640", &github);
    node.use_app("app-key.pkcs1.pem");
    node.set("github_app_installation_id", &INSTALLATION_ID.to_string());
    assert_eq!(node.run(&[]).code, Some(0));
    github.state().requests.clear();
    node.reboot();
    let run = node.run(&[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    // The pending reads (the PR, its check runs, the combined status: no checks yet) between
    // the token calls.
    let mut expected = vec![MINT.to_owned()];
    expected.extend(pending(1));
    expected.push(REVOKE.to_owned());
    assert_eq!(without_shas(&github.state().lines()), expected);
    // The token's permissions cover the check reads (403 "Resource not accessible by
    // integration" otherwise: the PR's CI state would stay unknown).
    for r in &github.state().requests {
        assert_eq!(r.status / 100, 2, "{} answered {}", r.line(), r.status);
    }
    // Registered: no token is minted at all.
    github.state().merge(1);
    node.reboot();
    assert_eq!(node.run(&[]).code, Some(0));
    github.state().requests.clear();
    node.reboot();
    assert_eq!(node.run(&[]).code, Some(0));
    assert!(github.state().requests.is_empty());
    assert_eq!(github.state().app.as_ref().expect("app").tokens.len(), 3);
    github.assert_contract();
}

#[tokio::test(flavor = "multi_thread")]
async fn dry_run_in_app_mode_checks_the_installation_and_writes_nothing() {
    let github = fake().await;
    github.with_app();
    let mut node = Node::new("dell-r640", &github);
    node.use_app("app-key.pkcs1.pem");
    let run = node.run(&["--dry-run"]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("is installed on acme/fleet (installation 5550001)"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("minting one is a write"),
        "{}",
        run.stderr
    );
    // The App's own wording, not the token mode's.
    for expected in [
        "github:     the GitHub App's installation checked; the repository not read",
        "GitHub App 424242 is installed on acme/fleet, but what GitHub holds for this machine \
         was not read",
    ] {
        assert!(
            run.stderr.contains(expected),
            "{expected:?} in\n{}",
            run.stderr
        );
    }
    for token_mode in ["(no token)", "GITHUB_TOKEN", "the marker decides"] {
        assert!(
            !run.stderr.contains(token_mode),
            "{token_mode:?} in\n{}",
            run.stderr
        );
    }
    let json = node.run(&["--dry-run", "--json"]);
    let p: serde_json::Value = serde_json::from_str(&json.stdout).expect("JSON");
    assert_eq!(p["credential"], "github_app");
    assert_eq!(p["github_app_id"], "424242");
    let s = github.state();
    // Each dry run: the installation lookup alone.
    assert_eq!(s.lines(), [LOOKUP, LOOKUP]);
    assert!(s.app.as_ref().expect("app").tokens.is_empty());
    drop(s);
    assert!(!node.state.exists());
    github.assert_contract();
}

/// An answer of an App endpoint can carry a token: an unexpected one is reported by its status
/// and GitHub's `message` only, never by its body.
#[tokio::test(flavor = "multi_thread")]
async fn unexpected_mint_answers_never_show_their_body() {
    const LEAKED: &str = "ghs_NotForYourEyes0123456789abcdefABCD";
    for (status, body) in [
        // A token, but not the 201 GitHub documents.
        (
            200,
            json!({"token": LEAKED, "expires_at": "2026-11-29T18:00:00Z"}),
        ),
        (400, json!(format!("error: token={LEAKED}"))),
    ] {
        let github = fake().await;
        github.with_app();
        github.state().faults.push(Fault {
            method: "POST".into(),
            path_contains: "/access_tokens".into(),
            times: 1,
            kind: FaultKind::Status {
                status,
                body,
                headers: Vec::new(),
            },
        });
        let mut node = Node::new("dell-r640", &github);
        node.use_app("app-key.pkcs1.pem");
        let run = node.run(&[]);
        assert_eq!(run.code, Some(76), "{}", run.stderr);
        assert!(run.stderr.contains(&format!("{status}")), "{}", run.stderr);
        for output in [&run.stderr, &run.stdout] {
            assert!(!output.contains(&LEAKED[4..20]), "{output}");
        }
        assert!(github.state().pulls.is_empty());
    }
}

/// A secret given where its file's path belongs (`--token-file ghp_…`,
/// `ENLIST_GITHUB_APP_KEY_FILE="$(cat key.pem)"`) is not echoed in the error (every run's output
/// is scanned for the token and the key's lines).
#[tokio::test(flavor = "multi_thread")]
async fn a_secret_given_as_its_file_path_is_never_printed() {
    use enlist_e2e::fake::TOKEN;
    let github = fake().await;
    let mut node = Node::new("dell-r640", &github);
    node.unset("token_file");
    const NOT_SHOWN: &str = "<not shown: this looks like the secret itself, not a file path>";
    // The token as --token-file, as ENLIST_TOKEN_FILE, and a fine-grained one.
    let fine_grained = format!("github_pat_11AAAAAAA0{}", "x".repeat(70));
    for (args, env) in [
        (vec!["--token-file", TOKEN], vec![]),
        (vec![], vec![("ENLIST_TOKEN_FILE", TOKEN)]),
        (vec!["--token-file", fine_grained.as_str()], vec![]),
    ] {
        let run = node.run_with_env(&args, &env);
        assert_eq!(run.code, Some(78), "{}", run.stderr);
        assert!(run.stderr.contains(NOT_SHOWN), "{}", run.stderr);
        assert!(!run.stderr.contains(&fine_grained[..24]), "{}", run.stderr);
    }
    // The App's key as the key file's path: with the App id, and without it (another error).
    let key = std::fs::read_to_string(key_fixture("app-key.pkcs1.pem")).unwrap();
    let key_env = [("ENLIST_GITHUB_APP_KEY_FILE", key.as_str())];
    for app_id in [true, false] {
        if app_id {
            node.set("github_app_id", &APP_ID.to_string());
        } else {
            node.unset("github_app_id");
        }
        let run = node.run_with_env(&[], &key_env);
        assert_eq!(run.code, Some(78), "{}", run.stderr);
        assert!(run.stderr.contains(NOT_SHOWN), "{}", run.stderr);
        assert!(!run.stderr.contains("BEGIN RSA"), "{}", run.stderr);
    }
    // A real path that is missing is still named: that is what the operator must fix.
    node.unset("github_app_id");
    let run = node.run(&["--token-file", "/run/keys/github-token"]);
    assert_eq!(run.code, Some(78), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("/run/keys/github-token: cannot read token file"),
        "{}",
        run.stderr
    );
    assert!(github.state().requests.is_empty());
}
