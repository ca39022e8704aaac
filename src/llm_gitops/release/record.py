"""Releases: the immutable, content-addressed record of what an environment runs.

A release ties together what was built and why it may ship: the image by digest, the
model's digest and source, the quantization method, the gate report's digest, verdict
and metric values, the source commit and the build time. Its id is derived from that
content (``r-`` + 12 hex digits of the sha256 of its canonical JSON), so a release file
cannot be edited without its id ceasing to match: :func:`load_release` checks it.

Releases live in the model repo (``deploy/releases/<id>.json``) next to the
``deploy/<env>.yaml`` files that name them, so git history is the deploy history.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from llm_gitops.cache import canonical_json, write_atomic
from llm_gitops.errors import ConfigError

RELEASE_SCHEMA = "llm-gitops/release/v1"
RELEASE_ID = re.compile(r"^r-[0-9a-f]{12}$")
_IMAGE_BY_DIGEST = re.compile(r"^[^@\s]+@sha256:[0-9a-f]{64}$")
_MAX_RELEASE_BYTES = 1 << 20


@dataclass(frozen=True)
class GateEvidence:
    """What the gate said about the release's model."""

    report_digest: str  # sha256 of report.json as written
    verdict: str
    summary: str
    metrics: dict[str, float] = field(default_factory=dict)  # candidate value per checked metric


@dataclass(frozen=True)
class RecordedEval:
    """The gated model's per-document scores, for deploys to smoke-eval the served model against.

    The documents are the first ones of each task's seeded order (``evaluation.runner.
    document_order``; for a sequential gate exactly its first look), at most
    ``MAX_RECORDED_DOCS`` per task so that the release stays small. ``task_configs``
    holds each task's config digest (YAML and data): a smoke eval refuses tasks that
    changed since. ``metrics`` are ``MetricResult`` fields over those documents.
    """

    model_digest: str  # the model the gate evaluated (the release's may be its quantized artifact)
    harness_version: str
    settings: dict[str, Any]  # seed, sampling, num_fewshot, max_gen_toks, split_sizes: what makes scores comparable
    task_configs: dict[str, str]  # task -> config digest
    metrics: dict[str, dict[str, Any]]  # TASK/METRIC -> MetricResult.to_json() over the recorded documents

    @property
    def documents(self) -> int:
        """Documents per task (the largest task's count)."""
        return max((int(m.get("n", 0)) for m in self.metrics.values()), default=0)


@dataclass(frozen=True)
class Release:
    image: str  # repository@sha256:...
    model_digest: str
    model_source: str
    quantization: str  # a quantize method, or "none"
    source_commit: str | None
    built_at: str
    gate: GateEvidence | None
    eval: RecordedEval | None = None  # the gated eval a smoke eval decides against

    @property
    def id(self) -> str:
        return "r-" + hashlib.sha256(canonical_json(self.content()).encode()).hexdigest()[:12]

    def content(self) -> dict[str, Any]:
        """The JSON that the id is derived from (everything but the id)."""
        data = asdict(self)
        if data["eval"] is None:
            del data["eval"]  # releases made before evals were recorded keep their ids
        return {"schema": RELEASE_SCHEMA, **data}

    def to_json(self) -> str:
        return json.dumps({"id": self.id, **self.content()}, indent=2, sort_keys=True) + "\n"


def _file_digest(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def _read_json(path: Path, what: str) -> dict:
    try:
        if path.stat().st_size > _MAX_RELEASE_BYTES:
            raise ConfigError(f"{path}: {what} is larger than {_MAX_RELEASE_BYTES} bytes", hint="point at the right file")
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no {what} here", hint="check the path") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path}: not a readable {what}: {exc}", hint="regenerate it") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: {what} must be a JSON object", hint="regenerate it")
    return data


def read_gate_report(report_path: Path) -> dict:
    """A gate ``report.json``, checked to be one."""
    report = _read_json(report_path, "gate report")
    if not isinstance(report.get("verdict"), str) or not isinstance(report.get("checks"), list):
        raise ConfigError(f"{report_path}: not an llm-gitops gate report (no verdict/checks)",
                          hint="pass the report.json that 'llm-gitops gate' wrote")
    return report


def gate_evidence(report_path: Path) -> GateEvidence:
    """The evidence a release carries from a gate ``report.json``."""
    report = read_gate_report(report_path)
    verdict = report["verdict"]
    metrics = {}
    for check in report["checks"]:
        if isinstance(check, dict) and isinstance(check.get("metric"), str) and isinstance(check.get("candidate"), (int, float)):
            metrics[check["metric"]] = float(check["candidate"])
    return GateEvidence(report_digest=_file_digest(report_path), verdict=verdict,
                        summary=str(report.get("summary", ""))[:500], metrics=metrics)


