//! Rendering: the plan through handlebars into CloudFormation YAML, parsed back and emitted
//! canonically, plus the `stackset.json` request of each StackSet.
//!
//! Safety rests on three things. The registry is strict (an undefined variable is an error, not an
//! empty string). The escape function turns every `{{value}}` into a double-quoted YAML scalar
//! ([`yaml_quote`]), so no policy string can add a key, a list item, an anchor or a tag, whatever
//! it contains. And the rendered text is parsed back before it is written, so a template mistake
//! surfaces as an error here rather than as a broken stack at deploy time.
//!
//! `stackset.json` is not a handlebars template: it is JSON serialized from typed values, which is
//! already injection-free and needs no escaping rule of its own.

use std::path::PathBuf;
use std::sync::OnceLock;

use handlebars::{
    Context, Handlebars, Helper, HelperResult, Output, RenderContext, RenderError, RenderErrorReason, handlebars_helper,
};
use serde_json::{Value as Json, json};

use crate::model::Plan;

/// CloudFormation's limit on `TemplateBody` in a CreateStackSet request.
pub const TEMPLATE_BODY_LIMIT: usize = 51_200;

/// Built-in templates: (name, source), embedded at build time.
const TEMPLATES: &[(&str, &str)] = &[
    ("patching", include_str!("../../templates/patching.yaml.hbs")),
    ("central", include_str!("../../templates/central.yaml.hbs")),
    ("ami-pipeline", include_str!("../../templates/ami-pipeline.yaml.hbs")),
];

/// A rendered file, relative to the output directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedFile {
    /// Path below the output directory, e.g. `patching/template.yaml`.
    pub path: PathBuf,
    /// Contents.
    pub contents: String,
}

/// The output of one policy.
#[derive(Debug, Clone, Default)]
pub struct Rendered {
    /// Files to write.
    pub files: Vec<RenderedFile>,
    /// Things the operator must know (a template over the `TemplateBody` limit).
    pub notes: Vec<String>,
}

