//! The report as text (a terminal), JSON (machines), Markdown (a PR comment or
//! `$GITHUB_STEP_SUMMARY`) and GitHub Actions workflow commands (annotations); the HTML page is
//! in [`super::html`].
//!
//! Every format is a pure function of the [`Report`]: no paths outside the report, no time, no
//! colours, so outputs are byte-stable and kept as golden files in the tests.
//!
//! Values from files (a node.yaml's DMI strings and paths, the inventory's cells and headers)
//! leave through one function per format: Markdown — a PR comment GitHub renders and notifies on —
//! shows them as code spans ([`markdown::table_code`] in tables, [`markdown::code`] in running
//! text), so no `@mention`, link, image, HTML or reference comes alive; text and annotations show
//! them on one line without control or invisible characters ([`plain`]), and the text format is
//! made safe for a CI log last ([`log_safe`]); the messages quote values through [`Prose`]. JSON
//! carries them as data.

use std::fmt::Write as _;

use super::demand::percent;
use super::prose::{Piece, Prose};
use super::report::{CapacityPlan, DuplicateKind, Report, Resource, SharedKind};
use crate::markdown;

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
        .map(|m| format!(" (mapped by {})", plain(m)))
        .unwrap_or_default();
    format!(
        "inventory columns{map}: {}",
        report.columns.summary().replace(['\r', '\n'], " ")
    )
}

/// [`columns_line`] for Markdown: header names and the map file as code spans.
fn md_columns(report: &Report) -> String {
    let used: Vec<String> = report
        .columns
        .in_order()
        .iter()
        .map(|(field, columns)| {
            let columns: Vec<String> = columns.iter().map(|c| markdown::code(c)).collect();
            format!("{field} ← {}", columns.join(" or "))
        })
        .collect();
    let ignored: Vec<String> = report
        .columns
        .ignored
        .iter()
        .map(|c| markdown::code(c))
        .collect();
    let map = report
        .columns
        .map
        .as_ref()
        .map(|m| format!(" (mapped by {})", markdown::code(m)))
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

/// A value from a file in plain text (the text format, annotations): on one line, without
/// control or invisible characters ([`markdown::one_line`]).
pub(crate) fn plain(value: &str) -> String {
    markdown::one_line(value)
}

/// The text format, safe to print in a GitHub Actions log: the runner reads a line whose first
/// non-blank characters are `::` as a workflow command (`::error`, `::add-mask::`,
/// `::stop-commands::`), and `##[command]` *anywhere* in a line (the legacy syntax). enlist's own
/// words never do either; a value from a file might (a serial `##[error]x`, a directory named
/// `::warning::x`), so both are broken up with a percent escape as the runner's own escapes look:
/// `##[` → `#%23[`, a leading `::` → `%3A:`. Values are on one line already ([`plain`]).
pub(crate) fn log_safe(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let body = line.trim_start();
        let indent = &line[..line.len() - body.len()];
        out.push_str(indent);
        let body = match body.strip_prefix("::") {
            Some(rest) => {
                out.push_str("%3A:");
                rest
            }
            None => body,
        };
        out.push_str(&body.replace("##[", "#%23["));
    }
    out
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

pub(super) fn shared_kind(kind: SharedKind) -> &'static str {
    match kind {
        SharedKind::Serial => "serial",
        SharedKind::Fingerprint => "identity fingerprint",
        SharedKind::Mac => "MAC",
        SharedKind::HostKey => "SSH host key",
    }
}

