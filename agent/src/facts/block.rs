//! Physical disks from `/sys/block`. A disk is physical when it has a `device` link (loop, ram,
//! zram, dm-*, md*, nbd have none). Removable and USB disks are left out: the installer stick is
//! often still plugged in on first boot, and counting it would change the facts once removed.

use super::Disk;
use crate::sysroot::SysRoot;

/// Prefixes that are never physical disks even if a driver gives them a device link.
const VIRTUAL_PREFIXES: &[&str] = &["loop", "ram", "zram", "dm-", "md", "nbd", "sr", "fd"];

/// The kernel reports sizes in 512-byte sectors whatever the device's block size.
const SECTOR_BYTES: u64 = 512;

pub(super) fn disks(root: &SysRoot) -> Vec<Disk> {
    root.list("/sys/block")
        .into_iter()
        .filter(|name| !VIRTUAL_PREFIXES.iter().any(|p| name.starts_with(p)))
        .filter(|name| {
            !(name.starts_with("mmcblk") && (name.contains("boot") || name.contains("rpmb")))
        })
        .filter_map(|name| disk(root, &name))
        .collect()
}

fn disk(root: &SysRoot, name: &str) -> Option<Disk> {
    let dir = format!("/sys/block/{name}");
    if !root.exists(format!("{dir}/device")) {
        return None;
    }
    let read = |rel: &str| root.read(format!("{dir}/{rel}")).value();
    if read("removable").as_deref() == Some("1") {
        return None;
    }
    let sectors: u64 = read("size")?.parse().ok()?;
    if sectors == 0 {
        return None; // empty card reader slot
    }
    let placement = root.resolve(&dir).unwrap_or_default();
    let transport = transport(name, &placement);
    if transport == "usb" {
        return None;
    }
    let model = read("device/model").map(|m| collapse_spaces(&m));
    let serial = read("device/serial")
        .or_else(|| read("serial"))
        .or_else(|| {
            root.read_bytes(format!("{dir}/device/vpd_pg80"))
                .ok()
                .and_then(|page| vpd_serial(&page))
        })
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty());
    Some(Disk {
        model,
        serial,
        size_bytes: sectors * SECTOR_BYTES,
        rotational: read("queue/rotational").as_deref() == Some("1"),
        transport: transport.to_owned(),
    })
}

/// Where the kernel placed the device tells the transport: `…/nvme/…`, `…/ata3/…`, `…/usb2/…`,
/// `…/end_device-0:1/…` (SAS), `…/virtio2/…`.
fn transport(name: &str, placement: &str) -> &'static str {
    if name.starts_with("nvme") || placement.contains("/nvme") {
        "nvme"
    } else if placement.contains("/usb") {
        "usb"
    } else if name.starts_with("vd") || placement.contains("/virtio") {
        "virtio"
    } else if name.starts_with("mmcblk") {
        "mmc"
    } else if placement.contains("/ata") {
        "sata"
    } else if placement.contains("/end_device-") || placement.contains("/sas") {
        "sas"
    } else if placement.contains("/host") {
        "scsi"
    } else {
        "unknown"
    }
}

/// SCSI VPD page 0x80 (unit serial number): 4-byte header, then the serial in ASCII. SATA disks
/// behind libata expose their serial only here.
fn vpd_serial(bytes: &[u8]) -> Option<String> {
    let len = usize::from(*bytes.get(3)?);
    let serial = bytes.get(4..4 + len)?;
    let text = String::from_utf8_lossy(serial).trim().to_owned();
    (!text.is_empty()).then_some(text)
}

fn collapse_spaces(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transport_from_placement() {
        assert_eq!(
            transport(
                "nvme0n1",
                "/sys/devices/pci0000:00/0000:00:01.1/0000:01:00.0/nvme/nvme0/nvme0n1"
            ),
            "nvme"
        );
        assert_eq!(
            transport(
                "sda",
                "/sys/devices/pci0000:00/0000:00:17.0/ata1/host0/target0:0:0/0:0:0:0/block/sda"
            ),
            "sata"
        );
        assert_eq!(
            transport(
                "sdb",
                "/sys/devices/pci0000:00/0000:00:14.0/usb2/2-1/2-1:1.0/host6/target6:0:0/6:0:0:0/block/sdb"
            ),
            "usb"
        );
        assert_eq!(
            transport(
                "sdc",
                "/sys/devices/pci0000:17/0000:18:00.0/host0/port-0:0/expander-0:0/port-0:0:1/end_device-0:0:1/target0:0:1/0:0:1:0/block/sdc"
            ),
            "sas"
        );
        assert_eq!(
            transport(
                "vda",
                "/sys/devices/pci0000:00/0000:00:04.0/virtio2/block/vda"
            ),
            "virtio"
        );
    }

    #[test]
    fn vpd_page_80_serial() {
        let mut page = vec![0x00, 0x80, 0x00, 0x0a];
        page.extend_from_slice(b"  S3Z9NB0K");
        assert_eq!(vpd_serial(&page).as_deref(), Some("S3Z9NB0K"));
        assert_eq!(
            vpd_serial(&page[..8]),
            None,
            "a truncated page has no serial"
        );
    }
}
