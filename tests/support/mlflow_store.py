"""Empty MLflow sqlite stores for tests, without paying for the schema migration each time.

Creating a sqlite tracking store runs MLflow's migrations (seconds on a busy CPU); a
copy of an already-migrated empty database is a real, equivalent store made in
milliseconds. The template is kept in the test cache, per MLflow version.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path


def empty_store(db_path: Path) -> str:
    """Put an empty, migrated MLflow database at ``db_path``; return its tracking URI."""
    import mlflow

    from tests.conftest import test_cache_root

    template = test_cache_root() / f"mlflow-empty-{mlflow.__version__}.db"
    if not template.is_file():
        template.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=template.parent, suffix=".db")
        os.close(fd)
        os.unlink(tmp)  # MLflow must create the file itself
        from mlflow import MlflowClient

        MlflowClient(tracking_uri=f"sqlite:///{tmp}").search_experiments()
        os.replace(tmp, template)
    db_path = Path(db_path)
    db_path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(template, db_path)
    return f"sqlite:///{db_path}"
