//! Bridge harness: the central queue and its dead-letter queue in moto, the EventBridge path to
//! it, tagged EC2 instances, and the `patchplane-bridge` binary as a child process (its operations
//! port, SIGTERM, its resident memory). Used by the e2e tests and by `cargo xtask demo`.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_sqs::types::QueueAttributeName;

use crate::{Moto, root, venv_tool, workspace_bin};

/// The queue and its dead-letter queue.
pub struct Queues {
    /// Queue URL.
    pub queue: String,
    /// Dead-letter queue URL.
    pub dlq: String,
    /// Queue ARN.
    pub queue_arn: String,
}

async fn arn(sqs: &aws_sdk_sqs::Client, url: &str) -> String {
    sqs.get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .expect("queue attributes")
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
        .expect("queue arn")
}

/// A queue `name` whose redrive policy moves a message to `name-dlq` after `max_receive_count`.
pub async fn queue_with_dlq(sqs: &aws_sdk_sqs::Client, name: &str, max_receive_count: u32) -> Queues {
    let dlq = sqs
        .create_queue()
        .queue_name(format!("{name}-dlq"))
        .send()
        .await
        .expect("dlq");
    let dlq_url = dlq.queue_url().expect("url").to_owned();
    let dlq_arn = arn(sqs, &dlq_url).await;
    let q = sqs
        .create_queue()
        .queue_name(name)
        .attributes(
            QueueAttributeName::RedrivePolicy,
            format!("{{\"deadLetterTargetArn\":\"{dlq_arn}\",\"maxReceiveCount\":\"{max_receive_count}\"}}"),
        )
        .attributes(QueueAttributeName::VisibilityTimeout, "30")
        .send()
        .await
        .expect("queue");
    let queue = q.queue_url().expect("url").to_owned();
    let queue_arn = arn(sqs, &queue).await;
    Queues {
        queue,
        dlq: dlq_url,
        queue_arn,
    }
}

/// Sends `bodies` to `queue`, ten per batch; with `visible_at`, each is delayed to become
/// visible about then (whole seconds, SQS's delay), so a load arrives as one burst.
pub async fn send_bodies(sqs: &aws_sdk_sqs::Client, queue: &str, bodies: &[String], visible_at: Option<Instant>) {
    for chunk in bodies.chunks(10) {
        let delay = visible_at
            .map(|t| t.saturating_duration_since(Instant::now()).as_secs_f64().ceil() as i32)
            .unwrap_or(0);
        let entries: Vec<_> = chunk
            .iter()
            .enumerate()
            .map(|(i, b)| {
                aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .message_body(b)
                    .delay_seconds(delay)
                    .build()
                    .expect("entry")
            })
            .collect();
        sqs.send_message_batch()
            .queue_url(queue)
            .set_entries(Some(entries))
            .send()
            .await
            .expect("send");
    }
}

/// Visible, in-flight and delayed messages.
pub async fn depth(sqs: &aws_sdk_sqs::Client, url: &str) -> u64 {
    let a = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesDelayed)
        .send()
        .await
        .expect("attributes");
    let attrs: HashMap<QueueAttributeName, String> = a.attributes().cloned().unwrap_or_default();
    [
        QueueAttributeName::ApproximateNumberOfMessages,
        QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
        QueueAttributeName::ApproximateNumberOfMessagesDelayed,
    ]
    .iter()
    .map(|k| attrs.get(k).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0))
    .sum()
}

