//! Logging, structured events and systemd status.
//!
//! Under systemd (stderr connected to the journal) records go to journald with an
//! `ENLIST_EVENT` field for the SPEC's events, so `journalctl -u enlist ENLIST_EVENT=…` works.
//! Elsewhere a stderr logger prints `enlist: <level>: <message> [<event>]`. Only the level name is
//! coloured, and only for a person at a terminal: never in the journal (that is the journal
//! logger), a pipe, a file or CI log, nor with `NO_COLOR` set (<https://no-color.org>) or
//! `TERM=dumb`. `STATUS=` updates go through `sd-notify`, which is a no-op without
//! `NOTIFY_SOCKET`.

use std::ffi::OsString;
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

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
    /// The machine has no SSH host public key yet: it registers without `sshHostKeys` (a warning;
    /// a later run proposes them as a facts update).
    HostKeysMissing,
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
    /// The pending PR's checks failed (only when that changed since the last run).
    ChecksFailed,
    /// The pending PR's checks passed (only when that changed since the last run).
    ChecksPassed,
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
            Event::HostKeysMissing => "inventory.host_keys_missing",
            Event::Skipped => "registration.skipped",
            Event::UpstreamFound => "registration.upstream_found",
            Event::PrInFlight => "registration.pr_in_flight",
            Event::PrOpened => "registration.pr_opened",
            Event::PrUpdated => "registration.pr_updated",
            Event::Completed => "registration.completed",
            Event::ChecksFailed => "registration.checks_failed",
            Event::ChecksPassed => "registration.checks_passed",
            Event::Failed => "registration.failed",
        }
    }
}

/// Logs an event at info level with its `ENLIST_EVENT` field.
pub fn event(event: Event, message: &str) {
    log::info!(enlist_event = event.as_str(); "{message}");
}

/// Logs an event at warning level with its `ENLIST_EVENT` field (something the operator should
/// know that does not stop the run).
pub fn event_warn(event: Event, message: &str) {
    log::warn!(enlist_event = event.as_str(); "{message}");
}

/// Logs a failure event at error level with `ENLIST_EVENT` and `ENLIST_ERROR_KIND` fields.
pub fn event_error(event: Event, kind: &str, message: &str) {
    log::error!(enlist_event = event.as_str(), enlist_error_kind = kind; "{message}");
}

/// Sets the unit's `STATUS=` text (visible in `systemctl status`); ignored outside systemd.
pub fn status(text: &str) {
    let _ = sd_notify::notify(&[sd_notify::NotifyState::Status(text)]);
}

/// Tells systemd the run may need `rest` more before it ends (`EXTEND_TIMEOUT_USEC=`): the
/// unit's start timeout then fires no earlier than that (it is never shortened). Capped at the
/// protocol's largest value (about 71 min); ignored outside systemd.
pub fn extend_start_timeout(rest: std::time::Duration) {
    let usec = u32::try_from(rest.as_micros()).unwrap_or(u32::MAX);
    let _ = sd_notify::notify(&[sd_notify::NotifyState::ExtendTimeoutUsec(usec)]);
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
    STDERR_COLOUR.store(
        colour_wanted(std::io::stderr().is_terminal(), |key| std::env::var_os(key)),
        Ordering::Relaxed,
    );
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

/// Whether stderr lines get coloured level names: a terminal, `NO_COLOR` unset or empty (the
/// convention says "present and not empty" disables colour), and a terminal that is not `dumb`.
pub fn colour_wanted(stderr_is_terminal: bool, env: impl Fn(&str) -> Option<OsString>) -> bool {
    stderr_is_terminal
        && env("NO_COLOR").is_none_or(|v| v.is_empty())
        && env("TERM").is_none_or(|t| t != "dumb")
}

/// One stderr line: `enlist: <level>: <message>[ [<event>]]`, the level name coloured if asked.
fn stderr_line(level: Level, message: &str, event: Option<&str>, colour: bool) -> String {
    let name = match level {
        Level::Error => "error",
        Level::Warn => "warning",
        Level::Info => "info",
        Level::Debug => "debug",
        Level::Trace => "trace",
    };
    let name = if colour {
        // Bold red, bold yellow, green, dim: SGR codes every terminal emulator knows.
        let sgr = match level {
            Level::Error => "1;31",
            Level::Warn => "1;33",
            Level::Info => "32",
            Level::Debug | Level::Trace => "2",
        };
        format!("\x1b[{sgr}m{name}\x1b[0m")
    } else {
        name.to_owned()
    };
    let event = event.map(|e| format!(" [{e}]")).unwrap_or_default();
    format!("enlist: {name}: {message}{event}")
}

static STDERR_LEVEL: AtomicU8 = AtomicU8::new(LevelFilter::Info as u8);
static STDERR_COLOUR: AtomicBool = AtomicBool::new(false);
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
        let event = record
            .key_values()
            .get(log::kv::Key::from_str("enlist_event"))
            .map(|v| v.to_string());
        let line = stderr_line(
            record.level(),
            &record.args().to_string(),
            event.as_deref(),
            STDERR_COLOUR.load(Ordering::Relaxed),
        );
        let mut stderr = std::io::stderr().lock();
        let _ = writeln!(stderr, "{line}");
    }

    fn flush(&self) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<OsString> + 'a {
        move |key| {
            vars.iter()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| OsString::from(v))
        }
    }

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        assert!(colour_wanted(true, env(&[("TERM", "xterm-256color")])));
        assert!(colour_wanted(true, env(&[])));
        assert!(
            colour_wanted(true, env(&[("NO_COLOR", "")])),
            "empty means unset"
        );
        assert!(
            !colour_wanted(false, env(&[])),
            "a pipe, a file or the journal"
        );
        assert!(!colour_wanted(true, env(&[("NO_COLOR", "1")])));
        assert!(!colour_wanted(true, env(&[("TERM", "dumb")])));
    }

    #[test]
    fn only_the_level_name_is_coloured() {
        assert_eq!(
            stderr_line(Level::Warn, "token file is readable by others", None, false),
            "enlist: warning: token file is readable by others"
        );
        assert_eq!(
            stderr_line(Level::Error, "boom", Some("registration.failed"), true),
            "enlist: \x1b[1;31merror\x1b[0m: boom [registration.failed]"
        );
        assert!(!stderr_line(Level::Info, "x", None, false).contains('\x1b'));
    }
}
