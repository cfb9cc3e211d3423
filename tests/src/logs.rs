//! Captures every log line the library emits in this test process, so tests can assert that the
//! token never appears in a log line (the binary's stderr is checked separately).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

use log::{LevelFilter, Log, Metadata, Record};

static LINES: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// How many of [`LINES`] [`unchecked`] has handed out (changed only under the lock of `LINES`).
static CHECKED: AtomicUsize = AtomicUsize::new(0);

struct Capture;

impl Log for Capture {
    fn enabled(&self, _: &Metadata) -> bool {
        true
    }

    fn log(&self, record: &Record) {
        let mut line = format!("{}: {}", record.level(), record.args());
        struct Fields<'a>(&'a mut String);
        impl<'kvs> log::kv::VisitSource<'kvs> for Fields<'_> {
            fn visit_pair(
                &mut self,
                key: log::kv::Key<'kvs>,
                value: log::kv::Value<'kvs>,
            ) -> Result<(), log::kv::Error> {
                self.0.push_str(&format!(" {key}={value}"));
                Ok(())
            }
        }
        let _ = record.key_values().visit(&mut Fields(&mut line));
        LINES.lock().unwrap_or_else(|p| p.into_inner()).push(line);
    }

    fn flush(&self) {}
}

/// Installs the capturing logger (once per process).
pub fn install() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        let _ = log::set_logger(&Capture);
        log::set_max_level(LevelFilter::Trace);
    });
}

/// All lines captured so far (from every test in the process).
pub fn lines() -> Vec<String> {
    LINES.lock().unwrap_or_else(|p| p.into_inner()).clone()
}

/// The lines captured since the last call (from every test in the process): each line is handed
/// out once, so a check after every run (no token in any line) costs the lines that run added,
/// not every line so far — the fleet simulation's hundreds of runs stayed linear.
pub fn unchecked() -> Vec<String> {
    let lines = LINES.lock().unwrap_or_else(|p| p.into_inner());
    let from = CHECKED
        .swap(lines.len(), Ordering::Relaxed)
        .min(lines.len());
    lines[from..].to_vec()
}
