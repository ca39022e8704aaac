#!/usr/bin/env bash
# Run the whole test suite. Expensive fixtures (the trained example models, the base
# container image) are cached outside the repo and rebuilt when absent.
set -uo pipefail
cd "$(dirname "$0")/.."
VENV="${LLM_GITOPS_VENV:-.venv}"
export LLM_GITOPS_TEST_CACHE="${LLM_GITOPS_TEST_CACHE:-$HOME/.cache/llm-gitops-tests}"
export PATH="$PWD/$VENV/bin:$PATH"

"$VENV/bin/python" -m pytest "$@"
status=$?
if [ "$status" -eq 5 ]; then
  # pytest's 5 means no test ran: that is a failure of the suite, not a pass.
  echo "error: pytest collected no tests" >&2
  exit 1
fi
exit "$status"
