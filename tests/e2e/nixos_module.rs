//! The NixOS module (`nix/module.nix`) evaluated with `lib.evalModules` by the nixpkgs library
//! (`nix/tests/module-eval.nix`), and its unit compared with `systemd/enlist.service`: the two
//! packagings of the same unit cannot drift apart.
//!
//! Opt-in: it needs `nix-instantiate` (Debian: nix-bin; Nix 2.8 is enough) and nixpkgs' `lib/`
//! directory, named by `ENLIST_NIXPKGS_LIB` (CI: nix-community/nixpkgs.lib at de42d442):
//!
//! ```text
//! ENLIST_NIXPKGS_LIB=/path/to/nixpkgs/lib cargo test -p enlist-e2e --test e2e nixos_module
//! ```
//!
//! Without the variable each test prints that it was skipped and passes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// Where the repository is (this crate sits in `tests/`).
fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// nixpkgs' `lib/`, or `None` (and a printed reason) when the suite is not switched on.
fn nixpkgs_lib(test: &str) -> Option<PathBuf> {
    match std::env::var_os("ENLIST_NIXPKGS_LIB") {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            assert!(
                dir.join("default.nix").is_file(),
                "ENLIST_NIXPKGS_LIB={} is not nixpkgs' lib/ directory (no default.nix)",
                dir.display()
            );
            Some(dir)
        }
        None => {
            eprintln!(
                "{test}: skipped: set ENLIST_NIXPKGS_LIB to nixpkgs' lib/ directory (and install \
                 nix-instantiate) to evaluate the NixOS module"
            );
            None
        }
    }
}

/// `nix-instantiate --eval --strict --json` of one attribute of the harness: Ok(JSON) or
/// Err(stderr).
fn evaluate(lib: &Path, attribute: &str) -> Result<Value, String> {
    let out = Command::new("nix-instantiate")
        .args(["--eval", "--strict", "--json"])
        .arg(repo().join("nix/tests/module-eval.nix"))
        .arg("--arg")
        .arg("lib")
        .arg(format!("import {}", lib.display()))
        .args(["-A", attribute])
        .output()
        .expect("nix-instantiate runs (Debian: apt-get install nix-bin)");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    if !out.status.success() {
        return Err(stderr);
    }
    serde_json::from_slice(&out.stdout).map_err(|e| format!("{e}: {stderr}"))
}

/// A unit file as systemd reads it: section → key → the whitespace-separated values of all its
/// lines in order (an empty assignment resets the list, as in systemd).
pub fn parse_unit(text: &str) -> BTreeMap<String, BTreeMap<String, Vec<String>>> {
    let mut sections: BTreeMap<String, BTreeMap<String, Vec<String>>> = BTreeMap::new();
    let mut current = String::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            current = name.to_owned();
            continue;
        }
        let (key, value) = line.split_once('=').expect("key=value line");
        let values = sections
            .entry(current.clone())
            .or_default()
            .entry(key.trim().to_owned())
            .or_default();
        if value.trim().is_empty() {
            values.clear();
        }
        values.extend(value.split_whitespace().map(str::to_owned));
    }
    sections
}

/// A value of a NixOS unit option as the words systemd would read from the generated file.
fn words(value: &Value) -> Vec<String> {
    match value {
        Value::Bool(b) => vec![if *b { "yes" } else { "no" }.to_owned()],
        Value::Number(n) => vec![n.to_string()],
        Value::String(s) => s.split_whitespace().map(str::to_owned).collect(),
        Value::Array(items) => items.iter().flat_map(words).collect(),
        other => panic!("unexpected unit value {other}"),
    }
}

/// A systemd time span in seconds (`15min`, `900s`, `1h`, `300`).
fn seconds(span: &str) -> u64 {
    let digits: String = span.chars().take_while(char::is_ascii_digit).collect();
    let n: u64 = digits.parse().expect("a number");
    n * match &span[digits.len()..] {
        "" | "s" | "sec" => 1,
        "min" | "m" => 60,
        "h" | "hour" => 3600,
        unit => panic!("time unit {unit:?} not handled"),
    }
}

