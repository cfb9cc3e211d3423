//! What reviewers see: PR title and body, comments, commit messages, and the machine-readable
//! trailer (`<!-- enlist node_id=… facts_hash=… boot_id=… -->`) that later runs read back.
//!
//! Every value that comes from the machine (hostname, DMI strings, disk models, OS name, …) goes
//! out through [`crate::markdown`]: code spans in the body and comments, and in the title only a
//! valid RFC 1123 host name. No `format!` of a raw machine value into Markdown anywhere else.

use serde_json::Value;

use crate::document::NodeDocument;
use crate::facts::Observations;
use crate::markdown::{code, table_code, title_value};

const GIB: f64 = 1024.0 * 1024.0 * 1024.0;
const GB: f64 = 1_000_000_000.0;

/// Most per-fact changes listed in an update PR or comment; a reinstall onto other hardware
/// changes everything, and the node.yaml diff shows it all anyway.
pub const MAX_CHANGES_LISTED: usize = 20;

/// PR title: plain text on one line (the hostname only when it is a valid host name).
pub fn title(doc: &NodeDocument, update: bool) -> String {
    let host = title_value(&doc.hostname)
        .map(|h| format!(" ({h})"))
        .unwrap_or_default();
    if update {
        format!("Update {}{host} facts", doc.node_id)
    } else {
        format!("Register {}{host}", doc.node_id)
    }
}

/// Commit message for node.yaml.
pub fn commit_message(doc: &NodeDocument, update: bool) -> String {
    format!("{}\n\nfactsHash: {}\n", title(doc, update), doc.facts_hash)
}

/// The trailer later runs parse. The boot id is this machine's too: only `[0-9a-f-]` of it is
/// kept (see [`super::read_boot_id`]), so it cannot end the HTML comment.
pub fn trailer(doc: &NodeDocument, boot_id: &str) -> String {
    format!(
        "<!-- enlist node_id={} facts_hash={} boot_id={} -->",
        doc.node_id, doc.facts_hash, boot_id
    )
}

/// The fields of the last enlist trailer in `text` (the one enlist appended: values shown above
/// it are code spans and cannot end with a trailer of their own).
fn trailer_field(text: &str, key: &str) -> Option<String> {
    let start = text.rfind("<!-- enlist ")?;
    let rest = &text[start..];
    let end = rest.find("-->")?;
    let prefix = format!("{key}=");
    rest[..end]
        .split_whitespace()
        .find_map(|kv| kv.strip_prefix(prefix.as_str()))
        .map(str::to_owned)
}

/// `facts_hash` from a trailer in `text`.
pub fn trailer_facts_hash(text: &str) -> Option<String> {
    trailer_field(text, "facts_hash")
}

/// Whether `text` (a body or comment) was written during this boot: its trailer carries the id.
pub fn mentions_boot(text: &str, boot_id: &str) -> bool {
    trailer_field(text, "boot_id").as_deref() == Some(boot_id)
}

/// One fact that differs between the registered (or proposed) node.yaml and this machine's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    /// The fact, as a node.yaml path (`memory.totalBytes`, `disks`).
    pub fact: String,
    /// What it was (`None`: absent).
    pub old: Option<String>,
    /// What it is now (`None`: gone).
    pub new: Option<String>,
}

