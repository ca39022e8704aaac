"""A version of an MLflow registered model: ``models:/NAME/VERSION``, ``models:/NAME@ALIAS``
(and ``models:/NAME/latest``).

The version's artifacts are downloaded once into ``<state dir>/cache/models/mlflow/``
keyed by tracking store, name and version (a version's files never change; an alias is
looked up on every call because it moves). mlflow is imported only when one is fetched;
of the tracking package only the store helpers are used, which import nothing of
``models`` back.
"""

from __future__ import annotations

import difflib
import hashlib
import re
import shutil
from collections.abc import Callable
from pathlib import Path

from llm_gitops.atomic_dir import fill_atomically
from llm_gitops.config.schema import ModelSourceSpec
from llm_gitops.errors import ModelSourceError, NoSuchModelYet
from llm_gitops.models.loaded import ARTIFACT_MANIFEST
from llm_gitops.models.sources.base import Fetched, refuse_rev
from llm_gitops.models.validate import validate_model_dir
from llm_gitops.workspace import cache_dir

KIND = "mlflow"
PREFIX = "models:/"
FORMS = "models:/NAME/VERSION, models:/NAME@ALIAS"
_MLFLOW_URI = re.compile(r"^models:/(?P<name>[^/@]+)(?:/(?P<version>[^/@]+)|@(?P<alias>[^/@]+))$")
_SAFE = re.compile(r"[^A-Za-z0-9_.-]")


def fetch(spec: ModelSourceSpec, *, base_dir: Path, tracking_uri: str | None = None) -> Fetched:
    refuse_rev(spec, hint="name the version in the URI: models:/NAME/VERSION")
    return Fetched(_fetch_mlflow(spec.source, base_dir, tracking_uri), spec.source)


def _fetch_mlflow(source: str, base_dir: Path, tracking_uri: str | None) -> Path:
    from llm_gitops.tracking.store import default_tracking_uri, display_uri, open_client, service_error, sqlite_path

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
    problem = f"no registered model {name!r} in MLflow at {where} ({listing})"
    _refuse_a_typo(problem, source, name, known, spell=lambda other: PREFIX + other + source[len(PREFIX) + len(name):],
                   new=f"if {name!r} is a new model, register its first version (llm-gitops register)")
    raise NoSuchModelYet(f"{source}: {problem}", hint="check the name, or register the model first")


def _refuse_a_typo(problem: str, source: str, wanted: str, existing: list[str], *, spell: Callable[[str], str],
                   new: str) -> None:
    """Raise ``ModelSourceError`` when ``wanted`` (a name or alias of ``source``) is missing
    but looks like a typo of one of ``existing``; ``spell`` writes ``source`` with that one.

    A missing registry baseline is "no baseline yet", which skips every relative check:
    a mistyped name or alias must not be read that way, or the gate passes what it should
    compare. A name unlike every existing one is taken as not registered yet.
    """
    close = [e for e in existing if e.startswith(wanted) or wanted.startswith(e)]
    close = close or difflib.get_close_matches(wanted, existing, n=1, cutoff=0.6)
    if close:
        raise ModelSourceError(f"{source}: {problem}: did you mean {spell(close[0])!r}?",
                               hint=f"fix the model URI; {new}")


def _pick_version(client, registered, name: str, version: str | None, alias: str | None, source: str, where: str) -> str:
    from mlflow.exceptions import MlflowException

    if alias is not None:
        aliases = dict(getattr(registered, "aliases", None) or {})
        if alias not in aliases:
            listing = ", ".join(f"@{a} -> {v}" for a, v in sorted(aliases.items())) or "none"
            problem = f"registered model {name!r} has no alias {alias!r} in MLflow at {where} (aliases: {listing})"
            _refuse_a_typo(problem, source, alias, sorted(aliases), spell=lambda other: f"{PREFIX}{name}@{other}",
                           new=f"if @{alias} is new, set it on the version to compare with")
            raise NoSuchModelYet(f"{source}: {problem}",
                                 hint=f"set it, e.g. client.set_registered_model_alias({name!r}, {alias!r}, VERSION)")
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

    fill_atomically(target, lambda tmp: mlflow.artifacts.download_artifacts(
        artifact_uri=download_uri, dst_path=str(tmp), tracking_uri=tracking_uri))


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
