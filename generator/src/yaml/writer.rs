//! [`canonical`]: the YAML that is written, block style and quoted wherever YAML 1.1 could
//! retype a plain scalar.

use super::escape::quote;
use super::{Node, read};

/// Reads YAML back and emits it canonically: block style, two-space indent, keys in template
/// order, and a string left plain only when no YAML 1.1 or 1.2 reader could take it for anything
/// else.
///
/// serde_yaml's own emitter follows YAML 1.2, where `2010-09-09` or `1_000` are plain strings;
/// CloudFormation and cfn-lint read YAML 1.1, where they are a timestamp and a number. A policy
/// value must arrive as the string it was, so everything not obviously a word is double-quoted.
pub fn canonical(text: &str) -> Result<String, serde_yaml::Error> {
    let value = read(text)?;
    let mut out = String::with_capacity(text.len());
    let written = if is_block(&value) {
        write_block(&mut out, &value, 0, false)
    } else {
        scalar(&mut out, &value).map(|()| out.push('\n'))
    };
    written.map_err(<serde_yaml::Error as serde::de::Error>::custom)?;
    Ok(out)
}

fn is_block(v: &Node) -> bool {
    match v {
        Node::Map(m) => !m.is_empty(),
        Node::Seq(s) => !s.is_empty(),
        _ => false,
    }
}

/// Whether `s` can be written unquoted: starts with a letter, holds only word-ish characters,
/// has no `: ` or trailing `:`, and is not a YAML 1.1 boolean or null.
fn plain_ok(s: &str) -> bool {
    const WORDS: [&str; 10] = ["y", "n", "yes", "no", "on", "off", "true", "false", "null", "~"];
    s.starts_with(|c: char| c.is_ascii_alphabetic())
        && s.bytes().all(|b| {
            matches!(b, b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b' ' | b'_' | b'.' | b'/' | b'-' | b'(' | b')' | b'*' | b'+' | b',' | b'=' | b'@' | b':')
        })
        && !s.as_bytes().windows(2).any(|w| w == b": ")
        && !s.ends_with([':', ' '])
        && (s.len() > 5 || !WORDS.iter().any(|w| w.eq_ignore_ascii_case(s)))
}

fn scalar(out: &mut String, v: &Node) -> Result<(), String> {
    match v {
        Node::Null => out.push_str("null"),
        Node::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Node::Number(n) => out.push_str(n),
        Node::Str(s) if plain_ok(s) => out.push_str(s),
        Node::Str(s) => out.push_str(&quote(s)),
        Node::Seq(s) if s.is_empty() => out.push_str("[]"),
        Node::Map(m) if m.is_empty() => out.push_str("{}"),
        Node::Tagged(tag) => return Err(format!("unexpected YAML tag {tag} in a rendered template")),
        _ => return Err("a collection cannot be written as a scalar".to_owned()),
    }
    Ok(())
}

/// Writes a non-empty mapping or sequence at `indent`; `inline_first` when the first line's
/// position is already written (after `- `).
fn write_block(out: &mut String, v: &Node, indent: usize, inline_first: bool) -> Result<(), String> {
    let pad = |out: &mut String, i: usize| {
        if i > 0 || !inline_first {
            out.extend(std::iter::repeat_n(' ', indent));
        }
    };
    match v {
        Node::Map(m) => {
            for (i, (k, val)) in m.iter().enumerate() {
                pad(out, i);
                if is_block(k) {
                    return Err("complex mapping keys are not supported".to_owned());
                }
                scalar(out, k)?;
                out.push(':');
                match val {
                    Node::Map(_) if is_block(val) => {
                        out.push('\n');
                        write_block(out, val, indent + 2, false)?;
                    }
                    // Sequences under a key sit at the key's indent, as serde_yaml and cfn-lint's
                    // own examples write them.
                    Node::Seq(_) if is_block(val) => {
                        out.push('\n');
                        write_block(out, val, indent, false)?;
                    }
                    _ => {
                        out.push(' ');
                        scalar(out, val)?;
                        out.push('\n');
                    }
                }
            }
        }
        Node::Seq(s) => {
            for (i, item) in s.iter().enumerate() {
                pad(out, i);
                out.push_str("- ");
                if is_block(item) {
                    write_block(out, item, indent + 2, true)?;
                } else {
                    scalar(out, item)?;
                    out.push('\n');
                }
            }
        }
        _ => return Err("not a collection".to_owned()),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_quotes_what_yaml_1_1_would_retype() {
        let out =
            canonical("a: \"2010-09-09\"\nb: \"1_000\"\nc: \"yes\"\nd: plain words\ne: [\"x: y\", 5, true]\nf: {}\n")
                .expect("ok");
        assert_eq!(
            out,
            "a: \"2010-09-09\"\nb: \"1_000\"\nc: \"yes\"\nd: plain words\ne:\n- \"x: y\"\n- 5\n- true\nf: {}\n"
        );
        // And it is a fixed point: canonical output parses back to the same value.
        assert_eq!(canonical(&out).expect("ok"), out);
        let nested = canonical("- - a\n  - b\n- k: v\n  l: [1]\n").expect("ok");
        assert_eq!(nested, "- - a\n  - b\n- k: v\n  l:\n  - 1\n");
    }
}
