//! Reconcile tests (SPEC §5): golden outputs of a failing repository, the edge cases of issue 5,
//! exit codes of the real binary, and order independence (seeded shuffles). The example
//! repository's (`examples/gitops`) are the end-to-end crate's (`tests/e2e/example_repo.rs`): this
//! crate's tests read nothing outside its directory.
//!
//! Goldens live in `agent/tests/golden/reconcile/`; `ENLIST_UPDATE_GOLDEN=1` rewrites them.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;

use enlist::document::NodeDocument;
use enlist::hostkey::HostKey;
use enlist::reconcile::report::{InvalidKind, MismatchField, Resource, SharedKind};
use enlist::reconcile::{self, Format, Options, Report, analyse, inventory, scan};

use crate::machine::{Machine, NVME_1_92TB};
use crate::support::{enlist, fixture, golden, stderr, stdout};

// ---------------------------------------------------------------------------------------------
// Fixtures

/// A small generic machine for edge cases: `n` picks distinct serial, UUID and MACs.
fn machine(n: u32) -> Machine {
    Machine {
        hostname: "node",
        uuid: format!("6a1f{n:04x}-1c2d-4e5f-8a9b-0c1d2e3f{n:04x}"),
        vendor: "Dell Inc.",
        model: "PowerEdge R640",
        serial: Some(format!("SN{n:05}X")),
        board: ("Dell Inc.", "0H28RR"),
        cpu: "Intel(R) Xeon(R) Gold 6230 CPU @ 2.10GHz",
        sockets: 2,
        cores: 40,
        memory_gib: 377,
        disks: vec![("Dell Ent NVMe 1.92TB", "S4YN0001", NVME_1_92TB, "nvme")],
        nics: vec![
            (
                "eno1",
                format!("02:00:00:00:{:02x}:{:02x}", n / 256, n % 256),
                "bnxt_en",
            ),
            (
                "eno2",
                format!("06:00:00:00:{:02x}:{:02x}", n / 256, n % 256),
                "bnxt_en",
            ),
        ],
        host_keys: vec![],
    }
}

/// A GitOps checkout in a temp dir.
struct Repo {
    dir: tempfile::TempDir,
}

