//! `systemd/enlist.service` under real systemd (issue 4): a minimal Debian container booted with
//! `systemd-nspawn`, the built binary and the unit installed and enabled as an operator would,
//! the fake GitHub running in this test process on the host's loopback (the container shares the
//! host's network).
//!
//! Opt-in: it needs root, `systemd-nspawn` and `mmdebstrap`, and builds (once, then cached under
//! `target/boot-test/`) a Debian rootfs from the Debian mirror. Without `ENLIST_BOOT_TEST=1` each
//! test prints that it was skipped and passes; with it, a missing prerequisite fails the test:
//!
//! ```text
//! cargo build -p enlist
//! ENLIST_BOOT_TEST=1 cargo test -p enlist-e2e --test e2e boot -- --nocapture   # timings on stderr
//! ```
//!
//! A failing test keeps the container's journal, state and report in
//! `target/boot-test/runs/<machine>/kept/`, beside the console logs (`console-<n>.log`).
//!
//! Each boot ends by itself: a oneshot unit ordered after `enlist.service` records how the unit
//! ended (`systemctl show`, the boot's journal) under `/var/lib/enlist-boot-test/` and powers the
//! container off; the host reads that directory afterwards. The host stops a container still
//! running after [`BOOT_TIMEOUT`] and fails the test.

use std::collections::BTreeMap;
use std::fs::Permissions;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use enlist_e2e::container::{self, Machine, Rootfs, tail};
use enlist_e2e::fake::TOKEN;
use enlist_e2e::node::{self, assert_no_token};
use serde_json::Value;

use crate::{fake, fresh, pending, without_shas};

const DELL: &str = "node-faf6ca";

/// Packages on top of `minbase`: systemd as init, the bus its tools expect, and the CA bundle the
/// binary's TLS stack loads when it builds its HTTP client (even for the fake's `http://` URL).
const PACKAGES: [&str; 3] = ["systemd-sysv", "dbus", "ca-certificates"];

/// A boot takes a few seconds; a container still running after this is stopped and fails the test.
const BOOT_TIMEOUT: Duration = Duration::from_secs(90);

/// Where the fixture root (the fake `/sys` of a Dell R640) sits inside the container: the node id
/// comes from its DMI UUID, so it is the same on every machine the test runs on. (With the real
/// root, the live-installer check would also see the container's `/` on tmpfs and refuse.)
const FIXTURE_ROOT: &str = "/var/lib/enlist-fixture";

/// The DMI files the kernel makes mode 0400 root (REFERENCE.md, systemd section).
const ROOT_ONLY_DMI: [&str; 4] = [
    "product_uuid",
    "product_serial",
    "board_serial",
    "chassis_serial",
];

/// Where the report unit writes, inside the container.
const REPORT_DIR: &str = "/var/lib/enlist-boot-test";

/// The report unit: `After=` a oneshot waits until it has finished, successfully or not (a
/// failed start with a restart pending counts as finished too).
const REPORT_UNIT: &str = "\
[Unit]
Description=enlist boot test: record how enlist.service ended, then power off
After=enlist.service

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/enlist-boot-test-report

[Install]
WantedBy=multi-user.target
";

const REPORT_SCRIPT: &str = r#"#!/bin/sh
out=/var/lib/enlist-boot-test
mkdir -p "$out"
systemctl show enlist.service -p ActiveState -p SubState -p Result -p ExecMainCode \
    -p ExecMainStatus -p NRestarts -p StatusText >"$out/show"
systemctl list-jobs --no-legend --no-pager >"$out/jobs"
journalctl --boot --output=json --no-pager >"$out/journal.json"
journalctl --boot --unit=enlist.service --output=json --no-pager >"$out/unit.json"
journalctl --boot --output=short-monotonic --no-pager >"$out/journal.txt"
touch "$out/done"
systemctl --no-block poweroff
"#;

