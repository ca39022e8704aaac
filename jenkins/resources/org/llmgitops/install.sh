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
# Exit status: 0 installed (or already installed); 2 nothing was installed: nothing to
# install, a bad setting, an interpreter or venv that does not work, or pip failed (its
# output above says why). Any URL may carry a user:password@ part (a private mirror, an
# index): what this script and pip print has it replaced by ***@ (docs/security.md).
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

# hide_userinfo: stdin to stdout with the user:password@ of every URL replaced by ***@
# (scheme://***@host, the CLI's own rule: src/llm_gitops/logsafe.py); line by line, so that
# pip's progress still reaches the log as it happens.
userinfo_rule='s|([A-Za-z][A-Za-z0-9+.-]*://)[^/?#[:space:]@]*(@[^/?#[:space:]@]*)*@|\1***@|g'
if sed -u -e '' </dev/null >/dev/null 2>&1; then
  hide_userinfo() { sed -u -E "$userinfo_rule"; }
elif sed -l -e '' </dev/null >/dev/null 2>&1; then
  hide_userinfo() { sed -l -E "$userinfo_rule"; }
else
  hide_userinfo() { sed -E "$userinfo_rule"; }
fi

shown() {  # shown TEXT -> TEXT for the log, without credentials
  printf '%s\n' "$1" | hide_userinfo
}

hidden() {  # hidden COMMAND...: run it with its stdout and its stderr each through hide_userinfo; its status kept
  # shellcheck disable=SC2069  # stderr to the inner filter, stdout to the outer one (fd 3)
  { "$@" 2>&1 1>&3 3>&- | hide_userinfo >&2; } 3>&1 | hide_userinfo
}

fail() {
  shown "error: llm-gitops install: $1" >&2
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

python_version="$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')" \
  || fail "the interpreter $python does not run (LLM_GITOPS_PYTHON)"
key_text="$identity extras=$extras torch=$torch_version index=$torch_index_url python=$python_version"
key="$(printf '%s' "$key_text" | sha256sum | cut -c1-20)"
if [ "${LLM_GITOPS_PRINT_KEY:-}" = "1" ]; then
  echo "$key"
  exit 0
fi

stamp=""
if [ -n "$venv" ]; then
  # Distribution Pythons refuse system-wide pip installs (PEP 668); a venv always works.
  if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv" || fail "$python could not make the venv $venv (LLM_GITOPS_VENV)"
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
    hidden "${pip[@]}" "${torch_args[@]}" || fail "pip could not install torch==$torch_version (its output above says why)"
  fi
  shown "Installing $requirement"
  hidden "${pip[@]}" "$requirement" || fail "pip could not install $requirement (its output above says why)"
  if [ -n "$stamp" ]; then
    # The key, and where the venv was made (its scripts' #! lines name it).
    printf '%s\n%s\n' "$key" "$(cd "$venv" && pwd)" > "$stamp"
  fi
fi

scripts_dir="$("$python" -c 'import sysconfig; print(sysconfig.get_path("scripts"))')" \
  || fail "the interpreter $python does not run"
installed="$("$python" -c 'import llm_gitops; print(llm_gitops.__version__)')" \
  || fail "llm-gitops was installed but $python cannot import it"
echo "llm-gitops $installed installed; its command is in $scripts_dir"
# On GitHub: the outputs and the PATH entry, written by the glue's one writer of step
# outputs (beside this script in the actions' checkout; Jenkins and GitLab set neither).
if [ -n "${GITHUB_OUTPUT:-}" ] || [ -n "${GITHUB_PATH:-}" ]; then
  step_outputs="$(dirname "${BASH_SOURCE[0]}")/step-outputs.sh"
  [ -f "$step_outputs" ] || fail "$step_outputs is missing: run this script from its checkout to set GitHub outputs"
  if [ -n "${GITHUB_OUTPUT:-}" ]; then
    bash "$step_outputs" version "$installed" bin "$scripts_dir"
  fi
  if [ -n "${GITHUB_PATH:-}" ]; then
    bash "$step_outputs" --path "$scripts_dir"
  fi
fi