impl Repo {
    fn new() -> Repo {
        Repo {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `doc` at `<prefix>cluster-nodes/<nodeId>/node.yaml`; returns the relative path.
    fn add(&self, doc: &NodeDocument) -> String {
        self.add_text(
            &format!("cluster-nodes/{}/node.yaml", doc.node_id.as_str()),
            &doc.to_yaml(),
        )
    }

    fn add_text(&self, relative: &str, text: &str) -> String {
        let path = self.path().join(relative);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
        relative.to_owned()
    }

    fn inventory(&self, text: &str) -> PathBuf {
        let path = self.path().join("inventory.csv");
        fs::write(&path, text).unwrap();
        path
    }

    fn reconcile(&self, inventory: &str) -> Report {
        let inventory = self.inventory(inventory);
        reconcile::reconcile(&Options {
            nodes: self.path().to_path_buf(),
            inventory,
            demand: None,
            inventory_map: None,
        })
        .unwrap()
    }
}

fn run(args: &[&str]) -> Output {
    enlist(args, &[])
}

fn code(output: &Output) -> i32 {
    output.status.code().unwrap_or(-1)
}

// ---------------------------------------------------------------------------------------------
// Golden outputs of a repository with every kind of error

/// A repository with every kind of error, for the error paths of each format.
fn failing_repo() -> Repo {
    let repo = Repo::new();
    let a = machine(1).document(Some("alice"));
    repo.add(&a);
    repo.add(&a.with_node_id(enlist::identity::NodeId::parse("node-copied").unwrap()));
    let b = machine(2).document(Some("alice"));
    repo.add_text(
        &format!("cluster-nodes/{}/node.yaml", b.node_id.as_str()),
        &b.to_yaml().replace("cores: 40", "cores: 64"),
    );
    repo.add_text(
        "cluster-nodes/node-broken/node.yaml",
        "schema: enlist.dev/node/v1\nnodeId: [\n",
    );
    repo.add(&machine(3).document(None));
    repo.inventory(
        "serial,make,model,cores,memory_gb,status,location\n\
         SN00001X,Dell,R640,40,384,active,\"rack A, U1\"\n\
         SN00002X,Dell,R640,40,384,active,rack A | U2\n\
         SN00004X,Dell,R640,40,384,active,rack A U4\n\
         SN00005X,Dell,R640,forty,384,active,rack A U5\n\
         SN00004X,Dell,R640,40,384,active,rack A U4 again\n",
    );
    repo
}

#[test]
fn failing_repo_golden_outputs_and_exit_1() {
    let repo = failing_repo();
    let nodes = repo.path().to_string_lossy().into_owned();
    let inventory = repo
        .path()
        .join("inventory.csv")
        .to_string_lossy()
        .into_owned();
    for (format, file) in [
        ("text", "failing.txt"),
        ("json", "failing.json"),
        ("markdown", "failing.md"),
        ("github", "failing.github.txt"),
        ("html", "failing.html"),
    ] {
        let out = run(&[
            "reconcile",
            "--nodes",
            &nodes,
            "--inventory",
            &inventory,
            "--format",
            format,
        ]);
        assert_eq!(code(&out), 1, "{format}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("4 invalid, 1 duplicate(s)"),
            "{}",
            stderr(&out)
        );
        golden(&format!("reconcile/{file}"), &stdout(&out));
    }
}

// ---------------------------------------------------------------------------------------------
// Exit codes of the binary

#[test]
fn exit_1_on_invalid_or_duplicates_and_gaps_only_with_strict() {
    let repo = Repo::new();
    let doc = machine(1).document(None);
    repo.add(&doc);
    repo.inventory("serial\nSN00001X\nSN00099X\n");
    let nodes = repo.path().to_string_lossy().into_owned();
    let inventory = repo
        .path()
        .join("inventory.csv")
        .to_string_lossy()
        .into_owned();
    let run = |extra: &[&str]| {
        let mut args = vec!["reconcile", "--nodes", &nodes, "--inventory", &inventory];
        args.extend_from_slice(extra);
        run(&args)
    };
    // A missing registration is a gap: 0, or 1 with --strict.
    assert_eq!(code(&run(&[])), 0);
    assert_eq!(code(&run(&["--strict"])), 1);

    // A copy of the node under another directory: a duplicate (and an invalid nodeId).
    repo.add_text(
        "elsewhere/cluster-nodes/node-copy/node.yaml",
        &doc.to_yaml(),
    );
    let out = run(&["--format", "github"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(
        stdout(&out).contains("::error file=elsewhere/cluster-nodes/node-copy/node.yaml"),
        "{}",
        stdout(&out)
    );
    assert!(stderr(&out).contains("duplicate"), "{}", stderr(&out));
}

#[test]
fn exit_64_names_the_unusable_file() {
    let repo = Repo::new();
    repo.inventory("serial\n");
    let nodes = repo.path().to_string_lossy().into_owned();
    let inventory = repo
        .path()
        .join("inventory.csv")
        .to_string_lossy()
        .into_owned();
    let missing = repo.path().join("nope").to_string_lossy().into_owned();
    let bad_header = repo.add_text("bad.csv", "hostname,model\nx,y\n");
    let bad_header = repo.path().join(bad_header).to_string_lossy().into_owned();
    let bad_demand = repo.add_text("demand.yaml", "headroom: lots\n");
    let bad_demand = repo.path().join(bad_demand).to_string_lossy().into_owned();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--nodes", &missing, "--inventory", &inventory], "nope"),
        (
            vec!["--nodes", &inventory, "--inventory", &inventory],
            "not a directory",
        ),
        (vec!["--nodes", &nodes, "--inventory", &missing], "nope"),
        (vec!["--nodes", &nodes, "--inventory", &nodes], "inventory"),
        (
            vec!["--nodes", &nodes, "--inventory", &bad_header],
            "bad.csv",
        ),
        (
            vec![
                "--nodes",
                &nodes,
                "--inventory",
                &inventory,
                "--demand",
                &missing,
            ],
            "nope",
        ),
        (
            vec![
                "--nodes",
                &nodes,
                "--inventory",
                &inventory,
                "--demand",
                &bad_demand,
            ],
            "demand.yaml",
        ),
        (vec!["--nodes", &nodes], "--inventory"),
    ];
    for (args, needle) in cases {
        let mut full = vec!["reconcile"];
        full.extend(args.iter().copied());
        let out = run(&full);
        assert_eq!(code(&out), 64, "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains(needle),
            "{args:?}: {needle:?} not in {}",
            stderr(&out)
        );
        assert!(
            out.stdout.is_empty(),
            "{args:?}: no report on a usage error"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Edge cases

#[test]
fn empty_inventory_makes_every_node_a_phantom() {
    let repo = Repo::new();
    repo.add(&machine(1).document(None));
    repo.add(&machine(2).document(None));
    for text in ["", "serial,model\r\n", "\u{feff}"] {
        let report = repo.reconcile(text);
        assert_eq!(report.phantom_nodes.len(), 2, "{text:?}");
        assert_eq!(report.inventory, 0);
        assert!(report.invalid.is_empty() && !report.failed(false));
    }
}

#[test]
fn empty_repo_makes_every_row_but_retired_ones_missing() {
    let repo = Repo::new();
    let report = repo
        .reconcile("serial,status\nSN1A,active\nSN2B,\nSN3C,spare\nSN4D,retired\nSN5E,broken\n");
    assert_eq!(report.nodes, 0);
    let missing: Vec<_> = report
        .missing_registration
        .iter()
        .map(|m| (m.serial.clone().unwrap(), m.status.as_str()))
        .collect();
    // SPEC §5: "retired rows excluded" — and only those.
    assert_eq!(
        missing,
        [
            ("SN1A".to_owned(), "active"),
            ("SN2B".to_owned(), "active"),
            ("SN3C".to_owned(), "spare"),
            ("SN5E".to_owned(), "broken")
        ]
    );
    assert!(!report.failed(false) && report.failed(true));
}

#[test]
fn bom_crlf_and_quoted_fields_match_like_plain_csv() {
    let repo = Repo::new();
    repo.add(&machine(1).document(None));
    repo.add(&machine(2).document(None));
    let text = "\u{feff}\"Serial Number\",Location,\"Notes, free text\",MAC\r\n\
                \"SN00001X\",\"DC1, rack A\",\"says \"\"hi\"\"\r\nover two lines\",\r\n\
                ,\"DC1, rack B\",,\"02-00-00-00-00-02; 06:00:00:00:00:02\"\r\n";
    let report = repo.reconcile(text);
    assert!(report.invalid.is_empty(), "{:?}", report.invalid);
    assert!(
        report.phantom_nodes.is_empty(),
        "{:?}",
        report.phantom_nodes
    );
    assert!(report.missing_registration.is_empty());
    assert_eq!(report.inventory, 2);
}

#[test]
fn line_numbers_count_physical_lines_with_crlf_and_multiline_cells() {
    let repo = Repo::new();
    let text = "serial,cores,notes\r\n\r\nSN1A,8,\"a\r\nb\"\r\nSN2B,many,\r\n";
    let report = repo.reconcile(text);
    assert_eq!(report.invalid.len(), 1);
    assert_eq!(report.invalid[0].line, Some(5));
    assert_eq!(report.missing_registration[0].line, 3);
}

#[test]
fn duplicate_inventory_rows_are_invalid_and_the_first_row_is_used() {
    let repo = Repo::new();
    repo.add(&machine(1).document(None));
    let report = repo.reconcile("serial,location\nSN00001X,rack A\nsn00001x ,rack B\n");
    assert_eq!(report.invalid.len(), 1);
    assert_eq!(report.invalid[0].kind, InvalidKind::DuplicateInventoryRow);
    assert_eq!(report.invalid[0].line, Some(3));
    assert!(report.invalid[0].message.contains("line 2"));
    assert!(report.phantom_nodes.is_empty() && report.missing_registration.is_empty());
    assert!(report.failed(false));
}

#[test]
fn serial_matching_ignores_case_and_whitespace() {
    let repo = Repo::new();
    let mut m = machine(7);
    m.serial = Some(" sn00007x ".into());
    repo.add(&m.document(None));
    let report = repo.reconcile("service_tag\n  SN00007X\t\n");
    assert!(
        report.phantom_nodes.is_empty() && report.missing_registration.is_empty(),
        "{report:#?}"
    );
}

#[test]
fn retired_and_spare_rows() {
    let repo = Repo::new();
    repo.add(&machine(1).document(None)); // registered, inventory says retired
    repo.add(&machine(2).document(None)); // registered, spare: fine
    let report = repo.reconcile(
        "serial,status\nSN00001X,Retired\nSN00002X,SPARE\nSN00003X,spare\nSN00004X,retired\nSN00005X,broken\n",
    );
    // Unregistered: the spare and the broken machine are missing, the retired one is not.
    let missing: Vec<_> = report
        .missing_registration
        .iter()
        .map(|m| (m.line, m.status.as_str()))
        .collect();
    assert_eq!(missing, [(4, "spare"), (6, "broken")]);
    assert!(
        report.missing_registration[0]
            .hint
            .contains("spare machine")
    );
    assert!(report.missing_registration[1].hint.contains("repaired"));
    for m in &report.missing_registration {
        assert!(m.hint.contains("set its status to retired"), "{}", m.hint);
    }
    assert_eq!(report.mismatches.len(), 1);
    assert_eq!(report.mismatches[0].field, MismatchField::Status);
    assert!(report.mismatches[0].hint.contains("cluster-nodes/"));
}

#[test]
fn hand_edited_node_is_invalid_but_still_claims_its_row() {
    let repo = Repo::new();
    let doc = machine(1).document(None);
    let edited = doc.to_yaml().replace("cores: 40", "cores: 48");
    let path = repo.add_text(
        &format!("cluster-nodes/{}/node.yaml", doc.node_id.as_str()),
        &edited,
    );
    let report = repo.reconcile("serial,cores\nSN00001X,40\n");
    assert_eq!(report.invalid.len(), 1);
    let invalid = &report.invalid[0];
    assert_eq!(
        (invalid.kind, invalid.file.as_str()),
        (InvalidKind::HashMismatch, path.as_str())
    );
    let hash_line = edited
        .lines()
        .position(|l| l.starts_with("factsHash:"))
        .unwrap() as u64
        + 1;
    assert_eq!(invalid.line, Some(hash_line));
    assert!(invalid.hint.contains("enlist facts"));
    assert!(
        report.missing_registration.is_empty(),
        "the machine is not also missing"
    );
    assert_eq!(
        report.mismatches.len(),
        1,
        "its (edited) facts are still compared"
    );
    assert!(
        report.fleet.is_empty(),
        "an edited file is not counted as fleet"
    );
    let github = reconcile::render(&report, Format::Github, false);
    let mut annotations = github.lines();
    assert!(
        annotations
            .next()
            .unwrap()
            .starts_with("::notice file=inventory.csv,line=1,title=enlist%3A inventory columns::"),
        "{github}"
    );
    assert!(
        annotations.next().unwrap().starts_with(&format!(
            "::error file={path},line={hash_line},title=enlist%3A invalid::"
        )),
        "{github}"
    );
}

#[test]
fn node_id_must_match_its_directory_and_garbage_is_reported_not_fatal() {
    let repo = Repo::new();
    let doc = machine(1).document(None);
    repo.add_text("cluster-nodes/node-renamed/node.yaml", &doc.to_yaml());
    repo.add_text(
        "cluster-nodes/node-broken/node.yaml",
        "schema: enlist.dev/node/v1\nnodeId: [\n",
    );
    repo.add_text(
        "cluster-nodes/node-future/node.yaml",
        "schema: enlist.dev/node/v9\n",
    );
    repo.add(&machine(2).document(None));
    let report = repo.reconcile("serial\nSN00001X\nSN00002X\n");
    let kinds: Vec<_> = report
        .invalid
        .iter()
        .map(|i| (i.file.as_str(), i.kind))
        .collect();
    assert_eq!(
        kinds,
        [
            ("cluster-nodes/node-broken/node.yaml", InvalidKind::Parse),
            ("cluster-nodes/node-future/node.yaml", InvalidKind::Schema),
            (
                "cluster-nodes/node-renamed/node.yaml",
                InvalidKind::NodeIdMismatch
            ),
        ]
    );
    assert_eq!(report.nodes, 4);
    assert!(report.missing_registration.is_empty());
}

#[test]
fn discovery_finds_nested_layouts_and_skips_vcs_dirs_and_the_build_dir() {
    let repo = Repo::new();
    let a = machine(1).document(None);
    let b = machine(2).document(None);
    repo.add_text(
        &format!(
            "maintainers/alice/cluster-nodes/{}/node.yaml",
            a.node_id.as_str()
        ),
        &a.to_yaml(),
    );
    for vcs in [".git", ".hg", "maintainers/.svn"] {
        repo.add_text(
            &format!("{vcs}/cluster-nodes/{}/node.yaml", b.node_id.as_str()),
            &b.to_yaml(),
        );
    }
    // cargo's build directory at the top (it carries CACHEDIR.TAG): skipped.
    repo.add_text(
        &format!("target/cluster-nodes/{}/node.yaml", b.node_id.as_str()),
        &b.to_yaml(),
    );
    repo.add_text(
        "target/CACHEDIR.TAG",
        "Signature: 8a477f597d28d172789f06886806bc55\n",
    );
    repo.add_text("cluster-nodes/node.yaml", &b.to_yaml()); // not in a node directory
    repo.add_text(
        &format!("cluster-nodes/{}/extra/node.yaml", b.node_id.as_str()),
        &b.to_yaml(),
    );
    let nodes = scan::scan(repo.path()).unwrap();
    let paths: Vec<_> = nodes.iter().map(|n| n.path.as_str()).collect();
    assert_eq!(
        paths,
        [format!(
            "maintainers/alice/cluster-nodes/{}/node.yaml",
            a.node_id.as_str()
        )]
    );
    // Pointing --nodes at a cluster-nodes directory itself works too (paths relative to it).
    let nodes = scan::scan(&repo.path().join("maintainers/alice/cluster-nodes")).unwrap();
    let paths: Vec<_> = nodes.iter().map(|n| n.path.as_str()).collect();
    assert_eq!(paths, [format!("{}/node.yaml", a.node_id.as_str())]);
}

#[test]
fn a_directory_named_target_is_searched_unless_it_is_the_tagged_build_dir() {
    let repo = Repo::new();
    let a = machine(1).document(Some("target"));
    let b = machine(2).document(None);
    let nested = format!(
        "maintainers/target/cluster-nodes/{}/node.yaml",
        a.node_id.as_str()
    );
    repo.add_text(&nested, &a.to_yaml());
    // A top-level `target/` without CACHEDIR.TAG is not cargo's: searched too.
    let top = format!("target/cluster-nodes/{}/node.yaml", b.node_id.as_str());
    repo.add_text(&top, &b.to_yaml());
    let report = repo.reconcile("serial\nSN00001X\nSN00002X\n");
    assert_eq!(report.nodes, 2);
    assert!(
        report.missing_registration.is_empty() && report.phantom_nodes.is_empty(),
        "{report:#?}"
    );
    // Tagged, the top-level one is a build directory; the nested one is still found.
    repo.add_text(
        "target/CACHEDIR.TAG",
        "Signature: 8a477f597d28d172789f06886806bc55\n",
    );
    let paths: Vec<String> = scan::scan(repo.path())
        .unwrap()
        .into_iter()
        .map(|n| n.path)
        .collect();
    assert_eq!(paths, [nested]);
}

#[test]
fn node_yaml_symlinks_are_read_only_to_regular_files_inside_the_tree() {
    use std::os::unix::fs::symlink;
    let repo = Repo::new();
    let outside = tempfile::tempdir().unwrap();
    let doc = machine(1).document(None);
    // A symlink to a real node.yaml inside the tree: followed.
    repo.add_text("store/node-1.yaml", &doc.to_yaml());
    let linked = repo.path().join("cluster-nodes").join(doc.node_id.as_str());
    fs::create_dir_all(&linked).unwrap();
    symlink(
        repo.path().join("store/node-1.yaml"),
        linked.join("node.yaml"),
    )
    .unwrap();
    // A symlink to a file outside the tree (a secret on the CI runner): not read.
    fs::write(
        outside.path().join("secret.yaml"),
        machine(2).document(None).to_yaml(),
    )
    .unwrap();
    let link = |dir: &str, target: &Path| {
        let dir = repo.path().join("cluster-nodes").join(dir);
        fs::create_dir_all(&dir).unwrap();
        symlink(target, dir.join("node.yaml")).unwrap();
    };
    link("node-outside", &outside.path().join("secret.yaml"));
    // Devices that never end and a FIFO that blocks forever: not read.
    link("node-zero", Path::new("/dev/zero"));
    let fifo = repo.path().join("cluster-nodes/node-fifo");
    fs::create_dir_all(&fifo).unwrap();
    let made = std::process::Command::new("mkfifo")
        .arg(fifo.join("node.yaml"))
        .status()
        .unwrap();
    assert!(made.success());
    // Larger than 1 MiB: not a node.yaml.
    repo.add_text(
        "cluster-nodes/node-huge/node.yaml",
        &format!(
            "schema: enlist.dev/node/v1\n# {}\n",
            "x".repeat(1024 * 1024)
        ),
    );
    let started = std::time::Instant::now();
    let report = repo.reconcile("serial\nSN00001X\n");
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
    let problems: Vec<(&str, InvalidKind, &str)> = report
        .invalid
        .iter()
        .map(|i| (i.file.as_str(), i.kind, i.message.as_str()))
        .collect();
    assert_eq!(
        problems,
        [
            (
                "cluster-nodes/node-fifo/node.yaml",
                InvalidKind::Unreadable,
                "not a regular file (a device, FIFO or socket, or a symlink to one): not read"
            ),
            (
                "cluster-nodes/node-huge/node.yaml",
                InvalidKind::Parse,
                "larger than 1 MiB, the limit for a node.yaml: not read"
            ),
            (
                "cluster-nodes/node-outside/node.yaml",
                InvalidKind::Unreadable,
                "a symlink to a file outside the scanned directory: not followed"
            ),
            (
                "cluster-nodes/node-zero/node.yaml",
                InvalidKind::Unreadable,
                "a symlink to a file outside the scanned directory: not followed"
            ),
        ]
    );
    for i in &report.invalid {
        assert!(!i.message.contains("secret"), "{}", i.message);
    }
    // The linked file inside the tree is a valid registration of its row.
    assert_eq!(report.nodes, 5);
    assert_eq!(report.fleet.len(), 1);
    assert!(report.missing_registration.is_empty() && report.phantom_nodes.is_empty());
}

#[test]
fn a_nul_in_a_node_yaml_or_a_csv_cell_is_invalid() {
    let repo = Repo::new();
    let doc = machine(1).document(None);
    repo.add(&doc);
    // Escaped in a double-quoted YAML string, with a factsHash that matches (so only the NUL is
    // wrong), and as a raw byte.
    let mut escaped = machine(2).document(None);
    escaped.hostname = "node\0two".into();
    escaped.facts_hash = escaped.compute_facts_hash();
    let escaped_yaml = escaped.to_yaml();
    assert!(escaped_yaml.contains("\\0"), "{escaped_yaml}");
    let escaped_path = repo.add_text(
        &format!("cluster-nodes/{}/node.yaml", escaped.node_id.as_str()),
        &escaped_yaml,
    );
    // Path order: node-3ce534 (raw) before node-4841ea (escaped).
    let raw = machine(3).document(None);
    let raw_yaml = raw.to_yaml().replace("node\n", "no\0de\n");
    let raw_path = repo.add_text(
        &format!("cluster-nodes/{}/node.yaml", raw.node_id.as_str()),
        &raw_yaml,
    );
    let report = repo.reconcile("serial,notes\nSN00001X,fine\nSN00004X,bad\0cell\n");
    let problems: Vec<(&str, Option<u64>, InvalidKind)> = report
        .invalid
        .iter()
        .map(|i| (i.file.as_str(), i.line, i.kind))
        .collect();
    let raw_line = raw_yaml[..raw_yaml.find('\0').unwrap()].lines().count() as u64;
    assert_eq!(
        problems,
        [
            (raw_path.as_str(), Some(raw_line), InvalidKind::Parse),
            (escaped_path.as_str(), None, InvalidKind::Parse),
            ("inventory.csv", Some(3), InvalidKind::InventoryRow),
        ]
    );
    assert!(report.invalid[0].message.contains("NUL"));
    assert!(report.invalid[1].message.contains("NUL"));
    assert!(
        report.invalid[2]
            .message
            .contains("cell 2 contains a NUL byte")
    );
    for i in &report.invalid {
        assert!(!i.message.contains('\0') && !i.hint.contains('\0'));
    }
    let json = reconcile::render(&report, Format::Json, false);
    assert!(!json.contains("\\u0000"), "{json}");
    assert!(report.failed(false));
}

#[test]
fn trailing_commas_are_empty_cells_not_bad_rows() {
    let repo = Repo::new();
    repo.add(&machine(1).document(None));
    repo.add(&machine(2).document(None));
    let report = repo.reconcile("serial,make\nSN00001X,Dell,\nSN00002X,Dell,,\n");
    assert!(report.invalid.is_empty(), "{:?}", report.invalid);
    assert!(report.missing_registration.is_empty() && report.phantom_nodes.is_empty());
}

#[test]
fn copied_node_directory_is_a_duplicate_sharing_everything() {
    let repo = Repo::new();
    let doc = machine(1).document(None);
    repo.add(&doc);
    let copy = doc.with_node_id(enlist::identity::NodeId::parse("node-zzzzzz").unwrap());
    repo.add(&copy);
    let report = repo.reconcile("serial\nSN00001X\n");
    assert_eq!(report.duplicates.len(), 1);
    let dup = &report.duplicates[0];
    assert_eq!(dup.nodes, [doc.node_id.as_str(), "node-zzzzzz"]);
    let kinds: Vec<_> = dup.shared.iter().map(|s| s.kind).collect();
    assert_eq!(
        kinds,
        [
            SharedKind::Serial,
            SharedKind::Fingerprint,
            SharedKind::Mac,
            SharedKind::Mac
        ]
    );
    assert!(dup.hint.contains("registered more than once"));
    assert!(
        report.invalid.is_empty(),
        "the copy is a valid file on its own"
    );
}

#[test]
fn shared_mac_between_different_machines_is_a_duplicate() {
    let repo = Repo::new();
    let a = machine(1);
    let mut b = machine(2);
    b.nics[1].1 = a.nics[0].1.clone();
    repo.add(&a.document(None));
    repo.add(&b.document(None));
    let report = repo.reconcile("serial\nSN00001X\nSN00002X\n");
    assert_eq!(report.duplicates.len(), 1);
    assert_eq!(report.duplicates[0].shared[0].kind, SharedKind::Mac);
    assert!(
        report.duplicates[0]
            .hint
            .contains("claim the same serial or MAC")
    );
}

/// Issue 27: two machines booted from one disk image share its SSH host key — a
/// `duplicate_host_key` error naming both nodes and the key's fingerprint, in every format.
#[test]
fn issue_27_two_machines_with_one_host_key_are_a_cloned_image() {
    let root = fixture("dell-r640");
    let pub_key = fs::read_to_string(root.join("etc/ssh/ssh_host_ed25519_key.pub")).unwrap();
    let fingerprint = HostKey::parse(&pub_key).unwrap().fingerprint();
    // `ssh-keygen -l -f` printed it when the fixture was made.
    assert_eq!(
        fingerprint,
        "SHA256:CqLq4+oKKWCUkXpwLiEqu7sMZ9zFK+OWShONoAIjXcw"
    );
    let repo = Repo::new();
    let a = machine(1).with_host_keys(&[pub_key.trim()]);
    let b = machine(2).with_host_keys(&[pub_key.trim()]);
    let (a, b) = (a.document(None), b.document(None));
    let (path_a, path_b) = (repo.add(&a), repo.add(&b));
    // A third machine with its own key is no part of it.
    let own =
        fs::read_to_string(fixture("vm-no-dmi").join("etc/ssh/ssh_host_ed25519_key.pub")).unwrap();
    repo.add(&machine(3).with_host_keys(&[own.trim()]).document(None));
    let inventory = repo.inventory("serial\nSN00001X\nSN00002X\nSN00003X\n");
    let report = reconcile::reconcile(&Options {
        nodes: repo.path().to_path_buf(),
        inventory: inventory.clone(),
        demand: None,
        inventory_map: None,
    })
    .unwrap();
    assert_eq!(report.duplicates.len(), 1, "{:?}", report.duplicates);
    let dup = &report.duplicates[0];
    // Both nodes, in path order.
    let mut both = [a.node_id.as_str(), b.node_id.as_str()];
    both.sort();
    assert_eq!(dup.nodes, both);
    assert_eq!(dup.shared.len(), 1);
    assert_eq!(dup.shared[0].kind, SharedKind::HostKey);
    assert_eq!(dup.shared[0].value, fingerprint);
    assert!(dup.hint.contains("cloned image"), "{}", dup.hint);

    let args = |format: &'static str| {
        vec![
            "reconcile".to_owned(),
            "--nodes".to_owned(),
            repo.path().display().to_string(),
            "--inventory".to_owned(),
            inventory.display().to_string(),
            "--format".to_owned(),
            format.to_owned(),
        ]
    };
    let out_of = |format: &'static str| {
        let args = args(format);
        let out = enlist(&args.iter().map(String::as_str).collect::<Vec<_>>(), &[]);
        assert_eq!(
            code(&out),
            1,
            "{format}: a duplicate fails CI: {}",
            stderr(&out)
        );
        stdout(&out)
    };
    let json: serde_json::Value = serde_json::from_str(&out_of("json")).unwrap();
    let entry = &json["duplicates"][0];
    assert_eq!(entry["kind"], "duplicate_host_key");
    assert_eq!(entry["nodes"], serde_json::json!(both));
    assert_eq!(
        entry["shared"],
        serde_json::json!([{"kind": "host_key", "value": fingerprint}])
    );
    for format in ["text", "markdown", "html"] {
        let text = out_of(format);
        assert!(text.contains("SSH host key"), "{format}: {text}");
        assert!(text.contains(&fingerprint), "{format}");
        assert!(
            text.contains(path_a.as_str()) || text.contains(a.node_id.as_str()),
            "{format}"
        );
        assert!(
            text.contains(path_b.as_str()) || text.contains(b.node_id.as_str()),
            "{format}"
        );
    }
    let github = out_of("github");
    for path in [&path_a, &path_b] {
        let line = github
            .lines()
            .find(|l| l.starts_with(&format!("::error file={path},")))
            .unwrap_or_else(|| panic!("{path}: {github}"));
        // At the `sshHostKeys:` line of each file.
        let text = fs::read_to_string(repo.path().join(path)).unwrap();
        let key_line = text.lines().position(|l| l == "sshHostKeys:").unwrap() + 1;
        assert!(line.contains(&format!(",line={key_line},")), "{line}");
        assert!(line.contains("duplicate host key"), "{line}");
        assert!(line.contains(&fingerprint), "{line}");
    }
}

/// A copied directory shares the host key too, but it is one machine twice: a
/// `duplicate_identity`, not a cloned image.
#[test]
fn issue_27_a_copied_directory_with_host_keys_stays_a_duplicate_identity() {
    let pub_key =
        fs::read_to_string(fixture("dell-r640").join("etc/ssh/ssh_host_ed25519_key.pub")).unwrap();
    let repo = Repo::new();
    let doc = machine(1).with_host_keys(&[pub_key.trim()]).document(None);
    repo.add(&doc);
    repo.add(&doc.with_node_id(enlist::identity::NodeId::parse("node-zzzzzz").unwrap()));
    let report = repo.reconcile("serial\nSN00001X\n");
    assert_eq!(report.duplicates.len(), 1);
    let dup = &report.duplicates[0];
    assert_eq!(dup.kind, enlist::reconcile::report::DuplicateKind::Identity);
    assert!(dup.shared.iter().any(|s| s.kind == SharedKind::HostKey));
    assert!(dup.hint.contains("registered more than once"));
}

#[test]
fn mac_fallback_and_a_differing_serial_is_a_mismatch() {
    let repo = Repo::new();
    let mut no_serial = machine(1);
    no_serial.serial = Some("To Be Filled By O.E.M.".into());
    repo.add(&no_serial.document(None));
    repo.add(&machine(2).document(None));
    let report = repo.reconcile("serial,mac\nN/A,02:00:00:00:00:01\nWRONG123,06-00-00-00-00-02\n");
    assert!(
        report.phantom_nodes.is_empty() && report.missing_registration.is_empty(),
        "{report:#?}"
    );
    let fields: Vec<_> = report
        .mismatches
        .iter()
        .map(|m| (m.field, m.inventory.as_str(), m.node.as_str()))
        .collect();
    assert_eq!(fields, [(MismatchField::Serial, "WRONG123", "SN00002X")]);
}

#[test]
fn mismatch_rules_cores_memory_make_model() {
    let repo = Repo::new();
    repo.add(&machine(1).document(None)); // 40 cores, 377 GiB, Dell Inc. PowerEdge R640
    let ok = repo.reconcile("serial,make,model,cores,memory_gb\nSN00001X,DELL,r640,40,384\n");
    assert!(ok.mismatches.is_empty(), "{:?}", ok.mismatches);
    // 377 GiB vs 420 GB: 10.2 % apart.
    let bad = repo.reconcile("serial,make,model,cores,memory_gb\nSN00001X,Lenovo,R650,32,420\n");
    let fields: Vec<_> = bad.mismatches.iter().map(|m| m.field).collect();
    assert_eq!(
        fields,
        [
            MismatchField::Make,
            MismatchField::Model,
            MismatchField::Cores,
            MismatchField::Memory
        ]
    );
    assert!(
        bad.mismatches
            .iter()
            .all(|m| !m.hint.is_empty() && m.line == 2)
    );
    // Within 10 %: no mismatch.
    let close = repo.reconcile("serial,memory_gb\nSN00001X,415\n");
    assert!(close.mismatches.is_empty());
}

#[test]
fn capacity_counts_active_rows_once_and_recommends_from_the_catalog() {
    let repo = Repo::new();
    repo.add(&machine(1).document(None));
    let copy = machine(1)
        .document(None)
        .with_node_id(enlist::identity::NodeId::parse("node-copy01").unwrap());
    repo.add_text("cluster-nodes/node-copy01/node.yaml", &copy.to_yaml());
    repo.add(&machine(2).document(None)); // spare: not capacity
    repo.inventory("serial,make,model,status,cost\nSN00001X,Dell,R640,active,7000\nSN00002X,Dell,R640,spare,\n");
    repo.add_text(
        "demand.yaml",
        "headroom: 0\nworkloads:\n  - {name: web, cores: 100, memory_gb: 100, storage_gb: 100}\n",
    );
    let report = reconcile::reconcile(&Options {
        nodes: repo.path().to_path_buf(),
        inventory: repo.path().join("inventory.csv"),
        demand: Some(repo.path().join("demand.yaml")),
        inventory_map: None,
    })
    .unwrap();
    let plan = report.plan.as_ref().unwrap();
    assert_eq!(plan.active_nodes, 1);
    assert_eq!(plan.lines[0].capacity, 40.0);
    // 60 cores short, 40 per unit: 2 units, 14000.
    let rec = &report.recommendations[0];
    assert_eq!(
        (rec.count, rec.limiting, rec.total_cost),
        (2, Resource::Cores, Some(14000.0))
    );
    assert_eq!(rec.message, "buy 2 more of Dell R640; cores is the limit");
}

#[test]
fn html_report_of_absurd_numbers_finishes_and_json_counts_stay_sane() {
    // `memory_gb=1e308` on the rows of a model nobody registered made it the catalog's per-unit
    // memory; three units of it are infinite, and the chart's axis search looped forever. And a
    // demand of `cores: 1.6e308` twice printed `count: 18446744073709551615`.
    let repo = Repo::new();
    repo.inventory(
        "serial,make,model,cores,memory_gb,cost\n\
         SN1,Dell,R750,40,1e308,9000\n\
         SN2,Dell,R750,40,1e308,9000\n\
         SN3,Dell,R750,40,384,9000\n",
    );
    repo.add_text(
        "demand.yaml",
        "headroom: 0.2\nworkloads:\n  - {name: db, cores: 100}\n",
    );
    let options = Options {
        nodes: repo.path().to_path_buf(),
        inventory: repo.path().join("inventory.csv"),
        demand: Some(repo.path().join("demand.yaml")),
        inventory_map: None,
    };
    let (done, result) = std::sync::mpsc::channel();
    let background = options.clone();
    std::thread::spawn(move || {
        let report = reconcile::reconcile(&background).unwrap();
        let html = reconcile::render(&report, Format::Html, false);
        let _ = done.send((report, html));
    });
    let (report, html) = result
        .recv_timeout(std::time::Duration::from_secs(60))
        .expect("--format html finishes");
    assert!(html.contains("id=\"capacity-memory\""));
    let invalid: Vec<_> = report
        .invalid
        .iter()
        .map(|i| (i.line, i.message.as_str()))
        .collect();
    let too_large = "memory_gb \"1e308\" (column \"memory_gb\") is larger than 10^12: not an amount of one machine; check the cell";
    assert_eq!(invalid, [(Some(2), too_large), (Some(3), too_large)]);
    // The sane row is the catalog: ⌈100 × 1.2 / 40⌉ = 3 units of 384 GiB.
    let rec = &report.recommendations[0];
    assert_eq!((rec.count, rec.total_cost), (3, Some(27_000.0)), "{rec:?}");
    assert!(html.contains("0 → 1,152"), "memory after buying");

    // A demand whose sum is infinite is a usage error naming the key, not a report.
    repo.add_text(
        "demand.yaml",
        "workloads:\n  - {name: a, cores: 1.6e308}\n  - {name: b, cores: 1.6e308}\n",
    );
    let err = reconcile::reconcile(&options).unwrap_err().to_string();
    assert!(err.contains("workload \"a\": cores"), "{err}");
    let out = run(&[
        "reconcile",
        "--nodes",
        &repo.path().to_string_lossy(),
        "--inventory",
        &repo.path().join("inventory.csv").to_string_lossy(),
        "--demand",
        &repo.path().join("demand.yaml").to_string_lossy(),
        "--format",
        "json",
    ]);
    assert_eq!(code(&out), 64, "{}", stderr(&out));
    assert!(!stdout(&out).contains("18446744073709551615"));
}

// ---------------------------------------------------------------------------------------------
// Order independence

/// splitmix64: a tiny seeded generator, enough to shuffle deterministically.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            items.swap(i, self.below(i + 1));
        }
    }
}

/// A messy fleet: matches, phantoms, missing rows, duplicates (copied dirs and shared MACs),
/// mismatches, invalid files and rows, every status.
fn messy_repo(rng: &mut Rng) -> (Repo, String) {
    let repo = Repo::new();
    let mut rows = Vec::new();
    for n in 0..40u32 {
        let mut m = machine(n);
        if n % 7 == 3 {
            m.nics[1].1 = machine(n + 1).nics[0].1.clone(); // shares a MAC with the next one
        }
        if n % 9 == 4 {
            m.memory_gib = 200;
        }
        let doc = m.document(Some(["alice", "bob"][n as usize % 2]));
        match n % 10 {
            0 => {} // not registered
            1 => {
                repo.add_text(
                    &format!("cluster-nodes/{}/node.yaml", doc.node_id.as_str()),
                    &doc.to_yaml().replace("cores: 40", "cores: 41"),
                );
            }
            2 => {
                repo.add(&doc);
                let copy = doc.with_node_id(
                    enlist::identity::NodeId::parse(&format!("node-dup{n:03}")).unwrap(),
                );
                repo.add(&copy);
            }
            _ => {
                repo.add_text(
                    &format!(
                        "maintainers/{}/cluster-nodes/{}/node.yaml",
                        doc.operator.clone().unwrap(),
                        doc.node_id.as_str()
                    ),
                    &doc.to_yaml(),
                );
            }
        }
        let status = ["active", "spare", "retired", "broken", ""][rng.below(5)];
        let serial = if n % 6 == 5 {
            String::new()
        } else {
            format!("sn{n:05}x")
        };
        let mac = if serial.is_empty() {
            m.nics[0].1.clone()
        } else {
            String::new()
        };
        if n % 8 != 6 {
            rows.push(format!("{serial},Dell,R640,40,384,{status},{mac},7000"));
        }
    }
    rows.push("SNPHANTOMROW,Dell,R640,forty,384,active,,".to_owned());
    rows.push("SNBAD,Dell,R640,40,384,dead,,".to_owned());
    repo.add_text("cluster-nodes/node-garbage/node.yaml", "not: [valid\n");
    let header = "serial,make,model,cores,memory_gb,status,mac,cost";
    let text = format!("{header}\n{}\n", rows.join("\n"));
    (repo, text)
}

#[test]
fn shuffled_nodes_and_rows_give_identical_json() {
    for seed in 1..=8u64 {
        let mut rng = Rng(seed);
        let (repo, text) = messy_repo(&mut rng);
        repo.inventory(&text);
        let nodes = scan::scan(repo.path()).unwrap();
        let inventory = inventory::parse(text.as_bytes(), "inventory.csv", None).unwrap();
        let demand = reconcile::demand::parse(
            "workloads:\n  - {name: a, cores: 2000, memory_gb: 100}\n",
            "demand.yaml",
        )
        .unwrap();
        let baseline = analyse::analyse(&nodes, &inventory, Some(&demand));
        assert!(
            !baseline.duplicates.is_empty()
                && !baseline.invalid.is_empty()
                && !baseline.mismatches.is_empty()
        );
        let expected = reconcile::render(&baseline, Format::Json, false);
        for _ in 0..4 {
            let mut nodes = nodes.clone();
            let mut inventory = inventory.clone();
            rng.shuffle(&mut nodes);
            rng.shuffle(&mut inventory.rows);
            rng.shuffle(&mut inventory.invalid);
            let shuffled = analyse::analyse(&nodes, &inventory, Some(&demand));
            assert_eq!(
                reconcile::render(&shuffled, Format::Json, false),
                expected,
                "seed {seed}"
            );
            for format in [Format::Text, Format::Markdown, Format::Github] {
                assert_eq!(
                    reconcile::render(&shuffled, format, true),
                    reconcile::render(&baseline, format, true),
                    "seed {seed} {format:?}"
                );
            }
        }
    }
}

/// Removes every `"line"` key and sorts `invalid`: moving a CSV row legitimately changes its line
/// number, and invalid rows are listed in line order.
fn without_lines(value: &mut serde_json::Value) {
    strip_lines(value);
    if let Some(serde_json::Value::Array(invalid)) = value.get_mut("invalid") {
        invalid.sort_by_key(|v| v.to_string());
    }
}

fn strip_lines(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            map.remove("line");
            map.values_mut().for_each(strip_lines);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(strip_lines),
        _ => {}
    }
}

