//! `enlist status`: what the marker says, for humans or as JSON.
//!
//! The human form answers the questions an operator at the console has: is this node registered,
//! where is its pull request, will GitHub merge it by itself (auto-merge) and what do its checks
//! say, since when, and what happens next. `--json` prints the marker itself (a stable shape for
//! scripts, with `auto_merge` and `checks`), or `{"state": "unregistered", …}` without one, plus
//! `next` (what to do, the text form's `next` row) and `attempts` (the failed attempts of this
//! boot, [`super::backoff`], or `null`).
//! Check names, URLs and titles come from GitHub (other people's CI): they are printed on one
//! line with control characters replaced, so nothing reaches the terminal as an escape sequence.

use std::path::Path;
use std::time::SystemTime;

use serde_json::json;

use super::backoff::Attempts;
use super::marker::{
    self, AutoMergeRecord, ChecksState, MARKER_FILE, Marker, MarkerError, MarkerState,
};
use super::pr::plain;

/// Renders the marker in `state_dir` (or "not registered") as text or JSON, with the failed
/// attempts of this boot when there are any ([`super::backoff`]). Both forms say what to do
/// next: the JSON keeps the marker's fields as they are and adds `next` (the same sentence as
/// the text's `next` row) and `attempts` (the record, or `null`).
pub fn render(state_dir: &Path, as_json: bool) -> Result<String, MarkerError> {
    let marker = marker::read(state_dir)?;
    let attempts = super::backoff::read(state_dir)?;
    let next = next(state_dir, marker.as_ref(), attempts.as_ref());
    Ok(if as_json {
        let mut value = match &marker {
            Some(m) => serde_json::to_value(m).unwrap_or_default(),
            None => json!({ "state": "unregistered", "state_dir": state_dir }),
        };
        if let Some(object) = value.as_object_mut() {
            object.insert("attempts".into(), json!(attempts));
            object.insert("next".into(), json!(next));
        }
        format!(
            "{}\n",
            serde_json::to_string_pretty(&value).unwrap_or_default()
        )
    } else {
        human(
            state_dir,
            marker.as_ref(),
            attempts.as_ref(),
            SystemTime::now(),
        )
    })
}

/// What happens next and what to do, from the marker and the failed attempts of this boot.
pub fn next(state_dir: &Path, marker: Option<&Marker>, attempts: Option<&Attempts>) -> String {
    match (marker.map(|m| m.state), attempts) {
        (Some(MarkerState::Registered), _) => {
            "nothing: later boots make no request unless this machine's facts change".to_owned()
        }
        (Some(MarkerState::Rejected), _) => format!(
            "enlist will not ask again for these facts; to register after all, reopen and merge \
             the pull request, then delete {} and run `enlist register`",
            state_dir.join(MARKER_FILE).display()
        ),
        (_, Some(a)) => super::backoff::advice(a, state_dir),
        (Some(MarkerState::Pending), None) => marker.map(pending_next).unwrap_or_default(),
        (None, None) => "the enlist unit registers on the next boot; run `enlist register` to do \
                         it now, or `enlist register --dry-run` to preview"
            .to_owned(),
    }
}

/// The human form, with ages relative to `now`.
pub fn human(
    state_dir: &Path,
    marker: Option<&Marker>,
    attempts: Option<&Attempts>,
    now: SystemTime,
) -> String {
    let next = next(state_dir, marker, attempts);
    let last_attempt = attempts.map(|a| {
        format!(
            "exited {} at {}: {}",
            a.last_exit,
            a.last_failure_at,
            plain(&a.last_error)
        )
    });
    let Some(m) = marker else {
        let mut out = format!("not registered yet: no marker in {}\n", state_dir.display());
        if let Some(line) = last_attempt {
            out.push_str(&format!("  last attempt: {line}\n"));
        }
        out.push_str(&format!("  next: {next}\n"));
        return out;
    };
    let what = match m.state {
        MarkerState::Registered => "registered",
        MarkerState::Pending => "pending: pull request open",
        MarkerState::Rejected => "rejected: pull request closed without merge",
    };
    let mut out = format!("{}: {what}\n", m.node_id);
    let mut row = |label: &str, value: &str| {
        out.push_str(&format!("  {label:<13} {value}\n"));
    };
    if let Some(url) = &m.pr_url {
        row("pull request", &plain(url));
    }
    if m.state == MarkerState::Pending {
        row("auto-merge", &auto_merge_line(m.auto_merge.as_ref()));
        for warning in &m.warnings {
            row(
                "warning",
                &format!(
                    "{} refused: GitHub said \"{}\"; {}",
                    plain(&warning.step),
                    plain(&warning.message),
                    plain(&warning.advice)
                ),
            );
        }
        match &m.checks {
            None => row("checks", "not read yet"),
            Some(c) if c.state == ChecksState::Unreadable => row(
                "checks",
                "unreadable: the token may not read them; give it Checks: read and Commit \
                 statuses: read",
            ),
            Some(c) => {
                row(
                    "checks",
                    &format!(
                        "{}{}",
                        c.state.as_str(),
                        match c.source {
                            marker::CheckSource::CheckRuns => "",
                            marker::CheckSource::Statuses => " (commit statuses)",
                        }
                    ),
                );
                for check in &c.checks {
                    let state = check.conclusion.as_deref().unwrap_or(&check.status);
                    let mark = if marker::is_failure(check) {
                        "✗"
                    } else if check.conclusion.is_none() {
                        "…"
                    } else {
                        "✓"
                    };
                    let mut line = format!("{mark} {} — {}", plain(&check.name), plain(state));
                    if !check.url.is_empty() {
                        line.push_str(&format!("  {}", plain(&check.url)));
                    }
                    if let Some(title) = &check.title {
                        line.push_str(&format!("  ({})", plain(title)));
                    }
                    row("", &line);
                }
            }
        }
    }
    row("repository", &m.repo);
    row("file", &m.path);
    row("facts", &m.facts_hash);
    row("first run", &when(&m.created_at, now));
    row(
        "last change",
        &format!("{} by enlist {}", when(&m.updated_at, now), m.agent_version),
    );
    if let Some(line) = &last_attempt {
        row("last attempt", line);
    }
    row("next", &next);
    out
}

