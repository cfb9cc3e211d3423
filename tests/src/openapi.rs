//! GitHub's official REST description (the subset enlist uses, vendored in `tests/github-api/`
//! by `scripts/vendor-github-api`) as the contract of the fake: every request the client sends
//! and every response the fake gives is checked against it, so the fake cannot drift from the
//! real API.
//!
//! A small validator for the OpenAPI 3.0 schema keywords that subset uses: `$ref`, `type`,
//! `nullable`, `properties`, `required`, `additionalProperties`, `items`, `enum`, `oneOf` (with
//! `discriminator`), `anyOf`, `allOf`, `minItems`. `format` is not checked.

use std::path::PathBuf;
use std::sync::OnceLock;

use serde_json::Value;

/// Location of the vendored description, inside this crate.
pub fn spec_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("github-api/api.github.com.subset.json")
}

/// The loaded description.
pub struct Spec {
    doc: Value,
    operations: Vec<Operation>,
}

struct Operation {
    method: String,
    template: Vec<String>,
    op: Value,
}

/// Statuses any GitHub operation may answer even when its description does not list them
/// (authentication, rate limits, outages). Their bodies are checked against `basic-error`.
const GLOBAL_STATUSES: &[u16] = &[401, 403, 429, 500, 502, 503, 504];

