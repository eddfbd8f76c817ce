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
//! already injection-free and needs no escaping rule of its own.

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
}
