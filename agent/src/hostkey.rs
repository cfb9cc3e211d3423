//! SSH host keys: the public half of a machine's identity, carried in node.yaml (`sshHostKeys`,
//! SPEC §3) so that the fleet's secrets can follow its registration.
//!
//! sops-nix and agenix encrypt each secret to the hosts that may read it: agenix to the host's
//! SSH public key itself, sops-nix to the age X25519 recipient derived from its ed25519 key.
//! Collected by hand (`ssh-keyscan` + `ssh-to-age`) once a machine is up, they are what makes a
//! new machine wait for a re-encryption; carried in the registration PR, they are in the GitOps
//! repository the moment the machine is — and two registrations with one key are a cloned image.
//!
//! | what | where |
//! |---|---|
//! | reading `/etc/ssh/ssh_host_*_key.pub` under the system root (only `.pub` files are opened) | [`read`] |
//! | a key's wire format checked, its canonical `type base64` form (the comment dropped) | [`HostKey::parse`] |
//! | the fingerprint as `ssh-keygen -l` prints it (`SHA256:…`) | [`HostKey::fingerprint`] |
//! | the age recipient of an ed25519 key, exactly as ssh-to-age derives it | [`HostKey::age_recipient`] |
//!
//! Every key is checked before it is used, on the machine (a corrupt or hostile `.pub` file is
//! skipped with a warning) and in node.yaml (a key that is not one is an invalid document): a
//! known type, canonical base64, the type inside the key data equal to the one in front of it,
//! the type's fields of the right sizes and nothing after them (RFC 4253 §6.6, RFC 5656 §3.1).
//! The SSH wire format is read with RustCrypto's `ssh-encoding`; the Edwards → Montgomery map and
//! bech32 come from `curve25519-dalek` and `bech32` (README, dependency notes).

use std::fmt;
use std::io;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use ssh_encoding::{Decode, Reader as _};

use crate::logging::{self, Event};
use crate::sysroot::SysRoot;

/// Where sshd keeps its host keys (SPEC §3; NixOS `services.openssh.hostKeys` defaults).
pub const HOST_KEY_DIR: &str = "/etc/ssh";

/// The largest `ssh_host_*_key.pub` file read, bytes: `ssh-keygen` writes the largest key it
/// makes (RSA, 16,384 bits) as about 2.8 KB of base64 plus a comment. Checked before reading: a
/// larger file (or `/dev/zero` behind a link) is skipped after reading at most cap + 1 bytes.
pub const MAX_HOST_KEY_FILE_BYTES: u64 = 16 * 1024;

/// The longest key, as `type base64`, characters: the largest key OpenSSH makes (RSA, 16,384
/// bits) is 2,772. Longer is refused before it is decoded.
pub const MAX_HOST_KEY_CHARS: usize = 4 * 1024;

/// The most host keys one machine (or one node.yaml) may carry: sshd keeps one per algorithm —
/// ed25519, rsa and three ECDSA curves are five. More is not a real `/etc/ssh`; a node.yaml
/// listing more is refused before the keys are decoded (bounded work on hostile input).
pub const MAX_HOST_KEYS: usize = 16;

/// The RSA modulus sizes OpenSSH accepts, bits (`SSH_RSA_MINIMUM_MODULUS_SIZE`, and the largest
/// number its buffers hold, `SSHBUF_MAX_BIGNUM` × 8).
const RSA_MODULUS_BITS: std::ops::RangeInclusive<usize> = 1024..=16384;

/// The key types enlist records, with the ECDSA curve name and point length (SEC1 uncompressed:
/// `0x04 ‖ x ‖ y`).
const ECDSA: [(&str, &str, usize); 3] = [
    ("ecdsa-sha2-nistp256", "nistp256", 65),
    ("ecdsa-sha2-nistp384", "nistp384", 97),
    ("ecdsa-sha2-nistp521", "nistp521", 133),
];

/// `ssh-ed25519`: the key age recipients are derived from.
pub const ED25519: &str = "ssh-ed25519";

/// `ssh-rsa`.
const RSA: &str = "ssh-rsa";

