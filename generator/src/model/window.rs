//! Maintenance windows, shared by the member StackSet (scan and install) and the AMI pipeline
//! (the build started in a ring's install window).

use serde::Serialize;

use crate::policy::{Baseline, CutoffBehavior, Policy};
use crate::resolve::WindowSchedule;

/// What a window does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WindowKind {
    /// Nightly scan of every patch group.
    Scan,
    /// A ring's install for one baseline.
    Install,
    /// A golden-image build aligned to a ring's install window.
    Ami,
}

/// A maintenance window with its targets and task.
#[derive(Debug, Clone, Serialize)]
pub struct WindowPlan {
    /// Scan or install.
    pub kind: WindowKind,
    /// Window name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Ring (install windows).
    pub ring: Option<String>,
    /// Baseline name (install windows).
    pub baseline: Option<String>,
    /// Operating system of the baseline (install windows).
    pub operating_system: Option<&'static str>,
    /// Logical id of the window.
    pub window_id: String,
    /// Logical id of the task.
    pub task_id: String,
    /// Targets (at most 50 patch groups each).
    pub targets: Vec<TargetPlan>,
    /// `Schedule`.
    pub cron: String,
    /// `ScheduleOffset` when not zero.
    pub offset_days: Option<u8>,
    /// The parsed schedule, for previews.
    #[serde(skip)]
    pub schedule: WindowSchedule,
    /// `Duration`.
    pub duration: i64,
    /// `Cutoff`.
    pub cutoff: i64,
    /// `CutoffBehavior`.
    pub cutoff_behavior: &'static str,
    /// `TaskArn`.
    pub document: &'static str,
    /// Task parameters, each a one-element list.
    pub parameters: Vec<Param>,
    /// `MaxConcurrency`.
    pub max_concurrency: String,
    /// `MaxErrors`.
    pub max_errors: String,
    /// The ring gate in front of the install, if the ring has one.
    pub gate: Option<GatePlan>,
    /// The start-patch-stop task after the install (`install.stopped_instances`).
    pub stopped: Option<StoppedTaskPlan>,
    /// The pre-patch snapshot task's logical id (`install.pre_patch.snapshot`), before the install.
    pub snapshot_task_id: Option<String>,
    /// `ScheduleTimezone` of a site's window (`hybrid.sites`); `None`: the region's zone.
    pub zone: Option<String>,
    /// The site, for a site's window.
    pub site: Option<String>,
    /// Golden-image refreshes after the install (`ami_pipeline.images[].refresh`), for the
    /// ring windows of the images' baseline.
    pub refresh: Vec<RefreshTaskPlan>,
}

/// One image's refresh in a ring window.
#[derive(Debug, Clone, Serialize)]
pub struct RefreshTaskPlan {
    /// Logical id of the task.
    pub task_id: String,
    /// The image.
    pub image: String,
    /// `MinHealthyPercentage`.
    pub min_healthy_percentage: String,
}

impl WindowPlan {
    /// A window of `p` opening on `schedule`, with logical ids `<id>Window` and `<id>Task` and the
    /// policy's duration, cutoff and cutoff behaviour. It starts with no ring, no targets and an
    /// empty task: the callers add what their kind of window has ([`Self::in_ring`],
    /// [`Self::targets`], [`Self::task`]), so the defaults every window shares live here once.
    pub(super) fn new(
        p: &Policy,
        kind: WindowKind,
        id: &str,
        name: String,
        description: String,
        schedule: WindowSchedule,
    ) -> WindowPlan {
        WindowPlan {
            kind,
            name,
            description,
            ring: None,
            baseline: None,
            operating_system: None,
            window_id: format!("{id}Window"),
            task_id: format!("{id}Task"),
            targets: Vec::new(),
            cron: schedule.cron.to_string(),
            // SSM refuses `ScheduleOffset: 0`: a zero offset is left out of the template.
            offset_days: (schedule.offset_days > 0).then_some(schedule.offset_days),
            schedule,
            duration: p.windows.duration_hours,
            cutoff: p.windows.cutoff_hours,
            cutoff_behavior: cutoff_behavior(p),
            document: "",
            parameters: Vec::new(),
            max_concurrency: String::new(),
            max_errors: String::new(),
            gate: None,
            stopped: None,
            snapshot_task_id: None,
            zone: None,
            site: None,
            refresh: Vec::new(),
        }
    }

    /// A window of an on-premises site (`hybrid.sites`): it opens in the site's zone in every
    /// region, instead of the region's.
    pub(super) fn at_site(self, site: &str, zone: &str) -> WindowPlan {
        WindowPlan {
            zone: Some(zone.to_owned()),
            site: Some(site.to_owned()),
            ..self
        }
    }

    /// The ring (or team window) and the baseline an install or build window belongs to.
    pub(super) fn in_ring(self, ring: String, b: &Baseline) -> WindowPlan {
        WindowPlan {
            ring: Some(ring),
            baseline: Some(b.name.clone()),
            operating_system: Some(b.operating_system.as_str()),
            ..self
        }
    }

    /// The window's targets.
    pub(super) fn targets(self, targets: Vec<TargetPlan>) -> WindowPlan {
        WindowPlan { targets, ..self }
    }

    /// The Run Command task: document, parameters and rate controls.
    pub(super) fn task(
        self,
        document: &'static str,
        parameters: Vec<Param>,
        max_concurrency: String,
        max_errors: String,
    ) -> WindowPlan {
        WindowPlan {
            document,
            parameters,
            max_concurrency,
            max_errors,
            ..self
        }
    }
}

/// The task that patches the window's stopped instances: it reads the window run's gate decision
/// (when gated) and the exceptions, then starts, patches and stops again the instances it found
/// stopped that nothing leaves alone.
#[derive(Debug, Clone, Serialize)]
pub struct StoppedTaskPlan {
    /// Logical id of the task.
    pub task_id: String,
    /// Where the window's gate records its decision; `None` for an ungated window.
    pub decision_parameter: Option<String>,
    /// The window's patch group.
    pub patch_group: String,
}

/// A gated window's gate: a priority-0 Automation task that judges the earlier ring and records
/// its decision for the run, which every per-node install of the run reads first.
#[derive(Debug, Clone, Serialize)]
pub struct GatePlan {
    /// Logical id of the gate task.
    pub task_id: String,
    /// The SSM parameter an operator sets to open the gate on purpose.
    pub parameter: String,
    /// Where the gate records its decision for each window run.
    pub decision_parameter: String,
    /// Logical id of the window of the same baseline's earlier ring, in this stack: the gate
    /// reads that window's last run as SSM records it (ADR 016, amended).
    pub previous_window_id: String,
    /// That ring's name, for the gate's reason.
    pub previous_ring: String,
    /// Its threshold, as a string parameter.
    pub max_failed_percent: String,
    /// The patch group this window installs.
    pub patch_group: String,
}

/// A window target.
#[derive(Debug, Clone, Serialize)]
pub struct TargetPlan {
    /// Logical id.
    pub logical_id: String,
    /// Patch groups.
    pub values: Vec<String>,
}

/// A task parameter.
#[derive(Debug, Clone, Serialize)]
pub struct Param {
    /// Name.
    pub name: &'static str,
    /// Value.
    pub value: String,
}

/// `CutoffBehavior` of every window of the policy.
fn cutoff_behavior(p: &Policy) -> &'static str {
    match p.windows.cutoff_behavior {
        CutoffBehavior::CancelTask => "CANCEL_TASK",
        CutoffBehavior::ContinueTask => "CONTINUE_TASK",
    }
}
