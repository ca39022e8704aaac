#!/usr/bin/env bash
# `make demo`: the main job on embedded defaults, end to end on this machine.
#   1. train the example model (and an under-trained "regressed" one, and a retrained
#      one of equal quality) - cached after the first run;
#   2. gate the regressed candidate against the good baseline: the report, verdict fail;
#   3. gate the retrained candidate against the same baseline: verdict pass;
#   4. the loop after the gate (scripts/demo_loop.sh): quantize, build and push, release,
#      deploy to staging blue/green, promote to prod by pull request, roll back.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
export PATH="$ROOT/${LLM_GITOPS_VENV:-.venv}/bin:$PATH"
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1 MLFLOW_DISABLE_TELEMETRY=true
export TOKENIZERS_PARALLELISM=false
export HF_HOME="${HF_HOME:-${TMPDIR:-/tmp}/llm-gitops-demo-hf-home}"

say() { printf '\n\033[1;34m==> %s\033[0m\n' "$*"; }

say "Training the example model (cached after the first run; ~5 minutes the first time)"
models_json=$(python - <<'PY'
import json
from tests.support.example_models import ensure_example_models, ensure_seed_model
m = ensure_example_models()
print(json.dumps({"good": str(m.good), "regressed": str(m.regressed), "retrained": str(ensure_seed_model(1))}))
PY
) || { echo "demo: training the example model failed (see the log above)" >&2; exit 1; }
model() { python -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$models_json" "$1"; }
GOOD=$(model good); REGRESSED=$(model regressed); RETRAINED=$(model retrained)

# Work on a copy of the example repo so the checkout stays clean.
WORK="${LLM_GITOPS_DEMO_DIR:-${TMPDIR:-/tmp}/llm-gitops-demo}"
rm -rf "$WORK" && mkdir -p "$WORK"
cp -r "$ROOT/examples/repo-template/." "$WORK/"
cd "$WORK"
# A model repo is a git repository: the gate records its commit in MLflow.
git init -q -b main && git add -A && git -c user.name=demo -c user.email=demo@localhost commit -qm "example model repo"

say "llm-gitops validate-config"
llm-gitops validate-config || exit 2

say "Gate 1: a regressed candidate (under-trained) vs the good baseline - expect FAIL"
llm-gitops gate --candidate "$REGRESSED" --baseline "$GOOD" --report-to none --output-dir reports/regressed
first=$?
echo "exit code: $first (1 = gate failed)"

say "Gate 2: a retrained candidate of equal quality vs the same baseline - expect PASS"
llm-gitops gate --candidate "$RETRAINED" --baseline "$GOOD" --report-to none --output-dir reports/retrained
second=$?
echo "exit code: $second (0 = gate passed)"

say "Reports (Markdown, JSON) are in $WORK/reports; MLflow runs in $WORK/.llm-gitops/mlflow.db"
if [ "$first" -ne 1 ] || [ "$second" -ne 0 ]; then
  echo "demo: unexpected verdicts (regressed exit $first, retrained exit $second)" >&2
  exit 1
fi
echo "demo: the regressed model was blocked, the good one passed"
exec bash "$ROOT/scripts/demo_loop.sh" "$WORK" "$GOOD" "$RETRAINED"
