//! The report as one self-contained HTML page (`--format html`): the fleet report people open from
//! a CI artifact, where a chart says more than a table.
//!
//! *Self-contained* means the page fetches nothing: inline CSS, inline SVG charts, no script, no
//! web font, no image URL — and a `Content-Security-Policy` of `default-src 'none'` so a browser
//! refuses any fetch that might slip in later. It renders the same offline, from an artifact zip
//! or attached to a mail.
//!
//! Every string that comes from the data (node.yaml values, inventory cells, workload names) is
//! untrusted and goes through [`esc`]; nothing from the data ever lands in a tag, attribute name,
//! style or URL. Like the other formats the page is a pure function of the [`Report`] (no time, no
//! paths outside it, fixed float formatting), so it is kept as a golden file.

use std::fmt::Write as _;

use super::demand::percent;
use super::prose::{Piece, Prose};
use super::render::{located, make_model, or_dash, plural, shared_text, verdict};
use super::report::{CapacityPlan, Recommendation, Report, Resource, ResourceLine};

/// Rows per findings table. A browser copes with more, but nobody scrolls through 20,000 rows of
/// "missing registration"; the complete list is in `--format json`.
pub const HTML_MAX_ROWS: usize = 500;

/// Fill and label colour per series (Tableau 10 without its red: red means "short" here).
const PALETTE: [(&str, &str); 9] = [
    ("#4e79a7", "#fff"),
    ("#f28e2b", "#1d1d1f"),
    ("#59a14f", "#fff"),
    ("#b07aa1", "#fff"),
    ("#76b7b2", "#1d1d1f"),
    ("#edc948", "#1d1d1f"),
    ("#9c755f", "#fff"),
    ("#ff9da7", "#1d1d1f"),
    ("#bab0ac", "#1d1d1f"),
];

/// At most this many server glyphs are drawn for a purchase; the rest is a number.
const MAX_GLYPHS: u64 = 8;

/// Escapes text for an HTML text node or a double-quoted attribute value (also inside SVG).
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // NUL is a parse error in HTML; other controls render as nothing useful; bidirectional
            // and zero-width characters make a reader see something else than what is there.
            c if c != '\n' && c != '\t' && crate::markdown::is_unsafe(c) => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// A whole number with thousands separators: `38400.2` → `38,400`.
fn num(value: f64) -> String {
    let rounded = value.round();
    let digits = format!("{:.0}", rounded.abs());
    let mut grouped = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if rounded < 0.0 {
        grouped.push('−');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    grouped
}

fn count(n: usize) -> String {
    num(n as f64)
}

/// The largest value a chart axis reaches. The parsers bound every amount far below it, so only a
/// report built some other way gets here; its bars are then clipped, never drawn off to infinity.
const AXIS_LIMIT: f64 = 1e15;

/// `value` as an axis can hold it: from 0 to [`AXIS_LIMIT`], NaN as 0, infinity as the limit.
fn on_axis(value: f64) -> f64 {
    if value.is_nan() {
        0.0
    } else {
        value.clamp(0.0, AXIS_LIMIT)
    }
}

/// At most this many grid lines per chart, whatever the step.
const MAX_TICKS: f64 = 20.0;

/// A 1-2-2.5-5 step giving about `ticks` intervals up to `max` (no logarithms: exact and the same
/// on every platform, so the golden file is too). `max` is bounded first, so the search for the
/// magnitude ends (it would loop forever on infinity).
fn nice_step(max: f64, ticks: f64) -> f64 {
    let raw = (on_axis(max) / ticks.max(1.0)).max(1.0);
    let mut magnitude = 1.0;
    // At most 15 rounds: raw ≤ AXIS_LIMIT.
    while magnitude * 10.0 <= raw {
        magnitude *= 10.0;
    }
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|step| *step >= raw)
        .unwrap_or(magnitude * 10.0)
}

/// Severity of a check, as a CSS class.
#[derive(Clone, Copy)]
enum Tone {
    Ok,
    Warn,
    Bad,
}

impl Tone {
    fn of(n: usize, fails: bool) -> Tone {
        match (n, fails) {
            (0, _) => Tone::Ok,
            (_, true) => Tone::Bad,
            (_, false) => Tone::Warn,
        }
    }

    fn class(self) -> &'static str {
        match self {
            Tone::Ok => "ok",
            Tone::Warn => "warn",
            Tone::Bad => "bad",
        }
    }
}

/// Renders the whole page.
pub fn render(report: &Report, strict: bool) -> String {
    let mut out = String::with_capacity(48 * 1024);
    let failed = report.failed(strict);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
         style-src 'unsafe-inline'\">\n\
         <meta name=\"color-scheme\" content=\"light dark\">\n\
         <meta name=\"generator\" content=\"enlist reconcile --format html\">\n\
         <title>enlist fleet report: {}</title>\n<style>\n{CSS}</style>\n</head>\n<body>\n<main>\n",
        if failed { "failed" } else { "passed" }
    );
    header(&mut out, report, failed);
    cards(&mut out, report, strict, failed);
    match &report.plan {
        Some(plan) => {
            capacity(&mut out, report, plan);
            purchase(&mut out, report, plan);
        }
        None => out.push_str(
            "<section id=\"capacity\">\n<h2>Capacity and buying</h2>\n<p class=\"muted\">Run \
             <code>enlist reconcile</code> with <code>--demand demand.yaml</code> to compare the \
             capacity of active nodes with what the workloads need, and to get a buying \
             recommendation.</p>\n</section>\n",
        ),
    }
    findings(&mut out, report, strict);
    fleet(&mut out, report);
    columns(&mut out, report);
    let _ = write!(
        out,
        "<footer>\n<p id=\"verdict-line\">{}</p>\n<p>Generated by <code>enlist reconcile \
         --format html</code>. The same findings as JSON: <code>--format json</code>.</p>\n\
         </footer>\n</main>\n</body>\n</html>\n",
        esc(&verdict(report, strict))
    );
    out
}

fn header(out: &mut String, report: &Report, failed: bool) {
    let _ = write!(
        out,
        "<header>\n<div>\n<h1>Fleet report</h1>\n<p class=\"subtitle\">{} checked against {} in \
         <code>{}</code></p>\n</div>\n<div class=\"badge {}\" id=\"verdict\">{}</div>\n</header>\n",
        plural(report.nodes, "node.yaml file", "node.yaml files"),
        plural(report.inventory, "inventory row", "inventory rows"),
        esc(&report.inventory_file),
        if failed { "bad" } else { "ok" },
        if failed { "✗ Failed" } else { "✓ Passed" },
    );
}