/// The cached rootfs, or `None` (after saying so) when the boot test is not enabled. Panics if
/// it is enabled and a prerequisite is missing.
fn enabled_rootfs() -> Option<Rootfs> {
    if std::env::var("ENLIST_BOOT_TEST").as_deref() != Ok("1") {
        println!(
            "skipped: set ENLIST_BOOT_TEST=1 (as root, with systemd-container and mmdebstrap)"
        );
        return None;
    }
    let missing = container::missing_prerequisites();
    assert!(
        missing.is_empty(),
        "ENLIST_BOOT_TEST=1 but the boot test lacks: {}",
        missing.join(", ")
    );
    let binary = node::binary();
    assert!(
        binary.is_file(),
        "{} does not exist: build it first (cargo build -p enlist)",
        binary.display()
    );
    let started = Instant::now();
    let rootfs = Rootfs::debian(&container::target_dir().join("boot-test"), &PACKAGES);
    match rootfs.built_in {
        Some(took) => eprintln!(
            "boot test: built {} in {:.1} s",
            rootfs.tar.display(),
            took.as_secs_f64()
        ),
        None => eprintln!(
            "boot test: {} from the cache (ready after {:.1} s)",
            rootfs.tar.display(),
            started.elapsed().as_secs_f64()
        ),
    }
    Some(rootfs)
}

/// A container with enlist installed as the README tells an operator to (binary, unit enabled,
/// config, root-only token file), registering against `api_url`, plus the report unit.
fn machine(rootfs: &Rootfs, api_url: &str) -> Machine {
    let started = Instant::now();
    let m = Machine::unpack(rootfs, &container::target_dir().join("boot-test/runs"));
    m.copy_in(&node::binary(), "/usr/bin/enlist");
    let version = m.chroot("/usr/bin/enlist", &["--version"]);
    assert!(
        version.status.success(),
        "the built binary does not run in Debian {} (glibc too old?): {}",
        container::SUITE,
        String::from_utf8_lossy(&version.stderr)
    );
    let unit = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../systemd/enlist.service");
    m.copy_in(&unit, "/etc/systemd/system/enlist.service");
    m.enable("enlist.service");
    m.write(
        "/etc/enlist/config.yaml",
        &format!(
            "repo: acme/fleet\napi_url: {api_url}\noperator: alice\nroot: {FIXTURE_ROOT}\n\
             readiness_timeout_secs: 5\nrequest_timeout_secs: 5\nstart_jitter_secs: 0\n"
        ),
        0o644,
    );
    // One machine: no fleet to spread (a unit's run otherwise waits up to
    // UNATTENDED_START_JITTER_SECS first).
    m.write("/etc/enlist/github-token", &format!("{TOKEN}\n"), 0o600);
    m.copy_in(&node::fixture("dell-r640"), FIXTURE_ROOT);
    // As on real hardware, the identity files are root-only (git does not keep that mode): the
    // unit has no capabilities at all and must still read them as their owner.
    for file in ROOT_ONLY_DMI {
        let path = format!("{FIXTURE_ROOT}/sys/class/dmi/id/{file}");
        std::fs::set_permissions(m.path(&path), Permissions::from_mode(0o400)).expect("chmod");
    }
    m.write(
        "/usr/local/sbin/enlist-boot-test-report",
        REPORT_SCRIPT,
        0o755,
    );
    m.write(
        "/etc/systemd/system/enlist-boot-test-report.service",
        REPORT_UNIT,
        0o644,
    );
    m.enable("enlist-boot-test-report.service");
    eprintln!(
        "boot test: machine ready in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    m
}

/// What the report unit recorded about one boot.
struct Report {
    what: &'static str,
    show: BTreeMap<String, String>,
    jobs: String,
    journal: Vec<Value>,
    unit_journal: Vec<Value>,
    journal_text: String,
}

/// Boots `m` once and reads the report of that boot.
async fn boot(m: &mut Machine, what: &'static str) -> Report {
    let dir = m.path(REPORT_DIR);
    let _ = std::fs::remove_dir_all(&dir);
    let boot = m.boot(BOOT_TIMEOUT).await;
    eprintln!(
        "boot test: {what}: boot to poweroff in {:.1} s",
        boot.duration.as_secs_f64()
    );
    assert!(
        dir.join("done").exists(),
        "{what}: the report unit did not run; console:\n{}",
        tail(&boot.console, 60)
    );
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).expect("report file");
    let json_lines = |text: String| -> Vec<Value> {
        text.lines()
            .map(|l| serde_json::from_str(l).expect("journalctl -o json prints JSON lines"))
            .collect()
    };
    let show = read("show")
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let journal_text = read("journal.txt");
    // The token must not reach the journal, in any form.
    assert_no_token(&journal_text);
    assert_no_token(&read("journal.json"));
    Report {
        what,
        show,
        jobs: read("jobs"),
        journal: json_lines(read("journal.json")),
        unit_journal: json_lines(read("unit.json")),
        journal_text,
    }
}

