//! The member StackSet (`patching/`): patch baselines with their patch groups, the scan window and
//! one install window per ring and baseline, event forwarding to the central bus, and where
//! members write evidence. The [`super::Plan`] itself is this StackSet's plan.

use serde::Serialize;

use super::install::{
    GATE_EVENT_DETAIL_TYPE, GATE_EVENT_SOURCE, decision_parameter, gate_parameter, install_document, install_parameters,
};
use super::names::{central_bus_name, enum_str, pascal, patch_group};
use super::window::{GatePlan, Param, StoppedTaskPlan, TargetPlan, WindowKind, WindowPlan};
use crate::ids::partition;
use crate::policy::{Baseline, EventSource, Policy, RejectedPatchesAction, StoppedInstances};
use crate::resolve::{ScheduleError, resolve_schedule};

/// A baseline to render.
#[derive(Debug, Clone, Serialize)]
pub struct BaselinePlan {
    /// Logical id.
    pub logical_id: String,
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// `OperatingSystem`.
    pub operating_system: &'static str,
    /// `DefaultBaseline`.
    pub default: bool,
    /// `<group_prefix>-<ring>` for every ring.
    pub patch_groups: Vec<String>,
    /// Approval rules.
    pub rules: Vec<RulePlan>,
    /// Approved patches.
    pub approved_patches: Vec<String>,
    /// `ApprovedPatchesComplianceLevel`.
    pub approved_patches_compliance: Option<String>,
    /// Rejected patches.
    pub rejected_patches: Vec<String>,
    /// `RejectedPatchesAction`.
    pub rejected_patches_action: &'static str,
}

/// A rule to render.
#[derive(Debug, Clone, Serialize)]
pub struct RulePlan {
    /// `ApproveAfterDays`, absent on Debian-family OSes.
    pub approve_after_days: Option<i64>,
    /// `ComplianceLevel`.
    pub compliance: String,
    /// `EnableNonSecurity`, only rendered when true.
    pub enable_non_security: bool,
    /// Filters sorted by key.
    pub filters: Vec<FilterPlan>,
}

/// A patch filter.
#[derive(Debug, Clone, Serialize)]
pub struct FilterPlan {
    /// Key.
    pub key: String,
    /// Values.
    pub values: Vec<String>,
}

/// Event forwarding to the central bus.
#[derive(Debug, Clone, Serialize)]
pub struct EventsPlan {
    /// Sources.
    pub sources: Vec<&'static str>,
    /// Detail types.
    pub detail_types: Vec<&'static str>,
    /// ARN of the central bus.
    pub bus_arn: String,
}

/// Where evidence goes: the central bucket, under fixed prefixes.
#[derive(Debug, Clone, Serialize)]
pub struct EvidencePlan {
    /// Bucket name.
    pub bucket: String,
    /// Region of the bucket (the central region).
    pub region: String,
    /// Resource data sync name in every member account and region.
    pub sync_name: String,
    /// Prefix of resource data sync objects.
    pub sync_prefix: &'static str,
    /// Prefix of run-command output (followed by account and region).
    pub run_command_prefix: &'static str,
}

/// SSM's limit on values in one maintenance-window target.
const MAX_TARGET_VALUES: usize = 50;

