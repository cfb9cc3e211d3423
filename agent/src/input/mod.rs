//! Untrusted input, bounded (SPEC §5, last bullet): the one place that says how much of a file
//! enlist will read and how deep a YAML document may nest.
//!
//! node.yaml files reach `reconcile` from pull requests and `register` from the upstream branch;
//! the inventory, the demand file and the inventory map come from people; the config and the
//! marker from the machine. Each is **size-capped before it is parsed** — [`read_capped`] reads
//! at most cap + 1 bytes, so an oversize file (or `/dev/zero`) is never read whole — and every
//! YAML input goes through [`yaml::from_str`] (node.yaml through [`yaml::from_str_within`] with
//! [`yaml::Budget::NODE_YAML`]), which bounds nesting, aliases and the nodes parsing builds before
//! the parser sees the text. The caps:
//!
//! | input | cap | why |
//! |---|---|---|
//! | node.yaml (scanned, or upstream in `register`) | [`MAX_NODE_YAML_BYTES`] 1 MiB | enlist writes ~2 KiB; GitHub's contents API inlines files up to 1 MB |
//! | inventory CSV | [`MAX_INVENTORY_BYTES`] 64 MiB | 100,000 rows of a 40-column NetBox export are ~30 MiB |
//! | inventory CSV cell | [`MAX_CSV_FIELD_BYTES`] 64 KiB | the longest real cell is a comment of a few hundred bytes |
//! | inventory CSV columns | [`MAX_CSV_COLUMNS`] 1,024 | NetBox's all-data export has ~60 |
//! | demand file | [`MAX_DEMAND_BYTES`] 1 MiB | thousands of workloads |
//! | config file, inventory map | [`MAX_CONFIG_BYTES`] 64 KiB | a few dozen keys |
//! | marker (JSON) | [`MAX_MARKER_BYTES`] 64 KiB | enlist writes ~1 KiB |
//! | fleet file (`export --check`) | [`MAX_FLEET_FILE_BYTES`] 256 MiB | enlist writes ~1.5 KiB per node |
//! | YAML nesting / aliases | [`yaml::MAX_DEPTH`] 64 / [`yaml::MAX_ALIASES`] 100 | enlist's deepest input nests 3 levels and uses no alias |
//! | YAML nodes, aliases expanded | [`yaml::MAX_NODE_YAML_NODES`] 10,000 (node.yaml, no anchor or alias at all) / [`yaml::MAX_NODES`] 50,000 | enlist writes ~150; a thousand workloads are 11,000 |

pub mod yaml;

use std::fs::File;
use std::io::{self, Read as _};
use std::path::Path;

/// The largest node.yaml read or parsed, bytes. A real one is ~2 KiB; GitHub's contents API
/// returns a file's content inline only up to 1 MB.
pub const MAX_NODE_YAML_BYTES: u64 = 1024 * 1024;

/// The largest inventory CSV, bytes: 100,000 rows of a 40-column NetBox "all data" export are
/// about 30 MiB; twice that leaves room without letting a stray file fill memory.
pub const MAX_INVENTORY_BYTES: u64 = 64 * 1024 * 1024;

/// The longest inventory cell, bytes: real cells (comments included) are a few hundred bytes.
pub const MAX_CSV_FIELD_BYTES: usize = 64 * 1024;

/// The most columns an inventory header (or row) may have: NetBox's all-data export has ~60.
pub const MAX_CSV_COLUMNS: usize = 1024;

/// The largest demand file, bytes: thousands of workloads and catalog entries.
pub const MAX_DEMAND_BYTES: u64 = 1024 * 1024;

/// The largest config file or inventory map, bytes: a few dozen keys.
pub const MAX_CONFIG_BYTES: u64 = 64 * 1024;

/// The largest marker, bytes: enlist writes about 1 KiB.
pub const MAX_MARKER_BYTES: u64 = 64 * 1024;

