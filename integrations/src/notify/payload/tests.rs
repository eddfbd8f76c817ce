//! The payload builders as data: shapes, and every limit under hostile sizes.

use super::*;
use crate::notify::Link;

fn digest(items: usize) -> Digest {
    Digest {
        owner: "team-data".into(),
        title: "Patch window mw-0123 in 111111111111/eu-west-1: 3 nodes failed".into(),
        summary: "3 of 40 nodes failed; 2 still missing critical patches".into(),
        items: (0..items)
            .map(|n| Item {
                name: format!("i-{n:017x}"),
                status: "Failed".into(),
                detail: "exit code 1 in AWS-RunPatchBaseline".into(),
                url: Some(format!(
                    "https://console.aws.amazon.com/systems-manager/run-command/{n}"
                )),
            })
            .collect(),
        links: vec![Link {
            label: "Compliance report".into(),
            url: "https://reports.example.com/compliance?owner=team-data&week=42".into(),
        }],
        idempotency_key: "111111111111/eu-west-1/mw-0123/exec-9".into(),
    }
}

#[test]
fn truncation_is_on_char_boundaries_with_an_ellipsis() {
    assert_eq!(truncate_chars("short", 10), "short");
    assert_eq!(truncate_chars("abcdef", 4), "abc…");
    assert_eq!(truncate_chars("ab  cdef", 4), "ab…");
    assert_eq!(truncate_chars("ééééé", 3), "éé…");
    assert_eq!(truncate_chars("abc", 0), "");
    assert_eq!(truncate_bytes("ééé", 5), "é…"); // é is 2 bytes, … is 3
    assert!(truncate_bytes("ééé", 5).len() <= 5);
    // A multi-byte character at the cut is never split.
    let s = "a".repeat(98) + "🦀🦀🦀";
    let cut = truncate_by(&s, 100, char::len_utf16);
    assert!(cut.encode_utf16().count() <= 100 && cut.ends_with('…'), "{cut}");
}

#[test]
fn sns_subject_is_one_line_of_at_most_100() {
    let mut d = digest(1);
    d.title = format!("Line one\nline\ttwo\r\n\u{7}{}", "ü".repeat(200));
    let m = sns_message(&d);
    assert!(m.subject.chars().count() <= 100 && m.subject.encode_utf16().count() <= 100);
    assert!(!m.subject.chars().any(char::is_control), "{:?}", m.subject);
    assert!(m.subject.starts_with("Line one line two ü") && m.subject.ends_with('…'));
    d.title = "  \n ".into();
    assert_eq!(sns_message(&d).subject, "patchplane notification");
    d.title = "x".repeat(100);
    assert_eq!(sns_message(&d).subject, "x".repeat(100), "exactly 100 is kept");
}

#[test]
fn sns_message_fits_256_kib_with_its_attributes() {
    let d = digest(5_000);
    let m = sns_message(&d);
    let attrs: usize = m.attributes.iter().map(|(k, v)| k.len() + 6 + v.len()).sum();
    assert!(
        m.message.len() + attrs <= limits::SNS_MESSAGE_BYTES,
        "{}",
        m.message.len()
    );
    assert!(m.message.len() > 250_000, "the budget is used: {}", m.message.len());
    let shown = m.message.lines().filter(|l| l.starts_with("- i-")).count();
    assert!(m.message.contains(&format!("… and {} more", 5_000 - shown)), "{shown}");
    assert!(
        m.message
            .ends_with("Idempotency key: 111111111111/eu-west-1/mw-0123/exec-9\n")
    );
    assert_eq!(m.attributes["owner"], "team-data");
    assert_eq!(m.attributes["idempotency_key"], "111111111111/eu-west-1/mw-0123/exec-9");

    let small = sns_message(&digest(2));
    assert!(!small.message.contains("more"));
    assert!(
        small
            .message
            .contains("Items (2):\n- i-00000000000000000: Failed — exit code 1")
    );
    assert!(
        small
            .message
            .contains("Links:\n- Compliance report: https://reports.example.com/")
    );
}

