//! Identifiers and names AWS defines: regions, partitions, account ids, resource ids, IAM role
//! names, Secrets Manager ARNs, environment variable names. The lowest layer of the library:
//! policy validation, the model and the bridge's configuration all check names here, so a rule
//! exists once.

/// A managed node id: `i-` and 8 or 17 hex digits (EC2), or `mi-` and 17 (hybrid), as SSM's
/// `InstanceId` pattern.
pub fn is_node_id(s: &str) -> bool {
    let hex = |r: &str, lens: &[usize]| lens.contains(&r.len()) && r.bytes().all(|b| b.is_ascii_hexdigit());
    match (s.strip_prefix("mi-"), s.strip_prefix("i-")) {
        (Some(r), _) => hex(r, &[17]),
        (None, Some(r)) => hex(r, &[8, 17]),
        _ => false,
    }
}

/// Regions patchplane knows (commercial, GovCloud, China). A region missing here is a typo more
/// often than a launch; the message lists how to spell them.
pub const KNOWN_REGIONS: &[&str] = &[
    "af-south-1",
    "ap-east-1",
    "ap-east-2",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-southeast-6",
    "ap-southeast-7",
    "ca-central-1",
    "ca-west-1",
    "cn-north-1",
    "cn-northwest-1",
    "eu-central-1",
    "eu-central-2",
    "eu-north-1",
    "eu-south-1",
    "eu-south-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "il-central-1",
    "me-central-1",
    "me-south-1",
    "mx-central-1",
    "sa-east-1",
    "us-east-1",
    "us-east-2",
    "us-gov-east-1",
    "us-gov-west-1",
    "us-west-1",
    "us-west-2",
];

/// The AWS partition of a region.
pub fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

/// A 12-digit account id.
pub fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// Lowercase hex ids like `subnet-0abc…`: the prefix, then 8 or 17 hex digits.
pub fn is_aws_id(s: &str, prefix: &str) -> bool {
    s.strip_prefix(prefix)
        .is_some_and(|h| matches!(h.len(), 8 | 17) && h.chars().all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)))
}

/// `FOO_BAR`: what ECS accepts as an environment variable name and a shell can read.
pub fn is_env_name(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with(|c: char| c.is_ascii_digit())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `arn:PARTITION:secretsmanager:REGION:ACCOUNT:secret:NAME`.
pub fn is_secret_arn(s: &str) -> bool {
    let parts: Vec<&str> = s.splitn(7, ':').collect();
    parts.len() == 7
        && parts[0] == "arn"
        && matches!(parts[1], "aws" | "aws-cn" | "aws-us-gov")
        && parts[2] == "secretsmanager"
        && KNOWN_REGIONS.contains(&parts[3])
        && is_account_id(parts[4])
        && parts[5] == "secret"
        && !parts[6].is_empty()
        && !parts[6].contains(char::is_whitespace)
}

/// An IAM role name without a path: 1-64 of letters, digits and `+=,.@_-`.
pub fn is_role_name(s: &str) -> bool {
    (1..=64).contains(&s.len()) && s.chars().all(|ch| ch.is_ascii_alphanumeric() || "+=,.@_-".contains(ch))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_arns() {
        assert!(is_env_name("SERVICENOW_PASSWORD") && !is_env_name("1BAD") && !is_env_name("A-B") && !is_env_name(""));
        assert!(is_secret_arn(
            "arn:aws:secretsmanager:us-east-1:111111111111:secret:snow-AbCdEf"
        ));
        for bad in [
            "arn:aws:ssm:us-east-1:111111111111:parameter/x",
            "arn:aws:secretsmanager:us-east-9:111111111111:secret:x",
            "arn:aws:secretsmanager:us-east-1:1111:secret:x",
            "arn:aws:secretsmanager:us-east-1:111111111111:secret:",
        ] {
            assert!(!is_secret_arn(bad), "{bad}");
        }
        assert!(is_role_name("patchplane-bridge-tags") && !is_role_name("a/b") && !is_role_name(&"r".repeat(65)));
        assert_eq!(partition("cn-north-1"), "aws-cn");
        assert_eq!(partition("us-gov-west-1"), "aws-us-gov");
        assert_eq!(partition("eu-west-1"), "aws");
    }
}
