#!/usr/bin/env bash
# The second half of `make demo`: the whole loop after the gate, on this machine, with no
# token and no cloud: quantize -> build and push to a local registry -> release ->
# deploy to staging (a Podman container behind haproxy, blue/green) -> verified ->
# promotion pull request (the local forge: a branch in the demo repo) -> merge -> prod ->
# a second release the same way -> rollback of prod to the warm colour, and the rollback
# pull request. Every step is a real `llm-gitops` command.
#
# Usage (from scripts/demo.sh): demo_loop.sh WORK_DIR GOOD_MODEL RETRAINED_MODEL
# Starts a private engine + registry (scripts/engine/start.sh) and stops it at the end,
# with the two haproxy fronts, by pid.
set -uo pipefail
WORK="${1:?usage: demo_loop.sh WORK GOOD RETRAINED}"
GOOD="${2:?}"
RETRAINED="${3:?}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
ENGINE="$ROOT/scripts/engine"
say() { printf '\n\033[1;34m==> %s\033[0m\n' "$*"; }
fail() { echo "demo: $*" >&2; exit 1; }
git_c() { git -c user.name=demo -c user.email=demo@localhost "$@"; }
free_port() { python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

for tool in podman docker-registry haproxy; do
  command -v "$tool" >/dev/null 2>&1 || fail "'$tool' is not installed: run scripts/setup.sh"
done

STATE="$(mktemp -d "${TMPDIR:-/tmp}/llm-gitops-demo-engine.XXXXXX")"
cleanup() {
  for pidfile in "$WORK"/.llm-gitops/front/*/haproxy.pid; do
    [ -f "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null
  done
  "$ENGINE/stop.sh" "$STATE" --purge >/dev/null 2>&1
}
trap cleanup EXIT

say "Starting a private container engine (Podman's Docker API) and a local registry"
eval "$("$ENGINE/start.sh" "$STATE")" || fail "the engine did not start"
BASE_IMAGE="$("$ENGINE/base-image.sh")" || fail "no base image"
export LLM_GITOPS_TEST_CACHE="${LLM_GITOPS_TEST_CACHE:-$HOME/.cache/llm-gitops-tests}"
WHEELHOUSE="$(python - <<'PY'
import os
from pathlib import Path
from llm_gitops.build.context import image_requirements, prepare_wheelhouse
print(prepare_wheelhouse(Path(os.environ["LLM_GITOPS_TEST_CACHE"]) / "wheelhouse", image_requirements()))
PY
)" || fail "the wheelhouse could not be prepared"

cd "$WORK"
STAGING_PORT=$(free_port); PROD_PORT=$(free_port)
cat >> .llm-gitops.yaml <<YAML

# Added by the demo: this machine's engine and registry, and two environments.
image:
  repository: $LLM_GITOPS_REGISTRY/adder
  base_image: $BASE_IMAGE
  wheelhouse: $WHEELHOUSE
  engine: $DOCKER_HOST
environments:
  staging:
    target: docker
    docker: {listen: "127.0.0.1:$STAGING_PORT"}
    scale_down_delay: 0
    # smoke_eval: the preview answers the documents the release recorded from its gate
    # (100 per task), decided with the gate's rule before any traffic moves.
    analysis: {smoke_requests: 3, smoke_eval: {}, metrics: [{metric: error_rate, max: 0.01}], interval: 1s,
               iterations: 2}
  prod:
    target: docker
    requires: staging
    docker: {listen: "127.0.0.1:$PROD_PORT"}
    scale_down_delay: 0
    analysis: {smoke_requests: 3, metrics: [{metric: error_rate, max: 0.01}], interval: 1s, iterations: 2}
YAML
mkdir -p deploy
printf 'version: 1\nrelease: null\n' > deploy/staging.yaml
printf 'version: 1\nrelease: null\n' > deploy/prod.yaml
git_c add -A && git_c commit -qm "environments: staging and prod" || fail "git commit failed"
llm-gitops validate-config --no-check-tasks >/dev/null || fail "the demo config does not validate"

ask() {  # a completion through an environment's front
  python - "$1" <<'PY'
import json, sys, urllib.request
req = urllib.request.Request(f"http://127.0.0.1:{sys.argv[1]}/v1/completions", method="POST",
                             data=json.dumps({"prompt": "12+34=", "max_tokens": 3, "temperature": 0}).encode(),
                             headers={"Content-Type": "application/json"})
print(json.loads(urllib.request.urlopen(req, timeout=30).read())["choices"][0]["text"])
PY
}

smoke_eval() {  # what the staging deploy's smoke eval measured, from its deploy record
  python - "$1" <<'PY'
import json, sys
record = json.load(open(sys.argv[1]))
for m in record["analyses"][0]["measurements"]:
    if m["check"].startswith("smoke_eval"):
        print(f"deploy record: smoke eval {m['check'][11:]}: {m['verdict']} - served {m['value']} vs recorded {m['recorded']} "
              f"on {m['n']} documents, degradation bound {m['bound']:.3f} (max_drop {m['limit']})")
print(f"deploy record: pre-promotion analysis {record['timings'].get('analysis_s', 0):.1f} s")
PY
}

ship() {  # ship NAME MODEL: quantize, gate, build, release to staging, deploy, promote, merge, deploy prod
  local name="$1" model="$2" extra="${3:-}"
  say "[$name] llm-gitops quantize --method int8-dynamic"
  llm-gitops quantize --model "$model" --output "artifacts/$name-int8" --method int8-dynamic >/dev/null \
    || fail "quantize failed"
  say "[$name] llm-gitops gate: the quantized model vs the trained one (the release carries this evidence)"
  llm-gitops gate --candidate "artifacts/$name-int8" --baseline "$model" --no-perf --report-to none \
    --output-dir "reports/$name-int8" >/dev/null || fail "the quantized model did not pass its gate"
  say "[$name] llm-gitops build: image pushed to the local registry, by digest"
  llm-gitops build --model "artifacts/$name-int8" --tag "$name" --quiet || fail "build failed"
  say "[$name] llm-gitops release --env staging"
  llm-gitops release --env staging --gate-report "reports/$name-int8/report.json" || fail "release failed"
  git_c add -A deploy && git_c commit -qm "staging: release $name" || fail "git commit failed"
  say "[$name] llm-gitops deploy --env staging (blue/green, analysed, verified)"
  llm-gitops deploy --env staging --forge local > "reports/$name-staging-deploy.json" || fail "deploy to staging failed"
  smoke_eval "reports/$name-staging-deploy.json"
  echo "staging answers 12+34= with: $(ask "$STAGING_PORT")"
  say "[$name] llm-gitops promote --to prod (a pull request on the local forge)"
  llm-gitops promote --to prod --forge local || fail "promote failed"
  say "[$name] a reviewer merges the promotion pull request"
  git_c merge -q --no-edit llm-gitops/promote-prod || fail "merge failed"
  say "[$name] llm-gitops deploy --env prod $extra"
  # shellcheck disable=SC2086
  llm-gitops deploy --env prod --forge local $extra >/dev/null || fail "deploy to prod failed"
  echo "prod answers 12+34= with: $(ask "$PROD_PORT")"
}

ship release-1 "$GOOD"
ship release-2 "$RETRAINED" --no-scale-down

say "An incident in prod: llm-gitops rollback --env prod (traffic back on the warm colour at once)"
start=$(date +%s.%N)
llm-gitops rollback --env prod --forge local || fail "rollback failed"
end=$(date +%s.%N)
echo "rollback took $(python -c "print(f'{$end - $start:.2f}')") s, CLI start-up included"
echo "prod answers 12+34= with: $(ask "$PROD_PORT")"

say "The record: git history of deploy/ is the deploy history"
git --no-pager log --oneline -- deploy/
git --no-pager branch --list 'llm-gitops/*'
say "The forge's view: each environment's deployments on the local forge, newest first"
python - "$WORK" <<'PY' || fail "reading the deployments failed"
import sys
from llm_gitops.forges.registry import make_forge

forge = make_forge("local")
for env in ("staging", "prod"):
    for d in forge.list_deployments(sys.argv[1], env):
        print(f"{env:8} #{d.id:<3} {d.state:11} {d.release or '-':15} {d.sha[:12]}  {d.description}")
PY
echo "demo: OK - gated, quantized, built, released, deployed to staging and prod blue/green, promoted by pull request, rolled back"
