//! Reading the requests `patchplane generate` wrote: every `*/stackset.json` below a folder, and a
//! template over the `TemplateBody` limit from the file its `TemplateURL` placeholder names.

use std::path::{Path, PathBuf};

use serde_json::Value as Json;

/// A StackSet as `stackset.json` describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct Desired {
    /// Folder of the StackSet below the output directory.
    pub dir: PathBuf,
    /// `StackSetName`.
    pub name: String,
    /// `Description`.
    pub description: String,
    /// The template text (from `TemplateBody`, or the file a `TemplateURL` placeholder names).
    pub template_body: String,
    /// For a template over 51,200 bytes: the file to upload (from the placeholder).
    pub upload: Option<PathBuf>,
    /// The uploaded template's URL, once uploaded; sent as `TemplateURL` instead of the body.
    pub template_url: Option<String>,
    /// `Capabilities`.
    pub capabilities: Vec<String>,
    /// `AutoDeployment.Enabled`, `.RetainStacksOnAccountRemoval`.
    pub auto_deployment: (bool, bool),
    /// `CallAs`.
    pub call_as: String,
    /// `ManagedExecution.Active`.
    pub managed_execution: bool,
    /// `Tags`.
    pub tags: Vec<(String, String)>,
    /// `DeploymentTargets.OrganizationalUnitIds`.
    pub ous: Vec<String>,
    /// `DeploymentTargets.Accounts`.
    pub accounts: Vec<String>,
    /// `DeploymentTargets.AccountFilterType`.
    pub account_filter: String,
    /// `Regions`.
    pub regions: Vec<String>,
    /// `RegionConcurrencyType`, `MaxConcurrentPercentage`, `FailureTolerancePercentage`.
    pub preferences: (String, i32, i32),
}

/// Why a request file could not be used; every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    /// A folder could not be listed, or a file read.
    #[error("{}: cannot read: {source}", path.display())]
    Read {
        /// The folder or file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// No StackSet below the folder.
    #[error("{}: no */stackset.json here: run `patchplane generate` first", dir.display())]
    Empty {
        /// The folder.
        dir: PathBuf,
    },
    /// The file is not JSON.
    #[error("{}: not JSON: {source}", path.display())]
    Json {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
    /// A field is missing or has the wrong type.
    #[error("{}: {problem}", path.display())]
    Field {
        /// The file.
        path: PathBuf,
        /// What is wrong with which field.
        #[source]
        problem: FieldError,
    },
    /// `TemplateURL` is not the placeholder `generate` writes (ADR 003).
    #[error("{}: `TemplateURL` `{url}` is not a patchplane upload placeholder", path.display())]
    Placeholder {
        /// The file.
        path: PathBuf,
        /// The URL found.
        url: String,
    },
    /// The template a placeholder names could not be read.
    #[error("{}: cannot read {} named by `TemplateURL`: {source}", path.display(), template.display())]
    Template {
        /// The request file.
        path: PathBuf,
        /// The template file.
        template: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// A field of `stackset.json` that is missing or has the wrong type (`key` is its dotted path).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FieldError {
    /// Absent.
    #[error("`{key}` is missing")]
    Missing {
        /// Dotted path.
        key: String,
    },
    /// Not a string.
    #[error("`{key}` is not a string")]
    NotString {
        /// Dotted path.
        key: String,
    },
    /// Not a list.
    #[error("`{key}` is not a list")]
    NotList {
        /// Dotted path.
        key: String,
    },
    /// A list with a non-string item.
    #[error("`{key}` holds a non-string")]
    NonString {
        /// Dotted path.
        key: String,
    },
    /// Not a number.
    #[error("`{key}` is not a number")]
    NotNumber {
        /// Dotted path.
        key: String,
    },
}

/// Reads the fields of one request file; every error names the file.
struct Fields<'a> {
    path: &'a Path,
}

impl Fields<'_> {
    fn error(&self, problem: FieldError) -> RequestError {
        RequestError::Field {
            path: self.path.to_path_buf(),
            problem,
        }
    }

    fn field<'v>(&self, v: &'v Json, key: &str) -> Result<&'v Json, RequestError> {
        let mut cur = v;
        for part in key.split('.') {
            cur = cur
                .get(part)
                .ok_or_else(|| self.error(FieldError::Missing { key: key.to_owned() }))?;
        }
        Ok(cur)
    }

    fn string(&self, v: &Json, key: &str) -> Result<String, RequestError> {
        self.field(v, key)?
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| self.error(FieldError::NotString { key: key.to_owned() }))
    }

    /// A list of strings; an absent list is empty.
    fn strings(&self, v: &Json, key: &str) -> Result<Vec<String>, RequestError> {
        match self.field(v, key) {
            Err(_) => Ok(Vec::new()),
            Ok(Json::Array(a)) => a
                .iter()
                .map(|x| {
                    x.as_str()
                        .map(str::to_owned)
                        .ok_or_else(|| self.error(FieldError::NonString { key: key.to_owned() }))
                })
                .collect(),
            Ok(_) => Err(self.error(FieldError::NotList { key: key.to_owned() })),
        }
    }

    fn int(&self, v: &Json, key: &str) -> Result<i32, RequestError> {
        self.field(v, key)?
            .as_i64()
            .map(|n| n as i32)
            .ok_or_else(|| self.error(FieldError::NotNumber { key: key.to_owned() }))
    }
}

