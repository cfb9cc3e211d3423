//! Facts on fixture trees modelled on real machines: the SPEC §3 node id for each, no raw UUID
//! in any output, virtual NICs and installer sticks left out, byte-stable output.

use enlist::document::NodeDocument;
use enlist::facts::{self, Cpu, KernelFacts, KernelProbe};
use enlist::sysroot::Roots;
use serde_json::Value;

use crate::support::{enlist, fixture, golden, stderr, stdout};

/// (fixture, raw identity value as the firmware shows it, identity source, node id computed
/// independently with `printf 'enlist/v1:%s' <lowercased value> | sha256sum | cut -c1-6`).
const CASES: &[(&str, &str, &str, &str)] = &[
    (
        "dell-r640",
        "4C4C4544-0048-3810-8056-B5C04F565833",
        "product_uuid",
        "node-faf6ca",
    ),
    (
        "supermicro-x11",
        "A5C2E7E0-3B1C-11E9-8000-3CECEF1A2B3C",
        "product_uuid",
        "node-8a753f",
    ),
    (
        "placeholder-board",
        "a8:a1:59:00:00:01",
        "mac",
        "node-ce435e",
    ),
    ("vm-no-dmi", "52:54:00:12:34:56", "mac", "node-25c87b"),
    (
        "container",
        "5e4d3c2b1a0f9e8d7c6b5a4938271605",
        "machine_id",
        "node-c34f6f",
    ),
];

fn facts_json(name: &str) -> (Value, String) {
    let root = fixture(name);
    let out = enlist(
        &[
            "facts",
            "--format",
            "json",
            "--root",
            root.to_str().unwrap(),
        ],
        &[],
    );
    assert!(out.status.success(), "{name}: {}", stderr(&out));
    let text = stdout(&out);
    (serde_json::from_str(&text).unwrap(), text)
}

#[test]
fn each_fixture_gets_the_spec_node_id_and_source() {
    for (name, raw, source, node_id) in CASES {
        let (json, text) = facts_json(name);
        assert_eq!(json["nodeId"], *node_id, "{name}");
        assert_eq!(json["identity"]["source"], *source, "{name}");
        let fingerprint = json["identity"]["fingerprint"].as_str().unwrap();
        assert!(
            fingerprint.starts_with(&format!("sha256:{}", &node_id[5..])),
            "{name}"
        );
        if *source == "product_uuid" {
            // The identity value never appears, in any case.
            assert!(
                !text.to_lowercase().contains(&raw.to_lowercase()),
                "{name} leaks its UUID"
            );
        }
    }
}

#[test]
fn output_is_byte_stable_across_runs() {
    for (name, ..) in CASES {
        for format in ["yaml", "json", "nix"] {
            let root = fixture(name);
            let args = [
                "facts",
                "--format",
                format,
                "--root",
                root.to_str().unwrap(),
            ];
            let a = enlist(&args, &[]);
            let b = enlist(&args, &[]);
            assert!(a.status.success());
            assert_eq!(a.stdout, b.stdout, "{name} {format}");
        }
    }
}

#[test]
fn virtual_nics_vfs_and_random_macs_are_excluded() {
    let (dell, _) = facts_json("dell-r640");
    let names: Vec<&str> = dell["network"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["eno1", "eno2"],
        "lo, bond0 and the SR-IOV VF are not physical NICs"
    );
    // The bond rewrote eno2's address; the permanent one is reported.
    assert_eq!(dell["network"][1]["mac"], "b0:26:28:aa:00:02");
    let (board, _) = facts_json("placeholder-board");
    let names: Vec<&str> = board["network"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["enp3s0", "enp4s0"],
        "the Wi-Fi's random MAC is not a fact"
    );
    let (container, _) = facts_json("container");
    assert_eq!(container["network"], Value::Array(vec![]));
}