/// Why rendering failed: always a bug in a template or the model, never the policy's fault, since
/// every policy value is escaped.
#[derive(Debug, thiserror::Error)]
pub enum RenderFailure {
    /// Handlebars refused the template or the data.
    #[error("template `{template}` failed to render: {source}")]
    Template {
        /// Template name.
        template: &'static str,
        /// Cause.
        #[source]
        source: Box<RenderError>,
    },
    /// The rendered text is not valid YAML.
    #[error("template `{template}` rendered invalid YAML: {source}")]
    Yaml {
        /// Template name.
        template: &'static str,
        /// Cause.
        #[source]
        source: serde_yaml::Error,
    },
    /// JSON serialization failed.
    #[error("cannot serialize: {0}")]
    Json(#[from] serde_json::Error),
}

/// Quotes `s` as a YAML double-quoted scalar. Everything outside YAML's printable set, plus `"`
/// and `\`, is escaped, so the result is one line and parses back to exactly `s`.
pub fn yaml_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
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

/// `{{num x}}`: writes a JSON integer unquoted, refuses anything else.
fn num_helper(h: &Helper, _: &Handlebars, _: &Context, _: &mut RenderContext, out: &mut dyn Output) -> HelperResult {
    let v = h
        .param(0)
        .map(|p| p.value())
        .ok_or(RenderErrorReason::ParamNotFoundForIndex("num", 0))?;
    match v {
        Json::Number(n) if n.is_i64() || n.is_u64() => Ok(out.write(&n.to_string())?),
        other => Err(RenderErrorReason::Other(format!("num: {other} is not an integer")).into()),
    }
}

/// `{{bool x}}`: writes a JSON boolean unquoted, refuses anything else.
fn bool_helper(h: &Helper, _: &Handlebars, _: &Context, _: &mut RenderContext, out: &mut dyn Output) -> HelperResult {
    let v = h
        .param(0)
        .map(|p| p.value())
        .ok_or(RenderErrorReason::ParamNotFoundForIndex("bool", 0))?;
    match v {
        Json::Bool(b) => Ok(out.write(if *b { "true" } else { "false" })?),
        other => Err(RenderErrorReason::Other(format!("bool: {other} is not a boolean")).into()),
    }
}

// `{{#if (some x)}}`: true for any non-null value, 0 included (handlebars' own `if` treats 0 as false).
handlebars_helper!(some: |v: Json| !v.is_null());

/// The built-in templates, compiled once at first use, each as pieces ([`pieces`]).
struct Registry {
    hb: Handlebars<'static>,
    /// Template name → the names of its pieces, in order.
    pieces: Vec<(&'static str, Vec<String>)>,
}

/// About how many bytes of template source one piece holds.
const PIECE_BYTES: usize = 1024;

/// Splits a template's source into pieces of about `target` bytes, each cut at a line start
/// outside any `{{!-- … --}}` comment and inside no block but `{{#if}}` blocks without `{{else}}`.
/// A cut inside such blocks closes them at the end of one piece and opens them again, each tag
/// on a line of its own, at the start of the next. Rendering the pieces one after the other with
/// the same data gives exactly the text the whole template gives: an `if` decides the same way
/// twice, no other state crosses a cut, and a tag alone on its line (what the added tags are)
/// leaves no text, as the standalone-line rule says.
///
/// Why: handlebars computes every element's line and column by counting from the start of its
/// template (pest's `Position::line_col`), which made compiling a 33 KB template quadratic and
/// most of `generate`'s time; pieces bound each count to the piece (BENCHMARKS.md).
fn pieces(source: &str, target: usize) -> Vec<(usize, String)> {
    /// Every `{{…}}` tag of a line, with whether it opens (`Some(text)`), closes or neither.
    enum Tag<'a> {
        Open(&'a str),
        Close,
        Else,
        Other,
    }
    fn tags<'a>(line: &'a str, in_comment: &mut bool) -> Vec<Tag<'a>> {
        let mut out = Vec::new();
        let mut rest = line;
        loop {
            if *in_comment {
                match rest.find("--}}") {
                    Some(e) => {
                        *in_comment = false;
                        rest = &rest[e + 4..];
                    }
                    None => return out,
                }
            }
            let Some(o) = rest.find("{{") else { return out };
            let body = rest[o + 2..].trim_start_matches('~');
            let end = rest[o..].find("}}").map(|e| o + e + 2);
            if body.starts_with("!--") {
                *in_comment = true;
                rest = &rest[o + 2..];
                continue;
            }
            out.push(if body.starts_with('#') {
                Tag::Open(end.map(|e| &rest[o..e]).unwrap_or(&rest[o..]))
            } else if body.starts_with('/') {
                Tag::Close
            } else if body.starts_with("else") {
                Tag::Else
            } else {
                Tag::Other
            });
            rest = &rest[o + 2..];
        }
    }
    // First pass: which blocks (numbered in opening order) hold an `{{else}}` of their own.
    let mut has_else = Vec::new();
    let (mut open, mut in_comment) = (Vec::new(), false);
    for line in source.split_inclusive('\n') {
        for t in tags(line, &mut in_comment) {
            match t {
                Tag::Open(_) => {
                    open.push(has_else.len());
                    has_else.push(false);
                }
                Tag::Close => {
                    open.pop();
                }
                Tag::Else => {
                    if let Some(&b) = open.last() {
                        has_else[b] = true;
                    }
                }
                Tag::Other => {}
            }
        }
    }
    // Second pass: cut where every open block is an `if` without `else`.
    let mut out = Vec::new();
    let (mut piece, mut start_line) = (String::new(), 1);
    let mut open: Vec<(&str, bool)> = Vec::new();
    let (mut in_comment, mut count) = (false, 0);
    for (i, line) in source.split_inclusive('\n').enumerate() {
        piece.push_str(line);
        for t in tags(line, &mut in_comment) {
            match t {
                Tag::Open(text) => {
                    let splittable = text.starts_with("{{#if ") && !has_else.get(count).copied().unwrap_or(true);
                    open.push((text, splittable));
                    count += 1;
                }
                Tag::Close => {
                    open.pop();
                }
                Tag::Else | Tag::Other => {}
            }
        }
        let can_cut = !in_comment && line.ends_with('\n') && open.iter().all(|(_, s)| *s);
        if can_cut && piece.len() >= target {
            for _ in &open {
                piece.push_str("{{/if}}\n");
            }
            out.push((start_line, std::mem::take(&mut piece)));
            start_line = i + 2;
            for (text, _) in &open {
                piece.push_str(text);
                piece.push('\n');
            }
        }
    }
    if !piece.is_empty() {
        out.push((start_line, piece));
    }
    out
}

