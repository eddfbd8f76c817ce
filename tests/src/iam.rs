//! The permission proofs' IAM evaluator: requests built here are evaluated by the npm package
//! `@cloud-copilot/iam-simulate` through `tests/iam/simulate.mjs` (Node.js), which
//! `tests/scripts/setup-iam-simulate.sh` installs into `.tools/iam-simulate` at the version
//! `tests/iam/package-lock.json` pins. [`template`] picks the policies out of a rendered template
//! and resolves their CloudFormation intrinsics for one account and region.
//!
//! The evaluator is not AWS: it evaluates identity, resource, SCP/RCP and boundary policies with
//! AWS's documented logic (including cross-account requests and trust policies), but it fills in
//! no request context itself. A [`Request`] therefore sets the keys AWS sets for a role session
//! (`aws:PrincipalArn`, `aws:PrincipalAccount`) from its [`Principal`]; every other key
//! (`aws:PrincipalOrgID`, `aws:SecureTransport`, …) is the test's to state.

pub mod template;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde_json::{Value, json};

/// What the evaluator decided for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allowed,
    /// No statement allowed it (or, across accounts, only one side did).
    ImplicitlyDenied,
    /// A `Deny` statement matched.
    ExplicitlyDenied,
}

/// Why a request could not be evaluated.
#[derive(Debug)]
pub enum EvalError {
    /// `node` could not be started.
    Start { script: String, source: std::io::Error },
    /// The script failed (the evaluator is not installed, or its input was not JSON).
    Failed {
        script: String,
        status: std::process::ExitStatus,
        stderr: String,
    },
    /// The script's answer is not what it prints.
    Answer(String),
    /// The evaluator refused the input: an invalid policy, an unknown action, a resource of the
    /// wrong type for the action.
    Refused {
        action: String,
        resource: String,
        message: String,
    },
    /// A context key the test set does not apply to the action, so the evaluator dropped it: the
    /// proof would not test what it says.
    IgnoredContext { action: String, keys: Vec<String> },
}

// By hand: the e2e crate does not depend on thiserror.
impl std::fmt::Display for EvalError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EvalError::Start { script, source } => write!(
                f,
                "cannot run `node {script}`: {source} (install Node.js, or run `cargo xtask setup`)"
            ),
            EvalError::Failed { script, status, stderr } => write!(f, "`node {script}` failed ({status}): {stderr}"),
            EvalError::Answer(what) => write!(
                f,
                "the evaluator's answer is not what `tests/iam/simulate.mjs` prints: {what}"
            ),
            EvalError::Refused {
                action,
                resource,
                message,
            } => {
                write!(f, "the evaluator refused `{action}` on `{resource}`: {message}")
            }
            EvalError::IgnoredContext { action, keys } => {
                write!(f, "the evaluator ignored the context keys {keys:?} for `{action}`")
            }
        }
    }
}

impl std::error::Error for EvalError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            EvalError::Start { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Who makes a request: a role session, as AWS names it, and the role it is a session of.
#[derive(Debug, Clone)]
pub struct Principal {
    /// `arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION`.
    pub arn: String,
    /// `arn:aws:iam::ACCOUNT:role/ROLE`: what `aws:PrincipalArn` holds for the session.
    pub role_arn: String,
    /// The principal's account: `aws:PrincipalAccount`.
    pub account: String,
}

impl Principal {
    /// A session of role `role` (no path) of `account`, in the `aws` partition.
    pub fn role_session(account: &str, role: &str, session: &str) -> Principal {
        Principal {
            arn: format!("arn:aws:sts::{account}:assumed-role/{role}/{session}"),
            role_arn: format!("arn:aws:iam::{account}:role/{role}"),
            account: account.to_owned(),
        }
    }
}

/// One request and every policy that bears on it.
#[derive(Debug, Clone)]
pub struct Request {
    principal: String,
    action: String,
    resource: String,
    resource_account: String,
    identity: Vec<(String, Value)>,
    resource_policy: Option<Value>,
    scps: Vec<(String, Vec<(String, Value)>)>,
    context: BTreeMap<String, Value>,
    aws_owned: bool,
}

impl Request {
    /// `principal` calls `action` on `resource`, which belongs to `resource_account`.
    pub fn new(principal: &Principal, action: &str, resource: &str, resource_account: &str) -> Request {
        let mut context = BTreeMap::new();
        context.insert("aws:PrincipalArn".to_owned(), json!(principal.role_arn));
        context.insert("aws:PrincipalAccount".to_owned(), json!(principal.account));
        Request {
            principal: principal.arn.clone(),
            action: action.to_owned(),
            resource: resource.to_owned(),
            resource_account: resource_account.to_owned(),
            identity: Vec::new(),
            resource_policy: None,
            scps: Vec::new(),
            context,
            aws_owned: false,
        }
    }

    /// An identity policy attached to the principal.
    pub fn identity(mut self, name: &str, policy: &Value) -> Request {
        self.identity.push((name.to_owned(), policy.clone()));
        self
    }

    /// The resource's own policy (bucket policy, trust policy, …).
    pub fn resource_policy(mut self, policy: &Value) -> Request {
        self.resource_policy = Some(policy.clone());
        self
    }

