#!/bin/bash
# patchplane pre-patch health check (Linux), the pre-install hook of AWS-RunPatchBaselineWithHooks.
# A failure prints PATCHPLANE_HEALTH_CHECK_FAILED and exits 1: the node is not patched this time.
set -u
min_free_mb="{{ MinFreeMb }}"
min_agent="{{ MinAgentVersion }}"
fail() { echo "PATCHPLANE_HEALTH_CHECK_FAILED: $1"; exit 1; }

# 1. Free disk space where packages are unpacked and installed.
for path in / /var /tmp; do
  [ -d "$path" ] || continue
  free=$(df -Pm "$path" 2>/dev/null | awk 'NR==2 {print $4}')
  if [ -n "$free" ] && [ "$free" -lt "$min_free_mb" ]; then
    fail "only ${free} MB free on ${path} (need ${min_free_mb})"
  fi
done

# 2. The package manager is not busy.
for lock in /var/lib/dpkg/lock-frontend /var/lib/dpkg/lock /var/run/yum.pid /var/lib/rpm/.rpm.lock /run/zypp.pid; do
  if [ -e "$lock" ] && command -v fuser >/dev/null 2>&1 && fuser "$lock" >/dev/null 2>&1; then
    fail "the package manager is busy (${lock} is held)"
  fi
done

# 3. Its repositories are reachable.
if command -v dnf >/dev/null 2>&1; then
  timeout 300 dnf -q makecache >/dev/null 2>&1 || fail "dnf cannot reach its repositories"
elif command -v yum >/dev/null 2>&1; then
  timeout 300 yum -q makecache >/dev/null 2>&1 || fail "yum cannot reach its repositories"
elif command -v apt-get >/dev/null 2>&1; then
  timeout 300 apt-get -qq update >/dev/null 2>&1 || fail "apt cannot reach its repositories"
elif command -v zypper >/dev/null 2>&1; then
  timeout 300 zypper -q refresh >/dev/null 2>&1 || fail "zypper cannot reach its repositories"
fi

# 4. The SSM agent is recent enough.
agent=$(amazon-ssm-agent -version 2>/dev/null | grep -o '[0-9][0-9.]*' | head -n 1)
if [ -z "$agent" ]; then
  fail "cannot tell the SSM agent's version"
fi
lowest=$(printf '%s\n%s\n' "$agent" "$min_agent" | sort -V | head -n 1)
if [ "$lowest" != "$min_agent" ]; then
  fail "SSM agent ${agent} is older than ${min_agent}"
fi
echo "PATCHPLANE_HEALTH_CHECK_OK: disk, package manager, repositories and agent ${agent}"
