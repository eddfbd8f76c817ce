//! The dashboard: one self-contained HTML page per month (`YYYY-MM.html`), inline CSS and SVG,
//! no script and no network request, so it opens the same from a laptop, an S3 console or an
//! auditor's archive. Every value is escaped.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::{NodeRow, Report};

/// Escapes text for HTML content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// (compliant, measured) per group.
fn tally<'a>(nodes: &'a [NodeRow], key: impl Fn(&'a NodeRow) -> &'a str) -> BTreeMap<&'a str, (usize, usize)> {
    let mut m: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for n in nodes {
        if n.compliance() == "EXCEPTED" || n.compliance() == "UNKNOWN" {
            continue;
        }
        let e = m.entry(key(n)).or_default();
        e.0 += usize::from(n.compliant());
        e.1 += 1;
    }
    m
}

fn percent(c: usize, n: usize) -> f64 {
    if n == 0 { 0.0 } else { 100.0 * c as f64 / n as f64 }
}

/// Horizontal bars, one per group.
fn bars(title: &str, groups: &BTreeMap<&str, (usize, usize)>) -> String {
    let row = 26;
    let height = 30 + row * groups.len().max(1);
    let mut svg = format!(
        "<figure><figcaption>{}</figcaption><svg role=\"img\" viewBox=\"0 0 420 {height}\" width=\"420\" height=\"{height}\">",
        escape(title)
    );
    if groups.is_empty() {
        let _ = write!(svg, "<text x=\"0\" y=\"20\">no measured nodes</text>");
    }
    for (i, (name, (c, n))) in groups.iter().enumerate() {
        let y = 10 + i * row;
        let p = percent(*c, *n);
        let w = (p * 2.2).round();
        let colour = if p >= 95.0 {
            "#2e7d32"
        } else if p >= 80.0 {
            "#f9a825"
        } else {
            "#c62828"
        };
        let _ = write!(
            svg,
            "<text x=\"0\" y=\"{}\" class=\"lbl\">{}</text><rect x=\"150\" y=\"{y}\" width=\"220\" height=\"18\" fill=\"#eceff1\"/><rect x=\"150\" y=\"{y}\" width=\"{w}\" height=\"18\" fill=\"{colour}\"/><text x=\"375\" y=\"{}\" class=\"val\">{p:.0}%</text>",
            y + 14,
            escape(name),
            y + 14
        );
    }
    svg.push_str("</svg></figure>");
    svg
}

/// The last months' compliance as columns.
fn trend(r: &Report) -> String {
    let mut points: Vec<(String, f64, usize)> = r
        .trend
        .iter()
        .map(|t| (t.month.clone(), percent(t.compliant, t.nodes), t.nodes))
        .collect();
    let measured: Vec<&NodeRow> = r
        .nodes
        .iter()
        .filter(|n| !matches!(n.compliance(), "EXCEPTED" | "UNKNOWN"))
        .collect();
    let now = measured.iter().filter(|n| n.compliant()).count();
    points.push((r.options.month.clone(), percent(now, measured.len()), measured.len()));
    let width = 40 * points.len() + 20;
    let mut svg = format!(
        "<figure><figcaption>Compliance, last {} month(s)</figcaption><svg role=\"img\" viewBox=\"0 0 {width} 190\" width=\"{width}\" height=\"190\">",
        points.len()
    );
    for (i, (month, p, n)) in points.iter().enumerate() {
        let x = 10 + i * 40;
        let h = (p * 1.4).round();
        let _ = write!(
            svg,
            "<rect x=\"{x}\" y=\"{}\" width=\"28\" height=\"{h}\" fill=\"{}\"><title>{}: {p:.1}% of {n}</title></rect><text x=\"{}\" y=\"175\" class=\"tick\">{}</text>",
            150.0 - h,
            if *n == 0 { "#b0bec5" } else { "#1565c0" },
            escape(month),
            x,
            escape(month.get(2..).unwrap_or(month))
        );
    }
    svg.push_str("</svg></figure>");
    svg
}

