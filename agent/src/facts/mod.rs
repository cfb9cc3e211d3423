//! Hardware facts: what this machine *is*, gathered from sysfs/DMI (under a [`SysRoot`]) and the
//! running kernel. The hostname, machine-id and os-release come from the system's own files
//! ([`Roots::system`]: under `--target`, the installed system), and so do its SSH host keys
//! ([`crate::hostkey`]); the hardware from the machine
//! ([`Roots::machine`]). Split in two on purpose:
//!
//! - stable facts ([`Facts`]) go into node.yaml and its `factsHash`; they must be identical across
//!   reboots and OS upgrades, so nothing here depends on link state, addresses, kernel version or
//!   device enumeration order;
//! - volatile observations ([`Observations`]) only go into the PR body.
//!
//! Missing files are missing facts, never errors: containers and VMs have no DMI, no PCI GPUs.

mod block;
mod dmi;
mod kernel;
mod net;
mod pci;

use std::io;

use serde::{Deserialize, Serialize};

use crate::hostkey::{self, HostKey};
use crate::identity::{self, Candidates, Identity, NoIdentity};
use crate::logging::{self, Event};
use crate::sysroot::{Read, Roots, SysRoot};

pub use kernel::{HostKernel, KernelFacts, KernelProbe};

/// Stable hardware facts of one machine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Facts {
    /// Static hostname (`/etc/hostname`, else the kernel's).
    pub hostname: String,
    /// The machine identity (source + hash).
    pub identity: Identity,
    /// DMI system information.
    pub system: System,
    /// CPU, from the running kernel.
    pub cpu: Cpu,
    /// Memory, from the running kernel.
    pub memory: Memory,
    /// Physical disks, sorted.
    pub disks: Vec<Disk>,
    /// Physical NICs with permanent MACs, sorted.
    pub network: Vec<Nic>,
    /// Display controllers (PCI class 0x03), sorted.
    pub gpus: Vec<Gpu>,
    /// SSH host public keys (`/etc/ssh/ssh_host_*_key.pub` of the system), sorted; empty before
    /// sshd first made them.
    pub ssh_host_keys: Vec<HostKey>,
}

/// DMI system and baseboard identification.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct System {
    /// `sys_vendor`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor: Option<String>,
    /// `product_name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// `product_serial` (kept raw: inventory matching needs it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial: Option<String>,
    /// `board_vendor`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub board_vendor: Option<String>,
    /// `board_name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub board_model: Option<String>,
}

/// CPU facts.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Cpu {
    /// Brand string, whitespace-collapsed.
    pub model: String,
    /// Machine architecture (`x86_64`, `aarch64`).
    pub arch: String,
    /// Physical packages.
    pub sockets: u32,
    /// Physical cores in total.
    pub cores: u32,
    /// Logical CPUs in total.
    pub threads: u32,
}

/// Memory facts.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Memory {
    /// Installed memory (the kernel's online memory blocks, else `MemTotal`) rounded up to a whole
    /// GiB, so `factsHash` stays stable across kernel upgrades and reservations.
    pub total_bytes: u64,
}

/// One physical disk. Device names (`sda`) are left out: they are enumeration order, not facts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Disk {
    /// Model string from the device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Serial number from the device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial: Option<String>,
    /// Capacity in bytes.
    pub size_bytes: u64,
    /// Spinning disk.
    pub rotational: bool,
    /// `nvme`, `sata`, `sas`, `scsi`, `virtio`, `mmc` or `unknown`.
    pub transport: String,
}

/// One physical NIC.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Nic {
    /// Interface name (predictable names are stable).
    pub name: String,
    /// Permanent MAC, `aa:bb:cc:dd:ee:ff`.
    pub mac: String,
    /// Kernel driver.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver: Option<String>,
}

/// One display controller.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Gpu {
    /// PCI address, `0000:01:00.0`.
    pub address: String,
    /// PCI vendor id, `0x10de`.
    pub vendor_id: String,
    /// PCI device id.
    pub device_id: String,
    /// Vendor name when the id is a well-known one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor: Option<String>,
    /// Kernel driver.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver: Option<String>,
}

/// Volatile observations: useful to a reviewer, never part of node.yaml.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Observations {
    /// Kernel release.
    pub kernel: Option<String>,
    /// `PRETTY_NAME` from os-release.
    pub os: Option<String>,
    /// Interface addresses (`eno1 10.0.0.5/24`), loopback excluded.
    pub addresses: Vec<String>,
    /// Seconds since boot.
    pub uptime_secs: Option<u64>,
}

/// Facts gathering failed as a whole (individual missing facts never fail it).
#[derive(Debug, thiserror::Error)]
pub enum FactsError {
    /// No identity source at all.
    #[error(transparent)]
    NoIdentity(#[from] NoIdentity),
    /// The kernel would not tell CPU/memory.
    #[error(
        "cannot read CPU/memory from the running kernel: {0}; run enlist on the machine itself, \
         with /proc and /sys mounted"
    )]
    Kernel(String),
}

impl FactsError {
    /// Stable kind for logs.
    pub fn kind(&self) -> &'static str {
        match self {
            FactsError::NoIdentity(_) => "no_identity",
            FactsError::Kernel(_) => "kernel",
        }
    }
}

