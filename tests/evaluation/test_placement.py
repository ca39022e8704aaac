"""``eval.device``, ``eval.dtype`` and ``eval.backend: vllm``.

CI has no GPU: there the CUDA branches are checked through the resolution (a device
count given explicitly) and the clean errors a CPU machine gives, and the real eval runs
on the CPU in float32 and bfloat16. On a machine with a CUDA GPU the CPU-only answers are
skipped and the real eval runs on the GPU instead (float32 against the CPU, document by
document; bfloat16 and float16).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llm_gitops.config.schema import EvalSection
from llm_gitops.errors import EvalError, MissingExtra
from llm_gitops.evaluation.backends import hf_peft_model_args, require_vllm, vllm_model_args
from llm_gitops.evaluation.placement import Placement, config_dtype, cuda_devices, resolve_placement
from llm_gitops.evaluation.runner import run_eval
from llm_gitops.models.digest import model_digest
from llm_gitops.models.resolved import ResolvedModel
from tests.corpus.harness import expect_clean_error
from tests.evaluation.conftest import write_suite


def _model_with_dtype(tmp_path: Path, dtype: str | None) -> Path:
    (tmp_path / "m").mkdir()
    config = {"model_type": "llama"} | ({"dtype": dtype} if dtype else {})
    (tmp_path / "m" / "config.json").write_text(json.dumps(config))
    return tmp_path / "m"


ON_GPU = cuda_devices() > 0
without_a_gpu = pytest.mark.skipif(ON_GPU, reason="what a machine without a GPU answers")
on_a_gpu = pytest.mark.skipif(not ON_GPU, reason="needs a CUDA GPU")


@without_a_gpu
def test_auto_is_the_cpu_in_float32_without_a_gpu(tmp_path):
    assert resolve_placement("auto", "auto", _model_with_dtype(tmp_path, "bfloat16")) == Placement("cpu", "float32")


def test_auto_on_a_gpu_takes_the_config_dtype(tmp_path):
    model = _model_with_dtype(tmp_path, "bfloat16")
    assert resolve_placement("auto", "auto", model, gpus=1) == Placement("cuda", "bfloat16")
    assert resolve_placement("cuda:1", "auto", model, gpus=2) == Placement("cuda:1", "bfloat16")
    assert resolve_placement("auto", "float16", model, gpus=1) == Placement("cuda", "float16")
    assert resolve_placement("cpu", "auto", model, gpus=1) == Placement("cpu", "float32")


@pytest.mark.parametrize("saved,expected", [("bfloat16", "bfloat16"), ("float16", "float16"), (None, "float32"),
                                            ("int8", "float32")])
def test_config_dtype(tmp_path, saved, expected):
    assert config_dtype(_model_with_dtype(tmp_path, saved)) == expected


@pytest.mark.parametrize("device,gpus", [("cuda", 0), ("cuda:0", 0), ("cuda:2", 2)])
def test_a_cuda_device_the_machine_lacks_is_a_usage_error(device, gpus):
    with pytest.raises(EvalError) as excinfo:
        resolve_placement(device, "auto", None, gpus=gpus)
    message = str(excinfo.value)
    assert f"eval.device is {device!r}" in message and "docs/gpu.md" in message and "\n" not in message


def test_the_device_field_is_checked():
    with pytest.raises(ValueError, match="not a device"):
        EvalSection(device="gpu0")
    assert EvalSection(device="cuda:3").device == "cuda:3"


def test_vllm_model_args():
    settings = EvalSection(backend="vllm", seed=7, max_gen_toks=5,
                           vllm={"tensor_parallel_size": 2, "gpu_memory_utilization": 0.8, "max_model_len": 2048})
    args = vllm_model_args(Path("/models/llama, 8b"), settings, Placement("cuda", "bfloat16"))
    assert args == {
        "pretrained": "/models/llama, 8b",  # a dict: the comma cannot split the argument
        "dtype": "bfloat16",
        "tensor_parallel_size": 2,
        "gpu_memory_utilization": 0.8,
        "max_model_len": 2048,
        "seed": 7,
        "max_gen_toks": 5,
        "batch_size": "auto",
    }
    default = vllm_model_args(Path("/m"), EvalSection(backend="vllm"), Placement("cuda", "float16"))
    assert "max_model_len" not in default and default["tensor_parallel_size"] == 1
    lora = vllm_model_args(Path("/base"), settings, Placement("cuda", "bfloat16"), adapter_dir=Path("/lora"))
    assert lora["pretrained"] == "/base" and lora["lora_local_path"] == "/lora"
    # lm-eval's vllm model (not importable here: it imports vllm) takes every one of them.
    from importlib.util import find_spec

    vllm_lm = Path(find_spec("lm_eval").origin).parent / "models" / "vllm_causallms.py"
    signature = vllm_lm.read_text()
    for name in ("pretrained", "dtype", "tensor_parallel_size", "max_model_len", "seed", "max_gen_toks",
                 "lora_local_path", "batch_size"):
        assert f"        {name}:" in signature, name


def test_peft_model_args(tmp_path):
    (tmp_path / "adapter").mkdir()
    args = hf_peft_model_args(tmp_path / "base", tmp_path / "adapter", EvalSection(batch_size=4), Placement("cpu", "float32"))
    assert args == {"pretrained": str(tmp_path / "base"), "peft": str(tmp_path / "adapter"),
                    "tokenizer": str(tmp_path / "base"), "dtype": "float32", "device": "cpu", "batch_size": 4}


def test_vllm_missing_names_the_package_and_gpu_runners():
    with pytest.raises(MissingExtra) as excinfo:
        require_vllm(Placement("cuda", "bfloat16"))
    message = str(excinfo.value)
    assert "'vllm'" in message and "GPU runners" in message and "pip install vllm" in message


def test_vllm_refuses_an_llm_gitops_artifact(tmp_path):
    (tmp_path / "llm-gitops-artifact.json").write_text("{}")
    with pytest.raises(EvalError, match="quantized llm-gitops artifact, which only the hf backend runs"):
        require_vllm(Placement("cuda", "bfloat16"), tmp_path)


# ----------------------------------------------------------------- through the CLI
def _repo(tmp_path: Path, eval_extra: str) -> Path:
    repo = write_suite(tmp_path / "repo", count=5)
    (repo / ".llm-gitops.yaml").write_text(f"version: 1\neval:\n  tasks: [tasks/add_em.yaml]\n{eval_extra}")
    return repo


@pytest.mark.parametrize("extra,culprit", [
    pytest.param("  device: cuda\n", ["eval.device is 'cuda'", "no CUDA GPU"], marks=without_a_gpu),
    pytest.param("  device: cuda:1\n", ["eval.device is 'cuda:1'"], marks=without_a_gpu),
    ("  backend: vllm\n", ["'vllm'", "GPU runners"]),
    pytest.param("  backend: vllm\n  device: cuda\n", ["eval.device is 'cuda'"], marks=without_a_gpu),
    ("  device: gpu\n", ["eval.device", "not a device"]),
    ("  dtype: float64\n", ["eval.dtype"]),
    ("  vllm: {gpu_memory_utilization: 1.5}\n", ["eval.vllm.gpu_memory_utilization"]),
    ("  vllm: {tensor_parallel_size: 0}\n", ["eval.vllm.tensor_parallel_size"]),
], ids=["cuda", "cuda-1", "vllm-missing", "vllm-cuda", "bad-device", "bad-dtype", "vllm-mem", "vllm-tp"])
def test_eval_refuses_what_this_machine_cannot_run(tmp_path, extra, culprit):
    from tests.support.tiny_model import tiny_model_copy

    model = tiny_model_copy(tmp_path / "model")
    repo = _repo(tmp_path, extra)
    expect_clean_error(["eval", "--model", str(model), "--no-cache"], cwd=repo, culprit=culprit,
                       surface="config", case=f"eval-{extra.strip()}", watch=tmp_path)


# ----------------------------------------------------------------- the real eval, bfloat16 on the CPU
@pytest.mark.slow
def test_bfloat16_on_the_cpu_evaluates_the_example_model_under_its_own_key(example_models, tmp_path):
    model = ResolvedModel(example_models.good, model_digest(example_models.good), "good", "local")
    base = EvalSection(tasks=["tasks/add_mc.yaml", "tasks/add_em.yaml"], limit=20, batch_size=20, device="cpu")
    runs = {}
    for dtype in ("float32", "bfloat16"):
        settings = base.model_copy(update={"dtype": dtype})
        runs[dtype] = run_eval(model, settings, base_dir=example_models.repo, cache_root=tmp_path / "cache")
    fp32, bf16 = runs["float32"], runs["bfloat16"]
    assert bf16.settings["dtype"] == "bfloat16" and bf16.settings["device"] == "cpu"
    assert fp32.cache_key != bf16.cache_key and not bf16.cached
    for key, metric in bf16.metrics.items():
        assert metric.n == 20 and len(metric.scores) == 20 and len(metric.doc_ids) == 20, key
        assert metric.doc_ids == fp32.metrics[key].doc_ids  # the same documents, pairable
        assert metric.value > 0.6, (key, metric.value)  # the trained model still answers in bf16
    # "auto" on this CPU machine is float32: it shares the float32 run's cache entry.
    auto = run_eval(model, base, base_dir=example_models.repo, cache_root=tmp_path / "cache")
    assert auto.cached and auto.cache_key == fp32.cache_key


# ----------------------------------------------------------------- the real eval on a GPU
@pytest.mark.slow
@on_a_gpu
def test_on_a_gpu_float32_scores_the_documents_as_the_cpu_does(example_models, tmp_path):
    """The partly trained example model (its scores vary from document to document), in
    float32 on the GPU and on the CPU: the same documents, and the same score on each but
    where float32 kernels' last bits turn a near-tie (at most 1% of documents)."""
    model = ResolvedModel(example_models.regressed, model_digest(example_models.regressed), "regressed", "local")
    base = EvalSection(tasks=["tasks/add_mc.yaml", "tasks/add_em.yaml"], limit=200, batch_size=32, dtype="float32")
    cpu = run_eval(model, base.model_copy(update={"device": "cpu"}), base_dir=example_models.repo,
                   cache_root=tmp_path / "cache")
    gpu = run_eval(model, base.model_copy(update={"device": "auto"}), base_dir=example_models.repo,
                   cache_root=tmp_path / "cache")
    assert (gpu.settings["device"], gpu.settings["dtype"]) == ("cuda", "float32")
    assert not gpu.cached and gpu.cache_key != cpu.cache_key  # where it ran is part of the key
    for key, metric in gpu.metrics.items():
        theirs = cpu.metrics[key]
        assert metric.doc_ids == theirs.doc_ids, key
        differ = sum(a != b for a, b in zip(metric.scores, theirs.scores))
        print(f"{key}: gpu {metric.value:.3f}, cpu {theirs.value:.3f}, {differ} of {metric.n} documents differ")
        assert 0 < theirs.value < 1 and differ <= metric.n // 100, (key, differ)


@pytest.mark.slow
@on_a_gpu
@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_half_precision_on_a_gpu_evaluates_under_its_own_key(example_models, tmp_path, dtype):
    model = ResolvedModel(example_models.good, model_digest(example_models.good), "good", "local")
    settings = EvalSection(tasks=["tasks/add_mc.yaml", "tasks/add_em.yaml"], limit=50, batch_size=32, device="cuda")
    runs = {d: run_eval(model, settings.model_copy(update={"dtype": d}), base_dir=example_models.repo,
                        cache_root=tmp_path / "cache") for d in ("float32", dtype)}
    half = runs[dtype]
    assert (half.settings["device"], half.settings["dtype"]) == ("cuda", dtype)
    assert half.cache_key != runs["float32"].cache_key
    for key, metric in half.metrics.items():
        assert metric.n == 50 and metric.doc_ids == runs["float32"].metrics[key].doc_ids, key
        assert metric.value > 0.9, (key, metric.value)  # the trained model still answers in half precision
