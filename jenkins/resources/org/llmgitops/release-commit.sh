#!/usr/bin/env bash
# Records the build of this pipeline (.llm-gitops/build.json) as a release for
# $LLM_GITOPS_ENV (`llm-gitops release --env`), commits deploy/ and pushes the commit to
# $LLM_GITOPS_BRANCH of origin with the credentials git already has. Every value arrives
# through the environment. Loaded by the Jenkins step llmGitopsDeploy (release: true).
set -euo pipefail

id="$(llm-gitops release --config "$LLM_GITOPS_CONFIG" --env "$LLM_GITOPS_ENV")"
git add -- "$(dirname "$LLM_GITOPS_CONFIG")/deploy"
if git diff --cached --quiet; then
  echo "deploy/ already names $id: nothing to commit"
  exit 0
fi
git -c user.name=llm-gitops -c user.email=llm-gitops@noreply.invalid \
  commit -q -m "llm-gitops release: $LLM_GITOPS_ENV -> $id"
git push -q origin "HEAD:refs/heads/$LLM_GITOPS_BRANCH"
echo "pushed $(git rev-parse --short HEAD): deploy/$LLM_GITOPS_ENV.yaml -> $id"
