//! [`quote`]: every template value becomes a double-quoted scalar, so no value can change the
//! shape of the YAML around it.

/// Quotes `s` as a YAML double-quoted scalar. Everything outside YAML's printable set, plus `"`
/// and `\`, is escaped, so the result is one line and parses back to exactly `s`.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    // Most values are printable ASCII with nothing to escape: copied whole.
    if s.bytes().all(|b| matches!(b, b' '..=b'~') && b != b'"' && b != b'\\') {
        out.push_str(s);
        out.push('"');
        return out;
    }
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            // YAML's printable set (1.2 §5.1); the rest, including NEL, line/paragraph separators
            // (which some parsers treat as line breaks) and BOM, is escaped.
            ' '..='~' => out.push(c),
            '\u{A0}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}'
                if !matches!(c, '\u{2028}' | '\u{2029}' | '\u{FEFF}') =>
            {
                out.push(c)
            }
            c if (c as u32) <= 0xFFFF => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push_str(&format!("\\U{:08X}", c as u32)),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quote_round_trips_hostile_strings() {
        for s in [
            "a: b",
            "x\ny",
            "{{x}}",
            "# c",
            "&a *a",
            "!Ref X",
            "\"q\" 'q'",
            "\u{2028}\u{85}\u{FEFF}\u{0}",
            "😀",
            "",
        ] {
            let doc = format!("k: {}\n", quote(s));
            let v: serde_yaml::Value = serde_yaml::from_str(&doc).expect("parses");
            assert_eq!(v["k"].as_str(), Some(s), "{doc}");
        }
    }
}