/// One summary card; `id` names the element holding the number (the browser test reads it).
fn card(out: &mut String, tone: Option<Tone>, label: &str, id: &str, value: &str, sub: &str) {
    let _ = write!(
        out,
        "<div class=\"card{}\">\n<div class=\"label\">{label}</div>\n\
         <div class=\"value\" id=\"{id}\">{value}</div>\n<div class=\"sub\">{sub}</div>\n</div>\n",
        tone.map(|t| format!(" {}", t.class())).unwrap_or_default(),
    );
}

fn cards(out: &mut String, report: &Report, strict: bool, failed: bool) {
    out.push_str("<section class=\"cards\" id=\"summary\">\n");
    card(
        out,
        None,
        "Registered nodes",
        "count-nodes",
        &count(report.nodes),
        "node.yaml files in the repository",
    );
    card(
        out,
        None,
        "Inventory",
        "count-inventory",
        &count(report.inventory),
        &format!("rows in {}", esc(&report.inventory_file)),
    );
    let gaps = report.gaps();
    card(
        out,
        Some(if failed { Tone::Bad } else { Tone::Ok }),
        "Blocking findings",
        "count-errors",
        &count(report.errors()),
        &format!(
            "invalid + duplicates · {} {}",
            plural(gaps, "gap", "gaps"),
            match (strict, gaps) {
                (true, _) => "fail with --strict",
                (false, 1) => "is a warning",
                (false, _) => "are warnings",
            }
        ),
    );
    match report.recommendations.first() {
        Some(r) => card(
            out,
            None,
            "Recommended purchase",
            "card-recommendation",
            &count(r.count as usize),
            &format!(
                "more {} {} · {} is the limit",
                esc(&r.make),
                esc(&r.model),
                r.limiting.as_str()
            ),
        ),
        None => card(
            out,
            None,
            "Recommended purchase",
            "card-recommendation",
            "—",
            match &report.plan {
                Some(_) => "nothing to buy",
                None => "no demand file given",
            },
        ),
    }
    out.push_str("</section>\n<section class=\"cards checks\" id=\"checks\">\n");
    let gap_effect = if strict {
        "fails CI (--strict)"
    } else {
        "warning"
    };
    let checks: [(&str, &str, usize, bool, &str); 5] = [
        (
            "Invalid",
            "invalid",
            report.invalid.len(),
            true,
            "node.yaml files / inventory rows · fails CI",
        ),
        (
            "Duplicates",
            "duplicates",
            report.duplicates.len(),
            true,
            "shared serial, fingerprint or MAC · fails CI",
        ),
        (
            "Missing registrations",
            "missing_registration",
            report.missing_registration.len(),
            strict,
            gap_effect,
        ),
        (
            "Phantom nodes",
            "phantom_nodes",
            report.phantom_nodes.len(),
            strict,
            gap_effect,
        ),
        (
            "Mismatches",
            "mismatches",
            report.mismatches.len(),
            strict,
            gap_effect,
        ),
    ];
    for (label, key, n, fails, effect) in checks {
        card(
            out,
            Some(Tone::of(n, fails)),
            label,
            &format!("count-{key}"),
            &count(n),
            effect,
        );
    }
    out.push_str("</section>\n");
}

/// The catalog entry of a recommendation (for per-unit figures).
fn unit_of<'a>(
    plan: &'a CapacityPlan,
    r: &Recommendation,
) -> Option<&'a super::demand::CatalogEntry> {
    plan.catalog
        .iter()
        .find(|c| c.make == r.make && c.model == r.model)
}

fn resource_title(resource: Resource) -> &'static str {
    match resource {
        Resource::Cores => "Cores",
        Resource::Memory => "Memory (GiB)",
        Resource::Storage => "Storage (GB)",
    }
}

fn capacity(out: &mut String, report: &Report, plan: &CapacityPlan) {
    let chosen = report.recommendations.first();
    let _ = write!(
        out,
        "<section id=\"capacity\">\n<h2>Capacity vs demand</h2>\n<p class=\"muted\">Demand of \
         every workload, plus {} % headroom, against the capacity of {}.</p>\n\
         <div class=\"panels\">\n",
        percent(plan.headroom),
        plural(
            plan.active_nodes,
            "active registered node",
            "active registered nodes"
        )
    );
    for line in &plan.lines {
        let added = chosen
            .and_then(|r| unit_of(plan, r).map(|u| u.per_unit(line.resource) * r.count as f64))
            .unwrap_or(0.0);
        panel(out, plan, line, added, chosen);
    }
    out.push_str("</div>\n<div class=\"legend\">\n");
    let workloads: Vec<&str> = plan
        .lines
        .first()
        .map(|l| l.workloads.iter().map(|(n, _)| n.as_str()).collect())
        .unwrap_or_default();
    for (i, name) in workloads.iter().enumerate() {
        let _ = writeln!(
            out,
            "<span><i class=\"sw\" style=\"background:{}\"></i>{}</span>",
            PALETTE[i % PALETTE.len()].0,
            esc(name)
        );
    }
    out.push_str(
        "<span><i class=\"sw cap\"></i>capacity today</span>\n\
         <span><i class=\"sw need\"></i>demand + headroom</span>\n\
         <span><i class=\"sw short\"></i>shortfall</span>\n",
    );
    if let Some(r) = chosen {
        let _ = writeln!(
            out,
            "<span><i class=\"sw add\"></i>after buying {} × {}</span>",
            r.count,
            esc(&r.model)
        );
    }
    out.push_str("</div>\n</section>\n");
}

