"""Helpers for the example-repo tests."""

from __future__ import annotations

from pathlib import Path

import yaml


def absolute_tasks(repo: Path, dest: Path) -> Path:
    """Copies of the repo's task YAMLs with ``data_files`` made absolute (lm-eval alone
    resolves them against the current directory); returns the directory holding them."""
    dest.mkdir(parents=True, exist_ok=True)
    for src in sorted((repo / "tasks").glob("*.yaml")):
        doc = yaml.safe_load(src.read_text())
        files = doc["dataset_kwargs"]["data_files"]
        for split, rel in files.items():
            files[split] = str((src.parent / rel).resolve())
        (dest / src.name).write_text(yaml.safe_dump(doc, sort_keys=False))
    return dest