/// The human-readable part of an age X25519 recipient (`age1…`).
const AGE_HRP: &str = "age";

/// One SSH host public key, checked, in its canonical form: `type base64` (no comment, one
/// space). Serialized as that string (node.yaml's `sshHostKeys` entries).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HostKey {
    text: String,
}

/// Why a key (a `.pub` file's line, or a node.yaml entry) is not used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HostKeyError {
    /// Not `type base64 [comment]`.
    #[error("not an OpenSSH public key (expected one line `type base64 [comment]`)")]
    NotAKey,
    /// The file holds a private key (a `.pub` linked to the key itself, or a copy gone wrong).
    #[error(
        "it holds a private key, not a public one: it was not used (its content is not shown); \
         a .pub file holds `type base64 comment`"
    )]
    PrivateKey,
    /// Longer than [`MAX_HOST_KEY_CHARS`].
    #[error("longer than {MAX_HOST_KEY_CHARS} characters: no host key OpenSSH makes is that long")]
    TooLong,
    /// A type enlist does not record.
    #[error(
        "key type {0} is not one enlist records (ssh-ed25519, ssh-rsa, ecdsa-sha2-nistp256, \
         ecdsa-sha2-nistp384, ecdsa-sha2-nistp521)"
    )]
    UnknownType(String),
    /// The data is not canonical base64.
    #[error("the key data is not base64 (as ssh-keygen writes it)")]
    Base64,
    /// The type inside the key data differs from the one in front of it.
    #[error("the key data is a {embedded} key, but the line says {stated}")]
    TypeMismatch {
        /// In front of the data.
        stated: String,
        /// Inside the data.
        embedded: String,
    },
    /// The fields of the key data are not the type's.
    #[error("malformed {kind} key: {detail}")]
    Malformed {
        /// The key type.
        kind: String,
        /// What is wrong.
        detail: String,
    },
    /// In node.yaml, not the form enlist writes.
    #[error(
        "not in the form enlist writes (`type base64`: one space, no comment); regenerate the file \
         with `enlist facts --format yaml` on the node"
    )]
    NotCanonical,
    /// An ed25519 key that is no point of the curve: no recipient can be derived.
    #[error("the ed25519 key is not a point of the curve (corrupt): no age recipient")]
    NotOnCurve,
}

impl HostKey {
    /// Checks one key line as a `.pub` file holds it (`type base64 [comment]`); the comment
    /// (`root@host`) is dropped.
    pub fn parse(line: &str) -> Result<HostKey, HostKeyError> {
        if line.contains("PRIVATE KEY") {
            return Err(HostKeyError::PrivateKey);
        }
        let mut fields = line.split_ascii_whitespace();
        let (Some(kind), Some(data)) = (fields.next(), fields.next()) else {
            return Err(HostKeyError::NotAKey);
        };
        if kind.len() + 1 + data.len() > MAX_HOST_KEY_CHARS {
            return Err(HostKeyError::TooLong);
        }
        let known = kind == ED25519 || kind == RSA || ECDSA.iter().any(|(k, ..)| *k == kind);
        if !known {
            return Err(HostKeyError::UnknownType(shown_type(kind)));
        }
        let blob = STANDARD.decode(data).map_err(|_| HostKeyError::Base64)?;
        check_blob(kind, &blob)?;
        Ok(HostKey {
            text: format!("{kind} {data}"),
        })
    }

    /// Checks a key as node.yaml holds it: exactly `type base64`, as [`HostKey::parse`] writes it.
    pub fn parse_canonical(text: &str) -> Result<HostKey, HostKeyError> {
        let key = HostKey::parse(text)?;
        if key.text != text {
            return Err(HostKeyError::NotCanonical);
        }
        Ok(key)
    }

    /// `type base64`.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The key type (`ssh-ed25519`).
    pub fn kind(&self) -> &str {
        self.text.split(' ').next().unwrap_or_default()
    }

    /// The key data (checked when the key was made).
    fn blob(&self) -> Vec<u8> {
        let data = self.text.split(' ').nth(1).unwrap_or_default();
        STANDARD.decode(data).unwrap_or_default()
    }

