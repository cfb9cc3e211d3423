//! The gate's verdict as text (a terminal, a CI log), JSON, GitHub Actions annotations and the
//! job summary (Markdown). Pure functions of the [`Verdict`].
//!
//! Paths, node ids and logins come from the pull request: they leave through reconcile's
//! renderers, as every value from a file does — one line without control or invisible characters
//! in text and annotations, code spans in Markdown ([`crate::reconcile::render::md_prose`]), and
//! the text made safe for a CI log last ([`crate::reconcile::render::log_safe`]), so a file named
//! `::add-mask::…` or `@acme/admins` stays just a name.

use std::fmt::Write as _;

use super::verdict::{Kind, Verdict};
use crate::forge::short_sha;
use crate::markdown;
use crate::reconcile::render::{annotation, log_safe, md_prose, plain};

/// The one-line summary: what it is and whether it passes.
fn headline(verdict: &Verdict) -> String {
    let what = match (verdict.kind, &verdict.node_id, &verdict.approved_by) {
        (Kind::Registration, Some(id), _) => format!("registration of node {}", plain(id)),
        (Kind::Update, Some(id), _) => format!("update of node {}", plain(id)),
        (Kind::Approved, _, Some(by)) => format!("approved by {}", plain(by)),
        _ => "needs a person".to_owned(),
    };
    format!(
        "enlist gate: {} — {what} (#{} at {})",
        if verdict.pass { "PASS" } else { "FAIL" },
        verdict.pr,
        short_sha(&verdict.head_sha)
    )
}

/// For a terminal or a CI log.
pub fn text(verdict: &Verdict) -> String {
    let mut out = headline(verdict);
    out.push('\n');
    for file in &verdict.files {
        let _ = writeln!(
            out,
            "  {:<9} {}: {}",
            plain(&file.status),
            plain(&file.path),
            file.reason
        );
    }
    if !verdict.reviews.is_empty() {
        out.push_str("reviews:\n");
        for note in &verdict.reviews {
            let _ = writeln!(out, "  {note}");
        }
    }
    log_safe(&out)
}

/// One JSON object (`verdict`, `kind`, `pr`, `head_sha`, `node_id`, `files[]` with `path`,
/// `status`, `reason`, `approved_by`, `reviews`).
pub fn json(verdict: &Verdict) -> String {
    // Strings, numbers and lists: serializing cannot fail.
    let mut out = serde_json::to_string_pretty(verdict).unwrap_or_default();
    out.push('\n');
    out
}

/// GitHub Actions: the text (for the log), then one annotation per file — an error naming why it
/// needs a person, or a notice for a machine change — and one for the reviews.
pub fn github(verdict: &Verdict) -> String {
    let mut out = text(verdict);
    let level = if verdict.pass { "notice" } else { "error" };
    let title = if verdict.pass {
        "enlist gate: passes"
    } else {
        "enlist gate: needs a person"
    };
    for file in &verdict.files {
        annotation(
            &mut out,
            level,
            Some(&plain(&file.path)),
            None,
            title,
            &file.reason,
        );
    }
    if !verdict.reviews.is_empty() {
        let notes: Vec<&str> = verdict.reviews.iter().map(|n| n.as_str()).collect();
        annotation(&mut out, level, None, None, title, &notes.join("\n"));
    }
    out
}

/// An `::error` annotation for a run that could not decide (the head moved, GitHub failed).
pub fn error_annotation(message: &str) -> String {
    let mut out = String::new();
    annotation(&mut out, "error", None, None, "enlist gate", message);
    out
}

/// The job summary (`$GITHUB_STEP_SUMMARY`): the headline, a table of the files, the reviews.
pub fn markdown(verdict: &Verdict) -> String {
    let mut out = String::new();
    let mark = if verdict.pass { "✅" } else { "❌" };
    let what = match (verdict.kind, &verdict.node_id, &verdict.approved_by) {
        (Kind::Registration, Some(id), _) => format!("registration of node {}", markdown::code(id)),
        (Kind::Update, Some(id), _) => format!("update of node {}", markdown::code(id)),
        (Kind::Approved, _, Some(by)) => format!("approved by {}", markdown::code(by)),
        _ => "needs a person".to_owned(),
    };
    let _ = writeln!(
        out,
        "### {mark} enlist gate: {what}\n\nPull request #{} at `{}`.\n",
        verdict.pr,
        short_sha(&verdict.head_sha)
    );
    if !verdict.files.is_empty() {
        out.push_str("| file | status | why |\n|---|---|---|\n");
        for file in &verdict.files {
            let _ = writeln!(
                out,
                "| {} | {} | {} |",
                markdown::table_code(&file.path),
                markdown::table_code(&file.status),
                md_prose(&file.reason, true)
            );
        }
        out.push('\n');
    }
    for note in &verdict.reviews {
        let _ = writeln!(out, "- {}", md_prose(note, false));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gate::verdict::FileFinding;
    use crate::reconcile::prose::Prose;

    const HOSTILE: &str = "::add-mask::x\n@acme/admins [a](https://e.x) <img src=x> ##[error]y";

    fn failing() -> Verdict {
        Verdict {
            pass: false,
            kind: Kind::NeedsPerson,
            pr: 4,
            head_sha: "0123456789abcdef0123456789abcdef01234567".into(),
            node_id: None,
            files: vec![FileFinding {
                path: HOSTILE.into(),
                status: "added".into(),
                reason: Prose::from("is not a registration (path_template ")
                    .value(HOSTILE)
                    .say(")"),
            }],
            approved_by: None,
            reviews: vec![Prose::new().value(HOSTILE).say(" opened the pull request")],
        }
    }

    #[test]
    fn json_has_the_documented_keys() {
        let value: serde_json::Value = serde_json::from_str(&json(&failing())).unwrap();
        assert_eq!(value["verdict"], "fail");
        assert_eq!(value["kind"], "needs_person");
        assert_eq!(
            value["head_sha"],
            "0123456789abcdef0123456789abcdef01234567"
        );
        assert_eq!(value["files"][0]["status"], "added");
        assert_eq!(
            value["files"][0]["path"], HOSTILE,
            "JSON carries values as data"
        );
        assert!(
            value["files"][0]["reason"]
                .as_str()
                .unwrap()
                .starts_with("is not")
        );
    }

    #[test]
    fn text_and_annotations_cannot_inject_workflow_commands() {
        for out in [text(&failing()), github(&failing())] {
            for line in out.lines() {
                let body = line.trim_start();
                if body.starts_with("::") {
                    // enlist's own annotations: the runner reads one command per line, from its
                    // start; the values are escaped data after it.
                    assert!(
                        body.starts_with("::error file=%3A%3Aadd-mask")
                            || body.starts_with("::error title="),
                        "{line}"
                    );
                } else {
                    assert!(!line.contains("##["), "{line}");
                }
            }
        }
    }

    #[test]
    fn markdown_keeps_values_in_code_spans() {
        let md = markdown(&failing());
        for line in md.lines() {
            // Outside the code spans there is no mention, link or HTML.
            let outside: String = line.split('`').step_by(2).collect();
            for live in ["@", "](", "<img"] {
                assert!(!outside.contains(live), "{line}");
            }
        }
        assert!(md.contains("`::add-mask::x"), "{md}");
    }
}
