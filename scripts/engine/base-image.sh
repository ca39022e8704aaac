#!/usr/bin/env bash
# Makes the Python base image that builds start FROM, without pulling from any registry:
#   1. present in the engine's storage -> nothing to do;
#   2. a cached `podman save` tarball exists -> `podman load` it (seconds);
#   3. otherwise mmdebstrap a Debian bookworm root with python3 + venv, `podman import`
#      it, and save the tarball to the cache for next time (about a minute).
# Cache: ${LLM_GITOPS_TEST_CACHE:-~/.cache/llm-gitops-tests}/images.
# Needs the engine environment (source STATE/env from start.sh). Prints the image name.
#
# Usage: scripts/engine/base-image.sh [IMAGE_NAME]
set -euo pipefail

NAME="${1:-localhost/llm-gitops/python:3.11-bookworm}"
# Bump when the recipe below changes, so stale caches are rebuilt rather than reused.
RECIPE_VERSION=1
CACHE="${LLM_GITOPS_TEST_CACHE:-$HOME/.cache/llm-gitops-tests}/images"
TARBALL="$CACHE/$(echo "$NAME" | tr '/:' '__')-r$RECIPE_VERSION.tar"

if podman image exists "$NAME"; then
  echo "$NAME"
  exit 0
fi
if [ -f "$TARBALL" ]; then
  podman load --quiet --input "$TARBALL" >/dev/null
  echo "$NAME"
  exit 0
fi

command -v mmdebstrap >/dev/null 2>&1 || {
  echo "base-image.sh: mmdebstrap not found; run scripts/system/engine.sh first" >&2
  exit 2
}
mkdir -p "$CACHE"
# The merged-usr hook avoids pulling usrmerge (and perl with it); docs and locales are
# excluded because nothing in a server image reads them. The venv on PATH makes
# `pip install` in a Dockerfile land outside the system Python.
mmdebstrap --quiet --variant=apt --mode=root --format=tar \
  --include=python3,python3-venv,ca-certificates \
  --aptopt='Acquire::Check-Valid-Until "false"' \
  --dpkgopt='path-exclude=/usr/share/doc/*' \
  --dpkgopt='path-exclude=/usr/share/man/*' \
  --dpkgopt='path-exclude=/usr/share/locale/*' \
  --dpkgopt='path-include=/usr/share/doc/*/copyright' \
  --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
  --customize-hook='chroot "$1" python3 -m venv /opt/venv' \
  --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*' \
  bookworm - |
  podman import --quiet \
    --change 'ENV PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["python3"]' \
    - "$NAME" >/dev/null
tmp="$TARBALL.tmp.$$"
podman save --quiet --output "$tmp" "$NAME"
mv "$tmp" "$TARBALL"
echo "$NAME"
