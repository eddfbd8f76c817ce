//! The read-back of a rendered template: [`read`] gives serde_yaml's answer, through [`parse`]
//! when the text is inside the subset it reads.
//!
//! [`parse`] reads a subset of YAML in one pass: block mappings and sequences indented with
//! spaces, one-line flow collections (`[a, b]`, `{Ref: x}`), double-quoted scalars, and plain
//! scalars that are a word-ish string, an unsigned decimal integer, `true`, `false` or `null`. The
//! moment it meets anything else (a comment, a single-quoted or block scalar, a tag or anchor, a
//! plain scalar that YAML could read as a float or a signed, octal or hex number, a duplicate key,
//! a continuation line, a tab, a CR) it gives up, and [`read`] hands the whole text to serde_yaml.
//! So the result is always serde_yaml's: on the subset it is checked against serde_yaml over
//! generated documents (`agrees_with_serde_yaml`), and every built-in template takes the fast way
//! (`render::tests::templates_take_the_fast_read_back`).
//!
//! Why: serde_yaml (libyaml) reads about 25 MB/s here, which made reading the ~70 KB of rendered
//! templates back the largest cost of `generate` once the templates compiled fast.

use std::borrow::Cow;

use super::Node;

/// Parses `text` as serde_yaml does: the fast subset when it covers the text, else serde_yaml.
pub fn read(text: &str) -> Result<Node<'_>, serde_yaml::Error> {
    match parse(text) {
        Some(v) => Ok(v),
        None => serde_yaml::from_str::<serde_yaml::Value>(text).map(Node::from),
    }
}

/// The fast subset: `Some` only when the text is entirely inside it.
pub fn parse(text: &str) -> Option<Node<'_>> {
    parse_or_stop(text).ok()
}

/// [`parse`], or where it gave up: the line it was reading (for tests and benchmarks to show).
pub fn parse_or_stop(text: &str) -> Result<Node<'_>, String> {
    if text.contains(['\r', '\t']) {
        return Err("a CR or a tab".to_owned());
    }
    let lines: Vec<Line> = text
        .split('\n')
        .filter_map(|raw| {
            let body = raw.trim_start_matches(' ');
            (!body.trim_end_matches(' ').is_empty()).then(|| Line {
                indent: raw.len() - body.len(),
                body: body.trim_end_matches(' '),
            })
        })
        .collect();
    let mut p = Parser { lines, at: 0, depth: 0 };
    let stop = |p: &Parser| match p.lines.get(p.at.saturating_sub(1)) {
        Some(l) => format!("line {:?}", l.body),
        None => "an empty text".to_owned(),
    };
    let indent = p.lines.first().map(|l| l.indent).ok_or_else(|| stop(&p))?;
    match p.block(indent, None) {
        Some(v) if p.at == p.lines.len() => Ok(v),
        _ => Err(stop(&p)),
    }
}

struct Line<'a> {
    indent: usize,
    body: &'a str,
}

struct Parser<'a> {
    lines: Vec<Line<'a>>,
    at: usize,
    /// Block collections open around the current line.
    depth: usize,
}

/// The deepest nesting the subset reads (block and flow together): serde_yaml refuses more than
/// 128 levels, and a deeper text goes to it to be refused; the reader's recursion stays bounded.
/// Found by the `yaml_reader` fuzz target.
const DEPTH_LIMIT: usize = 100;