pub(super) fn shared_text(kind: SharedKind, value: &str) -> String {
    format!("{} {value}", shared_kind(kind))
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
                plain(&f.make),
                plain(&f.model),
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
                plain(&format!("{} {}", o.make, o.model)),
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

fn recommendation_tail(report: &Report) -> Vec<Prose> {
    report
        .recommendations
        .iter()
        .map(|r| {
            let mut s = r.message.clone();
            for (i, workload) in r.workloads.iter().enumerate() {
                s = s
                    .say(if i == 0 { " (driven by " } else { ", " })
                    .value(workload);
            }
            if !r.workloads.is_empty() {
                s = s.say(")");
            }
            if let Some(total) = r.total_cost {
                s = s.say(&format!("; total cost {total:.0}"));
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
        plain(&report.inventory_file)
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
            let _ = writeln!(out, "  {}: {}", located(&plain(&i.file), i.line), i.message);
            let _ = writeln!(out, "    what to do: {}", i.hint);
        }
    }
    if !report.duplicates.is_empty() {
        section(&mut out, "DUPLICATES", report.duplicates.len(), "fails CI");
        for d in &report.duplicates {
            let shared: Vec<String> = d
                .shared
                .iter()
                .map(|s| shared_text(s.kind, &plain(&s.value)))
                .collect();
            let nodes: Vec<String> = d.nodes.iter().map(|n| plain(n)).collect();
            let _ = writeln!(out, "  {} share {}", nodes.join(", "), shared.join("; "));
            for path in &d.paths {
                let _ = writeln!(out, "    {}", plain(path));
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
            let _ = writeln!(
                out,
                "  {}: {} ({}{})",
                located(&plain(&m.file), Some(m.line)),
                missing_what(m),
                plain(&make_model(m.make.as_deref(), m.model.as_deref())),
                m.location
                    .as_ref()
                    .map(|l| format!(" at {}", plain(l)))
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
                plain(&p.path),
                plain(&p.node_id),
                plain(&p.hostname),
                plain(&make_model(p.make.as_deref(), p.model.as_deref())),
                plain(or_dash(p.serial.as_deref()))
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
                plain(&m.path),
                located(&plain(&m.file), Some(m.line)),
                m.field.as_str(),
                plain(&m.inventory),
                plain(&m.node)
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
    log_safe(&out)
}

/// What identifies a missing row, in plain text: `serial X` or `MAC a b`.
fn missing_what(m: &super::report::MissingRegistration) -> String {
    match &m.serial {
        Some(s) => format!("serial {}", plain(s)),
        None => {
            let macs: Vec<String> = m.macs.iter().map(|mac| plain(mac)).collect();
            format!("MAC {}", macs.join(" "))
        }
    }
}

/// [`Prose`] in Markdown: enlist's words as written (in a table, `|` escaped), every value as a
/// code span ([`markdown::table_code`] in a table cell, else [`markdown::code`]).
pub(crate) fn md_prose(prose: &Prose, in_table: bool) -> String {
    let mut out = String::with_capacity(prose.len() + 16);
    for piece in prose.pieces() {
        match piece {
            Piece::Words(words) if in_table => out.push_str(&words.replace('|', "\\|")),
            Piece::Words(words) => out.push_str(words),
            Piece::Value {
                raw, whole: true, ..
            } => out.push_str(&markdown::code_max(
                raw,
                crate::reconcile::prose::MAX_SNIPPET_MARKDOWN_CHARS,
                in_table,
            )),
            Piece::Value { raw, .. } if in_table => out.push_str(&markdown::table_code(raw)),
            Piece::Value { raw, .. } => out.push_str(&markdown::code(raw)),
        }
    }
    out
}

/// An optional value in a table cell: a code span, or `-`.
fn md_opt(value: Option<&str>) -> String {
    value
        .filter(|v| !v.is_empty())
        .map_or_else(|| "-".to_owned(), markdown::table_code)
}

/// Make and model in a table cell: one code span (they come from a node.yaml or the inventory).
fn md_machine(make: Option<&str>, model: Option<&str>) -> String {
    if make.is_none() && model.is_none() {
        return make_model(None, None);
    }
    markdown::table_code(&make_model(make, model))
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
        "{} {} and {} checked against {}.\n",
        if failed {
            "❌ **Failed.**"
        } else {
            "✅ **Passed.**"
        },
        plural(report.nodes, "node.yaml file", "node.yaml files"),
        plural(report.inventory, "inventory row", "inventory rows"),
        markdown::code(&report.inventory_file)
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
                    markdown::table_code(&i.file),
                    i.line.map(|l| l.to_string()).unwrap_or_default(),
                    md_prose(&i.message, true),
                    md_prose(&i.hint, true),
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
                let nodes: Vec<String> = d.paths.iter().map(|p| markdown::table_code(p)).collect();
                let shared: Vec<String> = d
                    .shared
                    .iter()
                    .map(|s| format!("{} {}", shared_kind(s.kind), markdown::table_code(&s.value)))
                    .collect();
                vec![
                    nodes.join("<br>"),
                    shared.join("<br>"),
                    md_prose(&d.hint, true),
                ]
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
                    match &m.serial {
                        Some(serial) => markdown::table_code(serial),
                        None => {
                            let macs: Vec<String> =
                                m.macs.iter().map(|mac| markdown::table_code(mac)).collect();
                            format!("MAC {}", macs.join(" "))
                        }
                    },
                    md_machine(m.make.as_deref(), m.model.as_deref()),
                    md_opt(m.hostname.as_deref()),
                    md_opt(m.location.as_deref()),
                    md_prose(&m.hint, true),
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
                    markdown::table_code(&p.path),
                    markdown::table_code(&p.hostname),
                    md_machine(p.make.as_deref(), p.model.as_deref()),
                    md_opt(p.serial.as_deref()),
                    md_prose(&p.hint, true),
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
                    markdown::table_code(&m.path),
                    m.line.to_string(),
                    m.field.as_str().to_owned(),
                    markdown::table_code(&m.inventory),
                    markdown::table_code(&m.node),
                    md_prose(&m.hint, true),
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
        // The text rows with make and model as code spans (the total row has neither).
        let rows: Vec<Vec<String>> = fleet_rows(report)
            .into_iter()
            .zip(report.fleet.iter().map(Some).chain([None]))
            .map(|(mut row, fleet)| {
                if let Some(f) = fleet {
                    row[0] = markdown::table_code(&f.make);
                    row[1] = markdown::table_code(&f.model);
                }
                row
            })
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
                .zip(&plan.options)
                .map(|(mut row, o)| {
                    row[0] = markdown::table_code(&format!("{} {}", o.make, o.model));
                    row
                })
                .collect();
            md_table(
                &mut out,
                &OPTION_HEADERS,
                &[false, false, true, false, true],
                &rows,
            );
        }
        for line in recommendation_tail(report) {
            let _ = writeln!(out, "**Recommendation:** {}\n", md_prose(&line, false));
        }
        if let Some(note) = &plan.note {
            // enlist's own words (resources, percentages): no value from a file.
            let _ = writeln!(out, "{note}\n");
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

pub(crate) fn annotation(
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
            .map(|s| shared_text(s.kind, &plain(&s.value)))
            .collect();
        // One annotation per file, each naming a few of the others: k files sharing a MAC would
        // otherwise print k × (k − 1) paths.
        let others = d.paths.len().saturating_sub(1);
        for (path, line) in d.paths.iter().zip(&d.lines) {
            let named: Vec<String> = d
                .paths
                .iter()
                .filter(|p| *p != path)
                .take(MAX_OTHERS_NAMED)
                .map(|p| plain(p))
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
                match d.kind {
                    DuplicateKind::Identity => "enlist: duplicate",
                    DuplicateKind::HostKey => "enlist: duplicate host key (cloned image)",
                },
                &format!(
                    "shares {} with {with}\nWhat to do: {}",
                    shared.join("; "),
                    d.hint
                ),
            );
        }
    }
    for m in &report.missing_registration {
        annotation(
            &mut out,
            gap,
            Some(&m.file),
            Some(m.line),
            "enlist: missing registration",
            &format!(
                "{} ({}) is not registered\nWhat to do: {}",
                missing_what(m),
                plain(&make_model(m.make.as_deref(), m.model.as_deref())),
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
                plain(&p.node_id),
                plain(&make_model(p.make.as_deref(), p.model.as_deref())),
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
                located(&plain(&m.file), Some(m.line)),
                plain(&m.inventory),
                plain(&m.node),
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

    use crate::reconcile::demand::CatalogEntry;
    use crate::reconcile::report::{
        ColumnReport, Duplicate, DuplicateKind, FleetRow, Invalid, InvalidKind, Mismatch,
        MismatchField, MissingRegistration, PhantomNode, Recommendation, ResourceLine, Shared,
    };

    /// Everything GitHub would act on in a PR comment, and a log line's workflow commands: a
    /// mention, links and an image, HTML, an issue reference, a table pipe, backticks, a line
    /// break, bidirectional and zero-width characters, `::` and `##[`.
    const HOSTILE: &str = "@acme/admins [docs](https://e.vil/x) ![i](https://e.vil/p.png) \
                           <img src=x> <!-- #12 a|b ``c` \u{202E}evil\u{200B} www.e.vil\r\n\
                           ::error::x ##[add-mask]y %0A";

    /// A report with [`HOSTILE`] in every value that comes from a file.
    fn hostile_report() -> Report {
        let h = || HOSTILE.to_owned();
        let prose = || {
            Prose::from("words ")
                .value(HOSTILE)
                .say(" and ")
                .quoted(HOSTILE)
                .say(", ")
                .code(HOSTILE)
        };
        Report {
            missing_registration: vec![MissingRegistration {
                file: h(),
                line: 2,
                serial: Some(h()),
                macs: vec![],
                asset_tag: Some(h()),
                hostname: Some(h()),
                make: Some(h()),
                model: Some(h()),
                status: "active".into(),
                location: Some(h()),
                hint: prose(),
            }],
            phantom_nodes: vec![PhantomNode {
                node_id: h(),
                path: h(),
                hostname: h(),
                serial: Some(h()),
                make: Some(h()),
                model: None,
                hint: prose(),
                line: Some(3),
            }],
            mismatches: vec![Mismatch {
                node_id: h(),
                path: h(),
                file: h(),
                line: 4,
                serial: Some(h()),
                field: MismatchField::Model,
                inventory: h(),
                node: h(),
                hint: prose(),
            }],
            duplicates: vec![Duplicate {
                kind: DuplicateKind::Identity,
                nodes: vec![h(), h()],
                paths: vec![h(), format!("{HOSTILE}2")],
                shared: vec![Shared {
                    kind: SharedKind::Serial,
                    value: h(),
                }],
                hint: prose(),
                lines: vec![Some(5), None],
            }],
            invalid: vec![Invalid {
                file: h(),
                line: Some(6),
                kind: InvalidKind::Parse,
                message: prose(),
                hint: prose(),
            }],
            recommendations: vec![Recommendation {
                make: h(),
                model: h(),
                count: 2,
                limiting: Resource::Memory,
                workloads: vec![h(), h()],
                unit_cost: Some(10.0),
                total_cost: Some(20.0),
                message: Prose::from("buy 2 more of ").value(HOSTILE),
            }],
            nodes: 3,
            inventory: 2,
            columns: ColumnReport {
                fields: [("serial".to_owned(), vec![h()])].into(),
                ignored: vec![h()],
                map: Some(h()),
            },
            inventory_file: h(),
            fleet: vec![
                FleetRow {
                    make: h(),
                    model: h(),
                    count: 1,
                    cores: 8,
                    memory_gib: 64,
                    storage_gb: 960.0,
                },
                FleetRow {
                    make: "Dell".into(),
                    model: String::new(),
                    count: 1,
                    cores: 8,
                    memory_gib: 64,
                    storage_gb: 960.0,
                },
            ],
            plan: Some(CapacityPlan {
                headroom: 0.2,
                active_nodes: 1,
                lines: vec![ResourceLine {
                    resource: Resource::Memory,
                    demand: 100.0,
                    workloads: vec![(h(), 100.0)],
                    required: 120.0,
                    capacity: 64.0,
                    deficit: 56.0,
                }],
                catalog: vec![CatalogEntry {
                    make: h(),
                    model: h(),
                    cores: 8.0,
                    memory_gb: 64.0,
                    storage_gb: 960.0,
                    cost: Some(10.0),
                }],
                options: vec![Recommendation {
                    make: h(),
                    model: h(),
                    count: 2,
                    limiting: Resource::Memory,
                    workloads: vec![h()],
                    unit_cost: Some(10.0),
                    total_cost: Some(20.0),
                    message: Prose::from("buy 2 more of ").value(HOSTILE),
                }],
                note: None,
            }),
        }
    }

    /// The Markdown as GitHub reads it (CommonMark + GFM tables, through `pulldown-cmark`).
    #[derive(Default)]
    struct Rendered {
        /// Text outside code spans: where GitHub makes mentions, references and autolinks.
        text: Vec<String>,
        code: Vec<String>,
        html: Vec<String>,
        links: Vec<String>,
        /// Cells per table row, per table.
        rows: Vec<Vec<usize>>,
    }

    fn rendered(md: &str) -> Rendered {
        use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};
        let mut out = Rendered::default();
        for event in Parser::new_ext(md, Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH) {
            match event {
                Event::Text(t) => out.text.push(t.into_string()),
                Event::Code(c) => out.code.push(c.into_string()),
                Event::Html(h) | Event::InlineHtml(h) => out.html.push(h.into_string()),
                Event::Start(Tag::Link { dest_url, .. } | Tag::Image { dest_url, .. }) => {
                    out.links.push(dest_url.into_string())
                }
                Event::Start(Tag::Table(_)) => out.rows.push(Vec::new()),
                Event::Start(Tag::TableHead | Tag::TableRow) => {
                    if let Some(table) = out.rows.last_mut() {
                        table.push(0);
                    }
                }
                Event::End(TagEnd::TableCell) => {
                    if let Some(row) = out.rows.last_mut().and_then(|t| t.last_mut()) {
                        *row += 1;
                    }
                }
                _ => {}
            }
        }
        out
    }

    #[test]
    fn markdown_cells_carry_no_html_outside_code_spans() {
        let md = render(&hostile_report(), Format::Markdown, false);
        let r = rendered(&md);
        assert!(r.links.is_empty(), "links {:?} in:\n{md}", r.links);
        for html in &r.html {
            // enlist's own: list breaks in a cell, the verdict in small print.
            assert!(
                ["<br>", "<sub>", "</sub>"].contains(&html.trim()),
                "HTML {html:?} in:\n{md}"
            );
        }
        for text in &r.text {
            for live in ["@", "http", "www.", "#", "<", "evil", "admins", "::"] {
                assert!(
                    !text.contains(live),
                    "{live:?} in live text {text:?} of:\n{md}"
                );
            }
        }
        // Each value is there, literally, in code spans (one line, invisible characters shown
        // as U+FFFD).
        let shown = crate::markdown::one_line(HOSTILE);
        let whole = r.code.iter().filter(|c| **c == shown).count();
        assert!(whole >= 20, "{whole} whole values in code spans of:\n{md}");
        // No bidirectional or zero-width character anywhere, no line from a value.
        assert!(!md.contains(['\u{202E}', '\u{200B}', '\r']), "{md}");
        assert!(!md.lines().any(|l| l.starts_with("::")), "{md}");
        // Every table row has as many cells as its header: no `|` or line break split one.
        assert_eq!(r.rows.len(), 9, "tables in:\n{md}");
        for table in &r.rows {
            assert!(table.iter().all(|n| *n == table[0]), "{table:?} in:\n{md}");
        }
    }

    #[test]
    fn markdown_prose_keeps_enlists_code_spans_and_quotes_values_as_code() {
        let hint = Prose::from("run `enlist register`, then map ")
            .code("  \"@acme\": active")
            .say(" in ")
            .value("a|b");
        assert_eq!(
            md_prose(&hint, true),
            "run `enlist register`, then map `  \"@acme\": active` in `a\\|b`"
        );
        assert_eq!(
            md_prose(&hint, false),
            "run `enlist register`, then map `  \"@acme\": active` in `a|b`"
        );
        // A value with backticks gets a longer fence; an empty one is shown as such.
        assert_eq!(
            md_prose(&Prose::new().value("a`b").say(" ").value(""), false),
            "``a`b`` (empty)"
        );
    }

    #[test]
    fn text_output_cannot_inject_workflow_commands() {
        let text = render(&hostile_report(), Format::Text, false);
        for line in text.lines() {
            assert!(!line.trim_start().starts_with("::"), "{line:?}");
            assert!(!line.contains("##["), "{line:?}");
        }
        assert!(!text.contains(['\u{202E}', '\u{200B}', '\r']), "{text}");
        // Values stay on their line: as many lines as with a harmless value.
        let harmless = render(&Report::default(), Format::Text, false);
        assert!(harmless.lines().count() < text.lines().count());
        let mut tame = hostile_report();
        tame.inventory_file = "inventory.csv".into();
        let lines = |r: &Report| render(r, Format::Text, false).lines().count();
        assert_eq!(lines(&tame), text.lines().count());
        assert_eq!(
            log_safe("  ::error::x\n::y\na ##[b ##[c\n"),
            "  %3A:error::x\n%3A:y\na #%23[b #%23[c\n"
        );
    }

    /// GitHub's own unescaping of a workflow command property (`actions/runner`
    /// `ActionCommand.cs`: `%0D`, `%0A`, `%3A`, `%2C`, then `%25`).
    fn unescape_property(value: &str) -> String {
        value
            .replace("%0D", "\r")
            .replace("%0A", "\n")
            .replace("%3A", ":")
            .replace("%2C", ",")
            .replace("%25", "%")
    }

    #[test]
    fn annotations_escape_values_the_way_the_runner_unescapes_them() {
        let out = render(&hostile_report(), Format::Github, false);
        let mut files = Vec::new();
        for line in out.lines() {
            if line.starts_with("enlist reconcile ") {
                continue;
            }
            // `::level props::data`: the first `::` after the level ends the properties.
            let rest = line
                .strip_prefix("::")
                .unwrap_or_else(|| panic!("{line:?}"));
            let (command, data) = rest.split_once("::").unwrap_or_else(|| panic!("{line:?}"));
            let (level, props) = command.split_once(' ').unwrap_or((command, ""));
            assert!(["error", "warning", "notice"].contains(&level), "{line:?}");
            for prop in props.split(',') {
                if let Some(file) = prop.strip_prefix("file=") {
                    files.push(unescape_property(file));
                }
            }
            // Values in messages are on one line, without invisible characters (a path in
            // `file=` stays exact: the runner needs it to find the file).
            assert!(
                !data.contains(['\r', '\n', '\u{202E}', '\u{200B}']),
                "{line:?}"
            );
        }
        // The runner gets the paths back exactly: the annotations land on the right files.
        assert!(
            files.iter().filter(|f| *f == HOSTILE).count() >= 5,
            "{files:?}"
        );
        assert!(files.contains(&format!("{HOSTILE}2")), "{files:?}");
        assert!(!out.contains('\r'), "{out}");
        assert_eq!(out.lines().count(), 9, "{out}");
    }

    #[test]
    fn duplicate_annotations_name_at_most_five_others() {
        use crate::reconcile::report::{Duplicate, DuplicateKind, Shared};
        let paths: Vec<String> = (0..40)
            .map(|i| format!("cluster-nodes/node-{i:02}/node.yaml"))
            .collect();
        let report = Report {
            duplicates: vec![Duplicate {
                kind: DuplicateKind::Identity,
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
