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
//! - [`servicenow`]: the ServiceNow Table API client pinned to v2 (incidents: lookup by
//!   `correlation_id` before create, the newest row of a key, resolve, reopen, work notes, rows of
//!   any table; basic or OAuth client-credentials auth), incident states.
//! - [`aws_json`]: calls to AWS JSON-protocol APIs, SigV4-signed with the SDK's signer and
//!   credentials, without the SDK's per-call machinery (ADR 020); [`sqs`] (receive, batch delete,
//!   visibility changes: the bridge's source) and [`tagging`] (`GetResources` by ARN) use it.
//! - [`notify`]: owner notifications (a digest) through SNS, Slack incoming webhooks and Teams
//!   Workflows webhooks: the payload builders within each service's limits, secret webhook URLs.

pub mod aws_json;
pub mod cmdb;
pub mod gather;
pub mod notify;
pub mod retry;
pub mod servicenow;
pub mod sqs;
pub mod tagging;
