//! `ami_pipeline:`: golden images rebuilt in a ring's window.

use serde::{Deserialize, Serialize};

/// `ami_pipeline:`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AmiPipeline {
    /// Accounts that build images.
    pub accounts: Vec<String>,
    /// Regions that build images.
    pub regions: Vec<String>,
    /// Ring whose install window the builds follow.
    pub aligned_to_ring: String,
    /// Images to build.
    pub images: Vec<Image>,
    /// Where every image goes besides the account and region that built it.
    #[serde(default)]
    pub distribute: Distribute,
}

/// `ami_pipeline.distribute`: the accounts each image is copied to and the regions it is copied
/// into (in the building account and in each of these accounts); every copy's id is recorded in
/// the SSM parameter `/patchplane/<policy>/ami/<image>` of its account and region.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Distribute {
    /// Accounts the image is copied to.
    #[serde(default)]
    pub accounts: Vec<String>,
    /// Regions besides the building one.
    #[serde(default)]
    pub regions: Vec<String>,
}

/// A launch template Image Builder gives a new version with the new image, made the default.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LaunchTemplateRef {
    /// `lt-…`.
    pub id: String,
    /// Its account.
    pub account: String,
    /// Its region.
    pub region: String,
}

/// `images[].refresh`: Auto Scaling groups tagged `patchplane:image=<image>` and
/// `patchplane:ring=<ring>` are refreshed in their ring's install window, once its gate opened.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Refresh {
    /// Percentage of the group that stays in service during the refresh (0-100).
    pub min_healthy_percentage: u8,
}

/// One golden image.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Image {
    /// Image name, 3-64 of `a-zA-Z0-9_-`.
    pub name: String,
    /// Baseline whose approved patches the build applies.
    pub baseline: String,
    /// Parent image: an AMI id, an `ssm:` parameter, or an Image Builder ARN.
    pub parent_image: String,
    /// Launch templates to point at each new image.
    #[serde(default)]
    pub launch_templates: Vec<LaunchTemplateRef>,
    /// Refresh the Auto Scaling groups launched from it, ring by ring.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh: Option<Refresh>,
}
