//! The CloudFormation calls rollout makes ([`Api`], one method per call) and what they return:
//! a StackSet as deployed, its instances, operations and their per-instance results.

use super::request::Desired;

/// One stack instance as CloudFormation lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    /// Account.
    pub account: String,
    /// Region.
    pub region: String,
    /// OU the instance was deployed through, when CloudFormation says.
    pub ou: Option<String>,
    /// `CURRENT`, `OUTDATED`, `INOPERABLE`.
    pub status: String,
    /// Detailed status or reason.
    pub reason: String,
    /// Drift status, when known.
    pub drift: String,
    /// Last operation id.
    pub last_operation: String,
}

/// A StackSet as CloudFormation has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deployed {
    /// `TemplateBody`.
    pub template_body: String,
    /// `Description`.
    pub description: String,
    /// `Tags`.
    pub tags: Vec<(String, String)>,
    /// `AutoDeployment` (enabled, retain stacks), when CloudFormation reports it (moto does not).
    pub auto_deployment: Option<(bool, bool)>,
    /// Instances.
    pub instances: Vec<Instance>,
}

/// What an API error means for the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// `OperationInProgressException`: wait and retry the same request.
    InProgress,
    /// `StaleRequestException`: the operation is too old to run; a person must look.
    Stale,
    /// Anything else.
    Other,
}

/// An API error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    /// Kind.
    pub kind: ErrorKind,
    /// Message.
    pub message: String,
}

/// Terminal or running state of an operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operation {
    /// `RUNNING`, `SUCCEEDED`, `FAILED`, `QUEUED`, `STOPPING`, `STOPPED`.
    pub status: String,
    /// Reason, when CloudFormation gives one.
    pub reason: String,
}

impl Operation {
    pub(super) fn finished(&self) -> bool {
        matches!(self.status.as_str(), "SUCCEEDED" | "FAILED" | "STOPPED")
    }
}

/// The result of an operation in one account and region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceResult {
    /// Account.
    pub account: String,
    /// Region.
    pub region: String,
    /// `SUCCEEDED`, `FAILED`, `CANCELLED`, …
    pub status: String,
    /// Reason.
    pub reason: String,
}

/// Which instances a call concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Targets {
    /// OUs.
    pub ous: Vec<String>,
    /// Regions.
    pub regions: Vec<String>,
}

/// The CloudFormation calls rollout makes, one method per API call (pages of a list count as calls).
pub trait Api {
    /// DescribeStackSet + ListStackInstances; `None` when the StackSet does not exist.
    fn describe(&self, d: &Desired) -> impl Future<Output = Result<Option<Deployed>, ApiError>>;
    /// CreateStackSet (mutating).
    fn create_stack_set(&self, d: &Desired) -> impl Future<Output = Result<(), ApiError>>;
    /// UpdateStackSet for `targets` (mutating); returns the operation id.
    fn update_stack_set(&self, d: &Desired, t: &Targets, op: &str) -> impl Future<Output = Result<String, ApiError>>;
    /// CreateStackInstances (mutating).
    fn create_instances(&self, d: &Desired, t: &Targets, op: &str) -> impl Future<Output = Result<String, ApiError>>;
    /// DeleteStackInstances (mutating).
    fn delete_instances(&self, d: &Desired, t: &Targets, op: &str) -> impl Future<Output = Result<String, ApiError>>;
    /// DescribeStackSetOperation.
    fn operation(&self, d: &Desired, op: &str) -> impl Future<Output = Result<Operation, ApiError>>;
    /// ListStackSetOperationResults.
    fn results(&self, d: &Desired, op: &str) -> impl Future<Output = Result<Vec<InstanceResult>, ApiError>>;
}
