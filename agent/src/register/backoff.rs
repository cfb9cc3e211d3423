//! What unattended runs remember of the failed attempts of this boot, so that `enlist.timer`
//! neither hammers GitHub nor repeats a failure that a retry cannot fix.
//!
//! The unit restarts a run that ended with a transient exit (69, 73, 75) twice, 5 minutes apart, and
//! `enlist.timer` starts it again about hourly. Two kinds of failure are recorded in
//! `state_dir/attempts.json`:
//!
//! - **Transient** (69, 75: GitHub unreachable or rate-limited). A node whose uplink is down for a
//!   week would otherwise call (or try to call) GitHub every hour, and a fleet rate-limited by
//!   GitHub would keep hitting the limit. Past the first [`FREE_ATTEMPTS`], an unattended run goes
//!   ahead only [`gap`] after the last failure: 1 h, 2 h, 4 h … up to [`MAX_GAP`], each plus up to
//!   a quarter more at random ([`GAP_JITTER_DIVISOR`]) so a fleet that failed together retries
//!   apart; earlier it exits 0 at once, without a request.
//! - **On GitHub's side** (77: the credential rejected or lacking a right; 78: the repository,
//!   its base branch or the App's installation not found; 65: this node's node.yaml on the base
//!   branch is invalid). The fix is made on GitHub — a new token, a granted permission, the App
//!   installed, the file fixed or removed — and the node cannot see it happen, so an
//!   unattended run tries again after [`REMOTE_GAP`] plus up to [`REMOTE_GAP_JITTER`] (about a
//!   day, spread so a fleet held together does not come back together), or at once when the
//!   configuration or facts change. 500 nodes need no reboot after the owner fixes it.
//! - **Final** (every other code but 73, SPEC §2: 64, 65 for a node id collision, 70, 71, 76, 78
//!   for a bad config — an unexpected 422 on opening the PR). A retry repeats the same request
//!   and fails the same way, so an unattended run of the same boot with the same configuration
//!   and facts (the hash in [`inputs_hash`]) exits 0 at once, without a request, saying why and
//!   what to do. A changed config file, token, App key or hardware changes the hash: the next
//!   run tries.
//!
//! Each attempt that does go ahead keeps the per-run budgets (SPEC §4), and the unit's own
//! restart policy is untouched: its two quick restarts stay within the free attempts. A new boot
//! starts afresh (the file names its boot id), a success removes the file, and a run by a person
//! at a terminal is never held back (`Deps::honour_backoff`). Failures before the first request
//! (an unreadable config file, no usable identity) are not recorded: running them again costs
//! GitHub nothing, and they end by themselves once fixed. 73 (the state directory) is not
//! recorded either: the record would live in that directory.

use std::path::Path;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use super::marker::{self, MarkerError};
use crate::exit;

/// File name in the state directory.
pub const ATTEMPTS_FILE: &str = "attempts.json";

/// Transient failures in a row that are retried without delay: the boot run and the unit's two
/// restarts (`StartLimitBurst=3`).
pub const FREE_ATTEMPTS: u32 = 3;

/// The gap after the free attempts: the timer's interval.
pub const FIRST_GAP: Duration = Duration::from_secs(3600);

/// The longest gap between two unattended attempts: a day. A node down longer still tries daily.
/// A recorded next attempt further ahead than this (the clock was stepped back after the
/// failure was recorded) is not believed.
pub const MAX_GAP: Duration = Duration::from_secs(24 * 3600);

/// Each transient gap is lengthened by a random part of up to 1/4 of it: nodes that failed in the
/// same minute (an uplink outage, a shared rate limit) come back spread over a quarter of the gap.
pub const GAP_JITTER_DIVISOR: u32 = 4;

/// The wait after a failure that a fix on GitHub's side clears (77; 78 for a repository, base
/// branch or App installation not found): 22 h, plus up to [`REMOTE_GAP_JITTER`] — about a day.
pub const REMOTE_GAP: Duration = Duration::from_secs(22 * 3600);

/// The random part added to [`REMOTE_GAP`]: up to 4 h.
pub const REMOTE_GAP_JITTER: Duration = Duration::from_secs(4 * 3600);

/// The failed attempts of one boot.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempts {
    /// The boot they happened in (a new boot starts afresh).
    pub boot_id: String,
    /// The last one's exit code.
    pub last_exit: u8,
    /// When it ended (RFC 3339).
    pub last_failure_at: String,
    /// What it reported (one line).
    #[serde(default)]
    pub last_error: String,
    /// What holds the next unattended run back.
    #[serde(flatten)]
    pub hold: Hold,
}

