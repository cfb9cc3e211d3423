//! Logging, structured events and systemd status.
//!
//! Under systemd (stderr connected to the journal) records go to journald with an
//! `ENLIST_EVENT` field for the SPEC's events, so `journalctl -u enlist ENLIST_EVENT=…` works.
//! Elsewhere a plain stderr logger prints `enlist: <level>: <message> [<event>]`, without colours
//! so nothing odd lands in a log file. `STATUS=` updates go through `sd-notify`, which is a no-op
//! without `NOTIFY_SOCKET`.

use std::io::Write;
use std::sync::atomic::{AtomicU8, Ordering};

use log::{Level, LevelFilter, Log, Metadata, Record};

/// The SPEC's event names (stable: operators filter on them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// Facts gathering began.
    ExtractionStarted,
    /// Hardware was found (counts in the message).
    HardwareDiscovered,
    /// Facts gathering finished.
    ExtractionCompleted,
    /// Facts gathering failed.
    ExtractionFailed,
    /// Nothing to do: the marker matches.
    Skipped,
    /// The node.yaml is already on the base branch.
    UpstreamFound,
    /// A PR for this node is already open.
    PrInFlight,
    /// A new PR was opened.
    PrOpened,
    /// An open PR was updated (new commit or comment).
    PrUpdated,
    /// The run finished successfully.
    Completed,
    /// The run failed.
    Failed,
}

impl Event {
    /// The `ENLIST_EVENT` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Event::ExtractionStarted => "inventory.extraction.started",
            Event::HardwareDiscovered => "inventory.hardware.discovered",
            Event::ExtractionCompleted => "inventory.extraction.completed",
            Event::ExtractionFailed => "inventory.extraction.failed",
            Event::Skipped => "registration.skipped",
            Event::UpstreamFound => "registration.upstream_found",
            Event::PrInFlight => "registration.pr_in_flight",
            Event::PrOpened => "registration.pr_opened",
            Event::PrUpdated => "registration.pr_updated",
            Event::Completed => "registration.completed",
            Event::Failed => "registration.failed",
        }
    }
}

/// Logs an event at info level with its `ENLIST_EVENT` field.
pub fn event(event: Event, message: &str) {
    log::info!(enlist_event = event.as_str(); "{message}");
}

/// Logs a failure event at error level with `ENLIST_EVENT` and `ENLIST_ERROR_KIND` fields.
pub fn event_error(event: Event, kind: &str, message: &str) {
    log::error!(enlist_event = event.as_str(), enlist_error_kind = kind; "{message}");
}

/// Sets the unit's `STATUS=` text (visible in `systemctl status`); ignored outside systemd.
pub fn status(text: &str) {
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Status(text)]);
}

/// How chatty the stderr logger is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verbosity {
    /// Warnings and errors only.
    Quiet,
    /// Info and above (default).
    Normal,
    /// Everything, including debug.
    Verbose,
}

/// Installs the journal logger when stderr is the journal, else the stderr logger. Safe to call
/// more than once (tests): later calls only change the level.
pub fn init(verbosity: Verbosity) {
    let level = match verbosity {
        Verbosity::Quiet => LevelFilter::Warn,
        Verbosity::Normal => LevelFilter::Info,
        Verbosity::Verbose => LevelFilter::Debug,
    };
    STDERR_LEVEL.store(level as u8, Ordering::Relaxed);
    let installed = if systemd_journal_logger::connected_to_journal() {
        systemd_journal_logger::JournalLog::new()
            .map(|journal| {
                journal
                    .with_syslog_identifier("enlist".to_owned())
                    .with_extra_fields(vec![("ENLIST_VERSION", env!("CARGO_PKG_VERSION"))])
            })
            .and_then(|journal| journal.install().map_err(std::io::Error::other))
            .is_ok()
    } else {
        false
    };
    if !installed {
        let _ = log::set_logger(&STDERR_LOGGER);
    }
    log::set_max_level(level);
}

static STDERR_LEVEL: AtomicU8 = AtomicU8::new(LevelFilter::Info as u8);
static STDERR_LOGGER: StderrLogger = StderrLogger;

struct StderrLogger;

impl Log for StderrLogger {
    fn enabled(&self, metadata: &Metadata) -> bool {
        (metadata.level() as u8) <= STDERR_LEVEL.load(Ordering::Relaxed)
            && metadata.target().starts_with("enlist")
    }

    fn log(&self, record: &Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let level = match record.level() {
            Level::Error => "error",
            Level::Warn => "warning",
            Level::Info => "info",
            Level::Debug => "debug",
            Level::Trace => "trace",
        };
        let event = record
            .key_values()
            .get(log::kv::Key::from_str("enlist_event"))
            .map(|v| format!(" [{v}]"))
            .unwrap_or_default();
        let mut stderr = std::io::stderr().lock();
        let _ = writeln!(stderr, "enlist: {level}: {}{event}", record.args());
    }

    fn flush(&self) {}
}
