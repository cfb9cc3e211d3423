//! DMI/SMBIOS identification from `/sys/class/dmi/id`. `product_uuid`, `product_serial`,
//! `board_serial` and `chassis_serial` are mode 0400 root: read as a normal user they are
//! unreadable, which [`super::read_warn`] reports.

use super::{System, read_warn};
use crate::identity::is_placeholder;
use crate::sysroot::SysRoot;

const DMI: &str = "/sys/class/dmi/id";

/// What DMI offers: identity candidates (raw) and the system section (placeholders dropped).
pub(super) struct Dmi {
    pub product_uuid: Option<String>,
    pub product_serial: Option<String>,
    pub board_serial: Option<String>,
    pub system: System,
}

pub(super) fn read(root: &SysRoot) -> Dmi {
    let field = |name: &str| read_warn(root, &format!("{DMI}/{name}"));
    let meaningful = |name: &str| field(name).filter(|v| !is_placeholder(v));
    let product_serial = field("product_serial");
    Dmi {
        product_uuid: field("product_uuid"),
        board_serial: field("board_serial"),
        system: System {
            vendor: meaningful("sys_vendor"),
            model: meaningful("product_name"),
            serial: product_serial.clone().filter(|v| !is_placeholder(v)),
            board_vendor: meaningful("board_vendor"),
            board_model: meaningful("board_name"),
        },
        product_serial,
    }
}
