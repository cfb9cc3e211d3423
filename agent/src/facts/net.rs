//! Physical NICs from `/sys/class/net`. Physical = has a `device` link and is not an SR-IOV
//! virtual function (VFs come and go with configuration). The MAC must be the permanent one:
//! `addr_assign_type` 0 means `address` is the burned-in address; a bonded slave carries its
//! permanent address in `bonding_slave/perm_hwaddr` because the bond rewrites `address`.

use super::Nic;
use crate::identity::normalise_mac;
use crate::sysroot::SysRoot;

/// `addr_assign_type` value for a permanent (burned-in) address (linux/netdevice.h NET_ADDR_PERM).
const NET_ADDR_PERM: &str = "0";

/// A physical NIC and whether its MAC may serve as identity (SPEC §3: device link and
/// `addr_assign_type` 0).
pub(super) struct PhysicalNic {
    pub nic: Nic,
    pub identity_grade: bool,
}

pub(super) fn physical_nics(root: &SysRoot) -> Vec<PhysicalNic> {
    root.list("/sys/class/net")
        .into_iter()
        .filter_map(|name| physical_nic(root, &name))
        .collect()
}

fn physical_nic(root: &SysRoot, name: &str) -> Option<PhysicalNic> {
    let dir = format!("/sys/class/net/{name}");
    if !root.exists(format!("{dir}/device")) || root.exists(format!("{dir}/device/physfn")) {
        return None;
    }
    let read = |rel: &str| root.read(format!("{dir}/{rel}")).value();
    let permanent_address = read("addr_assign_type").as_deref() == Some(NET_ADDR_PERM);
    let (mac, identity_grade) = match read("bonding_slave/perm_hwaddr") {
        Some(perm) => (perm, true),
        None if permanent_address => (read("address")?, true),
        // A physical NIC whose current address is random or set by software: its facts are not
        // stable, so it is left out rather than recorded with a MAC that changes.
        None => return None,
    };
    let mac = normalise_mac(&mac)?;
    let driver = root.link_name(format!("{dir}/device/driver"));
    Some(PhysicalNic {
        nic: Nic {
            name: name.to_owned(),
            mac,
            driver,
        },
        identity_grade,
    })
}
