//! The bounded-YAML gate (`enlist::input::yaml`) in front of every YAML input: never a panic, never
//! slow (run with `-timeout=2` and a large `-max_len`, see the README), and what it lets through
//! nests no deeper than `MAX_DEPTH` — the byte scan's bound must never undercount — and builds no
//! more nodes than its budget, aliases expanded (issue 25: `a: &a [x ×10,000]`, `b: &b [*a ×50]`,
//! `c: [*b ×49]` built 25 million); as a node.yaml, nothing with an anchor or alias gets through.
#![no_main]

use enlist::input::yaml::{self, Budget, MAX_DEPTH, MAX_NODE_YAML_NODES, MAX_NODES};
use libfuzzer_sys::fuzz_target;
use serde_yaml::Value;

fn depth(value: &Value) -> usize {
    match value {
        Value::Sequence(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        Value::Mapping(map) => {
            1 + map
                .iter()
                .map(|(k, v)| depth(k).max(depth(v)))
                .max()
                .unwrap_or(0)
        }
        Value::Tagged(tagged) => depth(&tagged.value),
        _ => 0,
    }
}

/// Nodes as built: serde_yaml's value holds every alias expanded.
fn nodes(value: &Value) -> usize {
    match value {
        Value::Sequence(items) => 1 + items.iter().map(nodes).sum::<usize>(),
        Value::Mapping(map) => 1 + map.iter().map(|(k, v)| nodes(k) + nodes(v)).sum::<usize>(),
        Value::Tagged(tagged) => nodes(&tagged.value),
        _ => 1,
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(value) = yaml::from_str::<Value>(text, enlist::input::MAX_NODE_YAML_BYTES) {
        assert!(depth(&value) <= MAX_DEPTH, "{} levels got through", depth(&value));
        assert!(nodes(&value) <= MAX_NODES, "{} nodes got through", nodes(&value));
    }
    if let Ok(value) = yaml::from_str_within::<Value>(text, Budget::NODE_YAML) {
        assert!(nodes(&value) <= MAX_NODE_YAML_NODES, "{} nodes got through", nodes(&value));
    }
});