/// Waits until `url` is empty (visible and in flight), at most `limit`; true if it emptied.
pub async fn drained(sqs: &aws_sdk_sqs::Client, url: &str, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if depth(sqs, url).await == 0 {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// moto's default SQS payload for a rule target leaves out `account`, which AWS always sends
/// (moto 5.2.5, `EventTemplateParser.DEFAULT_EVENT_INPUT_TEMPLATE`). The harness' target puts the
/// documented envelope back with an input transformer; the central template needs none.
const ENVELOPE: &str = r#"{"version": "0", "id": "<id>", "detail-type": "<detail-type>", "source": "<source>", "account": "<account>", "time": <time>, "region": "<region>", "resources": <resources>, "detail": <detail>}"#;

/// The central bus of the central stack: a bus `name` whose rule sends `aws.ssm` and
/// `aws.inspector2` events to the queue.
pub async fn central_bus(eb: &aws_sdk_eventbridge::Client, name: &str, queues: &Queues) {
    eb.create_event_bus().name(name).send().await.expect("bus");
    eb.put_rule()
        .name("patchplane-to-queue")
        .event_bus_name(name)
        .event_pattern(r#"{"source":["aws.ssm","aws.inspector2"]}"#)
        .send()
        .await
        .expect("rule");
    eb.put_targets()
        .rule("patchplane-to-queue")
        .event_bus_name(name)
        .targets(
            aws_sdk_eventbridge::types::Target::builder()
                .id("queue")
                .arn(&queues.queue_arn)
                .input_transformer(
                    aws_sdk_eventbridge::types::InputTransformer::builder()
                        .set_input_paths_map(Some(
                            [
                                "id",
                                "detail-type",
                                "source",
                                "account",
                                "time",
                                "region",
                                "resources",
                                "detail",
                            ]
                            .iter()
                            .map(|k| ((*k).to_owned(), format!("$.{k}")))
                            .collect(),
                        ))
                        .input_template(ENVELOPE)
                        .build()
                        .expect("transformer"),
                )
                .build()
                .expect("target"),
        )
        .send()
        .await
        .expect("targets");
}

/// The AWS sample events in `tests/fixtures/events`, sorted by name.
pub fn fixtures() -> Vec<(String, serde_json::Value)> {
    let mut out: Vec<(String, serde_json::Value)> = std::fs::read_dir(root().join("tests/fixtures/events"))
        .expect("fixtures")
        .map(|e| {
            let path = e.expect("entry").path();
            let text = std::fs::read_to_string(&path).expect("read");
            (
                path.file_name().expect("name").to_string_lossy().into_owned(),
                serde_json::from_str(&text).expect("json"),
            )
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// Puts events on `bus` as a member account's forwarding rule would; EventBridge gives each a
/// new envelope (id, account, region, time) and keeps source, detail-type, resources and detail.
pub async fn put_events(eb: &aws_sdk_eventbridge::Client, bus: &str, events: &[serde_json::Value]) {
    for chunk in events.chunks(10) {
        let mut req = eb.put_events();
        for e in chunk {
            let resources: Vec<String> = e["resources"]
                .as_array()
                .map(|a| a.iter().filter_map(|r| r.as_str().map(str::to_owned)).collect())
                .unwrap_or_default();
            req = req.entries(
                aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
                    .event_bus_name(bus)
                    .source(e["source"].as_str().expect("source"))
                    .detail_type(e["detail-type"].as_str().expect("detail-type"))
                    .detail(e["detail"].to_string())
                    .set_resources(Some(resources))
                    .build(),
            );
        }
        let out = req.send().await.expect("put events");
        assert_eq!(out.failed_entry_count(), 0, "{out:?}");
    }
}

/// Runs a tagged EC2 instance in moto in `account` (through an assumed role); returns its id.
pub fn tagged_instance(moto: &Moto, account: &str, region: &str, tags: &[(&str, &str)]) -> String {
    let tags: serde_json::Map<String, serde_json::Value> =
        tags.iter().map(|(k, v)| ((*k).to_owned(), (*v).into())).collect();
    let out = Command::new(venv_tool("python"))
        .arg(root().join("tests/scripts/moto_ec2.py"))
        .args([
            &moto.endpoint,
            account,
            region,
            &serde_json::Value::Object(tags).to_string(),
        ])
        .output()
        .expect("python runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A free loopback port.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// `bridge.yaml` for moto and the emulator: basic auth with the password in
/// `SERVICENOW_PASSWORD`, the queue URL in `PATCHPLANE_QUEUE_URL`, tags read through
/// `patchplane-bridge-tags` in each account.
pub fn config(moto: &Moto, snow_url: &str, ops_port: u16, workers: usize) -> String {
    format!(
        "version: 1
queue:
  url: {{env: PATCHPLANE_QUEUE_URL}}
  workers: {workers}
  wait_seconds: 1
  visibility_seconds: 30
  retry_cap_seconds: 2
servicenow:
  instance_url: {snow_url}
  auth:
    basic:
      user: bridge
      password: {{env: SERVICENOW_PASSWORD}}
  timeout_seconds: 5
  max_attempts: 2
  assignment_group: Cloud Platform
  owner_groups:
    team-payments: Payments Operations
enrich:
  member_role_name: patchplane-bridge-tags
  baselines: {{AL2023: plat-al2023-baseline}}
operations:
  drain_seconds: 5
  listen: 127.0.0.1:{ops_port}
  emf_interval_seconds: 1
  log_format: json
aws:
  region: us-east-1
  endpoint_url: {}
",
        moto.endpoint
    )
}

/// `patchplane-bridge run` as a child process; killed when dropped.
pub struct BridgeProcess {
    child: Child,
    /// Its operations port.
    pub ops_port: u16,
    /// Where its stdout (EMF lines) and stderr (JSON logs) go.
    pub stdout: PathBuf,
    /// JSON logs.
    pub stderr: PathBuf,
}

impl BridgeProcess {
    /// Writes `config` to a file and starts the bridge on it with `env`.
    pub fn spawn(config: &str, ops_port: u16, env: &[(&str, &str)]) -> BridgeProcess {
        // One directory per process, never reused: a restarted bridge that draws a port an
        // earlier one had does not overwrite that one's logs (the chaos suite reads them after).
        static SPAWNED: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = SPAWNED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("patchplane-bridge-{}-{n}-{ops_port}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let file = dir.join("bridge.yaml");
        std::fs::write(&file, config).expect("config");
        let (stdout, stderr) = (dir.join("stdout.log"), dir.join("stderr.log"));
        // `PATCHPLANE_BRIDGE_BIN` picks another build (the release binary, for the RSS figure).
        // A relative path is taken from the workspace root (tests run in tests/).
        let bin = std::env::var_os("PATCHPLANE_BRIDGE_BIN")
            .map(|p| root().join(p))
            .unwrap_or_else(|| workspace_bin("patchplane-bridge"));
        let child = Command::new(bin)
            .arg("run")
            .arg("--config")
            .arg(&file)
            .env_remove("PATCHPLANE_BRIDGE_CONFIG")
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&stdout).expect("stdout"))
            .stderr(std::fs::File::create(&stderr).expect("stderr"))
            .spawn()
            .expect("patchplane-bridge starts");
        BridgeProcess {
            child,
            ops_port,
            stdout,
            stderr,
        }
    }

    /// GET `path` on the operations port: status and body, or `None` if nothing answers.
    pub fn get(&self, path: &str) -> Option<(u16, String)> {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", self.ops_port)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        write!(s, "GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").ok()?;
        let mut out = String::new();
        s.read_to_string(&mut out).ok()?;
        let status = out.split_whitespace().nth(1)?.parse().ok()?;
        let body = out
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_owned())
            .unwrap_or_default();
        Some((status, body))
    }

    /// Waits until `/readyz` says 200, at most `limit`.
    pub fn wait_ready(&self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if self.get("/readyz").is_some_and(|(s, _)| s == 200) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }

    /// A counter from `/metrics`.
    pub fn metric(&self, name: &str) -> Option<u64> {
        let (_, body) = self.get("/metrics")?;
        body.lines()
            .find_map(|l| l.strip_prefix(name).and_then(|v| v.trim().parse().ok()))
    }

    /// Peak and current resident memory in KiB (`VmHWM`, `VmRSS` of /proc/PID/status).
    pub fn memory_kib(&self) -> Option<(u64, u64)> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        let field = |k: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(k))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
        };
        Some((field("VmHWM:")?, field("VmRSS:")?))
    }

    /// CPU time used so far (user + system, every thread), from /proc ([`crate::cpu_seconds`]).
    pub fn cpu_seconds(&self) -> Option<f64> {
        crate::cpu_seconds(self.child.id())
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM and waits at most `limit` for the exit; `None` if it did not exit.
    pub fn terminate(&mut self, limit: Duration) -> Option<ExitStatus> {
        // The shell's `kill` builtin: std cannot send a signal, and procps may not be installed.
        let _ = Command::new("sh")
            .arg("-c")
            .arg(format!("kill -TERM {}", self.child.id()))
            .status();
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Ok(Some(s)) = self.child.try_wait() {
                return Some(s);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    /// SIGKILL: no drain, no goodbye; what it held comes back when its visibility runs out.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Its logs so far.
    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Its stdout so far (EMF lines).
    pub fn emf(&self) -> String {
        std::fs::read_to_string(&self.stdout).unwrap_or_default()
    }
}

impl Drop for BridgeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
