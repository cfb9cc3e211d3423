//! Wait until GitHub can be talked to: the clock is plausible (TLS certificate validation fails
//! with a clock in the past) and the API answers. `network-online.target` only means an address
//! is configured, not that GitHub is reachable, so the first request is retried with capped
//! exponential backoff and jitter until `readiness_timeout_secs` (then exit 69).

use std::future::Future;
use std::time::{Duration, SystemTime};

use backon::{BackoffBuilder, ExponentialBuilder};

use crate::clock::Clock;
use crate::forge::ForgeError;

/// A wall clock before this instant (2026-11-01T00:00:00Z, before this release existed) is wrong:
/// the RTC was not set and time sync has not happened yet.
pub const EARLIEST_PLAUSIBLE_UNIX: u64 = 1_793_491_200;

/// Longest single wait between readiness probes.
pub const MAX_PROBE_DELAY: Duration = Duration::from_secs(60);

/// GitHub did not become usable in time.
#[derive(Debug, thiserror::Error)]
pub enum NotReady {
    /// The API never answered.
    #[error(
        "GitHub was not reachable within {timeout}s (last error: {last}); check the network, DNS and \
         proxy, or raise readiness_timeout_secs"
    )]
    Unreachable {
        /// The configured timeout.
        timeout: u64,
        /// The last failure.
        last: ForgeError,
    },
    /// The clock stayed implausible.
    #[error(
        "the system clock is before {EARLIEST_PLAUSIBLE_UNIX} (unix time) and did not get synced \
         within {timeout}s; TLS would fail: enable time sync (systemd-timesyncd/chrony) and order \
         enlist after time-sync.target"
    )]
    ClockNotSynced {
        /// The configured timeout.
        timeout: u64,
    },
}

/// Runs `probe` until it gets an answer from GitHub (success, or a definite HTTP error which is
/// returned as is), retrying transport errors and 5xx until `timeout` has elapsed on `clock`, or
/// the run's `deadline` (a [`Clock::elapsed`] value) has come, whichever is first.
pub async fn wait_until_ready<T, F, Fut>(
    clock: &dyn Clock,
    timeout: Duration,
    deadline: Duration,
    jitter_seed: Option<u64>,
    mut probe: F,
) -> Result<Result<T, ForgeError>, NotReady>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ForgeError>>,
{
    let mut builder = ExponentialBuilder::default()
        .with_min_delay(Duration::from_secs(1))
        .with_max_delay(MAX_PROBE_DELAY)
        .with_factor(2.0)
        .without_max_times()
        .with_jitter();
    if let Some(seed) = jitter_seed {
        builder = builder.with_jitter_seed(seed);
    }
    let mut backoff = builder.build();
    // The deadline counts from the start of the wait, not of the process: a start jitter or a
    // wait for the lock must not eat the readiness budget.
    let started = clock.elapsed();
    // The readiness budget, cut short by the run's deadline.
    let timeout = timeout.min(deadline.saturating_sub(started));
    let mut delay = move || {
        backoff
            .next()
            .unwrap_or(MAX_PROBE_DELAY)
            .min(MAX_PROBE_DELAY)
    };

    let earliest = SystemTime::UNIX_EPOCH + Duration::from_secs(EARLIEST_PLAUSIBLE_UNIX);
    while clock.now() < earliest {
        let wait = delay();
        if clock.elapsed().saturating_sub(started) + wait > timeout {
            return Err(NotReady::ClockNotSynced {
                timeout: timeout.as_secs(),
            });
        }
        log::warn!("system clock is not plausible yet (before 2026-11-01); waiting for time sync");
        crate::logging::status("waiting for time sync");
        clock.sleep(wait).await;
    }

    loop {
        match probe().await {
            // The deadline fell while a probe was in flight (a server that never finishes its
            // answer): GitHub never answered.
            Err(e @ ForgeError::RunTimeout { .. }) => {
                return Err(NotReady::Unreachable {
                    timeout: timeout.as_secs(),
                    last: e,
                });
            }
            Err(e) if e.is_ambiguous() => {
                let wait = delay();
                if clock.elapsed().saturating_sub(started) + wait > timeout {
                    return Err(NotReady::Unreachable {
                        timeout: timeout.as_secs(),
                        last: e,
                    });
                }
                log::warn!(
                    "GitHub not reachable yet ({e}); retrying in {:.1}s",
                    wait.as_secs_f64()
                );
                crate::logging::status("waiting for GitHub to be reachable");
                clock.sleep(wait).await;
            }
            answer => return Ok(answer),
        }
    }
}
