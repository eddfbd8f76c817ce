//! Policies out of a rendered CloudFormation template, resolved for one account and region: the
//! permission proofs evaluate what the generator wrote, never a copy typed into a test.
//!
//! The resolver knows the few intrinsics the templates' policies use (`Ref`, `Fn::Sub`,
//! `Fn::GetAtt … Arn`, and `Fn::Equals`/`Fn::Not`/`Fn::And`/`Fn::Or` in a resource's
//! `Condition`) and the physical names of the resource types they name. Anything else is an
//! error, never a guess: a new intrinsic in a policy must be taught here before a proof can pass.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

/// Why a template or a value in it cannot be resolved.
#[derive(Debug)]
pub enum TemplateError {
    /// The file could not be read or is not YAML.
    Read { path: PathBuf, message: String },
    /// A resource, property or condition the caller asked for is not there.
    Missing { what: String },
    /// The resource exists in the template but its `Condition` is false for this account and
    /// region, so CloudFormation does not create it there.
    NotCreated { resource: String, condition: String },
    /// An intrinsic function, pseudo parameter or attribute this resolver does not know.
    Unsupported { what: String, at: String },
    /// CloudFormation generates this resource's name: give it one with [`Stack::named`].
    NoName { resource: String },
    /// A value that must be a string is not.
    NotAString { at: String },
}

impl std::fmt::Display for TemplateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TemplateError::Read { path, message } => write!(f, "{}: {message}", path.display()),
            TemplateError::Missing { what } => write!(f, "the template has no {what}"),
            TemplateError::NotCreated { resource, condition } => write!(
                f,
                "`{resource}` is not created in this account and region (its condition `{condition}` is false)"
            ),
            TemplateError::Unsupported { what, at } => {
                write!(
                    f,
                    "{what} at `{at}` is not known to the test resolver: teach it (tests/src/iam/template.rs)"
                )
            }
            TemplateError::NoName { resource } => write!(
                f,
                "`{resource}` has no name in the template (CloudFormation generates one): name it with `Stack::named`"
            ),
            TemplateError::NotAString { at } => write!(f, "`{at}` does not resolve to a string"),
        }
    }
}

impl std::error::Error for TemplateError {}

type Result<T> = std::result::Result<T, TemplateError>;

/// A template as one stack of it is deployed: in `account` and `region` of the `aws` partition.
#[derive(Debug, Clone)]
pub struct Stack {
    template: Value,
    account: String,
    region: String,
    /// Names CloudFormation generates, as the test chose them (logical id → physical name).
    names: BTreeMap<String, String>,
}

