//! `plan`, `rollout` and `status` against moto server, with an organization, OUs and accounts
//! created by the harness.
//!
//! Covered here: first rollout, a second rollout with zero mutating calls, a template change that
//! updates instances, a region added, `--dry-run` touching nothing, the CLI's exit codes and
//! table, and API calls that do not grow with the accounts of an OU. Not covered here, because
//! moto lacks them (see `generator/tests/rollout_fake.rs` for those): deleting instances by OU,
//! failed and in-progress operations, stale requests, and reused `OperationId`s (moto ignores the
//! id of CreateStackInstances).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use patchplane::rollout::{Api, Change, Desired, Quiet, Timing, apply, aws::CloudFormation, plan};
use patchplane_e2e::{Counting, Moto, Org, patchplane_bin, root};

/// The Sunday example, retargeted at the moto organization.
fn policy(dir: &Path, org: &Org, regions: &[&str], scan_at: &str) -> PathBuf {
    let base = std::fs::read_to_string(root().join("examples/sunday-after-patch-tuesday.yaml")).expect("example");
    let ous: Vec<&str> = org.ous.iter().map(|(id, _)| id.as_str()).collect();
    let mut text = base
        .replace("id: o-a1b2c3d4e5", &format!("id: {}", org.id))
        .replace(
            "organizational_units: [r-ab12]",
            &format!("organizational_units: [{}]", ous.join(", ")),
        )
        .replace(
            "{ daily: { at: \"01:00\" } }",
            &format!("{{ daily: {{ at: \"{scan_at}\" }} }}"),
        );
    let start = text.find("  regions:\n").expect("regions");
    let end = text.find("central:").expect("central");
    let zones: String = regions.iter().map(|r| format!("    {r}: UTC\n")).collect();
    text.replace_range(start..end, &format!("  regions:\n{zones}"));
    let path = dir.join("policy.yaml");
    std::fs::write(&path, text).expect("write policy");
    path
}

fn generate(policy: &Path, out: &Path) -> Desired {
    let run = Command::new(patchplane_bin())
        .arg("generate")
        .arg(policy)
        .arg("--out")
        .arg(out)
        .output()
        .expect("runs");
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    Desired::read_dir(out)
        .expect("requests")
        .into_iter()
        .find(|d| d.name == "sunday-patching")
        .expect("member")
}

fn timing() -> Timing {
    Timing {
        poll: Duration::from_millis(20),
        backoff: Duration::from_millis(20),
        attempts: 5,
        timeout: Duration::from_secs(30),
    }
}

async fn cloudformation(moto: &Moto) -> CloudFormation {
    CloudFormation::new(aws_sdk_cloudformation::Client::new(&moto.sdk_config("us-east-1").await))
}