    /// SHA-256 of the key data: what `ssh-keygen -l` prints, in bytes.
    pub fn fingerprint_bytes(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        out.copy_from_slice(ring::digest::digest(&ring::digest::SHA256, &self.blob()).as_ref());
        out
    }

    /// The fingerprint as OpenSSH prints it: `SHA256:` + unpadded base64 of the SHA-256.
    pub fn fingerprint(&self) -> String {
        format_fingerprint(&self.fingerprint_bytes())
    }

    /// The age X25519 recipient (`age1…`) of an ed25519 key, exactly as ssh-to-age derives it:
    /// the Edwards point's Montgomery u-coordinate, u = (1 + y) / (1 − y) mod 2²⁵⁵ − 19, 32 bytes
    /// little-endian, bech32 (BIP-173, not bech32m) with the human-readable part `age`.
    /// `Ok(None)` for another key type.
    pub fn age_recipient(&self) -> Result<Option<String>, HostKeyError> {
        if self.kind() != ED25519 {
            return Ok(None);
        }
        let blob = self.blob();
        // Checked when the key was made: the last 32 bytes are the point.
        let point: [u8; 32] = blob
            .get(blob.len().saturating_sub(32)..)
            .and_then(|p| p.try_into().ok())
            .ok_or(HostKeyError::NotOnCurve)?;
        let edwards = curve25519_dalek::edwards::CompressedEdwardsY(point)
            .decompress()
            .ok_or(HostKeyError::NotOnCurve)?;
        let u = edwards.to_montgomery().to_bytes();
        let hrp = bech32::Hrp::parse_unchecked(AGE_HRP);
        // 32 bytes under a 3-character prefix are far inside bech32's length limit.
        bech32::encode::<bech32::Bech32>(hrp, &u)
            .map(Some)
            .map_err(|e| HostKeyError::Malformed {
                kind: ED25519.to_owned(),
                detail: e.to_string(),
            })
    }
}

impl fmt::Display for HostKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// `SHA256:` + unpadded base64, as `ssh-keygen -l` prints a fingerprint.
pub fn format_fingerprint(digest: &[u8; 32]) -> String {
    format!("SHA256:{}", STANDARD_NO_PAD.encode(digest))
}

/// The age recipient of a node: that of its (first) ed25519 host key; `Ok(None)` without one.
pub fn age_recipient(keys: &[HostKey]) -> Result<Option<String>, HostKeyError> {
    match keys.iter().find(|k| k.kind() == ED25519) {
        Some(key) => key.age_recipient(),
        None => Ok(None),
    }
}

/// A key type from a file, for a message: shown when it looks like one (`foo-bar@example.com`),
/// else described; the file might hold anything.
fn shown_type(kind: &str) -> String {
    let plausible = !kind.is_empty()
        && kind.len() <= 64
        && kind
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "@.-_".contains(c));
    if plausible {
        format!("`{kind}`")
    } else {
        "(not a key type name)".to_owned()
    }
}