#[test]
fn shuffled_csv_rows_and_file_creation_order_give_the_same_json_but_lines() {
    for seed in 11..=14u64 {
        let mut rng = Rng(seed);
        let docs: Vec<NodeDocument> = (0..30).map(|n| machine(n).document(None)).collect();
        // Rows without duplicates (which row is "the duplicate" depends on position, by design).
        let mut rows: Vec<String> = (0..30)
            .filter(|n| n % 5 != 0)
            .map(|n| {
                format!(
                    "SN{n:05}X,{},{}",
                    ["active", "spare", "retired"][n as usize % 3],
                    40 + n % 2
                )
            })
            .chain((100..110).map(|n| format!("SN{n:05}X,active,40")))
            .chain(["SNBAD1,dead,40".to_owned(), "SNBAD2,active,x".to_owned()])
            .collect();
        let run = |order: &[usize], rows: &[String]| {
            let repo = Repo::new();
            for &i in order {
                repo.add(&docs[i]);
            }
            let mut value: serde_json::Value = serde_json::from_str(&reconcile::render(
                &repo.reconcile(&format!("serial,status,cores\n{}\n", rows.join("\n"))),
                Format::Json,
                false,
            ))
            .unwrap();
            without_lines(&mut value);
            value
        };
        let order: Vec<usize> = (0..docs.len()).collect();
        let expected = run(&order, &rows);
        let mut shuffled_order = order.clone();
        rng.shuffle(&mut shuffled_order);
        rng.shuffle(&mut rows);
        assert_eq!(run(&shuffled_order, &rows), expected, "seed {seed}");
    }
}

