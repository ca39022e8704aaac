#!/usr/bin/env bash
# Installs what the forge tests read: GitHub's official OpenAPI description and webhook
# examples (npm), into a cache outside the repository. Idempotent: does nothing when
# the pinned versions are already there. Tests skip with a reason when this never ran.
set -euo pipefail

CACHE="${LLM_GITOPS_TEST_CACHE:-$HOME/.cache/llm-gitops-tests}/npm"
OPENAPI_VERSION="23.0.2"
WEBHOOKS_EXAMPLES_VERSION="7.6.1"

installed_version() {
  local pkg_json="$CACHE/node_modules/$1/package.json"
  [ -f "$pkg_json" ] && node -e "process.stdout.write(require('$pkg_json').version)" 2>/dev/null || true
}

if ! command -v npm >/dev/null 2>&1; then
  command -v apt-get >/dev/null 2>&1 || { echo "forges.sh: npm missing and no apt-get; skipping" >&2; exit 0; }
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >/dev/null
fi

if [ "$(installed_version @octokit/openapi)" = "$OPENAPI_VERSION" ] &&
   [ "$(installed_version @octokit/webhooks-examples)" = "$WEBHOOKS_EXAMPLES_VERSION" ]; then
  echo "forges.sh: @octokit/openapi $OPENAPI_VERSION and webhooks-examples already in $CACHE"
  exit 0
fi

mkdir -p "$CACHE"
[ -f "$CACHE/package.json" ] || echo '{"name": "llm-gitops-test-fixtures", "private": true}' > "$CACHE/package.json"
npm install --prefix "$CACHE" --no-audit --no-fund --loglevel=error \
  "@octokit/openapi@$OPENAPI_VERSION" "@octokit/webhooks-examples@$WEBHOOKS_EXAMPLES_VERSION"
echo "forges.sh: installed into $CACHE"