fn registry() -> &'static Registry {
    static REG: OnceLock<Registry> = OnceLock::new();
    REG.get_or_init(|| {
        let mut hb = Handlebars::new();
        hb.set_strict_mode(true);
        hb.register_escape_fn(yaml_quote);
        hb.register_helper("num", Box::new(num_helper));
        hb.register_helper("bool", Box::new(bool_helper));
        hb.register_helper("some", Box::new(some));
        // The templates are part of the binary; a syntax error in one is caught by every test.
        let mut all = Vec::new();
        for (name, source) in TEMPLATES {
            let mut names = Vec::new();
            for (line, piece) in pieces(source, PIECE_BYTES) {
                // Named after the line it starts at, so a render error points into the file.
                let piece_name = format!("{name}.yaml.hbs from line {line}");
                if let Err(e) = hb.register_template_string(&piece_name, &piece) {
                    eprintln!("patchplane: built-in template `{name}` does not compile: {e}");
                }
                names.push(piece_name);
            }
            all.push((*name, names));
        }
        Registry { hb, pieces: all }
    })
}

/// Renders one template with `data`, parses it back and returns canonical YAML.
pub fn render_yaml<T: serde::Serialize>(template: &'static str, data: &T) -> Result<String, RenderFailure> {
    let fail = |e: RenderError| RenderFailure::Template {
        template,
        source: Box::new(e),
    };
    let reg = registry();
    // The data becomes JSON once, for every piece.
    let ctx = Context::wraps(data).map_err(fail)?;
    let names = reg
        .pieces
        .iter()
        .find(|(n, _)| *n == template)
        .map(|(_, p)| p.as_slice());
    let mut text = String::new();
    match names {
        Some(names) => {
            for piece in names {
                text.push_str(&reg.hb.render_with_context(piece, &ctx).map_err(fail)?);
            }
        }
        // Not a built-in template: handlebars says so.
        None => text = reg.hb.render_with_context(template, &ctx).map_err(fail)?,
    }
    canonical_yaml(&text).map_err(|source| RenderFailure::Yaml { template, source })
}

/// Parses YAML and emits it canonically: block style, two-space indent, keys in template order,
/// and a string left plain only when no YAML 1.1 or 1.2 reader could take it for anything else.
///
/// serde_yaml's own emitter follows YAML 1.2, where `2010-09-09` or `1_000` are plain strings;
/// CloudFormation and cfn-lint read YAML 1.1, where they are a timestamp and a number. A policy
/// value must arrive as the string it was, so everything not obviously a word is double-quoted.
pub fn canonical_yaml(text: &str) -> Result<String, serde_yaml::Error> {
    let value: serde_yaml::Value = serde_yaml::from_str(text)?;
    let mut out = String::with_capacity(text.len());
    match &value {
        v if is_block(v) => {
            write_block(&mut out, v, 0, false).map_err(<serde_yaml::Error as serde::de::Error>::custom)?
        }
        v => {
            out.push_str(&scalar(v).map_err(<serde_yaml::Error as serde::de::Error>::custom)?);
            out.push('\n');
        }
    }
    Ok(out)
}

fn is_block(v: &serde_yaml::Value) -> bool {
    match v {
        serde_yaml::Value::Mapping(m) => !m.is_empty(),
        serde_yaml::Value::Sequence(s) => !s.is_empty(),
        _ => false,
    }
}

/// Whether `s` can be written unquoted: starts with a letter, holds only word-ish characters,
/// has no `: ` or trailing `:`, and is not a YAML 1.1 boolean or null.
fn plain_ok(s: &str) -> bool {
    const WORDS: [&str; 10] = ["y", "n", "yes", "no", "on", "off", "true", "false", "null", "~"];
    s.starts_with(|c: char| c.is_ascii_alphabetic())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || " _./-()*+,=@:".contains(c))
        && !s.contains(": ")
        && !s.ends_with([':', ' '])
        && !WORDS.iter().any(|w| w.eq_ignore_ascii_case(s))
}

fn scalar(v: &serde_yaml::Value) -> Result<String, String> {
    use serde_yaml::Value as Y;
    Ok(match v {
        Y::Null => "null".to_owned(),
        Y::Bool(b) => b.to_string(),
        Y::Number(n) => n.to_string(),
        Y::String(s) if plain_ok(s) => s.clone(),
        Y::String(s) => yaml_quote(s),
        Y::Sequence(s) if s.is_empty() => "[]".to_owned(),
        Y::Mapping(m) if m.is_empty() => "{}".to_owned(),
        Y::Tagged(t) => return Err(format!("unexpected YAML tag {} in a rendered template", t.tag)),
        _ => return Err("a collection cannot be written as a scalar".to_owned()),
    })
}

