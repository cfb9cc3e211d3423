//! Files outside the `enlist` crate that must agree with it: the book's SQL that the agent's
//! sync tests run (from their own copy, as the crate tests without the repository around it),
//! and the NixOS module's list of config keys, generated from the binary.

use crate::support::{enlist, golden_file, repo, stderr, stdout};

/// The SQL block of the book's registry chapter that `starts` a line of, or `None`.
fn database_chapter_block(starts: &str) -> Option<String> {
    let chapter =
        std::fs::read_to_string(repo().join("docs/src/database.md")).expect("database.md");
    chapter
        .split("```sql\n")
        .find(|b| b.contains(starts))
        .and_then(|b| b.split("```").next())
        .map(str::to_owned)
}

/// The book's PostgreSQL two-role block is the one `two_roles_owner_migrates_and_a_dml_only_role_syncs`
/// runs (`agent/tests/fixtures/postgres-two-roles.sql`): what the docs tell operators to run is
/// what was tested.
#[test]
fn two_roles_block_is_the_tested_one() {
    let block = database_chapter_block("CREATE ROLE enlist_owner")
        .expect("the registry chapter's PostgreSQL two-role block");
    let tested = repo().join("agent/tests/fixtures/postgres-two-roles.sql");
    let tested = std::fs::read_to_string(&tested).expect("the tested statements");
    assert_eq!(
        block, tested,
        "docs/src/database.md's PostgreSQL two-role block differs from \
         agent/tests/fixtures/postgres-two-roles.sql, which the sync tests run: change both"
    );
}

/// The book's registry queries (the block that starts with `-- missing nodes`) are the ones
/// `current_nodes_is_what_the_latest_finished_run_saw` runs
/// (`agent/tests/fixtures/registry-queries.sql`).
#[test]
fn registry_queries_block_is_the_tested_one() {
    let block =
        database_chapter_block("-- missing nodes").expect("the registry chapter's query block");
    let tested = repo().join("agent/tests/fixtures/registry-queries.sql");
    let tested = std::fs::read_to_string(&tested).expect("the tested queries");
    assert_eq!(
        block, tested,
        "docs/src/database.md's query block differs from \
         agent/tests/fixtures/registry-queries.sql, which the sync tests run: change both"
    );
}

/// `nix/config-keys.nix` (the keys `services.enlist.settings` may hold) is what the binary prints:
/// a key added to `settings!` reaches the module's check without anyone remembering it.
/// `ENLIST_UPDATE_GOLDEN=1` rewrites it.
#[test]
fn nix_config_keys_are_the_binarys() {
    let out = enlist(&["config-keys"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let keys = stdout(&out);
    for key in ["repo", "base_branch", "token_file", "github_app_key_file"] {
        assert!(keys.contains(&format!("\n  \"{key}\"\n")), "{key}: {keys}");
    }
    golden_file("nix/config-keys.nix", &keys);
}

/// The book's reference pages (`docs/src/reference/`: config keys, exit codes, environment,
/// command line) are what the binary prints with `enlist reference PAGE`: generated from the
/// code, they cannot drift from it. `ENLIST_UPDATE_GOLDEN=1` rewrites them.
#[test]
fn book_reference_pages_are_the_binarys() {
    for (page, file) in [
        ("config", "config.md"),
        ("exit-codes", "exit-codes.md"),
        ("environment", "environment.md"),
        ("cli", "cli.md"),
    ] {
        let out = enlist(&["reference", page], &[]);
        assert_eq!(out.status.code(), Some(0), "{page}: {}", stderr(&out));
        golden_file(&format!("docs/src/reference/{file}"), &stdout(&out));
    }
}
