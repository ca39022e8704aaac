"""The image for real: quantize the example model with the CLI, build it with Podman's
Docker API, push it to a local registry, pull it back by digest, run it, and ask the
server in it for a sum; and check that a model-only change rebuilds one layer."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from dataclasses import dataclass

import httpx
import pytest

from llm_gitops.build.dockerfile import CTX_MODEL, DockerfileSpec, render_dockerfile
from llm_gitops.build.image import BUILD_RECORD, BuildResult, build_image
from llm_gitops.config import load_config
from llm_gitops.errors import ExternalServiceError
from llm_gitops.models.resolved import ResolvedModel
from llm_gitops.models.sources import resolve_model
from tests.serve.conftest import metric_value
from tests.support.tiny_model import make_tiny_model

pytestmark = [pytest.mark.engine, pytest.mark.slow]

# Labels that describe the model or the build itself; any other difference between
# two builds of the same code would be a leak of something that should be cached.
PER_BUILD_LABELS = {
    "io.llm-gitops.model.digest",
    "io.llm-gitops.model.source",
    "io.llm-gitops.quantization.method",
    "org.opencontainers.image.created",
    "org.opencontainers.image.version",
}


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
def int8_model(tmp_path_factory, example_models):
    """The example's trained model quantized by the CLI, as a team's pipeline would."""
    out = tmp_path_factory.mktemp("quantized") / "adder-int8"
    proc = subprocess.run(
        [sys.executable, "-m", "llm_gitops", "quantize", "--model", str(example_models.good), "--output", str(out),
         "--method", "int8-dynamic"],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return out


@dataclass(frozen=True)
class Builds:
    int8: BuildResult  # the quantized example, pushed
    int8_model: ResolvedModel
    other: BuildResult  # then another model only (not pushed)
    rebuild_s: float  # how long the second build took


@pytest.fixture(scope="module")
def builds(project, int8_model, tmp_path_factory) -> Builds:
    """Both images, built back to back before any test removes one.

    The second image also keeps the build cache alive: removing an image makes the
    engine prune its untagged parents (the cache), unless another image still uses
    them; podman ignores the API's noprune.
    """
    config = load_config(project / ".llm-gitops.yaml")
    model = resolve_model(str(int8_model), base_dir=project)
    int8 = build_image(config, model, tag="int8")
    # Another model (random weights suffice); the session's frozen wheel and requirements
    # keep everything else equal, even if the checkout changes between the two builds.
    other_dir = make_tiny_model(tmp_path_factory.mktemp("other") / "model", seed=1)
    other_model = resolve_model(str(other_dir), base_dir=project)
    started = time.monotonic()
    other = build_image(config, other_model, tag="other", push=False)
    return Builds(int8=int8, int8_model=model, other=other, rebuild_s=time.monotonic() - started)


def _wait_ready(container, base: str, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        container.reload()
        assert container.status == "running", container.logs()[-2000:]
        assert time.monotonic() < deadline, container.logs()[-2000:]
        time.sleep(0.5)


def test_quantized_model_build_push_pull_by_digest_run_and_complete(builds, project, docker_client):
    import docker

    result, model = builds.int8, builds.int8_model
    assert result.digest and result.digest.startswith("sha256:")
    record = json.loads((project / ".llm-gitops" / BUILD_RECORD).read_text())
    assert record["digest"] == result.digest and record["reference"] == result.reference

    # Drop the local copy, so running it means pulling the pushed digest back: the
    # image and its model layer come from the registry (the layers it shares with the
    # other image stay).
    docker_client.images.remove(f"{result.image}:{result.tag}", force=True)
    with pytest.raises(docker.errors.ImageNotFound):
        docker_client.images.get(result.reference)
    image = docker_client.images.pull(result.reference)
    assert image.id == result.image_id  # the very image that was built, not a look-alike
    labels = image.labels
    assert labels["io.llm-gitops.model.digest"] == model.digest
    assert labels["io.llm-gitops.quantization.method"] == "int8-dynamic"
    assert len(labels["org.opencontainers.image.revision"]) == 40
    assert labels["org.opencontainers.image.source"] == "https://example.com/team/adder.git"  # no token
    assert image.attrs["Config"]["User"] == "10001:10001"

    port = _free_port()
    container = docker_client.containers.run(
        result.reference, detach=True, init=True, ports={"8000/tcp": ("127.0.0.1", port)},
        environment={"LLM_GITOPS_COLOR": "blue", "LLM_GITOPS_MODEL_VERSION": "7"},
    )
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_ready(container, base)
        answer = httpx.post(f"{base}/v1/completions", json={"prompt": "12+34=", "max_tokens": 3, "temperature": 0},
                            timeout=30).json()
        assert answer["choices"][0]["text"] == "046"
        metrics = httpx.get(f"{base}/metrics", timeout=5).text
        assert metric_value(metrics, "llm_gitops_requests_total", route="/v1/completions", status="200") == 1
        assert metric_value(metrics, "llm_gitops_generated_tokens_total") == 3
        assert metric_value(metrics, "llm_gitops_model_info", digest=model.digest, method="int8-dynamic",
                            color="blue", version="7") == 1
    finally:
        container.stop(timeout=20)  # SIGTERM via init: the server drains and exits
        container.reload()
        exit_code = container.attrs["State"]["ExitCode"]
        logs = container.logs()[-2000:]
        container.remove(force=True)
    assert exit_code == 0, logs


def _steps_before_model(wheel_name: str) -> int:
    """Build steps above the model COPY that the engine can take from its cache (all but FROM)."""
    text = render_dockerfile(DockerfileSpec(base_image="b", package_wheel=wheel_name, wheelhouse=True,
                                            labels=(("k", "v"),)))
    steps = 0
    for line in text.splitlines():
        if line.startswith(f"COPY {CTX_MODEL}/"):
            return steps
        if line[:1].isupper() and not line.startswith("FROM "):
            steps += 1
    raise AssertionError("the Dockerfile has no model COPY")


def test_a_model_only_change_rebuilds_only_the_model_layer(builds, docker_client, frozen_build_inputs):
    first, changed = builds.int8, builds.other
    a, b = docker_client.images.get(first.image_id), docker_client.images.get(changed.image_id)
    layers_a, layers_b = a.attrs["RootFS"]["Layers"], b.attrs["RootFS"]["Layers"]
    assert len(layers_a) == len(layers_b)
    differing = [i for i, (x, y) in enumerate(zip(layers_a, layers_b)) if x != y]
    assert differing == [len(layers_b) - 1], differing  # the top layer only...
    top = next(h for h in b.history() if h["Size"] > 0)  # newest history entry with content
    assert f"/{CTX_MODEL}/" in top["CreatedBy"] and "COPY" in top["CreatedBy"], top  # ...which is the model

    # Apart from the layers, only labels that name the model or the build differ.
    config_a, config_b = dict(a.attrs["Config"]), dict(b.attrs["Config"])
    labels_a, labels_b = config_a.pop("Labels"), config_b.pop("Labels")
    assert config_a == config_b
    changed_labels = {k for k in labels_a.keys() | labels_b.keys() if labels_a.get(k) != labels_b.get(k)}
    assert "io.llm-gitops.model.digest" in changed_labels and changed_labels <= PER_BUILD_LABELS, changed_labels

    assert changed.cached_steps == _steps_before_model(frozen_build_inputs.wheel.name)


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
