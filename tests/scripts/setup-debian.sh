#!/usr/bin/env bash
# Installs the Debian packages the project needs, only those missing:
#   tests/scripts/setup-debian.sh PACKAGE[:COMMAND]...
# A package is present when dpkg has it installed, or when its COMMAND is on PATH (a machine that
# is not Debian, with the tool installed its own way, passes). Installing needs apt-get and root;
# without them it names what to install and fails, rather than let a test fail later.
set -euo pipefail
missing=()
for spec in "$@"; do
  package=${spec%%:*}
  command=${spec#"$package"}
  command=${command#:}
  if [ -n "$command" ] && command -v "$command" >/dev/null 2>&1; then
    continue
  fi
  if command -v dpkg-query >/dev/null 2>&1 \
      && [ "$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null)" = "install ok installed" ]; then
    continue
  fi
  missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null 2>&1; then
  echo "setup: needs ${missing[*]} (Debian package names) and this machine has no apt-get:" \
    "install the equivalent by hand, then retry" >&2
  exit 1
fi
if [ "$(id -u)" != 0 ]; then
  echo "setup: needs the Debian packages ${missing[*]}, and installing them takes root:" \
    "run \`sudo apt-get install ${missing[*]}\` (or this command as root), then retry" >&2
  exit 1
fi
echo "setup: installing the Debian packages ${missing[*]} with apt-get" >&2
export DEBIAN_FRONTEND=noninteractive DEBCONF_NOWARNINGS=yes
apt-get update -qq
apt-get install -y -qq "${missing[@]}" >/dev/null