impl<'a> Parser<'a> {
    /// A block node whose lines start at `indent`; `first` is the rest of a line already begun
    /// (after `- `), at column `indent`.
    fn block(&mut self, indent: usize, first: Option<&'a str>) -> Option<Node<'a>> {
        let body = match first {
            Some(b) => b,
            None => self.lines.get(self.at)?.body,
        };
        if self.depth >= DEPTH_LIMIT {
            return None;
        }
        self.depth += 1;
        let node = if is_item(body) {
            self.sequence(indent, first)
        } else {
            self.mapping(indent, first)
        };
        self.depth -= 1;
        node
    }

    fn sequence(&mut self, indent: usize, first: Option<&'a str>) -> Option<Node<'a>> {
        let mut items = Vec::new();
        let mut pending = first;
        loop {
            // `first` is the rest of a line already taken; every other entry takes its line.
            let body = match pending.take() {
                Some(b) => b,
                None => match self.lines.get(self.at) {
                    Some(l) if l.indent == indent && is_item(l.body) => {
                        let b = l.body;
                        self.at += 1;
                        b
                    }
                    Some(l) if l.indent > indent => return None,
                    _ => break,
                },
            };
            let rest = body[1..].trim_start_matches(' ');
            let column = indent + (body.len() - rest.len());
            if rest.is_empty() {
                // `-` alone: the item is the block below, or null.
                items.push(self.nested(indent)?);
            } else if is_item(rest) || (!rest.starts_with(['[', '{']) && key_split(rest).is_some()) {
                // `- - x` or `- key: value`: a block beginning on this line.
                items.push(self.block(column, Some(rest))?);
            } else {
                items.push(self.value(rest)?);
                self.no_continuation(indent)?;
            }
        }
        Some(Node::Seq(items))
    }

    fn mapping(&mut self, indent: usize, first: Option<&'a str>) -> Option<Node<'a>> {
        let mut map = Vec::new();
        let mut pending = first;
        loop {
            let body = match pending.take() {
                Some(b) => b,
                None => match self.lines.get(self.at) {
                    Some(l) if l.indent == indent && !is_item(l.body) => {
                        let b = l.body;
                        self.at += 1;
                        b
                    }
                    Some(l) if l.indent > indent => return None,
                    _ => break,
                },
            };
            let (key, rest) = key_split(body)?;
            let key = scalar_key(key)?;
            let value = if rest.is_empty() {
                // The block below, a sequence at this same indent, or null.
                match self.lines.get(self.at) {
                    Some(l) if l.indent == indent && is_item(l.body) => self.sequence(indent, None)?,
                    _ => self.nested(indent)?,
                }
            } else {
                let v = self.value(rest)?;
                self.no_continuation(indent)?;
                v
            };
            insert(&mut map, key, value)?;
        }
        Some(Node::Map(map))
    }

    /// The block more indented than `indent` on the next lines, or null when there is none.
    fn nested(&mut self, indent: usize) -> Option<Node<'a>> {
        match self.lines.get(self.at) {
            Some(l) if l.indent > indent => {
                let i = l.indent;
                self.block(i, None)
            }
            _ => Some(Node::Null),
        }
    }

    /// After a scalar or flow value, a more indented line would continue it: not in the subset.
    fn no_continuation(&self, indent: usize) -> Option<()> {
        match self.lines.get(self.at) {
            Some(l) if l.indent > indent => None,
            _ => Some(()),
        }
    }

    /// A value written on one line: flow collection, double-quoted or plain scalar.
    fn value(&self, text: &'a str) -> Option<Node<'a>> {
        if text.starts_with(['[', '{']) {
            let (v, rest) = flow(text, self.depth)?;
            return rest.trim_start_matches(' ').is_empty().then_some(v);
        }
        if text.starts_with('"') {
            let (s, rest) = quoted(text)?;
            return rest.trim_start_matches(' ').is_empty().then_some(Node::Str(s));
        }
        plain(text, false)
    }
}

/// Whether a line's body is a sequence entry.
fn is_item(body: &str) -> bool {
    body == "-" || body.starts_with("- ")
}

/// `key: rest` or `key:` → (key text, rest); the key is quoted or plain.
fn key_split(body: &str) -> Option<(&str, &str)> {
    let end = if body.starts_with('"') {
        let (_, rest) = quoted(body)?;
        body.len() - rest.len()
    } else {
        body.find(": ").or_else(|| body.strip_suffix(':').map(str::len))?
    };
    if end > KEY_LIMIT {
        return None;
    }
    let after = body[end..].strip_prefix(':')?;
    if !after.is_empty() && !after.starts_with(' ') {
        return None;
    }
    Some((&body[..end], after.trim_start_matches(' ')))
}

/// The longest key the subset reads: YAML allows an implicit key of at most 1,024 characters
/// (libyaml counts them up to the `:`), and a longer one is left to serde_yaml, which refuses it.
/// Found by the `yaml_reader` fuzz target.
const KEY_LIMIT: usize = 1000;

/// Adds an entry; a key already there is not in the subset (serde_yaml refuses it).
fn insert<'a>(map: &mut Vec<(Node<'a>, Node<'a>)>, key: Node<'a>, value: Node<'a>) -> Option<()> {
    if map.iter().any(|(k, _)| *k == key) {
        return None;
    }
    map.push((key, value));
    Some(())
}

fn scalar_key(text: &str) -> Option<Node<'_>> {
    if text.starts_with('"') {
        let (s, rest) = quoted(text)?;
        return rest.is_empty().then_some(Node::Str(s));
    }
    plain(text, false)
}

/// A plain scalar: a string starting with a letter, `/`, `$` or `_` that YAML cannot read as anything else,
/// or an unsigned decimal integer; `None` for everything else.
fn plain(text: &str, in_flow: bool) -> Option<Node<'_>> {
    // serde_yaml's own words, checked first as it does.
    match text {
        "null" | "Null" | "NULL" | "~" => return Some(Node::Null),
        "true" | "True" | "TRUE" => return Some(Node::Bool(true)),
        "false" | "False" | "FALSE" => return Some(Node::Bool(false)),
        _ => {}
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        if text.len() > 1 && text.starts_with('0') {
            return None;
        }
        return text.parse::<u64>().ok().map(|_| Node::Number(Cow::Borrowed(text)));
    }
    let first_ok = text.starts_with(|c: char| c.is_ascii_alphabetic() || matches!(c, '/' | '$' | '_'));
    let chars_ok = text.chars().all(|c| match c {
        'a'..='z'
        | 'A'..='Z'
        | '0'..='9'
        | ' '
        | '_'
        | '.'
        | '/'
        | '-'
        | '@'
        | '('
        | ')'
        | '*'
        | '+'
        | '='
        | '$'
        | ':' => true,
        ',' | ';' | '\'' | '"' | '!' | '?' | '%' | '&' | '<' | '>' | '[' | ']' | '{' | '}' | '|' | '`' | '^' | '~'
        | '#' => !in_flow,
        c => !in_flow && !c.is_ascii() && printable(c),
    });
    // Pairs that would end or break a plain scalar: `: `, ` #`, and two spaces (kept out of the
    // subset rather than reasoned about).
    let pairs_ok = text
        .as_bytes()
        .windows(2)
        .all(|w| !matches!(w, [b':', b' '] | [b' ', b'#'] | [b' ', b' ']));
    let shape_ok = pairs_ok && !text.ends_with([':', ' ']);
    (first_ok && chars_ok && shape_ok).then_some(Node::Str(Cow::Borrowed(text)))
}

