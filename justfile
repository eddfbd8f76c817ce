# A convenience for those who have `just`: every recipe is a `cargo xtask` command (tests/xtask,
# ADR 010), which is what the README and CI use. Nothing requires `just`.

# List the recipes.
default:
    @just --list

# Install what the tests need (.venv with cfn-lint and moto server, cfn-guard), when missing.
setup:
    cargo xtask setup

# Validate, render and preview the example policy; then the bridge end to end.
demo:
    cargo xtask demo

# The whole test suite (arguments go to `cargo test`).
test *ARGS:
    cargo xtask test {{ARGS}}

# Formatting, clippy (warnings are errors) and cfn-lint over the committed templates.
lint:
    cargo xtask lint

# Format the code.
fmt:
    cargo xtask fmt

# Re-render the committed output of the example policies.
generate:
    cargo xtask generate

# Check every committed template against the cfn-guard rules in tests/guard.
guard:
    cargo xtask guard

# RustSec audit against the offline advisory snapshot (DESIGN §8).
audit:
    cargo xtask audit

# Criterion medians, then the bridge's resident memory at 8 workers under load.
bench:
    cargo xtask bench