/// What holds unattended runs back after a failure.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Hold {
    /// GitHub was unreachable or rate-limited (69, 75) `failures` times in a row: no unattended
    /// run before `next_attempt_at` (RFC 3339).
    Transient {
        /// Transient failures in a row.
        failures: u32,
        /// No unattended run before this (RFC 3339).
        next_attempt_at: String,
    },
    /// A failure a retry repeats: no unattended run in this boot while the configuration and the
    /// facts hash to `inputs` ([`inputs_hash`]).
    Final {
        /// [`inputs_hash`] of the failed run.
        inputs: String,
    },
    /// A failure that a fix on GitHub's side clears: no unattended run before `next_attempt_at`
    /// while the inputs stay the same.
    #[serde(rename = "on_github")]
    OnGitHub {
        /// [`inputs_hash`] of the failed run.
        inputs: String,
        /// No unattended run before this (RFC 3339).
        next_attempt_at: String,
    },
}

/// What kind of failure a run ended with, for [`record_failure`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailureKind {
    /// Exit 69/75: GitHub unreachable or rate-limited.
    Transient,
    /// A fix on GitHub's side clears it (77; 78 for what GitHub does not show the credential; 65
    /// for this node's invalid upstream node.yaml).
    OnGitHub,
    /// A retry repeats it until the inputs change.
    Final,
}

/// Why an unattended run does not go ahead now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Held {
    /// Transient failures: wait until then.
    Until(SystemTime),
    /// A final failure with these very inputs in this boot.
    Final,
    /// A failure on GitHub's side with these inputs: not before then.
    OnGitHub(SystemTime),
}

/// Whether exit `code` is transient (the unit restarts it, [`gap`] spaces the timer's runs).
pub fn is_transient(code: u8) -> bool {
    matches!(code, exit::UNAVAILABLE | exit::TEMPFAIL)
}

/// How long to wait after `failures` transient failures in a row (before jitter).
pub fn gap(failures: u32) -> Duration {
    if failures < FREE_ATTEMPTS {
        return Duration::ZERO;
    }
    let doublings = (failures - FREE_ATTEMPTS).min(16);
    FIRST_GAP.saturating_mul(1 << doublings).min(MAX_GAP)
}

/// What a run depends on, as one hash: the configuration's fingerprint
/// ([`crate::config::RegisterConfig::fingerprint`], credentials included) and this machine's
/// facts hash. A final failure is not repeated while it stays the same.
pub fn inputs_hash(config_fingerprint: &str, facts_hash: &str) -> String {
    let text = format!("enlist/attempt/v1\n{config_fingerprint}\n{facts_hash}");
    format!("sha256:{}", crate::hash::sha256_hex(text.as_bytes()))
}

/// The recorded attempts, if any (a file that does not parse is ignored with a warning: the
/// worst case is one attempt too early).
pub fn read(state_dir: &Path) -> Result<Option<Attempts>, MarkerError> {
    let Some(bytes) = marker::read_file(state_dir, ATTEMPTS_FILE)? else {
        return Ok(None);
    };
    match serde_json::from_slice(&bytes) {
        Ok(attempts) => Ok(Some(attempts)),
        Err(_) if let Ok(old) = serde_json::from_slice::<FirstAttempts>(&bytes) => {
            Ok(Some(old.into()))
        }
        Err(e) => {
            log::warn!(
                "{}: not valid ({e}); ignoring it",
                state_dir.join(ATTEMPTS_FILE).display()
            );
            Ok(None)
        }
    }
}

/// `attempts.json` as the first enlist with a timer wrote it (transient failures only, no
/// `kind`): an upgrade without a reboot (`nixos-rebuild switch`) keeps the boot's hold.
#[derive(Deserialize)]
struct FirstAttempts {
    boot_id: String,
    failures: u32,
    last_exit: u8,
    last_failure_at: String,
    next_attempt_at: String,
}

impl From<FirstAttempts> for Attempts {
    fn from(old: FirstAttempts) -> Attempts {
        Attempts {
            boot_id: old.boot_id,
            last_exit: old.last_exit,
            last_failure_at: old.last_failure_at,
            last_error: String::new(),
            hold: Hold::Transient {
                failures: old.failures,
                next_attempt_at: old.next_attempt_at,
            },
        }
    }
}

