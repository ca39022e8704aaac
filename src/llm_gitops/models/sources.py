"""Make a model source local: a directory, an MLflow registry version, or DVC-tracked data.

``resolve_model`` returns the directory to load and its content digest. Every kind ends
the same way: the directory is validated (``models.validate``) and digested
(``models.digest``), so a model fetched from MLflow and the same files in a local
directory share one digest and one cached eval.

* ``./model`` (or an absolute path): a local directory, relative to ``base_dir``.
* ``models:/NAME/VERSION``, ``models:/NAME@ALIAS`` (and ``models:/NAME/latest``): the
  version's artifacts are downloaded once into ``<state dir>/cache/models/mlflow/`` keyed
  by tracking store, name and version (a version's files never change; an alias is
  looked up on every call because it moves).
* ``dvc:PATH``: DVC-tracked data in the repository that contains ``base_dir``. Without
  ``rev`` the workspace copy is used when it matches what is tracked, else it is pulled
  from the default remote. With ``rev`` (a git revision) the data at that revision is
  fetched into ``<state dir>/cache/models/dvc/<commit>/PATH``.

mlflow and dvc are imported only by the branch that needs them.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
import shutil
import tempfile
from pathlib import Path

from llm_gitops.config.schema import ModelSourceSpec
from llm_gitops.errors import ExternalServiceError, ModelSourceError
from llm_gitops.logsafe import redact
from llm_gitops.models.digest import model_digest
from llm_gitops.models.loader import ARTIFACT_MANIFEST
from llm_gitops.models.resolved import ResolvedModel
from llm_gitops.models.validate import validate_model_dir
from llm_gitops.workspace import cache_dir

MLFLOW_PREFIX = "models:/"
DVC_PREFIX = "dvc:"
_MLFLOW_URI = re.compile(r"^models:/(?P<name>[^/@]+)(?:/(?P<version>[^/@]+)|@(?P<alias>[^/@]+))$")
_SAFE = re.compile(r"[^A-Za-z0-9_.-]")


def resolve_model(spec: ModelSourceSpec | str, *, base_dir: Path, tracking_uri: str | None = None) -> ResolvedModel:
    """Fetch (if needed), validate and digest the model ``spec`` names.

    ``tracking_uri`` is the MLflow store for ``models:/`` URIs; None means the default
    store under ``base_dir``'s state directory. Raises ``ModelSourceError`` for a missing
    or broken directory, an unknown registered model/version/alias or an untracked or
    unfetchable DVC path, and ``ExternalServiceError`` when a server cannot be reached.
    """
    if isinstance(spec, str):
        spec = ModelSourceSpec(source=spec)
    base_dir = Path(base_dir).resolve()
    source = spec.source
    if source.startswith(MLFLOW_PREFIX):
        if spec.rev:
            raise ModelSourceError(
                f"{source}: 'rev' applies only to dvc: sources", hint="name the version in the URI: models:/NAME/VERSION"
            )
        path, kind, label = _fetch_mlflow(source, base_dir, tracking_uri), "mlflow", source
    elif source.startswith(DVC_PREFIX):
        rel = source[len(DVC_PREFIX) :].strip()
        path, kind = _fetch_dvc(rel, spec.rev, source, base_dir), "dvc"
        validate_model_dir(path, fix=f"re-save the model into {rel}, then 'dvc add {rel}' and 'dvc push'")
        label = source if not spec.rev else f"{source}@{spec.rev}"
    else:
        if spec.rev:
            raise ModelSourceError(
                f"{source}: 'rev' applies only to dvc: sources", hint=f"use source: dvc:{source} to fetch it with DVC"
            )
        # Validated before resolve(): a symlink loop or a dangling link is named as written.
        given = base_dir / Path(source).expanduser()
        validate_model_dir(given)
        path, kind, label = given.resolve(), "local", source
    return ResolvedModel(path=path, digest=model_digest(path), source=label, kind=kind)


# --------------------------------------------------------------------------- MLflow
def _fetch_mlflow(source: str, base_dir: Path, tracking_uri: str | None) -> Path:
    from llm_gitops.tracking.mlflow_tracking import default_tracking_uri, display_uri, open_client, service_error, sqlite_path

    match = _MLFLOW_URI.match(source)
    if not match:
        raise ModelSourceError(f"{source!r} is not an MLflow model URI", hint="write models:/NAME/VERSION or models:/NAME@ALIAS")
    name, version, alias = match.group("name"), match.group("version"), match.group("alias")
    uri = tracking_uri or default_tracking_uri(base_dir)
    where = display_uri(uri)
    db = sqlite_path(uri)
    if db is not None and not db.is_file():
        # Opening it would create an empty store; say plainly that nothing is there.
        raise ModelSourceError(
            f"{source}: no MLflow registry at {where} (the database does not exist)",
            hint="register the model there first, or set tracking.mlflow.tracking_uri to the store that holds it",
        )
    client = open_client(uri)
    from mlflow.exceptions import MlflowException

    try:
        registered = _registered_model(client, name, source, where)
        version = _pick_version(client, registered, name, version, alias, source, where)
        store_key = hashlib.sha256(where.encode()).hexdigest()[:12]
        target = cache_dir(base_dir) / "models" / "mlflow" / store_key / _SAFE.sub("_", name) / version
        if target.is_dir():
            try:
                validate_model_dir(_find_model_dir(target))
                return _find_model_dir(target)
            except ModelSourceError:
                # A damaged cached copy is not the registry's fault: fetch it again.
                shutil.rmtree(target, ignore_errors=True)
        _download_mlflow(client.get_model_version_download_uri(name, version), uri, target)
    except MlflowException as exc:
        raise service_error(uri, exc, f"resolving {source}") from None
    path = _find_model_dir(target)
    incomplete = f"the files registered as {name} version {version} are incomplete"
    validate_model_dir(path, fix=f"{incomplete}; register a complete model directory as a new version")
    return path


def _registered_model(client, name: str, source: str, where: str):
    from mlflow.exceptions import MlflowException

    try:
        return client.get_registered_model(name)
    except MlflowException as exc:
        if getattr(exc, "error_code", "") != "RESOURCE_DOES_NOT_EXIST":
            raise
    known = sorted(m.name for m in client.search_registered_models(max_results=50))
    listing = f"registered: {', '.join(known)}" if known else "the registry is empty"
    raise ModelSourceError(
        f"{source}: no registered model {name!r} in MLflow at {where} ({listing})",
        hint="check the name, or register the model first",
    )


def _pick_version(client, registered, name: str, version: str | None, alias: str | None, source: str, where: str) -> str:
    from mlflow.exceptions import MlflowException

    if alias is not None:
        aliases = dict(getattr(registered, "aliases", None) or {})
        if alias not in aliases:
            listing = ", ".join(f"@{a} -> {v}" for a, v in sorted(aliases.items())) or "none"
            raise ModelSourceError(
                f"{source}: registered model {name!r} has no alias {alias!r} in MLflow at {where} (aliases: {listing})",
                hint=f"set it, e.g. client.set_registered_model_alias({name!r}, {alias!r}, VERSION)",
            )
        return str(aliases[alias])
    versions = sorted((int(v.version) for v in client.search_model_versions(f"name='{name}'")), reverse=True)
    if version == "latest":
        if not versions:
            raise ModelSourceError(
                f"{source}: registered model {name!r} has no versions in MLflow at {where}", hint="register a version first"
            )
        return str(versions[0])
    try:
        client.get_model_version(name, version)
    except MlflowException as exc:
        if getattr(exc, "error_code", "") not in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
            raise
        listing = ", ".join(str(v) for v in sorted(versions)) or "none"
        raise ModelSourceError(
            f"{source}: registered model {name!r} has no version {version!r} in MLflow at {where} (versions: {listing})",
            hint="use one of those versions or an alias (models:/NAME@ALIAS)",
        ) from None
    return str(version)


def _download_mlflow(download_uri: str, tracking_uri: str, target: Path) -> None:
    """Download into a sibling temp dir, then rename: a crash never leaves a partial cache."""
    import mlflow.artifacts

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
    try:
        mlflow.artifacts.download_artifacts(artifact_uri=download_uri, dst_path=str(tmp), tracking_uri=tracking_uri)
        try:
            tmp.rename(target)
        except OSError:
            if not target.is_dir():  # not a concurrent download that won the race
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _find_model_dir(root: Path) -> Path:
    """The directory inside a download that holds the model (config.json or a manifest).

    Artifacts logged by llm-gitops sit under ``model/``; models logged by other tools
    nest deeper. The shallowest match wins; without one, ``root`` is returned and
    validation says what is missing.
    """
    markers = [p.parent for name in ("config.json", ARTIFACT_MANIFEST) for p in root.rglob(name)]
    if not markers:
        return root
    return min(markers, key=lambda p: (len(p.relative_to(root).parts), p.as_posix()))


# --------------------------------------------------------------------------- DVC
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