/// Non-ASCII characters YAML prints as they are ([`quote`](super::quote)'s set:
/// no NEL, line or paragraph separator, BOM or C1 control).
fn printable(c: char) -> bool {
    matches!(c, '\u{A0}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}')
        && !matches!(c, '\u{2028}' | '\u{2029}' | '\u{FEFF}')
}

/// A double-quoted scalar at the start of `text` → (its value, the text after the closing quote).
/// Only the escapes [`quote`](super::quote) writes and `\/`; no line breaks.
fn quoted(text: &str) -> Option<(Cow<'_, str>, &str)> {
    let inner = text.strip_prefix('"')?;
    // Without a backslash before the closing quote, the value is the text between the quotes.
    if let Some(end) = inner.find(['"', '\\'])
        && inner.as_bytes()[end] == b'"'
    {
        let s = &inner[..end];
        if s.chars().all(|c| printable(c) || c == ' ' || c.is_ascii_graphic()) {
            return Some((Cow::Borrowed(s), &inner[end + 1..]));
        }
        return None;
    }
    let mut out = String::new();
    let mut chars = inner.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((Cow::Owned(out), &inner[i + 1..])),
            '\\' => {
                let (_, e) = chars.next()?;
                match e {
                    '"' => out.push('"'),
                    '\\' => out.push('\\'),
                    '/' => out.push('/'),
                    'n' => out.push('\n'),
                    't' => out.push('\t'),
                    'r' => out.push('\r'),
                    'u' | 'U' => {
                        let len = if e == 'u' { 4 } else { 8 };
                        let hex: String = (0..len).map(|_| chars.next().map(|(_, h)| h)).collect::<Option<_>>()?;
                        if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                            return None;
                        }
                        out.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
                    }
                    _ => return None,
                }
            }
            c if !(printable(c) || c == ' ' || c.is_ascii_graphic()) => return None,
            c => out.push(c),
        }
    }
    None
}

