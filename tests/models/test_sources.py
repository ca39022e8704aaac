"""resolve_model on local directories and MLflow registry URIs (a real sqlite store)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from llm_gitops.config.schema import ModelSourceSpec
from llm_gitops.errors import ExternalServiceError, ModelSourceError, NoSuchModelYet
from llm_gitops.models.digest import model_digest
from llm_gitops.models.sources import resolve_model
from llm_gitops.tracking.mlflow_tracking import default_tracking_uri, register_model_dir, set_alias
from tests.support.mlflow_store import empty_store
from tests.support.tiny_model import tiny_model_copy


@pytest.fixture(autouse=True)
def _own_state_dir(monkeypatch):
    # The state dir must follow base_dir here, whatever the caller's environment says.
    monkeypatch.delenv("LLM_GITOPS_STATE_DIR", raising=False)


# --------------------------------------------------------------------------- local
def test_local_dir_relative_to_base_dir(tmp_path):
    model = tiny_model_copy(tmp_path / "repo" / "model")
    resolved = resolve_model("./model", base_dir=tmp_path / "repo")
    assert resolved.path == model.resolve()
    assert resolved.kind == "local" and resolved.source == "./model"
    assert resolved.digest == model_digest(model)


def test_local_dir_that_is_missing_names_the_resolved_path(tmp_path):
    with pytest.raises(ModelSourceError, match=f"{tmp_path / 'nope'} does not exist"):
        resolve_model(ModelSourceSpec(source="nope"), base_dir=tmp_path)


def test_local_dir_that_is_broken_is_refused(tmp_path):
    model = tiny_model_copy(tmp_path / "model")
    (model / "model.safetensors").write_bytes(b"\0" * 3)
    with pytest.raises(ModelSourceError, match="model.safetensors is corrupt"):
        resolve_model("model", base_dir=tmp_path)


def test_rev_only_applies_to_dvc(tmp_path):
    tiny_model_copy(tmp_path / "model")
    with pytest.raises(ModelSourceError, match="'rev' applies only to dvc"):
        resolve_model(ModelSourceSpec(source="model", rev="main"), base_dir=tmp_path)


# --------------------------------------------------------------------------- MLflow
@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    """A sqlite registry holding adder v1 (@production) and v2 (@staging, another model)."""
    root = tmp_path_factory.mktemp("registry")
    uri = empty_store(root / "mlflow.db")
    first = tiny_model_copy(root / "first")
    second = tiny_model_copy(root / "second", seed=1)
    v1 = register_model_dir(uri, "adder", first, alias="production")
    v2 = register_model_dir(uri, "adder", second)
    set_alias(uri, "adder", v2, "staging")
    return {"uri": uri, "root": root, "v1": v1, "v2": v2, "first": first, "second": second}


def test_register_then_resolve_by_version_and_alias(registry, tmp_path, capfd):
    by_version = resolve_model(f"models:/adder/{registry['v1']}", base_dir=tmp_path, tracking_uri=registry["uri"])
    by_alias = resolve_model("models:/adder@production", base_dir=tmp_path, tracking_uri=registry["uri"])
    staging = resolve_model("models:/adder@staging", base_dir=tmp_path, tracking_uri=registry["uri"])
    latest = resolve_model("models:/adder/latest", base_dir=tmp_path, tracking_uri=registry["uri"])
    assert (registry["v1"], registry["v2"]) == ("1", "2")
    assert by_version.kind == "mlflow" and by_version.source == "models:/adder/1"
    assert by_version.digest == by_alias.digest == model_digest(registry["first"])
    assert staging.digest == latest.digest == model_digest(registry["second"]) != by_version.digest
    # Fetched into the state dir's cache, a directory that loads like the original.
    assert by_version.path.is_relative_to(tmp_path / ".llm-gitops" / "cache")
    assert (by_version.path / "config.json").is_file()
    # Downloads are quiet: no progress bars or INFO lines from MLflow.
    out, err = capfd.readouterr()
    assert "Downloading" not in out + err and "INFO" not in out + err


def test_a_version_is_downloaded_once(registry, tmp_path):
    first = resolve_model("models:/adder/1", base_dir=tmp_path, tracking_uri=registry["uri"])
    marker = first.path / "seen.txt"
    marker.write_text("still the cached copy")
    again = resolve_model("models:/adder@production", base_dir=tmp_path, tracking_uri=registry["uri"])
    assert again.path == first.path and marker.is_file()


def test_alias_follows_its_version(registry, tmp_path):
    uri = registry["uri"]
    v3 = register_model_dir(uri, "adder", registry["first"], alias="canary")
    assert resolve_model("models:/adder@canary", base_dir=tmp_path, tracking_uri=uri).digest == model_digest(registry["first"])
    set_alias(uri, "adder", registry["v2"], "canary")
    assert resolve_model("models:/adder@canary", base_dir=tmp_path, tracking_uri=uri).digest == model_digest(registry["second"])
    assert v3 == "3"


def test_unknown_registered_model_lists_the_registered_ones(registry, tmp_path):
    with pytest.raises(ModelSourceError) as excinfo:
        resolve_model("models:/subtractor/1", base_dir=tmp_path, tracking_uri=registry["uri"])
    assert "no registered model 'subtractor'" in str(excinfo.value)
    assert "registered: adder" in str(excinfo.value)


def test_unknown_version_lists_the_versions(registry, tmp_path):
    with pytest.raises(ModelSourceError) as excinfo:
        resolve_model("models:/adder/99", base_dir=tmp_path, tracking_uri=registry["uri"])
    assert "no version '99'" in str(excinfo.value)
    assert "versions: 1, 2" in str(excinfo.value)


def test_unknown_alias_lists_the_aliases(registry, tmp_path):
    with pytest.raises(ModelSourceError) as excinfo:
        resolve_model("models:/adder@prod", base_dir=tmp_path, tracking_uri=registry["uri"])
    message = str(excinfo.value)
    assert "no alias 'prod'" in message and "@production -> 1" in message


@pytest.mark.parametrize("source, meant", [("models:/adder@prod", "models:/adder@production"),
                                           ("models:/addr@production", "models:/adder@production"),
                                           ("models:/Adder/1", "models:/adder/1")])
def test_a_name_or_alias_like_an_existing_one_is_a_typo_not_a_first_model(registry, tmp_path, source, meant):
    # "No baseline yet" skips every relative check: a typo read that way would pass anything.
    with pytest.raises(ModelSourceError) as excinfo:
        resolve_model(source, base_dir=tmp_path, tracking_uri=registry["uri"])
    assert not isinstance(excinfo.value, NoSuchModelYet)
    assert f"did you mean {meant!r}?" in str(excinfo.value)


@pytest.mark.parametrize("source", ["models:/subtractor/1", "models:/adder@nightly"])
def test_a_name_or_alias_unlike_any_is_not_registered_yet(registry, tmp_path, source):
    with pytest.raises(NoSuchModelYet):
        resolve_model(source, base_dir=tmp_path, tracking_uri=registry["uri"])


def test_gate_refuses_a_mistyped_registry_baseline(registry, tmp_path, capsys):
    """Through the CLI: exit 2 naming the alias meant, before anything is measured or written."""
    from llm_gitops.cli import main

    repo = tmp_path / "repo"
    tiny_model_copy(repo / "model")
    (repo / ".llm-gitops.yaml").write_text(
        "version: 1\nmodels:\n  candidate: ./model\n  baseline: models:/adder@prod\n"
        f"thresholds:\n  - {{metric: perf/size_on_disk_mb, max_drop: 10%}}\n"
        f"tracking:\n  mlflow:\n    tracking_uri: {registry['uri']}\n")
    with pytest.raises(SystemExit) as excinfo:
        main(["gate", "--config", str(repo / ".llm-gitops.yaml"), "--output-dir", str(repo / "out")])
    err = capsys.readouterr().err
    assert excinfo.value.code == 2, err
    assert "did you mean 'models:/adder@production'?" in err and len(err.strip().splitlines()) == 1
    assert not (repo / "out").exists()


def test_malformed_model_uri(registry, tmp_path):
    with pytest.raises(ModelSourceError, match="not an MLflow model URI"):
        resolve_model("models:/adder", base_dir=tmp_path, tracking_uri=registry["uri"])


def test_registry_that_does_not_exist_is_not_created(tmp_path):
    db = tmp_path / "missing" / "mlflow.db"
    with pytest.raises(ModelSourceError, match="no MLflow registry at"):
        resolve_model("models:/adder/1", base_dir=tmp_path, tracking_uri=f"sqlite:///{db}")
    assert not db.exists()


def test_default_store_lives_in_the_state_dir(tmp_path):
    repo = tmp_path / "repo"
    assert default_tracking_uri(repo) == empty_store(repo / ".llm-gitops" / "mlflow.db")
    version = register_model_dir(default_tracking_uri(repo), "adder", tiny_model_copy(tmp_path / "m"), alias="production")
    resolved = resolve_model("models:/adder@production", base_dir=repo)
    assert version == "1" and resolved.digest == model_digest(tmp_path / "m")
    assert (repo / ".llm-gitops" / "mlflow.db").is_file()
    assert (repo / ".llm-gitops" / "mlartifacts").is_dir()


def test_registered_version_with_broken_artifacts_is_refused(registry, tmp_path):
    broken = tiny_model_copy(tmp_path / "broken")
    version = register_model_dir(registry["uri"], "broken-adder", broken)
    # Damage the stored artifacts after registration (a store corrupted behind our back).
    from urllib.parse import urlparse

    from mlflow import MlflowClient

    source = MlflowClient(registry["uri"], registry["uri"]).get_model_version("broken-adder", version).source
    stored = Path(urlparse(source).path) / "model.safetensors"
    assert stored.is_relative_to(registry["root"] / "mlartifacts")
    stored.write_bytes(b"junk")
    with pytest.raises(ModelSourceError, match="is corrupt.*broken-adder version 1 are incomplete; register a complete model"):
        resolve_model(f"models:/broken-adder/{version}", base_dir=tmp_path, tracking_uri=registry["uri"])


def test_a_damaged_cached_copy_is_downloaded_again(registry, tmp_path):
    first = resolve_model("models:/adder/2", base_dir=tmp_path, tracking_uri=registry["uri"])
    (first.path / "model.safetensors").write_bytes(b"bit rot")
    again = resolve_model("models:/adder/2", base_dir=tmp_path, tracking_uri=registry["uri"])
    assert again.path == first.path and again.digest == first.digest == model_digest(registry["second"])


def test_unreachable_tracking_server_is_one_line_without_credentials(tmp_path):
    with socket.socket() as sock:  # a loopback port that nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(ExternalServiceError) as excinfo:
        resolve_model("models:/adder/1", base_dir=tmp_path, tracking_uri=f"http://bob:hunter2secret@127.0.0.1:{port}")
    message = str(excinfo.value)
    assert "unreachable" in message and f"127.0.0.1:{port}" in message
    assert "hunter2secret" not in message and "\n" not in message


def test_importing_sources_and_tracking_loads_neither_mlflow_nor_dvc():
    import subprocess
    import sys

    code = (
        "import sys, llm_gitops.models.sources, llm_gitops.tracking.mlflow_tracking;"
        "heavy = sorted(m for m in ('mlflow', 'dvc', 'torch') if m in sys.modules);"
        "print(heavy); sys.exit(1 if heavy else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
