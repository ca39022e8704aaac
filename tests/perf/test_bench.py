"""bench: summaries, cache keys, and real measurements of a tiny model in a child process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from llm_gitops.cli import main
from llm_gitops.config.schema import PerfSection
from llm_gitops.errors import ModelSourceError
from llm_gitops.models.digest import model_digest
from llm_gitops.models.resolved import ResolvedModel
from llm_gitops.perf.bench import bench_cache_key, machine_info, percentile, perf_settings, run_bench, size_on_disk_mb, summarize
from llm_gitops.perf.results import PERF_METRICS, PerfResults

SMALL = PerfSection(prompts=["12+34=", "07+45="], max_new_tokens=4, warmup=1, repeats=2, threads=1)


@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory) -> Path:
    from tests.support.tiny_model import make_tiny_model

    return make_tiny_model(tmp_path_factory.mktemp("tiny") / "model")


def resolved(path: Path, source: str | None = None) -> ResolvedModel:
    return ResolvedModel(path, model_digest(path), source or str(path), "local")


def test_percentile_matches_numpy():
    values = [5.0, 1.0, 9.0, 3.0, 7.0, 2.0]
    for q in (0, 50, 95, 100):
        assert percentile(values, q) == pytest.approx(float(np.percentile(values, q)))


def test_summarize_units_directions_and_samples():
    raw = {"load_time_s": [0.5, 0.3], "ttft_ms": [4.0, 6.0], "token_ms": [1.0] * 19 + [11.0],
           "tokens_per_s": [100.0, 300.0], "peak_rss_mb": 512.0}
    metrics = summarize(raw, 4.2)
    assert tuple(metrics) == PERF_METRICS
    assert metrics["load_time_s"].value == 0.4 and metrics["ttft_ms"].value == 5.0
    assert metrics["latency_p50_ms"].value == 1.0 and metrics["latency_p95_ms"].value == pytest.approx(1.5)
    assert len(metrics["latency_p95_ms"].samples) == 20
    assert metrics["tokens_per_s"].value == 200.0 and metrics["tokens_per_s"].higher_is_better
    assert not any(m.higher_is_better for k, m in metrics.items() if k != "tokens_per_s")
    assert (metrics["peak_rss_mb"].unit, metrics["size_on_disk_mb"].value) == ("MB", 4.2)


def test_cache_key_covers_model_settings_and_machine():
    machine = machine_info(SMALL)
    base = bench_cache_key("sha256:a", perf_settings(SMALL), machine)
    assert base == bench_cache_key("sha256:a", perf_settings(SMALL), machine_info(SMALL))
    assert base != bench_cache_key("sha256:b", perf_settings(SMALL), machine)
    assert base != bench_cache_key("sha256:a", perf_settings(SMALL.model_copy(update={"repeats": 3})), machine)
    assert base != bench_cache_key("sha256:a", perf_settings(SMALL), {**machine, "cpu": "another cpu"})
    assert machine["cores"] >= 1 and machine["torch"] != "not-installed" and machine["cpu"]


def test_size_counts_weight_files_only(tmp_path: Path):
    (tmp_path / "model.safetensors").write_bytes(b"\0" * (2 * 1024 * 1024))
    (tmp_path / "tokenizer.json").write_bytes(b"x" * 1024 * 1024)
    assert size_on_disk_mb(tmp_path) == 2.0


@pytest.fixture(scope="module")
def measured(tmp_path_factory, tiny_model_dir: Path):
    cache = tmp_path_factory.mktemp("cache")
    lines: list[str] = []
    results = run_bench(resolved(tiny_model_dir), SMALL, cache_root=cache, progress=lines.append)
    return cache, results, lines


def test_real_measurement(measured, tiny_model_dir: Path):
    _, results, lines = measured
    assert set(results.metrics) == set(PERF_METRICS) and not results.cached
    m = results.metrics
    assert len(m["ttft_ms"].samples) == 4  # repeats x prompts
    assert len(m["latency_p50_ms"].samples) == 2 * 2 * 3  # repeats x prompts x (tokens - 1)
    assert len(m["tokens_per_s"].samples) == 4 and m["tokens_per_s"].value > 0
    assert 0 < m["latency_p50_ms"].value <= m["latency_p95_ms"].value
    assert m["peak_rss_mb"].value > 50  # a Python with torch loaded
    weights = sum(p.stat().st_size for p in tiny_model_dir.glob("*.safetensors")) / 2**20
    assert m["size_on_disk_mb"].value == pytest.approx(weights, abs=1e-3)
    assert results.machine["threads_used"] == 1  # perf.threads reached the child
    assert any("measuring" in line for line in lines)
    PerfResults.from_json(json.loads(json.dumps(results.to_json())))


def test_cached_rerun_imports_no_torch(measured, tiny_model_dir: Path):
    cache, first, _ = measured
    code = f"""
import json, sys
from pathlib import Path
from llm_gitops.config.schema import PerfSection
from llm_gitops.models.resolved import ResolvedModel
from llm_gitops.perf.bench import run_bench
settings = PerfSection.model_validate(json.loads({json.dumps(SMALL.model_dump(mode="json"))!r}))
res = run_bench(ResolvedModel(Path({str(tiny_model_dir)!r}), {first.model_digest!r}, "again", "local"), settings,
                cache_root=Path({str(cache)!r}))
print(json.dumps({{"cached": res.cached, "source": res.model_source, "same": res == res,
                  "p50": res.metrics["latency_p50_ms"].value, "torch": "torch" in sys.modules}}))
"""
    out = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
    assert out["cached"] and out["source"] == "again" and not out["torch"]
    assert out["p50"] == first.metrics["latency_p50_ms"].value


def test_unloadable_model_is_a_model_error(tmp_path: Path):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text('{"model_type": "llama"}')
    (broken / "model.safetensors").write_bytes(b"not safetensors")
    # models.loader names the directory that transformers cannot load (a usage error).
    with pytest.raises(ModelSourceError, match=r"bench: .*broken does not load with transformers"):
        run_bench(resolved(broken), SMALL, cache_root=None)


def test_bench_cli(tmp_path: Path, tiny_model_dir: Path, capsys, monkeypatch):
    monkeypatch.delenv("LLM_GITOPS_STATE_DIR", raising=False)
    cfg = tmp_path / ".llm-gitops.yaml"
    cfg.write_text(
        f"version: 1\nmodels: {{candidate: {tiny_model_dir}}}\n"
        "perf: {prompts: ['12+34='], max_new_tokens: 3, warmup: 0, repeats: 1}\n"
    )
    out_file = tmp_path / "perf.json"
    for expect_cached in (False, True):
        with pytest.raises(SystemExit) as exc:
            main(["bench", "--config", str(cfg), "--output", str(out_file)])
        out, err = capsys.readouterr()
        assert exc.value.code == 0, err
        assert ("[cached]" in out) is expect_cached
        assert "latency_p95_ms" in out and "tokens/s" in out
    data = json.loads(out_file.read_text())
    assert data["schema"] == "llm-gitops/perf-results/v1" and set(data["metrics"]) == set(PERF_METRICS)

    with pytest.raises(SystemExit) as exc:
        main(["bench", "--help"])
    out, _ = capsys.readouterr()
    assert exc.value.code == 0 and "llm-gitops/perf-results/v1" in out and "perf/latency_p95_ms" in out
