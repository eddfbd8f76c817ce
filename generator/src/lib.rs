//! patchplane: renders an organization-wide SSM patch policy into CloudFormation StackSets.
//!
//! # Layout
//! No two modules import each other, directly or around a circle, at any depth
//! (`tests/scripts/module-cycles.py`, run by `generator/tests/layout.rs`); the list goes roughly
//! from the lowest layer up, but a module may use one listed after it (`validate` uses `teams`,
//! `model` and `schedule`).
//!
//! From the contract crate `patchplane_bridge_config` (ADR 024), re-exported under these paths
//! because the bridge reads them too:
//! - [`ids`]: names, identifiers and patterns AWS defines (regions, partitions, organization, OU
//!   and account ids, S3 bucket, IAM role and SSM document names, ARNs, `MaxConcurrency` and
//!   `MaxErrors`) and the policy's own names as `NameRule`s (policy, baseline, group prefix, ring,
//!   image, exception id); the lowest layer: every rule about a name exists once, there.
//! - [`diag`]: a problem with file, line and key path; YAML text → typed value or located
//!   diagnostic ([`diag::parse_yaml`], for the policy and `bridge.yaml` alike).
//! - [`cron`]: the maintenance-window cron parser and evaluator shared by resolve, preview and tests.
//! - [`exception`]: `exceptions:` (approved nodes or patches left unpatched, with an expiry).
//! - [`bridge_config`]: `bridge.yaml`'s types and rules, one module per section, shared by
//!   `patchplane-bridge check` and the policy's `central.bridge.config`.
//!
//! The generator's own:
//! - [`table`]: the plain-text tables of `schedule`, `status` and `rollout`.
//! - [`policy`]: the serde types of the policy file (the input contract, DESIGN §3): `mod.rs`
//!   ([`policy::Policy`]) and one file per section (`organization.rs`, `central.rs`,
//!   `baselines.rs`, `rings.rs`, `windows.rs`, `install.rs`, `ami.rs`, `events.rs`,
//!   `evidence.rs`, `nodes.rs` (what every node gets for the evidence), `hybrid.rs`
//!   (on-premises sites), `patch_now.rs`, `self_service.rs`), plus `schedule.rs`, the schedule rings, the scan
//!   and team windows share; all re-exported as `policy::Name`.
//! - [`resolve`]: schedule resolution, the only place a policy schedule becomes
//!   `cron + ScheduleOffset`; validation and the model both call it.
//! - [`validate`]: every rule of a policy, all problems in one pass: `mod.rs` (`validate_on`, the
//!   sections in the order their findings are reported, the shared collector) and one file per
//!   section, named as in `policy/`; `evidence.rs` also holds `sla_feasibility`, the SLA held
//!   against the plan's install windows.
//! - [`model`]: the resolved plan, one file per stack: `patching.rs` (the member StackSet: baselines,
//!   ring, site and team windows, pre-patch documents), `install.rs` (how windows and patch-now
//!   install: the per-node install, the ring gate, start-patch-stop, the published exceptions,
//!   golden-image refresh), `central.rs` (with the scheduled monthly report), `bridge.rs` (the
//!   bridge service and its role in members), `ami.rs` (with distribution), `nodes.rs`;
//!   `window.rs`, `request.rs` and `names.rs` hold what they share.
//! - [`load`]: read → deserialize (`serde_path_to_error`) → [`validate`] → locate findings by line
//!   → [`model::Plan`].
//! - [`schedule`]: `patchplane schedule`, the next openings of every window in local time and UTC
//!   (the opening arithmetic itself is the contract crate's `window`).
//! - `template` (feature `render`): the template language of `templates/*.hbs`, handlebars' subset
//!   they use, compiled in one linear pass (ADR 018).
//! - `yaml` (feature `render`): `escape.rs` (`quote`, the escape function of every template
//!   value), `reader.rs` (the read-back of rendered text: a one-pass reader of the plain subset
//!   templates produce, serde_yaml for the rest, ADR 018), `writer.rs` (the canonical YAML that is
//!   written); `mod.rs` holds `Node`, the tree they share.
//! - `render` (feature `render`): the built-in templates in strict mode, every value escaped into a
//!   quoted scalar, parsed back and emitted as canonical YAML; `stackset.json`.
//! - `output` (feature `render`): writing the rendered files and `--check`ing committed ones.
//! - [`teams`]: team windows (`teams/*.yaml` beside the policy) inside `self_service:`
//!   guardrails: reading, checking on the team's file and line, their patch groups.
//! - [`report`]: the monthly SOC2 evidence as of a month's end: `sync` (the contract crate's sync objects and
//!   parsers), `history.rs` (the version in effect, missing-since runs), `mod.rs` (coverage,
//!   exceptions, overdue, CSVs), `html.rs` (the dashboard), `s3.rs` (versions from the bucket,
//!   feature `aws`). Per-severity SLAs are in [`policy`]; `validate` checks them and exceptions.
//! - `rollout` (feature `aws`): `plan`, `rollout` and `status` of the generated StackSets:
//!   `request.rs` (reading `stackset.json`), `api.rs` (the CloudFormation calls), `diff.rs`,
//!   `apply.rs` (retries and waits), `upload.rs` (oversize templates), `dry_run.rs`, `tables.rs`,
//!   `aws.rs` (the real client), `run.rs` (`StackSets`, the entry points).
//! - `commands` (feature `cli`): each subcommand's arguments and what it prints (`bridge_config.rs`:
//!   `patchplane bridge-config`, the bridge.yaml a policy's bridge runs with; `patch_now.rs`,
//!   `hybrid.rs` and `report.rs`, the AWS commands); `main.rs` only parses the command line and
//!   sets the exit code.
//!
//! Features, all default: `render` (similar), `cli` (clap; the `patchplane` binary)
//! and `aws` (the AWS SDK). Without them the library is the policy, validation, model and schedule
//! arithmetic, with none of those in the tree. The bridge does not link this crate at all.

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
