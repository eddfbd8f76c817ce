//! Identifiers and names: those AWS defines (regions, partitions, organization, OU, account and
//! resource ids, S3 bucket, IAM role and SSM document names, Secrets Manager ARNs, environment
//! variable names, the patch-group tag keys, the `MaxConcurrency`/`MaxErrors` rate patterns) and
//! the policy's own (its name, baseline, ring, image and exception names, as [`NameRule`]s). The
//! lowest layer of the library: policy validation, the model and the bridge's configuration all
//! check names here, so a rule exists once; the callers only word the message.

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

/// An organization id: `o-` and 10-32 lowercase letters or digits.
pub fn is_org_id(s: &str) -> bool {
    s.strip_prefix("o-").is_some_and(|r| {
        (10..=32).contains(&r.len()) && r.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    })
}

/// An OU id (`ou-` root part `-` 8-32 chars) or a root id (`r-` 4-32 chars).
pub fn is_ou_or_root_id(s: &str) -> bool {
    let lower_alnum = |t: &str| t.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    if let Some(rest) = s.strip_prefix("ou-") {
        return match rest.split_once('-') {
            Some((a, b)) => {
                (4..=32).contains(&a.len()) && (8..=32).contains(&b.len()) && lower_alnum(a) && lower_alnum(b)
            }
            None => false,
        };
    }
    match s.strip_prefix("r-") {
        Some(r) => (4..=32).contains(&r.len()) && lower_alnum(r),
        None => false,
    }
}

/// An S3 bucket name: 3-63 of `a-z0-9.-`, a letter or digit at both ends, no `..`, not shaped
/// like an IPv4 address.
pub fn is_bucket_name(s: &str) -> bool {
    let ok_chars = s
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
    let edges = s.starts_with(|c: char| c.is_ascii_alphanumeric()) && s.ends_with(|c: char| c.is_ascii_alphanumeric());
    let ip_like = s.split('.').count() == 4 && s.split('.').all(|p| p.parse::<u8>().is_ok());
    (3..=63).contains(&s.len()) && ok_chars && edges && !s.contains("..") && !ip_like
}

/// `MaxConcurrency` of a maintenance-window task: a positive count or 1%-100%.
pub fn is_max_concurrency(s: &str) -> bool {
    rate(s, 1)
}

/// `MaxErrors` of a maintenance-window task: a count (0 allowed) or 0%-100%.
pub fn is_max_errors(s: &str) -> bool {
    rate(s, 0)
}

/// SSM's rate pattern: at most 7 digits without a leading zero, optionally a percentage; `min` is
/// the smallest value allowed.
fn rate(s: &str, min: u64) -> bool {
    let (num, pct) = match s.strip_suffix('%') {
        Some(n) => (n, true),
        None => (s, false),
    };
    if num.is_empty()
        || num.len() > 7
        || !num.bytes().all(|b| b.is_ascii_digit())
        || (num.len() > 1 && num.starts_with('0'))
    {
        return false;
    }
    match num.parse::<u64>() {
        Ok(v) => v >= min && (!pct || v <= 100),
        Err(_) => false,
    }
}

/// The tag keys Patch Manager reads a node's patch group from.
pub const PATCH_GROUP_TAG_KEYS: [&str; 2] = ["PatchGroup", "Patch Group"];

/// The policy's `name`, the prefix of every generated name: 3-32 of `a-z0-9-`, starting with a
/// letter and not ending with `-` (so `<name>-<suffix>` never holds `--`).
pub fn is_policy_name(s: &str) -> bool {
    s.len() >= 3
        && s.len() <= 32
        && s.starts_with(|ch: char| ch.is_ascii_lowercase())
        && !s.ends_with('-')
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// A health check given by reference: an SSM document name or ARN, 3-128 of letters, digits and
/// `_-.:/`.
pub fn is_document_ref(s: &str) -> bool {
    (3..=128).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-.:/".contains(&b))
}

/// A name of bounded length over a set of characters. Validation reports the length first and
/// then the first character outside the set, so a rule carries the words its message needs.
#[derive(Debug, Clone, Copy)]
pub struct NameRule {
    /// Fewest characters.
    pub min: usize,
    /// Most characters.
    pub max: usize,
    /// Whether a character may appear.
    pub allowed: fn(char) -> bool,
    /// The allowed characters in words, for a message: "only {described} are allowed".
    pub described: &'static str,
}

/// Why a name breaks its [`NameRule`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameProblem {
    /// It has this many characters, outside `min..=max`.
    Length(usize),
    /// It holds this character, outside the set.
    Char(char),
}

impl NameRule {
    /// The first problem of `s`: its length, else its first character outside the set.
    pub fn check(&self, s: &str) -> Result<(), NameProblem> {
        let n = s.chars().count();
        if n < self.min || n > self.max {
            Err(NameProblem::Length(n))
        } else if let Some(c) = s.chars().find(|c| !(self.allowed)(*c)) {
            Err(NameProblem::Char(c))
        } else {
            Ok(())
        }
    }
}

