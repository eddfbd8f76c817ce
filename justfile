# patchplane recipes. `just demo` shows the generator at work; `just test` is what CI runs.
# Tools the tests need live in .venv (cfn-lint, moto server, just) and .tools (cargo-audit),
# both created on first use and git-ignored.

set shell := ["bash", "-euo", "pipefail", "-c"]

bin := "target/debug/patchplane"
advisory_db := "../shared/advisory-db"

# List the recipes.
default:
    @just --list

# Create the project virtualenv (cfn-lint, moto server) and build cfn-guard, when missing.
setup:
    tests/scripts/setup-venv.sh
    tests/scripts/setup-tools.sh cfn-guard

# Part 1: validate, generate and preview the example policy. Part 2: the bridge end to end
# (moto + the ServiceNow emulator; the sample events through EventBridge → SQS → incidents).
demo: setup
    cargo build -q -p patchplane -p patchplane-bridge -p patchplane-e2e --bins
    @echo "== patchplane validate examples/org-policy.yaml"
    {{bin}} validate examples/org-policy.yaml
    @echo "== patchplane generate examples/org-policy.yaml --out out/demo/acme"
    {{bin}} generate examples/org-policy.yaml --out out/demo/acme
    @echo "== patchplane schedule examples/org-policy.yaml --count 1"
    {{bin}} schedule examples/org-policy.yaml --count 1
    @echo
    @echo "Output in out/demo/acme/: patching/ (the member StackSet), central/ (the central account's"
    @echo "stack) and ami-pipeline/ (golden images), each a template.yaml and its request JSON."
    @echo
    @echo "== patchplane-bridge replay --dry-run tests/fixtures/events/ssm-mw-execution-state-change.json"
    target/debug/patchplane-bridge replay --dry-run tests/fixtures/events/ssm-mw-execution-state-change.json
    @echo
    @echo "== the bridge end to end: moto + ServiceNow emulator"
    target/debug/bridge-demo

# Every test: unit, property, schedule, CLI, cfn-lint and cfn-guard over every template,
# generate --check, and the moto integration tests.
test: setup
    cargo test --workspace --locked

# Formatting, clippy (warnings are errors) and cfn-lint over the committed templates.
lint: setup
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets --locked -- -D warnings
    .venv/bin/cfn-lint stacksets/*/*/template.yaml

# Format the code.
fmt:
    cargo fmt --all

# Re-render the committed output of the example policies.
generate:
    cargo build -q -p patchplane
    {{bin}} generate examples/org-policy.yaml --out stacksets/acme
    {{bin}} generate examples/sunday-after-patch-tuesday.yaml --out stacksets/sunday

# Check every committed template against the cfn-guard rules in tests/guard.
guard: setup
    .tools/bin/cfn-guard validate --rules tests/guard --data stacksets --show-summary fail

# RustSec audit against the offline advisory snapshot (DESIGN §8).
audit:
    tests/scripts/setup-tools.sh cargo-audit
    .tools/bin/cargo-audit audit --db {{advisory_db}} --no-fetch --stale --deny warnings

# Criterion benchmarks (prints the median of each), then the bridge's resident memory at 8
# workers under load (release build, against moto and the emulator).
bench: setup
    cargo bench -p patchplane --bench render
    cargo bench -p patchplane-bridge --bench decode
    @python3 tests/scripts/medians.py target/criterion
    cargo build --release -p patchplane-bridge
    PATCHPLANE_BRIDGE_BIN=target/release/patchplane-bridge cargo test -p patchplane-e2e --test bridge_process measure_resident_memory -- --ignored --nocapture