/// The key data's fields: the type again, then the type's own (RFC 4253 §6.6, RFC 5656 §3.1),
/// nothing after them.
fn check_blob(kind: &str, blob: &[u8]) -> Result<(), HostKeyError> {
    let malformed = |detail: String| HostKeyError::Malformed {
        kind: kind.to_owned(),
        detail,
    };
    let wire = |e: ssh_encoding::Error| malformed(format!("{e} in the key data"));
    let mut reader = blob;
    let embedded = String::decode(&mut reader).map_err(wire)?;
    if embedded != kind {
        return Err(HostKeyError::TypeMismatch {
            stated: kind.to_owned(),
            embedded: shown_type(&embedded),
        });
    }
    if kind == ED25519 {
        let point = Vec::<u8>::decode(&mut reader).map_err(wire)?;
        if point.len() != 32 {
            return Err(malformed(format!(
                "the public key is {} bytes, not 32",
                point.len()
            )));
        }
    } else if kind == RSA {
        let exponent = mpint(&mut reader).map_err(&malformed)?;
        let modulus = mpint(&mut reader).map_err(&malformed)?;
        if exponent == 0 {
            return Err(malformed("the exponent is zero".to_owned()));
        }
        if !RSA_MODULUS_BITS.contains(&modulus) {
            return Err(malformed(format!(
                "a {modulus}-bit modulus (OpenSSH takes {} to {} bits)",
                RSA_MODULUS_BITS.start(),
                RSA_MODULUS_BITS.end()
            )));
        }
    } else if let Some((_, curve, length)) = ECDSA.iter().find(|(k, ..)| *k == kind) {
        let named = String::decode(&mut reader).map_err(wire)?;
        if named != *curve {
            return Err(malformed(format!(
                "the curve is {}, not {curve}",
                shown_type(&named)
            )));
        }
        let point = Vec::<u8>::decode(&mut reader).map_err(wire)?;
        if point.len() != *length || point.first() != Some(&0x04) {
            return Err(malformed(format!(
                "the point is not an uncompressed {curve} point ({} bytes)",
                point.len()
            )));
        }
    }
    if !reader.is_finished() {
        return Err(malformed(format!(
            "{} bytes after the key's fields",
            reader.remaining_len()
        )));
    }
    Ok(())
}

/// An RFC 4251 `mpint` that must be positive and minimally encoded; its size in bits.
fn mpint(reader: &mut &[u8]) -> Result<usize, String> {
    let bytes = Vec::<u8>::decode(reader).map_err(|e| format!("{e} in the key data"))?;
    let Some(&first) = bytes.first() else {
        return Ok(0);
    };
    if first & 0x80 != 0 {
        return Err("a negative number".to_owned());
    }
    let digits = if first == 0 {
        match bytes.get(1) {
            Some(next) if next & 0x80 != 0 => &bytes[1..],
            _ => return Err("a number with a superfluous leading zero".to_owned()),
        }
    } else {
        &bytes[..]
    };
    Ok(digits.len() * 8 - digits[0].leading_zeros() as usize)
}

impl Serialize for HostKey {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for HostKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<HostKey, D::Error> {
        let text = String::deserialize(deserializer)?;
        HostKey::parse_canonical(&text).map_err(de::Error::custom)
    }
}

/// node.yaml's `sshHostKeys`: at most [`MAX_HOST_KEYS`] entries — refused at the first one more,
/// before it is decoded — each a [`HostKey`] in its canonical form.
pub fn deserialize_list<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<HostKey>, D::Error> {
    struct List;
    impl<'de> Visitor<'de> for List {
        type Value = Vec<HostKey>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "a list of at most {MAX_HOST_KEYS} SSH public keys")
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<HostKey>, A::Error> {
            let mut keys = Vec::new();
            while keys.len() < MAX_HOST_KEYS {
                match seq.next_element::<HostKey>()? {
                    Some(key) => keys.push(key),
                    None => return Ok(keys),
                }
            }
            match seq.next_element::<de::IgnoredAny>()? {
                None => Ok(keys),
                Some(_) => Err(de::Error::custom(format!(
                    "more than {MAX_HOST_KEYS} SSH host keys: sshd keeps one per algorithm"
                ))),
            }
        }
    }
    deserializer.deserialize_seq(List)
}

