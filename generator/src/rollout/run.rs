//! The entry points of `patchplane plan`, `rollout` and `status` over every StackSet of an output
//! folder ([`StackSets`]): upload oversize templates, plan, ask, apply StackSet by StackSet, read
//! the instances back. The caller supplies the client, the store, the confirmation and the progress
//! display: the CLI real ones, tests fakes.

use std::fmt;
use std::path::Path;

use serde_json::Value as Json;

use super::api::{Api, ApiError, Instance};
use super::apply::{Progress, RolloutError, Timing, apply};
use super::diff::{Change, plan};
use super::dry_run::requests;
use super::request::{Desired, RequestError};
use super::tables::instance_table;
use super::upload::{TemplateStore, UploadError, upload_templates};

/// Why `plan`, `rollout` or `status` could not go on. A StackSet whose changes fail does not stop
/// the others: that is a [`RolloutError`] in [`Outcome::Applied`], not one of these.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// DescribeStackSet or ListStackInstances failed.
    #[error("{stack_set}: DescribeStackSet failed: {source}")]
    Describe {
        /// StackSet.
        stack_set: String,
        /// The API error.
        #[source]
        source: ApiError,
    },
    /// Templates over the `TemplateBody` limit, and no store to upload them to.
    #[error("{} over the 51,200-byte TemplateBody limit: pass --template-bucket to upload", stack_sets.join(", "))]
    Oversize {
        /// The StackSets with an oversize template.
        stack_sets: Vec<String>,
    },
    /// An upload failed.
    #[error(transparent)]
    Upload(#[from] UploadError),
}

/// One StackSet and its changes.
#[derive(Debug, Clone, PartialEq)]
pub struct Planned {
    /// The request.
    pub desired: Desired,
    /// What differs, in the order [`apply`] makes the calls.
    pub changes: Vec<Change>,
}

/// What `plan` found, StackSet by StackSet in folder order; `Display` is what `plan` prints.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Pending {
    /// Every StackSet, changed or not.
    pub stack_sets: Vec<Planned>,
}

impl Pending {
    /// Changes over every StackSet.
    pub fn count(&self) -> usize {
        self.stack_sets.iter().map(|p| p.changes.len()).sum()
    }

    /// The exact requests [`apply`] would send, StackSet by StackSet (`rollout --dry-run`).
    pub fn requests(&self) -> Vec<Json> {
        self.stack_sets
            .iter()
            .flat_map(|p| requests(&p.desired, &p.changes))
            .collect()
    }
}

impl fmt::Display for Pending {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for p in &self.stack_sets {
            if p.changes.is_empty() {
                writeln!(f, "{}: up to date", p.desired.name)?;
            }
            for c in &p.changes {
                writeln!(f, "{}: {c}", p.desired.name)?;
            }
        }
        Ok(())
    }
}

/// The stack instances of every StackSet (`status`, and the end of `rollout`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Status {
    /// (StackSet, instance), sorted by StackSet, account and region.
    pub rows: Vec<(String, Instance)>,
    /// StackSets CloudFormation does not have.
    pub not_deployed: Vec<String>,
}

impl Status {
    /// The per-instance table.
    pub fn table(&self) -> String {
        instance_table(&self.rows)
    }
}

/// How `rollout` proceeds.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Plan and build the requests, send nothing (no upload either).
    pub dry_run: bool,
    /// Polling, backoff and limits of every operation.
    pub timing: Timing,
}

/// How a rollout ended.
#[derive(Debug)]
pub enum Outcome {
    /// A dry run: the plan, nothing sent.
    DryRun(Pending),
    /// Nothing differs; nothing sent.
    UpToDate(Pending),
    /// The confirmation said no; nothing sent.
    Declined(Pending),
    /// The changes were applied.
    Applied {
        /// What was applied.
        pending: Pending,
        /// One error per StackSet that did not converge; empty when all did.
        failures: Vec<RolloutError>,
        /// The instances afterwards.
        status: Status,
    },
}

/// The StackSets of one output folder and the client that deploys them.
pub struct StackSets<A> {
    api: A,
    desired: Vec<Desired>,
}

impl<A: Api> StackSets<A> {
    /// StackSets from requests already read.
    pub fn new(api: A, desired: Vec<Desired>) -> Self {
        Self { api, desired }
    }

    /// Every `*/stackset.json` below `dir` ([`Desired::read_dir`]).
    pub fn read(api: A, dir: &Path) -> Result<Self, RequestError> {
        Ok(Self::new(api, Desired::read_dir(dir)?))
    }

    /// The client.
    pub fn api(&self) -> &A {
        &self.api
    }

    /// The requests, in folder order.
    pub fn desired(&self) -> &[Desired] {
        &self.desired
    }

    /// `patchplane plan`: each StackSet's request compared with what is deployed. No mutating call.
    pub async fn plan(&self) -> Result<Pending, Error> {
        let mut stack_sets = Vec::new();
        for d in &self.desired {
            let deployed = self.api.describe(d).await.map_err(|source| Error::Describe {
                stack_set: d.name.clone(),
                source,
            })?;
            stack_sets.push(Planned {
                changes: plan(d, deployed.as_ref()),
                desired: d.clone(),
            });
        }
        Ok(Pending { stack_sets })
    }

    /// `patchplane status`: the instances of every StackSet.
    pub async fn status(&self) -> Result<Status, Error> {
        let mut status = Status::default();
        for d in &self.desired {
            match self.api.describe(d).await {
                Ok(Some(dep)) => status
                    .rows
                    .extend(dep.instances.into_iter().map(|i| (d.name.clone(), i))),
                Ok(None) => status.not_deployed.push(d.name.clone()),
                Err(source) => {
                    return Err(Error::Describe {
                        stack_set: d.name.clone(),
                        source,
                    });
                }
            }
        }
        status
            .rows
            .sort_by(|a, b| (&a.0, &a.1.account, &a.1.region).cmp(&(&b.0, &b.1.account, &b.1.region)));
        Ok(status)
    }

    /// `patchplane rollout`: uploads oversize templates to `store` (none in a dry run), plans, and
    /// when there is something to apply asks `confirm`, which sees the plan first. Then applies
    /// StackSet by StackSet, in folder order; one that fails does not stop the next. Ends with
    /// the instances as they are afterwards.
    pub async fn rollout<S: TemplateStore>(
        &mut self,
        store: Option<&S>,
        options: &Options,
        confirm: impl FnOnce(&Pending) -> bool,
        progress: &dyn Progress,
    ) -> Result<Outcome, Error> {
        let oversize: Vec<String> = self
            .desired
            .iter()
            .filter(|d| d.upload.is_some())
            .map(|d| d.name.clone())
            .collect();
        if !oversize.is_empty() && !options.dry_run {
            let Some(store) = store else {
                return Err(Error::Oversize { stack_sets: oversize });
            };
            upload_templates(store, &mut self.desired).await?;
        }
        let pending = self.plan().await?;
        if options.dry_run {
            return Ok(Outcome::DryRun(pending));
        }
        if pending.count() == 0 {
            return Ok(Outcome::UpToDate(pending));
        }
        if !confirm(&pending) {
            return Ok(Outcome::Declined(pending));
        }
        let mut failures = Vec::new();
        for p in &pending.stack_sets {
            if let Err(e) = apply(&self.api, &p.desired, &p.changes, &options.timing, progress).await {
                failures.push(e);
            }
        }
        let status = self.status().await?;
        Ok(Outcome::Applied {
            pending,
            failures,
            status,
        })
    }
}
