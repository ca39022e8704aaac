"""The image for real: build with Podman's Docker API, push to a local registry, pull by
digest, run it, and ask the server in it for a sum."""

from __future__ import annotations

import json
import socket
import subprocess
import time

import httpx
import pytest

from llm_gitops.build.image import BUILD_RECORD, build_image
from llm_gitops.config import load_config
from llm_gitops.errors import ExternalServiceError
from llm_gitops.models.sources import resolve_model
from tests.serve.conftest import metric_value
from tests.support.tiny_model import make_tiny_model

pytestmark = [pytest.mark.engine, pytest.mark.slow]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def project(tmp_path_factory, engine, wheelhouse):
    root = tmp_path_factory.mktemp("build-project")
    (root / ".llm-gitops.yaml").write_text(
        "version: 1\n"
        "image:\n"
        f"  repository: {engine.registry}/adder\n"
        f"  base_image: {engine.base_image}\n"
        f"  wheelhouse: {wheelhouse}\n"
        f"  engine: {engine.docker_host}\n"
    )
    git = ["git", "-C", str(root), "-c", "user.email=t@example.com", "-c", "user.name=t"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "remote", "add", "origin", "https://ci:s3cr3t-token@example.com/team/adder.git"], check=True)
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "init"], check=True)
    return root


@pytest.fixture(scope="module")
def docker_client(engine):
    import docker

    client = docker.DockerClient(base_url=engine.docker_host)
    yield client
    client.close()


@pytest.fixture(scope="module")
def good_build(project, example_models):
    config = load_config(project / ".llm-gitops.yaml")
    model = resolve_model(str(example_models.good), base_dir=project)
    return build_image(config, model, tag="good"), model


def test_build_push_pull_by_digest_run_and_complete(good_build, project, docker_client):
    result, model = good_build
    assert result.digest and result.digest.startswith("sha256:")
    record = json.loads((project / ".llm-gitops" / BUILD_RECORD).read_text())
    assert record["digest"] == result.digest and record["reference"] == result.reference

    # Drop the local copy, so running it means pulling the pushed digest back.
    docker_client.images.remove(f"{result.image}:{result.tag}", force=True)
    image = docker_client.images.pull(result.reference)
    labels = image.labels
    assert labels["io.llm-gitops.model.digest"] == model.digest
    assert labels["io.llm-gitops.quantization.method"] == "none"
    assert len(labels["org.opencontainers.image.revision"]) == 40
    assert labels["org.opencontainers.image.source"] == "https://example.com/team/adder.git"
    assert image.attrs["Config"]["User"] == "10001:10001"

    port = _free_port()
    container = docker_client.containers.run(
        result.reference, detach=True, init=True, ports={"8000/tcp": ("127.0.0.1", port)},
        environment={"LLM_GITOPS_COLOR": "blue", "LLM_GITOPS_MODEL_VERSION": "7"},
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 180
        while True:
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            container.reload()
            assert container.status == "running", container.logs()[-2000:]
            assert time.monotonic() < deadline, container.logs()[-2000:]
            time.sleep(0.5)
        answer = httpx.post(f"{base}/v1/completions", json={"prompt": "12+34=", "max_tokens": 3, "temperature": 0},
                            timeout=30).json()
        assert answer["choices"][0]["text"] == "046"
        metrics = httpx.get(f"{base}/metrics", timeout=5).text
        assert metric_value(metrics, "llm_gitops_requests_total", route="/v1/completions", status="200") == 1
        assert metric_value(metrics, "llm_gitops_model_info", digest=model.digest, color="blue", version="7") == 1
    finally:
        container.stop(timeout=20)  # SIGTERM via init: the server drains and exits
        container.reload()
        exit_code = container.attrs["State"]["ExitCode"]
        container.remove(force=True)
    assert exit_code == 0


def test_a_model_only_change_rebuilds_only_the_model_layer(project, tmp_path, docker_client):
    # Two models that differ only in their weights (seeds); random ones suffice here.
    config = load_config(project / ".llm-gitops.yaml")
    first_model = resolve_model(str(make_tiny_model(tmp_path / "a", seed=0)), base_dir=project)
    other = resolve_model(str(make_tiny_model(tmp_path / "b", seed=1)), base_dir=project)
    good = build_image(config, first_model, tag="seed0", push=False)
    started = time.monotonic()
    changed = build_image(config, other, tag="seed1", push=False)
    rebuild_s = time.monotonic() - started

    first = docker_client.images.get(good.image_id).attrs["RootFS"]["Layers"]
    second = docker_client.images.get(changed.image_id).attrs["RootFS"]["Layers"]
    assert len(first) == len(second)
    differing = [i for i, (a, b) in enumerate(zip(first, second)) if a != b]
    assert len(differing) == 1, differing  # the model layer, nothing else
    assert changed.cached_steps >= changed.steps - 7  # model COPY and the metadata steps after it
    assert rebuild_s < 120


def test_an_unreachable_registry_fails_cleanly_and_records_nothing(tmp_path, engine, wheelhouse):
    (tmp_path / ".llm-gitops.yaml").write_text(
        f"version: 1\nimage:\n  base_image: {engine.base_image}\n  wheelhouse: {wheelhouse}\n"
        f"  engine: {engine.docker_host}\n"
    )
    config = load_config(tmp_path / ".llm-gitops.yaml")
    model = resolve_model(str(make_tiny_model(tmp_path / "model")), base_dir=tmp_path)
    with pytest.raises(ExternalServiceError, match="registry") as err:
        build_image(config, model, repository=f"127.0.0.1:{_free_port()}/adder", tag="x")
    assert "\n" not in str(err.value)
    assert not (tmp_path / ".llm-gitops" / BUILD_RECORD).exists()
