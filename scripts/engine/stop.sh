#!/usr/bin/env bash
# Stops what start.sh started in STATE: containers in its private storage, the podman
# service and the registry, each by the pid recorded in STATE (never by name).
# Usage: scripts/engine/stop.sh STATE_DIR [--purge]   (--purge also deletes STATE)
set -uo pipefail

STATE="${1:?usage: stop.sh STATE_DIR [--purge]}"
[ -d "$STATE" ] || exit 0
STATE="$(cd "$STATE" && pwd)"

if [ -f "$STATE/env" ]; then
  # shellcheck source=/dev/null
  . "$STATE/env"
  # Containers outlive the API service (conmon keeps them); remove this storage's ones.
  # Scoped by CONTAINERS_STORAGE_CONF, so other engines' containers are untouched.
  podman rm --all --force --time 2 >/dev/null 2>&1 || true
fi

stop_pid() {
  local pidfile="$1"
  [ -f "$pidfile" ] || return 0
  local pid
  pid="$(cat "$pidfile")"
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
  fi
  rm -f "$pidfile"
}
stop_pid "$STATE/podman.pid"
stop_pid "$STATE/registry.pid"
rm -f "$STATE/podman.sock"

if [ "${2:-}" = "--purge" ]; then
  # Overlay storage may hold mounts; unmount them before deleting.
  podman system reset --force >/dev/null 2>&1 || true
  rm -rf "$STATE"
fi
exit 0
