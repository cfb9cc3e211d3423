//! Inventories as people keep them (issue 11, SPEC §5): NetBox's and Snipe-IT's exports, a
//! spreadsheet with units, a house vocabulary through `--inventory-map` — reconciled through the
//! real binary against registrations of the machines they list.
//!
//! The exports are in `agent/tests/fixtures/inventories/` (written from the tools' documented
//! formats); the reports are goldens in `agent/tests/golden/reconcile/inventories/`
//! (`ENLIST_UPDATE_GOLDEN=1` rewrites them).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;

use enlist::document::NodeDocument;
use enlist::facts::{Cpu, Facts, Memory, Nic, System};
use enlist::identity::{Candidates, Identity};
use serde_json::{Value, json};

use crate::support::{enlist, golden, stderr, stdout};

/// A registered machine: serial, vendor, model, cores, MemTotal in GiB.
const REGISTERED: [(&str, &str, &str, u32, u64); 5] = [
    ("5H8VXC3", "Dell Inc.", "PowerEdge R640", 40, 376),
    ("9ZT4HK3", "Dell Inc.", "PowerEdge R650", 64, 503),
    ("BX7R2J3", "Dell Inc.", "PowerEdge R650", 64, 503),
    ("S452173X1A28154", "Supermicro", "SYS-120U-TNR", 32, 251),
    ("CZ2048L7", "HPE", "ProLiant DL20 Gen10", 8, 24),
];

fn document(index: usize) -> NodeDocument {
    let (serial, vendor, model, cores, memory_gib) = REGISTERED[index];
    let facts = Facts {
        hostname: format!("host-{index}"),
        identity: Identity::choose(&Candidates {
            product_uuid: Some(format!("4c4c4544-0000-4810-8056-b7c04f4e{index:04}")),
            ..Candidates::default()
        })
        .unwrap(),
        system: System {
            vendor: Some(vendor.into()),
            model: Some(model.into()),
            serial: Some(serial.into()),
            board_vendor: None,
            board_model: None,
        },
        cpu: Cpu {
            model: "Xeon".into(),
            arch: "x86_64".into(),
            sockets: 1,
            cores,
            threads: cores * 2,
        },
        memory: Memory {
            total_bytes: memory_gib * 1024 * 1024 * 1024,
        },
        disks: vec![],
        network: vec![Nic {
            name: "eno1".into(),
            mac: format!("b0:26:28:00:10:{index:02x}"),
            driver: None,
        }],
        gpus: vec![],
        ssh_host_keys: vec![],
    };
    let id = facts.identity.node_id(6);
    NodeDocument::new(&facts, id, Some("ops".into()))
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/inventories")
        .join(name)
}

/// A checkout with the five registrations and copies of the named fixtures at its root (so the
/// reports name them as `netbox-table.csv`, not by an absolute path).
struct Checkout {
    dir: tempfile::TempDir,
}

impl Checkout {
    fn new(fixtures: &[&str]) -> Checkout {
        let dir = tempfile::tempdir().unwrap();
        for index in 0..REGISTERED.len() {
            let doc = document(index);
            let path = dir.path().join("cluster-nodes").join(doc.node_id.as_str());
            fs::create_dir_all(&path).unwrap();
            fs::write(path.join("node.yaml"), doc.to_yaml()).unwrap();
        }
        for name in fixtures {
            fs::copy(fixture(name), dir.path().join(name)).unwrap();
        }
        Checkout { dir }
    }

    fn file(&self, name: &str) -> String {
        self.dir.path().join(name).to_string_lossy().into_owned()
    }

    fn write(&self, name: &str, text: &str) -> String {
        fs::write(self.dir.path().join(name), text).unwrap();
        self.file(name)
    }

    /// `enlist <command> --nodes <checkout> --inventory <csv> [--inventory-map <map>] <extra…>`.
    fn run(&self, command: &str, csv: &str, map: Option<&str>, extra: &[&str]) -> Output {
        let nodes = self.dir.path().to_string_lossy().into_owned();
        let csv = self.file(csv);
        let map = map.map(|m| self.file(m));
        let mut args = vec![command, "--nodes", &nodes, "--inventory", &csv];
        if let Some(map) = &map {
            args.extend(["--inventory-map", map.as_str()]);
        }
        args.extend_from_slice(extra);
        enlist(&args, &[])
    }