/// What the reviewer of an update compares against.
#[derive(Clone, Copy, Debug)]
pub enum Previous<'a> {
    /// The node.yaml as registered or as the PR proposed it.
    Document(&'a NodeDocument),
    /// Only its `factsHash` is known (the file itself was already replaced).
    Hash(&'a str),
}

/// The facts that differ, old → new, sorted by fact: scalars by their path, list entries
/// (disks, NICs, GPUs) as removed and added items. `nodeId`, `operator`, `schema` and `factsHash`
/// are not facts.
pub fn changes(old: &NodeDocument, new: &NodeDocument) -> Vec<Change> {
    let mut out = Vec::new();
    let old = serde_json::to_value(old).unwrap_or(Value::Null);
    let new = serde_json::to_value(new).unwrap_or(Value::Null);
    diff("", &old, &new, &mut out);
    out
}

fn diff(path: &str, old: &Value, new: &Value, out: &mut Vec<Change>) {
    const NOT_FACTS: [&str; 4] = ["schema", "nodeId", "operator", "factsHash"];
    match (old, new) {
        (Value::Object(a), Value::Object(b)) => {
            let mut keys: Vec<&String> = a.keys().collect();
            keys.extend(b.keys().filter(|k| !a.contains_key(*k)));
            for key in keys {
                if path.is_empty() && NOT_FACTS.contains(&key.as_str()) {
                    continue;
                }
                let child = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                diff(
                    &child,
                    a.get(key).unwrap_or(&Value::Null),
                    b.get(key).unwrap_or(&Value::Null),
                    out,
                );
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            for item in a.iter().filter(|i| !b.contains(i)) {
                out.push(Change {
                    fact: path.to_owned(),
                    old: Some(compact(item)),
                    new: None,
                });
            }
            for item in b.iter().filter(|i| !a.contains(i)) {
                out.push(Change {
                    fact: path.to_owned(),
                    old: None,
                    new: Some(compact(item)),
                });
            }
        }
        (a, b) if a != b => out.push(Change {
            fact: path.to_owned(),
            old: (!a.is_null()).then(|| compact(a)),
            new: (!b.is_null()).then(|| compact(b)),
        }),
        _ => {}
    }
}

fn compact(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The Markdown list of what changed (each value a code span), or the two hashes when only the
/// old hash is known.
pub fn describe_changes(previous: Previous<'_>, doc: &NodeDocument) -> String {
    let list = match previous {
        Previous::Hash(old) => {
            return format!(
                "- `factsHash`: {} → {} (the earlier node.yaml is no longer on the branch; the \
                 commit history shows it)\n",
                code(old),
                code(&doc.facts_hash)
            );
        }
        Previous::Document(old) => changes(old, doc),
    };
    if list.is_empty() {
        return "- no fact differs (only the file's form changed)\n".to_owned();
    }
    let mut out = String::new();
    for change in list.iter().take(MAX_CHANGES_LISTED) {
        let side = |v: &Option<String>| v.as_deref().map(code).unwrap_or_else(|| "none".into());
        out.push_str(&format!(
            "- {}: {} → {}\n",
            code(&change.fact),
            side(&change.old),
            side(&change.new)
        ));
    }
    if list.len() > MAX_CHANGES_LISTED {
        out.push_str(&format!(
            "- … and {} more (see the node.yaml diff)\n",
            list.len() - MAX_CHANGES_LISTED
        ));
    }
    out
}

/// When the SSH host keys differ (issue 27), what a reviewer must read first: the secrets
/// encrypted to the node's old key must be re-encrypted to the new one, and a changed key is
/// also what a machine taken over or cloned would show. Old → new fingerprint per key type
/// (`ssh-keygen -l`'s `SHA256:…`); `None` when the keys are the same.
pub fn host_key_notice(old: &NodeDocument, new: &NodeDocument) -> Option<String> {
    if old.ssh_host_keys == new.ssh_host_keys {
        return None;
    }
    let mut kinds: Vec<&str> = old
        .ssh_host_keys
        .iter()
        .chain(&new.ssh_host_keys)
        .map(|k| k.kind())
        .collect();
    kinds.sort_unstable();
    kinds.dedup();
    let fingerprints = |doc: &NodeDocument, kind: &str| -> String {
        let shown: Vec<String> = doc
            .ssh_host_keys
            .iter()
            .filter(|k| k.kind() == kind)
            .map(|k| code(&k.fingerprint()))
            .collect();
        if shown.is_empty() {
            "none".to_owned()
        } else {
            shown.join(", ")
        }
    };
    let mut out = String::from(
        "**Host key changed: secrets must be re-encrypted for this node**; old → new \
         fingerprint:\n\n",
    );
    for kind in kinds {
        let (before, after) = (fingerprints(old, kind), fingerprints(new, kind));
        if before != after {
            out.push_str(&format!("- {}: {before} → {after}\n", code(kind)));
        }
    }
    out.push_str(
        "\nSecrets encrypted to the old key (sops-nix, agenix) are unreadable for the node until \
         they are re-encrypted to the new one (`enlist export --format age-recipients` or \
         `--format nix` gives it once this is merged), and whoever holds the old key can still \
         read them. A new key is what a reinstall shows, and also what a machine cloned or taken \
         over would show: make sure it is this machine before merging. enlist never turns on \
         auto-merge for this pull request.\n\n",
    );
    Some(out)
}

/// PR body: what changed (an update), a facts table for the reviewer, the volatile
/// observations, the trailer.
pub fn body(
    doc: &NodeDocument,
    observations: &Observations,
    path: &str,
    boot_id: &str,
    previous: Option<Previous<'_>>,
) -> String {
    let mut out = String::new();
    if let Some(Previous::Document(old)) = previous {
        out.push_str(&host_key_notice(old, doc).unwrap_or_default());
    }
    if let Some(previous) = previous {
        out.push_str(&format!(
            "**This machine's facts changed** since {} was proposed or registered (old → new):\n\n",
            code(path)
        ));
        out.push_str(&describe_changes(previous, doc));
        out.push_str(
            "\nA changed fact is a hardware event (a DIMM or disk failed or was replaced, a NIC \
             swapped) or a reinstall with another hostname: check the machine before merging.\n\n",
        );
    }
    out.push_str(&format!(
        "Node {} ({}) registers itself{} as {}.\n\n",
        code(doc.node_id.as_str()),
        code(&doc.hostname),
        doc.operator
            .as_deref()
            .map(|o| format!(" for operator {}", code(o)))
            .unwrap_or_default(),
        code(path)
    ));
    out.push_str("| fact | value |\n|---|---|\n");
    let system = [&doc.system.vendor, &doc.system.model]
        .iter()
        .filter_map(|v| v.as_deref())
        .collect::<Vec<_>>()
        .join(" ");
    out.push_str(&format!(
        "| system | {}{} |\n",
        if system.is_empty() {
            "unknown".to_owned()
        } else {
            table_code(&system)
        },
        doc.system
            .serial
            .as_deref()
            .map(|s| format!(" (serial {})", table_code(s)))
            .unwrap_or_default()
    ));
    out.push_str(&format!(
        "| identity | {} {} |\n",
        table_code(doc.identity.source.as_str()),
        table_code(&doc.identity.fingerprint)
    ));
    out.push_str(&format!(
        "| cpu | {} × {} — {} cores / {} threads ({}) |\n",
        doc.cpu.sockets,
        table_code(&doc.cpu.model),
        doc.cpu.cores,
        doc.cpu.threads,
        table_code(&doc.cpu.arch)
    ));
    out.push_str(&format!(
        "| memory | {:.0} GiB |\n",
        doc.memory.total_bytes as f64 / GIB
    ));
    let disks: Vec<String> = doc
        .disks
        .iter()
        .map(|d| {
            format!(
                "{:.0} GB {} {}{}",
                d.size_bytes as f64 / GB,
                table_code(&d.transport),
                d.model
                    .as_deref()
                    .map(table_code)
                    .unwrap_or_else(|| "disk".into()),
                if d.rotational { " (HDD)" } else { "" }
            )
        })
        .collect();
    out.push_str(&format!("| disks | {} |\n", or_none(&disks.join("<br>"))));
    let nics: Vec<String> = doc
        .network
        .iter()
        .map(|n| {
            format!(
                "{} {} ({})",
                table_code(&n.name),
                table_code(&n.mac),
                n.driver
                    .as_deref()
                    .map(table_code)
                    .unwrap_or_else(|| "?".into())
            )
        })
        .collect();
    out.push_str(&format!("| network | {} |\n", or_none(&nics.join("<br>"))));
    let gpus: Vec<String> = doc
        .gpus
        .iter()
        .map(|g| {
            format!(
                "{} {}",
                g.vendor
                    .as_deref()
                    .map(table_code)
                    .unwrap_or_else(|| "PCI".into()),
                table_code(&format!("{}:{}", g.vendor_id, g.device_id))
            )
        })
        .collect();
    out.push_str(&format!("| gpus | {} |\n", or_none(&gpus.join("<br>"))));
    // Fingerprints as `ssh-keygen -l` prints them: what a reviewer compares with the console.
    let host_keys: Vec<String> = doc
        .ssh_host_keys
        .iter()
        .map(|k| format!("{} {}", table_code(k.kind()), table_code(&k.fingerprint())))
        .collect();
    out.push_str(&format!(
        "| ssh host keys | {} |\n",
        or_none(&host_keys.join("<br>"))
    ));
    out.push_str(&format!(
        "| factsHash | {} |\n\n",
        table_code(&doc.facts_hash)
    ));
    out.push_str("Observed at registration (not part of node.yaml; may change):\n\n");
    let shown = |v: Option<&str>| v.map(code).unwrap_or_else(|| "unknown".into());
    let addresses: Vec<String> = observations.addresses.iter().map(|a| code(a)).collect();
    out.push_str(&format!(
        "- OS: {}\n- kernel: {}\n- uptime: {}\n- addresses: {}\n\n",
        shown(observations.os.as_deref()),
        shown(observations.kernel.as_deref()),
        observations
            .uptime_secs
            .map(|s| format!("{s} s"))
            .unwrap_or_else(|| "unknown".into()),
        or_none(&addresses.join(", "))
    ));
    out.push_str(&format!(
        "Opened by enlist {} on the node. Merging registers the node; closing without merge \
         rejects it (the node will not ask again for the same facts).\n\n",
        env!("CARGO_PKG_VERSION")
    ));
    out.push_str(&trailer(doc, boot_id));
    out.push('\n');
    out
}

/// Comment for an open PR when the node comes up again (`previous: None`: its facts are the
/// PR's) or its facts changed (`previous`: what the PR showed before).
pub fn comment(doc: &NodeDocument, boot_id: &str, previous: Option<Previous<'_>>) -> String {
    let text = match previous {
        Some(previous) => format!(
            "{}enlist: the facts of {} changed; the branch now holds the new node.yaml ({}). \
             What changed (old → new):\n\n{}",
            match previous {
                Previous::Document(old) => host_key_notice(old, doc).unwrap_or_default(),
                Previous::Hash(_) => String::new(),
            },
            code(doc.node_id.as_str()),
            code(&doc.facts_hash),
            describe_changes(previous, doc)
        ),
        None => format!(
            "enlist: {} ({}) came up again (reinstalled, or its marker was lost) while this \
             pull request is open; its facts are unchanged.\n",
            code(doc.node_id.as_str()),
            code(&doc.hostname)
        ),
    };
    format!("{text}\n{}\n", trailer(doc, boot_id))
}

fn or_none(text: &str) -> String {
    if text.is_empty() {
        "none".into()
    } else {
        text.to_owned()
    }
}

/// A value from the machine or from GitHub, for the terminal or the journal: one line, control
/// characters shown escaped ([`crate::terminal::escape`], the one sanitiser for such text).
pub fn plain(value: &str) -> String {
    crate::terminal::escape(value)
}

/// Marks enlist's foreign-commits comment: a run that finds it does not comment again (exactly
/// one such comment across runs, even after a crash between commenting and the marker).
pub const FOREIGN_TAG: &str = "<!-- enlist:foreign-commits -->";

/// The comment on a PR whose branch has commits this node did not write (SPEC §4, "Foreign
/// commits"). The shas come from GitHub and are checked to be 40 hex digits before they get
/// here; they are shown as code all the same.
///
/// `turned_off`: auto-merge was on and enlist turned it off (`Some(true)`), GitHub refused to
/// (`Some(false)`), or it was not on (`None`).
pub fn foreign_comment(
    branch: &str,
    head: &str,
    written: &str,
    moved: Option<(&str, &str)>,
    turned_off: Option<bool>,
) -> String {
    let what = match moved {
        Some((from, to)) => format!(
            "this pull request was moved from base branch {} to {} by someone other than this \
             node (its head is {})",
            code(from),
            code(to),
            code(crate::forge::short_sha(head)),
        ),
        None => format!(
            "the branch {} has commits this node did not write (its head is {}; the node last \
             wrote {})",
            code(branch),
            code(crate::forge::short_sha(head)),
            code(crate::forge::short_sha(written)),
        ),
    };
    format!(
        "{FOREIGN_TAG}\nenlist: {what}. {} The node will never turn auto-merge on for this pull \
         request, and never force-pushes, resets or rewrites this branch (if its facts change, it \
         adds a commit with the new node.yaml and says so here): review the change and merge or \
         close this pull request yourself.\n",
        match turned_off {
            Some(true) => "enlist turned auto-merge off.",
            Some(false) => {
                "enlist could not turn auto-merge off (GitHub refused): turn it off on this pull \
                 request now."
            }
            None => "Auto-merge was not on; enlist will not turn it on.",
        }
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::{Cpu, Disk, Facts, Memory, Nic, System};
    use crate::identity::{Candidates, Identity};

    /// A hostname and DMI strings as a hostile machine (or firmware) would set them.
    pub(crate) const HOSTILE_HOST: &str = "n1[click](https://evil.example)@acme/admins<img src=x>";
    const HOSTILE_VENDOR: &str = "Dell\r# HEADING @acme/security <!-- <details> | `x`";

    fn doc(hostname: &str, vendor: &str, memory_gib: u64) -> NodeDocument {
        let facts = Facts {
            hostname: hostname.into(),
            identity: Identity::choose(&Candidates {
                product_uuid: Some("4c4c4544-0035-4810-8056-b7c04f4e3332".into()),
                ..Candidates::default()
            })
            .unwrap(),
            system: System {
                vendor: Some(vendor.into()),
                model: Some("PowerEdge R640\n| injected | row |".into()),
                serial: Some("5H8VXC3".into()),
                board_vendor: None,
                board_model: None,
            },
            cpu: Cpu {
                model: "Xeon`` @everyone".into(),
                arch: "x86_64".into(),
                sockets: 2,
                cores: 40,
                threads: 80,
            },
            memory: Memory {
                total_bytes: memory_gib << 30,
            },
            disks: vec![Disk {
                model: Some("<script>alert(1)</script>".into()),
                serial: Some("S1".into()),
                size_bytes: 960_000_000_000,
                rotational: false,
                transport: "sata".into(),
            }],
            network: vec![Nic {
                name: "eno1".into(),
                mac: "b0:26:28:00:00:01".into(),
                driver: Some("![img](https://evil.example/x.png)".into()),
            }],
            gpus: vec![],
            ssh_host_keys: vec![],
        };
        NodeDocument::new(&facts, facts.identity.node_id(6), Some("alice".into()))
    }

    #[test]
    fn trailer_round_trips() {
        let text = "body\n<!-- enlist node_id=node-abc facts_hash=sha256:ff boot_id=b-1 -->\n";
        assert_eq!(trailer_facts_hash(text).as_deref(), Some("sha256:ff"));
        assert!(mentions_boot(text, "b-1"));
        assert!(!mentions_boot(text, "b-"));
        assert_eq!(trailer_facts_hash("no trailer"), None);
        // A value shown above the trailer cannot pretend to be this boot's.
        let spoof = "`boot_id=b-1 ` <!-- enlist boot_id=b-1 -->\n<!-- enlist node_id=n facts_hash=h boot_id=b-0 -->";
        assert!(!mentions_boot(spoof, "b-1"));
    }

    #[test]
    fn title_is_plain_one_line_text() {
        let d = doc(HOSTILE_HOST, HOSTILE_VENDOR, 384);
        assert_eq!(title(&d, false), format!("Register {}", d.node_id));
        assert_eq!(title(&d, true), format!("Update {} facts", d.node_id));
        let d = doc("r640-a1", "Dell Inc.", 384);
        assert_eq!(
            title(&d, false),
            format!("Register {} (r640-a1)", d.node_id)
        );
        assert!(!commit_message(&doc(HOSTILE_HOST, "x", 1), false).contains('@'));
    }

    #[test]
    fn hostile_values_keep_the_facts_table_whole() {
        let d = doc(HOSTILE_HOST, HOSTILE_VENDOR, 384);
        let text = body(
            &d,
            &Observations::default(),
            "cluster-nodes/x/node.yaml",
            "b-1",
            None,
        );
        let rows: Vec<&str> = text.lines().filter(|l| l.starts_with('|')).collect();
        // Header, separator and the nine facts: no value ended a row or added one.
        assert_eq!(rows.len(), 11, "{text}");
        for row in &rows[2..] {
            assert!(row.ends_with(" |"), "{row}");
        }
        assert!(!text.contains("\n# HEADING"), "{text}");
        assert!(!text.contains('\r'));
        assert_eq!(
            text.matches("<!--").count(),
            1 + 1,
            "one inside a code span, the trailer"
        );
        assert!(text.ends_with(&format!("{}\n", trailer(&d, "b-1"))));
    }

    /// Issue 27: an update whose host keys changed says so before anything else, old → new
    /// fingerprint per key type; unchanged keys add nothing.
    #[test]
    fn a_host_key_change_comes_first_with_old_and_new_fingerprints() {
        use crate::hostkey::HostKey;
        // ssh-to-age's example keys (github.com/Mic92/ssh-to-age, test-assets/keyscan.txt).
        let eve = HostKey::parse(
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIF/KPU3Z5LSjbBI6hrq25wCcseq2UpqSzUFZRr+ux6LM",
        )
        .unwrap();
        let eva = HostKey::parse(
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIL2vjdqpppuCn7yPdF2muINriAG7zBWrsELKpPWkhn5",
        )
        .unwrap();
        let mut old = doc("r640-a1", "Dell Inc.", 384);
        old.ssh_host_keys = vec![eve.clone()];
        let mut new = old.clone();
        new.ssh_host_keys = vec![eva.clone()];
        let b = body(
            &new,
            &Observations::default(),
            "p.yaml",
            "b",
            Some(Previous::Document(&old)),
        );
        assert!(
            b.starts_with(
                "**Host key changed: secrets must be re-encrypted for this node**; old → new \
                 fingerprint:\n\n"
            ),
            "{b}"
        );
        let line = format!(
            "- `ssh-ed25519`: `{}` → `{}`\n",
            eve.fingerprint(),
            eva.fingerprint()
        );
        assert!(b.contains(&line), "{b}");
        assert!(b.contains("never turns on auto-merge"), "{b}");
        // The facts table shows the new key's fingerprint.
        assert!(
            b.contains(&format!(
                "| ssh host keys | `ssh-ed25519` `{}` |",
                eva.fingerprint()
            )),
            "{b}"
        );
        // Then the facts as for any update.
        assert!(b.find("**This machine's facts changed**") > b.find("Host key changed"));
        // Keys that appear for the first time: none → new.
        let mut bare = old.clone();
        bare.ssh_host_keys.clear();
        let first = host_key_notice(&bare, &new).unwrap();
        assert!(
            first.contains(&format!("- `ssh-ed25519`: none → `{}`", eva.fingerprint())),
            "{first}"
        );
        // A comment on an open PR says it first too; unchanged keys say nothing.
        let c = comment(&new, "b", Some(Previous::Document(&old)));
        assert!(c.starts_with("**Host key changed"), "{c}");
        assert_eq!(host_key_notice(&old, &old), None);
        let mut memory = old.clone();
        memory.memory.total_bytes /= 2;
        let b = body(
            &memory,
            &Observations::default(),
            "p.yaml",
            "b",
            Some(Previous::Document(&old)),
        );
        assert!(b.starts_with("**This machine's facts changed**"), "{b}");
    }

    #[test]
    fn changes_list_each_fact_old_to_new() {
        let old = doc("r640-a1", "Dell Inc.", 384);
        let mut new = doc("r640-a1", "Dell Inc.", 256);
        new.disks.clear();
        let list = changes(&old, &new);
        assert_eq!(
            list,
            vec![
                Change {
                    fact: "disks".into(),
                    old: Some(serde_json::to_value(&old.disks[0]).unwrap().to_string()),
                    new: None,
                },
                Change {
                    fact: "memory.totalBytes".into(),
                    old: Some((384u64 << 30).to_string()),
                    new: Some((256u64 << 30).to_string()),
                },
            ]
        );
        let text = describe_changes(Previous::Document(&old), &new);
        assert!(
            text.contains("\n- `memory.totalBytes`: `412316860416` → `274877906944`\n"),
            "{text}"
        );
        let text = describe_changes(Previous::Hash("sha256:00"), &new);
        assert!(text.contains("`sha256:00` →"), "{text}");
        // The update body starts with what changed.
        let b = body(
            &new,
            &Observations::default(),
            "p.yaml",
            "b",
            Some(Previous::Document(&old)),
        );
        assert!(b.starts_with("**This machine's facts changed**"), "{b}");
        assert!(b.contains("`memory.totalBytes`"), "{b}");
        let c = comment(&new, "b", Some(Previous::Document(&old)));
        assert!(
            c.contains("`memory.totalBytes`") && !c.contains("unchanged"),
            "{c}"
        );
    }
}