// ---------------------------------------------------------------------------------------------
// Values from files are inert in every human format (review of issues 11 and 13)

/// A DMI string as whoever flashed the firmware wrote it: a team mention, a link, an image, an
/// issue reference, a right-to-left override and a zero-width space, then a line break and the
/// workflow commands a CI log would obey.
const DMI_HOSTILE: &str = "@acme/admins [docs](https://e.vil/x) ![i](https://e.vil/p.png) #12 \
                           \u{202E}rotkev\u{200B}\n::error::pwned ##[add-mask]y";

/// Markdown as GitHub reads it: text outside code spans (where mentions, references and autolinks
/// come alive), raw HTML, link and image targets.
fn markdown_live_parts(md: &str) -> (Vec<String>, Vec<String>, Vec<String>) {
    use pulldown_cmark::{Event, Options, Parser, Tag};
    let (mut text, mut html, mut links) = (Vec::new(), Vec::new(), Vec::new());
    for event in Parser::new_ext(md, Options::ENABLE_TABLES) {
        match event {
            Event::Text(t) => text.push(t.into_string()),
            Event::Html(h) | Event::InlineHtml(h) => html.push(h.into_string()),
            Event::Start(Tag::Link { dest_url, .. } | Tag::Image { dest_url, .. }) => {
                links.push(dest_url.into_string())
            }
            _ => {}
        }
    }
    (text, html, links)
}

