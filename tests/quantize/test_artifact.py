"""Artifact directories: atomic writes, output safety, verification and load dispatch."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llm_gitops.errors import ConfigError, ModelSourceError
from llm_gitops.models.loader import ARTIFACT_MANIFEST, load_model
from llm_gitops.quantize import registry
from llm_gitops.quantize.artifact import build_artifact, check_applies, load_artifact, verify_artifact
from llm_gitops.quantize.base import MethodReport, QuantizeParams


class _FailsMidWrite:
    """A method that writes part of its output, then fails (disk full, Ctrl-C, a bug)."""

    name = "int8-dynamic"
    summary = "fails"

    def __init__(self, exc: BaseException):
        self.exc = exc

    def applies_to(self, model):
        return None

    def check(self, params):
        return None

    def quantize(self, src_dir, out_dir, params, progress) -> MethodReport:
        (out_dir / "config.json").write_text("{}")
        (out_dir / "model.int8-dynamic.pt").write_bytes(b"half a file")
        raise self.exc

    def load(self, artifact_dir, manifest):  # pragma: no cover - never reached
        raise AssertionError


def _leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir())


@pytest.mark.parametrize("exc", [RuntimeError("boom"), KeyboardInterrupt()])
def test_failure_mid_write_leaves_nothing(tiny, tmp_path, monkeypatch, exc):
    monkeypatch.setitem(registry.QUANTIZERS, "int8-dynamic", _FailsMidWrite(exc))
    with pytest.raises(type(exc)):
        build_artifact(tiny, tmp_path / "new" / "out", "int8-dynamic", QuantizeParams())
    assert _leftovers(tmp_path) == []  # no output, no hidden temp dir, no parent made for it


def test_failure_keeps_the_previous_artifact(tiny, tmp_path, monkeypatch):
    first = build_artifact(tiny, tmp_path / "out", "prune", QuantizeParams())
    monkeypatch.setitem(registry.QUANTIZERS, "int8-dynamic", _FailsMidWrite(RuntimeError("boom")))
    with pytest.raises(RuntimeError):
        build_artifact(tiny, tmp_path / "out", "int8-dynamic", QuantizeParams())
    assert _leftovers(tmp_path) == ["out"]
    assert verify_artifact(tmp_path / "out").digest == first.digest


def test_an_earlier_artifact_is_replaced(tiny, tmp_path):
    build_artifact(tiny, tmp_path / "out", "prune", QuantizeParams())
    second = build_artifact(tiny, tmp_path / "out", "int8-dynamic", QuantizeParams())
    assert json.loads((tmp_path / "out" / ARTIFACT_MANIFEST).read_text())["method"] == "int8-dynamic"
    assert not (tmp_path / "out" / "model.safetensors").exists()  # nothing of the old one mixed in
    assert second.path == (tmp_path / "out").absolute()
    assert _leftovers(tmp_path) == ["out"]


def test_output_that_is_not_an_artifact_is_refused(tiny, tmp_path):
    precious = tmp_path / "notes"
    precious.mkdir()
    (precious / "todo.txt").write_text("keep me")
    with pytest.raises(ConfigError, match="exists and is not an llm-gitops artifact"):
        build_artifact(tiny, precious, "int8-dynamic", QuantizeParams())
    assert (precious / "todo.txt").read_text() == "keep me"
    with pytest.raises(ConfigError, match="is the source model directory"):
        build_artifact(tiny, tiny.path, "int8-dynamic", QuantizeParams())


def test_unknown_method_is_a_usage_error(tiny, tmp_path):
    with pytest.raises(ConfigError, match=r"unknown quantize method 'int4'.*int8-dynamic, int8-weight-only, prune, distill"):
        build_artifact(tiny, tmp_path / "out", "int4", QuantizeParams())


@pytest.mark.parametrize("method", ["int8-dynamic", "int8-weight-only"])
def test_conv1d_model_has_nothing_to_quantize(gpt2_dir, tmp_path, method):
    from llm_gitops.models.sources import resolve_model

    source = resolve_model(str(gpt2_dir), base_dir=tmp_path)
    with pytest.raises(ModelSourceError) as info:
        build_artifact(source, tmp_path / "out", method, QuantizeParams())
    message = str(info.value)
    assert f"nothing to quantize with {method}" in message and "Conv1D" in message
    assert "methods that apply to this model: prune, distill" in message
    assert info.value.exit_code == 2
    assert not (tmp_path / "out").exists()
    check_applies("prune", gpt2_dir)  # prune works on Conv1D layers


def test_prune_works_on_conv1d(gpt2_dir, tmp_path):
    from llm_gitops.models.sources import resolve_model

    source = resolve_model(str(gpt2_dir), base_dir=tmp_path)
    artifact = build_artifact(source, tmp_path / "out", "prune", QuantizeParams(sparsity=0.4))
    assert artifact.manifest["measured"]["sparsity_pruned_layers"] == pytest.approx(0.4, abs=0.01)


def test_verify_detects_a_changed_file(tiny, tmp_path):
    artifact = build_artifact(tiny, tmp_path / "out", "int8-dynamic", QuantizeParams())
    config = artifact.path / "config.json"
    config.write_text(config.read_text().replace("silu", "gelu"))
    with pytest.raises(ModelSourceError, match="does not match the manifest"):
        verify_artifact(artifact.path)


def test_manifest_digest_excludes_only_the_manifest(tiny, tmp_path):
    from llm_gitops.models.digest import model_digest

    artifact = build_artifact(tiny, tmp_path / "out", "int8-dynamic", QuantizeParams())
    # The directory's own digest (what eval caches key on) covers the manifest too.
    assert model_digest(artifact.path) != artifact.digest
    assert model_digest(artifact.path, exclude=(ARTIFACT_MANIFEST,)) == artifact.digest


def test_load_rejects_unknown_schema_and_method(tiny, tmp_path):
    artifact = build_artifact(tiny, tmp_path / "out", "int8-dynamic", QuantizeParams())
    manifest_path = artifact.path / ARTIFACT_MANIFEST
    manifest = json.loads(manifest_path.read_text())
    manifest_path.write_text(json.dumps({**manifest, "method": "int3-magic"}))
    with pytest.raises(ModelSourceError, match="unknown method 'int3-magic'"):
        load_model(artifact.path)
    manifest_path.write_text(json.dumps({**manifest, "schema": "llm-gitops/artifact/v9"}))
    with pytest.raises(ModelSourceError, match="expected 'llm-gitops/artifact/v1'"):
        load_artifact(artifact.path)


def test_artifact_resolves_as_a_model_source(tiny, tmp_path):
    """The sources layer validates artifacts (the files the manifest lists must exist)."""
    from llm_gitops.models.sources import resolve_model

    artifact = build_artifact(tiny, tmp_path / "out", "int8-dynamic", QuantizeParams())
    resolved = resolve_model(str(artifact.path), base_dir=tmp_path)
    assert resolved.path == artifact.path
    (artifact.path / "model.int8-dynamic.pt").unlink()
    with pytest.raises(ModelSourceError, match="model.int8-dynamic.pt"):
        resolve_model(str(artifact.path), base_dir=tmp_path)
