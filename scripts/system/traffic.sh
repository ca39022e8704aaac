#!/usr/bin/env bash
# Installs what blue/green traffic switching on one host needs: haproxy (llm-gitops
# switches colours through its runtime API over the admin socket, no reload) and
# nginx-light (only the blue/green benchmark's reload-switch comparison uses it).
# Their packaged services stay off: tests and deploys start their own on loopback.
# Idempotent: installs only what is missing; `apt-get update` only then.
set -euo pipefail

packages=(haproxy nginx-light)
missing=()
for pkg in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done
if [ "${#missing[@]}" -eq 0 ]; then
  echo "traffic.sh: ${packages[*]} already installed"
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "traffic.sh: missing ${missing[*]} and no apt-get; blue/green tests will be skipped" >&2
  exit 0
fi

export DEBIAN_FRONTEND=noninteractive
# Keep the packages' init scripts from starting services on :80 during the install
# (policy-rc.d's 101 = "action forbidden"); an existing policy is left alone.
guard=""
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  guard=/usr/sbin/policy-rc.d
fi
trap '[ -z "$guard" ] || rm -f "$guard"' EXIT
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  systemctl disable --now haproxy nginx >/dev/null 2>&1 || true
fi
echo "traffic.sh: installed ${missing[*]}"
