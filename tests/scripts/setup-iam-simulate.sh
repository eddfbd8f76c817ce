#!/usr/bin/env bash
# Installs the IAM policy evaluator the permission proofs run (tests/tests/iam_paths.rs), the npm
# package @cloud-copilot/iam-simulate, into .tools/iam-simulate with `npm ci` from the committed
# tests/iam/package-lock.json: the same versions, integrity-checked, everywhere. Does nothing when
# that folder already holds exactly that lockfile. Needs Node.js 18 or later and npm: without them
# it installs Debian's `nodejs` and `npm` through setup-debian.sh (root and apt-get), which
# otherwise says what to install.
set -euo pipefail
cd "$(dirname "$0")/../.."
dir=.tools/iam-simulate
src=tests/iam
if [ -f "$dir/node_modules/@cloud-copilot/iam-simulate/package.json" ] \
    && cmp -s "$src/package-lock.json" "$dir/package-lock.json" \
    && cmp -s "$src/package.json" "$dir/package.json"; then
  exit 0
fi
tests/scripts/setup-debian.sh nodejs:node npm:npm
major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 18 ]; then
  echo "setup: the IAM evaluator needs Node.js 18 or later and this machine has $(node --version):" \
    "install a newer nodejs, then retry" >&2
  exit 1
fi
version=$(node -p "require('./$src/package.json').dependencies['@cloud-copilot/iam-simulate']")
echo "setup: installing @cloud-copilot/iam-simulate $version into $dir with npm ci (seconds, once)" >&2
rm -rf "$dir"
mkdir -p "$dir"
cp "$src/package.json" "$src/package-lock.json" "$dir/"
# No install scripts run: the packages are plain JavaScript and data.
(cd "$dir" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
