"""The gate report as JSON (``schema: llm-gitops/gate-report/v1``, see ``gate.outcome``)."""

from __future__ import annotations

import json

from llm_gitops.gate.outcome import GateOutcome


def render_json(outcome: GateOutcome) -> str:
    """Stable, diffable JSON: sorted keys, no NaN (missing numbers are null)."""
    return json.dumps(outcome.to_json(), indent=2, sort_keys=True, allow_nan=False) + "\n"
