//! End-to-end harness: where the project's tools live and how to render a policy for them.
//!
//! # Layout
//! - here: the workspace root, the virtualenv's tools, moto ([`Moto`], also behind waitress for
//!   measurements), rendering a policy, CPU time of a process ([`cpu_seconds`]);
//! - [`bridge`]: queues, events, the bridge binary as a child process (SIGTERM, SIGKILL, metrics);
//! - [`servicenow`]: the Table API emulator (keep-alive, scripted and random failures, outages);
//! - [`webhook`]: a Slack/Teams receiver; [`http`]: the request reading both servers share;
//! - [`iam`]: the permission proofs' IAM evaluator (`@cloud-copilot/iam-simulate`) and the
//!   resolver that takes their policies out of rendered templates.
//!
//! Tests: `tests/` (one file per concern), `chaos/` (the chaos suite), `benches/` (criterion),
//! `fuzz/` (cargo-fuzz targets, outside the workspace), `scripts/` (setup and Python helpers),
//! `xtask/` (the project's commands).
//!
//! The tools (cfn-lint, moto) come from the project-local virtualenv that `cargo xtask setup` creates.
//! A missing tool fails the test with the command that installs it: a skipped check would let a
//! broken template land.

use std::path::{Path, PathBuf};

pub mod bridge;
pub mod http;
pub mod iam;
pub mod servicenow;
pub mod webhook;

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A tool from the project virtualenv (`PATCHPLANE_VENV` overrides `.venv`).
pub fn venv_tool(name: &str) -> PathBuf {
    let venv = std::env::var_os("PATCHPLANE_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join(".venv"));
    let tool = venv.join("bin").join(name);
    assert!(
        tool.exists(),
        "{} is missing: run `cargo xtask setup` to create the project virtualenv",
        tool.display()
    );
    tool
}

/// Loads, renders and writes `policy` (relative to the root) below `out`; returns the written
/// files and the renderer's notes.
pub fn generate(policy: &str, out: &Path) -> (Vec<PathBuf>, Vec<String>) {
    let loaded = patchplane::load_file(&root().join(policy)).unwrap_or_else(|e| panic!("{policy}: {e:?}"));
    let rendered = patchplane::render::render(&loaded.plan).expect("renders");
    patchplane::output::write(out, &rendered).expect("writes");
    (
        rendered.files.iter().map(|f| out.join(&f.path)).collect(),
        rendered.notes,
    )
}

/// The text of one rendered file of `policy` (its path ends with `suffix`, e.g.
/// `patching/template.yaml`), rendered into a temporary folder.
pub fn rendered(policy: &str, suffix: &str) -> String {
    let tmp = tempfile::tempdir().expect("tmp");
    let (files, _) = generate(policy, tmp.path());
    let f = files
        .iter()
        .find(|f| f.ends_with(suffix))
        .unwrap_or_else(|| panic!("{policy} renders no {suffix}"));
    std::fs::read_to_string(f).expect("read")
}

/// Runs the Python unittest file `test_script` (below `tests/scripts/`) against `module_source`
/// (a script as rendered into a document) with the project's Python; panics with its log unless
/// every test passed; returns the log.
pub fn python_tests(test_script: &str, module_source: &str) -> String {
    let tmp = tempfile::tempdir().expect("tmp");
    let module = tmp.path().join("module.py");
    std::fs::write(&module, module_source).expect("write");
    let out = std::process::Command::new(venv_tool("python"))
        .arg(root().join("tests/scripts").join(test_script))
        .arg(&module)
        .output()
        .expect("python runs");
    let log = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success() && log.contains("\nOK"), "{test_script}:\n{log}");
    log
}

/// `tests/scripts/<script> ARGS…` with the project's Python against `moto` (`AWS_ENDPOINT_URL`,
/// static test credentials, us-east-1); its stdout parsed as JSON. Panics with its stderr when it
/// fails.
pub fn moto_python(moto: &Moto, script: &str, args: &[&str]) -> serde_json::Value {
    let out = std::process::Command::new(venv_tool("python"))
        .arg(root().join("tests/scripts").join(script))
        .args(args)
        .env("AWS_ENDPOINT_URL", &moto.endpoint)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env_remove("AWS_PROFILE")
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "{script} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{script} {args:?}: stdout is not JSON: {e}"))
}

/// A CSV file with a header, as rows of column → value (no quoted commas in what tests read).
pub fn read_csv(path: &Path) -> Vec<std::collections::BTreeMap<String, String>> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("header").split(',').collect();
    lines
        .map(|l| {
            header
                .iter()
                .map(|h| (*h).to_owned())
                .zip(l.split(',').map(str::to_owned))
                .collect()
        })
        .collect()
}

/// A moto server on 127.0.0.1, started from the project virtualenv and stopped on drop. Its SQS
/// deletes remove in place under the queue's lock (`tests/scripts/moto_sqs_lock.py`, ADR 022):
/// moto as released loses a message sent while two deletes overlap, which SQS never does.
pub struct Moto {
    child: std::process::Child,
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    /// Where its output goes.
    pub log: std::path::PathBuf,
}

