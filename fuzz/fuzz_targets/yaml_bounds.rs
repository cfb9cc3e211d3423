//! The bounded-YAML gate (`enlist::input::yaml`) in front of every YAML input: never a panic, never
//! slow (run with `-timeout=2` and a large `-max_len`, see the README), and what it lets through
//! nests no deeper than `MAX_DEPTH` — the byte scan's bound must never undercount.
#![no_main]

use enlist::input::yaml::{self, MAX_DEPTH};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fn depth(value: &Value) -> usize {
    match value {
        Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        Value::Object(map) => 1 + map.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(value) = yaml::from_str::<Value>(text, enlist::input::MAX_NODE_YAML_BYTES) {
        assert!(depth(&value) <= MAX_DEPTH, "{} levels got through", depth(&value));
    }
});
