"""``build_image``: a model directory in, a pushed image digest out.

Render the context, build through the engine's Docker API, tag, push, and only then
record the result (``<state dir>/build.json``): a failed build or push leaves no record
that a later deploy could mistake for a good image.
"""

from __future__ import annotations

import hashlib
import json
import re
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from llm_gitops.build import context as ctx
from llm_gitops.build import engine
from llm_gitops.build.dockerfile import DockerfileSpec
from llm_gitops.cache import write_atomic
from llm_gitops.config.schema import Config
from llm_gitops.errors import ConfigError
from llm_gitops.git_checkout import git_output, head_commit
from llm_gitops.models.resolved import ResolvedModel
from llm_gitops.workspace import cache_dir, state_dir

BUILD_RECORD = "build.json"
BUILD_SCHEMA = "llm-gitops/build/v1"
_REPOSITORY = re.compile(r"^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-]+[a-z0-9]+)*)+$|^[a-z0-9]+([._/-][a-z0-9]+)*$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")


@dataclass(frozen=True)
class BuildResult:
    image: str  # repository, e.g. registry.example.com/team/adder
    tag: str
    digest: str | None  # manifest digest in the registry; None when not pushed
    size: int  # bytes, uncompressed, as the engine reports it
    image_id: str
    model_digest: str
    cached_steps: int = 0
    steps: int = 0

    @property
    def reference(self) -> str:
        """The immutable reference to deploy: ``image@digest`` (``image:tag`` if not pushed)."""
        return f"{self.image}@{self.digest}" if self.digest else f"{self.image}:{self.tag}"


def _public_url(url: str | None) -> str | None:
    """A remote URL without credentials (an https://TOKEN@host remote must not become a label)."""
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme and parts.hostname:
        netloc = parts.hostname + (f":{parts.port}" if parts.port else "")
        return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
    return url  # scp-like git@host:path carries no secret


def _file_digest(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def image_labels(*, model: ResolvedModel, method: str, revision: str | None, source: str | None,
                 report: Path | None, tag: str, created: str) -> dict[str, str]:
    labels = {
        "org.opencontainers.image.title": "llm-gitops model server",
        "org.opencontainers.image.created": created,
        "org.opencontainers.image.version": tag,
        "io.llm-gitops.model.digest": model.digest,
        "io.llm-gitops.model.source": model.source,
        "io.llm-gitops.quantization.method": method,
        "io.llm-gitops.eval.report-digest": _file_digest(report) if report else "none",
    }
    if revision:
        labels["org.opencontainers.image.revision"] = revision
    if source:
        labels["org.opencontainers.image.source"] = source
    return labels


def _check_reference(repository: str, tag: str) -> None:
    if not _REPOSITORY.match(repository):
        raise ConfigError(f"image repository {repository!r} is not a valid image name",
                          hint="use lowercase HOST[:PORT]/PATH, e.g. registry.example.com/team/adder")
    if not _TAG.match(tag):
        raise ConfigError(f"image tag {tag!r} is not valid", hint="use letters, digits, '_', '.', '-' (at most 128)")


def build_image(
    config: Config,
    model: ResolvedModel,
    *,
    repository: str | None = None,
    tag: str | None = None,
    push: bool = True,
    base_image: str | None = None,
    wheelhouse: Path | None = None,
    ca_bundle: Path | None = None,
    engine_url: str | None = None,
    eval_report: Path | None = None,
    nocache: bool = False,
    progress: Callable[[str], None] = lambda _: None,
) -> BuildResult:
    """Build (and by default push) the serving image of ``model``.

    Arguments override the config's ``image`` section. Raises ``ConfigError`` for bad
    names or files and ``ExternalServiceError`` for engine and registry failures.
    """
    section = config.image
    repository = repository or section.repository
    if push and not repository:
        raise ConfigError("no image repository to push to", hint="set image.repository in the config or pass --repository")
    repository = repository or f"localhost/llm-gitops/{re.sub(r'[^a-z0-9._-]+', '-', model.path.name.lower()).strip('-.') or 'model'}"
    tag = tag or model.short_digest
    _check_reference(repository, tag)

    if wheelhouse is None and section.wheelhouse:
        wheelhouse = config.resolve_path(section.wheelhouse)
    if ca_bundle is None and section.ca_bundle:
        ca_bundle = config.resolve_path(section.ca_bundle)
    if ca_bundle is not None and not Path(ca_bundle).is_file():
        raise ConfigError(f"CA bundle {ca_bundle} does not exist", hint="point image.ca_bundle / --ca-bundle at a PEM file")
    if eval_report is None:
        default_report = config.resolve_path(config.report.output_dir) / "report.json"
        eval_report = default_report if default_report.is_file() else None
    elif not Path(eval_report).is_file():
        raise ConfigError(f"eval report {eval_report} does not exist", hint="run 'llm-gitops gate' first or drop --eval-report")

    # Connect first: an engine that is not there fails in a second, before any work.
    client = engine.connect(engine_url or section.engine)

    from llm_gitops.models.loaded import ARTIFACT_MANIFEST

    manifest_path = model.path / ARTIFACT_MANIFEST
    method = json.loads(manifest_path.read_text(encoding="utf-8")).get("method", "none") if manifest_path.is_file() else "none"
    created = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    labels = image_labels(
        model=model, method=method, revision=head_commit(config.base_dir),
        source=_public_url(git_output(config.base_dir, "config", "--get", "remote.origin.url")),
        report=Path(eval_report) if eval_report else None, tag=tag, created=created,
    )

    requirements = ctx.image_requirements()
    build_cache = cache_dir(config.base_dir) / "build"
    if wheelhouse is not None:
        progress(f"wheelhouse {wheelhouse}: checking wheels for {len(requirements)} requirements")
        ctx.prepare_wheelhouse(Path(wheelhouse), requirements)
    wheel = ctx.package_wheel(build_cache)
    spec = DockerfileSpec(
        base_image=base_image or section.base_image, package_wheel=wheel.name, port=section.port,
        wheelhouse=wheelhouse is not None, ca_bundle=ca_bundle is not None,
        pip_extra_args=tuple(section.pip_extra_args), labels=tuple(sorted(labels.items())),
    )
    staging_root = state_dir(config.base_dir) / "tmp"
    staging_root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=staging_root, prefix="build-context-") as tmp:
        built_ctx = ctx.stage_context(Path(tmp), model_dir=model.path, spec=spec, wheel=wheel,
                                      requirements=requirements, wheelhouse=wheelhouse, ca_bundle=ca_bundle)
        progress(f"building {repository}:{tag} from {spec.base_image}")
        built = engine.build(client, str(built_ctx.path), f"{repository}:{tag}", progress=progress, nocache=nocache)

    digest = None
    if push:
        progress(f"pushing {repository}:{tag}")
        digest = engine.push(client, repository, tag, progress=progress)
    result = BuildResult(image=repository, tag=tag, digest=digest, size=built.size, image_id=built.id,
                         model_digest=model.digest, cached_steps=built.cached_steps, steps=built.steps)
    if push:
        record_build(state_dir(config.base_dir) / BUILD_RECORD, result, labels=labels, model=model)
    return result


def record_build(path: Path, result: BuildResult, *, labels: dict[str, str], model: ResolvedModel) -> Path:
    document = {
        "schema": BUILD_SCHEMA,
        **{k: v for k, v in asdict(result).items() if k not in ("cached_steps", "steps")},
        "reference": result.reference,
        "model": {"digest": model.digest, "source": model.source},
        "labels": labels,
        "recorded_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    write_atomic(path, json.dumps(document, indent=2, sort_keys=True) + "\n")
    return path