/// One resource: a column of stacked workload demand and a column of capacity (plus what the
/// recommendation adds), with the demand-plus-headroom line across both.
fn panel(
    out: &mut String,
    plan: &CapacityPlan,
    line: &ResourceLine,
    added: f64,
    chosen: Option<&Recommendation>,
) {
    const W: f64 = 360.0;
    const TOP: f64 = 14.0;
    const BOTTOM: f64 = 206.0;
    const LEFT: f64 = 52.0;
    const DEMAND_X: f64 = 68.0;
    const CAPACITY_X: f64 = 164.0;
    const COL_W: f64 = 80.0;
    let after = line.capacity + added;
    let max = on_axis(line.required.max(after).max(line.demand)).max(1.0);
    let step = nice_step(max, 4.0);
    let axis_max = (max / step).ceil() * step;
    let y = |v: f64| BOTTOM - (on_axis(v).min(axis_max) / axis_max) * (BOTTOM - TOP);
    let unit = line.resource.unit();
    let (pill, pill_class) = if line.deficit > 0.0 {
        (format!("short {} {unit}", num(line.deficit)), "bad")
    } else {
        (format!("surplus {} {unit}", num(-line.deficit)), "ok")
    };
    let _ = write!(
        out,
        "<figure class=\"panel\" id=\"capacity-{}\">\n<figcaption><span>{}</span>\
         <span class=\"pill {pill_class}\">{pill}</span></figcaption>\n\
         <svg viewBox=\"0 0 {W} 262\" role=\"img\" aria-label=\"{}: demand {} with headroom {}, \
         capacity {}\">\n",
        line.resource.as_str(),
        resource_title(line.resource),
        resource_title(line.resource),
        num(line.demand),
        num(line.required),
        num(line.capacity),
    );
    // Grid and axis: a counted loop, never one on a float that might not grow.
    let intervals = (axis_max / step).round().clamp(0.0, MAX_TICKS) as usize;
    for i in 0..=intervals {
        let tick = i as f64 * step;
        let ty = y(tick);
        let _ = writeln!(
            out,
            "<line class=\"grid\" x1=\"{LEFT}\" y1=\"{ty:.1}\" x2=\"{:.1}\" y2=\"{ty:.1}\"/>\
             <text class=\"tick\" x=\"{:.1}\" y=\"{:.1}\">{}</text>",
            W - 6.0,
            LEFT - 6.0,
            ty + 4.0,
            num(tick)
        );
    }
    // Demand: stacked workloads, bottom up.
    let mut base = 0.0;
    for (i, (name, amount)) in line.workloads.iter().enumerate() {
        if *amount <= 0.0 {
            continue;
        }
        let (fill, ink) = PALETTE[i % PALETTE.len()];
        let (y1, y0) = (y(base + amount), y(base));
        let _ = writeln!(
            out,
            "<rect x=\"{DEMAND_X}\" y=\"{y1:.1}\" width=\"{COL_W}\" height=\"{:.1}\" \
             fill=\"{fill}\"><title>{}: {} {unit}</title></rect>",
            y0 - y1,
            esc(name),
            num(*amount)
        );
        if y0 - y1 >= 15.0 {
            let _ = writeln!(
                out,
                "<text class=\"seg\" x=\"{:.1}\" y=\"{:.1}\" fill=\"{ink}\">{}</text>",
                DEMAND_X + COL_W / 2.0,
                (y0 + y1) / 2.0 + 4.0,
                esc(&clip(name, 11))
            );
        }
        base += amount;
    }
    // Capacity today, then what the recommendation adds on top.
    let cap_top = y(line.capacity);
    let _ = writeln!(
        out,
        "<rect class=\"cap\" x=\"{CAPACITY_X}\" y=\"{cap_top:.1}\" width=\"{COL_W}\" \
         height=\"{:.1}\"><title>capacity today: {} {unit}</title></rect>",
        BOTTOM - cap_top,
        num(line.capacity)
    );
    if added > 0.0
        && let Some(r) = chosen
    {
        let add_top = y(after);
        let _ = writeln!(
            out,
            "<rect class=\"add\" x=\"{CAPACITY_X}\" y=\"{add_top:.1}\" width=\"{COL_W}\" \
             height=\"{:.1}\"><title>{} × {} {}: +{} {unit}</title></rect>",
            cap_top - add_top,
            r.count,
            esc(&r.make),
            esc(&r.model),
            num(added)
        );
        if cap_top - add_top >= 15.0 {
            let _ = writeln!(
                out,
                "<text class=\"seg add-label\" x=\"{:.1}\" y=\"{:.1}\">+{} new</text>",
                CAPACITY_X + COL_W / 2.0,
                (cap_top + add_top) / 2.0 + 4.0,
                r.count
            );
        }
    }
    // Shortfall: a bracket from capacity up to the line.
    if line.deficit > 0.0 {
        let need_y = y(line.required);
        let bx = CAPACITY_X + COL_W + 7.0;
        let _ = writeln!(
            out,
            "<path class=\"short\" d=\"M{:.1} {need_y:.1}H{bx:.1}V{cap_top:.1}H{:.1}\">\
             <title>short {} {unit}</title></path>",
            bx - 4.0,
            bx - 4.0,
            num(line.deficit)
        );
    }
    // Demand + headroom.
    let need_y = y(line.required);
    let _ = writeln!(
        out,
        "<line class=\"need\" x1=\"{:.1}\" y1=\"{need_y:.1}\" x2=\"{:.1}\" y2=\"{need_y:.1}\"/>\
         <text class=\"need-label\" x=\"{:.1}\" y=\"{:.1}\">need {}</text>",
        DEMAND_X - 10.0,
        W - 6.0,
        W - 6.0,
        need_y - 5.0,
        num(line.required)
    );
    // Column labels with the totals.
    let _ = writeln!(
        out,
        "<line class=\"axis\" x1=\"{LEFT}\" y1=\"{BOTTOM}\" x2=\"{:.1}\" y2=\"{BOTTOM}\"/>\n\
         <text class=\"col\" x=\"{:.1}\" y=\"226\">demand</text>\
         <text class=\"col-value\" x=\"{:.1}\" y=\"244\">{}</text>\n\
         <text class=\"col\" x=\"{:.1}\" y=\"226\">capacity</text>\
         <text class=\"col-value\" x=\"{:.1}\" y=\"244\">{}</text>",
        W - 6.0,
        DEMAND_X + COL_W / 2.0,
        DEMAND_X + COL_W / 2.0,
        num(line.demand),
        CAPACITY_X + COL_W / 2.0,
        CAPACITY_X + COL_W / 2.0,
        if added > 0.0 {
            format!("{} → {}", num(line.capacity), num(after))
        } else {
            num(line.capacity)
        }
    );
    let _ = write!(
        out,
        "</svg>\n<p class=\"panel-note\">{} + {} % headroom = {} {unit}</p>\n\
         </figure>\n",
        num(line.demand),
        percent(plan.headroom),
        num(line.required),
    );
}

/// Shortens a label to `max` characters (the full text is in the `<title>` tooltip).
fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let mut s: String = text.chars().take(max.saturating_sub(1)).collect();
        s.push('…');
        s
    }
}

