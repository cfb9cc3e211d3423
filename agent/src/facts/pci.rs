//! Display controllers: PCI devices of base class 0x03 under `/sys/bus/pci/devices`. On servers
//! this includes the BMC's VGA (ASPEED), which is real hardware and worth knowing about.

use super::Gpu;
use crate::sysroot::SysRoot;

const PCI_DEVICES: &str = "/sys/bus/pci/devices";

/// PCI vendor ids common on servers, for a readable name; anything else keeps only the id.
const VENDORS: &[(&str, &str)] = &[
    ("0x10de", "NVIDIA"),
    ("0x1002", "AMD"),
    ("0x8086", "Intel"),
    ("0x1a03", "ASPEED"),
    ("0x102b", "Matrox"),
    ("0x1234", "QEMU"),
    ("0x1af4", "Red Hat (virtio)"),
    ("0x15ad", "VMware"),
];

pub(super) fn display_controllers(root: &SysRoot) -> Vec<Gpu> {
    root.list(PCI_DEVICES)
        .into_iter()
        .filter_map(|address| {
            let dir = format!("{PCI_DEVICES}/{address}");
            let read = |rel: &str| root.read(format!("{dir}/{rel}")).value();
            let class = read("class")?;
            if !class.to_lowercase().starts_with("0x03") {
                return None;
            }
            let vendor_id = read("vendor")?.to_lowercase();
            let device_id = read("device")?.to_lowercase();
            let vendor = VENDORS
                .iter()
                .find(|(id, _)| *id == vendor_id)
                .map(|(_, name)| (*name).to_owned());
            let driver = root.link_name(format!("{dir}/driver"));
            Some(Gpu {
                address,
                vendor_id,
                device_id,
                vendor,
                driver,
            })
        })
        .collect()
}
