//! `enlist status`: what the marker says, for humans or as JSON.

use std::path::Path;

use serde_json::json;

use crate::marker::{self, Marker, MarkerError, MarkerState};

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
        human(state_dir, marker.as_ref())
    })
}

fn human(state_dir: &Path, marker: Option<&Marker>) -> String {
    let Some(m) = marker else {
        return format!(
            "not registered yet (no marker in {}); the enlist unit registers on boot, or run `enlist register`\n",
            state_dir.display()
        );
    };
    let what = match m.state {
        MarkerState::Registered => "registered",
        MarkerState::Pending => "pending: pull request open",
        MarkerState::Rejected => {
            "rejected: pull request closed without merge (not retried for these facts)"
        }
    };
    let mut out = format!(
        "{} — {what}\n  repository: {}\n  path:       {}\n  facts:      {}\n",
        m.node_id, m.repo, m.path, m.facts_hash
    );
    if let Some(url) = &m.pr_url {
        out.push_str(&format!("  pull:       {url}\n"));
    }
    out.push_str(&format!(
        "  since:      {} (updated {}, enlist {})\n",
        m.created_at, m.updated_at, m.agent_version
    ));
    out
}
