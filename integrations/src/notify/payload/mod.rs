//! The three payloads of one [`Digest`], each within its service's limits. Pure functions: no
//! I/O, so what the bridge sends can be tested as data.
//!
//! Text is cut on character boundaries and ends in `…` when cut; item lists that do not fit end
//! in "… and N more" instead of failing the send.

use std::collections::BTreeMap;

use serde_json::{Value as Json, json};

use super::{Digest, Item};

/// The limits the payloads respect, with where each comes from.
pub mod limits {
    /// SNS `Subject`: "UTF-8 text with no line breaks or control characters, and less than 100
    /// characters long" (SNS Publish API reference); AWS really accepts 100 and refuses 101
    /// (getmoto/moto#1503). Counted here in UTF-16 code units, which is never fewer than
    /// characters, so the cut holds however AWS counts.
    pub const SNS_SUBJECT: usize = 100;
    /// SNS message size: 262,144 bytes ("256 KB … not 262,144 characters"), and every part of
    /// the message attributes (name, type, value) counts towards it (SNS `MessageAttributeValue`).
    pub const SNS_MESSAGE_BYTES: usize = 262_144;
    /// Slack: at most 50 blocks in a message (Block Kit reference).
    pub const SLACK_BLOCKS: usize = 50;
    /// Slack: a section's text is at most 3,000 characters (section block reference).
    pub const SLACK_SECTION: usize = 3_000;
    /// Slack: a header's `plain_text` is at most 150 characters (header block reference).
    pub const SLACK_HEADER: usize = 150;
    /// Slack: all the block text of one message. Slack refuses long messages with
    /// `msg_blocks_too_long` at about 12,000–13,000 characters of block text in total, a limit it
    /// does not document (slackapi/bolt-js#2509, #2867); stay well below.
    pub const SLACK_TOTAL: usize = 10_000;
    /// Slack: the fallback `text` (notifications, old clients). Slack truncates beyond 40,000
    /// characters (changelog 2018-04); a notification line needs far less.
    pub const SLACK_TEXT: usize = 3_000;
    /// Teams Workflows: Adaptive Card schema version. Teams documents 1.5, but the Workflows
    /// "post to a channel when a webhook request is received" flow shows "We're sorry, this card
    /// couldn't be displayed" for 1.5 and renders 1.4 (microsoft/AdaptiveCards#8965,
    /// MicrosoftDocs/msteams-docs#9801).
    pub const TEAMS_CARD_VERSION: &str = "1.4";
    /// Teams: a message is at most about 28 KB (Teams limits and specifications; 413 beyond);
    /// the whole POST body is kept below this, leaving room for what Teams adds.
    pub const TEAMS_BODY_BYTES: usize = 24 * 1024;
    /// Teams: link buttons (`Action.OpenUrl`) on the card; further links are listed as text.
    pub const TEAMS_ACTIONS: usize = 5;
}

/// Longest item line (characters) in any payload, so one huge item cannot crowd out the rest.
const ITEM_LINE: usize = 1_000;
/// Longest title or link label kept in message bodies (characters).
const TITLE: usize = 1_000;
/// Longest summary kept in message bodies (characters).
const SUMMARY: usize = 2_800;
/// Longest summary and list of extra links on a Teams card (characters).
const TEAMS_TEXT: usize = 1_500;
/// Longest URL shown as a link; longer ones are left out rather than cut (a cut URL is wrong).
const URL: usize = 900;
/// Longest SNS attribute value (bytes); owners and keys are short, this only bounds the budget.
const ATTRIBUTE: usize = 1_024;

/// What the SNS notifier publishes (the topic is chosen by the notifier).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnsMessage {
    /// `Subject`: one line, at most [`limits::SNS_SUBJECT`].
    pub subject: String,
    /// `Message`: plain text; with the attributes at most [`limits::SNS_MESSAGE_BYTES`].
    pub message: String,
    /// `MessageAttributes`, all of type `String`: `owner` and `idempotency_key` (each left out
    /// when empty, as SNS refuses empty attribute values).
    pub attributes: BTreeMap<String, String>,
}

