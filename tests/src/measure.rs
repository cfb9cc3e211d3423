//! Whole-process measurements for the benchmarks: wall time and peak RSS of one run of the real
//! binary, through GNU time (`/usr/bin/time -f '%e %M' -o FILE`, so the figures never mix with
//! the program's own stderr). Peak RSS is the kernel's high-water mark of the process
//! (`ru_maxrss`), what the "under 256 MiB" is about.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// One measured run.
#[derive(Clone, Debug)]
pub struct Measured {
    /// Wall time (measured here, around the whole process).
    pub time: Duration,
    /// Peak resident set, KiB (`None` without GNU time).
    pub peak_rss_kib: Option<u64>,
    /// Exit code.
    pub code: Option<i32>,
    /// What the program printed on stderr.
    pub stderr: String,
}

impl Measured {
    /// Peak RSS in MiB, for printing.
    pub fn rss_mib(&self) -> String {
        self.peak_rss_kib.map_or_else(
            || "n/a".to_owned(),
            |k| format!("{:.0} MiB", k as f64 / 1024.0),
        )
    }
}

/// Runs `bin args` with `env` (stdout discarded), measuring time and peak RSS.
pub fn run(bin: &Path, args: &[&str], env: &[(&str, &str)]) -> Measured {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
    let report = dir.path().join("time");
    let have_time = Path::new("/usr/bin/time").is_file();
    let mut command = if have_time {
        let mut c = Command::new("/usr/bin/time");
        c.arg("-f").arg("%e %M").arg("-o").arg(&report).arg(bin);
        c
    } else {
        Command::new(bin)
    };
    command
        .args(args)
        .env("ENLIST_CONFIG", "/dev/null")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    let start = Instant::now();
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", bin.display()));
    let time = start.elapsed();
    // GNU time puts "Command exited with non-zero status N" before the figures of a failed run.
    let peak_rss_kib = std::fs::read_to_string(&report).ok().and_then(|t| {
        t.lines()
            .last()
            .and_then(|l| l.split_whitespace().nth(1).and_then(|k| k.parse().ok()))
    });
    Measured {
        time,
        peak_rss_kib,
        code: out.status.code(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The best (shortest) of `runs` runs, with the largest peak RSS seen; panics with stderr if a
/// run fails.
pub fn best_of(runs: usize, mut once: impl FnMut() -> Measured) -> Measured {
    let mut best: Option<Measured> = None;
    let mut rss = None;
    for _ in 0..runs.max(1) {
        let m = once();
        assert_eq!(m.code, Some(0), "run failed:\n{}", m.stderr);
        rss = rss.max(m.peak_rss_kib);
        if best.as_ref().is_none_or(|b| m.time < b.time) {
            best = Some(m);
        }
    }
    let mut best = best.unwrap_or_else(|| unreachable!("runs ≥ 1"));
    best.peak_rss_kib = rss;
    best
}

/// `met` or `MISSED`.
pub fn verdict(ok: bool) -> &'static str {
    if ok { "met" } else { "MISSED" }
}

/// A directory for a generated checkout: deleted when the guard drops, or kept (and printed)
/// with `ENLIST_BENCH_KEEP=1`, for profiling by hand.
pub fn scratch_dir() -> (PathBuf, Option<tempfile::TempDir>) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
    if std::env::var("ENLIST_BENCH_KEEP").as_deref() == Ok("1") {
        let kept = dir.keep();
        println!("bench: keeping {}", kept.display());
        (kept, None)
    } else {
        (dir.path().to_path_buf(), Some(dir))
    }
}
