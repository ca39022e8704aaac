"""A JSON Schema of ``.llm-gitops.yaml``, for editors (completion, hover docs, red squiggles).

Generated from the pydantic models that validate the file, then widened where the file
takes shorthands the models accept through ``before`` validators: a drop as ``2pt``/``5%``
or a number, a model source as a plain string, a task as a path or a name, a duration as
``30s``/``5m`` or seconds. The schema helps while typing; ``llm-gitops validate-config``
stays the judge (it also checks what a schema cannot, e.g. that a metric exists).

Editors that speak the YAML language server read it from a first-line comment::

    # yaml-language-server: $schema=<URL or path of config.schema.json>
"""

from __future__ import annotations

import copy
from typing import Any

SCHEMA_ID = "https://llm-gitops.dev/schemas/config-v1.json"
# Fields that take a duration: seconds, or text such as 30s, 500ms, 5m, 1h.
DURATION_FIELDS = {"interval", "scale_down_delay", "readiness_timeout", "post_promotion_window", "lock_ttl"}
_DURATION = {"type": "string", "pattern": r"^\d+(\.\d+)?(ms|s|m|h)$"}
_DROP = {"anyOf": [{"type": "number", "minimum": 0},
                   {"type": "string", "pattern": r"^\s*\d+(\.\d+)?\s*(pt|points?|%)?\s*$"}],
         "description": "A drop: a number in the metric's units (0.02), points ('2pt') or a percentage ('5%')."}


def _widen(node: Any, *, key: str | None = None) -> Any:
    if isinstance(node, list):
        return [_widen(item) for item in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if ref == "#/$defs/ModelSourceSpec":
        return {"anyOf": [{"type": "string", "minLength": 1}, node]}
    if ref == "#/$defs/TaskSpec":
        return {"anyOf": [{"type": "string", "minLength": 1}, node]}
    out = {k: _widen(v, key=k) for k, v in node.items()}
    if "properties" in out:
        for name, prop in out["properties"].items():
            if name in DURATION_FIELDS and isinstance(prop, dict) and prop.get("type") == "number":
                widened = {k: v for k, v in prop.items() if k != "type"}
                widened["anyOf"] = [{"type": "number", "minimum": 0}, _DURATION]
                out["properties"][name] = widened
    return out


def config_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of ``.llm-gitops.yaml`` version 1."""
    from llm_gitops.config.schema import Config

    schema = copy.deepcopy(Config.model_json_schema())
    defs = schema.get("$defs", {})
    if "Drop" in defs:
        defs["Drop"] = dict(_DROP)
    schema = _widen(schema)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID,
            "title": ".llm-gitops.yaml (version 1)", **{k: v for k, v in schema.items() if k != "title"}}
