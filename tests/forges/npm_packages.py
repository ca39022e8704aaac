"""Where scripts/system/forges.sh installed GitHub's OpenAPI description and webhook examples."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import pytest

from tests.conftest import test_cache_root


def npm_package(name: str) -> Path:
    """The installed package directory, or skip the test saying how to install it."""
    path = test_cache_root() / "npm" / "node_modules" / name
    if not (path / "package.json").exists():
        pytest.skip(f"npm package {name} is not installed: run scripts/system/forges.sh (needs the npm registry)")
    return path


@lru_cache(maxsize=1)
def _webhook_examples() -> dict[str, list[dict]]:
    data = json.loads((npm_package("@octokit/webhooks-examples") / "api.github.com" / "index.json").read_text())
    return {entry["name"]: entry["examples"] for entry in data}


def webhook_example(event: str, action: str) -> dict:
    return next(e for e in _webhook_examples()[event] if e.get("action") == action)