/// Whether an unattended run of boot `boot_id` with inputs `inputs` ([`inputs_hash`]) is held
/// back at `now`, and why. Another boot, other inputs after a final failure, or a transient
/// gap that has passed: not held.
pub fn held(attempts: &Attempts, boot_id: &str, inputs: &str, now: SystemTime) -> Option<Held> {
    if attempts.boot_id != boot_id {
        return None;
    }
    match &attempts.hold {
        Hold::Final { inputs: failed } => (failed == inputs).then_some(Held::Final),
        Hold::OnGitHub {
            inputs: failed,
            next_attempt_at,
        } => {
            if failed != inputs {
                return None;
            }
            let next = believed(next_attempt_at, REMOTE_GAP + REMOTE_GAP_JITTER, now)?;
            (now < next).then_some(Held::OnGitHub(next))
        }
        Hold::Transient {
            next_attempt_at, ..
        } => {
            let next = believed(next_attempt_at, MAX_GAP + MAX_GAP / GAP_JITTER_DIVISOR, now)?;
            (now < next).then_some(Held::Until(next))
        }
    }
}

/// A recorded next attempt, unless it is further ahead than `longest` from `now`: then it was
/// recorded under a clock that ran ahead (NTP stepped it back since), and believing it would
/// hold every unattended run for the rest of the boot.
fn believed(next_attempt_at: &str, longest: Duration, now: SystemTime) -> Option<SystemTime> {
    let next = SystemTime::from(chrono::DateTime::parse_from_rfc3339(next_attempt_at).ok()?);
    if next > now + longest {
        log::warn!(
            "attempts.json says the next attempt is at {next_attempt_at}, more than {} h from now \
             ({}): the clock was changed since; not waiting for it",
            longest.as_secs() / 3600,
            marker::timestamp(now)
        );
        return None;
    }
    Some(next)
}

/// A failed run, as [`record_failure`] records it.
#[derive(Clone, Copy, Debug)]
pub struct Failure<'a> {
    /// Its exit code.
    pub code: u8,
    /// Its message.
    pub error: &'a str,
    /// What kind of failure it is.
    pub kind: FailureKind,
    /// A random fraction in `0..=1` for the gap's jitter (seeded in tests).
    pub jitter: f64,
}

/// Records a failed run with `inputs` ([`inputs_hash`]) and returns the new record: one more
/// transient failure (counted per boot), one on GitHub's side, or a final one.
pub fn record_failure(
    state_dir: &Path,
    previous: Option<&Attempts>,
    boot_id: &str,
    failure: Failure<'_>,
    inputs: &str,
    now: SystemTime,
) -> Result<Attempts, MarkerError> {
    let Failure {
        code,
        error,
        kind,
        jitter,
    } = failure;
    let jitter = jitter.clamp(0.0, 1.0);
    let hold = if kind == FailureKind::Transient {
        let failures = match previous {
            Some(Attempts {
                boot_id: b,
                hold: Hold::Transient { failures, .. },
                ..
            }) if b == boot_id => *failures,
            _ => 0,
        }
        .saturating_add(1);
        let gap = gap(failures);
        let spread = (gap / GAP_JITTER_DIVISOR).mul_f64(jitter);
        Hold::Transient {
            failures,
            next_attempt_at: marker::timestamp(now + gap + spread),
        }
    } else if kind == FailureKind::OnGitHub {
        Hold::OnGitHub {
            inputs: inputs.to_owned(),
            next_attempt_at: marker::timestamp(
                now + REMOTE_GAP + REMOTE_GAP_JITTER.mul_f64(jitter),
            ),
        }
    } else {
        Hold::Final {
            inputs: inputs.to_owned(),
        }
    };
    let attempts = Attempts {
        boot_id: boot_id.to_owned(),
        last_exit: code,
        last_failure_at: marker::timestamp(now),
        last_error: crate::markdown::one_line(error),
        hold,
    };
    marker::write_json(state_dir, ATTEMPTS_FILE, &attempts)?;
    Ok(attempts)
}

/// Forgets the failures (after a run that did not fail).
pub fn clear(state_dir: &Path) {
    let _ = std::fs::remove_file(state_dir.join(ATTEMPTS_FILE));
}