/// One baseline per policy baseline, in policy order, each with its patch group in every ring.
pub(super) fn baselines(p: &Policy) -> Vec<BaselinePlan> {
    p.baselines
        .iter()
        .map(|b| BaselinePlan {
            logical_id: format!("Baseline{}", pascal(&b.group_prefix)),
            name: b.name.clone(),
            description: b.description.clone().unwrap_or_else(|| {
                format!(
                    "{} patch baseline of policy {} (managed by patchplane)",
                    b.operating_system.as_str(),
                    p.name
                )
            }),
            operating_system: b.operating_system.as_str(),
            default: b.default,
            patch_groups: p
                .rings
                .iter()
                .map(|r| patch_group(&b.group_prefix, &r.name))
                .chain(
                    p.hybrid
                        .sites
                        .iter()
                        .filter(|(_, s)| s.runs(&b.name))
                        .flat_map(|(site, _)| {
                            p.rings
                                .iter()
                                .map(move |r| super::names::site_patch_group(&b.group_prefix, site, &r.name))
                        }),
                )
                .chain(p.teams.iter().flat_map(|t| {
                    t.windows
                        .iter()
                        .filter(|w| w.baseline == b.name)
                        .map(|w| super::names::team_patch_group(&b.group_prefix, &t.team, &w.name))
                }))
                .collect(),
            rules: b
                .rules
                .iter()
                .map(|r| RulePlan {
                    approve_after_days: r.approve_after_days,
                    compliance: enum_str(&r.compliance),
                    enable_non_security: r.enable_non_security,
                    filters: r
                        .filters
                        .iter()
                        .map(|(k, v)| FilterPlan {
                            key: k.clone(),
                            values: v.clone(),
                        })
                        .collect(),
                })
                .collect(),
            approved_patches: b.approved_patches.clone(),
            approved_patches_compliance: b.approved_patches_compliance.as_ref().map(enum_str),
            // Exceptions that cover patches everywhere join every baseline's rejected patches.
            // Their dates are not applied here: an expired one (a `validate` warning) stays until
            // the policy drops it, and one not yet started applies from rollout. Applying them by
            // date inside AWS is issue 28's install-time mechanism, not built yet.
            rejected_patches: {
                let mut r = b.rejected_patches.clone();
                for x in crate::exception::everywhere(&p.exceptions) {
                    if !r.contains(&x) {
                        r.push(x);
                    }
                }
                r
            },
            rejected_patches_action: match b.rejected_patches_action {
                RejectedPatchesAction::Block => "BLOCK",
                RejectedPatchesAction::AllowAsDependency => "ALLOW_AS_DEPENDENCY",
            },
        })
        .collect()
}

/// The scan window first, then one install window per ring and baseline, ring by ring.
pub(super) fn windows(p: &Policy, baselines: &[BaselinePlan]) -> Result<Vec<WindowPlan>, ScheduleError> {
    let mut windows = vec![scan_window(p, baselines)?];
    windows.extend(install_windows(p)?);
    Ok(windows)
}

/// The nightly scan of every patch group, in targets of at most 50 patch groups each.
fn scan_window(p: &Policy, baselines: &[BaselinePlan]) -> Result<WindowPlan, ScheduleError> {
    let all_groups: Vec<String> = baselines.iter().flat_map(|b| b.patch_groups.clone()).collect();
    let scan_targets = all_groups
        .chunks(MAX_TARGET_VALUES)
        .enumerate()
        .map(|(i, c)| TargetPlan {
            logical_id: format!("ScanTarget{}", i + 1),
            values: c.to_vec(),
        })
        .collect();
    let scan = resolve_schedule(&p.scan.schedule, 0)?;
    let scan_params = vec![
        Param {
            name: "Operation",
            value: "Scan".to_owned(),
        },
        Param {
            name: "RebootOption",
            value: "NoReboot".to_owned(),
        },
    ];
    let max_concurrency = (p.scan.max_concurrency.clone()).unwrap_or_else(|| p.install.max_concurrency.clone());
    let max_errors = (p.scan.max_errors.clone()).unwrap_or_else(|| p.install.max_errors.clone());
    Ok(WindowPlan::new(
        p,
        WindowKind::Scan,
        "Scan",
        format!("{}-scan", p.name),
        format!("Nightly patch scan of every patch group of policy {}", p.name),
        scan,
    )
    .targets(scan_targets)
    // Scans never reboot and need no hooks, whatever the install task uses.
    .task("AWS-RunPatchBaseline", scan_params, max_concurrency, max_errors))
}

