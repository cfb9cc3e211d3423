//! Which node a changed path belongs to: a path matches `path_template` when every literal part
//! is there and each placeholder (`{operator}`, `{node_id}`, `{hostname}`) stands for a non-empty
//! part of one path segment (SPEC §5c). Pure.
//!
//! A template may put two placeholders in one segment (`{hostname}-{node_id}.yaml`); then a path can
//! match in several ways, and every way is returned: the caller keeps the one whose node id is the
//! document's.

use crate::config::PathTemplate;

/// The longest path matched, bytes: GitHub's own limit on a path.
pub const MAX_PATH_BYTES: usize = 4096;

/// The longest path segment matched, bytes: what file systems allow for a name. With the
/// placeholders' own bounds below it keeps matching a segment that holds several placeholders
/// to a few thousand steps.
pub const MAX_SEGMENT_BYTES: usize = 255;

/// The values the placeholders took in one way of matching.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Binding {
    /// `{node_id}`.
    pub node_id: String,
    /// `{operator}`, when the template has it.
    pub operator: Option<String>,
    /// `{hostname}`, when the template has it.
    pub hostname: Option<String>,
}

/// A placeholder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Slot {
    Operator,
    NodeId,
    Hostname,
}

impl Slot {
    /// The longest value it takes (a node id 63, an operator 63, a host name 253 characters) and
    /// the characters it is made of: a value no node could have is no match.
    fn admits(self, value: &str) -> bool {
        let (max, ok): (usize, fn(char) -> bool) = match self {
            Slot::NodeId => (63, |c| {
                c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'
            }),
            Slot::Operator => (63, |c| {
                c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')
            }),
            Slot::Hostname => (253, |c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-')),
        };
        value.len() <= max && value.chars().all(ok)
    }
}

/// One part of a template segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Part<'a> {
    Literal(&'a str),
    Placeholder(Slot),
}

/// Every way `path` matches `template` (empty: it does not).
pub fn bindings(template: &PathTemplate, path: &str) -> Vec<Binding> {
    if path.len() > MAX_PATH_BYTES {
        return Vec::new();
    }
    let template_segments: Vec<&str> = template.as_str().split('/').collect();
    let path_segments: Vec<&str> = path.split('/').collect();
    if template_segments.len() != path_segments.len()
        || path_segments.iter().any(|s| s.len() > MAX_SEGMENT_BYTES)
    {
        return Vec::new();
    }
    let mut found = vec![Binding::default()];
    for (pattern, segment) in template_segments.iter().zip(&path_segments) {
        let parts = parse(pattern);
        let mut next = Vec::new();
        for binding in &found {
            matches(&parts, segment, binding, &mut next);
        }
        found = next;
        if found.is_empty() {
            break;
        }
    }
    found.retain(|b| !b.node_id.is_empty());
    found.dedup();
    found
}

fn parse(pattern: &str) -> Vec<Part<'_>> {
    let mut parts = Vec::new();
    let mut rest = pattern;
    while !rest.is_empty() {
        let next = [
            ("{operator}", Slot::Operator),
            ("{node_id}", Slot::NodeId),
            ("{hostname}", Slot::Hostname),
        ]
        .iter()
        .filter_map(|(name, slot)| rest.find(name).map(|at| (at, *name, *slot)))
        .min_by_key(|(at, _, _)| *at);
        match next {
            Some((at, name, slot)) => {
                if at > 0 {
                    parts.push(Part::Literal(&rest[..at]));
                }
                parts.push(Part::Placeholder(slot));
                rest = &rest[at + name.len()..];
            }
            None => {
                parts.push(Part::Literal(rest));
                rest = "";
            }
        }
    }
    parts
}

