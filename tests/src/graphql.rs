//! GitHub's GraphQL API as the fake's contract: every document the client sends is parsed and
//! validated against GitHub's public schema (`tests/github-api/schema.graphql`, vendored by
//! `scripts/vendor-github-api`) with `apollo-compiler`, and its variables are coerced to the
//! operation's declared types — so a misspelt field, a wrong argument, a `mergeMethod` that is not
//! a `PullRequestMergeMethod` or a missing `ID!` fails the test as it would fail on GitHub.
//!
//! The fake answers from plain JSON objects ([`select`] walks the document's selection set over
//! them), so it returns exactly the fields asked for, under their aliases.

use std::path::PathBuf;
use std::sync::OnceLock;

use apollo_compiler::executable::{ExecutableDocument, Field, Operation, Selection, SelectionSet};
use apollo_compiler::response::JsonMap;
use apollo_compiler::validation::Valid;
use apollo_compiler::{Node, Schema, ast};
use serde_json::{Map, Value, json};

/// Location of the vendored schema.
pub fn schema_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("github-api/schema.graphql")
}

/// The schema, parsed once. GitHub's SDL is built leniently: should a future cut contain
/// something a strict builder refuses (the published SDL declares two `EnterpriseOwnerInfo`
/// fields twice; the vendoring script drops the copies), the partial schema is still used for
/// validating documents.
pub fn schema() -> &'static Valid<Schema> {
    static SCHEMA: OnceLock<Valid<Schema>> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let path = schema_path();
        let sdl = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e}; it is part of the repository (re-create it with scripts/vendor-github-api)",
                path.display()
            )
        });
        match Schema::parse_and_validate(sdl, &path) {
            Ok(valid) => valid,
            Err(with_errors) => Valid::assume_valid(with_errors.partial),
        }
    })
}

/// A request that passed validation.
pub struct Request {
    /// The document.
    pub document: Valid<ExecutableDocument>,
    /// Its operation (the one `operationName` names, or the only one).
    pub operation: Node<Operation>,
    /// Variables, coerced to the declared types.
    pub variables: JsonMap,
}

/// Parses, validates and coerces a GraphQL request body (`{"query", "variables",
/// "operationName"}`), or says why GitHub would refuse it.
pub fn validate(body: &Value) -> Result<Request, Vec<String>> {
    let Some(query) = body.get("query").and_then(Value::as_str) else {
        return Err(vec!["request body has no \"query\" string".into()]);
    };
    let document = ExecutableDocument::parse_and_validate(schema(), query, "request.graphql")
        .map_err(|e| {
            e.errors
                .iter()
                .map(|d| d.to_json().message)
                .collect::<Vec<_>>()
        })?;
    let name = body.get("operationName").and_then(Value::as_str);
    let operation = document
        .operations
        .get(name)
        .map_err(|e| vec![e.message().to_string()])?
        .clone();
    let raw: JsonMap = match body.get("variables") {
        None | Some(Value::Null) => JsonMap::new(),
        Some(v) => serde_json::from_value(v.clone())
            .map_err(|e| vec![format!("\"variables\" is not an object: {e}")])?,
    };
    let variables = apollo_compiler::request::coerce_variable_values(schema(), &operation, &raw)
        .map_err(|e| vec![e.message().to_string()])?;
    Ok(Request {
        document,
        operation,
        variables: variables.into_inner(),
    })
}

impl Request {
    /// The root fields of the operation (with fragments expanded).
    pub fn root_fields(&self) -> Vec<Node<Field>> {
        let mut out = Vec::new();
        collect_fields(&self.document, &self.operation.selection_set, &mut out);
        out
    }

    /// An argument's value with variables substituted, as JSON.
    pub fn argument(&self, field: &Field, name: &str) -> Value {
        field
            .arguments
            .iter()
            .find(|a| a.name.as_str() == name)
            .map(|a| self.value(&a.value))
            .unwrap_or(Value::Null)
    }

