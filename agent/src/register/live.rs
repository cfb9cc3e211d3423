//! Refuse to register from the live installer: a node must register from the *installed* system,
//! so a failed install can never leave a PR behind (SPEC §1).
//!
//! The NixOS ISO runs with `/` on tmpfs, the store squashfs at `/nix/.ro-store` and the medium at
//! `/iso`. Checked under the facts root, so fixtures can play either role. Note: an installed
//! system with `/` on tmpfs ("impermanence") looks live too; set `allow_live: true` there.

use crate::sysroot::SysRoot;

/// Why this looks like a live installer, or `None`.
pub fn live_installer_reason(root: &SysRoot) -> Option<String> {
    if root.exists("/nix/.ro-store") {
        return Some(format!(
            "{} exists (NixOS live medium)",
            root.path("/nix/.ro-store").display()
        ));
    }
    let mounts = root.read("/proc/self/mounts").value().or_else(|| {
        // The real mount table only describes the host root.
        root.is_host()
            .then(|| std::fs::read_to_string("/proc/self/mounts").ok())
            .flatten()
    })?;
    mount_reason(&mounts)
}

fn mount_reason(mounts: &str) -> Option<String> {
    for line in mounts.lines() {
        let mut fields = line.split_whitespace();
        let (Some(_source), Some(target), Some(fstype)) =
            (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        if target == "/iso" {
            return Some(format!(
                "/iso is mounted ({fstype}): this is the installer medium"
            ));
        }
        if target == "/" && matches!(fstype, "tmpfs" | "squashfs" | "iso9660" | "ramfs") {
            return Some(format!("/ is {fstype}: this is a live system"));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nixos_iso_mounts_are_live() {
        let iso = "tmpfs / tmpfs rw,relatime,mode=755 0 0\n/dev/root /iso iso9660 ro 0 0\n";
        assert!(mount_reason(iso).is_some());
        let installed = "/dev/nvme0n1p2 / ext4 rw,relatime 0 0\n/dev/nvme0n1p1 /boot vfat rw 0 0\n";
        assert_eq!(mount_reason(installed), None);
    }

    #[test]
    fn ro_store_under_root_is_live() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("nix/.ro-store")).unwrap();
        assert!(live_installer_reason(&SysRoot::new(dir.path())).is_some());
        let empty = tempfile::tempdir().unwrap();
        assert_eq!(live_installer_reason(&SysRoot::new(empty.path())), None);
    }
}