impl Moto {
    /// Starts moto's own server (`tests/scripts/moto_server.py`) on a free port and waits until
    /// it answers (at most 30 s).
    pub fn start() -> Moto {
        let script = root().join("tests/scripts/moto_server.py");
        Moto::start_with(&[
            &venv_tool("python").to_string_lossy(),
            &script.to_string_lossy(),
            "-H",
            "127.0.0.1",
            "-p",
        ])
    }

    /// Starts moto's application behind waitress (`tests/scripts/moto_keepalive.py`), which keeps
    /// connections alive as AWS endpoints do: for measurements that count a client's CPU.
    pub fn start_keepalive() -> Moto {
        let script = root().join("tests/scripts/moto_keepalive.py");
        Moto::start_with(&[&venv_tool("python").to_string_lossy(), &script.to_string_lossy()])
    }

    /// `command` followed by a free port.
    fn start_with(command: &[&str]) -> Moto {
        // Ask the OS for a free port, release it, and hand it to moto.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let log = std::env::temp_dir().join(format!("patchplane-moto-{port}.log"));
        let out = std::fs::File::create(&log).expect("moto log");
        let child = std::process::Command::new(command[0])
            .args(&command[1..])
            .arg(port.to_string())
            .stdout(out.try_clone().expect("log"))
            .stderr(out)
            .spawn()
            .expect("moto_server starts");
        let moto = Moto {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
            log: log.clone(),
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "moto did not start; see {}",
                log.display()
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        moto
    }

    /// SDK configuration pointing at this server, with static test credentials.
    pub async fn sdk_config(&self, region: &str) -> aws_config::SdkConfig {
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .endpoint_url(&self.endpoint)
            .region(aws_config::Region::new(region.to_owned()))
            .credentials_provider(aws_sdk_s3::config::Credentials::new(
                "testing", "testing", None, None, "moto",
            ))
            .load()
            .await
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Moto {
    /// `patchplane ARGS --endpoint-url <moto>` with static test credentials and no profile.
    pub fn patchplane(&self, args: &[&std::ffi::OsStr]) -> std::process::Output {
        std::process::Command::new(patchplane_bin())
            .args(args)
            .args(["--endpoint-url", &self.endpoint])
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_REGION", "us-east-1")
            .env_remove("AWS_PROFILE")
            .output()
            .expect("patchplane runs")
    }
}

/// CPU time process `pid` has used so far, user + system over all its threads (those that
/// ended too), from `/proc/PID/stat`: clock ticks of 1/100 s, the Linux default `CLK_TCK`. The
/// one meter the bridge and the Python baseline are both read with (BENCHMARKS.md).
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) start at state (field 3).
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / 100.0)
}

/// The `patchplane` binary cargo built beside this test (`target/<profile>/patchplane`).
pub fn patchplane_bin() -> PathBuf {
    workspace_bin("patchplane")
}

/// A workspace binary cargo built beside the running executable: a test in
/// `target/<profile>/deps/` or a binary in `target/<profile>/`.
pub fn workspace_bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("executable");
    let dir = exe.parent().expect("target dir");
    let dir = if dir.ends_with("deps") {
        dir.parent().expect("profile dir")
    } else {
        dir
    };
    let bin = dir.join(name);
    assert!(
        bin.exists(),
        "{} is missing: run `cargo build --workspace` (cargo test --workspace builds it)",
        bin.display()
    );
    bin
}

/// A cargo-built tool from `.tools/bin` (`cargo xtask setup` builds it).
pub fn cargo_tool(name: &str) -> PathBuf {
    let tool = root().join(".tools/bin").join(name);
    assert!(tool.exists(), "{} is missing: run `cargo xtask setup`", tool.display());
    tool
}

/// An organization created in moto: its id and, per OU, the OU id and its accounts.
pub struct Org {
    /// `o-…`.
    pub id: String,
    /// (OU id, accounts).
    pub ous: Vec<(String, Vec<String>)>,
}

impl Moto {
    /// Creates an organization with one OU per entry of `accounts_per_ou`.
    pub fn organization(&self, accounts_per_ou: &[usize]) -> Org {
        let out = std::process::Command::new(venv_tool("python"))
            .arg(root().join("tests/scripts/moto_org.py"))
            .arg(&self.endpoint)
            .args(accounts_per_ou.iter().map(|n| n.to_string()))
            .output()
            .expect("python runs");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
        let ous = v["ous"]
            .as_array()
            .expect("ous")
            .iter()
            .map(|o| {
                let accounts = o["accounts"]
                    .as_array()
                    .expect("accounts")
                    .iter()
                    .map(|a| a.as_str().expect("id").to_owned())
                    .collect();
                (o["id"].as_str().expect("ou").to_owned(), accounts)
            })
            .collect();
        Org {
            id: v["org"].as_str().expect("org").to_owned(),
            ous,
        }
    }
}

/// Counts the calls made through the rollout API, by CloudFormation operation name.
pub struct Counting<A> {
    inner: A,
    calls: std::cell::RefCell<std::collections::BTreeMap<&'static str, usize>>,
}

