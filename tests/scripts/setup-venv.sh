#!/usr/bin/env bash
# Creates the project-local virtualenv (.venv) with the tools the tests run (cfn-lint, moto
# server), pinned in tests/requirements.txt. Does nothing when .venv already matches that file.
# Needs only python3: on Debian, where `venv` is a separate package, it installs python3-venv
# through setup-debian.sh (root and apt-get), which otherwise says what to install.
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=.venv
req=tests/requirements.txt
if [ -x "$venv/bin/cfn-lint" ] && [ -x "$venv/bin/moto_server" ] && cmp -s "$req" "$venv/.requirements"; then
  exit 0
fi
command -v python3 >/dev/null || { echo "setup: python3 is missing; install it (Debian: python3) and retry" >&2; exit 1; }
# Debian's python3 has the venv module but not ensurepip, without which venv cannot install pip.
if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
  tests/scripts/setup-debian.sh python3-venv
fi
echo "setup: creating $venv with $(grep -v '^#' "$req" | tr '\n' ' ')(about a minute, once)" >&2
rm -rf "$venv"
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check -r "$req"
cp "$req" "$venv/.requirements"
