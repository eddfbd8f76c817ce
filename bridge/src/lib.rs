//! patchplane-bridge: patching events from the central queue to the right people (DESIGN §6).
//!
//! # Layout
//! The bridge is a pipeline of small stages, each a module or folder, in the order a message
//! meets them; `main.rs` only parses arguments and calls [`app`] or [`replay`]. No two modules
//! import each other at any depth (`tests/scripts/module-cycles.py`):
//! - [`source`]: the SQS queue: long-poll receives taken in turn (the batching window, ADR 021),
//!   visibility heartbeats, delete, delay, release (through `patchplane_integrations::sqs`, ADR 020).
//! - [`decode`]: an EventBridge envelope into a typed event, with the correlation key its sinks
//!   use; unknown and malformed messages are errors that name the reason, never panics.
//! - [`enrich`]: a node's tags and what they imply (patch group, ring, baseline);
//!   [`enrich::cache`] keeps them for a TTL and gathers lookups that miss together into one call;
//!   [`enrich::tags`] reads them from AWS (a role per member account, 100 ARNs a call); [`enrich::owners`]
//!   the owner chain (tags, CMDBs, static map) with its caches; [`enrich::output`] a failed
//!   patch command's output (the pre-patch health check's reason); node exceptions.
//! - [`route`]: rules from `bridge.yaml` (or the defaults) mapping kind, status, severity, ring
//!   and owner to actions; it runs after enrichment.
//! - [`sinks`]: the dispatcher and the registry, one folder per sink, each with its `config.rs`
//!   and one registration line: [`sinks::servicenow`] incidents (non-compliance ones with a due
//!   date), resolutions, vulnerability tickets, the escalation sweep and the ticket lifecycle (open, note, reopen, resolve; ordered
//!   by event time); [`sinks::notify`] owner digests, their messages parked until sent;
//!   [`sinks::window_notices`] one notice per owner before each install window and one summary
//!   after it; [`sinks::exception_notices`] the approver's and the owners' notices before an
//!   exception expires and on its last day; [`sinks::common`] what every sink uses (clock, event
//!   time, summary).
//! - [`gather`]: lookups of single keys asked together (the messages of a receive) sent as one
//!   batch call: tags, tickets (it lives in `patchplane_integrations::gather`, whose ServiceNow
//!   client gathers its writes with it too).
//! - [`claims`]: claims every bridge task sees (S3 conditional writes), so work meant to happen
//!   once across tasks does: window and exception notices (ADR 014) and ticket creations (ADR 017).
//! - [`outcome`]: the sinks' outcomes combined into the message's fate (delete, retry, DLQ).
//! - [`pipeline`]: the stages for one message ([`pipeline::Stages`], also used by `replay`), the
//!   workers that feed them from the source, one tracing span per message, and the parking of
//!   messages whose digest is not sent yet.
//! - [`config`]: `bridge.yaml`, re-exported from `patchplane_bridge_config`, the contract crate
//!   the generator renders it with (ADR 024); the bridge does not link the generator.
//! - [`start`]: what start-up makes of the file: every `{env}`/`{secret_arn}` reference resolved
//!   in one pass (all problems together), the shared clients, typed start errors.
//! - [`app`]: resolved configuration → sinks, stages, pipeline, the running service; `check` and
//!   `check --resolve`.
//! - [`replay`]: `patchplane-bridge replay` over event files.
//! - [`windows`]: a node's next install window, from `schedule:` and the contract crate's window
//!   arithmetic (the same `patchplane schedule` uses).
//! - [`metrics`], [`server`]: counters, Prometheus text, EMF lines, `/healthz` and `/readyz`.

pub mod app;
pub mod claims;
pub mod config;
pub mod decode;
pub mod enrich;
pub use patchplane_integrations::gather;
pub mod metrics;
pub mod outcome;
pub mod pipeline;
pub mod replay;
pub mod route;
pub mod server;
pub mod sinks;
pub mod source;
pub mod start;
pub mod windows;
