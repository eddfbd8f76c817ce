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
}