impl Stack {
    /// `path` (YAML) deployed in `account` and `region`.
    pub fn load(path: &Path, account: &str, region: &str) -> Result<Stack> {
        let read = |message: String| TemplateError::Read {
            path: path.to_path_buf(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| read(e.to_string()))?;
        let template: Value = serde_yaml::from_str(&text).map_err(|e| read(e.to_string()))?;
        Ok(Stack::new(template, account, region))
    }

    /// A template already parsed.
    pub fn new(template: Value, account: &str, region: &str) -> Stack {
        Stack {
            template,
            account: account.to_owned(),
            region: region.to_owned(),
            names: BTreeMap::new(),
        }
    }

    /// The name CloudFormation would generate for `logical` (a resource with no name property).
    pub fn named(mut self, logical: &str, physical: &str) -> Stack {
        self.names.insert(logical.to_owned(), physical.to_owned());
        self
    }

    /// The account the stack is deployed in.
    pub fn account(&self) -> &str {
        &self.account
    }

    /// Resource `logical`, provided CloudFormation creates it in this account and region.
    pub fn resource(&self, logical: &str) -> Result<&Value> {
        let resource = self
            .template
            .get("Resources")
            .and_then(|r| r.get(logical))
            .ok_or_else(|| TemplateError::Missing {
                what: format!("resource `{logical}`"),
            })?;
        if let Some(condition) = resource.get("Condition") {
            let name = condition.as_str().ok_or_else(|| TemplateError::NotAString {
                at: format!("{logical}.Condition"),
            })?;
            if !self.condition(name)? {
                return Err(TemplateError::NotCreated {
                    resource: logical.to_owned(),
                    condition: name.to_owned(),
                });
            }
        }
        Ok(resource)
    }

    /// `Properties.<path>` of resource `logical`, resolved.
    pub fn property(&self, logical: &str, path: &[&str]) -> Result<Value> {
        let mut value = self.resource(logical)?.get("Properties");
        for key in path {
            value = value.and_then(|v| v.get(*key));
        }
        let value = value.ok_or_else(|| TemplateError::Missing {
            what: format!("`{logical}.Properties.{}`", path.join(".")),
        })?;
        self.resolve(value, &format!("{logical}.Properties.{}", path.join(".")))
    }

    /// The policy document of the inline policy `policy_name` of role `role` (its `Policies`).
    pub fn inline_policy(&self, role: &str, policy_name: &str) -> Result<Value> {
        let policies = self
            .resource(role)?
            .pointer("/Properties/Policies")
            .and_then(Value::as_array)
            .ok_or_else(|| TemplateError::Missing {
                what: format!("`{role}.Properties.Policies`"),
            })?;
        let policy = policies
            .iter()
            .find(|p| p.get("PolicyName").and_then(Value::as_str) == Some(policy_name))
            .and_then(|p| p.get("PolicyDocument"))
            .ok_or_else(|| TemplateError::Missing {
                what: format!("inline policy `{policy_name}` in `{role}`"),
            })?;
        self.resolve(policy, &format!("{role}.Policies.{policy_name}"))
    }

    /// `Fn::GetAtt [logical, Arn]`.
    pub fn arn(&self, logical: &str) -> Result<String> {
        self.get_att(logical, "Arn", logical)
    }

    /// `value` with every intrinsic replaced by what CloudFormation would put there; `at` names
    /// the value in errors.
    pub fn resolve(&self, value: &Value, at: &str) -> Result<Value> {
        match value {
            Value::Array(items) => items
                .iter()
                .enumerate()
                .map(|(i, v)| self.resolve(v, &format!("{at}[{i}]")))
                .collect::<Result<Vec<_>>>()
                .map(Value::Array),
            Value::Object(map) => {
                if let Some((key, arg)) = single_intrinsic(map) {
                    let at = format!("{at}.{key}");
                    return match key {
                        "Ref" => self.reference(string(arg, &at)?, &at).map(Value::String),
                        "Fn::Sub" => self.sub(arg, &at).map(Value::String),
                        "Fn::GetAtt" => self.get_att_arg(arg, &at).map(Value::String),
                        other => Err(TemplateError::Unsupported {
                            what: format!("`{other}`"),
                            at,
                        }),
                    };
                }
                if let Some(key) = map.keys().find(|k| k.starts_with("Fn::")) {
                    return Err(TemplateError::Unsupported {
                        what: format!("`{key}` beside other keys"),
                        at: at.to_owned(),
                    });
                }
                map.iter()
                    .map(|(k, v)| Ok((k.clone(), self.resolve(v, &format!("{at}.{k}"))?)))
                    .collect::<Result<Map<_, _>>>()
                    .map(Value::Object)
            }
            other => Ok(other.clone()),
        }
    }

    /// `Ref name`: a pseudo parameter or a resource.
    fn reference(&self, name: &str, at: &str) -> Result<String> {
        match name {
            "AWS::AccountId" => return Ok(self.account.clone()),
            "AWS::Region" => return Ok(self.region.clone()),
            "AWS::Partition" => return Ok("aws".to_owned()),
            "AWS::URLSuffix" => return Ok("amazonaws.com".to_owned()),
            _ if name.starts_with("AWS::") => {
                return Err(TemplateError::Unsupported {
                    what: format!("pseudo parameter `{name}`"),
                    at: at.to_owned(),
                });
            }
            _ => {}
        }
        let kind = self.kind(name, at)?;
        let physical = self.physical_name(name, &kind)?;
        match kind.as_str() {
            "AWS::S3::Bucket" | "AWS::IAM::Role" | "AWS::SSM::Document" => Ok(physical),
            "AWS::IAM::ManagedPolicy" => Ok(format!("arn:aws:iam::{}:policy/{physical}", self.account)),
            "AWS::SNS::Topic" => Ok(format!("arn:aws:sns:{}:{}:{physical}", self.region, self.account)),
            "AWS::SQS::Queue" => Ok(format!(
                "https://sqs.{}.amazonaws.com/{}/{physical}",
                self.region, self.account
            )),
            other => Err(TemplateError::Unsupported {
                what: format!("`Ref` of a `{other}`"),
                at: at.to_owned(),
            }),
        }
    }

    fn get_att_arg(&self, arg: &Value, at: &str) -> Result<String> {
        let (logical, attribute) = match arg {
            Value::Array(parts) if parts.len() == 2 => (string(&parts[0], at)?, string(&parts[1], at)?),
            Value::String(dotted) => dotted.split_once('.').ok_or_else(|| TemplateError::Unsupported {
                what: format!("`Fn::GetAtt {dotted}`"),
                at: at.to_owned(),
            })?,
            _ => {
                return Err(TemplateError::Unsupported {
                    what: "this form of `Fn::GetAtt`".to_owned(),
                    at: at.to_owned(),
                });
            }
        };
        self.get_att(logical, attribute, at)
    }

    fn get_att(&self, logical: &str, attribute: &str, at: &str) -> Result<String> {
        let kind = self.kind(logical, at)?;
        let unsupported = || TemplateError::Unsupported {
            what: format!("`Fn::GetAtt {logical}.{attribute}` of a `{kind}`"),
            at: at.to_owned(),
        };
        if attribute != "Arn" {
            return Err(unsupported());
        }
        let physical = self.physical_name(logical, &kind)?;
        match kind.as_str() {
            "AWS::S3::Bucket" => Ok(format!("arn:aws:s3:::{physical}")),
            "AWS::IAM::Role" => Ok(format!("arn:aws:iam::{}:role/{physical}", self.account)),
            "AWS::SQS::Queue" => Ok(format!("arn:aws:sqs:{}:{}:{physical}", self.region, self.account)),
            _ => Err(unsupported()),
        }
    }

    /// `Fn::Sub`, in its string form or `[string, {name: value}]`.
    fn sub(&self, arg: &Value, at: &str) -> Result<String> {
        let (text, variables) = match arg {
            Value::String(text) => (text.as_str(), Map::new()),
            Value::Array(parts) if parts.len() == 2 => {
                let variables = match self.resolve(&parts[1], at)? {
                    Value::Object(map) => map,
                    _ => {
                        return Err(TemplateError::Unsupported {
                            what: "`Fn::Sub` variables that are not a map".to_owned(),
                            at: at.to_owned(),
                        });
                    }
                };
                (string(&parts[0], at)?, variables)
            }
            _ => {
                return Err(TemplateError::Unsupported {
                    what: "this form of `Fn::Sub`".to_owned(),
                    at: at.to_owned(),
                });
            }
        };
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let end = after.find('}').ok_or_else(|| TemplateError::Unsupported {
                what: format!("an unclosed `${{` in `{text}`"),
                at: at.to_owned(),
            })?;
            let name = &after[..end];
            if let Some(literal) = name.strip_prefix('!') {
                // `${!x}` is the literal `${x}`: an IAM policy variable, left for AWS to fill.
                out.push_str("${");
                out.push_str(literal);
                out.push('}');
            } else if let Some(value) = variables.get(name) {
                out.push_str(string(value, &format!("{at}.{name}"))?);
            } else if let Some((logical, attribute)) = name.split_once('.').filter(|_| !name.starts_with("AWS::")) {
                out.push_str(&self.get_att(logical, attribute, at)?);
            } else {
                out.push_str(&self.reference(name, at)?);
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }

    /// The `Type` of resource `logical`.
    fn kind(&self, logical: &str, at: &str) -> Result<String> {
        let resource = self.resource(logical).map_err(|e| match e {
            TemplateError::Missing { .. } => TemplateError::Unsupported {
                what: format!("`{logical}`, which is neither a resource nor a pseudo parameter,"),
                at: at.to_owned(),
            },
            other => other,
        })?;
        resource
            .get("Type")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| TemplateError::NotAString {
                at: format!("{logical}.Type"),
            })
    }

    /// The resource's name: its name property (resolved), else the one given to [`Stack::named`].
    fn physical_name(&self, logical: &str, kind: &str) -> Result<String> {
        let property = match kind {
            "AWS::S3::Bucket" => "BucketName",
            "AWS::IAM::Role" => "RoleName",
            "AWS::IAM::ManagedPolicy" => "ManagedPolicyName",
            "AWS::SQS::Queue" => "QueueName",
            "AWS::SNS::Topic" => "TopicName",
            "AWS::SSM::Document" => "Name",
            other => {
                return Err(TemplateError::Unsupported {
                    what: format!("the name of a `{other}`"),
                    at: logical.to_owned(),
                });
            }
        };
        let at = format!("{logical}.Properties.{property}");
        match self.resource(logical)?.pointer(&format!("/Properties/{property}")) {
            Some(value) => match self.resolve(value, &at)? {
                Value::String(name) => Ok(name),
                _ => Err(TemplateError::NotAString { at }),
            },
            None => self.names.get(logical).cloned().ok_or_else(|| TemplateError::NoName {
                resource: logical.to_owned(),
            }),
        }
    }

    /// Condition `name` of the template's `Conditions`, for this account and region.
    fn condition(&self, name: &str) -> Result<bool> {
        let body = self
            .template
            .get("Conditions")
            .and_then(|c| c.get(name))
            .ok_or_else(|| TemplateError::Missing {
                what: format!("condition `{name}`"),
            })?;
        self.truth(body, &format!("Conditions.{name}"))
    }

    fn truth(&self, body: &Value, at: &str) -> Result<bool> {
        let map = body.as_object().ok_or_else(|| TemplateError::Unsupported {
            what: "a condition that is not a function".to_owned(),
            at: at.to_owned(),
        })?;
        let (key, arg) = single_intrinsic(map)
            .or_else(|| map.get("Condition").map(|c| ("Condition", c)))
            .ok_or_else(|| TemplateError::Unsupported {
                what: "this condition".to_owned(),
                at: at.to_owned(),
            })?;
        let at = format!("{at}.{key}");
        let list = || {
            arg.as_array().ok_or_else(|| TemplateError::Unsupported {
                what: format!("`{key}` without a list"),
                at: at.clone(),
            })
        };
        match key {
            "Condition" => self.condition(string(arg, &at)?),
            "Fn::Equals" => match list()?.as_slice() {
                [a, b] => Ok(self.resolve(a, &at)? == self.resolve(b, &at)?),
                _ => Err(TemplateError::Unsupported {
                    what: "`Fn::Equals` of other than two values".to_owned(),
                    at,
                }),
            },
            "Fn::Not" => match list()?.as_slice() {
                [c] => Ok(!self.truth(c, &at)?),
                _ => Err(TemplateError::Unsupported {
                    what: "`Fn::Not` of other than one condition".to_owned(),
                    at,
                }),
            },
            "Fn::And" => list()?.iter().try_fold(true, |all, c| Ok(all & self.truth(c, &at)?)),
            "Fn::Or" => list()?.iter().try_fold(false, |any, c| Ok(any | self.truth(c, &at)?)),
            other => Err(TemplateError::Unsupported {
                what: format!("`{other}` in a condition"),
                at,
            }),
        }
    }
}

/// `{"Ref": …}` or `{"Fn::X": …}`: the function and its argument.
fn single_intrinsic(map: &Map<String, Value>) -> Option<(&str, &Value)> {
    let mut entries = map.iter();
    match (entries.next(), entries.next()) {
        (Some((key, arg)), None) if key == "Ref" || key.starts_with("Fn::") => Some((key.as_str(), arg)),
        _ => None,
    }
}

fn string<'a>(value: &'a Value, at: &str) -> Result<&'a str> {
    value
        .as_str()
        .ok_or_else(|| TemplateError::NotAString { at: at.to_owned() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn stack() -> Stack {
        Stack::new(
            json!({
                "Conditions": {
                    "InUsEast1": {"Fn::Equals": [{"Ref": "AWS::Region"}, "us-east-1"]},
                    "NotInUsEast1": {"Fn::Not": [{"Condition": "InUsEast1"}]}
                },
                "Resources": {
                    "Bucket": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "evidence"}},
                    "Unnamed": {"Type": "AWS::IAM::Role", "Properties": {}},
                    "Elsewhere": {"Type": "AWS::IAM::Role", "Condition": "NotInUsEast1", "Properties": {}}
                }
            }),
            "222222222222",
            "us-east-1",
        )
    }

    #[test]
    fn sub_fills_pseudo_parameters_variables_attributes_and_keeps_policy_variables() {
        let value = json!({"Fn::Sub": [
            "arn:${AWS::Partition}:s3:::${Name}/${Prefix}/${!aws:PrincipalAccount}/${AWS::AccountId}/${AWS::Region}/*",
            {"Name": {"Ref": "Bucket"}, "Prefix": "run-command"}
        ]});
        assert_eq!(
            stack().resolve(&value, "x").expect("resolves"),
            json!("arn:aws:s3:::evidence/run-command/${aws:PrincipalAccount}/222222222222/us-east-1/*")
        );
        let arn = json!({"Fn::Sub": ["${B}/*", {"B": {"Fn::GetAtt": ["Bucket", "Arn"]}}]});
        assert_eq!(
            stack().resolve(&arn, "x").expect("resolves"),
            json!("arn:aws:s3:::evidence/*")
        );
        assert_eq!(
            stack()
                .resolve(&json!({"Fn::Sub": "${Bucket.Arn}"}), "x")
                .expect("resolves"),
            json!("arn:aws:s3:::evidence")
        );
    }

    #[test]
    fn an_unknown_intrinsic_fails_rather_than_guessing() {
        for value in [
            json!({"Fn::Join": ["", ["a", "b"]]}),
            json!({"Fn::If": ["InUsEast1", "a", "b"]}),
            json!({"Ref": "AWS::StackId"}),
            json!({"Ref": "NoSuchThing"}),
            json!({"Fn::GetAtt": ["Bucket", "DomainName"]}),
            json!({"Fn::Sub": "${Unnamed.Arn}"}),
            json!({"Fn::ImportValue": "x", "Other": 1}),
        ] {
            let error = stack().resolve(&json!({"Statement": [value.clone()]}), "doc");
            assert!(error.is_err(), "{value} resolved to {error:?}");
        }
        let named = stack().named("Unnamed", "StackSet-acme-Unnamed-1A2B");
        assert_eq!(
            named.arn("Unnamed").expect("named"),
            "arn:aws:iam::222222222222:role/StackSet-acme-Unnamed-1A2B"
        );
    }

    #[test]
    fn a_resource_whose_condition_is_false_is_not_there() {
        assert!(matches!(
            stack().resource("Elsewhere"),
            Err(TemplateError::NotCreated { .. })
        ));
        let eu = Stack::new(stack().template, "222222222222", "eu-west-1");
        assert!(eu.resource("Elsewhere").is_ok());
    }
}
