//! Reading the requests `patchplane generate` wrote: every `*/stackset.json` below a folder, each
//! with the template its `TemplateFile` names, checked against its `TemplateSha256` (ADR 023).
//! What rollout sends is therefore exactly the reviewed pair of files: a template edited by hand,
//! or a request and template from different runs, is refused before any call.

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
    /// The template text: the file `TemplateFile` names, whose SHA-256 is `TemplateSha256`. Sent
    /// as `TemplateBody`, unless it is uploaded.
    pub template_body: String,
    /// For a template over 51,200 bytes: the file to upload, then send as `TemplateURL`.
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
    /// `TemplateFile` is not a file name beside the request.
    #[error(
        "{}: `TemplateFile` `{name}` is not a file name in the request's own folder (`patchplane generate` writes `{}`)",
        path.display(),
        crate::render::TEMPLATE_FILE
    )]
    TemplateFile {
        /// The request file.
        path: PathBuf,
        /// The name found.
        name: String,
    },
    /// The template `TemplateFile` names could not be read.
    #[error("{}: cannot read {}, named by `TemplateFile`: {source}", path.display(), template.display())]
    Template {
        /// The request file.
        path: PathBuf,
        /// The template file.
        template: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The template is not the one the request was generated with.
    #[error(
        "{}: SHA-256 {actual} does not match `TemplateSha256` {expected} in {}: the template was changed \
         after `patchplane generate` wrote the request (by hand, or by another run). Edit the policy, not \
         the output: run `patchplane generate` again and review both files",
        template.display(),
        path.display()
    )]
    Hash {
        /// The request file.
        path: PathBuf,
        /// The template file.
        template: PathBuf,
        /// `TemplateSha256` of the request.
        expected: String,
        /// SHA-256 of the template file.
        actual: String,
    },
    /// The request embeds its template: the format before ADR 023.
    #[error(
        "{}: the template is inline (`{field}`), a format this patchplane no longer reads: run `patchplane generate` again",
        path.display()
    )]
    Inline {
        /// The request file.
        path: PathBuf,
        /// `TemplateBody` or `TemplateURL`.
        field: &'static str,
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
    /// Parses one `stackset.json` (`text`, read from `path`) and reads the template beside it.
    pub fn parse(path: &Path, text: &str) -> Result<Desired, RequestError> {
        let v: Json = serde_json::from_str(text).map_err(|source| RequestError::Json {
            path: path.to_path_buf(),
            source,
        })?;
        let f = Fields { path };
        let c = f.field(&v, "CreateStackSet")?;
        let i = f.field(&v, "CreateStackInstances")?;
        let (template_body, template) = Self::template(path, &f, c)?;
        // Too large for `TemplateBody` (ADR 003): uploaded by `rollout --template-bucket`.
        let upload = (template_body.len() > crate::render::TEMPLATE_BODY_LIMIT).then_some(template);
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

    /// The template `CreateStackSet.TemplateFile` names, beside the request, and its path; refused
    /// unless its SHA-256 is `CreateStackSet.TemplateSha256`.
    fn template(path: &Path, f: &Fields<'_>, c: &Json) -> Result<(String, PathBuf), RequestError> {
        for field in ["TemplateBody", "TemplateURL"] {
            if c.get(field).is_some() {
                return Err(RequestError::Inline {
                    path: path.to_path_buf(),
                    field,
                });
            }
        }
        let name = f.string(c, "TemplateFile")?;
        let expected = f.string(c, "TemplateSha256")?;
        // A bare file name only: a request must not reach out of its own folder.
        if name.is_empty() || name == "." || name == ".." || name.contains(['/', '\\']) {
            return Err(RequestError::TemplateFile {
                path: path.to_path_buf(),
                name,
            });
        }
        let template = path.parent().unwrap_or(Path::new(".")).join(&name);
        let body = std::fs::read_to_string(&template).map_err(|source| RequestError::Template {
            path: path.to_path_buf(),
            template: template.clone(),
            source,
        })?;
        let actual = crate::render::sha256_hex(body.as_bytes());
        if !actual.eq_ignore_ascii_case(&expected) {
            return Err(RequestError::Hash {
                path: path.to_path_buf(),
                template,
                expected,
                actual,
            });
        }
        Ok((body, template))
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

    const COMMITTED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../stacksets/acme/patching");

    /// A copy of the committed `patching/` folder, to spoil.
    fn copy() -> (tempfile::TempDir, PathBuf, String) {
        let tmp = tempfile::tempdir().expect("tmp");
        let dir = tmp.path().join("patching");
        std::fs::create_dir(&dir).expect("mkdir");
        for f in ["stackset.json", "template.yaml"] {
            std::fs::copy(Path::new(COMMITTED).join(f), dir.join(f)).expect("copy");
        }
        let text = std::fs::read_to_string(dir.join("stackset.json")).expect("read");
        (tmp, dir.join("stackset.json"), text)
    }

    #[test]
    fn request_files_parse_with_their_template() {
        let path = Path::new(COMMITTED).join("stackset.json");
        let text = std::fs::read_to_string(&path).expect("committed");
        let d = Desired::parse(&path, &text).expect("parses");
        assert_eq!(
            (d.name.as_str(), d.call_as.as_str(), d.regions.len()),
            ("acme-patching", "DELEGATED_ADMIN", 4)
        );
        assert_eq!(d.preferences, ("PARALLEL".into(), 25, 10));
        let template = std::fs::read_to_string(Path::new(COMMITTED).join("template.yaml")).expect("committed");
        assert!(d.template_body == template, "the template's exact bytes");
        // Over the limit since every install runs per node (ADR 026): rollout uploads it.
        assert_eq!(d.upload, Some(Path::new(COMMITTED).join("template.yaml")));
        let ami = Path::new(COMMITTED).join("../ami-pipeline/stackset.json");
        let small = Desired::parse(&ami, &std::fs::read_to_string(&ami).expect("committed")).expect("parses");
        assert_eq!(small.upload, None, "under the TemplateBody limit");
        assert!(
            Desired::parse(Path::new("x/stackset.json"), "{}")
                .expect_err("empty")
                .to_string()
                .contains("`CreateStackSet` is missing")
        );
    }

    /// One byte changed in the template: refused, naming both files and what to do.
    #[test]
    fn a_template_that_does_not_match_its_hash_is_refused() {
        let (_tmp, path, text) = copy();
        let template = path.with_file_name("template.yaml");
        let edited =
            std::fs::read_to_string(&template)
                .expect("read")
                .replacen("ApproveAfterDays: 7", "ApproveAfterDays: 0", 1);
        std::fs::write(&template, edited).expect("write");
        let e = Desired::parse(&path, &text).expect_err("edited by hand");
        assert!(matches!(e, RequestError::Hash { .. }), "{e:?}");
        let message = e.to_string();
        assert!(
            message.starts_with(&format!("{}: SHA-256 ", template.display()))
                && message.contains("does not match `TemplateSha256` "),
            "{message}"
        );
        assert!(message.contains(&path.display().to_string()), "{message}");
        assert!(message.contains("run `patchplane generate` again"), "{message}");
        // The request's hash edited instead: the same refusal.
        let (_tmp, path, text) = copy();
        let v: Json = serde_json::from_str(&text).expect("json");
        let hash = v["CreateStackSet"]["TemplateSha256"].as_str().expect("hash");
        let spoiled = text.replace(hash, &"0".repeat(64));
        assert!(matches!(
            Desired::parse(&path, &spoiled),
            Err(RequestError::Hash { .. })
        ));
    }

    #[test]
    fn template_references_outside_the_folder_and_inline_templates_are_refused() {
        let (_tmp, path, text) = copy();
        for name in ["../central/template.yaml", "/etc/passwd", "..", ""] {
            let spoiled = text.replacen("\"template.yaml\"", &format!("{name:?}"), 1);
            let e = Desired::parse(&path, &spoiled).expect_err(name);
            assert!(matches!(e, RequestError::TemplateFile { .. }), "{name}: {e:?}");
        }
        let missing = text.replacen("\"template.yaml\"", "\"gone.yaml\"", 1);
        let e = Desired::parse(&path, &missing).expect_err("missing");
        assert!(e.to_string().contains("gone.yaml, named by `TemplateFile`"), "{e}");
        let inline = text.replacen("\"TemplateFile\"", "\"TemplateBody\": \"a: 1\", \"Unused\"", 1);
        let e = Desired::parse(&path, &inline).expect_err("inline");
        assert!(
            e.to_string().ends_with("the template is inline (`TemplateBody`), a format this patchplane no longer reads: run `patchplane generate` again"),
            "{e}"
        );
    }

    /// Over the `TemplateBody` limit: the same file, to be uploaded and sent as `TemplateURL`.
    #[test]
    fn a_template_over_the_limit_is_to_be_uploaded() {
        let (_tmp, path, text) = copy();
        let template = path.with_file_name("template.yaml");
        let big = format!("# {}\n", "x".repeat(crate::render::TEMPLATE_BODY_LIMIT));
        std::fs::write(&template, &big).expect("write");
        let v: Json = serde_json::from_str(&text).expect("json");
        let hash = v["CreateStackSet"]["TemplateSha256"].as_str().expect("hash");
        let text = text.replace(hash, &crate::render::sha256_hex(big.as_bytes()));
        let d = Desired::parse(&path, &text).expect("parses");
        assert_eq!(d.upload, Some(template));
        assert!(d.template_body == big);
    }
}