/// The largest fleet file `enlist export --check` compares, bytes: enlist writes about 1.5 KiB
/// per node, so this is well over 100,000 nodes.
pub const MAX_FLEET_FILE_BYTES: u64 = 256 * 1024 * 1024;

/// `bytes` for messages: `1 MiB`, `64 KiB`, `512 bytes`.
pub fn human(bytes: u64) -> String {
    const KIB: u64 = 1024;
    const MIB: u64 = 1024 * 1024;
    if bytes >= MIB && bytes.is_multiple_of(MIB) {
        format!("{} MiB", bytes / MIB)
    } else if bytes >= KIB && bytes.is_multiple_of(KIB) {
        format!("{} KiB", bytes / KIB)
    } else {
        format!("{bytes} bytes")
    }
}

/// Reads `path`, at most `cap` bytes: a longer file is an [`io::ErrorKind::FileTooLarge`] error
/// saying so, after reading only cap + 1 bytes (never the whole file, so `/dev/zero` ends too).
/// `what` names the input in that message (`inventory`, `demand file`, …).
///
/// Any readable file works, a FIFO too (`--inventory <(…)`): callers that must not block on one
/// (the node.yaml scan, which reads what pull requests put in the tree) check the file type first.
pub fn read_capped(path: &Path, cap: u64, what: &str) -> io::Result<Vec<u8>> {
    read_capped_file(File::open(path)?, cap, what)
}

/// [`read_capped`] of a file the caller opened (the marker is opened with `O_NOFOLLOW`).
pub fn read_capped_file(file: File, cap: u64, what: &str) -> io::Result<Vec<u8>> {
    let hint = file
        .metadata()
        .ok()
        .filter(std::fs::Metadata::is_file)
        .map_or(0, |m| m.len());
    if hint > cap {
        return Err(too_large(cap, what));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(hint).unwrap_or(0));
    file.take(cap.saturating_add(1)).read_to_end(&mut bytes)?;
    // It may have grown since its size was read, or not be a regular file at all.
    if bytes.len() as u64 > cap {
        return Err(too_large(cap, what));
    }
    Ok(bytes)
}

/// [`read_capped`] for text: invalid UTF-8 is an [`io::ErrorKind::InvalidData`] error.
pub fn read_text_capped(path: &Path, cap: u64, what: &str) -> io::Result<String> {
    String::from_utf8(read_capped(path, cap, what)?).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "not UTF-8 text (invalid byte at offset {}): save the {what} as UTF-8",
                e.utf8_error().valid_up_to()
            ),
        )
    })
}

fn too_large(cap: u64, what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::FileTooLarge,
        format!(
            "larger than {}, the limit for a {what}: not read",
            human(cap)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn a_file_at_the_cap_is_read_one_byte_over_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, vec![b'x'; 100]).unwrap();
        assert_eq!(read_capped(&path, 100, "test").unwrap().len(), 100);
        let err = read_capped(&path, 99, "demand file").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::FileTooLarge);
        assert_eq!(
            err.to_string(),
            "larger than 99 bytes, the limit for a demand file: not read"
        );
    }

    #[test]
    fn dev_zero_ends_at_the_cap() {
        let started = Instant::now();
        let err = read_capped(Path::new("/dev/zero"), MAX_CONFIG_BYTES, "config file").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::FileTooLarge);
        assert!(err.to_string().contains("64 KiB"), "{err}");
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn invalid_utf8_is_invalid_data_with_the_offset() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"ab\xffcd").unwrap();
        let err = read_text_capped(&path, 100, "config file").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert!(err.to_string().contains("offset 2"), "{err}");
    }

    #[test]
    fn human_sizes() {
        assert_eq!(human(MAX_NODE_YAML_BYTES), "1 MiB");
        assert_eq!(human(MAX_CONFIG_BYTES), "64 KiB");
        assert_eq!(human(1000), "1000 bytes");
    }
}