/// A one-line flow collection at the start of `text` → (value, the text after it).
fn flow(text: &str, depth: usize) -> Option<(Node<'_>, &str)> {
    if depth >= DEPTH_LIMIT {
        return None;
    }
    let (close, mut rest) = match text.as_bytes().first()? {
        b'[' => (']', &text[1..]),
        b'{' => ('}', &text[1..]),
        _ => return None,
    };
    let mut items = Vec::new();
    let mut map = Vec::new();
    loop {
        rest = rest.trim_start_matches(' ');
        if let Some(after) = rest.strip_prefix(close) {
            let v = if close == ']' { Node::Seq(items) } else { Node::Map(map) };
            return Some((v, after));
        }
        if close == ']' {
            let (v, after) = flow_node(rest, depth + 1)?;
            items.push(v);
            rest = after;
        } else {
            let (k, after) = flow_node(rest, depth + 1)?;
            if rest.len() - after.len() > KEY_LIMIT {
                return None;
            }
            let after = after.trim_start_matches(' ').strip_prefix(": ")?;
            let (v, after) = flow_node(after, depth + 1)?;
            if matches!(k, Node::Map(_) | Node::Seq(_)) {
                return None;
            }
            insert(&mut map, k, v)?;
            rest = after;
        }
        rest = rest.trim_start_matches(' ');
        if let Some(after) = rest.strip_prefix(',') {
            rest = after;
            // `[a, ]` is allowed by YAML but not worth the subset.
            if rest.trim_start_matches(' ').starts_with(close) {
                return None;
            }
        } else if !rest.starts_with(close) {
            return None;
        }
    }
}