async fn roll(api: &Counting<CloudFormation>, d: &Desired) -> Vec<Change> {
    let deployed = api.describe(d).await.expect("describe");
    let changes = plan(d, deployed.as_ref());
    apply(api, d, &changes, &timing(), &Quiet).await.expect("apply");
    changes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_rollout_noop_template_change_and_region_added() {
    let moto = Moto::start();
    let org = moto.organization(&[3]);
    let tmp = tempfile::tempdir().expect("tmp");
    let api = Counting::new(cloudformation(&moto).await);

    // First rollout: create the StackSet and one instance per account and region.
    let d = generate(
        &policy(tmp.path(), &org, &["us-east-1", "eu-west-1"], "01:00"),
        &tmp.path().join("out"),
    );
    let changes = roll(&api, &d).await;
    assert!(
        matches!(changes.as_slice(), [Change::CreateStackSet, Change::AddInstances(_)]),
        "{changes:?}"
    );
    let dep = api.describe(&d).await.expect("describe").expect("deployed");
    assert_eq!(dep.template_body, d.template_body);
    assert_eq!(dep.instances.len(), 6, "3 accounts × 2 regions");

    // Second rollout of the same output: no mutating call at all.
    let before = api.mutating();
    assert_eq!(roll(&api, &d).await, vec![]);
    assert_eq!(api.mutating(), before);

    // A template change updates the StackSet and its instances.
    let d = generate(
        &policy(tmp.path(), &org, &["us-east-1", "eu-west-1"], "01:30"),
        &tmp.path().join("out"),
    );
    let changes = roll(&api, &d).await;
    let [Change::Update { diff, targets }] = changes.as_slice() else {
        panic!("{changes:?}")
    };
    assert!(
        diff.contains("-      Schedule: \"cron(0 1 * * ? *)\"")
            && diff.contains("+      Schedule: \"cron(30 1 * * ? *)\""),
        "{diff}"
    );
    assert_eq!(targets.regions, vec!["eu-west-1", "us-east-1"]);
    assert_eq!(
        api.describe(&d)
            .await
            .expect("describe")
            .expect("deployed")
            .template_body,
        d.template_body
    );

    // A region added: new instances there, and only there.
    let d = generate(
        &policy(tmp.path(), &org, &["us-east-1", "eu-west-1", "ap-southeast-2"], "01:30"),
        &tmp.path().join("out"),
    );
    // The template changes too (its region → zone mapping gains the new zone), so the existing
    // instances are updated and the new region gets instances from the new template.
    let changes = roll(&api, &d).await;
    let [Change::Update { diff, targets }, Change::AddInstances(t)] = changes.as_slice() else {
        panic!("{changes:?}")
    };
    assert!(diff.contains("+    ap-southeast-2:"), "{diff}");
    assert_eq!(targets.regions, vec!["eu-west-1", "us-east-1"]);
    assert_eq!(t.regions, vec!["ap-southeast-2"]);
    let dep = api.describe(&d).await.expect("describe").expect("deployed");
    assert_eq!(dep.instances.iter().filter(|i| i.region == "ap-southeast-2").count(), 3);
    assert_eq!(roll(&api, &d).await, vec![], "converged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_do_not_grow_with_the_accounts_of_an_ou() {
    let mut counts = Vec::new();
    for n in [3, 30] {
        let moto = Moto::start();
        let org = moto.organization(&[n]);
        let tmp = tempfile::tempdir().expect("tmp");
        let api = Counting::new(cloudformation(&moto).await);
        let d = generate(
            &policy(tmp.path(), &org, &["us-east-1", "eu-west-1"], "01:00"),
            &tmp.path().join("out"),
        );
        roll(&api, &d).await;
        let dep = api.describe(&d).await.expect("describe").expect("deployed");
        assert_eq!(dep.instances.len(), n * 2);
        counts.push(api.calls());
    }
    assert_eq!(counts[0], counts[1], "3 accounts vs 30 accounts");
}

/// The bucket `rollout` uploads templates to: the member template is over the 51,200-byte
/// `TemplateBody` limit since every install runs per node (ADR 026), as most real policies' are.
const TEMPLATES: &str = "sunday-templates";

async fn templates_bucket(moto: &Moto) {
    let conf = moto.sdk_config("us-east-1").await;
    let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&conf).force_path_style(true).build());
    s3.create_bucket().bucket(TEMPLATES).send().await.expect("bucket");
}