impl<A> Counting<A> {
    /// Wraps `inner`.
    pub fn new(inner: A) -> Self {
        Self {
            inner,
            calls: Default::default(),
        }
    }
    fn count(&self, name: &'static str) {
        *self.calls.borrow_mut().entry(name).or_default() += 1;
    }
    /// Calls so far, by name.
    pub fn calls(&self) -> std::collections::BTreeMap<&'static str, usize> {
        self.calls.borrow().clone()
    }
    /// Mutating calls so far.
    pub fn mutating(&self) -> usize {
        let c = self.calls.borrow();
        [
            "CreateStackSet",
            "UpdateStackSet",
            "CreateStackInstances",
            "DeleteStackInstances",
        ]
        .iter()
        .map(|k| c.get(k).copied().unwrap_or(0))
        .sum()
    }
}

use patchplane::rollout::{Api, ApiError, Deployed, Desired, InstanceResult, Operation, Targets};

impl<A: Api> Api for Counting<A> {
    async fn describe(&self, d: &Desired) -> Result<Option<Deployed>, ApiError> {
        self.count("Describe+ListStackInstances");
        self.inner.describe(d).await
    }
    async fn create_stack_set(&self, d: &Desired) -> Result<(), ApiError> {
        self.count("CreateStackSet");
        self.inner.create_stack_set(d).await
    }
    async fn update_stack_set(&self, d: &Desired, t: &Targets, op: &str) -> Result<String, ApiError> {
        self.count("UpdateStackSet");
        self.inner.update_stack_set(d, t, op).await
    }
    async fn create_instances(&self, d: &Desired, t: &Targets, op: &str) -> Result<String, ApiError> {
        self.count("CreateStackInstances");
        self.inner.create_instances(d, t, op).await
    }
    async fn delete_instances(&self, d: &Desired, t: &Targets, op: &str) -> Result<String, ApiError> {
        self.count("DeleteStackInstances");
        self.inner.delete_instances(d, t, op).await
    }
    async fn operation(&self, d: &Desired, op: &str) -> Result<Operation, ApiError> {
        self.count("DescribeStackSetOperation");
        self.inner.operation(d, op).await
    }
    async fn results(&self, d: &Desired, op: &str) -> Result<Vec<InstanceResult>, ApiError> {
        self.count("ListStackSetOperationResults");
        self.inner.results(d, op).await
    }
}

/// `base` (a policy text with `baselines:`, `rings:`, `scan:` in that order) with its baselines
/// replaced by 10 (one per OS) and its rings by 6 Patch Tuesday rings: a template over the
/// 51,200-byte TemplateBody limit. Any `ami_pipeline:` after `scan:` is dropped.
pub fn ten_baselines_six_rings(base: &str) -> String {
    let oses = [
        ("AMAZON_LINUX_2023", "AL2023", "CLASSIFICATION"),
        ("AMAZON_LINUX_2", "AL2", "CLASSIFICATION"),
        ("REDHAT_ENTERPRISE_LINUX", "RHEL", "CLASSIFICATION"),
        ("SUSE", "SLES", "CLASSIFICATION"),
        ("CENTOS", "CentOS", "CLASSIFICATION"),
        ("ORACLE_LINUX", "OL", "CLASSIFICATION"),
        ("ROCKY_LINUX", "Rocky", "CLASSIFICATION"),
        ("ALMA_LINUX", "Alma", "CLASSIFICATION"),
        ("WINDOWS", "Win", "CLASSIFICATION"),
        ("UBUNTU", "Ubuntu", "PRIORITY"),
    ];
    let head = &base[..base.find("baselines:").expect("baselines")];
    let scan = base.find("scan:").expect("scan");
    let tail = &base[scan..base.find("ami_pipeline:").unwrap_or(base.len())];
    let mut text = format!("{head}baselines:\n");
    for (i, (os, prefix, key)) in oses.iter().enumerate() {
        let delay = if *os == "UBUNTU" {
            String::new()
        } else {
            "\n        approve_after_days: 7".to_owned()
        };
        text.push_str(&format!(
            "  - name: big-{i}\n    operating_system: {os}\n    group_prefix: {prefix}\n    default: true\n    rules:\n      - filters: {{ {key}: [Security] }}{delay}\n        compliance: CRITICAL\n"
        ));
    }
    text.push_str("rings:\n");
    for r in ["r1", "r2", "r3", "r4", "r5", "r6"] {
        text.push_str(&format!(
            "  - {{ name: {r}, schedule: {{ patch_tuesday: {{ offset_days: 1, at: \"02:00\" }} }} }}\n"
        ));
    }
    // A site names the example's baselines, which this policy replaces: no sites here.
    let mut skipping = false;
    for line in tail.lines() {
        if line.starts_with("hybrid:") {
            skipping = true;
            continue;
        }
        if skipping && line.starts_with(' ') {
            continue;
        }
        skipping = false;
        text.push_str(line);
        text.push('\n');
    }
    text
}
