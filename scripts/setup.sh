#!/usr/bin/env bash
# Set up everything llm-gitops' demo and tests need on a fresh Debian machine (root, no
# GPU): system packages and tools (scripts/system/*.sh), then a virtualenv with the
# CPU build of torch and llm-gitops[test]. Idempotent and fast when nothing changed.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV="${LLM_GITOPS_VENV:-.venv}"
PYTHON="${PYTHON:-python3}"
# torch is pinned to the CPU wheel: an unpinned torch pulls a multi-GB CUDA build.
TORCH_SPEC="${LLM_GITOPS_TORCH_SPEC:-torch==2.13.0}"

log() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }

if [ ! -x "$VENV/bin/python" ]; then
  log "creating virtualenv $VENV"
  "$PYTHON" -m venv "$VENV"
fi

# Reinstall only when the dependency declaration changed.
stamp="$VENV/.llm-gitops-deps"
want="$(cat pyproject.toml | sha256sum | cut -d' ' -f1) $TORCH_SPEC"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  log "installing $TORCH_SPEC (CPU) and llm-gitops[test] (a few minutes the first time)"
  "$VENV/bin/pip" install --quiet --upgrade pip
  "$VENV/bin/pip" install --quiet "$TORCH_SPEC"
  "$VENV/bin/pip" install --quiet -e ".[test]"
  echo "$want" > "$stamp"
else
  log "python dependencies up to date"
fi
for script in scripts/system/*.sh; do
  [ -e "$script" ] || continue
  log "system: $(basename "$script" .sh)"
  bash "$script"
done
log "ready: $("$VENV/bin/llm-gitops" --version)"
