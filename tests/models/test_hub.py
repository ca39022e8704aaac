"""Hugging Face Hub sources (``hf:ORG/NAME@REVISION``) against a loopback stand-in of the Hub.

huggingface_hub reads ``HF_ENDPOINT`` and ``HF_HUB_OFFLINE`` when it is imported, so the
end-to-end test runs the real CLI in a fresh process with the stand-in's URL in its
environment, as a CI job would. The other tests resolve in-process and point the
already imported huggingface_hub at the stand-in (its ``constants``), which is what the
environment variables set at import.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from llm_gitops.config.schema import ModelSourceSpec
from llm_gitops.errors import ExternalServiceError, ModelSourceError
from llm_gitops.models.digest import model_digest
from llm_gitops.models.sources import resolve_model, source_kind
from llm_gitops.models.sources.hub import parse
from tests.corpus.harness import expect_clean_error
from tests.evaluation.conftest import write_suite
from tests.standins.hf_hub import HubStandin
from tests.support.tiny_model import tiny_model_copy

TOKEN = "hf_standintoken0123456789abcdef"


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("hub-models")
    return {"a": tiny_model_copy(root / "a", seed=0), "b": tiny_model_copy(root / "b", seed=1)}


@pytest.fixture
def hub(models):
    standin = HubStandin().start()
    standin.add_model_dir("acme/adder", models["a"])
    standin.add_token(TOKEN, "alice")
    yield standin
    standin.stop()


@pytest.fixture
def online(hub, monkeypatch):
    """huggingface_hub as it is configured by HF_ENDPOINT=<stand-in> and no HF_HUB_OFFLINE."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "ENDPOINT", hub.url)
    monkeypatch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE", hub.url + "/{repo_id}/resolve/{revision}/{filename}")
    monkeypatch.delenv("HF_TOKEN", raising=False)
    return hub


def downloads(hub: HubStandin) -> int:
    return sum(1 for r in hub.requests_snapshot() if r.method == "GET" and "/resolve/" in r.path)


def test_parse():
    assert parse("hf:acme/adder") == ("acme/adder", "main")
    assert parse("hf:acme/adder@v1.0") == ("acme/adder", "v1.0")
    assert source_kind("hf:acme/adder").KIND == "hf"
    for bad in ("hf:adder", "hf:acme/adder/extra", "hf:/adder", "hf:acme/..", "hf:acme/adder@", "hf:acme/a b"):
        with pytest.raises(ModelSourceError, match="hf:ORG/NAME"):
            parse(bad)


def test_a_hub_model_is_downloaded_validated_and_digested_like_a_local_one(online, models, tmp_path):
    resolved = resolve_model("hf:acme/adder", base_dir=tmp_path)
    assert resolved.kind == "hf" and resolved.digest == model_digest(models["a"])
    assert resolved.path.is_relative_to(tmp_path / ".llm-gitops" / "cache" / "models" / "hf")
    sha = online.snapshot()["repos"]["acme/adder"]["refs"]["main"]
    assert resolved.source == f"hf:acme/adder ({sha[:12]})"
    # Again: answered from the cache (the revision is looked up, nothing is downloaded).
    before = downloads(online)
    assert resolve_model("hf:acme/adder", base_dir=tmp_path).digest == resolved.digest
    assert downloads(online) == before


def test_revisions_pin_what_is_fetched(online, models, tmp_path):
    first = online.snapshot()["repos"]["acme/adder"]["refs"]["main"]
    online.add_model_dir("acme/adder", models["b"])  # a new commit on main
    online.add_model_dir("acme/adder", models["a"], ref="v1")  # and a tag on the old weights
    assert resolve_model("hf:acme/adder", base_dir=tmp_path).digest == model_digest(models["b"])
    assert resolve_model(f"hf:acme/adder@{first}", base_dir=tmp_path).digest == model_digest(models["a"])
    assert resolve_model("hf:acme/adder@v1", base_dir=tmp_path).digest == model_digest(models["a"])


def test_a_private_model_needs_the_token(online, models, tmp_path, monkeypatch):
    online.add_model_dir("acme/secret", models["b"], private=True)
    with pytest.raises(ModelSourceError) as excinfo:
        resolve_model("hf:acme/secret", base_dir=tmp_path)
    assert "HF_TOKEN" in str(excinfo.value)
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    assert resolve_model("hf:acme/secret", base_dir=tmp_path).digest == model_digest(models["b"])


def test_offline_uses_the_cache_and_says_so_when_it_cannot(online, tmp_path, monkeypatch):
    from huggingface_hub import constants

    resolved = resolve_model("hf:acme/adder", base_dir=tmp_path)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    assert resolve_model("hf:acme/adder", base_dir=tmp_path).digest == resolved.digest
    with pytest.raises(ModelSourceError, match="HF_HUB_OFFLINE is set"):
        resolve_model("hf:acme/adder", base_dir=tmp_path / "elsewhere")


