//! The report as text (a terminal), JSON (machines), Markdown (a PR comment or
//! `$GITHUB_STEP_SUMMARY`) and GitHub Actions workflow commands (annotations); the HTML page is
//! in [`super::html`].
//!
//! Every format is a pure function of the [`Report`]: no paths outside the report, no time, no
//! colours, so outputs are byte-stable and kept as golden files in the tests.

use std::fmt::Write as _;

use super::demand::percent;
use super::report::{CapacityPlan, Report, Resource, SharedKind};

/// Output formats of [`render`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Plain text for a terminal or a CI log.
    Text,
    /// One JSON object (the SPEC §5 keys).
    Json,
    /// GitHub-flavoured Markdown.
    Markdown,
    /// `::error` / `::warning` / `::notice` workflow commands.
    Github,
    /// One self-contained HTML page with charts ([`super::html`]).
    Html,
}

/// Renders `report`; `strict` says whether gaps fail the run (it changes wording and severity).
pub fn render(report: &Report, format: Format, strict: bool) -> String {
    match format {
        Format::Text => text(report, strict),
        Format::Json => json(report),
        Format::Markdown => markdown(report, strict),
        Format::Github => github(report, strict),
        Format::Html => super::html::render(report, strict),
    }
}

fn json(report: &Report) -> String {
    // A struct of strings, numbers and lists: serialization cannot fail.
    let mut out = serde_json::to_string_pretty(report).unwrap_or_default();
    out.push('\n');
    out
}

/// The one line saying which inventory column fed each field, which were ignored.
pub(super) fn columns_line(report: &Report) -> String {
    let map = report
        .columns
        .map
        .as_ref()
        .map(|m| format!(" (mapped by {m})"))
        .unwrap_or_default();
    format!(
        "inventory columns{map}: {}",
        report.columns.summary().replace(['\r', '\n'], " ")
    )
}

/// [`columns_line`] for Markdown: header names (untrusted) as inert code spans.
fn md_columns(report: &Report) -> String {
    let span = |value: &str| {
        let inner: String = value
            .chars()
            .map(|c| match c {
                '`' => '\'',
                '\r' | '\n' => ' ',
                c => c,
            })
            .collect();
        format!("`{inner}`")
    };
    let used: Vec<String> = report
        .columns
        .in_order()
        .iter()
        .map(|(field, columns)| {
            let columns: Vec<String> = columns.iter().map(|c| span(c)).collect();
            format!("{field} ← {}", columns.join(" or "))
        })
        .collect();
    let ignored: Vec<String> = report.columns.ignored.iter().map(|c| span(c)).collect();
    let map = report
        .columns
        .map
        .as_ref()
        .map(|m| format!(" (mapped by {})", span(m)))
        .unwrap_or_default();
    format!(
        "**Inventory columns**{map}: {}; ignored: {}.",
        used.join(", "),
        if ignored.is_empty() {
            "none".to_owned()
        } else {
            ignored.join(", ")
        }
    )
}

pub(super) fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

pub(super) fn or_dash(value: Option<&str>) -> &str {
    value.filter(|v| !v.is_empty()).unwrap_or("-")
}

pub(super) fn make_model(make: Option<&str>, model: Option<&str>) -> String {
    match (make, model) {
        (Some(a), Some(b)) => format!("{a} {b}"),
        (Some(a), None) | (None, Some(a)) => a.to_owned(),
        (None, None) => "unknown make/model".to_owned(),
    }
}

pub(super) fn located(file: &str, line: Option<u64>) -> String {
    match line {
        Some(line) => format!("{file}:{line}"),
        None => file.to_owned(),
    }
}

pub(super) fn shared_text(kind: SharedKind, value: &str) -> String {
    let kind = match kind {
        SharedKind::Serial => "serial",
        SharedKind::Fingerprint => "identity fingerprint",
        SharedKind::Mac => "MAC",
    };
    format!("{kind} {value}")
}