#[test]
fn sns_message_drops_control_characters_and_empty_attributes() {
    let mut d = digest(1);
    d.summary = "bad \u{0}\u{1b}[31m char".into();
    d.owner = String::new();
    let m = sns_message(&d);
    assert!(!m.message.contains('\u{0}') && !m.message.contains('\u{1b}'));
    assert!(!m.attributes.contains_key("owner"));
    // A single huge item is cut, not dropped, and never breaks the budget.
    d.items[0].detail = "é".repeat(400_000);
    let m = sns_message(&d);
    assert!(m.message.len() < limits::SNS_MESSAGE_BYTES && m.message.contains("- i-0"));
}

fn blocks(p: &Json) -> &Vec<Json> {
    p["blocks"].as_array().expect("blocks")
}

fn block_text(b: &Json) -> String {
    match b["type"].as_str() {
        Some("context") => b["elements"][0]["text"].as_str().unwrap_or_default().to_owned(),
        _ => b["text"]["text"].as_str().unwrap_or_default().to_owned(),
    }
}

#[test]
fn slack_payload_shape() {
    let p = slack_payload(&digest(2));
    assert_eq!(
        p["text"],
        "Patch window mw-0123 in 111111111111/eu-west-1: 3 nodes failed: 3 of 40 nodes failed; 2 still missing critical patches"
    );
    let b = blocks(&p);
    let kinds: Vec<_> = b.iter().map(|b| b["type"].as_str().unwrap_or_default()).collect();
    assert_eq!(kinds, ["header", "section", "section", "section", "context"]);
    assert_eq!(b[0]["text"]["type"], "plain_text");
    assert_eq!(b[1]["text"]["type"], "mrkdwn");
    assert_eq!(
        block_text(&b[2]).lines().next(),
        Some(
            "• i-00000000000000000: Failed — exit code 1 in AWS-RunPatchBaseline <https://console.aws.amazon.com/systems-manager/run-command/0|open>"
        )
    );
    assert_eq!(
        block_text(&b[3]),
        "<https://reports.example.com/compliance?owner=team-data&amp;week=42|Compliance report>"
    );
    assert_eq!(
        block_text(&b[4]),
        "Owner: team-data  ·  Idempotency key: 111111111111/eu-west-1/mw-0123/exec-9"
    );
}

#[test]
fn slack_payload_respects_block_limits() {
    let mut d = digest(2_000);
    d.title = "T".repeat(400);
    d.summary = "<&>".repeat(2_000);
    let p = slack_payload(&d);
    let b = blocks(&p);
    assert!(b.len() <= limits::SLACK_BLOCKS, "{}", b.len());
    assert_eq!(chars(&block_text(&b[0])), limits::SLACK_HEADER);
    let mut total = 0;
    for block in b {
        let t = block_text(block);
        assert!(chars(&t) <= limits::SLACK_SECTION, "{}", chars(&t));
        total += chars(&t);
    }
    assert!(total <= limits::SLACK_TOTAL, "{total}");
    // The summary was escaped, then cut without splitting an entity.
    let summary = block_text(&b[1]);
    assert!(
        summary.starts_with("&lt;&amp;&gt;") && summary.ends_with(";…"),
        "{summary}"
    );
    let shown: usize = b.iter().map(|b| block_text(b).matches("• i-").count()).sum();
    let more = format!("_… and {} more_", 2_000 - shown);
    assert!(b.iter().any(|b| block_text(b) == more), "{more}");
    assert!(chars(p["text"].as_str().unwrap_or_default()) <= limits::SLACK_TEXT);

    // Many short items: several sections, each and all of them within the limits.
    let mut d = digest(0);
    d.items = (0..3_000)
        .map(|n| Item {
            name: format!("n{n}"),
            ..Item::default()
        })
        .collect();
    let b = slack_payload(&d)["blocks"].as_array().cloned().unwrap_or_default();
    assert!(b.len() <= limits::SLACK_BLOCKS && b.len() > 5, "{}", b.len());
    assert!(b.iter().all(|b| chars(&block_text(b)) <= limits::SLACK_SECTION));
}

