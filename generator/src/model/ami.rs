//! The AMI pipeline StackSet (`ami-pipeline/`): per image an Image Builder component, recipe,
//! infrastructure, distribution and pipeline, started by a maintenance window with exactly the
//! aligned ring's install schedule for the image's baseline.

use serde::Serialize;

use super::RegionZone;
use super::names::{self, pascal_words};
use super::request::RequestPlan;
use super::window::{WindowKind, WindowPlan};
use crate::policy::{AmiPipeline, OperatingSystem, Policy};
use crate::resolve::{ScheduleError, resolve_schedule};

/// The AMI pipeline StackSet: per image a recipe, infrastructure, distribution and pipeline with
/// no schedule of its own, started by a maintenance window with the aligned ring's schedule.
#[derive(Debug, Clone, Serialize)]
pub struct AmiPlan {
    /// Folder below the output directory.
    pub dir: String,
    /// StackSet name.
    pub stack_set_name: String,
    /// Template description.
    pub description: String,
    /// Policy name.
    pub policy_name: String,
    /// Tag key carrying the patch group.
    pub patch_group_tag: String,
    /// Region → zone, for the regions that build.
    pub regions: Vec<RegionZone>,
    /// Images.
    pub images: Vec<ImagePlan>,
    /// Automation document name (starts a pipeline).
    pub start_document: String,
    /// StackSet request.
    #[serde(skip)]
    pub request: RequestPlan,
}

/// One golden image.
#[derive(Debug, Clone, Serialize)]
pub struct ImagePlan {
    /// Logical ids of its resources.
    pub ids: ImageIds,
    /// Image Builder component name.
    pub component_name: String,
    /// Component description.
    pub component_description: String,
    /// Image name.
    pub name: String,
    /// Baseline whose patches the build applies.
    pub baseline: String,
    /// Patch group the build instance joins (`<group_prefix>-<ring>`).
    pub patch_group: String,
    /// `Linux` or `Windows`.
    pub platform: &'static str,
    /// Parent image.
    pub parent_image: String,
    /// Component document (YAML text).
    pub component_data: String,
    /// Component and recipe version, derived from their content (Image Builder versions are
    /// immutable, so a change must get a new one).
    pub version: String,
    /// AMI name pattern; `{{ imagebuilder:buildDate }}` is Image Builder's own variable.
    pub ami_name: String,
    /// The window that starts the build.
    pub window: WindowPlan,
    /// Where the image goes: this stack's region first, then `distribute.regions`.
    pub distributions: Vec<DistributionPlan>,
    /// The SSM parameter recording the newest image in each account and region it reaches.
    pub parameter: String,
}

/// One region an image is distributed in.
#[derive(Debug, Clone, Serialize)]
pub struct DistributionPlan {
    /// The region; `None`: the stack's own (the building region).
    pub region: Option<String>,
    /// Accounts the image is copied to (`distribute.accounts`).
    pub target_accounts: Vec<String>,
    /// Launch templates given a new default version with the image, in this region.
    pub launch_templates: Vec<crate::policy::LaunchTemplateRef>,
}

/// The SSM parameter holding an image's newest id: `/patchplane/<policy>/ami/<image>`.
pub fn image_parameter(policy: &str, image: &str) -> String {
    format!("/patchplane/{policy}/ami/{image}")
}

/// Logical ids of one image's resources (templates never build ids by concatenation: every
/// value is a quoted scalar).
#[derive(Debug, Clone, Serialize)]
pub struct ImageIds {
    /// `AWS::ImageBuilder::Component`.
    pub component: String,
    /// `AWS::ImageBuilder::ImageRecipe`.
    pub recipe: String,
    /// `AWS::ImageBuilder::InfrastructureConfiguration`.
    pub infrastructure: String,
    /// `AWS::ImageBuilder::DistributionConfiguration`.
    pub distribution: String,
    /// `AWS::ImageBuilder::ImagePipeline`.
    pub pipeline: String,
}

const LINUX_COMPONENT: &str = include_str!("../../../templates/components/apply-patch-baseline-linux.yaml");
const WINDOWS_COMPONENT: &str = include_str!("../../../templates/components/apply-patch-baseline-windows.yaml");

