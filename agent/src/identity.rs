//! Which machine is this? A stable identity survives reboots, OS upgrades and reinstalls, so the
//! node id derived from it never changes for the same hardware (SPEC §3).
//!
//! Precedence: DMI `product_uuid` → `product_serial` → `board_serial` → the lowest permanent MAC
//! of a physical NIC → `/etc/machine-id`. The last one changes with every reinstall, so it is a
//! last resort and warned about. Firmware placeholders (`To Be Filled By O.E.M.`, all-zero UUIDs,
//! …) are skipped: trusting one would give every board of that model the same id.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::hash::sha256_hex;

/// Domain separation for the identity hash, so a node id is never the hash of the raw value alone.
const IDENTITY_PREFIX: &str = "enlist/v1:";

/// Node id lengths in hex digits: the default and the deterministic extensions used when an
/// upstream file for the shorter id belongs to another machine (SPEC §3, collision).
pub const NODE_ID_HEX_LENGTHS: [usize; 4] = [6, 8, 10, 12];

/// Values firmware vendors ship instead of a real serial or UUID (compared after trimming and
/// lowercasing). Sources: osquery's placeholder list, Supermicro boards (netbox-agent #296).
const PLACEHOLDERS: &[&str] = &[
    "03000200-0400-0500-0006-000700080009",
    "03020100-0504-0706-0809-0a0b0c0d0e0f",
    "10000000-0000-8000-0040-000000000000",
    "to be filled by o.e.m.",
    "to be filled by oem",
    "default string",
    "system serial number",
    "chassis serial number",
    "base board serial number",
    "not specified",
    "not applicable",
    "not available",
    "none",
    "n/a",
    "na",
    "unknown",
    "invalid",
    "oem",
    "o.e.m.",
    "serial",
    "0123456789",
    "123456789",
    "uninitialized",
];

/// Where the identity value came from, in precedence order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentitySource {
    /// `/sys/class/dmi/id/product_uuid` (SMBIOS system UUID).
    ProductUuid,
    /// `/sys/class/dmi/id/product_serial`.
    ProductSerial,
    /// `/sys/class/dmi/id/board_serial`.
    BoardSerial,
    /// The lowest permanent MAC address of a physical NIC.
    Mac,
    /// `/etc/machine-id`: does not survive a reinstall.
    MachineId,
}

impl IdentitySource {
    /// The stable name used in node.yaml and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            IdentitySource::ProductUuid => "product_uuid",
            IdentitySource::ProductSerial => "product_serial",
            IdentitySource::BoardSerial => "board_serial",
            IdentitySource::Mac => "mac",
            IdentitySource::MachineId => "machine_id",
        }
    }
}

impl fmt::Display for IdentitySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The raw values identity can come from, as read from the machine.
#[derive(Clone, Debug, Default)]
pub struct Candidates {
    /// DMI product UUID.
    pub product_uuid: Option<String>,
    /// DMI system serial.
    pub product_serial: Option<String>,
    /// DMI baseboard serial.
    pub board_serial: Option<String>,
    /// Permanent MACs of physical NICs, any order and format.
    pub permanent_macs: Vec<String>,
    /// `/etc/machine-id`.
    pub machine_id: Option<String>,
}

/// This machine's identity: the source and the SHA-256 of the normalised value. The raw value is
/// not kept, so it cannot end up in node.yaml, a log line or a PR.
#[derive(Clone, PartialEq, Eq)]
pub struct Identity {
    source: IdentitySource,
    digest_hex: String,
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Identity({}, {})", self.source, self.fingerprint())
    }
}

/// No usable identity at all: not even a machine-id.
#[derive(Debug, thiserror::Error)]
#[error(
    "no usable machine identity: DMI product_uuid/product_serial/board_serial are absent or \
     placeholders, no physical NIC has a permanent MAC, and /etc/machine-id is missing; \
     run as root on the installed system, or set node_id in the config"
)]
pub struct NoIdentity;

impl Identity {
    /// Picks the first non-placeholder value in precedence order.
    pub fn choose(candidates: &Candidates) -> Result<Identity, NoIdentity> {
        let dmi = [
            (IdentitySource::ProductUuid, &candidates.product_uuid),
            (IdentitySource::ProductSerial, &candidates.product_serial),
            (IdentitySource::BoardSerial, &candidates.board_serial),
        ];
        for (source, value) in dmi {
            if let Some(value) = value.as_deref().and_then(usable) {
                return Ok(Identity::from_normalised(source, &value));
            }
        }
        let lowest_mac = candidates
            .permanent_macs
            .iter()
            .filter_map(|mac| normalise_mac(mac))
            .filter(|mac| usable(mac).is_some())
            .min();
        if let Some(mac) = lowest_mac {
            return Ok(Identity::from_normalised(IdentitySource::Mac, &mac));
        }
        if let Some(value) = candidates.machine_id.as_deref().and_then(usable) {
            return Ok(Identity::from_normalised(IdentitySource::MachineId, &value));
        }
        Err(NoIdentity)
    }