    fn value(&self, value: &ast::Value) -> Value {
        match value {
            ast::Value::Null => Value::Null,
            ast::Value::Enum(n) => json!(n.as_str()),
            ast::Value::Variable(n) => self
                .variables
                .get(n.as_str())
                .and_then(|v| serde_json::to_value(v).ok())
                .unwrap_or(Value::Null),
            ast::Value::String(s) => json!(s),
            ast::Value::Float(f) => f.try_to_f64().map_or(Value::Null, |f| json!(f)),
            ast::Value::Int(i) => i.try_to_i32().map_or(Value::Null, |i| json!(i)),
            ast::Value::Boolean(b) => json!(b),
            ast::Value::List(items) => Value::Array(items.iter().map(|i| self.value(i)).collect()),
            ast::Value::Object(fields) => Value::Object(
                fields
                    .iter()
                    .map(|(k, v)| (k.as_str().to_owned(), self.value(v)))
                    .collect(),
            ),
        }
    }

    /// The fields `selection` asks for, taken from `object`; every field the fake cannot answer
    /// is reported in `missing` (and answered `null`).
    pub fn select(
        &self,
        selection: &SelectionSet,
        object: &Value,
        missing: &mut Vec<String>,
    ) -> Value {
        let mut fields = Vec::new();
        collect_fields(&self.document, selection, &mut fields);
        let mut out = Map::new();
        for field in fields {
            let key = field
                .alias
                .as_ref()
                .unwrap_or(&field.name)
                .as_str()
                .to_owned();
            let value = if field.name == "__typename" {
                json!(selection.ty.as_str())
            } else {
                match object.get(field.name.as_str()) {
                    None => {
                        missing.push(format!("{}.{}", selection.ty, field.name));
                        Value::Null
                    }
                    Some(Value::Object(_)) if !field.selection_set.selections.is_empty() => {
                        self.select(&field.selection_set, &object[field.name.as_str()], missing)
                    }
                    Some(Value::Array(items)) if !field.selection_set.selections.is_empty() => {
                        Value::Array(
                            items
                                .iter()
                                .map(|i| self.select(&field.selection_set, i, missing))
                                .collect(),
                        )
                    }
                    Some(v) => v.clone(),
                }
            };
            out.insert(key, value);
        }
        Value::Object(out)
    }
}

fn collect_fields(doc: &ExecutableDocument, set: &SelectionSet, out: &mut Vec<Node<Field>>) {
    for selection in &set.selections {
        match selection {
            Selection::Field(f) => out.push(f.clone()),
            Selection::InlineFragment(f) => collect_fields(doc, &f.selection_set, out),
            Selection::FragmentSpread(s) => {
                if let Some(fragment) = doc.fragments.get(&s.fragment_name) {
                    collect_fields(doc, &fragment.selection_set, out);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_knows_the_auto_merge_mutation() {
        let request = validate(&json!({
            "query": "mutation($id: ID!) { enablePullRequestAutoMerge(input: {pullRequestId: $id, mergeMethod: SQUASH}) { pullRequest { number } } }",
            "variables": {"id": "PR_x"},
        }))
        .expect("valid");
        assert_eq!(request.root_fields()[0].name, "enablePullRequestAutoMerge");
    }

    #[test]
    fn invalid_documents_and_variables_are_refused() {
        for (body, says) in [
            (
                json!({"query": "mutation { enablePullRequestAutoMerge(input: {mergeMethod: SQUASH}) { pullRequest { number } } }"}),
                "pullRequestId",
            ),
            (
                json!({"query": "mutation { enablePullRequestAutoMerge(input: {pullRequestId: \"x\", mergeMethod: FAST}) { pullRequest { number } } }"}),
                "FAST",
            ),
            (
                json!({"query": "mutation { enablePullRequestAutoMerge(input: {pullRequestId: \"x\", mergeMethod: SQUASH}) { pullRequest { colour } } }"}),
                "colour",
            ),
            (
                json!({"query": "mutation($m: PullRequestMergeMethod!) { enablePullRequestAutoMerge(input: {pullRequestId: \"x\", mergeMethod: $m}) { clientMutationId } }", "variables": {"m": "fast-forward"}}),
                "fast-forward",
            ),
            (json!({"query": "{ nope"}), ""),
        ] {
            let errors = validate(&body)
                .err()
                .unwrap_or_else(|| panic!("accepted: {body}"));
            assert!(errors.iter().any(|e| e.contains(says)), "{errors:?}");
        }
    }
}