impl Desired {
    /// Parses one `stackset.json`.
    pub fn parse(path: &Path, text: &str) -> Result<Desired, RequestError> {
        let v: Json = serde_json::from_str(text).map_err(|source| RequestError::Json {
            path: path.to_path_buf(),
            source,
        })?;
        let f = Fields { path };
        let c = f.field(&v, "CreateStackSet")?;
        let i = f.field(&v, "CreateStackInstances")?;
        // A template over the TemplateBody limit is named by a placeholder (ADR 003): read it
        // from the output directory, to be uploaded by `rollout --template-bucket`.
        let (template_body, upload) = match c.get("TemplateURL").and_then(Json::as_str) {
            Some(url) => {
                let rel =
                    url.strip_prefix(crate::render::UPLOAD_PLACEHOLDER)
                        .ok_or_else(|| RequestError::Placeholder {
                            path: path.to_path_buf(),
                            url: url.to_owned(),
                        })?;
                let out_dir = path.parent().and_then(Path::parent).unwrap_or(Path::new("."));
                let file = out_dir.join(rel);
                let body = std::fs::read_to_string(&file).map_err(|source| RequestError::Template {
                    path: path.to_path_buf(),
                    template: file.clone(),
                    source,
                })?;
                (body, Some(file))
            }
            None => (f.string(c, "TemplateBody")?, None),
        };
        Ok(Desired {
            dir: path.parent().map(Path::to_path_buf).unwrap_or_default(),
            name: f.string(c, "StackSetName")?,
            description: f.string(c, "Description").unwrap_or_default(),
            template_body,
            upload,
            template_url: None,
            capabilities: f.strings(c, "Capabilities")?,
            auto_deployment: (
                f.field(c, "AutoDeployment.Enabled")?.as_bool().unwrap_or(false),
                f.field(c, "AutoDeployment.RetainStacksOnAccountRemoval")?
                    .as_bool()
                    .unwrap_or(false),
            ),
            call_as: f.string(c, "CallAs")?,
            managed_execution: c
                .pointer("/ManagedExecution/Active")
                .and_then(Json::as_bool)
                .unwrap_or(false),
            tags: match c.get("Tags") {
                Some(Json::Array(t)) => t
                    .iter()
                    .map(|t| Ok((f.string(t, "Key")?, f.string(t, "Value")?)))
                    .collect::<Result<_, RequestError>>()?,
                _ => Vec::new(),
            },
            ous: f.strings(i, "DeploymentTargets.OrganizationalUnitIds")?,
            accounts: f.strings(i, "DeploymentTargets.Accounts")?,
            account_filter: f
                .string(i, "DeploymentTargets.AccountFilterType")
                .unwrap_or_else(|_| "NONE".into()),
            regions: f.strings(i, "Regions")?,
            preferences: (
                f.string(i, "OperationPreferences.RegionConcurrencyType")?,
                f.int(i, "OperationPreferences.MaxConcurrentPercentage")?,
                f.int(i, "OperationPreferences.FailureTolerancePercentage")?,
            ),
        })
    }

    /// Every `*/stackset.json` below `dir`, sorted by folder.
    pub fn read_dir(dir: &Path) -> Result<Vec<Desired>, RequestError> {
        let read_error = |path: &Path| {
            let path = path.to_path_buf();
            move |source| RequestError::Read { path, source }
        };
        let entries = std::fs::read_dir(dir).map_err(read_error(dir))?;
        let mut files: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path().join("stackset.json"))
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        if files.is_empty() {
            return Err(RequestError::Empty { dir: dir.to_path_buf() });
        }
        files
            .iter()
            .map(|f| {
                let text = std::fs::read_to_string(f).map_err(read_error(f))?;
                Desired::parse(f, &text)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_files_parse_and_oversize_ones_are_refused() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../stacksets/acme/patching/stackset.json"
        ))
        .expect("committed");
        let d = Desired::parse(Path::new("stacksets/acme/patching/stackset.json"), &text).expect("parses");
        assert_eq!(
            (d.name.as_str(), d.call_as.as_str(), d.regions.len()),
            ("acme-patching", "DELEGATED_ADMIN", 4)
        );
        assert_eq!(d.preferences, ("PARALLEL".into(), 25, 10));
        let big = text.replacen(
            "\"TemplateBody\"",
            "\"TemplateURL\": \"patchplane:upload:patching/template.yaml\", \"Unused\"",
            1,
        );
        let e = Desired::parse(Path::new("x/stackset.json"), &big).expect_err("oversize");
        assert!(e.to_string().contains("TemplateURL"), "{e}");
        assert!(
            Desired::parse(Path::new("x/stackset.json"), "{}")
                .expect_err("empty")
                .to_string()
                .contains("`CreateStackSet` is missing")
        );
    }
}