/// The three payloads of one digest.
#[derive(Debug, Clone, PartialEq)]
pub struct Payloads {
    /// For SNS.
    pub sns: SnsMessage,
    /// The Slack incoming-webhook body.
    pub slack: Json,
    /// The Teams Workflows webhook body.
    pub teams: Json,
}

/// Builds every payload of `d`.
pub fn payloads(d: &Digest) -> Payloads {
    Payloads {
        sns: sns_message(d),
        slack: slack_payload(d),
        teams: teams_payload(d),
    }
}

/// `s` cut to at most `max` units as `weight` counts them, ending in `…` (counted too) when cut.
fn truncate_by(s: &str, max: usize, weight: impl Fn(char) -> usize) -> String {
    if s.chars().map(&weight).sum::<usize>() <= max {
        return s.to_owned();
    }
    if max < weight('…') {
        return String::new();
    }
    let room = max.saturating_sub(weight('…'));
    let mut out = String::new();
    let mut used = 0;
    for c in s.chars() {
        if used + weight(c) > room {
            break;
        }
        used += weight(c);
        out.push(c);
    }
    out.truncate(out.trim_end().len());
    out.push('…');
    out
}

/// `s` cut to at most `max` characters, ending in `…` when cut (the ellipsis counts).
pub fn truncate_chars(s: &str, max: usize) -> String {
    truncate_by(s, max, |_| 1)
}

/// `s` cut to at most `max` UTF-8 bytes on a character boundary, ending in `…` when cut.
fn truncate_bytes(s: &str, max: usize) -> String {
    truncate_by(s, max, char::len_utf8)
}

/// One line: control characters (line breaks, tabs, …) become spaces, runs of whitespace one
/// space, no leading or trailing whitespace.
fn one_line(s: &str) -> String {
    s.split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Text for a message body: line breaks and tabs stay, other control characters (which SQS, the
/// usual SNS subscriber, refuses) become U+FFFD.
fn body_text(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\t' | '\n' | '\r' => c,
            '\u{FFFE}' | '\u{FFFF}' => '\u{FFFD}',
            c if c.is_control() => '\u{FFFD}',
            c => c,
        })
        .collect()
}

/// `url` when it can be a link: http(s), one line, not absurdly long.
fn web_url(url: &str) -> Option<&str> {
    let u = url.trim();
    let lower = u.get(..8).unwrap_or(u).to_ascii_lowercase();
    let web = lower.starts_with("https://") || lower.starts_with("http://");
    (web && u.len() <= URL && !u.chars().any(|c| c.is_whitespace() || c.is_control())).then_some(u)
}

/// The SNS subject of `d`: its title on one line, at most [`limits::SNS_SUBJECT`].
fn sns_subject(d: &Digest) -> String {
    let line = one_line(&d.title);
    let line = if line.is_empty() {
        "patchplane notification".to_owned()
    } else {
        line
    };
    truncate_by(&line, limits::SNS_SUBJECT, char::len_utf16)
}

fn item_text(i: &Item) -> String {
    let mut s = one_line(&i.name);
    let status = one_line(&i.status);
    if !status.is_empty() {
        s.push_str(": ");
        s.push_str(&status);
    }
    let detail = one_line(&i.detail);
    if !detail.is_empty() {
        s.push_str(" — ");
        s.push_str(&detail);
    }
    s
}

/// "… and N more" for `n` items left out.
fn and_more(n: usize) -> String {
    format!("… and {n} more")
}

