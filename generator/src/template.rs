//! The template language of `templates/*.hbs`: the subset of handlebars they use, compiled by a
//! single linear pass and rendered over JSON (ADR 018).
//!
//! What a template may hold, and nothing else (anything else is a compile error with its line):
//! - text, where `\{{` writes a literal `{{` (SSM and Image Builder variables);
//! - `{{path}}`: the value, escaped by the escape function given to [`Template::render`] (the
//!   [`yaml::quote`](crate::yaml::quote)); a string, number, boolean or null,
//!   never a list or an object;
//! - `{{num path}}`, `{{bool path}}`: an integer or a boolean written as is, anything else refused;
//! - `{{#if path}}`, `{{#if (some path)}}`, `{{else}}`, `{{/if}}`; `{{#each path}}`, `{{/each}}`
//!   over a list or an object;
//! - `{{!-- comment --}}` and `{{! comment }}`.
//!
//! A path is `a.b.c`, `this`, `this.a`, `../a` (one `each` out), `@root.a`, `@index`, `@key`,
//! `@first` or `@last`. The semantics are handlebars' (version 6, strict mode), so the templates
//! read as handlebars and render to the same text (`renders_as_handlebars_does` holds every
//! built-in template to that):
//! - a value, `each`, `some`, `num` or `bool` of a path that is not in the data is an error;
//!   `#if` of a missing path is false;
//! - `#if` is false for null, false, 0, "", [] and {}; `(some x)` is true for anything not null;
//! - a line holding only a block tag (`#if`, `else`, `/if`, `#each`, `/each`) or a comment, with
//!   spaces or tabs around it, leaves no text: neither its indentation nor its line break.
//!
//! Why not handlebars itself: its parser (pest) computed every element's line and column from the
//! template's start, which made compiling the 60 KB of built-in templates most of `generate`'s
//! time, at every start (BENCHMARKS.md). This compiles them in well under a millisecond.

use serde_json::Value as Json;