fn table(out: &mut String, title: &str, head: &[&str], rows: &[Vec<String>]) {
    let _ = write!(out, "<section><h2>{} ({})</h2>", escape(title), rows.len());
    if rows.is_empty() {
        out.push_str("<p class=\"none\">None.</p></section>");
        return;
    }
    out.push_str("<table><thead><tr>");
    for h in head {
        let _ = write!(out, "<th>{}</th>", escape(h));
    }
    out.push_str("</tr></thead><tbody>");
    for r in rows {
        out.push_str("<tr>");
        for c in r {
            let _ = write!(out, "<td>{}</td>", escape(c));
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table></section>");
}

const STYLE: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:24px;color:#263238;background:#fff}\
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:24px 0 8px}.sub{color:#607d8b;margin:0 0 16px}\
.cards{display:flex;gap:12px;flex-wrap:wrap}.card{border:1px solid #cfd8dc;border-radius:6px;padding:10px 16px;min-width:110px}\
.card b{display:block;font-size:24px}.charts{display:flex;gap:24px;flex-wrap:wrap}figure{margin:0}figcaption{font-weight:600;margin:8px 0}\
.lbl,.val,.tick{font-size:12px;fill:#37474f}table{border-collapse:collapse;font-size:13px}th,td{border:1px solid #cfd8dc;padding:4px 8px;text-align:left}\
th{background:#eceff1}.none{color:#607d8b}.bad b{color:#c62828}.ok b{color:#2e7d32}";

/// The page.
pub fn render(r: &Report) -> String {
    let n = r.nodes.len();
    let count = |f: &dyn Fn(&NodeRow) -> bool| r.nodes.iter().filter(|x| f(x)).count();
    let compliant = count(&|x| x.compliant());
    let non = count(&|x| x.compliance() == "NON_COMPLIANT");
    let excepted = count(&|x| x.exception.is_some());
    let uncovered = r.uncovered().len();
    let overdue = r.overdue().len();
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Patch compliance {month}</title><style>{STYLE}</style></head><body>\
<h1>Patch compliance, {month}</h1><p class=\"sub\">State as of {cutoff} (UTC), reconstructed from the evidence bucket's history.</p>\
<div class=\"cards\"><div class=\"card\"><b>{n}</b>nodes</div><div class=\"card ok\"><b>{compliant}</b>compliant</div>\
<div class=\"card bad\"><b>{non}</b>non-compliant</div><div class=\"card bad\"><b>{overdue}</b>overdue</div>\
<div class=\"card\"><b>{excepted}</b>excepted</div><div class=\"card bad\"><b>{uncovered}</b>not covered</div></div>",
        month = escape(&r.options.month),
        cutoff = r.options.cutoff,
    );
    out.push_str("<div class=\"charts\">");
    out.push_str(&bars("By account", &tally(&r.nodes, |x| x.account.as_str())));
    out.push_str(&bars("By ring", &tally(&r.nodes, |x| x.ring.as_str())));
    out.push_str(&bars("By operating system", &tally(&r.nodes, |x| x.platform.as_str())));
    out.push_str(&trend(r));
    out.push_str("</div>");
    let overdue_rows: Vec<Vec<String>> = r
        .overdue()
        .into_iter()
        .flat_map(|x| {
            x.overdue.iter().map(move |o| {
                vec![
                    x.account.clone(),
                    x.region.clone(),
                    x.node.clone(),
                    o.run.patch.id.clone(),
                    o.run.patch.severity.clone(),
                    format!("{}{}", if o.run.open_ended { "≤ " } else { "" }, o.run.since),
                    o.days.to_string(),
                    o.sla_days.to_string(),
                ]
            })
        })
        .collect();
    table(
        &mut out,
        "Overdue patches",
        &[
            "Account",
            "Region",
            "Node",
            "Patch",
            "Severity",
            "Missing since",
            "Days",
            "SLA",
        ],
        &overdue_rows,
    );
    let exceptions: Vec<Vec<String>> = r
        .exceptions
        .iter()
        .map(|e| {
            vec![
                e.id.clone(),
                e.nodes.join(" "),
                e.patches.join(" "),
                e.reason.clone(),
                e.approver.clone(),
                e.ticket.clone(),
                e.expires.clone(),
            ]
        })
        .collect();
    table(
        &mut out,
        "Exceptions in force",
        &["Id", "Nodes", "Patches", "Reason", "Approver", "Ticket", "Expires"],
        &exceptions,
    );
    let uncovered_rows: Vec<Vec<String>> = r
        .uncovered()
        .into_iter()
        .map(|x| {
            vec![
                x.account.clone(),
                x.region.clone(),
                x.node.clone(),
                x.platform.clone(),
                x.coverage.as_str().to_owned(),
                x.status.clone(),
            ]
        })
        .collect();
    table(
        &mut out,
        "Nodes not covered",
        &["Account", "Region", "Node", "Platform", "Coverage", "Agent"],
        &uncovered_rows,
    );
    out.push_str("</body></html>\n");
    out
}
