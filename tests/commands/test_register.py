"""``llm-gitops register`` through the real CLI entry point, into a real MLflow sqlite store."""

from __future__ import annotations

from pathlib import Path

import pytest

from llm_gitops.cli import main
from llm_gitops.models.sources import resolve_model
from tests.support.mlflow_store import empty_store
from tests.support.tiny_model import tiny_model_copy


@pytest.fixture(autouse=True)
def _own_state_dir(monkeypatch):
    monkeypatch.delenv("LLM_GITOPS_STATE_DIR", raising=False)


@pytest.fixture
def repo(tmp_path) -> Path:
    """A repo whose config keeps the registry in mlflow.db beside it (a pre-migrated store)."""
    root = tmp_path / "repo"
    root.mkdir()
    (root / ".llm-gitops.yaml").write_text("version: 1\ntracking:\n  mlflow:\n    tracking_uri: mlflow.db\n"
                                           "    experiment: seeding\n")
    empty_store(root / "mlflow.db")
    return root


def run_cli(args: list[str], capsys) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(args)
    out, err = capsys.readouterr()
    return exc.value.code, out, err


def client_for(repo: Path):
    from mlflow import MlflowClient

    uri = f"sqlite:///{repo / 'mlflow.db'}"
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def test_register_seeds_the_baseline_and_moves_the_alias(repo, capsys):
    config = str(repo / ".llm-gitops.yaml")
    tiny_model_copy(repo / "model-a", seed=0)
    tiny_model_copy(repo / "model-b", seed=1)
    uri = f"sqlite:///{repo / 'mlflow.db'}"

    code, out, _ = run_cli(["register", "--config", config, "--model", "model-a", "--name", "adder",
                            "--alias", "production"], capsys)
    assert code == 0
    first = resolve_model("./model-a", base_dir=repo)
    assert out.splitlines()[1:] == ["models:/adder/1", "models:/adder@production"]
    assert "version 1" in out and first.digest in out
    baseline = resolve_model("models:/adder@production", base_dir=repo, tracking_uri=uri)
    assert baseline.digest == first.digest and baseline.kind == "mlflow"

    # A second version without --alias leaves production where it was...
    code, out, _ = run_cli(["register", "--config", config, "--model", "model-b", "--name", "adder"], capsys)
    assert code == 0 and out.splitlines()[1:] == ["models:/adder/2"]
    assert resolve_model("models:/adder@production", base_dir=repo, tracking_uri=uri).digest == first.digest
    second = resolve_model("models:/adder/2", base_dir=repo, tracking_uri=uri)
    assert second.digest == resolve_model("./model-b", base_dir=repo).digest != first.digest

    # ...and promoting a registry URI to production moves the alias to a new version of it.
    code, out, _ = run_cli(["register", "--config", config, "--model", "models:/adder/2", "--name", "adder",
                            "--alias", "production"], capsys)
    assert code == 0 and "models:/adder/3" in out.splitlines()
    assert resolve_model("models:/adder@production", base_dir=repo, tracking_uri=uri).digest == second.digest

    client = client_for(repo)
    version = client.get_model_version("adder", "1")
    assert version.tags["model_digest"] == first.digest and version.tags["source"] == "model-a"
    assert {k: str(v) for k, v in client.get_registered_model("adder").aliases.items()} == {"production": "3"}
    run = client.get_run(version.run_id)
    assert client.get_experiment(run.info.experiment_id).name == "seeding"


def test_bad_model_dir_is_exit_2_naming_it_and_registers_nothing(repo, capsys):
    broken = tiny_model_copy(repo / "broken")
    (broken / "config.json").unlink()
    code, out, err = run_cli(["register", "--config", str(repo / ".llm-gitops.yaml"), "--model", "broken",
                              "--name", "adder", "--alias", "production"], capsys)
    assert code == 2 and out == ""
    assert err.startswith("error: ") and str(broken) in err and "config.json" in err
    assert len(err.strip().splitlines()) == 1

    code, _, err = run_cli(["register", "--config", str(repo / ".llm-gitops.yaml"), "--model", "missing",
                            "--name", "adder"], capsys)
    assert code == 2 and str(repo / "missing") in err
    assert client_for(repo).search_registered_models() == []


@pytest.mark.parametrize(
    ("flag", "value", "why"),
    [("--name", "team/adder", "not a registered model name"), ("--name", "adder@prod", "not a registered model name"),
     ("--alias", "v2", "reserved"), ("--alias", "Latest", "reserved"), ("--alias", "prod env", "not an alias")],
)
def test_bad_name_or_alias_is_refused_before_anything_is_uploaded(repo, capsys, flag, value, why):
    tiny_model_copy(repo / "model")
    args = {"--name": "adder", "--alias": "production", flag: value}
    code, _, err = run_cli(["register", "--config", str(repo / ".llm-gitops.yaml"), "--model", "model",
                            *[x for kv in args.items() for x in kv]], capsys)
    assert code == 2 and why in err and value in err
    assert client_for(repo).search_registered_models() == []


def test_default_store_is_the_state_dir(tmp_path, capsys):
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / ".llm-gitops.yaml").write_text("version: 1\n")
    db = repo / ".llm-gitops" / "mlflow.db"
    empty_store(db)  # where resolve_tracking_uri puts it when the config names no store
    tiny_model_copy(repo / "model")
    code, out, _ = run_cli(["register", "--config", str(repo / ".llm-gitops.yaml"), "--model", "model",
                            "--name", "adder", "--alias", "production"], capsys)
    assert code == 0 and f"sqlite:///{db}" in out
    assert resolve_model("models:/adder@production", base_dir=repo).digest == \
        resolve_model("./model", base_dir=repo).digest


def test_help_shows_examples():
    from click.testing import CliRunner

    from llm_gitops.cli import cli

    result = CliRunner().invoke(cli, ["register", "--help"])
    assert result.exit_code == 0
    assert "llm-gitops register --model ./model --name adder --alias production" in result.output
    assert "register" in CliRunner().invoke(cli, ["--help"]).output
