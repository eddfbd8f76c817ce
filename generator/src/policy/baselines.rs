//! `baselines:`: custom patch baselines, their approval rules and patch lists, and what each
//! operating system allows in them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One custom patch baseline.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Baseline {
    /// Baseline name, 3-128 of `a-zA-Z0-9_.-`.
    pub name: String,
    /// Free-text description rendered into the baseline (any characters, at most 1024).
    #[serde(default)]
    pub description: Option<String>,
    /// `AWS::SSM::PatchBaseline` `OperatingSystem`.
    pub operating_system: OperatingSystem,
    /// Patch groups of this baseline are `<group_prefix>-<ring>`; letters and digits only.
    pub group_prefix: String,
    /// Register as the OS's default baseline (at most one per OS).
    #[serde(default)]
    pub default: bool,
    /// Days added to every ring's install schedule for this OS, so OSes do not reboot the same night.
    #[serde(default)]
    pub install_offset_days: i64,
    /// Approval rules, 1-10.
    pub rules: Vec<Rule>,
    /// Patch ids always approved (at most 50).
    #[serde(default)]
    pub approved_patches: Vec<String>,
    /// Compliance level reported for missing approved patches.
    #[serde(default)]
    pub approved_patches_compliance: Option<Compliance>,
    /// Patch ids never installed (at most 50).
    #[serde(default)]
    pub rejected_patches: Vec<String>,
    /// What happens to rejected patches: `BLOCK` or `ALLOW_AS_DEPENDENCY`.
    #[serde(default = "default_rejected_action")]
    pub rejected_patches_action: RejectedPatchesAction,
}

fn default_rejected_action() -> RejectedPatchesAction {
    RejectedPatchesAction::Block
}

/// Operating systems of `AWS::SSM::PatchBaseline`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[allow(missing_docs)]
pub enum OperatingSystem {
    Windows,
    AmazonLinux,
    #[serde(rename = "AMAZON_LINUX_2")]
    AmazonLinux2,
    #[serde(rename = "AMAZON_LINUX_2022")]
    AmazonLinux2022,
    #[serde(rename = "AMAZON_LINUX_2023")]
    AmazonLinux2023,
    Ubuntu,
    RedhatEnterpriseLinux,
    Suse,
    Centos,
    OracleLinux,
    Debian,
    Macos,
    Raspbian,
    RockyLinux,
    AlmaLinux,
}

impl OperatingSystem {
    /// The value CloudFormation expects.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Windows => "WINDOWS",
            Self::AmazonLinux => "AMAZON_LINUX",
            Self::AmazonLinux2 => "AMAZON_LINUX_2",
            Self::AmazonLinux2022 => "AMAZON_LINUX_2022",
            Self::AmazonLinux2023 => "AMAZON_LINUX_2023",
            Self::Ubuntu => "UBUNTU",
            Self::RedhatEnterpriseLinux => "REDHAT_ENTERPRISE_LINUX",
            Self::Suse => "SUSE",
            Self::Centos => "CENTOS",
            Self::OracleLinux => "ORACLE_LINUX",
            Self::Debian => "DEBIAN",
            Self::Macos => "MACOS",
            Self::Raspbian => "RASPBIAN",
            Self::RockyLinux => "ROCKY_LINUX",
            Self::AlmaLinux => "ALMA_LINUX",
        }
    }

    /// Patch filter keys this OS accepts in an approval rule (DESIGN §4).
    pub fn rule_filter_keys(self) -> &'static [&'static str] {
        match self {
            Self::Windows => &["PRODUCT", "PRODUCT_FAMILY", "CLASSIFICATION", "MSRC_SEVERITY"],
            Self::Ubuntu | Self::Debian | Self::Raspbian => &["PRODUCT", "PRIORITY"],
            Self::Macos => &["PRODUCT", "CLASSIFICATION"],
            _ => &["PRODUCT", "CLASSIFICATION", "SEVERITY"],
        }
    }

    /// Whether approval rules may delay approval (`ApproveAfterDays`); Debian-family OSes can't,
    /// because their repositories publish no reliable release dates.
    pub fn supports_approve_after_days(self) -> bool {
        !matches!(self, Self::Ubuntu | Self::Debian | Self::Raspbian)
    }
}

/// One approval rule of a baseline.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Filter key → values; every key must be valid for the baseline's OS.
    pub filters: BTreeMap<String, Vec<String>>,
    /// Days after release before a patch is approved, 0-360 (not on Ubuntu/Debian).
    #[serde(default)]
    pub approve_after_days: Option<i64>,
    /// Compliance severity reported when a patch this rule approves is missing.
    pub compliance: Compliance,
    /// Also approve non-security updates (Linux only).
    #[serde(default)]
    pub enable_non_security: bool,
}

/// `ComplianceLevel`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[allow(missing_docs)]
pub enum Compliance {
    Critical,
    High,
    Medium,
    Low,
    Informational,
    Unspecified,
}

/// `RejectedPatchesAction`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RejectedPatchesAction {
    /// Never install, not even as a dependency.
    Block,
    /// Install when another approved patch depends on it.
    AllowAsDependency,
}
