//! How long GitHub wants us to wait, from a 403/429 response (pure; tested on its own).
//!
//! GitHub's documented client rule: `retry-after` if present; else, if `x-ratelimit-remaining` is
//! 0, until `x-ratelimit-reset` (epoch seconds); else (a secondary limit) at least one minute.
//! A 403 is a rate limit only with those headers or a body saying so — otherwise it is a
//! permission problem and waiting would not help.

use std::time::{Duration, SystemTime};

/// The minimum wait for a secondary rate limit without `retry-after`.
pub const SECONDARY_LIMIT_WAIT: Duration = Duration::from_secs(60);

/// The headers and body that decide.
#[derive(Debug, Default, Clone)]
pub struct LimitSignals<'a> {
    /// HTTP status.
    pub status: u16,
    /// `retry-after`.
    pub retry_after: Option<&'a str>,
    /// `x-ratelimit-remaining`.
    pub remaining: Option<&'a str>,
    /// `x-ratelimit-reset`.
    pub reset: Option<&'a str>,
    /// The JSON `message`.
    pub message: &'a str,
}

/// The wait GitHub asks for, or `None` if this is not a rate-limit response.
pub fn wait_for(signals: &LimitSignals<'_>, now: SystemTime) -> Option<Duration> {
    if !matches!(signals.status, 403 | 429) {
        return None;
    }
    if let Some(secs) = signals
        .retry_after
        .and_then(|v| v.trim().parse::<u64>().ok())
    {
        return Some(Duration::from_secs(secs));
    }
    if signals.remaining.map(str::trim) == Some("0") {
        if let Some(reset) = signals.reset.and_then(|v| v.trim().parse::<u64>().ok()) {
            let now_secs = now
                .duration_since(SystemTime::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            // One extra second: the window resets *at* that second, not before it.
            return Some(Duration::from_secs(
                reset.saturating_sub(now_secs).saturating_add(1),
            ));
        }
        return Some(SECONDARY_LIMIT_WAIT);
    }
    let message = signals.message.to_lowercase();
    if signals.status == 429 || message.contains("rate limit") || message.contains("abuse") {
        return Some(SECONDARY_LIMIT_WAIT);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn retry_after_wins() {
        let s = LimitSignals {
            status: 403,
            retry_after: Some("7"),
            remaining: Some("0"),
            reset: Some("2000"),
            message: "You have exceeded a secondary rate limit",
        };
        assert_eq!(wait_for(&s, at(1000)), Some(Duration::from_secs(7)));
    }

    #[test]
    fn primary_limit_waits_until_reset() {
        let s = LimitSignals {
            status: 403,
            remaining: Some("0"),
            reset: Some("1120"),
            message: "API rate limit exceeded for user ID 1.",
            ..LimitSignals::default()
        };
        assert_eq!(wait_for(&s, at(1000)), Some(Duration::from_secs(121)));
    }

    #[test]
    fn secondary_limit_without_headers_waits_a_minute() {
        let s = LimitSignals {
            status: 403,
            remaining: Some("4000"),
            message: "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
            ..LimitSignals::default()
        };
        assert_eq!(wait_for(&s, at(0)), Some(SECONDARY_LIMIT_WAIT));
        let s429 = LimitSignals {
            status: 429,
            ..LimitSignals::default()
        };
        assert_eq!(wait_for(&s429, at(0)), Some(SECONDARY_LIMIT_WAIT));
    }

    #[test]
    fn plain_403_is_a_permission_problem() {
        let s = LimitSignals {
            status: 403,
            remaining: Some("4999"),
            message: "Resource not accessible by personal access token",
            ..LimitSignals::default()
        };
        assert_eq!(wait_for(&s, at(0)), None);
        let s500 = LimitSignals {
            status: 500,
            retry_after: Some("1"),
            ..LimitSignals::default()
        };
        assert_eq!(wait_for(&s500, at(0)), None);
    }
}
