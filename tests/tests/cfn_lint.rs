//! cfn-lint over every template the generator renders. Zero errors and zero warnings: a warning
//! that had to be kept would be listed in `JUSTIFIED` with its reason. (There is none today.)

use std::path::{Path, PathBuf};
use std::process::Command;

use patchplane_e2e::{generate, root, venv_tool};

/// Warnings kept on purpose: (rule id, why). Empty: every template lints clean.
const JUSTIFIED: &[(&str, &str)] = &[];

const POLICIES: &[&str] = &[
    "examples/org-policy.yaml",
    "examples/sunday-after-patch-tuesday.yaml",
    "tests/fixtures/policies/every-option.yaml",
];

fn lint(templates: &[PathBuf]) -> (Option<i32>, String) {
    let out = Command::new(venv_tool("cfn-lint"))
        .arg("--format")
        .arg("parseable")
        .args(templates)
        .output()
        .expect("cfn-lint runs");
    (
        out.status.code(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn templates(files: &[PathBuf]) -> Vec<PathBuf> {
    files
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "yaml"))
        .cloned()
        .collect()
}

#[test]
fn every_generated_template_lints_clean() {
    let tmp = tempfile::tempdir().expect("tmp");
    let mut all = Vec::new();
    for (i, p) in POLICIES.iter().enumerate() {
        let (files, notes) = generate(p, &tmp.path().join(i.to_string()));
        // The only note an example may carry: its member template goes by URL (ADR 003), as the
        // per-node install (ADR 026) makes a policy of several rings and baselines outgrow
        // `TemplateBody`.
        assert!(
            notes
                .iter()
                .all(|n| n.contains("over the 51200-byte TemplateBody limit")),
            "{p}: {notes:?}"
        );
        all.extend(templates(&files));
    }
    // The committed output is linted too (it is what rollout deploys): every stacksets/*/*/template.yaml.
    let committed = root().join("stacksets");
    for policy in std::fs::read_dir(&committed).expect("stacksets/") {
        for stack in std::fs::read_dir(policy.expect("entry").path()).expect("policy dir") {
            let template = stack.expect("entry").path().join("template.yaml");
            if template.exists() {
                all.push(template);
            }
        }
    }
    assert!(
        all.iter().any(|t| t.ends_with("acme/ami-pipeline/template.yaml")),
        "{all:?}"
    );
    let (code, output) = lint(&all);
    let unjustified: Vec<&str> = output
        .lines()
        .filter(|l| !l.trim().is_empty())
        .filter(|l| !JUSTIFIED.iter().any(|(rule, _)| l.contains(&format!(":{rule}:"))))
        .collect();
    assert!(unjustified.is_empty(), "cfn-lint findings:\n{}", unjustified.join("\n"));
    assert_eq!(code, Some(0), "{output}");
}

/// A negative control: cfn-lint really checks these templates (an out-of-range ScheduleOffset and
/// ApproveAfterDays are caught), so the clean result above means something.
#[test]
fn cfn_lint_catches_a_broken_template() {
    let tmp = tempfile::tempdir().expect("tmp");
    let (files, _) = generate("examples/org-policy.yaml", tmp.path());
    let template = templates(&files).remove(0);
    let text = std::fs::read_to_string(&template).expect("read");
    let broken = text
        .replacen("      Duration: 4\n", "      Duration: 4\n      ScheduleOffset: 9\n", 1)
        .replacen("ApproveAfterDays: 7", "ApproveAfterDays: 400", 1);
    assert_ne!(broken, text);
    std::fs::write(&template, broken).expect("write");
    let (code, output) = lint(&[template]);
    assert_ne!(code, Some(0), "{output}");
    assert!(
        output.contains("E3034:9 is greater than the maximum of 6"),
        "ScheduleOffset 9 not caught: {output}"
    );
    assert!(
        output.contains("E3034:400 is greater than the maximum of 360"),
        "ApproveAfterDays 400 not caught: {output}"
    );
}

/// 10 baselines × 6 rings: the template passes CloudFormation's 51,200-byte TemplateBody limit
/// and `generate` says so; cfn-lint still finds nothing wrong with it.
#[test]
fn a_template_over_the_body_limit_is_reported() {
    let tmp = tempfile::tempdir().expect("tmp");
    let policy = big_policy(tmp.path());
    let loaded = patchplane::load_file(&policy).expect("big policy loads");
    let rendered = patchplane::render::render(&loaded.plan).expect("renders");
    let template = &rendered.files[0].contents;
    assert!(
        template.len() > patchplane::render::TEMPLATE_BODY_LIMIT,
        "{} bytes",
        template.len()
    );
    assert_eq!(rendered.notes.len(), 1);
    assert!(
        rendered.notes[0].contains("over the 51200-byte TemplateBody limit")
            && rendered.notes[0].contains("rollout uploads it"),
        "{}",
        rendered.notes[0]
    );
    // 61 windows exceed SSM's default quota of 50 per region: a warning, not an error.
    assert!(
        loaded
            .warnings
            .iter()
            .any(|w| w.message.contains("61 maintenance windows"))
    );
    // The request names its template and pins its hash, whatever its size (ADR 023); rollout
    // decides from the size to upload it (ADR 003).
    let request: serde_json::Value = serde_json::from_str(&rendered.files[1].contents).expect("stackset.json");
    let create = &request["CreateStackSet"];
    assert_eq!(create["TemplateFile"], "template.yaml");
    assert_eq!(
        create["TemplateSha256"].as_str(),
        Some(patchplane::render::sha256_hex(template.as_bytes()).as_str())
    );
    assert!(create.get("TemplateBody").is_none() && create.get("TemplateURL").is_none());
    // 60 patch groups need two scan targets (at most 50 values each).
    assert!(template.contains("ScanTarget2:"));
    patchplane::output::write(&tmp.path().join("out"), &rendered).expect("write");
    let (code, output) = lint(&[tmp.path().join("out/patching/template.yaml")]);
    assert_eq!(code, Some(0), "{output}");
}

fn big_policy(dir: &Path) -> PathBuf {
    let base = std::fs::read_to_string(root().join("examples/org-policy.yaml")).expect("example");
    let path = dir.join("big.yaml");
    std::fs::write(&path, patchplane_e2e::ten_baselines_six_rings(&base)).expect("write");
    path
}
