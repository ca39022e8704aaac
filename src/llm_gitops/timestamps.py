"""The one timestamp format llm-gitops writes (results files, artifacts, gate outcomes)."""

from __future__ import annotations

from datetime import datetime, timezone


def utc_timestamp() -> str:
    """Now in UTC to the second, e.g. ``2026-11-24T06:00:00Z``: sorts as text and compares across files."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