fn auto_merge_line(record: Option<&AutoMergeRecord>) -> String {
    match record {
        None => "unknown (not turned on by enlist)".to_owned(),
        Some(AutoMergeRecord::Enabled { method }) => format!(
            "on ({}): GitHub merges once the base branch's rules (the reconcile check) hold",
            plain(method)
        ),
        Some(AutoMergeRecord::Refused {
            message, advice, ..
        }) => format!(
            "off: GitHub refused (\"{}\"); the repository owner should {} (enlist asks again \
             once in each later boot)",
            plain(message),
            plain(advice)
        ),
        Some(AutoMergeRecord::Off) => "off (auto_merge: off): a person merges".to_owned(),
        Some(AutoMergeRecord::ForeignCommits { off: true }) => {
            "off: someone else changed the pull request (commits this node did not write, or its base branch); a person reviews, then merges \
             or closes the pull request"
                .to_owned()
        }
        Some(AutoMergeRecord::ForeignCommits { off: false }) => {
            "ON, but someone else changed the pull request (commits this node did not write, or its base branch) and GitHub refused to turn \
             auto-merge off: turn it off on the pull request now, then review the change"
                .to_owned()
        }
        Some(AutoMergeRecord::NotForUpdates) => {
            "off for facts updates (auto_merge_updates: false): a person reviews the hardware \
             change"
                .to_owned()
        }
        Some(AutoMergeRecord::TurnedOff) => {
            "off: enlist turned it on, then it was turned off on GitHub (by a person, or by GitHub \
             after a push by someone without write access); enlist leaves it off: a person merges, \
             or turns auto-merge on again"
                .to_owned()
        }
        Some(AutoMergeRecord::HostKeyChanged) => {
            "off: the SSH host key changed; a person re-encrypts the node's secrets to its new \
             key and merges (never automatic, even with auto_merge_updates: true)"
                .to_owned()
        }
    }
}

