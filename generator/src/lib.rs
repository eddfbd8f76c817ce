//! patchplane: renders an organization-wide SSM patch policy into CloudFormation StackSets.
//!
//! # Layout
//! Bottom-up: a module uses only modules listed before it, so no two import each other
//! (`tests/scripts/module-cycles.py` checks it; `generator/tests/layout.rs` runs it).
//! - [`ids`]: names and identifiers AWS defines (regions, partitions, account ids, ARNs), the
//!   lowest layer: every rule about a name exists once, here.
//! - [`diag`]: a problem with file, line and key path; YAML text → typed value or located
//!   diagnostic ([`diag::parse_yaml`], for the policy and `bridge.yaml` alike).
//! - [`table`]: the plain-text tables of `schedule`, `status` and `rollout`.
//! - [`cron`]: the maintenance-window cron parser and evaluator shared by resolve, preview and tests.
//! - [`exception`]: `exceptions:` (approved nodes or patches left unpatched, with an expiry).
//! - [`bridge_config`]: `bridge.yaml`'s types and rules (`rules.rs` routing, `tickets.rs` the
//!   closed loop's tickets, `schedule.rs` the windows), shared by `patchplane-bridge check` and the
//!   policy's `central.bridge.config`.
//! - [`policy`]: the serde types of the policy file (the input contract, DESIGN §3).
//! - [`resolve`]: schedule resolution, the only place a policy schedule becomes
//!   `cron + ScheduleOffset`; validation and the model both call it.
//! - [`validate`]: every rule of a policy, all problems in one pass.
//! - [`model`]: the resolved plan, one file per stack: `patching.rs` (the member StackSet: baselines,
//!   ring and team windows, the ring gate, start-patch-stop and pre-patch documents),
//!   `central.rs`, `bridge.rs` (the bridge service and its role in members), `ami.rs`; `window.rs`,
//!   `request.rs` and `names.rs` hold what they share.
//! - [`load`]: read → deserialize (`serde_path_to_error`) → [`validate`] → locate findings by line
//!   → [`model::Plan`].
//! - [`schedule`]: `patchplane schedule`, the next openings of every window in local time and UTC.
//! - `template` (feature `render`): the template language of `templates/*.hbs`, handlebars' subset
//!   they use, compiled in one linear pass (ADR 018).
//! - `yaml` (feature `render`): `quote`, the escape function of every template value; the
//!   read-back of rendered text (a one-pass reader of the plain subset templates produce,
//!   serde_yaml for the rest, ADR 018); the canonical YAML that is written.
//! - `render` (feature `render`): the built-in templates in strict mode, every value escaped into a
//!   quoted scalar, parsed back and emitted as canonical YAML; `stackset.json`.
//! - `output` (feature `render`): writing the rendered files and `--check`ing committed ones.
//! - [`teams`]: team windows (`teams/*.yaml` beside the policy) inside `self_service:`
//!   guardrails: reading, checking on the team's file and line, their patch groups.
//! - [`report`]: the monthly SOC2 evidence as of a month's end: `sync.rs` (the sync's objects and
//!   parsers), `history.rs` (the version in effect, missing-since runs), `mod.rs` (coverage,
//!   exceptions, overdue, CSVs), `html.rs` (the dashboard), `s3.rs` (versions from the bucket,
//!   feature `aws`). Per-severity SLAs are in [`policy`]; `validate` checks them and exceptions.
//! - `rollout` (feature `aws`): `plan`, `rollout` and `status` of the generated StackSets:
//!   `request.rs` (reading `stackset.json`), `api.rs` (the CloudFormation calls), `diff.rs`,
//!   `apply.rs` (retries and waits), `upload.rs` (oversize templates), `dry_run.rs`, `tables.rs`,
//!   `aws.rs` (the real client), `run.rs` (`StackSets`, the entry points).
//! - `commands` (feature `cli`): each subcommand's arguments and what it prints; `main.rs` only
//!   parses the command line and sets the exit code.
//!
//! Features, all default: `render` (similar), `cli` (clap; the `patchplane` binary)
//! and `aws` (the AWS SDK). Without them the library is the policy, validation, model and schedule
//! arithmetic, with none of those in the tree: that is how the bridge links it.

pub use patchplane_bridge_config as bridge_config;
#[cfg(feature = "cli")]
pub mod commands;
pub use patchplane_bridge_config::{cron, diag, exception};
pub mod ids;
pub mod load;
pub mod model;
#[cfg(feature = "render")]
pub mod output;
pub mod policy;
#[cfg(feature = "render")]
pub mod render;
pub mod report;
pub mod resolve;
#[cfg(feature = "aws")]
pub mod rollout;
pub mod schedule;
pub mod table;
pub mod teams;
#[cfg(feature = "render")]
pub mod template;
pub mod validate;
#[cfg(feature = "render")]
pub mod yaml;

pub use load::{LoadError, Loaded, load_file, load_str, load_with_teams};