/// A compile or render error: the template's name, the line, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{template} line {line}: {message}")]
pub struct Error {
    /// Template name as given to [`Template::compile`].
    pub template: String,
    /// 1-based line of the tag at fault.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// A compiled template.
#[derive(Debug, Clone)]
pub struct Template {
    name: String,
    nodes: Vec<Node>,
}

#[derive(Debug, Clone)]
enum Node {
    Text(String),
    Value(Expr),
    Num(Expr),
    Bool(Expr),
    If {
        cond: Expr,
        some: bool,
        then: Vec<Node>,
        otherwise: Vec<Node>,
    },
    Each {
        list: Expr,
        body: Vec<Node>,
    },
}

#[derive(Debug, Clone)]
struct Expr {
    path: Path,
    text: String,
    line: usize,
}

#[derive(Debug, Clone)]
enum Path {
    /// `up` `each` blocks out (`../`), then these keys.
    Local { up: usize, keys: Vec<String> },
    /// `@root.` then these keys.
    Root(Vec<String>),
    /// `@index`, `@key`, `@first`, `@last` of the innermost `each`.
    Var(Var),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Var {
    Index,
    Key,
    First,
    Last,
}

/// One `{{…}}` or text run of the source, before blocks are nested.
enum Token<'a> {
    Text(String),
    Tag { body: &'a str, line: usize, kind: Kind },
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A value or a helper call: never standalone.
    Inline,
    /// `#…`, `else`, `/…` or a comment: a line holding only it leaves no text.
    Block,
    Comment,
}

impl Template {
    /// Compiles `source`; `name` is what errors call it.
    pub fn compile(name: &str, source: &str) -> Result<Template, Error> {
        let err = |line: usize, message: String| Error {
            template: name.to_owned(),
            line,
            message,
        };
        let tokens = tokenize(source).map_err(|(line, m)| err(line, m))?;
        // Nest: a stack of open blocks, each with the nodes gathered so far.
        struct Open<'a> {
            tag: &'a str,
            line: usize,
            head: Option<(Expr, bool)>,
            list: Option<Expr>,
            then: Vec<Node>,
            otherwise: Option<Vec<Node>>,
        }
        let mut root: Vec<Node> = Vec::new();
        let mut stack: Vec<Open> = Vec::new();
        fn current<'s>(root: &'s mut Vec<Node>, stack: &'s mut [Open]) -> &'s mut Vec<Node> {
            match stack.last_mut() {
                Some(o) => o.otherwise.as_mut().unwrap_or(&mut o.then),
                None => root,
            }
        }
        for token in tokens {
            let (body, line, kind) = match token {
                Token::Text(t) => {
                    if !t.is_empty() {
                        current(&mut root, &mut stack).push(Node::Text(t));
                    }
                    continue;
                }
                Token::Tag { body, line, kind } => (body, line, kind),
            };
            if kind == Kind::Comment {
                continue;
            }
            let words: Vec<&str> = body.split_whitespace().collect();
            match words.as_slice() {
                ["#if", rest @ ..] => {
                    let (expr, some) = match rest {
                        [p] => (expr(p, line).map_err(|m| err(line, m))?, false),
                        ["(some", p] if p.ends_with(')') => {
                            (expr(&p[..p.len() - 1], line).map_err(|m| err(line, m))?, true)
                        }
                        _ => return Err(err(line, format!("`{{{{{body}}}}}`: #if takes a path or (some path)"))),
                    };
                    stack.push(Open {
                        tag: "if",
                        line,
                        head: Some((expr, some)),
                        list: None,
                        then: Vec::new(),
                        otherwise: None,
                    });
                }
                ["#each", p] => stack.push(Open {
                    tag: "each",
                    line,
                    head: None,
                    list: Some(expr(p, line).map_err(|m| err(line, m))?),
                    then: Vec::new(),
                    otherwise: None,
                }),
                ["else"] => match stack.last_mut() {
                    Some(o) if o.tag == "if" && o.otherwise.is_none() => o.otherwise = Some(Vec::new()),
                    _ => return Err(err(line, "`{{else}}` outside an #if (or a second one)".to_owned())),
                },
                [close] if close.starts_with('/') => {
                    let name = &close[1..];
                    let Some(open) = stack.pop() else {
                        return Err(err(line, format!("`{{{{{body}}}}}` closes nothing")));
                    };
                    if open.tag != name {
                        return Err(err(
                            line,
                            format!("`{{{{{body}}}}}` closes the #{} opened on line {}", open.tag, open.line),
                        ));
                    }
                    let node = match (open.head, open.list) {
                        (Some((cond, some)), _) => Node::If {
                            cond,
                            some,
                            then: open.then,
                            otherwise: open.otherwise.unwrap_or_default(),
                        },
                        (None, Some(list)) => Node::Each { list, body: open.then },
                        (None, None) => unreachable!("a block is an if or an each"),
                    };
                    current(&mut root, &mut stack).push(node);
                }
                ["num", p] => {
                    let e = expr(p, line).map_err(|m| err(line, m))?;
                    current(&mut root, &mut stack).push(Node::Num(e));
                }
                ["bool", p] => {
                    let e = expr(p, line).map_err(|m| err(line, m))?;
                    current(&mut root, &mut stack).push(Node::Bool(e));
                }
                [p] if kind == Kind::Inline => {
                    let e = expr(p, line).map_err(|m| err(line, m))?;
                    current(&mut root, &mut stack).push(Node::Value(e));
                }
                _ => {
                    return Err(err(
                        line,
                        format!("`{{{{{body}}}}}` is not part of the template language"),
                    ));
                }
            }
        }
        if let Some(open) = stack.pop() {
            return Err(err(open.line, format!("#{} is never closed", open.tag)));
        }
        Ok(Template {
            name: name.to_owned(),
            nodes: root,
        })
    }

