#!/usr/bin/env bash
# Starts a private container engine and registry for builds and tests, on loopback only:
#   * `podman system service` speaking the Docker API on unix://STATE/podman.sock
#   * Debian's `docker-registry` on 127.0.0.1:PORT (plain HTTP, marked insecure)
# Everything lives in STATE (configs, image storage, logs, pid files), so several
# checkouts can run engines side by side and `stop.sh STATE` removes exactly what this
# started. Prints the environment to use (also written to STATE/env):
#   DOCKER_HOST, LLM_GITOPS_REGISTRY, CONTAINERS_CONF, CONTAINERS_REGISTRIES_CONF,
#   CONTAINERS_STORAGE_CONF.
#
# Usage: scripts/engine/start.sh STATE_DIR [REGISTRY_PORT]   (port default: a free one)
set -euo pipefail

STATE="${1:?usage: start.sh STATE_DIR [REGISTRY_PORT]}"
mkdir -p "$STATE"
STATE="$(cd "$STATE" && pwd)"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

for tool in podman runc docker-registry python3; do
  command -v "$tool" >/dev/null 2>&1 || {
    echo "start.sh: '$tool' not found; run scripts/system/engine.sh first" >&2
    exit 2
  }
done

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
if alive "$STATE/podman.pid" || alive "$STATE/registry.pid"; then
  echo "start.sh: an engine is already running in $STATE; stop it with scripts/engine/stop.sh $STATE" >&2
  exit 2
fi

PORT="${2:-}"
if [ -z "$PORT" ]; then
  PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
fi
REGISTRY="127.0.0.1:$PORT"
SOCK="$STATE/podman.sock"

mkdir -p "$STATE/storage" "$STATE/run" "$STATE/registry-data" "$STATE/tmp"
# runc, not crun: crun fails on hybrid cgroups. The default rlimits need
# CAP_SYS_RESOURCE, which the host may not grant. No systemd/journald here.
cat > "$STATE/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1000:1000"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$STATE/events.log"
tmp_dir = "$STATE/tmp"
CONF
cat > "$STATE/registries.conf" <<CONF
unqualified-search-registries = []

[[registry]]
location = "$REGISTRY"
insecure = true
CONF
cat > "$STATE/storage.conf" <<CONF
[storage]
driver = "overlay"
graphroot = "$STATE/storage"
runroot = "$STATE/run"
CONF
cat > "$STATE/registry.yml" <<CONF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $STATE/registry-data
  delete:
    enabled: true
http:
  addr: $REGISTRY
CONF

cat > "$STATE/env" <<ENV
export DOCKER_HOST=unix://$SOCK
export LLM_GITOPS_REGISTRY=$REGISTRY
export CONTAINERS_CONF=$STATE/containers.conf
export CONTAINERS_REGISTRIES_CONF=$STATE/registries.conf
export CONTAINERS_STORAGE_CONF=$STATE/storage.conf
ENV
# shellcheck source=/dev/null
. "$STATE/env"

rm -f "$SOCK"
nohup podman system service --time=0 "unix://$SOCK" >"$STATE/podman.log" 2>&1 </dev/null &
echo $! >"$STATE/podman.pid"
nohup docker-registry serve "$STATE/registry.yml" >"$STATE/registry.log" 2>&1 </dev/null &
echo $! >"$STATE/registry.pid"

if ! python3 "$HERE/wait_ready.py" "$SOCK" "$REGISTRY" 60; then
  echo "start.sh: engine or registry did not become ready; logs: $STATE/podman.log $STATE/registry.log" >&2
  tail -n 5 "$STATE/podman.log" "$STATE/registry.log" >&2 || true
  "$HERE/stop.sh" "$STATE" >/dev/null 2>&1 || true
  exit 1
fi
cat "$STATE/env"
