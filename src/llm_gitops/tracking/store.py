"""The MLflow store: which one a config names, opening a client on it, its errors.

Split from ``mlflow_tracking`` so that what only needs the store (the ``models:/``
model source) imports nothing of ``models``: ``tracking.mlflow_tracking`` records gate
runs and registers models (it imports ``models``), and ``models.sources`` fetches
registered versions through this module; neither imports the other.

mlflow is imported inside the functions.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from llm_gitops.config.schema import Config
from llm_gitops.errors import ExternalServiceError
from llm_gitops.gc_pause import import_libraries
from llm_gitops.logsafe import redact
from llm_gitops.workspace import state_dir, user_cache_dir


# --------------------------------------------------------------------------- URIs
def default_tracking_uri(base_dir: Path) -> str:
    """``sqlite:///<state dir>/mlflow.db``: the store used when the config names none."""
    return f"sqlite:///{state_dir(base_dir) / 'mlflow.db'}"


def resolve_tracking_uri(config: Config) -> str:
    """The tracking URI for ``config``: its ``tracking.mlflow.tracking_uri`` or the default."""
    uri = config.tracking.mlflow.tracking_uri
    if not uri:
        return default_tracking_uri(config.base_dir)
    if "://" not in uri:
        # A bare path in the config means a local sqlite file beside the config.
        return f"sqlite:///{config.resolve_path(uri)}"
    return uri


def sqlite_path(uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` URI, else None."""
    if not uri.startswith("sqlite:///"):
        return None
    return Path(uri[len("sqlite:///") :])


def display_uri(uri: str) -> str:
    """``uri`` without credentials, safe for messages and logs."""
    parts = urlsplit(uri)
    if parts.username or parts.password:
        host = parts.hostname or ""
        if parts.port:
            host = f"{host}:{parts.port}"
        uri = urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))
    return redact(uri)


def artifact_location(uri: str) -> str | None:
    """Where a new experiment's artifacts go: beside a sqlite store; a server decides its own."""
    db = sqlite_path(uri)
    return (db.parent / "mlartifacts").as_uri() if db is not None else None


# --------------------------------------------------------------------------- client
def quiet_mlflow() -> None:
    """Import mlflow without its INFO chatter (table creation, progress bars) or telemetry."""
    # Set before the import (telemetry is decided then), and only if the user has not chosen.
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    # MLflow prints "View run ... at: <tracking URI>" on stdout when a run ends: with the
    # URI's credentials, and into stdout that carries only the report (gate --json).
    # llm-gitops says where the run is itself, without credentials.
    os.environ["MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT"] = "true"
    import_libraries("mlflow")  # configures mlflow's loggers at INFO; lowered below

    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)


def open_client(uri: str):
    """An ``MlflowClient`` on ``uri`` (tracking and registry), checked to be reachable.

    An HTTP server is probed once with a short timeout: MLflow's own client retries a
    dead server with exponential back-off for minutes before it gives up.
    """
    quiet_mlflow()
    from mlflow import MlflowClient

    db = sqlite_path(uri)
    if db is not None:
        # What MlflowClient imports to open a sqlite store (SQLAlchemy, alembic: a second).
        import_libraries("mlflow.store.tracking.sqlalchemy_store")
        seed_sqlite_store(db)
    elif uri.startswith(("http://", "https://")):
        _probe(uri)
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def seed_sqlite_store(db: Path) -> None:
    """Make ``db`` an empty, migrated MLflow store unless it exists.

    A new sqlite store runs MLflow's schema migrations, seconds of CPU on every fresh
    checkout; a copy of an already-migrated empty database (kept per MLflow version in
    the user cache) is the same store in milliseconds.
    """
    db = Path(db)
    db.parent.mkdir(parents=True, exist_ok=True)
    if db.exists():
        return
    import mlflow
    from mlflow import MlflowClient

    template = user_cache_dir() / f"mlflow-empty-{mlflow.__version__}.db"
    if not template.is_file():
        template.parent.mkdir(parents=True, exist_ok=True)
        fd, fresh = tempfile.mkstemp(dir=template.parent, prefix=".mlflow-empty-", suffix=".db")
        os.close(fd)
        os.unlink(fresh)  # MLflow must create (and migrate) the file itself
        try:
            MlflowClient(tracking_uri=f"sqlite:///{fresh}").search_experiments()
            os.replace(fresh, template)
        finally:
            Path(fresh).unlink(missing_ok=True)
    fd, tmp = tempfile.mkstemp(dir=db.parent, prefix=f".{db.name}.", suffix=".tmp")
    os.close(fd)
    try:
        shutil.copyfile(template, tmp)
        try:
            os.link(tmp, db)  # never replaces a store another process created meanwhile
        except FileExistsError:
            pass
    finally:
        Path(tmp).unlink(missing_ok=True)


def _probe(uri: str) -> None:
    import requests

    try:
        requests.get(uri.rstrip("/") + "/health", timeout=10)
    except requests.RequestException as exc:
        raise ExternalServiceError(
            f"MLflow tracking server {display_uri(uri)} is unreachable ({type(exc).__name__})",
            hint="start it, or fix tracking.mlflow.tracking_uri in the config",
        ) from None


def service_error(uri: str, exc: BaseException, doing: str) -> ExternalServiceError:
    """One-line ``ExternalServiceError`` for an MLflow failure, with no credentials in it."""
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
    return ExternalServiceError(f"MLflow at {display_uri(uri)}: {doing} failed: {redact(first)}")


def ensure_experiment(client, uri: str, name: str) -> str:
    """The id of experiment ``name``, created with its artifact location if absent."""
    from mlflow.exceptions import MlflowException

    experiment = client.get_experiment_by_name(name)
    if experiment is None:
        try:
            return client.create_experiment(name, artifact_location=artifact_location(uri))
        except MlflowException:
            # Another process created it between our lookup and create.
            experiment = client.get_experiment_by_name(name)
            if experiment is None:
                raise
    if experiment.lifecycle_stage != "active":
        raise ExternalServiceError(
            f"MLflow experiment {name!r} at {display_uri(uri)} is deleted",
            hint="restore it (mlflow experiments restore) or set tracking.mlflow.experiment to another name",
        )
    return experiment.experiment_id
