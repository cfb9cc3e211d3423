//! CPU, memory and volatile observations from the running kernel (via `sysinfo`, refreshing only
//! what is needed: `System::new_all()` would walk every process).
//!
//! Behind [`KernelProbe`] so tests can pin CPU and memory and compare whole documents byte for byte.

use std::collections::BTreeSet;

use sysinfo::{CpuRefreshKind, MemoryRefreshKind, Networks, RefreshKind, System};

use super::Cpu;

/// What the running kernel reports.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KernelFacts {
    /// CPU facts.
    pub cpu: Cpu,
    /// Installed memory in bytes (online memory blocks, else `MemTotal`).
    pub memory_bytes: u64,
    /// The kernel's hostname (fallback when `/etc/hostname` is absent).
    pub hostname: Option<String>,
    /// Kernel release.
    pub kernel_release: Option<String>,
    /// `iface addr/prefix` for every non-loopback address.
    pub addresses: Vec<String>,
    /// Seconds since boot.
    pub uptime_secs: Option<u64>,
}

/// Source of [`KernelFacts`].
pub trait KernelProbe {
    /// Reads the kernel facts.
    fn probe(&self) -> Result<KernelFacts, String>;
}

/// The running kernel of this machine.
#[derive(Clone, Copy, Debug, Default)]
pub struct HostKernel;

impl KernelProbe for HostKernel {
    fn probe(&self) -> Result<KernelFacts, String> {
        let refresh = RefreshKind::nothing()
            .with_cpu(CpuRefreshKind::nothing())
            .with_memory(MemoryRefreshKind::nothing().with_ram());
        let system = System::new_with_specifics(refresh).map_err(|e| e.to_string())?;
        let threads = u32::try_from(system.cpus().len()).unwrap_or(u32::MAX);
        let model = system
            .cpus()
            .first()
            .map(|cpu| cpu.brand().split_whitespace().collect::<Vec<_>>().join(" "))
            .unwrap_or_default();
        let cores = System::physical_core_count()
            .ok()
            .and_then(|n| u32::try_from(n).ok())
            .unwrap_or(threads);
        let addresses = Networks::new_with_refreshed_list()
            .map(|networks| {
                let mut out = Vec::new();
                for (name, data) in &networks {
                    let name = name.to_string_lossy();
                    if name == "lo" {
                        continue;
                    }
                    for ip in data.ip_networks() {
                        if !ip.addr.is_loopback() {
                            out.push(format!("{name} {}/{}", ip.addr, ip.prefix));
                        }
                    }
                }
                out.sort();
                out
            })
            .unwrap_or_default();
        Ok(KernelFacts {
            cpu: Cpu {
                model,
                arch: System::cpu_arch(),
                sockets: count_sockets().unwrap_or(1),
                cores,
                threads,
            },
            memory_bytes: online_memory_bytes().unwrap_or_else(|| system.total_memory()),
            hostname: System::host_name().ok(),
            kernel_release: System::kernel_version().ok(),
            addresses,
            uptime_secs: System::uptime().ok(),
        })
    }
}

/// Installed memory as the kernel's memory blocks see it: `block_size_bytes` × online blocks of
/// `/sys/devices/system/memory`. Unlike `MemTotal` it does not move when a kernel upgrade or a
/// `crashkernel=` reservation changes what the kernel keeps for itself, so `factsHash` stays put
/// across OS upgrades. `None` where the kernel has no memory hotplug interface.
fn online_memory_bytes() -> Option<u64> {
    let dir = std::path::Path::new("/sys/devices/system/memory");
    let block = std::fs::read_to_string(dir.join("block_size_bytes")).ok()?;
    let block = u64::from_str_radix(block.trim(), 16).ok()?;
    let mut online = 0u64;
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let name = entry.file_name();
        if !name.to_string_lossy().starts_with("memory") {
            continue;
        }
        // A block without an `online` file is online (it cannot be offlined).
        let state =
            std::fs::read_to_string(entry.path().join("online")).unwrap_or_else(|_| "1".into());
        if state.trim() == "1" {
            online += 1;
        }
    }
    (online > 0).then(|| online.saturating_mul(block))
}

/// Distinct `physical_package_id`s of the online CPUs (sysinfo has no socket count).
fn count_sockets() -> Option<u32> {
    let mut packages = BTreeSet::new();
    for entry in std::fs::read_dir("/sys/devices/system/cpu").ok()?.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if !name.starts_with("cpu")
            || !name[3..].chars().all(|c| c.is_ascii_digit())
            || name.len() == 3
        {
            continue;
        }
        if let Ok(id) = std::fs::read_to_string(entry.path().join("topology/physical_package_id")) {
            packages.insert(id.trim().to_owned());
        }
    }
    u32::try_from(packages.len()).ok().filter(|n| *n > 0)
}
