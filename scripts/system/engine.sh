#!/usr/bin/env bash
# Installs the container engine the build/deploy tests drive through the Docker API:
# podman (its `system service` speaks the Docker API), runc (crun fails on hybrid
# cgroups), Debian's docker-registry (a local registry to push to) and mmdebstrap
# (builds the Python base image offline-capable, since no image can be pulled) and
# catatonit (the init podman runs as PID 1 for `--init` / the SDK's init=True, so a
# SIGTERM reaches the server; it is only a Recommends of podman).
# Idempotent: installs only what is missing (scripts/lib/apt.sh).
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=../lib/apt.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/apt.sh"

apt_ensure engine.sh "engine tests" podman runc catatonit docker-registry mmdebstrap uidmap
# The distro unit would start a registry on :5000 for every interface; tests start
# their own on loopback, so the packaged service stays off (no-op without systemd).
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  systemctl disable --now docker-registry >/dev/null 2>&1 || true
fi