    fn reconcile(&self, csv: &str, map: Option<&str>) -> Value {
        let out = self.run("reconcile", csv, map, &["--format", "json"]);
        assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "{csv}: {}",
            stderr(&out)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }
}

fn code(out: &Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

/// `(serial, status)` of the missing registrations, by serial.
fn missing(report: &Value) -> Vec<(String, String)> {
    let mut missing: Vec<(String, String)> = report["missing_registration"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["serial"].as_str().unwrap().to_owned(),
                m["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    missing.sort();
    missing
}

fn assert_clean_match(report: &Value, csv: &str) {
    assert_eq!(report["invalid"], json!([]), "{csv}: no invalid row");
    assert_eq!(
        report["phantom_nodes"],
        json!([]),
        "{csv}: every node matched"
    );
    assert_eq!(report["duplicates"], json!([]), "{csv}");
}

#[test]
fn netbox_table_and_all_data_exports_reconcile_with_their_status_words() {
    let checkout = Checkout::new(&["netbox-table.csv", "netbox-all-data.csv"]);
    for (csv, golden_name) in [
        ("netbox-table.csv", "netbox-table"),
        ("netbox-all-data.csv", "netbox-all-data"),
    ] {
        let report = checkout.reconcile(csv, None);
        assert_clean_match(&report, csv);
        // Planned/Staged/Inventory are spare, Offline/Failed broken: all expected to register.
        // Decommissioning (4RZ9MN2) is retired: never missing.
        assert_eq!(
            missing(&report),
            [
                ("7H8VXC3".into(), "broken".into()),
                ("8H8VXC3".into(), "broken".into()),
                ("9XK2WD3".into(), "spare".into()),
                ("9XK2WD4".into(), "spare".into()),
                ("S452173X1A28190".into(), "spare".into()),
            ],
            "{csv}"
        );
        assert_eq!(report["mismatches"], json!([]), "{csv}: Dell = Dell Inc.");
        assert_eq!(report["inventory"], 11);
        let model = if csv == "netbox-table.csv" {
            "Type"
        } else {
            "device_type"
        };
        assert_eq!(
            report["columns"]["fields"]["model"],
            json!([model]),
            "{csv}"
        );
        for format in ["json", "text"] {
            let out = checkout.run("reconcile", csv, None, &["--format", format]);
            assert_eq!(code(&out), 0, "{csv}: {}", stderr(&out));
            let ext = if format == "text" { "txt" } else { format };
            golden(
                &format!("reconcile/inventories/{golden_name}.{ext}"),
                &stdout(&out),
            );
        }
    }
    let table = checkout.reconcile("netbox-table.csv", None);
    assert_eq!(
        table["columns"]["fields"]["serial"],
        json!(["Serial number"])
    );
    assert_eq!(
        table["columns"]["fields"]["location"],
        json!(["Location", "Site"])
    );
    assert_eq!(
        table["columns"]["ignored"],
        json!([
            "Tenant", "Rack", "Position", "Role", "Platform", "Region", "Comments"
        ])
    );
}

#[test]
fn snipe_it_export_reconciles_with_its_default_status_labels() {
    let checkout = Checkout::new(&["snipe-it.csv"]);
    let report = checkout.reconcile("snipe-it.csv", None);
    assert_clean_match(&report, "snipe-it.csv");
    // Archived, Broken - Not Fixable and Lost/Stolen are retired: not missing.
    assert_eq!(
        missing(&report),
        [
            ("7H8VXC3".into(), "broken".into()),
            ("9XK2WD3".into(), "spare".into()),
            ("9XK2WD4".into(), "spare".into()),
            ("S452173X1A28190".into(), "broken".into()),
        ]
    );
    assert_eq!(report["mismatches"], json!([]));
    assert_eq!(
        report["columns"]["fields"]["hostname"],
        json!(["Asset Name"])
    );
    assert_eq!(
        report["columns"]["fields"]["cost"],
        json!(["Purchase Cost"])
    );
    // "11,200.00" is a cost: the export carries it as a number.
    let out = checkout.run("export", "snipe-it.csv", None, &["--format", "jsonl"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let costs: Vec<(String, Value)> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|r| r["in_inventory"] == true)
        .map(|r| (r["serial"].as_str().unwrap().to_owned(), r["cost"].clone()))
        .collect();
    assert!(
        costs.contains(&("9ZT4HK3".into(), json!(11200.0))),
        "{costs:?}"
    );
    for format in ["json", "markdown"] {
        let out = checkout.run("reconcile", "snipe-it.csv", None, &["--format", format]);
        assert_eq!(code(&out), 0);
        let ext = if format == "markdown" { "md" } else { format };
        golden(
            &format!("reconcile/inventories/snipe-it.{ext}"),
            &stdout(&out),
        );
    }
}

#[test]
fn a_spreadsheet_with_units_reads_half_a_terabyte_as_512_gb_and_dollars_as_a_cost() {
    let checkout = Checkout::new(&["spreadsheet-units.csv"]);
    let report = checkout.reconcile("spreadsheet-units.csv", None);
    assert_clean_match(&report, "spreadsheet-units.csv");
    // `0.5 TB` of memory is 512 GB: fine for the 503 GiB R650, a mismatch for the 24 GiB DL20.
    let mismatches: Vec<(&str, &str, &str, &str)> = report["mismatches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["serial"].as_str().unwrap(),
                m["field"].as_str().unwrap(),
                m["inventory"].as_str().unwrap(),
                m["node"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(mismatches, [("CZ2048L7", "memory", "512 GB", "24 GiB")]);
    let out = checkout.run(
        "export",
        "spreadsheet-units.csv",
        None,
        &["--format", "jsonl"],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let records: Vec<Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let row = |serial: &str| {
        records
            .iter()
            .find(|r| r["serial"] == serial)
            .unwrap_or_else(|| panic!("{serial}: {records:?}"))
    };
    let dl20 = row("CZ2048L7");
    assert_eq!(dl20["cost"], json!(8200.0), "$8,200.00 is a cost");
    assert_eq!(dl20["inventory_memory_gb"], json!(512.0));
    assert_eq!(
        row("9ZT4HK3")["inventory_memory_gb"],
        json!(512.0),
        "0.5 TB"
    );
    assert_eq!(
        row("BX7R2J3")["inventory_memory_gb"],
        json!(512.0),
        "512GiB"
    );
    assert_eq!(
        row("S452173X1A28154")["inventory_memory_gb"],
        json!(256.0),
        "a bare number is GB"
    );
    assert_eq!(row("5H8VXC3")["cost"], json!(7800.0));
    let out = checkout.run(
        "reconcile",
        "spreadsheet-units.csv",
        None,
        &["--format", "text"],
    );
    golden("reconcile/inventories/spreadsheet-units.txt", &stdout(&out));
}

#[test]
fn an_unreadable_amount_is_an_invalid_row_naming_the_column_and_the_value() {
    let checkout = Checkout::new(&[]);
    checkout.write(
        "units.csv",
        "Service Tag,RAM,Storage,Price\n5H8VXC3,lots,3.84 TB,\"$7,800.00\"\n9ZT4HK3,512 GB,12 furlongs,\nBX7R2J3,,,\"1,5 €\"\n",
    );
    let out = checkout.run("reconcile", "units.csv", None, &["--format", "json"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let problems: Vec<(u64, &str)> = report["invalid"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["line"].as_u64().unwrap(), i["message"].as_str().unwrap()))
        .collect();
    assert_eq!(
        problems,
        [
            (
                2,
                "memory_gb \"lots\" (column \"RAM\") is not an amount of memory: 512, 512 GB, 0.5 \
                 TB or 1 TiB"
            ),
            (
                3,
                "storage_gb \"12 furlongs\" (column \"Storage\") is not an amount of storage: \
                 3840, 3.84 TB, 960 GB or 1 TiB"
            ),
            (
                4,
                "cost \"1,5 €\" (column \"Price\") is not a price: 8200, $8,200.00 or 8200 USD"
            ),
        ]
    );
}

#[test]
fn a_house_vocabulary_is_read_through_the_inventory_map() {
    let checkout = Checkout::new(&["house.csv", "house-map.yaml"]);
    let report = checkout.reconcile("house.csv", Some("house-map.yaml"));
    assert_clean_match(&report, "house.csv");
    assert_eq!(
        missing(&report),
        [
            ("7H8VXC3".into(), "broken".into()),
            ("9XK2WD3".into(), "spare".into()),
        ],
        "verkauft (retired) is not missing"
    );
    assert_eq!(report["mismatches"], json!([]), "Kerne and RAM (GB) agree");
    assert_eq!(report["columns"]["map"], "house-map.yaml");
    assert_eq!(report["columns"]["fields"]["serial"], json!(["S/N"]));
    assert_eq!(report["columns"]["fields"]["status"], json!(["Zustand"]));
    assert_eq!(report["columns"]["ignored"], json!(["Bemerkung"]));
    for (format, ext) in [
        ("json", "json"),
        ("text", "txt"),
        ("markdown", "md"),
        ("github", "github.txt"),
        ("html", "html"),
    ] {
        let out = checkout.run(
            "reconcile",
            "house.csv",
            Some("house-map.yaml"),
            &["--format", format],
        );
        assert_eq!(code(&out), 0, "{format}: {}", stderr(&out));
        golden(&format!("reconcile/inventories/house.{ext}"), &stdout(&out));
    }
    // The same map for export (and sync, which reads the checkout the same way).
    let out = checkout.run(
        "export",
        "house.csv",
        Some("house-map.yaml"),
        &["--format", "jsonl"],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let statuses: Vec<(String, Value)> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|r| r["in_inventory"] == true)
        .map(|r| {
            (
                r["serial"].as_str().unwrap().to_owned(),
                r["inventory_status"].clone(),
            )
        })
        .collect();
    assert!(
        statuses.contains(&("4RZ9MN2".into(), json!("retired"))),
        "{statuses:?}"
    );
    assert!(
        statuses.contains(&("7H8VXC3".into(), json!("broken"))),
        "{statuses:?}"
    );
}

#[test]
fn an_unknown_status_word_is_an_invalid_row_that_says_how_to_map_it() {
    let checkout = Checkout::new(&["house.csv"]);
    // The columns are mapped, the words are not.
    checkout.write(
        "columns-only.yaml",
        "columns:\n  serial: S/N\n  status: Zustand\n",
    );
    let out = checkout.run(
        "reconcile",
        "house.csv",
        Some("columns-only.yaml"),
        &["--format", "json"],
    );
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let invalid = report["invalid"].as_array().unwrap();
    assert_eq!(invalid.len(), 8, "every row: none of the words is known");
    let first = &invalid[0];
    assert_eq!(first["line"], 2);
    assert_eq!(
        first["message"],
        "status \"in Betrieb\" (column \"Zustand\") is not a status enlist knows (active, spare, \
         broken, retired, or a NetBox or Snipe-IT status)"
    );
    assert_eq!(
        first["hint"],
        "map it in the --inventory-map file columns-only.yaml with the two lines `statuses:` and \
         `  \"in Betrieb\": active` (or spare, broken, retired: whichever it means); the other \
         rows were still checked"
    );
    // Following the hint works.
    checkout.write(
        "columns-only.yaml",
        "columns:\n  serial: S/N\n  status: Zustand\nstatuses:\n  \"in Betrieb\": active\n  im Lager: spare\n  RMA: broken\n  verkauft: retired\n",
    );
    let out = checkout.run("reconcile", "house.csv", Some("columns-only.yaml"), &[]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
}

#[test]
fn a_missing_or_malformed_map_is_a_usage_error_naming_the_file_and_key() {
    let checkout = Checkout::new(&["house.csv", "netbox-table.csv"]);
    let missing_map = checkout.file("no-such-map.yaml");
    checkout.write("typo.yaml", "columns:\n  serail: S/N\n");
    checkout.write("absent-column.yaml", "columns:\n  serial: Seriennummer\n");
    checkout.write("bad-status.yaml", "statuses:\n  in Betrieb: running\n");
    for (command, csv, map, needles) in [
        (
            "reconcile",
            "house.csv",
            "no-such-map.yaml",
            vec!["no-such-map.yaml"],
        ),
        (
            "export",
            "house.csv",
            "no-such-map.yaml",
            vec!["no-such-map.yaml"],
        ),
        (
            "sync",
            "house.csv",
            "no-such-map.yaml",
            vec!["no-such-map.yaml"],
        ),
        (
            "reconcile",
            "house.csv",
            "typo.yaml",
            vec!["typo.yaml", "serail"],
        ),
        (
            "reconcile",
            "house.csv",
            "absent-column.yaml",
            vec![
                "absent-column.yaml",
                "columns.serial",
                "Seriennummer",
                "house.csv",
            ],
        ),
        (
            "reconcile",
            "netbox-table.csv",
            "bad-status.yaml",
            vec!["bad-status.yaml", "running"],
        ),
    ] {
        let mut extra = vec![];
        if command == "export" {
            extra.extend(["--format", "csv"]);
        }
        if command == "sync" {
            // Never reached: the map is read before any connection.
            extra.extend(["--database-url", "postgresql://enlist@127.0.0.1:1/enlist"]);
        }
        let out = checkout.run(command, csv, Some(map), &extra);
        assert_eq!(code(&out), 64, "{command} {map}: {}", stderr(&out));
        for needle in needles {
            assert!(
                stderr(&out).contains(needle),
                "{command} {map}: {needle:?} not in {}",
                stderr(&out)
            );
        }
        assert!(out.stdout.is_empty(), "{command} {map}: no report");
    }
    assert!(!Path::new(&missing_map).exists());
}

// Issue 25: inventories as spreadsheets write them.

/// The Snipe-IT fixture's text, re-encoded by `transform`, reconciled as `name`.
fn snipe_it_as(checkout: &Checkout, name: &str, bytes: &[u8]) -> Output {
    fs::write(checkout.dir.path().join(name), bytes).unwrap();
    checkout.run("reconcile", name, None, &["--format", "json"])
}

fn snipe_it() -> String {
    fs::read_to_string(fixture("snipe-it.csv")).unwrap()
}

/// `csv` with the commas outside quotes replaced by `delimiter`.
fn resplit(csv: &str, delimiter: char) -> String {
    let mut out = String::new();
    let mut quoted = false;
    for c in csv.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                out.push(c);
            }
            ',' if !quoted => out.push(delimiter),
            c => out.push(c),
        }
    }
    out
}

/// The Snipe-IT export's report, whatever the file's encoding, delimiter or line ends.
fn assert_snipe_it_report(out: &Output, what: &str) {
    assert_eq!(code(out), 0, "{what}: {}", stderr(out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_clean_match(&report, what);
    assert_eq!(report["inventory"], 12, "{what}");
    assert_eq!(missing(&report).len(), 4, "{what}: {:?}", missing(&report));
    assert_eq!(
        report["columns"]["fields"]["cost"],
        json!(["Purchase Cost"])
    );
}

#[test]
fn cr_only_crlf_and_lf_line_ends_give_the_same_lines() {
    // Old Mac and Excel exports end lines with CR alone; every finding said line 1.
    let checkout = Checkout::new(&[]);
    let text = "serial,status,notes\n5H8VXC3,,\"two\nlines\"\n9ZT4HK3,gone,\nBX7R2J3,,\n";
    for (name, eol) in [("lf.csv", "\n"), ("crlf.csv", "\r\n"), ("cr.csv", "\r")] {
        checkout.write(name, &text.replace('\n', eol));
        let report = checkout.reconcile(name, None);
        let invalid = report["invalid"].as_array().unwrap();
        assert_eq!(invalid.len(), 1, "{name}: {invalid:?}");
        // The quoted cell spans lines 2–3: the unknown word is on line 4.
        assert_eq!(invalid[0]["line"], 4, "{name}: {invalid:?}");
        assert!(invalid[0]["message"].as_str().unwrap().contains("\"gone\""));
        // Its machine is not a phantom: its row names it.
        assert_eq!(
            report["phantom_nodes"].as_array().unwrap().len(),
            2,
            "{name}"
        );
    }
    let out = snipe_it_as(
        &checkout,
        "snipe-cr.csv",
        snipe_it().replace('\n', "\r").as_bytes(),
    );
    assert_snipe_it_report(&out, "CR-only Snipe-IT export");
}

#[test]
fn semicolon_and_tab_separated_exports_are_read() {
    // European Excel writes `;` (the comma is the decimal separator there); "Unicode text" tabs.
    let checkout = Checkout::new(&[]);
    let semicolon = resplit(&snipe_it(), ';');
    assert!(semicolon.contains("\"7,800.00\";PO-2021-044"));
    let out = snipe_it_as(&checkout, "snipe-semicolon.csv", semicolon.as_bytes());
    assert_snipe_it_report(&out, "semicolon-separated");
    let tabs = resplit(&snipe_it(), '\t');
    let out = snipe_it_as(&checkout, "snipe-tabs.csv", tabs.as_bytes());
    assert_snipe_it_report(&out, "tab-separated");
}

#[test]
fn a_header_with_several_delimiters_is_read_by_the_one_that_works_or_refused() {
    let checkout = Checkout::new(&[]);
    // `Cost; USD` holds a `;`, but only `,` gives a serial column.
    checkout.write("mixed.csv", "serial,Cost; USD\n5H8VXC3,100\n");
    let report = checkout.reconcile("mixed.csv", None);
    assert_eq!(report["invalid"], json!([]));
    assert_eq!(report["inventory"], 1);
    // Neither split gives a serial or mac column: an error naming what was seen.
    checkout.write("unclear.csv", "S/N;Name,Type;Place\nA1;x,y;z\n");
    let out = checkout.run("reconcile", "unclear.csv", None, &[]);
    assert_eq!(code(&out), 64, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("unclear.csv"), "{err}");
    assert!(
        err.contains("the header (line 1) holds 2 × `;` and 1 × `,` outside quotes"),
        "{err}"
    );
    // One delimiter, no serial column: the error says how the header was split.
    checkout.write("nameless.csv", "S/N;Name\nA1;x\n");
    let out = checkout.run("reconcile", "nameless.csv", None, &[]);
    assert_eq!(code(&out), 64);
    assert!(
        stderr(&out).contains("split at `;`, has: S/N, Name."),
        "{}",
        stderr(&out)
    );
}

#[test]
fn utf16_with_a_byte_order_mark_is_read_and_without_one_refused() {
    // Excel's "Unicode text": UTF-16LE with a mark, tab-separated, CRLF.
    let checkout = Checkout::new(&[]);
    let text = resplit(&snipe_it(), '\t').replace('\n', "\r\n");
    let mut le = vec![0xFF, 0xFE];
    let mut be = vec![0xFE, 0xFF];
    for unit in text.encode_utf16() {
        le.extend(unit.to_le_bytes());
        be.extend(unit.to_be_bytes());
    }
    assert_snipe_it_report(&snipe_it_as(&checkout, "utf16le.txt", &le), "UTF-16LE");
    assert_snipe_it_report(&snipe_it_as(&checkout, "utf16be.txt", &be), "UTF-16BE");
    let out = snipe_it_as(&checkout, "nomark.txt", &le[2..]);
    assert_eq!(code(&out), 64, "{}", stderr(&out));
    assert!(
        stderr(&out).contains(
            "nomark.txt: cannot read the inventory: it looks like UTF-16 without a byte order mark"
        ),
        "{}",
        stderr(&out)
    );
}

#[test]
fn windows_1252_rows_name_the_encoding_until_the_map_names_it() {
    let checkout = Checkout::new(&[]);
    let mut bytes =
        b"serial,location\n5H8VXC3,Salle \xe0 Lyon\n9ZT4HK3,Hall A\nBX7R2J3,M\xfcnchen\n".to_vec();
    bytes.extend_from_slice(b"S452173X1A28154,x\nCZ2048L7,y\n");
    fs::write(checkout.dir.path().join("latin.csv"), &bytes).unwrap();
    let report = checkout.reconcile("latin.csv", None);
    let invalid = report["invalid"].as_array().unwrap();
    let lines: Vec<i64> = invalid
        .iter()
        .map(|i| i["line"].as_i64().unwrap())
        .collect();
    assert_eq!(lines, [2, 4], "{invalid:?}");
    let message = invalid[0]["message"].as_str().unwrap();
    assert!(message.contains("is not UTF-8: byte 0xE0"), "{message}");
    assert!(message.contains("Windows-1252"), "{message}");
    assert!(message.contains("`encoding: windows-1252`"), "{message}");
    // The rows still name their machines: no phantom, the row is the problem.
    assert_eq!(report["phantom_nodes"], json!([]));
    let claimed: Vec<&Value> = report["mismatches"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["field"] == "inventory_row")
        .collect();
    assert_eq!(claimed.len(), 2, "{claimed:?}");
    // Named in the map, the file is read.
    checkout.write("latin-map.yaml", "encoding: windows-1252\n");
    let report = checkout.reconcile("latin.csv", Some("latin-map.yaml"));
    assert_clean_match(&report, "latin.csv with its encoding named");
    assert_eq!(report["mismatches"], json!([]));
    // An encoding enlist does not know is a usage error naming the key.
    checkout.write("klingon.yaml", "encoding: klingon\n");
    let out = checkout.run("reconcile", "latin.csv", Some("klingon.yaml"), &[]);
    assert_eq!(code(&out), 64);
    assert!(
        stderr(&out).contains("encoding: \"klingon\""),
        "{}",
        stderr(&out)
    );
}

#[test]
fn snipe_it_cells_with_html_markup_are_read_as_their_text() {
    // Snipe-IT's web export writes what its table shows: links, icons, status labels.
    let checkout = Checkout::new(&[]);
    let link = |path: &str, text: &str| {
        format!("\"<a href=\"\"https://snipe.example/{path}\"\"> {text}</a>\"")
    };
    let status = |label: &str, meta: &str| {
        format!(
            "\"<a href=\"\"https://snipe.example/statuslabels/1\"\" data-toggle=\"\"tooltip\"\"> \
             <i class=\"\"fa fa-circle text-blue\"\"></i> {label} <label class=\"\"label \
             label-default\"\">{meta}</label> </a>\""
        )
    };
    let mut csv = String::from("Asset Tag,Asset Name,Serial,Model,Manufacturer,Status,Location\n");
    for (tag, serial, model, make, label, meta) in [
        (
            "AT-1",
            "5H8VXC3",
            "PowerEdge R640",
            "Dell",
            "Ready to Deploy",
            "Deployed",
        ),
        (
            "AT-2",
            "9ZT4HK3",
            "PowerEdge R650",
            "Smith &amp; Sons",
            "Healthy",
            "Deployed",
        ),
        ("AT-3", "BX7R2J3", "PowerEdge R650", "Dell", "Pending", ""),
    ] {
        csv.push_str(&format!(
            "{},{},{serial},{},{},{},{}\n",
            link("hardware/1", tag),
            link("hardware/1", &format!("host-{tag}")),
            link("models/1", model),
            link("manufacturers/1", make),
            status(label, meta),
            link("locations/1", "AMS1 <b>Hall A</b>"),
        ));
    }
    checkout.write("snipe-web.csv", &csv);
    let report = checkout.reconcile("snipe-web.csv", None);
    assert_eq!(report["invalid"], json!([]), "{report}");
    assert_eq!(report["phantom_nodes"].as_array().unwrap().len(), 2);
    // Read as text, entities decoded: the make is `Smith & Sons`, which is not Dell Inc.
    let mismatches = report["mismatches"].as_array().unwrap();
    assert_eq!(mismatches.len(), 1, "{mismatches:?}");
    assert_eq!(mismatches[0]["inventory"], "Smith & Sons");
    // `Healthy <label>Deployed</label>`: the meta status of a checked-out asset decides.
    assert_eq!(missing(&report), [] as [(String, String); 0]);
}

#[test]
fn an_unusable_row_claims_its_machine_instead_of_making_it_a_phantom() {
    let checkout = Checkout::new(&[]);
    checkout.write(
        "inventory.csv",
        "serial,mac,status,cores\n5H8VXC3,,in service,\n,b0:26:28:00:10:01,,forty\n9XK2WD3,,bogus,\n",
    );
    let report = checkout.reconcile("inventory.csv", None);
    // Three invalid rows; two of them are registered machines, the third is not.
    assert_eq!(report["invalid"].as_array().unwrap().len(), 3);
    let mut phantoms: Vec<&str> = report["phantom_nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["serial"].as_str().unwrap())
        .collect();
    phantoms.sort();
    // Only the machines no row names at all.
    assert_eq!(phantoms, ["BX7R2J3", "CZ2048L7", "S452173X1A28154"]);
    let claimed: Vec<(&str, i64, &str)> = report["mismatches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["field"].as_str().unwrap(),
                m["line"].as_i64().unwrap(),
                m["hint"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(claimed.len(), 2, "{claimed:?}");
    assert!(
        claimed
            .iter()
            .all(|(field, _, _)| *field == "inventory_row")
    );
    let hints: Vec<&str> = claimed.iter().map(|c| c.2).collect();
    assert!(
        hints
            .iter()
            .any(|h| h.starts_with("its inventory row (line 2) is invalid: status \"in service\"")),
        "{hints:?}"
    );
    assert!(
        hints
            .iter()
            .any(|h| h.starts_with("its inventory row (line 3) is invalid: cores \"forty\"")),
        "{hints:?}"
    );
    // The text report says it in the mismatch section.
    let out = checkout.run("reconcile", "inventory.csv", None, &[]);
    assert!(
        stdout(&out).contains("inventory_row: inventory invalid row, node registered"),
        "{}",
        stdout(&out)
    );
}

/// The map line the hint suggests (the code span after "`statuses:` and ").
fn suggested_line(hint: &str) -> &str {
    let rest = hint
        .split_once("`statuses:` and `")
        .unwrap_or_else(|| panic!("no suggestion in {hint:?}"))
        .1;
    &rest[..rest.rfind("` (or spare").unwrap()]
}

#[test]
fn the_suggested_map_line_pastes_whole_however_long_or_odd_the_word() {
    let checkout = Checkout::new(&[]);
    let long = format!(
        "in service since 2019: rack \"B\" # hall {}",
        "x".repeat(400)
    );
    for word in [
        long.as_str(),
        "yes",
        "- [spare] &a *b",
        "a\\b 'c'",
        "über\u{200B}",
    ] {
        let csv = format!("serial,status\n5H8VXC3,\"{}\"\n", word.replace('"', "\"\""));
        checkout.write("inventory.csv", &csv);
        let report = checkout.reconcile("inventory.csv", None);
        let invalid = report["invalid"].as_array().unwrap();
        assert_eq!(invalid.len(), 1, "{word}: {invalid:?}");
        let line = suggested_line(invalid[0]["hint"].as_str().unwrap()).to_owned();
        assert!(!line.contains('…'), "{line}");
        checkout.write("map.yaml", &format!("statuses:\n{line}\n"));
        let report = checkout.reconcile("inventory.csv", Some("map.yaml"));
        assert_eq!(report["invalid"], json!([]), "{word}: {line}");
        assert_eq!(report["mismatches"], json!([]), "{word}");
        // The text format shows the same line whole.
        checkout.write("map.yaml", "columns: {serial: serial}\n");
        let out = checkout.run("reconcile", "inventory.csv", Some("map.yaml"), &[]);
        assert!(stdout(&out).contains(&line), "{word}: {}", stdout(&out));
    }
}
