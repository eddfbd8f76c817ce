//! Clients the bridge delivers through. They know neither the generator nor the bridge.
//!
//! # Layout
//! - [`cmdb`]: the owner of a managed node from a CMDB — ServiceNow's (VM instance, the server it
//!   virtualizes, SSM agent; owner fields in a configured order) or an HTTP JSON service.
//! - [`gather`]: lookups of single keys asked at the same moment (the messages of a receive) sent
//!   as one batch call; the bridge gathers tags and tickets with it, the ServiceNow client its
//!   writes.
//! - [`retry`]: the retry policy shared by every client (bounded attempts, exponential backoff
//!   with jitter, `Retry-After` honoured) and the retryable / permanent split.
//! - [`http`]: one reading of an HTTP response for every client: status, `Retry-After`, body, and
//!   a failure carrying a bounded one-line excerpt of it.
//! - [`servicenow`]: the ServiceNow Table API client pinned to v2 (incidents: lookup by
//!   `correlation_id` before create, the newest row of a key, resolve, reopen, work notes, rows of
//!   any table; batched writes; basic or OAuth client-credentials auth), incident states by name
//!   ([`servicenow::IncidentState`]); a folder, one file per concern.
//! - [`aws_error`]: an AWS SDK error as one line for an operator: the operation, the cause in
//!   words (no region, no or rejected credentials, access denied, unreachable, throttled, …) and
//!   what to do, never the SDK's `Debug` dump.
//! - [`aws_json`]: calls to AWS JSON-protocol APIs, SigV4-signed with the SDK's signer and
//!   credentials, without the SDK's per-call machinery (ADR 020); [`sqs`] (receive, batch delete,
//!   visibility changes: the bridge's source), [`tagging`] (`GetResources` by ARN,
//!   `TagResources`), [`ssm`] (`AddTagsToResource` on an on-premises node) and
//!   [`organizations`] (the OUs and accounts under a parent, a page at a time: window notices'
//!   member accounts) use it.
//! - [`notify`]: owner notifications (a digest) through SNS, Slack incoming webhooks and Teams
//!   Workflows webhooks (one generic webhook notifier, parametrised by the service): the payload
//!   builders within each service's limits, secret webhook URLs.

pub mod aws_error;
pub mod aws_json;
pub mod cmdb;
pub mod gather;
pub mod http;
pub mod notify;
pub mod organizations;
pub mod retry;
pub mod servicenow;
pub mod sqs;
pub mod ssm;
pub mod tagging;
