//! The command-line contract on the example repository (`examples/gitops`): moved here from the
//! agent's CLI tests, which read nothing outside the `enlist` crate.

use crate::support::{enlist, fixture, repo, stderr};

#[test]
fn quiet_and_verbose_work_for_every_command() {
    let state = tempfile::tempdir().unwrap();
    let root = fixture("dell-r640");
    let example = repo().join("examples/gitops");
    let nodes = example.to_str().unwrap();
    let inventory = example.join("inventory.csv");
    let inventory = inventory.to_str().unwrap();
    let register = [
        "register",
        "--dry-run",
        "--repo",
        "a/b",
        "--root",
        root.to_str().unwrap(),
        "--state-dir",
        state.path().to_str().unwrap(),
    ];
    let facts = ["facts", "--root", root.to_str().unwrap()];
    let status = ["status", "--state-dir", state.path().to_str().unwrap()];
    let reconcile = ["reconcile", "--nodes", nodes, "--inventory", inventory];
    for (args, default_info, verbose_line) in [
        (&register[..], true, "info: "),
        (&facts[..], false, "info: gathering facts"),
        (&status[..], false, ""),
        (&reconcile[..], false, "debug: 6 node.yaml files"),
    ] {
        let run = |flag: Option<&str>| {
            let mut full: Vec<&str> = flag.into_iter().collect();
            full.extend(args);
            let out = enlist(&full, &[]);
            assert_eq!(out.status.code(), Some(0), "{full:?}: {}", stderr(&out));
            stderr(&out)
        };
        let (quiet, normal, verbose) = (run(Some("-q")), run(None), run(Some("--verbose")));
        assert!(
            !quiet.contains("info: ") && !quiet.contains("debug: "),
            "{args:?} -q: {quiet}"
        );
        assert_eq!(
            normal.contains("info: "),
            default_info,
            "{args:?}: {normal}"
        );
        assert!(!normal.contains("debug: "), "{args:?}: {normal}");
        assert!(verbose.contains(verbose_line), "{args:?} -v: {verbose}");
    }
    // -q keeps errors (reconcile exits 64 and says why).
    let out = enlist(
        &["-q", "reconcile", "--nodes", nodes, "--inventory", "/nope"],
        &[],
    );
    assert_eq!(out.status.code(), Some(64));
    assert!(stderr(&out).contains("error: cannot read the inventory /nope"));
    let out = enlist(&["-q", "-v", "status"], &[]);
    assert_eq!(out.status.code(), Some(64), "-q and -v conflict");
}
