"""A model repository on the Hugging Face Hub: ``hf:ORG/NAME`` or ``hf:ORG/NAME@REVISION``.

The revision is resolved to its commit, and the commit's files are downloaded once with
huggingface_hub's ``snapshot_download`` into ``<state dir>/cache/models/hf/ORG--NAME/<commit>/``
(a commit's files never change), then validated and digested like any source, so the
same weights from the Hub and from a local copy share one digest and one cached eval.
Only the files a model needs are fetched (top-level weights, configs, tokenizer), not a
repository's other checkpoints or formats. A download that fails or is not a valid
model leaves nothing behind.

huggingface_hub reads its own settings from the environment: ``HF_TOKEN`` (a private or
gated model), ``HF_ENDPOINT`` (a mirror or a self-hosted hub) and ``HF_HUB_OFFLINE``
(then a branch or tag resolves to the commit fetched last time, from the cache).
huggingface_hub is imported only when a Hub source is fetched.
"""

from __future__ import annotations

import contextlib
import re
import shutil
from pathlib import Path

from llm_gitops.atomic_dir import fill_atomically
from llm_gitops.config.schema import ModelSourceSpec
from llm_gitops.errors import ExternalServiceError, ModelSourceError
from llm_gitops.logsafe import url_without_userinfo
from llm_gitops.models.sources.base import Fetched, refuse_rev
from llm_gitops.models.validate import validate_model_dir
from llm_gitops.workspace import cache_dir

KIND = "hf"
PREFIX = "hf:"
FORMS = "hf:ORG/NAME, hf:ORG/NAME@REVISION"
_SOURCE = re.compile(r"^hf:(?P<repo>[A-Za-z0-9][\w.-]{0,95}/[\w.-]{1,96})(?:@(?P<rev>[\w.\-/]{1,200}))?$")
# What a causal LM needs, at the top level of the repository.
ALLOW = ["*.safetensors", "*.json", "tokenizer.model", "*.tiktoken", "*.txt", "*.jinja", "spiece.model"]
IGNORE = ["*/*"]  # original/, onnx/, gguf/...: other formats of the same model
DEFAULT_REVISION = "main"
_COMMIT = re.compile(r"[0-9a-f]{40}")
_SAFE_REF = re.compile(r"[^A-Za-z0-9_.-]")


def parse(source: str) -> tuple[str, str]:
    """(repo id, revision) of ``hf:ORG/NAME[@REVISION]``."""
    match = _SOURCE.match(source)
    if not match or ".." in source:
        raise ModelSourceError(
            f"{source!r} is not a Hugging Face Hub model", hint="write hf:ORG/NAME or hf:ORG/NAME@REVISION (a branch, tag or commit)"
        )
    return match.group("repo"), match.group("rev") or DEFAULT_REVISION


def fetch(spec: ModelSourceSpec, *, base_dir: Path, tracking_uri: str | None = None) -> Fetched:
    refuse_rev(spec, hint="name the revision in the source: hf:ORG/NAME@REVISION")
    repo, revision = parse(spec.source)
    path = _fetch(spec.source, repo, revision, cache_dir(base_dir) / "models" / "hf")
    return Fetched(path, f"{spec.source} ({path.name[:12]})")


def _fetch(source: str, repo: str, revision: str, root: Path) -> Path:
    """``<root>/<org>--<name>/<commit>/``: downloaded once per commit, validated before it is kept.

    The download goes to a hidden temp dir beside its final place and is renamed into
    place; a download that fails, or files that are not a valid model, leave nothing
    behind (not even the cache directories this call created).
    """
    fix = (f"the files of {repo} at {revision} on the Hub are not a complete model; pick a revision that holds one "
           "(safetensors weights, config.json, a tokenizer)")
    repo_dir = root / repo.replace("/", "--")
    commit = _commit(source, repo, revision, repo_dir)
    target = repo_dir / commit
    if target.is_dir():
        try:
            validate_model_dir(target, fix=fix)
            return target
        except ModelSourceError:
            shutil.rmtree(target, ignore_errors=True)  # a damaged cached copy: fetch it again
    created = _outermost_missing(repo_dir)
    kept = False
    try:
        fill_atomically(target, lambda tmp: _download(source, repo, commit, tmp))
        validate_model_dir(target, fix=fix)
        kept = True
    finally:
        if not kept:
            shutil.rmtree(target, ignore_errors=True)
            if created is not None:
                shutil.rmtree(created, ignore_errors=True)
    if revision != commit:  # remembered for offline runs (HF_HUB_OFFLINE)
        refs = repo_dir / "refs"
        refs.mkdir(exist_ok=True)
        (refs / _SAFE_REF.sub("_", revision)).write_text(commit, encoding="utf-8")
    return target


