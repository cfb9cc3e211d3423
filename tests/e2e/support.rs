//! Helpers of the tests that moved here from the agent's integration tests because they read the
//! repository around the crate (`README.md`, `examples/`, `nix/`): the same names as the agent's
//! `tests/integration/support.rs`, so a test reads the same in both places.

use std::path::{Path, PathBuf};
use std::process::Output;

pub use enlist_e2e::node::fixture;

/// The repository's root (this crate sits in `tests/`).
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// Runs the built `enlist` binary with a clean environment (no config file, no token).
pub fn enlist(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = std::process::Command::new(enlist_e2e::node::binary());
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        // Never read the machine's /etc/enlist/config.yaml from a test.
        .env("ENLIST_CONFIG", "/dev/null");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run enlist")
}

/// stdout as text.
pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// stderr as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `ENLIST_UPDATE_GOLDEN=1`: rewrite golden and generated files instead of comparing them.
pub fn updating() -> bool {
    std::env::var_os("ENLIST_UPDATE_GOLDEN").is_some_and(|v| v == "1")
}

/// Compares `actual` with the file at `relative` in the repository, or rewrites it when
/// `ENLIST_UPDATE_GOLDEN=1`.
pub fn golden_file(relative: &str, actual: &str) {
    let path = repo().join(relative);
    if updating() {
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
        std::fs::write(&path, actual).expect("write");
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (run with ENLIST_UPDATE_GOLDEN=1 to create it)",
            path.display()
        )
    });
    assert_eq!(
        actual,
        expected,
        "{} differs from the output (ENLIST_UPDATE_GOLDEN=1 rewrites it)",
        path.display()
    );
}

/// [`golden_file`] under `tests/golden/`.
pub fn golden(relative: &str, actual: &str) {
    golden_file(&format!("tests/golden/{relative}"), actual);
}
