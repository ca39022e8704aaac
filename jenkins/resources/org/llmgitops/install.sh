#!/usr/bin/env bash
# Installs a pinned llm-gitops into $LLM_GITOPS_PYTHON (or into a virtual environment
# made at $LLM_GITOPS_VENV with it) and, on GitHub, puts its scripts directory on the
# job's PATH. The one copy: the Jenkins library loads it with libraryResource (which reads
# only its own resources/, hence its place here), and actions/setup, actions/gate and
# actions/build run it from the same checkout of this repository (a composite action
# cannot `uses:` a sibling by a relative path once consumed from another repository).
# Every value arrives through the environment, never spliced into this script.
#
#   LLM_GITOPS_PYTHON          interpreter (default python3)
#   LLM_GITOPS_VENV            optional: create this venv and install into it
#   LLM_GITOPS_VERSION         release to install, e.g. 0.1.0
#   LLM_GITOPS_SPEC            pip requirement installed as given instead of the release
#   LLM_GITOPS_EXTRAS          extras for the release; eval/quantize/serve/all pull torch
#   LLM_GITOPS_TORCH_VERSION   torch pin installed first when the extras need torch
#   LLM_GITOPS_TORCH_INDEX_URL package index for torch only
set -euo pipefail

python="${LLM_GITOPS_PYTHON:-python3}"
version="${LLM_GITOPS_VERSION:-}"
spec="${LLM_GITOPS_SPEC:-}"
extras="${LLM_GITOPS_EXTRAS:-}"
torch_version="${LLM_GITOPS_TORCH_VERSION:-}"
torch_index_url="${LLM_GITOPS_TORCH_INDEX_URL:-}"
venv="${LLM_GITOPS_VENV:-}"

if [ -z "$spec" ] && [ -z "$version" ]; then
  echo "error: llm-gitops install: set a version (a release, e.g. 0.1.0) or a spec (a pip requirement)" >&2
  exit 2
fi
if [ -n "$venv" ]; then
  # Distribution Pythons refuse system-wide pip installs (PEP 668); a venv always works.
  if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
  fi
  python="$venv/bin/python"
fi
# A spec wins over a version and is installed as given (extras included by the caller):
# it is how tests and forks install from a path or a branch.
if [ -z "$spec" ]; then
  if [ -n "$extras" ]; then
    spec="llm-gitops[$extras]==$version"
  else
    spec="llm-gitops==$version"
  fi
fi

pip=("$python" -m pip install --disable-pip-version-check --progress-bar off)

# torch first, pinned: left to the resolver, an unpinned torch pulls a multi-GB GPU build.
case ",$extras," in
  *,eval,*|*,quantize,*|*,serve,*|*,all,*)
    if [ -n "$torch_version" ]; then
      torch_args=("torch==$torch_version")
      if [ -n "$torch_index_url" ]; then
        torch_args+=(--index-url "$torch_index_url")
      fi
      echo "Installing torch==$torch_version"
      "${pip[@]}" "${torch_args[@]}"
    fi
    ;;
esac

echo "Installing $spec"
"${pip[@]}" "$spec"

scripts_dir="$("$python" -c 'import sysconfig; print(sysconfig.get_path("scripts"))')"
installed="$("$python" -c 'import llm_gitops; print(llm_gitops.__version__)')"
echo "llm-gitops $installed installed; its command is in $scripts_dir"
if [ -n "${GITHUB_PATH:-}" ]; then
  echo "$scripts_dir" >> "$GITHUB_PATH"
fi
if [ -n "${GITHUB_OUTPUT:-}" ]; then
  echo "version=$installed" >> "$GITHUB_OUTPUT"
fi
