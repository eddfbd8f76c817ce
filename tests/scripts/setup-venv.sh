#!/usr/bin/env bash
# Creates the project-local virtualenv (.venv) with the tools the tests run (cfn-lint, moto server,
# just), pinned in tests/requirements.txt. Does nothing when .venv already matches that file.
# Needs only python3: on Debian, where `venv` is a separate package, it installs python3-venv
# with apt-get when running as root, and otherwise says what to install.
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=.venv
req=tests/requirements.txt
if [ -x "$venv/bin/cfn-lint" ] && [ -x "$venv/bin/moto_server" ] && [ -x "$venv/bin/just" ] \
    && cmp -s "$req" "$venv/.requirements"; then
  exit 0
fi
if ! python3 -m venv --help >/dev/null 2>&1 || ! python3 -c 'import ensurepip' >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "setup: python3 has no venv module; installing Debian's python3-venv" >&2
    apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
  else
    echo "setup: python3 cannot create virtualenvs; install python3-venv (Debian) and retry" >&2
    exit 1
  fi
fi
echo "setup: creating $venv with $(tr '\n' ' ' < "$req" | sed 's/#[^ ]* //g')" >&2
rm -rf "$venv"
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check -r "$req"
cp "$req" "$venv/.requirements"
