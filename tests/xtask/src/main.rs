//! The project's commands: `cargo xtask COMMAND` (the alias is in `.cargo/config.toml`).
//!
//! Each command installs what it needs, when it is missing, and nothing more, so that the
//! README's two commands work on a machine with only the Rust toolchain and python3 (ADR 010):
//! - the project virtualenv `.venv` (cfn-lint, moto server): `tests/scripts/setup-venv.sh`;
//! - cargo-built tools in `.tools` (cfn-guard, cargo-audit): `tests/scripts/setup-tools.sh`;
//! - the IAM policy evaluator of the permission proofs (`@cloud-copilot/iam-simulate`, npm) in
//!   `.tools/iam-simulate`, from `tests/iam/package-lock.json`: `tests/scripts/setup-iam-simulate.sh`;
//! - Debian packages, as root through apt-get: `tests/scripts/setup-debian.sh`.
//!
//! std only, with no dependencies: this crate compiles in about a second, before anything else.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

const USAGE: &str = "\
usage: cargo xtask COMMAND

  demo         validate, render and preview the example policy, then run the bridge end to end
               (moto + ServiceNow emulator); installs .venv, builds only the binaries it runs
  test [ARGS]  the whole test suite, `cargo test --workspace [ARGS]`; first installs what it needs
               (.venv, cfn-guard, the IAM evaluator, Debian packages as root)
  lint         rustfmt, clippy (warnings are errors), cfn-lint over the committed templates
  audit        cargo-audit against the offline RustSec snapshot (PATCHPLANE_ADVISORY_DB, default
               ../shared/advisory-db)
  setup        install everything `test` needs, without running it
  bench [proof] whole-process generate times and the bridge's CPU per event beside a Python/boto3
               consumer's (proof: only these), then criterion medians and resident memory
  chaos        the long chaos run (tests/chaos): 10,000 events, 3 bridges SIGKILLed at random, a
               failing ServiceNow with a 60 s outage; then the same without creation claims
  fuzz [SECS]  each cargo-fuzz target (tests/fuzz) for SECS seconds (default 600), with the nightly
               toolchain; installs cargo-fuzz into .tools; findings go to tests/fuzz/artifacts
  generate     re-render stacksets/ from the example policies
  guard        cfn-guard over the committed templates
  fmt          format the code
";

/// Debian packages the test suite needs, as `package:command` (the command on PATH also
/// satisfies it off Debian): Node.js and npm run the IAM evaluator of the permission proofs
/// (`tests/tests/iam_paths.rs`), which must not be skipped.
const TEST_DEBIAN_PACKAGES: &[&str] = &["nodejs:node", "npm:npm"];

/// Debian packages tests use when they can: the dashboard's screenshot test renders in headless
/// Chromium, and says it skipped where Chromium cannot be installed (no root, no apt-get).
const OPTIONAL_DEBIAN_PACKAGES: &[&str] = &["chromium:chromium"];

