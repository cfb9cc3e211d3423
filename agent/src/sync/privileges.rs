//! Least privilege: what `enlist sync` needs at run time, and which grant is missing when the
//! database refuses (SQLSTATE 42501).
//!
//! A sync whose schema is current runs no DDL ([`super::schema`]), so its role needs only
//! `SELECT, INSERT, UPDATE, DELETE` on enlist's tables (`SELECT` on its views and on
//! `schema_migrations`) and `USAGE` on the run-id sequence — [`NEEDED`]. Creating or upgrading
//! the schema is for a role that may create (`enlist sync --migrate` as the schema's owner).
//!
//! **Checked up front** (issue 29): before a sync takes its lease or starts a run, one query asks
//! the database which of [`NEEDED`] the current user lacks ([`check`]), so a missing grant fails
//! the first run with the exact `GRANT` — not the fiftieth, when the first clean-up of old
//! findings needs `DELETE ON findings`, and never after the run was recorded `completed`.
//!
//! A refusal names only the first object the server tripped over, and PostgreSQL's text for it
//! ("permission denied for table nodes") differs from CockroachDB's. So the same query runs after
//! a 42501 too ([`diagnose`]): `has_table_privilege`, `has_sequence_privilege` — both databases
//! have them (<https://www.cockroachlabs.com/docs/stable/functions-and-operators>, "Compatibility
//! functions") — and enlist prints those exact `GRANT`s, plus the two statements that grant
//! everything at once.

use tokio_postgres::{Client, GenericClient};

use super::SyncError;
use super::connect::Target;

/// The privileges a sync needs on one object.
pub struct Needed {
    /// `TABLE` (views too) or `SEQUENCE`.
    pub kind: &'static str,
    /// Its name.
    pub object: &'static str,
    /// What is done with it.
    pub privileges: &'static [&'static str],
}

const DML: &[&str] = &["SELECT", "INSERT", "UPDATE", "DELETE"];
const READ: &[&str] = &["SELECT"];