/// FNV-1a: a stable content hash (std's hasher is not stable across releases).
fn fnv1a(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in part.bytes().chain([0u8]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// The AMI pipeline StackSet of a policy with `ami_pipeline`.
pub(super) fn build(p: &Policy, a: &AmiPipeline) -> Result<AmiPlan, ScheduleError> {
    let ring = p
        .rings
        .iter()
        .find(|r| r.name == a.aligned_to_ring)
        .ok_or_else(|| ScheduleError {
            key: "ami_pipeline.aligned_to_ring".into(),
            message: format!("ring `{}` is not defined", a.aligned_to_ring),
        })?;
    let mut images = Vec::new();
    for img in &a.images {
        let b = p
            .baselines
            .iter()
            .find(|b| b.name == img.baseline)
            .ok_or_else(|| ScheduleError {
                key: "ami_pipeline.images".into(),
                message: format!("baseline `{}` is not defined", img.baseline),
            })?;
        // Exactly the install window of this baseline in the aligned ring: same cron, offset, zone.
        let ws = resolve_schedule(&ring.schedule, b.install_offset_days)?;
        let windows_os = b.operating_system == OperatingSystem::Windows;
        let component_data = if windows_os { WINDOWS_COMPONENT } else { LINUX_COMPONENT }.to_owned();
        let patch_group = names::patch_group(&b.group_prefix, &ring.name);
        let version = format!(
            "1.0.{}",
            fnv1a(&[&component_data, &img.parent_image, &patch_group]) % 1_000_000
        );
        let id = format!("Image{}", pascal_words(&img.name));
        images.push(ImagePlan {
            // Targetless: the task is the Automation document that starts the pipeline.
            window: WindowPlan::new(
                p,
                WindowKind::Ami,
                &id,
                format!("{}-{}-ami-build", p.name, img.name),
                format!(
                    "Builds image {} in ring {}'s window for baseline {}",
                    img.name, ring.name, b.name
                ),
                ws,
            )
            .in_ring(ring.name.clone(), b),
            ids: ImageIds {
                component: format!("{id}Component"),
                recipe: format!("{id}Recipe"),
                infrastructure: format!("{id}Infrastructure"),
                distribution: format!("{id}Distribution"),
                pipeline: format!("{id}Pipeline"),
            },
            component_name: format!("{}-apply-patch-baseline-{}", p.name, img.name),
            component_description: format!("Applies the patch baseline of patch group {patch_group}, then reboots"),
            name: img.name.clone(),
            baseline: b.name.clone(),
            patch_group,
            platform: if windows_os { "Windows" } else { "Linux" },
            parent_image: img.parent_image.clone(),
            component_data,
            version,
            ami_name: format!("{}-{{{{ imagebuilder:buildDate }}}}", img.name),
            distributions: std::iter::once(None)
                .chain(a.distribute.regions.iter().map(Some))
                .map(|region| DistributionPlan {
                    region: region.cloned(),
                    target_accounts: a.distribute.accounts.clone(),
                    launch_templates: img
                        .launch_templates
                        .iter()
                        .filter(|lt| match region {
                            Some(r) => &lt.region == r,
                            None => a.regions.contains(&lt.region),
                        })
                        .cloned()
                        .collect(),
                })
                .collect(),
            parameter: image_parameter(&p.name, &img.name),
        });
    }
    // Service-managed StackSets target OUs; the build accounts are picked out of them.
    let request = RequestPlan {
        accounts: a.accounts.clone(),
        account_filter: "INTERSECTION",
        regions: a.regions.clone(),
        ..RequestPlan::member(p)
    };
    Ok(AmiPlan {
        dir: "ami-pipeline".to_owned(),
        stack_set_name: format!("{}-ami-pipeline", p.name),
        description: format!(
            "patchplane golden images for policy {}: Image Builder pipelines started in ring {}'s local window",
            p.name, ring.name
        ),
        policy_name: p.name.clone(),
        patch_group_tag: p.patch_group_tag.clone(),
        regions: a
            .regions
            .iter()
            .filter_map(|r| {
                p.organization.regions.get(r).map(|z| RegionZone {
                    region: r.clone(),
                    zone: z.clone(),
                })
            })
            .collect(),
        images,
        start_document: format!("{}-start-image-pipeline", p.name),
        request,
    })
}

/// The role Image Builder's cross-account distribution assumes in each member account
/// (`EC2ImageBuilderDistributionCrossAccountRole`, a name Image Builder fixes), created by the
/// member StackSet when images are distributed to other accounts: copy the image, record it in its
/// parameter, give the named launch templates a new default version.
#[derive(Debug, Clone, Serialize)]
pub struct DistributionRolePlan {
    /// The accounts that build (and so distribute) images.
    pub build_accounts: Vec<String>,
    /// `/patchplane/<policy>/ami`: the parameters it may write are below.
    pub parameter_prefix: String,
    /// Launch template ids it may give new versions (those of any account; each exists in one).
    pub launch_templates: Vec<String>,
}

/// The distribution role, when `ami_pipeline.distribute.accounts` names any.
pub fn distribution_role(p: &Policy) -> Option<DistributionRolePlan> {
    let a = p.ami_pipeline.as_ref()?;
    (!a.distribute.accounts.is_empty()).then(|| DistributionRolePlan {
        build_accounts: a.accounts.clone(),
        parameter_prefix: format!("/patchplane/{}/ami", p.name),
        launch_templates: a
            .images
            .iter()
            .flat_map(|i| i.launch_templates.iter().map(|lt| lt.id.clone()))
            .collect(),
    })
}
