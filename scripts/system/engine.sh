#!/usr/bin/env bash
# Installs the container engine the build/deploy tests drive through the Docker API:
# podman (its `system service` speaks the Docker API), runc (crun fails on hybrid
# cgroups), Debian's docker-registry (a local registry to push to) and mmdebstrap
# (builds the Python base image offline-capable, since no image can be pulled) and
# catatonit (the init podman runs as PID 1 for `--init` / the SDK's init=True, so a
# SIGTERM reaches the server; it is only a Recommends of podman).
# Idempotent: installs only what is missing; `apt-get update` only then.
set -euo pipefail

packages=(podman runc catatonit docker-registry mmdebstrap uidmap)
missing=()
for pkg in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "engine.sh: ${packages[*]} already installed"
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "engine.sh: missing ${missing[*]} and no apt-get; engine tests will be skipped" >&2
  exit 0
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# --no-install-recommends keeps out crun-only extras; runc is named explicitly.
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The distro unit would start a registry on :5000 for every interface; tests start
# their own on loopback, so the packaged service stays off (no-op without systemd).
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  systemctl disable --now docker-registry >/dev/null 2>&1 || true
fi
echo "engine.sh: installed ${missing[*]}"