fn alnum_dash_dot_underscore(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')
}

/// `baselines[].name`: the `AWS::SSM::PatchBaseline` `Name` pattern.
pub const BASELINE_NAME: NameRule = NameRule {
    min: 3,
    max: 128,
    allowed: alnum_dash_dot_underscore,
    described: "letters, digits, `-`, `_` and `.`",
};

/// `baselines[].group_prefix`: the start of every patch group of the baseline. It must also start
/// with a letter ([`starts_with_digit`] is reported on its own).
pub const GROUP_PREFIX: NameRule = NameRule {
    min: 1,
    max: 32,
    allowed: |ch| ch.is_ascii_alphanumeric(),
    described: "letters and digits",
};

/// Whether `s` starts with a digit (a `group_prefix` must not).
pub fn starts_with_digit(s: &str) -> bool {
    s.starts_with(|ch: char| ch.is_ascii_digit())
}

/// `rings[].name`: the end of every patch group of the ring.
pub const RING_NAME: NameRule = NameRule {
    min: 1,
    max: 16,
    allowed: |ch| ch.is_ascii_lowercase() || ch.is_ascii_digit(),
    described: "lowercase letters and digits",
};

/// `install.hooks.*`: an SSM document name.
pub const DOCUMENT_NAME: NameRule = NameRule {
    min: 3,
    max: 128,
    allowed: alnum_dash_dot_underscore,
    described: "letters, digits, `-`, `_` and `.` (an SSM document name)",
};

/// `ami_pipeline.images[].name`: the Image Builder recipe and pipeline names derive from it.
pub const IMAGE_NAME: NameRule = NameRule {
    min: 3,
    max: 64,
    allowed: |ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_',
    described: "letters, digits, `-` and `_`",
};

/// `exceptions[].id`: how the report and the tickets name an exception.
pub const EXCEPTION_ID: NameRule = NameRule {
    min: 1,
    max: 64,
    allowed: |ch| ch.is_ascii_alphanumeric() || "-_.".contains(ch),
    described: "A-Z, a-z, 0-9, -, _, .",
};

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

    #[test]
    fn rate_patterns() {
        for ok in ["1", "10", "10%", "100%", "1%"] {
            assert!(is_max_concurrency(ok), "{ok}");
        }
        for bad in ["0", "0%", "101%", "", "%", "10 %", "01", "-1", "1.5", "10%%"] {
            assert!(!is_max_concurrency(bad), "{bad}");
        }
        assert!(is_max_errors("0") && is_max_errors("0%") && is_max_errors("5%"));
        assert!(!is_max_errors("101%") && !is_max_errors("x"));
    }

    #[test]
    fn ids() {
        assert!(is_ou_or_root_id("ou-ab12-34cd56ef") && is_ou_or_root_id("r-ab12"));
        assert!(!is_ou_or_root_id("ou-ab12") && !is_ou_or_root_id("OU-AB12-34CD56EF") && !is_ou_or_root_id("r-a"));
        assert!(is_account_id("012345678901") && !is_account_id("12345678901") && !is_account_id("12345678901a"));
        assert!(
            is_bucket_name("acme-patch-evidence")
                && !is_bucket_name("Acme")
                && !is_bucket_name("a..b")
                && !is_bucket_name("10.0.0.1")
        );
        assert!(is_org_id("o-a1b2c3d4e5") && !is_org_id("o-a1b2") && !is_org_id("o-A1B2C3D4E5"));
    }

    #[test]
    fn policy_names() {
        assert!(is_policy_name("acme-patching") && is_policy_name("a1b"));
        assert!(
            !is_policy_name("ab") && !is_policy_name("acme-") && !is_policy_name("1acme") && !is_policy_name("Acme")
        );
        assert!(is_document_ref("AWS-RunShellScript") && is_document_ref("arn:aws:ssm:us-east-1:1:document/x"));
        assert!(!is_document_ref("ab") && !is_document_ref("a b c"));
        assert_eq!(RING_NAME.check("early"), Ok(()));
        assert_eq!(RING_NAME.check(""), Err(NameProblem::Length(0)));
        assert_eq!(RING_NAME.check("Early"), Err(NameProblem::Char('E')));
        // The length is reported before the characters.
        assert_eq!(BASELINE_NAME.check("a$"), Err(NameProblem::Length(2)));
        assert_eq!(EXCEPTION_ID.check("EX-1.a_b"), Ok(()));
        assert!(IMAGE_NAME.check("al2023.x").is_err() && GROUP_PREFIX.check("al2023").is_ok());
        assert!(starts_with_digit("2al") && !starts_with_digit("al2"));
    }
}