    /// Service control policies of one level of the principal's organization, root first.
    pub fn scp(mut self, org_identifier: &str, policies: &[(&str, &Value)]) -> Request {
        let policies = policies.iter().map(|(n, p)| ((*n).to_owned(), (*p).clone())).collect();
        self.scps.push((org_identifier.to_owned(), policies));
        self
    }

    /// A request context key, replacing any earlier value.
    pub fn context(mut self, key: &str, value: &str) -> Request {
        self.context.insert(key.to_owned(), json!(value));
        self
    }

    /// A multi-valued request context key (`aws:TagKeys`), replacing any earlier value.
    pub fn context_list(mut self, key: &str, values: &[&str]) -> Request {
        self.context.insert(key.to_owned(), json!(values));
        self
    }

    /// The resource is AWS's, shared with every account (an AWS document such as
    /// `arn:aws:ssm:us-east-1::document/AWS-RunPatchBaseline`, whose ARN has no account). The
    /// evaluator's resource types reject such an ARN, so the request skips its input validation
    /// (policies, action and context keys are not checked); give the caller's account as the
    /// resource's, so no resource policy is required.
    pub fn aws_owned(mut self) -> Request {
        self.aws_owned = true;
        self
    }

    /// Drops a context key (one that AWS leaves absent for this request).
    pub fn without_context(mut self, key: &str) -> Request {
        self.context.remove(key);
        self
    }

    fn to_json(&self) -> Value {
        let named = |(name, policy): &(String, Value)| json!({"name": name, "policy": policy});
        json!({
            "principal": self.principal,
            "action": self.action,
            "resource": self.resource,
            "resourceAccount": self.resource_account,
            "identityPolicies": self.identity.iter().map(named).collect::<Vec<_>>(),
            "resourcePolicy": self.resource_policy,
            "serviceControlPolicies": self.scps.iter().map(|(org, policies)| json!({
                "orgIdentifier": org,
                "policies": policies.iter().map(named).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
            "resourceControlPolicies": [],
            "context": self.context,
            "awsOwned": self.aws_owned,
        })
    }
}

/// The folder the evaluator is installed in (`PATCHPLANE_IAM_SIMULATE` overrides).
pub fn installed() -> PathBuf {
    std::env::var_os("PATCHPLANE_IAM_SIMULATE")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::root().join(".tools/iam-simulate"))
}

/// The evaluator's version, as installed (from its `package.json`).
pub fn version() -> Option<String> {
    let path = installed().join("node_modules/@cloud-copilot/iam-simulate/package.json");
    let text = std::fs::read_to_string(path).ok()?;
    let manifest: Value = serde_json::from_str(&text).ok()?;
    manifest.get("version")?.as_str().map(str::to_owned)
}

/// Evaluates every request in one run of the evaluator; the decisions in the same order.
pub fn evaluate(requests: &[Request]) -> Result<Vec<Decision>, EvalError> {
    let script = crate::root().join("tests/iam/simulate.mjs");
    let shown = script.display().to_string();
    let input = Value::Array(requests.iter().map(Request::to_json).collect());
    let mut child = Command::new("node")
        .arg(&script)
        .env("PATCHPLANE_IAM_SIMULATE", installed())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| EvalError::Start {
            script: shown.clone(),
            source,
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        use std::io::Write;
        // A write error shows as the script's own failure below, with its stderr.
        let _ = stdin.write_all(input.to_string().as_bytes());
    }
    let out = child.wait_with_output().map_err(|source| EvalError::Start {
        script: shown.clone(),
        source,
    })?;
    if !out.status.success() {
        return Err(EvalError::Failed {
            script: shown,
            status: out.status,
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        });
    }
    let answers: Vec<Value> = serde_json::from_slice(&out.stdout).map_err(|e| EvalError::Answer(e.to_string()))?;
    if answers.len() != requests.len() {
        return Err(EvalError::Answer(format!(
            "{} decisions for {} requests",
            answers.len(),
            requests.len()
        )));
    }
    requests.iter().zip(&answers).map(|(r, a)| decision(r, a)).collect()
}

/// Evaluates one request.
pub fn evaluate_one(request: &Request) -> Result<Decision, EvalError> {
    let mut decisions = evaluate(std::slice::from_ref(request))?;
    decisions
        .pop()
        .ok_or_else(|| EvalError::Answer("no decision".to_owned()))
}

fn decision(request: &Request, answer: &Value) -> Result<Decision, EvalError> {
    if let Some(message) = answer.get("error") {
        return Err(EvalError::Refused {
            action: request.action.clone(),
            resource: request.resource.clone(),
            message: format!("{message} {}", answer.get("details").unwrap_or(&Value::Null)),
        });
    }
    let ignored: Vec<String> = answer
        .get("ignoredContextKeys")
        .and_then(Value::as_array)
        .map(|keys| keys.iter().filter_map(|k| k.as_str().map(str::to_owned)).collect())
        .unwrap_or_default();
    if !ignored.is_empty() {
        return Err(EvalError::IgnoredContext {
            action: request.action.clone(),
            keys: ignored,
        });
    }
    match answer.get("decision").and_then(Value::as_str) {
        Some("Allowed") => Ok(Decision::Allowed),
        Some("ImplicitlyDenied") => Ok(Decision::ImplicitlyDenied),
        Some("ExplicitlyDenied") => Ok(Decision::ExplicitlyDenied),
        other => Err(EvalError::Answer(format!("decision {other:?}"))),
    }
}
