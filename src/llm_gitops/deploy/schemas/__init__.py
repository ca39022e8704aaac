"""Strict schema checks of every manifest the ``kubernetes`` target renders, before it is applied.

Kubernetes' own kinds (Deployment, Service, Lease) are checked by ``kubernetes-validate``
against the official OpenAPI schemas of :data:`K8S_VERSION`, in its strict mode (an unknown
field, e.g. a misspelt container key, is an error, as a server with
``fieldValidation=Strict`` would say). Argo Rollouts' kinds (Rollout, AnalysisTemplate)
are not in those schemas: their CRD's ``openAPIV3Schema`` is vendored in this directory
(see README.md for where it comes from) and made strict the same way: every object that
lists its ``properties`` and declares no ``additionalProperties`` gets
``additionalProperties: false``, and OpenAPI's ``nullable`` becomes a JSON Schema type.

A failure is a :class:`~llm_gitops.errors.ConfigError` naming the manifest and the field
(``Deployment llm-prod-blue: spec.template.spec.containers[0]: 'imagePort' was
unexpected``): a rendering bug or a bad setting, found before anything reaches the cluster.
"""

from __future__ import annotations

import copy
import functools
import json
from pathlib import Path

from llm_gitops.errors import ConfigError

K8S_VERSION = "1.33"  # the Kubernetes schemas manifests are checked against (EKS/GKE/AKS all serve 1.33)
_HERE = Path(__file__).parent
_ARGO = {"Rollout": "argo-rollouts-rollout.json", "AnalysisTemplate": "argo-rollouts-analysistemplate.json"}
# The CRD schema refers to ObjectMeta by name; only these fields of it are ever rendered.
_OBJECT_META = {"type": "object", "additionalProperties": False, "required": ["name"], "properties": {
    "name": {"type": "string"}, "namespace": {"type": "string"},
    "labels": {"type": "object", "additionalProperties": {"type": "string"}},
    "annotations": {"type": "object", "additionalProperties": {"type": "string"}}}}


def _strict(node):
    """The vendored OpenAPI schema as strict JSON Schema (see the module docstring)."""
    if isinstance(node, list):
        return [_strict(item) for item in node]
    if not isinstance(node, dict):
        return node
    if node.get("$ref", "").startswith("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"):
        return copy.deepcopy(_OBJECT_META)
    out = {key: _strict(value) if key not in ("enum", "required") else value for key, value in node.items()}
    if out.pop("nullable", False) and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    if "properties" in out and "additionalProperties" not in out and not out.get("x-kubernetes-preserve-unknown-fields"):
        out["additionalProperties"] = False
    return out


@functools.lru_cache(maxsize=None)
def _argo_validator(kind: str):
    import jsonschema

    schema = _strict(json.loads((_HERE / _ARGO[kind]).read_text()))
    return jsonschema.Draft7Validator(schema)


def _where(path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def check_manifest(manifest: dict) -> None:
    """Raise ConfigError when ``manifest`` does not validate strictly against its kind's schema."""
    kind = manifest.get("kind", "?")
    shown = f"{kind} {manifest.get('metadata', {}).get('name', '?')}"
    if kind in _ARGO:
        error = next(iter(sorted(_argo_validator(kind).iter_errors(manifest), key=lambda e: list(e.path))), None)
        if error is not None:
            raise ConfigError(f"{shown}: {_where(error.path)}: {error.message} (Argo Rollouts CRD schema)",
                              hint="check the environment's kubernetes settings")
        return
    try:
        import kubernetes_validate
    except ImportError:
        raise ConfigError("the kubernetes target needs the k8s extra",
                          hint="pip install 'llm-gitops[k8s]'") from None
    try:
        kubernetes_validate.validate(manifest, K8S_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        raise ConfigError(f"{shown}: {_where(exc.path)}: {exc.message} (Kubernetes {K8S_VERSION} schema, strict)",
                          hint="check the environment's kubernetes settings") from None