#[test]
fn slack_links_cannot_break_out() {
    let mut d = digest(1);
    d.items[0].name = "<!channel> *bold*".into();
    d.items[0].url = Some("https://x.example/a|b>c".into());
    d.links = vec![Link {
        label: "not a link".into(),
        url: "javascript:alert(1)".into(),
    }];
    let b = slack_payload(&d)["blocks"].clone();
    let items = b[2]["text"]["text"].as_str().unwrap_or_default();
    assert!(items.starts_with("• &lt;!channel&gt; *bold*"), "{items}");
    assert!(items.ends_with("<https://x.example/a%7Cb%3Ec|open>"), "{items}");
    assert_eq!(b[3]["text"]["text"], "not a link: javascript:alert(1)");
}

#[test]
fn teams_payload_shape() {
    let p = teams_payload(&digest(2));
    assert_eq!(p["type"], "message");
    let a = &p["attachments"][0];
    assert_eq!(a["contentType"], "application/vnd.microsoft.card.adaptive");
    let card = &a["content"];
    assert_eq!(card["type"], "AdaptiveCard");
    assert_eq!(card["version"], "1.4");
    let body = card["body"].as_array().expect("body");
    assert_eq!(body[0]["type"], "TextBlock");
    assert_eq!(body[0]["weight"], "Bolder");
    assert_eq!(
        body[1]["text"],
        "3 of 40 nodes failed; 2 still missing critical patches"
    );
    assert_eq!(body[2]["type"], "FactSet");
    assert_eq!(body[2]["facts"][0]["title"], "i-00000000000000000");
    assert_eq!(
        body[2]["facts"][0]["value"],
        "Failed — exit code 1 in AWS-RunPatchBaseline [open](https://console.aws.amazon.com/systems-manager/run-command/0)"
    );
    let last = body.last().expect("footer");
    assert_eq!(
        last["text"],
        "Owner: team-data  ·  Idempotency key: 111111111111/eu-west-1/mw-0123/exec-9"
    );
    assert_eq!(card["actions"][0]["type"], "Action.OpenUrl");
    assert_eq!(
        card["actions"][0]["url"],
        "https://reports.example.com/compliance?owner=team-data&week=42"
    );
}

#[test]
fn teams_payload_fits_its_budget() {
    let mut d = digest(5_000);
    d.links = (0..8)
        .map(|n| Link {
            label: format!("Link {n}"),
            url: format!("https://example.com/{n}"),
        })
        .collect();
    let p = teams_payload(&d);
    let len = json_len(&p);
    assert!(
        len <= limits::TEAMS_BODY_BYTES && len > limits::TEAMS_BODY_BYTES - 2_000,
        "{len}"
    );
    let card = &p["attachments"][0]["content"];
    assert_eq!(card["actions"].as_array().map(Vec::len), Some(limits::TEAMS_ACTIONS));
    let body = card["body"].as_array().expect("body");
    let shown = body[2]["facts"].as_array().map_or(0, Vec::len);
    assert!(shown > 10 && shown < 5_000);
    assert_eq!(body[3]["text"], format!("… and {} more", 5_000 - shown));
    assert_eq!(
        body[4]["text"],
        "[Link 5](https://example.com/5)\n\n[Link 6](https://example.com/6)\n\n[Link 7](https://example.com/7)"
    );
    // Hostile sizes everywhere still fit.
    let mut d = digest(50);
    d.title = "𝔗".repeat(5_000);
    d.summary = "\u{1}\"𝔖".repeat(5_000);
    d.owner = "𝔒".repeat(5_000);
    d.idempotency_key = "\\".repeat(5_000);
    d.links = (0..60)
        .map(|n| Link {
            label: "𝔏".repeat(500),
            url: format!("https://example.com/{n}/{}", "x".repeat(880)),
        })
        .collect();
    let len = json_len(&teams_payload(&d));
    assert!(len <= limits::TEAMS_BODY_BYTES, "{len}");
    // No items, no links: no FactSet, no actions.
    let mut d = digest(0);
    d.links.clear();
    let card = teams_payload(&d)["attachments"][0]["content"].clone();
    assert!(card.get("actions").is_none());
    assert!(
        card["body"]
            .as_array()
            .is_some_and(|b| b.iter().all(|e| e["type"] == "TextBlock"))
    );
}

#[test]
fn payloads_builds_all_three() {
    let p = payloads(&digest(1));
    assert_eq!(p.sns, sns_message(&digest(1)));
    assert_eq!(p.slack, slack_payload(&digest(1)));
    assert_eq!(p.teams, teams_payload(&digest(1)));
}