impl Spec {
    /// The process-wide copy.
    pub fn get() -> &'static Spec {
        static SPEC: OnceLock<Spec> = OnceLock::new();
        SPEC.get_or_init(|| {
            let path = spec_path();
            let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
                panic!(
                    "{}: {e}; it is part of the repository (re-create it with scripts/vendor-github-api)",
                    path.display()
                )
            });
            let doc: Value = serde_json::from_str(&text).expect("valid OpenAPI JSON");
            let mut operations = Vec::new();
            if let Some(paths) = doc["paths"].as_object() {
                for (path, ops) in paths {
                    for (method, op) in ops.as_object().into_iter().flatten() {
                        operations.push(Operation {
                            method: method.to_uppercase(),
                            template: path
                                .trim_start_matches('/')
                                .split('/')
                                .map(str::to_owned)
                                .collect(),
                            op: op.clone(),
                        });
                    }
                }
            }
            Spec { doc, operations }
        })
    }

    /// The smallest instance of a component schema (`#/components/schemas/<name>`) that the
    /// description accepts: every required property, each with the simplest value its schema
    /// allows (null where nullable, the first enum value, the first `oneOf` alternative, a
    /// plausible string for a `format`). The fake builds its answers from these and sets the
    /// fields that matter; GitHub's prose examples are not vendored.
    pub fn skeleton(&self, name: &str) -> Value {
        let schema = serde_json::json!({ "$ref": format!("#/components/schemas/{name}") });
        assert!(
            !self.resolve(&schema).is_null(),
            "schema {name} is not in the vendored description (add its operation to scripts/vendor-github-api.mjs)"
        );
        self.instance(&schema, 0)
    }

    fn instance(&self, schema: &Value, depth: usize) -> Value {
        /// Deeper than any schema in the subset; stops a (hypothetical) required cycle.
        const MAX_DEPTH: usize = 24;
        let schema = self.resolve(schema);
        if depth > MAX_DEPTH || schema["nullable"] == true {
            return Value::Null;
        }
        if let Some(first) = schema["enum"].as_array().and_then(|e| e.first()) {
            return first.clone();
        }
        if let Some(parts) = schema["allOf"].as_array() {
            let mut merged = serde_json::Map::new();
            for part in parts {
                if let Value::Object(fields) = self.instance(part, depth + 1) {
                    merged.extend(fields);
                }
            }
            return Value::Object(merged);
        }
        let alternatives = schema["oneOf"].as_array().or(schema["anyOf"].as_array());
        if let Some(first) = alternatives.and_then(|a| a.first()) {
            return self.instance(first, depth + 1);
        }
        let ty = match schema["type"].as_str() {
            Some(ty) => ty,
            None if schema.get("properties").is_some() => "object",
            None => return Value::Null,
        };
        match ty {
            "object" => {
                let mut fields = serde_json::Map::new();
                for name in schema["required"].as_array().into_iter().flatten() {
                    if let Some(name) = name.as_str() {
                        let inner = &schema["properties"][name];
                        fields.insert(name.to_owned(), self.instance(inner, depth + 1));
                    }
                }
                Value::Object(fields)
            }
            "array" => {
                let count = schema["minItems"].as_u64().unwrap_or(0);
                let items = (0..count).map(|_| self.instance(&schema["items"], depth + 1));
                Value::Array(items.collect())
            }
            "string" => Value::String(
                match schema["format"].as_str() {
                    Some("date-time" | "timestamp") => "2026-11-21T12:00:00Z",
                    Some("uri" | "uri-template") => "https://api.github.com/",
                    Some("repo.nwo") => "acme/fleet",
                    _ => "x",
                }
                .to_owned(),
            ),
            "integer" | "number" => Value::from(1),
            "boolean" => Value::Bool(false),
            _ => Value::Null,
        }
    }

    fn find(&self, method: &str, path: &str) -> Option<&Operation> {
        let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        self.operations
            .iter()
            .filter(|o| o.method == method)
            .find(|o| {
                let t = &o.template;
                // A trailing {path} or {ref} may contain slashes; other parameters may not.
                let greedy = t.last().is_some_and(|s| s == "{path}" || s == "{ref}");
                let len_ok = if greedy {
                    parts.len() >= t.len()
                } else {
                    parts.len() == t.len()
                };
                len_ok
                    && t.iter()
                        .zip(&parts)
                        .all(|(seg, part)| seg.starts_with('{') || seg == part)
            })
    }

    /// Problems with a request: undocumented endpoint, undocumented query parameter, body not
    /// matching the request schema.
    pub fn check_request(
        &self,
        method: &str,
        path: &str,
        query: &[(String, String)],
        body: Option<&Value>,
    ) -> Vec<String> {
        let mut errors = Vec::new();
        let Some(op) = self.find(method, path) else {
            return vec![format!(
                "request {method} {path}: not an operation of the GitHub REST description"
            )];
        };
        let id = op.op["operationId"].as_str().unwrap_or("?").to_owned();
        let params: Vec<String> = op.op["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| self.resolve(p))
            .filter(|p| p["in"] == "query")
            .filter_map(|p| p["name"].as_str().map(str::to_owned))
            .collect();
        for (name, _) in query {
            if !params.contains(name) {
                errors.push(format!(
                    "request {id}: query parameter {name:?} is not documented"
                ));
            }
        }
        let schema = &op.op["requestBody"]["content"]["application/json"]["schema"];
        match (body, schema.is_null()) {
            (Some(body), false) => {
                self.validate(schema, body, &format!("request {id} body"), &mut errors)
            }
            (None, false) if op.op["requestBody"]["required"] == true => {
                errors.push(format!("request {id}: body required"));
            }
            _ => {}
        }
        errors
    }

    /// Problems with a response: a status the operation does not document, or a body not
    /// matching its schema.
    pub fn check_response(
        &self,
        method: &str,
        path: &str,
        status: u16,
        body: &Value,
    ) -> Vec<String> {
        let Some(op) = self.find(method, path) else {
            return Vec::new(); // already reported for the request
        };
        let id = op.op["operationId"].as_str().unwrap_or("?");
        let at = format!("response {id} {status}");
        let mut errors = Vec::new();
        let response = &op.op["responses"][status.to_string()];
        if response.is_null() {
            if GLOBAL_STATUSES.contains(&status) {
                if !body.is_null() {
                    let schema = serde_json::json!({"$ref": "#/components/schemas/basic-error"});
                    self.validate(&schema, body, &at, &mut errors);
                }
            } else {
                errors.push(format!("{at}: status {status} is not documented for {id}"));
            }
            return errors;
        }
        let response = self.resolve(response);
        let content = &response["content"]["application/json"]["schema"];
        if !content.is_null() {
            self.validate(content, body, &at, &mut errors);
        }
        errors
    }

    fn resolve<'a>(&'a self, mut value: &'a Value) -> &'a Value {
        while let Some(reference) = value.get("$ref").and_then(Value::as_str) {
            let mut target = &self.doc;
            for part in reference.trim_start_matches("#/").split('/') {
                target = &target[part];
            }
            value = target;
        }
        value
    }

    /// Validates `value` against `schema`, appending problems (with a JSON path) to `errors`.
    pub fn validate(&self, schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
        let schema = self.resolve(schema);
        if value.is_null() {
            if schema["nullable"] == true
                || schema.get("type").is_none()
                    && schema.get("oneOf").is_none()
                    && schema.get("allOf").is_none()
                    && schema.get("anyOf").is_none()
            {
                return;
            }
            if schema["type"] == "null" {
                return;
            }
            errors.push(format!("{at}: null where {} is required", describe(schema)));
            return;
        }
        if let Some(all) = schema["allOf"].as_array() {
            for s in all {
                self.validate(s, value, at, errors);
            }
        }
        if let Some(any) = schema["anyOf"].as_array()
            && !any.iter().any(|s| self.matches(s, value))
        {
            errors.push(format!("{at}: matches none of anyOf"));
        }
        if let Some(one) = schema["oneOf"].as_array() {
            if let Some(disc) = schema["discriminator"]["propertyName"].as_str() {
                let tag = value[disc].as_str().unwrap_or("");
                match schema["discriminator"]["mapping"][tag].as_str() {
                    Some(target) => {
                        let s = serde_json::json!({ "$ref": target });
                        self.validate(&s, value, at, errors);
                    }
                    None => {
                        errors.push(format!("{at}: discriminator {disc}={tag:?} has no mapping"))
                    }
                }
            } else if !one.iter().any(|s| self.matches(s, value)) {
                errors.push(format!("{at}: matches none of oneOf"));
            }
        }
        if let Some(options) = schema["enum"].as_array()
            && !options.contains(value)
        {
            errors.push(format!("{at}: {value} not in enum {options:?}"));
        }
        let ty = schema["type"].as_str().unwrap_or("");
        let type_ok = match ty {
            "" => true,
            "object" => value.is_object(),
            "array" => value.is_array(),
            "string" => value.is_string(),
            "integer" => value.is_i64() || value.is_u64(),
            "number" => value.is_number(),
            "boolean" => value.is_boolean(),
            _ => true,
        };
        if !type_ok {
            errors.push(format!("{at}: expected {ty}, got {}", kind(value)));
            return;
        }
        if let Some(map) = value.as_object() {
            for name in schema["required"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
            {
                if !map.contains_key(name) {
                    errors.push(format!("{at}: missing required property {name:?}"));
                }
            }
            let properties = schema["properties"].as_object();
            for (key, item) in map {
                match properties.and_then(|p| p.get(key)) {
                    Some(s) => self.validate(s, item, &format!("{at}.{key}"), errors),
                    None => match &schema["additionalProperties"] {
                        Value::Bool(false) => {
                            errors.push(format!("{at}: unexpected property {key:?}"))
                        }
                        extra @ Value::Object(_) => {
                            self.validate(extra, item, &format!("{at}.{key}"), errors)
                        }
                        _ => {}
                    },
                }
            }
        }
        if let Some(items) = value.as_array() {
            if let Some(min) = schema["minItems"].as_u64()
                && (items.len() as u64) < min
            {
                errors.push(format!("{at}: fewer than {min} items"));
            }
            if !schema["items"].is_null() {
                for (i, item) in items.iter().enumerate() {
                    self.validate(&schema["items"], item, &format!("{at}[{i}]"), errors);
                }
            }
        }
    }

    fn matches(&self, schema: &Value, value: &Value) -> bool {
        let mut errors = Vec::new();
        self.validate(schema, value, "", &mut errors);
        errors.is_empty()
    }
}

fn describe(schema: &Value) -> String {
    schema["type"].as_str().unwrap_or("a value").to_owned()
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn validator_catches_missing_and_mistyped_fields() {
        let spec = Spec::get();
        let good = spec.skeleton("git-ref");
        assert!(
            spec.check_response("GET", "/repos/o/r/git/ref/heads/main", 200, &good)
                .is_empty()
        );
        let mut bad = good.clone();
        bad.as_object_mut().unwrap().remove("object");
        bad["ref"] = json!(5);
        let errors = spec.check_response("GET", "/repos/o/r/git/ref/heads/main", 200, &bad);
        assert!(
            errors
                .iter()
                .any(|e| e.contains("missing required property \"object\"")),
            "{errors:?}"
        );
        assert!(
            errors.iter().any(|e| e.contains("expected string")),
            "{errors:?}"
        );
    }

    #[test]
    fn requests_are_checked_for_endpoint_query_and_body() {
        let spec = Spec::get();
        assert!(
            !spec
                .check_request("GET", "/repos/o/r/branches", &[], None)
                .is_empty()
        );
        let q = vec![
            ("head".to_owned(), "o:b".to_owned()),
            ("colour".to_owned(), "x".to_owned()),
        ];
        let errors = spec.check_request("GET", "/repos/o/r/pulls", &q, None);
        assert_eq!(errors.len(), 1, "{errors:?}");
        let errors = spec.check_request(
            "POST",
            "/repos/o/r/git/refs",
            &[],
            Some(&json!({"ref": "refs/heads/x"})),
        );
        assert!(errors.iter().any(|e| e.contains("\"sha\"")), "{errors:?}");
    }

    #[test]
    fn skeletons_satisfy_their_own_schemas() {
        let spec = Spec::get();
        let names: Vec<String> = spec.doc["components"]["schemas"]
            .as_object()
            .expect("schemas")
            .keys()
            .cloned()
            .collect();
        assert!(names.len() > 20, "{names:?}");
        for name in names {
            let schema = json!({ "$ref": format!("#/components/schemas/{name}") });
            let mut errors = Vec::new();
            spec.validate(&schema, &spec.skeleton(&name), &name, &mut errors);
            assert!(errors.is_empty(), "{name}: {errors:?}");
        }
    }

    #[test]
    fn vendored_description_carries_no_prose() {
        /// Keywords that are prose; as *names* (a repository's property `description`, a check
        /// run output's `summary`, a header `x-ratelimit-reset`) they are the contract and stay.
        const PROSE: [&str; 5] = [
            "description",
            "summary",
            "externalDocs",
            "example",
            "examples",
        ];
        fn walk(value: &Value, at: &str, found: &mut Vec<String>) {
            match value {
                Value::Object(map) => {
                    for (key, inner) in map {
                        if PROSE.contains(&key.as_str()) || key.starts_with("x-") {
                            found.push(format!("{at}.{key}"));
                        }
                        // Maps from names to objects: components' sections, properties, headers.
                        let names = at == ".components" || key == "properties" || key == "headers";
                        if names {
                            for (name, item) in inner.as_object().into_iter().flatten() {
                                walk(item, &format!("{at}.{key}.{name}"), found);
                            }
                        } else {
                            walk(inner, &format!("{at}.{key}"), found);
                        }
                    }
                }
                Value::Array(items) => items.iter().for_each(|i| walk(i, at, found)),
                _ => {}
            }
        }
        let mut found = Vec::new();
        walk(&Spec::get().doc, "", &mut found);
        assert!(
            found.is_empty(),
            "prose left in the vendored description: {found:?}"
        );
        // ... while the property names survive.
        let schemas = &Spec::get().doc["components"]["schemas"];
        assert!(schemas["full-repository"]["properties"]["description"].is_object());
    }

    #[test]
    fn undocumented_status_is_reported() {
        let spec = Spec::get();
        let errors = spec.check_response("POST", "/repos/o/r/git/refs", 418, &json!({}));
        assert_eq!(errors.len(), 1);
        assert!(
            spec.check_response(
                "POST",
                "/repos/o/r/git/refs",
                401,
                &json!({"message": "Bad credentials"})
            )
            .is_empty()
        );
    }
}