    /// Renders over `data`, each `{{path}}` through `escape`.
    pub fn render(&self, data: &Json, escape: fn(&str) -> String) -> Result<String, Error> {
        let mut out = String::with_capacity(64 * 1024);
        let mut scope = vec![Frame {
            value: data,
            index: None,
            key: None,
            last: false,
        }];
        let r = Renderer {
            name: &self.name,
            root: data,
            escape,
        };
        r.nodes(&self.nodes, &mut scope, &mut out)?;
        Ok(out)
    }
}

/// Splits the source into text and tags, applying `\{{` and the standalone-line rule.
fn tokenize(source: &str) -> Result<Vec<Token<'_>>, (usize, String)> {
    let mut tokens = Vec::new();
    let mut text = String::new();
    let (mut pos, mut line) = (0, 1);
    // Whether the text after the last tag starts by dropping its spaces and line break.
    let mut trim_next = false;
    let bytes = source.as_bytes();
    loop {
        let Some(found) = source[pos..].find("{{").map(|i| pos + i) else {
            push_text(&mut text, &source[pos..], &mut trim_next);
            break;
        };
        // `\{{` is a literal `{{`: the backslash goes, the text goes on.
        if found > 0 && bytes[found - 1] == b'\\' {
            push_text(&mut text, &source[pos..found - 1], &mut trim_next);
            text.push_str("{{");
            line += count_lines(&source[pos..found + 2]);
            pos = found + 2;
            continue;
        }
        push_text(&mut text, &source[pos..found], &mut trim_next);
        line += count_lines(&source[pos..found]);
        let tag_line = line;
        let after = &source[found + 2..];
        let (body, len, kind) = if let Some(c) = after.strip_prefix("!--") {
            let end = c
                .find("--}}")
                .ok_or((tag_line, "`{{!--` is never closed by `--}}`".to_owned()))?;
            (&c[..end], 2 + 3 + end + 4, Kind::Comment)
        } else {
            let end = after
                .find("}}")
                .ok_or((tag_line, "`{{` is never closed by `}}`".to_owned()))?;
            let body = &after[..end];
            if body.starts_with(['{', '~', '>', '&']) || body.ends_with('~') || body.contains("{{") {
                return Err((
                    tag_line,
                    format!("`{{{{{body}}}}}` is not part of the template language"),
                ));
            }
            let kind = match body.trim_start().chars().next() {
                Some('!') => Kind::Comment,
                Some('#' | '/') => Kind::Block,
                _ if body.trim() == "else" => Kind::Block,
                _ => Kind::Inline,
            };
            (body.trim(), 2 + end + 2, kind)
        };
        let end = found + len;
        line += count_lines(&source[found..end]);
        if kind != Kind::Inline && standalone(source, found, end) {
            // Drop the indentation before the tag (it is the tail of the pending text) and, with
            // the next text, the rest of the line.
            let kept = text.trim_end_matches([' ', '\t']).len();
            text.truncate(kept);
            trim_next = true;
        }
        if !text.is_empty() {
            tokens.push(Token::Text(std::mem::take(&mut text)));
        }
        tokens.push(Token::Tag {
            body,
            line: tag_line,
            kind,
        });
        pos = end;
    }
    if !text.is_empty() {
        tokens.push(Token::Text(text));
    }
    Ok(tokens)
}

/// Appends `s` to the pending text; after a standalone tag, first drops the spaces, tabs and one
/// line break that end that tag's line.
fn push_text(text: &mut String, s: &str, trim_next: &mut bool) {
    let mut s = s;
    if std::mem::take(trim_next) {
        s = s.trim_start_matches([' ', '\t']);
        s = s.strip_prefix("\r\n").or_else(|| s.strip_prefix('\n')).unwrap_or(s);
    }
    text.push_str(s);
}

/// Whether the tag at `start..end` is alone on its line, but for spaces and tabs (the end of the
/// source counts as a line end, the start as a line start).
fn standalone(source: &str, start: usize, end: usize) -> bool {
    let before = source[..start].trim_end_matches([' ', '\t']);
    let after = source[end..].trim_start_matches([' ', '\t']);
    (before.is_empty() || before.ends_with(['\n', '\r'])) && (after.is_empty() || after.starts_with(['\n', '\r']))
}

