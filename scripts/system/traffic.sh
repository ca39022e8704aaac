#!/usr/bin/env bash
# Installs what blue/green traffic switching on one host needs: haproxy (llm-gitops
# switches colours through its runtime API over the admin socket, no reload) and
# nginx-light (only the blue/green benchmark's reload-switch comparison uses it).
# Their packaged services stay off: tests and deploys start their own on loopback.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=../lib/apt.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/apt.sh"

apt_ensure traffic.sh "blue/green tests" haproxy nginx-light
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  systemctl disable --now haproxy nginx >/dev/null 2>&1 || true
fi