    fn from_normalised(source: IdentitySource, value: &str) -> Identity {
        Identity {
            source,
            digest_hex: sha256_hex(format!("{IDENTITY_PREFIX}{value}").as_bytes()),
        }
    }

    /// Where the value came from.
    pub fn source(&self) -> IdentitySource {
        self.source
    }

    /// `sha256:<hex>` of the normalised identity value: what node.yaml records and what collision
    /// checks compare. The node id is a prefix of the same digest.
    pub fn fingerprint(&self) -> String {
        format!("sha256:{}", self.digest_hex)
    }

    /// The node id with `hex_len` digits of the identity hash (6 by default; 8/10/12 after
    /// collisions). `hex_len` is one of [`NODE_ID_HEX_LENGTHS`].
    pub fn node_id(&self, hex_len: usize) -> NodeId {
        let digits = hex_len.clamp(1, self.digest_hex.len());
        NodeId(format!("node-{}", &self.digest_hex[..digits]))
    }
}

/// Trims and lowercases; returns `None` for values firmware uses as placeholders.
pub fn usable(raw: &str) -> Option<String> {
    let value = raw.trim().to_lowercase();
    (!is_placeholder(&value)).then_some(value)
}

/// Whether a (trimmed, lowercased) value is a known firmware placeholder: empty, on the list, or
/// one character repeated once separators are removed (`00000000-0000-…`, `ff:ff:…`, `--`, `xxxx`).
pub fn is_placeholder(value: &str) -> bool {
    let value = value.trim().to_lowercase();
    if value.is_empty() || PLACEHOLDERS.contains(&value.as_str()) {
        return true;
    }
    let mut significant = value
        .chars()
        .filter(|c| !matches!(c, '-' | ':' | '.' | ' ' | '_'));
    match significant.next() {
        None => true,
        Some(first) => significant.all(|c| c == first),
    }
}

/// `AA-BB-CC-DD-EE-FF` / `aabb.ccdd.eeff` / `aa:bb:…` → `aa:bb:cc:dd:ee:ff`; `None` if not a MAC.
pub fn normalise_mac(raw: &str) -> Option<String> {
    let hex: String = raw
        .trim()
        .chars()
        .filter(|c| !matches!(c, ':' | '-' | '.'))
        .collect::<String>()
        .to_lowercase();
    if hex.len() != 12 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let pairs: Vec<&str> = (0..6).map(|i| &hex[i * 2..i * 2 + 2]).collect();
    Some(pairs.join(":"))
}

/// A node id: `node-<hex>` when derived, or an operator-chosen name. Always matches
/// `^[a-z0-9][a-z0-9-]{1,62}$`, so it is safe as a path component and a branch name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct NodeId(String);

/// A configured node id that is not a safe name.
#[derive(Debug, thiserror::Error)]
#[error(
    "invalid node id {0:?}: use 2–63 characters of lowercase letters, digits and '-', starting with a letter or digit"
)]
pub struct InvalidNodeId(pub String);