/// One node inside a flow collection → (value, the text after it).
fn flow_node(text: &str, depth: usize) -> Option<(Node<'_>, &str)> {
    if text.starts_with(['[', '{']) {
        return flow(text, depth);
    }
    if text.starts_with('"') {
        let (s, rest) = quoted(text)?;
        return Some((Node::Str(s), rest));
    }
    // A word ends at `,`, `]`, `}`, or a `:` that is not inside it (`ssm:SendCommand` is one word).
    let bytes = text.as_bytes();
    let end = (0..bytes.len())
        .find(|&i| match bytes[i] {
            b',' | b']' | b'}' => true,
            b':' => !bytes.get(i + 1).is_some_and(u8::is_ascii_alphanumeric),
            _ => false,
        })
        .unwrap_or(text.len());
    let word = text[..end].trim_end_matches(' ');
    Some((plain(word, true)?, &text[end..]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::quote;
    use proptest::prelude::*;
    use serde_yaml::{Mapping, Value};

    #[test]
    fn reads_nesting_within_the_limit() {
        for text in [
            format!("{}x\n", "- ".repeat(90)),
            format!("k: {}{}\n", "[".repeat(90), "]".repeat(90)),
        ] {
            let slow = serde_yaml::from_str::<Value>(&text)
                .map(Node::from)
                .expect("serde_yaml reads it");
            assert_eq!(parse(&text), Some(slow), "{text}");
        }
    }

    #[test]
    fn reads_the_template_shapes() {
        let text = "A: \"2010-09-09\"\nB:\n  C: [x, \"y: z\", {Ref: Q}]\n  D:\n  - k: 1\n    l: /a/b\n  - - n\n    - m\n  -\n    deep: yes it is\n  E:\n  - {a: [1, 2]}\nF: [true, False, NULL, ~]\nG:\n";
        let fast = parse(text).expect("in the subset");
        assert_eq!(fast, Node::from(serde_yaml::from_str::<Value>(text).expect("yaml")));
    }

    #[test]
    fn gives_up_outside_the_subset() {
        for text in [
            "a: b # comment\n",
            "a: 'single'\n",
            "a: |\n  block\n",
            "a: !Ref x\n",
            "a: &x 1\nb: *x\n",
            "a: 1.5\n",
            "a: 007\n",
            "a: -1\n",
            "a: plain\n  continued\n",
            "a: 1\na: 2\n",
            "a:\tb\n",
            "a: \"\\x41\"\n",
            "a: [b, ]\n",
            "a: [b,\n  c]\n",
            "a: b: c\n",
            "? a\n: b\n",
            "- a\n  - b\n",
        ]
        .into_iter()
        .map(str::to_owned)
        .chain([
            // Implicit keys longer than YAML's 1,024 characters, and nesting deeper than
            // serde_yaml's 128 levels (both found by fuzzing).
            format!("k:\n{}x:\n", "_".repeat(1100)),
            format!("k: {{{}: v}}\n", "a".repeat(1100)),
            format!("{}x\n", "- ".repeat(200)),
            format!("k: {}{}\n", "[".repeat(200), "]".repeat(200)),
        ]) {
            let text = text.as_str();
            assert_eq!(parse(text), None, "{text:?}");
            // And the whole read still answers what serde_yaml answers.
            assert_eq!(
                read(text).ok(),
                serde_yaml::from_str::<Value>(text).ok().map(Node::from),
                "{text:?}"
            );
        }
    }

    /// Lines from an alphabet of YAML's significant characters: whatever the fast way accepts, it
    /// reads as serde_yaml does.
    fn line() -> impl Strategy<Value = String> {
        let atom = prop::sample::select(vec![
            "a", "Ref", "x1", "/p", "-", "- ", ": ", ":", " ", "  ", "[", "]", "{", "}", ",", "\"", "\\", "\\n",
            "\\u0041", "#", "'", "|", "&", "*", "!", "?", "0", "7", "12", "true", "null", "No", "é", ".", "@", "$",
            "key: ",
        ]);
        (0usize..6, prop::collection::vec(atom, 0..8))
            .prop_map(|(indent, atoms)| format!("{}{}", " ".repeat(indent), atoms.concat()))
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 4000, ..ProptestConfig::default() })]
        #[test]
        fn agrees_with_serde_yaml(lines in prop::collection::vec(line(), 1..8)) {
            let text = lines.join("\n") + "\n";
            if let Some(fast) = parse(&text) {
                let slow = serde_yaml::from_str::<Value>(&text);
                prop_assert!(slow.is_ok(), "fast read {text:?}, serde_yaml refused: {:?}", slow.err().map(|e| e.to_string()));
                prop_assert_eq!(Some(fast), slow.ok().map(Node::from), "{:?}", text);
            }
        }

        /// Structured documents, written in block and flow style with hostile strings quoted:
        /// these the fast way must also read (not only agree on).
        #[test]
        fn reads_what_the_renderer_writes(doc in document(), flow_style in any::<bool>()) {
            let text = write(&doc, 0, flow_style);
            let fast = parse(&text);
            prop_assert_eq!(fast, Some(Node::from(doc.clone())), "{}", text);
            let slow = serde_yaml::from_str::<Value>(&text).ok();
            prop_assert_eq!(slow.as_ref(), Some(&doc), "{}", text);
        }
    }

    fn document() -> impl Strategy<Value = Value> {
        let scalar = prop_oneof![
            "[a-zA-Z/][a-zA-Z0-9 _./-]{0,12}".prop_map(|s| Value::String(s.trim_end().to_owned())),
            ".{0,10}".prop_map(Value::String),
            (0u64..100_000).prop_map(|n| Value::Number(n.into())),
        ];
        scalar
            .prop_recursive(4, 40, 5, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 1..5).prop_map(Value::Sequence),
                    prop::collection::vec(("[a-zA-Z][a-zA-Z0-9:]{0,8}", inner), 1..5).prop_map(|kv| {
                        let mut m = Mapping::new();
                        for (k, v) in kv {
                            m.insert(Value::String(k), v);
                        }
                        Value::Mapping(m)
                    }),
                ]
            })
            .prop_filter("a collection", |v| v.is_mapping() || v.is_sequence())
    }

    /// Writes `v` as the templates do: block collections, flow ones on one line when `flow`, every
    /// string quoted unless plainly a word.
    fn write(v: &Value, indent: usize, flow: bool) -> String {
        fn one_line(v: &Value) -> String {
            match v {
                Value::Sequence(s) => format!("[{}]", s.iter().map(one_line).collect::<Vec<_>>().join(", ")),
                Value::Mapping(m) => format!(
                    "{{{}}}",
                    m.iter()
                        .map(|(k, v)| format!("{}: {}", quote(k.as_str().unwrap_or("")), one_line(v)))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                Value::Number(n) => n.to_string(),
                Value::String(s) => quote(s),
                _ => "null".to_owned(),
            }
        }
        let pad = " ".repeat(indent);
        let mut out = String::new();
        match v {
            Value::Mapping(m) => {
                for (k, val) in m {
                    let key = k.as_str().unwrap_or("");
                    let key = if plain(key, false) == Some(Node::Str(Cow::Borrowed(key))) {
                        key.to_owned()
                    } else {
                        quote(key)
                    };
                    match val {
                        Value::Mapping(_) | Value::Sequence(_) if !flow => {
                            out.push_str(&format!("{pad}{key}:\n{}", write(val, indent + 2, flow)));
                        }
                        _ => out.push_str(&format!("{pad}{key}: {}\n", one_line(val))),
                    }
                }
            }
            Value::Sequence(s) => {
                for item in s {
                    match item {
                        Value::Mapping(_) | Value::Sequence(_) if !flow => {
                            out.push_str(&format!("{pad}-\n{}", write(item, indent + 2, flow)));
                        }
                        _ => out.push_str(&format!("{pad}- {}\n", one_line(item))),
                    }
                }
            }
            other => out.push_str(&format!("{pad}{}\n", one_line(other))),
        }
        out
    }
}
