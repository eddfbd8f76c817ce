//! The `patchplane-bridge` binary as ECS runs it, against moto (SQS, EventBridge, STS, EC2 tags
//! through the Resource Groups Tagging API) and the ServiceNow emulator: configuration from
//! `bridge.yaml` with secrets from the environment, tags read through a role assumed in the
//! event's account, `/healthz`, `/readyz`, `/metrics`, EMF lines, JSON logs, and SIGTERM.
//!
//! moto has no tags for `mi-` managed nodes (DESIGN §8): their ARN form is unit-tested in
//! `bridge/src/tags.rs`, and the tagging call is the same one exercised here for EC2.

use std::time::Duration;

use patchplane_e2e::bridge::{
    BridgeProcess, Queues, central_bus, config, depth, drained, fixtures, free_port, put_events, queue_with_dlq,
    tagged_instance,
};
use patchplane_e2e::servicenow::Emulator;
use patchplane_e2e::{Moto, root, workspace_bin};

const PASSWORD: &str = "s3cret-only-in-env";

fn spawn(moto: &Moto, snow: &Emulator, queues: &Queues, workers: usize) -> BridgeProcess {
    let port = free_port();
    BridgeProcess::spawn(
        &config(moto, &snow.url, port, workers),
        port,
        &[
            ("PATCHPLANE_QUEUE_URL", queues.queue.as_str()),
            ("SERVICENOW_PASSWORD", PASSWORD),
        ],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_enriches_across_accounts_reports_health_and_stops_on_sigterm() {
    let moto = Moto::start();
    let snow = Emulator::start("bridge", PASSWORD, "id", "unused");
    let sdk = moto.sdk_config("us-east-1").await;
    let (sqs, eb) = (aws_sdk_sqs::Client::new(&sdk), aws_sdk_eventbridge::Client::new(&sdk));
    let queues = queue_with_dlq(&sqs, "central", 3).await;
    central_bus(&eb, "central", &queues).await;

    // A member account's instance: only a role in that account can read its tags.
    let member = "210987654321";
    let node = tagged_instance(
        &moto,
        member,
        "us-east-1",
        &[
            ("PatchGroup", "AL2023-early"),
            ("Owner", "team-payments"),
            ("Name", "pay-1"),
        ],
    );
    let events: Vec<serde_json::Value> = fixtures().into_iter().map(|(_, e)| e).collect();
    put_events(&eb, "central", &events).await;
    let mut member_event = fixtures()
        .into_iter()
        .find(|(n, _)| n == "ssm-compliance-patch-non-compliant.json")
        .expect("fixture")
        .1;
    member_event["account"] = member.into();
    member_event["region"] = "us-east-1".into();
    member_event["detail"]["resource-id"] = node.clone().into();
    sqs.send_message()
        .queue_url(&queues.queue)
        .message_body(member_event.to_string())
        .send()
        .await
        .expect("send");

    let mut bridge = spawn(&moto, &snow, &queues, 2);
    assert!(
        bridge.wait_ready(Duration::from_secs(30)),
        "never ready:\n{}",
        bridge.logs()
    );
    assert_eq!(bridge.get("/healthz").map(|(s, _)| s), Some(200));
    let probe = |port: u16| {
        std::process::Command::new(workspace_bin("patchplane-bridge"))
            .args(["health", "--addr", &format!("127.0.0.1:{port}")])
            .status()
            .expect("runs")
            .success()
    };
    assert!(probe(bridge.ops_port), "the container health check passes");
    assert!(!probe(free_port()), "and fails where nothing listens");
    assert!(
        drained(&sqs, &queues.queue, Duration::from_secs(60)).await,
        "{}",
        bridge.logs()
    );
    assert_eq!(depth(&sqs, &queues.dlq).await, 0, "nothing rejected");

    let rows = snow.incidents();
    let keyed = |k: &str| rows.iter().find(|r| r.fields["correlation_id"] == k);
    let member_row = keyed(&format!("{member}/us-east-1/{node}/compliance/patch")).expect("the member's incident");
    assert_eq!(
        member_row.fields["assignment_group"], "Payments Operations",
        "owner → group"
    );
    for want in [
        "Owner: team-payments",
        "Ring: early",
        "Patch group: AL2023-early",
        "Baseline: plat-al2023-baseline",
        "Name: pay-1",
    ] {
        assert!(
            member_row.fields["description"].contains(want),
            "{want}: {member_row:?}"
        );
    }
    // The sample compliance event is about an instance nobody tagged: no owner, default group.
    let untagged = keyed("123456789012/us-east-1/i-01234567890abcdef/compliance/patch").expect("sample's incident");
    assert_eq!(untagged.fields["assignment_group"], "Cloud Platform");
    assert!(
        untagged.fields["description"].contains("Owner: unknown"),
        "{untagged:?}"
    );
    // Four from the samples through EventBridge (one sample's source is `aws.123456789012`, which
    // the rule rightly drops) and the member's.
    assert_eq!(rows.len(), 5, "{rows:?}");

    let counter = |n: &str| {
        bridge
            .metric(&format!("patchplane_bridge_messages_{n}_total"))
            .unwrap_or_else(|| panic!("metric {n}"))
    };
    // 11 through EventBridge and 1 direct. At least once: moto, like SQS, may hand a message out
    // twice; the five incidents above prove nothing was duplicated.
    let (received, delivered) = (counter("received"), counter("delivered"));
    assert!(received >= 12 && delivered >= 12, "{received} {delivered}");
    assert_eq!(counter("rejected"), 0);
    assert_eq!(bridge.metric("patchplane_bridge_latency_seconds_count"), Some(received));

    let status = bridge.terminate(Duration::from_secs(15)).expect("exits after SIGTERM");
    assert!(status.success(), "{status:?}\n{}", bridge.logs());
    assert!(bridge.get("/readyz").is_none(), "the port closes with the process");

    let logs = bridge.logs();
    for line in logs.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(v["level"].is_string() && v["message"].is_string(), "{line}");
    }
    assert!(logs.contains("Bridge stopped"), "{logs}");
    let emf = bridge.emf();
    let last: serde_json::Value = serde_json::from_str(emf.lines().last().expect("an EMF line")).expect("json");
    assert_eq!(last["_aws"]["CloudWatchMetrics"][0]["Namespace"], "patchplane/bridge");
    assert_eq!(last["Delivered"], delivered, "the final line carries the totals: {emf}");
    assert!(
        !logs.contains(PASSWORD) && !emf.contains(PASSWORD),
        "the secret never reaches a log"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_with_servicenow_stuck_releases_the_batch_for_the_next_task() {
    let moto = Moto::start();
    let snow = Emulator::start("bridge", PASSWORD, "id", "unused");
    let sdk = moto.sdk_config("us-east-1").await;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let queues = queue_with_dlq(&sqs, "central", 5).await;
    for (_, e) in fixtures() {
        sqs.send_message()
            .queue_url(&queues.queue)
            .message_body(e.to_string())
            .send()
            .await
            .expect("send");
    }
    // ServiceNow hangs: every request takes longer than the drain budget (5 s).
    snow.slow(Duration::from_secs(20));
    let mut first = spawn(&moto, &snow, &queues, 2);
    assert!(first.wait_ready(Duration::from_secs(30)), "{}", first.logs());
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(depth(&sqs, &queues.queue).await > 0, "work is in flight");
    let started = std::time::Instant::now();
    let status = first
        .terminate(Duration::from_secs(20))
        .expect("exits within the drain budget");
    assert!(status.success(), "{status:?}");
    assert!(
        started.elapsed() < Duration::from_secs(12),
        "drain 5 s, not the 20 s request: {:?}",
        started.elapsed()
    );
    assert!(
        first.logs().contains("Drain budget spent; releasing the batch"),
        "{}",
        first.logs()
    );

    // The next task gets every message at once (released, not waiting out 30 s of visibility).
    snow.slow(Duration::ZERO);
    let second = spawn(&moto, &snow, &queues, 2);
    assert!(second.wait_ready(Duration::from_secs(30)), "{}", second.logs());
    assert!(
        drained(&sqs, &queues.queue, Duration::from_secs(25)).await,
        "{}",
        second.logs()
    );
    let open: Vec<String> = snow
        .incidents()
        .iter()
        .filter(|r| r.fields["active"] == "true")
        .map(|r| r.fields["correlation_id"].clone())
        .collect();
    let mut unique = open.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 4, "every incident: {open:?}");
    assert_eq!(open.len(), unique.len(), "none twice: {open:?}");
}

#[test]
fn check_and_replay_from_the_command_line() {
    let bin = workspace_bin("patchplane-bridge");
    let out = std::process::Command::new(&bin)
        .args(["check", "--config"])
        .arg(root().join("examples/bridge.yaml"))
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let dir = tempfile::tempdir().expect("tmp");
    let bad = dir.path().join("bridge.yaml");
    std::fs::write(
        &bad,
        std::fs::read_to_string(root().join("examples/bridge.yaml"))
            .expect("example")
            .replace("workers: 8", "workers: 0"),
    )
    .expect("write");
    let out = std::process::Command::new(&bin)
        .args(["check", "--config"])
        .arg(&bad)
        .output()
        .expect("runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        err.contains("bridge.yaml:9: error: `queue.workers`: must be 1–64"),
        "{err}"
    );

    let fixtures = root().join("tests/fixtures/events");
    let out = std::process::Command::new(&bin)
        .args(["replay", "--dry-run"])
        .args(
            std::fs::read_dir(&fixtures)
                .expect("fixtures")
                .map(|e| e.expect("entry").path()),
        )
        .env_remove("PATCHPLANE_BRIDGE_CONFIG")
        .output()
        .expect("runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert_eq!(text.matches("-> would open or update").count(), 4, "{text}");
    assert!(
        text.contains("Incident [failed-patch-window] [patchplane] Maintenance window mw-0ed7251d3fcf6e0c2 TIMED_OUT")
    );
    // AWS's sample non-compliance (critical, 2017-07-17T19:02:31Z) falls due 14 days later when
    // `tickets.compliance_sla_days` is unset.
    assert!(
        text.contains("due 2017-07-31T19:02:31Z (14 days for critical)"),
        "{text}"
    );

    let poison = dir.path().join("poison.json");
    std::fs::write(&poison, r#"{"source": "aws.ssm"}"#).expect("write");
    let out = std::process::Command::new(&bin)
        .args(["replay", "--dry-run"])
        .arg(&poison)
        .output()
        .expect("runs");
    assert_eq!(
        out.status.code(),
        Some(1),
        "a message that would be dead-lettered fails the replay"
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("dead-letter: "));

    let out = std::process::Command::new(&bin)
        .arg("replay")
        .arg(&poison)
        .env_remove("PATCHPLANE_BRIDGE_CONFIG")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2), "delivering needs a configuration");
}

/// Resident memory at 8 workers under load: a measurement, not a test (`cargo xtask bench` runs it with
/// the release binary). Sends `PATCHPLANE_RSS_MESSAGES` (default 3000) sample events straight to
/// the queue, runs the bridge until the queue is empty, and prints its peak and final RSS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement; `cargo xtask bench` runs it"]
async fn measure_resident_memory_at_8_workers() {
    let moto = Moto::start();
    let snow = Emulator::start("bridge", PASSWORD, "id", "unused");
    let sdk = moto.sdk_config("us-east-1").await;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let queues = queue_with_dlq(&sqs, "central", 5).await;
    let total: usize = std::env::var("PATCHPLANE_RSS_MESSAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000);
    let bodies: Vec<String> = fixtures().into_iter().map(|(_, e)| e.to_string()).collect();
    let mut sent = 0;
    while sent < total {
        let entries: Vec<_> = (0..10.min(total - sent))
            .map(|i| {
                aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .message_body(&bodies[(sent + i) % bodies.len()])
                    .build()
                    .expect("entry")
            })
            .collect();
        sent += entries.len();
        sqs.send_message_batch()
            .queue_url(&queues.queue)
            .set_entries(Some(entries))
            .send()
            .await
            .expect("batch");
    }
    let mut bridge = spawn(&moto, &snow, &queues, 8);
    let started = std::time::Instant::now();
    assert!(bridge.wait_ready(Duration::from_secs(30)), "{}", bridge.logs());
    let mut peak = 0;
    while depth(&sqs, &queues.queue).await > 0 && started.elapsed() < Duration::from_secs(600) {
        if let Some((hwm, _)) = bridge.memory_kib() {
            peak = peak.max(hwm);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (hwm, rss) = bridge.memory_kib().expect("/proc status");
    let elapsed = started.elapsed();
    let received = bridge.metric("patchplane_bridge_messages_received_total").unwrap_or(0);
    let cpu = bridge.cpu_seconds().unwrap_or(f64::NAN);
    println!(
        "bridge RSS at 8 workers: peak {:.1} MiB, at the end {:.1} MiB; {received} messages in {:.1} s ({:.0}/s); the bridge used {cpu:.1} s of CPU ({:.0}% of the wall time: the rest is waiting on moto and the emulator)",
        peak.max(hwm) as f64 / 1024.0,
        rss as f64 / 1024.0,
        elapsed.as_secs_f64(),
        received as f64 / elapsed.as_secs_f64(),
        100.0 * cpu / elapsed.as_secs_f64()
    );
    assert!(bridge.terminate(Duration::from_secs(15)).is_some_and(|s| s.success()));
}

/// The `bridge.yaml` the generator renders into the ECS task definition is one the bridge accepts,
/// hostile characters and all, and the binary reads it from `PATCHPLANE_BRIDGE_CONFIG`.
#[test]
fn the_task_definition_carries_a_configuration_the_bridge_accepts() {
    for (policy, user) in [
        ("examples/org-policy.yaml", "svc-patchplane"),
        ("tests/fixtures/policies/moto.yaml", "svc \"patch\" {{else}}"),
        ("tests/fixtures/policies/every-option.yaml", "id\" !Ref x {{else}}"),
    ] {
        let dir = tempfile::tempdir().expect("tmp");
        let (files, _) = patchplane_e2e::generate(policy, dir.path());
        let central = files
            .iter()
            .find(|f| f.ends_with("central/template.yaml"))
            .expect("central template");
        let t: serde_yaml::Value =
            serde_yaml::from_str(&std::fs::read_to_string(central).expect("read")).expect("yaml");
        let container = &t["Resources"]["BridgeTaskDefinition"]["Properties"]["ContainerDefinitions"][0];
        let env = container["Environment"].as_sequence().expect("environment");
        let text = env
            .iter()
            .find(|e| e["Name"] == "PATCHPLANE_BRIDGE_CONFIG")
            .and_then(|e| e["Value"].as_str())
            .unwrap_or_else(|| panic!("{policy}: no PATCHPLANE_BRIDGE_CONFIG"));
        let cfg = patchplane_bridge::config::load_str(text, std::path::Path::new(policy))
            .unwrap_or_else(|e| panic!("{policy}: {e}"));
        let got = match &cfg.servicenow.auth {
            patchplane_bridge::config::AuthConfig::Basic { user, .. } => user.clone(),
            patchplane_bridge::config::AuthConfig::Oauth { client_id, .. } => client_id.clone(),
        };
        assert_eq!(got, user, "{policy}: the value survives rendering byte for byte");
        // The policy's baselines reach the bridge: a patch group names its baseline.
        let loaded = patchplane::load_file(&root().join(policy)).expect("policy");
        for b in &loaded.policy.baselines {
            assert_eq!(
                cfg.enrich.baselines.get(&b.group_prefix),
                Some(&b.name),
                "{policy}: {}",
                b.group_prefix
            );
        }
        assert!(env.iter().any(|e| e["Name"] == "PATCHPLANE_QUEUE_URL"), "{policy}");

        let out = std::process::Command::new(workspace_bin("patchplane-bridge"))
            .arg("check")
            .env("PATCHPLANE_BRIDGE_CONFIG", text)
            .output()
            .expect("runs");
        assert!(
            out.status.success(),
            "{policy}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// `check --resolve` resolves every reference of the example file in one pass and reports each
/// one that is missing with its key path, never stopping at the first: with none of the example's
/// variables set and Secrets Manager unreachable, one run names them all.
#[test]
fn check_resolve_reports_every_missing_reference_at_once() {
    let bin = workspace_bin("patchplane-bridge");
    let mut cmd = std::process::Command::new(&bin);
    cmd.args(["check", "--resolve", "--config"])
        .arg(root().join("examples/bridge.yaml"))
        .env_remove("PATCHPLANE_BRIDGE_CONFIG")
        // Static test credentials, and an endpoint nothing listens on: Secrets Manager fails fast.
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env("AWS_MAX_ATTEMPTS", "1");
    for var in [
        "PATCHPLANE_QUEUE_URL",
        "SERVICENOW_PASSWORD",
        "PATCHPLANE_CLAIMS_BUCKET",
        "PATCHPLANE_EVIDENCE_BUCKET",
        "CMDB_TOKEN",
        "PATCHPLANE_NOTIFY_TOPIC_ARN",
        "SLACK_WEBHOOK_URL",
    ] {
        cmd.env_remove(var);
    }
    let out = cmd.output().expect("runs");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(stdout.starts_with("ok: "), "the file itself is valid: {stdout}");
    for line in [
        "`queue.url`: env:PATCHPLANE_QUEUE_URL: environment variable PATCHPLANE_QUEUE_URL is not set",
        "`servicenow.auth.basic.password`: env:SERVICENOW_PASSWORD: environment variable SERVICENOW_PASSWORD is not set",
        "`servicenow.claims_bucket`: env:PATCHPLANE_CLAIMS_BUCKET:",
        "`enrich.command_output.bucket`: env:PATCHPLANE_EVIDENCE_BUCKET:",
        "`notify.sns.topic_arn`: env:PATCHPLANE_NOTIFY_TOPIC_ARN:",
        "`notify.slack.url`: env:SLACK_WEBHOOK_URL:",
        "`notify.teams.url`: secret_arn:arn:aws:secretsmanager:us-east-1:111111111111:secret:patchplane/teams-AbCdEf: GetSecretValue",
        "`notify.windows.claims_bucket`: env:PATCHPLANE_CLAIMS_BUCKET:",
        "`notify.windows.evidence_bucket`: env:PATCHPLANE_EVIDENCE_BUCKET:",
    ] {
        assert!(stderr.contains(line), "missing `{line}` in:\n{stderr}");
    }
    assert!(stderr.contains("settings cannot be resolved:"), "{stderr}");
    // One line per reference, no debug dump of an SDK error.
    assert!(!stderr.contains("DispatchFailure("), "{stderr}");
}

/// What `replay --policy` did, now across the crate boundary (ADR 024): `patchplane bridge-config`
/// writes the bridge.yaml the central stack runs with, schedule filled in from the policy, and
/// `replay --config` with it names a finding's next install window; `--policy` says where it went.
#[test]
fn bridge_config_feeds_replay_the_policys_windows() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = std::process::Command::new(workspace_bin("patchplane"))
        .current_dir(root())
        .args(["bridge-config", "examples/org-policy.yaml"])
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let cfg: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON, which is YAML");
    let windows = cfg["schedule"]["windows"].as_array().expect("windows");
    assert!(
        windows
            .iter()
            .any(|w| w["name"] == "acme-AL2023-early-install" && w["patch_groups"][0] == "AL2023-early"),
        "{windows:?}"
    );
    assert_eq!(cfg["enrich"]["baselines"]["AL2023"], "plat-al2023-baseline");
    let file = dir.path().join("bridge.yaml");
    std::fs::write(&file, &out.stdout).expect("write");

    let bin = workspace_bin("patchplane-bridge");
    let finding = root().join("tests/fixtures/lifecycle/finding-active.json");
    let out = std::process::Command::new(&bin)
        .args(["replay", "--dry-run", "--config"])
        .arg(&file)
        .args(["--tag", "PatchGroup=AL2023-early"])
        .arg(&finding)
        .env_remove("PATCHPLANE_BRIDGE_CONFIG")
        .output()
        .expect("runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("next window acme-AL2023-early-install at "), "{text}");

    let out = std::process::Command::new(&bin)
        .args(["replay", "--dry-run", "--policy", "examples/org-policy.yaml"])
        .arg(&finding)
        .output()
        .expect("runs");
    assert_ne!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("patchplane bridge-config examples/org-policy.yaml > bridge.yaml"),
        "{err}"
    );

    // A policy without `central.bridge` needs a base file of its own.
    let out = std::process::Command::new(workspace_bin("patchplane"))
        .current_dir(root())
        .args(["bridge-config", "examples/sunday-after-patch-tuesday.yaml"])
        .output()
        .expect("runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("has no `central.bridge`; pass --base bridge.yaml"),
        "{err}"
    );
}
