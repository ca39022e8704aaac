#!/usr/bin/env bash
# Installs llm-gitops (and a pinned torch first when its extras need one) into
# $LLM_GITOPS_PYTHON, or into a virtual environment made at $LLM_GITOPS_VENV with it, and
# on GitHub puts its scripts directory on the job's PATH.
#
# The one install script of all three CI glues: the Jenkins library loads it with
# libraryResource (which reads only its own resources/, hence its place here); the GitHub
# actions run it from their own checkout of this repository; the GitLab components run it
# from the checkout of the component project they clone at their ref. Every value arrives
# through the environment, never spliced into this script.
#
# What is installed, first match wins:
#   LLM_GITOPS_SPEC            a pip requirement installed as given (extras included)
#   LLM_GITOPS_VERSION         a release from the package index, e.g. 0.1.0
#   LLM_GITOPS_SOURCE          a checkout of this repository (a directory), or a git URL
#                              installed at LLM_GITOPS_SOURCE_REF (a tag, branch or commit)
# Options:
#   LLM_GITOPS_EXTRAS          extras (eval,forge,...); eval/quantize/serve/all pull torch
#   LLM_GITOPS_PYTHON          interpreter (default python3)
#   LLM_GITOPS_VENV            create this venv (if absent) and install into it
#   LLM_GITOPS_TORCH_VERSION   torch pin installed first when the extras need torch
#   LLM_GITOPS_TORCH_INDEX_URL package index for torch only (CPU runners: PyTorch's CPU index)
#   LLM_GITOPS_PRINT_KEY=1     print the install key (a cache key for the venv) and exit
#
# With a venv, a stamp file records the install key: a venv restored from a CI cache with
# the same key is used as it is, so a warm job installs nothing.
set -euo pipefail

python="${LLM_GITOPS_PYTHON:-python3}"
version="${LLM_GITOPS_VERSION:-}"
spec="${LLM_GITOPS_SPEC:-}"
source="${LLM_GITOPS_SOURCE:-}"
source_ref="${LLM_GITOPS_SOURCE_REF:-}"
extras="${LLM_GITOPS_EXTRAS:-}"
torch_version="${LLM_GITOPS_TORCH_VERSION:-}"
torch_index_url="${LLM_GITOPS_TORCH_INDEX_URL:-}"
venv="${LLM_GITOPS_VENV:-}"

fail() {
  echo "error: llm-gitops install: $1" >&2
  exit 2
}

with_extras() {  # with_extras NAME -> NAME[extras]
  if [ -n "$extras" ]; then printf '%s[%s]' "$1" "$extras"; else printf '%s' "$1"; fi
}

# The requirement pip installs, and what identifies its content for the install key.
if [ -n "$spec" ]; then
  requirement="$spec"
  identity="spec:$spec"
elif [ -n "$version" ]; then
  requirement="$(with_extras llm-gitops)==$version"
  identity="index:$version"
elif [ -d "$source" ]; then
  source="$(cd "$source" && pwd)"
  [ -f "$source/pyproject.toml" ] || fail "LLM_GITOPS_SOURCE $source is not a checkout of llm-gitops (no pyproject.toml)"
  requirement="$(with_extras "$source")"
  # The package's content, so that a changed checkout never reuses an old venv.
  identity="tree:$(cd "$source" && find pyproject.toml src/llm_gitops -type f ! -name '*.pyc' -print0 \
    | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)"
elif [ -n "$source" ]; then
  [ -n "$source_ref" ] || fail "set the ref to install $source at (LLM_GITOPS_SOURCE_REF: the tag or commit of the glue you use)"
  case "$source" in git+*) url="$source" ;; *) url="git+$source" ;; esac
  requirement="$(with_extras llm-gitops) @ $url@$source_ref"
  identity="git:$url@$source_ref"
else
  fail "nothing to install: set a source (this repository's checkout or git URL), a version (a release, e.g. 0.1.0) or a spec (a pip requirement)"
fi

needs_torch=false
case ",$extras," in
  *,eval,*|*,quantize,*|*,serve,*|*,all,*) [ -z "$torch_version" ] || needs_torch=true ;;
esac

key_text="$identity extras=$extras torch=$torch_version index=$torch_index_url python=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
key="$(printf '%s' "$key_text" | sha256sum | cut -c1-20)"
if [ "${LLM_GITOPS_PRINT_KEY:-}" = "1" ]; then
  echo "$key"
  exit 0
fi

stamp=""
if [ -n "$venv" ]; then
  # Distribution Pythons refuse system-wide pip installs (PEP 668); a venv always works.
  if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
  fi
  python="$venv/bin/python"
  stamp="$venv/.llm-gitops-install-key"
fi

if [ -n "$stamp" ] && [ -f "$stamp" ] && [ "$(head -n 1 "$stamp")" = "$key" ]; then
  echo "llm-gitops is already installed in $venv (install key $key)"
  # A venv restored from a cache into another directory (GitLab's build directory, act's
  # workspace) still names the old one in its scripts' #! lines: point them here.
  here="$(cd "$venv" && pwd)"
  made_at="$(sed -n 2p "$stamp")"
  if [ -n "$made_at" ] && [ "$made_at" != "$here" ]; then
    for script in "$venv"/bin/*; do
      if [ -f "$script" ] && [ ! -L "$script" ] && head -n 1 "$script" | grep -qF "#!$made_at/bin/python"; then
        sed -i "1s|^#!$made_at/bin/python|#!$here/bin/python|" "$script"
      fi
    done
    printf '%s\n%s\n' "$key" "$here" > "$stamp"
    echo "moved the venv's scripts from $made_at to $here"
  fi
else
  pip=("$python" -m pip install --disable-pip-version-check --progress-bar off)
  # torch first, pinned: left to the resolver, an unpinned torch pulls a multi-GB GPU build.
  if [ "$needs_torch" = true ]; then
    torch_args=("torch==$torch_version")
    if [ -n "$torch_index_url" ]; then
      torch_args+=(--index-url "$torch_index_url")
    fi
    echo "Installing torch==$torch_version"
    "${pip[@]}" "${torch_args[@]}"
  fi
  echo "Installing $requirement"
  "${pip[@]}" "$requirement"
  if [ -n "$stamp" ]; then
    # The key, and where the venv was made (its scripts' #! lines name it).
    printf '%s\n%s\n' "$key" "$(cd "$venv" && pwd)" > "$stamp"
  fi
fi

scripts_dir="$("$python" -c 'import sysconfig; print(sysconfig.get_path("scripts"))')"
installed="$("$python" -c 'import llm_gitops; print(llm_gitops.__version__)')"
echo "llm-gitops $installed installed; its command is in $scripts_dir"
if [ -n "${GITHUB_PATH:-}" ]; then
  echo "$scripts_dir" >> "$GITHUB_PATH"
fi
if [ -n "${GITHUB_OUTPUT:-}" ]; then
  echo "version=$installed" >> "$GITHUB_OUTPUT"
  echo "bin=$scripts_dir" >> "$GITHUB_OUTPUT"
fi
