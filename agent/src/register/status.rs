//! `enlist status`: what the marker says, for humans or as JSON.
//!
//! The human form answers the questions an operator at the console has: is this node registered,
//! where is its pull request, since when, and what happens next. `--json` prints the marker itself
//! (a stable shape for scripts), or `{"state": "unregistered", …}` without one.

use std::path::Path;
use std::time::SystemTime;

use serde_json::json;

use super::marker::{self, MARKER_FILE, Marker, MarkerError, MarkerState};

/// Renders the marker in `state_dir` (or "not registered") as text or JSON.
pub fn render(state_dir: &Path, as_json: bool) -> Result<String, MarkerError> {
    let marker = marker::read(state_dir)?;
    Ok(if as_json {
        let value = match &marker {
            Some(m) => serde_json::to_value(m).unwrap_or_default(),
            None => json!({ "state": "unregistered", "state_dir": state_dir }),
        };
        format!(
            "{}\n",
            serde_json::to_string_pretty(&value).unwrap_or_default()
        )
    } else {
        human(state_dir, marker.as_ref(), SystemTime::now())
    })
}

/// The human form, with ages relative to `now`.
pub fn human(state_dir: &Path, marker: Option<&Marker>, now: SystemTime) -> String {
    let Some(m) = marker else {
        return format!(
            "not registered yet: no marker in {}\n  next: the enlist unit registers on the next \
             boot; run `enlist register` to do it now, or `enlist register --dry-run` to preview\n",
            state_dir.display()
        );
    };
    let marker_file = state_dir.join(MARKER_FILE);
    let (what, next) = match m.state {
        MarkerState::Registered => (
            "registered",
            "nothing: later boots make no request unless this machine's facts change".to_owned(),
        ),
        MarkerState::Pending => (
            "pending: pull request open, waiting for review",
            "merging registers the node, closing rejects it; the next boot checks the pull \
             request once (run `enlist register` to check now)"
                .to_owned(),
        ),
        MarkerState::Rejected => (
            "rejected: pull request closed without merge",
            format!(
                "enlist will not ask again for these facts; to register after all, reopen and \
                 merge the pull request, then delete {} and run `enlist register`",
                marker_file.display()
            ),
        ),
    };
    let mut out = format!("{}: {what}\n", m.node_id);
    let mut row = |label: &str, value: &str| {
        out.push_str(&format!("  {label:<13} {value}\n"));
    };
    if let Some(url) = &m.pr_url {
        row("pull request", url);
    }
    row("repository", &m.repo);
    row("file", &m.path);
    row("facts", &m.facts_hash);
    row("first run", &when(&m.created_at, now));
    row(
        "last change",
        &format!("{} by enlist {}", when(&m.updated_at, now), m.agent_version),
    );
    row("next", &next);
    out
}

/// `2026-11-21 10:02 UTC (3 days ago)`; an unparsable timestamp is shown as written.
fn when(rfc3339: &str, now: SystemTime) -> String {
    let Ok(at) = chrono::DateTime::parse_from_rfc3339(rfc3339) else {
        return rfc3339.to_owned();
    };
    let at = at.with_timezone(&chrono::Utc);
    let now = chrono::DateTime::<chrono::Utc>::from(now);
    format!(
        "{} ({})",
        at.format("%Y-%m-%d %H:%M UTC"),
        ago((now - at).num_seconds())
    )
}

fn ago(seconds: i64) -> String {
    let unit = |n: i64, one: &str| format!("{n} {one}{} ago", if n == 1 { "" } else { "s" });
    match seconds {
        s if s < 0 => "in the future: check the clock".to_owned(),
        0..60 => "just now".to_owned(),
        s if s < 3600 => unit(s / 60, "minute"),
        s if s < 86_400 => unit(s / 3600, "hour"),
        s => unit(s / 86_400, "day"),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::identity::NodeId;

    fn marker(state: MarkerState) -> Marker {
        Marker {
            version: marker::MARKER_VERSION,
            node_id: NodeId::parse("node-faf6ca").unwrap(),
            facts_hash: "sha256:92034e77".into(),
            repo: "acme/fleet".into(),
            path: "cluster-nodes/node-faf6ca/node.yaml".into(),
            state,
            pr_number: Some(1),
            pr_url: Some("https://github.com/acme/fleet/pull/1".into()),
            created_at: "2026-11-21T10:02:11Z".into(),
            updated_at: "2026-11-23T09:00:00Z".into(),
            agent_version: "0.1.0".into(),
        }
    }

    /// 2026-11-24T10:02:11Z.
    fn now() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_514_531)
    }

    #[test]
    fn pending_shows_the_pull_request_the_ages_and_what_happens_next() {
        let text = human(
            Path::new("/var/lib/enlist"),
            Some(&marker(MarkerState::Pending)),
            now(),
        );
        assert_eq!(
            text,
            "node-faf6ca: pending: pull request open, waiting for review\n  \
             pull request  https://github.com/acme/fleet/pull/1\n  \
             repository    acme/fleet\n  \
             file          cluster-nodes/node-faf6ca/node.yaml\n  \
             facts         sha256:92034e77\n  \
             first run     2026-11-21 10:02 UTC (3 days ago)\n  \
             last change   2026-11-23 09:00 UTC (1 day ago) by enlist 0.1.0\n  \
             next          merging registers the node, closing rejects it; the next boot checks \
             the pull request once (run `enlist register` to check now)\n"
        );
    }

    #[test]
    fn rejected_says_how_to_register_after_all_and_absent_says_how_to_start() {
        let dir = Path::new("/var/lib/enlist");
        let text = human(dir, Some(&marker(MarkerState::Rejected)), now());
        assert!(
            text.contains("delete /var/lib/enlist/registered.json"),
            "{text}"
        );
        let text = human(dir, None, now());
        assert!(text.starts_with("not registered yet"), "{text}");
        assert!(text.contains("enlist register --dry-run"), "{text}");
    }

    #[test]
    fn ages() {
        assert_eq!(ago(5), "just now");
        assert_eq!(ago(60), "1 minute ago");
        assert_eq!(ago(7200), "2 hours ago");
        assert_eq!(ago(86_400 * 40), "40 days ago");
        assert_eq!(ago(-5), "in the future: check the clock");
        assert_eq!(
            when("garbage", now()),
            "garbage",
            "shown as written when unparsable"
        );
    }
}
