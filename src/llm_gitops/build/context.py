"""What goes into a build context: the llm-gitops wheel, the pinned requirements, an
optional wheelhouse and CA bundle, the model, and the Dockerfile.

Everything is made so that an unchanged input yields byte-identical files, because the
engine's layer cache compares file contents: the wheel is built once per source digest
(with fixed timestamps) and reused; requirements are written in a fixed order.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import subprocess
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from llm_gitops import __version__
from llm_gitops.cache import write_atomic
from llm_gitops.errors import ConfigError, ExternalServiceError
from llm_gitops.build.dockerfile import (
    CTX_CA,
    CTX_MODEL,
    CTX_PACKAGE,
    CTX_REQUIREMENTS,
    CTX_WHEELHOUSE,
    DockerfileSpec,
    render_dockerfile,
)

DIST = "llm-gitops"
IMAGE_EXTRA = "serve"
# zip timestamps of the wheel; any fixed value makes rebuilds of the same source identical.
_SOURCE_DATE_EPOCH = "315532800"


def _source_tree() -> Path | None:
    """The project checkout llm-gitops runs from (an editable install), if any."""
    root = Path(__file__).resolve().parents[3]
    pyproject = root / "pyproject.toml"
    if pyproject.is_file() and f'name = "{DIST}"' in pyproject.read_text(encoding="utf-8"):
        return root
    return None


def _tree_digest(root: Path) -> str:
    h = hashlib.sha256()
    files = [root / "pyproject.toml", *sorted((root / "src" / "llm_gitops").rglob("*"))]
    for path in files:
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            h.update(path.relative_to(root).as_posix().encode() + b"\0")
            h.update(path.read_bytes())
    return h.hexdigest()[:16]


def _pip(args: list[str], what: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True,
                          env={**os.environ, "SOURCE_DATE_EPOCH": _SOURCE_DATE_EPOCH, "PIP_DISABLE_PIP_VERSION_CHECK": "1"})
    if proc.returncode != 0:
        tail = " | ".join((proc.stderr or proc.stdout).strip().splitlines()[-3:])
        raise ExternalServiceError(f"{what} failed: pip {' '.join(args[:2])}: {tail}",
                                   hint="check the package index (or build a wheelhouse with network access)")


def _installed_origin() -> dict:
    """PEP 610's direct_url.json of the installed llm-gitops: where pip installed it from
    (a directory, a wheel file or a VCS URL at a commit); empty for an index release."""
    import json

    try:
        text = metadata.distribution(DIST).read_text("direct_url.json")
    except metadata.PackageNotFoundError:
        return {}
    return json.loads(text) if text else {}


def _local_path(url: str) -> Path | None:
    from urllib.parse import unquote, urlparse

    parsed = urlparse(url)
    return Path(unquote(parsed.path)) if parsed.scheme == "file" else None


def package_wheel(cache: Path) -> Path:
    """The wheel of the running llm-gitops, made from what it was installed from, cached.

    The image gets the same package as the CI job, with no publication step: a checkout
    (editable, or a glue's own checkout installed from its directory) is built into a
    wheel once per source digest; a wheel file is reused; a VCS install is rebuilt from
    its URL at the installed commit; only a release from the index is downloaded again.
    """
    root = _source_tree()
    origin = _installed_origin()
    if root is None and "dir_info" in origin:
        path = _local_path(origin.get("url", ""))
        if path is not None and (path / "pyproject.toml").is_file():
            root = path
    if root is not None:
        target = cache / "wheel" / _tree_digest(root)
        return _built_wheel(target, str(root))
    if "archive_info" in origin:
        path = _local_path(origin.get("url", ""))
        if path is not None and path.suffix == ".whl" and path.is_file():
            return path
    vcs = origin.get("vcs_info") or {}
    if vcs.get("vcs") == "git" and vcs.get("commit_id"):
        return _built_wheel(cache / "wheel" / vcs["commit_id"], f"{DIST} @ git+{origin['url']}@{vcs['commit_id']}")
    # Installed from the index: fetch that exact release.
    target = cache / "wheel" / __version__
    if not any(target.glob("*.whl")):
        _pip(["download", "--no-deps", "--only-binary=:all:", "-d", str(target), f"{DIST}=={__version__}"],
             f"downloading the {DIST} {__version__} wheel")
    return next(target.glob("*.whl"))


def _built_wheel(target: Path, requirement: str) -> Path:
    """``pip wheel`` of ``requirement`` into ``target``, unless it is already there."""
    wheels = list(target.glob("*.whl"))
    if wheels:
        return wheels[0]
    staging = target.parent / f".tmp-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    import importlib.util

    # Offline when the build backend is at hand; a fresh CI venv (Python 3.12+ venvs have
    # no setuptools) lets pip fetch it into an isolated build environment instead.
    isolation = [] if importlib.util.find_spec("setuptools") is None else ["--no-build-isolation"]
    _pip(["wheel", "--no-deps", *isolation, "-q", "-w", str(staging), requirement], f"building the {DIST} wheel")
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(target, ignore_errors=True)
    os.replace(staging, target)
    return next(target.glob("*.whl"))


def _declared_requirements() -> list[str]:
    """Base dependencies plus the image extra's, self-references (``llm-gitops[x]``) expanded.

    Read from the checkout's pyproject.toml when running from one (installed metadata
    goes stale until the next ``pip install -e``), else from the installed metadata.
    """
    from packaging.requirements import Requirement

    root = _source_tree()
    if root is not None:
        import tomllib

        project = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["project"]
        extras = project.get("optional-dependencies", {})
        out, todo, seen = list(project.get("dependencies", [])), [IMAGE_EXTRA], set()
        while todo:
            extra = todo.pop()
            if extra in seen:
                continue
            seen.add(extra)
            for raw in extras.get(extra, []):
                req = Requirement(raw)
                if req.name == DIST:
                    todo.extend(req.extras)
                else:
                    out.append(raw)
        return out
    keep = []
    for raw in metadata.requires(DIST) or []:
        req = Requirement(raw)
        if req.name != DIST and (req.marker is None or req.marker.evaluate({"extra": IMAGE_EXTRA})):
            keep.append(raw)
    return keep


def image_requirements() -> list[str]:
    """The image's direct dependencies, pinned to the versions installed here.

    The image then runs the versions CI tested with; torch in particular keeps its
    local CPU build tag (``2.13.0+cpu``) instead of resolving to a multi-GB CUDA build.
    """
    from packaging.requirements import Requirement

    reqs = []
    for raw in _declared_requirements():
        req = Requirement(raw)
        try:
            pinned = f"{req.name}=={metadata.version(req.name)}"
        except metadata.PackageNotFoundError:
            pinned = f"{req.name}{req.specifier}"
        reqs.append(pinned)
    return sorted(set(reqs), key=str.lower)


def prepare_wheelhouse(directory: Path, requirements: list[str]) -> Path:
    """Fill ``directory`` with wheels for ``requirements`` (and their dependencies).

    Downloaded on this machine with its pip configuration (indexes, find-links), for
    this machine's Python and platform, which must match the image's. Skipped when the
    directory already holds wheels for exactly these requirements.
    """
    directory = Path(directory)
    stamp = directory / ".llm-gitops-requirements.txt"
    text = "\n".join(requirements) + "\n"
    if stamp.is_file() and stamp.read_text(encoding="utf-8") == text and any(directory.glob("*.whl")):
        return directory
    directory.mkdir(parents=True, exist_ok=True)
    req_file = directory / ".requirements.in"
    req_file.write_text(text, encoding="utf-8")
    _pip(["download", "--only-binary=:all:", "-q", "-d", str(directory), "-r", str(req_file)],
         f"downloading wheels into {directory}")
    write_atomic(stamp, text)
    return directory


def _link_tree(src: Path, dst: Path) -> None:
    """Hard-link ``src`` into ``dst`` (copy across filesystems); no symlinks - a build
    context tar would carry the link, not the file.

    COPY keeps file modes, and the server runs as a non-root user: a file only its
    owner may read (``save_pretrained`` writes safetensors as 0600) would be unreadable
    in the image. Such files are copied and made world-readable in the context; the
    source keeps its mode (a hard link would share it).
    """
    dst.mkdir(parents=True, exist_ok=True)
    os.chmod(dst, 0o755)  # not the umask's: a 0700 directory would hide the model too
    for path in sorted(src.rglob("*")):
        rel = path.relative_to(src)
        if any(part.startswith(".") for part in rel.parts):
            continue
        target = dst / rel
        if path.is_dir():
            target.mkdir(parents=True, exist_ok=True)
            os.chmod(target, 0o755)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o444 == 0o444:
            try:
                os.link(path.resolve(), target)
                continue
            except OSError:
                pass
        shutil.copy2(path, target)
        os.chmod(target, mode | 0o444)


@dataclass(frozen=True)
class BuildContext:
    path: Path
    dockerfile: str


def stage_context(
    directory: Path,
    *,
    model_dir: Path,
    spec: DockerfileSpec,
    wheel: Path,
    requirements: list[str],
    wheelhouse: Path | None = None,
    ca_bundle: Path | None = None,
) -> BuildContext:
    """Write the build context into the empty ``directory``."""
    directory = Path(directory)
    if spec.wheelhouse and (wheelhouse is None or not any(Path(wheelhouse).glob("*.whl"))):
        raise ConfigError(f"wheelhouse {wheelhouse} holds no wheels", hint="build it with pip download or drop --wheelhouse")
    _link_tree(Path(model_dir), directory / CTX_MODEL)
    (directory / CTX_PACKAGE).mkdir(parents=True)
    shutil.copy2(wheel, directory / CTX_PACKAGE / wheel.name)
    (directory / CTX_REQUIREMENTS).write_text("\n".join(requirements) + "\n", encoding="utf-8")
    if spec.wheelhouse and wheelhouse is not None:
        (directory / CTX_WHEELHOUSE).mkdir()
        for whl in sorted(Path(wheelhouse).glob("*.whl")):
            try:
                os.link(whl.resolve(), directory / CTX_WHEELHOUSE / whl.name)
            except OSError:
                shutil.copy2(whl, directory / CTX_WHEELHOUSE / whl.name)
    if spec.ca_bundle and ca_bundle is not None:
        shutil.copy2(ca_bundle, directory / CTX_CA)
    text = render_dockerfile(spec)
    (directory / "Dockerfile").write_text(text, encoding="utf-8")
    return BuildContext(path=directory, dockerfile=text)