impl NodeId {
    /// Validates an operator-supplied id.
    pub fn parse(raw: &str) -> Result<NodeId, InvalidNodeId> {
        if is_safe_name(raw) {
            Ok(NodeId(raw.to_owned()))
        } else {
            Err(InvalidNodeId(raw.to_owned()))
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for NodeId {
    type Error = InvalidNodeId;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        NodeId::parse(&raw)
    }
}

impl From<NodeId> for String {
    fn from(id: NodeId) -> String {
        id.0
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `^[a-z0-9][a-z0-9-]{1,62}$`: no dots, slashes or uppercase, so no path traversal and no two
/// spellings of one name.
pub fn is_safe_name(raw: &str) -> bool {
    let bytes = raw.as_bytes();
    (2..=63).contains(&bytes.len())
        && (bytes[0].is_ascii_lowercase() || bytes[0].is_ascii_digit())
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_uuid(uuid: &str) -> Candidates {
        Candidates {
            product_uuid: Some(uuid.into()),
            product_serial: Some("S123".into()),
            machine_id: Some("0123abcd0123abcd0123abcd0123abcd".into()),
            ..Candidates::default()
        }
    }

    #[test]
    fn node_id_is_sha256_of_prefixed_lowercase_trimmed_value() {
        // sha256("enlist/v1:4c4c4544-0035-4810-8056-b7c04f4e3332") computed independently
        // with `printf %s 'enlist/v1:…' | sha256sum`.
        let id = Identity::choose(&with_uuid("  4C4C4544-0035-4810-8056-B7C04F4E3332\n")).unwrap();
        assert_eq!(id.source(), IdentitySource::ProductUuid);
        let expected = sha256_hex(b"enlist/v1:4c4c4544-0035-4810-8056-b7c04f4e3332");
        assert_eq!(id.node_id(6).as_str(), format!("node-{}", &expected[..6]));
        assert_eq!(id.fingerprint(), format!("sha256:{expected}"));
    }

    #[test]
    fn extensions_are_prefixes_of_each_other() {
        let id = Identity::choose(&with_uuid("4c4c4544-0035-4810-8056-b7c04f4e3332")).unwrap();
        let ids: Vec<String> = NODE_ID_HEX_LENGTHS
            .iter()
            .map(|n| id.node_id(*n).to_string())
            .collect();
        for pair in ids.windows(2) {
            assert!(pair[1].starts_with(&pair[0]));
            assert_eq!(pair[1].len(), pair[0].len() + 2);
        }
    }

    #[test]
    fn placeholder_uuids_fall_through_to_serial() {
        for uuid in [
            "00000000-0000-0000-0000-000000000000",
            "FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF",
            "03000200-0400-0500-0006-000700080009",
            "03020100-0504-0706-0809-0a0b0c0d0e0f",
            "10000000-0000-8000-0040-000000000000",
            "",
            "   ",
        ] {
            let id = Identity::choose(&with_uuid(uuid)).unwrap();
            assert_eq!(id.source(), IdentitySource::ProductSerial, "uuid {uuid:?}");
        }
    }

    #[test]
    fn placeholder_serials_are_rejected() {
        for value in [
            "To Be Filled By O.E.M.",
            "Default string",
            "System Serial Number",
            "Not Specified",
            "Not Applicable",
            "None",
            "0123456789",
            "123456789",
            "--",
            "xxxxxxxx",
            "0",
        ] {
            assert!(is_placeholder(value), "{value:?}");
        }
        for value in [
            "S123",
            "CN7016352K0123",
            "4c4c4544-0035-4810-8056-b7c04f4e3332",
        ] {
            assert!(!is_placeholder(value), "{value:?}");
        }
    }

    #[test]
    fn lowest_permanent_mac_when_dmi_is_useless() {
        let candidates = Candidates {
            product_uuid: Some("03000200-0400-0500-0006-000700080009".into()),
            product_serial: Some("To Be Filled By O.E.M.".into()),
            board_serial: Some("Default string".into()),
            permanent_macs: vec![
                "3C:EC:EF:10:00:02".into(),
                "3c-ec-ef-10-00-01".into(),
                "00:00:00:00:00:00".into(),
            ],
            machine_id: Some("0123abcd0123abcd0123abcd0123abcd".into()),
        };
        let id = Identity::choose(&candidates).unwrap();
        assert_eq!(id.source(), IdentitySource::Mac);
        let expected = sha256_hex(b"enlist/v1:3c:ec:ef:10:00:01");
        assert_eq!(id.fingerprint(), format!("sha256:{expected}"));
    }

    #[test]
    fn machine_id_is_the_last_resort() {
        let candidates = Candidates {
            machine_id: Some("0123ABCD0123abcd0123abcd0123abcd\n".into()),
            ..Candidates::default()
        };
        let id = Identity::choose(&candidates).unwrap();
        assert_eq!(id.source(), IdentitySource::MachineId);
        assert!(Identity::choose(&Candidates::default()).is_err());
    }

    #[test]
    fn debug_shows_no_raw_value() {
        let id = Identity::choose(&with_uuid("4c4c4544-0035-4810-8056-b7c04f4e3332")).unwrap();
        assert!(!format!("{id:?}").contains("4c4c4544"));
    }

    #[test]
    fn node_ids_cannot_traverse_paths() {
        for bad in [
            "../etc", "a", "Node-1", "node_1", "-node", "node/1", "node.1", "",
        ] {
            assert!(NodeId::parse(bad).is_err(), "{bad:?}");
        }
        let long = "a".repeat(64);
        assert!(NodeId::parse(&long).is_err());
        for good in ["node-3f2a1c", "rack1-n01", "42"] {
            assert!(NodeId::parse(good).is_ok(), "{good:?}");
        }
    }
}