/// One install window per ring and baseline: the ring's schedule plus the baseline's
/// `install_offset_days`, targeting the one patch group of both.
fn install_windows(p: &Policy) -> Result<Vec<WindowPlan>, ScheduleError> {
    let document = install_document(p);
    let install_params = install_parameters(p);
    install_windows_with(p, document, &install_params)
}

fn install_windows_with(
    p: &Policy,
    document: &'static str,
    install_params: &[Param],
) -> Result<Vec<WindowPlan>, ScheduleError> {
    let mut windows = Vec::new();
    // Region rings first, then each site's (`hybrid.sites`) in the site's zone.
    let sites = std::iter::once(None).chain(p.hybrid.sites.iter().map(Some));
    for site in sites {
        for ring in &p.rings {
            for b in &p.baselines {
                if site.is_some_and(|(_, spec)| !spec.runs(&b.name)) {
                    continue;
                }
                let ws = resolve_schedule(&ring.schedule, b.install_offset_days)?;
                let (g, id, what) = match site {
                    None => (
                        patch_group(&b.group_prefix, &ring.name),
                        format!("Install{}{}", pascal(&b.group_prefix), pascal(&ring.name)),
                        format!("Ring {}", ring.name),
                    ),
                    Some((s, _)) => (
                        super::names::site_patch_group(&b.group_prefix, s, &ring.name),
                        site_window_id(&b.group_prefix, s, &ring.name),
                        format!("Site {s} ring {}", ring.name),
                    ),
                };
                let gate = ring.gate.as_ref().map(|gate| {
                    let mut plan = gate_plan(p, (&id, b), &ring.name, &gate.after, gate.max_failed_percent, &g);
                    if let Some((s, _)) = site {
                        plan.previous_window_id = format!("{}Window", site_window_id(&b.group_prefix, s, &gate.after));
                    }
                    plan
                });
                let mut window = install_window(
                    p,
                    &id,
                    format!(
                        "{what} install of baseline {} ({})",
                        b.name,
                        b.operating_system.as_str()
                    ),
                    ws,
                    (ring.name.clone(), b, &g),
                    (document, install_params),
                );
                if let Some((s, spec)) = site {
                    window = window.at_site(s, spec.zone());
                }
                windows.push(WindowPlan {
                    gate: gate.clone(),
                    stopped: stopped_task(p, &id, gate.as_ref(), &g),
                    snapshot_task_id: snapshot_task(p, &id),
                    // Auto Scaling groups are EC2's: a site's (on-premises) window refreshes none.
                    refresh: if site.is_none() {
                        refresh_tasks(p, &id, b)
                    } else {
                        Vec::new()
                    },
                    ..window
                });
            }
        }
    }
    // Team windows (self-service): one window per team window, its own patch group.
    for t in &p.teams {
        for w in &t.windows {
            let Some(b) = p.baselines.iter().find(|b| b.name == w.baseline) else {
                continue;
            };
            let ws = resolve_schedule(&w.schedule, 0)?;
            let g = super::names::team_patch_group(&b.group_prefix, &t.team, &w.name);
            let id = format!(
                "Install{}Team{}{}",
                pascal(&b.group_prefix),
                pascal(&t.team),
                pascal(&w.name)
            );
            let ring = format!("{}-{}", t.team, w.name);
            let gate = team_gate(p, (&id, b), &ring, &g);
            let window = install_window(
                p,
                &id,
                format!(
                    "Team {} window {} install of baseline {} ({})",
                    t.team,
                    w.name,
                    b.name,
                    b.operating_system.as_str()
                ),
                ws,
                (ring.clone(), b, &g),
                (document, install_params),
            );
            windows.push(WindowPlan {
                // A team window has its own duration; the policy's cutoff is kept below it.
                duration: w.duration_hours,
                cutoff: p.windows.cutoff_hours.min(w.duration_hours - 1).max(0),
                stopped: stopped_task(p, &id, gate.as_ref(), &g),
                snapshot_task_id: snapshot_task(p, &id),
                gate,
                ..window
            });
        }
    }
    Ok(windows)
}

