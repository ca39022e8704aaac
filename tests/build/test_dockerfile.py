"""Rendering the image's Dockerfile and context, and the build's failure modes that
need no engine."""

from __future__ import annotations

import json

import pytest

from llm_gitops.build import context as ctx
from llm_gitops.build.dockerfile import APP_UID, MODEL_DIR, DockerfileSpec, render_dockerfile
from llm_gitops.build.engine import _push_error, connect
from llm_gitops.build.image import _public_url, build_image
from llm_gitops.config import parse_config
from llm_gitops.errors import ConfigError, ExternalServiceError
from llm_gitops.models.resolved import ResolvedModel

LABELS = (("io.llm-gitops.model.digest", "sha256:abc"), ("org.opencontainers.image.revision", "deadbeef"))


def _lines(**kw) -> list[str]:
    spec = DockerfileSpec(base_image="base:1", package_wheel="llm_gitops-0.1.0-py3-none-any.whl", labels=LABELS, **kw)
    return render_dockerfile(spec).splitlines()


def _index(lines: list[str], prefix: str, start: int = 0) -> int:
    return next(i for i, line in enumerate(lines) if i >= start and line.startswith(prefix))


def test_dependencies_come_before_the_model_and_labels_last():
    lines = _lines()
    final = lines.index("FROM base:1")  # the final stage
    deps_install = _index(lines, "RUN /opt/llm-gitops/bin/pip install")
    venv_copy = _index(lines, "COPY --from=deps", final)
    package = _index(lines, "COPY package/", final)
    model = _index(lines, "COPY model/", final)
    label = _index(lines, "LABEL", final)
    assert deps_install < final < venv_copy < package < model < label
    # Nothing that varies per model sits above the model layer.
    assert not any("sha256:abc" in line for line in lines[:model])


def test_runs_as_a_non_root_user_with_a_python_healthcheck_on_readyz():
    lines = _lines()
    user = _index(lines, "USER 10001")
    assert user > _index(lines, "COPY model/") and lines[user] == f"USER {APP_UID}:{APP_UID}"
    health = next(line for line in lines if line.startswith("HEALTHCHECK"))
    cmd = json.loads(health.split(" CMD ", 1)[1])
    assert cmd[:2] == ["python3", "-c"] and "/readyz" in cmd[2] and "curl" not in health
    assert json.loads(lines[_index(lines, "CMD")][4:]) == [
        "llm-gitops", "serve", "--model", MODEL_DIR, "--host", "0.0.0.0", "--port", "8000"]


def test_labels_are_quoted():
    label = "\n".join(_lines()[_index(_lines(), "LABEL"):])
    assert 'io.llm-gitops.model.digest="sha256:abc"' in label
    assert 'org.opencontainers.image.revision="deadbeef"' in label


def test_wheelhouse_installs_offline_and_stays_out_of_the_final_stage():
    lines = _lines(wheelhouse=True)
    final = lines.index("FROM base:1")
    install = lines[_index(lines, "RUN /opt/llm-gitops/bin/pip install")]
    assert "--no-index --find-links /tmp/wheelhouse" in install
    assert _index(lines, "COPY wheelhouse/") < final
    assert not any("wheelhouse" in line for line in lines[final:])
    online = _lines(pip_extra_args=("--index-url", "https://pypi.example/simple"))
    assert "--index-url https://pypi.example/simple" in online[_index(online, "RUN /opt/llm-gitops/bin/pip install")]


def test_ca_bundle_is_trusted_in_both_stages():
    lines = _lines(ca_bundle=True)
    assert sum(line.startswith("RUN update-ca-certificates") for line in lines) == 2
    assert any("PIP_CERT=/etc/ssl/certs/ca-certificates.crt" in line for line in lines)
    assert not any("update-ca-certificates" in line for line in _lines())


def test_rendering_is_deterministic():
    assert _lines(wheelhouse=True) == _lines(wheelhouse=True)


def test_image_requirements_pin_the_tested_versions():
    import torch

    reqs = ctx.image_requirements()
    assert f"torch=={torch.__version__}" in reqs  # keeps the +cpu build tag
    names = {r.split("==")[0].lower() for r in reqs}
    assert {"fastapi", "uvicorn", "prometheus-client", "transformers", "click"} <= names
    assert not names & {"lm-eval", "mlflow", "dvc", "llm-gitops"}  # a server needs none of these