/// Gathers the stable facts (and, for the PR body, the volatile observations).
pub fn gather(
    roots: &Roots,
    kernel: &dyn KernelProbe,
) -> Result<(Facts, Observations), FactsError> {
    let under = if roots.system == roots.machine {
        format!("under {}", roots.system.dir().display())
    } else {
        format!(
            "of the system at {} on this machine's hardware",
            roots.system.dir().display()
        )
    };
    logging::event(
        Event::ExtractionStarted,
        &format!("gathering facts {under}"),
    );
    let result = gather_inner(roots, kernel);
    match &result {
        Ok((facts, _)) => {
            logging::event(
                Event::HardwareDiscovered,
                &format!(
                    "{} disk(s), {} NIC(s), {} GPU(s), {} thread(s), {} SSH host key(s), identity \
                     from {}",
                    facts.disks.len(),
                    facts.network.len(),
                    facts.gpus.len(),
                    facts.cpu.threads,
                    facts.ssh_host_keys.len(),
                    facts.identity.source()
                ),
            );
            logging::event(Event::ExtractionCompleted, "facts gathered");
        }
        Err(e) => logging::event_error(Event::ExtractionFailed, e.kind(), &e.to_string()),
    }
    result
}

fn gather_inner(
    roots: &Roots,
    kernel: &dyn KernelProbe,
) -> Result<(Facts, Observations), FactsError> {
    let (system, machine) = (&roots.system, &roots.machine);
    let dmi = dmi::read(machine);
    let network = net::physical_nics(machine);
    let machine_id = read_warn(system, "/etc/machine-id");
    let candidates = Candidates {
        product_uuid: dmi.product_uuid.clone(),
        product_serial: dmi.product_serial.clone(),
        board_serial: dmi.board_serial.clone(),
        permanent_macs: network
            .iter()
            .filter(|nic| nic.identity_grade)
            .map(|nic| nic.nic.mac.clone())
            .collect(),
        machine_id,
    };
    let identity = Identity::choose(&candidates)?;
    if identity.source() == identity::IdentitySource::MachineId {
        log::warn!(
            "identity falls back to /etc/machine-id: it changes on reinstall, so a reinstalled \
             machine will register as a new node; set node_id in the config to pin it"
        );
    }
    let kernel_facts = kernel.probe().map_err(FactsError::Kernel)?;
    let hostname = match read_warn(system, "/etc/hostname") {
        Some(name) => name,
        None => {
            let kernel_name = kernel_facts.hostname.clone();
            if system != machine {
                log::warn!(
                    "{} is missing: the installed system will take its hostname from the kernel \
                     when it boots (DHCP, or systemd's fallback), which a preview cannot know; \
                     this preview shows the running system's ({}), so the hostname and \
                     factsHash may differ; set networking.hostName to make them fixed",
                    system.path("/etc/hostname").display(),
                    kernel_name.as_deref().unwrap_or("localhost")
                );
            }
            kernel_name.unwrap_or_else(|| "localhost".to_owned())
        }
    };
    let mut gpus = pci::display_controllers(machine);
    gpus.sort_by(|a, b| a.address.cmp(&b.address));
    let mut nics: Vec<Nic> = network.into_iter().map(|n| n.nic).collect();
    nics.sort_by(|a, b| a.name.cmp(&b.name).then(a.mac.cmp(&b.mac)));
    let mut disks = block::disks(machine);
    disks.sort_by(|a, b| {
        (&a.transport, a.size_bytes, &a.model, &a.serial).cmp(&(
            &b.transport,
            b.size_bytes,
            &b.model,
            &b.serial,
        ))
    });

    let observations = Observations {
        kernel: kernel_facts.kernel_release.clone(),
        os: os_pretty_name(system),
        addresses: kernel_facts.addresses.clone(),
        uptime_secs: kernel_facts.uptime_secs,
    };
    let facts = Facts {
        hostname,
        identity,
        system: dmi.system,
        cpu: kernel_facts.cpu,
        memory: Memory {
            total_bytes: round_up_to_gib(kernel_facts.memory_bytes),
        },
        disks,
        network: nics,
        gpus,
        // The system's own keys: under --target, those provisioned into the installed system.
        ssh_host_keys: hostkey::read(system),
    };
    Ok((facts, observations))
}

/// Reads a fact file; a file that exists but cannot be read gets a warning naming it, because the
/// missing fact silently changes the result (typically: DMI serials are root-only).
pub(crate) fn read_warn(root: &SysRoot, path: &str) -> Option<String> {
    match root.read(path) {
        Read::Value(v) => Some(v),
        Read::Absent => None,
        Read::Unreadable { kind, reason } => {
            let hint = if kind == io::ErrorKind::PermissionDenied {
                " (run as root: the service does, and would see a different identity)"
            } else {
                ""
            };
            log::warn!("cannot read {}: {reason}{hint}", root.path(path).display());
            None
        }
    }
}

fn os_pretty_name(root: &SysRoot) -> Option<String> {
    let text = root.read("/etc/os-release").value()?;
    text.lines().find_map(|line| {
        let value = line.strip_prefix("PRETTY_NAME=")?;
        Some(value.trim_matches('"').to_owned())
    })
}

const GIB: u64 = 1024 * 1024 * 1024;

fn round_up_to_gib(bytes: u64) -> u64 {
    bytes.div_ceil(GIB) * GIB
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_rounds_up_to_whole_gib() {
        assert_eq!(round_up_to_gib(0), 0);
        assert_eq!(round_up_to_gib(1), GIB);
        assert_eq!(round_up_to_gib(62 * GIB + 700 * 1024 * 1024), 63 * GIB);
        assert_eq!(round_up_to_gib(64 * GIB), 64 * GIB);
    }
}
