//! Rendering: the plan through the templates ([`crate::template`], a handlebars subset) into
//! CloudFormation YAML, parsed back and emitted canonically, plus the `stackset.json` request of
//! each StackSet.
//!
//! Safety rests on three things. The templates are strict (an undefined variable is an error, not
//! an empty string). The escape function turns every `{{value}}` into a double-quoted YAML scalar
//! ([`yaml::quote`]), so no policy string can add a key, a list item, an anchor or a tag, whatever
//! it contains. And the rendered text is parsed back before it is written, so a template mistake
//! surfaces as an error here rather than as a broken stack at deploy time.
//!
//! `stackset.json` is not a handlebars template: it is JSON serialized from typed values, which is
//! already injection-free and needs no escaping rule of its own. It names its template file and
//! pins the file's SHA-256 instead of embedding the text (ADR 023), so a template change is
//! reviewed once, in `template.yaml`.

use std::path::PathBuf;
use std::sync::OnceLock;

use serde_json::{Value as Json, json};

use crate::template::{self, Template};
use crate::yaml;

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
    /// The template does not compile or does not fit the data.
    #[error("template `{template}` failed to render: {source}")]
    Template {
        /// Template name.
        template: &'static str,
        /// Cause, with the template's line.
        #[source]
        source: template::Error,
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

/// The built-in templates, each compiled at its first use (a compile error is a bug every test
/// catches, and is reported, not panicked on).
fn compiled(name: &'static str) -> Option<&'static Result<Template, template::Error>> {
    static COMPILED: [OnceLock<Result<Template, template::Error>>; TEMPLATES.len()] =
        [const { OnceLock::new() }; TEMPLATES.len()];
    let i = TEMPLATES.iter().position(|(n, _)| *n == name)?;
    Some(COMPILED[i].get_or_init(|| Template::compile(&format!("templates/{name}.yaml.hbs"), TEMPLATES[i].1)))
}

/// Renders one template with `data`, parses it back and returns canonical YAML.
pub fn render_yaml<T: serde::Serialize>(template: &'static str, data: &T) -> Result<String, RenderFailure> {
    let fail = |source: template::Error| RenderFailure::Template { template, source };
    let compiled = compiled(template).ok_or_else(|| {
        fail(template::Error {
            template: template.to_owned(),
            line: 0,
            message: "no built-in template has this name".to_owned(),
        })
    })?;
    let data = serde_json::to_value(data)?;
    let text = match compiled {
        Ok(t) => t.render(&data, yaml::quote).map_err(fail)?,
        Err(e) => return Err(fail(e.clone())),
    };
    yaml::canonical(&text).map_err(|source| RenderFailure::Yaml { template, source })
}

/// The CreateStackSet + CreateStackInstances requests of the member StackSet.
pub fn stackset_request(plan: &Plan, template_body: &str) -> Json {
    let mut req = request_json(
        &plan.stack_set_name,
        &plan.description,
        &plan.policy_name,
        &plan.request,
    );
    set_template(&mut req, template_body);
    req
}

/// The name of the template file beside each request, which the request's `TemplateFile` names.
pub const TEMPLATE_FILE: &str = "template.yaml";

/// The template by reference (ADR 023): `TemplateFile` names the sibling file and
/// `TemplateSha256` pins its exact bytes. `rollout` and `plan` load the file, refuse it when the
/// hash differs, and send it as `TemplateBody`, or upload it and send `TemplateURL` when it is
/// over [`TEMPLATE_BODY_LIMIT`] (ADR 003).
fn set_template(req: &mut Json, template_body: &str) {
    if let Some(create) = req.get_mut("CreateStackSet").and_then(Json::as_object_mut) {
        // Keep the documented field order: name, description, template, then the rest.
        let rest: Vec<(String, Json)> = std::mem::take(create).into_iter().collect();
        for (i, (k, v)) in rest.into_iter().enumerate() {
            create.insert(k, v);
            if i == 1 {
                create.insert("TemplateFile".to_owned(), Json::from(TEMPLATE_FILE));
                create.insert(
                    "TemplateSha256".to_owned(),
                    Json::from(sha256_hex(template_body.as_bytes())),
                );
            }
        }
    }
}

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
            "{}/{TEMPLATE_FILE} is {} bytes, over the {TEMPLATE_BODY_LIMIT}-byte TemplateBody limit of CreateStackSet: \
             rollout uploads it (--template-bucket) and sends its TemplateURL",
            plan.dir,
            template.len(),
        ));
    }
    let request = pretty(&stackset_request(plan, &template))?;
    let dir = PathBuf::from(&plan.dir);
    let central = render_yaml("central", &plan.central)?;
    let central_request = pretty(&central_stack_request(&plan.central, &central))?;
    let central_dir = PathBuf::from(&plan.central.dir);
    let file = |path: PathBuf, contents: String| RenderedFile { path, contents };
    let mut files = vec![
        file(dir.join(TEMPLATE_FILE), template),
        file(dir.join("stackset.json"), request),
        file(central_dir.join(TEMPLATE_FILE), central),
        file(central_dir.join("stack.json"), central_request),
    ];
    if let Some(ami) = &plan.ami {
        let template = render_yaml("ami-pipeline", ami)?;
        let mut req = request_json(&ami.stack_set_name, &ami.description, &ami.policy_name, &ami.request);
        set_template(&mut req, &template);
        let request = pretty(&req)?;
        let dir = PathBuf::from(&ami.dir);
        files.push(file(dir.join(TEMPLATE_FILE), template));
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
/// the account and region it belongs in. The template is by reference, as in `stackset.json`.
pub fn central_stack_request(c: &crate::model::CentralPlan, template_body: &str) -> Json {
    json!({
        "CreateStack": {
            "StackName": c.stack_name,
            "TemplateFile": TEMPLATE_FILE,
            "TemplateSha256": sha256_hex(template_body.as_bytes()),
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

/// SHA-256 of `bytes` as 64 lowercase hex digits, what `sha256sum` prints: the hash that pins a
/// request's template. FIPS 180-4, written out here because the workspace has no hashing crate;
/// the tests hold it to the standard's vectors.
pub fn sha256_hex(bytes: &[u8]) -> String {
    const K: [u32; 64] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98,
        0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
        0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8,
        0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
        0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
        0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
        0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2,
    ];
    let mut h: [u32; 8] = [
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
    ];
    // Padding: a 1 bit, zeros to 56 mod 64 bytes, then the length in bits, big-endian.
    let mut data = bytes.to_vec();
    data.push(0x80);
    while data.len() % 64 != 56 {
        data.push(0);
    }
    data.extend_from_slice(&((bytes.len() as u64).wrapping_mul(8)).to_be_bytes());
    for block in data.chunks_exact(64) {
        let mut w = [0u32; 64];
        for (i, word) in block.chunks_exact(4).enumerate() {
            w[i] = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
        }
        for i in 16..64 {
            let s0 = w[i - 15].rotate_right(7) ^ w[i - 15].rotate_right(18) ^ (w[i - 15] >> 3);
            let s1 = w[i - 2].rotate_right(17) ^ w[i - 2].rotate_right(19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16].wrapping_add(s0).wrapping_add(w[i - 7]).wrapping_add(s1);
        }
        let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut hh] = h;
        for (k, wi) in K.iter().zip(w) {
            let s1 = e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25);
            let ch = (e & f) ^ (!e & g);
            let t1 = hh.wrapping_add(s1).wrapping_add(ch).wrapping_add(*k).wrapping_add(wi);
            let s0 = a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22);
            let maj = (a & b) ^ (a & c) ^ (b & c);
            let t2 = s0.wrapping_add(maj);
            hh = g;
            g = f;
            f = e;
            e = d.wrapping_add(t1);
            d = c;
            c = b;
            b = a;
            a = t1.wrapping_add(t2);
        }
        for (x, y) in h.iter_mut().zip([a, b, c, d, e, f, g, hh]) {
            *x = x.wrapping_add(y);
        }
    }
    h.iter().map(|x| format!("{x:08x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use handlebars::{
        Context, Handlebars, Helper, HelperResult, Output, RenderContext, RenderErrorReason, handlebars_helper,
    };

    /// `{{num x}}` in handlebars: a JSON integer unquoted, anything else refused.
    fn num_helper(
        h: &Helper,
        _: &Handlebars,
        _: &Context,
        _: &mut RenderContext,
        out: &mut dyn Output,
    ) -> HelperResult {
        match h.param(0).map(|p| p.value()) {
            Some(Json::Number(n)) if n.is_i64() || n.is_u64() => Ok(out.write(&n.to_string())?),
            other => Err(RenderErrorReason::Other(format!("num: {other:?} is not an integer")).into()),
        }
    }

    /// `{{bool x}}` in handlebars: a JSON boolean unquoted, anything else refused.
    fn bool_helper(
        h: &Helper,
        _: &Handlebars,
        _: &Context,
        _: &mut RenderContext,
        out: &mut dyn Output,
    ) -> HelperResult {
        match h.param(0).map(|p| p.value()) {
            Some(Json::Bool(b)) => Ok(out.write(if *b { "true" } else { "false" })?),
            other => Err(RenderErrorReason::Other(format!("bool: {other:?} is not a boolean")).into()),
        }
    }

    handlebars_helper!(some: |v: Json| !v.is_null());

    /// Handlebars 6 in strict mode with the same escape function and helpers: the reference the
    /// template language is held to.
    fn handlebars() -> Handlebars<'static> {
        let mut hb = Handlebars::new();
        hb.set_strict_mode(true);
        hb.register_escape_fn(yaml::quote);
        hb.register_helper("num", Box::new(num_helper));
        hb.register_helper("bool", Box::new(bool_helper));
        hb.register_helper("some", Box::new(some));
        for (name, source) in TEMPLATES {
            hb.register_template_string(name, *source)
                .expect("handlebars compiles it");
        }
        hb
    }

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

    /// Every built-in template with the plans of the example policies, every-option and the large
    /// fixture (every block taken and skipped, every `each` over one and many): (policy, template,
    /// its data).
    fn every_template_data() -> Vec<(&'static str, &'static str, Json)> {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut out = Vec::new();
        for policy in [
            "examples/org-policy.yaml",
            "examples/sunday-after-patch-tuesday.yaml",
            "tests/fixtures/policies/every-option.yaml",
            "tests/fixtures/policies/large.yaml",
        ] {
            let loaded = crate::load::load_file(&root.join(policy)).expect("policy loads");
            for (name, data) in template_data(&loaded.plan) {
                out.push((policy, name, data));
            }
        }
        let names: std::collections::BTreeSet<_> = out.iter().map(|(_, n, _)| *n).collect();
        assert_eq!(names.len(), TEMPLATES.len(), "every template has data");
        out
    }

    /// Every built-in template renders, byte for byte before the read-back, the text handlebars
    /// renders from it.
    #[test]
    fn renders_as_handlebars_does() {
        let hb = handlebars();
        for (policy, name, data) in every_template_data() {
            let want = hb.render(name, &data).expect("handlebars renders");
            let compiled = compiled(name).expect("built in").as_ref().expect("compiles");
            let got = compiled.render(&data, yaml::quote).expect("renders");
            if got != want {
                let diff = similar::TextDiff::from_lines(&want, &got);
                panic!("{policy}: {name} differs from handlebars:\n{}", diff.unified_diff());
            }
        }
    }

    /// Every rendered built-in template is read back the fast way, to what serde_yaml reads.
    #[test]
    fn templates_take_the_fast_read_back() {
        for (policy, name, data) in every_template_data() {
            let compiled = compiled(name).expect("built in").as_ref().expect("compiles");
            let text = compiled.render(&data, yaml::quote).expect("renders");
            let slow: serde_yaml::Value = serde_yaml::from_str(&text).expect("valid YAML");
            match yaml::parse_or_stop(&text) {
                Ok(fast) => assert!(fast == yaml::Node::from(slow), "{policy}: {name} read differently"),
                Err(stop) => panic!("{policy}: {name}: the fast read-back stopped at {stop}"),
            }
        }
    }

    #[test]
    fn undefined_values_are_errors_naming_the_line() {
        let t = Template::compile("t", "a: {{v}}\nb: {{missing}}").expect("compiles");
        let e = t.render(&json!({"v": "x"}), yaml::quote).expect_err("missing");
        assert_eq!(e.to_string(), "t line 2: `missing` is not in the data");
        let t = Template::compile("t", "a: {{v}}").expect("compiles");
        assert_eq!(
            t.render(&json!({"v": "x: y"}), yaml::quote).as_deref(),
            Ok("a: \"x: y\"")
        );
    }

    /// FIPS 180-4's examples, messages either side of a block, and a long one.
    #[test]
    fn sha256_matches_the_standard_vectors() {
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            sha256_hex(b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        );
        // Lengths either side of the padding boundaries (55/56 bytes fit one block or not).
        for (n, want) in [
            (55, "d5e285683cd4efc02d021a5c62014694958901005d6f71e89e0989fac77e4072"),
            (56, "04c26261370ee7541549d16dee320c723e3fd14671e66a099afe0a377c16888e"),
            (63, "75220b47218278e656f2013bb8f0c455a25eaf01e86c64924e9d48d89776d6f2"),
            (64, "7ce100971f64e7001e8fe5a51973ecdfe1ced42befe7ee8d5fd6219506b5393c"),
            (65, "9537c5fdf120482f7d58d25e9ed583f52c02b4e304ea814db1633ad565aed7e9"),
        ] {
            assert_eq!(sha256_hex(&vec![b'x'; n]), want, "{n} bytes");
        }
        assert_eq!(
            sha256_hex(&[b'a'; 1_000_000]),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"
        );
    }

    /// Every request of the example policies names its template and pins its exact bytes, and no
    /// line of it is long: a template change shows in `template.yaml` alone (ADR 023).
    #[test]
    fn requests_carry_the_template_by_reference_on_short_lines() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        for policy in ["examples/org-policy.yaml", "examples/sunday-after-patch-tuesday.yaml"] {
            let loaded = crate::load::load_file(&root.join(policy)).expect("policy loads");
            let rendered = render(&loaded.plan).expect("renders");
            let requests: Vec<_> = rendered
                .files
                .iter()
                .filter(|f| f.path.extension().is_some_and(|e| e == "json"))
                .collect();
            assert_eq!(requests.len(), 2 + usize::from(loaded.plan.ami.is_some()), "{policy}");
            for r in requests {
                let long: Vec<&str> = r.contents.lines().filter(|l| l.len() > 200).collect();
                assert!(long.is_empty(), "{policy}: {}: {long:?}", r.path.display());
                let v: Json = serde_json::from_str(&r.contents).expect("JSON");
                let create = v
                    .get("CreateStackSet")
                    .or_else(|| v.get("CreateStack"))
                    .expect("create");
                assert!(create.get("TemplateBody").is_none() && create.get("TemplateURL").is_none());
                assert_eq!(create["TemplateFile"], TEMPLATE_FILE);
                let template = r.path.with_file_name(TEMPLATE_FILE);
                let template = rendered.files.iter().find(|f| f.path == template).expect("beside it");
                assert_eq!(
                    create["TemplateSha256"].as_str(),
                    Some(sha256_hex(template.contents.as_bytes()).as_str()),
                    "{policy}: {}",
                    r.path.display()
                );
            }
        }
    }
}