/// What a person should do about the recorded failures (for `enlist status` and the log of a
/// held-back run).
pub fn advice(attempts: &Attempts, state_dir: &Path) -> String {
    match &attempts.hold {
        Hold::Transient {
            failures,
            next_attempt_at,
        } => format!(
            "{failures} transient failure(s) in a row this boot (the last exited {} at {}); \
             GitHub is not asked again before {next_attempt_at} (enlist.timer tries then; \
             `enlist register` in a terminal tries now)",
            attempts.last_exit, attempts.last_failure_at
        ),
        Hold::OnGitHub {
            next_attempt_at, ..
        } => format!(
            "the last attempt this boot exited {} at {}: {}; the fix is on GitHub's side (the \
             message says what), so enlist.timer tries again after {next_attempt_at} (about a \
             day later) without a reboot; once it is fixed, `enlist register` in a terminal \
             tries now",
            attempts.last_exit, attempts.last_failure_at, attempts.last_error
        ),
        Hold::Final { .. } => format!(
            "the last attempt this boot exited {} at {} with an error a retry would repeat: {}; \
             unattended runs do not try again in this boot with the same configuration and facts. \
             Fix the cause (the message says how), then reboot, change the configuration, run \
             `enlist register` in a terminal, or remove {} and `systemctl start enlist`",
            attempts.last_exit,
            attempts.last_failure_at,
            attempts.last_error,
            state_dir.join(ATTEMPTS_FILE).display()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INPUTS: &str = "sha256:aa";

    fn transient(code: u8) -> Failure<'static> {
        Failure {
            code,
            error: "x",
            kind: FailureKind::Transient,
            jitter: 0.0,
        }
    }

    /// Review of issue 26: `attempts.json` as the first enlist with a timer (issue 19) wrote it,
    /// before `kind`: an upgrade without a reboot (`nixos-rebuild switch`) keeps its hold.
    #[test]
    fn an_attempts_file_from_before_kinds_is_read_as_a_transient_hold() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(ATTEMPTS_FILE),
            r#"{"boot_id": "boot-a", "failures": 5, "last_exit": 69, "last_failure_at": "2026-11-21T10:00:00Z", "next_attempt_at": "2026-11-21T14:00:00Z"}"#,
        )
        .unwrap();
        let attempts = read(dir.path()).unwrap().expect("read, not ignored");
        assert_eq!(
            attempts.hold,
            Hold::Transient {
                failures: 5,
                next_attempt_at: "2026-11-21T14:00:00Z".into()
            }
        );
        assert_eq!(attempts.last_exit, 69);
        let at = |s: &str| SystemTime::from(chrono::DateTime::parse_from_rfc3339(s).unwrap());
        assert_eq!(
            held(&attempts, "boot-a", INPUTS, at("2026-11-21T11:00:00Z")),
            Some(Held::Until(at("2026-11-21T14:00:00Z")))
        );
    }

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
            let a = record_failure(
                dir.path(),
                last.as_ref(),
                "boot-a",
                transient(69),
                INPUTS,
                t0,
            );
            last = Some(a.unwrap());
            assert!(
                matches!(last.as_ref().unwrap().hold, Hold::Transient { failures, .. } if failures == n)
            );
        }
        let a = read(dir.path()).unwrap().unwrap();
        assert_eq!(a, last.clone().unwrap());
        // The third failure: the next attempt no sooner than an hour later, in this boot.
        assert_eq!(
            held(&a, "boot-a", INPUTS, t0 + Duration::from_secs(60)),
            Some(Held::Until(t0 + FIRST_GAP))
        );
        assert_eq!(held(&a, "boot-a", INPUTS, t0 + FIRST_GAP), None);
        assert_eq!(
            held(&a, "boot-b", INPUTS, t0),
            None,
            "a reboot starts afresh"
        );
        // A failure in a new boot counts from one again.
        let b = record_failure(dir.path(), Some(&a), "boot-b", transient(75), INPUTS, t0).unwrap();
        assert_eq!(b.last_exit, 75);
        assert!(matches!(b.hold, Hold::Transient { failures: 1, .. }));
        clear(dir.path());
        assert_eq!(read(dir.path()).unwrap(), None);
    }

    #[test]
    fn a_final_failure_holds_the_same_inputs_in_the_same_boot_only() {
        let dir = tempfile::tempdir().unwrap();
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_262_400);
        let a = record_failure(
            dir.path(),
            None,
            "boot-a",
            Failure {
                code: 65,
                error: "GitHub refused\n",
                kind: FailureKind::Final,
                jitter: 0.0,
            },
            INPUTS,
            t0,
        )
        .unwrap();
        assert_eq!(a.last_error, "GitHub refused\u{FFFD}", "one line");
        assert_eq!(
            a.hold,
            Hold::Final {
                inputs: INPUTS.into()
            }
        );
        // No time makes it go away in this boot: only other inputs or another boot.
        assert_eq!(
            held(&a, "boot-a", INPUTS, t0 + MAX_GAP * 30),
            Some(Held::Final)
        );
        assert_eq!(held(&a, "boot-a", "sha256:bb", t0), None);
        assert_eq!(held(&a, "boot-b", INPUTS, t0), None);
        // A transient failure after it counts from one.
        let b = record_failure(dir.path(), Some(&a), "boot-a", transient(69), INPUTS, t0).unwrap();
        assert!(matches!(b.hold, Hold::Transient { failures: 1, .. }));
        // Every code but 69/73/75 is final; the inputs hash depends on both halves.
        for code in [64, 65, 70, 71, 76, 77, 78] {
            assert!(!is_transient(code), "{code}");
        }
        assert!(is_transient(69) && is_transient(75));
        assert_ne!(inputs_hash("c1", "f"), inputs_hash("c2", "f"));
        assert_ne!(inputs_hash("c", "f1"), inputs_hash("c", "f2"));
    }

    #[test]
    fn a_next_attempt_beyond_the_longest_gap_is_not_believed() {
        // Recorded while the clock was a week ahead; NTP then stepped it back.
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_262_400);
        let ahead = now + Duration::from_secs(7 * 24 * 3600);
        let a = Attempts {
            boot_id: "boot-a".into(),
            last_exit: 69,
            last_failure_at: marker::timestamp(ahead),
            last_error: String::new(),
            hold: Hold::Transient {
                failures: 3,
                next_attempt_at: marker::timestamp(ahead + FIRST_GAP),
            },
        };
        assert_eq!(held(&a, "boot-a", INPUTS, now), None);
        // Within the longest gap it is believed, up to its last second.
        let within = Attempts {
            hold: Hold::Transient {
                failures: 8,
                next_attempt_at: marker::timestamp(now + MAX_GAP),
            },
            ..a
        };
        assert_eq!(
            held(&within, "boot-a", INPUTS, now),
            Some(Held::Until(now + MAX_GAP))
        );
    }

    #[test]
    fn a_failure_on_githubs_side_is_tried_again_about_a_day_later() {
        let dir = tempfile::tempdir().unwrap();
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_262_400);
        let failure = Failure {
            code: 77,
            error: "GitHub refused creating branch enlist/node-1 (403 Resource not accessible)",
            kind: FailureKind::OnGitHub,
            jitter: 0.5,
        };
        let a = record_failure(dir.path(), None, "boot-a", failure, INPUTS, t0).unwrap();
        let next = t0 + REMOTE_GAP + REMOTE_GAP_JITTER / 2;
        assert_eq!(
            a.hold,
            Hold::OnGitHub {
                inputs: INPUTS.into(),
                next_attempt_at: marker::timestamp(next)
            }
        );
        assert_eq!(read(dir.path()).unwrap(), Some(a.clone()));
        // Held in this boot until then, without a reboot after it: the timer's run tries.
        let hour = Duration::from_secs(3600);
        assert_eq!(
            held(&a, "boot-a", INPUTS, t0 + hour),
            Some(Held::OnGitHub(next))
        );
        assert_eq!(held(&a, "boot-a", INPUTS, next), None);
        // Another configuration (a new token) or another boot: at once.
        assert_eq!(held(&a, "boot-a", "sha256:bb", t0), None);
        assert_eq!(held(&a, "boot-b", INPUTS, t0), None);
        assert!(advice(&a, dir.path()).contains("GitHub's side"));
        // Jitter 0 and 1 span 22 h to 26 h: a fleet held together comes back apart.
        for (jitter, hours) in [(0.0, 22), (1.0, 26)] {
            let a = record_failure(
                dir.path(),
                None,
                "boot-a",
                Failure { jitter, ..failure },
                INPUTS,
                t0,
            )
            .unwrap();
            let until = t0 + hour * hours;
            assert_eq!(held(&a, "boot-a", INPUTS, t0), Some(Held::OnGitHub(until)));
        }
    }

    #[test]
    fn transient_gaps_are_lengthened_by_up_to_a_quarter_at_random() {
        let dir = tempfile::tempdir().unwrap();
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_262_400);
        let mut last = None;
        for _ in 0..3 {
            let failure = Failure {
                jitter: 1.0,
                ..transient(75)
            };
            last = Some(
                record_failure(dir.path(), last.as_ref(), "boot-a", failure, INPUTS, t0).unwrap(),
            );
        }
        let a = last.unwrap();
        // The third failure: 1 h + 15 min at the most jitter.
        assert_eq!(
            held(&a, "boot-a", INPUTS, t0),
            Some(Held::Until(t0 + Duration::from_secs(75 * 60)))
        );
    }
}