/// The SNS message of `d`: subject, a plain-text body and the `owner` and `idempotency_key`
/// attributes, within [`limits::SNS_MESSAGE_BYTES`] all together.
pub fn sns_message(d: &Digest) -> SnsMessage {
    let mut attributes = BTreeMap::new();
    for (name, value) in [("owner", &d.owner), ("idempotency_key", &d.idempotency_key)] {
        let v = truncate_bytes(&one_line(value), ATTRIBUTE);
        if !v.is_empty() {
            attributes.insert(name.to_owned(), v);
        }
    }
    // Name, data type and value of every attribute count towards the message size.
    let attribute_bytes: usize = attributes.iter().map(|(k, v)| k.len() + "String".len() + v.len()).sum();
    let budget = limits::SNS_MESSAGE_BYTES - attribute_bytes;

    let title = truncate_chars(&one_line(&d.title), TITLE);
    let summary = truncate_chars(&body_text(d.summary.trim()), SUMMARY);
    let head = if summary.is_empty() {
        format!("{title}\n")
    } else {
        format!("{title}\n\n{summary}\n")
    };
    let mut links = String::new();
    if !d.links.is_empty() {
        links.push_str("\nLinks:\n");
        for l in d.links.iter().take(50) {
            let label = truncate_chars(&one_line(&l.label), 200);
            let url = truncate_chars(&one_line(&l.url), URL);
            links.push_str(&format!("- {label}: {url}\n"));
        }
    }
    let foot = format!(
        "\nOwner: {}\nIdempotency key: {}\n",
        one_line(&d.owner),
        one_line(&d.idempotency_key)
    );
    let foot = truncate_bytes(&foot, 2 * ATTRIBUTE + 64);

    let mut items = String::new();
    if !d.items.is_empty() {
        items.push_str(&format!("\nItems ({}):\n", d.items.len()));
        // Room for "… and N more" with the largest N, so the cut never overflows.
        let reserve = and_more(d.items.len()).len() + 1;
        let room = budget.saturating_sub(head.len() + links.len() + foot.len() + items.len() + reserve);
        let mut used = 0;
        let mut shown = 0;
        for i in &d.items {
            let mut line = truncate_chars(&item_text(i), ITEM_LINE);
            if let Some(u) = i.url.as_deref() {
                line.push_str(&format!(" <{}>", truncate_chars(&one_line(u), URL)));
            }
            let line = format!("- {line}\n");
            if used + line.len() > room {
                break;
            }
            used += line.len();
            shown += 1;
            items.push_str(&line);
        }
        if shown < d.items.len() {
            items.push_str(&and_more(d.items.len() - shown));
            items.push('\n');
        }
    }
    let message = body_text(&format!("{head}{items}{links}{foot}"));
    SnsMessage {
        subject: sns_subject(d),
        message,
        attributes,
    }
}

/// Escapes text for Slack `mrkdwn`: `&`, `<` and `>` are control characters there.
fn slack_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// Escaped `mrkdwn` cut to `max` characters without splitting an `&amp;`-style entity.
fn slack_truncate(escaped: &str, max: usize) -> String {
    let cut = truncate_chars(escaped, max);
    if cut == escaped {
        return cut;
    }
    let mut kept = cut.trim_end_matches('…').to_owned();
    if let Some(amp) = kept.rfind('&')
        && !kept[amp..].contains(';')
    {
        kept.truncate(amp);
    }
    kept.push('…');
    kept
}

/// A Slack link `<url|label>`; the URL is made safe for the `<…|…>` syntax.
fn slack_link(url: &str, label: &str) -> String {
    let url = url
        .replace('&', "&amp;")
        .replace('<', "%3C")
        .replace('>', "%3E")
        .replace('|', "%7C");
    format!("<{url}|{}>", slack_escape(&one_line(label)).replace('|', "¦"))
}

fn chars(s: &str) -> usize {
    s.chars().count()
}

