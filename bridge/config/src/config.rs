//! `bridge.yaml`: the bridge's configuration, strict and validated before anything starts.
//!
//! Unknown keys are errors, every field has a documented default, and every problem is reported
//! as `file:line: error: \`key.path\`: message` (the generator's diagnostics). Secrets are never
//! values in the file: a password or client secret is `{env: NAME}` or `{secret_arn: ARN}`
//! (Secrets Manager, read once at start-up). Settings that differ per deployment (the queue URL,
//! the instance URL) may also be `{env: NAME}`, so one file serves every environment and the ECS
//! task definition fills them in. See `examples/bridge.yaml` for every field.
//!
//! This is the root of the file: [`BridgeConfig`], its loading, and the one validation pass that
//! runs every section's checks (each section's types and checks live in a module of their own:
//! see the crate's Layout) and the rules that span sections (drain against visibility, each
//! routed action against the section it needs). `patchplane-bridge check` and `patchplane
//! validate` (for the policy's `central.bridge.config`) both run [`BridgeConfig::validate`].

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::diag::{Diagnostic, Finding, LineIndex};
pub use crate::enrich::{CommandOutputConfig, EnrichConfig};
pub use crate::operations::{AwsConfig, LogFormat, LogLevel, Operations};
pub use crate::queue::QueueConfig;
pub use crate::servicenow::{AuthConfig, ServiceNowConfig};
use crate::settings::error;
pub use crate::settings::{Ref, References, SecretRef, Setting, SettingError, hide_secret, resolve_setting};

pub use crate::last_patched::LastPatchedConfig;
pub use crate::owners::{
    CLAIMS_BUCKET_ENV, EVIDENCE_BUCKET_ENV, HttpCmdbConfig, NOTIFY_TOPIC_ENV, NotifyConfig, OwnerStep, OwnersConfig,
    SnsConfig, WebhookConfig, WindowNoticesConfig,
};
pub use crate::rules::{Action, Match, Rule, Section, default_rules, last_patched_rule};
pub use crate::schedule::{ScheduleConfig, WindowSpec};
pub use crate::tickets::{FindingSeverity, SlaDays, TicketsConfig};

/// The whole file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BridgeConfig {
    /// Format version; `1`.
    pub version: u32,
    /// The central queue and how it is consumed.
    pub queue: QueueConfig,
    /// The ServiceNow instance incidents go to.
    pub servicenow: ServiceNowConfig,
    /// Tags of the nodes events are about.
    #[serde(default)]
    pub enrich: EnrichConfig,
    /// Routing rules; without them, the defaults (failed or timed-out patch runs and
    /// non-compliant patch state → incident; active critical/high findings → Inspector ticket).
    #[serde(default)]
    pub routes: Option<Vec<Rule>>,
    /// Shutdown, health, metrics and logs.
    #[serde(default)]
    pub operations: Operations,
    /// AWS client settings.
    #[serde(default)]
    pub aws: AwsConfig,
    /// Vulnerability tickets and the closed loop: what opens, resolves, reopens and escalates.
    #[serde(default)]
    pub tickets: TicketsConfig,
    /// The install windows, so a ticket names its node's next one. In ECS the generator fills it
    /// from the policy (the same schedule model the templates come from).
    #[serde(default)]
    pub schedule: ScheduleConfig,
    /// Approved exceptions: while one holds, its nodes get no incident, ticket or owner notice.
    /// In ECS the generator fills it from the policy's `exceptions:`.
    #[serde(default)]
    pub exceptions: Vec<crate::exception::Exception>,
    /// Who owns a node: tags, CMDBs, a static map, the default group.
    #[serde(default)]
    pub owners: OwnersConfig,
    /// Where owners hear about their nodes; required by a `notify-owner` rule.
    #[serde(default)]
    pub notify: Option<NotifyConfig>,
    /// Tag each node with the day of its last successful install; required by a
    /// `tag-last-patched` rule.
    #[serde(default)]
    pub last_patched: Option<LastPatchedConfig>,
}

/// Why a configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("{file}: {source}")]
    Io {
        /// The file.
        file: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Every problem found, located.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<Diagnostic>),
}