fn count_lines(s: &str) -> usize {
    s.bytes().filter(|&b| b == b'\n').count()
}

/// Parses a path expression.
fn expr(text: &str, line: usize) -> Result<Expr, String> {
    let bad = || format!("`{text}` is not a path");
    let path = if let Some(rest) = text.strip_prefix("@root.") {
        Path::Root(keys(rest).ok_or_else(bad)?)
    } else if let Some(var) = text.strip_prefix('@') {
        Path::Var(match var {
            "index" => Var::Index,
            "key" => Var::Key,
            "first" => Var::First,
            "last" => Var::Last,
            _ => return Err(bad()),
        })
    } else {
        let mut up = 0;
        let mut rest = text;
        while let Some(r) = rest.strip_prefix("../") {
            up += 1;
            rest = r;
        }
        let rest = match rest {
            "this" | "." => "",
            r => r.strip_prefix("this.").or_else(|| r.strip_prefix("./")).unwrap_or(r),
        };
        Path::Local {
            up,
            keys: if rest.is_empty() {
                Vec::new()
            } else {
                keys(rest).ok_or_else(bad)?
            },
        }
    };
    Ok(Expr {
        path,
        text: text.to_owned(),
        line,
    })
}

fn keys(s: &str) -> Option<Vec<String>> {
    s.split('.')
        .map(|k| {
            (!k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'))
                .then(|| k.to_owned())
        })
        .collect()
}

/// One level of `each` (the first is the data itself).
struct Frame<'a> {
    value: &'a Json,
    index: Option<usize>,
    key: Option<&'a str>,
    last: bool,
}

struct Renderer<'a> {
    name: &'a str,
    root: &'a Json,
    escape: fn(&str) -> String,
}

/// A looked-up value: borrowed from the data, or made (`@index`, `@key`, …).
enum Got<'a> {
    Data(&'a Json),
    Made(Json),
    Missing,
}

impl Got<'_> {
    fn get(&self) -> Option<&Json> {
        match self {
            Got::Data(v) => Some(v),
            Got::Made(v) => Some(v),
            Got::Missing => None,
        }
    }
}

impl<'a> Renderer<'a> {
    fn fail(&self, e: &Expr, message: String) -> Error {
        Error {
            template: self.name.to_owned(),
            line: e.line,
            message,
        }
    }