/// What the commands return: a message for the user, already saying what to do.
type Result<T = ()> = std::result::Result<T, String>;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (command, rest) = match args.split_first() {
        Some((command, rest)) => (command.as_str(), rest),
        None => ("help", &[][..]),
    };
    let result = match command {
        "demo" => demo(),
        "test" => test(rest),
        "lint" => lint(),
        "audit" => audit(),
        "setup" => setup(),
        "bench" => bench(rest),
        "chaos" => chaos(),
        "fuzz" => fuzz(rest.first().map(String::as_str).unwrap_or("600")),
        "generate" => generate(),
        "guard" => guard(),
        "fmt" => cargo(&["fmt", "--all"]),
        "help" | "-h" | "--help" => {
            print!("{USAGE}");
            Ok(())
        }
        other => Err(format!("unknown command `{other}`\n\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace root: this crate is `tests/xtask`.
fn root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.ancestors().nth(2).unwrap_or(manifest).to_path_buf()
}

/// The cargo that runs us (`cargo run` sets `CARGO`), so a toolchain override holds throughout.
fn cargo_bin() -> OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

/// Runs `program args` in the workspace root; a failure names the command.
fn run(program: impl AsRef<std::ffi::OsStr>, args: &[&str]) -> Result {
    run_with(Command::new(program).args(args))
}

fn run_with(command: &mut Command) -> Result {
    command.current_dir(root());
    let shown = show(command);
    let status = command
        .status()
        .map_err(|e| format!("`{shown}` could not start: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{shown}` failed ({status})"))
    }
}

fn show(command: &Command) -> String {
    let program = Path::new(command.get_program());
    // `cargo`, not the toolchain's full path.
    let name = program.file_name().unwrap_or(program.as_os_str());
    std::iter::once(name)
        .chain(command.get_args())
        .map(|a| a.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

fn cargo(args: &[&str]) -> Result {
    println!("xtask: cargo {}", args.join(" "));
    run(cargo_bin(), args)
}

/// A step of the demo: a heading, then the command in the root.
fn step(program: &str, args: &[&str]) -> Result {
    println!(
        "\n== {} {}",
        Path::new(program).file_name().unwrap_or_default().to_string_lossy(),
        args.join(" ")
    );
    run(root().join(program), args)
}

fn setup_venv() -> Result {
    run(root().join("tests/scripts/setup-venv.sh"), &[])
}

fn setup_tools(tools: &[&str]) -> Result {
    run(root().join("tests/scripts/setup-tools.sh"), tools)
}

fn setup_iam_simulate() -> Result {
    run(root().join("tests/scripts/setup-iam-simulate.sh"), &[])
}

fn setup_debian(packages: &[&str]) -> Result {
    if packages.is_empty() {
        return Ok(());
    }
    run(root().join("tests/scripts/setup-debian.sh"), packages)
}

/// Everything the test suite needs.
fn setup() -> Result {
    setup_debian(TEST_DEBIAN_PACKAGES)?;
    if let Err(e) = setup_debian(OPTIONAL_DEBIAN_PACKAGES) {
        eprintln!("xtask: {e}\nxtask: going on without it; the tests that need it say they skipped");
    }
    setup_venv()?;
    setup_iam_simulate()?;
    setup_tools(&["cfn-guard"])
}

/// Part 1: validate, generate and preview the example policy. Part 2: the bridge end to end.
/// Needs .venv (moto server) and three binaries; not cfn-guard, which it never runs.
fn demo() -> Result {
    setup_venv()?;
    println!("xtask: building patchplane, patchplane-bridge, bridge-demo (the first build takes a few minutes)…");
    run(
        cargo_bin(),
        &[
            "build",
            "--locked",
            "-p",
            "patchplane",
            "-p",
            "patchplane-bridge",
            "-p",
            "patchplane-e2e",
            "--bin",
            "patchplane",
            "--bin",
            "patchplane-bridge",
            "--bin",
            "bridge-demo",
        ],
    )?;
    let bin = "target/debug/patchplane";
    let policy = "examples/org-policy.yaml";
    let out = "out/demo/acme";
    step(bin, &["validate", policy])?;
    step(bin, &["generate", policy, "--out", out])?;
    step(bin, &["schedule", policy, "--count", "1"])?;
    let event = "tests/fixtures/events/ssm-mw-execution-state-change.json";
    step("target/debug/patchplane-bridge", &["replay", "--dry-run", event])?;
    println!("\n== the bridge end to end: moto + ServiceNow emulator");
    run(root().join("target/debug/bridge-demo"), &[])?;
    println!(
        "
Done. The rendered output is in {out}/: patching/ (the member StackSet), central/ (the
central account's stack) and ami-pipeline/ (golden images), each a template.yaml and its request
JSON. The incidents above are those the bridge filed in the ServiceNow emulator.

Try next:
  target/debug/patchplane schedule {policy} --count 5   # more openings, local and UTC
  edit {policy}, then: target/debug/patchplane validate {policy}
  cargo xtask test   # the whole test suite (builds cfn-guard first)"
    );
    Ok(())
}

/// The whole test suite; `args` go to `cargo test` (a filter, `-- --nocapture`, …).
fn test(args: &[String]) -> Result {
    setup()?;
    let mut all = vec!["test", "--workspace", "--locked"];
    all.extend(args.iter().map(String::as_str));
    cargo(&all)
}

fn lint() -> Result {
    setup_venv()?;
    cargo(&["fmt", "--all", "--", "--check"])?;
    cargo(&[
        "clippy",
        "--workspace",
        "--all-targets",
        "--locked",
        "--",
        "-D",
        "warnings",
    ])?;
    let templates = committed_templates()?;
    let mut command = Command::new(root().join(".venv/bin/cfn-lint"));
    command.args(&templates);
    println!("xtask: cfn-lint over {} committed templates", templates.len());
    run_with(&mut command)
}

/// `stacksets/*/*/template.yaml`, relative to the root, sorted.
fn committed_templates() -> Result<Vec<PathBuf>> {
    let mut templates = Vec::new();
    let read = |dir: &Path| std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()));
    for set in read(&root().join("stacksets"))? {
        let set = set.map_err(|e| e.to_string())?.path();
        if !set.is_dir() {
            continue;
        }
        for part in read(&set)? {
            let template = part.map_err(|e| e.to_string())?.path().join("template.yaml");
            if template.is_file() {
                templates.push(template.strip_prefix(root()).unwrap_or(&template).to_path_buf());
            }
        }
    }
    templates.sort();
    if templates.is_empty() {
        return Err("no stacksets/*/*/template.yaml: run `cargo xtask generate`".into());
    }
    Ok(templates)
}

fn audit() -> Result {
    let db = std::env::var_os("PATCHPLANE_ADVISORY_DB")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("../shared/advisory-db"));
    if !db.is_dir() {
        return Err(format!(
            "the RustSec advisory snapshot {} is missing: set PATCHPLANE_ADVISORY_DB to a copy of it",
            db.display()
        ));
    }
    setup_tools(&["cargo-audit"])?;
    let mut command = Command::new(root().join(".tools/bin/cargo-audit"));
    command
        .args(["audit", "--db"])
        .arg(&db)
        .args(["--no-fetch", "--stale", "--deny", "warnings"]);
    println!("xtask: cargo-audit against {}", db.display());
    run_with(&mut command)
}

/// `bench`: issue 15's figures side by side (whole-process `generate`, bridge CPU per event against
/// the Python consumer, idle cost, an AWS SDK call against the plain request), then criterion medians, then the bridge's resident memory at 8
/// workers under load. `bench proof` runs only the first part.
fn bench(args: &[String]) -> Result {
    setup_venv()?;
    cargo(&[
        "build",
        "--locked",
        "--release",
        "-p",
        "patchplane",
        "-p",
        "patchplane-bridge",
    ])?;
    generate_timings()?;
    let mut cpu = Command::new(cargo_bin());
    cpu.env("PATCHPLANE_BRIDGE_BIN", root().join("target/release/patchplane-bridge"))
        .args(["test", "--locked", "-p", "patchplane-e2e", "--test", "bridge_cpu"])
        .args(["--", "--ignored", "--nocapture", "measure_cpu"]);
    println!("xtask: {}", show(&cpu));
    run_with(&mut cpu)?;
    // What one AWS SDK call costs beside the plain request (ADR 020): in-process, so release.
    let mut sdk = Command::new(cargo_bin());
    sdk.args([
        "test",
        "--locked",
        "--release",
        "-p",
        "patchplane-e2e",
        "--test",
        "bridge_cpu",
    ])
    .args(["--", "--ignored", "--nocapture", "measure_sdk"]);
    println!("xtask: {}", show(&sdk));
    run_with(&mut sdk)?;
    if args.first().map(String::as_str) == Some("proof") {
        return Ok(());
    }
    cargo(&["bench", "--locked", "-p", "patchplane", "--bench", "render"])?;
    cargo(&["bench", "--locked", "-p", "patchplane-bridge", "--bench", "decode"])?;
    cargo(&["bench", "--locked", "-p", "patchplane-e2e", "--bench", "enrich_cmdb"])?;
    cargo(&["bench", "--locked", "-p", "patchplane-e2e", "--bench", "report_history"])?;
    run(
        root().join(".venv/bin/python"),
        &["tests/scripts/medians.py", "target/criterion"],
    )?;
    let mut measure = Command::new(cargo_bin());
    measure
        .env("PATCHPLANE_BRIDGE_BIN", root().join("target/release/patchplane-bridge"))
        .args(["test", "--locked", "-p", "patchplane-e2e", "--test", "bridge_process"])
        .args(["measure_resident_memory", "--", "--ignored", "--nocapture"]);
    println!("xtask: {}", show(&measure));
    run_with(&mut measure)
}

/// Whole-process `patchplane generate` of the example and of the 9 x 6 x 17 policy, release
/// build, 50 runs each after 5 warm-up runs: the median wall time, process start to exit.
fn generate_timings() -> Result {
    let bin = root().join("target/release/patchplane");
    let out = std::env::temp_dir().join("patchplane-bench-generate");
    for policy in ["examples/org-policy.yaml", "tests/fixtures/policies/large.yaml"] {
        let mut times = Vec::new();
        for i in 0..55 {
            let started = std::time::Instant::now();
            let status = Command::new(&bin)
                .current_dir(root())
                .args(["generate", policy, "--out"])
                .arg(&out)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status()
                .map_err(|e| format!("cannot run {}: {e}", bin.display()))?;
            if !status.success() {
                return Err(format!("patchplane generate {policy} failed"));
            }
            if i >= 5 {
                times.push(started.elapsed().as_secs_f64() * 1000.0);
            }
        }
        times.sort_by(f64::total_cmp);
        println!(
            "generate {policy}: median {:.1} ms (min {:.1}, max {:.1}; 50 runs, whole process, release build)",
            times[times.len() / 2],
            times[0],
            times[times.len() - 1]
        );
    }
    Ok(())
}

/// The long chaos run, with creation claims and then without (RELIABILITY.md).
fn chaos() -> Result {
    setup_venv()?;
    cargo(&["build", "--locked", "-p", "patchplane-bridge"])?;
    for claims in ["on", "off"] {
        let mut c = Command::new(cargo_bin());
        c.env("PATCHPLANE_CHAOS_NODES", "4850")
            .env("PATCHPLANE_CHAOS_OUTAGE_SECONDS", "60")
            .env("PATCHPLANE_CHAOS_SECONDS", "300")
            .env("PATCHPLANE_CHAOS_DRAIN_SECONDS", "3600")
            .env("PATCHPLANE_CHAOS_CLAIMS", claims)
            .args([
                "test",
                "--locked",
                "-p",
                "patchplane-e2e",
                "--test",
                "chaos",
                "--",
                "--nocapture",
            ]);
        println!("xtask: {}", show(&c));
        run_with(&mut c)?;
    }
    Ok(())
}

/// The cargo-fuzz targets, one after the other, each for `seconds`; the corpus grows in
/// tests/fuzz/corpus (not committed), crashes land in tests/fuzz/artifacts.
fn fuzz(seconds: &str) -> Result {
    seconds
        .parse::<u32>()
        .map_err(|_| format!("xtask: fuzz takes a number of seconds, not `{seconds}`"))?;
    setup_tools(&["cargo-fuzz"])?;
    for target in FUZZ_TARGETS {
        let mut c = Command::new(root().join(".tools/bin/cargo-fuzz"));
        c.current_dir(root())
            .env("RUSTUP_TOOLCHAIN", "nightly")
            .args([
                "fuzz",
                "run",
                "--fuzz-dir",
                "tests/fuzz",
                "--target-dir",
                "target/fuzz",
                target,
            ])
            .args(["--", &format!("-max_total_time={seconds}"), "-print_final_stats=1"]);
        println!("xtask: {}", show(&c));
        run_with(&mut c)?;
    }
    Ok(())
}

/// tests/fuzz/fuzz_targets.
const FUZZ_TARGETS: &[&str] = &["policy_loader", "cron_parser", "event_decoder", "yaml_reader"];

fn generate() -> Result {
    cargo(&[
        "build",
        "--quiet",
        "--locked",
        "-p",
        "patchplane",
        "--bin",
        "patchplane",
    ])?;
    for (policy, out) in [
        ("examples/org-policy.yaml", "stacksets/acme"),
        ("examples/sunday-after-patch-tuesday.yaml", "stacksets/sunday"),
    ] {
        step("target/debug/patchplane", &["generate", policy, "--out", out])?;
    }
    Ok(())
}

fn guard() -> Result {
    setup_tools(&["cfn-guard"])?;
    let args = [
        "validate",
        "--rules",
        "tests/guard",
        "--data",
        "stacksets",
        "--show-summary",
        "fail",
    ];
    println!("xtask: cfn-guard {}", args.join(" "));
    run(root().join(".tools/bin/cfn-guard"), &args)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_is_the_workspace() {
        assert!(root().join("Cargo.toml").is_file());
        assert!(root().join("tests/scripts/setup-venv.sh").is_file());
        assert!(root().join("tests/scripts/setup-iam-simulate.sh").is_file());
    }
}