/// One line summing up the run.
pub(super) fn verdict(report: &Report, strict: bool) -> String {
    let failed = report.failed(strict);
    let errors = format!(
        "{}, {}",
        plural(report.invalid.len(), "invalid", "invalid"),
        plural(report.duplicates.len(), "duplicate", "duplicates")
    );
    let gaps = format!(
        "{}, {}, {}",
        plural(
            report.missing_registration.len(),
            "missing registration",
            "missing registrations"
        ),
        plural(report.phantom_nodes.len(), "phantom node", "phantom nodes"),
        plural(report.mismatches.len(), "mismatch", "mismatches")
    );
    let gap_note = if strict {
        "gaps fail with --strict"
    } else {
        "gaps are warnings"
    };
    format!(
        "{}: {errors}; {gaps} ({gap_note})",
        if failed { "FAILED" } else { "passed" }
    )
}

/// Columns of a plain-text table; `right` marks numeric columns.
fn text_table(out: &mut String, headers: &[&str], right: &[bool], rows: &[Vec<String>]) {
    let widths: Vec<usize> = headers
        .iter()
        .enumerate()
        .map(|(i, h)| {
            rows.iter()
                .map(|r| r[i].chars().count())
                .chain([h.chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: Vec<&str>| {
        let mut s = String::from(" ");
        for (i, cell) in cells.iter().enumerate() {
            let pad = widths[i].saturating_sub(cell.chars().count());
            s.push(' ');
            if right[i] {
                s.push_str(&" ".repeat(pad));
                s.push_str(cell);
            } else {
                s.push_str(cell);
                if i + 1 < cells.len() {
                    s.push_str(&" ".repeat(pad));
                }
            }
            s.push(' ');
        }
        s.trim_end().to_owned()
    };
    let _ = writeln!(out, "{}", line(headers.to_vec()));
    for row in rows {
        let _ = writeln!(out, "{}", line(row.iter().map(String::as_str).collect()));
    }
}

fn fleet_rows(report: &Report) -> Vec<Vec<String>> {
    let mut rows: Vec<Vec<String>> = report
        .fleet
        .iter()
        .map(|f| {
            vec![
                f.make.clone(),
                f.model.clone(),
                f.count.to_string(),
                f.cores.to_string(),
                f.memory_gib.to_string(),
                format!("{:.0}", f.storage_gb),
            ]
        })
        .collect();
    if report.fleet.len() > 1 {
        rows.push(vec![
            "total".into(),
            String::new(),
            report
                .fleet
                .iter()
                .map(|f| f.count)
                .sum::<usize>()
                .to_string(),
            report
                .fleet
                .iter()
                .map(|f| f.cores)
                .sum::<u64>()
                .to_string(),
            report
                .fleet
                .iter()
                .map(|f| f.memory_gib)
                .sum::<u64>()
                .to_string(),
            format!(
                "{:.0}",
                report.fleet.iter().map(|f| f.storage_gb).sum::<f64>()
            ),
        ]);
    }
    rows
}

const FLEET_HEADERS: [&str; 6] = [
    "make",
    "model",
    "nodes",
    "cores",
    "memory GiB",
    "storage GB",
];

fn plan_rows(plan: &CapacityPlan) -> Vec<Vec<String>> {
    plan.lines
        .iter()
        .map(|l| {
            vec![
                match l.resource {
                    Resource::Cores => "cores".to_owned(),
                    other => format!("{} ({})", other.as_str(), other.unit()),
                },
                format!("{:.0}", l.demand),
                format!("{:.0}", l.required),
                format!("{:.0}", l.capacity),
                if l.deficit > 0.0 {
                    format!("{:.0}", l.deficit)
                } else {
                    format!("surplus {:.0}", -l.deficit)
                },
            ]
        })
        .collect()
}

/// The alternatives: what each catalog model would take.
fn option_rows(plan: &CapacityPlan) -> Vec<Vec<String>> {
    plan.options
        .iter()
        .map(|o| {
            let unit = plan
                .catalog
                .iter()
                .find(|c| c.make == o.make && c.model == o.model);
            vec![
                format!("{} {}", o.make, o.model),
                unit.map(|c| format!("{:.0} / {:.0} / {:.0}", c.cores, c.memory_gb, c.storage_gb))
                    .unwrap_or_default(),
                o.count.to_string(),
                o.limiting.as_str().to_owned(),
                o.total_cost
                    .map(|t| format!("{t:.0}"))
                    .unwrap_or_else(|| "-".into()),
            ]
        })
        .collect()
}

const OPTION_HEADERS: [&str; 5] = [
    "model",
    "per unit (cores / GiB / GB)",
    "units",
    "limit",
    "total cost",
];

const PLAN_HEADERS: [&str; 5] = ["resource", "demand", "with headroom", "capacity", "deficit"];

fn recommendation_tail(report: &Report) -> Vec<String> {
    report
        .recommendations
        .iter()
        .map(|r| {
            let mut s = r.message.clone();
            if !r.workloads.is_empty() {
                let _ = write!(s, " (driven by {})", r.workloads.join(", "));
            }
            if let Some(total) = r.total_cost {
                let _ = write!(s, "; total cost {total:.0}");
            }
            s
        })
        .collect()
}

fn text(report: &Report, strict: bool) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "enlist reconcile: {}, {} ({})",
        plural(report.nodes, "node.yaml file", "node.yaml files"),
        plural(report.inventory, "inventory row", "inventory rows"),
        report.inventory_file
    );
    let _ = writeln!(out, "{}", columns_line(report));
    let gap_effect = if strict {
        "fails CI (--strict)"
    } else {
        "warning"
    };
    let section = |out: &mut String, title: &str, n: usize, effect: &str| {
        let _ = writeln!(out, "\n{title} ({n}) - {effect}");
    };
    if !report.invalid.is_empty() {
        section(&mut out, "INVALID", report.invalid.len(), "fails CI");
        for i in &report.invalid {
            let _ = writeln!(out, "  {}: {}", located(&i.file, i.line), i.message);
            let _ = writeln!(out, "    what to do: {}", i.hint);
        }
    }
    if !report.duplicates.is_empty() {
        section(&mut out, "DUPLICATES", report.duplicates.len(), "fails CI");
        for d in &report.duplicates {
            let shared: Vec<String> = d
                .shared
                .iter()
                .map(|s| shared_text(s.kind, &s.value))
                .collect();
            let _ = writeln!(out, "  {} share {}", d.nodes.join(", "), shared.join("; "));
            for path in &d.paths {
                let _ = writeln!(out, "    {path}");
            }
            let _ = writeln!(out, "    what to do: {}", d.hint);
        }
    }
    if !report.missing_registration.is_empty() {
        section(
            &mut out,
            "MISSING REGISTRATION",
            report.missing_registration.len(),
            gap_effect,
        );
        for m in &report.missing_registration {
            let what = m
                .serial
                .as_ref()
                .map(|s| format!("serial {s}"))
                .unwrap_or_else(|| format!("MAC {}", m.macs.join(" ")));
            let _ = writeln!(
                out,
                "  {}: {what} ({}{})",
                located(&m.file, Some(m.line)),
                make_model(m.make.as_deref(), m.model.as_deref()),
                m.location
                    .as_ref()
                    .map(|l| format!(" at {l}"))
                    .unwrap_or_default()
            );
            let _ = writeln!(out, "    what to do: {}", m.hint);
        }
    }
    if !report.phantom_nodes.is_empty() {
        section(
            &mut out,
            "PHANTOM NODES",
            report.phantom_nodes.len(),
            gap_effect,
        );
        for p in &report.phantom_nodes {
            let _ = writeln!(
                out,
                "  {}: {} {} ({}, serial {})",
                p.path,
                p.node_id,
                p.hostname,
                make_model(p.make.as_deref(), p.model.as_deref()),
                or_dash(p.serial.as_deref())
            );
            let _ = writeln!(out, "    what to do: {}", p.hint);
        }
    }
    if !report.mismatches.is_empty() {
        section(&mut out, "MISMATCHES", report.mismatches.len(), gap_effect);
        for m in &report.mismatches {
            let _ = writeln!(
                out,
                "  {} vs {}: {}: inventory {}, node {}",
                m.path,
                located(&m.file, Some(m.line)),
                m.field.as_str(),
                m.inventory,
                m.node
            );
            let _ = writeln!(out, "    what to do: {}", m.hint);
        }
    }
    if report.errors() + report.gaps() == 0 {
        let _ = writeln!(
            out,
            "\nno findings: every registration matches the inventory"
        );
    }
    if !report.fleet.is_empty() {
        let n: usize = report.fleet.iter().map(|f| f.count).sum();
        let _ = writeln!(
            out,
            "\nFLEET ({})",
            plural(n, "valid registered node", "valid registered nodes")
        );
        text_table(
            &mut out,
            &FLEET_HEADERS,
            &[false, false, true, true, true, true],
            &fleet_rows(report),
        );
    }
    if let Some(plan) = &report.plan {
        let _ = writeln!(
            out,
            "\nBUYING (headroom {} %, capacity of {})",
            percent(plan.headroom),
            plural(
                plan.active_nodes,
                "active registered node",
                "active registered nodes"
            )
        );
        text_table(
            &mut out,
            &PLAN_HEADERS,
            &[false, true, true, true, true],
            &plan_rows(plan),
        );
        if !plan.options.is_empty() {
            out.push('\n');
            text_table(
                &mut out,
                &OPTION_HEADERS,
                &[false, false, true, false, true],
                &option_rows(plan),
            );
        }
        for line in recommendation_tail(report) {
            let _ = writeln!(out, "  => {line}");
        }
        if let Some(note) = &plan.note {
            let _ = writeln!(out, "  => {note}");
        }
    }
    let _ = writeln!(out, "\n{}", verdict(report, strict));
    out
}

/// Escapes text for a Markdown table cell (GitHub-flavoured): `|` and line breaks would end the
/// cell or the row. Outside code spans `&`, `<` and `>` become entities, so a value from a node.yaml
/// or the inventory never becomes HTML in the bot's PR comment (GitHub drops scripts, but not
/// `<img>`, `<a>` or `<details>`), and `\` is a literal backslash. Code spans, paired the way
/// CommonMark pairs them (a backtick string closed by the next one of the same length), keep their
/// text: Markdown shows it literally, so `<node-id>` inside backticks stays readable. A backtick
/// string without a partner is escaped.
fn cell(value: &str) -> String {
    let chars: Vec<char> = value.chars().collect();
    let run_at = |i: usize| chars[i..].iter().take_while(|c| **c == '`').count();
    let mut out = String::with_capacity(value.len() + 8);
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '`' {
            let run = run_at(i);
            let mut close = i + run;
            while close < chars.len() && !(chars[close] == '`' && run_at(close) == run) {
                close += if chars[close] == '`' {
                    run_at(close)
                } else {
                    1
                };
            }
            if close < chars.len() {
                for &c in &chars[i..close + run] {
                    match c {
                        '|' => out.push_str("\\|"),
                        '\r' | '\n' => out.push(' '),
                        c => out.push(c),
                    }
                }
                i = close + run;
            } else {
                out.push_str(&"\\`".repeat(run));
                i += run;
            }
            continue;
        }
        match c {
            '\\' => out.push_str("\\\\"),
            '|' => out.push_str("\\|"),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' | '\n' => out.push(' '),
            c => out.push(c),
        }
        i += 1;
    }
    out
}

/// A code span in a table cell. Backticks inside are dropped (they cannot be escaped there);
/// nothing else is escaped but `|` and line breaks: a code span shows its text literally.
fn code(value: &str) -> String {
    let inner: String = value
        .chars()
        .map(|c| match c {
            '`' => "'".to_owned(),
            '|' => "\\|".to_owned(),
            '\r' | '\n' => " ".to_owned(),
            c => c.to_string(),
        })
        .collect();
    format!("`{inner}`")
}

/// Rows per Markdown table: a PR comment holds at most 65,536 characters, and a reviewer reads
/// the first screen anyway; the rest is in the job log and the JSON.
pub const MARKDOWN_MAX_ROWS: usize = 50;

fn md_table(out: &mut String, headers: &[&str], right: &[bool], rows: &[Vec<String>]) {
    let _ = writeln!(out, "| {} |", headers.join(" | "));
    let aligns: Vec<&str> = right
        .iter()
        .map(|r| if *r { "---:" } else { "---" })
        .collect();
    let _ = writeln!(out, "|{}|", aligns.join("|"));
    for row in rows.iter().take(MARKDOWN_MAX_ROWS) {
        let _ = writeln!(out, "| {} |", row.join(" | "));
    }
    if rows.len() > MARKDOWN_MAX_ROWS {
        let _ = writeln!(
            out,
            "\n_… and {} more, not shown: see the job log (`--format text`) or `--format json`._",
            rows.len() - MARKDOWN_MAX_ROWS
        );
    }
    out.push('\n');
}

fn markdown(report: &Report, strict: bool) -> String {
    let mut out = String::from("## enlist reconcile\n\n");
    let failed = report.failed(strict);
    let _ = writeln!(
        out,
        "{} {} and {} checked against `{}`.\n",
        if failed {
            "❌ **Failed.**"
        } else {
            "✅ **Passed.**"
        },
        plural(report.nodes, "node.yaml file", "node.yaml files"),
        plural(report.inventory, "inventory row", "inventory rows"),
        report.inventory_file.replace('`', "'")
    );
    let _ = writeln!(out, "{}\n", md_columns(report));
    let gap_effect = if strict {
        "fails CI (`--strict`)"
    } else {
        "warning"
    };
    let status = |n: usize, fails: bool| match (n, fails) {
        (0, _) => "✅".to_owned(),
        (_, true) => "❌".to_owned(),
        (_, false) => "⚠️".to_owned(),
    };
    md_table(
        &mut out,
        &["check", "found", "", "effect"],
        &[false, true, false, false],
        &[
            vec![
                "invalid node.yaml files / inventory rows".into(),
                report.invalid.len().to_string(),
                status(report.invalid.len(), true),
                "fails CI".into(),
            ],
            vec![
                "duplicate identities".into(),
                report.duplicates.len().to_string(),
                status(report.duplicates.len(), true),
                "fails CI".into(),
            ],
            vec![
                "missing registrations".into(),
                report.missing_registration.len().to_string(),
                status(report.missing_registration.len(), strict),
                gap_effect.into(),
            ],
            vec![
                "phantom nodes".into(),
                report.phantom_nodes.len().to_string(),
                status(report.phantom_nodes.len(), strict),
                gap_effect.into(),
            ],
            vec![
                "fact mismatches".into(),
                report.mismatches.len().to_string(),
                status(report.mismatches.len(), strict),
                gap_effect.into(),
            ],
        ],
    );
    if !report.invalid.is_empty() {
        let _ = writeln!(out, "### ❌ Invalid ({})\n", report.invalid.len());
        let rows: Vec<Vec<String>> = report
            .invalid
            .iter()
            .map(|i| {
                vec![
                    code(&i.file),
                    i.line.map(|l| l.to_string()).unwrap_or_default(),
                    cell(&i.message),
                    cell(&i.hint),
                ]
            })
            .collect();
        md_table(
            &mut out,
            &["file", "line", "problem", "what to do"],
            &[false, true, false, false],
            &rows,
        );
    }
    if !report.duplicates.is_empty() {
        let _ = writeln!(out, "### ❌ Duplicates ({})\n", report.duplicates.len());
        let rows: Vec<Vec<String>> = report
            .duplicates
            .iter()
            .map(|d| {
                let nodes: Vec<String> = d.paths.iter().map(|p| code(p)).collect();
                let shared: Vec<String> = d
                    .shared
                    .iter()
                    .map(|s| cell(&shared_text(s.kind, &s.value)))
                    .collect();
                vec![nodes.join("<br>"), shared.join("<br>"), cell(&d.hint)]
            })
            .collect();
        md_table(
            &mut out,
            &["node.yaml files", "shared", "what to do"],
            &[false, false, false],
            &rows,
        );
    }
    let gap_icon = if strict { "❌" } else { "⚠️" };
    if !report.missing_registration.is_empty() {
        let _ = writeln!(
            out,
            "### {gap_icon} Missing registration ({})\n",
            report.missing_registration.len()
        );
        let rows: Vec<Vec<String>> = report
            .missing_registration
            .iter()
            .map(|m| {
                vec![
                    m.line.to_string(),
                    m.serial.as_deref().map(code).unwrap_or_else(|| "-".into()),
                    cell(&make_model(m.make.as_deref(), m.model.as_deref())),
                    cell(or_dash(m.hostname.as_deref())),
                    cell(or_dash(m.location.as_deref())),
                    cell(&m.hint),
                ]
            })
            .collect();
        md_table(
            &mut out,
            &[
                "line",
                "serial",
                "machine",
                "hostname",
                "location",
                "what to do",
            ],
            &[true, false, false, false, false, false],
            &rows,
        );
    }
    if !report.phantom_nodes.is_empty() {
        let _ = writeln!(
            out,
            "### {gap_icon} Phantom nodes ({})\n",
            report.phantom_nodes.len()
        );
        let rows: Vec<Vec<String>> = report
            .phantom_nodes
            .iter()
            .map(|p| {
                vec![
                    code(&p.path),
                    cell(&p.hostname),
                    cell(&make_model(p.make.as_deref(), p.model.as_deref())),
                    p.serial.as_deref().map(code).unwrap_or_else(|| "-".into()),
                    cell(&p.hint),
                ]
            })
            .collect();
        md_table(
            &mut out,
            &["node.yaml", "hostname", "machine", "serial", "what to do"],
            &[false, false, false, false, false],
            &rows,
        );
    }
    if !report.mismatches.is_empty() {
        let _ = writeln!(
            out,
            "### {gap_icon} Mismatches ({})\n",
            report.mismatches.len()
        );
        let rows: Vec<Vec<String>> = report
            .mismatches
            .iter()
            .map(|m| {
                vec![
                    code(&m.path),
                    m.line.to_string(),
                    m.field.as_str().to_owned(),
                    cell(&m.inventory),
                    cell(&m.node),
                    cell(&m.hint),
                ]
            })
            .collect();
        md_table(
            &mut out,
            &[
                "node.yaml",
                "inventory line",
                "field",
                "inventory",
                "node",
                "what to do",
            ],
            &[false, true, false, false, false, false],
            &rows,
        );
    }
    if !report.fleet.is_empty() {
        out.push_str("### Fleet (valid registrations)\n\n");
        let rows: Vec<Vec<String>> = fleet_rows(report)
            .into_iter()
            .map(|r| r.iter().map(|c| cell(c)).collect())
            .collect();
        md_table(
            &mut out,
            &FLEET_HEADERS,
            &[false, false, true, true, true, true],
            &rows,
        );
    }
    if let Some(plan) = &report.plan {
        let _ = writeln!(
            out,
            "### Buying\n\nHeadroom {} %; capacity = {}.\n",
            percent(plan.headroom),
            plural(
                plan.active_nodes,
                "active registered node",
                "active registered nodes"
            )
        );
        md_table(
            &mut out,
            &PLAN_HEADERS,
            &[false, true, true, true, true],
            &plan_rows(plan),
        );
        if !plan.options.is_empty() {
            let rows: Vec<Vec<String>> = option_rows(plan)
                .into_iter()
                .map(|r| r.iter().map(|c| cell(c)).collect())
                .collect();
            md_table(
                &mut out,
                &OPTION_HEADERS,
                &[false, false, true, false, true],
                &rows,
            );
        }
        for line in recommendation_tail(report) {
            let _ = writeln!(out, "**Recommendation:** {}\n", cell(&line));
        }
        if let Some(note) = &plan.note {
            let _ = writeln!(out, "{}\n", cell(note));
        }
    }
    let _ = writeln!(out, "<sub>{}</sub>", verdict(report, strict));
    out
}

/// Other files a duplicate annotation names before "and N more".
pub const MAX_OTHERS_NAMED: usize = 5;

/// Escapes workflow-command data (the message).
fn gh_data(value: &str) -> String {
    value
        .replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a workflow-command property (file, title).
fn gh_property(value: &str) -> String {
    gh_data(value).replace(':', "%3A").replace(',', "%2C")
}

fn annotation(
    out: &mut String,
    level: &str,
    file: Option<&str>,
    line: Option<u64>,
    title: &str,
    message: &str,
) {
    let mut props = Vec::new();
    if let Some(file) = file {
        props.push(format!("file={}", gh_property(file)));
        if let Some(line) = line {
            props.push(format!("line={line}"));
        }
    }
    props.push(format!("title={}", gh_property(title)));
    let _ = writeln!(out, "::{level} {}::{}", props.join(","), gh_data(message));
}

fn github(report: &Report, strict: bool) -> String {
    let mut out = String::new();
    annotation(
        &mut out,
        "notice",
        Some(&report.inventory_file),
        Some(1),
        "enlist: inventory columns",
        &columns_line(report),
    );
    let gap = if strict { "error" } else { "warning" };
    for i in &report.invalid {
        annotation(
            &mut out,
            "error",
            Some(&i.file),
            i.line,
            "enlist: invalid",
            &format!("{}\nWhat to do: {}", i.message, i.hint),
        );
    }
    for d in &report.duplicates {
        let shared: Vec<String> = d
            .shared
            .iter()
            .map(|s| shared_text(s.kind, &s.value))
            .collect();
        // One annotation per file, each naming a few of the others: k files sharing a MAC would
        // otherwise print k × (k − 1) paths.
        let others = d.paths.len().saturating_sub(1);
        for (path, line) in d.paths.iter().zip(&d.lines) {
            let named: Vec<&str> = d
                .paths
                .iter()
                .filter(|p| *p != path)
                .take(MAX_OTHERS_NAMED)
                .map(String::as_str)
                .collect();
            let with = match others - named.len() {
                0 => named.join(", "),
                more => format!("{} and {more} more", named.join(", ")),
            };
            annotation(
                &mut out,
                "error",
                Some(path),
                *line,
                "enlist: duplicate",
                &format!(
                    "shares {} with {with}\nWhat to do: {}",
                    shared.join("; "),
                    d.hint
                ),
            );
        }
    }
    for m in &report.missing_registration {
        let what = m
            .serial
            .as_ref()
            .map(|s| format!("serial {s}"))
            .unwrap_or_else(|| format!("MAC {}", m.macs.join(" ")));
        annotation(
            &mut out,
            gap,
            Some(&m.file),
            Some(m.line),
            "enlist: missing registration",
            &format!(
                "{what} ({}) is not registered\nWhat to do: {}",
                make_model(m.make.as_deref(), m.model.as_deref()),
                m.hint
            ),
        );
    }
    for p in &report.phantom_nodes {
        annotation(
            &mut out,
            gap,
            Some(&p.path),
            p.line,
            "enlist: phantom node",
            &format!(
                "{} ({}) is not in the inventory\nWhat to do: {}",
                p.node_id,
                make_model(p.make.as_deref(), p.model.as_deref()),
                p.hint
            ),
        );
    }
    for m in &report.mismatches {
        annotation(
            &mut out,
            gap,
            Some(&m.path),
            None,
            "enlist: mismatch",
            &format!(
                "{}: the inventory ({}) says {}, the node reports {}\nWhat to do: {}",
                m.field.as_str(),
                located(&m.file, Some(m.line)),
                m.inventory,
                m.node,
                m.hint
            ),
        );
    }
    for line in recommendation_tail(report) {
        annotation(&mut out, "notice", None, None, "enlist: buying", &line);
    }
    let _ = writeln!(out, "enlist reconcile {}", verdict(report, strict));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workflow_command_escaping() {
        assert_eq!(gh_data("50% done\nnext"), "50%25 done%0Anext");
        assert_eq!(gh_property("a:b,c"), "a%3Ab%2Cc");
    }

    #[test]
    fn markdown_cells_cannot_break_the_table() {
        assert_eq!(cell("a|b\nc"), "a\\|b c");
        assert_eq!(code("x`y"), "`x'y`");
        assert_eq!(code("a|b\\c<d>"), "`a\\|b\\c<d>`");
    }

    #[test]
    fn markdown_cells_carry_no_html_outside_code_spans() {
        assert_eq!(
            cell("<img src=x onerror=alert(1)> & <b>bold</b>"),
            "&lt;img src=x onerror=alert(1)&gt; &amp; &lt;b&gt;bold&lt;/b&gt;"
        );
        // A code span shows its text literally: left alone (but for `|`).
        assert_eq!(
            cell("open an `enlist/<node-id>` PR, a|b"),
            "open an `enlist/<node-id>` PR, a\\|b"
        );
        assert_eq!(cell("``a`<b>``"), "``a`<b>``");
        // A backtick without a partner opens nothing: escaped, and the rest is text.
        assert_eq!(cell("x`<script>"), "x\\`&lt;script&gt;");
        assert_eq!(cell("``<i>`"), "\\`\\`&lt;i&gt;\\`");
        assert_eq!(cell("a\\b"), "a\\\\b");
    }

    #[test]
    fn markdown_report_shows_hostile_values_as_text() {
        use crate::reconcile::report::PhantomNode;
        let report = Report {
            phantom_nodes: vec![PhantomNode {
                node_id: "node-x".into(),
                path: "cluster-nodes/node-x/node.yaml".into(),
                hostname: "<img src=https://evil.example/t.png>".into(),
                serial: Some("<b>S1</b>".into()),
                make: Some("<details open>".into()),
                model: Some("A&B".into()),
                hint: "h".into(),
                line: None,
            }],
            ..Report::default()
        };
        let md = render(&report, Format::Markdown, false);
        assert!(!md.contains("<img") && !md.contains("<details"), "{md}");
        assert!(
            md.contains("| &lt;img src=https://evil.example/t.png&gt; |"),
            "{md}"
        );
        assert!(md.contains("&lt;details open&gt; A&amp;B"), "{md}");
        // In a code span the text is literal already.
        assert!(md.contains("| `<b>S1</b>` |"), "{md}");
    }

    #[test]
    fn duplicate_annotations_name_at_most_five_others() {
        use crate::reconcile::report::{Duplicate, Shared};
        let paths: Vec<String> = (0..40)
            .map(|i| format!("cluster-nodes/node-{i:02}/node.yaml"))
            .collect();
        let report = Report {
            duplicates: vec![Duplicate {
                nodes: (0..40).map(|i| format!("node-{i:02}")).collect(),
                paths: paths.clone(),
                shared: vec![Shared {
                    kind: SharedKind::Mac,
                    value: "aa:bb:cc:dd:ee:ff".into(),
                }],
                hint: "h".into(),
                lines: vec![None; 40],
            }],
            ..Report::default()
        };
        let out = render(&report, Format::Github, false);
        let annotations: Vec<&str> = out.lines().filter(|l| l.starts_with("::error")).collect();
        assert_eq!(annotations.len(), 40);
        for (annotation, path) in annotations.iter().zip(&paths) {
            let named = paths
                .iter()
                .filter(|p| annotation.contains(p.as_str()))
                .count();
            assert_eq!(named, 1 + MAX_OTHERS_NAMED, "{annotation}");
            assert!(annotation.contains(" and 34 more%0A"), "{annotation}");
            assert!(annotation.starts_with(&format!("::error file={path},")));
        }
        // Linear: each annotation is short.
        assert!(out.len() < 40 * 600, "{} bytes", out.len());
        // Few enough: all named, no "more".
        let few = Report {
            duplicates: vec![Duplicate {
                paths: paths[..3].to_vec(),
                lines: vec![None; 3],
                ..report.duplicates[0].clone()
            }],
            ..Report::default()
        };
        let out = render(&few, Format::Github, false);
        assert!(
            out.contains(&format!("with {}, {}%0A", paths[1], paths[2])),
            "{out}"
        );
        assert!(!out.contains("more"), "{out}");
    }

    #[test]
    fn markdown_tables_are_capped() {
        use crate::reconcile::report::PhantomNode;
        let phantom = PhantomNode {
            node_id: "node-x".into(),
            path: "cluster-nodes/node-x/node.yaml".into(),
            hostname: "x".into(),
            serial: None,
            make: None,
            model: None,
            hint: "h".into(),
            line: None,
        };
        let report = Report {
            phantom_nodes: vec![phantom; MARKDOWN_MAX_ROWS + 7],
            ..Report::default()
        };
        let md = render(&report, Format::Markdown, false);
        assert_eq!(
            md.matches("| `cluster-nodes/node-x/node.yaml` |").count(),
            MARKDOWN_MAX_ROWS
        );
        assert!(md.contains("… and 7 more"), "{md}");
    }

    #[test]
    fn empty_report_renders_in_every_format() {
        let report = Report::default();
        for format in [
            Format::Text,
            Format::Json,
            Format::Markdown,
            Format::Github,
            Format::Html,
        ] {
            let out = render(&report, format, false);
            assert!(out.ends_with('\n'), "{format:?}");
        }
        assert!(render(&report, Format::Text, false).contains("no findings"));
    }
}