/// `patchplane ARGS DIR`; a rollout that sends anything uploads to [`TEMPLATES`].
fn cli(moto: &Moto, args: &[&str], dir: &Path) -> Output {
    let mut all: Vec<&std::ffi::OsStr> = args.iter().map(std::ffi::OsStr::new).collect();
    if args.first() == Some(&"rollout") && !args.contains(&"--dry-run") && !args.contains(&"--template-bucket") {
        all.extend(["--template-bucket", TEMPLATES].map(std::ffi::OsStr::new));
    }
    all.push(dir.as_os_str());
    moto.patchplane(&all)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_dry_run_rollout_plan_and_status() {
    let moto = Moto::start();
    templates_bucket(&moto).await;
    let org = moto.organization(&[2]);
    let tmp = tempfile::tempdir().expect("tmp");
    let out = tmp.path().join("out");
    let d = generate(&policy(tmp.path(), &org, &["us-east-1"], "01:00"), &out);
    // `generate` also wrote the central stack, which is not a StackSet: only */stackset.json count.
    let api = cloudformation(&moto).await;

    // --dry-run prints the exact requests and sends none.
    let run = cli(&moto, &["rollout", "--dry-run"], &out);
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    assert!(
        stdout.contains("\"CreateStackSet\": {") && stdout.contains("\"CreateStackInstances\": {"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("\"OrganizationalUnitIds\": [\n        \"{}\"", org.ous[0].0)),
        "{stdout}"
    );
    assert!(stdout.contains("dry run: 2 change(s), nothing sent"));
    // The request names its template (ADR 023); the dry run shows it filled in, as it is sent.
    let body = serde_json::to_string(&d.template_body).expect("json");
    assert!(stdout.contains(&format!("\"TemplateBody\": {body}")), "{stdout}");
    assert_eq!(
        api.describe(&d).await.expect("describe"),
        None,
        "moto has no StackSet after a dry run"
    );

    // Pending changes: plan exits 2; rollout without --yes and without a terminal refuses.
    assert_eq!(cli(&moto, &["plan"], &out).status.code(), Some(2));
    let refused = cli(&moto, &["rollout"], &out);
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("pass --yes"));
    assert_eq!(api.describe(&d).await.expect("describe"), None);

    // Rollout applies and prints the per-instance table.
    let run = cli(&moto, &["rollout", "--yes", "--poll-seconds", "0.05"], &out);
    let table = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    assert!(
        table.contains("STACKSET") && table.contains("ACCOUNT") && table.contains("REGION"),
        "{table}"
    );
    assert_eq!(
        table
            .lines()
            .filter(|l| l.starts_with("sunday-patching ") && l.contains("us-east-1") && l.contains("CURRENT"))
            .count(),
        2,
        "{table}"
    );

    // Then nothing is pending, and status shows the same instances.
    let plan = cli(&moto, &["plan"], &out);
    assert_eq!(plan.status.code(), Some(0), "{}", String::from_utf8_lossy(&plan.stdout));
    assert!(String::from_utf8_lossy(&plan.stdout).contains("sunday-patching: up to date"));
    let status = cli(&moto, &["status"], &out);
    assert!(status.status.success());
    assert_eq!(
        String::from_utf8_lossy(&status.stdout)
            .lines()
            .filter(|l| l.starts_with("sunday-patching "))
            .count(),
        2
    );

    // A template edited after `generate` no longer matches its request's hash: plan and rollout
    // refuse it, naming both files, and send nothing.
    let template = out.join("patching/template.yaml");
    let mut text = std::fs::read_to_string(&template).expect("read");
    text = text.replacen("Description: ", "Description: edited ", 1);
    std::fs::write(&template, text).expect("write");
    for args in [&["plan"][..], &["rollout", "--yes"]] {
        let run = cli(&moto, args, &out);
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert_eq!(run.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(
            stderr.contains(&format!("{}: SHA-256 ", template.display()))
                && stderr.contains(&out.join("patching/stackset.json").display().to_string()),
            "{args:?}: {stderr}"
        );
    }
    let deployed = api.describe(&d).await.expect("describe").expect("deployed");
    assert_eq!(
        deployed.template_body, d.template_body,
        "the edited template was not sent"
    );
}

/// A template over the TemplateBody limit: `rollout --template-bucket` uploads it, creates the
/// StackSet from its URL, and a second plan finds nothing to do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversize_templates_are_uploaded_and_deployed_by_url() {
    let moto = Moto::start();
    let org = moto.organization(&[1]);
    let tmp = tempfile::tempdir().expect("tmp");
    let small = policy(tmp.path(), &org, &["us-east-1"], "01:00");
    let big = tmp.path().join("big.yaml");
    std::fs::write(
        &big,
        patchplane_e2e::ten_baselines_six_rings(&std::fs::read_to_string(&small).expect("read")),
    )
    .expect("write");
    let out = tmp.path().join("out");
    let d = generate(&big, &out);
    assert!(d.upload.is_some(), "the 10 x 6 template needs an upload");

    let refused = moto.patchplane(&["rollout".as_ref(), "--yes".as_ref(), out.as_os_str()]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("pass --template-bucket"));

    let conf = moto.sdk_config("us-east-1").await;
    let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&conf).force_path_style(true).build());
    s3.create_bucket()
        .bucket("acme-templates")
        .send()
        .await
        .expect("bucket");
    let run = cli(
        &moto,
        &[
            "rollout",
            "--yes",
            "--poll-seconds",
            "0.05",
            "--template-bucket",
            "acme-templates",
        ],
        &out,
    );
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let listed = s3
        .list_objects_v2()
        .bucket("acme-templates")
        .send()
        .await
        .expect("list");
    let keys: Vec<&str> = listed.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys.len(), 1);
    assert!(
        keys[0].starts_with("patchplane/sunday-patching/") && keys[0].ends_with("/template.yaml"),
        "{keys:?}"
    );
    let api = cloudformation(&moto).await;
    let deployed = api.describe(&d).await.expect("describe").expect("deployed");
    assert_eq!(
        deployed.template_body, d.template_body,
        "moto fetched the uploaded template"
    );
    assert_eq!(cli(&moto, &["plan"], &out).status.code(), Some(0));
}