const fn table(object: &'static str, privileges: &'static [&'static str]) -> Needed {
    Needed {
        kind: "TABLE",
        object,
        privileges,
    }
}

/// Everything a sync of a current schema touches (schema version 3).
pub const NEEDED: &[Needed] = &[
    table("schema_migrations", READ),
    table("sync_leases", DML),
    table("sync_runs", DML),
    table("selections", DML),
    table("nodes", DML),
    table("inventory_items", DML),
    table("node_sightings", DML),
    table("inventory_sightings", DML),
    table("findings", DML),
    table("latest_runs", READ),
    table("missing_nodes", READ),
    table("missing_inventory_items", READ),
    table("latest_findings", READ),
    table("current_nodes", READ),
    table("current_inventory_items", READ),
    Needed {
        kind: "SEQUENCE",
        object: "sync_run_ids",
        privileges: &["USAGE"],
    },
];

/// The statements that give `role` everything in [`NEEDED`] (in the schema `schema`).
pub fn grant_all(role: &str, schema: &str) -> [String; 2] {
    let role = quote_ident(role);
    let schema = quote_ident(schema);
    [
        format!("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {role};"),
        format!("GRANT USAGE ON ALL SEQUENCES IN SCHEMA {schema} TO {role};"),
    ]
}

/// `name` as an SQL identifier: bare when it is lowercase letters, digits and `_`, else quoted.
pub fn quote_ident(name: &str) -> String {
    let bare = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if bare {
        name.to_owned()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

/// Before a run: `Ok` when the current user has every privilege in [`NEEDED`], else
/// [`SyncError::MissingGrants`] naming each missing one and its `GRANT`.
pub async fn check(client: &impl GenericClient, target: &Target) -> Result<(), SyncError> {
    let rows = client
        .query(&missing_sql(), &[])
        .await
        .map_err(|e| target.classify(&e, "checking the user's privileges"))?;
    match missing_grants(&rows, target) {
        Some(error) => Err(error),
        None => Ok(()),
    }
}

/// After a 42501: which of [`NEEDED`] the current user lacks, as a [`SyncError::MissingGrants`];
/// `None` when the database cannot say (then the server's own message is shown).
pub async fn diagnose(client: &Client, target: &Target) -> Option<SyncError> {
    let rows = match client.query(&missing_sql(), &[]).await {
        Ok(rows) => rows,
        Err(e) => {
            log::debug!(
                "could not list the missing privileges: {}",
                target.scrub(&e.to_string())
            );
            return None;
        }
    };
    missing_grants(&rows, target)
}

/// One row per privilege of [`NEEDED`] the current user lacks: user, schema, kind, object,
/// privilege.
fn missing_sql() -> String {
    let values: Vec<String> = NEEDED
        .iter()
        .flat_map(|n| {
            n.privileges
                .iter()
                .map(move |p| format!("('{}', '{}', '{p}')", n.kind, n.object))
        })
        .collect();
    // Names and privileges are this module's constants: no user input in the text.
    format!(
        "SELECT current_user::TEXT, current_schema()::TEXT, x.kind, x.object, x.privilege \
         FROM (VALUES {}) AS x (kind, object, privilege) \
         WHERE NOT (CASE x.kind WHEN 'SEQUENCE' THEN has_sequence_privilege(x.object, x.privilege) \
         ELSE has_table_privilege(x.object, x.privilege) END)",
        values.join(", ")
    )
}

/// The rows of [`missing_sql`] as an error; `None` when nothing is missing.
fn missing_grants(rows: &[tokio_postgres::Row], target: &Target) -> Option<SyncError> {
    let first = rows.first()?;
    let (user, schema): (String, String) = (first.get(0), first.get(1));
    let mut missing: Vec<(String, String, Vec<String>)> = Vec::new();
    for row in rows {
        let (kind, object, privilege): (String, String, String) =
            (row.get(2), row.get(3), row.get(4));
        match missing
            .iter_mut()
            .find(|(k, o, _)| *k == kind && *o == object)
        {
            Some((_, _, privileges)) => privileges.push(privilege),
            None => missing.push((kind, object, vec![privilege])),
        }
    }
    let role = quote_ident(&user);
    let grants = missing
        .iter()
        .map(|(kind, object, privileges)| {
            let on = if kind == "SEQUENCE" { "SEQUENCE " } else { "" };
            format!("GRANT {} ON {on}{object} TO {role};", privileges.join(", "))
        })
        .collect();
    Some(SyncError::MissingGrants {
        shown: target.shown().to_owned(),
        user: user.clone(),
        missing: missing
            .iter()
            .map(|(kind, object, privileges)| {
                format!(
                    "{} on {} {object}",
                    privileges.join(", "),
                    kind.to_lowercase()
                )
            })
            .collect(),
        grants,
        grant_all: grant_all(&user, &schema).join(" "),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_quoted_only_when_needed() {
        assert_eq!(quote_ident("enlist_ci"), "enlist_ci");
        assert_eq!(quote_ident("CI"), "\"CI\"");
        assert_eq!(quote_ident("ci-runner"), "\"ci-runner\"");
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(quote_ident("1st"), "\"1st\"");
    }

    #[test]
    fn needed_covers_every_table_of_the_schema() {
        for statement in super::super::schema::MIGRATIONS
            .iter()
            .flat_map(|m| m.statements)
        {
            let upper = statement.to_uppercase();
            for prefix in [
                "CREATE TABLE IF NOT EXISTS ",
                "CREATE OR REPLACE VIEW ",
                "CREATE SEQUENCE IF NOT EXISTS ",
            ] {
                if let Some(rest) = upper.split(prefix).nth(1) {
                    let name = rest
                        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                        .next()
                        .unwrap()
                        .to_lowercase();
                    assert!(
                        NEEDED.iter().any(|n| n.object == name),
                        "{name} is not in NEEDED"
                    );
                }
            }
        }
    }
}
