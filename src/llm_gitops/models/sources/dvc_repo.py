"""DVC-tracked data in the repository that contains ``base_dir``: ``dvc:PATH``.

Without ``rev`` the workspace copy is used when it matches what is tracked, else it is
pulled from the default remote. With ``rev`` (a git revision) the data at that revision
is fetched into ``<state dir>/cache/models/dvc/<commit>/PATH``. dvc is imported only
when one is fetched.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import tempfile
from pathlib import Path

from llm_gitops.config.schema import ModelSourceSpec
from llm_gitops.errors import ExternalServiceError, ModelSourceError
from llm_gitops.logsafe import redact
from llm_gitops.models.sources.base import Fetched
from llm_gitops.models.validate import validate_model_dir
from llm_gitops.workspace import cache_dir

KIND = "dvc"
PREFIX = "dvc:"
FORMS = "dvc:PATH"


def fetch(spec: ModelSourceSpec, *, base_dir: Path, tracking_uri: str | None = None) -> Fetched:
    source = spec.source
    rel = source[len(PREFIX) :].strip()
    path = _fetch_dvc(rel, spec.rev, source, base_dir)
    validate_model_dir(path, fix=f"re-save the model into {rel}, then 'dvc add {rel}' and 'dvc push'")
    return Fetched(path, source if not spec.rev else f"{source}@{spec.rev}")


@contextlib.contextmanager
def _quiet_dvc():
    """DVC logs warnings (missing cache files) that our one-line errors replace."""
    logger = logging.getLogger("dvc")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


def _fetch_dvc(rel: str, rev: str | None, source: str, base_dir: Path) -> Path:
    if not rel:
        raise ModelSourceError(f"{source!r} names no path", hint="write dvc:PATH, e.g. dvc:models/adder")
    from dvc.exceptions import DvcException, NotDvcRepoError
    from dvc.repo import Repo

    with _quiet_dvc():
        try:
            root = Path(Repo.find_root(str(base_dir))).resolve()
        except NotDvcRepoError:
            raise ModelSourceError(
                f"{source}: {base_dir} is not inside a DVC repository",
                hint=f"run 'dvc init' at the git repository's root, then 'dvc add {rel}' and 'dvc push'",
            ) from None
        target = (base_dir / rel).resolve()
        if not target.is_relative_to(root):
            raise ModelSourceError(
                f"{source}: {target} is outside the DVC repository {root}", hint="name a path inside the repository"
            )
        try:
            repo = Repo(str(root))
            try:
                if rev:
                    return _dvc_at_rev(repo, root, target, rel, rev, source, base_dir)
                return _dvc_workspace(repo, target, rel, source)
            finally:
                repo.close()
        except DvcException as exc:  # what the branches did not already explain (a broken .dvc/config, ...)
            raise ModelSourceError(
                f"{source}: DVC failed in {root}: {_first_line(exc)}", hint=f"run 'dvc status {rel}' there for details"
            ) from None


def _default_remote(repo) -> tuple[str | None, str | None]:
    name = repo.config["core"].get("remote")
    if not name:
        return None, None
    url = (repo.config["remote"].get(name) or {}).get("url")
    return name, redact(str(url)) if url else None


def _tracked_out(repo, target: Path, rel: str, source: str):
    """The DVC output that holds ``target`` (itself, or a tracked directory above it)."""
    from dvc.exceptions import OutputNotFoundError

    try:
        return repo.find_outs_by_path(str(target), strict=False)[0]
    except OutputNotFoundError:
        tracked = sorted(str(Path(out.fs_path).relative_to(repo.root_dir)) for out in repo.index.outs if out.protocol == "local")
        listing = f"tracked: {', '.join(tracked[:8])}" if tracked else "nothing is tracked yet"
        raise ModelSourceError(
            f"{source}: {rel} is not tracked by DVC ({listing})",
            hint=f"run 'dvc add {rel}', commit the .dvc file and 'dvc push'",
        ) from None


def _dvc_workspace(repo, target: Path, rel: str, source: str) -> Path:
    from dvc.exceptions import CheckoutError, DvcException

    out = _tracked_out(repo, target, rel, source)
    out_path = str(out.fs_path)
    states = {
        state
        for entries in repo.status(targets=[out_path]).values()
        for entry in entries
        if isinstance(entry, dict)
        for changes in entry.values()
        if isinstance(changes, dict)
        for state in changes.values()
    }
    # "not in cache": the workspace copy matches the .dvc file, only the cache lacks it.
    if not states - {"not in cache"} and Path(out_path).exists():
        return target
    if "modified" in states:
        raise ModelSourceError(
            f"{source}: the workspace copy of {rel} differs from what DVC tracks",
            hint=f"run 'dvc add {rel}' to track the change, or 'dvc checkout {rel}' to restore the tracked version",
        )
    remote, url = _default_remote(repo)
    try:
        if remote is None:
            # Without a remote the local DVC cache is the only place the data can be.
            repo.checkout(targets=[out_path])
        else:
            repo.pull(targets=[out_path])
    except CheckoutError:
        if remote is None:
            raise ModelSourceError(
                f"{source}: {rel} is not in the workspace or the local DVC cache, and the repository has no default DVC remote",
                hint="run 'dvc remote add -d NAME URL' and, where the data was added, 'dvc push'",
            ) from None
        raise ModelSourceError(
            f"{source}: DVC remote {remote!r} ({url}) does not have the data of {rel}",
            hint=f"run 'dvc push {rel}' where the data was added",
        ) from None
    except DvcException as exc:
        raise ExternalServiceError(f"{source}: DVC could not fetch {rel} from remote {remote!r}: {_first_line(exc)}") from None
    return target


def _dvc_at_rev(repo, root: Path, target: Path, rel: str, rev: str, source: str, base_dir: Path) -> Path:
    from dvc.api import DVCFileSystem
    from dvc.exceptions import DvcException

    try:
        commit = repo.scm.resolve_rev(rev)
    except Exception:  # scmrepo raises its own RevError family
        raise ModelSourceError(
            f"{source}: unknown git revision {rev!r}", hint="give a branch, tag or commit that exists in this repository"
        ) from None
    rel_root = target.relative_to(root).as_posix()
    cached = cache_dir(base_dir) / "models" / "dvc" / commit / rel_root
    if cached.is_dir():
        return cached
    fs = DVCFileSystem(str(root), rev=commit)
    if not fs.exists(rel_root):
        raise ModelSourceError(
            f"{source}: {rel} does not exist at revision {rev} ({commit[:12]})",
            hint=f"check the path, or track it there with 'dvc add {rel}'",
        )
    # Git-tracked files have no dvc_info; a path inside a tracked directory has one.
    if not fs.info(rel_root).get("dvc_info"):
        raise ModelSourceError(
            f"{source}: {rel} is not tracked by DVC at revision {rev}",
            hint=f"run 'dvc add {rel}', commit the .dvc file and 'dvc push'",
        )
    cached.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=cached.parent, prefix=f".{cached.name}."))
    try:
        fs.get(rel_root, str(tmp / "data"), recursive=True)
        (tmp / "data").rename(cached)
    except (DvcException, OSError) as exc:
        if cached.is_dir():  # a concurrent fetch won the race
            return cached
        remote, url = _default_remote(repo)
        if remote is None:
            raise ModelSourceError(
                f"{source}: the data of {rel} at {rev} is not in the local DVC cache,"
                " and the repository has no default DVC remote",
                hint="run 'dvc remote add -d NAME URL' and, where the data was added, 'dvc push'",
            ) from None
        raise ModelSourceError(
            f"{source}: could not fetch {rel} at {rev} from DVC remote {remote!r} ({url}): {_first_line(exc)}",
            hint=f"run 'dvc push {rel}' at that revision where the data was added",
        ) from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return cached


def _first_line(exc: BaseException) -> str:
    return redact((str(exc).strip().splitlines() or [type(exc).__name__])[0][:300])