def test_a_hub_that_fails_is_an_external_error(online, tmp_path):
    online.inject_errors(20, status=503)
    with pytest.raises(ExternalServiceError) as excinfo:
        resolve_model("hf:acme/adder", base_dir=tmp_path)
    assert online.url in str(excinfo.value) and "\n" not in str(excinfo.value)


def test_an_adapter_whose_base_is_on_the_hub(online, models, tmp_path):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(models["a"], dtype=torch.float32)
    lora = get_peft_model(base, LoraConfig(r=2, target_modules=["q_proj"], init_lora_weights=False))
    lora.save_pretrained(tmp_path / "adapter")
    config = json.loads((tmp_path / "adapter" / "adapter_config.json").read_text())
    config["base_model_name_or_path"] = "acme/adder"  # as when trained on the Hub model
    (tmp_path / "adapter" / "adapter_config.json").write_text(json.dumps(config))
    resolved = resolve_model("./adapter", base_dir=tmp_path)
    assert resolved.kind == "adapter" and resolved.base.kind == "hf" and resolved.base.digest == model_digest(models["a"])
    # The base can also be named in the spec.
    spec = ModelSourceSpec(source="./adapter", base="hf:acme/adder")
    assert resolve_model(spec, base_dir=tmp_path).digest == resolved.digest


# ----------------------------------------------------------------- bad Hub sources, through the CLI
def _repo(tmp_path: Path) -> Path:
    repo = write_suite(tmp_path / "repo", count=5)
    (repo / ".llm-gitops.yaml").write_text("version: 1\neval:\n  tasks: [tasks/add_em.yaml]\n")
    return repo


def _incomplete(hub: HubStandin, models: dict[str, Path]) -> None:
    hub.add_commit("acme/broken", {"config.json": (models["a"] / "config.json").read_bytes(), "README.md": b"hi"})


CLI_CASES = {
    "no-such-repo": ("hf:acme/nope", None, ["no model acme/nope", "HF_TOKEN"]),
    "no-such-revision": ("hf:acme/adder@v9", None, ["no revision 'v9'"]),
    "private-without-token": ("hf:acme/secret", None, ["acme/secret", "HF_TOKEN"]),
    "private-with-a-wrong-token": ("hf:acme/secret", "hf_wrong", ["acme/secret", "HF_TOKEN"]),
    "gated": ("hf:acme/gated", TOKEN, ["is gated", "accept its terms"]),
    "incomplete-snapshot": ("hf:acme/broken", None, ["acme/broken", "no weight files"]),
    "bad-syntax": ("hf:acme", None, ["hf:ORG/NAME"]),
}


@pytest.mark.parametrize("case", sorted(CLI_CASES))
def test_a_bad_hub_source_is_a_clean_error(case, online, models, tmp_path):
    source, token, culprit = CLI_CASES[case]
    online.add_model_dir("acme/secret", models["b"], private=True)
    online.add_model_dir("acme/gated", models["b"], gated=True)
    _incomplete(online, models)
    repo = _repo(tmp_path)
    env = {"HF_TOKEN": token} if token else None
    run = expect_clean_error(["eval", "--model", source], cwd=repo, culprit=culprit, surface="model",
                             case=f"hub-{case}", env=env, watch=repo)
    assert TOKEN not in run.err and "hf_wrong" not in run.err


# ----------------------------------------------------------------- end to end, as a CI job runs it
@pytest.mark.slow
def test_eval_of_a_hub_model_through_the_cli(hub, models, tmp_path):
    repo = _repo(tmp_path)
    hub.add_model_dir("acme/private", models["a"], private=True)
    # TRANSFORMERS_OFFLINE also switches huggingface_hub offline.
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_TOKEN")}
    env.update({"HF_ENDPOINT": hub.url, "HF_TOKEN": TOKEN})
    out = tmp_path / "results.json"
    proc = subprocess.run([sys.executable, "-m", "llm_gitops", "eval", "--model", "hf:acme/private@main", "--limit", "2",
                           "--output", str(out)], cwd=repo, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert TOKEN not in proc.stdout + proc.stderr
    results = json.loads(out.read_text())
    assert results["model"]["digest"] == model_digest(models["a"])
    assert results["model"]["source"].startswith("hf:acme/private@main (")
    assert results["metrics"]["add_em/exact_match"]["n"] == 2
    assert any(r.path.startswith("/api/models/acme/private") for r in hub.requests_snapshot())