def release_from_build(build_path: Path, *, report_path: Path | None, source_commit: str | None,
                       recorded_eval: RecordedEval | None = None) -> Release:
    """A release of the image that ``llm-gitops build`` recorded in ``build.json``."""
    build = _read_json(build_path, "build record")
    reference = build.get("reference")
    if not isinstance(reference, str) or not _IMAGE_BY_DIGEST.match(reference):
        raise ConfigError(f"{build_path}: the build has no pushed digest (reference {reference!r})",
                          hint="a release needs an image in a registry: run 'llm-gitops build' with --push")
    labels = build.get("labels") if isinstance(build.get("labels"), dict) else {}
    model = build.get("model") if isinstance(build.get("model"), dict) else {}
    return Release(
        image=reference,
        model_digest=str(model.get("digest") or build.get("model_digest") or ""),
        model_source=str(model.get("source", "")),
        quantization=str(labels.get("io.llm-gitops.quantization.method", "none")),
        source_commit=source_commit or labels.get("org.opencontainers.image.revision"),
        built_at=str(build.get("recorded_at", labels.get("org.opencontainers.image.created", ""))),
        gate=gate_evidence(report_path) if report_path is not None else None,
        eval=recorded_eval,
    )


def write_release(release: Release, releases_dir: Path) -> Path:
    """Write ``<releases_dir>/<id>.json`` (atomically; an existing one has the same content by construction)."""
    text = release.to_json()
    if len(text.encode()) > _MAX_RELEASE_BYTES:
        raise ConfigError(f"release {release.id} would be {len(text.encode())} bytes, above the {_MAX_RELEASE_BYTES} "
                          "a release file may hold", hint="record fewer documents per task (llm-gitops release "
                          "--eval-docs N)")
    path = releases_dir / f"{release.id}.json"
    if not path.is_file():
        releases_dir.mkdir(parents=True, exist_ok=True)
        write_atomic(path, text)
    return path


def load_release(releases_dir: Path, release_id: str) -> Release:
    """Read release ``release_id`` and check that its content still has that id."""
    if not RELEASE_ID.match(release_id):
        raise ConfigError(f"{release_id!r} is not a release id", hint="release ids look like r-0123456789ab")
    path = releases_dir / f"{release_id}.json"
    data = _read_json(path, "release record")
    try:
        gate, recorded = data.get("gate"), data.get("eval")
        release = Release(
            image=data["image"], model_digest=data["model_digest"], model_source=data["model_source"],
            quantization=data["quantization"], source_commit=data.get("source_commit"), built_at=data["built_at"],
            gate=GateEvidence(**gate) if isinstance(gate, dict) else None,
            eval=RecordedEval(**recorded) if isinstance(recorded, dict) else None,
        )
    except (KeyError, TypeError) as exc:
        raise ConfigError(f"{path}: not a release record ({exc})", hint="regenerate it with 'llm-gitops release'") from None
    if data.get("schema") != RELEASE_SCHEMA:
        raise ConfigError(f"{path}: schema {data.get('schema')!r} is not {RELEASE_SCHEMA}", hint="regenerate it")
    if release.id != release_id or data.get("id") != release_id:
        raise ConfigError(f"{path}: its content does not match its id {release_id} (edited by hand?)",
                          hint="releases are immutable: make a new one with 'llm-gitops release'")
    if not _IMAGE_BY_DIGEST.match(release.image):
        raise ConfigError(f"{path}: image {release.image!r} is not pinned by digest", hint="regenerate it")
    return release


@dataclass(frozen=True)
class ReleaseChange:
    """What changes when an environment moves from ``old`` to ``new``."""

    old: Release | None
    new: Release
    image_changed: bool
    model_changed: bool
    metric_deltas: dict[str, tuple[float | None, float | None]]  # metric -> (old, new)

    def lines(self) -> list[str]:
        """Markdown bullet lines, for release cards and the terminal."""
        new = self.new
        if self.old is None:
            out = [f"- first release of this environment: `{new.id}`"]
        else:
            out = [f"- release `{self.old.id}` -> `{new.id}`"]
        out.append(f"- image: `{new.image}`" + ("" if self.image_changed or self.old is None else " (unchanged)"))
        model = f"- model: `{new.model_digest[:19]}` from {new.model_source}"
        if self.old is not None and self.model_changed:
            model += f" (was `{self.old.model_digest[:19]}`)"
        out.append(model + f", quantization {new.quantization}")
        for metric, (before, after) in sorted(self.metric_deltas.items()):
            if before is None:
                out.append(f"- {metric}: {after:.4g}")
            elif after is None:
                out.append(f"- {metric}: {before:.4g} -> not measured")
            else:
                out.append(f"- {metric}: {before:.4g} -> {after:.4g} ({after - before:+.4g})")
        if new.gate is not None:
            # A report's summary starts with its verdict ("pass - all 4 checks passed").
            out.append(f"- gate: {new.gate.summary or new.gate.verdict}")
        if new.eval is not None:
            out.append(f"- recorded eval (for smoke evals): {new.eval.documents} documents per task of "
                       f"{', '.join(sorted(new.eval.task_configs))}")
        return out


def compare(old: Release | None, new: Release) -> ReleaseChange:
    old_metrics = old.gate.metrics if old is not None and old.gate is not None else {}
    new_metrics = new.gate.metrics if new.gate is not None else {}
    deltas = {m: (old_metrics.get(m), new_metrics.get(m)) for m in set(old_metrics) | set(new_metrics)}
    return ReleaseChange(
        old=old, new=new,
        image_changed=old is None or old.image != new.image,
        model_changed=old is None or old.model_digest != new.model_digest,
        metric_deltas=deltas,
    )
