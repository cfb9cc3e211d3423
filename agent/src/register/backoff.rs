//! Spacing out unattended attempts while GitHub stays unreachable or rate-limited.
//!
//! The unit restarts a run that ended with a transient exit (69, 75) twice, 5 minutes apart, and
//! `enlist.timer` starts it again about hourly. A node whose uplink is down for a week would so
//! call (or try to call) GitHub every hour, and a fleet rate-limited by GitHub would keep hitting
//! the limit. So the binary records the transient failures of this boot in
//! `state_dir/attempts.json` and, past the first [`FREE_ATTEMPTS`], lets an unattended run go
//! ahead only [`gap`] after the last failure: 1 h, 2 h, 4 h … up to [`MAX_GAP`]; earlier it exits
//! 0 at once, without a request. Each attempt that does go ahead keeps the per-run budgets (SPEC
//! §4), and the unit's own restart policy is untouched: its two quick restarts stay within the
//! free attempts.
//!
//! A new boot starts afresh (the file names its boot id), a success removes the file, and a run
//! by a person at a terminal is never held back (`Deps::honour_backoff`).

use std::path::Path;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use super::marker::{self, MarkerError};

/// File name in the state directory.
pub const ATTEMPTS_FILE: &str = "attempts.json";

/// Transient failures in a row that are retried without delay: the boot run and the unit's two
/// restarts (`StartLimitBurst=3`).
pub const FREE_ATTEMPTS: u32 = 3;

/// The gap after the free attempts: the timer's interval.
pub const FIRST_GAP: Duration = Duration::from_secs(3600);

/// The longest gap between two unattended attempts: a day. A node down longer still tries daily.
pub const MAX_GAP: Duration = Duration::from_secs(24 * 3600);

/// Transient failures of one boot.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempts {
    /// The boot they happened in (a new boot starts afresh).
    pub boot_id: String,
    /// Transient failures in a row.
    pub failures: u32,
    /// The last one's exit code (69 or 75).
    pub last_exit: u8,
    /// When it ended (RFC 3339).
    pub last_failure_at: String,
    /// No unattended run before this (RFC 3339).
    pub next_attempt_at: String,
}

/// How long to wait after `failures` transient failures in a row.
pub fn gap(failures: u32) -> Duration {
    if failures < FREE_ATTEMPTS {
        return Duration::ZERO;
    }
    let doublings = (failures - FREE_ATTEMPTS).min(16);
    FIRST_GAP.saturating_mul(1 << doublings).min(MAX_GAP)
}

/// The recorded attempts, if any (a file that does not parse is ignored with a warning: the
/// worst case is one attempt too early).
pub fn read(state_dir: &Path) -> Result<Option<Attempts>, MarkerError> {
    let Some(bytes) = marker::read_file(state_dir, ATTEMPTS_FILE)? else {
        return Ok(None);
    };
    match serde_json::from_slice(&bytes) {
        Ok(attempts) => Ok(Some(attempts)),
        Err(e) => {
            log::warn!(
                "{}: not valid ({e}); ignoring it",
                state_dir.join(ATTEMPTS_FILE).display()
            );
            Ok(None)
        }
    }
}

/// When the next unattended attempt may go ahead, if that is later than `now` (same boot only).
pub fn hold_until(attempts: &Attempts, boot_id: &str, now: SystemTime) -> Option<SystemTime> {
    if attempts.boot_id != boot_id {
        return None;
    }
    let next = chrono::DateTime::parse_from_rfc3339(&attempts.next_attempt_at).ok()?;
    let next = SystemTime::from(next);
    (now < next).then_some(next)
}

/// Records one more transient failure (exit `code`) and returns the new record.
pub fn record_failure(
    state_dir: &Path,
    previous: Option<&Attempts>,
    boot_id: &str,
    code: u8,
    now: SystemTime,
) -> Result<Attempts, MarkerError> {
    let failures = previous
        .filter(|a| a.boot_id == boot_id)
        .map_or(0, |a| a.failures)
        .saturating_add(1);
    let attempts = Attempts {
        boot_id: boot_id.to_owned(),
        failures,
        last_exit: code,
        last_failure_at: marker::timestamp(now),
        next_attempt_at: marker::timestamp(now + gap(failures)),
    };
    marker::write_json(state_dir, ATTEMPTS_FILE, &attempts)?;
    Ok(attempts)
}

/// Forgets the failures (after a run that did not fail transiently).
pub fn clear(state_dir: &Path) {
    let _ = std::fs::remove_file(state_dir.join(ATTEMPTS_FILE));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaps_start_after_the_free_attempts_double_and_stop_at_a_day() {
        let hours: Vec<u64> = (1..=10).map(|f| gap(f).as_secs() / 3600).collect();
        assert_eq!(hours, [0, 0, 1, 2, 4, 8, 16, 24, 24, 24]);
        assert_eq!(gap(u32::MAX), MAX_GAP);
    }

    #[test]
    fn failures_accumulate_per_boot_and_hold_unattended_runs() {
        let dir = tempfile::tempdir().unwrap();
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_262_400);
        let mut last = None;
        for n in 1..=3 {
            last = Some(record_failure(dir.path(), last.as_ref(), "boot-a", 69, t0).unwrap());
            assert_eq!(last.as_ref().unwrap().failures, n);
        }
        let a = read(dir.path()).unwrap().unwrap();
        assert_eq!(a, last.clone().unwrap());
        // The third failure: the next attempt no sooner than an hour later, in this boot.
        assert_eq!(
            hold_until(&a, "boot-a", t0 + Duration::from_secs(60)),
            Some(t0 + FIRST_GAP)
        );
        assert_eq!(hold_until(&a, "boot-a", t0 + FIRST_GAP), None);
        assert_eq!(hold_until(&a, "boot-b", t0), None, "a reboot starts afresh");
        // A failure in a new boot counts from one again.
        let b = record_failure(dir.path(), Some(&a), "boot-b", 75, t0).unwrap();
        assert_eq!((b.failures, b.last_exit), (1, 75));
        clear(dir.path());
        assert_eq!(read(dir.path()).unwrap(), None);
    }
}
