//! What reviewers see: PR title and body, comments, commit messages, and the machine-readable
//! trailer (`<!-- enlist node_id=… facts_hash=… boot_id=… -->`) that later runs read back.

use crate::document::NodeDocument;
use crate::facts::Observations;

const GIB: f64 = 1024.0 * 1024.0 * 1024.0;
const GB: f64 = 1_000_000_000.0;

/// PR title.
pub fn title(doc: &NodeDocument, update: bool) -> String {
    if update {
        format!("Update {} ({}) facts", doc.node_id, doc.hostname)
    } else {
        format!("Register {} ({})", doc.node_id, doc.hostname)
    }
}

/// Commit message for node.yaml.
pub fn commit_message(doc: &NodeDocument, update: bool) -> String {
    format!("{}\n\nfactsHash: {}\n", title(doc, update), doc.facts_hash)
}

/// The trailer later runs parse.
pub fn trailer(doc: &NodeDocument, boot_id: &str) -> String {
    format!(
        "<!-- enlist node_id={} facts_hash={} boot_id={} -->",
        doc.node_id, doc.facts_hash, boot_id
    )
}

/// `facts_hash` from a trailer in `text`.
pub fn trailer_facts_hash(text: &str) -> Option<String> {
    let start = text.rfind("<!-- enlist ")?;
    let rest = &text[start..];
    let end = rest.find("-->")?;
    rest[..end]
        .split_whitespace()
        .find_map(|kv| kv.strip_prefix("facts_hash="))
        .map(str::to_owned)
}

/// Whether `text` carries this boot's id (a body or comment written during this boot).
pub fn mentions_boot(text: &str, boot_id: &str) -> bool {
    text.contains(&format!("boot_id={boot_id} "))
}

/// PR body: a facts table for the reviewer, the volatile observations, the trailer.
pub fn body(doc: &NodeDocument, observations: &Observations, path: &str, boot_id: &str) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "Node `{}` (`{}`) registers itself{} as `{path}`.\n\n",
        doc.node_id,
        doc.hostname,
        doc.operator
            .as_deref()
            .map(|o| format!(" for operator `{o}`"))
            .unwrap_or_default()
    ));
    out.push_str("| fact | value |\n|---|---|\n");
    let system = [&doc.system.vendor, &doc.system.model]
        .iter()
        .filter_map(|v| v.as_deref())
        .collect::<Vec<_>>()
        .join(" ");
    out.push_str(&format!(
        "| system | {} |\n",
        cell(&format!(
            "{}{}",
            if system.is_empty() {
                "unknown"
            } else {
                &system
            },
            doc.system
                .serial
                .as_deref()
                .map(|s| format!(" (serial {s})"))
                .unwrap_or_default()
        ))
    ));
    out.push_str(&format!(
        "| identity | {} `{}` |\n",
        doc.identity.source, &doc.identity.fingerprint
    ));
    out.push_str(&format!(
        "| cpu | {} × {} — {} cores / {} threads ({}) |\n",
        doc.cpu.sockets,
        cell(&doc.cpu.model),
        doc.cpu.cores,
        doc.cpu.threads,
        doc.cpu.arch
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
                d.transport,
                d.model.as_deref().unwrap_or("disk"),
                if d.rotational { " (HDD)" } else { "" }
            )
        })
        .collect();
    out.push_str(&format!(
        "| disks | {} |\n",
        cell(&or_none(&disks.join("<br>")))
    ));
    let nics: Vec<String> = doc
        .network
        .iter()
        .map(|n| {
            format!(
                "{} {} ({})",
                n.name,
                n.mac,
                n.driver.as_deref().unwrap_or("?")
            )
        })
        .collect();
    out.push_str(&format!(
        "| network | {} |\n",
        cell(&or_none(&nics.join("<br>")))
    ));
    let gpus: Vec<String> = doc
        .gpus
        .iter()
        .map(|g| {
            format!(
                "{} {}:{}",
                g.vendor.as_deref().unwrap_or("PCI"),
                g.vendor_id,
                g.device_id
            )
        })
        .collect();
    out.push_str(&format!(
        "| gpus | {} |\n",
        cell(&or_none(&gpus.join("<br>")))
    ));
    out.push_str(&format!("| factsHash | `{}` |\n\n", doc.facts_hash));
    out.push_str("Observed at registration (not part of node.yaml; may change):\n\n");
    out.push_str(&format!(
        "- OS: {}\n- kernel: {}\n- uptime: {}\n- addresses: {}\n\n",
        observations.os.as_deref().unwrap_or("unknown"),
        observations.kernel.as_deref().unwrap_or("unknown"),
        observations
            .uptime_secs
            .map(|s| format!("{s} s"))
            .unwrap_or_else(|| "unknown".into()),
        or_none(&observations.addresses.join(", "))
    ));
    out.push_str(&format!(
        "Opened by enlist {} on the node's first boot. Merging registers the node; closing without \
         merge rejects it (the node will not ask again for the same facts).\n\n",
        env!("CARGO_PKG_VERSION")
    ));
    out.push_str(&trailer(doc, boot_id));
    out.push('\n');
    out
}

/// Comment for an open PR when the node comes up again or its facts changed.
pub fn comment(doc: &NodeDocument, boot_id: &str, facts_changed: bool) -> String {
    let text = if facts_changed {
        format!(
            "enlist: the facts of `{}` changed; the branch now holds the new node.yaml (`{}`).",
            doc.node_id, doc.facts_hash
        )
    } else {
        format!(
            "enlist: `{}` (`{}`) came up again (reinstalled, or its marker was lost) while this \
             pull request is open; its facts are unchanged.",
            doc.node_id, doc.hostname
        )
    };
    format!("{text}\n\n{}\n", trailer(doc, boot_id))
}

fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

fn or_none(text: &str) -> String {
    if text.is_empty() {
        "none".into()
    } else {
        text.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailer_round_trips() {
        let text = "body\n<!-- enlist node_id=node-abc facts_hash=sha256:ff boot_id=b-1 -->\n";
        assert_eq!(trailer_facts_hash(text).as_deref(), Some("sha256:ff"));
        assert!(mentions_boot(text, "b-1"));
        assert!(!mentions_boot(text, "b-"));
        assert_eq!(trailer_facts_hash("no trailer"), None);
    }
}
