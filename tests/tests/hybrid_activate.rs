//! `patchplane hybrid activate` (issue 29 item 3) through the binary, against a local endpoint
//! that answers `CreateActivation` with AWS's documented example
//! (`tests/fixtures/aws/ssm/CreateActivation.json`, citing the CLI reference page) and records
//! the request.
//!
//! moto implements no hybrid activation API (moto 5.2.5 has no `CreateActivation`), so this test
//! checks the request against the documented API shape instead: the JSON protocol's
//! `X-Amz-Target: AmazonSSM.CreateActivation`, a SigV4 signature for service `ssm`, and the
//! parameters of https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_CreateActivation.html
//! (`IamRole` a role name, `RegistrationLimit` 1 to 1000, `ExpirationDate` at most 30 days on,
//! `Tags`, which AWS applies to every node the activation registers). The service role itself is
//! in the member template (cfn-lint, cfn-guard) and its trust is AWS's documented one.

use std::process::Output;

use patchplane_e2e::webhook::{Answer, Receiver};
use patchplane_e2e::{patchplane_bin, root};
use serde_json::Value;

fn documented() -> Value {
    let text = std::fs::read_to_string(root().join("tests/fixtures/aws/ssm/CreateActivation.json")).expect("fixture");
    serde_json::from_str::<Value>(&text).expect("json")["response"].clone()
}

fn activate(endpoint: &str, args: &[&str]) -> Output {
    std::process::Command::new(patchplane_bin())
        .current_dir(root())
        .args(["hybrid", "activate", "examples/sunday-after-patch-tuesday.yaml"])
        .args(args)
        .args(["--endpoint-url", endpoint, "--region", "eu-west-1"])
        .env("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
        .env("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN")
        .output()
        .expect("runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn an_activation_for_a_site_tags_its_nodes_and_keeps_the_code_secret() {
    let ssm = Receiver::start();
    let answer = documented();
    ssm.answer(Answer::new(200, &answer.to_string()));
    let code = answer["ActivationCode"].as_str().expect("code");
    let id = answer["ActivationId"].as_str().expect("id");
    let tmp = tempfile::tempdir().expect("tmp");
    let file = tmp.path().join("dc-fra.code");
    let before = jiff::Timestamp::now().as_second();

    let out = activate(
        &ssm.url(""),
        &[
            "--site",
            "dc-fra",
            "--count",
            "150",
            "--expires-in-hours",
            "72",
            "--code-file",
            file.to_str().expect("utf-8"),
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));

    let sent = ssm.received();
    assert_eq!(sent.len(), 1);
    let r = &sent[0];
    assert_eq!(r.header("x-amz-target"), Some("AmazonSSM.CreateActivation"));
    assert_eq!(r.header("content-type"), Some("application/x-amz-json-1.1"));
    assert!(
        r.header("authorization")
            .is_some_and(|a| a.starts_with("AWS4-HMAC-SHA256") && a.contains("/eu-west-1/ssm/aws4_request")),
        "{:?}",
        r.header("authorization")
    );
    let body = r.json.as_ref().expect("JSON body");
    // The sunday example: site dc-fra runs only its Windows baseline (group prefix Win2022) in
    // its one ring `all`; the StackSet's role is `sunday-hybrid-nodes`.
    assert_eq!(body["IamRole"], "sunday-hybrid-nodes");
    assert_eq!(body["RegistrationLimit"], 150);
    assert_eq!(
        body["Tags"],
        serde_json::json!([
            {"Key": "PatchGroup", "Value": "Win2022-dc-fra-all"},
            {"Key": "patchplane:site", "Value": "dc-fra"}
        ])
    );
    let expires = body["ExpirationDate"].as_i64().expect("epoch seconds");
    assert!(
        (before + 72 * 3600..=before + 72 * 3600 + 60).contains(&expires),
        "{expires}"
    );

    // The code went to the file only, readable by its owner only.
    assert_eq!(std::fs::read_to_string(&file).expect("code file").trim(), code);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&file).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(
        !stdout.contains(code) && !stderr.contains(code),
        "the code leaked:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains(&format!("-activation-id \"{id}\" -region \"eu-west-1\"")),
        "{stdout}"
    );
    assert!(stdout.contains("-activation-code \"$ACTIVATION_CODE\""), "{stdout}");
    assert!(stdout.contains("amazon-ssm-eu-west-1.s3.eu-west-1.amazonaws.com/latest/linux_amd64/ssm-setup-cli"));
    assert!(stdout.contains("Windows Server"), "{stdout}");

    // Never over an existing file: refused before anything is created in AWS.
    let again = activate(
        &ssm.url(""),
        &[
            "--site",
            "dc-fra",
            "--count",
            "1",
            "--code-file",
            file.to_str().expect("utf-8"),
        ],
    );
    assert_eq!(again.status.code(), Some(1));
    assert!(
        text(&again.stderr).contains("exists; the code is never written over a file"),
        "{}",
        text(&again.stderr)
    );
    assert_eq!(ssm.received().len(), 1, "no second activation");
}

#[test]
fn wrong_choices_are_named_and_nothing_is_created() {
    let ssm = Receiver::start();
    let tmp = tempfile::tempdir().expect("tmp");
    let file = tmp.path().join("x.code");
    let f = file.to_str().expect("utf-8");
    for (args, says) in [
        (
            vec!["--site", "dc-xyz", "--count", "1", "--code-file", f],
            "--site dc-xyz: the policy's hybrid.sites are dc-fra",
        ),
        (
            vec![
                "--site",
                "dc-fra",
                "--count",
                "1",
                "--baseline",
                "sunday-al2023",
                "--code-file",
                f,
            ],
            "--baseline sunday-al2023: site dc-fra runs sunday-win2022",
        ),
        (
            vec!["--site", "dc-fra", "--count", "1", "--ring", "early", "--code-file", f],
            "--ring early: the policy's rings are all",
        ),
        (vec!["--site", "dc-fra", "--count", "1001", "--code-file", f], "1001"),
        (vec!["--site", "dc-fra", "--count", "1"], "--code-file"),
    ] {
        let out = activate(&ssm.url(""), &args);
        assert!(!out.status.success(), "{args:?}");
        assert!(text(&out.stderr).contains(says), "{args:?}: {}", text(&out.stderr));
    }
    assert!(ssm.received().is_empty(), "nothing reached AWS");
    assert!(!file.exists(), "no code file either");

    // AWS refusing it: one readable line, and no empty code file left behind.
    ssm.answer(Answer::new(
        400,
        r#"{"__type":"InvalidParameters","message":"Nonexistent role or missing ssm service principal in trust policy: arn:aws:iam::111111111111:role/sunday-hybrid-nodes"}"#,
    ));
    let out = activate(&ssm.url(""), &["--site", "dc-fra", "--count", "1", "--code-file", f]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("hybrid activate: CreateActivation in eu-west-1:") && err.contains("InvalidParameters"),
        "{err}"
    );
    assert!(!file.exists(), "the empty code file is removed");
}