/// Reads and validates `file`.
pub fn load_file(file: &Path) -> Result<BridgeConfig, ConfigError> {
    let text = std::fs::read_to_string(file).map_err(|source| ConfigError::Io {
        file: file.to_path_buf(),
        source,
    })?;
    load_str(&text, file)
}

/// Parses and validates configuration text; `file` names it in errors.
pub fn load_str(text: &str, file: &Path) -> Result<BridgeConfig, ConfigError> {
    let cfg: BridgeConfig = crate::diag::parse_yaml(text, file).map_err(|mut d| {
        hide_secret(&mut d);
        ConfigError::Invalid(vec![d])
    })?;
    let index = LineIndex::new(text);
    let problems: Vec<Diagnostic> = cfg.validate().into_iter().map(|f| f.locate(file, &index)).collect();
    if problems.is_empty() {
        Ok(cfg)
    } else {
        Err(ConfigError::Invalid(problems))
    }
}

impl BridgeConfig {
    /// Every problem, with its key path.
    pub fn validate(&self) -> Vec<Finding> {
        let mut out = Vec::new();
        if self.version != 1 {
            out.push(error(
                "version",
                format!("unsupported version {}; the bridge reads `version: 1`", self.version),
            ));
        }
        self.queue.check(&mut out);
        self.servicenow.check(&mut out);
        self.enrich.check(&mut out);
        self.operations.check(&mut out);
        // Across sections: a drain longer than the visibility lets messages reappear mid-drain.
        if self.operations.drain_seconds >= self.queue.visibility_seconds.max(0) as u64 {
            out.push(error(
                "operations.drain_seconds",
                "must be shorter than `queue.visibility_seconds`, or messages reappear while they drain",
            ));
        }
        self.aws.check(&mut out);
        self.schedule.check(&mut out);
        self.tickets.check(&mut out);
        self.owners.check(&mut out);
        crate::exception::check_dates(&self.exceptions, &mut out);
        if let Some(n) = &self.notify {
            n.check(&mut out);
        }
        if let Some(l) = &self.last_patched {
            l.check(&mut out);
            if self.enrich.member_role_name.is_none() {
                out.push(error(
                    "last_patched",
                    "needs `enrich.member_role_name`: the member role is what may set the tag in each account",
                ));
            }
        }
        if let Some(rules) = &self.routes
            && self.notify.as_ref().is_some_and(|n| n.windows.is_some())
            && !rules.iter().any(|r| r.actions.contains(&Action::WindowNotices))
        {
            out.push(error(
                "notify.windows",
                "no rule of `routes` calls `window-notices` (add it to the sweep rule's actions)",
            ));
        }
        if let Some(rules) = &self.routes {
            let mut names = std::collections::BTreeSet::new();
            for (i, r) in rules.iter().enumerate() {
                if r.name.is_empty() {
                    out.push(error(&format!("routes[{i}].name"), "must not be empty"));
                } else if !names.insert(r.name.as_str()) {
                    out.push(error(
                        &format!("routes[{i}].name"),
                        format!("`{}` is used twice", r.name),
                    ));
                }
                if r.actions.is_empty() {
                    out.push(error(&format!("routes[{i}].actions"), "name at least one action"));
                }
                for (j, a) in r.actions.iter().enumerate() {
                    if let Some(section) = a.needs()
                        && !self.has_section(section)
                    {
                        out.push(error(
                            &format!("routes[{i}].actions[{j}]"),
                            format!("`{a}` needs a `{}:` section{}", section.key, section.hint),
                        ));
                    }
                }
            }
        }
        out
    }