fn purchase(out: &mut String, report: &Report, plan: &CapacityPlan) {
    out.push_str("<section id=\"purchase\">\n<h2>Recommended purchase</h2>\n");
    let Some(r) = report.recommendations.first() else {
        let _ = writeln!(
            out,
            "<p class=\"buy-none\">{}</p>\n</section>",
            esc(plan
                .note
                .as_deref()
                .unwrap_or("capacity covers the demand: nothing to buy"))
        );
        return;
    };
    let mut why = vec![format!("{} is the limit", r.limiting.as_str())];
    if !r.workloads.is_empty() {
        why.push(format!("driven by {}", esc(&r.workloads.join(", "))));
    }
    if let Some(total) = r.total_cost {
        why.push(format!("total cost {}", num(total)));
    }
    let _ = write!(
        out,
        "<div class=\"buy\">\n<div>\n<div class=\"buy-line\">Buy <span id=\"recommendation-count\">\
         {}</span> more of <span id=\"recommendation-model\">{} {}</span></div>\n\
         <p class=\"muted\">{}</p>\n</div>\n",
        r.count,
        esc(&r.make),
        esc(&r.model),
        why.join(" · ")
    );
    servers(out, r.count);
    out.push_str("</div>\n");
    if !plan.options.is_empty() {
        options(out, plan);
    }
    out.push_str("</section>\n");
}

/// Rack-unit glyphs, one per machine to buy.
fn servers(out: &mut String, n: u64) {
    let shown = n.min(MAX_GLYPHS);
    let height = 8.0 + shown as f64 * 26.0;
    let _ = writeln!(
        out,
        "<svg class=\"servers\" viewBox=\"0 0 200 {height:.0}\" width=\"200\" \
         height=\"{height:.0}\" aria-hidden=\"true\">"
    );
    for i in 0..shown {
        let top = 4.0 + i as f64 * 26.0;
        let _ = writeln!(
            out,
            "<rect class=\"unit\" x=\"4\" y=\"{top:.0}\" width=\"192\" height=\"22\" rx=\"3\"/>\
             <rect class=\"bay\" x=\"14\" y=\"{:.0}\" width=\"34\" height=\"10\" rx=\"1\"/>\
             <rect class=\"bay\" x=\"52\" y=\"{:.0}\" width=\"34\" height=\"10\" rx=\"1\"/>\
             <rect class=\"bay\" x=\"90\" y=\"{:.0}\" width=\"34\" height=\"10\" rx=\"1\"/>\
             <circle class=\"led\" cx=\"176\" cy=\"{:.0}\" r=\"3\"/>",
            top + 6.0,
            top + 6.0,
            top + 6.0,
            top + 11.0
        );
    }
    out.push_str("</svg>\n");
    if n > shown {
        let _ = writeln!(out, "<div class=\"more\">+{} more</div>", n - shown);
    }
}

/// Every catalog model that would cover the shortfall: total cost (or units) per option, in the
/// buying model's order (priced models by total cost, then unpriced ones by units).
fn options(out: &mut String, plan: &CapacityPlan) {
    const W: f64 = 1100.0;
    const LABEL_W: f64 = 300.0;
    const ROW: f64 = 46.0;
    let priced = plan
        .options
        .iter()
        .filter(|o| o.total_cost.is_some())
        .count();
    let by_cost = priced == plan.options.len();
    let value = |o: &Recommendation| {
        if by_cost {
            o.total_cost.unwrap_or(0.0)
        } else {
            o.count as f64
        }
    };
    let max = plan.options.iter().map(value).fold(0.0, f64::max).max(1.0);
    let bar_w = W - LABEL_W - 300.0;
    let height = plan.options.len() as f64 * ROW + 4.0;
    let _ = writeln!(
        out,
        "<h3>Options that cover the shortfall ({})</h3>\n\
         <svg class=\"options\" viewBox=\"0 0 {W} {height:.0}\" role=\"img\" \
         aria-label=\"purchase options by {}\">",
        match priced {
            _ if by_cost => "cheapest first",
            0 => "fewest units first",
            _ => "priced models cheapest first, then the others by fewest units",
        },
        if by_cost { "total cost" } else { "units" }
    );
    for (i, o) in plan.options.iter().enumerate() {
        let top = 4.0 + i as f64 * ROW;
        let w = (value(o) / max * bar_w).max(2.0);
        let unit = plan
            .catalog
            .iter()
            .find(|c| c.make == o.make && c.model == o.model)
            .map(|c| {
                format!(
                    "{} cores · {} GiB · {} GB per unit",
                    num(c.cores),
                    num(c.memory_gb),
                    num(c.storage_gb)
                )
            })
            .unwrap_or_default();
        let mut parts = Vec::new();
        if let Some(total) = o.total_cost {
            parts.push(num(total));
        }
        parts.push(plural(o.count as usize, "unit", "units"));
        parts.push(format!("{} is the limit", o.limiting.as_str()));
        if i == 0 {
            parts.push("recommended".into());
        }
        let label = parts.join(" · ");
        let _ = writeln!(
            out,
            "<text class=\"opt-name\" x=\"0\" y=\"{:.0}\">{} {}</text>\
             <text class=\"opt-unit\" x=\"0\" y=\"{:.0}\">{}</text>\
             <rect class=\"{}\" x=\"{LABEL_W}\" y=\"{:.0}\" width=\"{w:.1}\" height=\"24\" rx=\"3\"/>\
             <text class=\"opt-value\" x=\"{:.1}\" y=\"{:.0}\">{}</text>",
            top + 15.0,
            esc(&o.make),
            esc(&o.model),
            top + 32.0,
            unit,
            if i == 0 { "opt best" } else { "opt" },
            top + 6.0,
            LABEL_W + w + 8.0,
            top + 23.0,
            esc(&label)
        );
    }
    out.push_str("</svg>\n");
}