#[test]
fn hostile_dmi_and_inventory_values_are_inert_in_markdown_text_and_annotations() {
    let repo = Repo::new();
    // A phantom (no row) and a matched node, both with the hostile vendor and model.
    let mut phantom = machine(1);
    phantom.vendor = DMI_HOSTILE;
    phantom.model = DMI_HOSTILE;
    phantom.hostname = "host@acme";
    repo.add(&phantom.document(None));
    let mut matched = machine(2);
    matched.vendor = DMI_HOSTILE;
    repo.add(&matched.document(None));
    // A missing row, a row with an unknown status word, and the matched row whose model
    // disagrees with the node's: every cell a hostile one.
    let cell = DMI_HOSTILE.replace('\n', " ").replace('"', "'");
    let csv = format!(
        "serial,make,model,hostname,location,status\n\
         SN00002X,Dell,\"{cell}\",,,active\n\
         SN00009X,\"{cell}\",\"{cell}\",\"{cell}\",\"{cell}\",active\n\
         SN00008X,Dell,R640,,,\"{cell}\"\n"
    );
    let inventory = repo.inventory(&csv);
    let nodes = repo.path().to_str().unwrap().to_owned();
    let inventory = inventory.to_str().unwrap().to_owned();
    let run_format = |format: &str| {
        let out = run(&[
            "reconcile",
            "--nodes",
            &nodes,
            "--inventory",
            &inventory,
            "--format",
            format,
        ]);
        assert_eq!(code(&out), 1, "{format}: {}", stderr(&out));
        stdout(&out)
    };

    let md = run_format("markdown");
    // Every finding is there.
    for heading in [
        "Invalid (1)",
        "Missing registration (1)",
        "Phantom nodes (1)",
        "Mismatches (",
        "Fleet",
    ] {
        assert!(md.contains(heading), "{heading} not in:\n{md}");
    }
    let (text, html, links) = markdown_live_parts(&md);
    assert!(links.is_empty(), "links {links:?} in:\n{md}");
    for h in &html {
        assert!(
            ["<br>", "<sub>", "</sub>"].contains(&h.trim()),
            "HTML {h:?} in:\n{md}"
        );
    }
    for t in &text {
        for live in ["@", "http", "e.vil", "#", "rotkev", "::"] {
            assert!(!t.contains(live), "{live:?} in live text {t:?} of:\n{md}");
        }
    }
    assert!(!md.contains(['\u{202E}', '\u{200B}']), "{md}");
    assert!(md.contains("`@acme/admins [docs](https://e.vil/x)"), "{md}");

    let text = run_format("text");
    for line in text.lines() {
        assert!(!line.trim_start().starts_with("::"), "{line:?} in:\n{text}");
        assert!(!line.contains("##["), "{line:?} in:\n{text}");
    }
    assert!(!text.contains(['\u{202E}', '\u{200B}']), "{text}");

    let github = run_format("github");
    for line in github.lines() {
        assert!(
            ["::notice ", "::error ", "::warning "]
                .iter()
                .any(|p| line.starts_with(p))
                || line.starts_with("enlist reconcile "),
            "{line:?} in:\n{github}"
        );
    }
    assert!(!github.contains(['\u{202E}', '\u{200B}', '\r']), "{github}");
}