/// The machine's SSH host public keys: every `/etc/ssh/ssh_host_*_key.pub` under `root` (links
/// resolved inside it, as everywhere in facts), checked, sorted, without repeats. Only `.pub`
/// files are opened. A file that is not a usable public key is skipped with a warning naming it;
/// none at all is the `inventory.host_keys_missing` event — the node registers without keys, and
/// a later run (once sshd made them) proposes them as a facts update.
pub fn read(root: &SysRoot) -> Vec<HostKey> {
    let mut names: Vec<String> = root
        .list(HOST_KEY_DIR)
        .into_iter()
        .filter(|name| is_host_public_key(name))
        .collect();
    if names.len() > MAX_HOST_KEYS {
        log::warn!(
            "{}: {} ssh_host_*_key.pub files, more than sshd ever keeps ({MAX_HOST_KEYS} read, in \
             name order); remove the stray ones",
            root.path(HOST_KEY_DIR).display(),
            names.len()
        );
        names.truncate(MAX_HOST_KEYS);
    }
    let mut keys = Vec::new();
    for name in names {
        let path = format!("{HOST_KEY_DIR}/{name}");
        match read_one(root, &path) {
            Ok(key) => keys.push(key),
            Err(why) => log::warn!(
                "{}: skipped: {why}; the node registers without this host key",
                root.path(&path).display()
            ),
        }
    }
    keys.sort();
    keys.dedup();
    if keys.is_empty() {
        logging::event_warn(
            Event::HostKeysMissing,
            &format!(
                "no SSH host public key under {} (ssh_host_*_key.pub): registering without \
                 sshHostKeys; sshd makes them when it first starts (on NixOS, enable \
                 services.openssh, or provision them before the first boot), and the next run \
                 proposes them as a facts update",
                root.path(HOST_KEY_DIR).display()
            ),
        );
    }
    keys
}

/// `ssh_host_<something>_key.pub` (the glob `ssh_host_*_key.pub`, with a non-empty `*`).
fn is_host_public_key(name: &str) -> bool {
    const PREFIX: &str = "ssh_host_";
    const SUFFIX: &str = "_key.pub";
    name.len() > PREFIX.len() + SUFFIX.len() && name.starts_with(PREFIX) && name.ends_with(SUFFIX)
}

