//! patchplane-bridge-config: the contract between the generator (`patchplane`) and the bridge
//! (`patchplane-bridge`), with no AWS SDK and no HTTP client in it (ADR 024).
//!
//! The generator validates and renders `bridge.yaml` through these types (the policy's
//! `central.bridge.config`); the bridge reads and runs it. Both also read the shapes listed
//! below from the same place, so the bridge never links the build tool and the two can never
//! disagree about a name, a window or an inventory object.
//!
//! # Layout
//! Bottom-up: a module uses only modules listed before it (`tests/scripts/module-cycles.py`
//! checks every crate for circles at every depth).
//! - [`ids`]: names and identifiers AWS defines (regions, partitions, account ids, ARNs, role
//!   names, environment variable names): every rule about a name, once.
//! - [`diag`]: a problem with file, line and key path; YAML text → typed value or located
//!   diagnostic ([`diag::parse_yaml`], for the policy and `bridge.yaml` alike).
//! - [`cron`]: the maintenance-window cron parser and evaluator.
//! - [`window`]: a window's schedule as SSM runs it (cron + `ScheduleOffset` in a zone) and its
//!   next openings: the arithmetic behind `patchplane schedule` and a ticket's next window.
//! - [`exception`]: `exceptions:` (approved nodes or patches left unpatched, with an expiry).
//! - [`sync`]: the resource data sync's objects (keys, `AWS:PatchSummary`,
//!   `AWS:ComplianceItem`, `AWS:InstanceInformation`, `AWS:Tag`) the report and window notices read.
//! - [`settings`]: a value that may be a reference (`{env: NAME}`, `{secret_arn: ARN}`), the
//!   checks on references, and [`settings::References`], every reference of a file with its key path
//!   so the bridge resolves them all in one pass.
//! - [`rules`]: `routes:`, the routing rules and their defaults, and [`Action`], what a rule asks
//!   for, with the one rule saying which configuration section each action needs.
//! - Sections of the file, one module each, types and checks together: [`queue`] (`queue:`),
//!   [`servicenow`] (`servicenow:`), [`enrich`] (`enrich:`), [`operations`] (`operations:`, `aws:`),
//!   [`tickets`] (`tickets:`), [`schedule`] (`schedule:`), [`owners`] (`owners:` and `notify:`),
//!   [`last_patched`] (`last_patched:`).
//! - [`config`]: [`BridgeConfig`], the whole file: loading (strict, located), one validation
//!   pass over every section, the rules in force.

pub mod ids;

pub mod diag;

pub mod cron;

pub mod window;

pub mod exception;

pub mod sync;

pub mod settings;

pub mod rules;

pub mod enrich;
pub mod last_patched;
pub mod operations;
pub mod owners;
pub mod queue;
pub mod schedule;
pub mod servicenow;
pub mod tickets;

pub mod config;

pub use config::*;
