//! `patchplane plan | rollout | status`: the generated StackSets in front of every account.
//!
//! The logic (what differs, which calls to make, how to wait and retry) is written against the
//! [`Api`] trait, one method per CloudFormation call, so it is tested twice. The real client
//! ([`aws::CloudFormation`]) runs against moto server. An in-process fake covers what moto does
//! not implement: moto ignores the `OperationId` of CreateStackInstances, stores no
//! `AutoDeployment` or `ManagedExecution`, cannot delete by OU, lists instances without their OU,
//! and finishes every operation at once, so it has no failed or in-progress operations.
//!
//! Idempotency: the plan compares `stackset.json` with DescribeStackSet and ListStackInstances,
//! and an unchanged StackSet gets no mutating call at all. Every mutating call carries an
//! `OperationId` chosen before the first attempt and reused by every retry, so a retried request
//! that already reached CloudFormation is not executed twice.
//! `OperationInProgressException` waits and retries with capped exponential backoff and jitter;
//! `StaleRequestException` and failed operations end the rollout with the per-instance reasons.
//!
//! One concern per file: `request.rs` reads the `stackset.json` files, `api.rs` is the [`Api`]
//! trait and its types, `diff.rs` plans one StackSet ([`plan`]), `apply.rs` applies a plan with
//! retries and waits ([`apply`]), `upload.rs` puts oversize templates in a bucket, `dry_run.rs`
//! prints the requests instead, `tables.rs` is what `status` and a failed rollout print, `aws.rs`
//! the real client, and `run.rs` the entry points over a whole output folder ([`StackSets`]:
//! `plan`, `rollout` with its confirmation callback, `status`).

mod api;
mod apply;
pub mod aws;
mod diff;
mod dry_run;
mod request;
mod run;
mod tables;
mod upload;

pub use api::{Api, ApiError, Deployed, ErrorKind, Instance, InstanceResult, Operation, Targets};
pub use apply::{Progress, Quiet, RolloutError, Timing, apply, new_operation_id};
pub use diff::{Change, plan};
pub use dry_run::requests;
pub use request::{Desired, FieldError, RequestError};
pub use run::{Error, Options, Outcome, Pending, Planned, StackSets, Status};
pub use tables::{exit_code, failure_report, instance_table};
pub use upload::{S3Store, TemplateStore, UploadError, upload_templates};