/// Writes a non-empty mapping or sequence at `indent`; `inline_first` when the first line's
/// position is already written (after `- `).
fn write_block(out: &mut String, v: &serde_yaml::Value, indent: usize, inline_first: bool) -> Result<(), String> {
    use serde_yaml::Value as Y;
    let pad = |out: &mut String, i: usize| {
        if i > 0 || !inline_first {
            out.extend(std::iter::repeat_n(' ', indent));
        }
    };
    match v {
        Y::Mapping(m) => {
            for (i, (k, val)) in m.iter().enumerate() {
                pad(out, i);
                if is_block(k) {
                    return Err("complex mapping keys are not supported".to_owned());
                }
                out.push_str(&scalar(k)?);
                out.push(':');
                match val {
                    Y::Mapping(_) if is_block(val) => {
                        out.push('\n');
                        write_block(out, val, indent + 2, false)?;
                    }
                    // Sequences under a key sit at the key's indent, as serde_yaml and cfn-lint's
                    // own examples write them.
                    Y::Sequence(_) if is_block(val) => {
                        out.push('\n');
                        write_block(out, val, indent, false)?;
                    }
                    _ => {
                        out.push(' ');
                        out.push_str(&scalar(val)?);
                        out.push('\n');
                    }
                }
            }
        }
        Y::Sequence(s) => {
            for (i, item) in s.iter().enumerate() {
                pad(out, i);
                out.push_str("- ");
                if is_block(item) {
                    write_block(out, item, indent + 2, true)?;
                } else {
                    out.push_str(&scalar(item)?);
                    out.push('\n');
                }
            }
        }
        _ => return Err("not a collection".to_owned()),
    }
    Ok(())
}

/// The CreateStackSet + CreateStackInstances requests of the member StackSet.
pub fn stackset_request(plan: &Plan, template_body: &str) -> Json {
    let mut req = request_json(
        &plan.stack_set_name,
        &plan.description,
        &plan.policy_name,
        &plan.request,
    );
    set_template(&mut req, &plan.dir, template_body);
    req
}

/// `TemplateBody` when the template fits CreateStackSet's limit, else a `TemplateURL` placeholder
/// (ADR 003): the request stays exact, and rollout knows which file to upload.
fn set_template(req: &mut Json, dir: &str, template_body: &str) {
    let (key, value) = if template_body.len() > TEMPLATE_BODY_LIMIT {
        ("TemplateURL", format!("{UPLOAD_PLACEHOLDER}{dir}/template.yaml"))
    } else {
        ("TemplateBody", template_body.to_owned())
    };
    if let Some(create) = req.get_mut("CreateStackSet").and_then(Json::as_object_mut) {
        // Keep the documented field order: name, description, template, then the rest.
        let rest: Vec<(String, Json)> = std::mem::take(create).into_iter().collect();
        for (i, (k, v)) in rest.into_iter().enumerate() {
            create.insert(k, v);
            if i == 1 {
                create.insert(key.to_owned(), Json::String(value.clone()));
            }
        }
    }
}

/// Placeholder for the S3 URL of a template too large for `TemplateBody`; `rollout` uploads the
/// file named after the prefix and puts its URL here.
pub const UPLOAD_PLACEHOLDER: &str = "patchplane:upload:";

fn request_json(name: &str, description: &str, policy: &str, r: &crate::model::RequestPlan) -> Json {
    let mut targets = json!({
        "OrganizationalUnitIds": r.organizational_units,
        "AccountFilterType": r.account_filter,
    });
    if !r.accounts.is_empty() {
        targets["Accounts"] = json!(r.accounts);
    }
    json!({
        "CreateStackSet": {
            "StackSetName": name,
            "Description": description,
            "Capabilities": ["CAPABILITY_IAM"],
            "PermissionModel": "SERVICE_MANAGED",
            "AutoDeployment": {
                "Enabled": r.auto_deployment,
                "RetainStacksOnAccountRemoval": r.retain_stacks,
            },
            "CallAs": r.call_as,
            // Lets StackSets queue non-conflicting operations instead of refusing them.
            "ManagedExecution": { "Active": true },
            "Tags": [
                { "Key": "patchplane:policy", "Value": policy },
                { "Key": "patchplane:managed-by", "Value": "patchplane" },
            ],
        },
        "CreateStackInstances": {
            "StackSetName": name,
            "DeploymentTargets": targets,
            "Regions": r.regions,
            "OperationPreferences": {
                "RegionConcurrencyType": r.region_concurrency,
                "MaxConcurrentPercentage": r.max_concurrent_percentage,
                "FailureTolerancePercentage": r.failure_tolerance_percentage,
            },
            "CallAs": r.call_as,
        },
    })
}

