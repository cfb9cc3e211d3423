//! A synthetic fleet for the benchmarks: `n` plausible Dell R640/R650 nodes written as a GitOps
//! checkout (node.yaml files under two operators' trees) plus a matching inventory CSV. Each node
//! has the host keys NixOS makes by default — an ed25519 key (a point of the curve, so its age
//! recipient exists) and a 4096-bit RSA key — unique to it.

use std::fs;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use enlist::document::NodeDocument;
use enlist::facts::{Cpu, Disk, Facts, Memory, Nic, System};
use enlist::hostkey::HostKey;
use enlist::identity::{Candidates, Identity};

/// A plausible machine: R640s and R650s, two disks, two NICs.
pub fn facts(n: u32) -> Facts {
    let r650 = n.is_multiple_of(3);
    Facts {
        hostname: format!("rack{:03}-n{:02}", n / 40, n % 40),
        identity: Identity::choose(&Candidates {
            product_uuid: Some(format!("4c4c4544-{:04x}-4810-8056-{:012x}", n % 0xffff, n)),
            ..Candidates::default()
        })
        .unwrap_or_else(|e| panic!("identity for {n}: {e}")),
        system: System {
            vendor: Some("Dell Inc.".into()),
            model: Some(
                if r650 {
                    "PowerEdge R650"
                } else {
                    "PowerEdge R640"
                }
                .into(),
            ),
            serial: Some(format!("ST{n:07}")),
            board_vendor: Some("Dell Inc.".into()),
            board_model: Some("0H28RR".into()),
        },
        cpu: Cpu {
            model: "Intel(R) Xeon(R) Gold 6230 CPU @ 2.10GHz".into(),
            arch: "x86_64".into(),
            sockets: 2,
            cores: if r650 { 64 } else { 40 },
            threads: if r650 { 128 } else { 80 },
        },
        memory: Memory {
            total_bytes: 377 * 1024 * 1024 * 1024,
        },
        disks: (0..2)
            .map(|d| Disk {
                model: Some("Dell Ent NVMe v2 AGN RI U.2 1.92TB".into()),
                serial: Some(format!("S4YN{n:08}{d}")),
                size_bytes: 1_920_383_410_176,
                rotational: false,
                transport: "nvme".into(),
            })
            .collect(),
        network: (0..2u32)
            .map(|i| Nic {
                name: format!("eno{}", i + 1),
                mac: mac(n, i),
                driver: Some("bnxt_en".into()),
            })
            .collect(),
        gpus: vec![],
        ssh_host_keys: vec![],
    }
}

/// Node `n`'s SSH host keys: well-formed and unique, not real key pairs (no private half).
pub fn host_keys(n: u32) -> Vec<HostKey> {
    let wire = |parts: &[&[u8]]| -> String {
        let mut blob = Vec::new();
        for part in parts {
            blob.extend_from_slice(&(part.len() as u32).to_be_bytes());
            blob.extend_from_slice(part);
        }
        STANDARD.encode(blob)
    };
    // The first y-coordinate derived from `n` that is a point of edwards25519 (about every other
    // one is).
    let ed25519 = (0u32..)
        .find_map(|attempt| {
            let seed = format!("enlist-bench/{n}/{attempt}");
            let digest = ring::digest::digest(&ring::digest::SHA256, seed.as_bytes());
            let line = format!("ssh-ed25519 {}", wire(&[b"ssh-ed25519", digest.as_ref()]));
            let key = HostKey::parse(&line).expect("well-formed");
            matches!(key.age_recipient(), Ok(Some(_))).then_some(key)
        })
        .expect("a point is found");
    // A 4096-bit modulus: 0x00, then 512 bytes with the top bit set, unique per node.
    let mut modulus = vec![0u8, 0xc0];
    while modulus.len() < 513 {
        let seed = format!("enlist-bench/{n}/rsa/{}", modulus.len());
        modulus.extend_from_slice(
            ring::digest::digest(&ring::digest::SHA256, seed.as_bytes()).as_ref(),
        );
    }
    modulus.truncate(513);
    let rsa = format!("ssh-rsa {}", wire(&[b"ssh-rsa", &[1, 0, 1], &modulus]));
    vec![ed25519, HostKey::parse(&rsa).expect("well-formed")]
}

pub fn mac(n: u32, nic: u32) -> String {
    let b = n.to_be_bytes();
    format!("b0:26:{:02x}:{:02x}:{:02x}:{:02x}", nic, b[1], b[2], b[3])
}

/// Writes `n` nodes (under two operators' trees) and an inventory: ~1 % of nodes unknown to the
/// inventory, ~1 % of rows never registered, every 10th row matched by MAC only, and a sprinkle
/// of retired/spare rows.
pub fn write_checkout(dir: &Path, n: u32) -> PathBuf {
    let mut csv = String::from("serial,hostname,make,model,cores,memory_gb,status,mac,cost\n");
    for i in 0..n {
        let f = facts(i);
        let doc = NodeDocument::new(&f, f.identity.node_id(8), Some(format!("op{}", i % 2)));
        if i % 100 != 7 {
            let path = dir
                .join(format!("maintainers/op{}/cluster-nodes", i % 2))
                .join(doc.node_id.as_str());
            fs::create_dir_all(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            fs::write(path.join("node.yaml"), doc.to_yaml())
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        }
        if i % 100 != 42 {
            let serial = if i % 10 == 3 {
                String::new()
            } else {
                format!("st{i:07}")
            };
            let mac = if serial.is_empty() {
                mac(i, 0)
            } else {
                String::new()
            };
            let status = match i % 50 {
                5 => "retired",
                6 => "spare",
                _ => "active",
            };
            let model = f.system.model.as_deref().unwrap_or_default();
            let cores = f.cpu.cores;
            csv.push_str(&format!(
                "{serial},{},Dell,{model},{cores},384,{status},{mac},7800\n",
                f.hostname
            ));
        }
    }
    let inventory = dir.join("inventory.csv");
    fs::write(&inventory, csv).unwrap_or_else(|e| panic!("{}: {e}", inventory.display()));
    inventory
}