impl Report {
    fn get(&self, key: &str) -> &str {
        self.show.get(key).map(String::as_str).unwrap_or_default()
    }

    /// The boot's journal lines that mention enlist, and the unit's properties: for failures.
    fn context(&self) -> String {
        let lines: Vec<&str> = self
            .journal_text
            .lines()
            .filter(|l| l.contains(" enlist[") || l.contains("enlist.service"))
            .collect();
        format!(
            "\n{}: {:?}\njournal (enlist lines):\n{}",
            self.what,
            self.show,
            lines.join("\n")
        )
    }

    /// `ENLIST_EVENT` values of `entries`, in journal order.
    fn events_in(entries: &[Value]) -> Vec<String> {
        entries
            .iter()
            .filter_map(|e| e["ENLIST_EVENT"].as_str())
            .map(str::to_owned)
            .collect()
    }

    /// `ENLIST_EVENT` values the binary logged this boot.
    fn events(&self) -> Vec<String> {
        Report::events_in(&self.journal)
    }

    /// Entries the binary logged at warning or worse (journald PRIORITY ≤ 4).
    fn warnings(&self) -> Vec<String> {
        self.journal
            .iter()
            .filter(|e| e["SYSLOG_IDENTIFIER"] == "enlist" || e["_COMM"] == "enlist")
            .filter(|e| {
                e["PRIORITY"]
                    .as_str()
                    .and_then(|p| p.parse::<u8>().ok())
                    .is_some_and(|p| p <= 4)
            })
            .map(|e| e["MESSAGE"].to_string())
            .collect()
    }

    /// Asserts `systemctl show enlist` ended as `active`/`sub`, `Result=result`, main process
    /// status `status`, and never restarted (nor has a restart pending: that would be
    /// `activating (auto-restart)` with a job queued).
    fn assert_unit(&self, active: &str, sub: &str, result: &str, status: &str) {
        let ctx = self.context();
        assert_eq!(
            (self.get("ActiveState"), self.get("SubState")),
            (active, sub),
            "{ctx}"
        );
        assert_eq!(self.get("Result"), result, "{ctx}");
        assert_eq!(self.get("ExecMainStatus"), status, "{ctx}");
        assert_eq!(self.get("NRestarts"), "0", "{ctx}");
        assert!(
            !self.jobs.contains("enlist.service"),
            "a job for enlist.service is still queued: {}{ctx}",
            self.jobs
        );
    }

    /// Asserts a successful run: `inactive (dead)` with `Result=success` (the unit has no
    /// `RemainAfterExit=`, so enlist.timer can start it again), the binary's `STATUS=` text naming
    /// the node (kept after the run), its events (also found by `journalctl -u enlist`, as the
    /// README tells operators), and nothing logged at warning or worse.
    fn assert_registered_run(&self, events: &[&str]) {
        let ctx = self.context();
        self.assert_unit("inactive", "dead", "success", "0");
        let status = self.get("StatusText");
        assert!(
            status.starts_with(&format!("{DELL}: ")),
            "STATUS= text: {status:?}{ctx}"
        );
        let seen = self.events();
        for event in events {
            assert!(
                seen.iter().any(|e| e == event),
                "{event} not in {seen:?}{ctx}"
            );
        }
        assert!(
            !seen.iter().any(|e| e == "registration.failed"),
            "{seen:?}{ctx}"
        );
        assert_eq!(
            Report::events_in(&self.unit_journal),
            seen,
            "journalctl -u enlist.service misses events{ctx}"
        );
        assert_eq!(self.warnings(), Vec::<String>::new(), "{ctx}");
    }
}

