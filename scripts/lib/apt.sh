# shellcheck shell=bash
# Sourced by scripts/system/*.sh: install the Debian packages that are missing, and only them.
#
#   apt_ensure NAME WHAT PACKAGE...
#
# NAME prefixes the messages (e.g. engine.sh); WHAT says what skips without the packages.
# `apt-get update` runs only when something is missing. Package init scripts are kept
# from starting services during the install (policy-rc.d's 101, "action forbidden"; an
# existing policy is left alone): the tests and deploys start their own, on loopback.
apt_ensure() {
  local name="$1" what="$2"
  shift 2
  local missing=() pkg
  for pkg in "$@"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
      missing+=("$pkg")
    fi
  done
  if [ "${#missing[@]}" -eq 0 ]; then
    echo "$name: $* already installed"
    return 0
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "$name: missing ${missing[*]} and no apt-get; $what will be skipped" >&2
    return 0
  fi
  local guard=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    guard=/usr/sbin/policy-rc.d
  fi
  local status=0
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update -qq || status=$?
  # --no-install-recommends: only what is named (e.g. runc, not podman's crun extras).
  [ "$status" -ne 0 ] || DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
    --no-install-recommends "${missing[@]}" >/dev/null || status=$?
  [ -z "$guard" ] || rm -f "$guard"
  [ "$status" -eq 0 ] || return "$status"
  echo "$name: installed ${missing[*]}"
}