def test_package_wheel_is_reused_for_unchanged_source(tmp_path):
    first = ctx.package_wheel(tmp_path)
    assert first.read_bytes() == ctx.package_wheel(tmp_path).read_bytes()


def test_stage_context_lays_out_model_package_and_dockerfile(tmp_path):
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    (model / ".hidden").write_text("not shipped")
    wheel = tmp_path / "llm_gitops-0.1.0-py3-none-any.whl"
    wheel.write_bytes(b"wheel")
    spec = DockerfileSpec(base_image="b", package_wheel=wheel.name)
    built = ctx.stage_context(tmp_path / "ctx", model_dir=model, spec=spec, wheel=wheel, requirements=["torch==1"])
    assert (built.path / "model" / "config.json").is_file() and not (built.path / "model" / ".hidden").exists()
    assert (built.path / "package" / wheel.name).read_bytes() == b"wheel"
    assert (built.path / "requirements.txt").read_text() == "torch==1\n"
    assert (built.path / "Dockerfile").read_text() == built.dockerfile


def test_owner_only_model_files_become_readable_for_the_server_user(tmp_path):
    # save_pretrained writes model.safetensors as 0600; COPY keeps modes and the
    # server runs as a non-root user, which then could not read its own weights.
    model = tmp_path / "model"
    (model / "sub").mkdir(parents=True)
    (model / "model.safetensors").write_bytes(b"weights")
    (model / "model.safetensors").chmod(0o600)
    (model / "sub").chmod(0o700)
    (model / "config.json").write_text("{}")
    wheel = tmp_path / "llm_gitops-0.1.0-py3-none-any.whl"
    wheel.write_bytes(b"wheel")
    spec = DockerfileSpec(base_image="b", package_wheel=wheel.name)
    built = ctx.stage_context(tmp_path / "ctx", model_dir=model, spec=spec, wheel=wheel, requirements=[])
    staged = built.path / "model"
    assert (staged / "model.safetensors").stat().st_mode & 0o777 == 0o644
    assert (staged / "model.safetensors").read_bytes() == b"weights"
    assert staged.stat().st_mode & 0o777 == 0o755 and (staged / "sub").stat().st_mode & 0o777 == 0o755
    assert (model / "model.safetensors").stat().st_mode & 0o777 == 0o600  # the source is left alone


def test_an_empty_wheelhouse_is_a_config_error(tmp_path):
    spec = DockerfileSpec(base_image="b", package_wheel="w.whl", wheelhouse=True)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="holds no wheels"):
        ctx.stage_context(tmp_path / "ctx", model_dir=tmp_path, spec=spec, wheel=tmp_path / "w.whl",
                          requirements=[], wheelhouse=tmp_path / "empty")


def test_remote_urls_lose_their_credentials():
    assert _public_url("https://x-token:ghp_secret@example.com/o/r.git") == "https://example.com/o/r.git"
    assert _public_url("git@example.com:o/r.git") == "git@example.com:o/r.git"
    assert _public_url(None) is None


@pytest.mark.parametrize(
    ("detail", "start"),
    [
        ("denied: requested access to the resource is denied", "the registry refused the push"),
        ("unauthorized: authentication required", "the registry refused the push"),
        ("dial tcp 127.0.0.1:1: connect: connection refused", "cannot reach the registry"),
        ("something odd", "push failed"),
    ],
)
def test_push_errors_say_what_went_wrong(detail, start):
    err = _push_error("127.0.0.1:1", "127.0.0.1:1/m", "t", detail)
    assert str(err).startswith(start) and "127.0.0.1:1/m:t" in str(err) and "\n" not in str(err)


def test_an_unreachable_engine_is_one_clear_error(tmp_path):
    with pytest.raises(ExternalServiceError, match="cannot reach the container engine at unix://"):
        connect(f"unix://{tmp_path}/no-engine.sock")


def test_push_without_a_repository_is_a_config_error_before_any_work(tmp_path):
    config = parse_config("version: 1\n", tmp_path / ".llm-gitops.yaml")
    model = ResolvedModel(path=tmp_path, digest="sha256:" + "0" * 64, source="./m", kind="local")
    with pytest.raises(ConfigError, match="no image repository"):
        build_image(config, model, push=True, engine_url=f"unix://{tmp_path}/none.sock")
    with pytest.raises(ConfigError, match="not a valid image name"):
        build_image(config, model, repository="Bad Name", engine_url=f"unix://{tmp_path}/none.sock")