/// One `.pub` file: a regular file (never a FIFO or device, which could block or never end), at
/// most [`MAX_HOST_KEY_FILE_BYTES`], UTF-8, one key line.
fn read_one(root: &SysRoot, path: &str) -> Result<HostKey, String> {
    let located = root
        .locate(path)
        .map_err(|e| format!("cannot resolve it: {e}"))?;
    let not_regular = "not a regular file".to_owned();
    if !std::fs::metadata(&located.host)
        .map_err(|e| e.to_string())?
        .is_file()
    {
        return Err(not_regular);
    }
    let file = std::fs::File::open(&located.host).map_err(|e| format!("cannot read it: {e}"))?;
    // The path may have been swapped for something else since it was looked at.
    if !file.metadata().map_err(|e| e.to_string())?.is_file() {
        return Err(not_regular);
    }
    let bytes = crate::input::read_capped_file(file, MAX_HOST_KEY_FILE_BYTES, "SSH public key")
        .map_err(|e| match e.kind() {
            io::ErrorKind::FileTooLarge => e.to_string(),
            _ => format!("cannot read it: {e}"),
        })?;
    let text = String::from_utf8(bytes).map_err(|_| HostKeyError::NotAKey.to_string())?;
    let mut lines = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'));
    let line = lines.next().ok_or_else(|| "empty".to_owned())?;
    let key = HostKey::parse(line).map_err(|e| e.to_string())?;
    if text.contains("PRIVATE KEY") {
        return Err(HostKeyError::PrivateKey.to_string());
    }
    if lines.next().is_some() {
        return Err("more than one key line: a host key file holds one key".to_owned());
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// ssh-to-age's own examples (github.com/Mic92/ssh-to-age): the ed25519 host keys of
    /// `eve.thalheim.io` and `eva.thalheim.io` in its test asset
    /// `cmd/ssh-to-age/test-assets/keyscan.txt`, and the recipients its README shows for
    /// `ssh-keyscan eve.thalheim.io eva.thalheim.io | ssh-to-age`; and the pair in
    /// github.com/pinpox/pgp2ssh's README (`gpg --export-ssh-key … | ssh-to-age`).
    const SSH_TO_AGE_VECTORS: [(&str, &str); 3] = [
        (
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIF/KPU3Z5LSjbBI6hrq25wCcseq2UpqSzUFZRr+ux6LM",
            "age1hjm3aujg9e79f5yth8a2cejzdjg5n9vnu96l05p70uvfpeltnpms7yy3pp",
        ),
        (
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIL2vjdqpppuCn7yPdF2muINriAG7zBWrsELKpPWkhn5",
            "age1v8zjc47jmlqwefyu66s0d4ke98qr4vnuj3cpvs4z9npfdw833dxqwjrhzv",
        ),
        (
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICYvKXGcG4a19tTT0Rycbn+D0r/YlKltLJ9dY2gR/Fjx",
            "age18s8m9hvlrwvltgys4lafyyqe356ntc7e06t4kd2nccqm5amsaa2s878mju",
        ),
    ];

    #[test]
    fn age_recipients_are_the_ones_ssh_to_age_gives() {
        for (key, recipient) in SSH_TO_AGE_VECTORS {
            let key = HostKey::parse(&format!("{key} root@host")).unwrap();
            assert_eq!(key.age_recipient().unwrap().as_deref(), Some(recipient));
        }
    }

    /// The dell-r640 fixture's keys (agent/tests/fixtures/generate.py) and their fingerprints as
    /// `ssh-keygen -l -f` printed them when the keys were made.
    const DELL_ED25519: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGD3ZNY6ZlqqNnTwl/QsJnPNMl14smVeNuh9KngycSKR";
    const DELL_ED25519_SHA256: &str = "SHA256:CqLq4+oKKWCUkXpwLiEqu7sMZ9zFK+OWShONoAIjXcw";
    const SM_ECDSA: &str = "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBP1tlnVTO5XCtczrcp9JmgeFTLD0P5x+4YOO9NIiyAhg62LCgMdAcA54laUVSzt8EXWg3yBuUPlN6qS7ISr9PtI=";
    const SM_ECDSA_SHA256: &str = "SHA256:YXX3m8eD99bt4l9jR2Et8oxzDnGfNyPjvLyOwzUPCIw";

    /// An RFC 4251 string per part, base64'd: a key line's data.
    fn wire(parts: &[&[u8]]) -> String {
        let mut blob = Vec::new();
        for part in parts {
            blob.extend_from_slice(&u32::try_from(part.len()).unwrap().to_be_bytes());
            blob.extend_from_slice(part);
        }
        STANDARD.encode(blob)
    }

    fn rsa_line(exponent: &[u8], modulus: &[u8]) -> String {
        format!("ssh-rsa {}", wire(&[b"ssh-rsa", exponent, modulus]))
    }

    /// A positive `mpint` of `bits` bits (leading 0x00 since the top bit is set).
    fn modulus(bits: usize) -> Vec<u8> {
        let mut n = vec![0u8];
        n.extend(std::iter::repeat_n(0xc5, bits / 8));
        n
    }

    #[test]
    fn the_comment_is_dropped_and_the_form_is_canonical() {
        let key =
            HostKey::parse(&format!("  {DELL_ED25519}   root@r640-a1 extra words\n")).unwrap();
        assert_eq!(key.as_str(), DELL_ED25519);
        assert_eq!(key.kind(), "ssh-ed25519");
        assert_eq!(HostKey::parse_canonical(DELL_ED25519).unwrap(), key);
        for other in [
            format!("{DELL_ED25519} root@r640-a1"),
            DELL_ED25519.replace(' ', "  "),
            format!(" {DELL_ED25519}"),
            DELL_ED25519.replace(' ', "\t"),
        ] {
            assert_eq!(
                HostKey::parse_canonical(&other),
                Err(HostKeyError::NotCanonical),
                "{other:?}"
            );
        }
        // Serialized as the string itself, and read back only in that form.
        let yaml = serde_yaml::to_string(&key).unwrap();
        assert_eq!(yaml.trim(), DELL_ED25519);
        let back: HostKey = serde_yaml::from_str(&yaml).unwrap();
        assert_eq!(back, key);
    }

    #[test]
    fn fingerprints_are_the_ones_ssh_keygen_prints() {
        let ed = HostKey::parse(DELL_ED25519).unwrap();
        assert_eq!(ed.fingerprint(), DELL_ED25519_SHA256);
        let ecdsa = HostKey::parse(SM_ECDSA).unwrap();
        assert_eq!(ecdsa.fingerprint(), SM_ECDSA_SHA256);
        assert_eq!(
            format_fingerprint(&ed.fingerprint_bytes()),
            DELL_ED25519_SHA256
        );
    }

    #[test]
    fn only_ed25519_keys_have_an_age_recipient() {
        let ecdsa = HostKey::parse(SM_ECDSA).unwrap();
        assert_eq!(ecdsa.age_recipient(), Ok(None));
        let rsa = HostKey::parse(&rsa_line(&[1, 0, 1], &modulus(2048))).unwrap();
        assert_eq!(rsa.age_recipient(), Ok(None));
        let ed = HostKey::parse(DELL_ED25519).unwrap();
        let recipient = age_recipient(&[rsa.clone(), ed.clone()]).unwrap().unwrap();
        assert!(
            recipient.starts_with("age1") && recipient.len() == 62,
            "{recipient}"
        );
        assert_eq!(age_recipient(&[rsa]), Ok(None));
        assert_eq!(age_recipient(&[]), Ok(None));
    }

    #[test]
    fn an_ed25519_key_off_the_curve_has_no_recipient() {
        // y = 2 is no point of edwards25519 (x² = (y² − 1)/(d·y² + 1) has no root): 32 bytes of
        // the right shape that no real key can hold.
        let mut y = [0u8; 32];
        y[0] = 2;
        let key = HostKey::parse(&format!("ssh-ed25519 {}", wire(&[b"ssh-ed25519", &y]))).unwrap();
        assert_eq!(key.age_recipient(), Err(HostKeyError::NotOnCurve));
    }

    #[test]
    fn hostile_and_corrupt_keys_are_refused_with_the_reason() {
        let ed = |point: &[u8]| format!("ssh-ed25519 {}", wire(&[b"ssh-ed25519", point]));
        let malformed = |line: &str| match HostKey::parse(line) {
            Err(HostKeyError::Malformed { detail, .. }) => detail,
            other => panic!("{line}: {other:?}"),
        };
        assert!(malformed(&ed(&[7; 31])).contains("31 bytes, not 32"));
        assert!(malformed(&ed(&[7; 33])).contains("33 bytes"));
        // Anything after the key's fields.
        let trailing = format!("ssh-ed25519 {}", wire(&[b"ssh-ed25519", &[7; 32], b"x"]));
        assert!(malformed(&trailing).contains("after the key's fields"));
        // A length prefix past the end of the data.
        let mut short = STANDARD.decode(wire(&[b"ssh-ed25519", &[7; 32]])).unwrap();
        short.truncate(40);
        assert!(matches!(
            HostKey::parse(&format!("ssh-ed25519 {}", STANDARD.encode(short))),
            Err(HostKeyError::Malformed { .. })
        ));
        // The type inside the data is not the one in front of it.
        let swapped = format!("ssh-rsa {}", wire(&[b"ssh-ed25519", &[7; 32]]));
        assert_eq!(
            HostKey::parse(&swapped),
            Err(HostKeyError::TypeMismatch {
                stated: "ssh-rsa".into(),
                embedded: "`ssh-ed25519`".into()
            })
        );
        assert!(matches!(
            HostKey::parse(&format!("ssh-ed25519 {}", wire(&[b"\x1b[2J<b>", &[7; 32]]))),
            Err(HostKeyError::TypeMismatch { embedded, .. }) if embedded == "(not a key type name)"
        ));
        // RSA: a modulus OpenSSH would refuse, a negative or padded number, a zero exponent.
        assert!(malformed(&rsa_line(&[1, 0, 1], &modulus(512))).contains("512-bit"));
        assert!(malformed(&rsa_line(&[1, 0, 1], &modulus(16392))).contains("16392-bit"));
        assert!(malformed(&rsa_line(&[0x81], &modulus(2048))).contains("negative"));
        assert!(malformed(&rsa_line(&[0, 1], &modulus(2048))).contains("leading zero"));
        assert!(malformed(&rsa_line(&[], &modulus(2048))).contains("exponent is zero"));
        assert!(HostKey::parse(&rsa_line(&[1, 0, 1], &modulus(1024))).is_ok());
        assert!(HostKey::parse(&rsa_line(&[1, 0, 1], &modulus(16384))).is_ok());
        // ECDSA: the curve named inside must be the type's, the point uncompressed and whole.
        let ecdsa = |curve: &[u8], point: &[u8]| {
            format!(
                "ecdsa-sha2-nistp256 {}",
                wire(&[b"ecdsa-sha2-nistp256", curve, point])
            )
        };
        let mut point = vec![4u8];
        point.extend([9u8; 64]);
        assert!(HostKey::parse(&ecdsa(b"nistp256", &point)).is_ok());
        assert!(malformed(&ecdsa(b"nistp384", &point)).contains("not nistp256"));
        assert!(malformed(&ecdsa(b"nistp256", &point[..33])).contains("33 bytes"));
        point[0] = 2;
        assert!(malformed(&ecdsa(b"nistp256", &point)).contains("uncompressed"));
        // Not base64, or base64 with bits ssh-keygen never writes.
        assert_eq!(
            HostKey::parse("ssh-ed25519 AAAA$$$$"),
            Err(HostKeyError::Base64)
        );
        // 104 bytes of key data: the last character before `=` carries two unused bits (`I` →
        // `J` sets one).
        assert!(SM_ECDSA.ends_with("tI="));
        assert_eq!(
            HostKey::parse(&SM_ECDSA.replace("tI=", "tJ=")),
            Err(HostKeyError::Base64)
        );
        // Types enlist does not record, shown only when they look like a type name.
        assert_eq!(
            HostKey::parse("ssh-dss AAAA"),
            Err(HostKeyError::UnknownType("`ssh-dss`".into()))
        );
        assert_eq!(
            HostKey::parse("@everyone<img> AAAA"),
            Err(HostKeyError::UnknownType("(not a key type name)".into()))
        );
        assert_eq!(HostKey::parse("ssh-ed25519"), Err(HostKeyError::NotAKey));
        assert_eq!(HostKey::parse(""), Err(HostKeyError::NotAKey));
        let long = format!("ssh-rsa {}", "A".repeat(MAX_HOST_KEY_CHARS));
        assert_eq!(HostKey::parse(&long), Err(HostKeyError::TooLong));
        assert_eq!(
            HostKey::parse("-----BEGIN OPENSSH PRIVATE KEY-----"),
            Err(HostKeyError::PrivateKey)
        );
    }

    #[derive(Debug, Deserialize)]
    struct Doc {
        #[serde(deserialize_with = "deserialize_list")]
        keys: Vec<HostKey>,
    }

    #[test]
    fn a_list_longer_than_the_cap_is_refused_before_its_keys_are_decoded() {
        let at_cap: Vec<&str> = vec![DELL_ED25519; MAX_HOST_KEYS];
        let doc: Doc = serde_yaml::from_str(&format!("keys: {at_cap:?}")).unwrap();
        assert_eq!(doc.keys.len(), MAX_HOST_KEYS);
        // One more — not even a key — is refused for the count, not for what it holds.
        let mut over: Vec<&str> = at_cap.clone();
        over.push("not a key");
        let err = serde_yaml::from_str::<Doc>(&format!("keys: {over:?}")).unwrap_err();
        assert!(
            err.to_string().contains("more than 16 SSH host keys"),
            "{err}"
        );
        let err = serde_yaml::from_str::<Doc>("keys: [\"ssh-ed25519 AAAA x\"]").unwrap_err();
        assert!(
            err.to_string().contains("not base64") || err.to_string().contains("form"),
            "{err}"
        );
    }

    #[test]
    fn host_key_file_names_follow_the_glob() {
        for yes in [
            "ssh_host_ed25519_key.pub",
            "ssh_host_rsa_key.pub",
            "ssh_host_x_key.pub",
        ] {
            assert!(is_host_public_key(yes), "{yes}");
        }
        for no in [
            "ssh_host_ed25519_key",
            "ssh_host_key.pub",
            "ssh_host__key.pub",
            "ssh_known_hosts",
            "ssh_host_ed25519_key.pub.bak",
            "authorized_keys",
        ] {
            assert!(!is_host_public_key(no), "{no}");
        }
    }
}
