//! The central stack's permission for window notices' member accounts (issue 28), in both ways the
//! bridge may read AWS Organizations, rendered from variants of the example policy and checked by
//! cfn-lint and the cfn-guard rules: the task role's own `organizations:ListAccountsForParent` and
//! `ListOrganizationalUnitsForParent` on the organization's OU ARNs (and the root's, when a target
//! is the root; no `Resource: "*"`), or, with `notify.windows.organization.role_arn`, nothing but
//! `sts:AssumeRole` of that role.
//!
//! What this does not cover: neither tool evaluates IAM, and that Organizations answers only the
//! management account and delegated administrators is AWS's rule (README), which moto does not
//! enforce either (`organizations_moto.rs`).

use std::path::{Path, PathBuf};
use std::process::Command;

use patchplane_e2e::{cargo_tool, root, venv_tool};

const ROLE: &str = "arn:aws:iam::999999999999:role/patchplane-organization-read";

/// The example policy with `edit` applied, rendered into `dir`: its central template's path and
/// text.
fn central(dir: &Path, edit: impl Fn(String) -> String) -> (PathBuf, String) {
    let text = std::fs::read_to_string(root().join("examples/org-policy.yaml")).expect("example");
    let text = edit(text);
    let loaded = patchplane::load_str(&text, Path::new("org-policy.yaml")).unwrap_or_else(|e| panic!("{e:?}"));
    let rendered = patchplane::render::render(&loaded.plan).expect("renders");
    patchplane::output::write(dir, &rendered).expect("writes");
    let path = dir.join("central/template.yaml");
    let text = std::fs::read_to_string(&path).expect("central template");
    (path, text)
}

fn run(program: PathBuf, args: &[&std::ffi::OsStr]) -> (Option<i32>, String) {
    let out = Command::new(program).args(args).output().expect("runs");
    (
        out.status.code(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn the_task_role_lists_the_target_ous_or_assumes_the_named_role_and_both_pass_lint_and_guard() {
    let tmp = tempfile::tempdir().expect("tmp");

    // The root as target: the root's ARN joins the OUs'.
    let (direct, text) = central(&tmp.path().join("direct"), |t| {
        t.replace(
            "organizational_units: [ou-ab12-34cd56ef]",
            "organizational_units: [r-ab12]",
        )
    });
    let statement = text
        .split("- Sid: ")
        .find(|s| s.starts_with("ReadTargetOrganizationalUnits"))
        .unwrap_or_else(|| panic!("no Organizations statement in\n{text}"));
    for want in [
        "organizations:ListAccountsForParent",
        "organizations:ListOrganizationalUnitsForParent",
        "arn:${AWS::Partition}:organizations::*:ou/${Org}/*",
        "arn:${AWS::Partition}:organizations::*:root/${Org}/*",
        "Org: o-a1b2c3d4e5",
    ] {
        assert!(statement.contains(want), "missing {want} in\n{statement}");
    }
    assert!(!text.contains("ReadOrganizationThroughRole"));
    assert!(
        text.contains(r#"\"organization\":{\"targets\":{\"organizational_units\":[\"r-ab12\"]"#),
        "the generated bridge.yaml reads the policy's targets"
    );

    // Through a role: only that role may be assumed, and the bridge.yaml names it.
    let (through, text) = central(&tmp.path().join("role"), |t| {
        t.replace(
            "        windows:\n",
            &format!("        windows:\n          organization: {{role_arn: \"{ROLE}\"}}\n"),
        )
    });
    assert!(!text.contains("ReadTargetOrganizationalUnits"), "{text}");
    let statement = text
        .split("- Sid: ")
        .find(|s| s.starts_with("ReadOrganizationThroughRole"))
        .unwrap_or_else(|| panic!("no AssumeRole statement in\n{text}"));
    assert!(
        statement.contains("Action: sts:AssumeRole") && statement.contains(ROLE),
        "{statement}"
    );
    assert!(
        text.contains(&format!(r#"\"role_arn\":\"{ROLE}\""#)),
        "the bridge.yaml names the role"
    );
    assert!(
        text.contains(r#"\"organizational_units\":[\"ou-ab12-34cd56ef\"]"#),
        "targets still come from the policy"
    );

    let (code, out) = run(
        venv_tool("cfn-lint"),
        &[
            "--format".as_ref(),
            "parseable".as_ref(),
            direct.as_os_str(),
            through.as_os_str(),
        ],
    );
    assert_eq!(code, Some(0), "cfn-lint: {out}");
    let rules = root().join("tests/guard");
    let (code, out) = run(
        cargo_tool("cfn-guard"),
        &[
            "validate".as_ref(),
            "--show-summary".as_ref(),
            "fail".as_ref(),
            "--rules".as_ref(),
            rules.as_os_str(),
            "--data".as_ref(),
            tmp.path().as_os_str(),
        ],
    );
    assert_eq!(code, Some(0), "cfn-guard: {out}");
}