/// The Slack incoming-webhook body of `d`: `text` (the fallback for notifications) and `blocks`
/// (header, summary, items packed into sections, links, context with owner and key), within
/// [`limits::SLACK_BLOCKS`], [`limits::SLACK_SECTION`], [`limits::SLACK_HEADER`] and
/// [`limits::SLACK_TOTAL`].
pub fn slack_payload(d: &Digest) -> Json {
    let title = one_line(&d.title);
    let title = if title.is_empty() {
        "patchplane".to_owned()
    } else {
        title
    };
    let header = truncate_chars(&title, limits::SLACK_HEADER);
    let summary = slack_truncate(&slack_escape(d.summary.trim()), limits::SLACK_SECTION);
    let mut links: Vec<String> = Vec::new();
    for l in &d.links {
        match web_url(&l.url) {
            Some(u) => links.push(slack_link(u, &l.label)),
            None => links.push(slack_escape(&format!("{}: {}", one_line(&l.label), one_line(&l.url)))),
        }
    }
    let links = slack_truncate(&links.join("  ·  "), limits::SLACK_SECTION);
    let context = slack_truncate(
        &format!(
            "Owner: {}  ·  Idempotency key: {}",
            slack_escape(&one_line(&d.owner)),
            slack_escape(&one_line(&d.idempotency_key))
        ),
        limits::SLACK_SECTION,
    );

    let mut fixed = vec![json!({"type": "header", "text": {"type": "plain_text", "text": header, "emoji": true}})];
    if !summary.is_empty() {
        fixed.push(section(&summary));
    }
    let mut used = chars(&header) + chars(&summary) + chars(&links) + chars(&context);
    // Blocks and characters left for items, keeping one block and room for "… and N more".
    let reserve = chars(&and_more(d.items.len())) + 2;
    let tail_blocks = 1 + usize::from(!links.is_empty());
    let max_sections = limits::SLACK_BLOCKS.saturating_sub(fixed.len() + tail_blocks + 1);
    let room = limits::SLACK_TOTAL.saturating_sub(used + reserve);

    let mut sections: Vec<String> = Vec::new();
    let mut current = String::new();
    let mut item_chars = 0;
    let mut shown = 0;
    for i in &d.items {
        let mut line = format!("• {}", slack_escape(&item_text(i)));
        let link = i.url.as_deref().and_then(web_url).map(|u| slack_link(u, "open"));
        let link_len = link.as_deref().map_or(0, |l| chars(l) + 1);
        line = slack_truncate(&line, ITEM_LINE.saturating_sub(link_len));
        if let Some(l) = link {
            line.push(' ');
            line.push_str(&l);
        }
        let added = chars(&line) + usize::from(!current.is_empty());
        if item_chars + added > room {
            break;
        }
        if chars(&current) + added > limits::SLACK_SECTION {
            if sections.len() + 1 >= max_sections {
                break;
            }
            sections.push(std::mem::take(&mut current));
            current = line;
        } else {
            if !current.is_empty() {
                current.push('\n');
            }
            current.push_str(&line);
        }
        item_chars += added;
        shown += 1;
    }
    if !current.is_empty() {
        sections.push(current);
    }
    used += item_chars;
    let mut blocks = fixed;
    blocks.extend(sections.iter().map(|s| section(s)));
    if shown < d.items.len() {
        blocks.push(section(&format!("_{}_", and_more(d.items.len() - shown))));
    }
    if !links.is_empty() {
        blocks.push(section(&links));
    }
    blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn", "text": context}]}));
    debug_assert!(blocks.len() <= limits::SLACK_BLOCKS && used <= limits::SLACK_TOTAL);

    let fallback = if d.summary.trim().is_empty() {
        title
    } else {
        format!("{title}: {}", one_line(&d.summary))
    };
    json!({
        "text": slack_truncate(&slack_escape(&fallback), limits::SLACK_TEXT),
        "blocks": blocks,
    })
}

fn section(text: &str) -> Json {
    json!({"type": "section", "text": {"type": "mrkdwn", "text": text}})
}

/// A URL made safe inside Markdown `[label](url)`.
fn markdown_url(url: &str) -> String {
    url.replace('(', "%28").replace(')', "%29")
}

/// A Markdown link label: brackets would end it early.
fn markdown_label(label: &str) -> String {
    one_line(label).replace('[', "(").replace(']', ")")
}

fn json_len(v: &Json) -> usize {
    serde_json::to_string(v).map_or(0, |s| s.len())
}