/// The marker the unit left in its `StateDirectory=`.
fn marker(m: &Machine) -> Value {
    let text = std::fs::read_to_string(m.path("/var/lib/enlist/registered.json"))
        .expect("the unit wrote its marker to /var/lib/enlist");
    serde_json::from_str(&text).expect("marker is JSON")
}

#[tokio::test(flavor = "multi_thread")]
async fn boot_registers_once_then_reads_the_pending_pr_once_then_makes_no_request() {
    let Some(rootfs) = enabled_rootfs() else {
        return;
    };
    let started = Instant::now();
    let github = fake().await;
    let mut m = machine(&rootfs, &github.url());

    let first = boot(&mut m, "first boot").await;
    {
        let s = github.state();
        assert_eq!(s.lines(), fresh(DELL), "{}", first.context());
        // Branch, commit, PR, and turning on auto-merge.
        assert_eq!(s.writes().len(), 4);
        assert_eq!(s.pulls[0].auto_merge.as_deref(), Some("squash"));
        assert_eq!(s.pulls.len(), 1, "exactly one PR");
        assert_eq!(s.open_pulls().len(), 1);
    }
    github.assert_contract();
    first.assert_registered_run(&[
        "inventory.extraction.started",
        "inventory.extraction.completed",
        "registration.pr_opened",
        "registration.completed",
    ]);
    assert_eq!(marker(&m)["state"], "pending");
    assert_eq!(marker(&m)["node_id"], DELL);

    // The operator merges the PR. A pending marker costs one read of the PR per boot (SPEC §1):
    // the next boot reads it once and records the node as registered...
    github.state().merge(1);
    github.state().requests.clear();
    let merged = boot(&mut m, "boot after the merge").await;
    assert_eq!(
        github.state().lines(),
        ["GET /repos/acme/fleet/pulls/1"],
        "{}",
        merged.context()
    );
    merged.assert_registered_run(&["registration.completed"]);
    assert_eq!(marker(&m)["state"], "registered");

    // ...and from then on a boot makes no request at all.
    github.state().requests.clear();
    let registered = boot(&mut m, "boot when registered").await;
    assert_eq!(
        github.state().lines(),
        Vec::<String>::new(),
        "{}",
        registered.context()
    );
    registered.assert_registered_run(&["registration.skipped"]);
    assert_eq!(marker(&m)["state"], "registered");
    assert_eq!(github.state().pulls.len(), 1);
    github.assert_contract();

    m.remove();
    eprintln!(
        "boot test: three boots in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn boot_without_the_token_file_fails_before_exec_without_a_request_or_restart() {
    let Some(rootfs) = enabled_rootfs() else {
        return;
    };
    let started = Instant::now();
    let github = fake().await;
    let mut m = machine(&rootfs, &github.url());
    std::fs::remove_file(m.path("/etc/enlist/github-token")).expect("remove the token");

    let r = boot(&mut m, "boot without a token").await;
    assert_eq!(
        github.state().lines(),
        Vec::<String>::new(),
        "{}",
        r.context()
    );
    assert!(github.state().pulls.is_empty());
    // LoadCredential= fails the unit before exec: 243/CREDENTIALS, which
    // RestartPreventExitStatus= lists, so no restart is scheduled.
    r.assert_unit("failed", "failed", "exit-code", "243");
    assert_eq!(
        r.events(),
        Vec::<String>::new(),
        "the binary never ran{}",
        r.context()
    );
    assert!(!m.path("/var/lib/enlist/registered.json").exists());

    m.remove();
    eprintln!(
        "boot test: credential-less boot in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

/// Where the NixOS-style `/etc` of [`installed_like_nixos`] lives in the container's store.
const NIXOS_ETC: &str = "/nix/store/1f7wfsv2hsn2rmxs80qm1n7yiwfk5a1d-etc/etc";

/// Lays the machine's `/etc` out as `nixos-install` leaves it (issue 18): `/etc/static` an absolute
/// link into the store, `/etc/hostname` and `/etc/enlist/config.yaml` absolute links through it.
/// The config has no `root:`: the first boot reads this machine's real hardware (the container
/// shares the host's kernel and `/sys`), and the preview from the host must agree with it.
fn installed_like_nixos(m: &Machine, api_url: &str, hostname: &str) {
    let files = [
        (
            "hostname",
            "/nix/store/2kcrbyb8wjsx5n0z6xkgvfhdd0m9qf1y-etc-hostname",
            format!("{hostname}\n"),
        ),
        (
            "enlist/config.yaml",
            "/nix/store/6zv1j4w9q3m0r2x7c8b5n1k4d3f2g0h9-enlist.yaml",
            // allow_live: the container's `/` is a tmpfs, which the live-installer check rightly
            // takes for a live system; a real installed disk is not.
            format!(
                "repo: acme/fleet\napi_url: {api_url}\noperator: alice\nallow_live: true\n\
                 readiness_timeout_secs: 5\nrequest_timeout_secs: 5\nstart_jitter_secs: 0\n"
            ),
        ),
    ];
    for (name, store_file, content) in files {
        m.write(store_file, &content, 0o444);
        for link in [format!("{NIXOS_ETC}/{name}"), format!("/etc/{name}")] {
            let path = m.path(&link);
            let _ = std::fs::remove_file(&path);
            std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
            let target = if link.starts_with("/etc/") {
                format!("/etc/static/{name}")
            } else {
                store_file.to_owned()
            };
            std::os::unix::fs::symlink(target, &path).expect("link");
        }
    }
    std::os::unix::fs::symlink(NIXOS_ETC, m.path("/etc/static")).expect("link /etc/static");
    // Pinned, so an identity that falls back to the machine-id is the same on both sides (the
    // rootfs has none: systemd would invent one at boot).
    m.write(
        "/etc/machine-id",
        "7c3e5a9b1d2f4e6a8b0c1d2e3f4a5b6c\n",
        0o444,
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn boot_proposes_byte_for_byte_the_node_yaml_the_installer_preview_showed() {
    let Some(rootfs) = enabled_rootfs() else {
        return;
    };
    let started = Instant::now();
    let github = fake().await;
    let mut m = machine(&rootfs, &github.url());
    installed_like_nixos(&m, &github.url(), "rack1-n7");

    // The installer's preview, from the host, of the system about to boot: its config and
    // hostname from the container's root, the hardware from this machine. Read-only calls.
    let preview = std::process::Command::new(node::binary())
        .arg("register")
        .arg("--target")
        .arg(m.root())
        .arg("--json")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("GITHUB_TOKEN", TOKEN)
        .output()
        .expect("run the preview");
    let stderr = String::from_utf8_lossy(&preview.stderr);
    assert_no_token(&stderr);
    assert_eq!(preview.status.code(), Some(0), "{stderr}");
    let preview: Value = serde_json::from_slice(&preview.stdout).expect("--json is JSON");
    let node_id = preview["node_id"].as_str().expect("node_id").to_owned();
    let path = format!("cluster-nodes/{node_id}/node.yaml");
    assert_eq!(preview["path"], path.as_str());
    assert_eq!(preview["repo"], "acme/fleet");
    assert_eq!(preview["hostname"], "rack1-n7");
    assert_eq!(preview["github"], "nothing", "{preview}");
    assert_eq!(preview["first_boot"], "open_pr", "{preview}");
    {
        let s = github.state();
        assert!(s.writes().is_empty(), "{:?}", s.lines());
        assert_eq!(s.requests.len(), 4, "read-only checks: {:?}", s.lines());
    }
    assert!(
        !m.path("/var/lib/enlist").exists(),
        "the preview wrote into the target"
    );
    eprintln!(
        "boot test: preview of {node_id} in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    github.state().requests.clear();
    let first = boot(&mut m, "first boot after the preview").await;
    first.assert_unit("inactive", "dead", "success", "0");
    assert_eq!(
        github.state().lines(),
        fresh(&node_id),
        "{}",
        first.context()
    );
    let proposed = github
        .state()
        .file(&format!("enlist/{node_id}"), &path)
        .expect("the PR's node.yaml");
    assert_eq!(
        proposed,
        preview["node_yaml"].as_str().expect("node_yaml"),
        "the first boot proposed what the preview showed, byte for byte{}",
        first.context()
    );
    assert_eq!(marker(&m)["node_id"], node_id.as_str());
    github.assert_contract();

    m.remove();
    eprintln!(
        "boot test: preview and first boot in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

/// The timer test's drop-in: the real `systemd/enlist.timer`, with seconds instead of minutes.
const FAST_TIMER: &str = "\
[Timer]
OnBootSec=
OnBootSec=1s
OnUnitInactiveSec=
OnUnitInactiveSec=2s
RandomizedDelaySec=0
AccuracySec=100ms
";

/// Before recording, the timer test's report waits (at most 60 s) for the marker to say
/// `registered`: the merge happens while the machine runs.
const WAIT_FOR_REGISTERED: &str = r#"for i in $(seq 1 240); do
  grep -q '"state": "registered"' /var/lib/enlist/registered.json 2>/dev/null && break
  sleep 0.25
done
"#;

#[tokio::test(flavor = "multi_thread")]
async fn boot_timer_sees_the_merge_without_a_reboot() {
    let Some(rootfs) = enabled_rootfs() else {
        return;
    };
    let started = Instant::now();
    let github = std::sync::Arc::new(fake().await);
    let mut m = machine(&rootfs, &github.url());
    // The timer as an operator installs it (enabled beside the service), made fast for the test.
    let timer = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../systemd/enlist.timer");
    m.copy_in(&timer, "/etc/systemd/system/enlist.timer");
    m.write(
        "/etc/systemd/system/enlist.timer.d/fast.conf",
        FAST_TIMER,
        0o644,
    );
    m.enable("enlist.timer");
    m.write(
        "/usr/local/sbin/enlist-boot-test-report",
        &REPORT_SCRIPT.replacen(
            "#!/bin/sh\n",
            &format!("#!/bin/sh\n{WAIT_FOR_REGISTERED}"),
            1,
        ),
        0o755,
    );

    // CI and GitHub, while the machine runs: once the first run has recorded its PR as pending,
    // the reconcile check passes and GitHub (the fake) merges it by auto-merge.
    let marker_file = m.path("/var/lib/enlist/registered.json");
    let ci = {
        let github = github.clone();
        tokio::spawn(async move {
            let deadline = Instant::now() + BOOT_TIMEOUT;
            while Instant::now() < deadline {
                let pending = std::fs::read_to_string(&marker_file)
                    .is_ok_and(|t| t.contains("\"state\": \"pending\""));
                if pending {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    github
                        .state()
                        .set_check(1, enlist_e2e::fake::REQUIRED_CHECK, Some("success"));
                    return github.state().pulls.first().is_some_and(|p| p.merged);
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            false
        })
    };
    let r = boot(&mut m, "one boot: register, merge, timer").await;
    assert!(
        ci.await.expect("ci task"),
        "the PR was merged during the boot"
    );
    let lines = github.state().lines();
    assert_eq!(lines[..8], fresh(DELL)[..], "{}", r.context());
    // The timer's runs: pending reads (the PR and its checks) until the merge, then the one read
    // that sees it merged; never another write.
    let rest = without_shas(&lines[8..]);
    assert_eq!(
        rest.last().map(String::as_str),
        Some("GET /repos/acme/fleet/pulls/1"),
        "{rest:?}{}",
        r.context()
    );
    for chunk in rest[..rest.len() - 1].chunks(3) {
        assert_eq!(chunk, &pending(1)[..chunk.len()], "{rest:?}");
    }
    assert_eq!(github.state().writes().len(), 4);
    assert_eq!(marker(&m)["state"], "registered", "{}", r.context());
    // enlist.service ran more than once in this one boot: the boot run, then the timer's.
    let completed = r
        .events()
        .iter()
        .filter(|e| *e == "registration.completed")
        .count();
    assert!(completed >= 2, "{:?}{}", r.events(), r.context());
    r.assert_registered_run(&["registration.pr_opened", "registration.completed"]);
    assert!(
        r.get("StatusText").contains("merged: registered")
            || r.get("StatusText").contains("already registered"),
        "{}",
        r.context()
    );
    github.assert_contract();
    m.remove();
    eprintln!(
        "boot test: registered by the timer in one boot, {:.1} s",
        started.elapsed().as_secs_f64()
    );
}
