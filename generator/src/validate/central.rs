//! `central:`: the central account, its region and evidence bucket, and `central.bridge` (the
//! bridge service on Fargate, with its own `bridge.yaml` rules under `central.bridge.config`).

use super::{Checker, shorten};
use crate::diag::Finding;
use crate::ids::{KNOWN_REGIONS, is_account_id, is_aws_id, is_bucket_name, is_env_name, is_role_name, is_secret_arn};
use crate::policy::{BridgeService, Policy};

/// Checks `central`, then `central.bridge` when it is set.
pub(super) fn check(c: &mut Checker, p: &Policy) {
    if !is_account_id(&p.central.account) {
        c.error(
            "central.account",
            format!(
                "`{}` is not a 12-digit account id (quote it so leading zeros survive)",
                shorten(&p.central.account)
            ),
        );
    }
    if !KNOWN_REGIONS.contains(&p.central.region.as_str()) {
        c.error(
            "central.region",
            format!("`{}` is not an AWS region patchplane knows", shorten(&p.central.region)),
        );
    }
    if !is_bucket_name(&p.central.evidence_bucket) {
        c.error(
            "central.evidence_bucket",
            format!(
                "`{}` is not a valid S3 bucket name (3-63 of a-z, 0-9, . and -)",
                shorten(&p.central.evidence_bucket)
            ),
        );
    }

    if let Some(b) = &p.central.bridge {
        bridge(c, p, b);
    }
}

/// `central.bridge`: the ECS service, the member role, the secrets, and the bridge's own configuration.
fn bridge(c: &mut Checker, p: &Policy, b: &BridgeService) {
    let image = &b.image;
    let name_part = image.rsplit('/').next().unwrap_or_default();
    if image.is_empty() || image.len() > 255 || image.contains(|ch: char| ch.is_whitespace() || ch.is_control()) {
        c.error(
            "central.bridge.image",
            "must be an image reference (1-255 characters, no spaces)",
        );
    } else if !(name_part.contains(':') || image.contains('@')) {
        c.error(
            "central.bridge.image",
            format!(
                "`{}` has no tag or digest; pin one, so a deployment is reproducible",
                shorten(image)
            ),
        );
    } else if name_part.ends_with(":latest") {
        c.warn(
            "central.bridge.image",
            "`:latest` moves under you; pin a version or a digest",
        );
    }
    if !(1..=16).contains(&b.subnets.len()) {
        c.error("central.bridge.subnets", "name 1-16 subnets");
    }
    for (i, s) in b.subnets.iter().enumerate() {
        if !is_aws_id(s, "subnet-") {
            c.error(
                format!("central.bridge.subnets[{i}]"),
                format!("`{}` is not a subnet id", shorten(s)),
            );
        }
    }
    if !(1..=5).contains(&b.security_groups.len()) {
        c.error("central.bridge.security_groups", "name 1-5 security groups");
    }
    for (i, s) in b.security_groups.iter().enumerate() {
        if !is_aws_id(s, "sg-") {
            c.error(
                format!("central.bridge.security_groups[{i}]"),
                format!("`{}` is not a security group id", shorten(s)),
            );
        }
    }
    if b.desired_count > 10 {
        c.error("central.bridge.desired_count", "must be 0-10");
    }
    let memory_ok = match b.cpu {
        256 => matches!(b.memory, 512 | 1024 | 2048),
        512 => (1024..=4096).contains(&b.memory) && b.memory.is_multiple_of(1024),
        1024 => (2048..=8192).contains(&b.memory) && b.memory.is_multiple_of(1024),
        _ => {
            c.error("central.bridge.cpu", "must be 256, 512 or 1024 (Fargate CPU units)");
            true
        }
    };
    if !memory_ok {
        c.error(
            "central.bridge.memory",
            format!("{} MiB is not a Fargate size for {} CPU units", b.memory, b.cpu),
        );
    }
    if !is_role_name(&b.member_role_name) {
        c.error(
            "central.bridge.member_role_name",
            "must be an IAM role name (1-64 of letters, digits and +=,.@_-)",
        );
    }
    for (name, arn) in &b.secrets {
        if !is_env_name(name) {
            c.error(
                format!("central.bridge.secrets.{name}"),
                "the key must be an environment variable name (letters, digits, `_`)",
            );
        }
        if !is_secret_arn(arn) {
            c.error(
                format!("central.bridge.secrets.{name}"),
                format!(
                    "`{}` is not a Secrets Manager ARN (arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME)",
                    shorten(arn)
                ),
            );
        }
    }
    // The bridge's own rules, once: the same checks `patchplane-bridge check` runs, under this key,
    // on the file as the bridge gets it: window notices' targets filled from `organization.targets`
    // (whose own rules report them there, so not twice).
    let own_targets = b
        .config
        .notify
        .as_ref()
        .and_then(|n| n.windows.as_ref())
        .and_then(|w| w.organization.as_ref())
        .is_some_and(|o| !o.targets.is_empty());
    for f in crate::model::fill_organization(p, b.config.clone()).validate() {
        if !own_targets && f.path.starts_with("notify.windows.organization.targets") {
            continue;
        }
        let path = if f.path.is_empty() {
            "central.bridge.config".to_owned()
        } else {
            format!("central.bridge.config.{}", f.path)
        };
        c.out.push(Finding { path, ..f });
    }
}