/// Every way `parts` match all of `text`, each extending `binding`, appended to `out`. A
/// placeholder takes a non-empty prefix; one that already has a value must take the same again.
fn matches(parts: &[Part<'_>], text: &str, binding: &Binding, out: &mut Vec<Binding>) {
    let Some((first, rest)) = parts.split_first() else {
        if text.is_empty() {
            out.push(binding.clone());
        }
        return;
    };
    let slot = match first {
        Part::Literal(literal) => {
            if let Some(tail) = text.strip_prefix(literal) {
                matches(rest, tail, binding, out);
            }
            return;
        }
        Part::Placeholder(slot) => *slot,
    };
    if text.is_empty() {
        return;
    }
    for (end, _) in text.char_indices().skip(1).chain([(text.len(), ' ')]) {
        let value = &text[..end];
        if !slot.admits(value) {
            // Every longer value has this one's bad character or length too.
            break;
        }
        if value == "." || value == ".." {
            // Never a value: as a path segment it names another directory (git refuses such
            // trees; a path holding one is no registration either way).
            continue;
        }
        let bound_before = match slot {
            Slot::NodeId => Some(binding.node_id.as_str()).filter(|v| !v.is_empty()),
            Slot::Operator => binding.operator.as_deref(),
            Slot::Hostname => binding.hostname.as_deref(),
        };
        if bound_before.is_some_and(|before| before != value) {
            continue;
        }
        let mut bound = binding.clone();
        match slot {
            Slot::NodeId => value.clone_into(&mut bound.node_id),
            Slot::Operator => bound.operator = Some(value.to_owned()),
            Slot::Hostname => bound.hostname = Some(value.to_owned()),
        }
        matches(rest, &text[end..], &bound, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template(raw: &str) -> PathTemplate {
        PathTemplate::parse(raw, true).unwrap()
    }

    fn node(id: &str) -> Binding {
        Binding {
            node_id: id.into(),
            ..Binding::default()
        }
    }

    #[test]
    fn the_default_template_names_the_node_by_its_directory() {
        let t = template("cluster-nodes/{node_id}/node.yaml");
        assert_eq!(
            bindings(&t, "cluster-nodes/node-abc123/node.yaml"),
            [node("node-abc123")]
        );
        for other in [
            "cluster-nodes/node-abc123/node.yml",
            "cluster-nodes/node.yaml",
            "cluster-nodes//node.yaml",
            "cluster-nodes/a/b/node.yaml",
            "x/cluster-nodes/node-abc/node.yaml",
            "flake.nix",
            ".github/workflows/enlist-gate.yml",
            "",
        ] {
            assert_eq!(bindings(&t, other), [], "{other}");
        }
    }

    #[test]
    fn operator_and_hostname_are_bound_too() {
        let t = template("maintainers/{operator}/cluster-nodes/{node_id}/{hostname}.yaml");
        assert_eq!(
            bindings(&t, "maintainers/alice/cluster-nodes/node-1/r640-a1.yaml"),
            [Binding {
                node_id: "node-1".into(),
                operator: Some("alice".into()),
                hostname: Some("r640-a1".into()),
            }]
        );
    }

    #[test]
    fn two_placeholders_in_one_segment_give_every_split() {
        let t = template("nodes/{hostname}-{node_id}.yaml");
        let found = bindings(&t, "nodes/r640-a1-node-abc.yaml");
        let ids: Vec<&str> = found.iter().map(|b| b.node_id.as_str()).collect();
        assert_eq!(ids, ["a1-node-abc", "node-abc", "abc"]);
    }

    #[test]
    fn a_repeated_placeholder_must_repeat_its_value() {
        let t = template("{node_id}/{node_id}.yaml");
        assert_eq!(bindings(&t, "node-a/node-a.yaml"), [node("node-a")]);
        assert_eq!(bindings(&t, "node-a/node-b.yaml"), []);
    }

    #[test]
    fn adjacent_placeholders_in_a_long_segment_stay_cheap() {
        let t = template("{operator}{hostname}{node_id}/node.yaml");
        let path = format!("{}/node.yaml", "a".repeat(MAX_SEGMENT_BYTES));
        let found = bindings(&t, &path);
        // Each placeholder's bound prunes the splits: the node id (what is left) at most 63
        // characters, the operator at most 63, so the host name is at least 129.
        assert!(!found.is_empty());
        assert!(found.iter().all(|b| b.node_id.len() <= 63));
        assert!(
            found
                .iter()
                .all(|b| b.hostname.as_ref().is_some_and(|h| h.len() >= 129))
        );
    }

    /// What GitHub lists is a path in a git tree, compared as it is: no normalising. Anything
    /// that only looks like a registration path is no match.
    #[test]
    fn look_alike_paths_are_no_match() {
        let t = template("cluster-nodes/{node_id}/node.yaml");
        for other in [
            "cluster-nodes/node-abc123/node.yaml/",
            "/cluster-nodes/node-abc123/node.yaml",
            "./cluster-nodes/node-abc123/node.yaml",
            "cluster-nodes/./node.yaml",
            "cluster-nodes/../node.yaml",
            "cluster-nodes/node-abc123/../node.yaml",
            "cluster-nodes/node-abc123//node.yaml",
            "Cluster-Nodes/node-abc123/node.yaml",
            "cluster-nodes/NODE-ABC123/node.yaml",
            "cluster-nodes/node-abc123/Node.yaml",
            // U+2010 HYPHEN, U+FF4E FULLWIDTH n, a combining mark, a zero-width space
            "cluster-nodes/node\u{2010}abc123/node.yaml",
            "cluster-nodes/\u{ff4e}ode-abc123/node.yaml",
            "cluster-nodes/node-abc123\u{0301}/node.yaml",
            "cluster-nodes/node-abc123\u{200b}/node.yaml",
            "cluster-nodes\\node-abc123\\node.yaml",
        ] {
            assert_eq!(bindings(&t, other), [], "{other:?}");
        }
        // Placeholders that admit dots still take no `.` or `..` segment.
        let t = template("maintainers/{operator}/{node_id}/{hostname}/node.yaml");
        for other in [
            "maintainers/../node-abc/r640/node.yaml",
            "maintainers/./node-abc/r640/node.yaml",
            "maintainers/alice/node-abc/../node.yaml",
            "maintainers/alice/node-abc/./node.yaml",
        ] {
            assert_eq!(bindings(&t, other), [], "{other:?}");
        }
    }

    #[test]
    fn an_overlong_path_is_no_match() {
        let t = template("cluster-nodes/{node_id}/node.yaml");
        let long = format!("cluster-nodes/{}/node.yaml", "a".repeat(MAX_PATH_BYTES));
        assert_eq!(bindings(&t, &long), []);
    }
}