/// The golden-image refreshes of a ring window of baseline `b`: one per image of `b` with
/// `refresh`.
fn refresh_tasks(p: &Policy, id: &str, b: &Baseline) -> Vec<super::window::RefreshTaskPlan> {
    let Some(ami) = &p.ami_pipeline else {
        return Vec::new();
    };
    ami.images
        .iter()
        .filter(|i| i.baseline == b.name)
        .filter_map(|i| {
            i.refresh.as_ref().map(|r| super::window::RefreshTaskPlan {
                task_id: format!("{id}Refresh{}Task", super::names::pascal_words(&i.name)),
                image: i.name.clone(),
                min_healthy_percentage: r.min_healthy_percentage.to_string(),
            })
        })
        .collect()
}

/// The pre-patch snapshot task of an install window, when the policy asks for it.
fn snapshot_task(p: &Policy, id: &str) -> Option<String> {
    p.install
        .pre_patch
        .as_ref()
        .is_some_and(|pp| pp.snapshot)
        .then(|| format!("{id}SnapshotTask"))
}

/// An install window `<id>Window` of ring (or team window) `ring` and baseline `b` on patch group
/// `g`, running `document` with `params` at the policy's rate: what ring, site and team windows
/// share.
fn install_window(
    p: &Policy,
    id: &str,
    description: String,
    ws: crate::resolve::WindowSchedule,
    (ring, b, g): (String, &Baseline, &str),
    (document, params): (&'static str, &[Param]),
) -> WindowPlan {
    WindowPlan::new(
        p,
        WindowKind::Install,
        id,
        format!("{}-{g}-install", p.name),
        description,
        ws,
    )
    .in_ring(ring, b)
    .targets(vec![TargetPlan {
        logical_id: format!("{id}Target"),
        values: vec![g.to_owned()],
    }])
    .task(
        document,
        params.to_vec(),
        p.install.max_concurrency.clone(),
        p.install.max_errors.clone(),
    )
}

/// The logical id (less its `Window`/`Task` suffix) of a site's ring window.
fn site_window_id(prefix: &str, site: &str, ring: &str) -> String {
    format!(
        "Install{}Site{}{}",
        pascal(prefix),
        super::names::pascal_words(site),
        pascal(ring)
    )
}

/// The gate of a ring's window of baseline `b`: it judges the window of the same baseline's ring
/// `after` in this stack (ADR 016, amended), never another OS's groups.
fn gate_plan(
    p: &Policy,
    (id, b): (&str, &Baseline),
    ring: &str,
    after: &str,
    max_failed_percent: f64,
    group: &str,
) -> GatePlan {
    GatePlan {
        task_id: format!("{id}GateTask"),
        parameter: gate_parameter(p, ring),
        decision_parameter: decision_parameter(p, group),
        previous_window_id: format!("Install{}{}Window", pascal(&b.group_prefix), pascal(after)),
        previous_ring: after.to_owned(),
        max_failed_percent: max_failed_percent.to_string(),
        patch_group: group.to_owned(),
    }
}

/// A team window is gated after its baseline's first ring when the policy gates any ring, with
/// the strictest threshold of the ring gates: a team's own schedule never skips the ring that
/// proves a month's patches first.
fn team_gate(p: &Policy, (id, b): (&str, &Baseline), team_ring: &str, group: &str) -> Option<GatePlan> {
    let strictest = p
        .rings
        .iter()
        .filter_map(|r| r.gate.as_ref().map(|g| g.max_failed_percent))
        .reduce(f64::min)?;
    let first = p.rings.first()?;
    Some(gate_plan(p, (id, b), team_ring, &first.name, strictest, group))
}

/// The start-patch-stop task of an install window, when the policy asks for it; it runs behind
/// the same gate as the window's install, reading the decision the gate recorded for the run.
fn stopped_task(p: &Policy, id: &str, gate: Option<&GatePlan>, group: &str) -> Option<StoppedTaskPlan> {
    (p.install.stopped_instances == StoppedInstances::StartPatchStop).then(|| StoppedTaskPlan {
        task_id: format!("{id}StoppedTask"),
        decision_parameter: gate.map(|g| g.decision_parameter.clone()),
        patch_group: group.to_owned(),
    })
}

/// The pre-patch documents: the built-in health check and the snapshot automation, as asked.
pub(super) fn pre_patch(p: &Policy) -> Option<PrePatchPlan> {
    let pp = p.install.pre_patch.as_ref()?;
    Some(PrePatchPlan {
        health: (pp.health_check.as_deref() == Some("builtin")).then(|| HealthCheckPlan {
            document_name: crate::policy::health_check_document(&p.name),
            linux: include_str!("../../../templates/components/health-check.sh").to_owned(),
            windows: include_str!("../../../templates/components/health-check.ps1").to_owned(),
            min_free_mb: pp.min_free_mb.to_string(),
            min_agent_version: pp.min_agent_version.clone(),
        }),
        snapshot: pp.snapshot.then(|| SnapshotPlan {
            document_name: format!("{}-pre-patch-snapshot", p.name),
            script: include_str!("../../../templates/components/pre-patch-snapshot.py").to_owned(),
            retention_days: pp.snapshot_retention_days.to_string(),
        }),
    })
}

/// Pre-patch documents.
#[derive(Debug, Clone, Serialize)]
pub struct PrePatchPlan {
    /// The built-in health check.
    pub health: Option<HealthCheckPlan>,
    /// The snapshot automation.
    pub snapshot: Option<SnapshotPlan>,
}

/// The built-in health check: a Command document with a Linux and a Windows step.
#[derive(Debug, Clone, Serialize)]
pub struct HealthCheckPlan {
    /// Document name.
    pub document_name: String,
    /// The shell script.
    pub linux: String,
    /// The PowerShell script.
    pub windows: String,
    /// Default of `MinFreeMb`.
    pub min_free_mb: String,
    /// Default of `MinAgentVersion`.
    pub min_agent_version: String,
}

/// The pre-patch snapshot automation.
#[derive(Debug, Clone, Serialize)]
pub struct SnapshotPlan {
    /// Document name.
    pub document_name: String,
    /// Its Python step.
    pub script: String,
    /// `RetentionDays`.
    pub retention_days: String,
}

/// Forwarding to the central bus, when the policy forwards any source.
pub(super) fn events(p: &Policy) -> Option<EventsPlan> {
    // Ring gates tell the bridge of a held gate with an event of their own.
    let gates = p.rings.iter().any(|r| r.gate.is_some());
    (!p.events.forward.is_empty()).then(|| EventsPlan {
        sources: p
            .events
            .forward
            .iter()
            .map(|s| s.as_str())
            .chain(gates.then_some(GATE_EVENT_SOURCE))
            .collect(),
        detail_types: p
            .events
            .forward
            .iter()
            .flat_map(|s: &EventSource| s.detail_types().iter().copied())
            .chain(gates.then_some(GATE_EVENT_DETAIL_TYPE))
            .collect(),
        bus_arn: format!(
            "arn:{}:events:{}:{}:event-bus/{}",
            partition(&p.central.region),
            p.central.region,
            p.central.account,
            central_bus_name(&p.name)
        ),
    })
}

/// The central evidence bucket and the fixed prefixes members write below.
pub(super) fn evidence(p: &Policy) -> EvidencePlan {
    EvidencePlan {
        bucket: p.central.evidence_bucket.clone(),
        region: p.central.region.clone(),
        sync_name: format!("{}-evidence", p.name),
        sync_prefix: "resource-data-sync",
        run_command_prefix: "run-command",
    }
}
