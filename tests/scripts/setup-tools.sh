#!/usr/bin/env bash
# Installs the cargo-built tools the project needs into .tools/bin, pinned, only when missing:
#   tests/scripts/setup-tools.sh cfn-guard cargo-audit
set -euo pipefail
cd "$(dirname "$0")/../.."
declare -A versions=([cfn-guard]=3.2.1 [cargo-audit]=0.22.2 [cargo-fuzz]=0.13.1)
for tool in "$@"; do
  version=${versions[$tool]:?unknown tool $tool}
  if [ -x ".tools/bin/$tool" ] && grep -qx "$tool $version" .tools/.versions 2>/dev/null; then
    continue
  fi
  echo "setup: building $tool $version into .tools/bin (a few minutes, once; the project runs it from there, so PATH needs no change)" >&2
  cargo install --locked --root .tools --version "$version" "$tool"
  { grep -v "^$tool " .tools/.versions 2>/dev/null || true; echo "$tool $version"; } > .tools/.versions.new
  mv .tools/.versions.new .tools/.versions
done
