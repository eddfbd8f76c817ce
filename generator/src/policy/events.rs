//! `events:`: the event sources members forward to the central bus.

use serde::{Deserialize, Serialize};

/// `events:`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Events {
    /// Sources forwarded to the central bus: `aws.ssm`, `aws.inspector2`.
    pub forward: Vec<EventSource>,
}

impl Default for Events {
    fn default() -> Self {
        Self {
            forward: vec![EventSource::Ssm, EventSource::Inspector2],
        }
    }
}

/// An event source the member rule forwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub enum EventSource {
    /// Systems Manager: commands, maintenance windows, compliance, associations.
    #[serde(rename = "aws.ssm")]
    Ssm,
    /// Inspector findings.
    #[serde(rename = "aws.inspector2")]
    Inspector2,
}

impl EventSource {
    /// The EventBridge `source`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ssm => "aws.ssm",
            Self::Inspector2 => "aws.inspector2",
        }
    }

    /// The `detail-type`s of this source that matter to patching.
    pub fn detail_types(self) -> &'static [&'static str] {
        match self {
            Self::Ssm => &[
                "EC2 Command Status-change Notification",
                "EC2 Command Invocation Status-change Notification",
                "Maintenance Window Execution State-change Notification",
                "Maintenance Window Task Execution State-change Notification",
                "Maintenance Window Task Target Invocation State-change Notification",
                "Configuration Compliance State Change",
                "EC2 State Manager Association State Change",
                "EC2 State Manager Instance Association State Change",
            ],
            Self::Inspector2 => &["Inspector2 Finding"],
        }
    }
}
