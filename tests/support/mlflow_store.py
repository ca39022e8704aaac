"""Empty MLflow sqlite stores for tests, made the way the gate makes them."""

from __future__ import annotations

from pathlib import Path

from llm_gitops.tracking.mlflow_tracking import seed_sqlite_store


def empty_store(db_path: Path) -> str:
    """Put an empty, migrated MLflow database at ``db_path``; return its tracking URI."""
    db_path = Path(db_path)
    db_path.unlink(missing_ok=True)
    seed_sqlite_store(db_path)
    return f"sqlite:///{db_path}"
