//! Renders JSON values as a Nix expression (an attribute set), for `enlist facts --format nix`
//! and `enlist export --format nix`: the one place machine-derived text becomes a Nix string.

use serde_json::Value;

/// Appends `value` as Nix at indentation `depth`.
pub fn write_value(value: &Value, depth: usize, out: &mut String) {
    let indent = "  ".repeat(depth + 1);
    let close = "  ".repeat(depth);
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => out.push_str(&string(s)),
        Value::Array(items) if items.is_empty() => out.push_str("[ ]"),
        Value::Array(items) => {
            out.push_str("[\n");
            for item in items {
                out.push_str(&indent);
                // Function applications and negative numbers need parentheses in a list; none of
                // our values are applications, but a negative number would be.
                let needs_parens =
                    matches!(item, Value::Number(n) if n.as_f64().is_some_and(|f| f < 0.0));
                if needs_parens {
                    out.push('(');
                }
                write_value(item, depth + 1, out);
                if needs_parens {
                    out.push(')');
                }
                out.push('\n');
            }
            out.push_str(&close);
            out.push(']');
        }
        Value::Object(map) if map.is_empty() => out.push_str("{ }"),
        Value::Object(map) => {
            out.push_str("{\n");
            for (key, item) in map {
                out.push_str(&indent);
                out.push_str(&attr_name(key));
                out.push_str(" = ");
                write_value(item, depth + 1, out);
                out.push_str(";\n");
            }
            out.push_str(&close);
            out.push('}');
        }
    }
}

/// A Nix string literal: `"`, `\` and `${` escaped, control characters as escapes.
fn string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '$' if chars.peek() == Some(&'{') => out.push_str("\\$"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Bare identifiers where Nix allows them, quoted otherwise.
pub(crate) fn attr_name(key: &str) -> String {
    let mut chars = key.chars();
    let bare = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '\''))
        && !matches!(
            key,
            "if" | "then" | "else" | "assert" | "with" | "let" | "in" | "rec" | "inherit" | "or"
        );
    if bare { key.to_owned() } else { string(key) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn renders_nested_attrsets_with_escapes() {
        let mut out = String::new();
        write_value(
            &json!({"a": 1, "b c": "x\"${y}\\", "list": [true, null], "empty": []}),
            0,
            &mut out,
        );
        assert_eq!(
            out,
            "{\n  a = 1;\n  \"b c\" = \"x\\\"\\${y}\\\\\";\n  empty = [ ];\n  list = [\n    true\n    null\n  ];\n}"
        );
    }
}
