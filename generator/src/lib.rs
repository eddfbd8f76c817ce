//! patchplane: renders an organization-wide SSM patch policy into CloudFormation StackSets.
//!
//! # Layout
//! - [`ids`]: names and identifiers AWS defines (regions, partitions, account ids, ARNs), the
//!   lowest layer: every rule about a name exists once, here.
//! - [`bridge_config`]: `bridge.yaml`'s types and rules, shared by `patchplane-bridge check` and
//!   the policy's `central.bridge.config`.
//! - [`policy`]: the serde types of the policy file (the input contract, DESIGN §3).
//! - [`load`]: read → deserialize (`serde_path_to_error`) → [`validate`] → locate findings by line
//!   ([`diag`]).
//! - [`resolve`]: schedule resolution, the only place a policy schedule becomes
//!   `cron + ScheduleOffset`; below both [`validate`] and [`model`], which call it.
//! - [`model`]: the resolved plan, one file per stack (`model/patching.rs`, `central.rs`,
//!   `bridge.rs`, `ami.rs`) plus the windows, the request and the names they share.
//! - [`cron`]: the maintenance-window cron parser and evaluator shared by resolve, preview and tests.
//! - [`schedule`]: `patchplane schedule`, the next openings of every window in local time and UTC.
//! - [`render`]: handlebars templates from `templates/` in strict mode, every value escaped into
//!   a quoted scalar, parsed back and emitted as canonical YAML; `stackset.json` requests.
//! - [`output`]: writing the rendered files and `--check`ing committed ones.
//! - `rollout` (feature `aws`): `plan`, `rollout` and `status` of the generated StackSets, one
//!   concern per file (requests, diff, apply, upload, dry run, tables, client; `StackSets` runs them).
//! - [`report`]: the monthly SOC2 artefact from resource data sync objects (S3 access behind the
//!   default `aws` feature).
//!
//! The policy model and schedule arithmetic have no AWS SDK dependency, so the bridge can use them.

pub mod bridge_config;
pub mod cron;
pub mod diag;
pub mod ids;
pub mod load;
pub mod model;
pub mod output;
pub mod policy;
pub mod render;
pub mod report;
pub mod resolve;
#[cfg(feature = "aws")]
pub mod rollout;
pub mod schedule;
pub mod table;
pub mod validate;

pub use load::{LoadError, Loaded, load_file, load_str};
