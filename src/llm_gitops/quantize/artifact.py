"""Artifact directories: a compressed model plus the manifest that says what it is.

::

    OUTPUT/
      llm-gitops-artifact.json   the manifest (below)
      config.json, tokenizer.json, ...
      <weights>                  what the method wrote (listed under "files")

    {
      "schema": "llm-gitops/artifact/v1",
      "method": "int8-dynamic",
      "parameters": {...},            # what the method was asked to do
      "measured": {...},              # what it observed (sparsity, losses)
      "files": ["model.int8-dynamic.pt"],
      "source": {"digest": "sha256:...", "source": "./model", "size_bytes": 4200000},
      "artifact": {"digest": "sha256:...", "size_bytes": 1100000, "size_ratio": 0.262},
      "versions": {"llm-gitops": "...", "torch": "...", "transformers": "...", "torchao": "..."},
      "created_at": "2026-11-24T06:00:00Z"
    }

``artifact.digest`` is ``model_digest`` over every covered file of the directory except
the manifest itself: the manifest records it, so it cannot be part of it. It identifies
the model content, so two runs of a deterministic method give the same digest even
though their ``created_at`` differ. Sizes count the same files.

Writes are atomic: the artifact is built in a hidden temp dir beside OUTPUT and renamed
into place at the end, so a failure (or Ctrl-C) leaves OUTPUT as it was.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llm_gitops.errors import ConfigError, ModelSourceError
from llm_gitops.models.digest import digest_files, model_digest
from llm_gitops.models.loaded import ARTIFACT_MANIFEST, LoadedModel
from llm_gitops.models.resolved import ResolvedModel
from llm_gitops.quantize.base import Progress, QuantizeParams, no_progress
from llm_gitops.timestamps import utc_timestamp

ARTIFACT_SCHEMA = "llm-gitops/artifact/v1"


@dataclass(frozen=True)
class Artifact:
    """A finished artifact directory and its manifest."""

    path: Path
    manifest: dict[str, Any]

    @property
    def method(self) -> str:
        return self.manifest["method"]

    @property
    def digest(self) -> str:
        return self.manifest["artifact"]["digest"]

    @property
    def size_bytes(self) -> int:
        return int(self.manifest["artifact"]["size_bytes"])

    @property
    def size_ratio(self) -> float:
        return float(self.manifest["artifact"]["size_ratio"])


def files_size(model_dir: Path, *, exclude: tuple[str, ...] = ()) -> int:
    """Bytes of the files a model digest covers (weights, tokenizer, configs)."""
    return sum(p.stat().st_size for p in digest_files(model_dir, exclude=exclude))


def content_digest(artifact_dir: Path) -> str:
    """The digest the manifest records: everything but the manifest."""
    return model_digest(artifact_dir, exclude=(ARTIFACT_MANIFEST,))


def _versions() -> dict[str, str | None]:
    from importlib import metadata

    from llm_gitops import __version__

    out: dict[str, str | None] = {"llm-gitops": __version__}
    for dist in ("torch", "transformers", "torchao"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = None
    return out


def applicable_methods(src_dir: Path) -> tuple[Any, dict[str, str | None]]:
    """The source's (weightless) model and, per method, why it does not apply (or None)."""
    from llm_gitops.quantize.model_parts import meta_model
    from llm_gitops.quantize.registry import QUANTIZERS

    try:
        model = meta_model(src_dir)
    except (OSError, ValueError, KeyError) as exc:
        raise ModelSourceError(f"{src_dir}: cannot read the model's config.json ({exc})") from None
    return model, {name: q.applies_to(model) for name, q in QUANTIZERS.items()}


def check_applies(method: str, src_dir: Path) -> None:
    """Raise a usage error if ``method`` has nothing to do on this model, naming those that do."""
    _, reasons = applicable_methods(src_dir)
    reason = reasons.get(method)
    if reason is None:
        return
    others = [name for name, why in reasons.items() if why is None]
    hint = f"methods that apply to this model: {', '.join(others)}" if others else "no method applies to this model"
    raise ModelSourceError(f"{src_dir}: nothing to quantize with {method}: {reason}", hint=hint)


def check_output_dir(output: Path, source_dir: Path) -> None:
    """Raise ``ConfigError`` unless ``output`` is new, empty, or an earlier artifact."""
    if output.resolve() == Path(source_dir).resolve():
        raise ConfigError(f"--output {output} is the source model directory", hint="write the artifact somewhere else")
    if output.exists():
        if not output.is_dir():
            raise ConfigError(f"--output {output} is a file", hint="name a directory to create")
        is_previous_artifact = (output / ARTIFACT_MANIFEST).is_file()
        if any(output.iterdir()) and not is_previous_artifact:
            # Only an earlier artifact (or an empty dir) is replaced; anything else may be
            # the user's data.
            raise ConfigError(
                f"--output {output} exists and is not an llm-gitops artifact",
                hint="choose a new directory, or remove it first",
            )


