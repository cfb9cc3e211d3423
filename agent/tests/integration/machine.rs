//! A machine described the way a datasheet would, turned into [`Facts`] and a node.yaml: the
//! reconcile tests' fixtures. The end-to-end crate includes this file as source (`#[path]`) to
//! generate `examples/gitops`'s node.yaml files from the same description.

use enlist::document::NodeDocument;
use enlist::facts::{Cpu, Disk, Facts, Memory, Nic, System};
use enlist::hostkey::HostKey;
use enlist::identity::{Candidates, Identity};

/// Bytes in a GiB.
pub const GIB: u64 = 1024 * 1024 * 1024;

/// A 1.92 TB NVMe drive's size in bytes, as the kernel reports it.
pub const NVME_1_92TB: u64 = 1_920_383_410_176;

/// A machine, described the way a datasheet would.
#[derive(Clone)]
pub struct Machine {
    pub hostname: &'static str,
    pub uuid: String,
    pub vendor: &'static str,
    pub model: &'static str,
    pub serial: Option<String>,
    pub board: (&'static str, &'static str),
    pub cpu: &'static str,
    pub sockets: u32,
    pub cores: u32,
    /// `MemTotal` rounded up to a GiB: a few GiB under the installed size.
    pub memory_gib: u64,
    pub disks: Vec<(&'static str, &'static str, u64, &'static str)>,
    pub nics: Vec<(&'static str, String, &'static str)>,
    /// SSH host public keys (`type base64 [comment]`).
    pub host_keys: Vec<String>,
}

impl Machine {
    pub fn facts(&self) -> Facts {
        Facts {
            hostname: self.hostname.to_owned(),
            identity: Identity::choose(&Candidates {
                product_uuid: Some(self.uuid.clone()),
                ..Candidates::default()
            })
            .unwrap(),
            system: System {
                vendor: Some(self.vendor.to_owned()),
                model: Some(self.model.to_owned()),
                serial: self.serial.clone(),
                board_vendor: Some(self.board.0.to_owned()),
                board_model: Some(self.board.1.to_owned()),
            },
            cpu: Cpu {
                model: self.cpu.to_owned(),
                arch: "x86_64".to_owned(),
                sockets: self.sockets,
                cores: self.cores,
                threads: self.cores * 2,
            },
            memory: Memory {
                total_bytes: self.memory_gib * GIB,
            },
            disks: self
                .disks
                .iter()
                .map(|(model, serial, size, transport)| Disk {
                    model: Some((*model).to_owned()),
                    serial: Some((*serial).to_owned()),
                    size_bytes: *size,
                    rotational: false,
                    transport: (*transport).to_owned(),
                })
                .collect(),
            network: self
                .nics
                .iter()
                .map(|(name, mac, driver)| Nic {
                    name: (*name).to_owned(),
                    mac: mac.clone(),
                    driver: Some((*driver).to_owned()),
                })
                .collect(),
            gpus: vec![],
            ssh_host_keys: self
                .host_keys
                .iter()
                .map(|k| HostKey::parse(k).unwrap())
                .collect(),
        }
    }

    /// The same machine with these SSH host keys.
    pub fn with_host_keys(mut self, keys: &[&str]) -> Machine {
        self.host_keys = keys.iter().map(|k| (*k).to_owned()).collect();
        self
    }

    pub fn document(&self, operator: Option<&str>) -> NodeDocument {
        let facts = self.facts();
        let id = facts.identity.node_id(6);
        NodeDocument::new(&facts, id, operator.map(str::to_owned))
    }
}