/// The Teams Workflows webhook body of `d`: a message whose one attachment is an Adaptive Card
/// ([`limits::TEAMS_CARD_VERSION`]) with a title `TextBlock`, the summary, a `FactSet` of the
/// items, the owner and key in a subtle line, and an `Action.OpenUrl` per link (at most
/// [`limits::TEAMS_ACTIONS`]; others are listed as text), within [`limits::TEAMS_BODY_BYTES`].
pub fn teams_payload(d: &Digest) -> Json {
    let title = one_line(&d.title);
    let title = truncate_chars(if title.is_empty() { "patchplane" } else { &title }, 200);
    let mut body = vec![json!({
        "type": "TextBlock", "text": title, "weight": "Bolder", "size": "Medium", "wrap": true,
    })];
    // Text caps keep everything but the facts within about 22 KB even for 4-byte characters, so
    // the byte budget below always holds.
    let summary = truncate_chars(&body_text(d.summary.trim()), TEAMS_TEXT);
    if !summary.is_empty() {
        body.push(json!({"type": "TextBlock", "text": summary, "wrap": true}));
    }
    let mut actions = Vec::new();
    let mut listed = Vec::new();
    for l in d.links.iter().take(50) {
        let label = truncate_chars(&one_line(&l.label), 100);
        match web_url(&l.url) {
            Some(u) if actions.len() < limits::TEAMS_ACTIONS => {
                actions.push(json!({"type": "Action.OpenUrl", "title": label, "url": u}));
            }
            Some(u) => listed.push(format!("[{}]({})", markdown_label(&label), markdown_url(u))),
            None => listed.push(format!("{label}: {}", truncate_chars(&one_line(&l.url), URL))),
        }
    }
    let mut tail = Vec::new();
    if !listed.is_empty() {
        tail.push(json!({"type": "TextBlock", "text": truncate_chars(&listed.join("\n\n"), TEAMS_TEXT), "wrap": true}));
    }
    tail.push(json!({
        "type": "TextBlock",
        "text": truncate_chars(
            &format!("Owner: {}  ·  Idempotency key: {}", one_line(&d.owner), one_line(&d.idempotency_key)),
            600,
        ),
        "wrap": true, "isSubtle": true, "size": "Small",
    }));

    let envelope = |body: Vec<Json>, actions: &[Json]| {
        let mut card = json!({
            "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
            "type": "AdaptiveCard",
            "version": limits::TEAMS_CARD_VERSION,
            "body": body,
            "msteams": {"width": "Full"},
        });
        if !actions.is_empty() {
            card["actions"] = Json::Array(actions.to_vec());
        }
        json!({
            "type": "message",
            "attachments": [{
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": null,
                "content": card,
            }],
        })
    };

    // The items: facts added while the whole body stays within the budget, keeping room for the
    // "… and N more" line.
    let mut skeleton = body.clone();
    skeleton.push(json!({"type": "FactSet", "facts": []}));
    skeleton.push(json!({"type": "TextBlock", "text": and_more(d.items.len()), "wrap": true, "isSubtle": true}));
    skeleton.extend(tail.iter().cloned());
    let mut room = limits::TEAMS_BODY_BYTES.saturating_sub(json_len(&envelope(skeleton, &actions)));
    let mut facts = Vec::new();
    for i in &d.items {
        let mut value = one_line(&i.status);
        let detail = one_line(&i.detail);
        if !detail.is_empty() {
            value = if value.is_empty() {
                detail
            } else {
                format!("{value} — {detail}")
            };
        }
        if value.is_empty() {
            value = "—".to_owned();
        }
        let mut value = truncate_chars(&value, ITEM_LINE);
        if let Some(u) = i.url.as_deref().and_then(web_url) {
            value.push_str(&format!(" [open]({})", markdown_url(u)));
        }
        let name = one_line(&i.name);
        let fact = json!({"title": truncate_chars(if name.is_empty() { "—" } else { &name }, 200), "value": value});
        let size = json_len(&fact) + 1;
        if size > room {
            break;
        }
        room -= size;
        facts.push(fact);
    }
    let shown = facts.len();
    if !facts.is_empty() {
        body.push(json!({"type": "FactSet", "facts": facts}));
    }
    if shown < d.items.len() {
        body.push(
            json!({"type": "TextBlock", "text": and_more(d.items.len() - shown), "wrap": true, "isSubtle": true}),
        );
    }
    body.extend(tail);
    envelope(body, &actions)
}

#[cfg(test)]
mod tests;