    fn lookup(&self, e: &Expr, scope: &[Frame<'a>]) -> Got<'a> {
        let walk = |mut v: &'a Json, keys: &[String]| {
            for k in keys {
                match v.get(k.as_str()) {
                    Some(next) => v = next,
                    None => return Got::Missing,
                }
            }
            Got::Data(v)
        };
        match &e.path {
            Path::Root(keys) => walk(self.root, keys),
            Path::Local { up, keys } => match scope.len().checked_sub(1 + up) {
                Some(i) => walk(scope[i].value, keys),
                None => Got::Missing,
            },
            Path::Var(var) => match (scope.last(), var) {
                (Some(Frame { index: Some(i), .. }), Var::Index) => Got::Made(Json::from(*i)),
                (Some(Frame { key: Some(k), .. }), Var::Key) => Got::Made(Json::from(*k)),
                (Some(Frame { index: Some(i), .. }), Var::First) => Got::Made(Json::Bool(*i == 0)),
                (
                    Some(Frame {
                        index: Some(_), last, ..
                    }),
                    Var::Last,
                ) => Got::Made(Json::Bool(*last)),
                _ => Got::Missing,
            },
        }
    }

    fn value(&self, e: &Expr, scope: &[Frame<'a>], what: &str) -> Result<Got<'a>, Error> {
        match self.lookup(e, scope) {
            Got::Missing => Err(self.fail(e, format!("{what}`{}` is not in the data", e.text))),
            got => Ok(got),
        }
    }

    fn nodes(&self, nodes: &'a [Node], scope: &mut Vec<Frame<'a>>, out: &mut String) -> Result<(), Error> {
        for node in nodes {
            match node {
                Node::Text(t) => out.push_str(t),
                Node::Value(e) => {
                    let got = self.value(e, scope, "")?;
                    let text = match got.get() {
                        Some(Json::String(s)) => (self.escape)(s),
                        Some(Json::Number(n)) => (self.escape)(&n.to_string()),
                        Some(Json::Bool(b)) => (self.escape)(if *b { "true" } else { "false" }),
                        Some(Json::Null) => (self.escape)(""),
                        _ => return Err(self.fail(e, format!("`{}` is a list or an object, not a value", e.text))),
                    };
                    out.push_str(&text);
                }
                Node::Num(e) => match self.value(e, scope, "num: ")?.get() {
                    Some(Json::Number(n)) if n.is_i64() || n.is_u64() => out.push_str(&n.to_string()),
                    other => {
                        let shown = other.map(Json::to_string).unwrap_or_default();
                        return Err(self.fail(e, format!("num: `{}` is {shown}, not an integer", e.text)));
                    }
                },
                Node::Bool(e) => match self.value(e, scope, "bool: ")?.get() {
                    Some(Json::Bool(b)) => out.push_str(if *b { "true" } else { "false" }),
                    other => {
                        let shown = other.map(Json::to_string).unwrap_or_default();
                        return Err(self.fail(e, format!("bool: `{}` is {shown}, not a boolean", e.text)));
                    }
                },
                Node::If {
                    cond,
                    some,
                    then,
                    otherwise,
                } => {
                    let yes = if *some {
                        !matches!(self.value(cond, scope, "some: ")?.get(), Some(Json::Null))
                    } else {
                        self.lookup(cond, scope).get().is_some_and(truthy)
                    };
                    self.nodes(if yes { then } else { otherwise }, scope, out)?;
                }
                Node::Each { list, body } => {
                    let got = self.value(list, scope, "each: ")?;
                    let Got::Data(value) = got else {
                        return Err(self.fail(list, format!("each: `{}` is not a list or an object", list.text)));
                    };
                    match value {
                        Json::Array(items) => {
                            for (i, item) in items.iter().enumerate() {
                                scope.push(Frame {
                                    value: item,
                                    index: Some(i),
                                    key: None,
                                    last: i + 1 == items.len(),
                                });
                                let r = self.nodes(body, scope, out);
                                scope.pop();
                                r?;
                            }
                        }
                        Json::Object(map) => {
                            for (i, (k, item)) in map.iter().enumerate() {
                                scope.push(Frame {
                                    value: item,
                                    index: Some(i),
                                    key: Some(k),
                                    last: i + 1 == map.len(),
                                });
                                let r = self.nodes(body, scope, out);
                                scope.pop();
                                r?;
                            }
                        }
                        _ => {
                            return Err(self.fail(list, format!("each: `{}` is not a list or an object", list.text)));
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

/// Handlebars' truth: false, null, 0, "", [] and {} are false.
fn truthy(v: &Json) -> bool {
    match v {
        Json::Bool(b) => *b,
        Json::Number(n) => n.as_f64().is_some_and(f64::is_normal),
        Json::Null => false,
        Json::String(s) => !s.is_empty(),
        Json::Array(a) => !a.is_empty(),
        Json::Object(o) => !o.is_empty(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn quote(s: &str) -> String {
        format!("<{s}>")
    }

    fn render(source: &str, data: Json) -> Result<String, Error> {
        Template::compile("t", source)?.render(&data, quote)
    }

    #[test]
    fn values_are_escaped_and_typed_helpers_are_not() {
        let out = render(
            "a: {{a}} n: {{num n}} b: {{bool b}} x: {{n}} {{t}} {{z}} \\{{ Raw }} {{x.y}}",
            json!({"a": "s", "n": 3, "b": true, "t": false, "z": null, "x": {"y": "deep"}}),
        );
        assert_eq!(
            out.as_deref(),
            Ok("a: <s> n: 3 b: true x: <3> <false> <> {{ Raw }} <deep>")
        );
    }

    #[test]
    fn standalone_block_lines_leave_nothing_and_inline_ones_stay() {
        let source = "{{!--\n  header\n--}}\nk:\n  {{#if a}}\n  - {{a}}\n  {{else}}\n  - none\n  {{/if}}\nx: {{#if a}}y{{/if}}\n\t{{! c }}  \nend";
        assert_eq!(
            render(source, json!({"a": "v"})).as_deref(),
            Ok("k:\n  - <v>\nx: y\nend")
        );
        assert_eq!(
            render(source, json!({"a": ""})).as_deref(),
            Ok("k:\n  - none\nx: \nend")
        );
    }

    #[test]
    fn each_over_lists_and_objects_with_scope() {
        let source = "{{#each xs}}\n{{@index}}{{this}}{{../p}}{{@root.p}}{{#if @last}}L{{/if}};\n{{/each}}{{#each m}}{{@key}}={{this.v}},{{/each}}";
        let out = render(
            source,
            json!({"p": "P", "xs": ["a", "b"], "m": {"k1": {"v": 1}, "k2": {"v": 2}}}),
        );
        assert_eq!(out.as_deref(), Ok("<0><a><P><P>;\n<1><b><P><P>L;\n<k1>=<1>,<k2>=<2>,"));
    }

    #[test]
    fn if_follows_handlebars_truth_and_some_takes_zero() {
        let t = Template::compile("t", "{{#if v}}T{{else}}F{{/if}}{{#if (some v)}}S{{/if}}").expect("compiles");
        for (v, want) in [
            (json!(0), "FS"),
            (json!(0.0), "FS"),
            (json!(2), "TS"),
            (json!(""), "FS"),
            (json!([]), "FS"),
            (json!({}), "FS"),
            (json!({"a": 1}), "TS"),
            (json!(null), "F"),
            (json!(false), "FS"),
        ] {
            assert_eq!(t.render(&json!({"v": v}), quote).as_deref(), Ok(want), "{v}");
        }
        // A missing path is false for #if, an error for everything else.
        assert_eq!(render("{{#if nope}}T{{/if}}", json!({})).as_deref(), Ok(""));
        for source in [
            "{{nope}}",
            "{{#if (some nope)}}{{/if}}",
            "{{#each nope}}{{/each}}",
            "{{num nope}}",
        ] {
            let e = render(source, json!({})).expect_err(source);
            assert!(e.message.contains("`nope` is not in the data"), "{e}");
        }
    }

    #[test]
    fn wrong_types_and_bad_templates_name_their_line() {
        let e = render("a\nb: {{num n}}", json!({"n": "5"})).expect_err("a string is not a num");
        assert_eq!(e.to_string(), "t line 2: num: `n` is \"5\", not an integer");
        let e = render("{{bool b}}", json!({"b": 1})).expect_err("1 is not a bool");
        assert!(e.message.contains("not a boolean"), "{e}");
        let e = render("x: {{l}}", json!({"l": [1]})).expect_err("a list is not a value");
        assert!(e.message.contains("list or an object"), "{e}");
        for (source, line, what) in [
            ("a\n{{#if x}}\nb", 2, "never closed"),
            ("{{#each x}}\n{{/if}}", 2, "closes the #each opened on line 1"),
            ("{{/if}}", 1, "closes nothing"),
            ("\n\n{{> partial}}", 3, "not part of the template language"),
            ("{{{raw}}}", 1, "not part of the template language"),
            ("{{lookup a b}}", 1, "not part of the template language"),
            ("{{a..b}}", 1, "not a path"),
            ("{{!-- open", 1, "never closed"),
            ("{{#if a}}{{else}}{{else}}{{/if}}", 1, "second one"),
        ] {
            let e = Template::compile("t", source).expect_err(source);
            assert_eq!(e.line, line, "{source}: {e}");
            assert!(e.message.contains(what), "{source}: {e}");
        }
    }
}