/// Renders every file of a plan.
pub fn render(plan: &Plan) -> Result<Rendered, RenderFailure> {
    let template = render_yaml("patching", plan)?;
    let mut notes = Vec::new();
    if template.len() > TEMPLATE_BODY_LIMIT {
        notes.push(format!(
            "{}/template.yaml is {} bytes, over the {TEMPLATE_BODY_LIMIT}-byte TemplateBody limit of CreateStackSet: \
             its stackset.json names it as TemplateURL {UPLOAD_PLACEHOLDER}{}/template.yaml, to be uploaded at rollout",
            plan.dir,
            template.len(),
            plan.dir
        ));
    }
    let request = pretty(&stackset_request(plan, &template))?;
    let dir = PathBuf::from(&plan.dir);
    let central = render_yaml("central", &plan.central)?;
    let central_request = pretty(&central_stack_request(&plan.central, &central))?;
    let central_dir = PathBuf::from(&plan.central.dir);
    let file = |path: PathBuf, contents: String| RenderedFile { path, contents };
    let mut files = vec![
        file(dir.join("template.yaml"), template),
        file(dir.join("stackset.json"), request),
        file(central_dir.join("template.yaml"), central),
        file(central_dir.join("stack.json"), central_request),
    ];
    if let Some(ami) = &plan.ami {
        let template = render_yaml("ami-pipeline", ami)?;
        let mut req = request_json(&ami.stack_set_name, &ami.description, &ami.policy_name, &ami.request);
        set_template(&mut req, &ami.dir, &template);
        let request = pretty(&req)?;
        let dir = PathBuf::from(&ami.dir);
        files.push(file(dir.join("template.yaml"), template));
        files.push(file(dir.join("stackset.json"), request));
    }
    Ok(Rendered { files, notes })
}

fn pretty(v: &Json) -> Result<String, serde_json::Error> {
    let mut s = serde_json::to_string_pretty(v)?;
    s.push('\n');
    Ok(s)
}

