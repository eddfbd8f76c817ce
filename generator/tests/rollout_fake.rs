//! Rollout against an in-process fake of the StackSets API, for what moto cannot do (see the
//! `rollout` module doc): delete by OU, failed operations with per-instance reasons, an operation
//! already in progress, a stale request, and instances reported with their OU; and the entry points
//! over a whole output folder ([`StackSets`]): confirmation, dry run, oversize templates.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use patchplane::rollout::{
    Api, ApiError, Change, Deployed, Desired, ErrorKind, Instance, InstanceResult, Operation, Options, Outcome,
    Pending, Quiet, RequestError, RolloutError, StackSets, Targets, TemplateStore, Timing, UploadError, apply, plan,
};

#[derive(Default)]
struct State {
    template: Option<String>,
    description: String,
    tags: Vec<(String, String)>,
    /// (ou, account, region) → status.
    instances: BTreeMap<(String, String, String), String>,
    /// OU → accounts.
    ous: BTreeMap<String, Vec<String>>,
    /// Calls by name.
    calls: BTreeMap<&'static str, usize>,
    /// Operation ids sent, by call.
    op_ids: Vec<(&'static str, String)>,
    /// The next N submissions answer OperationInProgressException.
    busy: usize,
    /// Submissions answer StaleRequestException.
    stale: bool,
    /// Operations fail in this region, with this reason.
    fail_region: Option<(String, String)>,
    /// op id → (status, failed results).
    ops: BTreeMap<String, (String, Vec<InstanceResult>)>,
}

#[derive(Default)]
struct Fake(RefCell<State>);

impl Fake {
    fn with_ous(ous: &[(&str, usize)]) -> Fake {
        let f = Fake::default();
        for (ou, n) in ous {
            let accounts = (0..*n)
                .map(|i| format!("{:012}", 100_000 + i + ou.len() * 1000))
                .collect();
            f.0.borrow_mut().ous.insert((*ou).to_owned(), accounts);
        }
        f
    }
    fn count(&self, name: &'static str) {
        *self.0.borrow_mut().calls.entry(name).or_default() += 1;
    }
    fn calls(&self, name: &str) -> usize {
        self.0.borrow().calls.get(name).copied().unwrap_or(0)
    }
    fn mutating(&self) -> usize {
        [
            "CreateStackSet",
            "UpdateStackSet",
            "CreateStackInstances",
            "DeleteStackInstances",
        ]
        .iter()
        .map(|c| self.calls(c))
        .sum()
    }
    /// Common submission path: busy / stale answers, then the effect, then an operation record.
    fn submit(
        &self,
        call: &'static str,
        op: &str,
        t: &Targets,
        effect: impl Fn(&mut State, &str, &str, &str),
    ) -> Result<String, ApiError> {
        self.count(call);
        let mut s = self.0.borrow_mut();
        s.op_ids.push((call, op.to_owned()));
        if s.stale {
            return Err(ApiError {
                kind: ErrorKind::Stale,
                message: "StaleRequestException: operation too old".into(),
            });
        }
        if s.busy > 0 {
            s.busy -= 1;
            return Err(ApiError {
                kind: ErrorKind::InProgress,
                message: "OperationInProgressException".into(),
            });
        }
        let mut failed = Vec::new();
        for ou in &t.ous {
            let accounts = s.ous.get(ou).cloned().unwrap_or_default();
            for region in &t.regions {
                for a in &accounts {
                    if let Some((r, reason)) = s.fail_region.clone()
                        && &r == region
                    {
                        failed.push(InstanceResult {
                            account: a.clone(),
                            region: region.clone(),
                            status: "FAILED".into(),
                            reason,
                        });
                        continue;
                    }
                    effect(&mut s, ou, a, region);
                }
            }
        }
        let status = if failed.is_empty() { "SUCCEEDED" } else { "FAILED" };
        s.ops.insert(op.to_owned(), (status.to_owned(), failed));
        Ok(op.to_owned())
    }
}

impl Api for Fake {
    async fn describe(&self, _: &Desired) -> Result<Option<Deployed>, ApiError> {
        self.count("DescribeStackSet");
        self.count("ListStackInstances");
        let s = self.0.borrow();
        Ok(s.template.as_ref().map(|t| Deployed {
            template_body: t.clone(),
            description: s.description.clone(),
            tags: s.tags.clone(),
            auto_deployment: Some((true, false)),
            instances: s
                .instances
                .iter()
                .map(|((ou, a, r), st)| Instance {
                    account: a.clone(),
                    region: r.clone(),
                    ou: Some(ou.clone()),
                    status: st.clone(),
                    reason: String::new(),
                    drift: String::new(),
                    last_operation: String::new(),
                })
                .collect(),
        }))
    }
    async fn create_stack_set(&self, d: &Desired) -> Result<(), ApiError> {
        self.count("CreateStackSet");
        let mut s = self.0.borrow_mut();
        s.template = Some(d.template_body.clone());
        s.description = d.description.clone();
        s.tags = d.tags.clone();
        Ok(())
    }
    async fn update_stack_set(&self, d: &Desired, t: &Targets, op: &str) -> Result<String, ApiError> {
        let id = self.submit("UpdateStackSet", op, t, |s, ou, a, r| {
            s.instances.insert((ou.into(), a.into(), r.into()), "CURRENT".into());
        })?;
        self.0.borrow_mut().template = Some(d.template_body.clone());
        Ok(id)
    }
    async fn create_instances(&self, _: &Desired, t: &Targets, op: &str) -> Result<String, ApiError> {
        self.submit("CreateStackInstances", op, t, |s, ou, a, r| {
            s.instances.insert((ou.into(), a.into(), r.into()), "CURRENT".into());
        })
    }
    async fn delete_instances(&self, _: &Desired, t: &Targets, op: &str) -> Result<String, ApiError> {
        self.submit("DeleteStackInstances", op, t, |s, ou, a, r| {
            s.instances.remove(&(ou.into(), a.into(), r.into()));
        })
    }
    async fn operation(&self, _: &Desired, op: &str) -> Result<Operation, ApiError> {
        self.count("DescribeStackSetOperation");
        let s = self.0.borrow();
        let (status, _) = s.ops.get(op).cloned().unwrap_or(("RUNNING".into(), vec![]));
        let reason = if status == "FAILED" {
            "The Operation failed because the failure tolerance was exceeded".to_owned()
        } else {
            String::new()
        };
        Ok(Operation { status, reason })
    }
    async fn results(&self, _: &Desired, op: &str) -> Result<Vec<InstanceResult>, ApiError> {
        self.count("ListStackSetOperationResults");
        Ok(self.0.borrow().ops.get(op).map(|o| o.1.clone()).unwrap_or_default())
    }
}

/// The committed member StackSet of the Sunday policy: its request and the template beside it.
const SUNDAY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../stacksets/sunday/patching");

/// A committed StackSet under the 51,200-byte `TemplateBody` limit (the member templates are
/// over it since every install runs per node, ADR 026): the acme AMI pipeline.
const SMALL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../stacksets/acme/ami-pipeline");

fn desired(ous: &[&str], regions: &[&str]) -> Desired {
    desired_in(SUNDAY, ous, regions)
}

fn desired_in(dir: &str, ous: &[&str], regions: &[&str]) -> Desired {
    let path = Path::new(dir).join("stackset.json");
    let text = std::fs::read_to_string(&path).expect("committed");
    let mut d = Desired::parse(&path, &text).expect("parses");
    d.ous = ous.iter().map(|s| (*s).to_owned()).collect();
    d.regions = regions.iter().map(|s| (*s).to_owned()).collect();
    d
}

fn fast() -> Timing {
    Timing {
        poll: Duration::from_millis(1),
        backoff: Duration::from_millis(1),
        attempts: 5,
        timeout: Duration::from_secs(5),
    }
}

async fn roll(api: &Fake, d: &Desired) -> Result<Vec<Change>, RolloutError> {
    let deployed = api.describe(d).await.expect("describe");
    let changes = plan(d, deployed.as_ref());
    apply(api, d, &changes, &fast(), &Quiet).await.map(|()| changes)
}

#[tokio::test]
async fn first_rollout_then_nothing_then_an_ou_removed() {
    let api = Fake::with_ous(&[("ou-aaaa-11111111", 3), ("ou-bbbb-22222222", 2)]);
    let d = desired(&["ou-aaaa-11111111", "ou-bbbb-22222222"], &["us-east-1", "eu-west-1"]);
    roll(&api, &d).await.expect("first rollout");
    assert_eq!(api.0.borrow().instances.len(), 10);
    let before = api.mutating();
    assert_eq!(roll(&api, &d).await.expect("second"), vec![]);
    assert_eq!(api.mutating(), before, "a second rollout makes no mutating call");

    // The OU leaves the policy: its instances are deleted, by OU, in every region.
    let d = desired(&["ou-aaaa-11111111"], &["us-east-1", "eu-west-1"]);
    let changes = roll(&api, &d).await.expect("ou removed");
    assert_eq!(
        changes,
        vec![Change::RemoveInstances(Targets {
            ous: vec!["ou-bbbb-22222222".into()],
            regions: vec!["eu-west-1".into(), "us-east-1".into()]
        })]
    );
    let s = api.0.borrow();
    assert_eq!(s.instances.len(), 6);
    assert!(s.instances.keys().all(|(ou, ..)| ou == "ou-aaaa-11111111"));
}

#[tokio::test]
async fn a_failed_operation_reports_each_instance() {
    let api = Fake::with_ous(&[("ou-aaaa-11111111", 3)]);
    api.0.borrow_mut().fail_region = Some((
        "eu-west-1".into(),
        "ResourceLogicalId:EventForwardRole, ResourceType:AWS::IAM::Role, ResourceStatusReason:Access Denied".into(),
    ));
    let d = desired(&["ou-aaaa-11111111"], &["us-east-1", "eu-west-1"]);
    let err = roll(&api, &d).await.expect_err("fails");
    let RolloutError::Failed {
        status,
        reason,
        instances,
        ..
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(status, "FAILED");
    assert!(reason.contains("failure tolerance"));
    assert_eq!(instances.len(), 3);
    assert!(
        instances
            .iter()
            .all(|i| i.region == "eu-west-1" && i.status == "FAILED" && i.reason.contains("Access Denied"))
    );
    assert!(err.to_string().contains("ended FAILED"), "{err}");
    // What the CLI prints and returns for it: exit 1, and every failed instance with its reason.
    let errors = [err];
    assert_eq!(patchplane::rollout::exit_code(&errors), 1);
    assert_eq!(patchplane::rollout::exit_code(&[]), 0);
    let report = patchplane::rollout::failure_report(&errors);
    assert!(
        report.starts_with("patchplane: sunday-patching: operation patchplane-"),
        "{report}"
    );
    assert_eq!(
        report
            .lines()
            .filter(|l| l.contains("  eu-west-1  FAILED  ResourceLogicalId:EventForwardRole"))
            .count(),
        3,
        "{report}"
    );
}

#[tokio::test]
async fn operation_in_progress_is_retried_with_the_same_operation_id() {
    let api = Fake::with_ous(&[("ou-aaaa-11111111", 2)]);
    let d = desired(&["ou-aaaa-11111111"], &["us-east-1"]);
    api.0.borrow_mut().busy = 3;
    roll(&api, &d).await.expect("succeeds after waiting");
    let s = api.0.borrow();
    let ids: Vec<&String> = s
        .op_ids
        .iter()
        .filter(|(c, _)| *c == "CreateStackInstances")
        .map(|(_, id)| id)
        .collect();
    assert_eq!(ids.len(), 4, "three refusals and one success");
    assert!(
        ids.iter().all(|id| *id == ids[0]),
        "every retry reuses the operation id: {ids:?}"
    );
    assert_eq!(s.instances.len(), 2);
}

#[tokio::test]
async fn retries_are_bounded_and_stale_requests_stop() {
    let api = Fake::with_ous(&[("ou-aaaa-11111111", 2)]);
    let d = desired(&["ou-aaaa-11111111"], &["us-east-1"]);
    api.0.borrow_mut().busy = 100;
    let err = roll(&api, &d).await.expect_err("gives up");
    assert!(
        matches!(&err, RolloutError::Call { error, .. } if error.kind == ErrorKind::InProgress),
        "{err:?}"
    );
    assert_eq!(api.calls("CreateStackInstances"), fast().attempts as usize);

    let api = Fake::with_ous(&[("ou-aaaa-11111111", 2)]);
    api.0.borrow_mut().stale = true;
    let err = roll(&api, &d).await.expect_err("stale");
    assert!(
        matches!(&err, RolloutError::Call { error, .. } if error.kind == ErrorKind::Stale),
        "{err:?}"
    );
    assert_eq!(api.calls("CreateStackInstances"), 1, "a stale request is not retried");
}

#[tokio::test]
async fn calls_do_not_grow_with_accounts() {
    let mut counts = Vec::new();
    for n in [3, 30] {
        let api = Fake::with_ous(&[("ou-aaaa-11111111", n), ("ou-bbbb-22222222", n)]);
        let d = desired(
            &["ou-aaaa-11111111", "ou-bbbb-22222222"],
            &["us-east-1", "eu-west-1", "ap-southeast-2"],
        );
        roll(&api, &d).await.expect("rollout");
        assert_eq!(api.0.borrow().instances.len(), 2 * n * 3);
        counts.push(api.0.borrow().calls.clone());
    }
    assert_eq!(counts[0], counts[1]);
}

// The entry points over a whole output folder (`StackSets`): what `patchplane rollout` runs.

/// A bucket that records keys.
#[derive(Default)]
struct Store(RefCell<Vec<String>>);

impl TemplateStore for Store {
    async fn put(&self, key: &str, _: &str) -> Result<String, UploadError> {
        self.0.borrow_mut().push(key.to_owned());
        Ok(format!("https://bucket.example/{key}"))
    }
}

fn options(dry_run: bool) -> Options {
    Options {
        dry_run,
        timing: fast(),
    }
}

#[tokio::test]
async fn rollout_asks_with_the_plan_and_a_no_sends_nothing() {
    let api = Fake::with_ous(&[("ou-aaaa-11111111", 2)]);
    let d = desired(&["ou-aaaa-11111111"], &["us-east-1"]);
    let mut sets = StackSets::new(api, vec![d]);
    let mut shown = None;
    let store = Store::default();
    let outcome = sets
        .rollout(
            Some(&store),
            &options(false),
            |p: &Pending| {
                shown = Some(p.to_string());
                false
            },
            &Quiet,
        )
        .await
        .expect("runs");
    assert!(
        matches!(outcome, Outcome::Declined(ref p) if p.count() == 2),
        "{outcome:?}"
    );
    let shown = shown.expect("asked");
    assert!(shown.starts_with("sunday-patching: create the StackSet\n"), "{shown}");
    assert_eq!(sets.api().mutating(), 0, "declined: no mutating call");

    let outcome = sets
        .rollout(Some(&store), &options(false), |_| true, &Quiet)
        .await
        .expect("runs");
    let Outcome::Applied { failures, status, .. } = outcome else {
        panic!("{outcome:?}")
    };
    assert!(failures.is_empty(), "{failures:?}");
    assert_eq!(status.rows.len(), 2);
    assert!(status.table().contains("sunday-patching"));

    let outcome = sets
        .rollout(Some(&store), &options(false), |_| panic!("nothing to ask"), &Quiet)
        .await
        .expect("runs");
    assert!(
        matches!(outcome, Outcome::UpToDate(ref p) if p.count() == 0),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn a_dry_run_uploads_and_sends_nothing() {
    let api = Fake::with_ous(&[("ou-aaaa-11111111", 2)]);
    let mut d = desired(&["ou-aaaa-11111111"], &["us-east-1"]);
    d.upload = Some("patching/template.yaml".into());
    let mut sets = StackSets::new(api, vec![d]);
    let store = Store::default();
    let outcome = sets
        .rollout(
            Some(&store),
            &options(true),
            |_| panic!("a dry run asks nothing"),
            &Quiet,
        )
        .await
        .expect("runs");
    let Outcome::DryRun(pending) = outcome else {
        panic!("{outcome:?}")
    };
    let requests = pending.requests();
    assert_eq!(requests.len(), 2);
    assert!(requests[0].get("CreateStackSet").is_some() && requests[1].get("CreateStackInstances").is_some());
    assert_eq!(sets.api().mutating(), 0);
    assert!(store.0.borrow().is_empty(), "a dry run uploads nothing");
}

#[tokio::test]
async fn oversize_templates_need_a_store_and_go_by_url() {
    let api = Fake::with_ous(&[("ou-aaaa-11111111", 1)]);
    let mut d = desired(&["ou-aaaa-11111111"], &["us-east-1"]);
    d.upload = Some("patching/template.yaml".into());
    let mut sets = StackSets::new(api, vec![d]);
    let err = sets
        .rollout(None::<&Store>, &options(false), |_| true, &Quiet)
        .await
        .expect_err("no bucket");
    assert_eq!(
        err.to_string(),
        "sunday-patching over the 51,200-byte TemplateBody limit: pass --template-bucket to upload"
    );
    assert_eq!(sets.api().calls("DescribeStackSet"), 0, "refused before any call");

    let store = Store::default();
    sets.rollout(Some(&store), &options(false), |_| true, &Quiet)
        .await
        .expect("uploads, then applies");
    let keys = store.0.borrow();
    assert!(
        keys.len() == 1 && keys[0].starts_with("patchplane/sunday-patching/") && keys[0].ends_with("/template.yaml"),
        "{keys:?}"
    );
    assert_eq!(
        sets.desired()[0].template_url.as_deref(),
        Some(format!("https://bucket.example/{}", keys[0]).as_str())
    );
}

// The template by reference (ADR 023): `stackset.json` names `template.yaml` and pins its SHA-256.

/// What CloudFormation receives is the committed `template.yaml`, byte for byte, as `TemplateBody`
/// (in the dry run's requests too), although `stackset.json` does not contain it.
#[tokio::test]
async fn the_request_sent_carries_the_exact_template_bytes() {
    let template = std::fs::read(Path::new(SMALL).join("template.yaml")).expect("committed");
    let request = std::fs::read_to_string(Path::new(SMALL).join("stackset.json")).expect("committed");
    assert!(!request.contains("TemplateBody"), "the request embeds no template");

    let api = Fake::with_ous(&[("ou-aaaa-11111111", 1)]);
    let mut sets = StackSets::new(api, vec![desired_in(SMALL, &["ou-aaaa-11111111"], &["us-east-1"])]);
    let Outcome::DryRun(pending) = sets
        .rollout(
            None::<&Store>,
            &options(true),
            |_| panic!("a dry run asks nothing"),
            &Quiet,
        )
        .await
        .expect("dry run")
    else {
        panic!("not a dry run")
    };
    let requests = pending.requests();
    let body = requests[0]["CreateStackSet"]["TemplateBody"]
        .as_str()
        .expect("filled in");
    assert!(
        body.as_bytes() == template.as_slice(),
        "the dry run shows the template's bytes"
    );
    assert!(requests[0]["CreateStackSet"]["TemplateURL"].is_null());

    sets.rollout(None::<&Store>, &options(false), |_| true, &Quiet)
        .await
        .expect("applies");
    let sent = sets
        .api()
        .0
        .borrow()
        .template
        .clone()
        .expect("CreateStackSet sent a template");
    assert!(
        sent.as_bytes() == template.as_slice(),
        "CreateStackSet got the template's bytes"
    );
}

/// A template edited after `generate` is never rolled out: reading the folder fails, naming both
/// files, before any client exists.
#[test]
fn a_hand_edited_template_is_refused_before_any_call() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("patching");
    std::fs::create_dir(&dir).expect("mkdir");
    for f in ["stackset.json", "template.yaml"] {
        std::fs::copy(Path::new(SUNDAY).join(f), dir.join(f)).expect("copy");
    }
    assert!(
        StackSets::read(Fake::default(), tmp.path()).is_ok(),
        "the committed pair reads"
    );
    let template = dir.join("template.yaml");
    let mut text = std::fs::read_to_string(&template).expect("read");
    text.push_str("# one more line\n");
    std::fs::write(&template, text).expect("write");
    let Err(e) = StackSets::read(Fake::default(), tmp.path()) else {
        panic!("an edited template was accepted")
    };
    assert!(matches!(e, RequestError::Hash { .. }), "{e:?}");
    let message = e.to_string();
    for file in [&template, &dir.join("stackset.json")] {
        assert!(message.contains(&file.display().to_string()), "{message}");
    }
}