    /// The routing rules in force: the file's, or [`default_rules`]; with a `notify:` section the
    /// default failure rules also notify the owner and the sweep's tick also sends exception
    /// notices, and with `notify.windows` the sweep's tick also sends window notices; with
    /// `last_patched:` a succeeded patch command tags its nodes ([`last_patched_rule`]).
    pub fn rules(&self) -> Vec<Rule> {
        let windows = self.notify.as_ref().is_some_and(|n| n.windows.is_some());
        if let Some(rules) = &self.routes {
            return rules.clone();
        }
        let mut rules: Vec<Rule> = default_rules()
            .into_iter()
            .map(|mut r| {
                if self.notify.is_some() {
                    if r.actions.contains(&Action::Incident) {
                        r.actions.push(Action::NotifyOwner);
                    }
                    if windows && r.actions.contains(&Action::Escalate) {
                        r.actions.push(Action::WindowNotices);
                    }
                    if r.actions.contains(&Action::Escalate) {
                        r.actions.push(Action::ExceptionNotices);
                    }
                }
                r
            })
            .collect();
        if self.last_patched.is_some() {
            rules.push(last_patched_rule());
        }
        rules
    }

    /// Every setting and secret the running bridge reads, with its key path: those of the sections
    /// present, and of an owner step only when `owners.order` uses it (as the bridge builds it).
    pub fn references(&self) -> References<'_> {
        let mut out: References<'_> = vec![
            ("queue.url", Ref::Setting(&self.queue.url)),
            ("servicenow.instance_url", Ref::Setting(&self.servicenow.instance_url)),
        ];
        out.push(match &self.servicenow.auth {
            AuthConfig::Basic { password, .. } => ("servicenow.auth.basic.password", Ref::Secret(password)),
            AuthConfig::Oauth { client_secret, .. } => {
                ("servicenow.auth.oauth.client_secret", Ref::Secret(client_secret))
            }
        });
        if let Some(b) = &self.servicenow.claims_bucket {
            out.push(("servicenow.claims_bucket", Ref::Setting(b)));
        }
        if let Some(o) = &self.enrich.command_output {
            out.push(("enrich.command_output.bucket", Ref::Setting(&o.bucket)));
        }
        if self.owners.order.contains(&OwnerStep::HttpCmdb)
            && let Some(t) = self.owners.http_cmdb.as_ref().and_then(|h| h.token.as_ref())
        {
            out.push(("owners.http_cmdb.token", Ref::Secret(t)));
        }
        if let Some(n) = &self.notify {
            if let Some(s) = &n.sns {
                out.push(("notify.sns.topic_arn", Ref::Setting(&s.topic_arn)));
            }
            if let Some(w) = &n.slack {
                out.push(("notify.slack.url", Ref::Secret(&w.url)));
            }
            if let Some(w) = &n.teams {
                out.push(("notify.teams.url", Ref::Secret(&w.url)));
            }
            if let Some(w) = &n.windows {
                out.push(("notify.windows.claims_bucket", Ref::Setting(&w.claims_bucket)));
                if let Some(b) = &w.evidence_bucket {
                    out.push(("notify.windows.evidence_bucket", Ref::Setting(b)));
                }
            }
        }
        out
    }

    /// Whether the file has `section` (an action's [`Action::needs`]).
    pub fn has_section(&self, section: Section) -> bool {
        match section.key {
            "notify" => self.notify.is_some(),
            "notify.windows" => self.notify.as_ref().is_some_and(|n| n.windows.is_some()),
            "last_patched" => self.last_patched.is_some(),
            _ => false,
        }
    }

    /// The actions this configuration can deliver: those whose section is present.
    pub fn deliverable(&self) -> Vec<Action> {
        Action::ALL
            .into_iter()
            .filter(|a| a.needs().is_none_or(|s| self.has_section(s)))
            .collect()
    }

    /// Drain budget.
    pub fn drain(&self) -> Duration {
        Duration::from_secs(self.operations.drain_seconds)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::servicenow::acceptable_url;

    const MINIMAL: &str = "version: 1
queue:
  url: {env: PATCHPLANE_QUEUE_URL}
servicenow:
  instance_url: https://acme.service-now.com
  auth:
    basic:
      user: patchplane
      password: {env: SERVICENOW_PASSWORD}
";

    fn errors(text: &str) -> String {
        match load_str(text, Path::new("bridge.yaml")) {
            Ok(_) => panic!("accepted:\n{text}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn minimal_file_gets_documented_defaults() {
        let c = load_str(MINIMAL, Path::new("bridge.yaml")).expect("valid");
        assert_eq!(c.queue.workers, 8);
        assert_eq!(c.queue.wait_seconds, 20);
        assert_eq!(c.queue.batch_window_ms, 100);
        assert_eq!(c.operations.drain_seconds, 25);
        assert_eq!(c.operations.log_format, LogFormat::Json);
        assert_eq!(c.enrich.patch_group_tag, "PatchGroup");
        assert_eq!(c.routes, None);
        assert_eq!(c.rules(), default_rules());
        assert_eq!(
            c.queue.url,
            Setting::Env {
                env: "PATCHPLANE_QUEUE_URL".into()
            }
        );
    }

    #[test]
    fn a_literal_secret_is_refused_with_its_line() {
        let text = MINIMAL.replace("password: {env: SERVICENOW_PASSWORD}", "password: hunter2");
        let e = errors(&text);
        assert!(
            e.starts_with("bridge.yaml:9: error: `servicenow.auth.basic.password`"),
            "{e}"
        );
        assert!(e.contains("a secret must be a reference"), "{e}");
        assert!(!e.contains("hunter2"), "the literal secret is never echoed: {e}");
        let nested = MINIMAL.replace("password: {env: SERVICENOW_PASSWORD}", "password: {value: hunter2}");
        let e = errors(&nested);
        assert!(!e.contains("hunter2") && e.contains("bridge.yaml:9"), "{e}");
    }

    #[test]
    fn unknown_keys_are_errors_naming_the_key() {
        let e = errors(&MINIMAL.replace("  url:", "  wokers: 3\n  url:"));
        assert!(
            e.contains("bridge.yaml:3") && e.contains("unknown field `wokers`"),
            "{e}"
        );
    }

    #[test]
    fn every_semantic_problem_is_reported_with_path_and_line() {
        let text = format!(
            "{MINIMAL}operations:\n  drain_seconds: 200\n  listen: nowhere\nroutes:\n  - name: a\n    actions: [notify-owner]\n  - name: a\n    actions: []\n"
        )
        .replace("https://acme.service-now.com", "http://acme.service-now.com")
        .replace("{env: PATCHPLANE_QUEUE_URL}", "{env: 1BAD}");
        let e = errors(&text);
        for want in [
            "bridge.yaml:3: error: `queue.url.env`",
            "bridge.yaml:5: error: `servicenow.instance_url`: must be an https:// URL",
            "bridge.yaml:11: error: `operations.drain_seconds`: must be 1–110",
            "`operations.drain_seconds`: must be shorter than `queue.visibility_seconds`",
            "bridge.yaml:12: error: `operations.listen`",
            "bridge.yaml:15: error: `routes[0].actions[0]`: `notify-owner` needs a `notify:` section",
            "bridge.yaml:16: error: `routes[1].name`: `a` is used twice",
            "bridge.yaml:17: error: `routes[1].actions`: name at least one action",
        ] {
            assert!(e.contains(want), "missing {want:?} in\n{e}");
        }
    }

    #[test]
    fn a_batch_window_past_a_second_is_refused() {
        let e = errors(&MINIMAL.replace("  url:", "  batch_window_ms: 5000\n  url:"));
        assert!(
            e.contains("bridge.yaml:3: error: `queue.batch_window_ms`: must be 0–1000"),
            "{e}"
        );
    }

    #[test]
    fn secret_arns_must_be_secrets_manager_arns() {
        let text = MINIMAL.replace(
            "password: {env: SERVICENOW_PASSWORD}",
            "password: {secret_arn: arn:aws:ssm:us-east-1:111111111111:parameter/x}",
        );
        assert!(errors(&text).contains("`servicenow.auth.basic.password.secret_arn`: must be a Secrets Manager ARN"));
        let ok = MINIMAL.replace(
            "password: {env: SERVICENOW_PASSWORD}",
            "password: {secret_arn: \"arn:aws:secretsmanager:us-east-1:111111111111:secret:snow-AbCdEf\"}",
        );
        load_str(&ok, Path::new("bridge.yaml")).expect("a Secrets Manager ARN is accepted");
    }

    #[test]
    fn loopback_http_is_allowed_for_the_emulator_only() {
        for (url, ok) in [
            ("http://127.0.0.1:8081", true),
            ("http://localhost", true),
            ("http://127.0.0.1.evil.example", false),
            ("http://localhost.evil.example/x", false),
            ("https://acme.service-now.com", true),
        ] {
            assert_eq!(acceptable_url(url), ok, "{url}");
        }
    }

    #[test]
    fn settings_resolve_from_the_environment_or_say_which_is_missing() {
        let s = Setting::Env { env: "Q".into() };
        assert_eq!(
            resolve_setting("queue.url", &s, &|n| (n == "Q").then(|| "u".to_owned())),
            Ok("u".to_owned())
        );
        assert_eq!(
            resolve_setting("queue.url", &s, &|_| None).map_err(|e| e.to_string()),
            Err("`queue.url`: environment variable Q is not set".to_owned())
        );
    }

    #[test]
    fn what_the_generator_writes_the_bridge_reads_back_unchanged() {
        // The central template carries the typed configuration as JSON (`model::bridge_config`).
        let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/bridge.yaml");
        let c = load_file(&file).unwrap_or_else(|e| panic!("{e}"));
        let json = serde_json::to_string(&c).expect("serializes");
        assert!(json.contains(r#""password":{"env":"SERVICENOW_PASSWORD"}"#), "{json}");
        let back = load_str(&json, Path::new("$PATCHPLANE_BRIDGE_CONFIG")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, c);
    }

    #[test]
    fn a_literal_webhook_url_is_refused_and_never_echoed() {
        let text =
            format!("{MINIMAL}notify:\n  slack:\n    url: https://hooks.slack.com/services/T000/B000/XXXXsecretXXXX\n");
        let e = errors(&text);
        assert!(
            e.contains("`notify.slack.url`") && e.contains("a secret must be a reference"),
            "{e}"
        );
        assert!(
            !e.contains("XXXXsecretXXXX") && !e.contains("hooks.slack.com"),
            "never echoed: {e}"
        );
        let ok = format!("{MINIMAL}notify:\n  slack:\n    url: {{env: SLACK_WEBHOOK_URL}}\n");
        load_str(&ok, Path::new("bridge.yaml")).expect("a reference is accepted");
        let bad = format!(
            "{MINIMAL}owners:\n  order: [tags, http_cmdb]\n  servicenow_cmdb: {{fields: [assignment_group]}}\nnotify: {{digest_minutes: 0}}\n"
        );
        let e = errors(&bad);
        for want in [
            "`owners.order[1]`: `http_cmdb` needs `owners.http_cmdb`",
            "`owners.servicenow_cmdb.fields[0]`: `assignment_group` on a CI is its change group",
            "`notify.digest_minutes`: must be 1–1440",
            "`notify`: name at least one of `sns`, `slack`, `teams`",
        ] {
            assert!(e.contains(want), "missing {want:?} in\n{e}");
        }
    }

    #[test]
    fn window_notices_are_checked_with_file_line_and_key() {
        let base = format!("{MINIMAL}notify:\n  slack: {{url: {{env: SLACK_WEBHOOK_URL}}}}\n  windows:\n");
        let bad = format!(
            "{base}    lead_hours: 400\n    accounts: ['12345']\n    claims_bucket: {{env: 'no way'}}\n    evidence_prefix: /rds/\n"
        );
        let e = errors(&bad);
        let line = |needle: &str| {
            bad.lines()
                .position(|l| l.contains(needle))
                .map(|i| i + 1)
                .expect(needle)
        };
        for want in [
            format!(
                "bridge.yaml:{}: error: `notify.windows.lead_hours`: must be 0–336",
                line("lead_hours")
            ),
            format!(
                "bridge.yaml:{}: error: `notify.windows.accounts[0]`: `12345` is not a 12-digit account id",
                line("accounts")
            ),
            "`notify.windows.claims_bucket.env`: `no way` is not an environment variable name".to_owned(),
            "`notify.windows.evidence_prefix`: must be a key prefix".to_owned(),
        ] {
            assert!(e.contains(&want), "missing {want:?} in\n{e}");
        }
        let ok =
            format!("{base}    accounts: ['222222222222']\n    claims_bucket: {{env: PATCHPLANE_CLAIMS_BUCKET}}\n");
        let c = load_str(&ok, Path::new("bridge.yaml")).expect("valid");
        let w = c.notify.as_ref().and_then(|n| n.windows.clone()).expect("windows");
        assert_eq!(
            (w.lead_hours, w.summary_after_minutes, w.summary),
            (24, 60, true),
            "defaults"
        );
        assert!(
            c.rules().iter().any(|r| r.actions.contains(&Action::WindowNotices)),
            "the default sweep rule sends the notices"
        );
        let routed = format!("{ok}routes:\n  - name: sweep\n    when: {{kind: [sweep]}}\n    actions: [escalate]\n");
        assert!(
            errors(&routed).contains("no rule of `routes` calls `window-notices`"),
            "notices nobody sends are an error"
        );
    }

    #[test]
    fn command_output_settings_are_checked() {
        let bad = MINIMAL.replace(
            "enrich:\n",
            "enrich:\n  command_output: {bucket: {env: 'no way'}, prefix: /run-command/}\n",
        );
        let bad = if bad.contains("command_output") {
            bad
        } else {
            format!("{MINIMAL}enrich:\n  command_output: {{bucket: {{env: 'no way'}}, prefix: /run-command/}}\n")
        };
        let e = errors(&bad);
        assert!(
            e.contains("`enrich.command_output.bucket.env`: `no way` is not an environment variable name"),
            "{e}"
        );
        assert!(
            e.contains("`enrich.command_output.prefix`: must be a key prefix"),
            "{e}"
        );
    }

    #[test]
    fn the_example_file_is_valid() {
        let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/bridge.yaml");
        let c = load_file(&file).unwrap_or_else(|e| panic!("{e}"));
        assert!(c.routes.is_some(), "the example spells out its rules");
    }

    /// The one rule of which section an action needs, as `validate` and the bridge's registry
    /// (through [`BridgeConfig::deliverable`]) both read it.
    #[test]
    fn an_action_is_deliverable_exactly_when_its_section_is_there() {
        let bare = load_str(MINIMAL, Path::new("bridge.yaml")).expect("valid");
        assert_eq!(
            bare.deliverable(),
            [
                Action::Incident,
                Action::InspectorTicket,
                Action::Resolve,
                Action::Escalate
            ]
        );
        let with_notify = format!("{MINIMAL}notify: {{sns: {{topic_arn: {{env: TOPIC}}}}}}\n");
        let c = load_str(&with_notify, Path::new("bridge.yaml")).expect("valid");
        assert!(c.deliverable().contains(&Action::NotifyOwner));
        assert!(!c.deliverable().contains(&Action::WindowNotices));
        let with_windows = format!(
            "{MINIMAL}notify:\n  sns: {{topic_arn: {{env: TOPIC}}}}\n  windows: {{claims_bucket: {{env: CLAIMS}}, accounts: ['111111111111']}}\n"
        );
        let c = load_str(&with_windows, Path::new("bridge.yaml")).expect("valid");
        assert_eq!(c.deliverable(), &Action::ALL[..7]);
        let c = load_str(
            &format!("{with_windows}last_patched: {{}}\nenrich: {{member_role_name: patchplane-bridge-tags}}\n"),
            Path::new("bridge.yaml"),
        )
        .expect("valid");
        assert_eq!(c.deliverable(), Action::ALL);
        // And validation says which section is missing, in the action's own name.
        let text = errors(&format!(
            "{MINIMAL}routes:\n  - {{name: w, actions: [window-notices]}}\n"
        ));
        assert!(
            text.contains("`routes[0].actions[0]`: `window-notices` needs a `notify.windows:` section"),
            "{text}"
        );
    }

    /// `last_patched:` adds the rule that tags a node after its install, and needs the member
    /// role (the only principal allowed to set that tag in each account).
    #[test]
    fn last_patched_tags_after_a_succeeded_patch_command_through_the_member_role() {
        let bare = load_str(MINIMAL, Path::new("bridge.yaml")).expect("valid");
        assert!(!bare.rules().iter().any(|r| r.actions.contains(&Action::TagLastPatched)));
        let with = format!("{MINIMAL}last_patched: {{}}\nenrich: {{member_role_name: patchplane-bridge-tags}}\n");
        let c = load_str(&with, Path::new("bridge.yaml")).expect("valid");
        assert_eq!(
            c.last_patched.as_ref().map(|l| l.tag.as_str()),
            Some("patchplane:last-patched")
        );
        let rule = c
            .rules()
            .into_iter()
            .find(|r| r.actions == [Action::TagLastPatched])
            .expect("the rule");
        assert_eq!(rule.when.kind, ["command"]);
        assert_eq!(rule.when.status, ["Success"]);
        let text = errors(&format!("{MINIMAL}last_patched: {{tag: 'aws:patched'}}\n"));
        assert!(
            text.contains("`last_patched.tag`: keys starting with `aws:` are reserved"),
            "{text}"
        );
        assert!(
            text.contains("`last_patched`: needs `enrich.member_role_name`"),
            "{text}"
        );
        let text = errors(&format!(
            "{MINIMAL}routes:\n  - {{name: t, actions: [tag-last-patched]}}\n"
        ));
        assert!(
            text.contains("`routes[0].actions[0]`: `tag-last-patched` needs a `last_patched:` section"),
            "{text}"
        );
    }

    #[test]
    fn with_notify_the_sweep_sends_exception_notices_and_their_dates_are_checked() {
        let bare = load_str(MINIMAL, Path::new("bridge.yaml")).expect("valid");
        assert!(
            !bare
                .rules()
                .iter()
                .any(|r| r.actions.contains(&Action::ExceptionNotices))
        );
        let text = format!(
            "{MINIMAL}notify: {{sns: {{topic_arn: {{env: TOPIC}}}}}}\nexceptions:\n  - {{id: EXC-1, nodes: [i-0123456789abcdef0], reason: r, approver: ciso, ticket: CHG1, starts: '2026-12-01', expires: '2026-12-21'}}\n"
        );
        let c = load_str(&text, Path::new("bridge.yaml")).expect("valid");
        let rules = c.rules();
        let sweep: Vec<&str> = rules
            .iter()
            .filter(|r| r.actions.contains(&Action::ExceptionNotices))
            .map(|r| r.name.as_str())
            .collect();
        assert_eq!(sweep, ["escalation-sweep"]);
        assert!(c.deliverable().contains(&Action::ExceptionNotices));
        let e = errors(
            &text
                .replace("'2026-12-01'", "'2026-12-22'")
                .replace("'2026-12-21'", "'21 Dec'"),
        );
        assert!(
            e.contains("`exceptions[0].expires`: `21 Dec` is not a date YYYY-MM-DD"),
            "{e}"
        );
        let e = errors(&text.replace("'2026-12-01'", "'2026-12-22'"));
        assert!(
            e.contains("`exceptions[0].starts`: EXC-1 starts on 2026-12-22, after it expires on 2026-12-21"),
            "{e}"
        );
    }

    #[test]
    fn references_list_every_setting_the_bridge_resolves_with_its_key_path() {
        let text = format!(
            "{MINIMAL}enrich:\n  command_output: {{bucket: {{env: EVIDENCE}}}}\nowners:\n  order: [tags, http_cmdb]\n  http_cmdb: {{url: 'https://cmdb.example/{{node}}', token: {{secret_arn: 'arn:aws:secretsmanager:us-east-1:111111111111:secret:t'}}}}\nnotify:\n  teams: {{url: {{env: TEAMS}}}}\n"
        );
        let c = load_str(&text, Path::new("bridge.yaml")).expect("valid");
        let paths: Vec<&str> = c.references().iter().map(|(p, _)| *p).collect();
        assert_eq!(
            paths,
            [
                "queue.url",
                "servicenow.instance_url",
                "servicenow.auth.basic.password",
                "enrich.command_output.bucket",
                "owners.http_cmdb.token",
                "notify.teams.url"
            ]
        );
        assert!(matches!(c.references()[0].1, Ref::Setting(Setting::Env { env }) if env == "PATCHPLANE_QUEUE_URL"));
    }
}
