//! patchplane-bridge: patching events from the central queue to the right people (DESIGN §6).
//!
//! # Layout
//! The bridge is a pipeline of small stages, each a module: source (SQS) → [`decode`] → enrich →
//! route → sinks → ack, configured by [`config`] (`bridge.yaml`) and run by `main.rs`:
//! - [`decode`]: an EventBridge envelope into a typed event, with the correlation key its sinks
//!   use; unknown and malformed messages are errors that name the reason, never panics.
//! - [`enrich`]: a node's tags and what they imply (patch group, ring, owner), cached with a TTL.
//! - [`route`]: rules from `bridge.yaml` (or the defaults) mapping kind, status and severity to
//!   actions.
//! - [`outcome`]: the sinks' outcomes combined into the message's fate (delete, retry, DLQ).
//! - [`sink`]: ServiceNow incidents and Inspector-linked tickets, idempotent by correlation key.
//! - [`tags`]: the AWS tag source (Resource Groups Tagging API, a role per member account).
//! - [`pipeline`]: the stages for one message ([`pipeline::Stages`], also used by `replay`) and
//!   the SQS workers that feed them, with visibility heartbeats.
//! - [`metrics`], [`server`]: Prometheus text, EMF lines, `/healthz` and `/readyz`.

pub mod app;
pub mod config;
pub mod decode;
pub mod enrich;
pub mod metrics;
pub mod outcome;
pub mod pipeline;
pub mod route;
pub mod server;
pub mod sink;
pub mod tags;