/// Compares one unit of the module (a `systemd.services.<name>` or `systemd.timers.<name>` value)
/// with a unit file, key by key: both must define the same keys with the same words.
/// `main` is the unit type's own section (`Service`, `Timer`) and `config` the module's option
/// for it (`serviceConfig`, `timerConfig`). `normalise` maps (key, words) of both sides before
/// the comparison, for the values that legitimately differ (store paths).
pub fn assert_unit_matches(
    module: &Value,
    file: &Path,
    main: &str,
    config: &str,
    normalise: &dyn Fn(&str, Vec<String>) -> Vec<String>,
) {
    let text = std::fs::read_to_string(file).expect("unit file");
    let expected = parse_unit(&text);
    let mut generated: BTreeMap<String, BTreeMap<String, Vec<String>>> = BTreeMap::new();
    let mut put = |section: &str, key: &str, value: &Value| {
        let w = words(value);
        if !w.is_empty() || value.is_string() {
            generated
                .entry(section.to_owned())
                .or_default()
                .insert(key.to_owned(), w);
        }
    };
    for (option, key) in [
        ("description", "Description"),
        ("documentation", "Documentation"),
        ("wants", "Wants"),
        ("requires", "Requires"),
        ("after", "After"),
        ("before", "Before"),
    ] {
        if let Some(v) = module
            .get(option)
            .filter(|v| v.as_array().is_none_or(|a| !a.is_empty()))
        {
            put("Unit", key, v);
        }
    }
    for (option, key) in [("wantedBy", "WantedBy"), ("requiredBy", "RequiredBy")] {
        if let Some(v) = module
            .get(option)
            .filter(|v| v.as_array().is_some_and(|a| !a.is_empty()))
        {
            put("Install", key, v);
        }
    }
    for (option, section) in [("unitConfig", "Unit"), (config, main)] {
        for (key, v) in module[option].as_object().into_iter().flatten() {
            put(section, key, v);
        }
    }
    let mut problems = Vec::new();
    let sections: std::collections::BTreeSet<&String> =
        expected.keys().chain(generated.keys()).collect();
    for section in sections {
        let empty = BTreeMap::new();
        let want = expected.get(section).unwrap_or(&empty);
        let got = generated.get(section).unwrap_or(&empty);
        let keys: std::collections::BTreeSet<&String> = want.keys().chain(got.keys()).collect();
        for key in keys {
            let w = want.get(key).map(|v| normalise(key, v.clone()));
            let g = got.get(key).map(|v| normalise(key, v.clone()));
            if w != g {
                problems.push(format!(
                    "[{section}] {key}: {} has {w:?}, the module {g:?}",
                    file.display()
                ));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "the NixOS module and {} disagree:\n{}",
        file.display(),
        problems.join("\n")
    );
}

#[test]
fn module_unit_equals_the_plain_unit() {
    let Some(lib) = nixpkgs_lib("module_unit_equals_the_plain_unit") else {
        return;
    };
    let observed = evaluate(&lib, "observed").unwrap_or_else(|e| panic!("{e}"));
    let token = evaluate(&lib, "tokenFile").expect("tokenFile");
    let token = token.as_str().expect("string");
    let enabled = &observed["enabled"];
    assert_eq!(enabled["failedAssertions"], serde_json::json!([]));
    let service = &enabled["service"];

    // Ordering: network-online and time-sync, plus the configured extra unit (wanted too, as
    // nixpkgs requires for After= network-online.target).
    for list in ["wants", "after"] {
        let units: Vec<&str> = service[list]
            .as_array()
            .expect("list")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        for unit in [
            "network-online.target",
            "time-sync.target",
            "sops-install-secrets.service",
        ] {
            assert!(units.contains(&unit), "{list} lacks {unit}: {units:?}");
        }
    }
    // A first-boot oneshot must not be re-run by `nixos-rebuild switch`.
    assert_eq!(service["restartIfChanged"], false);

    // The token reaches the unit only as a credential: never in the store, the config file, an
    // environment variable or the command line.
    assert_eq!(
        service["serviceConfig"]["LoadCredential"],
        serde_json::json!([format!("github-token:{token}")])
    );
    let mut without_credential = service.clone();
    without_credential["serviceConfig"]
        .as_object_mut()
        .expect("object")
        .remove("LoadCredential");
    assert!(
        !without_credential.to_string().contains(token),
        "the token path leaks outside LoadCredential: {without_credential}"
    );
    assert!(!enabled["settings"].to_string().contains(token));
    // The binary's defaults, written out: auto-merge (squash) for registrations only, and the
    // run's deadline that sizes the start timeout.
    assert_eq!(enabled["settings"]["auto_merge"], "squash");
    assert_eq!(enabled["settings"]["auto_merge_updates"], false);
    assert_eq!(enabled["settings"]["run_timeout_secs"], 840);
    assert_eq!(enabled["settings"]["request_timeout_secs"], 30);
    // The start timeout: the start jitter (the binary's unattended default unless set) +
    // run_timeout_secs + request_timeout_secs (an App token's revoke after the deadline) + 30 s,
    // as the plain unit documents (20 min with the defaults, compared below), and as it follows
    // other values.
    let jitter = enlist::config::UNATTENDED_START_JITTER_SECS;
    assert_eq!(
        observed["slowRequests"]["service"]["serviceConfig"]["TimeoutStartSec"],
        format!("{}s", jitter + 1200 + 120 + 30)
    );
    assert_eq!(
        service["serviceConfig"]["TimeoutStartSec"],
        format!("{}s", jitter + 840 + 30 + 30)
    );
    assert!(
        enabled["settings"]
            .get("start_jitter_secs")
            .is_none_or(Value::is_null)
    );
    let plain = std::fs::read_to_string(repo().join("systemd/enlist.service")).expect("unit");
    assert!(
        plain.contains(&format!(
            "start_jitter_secs + run_timeout_secs + request_timeout_secs + 30 s  =  {jitter} + 840 + 30 + 30 s"
        )),
        "the plain unit documents the relation"
    );

    // The extra unit is this scenario's; the plain unit has none.
    let mut plain = service.clone();
    for list in ["wants", "after"] {
        plain[list]
            .as_array_mut()
            .expect("list")
            .retain(|u| u != "sops-install-secrets.service");
    }
    assert_unit_matches(
        &plain,
        &repo().join("systemd/enlist.service"),
        "Service",
        "serviceConfig",
        &module_vs_plain,
    );
}

/// What legitimately differs between the module's unit and the plain one, normalised away.
fn module_vs_plain(key: &str, words: Vec<String>) -> Vec<String> {
    let store = "/nix/store/";
    match key {
        // /usr/bin/enlist register  vs  /nix/store/…/bin/enlist register --config /nix/store/…
        "ExecStart" => {
            let mut out = Vec::new();
            let mut iter = words.into_iter();
            while let Some(w) = iter.next() {
                if w == "--config" {
                    let file = iter.next().unwrap_or_default();
                    assert!(file.starts_with(store), "--config {file}");
                    continue;
                }
                out.push(w.rsplit('/').next().unwrap_or_default().to_owned());
            }
            out
        }
        // The credential's name must agree; its source is the operator's (checked by the tests).
        "LoadCredential" => words
            .iter()
            .map(|w| w.split(':').next().unwrap_or_default().to_owned())
            .collect(),
        k if k.ends_with("Sec") && !k.starts_with("StartLimit") => {
            words.iter().map(|w| seconds(w).to_string()).collect()
        }
        _ => words,
    }
}

#[test]
fn module_app_mode_hands_the_key_over_as_the_documented_credential() {
    let Some(lib) = nixpkgs_lib("module_app_mode_hands_the_key_over_as_the_documented_credential")
    else {
        return;
    };
    let observed = evaluate(&lib, "observed").unwrap_or_else(|e| panic!("{e}"));
    let key = evaluate(&lib, "appKeyFile").expect("appKeyFile");
    let key = key.as_str().expect("string");
    let app = &observed["app"];
    assert_eq!(app["failedAssertions"], serde_json::json!([]));
    let service = &app["service"];
    // The key only as the credential the binary reads ($CREDENTIALS_DIRECTORY/github-app-key);
    // the ids (not secrets) in the config file.
    assert_eq!(
        service["serviceConfig"]["LoadCredential"],
        serde_json::json!([format!("github-app-key:{key}")])
    );
    let mut without_credential = service.clone();
    without_credential["serviceConfig"]
        .as_object_mut()
        .expect("object")
        .remove("LoadCredential");
    assert!(!without_credential.to_string().contains(key));
    assert!(!app["settings"].to_string().contains(key));
    assert_eq!(app["settings"]["github_app_id"], "424242");
    assert_eq!(app["settings"]["github_app_installation_id"], 5_550_001);
    assert!(app["settings"].get("token_file").is_none());

    // The plain unit documents the same line (commented out, in place of the token's).
    let plain = std::fs::read_to_string(repo().join("systemd/enlist.service")).expect("unit");
    let documented = plain
        .lines()
        .find(|l| l.starts_with("#LoadCredential=github-app-key:"))
        .expect("systemd/enlist.service documents #LoadCredential=github-app-key:…");
    let app_unit: String = plain
        .lines()
        .filter(|l| !l.starts_with("LoadCredential=github-token:"))
        .map(|l| if l == documented { &l[1..] } else { l })
        .map(|l| format!("{l}\n"))
        .collect();
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("enlist.service");
    std::fs::write(&file, app_unit).expect("write");
    assert_unit_matches(service, &file, "Service", "serviceConfig", &module_vs_plain);
}

#[test]
fn module_timer_equals_the_plain_timer_on_by_default_and_can_be_turned_off() {
    let Some(lib) =
        nixpkgs_lib("module_timer_equals_the_plain_timer_on_by_default_and_can_be_turned_off")
    else {
        return;
    };
    let observed = evaluate(&lib, "observed").unwrap_or_else(|e| panic!("{e}"));
    let timer = &observed["enabled"]["timer"];
    assert!(timer.is_object(), "the timer is on by default: {timer}");
    assert_eq!(timer["wantedBy"], serde_json::json!(["timers.target"]));
    assert_unit_matches(
        timer,
        &repo().join("systemd/enlist.timer"),
        "Timer",
        "timerConfig",
        &|key, words| {
            if key.ends_with("Sec") {
                words.iter().map(|w| seconds(w).to_string()).collect()
            } else {
                words
            }
        },
    );
    assert_eq!(observed["timerOff"]["timer"], Value::Null);
    assert!(
        observed["timerOff"]["service"].is_object(),
        "the service stays"
    );
    assert_eq!(
        observed["timerEvery30min"]["timer"]["timerConfig"]["OnUnitInactiveSec"],
        "30min"
    );
    // The service the timer starts must be able to run again: no RemainAfterExit.
    assert!(
        observed["enabled"]["service"]["serviceConfig"]
            .get("RemainAfterExit")
            .is_none()
    );
}

#[test]
fn module_refuses_what_would_break_the_unit() {
    let Some(lib) = nixpkgs_lib("module_refuses_what_would_break_the_unit") else {
        return;
    };
    let observed = evaluate(&lib, "observed").unwrap_or_else(|e| panic!("{e}"));
    // The controls: `enabled` and `app` are the bases every refused scenario changes in one value.
    assert!(observed["enabled"]["service"].is_object());
    assert_eq!(observed["app"]["failedAssertions"], serde_json::json!([]));

    assert_eq!(observed["disabled"]["service"], Value::Null);
    assert_eq!(observed["disabled"]["etc"], serde_json::json!({}));

    for (scenario, message) in [
        ("badRepo", "settings.repo must look like OWNER/NAME"),
        ("stateDirMoved", "state_dir cannot be changed"),
        ("appAndToken", "exactly one way to authenticate"),
        ("noCredential", "exactly one way to authenticate"),
        (
            "appWithoutKey",
            "githubApp.id and services.enlist.githubApp.keyFile go together",
        ),
        ("installationWithoutApp", "installationId is set without"),
    ] {
        let failed = observed[scenario]["failedAssertions"].to_string();
        assert!(failed.contains(message), "{scenario}: {failed}");
    }

    // Refused by the module system itself: read its message.
    for (scenario, option) in [
        ("missingRepo", "services.enlist.settings.repo"),
        ("storeToken", "services.enlist.tokenFile"),
        ("relativeToken", "services.enlist.tokenFile"),
        ("pathLiteralToken", "services.enlist.tokenFile"),
        ("storeAppKey", "services.enlist.githubApp.keyFile"),
        ("pathLiteralAppKey", "services.enlist.githubApp.keyFile"),
    ] {
        assert_eq!(
            observed[scenario]["evaluationFailed"], true,
            "{scenario} evaluated: {}",
            observed[scenario]
        );
        let error = evaluate(&lib, &format!("raw.{scenario}")).expect_err(scenario);
        assert!(error.contains(option), "{scenario}: {error}");
    }
}

#[test]
fn unit_parser_reads_lists_resets_and_sections() {
    let unit = parse_unit(
        "# c\n[Unit]\nWants=a.target\nWants=b.target c.target\n[Service]\nX=1\nX=\nX=2 3\n",
    );
    assert_eq!(unit["Unit"]["Wants"], ["a.target", "b.target", "c.target"]);
    assert_eq!(unit["Service"]["X"], ["2", "3"]);
    assert_eq!(seconds("15min"), 900);
    assert_eq!(seconds("900s"), 900);
}

/// The flake's `lib` (issue 14) on the example repository's fleet file: one configuration per
/// registered node, each with its own facts, and the example's hardware classes derived from them.
#[test]
fn flake_lib_builds_each_node_from_its_own_facts() {
    let Some(lib) = nixpkgs_lib("flake_lib_builds_each_node_from_its_own_facts") else {
        return;
    };
    let example = repo().join("examples/gitops");
    let out = Command::new("nix-instantiate")
        .args(["--eval", "--strict", "--json"])
        .arg(repo().join("nix/tests/fleet-eval.nix"))
        .arg("--arg")
        .arg("lib")
        .arg(format!("import {}", lib.display()))
        .arg("--arg")
        .arg("fleet")
        .arg(example.join("cluster-nodes/fleet.nix"))
        .args(["-A", "observed"])
        .output()
        .expect("nix-instantiate runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let result: Value = serde_json::from_slice(&out.stdout).expect("json");

    let mut ids = Vec::new();
    let mut supermicro = Vec::new();
    let nodes = std::fs::read_dir(example.join("cluster-nodes")).expect("cluster-nodes");
    for entry in nodes
        .map(|e| e.expect("entry"))
        .filter(|e| e.path().is_dir())
    {
        let text = std::fs::read_to_string(entry.path().join("node.yaml")).expect("node.yaml");
        let doc = enlist::document::NodeDocument::parse(&text, "example").expect("valid");
        let host = &result["byHostname"][&doc.hostname];
        assert_eq!(host["nodeId"], doc.node_id.as_str());
        assert_eq!(host["hostName"], doc.hostname.as_str());
        assert_eq!(host["hostPlatform"], format!("{}-linux", doc.cpu.arch));
        // The example's classes (examples/gitops/hardware-classes.nix), computed here again.
        assert_eq!(host["maxJobs"], (doc.cpu.threads / 2).max(1));
        assert_eq!(host["zram"], doc.memory.total_bytes < 64 << 30);
        let flash: u64 = doc
            .disks
            .iter()
            .filter(|d| !d.rotational)
            .map(|d| d.size_bytes)
            .sum();
        let class = match flash {
            f if f >= 10_000_000_000_000 => "large",
            f if f >= 2_000_000_000_000 => "medium",
            _ => "small",
        };
        assert_eq!(host["storageClass"], class, "{}", doc.hostname);
        // A configuration that builds (issue 23): the root file system and the ESP by label,
        // systemd-boot, so neither of a real toplevel's checks (root file system, GRUB devices)
        // stops it.
        assert_eq!(host["rootFileSystem"], true, "{}", doc.hostname);
        assert_eq!(host["bootable"], true, "{}", doc.hostname);
        assert_eq!(
            host["fileSystems"],
            serde_json::json!({
                "/": {"device": "/dev/disk/by-label/nixos", "fsType": "ext4"},
                "/boot": {"device": "/dev/disk/by-label/boot", "fsType": "vfat"},
            }),
            "{}",
            doc.hostname
        );
        assert_eq!(host["systemdBoot"], true, "{}", doc.hostname);
        ids.push(doc.node_id.as_str().to_owned());
        if doc.system.vendor.as_deref() == Some("Supermicro") {
            supermicro.push(doc.hostname.clone());
        }
    }
    ids.sort();
    supermicro.sort();
    assert_eq!(
        result["byHostname"].as_object().expect("set").len(),
        ids.len()
    );
    assert_eq!(result["byNodeId"], serde_json::json!(ids));
    assert_eq!(result["supermicroOnly"], serde_json::json!(supermicro));
    assert!(!supermicro.is_empty() && supermicro.len() < ids.len());
    // Refused: two nodes under one hostname, and a module overwriting the registered facts.
    assert_eq!(result["duplicateHostnames"], false);
    assert_eq!(result["overwriteRefused"], false);

    // The refusal names the node's own file (nodeModule's `_file`), not `<unknown-file>`.
    let out = Command::new("nix-instantiate")
        .args(["--eval", "--strict", "--json"])
        .arg(repo().join("nix/tests/fleet-eval.nix"))
        .arg("--arg")
        .arg("lib")
        .arg(format!("import {}", lib.display()))
        .arg("--arg")
        .arg("fleet")
        .arg(example.join("cluster-nodes/fleet.nix"))
        .args(["-A", "raw.overwrite"])
        .output()
        .expect("nix-instantiate runs");
    let error = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{error}");
    assert!(error.contains("`enlist.node' is read-only"), "{error}");
    let node = &result["byHostname"]["r640-a01"]["nodeId"];
    let node = node.as_str().expect("r640-a01's node id");
    assert!(
        error.contains(&format!(
            "In `cluster-nodes/{node}/node.yaml (enlist.lib.nodeModule)'"
        )),
        "{error}"
    );
}

/// Issue 23: `services.enlist.settings` holds only keys the binary accepts (`nix/config-keys.nix`,
/// generated from it): a typo is refused at evaluation naming the option as written, with the key
/// meant; a credential is refused without echoing it, pointing at the option that keeps it out of
/// the store; an empty App id is a type error naming the option. Known keys the module declares
/// no option for still pass.
#[test]
fn module_refuses_settings_the_binary_would_refuse_naming_the_key() {
    let Some(lib) = nixpkgs_lib("module_refuses_settings_the_binary_would_refuse_naming_the_key")
    else {
        return;
    };
    let observed = evaluate(&lib, "observed").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        observed["knownKeys"]["failedAssertions"],
        serde_json::json!([])
    );
    assert_eq!(
        observed["knownKeys"]["settings"]["branch_prefix"],
        "enlist/"
    );
    // A start jitter set to 0 leaves it out of the start timeout; a set one is counted in.
    assert_eq!(
        observed["knownKeys"]["service"]["serviceConfig"]["TimeoutStartSec"],
        format!("{}s", 840 + 30 + 30)
    );
    assert_eq!(
        observed["jitter120"]["service"]["serviceConfig"]["TimeoutStartSec"],
        format!("{}s", 120 + 840 + 30 + 30)
    );
    assert_eq!(observed["jitter120"]["settings"]["start_jitter_secs"], 120);

    let refused = |scenario: &str| -> String {
        let failed = observed[scenario]["failedAssertions"]
            .as_array()
            .unwrap_or_else(|| panic!("{scenario}: {}", observed[scenario]));
        assert_eq!(failed.len(), 1, "{scenario}: {failed:?}");
        failed[0].as_str().expect("a message").to_owned()
    };

    let typo = refused("typoKey");
    assert!(
        typo.starts_with("services.enlist.settings.base_brach: enlist has no such setting"),
        "{typo}"
    );
    assert!(typo.contains("did you mean `base_branch`?"), "{typo}");
    assert!(typo.contains("exit 78"), "{typo}");
    let jitter = refused("jitterPastDeadline");
    assert!(
        jitter.starts_with(
            "services.enlist.settings.start_jitter_secs (900) must be below \
             services.enlist.settings.run_timeout_secs (840)"
        ),
        "{jitter}"
    );

    for (scenario, key, value) in [
        ("tokenInSettings", "token", "ghp_0123456789abcdefSECRET"),
        (
            "appKeyInSettings",
            "github_app_private_key",
            "BEGIN RSA PRIVATE KEY",
        ),
    ] {
        let message = refused(scenario);
        assert!(
            message.starts_with(&format!("services.enlist.settings.{key}: a credential")),
            "{scenario}: {message}"
        );
        assert!(message.contains("world-readable Nix store"), "{message}");
        assert!(message.contains("services.enlist.tokenFile"), "{message}");
        assert!(
            message.contains("services.enlist.githubApp.keyFile"),
            "{message}"
        );
        assert!(!message.contains(value), "the secret is echoed: {message}");
    }
    for (scenario, key, option) in [
        (
            "tokenFileInSettings",
            "token_file",
            "services.enlist.tokenFile",
        ),
        (
            "appKeyFileInSettings",
            "github_app_key_file",
            "services.enlist.githubApp.keyFile",
        ),
    ] {
        let message = refused(scenario);
        assert!(
            message.starts_with(&format!(
                "services.enlist.settings.{key}: set {option} instead"
            )),
            "{scenario}: {message}"
        );
    }

    for scenario in ["emptyAppId", "blankAppId"] {
        assert_eq!(
            observed[scenario]["evaluationFailed"], true,
            "{scenario} evaluated: {}",
            observed[scenario]
        );
        let error = evaluate(&lib, &format!("raw.{scenario}")).expect_err(scenario);
        assert!(
            error.contains("services.enlist.githubApp.id") && error.contains("non-empty string"),
            "{scenario}: {error}"
        );
    }
}

/// Issue 27: node.yaml carries the SSH host keys, which NixOS generates at the first boot: with
/// OpenSSH (or newer nixpkgs' `generateHostKeys` alone) the unit is ordered after the unit that
/// generates them (`sshd-keygen.service` now, `sshd.service`'s preStart in older nixpkgs), without
/// pulling either in; without it, no such ordering.
#[test]
fn module_orders_enlist_after_ssh_host_key_generation() {
    let Some(lib) = nixpkgs_lib("module_orders_enlist_after_ssh_host_key_generation") else {
        return;
    };
    let observed = evaluate(&lib, "observed").unwrap_or_else(|e| panic!("{e}"));
    let units = |scenario: &str, list: &str| -> Vec<String> {
        observed[scenario]["service"][list]
            .as_array()
            .unwrap_or_else(|| panic!("{scenario}: {}", observed[scenario]))
            .iter()
            .map(|u| u.as_str().expect("a unit").to_owned())
            .collect()
    };
    for scenario in ["openssh", "hostKeysOnly"] {
        assert_eq!(
            observed[scenario]["failedAssertions"],
            serde_json::json!([])
        );
        let after = units(scenario, "after");
        for unit in [
            "sshd-keygen.service",
            "sshd.service",
            "network-online.target",
        ] {
            assert!(after.iter().any(|u| u == unit), "{scenario}: {after:?}");
        }
        let wants = units(scenario, "wants");
        assert!(
            !wants.iter().any(|u| u.starts_with("sshd")),
            "{scenario}: ordering only, never starting sshd: {wants:?}"
        );
    }
    let after = units("enabled", "after");
    assert!(
        !after.iter().any(|u| u.starts_with("sshd")),
        "without OpenSSH: {after:?}"
    );
}

/// Issue 23: the root flake's `checks` run the Nix evaluation tests for users with a current Nix
/// (`nix flake check`): on every system, the package plus the module, fleet and `nix run`
/// evaluations, each passing (`nix/tests/flake-checks.nix` forces each wrapped test; a failing one
/// throws its message).
#[test]
fn flake_checks_run_the_nix_evaluation_tests() {
    let Some(lib) = nixpkgs_lib("flake_checks_run_the_nix_evaluation_tests") else {
        return;
    };
    let out = Command::new("nix-instantiate")
        .args(["--eval", "--strict", "--json"])
        .arg(repo().join("nix/tests/flake-checks.nix"))
        .arg("--arg")
        .arg("lib")
        .arg(format!("import {}", lib.display()))
        .output()
        .expect("nix-instantiate runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let checks: Value = serde_json::from_slice(&out.stdout).expect("json");
    let expected = serde_json::json!(["enlist", "flake-apps", "fleet-eval", "module-eval"]);
    assert_eq!(checks["x86_64-linux"], expected);
    assert_eq!(checks["aarch64-linux"], expected);
}

/// The book's NixOS module reference (`docs/src/reference/module-options.md`) is generated from
/// the module's own option declarations (`optionsMarkdown` in `nix/tests/module-eval.nix`): an
/// option added, retyped or redocumented reaches the page or this test fails.
/// `ENLIST_UPDATE_GOLDEN=1` rewrites the page.
#[test]
fn module_options_reference_is_the_modules() {
    let Some(lib) = nixpkgs_lib("module_options_reference_is_the_modules") else {
        return;
    };
    let page = evaluate(&lib, "optionsMarkdown").expect("the options page evaluates");
    let page = page.as_str().expect("a string");
    for option in [
        "services.enlist.enable",
        "services.enlist.tokenFile",
        "services.enlist.githubApp.keyFile",
        "services.enlist.settings.repo",
    ] {
        assert!(page.contains(&format!("## `{option}`")), "{option} missing");
    }
    crate::support::golden_file("docs/src/reference/module-options.md", page);
}