def _outermost_missing(path: Path) -> Path | None:
    """The outermost of ``path`` and its parents that does not exist yet (None: it exists)."""
    missing = None
    for candidate in (path, *path.parents):
        if candidate.exists():
            break
        missing = candidate
    return missing


def _commit(source: str, repo: str, revision: str, repo_dir: Path) -> str:
    """The commit ``revision`` names: asked of the Hub, or (offline) what was fetched before."""
    from huggingface_hub import HfApi, constants

    if _COMMIT.fullmatch(revision):
        return revision
    if constants.is_offline_mode():
        ref = repo_dir / "refs" / _SAFE_REF.sub("_", revision)
        if ref.is_file() and (repo_dir / ref.read_text(encoding="utf-8").strip()).is_dir():
            return ref.read_text(encoding="utf-8").strip()
        raise ModelSourceError(
            f"{source}: HF_HUB_OFFLINE is set and {repo}@{revision} is not in the llm-gitops cache",
            hint="unset HF_HUB_OFFLINE for the first download (later runs use the cache)",
        )
    with _hub_errors(source, repo, revision):
        info = HfApi().model_info(repo, revision=revision)
    if not info.sha:
        raise ExternalServiceError(f"{source}: the Hub at {_where()} named no commit for {repo}@{revision}")
    return info.sha


def _download(source: str, repo: str, commit: str, into: Path) -> None:
    from huggingface_hub import snapshot_download

    with _hub_errors(source, repo, commit), _quiet_progress():
        snapshot_download(repo, revision=commit, local_dir=str(into), allow_patterns=ALLOW, ignore_patterns=IGNORE)


def _where() -> str:
    from huggingface_hub import constants

    return url_without_userinfo(constants.ENDPOINT)


@contextlib.contextmanager
def _hub_errors(source: str, repo: str, revision: str):
    """huggingface_hub's exceptions as one-line errors naming the repo and the fix."""
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    where = _where()
    token_hint = "for a private model, set HF_TOKEN to a token that can read it"
    try:
        yield
    except GatedRepoError:
        raise ModelSourceError(
            f"{source}: {repo} is gated on the Hub at {where}",
            hint="accept its terms on the Hub with your account, and set HF_TOKEN to a token of that account",
        ) from None
    except RevisionNotFoundError:
        raise ModelSourceError(
            f"{source}: {repo} has no revision {revision!r} on the Hub at {where}",
            hint="give a branch, tag or commit that exists (default: main)",
        ) from None
    except RepositoryNotFoundError:
        raise ModelSourceError(
            f"{source}: no model {repo} on the Hub at {where} (or it is private)", hint=f"check the name; {token_hint}"
        ) from None
    except HfHubHTTPError as exc:
        status = exc.response.status_code if exc.response is not None else "?"
        if status in (401, 403):
            raise ModelSourceError(f"{source}: the Hub at {where} refused access to {repo} ({status})", hint=token_hint) from None
        raise ExternalServiceError(f"{source}: the Hub at {where} answered {status} for {repo}; retry later") from None
    except (LocalEntryNotFoundError, OSError) as exc:
        if isinstance(exc, OSError) and not _is_network_error(exc):
            raise
        cause = exc.__cause__ or exc
        raise ExternalServiceError(
            f"{source}: the Hub at {where} cannot be reached ({_first_line(cause)}); retry, or check HF_ENDPOINT"
        ) from None


def _is_network_error(exc: BaseException) -> bool:
    """httpx's transport errors are not OSErrors; huggingface_hub's offline error is one."""
    return type(exc).__name__ in ("OfflineModeIsEnabled",) or isinstance(exc, ConnectionError)


@contextlib.contextmanager
def _quiet_progress():
    """No download bars in CI logs (the model's source line says what is fetched)."""
    from huggingface_hub.utils import are_progress_bars_disabled, disable_progress_bars, enable_progress_bars

    was_disabled = are_progress_bars_disabled()
    disable_progress_bars()
    try:
        yield
    finally:
        if not was_disabled:
            enable_progress_bars()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:200]}" if text else type(exc).__name__