/// A findings table: headers, rows of already-escaped cells, and the right-aligned columns.
fn table(out: &mut String, headers: &[&str], numeric: &[bool], rows: &[Vec<String>]) {
    // Prose columns may break anywhere (they carry 64-digit hashes and long paths); short values
    // keep their words whole.
    let classes: Vec<(&str, &str)> = headers
        .iter()
        .zip(numeric)
        .map(|(h, n)| match (*n, *h) {
            (true, _) => (" class=\"n\"", " class=\"n\""),
            // The advice is the point of the table: it keeps a readable width.
            (false, "what to do") => (" class=\"hint\"", " class=\"wrap\""),
            (false, "problem" | "shared") => ("", " class=\"wrap\""),
            (false, _) => ("", ""),
        })
        .collect();
    out.push_str("<div class=\"scroll\"><table>\n<thead><tr>");
    for (h, (th, _)) in headers.iter().zip(&classes) {
        let _ = write!(out, "<th{th}>{h}</th>");
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for row in rows.iter().take(HTML_MAX_ROWS) {
        out.push_str("<tr>");
        for (cell, (_, td)) in row.iter().zip(&classes) {
            let _ = write!(out, "<td{td}>{cell}</td>");
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table></div>\n");
    if rows.len() > HTML_MAX_ROWS {
        let _ = writeln!(
            out,
            "<p class=\"muted\">… and {} more, not shown: see <code>--format json</code>.</p>",
            count(rows.len() - HTML_MAX_ROWS)
        );
    }
}

/// `hash_mismatch` → `hash mismatch` (the JSON name, readable).
fn kind_name(kind: super::report::InvalidKind) -> String {
    serde_json::to_value(kind)
        .ok()
        .and_then(|v| v.as_str().map(|s| s.replace('_', " ")))
        .unwrap_or_default()
}

/// A message or hint: enlist's words escaped, their `backticked` spans as code (hints quote
/// commands that way); values from files escaped as plain text shows them (one line), or as code
/// when plain text quotes them as code.
fn prose(prose: &Prose) -> String {
    let mut out = String::with_capacity(prose.len() + 16);
    for piece in prose.pieces() {
        match piece {
            Piece::Words(words) => out.push_str(&words_html(words)),
            Piece::Value {
                raw,
                code: true,
                whole,
                ..
            } => {
                let max = if whole {
                    usize::MAX
                } else {
                    crate::markdown::MAX_VALUE_CHARS
                };
                let _ = write!(
                    out,
                    "<code>{}</code>",
                    esc(&crate::markdown::one_line_max(raw, max))
                );
            }
            Piece::Value { plain, .. } => out.push_str(&esc(plain)),
        }
    }
    out
}

/// enlist's own words, escaped, with `backticked` spans as code.
fn words_html(text: &str) -> String {
    let escaped = esc(text);
    if !escaped.matches('`').count().is_multiple_of(2) {
        return escaped;
    }
    let mut out = String::with_capacity(escaped.len() + 16);
    for (i, part) in escaped.split('`').enumerate() {
        if i % 2 == 1 {
            let _ = write!(out, "<code>{part}</code>");
        } else {
            out.push_str(part);
        }
    }
    out
}

fn code(text: &str) -> String {
    format!("<code>{}</code>", esc(text))
}

fn heading(out: &mut String, id: &str, title: &str, n: usize, tone: Tone, effect: &str) {
    let _ = writeln!(
        out,
        "<h3 id=\"{id}\"><span class=\"dot {}\"></span>{title} <span class=\"n-badge\">{n}</span> \
         <span class=\"effect {}\">{effect}</span></h3>",
        tone.class(),
        tone.class()
    );
}

fn findings(out: &mut String, report: &Report, strict: bool) {
    out.push_str("<section id=\"findings\">\n<h2>Findings</h2>\n");
    if report.errors() + report.gaps() == 0 {
        out.push_str(
            "<p class=\"all-clear\">✓ No findings: every registration matches the inventory.</p>\n\
             </section>\n",
        );
        return;
    }
    let gap_tone = if strict { Tone::Bad } else { Tone::Warn };
    let gap_effect = if strict {
        "fails CI (--strict)"
    } else {
        "warning"
    };
    if !report.invalid.is_empty() {
        heading(
            out,
            "invalid",
            "Invalid",
            report.invalid.len(),
            Tone::Bad,
            "fails CI",
        );
        let rows: Vec<Vec<String>> = report
            .invalid
            .iter()
            .map(|i| {
                vec![
                    code(&located(&i.file, i.line)),
                    esc(&kind_name(i.kind)),
                    prose(&i.message),
                    prose(&i.hint),
                ]
            })
            .collect();
        table(
            out,
            &["file", "kind", "problem", "what to do"],
            &[false; 4],
            &rows,
        );
    }
    if !report.duplicates.is_empty() {
        heading(
            out,
            "duplicates",
            "Duplicates",
            report.duplicates.len(),
            Tone::Bad,
            "fails CI",
        );
        let rows: Vec<Vec<String>> = report
            .duplicates
            .iter()
            .map(|d| {
                let paths: Vec<String> = d.paths.iter().map(|p| code(p)).collect();
                let shared: Vec<String> = d
                    .shared
                    .iter()
                    .map(|s| esc(&shared_text(s.kind, &s.value)))
                    .collect();
                vec![
                    esc(&d.nodes.join(", ")),
                    paths.join("<br>"),
                    shared.join("<br>"),
                    prose(&d.hint),
                ]
            })
            .collect();
        table(
            out,
            &["nodes", "node.yaml files", "shared", "what to do"],
            &[false; 4],
            &rows,
        );
    }
    if !report.missing_registration.is_empty() {
        heading(
            out,
            "missing_registration",
            "Missing registrations",
            report.missing_registration.len(),
            gap_tone,
            gap_effect,
        );
        let rows: Vec<Vec<String>> = report
            .missing_registration
            .iter()
            .map(|m| {
                vec![
                    m.line.to_string(),
                    match &m.serial {
                        Some(s) => code(s),
                        None => esc(&format!("MAC {}", m.macs.join(" "))),
                    },
                    esc(&make_model(m.make.as_deref(), m.model.as_deref())),
                    esc(or_dash(m.hostname.as_deref())),
                    esc(or_dash(m.location.as_deref())),
                    prose(&m.hint),
                ]
            })
            .collect();
        table(
            out,
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
        heading(
            out,
            "phantom_nodes",
            "Phantom nodes",
            report.phantom_nodes.len(),
            gap_tone,
            gap_effect,
        );
        let rows: Vec<Vec<String>> = report
            .phantom_nodes
            .iter()
            .map(|p| {
                vec![
                    code(&p.path),
                    esc(&p.hostname),
                    esc(&make_model(p.make.as_deref(), p.model.as_deref())),
                    p.serial.as_deref().map(code).unwrap_or_else(|| "-".into()),
                    prose(&p.hint),
                ]
            })
            .collect();
        table(
            out,
            &["node.yaml", "hostname", "machine", "serial", "what to do"],
            &[false; 5],
            &rows,
        );
    }
    if !report.mismatches.is_empty() {
        heading(
            out,
            "mismatches",
            "Mismatches",
            report.mismatches.len(),
            gap_tone,
            gap_effect,
        );
        let rows: Vec<Vec<String>> = report
            .mismatches
            .iter()
            .map(|m| {
                vec![
                    code(&m.path),
                    code(&located(&m.file, Some(m.line))),
                    esc(m.field.as_str()),
                    esc(&m.inventory),
                    esc(&m.node),
                    prose(&m.hint),
                ]
            })
            .collect();
        table(
            out,
            &[
                "node.yaml",
                "inventory row",
                "field",
                "inventory says",
                "node reports",
                "what to do",
            ],
            &[false; 6],
            &rows,
        );
    }
    out.push_str("</section>\n");
}

/// Which inventory column fed each field, which were ignored: a wrong guess is visible at once.
fn columns(out: &mut String, report: &Report) {
    out.push_str("<section id=\"columns\">\n<h2>Inventory columns</h2>\n");
    let _ = writeln!(
        out,
        "<p class=\"muted\">Read from {}{}. Header names are matched ignoring case, spaces and \
         punctuation; an <code>--inventory-map</code> file names others.</p>",
        code(&report.inventory_file),
        report
            .columns
            .map
            .as_ref()
            .map(|m| format!(", columns and status words mapped by {}", code(m)))
            .unwrap_or_default()
    );
    let rows: Vec<Vec<String>> = report
        .columns
        .in_order()
        .iter()
        .map(|(field, columns)| {
            let columns: Vec<String> = columns.iter().map(|c| code(c)).collect();
            vec![code(field), columns.join(" or ")]
        })
        .collect();
    table(out, &["field", "inventory column"], &[false, false], &rows);
    let ignored: Vec<String> = report.columns.ignored.iter().map(|c| code(c)).collect();
    let _ = writeln!(
        out,
        "<p id=\"ignored-columns\">Ignored columns: {}.</p>\n</section>",
        if ignored.is_empty() {
            "none".to_owned()
        } else {
            ignored.join(", ")
        }
    );
}

fn fleet(out: &mut String, report: &Report) {
    out.push_str("<section id=\"fleet\">\n<h2>Fleet by make and model</h2>\n");
    if report.fleet.is_empty() {
        out.push_str("<p class=\"muted\">No valid registrations yet.</p>\n</section>\n");
        return;
    }
    let total: usize = report.fleet.iter().map(|f| f.count).sum();
    // Composition: one bar, a segment per model.
    const W: f64 = 1100.0;
    let _ = writeln!(
        out,
        "<svg class=\"composition\" viewBox=\"0 0 {W} 34\" role=\"img\" \
         aria-label=\"{} by make and model\">",
        plural(total, "registered node", "registered nodes")
    );
    let mut x = 0.0;
    for (i, f) in report.fleet.iter().enumerate() {
        let w = f.count as f64 / total.max(1) as f64 * W;
        let (fill, ink) = PALETTE[i % PALETTE.len()];
        let label = format!("{} · {}", f.model, f.count);
        let _ = writeln!(
            out,
            "<rect x=\"{x:.1}\" y=\"0\" width=\"{w:.1}\" height=\"34\" fill=\"{fill}\" \
             class=\"comp\"><title>{} {}: {}</title></rect>",
            esc(&f.make),
            esc(&f.model),
            plural(f.count, "node", "nodes")
        );
        // About 7 px per character at this size.
        if w > label.chars().count() as f64 * 7.0 + 12.0 {
            let _ = writeln!(
                out,
                "<text class=\"seg\" x=\"{:.1}\" y=\"22\" fill=\"{ink}\">{}</text>",
                x + w / 2.0,
                esc(&label)
            );
        }
        x += w;
    }
    out.push_str("</svg>\n");
    let max = report
        .fleet
        .iter()
        .map(|f| f.count)
        .max()
        .unwrap_or(1)
        .max(1);
    let mut rows: Vec<Vec<String>> = report
        .fleet
        .iter()
        .enumerate()
        .map(|(i, f)| {
            vec![
                format!(
                    "<i class=\"sw\" style=\"background:{}\"></i>{}",
                    PALETTE[i % PALETTE.len()].0,
                    esc(&f.make)
                ),
                esc(&f.model),
                format!(
                    "<span class=\"cellbar\"><span style=\"width:{:.1}%\"></span></span>{}",
                    f.count as f64 / max as f64 * 100.0,
                    count(f.count)
                ),
                num(f.cores as f64),
                num(f.memory_gib as f64),
                num(f.storage_gb),
            ]
        })
        .collect();
    if report.fleet.len() > 1 {
        rows.push(vec![
            "<b>total</b>".into(),
            String::new(),
            format!("<b>{}</b>", count(total)),
            format!(
                "<b>{}</b>",
                num(report.fleet.iter().map(|f| f.cores as f64).sum())
            ),
            format!(
                "<b>{}</b>",
                num(report.fleet.iter().map(|f| f.memory_gib as f64).sum())
            ),
            format!(
                "<b>{}</b>",
                num(report.fleet.iter().map(|f| f.storage_gb).sum())
            ),
        ]);
    }
    table(
        out,
        &[
            "make",
            "model",
            "nodes",
            "cores",
            "memory GiB",
            "storage GB",
        ],
        &[false, false, true, true, true, true],
        &rows,
    );
    out.push_str("</section>\n");
}

/// The page's only styling. System fonts (nothing to fetch), CSS variables for a dark scheme.
const CSS: &str = r#":root {
  --bg: #f6f7f9; --panel: #fff; --ink: #1d1d1f; --muted: #5f6673; --line: #e2e5ea;
  --ok: #1f8a4c; --ok-bg: #e6f4ec; --warn: #b26a00; --warn-bg: #fff3dc; --bad: #c62828;
  --bad-bg: #fdeaea; --cap: #3d5a80; --add: #98c1d9; --accent: #3d5a80;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #15171b; --panel: #1e2127; --ink: #e8eaed; --muted: #9aa1ad; --line: #30343c;
    --ok: #5cc98a; --ok-bg: #17301f; --warn: #f0b454; --warn-bg: #33280f; --bad: #f47272;
    --bad-bg: #3a1a1a; --cap: #7ea3d1; --add: #3f6c8a; --accent: #7ea3d1;
  }
}
* { box-sizing: border-box; }
body {
  margin: 0; background: var(--bg); color: var(--ink);
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "Liberation Sans",
    "DejaVu Sans", Arial, sans-serif;
  font-variant-numeric: tabular-nums;
}
main { max-width: 1200px; margin: 0 auto; padding: 28px 32px 40px; }
header { display: flex; justify-content: space-between; align-items: center; gap: 24px; }
h1 { font-size: 30px; margin: 0; letter-spacing: -0.01em; }
h1::before { content: "enlist · "; color: var(--muted); font-weight: 400; }
h2 { font-size: 20px; margin: 36px 0 6px; }
h3 { font-size: 16px; margin: 24px 0 8px; display: flex; align-items: center; gap: 8px; }
.subtitle, .muted { color: var(--muted); margin: 4px 0 0; }
td code { white-space: nowrap; }
code { font: 13px/1.3 ui-monospace, "SFMono-Regular", "DejaVu Sans Mono", "Liberation Mono",
  monospace; background: var(--line); padding: 1px 5px; border-radius: 4px; overflow-wrap: anywhere; }
.badge { font-weight: 700; font-size: 18px; padding: 8px 18px; border-radius: 999px; white-space: nowrap; }
.badge.ok { color: var(--ok); background: var(--ok-bg); }
.badge.bad { color: var(--bad); background: var(--bad-bg); }
.cards { display: grid; grid-template-columns: repeat(4, 1fr); gap: 14px; margin-top: 22px; }
.cards.checks { grid-template-columns: repeat(5, 1fr); margin-top: 14px; }
.card { background: var(--panel); border: 1px solid var(--line); border-radius: 10px;
  padding: 14px 16px; border-top: 4px solid var(--line); }
.card.ok { border-top-color: var(--ok); }
.card.warn { border-top-color: var(--warn); }
.card.bad { border-top-color: var(--bad); }
.card .label { color: var(--muted); font-size: 13px; font-weight: 600; text-transform: uppercase;
  letter-spacing: 0.04em; }
.card .value { font-size: 34px; font-weight: 700; line-height: 1.2; margin-top: 2px; }
.card.warn .value { color: var(--warn); }
.card.bad .value { color: var(--bad); }
.card .sub { color: var(--muted); font-size: 13px; }
.panels { display: grid; grid-template-columns: repeat(3, 1fr); gap: 14px; margin-top: 14px; }
.panel { margin: 0; background: var(--panel); border: 1px solid var(--line); border-radius: 10px;
  padding: 12px 14px 10px; }
.panel figcaption { display: flex; justify-content: space-between; align-items: center;
  font-weight: 700; }
.panel svg { display: block; width: 100%; height: auto; margin-top: 6px; }
.panel-note { color: var(--muted); font-size: 12.5px; margin: 2px 0 0; text-align: center; }
.pill { font-size: 12.5px; font-weight: 700; padding: 2px 10px; border-radius: 999px; }
.pill.ok { color: var(--ok); background: var(--ok-bg); }
.pill.bad { color: var(--bad); background: var(--bad-bg); }
svg text:not([fill]) { fill: var(--ink); }
svg text { font-size: 12px; }
svg .tick { fill: var(--muted); font-size: 11px; text-anchor: end; }
svg .grid { stroke: var(--line); stroke-width: 1; }
svg .axis { stroke: var(--muted); stroke-width: 1; }
svg .seg { text-anchor: middle; font-size: 11.5px; font-weight: 600; }
svg .cap { fill: var(--cap); }
svg .add { fill: var(--add); stroke: var(--cap); stroke-width: 1.5; stroke-dasharray: 5 3; }
svg .add-label { fill: var(--ink); }
svg .need { stroke: var(--ink); stroke-width: 2; stroke-dasharray: 7 4; }
svg .need-label { font-size: 11.5px; font-weight: 700; text-anchor: end; }
svg .short { fill: none; stroke: var(--bad); stroke-width: 3; }
svg .col { text-anchor: middle; fill: var(--muted); font-size: 12px; }
svg .col-value { text-anchor: middle; font-weight: 700; font-size: 13px; }
.legend { display: flex; flex-wrap: wrap; gap: 6px 18px; margin-top: 10px; color: var(--muted);
  font-size: 13px; }
.sw { display: inline-block; width: 12px; height: 12px; border-radius: 3px; margin-right: 6px;
  vertical-align: -1px; }
.sw.cap { background: var(--cap); }
.sw.add { background: var(--add); outline: 1.5px dashed var(--cap); outline-offset: -1.5px; }
.sw.need { height: 0; border-top: 2px dashed var(--ink); border-radius: 0; vertical-align: 3px; }
.sw.short { width: 4px; background: var(--bad); border-radius: 0; }
.buy { display: flex; justify-content: space-between; align-items: center; gap: 24px;
  background: var(--panel); border: 1px solid var(--line); border-left: 5px solid var(--accent);
  border-radius: 10px; padding: 16px 22px; margin-top: 12px; }
.buy-line { font-size: 24px; font-weight: 700; }
.buy-line span { color: var(--accent); }
.buy-none { background: var(--panel); border: 1px solid var(--line); border-radius: 10px;
  padding: 14px 18px; }
.servers .unit { fill: var(--cap); }
.servers .bay { fill: var(--panel); opacity: 0.55; }
.servers .led { fill: #5cc98a; }
.more { color: var(--muted); font-weight: 700; }
svg.options { display: block; width: 100%; height: auto; }
svg .opt { fill: var(--line); }
svg .opt.best { fill: var(--accent); }
svg .opt-name { font-size: 14px; font-weight: 700; }
svg .opt-unit { fill: var(--muted); font-size: 12px; }
svg .opt-value { font-size: 13px; }
.dot { width: 10px; height: 10px; border-radius: 50%; display: inline-block; }
.dot.ok { background: var(--ok); }
.dot.warn { background: var(--warn); }
.dot.bad { background: var(--bad); }
.n-badge { background: var(--line); border-radius: 999px; padding: 0 8px; font-size: 13px; }
.effect { font-size: 12.5px; font-weight: 600; }
.effect.warn { color: var(--warn); }
.effect.bad { color: var(--bad); }
.all-clear { color: var(--ok); font-weight: 600; }
.scroll { overflow-x: auto; background: var(--panel); border: 1px solid var(--line);
  border-radius: 10px; }
table { border-collapse: collapse; width: 100%; font-size: 13.5px; }
th, td { text-align: left; padding: 7px 12px; border-bottom: 1px solid var(--line);
  vertical-align: top; }
th { color: var(--muted); font-weight: 600; font-size: 12.5px; background: var(--bg); }
tbody tr:last-child td { border-bottom: 0; }
td.wrap { overflow-wrap: anywhere; }
td.n, th.n { text-align: right; white-space: nowrap; }
th.hint { width: 34%; min-width: 260px; }
.cellbar { display: inline-block; width: 70px; height: 8px; background: var(--line);
  border-radius: 4px; margin-right: 8px; vertical-align: 1px; }
.cellbar span { display: block; height: 100%; background: var(--cap); border-radius: 4px; }
svg .comp { stroke: var(--bg); stroke-width: 2; }
svg.composition { display: block; width: 100%; height: auto; margin: 8px 0 12px;
  border-radius: 8px; }
footer { margin-top: 36px; color: var(--muted); font-size: 13px; border-top: 1px solid var(--line);
  padding-top: 10px; }
footer p { margin: 4px 0; }
@media (max-width: 900px) {
  .cards, .cards.checks, .panels { grid-template-columns: 1fr 1fr; }
}
@media print {
  body { background: #fff; }
  .card, .panel, .scroll, .buy { break-inside: avoid; }
}
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reconcile::report::{FleetRow, MissingRegistration, PhantomNode};

    #[test]
    fn text_is_escaped_for_elements_and_attributes() {
        assert_eq!(
            esc("<script>alert('x') & \"y\"</script>"),
            "&lt;script&gt;alert(&#39;x&#39;) &amp; &quot;y&quot;&lt;/script&gt;"
        );
        assert_eq!(esc("a\0b"), "a\u{fffd}b");
        // Bidirectional overrides and zero-width characters are shown, not obeyed.
        assert_eq!(
            esc("a\u{202E}b\u{200B}c\u{2066}d"),
            "a\u{fffd}b\u{fffd}c\u{fffd}d"
        );
        assert_eq!(esc("line\nnext\tcol"), "line\nnext\tcol");
    }

    #[test]
    fn numbers_are_grouped_and_rounded() {
        assert_eq!(num(0.0), "0");
        assert_eq!(num(-0.2), "0");
        assert_eq!(num(999.5), "1,000");
        assert_eq!(num(38_400.0), "38,400");
        assert_eq!(num(-1_234_567.0), "−1,234,567");
    }

    #[test]
    fn axis_steps_are_round() {
        assert_eq!(nice_step(2534.0, 4.0), 1000.0);
        assert_eq!(nice_step(240.0, 4.0), 100.0);
        assert_eq!(nice_step(221.0, 4.0), 100.0);
        assert_eq!(nice_step(41_000.0, 4.0), 20_000.0);
        assert_eq!(nice_step(0.0, 4.0), 1.0);
        assert_eq!(nice_step(9.0, 4.0), 2.5);
    }

    #[test]
    fn axis_steps_end_for_values_no_parser_lets_through() {
        for max in [f64::INFINITY, f64::NAN, f64::MAX, 1e308, -1.0] {
            let step = nice_step(max, 4.0);
            assert!(step.is_finite() && step >= 1.0, "{max}: {step}");
        }
        assert_eq!(nice_step(f64::INFINITY, 4.0), nice_step(AXIS_LIMIT, 4.0));
    }

    fn recommendation(model: &str, count: u64, cost: Option<f64>) -> Recommendation {
        Recommendation {
            make: "Dell".into(),
            model: model.into(),
            count,
            limiting: Resource::Cores,
            workloads: vec!["db".into()],
            unit_cost: cost,
            total_cost: cost.map(|c| c * count as f64),
            message: Prose::from("buy ")
                .say(&format!("{count} more of "))
                .value(&format!("Dell {model}"))
                .say("; cores is the limit"),
        }
    }

    fn plan_report(lines: Vec<ResourceLine>, options: Vec<Recommendation>) -> Report {
        Report {
            recommendations: options.first().cloned().into_iter().collect(),
            plan: Some(CapacityPlan {
                headroom: 0.2,
                active_nodes: 1,
                lines,
                catalog: Vec::new(),
                options,
                note: None,
            }),
            ..Report::default()
        }
    }

    #[test]
    fn infinite_chart_values_render_and_end() {
        let line = |resource, value: f64| ResourceLine {
            resource,
            demand: value,
            workloads: vec![("db".into(), value)],
            required: value,
            capacity: 1.0,
            deficit: value,
        };
        let report = plan_report(
            vec![
                line(Resource::Cores, f64::INFINITY),
                line(Resource::Memory, f64::MAX),
                line(Resource::Storage, f64::NAN),
            ],
            vec![recommendation("R650", u64::MAX, None)],
        );
        let page = render(&report, false);
        assert!(page.contains("id=\"capacity-storage\""));
        // Grid lines stay few whatever the values.
        assert!(page.matches("class=\"grid\"").count() <= 3 * (MAX_TICKS as usize + 1));
    }

    #[test]
    fn options_heading_says_the_order_they_are_in() {
        let heading = |options: Vec<Recommendation>| {
            let page = render(&plan_report(Vec::new(), options), false);
            let start = page.find("<h3>Options").unwrap();
            page[start..start + page[start..].find("</h3>").unwrap()].to_owned()
        };
        assert!(
            heading(vec![
                recommendation("a", 3, Some(10.0)),
                recommendation("b", 1, Some(40.0))
            ])
            .ends_with("(cheapest first)")
        );
        assert!(
            heading(vec![
                recommendation("a", 1, None),
                recommendation("b", 2, None)
            ])
            .ends_with("(fewest units first)")
        );
        // The buying model ranks priced models first, even with more units.
        assert!(
            heading(vec![
                recommendation("a", 9, Some(10.0)),
                recommendation("b", 1, None)
            ])
            .ends_with("(priced models cheapest first, then the others by fewest units)")
        );
    }

    #[test]
    fn hostile_values_never_become_markup() {
        let evil = "<script>alert(1)</script>";
        let img = "\"><img src=x onerror=alert(1)>";
        let report = Report {
            nodes: 1,
            inventory: 1,
            inventory_file: format!("{evil}.csv"),
            phantom_nodes: vec![PhantomNode {
                node_id: "node-abcdef".into(),
                path: format!("cluster-nodes/{img}/node.yaml"),
                hostname: evil.into(),
                serial: Some(img.into()),
                make: Some(evil.into()),
                model: Some(img.into()),
                hint: evil.into(),
                line: None,
            }],
            missing_registration: vec![MissingRegistration {
                file: "inventory.csv".into(),
                line: 2,
                serial: Some(evil.into()),
                macs: vec![],
                asset_tag: None,
                hostname: Some(img.into()),
                make: Some(evil.into()),
                model: Some(evil.into()),
                status: "active".into(),
                location: Some(img.into()),
                hint: "h".into(),
            }],
            fleet: vec![FleetRow {
                make: evil.into(),
                model: img.into(),
                count: 1,
                cores: 1,
                memory_gib: 1,
                storage_gb: 1.0,
            }],
            ..Report::default()
        };
        let page = render(&report, false);
        assert!(!page.contains("<script"), "{page}");
        assert!(!page.contains("<img"), "{page}");
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(page.contains("&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"));
    }

    #[test]
    fn page_fetches_nothing() {
        let page = render(&Report::default(), false);
        assert!(page.contains("default-src 'none'"));
        for needle in [
            "http://", "https://", "src=", "@import", "url(", "<script", "<link",
        ] {
            assert!(!page.contains(needle), "{needle}");
        }
    }

    #[test]
    fn long_tables_are_capped() {
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
            phantom_nodes: vec![phantom; HTML_MAX_ROWS + 3],
            ..Report::default()
        };
        let page = render(&report, false);
        assert_eq!(
            page.matches("<td><code>cluster-nodes/node-x/node.yaml</code></td>")
                .count(),
            HTML_MAX_ROWS
        );
        assert!(page.contains("… and 3 more"));
    }
}