/// What happens next for a pending registration, from its checks and auto-merge.
fn pending_next(m: &Marker) -> String {
    const RECHECK: &str = "the enlist timer checks again within the hour (run `enlist register` \
                           to check now)";
    let auto = matches!(m.auto_merge, Some(AutoMergeRecord::Enabled { .. }));
    if let Some(AutoMergeRecord::ForeignCommits { off }) = &m.auto_merge {
        return format!(
            "auto-merge off: someone else changed the pull request (commits this node did not write, or its base branch). {}Review those \
             commits, then merge or close the pull request yourself; the node never turns \
             auto-merge on for it and never force-pushes, resets or rewrites the branch (if its \
             facts change it adds a commit with the new node.yaml and comments), and keeps \
             reading the PR ({RECHECK})",
            if *off {
                ""
            } else {
                "GitHub refused to turn it off for enlist: turn it off on the pull request first. "
            }
        );
    }
    match m.checks.as_ref().map(|c| (c.state, c)) {
        Some((ChecksState::Failed, c)) => {
            let failed: Vec<String> = c
                .failed()
                .map(|f| {
                    if f.url.is_empty() {
                        format!("the {} check failed", plain(&f.name))
                    } else {
                        format!(
                            "the {} check failed: open {}",
                            plain(&f.name),
                            plain(&f.url)
                        )
                    }
                })
                .collect();
            format!(
                "{}; fix the inventory or the node, then push — the node refreshes its PR when \
                 its facts change",
                failed.join("; ")
            )
        }
        Some((ChecksState::Passed, _)) if auto => {
            format!("the checks passed: GitHub merges it now; {RECHECK}")
        }
        Some((ChecksState::Pending, _)) if auto => {
            format!("checks are running; GitHub merges it when the required ones pass; {RECHECK}")
        }
        _ if auto => format!("GitHub merges it once the base branch's rules hold; {RECHECK}"),
        _ => {
            format!("waiting for review: merging registers the node, closing rejects it; {RECHECK}")
        }
    }
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
    use crate::forge::Check;
    use crate::identity::NodeId;

    fn marker(state: MarkerState) -> Marker {
        Marker {
            node_id: NodeId::parse("node-faf6ca").unwrap(),
            facts_hash: "sha256:92034e77".into(),
            path: "cluster-nodes/node-faf6ca/node.yaml".into(),
            state,
            pr_number: Some(1),
            pr_url: Some("https://github.com/acme/fleet/pull/1".into()),
            created_at: "2026-11-21T10:02:11Z".into(),
            updated_at: "2026-11-23T09:00:00Z".into(),
            ..marker::sample()
        }
    }

    /// 2026-11-24T10:02:11Z.
    fn now() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_514_531)
    }

    #[test]
    fn foreign_commits_and_refused_labels_are_shown_with_what_to_do() {
        let mut m = marker(MarkerState::Pending);
        m.auto_merge = Some(AutoMergeRecord::ForeignCommits { off: true });
        m.warnings = vec![marker::Warning {
            step: "labels".into(),
            message: "Resource not accessible\u{1b}[2J".into(),
            advice: "create the labels".into(),
        }];
        m.pr_url = Some("https://github.com/acme/fleet/pull/1\u{1b}]8;;x".into());
        let text = human(Path::new("/var/lib/enlist"), Some(&m), None, now());
        assert!(
            text.contains(
                "auto-merge    off: someone else changed the pull request (commits this node did not write, or its base branch); a person \
                 reviews, then merges or closes the pull request"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "warning       labels refused: GitHub said \"Resource not accessible\\u{1b}[2J\"; \
                 create the labels"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "next          auto-merge off: someone else changed the pull request (commits this node did not write, or its base branch)"
            ),
            "{text}"
        );
        assert!(
            !text.contains('\u{1b}'),
            "no escape sequence reaches the terminal: {text}"
        );
    }

    #[test]
    fn pending_shows_the_pull_request_the_ages_and_what_happens_next() {
        let text = human(
            Path::new("/var/lib/enlist"),
            Some(&marker(MarkerState::Pending)),
            None,
            now(),
        );
        assert_eq!(
            text,
            "node-faf6ca: pending: pull request open\n  \
             pull request  https://github.com/acme/fleet/pull/1\n  \
             auto-merge    unknown (not turned on by enlist)\n  \
             checks        not read yet\n  \
             repository    acme/fleet\n  \
             file          cluster-nodes/node-faf6ca/node.yaml\n  \
             facts         sha256:92034e77\n  \
             first run     2026-11-21 10:02 UTC (3 days ago)\n  \
             last change   2026-11-23 09:00 UTC (1 day ago) by enlist 0.1.0\n  \
             next          waiting for review: merging registers the node, closing rejects it; \
             the enlist timer checks again within the hour (run `enlist register` to check now)\n"
        );
    }

    #[test]
    fn failed_check_is_named_with_its_url_and_what_to_do() {
        let mut m = marker(MarkerState::Pending);
        m.auto_merge = Some(AutoMergeRecord::Enabled {
            method: "squash".into(),
        });
        m.checks = Some(marker::Checks::new(
            marker::CheckSource::CheckRuns,
            vec![
                Check {
                    name: "enlist reconcile".into(),
                    status: "completed".into(),
                    conclusion: Some("failure".into()),
                    url: "https://github.com/acme/fleet/actions/runs/9".into(),
                    title: Some("1 duplicate identity".into()),
                },
                Check {
                    name: "lint\u{1b}[2J".into(),
                    status: "completed".into(),
                    conclusion: Some("success".into()),
                    url: String::new(),
                    title: None,
                },
            ],
        ));
        let text = human(Path::new("/var/lib/enlist"), Some(&m), None, now());
        assert!(
            text.contains(
                "  auto-merge    on (squash): GitHub merges once the base branch's rules (the \
                 reconcile check) hold\n  checks        failed\n                \
                 ✗ enlist reconcile — failure  https://github.com/acme/fleet/actions/runs/9  \
                 (1 duplicate identity)\n"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "  next          the enlist reconcile check failed: open \
                 https://github.com/acme/fleet/actions/runs/9; fix the inventory or the node, \
                 then push"
            ),
            "{text}"
        );
        assert!(
            !text.contains('\u{1b}'),
            "no escape sequence reaches the terminal"
        );
        m.auto_merge = Some(AutoMergeRecord::Refused {
            reason: "not_allowed".into(),
            message: "Pull request Auto merge is not allowed for this repository".into(),
            advice: "allow auto-merge in the repository".into(),
        });
        let text = human(Path::new("/var/lib/enlist"), Some(&m), None, now());
        assert!(text.contains("off: GitHub refused (\"Pull request Auto merge is not allowed for this repository\"); the repository owner should allow auto-merge"), "{text}");
    }

    #[test]
    fn rejected_says_how_to_register_after_all_and_absent_says_how_to_start() {
        let dir = Path::new("/var/lib/enlist");
        let text = human(dir, Some(&marker(MarkerState::Rejected)), None, now());
        assert!(
            text.contains("delete /var/lib/enlist/registered.json"),
            "{text}"
        );
        let text = human(dir, None, None, now());
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