def replace_dir(staged: Path, output: Path) -> None:
    """Move ``staged`` to ``output``, replacing an existing ``output`` (same filesystem)."""
    if not output.exists():
        os.replace(staged, output)
        return
    retired = Path(tempfile.mkdtemp(dir=output.parent, prefix=f".{output.name}.old-"))
    os.replace(output, retired / "artifact")
    try:
        os.replace(staged, output)
    except BaseException:
        os.replace(retired / "artifact", output)  # put the old one back
        raise
    finally:
        shutil.rmtree(retired, ignore_errors=True)


def staging_dir(output: Path, purpose: str = "tmp") -> Path:
    """A hidden directory beside ``output`` (same filesystem, so the rename is atomic)."""
    output.parent.mkdir(parents=True, exist_ok=True)
    # Not mkdtemp: its 0700 mode would become the artifact's once renamed into place;
    # mkdir honours the umask like any directory the user creates.
    while True:
        path = output.parent / f".{output.name}.{purpose}-{uuid.uuid4().hex[:10]}"
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue


def write_artifact(
    source: ResolvedModel,
    out_dir: Path,
    method: str,
    params: QuantizeParams,
    progress: Progress = no_progress,
) -> Artifact:
    """Run ``method`` into the empty directory ``out_dir`` and add the manifest.

    Not atomic by itself; ``build_artifact`` (and the budget search) call it on a
    staging directory.
    """
    from llm_gitops.quantize.registry import get_quantizer

    quantizer = get_quantizer(method)
    report = quantizer.quantize(Path(source.path), out_dir, params, progress)
    digest = content_digest(out_dir)
    source_size = files_size(Path(source.path))
    artifact_size = files_size(out_dir, exclude=(ARTIFACT_MANIFEST,))
    manifest = {
        "schema": ARTIFACT_SCHEMA,
        "method": method,
        "parameters": report.parameters,
        "measured": report.measured,
        "files": list(report.files),
        "source": {"digest": source.digest, "source": source.source, "size_bytes": source_size},
        "artifact": {
            "digest": digest,
            "size_bytes": artifact_size,
            "size_ratio": round(artifact_size / source_size, 4) if source_size else None,
        },
        "versions": _versions(),
        "created_at": utc_timestamp(),
    }
    (out_dir / ARTIFACT_MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return Artifact(path=out_dir, manifest=manifest)


def build_artifact(
    source: ResolvedModel,
    output: Path,
    method: str,
    params: QuantizeParams,
    progress: Progress = no_progress,
) -> Artifact:
    """Compress ``source`` with ``method`` into ``output``, atomically.

    Raises ``ConfigError`` for an unknown method or an output that is not ours to
    replace, and ``ModelSourceError`` when the method has nothing to do on this model.
    """
    from llm_gitops.quantize.registry import get_quantizer

    get_quantizer(method).check(params)
    output = Path(output).absolute()
    check_output_dir(output, Path(source.path))
    check_applies(method, Path(source.path))
    made_parent = not output.parent.exists()
    staged = staging_dir(output)
    try:
        artifact = write_artifact(source, staged, method, params, progress)
        replace_dir(staged, output)
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)
        if made_parent:
            with contextlib.suppress(OSError):
                output.parent.rmdir()
        raise
    progress(
        f"{method}: wrote {output} ({artifact.size_bytes / 1e6:.2f} MB, "
        f"{artifact.size_ratio:.2f}x the source), digest {artifact.digest}"
    )
    return Artifact(path=output, manifest=artifact.manifest)


def read_manifest(path: Path) -> dict[str, Any]:
    """The manifest of the artifact at ``path``; ``ModelSourceError`` if it is unusable."""
    manifest_path = Path(path) / ARTIFACT_MANIFEST
    fix = "re-create it with 'llm-gitops quantize'"
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelSourceError(f"{manifest_path}: cannot read the artifact manifest ({exc})", hint=fix) from None
    if not isinstance(manifest, dict) or manifest.get("schema") != ARTIFACT_SCHEMA:
        got = manifest.get("schema") if isinstance(manifest, dict) else type(manifest).__name__
        raise ModelSourceError(
            f"{manifest_path}: schema is {got!r}, expected {ARTIFACT_SCHEMA!r}",
            hint="it was written by another llm-gitops version; " + fix,
        )
    return manifest


def verify_artifact(path: Path) -> Artifact:
    """Check that the files still match the manifest's digest (a copy lost or changed one)."""
    manifest = read_manifest(path)
    actual = content_digest(Path(path))
    if actual != manifest["artifact"]["digest"]:
        raise ModelSourceError(
            f"{path}: artifact content digest {actual} does not match the manifest's {manifest['artifact']['digest']}",
            hint="the files were changed or copied incompletely; re-create it with 'llm-gitops quantize'",
        )
    return Artifact(path=Path(path), manifest=manifest)


def load_artifact(path: Path) -> LoadedModel:
    """Load an artifact of any method for inference (``models.loader`` dispatches here)."""
    from llm_gitops.quantize.registry import QUANTIZERS

    path = Path(path)
    manifest = read_manifest(path)
    quantizer = QUANTIZERS.get(manifest.get("method"))
    if quantizer is None:
        raise ModelSourceError(
            f"{path / ARTIFACT_MANIFEST}: unknown method {manifest.get('method')!r}",
            hint=f"this llm-gitops loads {', '.join(QUANTIZERS)}; upgrade it or re-create the artifact",
        )
    return quantizer.load(path, manifest)