#[test]
fn installer_stick_and_loop_devices_are_not_disks() {
    let (dell, _) = facts_json("dell-r640");
    let disks = dell["disks"].as_array().unwrap();
    assert_eq!(disks.len(), 3);
    assert!(disks.iter().all(|d| d["transport"] != "usb"));
    let (sm, _) = facts_json("supermicro-x11");
    let transports: Vec<&str> = sm["disks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["transport"].as_str().unwrap())
        .collect();
    assert_eq!(transports, ["sas", "sata", "sata"]);
    // SATA serials come from VPD page 0x80.
    assert_eq!(sm["disks"][1]["serial"], "ZC108ABC");
}

#[test]
fn placeholder_dmi_values_are_not_recorded() {
    let (board, text) = facts_json("placeholder-board");
    assert!(!text.contains("To Be Filled"), "{text}");
    assert!(!text.contains("Default string"), "{text}");
    assert_eq!(board["system"]["boardVendor"], "ASRock");
    let (sm, _) = facts_json("supermicro-x11");
    assert!(
        sm["system"].get("serial").is_none(),
        "0123456789 is a placeholder serial"
    );
}

#[test]
fn machine_id_fallback_is_warned() {
    let root = fixture("container");
    let out = enlist(&["facts", "--root", root.to_str().unwrap()], &[]);
    assert!(out.status.success());
    assert!(stderr(&out).contains("machine-id"), "{}", stderr(&out));
}

#[test]
fn node_id_and_operator_overrides() {
    let root = fixture("dell-r640");
    let out = enlist(
        &[
            "facts",
            "--format",
            "json",
            "--root",
            root.to_str().unwrap(),
            "--node-id",
            "rack1-n1",
            "--operator",
            "alice",
        ],
        &[],
    );
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["nodeId"], "rack1-n1");
    assert_eq!(json["operator"], "alice");
    let out = enlist(
        &[
            "facts",
            "--root",
            root.to_str().unwrap(),
            "--node-id",
            "../etc",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(78), "{}", stderr(&out));
    assert!(stderr(&out).contains("../etc"));
}

#[test]
fn facts_yaml_is_exactly_what_register_proposes() {
    for (name, ..) in CASES {
        let root = fixture(name);
        let facts = enlist(
            &[
                "facts",
                "--format",
                "yaml",
                "--root",
                root.to_str().unwrap(),
                "--operator",
                "alice",
            ],
            &[],
        );
        let state = tempfile::tempdir().unwrap();
        let dry = enlist(
            &[
                "register",
                "--dry-run",
                "--repo",
                "acme/fleet",
                "--operator",
                "alice",
                "--root",
                root.to_str().unwrap(),
                "--state-dir",
                state.path().join("state").to_str().unwrap(),
            ],
            &[],
        );
        assert!(dry.status.success(), "{}", stderr(&dry));
        assert_eq!(stdout(&facts), stdout(&dry), "{name}");
    }
}

#[test]
fn nix_output_is_a_valid_nix_expression() {
    let Ok(which) = std::process::Command::new("nix-instantiate")
        .arg("--version")
        .output()
    else {
        eprintln!(
            "nix-instantiate not on PATH: skipping the parse check (.ci/run installs nix-bin)"
        );
        return;
    };
    assert!(which.status.success());
    for (name, ..) in CASES {
        let root = fixture(name);
        let out = enlist(
            &["facts", "--format", "nix", "--root", root.to_str().unwrap()],
            &[],
        );
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("hardware.nix");
        std::fs::write(&file, &out.stdout).unwrap();
        // --eval --strict also proves it is an attribute set with the expected values.
        let eval = std::process::Command::new("nix-instantiate")
            .args(["--eval", "--strict", "--json", "-E"])
            .arg(format!("(import {}).nodeId", file.display()))
            .output()
            .unwrap();
        assert!(
            eval.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&eval.stderr)
        );
        let node_id: String = serde_json::from_slice(&eval.stdout).unwrap();
        assert!(node_id.starts_with("node-"), "{name}: {node_id}");
    }
}

/// Pins CPU and memory so whole documents can be compared byte for byte.
struct FixedKernel;

impl KernelProbe for FixedKernel {
    fn probe(&self) -> Result<KernelFacts, String> {
        Ok(KernelFacts {
            cpu: Cpu {
                model: "Intel(R) Xeon(R) Gold 6230 CPU @ 2.10GHz".into(),
                arch: "x86_64".into(),
                sockets: 2,
                cores: 40,
                threads: 80,
            },
            // MemTotal of a 384 GiB machine (the kernel keeps some): rounds up to 384 GiB.
            memory_bytes: 395_936_612 * 1024,
            hostname: Some("from-kernel".into()),
            kernel_release: Some("6.6.63".into()),
            addresses: vec!["eno1 10.0.0.5/24".into()],
            uptime_secs: Some(42),
        })
    }
}

#[test]
fn documents_match_golden_files() {
    for (name, ..) in CASES {
        let (facts, _) = facts::gather(&Roots::fixture(fixture(name)), &FixedKernel).unwrap();
        let doc = NodeDocument::new(&facts, facts.identity.node_id(6), Some("alice".into()));
        golden(&format!("facts/{name}.yaml"), &doc.to_yaml());
        // What we write verifies.
        NodeDocument::parse(&doc.to_yaml(), name).unwrap();
    }
}