/// The CreateStack request of the central stack (one account, one region: a plain stack), with
/// the account and region it belongs in.
pub fn central_stack_request(c: &crate::model::CentralPlan, template_body: &str) -> Json {
    json!({
        "CreateStack": {
            "StackName": c.stack_name,
            "TemplateBody": template_body,
            // Named resources (bus, queues, bucket) but no IAM: no capability is needed.
            "Capabilities": [],
            "EnableTerminationProtection": true,
            "Tags": [
                { "Key": "patchplane:managed-by", "Value": "patchplane" },
            ],
        },
        "Account": c.account,
        "Region": c.region,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engine() -> Handlebars<'static> {
        let mut hb = Handlebars::new();
        hb.set_strict_mode(true);
        hb.register_escape_fn(yaml_quote);
        hb.register_helper("num", Box::new(num_helper));
        hb
    }

    /// Rendering the pieces one after the other gives what the whole template gives, at every
    /// piece size: `if` blocks cut inside (nested too), an `if` with `else` and an `each` never
    /// cut inside, standalone lines, multi-line comments, the last line without a newline.
    #[test]
    fn pieces_render_as_the_whole_template() {
        let source = "{{!--\n a comment {{#if}} with tags\n--}}\nA: {{a}}\n{{#each xs}}\n  - {{this}}\n  - again {{this}}\n{{else}}\n  []\n{{/each}}\nB:\n  {{#if flag}}\n  yes: {{num n}}\n    {{#if (eq n 3)}}\n    three: 3\n    more: {{a}}\n    {{/if}}\n  after: {{a}}\n  {{/if}}\n{{#if flag}}\nT: t\n{{else}}\nF: f\n{{/if}}\n{{!-- one line --}}\nC: {{#if flag}}t{{else}}f{{/if}}\nD: end";
        for target in [1, 8, 30, 1000] {
            let ps = pieces(source, target);
            let mut hb = engine();
            hb.register_helper("eq", Box::new(eq));
            hb.register_template_string("whole", source).expect("compiles");
            for (i, (_, p)) in ps.iter().enumerate() {
                hb.register_template_string(&format!("p{i}"), p.as_str())
                    .expect("piece compiles");
            }
            for data in [
                json!({"a": "x: y", "xs": ["1", "b: c"], "flag": true, "n": 3}),
                json!({"a": "", "xs": [], "flag": false, "n": 0}),
                json!({"a": "z", "xs": ["q"], "flag": true, "n": 4}),
            ] {
                let whole = hb.render("whole", &data).expect("renders");
                let joined: String = (0..ps.len())
                    .map(|i| hb.render(&format!("p{i}"), &data).expect("renders"))
                    .collect();
                assert_eq!(joined, whole, "target {target}, {} pieces", ps.len());
            }
            if target == 1 {
                // Cut as often as allowed: never inside the comment, the `each` or the `if` with
                // `else`; inside the two `if`s without one.
                let starts: Vec<usize> = ps.iter().map(|(l, _)| *l).collect();
                assert_eq!(starts, [1, 4, 5, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 25, 26, 27]);
            }
        }
    }

    handlebars_helper!(eq: |a: Json, b: Json| a == b);

    fn template_data(plan: &Plan) -> Vec<(&'static str, Json)> {
        let mut out = vec![
            ("patching", serde_json::to_value(plan).expect("json")),
            ("central", serde_json::to_value(&plan.central).expect("json")),
        ];
        if let Some(ami) = &plan.ami {
            out.push(("ami-pipeline", serde_json::to_value(ami).expect("json")));
        }
        out
    }

    /// Every built-in template rendered in pieces equals the template rendered whole, for the
    /// committed example policies' plans.
    #[test]
    fn built_in_templates_render_the_same_in_pieces() {
        let mut hb = engine();
        hb.register_helper("bool", Box::new(bool_helper));
        hb.register_helper("some", Box::new(some));
        for (name, source) in TEMPLATES {
            hb.register_template_string(name, *source).expect("compiles");
            assert!(
                registry().pieces.iter().any(|(n, p)| n == name && p.len() > 3),
                "{name} is cut"
            );
        }
        for policy in ["org-policy.yaml", "sunday-after-patch-tuesday.yaml"] {
            let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../examples")
                .join(policy);
            let loaded = crate::load::load_file(&file).expect("example loads");
            for (name, data) in template_data(&loaded.plan) {
                let whole = canonical_yaml(&hb.render(name, &data).expect("whole renders")).expect("parses");
                assert_eq!(
                    render_yaml(name, &data).expect("pieces render"),
                    whole,
                    "{policy}: {name}"
                );
            }
        }
    }

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
            let doc = format!("k: {}\n", yaml_quote(s));
            let v: serde_yaml::Value = serde_yaml::from_str(&doc).expect("parses");
            assert_eq!(v["k"].as_str(), Some(s), "{doc}");
        }
    }

    #[test]
    fn canonical_yaml_quotes_what_yaml_1_1_would_retype() {
        let out = canonical_yaml(
            "a: \"2010-09-09\"\nb: \"1_000\"\nc: \"yes\"\nd: plain words\ne: [\"x: y\", 5, true]\nf: {}\n",
        )
        .expect("ok");
        assert_eq!(
            out,
            "a: \"2010-09-09\"\nb: \"1_000\"\nc: \"yes\"\nd: plain words\ne:\n- \"x: y\"\n- 5\n- true\nf: {}\n"
        );
        // And it is a fixed point: canonical output parses back to the same value.
        assert_eq!(canonical_yaml(&out).expect("ok"), out);
        let nested = canonical_yaml("- - a\n  - b\n- k: v\n  l: [1]\n").expect("ok");
        assert_eq!(nested, "- - a\n  - b\n- k: v\n  l:\n  - 1\n");
    }

    #[test]
    fn strict_mode_refuses_undefined_values() {
        let mut hb = Handlebars::new();
        hb.set_strict_mode(true);
        hb.register_escape_fn(yaml_quote);
        assert!(hb.render_template("a: {{missing}}", &json!({})).is_err());
        assert_eq!(
            hb.render_template("a: {{v}}", &json!({"v": "x: y"})).ok().as_deref(),
            Some("a: \"x: y\"")
        );
    }
}
